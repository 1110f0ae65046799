/*
 * read.c - the read path: single-partition slices and token-order scans.
 *
 * A read takes references on the table's memtables and SSTables, drops
 * SSTables that cannot hold the partition (token bounds, bloom filter), and
 * walks a merging iterator over the rest.  For each partition it first
 * reconciles the partition header (partition deletion and range
 * tombstones), then the static row, then the rows of the clustering slice
 * in the requested direction; every row is reconciled across sources,
 * shadowed by the tombstones that cover it, and stripped of expired and
 * deleted cells.  Results are copied into the page, so the page outlives
 * the sources.  Paging state: u8 version, bytes last flat key, varint rows
 * already returned in that key's partition.
 */
#include "engine_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "coding.h"
#include "collection.h"
#include "keys.h"
#include "memtable.h"
#include "merge.h"
#include "raw.h"
#include "row.h"

#define WC_PAGING_VERSION 1
#define WC_DEFAULT_PAGE_ROWS 1000
#define WC_CHUNK_BYTES (64u * 1024)
/*
 * The first rows, cells and bytes of a page live in the page's own
 * allocation (most single-partition reads need no more); past them, arrays
 * double and byte chunks double up to WC_CHUNK_BYTES.
 */
#define WC_FIRST_CHUNK_BYTES 2048u
#define WC_FIRST_ROWS 16u
#define WC_FIRST_CELLS 32u

typedef struct wc__page_priv {
    wc_result_row *rows;
    size_t caprows;
    size_t *cell_start; /* per row: index of its first cell */
    wc_cell *cells;
    size_t ncells, capcells;
    uint8_t **chunks; /* wc_malloc'd chunks (not chunk0) */
    size_t nchunks, capchunks;
    uint8_t *chunk; /* current chunk */
    size_t chunk_used, chunk_cap;
    wc_result_row rows0[WC_FIRST_ROWS];
    size_t cell_start0[WC_FIRST_ROWS];
    wc_cell cells0[WC_FIRST_CELLS];
    uint64_t chunk0[WC_FIRST_CHUNK_BYTES / 8];
} wc__page_priv;

/* A page and its private part, allocated together (freed by wc_page_free). */
typedef struct wc__page_mem {
    wc_page page;
    wc__page_priv pp;
} wc__page_mem;

typedef struct wc__rd {
    wc_engine *e;
    const wc_read_request *req;
    int64_t now;
    wc_merge *m;
    wc_iter **src;       /* the merge's sources, for exact lookups */
    uint8_t *src_kinds;  /* per source: bit (1 << kind) set if it may hold that kind */
    wc_merge_value *vals;
    size_t nsrc;
    wc_page *page;
    wc__page_priv *pp;
    wc_read_counters counters;
    wc_buf mbuf[2];  /* reconciliation scratch */
    wc_buf target;   /* seek targets */
    wc_buf hdr;      /* the current partition's reconciled header */
    wc_buf last_key; /* last emitted key (paging) */
    wc_buf coll;     /* a collection's live elements */
    bool has_hdr;
    int64_t pdel_ts;
    wc_range_tombstone *rts;
    size_t nrts, caprts;
    uint64_t rows_total;
    uint64_t rows_in_part;
    size_t page_rows;
    bool stop;       /* page full or limit reached */
    bool limit_hit;
    wc_status st;
    const char *table_name;
    const wc__raw_sink *sink; /* raw reads: entries go to the sink, not to the page */
    bool incl_min;            /* raw token ranges: token_start INT64_MIN includes INT64_MIN */
} wc__rd;

/* ---------------------------------------------------------------- page memory */

static void *wc__page_alloc(wc__page_priv *pp, size_t n)
{
    void *p;

    n = (n + 7) & ~(size_t)7;
    if (pp->chunk_cap - pp->chunk_used < n) {
        size_t cap = pp->chunk_cap >= WC_CHUNK_BYTES / 2 ? WC_CHUNK_BYTES : pp->chunk_cap * 2;
        uint8_t *c;

        if (cap < n)
            cap = n;
        if (pp->nchunks == pp->capchunks) {
            size_t nc = pp->capchunks ? pp->capchunks * 2 : 8;
            uint8_t **a = wc_realloc(pp->chunks, nc * sizeof(*a));
            if (a == NULL)
                return NULL;
            pp->chunks = a;
            pp->capchunks = nc;
        }
        c = wc_malloc(cap);
        if (c == NULL)
            return NULL;
        pp->chunks[pp->nchunks++] = c;
        pp->chunk = c;
        pp->chunk_used = 0;
        pp->chunk_cap = cap;
    }
    p = pp->chunk + pp->chunk_used;
    pp->chunk_used += n;
    return p;
}

/* Make a zeroed pp use its built-in first rows, cells and chunk. */
static void wc__page_init(wc__page_priv *pp)
{
    pp->rows = pp->rows0;
    pp->cell_start = pp->cell_start0;
    pp->caprows = WC_FIRST_ROWS;
    pp->cells = pp->cells0;
    pp->capcells = WC_FIRST_CELLS;
    pp->chunk = (uint8_t *)pp->chunk0;
    pp->chunk_cap = WC_FIRST_CHUNK_BYTES;
}

/* Grow array *a (built-in storage first) from n to cap elements of size each. */
static bool wc__page_grow(void **a, const void *builtin, size_t n, size_t cap, size_t size)
{
    void *p;

    if (*a == builtin) {
        p = wc_malloc(cap * size);
        if (p != NULL)
            memcpy(p, *a, n * size);
    } else {
        p = wc_realloc(*a, cap * size);
    }
    if (p == NULL)
        return false;
    *a = p;
    return true;
}

static const uint8_t *wc__page_copy(wc__page_priv *pp, const uint8_t *src, size_t n, bool *oom)
{
    uint8_t *p;

    if (n == 0)
        return (const uint8_t *)"";
    p = wc__page_alloc(pp, n);
    if (p == NULL) {
        *oom = true;
        return NULL;
    }
    memcpy(p, src, n);
    return p;
}

/* Append a copy of cell c (its value in the page's chunks).  WC_NO_MEMORY (*oom for the value). */
static wc_status wc__page_add_cell(wc__page_priv *pp, wc_cell c, bool *oom)
{
    if (pp->ncells == pp->capcells) {
        if (!wc__page_grow((void **)&pp->cells, pp->cells0, pp->ncells, pp->capcells * 2,
                           sizeof(*pp->cells)))
            return wc_error(WC_NO_MEMORY, "out of memory building a result page");
        pp->capcells *= 2;
    }
    c.value = wc__page_copy(pp, c.value, c.len, oom);
    pp->cells[pp->ncells++] = c;
    return WC_OK;
}

