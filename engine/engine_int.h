/*
 * engine_int.h - internals shared by engine.c (tables, catalog), manifest.c,
 * write.c, flush.c, open.c (open, replay, close), read.c (the read path),
 * scrub.c and compaction*.c.  Not part of the public API.
 *
 * Threads (all started by wc__thread_start, thread.h: every signal blocked):
 *  - callers: any number, writing (serialized by write_mu), reading, doing DDL;
 *  - the flush thread (wc__flush_main): flushes immutable memtables, oldest
 *    first, and retries a failed flush every second;
 *  - compaction threads (compaction.c, compaction_threads of them);
 *  - the commit log's sync thread (commitlog.c, its own lock only).
 * The flush and compaction threads run at opts.flush_nice and
 * opts.compaction_nice (wc__thread_start_nice), below the callers.
 * Every timed wait uses CLOCK_MONOTONIC (wc__cond_init, wc__deadline_ms).
 *
 * Locks, in the only order in which they may nest (a thread holding one may
 * take only locks further down the list):
 *  0. ddl_mu: create/alter/drop, one at a time; the catalog file, table
 *     directories and manifests of new tables are written under it alone.
 *     The table array and definitions change only under it (and, to publish
 *     the change, briefly under write_mu and tables_mu).
 *  1. write_mu: commit-log appends with the memtable puts and switches they
 *     cause; the memory counters mem_active and each table's active_acct.
 *     No file I/O under it except the commit-log append itself (and the
 *     synchronous flushes of replay, while open runs single-threaded).
 *  2. tables_mu (rwlock): the table array, each table's def and copts.  No
 *     file I/O under it: a flush pins its table (pins, under flush_mu) and
 *     runs without tables_mu; drop_table waits for the pins to go.
 *  3. a table's manifest_mu: manifest writes and SSTable list swaps (held by
 *     a flush for the whole SSTable write: per table only).
 *  4. a table's mu: its source lists (active, immutable memtables, SSTables),
 *     held only long enough to take references.
 *  5. flush_mu: flush_seq, the pins, stopping, the background failure
 *     (bg_*), the stall counters; flush_cv (work), flush_done_cv (a flush
 *     ended or a pin went).  Nothing is taken while it is held.
 *  6. comp_mu: the compaction threads' state, each table's `compacting`
 *     claim and running job; a leaf.  A compaction runs without tables_mu:
 *     drop_table waits for the table's claim to end before freeing it.
 *  7. throttle_mu (compaction's token bucket), the block cache's shard
 *     locks, each memtable's writer lock and the commit log's own mutex:
 *     leaves.
 * The wc__sst.compacting marks are under the table's mu.
 *
 * Memory bound: mem_active (sum of active_acct, under write_mu) and mem_imm
 * (switched memtables, atomic) are the memtable bytes of every table.  Past
 * half of memtable_total_bytes the largest active memtable is switched; past
 * all of it writers wait on flush_done_cv (write_stall_ms) and then fail with
 * WC_OVERLOADED.  Commit-log bound: when the live segments pass
 * commitlog_total_bytes (checked when a new segment starts), the tables whose
 * active memtable holds records of the oldest needed segment are switched.
 *
 * Damaged tables (scrub.c): a table's damaged list and offline_why are under
 * its mu; `offline` is atomic so that the compaction picker and readers can
 * test it without the lock.  The write halt of disk_failure_policy stop
 * (halt_*) is under flush_mu.  wc_engine_scrub holds the table's compaction
 * claim and its manifest_mu for its whole run.
 */
#ifndef WC_ENGINE_INT_H
#define WC_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "commitlog.h"
#include "compaction_strategy.h"
#include "engine.h"
#include "memtable.h"
#include "sstable.h"

/* a background flush that keeps failing is logged once, then once per interval */
#define WC__BG_LOG_INTERVAL_NS (60 * 1000000000LL)

typedef struct wc__imm {
    wc_memtable *mem;
    wc_clpos start; /* first log position it may hold */
    wc_clpos end;   /* every record before end is in it or older tables */
    wc_clpos keep;  /* the log is needed from here until it is flushed: start, or for a
                     * published staged transaction (stage.c) its first chunk */
    size_t bytes;   /* counted in e->mem_imm until it is flushed or dropped */
    uint64_t serial; /* the memtable's serial (direct reads: wc__publish_table) */
} wc__imm;

