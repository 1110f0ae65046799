/*
 * protocol_test.c - the client protocol codec (version 2), consistency levels,
 * replication descriptions and table options: every message round-trips,
 * every truncation of every message is rejected, huge lengths are rejected
 * without allocating, unknown opcodes and statuses are refused, random
 * corruption never crashes a decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "consistency.h"
#include "protocol.h"
#include "table_options.h"

/* ---------------------------------------------------------------- decoder wrappers */

typedef wc_status (*dec_fn)(const uint8_t *p, size_t len);

static wc_status dec_table_change(const uint8_t *p, size_t len)
{
    wc_table_def d;
    wc_status st = wc_proto_get_table_change(p, len, &d);
    if (st == WC_OK)
        wc_table_def_clear(&d);
    return st;
}
static wc_status dec_table_def(const uint8_t *p, size_t len)
{
    wc_table_def d;
    wc_status st = wc_proto_get_table_def(p, len, &d);
    if (st == WC_OK)
        wc_table_def_clear(&d);
    return st;
}
static wc_status dec_table_id(const uint8_t *p, size_t len)
{
    uint32_t t;
    return wc_proto_get_table_id(p, len, &t);
}
static wc_status dec_flush(const uint8_t *p, size_t len)
{
    uint32_t t;
    bool w;
    return wc_proto_get_flush(p, len, &t, &w);
}
static wc_status dec_apply(const uint8_t *p, size_t len)
{
    wc_consistency cl;
    const uint8_t *b;
    size_t bl;
    return wc_proto_get_apply(p, len, &cl, NULL, &b, &bl);
}
static wc_status dec_stage(const uint8_t *p, size_t len)
{
    wc_consistency cl;
    bool first;
    const uint8_t *b;
    size_t bl;
    return wc_proto_get_stage(p, len, &cl, &first, &b, &bl);
}
static wc_status dec_publish(const uint8_t *p, size_t len)
{
    uint8_t a;
    return wc_proto_get_publish(p, len, &a);
}
static wc_status dec_read(const uint8_t *p, size_t len)
{
    wc_read_request r;
    wc_consistency cl;
    uint32_t *cols;
    wc_status st = wc_proto_get_read(p, len, &r, &cl, &cols);
    wc_free(cols);
    return st;
}
static wc_status dec_read_overlay(const uint8_t *p, size_t len)
{
    wc_read_request r;
    wc_consistency cl;
    uint32_t *cols;
    const uint8_t *ov;
    size_t ov_len;
    wc_status st = wc_proto_get_read_overlay(p, len, &r, &cl, &cols, &ov, &ov_len);
    wc_free(cols);
    return st;
}
static wc_status dec_ids(const uint8_t *p, size_t len)
{
    uint32_t *ids;
    size_t n;
    wc_status st = wc_proto_get_table_ids(p, len, &ids, &n);
    if (st == WC_OK)
        wc_free(ids);
    return st;
}
static wc_status dec_page(const uint8_t *p, size_t len)
{
    wc_proto_page pg;
    wc_status st = wc_proto_get_page(p, len, &pg);
    if (st == WC_OK)
        wc_free(pg.mem);
    return st;
}
static wc_status dec_stats(const uint8_t *p, size_t len)
{
    wc_table_stats s;
    return wc_proto_get_table_stats(p, len, &s);
}
static wc_status dec_compaction_stats(const uint8_t *p, size_t len)
{
    wc_compaction_stats s;
    return wc_proto_get_compaction_stats(p, len, &s);
}
static wc_status dec_scrub(const uint8_t *p, size_t len)
{
    wc_scrub_result r;
    return wc_proto_get_scrub_result(p, len, &r);
}
static wc_status dec_compactions(const uint8_t *p, size_t len)
{
    wc_compaction_info *v;
    size_t n;
    wc_status st = wc_proto_get_compactions(p, len, &v, &n);
    if (st == WC_OK)
        wc_free(v);
    else if (v != NULL || n != 0)
        fail_msg("a failed COMPACTIONS decode left output behind");
    return st;
}
static wc_status dec_node_info(const uint8_t *p, size_t len)
{
    static wc_node_info ni;
    return wc_proto_get_node_info(p, len, &ni);
}
static wc_status dec_error(const uint8_t *p, size_t len)
{
    const char *m;
    size_t ml;
    return wc_proto_get_error(p, len, &m, &ml);
}
static wc_status dec_handshake(const uint8_t *p, size_t len)
{
    uint32_t v;
    return wc_proto_get_handshake(p, len, &v);
}
static wc_status dec_handshake_reply(const uint8_t *p, size_t len)
{
    uint32_t v;
    wc_status st;
    const char *m;
    size_t ml;
    return wc_proto_get_handshake_reply(p, len, &v, &st, &m, &ml);
}

/* Every strict prefix of a valid message must be rejected, without leaking. */
static void check_truncations(dec_fn fn, const uint8_t *p, size_t len)
{
    uint64_t live = wc_alloc_live_count();

    assert_int_equal(fn(p, len), WC_OK);
    for (size_t i = 0; i < len; i++) {
        /* a heap copy so that ASan/valgrind catch any read past the prefix */
        uint8_t *q = malloc(i ? i : 1);
        memcpy(q, p, i);
        assert_int_not_equal(fn(q, i), WC_OK);
        free(q);
    }
    /* one byte too many is rejected as well */
    {
        uint8_t *q = malloc(len + 1);
        memcpy(q, p, len);
        q[len] = 0;
        assert_int_not_equal(fn(q, len + 1), WC_OK);
        free(q);
    }
    assert_int_equal(wc_alloc_live_count(), live);
}

/* Random byte flips: any result is fine but a crash or a leak. */
static void check_flips(dec_fn fn, const uint8_t *p, size_t len, unsigned seed)
{
    uint64_t live = wc_alloc_live_count();
    uint8_t *q = malloc(len ? len : 1);

    srand(seed);
    for (int it = 0; it < 3000 && len; it++) {
        memcpy(q, p, len);
        for (int k = 0; k < 1 + rand() % 4; k++)
            q[rand() % len] = (uint8_t)rand();
        (void)fn(q, len);
    }
    free(q);
    assert_int_equal(wc_alloc_live_count(), live);
}

/* ---------------------------------------------------------------- frames */

static void test_frames(void **state)
{
    wc_buf b;
    size_t start;
    const uint8_t *body;
    size_t blen;
    uint8_t op;
    uint32_t id, len;
    wc_status st;
    uint8_t big[4];

    wc_buf_init(&b);
    start = wc_proto_begin_request(&b, WC_OP_TABLE_STATS, 77);
    wc_proto_put_table_id(&b, 9);
    assert_int_equal(wc_proto_end_frame(&b, start), WC_OK);
    assert_int_equal(wc_proto_frame_length(b.data, &len), WC_OK);
    assert_int_equal(len, b.len - 4);
    assert_int_equal(wc_proto_parse_request(b.data + 4, len, &op, &id, &body, &blen), WC_OK);
    assert_int_equal(op, WC_OP_TABLE_STATS);
    assert_int_equal(id, 77);
    assert_int_equal(blen, 4);
    assert_int_equal(wc_dec_u32(body), 9);
    for (size_t i = 0; i < WC_PROTO_REQUEST_HEADER; i++)
        assert_int_equal(wc_proto_parse_request(b.data + 4, i, &op, &id, &body, &blen),
                         WC_CORRUPTION);

    /* responses, including every status and an unknown one */
    for (int s = WC_OK; s <= WC_NO_SPACE; s++) {
        wc_buf_reset(&b);
        start = wc_proto_begin_response(&b, 5, (wc_status)s);
        if (s != WC_OK)
            wc_proto_put_error(&b, "boom");
        assert_int_equal(wc_proto_end_frame(&b, start), WC_OK);
        assert_int_equal(wc_proto_parse_response(b.data + 4, b.len - 4, &id, &st, &body, &blen),
                         WC_OK);
        assert_int_equal(id, 5);
        assert_int_equal(st, s);
        if (s != WC_OK) {
            const char *m;
            size_t ml;
            assert_int_equal(wc_proto_get_error(body, blen, &m, &ml), WC_OK);
            assert_int_equal(ml, 4);
            assert_memory_equal(m, "boom", 4);
            check_truncations(dec_error, body, blen);
        }
    }
    b.data[4 + 4] = 200;
    assert_int_equal(wc_proto_parse_response(b.data + 4, b.len - 4, &id, &st, &body, &blen),
                     WC_CORRUPTION);
    for (size_t i = 0; i < WC_PROTO_RESPONSE_HEADER; i++)
        assert_int_equal(wc_proto_parse_response(b.data + 4, i, &id, &st, &body, &blen),
                         WC_CORRUPTION);

    /* the frame limit */
    wc_enc_u32(big, WC_PROTO_MAX_FRAME);
    assert_int_equal(wc_proto_frame_length(big, &len), WC_OK);
    wc_enc_u32(big, WC_PROTO_MAX_FRAME + 1);
    assert_int_equal(wc_proto_frame_length(big, &len), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "exceeds the limit"));
    wc_enc_u32(big, UINT32_MAX);
    assert_int_equal(wc_proto_frame_length(big, &len), WC_CORRUPTION);
    wc_buf_free(&b);
}

