/*
 * memtable.c - arena-backed concurrent skiplist of flat keys (memtable.h).
 *
 * Ownership: a wc_memtable owns its arena (every node, key and value), a head
 * node, a scratch buffer for reconciliation and its writer mutex.  All of it
 * is released when the reference count drops to zero; iterators hold a
 * reference, so the memory they point into outlives the last user.
 *
 * Threads: wc_memtable_put runs under the writer mutex, so there is exactly
 * one writer at a time.  Readers (iterators) take no lock:
 *   - a node is fully initialised (key, value pointer, its own next pointers)
 *     before it is linked; each level is linked with a release store and
 *     every next pointer is read with an acquire load, so a reader that
 *     reaches a node sees it complete;
 *   - a node's key never changes; its value pointer is replaced by a release
 *     store of a pointer to a new, complete record (old records stay in the
 *     arena), and readers load it with acquire, so a reader sees either the
 *     old or the new value, never a mix;
 *   - every value record carries the write sequence that put it and points
 *     to the record it replaced: an iterator opened at sequence s
 *     (wc_memtable_iter_at) follows that chain to the newest record of
 *     sequence <= s and skips nodes that have none, so the writes of one
 *     sequence (one commit-log record) appear to it all at once;
 *   - the list height is read relaxed: a reader that sees a new height before
 *     the head's new levels are linked just finds NULL there and goes down.
 * The entry count and memory use are atomics that any thread may read.
 *
 * Node layout (one arena allocation, 8-byte aligned):
 *   value pointer | klen u32 | height u32 | next[height] | key bytes
 * Value records ({ prev record, u64 seq, u32 len, len bytes }) live in a second arena, so that the
 * nodes a search walks stay packed together (fewer cache and TLB misses on
 * random inserts) instead of being spread out by the values between them.
 */
#include "memtable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "coding.h"
#include "keys.h"
#include "row.h"

#define WC_SL_MAX_HEIGHT 12
/* Longest valid flat key: prefix, kind byte and the longest clustering key. */
#define WC_MEMTABLE_MAX_KEY (WC_KEY_PREFIX_LEN(WC_MAX_PK_LEN) + 1 + (size_t)WC_MAX_CK_LEN)

typedef struct wc_sl_node wc_sl_node;

/* A value record: one version of a key's value. */
typedef struct wc__vrec wc__vrec;
struct wc__vrec {
    const wc__vrec *prev; /* the version this one replaced; NULL for the first */
    uint64_t seq;         /* write sequence of the put (wc_memtable_put: 0) */
    uint32_t len;
    uint8_t data[];
};

struct wc_sl_node {
    _Atomic(const wc__vrec *) value; /* newest version */
    uint32_t klen;
    uint32_t height;
    _Atomic(wc_sl_node *) next[]; /* height entries, then the key bytes */
};

struct wc_memtable {
    _Atomic int refs;
    _Atomic int max_height;     /* levels in use, 1..WC_SL_MAX_HEIGHT */
    _Atomic uint64_t entries;   /* distinct keys */
    _Atomic int64_t min_ts;     /* smallest timestamp put so far; INT64_MAX if none */
    wc_sl_node *head;           /* WC_SL_MAX_HEIGHT levels, no key; wc_malloc'd */
    wc_arena arena;             /* nodes (with their keys) */
    wc_arena varena;            /* value records */
    /* writer state, protected by mu */
    pthread_mutex_t mu;
    uint64_t rng;
    wc_buf scratch;             /* reconciliation output, reused */
    /* splice: the neighbours of the last insert position at every level */
    int splice_height;          /* 0: no splice */
    wc_sl_node *sp_prev[WC_SL_MAX_HEIGHT];
    wc_sl_node *sp_next[WC_SL_MAX_HEIGHT];
};

typedef struct wc__mt_iter {
    wc_iter base;
    wc_memtable *m;
    uint64_t seq;         /* newest write sequence visible */
    wc_sl_node *node;     /* NULL: not valid */
    const wc__vrec *vrec; /* version of node visible at seq, loaded when we landed */
} wc__mt_iter;

/* -------------------------------------------------------------- helpers */

