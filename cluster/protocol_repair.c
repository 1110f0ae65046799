/*
 * protocol_repair.c - the client protocol's repair and snapshot bodies
 * (REPAIR, REPAIRS, SNAPSHOT; contract in protocol.h,
 * layouts in docs/protocol.md).  Stateless.
 */
#include <string.h>

#include "alloc.h"
#include "protocol.h"

#define WC__BAD(what) wc_error(WC_CORRUPTION, "malformed %s message", what)
/* Smallest encoded repair: the fixed fields and an empty error. */
#define WC__MIN_REPAIR_BYTES (8 + 4 + 1 + 1 + 8 + 8 + 3 * 4 + 5 * 8 + 1)
/* Smallest encoded snapshot: an empty tag and the counts. */
#define WC__MIN_SNAPSHOT_BYTES (1 + 4 + 4 + 8)

void wc_proto_put_repair(wc_buf *b, uint32_t table_id, uint8_t flags)
{
    wc_buf_put_u32(b, table_id);
    wc_buf_put_u8(b, flags);
}

wc_status wc_proto_get_repair(const uint8_t *body, size_t len, uint32_t *table_id, uint8_t *flags)
{
    const uint8_t *p = body, *end = body + len;

    if (!wc_get_u32(&p, end, table_id) || !wc_get_u8(&p, end, flags) || p != end ||
        (*flags & ~WC_REPAIRF_ALL))
        return WC__BAD("REPAIR");
    return WC_OK;
}

void wc_proto_put_repair_info(wc_buf *b, const wc_proto_repair_info *r)
{
    size_t elen = strnlen(r->error, sizeof(r->error) - 1);

    wc_buf_put_u64(b, r->id);
    wc_buf_put_u32(b, r->table_id);
    wc_buf_put_u8(b, r->state);
    wc_buf_put_u8(b, r->flags);
    wc_buf_put_u64(b, (uint64_t)r->started_us);
    wc_buf_put_u64(b, (uint64_t)r->ended_us);
    wc_buf_put_u32(b, r->ranges_total);
    wc_buf_put_u32(b, r->ranges_done);
    wc_buf_put_u32(b, r->ranges_mismatched);
    wc_buf_put_u64(b, r->leaves_mismatched);
    wc_buf_put_u64(b, r->partitions);
    wc_buf_put_u64(b, r->repairs_sent);
    wc_buf_put_u64(b, r->rows_streamed);
    wc_buf_put_u64(b, r->bytes_streamed);
    wc_buf_put_bytes(b, r->error, elen);
}

static bool wc__get_repair(const uint8_t **pp, const uint8_t *end, wc_proto_repair_info *r)
{
    uint64_t s, e;
    const uint8_t *err;
    size_t elen;

    memset(r, 0, sizeof(*r));
    if (!wc_get_u64(pp, end, &r->id) || !wc_get_u32(pp, end, &r->table_id) ||
        !wc_get_u8(pp, end, &r->state) || !wc_get_u8(pp, end, &r->flags) ||
        !wc_get_u64(pp, end, &s) || !wc_get_u64(pp, end, &e) ||
        !wc_get_u32(pp, end, &r->ranges_total) || !wc_get_u32(pp, end, &r->ranges_done) ||
        !wc_get_u32(pp, end, &r->ranges_mismatched) ||
        !wc_get_u64(pp, end, &r->leaves_mismatched) || !wc_get_u64(pp, end, &r->partitions) ||
        !wc_get_u64(pp, end, &r->repairs_sent) || !wc_get_u64(pp, end, &r->rows_streamed) ||
        !wc_get_u64(pp, end, &r->bytes_streamed) || !wc_get_bytes(pp, end, &err, &elen) ||
        elen >= sizeof(r->error) || memchr(err, 0, elen) != NULL ||
        r->state > WC_REPAIR_STATE_MAX || (r->flags & ~WC_REPAIRF_ALL))
        return false;
    r->started_us = (int64_t)s;
    r->ended_us = (int64_t)e;
    memcpy(r->error, err, elen);
    r->error[elen] = '\0';
    return true;
}

