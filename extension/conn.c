/*-------------------------------------------------------------------------
 *
 * conn.c
 *		  A backend's connection to its local widecol node, the reporting of
 *		  node and engine failures, and the per-statement settings
 *		  (consistency, TTL, write timestamp, filtering).
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/conn.c
 *
 * NOTES
 *	  Each backend keeps one client connection (cluster/client.h) to the
 *	  node's Unix socket (widecol_node_socket_path(), relative to the data
 *	  directory), opened on first use, and a slot of the node's request
 *	  ring in shared memory through which every request that fits it goes
 *	  (the slot is given back at exit, before_shmem_exit).  A connection that failed is dropped
 *	  and reopened by the next request.  The client never blocks forever:
 *	  every call has a timeout (SQLSTATE WC001 when it passes), and a
 *	  connection that breaks under a request is reported as lost, apart
 *	  from the statuses the node itself answers with.  Of those, the
 *	  coordinator's unavailable and replica timeout get SQLSTATEs of their
 *	  own (WC002, WC003), told apart from the backend's own wait (WC001).
 *	  With a cluster the backend waits at least a second longer than the
 *	  coordinator's timeouts, so that the coordinator's answer arrives first.
 *
 *	  Write timestamps are microseconds since the Unix epoch, one per
 *	  statement, strictly increasing within a backend (so that a DELETE
 *	  followed by an INSERT in the same microsecond keeps its order), unless
 *	  widecol.write_timestamp sets one (CQL USING TIMESTAMP).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>
#include <sys/time.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "client.h"
#include "clsync.h"
#include "consistency.h"

#include "widecol.h"

/* GUCs */
int			widecol_consistency = WC_CL_ONE;
int			widecol_ttl = -1;
char	   *widecol_write_timestamp = NULL;
bool		widecol_allow_filtering = false;
int			widecol_per_partition_limit = 0;
int			widecol_fetch_size = 1000;
int			widecol_tombstone_warn_threshold = 1000;
int			widecol_tombstone_failure_threshold = 100000;
static int	widecol_request_timeout_ms = 10000;

static const struct config_enum_entry consistency_options[] = {
	{"any", WC_CL_ANY, false},
	{"one", WC_CL_ONE, false},
	{"two", WC_CL_TWO, false},
	{"three", WC_CL_THREE, false},
	{"quorum", WC_CL_QUORUM, false},
	{"all", WC_CL_ALL, false},
	{"local_one", WC_CL_LOCAL_ONE, false},
	{"local_quorum", WC_CL_LOCAL_QUORUM, false},
	{"each_quorum", WC_CL_EACH_QUORUM, false},
	{"serial", WC_CL_SERIAL, false},
	{"local_serial", WC_CL_LOCAL_SERIAL, false},
	{NULL, 0, false}
};

static struct wc_client *connection = NULL;
static bool write_pending = false;	/* a statement sent a batch it did not wait for */
static int64 last_write_ts = 0;

static bool check_write_timestamp(char **newval, void **extra, GucSource source);
static bool wait_hook(void *arg);
static void close_on_exit(int code, Datum arg);
static void settle_on_abort(void);
static void xact_callback(XactEvent event, void *arg);
static void subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg);

/*
 * Called while a request waits for the node: give up on cancel or shutdown,
 * except while cancel interrupts are held off (the commit's request, txn.c:
 * abandoning it would leave the transaction aborted while the node may still
 * apply its writes).
 */
static bool
wait_hook(void *arg)
{
	if (QueryCancelHoldoffCount > 0)
		return true;
	return !(QueryCancelPending || ProcDiePending);
}

