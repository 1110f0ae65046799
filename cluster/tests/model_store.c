/*
 * model_store.c - the in-memory replica store of the coordinator's tests
 * (model_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "counter.h"
#include "keys.h"
#include "model_store.h"
#include "mutation.h"
#include "row.h"

/* key: u32 table (big-endian), u16 pk_len (big-endian), pk, u8 kind, ck */
typedef struct ms_entry {
    uint8_t *key;
    size_t key_len;
    uint8_t *blob;
    size_t blob_len;
} ms_entry;

typedef struct ms_pending ms_pending;
struct ms_pending {
    ms_pending *next;
    model_store *m;
    uint64_t timer;
    bool is_read;
    bool is_counter;
    wc_status st;
    wc_store_apply_done adone;
    wc_store_counter_done cdone;
    wc_store_read_done rdone;
    wc_store_keys_done kdone; /* an index_keys */
    void *arg;
    wc_buf raw;
    uint8_t digest[16];
};

struct model_store {
    ms_entry *e;
    size_t n, cap;
    uint64_t applies;
    wc_env *env;
    uint64_t delay_ms;
    ms_pending *pending;
    wc_status fail_st;
    int fail_n;
    /* model_store_set_periodic: acknowledged applies not durable yet, oldest first */
    uint32_t sync_every;
    wc_buf *unsynced;
    size_t nunsynced;
    uint64_t writer;  /* its counter writer id */
    int64_t led;      /* sum of the deltas it resolved as a leader */
    uint32_t stream_table; /* the table of streamed pages (model_store_stream_codec) */
};

model_store *model_store_new(void)
{
    static uint64_t next_writer = 0x5700;
    model_store *m = calloc(1, sizeof(model_store));

    if (m)
        m->writer = ++next_writer;
    return m;
}

int64_t model_store_counter_led(const model_store *m)
{
    return m->led;
}

void model_store_free(model_store *m)
{
    if (m == NULL)
        return;
    model_store_drop_pending(m);
    model_store_power_loss(m);
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        free(m->e[i].blob);
    }
    free(m->e);
    free(m);
}

void model_store_set_delay(model_store *m, wc_env *env, uint64_t delay_ms)
{
    m->env = env;
    m->delay_ms = delay_ms;
}

void model_store_drop_pending(model_store *m)
{
    while (m->pending) {
        ms_pending *p = m->pending;

        m->pending = p->next;
        wc_buf_free(&p->raw);
        free(p);
    }
}

void model_store_set_periodic(model_store *m, uint32_t every)
{
    m->sync_every = every;
}

void model_store_power_loss(model_store *m)
{
    for (size_t i = 0; i < m->nunsynced; i++)
        wc_buf_free(&m->unsynced[i]);
    free(m->unsynced);
    m->unsynced = NULL;
    m->nunsynced = 0;
}

void model_store_fail_applies(model_store *m, wc_status st, int n)
{
    m->fail_st = st;
    m->fail_n = n;
}

size_t model_store_count(const model_store *m)
{
    return m->n;
}

uint64_t model_store_applies(const model_store *m)
{
    return m->applies;
}

static int ms_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c ? c : (alen > blen) - (alen < blen);
}

/* First index whose key is >= key. */
static size_t ms_lower(const model_store *m, const uint8_t *key, size_t len)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (ms_cmp(m->e[mid].key, m->e[mid].key_len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void ms_prefix(wc_buf *k, uint32_t table_id, const void *pk, size_t pk_len)
{
    wc_buf_reset(k);
    wc_buf_put_u8(k, (uint8_t)(table_id >> 24));
    wc_buf_put_u8(k, (uint8_t)(table_id >> 16));
    wc_buf_put_u8(k, (uint8_t)(table_id >> 8));
    wc_buf_put_u8(k, (uint8_t)table_id);
    wc_buf_put_u16be(k, (uint16_t)pk_len);
    wc_buf_append(k, pk, pk_len);
}

static wc_status ms_merge(uint8_t kind, const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen, wc_buf *out)
{
    if (kind == WC_KIND_HEADER)
        return wc_header_merge(a, alen, b, blen, out);
    return wc_row_merge(a, alen, b, blen, out);
}

/* Merge blob into the entry of key (created if absent). */
static wc_status ms_put(model_store *m, const uint8_t *key, size_t key_len, uint8_t kind,
                        const uint8_t *blob, size_t blob_len)
{
    size_t i = ms_lower(m, key, key_len);
    bool found = i < m->n && ms_cmp(m->e[i].key, m->e[i].key_len, key, key_len) == 0;
    wc_buf out;
    wc_status st;

    wc_buf_init(&out);
    if (found)
        st = ms_merge(kind, m->e[i].blob, m->e[i].blob_len, blob, blob_len, &out);
    else
        st = ms_merge(kind, blob, blob_len, blob, blob_len, &out);
    if (st == WC_OK)
        st = wc_buf_status(&out);
    if (st != WC_OK) {
        wc_buf_free(&out);
        return st;
    }
    if (found) {
        free(m->e[i].blob);
    } else {
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 64;
            ms_entry *e = realloc(m->e, cap * sizeof(*e));

            if (e == NULL) {
                wc_buf_free(&out);
                return WC_NO_MEMORY;
            }
            m->e = e;
            m->cap = cap;
        }
        memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(*m->e));
        m->n++;
        m->e[i].key = malloc(key_len);
        memcpy(m->e[i].key, key, key_len);
        m->e[i].key_len = key_len;
    }
    m->e[i].blob = out.data; /* the buffer is handed over */
    m->e[i].blob_len = out.len;
    return WC_OK;
}

