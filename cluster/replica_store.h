/*
 * replica_store.h - how the coordinator reaches the data of its own node.
 *
 * The coordinator (coordinator.h) never touches storage itself: it applies
 * mutation batches and reads partitions of the local replica through a
 * wc_replica_store, a table of operations and a context given at creation.
 * On a real node the store is the engine, called on a worker thread; in
 * tests it is a model (cluster/tests/model_store.h).
 *
 * Asynchronous contract: apply and read take a completion callback.  The
 * store may call it before returning (a model) or later, but always on the
 * node's loop (a store working on another thread hands its result back with
 * env->post), exactly once, and never after the coordinator was destroyed
 * (a store is drained before its coordinator is).  Blocking work (fsync,
 * disk reads) never runs on the loop.
 *
 * Raw results: a read returns the store's raw form of the partition slice,
 * opaque to the coordinator, with its tombstones (so that replicas can be
 * reconciled), and a 16-byte digest of that form (equal data gives equal
 * digests).  reconcile runs on the loop and must not block: it merges the
 * raw results of several replicas into the answer (the same raw form,
 * newest cell wins, tombstones shadow older data) and, for each replica, a
 * repair batch (a batch record of engine/mutation.h) holding what that
 * replica lacks, empty when it lacks nothing.
 */
#ifndef WC_REPLICA_STORE_H
#define WC_REPLICA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "engine.h"
#include "raw.h" /* wc_store_read, wc_store_raw: the engine reads and reconciles them */
#include "status.h"

/*
 * Completion of apply: WC_OK once the batch is applied on this replica,
 * durable at once or, for a store that syncs periodically (the engine's
 * periodic commit log), after its next sync (see sync below).
 */
typedef void (*wc_store_apply_done)(void *arg, wc_status st);
/*
 * Completion of apply_counter: on WC_OK resolved[0..len) is the batch that
 * was applied (valid only during the call); NULL on failure.
 */
typedef void (*wc_store_counter_done)(void *arg, wc_status st, const uint8_t *resolved,
                                      size_t len);
/*
 * Completion of read: raw[0..len) and digest are valid only during the
 * call; on failure raw is NULL.
 */
typedef void (*wc_store_read_done)(void *arg, wc_status st, const uint8_t *raw, size_t len,
                                   const uint8_t digest[16]);

/*
 * One replica's part of a coordinated secondary-index read (index_keys):
 * the keys of the rows of table_id whose indexed column of index holds
 * exactly value[0..value_len), with tokens in (token_start, token_end]
 * (token_start INT64_MIN including it), after the entry key after (NULL:
 * from the range's start), at most limit of them.
 */
typedef struct wc_store_index_query {
    uint32_t table_id;
    const char *index; /* the index's name, NUL-terminated */
    const uint8_t *value;
    size_t value_len;
    int64_t token_start, token_end;
    const uint8_t *after; /* an entry key: token (8 bytes, keys.h) | u16be pk_len | pk | ck */
    size_t after_len;
    uint32_t limit; /* >= 1 */
    int64_t now_sec;
} wc_store_index_query;

/*
 * Completion of index_keys: keys[0..len) is u8 more (1: the limit cut the
 * answer, more keys may follow the last), then the entry keys in their
 * order (token, pk, ck), each as bytes (varint length, then the key);
 * valid only during the call, NULL on failure.
 */
typedef void (*wc_store_keys_done)(void *arg, wc_status st, const uint8_t *keys, size_t len);

typedef struct wc_replica_store_ops {
    /*
     * Apply a batch record (engine/mutation.h) durably; then done(arg, st).
     * batch is valid only during the call (copy it to keep it).  Statuses:
     * WC_OK, WC_CORRUPTION (malformed batch), WC_NOT_FOUND (unknown table),
     * WC_IO_ERROR, WC_NO_SPACE, WC_OVERLOADED, WC_NO_MEMORY.
     */
    void (*apply)(void *ctx, const uint8_t *batch, size_t len, wc_store_apply_done done, void *arg);
    /* Read r (valid only during the call); then done with the raw result. */
    void (*read)(void *ctx, const wc_store_read *r, wc_store_read_done done, void *arg);
    /*
     * Reconcile raws[0..n) of read r: append the answer (raw form) to
     * answer and the repair batch of replica i to repairs[i] (left empty
     * when replica i lacks nothing).  Synchronous.  WC_CORRUPTION for a
     * malformed raw result, WC_NO_MEMORY.
     */
    wc_status (*reconcile)(void *ctx, const wc_store_read *r, const wc_store_raw *raws, size_t n,
                           wc_buf *answer, wc_buf *repairs);
    /*
     * Append the raw result raw[0..len) after the raw result in acc (an
     * empty acc: none yet), so that acc is one raw result of both, and set
     * *rows to the clustering rows raw holds (a range scan gathers its
     * ranges this way and counts its limit).  Synchronous.  WC_CORRUPTION,
     * WC_NO_MEMORY.
     */
    wc_status (*append)(void *ctx, wc_buf *acc, const uint8_t *raw, size_t len, uint64_t *rows);
    /*
     * Optional (NULL: every apply is durable when done reports it): make
     * every apply completed so far durable, then done(arg, st).  Streaming
     * calls it before it records a page as stored.
     */
    void (*sync)(void *ctx, wc_store_apply_done done, void *arg);
    /*
     * Optional (NULL: this replica cannot lead counter writes): apply a
     * batch with counter deltas as their leader replica (engine/counter.h):
     * each delta becomes this replica's own shard, the rewritten batch is
     * applied durably, then done(arg, st, resolved, len) with that batch,
     * which the coordinator sends to the other replicas.  Statuses of
     * apply, and WC_INVALID_ARGUMENT for a delta the store cannot resolve.
     */
    void (*apply_counter)(void *ctx, const uint8_t *batch, size_t len, wc_store_counter_done done,
                          void *arg);
    /*
     * Optional (NULL: this replica answers no index read): the keys of q
     * from this replica's own index (engine/index.h: entries checked
     * against the base rows), then done(arg, st, keys, len).  Statuses of
     * wc_engine_index_read: WC_NOT_FOUND (no such table or index),
     * WC_UNAVAILABLE (the index is still being built), WC_NO_MEMORY...
     */
    void (*index_keys)(void *ctx, const wc_store_index_query *q, wc_store_keys_done done,
                       void *arg);
} wc_replica_store_ops;

typedef struct wc_replica_store {
    const wc_replica_store_ops *ops;
    void *ctx;
} wc_replica_store;

#endif /* WC_REPLICA_STORE_H */