void
widecol_define_query_gucs(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);

	DefineCustomEnumVariable("widecol.consistency",
							 "Consistency level of widecol reads and writes (CQL CONSISTENCY).",
							 "ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM, EACH_QUORUM; "
							 "ANY is for writes only, SERIAL and LOCAL_SERIAL for reads only.",
							 &widecol_consistency, WC_CL_ONE, consistency_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.ttl",
							"Time to live in seconds of cells written by the statement (CQL USING TTL).",
							"-1 uses the table's default_time_to_live; 0 writes cells that never expire.",
							&widecol_ttl, -1, -1, 630720000,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.write_timestamp",
							   "Write timestamp of the statement in microseconds since the epoch (CQL USING TIMESTAMP).",
							   "Empty means the current time.",
							   &widecol_write_timestamp, "",
							   PGC_USERSET, 0, check_write_timestamp, NULL, NULL);
	DefineCustomBoolVariable("widecol.allow_filtering",
							 "Allow queries that scan and filter a whole widecol table (CQL ALLOW FILTERING).",
							 NULL, &widecol_allow_filtering, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.per_partition_limit",
							"Return at most this many rows of each partition (CQL PER PARTITION LIMIT); 0 means no limit.",
							NULL, &widecol_per_partition_limit, 0, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.fetch_size",
							"Rows a scan fetches from the node per round trip.",
							NULL, &widecol_fetch_size, 1000, 1, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.tombstone_warn_threshold",
							"A read that scans more tombstones than this gives a NOTICE naming the table.",
							"0 disables the notice.",
							&widecol_tombstone_warn_threshold, 1000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.tombstone_failure_threshold",
							"A read that scans more tombstones than this fails.",
							"0 disables the limit.",
							&widecol_tombstone_failure_threshold, 100000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.request_timeout",
							"How long a backend waits for the widecol node to answer.",
							NULL, &widecol_request_timeout_ms, 10000, 100, 3600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
}

static bool
check_write_timestamp(char **newval, void **extra, GucSource source)
{
	char	   *end;
	long long	v;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	errno = 0;
	v = strtoll(*newval, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
	{
		GUC_check_errdetail("widecol.write_timestamp must be empty or a positive number of microseconds since 1970-01-01.");
		GUC_check_errhint("Give the write time as in CQL USING TIMESTAMP, in microseconds since 1970-01-01 00:00 UTC (for example '1700000000000000'), or '' for the current time.");
		return false;
	}
	return true;
}

int
widecol_request_timeout(void)
{
	int			coord;

	if (widecol_listen_address == NULL || widecol_listen_address[0] == '\0')
		return widecol_request_timeout_ms;
	coord = Max(widecol_write_request_timeout, widecol_read_request_timeout);
	if (coord >= INT_MAX - 1000)
		return INT_MAX;
	return Max(widecol_request_timeout_ms, coord + 1000);
}

const char *
widecol_consistency_name(int level)
{
	for (int i = 0; consistency_options[i].name; i++)
		if (consistency_options[i].val == level)
			return consistency_options[i].name;
	return "?";
}

/*
 * A write timestamp for a statement's write node (one INSERT, UPDATE or
 * DELETE, also each one inside a function or DO block): microseconds since
 * the epoch, strictly increasing within the backend, so that a later write
 * of the same cell in the same transaction always wins; or the value of
 * widecol.write_timestamp (CQL USING TIMESTAMP).
 */
int64
widecol_new_write_timestamp(void)
{
	struct timeval tv;
	int64		now;

	if (widecol_write_timestamp && widecol_write_timestamp[0] != '\0')
		return strtoll(widecol_write_timestamp, NULL, 10);
	gettimeofday(&tv, NULL);
	now = (int64) tv.tv_sec * 1000000 + tv.tv_usec;
	if (now <= last_write_ts)
		now = last_write_ts + 1;
	last_write_ts = now;
	return now;
}

/*
 * The backend's connection to its node, opened on first use.
 */
/* A writer sent a batch without waiting (true), or collected every answer (false). */
void
widecol_write_pending(bool pending)
{
	write_pending = pending;
}

/*
 * A statement that failed after sending a batch left its answer unread:
 * collect it on abort, so the next statement starts clean.  The batch was
 * sent, so it may have been applied; a failure is only worth a warning.
 */
static void
settle_on_abort(void)
{
	wc_status	st;

	if (!write_pending || connection == NULL)
		return;
	write_pending = false;
	st = wc_client_apply_wait(connection);
	if (st != WC_OK)
		ereport(WARNING,
				(errmsg("widecol: a write sent by the failed statement also failed: %s",
						wc_status_name(st)),
				 errdetail("%s", wc_last_error())));
	if (wc_client_broken(connection))
		widecol_connection_lost();
}

static void
xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		settle_on_abort();
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				 void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle_on_abort();
}

