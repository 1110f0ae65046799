/*
 * compaction_test.c - compaction: the CQL compaction-map parser, each
 * strategy's selection rules on synthetic SSTable metadata, and end to end
 * on a real engine (background STCS/LCS/TWCS, purge safety, whole-SSTable
 * expiry, runtime option changes, LCS read amplification, the tombstone
 * guardrail, statistics and the compaction listing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "compaction_options.h"
#include "compaction_strategy.h"
#include "engine.h"
#include "engine_int.h"
#include "keys.h"
#include "testutil.h"

#define TID 11
#define BASE 1700000000

static int64_t now_s = BASE;
static uint64_t ts_counter;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return now_s;
}

static int64_t fresh_ts(void)
{
    return now_s * 1000000 + (int64_t)(++ts_counter % 1000000);
}

/* ------------------------------------------------------------------ options */

static void test_options_parse(void **state)
{
    wc_compaction_options o;

    (void)state;
    assert_int_equal(wc_compaction_options_parse("", &o), WC_OK);
    assert_int_equal(o.cls, WC_COMPACTION_STCS);
    assert_int_equal(o.min_threshold, 4);
    assert_int_equal(o.max_threshold, 32);
    assert_true(o.enabled);
    assert_int_equal(wc_compaction_options_parse(NULL, &o), WC_OK);
    assert_int_equal(wc_compaction_options_parse("{}", &o), WC_OK);

    assert_int_equal(wc_compaction_options_parse(
                         "{'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': "
                         "'HOURS', 'compaction_window_size': 24}",
                         &o),
                     WC_OK);
    assert_int_equal(o.cls, WC_COMPACTION_TWCS);
    assert_int_equal(wc_compaction_window_seconds(&o), 24 * 3600);

    assert_int_equal(wc_compaction_options_parse(
                         "{'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy',"
                         " 'sstable_size_in_mb': 0.5, 'FANOUT_SIZE': '4', 'enabled': false}",
                         &o),
                     WC_OK);
    assert_int_equal(o.cls, WC_COMPACTION_LCS);
    assert_int_equal(o.sstable_size, 512 * 1024);
    assert_int_equal(o.fanout, 4);
    assert_false(o.enabled);

    /* "lcs" is a CQL identifier, not a string: refused as the extension always did */
    assert_int_equal(wc_compaction_options_parse("{\"class\": \"lcs\"}", &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'class': 'lcs'}", &o), WC_OK);
    assert_int_equal(o.cls, WC_COMPACTION_LCS);
    /* bare words, $$ strings and '' escapes read as everywhere else */
    assert_int_equal(wc_compaction_options_parse("{'class': $$TimeWindowCompactionStrategy$$, "
                                                 "'compaction_window_unit': hours, "
                                                 "'enabled': FALSE}",
                                                 &o),
                     WC_OK);
    assert_int_equal(o.cls, WC_COMPACTION_TWCS);
    assert_int_equal(o.window_unit_seconds, 3600);
    assert_false(o.enabled);
    assert_int_equal(wc_compaction_options_parse(
                         "{'class':'STCS','min_threshold':2,'max_threshold':8,'bucket_low':0.3,"
                         "'bucket_high':2,'min_sstable_size':100,'tombstone_threshold':0.1,"
                         "'tombstone_compaction_interval':5,'unchecked_tombstone_compaction':'true'}",
                         &o),
                     WC_OK);
    assert_int_equal(o.min_threshold, 2);
    assert_int_equal(o.min_sstable_size, 100);
    assert_true(o.unchecked_tombstone_compaction);
    assert_int_equal(o.tombstone_compaction_interval, 5);

    /* errors name the option and the closest valid one */
    assert_int_equal(wc_compaction_options_parse("{'class': 'LeveledCompactionStrateg'}", &o),
                     WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "LeveledCompactionStrategy"));
    assert_int_equal(wc_compaction_options_parse("{'min_treshold': 3}", &o), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "'min_threshold'"));
    assert_int_equal(wc_compaction_options_parse("{'class':'STCS','sstable_size_in_mb': 3}", &o),
                     WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "sstable_size_in_mb"));
    assert_int_equal(wc_compaction_options_parse("{'class':'TWCS','compaction_window_unit':'WEEKS'}", &o),
                     WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "compaction_window_unit"));
    assert_int_equal(wc_compaction_options_parse("{'min_threshold': 1}", &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'min_threshold': 8, 'max_threshold': 4}", &o),
                     WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'enabled': 'maybe'}", &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'class': 'STCS'", &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'class' 'STCS'}", &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'class': 'STCS', 'class': 'LCS'}", &o),
                     WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("{'class': 'STCS} ", &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_compaction_options_parse("class=STCS", &o), WC_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ selection on metadata */

static uint8_t keys[64][2][16];

/* Metadata of SSTable i: keys [lo, hi] (as flat-key-like byte strings). */
static wc_sst_meta meta(int i, uint64_t bytes, uint32_t level, int lo, int hi)
{
    wc_sst_meta m;

    memset(&m, 0, sizeof(m));
    m.gen = (uint64_t)i + 1;
    m.bytes = bytes;
    m.level = level;
    m.created = BASE;
    m.min_ts = 1;
    m.max_ts = (int64_t)BASE * 1000000;
    m.max_ldt = UINT32_MAX;
    m.min_token = lo;
    m.max_token = hi;
    wc_enc_u64be(keys[i][0], (uint64_t)lo);
    wc_enc_u64be(keys[i][1], (uint64_t)hi);
    m.first_key = keys[i][0];
    m.first_key_len = 8;
    m.last_key = keys[i][1];
    m.last_key_len = 8;
    m.entries = 100;
    return m;
}

static wc_pick_env env_at(int64_t now, uint32_t gc_grace)
{
    wc_pick_env env = {.now = now, .gc_before = now - gc_grace, .mem_min_ts = INT64_MAX};
    return env;
}

static bool has_input(const wc_compaction_task *t, size_t i)
{
    for (size_t k = 0; k < t->ninputs; k++)
        if (t->inputs[k] == i)
            return true;
    return false;
}

static void test_stcs_selection(void **state)
{
    wc_compaction_options o;
    wc_sst_meta m[16];
    wc_pick_env env = env_at(BASE, 0);
    wc_compaction_task t;
    int n = 0;

    (void)state;
    wc_compaction_options_default(&o);
    o.min_sstable_size = 0;
    /* three of ~10 MB, four of ~100 MB, one of 1 GB */
    m[n++] = meta(0, 10 << 20, 0, 0, 100);
    m[n++] = meta(1, 11 << 20, 0, 0, 100);
    m[n++] = meta(2, 9 << 20, 0, 0, 100);
    m[n++] = meta(3, 100 << 20, 0, 0, 100);
    m[n++] = meta(4, 110 << 20, 0, 0, 100);
    m[n++] = meta(5, 95 << 20, 0, 0, 100);
    m[n++] = meta(6, 105 << 20, 0, 0, 100);
    m[n++] = meta(7, 1 << 30, 0, 0, 100);
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.ninputs, 4);
    for (int i = 3; i <= 6; i++)
        assert_true(has_input(&t, (size_t)i));
    wc_compaction_task_free(&t);

    /* below min_threshold: nothing */
    assert_int_equal(wc_compaction_pick(&o, m, 3, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    /* min_threshold 3 makes the small bucket qualify too; the bigger bucket (4) still wins */
    o.min_threshold = 3;
    assert_int_equal(wc_compaction_pick(&o, m, 3, &env, NULL, &t), WC_OK);
    assert_int_equal(t.ninputs, 3);
    wc_compaction_task_free(&t);
    /* max_threshold trims to the smallest of the bucket */
    o.max_threshold = 3;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.ninputs, 3);
    assert_true(has_input(&t, 0) && has_input(&t, 1) && has_input(&t, 2)); /* tie -> smaller mean */
    wc_compaction_task_free(&t);
    /* everything below min_sstable_size shares one bucket */
    wc_compaction_options_default(&o);
    o.min_sstable_size = 200 << 20;
    assert_int_equal(wc_compaction_pick(&o, m, 7, &env, NULL, &t), WC_OK);
    assert_int_equal(t.ninputs, 7);
    wc_compaction_task_free(&t);
    /* compacting SSTables are not candidates */
    m[3].compacting = m[4].compacting = true;
    o.min_sstable_size = 0;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    /* disabled: nothing */
    m[3].compacting = m[4].compacting = false;
    o.enabled = false;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    /* bucket_high 2.5 merges 10 MB and 11 MB ... but 100 MB never joins 10 MB */
    wc_compaction_options_default(&o);
    o.min_sstable_size = 0;
    assert_true(wc_compaction_estimate_pending(&o, m, (size_t)n, &env) >= 1);
}

static void test_tombstone_selection(void **state)
{
    wc_compaction_options o;
    wc_sst_meta m[4];
    wc_pick_env env = env_at(BASE + 100000, 10);
    wc_compaction_task t;

    (void)state;
    wc_compaction_options_default(&o);
    m[0] = meta(0, 1000, 0, 0, 100);
    m[1] = meta(1, 100000, 0, 200, 300);
    m[0].droppable = 50; /* ratio 0.5 */
    m[0].min_ts = 1000;
    m[1].min_ts = 5;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_TOMBSTONE);
    assert_int_equal(t.inputs[0], 0);
    wc_compaction_task_free(&t);
    /* too young */
    m[0].created = env.now - 100;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    m[0].created = BASE;
    /* ratio below the threshold */
    m[0].droppable = 10;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    m[0].droppable = 50;
    /* an overlapping older SSTable blocks it unless unchecked */
    m[1].min_token = 50;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    o.unchecked_tombstone_compaction = true;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_TOMBSTONE);
    wc_compaction_task_free(&t);
    /* an older memtable blocks it too */
    o.unchecked_tombstone_compaction = false;
    m[1].min_token = 200;
    env.mem_min_ts = 1;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
}

