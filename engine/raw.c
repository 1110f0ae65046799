/*
 * raw.c - raw reads, digests, reconciliation and accumulation of raw
 * results (raw.h).
 *
 * A raw read runs the engine's read path (read.c) with a sink that turns
 * every reconciled header and row into an entry of the canonical raw form;
 * reconcile parses raw results back into entries, sorts them in flat-key
 * order, merges equal keys with the engine's reconciliation (row.h) and
 * writes the answer and the repairs in the same canonical form.
 */
#include "raw.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "alloc.h"
#include "mutation.h"
#include "row.h"

/* ---------------------------------------------------------------- canonical entries */

/* Could range tombstone rt cover a clustering key of r's slice?  (Conservative: true when unsure.) */
static bool wc__rt_overlaps(const wc_range_tombstone *rt, const wc_store_read *r)
{
    const wc_bound *sb = &r->start, *eb = &r->end;

    /* entirely after the slice's end */
    if (!eb->unbounded && !(rt->bflags & WC_BOUND_START_UNBOUNDED)) {
        int c = wc_bytes_cmp(rt->start, rt->start_len, eb->key, eb->len);

        if (eb->inclusive) {
            if (c > 0 && !(rt->start_len >= eb->len && memcmp(rt->start, eb->key, eb->len) == 0))
                return false;
        } else if (c >= 0) {
            return false;
        }
    }
    /* entirely before the slice's start */
    if (!sb->unbounded && !(rt->bflags & WC_BOUND_END_UNBOUNDED)) {
        int c = wc_bytes_cmp(sb->key, sb->len, rt->end, rt->end_len);

        if (rt->bflags & WC_BOUND_END_INCL) {
            if (c > 0 && !(sb->len >= rt->end_len && memcmp(sb->key, rt->end, rt->end_len) == 0))
                return false;
        } else if (c >= 0) {
            return false;
        }
    }
    return true;
}

static int wc__rt_cmp(const void *a, const void *b)
{
    const wc_range_tombstone *x = a, *y = b;
    int c;

    if (x->bflags != y->bflags)
        return x->bflags < y->bflags ? -1 : 1;
    if ((c = wc_bytes_cmp(x->start, x->start_len, y->start, y->start_len)) != 0)
        return c;
    if ((c = wc_bytes_cmp(x->end, x->end_len, y->end, y->end_len)) != 0)
        return c;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->ldt > y->ldt) - (x->ldt < y->ldt);
}

/*
 * The canonical header of r's slice from blob into out (appended): the
 * partition deletion and the range tombstones that overlap the slice and
 * that it does not shadow, sorted, without duplicates.  *empty (out
 * unchanged) when nothing is left.
 */
static wc_status wc__canon_header(const wc_store_read *r, const uint8_t *blob, size_t len,
                                  wc_buf *out, bool *empty)
{
    wc_header_view hv;
    wc_range_tombstone *rts = NULL, rt;
    size_t n = 0, k = 0;
    bool pdel;
    int res;

    *empty = true;
    if (!wc_header_parse(blob, len, &hv))
        return wc_error(WC_CORRUPTION, "malformed partition header in a raw read");
    pdel = (hv.flags & WC_HDRF_PARTITION_DELETED) != 0;
    if (hv.nrt > 0) {
        rts = wc_malloc(hv.nrt * sizeof(*rts));
        if (rts == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory in a raw read");
    }
    while ((res = wc_header_next_rt(&hv, &rt)) == 1)
        if ((!pdel || rt.ts > hv.pdel_ts) && wc__rt_overlaps(&rt, r))
            rts[n++] = rt;
    if (res < 0) {
        wc_free(rts);
        return wc_error(WC_CORRUPTION, "malformed range tombstone in a raw read");
    }
    if (n > 1)
        qsort(rts, n, sizeof(*rts), wc__rt_cmp);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || wc__rt_cmp(&rts[k - 1], &rts[i]) != 0)
            rts[k++] = rts[i];
    if (pdel || k > 0) {
        wc_header_build(out, pdel, hv.pdel_ts, hv.pdel_ldt, rts, k);
        *empty = false;
    }
    wc_free(rts);
    return wc_buf_status(out);
}