static inline const uint8_t *wc__node_key(const wc_sl_node *n)
{
    return (const uint8_t *)(n->next + n->height);
}

static inline wc_sl_node *wc__next(wc_sl_node *n, int level)
{
    return atomic_load_explicit(&n->next[level], memory_order_acquire);
}

/* Newest version of n's value put at a sequence <= seq; NULL if none. */
static inline const wc__vrec *wc__visible(const wc_sl_node *n, uint64_t seq)
{
    const wc__vrec *r = atomic_load_explicit(&((wc_sl_node *)n)->value, memory_order_acquire);

    while (r != NULL && r->seq > seq)
        r = r->prev;
    return r;
}

/* A new version of len bytes copied from data; NULL when the arena is out of memory. */
static wc__vrec *wc__vrec_new(wc_memtable *m, const wc__vrec *prev, uint64_t seq,
                              const uint8_t *data, size_t len)
{
    wc__vrec *r = wc_arena_alloc(&m->varena, sizeof(wc__vrec) + len);

    if (r == NULL)
        return NULL;
    r->prev = prev;
    r->seq = seq;
    r->len = (uint32_t)len;
    if (len)
        memcpy(r->data, data, len);
    return r;
}

/*
 * wc_bytes_cmp order.  Most keys differ in their first 8 bytes (the token),
 * which one integer comparison settles; equal tokens fall back to memcmp.
 */
static inline int wc__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (alen >= 8 && blen >= 8) {
        uint64_t x, y;

        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) {
            x = __builtin_bswap64(x);
            y = __builtin_bswap64(y);
            return x < y ? -1 : 1;
        }
        return wc_bytes_cmp(a + 8, alen - 8, b + 8, blen - 8);
    }
#endif
    return wc_bytes_cmp(a, alen, b, blen);
}

/* Compare node n's key with key; the head never reaches here. */
static inline int wc__node_cmp(const wc_sl_node *n, const uint8_t *key, size_t klen)
{
    return wc__key_cmp(wc__node_key(n), n->klen, key, klen);
}

static size_t wc__node_size(int height, size_t klen)
{
    return sizeof(wc_sl_node) + (size_t)height * sizeof(_Atomic(wc_sl_node *)) + klen;
}

