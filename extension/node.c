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
 *	  threads inherit that mask); see node_open_engine().  The engine's log
 *	  callback goes through ereport only on the main thread and writes
 *	  plain lines to stderr (the server log) from engine threads.
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
 *	  shmem_startup_hook; a spinlock guards it.  Backends read it to answer
 *	  widecol.node_status() and to refuse table access when no node runs
 *	  (widecol_require_node()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "engine.h"
#include "node.h"

#include "widecol.h"

/* How long the main loop sleeps when nothing wakes it. */
#define NODE_NAPTIME_MS			1000

/* Node connections beyond MaxBackends (closes not yet noticed). */
#define NODE_SPARE_CONNECTIONS	16

/* File descriptors kept for the engine's files and the node itself. */
#define NODE_RESERVED_FDS		1024

/* Seconds before the postmaster restarts a node that failed. */
#define NODE_RESTART_SECONDS	10

/* State of the node, in shared memory. */
typedef struct WidecolNodeShared
{
	slock_t		mutex;			/* protects the fields below */
	pid_t		pid;			/* node process, 0 when none */
	bool		running;		/* engine open, node serving */
	char		data_directory[MAXPGPATH];	/* engine directory in use */
} WidecolNodeShared;

static WidecolNodeShared *node_shared = NULL;

/* previous hooks, chained */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* flags set by signal handlers */
static volatile sig_atomic_t got_sighup = false;
static volatile sig_atomic_t got_sigterm = false;

/* the engine, open in the node process only */
static wc_node *node_server = NULL;
static pthread_t node_main_thread;

/* hooks */
static void node_shmem_request(void);
static void node_shmem_startup(void);

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

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(widecol_node_status);


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
	LWLockRelease(AddinShmemInitLock);
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

	pqsignal(SIGHUP, node_sighup);
	pqsignal(SIGTERM, node_sigterm);
	BackgroundWorkerUnblockSignals();

	/*
	 * No database: connecting to shared catalogs only is what makes the node
	 * visible in pg_stat_activity.
	 */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	node_main_thread = pthread_self();
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
	opts.cache_bytes = (size_t) widecol_block_cache_size_mb * 1024 * 1024;
	opts.log = node_engine_log;
	opts.log_arg = NULL;
	opts.compaction_threads = (uint32_t) widecol_concurrent_compactors;
	opts.compaction_throughput_mb_per_sec = (uint32_t) widecol_compaction_throughput;

	pgstat_report_activity(STATE_RUNNING, "opening the widecol engine");

	node_socket_directory();
	st = node_open_engine(&opts, dir, &node_server);
	if (st != WC_OK)
	{
		const char *detail = wc_last_error();

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

	for (;;)
	{
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NODE_NAPTIME_MS,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);

		CHECK_FOR_INTERRUPTS();

		if (got_sigterm)
			break;

		if (got_sighup)
		{
			sigset_t	all,
						saved;
			wc_status	st;

			got_sighup = false;
			ProcessConfigFile(PGC_SIGHUP);
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
	wc_node_stop(node_server);
	node_server = NULL;

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
				"Restore the directory from a backup or rebuild the node "
				"from its replicas.";
		case WC_IO_ERROR:
		case WC_NO_SPACE:
		case WC_NOT_FOUND:
			return "Check that widecol.data_directory is on a writable file "
				"system with free space and owned by the PostgreSQL server "
				"user.";
		case WC_INVALID_ARGUMENT:
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

	if (node_server != NULL)
	{
		wc_node_stop(node_server);
		node_server = NULL;
	}
}

/*
 * Log callback of the engine.  Engine threads must not call PostgreSQL, so
 * only the node's main thread reports through ereport; the others write
 * one line to stderr, which the postmaster sends to the server log.
 */
static void
node_engine_log(void *arg, int level, const char *msg)
{
	const char *label;
	char		line[1024];
	int			len;

	if (pthread_equal(pthread_self(), node_main_thread))
	{
		int			elevel;

		switch (level)
		{
			case WC_LOG_DEBUG:
				elevel = DEBUG1;
				break;
			case WC_LOG_WARNING:
				elevel = WARNING;
				break;
			default:
				/* never ERROR here: that would longjmp out of the engine */
				elevel = LOG;
				break;
		}
		ereport(elevel, (errmsg_internal("widecol engine: %s", msg)));
		return;
	}

	switch (level)
	{
		case WC_LOG_DEBUG:
			return;
		case WC_LOG_INFO:
			label = "LOG";
			break;
		case WC_LOG_WARNING:
			label = "WARNING";
			break;
		default:
			label = "ERROR";
			break;
	}
	len = snprintf(line, sizeof(line), "widecol engine %s:  %s\n", label, msg);
	if (len < 0)
		return;
	if (len >= (int) sizeof(line))
	{
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, len) < 0)
		return;
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
 * widecol.node_status(OUT running bool, OUT pid int, OUT data_directory text)
 *
 * State of this instance's node.  Without shared_preload_libraries there is
 * no node: running is false, pid NULL and data_directory the directory a
 * node would use.
 */
Datum
widecol_node_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3];
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

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