struct wc_client *
widecol_connection(void)
{
	char	   *path;
	wc_status	st;

	if (connection != NULL)
		return connection;
	widecol_require_node();
	path = widecol_node_socket_path();
	st = wc_client_connect(path, widecol_request_timeout(), &connection);
	if (st != WC_OK)
	{
		connection = NULL;
		if (st == WC_OVERLOADED)
			ereport(ERROR,
					(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
					 errmsg("the widecol node has no free connection for this session"),
					 errdetail("%s", wc_last_error()),
					 errhint("The node accepts as many connections as the server has "
							 "backends (max_connections and worker settings); retry, and "
							 "see the server log if it persists.")));
		if (st == WC_NO_MEMORY)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("the widecol node could not take this session's connection"),
					 errdetail("%s", wc_last_error()),
					 errhint("Raise the open-files limit (ulimit -n) of the PostgreSQL server "
							 "or free memory, then retry; the server log says which ran out.")));
		ereport(ERROR,
				(errcode(st == WC_TIMEOUT ? ERRCODE_WIDECOL_TIMEOUT : ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to the widecol node"),
				 errdetail("%s", wc_last_error()),
				 errhint("Check that the widecol node is running (SELECT * FROM widecol.node_status()) "
						 "and see the server log.")));
	}
	wc_client_set_wait_hook(connection, wait_hook, NULL);
	/* small requests through a slot of the node's shared-memory ring */
	{
		size_t		ring_size;
		void	   *ring = widecol_node_ring(&ring_size);
		static bool exit_hook = false;

		if (ring != NULL &&
			wc_client_use_ring(connection, ring, ring_size, widecol_node_ring_spin_us) != WC_OK)
			elog(DEBUG1, "widecol: requests go over the node's socket: %s", wc_last_error());
		wc_client_use_rowcache(connection, widecol_row_cache_handle());
		wc_client_use_directread(connection, widecol_direct_read_handle());
		if (!exit_hook)
		{
			before_shmem_exit(close_on_exit, (Datum) 0);
			exit_hook = true;
		}
	}
	return connection;
}

/* ---------------------------------------------------------------- commit-log fsyncs */

static wc_clsync_file clsync_file;	/* the segment this backend fsyncs, kept open */
static bool clsync_fd_reserved;		/* AcquireExternalFD granted its descriptor */

/*
 * Make a write the node answered before its commit-log fsync durable
 * (batch mode; need from wc_client_apply_unsynced, segment 0: nothing to
 * do).  The backend fsyncs the segment itself, as it flushes the WAL of
 * its own commit: a ring worker that waited for the disk would then have to
 * wake the backend, two more wake-ups per commit.  One LWLock makes the
 * backends take turns, so a backend whose record another backend's fsync
 * covered skips its own (group commit, clsync.h).  When the backend cannot
 * (no descriptor to spare, the file does not open, the fsync fails), the
 * node fsyncs instead; a failed fsync fails there too, and the write with
 * it.
 */
void
widecol_sync_write(wc_clpos need)
{
	static LWLock *lock = NULL;
	wc_client  *c = widecol_connection();
	uint32		slot;
	wc_shmring *r = wc_client_ring(c, &slot);
	wc_status	st = WC_UNAVAILABLE;
	bool		fsynced = false;

	if (need.segment == 0)
		return;
	if (r != NULL && !clsync_fd_reserved)
		clsync_fd_reserved = AcquireExternalFD();
	if (r != NULL && clsync_fd_reserved)
	{
		if (lock == NULL)
			lock = &(GetNamedLWLockTranche(WIDECOL_CLSYNC_TRANCHE))->lock;
		for (;;)
		{
			if (wc_clsync_durable(r, slot, need))
			{
				wc_shmring_clsync_count(r, WC_CLSYNC_COVERED);
				st = WC_OK;
				break;
			}
			/* false: another backend's turn ended, which may have covered ours */
			if (!LWLockAcquireOrWait(lock, LW_EXCLUSIVE))
				continue;
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			st = wc_clsync_to(r, slot, wc_fs_posix(), &clsync_file, need, &fsynced);
			pgstat_report_wait_end();
			LWLockRelease(lock);
			break;
		}
		if (st != WC_OK)
			ereport(st == WC_IO_ERROR ? WARNING : LOG,
					(errmsg("widecol: the node fsyncs the commit log for this write: %s",
							wc_last_error()),
					 errhint("If the fsync failed, check the disk under widecol.data_directory: "
							 "the node stops accepting writes after a failed fsync "
							 "(SELECT * FROM widecol.node_status()).")));
	}
	if (st == WC_OK)
		return;
	if (r != NULL)
		wc_shmring_clsync_count(r, WC_CLSYNC_NODE);
	if ((st = wc_client_sync(c, need)) != WC_OK)
		widecol_report(st, "write");
}