typedef struct wc__sst {
    wc_sstable *t;
    uint64_t gen;
    uint32_t level;    /* LCS level, persisted in the manifest */
    int64_t created;   /* engine clock when written (seconds), persisted */
    int64_t tombstone_retry_after; /* not before this (seconds) for a tombstone compaction */
    bool compacting;   /* input of the running compaction (under the table's mu) */
} wc__sst;

/* Per-table counters shared with readers (reference counted: a read may outlive a drop). */
typedef struct wc__tcounters {
    _Atomic int refs;
    _Atomic uint64_t read_hist[WC_READ_HIST_BUCKETS];
    _Atomic uint64_t compactions, bytes_read, bytes_written, expired, purged;
} wc__tcounters;

/* A running compaction (listed by wc_engine_compactions). */
typedef struct wc__job {
    wc_compaction_info info;   /* bytes_done updated through done below */
    _Atomic uint64_t done;
} wc__job;

typedef struct wc__table {
    wc_table_def def;
    char dir[4096];
    pthread_mutex_t mu;
    wc_memtable *active;
    wc_clpos active_start; /* log position the active memtable starts at */
    uint64_t active_serial; /* serial of the active memtable (e->next_serial, taken anew at
                             * its first write; under mu) */
    /* a change of the whole table (a publish of staged writes) put data of any partition
     * in memtables up to this serial (direct reads; under mu) */
    uint64_t table_wide;
    bool active_used;      /* active memtable received data */
    wc__imm *imm;          /* oldest first */
    size_t nimm, capimm;
    wc__sst *ssts;         /* oldest first */
    size_t nssts, capssts;
    wc_clpos flushed;      /* log records before this are in SSTables */
    /* a flush moved records from unpublished_start on into an SSTable that no
     * manifest on disk lists yet: the commit log keeps them until one does */
    bool unpublished;
    wc_clpos unpublished_start;
    uint64_t next_gen;
    pthread_mutex_t manifest_mu; /* serializes manifest writes and SSTable list swaps */
    bool dropped;
    wc_compaction_options copts; /* parsed def.compaction (under tables_mu) */
    wc_lcs_state lcs;            /* round-robin state, used by the claim holder */
    bool compacting;             /* claim: a compaction of this table runs (comp_mu) */
    bool comp_cancel;            /* dropped: abandon the running compaction (comp_mu) */
    wc__job *job;                /* the running job (comp_mu), NULL if none */
    wc__tcounters *counters;
    uint32_t pins;               /* flushes running without tables_mu (flush_mu) */
    size_t active_acct;          /* bytes of active counted in e->mem_active (write_mu) */
    /* damaged SSTables (disk_failure_policy best_effort, scrub.c): kept in the manifest,
     * never read; their table is offline (reads refused) until wc_engine_scrub */
    struct wc__damaged {
        uint64_t gen;
        uint32_t level;
        int64_t created;
    } *damaged;                  /* under mu */
    size_t ndamaged, capdamaged;
    _Atomic bool offline;        /* set with offline_why under mu */
    char offline_why[512];
} wc__table;

struct wc_engine {
    wc_engine_options opts;
    char dir[4096];
    wc_fs *fs;
    wc_commitlog *log;
    wc_block_cache *cache;
    _Atomic uint64_t next_file_id;
    /* serial of the next memtable: serials only grow, also across engines opened with a
     * larger opts.memtable_serial_base (direct reads, wc__publish_table) */
    _Atomic uint64_t next_serial;

    pthread_mutex_t ddl_mu; /* DDL (lock order in the header comment) */
    pthread_rwlock_t tables_mu;
    /* secondary indexes (index.h): the registry under tables_mu, syncs serialized by index_mu */
    struct wc__index *indexes;
    size_t nindexes;
    pthread_mutex_t index_mu;
    wc_buf index_rec;            /* a write's record with its index entries (write_mu) */
    wc__table **tables;
    size_t ntables, captables;

    pthread_mutex_t counter_mu; /* counter deltas (counter_apply.c); before every other lock */
    uint64_t counter_writer;    /* this engine's counter writer id, 0 until loaded */

    pthread_mutex_t write_mu;
    wc_buf rec; /* batch record scratch, under write_mu */
    wc_buf key; /* flat key scratch, under write_mu */
    /*
     * Atomic visibility of a record: every memtable put of one record has the
     * sequence write_seq (bumped under write_mu per record); visible_seq is
     * published (release) once the whole record is in the memtables, and a
     * read opens its memtable iterators at the visible_seq it loaded.
     */
    uint64_t write_seq;
    _Atomic uint64_t visible_seq;

