/*
 * engine.h - the storage engine of one node: tables, writes, reads, flushes.
 *
 * The engine owns its directory (layout in docs/file-formats.md):
 *   <dir>/catalog                 table definitions (checksummed, replaced atomically)
 *   <dir>/commitlog/              commit-log segments shared by all tables
 *   <dir>/t<table_id>/manifest    live SSTables of the table and the commit-log
 *                                 position up to which its data is in them
 *   <dir>/t<table_id>/<gen>.sst   SSTables
 *
 * Writes go to the commit log and then into the table's active memtable; a
 * memtable that passes memtable_bytes is switched for a new one and flushed to
 * an SSTable by a background thread while writes continue.  All memtables
 * together are bounded by memtable_total_bytes (the largest is flushed early;
 * writers wait, then get WC_OVERLOADED, when flushes fall behind) and the
 * commit log by commitlog_total_bytes (tables that keep its oldest segment
 * are flushed).  A background flush that fails is retried every second and
 * fails every write meanwhile (wc_engine_get_stats shows it).  Open replays the
 * commit log from each table's flushed position, removes files a crash left
 * behind (temporaries, SSTables not in a manifest) and fails with
 * WC_CORRUPTION rather than serving data it cannot verify.
 *
 * Compaction (compaction.c, compaction_strategy.h) runs on its own threads
 * (compaction_threads): after every flush and every compaction_check_ms the
 * table's strategy (wc_table_def.compaction, a CQL map parsed by
 * compaction_options.h) picks a task; inputs are swapped for outputs under
 * the table's lock while readers keep their references to the old files,
 * which are unlinked when the last reader lets go.  Tombstones and expired
 * cells are purged only past gc_grace and when nothing outside the
 * compaction (other SSTables, memtables) may hold older data for their
 * partition.  Output bytes are throttled to compaction_throughput_mb_per_sec.
 * One compaction runs per table at a time; threads work on different tables.
 *
 * Reads merge the memtables and SSTables of a table (newest first),
 * reconcile cells (row.h), apply partition, range and row tombstones and TTL
 * expiry, and skip SSTables by bloom filter and token/clustering bounds.
 *
 * Thread-safety: every function may be called concurrently from any thread;
 * writes to one engine are serialized internally (one memtable writer),
 * reads never block writes.  Background threads never call back into the
 * caller except through the log function, which must be thread-safe.
 */
#ifndef WC_ENGINE_H
#define WC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commitlog.h"
#include "compaction_options.h"
#include "fs.h"
#include "keys.h"
#include "mutation.h"
#include "row.h"
#include "status.h"

typedef struct wc_engine wc_engine;

/* What a damaged SSTable or manifest found at open does (wc_engine_options). */
typedef enum wc_disk_failure_policy {
    WC_DISK_FAILURE_BEST_EFFORT = 0, /* only its table goes offline (reads refused until scrub) */
    WC_DISK_FAILURE_STOP = 1,        /* open fails with WC_CORRUPTION */
} wc_disk_failure_policy;

struct wc_engine_table_files;

