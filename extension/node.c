/*-------------------------------------------------------------------------
 *
 * node.c
 *		  The "widecol node" background worker: it owns the storage engine of
 *		  this PostgreSQL instance and publishes its state in shared memory.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/node.c
 *
 * NOTES
 *	  One node runs per instance, registered by _PG_init when widecol is in
 *	  shared_preload_libraries.  Its main thread follows the worker_spi
 *	  pattern: the SIGTERM and SIGHUP handlers only set a flag and the
 *	  latch, the loop waits on the latch (exiting if the postmaster dies),
 *	  reloads the configuration on SIGHUP and closes the engine on SIGTERM.
 *
 *	  The engine runs threads of its own.  They must never call PostgreSQL
 *	  and never receive a signal meant for the main thread, so every engine
 *	  call that may start a thread is made with all signals blocked (the
 *	  threads inherit that mask); see node_open_engine().
 *
 *	  The engine's log callback runs on any thread.  On the main thread it
 *	  reports through ereport at once; other threads put the message in a
 *	  bounded ring (node_log_queue, under its own mutex; messages that do
 *	  not fit are counted as dropped) and write a byte to a non-blocking
 *	  pipe whose read end is in the main loop's WaitEventSet.  The main
 *	  thread then empties the ring through ereport, so every message reaches
 *	  the server log in PostgreSQL's format (log_line_prefix, level) from the
 *	  node's process.
 *
 *	  The node listens on a Unix socket in a directory of the data
 *	  directory that only the server's OS user may enter (mode 0700, see
 *	  node_socket_directory()), so no other local user can take its place.
 *	  The node and the backends run with the data directory as their
 *	  working directory and use the relative path, which keeps it short
 *	  however long $PGDATA is.
 *
 *	  The node's state (pid, running, directory) lives in a small struct in
 *	  shared memory, reserved by shmem_request_hook and initialized by
 *	  shmem_startup_hook; a spinlock guards it.  Beside it the same hooks
 *	  reserve and format the request ring (cluster/shmring.h): one slot of
 *	  widecol.node_ring_slot_kb per backend the postmaster may run; the
 *	  node serves it and backends claim a slot when they connect (conn.c).  Backends read it to answer
 *	  widecol.node_status() and to refuse table access when no node runs
 *	  (widecol_require_node()).  The engine's memory, commit-log space and
 *	  background failure come from the node itself (NODE_INFO, over a
 *	  connection of their own, so that node_status() never fails).
 *
 *	  With widecol.listen_address set, the node then starts the cluster
 *	  runtime (cluster/cluster.h: transport, gossip, tokens) with signals
 *	  blocked too, and hands it to the node server, which answers MEMBERS
 *	  from it (cluster_views.c).  Settings that keep the cluster from
 *	  starting (a secret file others may read, bad seeds, a damaged state
 *	  file) are reported with a WARNING and the node serves alone.  The
 *	  cluster coordinates the node's writes and reads over the engine
 *	  (wc_node_cluster_local), with widecol.write_request_timeout,
 *	  read_request_timeout, hinted_handoff_enabled and max_hint_window as
 *	  the node reads them at start and on SIGHUP.  At shutdown the node
 *	  server stops first (it stops the coordination before the engine
 *	  closes), then the cluster, which tells its peers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/postmaster.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "client.h"
#include "cluster.h"
#include "engine.h"
#include "node.h"
#include "rowcache.h"
#include "directread.h"
#include "shmring.h"

#include "widecol.h"

/* How long the main loop sleeps when nothing wakes it. */
#define NODE_NAPTIME_MS			1000

/* Longest node_status() waits for the node to describe its engine. */
#define NODE_STATUS_TIMEOUT_MS	2000

/* Columns of widecol.node_status(). */
#define NODE_STATUS_COLUMNS		11

/* Node connections beyond MaxBackends (closes not yet noticed). */
#define NODE_SPARE_CONNECTIONS	16

/* File descriptors kept for the engine's files and the node itself. */
#define NODE_RESERVED_FDS		1024

/* Seconds before the postmaster restarts a node that failed. */
#define NODE_RESTART_SECONDS	10

/* Engine-thread log messages waiting for the main thread, at most. */
#define NODE_LOG_QUEUE_SIZE		256

/* Longest cluster secret read from widecol.cluster_secret_file. */
#define NODE_SECRET_MAX			4096

/* Longest log message kept, terminator included (the engine's own limit). */
#define NODE_LOG_MESSAGE_SIZE	1024

/* State of the node, in shared memory. */
typedef struct WidecolNodeShared
{
	slock_t		mutex;			/* protects the fields below */
	pid_t		pid;			/* node process, 0 when none */
	bool		running;		/* engine open, node serving */
	char		data_directory[MAXPGPATH];	/* engine directory in use */
} WidecolNodeShared;

static WidecolNodeShared *node_shared = NULL;

/* the request ring (cluster/shmring.h), NULL when widecol.node_ring_slot_kb = 0 */
static void *node_ring = NULL;
static Size node_ring_bytes = 0;

/* the row cache (cluster/rowcache.h), NULL when widecol.row_cache_size_mb = 0 */
static void *node_row_cache = NULL;
static Size node_row_cache_bytes = 0;
/* the direct read region (cluster/directread.h), NULL when widecol is not preloaded */
static void *node_direct_read = NULL;

/* previous hooks, chained */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* flags set by signal handlers */
static volatile sig_atomic_t got_sighup = false;
static volatile sig_atomic_t got_sigterm = false;

/* the engine, open in the node process only */
static wc_node *node_server = NULL;
static wc_cluster *node_cluster = NULL;
static pthread_t node_main_thread;

/*
 * Log messages of engine threads, in a ring the main thread empties.  The
 * mutex guards every field; wake_fd[1] is written (non-blocking) when the
 * ring stops being empty, wake_fd[0] is in the main loop's WaitEventSet.
 */