    /* staged transactions not yet published (stage.c): the commit log keeps
     * their chunks; under staged_mu, a leaf taken under tables_mu or alone */
    pthread_mutex_t staged_mu;
    struct wc_staged *staged;
    _Atomic uint64_t staged_bytes; /* mutation bytes of them all (bounded by memtable_total_bytes) */

    pthread_mutex_t flush_mu;
    pthread_cond_t flush_cv;  /* work available / shutdown */
    pthread_cond_t flush_done_cv;
    pthread_t flush_thread;
    bool flush_started;
    bool stopping;
    uint64_t flushes_done;
    uint64_t flush_seq;  /* bumped (under flush_mu) by every memtable switch */
    wc_status bg_status; /* a failing background flush: writes fail with it */
    uint32_t bg_table;   /* the table whose flush fails */
    char bg_detail[512]; /* "background flush of table <name> failed: ..." */
    uint64_t bg_failures; /* failed attempts of that flush in a row */
    int64_t bg_logged_ns; /* monotonic time its failure was last logged */
    /* disk_failure_policy stop: a damaged SSTable found at run time stops every
     * write until that table is scrubbed (or dropped, or the engine reopened) */
    wc_status halt_status;
    uint32_t halt_table;
    char halt_detail[768];
    wc_status comp_status;   /* last compaction failure (reported only) */
    uint32_t comp_err_table;
    char comp_detail[512];
    uint64_t writes_stalled, writes_refused;

    /* memory and commit-log bounds */
    _Atomic uint64_t mem_active; /* written under write_mu */
    _Atomic uint64_t mem_imm;
    uint64_t log_seg_checked;    /* segment of the last commit-log space check (write_mu) */

    /* compaction (compaction.c, compaction_job.c, compaction_throttle.c) */
    pthread_mutex_t comp_mu;
    pthread_cond_t comp_cv;      /* work may be available / stop / thread count changed */
    pthread_cond_t comp_done_cv; /* a table's claim ended */
    pthread_t comp_threads[WC_MAX_COMPACTION_THREADS];
    struct wc__comp_arg {
        wc_engine *e;
        uint32_t idx;
    } comp_args[WC_MAX_COMPACTION_THREADS];
    bool comp_started[WC_MAX_COMPACTION_THREADS];
    bool comp_exited[WC_MAX_COMPACTION_THREADS];
    uint32_t comp_wanted;        /* threads that should run */
    bool comp_stopping;
    size_t comp_next;            /* round-robin start over tables */
    _Atomic uint32_t throughput_mb;
    pthread_mutex_t throttle_mu;
    double throttle_tokens;      /* bytes that may be written without waiting */
    int64_t throttle_last_ns;
};

/* in compaction.c */
/* Start the compaction threads (REQUIRES: called from wc_engine_open, after tables loaded). */
wc_status wc__compaction_start(wc_engine *e);
/* Stop and join them (wc_engine_close; running compactions are abandoned cleanly). */
void wc__compaction_stop(wc_engine *e);
/* Wake the compaction threads (after a flush, an alter). */
void wc__compaction_notify(wc_engine *e);
/* Wait for t's running compaction, then make t unclaimable (drop). REQUIRES: t out of the array. */
void wc__compaction_forget_table(wc_engine *e, wc__table *t);
void wc__tcounters_unref(wc__tcounters *c);
/* Count one single-partition read that touched `touched` SSTables. Lock-free. */
void wc__read_hist_add(wc__tcounters *c, uint64_t touched);

/* in scrub.c */
/*
 * Record SSTable gen of t as damaged (why: the open error) and take t
 * offline.  REQUIRES: t not yet shared (open) or t->mu held.
 */
wc_status wc__table_mark_damaged(wc_engine *e, wc__table *t, uint64_t gen, uint32_t level,
                                 int64_t created, const char *why);
/* t's manifest is unreadable: every *.sst in its directory becomes a damaged entry. */
wc_status wc__table_adopt_files(wc_engine *e, wc__table *t, const char *why);
/* WC_CORRUPTION naming the table and why it is offline.  REQUIRES: t->mu held. */
wc_status wc__offline_error(const wc__table *t);
/*
 * A read or a compaction of table table_id found a damaged SSTable at run
 * time; why is the reader's detail (it names the file).  The table goes
 * offline as at open (reads and compactions refused until a scrub, which
 * finds the file by verifying it); under disk_failure_policy stop every
 * write of the engine fails too until that scrub.  Returns the offline
 * error (WC_CORRUPTION) for the caller to report.  REQUIRES: no engine
 * lock held.
 */
