/*
 * cache.c - the shared block cache (sstable.h, cache.h).
 *
 * Sharded by a hash of (file_id, offset): each shard has a mutex, an
 * open-addressing table of (hash, entry) slots with linear probing (at most
 * half full; deletion shifts the following slots back, so there are no
 * tombstones), and a list of its entries in insertion order with a sentinel
 * (sentinel.lnext is the oldest).  Eviction is second chance (CLOCK): a hit
 * only sets the entry's referenced bit; the evictor takes the oldest entry,
 * and one with the bit set loses the bit and goes to the back of the list
 * instead.  A shard owns one reference on each cached block; eviction drops
 * it, so blocks that iterators still hold survive until those iterators let
 * go.  A hit costs one lock, a probe that usually reads one slot, the entry
 * and an atomic increment; a miss usually reads one slot.
 */
#include "cache.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"

typedef struct wc__centry {
    uint64_t file_id, off, hash;
    wc_block *b;
    size_t charge;
    bool referenced; /* hit since it was last at the front of the list */
    struct wc__centry *lprev, *lnext;
} wc__centry;

/*
 * Spare buffers kept per shard: a miss decodes into the buffer of a block
 * evicted before instead of allocating (with two reader threads, one
 * thread's evictions freed into the other's malloc arena while its own
 * arena kept growing into fresh pages).
 */
#define WC__CACHE_SPARES 4

typedef struct wc__cslot {
    uint64_t hash;
    wc__centry *e; /* NULL: empty */
} wc__cslot;

typedef struct wc__shard {
    pthread_mutex_t mu;
    wc__cslot *slots;
    size_t nslots; /* power of two, more than twice count */
    size_t count;
    wc__centry lru; /* sentinel */
    size_t usage, capacity;
    uint64_t hits, misses, inserts, evictions;
    /* evicted blocks nobody else held, for the next miss to decode into */
    wc_block *spare[WC__CACHE_SPARES];
    size_t nspare;
    char pad[64]; /* keep shards' mutexes on separate cache lines */
} wc__shard;

struct wc_block_cache {
    size_t capacity;
    uint32_t nshards; /* power of two */
    uint32_t shard_shift;
    wc__shard shards[];
};

#define WC__CACHE_MAX_SHARDS 16
#define WC__CACHE_MIN_SHARD_BYTES (4u << 20)

