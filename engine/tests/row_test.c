/*
 * row_test.c - row and header blobs: round trip, reconciliation, validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "keys.h"
#include "collection.h"
#include "counter.h"
#include "row.h"

static wc_cell cell(uint32_t col, int64_t ts, const char *v)
{
    wc_cell c = {.column = col, .ts = ts};
    if (v) {
        c.value = (const uint8_t *)v;
        c.len = strlen(v);
    } else {
        c.flags = WC_CELLF_TOMBSTONE;
        c.ldt = 1000;
    }
    return c;
}

/* Build a row with optional liveness ts (0 = none) and cells. */
static void build(wc_buf *b, int64_t live, int64_t del, const wc_cell *cells, int n)
{
    wc_rowb rb;
    wc_rowb_begin(&rb, b);
    if (live)
        wc_rowb_liveness(&rb, live, 0, 0);
    if (del)
        wc_rowb_deletion(&rb, del, 500);
    for (int i = 0; i < n; i++)
        wc_rowb_cell(&rb, &cells[i]);
    assert_true(wc_rowb_end(&rb) > 0);
}

static void test_roundtrip(void **state)
{
    wc_buf b;
    wc_row_view v;
    wc_cell c;
    wc_cell in[3] = {cell(1, 100, "alpha"), cell(4, 90, NULL), cell(9, 100, "")};

    in[2].flags = WC_CELLF_EXPIRING;
    in[2].ttl = 60;
    in[2].ldt = 2000;
    wc_buf_init(&b);
    build(&b, 100, 0, in, 3);
    assert_true(wc_row_validate(b.data, b.len));
    assert_true(wc_row_parse(b.data, b.len, &v));
    assert_int_equal(v.flags, WC_ROWF_LIVENESS);
    assert_int_equal(v.live_ts, 100);
    assert_int_equal(v.ncells, 3);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 1);
    assert_int_equal(c.ts, 100);
    assert_memory_equal(c.value, "alpha", 5);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 4);
    assert_int_equal(c.flags, WC_CELLF_TOMBSTONE);
    assert_int_equal(c.ts, 90);
    assert_int_equal(c.ldt, 1000);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 9);
    assert_int_equal(c.flags, WC_CELLF_EXPIRING);
    assert_int_equal(c.ttl, 60);
    assert_int_equal(c.ldt, 2000);
    assert_int_equal(c.len, 0);
    assert_int_equal(wc_row_next_cell(&v, &c), 0);
    wc_buf_free(&b);
}

static void test_malformed(void **state)
{
    wc_buf b;
    wc_cell in[2] = {cell(1, 100, "alpha"), cell(2, 50, "beta")};

    wc_buf_init(&b);
    build(&b, 100, 0, in, 2);
    /* every truncation is rejected */
    for (size_t n = 0; n < b.len; n++)
        assert_false(wc_row_validate(b.data, n));
    /* trailing garbage is rejected */
    wc_buf_put_u8(&b, 7);
    assert_false(wc_row_validate(b.data, b.len));
    b.len--;
    /* unknown flag bits are rejected */
    b.data[0] |= 0x80;
    assert_false(wc_row_validate(b.data, b.len));
    b.data[0] &= 0x7f;
    assert_true(wc_row_validate(b.data, b.len));
    /* a huge cell count does not pass */
    {
        uint8_t bad[] = {0, 0xff, 0xff, 0xff, 0x0f};
        assert_false(wc_row_validate(bad, sizeof(bad)));
    }
    wc_buf_free(&b);
}

/*
 * One validating walk reports the flags of every cell (the write path
 * refuses a staged counter delta by them), and the memtable's minimum
 * timestamp, which walks a validated row again without its checks, still
 * sees every timestamp (explicit, the row's deletion, a collection's
 * oldest element).
 */
