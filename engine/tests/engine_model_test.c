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
 *
 * The collection model does the same for collection cells: element writes
 * (some with a TTL of their own), removals, whole replacements and row
 * deletions with timestamps in random order, while the clock moves on,
 * each read checked against per-element last-write-wins (an expired
 * element is a tombstone of its write time, so older writes of that
 * element that arrive later stay shadowed, also after a compaction).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection.h"
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

/* ------------------------------------------------------------ collections */

#define LNPK 2
#define LNCK 3
#define LNKEY 6
#define LTID 6

typedef struct coll_elem_model {
    int64_t ts; /* INT64_MIN: never written */
    bool tomb;
    uint8_t val;
    uint32_t expires; /* 0: no TTL; else dead from this second on */
} coll_elem_model;

typedef struct coll_model {
    int64_t coll_del[LNPK][LNCK]; /* INT64_MIN: none */
    int64_t row_del[LNPK][LNCK];
    coll_elem_model e[LNPK][LNCK][LNKEY];
    uint32_t writes;
} coll_model;

/* Timestamps in random order, never equal: random high bits, a write counter below. */
static int64_t coll_ts(wc_model *m, coll_model *cm)
{
    return (int64_t)((wc_model_rnd(m) % 64) << 20) + (int64_t)(++cm->writes) + 1000000;
}

static void coll_elem_apply(coll_elem_model *em, int64_t ts, bool tomb, uint8_t val,
                            uint32_t expires)
{
    if (ts > em->ts) {
        em->ts = ts;
        em->tomb = tomb;
        em->val = val;
        em->expires = expires;
    }
}

/* One write: element adds/removes, a replacement, or a row deletion; to e and the model. */
static void coll_write(wc_model *m, coll_model *cm, wc_engine *e)
{
    int pk = (int)(wc_model_rnd(m) % LNPK), ck = (int)(wc_model_rnd(m) % LNCK);
    int kind = (int)(wc_model_rnd(m) % 10);
    int64_t ts = coll_ts(m, cm);
    char pks[8];
    uint8_t ckb[8];
    wc_mutation mu, *mp = &mu;
    wc_rowb *rb;
    wc_buf v;
    wc_collb cb;
    wc_cell cell;

    snprintf(pks, sizeof(pks), "l%d", pk);
    wc_test_ck((uint64_t)ck, ckb);
    wc_mutation_init(&mu, LTID, pks, strlen(pks));
    rb = wc_mutation_row_begin(&mu, false, ckb, 8);
    if (kind == 0) {
        wc_rowb_deletion(rb, ts, BASE_NOW);
        if (ts > cm->row_del[pk][ck])
            cm->row_del[pk][ck] = ts;
    } else {
        wc_buf_init(&v);
        wc_collb_begin(&cb, &v);
        if (kind == 1) { /* a replacement: tombstone at ts - 1 */
            wc_collb_deletion(&cb, ts - 1, BASE_NOW);
            if (ts - 1 > cm->coll_del[pk][ck])
                cm->coll_del[pk][ck] = ts - 1;
        }
        for (int k = 0; k < LNKEY; k++) {
            wc_coll_elem el;
            uint8_t key = (uint8_t)('a' + k), val = (uint8_t)('0' + wc_model_rnd(m) % 10);

            if (wc_model_rnd(m) % 3 != 0)
                continue;
            memset(&el, 0, sizeof(el));
            el.key = &key;
            el.key_len = 1;
            el.ts = ts;
            el.flags = (kind != 1 && wc_model_rnd(m) % 3 == 0) ? WC_CELLF_TOMBSTONE : 0;
            if (el.flags) {
                el.ldt = BASE_NOW;
            } else {
                el.value = &val;
                el.len = 1;
                if (wc_model_rnd(m) % 3 == 0) { /* CQL's USING TTL on this element */
                    el.flags = WC_CELLF_EXPIRING;
                    el.ttl = 1 + (uint32_t)(wc_model_rnd(m) % 20);
                    el.ldt = (uint32_t)m->now + el.ttl;
                }
            }
            wc_collb_elem(&cb, &el);
            coll_elem_apply(&cm->e[pk][ck][k], ts, (el.flags & WC_CELLF_TOMBSTONE) != 0, val,
                            (el.flags & WC_CELLF_EXPIRING) ? el.ldt : 0);
        }
        if (cb.n == 0 && !cb.deleted) {
            wc_buf_free(&v);
            wc_mutation_row_end(&mu);
            wc_mutation_free(&mu);
            return;
        }
        assert_true(wc_collb_end(&cb) > 0);
        memset(&cell, 0, sizeof(cell));
        cell.column = 1;
        cell.flags = WC_CELLF_COLLECTION;
        cell.ts = cb.max_ts;
        cell.value = v.data;
        cell.len = v.len;
        wc_rowb_cell(rb, &cell);
        wc_buf_free(&v);
    }
    wc_mutation_row_end(&mu);
    assert_int_equal(wc_engine_apply(e, &mp, 1), WC_OK);
    wc_mutation_free(&mu);
}

