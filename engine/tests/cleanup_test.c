/*
 * cleanup_test.c - wc_engine_cleanup: partitions whose token is outside
 * the kept ranges are gone (from SSTables and from the memtable, which is
 * flushed first), the kept ones are whole, the counts say what was
 * dropped, an SSTable inside a kept range is not rewritten, the result
 * survives a reopen, and bad ranges are refused.
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
#include "testutil.h"

#define TID 7u
#define NOW 1700000000
#define NPART 120

static void create(wc_engine *e)
{
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "t");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
}

static void pk_of(int i, char *out, size_t cap) { snprintf(out, cap, "p%d", i); }

static int64_t token_of(int i)
{
    char pk[16];

    pk_of(i, pk, sizeof(pk));
    return wc_token(pk, strlen(pk));
}

/* Two rows in partition i. */
static void put(wc_engine *e, int i)
{
    const uint32_t col = 1;
    const char *vals[1] = {"v"};
    char pk[16];

    pk_of(i, pk, sizeof(pk));
    for (uint64_t ck = 1; ck <= 2; ck++)
        assert_int_equal(wc_test_put(e, TID, pk, ck, (int64_t)NOW * 1000000, 0, NOW, 1, &col,
                                     vals),
                         WC_OK);
}

static long rows_of(wc_engine *e, int i)
{
    char pk[16];

    pk_of(i, pk, sizeof(pk));
    return wc_test_count_rows(e, TID, pk, NOW, NULL);
}

/* Partitions 0..NPART-1 in two SSTables and the memtable. */
static void fill(wc_engine *e)
{
    for (int i = 0; i < NPART; i++) {
        put(e, i);
        if (i == NPART / 3 || i == 2 * NPART / 3)
            assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    }
}

/* Every partition has its two rows if its token is <= 0, none otherwise; returns the dropped. */
static int check_half(wc_engine *e)
{
    int dropped = 0;

    for (int i = 0; i < NPART; i++) {
        bool kept = token_of(i) <= 0;
        assert_int_equal(rows_of(e, i), kept ? 2 : 0);
        dropped += !kept;
    }
    return dropped;
}

static void test_cleanup_drops_unowned(void **state)
{
    char *dir = wc_test_tmpdir("cleanup");
    wc_engine *e;
    wc_cleanup_result r;
    /* tokens <= 0, given as two adjacent ranges that merge */
    wc_token_range keep[2] = {{INT64_MIN / 2, 0}, {INT64_MIN, INT64_MIN / 2}};
    int dropped;

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    create(e);
    fill(e);
    assert_int_equal(wc_engine_cleanup(e, TID, keep, 2, &r), WC_OK);
    dropped = check_half(e);
    assert_true(dropped > 20 && dropped < NPART - 20);
    assert_int_equal(r.sstables_checked, 3); /* the memtable was flushed first */
    assert_int_equal(r.sstables_rewritten, 3);
    assert_int_equal(r.partitions_dropped, (uint64_t)dropped);
    assert_int_equal(r.rows_dropped, 2 * (uint64_t)dropped);
    assert_true(r.bytes_after < r.bytes_before);

    /* again: every file is inside the kept range now, nothing is read */
    assert_int_equal(wc_engine_cleanup(e, TID, keep, 2, &r), WC_OK);
    assert_int_equal(r.sstables_checked, 3);
    assert_int_equal(r.sstables_rewritten, 0);
    assert_int_equal(r.partitions_dropped, 0);

    /* writes go on after a cleanup (to a kept partition); a reopen finds the cleaned files */
    for (int i = 0; i < NPART; i++)
        if (token_of(i) <= 0) {
            put(e, i);
            break;
        }
    wc_engine_close(e);
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    assert_int_equal(check_half(e), dropped);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

static void test_cleanup_keep_all_or_nothing(void **state)
{
    char *dir = wc_test_tmpdir("cleanup2");
    wc_engine *e;
    wc_cleanup_result r;
    wc_token_range all = {INT64_MIN, INT64_MAX};

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    create(e);
    fill(e);
    assert_int_equal(wc_engine_cleanup(e, TID, &all, 1, &r), WC_OK);
    assert_int_equal(r.sstables_rewritten, 0);
    for (int i = 0; i < NPART; i++)
        assert_int_equal(rows_of(e, i), 2);

    /* no kept range: a node that owns nothing drops every flushed row */
    assert_int_equal(wc_engine_cleanup(e, TID, NULL, 0, &r), WC_OK);
    assert_int_equal(r.partitions_dropped, NPART);
    assert_int_equal(wc_test_count_rows(e, TID, NULL, NOW, NULL), 0);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

static void test_cleanup_bad_arguments(void **state)
{
    char *dir = wc_test_tmpdir("cleanup3");
    wc_engine *e;
    wc_token_range bad = {5, 5};

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    create(e);
    put(e, 1);
    assert_int_equal(wc_engine_cleanup(e, TID, &bad, 1, NULL), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_engine_cleanup(e, TID + 1, NULL, 0, NULL), WC_NOT_FOUND);
    assert_int_equal(rows_of(e, 1), 2);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cleanup_drops_unowned),
        cmocka_unit_test(test_cleanup_keep_all_or_nothing),
        cmocka_unit_test(test_cleanup_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
