/*
 * mutation.c - encoded mutations and batches (layout in mutation.h).
 */
#include "mutation.h"

#include "keys.h"

#include <string.h>

void wc_mutation_init(wc_mutation *m, uint32_t table_id, const void *pk, size_t pk_len)
{
    m->table_id = table_id;
    wc_buf_init(&m->buf);
    wc_buf_init(&m->entries);
    wc_buf_init(&m->scratch);
    wc_buf_init(&m->ck);
    m->nentries = 0;
    m->bad = pk_len > WC_MAX_PK_LEN;
    wc_buf_put_u32(&m->buf, table_id);
    wc_buf_put_bytes(&m->buf, pk, m->bad ? 0 : pk_len);
    m->count_pos = m->buf.len;
}

void wc_mutation_reset(wc_mutation *m, uint32_t table_id, const void *pk, size_t pk_len)
{
    m->table_id = table_id;
    wc_buf_reset(&m->buf);
    wc_buf_reset(&m->entries);
    wc_buf_reset(&m->scratch);
    wc_buf_reset(&m->ck);
    m->nentries = 0;
    m->bad = pk_len > WC_MAX_PK_LEN;
    wc_buf_put_u32(&m->buf, table_id);
    wc_buf_put_bytes(&m->buf, pk, m->bad ? 0 : pk_len);
    m->count_pos = m->buf.len;
}

void wc_mutation_free(wc_mutation *m)
{
    wc_buf_free(&m->buf);
    wc_buf_free(&m->entries);
    wc_buf_free(&m->scratch);
    wc_buf_free(&m->ck);
}

void wc_mutation_add(wc_mutation *m, uint8_t kind, const void *ck, size_t ck_len,
                     const uint8_t *blob, size_t blob_len)
{
    if (ck_len > WC_MAX_CK_LEN || (kind != WC_KIND_ROW && ck_len != 0) || kind > WC_KIND_ROW)
        m->bad = true;
    wc_buf_put_u8(&m->entries, kind);
    wc_buf_put_bytes(&m->entries, ck, ck_len);
    wc_buf_put_bytes(&m->entries, blob, blob_len);
    m->nentries++;
}

void wc_mutation_delete_partition(wc_mutation *m, int64_t ts, uint32_t ldt)
{
    wc_buf_reset(&m->scratch);
    wc_header_build(&m->scratch, true, ts, ldt, NULL, 0);
    wc_mutation_add(m, WC_KIND_HEADER, NULL, 0, m->scratch.data, m->scratch.len);
}

void wc_mutation_delete_range(wc_mutation *m, const wc_range_tombstone *rt)
{
    wc_buf_reset(&m->scratch);
    wc_header_build(&m->scratch, false, 0, 0, rt, 1);
    wc_mutation_add(m, WC_KIND_HEADER, NULL, 0, m->scratch.data, m->scratch.len);
}

wc_rowb *wc_mutation_row_begin(wc_mutation *m, bool is_static, const void *ck, size_t ck_len)
{
    m->row_kind = is_static ? WC_KIND_STATIC : WC_KIND_ROW;
    wc_buf_reset(&m->ck);
    if (!is_static)
        wc_buf_append(&m->ck, ck, ck_len);
    if (!is_static && ck_len == 0)
        m->ck.len = 0;
    wc_buf_reset(&m->scratch);
    wc_rowb_begin(&m->rowb, &m->scratch);
    return &m->rowb;
}

void wc_mutation_row_end(wc_mutation *m)
{
    if (wc_rowb_end(&m->rowb) == 0)
        m->bad = true;
    wc_mutation_add(m, m->row_kind, m->ck.data, m->ck.len, m->scratch.data, m->scratch.len);
}