static inline uint64_t cache_hash(uint64_t file_id, uint64_t off)
{
    uint64_t x = file_id * 0x9e3779b97f4a7c15ull ^ (off + 0x632be59bd9b4e019ull);

    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline wc__shard *shard_of(wc_block_cache *c, uint64_t h)
{
    return &c->shards[c->nshards == 1 ? 0 : (h >> c->shard_shift)];
}

wc_status wc_block_cache_new(size_t capacity_bytes, wc_block_cache **out)
{
    uint32_t n = 1, shift = 64;
    wc_block_cache *c;

    *out = NULL;
    while (n < WC__CACHE_MAX_SHARDS && capacity_bytes / (n * 2) >= WC__CACHE_MIN_SHARD_BYTES) {
        n *= 2;
        shift--;
    }
    c = wc_calloc(1, sizeof(*c) + n * sizeof(wc__shard));
    if (c == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating a block cache");
    c->capacity = capacity_bytes;
    c->nshards = n;
    c->shard_shift = shift;
    for (uint32_t i = 0; i < n; i++) {
        wc__shard *s = &c->shards[i];

        if (pthread_mutex_init(&s->mu, NULL) != 0) {
            for (uint32_t j = 0; j < i; j++) {
                pthread_mutex_destroy(&c->shards[j].mu);
                wc_free(c->shards[j].slots);
            }
            wc_free(c);
            return wc_error(WC_NO_MEMORY, "could not create a mutex");
        }
        s->capacity = capacity_bytes / n;
        s->lru.lnext = s->lru.lprev = &s->lru;
        s->nslots = 128;
        s->slots = wc_calloc(s->nslots, sizeof(*s->slots));
        if (s->slots == NULL) {
            pthread_mutex_destroy(&s->mu);
            for (uint32_t j = 0; j < i; j++) {
                pthread_mutex_destroy(&c->shards[j].mu);
                wc_free(c->shards[j].slots);
            }
            wc_free(c);
            return wc_error(WC_NO_MEMORY, "out of memory creating a block cache");
        }
    }
    *out = c;
    return WC_OK;
}

void wc_block_cache_free(wc_block_cache *c)
{
    if (c == NULL)
        return;
    for (uint32_t i = 0; i < c->nshards; i++) {
        wc__shard *s = &c->shards[i];
        wc__centry *e = s->lru.lnext;

        while (e != &s->lru) {
            wc__centry *n = e->lnext;

            wc_block_unref(e->b);
            wc_free(e);
            e = n;
        }
        while (s->nspare > 0)
            wc_free(s->spare[--s->nspare]);
        wc_free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    wc_free(c);
}

size_t wc_block_cache_usage(const wc_block_cache *cc)
{
    wc_block_cache *c = (wc_block_cache *)cc;
    size_t total = 0;

    for (uint32_t i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].mu);
        total += c->shards[i].usage;
        pthread_mutex_unlock(&c->shards[i].mu);
    }
    return total;
}

static inline void lru_unlink(wc__centry *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
}

static inline void lru_append(wc__shard *s, wc__centry *e)
{
    /* newest at the tail (sentinel.lprev) */
    e->lnext = &s->lru;
    e->lprev = s->lru.lprev;
    e->lprev->lnext = e;
    s->lru.lprev = e;
}

/*
 * Slot of (file_id, off) if cached (*found), else the empty slot where it
 * would go.  REQUIRES: lock held; the table is never full.
 */
static inline size_t slot_find(const wc__shard *s, uint64_t h, uint64_t file_id, uint64_t off,
                               bool *found)
{
    size_t mask = s->nslots - 1, i = h & mask;

    for (;; i = (i + 1) & mask) {
        const wc__cslot *sl = &s->slots[i];

        if (sl->e == NULL) {
            *found = false;
            return i;
        }
        if (sl->hash == h && sl->e->file_id == file_id && sl->e->off == off) {
            *found = true;
            return i;
        }
    }
}

/* Empty slot i, shifting back the entries after it that probed past it.  REQUIRES: lock held. */
static void slot_delete(wc__shard *s, size_t i)
{
    size_t mask = s->nslots - 1, j = i;

    s->slots[i].e = NULL;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (s->slots[j].e == NULL)
            return;
        home = s->slots[j].hash & mask;
        /* the entry at j may stay if its home lies cyclically in (i, j] */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        s->slots[i] = s->slots[j];
        s->slots[j].e = NULL;
        i = j;
    }
}

/*
 * Remove e from the table and the list and drop its reference; a block
 * nobody else holds becomes a spare if there is room.  No new reference can
 * appear meanwhile: lookups need the lock.  REQUIRES: lock held.
 */
static void shard_remove(wc__shard *s, wc__centry *e)
{
    bool found;
    size_t i = slot_find(s, e->hash, e->file_id, e->off, &found);

    if (found && s->slots[i].e == e)
        slot_delete(s, i);
    lru_unlink(e);
    s->count--;
    s->usage -= e->charge;
    if (s->nspare < WC__CACHE_SPARES && atomic_load(&e->b->refs) == 1)
        s->spare[s->nspare++] = e->b;
    else
        wc_block_unref(e->b);
    wc_free(e);
}

/* Double the table.  false (table unchanged) when out of memory. */
static bool shard_grow(wc__shard *s)
{
    size_t nb = s->nslots * 2, mask = nb - 1;
    wc__cslot *ns = wc_calloc(nb, sizeof(*ns));

    if (ns == NULL)
        return false;
    for (size_t i = 0; i < s->nslots; i++) {
        size_t j;

        if (s->slots[i].e == NULL)
            continue;
        for (j = s->slots[i].hash & mask; ns[j].e != NULL; j = (j + 1) & mask)
            ;
        ns[j] = s->slots[i];
    }
    wc_free(s->slots);
    s->slots = ns;
    s->nslots = nb;
    return true;
}

