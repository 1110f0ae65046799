/*-------------------------------------------------------------------------
 *
 * widecol.c
 *		  Module entry point of widecol: _PG_init, the widecol.* GUCs and
 *		  the small SQL-callable functions that describe the library.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/widecol.c
 *
 * NOTES
 *	  The node settings are PGC_POSTMASTER (the node reads them once, when
 *	  it opens the engine), and PostgreSQL refuses to define such a GUC
 *	  after startup.  So they, the shared memory and the "widecol node"
 *	  background worker (node.c) exist only when the library is loaded
 *	  through shared_preload_libraries.  A library loaded later, by a
 *	  backend calling a widecol function, defines none of them: functions
 *	  that only describe the node still work (node_status() says it is not
 *	  running) and table access fails in widecol_require_node().  Settings
 *	  that sessions may change (PGC_USERSET/PGC_SUSET) belong in
 *	  define_session_gucs(), which runs in both cases.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "keys.h"
#include "widecol.h"

PG_MODULE_MAGIC;

/* GUC variables */
char	   *widecol_data_directory = NULL;
int			widecol_commitlog_sync = WIDECOL_COMMITLOG_SYNC_PERIODIC;
int			widecol_commitlog_sync_period_ms = 10;
int			widecol_memtable_size_mb = 64;
int			widecol_memtable_total_space_mb = 512;
int			widecol_commitlog_total_space_mb = 1024;
int			widecol_block_cache_size_mb = 64;
int			widecol_num_tokens = 16;
int			widecol_node_worker_threads = 0;
int			widecol_node_ring_slot_kb = 64;
int			widecol_node_ring_spin_us = 100;
int			widecol_bulk_yield_us = 200;
int			widecol_row_cache_size_mb = 0;
bool		widecol_row_cache = true;
bool		widecol_direct_reads = true;
int			widecol_direct_read_file_mb = 1024;
int			widecol_compaction_throughput = 64;
int			widecol_concurrent_compactors = 1;
int			widecol_disk_failure_policy = WIDECOL_DISK_FAILURE_BEST_EFFORT;
bool		widecol_commitlog_ignore_replay_errors = false;
int			widecol_partitioner = WC_PARTITIONER_XXHASH;

/* true when _PG_init ran from shared_preload_libraries (inherited by fork) */
bool		widecol_preloaded = false;

static const struct config_enum_entry commitlog_sync_options[] = {
	{"periodic", WIDECOL_COMMITLOG_SYNC_PERIODIC, false},
	{"batch", WIDECOL_COMMITLOG_SYNC_BATCH, false},
	{NULL, 0, false}
};

static const struct config_enum_entry partitioner_options[] = {
	{"xxhash", WC_PARTITIONER_XXHASH, false},
	{"murmur3", WC_PARTITIONER_MURMUR3, false},
	{NULL, 0, false}
};

static const struct config_enum_entry disk_failure_policy_options[] = {
	{"best_effort", WIDECOL_DISK_FAILURE_BEST_EFFORT, false},
	{"stop", WIDECOL_DISK_FAILURE_STOP, false},
	{NULL, 0, false}
};

/* module entry */
void		_PG_init(void);

/* helpers */
static void define_session_gucs(void);
static void define_node_gucs(void);

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(widecol_version);


/*
 * Module load callback.
 */
/* widecol.direct_read_file_mb: the budget of this session's direct reads */
static void
assign_direct_read_file_mb(int newval, void *extra)
{
	widecol_direct_read_file_mb = newval;
	/* the handle reads the setting when it opens; once open, tell it */
	widecol_direct_read_budget_changed();
}

void
_PG_init(void)
{
	define_session_gucs();
	widecol_table_cache_init();
	widecol_ddl_init();
	widecol_schema_apply_init();
	widecol_owner_init();
	widecol_tam_init();
	widecol_tam_ddl_init();
	widecol_tam_scan_init();
	widecol_tam_modify_init();

	widecol_define_cluster_gucs(process_shared_preload_libraries_in_progress);

	if (!process_shared_preload_libraries_in_progress)
		return;

	widecol_preloaded = true;
	define_node_gucs();

	/*
	 * Reserve the prefix, so that a misspelt widecol.* setting is an error
	 * rather than silently kept.
	 */
	MarkGUCPrefixReserved("widecol");

	widecol_node_init();
}

/*
 * Settings a session may change; defined however the library is loaded:
 * consistency level, TTL, write timestamp, filtering (conn.c); the
 * transaction's write buffer (txn.c).
 */
static void
define_session_gucs(void)
{
	widecol_define_query_gucs();
	widecol_txn_init();
	widecol_lwt_init();
}

