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
 *
 * The counter model does the same for counter cells: random batches of
 * increments and decrements (several of one cell in a batch too), row
 * deletions, flushes, compactions and reopenings, each read checked
 * against the plain sums (a deleted counter counts again from 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "engine.h"
#include "model.h"
#include "mutation.h"
#include "row.h"
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

/* ------------------------------------------------------------ counters */

#define CNPK 3
#define CNCK 4
#define CNCOL 3
#define CTID 5

typedef struct counter_model {
    int64_t sum[CNPK][CNCK][CNCOL];
    bool present[CNPK][CNCK][CNCOL];
    int64_t ts;
} counter_model;

static void cpk(int pk, char out[8])
{
    snprintf(out, 8, "c%d", pk);
}

/* A batch of 1..4 mutations of random deltas (or one row deletion), applied to e and the model. */
static void counter_write(wc_model *m, counter_model *cm, wc_engine *e)
{
    wc_mutation muts[4], *mp[4];
    int n = 1 + (int)(wc_model_rnd(m) % 4);
    bool del = wc_model_rnd(m) % 10 == 0;
    int64_t add[CNPK][CNCK][CNCOL];
    bool touched[CNPK][CNCK][CNCOL];

    memset(add, 0, sizeof(add));
    memset(touched, 0, sizeof(touched));
    cm->ts += 1000; /* time moves forward: a deletion shadows the shards before it */
    if (del)
        n = 1;
    for (int i = 0; i < n; i++) {
        int pk = (int)(wc_model_rnd(m) % CNPK), ck = (int)(wc_model_rnd(m) % CNCK);
        char pks[8];
        uint8_t ckb[8];
        wc_rowb *rb;

        cpk(pk, pks);
        wc_test_ck((uint64_t)ck, ckb);
        wc_mutation_init(&muts[i], CTID, pks, strlen(pks));
        mp[i] = &muts[i];
        rb = wc_mutation_row_begin(&muts[i], false, ckb, 8);
        if (del) {
            wc_rowb_deletion(rb, cm->ts, BASE_NOW);
            for (int c = 0; c < CNCOL; c++)
                cm->present[pk][ck][c] = false, cm->sum[pk][ck][c] = 0;
        } else {
            for (int c = 0; c < CNCOL; c++) {
                uint8_t v[WC_COUNTER_DELTA_LEN];
                int64_t d = (int64_t)(wc_model_rnd(m) % 11) - 5;
                wc_cell cell;

                if (wc_model_rnd(m) % 2)
                    continue;
                memset(&cell, 0, sizeof(cell));
                wc_counter_delta_encode(v, d);
                cell.column = (uint32_t)c + 1;
                cell.flags = WC_CELLF_COUNTER_DELTA;
                cell.ts = cm->ts;
                cell.value = v;
                cell.len = sizeof(v);
                wc_rowb_cell(rb, &cell);
                add[pk][ck][c] += d;
                touched[pk][ck][c] = true;
            }
        }
        wc_mutation_row_end(&muts[i]);
    }
    assert_int_equal(wc_engine_apply(e, mp, (size_t)n), WC_OK);
    for (int i = 0; i < n; i++)
        wc_mutation_free(&muts[i]);
    for (int pk = 0; pk < CNPK; pk++)
        for (int ck = 0; ck < CNCK; ck++)
            for (int c = 0; c < CNCOL; c++)
                if (touched[pk][ck][c]) {
                    cm->sum[pk][ck][c] += add[pk][ck][c];
                    cm->present[pk][ck][c] = true;
                }
}

/* Read a whole partition and compare every counter with the model. */
static void counter_check(wc_model *m, counter_model *cm, wc_engine *e)
{
    int pk = (int)(wc_model_rnd(m) % CNPK);
    bool seen[CNCK][CNCOL];
    char pks[8];
    wc_read_request r;
    wc_page *p = NULL;

    memset(seen, 0, sizeof(seen));
    cpk(pk, pks);
    memset(&r, 0, sizeof(r));
    r.table_id = CTID;
    r.pk = (const uint8_t *)pks;
    r.pk_len = strlen(pks);
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = BASE_NOW;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    for (size_t i = 0; i < p->nrows; i++) {
        int ck = (int)wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len);
        for (uint32_t k = 0; k < p->rows[i].ncells; k++) {
            const wc_cell *c = &p->rows[i].cells[k];
            int64_t sum;

            assert_true(c->flags & WC_CELLF_COUNTER);
            assert_true(wc_counter_sum(c->value, c->len, &sum));
            assert_true(cm->present[pk][ck][c->column - 1]);
            assert_int_equal(sum, cm->sum[pk][ck][c->column - 1]);
            seen[ck][c->column - 1] = true;
        }
    }
    wc_page_free(p);
    for (int ck = 0; ck < CNCK; ck++)
        for (int c = 0; c < CNCOL; c++)
            assert_int_equal(seen[ck][c], cm->present[pk][ck][c]);
}

static void run_counter_model(uint64_t seed, int steps)
{
    char *dir = wc_test_tmpdir("cmodel");
    wc_engine *e;
    wc_table_def d;
    wc_model m;
    counter_model cm;

    memset(&cm, 0, sizeof(cm));
    cm.ts = 1000000;
    wc_model_init(&m, &CONFIG, seed, BASE_NOW);
    assert_non_null(dir);
    assert_int_equal(open_model(&m, dir, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = CTID;
    snprintf(d.name, sizeof(d.name), "ks.counters");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int step = 0; step < steps; step++) {
        int r = (int)(wc_model_rnd(&m) % 1000);
        if (r < 650) {
            counter_write(&m, &cm, e);
        } else if (r < 970) {
            counter_check(&m, &cm, e);
        } else if (r < 985) {
            assert_int_equal(wc_engine_flush(e, CTID, true), WC_OK);
        } else if (r < 992) {
            assert_int_equal(wc_engine_compact(e, CTID), WC_OK);
        } else {
            wc_engine_close(e);
            assert_int_equal(open_model(&m, dir, &e), WC_OK);
        }
    }
    for (int i = 0; i < 30; i++)
        counter_check(&m, &cm, e);
    wc_engine_close(e);
    wc_model_free(&m);
    wc_test_rmrf(dir);
    free(dir);
}

static void test_counter_model(void **state)
{
    wc_model_rounds(3000, run_counter_model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_counter_model),
    };
    return cmocka_run_group_tests_name("engine_model", tests, NULL, NULL);
}
