/*
 * counter.c - counter shard lists: validate, sum, merge.  See counter.h.
 */
#include "counter.h"

#include "alloc.h"
#include "keys.h"
#include "mutation.h"
#include "row.h"

static void wc__shard_at(const uint8_t *p, wc_counter_shard *s)
{
    s->writer = wc_dec_u64(p);
    s->clock = wc_dec_u64(p + 8);
    s->value = (int64_t)wc_dec_u64(p + 16);
}

bool wc_counter_valid(const uint8_t *value, size_t len)
{
    uint64_t prev = 0;

    if (len == 0 || len % WC_COUNTER_SHARD_LEN != 0)
        return false;
    for (size_t off = 0; off < len; off += WC_COUNTER_SHARD_LEN) {
        uint64_t w = wc_dec_u64(value + off);
        if (off > 0 && w <= prev)
            return false;
        prev = w;
    }
    return true;
}

bool wc_counter_sum(const uint8_t *value, size_t len, int64_t *sum)
{
    uint64_t s = 0;

    if (!wc_counter_valid(value, len))
        return false;
    for (size_t off = 0; off < len; off += WC_COUNTER_SHARD_LEN)
        s += wc_dec_u64(value + off + 16);
    *sum = (int64_t)s;
    return true;
}

bool wc_counter_find(const uint8_t *value, size_t len, uint64_t writer, wc_counter_shard *out)
{
    for (size_t off = 0; off + WC_COUNTER_SHARD_LEN <= len; off += WC_COUNTER_SHARD_LEN) {
        if (wc_dec_u64(value + off) == writer) {
            wc__shard_at(value + off, out);
            return true;
        }
    }
    return false;
}

void wc_counter_put_shard(wc_buf *b, const wc_counter_shard *s)
{
    wc_buf_put_u64(b, s->writer);
    wc_buf_put_u64(b, s->clock);
    wc_buf_put_u64(b, (uint64_t)s->value);
}

/* Does shard x win over shard y of the same writer? */
static bool wc__shard_wins(const wc_counter_shard *x, const wc_counter_shard *y)
{
    if (x->clock != y->clock)
        return x->clock > y->clock;
    return x->value >= y->value;
}

/* Walk merge(a, b); append the shards to out when out is not NULL; return their count. */
static size_t wc__merge_walk(wc_buf *out, const uint8_t *a, size_t alen, const uint8_t *b,
                             size_t blen)
{
    size_t i = 0, j = 0, n = 0;
    wc_counter_shard sa, sb;

    while (i < alen || j < blen) {
        const wc_counter_shard *take;

        if (i < alen)
            wc__shard_at(a + i, &sa);
        if (j < blen)
            wc__shard_at(b + j, &sb);
        if (i < alen && j < blen && sa.writer == sb.writer) {
            take = wc__shard_wins(&sa, &sb) ? &sa : &sb;
            i += WC_COUNTER_SHARD_LEN;
            j += WC_COUNTER_SHARD_LEN;
        } else if (j >= blen || (i < alen && sa.writer < sb.writer)) {
            take = &sa;
            i += WC_COUNTER_SHARD_LEN;
        } else {
            take = &sb;
            j += WC_COUNTER_SHARD_LEN;
        }
        if (out)
            wc_counter_put_shard(out, take);
        n++;
    }
    return n;
}

size_t wc_counter_merged_len(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return wc__merge_walk(NULL, a, alen, b, blen) * WC_COUNTER_SHARD_LEN;
}

void wc_counter_merge(wc_buf *out, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    (void)wc__merge_walk(out, a, alen, b, blen);
}

/* Does the row blob hold a delta cell?  false for a malformed blob (validation reports it). */
bool wc_counter_row_has_delta(const uint8_t *blob, size_t len)
{
    wc_row_view v;
    wc_cell c;

    if (!wc_row_parse(blob, len, &v))
        return false;
    while (wc_row_next_cell(&v, &c) == 1)
        if (c.flags & WC_CELLF_COUNTER_DELTA)
            return true;
    return false;
}