typedef struct NodeLogEntry
{
	int			level;			/* WC_LOG_* */
	char		msg[NODE_LOG_MESSAGE_SIZE];
} NodeLogEntry;

static struct
{
	pthread_mutex_t mutex;
	uint32		head;			/* next entry to emit */
	uint32		count;			/* entries waiting */
	uint64		dropped;		/* messages lost since the last report */
	int			wake_fd[2];
	NodeLogEntry entries[NODE_LOG_QUEUE_SIZE];
}			node_log_queue = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, {-1, -1}};

/* hooks */
static void node_shmem_request(void);
static void node_shmem_startup(void);
static uint32 node_ring_slots(void);

/* signal handlers */
static void node_sighup(SIGNAL_ARGS);
static void node_sigterm(SIGNAL_ARGS);

/* helpers */
static void register_node_worker(void);
static void node_set_state(bool running, pid_t pid, const char *dir);
static void node_before_shmem_exit(int code, Datum arg);
static wc_status node_open_engine(const wc_engine_options *opts, const char *dir,
								  wc_node **out);
static const char *node_open_hint(wc_status st);
static void node_socket_directory(void);
static void node_engine_log(void *arg, int level, const char *msg);
static void node_log_queue_init(void);
static void node_log_drain(void);
static void node_log_emit(int level, const char *msg);
static void node_start_cluster(const char *dir);
static bool node_try_start_cluster(const char *dir);
static void node_apply_request_settings(void);
static void node_stop_all(void);
static bool node_read_secret(uint8 **secret, size_t *len);
static bool node_parse_seeds(wc_addr **seeds, size_t *nseeds);

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(widecol_node_status);
PG_FUNCTION_INFO_V1(widecol_row_cache_stats);
PG_FUNCTION_INFO_V1(widecol_direct_read_stats);
PG_FUNCTION_INFO_V1(widecol_commitlog_sync_stats);


/*
 * Called by _PG_init while shared_preload_libraries are processed: reserve
 * the shared state and register the node worker.
 */
void
widecol_node_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = node_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = node_shmem_startup;

	register_node_worker();
}

static void
register_node_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = NODE_RESTART_SECONDS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "widecol");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "widecol_node_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "widecol node");
	snprintf(worker.bgw_type, BGW_MAXLEN, "widecol node");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;

	RegisterBackgroundWorker(&worker);
}

/*
 * shmem_request_hook: reserve room for the node state.
 */
static void
node_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(MAXALIGN(sizeof(WidecolNodeShared)));
	RequestNamedLWLockTranche(WIDECOL_CLSYNC_TRANCHE, 1);
	if (widecol_node_ring_slot_kb > 0)
	{
		node_ring_bytes = wc_shmring_size(node_ring_slots(),
										  (uint32) widecol_node_ring_slot_kb * 1024);
		/* room to align the ring to a cache line */
		RequestAddinShmemSpace(add_size(node_ring_bytes, PG_CACHE_LINE_SIZE));
	}
	if (widecol_row_cache_size_mb > 0)
	{
		node_row_cache_bytes = wc_rowcache_size((size_t) widecol_row_cache_size_mb << 20);
		if (node_row_cache_bytes > 0)
			RequestAddinShmemSpace(add_size(node_row_cache_bytes, PG_CACHE_LINE_SIZE));
	}
	RequestAddinShmemSpace(add_size(wc_directread_size(), PG_CACHE_LINE_SIZE));
}

/* One ring slot per backend the postmaster may run, as for connections. */
static uint32
node_ring_slots(void)
{
	return (uint32) MaxBackends + NODE_SPARE_CONNECTIONS;
}

/*
 * The request ring in shared memory and its size, or NULL when there is
 * none (widecol.node_ring_slot_kb = 0, or widecol not preloaded).
 */
void *
widecol_node_ring(size_t *size)
{
	*size = node_ring_bytes;
	return node_ring;
}

/*
 * shmem_startup_hook: create or attach to the node state.
 */
