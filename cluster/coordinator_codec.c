/*
 * coordinator_codec.c - encoding and bounded decoding of the coordinator
 * messages (coordinator_format.h, docs/protocol.md "Coordinator messages").
 */
#include <string.h>

#include "coordinator.h"
#include "coordinator_format.h"

#define WC__BAD(what) wc_error(WC_CORRUPTION, "malformed coordinator message: %s", what)

/* A bound's flags into the READ flags byte. */
static uint8_t wc__read_flags(const wc_store_read *r)
{
    uint8_t f = 0;

    if (r->reverse)
        f |= WC_COORD_READF_REVERSE;
    if (r->include_static)
        f |= WC_COORD_READF_STATIC;
    if (r->start.unbounded)
        f |= WC_COORD_READF_START_UNBOUNDED;
    else if (r->start.inclusive)
        f |= WC_COORD_READF_START_INCL;
    if (r->end.unbounded)
        f |= WC_COORD_READF_END_UNBOUNDED;
    else if (r->end.inclusive)
        f |= WC_COORD_READF_END_INCL;
    if (r->token_range)
        f |= WC_COORD_READF_TOKEN_RANGE;
    return f;
}

wc_status wc_coord_encode(const wc_coord_msg *m, wc_buf *out)
{
    const wc_store_read *r = &m->read;

    switch (m->type) {
    case WC_COORD_MSG_MUTATION:
        wc_buf_put_u8(out, m->type);
        wc_buf_put_varint(out, m->req_id);
        wc_buf_put_bytes(out, m->batch, m->batch_len);
        break;
    case WC_COORD_MSG_MUTATION_ACK:
        wc_buf_put_u8(out, m->type);
        wc_buf_put_varint(out, m->req_id);
        wc_buf_put_u8(out, m->status);
        break;
    case WC_COORD_MSG_READ:
        wc_buf_put_u8(out, m->type);
        wc_buf_put_varint(out, m->req_id);
        wc_buf_put_u8(out, m->mode);
        wc_buf_put_u32(out, r->table_id);
        wc_buf_put_bytes(out, r->pk, r->pk_len);
        wc_buf_put_u8(out, wc__read_flags(r));
        if (!r->start.unbounded)
            wc_buf_put_bytes(out, r->start.key, r->start.len);
        if (!r->end.unbounded)
            wc_buf_put_bytes(out, r->end.key, r->end.len);
        if (r->token_range) {
            wc_buf_put_u64(out, (uint64_t)r->token_start);
            wc_buf_put_u64(out, (uint64_t)r->token_end);
        }
        wc_buf_put_varint(out, r->limit);
        wc_buf_put_varint(out, (uint64_t)r->now_sec);
        break;
    case WC_COORD_MSG_READ_RESPONSE:
        wc_buf_put_u8(out, m->type);
        wc_buf_put_varint(out, m->req_id);
        wc_buf_put_u8(out, m->status);
        wc_buf_put_u8(out, m->mode);
        wc_buf_append(out, m->digest, WC_COORD_DIGEST_LEN);
        wc_buf_put_bytes(out, m->data, m->data_len);
        break;
    default:
        return wc_error(WC_INVALID_ARGUMENT, "coordinator message type %u is unknown", m->type);
    }
    return wc_buf_status(out);
}

/* bytes of at most max, pointing into the message. */
static bool wc__get_bounded(const uint8_t **p, const uint8_t *end, size_t max, const uint8_t **out,
                            size_t *len)
{
    return wc_get_bytes(p, end, out, len) && *len <= max;
}

