/*
 * ring.h - the token ring: which hosts own which tokens, the primary range
 * of a token, the replicas of a token under a keyspace's replication, the
 * share of the ring each host owns, and the tokens a joining host takes.
 *
 * A wc_ring is an immutable snapshot built from a list of members (host id,
 * internode address, data centre, rack, tokens).  A change of membership
 * builds a new snapshot (wc_ring_build, or wc_ring_with_member from an old
 * one) and the old one stays valid for whoever holds a reference: readers on
 * any thread take the current snapshot from a wc_ring_slot (with a
 * reference), use it for a whole request, and wc_ring_unref it; the last
 * unref frees it.  Every function on a built ring only reads it:
 * thread-safe without locks.
 *
 * Tokens are the signed 64-bit partition tokens of engine/keys.h; the ring
 * covers -2^63 .. 2^63-1 and wraps there.  With the ring's tokens sorted
 * t[0] < t[1] < ... < t[n-1], the primary range of t[i] is (t[i-1], t[i]]
 * and the range of t[0] is (t[n-1], t[0]], the one that wraps past the
 * maximum to the minimum.  A token belongs to the range of the first ring
 * token at or after it, clockwise; past t[n-1] that is t[0].
 *
 * Replica placement (Cassandra's rules):
 *
 *   SimpleStrategy, factor RF: from the range's token clockwise, the first
 *   min(RF, hosts) distinct hosts, data centres and racks ignored.
 *
 *   NetworkTopologyStrategy: for each data centre named with factor F, the
 *   same walk over that DC's hosts takes min(F, hosts of the DC) distinct
 *   hosts, preferring hosts of racks not used yet: a host on a rack already
 *   used is taken only while F - (racks of the DC) such repeats remain, so
 *   every rack of the DC holds a replica before any rack holds two (when F
 *   is at least the number of racks).  A DC named by the keyspace but absent
 *   from the ring gives no replicas: the consistency check counts them.
 *
 * Replicas come out in walk order (the first one owns the range: the
 * primary replica).  wc_ring_replicas walks the ring on each call;
 * wc_placement precomputes the replicas of every range of one ring for one
 * replication description (the cache the coordinator keeps per keyspace
 * and ring snapshot), so that a lookup is one binary search.
 */
#ifndef WC_RING_H
#define WC_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consistency.h"
#include "env.h"
#include "status.h"

#define WC_RING_HOST_ID_LEN 16
#define WC_RING_RACK_NAME_MAX 48 /* including the NUL */
#define WC_RING_MAX_HOSTS 4096
#define WC_RING_MAX_TOKENS_PER_HOST 1536 /* as Cassandra's num_tokens limit */
#define WC_RING_DEFAULT_NUM_TOKENS 16
#define WC_RING_MAX_REPLICAS (WC_REPL_MAX_DCS * WC_RING_MAX_HOSTS)

/*
 * One member of the ring, as given to wc_ring_build (which copies it) and as
 * returned by wc_ring_host (then tokens point into the ring, sorted, valid
 * while the caller holds its reference).
 */
typedef struct wc_ring_member {
    uint8_t host_id[WC_RING_HOST_ID_LEN];
    wc_addr addr;
    char dc[WC_REPL_DC_NAME_MAX];     /* 1..47 characters */
    char rack[WC_RING_RACK_NAME_MAX]; /* 1..47 characters */
    const int64_t *tokens;
    uint32_t ntokens; /* 1..WC_RING_MAX_TOKENS_PER_HOST */
} wc_ring_member;

typedef struct wc_ring wc_ring;
typedef struct wc_placement wc_placement;

/*
 * The current snapshot of a node, for readers on any thread: a writer
 * builds the next ring and publishes it with wc_ring_slot_set; readers take
 * it with wc_ring_slot_get and keep their view until they unref it.  The
 * mutex is held only to swap or reference the pointer.
 */
typedef struct wc_ring_slot {
    pthread_mutex_t mu;
    wc_ring *ring; /* NULL until the first set */
} wc_ring_slot;

/* A source of uniformly random 64-bit values (an env's random_u64, a seeded generator). */
typedef uint64_t (*wc_ring_random_fn)(void *arg);

/* API: snapshots */

/*
 * Build a ring from members[0..n) (copied; the caller keeps its arrays).
 * The result holds one reference.  WC_INVALID_ARGUMENT, with a detail naming
 * the culprit, for no members, more than WC_RING_MAX_HOSTS, a host without
 * tokens or with more than WC_RING_MAX_TOKENS_PER_HOST, a host id or address
 * given twice, a token owned twice, an empty or too long dc or rack name;
 * WC_NO_MEMORY.  *out is set only on WC_OK.
 */
wc_status wc_ring_build(const wc_ring_member *members, size_t n, wc_ring **out);
/*
 * A new ring: the members of old plus m (a joining host), or with m in place
 * of the member of the same host id (a host that moved or changed tokens).
 * old is unchanged.  Errors as wc_ring_build.
 */