typedef struct wc_engine_options {
    const char *dir;          /* created if missing */
    wc_fs *fs;                /* NULL: wc_fs_posix() */
    wc_sync_mode sync_mode;   /* default WC_SYNC_PERIODIC */
    uint32_t sync_period_ms;  /* default 10 */
    size_t segment_bytes;     /* commit-log segment size; default 32 MiB */
    size_t memtable_bytes;    /* flush threshold per table; default 64 MiB */
    size_t block_bytes;       /* SSTable block size; default 8 KiB */
    size_t cache_bytes;       /* block cache; default 64 MiB; 0 disables */
    uint32_t bloom_bits;      /* bloom bits per partition; default 10 */
    wc_log_fn log;            /* may be NULL */
    void *log_arg;
    /* seconds since the epoch for TTL and gc_grace decisions; NULL: time(NULL) (tests set it) */
    int64_t (*clock)(void *arg);
    void *clock_arg;
    /* background compaction threads; default 1 (wc_engine_options_default); 0 = none
     * (only wc_engine_compact compacts); at most WC_MAX_COMPACTION_THREADS */
    uint32_t compaction_threads;
    /* nice values (Linux, per thread) of the compaction threads and of the flush thread, so
     * that on a busy machine reads are scheduled before background work; defaults 10 and 5
     * (wc_engine_options_default); 0 = the process's own; only ever raised (thread.h) */
    int compaction_nice;
    int flush_nice;
    /* how often (microseconds of work) the flush and compaction threads, the staging of
     * large writes and the node's bulk workers give their CPU to a waiting thread
     * (wc__yield_point, thread.h): nice sets a busy CPU's share, not how soon a woken
     * reader runs; default 200 (wc_engine_options_default); 0 = never */
    uint32_t bulk_yield_us;
    /* cap on compaction output, MiB/s; default 64; 0 = unthrottled */
    uint32_t compaction_throughput_mb_per_sec;
    /* periodic strategy check (tombstone compactions, TWCS window rollover); 0 = 1000 ms */
    uint32_t compaction_check_ms;
    /* memory of all memtables of all tables (active and flushing); 0 = 512 MiB.  Past half of
     * it the largest active memtable is flushed; past all of it writers wait for flushes
     * (write_stall_ms) and then fail with WC_OVERLOADED. */
    size_t memtable_total_bytes;
    /* longest a write waits for flushes to bring memtable memory under the limit; 0 = 2000 */
    uint32_t write_stall_ms;
    /* live commit-log segments (segment_bytes each); 0 = 1 GiB.  Past it the tables whose
     * memtables hold records of the oldest segment are flushed, so that it can be recycled. */
    size_t commitlog_total_bytes;
    /* replay past damaged commit-log segments (logging what is skipped) instead of failing
     * open with WC_CORRUPTION; what was replayed is flushed at once so the damaged
     * segments are retired (commitlog.h) */
    bool commitlog_ignore_replay_errors;
    /* a damaged SSTable or manifest at open: its table offline (default) or open fails */
    wc_disk_failure_policy disk_failure_policy;
    /* how tokens are computed (keys.h); recorded in the data directory when it is created
     * (file "partitioner"): opening it with another one fails with WC_INVALID_ARGUMENT.  A
     * directory from before the record was kept is xxhash.  Open sets the process's
     * partitioner (wc_partitioner_set). */
    wc_partitioner partitioner;
    /* Told of every change readers can see, for caches of read answers (cluster/rowcache.h):
     * called with done false before a change to partition pk of table_id (pk NULL: to the
     * whole table: drop, alter, publish of staged writes, scrub, cleanup) can be visible, and
     * once more with the same arguments and done true after all of it is visible or it
     * failed.  Called from writer threads, possibly under engine locks: must not block or
     * call the engine.  NULL: none. */
    void (*change_hook)(void *arg, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                        bool done);
    void *change_hook_arg;
    /* Direct reads (cluster/directread.h): readers outside the engine that read a table's
     * SSTable files themselves when none of its memtables can hold the partition.
     * publish_hook is called with a table's state whenever its SSTable list, its oldest
     * memtable (also at the first write after all were flushed) or its readability
     * changes, under the table's lock (must not block or call the engine); resident_hook
     * before every write to partition pk of table_id enters the memtable with the given
     * serial (under write_mu), once per entry: a row (row true, its
     * clustering key ck) or a partition-level entry (row false, ck NULL: partition
     * deletion, range tombstones, static row).  Memtable serials start at
     * memtable_serial_base (0: 1) and only grow.  NULL: none. */
    void (*publish_hook)(void *arg, const struct wc_engine_table_files *f);
    void (*resident_hook)(void *arg, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                          bool row, const uint8_t *ck, size_t ck_len, uint64_t serial);
    void *direct_hook_arg;
    uint64_t memtable_serial_base;
} wc_engine_options;

/* One SSTable of a table as publish_hook tells it: the file <dir>/t<table_id>/<gen>.sst. */
typedef struct wc_engine_file_ref {
    uint64_t gen;
    uint64_t file_id; /* unique among the engine's open files (a reused gen gets a new id) */
    uint64_t bytes;   /* its size */
} wc_engine_file_ref;

/* wc_engine_table_files.flushed_below of a table no memtable holds a write of. */
#define WC_FLUSHED_ALL UINT64_MAX

/* What publish_hook receives (valid during the call). */
typedef struct wc_engine_table_files {
    uint32_t table_id;
    bool readable;          /* false: dropped, or offline (damaged SSTables) */
    /* every write to a memtable with a serial below this is in files[]; WC_FLUSHED_ALL
     * while no memtable of the table holds a write (the next write to it publishes
     * the newest serial, its memtable's, before it raises a stripe) */
    uint64_t flushed_below;
    /* the whole table may have data in memtables up to this serial (0: none) */
    uint64_t table_wide;
    const wc_engine_file_ref *files; /* oldest first */
    size_t nfiles;
} wc_engine_table_files;