static void test_lcs_selection(void **state)
{
    wc_compaction_options o;
    wc_sst_meta m[16];
    wc_pick_env env = env_at(BASE, 0);
    wc_compaction_task t;
    wc_lcs_state lcs;
    int n = 0;

    (void)state;
    memset(&lcs, 0, sizeof(lcs));
    wc_compaction_options_parse("{'class':'LCS','sstable_size_in_mb':1,'fanout_size':10}", &o);
    assert_int_equal(wc_lcs_level_target(&o, 1), 10u << 20);
    assert_int_equal(wc_lcs_level_target(&o, 2), 100u << 20);
    /* L1: [0,99] [100,199] [200,299]; three L0 files: nothing yet */
    m[n++] = meta(0, 1 << 20, 1, 0, 99);
    m[n++] = meta(1, 1 << 20, 1, 100, 199);
    m[n++] = meta(2, 1 << 20, 1, 200, 299);
    m[n++] = meta(3, 100000, 0, 10, 20);
    m[n++] = meta(4, 100000, 0, 110, 120);
    m[n++] = meta(5, 100000, 0, 15, 150);
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, &lcs, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    /* a fourth L0 file triggers L0 -> L1 with the overlapping L1 files only */
    m[n++] = meta(6, 100000, 0, 30, 40);
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, &lcs, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.level, 1);
    assert_int_equal(t.max_output_bytes, 1 << 20);
    assert_int_equal(t.ninputs, 6);
    assert_true(has_input(&t, 0) && has_input(&t, 1) && !has_input(&t, 2));
    wc_compaction_task_free(&t);

    /* L1 over its target (10 MB): one file, round-robin, with its L2 overlaps */
    n = 0;
    for (int i = 0; i < 12; i++)
        m[n++] = meta(i, 1 << 20, 1, i * 100, i * 100 + 99);
    m[n++] = meta(12, 1 << 20, 2, 0, 149);
    m[n++] = meta(13, 1 << 20, 2, 150, 400);
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, &lcs, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.level, 2);
    assert_int_equal(t.inputs[0], 0);
    assert_true(has_input(&t, 12) && !has_input(&t, 13));
    wc_compaction_task_free(&t);
    /* next pick continues after the last compacted key */
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, &lcs, &t), WC_OK);
    assert_int_equal(t.inputs[0], 1);
    assert_true(has_input(&t, 12) && has_input(&t, 13));
    wc_compaction_task_free(&t);
    /* a busy overlap in L2 moves the pick on */
    m[13].compacting = true;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, &lcs, &t), WC_OK);
    assert_int_equal(t.inputs[0], 5);
    wc_compaction_task_free(&t);
    /* major: lowest level holding everything (14 MB > L1's 10 MB -> L2) */
    m[13].compacting = false;
    assert_int_equal(wc_compaction_major(&o, m, (size_t)n, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_MAJOR);
    assert_int_equal(t.level, 2);
    assert_int_equal(t.ninputs, (size_t)n);
    wc_compaction_task_free(&t);
    assert_true(wc_compaction_estimate_pending(&o, m, (size_t)n, &env) >= 2);
    wc_lcs_state_free(&lcs);
}

