/*
 * counter.h - counter cells: per-writer shards merged by shard.
 *
 * A counter cell (WC_CELLF_COUNTER) holds a list of shards, one per writer
 * that ever changed it; a writer is an engine (its id lives in the data
 * directory, file "counter_id").  Value bytes (docs/file-formats.md,
 * "Counter cells"): n x { u64 writer, u64 clock, u64 value (int64) }, 24
 * bytes each, writers strictly ascending, n >= 1.  The counter's value is
 * the sum of its shards' values (wrapping, as int64).  Two counter cells
 * merge shard by shard: for a writer present in both the shard with the
 * higher clock wins (equal clocks: the greater value); the merged cell
 * keeps the higher timestamp.  Merging is commutative, associative and
 * idempotent, so replays, repeated merges and compaction never double count.
 *
 * A delta cell (WC_CELLF_COUNTER_DELTA, value: one int64) is what a client
 * sends: "add n".  The engine resolves it before the commit log
 * (wc_engine_apply / _apply_batch): under the engine's counter lock it reads
 * its own shard of the cell, adds n, and writes that shard with a higher
 * clock, so concurrent increments sum exactly and the commit log only ever
 * holds shards.  Two delta cells merge by adding (a transaction's pending
 * writes); a delta merged with a counter (a read over pending writes) adds
 * to writer 0, a shard no engine owns and that is never stored.
 *
 * All functions are pure and thread-safe.
 */
#ifndef WC_COUNTER_H
#define WC_COUNTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"

#define WC_COUNTER_SHARD_LEN 24
/* a delta cell's value: one little-endian int64 */
#define WC_COUNTER_DELTA_LEN 8
/* the writer of pending deltas in reads over a transaction's writes; never stored */
#define WC_COUNTER_PENDING_WRITER 0

typedef struct wc_counter_shard {
    uint64_t writer;
    uint64_t clock;
    int64_t value;
} wc_counter_shard;

/* API */

/* True if value is a well-formed shard list (length, ascending writers, n >= 1). */
bool wc_counter_valid(const uint8_t *value, size_t len);
/* Sum of the shards; false if the shard list is malformed (*sum untouched). */
bool wc_counter_sum(const uint8_t *value, size_t len, int64_t *sum);
/* Shard of writer in value: true and *out filled if present. REQUIRES: valid list. */
bool wc_counter_find(const uint8_t *value, size_t len, uint64_t writer, wc_counter_shard *out);
/* Append one shard list holding a single shard. */
void wc_counter_put_shard(wc_buf *b, const wc_counter_shard *s);
/* Length of merge(a, b) (REQUIRES: both valid). */
size_t wc_counter_merged_len(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* Append merge(a, b), shard by shard (REQUIRES: both valid). */
void wc_counter_merge(wc_buf *out, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Does the row blob hold a delta cell?  false for a malformed blob. */
bool wc_counter_row_has_delta(const uint8_t *blob, size_t len);
/* Does the batch record (mutation.h) hold a delta cell?  false if malformed. */
bool wc_counter_batch_has_delta(const uint8_t *rec, size_t len);

/* A delta cell's value. */
static inline void wc_counter_delta_encode(uint8_t out[WC_COUNTER_DELTA_LEN], int64_t delta)
{
    wc_enc_u64(out, (uint64_t)delta);
}
static inline int64_t wc_counter_delta_decode(const uint8_t *value)
{
    return (int64_t)wc_dec_u64(value);
}

#endif /* WC_COUNTER_H */