bool wc_counter_batch_has_delta(const uint8_t *rec, size_t len)
{
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry en;
    const uint8_t *mut;
    size_t ml;

    if (wc_batch_parse(rec, len, &bv) != WC_OK)
        return false;
    while (wc_batch_next(&bv, &mut, &ml) == 1) {
        if (wc_mutation_parse(mut, ml, &mv) != WC_OK)
            return false;
        while (wc_mutation_next(&mv, &en) == 1)
            if (en.kind != WC_KIND_HEADER && wc_counter_row_has_delta(en.blob, en.blob_len))
                return true;
    }
    return false;
}

bool wc_counter_batch_only_deltas(const uint8_t *rec, size_t len, uint32_t *table_id,
                                  const char **why)
{
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry en;
    const uint8_t *mut;
    size_t ml;
    bool first = true;
    int r, rm;

    *why = "the batch is malformed";
    if (wc_batch_parse(rec, len, &bv) != WC_OK)
        return false;
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        if (wc_mutation_parse(mut, ml, &mv) != WC_OK)
            return false;
        if (!first && mv.table_id != *table_id) {
            *why = "it holds increments of two tables";
            return false;
        }
        *table_id = mv.table_id;
        first = false;
        while ((rm = wc_mutation_next(&mv, &en)) == 1) {
            wc_row_view v;
            wc_cell c;
            int rc;

            if (en.kind != WC_KIND_ROW || !wc_row_parse(en.blob, en.blob_len, &v) ||
                (v.flags & WC_ROWF_DELETED)) {
                *why = "it holds a deletion or a write that is no increment";
                return false;
            }
            while ((rc = wc_row_next_cell(&v, &c)) == 1)
                if (!(c.flags & WC_CELLF_COUNTER_DELTA)) {
                    *why = "it holds a write that is no increment";
                    return false;
                }
            if (rc < 0)
                return false;
        }
        if (rm < 0)
            return false;
    }
    if (r < 0 || first)
        return false;
    *why = NULL;
    return true;
}

/* ---------------------------------------------------------------- resolving deltas */

/* A delta already resolved in this batch: later deltas of the same cell add to it. */
typedef struct wc__resolved {
    uint32_t table_id;
    const uint8_t *pk, *ck;
    size_t pk_len, ck_len;
    uint32_t column;
    wc_counter_shard shard;
} wc__resolved;

typedef struct wc__resolve_ctx {
    uint64_t writer;
    wc_counter_lookup_fn lookup;
    void *ctx;
    wc__resolved *done;
    size_t ndone, capdone;
} wc__resolve_ctx;