/* More than 32 L0 SSTables while L1 is over its target: size-tiered within L0 first. */
static void test_lcs_l0_size_tiered(void **state)
{
    wc_compaction_options o;
    wc_sst_meta m[64];
    wc_pick_env env = env_at(BASE, 0);
    wc_compaction_task t;
    int n = 0, nl1 = 12;

    (void)state;
    wc_compaction_options_parse("{'class':'LCS','sstable_size_in_mb':1,'fanout_size':10}", &o);
    for (int i = 0; i < nl1; i++)
        m[n++] = meta(i, 1 << 20, 1, i * 100, i * 100 + 99);
    /* 32 flushes in L0: not yet behind, L1 -> L2 goes first */
    for (; n < nl1 + WC_LCS_L0_STCS_TRIGGER; n++)
        m[n] = meta(n, 200000 + (uint64_t)n * 1000, 0, 0, 1199);
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.level, 2);
    wc_compaction_task_free(&t);
    /* one more: L0 is behind, the 32 (max_threshold) smallest similar flushes merge in L0 */
    m[n] = meta(n, 100000, 0, 0, 1199);
    n++;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.level, 0);
    assert_int_equal(t.ninputs, 32);
    assert_true(has_input(&t, (size_t)n - 1) && !has_input(&t, (size_t)n - 2));
    for (size_t k = 0; k < t.ninputs; k++)
        assert_int_equal(m[t.inputs[k]].level, 0);
    wc_compaction_task_free(&t);
    /* L1 within its target: the usual L0 -> L1 compaction, not size-tiered */
    for (int i = 2; i < nl1; i++)
        m[i].bytes = 1;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.level, 1);
    assert_int_equal(t.ninputs, (size_t)(WC_LCS_L0_MAX_INPUTS + nl1));
    wc_compaction_task_free(&t);
    /* flushes of very different sizes form no bucket: L1 -> L2 again */
    for (int i = 2; i < nl1; i++)
        m[i].bytes = 1 << 20;
    for (int i = nl1; i < n; i++)
        m[i].bytes = (uint64_t)(1 << 20) << (i - nl1); /* each twice the last */
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.level, 2);
    wc_compaction_task_free(&t);
}

static void test_twcs_selection(void **state)
{
    wc_compaction_options o;
    wc_sst_meta m[16];
    wc_pick_env env = env_at(BASE + 10 * 3600, 0);
    wc_compaction_task t;
    int n = 0;

    (void)state;
    wc_compaction_options_parse("{'class':'TWCS','compaction_window_unit':'HOURS',"
                                "'compaction_window_size':1}",
                                &o);
    assert_int_equal(wc_twcs_window((int64_t)3700 * 1000000, 3600), 3600);
    assert_int_equal(wc_twcs_window(-1, 3600), -3600);
    /* window 0: 1 SSTable; window 1: 2; newest window (2): 3 -> older window 1 compacts */
    for (int i = 0; i < 6; i++) {
        int w = i == 0 ? 0 : i < 3 ? 1 : 2;
        m[n] = meta(i, 1000, 0, 0, 100);
        m[n].max_ts = ((int64_t)BASE + w * 3600) * 1000000;
        n++;
    }
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_COMPACT);
    assert_int_equal(t.ninputs, 2);
    assert_true(has_input(&t, 1) && has_input(&t, 2));
    assert_int_equal(t.window, wc_twcs_window(m[1].max_ts, 3600));
    wc_compaction_task_free(&t);
    /* a fourth SSTable in the newest window: STCS there comes first (newest first) */
    m[n] = meta(n, 1000, 0, 0, 100);
    m[n].max_ts = m[5].max_ts;
    n++;
    assert_int_equal(wc_compaction_pick(&o, m, (size_t)n, &env, NULL, &t), WC_OK);
    assert_int_equal(t.ninputs, 4);
    assert_true(has_input(&t, 3) && has_input(&t, 6));
    wc_compaction_task_free(&t);
    assert_int_equal(wc_compaction_estimate_pending(&o, m, (size_t)n, &env), 2);
}

