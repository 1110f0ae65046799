/*
 * row.c - row and partition-header blobs: build, parse, reconcile.
 *
 * See row.h for the byte layout and the reconciliation rules.
 */
#include "row.h"

#include "alloc.h"
#include "collection.h"
#include "counter.h"

#define WC__CELLF_KNOWN                                                                            \
    (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING | WC_CELLF_ROW_TS | WC_CELLF_COUNTER |                 \
     WC_CELLF_COUNTER_DELTA | WC_CELLF_COLLECTION)
#define WC__CELLF_COUNTERS (WC_CELLF_COUNTER | WC_CELLF_COUNTER_DELTA)

/* ------------------------------------------------------------------ rows */

bool wc_row_parse(const uint8_t *blob, size_t len, wc_row_view *v)
{
    const uint8_t *p = blob, *end = blob + len;
    uint64_t u, n;

    memset(v, 0, sizeof(*v));
    if (!wc_get_u8(&p, end, &v->flags) || (v->flags & ~(WC_ROWF_LIVENESS | WC_ROWF_DELETED)))
        return false;
    if (v->flags & WC_ROWF_LIVENESS) {
        if (!wc_get_u64(&p, end, &u) || !wc_get_u32(&p, end, &v->live_ttl) ||
            !wc_get_u32(&p, end, &v->live_ldt))
            return false;
        v->live_ts = (int64_t)u;
    }
    if (v->flags & WC_ROWF_DELETED) {
        if (!wc_get_u64(&p, end, &u) || !wc_get_u32(&p, end, &v->del_ldt))
            return false;
        v->del_ts = (int64_t)u;
    }
    if (!wc_get_varint(&p, end, &n) || n > (uint64_t)(end - p))
        return false; /* every cell takes at least one byte */
    v->ncells = (uint32_t)n;
    v->p = p;
    v->end = end;
    v->seen = 0;
    v->last_column = 0;
    return true;
}

/*
 * The next cell of v; with check, every rule of the layout is checked, without
 * (a blob validated before) only the lengths, so that a malformed blob still
 * ends the walk with -1 and is never read past its end.
 */
static inline __attribute__((always_inline)) int wc__row_next_cell(wc_row_view *v, wc_cell *c,
                                                                 bool check)
{
    const uint8_t *p = v->p, *end = v->end;
    uint64_t col, u;

    if (v->seen == v->ncells)
        return p == end ? 0 : -1;
    if (!wc_get_varint(&p, end, &col) || col > UINT32_MAX)
        return -1;
    c->column = (uint32_t)col;
    if (!wc_get_u8(&p, end, &c->flags))
        return -1;
    if (check) {
        if ((v->seen > 0 && col <= v->last_column) || (c->flags & ~WC__CELLF_KNOWN))
            return -1;
        /* a counter is never a tombstone, never expires, and is one of the two kinds */
        if ((c->flags & WC__CELLF_COUNTERS) &&
            ((c->flags & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING)) ||
             (c->flags & WC__CELLF_COUNTERS) == WC__CELLF_COUNTERS))
            return -1;
        /* a collection carries its tombstones and TTLs inside */
        if ((c->flags & WC_CELLF_COLLECTION) &&
            (c->flags & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING | WC__CELLF_COUNTERS)))
            return -1;
    }
    if (c->flags & WC_CELLF_ROW_TS) {
        if (!(v->flags & WC_ROWF_LIVENESS))
            return -1;
        c->ts = v->live_ts;
    } else {
        if (!wc_get_u64(&p, end, &u))
            return -1;
        c->ts = (int64_t)u;
    }
    c->ldt = 0;
    c->ttl = 0;
    if ((c->flags & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING)) && !wc_get_u32(&p, end, &c->ldt))
        return -1;
    if ((c->flags & WC_CELLF_EXPIRING) && !wc_get_u32(&p, end, &c->ttl))
        return -1;
    if (check && (c->flags & WC_CELLF_TOMBSTONE) && (c->flags & WC_CELLF_EXPIRING))
        return -1;
    if (c->flags & WC_CELLF_TOMBSTONE) {
        c->value = NULL;
        c->len = 0;
    } else if (!wc_get_bytes(&p, end, &c->value, &c->len)) {
        return -1;
    }
    if (check && (c->flags & WC_CELLF_COUNTER) && !wc_counter_valid(c->value, c->len))
        return -1;
    if (check && (c->flags & WC_CELLF_COUNTER_DELTA) && c->len != WC_COUNTER_DELTA_LEN)
        return -1;
    if (check && (c->flags & WC_CELLF_COLLECTION)) {
        int64_t max_ts;
        if (!wc_coll_valid(c->value, c->len, &max_ts, NULL) || max_ts != c->ts)
            return -1;
    }
    c->flags &= (uint8_t)~WC_CELLF_ROW_TS;
    v->p = p;
    v->seen++;
    v->last_column = c->column;
    return 1;
}

