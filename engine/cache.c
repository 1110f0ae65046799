/*
 * cache.c - the shared LRU block cache (sstable.h, cache.h).
 *
 * Sharded by a hash of (file_id, offset): each shard has a mutex, a chained
 * hash table that doubles when it gets full, and a doubly linked LRU list
 * with a sentinel (sentinel.next is the least recently used entry).  A shard
 * owns one reference on each cached block; eviction drops it, so blocks that
 * iterators still hold survive until those iterators let go.  A hit costs
 * one lock, one hash probe, two list splices and an atomic increment.
 */
#include "cache.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"

typedef struct wc__centry {
    uint64_t file_id, off, hash;
    wc_block *b;
    size_t charge;
    struct wc__centry *hnext;
    struct wc__centry *lprev, *lnext;
} wc__centry;

typedef struct wc__shard {
    pthread_mutex_t mu;
    wc__centry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    wc__centry lru; /* sentinel */
    size_t usage, capacity;
    uint64_t hits, misses, inserts, evictions;
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
                wc_free(c->shards[j].buckets);
            }
            wc_free(c);
            return wc_error(WC_NO_MEMORY, "could not create a mutex");
        }
        s->capacity = capacity_bytes / n;
        s->lru.lnext = s->lru.lprev = &s->lru;
        s->nbuckets = 64;
        s->buckets = wc_calloc(s->nbuckets, sizeof(*s->buckets));
        if (s->buckets == NULL) {
            pthread_mutex_destroy(&s->mu);
            for (uint32_t j = 0; j < i; j++) {
                pthread_mutex_destroy(&c->shards[j].mu);
                wc_free(c->shards[j].buckets);
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
        wc_free(s->buckets);
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

static inline wc__centry **bucket_find(wc__shard *s, uint64_t h, uint64_t file_id, uint64_t off)
{
    wc__centry **pp = &s->buckets[h & (s->nbuckets - 1)];

    while (*pp && ((*pp)->hash != h || (*pp)->file_id != file_id || (*pp)->off != off))
        pp = &(*pp)->hnext;
    return pp;
}

/* Remove e from the table and the list and drop its reference.  REQUIRES: lock held. */
static void shard_remove(wc__shard *s, wc__centry *e)
{
    wc__centry **pp = bucket_find(s, e->hash, e->file_id, e->off);

    if (*pp == e)
        *pp = e->hnext;
    lru_unlink(e);
    s->count--;
    s->usage -= e->charge;
    wc_block_unref(e->b);
    wc_free(e);
}

static void shard_grow(wc__shard *s)
{
    size_t nb = s->nbuckets * 2;
    wc__centry **nbk = wc_calloc(nb, sizeof(*nbk));

    if (nbk == NULL)
        return; /* keep the longer chains */
    for (size_t i = 0; i < s->nbuckets; i++) {
        wc__centry *e = s->buckets[i];

        while (e) {
            wc__centry *n = e->hnext;
            size_t j = e->hash & (nb - 1);

            e->hnext = nbk[j];
            nbk[j] = e;
            e = n;
        }
    }
    wc_free(s->buckets);
    s->buckets = nbk;
    s->nbuckets = nb;
}

wc_block *wc__cache_lookup(wc_block_cache *c, uint64_t file_id, uint64_t off)
{
    uint64_t h = cache_hash(file_id, off);
    wc__shard *s = shard_of(c, h);
    wc__centry *e;
    wc_block *b = NULL;

    pthread_mutex_lock(&s->mu);
    e = *bucket_find(s, h, file_id, off);
    if (e) {
        lru_unlink(e);
        lru_append(s, e);
        b = e->b;
        wc_block_ref(b);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return b;
}

void wc__cache_insert(wc_block_cache *c, uint64_t file_id, uint64_t off, wc_block *b)
{
    uint64_t h = cache_hash(file_id, off);
    wc__shard *s = shard_of(c, h);
    wc__centry **pp, *e;

    e = wc_malloc(sizeof(*e));
    if (e == NULL)
        return;
    e->file_id = file_id;
    e->off = off;
    e->hash = h;
    e->b = b;
    e->charge = b->len + sizeof(wc_block) + sizeof(*e);
    e->hnext = NULL;
    pthread_mutex_lock(&s->mu);
    pp = bucket_find(s, h, file_id, off);
    if (*pp) {
        /* another thread loaded the same block first */
        pthread_mutex_unlock(&s->mu);
        wc_free(e);
        return;
    }
    wc_block_ref(b);
    *pp = e;
    lru_append(s, e);
    s->count++;
    s->usage += e->charge;
    s->inserts++;
    while (s->usage > s->capacity && s->lru.lnext != &s->lru) {
        shard_remove(s, s->lru.lnext);
        s->evictions++;
    }
    if (s->count > s->nbuckets)
        shard_grow(s);
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