/* SCHEMA_CHANGE / SCHEMA_LIST bodies round-trip; truncations and bad values are malformed. */
static void test_schema_bodies(void **state)
{
    wc_proto_schema_change c = {WC_SCHEMA_CHANGE_DROP_TABLE, 10000, (const uint8_t *)"ks", NULL,
                                (const uint8_t *)"t", 2, 0, 1}, d;
    wc_proto_schema_result r, q;
    wc_buf b;
    uint8_t flags;
    const uint8_t *push, *known;
    size_t plen, klen;

    (void)state;
    wc_buf_init(&b);
    wc_proto_put_schema_change(&b, &c);
    assert_int_equal(wc_proto_get_schema_change(b.data, b.len, &d), WC_OK);
    assert_int_equal(d.kind, WC_SCHEMA_CHANGE_DROP_TABLE);
    assert_int_equal(d.wait_ms, 10000);
    assert_int_equal(d.alen, 2);
    assert_memory_equal(d.a, "ks", 2);
    assert_int_equal(d.blen, 0);
    assert_int_equal(d.clen, 1);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(wc_proto_get_schema_change(b.data, cut, &d), WC_CORRUPTION);
    b.data[0] = WC_SCHEMA_CHANGE_MAX + 1;
    assert_int_equal(wc_proto_get_schema_change(b.data, b.len, &d), WC_CORRUPTION);

    memset(&r, 0, sizeof(r));
    r.table_id = 77;
    r.waited_ms = 10001;
    r.nlaggards = 20; /* more than are named */
    for (int i = 0; i < WC_SCHEMA_MAX_LAGGARDS; i++)
        snprintf(r.laggards[i], sizeof(r.laggards[i]), "10.0.0.%d:7000", i);
    wc_buf_reset(&b);
    wc_proto_put_schema_result(&b, &r);
    assert_int_equal(wc_proto_get_schema_result(b.data, b.len, &q), WC_OK);
    assert_int_equal(q.table_id, 77);
    assert_false(q.agreed);
    assert_int_equal(q.nlaggards, 20);
    assert_string_equal(q.laggards[15], "10.0.0.15:7000");
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(wc_proto_get_schema_result(b.data, cut, &q), WC_CORRUPTION);

    wc_buf_reset(&b);
    wc_proto_put_schema_list(&b, (const uint8_t *)"0123456789abcdef", 16);
    assert_int_equal(wc_proto_get_schema_list(b.data, b.len, &known, &klen), WC_OK);
    assert_int_equal(klen, 16);
    wc_buf_reset(&b);
    wc_proto_put_schema_list(&b, (const uint8_t *)"0123", 4);
    assert_int_equal(wc_proto_get_schema_list(b.data, b.len, &known, &klen), WC_CORRUPTION);

    wc_buf_reset(&b);
    wc_proto_put_schema_listing(&b, WC_SCHEMA_LISTF_CLUSTER, (const uint8_t *)"xyz", 3);
    assert_int_equal(wc_proto_get_schema_listing(b.data, b.len, &flags, &push, &plen), WC_OK);
    assert_int_equal(plen, 3);
    assert_memory_equal(push, "xyz", 3);
    assert_int_equal(wc_proto_get_schema_listing(b.data, b.len - 1, &flags, &push, &plen),
                     WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_proto_put_schema_listing(&b, WC_SCHEMA_LISTF_CLUSTER | WC_SCHEMA_LISTF_UNCHANGED, NULL, 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(wc_proto_get_schema_listing(b.data, b.len, &flags, &push, &plen), WC_OK);
    assert_null(push);
    b.data[0] = 0x80;
    assert_int_equal(wc_proto_get_schema_listing(b.data, b.len, &flags, &push, &plen),
                     WC_CORRUPTION);
    wc_buf_free(&b);
}

static void test_unknown_opcode(void **state)
{
    uint8_t p[5];
    uint8_t op;
    uint32_t id;
    const uint8_t *body;
    size_t blen;

    p[0] = 0;
    wc_enc_u32(p + 1, 42);
    assert_int_equal(wc_proto_parse_request(p, 5, &op, &id, &body, &blen), WC_INVALID_ARGUMENT);
    assert_int_equal(id, 42);
    p[0] = WC_OP_MAX + 1;
    assert_int_equal(wc_proto_parse_request(p, 5, &op, &id, &body, &blen), WC_INVALID_ARGUMENT);
    assert_int_equal(op, WC_OP_MAX + 1);
    assert_non_null(strstr(wc_last_error(), "unknown protocol opcode"));
    assert_string_equal(wc_proto_op_name(WC_OP_READ), "READ");
    assert_string_equal(wc_proto_op_name(WC_OP_COMPACTION_STATS), "COMPACTION_STATS");
    assert_string_equal(wc_proto_op_name(WC_OP_COMPACTIONS), "COMPACTIONS");
    assert_string_equal(wc_proto_op_name(WC_OP_MAX + 1), "UNKNOWN");
    assert_string_equal(wc_proto_op_name(WC_OP_MEMBERS), "MEMBERS");
    assert_string_equal(wc_proto_op_name(WC_OP_SCHEMA_CHANGE), "SCHEMA_CHANGE");
    assert_string_equal(wc_proto_op_name(WC_OP_SCHEMA_LIST), "SCHEMA_LIST");
    assert_string_equal(wc_proto_op_name(WC_OP_STREAMS), "STREAMS");
    assert_string_equal(wc_proto_op_name(WC_OP_REPAIR), "REPAIR");
    assert_string_equal(wc_proto_op_name(WC_OP_SNAPSHOT), "SNAPSHOT");
    assert_string_equal(wc_proto_op_name(WC_OP_CLEANUP), "CLEANUP");
    assert_string_equal(wc_proto_op_name(WC_OP_DECOMMISSION), "DECOMMISSION");
    assert_string_equal(wc_proto_op_name(WC_OP_REMOVENODE), "REMOVENODE");
    assert_string_equal(wc_proto_op_name(WC_OP_CAS), "CAS");
    assert_string_equal(wc_proto_op_name(WC_OP_STAGE), "STAGE");
    assert_string_equal(wc_proto_op_name(WC_OP_PUBLISH), "PUBLISH");
    assert_string_equal(wc_proto_op_name(WC_OP_INDEX_READ), "INDEX_READ");
    assert_string_equal(wc_proto_op_name(WC_OP_COUNT_ROWS), "COUNT_ROWS");
    assert_string_equal(wc_proto_op_name(WC_OP_SYNC), "SYNC");
    assert_int_equal(WC_PROTO_VERSION, 21);
    assert_string_equal(wc_proto_op_name(99), "UNKNOWN");
    for (int o = 1; o <= WC_OP_MAX; o++) {
        p[0] = (uint8_t)o;
        assert_int_equal(wc_proto_parse_request(p, 5, &op, &id, &body, &blen), WC_OK);
    }
}

static void test_handshake(void **state)
{
    wc_buf b;
    uint32_t v;
    wc_status st;
    const char *m;
    size_t ml;

    wc_buf_init(&b);
    wc_proto_put_handshake(&b, 3);
    assert_int_equal(wc_dec_u32(b.data), WC_PROTO_HANDSHAKE_LEN);
    assert_int_equal(wc_proto_get_handshake(b.data + 4, b.len - 4, &v), WC_OK);
    assert_int_equal(v, 3);
    check_truncations(dec_handshake, b.data + 4, b.len - 4);
    b.data[4] ^= 1;
    assert_int_equal(wc_proto_get_handshake(b.data + 4, b.len - 4, &v), WC_CORRUPTION);

    wc_buf_reset(&b);
    wc_proto_put_handshake_reply(&b, WC_PROTO_VERSION, WC_OK, NULL);
    assert_int_equal(wc_dec_u32(b.data), b.len - 4);
    assert_int_equal(wc_proto_get_handshake_reply(b.data + 4, b.len - 4, &v, &st, &m, &ml), WC_OK);
    assert_int_equal(st, WC_OK);
    assert_int_equal(v, WC_PROTO_VERSION);
    check_truncations(dec_handshake_reply, b.data + 4, b.len - 4);

    wc_buf_reset(&b);
    wc_proto_put_handshake_reply(&b, 7, WC_INVALID_ARGUMENT, "version mismatch");
    assert_int_equal(wc_proto_get_handshake_reply(b.data + 4, b.len - 4, &v, &st, &m, &ml), WC_OK);
    assert_int_equal(st, WC_INVALID_ARGUMENT);
    assert_int_equal(v, 7);
    assert_int_equal(ml, strlen("version mismatch"));
    assert_memory_equal(m, "version mismatch", ml);
    check_truncations(dec_handshake_reply, b.data + 4, b.len - 4);
    wc_buf_free(&b);
}

/* ---------------------------------------------------------------- request bodies */

static void test_table_change(void **state)
{
    wc_buf b, sb;
    wc_table_def d, o;
    wc_replication ro;
    wc_schema s;
    wc_schema_replica rep[2] = {{"dc1", 3}, {"dc-2", 2}};
    wc_schema_column cols[2] = {{"id", "integer", 23, WC_COL_PARTITION, 0, false, 0, NULL},
                                {"ts", "bigint", 20, WC_COL_CLUSTERING, 0, true, 0, NULL}};

    wc_buf_init(&b);
    wc_buf_init(&sb);
    wc_schema_init(&s);
    s.table = "events";
    s.replication_class = "NetworkTopologyStrategy";
    s.nreplicas = 2;
    s.replicas = rep;
    s.ncolumns = 2;
    s.columns = cols;
    assert_int_equal(wc_schema_encode(&s, &sb), WC_OK);
    wc_table_def_default(&d);
    d.id = 12;
    snprintf(d.name, sizeof(d.name), "ks.events");
    d.gc_grace_seconds = 3600;
    d.default_ttl = 86400;
    d.schema = sb.data;
    d.schema_len = sb.len;
    snprintf(d.compaction, sizeof(d.compaction),
             "{'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': 1}");
    wc_proto_put_table_change(&b, &d);
    assert_int_equal(wc_proto_get_table_change(b.data, b.len, &o), WC_OK);
    assert_int_equal(o.id, 12);
    assert_string_equal(o.name, "ks.events");
    assert_int_equal(o.gc_grace_seconds, 3600);
    assert_int_equal(o.default_ttl, 86400);
    assert_int_equal(o.schema_len, d.schema_len);
    assert_memory_equal(o.schema, d.schema, d.schema_len);
    assert_string_equal(o.compaction, d.compaction);
    /* the replication travels inside the schema */
    assert_int_equal(wc_table_replication(&o, &ro), WC_OK);
    assert_int_equal(ro.cls, WC_REPL_NETWORK_TOPOLOGY);
    assert_int_equal(ro.ndcs, 2);
    assert_string_equal(ro.dcs[0].name, "dc1");
    assert_int_equal(ro.dcs[0].factor, 3);
    assert_string_equal(ro.dcs[1].name, "dc-2");
    assert_int_equal(ro.dcs[1].factor, 2);
    wc_table_def_clear(&o);
    check_truncations(dec_table_change, b.data, b.len);
    check_flips(dec_table_change, b.data, b.len, 1);

    /* no schema: none comes back, and the node's default replication applies */
    d.schema = NULL;
    d.schema_len = 0;
    wc_buf_reset(&b);
    wc_proto_put_table_change(&b, &d);
    assert_int_equal(wc_proto_get_table_change(b.data, b.len, &o), WC_OK);
    assert_null(o.schema);
    assert_int_equal(wc_table_replication(&o, &ro), WC_NOT_FOUND);
    d.schema = sb.data;
    d.schema_len = sb.len;

    /* an empty compaction map (STCS defaults) stays empty */
    d.compaction[0] = '\0';
    wc_buf_reset(&b);
    wc_proto_put_table_change(&b, &d);
    memset(o.compaction, 'x', sizeof(o.compaction));
    assert_int_equal(wc_proto_get_table_change(b.data, b.len, &o), WC_OK);
    assert_string_equal(o.compaction, "");
    check_truncations(dec_table_change, b.data, b.len);

    /* the longest map that fits goes through whole; an unterminated one is cut to fit */
    memset(d.compaction, 'c', sizeof(d.compaction) - 1);
    d.compaction[sizeof(d.compaction) - 1] = '\0';
    wc_buf_reset(&b);
    wc_proto_put_table_change(&b, &d);
    assert_int_equal(wc_proto_get_table_change(b.data, b.len, &o), WC_OK);
    assert_string_equal(o.compaction, d.compaction);
    d.compaction[sizeof(d.compaction) - 1] = 'c';
    wc_buf_reset(&b);
    wc_proto_put_table_change(&b, &d);
    assert_int_equal(wc_proto_get_table_change(b.data, b.len, &o), WC_OK);
    assert_int_equal(strlen(o.compaction), sizeof(o.compaction) - 1);
    snprintf(d.compaction, sizeof(d.compaction),
             "{'class': 'TWCS', 'compaction_window_unit': 'HOURS'}");

    /* GET_TABLE's body */
    wc_buf_reset(&b);
    wc_proto_put_table_def(&b, &d);
    assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_OK);
    assert_memory_equal(&o, &d, offsetof(wc_table_def, name));
    assert_int_equal(o.schema_len, d.schema_len);
    assert_memory_equal(o.schema, d.schema, d.schema_len);
    assert_string_equal(o.compaction, d.compaction);
    wc_table_def_clear(&o);
    check_truncations(dec_table_def, b.data, b.len);
    check_flips(dec_table_def, b.data, b.len, 5);

    /* a version-1 definition (no compaction map) is malformed */
    wc_buf_reset(&b);
    wc_buf_put_u32(&b, 1);
    wc_buf_put_bytes(&b, "ks.t", 4);
    wc_buf_put_u32(&b, 0);
    wc_buf_put_u32(&b, 0);
    wc_buf_put_bytes(&b, "", 0);
    assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "malformed table definition"));
    wc_buf_put_bytes(&b, "", 0);
    assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_OK);
    /* a compaction map longer than the field is refused, not cut; so is a NUL in it */
    {
        char longmap[1100];
        size_t at = b.len - 1;
        memset(longmap, 'm', sizeof(longmap));
        b.len = at;
        wc_buf_put_bytes(&b, longmap, sizeof(d.compaction));
        assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_CORRUPTION);
        b.len = at;
        wc_buf_put_bytes(&b, longmap, sizeof(d.compaction) - 1);
        assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_OK);
        b.len = at;
        wc_buf_put_bytes(&b, "{'a'\0}", 6);
        assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_CORRUPTION);
    }

    /* a name longer than the field is refused, not cut */
    wc_buf_reset(&b);
    wc_buf_put_u32(&b, 1);
    {
        char longname[200];
        memset(longname, 'x', sizeof(longname));
        wc_buf_put_bytes(&b, longname, sizeof(longname));
    }
    wc_buf_put_u32(&b, 0);
    wc_buf_put_u32(&b, 0);
    wc_buf_put_bytes(&b, "", 0);
    wc_buf_put_bytes(&b, "", 0);
    assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_CORRUPTION);
    /* a NUL inside a string is refused */
    wc_buf_reset(&b);
    wc_buf_put_u32(&b, 1);
    wc_buf_put_bytes(&b, "a\0b", 3);
    wc_buf_put_u32(&b, 0);
    wc_buf_put_u32(&b, 0);
    wc_buf_put_bytes(&b, "", 0);
    wc_buf_put_bytes(&b, "", 0);
    assert_int_equal(wc_proto_get_table_def(b.data, b.len, &o), WC_CORRUPTION);
    wc_buf_free(&b);
    wc_buf_free(&sb);
}