/* Read a partition and compare every collection with the model's live elements. */
static void coll_check(wc_model *m, coll_model *cm, wc_engine *e)
{
    int pk = (int)(wc_model_rnd(m) % LNPK);
    char pks[8], want[LNCK][LNKEY * 3 + 1], got[LNCK][LNKEY * 3 + 1];
    wc_read_request r;
    wc_page *p = NULL;

    snprintf(pks, sizeof(pks), "l%d", pk);
    for (int ck = 0; ck < LNCK; ck++) {
        int64_t shadow = cm->coll_del[pk][ck] > cm->row_del[pk][ck] ? cm->coll_del[pk][ck]
                                                                    : cm->row_del[pk][ck];
        size_t n = 0;

        for (int k = 0; k < LNKEY; k++) {
            const coll_elem_model *em = &cm->e[pk][ck][k];
            if (em->ts != INT64_MIN && !em->tomb && em->ts > shadow &&
                (em->expires == 0 || m->now < (int64_t)em->expires)) {
                want[ck][n++] = (char)('a' + k);
                want[ck][n++] = (char)em->val;
                want[ck][n++] = ' ';
            }
        }
        want[ck][n] = '\0';
        got[ck][0] = '\0';
    }
    memset(&r, 0, sizeof(r));
    r.table_id = LTID;
    r.pk = (const uint8_t *)pks;
    r.pk_len = strlen(pks);
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = m->now;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    for (size_t i = 0; i < p->nrows; i++) {
        int ck = (int)wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len);
        for (uint32_t c = 0; c < p->rows[i].ncells; c++) {
            const wc_cell *cell = &p->rows[i].cells[c];
            const uint8_t *q = cell->value, *end = cell->value + cell->len, *k = NULL, *val = NULL;
            size_t kl = 0, vl = 0, o = 0;
            uint64_t n = 0;

            assert_true(cell->flags & WC_CELLF_COLLECTION);
            assert_true(wc_get_varint(&q, end, &n));
            for (uint64_t j = 0; j < n; j++) {
                assert_true(wc_get_bytes(&q, end, &k, &kl) && kl == 1);
                assert_true(wc_get_bytes(&q, end, &val, &vl) && vl == 1);
                got[ck][o++] = (char)k[0];
                got[ck][o++] = (char)val[0];
                got[ck][o++] = ' ';
            }
            got[ck][o] = '\0';
        }
    }
    wc_page_free(p);
    for (int ck = 0; ck < LNCK; ck++)
        assert_string_equal(got[ck], want[ck]);
}

static void run_coll_model(uint64_t seed, int steps)
{
    char *dir = wc_test_tmpdir("lmodel");
    wc_engine *e;
    wc_table_def d;
    wc_model m;
    coll_model cm;

    memset(&cm, 0, sizeof(cm));
    for (int pk = 0; pk < LNPK; pk++)
        for (int ck = 0; ck < LNCK; ck++) {
            cm.coll_del[pk][ck] = cm.row_del[pk][ck] = INT64_MIN;
            for (int k = 0; k < LNKEY; k++)
                cm.e[pk][ck][k].ts = INT64_MIN;
        }
    wc_model_init(&m, &CONFIG, seed, BASE_NOW);
    assert_non_null(dir);
    assert_int_equal(open_model(&m, dir, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = LTID;
    snprintf(d.name, sizeof(d.name), "ks.collections");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int step = 0; step < steps; step++) {
        int r = (int)(wc_model_rnd(&m) % 1000);
        if (wc_model_rnd(&m) % 16 == 0)
            wc_model_advance(&m, 1);
        if (r < 650) {
            coll_write(&m, &cm, e);
        } else if (r < 970) {
            coll_check(&m, &cm, e);
        } else if (r < 985) {
            assert_int_equal(wc_engine_flush(e, LTID, true), WC_OK);
        } else if (r < 992) {
            assert_int_equal(wc_engine_compact(e, LTID), WC_OK);
        } else {
            wc_engine_close(e);
            assert_int_equal(open_model(&m, dir, &e), WC_OK);
        }
    }
    for (int i = 0; i < 30; i++) {
        coll_check(&m, &cm, e);
        wc_model_advance(&m, 1);
    }
    wc_engine_close(e);
    wc_model_free(&m);
    wc_test_rmrf(dir);
    free(dir);
}

static void test_collection_model(void **state)
{
    wc_model_rounds(3000, run_coll_model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_counter_model),
        cmocka_unit_test(test_collection_model),
    };
    return cmocka_run_group_tests_name("engine_model", tests, NULL, NULL);
}
