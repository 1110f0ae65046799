/*
 * protocol.c - the client protocol codec (layouts in protocol_format.h and
 * docs/protocol.md).  Stateless; thread-safe.
 */
#include "protocol.h"

#include <string.h>

#include "alloc.h"
#include "collection.h"
#include "counter.h"

#define WC__BAD(what) wc_error(WC_CORRUPTION, "malformed %s message", what)

static const char *const wc__op_names[WC_OP_COUNT] = {
    "UNKNOWN", "CREATE_TABLE", "ALTER_TABLE", "DROP_TABLE", "GET_TABLE", "LIST_TABLES", "APPLY",
    "READ",    "FLUSH",        "COMPACT",     "TABLE_STATS", "PING",     "NODE_INFO",
    "COMPACTION_STATS", "COMPACTIONS", "SCRUB", "MEMBERS",
    "SCHEMA_CHANGE", "SCHEMA_LIST", "STREAMS", "STAGE", "PUBLISH",
    "REPAIR", "REPAIRS", "CLEANUP", "SNAPSHOT", "DECOMMISSION", "REMOVENODE", "CAS",
    "UNKNOWN", "INDEX_READ", "UNKNOWN", "UNKNOWN", "UNKNOWN", "COUNT_ROWS", "UNKNOWN", "SYNC",
};

/* The wire values of strategies and kinds are the engine's enum values. */
_Static_assert(WC_CSTRAT_WIRE_STCS == WC_COMPACTION_STCS &&
                   WC_CSTRAT_WIRE_LCS == WC_COMPACTION_LCS &&
                   WC_CSTRAT_WIRE_TWCS == WC_COMPACTION_TWCS,
               "compaction strategy wire values");
_Static_assert(WC_CKIND_WIRE_MINOR == WC_COMPACTION_KIND_MINOR &&
                   WC_CKIND_WIRE_TOMBSTONE == WC_COMPACTION_KIND_TOMBSTONE &&
                   WC_CKIND_WIRE_EXPIRED == WC_COMPACTION_KIND_EXPIRED &&
                   WC_CKIND_WIRE_MAJOR == WC_COMPACTION_KIND_MAJOR,
               "compaction kind wire values");

const char *wc_proto_op_name(int op)
{
    return op > 0 && op < WC_OP_COUNT ? wc__op_names[op] : "UNKNOWN";
}

/* ---------------------------------------------------------------- small helpers */

static bool wc__get_i64(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
    uint64_t u;

    if (!wc_get_u64(pp, end, &u))
        return false;
    *v = (int64_t)u;
    return true;
}

