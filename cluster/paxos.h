/*
 * paxos.h - lightweight transactions: compare-and-set on one partition
 * through Paxos, as Cassandra does (one Paxos instance per partition,
 * proposals whose values are the partition's mutations).
 *
 * Coordinator side (wc_paxos_cas), one round after another until one ends
 * the request:
 *
 *   prepare   a ballot newer than any this node made (timestamp in
 *             microseconds from the wall clock, then this node's host id)
 *             goes to every live participant: the replicas of the
 *             partition (LOCAL_SERIAL: those of this node's data centre);
 *             a quorum of them (n/2 + 1) must promise.  Fewer live than
 *             that: WC_UNAVAILABLE "consistency SERIAL needs 2 replicas,
 *             1 alive", nothing sent.  A participant that promised a newer
 *             ballot rejects: the round is retried after a random backoff
 *             (growing with the retries from the length of the last round
 *             up to 100 ms) with a ballot newer than the one seen.
 *   complete  a promise carries the participant's accepted proposal and
 *             its most recent commit.  An accepted proposal newer than
 *             every commit of the promisers is in progress (its proposer
 *             may be dead): it is proposed again with this round's ballot
 *             and committed, and a new round starts.  A promiser whose
 *             most recent commit is older than another's is sent that
 *             commit; once it acknowledged, a new round starts.
 *   read      the partition is read through the coordinator (coordinator.h)
 *             at QUORUM (LOCAL_SERIAL: LOCAL_QUORUM), and decide() tells,
 *             from the current data, whether the request applies and what
 *             to write (a batch stamped with the ballot's timestamp, so
 *             later transactions always win over earlier ones), chained
 *             after the most recent commit (paxos_format.h: a value lists
 *             the origins of the values committed before it).  Not
 *             applied: the request ends, nothing proposed.
 *   propose   the value goes to the participants; a quorum must accept.
 *             Not a quorum: the round is retried; when some replica may
 *             have accepted, the value's origin is remembered as ours.
 *   commit    every live participant applies the value (through the store)
 *             and records the commit; the request succeeds once a quorum
 *             acknowledged (too few: remembered as ours, retried).
 *
 * With proposals of ours remembered, each later round first looks at the
 * chain of the most recent commit: one of ours in it is the answer
 * (applied, or not for an empty one); a chain that reaches back before
 * them without one means none was committed, and the round goes on (its
 * commit makes sure they never are).  A phase that lacks answers after
 * phase_ms is retried.  Every round counts against the request's
 * timeout_ms and at most max_attempts rounds are tried; running out is
 * WC_TIMEOUT: res->unknown when a proposal of ours may still be committed
 * (detail "lightweight transaction outcome unknown"), else known not
 * applied (detail "lightweight transaction contention" when rounds were
 * rejected by newer ballots).  A serial read is wc_paxos_cas with decide
 * NULL: it completes any proposal in progress and reads.
 *
 * Replica side: per partition the newest ballot promised, the newest
 * proposal accepted (ballot and value) and the most recent commit (ballot
 * and value).  A PREPARE with a ballot newer than the promise is promised,
 * any other rejected with the promise; a PROPOSE not older than the
 * promise is accepted; a COMMIT is applied through the store and then
 * recorded.  Every change is written through the storage (durable before
 * the answer goes out: a restarted replica keeps its promises and
 * acceptances; a recorded commit only once the next change is, as losing
 * it leaves the proposal accepted, and the next round commits it again)
 * and kept in memory.  State untouched for retention_ms whose accepted proposal was
 * committed is dropped when the storage is rewritten (Cassandra keeps
 * system.paxos for gc_grace_seconds).
 *
 * Thread-safety: none; a paxos lives on its node's loop (env.h), as its
 * coordinator, and every function and callback runs there.  The storage
 * writes (fsync) run on the loop, as the batchlog's.
 */
#ifndef WC_PAXOS_H
#define WC_PAXOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "coordinator.h"
#include "env.h"
#include "fs.h"
#include "paxos_format.h"
#include "replica_store.h"
#include "ring.h"
#include "status.h"