static void
node_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	node_shared = ShmemInitStruct("widecol node",
								  sizeof(WidecolNodeShared), &found);
	if (!found)
	{
		SpinLockInit(&node_shared->mutex);
		node_shared->pid = 0;
		node_shared->running = false;
		node_shared->data_directory[0] = '\0';
	}
	if (node_ring_bytes > 0)
	{
		char	   *mem = ShmemInitStruct("widecol node ring",
										  add_size(node_ring_bytes, PG_CACHE_LINE_SIZE),
										  &found);

		node_ring = (void *) TYPEALIGN(PG_CACHE_LINE_SIZE, mem);
		if (!found &&
			wc_shmring_format(node_ring, node_ring_bytes, node_ring_slots(),
							  (uint32) widecol_node_ring_slot_kb * 1024) != WC_OK)
			elog(ERROR, "could not format the widecol request ring: %s", wc_last_error());
	}
	if (node_row_cache_bytes > 0)
	{
		char	   *mem = ShmemInitStruct("widecol row cache",
										  add_size(node_row_cache_bytes, PG_CACHE_LINE_SIZE),
										  &found);

		node_row_cache = (void *) TYPEALIGN(PG_CACHE_LINE_SIZE, mem);
		if (!found && wc_rowcache_format(node_row_cache, node_row_cache_bytes) != WC_OK)
			elog(ERROR, "could not format the widecol row cache: %s", wc_last_error());
	}
	{
		char	   *mem = ShmemInitStruct("widecol direct reads",
										  add_size(wc_directread_size(), PG_CACHE_LINE_SIZE),
										  &found);

		node_direct_read = (void *) TYPEALIGN(PG_CACHE_LINE_SIZE, mem);
		if (!found && wc_directread_format(node_direct_read, wc_directread_size()) != WC_OK)
			elog(ERROR, "could not format the widecol direct read region: %s", wc_last_error());
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * This process's handle on the row cache, opened at first use; NULL when
 * there is none (widecol.row_cache_size_mb = 0, or widecol not preloaded).
 */
struct wc_rowcache *
widecol_row_cache_handle(void)
{
	static wc_rowcache *handle = NULL;

	if (handle == NULL && node_row_cache != NULL &&
		wc_rowcache_open(node_row_cache, node_row_cache_bytes, &handle) != WC_OK)
	{
		elog(DEBUG1, "widecol: no row cache: %s", wc_last_error());
		handle = NULL;
	}
	return handle;
}

/*
 * This process's handle on the direct read region, opened at first use;
 * NULL when widecol is not preloaded.
 */
static wc_directread *direct_read_handle = NULL;

/*
 * The descriptors of the SSTable files a backend reads itself count
 * against max_files_per_process with PostgreSQL's own (fd.c's external
 * descriptors): when none is to spare, the read goes to the node.
 */
static bool
direct_read_fd_acquire(void *arg)
{
	return AcquireExternalFD();
}

static void
direct_read_fd_release(void *arg)
{
	ReleaseExternalFD();
}

struct wc_directread *
widecol_direct_read_handle(void)
{
	if (direct_read_handle == NULL && node_direct_read != NULL)
	{
		if (wc_directread_open(node_direct_read, wc_directread_size(),
							   &direct_read_handle) != WC_OK)
		{
			elog(DEBUG1, "widecol: no direct reads: %s", wc_last_error());
			direct_read_handle = NULL;
		}
		else
			wc_directread_set_fd_hooks(direct_read_handle, direct_read_fd_acquire,
									   direct_read_fd_release, NULL);
		widecol_direct_read_budget_changed();
	}
	return direct_read_handle;
}

/*
 * widecol.direct_read_file_mb changed (or the handle just opened): tell
 * the handle, if this process has one; never opens it.
 */
void
widecol_direct_read_budget_changed(void)
{
	if (direct_read_handle != NULL)
		wc_directread_set_budget(direct_read_handle,
								 (uint64) widecol_direct_read_file_mb << 20);
}

/*
 * Signal handler for SIGHUP: ask the main loop to reload the configuration.
 */
static void
node_sighup(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sighup = true;
	SetLatch(MyLatch);

	errno = save_errno;
}

/*
 * Signal handler for SIGTERM: ask the main loop to close the engine and
 * exit.
 */
static void
node_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);

	errno = save_errno;
}

/*
 * Entry point of the node background worker.
 */
void
widecol_node_main(Datum main_arg)
{
	wc_engine_options opts;
	wc_status	st;
	char	   *dir;
	MemoryContext oldcxt;
	WaitEventSet *wait_set;

	pqsignal(SIGHUP, node_sighup);
	pqsignal(SIGTERM, node_sigterm);
	BackgroundWorkerUnblockSignals();

	/*
	 * No database: connecting to shared catalogs only is what makes the node
	 * visible in pg_stat_activity.
	 */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	node_main_thread = pthread_self();
	node_log_queue_init();
	before_shmem_exit(node_before_shmem_exit, (Datum) 0);

	/* the engine may keep pointers into its options: keep them for good */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	dir = widecol_resolve_data_directory();
	MemoryContextSwitchTo(oldcxt);

	wc_engine_options_default(&opts);
	opts.dir = dir;
	opts.sync_mode = (widecol_commitlog_sync == WIDECOL_COMMITLOG_SYNC_BATCH) ?
		WC_SYNC_BATCH : WC_SYNC_PERIODIC;
	opts.sync_period_ms = (uint32_t) widecol_commitlog_sync_period_ms;
	opts.memtable_bytes = (size_t) widecol_memtable_size_mb * 1024 * 1024;
	opts.memtable_total_bytes = (size_t) widecol_memtable_total_space_mb * 1024 * 1024;
	opts.commitlog_total_bytes = (size_t) widecol_commitlog_total_space_mb * 1024 * 1024;
	opts.cache_bytes = (size_t) widecol_block_cache_size_mb * 1024 * 1024;
	opts.log = node_engine_log;
	opts.log_arg = NULL;
	opts.compaction_threads = (uint32_t) widecol_concurrent_compactors;
	opts.compaction_throughput_mb_per_sec = (uint32_t) widecol_compaction_throughput;
	opts.bulk_yield_us = (uint32_t) widecol_bulk_yield_us;
	opts.disk_failure_policy =
		(widecol_disk_failure_policy == WIDECOL_DISK_FAILURE_STOP) ?
		WC_DISK_FAILURE_STOP : WC_DISK_FAILURE_BEST_EFFORT;
	opts.commitlog_ignore_replay_errors = widecol_commitlog_ignore_replay_errors;
	opts.partitioner = (wc_partitioner) widecol_partitioner;

	pgstat_report_activity(STATE_RUNNING, "opening the widecol engine");

	node_socket_directory();
	st = node_open_engine(&opts, dir, &node_server);
	if (st != WC_OK)
	{
		const char *detail = wc_last_error();

		/* what engine threads said comes first */
		node_log_drain();

		/* without its engine the node cannot serve; the postmaster retries */
		ereport(FATAL,
				(errcode(widecol_status_sqlstate(st)),
				 errmsg("could not open the widecol engine in \"%s\": %s",
						dir, wc_status_name(st)),
				 detail[0] ? errdetail_internal("%s", detail) : 0,
				 errhint("%s", node_open_hint(st))));
	}

	node_set_state(true, MyProcPid, dir);
	pgstat_report_activity(STATE_IDLE, NULL);

	ereport(LOG,
			(errmsg("widecol node started with data directory \"%s\"", dir)));

	node_start_cluster(dir);
	node_apply_request_settings();

	/* the latch, postmaster death and the engine threads' log messages */
	wait_set = CreateWaitEventSet(TopMemoryContext, 3);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wait_set, WL_SOCKET_READABLE, node_log_queue.wake_fd[0],
					  NULL, NULL);

	for (;;)
	{
		WaitEvent	event;

		(void) WaitEventSetWait(wait_set, NODE_NAPTIME_MS, &event, 1,
								PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);

		node_log_drain();

		CHECK_FOR_INTERRUPTS();

		if (got_sigterm)
			break;

		/* the catalogs follow the cluster schema */
		widecol_schema_launch_appliers(node_cluster);

		if (got_sighup)
		{
			sigset_t	all,
						saved;
			wc_status	st;

			got_sighup = false;
			ProcessConfigFile(PGC_SIGHUP);
			node_apply_request_settings();
			/* compaction settings apply at once; new threads start with signals blocked */
			sigfillset(&all);
			pthread_sigmask(SIG_BLOCK, &all, &saved);
			st = wc_engine_set_compaction(wc_node_engine(node_server),
										  (uint32_t) widecol_concurrent_compactors,
										  (uint32_t) widecol_compaction_throughput);
			pthread_sigmask(SIG_SETMASK, &saved, NULL);
			if (st != WC_OK)
				ereport(WARNING,
						(errmsg("widecol node could not apply the compaction settings: %s",
								wc_status_name(st)),
						 errdetail_internal("%s", wc_last_error())));
		}
	}

	node_set_state(false, 0, NULL);
	node_stop_all();
	node_log_drain();

	ereport(LOG, (errmsg("widecol node shut down cleanly")));

	/* exit code 0: the postmaster does not restart the node */
	proc_exit(0);
}

