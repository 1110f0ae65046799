/*
 * point_read_test.c - reads of one clustering key (start and end the same
 * inclusive bound), which the engine answers by exact lookups in each source
 * instead of a merging iterator: the page must be the one the merging path
 * returns (checked against the same read in reverse order, which always
 * merges), across memtables and SSTables, with row deletions, range and
 * partition tombstones, TTL and column selection; and a bound that is a
 * prefix of longer clustering keys must still return every row it covers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "mutation.h"
#include "row.h"
#include "testutil.h"

#define T1 9
#define NOW 1700000000u

typedef struct fx {
    char *dir;
    wc_engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    wc_table_def d;

    f->dir = wc_test_tmpdir("point_read");
    if (f->dir == NULL || wc_test_open(f->dir, WC_SYNC_PERIODIC, 1u << 20, &f->e) != WC_OK)
        return -1;
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.points");
    if (wc_engine_create_table(f->e, &d) != WC_OK)
        return -1;
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

static void apply(fx *f, wc_mutation *m)
{
    wc_mutation *one[1] = {m};

    assert_int_equal(wc_engine_apply(f->e, one, 1), WC_OK);
    wc_mutation_free(m);
}

/* Cell col = val (NULL: a cell tombstone) of row (pk, ck), with a liveness marker if live. */
static void put_cell(fx *f, const char *pk, const char *ck, int64_t ts, uint32_t ttl, bool live,
                     uint32_t col, const char *val)
{
    wc_mutation m;
    wc_rowb *rb;
    wc_cell c;

    wc_mutation_init(&m, T1, pk, strlen(pk));
    rb = wc_mutation_row_begin(&m, false, ck, strlen(ck));
    if (live)
        wc_rowb_liveness(rb, ts, ttl, ttl ? NOW + ttl : 0);
    memset(&c, 0, sizeof(c));
    c.column = col;
    c.ts = ts;
    if (val == NULL) {
        c.flags = WC_CELLF_TOMBSTONE;
        c.ldt = NOW;
    } else {
        c.value = (const uint8_t *)val;
        c.len = strlen(val);
        if (ttl) {
            c.flags = WC_CELLF_EXPIRING;
            c.ttl = ttl;
            c.ldt = NOW + ttl;
        }
    }
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(&m);
    apply(f, &m);
}

static void delete_row(fx *f, const char *pk, const char *ck, int64_t ts)
{
    wc_mutation m;
    wc_rowb *rb;

    wc_mutation_init(&m, T1, pk, strlen(pk));
    rb = wc_mutation_row_begin(&m, false, ck, strlen(ck));
    wc_rowb_deletion(rb, ts, NOW);
    wc_mutation_row_end(&m);
    apply(f, &m);
}

/* Delete clustering keys [lo, hi] (inclusive bounds). */
static void delete_range(fx *f, const char *pk, const char *lo, const char *hi, int64_t ts)
{
    wc_mutation m;
    wc_range_tombstone rt;

    memset(&rt, 0, sizeof(rt));
    rt.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL;
    rt.start = (const uint8_t *)lo;
    rt.start_len = strlen(lo);
    rt.end = (const uint8_t *)hi;
    rt.end_len = strlen(hi);
    rt.ts = ts;
    rt.ldt = NOW;
    wc_mutation_init(&m, T1, pk, strlen(pk));
    wc_mutation_delete_range(&m, &rt);
    apply(f, &m);
}

static void delete_partition(fx *f, const char *pk, int64_t ts)
{
    wc_mutation m;

    wc_mutation_init(&m, T1, pk, strlen(pk));
    wc_mutation_delete_partition(&m, ts, NOW);
    apply(f, &m);
}

static wc_page *read_ck(fx *f, const char *pk, const char *ck, bool reverse, int64_t now,
                        const uint32_t *cols, size_t ncols)
{
    wc_read_request r;
    wc_page *p = NULL;

    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.key = (const uint8_t *)ck;
    r.start.len = strlen(ck);
    r.start.inclusive = true;
    r.end = r.start;
    r.reverse = reverse;
    r.now_sec = now;
    r.columns = cols;
    r.ncolumns = ncols;
    assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
    return p;
}

/* Two pages hold the same rows (a in order, b reversed) with the same cells. */
static void assert_same_rows(const wc_page *a, const wc_page *b, const char *what)
{
    if (a->nrows != b->nrows)
        fail_msg("%s: %zu rows, the merging read has %zu", what, a->nrows, b->nrows);
    for (size_t i = 0; i < a->nrows; i++) {
        const wc_result_row *x = &a->rows[i], *y = &b->rows[b->nrows - 1 - i];

        assert_int_equal(x->ck_len, y->ck_len);
        assert_memory_equal(x->ck, y->ck, x->ck_len);
        assert_int_equal(x->live_ts, y->live_ts);
        if (x->ncells != y->ncells)
            fail_msg("%s: row %zu has %u cells, the merging read %u", what, i, x->ncells,
                     y->ncells);
        for (uint32_t c = 0; c < x->ncells; c++) {
            assert_int_equal(x->cells[c].column, y->cells[c].column);
            assert_int_equal(x->cells[c].ts, y->cells[c].ts);
            assert_int_equal(x->cells[c].len, y->cells[c].len);
            assert_memory_equal(x->cells[c].value, y->cells[c].value, x->cells[c].len);
        }
    }
    assert_int_equal(a->stats.tombstones_scanned, b->stats.tombstones_scanned);
    assert_int_equal(a->stats.sstables_read, b->stats.sstables_read);
}