/* Room for row nrows (rows and cell_start grow together).  WC_NO_MEMORY. */
static wc_status wc__page_row_room(wc__page_priv *pp, size_t nrows)
{
    if (nrows == pp->caprows) {
        size_t n = pp->caprows;

        /* either may move alone: each keeps at least caprows entries */
        if (!wc__page_grow((void **)&pp->rows, pp->rows0, n, 2 * n, sizeof(*pp->rows)) ||
            !wc__page_grow((void **)&pp->cell_start, pp->cell_start0, n, 2 * n,
                           sizeof(*pp->cell_start)))
            return wc_error(WC_NO_MEMORY, "out of memory building a result page");
        pp->caprows = 2 * n;
    }
    return WC_OK;
}

void wc_page_free(wc_page *p)
{
    wc__page_priv *pp;

    if (p == NULL)
        return;
    pp = p->priv;
    if (pp) {
        for (size_t i = 0; i < pp->nchunks; i++)
            wc_free(pp->chunks[i]);
        wc_free(pp->chunks);
        if (pp->rows != pp->rows0)
            wc_free(pp->rows);
        if (pp->cell_start != pp->cell_start0)
            wc_free(pp->cell_start);
        if (pp->cells != pp->cells0)
            wc_free(pp->cells);
    }
    wc_free(p->paging_state);
    wc_free(p); /* the page and pp are one wc__page_mem */
}

/* ---------------------------------------------------------------- pages built row by row */

static bool wc__column_wanted(const wc_read_request *req, uint32_t col, size_t *ci);

wc_page *wc__page_new(void)
{
    wc__page_mem *pa = wc_malloc(sizeof(*pa));

    if (pa == NULL)
        return NULL;
    memset(&pa->page, 0, sizeof(pa->page));
    memset(&pa->pp, 0, offsetof(wc__page_priv, rows0));
    pa->page.priv = &pa->pp;
    wc__page_init(&pa->pp);
    return &pa->page;
}

wc_status wc__page_add_row(wc_page *p, const wc_result_row *r, const uint32_t *cols, size_t ncols)
{
    wc__page_priv *pp = p->priv;
    wc_read_request want = {.columns = cols, .ncolumns = ncols};
    size_t first_cell = pp->ncells, ci = 0;
    bool oom = false;
    wc_result_row *row;
    wc_status st;

    if ((st = wc__page_row_room(pp, p->nrows)) != WC_OK)
        return st;
    for (uint32_t i = 0; i < r->ncells; i++)
        if (wc__column_wanted(&want, r->cells[i].column, &ci) &&
            (st = wc__page_add_cell(pp, r->cells[i], &oom)) != WC_OK)
            return st;
    row = &pp->rows[p->nrows];
    *row = *r;
    row->pk = wc__page_copy(pp, r->pk, r->pk_len, &oom);
    row->ck = r->is_static ? NULL : wc__page_copy(pp, r->ck, r->ck_len, &oom);
    row->ncells = (uint32_t)(pp->ncells - first_cell);
    row->cells = NULL;
    pp->cell_start[p->nrows] = first_cell;
    if (oom)
        return wc_error(WC_NO_MEMORY, "out of memory building a result page");
    p->nrows++;
    return WC_OK;
}