/* bytes into a fixed char array, NUL-terminated; false if it does not fit or holds a NUL. */
static bool wc__get_str(const uint8_t **pp, const uint8_t *end, char *out, size_t cap)
{
    const uint8_t *s;
    size_t n;

    if (!wc_get_bytes(pp, end, &s, &n) || n >= cap || (n && memchr(s, '\0', n)))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static void wc__put_str(wc_buf *b, const char *s, size_t cap)
{
    wc_buf_put_bytes(b, s, strnlen(s, cap - 1));
}

/* ---------------------------------------------------------------- frames */

size_t wc_proto_begin_request(wc_buf *b, uint8_t op, uint32_t id)
{
    size_t start = b->len;

    wc_buf_put_u32(b, 0);
    wc_buf_put_u8(b, op);
    wc_buf_put_u32(b, id);
    return start;
}

size_t wc_proto_begin_response(wc_buf *b, uint32_t id, wc_status st)
{
    size_t start = b->len;

    wc_buf_put_u32(b, 0);
    wc_buf_put_u32(b, id);
    wc_buf_put_u8(b, (uint8_t)st);
    return start;
}

wc_status wc_proto_end_frame(wc_buf *b, size_t start)
{
    size_t payload;

    if (b->failed)
        return wc_error(WC_NO_MEMORY, "out of memory building a protocol message");
    payload = b->len - start - WC_PROTO_FRAME_HEADER;
    if (payload > WC_PROTO_MAX_FRAME)
        return wc_error(WC_INVALID_ARGUMENT,
                        "protocol message of %zu bytes exceeds the limit of %u bytes", payload,
                        WC_PROTO_MAX_FRAME);
    wc_enc_u32(b->data + start, (uint32_t)payload);
    return WC_OK;
}

wc_status wc_proto_frame_length(const uint8_t *prefix, uint32_t *len)
{
    uint32_t n = wc_dec_u32(prefix);

    if (n > WC_PROTO_MAX_FRAME)
        return wc_error(WC_CORRUPTION, "protocol frame of %u bytes exceeds the limit of %u bytes",
                        n, WC_PROTO_MAX_FRAME);
    *len = n;
    return WC_OK;
}

wc_status wc_proto_parse_request(const uint8_t *p, size_t len, uint8_t *op, uint32_t *id,
                                 const uint8_t **body, size_t *body_len)
{
    const uint8_t *end = p + len;

    if (!wc_get_u8(&p, end, op) || !wc_get_u32(&p, end, id))
        return wc_error(WC_CORRUPTION, "protocol request shorter than its %u-byte header",
                        WC_PROTO_REQUEST_HEADER);
    *body = p;
    *body_len = (size_t)(end - p);
    if (*op == 0 || *op > WC_OP_MAX)
        return wc_error(WC_INVALID_ARGUMENT, "unknown protocol opcode %u", *op);
    return WC_OK;
}

wc_status wc_proto_parse_response(const uint8_t *p, size_t len, uint32_t *id, wc_status *st,
                                  const uint8_t **body, size_t *body_len)
{
    const uint8_t *end = p + len;
    uint8_t s;

    if (!wc_get_u32(&p, end, id) || !wc_get_u8(&p, end, &s))
        return wc_error(WC_CORRUPTION, "protocol response shorter than its %u-byte header",
                        WC_PROTO_RESPONSE_HEADER);
    if (s > WC_NO_SPACE)
        return wc_error(WC_CORRUPTION, "protocol response carries unknown status %u", s);
    *st = (wc_status)s;
    *body = p;
    *body_len = (size_t)(end - p);
    return WC_OK;
}

void wc_proto_put_error(wc_buf *b, const char *msg)
{
    size_t n = msg ? strnlen(msg, WC_PROTO_MAX_ERROR_MESSAGE) : 0;

    wc_buf_put_bytes(b, msg ? msg : "", n);
}

wc_status wc_proto_get_error(const uint8_t *body, size_t len, const char **msg, size_t *msg_len)
{
    const uint8_t *p = body, *end = body + len, *m;
    size_t n;

    if (!wc_get_bytes(&p, end, &m, &n) || p != end)
        return WC__BAD("error");
    *msg = (const char *)m;
    *msg_len = n;
    return WC_OK;
}

/* ---------------------------------------------------------------- handshake */

void wc_proto_put_handshake(wc_buf *b, uint32_t version)
{
    wc_buf_put_u32(b, WC_PROTO_HANDSHAKE_LEN);
    wc_buf_put_u32(b, WC_PROTO_MAGIC);
    wc_buf_put_u32(b, version);
}

wc_status wc_proto_get_handshake(const uint8_t *p, size_t len, uint32_t *version)
{
    if (len != WC_PROTO_HANDSHAKE_LEN || wc_dec_u32(p) != WC_PROTO_MAGIC)
        return wc_error(WC_CORRUPTION,
                        "not a widecol client handshake (expected magic \"WCCP\" and a version)");
    *version = wc_dec_u32(p + 4);
    return WC_OK;
}

void wc_proto_put_handshake_reply(wc_buf *b, uint32_t version, wc_status st, const char *msg)
{
    size_t start = b->len;

    wc_buf_put_u32(b, 0);
    wc_buf_put_u32(b, WC_PROTO_MAGIC);
    wc_buf_put_u32(b, version);
    wc_buf_put_u8(b, (uint8_t)st);
    if (st != WC_OK)
        wc_proto_put_error(b, msg);
    if (!b->failed)
        wc_enc_u32(b->data + start, (uint32_t)(b->len - start - WC_PROTO_FRAME_HEADER));
}

wc_status wc_proto_get_handshake_reply(const uint8_t *p, size_t len, uint32_t *version,
                                       wc_status *st, const char **msg, size_t *msg_len)
{
    const uint8_t *end = p + len;
    uint32_t magic;
    uint8_t s;

    *msg = "";
    *msg_len = 0;
    if (!wc_get_u32(&p, end, &magic) || magic != WC_PROTO_MAGIC || !wc_get_u32(&p, end, version) ||
        !wc_get_u8(&p, end, &s) || s > WC_NO_SPACE)
        return wc_error(WC_CORRUPTION, "not a widecol node handshake reply");
    *st = (wc_status)s;
    if (s == WC_OK)
        return p == end ? WC_OK : WC__BAD("handshake reply");
    return wc_proto_get_error(p, (size_t)(end - p), msg, msg_len);
}

/* ---------------------------------------------------------------- table definitions */

static void wc__put_def(wc_buf *b, const wc_table_def *def)
{
    wc_buf_put_u32(b, def->id);
    wc__put_str(b, def->name, sizeof(def->name));
    wc_buf_put_u32(b, def->gc_grace_seconds);
    wc_buf_put_u32(b, def->default_ttl);
    wc_buf_put_bytes(b, def->schema, def->schema_len);
    wc__put_str(b, def->compaction, sizeof(def->compaction));
}

/* On success def owns a copy of the schema bytes; on failure it owns nothing. */
static wc_status wc__get_def(const uint8_t *body, size_t len, wc_table_def *def, const char *what)
{
    const uint8_t *p = body, *end = body + len, *schema;
    size_t slen = 0;

    memset(def, 0, sizeof(*def));
    if (!wc_get_u32(&p, end, &def->id) || !wc__get_str(&p, end, def->name, sizeof(def->name)) ||
        !wc_get_u32(&p, end, &def->gc_grace_seconds) || !wc_get_u32(&p, end, &def->default_ttl) ||
        !wc_get_bytes(&p, end, &schema, &slen) ||
        !wc__get_str(&p, end, def->compaction, sizeof(def->compaction)) || p != end)
        return WC__BAD(what);
    if (slen > 0 && (def->schema = wc_memdup(schema, slen)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory reading a %s", what);
    def->schema_len = slen;
    return WC_OK;
}

void wc_proto_put_table_def(wc_buf *b, const wc_table_def *def)
{
    wc__put_def(b, def);
}

wc_status wc_proto_get_table_def(const uint8_t *body, size_t len, wc_table_def *def)
{
    return wc__get_def(body, len, def, "table definition");
}

void wc_proto_put_table_change(wc_buf *b, const wc_table_def *def)
{
    wc__put_def(b, def);
}

wc_status wc_proto_get_table_change(const uint8_t *body, size_t len, wc_table_def *def)
{
    return wc__get_def(body, len, def, "table change");
}

void wc_proto_put_table_id(wc_buf *b, uint32_t table_id)
{
    wc_buf_put_u32(b, table_id);
}

wc_status wc_proto_get_table_id(const uint8_t *body, size_t len, uint32_t *table_id)
{
    if (len != 4)
        return WC__BAD("table id");
    *table_id = wc_dec_u32(body);
    return WC_OK;
}

void wc_proto_put_flush(wc_buf *b, uint32_t table_id, bool wait)
{
    wc_buf_put_u32(b, table_id);
    wc_buf_put_u8(b, wait ? 1 : 0);
}

wc_status wc_proto_get_flush(const uint8_t *body, size_t len, uint32_t *table_id, bool *wait)
{
    if (len != 5 || body[4] > 1)
        return WC__BAD("FLUSH");
    *table_id = wc_dec_u32(body);
    *wait = body[4] == 1;
    return WC_OK;
}

void wc_proto_put_table_ids(wc_buf *b, const uint32_t *ids, size_t n)
{
    wc_buf_put_u32(b, (uint32_t)n);
    if (wc_buf_reserve(b, n * 4))
        for (size_t i = 0; i < n; i++) {
            wc_enc_u32(b->data + b->len, ids[i]);
            b->len += 4;
        }
}

wc_status wc_proto_get_table_ids(const uint8_t *body, size_t len, uint32_t **ids, size_t *n)
{
    const uint8_t *p = body, *end = body + len;
    uint32_t cnt;
    uint32_t *v = NULL;

    if (!wc_get_u32(&p, end, &cnt) || (uint64_t)cnt * 4 != (uint64_t)(end - p))
        return WC__BAD("LIST_TABLES");
    if (cnt) {
        v = wc_malloc((size_t)cnt * sizeof(*v));
        if (v == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory decoding %u table ids", cnt);
        for (uint32_t i = 0; i < cnt; i++)
            v[i] = wc_dec_u32(p + 4 * (size_t)i);
    }
    *ids = v;
    *n = cnt;
    return WC_OK;
}

/* ---------------------------------------------------------------- APPLY */

void wc_proto_put_apply(wc_buf *b, wc_consistency cl, const uint8_t *batch, size_t batch_len)
{
    wc_buf_put_u8(b, (uint8_t)cl);
    wc_buf_put_u32(b, (uint32_t)batch_len);
    wc_buf_append(b, batch, batch_len);
}

/* The 14-byte prefix of an APPLY or STAGE frame: op, id, one byte, u32 batch length. */
static wc_status wc__batch_prefix(uint8_t *out, uint8_t op, uint32_t id, uint8_t byte,
                                  size_t batch_len)
{
    size_t payload = WC_PROTO_REQUEST_HEADER + 1 + 4 + batch_len;

    if (batch_len > WC_PROTO_MAX_FRAME || payload > WC_PROTO_MAX_FRAME)
        return wc_error(WC_INVALID_ARGUMENT,
                        "batch of %zu bytes exceeds the protocol limit of %u bytes per message",
                        batch_len, WC_PROTO_MAX_FRAME);
    wc_enc_u32(out, (uint32_t)payload);
    out[4] = op;
    wc_enc_u32(out + 5, id);
    out[9] = byte;
    wc_enc_u32(out + 10, (uint32_t)batch_len);
    return WC_OK;
}

wc_status wc_proto_apply_prefix(uint8_t *out, uint32_t id, wc_consistency cl, bool client_syncs,
                                size_t batch_len)
{
    return wc__batch_prefix(out, WC_OP_APPLY, id,
                            (uint8_t)((uint8_t)cl | (client_syncs ? WC_APPLYF_CLIENT_SYNCS : 0)),
                            batch_len);
}

wc_status wc_proto_get_apply(const uint8_t *body, size_t len, wc_consistency *cl,
                             bool *client_syncs, const uint8_t **batch, size_t *batch_len)
{
    uint8_t flags;

    if (len < 5 || wc_dec_u32(body + 1) != len - 5)
        return WC__BAD("APPLY");
    flags = body[0] & (uint8_t)~WC_STAGE_CL_MASK;
    if (!wc_consistency_valid(body[0] & WC_STAGE_CL_MASK) ||
        (flags & ~(client_syncs ? WC_APPLYF_CLIENT_SYNCS : 0)) != 0)
        return WC__BAD("APPLY");
    *cl = (wc_consistency)(body[0] & WC_STAGE_CL_MASK);
    if (client_syncs)
        *client_syncs = (flags & WC_APPLYF_CLIENT_SYNCS) != 0;
    *batch = body + 5;
    *batch_len = len - 5;
    return WC_OK;
}

void wc_proto_put_clpos(wc_buf *b, wc_clpos pos)
{
    wc_buf_put_u64(b, pos.segment);
    wc_buf_put_u64(b, pos.offset);
}

wc_status wc_proto_get_clpos(const uint8_t *body, size_t len, bool empty_ok, wc_clpos *pos)
{
    *pos = (wc_clpos){0, 0};
    if (len == 0 && empty_ok)
        return WC_OK;
    if (len != 16)
        return WC__BAD("commit-log position");
    pos->segment = wc_dec_u64(body);
    pos->offset = wc_dec_u64(body + 8);
    return WC_OK;
}

/* ---------------------------------------------------------------- STAGE, PUBLISH */

wc_status wc_proto_stage_prefix(uint8_t *out, uint32_t id, wc_consistency cl, bool first,
                                size_t batch_len)
{
    return wc__batch_prefix(out, WC_OP_STAGE, id, (uint8_t)((uint8_t)cl | (first ? WC_STAGEF_FIRST : 0)),
                            batch_len);
}

wc_status wc_proto_get_stage(const uint8_t *body, size_t len, wc_consistency *cl, bool *first,
                             const uint8_t **batch, size_t *batch_len)
{
    if (len < 5 || !wc_consistency_valid(body[0] & WC_STAGE_CL_MASK) ||
        wc_dec_u32(body + 1) != len - 5)
        return WC__BAD("STAGE");
    *cl = (wc_consistency)(body[0] & WC_STAGE_CL_MASK);
    *first = (body[0] & WC_STAGEF_FIRST) != 0;
    *batch = body + 5;
    *batch_len = len - 5;
    return WC_OK;
}

void wc_proto_put_publish(wc_buf *b, uint8_t action)
{
    wc_buf_put_u8(b, action);
}

wc_status wc_proto_get_publish(const uint8_t *body, size_t len, uint8_t *action)
{
    if (len != 1 || body[0] < WC_PUBLISH_COMMIT || body[0] > WC_PUBLISH_ABORT)
        return WC__BAD("PUBLISH");
    *action = body[0];
    return WC_OK;
}

/* ---------------------------------------------------------------- READ request */

static void wc__put_bound(wc_buf *b, const wc_bound *bd)
{
    uint8_t f = (bd->inclusive ? WC_BOUNDF_INCLUSIVE : 0) | (bd->unbounded ? WC_BOUNDF_UNBOUNDED : 0);

    wc_buf_put_u8(b, f);
    if (!bd->unbounded)
        wc_buf_put_bytes(b, bd->key, bd->len);
}

static bool wc__get_bound(const uint8_t **pp, const uint8_t *end, wc_bound *bd)
{
    uint8_t f;

    memset(bd, 0, sizeof(*bd));
    if (!wc_get_u8(pp, end, &f) || (f & ~WC_BOUNDF_ALL))
        return false;
    bd->inclusive = (f & WC_BOUNDF_INCLUSIVE) != 0;
    bd->unbounded = (f & WC_BOUNDF_UNBOUNDED) != 0;
    return bd->unbounded || wc_get_bytes(pp, end, &bd->key, &bd->len);
}

void wc_proto_put_read(wc_buf *b, const wc_read_request *req, wc_consistency cl)
{
    wc_proto_put_read_overlay(b, req, cl, NULL, 0);
}

void wc_proto_put_read_overlay(wc_buf *b, const wc_read_request *req, wc_consistency cl,
                               const uint8_t *overlay, size_t overlay_len)
{
    wc_proto_put_read_ex(b, req, cl, overlay, overlay_len, false);
}

void wc_proto_put_read_ex(wc_buf *b, const wc_read_request *req, wc_consistency cl,
                          const uint8_t *overlay, size_t overlay_len, bool trace)
{
    uint8_t f = trace ? WC_READF_TRACE : 0;

    if (req->pk)
        f |= WC_READF_PK;
    if (req->reverse)
        f |= WC_READF_REVERSE;
    if (req->include_static)
        f |= WC_READF_STATIC;
    if (req->token_range)
        f |= WC_READF_TOKEN_RANGE;
    if (req->columns)
        f |= WC_READF_COLUMNS;
    if (req->paging_state)
        f |= WC_READF_PAGING;
    if (overlay_len > 0)
        f |= WC_READF_OVERLAY;
    wc_buf_put_u8(b, (uint8_t)cl);
    wc_buf_put_u32(b, req->table_id);
    wc_buf_put_u8(b, f);
    if (req->pk)
        wc_buf_put_bytes(b, req->pk, req->pk_len);
    wc__put_bound(b, &req->start);
    wc__put_bound(b, &req->end);
    wc_buf_put_u64(b, req->limit);
    wc_buf_put_u64(b, req->per_partition_limit);
    if (req->columns) {
        wc_buf_put_u32(b, (uint32_t)req->ncolumns);
        if (wc_buf_reserve(b, req->ncolumns * 4))
            for (size_t i = 0; i < req->ncolumns; i++) {
                wc_enc_u32(b->data + b->len, req->columns[i]);
                b->len += 4;
            }
    }
    wc_buf_put_u64(b, (uint64_t)req->now_sec);
    if (req->paging_state)
        wc_buf_put_bytes(b, req->paging_state, req->paging_state_len);
    wc_buf_put_u64(b, (uint64_t)req->page_rows);
    wc_buf_put_u64(b, req->tombstone_failure_threshold);
    if (req->token_range) {
        wc_buf_put_u64(b, (uint64_t)req->token_start);
        wc_buf_put_u64(b, (uint64_t)req->token_end);
    }
    if (overlay_len > 0)
        wc_buf_put_bytes(b, overlay, overlay_len);
}

wc_status wc_proto_get_read(const uint8_t *body, size_t len, wc_read_request *req,
                            wc_consistency *cl, uint32_t **columns)
{
    const uint8_t *overlay;
    size_t overlay_len;
    wc_status st = wc_proto_get_read_overlay(body, len, req, cl, columns, &overlay, &overlay_len);

    if (st == WC_OK && overlay_len > 0) {
        wc_free(*columns);
        *columns = NULL;
        req->columns = NULL;
        return WC__BAD("READ");
    }
    return st;
}

wc_status wc_proto_get_read_overlay(const uint8_t *body, size_t len, wc_read_request *req,
                                    wc_consistency *cl, uint32_t **columns,
                                    const uint8_t **overlay, size_t *overlay_len)
{
    bool trace;

    return wc_proto_get_read_ex(body, len, req, cl, columns, overlay, overlay_len, &trace);
}

wc_status wc_proto_get_read_ex(const uint8_t *body, size_t len, wc_read_request *req,
                               wc_consistency *cl, uint32_t **columns, const uint8_t **overlay,
                               size_t *overlay_len, bool *trace)
{
    const uint8_t *p = body, *end = body + len;
    uint8_t c, f;
    uint32_t ncol;
    uint64_t page_rows;
    uint32_t *cols = NULL;

    memset(req, 0, sizeof(*req));
    *columns = NULL;
    *overlay = NULL;
    *overlay_len = 0;
    if (!wc_get_u8(&p, end, &c) || !wc_consistency_valid(c) ||
        !wc_get_u32(&p, end, &req->table_id) || !wc_get_u8(&p, end, &f) || (f & ~WC_READF_ALL))
        goto bad;
    *cl = (wc_consistency)c;
    *trace = (f & WC_READF_TRACE) != 0;
    req->reverse = (f & WC_READF_REVERSE) != 0;
    req->include_static = (f & WC_READF_STATIC) != 0;
    req->token_range = (f & WC_READF_TOKEN_RANGE) != 0;
    if (f & WC_READF_PK) {
        if (!wc_get_bytes(&p, end, &req->pk, &req->pk_len))
            goto bad;
        if (req->pk == NULL || req->pk_len == 0)
            req->pk = p; /* a zero-length key is still a key: never NULL */
    }
    if (!wc__get_bound(&p, end, &req->start) || !wc__get_bound(&p, end, &req->end) ||
        !wc_get_u64(&p, end, &req->limit) || !wc_get_u64(&p, end, &req->per_partition_limit))
        goto bad;
    if (f & WC_READF_COLUMNS) {
        if (!wc_get_u32(&p, end, &ncol) || (uint64_t)ncol * 4 > (uint64_t)(end - p))
            goto bad;
        cols = wc_malloc(ncol ? (size_t)ncol * sizeof(*cols) : 1);
        if (cols == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory decoding a column list of %u", ncol);
        for (uint32_t i = 0; i < ncol; i++)
            cols[i] = wc_dec_u32(p + 4 * (size_t)i);
        p += 4 * (size_t)ncol;
        req->columns = cols;
        req->ncolumns = ncol;
    }
    if (!wc__get_i64(&p, end, &req->now_sec))
        goto bad;
    if (f & WC_READF_PAGING) {
        if (!wc_get_bytes(&p, end, &req->paging_state, &req->paging_state_len))
            goto bad;
        if (req->paging_state == NULL)
            req->paging_state = p;
    }
    if (!wc_get_u64(&p, end, &page_rows) || page_rows > SIZE_MAX)
        goto bad;
    req->page_rows = (size_t)page_rows;
    if (!wc_get_u64(&p, end, &req->tombstone_failure_threshold))
        goto bad;
    if (req->token_range &&
        (!wc__get_i64(&p, end, &req->token_start) || !wc__get_i64(&p, end, &req->token_end)))
        goto bad;
    if ((f & WC_READF_OVERLAY) && (!wc_get_bytes(&p, end, overlay, overlay_len) || *overlay_len == 0))
        goto bad;
    if (p != end)
        goto bad;
    *columns = cols;
    return WC_OK;
bad:
    wc_free(cols);
    req->columns = NULL;
    return WC__BAD("READ");
}

void wc_proto_put_index_read(wc_buf *b, const char *index, const uint8_t *value, size_t vlen,
                             const wc_read_request *req, wc_consistency cl)
{
    wc_buf_put_bytes(b, index, strlen(index));
    wc_buf_put_bytes(b, value, vlen);
    wc_proto_put_read_ex(b, req, cl, NULL, 0, false);
}

wc_status wc_proto_get_index_read(const uint8_t *body, size_t len, char *index,
                                  const uint8_t **value, size_t *vlen, wc_read_request *req,
                                  wc_consistency *cl, uint32_t **columns)
{
    const uint8_t *p = body, *end = body + len, *name, *overlay;
    size_t nlen, olen;
    bool trace;
    wc_status st;

    *columns = NULL;
    if (!wc_get_bytes(&p, end, &name, &nlen) || nlen == 0 || nlen > 127 ||
        memchr(name, 0, nlen) != NULL || !wc_get_bytes(&p, end, value, vlen))
        return WC__BAD("INDEX_READ");
    memcpy(index, name, nlen);
    index[nlen] = '\0';
    if (*value == NULL)
        *value = p; /* an empty value is still a value */
    st = wc_proto_get_read_ex(p, (size_t)(end - p), req, cl, columns, &overlay, &olen, &trace);
    if (st == WC_OK && (olen > 0 || trace)) {
        wc_free(*columns);
        *columns = NULL;
        return WC__BAD("INDEX_READ");
    }
    return st;
}

/* ---------------------------------------------------------------- READ response */

void wc_proto_put_trace(wc_buf *b, const wc_read_trace *t, size_t n)
{
    size_t start = b->len;

    wc_buf_put_u8(b, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        wc_buf_put_bytes(b, t[i].address, strnlen(t[i].address, sizeof(t[i].address) - 1));
        wc_buf_put_u32(b, t[i].asks);
        wc_buf_put_u32(b, t[i].answers);
        wc_buf_put_u32(b, t[i].digests);
        wc_buf_put_u64(b, t[i].us);
        wc_buf_put_u64(b, t[i].bytes);
    }
    wc_buf_put_u32(b, (uint32_t)(b->len - start));
}

wc_status wc_proto_get_trace(const uint8_t *body, size_t len, size_t *page_len, wc_read_trace *t,
                             size_t *n)
{
    const uint8_t *p, *end;
    uint32_t tlen;
    uint8_t cnt;

    *n = 0;
    if (len < 4)
        return WC__BAD("READ trace");
    tlen = wc_dec_u32(body + len - 4);
    if (tlen < 1 || tlen > len - 4)
        return WC__BAD("READ trace");
    p = body + len - 4 - tlen;
    end = body + len - 4;
    if (!wc_get_u8(&p, end, &cnt) || cnt > WC_PROTO_TRACE_MAX)
        return WC__BAD("READ trace");
    for (size_t i = 0; i < cnt; i++) {
        const uint8_t *a;
        size_t alen;

        memset(&t[i], 0, sizeof(t[i]));
        if (!wc_get_bytes(&p, end, &a, &alen) || alen >= sizeof(t[i].address) ||
            !wc_get_u32(&p, end, &t[i].asks) || !wc_get_u32(&p, end, &t[i].answers) ||
            !wc_get_u32(&p, end, &t[i].digests) || !wc_get_u64(&p, end, &t[i].us) ||
            !wc_get_u64(&p, end, &t[i].bytes))
            return WC__BAD("READ trace");
        if (alen)
            memcpy(t[i].address, a, alen);
    }
    if (p != end)
        return WC__BAD("READ trace");
    *n = cnt;
    *page_len = len - 4 - tlen;
    return WC_OK;
}

static void wc__put_stats(wc_buf *b, const wc_read_stats *s)
{
    wc_buf_put_u64(b, s->memtables_read);
    wc_buf_put_u64(b, s->sstables_read);
    wc_buf_put_u64(b, s->bloom_skips);
    wc_buf_put_u64(b, s->range_skips);
    wc_buf_put_u64(b, s->blocks_read);
    wc_buf_put_u64(b, s->cache_hits);
    wc_buf_put_u64(b, s->rows_scanned);
    wc_buf_put_u64(b, s->tombstones_scanned);
}

static bool wc__get_stats(const uint8_t **pp, const uint8_t *end, wc_read_stats *s)
{
    return wc_get_u64(pp, end, &s->memtables_read) && wc_get_u64(pp, end, &s->sstables_read) &&
           wc_get_u64(pp, end, &s->bloom_skips) && wc_get_u64(pp, end, &s->range_skips) &&
           wc_get_u64(pp, end, &s->blocks_read) && wc_get_u64(pp, end, &s->cache_hits) &&
           wc_get_u64(pp, end, &s->rows_scanned) && wc_get_u64(pp, end, &s->tombstones_scanned);
}

void wc_proto_put_count(wc_buf *b, uint64_t count, const wc_read_stats *stats)
{
    wc_buf_put_u64(b, count);
    wc__put_stats(b, stats);
}

wc_status wc_proto_get_count(const uint8_t *body, size_t len, uint64_t *count,
                             wc_read_stats *stats)
{
    const uint8_t *p = body, *end = body + len;

    memset(stats, 0, sizeof(*stats));
    if (!wc_get_u64(&p, end, count) || !wc__get_stats(&p, end, stats) || p != end)
        return WC__BAD("COUNT_ROWS response");
    return WC_OK;
}

void wc_proto_put_page(wc_buf *b, const wc_page *page)
{
    size_t ncells = 0;
    const wc_result_row *prev = NULL;

    for (size_t i = 0; i < page->nrows; i++)
        ncells += page->rows[i].ncells;
    if (page->nrows > UINT32_MAX || ncells > UINT32_MAX) {
        b->failed = 1; /* cannot be represented; reported as out of memory by the caller */
        return;
    }
    wc_buf_put_u8(b, page->more ? 1 : 0);
    wc_buf_put_bytes(b, page->paging_state, page->paging_state ? page->paging_state_len : 0);
    wc__put_stats(b, &page->stats);
    wc_buf_put_u32(b, (uint32_t)page->nrows);
    wc_buf_put_u32(b, (uint32_t)ncells);
    for (size_t i = 0; i < page->nrows; i++) {
        const wc_result_row *r = &page->rows[i];
        uint8_t rf = r->is_static ? WC_ROWF_WIRE_STATIC : 0;

        if (prev && prev->pk_len == r->pk_len && prev->token == r->token &&
            (prev->pk == r->pk || r->pk_len == 0 || memcmp(prev->pk, r->pk, r->pk_len) == 0))
            rf |= WC_ROWF_WIRE_SAME_PK;
        /* the fixed part of a row is at most 1 + 10 + 8 + 10 + 8 + 10 bytes plus keys */
        if (!wc_buf_reserve(b, 64 + r->pk_len + r->ck_len))
            return;
        wc_buf_put_u8(b, rf);
        if (!(rf & WC_ROWF_WIRE_SAME_PK)) {
            wc_buf_put_bytes(b, r->pk, r->pk_len);
            wc_buf_put_u64(b, (uint64_t)r->token);
        }
        if (!r->is_static)
            wc_buf_put_bytes(b, r->ck, r->ck_len);
        wc_buf_put_u64(b, (uint64_t)r->live_ts);
        wc_buf_put_varint(b, r->ncells);
        for (uint32_t k = 0; k < r->ncells; k++) {
            const wc_cell *c = &r->cells[k];
            uint8_t cf = c->flags & (WC_CELLF_WIRE_TOMBSTONE | WC_CELLF_WIRE_EXPIRING |
                                     WC_CELLF_WIRE_COLLECTION);

            if (c->ts == r->live_ts)
                cf |= WC_CELLF_WIRE_ROW_TS;
            wc_buf_put_varint(b, c->column);
            wc_buf_put_u8(b, cf);
            if (!(cf & WC_CELLF_WIRE_ROW_TS))
                wc_buf_put_u64(b, (uint64_t)c->ts);
            if (cf & (WC_CELLF_WIRE_TOMBSTONE | WC_CELLF_WIRE_EXPIRING))
                wc_buf_put_u32(b, c->ldt);
            if (cf & WC_CELLF_WIRE_EXPIRING)
                wc_buf_put_u32(b, c->ttl);
            if (cf & WC_CELLF_WIRE_TOMBSTONE)
                continue;
            if (c->flags & (WC_CELLF_COUNTER | WC_CELLF_COUNTER_DELTA)) {
                /* a counter travels as its value, i64 LE: the sum of its shards (a
                 * delta of a read's overlay: the delta), never as its shards */
                uint8_t v[WC_COUNTER_DELTA_LEN];
                int64_t sum = 0;

                if (c->flags & WC_CELLF_COUNTER_DELTA)
                    sum = wc_counter_delta_decode(c->value);
                else
                    (void)wc_counter_sum(c->value, c->len, &sum);
                wc_counter_delta_encode(v, sum);
                wc_buf_put_bytes(b, v, sizeof(v));
            } else {
                wc_buf_put_bytes(b, c->value, c->len);
            }
        }
        prev = r;
    }
}

/* Smallest encodings, used to bound counts before allocating. */
#define WC__MIN_ROW_BYTES 10  /* u8 flags, i64 live_ts, varint ncells (same pk, static) */
#define WC__MIN_CELL_BYTES 3  /* varint column, u8 flags, bytes value (empty, row ts) */

wc_status wc_proto_get_page(const uint8_t *body, size_t len, wc_proto_page *out)
{
    const uint8_t *p = body, *end = body + len;
    uint8_t more;
    uint32_t nrows, ncells, used = 0;
    wc_result_row *rows = NULL;
    wc_cell *cells;
    void *mem = NULL;

    memset(out, 0, sizeof(*out));
    if (!wc_get_u8(&p, end, &more) || more > 1 ||
        !wc_get_bytes(&p, end, &out->paging_state, &out->paging_state_len) ||
        !wc__get_stats(&p, end, &out->stats) || !wc_get_u32(&p, end, &nrows) ||
        !wc_get_u32(&p, end, &ncells))
        goto bad;
    if ((uint64_t)nrows * WC__MIN_ROW_BYTES > (uint64_t)(end - p) ||
        (uint64_t)ncells * WC__MIN_CELL_BYTES > (uint64_t)(end - p))
        goto bad;
    if (out->paging_state_len == 0)
        out->paging_state = NULL;
    out->more = more == 1;
    mem = wc_malloc((size_t)nrows * sizeof(wc_result_row) + (size_t)ncells * sizeof(wc_cell));
    if (mem == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding a page of %u rows", nrows);
    rows = mem;
    cells = (wc_cell *)(rows + nrows);
    for (uint32_t i = 0; i < nrows; i++) {
        wc_result_row *r = &rows[i];
        uint8_t rf;
        uint64_t nc;

        memset(r, 0, sizeof(*r));
        if (!wc_get_u8(&p, end, &rf) || (rf & ~WC_ROWF_WIRE_ALL))
            goto bad;
        if (rf & WC_ROWF_WIRE_SAME_PK) {
            if (i == 0)
                goto bad;
            r->pk = rows[i - 1].pk;
            r->pk_len = rows[i - 1].pk_len;
            r->token = rows[i - 1].token;
        } else if (!wc_get_bytes(&p, end, &r->pk, &r->pk_len) || !wc__get_i64(&p, end, &r->token)) {
            goto bad;
        }
        r->is_static = (rf & WC_ROWF_WIRE_STATIC) != 0;
        if (!r->is_static && !wc_get_bytes(&p, end, &r->ck, &r->ck_len))
            goto bad;
        if (!wc__get_i64(&p, end, &r->live_ts) || !wc_get_varint(&p, end, &nc) ||
            nc > (uint64_t)(ncells - used))
            goto bad;
        r->ncells = (uint32_t)nc;
        r->cells = cells + used;
        for (uint32_t k = 0; k < r->ncells; k++) {
            wc_cell *c = &cells[used + k];
            uint64_t col;
            uint8_t cf;

            memset(c, 0, sizeof(*c));
            if (!wc_get_varint(&p, end, &col) || col > UINT32_MAX || !wc_get_u8(&p, end, &cf) ||
                (cf & ~WC_CELLF_WIRE_ALL))
                goto bad;
            c->column = (uint32_t)col;
            c->flags = cf & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING | WC_CELLF_COLLECTION);
            if ((cf & WC_CELLF_WIRE_COLLECTION) &&
                (cf & (WC_CELLF_WIRE_TOMBSTONE | WC_CELLF_WIRE_EXPIRING)))
                goto bad;
            if (cf & WC_CELLF_WIRE_ROW_TS)
                c->ts = r->live_ts;
            else if (!wc__get_i64(&p, end, &c->ts))
                goto bad;
            if ((cf & (WC_CELLF_WIRE_TOMBSTONE | WC_CELLF_WIRE_EXPIRING)) &&
                !wc_get_u32(&p, end, &c->ldt))
                goto bad;
            if ((cf & WC_CELLF_WIRE_EXPIRING) && !wc_get_u32(&p, end, &c->ttl))
                goto bad;
            if (!(cf & WC_CELLF_WIRE_TOMBSTONE) && !wc_get_bytes(&p, end, &c->value, &c->len))
                goto bad;
            if (cf & WC_CELLF_WIRE_COLLECTION) {
                uint32_t n;
                if (!wc_coll_live_valid(c->value, c->len, &n) || n == 0)
                    goto bad;
            }
        }
        used += r->ncells;
    }
    if (used != ncells || p != end)
        goto bad;
    out->nrows = nrows;
    out->rows = nrows ? rows : NULL;
    out->mem = mem;
    return WC_OK;
bad:
    wc_free(mem);
    memset(out, 0, sizeof(*out));
    return WC__BAD("READ page");
}

/* ---------------------------------------------------------------- table stats */

void wc_proto_put_table_stats(wc_buf *b, const wc_table_stats *s)
{
    wc_buf_put_u64(b, s->memtable_bytes);
    wc_buf_put_u64(b, s->memtable_entries);
    wc_buf_put_u64(b, s->sstable_count);
    wc_buf_put_u64(b, s->sstable_bytes);
    wc_buf_put_u64(b, s->partitions_estimate);
    wc_buf_put_u64(b, s->rows_estimate);
    wc_buf_put_u64(b, s->tombstones);
    wc_buf_put_u64(b, s->pending_flushes);
    wc__put_str(b, s->offline, sizeof(s->offline));
}

wc_status wc_proto_get_table_stats(const uint8_t *body, size_t len, wc_table_stats *s)
{
    const uint8_t *p = body, *end = body + len;

    if (!wc_get_u64(&p, end, &s->memtable_bytes) || !wc_get_u64(&p, end, &s->memtable_entries) ||
        !wc_get_u64(&p, end, &s->sstable_count) || !wc_get_u64(&p, end, &s->sstable_bytes) ||
        !wc_get_u64(&p, end, &s->partitions_estimate) || !wc_get_u64(&p, end, &s->rows_estimate) ||
        !wc_get_u64(&p, end, &s->tombstones) || !wc_get_u64(&p, end, &s->pending_flushes) ||
        !wc__get_str(&p, end, s->offline, sizeof(s->offline)) || p != end)
        return WC__BAD("TABLE_STATS");
    return WC_OK;
}

/* ---------------------------------------------------------------- scrub */

void wc_proto_put_scrub_result(wc_buf *b, const wc_scrub_result *r)
{
    wc_buf_put_u8(b, r->was_offline ? WC_SCRUBF_WIRE_WAS_OFFLINE : 0);
    wc_buf_put_u32(b, r->sstables_checked);
    wc_buf_put_u32(b, r->sstables_damaged);
    wc_buf_put_u32(b, r->sstables_rewritten);
    wc_buf_put_u64(b, r->rows_kept);
    wc_buf_put_u64(b, r->rows_salvaged);
    wc_buf_put_u64(b, r->blocks_lost);
    wc_buf_put_u64(b, r->bytes_lost);
    wc__put_str(b, r->quarantined, sizeof(r->quarantined));
}

wc_status wc_proto_get_scrub_result(const uint8_t *body, size_t len, wc_scrub_result *r)
{
    const uint8_t *p = body, *end = body + len;
    uint8_t flags;

    memset(r, 0, sizeof(*r));
    if (!wc_get_u8(&p, end, &flags) || (flags & ~WC_SCRUBF_WIRE_ALL) ||
        !wc_get_u32(&p, end, &r->sstables_checked) ||
        !wc_get_u32(&p, end, &r->sstables_damaged) ||
        !wc_get_u32(&p, end, &r->sstables_rewritten) || !wc_get_u64(&p, end, &r->rows_kept) ||
        !wc_get_u64(&p, end, &r->rows_salvaged) || !wc_get_u64(&p, end, &r->blocks_lost) ||
        !wc_get_u64(&p, end, &r->bytes_lost) ||
        !wc__get_str(&p, end, r->quarantined, sizeof(r->quarantined)) || p != end) {
        memset(r, 0, sizeof(*r));
        return WC__BAD("SCRUB");
    }
    r->was_offline = (flags & WC_SCRUBF_WIRE_WAS_OFFLINE) != 0;
    return WC_OK;
}

/* ---------------------------------------------------------------- compaction */

static void wc__put_f64(wc_buf *b, double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    wc_buf_put_u64(b, u);
}

static bool wc__get_f64(const uint8_t **pp, const uint8_t *end, double *d)
{
    uint64_t u;

    if (!wc_get_u64(pp, end, &u))
        return false;
    memcpy(d, &u, sizeof(*d));
    return true;
}

void wc_proto_put_compaction_stats(wc_buf *b, const wc_compaction_stats *s)
{
    uint32_t nw = s->nwindows <= WC_STATS_WINDOWS ? s->nwindows : WC_STATS_WINDOWS;

    wc_buf_put_u8(b, (uint8_t)s->strategy);
    wc_buf_put_u8(b, (uint8_t)((s->enabled ? WC_CSTATF_WIRE_ENABLED : 0) |
                               (s->running ? WC_CSTATF_WIRE_RUNNING : 0)));
    wc_buf_put_u64(b, s->pending);
    for (int i = 0; i < WC_LEVELS; i++) {
        wc_buf_put_u64(b, s->level_sstables[i]);
        wc_buf_put_u64(b, s->level_bytes[i]);
    }
    wc_buf_put_u8(b, (uint8_t)nw);
    for (uint32_t i = 0; i < nw; i++) {
        wc_buf_put_u64(b, (uint64_t)s->window_start[i]);
        wc_buf_put_u64(b, s->window_sstables[i]);
        wc_buf_put_u64(b, s->window_bytes[i]);
    }
    wc_buf_put_u64(b, s->droppable_tombstones);
    wc__put_f64(b, s->droppable_tombstone_ratio);
    for (int i = 0; i < WC_READ_HIST_BUCKETS; i++)
        wc_buf_put_u64(b, s->read_histogram[i]);
    wc_buf_put_u32(b, s->read_p50);
    wc_buf_put_u32(b, s->read_p99);
    wc_buf_put_u64(b, s->compactions_completed);
    wc_buf_put_u64(b, s->bytes_read);
    wc_buf_put_u64(b, s->bytes_written);
    wc_buf_put_u64(b, s->sstables_expired);
    wc_buf_put_u64(b, s->tombstones_purged);
}

wc_status wc_proto_get_compaction_stats(const uint8_t *body, size_t len, wc_compaction_stats *s)
{
    const uint8_t *p = body, *end = body + len;
    uint8_t strategy, flags, nw;

    memset(s, 0, sizeof(*s));
    if (!wc_get_u8(&p, end, &strategy) || strategy > WC_CSTRAT_WIRE_MAX ||
        !wc_get_u8(&p, end, &flags) || (flags & ~WC_CSTATF_WIRE_ALL) ||
        !wc_get_u64(&p, end, &s->pending))
        goto bad;
    s->strategy = (wc_compaction_class)strategy;
    s->enabled = (flags & WC_CSTATF_WIRE_ENABLED) != 0;
    s->running = (flags & WC_CSTATF_WIRE_RUNNING) != 0;
    for (int i = 0; i < WC_LEVELS; i++)
        if (!wc_get_u64(&p, end, &s->level_sstables[i]) ||
            !wc_get_u64(&p, end, &s->level_bytes[i]))
            goto bad;
    if (!wc_get_u8(&p, end, &nw) || nw > WC_STATS_WINDOWS)
        goto bad;
    s->nwindows = nw;
    for (uint32_t i = 0; i < nw; i++)
        if (!wc__get_i64(&p, end, &s->window_start[i]) ||
            !wc_get_u64(&p, end, &s->window_sstables[i]) ||
            !wc_get_u64(&p, end, &s->window_bytes[i]))
            goto bad;
    if (!wc_get_u64(&p, end, &s->droppable_tombstones) ||
        !wc__get_f64(&p, end, &s->droppable_tombstone_ratio))
        goto bad;
    for (int i = 0; i < WC_READ_HIST_BUCKETS; i++)
        if (!wc_get_u64(&p, end, &s->read_histogram[i]))
            goto bad;
    if (!wc_get_u32(&p, end, &s->read_p50) || !wc_get_u32(&p, end, &s->read_p99) ||
        !wc_get_u64(&p, end, &s->compactions_completed) || !wc_get_u64(&p, end, &s->bytes_read) ||
        !wc_get_u64(&p, end, &s->bytes_written) || !wc_get_u64(&p, end, &s->sstables_expired) ||
        !wc_get_u64(&p, end, &s->tombstones_purged) || p != end)
        goto bad;
    return WC_OK;
bad:
    memset(s, 0, sizeof(*s));
    return WC__BAD("COMPACTION_STATS");
}

void wc_proto_put_compactions(wc_buf *b, const wc_compaction_info *v, size_t n)
{
    if (n > UINT32_MAX) {
        b->failed = 1; /* cannot be represented; reported as out of memory by the caller */
        return;
    }
    wc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const wc_compaction_info *ci = &v[i];
        uint32_t ngens = ci->ninputs <= WC_COMPACTION_INFO_INPUTS ? ci->ninputs
                                                                  : WC_COMPACTION_INFO_INPUTS;

        wc_buf_put_u32(b, ci->table_id);
        wc_buf_put_u8(b, ci->running ? WC_CINFOF_WIRE_RUNNING : 0);
        wc_buf_put_u8(b, (uint8_t)ci->strategy);
        wc_buf_put_u8(b, (uint8_t)ci->kind);
        wc_buf_put_u32(b, (uint32_t)ci->level);
        wc_buf_put_u64(b, (uint64_t)ci->window_start);
        wc_buf_put_u64(b, ci->bytes_done);
        wc_buf_put_u64(b, ci->bytes_total);
        wc_buf_put_u32(b, ci->ninputs);
        for (uint32_t k = 0; k < ngens; k++)
            wc_buf_put_u64(b, ci->inputs[k]);
    }
}

wc_status wc_proto_get_compactions(const uint8_t *body, size_t len, wc_compaction_info **v,
                                   size_t *n)
{
    const uint8_t *p = body, *end = body + len;
    uint32_t cnt;
    wc_compaction_info *out = NULL;

    *v = NULL;
    *n = 0;
    if (!wc_get_u32(&p, end, &cnt) ||
        (uint64_t)cnt * WC_PROTO_MIN_COMPACTION_BYTES > (uint64_t)(end - p))
        return WC__BAD("COMPACTIONS");
    if (cnt) {
        out = wc_calloc(cnt, sizeof(*out));
        if (out == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory decoding %u compactions", cnt);
    }
    for (uint32_t i = 0; i < cnt; i++) {
        wc_compaction_info *ci = &out[i];
        uint8_t flags, strategy, kind;
        uint32_t level, ngens;

        if (!wc_get_u32(&p, end, &ci->table_id) || !wc_get_u8(&p, end, &flags) ||
            (flags & ~WC_CINFOF_WIRE_ALL) || !wc_get_u8(&p, end, &strategy) ||
            strategy > WC_CSTRAT_WIRE_MAX || !wc_get_u8(&p, end, &kind) ||
            kind > WC_CKIND_WIRE_MAX || !wc_get_u32(&p, end, &level) ||
            !wc__get_i64(&p, end, &ci->window_start) || !wc_get_u64(&p, end, &ci->bytes_done) ||
            !wc_get_u64(&p, end, &ci->bytes_total) || !wc_get_u32(&p, end, &ci->ninputs))
            goto bad;
        ci->running = (flags & WC_CINFOF_WIRE_RUNNING) != 0;
        ci->strategy = (wc_compaction_class)strategy;
        ci->kind = (wc_compaction_kind)kind;
        ci->level = (int32_t)level;
        ngens = ci->ninputs <= WC_COMPACTION_INFO_INPUTS ? ci->ninputs : WC_COMPACTION_INFO_INPUTS;
        for (uint32_t k = 0; k < ngens; k++)
            if (!wc_get_u64(&p, end, &ci->inputs[k]))
                goto bad;
    }
    if (p != end)
        goto bad;
    *v = out;
    *n = cnt;
    return WC_OK;
bad:
    wc_free(out);
    return WC__BAD("COMPACTIONS");
}

/* ---------------------------------------------------------------- node info */

void wc_proto_put_node_info(wc_buf *b, const wc_node_info *ni)
{
    wc_buf_put_u32(b, ni->protocol_version);
    wc__put_str(b, ni->version, sizeof(ni->version));
    wc_buf_put_u64(b, ni->uptime_ms);
    wc__put_str(b, ni->data_dir, sizeof(ni->data_dir));
    wc__put_str(b, ni->socket_path, sizeof(ni->socket_path));
    wc_buf_put_u32(b, ni->connections_open);
    wc_buf_put_u32(b, ni->max_connections);
    wc_buf_put_u64(b, ni->connections_total);
    wc_buf_put_u64(b, ni->connections_refused);
    wc_buf_put_u64(b, ni->requests_total);
    wc_buf_put_u64(b, ni->errors_total);
    wc_buf_put_u8(b, WC_OP_COUNT);
    for (int i = 0; i < WC_OP_COUNT; i++)
        wc_buf_put_u64(b, ni->requests[i]);
    wc_buf_put_u64(b, ni->memtable_bytes);
    wc_buf_put_u64(b, ni->memtable_flushing_bytes);
    wc_buf_put_u64(b, ni->memtable_limit_bytes);
    wc_buf_put_u64(b, ni->commitlog_bytes);
    wc_buf_put_u64(b, ni->commitlog_limit_bytes);
    wc_buf_put_u64(b, ni->writes_stalled);
    wc_buf_put_u64(b, ni->writes_refused);
    wc__put_str(b, ni->background_error, sizeof(ni->background_error));
}

wc_status wc_proto_get_node_info(const uint8_t *body, size_t len, wc_node_info *ni)
{
    const uint8_t *p = body, *end = body + len;
    uint8_t nops;

    memset(ni, 0, sizeof(*ni));
    if (!wc_get_u32(&p, end, &ni->protocol_version) ||
        !wc__get_str(&p, end, ni->version, sizeof(ni->version)) ||
        !wc_get_u64(&p, end, &ni->uptime_ms) ||
        !wc__get_str(&p, end, ni->data_dir, sizeof(ni->data_dir)) ||
        !wc__get_str(&p, end, ni->socket_path, sizeof(ni->socket_path)) ||
        !wc_get_u32(&p, end, &ni->connections_open) || !wc_get_u32(&p, end, &ni->max_connections) ||
        !wc_get_u64(&p, end, &ni->connections_total) ||
        !wc_get_u64(&p, end, &ni->connections_refused) ||
        !wc_get_u64(&p, end, &ni->requests_total) || !wc_get_u64(&p, end, &ni->errors_total) ||
        !wc_get_u8(&p, end, &nops))
        goto bad;
    /* a newer node may count more opcodes: keep those this client knows */
    for (uint32_t i = 0; i < nops; i++) {
        uint64_t v;
        if (!wc_get_u64(&p, end, &v))
            goto bad;
        if (i < WC_OP_COUNT)
            ni->requests[i] = v;
    }
    if (!wc_get_u64(&p, end, &ni->memtable_bytes) ||
        !wc_get_u64(&p, end, &ni->memtable_flushing_bytes) ||
        !wc_get_u64(&p, end, &ni->memtable_limit_bytes) ||
        !wc_get_u64(&p, end, &ni->commitlog_bytes) ||
        !wc_get_u64(&p, end, &ni->commitlog_limit_bytes) ||
        !wc_get_u64(&p, end, &ni->writes_stalled) || !wc_get_u64(&p, end, &ni->writes_refused) ||
        !wc__get_str(&p, end, ni->background_error, sizeof(ni->background_error)))
        goto bad;
    if (p != end)
        goto bad;
    return WC_OK;
bad:
    return WC__BAD("NODE_INFO");
}

/* ---------------------------------------------------------------- MEMBERS */

/* Smallest encoded member: empty strings, no tokens. */
#define WC__MIN_MEMBER_BYTES (3u + 1u + 1u + 8u + WC_MEMBER_HOST_ID_LEN + 3u + 4u)

void wc_proto_put_members(wc_buf *b, bool cluster, const wc_member_info *m, size_t n)
{
    wc_buf_put_u8(b, cluster ? WC_MEMBERSF_WIRE_CLUSTER : 0);
    wc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t flags = (m[i].up ? WC_MEMBERF_WIRE_UP : 0) |
                        (m[i].local ? WC_MEMBERF_WIRE_LOCAL : 0) |
                        (m[i].has_host_id ? WC_MEMBERF_WIRE_HOST_ID : 0) |
                        (m[i].has_load ? WC_MEMBERF_WIRE_LOAD : 0);
        wc__put_str(b, m[i].address, sizeof(m[i].address));
        wc__put_str(b, m[i].dc, sizeof(m[i].dc));
        wc__put_str(b, m[i].rack, sizeof(m[i].rack));
        wc_buf_put_u8(b, flags);
        wc_buf_put_u8(b, m[i].status);
        wc_buf_put_u64(b, m[i].load_bytes);
        wc_buf_append(b, m[i].host_id, WC_MEMBER_HOST_ID_LEN);
        wc__put_str(b, m[i].schema_version, sizeof(m[i].schema_version));
        wc__put_str(b, m[i].sql_address, sizeof(m[i].sql_address));
        wc__put_str(b, m[i].release_version, sizeof(m[i].release_version));
        wc_buf_put_u32(b, m[i].ntokens);
        for (uint32_t t = 0; t < m[i].ntokens; t++)
            wc_buf_put_u64(b, (uint64_t)m[i].tokens[t]);
    }
}

wc_status wc_proto_get_members(const uint8_t *body, size_t len, wc_proto_members *out)
{
    const uint8_t *p = body, *end = body + len, *scan;
    uint8_t flags;
    uint32_t n;
    uint64_t total_tokens = 0;
    size_t used = 0;

    memset(out, 0, sizeof(*out));
    if (!wc_get_u8(&p, end, &flags) || (flags & ~WC_MEMBERSF_WIRE_ALL) || !wc_get_u32(&p, end, &n) ||
        n > (size_t)(end - p) / WC__MIN_MEMBER_BYTES)
        goto bad;
    out->cluster = (flags & WC_MEMBERSF_WIRE_CLUSTER) != 0;
    if (n == 0)
        return p == end ? WC_OK : WC__BAD("MEMBERS");
    out->members = wc_calloc(n, sizeof(*out->members));
    if (out->members == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding MEMBERS");
    /* two passes: the members (token counts bounded by the body), then the tokens */
    scan = p;
    for (uint32_t i = 0; i < n; i++) {
        wc_member_info *m = &out->members[i];
        uint8_t mf;
        if (!wc__get_str(&p, end, m->address, sizeof(m->address)) ||
            !wc__get_str(&p, end, m->dc, sizeof(m->dc)) ||
            !wc__get_str(&p, end, m->rack, sizeof(m->rack)) || !wc_get_u8(&p, end, &mf) ||
            (mf & ~WC_MEMBERF_WIRE_ALL) || !wc_get_u8(&p, end, &m->status) ||
            !wc_get_u64(&p, end, &m->load_bytes) || (size_t)(end - p) < WC_MEMBER_HOST_ID_LEN)
            goto bad;
        memcpy(m->host_id, p, WC_MEMBER_HOST_ID_LEN);
        p += WC_MEMBER_HOST_ID_LEN;
        if (!wc__get_str(&p, end, m->schema_version, sizeof(m->schema_version)) ||
            !wc__get_str(&p, end, m->sql_address, sizeof(m->sql_address)) ||
            !wc__get_str(&p, end, m->release_version, sizeof(m->release_version)) ||
            !wc_get_u32(&p, end, &m->ntokens) || m->ntokens > (size_t)(end - p) / 8)
            goto bad;
        m->up = (mf & WC_MEMBERF_WIRE_UP) != 0;
        m->local = (mf & WC_MEMBERF_WIRE_LOCAL) != 0;
        m->has_host_id = (mf & WC_MEMBERF_WIRE_HOST_ID) != 0;
        m->has_load = (mf & WC_MEMBERF_WIRE_LOAD) != 0;
        p += (size_t)m->ntokens * 8;
        total_tokens += m->ntokens;
    }
    if (p != end)
        goto bad;
    if (total_tokens) {
        out->tokens = wc_malloc(total_tokens * sizeof(int64_t));
        if (out->tokens == NULL) {
            wc_proto_members_free(out);
            return wc_error(WC_NO_MEMORY, "out of memory decoding MEMBERS");
        }
    }
    /* second pass: the tokens, which the first pass skipped and bounded */
    p = scan;
    for (uint32_t i = 0; i < n; i++) {
        wc_member_info *m = &out->members[i];
        const uint8_t *s;
        size_t sl;
        for (int k = 0; k < 3; k++)
            (void)wc_get_bytes(&p, end, &s, &sl);
        p += 2 + 8 + WC_MEMBER_HOST_ID_LEN;
        for (int k = 0; k < 3; k++)
            (void)wc_get_bytes(&p, end, &s, &sl);
        p += 4;
        m->tokens = out->tokens + used;
        for (uint32_t t = 0; t < m->ntokens; t++, p += 8)
            out->tokens[used++] = (int64_t)wc_dec_u64(p);
    }
    out->n = n;
    return WC_OK;
bad:
    wc_proto_members_free(out);
    return WC__BAD("MEMBERS");
}

void wc_proto_members_free(wc_proto_members *m)
{
    wc_free(m->members);
    wc_free(m->tokens);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- STREAMS */

void wc_proto_put_streams(wc_buf *b, const wc_proto_stream *s, size_t n)
{
    wc_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        wc_buf_put_bytes(b, s[i].name, strlen(s[i].name));
        wc_buf_put_bytes(b, s[i].peer, strlen(s[i].peer));
        wc_buf_put_u8(b, s[i].incoming ? 1 : 0);
        wc_buf_put_u32(b, s[i].table_id);
        wc_buf_put_u32(b, s[i].ranges_done);
        wc_buf_put_u32(b, s[i].ranges_total);
        wc_buf_put_u64(b, s[i].bytes);
        wc_buf_put_u64(b, s[i].rows);
        wc_buf_put_bytes(b, s[i].state, strlen(s[i].state));
    }
}

/* A text field into out[cap] (NUL-terminated); false if it does not fit or holds a NUL. */
static bool wc__get_text_field(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    const uint8_t *v;
    size_t len;

    if (!wc_get_bytes(p, end, &v, &len) || len >= cap || memchr(v, 0, len) != NULL)
        return false;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}

wc_status wc_proto_get_streams(const uint8_t *body, size_t len, wc_proto_stream **out, size_t *n)
{
    const uint8_t *p = body, *end = body + len;
    uint32_t count;
    uint8_t incoming;

    *out = NULL;
    *n = 0;
    /* each entry takes at least 31 bytes: the count is bounded by the body */
    if (!wc_get_u32(&p, end, &count) || count > (size_t)(end - p) / 31)
        return WC__BAD("STREAMS");
    if (count == 0)
        return p == end ? WC_OK : WC__BAD("STREAMS");
    if ((*out = wc_calloc(count, sizeof(**out))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding STREAMS");
    for (uint32_t i = 0; i < count; i++) {
        wc_proto_stream *s = &(*out)[i];
        if (!wc__get_text_field(&p, end, s->name, sizeof(s->name)) ||
            !wc__get_text_field(&p, end, s->peer, sizeof(s->peer)) ||
            !wc_get_u8(&p, end, &incoming) || incoming > 1 || !wc_get_u32(&p, end, &s->table_id) ||
            !wc_get_u32(&p, end, &s->ranges_done) || !wc_get_u32(&p, end, &s->ranges_total) ||
            !wc_get_u64(&p, end, &s->bytes) || !wc_get_u64(&p, end, &s->rows) ||
            !wc__get_text_field(&p, end, s->state, sizeof(s->state)))
            goto bad;
        s->incoming = incoming == 1;
    }
    if (p != end)
        goto bad;
    *n = count;
    return WC_OK;
bad:
    wc_free(*out);
    *out = NULL;
    return WC__BAD("STREAMS");
}
