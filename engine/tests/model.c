/*
 * model.c - the brute-force model behind the model-based engine tests; see
 * model.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "testutil.h"

#define NCK WC_MODEL_NCK
#define NCOL WC_MODEL_NCOL

void wc_model_init(wc_model *m, const wc_model_config *cfg, uint64_t seed, int64_t now)
{
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->rng = seed ? seed : 88172645463325252ull;
    m->now = now;
}

void wc_model_free(wc_model *m)
{
    free(m->ops);
    m->ops = NULL;
    m->nops = m->capops = 0;
}

uint64_t wc_model_rnd(wc_model *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

int64_t wc_model_clock(void *arg)
{
    /* Background flush and compaction threads read the clock while the test advances it. */
    return __atomic_load_n(&((const wc_model *)arg)->now, __ATOMIC_RELAXED);
}

void wc_model_advance(wc_model *m, int64_t secs)
{
    __atomic_store_n(&m->now, m->now + secs, __ATOMIC_RELAXED);
}

static void wc__model_add(wc_model *m, const wc_model_op *o)
{
    if (m->nops == m->capops) {
        m->capops = m->capops ? m->capops * 2 : 1024;
        m->ops = realloc(m->ops, m->capops * sizeof(*m->ops));
        assert_non_null(m->ops);
    }
    m->ops[m->nops++] = *o;
}

static void wc__model_pkname(int pk, char *out)
{
    sprintf(out, "pk%d", pk);
}

/* ------------------------------------------------------------------ model */

typedef struct wc__model_cell {
    bool present;
    int64_t ts;
    bool tomb;
    uint32_t ttl, ldt;
    const char *val;
} wc__model_cell;

/* Expected live state of (pk, ck) at now: returns true if the row is live. */
static bool wc__model_row(const wc_model *m, int pk, int ck, int64_t now,
                          const char **vals /* NCOL */)
{
    int64_t shadow = INT64_MIN, live_ts = INT64_MIN;
    uint32_t live_ttl = 0, live_ldt = 0;
    wc__model_cell cells[NCOL];
    bool live = false;

    memset(cells, 0, sizeof(cells));
    for (size_t i = 0; i < m->nops; i++) {
        const wc_model_op *o = &m->ops[i];
        if (o->pk != pk)
            continue;
        switch (o->kind) {
        case WC_MODEL_PART_DEL:
            if (o->ts > shadow)
                shadow = o->ts;
            break;
        case WC_MODEL_RANGE_DEL:
            if ((o->lo < 0 || ck >= o->lo) && (o->hi < 0 || ck <= o->hi) && o->ts > shadow)
                shadow = o->ts;
            break;
        case WC_MODEL_ROW_DEL:
            if (o->ck == ck && o->ts > shadow)
                shadow = o->ts;
            break;
        case WC_MODEL_ROW_LIVE:
            if (o->ck == ck && o->ts > live_ts) {
                live_ts = o->ts;
                live_ttl = o->ttl;
                live_ldt = o->ldt;
            }
            break;
        case WC_MODEL_CELL:
        case WC_MODEL_CELL_DEL:
            if (o->ck == ck && (!cells[o->col].present || o->ts > cells[o->col].ts)) {
                wc__model_cell *c = &cells[o->col];
                c->present = true;
                c->ts = o->ts;
                c->tomb = o->kind == WC_MODEL_CELL_DEL;
                c->ttl = o->ttl;
                c->ldt = o->ldt;
                c->val = o->val;
            }
            break;
        }
    }
    if (live_ts > shadow && (live_ttl == 0 || now < live_ldt))
        live = true;
    for (int c = 0; c < NCOL; c++) {
        wc__model_cell *mc = &cells[c];
        vals[c] = NULL;
        if (!mc->present || mc->tomb || mc->ts <= shadow || (mc->ttl && now >= mc->ldt))
            continue;
        vals[c] = mc->val;
        live = true;
    }
    return live;
}

/* ------------------------------------------------------------------ engine side */