wc_status wc_mutation_encode(wc_mutation *m, const uint8_t **out, size_t *len)
{
    /* out of memory first: a row the builder could not finish also marks the mutation bad */
    if (m->buf.failed || m->entries.failed || m->scratch.failed || m->ck.failed)
        return wc_error(WC_NO_MEMORY, "out of memory encoding a mutation");
    if (m->bad)
        return wc_error(WC_INVALID_ARGUMENT,
                        "mutation has a partition key over %d bytes, a clustering key over %u "
                        "bytes or a malformed entry",
                        WC_MAX_PK_LEN, WC_MAX_CK_LEN);
    m->buf.len = m->count_pos;
    wc_buf_put_varint(&m->buf, m->nentries);
    wc_buf_append(&m->buf, m->entries.data, m->entries.len);
    if (m->buf.failed)
        return wc_error(WC_NO_MEMORY, "out of memory encoding a mutation");
    *out = m->buf.data;
    *len = m->buf.len;
    return WC_OK;
}

wc_status wc_mutation_parts(const wc_mutation *m, const uint8_t **head, size_t *head_len,
                            uint32_t *nentries, const uint8_t **entries, size_t *entries_len)
{
    if (m->buf.failed || m->entries.failed || m->scratch.failed || m->ck.failed)
        return wc_error(WC_NO_MEMORY, "out of memory encoding a mutation");
    if (m->bad)
        return wc_error(WC_INVALID_ARGUMENT,
                        "mutation has a partition key over %d bytes, a clustering key over %u "
                        "bytes or a malformed entry",
                        WC_MAX_PK_LEN, WC_MAX_CK_LEN);
    *head = m->buf.data;
    *head_len = m->count_pos;
    *nentries = m->nentries;
    *entries = m->entries.data;
    *entries_len = m->entries.len;
    return WC_OK;
}

wc_status wc_mutation_parse(const uint8_t *p, size_t len, wc_mutation_view *v)
{
    const uint8_t *end = p + len;
    uint64_t n;

    if (!wc_get_u32(&p, end, &v->table_id) || !wc_get_bytes(&p, end, &v->pk, &v->pk_len) ||
        v->pk_len > WC_MAX_PK_LEN || !wc_get_varint(&p, end, &n) || n > (uint64_t)(end - p))
        return wc_error(WC_CORRUPTION, "malformed mutation header");
    v->nentries = (uint32_t)n;
    v->p = p;
    v->end = end;
    v->seen = 0;
    return WC_OK;
}

static int wc__mutation_next(wc_mutation_view *v, wc_mutation_entry *e, bool check)
{
    const uint8_t *p = v->p;

    if (v->seen == v->nentries)
        return p == v->end ? 0 : -1;
    if (!wc_get_u8(&p, v->end, &e->kind) || e->kind > WC_KIND_ROW ||
        !wc_get_bytes(&p, v->end, &e->ck, &e->ck_len) ||
        !wc_get_bytes(&p, v->end, &e->blob, &e->blob_len))
        return -1;
    if (e->kind != WC_KIND_ROW && e->ck_len != 0)
        return -1;
    if (check && (e->kind == WC_KIND_HEADER ? !wc_header_validate(e->blob, e->blob_len)
                                            : !wc_row_validate(e->blob, e->blob_len)))
        return -1;
    v->p = p;
    v->seen++;
    return 1;
}

int wc_mutation_next(wc_mutation_view *v, wc_mutation_entry *e)
{
    return wc__mutation_next(v, e, true);
}

int wc_mutation_next_unchecked(wc_mutation_view *v, wc_mutation_entry *e)
{
    return wc__mutation_next(v, e, false);
}

void wc_batch_begin(wc_buf *rec, uint32_t count)
{
    wc_buf_put_u32(rec, WC_BATCH_MAGIC);
    wc_buf_put_varint(rec, count);
}

void wc_batch_add(wc_buf *rec, const uint8_t *mut, size_t len)
{
    wc_buf_put_bytes(rec, mut, len);
}

wc_status wc_batch_parse(const uint8_t *rec, size_t len, wc_batch_view *v)
{
    const uint8_t *p = rec, *end = rec + len;
    uint32_t magic;
    uint64_t n;

    if (!wc_get_u32(&p, end, &magic) || magic != WC_BATCH_MAGIC || !wc_get_varint(&p, end, &n) ||
        n > (uint64_t)(end - p))
        return wc_error(WC_CORRUPTION, "malformed mutation batch");
    v->count = (uint32_t)n;
    v->seen = 0;
    v->p = p;
    v->end = end;
    return WC_OK;
}

