/*
 * coordinator.h - replicated writes and reads at a consistency level.
 *
 * Every node coordinates: its backends hand it a write (a mutation batch of
 * one table) or a single-partition read, and the coordinator sends the
 * work to the replicas of each partition (a wc_placement of the current
 * ring), counts their answers against the consistency level, stores hints
 * for replicas that are down or too slow, and repairs replicas that a read
 * finds out of date.  It also serves the replica side: MUTATION and READ
 * messages from other coordinators, answered from the local store
 * (replica_store.h).
 *
 * Write: the batch's mutations are grouped by replica set (one partition
 * token -> its replicas); each group must meet the level.  Before sending
 * anything the live replicas of each group are counted (is_alive): too few
 * and the write fails with WC_UNAVAILABLE, nothing written.  Live remote
 * replicas get a MUTATION with their sub-batch, the local replica applies
 * it through the store; the write is done when every group has its acks.
 * Replicas down at send time, and those that have not acknowledged when the
 * timeout fires, get a hint (store_hint).  ANY is met by one ack or one
 * stored hint.  After timeout_ms without enough acks: WC_TIMEOUT.
 *
 * Counters: a write whose batch holds counter delta cells (engine/counter.h)
 * takes the leader path of counter_leader.h, as Cassandra 2.1+: after the
 * same availability check, each partition's deltas go to ONE live replica,
 * its leader (this node when it is a replica, else the first live replica
 * of this data centre in placement order), which applies them to its own
 * shards and writes the resulting shards - never the deltas - to every
 * replica at the level, counting itself as one.  Deltas are never hinted
 * nor logged in the batchlog, and never retried: a counter write that a
 * leader applied (or may have) and that then failed ends with WC_TIMEOUT
 * and a detail beginning "counter write", meaning it may or may not have
 * been applied.  Messages 32..35 (counter_leader_format.h).
 *
 * Read: block_for live replicas are asked (this node first if it is one,
 * then in placement order), one for the data and the others for a digest.
 * Equal digests: the data is the answer.  A mismatch: every one of them is
 * asked for the data, the store reconciles the results, the replicas that
 * lack something are sent a repair (a MUTATION) and the answer waits for
 * their acks (blocking read repair), all within the read's timeout.
 *
 * Levels per group: LOCAL_ONE and LOCAL_QUORUM count only replicas of the
 * coordinator's data centre (NetworkTopologyStrategy; SimpleStrategy counts
 * all), EACH_QUORUM needs a quorum of each data centre's replicas, the other
 * levels count every replica, with block_for from consistency.h (ALL: every
 * replica the placement gives).  As consistency.h says, ANY is refused for
 * reads and SERIAL / LOCAL_SERIAL for writes (lightweight transactions go
 * through paxos.h) with WC_INVALID_ARGUMENT; a SERIAL read is a QUORUM read
 * (LOCAL_SERIAL: LOCAL_QUORUM).
 *
 * Index reads: wc_coord_index_read below (coordinator_index.c).
 *
 * Thread-safety: none; a coordinator lives on its node's loop (env.h) and
 * every function, callback and done_cb runs there.  done_cb may run before
 * wc_coord_write / wc_coord_read returns (a refused request, a local-only
 * write with a synchronous store).
 */
#ifndef WC_COORDINATOR_H
#define WC_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "consistency.h"
#include "env.h"
#include "replica_store.h"
#include "ring.h"
#include "status.h"

#define WC_COORD_DETAIL_MAX 256

typedef struct wc_coord wc_coord;

#define WC_COORD_TRACE_MAX 8

/* One replica's part in a read (EXPLAIN ANALYZE): summed over its asks. */
typedef struct wc_coord_trace {
    wc_addr addr;
    uint32_t asks;    /* reads sent to it */
    uint32_t answers; /* of them answered with success */
    uint32_t digests; /* of the answers, digests only */
    uint64_t us;      /* time from ask to answer, summed over the answers */
    uint64_t bytes;   /* raw data of its data answers */
} wc_coord_trace;