/*
 * The canonical encoding of a row blob into out (appended): the deletion,
 * liveness and cells that shadow (a partition or range deletion covering
 * the row, WC_NO_TIMESTAMP for none) and the row's own deletion shadow
 * dropped, everything else kept as it is (tombstones, expired cells).
 * *empty when nothing is left (out unchanged).
 */
static wc_status wc__canon_row(const uint8_t *blob, size_t len, int64_t shadow, wc_buf *out,
                               bool *empty)
{
    wc_row_view v;
    wc_rowb rb;
    wc_cell c;
    size_t start = out->len;
    bool any = false;
    int res;

    *empty = true;
    if (!wc_row_parse(blob, len, &v))
        return wc_error(WC_CORRUPTION, "malformed row in a raw read");
    wc_rowb_begin(&rb, out);
    if ((v.flags & WC_ROWF_DELETED) && v.del_ts > shadow) {
        shadow = v.del_ts;
        wc_rowb_deletion(&rb, v.del_ts, v.del_ldt);
        any = true;
    }
    if ((v.flags & WC_ROWF_LIVENESS) && v.live_ts > shadow) {
        wc_rowb_liveness(&rb, v.live_ts, v.live_ttl, v.live_ldt);
        any = true;
    }
    while ((res = wc_row_next_cell(&v, &c)) == 1)
        if (c.ts > shadow) {
            wc_rowb_cell(&rb, &c);
            any = true;
        }
    if (res < 0) {
        out->len = start;
        return wc_error(WC_CORRUPTION, "malformed cell in a raw read");
    }
    wc_rowb_end(&rb);
    if (!any)
        out->len = start;
    *empty = !any;
    return wc_buf_status(out);
}

static wc_status wc__canon(const wc_store_read *r, uint8_t kind, const uint8_t *blob, size_t len,
                           wc_buf *out, bool *empty)
{
    return kind == WC_KIND_HEADER ? wc__canon_header(r, blob, len, out, empty)
                                  : wc__canon_row(blob, len, WC_NO_TIMESTAMP, out, empty);
}

static void wc__hash(const uint8_t *p, size_t len, uint8_t digest[WC_RAW_DIGEST_LEN])
{
    XXH128_hash_t h = XXH3_128bits(p, len);

    wc_enc_u64(digest, h.low64);
    wc_enc_u64(digest + 8, h.high64);
}

/* ---------------------------------------------------------------- raw reads */

/* The sink of a raw read: entries into a batch, one mutation per partition. */
typedef struct wc__raw_out {
    const wc_store_read *r;
    wc_batch_builder bb;
    bool open; /* a mutation is begun for the current partition */
    wc_buf pk; /* the current partition's key */
    wc_buf blob;
} wc__raw_out;

static wc_status wc__out_end(wc__raw_out *o)
{
    if (!o->open)
        return WC_OK;
    o->open = false;
    return wc_batch_builder_end(&o->bb);
}

static wc_status wc__out_partition(void *arg, const uint8_t *prefix, size_t plen)
{
    wc__raw_out *o = arg;
    wc_status st = wc__out_end(o);

    if (st != WC_OK)
        return st;
    wc_buf_reset(&o->pk);
    wc_buf_append(&o->pk, prefix + 10, plen - 10);
    return wc_buf_status(&o->pk);
}

static void wc__out_add(wc__raw_out *o, uint8_t kind, const uint8_t *ck, size_t ck_len)
{
    if (!o->open) {
        wc_batch_builder_begin(&o->bb, o->r->table_id, o->pk.data, o->pk.len);
        o->open = true;
    }
    wc_mutation_add(&o->bb.m, kind, ck, ck_len, o->blob.data, o->blob.len);
}

static wc_status wc__out_header(void *arg, const uint8_t *blob, size_t len)
{
    wc__raw_out *o = arg;
    bool empty;
    wc_status st;

    wc_buf_reset(&o->blob);
    if ((st = wc__canon_header(o->r, blob, len, &o->blob, &empty)) != WC_OK || empty)
        return st;
    wc__out_add(o, WC_KIND_HEADER, NULL, 0);
    return WC_OK;
}