wc_block *wc__cache_lookup(wc_block_cache *c, uint64_t file_id, uint64_t off)
{
    uint64_t h = cache_hash(file_id, off);
    wc__shard *s = shard_of(c, h);
    wc_block *b = NULL;
    bool found;
    size_t i;

    pthread_mutex_lock(&s->mu);
    i = slot_find(s, h, file_id, off, &found);
    if (found) {
        wc__centry *e = s->slots[i].e;

        e->referenced = true;
        b = e->b;
        wc_block_ref(b);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return b;
}

wc_block *wc__cache_take_spare(wc_block_cache *c, uint64_t file_id, uint64_t off)
{
    wc__shard *s = shard_of(c, cache_hash(file_id, off));
    wc_block *b = NULL;

    pthread_mutex_lock(&s->mu);
    if (s->nspare > 0)
        b = s->spare[--s->nspare];
    pthread_mutex_unlock(&s->mu);
    return b;
}

void wc__cache_insert(wc_block_cache *c, uint64_t file_id, uint64_t off, wc_block *b)
{
    uint64_t h = cache_hash(file_id, off);
    wc__shard *s = shard_of(c, h);
    wc__centry *e;
    bool found;
    size_t i;

    e = wc_malloc(sizeof(*e));
    if (e == NULL)
        return;
    e->file_id = file_id;
    e->off = off;
    e->hash = h;
    e->b = b;
    e->charge = b->cap + sizeof(wc_block) + sizeof(*e); /* a reused buffer may exceed len */
    e->referenced = false;
    pthread_mutex_lock(&s->mu);
    /* keep the table at most half full (the probe needs an empty slot) */
    if ((s->count + 1) * 2 > s->nslots && !shard_grow(s)) {
        pthread_mutex_unlock(&s->mu);
        wc_free(e);
        return; /* not cached: the caller keeps its own reference */
    }
    i = slot_find(s, h, file_id, off, &found);
    if (found) {
        /* another thread loaded the same block first */
        pthread_mutex_unlock(&s->mu);
        wc_free(e);
        return;
    }
    wc_block_ref(b);
    s->slots[i].hash = h;
    s->slots[i].e = e;
    lru_append(s, e);
    s->count++;
    s->usage += e->charge;
    s->inserts++;
    while (s->usage > s->capacity && s->lru.lnext != &s->lru) {
        wc__centry *old = s->lru.lnext;

        if (old->referenced || (old == e && e->lnext != &s->lru)) {
            /*
             * second chance: to the back of the list, without the bit; the
             * new block too when every older one was spared (it goes only
             * if it is alone, bigger than the shard)
             */
            old->referenced = false;
            lru_unlink(old);
            lru_append(s, old);
            continue;
        }
        shard_remove(s, old);
        s->evictions++;
    }
    pthread_mutex_unlock(&s->mu);
}

void wc__cache_erase_file(wc_block_cache *c, uint64_t file_id)
{
    for (uint32_t i = 0; i < c->nshards; i++) {
        wc__shard *s = &c->shards[i];
        wc__centry *e;

        pthread_mutex_lock(&s->mu);
        e = s->lru.lnext;
        while (e != &s->lru) {
            wc__centry *n = e->lnext;

            if (e->file_id == file_id)
                shard_remove(s, e);
            e = n;
        }
        pthread_mutex_unlock(&s->mu);
    }
}

void wc__cache_get_stats(wc_block_cache *c, wc_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->capacity = c->capacity;
    for (uint32_t i = 0; i < c->nshards; i++) {
        wc__shard *s = &c->shards[i];

        pthread_mutex_lock(&s->mu);
        out->hits += s->hits;
        out->misses += s->misses;
        out->inserts += s->inserts;
        out->evictions += s->evictions;
        out->entries += s->count;
        out->usage += s->usage;
        pthread_mutex_unlock(&s->mu);
    }
}