static void test_expired_selection(void **state)
{
    wc_compaction_options o;
    wc_sst_meta m[4];
    wc_pick_env env = env_at(BASE + 1000, 100);
    wc_compaction_task t;

    (void)state;
    wc_compaction_options_parse("{'class':'TWCS'}", &o);
    m[0] = meta(0, 1000, 0, 0, 100);
    m[0].max_ldt = BASE + 800; /* expired 200 s ago, gc_grace 100 */
    m[0].min_ts = (int64_t)BASE * 1000000;
    m[0].max_ts = (int64_t)(BASE + 10) * 1000000;
    m[1] = meta(1, 1000, 0, 500, 600); /* no overlap */
    m[1].min_ts = 1;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_DROP_EXPIRED);
    assert_int_equal(t.ninputs, 1);
    assert_int_equal(t.inputs[0], 0);
    wc_compaction_task_free(&t);
    /* gc_grace not passed yet */
    env.gc_before = BASE + 700;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    env.gc_before = BASE + 900;
    /* an overlapping SSTable with older data keeps it */
    m[1].min_token = 50;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    /* ... unless its data is newer */
    m[1].min_ts = m[0].max_ts + 1;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_DROP_EXPIRED);
    wc_compaction_task_free(&t);
    /* an older memtable keeps it */
    env.mem_min_ts = 5;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
    /* unsafe_aggressive_sstable_expiration skips the checks */
    m[1].min_ts = 1;
    wc_compaction_options_parse("{'class':'TWCS','unsafe_aggressive_sstable_expiration':true}", &o);
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_DROP_EXPIRED);
    wc_compaction_task_free(&t);
    /* live non-expiring data never expires */
    m[0].max_ldt = UINT32_MAX;
    assert_int_equal(wc_compaction_pick(&o, m, 2, &env, NULL, &t), WC_OK);
    assert_int_equal(t.kind, WC_TASK_NONE);
}

/* ------------------------------------------------------------------ engine helpers */

typedef struct fx {
    char *dir;
    wc_engine *e;
} fx;

static wc_status open_engine(fx *f, uint32_t threads)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = f->dir;
    o.memtable_bytes = 4u << 20;
    o.segment_bytes = 1u << 20;
    o.cache_bytes = 0; /* blocks read = blocks really read */
    o.block_bytes = 1024;
    o.clock = test_clock;
    o.compaction_threads = threads;
    o.compaction_throughput_mb_per_sec = 0;
    o.compaction_check_ms = 20;
    return wc_engine_open(&o, &f->e);
}

static fx *fx_new(const char *tag, const char *compaction, uint32_t gc_grace, uint32_t threads)
{
    fx *f = calloc(1, sizeof(*f));
    wc_table_def d;

    now_s = BASE;
    f->dir = wc_test_tmpdir(tag);
    assert_non_null(f->dir);
    assert_int_equal(open_engine(f, threads), WC_OK);
    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "ks.%s", tag);
    snprintf(d.compaction, sizeof(d.compaction), "%s", compaction);
    d.gc_grace_seconds = gc_grace;
    assert_int_equal(wc_engine_create_table(f->e, &d), WC_OK);
    return f;
}

static void fx_reopen(fx *f, uint32_t threads)
{
    wc_engine_close(f->e);
    f->e = NULL;
    assert_int_equal(open_engine(f, threads), WC_OK);
}

static void fx_free(fx *f)
{
    wc_engine_close(f->e);
    wc_test_rmrf(f->dir);
    free(f->dir);
    free(f);
}

static void alter(fx *f, const char *compaction)
{
    wc_table_def d;
    assert_int_equal(wc_engine_get_table(f->e, TID, &d), WC_OK);
    snprintf(d.compaction, sizeof(d.compaction), "%s", compaction);
    assert_int_equal(wc_engine_alter_table(f->e, &d), WC_OK);
}

static const uint32_t COLS[1] = {1};

static void put(fx *f, const char *pk, uint64_t ck, int64_t ts, uint32_t ttl, const char *v)
{
    const char *vals[1] = {v};
    assert_int_equal(wc_test_put(f->e, TID, pk, ck, ts, ttl, (uint32_t)now_s, 1, COLS, vals), WC_OK);
}