static wc_status wc__model_apply(const wc_model *m, wc_engine *e, const wc_model_op *o)
{
    wc_status st;
    wc_mutation mu;
    wc_mutation *mp = &mu;
    char pk[16];
    uint8_t ck[8], ck2[8];

    wc__model_pkname(o->pk, pk);
    wc_mutation_init(&mu, m->cfg.table_id, pk, strlen(pk));
    wc_test_ck((uint64_t)o->ck, ck);
    switch (o->kind) {
    case WC_MODEL_CELL:
    case WC_MODEL_CELL_DEL: {
        wc_cell c = {.column = (uint32_t)o->col, .ts = o->ts};
        if (o->kind == WC_MODEL_CELL_DEL) {
            c.flags = WC_CELLF_TOMBSTONE;
            c.ldt = o->ldt;
        } else {
            c.value = (const uint8_t *)o->val;
            c.len = strlen(o->val);
            if (o->ttl) {
                c.flags = WC_CELLF_EXPIRING;
                c.ttl = o->ttl;
                c.ldt = o->ldt;
            }
        }
        wc_rowb_cell(wc_mutation_row_begin(&mu, false, ck, 8), &c);
        wc_mutation_row_end(&mu);
        break;
    }
    case WC_MODEL_ROW_LIVE:
        wc_rowb_liveness(wc_mutation_row_begin(&mu, false, ck, 8), o->ts, o->ttl, o->ldt);
        wc_mutation_row_end(&mu);
        break;
    case WC_MODEL_ROW_DEL:
        wc_rowb_deletion(wc_mutation_row_begin(&mu, false, ck, 8), o->ts, o->ldt);
        wc_mutation_row_end(&mu);
        break;
    case WC_MODEL_RANGE_DEL: {
        wc_range_tombstone rt = {.ts = o->ts, .ldt = o->ldt};
        if (o->lo < 0) {
            rt.bflags |= WC_BOUND_START_UNBOUNDED;
        } else {
            wc_test_ck((uint64_t)o->lo, ck);
            rt.start = ck;
            rt.start_len = 8;
            rt.bflags |= WC_BOUND_START_INCL;
        }
        if (o->hi < 0) {
            rt.bflags |= WC_BOUND_END_UNBOUNDED;
        } else {
            wc_test_ck((uint64_t)o->hi, ck2);
            rt.end = ck2;
            rt.end_len = 8;
            rt.bflags |= WC_BOUND_END_INCL;
        }
        wc_mutation_delete_range(&mu, &rt);
        break;
    }
    case WC_MODEL_PART_DEL:
        wc_mutation_delete_partition(&mu, o->ts, o->ldt);
        break;
    }
    st = wc_engine_apply(e, &mp, 1);
    wc_mutation_free(&mu);
    return st;
}

static uint32_t wc__model_deletion_ldt(const wc_model *m)
{
    return m->cfg.deletion_ldt ? m->cfg.deletion_ldt : (uint32_t)m->now;
}

static wc_model_op wc__model_random_op(wc_model *m)
{
    wc_model_op o;
    int r = (int)(wc_model_rnd(m) % 100);

    memset(&o, 0, sizeof(o));
    o.pk = (int)(wc_model_rnd(m) % (uint64_t)m->cfg.npk);
    o.ck = (int)(wc_model_rnd(m) % NCK);
    o.col = (int)(wc_model_rnd(m) % NCOL);
    o.ts = m->cfg.fresh_ts(m);
    if (r < 50) {
        o.kind = WC_MODEL_CELL;
        snprintf(o.val, sizeof(o.val), "v%llu", (unsigned long long)(wc_model_rnd(m) % 100000));
        if (wc_model_rnd(m) % 5 == 0) {
            o.ttl = 1 + (uint32_t)(wc_model_rnd(m) % m->cfg.max_ttl);
            o.ldt = (uint32_t)m->now + o.ttl;
        }
    } else if (r < 62) {
        o.kind = WC_MODEL_ROW_LIVE;
        if (wc_model_rnd(m) % 4 == 0) {
            o.ttl = 1 + (uint32_t)(wc_model_rnd(m) % m->cfg.max_ttl);
            o.ldt = (uint32_t)m->now + o.ttl;
        }
    } else if (r < 75) {
        o.kind = WC_MODEL_CELL_DEL;
        o.ldt = wc__model_deletion_ldt(m);
    } else if (r < 87) {
        o.kind = WC_MODEL_ROW_DEL;
        o.ldt = wc__model_deletion_ldt(m);
    } else if (r < 97) {
        o.kind = WC_MODEL_RANGE_DEL;
        o.ldt = wc__model_deletion_ldt(m);
        o.lo = (int)(wc_model_rnd(m) % (NCK + 4)) - 4;
        o.hi = o.lo < 0 ? (int)(wc_model_rnd(m) % NCK) : o.lo + (int)(wc_model_rnd(m) % 6);
        if (o.lo < -1)
            o.lo = -1;
        if (wc_model_rnd(m) % 6 == 0)
            o.hi = -1;
    } else {
        o.kind = WC_MODEL_PART_DEL;
        o.ldt = wc__model_deletion_ldt(m);
    }
    return o;
}

