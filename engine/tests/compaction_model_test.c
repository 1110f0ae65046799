/*
 * compaction_model_test.c - long random sequences of writes, overwrites,
 * cell, row, range and partition deletes and TTLs while background
 * compaction runs under every strategy (STCS, LCS, TWCS, switched at
 * random with ALTER), with explicit majors, flushes, reopenings, a small
 * gc_grace and a test clock that jumps so tombstones become purgeable and
 * TTLs expire; every read is checked against a brute-force model.
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
#include <string.h>
#include <time.h>

#include "engine.h"
#include "keys.h"
#include "testutil.h"

#define NPK 12
#define NCK 24
#define NCOL 4
#define TID 5
#define GC_GRACE 4
#define BASE_NOW 1700000000u

enum { OP_CELL, OP_CELL_DEL, OP_ROW_LIVE, OP_ROW_DEL, OP_RANGE_DEL, OP_PART_DEL };

typedef struct op {
    int kind;
    int pk, ck, col;
    int lo, hi; /* range: [lo, hi] inclusive, -1 = unbounded */
    int64_t ts;
    uint32_t ttl, ldt; /* ttl: expires at ldt */
    char val[16];
} op;

static op *ops;
static size_t nops, capops;
static uint64_t rng;
static int64_t model_now = BASE_NOW; /* moves forward only, like real time */

static int64_t model_clock(void *arg)
{
    (void)arg;
    return model_now;
}

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t fresh_ts(void)
{
    static uint64_t counter;
    /* increasing with the clock, unique */
    return model_now * 1000000 + (int64_t)(++counter % 1000000);
}

static void add_op(op o)
{
    if (nops == capops) {
        capops = capops ? capops * 2 : 1024;
        ops = realloc(ops, capops * sizeof(*ops));
    }
    ops[nops++] = o;
}

static void pkname(int pk, char *out)
{
    sprintf(out, "pk%d", pk);
}

/* ------------------------------------------------------------------ model */

typedef struct mcell {
    bool present;
    int64_t ts;
    bool tomb;
    uint32_t ttl, ldt;
    const char *val;
} mcell;