wc_status wc__table_damaged(wc_engine *e, uint32_t table_id, const char *why);
/* Any offline table's reason into out (n bytes); false if every table is online. */
bool wc__offline_any(wc_engine *e, char *out, size_t n);
/* Remove t's damaged files and its quarantine directory (drop). */
void wc__table_remove_damaged(wc_engine *e, wc__table *t);
/* Remove the quarantine directory of the table directory tdir (a dropped table). */
void wc__quarantine_remove(wc_engine *e, const char *tdir);

/* in compaction.c */
/* Wait until table_id can be claimed and claim it (*out); WC_NOT_FOUND, WC_UNAVAILABLE. */
wc_status wc__claim_wait(wc_engine *e, uint32_t table_id, wc__table **out);
/* End a claim taken by wc__claim_wait. */
void wc__release_claim(wc_engine *e, wc__table *t);
/* Should the running compaction of t stop (close, or t dropped)?  Takes comp_mu. */
bool wc__compaction_cancelled(wc_engine *e, wc__table *t);

/* in compaction_job.c */
/*
 * Snapshot of t's SSTables (referenced) with their metadata.  REQUIRES:
 * t->mu held.  Caller releases with wc__snap_free.
 */
typedef struct wc__snap {
    wc__sst *ssts;
    wc_sst_meta *metas;
    size_t n;
    wc_pick_env env;
} wc__snap;
/* REQUIRES: t->mu held.  WC_NO_MEMORY (s left empty). */
wc_status wc__snap_take(wc__table *t, int64_t now, uint32_t gc_grace, wc__snap *s);
void wc__snap_free(wc__snap *s);
/* Describe task (planned over ssts/metas of a snapshot) of table_id into *ci. */
void wc__fill_info(wc_compaction_info *ci, uint32_t table_id, wc_compaction_class cls,
                   const wc_compaction_task *task, const wc__sst *ssts,
                   const wc_sst_meta *metas);
/*
 * Pick and run one compaction of t (major: every SSTable).  REQUIRES: the
 * claim on t is held.  *did tells whether there was anything to do.
 * WC_UNAVAILABLE when cancelled; I/O and memory errors of the merge or the
 * manifest write (outputs written so far are removed).
 */
wc_status wc__compaction_run(wc_engine *e, wc__table *t, bool major, bool *did);
/*
 * Replace the inputs by the outputs in the table's list and manifest; the
 * inputs become obsolete once the manifest is durable.  The outputs get
 * level and, when retry_after is non-zero, wait until then before a
 * tombstone compaction may pick them (one that purged nothing would only
 * find the same tombstones again).  REQUIRES: the claim on t is held, no
 * lock of t.  Takes the output references (outs->n becomes 0).
 * WC_NO_MEMORY (nothing changed), the manifest write's failure.
 */
/*
 * Open a writer for a new SSTable of t with the engine's block and bloom
 * settings: its generation into *gen (taken under t->mu), its path into
 * path[0..cap).  REQUIRES: t->mu not held.  Statuses of
 * wc_sstable_writer_open.
 */
wc_status wc__output_open(wc_engine *e, wc__table *t, uint64_t *gen, char *path, size_t cap,
                          wc_sstable_writer **w);
typedef struct wc__outputs {
    wc__sst *v;
    size_t n, cap;
} wc__outputs;
wc_status wc__swap(wc_engine *e, wc__table *t, wc__sst *inputs, size_t nin, wc__outputs *outs,
                   uint32_t level, int64_t now, int64_t retry_after);

/* in compaction_throttle.c */
/* Take `bytes` from the token bucket, sleeping while it is in debt (in slices, so close is quick). */
void wc__throttle(wc_engine *e, uint64_t bytes);

/* in engine.c */
wc__table *wc__engine_find_table(wc_engine *e, uint32_t id); /* REQUIRES: tables_mu or ddl_mu held */
/*
 * Read the catalog file (if any) and add its tables to e->tables, not yet
 * loaded.  REQUIRES: open (single-threaded).  WC_CORRUPTION, WC_IO_ERROR,
 * WC_NO_MEMORY.
 */