static void test_flags_and_min_timestamp(void **state)
{
    wc_buf b, coll;
    wc_collb cb;
    wc_coll_elem el = {.key = (const uint8_t *)"k1", .key_len = 2, .ts = 20,
                       .value = (const uint8_t *)"v", .len = 1};
    wc_cell in[4] = {cell(1, 100, "alpha"), cell(2, 50, "beta"), cell(4, 90, NULL),
                     cell(9, 70, "")};
    uint8_t flags = 0xff;

    in[3].flags = WC_CELLF_EXPIRING;
    in[3].ttl = 60;
    in[3].ldt = 2000;
    wc_buf_init(&b);
    build(&b, 100, 0, in, 4);
    assert_true(wc_row_validate_flags(b.data, b.len, &flags));
    assert_int_equal(flags, WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING);
    assert_int_equal(wc_blob_min_timestamp(WC_KIND_ROW, b.data, b.len), 50);
    wc_buf_reset(&b);
    build(&b, 100, 30, in, 1);
    assert_int_equal(wc_blob_min_timestamp(WC_KIND_ROW, b.data, b.len), 30);

    /* a counter delta cell */
    {
        uint8_t v[WC_COUNTER_DELTA_LEN] = {0};
        wc_cell d = {.column = 3, .flags = WC_CELLF_COUNTER_DELTA, .ts = 60, .value = v,
                     .len = sizeof(v)};

        wc_buf_reset(&b);
        build(&b, 0, 0, &d, 1);
        assert_true(wc_row_validate_flags(b.data, b.len, &flags));
        assert_int_equal(flags, WC_CELLF_COUNTER_DELTA);
        assert_int_equal(wc_blob_min_timestamp(WC_KIND_ROW, b.data, b.len), 60);
        b.data[b.len - 1] = 0; /* still the layout, no longer a valid row: refused */
        b.len--;
        assert_false(wc_row_validate_flags(b.data, b.len, &flags));
    }

    /* a collection cell: its timestamp is its newest element's, its oldest counts */
    wc_buf_init(&coll);
    wc_collb_begin(&cb, &coll);
    wc_collb_elem(&cb, &el);
    el.key = (const uint8_t *)"k2";
    el.ts = 80;
    wc_collb_elem(&cb, &el);
    assert_true(wc_collb_end(&cb) > 0);
    {
        wc_cell c = {.column = 5, .flags = WC_CELLF_COLLECTION, .ts = 80, .value = coll.data,
                     .len = coll.len};

        wc_buf_reset(&b);
        build(&b, 100, 0, &c, 1);
        assert_true(wc_row_validate_flags(b.data, b.len, &flags));
        assert_int_equal(flags, WC_CELLF_COLLECTION);
        assert_int_equal(wc_blob_min_timestamp(WC_KIND_ROW, b.data, b.len), 20);
    }
    wc_buf_free(&coll);
    wc_buf_free(&b);
}

static void test_merge_lww(void **state)
{
    wc_buf a, b, out;
    wc_row_view v;
    wc_cell c;
    wc_cell ca[2] = {cell(1, 100, "old"), cell(2, 300, "keep")};
    wc_cell cb[2] = {cell(1, 200, "new"), cell(3, 50, "three")};

    wc_buf_init(&a);
    wc_buf_init(&b);
    wc_buf_init(&out);
    build(&a, 100, 0, ca, 2);
    build(&b, 0, 0, cb, 2);
    assert_int_equal(wc_row_merge(a.data, a.len, b.data, b.len, &out), WC_OK);
    assert_true(wc_row_parse(out.data, out.len, &v));
    assert_int_equal(v.live_ts, 100);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 1);
    assert_memory_equal(c.value, "new", 3);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 2);
    assert_memory_equal(c.value, "keep", 4);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 3);
    assert_int_equal(wc_row_next_cell(&v, &c), 0);
    /* merge is commutative */
    {
        wc_buf out2;
        wc_buf_init(&out2);
        assert_int_equal(wc_row_merge(b.data, b.len, a.data, a.len, &out2), WC_OK);
        assert_int_equal(out.len, out2.len);
        assert_memory_equal(out.data, out2.data, out.len);
        wc_buf_free(&out2);
    }
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&out);
}

static void test_merge_ties_and_deletion(void **state)
{
    wc_cell live = cell(1, 100, "x"), tomb = cell(1, 100, NULL);
    wc_cell small = cell(1, 100, "a"), big = cell(1, 100, "b");
    wc_cell exp = cell(1, 100, "a");
    wc_buf a, b, out;
    wc_row_view v;
    wc_cell c;
    wc_cell ca[2] = {cell(1, 100, "old"), cell(2, 300, "new")};

    exp.flags = WC_CELLF_EXPIRING;
    exp.ldt = 5000;
    exp.ttl = 10;
    /* tie: tombstone wins over live */
    assert_true(wc_cell_reconcile(&tomb, &live) > 0);
    assert_true(wc_cell_reconcile(&live, &tomb) < 0);
    /* tie between live values: greater value wins */
    assert_true(wc_cell_reconcile(&big, &small) > 0);
    /* tie: expiring beats non-expiring */
    assert_true(wc_cell_reconcile(&exp, &small) > 0);
    assert_int_equal(wc_cell_reconcile(&small, &small), 0);

    /* a row deletion at 200 drops the cell at 100 and the liveness at 100 */
    wc_buf_init(&a);
    wc_buf_init(&b);
    wc_buf_init(&out);
    build(&a, 100, 0, ca, 2);
    build(&b, 0, 200, NULL, 0);
    assert_int_equal(wc_row_merge(a.data, a.len, b.data, b.len, &out), WC_OK);
    assert_true(wc_row_parse(out.data, out.len, &v));
    assert_int_equal(v.flags, WC_ROWF_DELETED);
    assert_int_equal(v.del_ts, 200);
    assert_int_equal(v.ncells, 1);
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.column, 2);
    assert_int_equal(c.ts, 300);
    /* liveness helper */
    assert_true(wc_cell_is_live(&c, 200, 0));
    assert_false(wc_cell_is_live(&c, 300, 0));
    assert_false(wc_cell_is_live(&exp, WC_NO_TIMESTAMP, 5000));
    assert_true(wc_cell_is_live(&exp, WC_NO_TIMESTAMP, 4999));
    /* malformed input to merge is corruption */
    assert_int_equal(wc_row_merge(a.data, a.len - 1, b.data, b.len, &out), WC_CORRUPTION);
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&out);
}

