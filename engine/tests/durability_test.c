/*
 * durability_test.c - what each durable step of the engine promises, checked
 * by a power loss (faultfs power-loss mode) right after the step returned:
 *  - wc_fs_write_atomic: the new content, and during it old or new only;
 *  - wc_sstable_writer_finish: the published file with every entry;
 *  - the commit log in batch mode: every record synced, across segment rolls;
 *  - replay's truncation of a torn tail: still truncated after the next
 *    power loss, so the old segment does not turn into mid-log corruption.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "coding.h"
#include "commitlog.h"
#include "commitlog_format.h"
#include "engine.h"
#include "faultfs.h"
#include "keys.h"
#include "row.h"
#include "sstable.h"
#include "testutil.h"

typedef struct du_env {
    char *root;
    char dir[600];
    wc_faultfs *ff;
    wc_fs *fs;
} du_env;

static void du_setup(du_env *d)
{
    char stash[700];

    memset(d, 0, sizeof(*d));
    d->root = wc_test_tmpdir("durability");
    assert_non_null(d->root);
    snprintf(d->dir, sizeof(d->dir), "%s/data", d->root);
    snprintf(stash, sizeof(stash), "%s/stash", d->root);
    assert_int_equal(mkdir(d->dir, 0700), 0);
    assert_int_equal(mkdir(stash, 0700), 0);
    d->ff = wc_faultfs_new(NULL);
    assert_non_null(d->ff);
    wc_faultfs_power_loss_mode(d->ff, stash, true);
    d->fs = wc_faultfs_fs(d->ff);
}

static void du_power_loss(du_env *d)
{
    wc_faultfs_crash(d->ff);
    wc_faultfs_reset(d->ff);
}

static void du_teardown(du_env *d)
{
    wc_faultfs_free(d->ff);
    wc_test_rmrf(d->root);
    free(d->root);
}

static void du_expect_file(du_env *d, const char *path, const char *want)
{
    uint8_t *data;
    size_t len;

    assert_int_equal(wc_fs_read_all(d->fs, path, 1 << 20, &data, &len), WC_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    wc_free(data);
}

static void test_write_atomic(void **state)
{
    du_env d;
    char path[700];
    uint64_t ops;

    (void)state;
    du_setup(&d);
    snprintf(path, sizeof(path), "%s/catalog", d.dir);
    assert_int_equal(wc_fs_write_atomic(d.fs, path, "old", 3), WC_OK);
    ops = wc_faultfs_op_count(d.ff);
    assert_int_equal(wc_fs_write_atomic(d.fs, path, "new!", 4), WC_OK);
    ops = wc_faultfs_op_count(d.ff) - ops;
    du_power_loss(&d);
    du_expect_file(&d, path, "new!");
    /* a power loss at any step of the replacement leaves the old or the new content */
    for (uint64_t n = 1; n <= ops; n++) {
        uint8_t *data;
        size_t len;

        wc_faultfs_trigger(d.ff, WC_FF_ANY, NULL, n, WC_FF_CRASH_BEFORE, WC_OK, false);
        assert_int_not_equal(wc_fs_write_atomic(d.fs, path, "third", 5), WC_OK);
        wc_faultfs_reset(d.ff);
        assert_int_equal(wc_fs_read_all(d.fs, path, 1 << 20, &data, &len), WC_OK);
        assert_true((len == 4 && memcmp(data, "new!", 4) == 0) ||
                    (len == 5 && memcmp(data, "third", 5) == 0));
        wc_free(data);
        assert_int_equal(wc_fs_write_atomic(d.fs, path, "new!", 4), WC_OK);
    }
    du_teardown(&d);
}