/* Validate every mutation, then merge every entry. */
static wc_status ms_apply(model_store *m, const uint8_t *batch, size_t len)
{
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry e;
    const uint8_t *mut;
    size_t mlen;
    wc_buf key;
    wc_status st = WC_OK;
    int r;

    if (wc_batch_parse(batch, len, &bv) != WC_OK)
        return WC_CORRUPTION;
    while ((r = wc_batch_next(&bv, &mut, &mlen)) == 1) {
        if (wc_mutation_parse(mut, mlen, &mv) != WC_OK)
            return WC_CORRUPTION;
        while ((r = wc_mutation_next(&mv, &e)) == 1)
            ;
        if (r < 0)
            return WC_CORRUPTION;
    }
    if (r < 0)
        return WC_CORRUPTION;
    wc_buf_init(&key);
    wc_batch_parse(batch, len, &bv);
    while (st == WC_OK && wc_batch_next(&bv, &mut, &mlen) == 1) {
        wc_mutation_parse(mut, mlen, &mv);
        while (st == WC_OK && wc_mutation_next(&mv, &e) == 1) {
            ms_prefix(&key, mv.table_id, mv.pk, mv.pk_len);
            wc_buf_put_u8(&key, e.kind);
            wc_buf_append(&key, e.ck, e.ck_len);
            st = ms_put(m, key.data, key.len, e.kind, e.blob, e.blob_len);
        }
    }
    wc_buf_free(&key);
    return st;
}

static void ms_fire(void *arg)
{
    ms_pending *p = arg, **pp = &p->m->pending;

    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    if (p->kdone)
        p->kdone(p->arg, p->st, p->st == WC_OK ? p->raw.data : NULL, p->raw.len);
    else if (p->is_read)
        p->rdone(p->arg, p->st, p->st == WC_OK ? p->raw.data : NULL, p->raw.len, p->digest);
    else if (p->is_counter)
        p->cdone(p->arg, p->st, p->st == WC_OK ? p->raw.data : NULL, p->raw.len);
    else
        p->adone(p->arg, p->st);
    wc_buf_free(&p->raw);
    free(p);
}

/* Deliver now, or after the delay. */
static void ms_complete(model_store *m, ms_pending *p)
{
    if (m->delay_ms == 0 || m->env == NULL) {
        ms_fire(p);
        return;
    }
    p->m = m;
    p->next = m->pending;
    m->pending = p;
    p->timer = m->env->ops->timer_start(m->env, m->delay_ms, ms_fire, p);
}

/* Make the unsynced applies durable (in their order). */
static wc_status ms_sync(model_store *m)
{
    wc_status st = WC_OK;

    for (size_t i = 0; i < m->nunsynced; i++) {
        if (st == WC_OK)
            st = ms_apply(m, m->unsynced[i].data, m->unsynced[i].len);
        wc_buf_free(&m->unsynced[i]);
    }
    m->nunsynced = 0;
    return st;
}

/* Periodic mode: keep batch aside (a copy); every sync_every-th one syncs them all. */
static wc_status ms_apply_periodic(model_store *m, const uint8_t *batch, size_t len)
{
    wc_batch_view bv;
    wc_buf *v = realloc(m->unsynced, (m->nunsynced + 1) * sizeof(*v));

    if (wc_batch_parse(batch, len, &bv) != WC_OK)
        return WC_CORRUPTION;
    if (v == NULL)
        return WC_NO_MEMORY;
    m->unsynced = v;
    wc_buf_init(&v[m->nunsynced]);
    wc_buf_append(&v[m->nunsynced++], batch, len);
    if (m->nunsynced >= m->sync_every)
        return ms_sync(m);
    return WC_OK;
}

static void ms_op_apply(void *ctx, const uint8_t *batch, size_t len, wc_store_apply_done done,
                        void *arg)
{
    model_store *m = ctx;
    ms_pending *p = calloc(1, sizeof(*p));

    p->m = m;
    p->adone = done;
    p->arg = arg;
    if (m->fail_n > 0) {
        m->fail_n--;
        p->st = m->fail_st;
    } else {
        p->st = m->sync_every ? ms_apply_periodic(m, batch, len) : ms_apply(m, batch, len);
        m->applies += p->st == WC_OK;
    }
    ms_complete(m, p);
}