int wc_batch_next(wc_batch_view *v, const uint8_t **mut, size_t *len)
{
    if (v->seen == v->count)
        return v->p == v->end ? 0 : -1;
    if (!wc_get_bytes(&v->p, v->end, mut, len))
        return -1;
    v->seen++;
    return 1;
}

/* ---------------------------------------------------------------- batch builder */

void wc_batch_builder_init(wc_batch_builder *b)
{
    memset(b, 0, sizeof(*b));
    wc_buf_init(&b->body);
}

void wc_batch_builder_free(wc_batch_builder *b)
{
    wc_buf_free(&b->body);
    if (b->m_init)
        wc_mutation_free(&b->m);
    b->m_init = false;
    b->open = false;
    b->count = 0;
}

void wc_batch_builder_reset(wc_batch_builder *b)
{
    wc_buf_reset(&b->body);
    b->count = 0;
    b->open = false;
}

wc_mutation *wc_batch_builder_begin(wc_batch_builder *b, uint32_t table_id, const void *pk,
                                    size_t pk_len)
{
    if (b->m_init)
        wc_mutation_reset(&b->m, table_id, pk, pk_len);
    else
        wc_mutation_init(&b->m, table_id, pk, pk_len);
    b->m_init = true;
    b->open = true;
    return &b->m;
}

/* Make room for the header before the first mutation. */
static void wc__batch_room(wc_batch_builder *b)
{
    static const uint8_t zero[WC_BATCH_HEADER_MAX];

    if (b->body.len == 0)
        wc_buf_append(&b->body, zero, sizeof(zero));
}

wc_status wc_batch_builder_end(wc_batch_builder *b)
{
    const uint8_t *head, *entries;
    size_t head_len, entries_len;
    uint32_t n;
    wc_status st;

    if (!b->open)
        return wc_error(WC_INVALID_ARGUMENT, "no mutation was begun in this batch");
    b->open = false;
    if ((st = wc_mutation_parts(&b->m, &head, &head_len, &n, &entries, &entries_len)) != WC_OK)
        return st;
    wc__batch_room(b);
    wc_buf_put_varint(&b->body, head_len + (size_t)wc_varint_len(n) + entries_len);
    wc_buf_append(&b->body, head, head_len);
    wc_buf_put_varint(&b->body, n);
    wc_buf_append(&b->body, entries, entries_len);
    if (b->body.failed)
        return wc_error(WC_NO_MEMORY, "out of memory building a batch");
    b->count++;
    return WC_OK;
}

wc_status wc_batch_builder_add_encoded(wc_batch_builder *b, const uint8_t *mut, size_t len)
{
    wc__batch_room(b);
    wc_buf_put_bytes(&b->body, mut, len);
    if (b->body.failed)
        return wc_error(WC_NO_MEMORY, "out of memory building a batch");
    b->count++;
    return WC_OK;
}

wc_status wc_batch_builder_finish(wc_batch_builder *b, const uint8_t **rec, size_t *len)
{
    wc_buf hdr;
    uint8_t room[16]; /* wc_buf_put_varint reserves 10 bytes whatever it writes */

    wc__batch_room(b);
    if (b->body.failed)
        return wc_error(WC_NO_MEMORY, "out of memory building a batch");
    /* the header, right-aligned in the room kept before the first mutation */
    hdr.data = room;
    hdr.len = 0;
    hdr.cap = sizeof(room);
    hdr.failed = 0;
    wc_batch_begin(&hdr, b->count);
    b->start = WC_BATCH_HEADER_MAX - hdr.len;
    memcpy(b->body.data + b->start, room, hdr.len);
    *rec = b->body.data + b->start;
    *len = b->body.len - b->start;
    return WC_OK;
}

void wc_batch_builder_truncate(wc_batch_builder *b, uint32_t count, size_t size)
{
    b->open = false;
    if (count == 0 || b->body.len <= WC_BATCH_HEADER_MAX) {
        wc_batch_builder_reset(b);
        return;
    }
    b->body.len = WC_BATCH_HEADER_MAX + size;
    b->count = count;
}