static wc_status wc__decode_read(const uint8_t **pp, const uint8_t *end, wc_store_read *r)
{
    uint8_t flags;
    uint64_t now;

    if (!wc_get_u32(pp, end, &r->table_id))
        return WC__BAD("READ without a table id");
    if (!wc__get_bounded(pp, end, WC_COORD_MAX_PK, &r->pk, &r->pk_len))
        return WC__BAD("READ partition key truncated or longer than 65535 bytes");
    if (!wc_get_u8(pp, end, &flags) || (flags & ~WC_COORD_READF_ALL) != 0)
        return WC__BAD("READ flags unknown");
    if (((flags & WC_COORD_READF_START_UNBOUNDED) && (flags & WC_COORD_READF_START_INCL)) ||
        ((flags & WC_COORD_READF_END_UNBOUNDED) && (flags & WC_COORD_READF_END_INCL)))
        return WC__BAD("READ bound both unbounded and inclusive");
    r->reverse = (flags & WC_COORD_READF_REVERSE) != 0;
    r->include_static = (flags & WC_COORD_READF_STATIC) != 0;
    r->start.unbounded = (flags & WC_COORD_READF_START_UNBOUNDED) != 0;
    r->start.inclusive = (flags & WC_COORD_READF_START_INCL) != 0;
    r->end.unbounded = (flags & WC_COORD_READF_END_UNBOUNDED) != 0;
    r->end.inclusive = (flags & WC_COORD_READF_END_INCL) != 0;
    r->start.key = r->end.key = NULL;
    r->start.len = r->end.len = 0;
    if (!r->start.unbounded &&
        !wc__get_bounded(pp, end, WC_COORD_MAX_CK, &r->start.key, &r->start.len))
        return WC__BAD("READ start bound truncated or longer than 1 MiB");
    if (!r->end.unbounded && !wc__get_bounded(pp, end, WC_COORD_MAX_CK, &r->end.key, &r->end.len))
        return WC__BAD("READ end bound truncated or longer than 1 MiB");
    r->token_range = (flags & WC_COORD_READF_TOKEN_RANGE) != 0;
    if (r->token_range) {
        uint64_t a, b;

        if (r->pk_len != 0 || !wc_get_u64(pp, end, &a) || !wc_get_u64(pp, end, &b))
            return WC__BAD("READ token range truncated or with a partition key");
        r->token_start = (int64_t)a;
        r->token_end = (int64_t)b;
    }
    if (!wc_get_varint(pp, end, &r->limit))
        return WC__BAD("READ limit truncated");
    if (!wc_get_varint(pp, end, &now) || now > INT64_MAX)
        return WC__BAD("READ clock truncated or out of range");
    r->now_sec = (int64_t)now;
    return WC_OK;
}

wc_status wc_coord_decode(const uint8_t *msg, size_t len, wc_coord_msg *out)
{
    const uint8_t *p = msg, *end = msg + len;
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (!wc_get_u8(&p, end, &out->type))
        return WC__BAD("empty");
    if (out->type < WC_COORD_MSG_MUTATION || out->type > WC_COORD_MSG_READ_RESPONSE)
        return wc_error(WC_INVALID_ARGUMENT, "coordinator message type %u is unknown", out->type);
    if (!wc_get_varint(&p, end, &out->req_id))
        return WC__BAD("request id truncated");
    switch (out->type) {
    case WC_COORD_MSG_MUTATION:
        if (!wc_get_bytes(&p, end, &out->batch, &out->batch_len))
            return WC__BAD("MUTATION batch truncated");
        break;
    case WC_COORD_MSG_MUTATION_ACK:
        if (!wc_get_u8(&p, end, &out->status) || out->status > WC_COORD_MAX_STATUS)
            return WC__BAD("MUTATION_ACK status truncated or unknown");
        break;
    case WC_COORD_MSG_READ:
        if (!wc_get_u8(&p, end, &out->mode) || out->mode > WC_COORD_READ_DIGEST)
            return WC__BAD("READ mode truncated or unknown");
        if ((st = wc__decode_read(&p, end, &out->read)) != WC_OK)
            return st;
        break;
    case WC_COORD_MSG_READ_RESPONSE:
        if (!wc_get_u8(&p, end, &out->status) || out->status > WC_COORD_MAX_STATUS)
            return WC__BAD("READ_RESPONSE status truncated or unknown");
        if (!wc_get_u8(&p, end, &out->mode) || out->mode > WC_COORD_READ_DIGEST)
            return WC__BAD("READ_RESPONSE mode truncated or unknown");
        if ((size_t)(end - p) < WC_COORD_DIGEST_LEN)
            return WC__BAD("READ_RESPONSE digest truncated");
        memcpy(out->digest, p, WC_COORD_DIGEST_LEN);
        p += WC_COORD_DIGEST_LEN;
        if (!wc_get_bytes(&p, end, &out->data, &out->data_len))
            return WC__BAD("READ_RESPONSE data truncated");
        break;
    }
    if (p != end)
        return WC__BAD("trailing bytes");
    return WC_OK;
}