static void test_small_requests(void **state)
{
    wc_buf b;
    uint32_t t;
    bool w;
    wc_consistency cl;
    const uint8_t *batch;
    size_t bl;
    uint8_t prefix[WC_PROTO_APPLY_PREFIX];
    const uint8_t rec[] = {1, 2, 3, 4, 5, 6, 7};

    wc_buf_init(&b);
    wc_proto_put_table_id(&b, 0xdeadbeef);
    assert_int_equal(wc_proto_get_table_id(b.data, b.len, &t), WC_OK);
    assert_int_equal(t, 0xdeadbeef);
    check_truncations(dec_table_id, b.data, b.len);

    wc_buf_reset(&b);
    wc_proto_put_flush(&b, 4, true);
    assert_int_equal(wc_proto_get_flush(b.data, b.len, &t, &w), WC_OK);
    assert_int_equal(t, 4);
    assert_true(w);
    check_truncations(dec_flush, b.data, b.len);
    b.data[4] = 2;
    assert_int_equal(wc_proto_get_flush(b.data, b.len, &t, &w), WC_CORRUPTION);

    wc_buf_reset(&b);
    wc_proto_put_apply(&b, WC_CL_LOCAL_QUORUM, rec, sizeof(rec));
    assert_int_equal(wc_proto_get_apply(b.data, b.len, &cl, NULL, &batch, &bl), WC_OK);
    assert_int_equal(cl, WC_CL_LOCAL_QUORUM);
    assert_int_equal(bl, sizeof(rec));
    assert_memory_equal(batch, rec, sizeof(rec));
    check_truncations(dec_apply, b.data, b.len);
    b.data[0] = WC_CL_COUNT;
    assert_int_equal(wc_proto_get_apply(b.data, b.len, &cl, NULL, &batch, &bl), WC_CORRUPTION);

    /* the zero-copy prefix is the same bytes as a whole frame */
    wc_buf_reset(&b);
    {
        size_t start = wc_proto_begin_request(&b, WC_OP_APPLY, 31);
        wc_proto_put_apply(&b, WC_CL_ONE, rec, sizeof(rec));
        assert_int_equal(wc_proto_end_frame(&b, start), WC_OK);
    }
    assert_int_equal(wc_proto_apply_prefix(prefix, 31, WC_CL_ONE, false, sizeof(rec)), WC_OK);
    assert_int_equal(b.len, sizeof(prefix) + sizeof(rec));
    assert_memory_equal(b.data, prefix, sizeof(prefix));
    assert_int_equal(wc_proto_apply_prefix(prefix, 31, WC_CL_ONE, false, (size_t)WC_PROTO_MAX_FRAME),
                     WC_INVALID_ARGUMENT);

    /* the client-syncs flag: decoded where it is accepted, refused where it is not */
    {
        bool syncs = false;
        wc_clpos pos;

        assert_int_equal(wc_proto_apply_prefix(prefix, 31, WC_CL_QUORUM, true, sizeof(rec)), WC_OK);
        memcpy(b.data, prefix, sizeof(prefix));
        memcpy(b.data + sizeof(prefix), rec, sizeof(rec));
        assert_int_equal(wc_proto_get_apply(b.data + sizeof(prefix) - 5, 5 + sizeof(rec), &cl,
                                            &syncs, &batch, &bl),
                         WC_OK);
        assert_true(syncs);
        assert_int_equal(cl, WC_CL_QUORUM);
        assert_int_equal(wc_proto_get_apply(b.data + sizeof(prefix) - 5, 5 + sizeof(rec), &cl,
                                            NULL, &batch, &bl),
                         WC_CORRUPTION);
        b.data[sizeof(prefix) - 5] |= 0x40; /* an unknown flag */
        assert_int_equal(wc_proto_get_apply(b.data + sizeof(prefix) - 5, 5 + sizeof(rec), &cl,
                                            &syncs, &batch, &bl),
                         WC_CORRUPTION);

        wc_buf_reset(&b);
        wc_proto_put_clpos(&b, (wc_clpos){7, 123456});
        assert_int_equal(wc_proto_get_clpos(b.data, b.len, false, &pos), WC_OK);
        assert_int_equal(pos.segment, 7);
        assert_int_equal(pos.offset, 123456);
        assert_int_equal(wc_proto_get_clpos(b.data, b.len - 1, false, &pos), WC_CORRUPTION);
        assert_int_equal(wc_proto_get_clpos(b.data, 0, true, &pos), WC_OK);
        assert_int_equal(pos.segment, 0);
        assert_int_equal(wc_proto_get_clpos(b.data, 0, false, &pos), WC_CORRUPTION);
    }

    /* STAGE: APPLY's layout, the first flag beside the consistency level; PUBLISH */
    {
        bool first = false;
        uint8_t action = 0;
        size_t start;

        wc_buf_reset(&b);
        start = wc_proto_begin_request(&b, WC_OP_STAGE, 32);
        wc_buf_put_u8(&b, WC_CL_QUORUM | WC_STAGEF_FIRST);
        wc_buf_put_u32(&b, sizeof(rec));
        wc_buf_append(&b, rec, sizeof(rec));
        assert_int_equal(wc_proto_end_frame(&b, start), WC_OK);
        assert_int_equal(wc_proto_stage_prefix(prefix, 32, WC_CL_QUORUM, true, sizeof(rec)),
                         WC_OK);
        assert_memory_equal(b.data, prefix, sizeof(prefix));
        assert_int_equal(wc_proto_get_stage(b.data + 9, b.len - 9, &cl, &first, &batch, &bl),
                         WC_OK);
        assert_int_equal(cl, WC_CL_QUORUM);
        assert_true(first);
        assert_int_equal(bl, sizeof(rec));
        assert_memory_equal(batch, rec, sizeof(rec));
        check_truncations(dec_stage, b.data + 9, b.len - 9);
        b.data[9] = WC_CL_COUNT;
        assert_int_equal(wc_proto_get_stage(b.data + 9, b.len - 9, &cl, &first, &batch, &bl),
                         WC_CORRUPTION);

        wc_buf_reset(&b);
        wc_proto_put_publish(&b, WC_PUBLISH_ABORT);
        assert_int_equal(wc_proto_get_publish(b.data, b.len, &action), WC_OK);
        assert_int_equal(action, WC_PUBLISH_ABORT);
        check_truncations(dec_publish, b.data, b.len);
        b.data[0] = 3;
        assert_int_equal(wc_proto_get_publish(b.data, b.len, &action), WC_CORRUPTION);
    }

    /* LIST_TABLES */
    {
        uint32_t ids[3] = {1, 70000, 3}, *o;
        size_t n;
        wc_buf_reset(&b);
        wc_proto_put_table_ids(&b, ids, 3);
        assert_int_equal(wc_proto_get_table_ids(b.data, b.len, &o, &n), WC_OK);
        assert_int_equal(n, 3);
        assert_memory_equal(o, ids, sizeof(ids));
        wc_free(o);
        check_truncations(dec_ids, b.data, b.len);
        wc_buf_reset(&b);
        wc_proto_put_table_ids(&b, NULL, 0);
        assert_int_equal(wc_proto_get_table_ids(b.data, b.len, &o, &n), WC_OK);
        assert_int_equal(n, 0);
        assert_null(o);
    }
    /* TABLE_STATS */
    {
        wc_table_stats s = {1, 2, 3, 4, 5, 6, 7, UINT64_MAX, "table ks.t is offline"}, o;
        wc_buf_reset(&b);
        wc_proto_put_table_stats(&b, &s);
        assert_int_equal(wc_proto_get_table_stats(b.data, b.len, &o), WC_OK);
        assert_memory_equal(&s, &o, offsetof(wc_table_stats, offline));
        assert_string_equal(o.offline, s.offline);
        check_truncations(dec_stats, b.data, b.len);
    }
    wc_buf_free(&b);
}

