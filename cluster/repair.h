/*
 * repair.h - the Merkle-tree exchange of anti-entropy repair, on one node's
 * loop: asking every replica of a token range for its tree of a table
 * (merkle.h), and answering such requests from the local replica store.
 *
 * A tree is built from one raw read (replica_store.h) of the whole range
 * with every tombstone, no limit (a range that wraps past the largest token
 * is read as its two halves): the memory of one range's raw result, held
 * while its tree is folded on the loop.  The repair itself (cluster.h,
 * wc_cluster_repair) compares the trees and repairs each differing leaf
 * with a read at ALL of its sub-range, whose reconciliation sends each
 * replica what it lacks (coordinator.h): no merge code of its own.
 *
 * Thread-safety: none; every function and callback runs on the loop.
 */
#ifndef WC_REPAIR_H
#define WC_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "merkle.h"
#include "replica_store.h"
#include "status.h"

typedef struct wc_repair wc_repair;

/*
 * The end of wc_repair_trees: st WC_OK with trees[0..n) in the order of the
 * peers asked (valid only during the call), or the first failure (a
 * replica's status, WC_TIMEOUT for one that did not answer in time,
 * WC_UNAVAILABLE when stopped) with detail naming the replica.
 */
typedef void (*wc_repair_trees_cb)(void *arg, wc_status st, const wc_merkle *const *trees,
                                   size_t n, const char *detail);

/* API */

/* The exchange on env over store.  WC_NO_MEMORY.  Caller destroys *out. */
wc_status wc_repair_create(wc_env *env, wc_replica_store store, wc_repair **out);
/*
 * End every pending request (callbacks with WC_UNAVAILABLE), free.
 * REQUIRES: no store read of it pending (the store was drained first).
 */
void wc_repair_destroy(wc_repair *r);
/* A message of types 80..95 from *from; false for another type (not consumed). */
bool wc_repair_on_message(wc_repair *r, const wc_addr *from, const uint8_t *msg, size_t len);
/*
 * Ask peers[0..n) (local[i]: this node, read from the store directly) for
 * their trees of table_id over (start, end] with the TTL clock now_sec;
 * done once, when all answered or timeout_ms passed.  REQUIRES: n >= 1.
 */
void wc_repair_trees(wc_repair *r, uint32_t table_id, int64_t start, int64_t end, int64_t now_sec,
                     const wc_addr *peers, const bool *local, size_t n, uint32_t timeout_ms,
                     wc_repair_trees_cb done, void *arg);

#endif /* WC_REPAIR_H */