/* Height with P(h > k) = 4^-k, capped at WC_SL_MAX_HEIGHT.  Writer only. */
static int wc__random_height(wc_memtable *m)
{
    uint64_t x = m->rng;
    int h = 1;

    /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    x *= 0x2545F4914F6CDD1Dull;
    x >>= 32; /* high bits are the good ones */
    while (h < WC_SL_MAX_HEIGHT && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

/*
 * First node with key >= key, or NULL.  If prev is not NULL, fills prev[i]
 * (last node < key at level i) and next[i] (its successor) for every level
 * below the current height.  Safe for readers (prev == NULL) and the writer.
 */
static wc_sl_node *wc__find_ge(wc_memtable *m, const uint8_t *key, size_t klen,
                               wc_sl_node **prev, wc_sl_node **next)
{
    wc_sl_node *x = m->head;
    int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
    wc_sl_node *last_cmp = NULL; /* successor already known to be >= key */

    for (;;) {
        wc_sl_node *n = wc__next(x, level);

        if (n != NULL && n != last_cmp) {
            /* overlap the miss on the node after n with comparing n */
            __builtin_prefetch(atomic_load_explicit(&n->next[level], memory_order_relaxed));
            if (wc__node_cmp(n, key, klen) < 0) {
                x = n;
                continue;
            }
        }
        if (prev) {
            prev[level] = x;
            next[level] = n;
        }
        if (level == 0)
            return n;
        last_cmp = n;
        level--;
    }
}

/* Last node whose key is < key (<= key if le), or the head if none.  Safe for readers. */
static wc_sl_node *wc__find_lt(wc_memtable *m, const uint8_t *key, size_t klen, bool le)
{
    wc_sl_node *x = m->head;
    int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
    int limit = le ? 0 : -1; /* move forward while cmp(n, key) <= limit */
    wc_sl_node *last_cmp = NULL;

    for (;;) {
        wc_sl_node *n = wc__next(x, level);

        if (n != NULL && n != last_cmp && wc__node_cmp(n, key, klen) <= limit) {
            x = n;
            continue;
        }
        if (level == 0)
            return x;
        last_cmp = n;
        level--;
    }
}

/* Last node of the list, or the head if it is empty. */
static wc_sl_node *wc__find_last(wc_memtable *m)
{
    wc_sl_node *x = m->head;
    int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;

    for (;;) {
        wc_sl_node *n = wc__next(x, level);

        if (n != NULL) {
            x = n;
            continue;
        }
        if (level == 0)
            return x;
        level--;
    }
}

/*
 * Writer: find the insert position of key, filling prev/next for every level
 * below the current height, and return the node equal to key or NULL.  Uses
 * the splice of the previous insert when it still brackets key, which makes
 * ascending (time series) inserts cost a few comparisons.
 */
static wc_sl_node *wc__find_for_insert(wc_memtable *m, const uint8_t *key, size_t klen,
                                       wc_sl_node **prev, wc_sl_node **next)
{
    int height = atomic_load_explicit(&m->max_height, memory_order_relaxed);
    int level, i;
    bool after_prev0;

    if (m->splice_height != height)
        return wc__find_ge(m, key, klen, prev, next);

    /*
     * sp_prev[] is non-increasing and sp_next[] non-decreasing with the level,
     * and sp_prev[i] -> sp_next[i] are adjacent at level i.  Find the lowest
     * level whose pair brackets key: prev < key < next.
     */
    after_prev0 = m->sp_prev[0] == m->head || wc__node_cmp(m->sp_prev[0], key, klen) < 0;
    for (level = 0; level < height; level++) {
        wc_sl_node *p = m->sp_prev[level], *n = m->sp_next[level];

        if (!after_prev0 && p != m->head && wc__node_cmp(p, key, klen) >= 0)
            continue;
        if (n != NULL && wc__node_cmp(n, key, klen) <= 0)
            continue;
        break;
    }
    if (level == height)
        return wc__find_ge(m, key, klen, prev, next);

    for (i = height - 1; i >= level; i--) {
        prev[i] = m->sp_prev[i];
        next[i] = m->sp_next[i];
    }
    /* key is strictly between prev[level] and next[level]: descend from there */
    for (i = level - 1; i >= 0; i--) {
        wc_sl_node *x = prev[i + 1];
        wc_sl_node *n;

        for (;;) {
            n = wc__next(x, i);
            if (n != NULL && n != next[i + 1] && wc__node_cmp(n, key, klen) < 0) {
                x = n;
                continue;
            }
            break;
        }
        prev[i] = x;
        next[i] = n;
    }
    return next[0];
}

/* --------------------------------------------------------------- lifetime */

wc_status wc_memtable_new(wc_memtable **out)
{
    wc_memtable *m;
    size_t hsize = wc__node_size(WC_SL_MAX_HEIGHT, 0);

    *out = NULL;
    m = wc_calloc(1, sizeof(*m));
    if (m == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating a memtable");
    m->head = wc_calloc(1, hsize);
    if (m->head == NULL)
        goto fail;
    m->head->height = WC_SL_MAX_HEIGHT;
    m->head->klen = 0;
    for (int i = 0; i < WC_SL_MAX_HEIGHT; i++)
        atomic_init(&m->head->next[i], NULL);
    atomic_init(&m->head->value, NULL);
    if (pthread_mutex_init(&m->mu, NULL) != 0)
        goto fail;
    atomic_init(&m->refs, 1);
    atomic_init(&m->max_height, 1);
    atomic_init(&m->entries, 0);
    atomic_init(&m->min_ts, INT64_MAX);
    wc_arena_init(&m->arena, WC_ARENA_HUGE_BLOCK);
    wc_arena_init(&m->varena, WC_ARENA_DEFAULT_BLOCK);
    wc_buf_init(&m->scratch);
    m->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)m;
    if (m->rng == 0)
        m->rng = 1;
    m->splice_height = 0;
    *out = m;
    return WC_OK;

fail:
    wc_free(m->head);
    wc_free(m);
    return wc_error(WC_NO_MEMORY, "out of memory creating a memtable");
}

void wc_memtable_ref(wc_memtable *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

static void wc__memtable_destroy(wc_memtable *m)
{
    wc_arena_destroy(&m->arena);
    wc_arena_destroy(&m->varena);
    wc_buf_free(&m->scratch);
    pthread_mutex_destroy(&m->mu);
    wc_free(m->head);
    wc_free(m);
}

void wc_memtable_unref(wc_memtable *m)
{
    if (m == NULL)
        return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        wc__memtable_destroy(m);
}

int64_t wc_memtable_min_timestamp(const wc_memtable *m)
{
    return atomic_load_explicit(&((wc_memtable *)m)->min_ts, memory_order_acquire);
}

size_t wc_memtable_memory(const wc_memtable *m)
{
    return wc_arena_memory(&m->arena) + wc_arena_memory(&m->varena);
}

uint64_t wc_memtable_entries(const wc_memtable *m)
{
    return atomic_load_explicit(&((wc_memtable *)m)->entries, memory_order_relaxed);
}

/* -------------------------------------------------------------------- put */

/* Check key and value; WC_OK or WC_INVALID_ARGUMENT.  *kind gets the key kind. */
static wc_status wc__validate(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                              uint8_t *kind, bool check_value)
{
    wc_key_parts kp;

    if (key == NULL || klen > WC_MEMTABLE_MAX_KEY || !wc_key_parse(key, klen, &kp))
        return wc_error(WC_INVALID_ARGUMENT, "memtable put: malformed flat key (%zu bytes)", klen);
    if (vlen > UINT32_MAX - 8 || (value == NULL && vlen > 0))
        return wc_error(WC_INVALID_ARGUMENT, "memtable put: value of %zu bytes is too large",
                        vlen);
    switch (kp.kind) {
    case WC_KIND_HEADER:
        if (check_value && !wc_header_validate(value, vlen))
            return wc_error(WC_INVALID_ARGUMENT, "memtable put: malformed partition header");
        break;
    case WC_KIND_STATIC:
    case WC_KIND_ROW:
        if (check_value && !wc_row_validate(value, vlen))
            return wc_error(WC_INVALID_ARGUMENT, "memtable put: malformed row");
        break;
    default:
        return wc_error(WC_INVALID_ARGUMENT, "memtable put: key kind 0x%02x cannot be stored",
                        kp.kind);
    }
    *kind = kp.kind;
    return WC_OK;
}

/*
 * Reconcile the stored value of n with value and publish the result as a new
 * version of sequence seq (readers at older sequences keep the old one).  Under mu.
 */
static wc_status wc__put_existing(wc_memtable *m, wc_sl_node *n, uint8_t kind,
                                  const uint8_t *value, size_t vlen, uint64_t seq)
{
    const wc__vrec *old = atomic_load_explicit(&n->value, memory_order_relaxed);
    size_t olen = old->len;
    wc_status st;
    wc__vrec *rec;

    wc_buf_reset(&m->scratch);
    if (kind == WC_KIND_HEADER)
        st = wc_header_merge(old->data, olen, value, vlen, &m->scratch);
    else
        st = wc_row_merge(old->data, olen, value, vlen, &m->scratch);
    if (st == WC_OK)
        st = wc_buf_status(&m->scratch);
    if (st != WC_OK)
        return st;
    if (m->scratch.len > UINT32_MAX - 8)
        return wc_error(WC_INVALID_ARGUMENT, "memtable put: reconciled value too large");
    /* rewriting what is already there (replay, retries) allocates nothing */
    if (m->scratch.len == olen && memcmp(m->scratch.data, old->data, olen) == 0)
        return WC_OK;
    rec = wc__vrec_new(m, old, seq, m->scratch.data, m->scratch.len);
    if (rec == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory in memtable arena");
    atomic_store_explicit(&n->value, (const wc__vrec *)rec, memory_order_release);
    return WC_OK;
}

static wc_status wc__put(wc_memtable *m, const uint8_t *key, size_t klen, const uint8_t *value,
                         size_t vlen, bool check_value, uint64_t seq);

wc_status wc_memtable_put(wc_memtable *m, const uint8_t *key, size_t klen, const uint8_t *value,
                          size_t vlen)
{
    return wc__put(m, key, klen, value, vlen, true, 0);
}

wc_status wc_memtable_put_validated(wc_memtable *m, const uint8_t *key, size_t klen,
                                    const uint8_t *value, size_t vlen, uint64_t seq)
{
    return wc__put(m, key, klen, value, vlen, false, seq);
}

static wc_status wc__put(wc_memtable *m, const uint8_t *key, size_t klen, const uint8_t *value,
                         size_t vlen, bool check_value, uint64_t seq)
{
    wc_sl_node *prev[WC_SL_MAX_HEIGHT], *next[WC_SL_MAX_HEIGHT];
    wc_sl_node *n, *x;
    uint8_t kind = 0;
    wc_status st;
    int height, cur;
    size_t nsize;
    wc__vrec *rec;

    st = wc__validate(key, klen, value, vlen, &kind, check_value);
    if (st != WC_OK)
        return st;

    pthread_mutex_lock(&m->mu);
    {
        /* published before the entry: a purge check never misses this timestamp */
        int64_t ts = wc_blob_min_timestamp(kind, value, vlen);
        if (ts < atomic_load_explicit(&m->min_ts, memory_order_relaxed))
            atomic_store_explicit(&m->min_ts, ts, memory_order_release);
    }
    n = wc__find_for_insert(m, key, klen, prev, next);
    if (n != NULL && wc__node_cmp(n, key, klen) == 0) {
        /* prev/next still describe adjacent pairs: keep them as the splice */
        m->splice_height = atomic_load_explicit(&m->max_height, memory_order_relaxed);
        memcpy(m->sp_prev, prev, sizeof(prev[0]) * (size_t)m->splice_height);
        memcpy(m->sp_next, next, sizeof(next[0]) * (size_t)m->splice_height);
        st = wc__put_existing(m, n, kind, value, vlen, seq);
        pthread_mutex_unlock(&m->mu);
        return st;
    }

    height = wc__random_height(m);
    nsize = wc__node_size(height, klen);
    /*
     * Node and value come from two arenas: take first the piece that needs a
     * new block (the one that can fail), so that a failure leaves both arenas
     * as they were unless both needed a block at once.
     */
    if (wc_arena_fits(&m->arena, nsize)) {
        rec = wc__vrec_new(m, NULL, seq, value, vlen);
        x = rec ? wc_arena_alloc(&m->arena, nsize) : NULL;
    } else {
        x = wc_arena_alloc(&m->arena, nsize);
        rec = x ? wc__vrec_new(m, NULL, seq, value, vlen) : NULL;
    }
    if (x == NULL || rec == NULL) {
        /* the search above changed nothing; the old splice is still exact */
        pthread_mutex_unlock(&m->mu);
        return wc_error(WC_NO_MEMORY, "out of memory in memtable arena");
    }
    x->klen = (uint32_t)klen;
    x->height = (uint32_t)height;
    memcpy((uint8_t *)wc__node_key(x), key, klen);
    atomic_init(&x->value, (const wc__vrec *)rec);

    cur = atomic_load_explicit(&m->max_height, memory_order_relaxed);
    if (height > cur) {
        for (int i = cur; i < height; i++) {
            prev[i] = m->head;
            next[i] = NULL;
        }
        /*
         * Readers may see the new height before the head links below; they
         * then find NULL at those levels and move down, which is correct.
         */
        atomic_store_explicit(&m->max_height, height, memory_order_relaxed);
        cur = height;
    }
    for (int i = 0; i < height; i++) {
        /* x is not reachable yet, so its own links need no ordering */
        atomic_store_explicit(&x->next[i], next[i], memory_order_relaxed);
        atomic_store_explicit(&prev[i]->next[i], x, memory_order_release);
    }
    for (int i = 0; i < height; i++)
        prev[i] = x;
    memcpy(m->sp_prev, prev, sizeof(prev[0]) * (size_t)cur);
    memcpy(m->sp_next, next, sizeof(next[0]) * (size_t)cur);
    m->splice_height = cur;
    atomic_store_explicit(&m->entries,
                          atomic_load_explicit(&m->entries, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    pthread_mutex_unlock(&m->mu);
    return WC_OK;
}

/* --------------------------------------------------------------- iterator */

/* Land on n, or on the first node after it with a version visible at it->seq. */
static inline void wc__it_land(wc__mt_iter *it, wc_sl_node *n)
{
    const wc__vrec *r = NULL;

    while (n != NULL && (r = wc__visible(n, it->seq)) == NULL)
        n = wc__next(n, 0);
    it->node = n;
    it->vrec = r;
}

/* Land on n (the head: not valid), or on the last node before it with a visible version. */
static void wc__it_land_back(wc__mt_iter *it, wc_sl_node *n)
{
    const wc__vrec *r = NULL;

    while (n != it->m->head && (r = wc__visible(n, it->seq)) == NULL)
        n = wc__find_lt(it->m, wc__node_key(n), n->klen, false);
    it->node = n == it->m->head ? NULL : n;
    it->vrec = it->node ? r : NULL;
}

static bool wc__it_valid(wc_iter *base)
{
    return ((wc__mt_iter *)base)->node != NULL;
}

static void wc__it_seek_first(wc_iter *base)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    wc__it_land(it, wc__next(it->m->head, 0));
}

static void wc__it_seek_last(wc_iter *base)
{
    wc__mt_iter *it = (wc__mt_iter *)base;
    wc__it_land_back(it, wc__find_last(it->m));
}

static void wc__it_seek(wc_iter *base, const uint8_t *target, size_t len)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    wc__it_land(it, wc__find_ge(it->m, target, len, NULL, NULL));
}

static void wc__it_seek_for_prev(wc_iter *base, const uint8_t *target, size_t len)
{
    wc__mt_iter *it = (wc__mt_iter *)base;
    wc__it_land_back(it, wc__find_lt(it->m, target, len, true));
}

static void wc__it_next(wc_iter *base)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    if (it->node)
        wc__it_land(it, wc__next(it->node, 0));
}

static void wc__it_prev(wc_iter *base)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    if (it->node == NULL)
        return;
    wc__it_land_back(it, wc__find_lt(it->m, wc__node_key(it->node), it->node->klen, false));
}

static const uint8_t *wc__it_key(wc_iter *base, size_t *len)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    *len = it->node->klen;
    return wc__node_key(it->node);
}

static const uint8_t *wc__it_value(wc_iter *base, size_t *len)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    *len = it->vrec->len;
    return it->vrec->data;
}