static void test_read_request(void **state)
{
    wc_buf b;
    wc_read_request r, o;
    wc_consistency cl;
    uint32_t *cols;
    const uint32_t want_cols[3] = {1, 5, 900};
    const uint8_t ps[5] = {9, 8, 7, 6, 5};

    wc_buf_init(&b);
    memset(&r, 0, sizeof(r));
    r.table_id = 44;
    r.pk = (const uint8_t *)"device-1";
    r.pk_len = 8;
    r.start.key = (const uint8_t *)"a";
    r.start.len = 1;
    r.start.inclusive = true;
    r.end.unbounded = true;
    r.reverse = true;
    r.include_static = true;
    r.limit = 1000;
    r.per_partition_limit = 3;
    r.columns = want_cols;
    r.ncolumns = 3;
    r.now_sec = 1700000000;
    r.paging_state = ps;
    r.paging_state_len = sizeof(ps);
    r.page_rows = 250;
    r.tombstone_failure_threshold = 100000;
    wc_proto_put_read(&b, &r, WC_CL_QUORUM);
    assert_int_equal(wc_proto_get_read(b.data, b.len, &o, &cl, &cols), WC_OK);
    assert_int_equal(cl, WC_CL_QUORUM);
    assert_int_equal(o.table_id, 44);
    assert_int_equal(o.pk_len, 8);
    assert_memory_equal(o.pk, "device-1", 8);
    assert_int_equal(o.start.len, 1);
    assert_memory_equal(o.start.key, "a", 1);
    assert_true(o.start.inclusive);
    assert_false(o.start.unbounded);
    assert_true(o.end.unbounded);
    assert_true(o.reverse);
    assert_true(o.include_static);
    assert_int_equal(o.limit, 1000);
    assert_int_equal(o.per_partition_limit, 3);
    assert_int_equal(o.ncolumns, 3);
    assert_memory_equal(o.columns, want_cols, sizeof(want_cols));
    assert_ptr_equal(o.columns, cols);
    assert_int_equal(o.now_sec, 1700000000);
    assert_int_equal(o.paging_state_len, 5);
    assert_memory_equal(o.paging_state, ps, 5);
    assert_int_equal(o.page_rows, 250);
    assert_int_equal(o.tombstone_failure_threshold, 100000);
    assert_false(o.token_range);
    wc_free(cols);
    check_truncations(dec_read, b.data, b.len);
    check_flips(dec_read, b.data, b.len, 2);

    /* a token-range scan: no pk, all columns, no paging state */
    memset(&r, 0, sizeof(r));
    r.table_id = 2;
    r.start.unbounded = r.end.unbounded = true;
    r.token_range = true;
    r.token_start = INT64_MIN;
    r.token_end = -5;
    r.tombstone_failure_threshold = UINT64_MAX;
    wc_buf_reset(&b);
    wc_proto_put_read(&b, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_read(b.data, b.len, &o, &cl, &cols), WC_OK);
    assert_null(o.pk);
    assert_null(o.columns);
    assert_null(cols);
    assert_null(o.paging_state);
    assert_true(o.token_range);
    assert_int_equal(o.token_start, INT64_MIN);
    assert_int_equal(o.token_end, -5);
    assert_int_equal(o.tombstone_failure_threshold, UINT64_MAX);
    check_truncations(dec_read, b.data, b.len);

    /* the threshold sits after page_rows, before the token range (docs/protocol.md) */
    assert_int_equal(wc_dec_u64(b.data + b.len - 24), UINT64_MAX);

    /* a version-1 READ (no threshold) is malformed */
    r.token_range = false;
    r.tombstone_failure_threshold = 0;
    wc_buf_reset(&b);
    wc_proto_put_read(&b, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_read(b.data, b.len, &o, &cl, &cols), WC_OK);
    assert_int_equal(o.tombstone_failure_threshold, 0);
    assert_int_equal(wc_proto_get_read(b.data, b.len - 8, &o, &cl, &cols), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "malformed READ"));

    /* version 9: the overlay ends the request; the plain decoder refuses it */
    {
        static const uint8_t ov[] = {'W', 'C', 'M', 'B', 0};
        const uint8_t *o_ov;
        size_t o_len;

        wc_buf_reset(&b);
        wc_proto_put_read_overlay(&b, &r, WC_CL_ONE, ov, sizeof(ov));
        assert_int_equal(wc_proto_get_read_overlay(b.data, b.len, &o, &cl, &cols, &o_ov, &o_len),
                         WC_OK);
        assert_int_equal(o_len, sizeof(ov));
        assert_memory_equal(o_ov, ov, sizeof(ov));
        assert_memory_equal(b.data + b.len - sizeof(ov), ov, sizeof(ov));
        wc_free(cols);
        assert_int_equal(wc_proto_get_read(b.data, b.len, &o, &cl, &cols), WC_CORRUPTION);
        assert_null(cols);
        check_truncations(dec_read_overlay, b.data, b.len);
        /* without one, the request is byte for byte the plain READ */
        wc_buf_reset(&b);
        wc_proto_put_read_overlay(&b, &r, WC_CL_ONE, NULL, 0);
        assert_int_equal(wc_proto_get_read_overlay(b.data, b.len, &o, &cl, &cols, &o_ov, &o_len),
                         WC_OK);
        assert_null(o_ov);
        assert_int_equal(o_len, 0);
        wc_free(cols);
    }

    /* an empty partition key and an empty column list stay distinct from absent ones */
    r.token_range = false;
    r.pk = (const uint8_t *)"";
    r.pk_len = 0;
    r.columns = want_cols;
    r.ncolumns = 0;
    wc_buf_reset(&b);
    wc_proto_put_read(&b, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_read(b.data, b.len, &o, &cl, &cols), WC_OK);
    assert_non_null(o.pk);
    assert_int_equal(o.pk_len, 0);
    assert_non_null(o.columns);
    assert_int_equal(o.ncolumns, 0);
    wc_free(cols);

    /* the trace flag (every flag bit is known since version 10) */
    {
        const uint8_t *ov;
        size_t ovl;
        bool trace = false;

        wc_buf_reset(&b);
        wc_proto_put_read_ex(&b, &r, WC_CL_QUORUM, NULL, 0, true);
        assert_true(b.data[5] & WC_READF_TRACE);
        assert_int_equal(wc_proto_get_read_ex(b.data, b.len, &o, &cl, &cols, &ov, &ovl, &trace),
                         WC_OK);
        assert_true(trace);
        assert_int_equal(ovl, 0);
        wc_free(cols);
        wc_buf_reset(&b);
        wc_proto_put_read(&b, &r, WC_CL_ONE);
        assert_int_equal(wc_proto_get_read_ex(b.data, b.len, &o, &cl, &cols, &ov, &ovl, &trace),
                         WC_OK);
        assert_false(trace);
        wc_free(cols);
    }
    wc_buf_free(&b);
}