wc_status wc_proto_get_repair_info(const uint8_t *body, size_t len, wc_proto_repair_info *r)
{
    const uint8_t *p = body, *end = body + len;

    if (!wc__get_repair(&p, end, r) || p != end)
        return WC__BAD("REPAIR response");
    return WC_OK;
}

void wc_proto_put_repairs(wc_buf *b, const wc_proto_repair_info *v, size_t n)
{
    wc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        wc_proto_put_repair_info(b, &v[i]);
}

wc_status wc_proto_get_repairs(const uint8_t *body, size_t len, wc_proto_repair_info **v,
                               size_t *n)
{
    const uint8_t *p = body, *end = body + len;
    uint32_t cnt;
    wc_proto_repair_info *out = NULL;

    *v = NULL;
    *n = 0;
    if (!wc_get_u32(&p, end, &cnt) || cnt > (size_t)(end - p) / WC__MIN_REPAIR_BYTES)
        return WC__BAD("REPAIRS response");
    if (cnt && (out = wc_calloc(cnt, sizeof(*out))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding REPAIRS");
    for (uint32_t i = 0; i < cnt; i++)
        if (!wc__get_repair(&p, end, &out[i])) {
            wc_free(out);
            return WC__BAD("REPAIRS response");
        }
    if (p != end) {
        wc_free(out);
        return WC__BAD("REPAIRS response");
    }
    *v = out;
    *n = cnt;
    return WC_OK;
}

void wc_proto_put_snapshot(wc_buf *b, uint8_t action, const char *tag)
{
    wc_buf_put_u8(b, action);
    wc_buf_put_bytes(b, tag ? tag : "", tag ? strnlen(tag, 63) : 0);
}

wc_status wc_proto_get_snapshot(const uint8_t *body, size_t len, uint8_t *action, char tag[64])
{
    const uint8_t *p = body, *end = body + len, *t;
    size_t tlen;

    if (!wc_get_u8(&p, end, action) || *action == 0 || *action > WC_SNAPSHOT_ACTION_MAX ||
        !wc_get_bytes(&p, end, &t, &tlen) || tlen > 63 || memchr(t, 0, tlen) != NULL || p != end)
        return WC__BAD("SNAPSHOT");
    memcpy(tag, t, tlen);
    tag[tlen] = '\0';
    return WC_OK;
}

void wc_proto_put_snapshots(wc_buf *b, const wc_proto_snapshot *v, size_t n)
{
    wc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        wc_buf_put_bytes(b, v[i].tag, strnlen(v[i].tag, sizeof(v[i].tag) - 1));
        wc_buf_put_u32(b, v[i].tables);
        wc_buf_put_u32(b, v[i].files);
        wc_buf_put_u64(b, v[i].bytes);
    }
}

wc_status wc_proto_get_snapshots(const uint8_t *body, size_t len, wc_proto_snapshot **v,
                                 size_t *n)
{
    const uint8_t *p = body, *end = body + len, *t;
    size_t tlen;
    uint32_t cnt;
    wc_proto_snapshot *out = NULL;

    *v = NULL;
    *n = 0;
    if (!wc_get_u32(&p, end, &cnt) || cnt > (size_t)(end - p) / WC__MIN_SNAPSHOT_BYTES)
        return WC__BAD("SNAPSHOT response");
    if (cnt && (out = wc_calloc(cnt, sizeof(*out))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding SNAPSHOT");
    for (uint32_t i = 0; i < cnt; i++) {
        if (!wc_get_bytes(&p, end, &t, &tlen) || tlen >= sizeof(out[i].tag) ||
            memchr(t, 0, tlen) != NULL || !wc_get_u32(&p, end, &out[i].tables) ||
            !wc_get_u32(&p, end, &out[i].files) || !wc_get_u64(&p, end, &out[i].bytes)) {
            wc_free(out);
            return WC__BAD("SNAPSHOT response");
        }
        memcpy(out[i].tag, t, tlen);
    }
    if (p != end) {
        wc_free(out);
        return WC__BAD("SNAPSHOT response");
    }
    *v = out;
    *n = cnt;
    return WC_OK;
}