#define WC_MAX_COMPACTION_THREADS 64

typedef struct wc_table_def {
    uint32_t id;              /* non-zero, unique per engine */
    char name[128];           /* informational ("keyspace.table") */
    uint32_t gc_grace_seconds; /* default 864000 */
    uint32_t default_ttl;     /* informational; the writer applies it */
    /* The table's typed schema (schema_def.h encoding): opaque to the engine, kept in the
     * catalog, any length; NULL/0 = none.  A def the caller builds may point anywhere;
     * one filled by wc_engine_get_table owns a copy (release with wc_table_def_clear). */
    uint8_t *schema;
    size_t schema_len;
    /* CQL compaction map as the user wrote it (compaction_options.h); "" = STCS defaults.
     * Validated by create/alter (WC_INVALID_ARGUMENT naming the option). */
    char compaction[1024];
} wc_table_def;

/* Bounds of a clustering slice; unbounded sides ignore key/len. */
typedef struct wc_bound {
    const uint8_t *key;
    size_t len;
    bool inclusive;
    bool unbounded;
} wc_bound;

typedef struct wc_read_request {
    uint32_t table_id;
    const uint8_t *pk;        /* one partition; NULL for a scan over all partitions */
    size_t pk_len;
    wc_bound start, end;      /* clustering slice (both unbounded: whole partition) */
    bool reverse;             /* clustering order reversed (single partition or per partition) */
    bool include_static;      /* return each partition's static row first (if live) */
    uint64_t limit;           /* max rows in total, 0 = none */
    uint64_t per_partition_limit; /* max clustering rows per partition, 0 = none */
    const uint32_t *columns;  /* only these columns (ascending); NULL = all */
    size_t ncolumns;
    int64_t now_sec;          /* TTL clock; 0 = the engine's clock */
    const uint8_t *paging_state; /* from a previous page; NULL = start */
    size_t paging_state_len;
    size_t page_rows;         /* max rows in this page; 0 = 1000 */
    bool token_range;         /* scans only: restrict to tokens in (token_start, token_end] */
    int64_t token_start, token_end;
    /* guardrail: once more tombstones than this were scanned the read stops with
     * WC_OVERLOADED, detail "read of table <name> scanned <n> tombstones, more than the
     * failure threshold <t>"; 0 = no limit (page.stats.tombstones_scanned serves warnings) */
    uint64_t tombstone_failure_threshold;
} wc_read_request;

typedef struct wc_result_row {
    const uint8_t *pk;
    size_t pk_len;
    int64_t token;
    bool is_static;
    const uint8_t *ck;        /* NULL for a static row */
    size_t ck_len;
    int64_t live_ts;          /* row liveness timestamp, WC_NO_TIMESTAMP if none */
    uint32_t live_ttl, live_ldt; /* its TTL and expiry (seconds), 0 if it does not expire */
    uint32_t ncells;
    const wc_cell *cells;     /* live cells only, ascending column; a collection cell
                               * (WC_CELLF_COLLECTION) holds its live elements as
                               * wc_coll_live writes them (collection.h) */
} wc_result_row;

typedef struct wc_read_stats {
    uint64_t memtables_read;
    uint64_t sstables_read;   /* SSTables whose blocks were read */
    uint64_t bloom_skips;     /* SSTables skipped by their bloom filter */
    uint64_t range_skips;     /* SSTables skipped by token/clustering bounds */
    uint64_t blocks_read;
    uint64_t cache_hits;
    uint64_t rows_scanned;    /* entries merged */
    uint64_t tombstones_scanned; /* partition/range/row/cell tombstones and expired cells met */
} wc_read_stats;

typedef struct wc_page {
    size_t nrows;
    wc_result_row *rows;
    bool more;                /* another page follows: pass paging_state back */
    uint8_t *paging_state;
    size_t paging_state_len;
    wc_read_stats stats;
    void *priv;               /* owned memory */
} wc_page;