/* A READ response's trace after its page: round trip, and malformed trailers refused. */
/* INDEX_READ: index name and value, then a READ body; names out of bounds and overlays refused. */
static void test_index_read(void **state)
{
    wc_buf b;
    wc_read_request r, o;
    wc_consistency cl;
    uint32_t *cols;
    const uint32_t want_cols[2] = {2, 7};
    const uint8_t *value;
    size_t vlen;
    char index[128];
    char longname[200];

    (void)state;
    wc_buf_init(&b);
    memset(&r, 0, sizeof(r));
    r.table_id = 9;
    r.start.unbounded = r.end.unbounded = true;
    r.columns = want_cols;
    r.ncolumns = 2;
    r.page_rows = 7;
    r.limit = 3;
    wc_proto_put_index_read(&b, "by_state", (const uint8_t *)"on", 2, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_index_read(b.data, b.len, index, &value, &vlen, &o, &cl, &cols),
                     WC_OK);
    assert_string_equal(index, "by_state");
    assert_int_equal(vlen, 2);
    assert_memory_equal(value, "on", 2);
    assert_int_equal(o.table_id, 9);
    assert_int_equal(o.ncolumns, 2);
    assert_int_equal(cols[1], 7);
    assert_int_equal(o.page_rows, 7);
    assert_int_equal(o.limit, 3);
    assert_int_equal(cl, WC_CL_ONE);
    wc_free(cols);
    /* an empty value is a value */
    wc_buf_reset(&b);
    wc_proto_put_index_read(&b, "i", (const uint8_t *)"", 0, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_index_read(b.data, b.len, index, &value, &vlen, &o, &cl, &cols),
                     WC_OK);
    assert_non_null(value);
    assert_int_equal(vlen, 0);
    wc_free(cols);
    /* truncated, an empty name, a name of 128 bytes, an overlay: malformed */
    assert_int_equal(wc_proto_get_index_read(b.data, b.len - 1, index, &value, &vlen, &o, &cl,
                                             &cols),
                     WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_proto_put_index_read(&b, "", (const uint8_t *)"x", 1, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_index_read(b.data, b.len, index, &value, &vlen, &o, &cl, &cols),
                     WC_CORRUPTION);
    memset(longname, 'n', 128);
    longname[128] = '\0';
    wc_buf_reset(&b);
    wc_proto_put_index_read(&b, longname, (const uint8_t *)"x", 1, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_get_index_read(b.data, b.len, index, &value, &vlen, &o, &cl, &cols),
                     WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_buf_put_bytes(&b, "i", 1);
    wc_buf_put_bytes(&b, "x", 1);
    wc_proto_put_read_overlay(&b, &r, WC_CL_ONE, (const uint8_t *)"ov", 2);
    assert_int_equal(wc_proto_get_index_read(b.data, b.len, index, &value, &vlen, &o, &cl, &cols),
                     WC_CORRUPTION);
    assert_null(cols);
    wc_buf_free(&b);
}

static void test_read_trace(void **state)
{
    wc_read_trace t[2], d[WC_PROTO_TRACE_MAX];
    wc_buf b;
    size_t page_len = 0, n = 0;

    (void)state;
    memset(t, 0, sizeof(t));
    snprintf(t[0].address, sizeof(t[0].address), "10.0.0.1:7000");
    t[0].asks = 2;
    t[0].answers = 2;
    t[0].us = 1500;
    t[0].bytes = 321;
    snprintf(t[1].address, sizeof(t[1].address), "10.0.0.2:7000");
    t[1].asks = 1;
    t[1].answers = 1;
    t[1].digests = 1;
    t[1].us = 900;
    wc_buf_init(&b);
    wc_buf_append(&b, "PAGE", 4);
    wc_proto_put_trace(&b, t, 2);
    assert_int_equal(wc_proto_get_trace(b.data, b.len, &page_len, d, &n), WC_OK);
    assert_int_equal(page_len, 4);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].address, "10.0.0.1:7000");
    assert_int_equal(d[0].bytes, 321);
    assert_int_equal(d[0].us, 1500);
    assert_int_equal(d[1].digests, 1);
    /* an empty trace */
    wc_buf_reset(&b);
    wc_proto_put_trace(&b, t, 0);
    assert_int_equal(wc_proto_get_trace(b.data, b.len, &page_len, d, &n), WC_OK);
    assert_int_equal(page_len, 0);
    assert_int_equal(n, 0);
    /* a length past the body, a cut entry, too short */
    wc_buf_reset(&b);
    wc_proto_put_trace(&b, t, 2);
    b.data[b.len - 1] = 0x7f;
    assert_int_equal(wc_proto_get_trace(b.data, b.len, &page_len, d, &n), WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_proto_put_trace(&b, t, 2);
    wc_enc_u32(b.data + b.len - 4, wc_dec_u32(b.data + b.len - 4) - 3);
    assert_int_equal(wc_proto_get_trace(b.data, b.len, &page_len, d, &n), WC_CORRUPTION);
    assert_int_equal(wc_proto_get_trace(b.data, 3, &page_len, d, &n), WC_CORRUPTION);
    wc_buf_free(&b);
}

/* ---------------------------------------------------------------- pages */

static wc_cell cells_a[3], cells_b[1], cells_s[1];
static wc_result_row rows[4];

static void fill_page(wc_page *pg)
{
    static const uint8_t ps[3] = {1, 2, 3};

    memset(pg, 0, sizeof(*pg));
    memset(rows, 0, sizeof(rows));
    cells_s[0] = (wc_cell){.column = 1, .ts = 50, .value = (const uint8_t *)"static", .len = 6};
    rows[0] = (wc_result_row){.pk = (const uint8_t *)"p1", .pk_len = 2, .token = -77,
                              .is_static = true, .live_ts = WC_NO_TIMESTAMP, .ncells = 1,
                              .cells = cells_s};
    cells_a[0] = (wc_cell){.column = 2, .ts = 100, .value = (const uint8_t *)"v", .len = 1};
    cells_a[1] = (wc_cell){.column = 3, .flags = WC_CELLF_EXPIRING, .ts = 99, .ldt = 5000,
                           .ttl = 60, .value = (const uint8_t *)"exp", .len = 3};
    cells_a[2] = (wc_cell){.column = 300, .ts = 100, .value = (const uint8_t *)"", .len = 0};
    rows[1] = (wc_result_row){.pk = (const uint8_t *)"p1", .pk_len = 2, .token = -77,
                              .ck = (const uint8_t *)"\x00\x01", .ck_len = 2, .live_ts = 100,
                              .ncells = 3, .cells = cells_a};
    rows[2] = (wc_result_row){.pk = (const uint8_t *)"p1", .pk_len = 2, .token = -77,
                              .ck = (const uint8_t *)"", .ck_len = 0, .live_ts = 7,
                              .ncells = 0, .cells = NULL};
    cells_b[0] = (wc_cell){.column = 4, .flags = WC_CELLF_TOMBSTONE, .ts = 8, .ldt = 123};
    rows[3] = (wc_result_row){.pk = (const uint8_t *)"p22", .pk_len = 3, .token = 4,
                              .ck = (const uint8_t *)"zz", .ck_len = 2, .live_ts = 9,
                              .ncells = 1, .cells = cells_b};
    pg->nrows = 4;
    pg->rows = rows;
    pg->more = true;
    pg->paging_state = (uint8_t *)ps;
    pg->paging_state_len = sizeof(ps);
    pg->stats = (wc_read_stats){1, 2, 3, 4, 5, 6, 7, 8};
}

static void assert_cell_eq(const wc_cell *a, const wc_cell *b)
{
    assert_int_equal(a->column, b->column);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->ts, b->ts);
    assert_int_equal(a->ldt, b->ldt);
    assert_int_equal(a->ttl, b->ttl);
    assert_int_equal(a->len, b->len);
    if (a->len)
        assert_memory_equal(a->value, b->value, a->len);
}

static void test_page(void **state)
{
    wc_buf b;
    wc_page pg;
    wc_proto_page o;

    wc_buf_init(&b);
    fill_page(&pg);
    wc_proto_put_page(&b, &pg);
    assert_int_equal(wc_proto_get_page(b.data, b.len, &o), WC_OK);
    assert_int_equal(o.nrows, 4);
    assert_true(o.more);
    assert_int_equal(o.paging_state_len, 3);
    assert_memory_equal(o.paging_state, pg.paging_state, 3);
    assert_memory_equal(&o.stats, &pg.stats, sizeof(pg.stats));
    for (size_t i = 0; i < 4; i++) {
        const wc_result_row *x = &pg.rows[i], *y = &o.rows[i];
        assert_int_equal(x->pk_len, y->pk_len);
        assert_memory_equal(x->pk, y->pk, x->pk_len);
        assert_int_equal(x->token, y->token);
        assert_int_equal(x->is_static, y->is_static);
        assert_int_equal(x->ck_len, y->ck_len);
        if (x->is_static)
            assert_null(y->ck);
        else
            assert_non_null(y->ck);
        if (x->ck_len)
            assert_memory_equal(x->ck, y->ck, x->ck_len);
        assert_int_equal(x->live_ts, y->live_ts);
        assert_int_equal(x->ncells, y->ncells);
        for (uint32_t k = 0; k < x->ncells; k++)
            assert_cell_eq(&x->cells[k], &y->cells[k]);
    }
    /* rows of one partition share the pk bytes on the wire */
    assert_ptr_equal(o.rows[1].pk, o.rows[0].pk);
    wc_free(o.mem);
    check_truncations(dec_page, b.data, b.len);
    check_flips(dec_page, b.data, b.len, 3);

    /* an empty last page */
    memset(&pg, 0, sizeof(pg));
    wc_buf_reset(&b);
    wc_proto_put_page(&b, &pg);
    assert_int_equal(wc_proto_get_page(b.data, b.len, &o), WC_OK);
    assert_int_equal(o.nrows, 0);
    assert_false(o.more);
    assert_null(o.paging_state);
    wc_free(o.mem);
    check_truncations(dec_page, b.data, b.len);
    wc_buf_free(&b);
}

/* A collection cell travels as its live elements with flag COLLECTION; malformed ones fail. */
static void test_page_collection(void **state)
{
    /* 2 elements: ("a", "1"), ("b", "") */
    static const uint8_t live[] = {2, 1, 'a', 1, '1', 1, 'b', 0};
    wc_cell cell = {.column = 5, .flags = WC_CELLF_COLLECTION, .ts = 42, .value = live,
                    .len = sizeof(live)};
    wc_result_row row = {.pk = (const uint8_t *)"p", .pk_len = 1, .ck = (const uint8_t *)"c",
                         .ck_len = 1, .live_ts = WC_NO_TIMESTAMP, .ncells = 1, .cells = &cell};
    wc_page pg;
    wc_proto_page o;
    wc_buf b;
    size_t flag_at;
    (void)state;

    memset(&pg, 0, sizeof(pg));
    pg.nrows = 1;
    pg.rows = &row;
    wc_buf_init(&b);
    wc_proto_put_page(&b, &pg);
    assert_int_equal(wc_proto_get_page(b.data, b.len, &o), WC_OK);
    assert_int_equal(o.nrows, 1);
    assert_int_equal(o.rows[0].ncells, 1);
    assert_cell_eq(&cell, &o.rows[0].cells[0]);
    wc_free(o.mem);
    check_truncations(dec_page, b.data, b.len);
    /* the cell flags byte follows the column id (1 byte) after the row's fixed part */
    flag_at = b.len - (1 + 8 + 1 + sizeof(live));
    assert_int_equal(b.data[flag_at], WC_CELLF_WIRE_COLLECTION);
    b.data[flag_at] |= WC_CELLF_WIRE_EXPIRING; /* never with EXPIRING */
    assert_int_equal(wc_proto_get_page(b.data, b.len, &o), WC_CORRUPTION);
    b.data[flag_at] = WC_CELLF_WIRE_COLLECTION;
    b.data[b.len - sizeof(live)] = 3; /* three elements promised, two given */
    assert_int_equal(wc_proto_get_page(b.data, b.len, &o), WC_CORRUPTION);
    wc_buf_free(&b);
}