static void ms_op_sync(void *ctx, wc_store_apply_done done, void *arg)
{
    model_store *m = ctx;
    ms_pending *p = calloc(1, sizeof(*p));

    p->m = m;
    p->adone = done;
    p->arg = arg;
    p->st = ms_sync(m);
    ms_complete(m, p);
}

/* The stored shard of the model's writer (wc_counter_lookup_fn). */
static wc_status ms_lookup(void *ctx, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                           const uint8_t *ck, size_t ck_len, uint32_t column, wc_counter_shard *s)
{
    model_store *m = ctx;
    const uint8_t *blob;
    size_t len;
    wc_row_view v;
    wc_cell c;

    if (!model_store_get(m, table_id, pk, pk_len, ck, ck_len, &blob, &len) ||
        !wc_row_parse(blob, len, &v))
        return WC_OK;
    while (wc_row_next_cell(&v, &c) == 1)
        if (c.column == column && (c.flags & WC_CELLF_COUNTER))
            (void)wc_counter_find(c.value, c.len, s->writer, s);
    return WC_OK;
}

/* Sum of the delta cells of a batch record. */
static int64_t ms_delta_sum(const uint8_t *batch, size_t len)
{
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry e;
    const uint8_t *mut;
    size_t mlen;
    uint64_t sum = 0;

    if (wc_batch_parse(batch, len, &bv) != WC_OK)
        return 0;
    while (wc_batch_next(&bv, &mut, &mlen) == 1) {
        if (wc_mutation_parse(mut, mlen, &mv) != WC_OK)
            return 0;
        while (wc_mutation_next(&mv, &e) == 1) {
            wc_row_view v;
            wc_cell c;

            if (e.kind == WC_KIND_HEADER || !wc_row_parse(e.blob, e.blob_len, &v))
                continue;
            while (wc_row_next_cell(&v, &c) == 1)
                if (c.flags & WC_CELLF_COUNTER_DELTA)
                    sum += (uint64_t)wc_counter_delta_decode(c.value);
        }
    }
    return (int64_t)sum;
}

/* Resolve the deltas into this store's shards, apply, hand the applied batch back. */
static void ms_op_apply_counter(void *ctx, const uint8_t *batch, size_t len,
                                wc_store_counter_done done, void *arg)
{
    model_store *m = ctx;
    ms_pending *p = calloc(1, sizeof(*p));
    wc_batch_builder bb;
    const uint8_t *out;
    size_t out_len;

    p->m = m;
    p->is_counter = true;
    p->cdone = done;
    p->arg = arg;
    wc_buf_init(&p->raw);
    wc_batch_builder_init(&bb);
    if (m->fail_n > 0) {
        m->fail_n--;
        p->st = m->fail_st;
    } else if ((p->st = wc_counter_resolve(batch, len, m->writer, ms_lookup, m, &bb, &out,
                                           &out_len)) == WC_OK &&
               (p->st = ms_apply(m, out, out_len)) == WC_OK) {
        m->applies++;
        m->led += ms_delta_sum(batch, len);
        wc_buf_append(&p->raw, out, out_len);
    }
    wc_batch_builder_free(&bb);
    ms_complete(m, p);
}

/*
 * The entries of partition pk that r selects, appended to out (without a
 * count) with *count advanced; *rows_left (0: no limit) bounds the rows.
 */