static wc_status wc__it_status(wc_iter *base)
{
    return WC_OK;
}

static void wc__it_destroy(wc_iter *base)
{
    wc__mt_iter *it = (wc__mt_iter *)base;

    wc_memtable_unref(it->m);
    wc_free(it);
}

static const wc_iter_ops wc__memtable_iter_ops = {
    .valid = wc__it_valid,
    .seek_first = wc__it_seek_first,
    .seek_last = wc__it_seek_last,
    .seek = wc__it_seek,
    .seek_for_prev = wc__it_seek_for_prev,
    .next = wc__it_next,
    .prev = wc__it_prev,
    .key = wc__it_key,
    .value = wc__it_value,
    .status = wc__it_status,
    .destroy = wc__it_destroy,
};

wc_iter *wc_memtable_iter(wc_memtable *m)
{
    return wc_memtable_iter_at(m, UINT64_MAX);
}

wc_iter *wc_memtable_iter_at(wc_memtable *m, uint64_t seq)
{
    wc__mt_iter *it = wc_malloc(sizeof(*it));

    if (it == NULL) {
        wc_error(WC_NO_MEMORY, "out of memory creating a memtable iterator");
        return NULL;
    }
    it->base.ops = &wc__memtable_iter_ops;
    it->m = m;
    it->seq = seq;
    it->node = NULL;
    it->vrec = NULL;
    wc_memtable_ref(m);
    return &it->base;
}