/* Counts that promise more than the message holds fail before any allocation. */
static void test_huge_lengths(void **state)
{
    wc_buf b;
    wc_proto_page o;
    uint32_t *ids;
    size_t n;
    wc_read_request r;
    wc_consistency cl;
    uint32_t *cols;
    uint64_t live = wc_alloc_live_count();

    wc_buf_init(&b);
    /* page: 2^31 rows in a few bytes */
    wc_buf_put_u8(&b, 0);
    wc_buf_put_bytes(&b, "", 0);
    for (int i = 0; i < 8; i++)
        wc_buf_put_u64(&b, 0);
    wc_buf_put_u32(&b, 0x80000000u);
    wc_buf_put_u32(&b, 0xffffffffu);
    for (int i = 0; i < 64; i++)
        wc_buf_put_u8(&b, 0);
    wc_alloc_fail_after(1, 1); /* any allocation would now fail with WC_NO_MEMORY */
    assert_int_equal(wc_proto_get_page(b.data, b.len, &o), WC_CORRUPTION);
    wc_alloc_fail_after(0, 0);

    /* LIST_TABLES: a billion ids */
    wc_buf_reset(&b);
    wc_buf_put_u32(&b, 1000000000u);
    wc_buf_put_u32(&b, 1);
    wc_alloc_fail_after(1, 1);
    assert_int_equal(wc_proto_get_table_ids(b.data, b.len, &ids, &n), WC_CORRUPTION);
    wc_alloc_fail_after(0, 0);

    /* READ: a huge column list; a huge varint length for the pk */
    wc_buf_reset(&b);
    wc_buf_put_u8(&b, WC_CL_ONE);
    wc_buf_put_u32(&b, 1);
    wc_buf_put_u8(&b, WC_READF_COLUMNS);
    wc_buf_put_u8(&b, WC_BOUNDF_UNBOUNDED);
    wc_buf_put_u8(&b, WC_BOUNDF_UNBOUNDED);
    wc_buf_put_u64(&b, 0);
    wc_buf_put_u64(&b, 0);
    wc_buf_put_u32(&b, 0xfffffff0u);
    wc_buf_put_u64(&b, 0);
    wc_alloc_fail_after(1, 1);
    assert_int_equal(wc_proto_get_read(b.data, b.len, &r, &cl, &cols), WC_CORRUPTION);
    wc_alloc_fail_after(0, 0);

    wc_buf_reset(&b);
    wc_buf_put_u8(&b, WC_CL_ONE);
    wc_buf_put_u32(&b, 1);
    wc_buf_put_u8(&b, WC_READF_PK);
    wc_buf_put_varint(&b, UINT64_MAX);
    wc_buf_put_u64(&b, 0);
    assert_int_equal(wc_proto_get_read(b.data, b.len, &r, &cl, &cols), WC_CORRUPTION);

    /* error message with a length past the body */
    wc_buf_reset(&b);
    wc_buf_put_varint(&b, 1u << 30);
    wc_buf_put_u8(&b, 'x');
    {
        const char *m;
        size_t ml;
        assert_int_equal(wc_proto_get_error(b.data, b.len, &m, &ml), WC_CORRUPTION);
    }
    wc_buf_free(&b);
    assert_int_equal(wc_alloc_live_count(), live);
}

/* ---------------------------------------------------------------- compaction */

static void fill_compaction_stats(wc_compaction_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->strategy = WC_COMPACTION_TWCS;
    s->enabled = true;
    s->running = true;
    s->pending = 3;
    for (int i = 0; i < WC_LEVELS; i++) {
        s->level_sstables[i] = 100 + (uint64_t)i;
        s->level_bytes[i] = (1ull << 40) + (uint64_t)i;
    }
    s->nwindows = 3;
    for (int i = 0; i < 3; i++) {
        s->window_start[i] = 1700000000 - 3600 * (int64_t)i;
        s->window_sstables[i] = 10 + (uint64_t)i;
        s->window_bytes[i] = 5000 + (uint64_t)i;
    }
    s->window_start[2] = INT64_MIN; /* any i64 travels */
    s->droppable_tombstones = 77;
    s->droppable_tombstone_ratio = 0.123456789;
    for (int i = 0; i < WC_READ_HIST_BUCKETS; i++)
        s->read_histogram[i] = 1000 * (uint64_t)(i + 1);
    s->read_p50 = 2;
    s->read_p99 = 16;
    s->compactions_completed = 11;
    s->bytes_read = 12;
    s->bytes_written = 13;
    s->sstables_expired = 14;
    s->tombstones_purged = UINT64_MAX;
}

static void test_scrub_result(void **state)
{
    wc_buf b;
    wc_scrub_result r, o;

    memset(&r, 0, sizeof(r));
    r.was_offline = true;
    r.sstables_checked = 7;
    r.sstables_damaged = 2;
    r.sstables_rewritten = 1;
    r.rows_kept = 12345;
    r.rows_salvaged = 77;
    r.blocks_lost = 3;
    r.bytes_lost = UINT64_MAX;
    snprintf(r.quarantined, sizeof(r.quarantined), "/d/t1/quarantine/1.sst, /d/t1/quarantine/4.sst");
    wc_buf_init(&b);
    wc_proto_put_scrub_result(&b, &r);
    /* u8 flags, 3 x u32, 4 x u64, bytes */
    assert_int_equal(b.len, 1 + 12 + 32 + 1 + strlen(r.quarantined));
    assert_int_equal(wc_proto_get_scrub_result(b.data, b.len, &o), WC_OK);
    assert_memory_equal(&o, &r, sizeof(r));
    check_truncations(dec_scrub, b.data, b.len);
    b.data[0] = 0x80; /* unknown flag */
    assert_int_equal(wc_proto_get_scrub_result(b.data, b.len, &o), WC_CORRUPTION);
    assert_int_equal(o.rows_kept, 0);
    wc_buf_free(&b);
}

static void test_compaction_stats(void **state)
{
    wc_buf b;
    wc_compaction_stats s, o;

    wc_buf_init(&b);
    fill_compaction_stats(&s);
    wc_proto_put_compaction_stats(&b, &s);
    /* u8 strategy, u8 flags, u64 pending, 9 levels, u8 nwindows, windows, u64, f64,
     * 8 buckets, 2 x u32, 5 x u64 */
    assert_int_equal(b.len, 1 + 1 + 8 + WC_LEVELS * 16 + 1 + 3 * 24 + 8 + 8 +
                                WC_READ_HIST_BUCKETS * 8 + 8 + 5 * 8);
    assert_int_equal(b.len, 283 + 3 * 24); /* docs/protocol.md */
    assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_OK);
    assert_memory_equal(&o, &s, sizeof(s));
    assert_true(o.droppable_tombstone_ratio == 0.123456789);
    check_truncations(dec_compaction_stats, b.data, b.len);
    check_flips(dec_compaction_stats, b.data, b.len, 6);

    /* every strategy and flag combination; no windows; all 16 windows */
    for (int cls = WC_COMPACTION_STCS; cls <= WC_COMPACTION_TWCS; cls++)
        for (int fl = 0; fl < 4; fl++) {
            fill_compaction_stats(&s);
            s.strategy = (wc_compaction_class)cls;
            s.enabled = (fl & 1) != 0;
            s.running = (fl & 2) != 0;
            s.nwindows = cls == WC_COMPACTION_TWCS ? WC_STATS_WINDOWS : 0;
            for (uint32_t i = 0; i < s.nwindows; i++) {
                s.window_start[i] = 86400 * (int64_t)(100 - i);
                s.window_sstables[i] = i;
                s.window_bytes[i] = 7 * (uint64_t)i;
            }
            if (s.nwindows == 0) {
                memset(s.window_start, 0, sizeof(s.window_start));
                memset(s.window_sstables, 0, sizeof(s.window_sstables));
                memset(s.window_bytes, 0, sizeof(s.window_bytes));
            }
            wc_buf_reset(&b);
            wc_proto_put_compaction_stats(&b, &s);
            assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_OK);
            assert_memory_equal(&o, &s, sizeof(s));
            check_truncations(dec_compaction_stats, b.data, b.len);
        }

    /* garbage: unknown strategy, unknown flag bits, too many windows */
    fill_compaction_stats(&s);
    wc_buf_reset(&b);
    wc_proto_put_compaction_stats(&b, &s);
    b.data[0] = WC_CSTRAT_WIRE_MAX + 1;
    assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "malformed COMPACTION_STATS"));
    b.data[0] = WC_CSTRAT_WIRE_LCS;
    b.data[1] = 0x04;
    assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_CORRUPTION);
    b.data[1] = WC_CSTATF_WIRE_ALL;
    assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_OK);
    {
        size_t nw_at = 1 + 1 + 8 + WC_LEVELS * 16;
        assert_int_equal(b.data[nw_at], 3);
        b.data[nw_at] = WC_STATS_WINDOWS + 1;
        assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_CORRUPTION);
        b.data[nw_at] = 255;
        assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_CORRUPTION);
        b.data[nw_at] = 2; /* fewer windows than sent: the rest is trailing garbage */
        assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_CORRUPTION);
    }
    /* an encoder given more windows than the struct holds sends only those */
    fill_compaction_stats(&s);
    s.nwindows = 1000;
    wc_buf_reset(&b);
    wc_proto_put_compaction_stats(&b, &s);
    assert_int_equal(wc_proto_get_compaction_stats(b.data, b.len, &o), WC_OK);
    assert_int_equal(o.nwindows, WC_STATS_WINDOWS);
    assert_int_equal(wc_proto_get_compaction_stats(NULL, 0, &o), WC_CORRUPTION);
    wc_buf_free(&b);
}

