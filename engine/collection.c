/*
 * collection.c - collection cells: parse, build, merge element by element,
 * compact, and the live form reads return.  See collection.h.
 */
#include "collection.h"

#define WC__ELEMF_KNOWN (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING)

/* ------------------------------------------------------------ reading */

bool wc_coll_parse(const uint8_t *value, size_t len, wc_coll_view *v)
{
    const uint8_t *p = value, *end = value + len;
    uint8_t f;
    uint64_t u, n;

    memset(v, 0, sizeof(*v));
    if (!wc_get_u8(&p, end, &f) || (f & ~WC_COLLF_DELETED))
        return false;
    if (f & WC_COLLF_DELETED) {
        if (!wc_get_u64(&p, end, &u) || !wc_get_u32(&p, end, &v->del_ldt))
            return false;
        v->deleted = true;
        v->del_ts = (int64_t)u;
    }
    /* every element takes at least 11 bytes (key length, flags, ts, tombstone) */
    if (!wc_get_varint(&p, end, &n) || n > (uint64_t)(end - p) / 11)
        return false;
    v->n = (uint32_t)n;
    v->p = p;
    v->end = end;
    return true;
}

int wc_coll_next(wc_coll_view *v, wc_coll_elem *e)
{
    const uint8_t *p = v->p, *end = v->end;
    uint64_t u;

    if (v->seen == v->n)
        return p == end ? 0 : -1;
    if (!wc_get_bytes(&p, end, &e->key, &e->key_len) || !wc_get_u8(&p, end, &e->flags) ||
        (e->flags & ~WC__ELEMF_KNOWN) || e->flags == WC__ELEMF_KNOWN || !wc_get_u64(&p, end, &u))
        return -1;
    if (v->seen > 0 && wc_bytes_cmp(v->last_key, v->last_len, e->key, e->key_len) >= 0)
        return -1;
    e->ts = (int64_t)u;
    e->ldt = e->ttl = 0;
    if ((e->flags & WC__ELEMF_KNOWN) && !wc_get_u32(&p, end, &e->ldt))
        return -1;
    if ((e->flags & WC_CELLF_EXPIRING) && !wc_get_u32(&p, end, &e->ttl))
        return -1;
    if (e->flags & WC_CELLF_TOMBSTONE) {
        e->value = NULL;
        e->len = 0;
    } else if (!wc_get_bytes(&p, end, &e->value, &e->len)) {
        return -1;
    }
    v->p = p;
    v->seen++;
    v->last_key = e->key;
    v->last_len = e->key_len;
    return 1;
}

bool wc_coll_valid(const uint8_t *value, size_t len, int64_t *max_ts, int64_t *min_ts)
{
    wc_coll_view v;
    wc_coll_elem e;
    int64_t mx = INT64_MIN, mn = INT64_MAX;
    int r;

    if (!wc_coll_parse(value, len, &v) || (!v.deleted && v.n == 0))
        return false;
    if (v.deleted)
        mx = mn = v.del_ts;
    while ((r = wc_coll_next(&v, &e)) == 1) {
        if (v.deleted && e.ts <= v.del_ts)
            return false;
        if (e.ts > mx)
            mx = e.ts;
        if (e.ts < mn)
            mn = e.ts;
    }
    if (r < 0)
        return false;
    if (max_ts)
        *max_ts = mx;
    if (min_ts)
        *min_ts = mn;
    return true;
}

/* ------------------------------------------------------------ building */

void wc_collb_begin(wc_collb *cb, wc_buf *b)
{
    cb->b = b;
    cb->start = b->len;
    cb->deleted = false;
    cb->del_ts = 0;
    cb->del_ldt = 0;
    cb->n = 0;
    cb->max_ts = INT64_MIN;
}

void wc_collb_deletion(wc_collb *cb, int64_t ts, uint32_t ldt)
{
    cb->deleted = true;
    cb->del_ts = ts;
    cb->del_ldt = ldt;
    if (ts > cb->max_ts)
        cb->max_ts = ts;
}

void wc_collb_elem(wc_collb *cb, const wc_coll_elem *e)
{
    uint8_t f = e->flags & WC__ELEMF_KNOWN;

    wc_buf_put_bytes(cb->b, e->key, e->key_len);
    wc_buf_put_u8(cb->b, f);
    wc_buf_put_u64(cb->b, (uint64_t)e->ts);
    if (f)
        wc_buf_put_u32(cb->b, e->ldt);
    if (f & WC_CELLF_EXPIRING)
        wc_buf_put_u32(cb->b, e->ttl);
    if (!(f & WC_CELLF_TOMBSTONE))
        wc_buf_put_bytes(cb->b, e->value, e->len);
    if (e->ts > cb->max_ts)
        cb->max_ts = e->ts;
    cb->n++;
}