static void del_partition(fx *f, const char *pk, int64_t ts)
{
    wc_mutation m;
    wc_mutation *mp = &m;

    wc_mutation_init(&m, TID, pk, strlen(pk));
    wc_mutation_delete_partition(&m, ts, (uint32_t)now_s);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

static void del_row(fx *f, const char *pk, uint64_t ck, int64_t ts)
{
    wc_mutation m;
    wc_mutation *mp = &m;
    uint8_t ckb[8];

    wc_test_ck(ck, ckb);
    wc_mutation_init(&m, TID, pk, strlen(pk));
    wc_rowb_deletion(wc_mutation_row_begin(&m, false, ckb, 8), ts, (uint32_t)now_s);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

static void flush(fx *f)
{
    assert_int_equal(wc_engine_flush(f->e, TID, true), WC_OK);
}

static wc_status read_pk(fx *f, const char *pk, uint64_t tomb_max, wc_page **p)
{
    wc_read_request r;

    memset(&r, 0, sizeof(r));
    r.table_id = TID;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    r.page_rows = 100000;
    r.tombstone_failure_threshold = tomb_max;
    return wc_engine_read(f->e, &r, p);
}

static size_t rows_of(fx *f, const char *pk)
{
    wc_page *p;
    size_t n;

    assert_int_equal(read_pk(f, pk, 0, &p), WC_OK);
    n = p->nrows;
    wc_page_free(p);
    return n;
}

static uint64_t sst_count(fx *f)
{
    wc_table_stats ts;
    assert_int_equal(wc_engine_table_stats(f->e, TID, &ts), WC_OK);
    return ts.sstable_count;
}

static uint64_t tombstones(fx *f)
{
    wc_table_stats ts;
    assert_int_equal(wc_engine_table_stats(f->e, TID, &ts), WC_OK);
    return ts.tombstones;
}

static void wait_idle(fx *f)
{
    assert_int_equal(wc_engine_compaction_wait(f->e, TID, 20000), WC_OK);
}

/* ------------------------------------------------------------------ end to end */

static void test_stcs_background(void **state)
{
    fx *f = fx_new("stcs", "{'class':'SizeTieredCompactionStrategy','min_threshold':4}", 864000, 1);
    wc_compaction_stats cs;
    char pk[32];

    (void)state;
    for (int fl = 0; fl < 16; fl++) {
        for (int i = 0; i < 50; i++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            put(f, pk, (uint64_t)fl, fresh_ts(), 0, "value");
        }
        flush(f);
    }
    wait_idle(f);
    /* 16 small flushes -> 4 merged, which merge again: one SSTable (or few) remains */
    assert_true(sst_count(f) < 4);
    assert_int_equal(rows_of(f, "p7"), 16);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.strategy, WC_COMPACTION_STCS);
    /* how many runs merged the 16 depends on how the flushes and the compaction thread
     * interleaved (a late run takes every similar-sized table at once): at least one */
    assert_true(cs.compactions_completed >= 1);
    assert_true(cs.bytes_written > 0 && cs.bytes_read > 0);
    assert_int_equal(cs.pending, 0);
    assert_true(cs.read_histogram[0] + cs.read_histogram[1] + cs.read_histogram[2] +
                    cs.read_histogram[3] >= 1);
    fx_free(f);
}

static void test_disabled_and_runtime_switch(void **state)
{
    fx *f = fx_new("switch", "{'class':'STCS','enabled':false}", 864000, 1);
    wc_compaction_stats cs;
    wc_compaction_info *ci;
    size_t nci;
    char pk[32];
    wc_table_def d;

    (void)state;
    for (int fl = 0; fl < 8; fl++) {
        for (int i = 0; i < 40; i++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            put(f, pk, (uint64_t)fl, fresh_ts(), 0, "v");
        }
        flush(f);
    }
    wait_idle(f);
    assert_int_equal(sst_count(f), 8); /* disabled: nothing ran */
    /* a bad map is refused and changes nothing */
    assert_int_equal(wc_engine_get_table(f->e, TID, &d), WC_OK);
    snprintf(d.compaction, sizeof(d.compaction), "{'class':'LCS','fanout':3}");
    assert_int_equal(wc_engine_alter_table(f->e, &d), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "fanout_size"));
    /* pending work is visible while nothing runs */
    assert_int_equal(wc_engine_set_compaction(f->e, 0, 0), WC_OK);
    alter(f, "{'class':'STCS','min_threshold':4}");
    assert_int_equal(wc_engine_compactions(f->e, TID, &ci, &nci), WC_OK);
    assert_int_equal(nci, 1);
    assert_false(ci[0].running);
    assert_int_equal(ci[0].ninputs, 8);
    assert_true(ci[0].bytes_total > 0);
    wc_free(ci);
    assert_int_equal(wc_engine_compaction_wait(f->e, TID, 100), WC_TIMEOUT);
    /* threads back: STCS compacts */
    assert_int_equal(wc_engine_set_compaction(f->e, 2, 64), WC_OK);
    wait_idle(f);
    assert_int_equal(sst_count(f), 1);
    /* switch to LCS while writing: L0 flushes go to L1 */
    alter(f, "{'class':'LeveledCompactionStrategy','sstable_size_in_mb':0.01}");
    for (int fl = 0; fl < 6; fl++) {
        for (int i = 0; i < 40; i++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            put(f, pk, (uint64_t)(100 + fl), fresh_ts(), 0, "v");
        }
        flush(f);
    }
    wait_idle(f);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.strategy, WC_COMPACTION_LCS);
    assert_true(cs.level_sstables[0] < 4);
    assert_true(cs.level_sstables[1] + cs.level_sstables[2] + cs.level_sstables[3] > 0);
    /* then TWCS */
    alter(f, "{'class':'TWCS','compaction_window_unit':'MINUTES','compaction_window_size':1}");
    for (int fl = 0; fl < 3; fl++) {
        now_s += 60;
        for (int i = 0; i < 10; i++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            put(f, pk, (uint64_t)(200 + fl), fresh_ts(), 0, "v");
        }
        flush(f);
    }
    wait_idle(f);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.strategy, WC_COMPACTION_TWCS);
    assert_true(cs.nwindows >= 2);
    assert_true(cs.window_start[0] > cs.window_start[1]);
    for (int i = 0; i < 40; i++) {
        snprintf(pk, sizeof(pk), "p%d", i);
        assert_int_equal(rows_of(f, pk), i < 10 ? 8 + 6 + 3 : 8 + 6);
    }
    /* the setting survives a restart */
    fx_reopen(f, 1);
    assert_int_equal(wc_engine_get_table(f->e, TID, &d), WC_OK);
    assert_non_null(strstr(d.compaction, "TWCS"));
    assert_int_equal(rows_of(f, "p3"), 17);
    assert_int_equal(wc_engine_set_compaction(f->e, 65, 0), WC_INVALID_ARGUMENT);
    fx_free(f);
}