typedef struct wc_table_stats {
    uint64_t memtable_bytes;  /* active + flushing */
    uint64_t memtable_entries;
    uint64_t sstable_count;
    uint64_t sstable_bytes;
    uint64_t partitions_estimate;
    uint64_t rows_estimate;
    uint64_t tombstones;
    uint64_t pending_flushes;
    char offline[512]; /* why the table is offline (a damaged file), "" if it is online */
} wc_table_stats;

/* State of the whole engine (wc_engine_get_stats). */
typedef struct wc_engine_stats {
    uint64_t memtable_bytes;          /* every table, active + flushing */
    uint64_t memtable_flushing_bytes; /* switched, waiting for or in a flush */
    uint64_t memtable_limit_bytes;    /* memtable_total_bytes */
    uint64_t commitlog_bytes;         /* live segments x segment_bytes */
    uint64_t commitlog_limit_bytes;   /* commitlog_total_bytes */
    uint64_t writes_stalled;          /* writes that waited for flushes (since open) */
    uint64_t writes_refused;          /* writes failed with WC_OVERLOADED (since open) */
    wc_status background_status;      /* WC_OK, or the failure below */
    /* the write halt of disk_failure_policy stop after a damaged SSTable, else the flush
     * failure that fails writes until a retry succeeds, else an offline table and why, else
     * the last compaction failure not followed by a successful compaction of that table;
     * "" if none */
    char background_error[512];
} wc_engine_stats;

#define WC_LEVELS 9            /* LCS levels 0..8 */
#define WC_STATS_WINDOWS 16    /* TWCS windows reported, newest first */
#define WC_READ_HIST_BUCKETS 8 /* SSTables touched per read: 0,1,2,3,4,5-8,9-16,17+ */

/* Compaction state of one table (wc_engine_compaction_stats). */
typedef struct wc_compaction_stats {
    wc_compaction_class strategy;
    bool enabled;
    bool running;                   /* a compaction of this table is running */
    uint64_t pending;               /* estimated compactions still to run */
    uint64_t level_sstables[WC_LEVELS]; /* per level (LCS levels; others keep all in 0) */
    uint64_t level_bytes[WC_LEVELS];
    uint32_t nwindows;              /* TWCS: windows holding SSTables (<= WC_STATS_WINDOWS) */
    int64_t window_start[WC_STATS_WINDOWS]; /* seconds since the epoch, newest first */
    uint64_t window_sstables[WC_STATS_WINDOWS];
    uint64_t window_bytes[WC_STATS_WINDOWS];
    uint64_t droppable_tombstones;  /* estimated, at gc_before = now - gc_grace */
    double droppable_tombstone_ratio; /* droppable / (cells + rows + headers) */
    /* single-partition reads by SSTables touched (not skipped by bounds or bloom filter) */
    uint64_t read_histogram[WC_READ_HIST_BUCKETS];
    uint32_t read_p50, read_p99;    /* upper bound of the bucket holding the percentile */
    uint64_t compactions_completed; /* since open; also counts whole-SSTable expiry */
    uint64_t bytes_read;            /* input file bytes of completed compactions */
    uint64_t bytes_written;         /* output file bytes */
    uint64_t sstables_expired;      /* SSTables dropped whole (fully expired) */
    uint64_t tombstones_purged;     /* tombstones and expired cells dropped */
} wc_compaction_stats;

typedef enum wc_compaction_kind {
    WC_COMPACTION_KIND_MINOR = 0, /* chosen by the strategy */
    WC_COMPACTION_KIND_TOMBSTONE, /* single-SSTable tombstone compaction */
    WC_COMPACTION_KIND_EXPIRED,   /* fully expired SSTables dropped without reading */
    WC_COMPACTION_KIND_MAJOR,     /* wc_engine_compact */
} wc_compaction_kind;

#define WC_COMPACTION_INFO_INPUTS 16

/* One running or pending compaction (wc_engine_compactions). */
typedef struct wc_compaction_info {
    uint32_t table_id;
    bool running;                 /* false: pending, the next task the strategy would run */
    wc_compaction_class strategy;
    wc_compaction_kind kind;
    uint32_t ninputs;
    uint64_t inputs[WC_COMPACTION_INFO_INPUTS]; /* generations (<t>/<gen>.sst) of the first inputs */
    int32_t level;                /* LCS output level, -1 otherwise */
    int64_t window_start;         /* TWCS window (seconds), INT64_MIN otherwise */
    uint64_t bytes_done;          /* uncompressed input bytes merged so far (0 if pending) */
    uint64_t bytes_total;         /* uncompressed bytes of the inputs */
} wc_compaction_info;

