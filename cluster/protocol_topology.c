/*
 * protocol_topology.c - the client protocol's topology bodies (CLEANUP,
 * DECOMMISSION, REMOVENODE; contract in protocol.h, layouts in
 * docs/protocol.md).  Stateless.
 */
#include <string.h>

#include "protocol.h"

#define WC__BAD(what) wc_error(WC_CORRUPTION, "malformed %s message", what)

void wc_proto_put_cleanup(wc_buf *b, uint32_t table_id) { wc_buf_put_u32(b, table_id); }

wc_status wc_proto_get_cleanup(const uint8_t *body, size_t len, uint32_t *table_id)
{
    const uint8_t *p = body, *end = body + len;

    if (!wc_get_u32(&p, end, table_id) || p != end)
        return WC__BAD("CLEANUP");
    return WC_OK;
}

void wc_proto_put_cleanup_result(wc_buf *b, const wc_cleanup_result *r)
{
    wc_buf_put_u32(b, r->sstables_checked);
    wc_buf_put_u32(b, r->sstables_rewritten);
    wc_buf_put_u64(b, r->partitions_dropped);
    wc_buf_put_u64(b, r->rows_dropped);
    wc_buf_put_u64(b, r->bytes_before);
    wc_buf_put_u64(b, r->bytes_after);
}

wc_status wc_proto_get_cleanup_result(const uint8_t *body, size_t len, wc_cleanup_result *r)
{
    const uint8_t *p = body, *end = body + len;

    memset(r, 0, sizeof(*r));
    if (!wc_get_u32(&p, end, &r->sstables_checked) ||
        !wc_get_u32(&p, end, &r->sstables_rewritten) ||
        !wc_get_u64(&p, end, &r->partitions_dropped) || !wc_get_u64(&p, end, &r->rows_dropped) ||
        !wc_get_u64(&p, end, &r->bytes_before) || !wc_get_u64(&p, end, &r->bytes_after) ||
        p != end)
        return WC__BAD("CLEANUP response");
    return WC_OK;
}

void wc_proto_put_removenode(wc_buf *b, const uint8_t host_id[WC_MEMBER_HOST_ID_LEN])
{
    wc_buf_append(b, host_id, WC_MEMBER_HOST_ID_LEN);
}

wc_status wc_proto_get_removenode(const uint8_t *body, size_t len,
                                  uint8_t host_id[WC_MEMBER_HOST_ID_LEN])
{
    if (len != WC_MEMBER_HOST_ID_LEN)
        return WC__BAD("REMOVENODE");
    memcpy(host_id, body, WC_MEMBER_HOST_ID_LEN);
    return WC_OK;
}

void wc_proto_put_topology_result(wc_buf *b, const wc_proto_topology_result *r)
{
    wc_buf_put_u32(b, r->ranges);
    wc_buf_put_u32(b, r->targets);
    wc_buf_put_u64(b, r->rows);
    wc_buf_put_u64(b, r->bytes);
}

wc_status wc_proto_get_topology_result(const uint8_t *body, size_t len,
                                       wc_proto_topology_result *r)
{
    const uint8_t *p = body, *end = body + len;

    memset(r, 0, sizeof(*r));
    if (!wc_get_u32(&p, end, &r->ranges) || !wc_get_u32(&p, end, &r->targets) ||
        !wc_get_u64(&p, end, &r->rows) || !wc_get_u64(&p, end, &r->bytes) || p != end)
        return WC__BAD("topology response");
    return WC_OK;
}