wc_status wc__catalog_read(wc_engine *e);
/* Free t with its memtables and SSTable references (NULL: nothing). REQUIRES: t out of the array. */
void wc__table_free(wc__table *t);

/* in manifest.c */
/* Largest catalog or manifest file read back. */
#define WC_META_MAX_BYTES (64u << 20)
/* Append an SSTable to t's list. REQUIRES: t->mu held (or t not shared). */
wc_status wc__ssts_push(wc__table *t, wc_sstable *s, uint64_t gen, uint32_t level,
                        int64_t created);
/* Persist t's SSTable list and flushed position. REQUIRES: t->manifest_mu held. */
wc_status wc__manifest_write(wc_engine *e, wc__table *t);
/* The path of SSTable gen of t into out (n bytes). */
void wc__sst_path(const wc__table *t, uint64_t gen, char *out, size_t n);
/*
 * Load t's manifest, open its SSTables, remove files a crash left behind.
 * REQUIRES: open (single-threaded).  WC_CORRUPTION (unless the disk failure
 * policy takes the table offline instead), WC_IO_ERROR, WC_NO_MEMORY.
 */
wc_status wc__table_load(wc_engine *e, wc__table *t);
/*
 * Raise t->next_gen above every <gen>.sst file in t's directory: the files
 * of a dropped table with the same id that reads still hold, deleted by
 * path when the last one lets go, must never share a name with t's.
 * REQUIRES: ddl_mu held, t not yet shared.  WC_IO_ERROR, WC_NO_MEMORY.
 */
wc_status wc__gen_after_files(wc_engine *e, wc__table *t);
/* Names of a directory's entries, collected by wc__collect_name; freed by wc__free_names. */
typedef struct wc__cleanup_ctx {
    wc_engine *e;
    wc__table *t;
    char **names;
    size_t n, cap;
    bool oom;
} wc__cleanup_ctx;
/* fs->list callback: append a copy of name to the wc__cleanup_ctx arg (sets oom and stops on failure). */
int wc__collect_name(void *arg, const char *name);
void wc__free_names(wc__cleanup_ctx *c);

/* in read.c: a page built row by row (index.c), freed by wc_page_free */
wc_page *wc__page_new(void);
/* Append a copy of r with only the cells of cols (ascending; NULL: all).  WC_NO_MEMORY. */
wc_status wc__page_add_row(wc_page *p, const wc_result_row *r, const uint32_t *cols, size_t ncols);
/* Finish p (row cell pointers, more, a copy of the paging state).  WC_NO_MEMORY. */
wc_status wc__page_done(wc_page *p, const uint8_t *paging_state, size_t len, bool more);

/* in write.c */
/* Switch t's active memtable for a new one and wake the flush thread. REQUIRES: write_mu. */
wc_status wc__switch_memtable(wc_engine *e, wc__table *t);
/* Room for n more immutable memtables in t->imm.  REQUIRES: t->mu.  WC_NO_MEMORY. */
wc_status wc__imm_reserve(wc__table *t, size_t n);
/*
 * Make t's active memtable immutable, holding the records before end, and
 * fresh (taking its reference) the active one from end on; returns the
 * bytes that moved from mem_active, which the caller passes to
 * wc__imm_accounted once t->mu is released.  REQUIRES: write_mu, t->mu,
 * room for one more immutable memtable (wc__imm_reserve).
 */
size_t wc__imm_push_active(wc__table *t, wc_memtable *fresh, wc_clpos end, uint64_t serial);
/* A new memtable serial. */
uint64_t wc__next_serial(wc_engine *e);
/*
 * Tell opts.publish_hook what t's readers outside the engine may read now:
 * its SSTables, the serial below which every memtable is in them, and
 * whether the table may be read at all.  REQUIRES: t->mu held, and called
 * at every change of those (flush, compaction, scrub, staged publish,
 * offline, drop) before t->mu is released.
 */
void wc__publish_table(wc_engine *e, wc__table *t);
/* Count moved active bytes and added immutable bytes, wake the flush thread.  No lock held. */
void wc__imm_accounted(wc_engine *e, size_t moved, size_t added);
/*
 * Put one encoded, validated mutation into m at sequence seq (key: scratch
 * for the flat keys).  WC_NO_MEMORY, WC_CORRUPTION for a malformed entry.
 */
wc_status wc__put_mutation(wc_memtable *m, wc_buf *key, const uint8_t *mut, size_t len,
                           uint64_t seq);