static void ms_read_partition(model_store *m, const wc_store_read *r, const uint8_t *pk,
                              size_t pk_len, wc_buf *out, uint64_t *count, uint64_t *rows_left,
                              bool limited)
{
    uint8_t sflags = 0, eflags = 0;
    size_t first, last, prefix_len, nrows = 0, total, idx[3] = {0}, nfix = 0;
    size_t *rows;
    wc_buf key;

    wc_buf_init(&key);
    ms_prefix(&key, r->table_id, pk, pk_len);
    prefix_len = key.len;
    first = ms_lower(m, key.data, key.len);
    for (last = first; last < m->n; last++)
        if (m->e[last].key_len <= prefix_len || memcmp(m->e[last].key, key.data, prefix_len) != 0)
            break;
    sflags = r->start.unbounded ? WC_BOUND_START_UNBOUNDED
                                : (r->start.inclusive ? WC_BOUND_START_INCL : 0);
    eflags = r->end.unbounded ? WC_BOUND_END_UNBOUNDED : (r->end.inclusive ? WC_BOUND_END_INCL : 0);
    rows = calloc(last - first + 1, sizeof(*rows));
    for (size_t i = first; i < last; i++) {
        uint8_t kind = m->e[i].key[prefix_len];
        const uint8_t *ck = m->e[i].key + prefix_len + 1;
        size_t ck_len = m->e[i].key_len - prefix_len - 1;

        if (kind == WC_KIND_HEADER || (kind == WC_KIND_STATIC && r->include_static))
            idx[nfix++] = i;
        else if (kind == WC_KIND_ROW &&
                 wc_slice_start_ok(sflags, r->start.key, r->start.len, ck, ck_len) &&
                 wc_slice_end_ok(eflags, r->end.key, r->end.len, ck, ck_len))
            rows[nrows++] = i;
    }
    total = nrows;
    if (limited && nrows > *rows_left)
        nrows = *rows_left;
    if (limited)
        *rows_left -= nrows;
    for (size_t k = 0; k < nfix + nrows; k++) {
        /* rows in the read's order, the limit counted in that order */
        size_t i = k < nfix ? idx[k] : rows[r->reverse ? total - 1 - (k - nfix) : k - nfix];

        wc_buf_put_bytes(out, pk, pk_len);
        wc_buf_put_u8(out, m->e[i].key[prefix_len]);
        wc_buf_put_bytes(out, m->e[i].key + prefix_len + 1, m->e[i].key_len - prefix_len - 1);
        wc_buf_put_bytes(out, m->e[i].blob, m->e[i].blob_len);
    }
    *count += nfix + nrows;
    free(rows);
    wc_buf_free(&key);
}

typedef struct ms_part {
    int64_t token;
    const uint8_t *pk;
    size_t pk_len;
} ms_part;

static int ms_part_cmp(const void *a, const void *b)
{
    const ms_part *x = a, *y = b;

    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    return ms_cmp(x->pk, x->pk_len, y->pk, y->pk_len);
}

static bool ms_in_range(const wc_store_read *r, int64_t token)
{
    return (token > r->token_start || (r->token_start == INT64_MIN && token == INT64_MIN)) &&
           token <= r->token_end;
}

/* The raw form of r into out. */
static void ms_read_raw(model_store *m, const wc_store_read *r, wc_buf *out)
{
    uint64_t count = 0, rows_left = r->limit;
    bool limited = r->limit > 0;
    wc_buf body;
    ms_part *parts;
    size_t np = 0;

    wc_buf_init(&body);
    if (!r->token_range) {
        ms_read_partition(m, r, r->pk, r->pk_len, &body, &count, &rows_left, limited);
    } else {
        /* every partition of the table in the range, in token order */
        parts = calloc(m->n + 1, sizeof(*parts));
        for (size_t i = 0; i < m->n; i++) {
            const uint8_t *k = m->e[i].key;
            size_t pk_len = ((size_t)k[4] << 8) | k[5];
            uint32_t table =
                ((uint32_t)k[0] << 24) | ((uint32_t)k[1] << 16) | ((uint32_t)k[2] << 8) | k[3];

            if (table != r->table_id || (np > 0 && parts[np - 1].pk_len == pk_len &&
                                         memcmp(parts[np - 1].pk, k + 6, pk_len) == 0))
                continue;
            if (!ms_in_range(r, wc_token(k + 6, pk_len)))
                continue;
            parts[np].token = wc_token(k + 6, pk_len);
            parts[np].pk = k + 6;
            parts[np++].pk_len = pk_len;
        }
        qsort(parts, np, sizeof(*parts), ms_part_cmp);
        for (size_t i = 0; i < np && (!limited || rows_left > 0); i++)
            ms_read_partition(m, r, parts[i].pk, parts[i].pk_len, &body, &count, &rows_left,
                              limited);
        free(parts);
    }
    wc_buf_put_varint(out, count);
    wc_buf_append(out, body.data, body.len);
    wc_buf_free(&body);
}

static void ms_digest(const uint8_t *p, size_t len, uint8_t out[16])
{
    XXH128_hash_t h = XXH3_128bits(p, len);

    wc_enc_u64(out, h.low64);
    wc_enc_u64(out + 8, h.high64);
}

static void ms_op_read(void *ctx, const wc_store_read *r, wc_store_read_done done, void *arg)
{
    model_store *m = ctx;
    ms_pending *p = calloc(1, sizeof(*p));

    p->m = m;
    p->is_read = true;
    p->rdone = done;
    p->arg = arg;
    wc_buf_init(&p->raw);
    ms_read_raw(m, r, &p->raw);
    p->st = wc_buf_status(&p->raw);
    ms_digest(p->raw.data, p->raw.len, p->digest);
    ms_complete(m, p);
}

/* One entry of a raw result. */
typedef struct ms_raw_entry {
    int64_t token;
    const uint8_t *pk;
    size_t pk_len;
    uint8_t kind;
    const uint8_t *ck, *blob;
    size_t ck_len, blob_len;
    size_t src;
} ms_raw_entry;

