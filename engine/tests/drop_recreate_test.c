/*
 * drop_recreate_test.c - dropping a table and creating one with the same id
 * while a read still holds the old table's SSTables: when the read lets go,
 * the old files are removed, and only they (never the new table's files).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "engine_int.h"
#include "testutil.h"

#define TID 7u
#define NOW 1700000000

static void create(wc_engine *e)
{
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "t");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
}

static void put(wc_engine *e, const char *pk, uint64_t ck, const char *val)
{
    const uint32_t col = 1;
    const char *vals[1] = {val};

    assert_int_equal(wc_test_put(e, TID, pk, ck, (int64_t)NOW * 1000000, 0, NOW, 1, &col, vals),
                     WC_OK);
}

/* Rows of partition pk (asserting the read succeeds). */
static size_t rows_of(wc_engine *e, const char *pk)
{
    wc_read_request r;
    wc_page *p;
    size_t n;

    memset(&r, 0, sizeof(r));
    r.table_id = TID;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = NOW;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    n = p->nrows;
    wc_page_free(p);
    return n;
}

static int count_sst(void *arg, const char *name)
{
    size_t nl = strlen(name);

    if (nl > 4 && strcmp(name + nl - 4, ".sst") == 0)
        (*(int *)arg)++;
    return 0;
}

/* The SSTable files in the table's directory. */
static int sst_files(const char *dir)
{
    char tdir[4200];
    int n = 0;
    wc_fs *fs = wc_fs_posix();

    snprintf(tdir, sizeof(tdir), "%s/t%u", dir, TID);
    assert_int_equal(fs->list(fs, tdir, count_sst, &n), WC_OK);
    return n;
}

static void test_read_outlives_drop_and_recreate(void **state)
{
    char *dir = wc_test_tmpdir("droprecreate");
    wc_engine *e;
    wc__sources held;

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1u << 20, &e), WC_OK);
    create(e);
    put(e, "old", 1, "o1");
    put(e, "old", 2, "o2");
    assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    assert_int_equal(sst_files(dir), 1);

    /* a read in progress holds the old table's SSTable (what wc_engine_read takes) */
    assert_int_equal(wc__sources_acquire(e, TID, &held), WC_OK);
    assert_int_equal(held.nssts, 1);
    assert_int_equal(wc_engine_drop_table(e, TID), WC_OK);
    assert_int_equal(sst_files(dir), 1); /* kept for the reader */

    /* the same id again, with data flushed while the old file is still there */
    create(e);
    assert_int_equal(rows_of(e, "old"), 0);
    put(e, "new", 1, "n1");
    put(e, "new", 2, "n2");
    put(e, "new", 3, "n3");
    assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    assert_int_equal(sst_files(dir), 2);

    /* the read ends: the old file goes, the new table's file stays */
    wc__sources_release(&held);
    assert_int_equal(sst_files(dir), 1);
    assert_int_equal(rows_of(e, "new"), 3);

    /* and the new table's data survives a restart */
    wc_engine_close(e);
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1u << 20, &e), WC_OK);
    assert_int_equal(rows_of(e, "new"), 3);
    assert_int_equal(rows_of(e, "old"), 0);
    assert_int_equal(sst_files(dir), 1);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/* A recreated table whose old files are all gone starts its SSTables afresh and still works. */
static void test_recreate_after_reads_ended(void **state)
{
    char *dir = wc_test_tmpdir("droprecreate2");
    wc_engine *e;

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1u << 20, &e), WC_OK);
    for (int round = 0; round < 3; round++) {
        create(e);
        assert_int_equal(rows_of(e, "k"), 0);
        put(e, "k", 1, "v");
        assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
        put(e, "k", 2, "v");
        assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
        assert_int_equal(rows_of(e, "k"), 2);
        assert_int_equal(sst_files(dir), 2);
        assert_int_equal(wc_engine_drop_table(e, TID), WC_OK);
    }
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_outlives_drop_and_recreate),
        cmocka_unit_test(test_recreate_after_reads_ended),
    };
    return cmocka_run_group_tests_name("drop_recreate", tests, NULL, NULL);
}
