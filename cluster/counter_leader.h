/*
 * counter_leader.h - counter writes on a cluster: the coordinator's counter
 * path, as Cassandra 2.1+ does it (a leader replica per partition).
 *
 * A counter increment is not idempotent: a delta applied twice counts
 * twice.  So a delta is applied once, by ONE replica of its partition, the
 * leader, and only what that gives - the leader's own shard of the counter
 * (engine/counter.h), a cell that merges idempotently - is replicated:
 *
 *   1. The coordinator (wc_coord_write of a batch with counter deltas)
 *      checks the batch (deltas only, one table: wc_counter_batch_only_deltas;
 *      not ANY) and that every partition has enough live replicas for the
 *      level (wc_coord_write_check), then picks each partition's leader:
 *      this node if it is a replica, else the first live replica of its
 *      data centre in placement order, else the first live replica.  The
 *      deltas of the partitions of one leader go to it in one
 *      COUNTER_WRITE (counter_leader_format.h), or to this node's own
 *      leader code when it leads.
 *   2. The leader checks the level again, applies the deltas through its
 *      store's apply_counter (each delta becomes its own shard, under the
 *      engine's counter lock), and writes the resolved batch - shards only -
 *      at the same level to every replica of the partitions, counting
 *      itself as one acknowledgement (the local replica is not written
 *      twice).  Replicas down or slow get that batch as a hint: a hint,
 *      like a read repair, only ever carries shards.
 *   3. The leader answers COUNTER_RESULT with the write's outcome and
 *      whether it applied the deltas; the coordinator's write is done when
 *      every leader answered.
 *
 * Failures are said plainly and nothing is retried: a write refused before
 * any leader applied keeps its status (WC_UNAVAILABLE, nothing written);
 * once a leader applied, or may have (no answer within timeout_ms), the
 * write ends with WC_TIMEOUT and a detail that begins "counter write" and
 * says it may or may not have been applied.  The leader's own write gets
 * three quarters of the timeout, so that its answer usually arrives.
 * Deltas are never hinted, never logged in the batchlog
 * (wc_coord_write_settled refuses them) and never sent to a joining node;
 * the partitions of one write are led independently (not atomic, as
 * Cassandra's counter batches, which are never logged).
 *
 * Thread-safety: none; everything runs on the coordinator's loop.
 */
#ifndef WC_COUNTER_LEADER_H
#define WC_COUNTER_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator.h"

typedef struct wc__counters wc__counters;

/* in counter_leader.c, called by coordinator.c */

/*
 * The counter path of wc_coord_write (batch holds counter deltas): done once,
 * as wc_coord_write.  Statuses: those of wc_coord_write, WC_INVALID_ARGUMENT
 * for a batch that is not only deltas of one table or for ANY, WC_TIMEOUT
 * once a leader applied or may have applied and the write failed.
 */
void wc__counter_write(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                       wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done, void *arg);
/* A message of types 32..35 (counter_leader_format.h); malformed ones are counted and dropped. */
void wc__counter_on_message(wc_coord *c, const wc_addr *from, const uint8_t *msg, size_t len);
/*
 * First step of wc_coord_destroy: every counter write this node coordinates
 * ends with WC_UNAVAILABLE; leaders stop answering.
 */
void wc__counter_stop(wc_coord *c);
/* Last step of wc_coord_destroy: free what is left. */
void wc__counter_free(wc_coord *c);

/* in coordinator.c, for counter_leader.c */

wc__counters **wc__coord_counters(wc_coord *c);
const wc_coord_options *wc__coord_options(const wc_coord *c);
wc_coord_stats *wc__coord_stats(wc_coord *c);
/*
 * The replicas of token for table_id's keyspace in the current ring:
 * *ring (borrowed: valid until the ring changes, on the loop) and
 * (*hosts)[0..*n) ring indexes in placement order (valid until the next
 * call); *self is this node's ring index, -1 if it is not in the ring.
 * WC_UNAVAILABLE without a ring, the replication's status.
 */
wc_status wc__coord_replicas(wc_coord *c, uint32_t table_id, int64_t token, wc_ring **ring,
                             const uint32_t **hosts, size_t *n, int32_t *self);
/*
 * The pending replicas of token for table_id (wc_coord_set_pending_ring):
 * the replicas in the pending ring that are not replicas in the current
 * one, as indexes of *pring (borrowed as the ring above) into out[0..cap);
 * returns their count, 0 when no change is under way.
 */
size_t wc__coord_pending_replicas(wc_coord *c, uint32_t table_id, int64_t token, wc_ring **pring,
                                  uint32_t *out, size_t cap);
/*
 * wc_coord_write of batch (no deltas: a leader's resolved shards) at cl,
 * where this node, when it is a replica, has applied batch already and
 * counts as one acknowledgement without another apply.
 */
void wc__coord_write_applied(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                             wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done,
                             void *arg);

#endif /* WC_COUNTER_LEADER_H */