/*
 * Make the directory of the node's socket, WIDECOL_SOCKET_DIR in the data
 * directory, and make sure that only this OS user can enter it: a directory
 * left by an earlier run gets mode 0700 again; one that is not a directory
 * of ours stops the node (FATAL) rather than serve through it.
 */
static void
node_socket_directory(void)
{
	struct stat sb;

	if (mkdir(WIDECOL_SOCKET_DIR, S_IRWXU) != 0 && errno != EEXIST)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not create the widecol socket directory \"%s/%s\": %m",
						DataDir, WIDECOL_SOCKET_DIR),
				 errhint("Check the permissions of the data directory.")));
	if (lstat(WIDECOL_SOCKET_DIR, &sb) != 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not stat the widecol socket directory \"%s/%s\": %m",
						DataDir, WIDECOL_SOCKET_DIR)));
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
		ereport(FATAL,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("\"%s/%s\" is not a directory owned by the PostgreSQL server's user",
						DataDir, WIDECOL_SOCKET_DIR),
				 errhint("Remove it; the widecol node creates the directory itself.")));
	if ((sb.st_mode & 0777) != S_IRWXU && chmod(WIDECOL_SOCKET_DIR, S_IRWXU) != 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not set the mode of the widecol socket directory \"%s/%s\": %m",
						DataDir, WIDECOL_SOCKET_DIR)));
}

/*
 * How many client connections the node accepts: one for every backend the
 * postmaster may run at once (MaxBackends counts client backends,
 * autovacuum workers, background workers and WAL senders), plus a margin
 * for connections of backends that exited but that the node has not seen
 * close yet.  Each connection is one file descriptor of the node process,
 * so the soft open-files limit is raised to the hard one when it is lower
 * than what the connections and the engine's files need.
 */
static uint32
node_max_connections(void)
{
	uint32		conns = (uint32) MaxBackends + NODE_SPARE_CONNECTIONS;
	struct rlimit rl;
	rlim_t		need = (rlim_t) conns + NODE_RESERVED_FDS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		rl.rlim_cur < need)
	{
		rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need) ?
			need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
			ereport(WARNING,
					(errmsg("the widecol node may run out of file descriptors: "
							"its open-files limit is %lu, %lu are needed for "
							"%u connections and the engine's files",
							(unsigned long) rl.rlim_cur, (unsigned long) need, conns),
					 errhint("Raise the open-files limit (ulimit -n, LimitNOFILE "
							 "of the service) of the PostgreSQL server.")));
	}
	return conns;
}

/*
 * Open the engine and start serving backends on the node's Unix socket
 * (widecol_node_socket_path()).  Every thread is started with all signals
 * blocked, so PostgreSQL's signals stay on the main thread.
 */