/* Same partition and key, ignoring the source. */
static int ms_entry_key_cmp(const ms_raw_entry *x, const ms_raw_entry *y)
{
    int c;

    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    if ((c = ms_cmp(x->pk, x->pk_len, y->pk, y->pk_len)) != 0)
        return c;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return ms_cmp(x->ck, x->ck_len, y->ck, y->ck_len);
}

static int ms_entry_cmp(const void *a, const void *b)
{
    const ms_raw_entry *x = a, *y = b;
    int c = ms_entry_key_cmp(x, y);

    return c ? c : (x->src > y->src) - (x->src < y->src);
}

/* Parse one entry of a raw result. */
static bool ms_get_entry(const uint8_t **p, const uint8_t *end, ms_raw_entry *e)
{
    if (!wc_get_bytes(p, end, &e->pk, &e->pk_len) || !wc_get_u8(p, end, &e->kind) ||
        !wc_get_bytes(p, end, &e->ck, &e->ck_len) || !wc_get_bytes(p, end, &e->blob, &e->blob_len))
        return false;
    e->token = wc_token(e->pk, e->pk_len);
    return true;
}

/*
 * Add entry e (with the merged blob) to a replica's repair batch; *last is
 * the entry added before (a new partition ends its mutation).
 */
static wc_status ms_repair_add(wc_batch_builder *bb, const wc_store_read *r, const ms_raw_entry *e,
                               const wc_buf *blob, const ms_raw_entry **last)
{
    wc_status st;

    if (*last == NULL || (*last)->pk_len != e->pk_len ||
        memcmp((*last)->pk, e->pk, e->pk_len) != 0) {
        if (*last != NULL && (st = wc_batch_builder_end(bb)) != WC_OK)
            return st;
        wc_batch_builder_begin(bb, r->table_id, e->pk, e->pk_len);
    }
    *last = e;
    wc_mutation_add(&bb->m, e->kind, e->ck, e->ck_len, blob->data, blob->len);
    return WC_OK;
}

static wc_status ms_op_reconcile(void *ctx, const wc_store_read *r, const wc_store_raw *raws,
                                 size_t n, wc_buf *answer, wc_buf *repairs)
{
    ms_raw_entry *all = NULL;
    size_t nall = 0, cap = 0, nout = 0;
    wc_buf *merged = NULL;
    wc_batch_builder *bb = calloc(n ? n : 1, sizeof(*bb));
    const ms_raw_entry **last = calloc(n ? n : 1, sizeof(*last));
    size_t *outs = NULL;
    wc_status st = WC_OK;

    for (size_t s = 0; s < n; s++)
        wc_batch_builder_init(&bb[s]);
    for (size_t s = 0; s < n && st == WC_OK; s++) {
        const uint8_t *p = raws[s].data, *end = p + raws[s].len;
        uint64_t k;

        if (!wc_get_varint(&p, end, &k)) {
            st = WC_CORRUPTION;
            break;
        }
        for (uint64_t i = 0; i < k; i++) {
            ms_raw_entry e = {.src = s};

            if (nall == cap) {
                cap = cap ? 2 * cap : 64;
                all = realloc(all, cap * sizeof(*all));
            }
            if (!ms_get_entry(&p, end, &e)) {
                st = WC_CORRUPTION;
                break;
            }
            all[nall++] = e;
        }
    }
    if (st != WC_OK)
        goto out;
    qsort(all, nall, sizeof(*all), ms_entry_cmp);
    merged = calloc(nall ? nall : 1, sizeof(*merged));
    outs = calloc(nall ? nall : 1, sizeof(*outs));
    for (size_t i = 0; i < nall && st == WC_OK;) {
        size_t j = i + 1;
        wc_buf *mg = &merged[nout];

        wc_buf_init(mg);
        wc_buf_append(mg, all[i].blob, all[i].blob_len);
        while (j < nall && ms_entry_key_cmp(&all[j], &all[i]) == 0) {
            wc_buf t;

            wc_buf_init(&t);
            st = ms_merge(all[i].kind, mg->data, mg->len, all[j].blob, all[j].blob_len, &t);
            wc_buf_free(mg);
            *mg = t;
            j++;
        }
        /* repairs: every replica whose blob is missing or differs */
        for (size_t s = 0; s < n && st == WC_OK; s++) {
            bool same = false;

            for (size_t k = i; k < j; k++)
                if (all[k].src == s && all[k].blob_len == mg->len &&
                    memcmp(all[k].blob, mg->data, mg->len) == 0)
                    same = true;
            if (!same)
                st = ms_repair_add(&bb[s], r, &all[i], mg, &last[s]);
        }
        outs[nout++] = i;
        i = j;
    }
    if (st == WC_OK) {
        /*
         * The answer: entries in token order; rows up to the limit, in
         * reverse for a reverse (single-partition) read.
         */
        size_t nfix = 0, nrows, emitted = 0, rows = 0;

        for (size_t k = 0; k < nout; k++)
            nfix += all[outs[k]].kind != WC_KIND_ROW;
        nrows = nout - nfix;
        if (r->limit && nrows > r->limit)
            nrows = r->limit;
        wc_buf_put_varint(answer, nfix + nrows);
        for (size_t k = 0; k < nout; k++) {
            size_t o = k;
            const ms_raw_entry *e;

            if (r->reverse && all[outs[k]].kind == WC_KIND_ROW)
                o = nfix + (nout - 1 - k); /* rows come after the fixed entries */
            e = &all[outs[o]];
            if (e->kind == WC_KIND_ROW && rows++ >= nrows)
                continue;
            wc_buf_put_bytes(answer, e->pk, e->pk_len);
            wc_buf_put_u8(answer, e->kind);
            wc_buf_put_bytes(answer, e->ck, e->ck_len);
            wc_buf_put_bytes(answer, merged[o].data, merged[o].len);
            emitted++;
        }
        for (size_t s = 0; s < n && st == WC_OK; s++) {
            const uint8_t *rec;
            size_t len;

            if (!bb[s].open)
                continue;
            if ((st = wc_batch_builder_end(&bb[s])) == WC_OK &&
                (st = wc_batch_builder_finish(&bb[s], &rec, &len)) == WC_OK)
                wc_buf_append(&repairs[s], rec, len);
        }
        if (st == WC_OK)
            st = wc_buf_status(answer);
        (void)emitted;
    }
out:
    for (size_t k = 0; k < nout; k++)
        wc_buf_free(&merged[k]);
    for (size_t s = 0; s < n; s++)
        wc_batch_builder_free(&bb[s]);
    free(bb);
    free(last);
    free(merged);
    free(outs);
    free(all);
    return st;
}