int wc_row_next_cell(wc_row_view *v, wc_cell *c)
{
    return wc__row_next_cell(v, c, true);
}

bool wc_row_validate_flags(const uint8_t *blob, size_t len, uint8_t *flags)
{
    wc_row_view v;
    wc_cell c;
    int r;

    *flags = 0;
    if (!wc_row_parse(blob, len, &v))
        return false;
    while ((r = wc__row_next_cell(&v, &c, true)) == 1)
        *flags |= c.flags;
    return r == 0;
}

bool wc_row_validate(const uint8_t *blob, size_t len)
{
    uint8_t flags;

    return wc_row_validate_flags(blob, len, &flags);
}

void wc_rowb_begin(wc_rowb *rb, wc_buf *b)
{
    rb->b = b;
    rb->start = b->len;
    rb->flags = 0;
    rb->live_ts = rb->del_ts = 0;
    rb->live_ttl = rb->live_ldt = rb->del_ldt = 0;
    rb->ncells = 0;
}

void wc_rowb_liveness(wc_rowb *rb, int64_t ts, uint32_t ttl, uint32_t ldt)
{
    rb->flags |= WC_ROWF_LIVENESS;
    rb->live_ts = ts;
    rb->live_ttl = ttl;
    rb->live_ldt = ttl ? ldt : 0;
}

void wc_rowb_deletion(wc_rowb *rb, int64_t ts, uint32_t ldt)
{
    rb->flags |= WC_ROWF_DELETED;
    rb->del_ts = ts;
    rb->del_ldt = ldt;
}

void wc_rowb_cell(wc_rowb *rb, const wc_cell *c)
{
    uint8_t f = c->flags & (WC__CELLF_KNOWN & ~WC_CELLF_ROW_TS);

    if ((rb->flags & WC_ROWF_LIVENESS) && c->ts == rb->live_ts)
        f |= WC_CELLF_ROW_TS;
    wc_buf_put_varint(rb->b, c->column);
    wc_buf_put_u8(rb->b, f);
    if (!(f & WC_CELLF_ROW_TS))
        wc_buf_put_u64(rb->b, (uint64_t)c->ts);
    if (f & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING))
        wc_buf_put_u32(rb->b, c->ldt);
    if (f & WC_CELLF_EXPIRING)
        wc_buf_put_u32(rb->b, c->ttl);
    if (!(f & WC_CELLF_TOMBSTONE))
        wc_buf_put_bytes(rb->b, c->value, c->len);
    rb->ncells++;
}