void wc_model_write(wc_model *m, wc_engine *e)
{
    wc_model_op o = wc__model_random_op(m);

    wc__model_add(m, &o);
    assert_int_equal(wc__model_apply(m, e, &o), WC_OK);
}

wc_status wc_model_try_write(wc_model *m, wc_engine *e)
{
    wc_model_op o = wc__model_random_op(m);

    wc__model_add(m, &o);
    return wc__model_apply(m, e, &o);
}

bool wc_model_matches(wc_model *m, wc_engine *e, size_t nops, char *why, size_t whylen)
{
    size_t all = m->nops;
    bool ok = true;

    m->nops = nops < all ? nops : all;
    for (int pk = 0; ok && pk < m->cfg.npk; pk++) {
        wc_read_request r;
        wc_page *p;
        char pkn[16];
        size_t row = 0;
        wc_status st;

        wc__model_pkname(pk, pkn);
        memset(&r, 0, sizeof(r));
        r.table_id = m->cfg.table_id;
        r.pk = (const uint8_t *)pkn;
        r.pk_len = strlen(pkn);
        r.start.unbounded = r.end.unbounded = true;
        r.now_sec = m->now;
        r.page_rows = 10000;
        st = wc_engine_read(e, &r, &p);
        if (st != WC_OK) {
            snprintf(why, whylen, "read of %s failed: %s %s", pkn, wc_status_name(st),
                     wc_last_error());
            ok = false;
            break;
        }
        for (int ck = 0; ok && ck < NCK; ck++) {
            const char *vals[NCOL];
            const wc_result_row *rr;

            if (!wc__model_row(m, pk, ck, m->now, vals))
                continue;
            if (row >= p->nrows || wc_test_ck_value((rr = &p->rows[row])->ck,
                                                    p->rows[row].ck_len) != (uint64_t)ck) {
                snprintf(why, whylen, "%s ck%d missing", pkn, ck);
                ok = false;
                break;
            }
            for (uint32_t c = 0; c < NCOL; c++) {
                const wc_cell *cell = wc_test_cell(rr, c);

                if ((cell == NULL) != (vals[c] == NULL) ||
                    (cell && (cell->len != strlen(vals[c]) ||
                              memcmp(cell->value, vals[c], cell->len) != 0))) {
                    snprintf(why, whylen, "%s ck%d col%u: %s, expected %s", pkn, ck, c,
                             cell ? "a different cell" : "no cell", vals[c] ? vals[c] : "none");
                    ok = false;
                    break;
                }
            }
            row++;
        }
        if (ok && row != p->nrows) {
            snprintf(why, whylen, "%s has %zu rows, expected %zu", pkn, p->nrows, row);
            ok = false;
        }
        wc_page_free(p);
    }
    m->nops = all;
    return ok;
}