wc_status wc__page_done(wc_page *p, const uint8_t *paging_state, size_t len, bool more)
{
    wc__page_priv *pp = p->priv;

    for (size_t i = 0; i < p->nrows; i++)
        pp->rows[i].cells = pp->cells + pp->cell_start[i];
    p->rows = pp->rows;
    p->more = more;
    if (more && len > 0) {
        if ((p->paging_state = wc_malloc(len)) == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory building a result page");
        memcpy(p->paging_state, paging_state, len);
        p->paging_state_len = len;
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- guardrail */

/* Count one scanned tombstone; WC_OVERLOADED once past the request's failure threshold. */
static wc_status wc__tombstone(wc__rd *rd)
{
    uint64_t n = ++rd->page->stats.tombstones_scanned;
    uint64_t max = rd->req->tombstone_failure_threshold;

    if (max != 0 && n > max)
        return wc_error(WC_OVERLOADED,
                        "read of table %s scanned %llu tombstones, more than the failure "
                        "threshold %llu",
                        rd->table_name, (unsigned long long)n, (unsigned long long)max);
    return WC_OK;
}

/* ---------------------------------------------------------------- reconciliation */

/* Reconcile n values of one key; *out points to the result (v[0] or scratch). */
static wc_status wc__reconcile_list(wc__rd *rd, uint8_t kind, const wc_merge_value *v, size_t n,
                                    const uint8_t **out, size_t *len)
{
    const uint8_t *cur = v[0].data;
    size_t curlen = v[0].len;
    int which = 0;

    for (size_t i = 1; i < n; i++) {
        wc_buf *dst = &rd->mbuf[which];
        wc_status st;

        wc_buf_reset(dst);
        st = kind == WC_KIND_HEADER ? wc_header_merge(cur, curlen, v[i].data, v[i].len, dst)
                                    : wc_row_merge(cur, curlen, v[i].data, v[i].len, dst);
        if (st != WC_OK)
            return st;
        cur = dst->data;
        curlen = dst->len;
        which ^= 1;
    }
    *out = cur;
    *len = curlen;
    return WC_OK;
}

/* Reconcile every source's value at the merge position. */
static wc_status wc__reconcile(wc__rd *rd, uint8_t kind, const uint8_t **out, size_t *len)
{
    size_t n;
    const wc_merge_value *v = wc_merge_values(rd->m, &n);

    return wc__reconcile_list(rd, kind, v, n, out, len);
}

/* Is source it positioned on an entry?  If not, *st gets its status (WC_OK: at the end). */
static bool wc__src_valid(wc_iter *it, wc_status *st)
{
    *st = WC_OK;
    if (wc_iter_valid(it))
        return true;
    *st = wc_iter_status(it);
    return false;
}

/*
 * Exact lookup of one key in the sources that may hold its kind (single-
 * partition reads): SSTables whose statistics show no header or static
 * entries are not touched.  *found is false if no source has the key.
 */
static wc_status wc__lookup(wc__rd *rd, const uint8_t *key, size_t klen, uint8_t kind,
                            const uint8_t **out, size_t *len, bool *found)
{
    size_t n = 0;
    wc_status st;

    *found = false;
    for (size_t i = 0; i < rd->nsrc; i++) {
        wc_iter *it = rd->src[i];
        const uint8_t *k;
        size_t kl;

        if (!(rd->src_kinds[i] & (1u << kind)))
            continue;
        wc_iter_seek(it, key, klen);
        if (!wc__src_valid(it, &st)) {
            if (st != WC_OK)
                return st;
            continue;
        }
        k = wc_iter_key(it, &kl);
        if (kl == klen && memcmp(k, key, klen) == 0) {
            rd->vals[n].data = wc_iter_value(it, &rd->vals[n].len);
            n++;
        }
    }
    if (n == 0)
        return WC_OK;
    *found = true;
    return wc__reconcile_list(rd, kind, rd->vals, n, out, len);
}

static wc_status wc__load_header(wc__rd *rd, const uint8_t *blob, size_t len)
{
    wc_header_view hv;
    wc_range_tombstone rt;
    int r;

    wc_buf_reset(&rd->hdr);
    wc_buf_append(&rd->hdr, blob, len);
    if (rd->hdr.failed)
        return wc_error(WC_NO_MEMORY, "out of memory reading a partition header");
    if (!wc_header_parse(rd->hdr.data, rd->hdr.len, &hv))
        return wc_error(WC_CORRUPTION, "malformed partition header");
    rd->has_hdr = true;
    if (rd->sink) {
        wc_status st = rd->sink->header(rd->sink->arg, rd->hdr.data, rd->hdr.len);
        if (st != WC_OK)
            return st;
    }
    if (hv.flags & WC_HDRF_PARTITION_DELETED) {
        wc_status st;
        rd->pdel_ts = hv.pdel_ts;
        if ((st = wc__tombstone(rd)) != WC_OK)
            return st;
    }
    while ((r = wc_header_next_rt(&hv, &rt)) == 1) {
        if (rd->nrts == rd->caprts) {
            size_t cap = rd->caprts ? rd->caprts * 2 : 8;
            wc_range_tombstone *p = wc_realloc(rd->rts, cap * sizeof(*p));
            if (p == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory reading range tombstones");
            rd->rts = p;
            rd->caprts = cap;
        }
        rd->rts[rd->nrts++] = rt;
        {
            wc_status st = wc__tombstone(rd);
            if (st != WC_OK)
                return st;
        }
    }
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed range tombstone");
    return WC_OK;
}

static bool wc__column_wanted(const wc_read_request *req, uint32_t col, size_t *ci)
{
    if (req->columns == NULL)
        return true;
    while (*ci < req->ncolumns && req->columns[*ci] < col)
        (*ci)++;
    return *ci < req->ncolumns && req->columns[*ci] == col;
}

/* Resolve one reconciled row and append it to the page if it is live. */
static wc_status wc__emit(wc__rd *rd, const wc_key_parts *kp, const uint8_t *key, size_t klen,
                          const uint8_t *blob, size_t len, bool *emitted)
{
    wc__page_priv *pp = rd->pp;
    wc_row_view v;
    wc_cell c;
    int64_t shadow = rd->pdel_ts;
    size_t first_cell = pp->ncells, ci = 0;
    bool live = false, oom = false;
    int r;

    *emitted = false;
    rd->page->stats.rows_scanned++;
    if (!wc_row_parse(blob, len, &v))
        return wc_error(WC_CORRUPTION, "malformed row");
    if (kp->kind == WC_KIND_ROW) {
        for (size_t i = 0; i < rd->nrts; i++)
            if (rd->rts[i].ts > shadow && wc_rt_covers(&rd->rts[i], kp->ck, kp->ck_len))
                shadow = rd->rts[i].ts;
    }
    if (rd->sink) /* raw: the whole reconciled row, tombstones and expired cells included */
        return rd->sink->row(rd->sink->arg, kp, blob, len, emitted);
    if (v.flags & WC_ROWF_DELETED) {
        wc_status st = wc__tombstone(rd);
        if (st != WC_OK)
            return st;
        if (v.del_ts > shadow)
            shadow = v.del_ts;
    }
    if ((v.flags & WC_ROWF_LIVENESS) && v.live_ts > shadow &&
        (v.live_ttl == 0 || rd->now < (int64_t)v.live_ldt))
        live = true;
    while ((r = wc_row_next_cell(&v, &c)) == 1) {
        if ((c.flags & WC_CELLF_COLLECTION) && c.ts > shadow) {
            /* the live elements, or nothing when none is left */
            uint32_t n;
            wc_status st;

            wc_buf_reset(&rd->coll);
            st = wc_coll_live(c.value, c.len, shadow, rd->now, &rd->coll, &n);
            if (st != WC_OK) {
                pp->ncells = first_cell;
                return st;
            }
            if (n == 0)
                continue;
            c.value = rd->coll.data;
            c.len = rd->coll.len;
        }
        if (!wc_cell_is_live(&c, shadow, rd->now)) {
            if (c.flags & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING)) {
                wc_status st = wc__tombstone(rd);
                if (st != WC_OK) {
                    pp->ncells = first_cell;
                    return st;
                }
            }
            continue;
        }
        live = true;
        if (!wc__column_wanted(rd->req, c.column, &ci))
            continue;
        if (wc__page_add_cell(pp, c, &oom) != WC_OK)
            return wc_error(WC_NO_MEMORY, "out of memory building a result page");
    }
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed cell");
    if (!live) {
        pp->ncells = first_cell;
        return WC_OK;
    }
    if (wc__page_row_room(pp, rd->page->nrows) != WC_OK)
        return wc_error(WC_NO_MEMORY, "out of memory building a result page");
    {
        wc_result_row *row = &pp->rows[rd->page->nrows];
        row->pk = wc__page_copy(pp, kp->pk, kp->pk_len, &oom);
        row->pk_len = kp->pk_len;
        row->token = kp->token;
        row->is_static = kp->kind == WC_KIND_STATIC;
        row->ck = row->is_static ? NULL : wc__page_copy(pp, kp->ck, kp->ck_len, &oom);
        row->ck_len = row->is_static ? 0 : kp->ck_len;
        row->live_ts = ((v.flags & WC_ROWF_LIVENESS) && v.live_ts > shadow) ? v.live_ts
                                                                           : WC_NO_TIMESTAMP;
        row->live_ttl = row->live_ts == WC_NO_TIMESTAMP ? 0 : v.live_ttl;
        row->live_ldt = row->live_ts == WC_NO_TIMESTAMP ? 0 : v.live_ldt;
        row->ncells = (uint32_t)(pp->ncells - first_cell);
        row->cells = NULL;
        pp->cell_start[rd->page->nrows] = first_cell;
    }
    if (oom)
        return wc_error(WC_NO_MEMORY, "out of memory building a result page");
    rd->page->nrows++;
    wc_buf_reset(&rd->last_key);
    wc_buf_append(&rd->last_key, key, klen);
    *emitted = true;
    return WC_OK;
}

/* ---------------------------------------------------------------- partitions */

static bool wc__same_partition(const uint8_t *key, size_t klen, const uint8_t *prefix, size_t plen)
{
    return klen > plen && memcmp(key, prefix, plen) == 0;
}

/* target := prefix + kind [+ ck] */
static const uint8_t *wc__target(wc__rd *rd, const uint8_t *prefix, size_t plen, uint8_t kind,
                                 const uint8_t *ck, size_t cklen, size_t *len)
{
    wc_buf_reset(&rd->target);
    wc_buf_append(&rd->target, prefix, plen);
    wc_buf_put_u8(&rd->target, kind);
    wc_buf_append(&rd->target, ck, cklen);
    *len = rd->target.len;
    return rd->target.data;
}

/* Exact lookup of the partition's header; loads it into rd when there is one. */
static wc_status wc__lookup_header(wc__rd *rd, const uint8_t *prefix, size_t plen)
{
    const uint8_t *t, *blob;
    size_t tl, bl;
    bool found;
    wc_status st;

    t = wc__target(rd, prefix, plen, WC_KIND_HEADER, NULL, 0, &tl);
    if ((st = wc__lookup(rd, t, tl, WC_KIND_HEADER, &blob, &bl, &found)) != WC_OK)
        return st;
    return found ? wc__load_header(rd, blob, bl) : WC_OK;
}

/*
 * Exact lookup of the key prefix + kind + ck (left in rd->target) and, if a
 * source has it, emission of the reconciled row; *emitted tells whether a
 * live row went to the page.
 */
static wc_status wc__lookup_emit(wc__rd *rd, const uint8_t *prefix, size_t plen, uint8_t kind,
                                 const uint8_t *ck, size_t cklen, bool *emitted)
{
    const uint8_t *t, *blob;
    size_t tl, bl;
    wc_key_parts kp;
    bool found;
    wc_status st;

    *emitted = false;
    t = wc__target(rd, prefix, plen, kind, ck, cklen, &tl);
    if ((st = wc__lookup(rd, t, tl, kind, &blob, &bl, &found)) != WC_OK || !found)
        return st;
    if (!wc_key_parse(t, tl, &kp))
        return wc_error(WC_CORRUPTION, "malformed key");
    return wc__emit(rd, &kp, t, tl, blob, bl, emitted);
}

static void wc__note_stop(wc__rd *rd)
{
    const wc_read_request *req = rd->req;

    if (req->limit && rd->rows_total >= req->limit) {
        rd->stop = true;
        rd->limit_hit = true;
    } else if (rd->page->nrows >= rd->page_rows) {
        rd->stop = true;
    }
}

/* The wc_slice_start_ok / wc_slice_end_ok flags of req's clustering bounds. */
static void wc__slice_flags(const wc_read_request *req, uint8_t *sflags, uint8_t *eflags)
{
    *sflags = (req->start.unbounded ? WC_BOUND_START_UNBOUNDED : 0) |
              (req->start.inclusive ? WC_BOUND_START_INCL : 0);
    *eflags = (req->end.unbounded ? WC_BOUND_END_UNBOUNDED : 0) |
              (req->end.inclusive ? WC_BOUND_END_INCL : 0);
}

/*
 * Emit the rows of the partition from the merge's position, in the merge's
 * direction, until the slice's far bound (the end going forward, the start
 * going backward), the partition's end, a full page or a limit.
 */
static wc_status wc__walk_rows(wc__rd *rd, const uint8_t *prefix, size_t plen, uint8_t sflags,
                               uint8_t eflags)
{
    const wc_read_request *req = rd->req;
    const wc_bound *sb = &req->start, *eb = &req->end;
    const uint8_t *k, *blob;
    size_t kl, bl;
    wc_key_parts kp;
    bool emitted;
    wc_status st;

    while (!rd->stop && wc_merge_valid(rd->m)) {
        bool start_ok, end_ok;

        k = wc_merge_key(rd->m, &kl);
        if (!wc__same_partition(k, kl, prefix, plen) || k[plen] != WC_KIND_ROW)
            break;
        if (!wc_key_parse(k, kl, &kp))
            return wc_error(WC_CORRUPTION, "malformed key");
        start_ok = wc_slice_start_ok(sflags, sb->key, sb->len, kp.ck, kp.ck_len);
        end_ok = wc_slice_end_ok(eflags, eb->key, eb->len, kp.ck, kp.ck_len);
        if (!(req->reverse ? start_ok : end_ok))
            break; /* past the far bound */
        if (req->reverse ? end_ok : start_ok) {
            if ((st = wc__reconcile(rd, WC_KIND_ROW, &blob, &bl)) != WC_OK ||
                (st = wc__emit(rd, &kp, k, kl, blob, bl, &emitted)) != WC_OK)
                return st;
            if (emitted) {
                rd->rows_total++;
                rd->rows_in_part++;
                wc__note_stop(rd);
                if (req->per_partition_limit && rd->rows_in_part >= req->per_partition_limit)
                    break;
            }
        }
        wc_merge_step(rd->m);
    }
    return WC_OK;
}

/*
 * Read one partition.  If positioned, the merge already stands on the
 * partition's first entry (scans); otherwise it is sought here.  resume is
 * the last key returned by the previous page when it is in this partition.
 */
static wc_status wc__read_partition(wc__rd *rd, const uint8_t *prefix, size_t plen, bool positioned,
                                    const uint8_t *resume, size_t resume_len)
{
    const wc_read_request *req = rd->req;
    const wc_bound *sb = &req->start, *eb = &req->end;
    uint8_t sflags, eflags;
    const uint8_t *k, *blob, *t;
    size_t kl, bl, tl;
    wc_key_parts kp;
    bool emitted;
    wc_status st;

    wc__slice_flags(req, &sflags, &eflags);
    rd->has_hdr = false;
    rd->pdel_ts = WC_NO_TIMESTAMP;
    rd->nrts = 0;
    if (rd->sink && (st = rd->sink->partition(rd->sink->arg, prefix, plen)) != WC_OK)
        return st;
    if (!positioned || resume) {
        /* one partition: exact lookups of its header and static row */
        if ((st = wc__lookup_header(rd, prefix, plen)) != WC_OK)
            return st;
        if (req->include_static && resume == NULL) {
            if ((st = wc__lookup_emit(rd, prefix, plen, WC_KIND_STATIC, NULL, 0, &emitted)) !=
                WC_OK)
                return st;
            if (emitted) {
                if (rd->page->nrows >= rd->page_rows) {
                    rd->stop = true;
                    return WC_OK;
                }
            }
        }
        if (!req->reverse && resume == NULL) {
            if (sb->unbounded)
                t = wc__target(rd, prefix, plen, WC_KIND_ROW, NULL, 0, &tl);
            else
                t = wc__target(rd, prefix, plen, WC_KIND_ROW, sb->key, sb->len, &tl);
            wc_merge_seek(rd->m, t, tl);
        }
    } else {
        /* scans walk the partition: header, static row, rows */
        if (wc_merge_valid(rd->m)) {
            k = wc_merge_key(rd->m, &kl);
            if (kl == plen + 1 && memcmp(k, prefix, plen) == 0 && k[plen] == WC_KIND_HEADER) {
                if ((st = wc__reconcile(rd, WC_KIND_HEADER, &blob, &bl)) != WC_OK ||
                    (st = wc__load_header(rd, blob, bl)) != WC_OK)
                    return st;
                wc_merge_step(rd->m);
            }
        }
        if (wc_merge_valid(rd->m)) {
            k = wc_merge_key(rd->m, &kl);
            if (kl == plen + 1 && memcmp(k, prefix, plen) == 0 && k[plen] == WC_KIND_STATIC) {
                if (req->include_static) {
                    if (!wc_key_parse(k, kl, &kp))
                        return wc_error(WC_CORRUPTION, "malformed key");
                    if ((st = wc__reconcile(rd, WC_KIND_STATIC, &blob, &bl)) != WC_OK ||
                        (st = wc__emit(rd, &kp, k, kl, blob, bl, &emitted)) != WC_OK)
                        return st;
                    if (rd->page->nrows >= rd->page_rows) {
                        rd->stop = true;
                        return WC_OK;
                    }
                }
                wc_merge_step(rd->m);
            }
        }
    }

    if (!req->reverse) {
        /* position at max(start bound, resume key) */
        if (resume) {
            wc_merge_seek(rd->m, resume, resume_len);
            if (wc_merge_valid(rd->m)) {
                k = wc_merge_key(rd->m, &kl);
                if (wc_bytes_cmp(k, kl, resume, resume_len) == 0)
                    wc_merge_step(rd->m);
            }
        }
        if (!sb->unbounded && wc_merge_valid(rd->m) && (positioned || resume)) {
            t = wc__target(rd, prefix, plen, WC_KIND_ROW, sb->key, sb->len, &tl);
            k = wc_merge_key(rd->m, &kl);
            if (wc_bytes_cmp(k, kl, t, tl) < 0)
                wc_merge_seek(rd->m, t, tl);
        }
        if ((st = wc__walk_rows(rd, prefix, plen, sflags, eflags)) != WC_OK)
            return st;
    } else {
        /* position at min(end bound, resume key), walking backward (a page that
         * ended on the static row resumes at the end bound) */
        if (resume && resume_len > plen && resume[plen] == WC_KIND_ROW) {
            wc_merge_seek_for_prev(rd->m, resume, resume_len);
            if (wc_merge_valid(rd->m)) {
                k = wc_merge_key(rd->m, &kl);
                if (wc_bytes_cmp(k, kl, resume, resume_len) == 0)
                    wc_merge_step(rd->m);
            }
        } else if (eb->unbounded || !eb->inclusive) {
            if (eb->unbounded)
                t = wc__target(rd, prefix, plen, WC_KIND_END, NULL, 0, &tl);
            else
                t = wc__target(rd, prefix, plen, WC_KIND_ROW, eb->key, eb->len, &tl);
            wc_merge_seek_for_prev(rd->m, t, tl);
        } else {
            /* inclusive prefix end: seek before the prefix's successor */
            size_t n = eb->len;
            t = wc__target(rd, prefix, plen, WC_KIND_ROW, eb->key, eb->len, &tl);
            while (n > 0 && rd->target.data[plen + 1 + n - 1] == 0xff)
                n--;
            if (n == 0) {
                t = wc__target(rd, prefix, plen, WC_KIND_END, NULL, 0, &tl);
            } else {
                rd->target.data[plen + 1 + n - 1]++;
                rd->target.len = plen + 1 + n;
                tl = rd->target.len;
            }
            wc_merge_seek_for_prev(rd->m, t, tl);
        }
        if ((st = wc__walk_rows(rd, prefix, plen, sflags, eflags)) != WC_OK)
            return st;
    }
    return wc_merge_status(rd->m);
}

/*
 * Is req a read of one clustering key (start and end the same inclusive
 * bound, forward, first page, no static row)?  Such a read can be answered
 * by exact lookups in each source instead of a merging iterator, unless some
 * source holds a longer clustering key that extends the bound (a bound may
 * be a prefix of the clustering columns): wc__read_point checks that.
 */
static bool wc__is_point_read(const wc_read_request *req)
{
    const wc_bound *sb = &req->start, *eb = &req->end;

    return req->pk != NULL && req->paging_state == NULL && !req->reverse && !req->include_static &&
           !sb->unbounded && !eb->unbounded && sb->inclusive && eb->inclusive &&
           sb->len == eb->len && (sb->len == 0 || memcmp(sb->key, eb->key, sb->len) == 0);
}

/* Does some source hold a key that extends target (the seek left each source at >= target)? */
static wc_status wc__extended_key(wc__rd *rd, const uint8_t *target, size_t tlen, bool *found)
{
    wc_status st;

    *found = false;
    for (size_t i = 0; i < rd->nsrc && !*found; i++) {
        wc_iter *it = rd->src[i];
        const uint8_t *k;
        size_t kl;

        if (!wc_iter_valid(it))
            continue; /* past the end: its status was checked by the lookup */
        k = wc_iter_key(it, &kl);
        if (kl == tlen && memcmp(k, target, tlen) == 0) {
            wc_iter_next(it);
            if (!wc__src_valid(it, &st)) {
                if (st != WC_OK)
                    return st;
                continue;
            }
            k = wc_iter_key(it, &kl);
        }
        *found = kl > tlen && memcmp(k, target, tlen) == 0;
    }
    return WC_OK;
}

/*
 * Point read (wc__is_point_read) by exact lookups of the partition header and
 * the row key, which returns the same page as wc__read_partition, without
 * building a merging iterator.  *fallback is set, and the page left as it
 * was, when a source holds a clustering key that extends the bound; the
 * caller then reads the partition the general way.
 */
static wc_status wc__read_point(wc__rd *rd, const uint8_t *prefix, size_t plen, bool *fallback)
{
    const wc_read_request *req = rd->req;
    wc_read_stats saved = rd->page->stats;
    size_t saved_nrows = rd->page->nrows, saved_ncells = rd->pp->ncells;
    bool emitted, extended;
    wc_status st;

    *fallback = false;
    rd->has_hdr = false;
    rd->pdel_ts = WC_NO_TIMESTAMP;
    rd->nrts = 0;
    if ((st = wc__lookup_header(rd, prefix, plen)) != WC_OK)
        return st;
    if ((st = wc__lookup_emit(rd, prefix, plen, WC_KIND_ROW, req->start.key, req->start.len,
                              &emitted)) != WC_OK)
        return st;
    /* rd->target still holds the row key */
    if ((st = wc__extended_key(rd, rd->target.data, rd->target.len, &extended)) != WC_OK)
        return st;
    if (extended) {
        /* undo: the general path reads the header and this row again */
        rd->page->stats = saved;
        rd->page->nrows = saved_nrows;
        rd->pp->ncells = saved_ncells;
        *fallback = true;
        return WC_OK;
    }
    if (emitted) {
        rd->rows_total++;
        rd->rows_in_part++;
        wc__note_stop(rd);
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- entry point */

void wc_paging_state_build(wc_buf *out, const uint8_t *key, size_t klen, uint64_t rows_in_part)
{
    wc_buf_put_u8(out, WC_PAGING_VERSION);
    wc_buf_put_bytes(out, key, klen);
    wc_buf_put_varint(out, rows_in_part);
}

static wc_status wc__make_paging_state(wc__rd *rd)
{
    wc_buf b;

    wc_buf_init(&b);
    wc_paging_state_build(&b, rd->last_key.data, rd->last_key.len, rd->rows_in_part);
    if (b.failed) {
        wc_buf_free(&b);
        return wc_error(WC_NO_MEMORY, "out of memory building a paging state");
    }
    rd->page->paging_state = b.data;
    rd->page->paging_state_len = b.len;
    return WC_OK;
}

static wc_status wc__parse_paging_state(const wc_read_request *req, const uint8_t **key,
                                        size_t *klen, uint64_t *rows_in_part)
{
    const uint8_t *p = req->paging_state, *end = p + req->paging_state_len;
    uint8_t ver;
    wc_key_parts kp;

    if (!wc_get_u8(&p, end, &ver) || ver != WC_PAGING_VERSION || !wc_get_bytes(&p, end, key, klen) ||
        !wc_get_varint(&p, end, rows_in_part) || p != end || !wc_key_parse(*key, *klen, &kp))
        return wc_error(WC_INVALID_ARGUMENT, "malformed paging state");
    if (req->pk &&
        (kp.pk_len != req->pk_len || (kp.pk_len && memcmp(kp.pk, req->pk, kp.pk_len) != 0)))
        return wc_error(WC_INVALID_ARGUMENT, "paging state belongs to another partition");
    return WC_OK;
}

/*
 * Can the rows of SSTable stats ss matter to req's slice of one partition?
 * Not when every clustering key the file holds (its min_ck .. max_ck, over
 * all partitions) lies before the slice's start or after its end, and the
 * file holds nothing else the read uses: no partition deletion or range
 * tombstone (a header could shadow rows of other files) and, for a read
 * with the static row, no static row.  The slice predicates are monotone
 * in the key, so testing the file's extreme keys is enough.  Time series
 * whose clustering key grows with time get the most from it: a read of
 * recent rows passes over the files of older ones (Cassandra skips
 * SSTables by their clustering bounds the same way).
 */
static bool wc__sstable_slice_disjoint(const wc_sstable_stats *ss, const wc_read_request *req)
{
    const wc_bound *sb = &req->start, *eb = &req->end;
    uint8_t sflags, eflags;

    wc__slice_flags(req, &sflags, &eflags);
    if (!ss->has_ck || ss->headers != 0 || (req->include_static && ss->statics != 0))
        return false;
    return !wc_slice_start_ok(sflags, sb->key, sb->len, ss->max_ck, ss->max_ck_len) ||
           !wc_slice_end_ok(eflags, eb->key, eb->len, ss->min_ck, ss->min_ck_len);
}

static bool wc__sstable_may_hold(const wc_sstable *t, const wc_read_request *req, int64_t token,
                                 const uint8_t *prefix, size_t plen, wc_read_stats *stats)
{
    const wc_sstable_stats *ss = wc_sstable_get_stats(t);

    if (token < ss->min_token || token > ss->max_token || wc__sstable_slice_disjoint(ss, req)) {
        stats->range_skips++;
        return false;
    }
    if (!wc_sstable_may_contain(t, prefix, plen)) {
        stats->bloom_skips++;
        return false;
    }
    return true;
}

/*
 * The read itself.  overlay (may be NULL) is one more memtable, the newest
 * source; with overlay_only it is the only one.  With a sink the read is raw
 * (wc__read_raw): reconciled entries go to the sink and the page only
 * counts.
 */
static wc_status wc__read_src(wc_engine *e, wc__sources *srcp, uint64_t visible,
                              const wc_read_request *req, const wc__raw_sink *sink,
                              bool incl_min, wc_memtable *overlay, bool overlay_only,
                              wc_page **out);

static wc_status wc__read(wc_engine *e, const wc_read_request *req, const wc__raw_sink *sink,
                          bool incl_min, wc_memtable *overlay, bool overlay_only, wc_page **out)
{
    wc__sources src;
    uint64_t visible;
    wc_status st;

    if (req->pk && req->pk_len > WC_MAX_PK_LEN)
        return wc_error(WC_INVALID_ARGUMENT, "partition key longer than %d bytes", WC_MAX_PK_LEN);
    st = wc__sources_acquire(e, req->table_id, &src);
    if (st != WC_OK)
        return st;
    /* the newest complete record: the memtables show nothing newer (write.c) */
    visible = atomic_load_explicit(&e->visible_seq, memory_order_acquire);
    st = wc__read_src(e, &src, visible, req, sink, incl_min, overlay, overlay_only, out);
    wc__sources_release(&src);
    return st;
}

wc_status wc_engine_read_files(wc_sstable *const *files, size_t n, const char *table_name,
                               const wc_read_request *req, wc_page **out)
{
    wc__sources src;
    wc_status st;

    if (req->pk && req->pk_len > WC_MAX_PK_LEN)
        return wc_error(WC_INVALID_ARGUMENT, "partition key longer than %d bytes", WC_MAX_PK_LEN);
    memset(&src, 0, sizeof(src));
    if (table_name != NULL) /* src.name is zeroed: it stays terminated */
        memcpy(src.name, table_name, strnlen(table_name, sizeof(src.name) - 1));
    /* newest first, as wc__sources_acquire lists them */
    src.ssts = n <= sizeof(src.ssts0) / sizeof(src.ssts0[0]) ? src.ssts0
                                                             : wc_malloc(n * sizeof(*src.ssts));
    if (src.ssts == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting a read");
    for (size_t i = 0; i < n; i++)
        src.ssts[src.nssts++] = files[n - 1 - i];
    st = wc__read_src(NULL, &src, 0, req, NULL, false, NULL, false, out);
    if (src.ssts != src.ssts0)
        wc_free(src.ssts);
    return st;
}

/* The read over the sources src (e NULL: files alone, no engine). */
static wc_status wc__read_src(wc_engine *e, wc__sources *srcp, uint64_t visible,
                              const wc_read_request *req, const wc__raw_sink *sink,
                              bool incl_min, wc_memtable *overlay, bool overlay_only,
                              wc_page **out)
{
    wc__rd rd;
    wc__sources src = *srcp;
    wc_iter **its = NULL;
    size_t nits = 0;
    const uint8_t *resume = NULL;
    size_t resume_len = 0;
    uint64_t resume_rows = 0;
    wc_buf prefix;
    int64_t token = 0;
    wc_status st;

    memset(&rd, 0, sizeof(rd));
    wc_buf_init(&prefix);
    if (req->pk == NULL && req->reverse)
        return wc_error(WC_INVALID_ARGUMENT, "reverse order needs a single partition");
    if (req->columns)
        for (size_t i = 1; i < req->ncolumns; i++)
            if (req->columns[i] <= req->columns[i - 1])
                return wc_error(WC_INVALID_ARGUMENT, "column list must be strictly ascending");
    if (req->paging_state &&
        (st = wc__parse_paging_state(req, &resume, &resume_len, &resume_rows)) != WC_OK)
        return st;
    rd.e = e;
    rd.req = req;
    rd.sink = sink;
    rd.incl_min = incl_min;
    rd.table_name = src.name;
    rd.now = req->now_sec ? req->now_sec : e ? wc__engine_now(e) : (int64_t)time(NULL);
    rd.page_rows = req->page_rows ? req->page_rows : WC_DEFAULT_PAGE_ROWS;
    for (int i = 0; i < 2; i++)
        wc_buf_init(&rd.mbuf[i]);
    wc_buf_init(&rd.target);
    wc_buf_init(&rd.hdr);
    wc_buf_init(&rd.last_key);
    wc_buf_init(&rd.coll);
    {
        wc__page_mem *pa = wc_malloc(sizeof(*pa));
        size_t n = src.nmems + src.nssts + 2;

        if (pa != NULL) {
            /* the built-in arrays need no zeroing */
            memset(&pa->page, 0, sizeof(pa->page));
            memset(&pa->pp, 0, offsetof(wc__page_priv, rows0));
            rd.page = &pa->page;
            rd.pp = &pa->pp;
            rd.page->priv = rd.pp;
            wc__page_init(rd.pp);
        }
        /* its, src, vals and src_kinds share one allocation (freed through its) */
        its = wc_malloc(n * (2 * sizeof(*its) + sizeof(*rd.vals) + 1));
        if (its != NULL) {
            rd.src = its + n;
            rd.vals = (wc_merge_value *)(rd.src + n);
            rd.src_kinds = (uint8_t *)(rd.vals + n);
        }
    }
    if (rd.page == NULL || its == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting a read");
        goto done;
    }

    if (req->pk) {
        token = wc_token(req->pk, req->pk_len);
        wc_key_build(&prefix, token, req->pk, req->pk_len, WC_KIND_HEADER, NULL, 0);
        if ((st = wc_buf_status(&prefix)) != WC_OK)
            goto done;
        prefix.len--; /* drop the kind byte: the partition prefix */
    }
    /* the overlay (the newest source), then the table's memtables */
    for (size_t i = 0; i <= src.nmems; i++) {
        wc_memtable *mt = i == 0 ? overlay : (overlay_only ? NULL : src.mems[i - 1]);
        wc_iter *it;

        if (mt == NULL)
            continue;
        if (i > 0)
            rd.page->stats.memtables_read++;
        if (wc_memtable_entries(mt) == 0)
            continue; /* nothing to look at (a reopened or just switched table) */
        it = i == 0 ? wc_memtable_iter(mt) : wc_memtable_iter_at(mt, visible);
        if (it == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory starting a read");
            goto done;
        }
        rd.src[rd.nsrc] = it;
        rd.src_kinds[rd.nsrc++] = 0xff;
        its[nits++] = it;
    }
    for (size_t i = 0; i < src.nssts && !overlay_only; i++) {
        wc_iter *it;
        if (req->pk && !wc__sstable_may_hold(src.ssts[i], req, token, prefix.data, prefix.len,
                                             &rd.page->stats))
            continue;
        it = wc_sstable_iter(src.ssts[i], &rd.counters);
        if (it == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory starting a read");
            goto done;
        }
        {
            const wc_sstable_stats *ss = wc_sstable_get_stats(src.ssts[i]);
            rd.src[rd.nsrc] = it;
            rd.src_kinds[rd.nsrc++] = (uint8_t)((ss->headers ? 1u << WC_KIND_HEADER : 0) |
                                                (ss->statics ? 1u << WC_KIND_STATIC : 0) |
                                                (1u << WC_KIND_ROW));
        }
        its[nits++] = it;
        rd.page->stats.sstables_read++;
    }
    if (sink == NULL && wc__is_point_read(req)) {
        bool fallback;

        rd.rows_in_part = 0;
        st = wc__read_point(&rd, prefix.data, prefix.len, &fallback);
        if (st != WC_OK || !fallback)
            goto finish;
    }
    st = wc_merge_new(its, nits, &rd.m);
    nits = 0;
    if (st != WC_OK)
        goto done;

    if (req->pk) {
        rd.rows_in_part = resume ? resume_rows : 0;
        if (!(resume && req->per_partition_limit && rd.rows_in_part >= req->per_partition_limit))
            st = wc__read_partition(&rd, prefix.data, prefix.len, false, resume, resume_len);
    } else {
        /* scan in token order */
        bool positioned = false;
        if (resume) {
            size_t plen = wc_key_partition_prefix(resume, resume_len);
            rd.rows_in_part = resume_rows;
            wc_buf_append(&prefix, resume, plen);
            if (!(req->per_partition_limit && rd.rows_in_part >= req->per_partition_limit))
                st = wc__read_partition(&rd, prefix.data, prefix.len, false, resume, resume_len);
            if (st == WC_OK && !rd.stop) {
                size_t tl;
                const uint8_t *t = wc__target(&rd, prefix.data, prefix.len, WC_KIND_END, NULL, 0, &tl);
                wc_merge_seek(rd.m, t, tl);
                positioned = true;
            }
        } else if (req->token_range) {
            uint8_t t[8];
            if (req->token_start == INT64_MAX)
                goto finish;
            wc_token_encode(t, incl_min && req->token_start == INT64_MIN ? INT64_MIN
                                                                          : req->token_start + 1);
            wc_merge_seek(rd.m, t, 8);
            positioned = true;
        } else {
            wc_merge_seek(rd.m, (const uint8_t *)"", 0);
            positioned = true;
        }
        while (st == WC_OK && !rd.stop && positioned && wc_merge_valid(rd.m)) {
            size_t kl, plen;
            const uint8_t *k = wc_merge_key(rd.m, &kl);
            wc_key_parts kp;

            if (!wc_key_parse(k, kl, &kp)) {
                st = wc_error(WC_CORRUPTION, "malformed key in scan");
                break;
            }
            if (req->token_range && kp.token > req->token_end)
                break;
            plen = WC_KEY_PREFIX_LEN(kp.pk_len);
            wc_buf_reset(&prefix);
            wc_buf_append(&prefix, k, plen);
            if ((st = wc_buf_status(&prefix)) != WC_OK)
                break;
            rd.rows_in_part = 0;
            st = wc__read_partition(&rd, prefix.data, prefix.len, true, NULL, 0);
            if (st != WC_OK || rd.stop)
                break;
            /* move to the next partition if the slice stopped early */
            if (wc_merge_valid(rd.m)) {
                k = wc_merge_key(rd.m, &kl);
                if (wc__same_partition(k, kl, prefix.data, prefix.len)) {
                    size_t tl;
                    const uint8_t *t =
                        wc__target(&rd, prefix.data, prefix.len, WC_KIND_END, NULL, 0, &tl);
                    wc_merge_seek(rd.m, t, tl);
                }
            }
        }
        if (st == WC_OK)
            st = wc_merge_status(rd.m);
    }
finish:
    if (st == WC_OK && rd.stop && !rd.limit_hit) {
        rd.page->more = true;
        st = wc__make_paging_state(&rd);
    }
    if (st == WC_OK) {
        for (size_t i = 0; i < rd.page->nrows; i++)
            rd.pp->rows[i].cells = rd.pp->cells + rd.pp->cell_start[i];
        rd.page->rows = rd.pp->rows;
        rd.page->stats.blocks_read = rd.counters.blocks_read;
        rd.page->stats.cache_hits = rd.counters.cache_hits;
        if (req->pk && src.counters && !overlay_only && sink == NULL)
            wc__read_hist_add(src.counters, rd.page->stats.sstables_read);
    }
done:
    /* a damaged SSTable takes its table offline (scrub.c); SSTable sources are
     * those not marked 0xff (an empty memtable has no source, so they need not
     * start at src.nmems) */
    for (size_t i = 0; st == WC_CORRUPTION && e && rd.src && i < rd.nsrc; i++)
        if (rd.src_kinds[i] != 0xff && wc_iter_status(rd.src[i]) == WC_CORRUPTION) {
            st = wc__table_damaged(e, req->table_id, wc_last_error());
            break;
        }
    for (size_t i = 0; i < nits; i++)
        wc_iter_destroy(its[i]);
    wc_free(its); /* with src, vals and src_kinds */
    wc_merge_free(rd.m);
    for (int i = 0; i < 2; i++)
        wc_buf_free(&rd.mbuf[i]);
    wc_buf_free(&rd.target);
    wc_buf_free(&rd.hdr);
    wc_buf_free(&rd.last_key);
    wc_buf_free(&rd.coll);
    wc_buf_free(&prefix);
    wc_free(rd.rts);
    if (st != WC_OK) {
        wc_page_free(rd.page);
        return st;
    }
    *out = rd.page;
    return WC_OK;
}

wc_status wc_engine_read(wc_engine *e, const wc_read_request *req, wc_page **out)
{
    return wc__read(e, req, NULL, false, NULL, false, out);
}

/* The batch record's mutations of table_id in a new memtable (*out). */
static wc_status wc__overlay_memtable(uint32_t table_id, const uint8_t *rec, size_t len,
                                      wc_memtable **out)
{
    wc_memtable *m = NULL;
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry en;
    const uint8_t *mut;
    size_t ml;
    wc_buf key;
    wc_status st;
    int r;

    wc_buf_init(&key);
    if (wc_batch_parse(rec, len, &bv) != WC_OK) {
        st = wc_error(WC_INVALID_ARGUMENT, "malformed overlay batch");
        goto fail;
    }
    if ((st = wc_memtable_new(&m)) != WC_OK)
        goto fail;
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        if (wc_mutation_parse(mut, ml, &mv) != WC_OK) {
            st = wc_error(WC_INVALID_ARGUMENT, "malformed mutation in an overlay batch");
            goto fail;
        }
        if (mv.table_id != table_id) {
            st = wc_error(WC_INVALID_ARGUMENT,
                          "overlay batch holds a mutation of table %u, the read is of table %u",
                          mv.table_id, table_id);
            goto fail;
        }
        if (mv.pk_len > WC_MAX_PK_LEN) {
            st = wc_error(WC_INVALID_ARGUMENT, "partition key longer than %d bytes",
                          WC_MAX_PK_LEN);
            goto fail;
        }
        while ((r = wc_mutation_next(&mv, &en)) == 1) {
            if (en.kind > WC_KIND_ROW || (en.kind != WC_KIND_ROW && en.ck_len != 0) ||
                en.ck_len > WC_MAX_CK_LEN) {
                st = wc_error(WC_INVALID_ARGUMENT, "malformed entry in an overlay batch");
                goto fail;
            }
            wc_buf_reset(&key);
            wc_key_build(&key, wc_token(mv.pk, mv.pk_len), mv.pk, mv.pk_len, en.kind, en.ck,
                         en.ck_len);
            if ((st = wc_buf_status(&key)) != WC_OK)
                goto fail;
            if ((st = wc_memtable_put(m, key.data, key.len, en.blob, en.blob_len)) != WC_OK)
                goto fail;
        }
        if (r < 0) {
            st = wc_error(WC_INVALID_ARGUMENT, "malformed entry in an overlay batch");
            goto fail;
        }
    }
    if (r < 0) {
        st = wc_error(WC_INVALID_ARGUMENT, "malformed overlay batch");
        goto fail;
    }
    wc_buf_free(&key);
    *out = m;
    return WC_OK;
fail:
    wc_buf_free(&key);
    if (m)
        wc_memtable_unref(m);
    return st;
}

wc_status wc_engine_read_overlay(wc_engine *e, const wc_read_request *req, const uint8_t *overlay,
                                 size_t overlay_len, bool overlay_only, wc_page **out)
{
    wc_memtable *m = NULL;
    wc_status st;

    if (overlay == NULL && overlay_len > 0)
        return wc_error(WC_INVALID_ARGUMENT, "overlay of %zu bytes without data", overlay_len);
    if (overlay_len > 0 &&
        (st = wc__overlay_memtable(req->table_id, overlay, overlay_len, &m)) != WC_OK)
        return st;
    st = wc__read(e, req, NULL, false, m, overlay_only, out);
    if (m)
        wc_memtable_unref(m);
    return st;
}

wc_status wc__read_raw(wc_engine *e, const wc_read_request *req, bool incl_min,
                       const wc__raw_sink *sink, wc_read_stats *stats)
{
    wc_page *p = NULL;
    wc_status st = wc__read(e, req, sink, incl_min, NULL, false, &p);

    if (st == WC_OK && stats)
        *stats = p->stats;
    wc_page_free(p);
    return st;
}
