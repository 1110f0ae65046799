/*
 * protocol_schema.c - the client protocol bodies of SCHEMA_CHANGE and
 * SCHEMA_LIST (contract in protocol.h, layouts in docs/protocol.md
 * "SCHEMA_CHANGE" and "SCHEMA_LIST").  Stateless.
 */
#include "protocol.h"

#include <string.h>

#define WC__BAD(what) wc_error(WC_CORRUPTION, "malformed %s message", what)

void wc_proto_put_schema_change(wc_buf *b, const wc_proto_schema_change *c)
{
    wc_buf_put_u8(b, c->kind);
    wc_buf_put_u32(b, c->wait_ms);
    wc_buf_put_bytes(b, c->a, c->alen);
    wc_buf_put_bytes(b, c->b, c->blen);
    wc_buf_put_bytes(b, c->c, c->clen);
}

wc_status wc_proto_get_schema_change(const uint8_t *body, size_t len, wc_proto_schema_change *c)
{
    const uint8_t *p = body, *end = body + len;

    memset(c, 0, sizeof(*c));
    if (!wc_get_u8(&p, end, &c->kind) || c->kind == 0 || c->kind > WC_SCHEMA_CHANGE_MAX ||
        !wc_get_u32(&p, end, &c->wait_ms) || !wc_get_bytes(&p, end, &c->a, &c->alen) ||
        !wc_get_bytes(&p, end, &c->b, &c->blen) || !wc_get_bytes(&p, end, &c->c, &c->clen) ||
        p != end)
        return WC__BAD("SCHEMA_CHANGE");
    return WC_OK;
}

void wc_proto_put_schema_result(wc_buf *b, const wc_proto_schema_result *r)
{
    uint32_t named = r->nlaggards < WC_SCHEMA_MAX_LAGGARDS ? r->nlaggards : WC_SCHEMA_MAX_LAGGARDS;

    wc_buf_put_u32(b, r->table_id);
    wc_buf_put_u8(b, r->agreed ? 1 : 0);
    wc_buf_put_u32(b, r->waited_ms);
    wc_buf_put_u32(b, r->nlaggards);
    wc_buf_put_u8(b, (uint8_t)named);
    for (uint32_t i = 0; i < named; i++)
        wc_buf_put_bytes(b, r->laggards[i], strlen(r->laggards[i]));
}

wc_status wc_proto_get_schema_result(const uint8_t *body, size_t len, wc_proto_schema_result *r)
{
    const uint8_t *p = body, *end = body + len, *v;
    uint8_t agreed, named;
    size_t vl;

    memset(r, 0, sizeof(*r));
    if (!wc_get_u32(&p, end, &r->table_id) || !wc_get_u8(&p, end, &agreed) || agreed > 1 ||
        !wc_get_u32(&p, end, &r->waited_ms) || !wc_get_u32(&p, end, &r->nlaggards) ||
        !wc_get_u8(&p, end, &named) || named > WC_SCHEMA_MAX_LAGGARDS || named > r->nlaggards)
        return WC__BAD("SCHEMA_CHANGE response");
    r->agreed = agreed == 1;
    for (uint8_t i = 0; i < named; i++) {
        if (!wc_get_bytes(&p, end, &v, &vl) || vl >= sizeof(r->laggards[i]) || memchr(v, 0, vl))
            return WC__BAD("SCHEMA_CHANGE response");
        memcpy(r->laggards[i], v, vl);
        r->laggards[i][vl] = '\0';
    }
    return p == end ? WC_OK : WC__BAD("SCHEMA_CHANGE response");
}

void wc_proto_put_schema_list(wc_buf *b, const uint8_t *known, size_t known_len)
{
    wc_buf_put_bytes(b, known, known_len);
}

wc_status wc_proto_get_schema_list(const uint8_t *body, size_t len, const uint8_t **known,
                                   size_t *known_len)
{
    const uint8_t *p = body, *end = body + len;

    if (!wc_get_bytes(&p, end, known, known_len) || p != end ||
        (*known_len != 0 && *known_len != 16))
        return WC__BAD("SCHEMA_LIST");
    return WC_OK;
}

void wc_proto_put_schema_listing(wc_buf *b, uint8_t flags, const uint8_t *push, size_t push_len)
{
    wc_buf_put_u8(b, flags);
    if ((flags & WC_SCHEMA_LISTF_CLUSTER) && !(flags & WC_SCHEMA_LISTF_UNCHANGED))
        wc_buf_put_bytes(b, push, push_len);
}

wc_status wc_proto_get_schema_listing(const uint8_t *body, size_t len, uint8_t *flags,
                                      const uint8_t **push, size_t *push_len)
{
    const uint8_t *p = body, *end = body + len;

    *push = NULL;
    *push_len = 0;
    if (!wc_get_u8(&p, end, flags) || (*flags & ~WC_SCHEMA_LISTF_ALL))
        return WC__BAD("SCHEMA_LIST response");
    if ((*flags & WC_SCHEMA_LISTF_CLUSTER) && !(*flags & WC_SCHEMA_LISTF_UNCHANGED) &&
        !wc_get_bytes(&p, end, push, push_len))
        return WC__BAD("SCHEMA_LIST response");
    return p == end ? WC_OK : WC__BAD("SCHEMA_LIST response");
}