/* API */

void wc_engine_options_default(wc_engine_options *o);
void wc_table_def_default(wc_table_def *d);
/*
 * *dst = *src with a copy of src's schema bytes that dst owns.
 * WC_NO_MEMORY (dst left without schema).
 */
wc_status wc_table_def_copy(wc_table_def *dst, const wc_table_def *src);
/* Free the schema bytes a def owns (from wc_table_def_copy or wc_engine_get_table). */
void wc_table_def_clear(wc_table_def *d);

/* Open (create if empty) and recover.  Caller closes. */
wc_status wc_engine_open(const wc_engine_options *opts, wc_engine **out);
/* Wait for running flushes, stop threads, sync the commit log, free. */
void wc_engine_close(wc_engine *e);

/* WC_EXISTS if the id is taken (with a different definition); WC_INVALID_ARGUMENT if
 * def->compaction does not parse (detail names the option). */
wc_status wc_engine_create_table(wc_engine *e, const wc_table_def *def);
/*
 * Update gc_grace/default_ttl/schema/compaction of an existing table; takes
 * effect at once (the next strategy decision uses the new options; a running
 * compaction finishes).  WC_NOT_FOUND, WC_INVALID_ARGUMENT (bad compaction
 * map: nothing changed), WC_IO_ERROR writing the catalog.
 */
wc_status wc_engine_alter_table(wc_engine *e, const wc_table_def *def);
/* Remove the table and all its data.  WC_NOT_FOUND if absent. */
wc_status wc_engine_drop_table(wc_engine *e, uint32_t table_id);
/* Snapshots (snapshot.c): <dir>/snapshots/<tag>/ holds hard links to the
 * catalog and to each table's manifest and live SSTables, as of a flush. */
#define WC_SNAPSHOT_DIR "snapshots"
#define WC_SNAPSHOT_TAG_MAX 64 /* including the NUL */

/* One snapshot on disk. */
typedef struct wc_snapshot_info {
    char tag[WC_SNAPSHOT_TAG_MAX];
    uint32_t tables;  /* table directories in it */
    uint32_t files;   /* files in it (catalog, manifests, SSTables) */
    uint64_t bytes;   /* their sizes (shared with the live files while both exist) */
} wc_snapshot_info;

/*
 * Flush every table and hard-link the catalog and each table's manifest and
 * live SSTables into <dir>/snapshots/<tag>/ (t<id>/ per table), holding the
 * DDL lock and each table's manifest lock while its files are linked, so a
 * compaction cannot swap the files under it.  The snapshot opens as an
 * engine directory of its own (restore: docs/operations.md).  tag: 1..63
 * characters of [A-Za-z0-9_.-], not starting with a dot.  *out (may be
 * NULL) describes the result.  WC_INVALID_ARGUMENT (bad tag), WC_EXISTS
 * (tag taken), WC_IO_ERROR (a link failed: what was linked is removed),
 * the statuses of wc_engine_flush, WC_NO_MEMORY.
 */
wc_status wc_engine_snapshot(wc_engine *e, const char *tag, wc_snapshot_info *out);
/*
 * Remove snapshot tag (tag NULL or "": every snapshot); *removed (may be
 * NULL) counts the snapshots removed.  A tag that does not exist removes
 * nothing (WC_OK, *removed 0).  WC_INVALID_ARGUMENT (bad tag), WC_IO_ERROR.
 */
wc_status wc_engine_clear_snapshot(wc_engine *e, const char *tag, uint32_t *removed);
/* The snapshots on disk, sorted by tag; caller frees *out with wc_free.  WC_IO_ERROR, WC_NO_MEMORY. */
wc_status wc_engine_list_snapshots(wc_engine *e, wc_snapshot_info **out, size_t *n);

/* The caller releases *out with wc_table_def_clear.  WC_NOT_FOUND, WC_NO_MEMORY. */
wc_status wc_engine_get_table(wc_engine *e, uint32_t table_id, wc_table_def *out);
/* Ids of all tables; caller frees *ids with wc_free. */
wc_status wc_engine_list_tables(wc_engine *e, uint32_t **ids, size_t *n);