/* At backend exit: give the ring slot back while shared memory is still attached. */
static void
close_on_exit(int code, Datum arg)
{
	widecol_connection_lost();
}

/* The backend's connection if one is open (never connects, never fails). */
struct wc_client *
widecol_connection_if_open(void)
{
	return connection;
}

/* Forget a connection that failed; the next request reconnects. */
void
widecol_connection_lost(void)
{
	if (connection != NULL)
	{
		wc_client_close(connection);
		connection = NULL;
	}
}

/*
 * The level named by a coordinator's detail ("consistency QUORUM needs 2
 * replicas, 1 alive"), or the session's level, upper-cased.
 */
static void
detail_level(const char *detail, char *out, size_t cap)
{
	size_t		i = 0;

	if (strncmp(detail, "consistency ", 12) == 0)
	{
		const char *p = detail + 12;

		while (i + 1 < cap && (isupper((unsigned char) p[i]) || p[i] == '_'))
		{
			out[i] = p[i];
			i++;
		}
	}
	if (i == 0)
	{
		const char *g = widecol_consistency_name(widecol_consistency);

		for (; g[i] && i + 1 < cap; i++)
			out[i] = pg_toupper((unsigned char) g[i]);
	}
	out[i] = '\0';
}

/*
 * A failure the coordinator answered with: too few live replicas (WC002)
 * or too few answers in time (WC003, "N of M replicas" taken from the
 * detail).  Returns without reporting for the other statuses.
 */
static void
report_coordinator(wc_status st, const char *what, const char *detail)
{
	char		level[32];
	unsigned	acked,
				required;
	const char *colon;

	detail_level(detail, level, sizeof(level));
	if (st == WC_UNAVAILABLE && strncmp(detail, "this node left its cluster", 26) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this widecol node left its cluster"),
				 errdetail("%s", detail),
				 errhint("Connect to a node that is still in the cluster.  To use this "
						 "instance again, stop it, empty its widecol.data_directory and "
						 "start it again (with widecol.seeds it joins as a new node).")));
	if (st == WC_UNAVAILABLE && strncmp(detail, "this node is not coordinating", 29) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WIDECOL_UNAVAILABLE),
				 errmsg("not enough replicas for consistency level %s", level),
				 errdetail("%s", detail),
				 errhint("The node is joining its cluster (or stopping); retry in a few "
						 "seconds, and check SELECT * FROM widecol.nodes.  Nothing was "
						 "written.")));
	if (st == WC_UNAVAILABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WIDECOL_UNAVAILABLE),
				 errmsg("not enough replicas for consistency level %s", level),
				 detail[0] ? errdetail("%s", detail) : 0,
				 errhint("Bring the replicas that are down back (SELECT * FROM "
						 "widecol.nodes), or lower widecol.consistency; a refused write "
						 "was not applied anywhere.")));
	if (st != WC_TIMEOUT)
		return;
	/* counter_leader.h: a leader applied it, or may have; never retried */
	if (strncmp(detail, "counter write", 13) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WIDECOL_REPLICA_TIMEOUT),
				 errmsg("widecol counter update at consistency level %s may or may not have been applied",
						level),
				 errdetail("%s", detail),
				 errhint("Counter updates are not idempotent: read the counter before you "
						 "retry, or a retry may count twice.  Once a replica applied it, "
						 "hints and repair bring it to the others.")));
	colon = strrchr(detail, ':');
	if (colon != NULL && sscanf(colon + 1, " %u of %u", &acked, &required) == 2)
		ereport(ERROR,
				(errcode(ERRCODE_WIDECOL_REPLICA_TIMEOUT),
				 errmsg("widecol %s timed out at consistency level %s: %u of %u replicas answered",
						what, level, acked, required),
				 errdetail("%s", detail),
				 errhint("Replicas are slow or went down during the request; a write may "
						 "still be applied by the replicas that got it, and hints bring it "
						 "to the others.  Retry, or raise widecol.write_request_timeout / "
						 "widecol.read_request_timeout.")));
	ereport(ERROR,
			(errcode(ERRCODE_WIDECOL_REPLICA_TIMEOUT),
			 errmsg("widecol %s timed out at consistency level %s", what, level),
			 detail[0] ? errdetail("%s", detail) : 0,
			 errhint("Retry, or raise widecol.write_request_timeout / "
					 "widecol.read_request_timeout.")));
}