/* What a write or read ended with, for the caller's errcode and DETAIL. */
typedef struct wc_coord_result {
    wc_status status;
    wc_consistency cl;
    uint32_t required; /* replicas the level needs (the group that failed, or the first) */
    uint32_t alive;    /* of them alive when the request started (WC_UNAVAILABLE) */
    uint32_t acked;    /* of them that acknowledged (WC_TIMEOUT, failures) */
    uint32_t hints;    /* hints stored */
    uint32_t repairs;  /* read repairs sent (reads) */
    uint64_t repair_rows;  /* row entries (and partition headers) in those repairs */
    uint64_t repair_bytes; /* bytes of their batches */
    char detail[WC_COORD_DETAIL_MAX]; /* "consistency QUORUM needs 2 replicas, 1 alive" */
    /* reads: the replicas asked, in the order first asked (a scan: over its ranges) */
    uint32_t ntrace;
    wc_coord_trace trace[WC_COORD_TRACE_MAX];
} wc_coord_result;

/* The end of a write.  res is valid only during the call. */
typedef void (*wc_coord_write_cb)(void *arg, const wc_coord_result *res);
/* The end of a read: the answer in the store's raw form (valid only during the call). */
typedef void (*wc_coord_read_cb)(void *arg, const wc_coord_result *res, const uint8_t *data,
                                 size_t len);

typedef struct wc_coord_options {
    wc_env *env;
    uint8_t self_id[WC_RING_HOST_ID_LEN]; /* this node's host id in the ring */
    char self_dc[WC_REPL_DC_NAME_MAX];    /* this node's data centre (LOCAL_* levels) */
    wc_replica_store store;
    /* Whether the ring member is alive (the failure detector). */
    bool (*is_alive)(void *ctx, const wc_ring_member *host);
    /* The replication of table_id's keyspace: WC_NOT_FOUND for an unknown table. */
    wc_status (*replication)(void *ctx, uint32_t table_id, wc_replication *out);
    /*
     * Optional: keep batch (a batch record of table_id's mutations that host
     * lacks) for later delivery; WC_OK once stored.  NULL: no hints.
     */
    wc_status (*store_hint)(void *ctx, const wc_ring_member *host, uint32_t table_id,
                            const uint8_t *batch, size_t len);
    void *ctx;
} wc_coord_options;

/* Counters since creation. */
typedef struct wc_coord_stats {
    uint64_t writes, reads; /* coordinated */
    uint64_t unavailable, timeouts, failures;
    uint64_t hints; /* stored through store_hint */
    uint64_t digest_mismatches, repairs_sent;
    uint64_t mutations_applied; /* replica side: MUTATION messages applied */
    uint64_t reads_served;      /* replica side */
    uint64_t malformed;         /* messages dropped as malformed */
    uint64_t pending_writes;    /* sub-batches sent to joining hosts */
} wc_coord_stats;

/* API */

/*
 * A coordinator on o->env (o is copied).  WC_INVALID_ARGUMENT without env,
 * store ops, is_alive or replication; WC_NO_MEMORY.  Caller destroys *out.
 */
wc_status wc_coord_create(const wc_coord_options *o, wc_coord **out);
/*
 * Cancel every pending request (their done_cb runs with WC_UNAVAILABLE,
 * "coordinator stopped"), stop the timers, free everything.
 * REQUIRES: no store operation of this coordinator is pending.
 */
void wc_coord_destroy(wc_coord *c);

/*
 * Use ring r for the requests that start from now on (the coordinator
 * takes its own reference; requests in flight keep theirs).  r may be NULL:
 * every request fails with WC_UNAVAILABLE until a ring is set.
 */
void wc_coord_set_ring(wc_coord *c, wc_ring *r);

/*
 * Writes that start from now on also go to the joining hosts of r: the
 * current ring plus hosts that are joining with their tokens (NULL: none
 * join).  A joining host (in r, not in the current ring) gets the
 * mutations of every token it is a replica of in r, as Cassandra's pending
 * endpoints, and counts as Cassandra counts them: a level other than ALL
 * and ANY needs one more acknowledgement per joining replica of the token
 * (in the level's data centre), ALL needs it too, a joining host down
 * counts as a replica down (the write may be unavailable), and a missed
 * write gets a hint.  Reads do not use r.
 */
void wc_coord_set_pending_ring(wc_coord *c, wc_ring *r);

/*
 * A message of the coordinator range (types 16..39) from the peer at *from.
 * Returns false for a type outside the range (not consumed: another
 * component owns it).  Malformed messages are counted and dropped.
 */
bool wc_coord_on_message(wc_coord *c, const wc_addr *from, const uint8_t *msg, size_t len);