/* Expected live state of (pk, ck) at now: returns true if the row is live. */
static bool model_row(int pk, int ck, int64_t now, const char **vals /* NCOL */)
{
    int64_t shadow = INT64_MIN, live_ts = INT64_MIN;
    uint32_t live_ttl = 0, live_ldt = 0;
    mcell cells[NCOL];
    bool live = false;

    memset(cells, 0, sizeof(cells));
    for (size_t i = 0; i < nops; i++) {
        const op *o = &ops[i];
        if (o->pk != pk)
            continue;
        switch (o->kind) {
        case OP_PART_DEL:
            if (o->ts > shadow)
                shadow = o->ts;
            break;
        case OP_RANGE_DEL:
            if ((o->lo < 0 || ck >= o->lo) && (o->hi < 0 || ck <= o->hi) && o->ts > shadow)
                shadow = o->ts;
            break;
        case OP_ROW_DEL:
            if (o->ck == ck && o->ts > shadow)
                shadow = o->ts;
            break;
        case OP_ROW_LIVE:
            if (o->ck == ck && o->ts > live_ts) {
                live_ts = o->ts;
                live_ttl = o->ttl;
                live_ldt = o->ldt;
            }
            break;
        case OP_CELL:
        case OP_CELL_DEL:
            if (o->ck == ck && (!cells[o->col].present || o->ts > cells[o->col].ts)) {
                mcell *c = &cells[o->col];
                c->present = true;
                c->ts = o->ts;
                c->tomb = o->kind == OP_CELL_DEL;
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
        mcell *m = &cells[c];
        vals[c] = NULL;
        if (!m->present || m->tomb || m->ts <= shadow || (m->ttl && now >= m->ldt))
            continue;
        vals[c] = m->val;
        live = true;
    }
    return live;
}

/* ------------------------------------------------------------------ engine side */

static void apply_op(wc_engine *e, const op *o)
{
    wc_mutation m;
    wc_mutation *mp = &m;
    char pk[16];
    uint8_t ck[8], ck2[8];

    pkname(o->pk, pk);
    wc_mutation_init(&m, TID, pk, strlen(pk));
    wc_test_ck((uint64_t)o->ck, ck);
    switch (o->kind) {
    case OP_CELL:
    case OP_CELL_DEL: {
        wc_cell c = {.column = (uint32_t)o->col, .ts = o->ts};
        if (o->kind == OP_CELL_DEL) {
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
        wc_rowb_cell(wc_mutation_row_begin(&m, false, ck, 8), &c);
        wc_mutation_row_end(&m);
        break;
    }
    case OP_ROW_LIVE:
        wc_rowb_liveness(wc_mutation_row_begin(&m, false, ck, 8), o->ts, o->ttl, o->ldt);
        wc_mutation_row_end(&m);
        break;
    case OP_ROW_DEL:
        wc_rowb_deletion(wc_mutation_row_begin(&m, false, ck, 8), o->ts, o->ldt);
        wc_mutation_row_end(&m);
        break;
    case OP_RANGE_DEL: {
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
        wc_mutation_delete_range(&m, &rt);
        break;
    }
    case OP_PART_DEL:
        wc_mutation_delete_partition(&m, o->ts, o->ldt);
        break;
    }
    assert_int_equal(wc_engine_apply(e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

static op random_op(void)
{
    op o;
    int r = (int)(rnd() % 100);

    memset(&o, 0, sizeof(o));
    o.pk = (int)(rnd() % NPK);
    o.ck = (int)(rnd() % NCK);
    o.col = (int)(rnd() % NCOL);
    o.ts = fresh_ts();
    o.ldt = (uint32_t)model_now; /* deletions: now; TTL cells override below */
    if (r < 50) {
        o.kind = OP_CELL;
        snprintf(o.val, sizeof(o.val), "v%llu", (unsigned long long)(rnd() % 100000));
        if (rnd() % 5 == 0) {
            o.ttl = 1 + (uint32_t)(rnd() % 20);
            o.ldt = (uint32_t)model_now + o.ttl;
        }
    } else if (r < 62) {
        o.kind = OP_ROW_LIVE;
        o.ldt = 0;
        if (rnd() % 4 == 0) {
            o.ttl = 1 + (uint32_t)(rnd() % 20);
            o.ldt = (uint32_t)model_now + o.ttl;
        }
    } else if (r < 75) {
        o.kind = OP_CELL_DEL;
    } else if (r < 87) {
        o.kind = OP_ROW_DEL;
    } else if (r < 97) {
        o.kind = OP_RANGE_DEL;
        o.lo = (int)(rnd() % (NCK + 4)) - 4;
        o.hi = o.lo < 0 ? (int)(rnd() % NCK) : o.lo + (int)(rnd() % 6);
        if (o.lo < -1)
            o.lo = -1;
        if (rnd() % 6 == 0)
            o.hi = -1;
    } else {
        o.kind = OP_PART_DEL;
    }
    return o;
}

static void check_read(wc_engine *e)
{
    int pk = (int)(rnd() % NPK);
    bool reverse = rnd() % 2;
    int lo = (int)(rnd() % (NCK + 2)) - 2, hi = (int)(rnd() % (NCK + 2)) - 2;
    bool lo_incl = rnd() % 2, hi_incl = rnd() % 2;
    uint64_t limit = rnd() % 3 == 0 ? 1 + rnd() % 5 : 0;
    int64_t now = model_now;
    uint32_t cols[NCOL];
    size_t ncols = 0;
    bool colfilter = rnd() % 3 == 0;
    wc_read_request r;
    wc_page *p;
    char pkn[16];
    uint8_t lob[8], hib[8];
    int expect[NCK], nexpect = 0;
    size_t row = 0;

    if (colfilter)
        for (uint32_t c = 0; c < NCOL; c++)
            if (rnd() % 2)
                cols[ncols++] = c;
    pkname(pk, pkn);
    memset(&r, 0, sizeof(r));
    r.table_id = TID;
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
        if (model_row(pk, ck, now, vals))
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
        model_row(pk, ck, now, vals);
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

static wc_status open_model(const char *dir, wc_engine **e)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = dir;
    o.memtable_bytes = 8 * 1024; /* tiny memtables: flushes happen on their own too */
    o.segment_bytes = 1u << 20;
    o.cache_bytes = 1u << 20;
    o.block_bytes = 512;
    o.clock = model_clock;
    o.compaction_threads = 1 + (uint32_t)(rnd() % 2);
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

    rng = seed ? seed : 88172645463325252ull;
    nops = 0;
    assert_non_null(dir);
    model_now = BASE_NOW;
    assert_int_equal(open_model(dir, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = TID;
    d.gc_grace_seconds = GC_GRACE;
    snprintf(d.name, sizeof(d.name), "ks.cmodel");
    snprintf(d.compaction, sizeof(d.compaction), "%s", STRATEGIES[rnd() % NSTRATEGIES]);
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int step = 0; step < steps; step++) {
        int r = (int)(rnd() % 1000);
        if (rnd() % 8 == 0)
            model_now++;
        if (rnd() % 400 == 0)
            model_now += 10 + (int64_t)(rnd() % 60); /* gc_grace and TTLs pass */
        if (r < 680) {
            op o = random_op();
            add_op(o);
            apply_op(e, &o);
        } else if (r < 950) {
            check_read(e);
        } else if (r < 970) {
            assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
        } else if (r < 978) {
            assert_int_equal(wc_engine_compact(e, TID), WC_OK);
        } else if (r < 990) {
            set_strategy(e, (size_t)(rnd() % NSTRATEGIES));
        } else if (r < 994) {
            assert_int_equal(wc_engine_compaction_wait(e, TID, 20000), WC_OK);
        } else {
            wc_compaction_stats cs;
            assert_int_equal(wc_engine_compaction_stats(e, TID, &cs), WC_OK);
            purged += cs.tombstones_purged;
            expired += cs.sstables_expired;
            compactions += cs.compactions_completed;
            wc_engine_close(e);
            assert_int_equal(open_model(dir, &e), WC_OK);
        }
    }
    for (int i = 0; i < 200; i++) {
        check_read(e);
        model_now++;
    }
    model_now += 100;
    set_strategy(e, 1);
    assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    assert_int_equal(wc_engine_compaction_wait(e, TID, 20000), WC_OK);
    assert_int_equal(wc_engine_compact(e, TID), WC_OK);
    for (int i = 0; i < 200; i++)
        check_read(e);
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
    wc_test_rmrf(dir);
    free(dir);
}

static void test_model(void **state)
{
    const char *s = getenv("WC_MODEL_SEED");
    const char *n = getenv("WC_MODEL_STEPS");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    int steps = n ? atoi(n) : 5000;

    for (int round = 0; round < 4; round++) {
        uint64_t sd = seed + (uint64_t)round * 7919;
        printf("model seed %llu (set WC_MODEL_SEED to replay)\n", (unsigned long long)sd);
        run_model(sd, steps);
    }
    free(ops);
    ops = NULL;
    capops = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests_name("compaction_model", tests, NULL, NULL);
}