static wc_status
node_open_engine(const wc_engine_options *opts, const char *dir, wc_node **out)
{
	wc_node_options no;
	sigset_t	all;
	sigset_t	saved;
	wc_status	st;

	wc_node_options_default(&no);
	no.engine = *opts;
	no.socket_path = widecol_node_socket_path();
	no.max_connections = node_max_connections();
	no.worker_threads = (uint32) widecol_node_worker_threads;
	no.ring = node_ring;
	no.ring_size = node_ring_bytes;
	no.ring_spin_us = (uint32) widecol_node_ring_spin_us;
	/* with a cluster configured, nothing is served alone while it starts */
	no.cluster_expected = widecol_listen_address != NULL && widecol_listen_address[0] != '\0';
	/* a cluster read at a consistency level needs other replicas: no row cache */
	if (node_row_cache != NULL && no.cluster_expected)
		ereport(LOG,
				(errmsg("widecol row cache is off: this node is configured for a cluster "
						"(widecol.listen_address is set)")));
	else if (node_row_cache != NULL)
	{
		no.row_cache = node_row_cache;
		no.row_cache_size = node_row_cache_bytes;
	}
	/* the same for direct reads: backends read the files of a node alone */
	if (node_direct_read != NULL && !no.cluster_expected)
	{
		no.direct_read = node_direct_read;
		no.direct_read_size = wc_directread_size();
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	st = wc_node_start(&no, out);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	return st;
}

static const char *
node_open_hint(wc_status st)
{
	switch (st)
	{
		case WC_CORRUPTION:
			return "The engine refuses to serve data it cannot verify.  "
				"For a damaged commit-log segment, set "
				"widecol.commitlog_ignore_replay_errors = on and reload to "
				"start without the records named above; for a damaged "
				"SSTable or manifest, set widecol.disk_failure_policy = "
				"best_effort and run widecol.scrub() on the table.  Or "
				"restore the directory from a backup or rebuild the node "
				"from its replicas.";
		case WC_IO_ERROR:
		case WC_NO_SPACE:
		case WC_NOT_FOUND:
			return "Check that widecol.data_directory is on a writable file "
				"system with free space and owned by the PostgreSQL server "
				"user.";
		case WC_INVALID_ARGUMENT:
			if (strstr(wc_last_error(), "partitioner") != NULL)
				return "Set widecol.partitioner back to the partitioner the "
					"data directory was created with, or point "
					"widecol.data_directory at a new directory (and load "
					"the data again), and restart the server.";
			return "Check the widecol.* settings in postgresql.conf.";
		default:
			return "See the server log for earlier messages from the widecol "
				"engine.";
	}
}

/*
 * Publish the node's state for backends.  dir may be NULL to keep the
 * directory last reported.
 */
static void
node_set_state(bool running, pid_t pid, const char *dir)
{
	if (node_shared == NULL)
		return;

	SpinLockAcquire(&node_shared->mutex);
	node_shared->running = running;
	node_shared->pid = pid;
	if (dir != NULL)
		strlcpy(node_shared->data_directory, dir, MAXPGPATH);
	SpinLockRelease(&node_shared->mutex);
}

/*
 * Whatever ends the node (FATAL, postmaster death, proc_exit), close the
 * engine so that its threads stop and the commit log is synced, and stop
 * advertising the node.
 */
static void
node_before_shmem_exit(int code, Datum arg)
{
	node_set_state(false, 0, NULL);
	node_stop_all();
	node_log_drain();
}

/*
 * Hand the coordinator's timeouts and hint settings to the node and the
 * cluster (at start and after SIGHUP).
 */
static void
node_apply_request_settings(void)
{
	if (node_server != NULL)
		wc_node_set_timeouts(node_server, (uint32) widecol_write_request_timeout,
							 (uint32) widecol_read_request_timeout);
	if (node_cluster != NULL)
	{
		wc_cluster_set_hints(node_cluster, widecol_hinted_handoff_enabled,
							 (uint64) widecol_max_hint_window);
		/* a batchlog entry is replayed once its write had twice its time */
		wc_cluster_set_batchlog_replay(node_cluster,
									   2 * (uint32) widecol_write_request_timeout);
	}
}

/*
 * Stop the node server (no request uses the cluster any more), then the
 * cluster, which announces the shutdown to its peers.
 */
static void
node_stop_all(void)
{
	if (node_server != NULL)
	{
		wc_node_stop(node_server);
		node_server = NULL;
	}
	if (node_cluster != NULL)
	{
		wc_cluster_stop(node_cluster);
		node_cluster = NULL;
	}
}

/*
 * Read widecol.cluster_secret_file into a palloc'd buffer.  false, after a
 * WARNING saying why, if the file cannot be read, is empty or may be read
 * by group or others.  An empty setting is no secret (*len 0).
 */
static bool
node_read_secret(uint8 **secret, size_t *len)
{
	const char *path = widecol_cluster_secret_file;
	struct stat sb;
	ssize_t		n;
	int			fd;

	*secret = NULL;
	*len = 0;
	if (path == NULL || path[0] == '\0')
	{
		ereport(WARNING,
				(errmsg("widecol cluster traffic is not authenticated: widecol.cluster_secret_file is not set"),
				 errhint("Put a secret in a file of mode 0600 on every node and name it in widecol.cluster_secret_file.")));
		return true;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("widecol cluster not started: could not read the cluster secret file \"%s\": %m",
						path),
				 errhint("Check widecol.cluster_secret_file.")));
		if (fd >= 0)
			close(fd);
		return false;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("widecol cluster not started: the cluster secret file \"%s\" may be read by group or others (mode %04o)",
						path, (unsigned) (sb.st_mode & 07777)),
				 errhint("Run chmod 600 on the file and restart the server.")));
		close(fd);
		return false;
	}
	*secret = palloc(NODE_SECRET_MAX);
	n = read(fd, *secret, NODE_SECRET_MAX);
	close(fd);
	while (n > 0 && ((*secret)[n - 1] == '\n' || (*secret)[n - 1] == '\r' ||
					 (*secret)[n - 1] == ' '))
		n--;
	if (n <= 0)
	{
		ereport(WARNING,
				(errmsg("widecol cluster not started: the cluster secret file \"%s\" is empty or unreadable",
						path),
				 errhint("Put the cluster's secret (the same on every node) in the file.")));
		pfree(*secret);
		*secret = NULL;
		return false;
	}
	*len = (size_t) n;
	return true;
}

/*
 * Parse widecol.seeds, "host:port, host:port", into a palloc'd array.
 * false, after a WARNING naming the bad entry, if one does not parse.
 */
static bool
node_parse_seeds(wc_addr **seeds, size_t *nseeds)
{
	char	   *copy = pstrdup(widecol_seeds ? widecol_seeds : "");
	char	   *tok,
			   *save = NULL;
	size_t		cap = 1;

	for (const char *p = copy; *p; p++)
		cap += (*p == ',');
	*seeds = palloc0(sizeof(wc_addr) * cap);
	*nseeds = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (wc_addr_parse(tok, &(*seeds)[*nseeds]) != WC_OK)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("widecol cluster not started: bad seed \"%s\" in widecol.seeds: %s",
							tok, wc_last_error()),
					 errhint("Write the seeds as host:port, separated by commas.")));
			return false;
		}
		(*nseeds)++;
	}
	return true;
}

