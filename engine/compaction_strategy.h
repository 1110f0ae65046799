/*
 * compaction_strategy.h - which SSTables a table compacts next: the
 * selection rules of SizeTiered, Leveled and TimeWindow compaction, as pure
 * functions over per-SSTable metadata (no I/O, no locks), so they can be
 * unit-tested with synthetic metadata.  compaction_job.c runs what they pick.
 *
 * Rules (docs/user-guide.md explains them to users):
 *  - Every strategy first looks for fully expired SSTables: every cell and
 *    tombstone expired and past gc_grace (max_ldt < gc_before, no live
 *    non-expiring data), and no SSTable outside that set which overlaps it
 *    (token range) nor any memtable holds data older than its max timestamp
 *    (skipped with TWCS's unsafe_aggressive_sstable_expiration).  Those are
 *    dropped whole without being read.
 *  - STCS: SSTables sorted by size go into buckets whose members stay within
 *    [bucket_low, bucket_high] x the bucket's mean size, all SSTables below
 *    min_sstable_size sharing one bucket.  Among buckets with >= min_threshold
 *    members (trimmed to the max_threshold smallest), the one with the most
 *    members wins (ties: smaller mean size); widecol keeps no read hotness,
 *    which Cassandra uses to rank buckets.
 *  - LCS: level n >= 1 holds at most sstable_size * fanout^n bytes and is
 *    non-overlapping in flat-key order.  The highest level over its target
 *    compacts one SSTable (round-robin by first key after the level's last
 *    compacted key) with the overlapping SSTables of the next level; if no
 *    level is over target and L0 has >= 4 SSTables, up to 32 of them (oldest
 *    first) are compacted with the overlapping L1 SSTables into L1.  Outputs
 *    are split at sstable_size on partition boundaries.  Level 8 is the last.
 *  - TWCS: SSTables are grouped by window (max timestamp floored to
 *    window_size x unit).  Newest window first: the newest window compacts by
 *    the STCS rules; an older window with >= 2 SSTables compacts into one
 *    (at most max_threshold at a time).
 *  - When nothing else qualifies, a single-SSTable tombstone compaction: the
 *    SSTable with the highest droppable-tombstone ratio above
 *    tombstone_threshold, created at least tombstone_compaction_interval
 *    ago, and, unless unchecked_tombstone_compaction, only if nothing
 *    overlapping it (other SSTables, memtables) is older than its oldest
 *    data (else its tombstones could not be purged anyway).
 *  - Nothing is picked when `enabled` is false; majors (wc_compaction_major)
 *    ignore it.
 *
 * Thread-safety: pure functions; wc_lcs_state belongs to its caller.
 */
#ifndef WC_COMPACTION_STRATEGY_H
#define WC_COMPACTION_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compaction_options.h"
#include "status.h"

#define WC_LCS_MAX_LEVEL 8        /* levels 0..8 */
#define WC_LCS_L0_TRIGGER 4       /* L0 SSTables that start an L0 -> L1 compaction */
#define WC_LCS_L0_MAX_INPUTS 32
#define WC_LCS_L0_STCS_TRIGGER 32  /* more L0 SSTables than this: size-tiered within L0 first */

typedef struct wc_sst_meta {
    uint64_t gen;
    uint64_t bytes;          /* file bytes */
    int64_t created;         /* seconds since the epoch */
    uint32_t level;          /* LCS level (0 for flushes and other strategies' outputs) */
    int64_t min_ts, max_ts;  /* write timestamps (microseconds) */
    uint32_t max_ldt;        /* UINT32_MAX if live non-expiring data exists */
    int64_t min_token, max_token;
    const uint8_t *first_key, *last_key; /* flat keys (not owned) */
    size_t first_key_len, last_key_len;
    uint64_t droppable;      /* tombstones whose ldt < gc_before (estimate) */
    uint64_t entries;        /* cells + rows + headers: denominator of the droppable ratio */
    int64_t tombstone_retry_after; /* output of a tombstone compaction that purged nothing:
                                      no new tombstone compaction before this (seconds) */
    bool compacting;         /* already an input of a running compaction */
} wc_sst_meta;

typedef enum wc_task_kind {
    WC_TASK_NONE = 0,
    WC_TASK_COMPACT,         /* merge the inputs */
    WC_TASK_TOMBSTONE,       /* single-SSTable tombstone compaction */
    WC_TASK_DROP_EXPIRED,    /* drop the inputs without reading them */
    WC_TASK_MAJOR,           /* every SSTable */
} wc_task_kind;

typedef struct wc_compaction_task {
    wc_task_kind kind;
    size_t *inputs;          /* indices into the meta array; wc_malloc'd */
    size_t ninputs;
    uint32_t level;          /* output level (LCS; 0 otherwise) */
    uint64_t max_output_bytes; /* split outputs at this size on partition boundaries; 0 = one */
    int64_t window;          /* TWCS window start (seconds), INT64_MIN if none */
} wc_compaction_task;

/* What the strategies need to know besides the SSTables. */
typedef struct wc_pick_env {
    int64_t now;             /* seconds */
    int64_t gc_before;       /* now - gc_grace_seconds */
    int64_t mem_min_ts;      /* smallest timestamp in the table's memtables; INT64_MAX if none */
} wc_pick_env;

/* Round-robin position of LCS per level (last compacted SSTable's last key). */
typedef struct wc_lcs_state {
    uint8_t *last_key[WC_LCS_MAX_LEVEL + 1]; /* wc_malloc'd; NULL = start */
    size_t last_key_len[WC_LCS_MAX_LEVEL + 1];
} wc_lcs_state;

/* API */

/*
 * Pick the next task for a table's SSTables m[0..n) under options o.
 * lcs may be NULL (no round-robin memory, e.g. for estimates); when not
 * NULL, a picked LCS level compaction advances it.  out->kind is
 * WC_TASK_NONE when there is nothing to do.  Caller frees with
 * wc_compaction_task_free.  WC_NO_MEMORY on allocation failure.
 */
wc_status wc_compaction_pick(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                             const wc_pick_env *env, wc_lcs_state *lcs, wc_compaction_task *out);

/*
 * A major compaction of every SSTable not already compacting: one output
 * (STCS, TWCS) or, for LCS, outputs split at sstable_size into the lowest
 * level n >= 1 whose target (sstable_size * fanout^n) holds all the input
 * bytes (level 8 at most).  WC_TASK_NONE if fewer than one input remains.
 */
wc_status wc_compaction_major(const wc_compaction_options *o, const wc_sst_meta *m, size_t n,
                              wc_compaction_task *out);

/* Estimated number of compactions the strategy still has to run (pending tasks). */
uint64_t wc_compaction_estimate_pending(const wc_compaction_options *o, const wc_sst_meta *m,
                                        size_t n, const wc_pick_env *env);

/* LCS target bytes of level n >= 1: sstable_size * fanout^n. */
uint64_t wc_lcs_level_target(const wc_compaction_options *o, uint32_t level);

/* TWCS window start (seconds) of a timestamp in microseconds. */
int64_t wc_twcs_window(int64_t ts_micros, int64_t window_seconds);

/* Whether [a_first, a_last] and [b_first, b_last] (flat keys) intersect. */
bool wc_key_ranges_overlap(const wc_sst_meta *a, const wc_sst_meta *b);

void wc_compaction_task_free(wc_compaction_task *t);
void wc_lcs_state_free(wc_lcs_state *s);

#endif /* WC_COMPACTION_STRATEGY_H */