/* Check that every level >= 1 is non-overlapping; returns the non-empty level count. */
static int check_levels(fx *f, uint64_t *l0)
{
    wc__table *t;
    int nonempty = 0;

    pthread_rwlock_rdlock(&f->e->tables_mu);
    t = wc__engine_find_table(f->e, TID);
    pthread_mutex_lock(&t->mu);
    *l0 = 0;
    for (uint32_t lv = 0; lv <= WC_LCS_MAX_LEVEL; lv++) {
        int cnt = 0;
        for (size_t i = 0; i < t->nssts; i++) {
            const wc_sstable_stats *a = wc_sstable_get_stats(t->ssts[i].t);
            if (t->ssts[i].level != lv)
                continue;
            cnt++;
            for (size_t j = 0; lv > 0 && j < t->nssts; j++) {
                const wc_sstable_stats *b = wc_sstable_get_stats(t->ssts[j].t);
                if (j == i || t->ssts[j].level != lv)
                    continue;
                /* disjoint in flat-key order, and partitions never straddle files */
                assert_true(wc_bytes_cmp(a->last_key, a->last_key_len, b->first_key,
                                         b->first_key_len) < 0 ||
                            wc_bytes_cmp(b->last_key, b->last_key_len, a->first_key,
                                         a->first_key_len) < 0);
                assert_true(a->max_token < b->min_token || b->max_token < a->min_token);
            }
        }
        if (lv == 0)
            *l0 = (uint64_t)cnt;
        else if (cnt > 0)
            nonempty++;
    }
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&f->e->tables_mu);
    return nonempty;
}

static void test_lcs_levels_and_read_amp(void **state)
{
    fx *f = fx_new("lcs", "{'class':'LCS','sstable_size_in_mb':0.004,'fanout_size':2}", 864000, 1);
    wc_compaction_stats cs;
    uint64_t l0 = 0;
    int levels;
    char pk[32], val[64];

    (void)state;
    /* enough data that the deepest level outgrows the next level's static target */
    for (int fl = 0; fl < 24; fl++) {
        for (int i = 0; i < 300; i++) {
            int p = (fl * 37 + i * 13) % 300;
            snprintf(pk, sizeof(pk), "k%03d", p);
            snprintf(val, sizeof(val), "value-%d-%d-%x-padding", fl, i, (unsigned)(fl * 7919 + i * 104729));
            put(f, pk, (uint64_t)((fl + i) % 7), fresh_ts(), 0, val);
        }
        flush(f);
    }
    wait_idle(f);
    levels = check_levels(f, &l0);
    assert_true(l0 < WC_LCS_L0_TRIGGER);
    assert_true(levels >= 2); /* tiny levels: data spread over several */
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    /* levels above the deepest are within their dynamic target: the deepest level's
       bytes / fanout^distance (+ a file or two in flight) */
    {
        uint32_t deepest = 0;
        for (uint32_t lv = 1; lv <= WC_LCS_MAX_LEVEL; lv++)
            if (cs.level_sstables[lv] > 0)
                deepest = lv;
        for (uint32_t lv = 1; lv < deepest; lv++)
            assert_true(cs.level_bytes[lv] <=
                        (cs.level_bytes[deepest] >> (deepest - lv)) + 3 * 4096u + 4096u);
    }
    /* a single-partition read touches at most one SSTable per level above L0 */
    for (int p = 0; p < 300; p += 7) {
        wc_page *pg;
        snprintf(pk, sizeof(pk), "k%03d", p);
        assert_int_equal(read_pk(f, pk, 0, &pg), WC_OK);
        assert_true(pg->stats.sstables_read + pg->stats.bloom_skips <= l0 + (uint64_t)levels);
        wc_page_free(pg);
    }
    /* a major keeps the levels non-overlapping; a reopen keeps the levels */
    assert_int_equal(wc_engine_compact(f->e, TID), WC_OK);
    levels = check_levels(f, &l0);
    assert_int_equal(l0, 0);
    assert_int_equal(levels, 1);
    fx_reopen(f, 1);
    levels = check_levels(f, &l0);
    assert_int_equal(levels, 1);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.level_sstables[0], 0);
    fx_free(f);
}

static void test_purge_safety(void **state)
{
    /* STCS with min_threshold 2 and no small-file bucket: the two tiny files compact alone */
    fx *f = fx_new("purge", "{'class':'STCS','min_threshold':2,'max_threshold':2,"
                            "'min_sstable_size':0,'enabled':false}",
                   10, 1);
    char pk[32];
    int64_t old_ts = fresh_ts();

    (void)state;
    /* A: the data (large), written first with old timestamps */
    for (int i = 0; i < 200; i++) {
        snprintf(pk, sizeof(pk), "filler%d", i);
        put(f, pk, 1, fresh_ts(), 0, "a-long-value-to-make-this-sstable-much-bigger-than-the-others");
    }
    put(f, "victim", 1, old_ts, 0, "old");
    put(f, "victim", 2, old_ts, 0, "old");
    flush(f);
    /* B and C: tombstones of that data */
    now_s += 1;
    del_partition(f, "victim", fresh_ts());
    put(f, "other", 1, fresh_ts(), 0, "x");
    flush(f);
    del_row(f, "victim", 2, fresh_ts());
    put(f, "other", 2, fresh_ts(), 0, "x");
    flush(f);
    assert_int_equal(sst_count(f), 3);
    assert_int_equal(rows_of(f, "victim"), 0);
    /* gc_grace passes; compacting B + C must keep the tombstones (A holds older data) */
    now_s += 100;
    alter(f, "{'class':'STCS','min_threshold':2,'max_threshold':2,'min_sstable_size':0,"
             "'bucket_high':1.5}");
    wait_idle(f);
    assert_int_equal(sst_count(f), 2);
    assert_true(tombstones(f) >= 2);
    assert_int_equal(rows_of(f, "victim"), 0);
    fx_reopen(f, 0);
    assert_int_equal(rows_of(f, "victim"), 0);
    /* a major (all inputs) purges them together with the shadowed data */
    assert_int_equal(wc_engine_compact(f->e, TID), WC_OK);
    assert_int_equal(sst_count(f), 1);
    assert_int_equal(tombstones(f), 0);
    assert_int_equal(rows_of(f, "victim"), 0);
    assert_int_equal(rows_of(f, "other"), 2);
    fx_reopen(f, 1);
    assert_int_equal(rows_of(f, "victim"), 0);
    {
        wc_compaction_stats cs;
        assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
        assert_int_equal(cs.droppable_tombstones, 0);
    }
    fx_free(f);
}