size_t wc_rowb_end(wc_rowb *rb)
{
    wc_buf *b = rb->b;
    uint8_t fixed[1 + 16 + 12 + 10];
    size_t n = 0, cells_len;

    if (b->failed)
        return 0;
    fixed[n++] = rb->flags;
    if (rb->flags & WC_ROWF_LIVENESS) {
        wc_enc_u64(fixed + n, (uint64_t)rb->live_ts);
        wc_enc_u32(fixed + n + 8, rb->live_ttl);
        wc_enc_u32(fixed + n + 12, rb->live_ldt);
        n += 16;
    }
    if (rb->flags & WC_ROWF_DELETED) {
        wc_enc_u64(fixed + n, (uint64_t)rb->del_ts);
        wc_enc_u32(fixed + n + 8, rb->del_ldt);
        n += 12;
    }
    {
        uint64_t v = rb->ncells;
        while (v >= 0x80) {
            fixed[n++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        fixed[n++] = (uint8_t)v;
    }
    /* cells were written at start; shift them up and put the fixed part in front */
    cells_len = b->len - rb->start;
    if (!wc_buf_reserve(b, n))
        return 0;
    memmove(b->data + rb->start + n, b->data + rb->start, cells_len);
    memcpy(b->data + rb->start, fixed, n);
    b->len += n;
    return b->len - rb->start;
}

int wc_cell_reconcile(const wc_cell *a, const wc_cell *b)
{
    bool at = (a->flags & WC_CELLF_TOMBSTONE) != 0, bt = (b->flags & WC_CELLF_TOMBSTONE) != 0;
    bool ae = (a->flags & WC_CELLF_EXPIRING) != 0, be = (b->flags & WC_CELLF_EXPIRING) != 0;
    int c;

    if (a->ts != b->ts)
        return a->ts > b->ts ? 1 : -1;
    if (at != bt)
        return at ? 1 : -1;
    if (at) /* both tombstones: the later deletion time wins */
        return a->ldt == b->ldt ? 0 : (a->ldt > b->ldt ? 1 : -1);
    if (ae != be)
        return ae ? 1 : -1;
    c = wc_bytes_cmp(a->value, a->len, b->value, b->len);
    if (c)
        return c;
    if (ae && a->ldt != b->ldt)
        return a->ldt > b->ldt ? 1 : -1;
    return 0;
}

/* Both cells live counters or deltas: they merge instead of competing. */
static bool wc__counters_merge(const wc_cell *a, const wc_cell *b)
{
    return (a->flags & WC__CELLF_COUNTERS) && (b->flags & WC__CELLF_COUNTERS);
}

/*
 * Put merge(a, b) of two counter or delta cells (wc__counters_merge) into rb:
 * deltas add; counters merge by shard; a delta merged with a counter adds to
 * the counter's pending shard (writer 0).  WC_NO_MEMORY.
 */
static wc_status wc__rowb_counter_merge(wc_rowb *rb, const wc_cell *a, const wc_cell *b)
{
    wc_cell m = *a;
    wc_buf tmp;
    uint8_t d[WC_COUNTER_DELTA_LEN];
    wc_status st;

    wc_buf_init(&tmp);
    m.ts = a->ts > b->ts ? a->ts : b->ts;
    if ((a->flags & WC_CELLF_COUNTER_DELTA) && (b->flags & WC_CELLF_COUNTER_DELTA)) {
        wc_counter_delta_encode(d, (int64_t)((uint64_t)wc_counter_delta_decode(a->value) +
                                             (uint64_t)wc_counter_delta_decode(b->value)));
        m.value = d;
        m.len = sizeof(d);
    } else if ((a->flags & WC_CELLF_COUNTER) && (b->flags & WC_CELLF_COUNTER)) {
        wc_counter_merge(&tmp, a->value, a->len, b->value, b->len);
    } else {
        const wc_cell *c = (a->flags & WC_CELLF_COUNTER) ? a : b;
        const wc_cell *dl = c == a ? b : a;
        wc_counter_shard p = {WC_COUNTER_PENDING_WRITER, 0, 0};
        size_t off = 0;

        if (wc_counter_find(c->value, c->len, WC_COUNTER_PENDING_WRITER, &p))
            off = WC_COUNTER_SHARD_LEN; /* writer 0 sorts first */
        p.value = (int64_t)((uint64_t)p.value + (uint64_t)wc_counter_delta_decode(dl->value));
        wc_counter_put_shard(&tmp, &p);
        wc_buf_append(&tmp, c->value + off, c->len - off);
        m.flags = c->flags;
    }
    if (m.value != d) {
        m.value = tmp.data;
        m.len = tmp.len;
    }
    st = wc_buf_status(&tmp);
    if (st == WC_OK)
        wc_rowb_cell(rb, &m);
    wc_buf_free(&tmp);
    return st == WC_OK ? WC_OK : wc_error(WC_NO_MEMORY, "out of memory merging counters");
}

/*
 * Put cell c into rb minus what a row deletion at del_ts (when has_del)
 * shadows: the whole cell, or the shadowed elements of a collection.
 */
static wc_status wc__rowb_put(wc_rowb *rb, const wc_cell *c, bool has_del, int64_t del_ts)
{
    wc_buf tmp;
    wc_cell m = *c;
    bool empty;
    wc_status st;

    if (has_del && c->ts <= del_ts)
        return WC_OK;
    if (!has_del || !(c->flags & WC_CELLF_COLLECTION)) {
        wc_rowb_cell(rb, c);
        return WC_OK;
    }
    wc_buf_init(&tmp);
    st = wc_coll_compact(c->value, c->len, del_ts, INT64_MIN, NULL, &tmp, &m.ts, &empty, NULL);
    if (st == WC_OK && !empty) {
        m.value = tmp.data;
        m.len = tmp.len;
        wc_rowb_cell(rb, &m);
    }
    wc_buf_free(&tmp);
    return st;
}

/* The collection value of cell c into tmp: c itself, or a cell tombstone as a collection's. */
static bool wc__as_collection(const wc_cell *c, wc_buf *tmp, const uint8_t **v, size_t *len)
{
    wc_collb cb;

    if (c->flags & WC_CELLF_COLLECTION) {
        *v = c->value;
        *len = c->len;
        return true;
    }
    if (!(c->flags & WC_CELLF_TOMBSTONE))
        return false;
    wc_collb_begin(&cb, tmp);
    wc_collb_deletion(&cb, c->ts, c->ldt);
    *len = wc_collb_end(&cb);
    *v = tmp->data;
    return *len > 0;
}

/*
 * Put merge(a, b) of two cells of one column, one of them a collection,
 * into rb: element by element when the other is a collection or a cell
 * tombstone, else the winning cell.  WC_CORRUPTION, WC_NO_MEMORY.
 */
static wc_status wc__rowb_coll_merge(wc_rowb *rb, const wc_cell *a, const wc_cell *b, bool has_del,
                                     int64_t del_ts)
{
    wc_buf ta, tb, out;
    const uint8_t *va, *vb;
    size_t la, lb;
    wc_cell m = *a;
    wc_status st;

    wc_buf_init(&ta);
    wc_buf_init(&tb);
    wc_buf_init(&out);
    if (!wc__as_collection(a, &ta, &va, &la) || !wc__as_collection(b, &tb, &vb, &lb)) {
        st = ta.failed || tb.failed ? wc_error(WC_NO_MEMORY, "out of memory merging collections")
                                    : wc__rowb_put(rb, wc_cell_reconcile(a, b) >= 0 ? a : b,
                                                   has_del, del_ts);
        goto done;
    }
    st = wc_coll_merge(va, la, vb, lb, &out, &m.ts);
    if (st != WC_OK)
        goto done;
    m.flags = WC_CELLF_COLLECTION;
    m.ldt = m.ttl = 0;
    m.value = out.data;
    m.len = out.len;
    st = wc__rowb_put(rb, &m, has_del, del_ts);
done:
    wc_buf_free(&ta);
    wc_buf_free(&tb);
    wc_buf_free(&out);
    return st;
}

/* Does liveness a (ts, ttl, ldt) supersede b? */
static bool wc__liveness_wins(int64_t ats, uint32_t attl, uint32_t aldt, int64_t bts, uint32_t bttl,
                              uint32_t bldt)
{
    if (ats != bts)
        return ats > bts;
    if ((attl != 0) != (bttl != 0))
        return attl != 0;
    return aldt > bldt;
}

wc_status wc_row_merge(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, wc_buf *out)
{
    wc_row_view va, vb;
    wc_cell ca, cb;
    int ra, rb_;
    wc_rowb rb;
    bool has_live = false, has_del = false;
    int64_t live_ts = 0, del_ts = WC_NO_TIMESTAMP;
    uint32_t live_ttl = 0, live_ldt = 0, del_ldt = 0;

    if (!wc_row_parse(a, alen, &va) || !wc_row_parse(b, blen, &vb))
        return wc_error(WC_CORRUPTION, "malformed row value in merge");

    /* deletion: the later one wins */
    if (va.flags & WC_ROWF_DELETED) {
        has_del = true;
        del_ts = va.del_ts;
        del_ldt = va.del_ldt;
    }
    if ((vb.flags & WC_ROWF_DELETED) &&
        (!has_del || vb.del_ts > del_ts || (vb.del_ts == del_ts && vb.del_ldt > del_ldt))) {
        has_del = true;
        del_ts = vb.del_ts;
        del_ldt = vb.del_ldt;
    }
    /* liveness: the superseding one wins, if not shadowed by the deletion */
    if (va.flags & WC_ROWF_LIVENESS) {
        has_live = true;
        live_ts = va.live_ts;
        live_ttl = va.live_ttl;
        live_ldt = va.live_ldt;
    }
    if ((vb.flags & WC_ROWF_LIVENESS) &&
        (!has_live ||
         wc__liveness_wins(vb.live_ts, vb.live_ttl, vb.live_ldt, live_ts, live_ttl, live_ldt))) {
        has_live = true;
        live_ts = vb.live_ts;
        live_ttl = vb.live_ttl;
        live_ldt = vb.live_ldt;
    }
    if (has_live && has_del && live_ts <= del_ts)
        has_live = false;

    wc_rowb_begin(&rb, out);
    if (has_live)
        wc_rowb_liveness(&rb, live_ts, live_ttl, live_ldt);
    if (has_del)
        wc_rowb_deletion(&rb, del_ts, del_ldt);

    ra = wc_row_next_cell(&va, &ca);
    rb_ = wc_row_next_cell(&vb, &cb);
    while (ra == 1 || rb_ == 1) {
        const wc_cell *take;

        if (ra == 1 && rb_ == 1 && ca.column == cb.column) {
            take = wc_cell_reconcile(&ca, &cb) >= 0 ? &ca : &cb;
            if ((ca.flags | cb.flags) & WC_CELLF_COLLECTION) {
                wc_status st = wc__rowb_coll_merge(&rb, &ca, &cb, has_del, del_ts);
                if (st != WC_OK) {
                    wc_rowb_end(&rb);
                    return st;
                }
            } else if (has_del && wc__counters_merge(&ca, &cb) && (ca.ts <= del_ts) != (cb.ts <= del_ts)) {
                /* shards the row deletion shadows do not come back */
                wc_rowb_cell(&rb, ca.ts > del_ts ? &ca : &cb);
            } else if (wc__counters_merge(&ca, &cb)) {
                if (!has_del || take->ts > del_ts) {
                    wc_status st = wc__rowb_counter_merge(&rb, &ca, &cb);
                    if (st != WC_OK) {
                        wc_rowb_end(&rb);
                        return st;
                    }
                }
            } else if (!has_del || take->ts > del_ts)
                wc_rowb_cell(&rb, take);
            ra = wc_row_next_cell(&va, &ca);
            rb_ = wc_row_next_cell(&vb, &cb);
            continue;
        }
        {
            bool from_a = rb_ != 1 || (ra == 1 && ca.column < cb.column);
            wc_status st = wc__rowb_put(&rb, from_a ? &ca : &cb, has_del, del_ts);

            if (st != WC_OK) {
                wc_rowb_end(&rb);
                return st;
            }
            if (from_a)
                ra = wc_row_next_cell(&va, &ca);
            else
                rb_ = wc_row_next_cell(&vb, &cb);
        }
    }
    if (ra < 0 || rb_ < 0) {
        wc_rowb_end(&rb);
        return wc_error(WC_CORRUPTION, "malformed cell in row merge");
    }
    if (wc_rowb_end(&rb) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory merging rows");
    return WC_OK;
}

bool wc__purgeable(const wc_purge *pg, int64_t ts, uint32_t ldt, int64_t *mp, bool *have_mp)
{
    if (pg == NULL || (int64_t)ldt >= pg->gc_before)
        return false;
    if (!*have_mp) {
        *mp = pg->max_purgeable ? pg->max_purgeable(pg->arg) : INT64_MIN;
        *have_mp = true;
    }
    return ts < *mp;
}

wc_status wc_row_compact(const uint8_t *blob, size_t len, int64_t shadow_ts, int64_t now_sec,
                         wc_buf *out, bool *empty)
{
    return wc_row_compact_purge(blob, len, shadow_ts, now_sec, NULL, out, empty, NULL);
}

wc_status wc_row_compact_purge(const uint8_t *blob, size_t len, int64_t shadow_ts,
                               int64_t now_sec, const wc_purge *purge, wc_buf *out, bool *empty,
                               uint64_t *purged)
{
    wc_row_view v;
    wc_cell c;
    wc_rowb rb;
    size_t start = out->len;
    int64_t mp = INT64_MIN;
    bool have_mp = false;
    uint64_t np = 0;
    wc_buf coll;
    wc_status st = WC_OK;
    int r;

    if (!wc_row_parse(blob, len, &v))
        return wc_error(WC_CORRUPTION, "malformed row in compaction");
    if ((v.flags & WC_ROWF_DELETED) && v.del_ts <= shadow_ts)
        v.flags &= (uint8_t)~WC_ROWF_DELETED; /* a covering deletion already does its work */
    if ((v.flags & WC_ROWF_DELETED) && v.del_ts > shadow_ts)
        shadow_ts = v.del_ts;
    wc_rowb_begin(&rb, out);
    /* an expired liveness is kept until purgeable: dropping it could let an older one win */
    if ((v.flags & WC_ROWF_LIVENESS) && v.live_ts > shadow_ts) {
        if (v.live_ttl != 0 && now_sec >= (int64_t)v.live_ldt &&
            wc__purgeable(purge, v.live_ts, v.live_ldt, &mp, &have_mp))
            np++;
        else
            wc_rowb_liveness(&rb, v.live_ts, v.live_ttl, v.live_ldt);
    }
    if (v.flags & WC_ROWF_DELETED) {
        if (wc__purgeable(purge, v.del_ts, v.del_ldt, &mp, &have_mp))
            np++;
        else
            wc_rowb_deletion(&rb, v.del_ts, v.del_ldt);
    }
    wc_buf_init(&coll);
    while ((r = wc_row_next_cell(&v, &c)) == 1) {
        if (c.ts <= shadow_ts)
            continue;
        if (c.flags & WC_CELLF_COLLECTION) {
            bool gone;

            wc_buf_reset(&coll);
            st = wc__coll_compact(c.value, c.len, shadow_ts, now_sec, purge, &mp, &have_mp, &coll,
                                  &c.ts, &gone, &np);
            if (st != WC_OK)
                break;
            if (gone)
                continue;
            c.value = coll.data;
            c.len = coll.len;
        }
        if ((c.flags & WC_CELLF_EXPIRING) && now_sec >= (int64_t)c.ldt) {
            c.flags = WC_CELLF_TOMBSTONE; /* expired: a tombstone dated at its expiry */
            c.ttl = 0;
            c.value = NULL;
            c.len = 0;
        }
        if ((c.flags & WC_CELLF_TOMBSTONE) && wc__purgeable(purge, c.ts, c.ldt, &mp, &have_mp)) {
            np++;
            continue;
        }
        wc_rowb_cell(&rb, &c);
    }
    wc_buf_free(&coll);
    if (st != WC_OK || r < 0) {
        out->len = start;
        return st != WC_OK ? st : wc_error(WC_CORRUPTION, "malformed cell in compaction");
    }
    if (purged)
        *purged += np;
    *empty = rb.flags == 0 && rb.ncells == 0;
    if (*empty) {
        out->len = start;
        return WC_OK;
    }
    if (wc_rowb_end(&rb) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory compacting a row");
    return WC_OK;
}

wc_status wc_header_compact_purge(const uint8_t *blob, size_t len, const wc_purge *purge,
                                  wc_buf *out, bool *empty, uint64_t *purged)
{
    wc_header_view hv;
    wc_range_tombstone rt, *keep = NULL;
    size_t nkeep = 0, cap = 0;
    int64_t mp = INT64_MIN;
    bool have_mp = false, pdel;
    uint64_t np = 0;
    int r;

    if (!wc_header_parse(blob, len, &hv))
        return wc_error(WC_CORRUPTION, "malformed partition header in compaction");
    pdel = (hv.flags & WC_HDRF_PARTITION_DELETED) != 0;
    if (pdel && wc__purgeable(purge, hv.pdel_ts, hv.pdel_ldt, &mp, &have_mp)) {
        pdel = false;
        np++;
    }
    while ((r = wc_header_next_rt(&hv, &rt)) == 1) {
        if (wc__purgeable(purge, rt.ts, rt.ldt, &mp, &have_mp)) {
            np++;
            continue;
        }
        if (nkeep == cap) {
            size_t nc = cap ? cap * 2 : 8;
            wc_range_tombstone *p = wc_realloc(keep, nc * sizeof(*p));
            if (p == NULL) {
                wc_free(keep);
                return wc_error(WC_NO_MEMORY, "out of memory compacting a partition header");
            }
            keep = p;
            cap = nc;
        }
        keep[nkeep++] = rt;
    }
    if (r < 0) {
        wc_free(keep);
        return wc_error(WC_CORRUPTION, "malformed range tombstone in compaction");
    }
    *empty = !pdel && nkeep == 0;
    if (np == 0) {
        wc_buf_append(out, blob, len);
    } else if (!*empty) {
        wc_header_build(out, pdel, hv.pdel_ts, hv.pdel_ldt, keep, nkeep);
    }
    wc_free(keep);
    if (purged)
        *purged += np;
    if (out->failed)
        return wc_error(WC_NO_MEMORY, "out of memory compacting a partition header");
    return WC_OK;
}

int64_t wc_blob_min_timestamp(uint8_t kind, const uint8_t *blob, size_t len)
{
    int64_t min = INT64_MAX;

    if (kind == 0 /* WC_KIND_HEADER */) {
        wc_header_view hv;
        wc_range_tombstone rt;

        if (!wc_header_parse(blob, len, &hv))
            return INT64_MIN; /* unknown: as old as possible */
        if ((hv.flags & WC_HDRF_PARTITION_DELETED) && hv.pdel_ts < min)
            min = hv.pdel_ts;
        while (wc_header_next_rt(&hv, &rt) == 1)
            if (rt.ts < min)
                min = rt.ts;
    } else {
        wc_row_view v;
        wc_cell c;

        if (!wc_row_parse(blob, len, &v))
            return INT64_MIN;
        if ((v.flags & WC_ROWF_LIVENESS) && v.live_ts < min)
            min = v.live_ts;
        if ((v.flags & WC_ROWF_DELETED) && v.del_ts < min)
            min = v.del_ts;
        /* (the memtable validated the row before it puts it) */
        while (wc__row_next_cell(&v, &c, false) == 1) {
            int64_t cmin = c.ts;

            /* a collection's cell timestamp is its newest; its oldest element counts here */
            if ((c.flags & WC_CELLF_COLLECTION) && !wc_coll_valid(c.value, c.len, NULL, &cmin))
                return INT64_MIN;
            if (cmin < min)
                min = cmin;
        }
    }
    return min;
}

/* --------------------------------------------------------------- headers */

bool wc_header_parse(const uint8_t *blob, size_t len, wc_header_view *v)
{
    const uint8_t *p = blob, *end = blob + len;
    uint64_t u, n;

    memset(v, 0, sizeof(*v));
    if (!wc_get_u8(&p, end, &v->flags) || (v->flags & ~WC_HDRF_PARTITION_DELETED))
        return false;
    if (v->flags & WC_HDRF_PARTITION_DELETED) {
        if (!wc_get_u64(&p, end, &u) || !wc_get_u32(&p, end, &v->pdel_ldt))
            return false;
        v->pdel_ts = (int64_t)u;
    }
    if (!wc_get_varint(&p, end, &n) || n > (uint64_t)(end - p))
        return false;
    v->nrt = (uint32_t)n;
    v->p = p;
    v->end = end;
    return true;
}

int wc_header_next_rt(wc_header_view *v, wc_range_tombstone *rt)
{
    const uint8_t *p = v->p, *end = v->end;
    uint64_t u;

    if (v->seen == v->nrt)
        return p == end ? 0 : -1;
    if (!wc_get_u8(&p, end, &rt->bflags) || (rt->bflags & ~0x0f) ||
        !wc_get_bytes(&p, end, &rt->start, &rt->start_len) ||
        !wc_get_bytes(&p, end, &rt->end, &rt->end_len) || !wc_get_u64(&p, end, &u) ||
        !wc_get_u32(&p, end, &rt->ldt))
        return -1;
    rt->ts = (int64_t)u;
    v->p = p;
    v->seen++;
    return 1;
}

bool wc_header_validate(const uint8_t *blob, size_t len)
{
    wc_header_view v;
    wc_range_tombstone rt;
    int r;

    if (!wc_header_parse(blob, len, &v))
        return false;
    while ((r = wc_header_next_rt(&v, &rt)) == 1)
        ;
    return r == 0;
}

static void wc__put_rt(wc_buf *b, const wc_range_tombstone *rt)
{
    uint8_t f = rt->bflags;

    wc_buf_put_u8(b, f);
    if (f & WC_BOUND_START_UNBOUNDED)
        wc_buf_put_bytes(b, NULL, 0);
    else
        wc_buf_put_bytes(b, rt->start, rt->start_len);
    if (f & WC_BOUND_END_UNBOUNDED)
        wc_buf_put_bytes(b, NULL, 0);
    else
        wc_buf_put_bytes(b, rt->end, rt->end_len);
    wc_buf_put_u64(b, (uint64_t)rt->ts);
    wc_buf_put_u32(b, rt->ldt);
}

void wc_header_build(wc_buf *b, bool pdel, int64_t pdel_ts, uint32_t pdel_ldt,
                     const wc_range_tombstone *rts, size_t nrt)
{
    wc_buf_put_u8(b, pdel ? WC_HDRF_PARTITION_DELETED : 0);
    if (pdel) {
        wc_buf_put_u64(b, (uint64_t)pdel_ts);
        wc_buf_put_u32(b, pdel_ldt);
    }
    wc_buf_put_varint(b, nrt);
    for (size_t i = 0; i < nrt; i++)
        wc__put_rt(b, &rts[i]);
}

static bool wc__rt_equal(const wc_range_tombstone *a, const wc_range_tombstone *b)
{
    return a->bflags == b->bflags && a->ts == b->ts && a->ldt == b->ldt &&
           wc_bytes_cmp(a->start, a->start_len, b->start, b->start_len) == 0 &&
           wc_bytes_cmp(a->end, a->end_len, b->end, b->end_len) == 0;
}

/*
 * Range tombstones are kept as a plain list: a partition rarely has many, and
 * reads check each against the rows they return.  Same-bounds tombstones
 * collapse to the later one.
 */
static bool wc__rt_same_bounds(const wc_range_tombstone *a, const wc_range_tombstone *b)
{
    return a->bflags == b->bflags &&
           wc_bytes_cmp(a->start, a->start_len, b->start, b->start_len) == 0 &&
           wc_bytes_cmp(a->end, a->end_len, b->end, b->end_len) == 0;
}

wc_status wc_header_merge(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, wc_buf *out)
{
    wc_header_view va, vb;
    wc_range_tombstone *rts = NULL;
    size_t n = 0, cap;
    bool pdel = false;
    int64_t pts = WC_NO_TIMESTAMP;
    uint32_t pldt = 0;
    int r;
    wc_status st = WC_OK;

    if (!wc_header_parse(a, alen, &va) || !wc_header_parse(b, blen, &vb))
        return wc_error(WC_CORRUPTION, "malformed partition header in merge");
    if (va.flags & WC_HDRF_PARTITION_DELETED) {
        pdel = true;
        pts = va.pdel_ts;
        pldt = va.pdel_ldt;
    }
    if ((vb.flags & WC_HDRF_PARTITION_DELETED) &&
        (!pdel || vb.pdel_ts > pts || (vb.pdel_ts == pts && vb.pdel_ldt > pldt))) {
        pdel = true;
        pts = vb.pdel_ts;
        pldt = vb.pdel_ldt;
    }
    cap = (size_t)va.nrt + vb.nrt;
    if (cap) {
        rts = wc_malloc(cap * sizeof(*rts));
        if (rts == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory merging partition headers");
    }
    for (int side = 0; side < 2; side++) {
        wc_header_view *v = side == 0 ? &va : &vb;
        wc_range_tombstone rt;

        while ((r = wc_header_next_rt(v, &rt)) == 1) {
            size_t i;

            if (pdel && rt.ts <= pts)
                continue;
            for (i = 0; i < n; i++) {
                if (wc__rt_equal(&rts[i], &rt))
                    break;
                if (wc__rt_same_bounds(&rts[i], &rt)) {
                    if (rt.ts > rts[i].ts || (rt.ts == rts[i].ts && rt.ldt > rts[i].ldt))
                        rts[i] = rt;
                    break;
                }
            }
            if (i == n)
                rts[n++] = rt;
        }
        if (r < 0) {
            st = wc_error(WC_CORRUPTION, "malformed range tombstone in merge");
            goto done;
        }
    }
    wc_header_build(out, pdel, pts, pldt, rts, n);
    st = wc_buf_status(out);
done:
    wc_free(rts);
    return st;
}

static bool wc__has_prefix(const uint8_t *ck, size_t ck_len, const uint8_t *p, size_t n)
{
    return ck_len >= n && (n == 0 || memcmp(ck, p, n) == 0);
}

bool wc_slice_start_ok(uint8_t bflags, const uint8_t *start, size_t start_len, const uint8_t *ck,
                       size_t ck_len)
{
    if (bflags & WC_BOUND_START_UNBOUNDED)
        return true;
    if (bflags & WC_BOUND_START_INCL)
        return wc_bytes_cmp(ck, ck_len, start, start_len) >= 0;
    return wc_bytes_cmp(ck, ck_len, start, start_len) > 0 &&
           !wc__has_prefix(ck, ck_len, start, start_len);
}

bool wc_slice_end_ok(uint8_t bflags, const uint8_t *end, size_t end_len, const uint8_t *ck,
                     size_t ck_len)
{
    if (bflags & WC_BOUND_END_UNBOUNDED)
        return true;
    if (bflags & WC_BOUND_END_INCL)
        return wc_bytes_cmp(ck, ck_len, end, end_len) <= 0 ||
               wc__has_prefix(ck, ck_len, end, end_len);
    return wc_bytes_cmp(ck, ck_len, end, end_len) < 0;
}

bool wc_rt_covers(const wc_range_tombstone *rt, const uint8_t *ck, size_t ck_len)
{
    return wc_slice_start_ok(rt->bflags, rt->start, rt->start_len, ck, ck_len) &&
           wc_slice_end_ok(rt->bflags, rt->end, rt->end_len, ck, ck_len);
}