/*
 * Settings of the node, read when it starts.  Only while
 * shared_preload_libraries are processed.
 */
static void
define_node_gucs(void)
{
	DefineCustomStringVariable("widecol.data_directory",
							   "Directory where the widecol node keeps its "
							   "commit log, SSTables and catalog.",
							   "An empty string means \"widecol\" inside the "
							   "PostgreSQL data directory; a relative path is "
							   "taken relative to the data directory.",
							   &widecol_data_directory,
							   "",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("widecol.commitlog_sync",
							 "When the commit log is fsynced: "
							 "\"periodic\" or \"batch\".",
							 "periodic acknowledges writes at once and fsyncs "
							 "every widecol.commitlog_sync_period_ms; batch "
							 "acknowledges a write only once it is fsynced "
							 "(group commit).",
							 &widecol_commitlog_sync,
							 WIDECOL_COMMITLOG_SYNC_PERIODIC,
							 commitlog_sync_options,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.commitlog_sync_period_ms",
							"Interval between commit log fsyncs in periodic "
							"mode.",
							"At most this much acknowledged data can be lost "
							"in a crash of the machine.",
							&widecol_commitlog_sync_period_ms,
							10,
							1,
							60000,
							PGC_POSTMASTER,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * disk failures: read when the node starts; a reload makes the node the
	 * postmaster restarts after a failed start use the new value
	 */
	DefineCustomEnumVariable("widecol.disk_failure_policy",
							 "What a damaged SSTable or table manifest does: "
							 "\"best_effort\" or \"stop\".",
							 "best_effort takes only the damaged table offline "
							 "(reads fail until widecol.scrub() rebuilds it); "
							 "stop keeps the node from starting, or stops its "
							 "writes when the damage is found while it runs.",
							 &widecol_disk_failure_policy,
							 WIDECOL_DISK_FAILURE_BEST_EFFORT,
							 disk_failure_policy_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("widecol.commitlog_ignore_replay_errors",
							 "Start the node even when a commit-log segment is "
							 "damaged, skipping the records that cannot be read.",
							 "Off: the node refuses to start and the server log "
							 "names the segment, offset and records lost.  On: "
							 "what is readable is replayed and what was skipped "
							 "is logged; acknowledged writes in the damaged part "
							 "are lost.",
							 &widecol_commitlog_ignore_replay_errors,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/*
	 * the partitioner: backends encode partition keys for it and compute
	 * tokens with it; the data directory records it when it is created
	 */
	DefineCustomEnumVariable("widecol.partitioner",
							 "How partition keys become tokens: \"xxhash\" or "
							 "\"murmur3\" (Cassandra's Murmur3Partitioner).",
							 "Fixed when the data directory is created: the node "
							 "refuses to start on a directory created with the "
							 "other one.  Every node of a cluster needs the same.",
							 &widecol_partitioner,
							 WC_PARTITIONER_XXHASH,
							 partitioner_options,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);
	wc_partitioner_set((wc_partitioner) widecol_partitioner);

	DefineCustomIntVariable("widecol.memtable_size_mb",
							"Memtable size per table at which it is flushed "
							"to an SSTable.",
							NULL,
							&widecol_memtable_size_mb,
							64,
							1,
							64 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.memtable_total_space_mb",
							"Memory of all memtables of the node together.",
							"Past half of it the largest memtable is flushed; "
							"past all of it writes wait for flushes and then "
							"fail as overloaded.",
							&widecol_memtable_total_space_mb,
							512,
							1,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.commitlog_total_space_mb",
							"Disk space of the node's commit log.",
							"Past it the tables whose memtables keep the oldest "
							"commit-log segment are flushed, so that the "
							"segment can be recycled.",
							&widecol_commitlog_total_space_mb,
							1024,
							1,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.block_cache_size_mb",
							"Size of the node's SSTable block cache.",
							"0 disables the cache.",
							&widecol_block_cache_size_mb,
							64,
							0,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.num_tokens",
							"Number of virtual nodes (tokens) this node owns "
							"on the token ring.",
							NULL,
							&widecol_num_tokens,
							16,
							1,
							1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.node_worker_threads",
							"Threads of the node that serve backends' requests "
							"on its socket, and as many on its request ring "
							"(0: two per CPU, at least 4, on the socket and one "
							"per CPU, at least 2, on the ring; eight per CPU, at "
							"least 16, on both with widecol.commitlog_sync = batch).",
							"However many sessions are connected, the node "
							"serves them with this many threads.",
							&widecol_node_worker_threads,
							0,
							0,
							256,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.node_ring_slot_kb",
							"Size of each backend's slot in the shared memory "
							"through which small requests reach the node (0: "
							"every request goes over the node's socket).",
							"One slot per possible backend (MaxBackends + 16). "
							"Requests and responses larger than a slot go over "
							"the socket.",
							&widecol_node_ring_slot_kb,
							64,
							0,
							1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.node_ring_spin_us",
							"How long a backend waiting for the node, and a "
							"node thread waiting for a request, spin before "
							"they sleep (0: never spin).",
							"Spinning happens only while the threads runnable "
							"on the machine do not outnumber its CPUs.",
							&widecol_node_ring_spin_us,
							100,
							0,
							1000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.bulk_yield_us",
							"How often bulk work gives its CPU to a waiting "
							"thread: a COPY's backend, the node's flush and "
							"compaction threads and its workers for large "
							"requests yield after this many microseconds of "
							"work (0: never).",
							"On a busy machine a woken reader then waits at most "
							"about this long for a CPU instead of a scheduler "
							"slice of milliseconds; with no thread waiting a "
							"yield costs about a microsecond.",
							&widecol_bulk_yield_us,
							200,
							0,
							100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.row_cache_size_mb",
							"Shared memory for the row cache, which answers "
							"repeated point reads of tables with the option "
							"caching 'rows' without asking the node (0: off).",
							"Only on a node that is not configured for a "
							"cluster; a request and its answer of more than 448 "
							"bytes together are not cached.",
							&widecol_row_cache_size_mb,
							0,
							0,
							65536,
							PGC_POSTMASTER,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("widecol.direct_reads",
							 "Let this session read a table's files itself where no memtable can "
							 "hold the partition.",
							 "Off: every read asks the node.",
							 &widecol_direct_reads,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("widecol.direct_read_file_mb",
							"SSTable megabytes a session keeps open for direct reads.",
							"Each open file keeps its index and bloom filter, about 1 % of it, "
							"in the session's memory; a table with more is read through the node.",
							&widecol_direct_read_file_mb,
							1024, 0, 1048576,
							PGC_USERSET,
							GUC_UNIT_MB,
							NULL, assign_direct_read_file_mb, NULL);

	DefineCustomBoolVariable("widecol.row_cache",
							 "Let this session's point reads use the row cache.",
							 "Off: every read asks the node and fills nothing.",
							 &widecol_row_cache,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/* compaction: changed with a reload, applied by the node at once */
	DefineCustomIntVariable("widecol.compaction_throughput",
							"Cap on background compaction output, in MB per second "
							"(0: unthrottled).",
							NULL,
							&widecol_compaction_throughput,
							64,
							0,
							100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.concurrent_compactors",
							"Background compaction threads of the node (0: only "
							"widecol.compact() compacts).",
							NULL,
							&widecol_concurrent_compactors,
							1,
							0,
							64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

/*
 * The directory the engine lives in (or would live in), as an absolute
 * palloc'd path: widecol.data_directory, or $PGDATA/widecol when that is
 * empty or not set.
 */
char *
widecol_resolve_data_directory(void)
{
	const char *dir = widecol_data_directory;

	/* not preloaded: the GUC is not defined, but may be set (placeholder) */
	if (!widecol_preloaded)
		dir = GetConfigOption("widecol.data_directory", true, false);

	if (dir == NULL || dir[0] == '\0')
		dir = WIDECOL_DEFAULT_SUBDIR;

	if (is_absolute_path(dir))
		return pstrdup(dir);

	return psprintf("%s/%s", DataDir, dir);
}

/*
 * SQLSTATE that best describes an engine status.
 */
int
widecol_status_sqlstate(wc_status st)
{
	switch (st)
	{
		case WC_OK:
			return ERRCODE_SUCCESSFUL_COMPLETION;
		case WC_NOT_FOUND:
			return ERRCODE_UNDEFINED_OBJECT;
		case WC_CORRUPTION:
			return ERRCODE_DATA_CORRUPTED;
		case WC_IO_ERROR:
			return ERRCODE_IO_ERROR;
		case WC_INVALID_ARGUMENT:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case WC_UNAVAILABLE:
			return ERRCODE_CONNECTION_FAILURE;
		case WC_TIMEOUT:
			return ERRCODE_WIDECOL_TIMEOUT;
		case WC_OVERLOADED:
			return ERRCODE_INSUFFICIENT_RESOURCES;
		case WC_NO_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		case WC_EXISTS:
			return ERRCODE_DUPLICATE_OBJECT;
		case WC_NO_SPACE:
			return ERRCODE_DISK_FULL;
	}
	return ERRCODE_INTERNAL_ERROR;
}

/*
 * widecol.version() returns text
 *
 * Version of the loaded widecol library.
 */
Datum
widecol_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(WIDECOL_VERSION));
}