static void test_sstable_publish(void **state)
{
    du_env d;
    char path[700];
    wc_sstable_options o;
    wc_sstable_writer *w;
    wc_sstable *t;
    wc_buf k, v;

    (void)state;
    du_setup(&d);
    snprintf(path, sizeof(path), "%s/1.sst", d.dir);
    wc_sstable_options_default(&o);
    assert_int_equal(wc_sstable_writer_open(d.fs, path, &o, &w), WC_OK);
    wc_buf_init(&k);
    wc_buf_init(&v);
    for (uint64_t i = 0; i < 200; i++) {
        uint8_t ck[8];
        wc_rowb rb;
        wc_cell c = {.column = 1, .ts = 5, .value = (const uint8_t *)"value", .len = 5};

        wc_test_ck(i, ck);
        k.len = v.len = 0;
        wc_key_build(&k, wc_token("pk", 2), "pk", 2, WC_KIND_ROW, ck, 8);
        wc_rowb_begin(&rb, &v);
        wc_rowb_liveness(&rb, 5, 0, 0);
        wc_rowb_cell(&rb, &c);
        assert_true(wc_rowb_end(&rb) > 0);
        assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    }
    wc_buf_free(&k);
    wc_buf_free(&v);
    assert_int_equal(wc_sstable_writer_finish(w, NULL), WC_OK);
    du_power_loss(&d);
    assert_int_equal(wc_sstable_open(d.fs, path, NULL, 1, &t), WC_OK);
    assert_int_equal(wc_sstable_get_stats(t)->rows, 200);
    wc_sstable_unref(t);
    du_teardown(&d);
}

static wc_status du_count(void *arg, wc_clpos pos, const uint8_t *rec, size_t len)
{
    (void)pos;
    (void)rec;
    (void)len;
    (*(int *)arg)++;
    return WC_OK;
}

static wc_status du_log_open(du_env *d, int *replayed, wc_commitlog **cl)
{
    wc_commitlog_options o;

    memset(&o, 0, sizeof(o));
    o.fs = d->fs;
    o.dir = d->dir;
    o.mode = WC_SYNC_BATCH;
    o.segment_size = 256;
    *replayed = 0;
    return wc_commitlog_open(&o, du_count, replayed, cl);
}

static void du_log_append(wc_commitlog *cl, int n)
{
    char rec[64];

    for (int i = 0; i < n; i++) {
        wc_clpos pos;
        int len = snprintf(rec, sizeof(rec), "record %d with some bytes", i);

        assert_int_equal(wc_commitlog_append(cl, (const uint8_t *)rec, (size_t)len, &pos), WC_OK);
        assert_int_equal(wc_commitlog_sync_to(cl, pos), WC_OK);
    }
}

static void test_commitlog_batch(void **state)
{
    du_env d;
    wc_commitlog *cl;
    int replayed;

    (void)state;
    du_setup(&d);
    assert_int_equal(du_log_open(&d, &replayed, &cl), WC_OK);
    du_log_append(cl, 40); /* several segment rolls */
    du_power_loss(&d);
    wc_commitlog_close(cl);
    assert_int_equal(du_log_open(&d, &replayed, &cl), WC_OK);
    assert_int_equal(replayed, 40);
    wc_commitlog_close(cl);
    du_teardown(&d);
}

/* The newest segment file (highest id). */
static int du_newest_cb(void *arg, const char *name)
{
    unsigned long long id;

    if (sscanf(name, "CommitLog-%llu.log", &id) == 1 && id > *(unsigned long long *)arg)
        *(unsigned long long *)arg = id;
    return 0;
}

static void test_torn_tail_truncation(void **state)
{
    du_env d;
    wc_commitlog *cl;
    int replayed;
    unsigned long long id = 0;
    char path[800];
    uint8_t hdr[8], junk[16];
    uint64_t off = WC_CL_HEADER_SIZE;
    wc_file *f;
    size_t got;
    wc_fs *posix = wc_fs_posix();

    (void)state;
    du_setup(&d);
    assert_int_equal(du_log_open(&d, &replayed, &cl), WC_OK);
    du_log_append(cl, 3);
    wc_commitlog_close(cl);
    /* a torn record after the last one of the newest segment */
    posix->list(posix, d.dir, du_newest_cb, &id);
    snprintf(path, sizeof(path), "%s/CommitLog-%llu.log", d.dir, id);
    assert_int_equal(posix->open(posix, path, WC_O_WRITE, &f), WC_OK);
    for (;;) {
        assert_int_equal(posix->pread(f, hdr, 8, off, &got), WC_OK);
        if (got < WC_CL_RECORD_HEADER_SIZE || wc_dec_u32(hdr) == 0)
            break;
        off += WC_CL_RECORD_HEADER_SIZE + wc_dec_u32(hdr);
    }
    memset(junk, 0xab, sizeof(junk));
    assert_int_equal(posix->pwrite(f, junk, sizeof(junk), off), WC_OK);
    posix->close(f);
    /* replay truncates it; new records go to a new segment; then the power goes */
    assert_int_equal(du_log_open(&d, &replayed, &cl), WC_OK);
    assert_int_equal(replayed, 3);
    du_log_append(cl, 2);
    du_power_loss(&d);
    wc_commitlog_close(cl);
    if (du_log_open(&d, &replayed, &cl) != WC_OK)
        fail_msg("the torn tail came back after a power loss: %s", wc_last_error());
    assert_int_equal(replayed, 5);
    wc_commitlog_close(cl);
    du_teardown(&d);
}