/*
 * Write batch[0..len) (a batch record of engine/mutation.h whose mutations
 * all belong to table_id; copied) at level cl; done(arg, res) once, when
 * the level is met or cannot be.  Statuses in res: WC_OK; WC_UNAVAILABLE
 * (too few live replicas: nothing was sent; or no ring); WC_TIMEOUT (fewer
 * acks than needed after timeout_ms); WC_INVALID_ARGUMENT (malformed batch,
 * a mutation of another table, SERIAL level); WC_NOT_FOUND (unknown table);
 * a replica's failure status when too many replicas failed to apply;
 * WC_NO_MEMORY.  A batch with counter deltas must hold only increments of
 * table_id (else WC_INVALID_ARGUMENT, detail "a counter update on a cluster
 * ..."), is refused at ANY, and fails with WC_TIMEOUT once a leader applied
 * it or may have (see above).  REQUIRES: timeout_ms > 0.
 */
void wc_coord_write(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                    wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done, void *arg);

/*
 * The end of a write's request for good (after done): every_replica is
 * true when every replica of every partition acknowledged, false when one
 * was down, failed, or had not answered when the timeout fired (it got a
 * hint), or the write failed.
 */
typedef void (*wc_coord_settled_cb)(void *arg, bool every_replica);

/*
 * wc_coord_write, and settled(arg, ...) once after done, when the request
 * ends for good (a logged batch removes its batchlog entry only once every
 * replica has its mutations).  settled may be NULL.  With settled, a batch
 * with counter deltas is refused (WC_INVALID_ARGUMENT, settled false): a
 * logged delta would count again at every replay.
 */
void wc_coord_write_settled(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                            wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done,
                            wc_coord_settled_cb settled, void *arg);

/*
 * The checks of wc_coord_write without sending anything: WC_OK when the
 * write would be sent (enough live replicas for every partition), else
 * the status and *out the result it would end with (WC_UNAVAILABLE,
 * WC_NOT_FOUND, WC_INVALID_ARGUMENT...).  A logged batch checks every
 * table so that an unavailable one writes nothing, not even its batchlog.
 */
wc_status wc_coord_write_check(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                               wc_consistency cl, wc_coord_result *out);

/*
 * Read r (one partition; copied) at level cl; done(arg, res, data, len)
 * once.  Statuses: as wc_coord_write, and WC_INVALID_ARGUMENT for ANY.  A
 * repair that is not acknowledged in time makes the read WC_TIMEOUT.
 */
void wc_coord_read(wc_coord *c, const wc_store_read *r, wc_consistency cl, uint32_t timeout_ms,
                   wc_coord_read_cb done, void *arg);

/* The end of a multi-partition read: answers[i] is the answer of reads[i] (valid during the call).
 */
typedef void (*wc_coord_multi_cb)(void *arg, const wc_coord_result *res,
                                  const wc_store_raw *answers, size_t n);

/*
 * Read several partitions (an IN list): one wc_coord_read per element of
 * reads[0..n) (copied), all at level cl, in parallel; done once, when all
 * ended.  res is the first failure in the order of reads (its answers are
 * then empty) or WC_OK with every answer.  REQUIRES: n >= 1.
 */
void wc_coord_read_partitions(wc_coord *c, const wc_store_read *reads, size_t n, wc_consistency cl,
                              uint32_t timeout_ms, wc_coord_multi_cb done, void *arg);

/*
 * A range scan: every partition of r->table_id in token order (r->pk is
 * ignored; r's slice, static row and limit apply, the limit to rows in
 * all; with r->token_range only the tokens in (token_start, token_end],
 * token_start INT64_MIN including INT64_MIN), one ring range after the other, each read at level cl (digests,
 * reconciliation and blocking repair as wc_coord_read) with its own
 * timeout_ms; the range that wraps is read as its two halves.  done once,
 * with the entries of every range in the store's raw form.  Statuses: as
 * wc_coord_read, the first range that fails ends the scan;
 * WC_INVALID_ARGUMENT for reverse order.
 */
void wc_coord_scan(wc_coord *c, const wc_store_read *r, wc_consistency cl, uint32_t timeout_ms,
                   wc_coord_read_cb done, void *arg);