wc_status wc_ring_with_member(const wc_ring *old, const wc_ring_member *m, wc_ring **out);
/* Take one more reference (any thread). */
void wc_ring_ref(wc_ring *r);
/* Drop a reference; the last one frees the ring.  NULL is ignored. */
void wc_ring_unref(wc_ring *r);

/* API: the current snapshot */

/* An empty slot. */
void wc_ring_slot_init(wc_ring_slot *s);
/* Drop the slot's reference.  REQUIRES: no thread uses the slot any more. */
void wc_ring_slot_destroy(wc_ring_slot *s);
/* The current ring with a new reference (the caller unrefs it), or NULL if none was set. */
wc_ring *wc_ring_slot_get(wc_ring_slot *s);
/* Make r current (the slot takes its own reference); the previous one is unref'd. */
void wc_ring_slot_set(wc_ring_slot *s, wc_ring *r);

/* API: reading a snapshot (r must be a built ring) */

uint32_t wc_ring_host_count(const wc_ring *r);
size_t wc_ring_token_count(const wc_ring *r);
/* Member i (0 <= i < host count), in the order given to wc_ring_build. */
const wc_ring_member *wc_ring_host(const wc_ring *r, uint32_t i);
/* Index of the host with this id, or -1. */
int32_t wc_ring_find_host(const wc_ring *r, const uint8_t host_id[WC_RING_HOST_ID_LEN]);
/* The i-th ring token in sorted order and the index of its host. */
int64_t wc_ring_token_at(const wc_ring *r, size_t i);
uint32_t wc_ring_owner_at(const wc_ring *r, size_t i);
/*
 * Index i of the ring token whose primary range (t[i-1], t[i]] holds token
 * (wrapping: past the last ring token, 0).  Binary search.
 */
size_t wc_ring_range_index(const wc_ring *r, int64_t token);
/* The host that owns the primary range of token (the ring's first replica). */
uint32_t wc_ring_primary(const wc_ring *r, int64_t token);

/*
 * The replicas of token under repl: host indexes into out[0..cap), in walk
 * order, count in *n.  REQUIRES: repl valid (wc_replication_validate).
 * WC_INVALID_ARGUMENT if cap is smaller than the replicas found.
 */
wc_status wc_ring_replicas(const wc_ring *r, const wc_replication *repl, int64_t token,
                           uint32_t *out, size_t cap, size_t *n);

/*
 * Fraction of the ring each host owns as primary (the token share):
 * out[0..host count), summing to 1.
 */
void wc_ring_ownership(const wc_ring *r, double *out);
/*
 * Effective ownership under repl: the fraction of the ring each host holds
 * a replica of, divided by the replicas each range gets (SimpleStrategy:
 * min(RF, hosts); NetworkTopologyStrategy: the effective factor of the
 * host's DC), into out[0..host count).  For SimpleStrategy the values sum
 * to 1, for NetworkTopologyStrategy to 1 per replicated DC present; hosts
 * of a DC the keyspace does not replicate to get 0.  REQUIRES: repl valid.
 * WC_NO_MEMORY.
 */
wc_status wc_ring_effective_ownership(const wc_ring *r, const wc_replication *repl, double *out);

/* API: precomputed placement */

/*
 * The replicas of every range of r under repl (holds a reference on r).
 * REQUIRES: repl valid.  WC_NO_MEMORY.  The result holds one reference.
 */
wc_status wc_placement_build(wc_ring *r, const wc_replication *repl, wc_placement **out);
void wc_placement_ref(wc_placement *p);
void wc_placement_unref(wc_placement *p);
/* The ring the placement was computed on (no new reference). */
const wc_ring *wc_placement_ring(const wc_placement *p);
/*
 * The replicas of token: *hosts points to the host indexes (valid while the
 * caller holds the placement), in walk order; returns their count.
 */
size_t wc_placement_replicas(const wc_placement *p, int64_t token, const uint32_t **hosts);

/* API: token allocation */

/*
 * Choose ntokens new tokens for a host joining ring r (NULL: the first host
 * of a cluster) into out[0..ntokens), sorted.  The first host of a cluster,
 * or of data centre dc when dc is not NULL, gets evenly spaced tokens from a
 * random offset.  Otherwise each token in turn splits the range of the
 * current ring (only the hosts of dc when it is given) where it lowers
 * imbalance the most: the sum over hosts of their squared token share plus
 * their squared effective ownership for SimpleStrategy with factor
 * local_rf.  Deterministic for the same ring and random values.  REQUIRES:
 * 1 <= ntokens <= WC_RING_MAX_TOKENS_PER_HOST, local_rf >= 1.
 * WC_INVALID_ARGUMENT if no free token is left to split; WC_NO_MEMORY.
 */
wc_status wc_ring_allocate_tokens(const wc_ring *r, const char *dc, uint32_t ntokens,
                                  uint32_t local_rf, wc_ring_random_fn random, void *random_arg,
                                  int64_t *out);

/* Internal: the first index of sorted tokens[0..n) whose token is >= token (n if none). */
size_t wc__token_lower_bound(const int64_t *tokens, size_t n, int64_t token);

#endif /* WC_RING_H */