/*
 * Apply mutations atomically as one commit-log record, then into memtables.
 * Returns once the record is as durable as the sync mode promises.
 * WC_NOT_FOUND for an unknown table, WC_INVALID_ARGUMENT for a malformed
 * mutation (nothing applied), WC_IO_ERROR/WC_NO_SPACE if the log failed.
 * While a background flush keeps failing, every write fails with that
 * flush's status (detail "background flush of table <name> failed: ...").
 * When memtables hold more than memtable_total_bytes, the write first waits
 * up to write_stall_ms for flushes, then fails with WC_OVERLOADED (nothing
 * applied).
 */
wc_status wc_engine_apply(wc_engine *e, wc_mutation *const *muts, size_t n);
/* Same, for an already encoded batch record (mutation.h). */
wc_status wc_engine_apply_batch(wc_engine *e, const uint8_t *rec, size_t len);

/*
 * wc_engine_apply_batch that, in batch sync mode, does not wait for the
 * commit log's fsync: the record is appended and applied (readers may see
 * it at once, as with wc_engine_apply_batch), and *need receives its
 * commit-log position, which the caller makes durable before it
 * acknowledges the write: wc_engine_sync_to, or an fsync of the segment
 * file need->segment (wc_commitlog_segment_path) from any process, which
 * covers every record that segment held when the fsync started.
 * need->segment is 0 when nothing is left to wait for (periodic mode, or a
 * record with counter deltas, which is synced here).  Statuses of
 * wc_engine_apply_batch.
 */
wc_status wc_engine_apply_batch_unsynced(wc_engine *e, const uint8_t *rec, size_t len,
                                         wc_clpos *need);

/* Wait until the record at pos is durable as the commit log's mode promises (batch: fsynced). */
wc_status wc_engine_sync_to(wc_engine *e, wc_clpos pos);

/*
 * In batch sync mode the commit log's directory (where the segment files
 * that wc_engine_apply_batch_unsynced names live), else "" (periodic mode
 * waits for no fsync).  WC_INVALID_ARGUMENT if it does not fit n bytes.
 */
wc_status wc_engine_batch_commitlog_dir(wc_engine *e, char *out, size_t n);
/*
 * Make every write acknowledged so far durable, whatever the sync mode (in
 * periodic mode the commit log is fsynced at once).  WC_IO_ERROR/WC_NO_SPACE
 * if the log failed.
 */
wc_status wc_engine_sync(wc_engine *e);
/*
 * wc_engine_apply_batch for a record with counter deltas (counter.h), as a
 * leader replica applies it: the deltas become this engine's shards, and
 * the record that was logged and applied (shards only) is appended to
 * resolved (NULL: not wanted), so that it can be sent to the other
 * replicas, where it merges idempotently.  A record without deltas is
 * applied and appended as it is.  Statuses of wc_engine_apply_batch;
 * WC_NO_MEMORY when the copy fails (the batch was applied).
 */
wc_status wc_engine_apply_counter(wc_engine *e, const uint8_t *rec, size_t len, wc_buf *resolved);

/*
 * Staged transactions: the writes of one statement (or transaction), taken
 * in chunks while it runs and made visible all at once when it ends, so
 * that the engine's work on them overlaps the caller's.  Each chunk is
 * validated, written to the commit log as a staged record (not fsynced)
 * and put into memtables of the transaction's own, which no read sees.
 * wc_engine_publish writes a publish marker and adds those memtables to
 * their tables' sources in one step per table: a reader sees all of the
 * transaction's writes of a table or none.  Replay after a crash applies a
 * staged transaction at its marker, as one record, and drops one without
 * (file layout in docs/file-formats.md, "Staged transactions").  Staged
 * writes take no part in memtable_total_bytes until published; a
 * transaction is bounded by WC_STAGE_MAX_BYTES of mutations (the batch
 * headers of its chunks not counted).  A wc_staged is used by
 * one thread at a time; different ones may be staged concurrently with
 * each other and with every other engine call.
 */
#define WC_STAGE_MAX_BYTES ((size_t)64 << 20)
typedef struct wc_staged wc_staged;
/* A new, empty staged transaction (*out).  WC_NO_MEMORY. */
wc_status wc_engine_stage_begin(wc_engine *e, wc_staged **out);
/*
 * Add the batch record rec (mutation.h) to s.  Nothing of it is visible to
 * reads until wc_engine_publish.  WC_INVALID_ARGUMENT for a malformed
 * batch, one with counter deltas (counters are applied through
 * wc_engine_apply_batch alone) or one that takes s past
 * WC_STAGE_MAX_BYTES; WC_NOT_FOUND for an unknown table; the statuses of
 * wc_engine_apply_batch's admission and commit-log append.  After any
 * failure s only accepts wc_engine_stage_abort (publish fails).
 */