static void check_key(fx *f, const char *pk, const char *ck, int64_t now, const uint32_t *cols,
                      size_t ncols)
{
    wc_page *fw = read_ck(f, pk, ck, false, now, cols, ncols);
    wc_page *bw = read_ck(f, pk, ck, true, now, cols, ncols);
    char what[96];

    snprintf(what, sizeof(what), "%s/%s at %lld", pk, ck, (long long)now);
    assert_same_rows(fw, bw, what);
    wc_page_free(fw);
    wc_page_free(bw);
}

/* Rows, deletions and tombstones spread over two SSTables and the memtable. */
static void test_matches_merging_read(void **state)
{
    fx *f = *state;
    static const char *const pks[] = {"p0", "p1", "p2"};
    static const char *const cks[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    static const uint32_t col1[] = {1}, col02[] = {0, 2};
    uint64_t s = 12345;

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 60; i++) {
            const char *pk = pks[(s >> 7) % 3];
            const char *ck = cks[(s >> 13) % 8];
            int64_t ts = 1000 + round * 100 + i;
            uint32_t what = (uint32_t)((s >> 21) % 10);
            char val[32];

            snprintf(val, sizeof(val), "v%d.%d", round, i);
            if (what < 5)
                put_cell(f, pk, ck, ts, 0, what != 0, (uint32_t)((s >> 29) % 3), val);
            else if (what == 5)
                put_cell(f, pk, ck, ts, 0, false, (uint32_t)((s >> 29) % 3), NULL);
            else if (what == 6)
                put_cell(f, pk, ck, ts, 50, true, 1, val); /* expires at NOW + 50 */
            else if (what == 7)
                delete_row(f, pk, ck, ts);
            else if (what == 8 && i % 4 == 0)
                delete_range(f, pk, "b", "d", ts);
            else if (i == 59 && round == 1)
                delete_partition(f, "p2", ts - 30);
            s = s * 6364136223846793005ull + 1442695040888963407ull;
        }
        if (round < 2)
            assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
        for (int p = 0; p < 4; p++) {
            const char *pk = p < 3 ? pks[p] : "absent";
            for (int c = 0; c < 9; c++) {
                const char *ck = c < 8 ? cks[c] : "zz";
                check_key(f, pk, ck, NOW, NULL, 0);
                check_key(f, pk, ck, NOW + 100, NULL, 0); /* TTL cells expired */
                check_key(f, pk, ck, NOW, col1, 1);
                check_key(f, pk, ck, NOW, col02, 2);
            }
        }
    }
}

/* Number of rows a forward point read of ck returns, and that each extends ck. */
static size_t rows_under(fx *f, const char *pk, const char *ck)
{
    wc_page *p = read_ck(f, pk, ck, false, NOW, NULL, 0);
    wc_page *b = read_ck(f, pk, ck, true, NOW, NULL, 0);
    size_t n = p->nrows;

    for (size_t i = 0; i < n; i++) {
        assert_true(p->rows[i].ck_len >= strlen(ck));
        assert_memory_equal(p->rows[i].ck, ck, strlen(ck));
        if (i > 0)
            assert_true(memcmp(p->rows[i - 1].ck, p->rows[i].ck, p->rows[i].ck_len) < 0 ||
                        p->rows[i - 1].ck_len < p->rows[i].ck_len);
    }
    assert_same_rows(p, b, ck);
    wc_page_free(p);
    wc_page_free(b);
    return n;
}

/* A bound that is a prefix of longer clustering keys covers them all, wherever they are. */
static void test_prefix_bound(void **state)
{
    fx *f = *state;

    /* only longer keys: no row has the bound itself */
    put_cell(f, "q", "ab1", 10, 0, true, 1, "x");
    put_cell(f, "q", "ab2", 10, 0, true, 1, "y");
    assert_int_equal(rows_under(f, "q", "ab"), 2);
    assert_int_equal(rows_under(f, "q", "ab1"), 1);
    /* the bound itself in an SSTable, a longer key in the memtable */
    put_cell(f, "r", "k", 10, 0, true, 1, "exact");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(rows_under(f, "r", "k"), 1);
    put_cell(f, "r", "k7", 11, 0, true, 1, "longer");
    assert_int_equal(rows_under(f, "r", "k"), 2);
    /* the longer key flushed too, the exact key deleted in the memtable */
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    delete_row(f, "r", "k", 20);
    assert_int_equal(rows_under(f, "r", "k"), 1);
    assert_int_equal(rows_under(f, "r", "k7"), 1);
    assert_int_equal(rows_under(f, "r", "k8"), 0);
    assert_int_equal(rows_under(f, "q", "ab"), 2);
}

/* A point read of a present row under page_rows 1 and limit 1: same paging as merging. */
static void test_paging_flags(void **state)
{
    fx *f = *state;
    wc_read_request r;
    wc_page *p = NULL;

    put_cell(f, "s", "m", 10, 0, true, 1, "v");
    for (int limit = 0; limit < 2; limit++) {
        for (int rev = 0; rev < 2; rev++) {
            memset(&r, 0, sizeof(r));
            r.table_id = T1;
            r.pk = (const uint8_t *)"s";
            r.pk_len = 1;
            r.start.key = (const uint8_t *)"m";
            r.start.len = 1;
            r.start.inclusive = true;
            r.end = r.start;
            r.reverse = rev;
            r.limit = (uint64_t)limit;
            r.page_rows = 1;
            r.now_sec = NOW;
            assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
            assert_int_equal(p->nrows, 1);
            /* a full page without a limit says more may follow, with a limit it does not */
            assert_int_equal(p->more, limit == 0);
            assert_int_equal(p->paging_state != NULL, limit == 0);
            wc_page_free(p);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_matches_merging_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_flags, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