/* Open an engine on the fault fs (small blocks, no background compaction). */
static void du_engine_open(du_env *d, wc_engine **e)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = d->dir;
    o.fs = d->fs;
    o.block_bytes = 512;
    o.compaction_threads = 0;
    assert_int_equal(wc_engine_open(&o, e), WC_OK);
}

/*
 * Scrub moves a damaged SSTable into t<id>/quarantine/ and publishes what it
 * salvaged: after a power loss right after it, the damaged file is still
 * in quarantine (a rename across directories is durable only once the
 * directory it entered is synced), and the table serves what was salvaged.
 */
static void test_scrub_quarantine(void **state)
{
    du_env d;
    wc_engine *e;
    wc_table_def def;
    wc_scrub_result res;
    char sst[800], quarantined[800];
    const uint32_t cols[1] = {1};
    const char *vals[1] = {"a value long enough to fill a few blocks of the table"};
    wc_file *f;
    uint64_t size;
    bool there;
    long salvaged;

    (void)state;
    du_setup(&d);
    du_engine_open(&d, &e);
    wc_table_def_default(&def);
    def.id = 7;
    snprintf(def.name, sizeof(def.name), "ks.t7");
    assert_int_equal(wc_engine_create_table(e, &def), WC_OK);
    for (uint64_t i = 0; i < 300; i++)
        assert_int_equal(wc_test_put(e, 7, "a", i, 100, 0, 1700000000, 1, cols, vals), WC_OK);
    assert_int_equal(wc_engine_flush(e, 7, true), WC_OK);
    wc_engine_close(e);
    /* cut the SSTable in half, durably */
    snprintf(sst, sizeof(sst), "%s/t7/1.sst", d.dir);
    snprintf(quarantined, sizeof(quarantined), "%s/t7/quarantine/1.sst", d.dir);
    assert_int_equal(d.fs->open(d.fs, sst, WC_O_WRITE, &f), WC_OK);
    assert_int_equal(d.fs->size(f, &size), WC_OK);
    assert_int_equal(d.fs->truncate(f, size / 2), WC_OK);
    assert_int_equal(d.fs->sync(f), WC_OK);
    d.fs->close(f);

    du_engine_open(&d, &e);
    assert_int_equal(wc_test_count_rows(e, 7, NULL, 1700000000, NULL), -1); /* offline */
    memset(&res, 0, sizeof(res));
    assert_int_equal(wc_engine_scrub(e, 7, &res), WC_OK);
    salvaged = wc_test_count_rows(e, 7, NULL, 1700000000, NULL);
    assert_true(salvaged > 0 && salvaged < 300);
    du_power_loss(&d);
    wc_engine_close(e);

    assert_int_equal(d.fs->exists(d.fs, quarantined, &there), WC_OK);
    if (!there)
        fail_msg("the quarantined SSTable is gone after a power loss");
    du_engine_open(&d, &e);
    assert_int_equal(wc_test_count_rows(e, 7, NULL, 1700000000, NULL), salvaged);
    wc_engine_close(e);
    du_teardown(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_sstable_publish),
        cmocka_unit_test(test_commitlog_batch),
        cmocka_unit_test(test_torn_tail_truncation),
        cmocka_unit_test(test_scrub_quarantine),
    };
    return cmocka_run_group_tests_name("durability", tests, NULL, NULL);
}
