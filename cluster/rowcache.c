/*
 * rowcache.c - the shared-memory row cache (contract and the invalidation
 * argument in rowcache.h).
 *
 * Region layout (every part 64-byte aligned):
 *   header | partition stripe words (u64 each) | table stripe words |
 *   set hands (u32 each, padded) | slots (64-byte slot header + key and
 *   answer bytes, WC_ROWCACHE_SLOT_BYTES)
 * Sets of WC_ROWCACHE_WAYS consecutive slots; the set of an entry is chosen
 * by the hash of its key.  Eviction is a clock per set: a hit sets the
 * slot's reference bit, the hand passes over referenced slots once
 * (clearing the bit) and takes the first unreferenced one.  Empty and stale
 * slots (another epoch, or a stripe whose generation moved) are taken
 * first.
 */
#include "rowcache.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <xxhash.h>

#include "alloc.h"

#define WC__RC_MAGIC 0x5743524f57434331ull /* "WCROWCC1" */
#define WC__RC_TSTRIPES 4096u
#define WC__RC_WRITER 1ull
#define WC__RC_DONE ((1ull << 16) - 1) /* one generation more, one writer less */
#define WC__RC_WRITERS(w) ((w)&0xffffu)

/* One counter per cache line: every backend bumps them. */
typedef struct wc__rc_counter {
    alignas(64) _Atomic uint64_t v;
} wc__rc_counter;

typedef struct wc__rc_header {
    uint64_t magic;
    uint64_t size;
    uint32_t nsets, nstripes, ntstripes;
    _Atomic uint32_t enabled;
    alignas(64) _Atomic uint64_t epoch;
    wc__rc_counter hits, misses, fills, evictions;
} wc__rc_header;

typedef struct wc__rc_slot {
    _Atomic uint32_t seq; /* odd while being written */
    _Atomic uint32_t ref; /* clock reference bit */
    uint32_t klen, vlen;  /* 0/0: empty */
    uint64_t khash;
    uint64_t word, tword, epoch;
    int64_t expires;
    uint32_t stripe, tstripe;
    /* then klen key bytes and vlen answer bytes */
} wc__rc_slot;

#define WC__RC_SLOT_SIZE (sizeof(wc__rc_slot) + WC_ROWCACHE_SLOT_BYTES)

_Static_assert(sizeof(wc__rc_slot) == 64, "slot header is one cache line");
_Static_assert(WC__RC_SLOT_SIZE % 64 == 0, "slots stay cache-line aligned");

struct wc_rowcache {
    wc__rc_header *h;
    _Atomic uint64_t *stripes, *tstripes;
    _Atomic uint32_t *hands;
    uint8_t *slots;
};

static size_t wc__align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Partition stripes: about two per slot, a power of two in [1024, 2^20]. */
static uint32_t wc__nstripes(uint32_t nsets)
{
    uint64_t want = (uint64_t)nsets * WC_ROWCACHE_WAYS * 2;
    uint32_t n = 1024;

    while (n < want && n < (1u << 20))
        n <<= 1;
    return n;
}

static size_t wc__layout(uint32_t nsets, size_t *stripes_off, size_t *tstripes_off,
                         size_t *hands_off, size_t *slots_off)
{
    size_t off = wc__align64(sizeof(wc__rc_header));

    *stripes_off = off;
    off += wc__align64((size_t)wc__nstripes(nsets) * sizeof(uint64_t));
    *tstripes_off = off;
    off += wc__align64((size_t)WC__RC_TSTRIPES * sizeof(uint64_t));
    *hands_off = off;
    off += wc__align64((size_t)nsets * sizeof(uint32_t));
    *slots_off = off;
    return off + (size_t)nsets * WC_ROWCACHE_WAYS * WC__RC_SLOT_SIZE;
}