static void fill_compactions(wc_compaction_info v[3])
{
    memset(v, 0, 3 * sizeof(*v));
    /* a running LCS compaction with more inputs than the struct lists */
    v[0].table_id = 7;
    v[0].running = true;
    v[0].strategy = WC_COMPACTION_LCS;
    v[0].kind = WC_COMPACTION_KIND_MINOR;
    v[0].ninputs = 40;
    for (int k = 0; k < WC_COMPACTION_INFO_INPUTS; k++)
        v[0].inputs[k] = 1000 + (uint64_t)k;
    v[0].level = 2;
    v[0].window_start = INT64_MIN;
    v[0].bytes_done = 12345;
    v[0].bytes_total = 99999;
    /* a pending TWCS expiry */
    v[1].table_id = UINT32_MAX;
    v[1].strategy = WC_COMPACTION_TWCS;
    v[1].kind = WC_COMPACTION_KIND_EXPIRED;
    v[1].ninputs = 2;
    v[1].inputs[0] = 5;
    v[1].inputs[1] = UINT64_MAX;
    v[1].level = -1;
    v[1].window_start = 1699996400;
    /* a major compaction with no inputs listed */
    v[2].table_id = 1;
    v[2].running = true;
    v[2].strategy = WC_COMPACTION_STCS;
    v[2].kind = WC_COMPACTION_KIND_MAJOR;
    v[2].level = -1;
    v[2].window_start = -1;
    v[2].bytes_total = 1;
}

static void test_compactions(void **state)
{
    wc_buf b;
    wc_compaction_info in[3], *o;
    size_t n;
    uint64_t live = wc_alloc_live_count();

    wc_buf_init(&b);
    fill_compactions(in);
    wc_proto_put_compactions(&b, in, 3);
    assert_int_equal(b.len, 4 + 3 * WC_PROTO_MIN_COMPACTION_BYTES + (16 + 2) * 8);
    assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(o, in, sizeof(in));
    assert_int_equal(o[1].level, -1);
    assert_int_equal(o[0].ninputs, 40);
    wc_free(o);
    check_truncations(dec_compactions, b.data, b.len);
    check_flips(dec_compactions, b.data, b.len, 7);

    /* every kind; one entry at a time */
    for (int kind = WC_COMPACTION_KIND_MINOR; kind <= WC_COMPACTION_KIND_MAJOR; kind++) {
        fill_compactions(in);
        in[0].kind = (wc_compaction_kind)kind;
        wc_buf_reset(&b);
        wc_proto_put_compactions(&b, in, 1);
        assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_OK);
        assert_int_equal(n, 1);
        assert_memory_equal(o, in, sizeof(in[0]));
        wc_free(o);
    }

    /* an empty list: NULL, 0 */
    wc_buf_reset(&b);
    wc_proto_put_compactions(&b, NULL, 0);
    assert_int_equal(b.len, 4);
    o = in; /* must be overwritten */
    n = 99;
    assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_OK);
    assert_null(o);
    assert_int_equal(n, 0);
    check_truncations(dec_compactions, b.data, b.len);

    /* garbage in one entry: flags, strategy, kind (offsets within the first entry) */
    {
        static const struct {
            size_t at;
            uint8_t v;
        } bad[] = {{4 + 4, 0x02},
                   {4 + 5, WC_CSTRAT_WIRE_MAX + 1},
                   {4 + 6, WC_CKIND_WIRE_MAX + 1},
                   {4 + 6, 0xff}};
        fill_compactions(in);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            wc_buf_reset(&b);
            wc_proto_put_compactions(&b, in, 2);
            b.data[bad[i].at] = bad[i].v;
            assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_CORRUPTION);
            assert_null(o);
            assert_int_equal(n, 0);
            assert_non_null(strstr(wc_last_error(), "malformed COMPACTIONS"));
        }
        /* a count that disagrees with the entries */
        wc_buf_reset(&b);
        wc_proto_put_compactions(&b, in, 2);
        wc_enc_u32(b.data, 1);
        assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_CORRUPTION);
        wc_enc_u32(b.data, 3);
        assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_CORRUPTION);
        /* ninputs that promises more generations than follow */
        wc_buf_reset(&b);
        wc_proto_put_compactions(&b, &in[1], 1);
        wc_enc_u32(b.data + 4 + WC_PROTO_MIN_COMPACTION_BYTES - 4, 3);
        assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_CORRUPTION);
    }

    /* a huge count is refused before any allocation */
    wc_buf_reset(&b);
    wc_buf_put_u32(&b, 0xffffffffu);
    for (int i = 0; i < 100; i++)
        wc_buf_put_u8(&b, 0);
    wc_alloc_fail_after(1, 1);
    assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_CORRUPTION);
    wc_alloc_fail_after(0, 0);
    /* allocation failure is reported as such */
    wc_buf_reset(&b);
    fill_compactions(in);
    wc_proto_put_compactions(&b, in, 3);
    wc_alloc_fail_after(1, 1);
    assert_int_equal(wc_proto_get_compactions(b.data, b.len, &o, &n), WC_NO_MEMORY);
    wc_alloc_fail_after(0, 0);
    assert_null(o);
    wc_buf_free(&b);
    assert_int_equal(wc_alloc_live_count(), live);
}

static void test_node_info(void **state)
{
    wc_buf b;
    static wc_node_info ni, o;

    memset(&ni, 0, sizeof(ni));
    ni.protocol_version = WC_PROTO_VERSION;
    snprintf(ni.version, sizeof(ni.version), "0.1");
    ni.uptime_ms = 123456;
    snprintf(ni.data_dir, sizeof(ni.data_dir), "/var/lib/pg/widecol");
    snprintf(ni.socket_path, sizeof(ni.socket_path), "/var/lib/pg/.s.widecol");
    ni.connections_open = 3;
    ni.max_connections = 64;
    ni.connections_total = 10;
    ni.connections_refused = 1;
    ni.requests_total = 99;
    ni.errors_total = 2;
    for (int i = 0; i < WC_OP_COUNT; i++)
        ni.requests[i] = (uint64_t)i * 3;
    ni.memtable_bytes = 5u << 20;
    ni.memtable_flushing_bytes = 1u << 20;
    ni.memtable_limit_bytes = 512u << 20;
    ni.commitlog_bytes = 64u << 20;
    ni.commitlog_limit_bytes = 1024u << 20;
    ni.writes_stalled = 7;
    ni.writes_refused = 1;
    snprintf(ni.background_error, sizeof(ni.background_error),
             "background flush of table ks.t failed: disk full");
    wc_buf_init(&b);
    wc_proto_put_node_info(&b, &ni);
    assert_int_equal(wc_proto_get_node_info(b.data, b.len, &o), WC_OK);
    assert_memory_equal(&o, &ni, sizeof(ni));
    check_truncations(dec_node_info, b.data, b.len);
    check_flips(dec_node_info, b.data, b.len, 4);
    wc_buf_free(&b);
}

/* ---------------------------------------------------------------- consistency */

static void test_consistency_names(void **state)
{
    wc_consistency cl;

    for (int i = 0; i < WC_CL_COUNT; i++) {
        assert_int_equal(wc_consistency_parse(wc_consistency_name((wc_consistency)i), &cl), WC_OK);
        assert_int_equal(cl, i);
    }
    assert_int_equal(wc_consistency_parse("local_quorum", &cl), WC_OK);
    assert_int_equal(cl, WC_CL_LOCAL_QUORUM);
    assert_int_equal(wc_consistency_parse("Each_Quorum", &cl), WC_OK);
    assert_int_equal(cl, WC_CL_EACH_QUORUM);
    assert_int_equal(wc_consistency_parse("quorumm", &cl), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "LOCAL_SERIAL"));
    assert_int_equal(wc_consistency_parse(NULL, &cl), WC_INVALID_ARGUMENT);
    assert_string_equal(wc_consistency_name((wc_consistency)77), "UNKNOWN");
}

static void test_consistency_rule(void **state)
{
    wc_replication r;
    uint32_t bf;

    /* one node: every keyspace behaves as factor 1 */
    assert_int_equal(wc_replication_parse("SimpleStrategy:3", &r), WC_OK);
    for (int i = 0; i < WC_CL_COUNT; i++) {
        wc_consistency cl = (wc_consistency)i;
        bool write = cl != WC_CL_SERIAL && cl != WC_CL_LOCAL_SERIAL;
        wc_status st = wc_consistency_check(cl, &r, 1, 1, write);
        if (cl == WC_CL_TWO || cl == WC_CL_THREE)
            assert_int_equal(st, WC_UNAVAILABLE);
        else
            assert_int_equal(st, WC_OK);
    }
    assert_int_equal(wc_consistency_check(WC_CL_TWO, &r, 1, 1, true), WC_UNAVAILABLE);
    assert_string_equal(wc_last_error(), "consistency TWO needs 2 replicas, 1 alive");
    assert_int_equal(wc_consistency_check(WC_CL_ANY, &r, 1, 1, false), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_consistency_check(WC_CL_SERIAL, &r, 1, 1, true), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_consistency_check(WC_CL_SERIAL, &r, 1, 1, false), WC_OK);
    assert_int_equal(wc_consistency_check(WC_CL_ONE, &r, 1, 0, false), WC_UNAVAILABLE);

    /* NTS on one node: LOCAL_* work whatever the data-centre names */
    assert_int_equal(wc_replication_parse("NetworkTopologyStrategy:dc1=3,dc2=2", &r), WC_OK);
    assert_int_equal(wc_consistency_check(WC_CL_LOCAL_QUORUM, &r, 1, 1, true), WC_OK);
    assert_int_equal(wc_consistency_check(WC_CL_EACH_QUORUM, &r, 1, 1, true), WC_OK);
    assert_int_equal(wc_consistency_check(WC_CL_ALL, &r, 1, 1, true), WC_OK);

    /* larger clusters: the usual arithmetic */
    assert_int_equal(wc_replication_parse("SimpleStrategy:3", &r), WC_OK);
    assert_int_equal(wc_consistency_block_for(WC_CL_QUORUM, &r, 5, false, &bf), WC_OK);
    assert_int_equal(bf, 2);
    assert_int_equal(wc_consistency_block_for(WC_CL_ALL, &r, 5, false, &bf), WC_OK);
    assert_int_equal(bf, 3);
    assert_int_equal(wc_consistency_block_for(WC_CL_THREE, &r, 5, true, &bf), WC_OK);
    assert_int_equal(bf, 3);
    assert_int_equal(wc_consistency_check(WC_CL_QUORUM, &r, 5, 1, true), WC_UNAVAILABLE);
    assert_string_equal(wc_last_error(), "consistency QUORUM needs 2 replicas, 1 alive");
    assert_int_equal(wc_replication_parse("NetworkTopologyStrategy:dc1=3,dc2=2", &r), WC_OK);
    assert_int_equal(wc_consistency_block_for(WC_CL_QUORUM, &r, 10, false, &bf), WC_OK);
    assert_int_equal(bf, 3);
    assert_int_equal(wc_consistency_block_for(WC_CL_EACH_QUORUM, &r, 10, false, &bf), WC_OK);
    assert_int_equal(bf, 4);
    assert_int_equal(wc_consistency_block_for(WC_CL_LOCAL_QUORUM, &r, 10, false, &bf), WC_OK);
    assert_int_equal(bf, 2);
    assert_int_equal(wc_consistency_block_for(WC_CL_ANY, &r, 10, true, &bf), WC_OK);
    assert_int_equal(bf, 1);
}