wc_status wc_engine_stage(wc_engine *e, wc_staged *s, const uint8_t *rec, size_t len);
/*
 * Make every write staged in s visible at once, as durable as
 * wc_engine_apply_batch makes a record, and free s (in every case).  The
 * writes of tables dropped meanwhile are discarded.  WC_INVALID_ARGUMENT
 * (naming the failure) when a chunk of s failed; WC_NO_MEMORY,
 * WC_IO_ERROR, WC_NO_SPACE (nothing published).
 */
wc_status wc_engine_publish(wc_engine *e, wc_staged *s);
/* Drop s and everything staged in it; frees s.  NULL is a no-op. */
void wc_engine_stage_abort(wc_engine *e, wc_staged *s);

/* Read one page.  Caller frees *out with wc_page_free. */
wc_status wc_engine_read(wc_engine *e, const wc_read_request *req, wc_page **out);
/*
 * The read of wc_engine_read over the SSTables files[0..n) alone (oldest
 * first, as wc_engine_table_files lists them), without an engine: for
 * direct reads by processes that opened a table's files themselves.
 * table_name is for messages.  WC_CORRUPTION for a damaged block (nothing
 * else happens to the file: the engine decides what a damaged table does).
 */
struct wc_sstable;
wc_status wc_engine_read_files(struct wc_sstable *const *files, size_t n, const char *table_name,
                               const wc_read_request *req, wc_page **out);
/*
 * wc_engine_read (same request, paging state, limits, TTL clock, guardrail)
 * whose sources also include overlay[0..overlay_len), a batch record
 * (mutation.h) of req->table_id's mutations, as the NEWEST source: its cells
 * reconcile with the stored ones by timestamp, its tombstones shadow older
 * stored data and stored tombstones shadow its older cells.  With
 * overlay_only the overlay is the only source (the table must still exist).
 * overlay may be NULL when overlay_len is 0.  Caller frees *out.  Statuses
 * of wc_engine_read, and WC_INVALID_ARGUMENT for a malformed overlay or a
 * mutation of another table in it.
 */
wc_status wc_engine_read_overlay(wc_engine *e, const wc_read_request *req, const uint8_t *overlay,
                                 size_t overlay_len, bool overlay_only, wc_page **out);
void wc_page_free(wc_page *p);

/* Flush a table's memtable (table_id 0: all tables); wait for it if wait. */
wc_status wc_engine_flush(wc_engine *e, uint32_t table_id, bool wait);
/*
 * Major compaction: merge every SSTable of the table, purging what gc_grace
 * and the purge rule allow; one output (STCS, TWCS) or, for LCS, outputs
 * split at sstable_size_in_mb in the lowest level that holds them all
 * (compaction_strategy.h).  Waits for a running compaction of the table
 * first; runs in the calling thread, unthrottled, also when the table's
 * compaction is disabled.  WC_NOT_FOUND, WC_IO_ERROR, WC_NO_SPACE,
 * WC_CORRUPTION (a bad input block: nothing is replaced).
 */
wc_status wc_engine_compact(wc_engine *e, uint32_t table_id);

wc_status wc_engine_table_stats(wc_engine *e, uint32_t table_id, wc_table_stats *out);
/* Memory, commit-log space and background failures of the engine.  Thread-safe. */
void wc_engine_get_stats(wc_engine *e, wc_engine_stats *out);

/* What wc_engine_scrub did. */
typedef struct wc_scrub_result {
    bool was_offline;              /* the table was offline before the scrub */
    uint32_t sstables_checked;     /* SSTables read (live and damaged ones) */
    uint32_t sstables_damaged;     /* of them, failing verification or unopenable */
    uint32_t sstables_rewritten;   /* damaged files whose readable entries went to a new SSTable */
    uint64_t rows_kept;            /* rows in the table's SSTables after the scrub (summed per file) */
    uint64_t rows_salvaged;        /* of them, rows copied out of damaged files */
    uint64_t blocks_lost;          /* unreadable data blocks skipped */
    uint64_t bytes_lost;           /* bytes of those blocks and unreadable file tails */
    char quarantined[1024];        /* damaged files moved aside, ", "-separated (may be cut) */
} wc_scrub_result;

