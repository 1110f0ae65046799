/*
 * recovery_test.c - damaged files at the engine level: a damaged SSTable
 * takes only its table offline (disk_failure_policy), wc_engine_scrub
 * salvages what is readable and quarantines the damaged file, a damaged
 * SSTable found at run time (by a read or a compaction) does the same as at
 * open (and under the stop policy halts every write until the scrub), and a
 * damaged older commit-log segment fails open unless
 * commitlog_ignore_replay_errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "testutil.h"

#define T1 1
#define T2 2
#define NOW 1700000000u

static const uint32_t COLS[1] = {1};

typedef struct fx {
    char *dir;
    wc_engine *e;
    wc_engine_options o;
} fx;

static wc_status fx_open(fx *f)
{
    return wc_engine_open(&f->o, &f->e);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    wc_table_def d;

    f->dir = wc_test_tmpdir("recovery");
    if (f == NULL || f->dir == NULL)
        return -1;
    wc_engine_options_default(&f->o);
    f->o.dir = f->dir;
    f->o.segment_bytes = 64u << 10;
    f->o.block_bytes = 512;
    f->o.compaction_threads = 0;
    if (fx_open(f) != WC_OK)
        return -1;
    for (uint32_t id = T1; id <= T2; id++) {
        wc_table_def_default(&d);
        d.id = id;
        snprintf(d.name, sizeof(d.name), "ks.t%u", id);
        if (wc_engine_create_table(f->e, &d) != WC_OK)
            return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    wc_engine_close(f->e);
    wc_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void put_rows(fx *f, uint32_t table, const char *pk, uint64_t from, uint64_t n)
{
    const char *vals[1] = {"a value long enough to fill a few blocks of the table"};

    for (uint64_t i = from; i < from + n; i++)
        assert_int_equal(wc_test_put(f->e, table, pk, i, 100, 0, NOW, 1, COLS, vals), WC_OK);
}

static void sst_path(fx *f, uint32_t table, uint64_t gen, char *out, size_t n)
{
    snprintf(out, n, "%s/t%u/%llu.sst", f->dir, table, (unsigned long long)gen);
}

static uint64_t size_of(const char *p)
{
    struct stat st;

    assert_int_equal(stat(p, &st), 0);
    return (uint64_t)st.st_size;
}

/* XOR one byte of a file. */
static void flip_byte(const char *path, long off, int mask)
{
    FILE *fp = fopen(path, "r+b");
    int c;

    assert_non_null(fp);
    fseek(fp, off, SEEK_SET);
    c = fgetc(fp);
    fseek(fp, off, SEEK_SET);
    fputc(c ^ mask, fp);
    fclose(fp);
}

/* T1: gen 1 holds ck 0..299 of "a", gen 2 ck 0..99 of "b"; T2: 50 rows.  Left open, unread. */
static void two_sstables_open(fx *f)
{
    put_rows(f, T1, "a", 0, 300);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put_rows(f, T1, "b", 0, 100);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put_rows(f, T2, "z", 0, 50);
    assert_int_equal(wc_engine_flush(f->e, T2, true), WC_OK);
}

/* The same, closed. */
static void two_sstables_and_close(fx *f)
{
    two_sstables_open(f);
    wc_engine_close(f->e);
    f->e = NULL;
}

static void test_truncated_sstable_takes_only_its_table_offline(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200], q[1300];
    long n;

    two_sstables_and_close(f);
    sst_path(f, T1, 1, p, sizeof(p));
    assert_int_equal(truncate(p, (off_t)(size_of(p) / 2)), 0);

    /* policy stop: the engine refuses to open, as before */
    f->o.disk_failure_policy = WC_DISK_FAILURE_STOP;
    assert_int_equal(fx_open(f), WC_CORRUPTION);
    assert_null(f->e);

    /* best effort (the default): the node opens, the other table serves */
    f->o.disk_failure_policy = WC_DISK_FAILURE_BEST_EFFORT;
    assert_int_equal(fx_open(f), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    assert_int_equal(st, WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), p));
    assert_non_null(strstr(wc_last_error(), "offline"));
    assert_non_null(strstr(wc_last_error(), "scrub"));
    /* writes are accepted while it is offline, and survive a restart */
    put_rows(f, T1, "c", 0, 10);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_CORRUPTION);
    wc_engine_close(f->e);
    f->e = NULL;
    assert_int_equal(fx_open(f), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    assert_true(access(p, F_OK) == 0); /* still listed, never deleted */

    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_true(res.was_offline);
    assert_int_equal(res.sstables_damaged, 1);
    assert_int_equal(res.sstables_rewritten, 1);
    assert_true(res.rows_salvaged > 0 && res.rows_salvaged < 300);
    assert_true(res.bytes_lost > 0);
    snprintf(q, sizeof(q), "%s/t%u/quarantine/1.sst", f->dir, T1);
    assert_non_null(strstr(res.quarantined, q));
    assert_true(access(q, F_OK) == 0);
    assert_true(access(p, F_OK) != 0);
    n = wc_test_count_rows(f->e, T1, NULL, NOW, &st);
    assert_int_equal(st, WC_OK);
    assert_int_equal(n, (long)res.rows_salvaged + 100 + 10);
    assert_int_equal((long)res.rows_kept, n);

    /* it stays online across a restart, and a second scrub finds nothing */
    wc_engine_close(f->e);
    f->e = NULL;
    assert_int_equal(fx_open(f), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), n);
    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_false(res.was_offline);
    assert_int_equal(res.sstables_damaged, 0);
    assert_int_equal((long)res.rows_kept, n);

    /* dropping the table removes its quarantine directory with it */
    assert_int_equal(wc_engine_drop_table(f->e, T1), WC_OK);
    snprintf(q, sizeof(q), "%s/t%u", f->dir, T1);
    assert_true(access(q, F_OK) != 0);
}

