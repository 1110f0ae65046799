/*
 * lwt.c - the CAS request, its conditions and the restamping of its
 * writes (contract in lwt.h).
 */
#include "lwt.h"

#include <string.h>

#include "keys.h"
#include "mutation.h"
#include "row.h"

void wc_lwt_put_request(wc_buf *b, const wc_lwt_request *r)
{
    wc_buf_put_u8(b, (uint8_t)r->serial_cl);
    wc_buf_put_u8(b, r->flags);
    wc_buf_put_u32(b, r->table_id);
    wc_buf_put_bytes(b, r->pk, r->pk_len);
    wc_buf_put_bytes(b, r->ck, r->ck_len);
    wc_buf_put_varint(b, r->nconds);
    for (uint32_t i = 0; i < r->nconds; i++) {
        wc_buf_put_u32(b, r->conds[i].column);
        wc_buf_put_u8(b, r->conds[i].op);
        wc_buf_put_bytes(b, r->conds[i].value, r->conds[i].len);
    }
    wc_buf_put_bytes(b, r->batch, r->batch_len);
}

wc_status wc_lwt_get_request(const uint8_t *p, size_t len, wc_lwt_request *out)
{
    const uint8_t *q = p, *end = p + len;
    uint8_t cl;
    uint64_t n;

    memset(out, 0, sizeof(*out));
    if (!wc_get_u8(&q, end, &cl) || !wc_get_u8(&q, end, &out->flags) ||
        !wc_get_u32(&q, end, &out->table_id) || !wc_get_bytes(&q, end, &out->pk, &out->pk_len) ||
        !wc_get_bytes(&q, end, &out->ck, &out->ck_len) || !wc_get_varint(&q, end, &n))
        return wc_error(WC_CORRUPTION, "malformed CAS message");
    if (cl != WC_CL_SERIAL && cl != WC_CL_LOCAL_SERIAL)
        return wc_error(WC_INVALID_ARGUMENT,
                        "a lightweight transaction runs at SERIAL or LOCAL_SERIAL, not %s",
                        wc_consistency_name((wc_consistency)cl));
    if (out->flags & ~WC_CASF_ALL)
        return wc_error(WC_INVALID_ARGUMENT, "unknown CAS flags 0x%02x", out->flags);
    if (n > WC_LWT_MAX_CONDS)
        return wc_error(WC_INVALID_ARGUMENT, "a lightweight transaction has at most %d conditions",
                        WC_LWT_MAX_CONDS);
    out->serial_cl = (wc_consistency)cl;
    out->nconds = (uint32_t)n;
    for (uint32_t i = 0; i < out->nconds; i++) {
        wc_lwt_cond *c = &out->conds[i];

        if (!wc_get_u32(&q, end, &c->column) || !wc_get_u8(&q, end, &c->op) ||
            !wc_get_bytes(&q, end, &c->value, &c->len))
            return wc_error(WC_CORRUPTION, "malformed CAS condition");
        if (c->op == 0 || c->op > WC_CAS_OP_MAX)
            return wc_error(WC_INVALID_ARGUMENT, "unknown CAS operator %u", c->op);
    }
    if (!wc_get_bytes(&q, end, &out->batch, &out->batch_len) || q != end)
        return wc_error(WC_CORRUPTION, "malformed CAS message");
    if (out->pk_len > WC_MAX_PK_LEN || out->ck_len > WC_MAX_CK_LEN)
        return wc_error(WC_INVALID_ARGUMENT, "CAS key too long");
    return WC_OK;
}

void wc_lwt_read_request(const wc_lwt_request *r, int64_t now_sec, wc_read_request *out)
{
    memset(out, 0, sizeof(*out));
    out->table_id = r->table_id;
    out->pk = r->pk;
    out->pk_len = r->pk_len;
    out->include_static = true;
    out->now_sec = now_sec;
    out->page_rows = 2;
    if (r->flags & WC_CASF_STATIC) {
        /* the static row, and one row at most */
        out->start.unbounded = out->end.unbounded = true;
        out->limit = 1;
        return;
    }
    out->start.key = out->end.key = r->ck;
    out->start.len = out->end.len = r->ck_len;
    out->start.inclusive = out->end.inclusive = true;
}

/* The row the conditions are about in page, or NULL when it does not exist (no live data). */
static const wc_result_row *wc__row(const wc_lwt_request *r, const wc_page *page)
{
    for (size_t i = 0; i < page->nrows; i++) {
        const wc_result_row *row = &page->rows[i];

        if ((r->flags & WC_CASF_STATIC) ? row->is_static
                                        : (!row->is_static && row->ck_len == r->ck_len &&
                                           memcmp(row->ck, r->ck, r->ck_len) == 0))
            return row;
    }
    return NULL;
}

/* The partition's static row in page, or NULL. */
static const wc_result_row *wc__static_row(const wc_page *page)
{
    for (size_t i = 0; i < page->nrows; i++)
        if (page->rows[i].is_static)
            return &page->rows[i];
    return NULL;
}

/* Column's live cell in row, or NULL (row may be NULL). */
static const wc_cell *wc__cell(const wc_result_row *row, uint32_t column)
{
    const wc_cell *cell = NULL;

    for (uint32_t k = 0; row && k < row->ncells; k++)
        if (row->cells[k].column == column)
            cell = &row->cells[k];
    return cell;
}