/*
 * Validate a batch before it reaches the log (one walk over every cell);
 * every table must exist.  *deltas (unless NULL): whether some cell is a
 * counter delta.  WC_INVALID_ARGUMENT, WC_NOT_FOUND.  REQUIRES: tables_mu.
 */
wc_status wc__validate_batch(wc_engine *e, const uint8_t *rec, size_t len, bool *deltas);
/* wc__admit_write: may a write start (stalls, background failure)?  Takes flush_mu only. */
wc_status wc__admit_write(wc_engine *e);
/* Log and apply one batch record (wc_engine_apply_batch without counter deltas). */
wc_status wc__apply_record(wc_engine *e, const uint8_t *rec, size_t len);
/* in counter_apply.c: resolve the record's deltas into this engine's shards and apply
 * it, under counter_mu; the applied record is appended to resolved unless NULL. */
wc_status wc__counter_apply(wc_engine *e, const uint8_t *rec, size_t len, wc_buf *resolved);
/*
 * Apply a validated batch record (at log position pos) to the memtables,
 * switching full ones (flushing them synchronously when replay).
 * REQUIRES: write_mu, tables_mu (or open, single-threaded, for replay).
 */
wc_status wc__apply_batch_mem(wc_engine *e, const uint8_t *rec, size_t len, wc_clpos pos,
                              bool replay);
/* Oldest commit-log position some table still needs.  REQUIRES: tables_mu. */
wc_clpos wc__log_needed_locked(wc_engine *e);

/* in open.c */
/* Is rec a well-formed batch (every mutation and entry)?  WC_CORRUPTION if not. */
wc_status wc__replay_check(const uint8_t *rec, size_t len);

/* in stage.c */
/* Oldest commit-log position a staged transaction not yet published needs (or max). */
wc_clpos wc__staged_needed(wc_engine *e, wc_clpos max);
/*
 * Replay of staged transactions: chunks are collected per transaction and
 * applied as one record at its publish marker; a transaction without one
 * is dropped.  wc__stage_replay_record returns *handled false for a
 * record that is not part of a staged transaction (a plain batch).
 */
typedef struct wc__stage_replay wc__stage_replay;
wc_status wc__stage_replay_record(wc_engine *e, wc__stage_replay **state, wc_clpos pos,
                                  const uint8_t *rec, size_t len, bool *handled);
/* End of replay: drop what was never published; how many dropped into *dropped. */
void wc__stage_replay_end(wc__stage_replay **state, uint64_t *dropped);

/* in flush.c */
/* Flush t's oldest immutable memtable to an SSTable and publish it (no-op if none or dropped). */
wc_status wc__flush_one(wc_engine *e, wc__table *t);
/* The flush thread's body (arg: the engine); returns once e->stopping is set. */
void *wc__flush_main(void *arg);
/* Position before which no table needs the commit log any more.  Takes tables_mu (read). */
wc_clpos wc__log_needed_from(wc_engine *e);
/* Record (st != WC_OK) or clear (WC_OK) a compaction failure of table_id for wc_engine_get_stats. */
void wc__compaction_result(wc_engine *e, uint32_t table_id, wc_status st, const char *detail);

/* in write.c */
/*
 * Tell opts.change_hook that the partitions the batch record rec[0..len)
 * writes (rec NULL: table table_id as a whole) begin (done false) or end
 * (done true) to change.  A no-op without a hook.
 */
void wc__notify_change(wc_engine *e, const uint8_t *rec, size_t len, uint32_t table_id, bool done);

/* in engine.c */
/* The engine's clock in seconds (opts.clock or time()). */
int64_t wc__engine_now(wc_engine *e);
void wc__engine_log(wc_engine *e, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sources of a table at one moment, referenced (released by wc__sources_release). */
typedef struct wc__sources {
    wc_memtable **mems; /* mems0 when it fits there, else wc_malloc'd */
    size_t nmems;
    wc_sstable **ssts; /* ssts0 when it fits there, else wc_malloc'd */
    size_t nssts;
    wc_memtable *mems0[4];
    wc_sstable *ssts0[8];
    uint32_t gc_grace;
    wc__tcounters *counters; /* referenced */
    char name[128];          /* the table's name, for messages */
} wc__sources;
wc_status wc__sources_acquire(wc_engine *e, uint32_t table_id, wc__sources *s);
void wc__sources_release(wc__sources *s);

#endif /* WC_ENGINE_INT_H */