typedef struct wc_paxos wc_paxos;

/* A ballot: newer is a later timestamp, then a larger node; {0, 0} is none. */
typedef struct wc_paxos_ballot {
    int64_t ts_us;
    uint64_t node;
} wc_paxos_ballot;

/*
 * Where a replica keeps its Paxos state across restarts: an append-only
 * log of records (paxos_format.h payloads, framed by the storage).
 */
typedef struct wc_paxos_storage {
    /* Append one record durably (WC_OK only once it survives a crash). */
    wc_status (*append)(void *ctx, const uint8_t *rec, size_t len);
    /*
     * Replace every record by recs[0..len) (a sequence of u32 length +
     * payload), atomically and durably.
     */
    wc_status (*rewrite)(void *ctx, const uint8_t *recs, size_t len);
    /* Every record stored, as u32 length + payload each, appended to out. */
    wc_status (*load)(void *ctx, wc_buf *out);
    void *ctx;
    /*
     * Optional (NULL: append): append one record that a crash may lose
     * until the next append makes it durable.
     */
    wc_status (*append_lazy)(void *ctx, const uint8_t *rec, size_t len);
} wc_paxos_storage;

typedef struct wc_paxos_options {
    wc_env *env;
    wc_coord *coord; /* the quorum read of each round (not owned) */
    wc_replica_store store; /* commits apply through it */
    uint8_t self_id[WC_RING_HOST_ID_LEN];
    char self_dc[WC_REPL_DC_NAME_MAX];
    bool (*is_alive)(void *ctx, const wc_ring_member *host);
    wc_status (*replication)(void *ctx, uint32_t table_id, wc_replication *out);
    void *ctx;
    wc_paxos_storage storage;
    uint32_t max_attempts;  /* rounds per request; 0: WC_PAXOS_DEFAULT_MAX_ATTEMPTS */
    uint32_t phase_ms;      /* wait for one phase's answers; 0: a quarter of the timeout */
    uint64_t retention_ms;  /* 0: WC_PAXOS_DEFAULT_RETENTION_MS */
} wc_paxos_options;

#define WC_PAXOS_DEFAULT_MAX_ATTEMPTS 1024u
#define WC_PAXOS_DEFAULT_RETENTION_MS (3ull * 3600 * 1000)
#define WC_PAXOS_MAX_BACKOFF_MS 100u
#define WC_PAXOS_MIN_PHASE_MS 20u

/* What a request ended with. */
typedef struct wc_paxos_result {
    wc_status status;
    bool applied;      /* WC_OK: decide() said apply and the value was committed */
    bool unknown;      /* WC_TIMEOUT: a proposal of it may still be committed later */
    uint32_t attempts; /* rounds started */
    uint32_t required, alive; /* participants needed and alive (WC_UNAVAILABLE) */
    char detail[WC_COORD_DETAIL_MAX];
} wc_paxos_result;

/*
 * Decide from the partition's current data (raw[0..len), the store's raw
 * form of the request's read) whether to apply: set *apply and, when it
 * applies, append the value to write to out: a batch record of the
 * request's partition whose timestamps are ts_us.  A failure ends the
 * request with that status.
 */
typedef wc_status (*wc_paxos_decide_fn)(void *arg, const uint8_t *raw, size_t len, int64_t ts_us,
                                        bool *apply, wc_buf *out);

/*
 * The end of a request: current[0..len) is the data the decision was made
 * on (the raw read; NULL when no round got that far).  Valid during the call.
 */
typedef void (*wc_paxos_done_fn)(void *arg, const wc_paxos_result *res, const uint8_t *current,
                                 size_t len);

typedef struct wc_paxos_stats {
    uint64_t requests, applied, not_applied;
    uint64_t rounds, contended, completed_in_progress, repaired_commits;
    uint64_t unavailable, timeouts;
    uint64_t prepares, proposes, commits; /* replica side, served */
    uint64_t states;                      /* partitions with state in memory */
    uint64_t malformed;
} wc_paxos_stats;

/* API */