/*
 * Start the cluster runtime when widecol.listen_address is set, and let
 * the node server answer MEMBERS from it.  Failures leave the node alone,
 * after a WARNING.
 */
/*
 * Start the cluster runtime when widecol.listen_address is set.  The node
 * refused requests since it opened (cluster_expected); when the cluster
 * does not start, it serves alone, as the WARNING says.
 */
static void
node_start_cluster(const char *dir)
{
	if (!node_try_start_cluster(dir))
		wc_node_serve_alone(node_server);
}

static bool
node_try_start_cluster(const char *dir)
{
	wc_cluster_options o;
	wc_addr    *seeds;
	size_t		nseeds;
	wc_addr		replace;
	uint8	   *secret;
	size_t		secret_len;
	char		sql_address[256];
	char		self[WC_ADDR_HOST_MAX + 8];
	char	   *first;
	sigset_t	all,
				saved;
	wc_status	st;

	if (widecol_listen_address == NULL || widecol_listen_address[0] == '\0')
		return true;
	memset(&o, 0, sizeof(o));
	if (strlen(widecol_listen_address) >= WC_ADDR_HOST_MAX)
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol cluster not started: widecol.listen_address is too long"),
				 errhint("Set widecol.listen_address to this node's IP address.")));
		return false;
	}
	strlcpy(o.listen.host, widecol_listen_address, sizeof(o.listen.host));
	o.listen.port = (uint16_t) widecol_port;
	if (widecol_replace_address && widecol_replace_address[0] != '\0')
	{
		if (wc_addr_parse(widecol_replace_address, &replace) != WC_OK)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("widecol cluster not started: bad widecol.replace_address \"%s\": %s",
							widecol_replace_address, wc_last_error()),
					 errhint("Set widecol.replace_address to the internode host:port of the dead node, as widecol.nodes showed it.")));
			return false;
		}
		o.replace_address = &replace;
	}
	if (!node_parse_seeds(&seeds, &nseeds) || !node_read_secret(&secret, &secret_len))
		return false;

	/* the first of listen_addresses (or the internode host) and the SQL port */
	first = pstrdup(ListenAddresses ? ListenAddresses : "");
	first[strcspn(first, ", ")] = '\0';
	snprintf(sql_address, sizeof(sql_address), "%s:%d",
			 (first[0] == '\0' || strcmp(first, "*") == 0) ? widecol_listen_address : first,
			 PostPortNumber);

	o.data_dir = dir;
	o.seeds = seeds;
	o.nseeds = nseeds;
	/*
	 * Nodes of another partitioner place and encode keys differently: the
	 * partitioner is part of the name every handshake compares, so such
	 * nodes never form one cluster.
	 */
	o.cluster_name = widecol_partitioner == WC_PARTITIONER_MURMUR3 ?
		psprintf("%s (murmur3)", widecol_cluster_name) : widecol_cluster_name;
	o.secret = secret;
	o.secret_len = secret_len;
	o.dc = widecol_datacenter;
	o.rack = widecol_rack;
	o.sql_address = sql_address;
	o.release_version = WIDECOL_VERSION;
	o.num_tokens = (uint32) widecol_num_tokens;
	o.phi_convict_threshold = widecol_phi_convict_threshold;
	o.log = node_engine_log;
	o.log_arg = NULL;
	o.engine = wc_node_engine(node_server);	/* the cluster schema creates engine tables */
	wc_node_cluster_local(node_server, &o.local);
	o.hinted_handoff = widecol_hinted_handoff_enabled;
	o.max_hint_window_ms = (uint64) widecol_max_hint_window;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	st = wc_cluster_start(&o, &node_cluster);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (secret)
	{
		explicit_bzero(secret, secret_len);
		pfree(secret);
	}
	if (st != WC_OK)
	{
		ereport(WARNING,
				(errcode(widecol_status_sqlstate(st)),
				 errmsg("widecol cluster not started: %s", wc_last_error()),
				 errhint("Check the widecol.* cluster settings (docs/operations.md, \"Running a cluster\"); the node serves alone until the server restarts.")));
		node_cluster = NULL;
		return false;
	}
	wc_node_set_cluster(node_server, node_cluster);
	{
		wc_addr		a = wc_cluster_self(node_cluster);

		wc_addr_format(&a, self, sizeof(self));
	}
	ereport(LOG,
			(errmsg("widecol node listens for the cluster \"%s\" on %s (%zu seeds)",
					widecol_cluster_name, self, nseeds)));
	return true;
}

/*
 * Log callback of the engine and the node runtime, on any of their threads.
 * Engine threads must not call PostgreSQL: they queue the message and wake
 * the main thread, which reports it (node_log_drain).  On the main thread
 * the message is reported at once, after what was queued before it.
 */
static void
node_engine_log(void *arg, int level, const char *msg)
{
	bool		wake = false;

	if (pthread_equal(pthread_self(), node_main_thread))
	{
		node_log_drain();
		node_log_emit(level, msg);
		return;
	}

	pthread_mutex_lock(&node_log_queue.mutex);
	if (node_log_queue.count == NODE_LOG_QUEUE_SIZE)
		node_log_queue.dropped++;
	else
	{
		NodeLogEntry *e;

		e = &node_log_queue.entries[(node_log_queue.head + node_log_queue.count) %
									NODE_LOG_QUEUE_SIZE];
		e->level = level;
		strlcpy(e->msg, msg, sizeof(e->msg));
		wake = (node_log_queue.count++ == 0);
	}
	pthread_mutex_unlock(&node_log_queue.mutex);

	/* a full pipe already wakes the main thread */
	if (wake && write(node_log_queue.wake_fd[1], "", 1) < 0)
		return;
}