/* Resolve one delta cell into the writer's new shard (*s). */
static wc_status wc__resolve_cell(wc__resolve_ctx *x, uint32_t table_id, const uint8_t *pk,
                                  size_t pk_len, const uint8_t *ck, size_t ck_len, const wc_cell *c,
                                  wc_counter_shard *s)
{
    wc__resolved *r = NULL;
    int64_t delta = wc_counter_delta_decode(c->value);
    wc_status st;

    for (size_t i = 0; i < x->ndone; i++) {
        wc__resolved *d = &x->done[i];
        if (d->table_id == table_id && d->column == c->column && d->pk_len == pk_len &&
            d->ck_len == ck_len && memcmp(d->pk, pk, pk_len) == 0 &&
            (ck_len == 0 || memcmp(d->ck, ck, ck_len) == 0)) {
            r = d;
            break;
        }
    }
    if (r == NULL) {
        if (x->ndone == x->capdone) {
            size_t cap = x->capdone ? x->capdone * 2 : 8;
            wc__resolved *n = wc_realloc(x->done, cap * sizeof(*n));
            if (n == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory resolving counters");
            x->done = n;
            x->capdone = cap;
        }
        r = &x->done[x->ndone];
        memset(r, 0, sizeof(*r));
        r->table_id = table_id;
        r->pk = pk;
        r->pk_len = pk_len;
        r->ck = ck;
        r->ck_len = ck_len;
        r->column = c->column;
        r->shard.writer = x->writer;
        st = x->lookup(x->ctx, table_id, pk, pk_len, ck, ck_len, c->column, &r->shard);
        if (st != WC_OK)
            return st;
        r->shard.writer = x->writer;
        x->ndone++;
        /* a new clock above the stored one and, after a deletion, above older shards */
        r->shard.clock =
            r->shard.clock + 1 > (uint64_t)c->ts ? r->shard.clock + 1 : (uint64_t)c->ts;
    } else {
        /* each shard written for the cell in this batch supersedes the one before it */
        r->shard.clock++;
    }
    r->shard.value = (int64_t)((uint64_t)r->shard.value + (uint64_t)delta);
    *s = r->shard;
    return WC_OK;
}

/* Rewrite a row blob with its delta cells resolved into out (appended). */
static wc_status wc__resolve_row(wc__resolve_ctx *x, uint32_t table_id, const uint8_t *pk,
                                 size_t pk_len, const wc_mutation_entry *en, wc_buf *out)
{
    wc_row_view v;
    wc_cell c;
    wc_rowb rb;
    int r;
    wc_status st = WC_OK;

    if (!wc_row_parse(en->blob, en->blob_len, &v))
        return wc_error(WC_INVALID_ARGUMENT, "malformed row in a counter batch");
    wc_rowb_begin(&rb, out);
    if (v.flags & WC_ROWF_LIVENESS)
        wc_rowb_liveness(&rb, v.live_ts, v.live_ttl, v.live_ldt);
    if (v.flags & WC_ROWF_DELETED)
        wc_rowb_deletion(&rb, v.del_ts, v.del_ldt);
    while (st == WC_OK && (r = wc_row_next_cell(&v, &c)) == 1) {
        if (c.flags & WC_CELLF_COUNTER_DELTA) {
            wc_counter_shard s = {0, 0, 0};
            uint8_t val[WC_COUNTER_SHARD_LEN];

            if (en->kind != WC_KIND_ROW)
                return wc_error(WC_INVALID_ARGUMENT, "a counter cannot be a static column");
            st = wc__resolve_cell(x, table_id, pk, pk_len, en->ck, en->ck_len, &c, &s);
            if (st != WC_OK)
                return st;
            wc_enc_u64(val, s.writer);
            wc_enc_u64(val + 8, s.clock);
            wc_enc_u64(val + 16, (uint64_t)s.value);
            c.flags = WC_CELLF_COUNTER;
            c.value = val;
            c.len = sizeof(val);
            wc_rowb_cell(&rb, &c);
        } else {
            wc_rowb_cell(&rb, &c);
        }
    }
    if (r < 0)
        return wc_error(WC_INVALID_ARGUMENT, "malformed cell in a counter batch");
    if (wc_rowb_end(&rb) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory resolving counters");
    return WC_OK;
}

wc_status wc_counter_resolve(const uint8_t *rec, size_t len, uint64_t writer,
                             wc_counter_lookup_fn lookup, void *ctx, wc_batch_builder *bb,
                             const uint8_t **out, size_t *out_len)
{
    wc__resolve_ctx x;
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry en;
    wc_buf blob;
    const uint8_t *mut;
    size_t ml;
    int r;
    wc_status st;

    memset(&x, 0, sizeof(x));
    x.writer = writer;
    x.lookup = lookup;
    x.ctx = ctx;
    wc_batch_builder_reset(bb);
    wc_buf_init(&blob);
    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        goto fail;
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        wc_mutation *m;

        if ((st = wc_mutation_parse(mut, ml, &mv)) != WC_OK)
            goto fail;
        m = wc_batch_builder_begin(bb, mv.table_id, mv.pk, mv.pk_len);
        while ((r = wc_mutation_next(&mv, &en)) == 1) {
            if (en.kind == WC_KIND_HEADER || !wc_counter_row_has_delta(en.blob, en.blob_len)) {
                wc_mutation_add(m, en.kind, en.ck, en.ck_len, en.blob, en.blob_len);
                continue;
            }
            wc_buf_reset(&blob);
            if ((st = wc__resolve_row(&x, mv.table_id, mv.pk, mv.pk_len, &en, &blob)) != WC_OK)
                goto fail;
            wc_mutation_add(m, en.kind, en.ck, en.ck_len, blob.data, blob.len);
        }
        if (r < 0) {
            st = wc_error(WC_INVALID_ARGUMENT, "malformed mutation in a counter batch");
            goto fail;
        }
        if ((st = wc_batch_builder_end(bb)) != WC_OK)
            goto fail;
    }
    if (r < 0) {
        st = wc_error(WC_INVALID_ARGUMENT, "malformed counter batch");
        goto fail;
    }
    st = wc_batch_builder_finish(bb, out, out_len);
fail:
    wc_buf_free(&blob);
    wc_free(x.done);
    return st;
}