/*
 * A secondary-index read (Cassandra's 2i on a cluster): every node indexes
 * its own data (engine/index.h), so the coordinator walks the ring's token
 * ranges in order (up to 8 ranges asked at once, their answers used in
 * token order) and, for each, asks as many live replicas as the level
 * needs (this node first if it is one; LOCAL_* levels only replicas of
 * this data centre) for the keys their own index holds for the value in
 * that range (INDEX_QUERY, coordinator_index_format.h; the local replica
 * through the store's index_keys).  The keys are united: a replica that
 * missed a write or a delete is outvoted by the read below, never trusted
 * alone.  When a replica's answer was cut by the limit, the union stops at
 * the smallest last key of the cut answers, and the range continues after
 * it.  Once limit keys are gathered (or the ring ends), the rows of those
 * keys are read at level cl as ordinary reads (one per partition, the
 * slice from its first to its last key; digests, reconciliation and read
 * repair as wc_coord_read), so each row is the reconciled row, which may
 * no longer hold the value: the caller filters (a replica whose index was
 * stale or a newer write elsewhere make the union a superset).
 */
typedef struct wc_coord_index_query {
    uint32_t table_id;
    const char *index; /* the index's name, 1..127 bytes, NUL-terminated */
    const uint8_t *value;
    size_t value_len;
    /* where a previous page ended (its resume key), or NULL: from the ring's start */
    const uint8_t *after;
    size_t after_len;
    uint32_t limit;      /* keys in this page, >= 1 */
    bool include_static; /* the rows' partitions' static rows too */
    int64_t now_sec;     /* TTL clock of every replica */
} wc_coord_index_query;

/*
 * The end of an index read: data[0..len) the rows in the store's raw form,
 * in token order; more says whether keys may follow, and then
 * resume[0..resume_len) is the entry key to pass as the next page's after.
 * Everything is valid only during the call.
 */
typedef void (*wc_coord_index_cb)(void *arg, const wc_coord_result *res, const uint8_t *data,
                                  size_t len, const uint8_t *resume, size_t resume_len, bool more);

/*
 * Read one page of the index read q (copied) at level cl; done once.  Each
 * range's key step and the row reads have timeout_ms each.  Statuses:
 * WC_UNAVAILABLE (a range with fewer live replicas than the level needs,
 * no ring), WC_TIMEOUT (a replica did not answer its keys in time, or a
 * row read timed out), a replica's failure status (WC_NOT_FOUND: no such
 * index there; WC_UNAVAILABLE: its index is still being built),
 * WC_INVALID_ARGUMENT (ANY or EACH_QUORUM, a bad query), WC_NO_MEMORY.
 */
void wc_coord_index_read(wc_coord *c, const wc_coord_index_query *q, wc_consistency cl,
                         uint32_t timeout_ms, wc_coord_index_cb done, void *arg);

/* Requests in flight (done or not, still waiting for replicas or the timeout). */
size_t wc_coord_pending(const wc_coord *c);
void wc_coord_get_stats(const wc_coord *c, wc_coord_stats *out);

/* API: the codec of coordinator_format.h (coordinator_codec.c) */

typedef struct wc_coord_msg {
    uint8_t type; /* WC_COORD_MSG_* */
    uint64_t req_id;
    uint8_t status;       /* MUTATION_ACK, READ_RESPONSE: a wc_status */
    uint8_t mode;         /* READ, READ_RESPONSE: WC_COORD_READ_DATA / _DIGEST */
    const uint8_t *batch; /* MUTATION: points into the message */
    size_t batch_len;
    wc_store_read read;  /* READ: pk and bounds point into the message */
    uint8_t digest[16];  /* READ_RESPONSE */
    const uint8_t *data; /* READ_RESPONSE: points into the message */
    size_t data_len;
} wc_coord_msg;

/*
 * Decode msg[0..len): every length is bounded by the message and by
 * coordinator_format.h.  WC_CORRUPTION with what is wrong for a malformed
 * message; WC_INVALID_ARGUMENT for a type outside 16..19.
 */
wc_status wc_coord_decode(const uint8_t *msg, size_t len, wc_coord_msg *out);
/* Append m's encoding to out.  WC_INVALID_ARGUMENT for a bad type; WC_NO_MEMORY. */
wc_status wc_coord_encode(const wc_coord_msg *m, wc_buf *out);

#endif /* WC_COORDINATOR_H */