/* The most sets that fit bytes (0: not even one). */
static uint32_t wc__sets_for(size_t bytes)
{
    size_t a, b, c, d;
    uint64_t lo = 0, hi = bytes / (WC_ROWCACHE_WAYS * WC__RC_SLOT_SIZE) + 1;

    if (hi > UINT32_MAX)
        hi = UINT32_MAX;
    while (lo + 1 < hi) { /* largest n with layout(n) <= bytes */
        uint64_t mid = lo + (hi - lo) / 2;

        if (wc__layout((uint32_t)mid, &a, &b, &c, &d) <= bytes)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

size_t wc_rowcache_size(size_t bytes)
{
    uint32_t nsets = wc__sets_for(bytes);
    size_t a, b, c, d;

    return nsets ? wc__layout(nsets, &a, &b, &c, &d) : 0;
}

wc_status wc_rowcache_format(void *mem, size_t size)
{
    uint32_t nsets = wc__sets_for(size);
    wc__rc_header *h = mem;

    if (nsets == 0)
        return wc_error(WC_INVALID_ARGUMENT, "a row cache needs at least %zu bytes",
                        wc_rowcache_size((size_t)1 << 20));
    memset(mem, 0, size);
    h->size = size;
    h->nsets = nsets;
    h->nstripes = wc__nstripes(nsets);
    h->ntstripes = WC__RC_TSTRIPES;
    atomic_store(&h->epoch, 1);
    atomic_store(&h->enabled, 0);
    atomic_thread_fence(memory_order_seq_cst);
    h->magic = WC__RC_MAGIC;
    return WC_OK;
}

wc_status wc_rowcache_open(void *mem, size_t size, wc_rowcache **out)
{
    wc__rc_header *h = mem;
    size_t so, to, ho, lo;
    wc_rowcache *rc;

    *out = NULL;
    if (mem == NULL || size < sizeof(*h) || h->magic != WC__RC_MAGIC || h->size > size ||
        h->nsets == 0 || h->nstripes != wc__nstripes(h->nsets) ||
        h->ntstripes != WC__RC_TSTRIPES || wc__layout(h->nsets, &so, &to, &ho, &lo) > h->size)
        return wc_error(WC_CORRUPTION, "not a formatted row cache");
    if ((rc = wc_calloc(1, sizeof(*rc))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening the row cache");
    rc->h = h;
    rc->stripes = (_Atomic uint64_t *)((uint8_t *)mem + so);
    rc->tstripes = (_Atomic uint64_t *)((uint8_t *)mem + to);
    rc->hands = (_Atomic uint32_t *)((uint8_t *)mem + ho);
    rc->slots = (uint8_t *)mem + lo;
    *out = rc;
    return WC_OK;
}

void wc_rowcache_close(wc_rowcache *rc)
{
    wc_free(rc);
}

/* ---------------------------------------------------------------- hashing */

/* Bytes p[0..n) hashed with the table id as the seed. */
static uint64_t wc__hash(uint32_t table_id, const uint8_t *p, size_t n)
{
    return XXH3_64bits_withSeed(p, n, table_id);
}

static uint32_t wc__stripe(const wc_rowcache *rc, uint32_t table_id, const uint8_t *pk,
                           size_t pk_len)
{
    return (uint32_t)(wc__hash(table_id, pk, pk_len) & (rc->h->nstripes - 1));
}

static uint32_t wc__tstripe(uint32_t table_id)
{
    return (uint32_t)(XXH3_64bits(&table_id, sizeof(table_id)) & (WC__RC_TSTRIPES - 1));
}

static wc__rc_slot *wc__slot(const wc_rowcache *rc, uint64_t i)
{
    return (wc__rc_slot *)(rc->slots + i * WC__RC_SLOT_SIZE);
}

static void wc__count(wc__rc_counter *c)
{
    atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- node side */

void wc_rowcache_serve(wc_rowcache *rc, bool enable)
{
    wc__rc_header *h = rc->h;

    atomic_store(&h->enabled, 0);
    atomic_fetch_add(&h->epoch, 1);
    /* no writer runs: keep each generation, forget writers a dead node left counted */
    for (uint32_t i = 0; i < h->nstripes; i++)
        atomic_store(&rc->stripes[i], (atomic_load(&rc->stripes[i]) | 0xffffu) + 1);
    for (uint32_t i = 0; i < h->ntstripes; i++)
        atomic_store(&rc->tstripes[i], (atomic_load(&rc->tstripes[i]) | 0xffffu) + 1);
    if (enable)
        atomic_store(&h->enabled, 1);
}

void wc_rowcache_change(void *arg, uint32_t table_id, const uint8_t *pk, size_t pk_len, bool done)
{
    wc_rowcache *rc = arg;
    _Atomic uint64_t *w = pk ? &rc->stripes[wc__stripe(rc, table_id, pk, pk_len)]
                             : &rc->tstripes[wc__tstripe(table_id)];

    /* seq_cst: the begin is ordered before the change's stores, the end after them */
    atomic_fetch_add(w, done ? WC__RC_DONE : WC__RC_WRITER);
}

/* ---------------------------------------------------------------- client side */

void wc_rowcache_fill_begin(wc_rowcache *rc, uint32_t table_id, const uint8_t *pk,
                            size_t pk_len, wc_rowcache_tag *tag)
{
    memset(tag, 0, sizeof(*tag));
    if (rc == NULL || !atomic_load(&rc->h->enabled))
        return;
    tag->table_id = table_id;
    tag->stripe = wc__stripe(rc, table_id, pk, pk_len);
    tag->tstripe = wc__tstripe(table_id);
    tag->epoch = atomic_load(&rc->h->epoch);
    tag->word = atomic_load(&rc->stripes[tag->stripe]);
    tag->tword = atomic_load(&rc->tstripes[tag->tstripe]);
    tag->ok = WC__RC_WRITERS(tag->word) == 0 && WC__RC_WRITERS(tag->tword) == 0 &&
              atomic_load(&rc->h->enabled);
}

/* True while slot s (a copy of its header) still answers for the current generations. */
static bool wc__current(wc_rowcache *rc, const wc__rc_slot *s, uint64_t epoch)
{
    return s->epoch == epoch && s->stripe < rc->h->nstripes &&
           s->tstripe < rc->h->ntstripes && atomic_load(&rc->stripes[s->stripe]) == s->word &&
           atomic_load(&rc->tstripes[s->tstripe]) == s->tword;
}

bool wc_rowcache_lookup(wc_rowcache *rc, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                        const uint8_t *key, size_t klen, int64_t now_sec, uint8_t *buf,
                        size_t cap, size_t *len)
{
    wc__rc_header *h;
    uint64_t khash, base, epoch;
    uint32_t stripe, tstripe;

    if (rc == NULL)
        return false;
    h = rc->h;
    if (!atomic_load(&h->enabled) || klen == 0 || klen > WC_ROWCACHE_SLOT_BYTES)
        goto miss;
    khash = wc__hash(table_id, key, klen);
    base = (khash % h->nsets) * WC_ROWCACHE_WAYS;
    stripe = wc__stripe(rc, table_id, pk, pk_len);
    tstripe = wc__tstripe(table_id);
    epoch = atomic_load(&h->epoch);
    for (uint32_t w = 0; w < WC_ROWCACHE_WAYS; w++) {
        wc__rc_slot *s = wc__slot(rc, base + w);
        const uint8_t *data = (const uint8_t *)(s + 1);
        uint32_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire), s2;
        wc__rc_slot copy;
        bool same;

        if (s1 & 1)
            continue;
        memcpy(&copy, s, sizeof(copy));
        if (copy.khash != khash || copy.klen != klen || copy.stripe != stripe ||
            copy.tstripe != tstripe || copy.vlen > WC_ROWCACHE_SLOT_BYTES - klen)
            continue;
        same = memcmp(data, key, klen) == 0;
        if (same && copy.vlen <= cap)
            memcpy(buf, data + klen, copy.vlen);
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (s1 != s2 || !same)
            continue; /* torn (being rewritten), or another key of the same hash */
        /* the generations the entry was filled under must still be the current ones */
        if (copy.vlen > cap || !wc__current(rc, &copy, epoch) ||
            (copy.expires != 0 && now_sec >= copy.expires) || !atomic_load(&h->enabled))
            break;
        atomic_store_explicit(&s->ref, 1, memory_order_relaxed);
        *len = copy.vlen;
        wc__count(&h->hits);
        return true;
    }
miss:
    wc__count(&h->misses);
    return false;
}

void wc_rowcache_count_miss(wc_rowcache *rc)
{
    if (rc != NULL)
        wc__count(&rc->h->misses);
}

/* The slot of set base to fill with key khash/klen: the same key, an unused one, or the clock's. */
static uint64_t wc__victim(wc_rowcache *rc, uint64_t set, uint64_t khash, size_t klen,
                           bool *evicts)
{
    uint64_t base = set * WC_ROWCACHE_WAYS, epoch = atomic_load(&rc->h->epoch);
    uint32_t hand;

    *evicts = false;
    for (uint32_t w = 0; w < WC_ROWCACHE_WAYS; w++) {
        wc__rc_slot copy;

        memcpy(&copy, wc__slot(rc, base + w), sizeof(copy)); /* a hint: torn is harmless */
        if (copy.klen == 0 || (copy.khash == khash && copy.klen == klen) ||
            !wc__current(rc, &copy, epoch))
            return base + w;
    }
    *evicts = true;
    for (uint32_t n = 0; n < 2 * WC_ROWCACHE_WAYS; n++) {
        wc__rc_slot *s;

        hand = atomic_fetch_add_explicit(&rc->hands[set], 1, memory_order_relaxed);
        s = wc__slot(rc, base + hand % WC_ROWCACHE_WAYS);
        if (!atomic_exchange_explicit(&s->ref, 0, memory_order_relaxed))
            return base + hand % WC_ROWCACHE_WAYS;
    }
    return base + hand % WC_ROWCACHE_WAYS;
}

bool wc_rowcache_fill(wc_rowcache *rc, const wc_rowcache_tag *tag, const uint8_t *key,
                      size_t klen, const uint8_t *val, size_t vlen, int64_t expires_sec)
{
    uint64_t khash, set;
    wc__rc_slot *s;
    uint8_t *data;
    uint32_t seq;
    bool evicts;

    if (rc == NULL || !tag->ok || klen == 0 || klen > WC_ROWCACHE_SLOT_BYTES ||
        vlen > WC_ROWCACHE_SLOT_BYTES - klen)
        return false;
    khash = wc__hash(tag->table_id, key, klen);
    set = khash % rc->h->nsets;
    s = wc__slot(rc, wc__victim(rc, set, khash, klen, &evicts));
    seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    /* another filler is writing this slot: never wait for it */
    if ((seq & 1) || !atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1,
                                                              memory_order_acq_rel,
                                                              memory_order_relaxed))
        return false;
    atomic_thread_fence(memory_order_release);
    if (evicts && s->klen != 0)
        wc__count(&rc->h->evictions);
    data = (uint8_t *)(s + 1);
    memcpy(data, key, klen);
    memcpy(data + klen, val, vlen);
    s->klen = (uint32_t)klen;
    s->vlen = (uint32_t)vlen;
    s->khash = khash;
    s->word = tag->word;
    s->tword = tag->tword;
    s->epoch = tag->epoch;
    s->expires = expires_sec;
    s->stripe = tag->stripe;
    s->tstripe = tag->tstripe;
    atomic_store_explicit(&s->ref, 0, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
    wc__count(&rc->h->fills);
    return true;
}

void wc_rowcache_get_stats(wc_rowcache *rc, wc_rowcache_stats *out)
{
    wc__rc_header *h = rc->h;

    out->hits = atomic_load_explicit(&h->hits.v, memory_order_relaxed);
    out->misses = atomic_load_explicit(&h->misses.v, memory_order_relaxed);
    out->fills = atomic_load_explicit(&h->fills.v, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&h->evictions.v, memory_order_relaxed);
    out->slots = (uint64_t)h->nsets * WC_ROWCACHE_WAYS;
    out->enabled = atomic_load(&h->enabled) != 0;
}