/*
 * Rebuild a table from what is readable (like Cassandra's sstablescrub):
 * flush its memtable, verify every SSTable, copy the entries that still
 * verify out of each damaged one (live or offline) into a new SSTable
 * (same level), move the damaged file to <table dir>/quarantine/<gen>.sst
 * (never deleted by the engine), and bring an offline table back online.
 * Waits for a running compaction of the table; runs in the calling thread.
 * WC_NOT_FOUND, WC_IO_ERROR / WC_NO_SPACE (nothing replaced), WC_NO_MEMORY.
 */
wc_status wc_engine_scrub(wc_engine *e, uint32_t table_id, wc_scrub_result *out);

/* A token range (start, end] (start INT64_MIN includes INT64_MIN), start < end. */
typedef struct wc_token_range {
    int64_t start, end;
} wc_token_range;

/* What wc_engine_cleanup did. */
typedef struct wc_cleanup_result {
    uint32_t sstables_checked;   /* SSTables of the table when it started */
    uint32_t sstables_rewritten; /* of them, rewritten without what is not kept (or removed) */
    uint64_t partitions_dropped; /* partitions whose token is outside every kept range */
    uint64_t rows_dropped;       /* their row and static entries */
    uint64_t bytes_before;       /* file bytes of the rewritten SSTables */
    uint64_t bytes_after;        /* file bytes of what replaced them */
} wc_cleanup_result;

/*
 * Cleanup (Cassandra's nodetool cleanup): drop every partition of table_id
 * whose token is in none of keep[0..nkeep) (a node's ranges after the ring
 * changed).  Flushes the table's memtable first, then rewrites each SSTable
 * that holds a token outside the kept ranges into one without those
 * partitions (same level; removed when nothing is left), one at a time,
 * each swapped in under the manifest lock like a compaction's outputs.
 * Writes and reads go on meanwhile; compactions of the table wait (the
 * cleanup holds its claim).  An SSTable whose token bounds lie inside one
 * kept range is not read.  nkeep 0 drops everything flushed.  *out (may be
 * NULL) says what was done, also on failure.  WC_NOT_FOUND,
 * WC_INVALID_ARGUMENT (a range with start >= end), WC_CORRUPTION (the
 * table is offline, or a damaged block: that file is kept and the table
 * goes offline as in a compaction), WC_IO_ERROR, WC_NO_SPACE,
 * WC_UNAVAILABLE (the engine closes), WC_NO_MEMORY.
 */
wc_status wc_engine_cleanup(wc_engine *e, uint32_t table_id, const wc_token_range *keep,
                            size_t nkeep, wc_cleanup_result *out);

/* Compaction state of one table (levels/windows, droppable tombstones, read
 * amplification, counters).  WC_NOT_FOUND.  Thread-safe. */
wc_status wc_engine_compaction_stats(wc_engine *e, uint32_t table_id, wc_compaction_stats *out);

/*
 * Running compactions (with progress) and, per table with work to do and
 * nothing running, the next pending one.  table_id 0 = every table.  Caller
 * frees *out with wc_free (NULL when *n is 0 is allowed).  WC_NO_MEMORY,
 * WC_NOT_FOUND (an unknown non-zero table_id).
 */
wc_status wc_engine_compactions(wc_engine *e, uint32_t table_id, wc_compaction_info **out,
                                size_t *n);

/*
 * Change the number of compaction threads (<= WC_MAX_COMPACTION_THREADS;
 * extra threads stop after their current task) and the throughput cap (MiB/s,
 * 0 = unthrottled) at runtime.  New threads start with every signal blocked.
 * WC_INVALID_ARGUMENT for too many threads, WC_NO_MEMORY if a thread could
 * not start.
 */
wc_status wc_engine_set_compaction(wc_engine *e, uint32_t threads, uint32_t throughput_mb_per_sec);

/*
 * Wake the compaction threads and wait until the table (0: every table) has
 * no running compaction and its strategy picks nothing more, or timeout_ms
 * passes (WC_TIMEOUT; also when there are no compaction threads but work is
 * pending).  For tests, benchmarks and operators.
 */
wc_status wc_engine_compaction_wait(wc_engine *e, uint32_t table_id, uint32_t timeout_ms);

#endif /* WC_ENGINE_H */