static wc_status ms_op_append(void *ctx, wc_buf *acc, const uint8_t *raw, size_t len,
                              uint64_t *rows)
{
    const uint8_t *p = raw, *end = raw + len, *start, *q;
    uint64_t n, have = 0;
    wc_buf out;

    (void)ctx;
    *rows = 0;
    if (!wc_get_varint(&p, end, &n))
        return wc_error(WC_CORRUPTION, "malformed raw result");
    start = p;
    for (uint64_t i = 0; i < n; i++) {
        ms_raw_entry e;

        if (!ms_get_entry(&p, end, &e))
            return wc_error(WC_CORRUPTION, "malformed raw result");
        *rows += e.kind == WC_KIND_ROW;
    }
    q = acc->data;
    if (acc->len > 0 && !wc_get_varint(&q, acc->data + acc->len, &have))
        return wc_error(WC_CORRUPTION, "malformed raw result");
    wc_buf_init(&out);
    wc_buf_put_varint(&out, have + n);
    if (acc->len > 0)
        wc_buf_append(&out, q, (size_t)(acc->data + acc->len - q));
    wc_buf_append(&out, start, (size_t)(end - start));
    if (wc_buf_status(&out) != WC_OK) {
        wc_buf_free(&out);
        return WC_NO_MEMORY;
    }
    wc_buf_free(acc);
    *acc = out;
    return WC_OK;
}

/* The live value of column 1 of a row blob, or NULL (the rules of model_raw_value). */
static const uint8_t *ms_col1(const uint8_t *blob, size_t blen, size_t *vlen)
{
    wc_row_view v;
    wc_cell c;

    if (!wc_row_parse(blob, blen, &v))
        return NULL;
    while (wc_row_next_cell(&v, &c) == 1)
        if (c.column == 1) {
            if ((c.flags & WC_CELLF_TOMBSTONE) || ((v.flags & WC_ROWF_DELETED) && v.del_ts >= c.ts))
                return NULL;
            *vlen = c.len;
            return c.value;
        }
    return NULL;
}

static int ms_key_cmp(const void *a, const void *b)
{
    const wc_buf *x = a, *y = b;

    return ms_cmp(x->data, x->len, y->data, y->len);
}

/*
 * The index "col1" over column 1 (no other index exists): the keys of the
 * rows whose live column 1 equals q's value, computed from the data (an
 * index that is never stale, as the engine's after its read-time check).
 */
