/*
 * model_store.h - an in-memory replica store (replica_store.h) for the
 * coordinator's tests: one per simulated node, surviving the node's crashes
 * (what it acknowledged is durable).
 *
 * It keeps one blob per (table, partition key, kind, clustering key), merged
 * with the engine's reconciliation (wc_row_merge, wc_header_merge: newest
 * cell wins, tombstones shadow older cells), always in merged form, so that
 * equal data has equal bytes.  A read's raw form is
 *
 *   varint n, n x { bytes pk, u8 kind, bytes ck, bytes blob }
 *
 * (per partition, in token order for a range: its header, its static row
 * when asked, its rows of the slice in the read's order, up to the limit) and its digest is
 * XXH3-128 of those bytes.  Operations complete synchronously, or after a virtual delay on an env's
 * timers (model_store_set_delay).  It uses only engine code, so that it links into every unit test.
 * Not thread-safe.
 */
#ifndef WC_MODEL_STORE_H
#define WC_MODEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "replica_store.h"
#include "stream.h" /* the codec's type only: no cluster code is linked */

typedef struct model_store model_store;

model_store *model_store_new(void);
void model_store_free(model_store *m);
/* The store interface over m. */
wc_replica_store model_store_iface(model_store *m);
/* Streaming's codec (stream.h) of m's raw form, for pages of table_id (one table per store). */
wc_stream_codec model_store_stream_codec(model_store *m, uint32_t table_id);

/* Complete every operation delay_ms later on env's loop (0: synchronously). */
void model_store_set_delay(model_store *m, wc_env *env, uint64_t delay_ms);
/* Forget the completions not delivered yet (their node crashed: the timers are gone). */
void model_store_drop_pending(model_store *m);
/*
 * Acknowledge applies before they are durable, as the engine's periodic
 * commit log does (0: off, every apply durable at once): applies wait aside,
 * invisible to reads, until every every-th apply or a sync op makes them
 * all durable; model_store_power_loss drops those still waiting.
 */
void model_store_set_periodic(model_store *m, uint32_t every);
void model_store_power_loss(model_store *m);
/* The next n applies fail with st (nothing applied). */
void model_store_fail_applies(model_store *m, wc_status st, int n);

/* The merged blob of (table, pk, WC_KIND_ROW, ck), or false. */
bool model_store_get(model_store *m, uint32_t table_id, const void *pk, size_t pk_len,
                     const void *ck, size_t ck_len, const uint8_t **blob, size_t *len);
size_t model_store_count(const model_store *m);
uint64_t model_store_applies(const model_store *m); /* successful apply calls */
/*
 * Counters: apply_counter resolves deltas into the store's own shards
 * (each store is a writer of its own, engine/counter.h); the sum of the
 * deltas it resolved so, as a leader replica.
 */
int64_t model_store_counter_led(const model_store *m);

/*
 * Helpers for tests: a batch of one row (table, pk, ck) with one cell
 * (column 1 = value at ts) into rec (reset first).
 */
void model_batch_one(wc_buf *rec, uint32_t table_id, const char *pk, const char *ck,
                     const char *value, int64_t ts);
/* A batch deleting column 1 of row ck (a cell tombstone at ts) into rec (reset first). */
void model_batch_delete(wc_buf *rec, uint32_t table_id, const char *pk, const char *ck, int64_t ts);
/* The clustering keys of the rows of a raw result, in its order, joined by ',' into out. */
void model_raw_rows(const uint8_t *raw, size_t len, char *out, size_t cap);
/* Distinct partitions of a raw result, in its order: their tokens into tokens[0..cap). */
size_t model_raw_partitions(const uint8_t *raw, size_t len, int64_t *tokens, size_t cap);
/* The value of column 1 of the row ck in a raw result: NULL if absent or deleted. */
const uint8_t *model_raw_value(const uint8_t *raw, size_t len, const char *ck, size_t *vlen);

#endif /* WC_MODEL_STORE_H */