static void test_bad_block_is_skipped_by_scrub(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200];

    two_sstables_and_close(f);
    sst_path(f, T1, 1, p, sizeof(p));
    flip_byte(p, 20, 0x5a); /* inside the first data block */

    assert_int_equal(fx_open(f), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    assert_int_equal(st, WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), p));
    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_true(res.was_offline); /* the failed read took it offline */
    assert_int_equal(res.sstables_damaged, 1);
    assert_int_equal(res.blocks_lost, 1);
    assert_true(res.rows_salvaged > 200 && res.rows_salvaged < 300);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), (long)res.rows_salvaged + 100);
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);
}

/* The failure just reported is the offline error of T1 naming file p. */
static void expect_offline_error(const char *p)
{
    assert_non_null(strstr(wc_last_error(), p));
    assert_non_null(strstr(wc_last_error(), "offline"));
    assert_non_null(strstr(wc_last_error(), "scrub"));
}

static void expect_background_error(fx *f, const char *what)
{
    wc_engine_stats es;

    wc_engine_get_stats(f->e, &es);
    if (what == NULL) {
        assert_int_equal(es.background_status, WC_OK);
        assert_string_equal(es.background_error, "");
        return;
    }
    assert_int_equal(es.background_status, WC_CORRUPTION);
    assert_non_null(strstr(es.background_error, what));
}

/* Number of *.sst files directly in table's directory. */
static int count_ssts(fx *f, uint32_t table)
{
    char dir[1200];
    DIR *d;
    struct dirent *de;
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/t%u", f->dir, table);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".sst") != NULL)
            n++;
    closedir(d);
    return n;
}

/* two_sstables_open, then a bad byte in the first data block of T1's gen 1 (its path in p). */
static void bad_block_under_open_engine(fx *f, char *p, size_t n)
{
    two_sstables_open(f);
    sst_path(f, T1, 1, p, n);
    flip_byte(p, 20, 0x5a);
}

static void test_bad_block_at_run_time_takes_table_offline(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200];
    wc_table_stats ts;
    long n;

    bad_block_under_open_engine(f, p, sizeof(p));

    /* the read that meets the block fails naming the file, and the table goes offline:
     * a read of partition a, which only the damaged SSTable holds (the other one is
     * skipped by its bloom filter and the memtables are empty, so the damaged source
     * is the read's only one) */
    assert_int_equal(wc_test_count_rows(f->e, T1, "a", NOW, &st), -1);
    assert_int_equal(st, WC_CORRUPTION);
    expect_offline_error(p);
    /* every later read of the table fails the same way, even one the bad block is not in */
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    assert_int_equal(st, WC_CORRUPTION);
    expect_offline_error(p);
    assert_int_equal(wc_test_count_rows(f->e, T1, "b", NOW, &st), -1);
    assert_int_equal(st, WC_CORRUPTION);
    expect_offline_error(p);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_CORRUPTION);
    expect_background_error(f, p);
    assert_int_equal(wc_engine_table_stats(f->e, T1, &ts), WC_OK);
    assert_non_null(strstr(ts.offline, p));
    assert_int_equal(wc_engine_table_stats(f->e, T2, &ts), WC_OK);
    assert_string_equal(ts.offline, "");
    /* the other table serves and takes writes; the offline one still takes writes */
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);
    put_rows(f, T2, "z", 50, 5);
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 55);
    put_rows(f, T1, "c", 0, 10);

    /* scrub brings it back with what is readable */
    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_true(res.was_offline);
    assert_int_equal(res.sstables_damaged, 1);
    assert_int_equal(res.blocks_lost, 1);
    assert_true(res.rows_salvaged > 200 && res.rows_salvaged < 300);
    n = wc_test_count_rows(f->e, T1, NULL, NOW, &st);
    assert_int_equal(st, WC_OK);
    assert_int_equal(n, (long)res.rows_salvaged + 100 + 10);
    assert_int_equal(wc_test_count_rows(f->e, T1, "b", NOW, &st), 100);
    expect_background_error(f, NULL);
    assert_int_equal(wc_engine_table_stats(f->e, T1, &ts), WC_OK);
    assert_string_equal(ts.offline, "");
}