static void ms_op_index_keys(void *ctx, const wc_store_index_query *q, wc_store_keys_done done,
                             void *arg)
{
    model_store *m = ctx;
    ms_pending *p = calloc(1, sizeof(*p));
    wc_buf *keys = calloc(m->n + 1, sizeof(*keys));
    wc_store_read range;
    size_t nk = 0, out = 0;

    memset(&range, 0, sizeof(range));
    range.token_start = q->token_start;
    range.token_end = q->token_end;
    p->m = m;
    p->is_read = true;
    p->kdone = done;
    p->arg = arg;
    wc_buf_init(&p->raw);
    if (strcmp(q->index, "col1") != 0) {
        p->st = wc_error(WC_NOT_FOUND, "no index \"%s\"", q->index);
        free(keys);
        ms_complete(m, p);
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const uint8_t *k = m->e[i].key, *v;
        size_t pk_len = ((size_t)k[4] << 8) | k[5], vlen = 0, ck_len;
        uint32_t table =
            ((uint32_t)k[0] << 24) | ((uint32_t)k[1] << 16) | ((uint32_t)k[2] << 8) | k[3];
        uint8_t tok[8];
        int64_t token;

        if (table != q->table_id || k[6 + pk_len] != WC_KIND_ROW)
            continue;
        token = wc_token(k + 6, pk_len);
        if (!ms_in_range(&range, token))
            continue;
        v = ms_col1(m->e[i].blob, m->e[i].blob_len, &vlen);
        if (v == NULL || vlen != q->value_len || memcmp(v, q->value, vlen) != 0)
            continue;
        ck_len = m->e[i].key_len - 7 - pk_len;
        wc_buf_init(&keys[nk]);
        wc_token_encode(tok, token);
        wc_buf_append(&keys[nk], tok, 8);
        wc_buf_put_u16be(&keys[nk], (uint16_t)pk_len);
        wc_buf_append(&keys[nk], k + 6, pk_len);
        wc_buf_append(&keys[nk], k + 7 + pk_len, ck_len);
        if (q->after && ms_cmp(keys[nk].data, keys[nk].len, q->after, q->after_len) <= 0) {
            wc_buf_free(&keys[nk]);
            continue;
        }
        nk++;
    }
    qsort(keys, nk, sizeof(*keys), ms_key_cmp);
    wc_buf_put_u8(&p->raw, nk > q->limit);
    for (size_t i = 0; i < nk; i++) {
        if (out < q->limit) {
            wc_buf_put_bytes(&p->raw, keys[i].data, keys[i].len);
            out++;
        }
        wc_buf_free(&keys[i]);
    }
    free(keys);
    p->st = wc_buf_status(&p->raw);
    ms_complete(m, p);
}

static const wc_replica_store_ops model_store_ops = {
    .apply = ms_op_apply,
    .read = ms_op_read,
    .reconcile = ms_op_reconcile,
    .append = ms_op_append,
    .sync = ms_op_sync,
    .apply_counter = ms_op_apply_counter,
    .index_keys = ms_op_index_keys,
};

wc_replica_store model_store_iface(model_store *m)
{
    return (wc_replica_store){&model_store_ops, m};
}

bool model_store_get(model_store *m, uint32_t table_id, const void *pk, size_t pk_len,
                     const void *ck, size_t ck_len, const uint8_t **blob, size_t *len)
{
    wc_buf key;
    size_t i;
    bool found;

    wc_buf_init(&key);
    ms_prefix(&key, table_id, pk, pk_len);
    wc_buf_put_u8(&key, WC_KIND_ROW);
    wc_buf_append(&key, ck, ck_len);
    i = ms_lower(m, key.data, key.len);
    found = i < m->n && ms_cmp(m->e[i].key, m->e[i].key_len, key.data, key.len) == 0;
    wc_buf_free(&key);
    if (found) {
        *blob = m->e[i].blob;
        *len = m->e[i].blob_len;
    }
    return found;
}

/* A batch of one row with cell c (column 1). */
static void ms_batch_cell(wc_buf *rec, uint32_t table_id, const char *pk, const char *ck,
                          const wc_cell *cell)
{
    wc_batch_builder b;
    wc_mutation *mu;
    wc_rowb *rb;
    wc_cell c = *cell;
    const uint8_t *p;
    size_t len;

    wc_batch_builder_init(&b);
    mu = wc_batch_builder_begin(&b, table_id, pk, strlen(pk));
    rb = wc_mutation_row_begin(mu, false, ck, strlen(ck));
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(mu);
    wc_batch_builder_end(&b);
    wc_buf_reset(rec);
    if (wc_batch_builder_finish(&b, &p, &len) == WC_OK)
        wc_buf_append(rec, p, len);
    wc_batch_builder_free(&b);
}

void model_batch_one(wc_buf *rec, uint32_t table_id, const char *pk, const char *ck,
                     const char *value, int64_t ts)
{
    wc_cell c = {.column = 1, .ts = ts, .value = (const uint8_t *)value, .len = strlen(value)};

    ms_batch_cell(rec, table_id, pk, ck, &c);
}

void model_batch_delete(wc_buf *rec, uint32_t table_id, const char *pk, const char *ck, int64_t ts)
{
    wc_cell c = {.column = 1, .flags = WC_CELLF_TOMBSTONE, .ts = ts, .ldt = 1767225600};

    ms_batch_cell(rec, table_id, pk, ck, &c);
}