/*
 * Create the pipe that wakes the main thread for queued log messages; both
 * ends are non-blocking and closed on exec.
 */
static void
node_log_queue_init(void)
{
	if (pipe2(node_log_queue.wake_fd, O_NONBLOCK | O_CLOEXEC) != 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("widecol node could not create its log pipe: %m"),
				 errhint("Raise the limit of open files of the PostgreSQL "
						 "server; the postmaster restarts the node.")));
}

/*
 * Main thread only: report every queued log message, oldest first, then how
 * many were dropped because the queue was full.
 */
static void
node_log_drain(void)
{
	char		buf[64];
	uint64		dropped;

	if (node_log_queue.wake_fd[0] < 0)
		return;

	/* empty the pipe first: a message queued after this wakes us again */
	while (read(node_log_queue.wake_fd[0], buf, sizeof(buf)) > 0)
		;

	for (;;)
	{
		NodeLogEntry entry;

		pthread_mutex_lock(&node_log_queue.mutex);
		if (node_log_queue.count == 0)
		{
			pthread_mutex_unlock(&node_log_queue.mutex);
			break;
		}
		entry = node_log_queue.entries[node_log_queue.head];
		node_log_queue.head = (node_log_queue.head + 1) % NODE_LOG_QUEUE_SIZE;
		node_log_queue.count--;
		pthread_mutex_unlock(&node_log_queue.mutex);

		node_log_emit(entry.level, entry.msg);
	}

	pthread_mutex_lock(&node_log_queue.mutex);
	dropped = node_log_queue.dropped;
	node_log_queue.dropped = 0;
	pthread_mutex_unlock(&node_log_queue.mutex);
	if (dropped > 0)
		ereport(WARNING,
				(errmsg("widecol node dropped " UINT64_FORMAT " log messages of its engine threads",
						dropped),
				 errdetail("At most %d messages wait for the node's main loop.",
						   NODE_LOG_QUEUE_SIZE)));
}

/*
 * Main thread only: report one message of the engine at its level.  Messages
 * of the node runtime already name the node; the others say they come from
 * the engine.  An engine error is not an error of this process: it is
 * reported at ERROR level and then dropped, so the loop goes on.
 */
static void
node_log_emit(int level, const char *msg)
{
	const char *prefix = strncmp(msg, "widecol ", 8) == 0 ? "" : "widecol engine: ";
	MemoryContext oldcxt;

	switch (level)
	{
		case WC_LOG_DEBUG:
			ereport(DEBUG1, (errmsg_internal("%s%s", prefix, msg)));
			break;
		case WC_LOG_INFO:
			ereport(LOG, (errmsg_internal("%s%s", prefix, msg)));
			break;
		case WC_LOG_WARNING:
			ereport(WARNING, (errmsg_internal("%s%s", prefix, msg)));
			break;
		default:
			/* an ERROR while the process exits would turn into FATAL */
			if (proc_exit_inprogress)
			{
				ereport(WARNING, (errmsg_internal("%s%s", prefix, msg)));
				break;
			}
			oldcxt = CurrentMemoryContext;
			PG_TRY();
			{
				ereport(ERROR, (errmsg_internal("%s%s", prefix, msg)));
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(oldcxt);
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			break;
	}
}

/*
 * Where the node listens for its backends: WIDECOL_SOCKET_DIR "/node.sock",
 * relative to the data directory, which is the working directory of the
 * node and of every backend (so the path stays far below the 107 bytes a
 * Unix socket path may have, however deep $PGDATA lies).
 */
char *
widecol_node_socket_path(void)
{
	return pstrdup(WIDECOL_SOCKET_DIR "/node.sock");
}

/*
 * Is a node serving in this instance?
 */
bool
widecol_node_running(void)
{
	bool		running;

	if (node_shared == NULL)
		return false;

	SpinLockAcquire(&node_shared->mutex);
	running = node_shared->running;
	SpinLockRelease(&node_shared->mutex);

	return running;
}

/*
 * Every access to a widecol table starts here: fail with a hint when there
 * is no node to serve it.
 */
void
widecol_require_node(void)
{
	if (!widecol_preloaded || node_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("widecol is not loaded through shared_preload_libraries"),
				 errdetail("widecol tables are served by the widecol node "
						   "background worker, which runs only when the "
						   "library is preloaded."),
				 errhint("Add widecol to shared_preload_libraries and restart PostgreSQL.")));

	if (!widecol_node_running())
		ereport(ERROR,
				(errcode(ERRCODE_CANNOT_CONNECT_NOW),
				 errmsg("the widecol node is not running"),
				 errhint("The node may still be starting; otherwise see the "
						 "server log for why it stopped.")));
}

/*
 * Ask the running node for its engine's state.  False when it does not
 * answer (the engine columns are then NULL): node_status() must work while
 * the node is in trouble.
 */
static bool
node_engine_info(wc_node_info *ni)
{
	wc_client  *c = NULL;
	char	   *path = widecol_node_socket_path();
	int			timeout = Min(widecol_request_timeout(), NODE_STATUS_TIMEOUT_MS);
	bool		ok;

	if (wc_client_connect(path, timeout, &c) != WC_OK)
		return false;
	ok = wc_client_node_info(c, ni) == WC_OK;
	wc_client_close(c);
	return ok;
}

/*
 * widecol.node_status(OUT running bool, OUT pid int, OUT data_directory text,
 *					   OUT memtable_bytes bigint, ...)
 *
 * State of this instance's node.  Without shared_preload_libraries there is
 * no node: running is false, pid NULL and data_directory the directory a
 * node would use.  The engine columns are NULL unless a running node
 * answered; background_error is NULL when there is none.
 */