size_t wc_collb_end(wc_collb *cb)
{
    wc_buf *b = cb->b;
    uint8_t fixed[1 + 12 + 10];
    size_t n = 0, elems_len;
    uint64_t v = cb->n;

    if (b->failed)
        return 0;
    fixed[n++] = cb->deleted ? WC_COLLF_DELETED : 0;
    if (cb->deleted) {
        wc_enc_u64(fixed + n, (uint64_t)cb->del_ts);
        wc_enc_u32(fixed + n + 8, cb->del_ldt);
        n += 12;
    }
    while (v >= 0x80) {
        fixed[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    fixed[n++] = (uint8_t)v;
    /* elements were written at start: put the fixed part in front of them */
    elems_len = b->len - cb->start;
    if (!wc_buf_reserve(b, n))
        return 0;
    memmove(b->data + cb->start + n, b->data + cb->start, elems_len);
    memcpy(b->data + cb->start, fixed, n);
    b->len += n;
    return b->len - cb->start;
}

/* ------------------------------------------------------------ reconciliation */

/* <0 if a loses to b, >0 if a wins, 0 if identical: the rules of wc_cell_reconcile. */
static int wc__elem_reconcile(const wc_coll_elem *a, const wc_coll_elem *b)
{
    wc_cell ca = {0, a->flags, a->ts, a->ldt, a->ttl, a->value, a->len};
    wc_cell cb = {0, b->flags, b->ts, b->ldt, b->ttl, b->value, b->len};

    return wc_cell_reconcile(&ca, &cb);
}

wc_status wc_coll_merge(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, wc_buf *out,
                        int64_t *max_ts)
{
    wc_coll_view va, vb;
    wc_coll_elem ea, eb;
    wc_collb cb;
    size_t start = out->len;
    bool del = false;
    int64_t del_ts = WC_NO_TIMESTAMP;
    uint32_t del_ldt = 0;
    int ra, rb;

    if (!wc_coll_parse(a, alen, &va) || !wc_coll_parse(b, blen, &vb))
        return wc_error(WC_CORRUPTION, "malformed collection in merge");
    if (va.deleted) {
        del = true;
        del_ts = va.del_ts;
        del_ldt = va.del_ldt;
    }
    if (vb.deleted &&
        (!del || vb.del_ts > del_ts || (vb.del_ts == del_ts && vb.del_ldt > del_ldt))) {
        del = true;
        del_ts = vb.del_ts;
        del_ldt = vb.del_ldt;
    }
    wc_collb_begin(&cb, out);
    if (del)
        wc_collb_deletion(&cb, del_ts, del_ldt);
    ra = wc_coll_next(&va, &ea);
    rb = wc_coll_next(&vb, &eb);
    while (ra == 1 || rb == 1) {
        const wc_coll_elem *take;
        int c = ra != 1 ? 1 : rb != 1 ? -1 : wc_bytes_cmp(ea.key, ea.key_len, eb.key, eb.key_len);

        if (c == 0)
            take = wc__elem_reconcile(&ea, &eb) >= 0 ? &ea : &eb;
        else
            take = c < 0 ? &ea : &eb;
        if (!del || take->ts > del_ts)
            wc_collb_elem(&cb, take);
        if (c <= 0)
            ra = wc_coll_next(&va, &ea);
        if (c >= 0)
            rb = wc_coll_next(&vb, &eb);
    }
    if (ra < 0 || rb < 0) {
        out->len = start;
        return wc_error(WC_CORRUPTION, "malformed collection element in merge");
    }
    if (wc_collb_end(&cb) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory merging collections");
    *max_ts = cb.max_ts;
    return WC_OK;
}

wc_status wc__coll_compact(const uint8_t *value, size_t len, int64_t shadow_ts, int64_t now_sec,
                           const wc_purge *purge, int64_t *mp, bool *have_mp, wc_buf *out,
                           int64_t *max_ts, bool *empty, uint64_t *purged)
{
    wc_coll_view v;
    wc_coll_elem e;
    wc_collb cb;
    size_t start = out->len;
    uint64_t np = 0;
    bool keep_del;
    int r;

    if (!wc_coll_parse(value, len, &v))
        return wc_error(WC_CORRUPTION, "malformed collection in compaction");
    keep_del = v.deleted && v.del_ts > shadow_ts; /* else a covering deletion does its work */
    if (keep_del)
        shadow_ts = v.del_ts;
    wc_collb_begin(&cb, out);
    if (keep_del) {
        if (wc__purgeable(purge, v.del_ts, v.del_ldt, mp, have_mp))
            np++;
        else
            wc_collb_deletion(&cb, v.del_ts, v.del_ldt);
    }
    while ((r = wc_coll_next(&v, &e)) == 1) {
        if (e.ts <= shadow_ts)
            continue;
        if ((e.flags & WC_CELLF_EXPIRING) && now_sec >= (int64_t)e.ldt) {
            e.flags = WC_CELLF_TOMBSTONE; /* expired: a tombstone dated at its expiry */
            e.ttl = 0;
            e.value = NULL;
            e.len = 0;
        }
        if ((e.flags & WC_CELLF_TOMBSTONE) && wc__purgeable(purge, e.ts, e.ldt, mp, have_mp)) {
            np++;
            continue;
        }
        wc_collb_elem(&cb, &e);
    }
    if (r < 0) {
        out->len = start;
        return wc_error(WC_CORRUPTION, "malformed collection element in compaction");
    }
    if (purged)
        *purged += np;
    *empty = !cb.deleted && cb.n == 0;
    if (*empty) {
        out->len = start;
        return WC_OK;
    }
    if (wc_collb_end(&cb) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory compacting a collection");
    *max_ts = cb.max_ts;
    return WC_OK;
}

wc_status wc_coll_compact(const uint8_t *value, size_t len, int64_t shadow_ts, int64_t now_sec,
                          const wc_purge *purge, wc_buf *out, int64_t *max_ts, bool *empty,
                          uint64_t *purged)
{
    int64_t mp = INT64_MIN;
    bool have_mp = false;

    return wc__coll_compact(value, len, shadow_ts, now_sec, purge, &mp, &have_mp, out, max_ts,
                            empty, purged);
}

wc_status wc_coll_live(const uint8_t *value, size_t len, int64_t shadow_ts, int64_t now_sec,
                       wc_buf *out, uint32_t *n)
{
    wc_coll_view v;
    wc_coll_elem e;
    size_t start = out->len, body;
    uint32_t cnt = 0;
    int r;

    *n = 0;
    if (!wc_coll_parse(value, len, &v))
        return wc_error(WC_CORRUPTION, "malformed collection");
    if (v.deleted && v.del_ts > shadow_ts)
        shadow_ts = v.del_ts;
    /* the count goes in front; elements first, then move them up */
    while ((r = wc_coll_next(&v, &e)) == 1) {
        if ((e.flags & WC_CELLF_TOMBSTONE) || e.ts <= shadow_ts ||
            ((e.flags & WC_CELLF_EXPIRING) && now_sec >= (int64_t)e.ldt))
            continue;
        wc_buf_put_bytes(out, e.key, e.key_len);
        wc_buf_put_bytes(out, e.value, e.len);
        cnt++;
    }
    if (r < 0) {
        out->len = start;
        return wc_error(WC_CORRUPTION, "malformed collection element");
    }
    if (cnt == 0) {
        out->len = start;
        return wc_buf_status(out);
    }
    body = out->len - start;
    {
        uint8_t head[10];
        size_t hl = 0;
        uint64_t c = cnt;

        while (c >= 0x80) {
            head[hl++] = (uint8_t)(c | 0x80);
            c >>= 7;
        }
        head[hl++] = (uint8_t)c;
        if (!wc_buf_reserve(out, hl))
            return wc_error(WC_NO_MEMORY, "out of memory reading a collection");
        memmove(out->data + start + hl, out->data + start, body);
        memcpy(out->data + start, head, hl);
        out->len += hl;
    }
    *n = cnt;
    return WC_OK;
}

bool wc_coll_live_valid(const uint8_t *p, size_t len, uint32_t *n)
{
    const uint8_t *end = p + len, *k, *val;
    size_t kl, vl;
    uint64_t cnt;

    if (!wc_get_varint(&p, end, &cnt) || cnt > (uint64_t)(end - p) / 2)
        return false;
    for (uint64_t i = 0; i < cnt; i++)
        if (!wc_get_bytes(&p, end, &k, &kl) || !wc_get_bytes(&p, end, &val, &vl))
            return false;
    if (p != end)
        return false;
    *n = (uint32_t)cnt;
    return true;
}