void wc_model_check_read(wc_model *m, wc_engine *e)
{
    int pk = (int)(wc_model_rnd(m) % (uint64_t)m->cfg.npk);
    bool reverse = wc_model_rnd(m) % 2;
    int lo = (int)(wc_model_rnd(m) % (NCK + 2)) - 2, hi = (int)(wc_model_rnd(m) % (NCK + 2)) - 2;
    bool lo_incl = wc_model_rnd(m) % 2, hi_incl = wc_model_rnd(m) % 2;
    uint64_t limit = wc_model_rnd(m) % 3 == 0 ? 1 + wc_model_rnd(m) % 5 : 0;
    int64_t now = m->now;
    uint32_t cols[NCOL];
    size_t ncols = 0;
    bool colfilter = wc_model_rnd(m) % 3 == 0;
    wc_read_request r;
    wc_page *p;
    char pkn[16];
    uint8_t lob[8], hib[8];
    int expect[NCK], nexpect = 0;
    size_t row = 0;

    if (colfilter)
        for (uint32_t c = 0; c < NCOL; c++)
            if (wc_model_rnd(m) % 2)
                cols[ncols++] = c;
    wc__model_pkname(pk, pkn);
    memset(&r, 0, sizeof(r));
    r.table_id = m->cfg.table_id;
    r.pk = (const uint8_t *)pkn;
    r.pk_len = strlen(pkn);
    r.reverse = reverse;
    r.limit = limit;
    r.now_sec = now;
    r.page_rows = 10000;
    r.columns = colfilter ? cols : NULL;
    r.ncolumns = ncols;
    r.start.unbounded = lo < 0;
    r.end.unbounded = hi < 0;
    if (lo >= 0) {
        wc_test_ck((uint64_t)lo, lob);
        r.start.key = lob;
        r.start.len = 8;
        r.start.inclusive = lo_incl;
    }
    if (hi >= 0) {
        wc_test_ck((uint64_t)hi, hib);
        r.end.key = hib;
        r.end.len = 8;
        r.end.inclusive = hi_incl;
    }
    for (int i = 0; i < NCK; i++) {
        int ck = reverse ? NCK - 1 - i : i;
        const char *vals[NCOL];
        if (lo >= 0 && (ck < lo || (ck == lo && !lo_incl)))
            continue;
        if (hi >= 0 && (ck > hi || (ck == hi && !hi_incl)))
            continue;
        if (wc__model_row(m, pk, ck, now, vals))
            expect[nexpect++] = ck;
    }
    if (limit && (uint64_t)nexpect > limit)
        nexpect = (int)limit;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    if ((int)p->nrows != nexpect)
        fail_msg("pk%d rows %zu expected %d (reverse %d lo %d hi %d now %lld)", pk, p->nrows,
                 nexpect, reverse, lo, hi, (long long)now);
    for (row = 0; row < p->nrows; row++) {
        const wc_result_row *rr = &p->rows[row];
        const char *vals[NCOL];
        int ck = expect[row];
        assert_int_equal(wc_test_ck_value(rr->ck, rr->ck_len), (uint64_t)ck);
        wc__model_row(m, pk, ck, now, vals);
        for (uint32_t c = 0; c < NCOL; c++) {
            const wc_cell *cell = wc_test_cell(rr, c);
            bool wanted = !colfilter;
            for (size_t j = 0; j < ncols; j++)
                wanted |= cols[j] == c;
            if (!wanted || vals[c] == NULL) {
                if (cell != NULL)
                    fail_msg("pk%d ck%d col%u: unexpected cell", pk, ck, c);
                continue;
            }
            if (cell == NULL)
                fail_msg("pk%d ck%d col%u: missing cell %s", pk, ck, c, vals[c]);
            assert_int_equal(cell->len, strlen(vals[c]));
            assert_memory_equal(cell->value, vals[c], cell->len);
        }
    }
    wc_page_free(p);
}

void wc_model_rounds(int default_steps, void (*run)(uint64_t seed, int steps))
{
    const char *s = getenv("WC_MODEL_SEED");
    const char *n = getenv("WC_MODEL_STEPS");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    int steps = n ? atoi(n) : default_steps;

    for (int round = 0; round < 4; round++) {
        uint64_t sd = seed + (uint64_t)round * 7919;
        printf("model seed %llu (set WC_MODEL_SEED to replay)\n", (unsigned long long)sd);
        run(sd, steps);
    }
}