static wc_status wc__out_row(void *arg, const wc_key_parts *kp, const uint8_t *blob, size_t len,
                             bool *added)
{
    wc__raw_out *o = arg;
    bool empty;
    wc_status st;

    *added = false;
    wc_buf_reset(&o->blob);
    if ((st = wc__canon_row(blob, len, WC_NO_TIMESTAMP, &o->blob, &empty)) != WC_OK || empty)
        return st;
    wc__out_add(o, kp->kind, kp->ck, kp->ck_len);
    *added = kp->kind == WC_KIND_ROW;
    return WC_OK;
}

wc_status wc_engine_read_raw(wc_engine *e, const wc_store_read *r, wc_buf *out,
                             uint8_t digest[WC_RAW_DIGEST_LEN])
{
    wc__raw_out o = {.r = r};
    wc__raw_sink sink = {wc__out_partition, wc__out_header, wc__out_row, &o};
    wc_read_request req;
    const uint8_t *rec;
    size_t len, start = out->len;
    wc_status st;

    if (r->token_range && r->reverse)
        return wc_error(WC_INVALID_ARGUMENT, "reverse order needs a single partition");
    if (!r->token_range && r->pk == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "a raw read of one partition needs its key");
    memset(&req, 0, sizeof(req));
    req.table_id = r->table_id;
    req.pk = r->token_range ? NULL : r->pk;
    req.pk_len = r->token_range ? 0 : r->pk_len;
    req.start = r->start;
    req.end = r->end;
    req.reverse = r->reverse;
    req.include_static = r->include_static;
    req.limit = r->limit;
    req.now_sec = r->now_sec;
    req.page_rows = SIZE_MAX;
    req.token_range = r->token_range;
    req.token_start = r->token_start;
    req.token_end = r->token_end;
    wc_batch_builder_init(&o.bb);
    wc_buf_init(&o.pk);
    wc_buf_init(&o.blob);
    if ((st = wc__read_raw(e, &req, true, &sink, NULL)) != WC_OK)
        goto fail;
    if ((st = wc__out_end(&o)) != WC_OK ||
        (st = wc_batch_builder_finish(&o.bb, &rec, &len)) != WC_OK)
        goto fail;
    wc_buf_append(out, rec, len);
    if ((st = wc_buf_status(out)) != WC_OK)
        goto fail;
    wc_raw_digest(out->data + start, len, digest);
    wc_batch_builder_free(&o.bb);
    wc_buf_free(&o.pk);
    wc_buf_free(&o.blob);
    return WC_OK;
fail:
    wc_batch_builder_free(&o.bb);
    wc_buf_free(&o.pk);
    wc_buf_free(&o.blob);
    if (!out->failed)
        out->len = start;
    return st;
}

/* ---------------------------------------------------------------- parsing raw results */

/* One entry of a raw result. */
typedef struct wc__rent {
    int64_t token;
    const uint8_t *pk;
    size_t pk_len;
    uint8_t kind;
    const uint8_t *ck;
    size_t ck_len;
    const uint8_t *blob;
    size_t blob_len;
    size_t src; /* which raw result */
    size_t seq; /* position in it */
} wc__rent;

/* Flat-key order: token, pk length, pk, kind, ck. */
static int wc__rent_key_cmp(const wc__rent *x, const wc__rent *y)
{
    int c;

    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    if (x->pk_len != y->pk_len)
        return x->pk_len < y->pk_len ? -1 : 1;
    if (x->pk_len && (c = memcmp(x->pk, y->pk, x->pk_len)) != 0)
        return c;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return wc_bytes_cmp(x->ck, x->ck_len, y->ck, y->ck_len);
}

