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
#include "mutation.h"

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

/*
 * How wc_counter_resolve finds a stored shard: *s arrives with its writer
 * set and clock and value 0; fill it with that writer's shard of the stored
 * counter cell (table_id, pk, ck, column), or leave it when there is none.
 * WC_OK, or the status that the resolution then returns.
 */
typedef wc_status (*wc_counter_lookup_fn)(void *ctx, uint32_t table_id, const uint8_t *pk,
                                          size_t pk_len, const uint8_t *ck, size_t ck_len,
                                          uint32_t column, wc_counter_shard *s);

/*
 * Resolve the delta cells of batch record rec[0..len) into writer's shards:
 * for each counter cell, lookup gives writer's stored shard, the delta is
 * added to it and its clock raised above the stored one (and to at least
 * the delta's timestamp); later deltas of the same cell in the batch build
 * on the earlier ones, one clock step each.  The rewritten record (delta
 * cells turned into one-shard counter cells, every other entry as it was)
 * is built in bb (REQUIRES: initialized; reset here) and *out / *out_len
 * point to it until bb is reset or freed.  Statuses: WC_INVALID_ARGUMENT
 * (malformed batch, a delta in a static row), what lookup returns,
 * WC_NO_MEMORY.  Pure but for lookup: the caller holds whatever lock makes
 * lookup and the later apply of *out one step.
 */
wc_status wc_counter_resolve(const uint8_t *rec, size_t len, uint64_t writer,
                             wc_counter_lookup_fn lookup, void *ctx, wc_batch_builder *bb,
                             const uint8_t **out, size_t *out_len);
/*
 * Is rec[0..len) a counter write that a cluster can send to leader
 * replicas: every mutation of table_id, every entry a row whose cells are
 * all deltas, with no deletion.  false (and *why set to a static text)
 * otherwise.
 */
bool wc_counter_batch_only_deltas(const uint8_t *rec, size_t len, uint32_t *table_id,
                                  const char **why);

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
