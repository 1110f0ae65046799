/*
 * engine_model_test.c - long random sequences of writes, overwrites, cell,
 * row, range and partition deletes, TTLs, flushes and reopenings, checked
 * read by read against the brute-force model of model.h.
 *
 * Timestamps are unique but arrive in random order, so older writes keep
 * landing behind newer ones and deletions; deletions all record BASE_NOW as
 * their local deletion time (nothing is purged here: compaction_model_test.c
 * covers gc_grace).  Seeds come from WC_MODEL_SEED or the clock, and the
 * seed is printed so a failure can be replayed.
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

#define NPK 6
#define TID 3
#define BASE_NOW 1700000000u

/* unique, in random order */
static int64_t random_ts(wc_model *m)
{
    return (int64_t)(((wc_model_rnd(m) % 1000000) << 20) | (++m->ts_counter & 0xfffff));
}

static const wc_model_config CONFIG = {
    .table_id = TID,
    .npk = NPK,
    .max_ttl = 100,
    .deletion_ldt = BASE_NOW,
    .fresh_ts = random_ts,
};

static wc_status open_model(wc_model *m, const char *dir, wc_engine **e)
{
    /* tiny memtables so flushes happen on their own too */
    return wc_test_open_clock(dir, WC_SYNC_PERIODIC, 16 * 1024, wc_model_clock, m, e);
}

static void run_model(uint64_t seed, int steps)
{
    char *dir = wc_test_tmpdir("model");
    wc_engine *e;
    wc_table_def d;
    wc_model m;

    wc_model_init(&m, &CONFIG, seed, BASE_NOW);
    assert_non_null(dir);
    assert_int_equal(open_model(&m, dir, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "ks.model");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int step = 0; step < steps; step++) {
        int r = (int)(wc_model_rnd(&m) % 1000);
        if (wc_model_rnd(&m) % 8 == 0)
            wc_model_advance(&m, 1);
        if (r < 700) {
            wc_model_write(&m, e);
        } else if (r < 970) {
            wc_model_check_read(&m, e);
        } else if (r < 985) {
            assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
        } else if (r < 990) {
            assert_int_equal(wc_engine_compact(e, TID), WC_OK);
        } else {
            wc_engine_close(e);
            assert_int_equal(open_model(&m, dir, &e), WC_OK);
        }
    }
    for (int i = 0; i < 200; i++) {
        wc_model_check_read(&m, e);
        wc_model_advance(&m, 1);
    }
    wc_engine_close(e);
    wc_model_free(&m);
    wc_test_rmrf(dir);
    free(dir);
}

static void test_model(void **state)
{
    wc_model_rounds(6000, run_model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests_name("engine_model", tests, NULL, NULL);
}