static int wc__rent_cmp(const void *a, const void *b)
{
    const wc__rent *x = a, *y = b;
    int c = wc__rent_key_cmp(x, y);

    if (c)
        return c;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool wc__same_partition(const wc__rent *x, const wc__rent *y)
{
    return x->token == y->token && x->pk_len == y->pk_len &&
           (x->pk_len == 0 || memcmp(x->pk, y->pk, x->pk_len) == 0);
}

/*
 * Walk the entries of a raw result: fn(arg, entry) for each, in order.
 * table_id 0 accepts any table.  WC_CORRUPTION for malformed input.
 */
typedef wc_status (*wc__rent_fn)(void *arg, const wc__rent *e);

static wc_status wc__raw_walk(const uint8_t *raw, size_t len, uint32_t table_id, size_t src,
                              wc__rent_fn fn, void *arg)
{
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry me;
    const uint8_t *mut;
    size_t ml, seq = 0;
    wc_status st;
    int r;

    if (raw == NULL || wc_batch_parse(raw, len, &bv) != WC_OK)
        return wc_error(WC_CORRUPTION, "malformed raw result");
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        wc__rent e;

        if (wc_mutation_parse(mut, ml, &mv) != WC_OK)
            return wc_error(WC_CORRUPTION, "malformed mutation in a raw result");
        if (table_id != 0 && mv.table_id != table_id)
            return wc_error(WC_CORRUPTION, "raw result holds table %u, the read is of table %u",
                            mv.table_id, table_id);
        if (mv.pk_len > WC_MAX_PK_LEN)
            return wc_error(WC_CORRUPTION, "partition key too long in a raw result");
        e.token = wc_token(mv.pk, mv.pk_len);
        e.pk = mv.pk;
        e.pk_len = mv.pk_len;
        e.src = src;
        while ((r = wc_mutation_next(&mv, &me)) == 1) {
            if (me.kind > WC_KIND_ROW || (me.kind != WC_KIND_ROW && me.ck_len != 0))
                return wc_error(WC_CORRUPTION, "malformed entry in a raw result");
            e.kind = me.kind;
            e.ck = me.ck;
            e.ck_len = me.ck_len;
            e.blob = me.blob;
            e.blob_len = me.blob_len;
            e.seq = seq++;
            if (fn && (st = fn(arg, &e)) != WC_OK)
                return st;
        }
        if (r < 0)
            return wc_error(WC_CORRUPTION, "malformed entry in a raw result");
    }
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed raw result");
    return WC_OK;
}

/* Entries of every raw result, and each one's cut. */
typedef struct wc__rset {
    const wc_store_read *r;
    wc__rent *e;
    size_t n, cap;
    uint64_t rows;    /* row entries of the raw being walked */
    wc__rent last;    /* its last row entry */
    bool has_last;
} wc__rset;

