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
 * an SSTable by a background thread while writes continue.  Open replays the
 * commit log from each table's flushed position, removes files a crash left
 * behind (temporaries, SSTables not in a manifest) and fails with
 * WC_CORRUPTION rather than serving data it cannot verify.
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
#include "fs.h"
#include "mutation.h"
#include "row.h"
#include "status.h"

typedef struct wc_engine wc_engine;

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
} wc_engine_options;

typedef struct wc_table_def {
    uint32_t id;              /* non-zero, unique per engine */
    char name[128];           /* informational ("keyspace.table") */
    uint32_t gc_grace_seconds; /* default 864000 */
    uint32_t default_ttl;     /* informational; the writer applies it */
    char options[8192];       /* opaque to the engine (compaction map etc.), kept in the catalog */
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
} wc_read_request;

typedef struct wc_result_row {
    const uint8_t *pk;
    size_t pk_len;
    int64_t token;
    bool is_static;
    const uint8_t *ck;        /* NULL for a static row */
    size_t ck_len;
    int64_t live_ts;          /* row liveness timestamp, WC_NO_TIMESTAMP if none */
    uint32_t ncells;
    const wc_cell *cells;     /* live cells only, ascending column */
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
} wc_table_stats;

/* API */

void wc_engine_options_default(wc_engine_options *o);
void wc_table_def_default(wc_table_def *d);

/* Open (create if empty) and recover.  Caller closes. */
wc_status wc_engine_open(const wc_engine_options *opts, wc_engine **out);
/* Wait for running flushes, stop threads, sync the commit log, free. */
void wc_engine_close(wc_engine *e);

/* WC_EXISTS if the id is taken (with a different definition). */
wc_status wc_engine_create_table(wc_engine *e, const wc_table_def *def);
/* Update gc_grace/default_ttl/options of an existing table. */
wc_status wc_engine_alter_table(wc_engine *e, const wc_table_def *def);
/* Remove the table and all its data.  WC_NOT_FOUND if absent. */
wc_status wc_engine_drop_table(wc_engine *e, uint32_t table_id);
wc_status wc_engine_get_table(wc_engine *e, uint32_t table_id, wc_table_def *out);
/* Ids of all tables; caller frees *ids with wc_free. */
wc_status wc_engine_list_tables(wc_engine *e, uint32_t **ids, size_t *n);

/*
 * Apply mutations atomically as one commit-log record, then into memtables.
 * Returns once the record is as durable as the sync mode promises.
 * WC_NOT_FOUND for an unknown table, WC_INVALID_ARGUMENT for a malformed
 * mutation (nothing applied), WC_IO_ERROR/WC_NO_SPACE if the log failed.
 */
wc_status wc_engine_apply(wc_engine *e, wc_mutation *const *muts, size_t n);
/* Same, for an already encoded batch record (mutation.h). */
wc_status wc_engine_apply_batch(wc_engine *e, const uint8_t *rec, size_t len);

/* Read one page.  Caller frees *out with wc_page_free. */
wc_status wc_engine_read(wc_engine *e, const wc_read_request *req, wc_page **out);
void wc_page_free(wc_page *p);

/* Flush a table's memtable (table_id 0: all tables); wait for it if wait. */
wc_status wc_engine_flush(wc_engine *e, uint32_t table_id, bool wait);
/* Merge all SSTables of a table into one (major compaction), purging what gc_grace allows. */
wc_status wc_engine_compact(wc_engine *e, uint32_t table_id);

wc_status wc_engine_table_stats(wc_engine *e, uint32_t table_id, wc_table_stats *out);

#endif /* WC_ENGINE_H */