void model_raw_rows(const uint8_t *raw, size_t len, char *out, size_t cap)
{
    const uint8_t *p = raw, *end = raw + len, *k, *blob;
    size_t used = 0, klen, blen;
    uint64_t n;
    uint8_t kind;

    out[0] = '\0';
    if (raw == NULL || !wc_get_varint(&p, end, &n))
        return;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *pk;
        size_t pk_len;

        if (!wc_get_bytes(&p, end, &pk, &pk_len) || !wc_get_u8(&p, end, &kind) ||
            !wc_get_bytes(&p, end, &k, &klen) || !wc_get_bytes(&p, end, &blob, &blen))
            return;
        if (kind == WC_KIND_ROW && used < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "," : "", (int)klen,
                                     (const char *)k);
    }
}

const uint8_t *model_raw_value(const uint8_t *raw, size_t len, const char *ck, size_t *vlen)
{
    const uint8_t *p = raw, *end = raw + len;
    uint64_t n;

    if (raw == NULL || !wc_get_varint(&p, end, &n))
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t kind;
        const uint8_t *k, *blob;
        size_t klen, blen;
        wc_row_view v;
        wc_cell c;

        const uint8_t *pk;
        size_t pk_len;

        if (!wc_get_bytes(&p, end, &pk, &pk_len) || !wc_get_u8(&p, end, &kind) ||
            !wc_get_bytes(&p, end, &k, &klen) || !wc_get_bytes(&p, end, &blob, &blen))
            return NULL;
        if (kind != WC_KIND_ROW || klen != strlen(ck) || memcmp(k, ck, klen) != 0)
            continue;
        if (!wc_row_parse(blob, blen, &v))
            return NULL;
        while (wc_row_next_cell(&v, &c) == 1)
            if (c.column == 1) {
                if ((c.flags & WC_CELLF_TOMBSTONE) ||
                    ((v.flags & WC_ROWF_DELETED) && v.del_ts >= c.ts))
                    return NULL;
                *vlen = c.len;
                return c.value;
            }
    }
    return NULL;
}

size_t model_raw_partitions(const uint8_t *raw, size_t len, int64_t *tokens, size_t cap)
{
    const uint8_t *p = raw, *end = raw + len, *prev = NULL;
    size_t np = 0, prev_len = 0;
    uint64_t n;

    if (raw == NULL || !wc_get_varint(&p, end, &n))
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        ms_raw_entry e;

        if (!ms_get_entry(&p, end, &e))
            return np;
        if (prev && prev_len == e.pk_len && memcmp(prev, e.pk, e.pk_len) == 0)
            continue;
        if (np < cap)
            tokens[np] = e.token;
        np++;
        prev = e.pk;
        prev_len = e.pk_len;
    }
    return np;
}

/* ---------------------------------------------------------------- streaming's codec */

static wc_status ms_last_token(void *ctx, const uint8_t *raw, size_t len, uint64_t *rows,
                               bool *has_last, int64_t *last)
{
    wc_buf acc;
    int64_t *tokens;
    size_t n;
    wc_status s;

    wc_buf_init(&acc);
    s = ms_op_append(ctx, &acc, raw, len, rows);
    wc_buf_free(&acc);
    if (s != WC_OK)
        return s;
    n = model_raw_partitions(raw, len, NULL, 0);
    *has_last = n > 0;
    if (n == 0)
        return WC_OK;
    if ((tokens = malloc(n * sizeof(*tokens))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory");
    model_raw_partitions(raw, len, tokens, n);
    *last = tokens[n - 1];
    free(tokens);
    return WC_OK;
}

/* The raw form as a batch: what a replica holding nothing lacks (reconcile's repair). */
static wc_status ms_to_batch(void *ctx, const uint8_t *raw, size_t len, wc_buf *out)
{
    model_store *m = ctx;
    static const uint8_t empty[1] = {0};
    wc_store_raw raws[2] = {{raw, len}, {empty, 1}};
    wc_store_read r;
    wc_buf answer, repairs[2];
    wc_status s;

    memset(&r, 0, sizeof(r));
    r.table_id = m->stream_table;
    r.token_range = true;
    r.token_start = INT64_MIN;
    r.token_end = INT64_MAX;
    r.start.unbounded = true;
    r.end.unbounded = true;
    r.include_static = true;
    wc_buf_init(&answer);
    wc_buf_init(&repairs[0]);
    wc_buf_init(&repairs[1]);
    s = ms_op_reconcile(m, &r, raws, 2, &answer, repairs);
    if (s == WC_OK)
        wc_buf_append(out, repairs[1].data, repairs[1].len);
    wc_buf_free(&answer);
    wc_buf_free(&repairs[0]);
    wc_buf_free(&repairs[1]);
    return s;
}

wc_stream_codec model_store_stream_codec(model_store *m, uint32_t table_id)
{
    m->stream_table = table_id;
    return (wc_stream_codec){ms_last_token, ms_to_batch, m};
}