static wc_status wc__rset_add(void *arg, const wc__rent *e)
{
    wc__rset *s = arg;
    const wc_store_read *r = s->r;

    /* a replica answers only for the read's partition or token range */
    if (!r->token_range ? (e->pk_len != r->pk_len || (e->pk_len && memcmp(e->pk, r->pk, e->pk_len)))
                        : ((e->token <= r->token_start &&
                            !(r->token_start == INT64_MIN && e->token == INT64_MIN)) ||
                           e->token > r->token_end))
        return wc_error(WC_CORRUPTION, "raw result holds a partition outside the read");
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        wc__rent *p = wc_realloc(s->e, cap * sizeof(*p));

        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory reconciling raw results");
        s->e = p;
        s->cap = cap;
    }
    s->e[s->n++] = *e;
    if (e->kind == WC_KIND_ROW) {
        s->rows++;
        s->last = *e;
        s->has_last = true;
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- reconcile */

/* Merge the blobs of e[0..n) (one key) into out (reset first). */
static wc_status wc__merge_group(const wc__rent *e, size_t n, wc_buf *out, wc_buf *tmp)
{
    wc_status st;

    wc_buf_reset(out);
    wc_buf_append(out, e[0].blob, e[0].blob_len);
    for (size_t i = 1; i < n; i++) {
        wc_buf_reset(tmp);
        st = e[0].kind == WC_KIND_HEADER
                 ? wc_header_merge(out->data, out->len, e[i].blob, e[i].blob_len, tmp)
                 : wc_row_merge(out->data, out->len, e[i].blob, e[i].blob_len, tmp);
        if (st != WC_OK)
            return st;
        wc_buf_reset(out);
        wc_buf_append(out, tmp->data, tmp->len);
    }
    return wc_buf_status(out);
}

/* One merged key of the answer: its group of entries and its canonical blob. */
typedef struct wc__group {
    size_t first, n; /* in the sorted entries */
    size_t off, len; /* canonical blob in the blob buffer */
} wc__group;

/* Append group g to the answer and to the repair of every raw that lacks its bytes. */
static wc_status wc__emit_group(const wc_store_read *r, const wc__rent *all, const wc__group *g,
                                const wc_buf *blobs, wc_batch_builder *ans, const wc__rent **ans_last,
                                wc_batch_builder *rep, const wc__rent **rep_last, size_t n)
{
    const wc__rent *e = &all[g->first];
    const uint8_t *blob = blobs->data + g->off;
    wc_status st;

    for (size_t s = 0; s <= n; s++) {
        wc_batch_builder *bb = s == n ? ans : &rep[s];
        const wc__rent **last = s == n ? ans_last : &rep_last[s];

        if (s < n) {
            bool same = false;

            for (size_t k = g->first; k < g->first + g->n && !same; k++)
                same = all[k].src == s && all[k].blob_len == g->len &&
                       memcmp(all[k].blob, blob, g->len) == 0;
            if (same)
                continue;
        }
        if (*last == NULL || !wc__same_partition(*last, e)) {
            if (*last != NULL && (st = wc_batch_builder_end(bb)) != WC_OK)
                return st;
            wc_batch_builder_begin(bb, r->table_id, e->pk, e->pk_len);
        }
        *last = e;
        wc_mutation_add(&bb->m, e->kind, e->ck, e->ck_len, blob, g->len);
    }
    return WC_OK;
}

static wc_status wc__finish_batch(wc_batch_builder *bb, bool open, wc_buf *out, bool always)
{
    const uint8_t *rec;
    size_t len;
    wc_status st;

    if (!open && !always)
        return WC_OK;
    if (open && (st = wc_batch_builder_end(bb)) != WC_OK)
        return st;
    if ((st = wc_batch_builder_finish(bb, &rec, &len)) != WC_OK)
        return st;
    wc_buf_append(out, rec, len);
    return wc_buf_status(out);
}

wc_status wc_raw_reconcile(const wc_store_read *r, const wc_store_raw *raws, size_t n,
                           wc_buf *answer, wc_buf *repairs)
{
    wc__rset set = {.r = r};
    wc__rent bound = {0};
    bool has_bound = false;
    wc__group *groups = NULL;
    size_t ngroups = 0;
    wc_buf blobs, tmp, merged;
    wc_batch_builder ans, *rep = NULL;
    const wc__rent *ans_last = NULL, **rep_last = NULL;
    uint64_t rows = 0;
    wc_status st = WC_OK;

    wc_buf_init(&blobs);
    wc_buf_init(&tmp);
    wc_buf_init(&merged);
    wc_batch_builder_init(&ans);
    rep = wc_calloc(n ? n : 1, sizeof(*rep));
    rep_last = wc_calloc(n ? n : 1, sizeof(*rep_last));
    if (rep == NULL || rep_last == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory reconciling raw results");
        goto out;
    }
    for (size_t s = 0; s < n; s++)
        wc_batch_builder_init(&rep[s]);
    /* every entry, and the shortest cut */
    for (size_t s = 0; s < n; s++) {
        set.rows = 0;
        set.has_last = false;
        if ((st = wc__raw_walk(raws[s].data, raws[s].len, r->table_id, s, wc__rset_add, &set)) !=
            WC_OK)
            goto out;
        if (r->limit && set.rows >= r->limit && set.has_last) {
            int c = has_bound ? wc__rent_key_cmp(&set.last, &bound) : 0;

            if (!has_bound || (r->reverse ? c > 0 : c < 0))
                bound = set.last;
            has_bound = true;
        }
    }
    if (set.n > 1)
        qsort(set.e, set.n, sizeof(*set.e), wc__rent_cmp);
    groups = wc_malloc((set.n ? set.n : 1) * sizeof(*groups));
    if (groups == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory reconciling raw results");
        goto out;
    }
    /* merge each key inside the covered part into its canonical blob */
    for (size_t i = 0; i < set.n;) {
        size_t j = i + 1;
        bool empty, covered = true;

        while (j < set.n && wc__rent_key_cmp(&set.e[j], &set.e[i]) == 0)
            j++;
        if (has_bound) {
            int c = wc__rent_key_cmp(&set.e[i], &bound);

            /* reverse reads are of one partition: its header and static row are covered */
            if (r->reverse)
                covered = set.e[i].kind != WC_KIND_ROW || c >= 0;
            else
                covered = c <= 0;
        }
        if (covered) {
            if ((st = wc__merge_group(&set.e[i], j - i, &merged, &tmp)) != WC_OK)
                goto out;
            groups[ngroups].off = blobs.len;
            if ((st = wc__canon(r, set.e[i].kind, merged.data, merged.len, &blobs, &empty)) !=
                WC_OK)
                goto out;
            if (!empty) {
                groups[ngroups].first = i;
                groups[ngroups].n = j - i;
                groups[ngroups].len = blobs.len - groups[ngroups].off;
                ngroups++;
            }
        }
        i = j;
    }
    /* the answer in the read's order, cut at limit row entries; the repairs */
    for (size_t g = 0; g < ngroups && !(r->limit && rows >= r->limit);) {
        size_t h = g, nfix;

        /* the partition's groups [g, h): fixed entries (header, static) first */
        while (h < ngroups && wc__same_partition(&set.e[groups[h].first], &set.e[groups[g].first]))
            h++;
        for (nfix = 0; g + nfix < h && set.e[groups[g + nfix].first].kind != WC_KIND_ROW; nfix++)
            ;
        for (size_t k = 0; k < h - g && !(r->limit && rows >= r->limit); k++) {
            size_t idx = k < nfix ? g + k : (r->reverse ? h - 1 - (k - nfix) : g + k);

            if ((st = wc__emit_group(r, set.e, &groups[idx], &blobs, &ans, &ans_last, rep,
                                     rep_last, n)) != WC_OK)
                goto out;
            rows += k >= nfix;
        }
        g = h;
    }
    if ((st = wc__finish_batch(&ans, ans_last != NULL, answer, true)) != WC_OK)
        goto out;
    for (size_t s = 0; s < n; s++)
        if ((st = wc__finish_batch(&rep[s], rep_last[s] != NULL, &repairs[s], false)) != WC_OK)
            goto out;
out:
    if (rep)
        for (size_t s = 0; s < n; s++)
            wc_batch_builder_free(&rep[s]);
    wc_free(rep);
    wc_free(rep_last);
    wc_batch_builder_free(&ans);
    wc_free(groups);
    wc_free(set.e);
    wc_buf_free(&blobs);
    wc_buf_free(&tmp);
    wc_buf_free(&merged);
    return st;
}

/* ---------------------------------------------------------------- append, last row */

typedef struct wc__count {
    uint64_t rows;
    wc__rent last;
    bool has_last;
} wc__count;

static wc_status wc__count_row(void *arg, const wc__rent *e)
{
    wc__count *c = arg;

    if (e->kind == WC_KIND_ROW) {
        c->rows++;
        c->last = *e;
        c->has_last = true;
    }
    return WC_OK;
}

wc_status wc_raw_append(wc_buf *acc, const uint8_t *raw, size_t len, uint64_t *rows)
{
    wc__count c = {0};
    wc_batch_view a, b;
    wc_buf out;
    wc_status st;

    *rows = 0;
    if ((st = wc__raw_walk(raw, len, 0, 0, wc__count_row, &c)) != WC_OK)
        return st;
    if (acc->len > 0 && wc_batch_parse(acc->data, acc->len, &a) != WC_OK)
        return wc_error(WC_CORRUPTION, "malformed accumulated raw result");
    wc_batch_parse(raw, len, &b);
    if (acc->len > 0 && (uint64_t)a.count + b.count > UINT32_MAX)
        return wc_error(WC_CORRUPTION, "too many partitions in a raw result");
    wc_buf_init(&out);
    wc_batch_begin(&out, (acc->len > 0 ? a.count : 0) + b.count);
    if (acc->len > 0)
        wc_buf_append(&out, a.p, (size_t)(a.end - a.p));
    wc_buf_append(&out, b.p, (size_t)(b.end - b.p));
    if ((st = wc_buf_status(&out)) != WC_OK) {
        wc_buf_free(&out);
        return st;
    }
    wc_buf_free(acc);
    *acc = out;
    *rows = c.rows;
    return WC_OK;
}

wc_status wc_raw_last_row(const uint8_t *raw, size_t len, uint64_t *rows, wc_buf *last_key)
{
    wc__count c = {0};
    wc_status st;

    *rows = 0;
    wc_buf_reset(last_key);
    if ((st = wc__raw_walk(raw, len, 0, 0, wc__count_row, &c)) != WC_OK)
        return st;
    *rows = c.rows;
    if (c.has_last)
        wc_key_build(last_key, c.last.token, c.last.pk, c.last.pk_len, WC_KIND_ROW, c.last.ck,
                     c.last.ck_len);
    return wc_buf_status(last_key);
}

/* ---------------------------------------------------------------- digest */

/* The digest form being built: each partition's key, then its entries without shadowed data. */
typedef struct wc__dform {
    wc_buf form;
    const uint8_t *pk; /* the current partition (pointer into the raw) */
    size_t pk_len;
    const uint8_t *hdr; /* its header, if any */
    size_t hdr_len;
} wc__dform;

/* The deletion of the partition header hdr that covers a row (ck) or the static row (NULL). */
static int64_t wc__shadow_of(const uint8_t *hdr, size_t hdr_len, const uint8_t *ck, size_t ck_len)
{
    wc_header_view hv;
    wc_range_tombstone rt;
    int64_t shadow = WC_NO_TIMESTAMP;

    if (hdr == NULL || !wc_header_parse(hdr, hdr_len, &hv))
        return shadow;
    if (hv.flags & WC_HDRF_PARTITION_DELETED)
        shadow = hv.pdel_ts;
    while (ck && wc_header_next_rt(&hv, &rt) == 1)
        if (rt.ts > shadow && wc_rt_covers(&rt, ck, ck_len))
            shadow = rt.ts;
    return shadow;
}

static wc_status wc__dform_add(void *arg, const wc__rent *e)
{
    wc__dform *d = arg;
    size_t at;
    bool empty;
    wc_status st;

    if (d->pk != e->pk) {
        d->pk = e->pk;
        d->pk_len = e->pk_len;
        d->hdr = NULL;
        wc_buf_put_u8(&d->form, 0xff); /* a new partition */
        wc_buf_put_bytes(&d->form, e->pk, e->pk_len);
    }
    if (e->kind == WC_KIND_HEADER) {
        d->hdr = e->blob;
        d->hdr_len = e->blob_len;
        wc_buf_put_u8(&d->form, e->kind);
        wc_buf_put_bytes(&d->form, e->blob, e->blob_len);
        return wc_buf_status(&d->form);
    }
    /* a row: without what the partition deletion or a range tombstone shadows */
    at = d->form.len;
    wc_buf_put_u8(&d->form, e->kind);
    wc_buf_put_bytes(&d->form, e->ck, e->ck_len);
    st = wc__canon_row(e->blob, e->blob_len,
                       wc__shadow_of(d->hdr, d->hdr_len, e->kind == WC_KIND_ROW ? e->ck : NULL,
                                     e->ck_len),
                       &d->form, &empty);
    if (st == WC_OK && empty)
        d->form.len = at;
    return st != WC_OK ? st : wc_buf_status(&d->form);
}

void wc_raw_digest(const uint8_t *raw, size_t len, uint8_t digest[WC_RAW_DIGEST_LEN])
{
    wc__dform d;

    memset(&d, 0, sizeof(d));
    wc_buf_init(&d.form);
    if (wc__raw_walk(raw, len, 0, 0, wc__dform_add, &d) == WC_OK)
        wc__hash(d.form.data, d.form.len, digest);
    else /* malformed or out of memory: the bytes as they are */
        wc__hash(raw, len, digest);
    wc_buf_free(&d.form);
}