Datum
widecol_node_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[NODE_STATUS_COLUMNS];
	bool		nulls[NODE_STATUS_COLUMNS];
	bool		running = false;
	pid_t		pid = 0;
	char		dir[MAXPGPATH];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	dir[0] = '\0';
	if (node_shared != NULL)
	{
		SpinLockAcquire(&node_shared->mutex);
		running = node_shared->running;
		pid = node_shared->pid;
		strlcpy(dir, node_shared->data_directory, MAXPGPATH);
		SpinLockRelease(&node_shared->mutex);
	}
	if (dir[0] == '\0')
		strlcpy(dir, widecol_resolve_data_directory(), MAXPGPATH);

	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(running);
	if (pid != 0)
		values[1] = Int32GetDatum((int32) pid);
	else
		nulls[1] = true;
	values[2] = CStringGetTextDatum(dir);

	for (int i = 3; i < NODE_STATUS_COLUMNS; i++)
		nulls[i] = true;
	if (running)
	{
		static wc_node_info ni;

		if (node_engine_info(&ni))
		{
			values[3] = Int64GetDatum((int64) ni.memtable_bytes);
			values[4] = Int64GetDatum((int64) ni.memtable_flushing_bytes);
			values[5] = Int64GetDatum((int64) ni.memtable_limit_bytes);
			values[6] = Int64GetDatum((int64) ni.commitlog_bytes);
			values[7] = Int64GetDatum((int64) ni.commitlog_limit_bytes);
			values[8] = Int64GetDatum((int64) ni.writes_stalled);
			values[9] = Int64GetDatum((int64) ni.writes_refused);
			for (int i = 3; i < 10; i++)
				nulls[i] = false;
			if (ni.background_error[0] != '\0')
			{
				values[10] = CStringGetTextDatum(ni.background_error);
				nulls[10] = false;
			}
		}
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Columns of widecol.row_cache_stats(). */
#define ROW_CACHE_STATS_COLUMNS 7

/*
 * widecol.row_cache_stats(OUT enabled bool, OUT size_bytes bigint,
 *						   OUT slots bigint, OUT hits bigint, OUT misses bigint,
 *						   OUT fills bigint, OUT evictions bigint)
 *
 * The row cache of this instance, its counters since the server started.
 * Without a row cache: enabled false and the rest zero.
 */
Datum
widecol_row_cache_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[ROW_CACHE_STATS_COLUMNS];
	bool		nulls[ROW_CACHE_STATS_COLUMNS];
	wc_rowcache *rc = widecol_row_cache_handle();
	wc_rowcache_stats st;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(&st, 0, sizeof(st));
	if (rc != NULL)
		wc_rowcache_get_stats(rc, &st);
	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(st.enabled);
	values[1] = Int64GetDatum(rc != NULL ? (int64) node_row_cache_bytes : 0);
	values[2] = Int64GetDatum((int64) st.slots);
	values[3] = Int64GetDatum((int64) st.hits);
	values[4] = Int64GetDatum((int64) st.misses);
	values[5] = Int64GetDatum((int64) st.fills);
	values[6] = Int64GetDatum((int64) st.evictions);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Columns of widecol.direct_read_stats(). */
#define DIRECT_READ_STATS_COLUMNS 5

/*
 * widecol.direct_read_stats(OUT enabled bool, OUT tables bigint,
 *							 OUT reads bigint, OUT resident bigint,
 *							 OUT other bigint)
 *
 * Direct reads of this instance since the server started: enabled while a
 * node alone publishes its files, the tables published, the reads
 * answered from files, and those asked of the node.
 */
Datum
widecol_direct_read_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[DIRECT_READ_STATS_COLUMNS];
	bool		nulls[DIRECT_READ_STATS_COLUMNS];
	wc_directread *dr = widecol_direct_read_handle();
	wc_directread_stats st;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(&st, 0, sizeof(st));
	if (dr != NULL)
		wc_directread_get_stats(dr, &st);
	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(st.enabled);
	values[1] = Int64GetDatum((int64) st.tables);
	values[2] = Int64GetDatum((int64) st.reads);
	values[3] = Int64GetDatum((int64) st.resident);
	values[4] = Int64GetDatum((int64) st.other);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Columns of widecol.commitlog_sync_stats(). */
#define COMMITLOG_SYNC_STATS_COLUMNS 4

/*
 * widecol.commitlog_sync_stats(OUT backend_fsyncs_enabled bool,
 *								OUT backend_fsyncs bigint,
 *								OUT covered bigint, OUT node_syncs bigint)
 *
 * How the writes of batch mode became durable since the server started
 * (conn.c, widecol_sync_write): fsyncs of the commit log by the writing
 * backends, writes another backend's fsync (or a roll of the log) covered,
 * and writes the backend had the node sync.  Enabled while the node
 * publishes its commit log for the backends (batch mode).
 */
Datum
widecol_commitlog_sync_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[COMMITLOG_SYNC_STATS_COLUMNS];
	bool		nulls[COMMITLOG_SYNC_STATS_COLUMNS];
	size_t		size;
	void	   *mem = widecol_node_ring(&size);
	wc_shmring *r = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, 0, sizeof(nulls));
	memset(values, 0, sizeof(values));
	values[0] = BoolGetDatum(false);
	for (int i = 1; i < COMMITLOG_SYNC_STATS_COLUMNS; i++)
		values[i] = Int64GetDatum(0);
	if (mem != NULL && wc_shmring_open(mem, size, &r) == WC_OK)
	{
		values[0] = BoolGetDatum(wc_shmring_commitlog_dir(r)[0] != '\0');
		values[1] = Int64GetDatum((int64) wc_shmring_clsync_counted(r, WC_CLSYNC_FSYNC));
		values[2] = Int64GetDatum((int64) wc_shmring_clsync_counted(r, WC_CLSYNC_COVERED));
		values[3] = Int64GetDatum((int64) wc_shmring_clsync_counted(r, WC_CLSYNC_NODE));
		wc_shmring_close(r);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
