/*
 * rowcache.h - the row cache: answers of point reads kept in memory shared
 * by the node and its clients (PostgreSQL backends), so that a backend
 * answers a repeated read itself, without a round trip to the node
 * (Cassandra's row cache, docs/architecture.md "Row cache").
 *
 * A cache is one region (PostgreSQL shared memory, or any MAP_SHARED
 * memory in tests) formatted by wc_rowcache_format: a header, an array of
 * write-generation words per stripe of partitions, one per stripe of
 * tables, and fixed-size slots in sets of WC_ROWCACHE_WAYS.  An entry is
 * the bytes of a request (its key) and the bytes of its answer, tagged with
 * the generations its filler read before it sent the request.  Nobody
 * allocates and nobody takes a lock: a slot has a sequence word (a
 * seqlock), so readers never wait and never use a torn entry, and a filler
 * that finds a slot being written skips the fill.
 *
 * Generation words.  A stripe word (a partition stripe, chosen by a hash of
 * table id and partition key, or a table stripe, by table id) holds
 * (generation << 16) | writers: a writer adds 1 before it applies a change
 * that readers could see (wc_rowcache_change, done false) and, once the
 * change is visible or failed, adds 2^16 - 1 (one generation more, one
 * writer less).  A global epoch changes whenever the node starts or stops
 * serving, which also forgets writers the node left counted when it died.
 *
 * Why a hit is the answer the node would give now (the invalidation
 * argument).  A filler loads the stripe words W0 (partition) and T0 (table)
 * and the epoch E0 before it sends its request, and fills only if neither
 * word counts a writer.  The node reads after that load, so its answer
 * holds every change whose "done" call came before the load (the done call
 * follows visibility) and no change in progress then.  A lookup loads the
 * words again (W1, T1, E1) and hits only if W1 == W0, T1 == T0 and E1 ==
 * E0.  Generations only grow, so equal words mean that no change of the
 * stripe finished between the two loads, and the zero writer count of W1
 * means none is in progress at the second load; a change that began and
 * finished in between would have moved the generation.  So no change to
 * the partition (or table) was visible to the node's read that is not also
 * in the state at the lookup, and none is in the state at the lookup that
 * the read missed.  What remains is time: cells with a TTL expire without
 * any write, so an entry carries the earliest expiry of what it returned
 * and is a miss from that second on.  Stripes are shared by many partitions
 * (hash collisions cost misses, never wrong answers).
 *
 * Thread-safety: every function may be called from any thread or process
 * at any time.  A wc_rowcache handle is private to the process that opened
 * it (it holds pointers into the region); the region holds no pointers.
 */
#ifndef WC_ROWCACHE_H
#define WC_ROWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Slots per set (the associativity). */
#define WC_ROWCACHE_WAYS 8u
/* Bytes of key and answer one slot holds; a larger entry is not cached. */
#define WC_ROWCACHE_SLOT_BYTES 448u

typedef struct wc_rowcache wc_rowcache;

/* The generations a filler read before its request (wc_rowcache_fill_begin). */
typedef struct wc_rowcache_tag {
    bool ok;          /* false: do not fill (a writer was in progress, or no cache) */
    uint32_t table_id;
    uint32_t stripe;  /* the partition stripe */
    uint32_t tstripe; /* the table stripe */
    uint64_t word, tword, epoch;
} wc_rowcache_tag;

typedef struct wc_rowcache_stats {
    uint64_t hits, misses, fills, evictions;
    uint64_t slots;   /* capacity in entries */
    bool enabled;
} wc_rowcache_stats;

/* API: the region */

/* Bytes a region of about `bytes` holds (rounded down to whole sets; 0 if too small). */
size_t wc_rowcache_size(size_t bytes);

/*
 * Format mem (size bytes, from wc_rowcache_size) as an empty, disabled
 * cache.  REQUIRES: mem 64-byte aligned.  WC_INVALID_ARGUMENT if size is
 * too small for one set.
 */
wc_status wc_rowcache_format(void *mem, size_t size);

/*
 * A handle on a formatted region (caller frees it with wc_rowcache_close).
 * WC_CORRUPTION if mem is not a formatted cache of at most size bytes;
 * WC_NO_MEMORY.
 */
wc_status wc_rowcache_open(void *mem, size_t size, wc_rowcache **out);
void wc_rowcache_close(wc_rowcache *rc);

/* API: the node side */

/*
 * Start (enable true) or stop serving: moves the epoch, so that every entry
 * and every tag taken before is stale, and clears the writer counts of
 * every stripe (a node that died left its writes counted).  REQUIRES: no
 * writer of this node runs (called before the node takes requests and
 * after its engine closed).
 */
void wc_rowcache_serve(wc_rowcache *rc, bool enable);

/*
 * The engine's change hook (wc_engine_options.change_hook, arg the
 * wc_rowcache): a change to partition pk of table_id (pk NULL: to the whole
 * table) begins (done false: before anything of it can be visible) or ends
 * (done true: after all of it is visible, or it failed).  Every begin is
 * followed by exactly one end with the same arguments.  Never blocks.
 */
void wc_rowcache_change(void *rc, uint32_t table_id, const uint8_t *pk, size_t pk_len, bool done);

/* API: the client side */

/*
 * Look up the entry of the request key[0..klen) of partition pk of
 * table_id, current at now_sec (seconds since the epoch).  On a hit the
 * answer is copied into buf (cap bytes) and *len is its length; false on a
 * miss (also when the answer does not fit cap, or the cache is disabled).
 */
bool wc_rowcache_lookup(wc_rowcache *rc, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                        const uint8_t *key, size_t klen, int64_t now_sec, uint8_t *buf,
                        size_t cap, size_t *len);

/*
 * Read the generations of partition pk of table_id before sending the
 * request whose answer may be filled (tag->ok false: do not fill).
 */
void wc_rowcache_fill_begin(wc_rowcache *rc, uint32_t table_id, const uint8_t *pk,
                            size_t pk_len, wc_rowcache_tag *tag);

/*
 * Store the answer val[0..vlen) to the request key[0..klen) under tag,
 * valid until expires_sec (seconds since the epoch; 0: no expiry).  Skips
 * the fill (returns false) when the tag is not ok, the entry is larger
 * than a slot, or another process is writing the slot it would take.
 */
bool wc_rowcache_fill(wc_rowcache *rc, const wc_rowcache_tag *tag, const uint8_t *key,
                      size_t klen, const uint8_t *val, size_t vlen, int64_t expires_sec);

/* Count a miss of a read that could not be cached (wc_rowcache_lookup counts its own). */
void wc_rowcache_count_miss(wc_rowcache *rc);

void wc_rowcache_get_stats(wc_rowcache *rc, wc_rowcache_stats *out);

#endif /* WC_ROWCACHE_H */