/*
 * A paxos on o->env (o is copied); loads the storage's records.
 * WC_INVALID_ARGUMENT without env, coord, store, is_alive, replication or
 * storage ops; WC_NO_MEMORY; the storage's load failure.  Caller destroys.
 */
wc_status wc_paxos_create(const wc_paxos_options *o, wc_paxos **out);
/*
 * End the requests in flight (done runs with WC_UNAVAILABLE "stopped"),
 * cancel timers, free everything (the state stays in the storage).  May
 * run before or after the coordinator is destroyed.
 * Commits the store is still applying end without an answer (their
 * completions only free).
 */
void wc_paxos_destroy(wc_paxos *p);

/* Use ring r for the requests that start from now on (NULL: unavailable). */
void wc_paxos_set_ring(wc_paxos *p, wc_ring *r);

/*
 * A message of types WC_MSG_PAXOS_FIRST..LAST from *from; false for other
 * types (not consumed).  Malformed messages are counted and dropped.
 */
bool wc_paxos_on_message(wc_paxos *p, const wc_addr *from, const uint8_t *msg, size_t len);

/*
 * Compare-and-set on the partition r->pk of r->table_id: the rounds above,
 * decide() on the data of read r (copied), at serial level serial_cl
 * (WC_CL_SERIAL or WC_CL_LOCAL_SERIAL); done(arg, ...) once.  decide NULL:
 * a serial read.  Statuses: WC_OK (res->applied says whether it applied);
 * WC_UNAVAILABLE (too few live participants, no ring); WC_TIMEOUT (time or
 * rounds ran out; detail says contention or which phase); WC_NOT_FOUND
 * (unknown table); WC_INVALID_ARGUMENT (not a serial level, a token-range
 * read); decide's failure; WC_NO_MEMORY.  On failure res->unknown tells
 * whether a proposal of it may still be committed.  REQUIRES: timeout_ms > 0.
 */
void wc_paxos_cas(wc_paxos *p, const wc_store_read *r, wc_consistency serial_cl,
                  uint32_t timeout_ms, wc_paxos_decide_fn decide, void *decide_arg,
                  wc_paxos_done_fn done, void *arg);

/*
 * This replica's state of a partition (for tests and tools): the ballot
 * promised, accepted and committed (zero ballots when none); false when
 * it holds no state for it.
 */
bool wc_paxos_replica_state(const wc_paxos *p, uint32_t table_id, const uint8_t *pk,
                            size_t pk_len, wc_paxos_ballot *promised, wc_paxos_ballot *accepted,
                            wc_paxos_ballot *committed);

/* Requests in flight. */
size_t wc_paxos_pending(const wc_paxos *p);
void wc_paxos_get_stats(const wc_paxos *p, wc_paxos_stats *out);

/* -1, 0, 1 as a is older than, the same as, newer than b. */
int wc_paxos_ballot_cmp(const wc_paxos_ballot *a, const wc_paxos_ballot *b);

/*
 * The durable storage of a replica: the state file under dir (created if
 * missing; paxos_format.h), each append fsynced; a rewrite goes to a
 * temporary file, fsynced, renamed, the directory fsynced.  A damaged
 * tail is reported through log (may be NULL) and cut off.  WC_IO_ERROR,
 * WC_CORRUPTION (not a Paxos state file), WC_NO_MEMORY.  Close with
 * wc_paxos_file_close.
 */
typedef struct wc_paxos_file wc_paxos_file;
wc_status wc_paxos_file_open(const char *dir, void (*log)(void *arg, const char *line),
                             void *log_arg, wc_paxos_file **out);
/* The same through fs (NULL: wc_fs_posix(); tests hand in a faultfs). */
wc_status wc_paxos_file_open_fs(wc_fs *fs, const char *dir,
                                void (*log)(void *arg, const char *line), void *log_arg,
                                wc_paxos_file **out);
void wc_paxos_file_close(wc_paxos_file *f);
wc_paxos_storage wc_paxos_file_storage(wc_paxos_file *f);

#endif /* WC_PAXOS_H */