static void test_purge_blocked_by_memtable(void **state)
{
    fx *f = fx_new("purgemem", "{'enabled':false}", 10, 0);
    int64_t old_ts = fresh_ts();

    (void)state;
    put(f, "v", 1, fresh_ts(), 0, "x");
    flush(f);
    now_s += 1;
    del_partition(f, "v", fresh_ts());
    flush(f);
    /* older data for "v" arrives in the memtable (a late write with an old timestamp) */
    put(f, "v", 5, old_ts, 0, "late");
    now_s += 100;
    assert_int_equal(wc_engine_compact(f->e, TID), WC_OK);
    assert_int_equal(tombstones(f), 1); /* kept: the memtable is older */
    assert_int_equal(rows_of(f, "v"), 0);
    flush(f);
    assert_int_equal(wc_engine_compact(f->e, TID), WC_OK);
    assert_int_equal(tombstones(f), 0);
    assert_int_equal(rows_of(f, "v"), 0);
    fx_free(f);
}

/* Overwrite the middle of every data block of a file with garbage. */
static void corrupt_file(const char *path)
{
    int fd = open(path, O_WRONLY);
    char junk[64];

    assert_true(fd >= 0);
    memset(junk, 0x5a, sizeof(junk));
    for (off_t off = 8; off < 4000; off += 200)
        assert_int_equal(pwrite(fd, junk, sizeof(junk), off), (ssize_t)sizeof(junk));
    close(fd);
}

static char *sst_path_of_only(fx *f)
{
    wc__table *t;
    char *p;

    pthread_rwlock_rdlock(&f->e->tables_mu);
    t = wc__engine_find_table(f->e, TID);
    pthread_mutex_lock(&t->mu);
    p = strdup(wc_sstable_path(t->ssts[t->nssts - 1].t));
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&f->e->tables_mu);
    return p;
}

static void test_twcs_whole_sstable_expiry(void **state)
{
    fx *f = fx_new("twcs", "{'class':'TWCS','compaction_window_unit':'MINUTES'}", 30, 1);
    wc_compaction_stats cs;
    char pk[32], *path;

    (void)state;
    for (int i = 0; i < 100; i++) {
        snprintf(pk, sizeof(pk), "s%d", i);
        put(f, pk, 1, fresh_ts(), 60, "expiring");
    }
    flush(f);
    assert_int_equal(sst_count(f), 1);
    path = sst_path_of_only(f);
    corrupt_file(path); /* reading it would fail: dropping must not read it */
    now_s += 60 + 31;
    wait_idle(f);
    assert_int_equal(sst_count(f), 0);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.sstables_expired, 1);
    assert_int_equal(access(path, F_OK), -1); /* unlinked */
    free(path);

    /* an older overlapping SSTable keeps an expired one */
    for (int i = 0; i < 20; i++) {
        snprintf(pk, sizeof(pk), "s%d", i);
        put(f, pk, 2, fresh_ts(), 0, "forever");
    }
    flush(f);
    now_s += 120;
    for (int i = 0; i < 20; i++) {
        snprintf(pk, sizeof(pk), "s%d", i);
        put(f, pk, 3, fresh_ts(), 60, "expiring");
    }
    flush(f);
    now_s += 60 + 31;
    wait_idle(f);
    assert_int_equal(sst_count(f), 2);
    assert_int_equal(rows_of(f, "s3"), 1);
    /* unless unsafe_aggressive_sstable_expiration */
    alter(f, "{'class':'TWCS','compaction_window_unit':'MINUTES',"
             "'unsafe_aggressive_sstable_expiration':true}");
    wait_idle(f);
    assert_int_equal(sst_count(f), 1);
    assert_int_equal(rows_of(f, "s3"), 1);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.sstables_expired, 2);
    fx_free(f);
}

static void test_tombstone_compaction_e2e(void **state)
{
    fx *f = fx_new("tombc", "{'class':'STCS','tombstone_threshold':0.1,"
                            "'tombstone_compaction_interval':50}",
                   10, 1);
    wc_compaction_stats cs;
    char pk[32];

    (void)state;
    for (int i = 0; i < 100; i++) {
        snprintf(pk, sizeof(pk), "t%d", i);
        put(f, pk, 1, fresh_ts(), 0, "x");
        del_row(f, pk, 1, fresh_ts());
    }
    put(f, "keep", 1, fresh_ts(), 0, "live"); /* not fully expired: must be compacted */
    flush(f);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.droppable_tombstones, 0); /* gc_grace not passed */
    now_s += 20;
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.droppable_tombstones, 100);
    assert_true(cs.droppable_tombstone_ratio > 0.3);
    wait_idle(f);
    assert_int_equal(sst_count(f), 1); /* too young for a tombstone compaction */
    now_s += 60;
    wait_idle(f);
    assert_int_equal(sst_count(f), 1);
    assert_int_equal(tombstones(f), 0);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.tombstones_purged, 100);
    assert_int_equal(cs.compactions_completed, 1);
    assert_int_equal(rows_of(f, "t5"), 0);
    assert_int_equal(rows_of(f, "keep"), 1);
    fx_free(f);
}

/*
 * An unchecked tombstone compaction with interval 0 whose tombstones cannot
 * go (older data in another SSTable) must not be redone over and over: its
 * output waits at least an hour before the next tombstone compaction.
 */