static void test_truncated_sstable_at_run_time(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200];

    two_sstables_open(f);
    sst_path(f, T1, 1, p, sizeof(p));
    assert_int_equal(truncate(p, (off_t)(size_of(p) / 2)), 0); /* under the open engine */

    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    assert_int_equal(st, WC_CORRUPTION);
    expect_offline_error(p);
    assert_int_equal(wc_test_count_rows(f->e, T1, "b", NOW, &st), -1);
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);

    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_true(res.was_offline);
    assert_int_equal(res.sstables_damaged, 1);
    assert_true(res.rows_salvaged > 0 && res.rows_salvaged < 300);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), (long)res.rows_salvaged + 100);
}

static void test_bad_block_found_by_compaction(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200];

    bad_block_under_open_engine(f, p, sizeof(p));

    /* the compaction fails naming the file, writes nothing, and the table goes offline */
    assert_int_equal(wc_engine_compact(f->e, T1), WC_CORRUPTION);
    expect_offline_error(p);
    assert_int_equal(count_ssts(f, T1), 2);
    assert_int_equal(wc_test_count_rows(f->e, T1, "b", NOW, &st), -1);
    expect_offline_error(p);
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);

    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_true(res.was_offline);
    assert_int_equal(res.sstables_damaged, 1);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), (long)res.rows_salvaged + 100);
    /* compaction works again once the damaged file is gone */
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), (long)res.rows_salvaged + 100);
}

static void test_bad_block_at_run_time_under_stop_policy(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200];
    const char *vals[1] = {"v"};

    wc_engine_close(f->e);
    f->o.disk_failure_policy = WC_DISK_FAILURE_STOP;
    assert_int_equal(fx_open(f), WC_OK);
    bad_block_under_open_engine(f, p, sizeof(p));

    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    expect_offline_error(p);
    /* every write of the node stops, naming the file; reads of other tables go on */
    assert_int_equal(wc_test_put(f->e, T2, "z", 99, 100, 0, NOW, 1, COLS, vals), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "writes are stopped"));
    assert_non_null(strstr(wc_last_error(), p));
    assert_int_equal(wc_test_put(f->e, T1, "a", 99, 100, 0, NOW, 1, COLS, vals), WC_CORRUPTION);
    expect_background_error(f, "writes are stopped");
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);

    /* scrubbing the table resumes writes */
    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_int_equal(res.sstables_damaged, 1);
    assert_int_equal(wc_test_put(f->e, T2, "z", 99, 100, 0, NOW, 1, COLS, vals), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 51);
    expect_background_error(f, NULL);
}

static void test_damaged_manifest_takes_table_offline(void **state)
{
    fx *f = *state;
    wc_scrub_result res;
    wc_status st;
    char p[1200];

    two_sstables_and_close(f);
    snprintf(p, sizeof(p), "%s/t%u/manifest", f->dir, T1);
    flip_byte(p, 10, 0xee);
    assert_int_equal(fx_open(f), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), -1);
    assert_non_null(strstr(wc_last_error(), "manifest"));
    assert_int_equal(wc_test_count_rows(f->e, T2, NULL, NOW, &st), 50);
    /* both files are intact: scrub puts them back, nothing quarantined */
    assert_int_equal(wc_engine_scrub(f->e, T1, &res), WC_OK);
    assert_int_equal(res.sstables_damaged, 2);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), 400);
}

static void test_damaged_older_commitlog_segment(void **state)
{
    fx *f = *state;
    wc_status st;
    char p[1200];
    long n;

    f->o.memtable_bytes = 64u << 20; /* everything stays in the commit log */
    wc_engine_close(f->e);
    assert_int_equal(fx_open(f), WC_OK);
    put_rows(f, T1, "a", 0, 2000);
    wc_engine_close(f->e);
    f->e = NULL;
    /* segment 1 holds the table creation; 2 is the oldest holding rows, cut in half */
    snprintf(p, sizeof(p), "%s/commitlog/CommitLog-2.log", f->dir);
    assert_int_equal(truncate(p, (off_t)(size_of(p) / 2)), 0);
    assert_int_equal(fx_open(f), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), p));
    assert_non_null(strstr(wc_last_error(), "cannot be replayed"));

    f->o.commitlog_ignore_replay_errors = true;
    assert_int_equal(fx_open(f), WC_OK);
    n = wc_test_count_rows(f->e, T1, NULL, NOW, &st);
    assert_true(n > 0 && n < 2000);
    wc_engine_close(f->e);
    f->e = NULL;
    /* what was replayed was flushed and the damaged segment retired */
    f->o.commitlog_ignore_replay_errors = false;
    assert_int_equal(fx_open(f), WC_OK);
    assert_int_equal(wc_test_count_rows(f->e, T1, NULL, NOW, &st), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncated_sstable_takes_only_its_table_offline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_block_is_skipped_by_scrub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_block_at_run_time_takes_table_offline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncated_sstable_at_run_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_block_found_by_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_block_at_run_time_under_stop_policy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_manifest_takes_table_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_older_commitlog_segment, setup, teardown),
    };
    return cmocka_run_group_tests_name("recovery", tests, NULL, NULL);
}