bool wc_lwt_holds(const wc_lwt_request *r, const wc_page *page)
{
    const wc_result_row *row = wc__row(r, page);
    const wc_result_row *srow = (r->flags & WC_CASF_STATIC) ? NULL : wc__static_row(page);

    if ((r->flags & WC_CASF_NOT_EXISTS) && row != NULL)
        return false;
    if ((r->flags & WC_CASF_EXISTS) && row == NULL)
        return false;
    for (uint32_t i = 0; i < r->nconds; i++) {
        const wc_lwt_cond *c = &r->conds[i];
        /* a static column's cell is in the static row (column ids are unique in a table) */
        const wc_cell *cell = wc__cell(row, c->column);
        bool eq;

        if (cell == NULL)
            cell = wc__cell(srow, c->column);
        switch (c->op) {
        case WC_CAS_IS_NULL:
            if (cell != NULL)
                return false;
            break;
        case WC_CAS_IS_NOT_NULL:
            if (cell == NULL)
                return false;
            break;
        default:
            /* a missing cell is NULL: neither equal nor unequal to a value, as in CQL */
            if (cell == NULL)
                return false;
            eq = cell->len == c->len && memcmp(cell->value, c->value, c->len) == 0;
            if (eq != (c->op == WC_CAS_EQ))
                return false;
        }
    }
    return true;
}

/* One row blob with every timestamp set to ts, into m. */
static wc_status wc__restamp_row(wc_mutation *m, const wc_mutation_entry *e, int64_t ts,
                                 wc_buf *scratch)
{
    wc_row_view v;
    wc_rowb rb;
    wc_cell c;
    int rc;

    if (!wc_row_parse(e->blob, e->blob_len, &v))
        return wc_error(WC_CORRUPTION, "malformed row in a CAS batch");
    wc_buf_reset(scratch);
    wc_rowb_begin(&rb, scratch);
    if (v.flags & WC_ROWF_LIVENESS)
        wc_rowb_liveness(&rb, ts, v.live_ttl, v.live_ldt);
    if (v.flags & WC_ROWF_DELETED)
        wc_rowb_deletion(&rb, ts, v.del_ldt);
    while ((rc = wc_row_next_cell(&v, &c)) == 1) {
        if (c.flags & (WC_CELLF_COUNTER | WC_CELLF_COUNTER_DELTA))
            return wc_error(WC_INVALID_ARGUMENT, "a lightweight transaction cannot update a "
                                                 "counter");
        c.ts = ts;
        wc_rowb_cell(&rb, &c);
    }
    if (rc < 0)
        return wc_error(WC_CORRUPTION, "malformed row in a CAS batch");
    wc_rowb_end(&rb);
    if (wc_buf_status(scratch) != WC_OK)
        return wc_error(WC_NO_MEMORY, "out of memory restamping a CAS batch");
    wc_mutation_add(m, e->kind, e->ck, e->ck_len, scratch->data, scratch->len);
    return WC_OK;
}

wc_status wc_lwt_restamp(const uint8_t *batch, size_t len, uint32_t table_id, int64_t ts,
                         wc_buf *out)
{
    wc_batch_view bv;
    const uint8_t *mut, *enc, *pk0 = NULL;
    size_t mlen, enc_len, pk0_len = 0;
    wc_mutation m;
    wc_buf scratch, muts;
    uint32_t count = 0;
    wc_status st;
    int rc;

    if ((st = wc_batch_parse(batch, len, &bv)) != WC_OK)
        return st;
    wc_buf_init(&scratch);
    wc_buf_init(&muts);
    wc_mutation_init(&m, table_id, NULL, 0);
    while ((rc = wc_batch_next(&bv, &mut, &mlen)) == 1) {
        wc_mutation_view mv;
        wc_mutation_entry e;

        if ((st = wc_mutation_parse(mut, mlen, &mv)) != WC_OK)
            goto done;
        if (mv.table_id != table_id ||
            (pk0 && (mv.pk_len != pk0_len || memcmp(mv.pk, pk0, pk0_len) != 0))) {
            st = wc_error(WC_INVALID_ARGUMENT,
                          "a lightweight transaction writes one partition of one table");
            goto done;
        }
        pk0 = mv.pk;
        pk0_len = mv.pk_len;
        wc_mutation_reset(&m, table_id, mv.pk, mv.pk_len);
        while ((rc = wc_mutation_next(&mv, &e)) == 1) {
            if (e.kind != WC_KIND_ROW && e.kind != WC_KIND_STATIC) {
                st = wc_error(WC_INVALID_ARGUMENT, "a lightweight transaction cannot delete a "
                                                   "partition or a range of rows");
                goto done;
            }
            if ((st = wc__restamp_row(&m, &e, ts, &scratch)) != WC_OK)
                goto done;
        }
        if (rc < 0) {
            st = wc_error(WC_CORRUPTION, "malformed mutation in a CAS batch");
            goto done;
        }
        if ((st = wc_mutation_encode(&m, &enc, &enc_len)) != WC_OK)
            goto done;
        wc_batch_add(&muts, enc, enc_len);
        count++;
    }
    if (rc < 0) {
        st = wc_error(WC_CORRUPTION, "malformed CAS batch");
        goto done;
    }
    /* the batch record: the count, then the mutations (each a length and its bytes) */
    wc_batch_begin(out, count);
    wc_buf_append(out, muts.data, muts.len);
    st = wc_buf_status(out) == WC_OK ? WC_OK : wc_error(WC_NO_MEMORY, "out of memory restamping");
done:
    wc_mutation_free(&m);
    wc_buf_free(&scratch);
    wc_buf_free(&muts);
    return st;
}
