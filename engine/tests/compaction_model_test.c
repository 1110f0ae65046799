/*
 * compaction_model_test.c - long random sequences of writes, overwrites,
 * cell, row, range and partition deletes and TTLs while background
 * compaction runs under every strategy (STCS, LCS, TWCS, switched at
 * random with ALTER), with explicit majors, flushes, reopenings, a small
 * gc_grace and a test clock that jumps so tombstones become purgeable and
 * TTLs expire; every read is checked against the brute-force model of
 * model.h.
 *
 * The model never forgets anything: it is what a store without compaction
 * would answer.  Timestamps increase with the clock (as real writes do), so
 * no write ever arrives older than a tombstone purged after gc_grace, and
 * the engine must then answer exactly like the model: deleted data never
 * comes back, across compactions, strategy changes and restarts.  Seeds
 * come from WC_MODEL_SEED or the clock (printed for replay).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "model.h"
#include "testutil.h"

#define NPK 12
#define TID 5
#define GC_GRACE 4
#define BASE_NOW 1700000000u

/* increasing with the clock, unique */
static int64_t clock_ts(wc_model *m)
{
    return m->now * 1000000 + (int64_t)(++m->ts_counter % 1000000);
}

static const wc_model_config CONFIG = {
    .table_id = TID,
    .npk = NPK,
    .max_ttl = 20,
    .deletion_ldt = 0, /* deletions: the clock's now */
    .fresh_ts = clock_ts,
};

static const char *const STRATEGIES[] = {
    "",
    "{'class':'STCS','min_threshold':2,'tombstone_threshold':0.05,'tombstone_compaction_interval':3}",
    "{'class':'SizeTieredCompactionStrategy','min_threshold':3,'min_sstable_size':0,"
    "'unchecked_tombstone_compaction':true,'tombstone_compaction_interval':1}",
    "{'class':'LCS','sstable_size_in_mb':0.002,'fanout_size':2,'tombstone_compaction_interval':2}",
    "{'class':'LeveledCompactionStrategy','sstable_size_in_mb':0.001,'fanout_size':3}",
    "{'class':'TWCS','compaction_window_unit':'MINUTES','compaction_window_size':1,"
    "'tombstone_compaction_interval':2,'tombstone_threshold':0.1}",
    "{'class':'TimeWindowCompactionStrategy','compaction_window_unit':'MINUTES','min_threshold':2}",
    "{'class':'STCS','enabled':false}",
};
#define NSTRATEGIES (sizeof(STRATEGIES) / sizeof(STRATEGIES[0]))

static wc_status open_model(wc_model *m, const char *dir, wc_engine **e)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = dir;
    o.memtable_bytes = 8 * 1024; /* tiny memtables: flushes happen on their own too */
    o.segment_bytes = 1u << 20;
    o.cache_bytes = 1u << 20;
    o.block_bytes = 512;
    o.clock = wc_model_clock;
    o.clock_arg = m;
    o.compaction_threads = 1 + (uint32_t)(wc_model_rnd(m) % 2);
    o.compaction_throughput_mb_per_sec = 0;
    o.compaction_check_ms = 5;
    return wc_engine_open(&o, e);
}

static void set_strategy(wc_engine *e, size_t which)
{
    wc_table_def d;

    assert_int_equal(wc_engine_get_table(e, TID, &d), WC_OK);
    snprintf(d.compaction, sizeof(d.compaction), "%s", STRATEGIES[which]);
    assert_int_equal(wc_engine_alter_table(e, &d), WC_OK);
}

static void run_model(uint64_t seed, int steps)
{
    char *dir = wc_test_tmpdir("cmodel");
    wc_engine *e;
    wc_table_def d;
    uint64_t purged = 0, expired = 0, compactions = 0;
    wc_model m;

    wc_model_init(&m, &CONFIG, seed, BASE_NOW);
    assert_non_null(dir);
    assert_int_equal(open_model(&m, dir, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = TID;
    d.gc_grace_seconds = GC_GRACE;
    snprintf(d.name, sizeof(d.name), "ks.cmodel");
    snprintf(d.compaction, sizeof(d.compaction), "%s", STRATEGIES[wc_model_rnd(&m) % NSTRATEGIES]);
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int step = 0; step < steps; step++) {
        int r = (int)(wc_model_rnd(&m) % 1000);
        if (wc_model_rnd(&m) % 8 == 0)
            wc_model_advance(&m, 1);
        if (wc_model_rnd(&m) % 400 == 0)
            wc_model_advance(&m, 10 + (int64_t)(wc_model_rnd(&m) % 60)); /* gc_grace and TTLs pass */
        if (r < 680) {
            wc_model_write(&m, e);
        } else if (r < 950) {
            wc_model_check_read(&m, e);
        } else if (r < 970) {
            assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
        } else if (r < 978) {
            assert_int_equal(wc_engine_compact(e, TID), WC_OK);
        } else if (r < 990) {
            set_strategy(e, (size_t)(wc_model_rnd(&m) % NSTRATEGIES));
        } else if (r < 994) {
            assert_int_equal(wc_engine_compaction_wait(e, TID, 20000), WC_OK);
        } else {
            wc_compaction_stats cs;
            assert_int_equal(wc_engine_compaction_stats(e, TID, &cs), WC_OK);
            purged += cs.tombstones_purged;
            expired += cs.sstables_expired;
            compactions += cs.compactions_completed;
            wc_engine_close(e);
            assert_int_equal(open_model(&m, dir, &e), WC_OK);
        }
    }
    for (int i = 0; i < 200; i++) {
        wc_model_check_read(&m, e);
        wc_model_advance(&m, 1);
    }
    wc_model_advance(&m, 100);
    set_strategy(e, 1);
    assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    assert_int_equal(wc_engine_compaction_wait(e, TID, 20000), WC_OK);
    assert_int_equal(wc_engine_compact(e, TID), WC_OK);
    for (int i = 0; i < 200; i++)
        wc_model_check_read(&m, e);
    {
        wc_compaction_stats cs;
        assert_int_equal(wc_engine_compaction_stats(e, TID, &cs), WC_OK);
        purged += cs.tombstones_purged;
        expired += cs.sstables_expired;
        compactions += cs.compactions_completed;
    }
    printf("  %llu compactions, %llu tombstones purged, %llu SSTables expired whole\n",
           (unsigned long long)compactions, (unsigned long long)purged,
           (unsigned long long)expired);
    assert_true(compactions > 0);
    wc_engine_close(e);
    wc_model_free(&m);
    wc_test_rmrf(dir);
    free(dir);
}

static void test_model(void **state)
{
    wc_model_rounds(5000, run_model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests_name("compaction_model", tests, NULL, NULL);
}