static void test_replication_text(void **state)
{
    wc_replication r;
    char buf[256];
    size_t n;

    assert_int_equal(wc_replication_parse("{'class': 'SimpleStrategy', 'replication_factor': 3}",
                                          &r),
                     WC_OK);
    assert_int_equal(r.cls, WC_REPL_SIMPLE);
    assert_int_equal(r.replication_factor, 3);
    assert_int_equal(wc_replication_parse("{'class':'org.apache.cassandra.locator.SimpleStrategy',"
                                          "'replication_factor':'2'}",
                                          &r),
                     WC_OK);
    assert_int_equal(r.replication_factor, 2);
    assert_int_equal(wc_replication_parse("{'class': 'networktopologystrategy', 'DC1': 3}", &r),
                     WC_OK);
    assert_int_equal(r.cls, WC_REPL_NETWORK_TOPOLOGY);
    assert_string_equal(r.dcs[0].name, "DC1");
    assert_int_equal(wc_replication_format(&r, buf, sizeof(buf), &n), WC_OK);
    assert_string_equal(buf, "NetworkTopologyStrategy:DC1=3");
    assert_int_equal(n, strlen(buf));
    assert_int_equal(wc_replication_parse(buf, &r), WC_OK);

    static const char *const bad[] = {
        "",
        "{}",
        "{'class': 'SimpleStrategy'}",
        "{'class': 'SimpleStrategy', 'replication_factor': 0}",
        "{'class': 'SimpleStrategy', 'replication_factor': -1}",
        "{'class': 'SimpleStrategy', 'replication_factor': 3, 'dc1': 2}",
        "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}",
        "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc1': 2}",
        "{'class': 'NetworkTopologyStrategy'}",
        "{'class': 'Fancy', 'replication_factor': 3}",
        "{'class': 'SimpleStrategy', 'replication_factor': 3",
        "{'class': 'SimpleStrategy', 'replication_factor': 99999999999}",
        "SimpleStrategy:",
        "SimpleStrategy:3 trailing",
        "NetworkTopologyStrategy:dc1=",
        "{class: 'SimpleStrategy', 'replication_factor': 3}",
        "{\"class\": \"SimpleStrategy\", \"replication_factor\": 3}",
        "{'class': 'NetworkTopologyStrategy', 'd1':1,'d2':1,'d3':1,'d4':1,'d5':1,'d6':1,'d7':1,"
        "'d8':1,'d9':1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wc_replication_parse(bad[i], &r) != WC_INVALID_ARGUMENT)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    wc_replication_default(&r);
    assert_int_equal(wc_replication_format(&r, buf, 5, &n), WC_INVALID_ARGUMENT);
}

/* The replication a typed schema carries, and every way it can be wrong. */
static void test_table_options(void **state)
{
    wc_schema s;
    wc_replication r;
    wc_schema_replica simple = {NULL, 3};
    wc_schema_replica dcs[WC_REPL_MAX_DCS + 1];

    wc_schema_init(&s);
    s.table = "t";
    assert_int_equal(wc_schema_replication(&s, &r), WC_NOT_FOUND);
    s.replication_class = "SimpleStrategy";
    s.nreplicas = 1;
    s.replicas = &simple;
    assert_int_equal(wc_schema_replication(&s, &r), WC_OK);
    assert_int_equal(r.cls, WC_REPL_SIMPLE);
    assert_int_equal(r.replication_factor, 3);
    simple.factor = 0;
    assert_int_equal(wc_schema_replication(&s, &r), WC_INVALID_ARGUMENT);
    simple.dc = "dc1"; /* Simple takes no data centre */
    simple.factor = 1;
    assert_int_equal(wc_schema_replication(&s, &r), WC_INVALID_ARGUMENT);
    s.replication_class = "NetworkTopologyStrategy";
    assert_int_equal(wc_schema_replication(&s, &r), WC_OK);
    assert_int_equal(r.cls, WC_REPL_NETWORK_TOPOLOGY);
    assert_string_equal(r.dcs[0].name, "dc1");
    simple.dc = NULL;
    assert_int_equal(wc_schema_replication(&s, &r), WC_INVALID_ARGUMENT);
    for (int i = 0; i <= WC_REPL_MAX_DCS; i++)
        dcs[i] = (wc_schema_replica){"dcx", 1};
    s.replicas = dcs;
    s.nreplicas = WC_REPL_MAX_DCS + 1;
    assert_int_equal(wc_schema_replication(&s, &r), WC_INVALID_ARGUMENT);
    s.replication_class = "Bogus";
    assert_int_equal(wc_schema_replication(&s, &r), WC_INVALID_ARGUMENT);
}

/* STREAMS: a round trip, and every truncation or a bad flag refused. */
static void test_streams_codec(void **state)
{
    wc_proto_stream in[2], *out = NULL;
    size_t n = 0;
    wc_buf b;

    (void)state;
    memset(in, 0, sizeof(in));
    snprintf(in[0].name, sizeof(in[0].name), "bootstrap-127.0.0.1-7001");
    snprintf(in[0].peer, sizeof(in[0].peer), "127.0.0.1:7001");
    in[0].incoming = true;
    in[0].table_id = 42;
    in[0].ranges_done = 3;
    in[0].ranges_total = 7;
    in[0].bytes = 1u << 20;
    in[0].rows = 12345;
    snprintf(in[0].state, sizeof(in[0].state), "streaming");
    snprintf(in[1].name, sizeof(in[1].name), "served");
    snprintf(in[1].peer, sizeof(in[1].peer), "127.0.0.1:7004");
    snprintf(in[1].state, sizeof(in[1].state), "done");
    wc_buf_init(&b);
    wc_proto_put_streams(&b, in, 2);
    assert_int_equal(wc_proto_get_streams(b.data, b.len, &out, &n), WC_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(&out[0], &in[0], sizeof(in[0]));
    assert_memory_equal(&out[1], &in[1], sizeof(in[1]));
    wc_free(out);
    for (size_t cut = 0; cut < b.len; cut++) {
        assert_int_equal(wc_proto_get_streams(b.data, cut, &out, &n), WC_CORRUPTION);
        assert_null(out);
    }
    b.data[4 + 1 + strlen(in[0].name) + 1 + strlen(in[0].peer)] = 2; /* incoming must be 0 or 1 */
    assert_int_equal(wc_proto_get_streams(b.data, b.len, &out, &n), WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_proto_put_streams(&b, NULL, 0);
    assert_int_equal(wc_proto_get_streams(b.data, b.len, &out, &n), WC_OK);
    assert_int_equal(n, 0);
    wc_buf_free(&b);
}

/* CLEANUP, DECOMMISSION and REMOVENODE bodies round-trip; truncated or extended ones are refused. */
static void test_topology_codec(void **state)
{
    wc_buf b;
    wc_cleanup_result cr = {3, 2, 40, 80, 9000, 4000}, cr2;
    wc_proto_topology_result tr = {12, 2, 345, 67890}, tr2;
    uint8_t id[16], id2[16];
    uint32_t t;

    (void)state;
    wc_buf_init(&b);
    wc_proto_put_cleanup(&b, 77);
    assert_int_equal(wc_proto_get_cleanup(b.data, b.len, &t), WC_OK);
    assert_int_equal(t, 77);
    assert_int_equal(wc_proto_get_cleanup(b.data, b.len - 1, &t), WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_proto_put_cleanup_result(&b, &cr);
    assert_int_equal(wc_proto_get_cleanup_result(b.data, b.len, &cr2), WC_OK);
    assert_memory_equal(&cr, &cr2, sizeof(cr));
    assert_int_equal(wc_proto_get_cleanup_result(b.data, b.len - 1, &cr2), WC_CORRUPTION);
    wc_buf_put_u8(&b, 0);
    assert_int_equal(wc_proto_get_cleanup_result(b.data, b.len, &cr2), WC_CORRUPTION);
    wc_buf_reset(&b);
    wc_proto_put_topology_result(&b, &tr);
    assert_int_equal(wc_proto_get_topology_result(b.data, b.len, &tr2), WC_OK);
    assert_memory_equal(&tr, &tr2, sizeof(tr));
    assert_int_equal(wc_proto_get_topology_result(b.data, b.len - 1, &tr2), WC_CORRUPTION);
    wc_buf_reset(&b);
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(i * 7);
    wc_proto_put_removenode(&b, id);
    assert_int_equal(wc_proto_get_removenode(b.data, b.len, id2), WC_OK);
    assert_memory_equal(id, id2, 16);
    assert_int_equal(wc_proto_get_removenode(b.data, 15, id2), WC_CORRUPTION);
    wc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_codec),
        cmocka_unit_test(test_streams_codec),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_unknown_opcode),
        cmocka_unit_test(test_schema_bodies),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_table_change),
        cmocka_unit_test(test_small_requests),
        cmocka_unit_test(test_read_request),
        cmocka_unit_test(test_read_trace),
        cmocka_unit_test(test_index_read),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_page_collection),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_compaction_stats),
        cmocka_unit_test(test_scrub_result),
        cmocka_unit_test(test_compactions),
        cmocka_unit_test(test_node_info),
        cmocka_unit_test(test_consistency_names),
        cmocka_unit_test(test_consistency_rule),
        cmocka_unit_test(test_replication_text),
        cmocka_unit_test(test_table_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