static void test_fruitless_tombstone_compaction_not_repeated(void **state)
{
    fx *f = fx_new("fruitless", "{'class':'STCS','min_threshold':32,'tombstone_threshold':0.1,"
                                "'tombstone_compaction_interval':0,"
                                "'unchecked_tombstone_compaction':true}",
                   1, 1);
    wc_compaction_stats cs;
    char pk[32];

    (void)state;
    for (int i = 0; i < 50; i++) {
        snprintf(pk, sizeof(pk), "f%d", i);
        put(f, pk, 1, fresh_ts(), 0, "old");
    }
    flush(f); /* the older data the tombstones shadow */
    for (int i = 0; i < 50; i++) {
        snprintf(pk, sizeof(pk), "f%d", i);
        del_row(f, pk, 1, fresh_ts());
    }
    flush(f);
    now_s += 5; /* past gc_grace: the tombstones look droppable */
    wait_idle(f);
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_int_equal(cs.tombstones_purged, 0); /* they shadow older data: kept */
    assert_true(cs.compactions_completed <= 1);
    /* time passes but less than the back-off: nothing more */
    for (int i = 0; i < 5; i++) {
        now_s += 60;
        wait_idle(f);
    }
    assert_int_equal(wc_engine_compaction_stats(f->e, TID, &cs), WC_OK);
    assert_true(cs.compactions_completed <= 1);
    assert_int_equal(rows_of(f, "f7"), 0);
    fx_free(f);
}

static void test_guardrail(void **state)
{
    fx *f = fx_new("guard", "{'enabled':false}", 864000, 0);
    wc_page *p;

    (void)state;
    for (int i = 0; i < 50; i++) {
        put(f, "g", (uint64_t)i, fresh_ts(), 0, "x");
        del_row(f, "g", (uint64_t)i, fresh_ts());
    }
    put(f, "g", 1000, fresh_ts(), 0, "live");
    assert_int_equal(read_pk(f, "g", 0, &p), WC_OK);
    assert_int_equal(p->nrows, 1);
    assert_int_equal(p->stats.tombstones_scanned, 50);
    wc_page_free(p);
    assert_int_equal(read_pk(f, "g", 50, &p), WC_OK);
    wc_page_free(p);
    assert_int_equal(read_pk(f, "g", 49, &p), WC_OVERLOADED);
    assert_non_null(strstr(wc_last_error(), "read of table ks.guard scanned 50 tombstones"));
    flush(f);
    assert_int_equal(read_pk(f, "g", 10, &p), WC_OVERLOADED);
    fx_free(f);
}

static void test_throttle_and_listing(void **state)
{
    fx *f = fx_new("throttle", "{'class':'STCS','min_threshold':2}", 864000, 0);
    wc_compaction_info *ci;
    size_t n;
    char pk[32];

    (void)state;
    for (int fl = 0; fl < 2; fl++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            put(f, pk, (uint64_t)fl, fresh_ts(), 0, "some value bytes");
        }
        flush(f);
    }
    /* 1 MiB/s: the compaction takes a while; it is listed as running with progress */
    assert_int_equal(wc_engine_set_compaction(f->e, 1, 1), WC_OK);
    for (int tries = 0; tries < 400; tries++) {
        bool running = false;
        assert_int_equal(wc_engine_compactions(f->e, 0, &ci, &n), WC_OK);
        if (n == 1 && ci[0].running) {
            running = true;
            assert_int_equal(ci[0].table_id, TID);
            assert_int_equal(ci[0].ninputs, 2);
            assert_true(ci[0].bytes_done <= ci[0].bytes_total);
        }
        wc_free(ci);
        if (running)
            break;
        usleep(5000);
    }
    assert_int_equal(wc_engine_set_compaction(f->e, 1, 0), WC_OK);
    wait_idle(f);
    assert_int_equal(sst_count(f), 1);
    assert_int_equal(wc_engine_compactions(f->e, TID, &ci, &n), WC_OK);
    assert_int_equal(n, 0);
    wc_free(ci);
    assert_int_equal(wc_engine_compactions(f->e, 999, &ci, &n), WC_NOT_FOUND);
    fx_free(f);
}

static void test_drop_during_compaction(void **state)
{
    fx *f = fx_new("drop", "{'class':'STCS','min_threshold':2}", 864000, 0);
    char pk[32];

    (void)state;
    for (int fl = 0; fl < 2; fl++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            put(f, pk, (uint64_t)fl, fresh_ts(), 0, "some value bytes");
        }
        flush(f);
    }
    assert_int_equal(wc_engine_set_compaction(f->e, 1, 1), WC_OK);
    usleep(30000);
    assert_int_equal(wc_engine_drop_table(f->e, TID), WC_OK);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parse),
        cmocka_unit_test(test_stcs_selection),
        cmocka_unit_test(test_tombstone_selection),
        cmocka_unit_test(test_lcs_selection),
        cmocka_unit_test(test_lcs_l0_size_tiered),
        cmocka_unit_test(test_twcs_selection),
        cmocka_unit_test(test_expired_selection),
        cmocka_unit_test(test_stcs_background),
        cmocka_unit_test(test_disabled_and_runtime_switch),
        cmocka_unit_test(test_lcs_levels_and_read_amp),
        cmocka_unit_test(test_purge_safety),
        cmocka_unit_test(test_purge_blocked_by_memtable),
        cmocka_unit_test(test_twcs_whole_sstable_expiry),
        cmocka_unit_test(test_tombstone_compaction_e2e),
        cmocka_unit_test(test_fruitless_tombstone_compaction_not_repeated),
        cmocka_unit_test(test_guardrail),
        cmocka_unit_test(test_throttle_and_listing),
        cmocka_unit_test(test_drop_during_compaction),
    };
    return cmocka_run_group_tests_name("compaction", tests, NULL, NULL);
}