static void test_header(void **state)
{
    wc_buf a, b, out;
    wc_header_view v;
    wc_range_tombstone rt, rts[2];
    uint8_t k1[] = {1}, k3[] = {3}, k5[] = {5};

    memset(rts, 0, sizeof(rts));
    rts[0].bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL;
    rts[0].start = k1;
    rts[0].start_len = 1;
    rts[0].end = k3;
    rts[0].end_len = 1;
    rts[0].ts = 50;
    rts[1].bflags = WC_BOUND_START_UNBOUNDED;
    rts[1].end = k5;
    rts[1].end_len = 1;
    rts[1].ts = 150;
    wc_buf_init(&a);
    wc_buf_init(&b);
    wc_buf_init(&out);
    wc_header_build(&a, false, 0, 0, rts, 2);
    wc_header_build(&b, true, 100, 7, NULL, 0);
    assert_true(wc_header_validate(a.data, a.len));
    for (size_t n = 0; n < a.len; n++)
        assert_false(wc_header_validate(a.data, n));
    assert_int_equal(wc_header_merge(a.data, a.len, b.data, b.len, &out), WC_OK);
    assert_true(wc_header_parse(out.data, out.len, &v));
    assert_int_equal(v.flags, WC_HDRF_PARTITION_DELETED);
    assert_int_equal(v.pdel_ts, 100);
    assert_int_equal(v.nrt, 1); /* the rt at 50 is shadowed by the partition deletion */
    assert_int_equal(wc_header_next_rt(&v, &rt), 1);
    assert_int_equal(rt.ts, 150);
    assert_true(wc_rt_covers(&rt, k1, 1));
    assert_true(wc_rt_covers(&rt, k3, 1));
    assert_false(wc_rt_covers(&rt, k5, 1)); /* end exclusive */
    assert_true(wc_rt_covers(&rts[0], k1, 1));
    assert_true(wc_rt_covers(&rts[0], k3, 1));
    assert_false(wc_rt_covers(&rts[0], k5, 1));
    assert_int_equal(wc_header_next_rt(&v, &rt), 0);
    /* prefix semantics: an inclusive end {1} covers {1,9}; an exclusive start {1} does not */
    {
        uint8_t k19[] = {1, 9}, k2[] = {2};
        wc_range_tombstone p = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL,
                                .start = k1, .start_len = 1, .end = k1, .end_len = 1};
        assert_true(wc_rt_covers(&p, k19, 2));
        assert_false(wc_rt_covers(&p, k2, 1));
        p.bflags = WC_BOUND_END_INCL;
        p.end = k2;
        assert_false(wc_rt_covers(&p, k19, 2));
        assert_true(wc_rt_covers(&p, k2, 1));
        p.bflags = WC_BOUND_START_INCL;
        assert_false(wc_rt_covers(&p, k2, 1));
        assert_true(wc_rt_covers(&p, k19, 2));
    }
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&out);
}

static void test_keys(void **state)
{
    wc_buf b;
    wc_key_parts kp;
    uint8_t t1[8], t2[8];

    wc_buf_init(&b);
    wc_key_build(&b, -5, "dev1", 4, WC_KIND_ROW, "ck", 2);
    assert_true(wc_key_parse(b.data, b.len, &kp));
    assert_int_equal(kp.token, -5);
    assert_int_equal(kp.pk_len, 4);
    assert_memory_equal(kp.pk, "dev1", 4);
    assert_int_equal(kp.kind, WC_KIND_ROW);
    assert_int_equal(kp.ck_len, 2);
    assert_int_equal(wc_key_partition_prefix(b.data, b.len), 14);
    assert_false(wc_key_parse(b.data, 5, &kp));
    /* signed token order is memcmp order */
    wc_token_encode(t1, -1);
    wc_token_encode(t2, 1);
    assert_true(memcmp(t1, t2, 8) < 0);
    wc_token_encode(t1, INT64_MIN);
    wc_token_encode(t2, INT64_MAX);
    assert_true(memcmp(t1, t2, 8) < 0);
    assert_int_equal(wc_token_decode(t1), INT64_MIN);
    assert_int_equal(wc_token("abc", 3), wc_token("abc", 3));
    assert_true(wc_token("abc", 3) != wc_token("abd", 3));
    wc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_flags_and_min_timestamp),
        cmocka_unit_test(test_merge_lww),
        cmocka_unit_test(test_merge_ties_and_deletion),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests_name("row", tests, NULL, NULL);
}
