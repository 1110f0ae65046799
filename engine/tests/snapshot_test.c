/*
 * snapshot_test.c - wc_engine_snapshot, _list_snapshots and _clear_snapshot:
 * a snapshot holds the data as of its flush and opens as an engine
 * directory of its own (a restore), later writes to the restored directory
 * survive a restart (its new commit-log segments must sort after the
 * flushed positions its manifests name), tags are checked, and a snapshot
 * reported taken is whole after a power loss (faultfs drops every
 * directory entry not fsynced: links, table directories, snapshots/).
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

#include "alloc.h"
#include "engine.h"
#include "faultfs.h"
#include "testutil.h"

#define TID 9u
#define NOW 1700000000

static void create(wc_engine *e)
{
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "t");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
}

static void put(wc_engine *e, const char *pk, uint64_t ck)
{
    const uint32_t col = 1;
    const char *vals[1] = {"v"};

    assert_int_equal(wc_test_put(e, TID, pk, ck, (int64_t)NOW * 1000000, 0, NOW, 1, &col, vals),
                     WC_OK);
}

static long rows(wc_engine *e) { return wc_test_count_rows(e, TID, NULL, NOW, NULL); }

static void test_snapshot_restore(void **state)
{
    char *dir = wc_test_tmpdir("snap");
    char *rdir = wc_test_tmpdir("snaprestore");
    char cmd[9000];
    wc_engine *e;
    wc_snapshot_info info, *v = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    create(e);
    put(e, "a", 1);
    put(e, "a", 2);
    assert_int_equal(wc_engine_flush(e, 0, true), WC_OK);
    put(e, "b", 1); /* only in the memtable: the snapshot flushes it */
    assert_int_equal(wc_engine_snapshot(e, "s1", &info), WC_OK);
    assert_string_equal(info.tag, "s1");
    assert_int_equal(info.tables, 1);
    assert_true(info.files >= 4); /* catalog, manifest, two SSTables */
    put(e, "c", 1);               /* after the snapshot */
    assert_int_equal(wc_engine_compact(e, TID), WC_OK); /* the live files move on */
    assert_int_equal(rows(e), 4);
    assert_int_equal(wc_engine_list_snapshots(e, &v, &n), WC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].tag, "s1");
    assert_int_equal(v[0].files, info.files);
    wc_free(v);
    wc_engine_close(e);

    /* restore: the snapshot's files in an empty directory, no commit log */
    snprintf(cmd, sizeof(cmd), "cp -a '%s/snapshots/s1/.' '%s/'", dir, rdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(wc_test_open(rdir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    assert_int_equal(rows(e), 3); /* a1, a2, b1: not c1 */
    put(e, "d", 1);
    wc_engine_close(e); /* d is only in the commit log */
    assert_int_equal(wc_test_open(rdir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    assert_int_equal(rows(e), 4); /* d was replayed, not taken as already flushed */
    wc_engine_close(e);
    wc_test_rmrf(dir);
    wc_test_rmrf(rdir);
    free(dir);
    free(rdir);
}

static void test_snapshot_tags(void **state)
{
    char *dir = wc_test_tmpdir("snaptag");
    wc_engine *e;
    wc_snapshot_info *v = NULL;
    size_t n = 0;
    uint32_t removed = 9;

    (void)state;
    assert_int_equal(wc_test_open(dir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    create(e);
    put(e, "a", 1);
    assert_int_equal(wc_engine_snapshot(e, "", NULL), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_engine_snapshot(e, "../x", NULL), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_engine_snapshot(e, ".hidden", NULL), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_engine_snapshot(e, "a", NULL), WC_OK);
    assert_int_equal(wc_engine_snapshot(e, "a", NULL), WC_EXISTS);
    assert_int_equal(wc_engine_snapshot(e, "b-2.x_y", NULL), WC_OK);
    assert_int_equal(wc_engine_list_snapshots(e, &v, &n), WC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].tag, "a");
    assert_string_equal(v[1].tag, "b-2.x_y");
    wc_free(v);
    assert_int_equal(wc_engine_clear_snapshot(e, "nope", &removed), WC_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(wc_engine_clear_snapshot(e, "a", &removed), WC_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(wc_engine_clear_snapshot(e, NULL, &removed), WC_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(wc_engine_list_snapshots(e, &v, &n), WC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(rows(e), 1); /* clearing snapshots leaves the live data alone */
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/*
 * The power goes out right after wc_engine_snapshot returned: every link
 * and directory of the snapshot must be there (each directory fsynced), so
 * the snapshot restores to the rows it was taken of.
 */
static void test_snapshot_survives_power_loss(void **state)
{
    char *root = wc_test_tmpdir("snappl");
    char *rdir = wc_test_tmpdir("snaplrestore");
    char dir[4200], cmd[9000];
    wc_faultfs *ff = wc_faultfs_new_power_loss(root);
    wc_engine_options o;
    wc_engine *e;
    wc_snapshot_info info;

    (void)state;
    assert_non_null(ff);
    snprintf(dir, sizeof(dir), "%s/db", root);
    wc_engine_options_default(&o);
    o.dir = dir;
    o.fs = wc_faultfs_fs(ff);
    o.sync_mode = WC_SYNC_BATCH;
    o.memtable_bytes = 1 << 20;
    o.compaction_threads = 0;
    assert_int_equal(wc_engine_open(&o, &e), WC_OK);
    create(e);
    put(e, "a", 1);
    put(e, "a", 2);
    assert_int_equal(wc_engine_flush(e, 0, true), WC_OK);
    put(e, "b", 1);
    assert_int_equal(wc_engine_snapshot(e, "s1", &info), WC_OK);
    assert_true(info.files >= 4);
    wc_faultfs_crash(ff); /* the snapshot was reported taken */
    wc_engine_close(e);
    wc_faultfs_reset(ff);

    snprintf(cmd, sizeof(cmd), "cp -a '%s/snapshots/s1/.' '%s/'", dir, rdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(wc_test_open(rdir, WC_SYNC_BATCH, 1 << 20, &e), WC_OK);
    assert_int_equal(rows(e), 3); /* catalog, manifest and both SSTables came through */
    wc_engine_close(e);
    wc_faultfs_free(ff);
    wc_test_rmrf(root);
    wc_test_rmrf(rdir);
    free(root);
    free(rdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_restore),
        cmocka_unit_test(test_snapshot_tags),
        cmocka_unit_test(test_snapshot_survives_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