/*
 * Report a failed node request as an error: errcode from the status, the
 * node's message as detail, and a hint of what to do.
 */
void
widecol_report(wc_status st, const char *what)
{
	const char *hint;
	char		detail[1024];

	strlcpy(detail, wc_last_error(), sizeof(detail));
	/* a request abandoned for a cancel or shutdown reports that instead */
	if (QueryCancelPending || ProcDiePending)
	{
		widecol_connection_lost();
		CHECK_FOR_INTERRUPTS();
	}
	/*
	 * The connection broke under the request (the node died, restarted or
	 * closed it): that is no statement about replicas or consistency.
	 */
	if (st != WC_TIMEOUT && connection != NULL && wc_client_broken(connection))
	{
		widecol_connection_lost();
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("lost connection to the widecol node during %s", what),
				 detail[0] ? errdetail("%s", detail) : 0,
				 errhint("The widecol node process may have died or restarted: look in the "
						 "server log for why.  The next statement reconnects; whether a write "
						 "of this statement was applied is unknown.")));
	}
	/* answered by the node (the connection is fine): the coordinator's verdict */
	if ((st == WC_UNAVAILABLE || st == WC_TIMEOUT) && connection != NULL &&
		!wc_client_broken(connection))
		report_coordinator(st, what, detail);
	switch (st)
	{
		case WC_UNAVAILABLE:
			hint = "Not enough replicas are available for the consistency level; lower widecol.consistency or bring nodes back.";
			widecol_connection_lost();
			break;
		case WC_TIMEOUT:
			if (strcmp(what, "write") == 0)
				hint = "The node did not answer in time: whether it applied the writes is unknown "
					"(PostgreSQL rolls its part back), as after a Cassandra write timeout.  Read the "
					"rows to find out, retry (a retry of writes other than counter updates is "
					"harmless), or raise widecol.request_timeout.";
			else
				hint = "The node did not answer in time; retry, or raise widecol.request_timeout.";
			widecol_connection_lost();
			break;
		case WC_IO_ERROR:
			hint = "See the server log of the widecol node for the failing file.";
			break;
		case WC_NO_SPACE:
			hint = "Free disk space in the widecol data directory; writes resume by themselves once there is room.";
			break;
		case WC_CORRUPTION:
			hint = "A data file of the table is damaged and was not served; run widecol.scrub() on the table to rebuild it from what is readable (the damaged file is kept in the table's quarantine directory), or restore the table from a replica or a backup.";
			break;
		case WC_OVERLOADED:
			if (strstr(detail, "memtable_total_space") != NULL)
				hint = "Writes arrive faster than the node flushes memtables to disk; retry later, "
					"slow the writers down, or raise widecol.memtable_total_space_mb.";
			else
				hint = "The node is overloaded; retry later.";
			break;
		case WC_INVALID_ARGUMENT:
			if (strncmp(detail, "a counter update on a cluster", 29) == 0 ||
				strstr(detail, "not supported for counter updates") != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol: %s failed: counter updates on a cluster go alone", what),
						 errdetail("%s", detail),
						 errhint("Commit counter updates of one table in a transaction of their "
								 "own, without other writes (as CQL's COUNTER BATCH), at a "
								 "consistency level other than ANY.")));
			if (strstr(detail, "reverse order") != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol: %s failed: a read of several partitions has no reverse clustering order", what),
						 errdetail("%s", detail),
						 errhint("Rows come in reverse clustering order only within one partition: "
								 "restrict every partition-key column with =, or order in clustering "
								 "order and let PostgreSQL sort the rest.")));
			hint = "Check the values in the statement.";
			break;
		case WC_NOT_FOUND:
			hint = "The engine table may have been dropped with widecol.drop_table(); recreate the foreign table.";
			break;
		default:
			hint = "See the server log for details.";
			break;
	}
	ereport(ERROR,
			(errcode(widecol_status_sqlstate(st)),
			 errmsg("widecol: %s failed: %s", what, wc_status_name(st)),
			 detail[0] ? errdetail("%s", detail) : 0,
			 errhint("%s", hint)));
}
