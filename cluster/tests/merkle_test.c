/*
 * merkle_test.c - Merkle trees of a token range (merkle.h): equal data
 * gives equal trees however it is split into memtables and SSTables; one
 * changed cell, or one tombstone, changes exactly the leaf of its
 * partition; the leaves tile the range; a partition outside the range is
 * refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "keys.h"
#include "merkle.h"
#include "raw.h"
#include "testutil.h"

#define TID 3u
#define NOW 1700000000
#define NPART 300

static wc_engine *open_with_data(char **dir, const char *tag)
{
    wc_engine *e;
    wc_table_def d;
    const uint32_t col = 1;

    *dir = wc_test_tmpdir(tag);
    assert_int_equal(wc_test_open(*dir, WC_SYNC_PERIODIC, 1 << 20, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "t");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int i = 0; i < NPART; i++) {
        char pk[16], val[16];
        const char *vals[1] = {val};
        snprintf(pk, sizeof(pk), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        assert_int_equal(wc_test_put(e, TID, pk, 1, (int64_t)NOW * 1000000, 0, NOW, 1, &col, vals),
                         WC_OK);
    }
    return e;
}

static void close_rm(wc_engine *e, char *dir)
{
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/* The tree of (start, end] from e's raw read of it (end > start: no wrap). */
static void tree_of(wc_engine *e, int64_t start, int64_t end, wc_merkle *m)
{
    wc_store_read r;
    wc_buf raw;
    uint8_t dig[WC_RAW_DIGEST_LEN];

    memset(&r, 0, sizeof(r));
    r.table_id = TID;
    r.token_range = true;
    r.token_start = start;
    r.token_end = end;
    r.start.unbounded = r.end.unbounded = true;
    r.include_static = true;
    r.now_sec = NOW;
    wc_buf_init(&raw);
    assert_int_equal(wc_engine_read_raw(e, &r, &raw, dig), WC_OK);
    wc_merkle_init(m, start == INT64_MIN ? end : start, end);
    assert_int_equal(wc_merkle_add_raw(m, raw.data, raw.len), WC_OK);
    wc_buf_free(&raw);
}

static void put_one(wc_engine *e, const char *pk, int64_t ts, const char *val)
{
    const uint32_t col = 1;
    const char *vals[1] = {val};

    assert_int_equal(wc_test_put(e, TID, pk, 1, ts, 0, NOW, 1, &col, vals), WC_OK);
}

static void test_equal_data_equal_trees(void **state)
{
    char *da, *db;
    wc_engine *a = open_with_data(&da, "mka"), *b = open_with_data(&db, "mkb");
    static wc_merkle ta, tb;
    bool differs[WC_MERKLE_LEAVES];

    (void)state;
    assert_int_equal(wc_engine_flush(a, 0, true), WC_OK); /* a: SSTables, b: memtable */
    tree_of(a, INT64_MIN, INT64_MAX, &ta);
    tree_of(b, INT64_MIN, INT64_MAX, &tb);
    assert_int_equal(ta.partitions, NPART);
    assert_true(wc_merkle_root(&ta) == wc_merkle_root(&tb));
    memset(differs, 0, sizeof(differs));
    assert_int_equal(wc_merkle_diff(&ta, &tb, differs), 0);
    close_rm(a, da);
    close_rm(b, db);
}

static void check_one_leaf(wc_engine *a, wc_engine *b, const char *pk)
{
    static wc_merkle ta, tb;
    bool differs[WC_MERKLE_LEAVES];

    tree_of(a, INT64_MIN, INT64_MAX, &ta);
    tree_of(b, INT64_MIN, INT64_MAX, &tb);
    assert_true(wc_merkle_root(&ta) != wc_merkle_root(&tb));
    memset(differs, 0, sizeof(differs));
    assert_int_equal(wc_merkle_diff(&ta, &tb, differs), 1);
    assert_true(differs[wc_merkle_leaf_of(&ta, wc_token(pk, strlen(pk)))]);
    /* a second comparison marks nothing new */
    assert_int_equal(wc_merkle_diff(&ta, &tb, differs), 0);
}

static void test_changed_cell(void **state)
{
    char *da, *db;
    wc_engine *a = open_with_data(&da, "mkc"), *b = open_with_data(&db, "mkd");

    (void)state;
    put_one(b, "k17", (int64_t)NOW * 1000000 + 1, "other"); /* newer value */
    check_one_leaf(a, b, "k17");
    close_rm(a, da);
    close_rm(b, db);
}

static void test_tombstone(void **state)
{
    char *da, *db;
    wc_engine *a = open_with_data(&da, "mke"), *b = open_with_data(&db, "mkf");

    (void)state;
    put_one(b, "k42", (int64_t)NOW * 1000000 + 1, NULL); /* a cell tombstone */
    check_one_leaf(a, b, "k42");
    close_rm(a, da);
    close_rm(b, db);
}

static void test_leaves_tile_the_range(void **state)
{
    static const int64_t ranges[][2] = {
        {-1000, 5000}, {INT64_MAX - 10, INT64_MIN + 5000}, {7, 7}, {100, 300}, {INT64_MIN, 0}};
    static wc_merkle m;

    (void)state;
    for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
        int64_t prev_hi = ranges[k][0], lo, hi;
        wc_merkle_init(&m, ranges[k][0], ranges[k][1]);
        for (uint32_t i = 0; i < WC_MERKLE_LEAVES; i++) {
            bool nonempty = wc_merkle_leaf_range(&m, i, &lo, &hi);
            assert_true(lo == prev_hi);
            if (nonempty) {
                assert_int_equal(wc_merkle_leaf_of(&m, hi), i);
                assert_int_equal(wc_merkle_leaf_of(&m, (int64_t)((uint64_t)lo + 1)), i);
                assert_true(wc_merkle_covers(&m, hi));
            } else
                assert_true(lo == hi);
            prev_hi = hi;
        }
        assert_true(prev_hi == ranges[k][1]);
    }
    wc_merkle_init(&m, 100, 300);
    assert_false(wc_merkle_covers(&m, 100));
    assert_false(wc_merkle_covers(&m, 301));
}

static void test_partition_outside_range(void **state)
{
    char *da;
    wc_engine *a = open_with_data(&da, "mkg");
    wc_store_read r;
    wc_buf raw;
    uint8_t dig[WC_RAW_DIGEST_LEN];
    static wc_merkle m;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.table_id = TID;
    r.token_range = true;
    r.token_start = INT64_MIN;
    r.token_end = INT64_MAX;
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = NOW;
    wc_buf_init(&raw);
    assert_int_equal(wc_engine_read_raw(a, &r, &raw, dig), WC_OK);
    wc_merkle_init(&m, 0, 1000); /* the read holds tokens far outside it */
    assert_int_equal(wc_merkle_add_raw(&m, raw.data, raw.len), WC_CORRUPTION);
    assert_int_equal(wc_merkle_add_raw(&m, raw.data, raw.len / 2), WC_CORRUPTION);
    wc_buf_free(&raw);
    close_rm(a, da);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_data_equal_trees),
        cmocka_unit_test(test_changed_cell),
        cmocka_unit_test(test_tombstone),
        cmocka_unit_test(test_leaves_tile_the_range),
        cmocka_unit_test(test_partition_outside_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
