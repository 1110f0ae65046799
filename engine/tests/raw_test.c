/*
 * raw_test.c - overlay reads (wc_engine_read_overlay) and the replica side
 * of the coordinator (raw.h): raw reads with every tombstone, digests that
 * do not depend on how data is split into memtables and SSTables,
 * reconciliation with repairs that make every replica's raw equal the
 * answer, the limit rule against short reads, and append.
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
#include "keys.h"
#include "mutation.h"
#include "raw.h"
#include "row.h"
#include "testutil.h"

#define T1 11
#define T2 12
#define NOW 1700000000u
#define NENG 3

typedef struct fx {
    char *dir[NENG];
    wc_engine *e[NENG];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    for (int i = 0; i < NENG; i++) {
        wc_table_def d;

        f->dir[i] = wc_test_tmpdir("raw");
        if (f->dir[i] == NULL || wc_test_open(f->dir[i], WC_SYNC_PERIODIC, 1u << 20, &f->e[i]))
            return -1;
        for (uint32_t t = T1; t <= T2; t++) {
            wc_table_def_default(&d);
            d.id = t;
            snprintf(d.name, sizeof(d.name), "ks.raw%u", t);
            if (wc_engine_create_table(f->e[i], &d) != WC_OK)
                return -1;
        }
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    for (int i = 0; i < NENG; i++) {
        wc_engine_close(f->e[i]);
        wc_test_rmrf(f->dir[i]);
        free(f->dir[i]);
    }
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- batches */

static wc_batch_builder bb;
static bool bb_init;

static wc_mutation *b_begin(uint32_t table, const char *pk)
{
    if (!bb_init) {
        wc_batch_builder_init(&bb);
        bb_init = true;
    }
    return wc_batch_builder_begin(&bb, table, pk, strlen(pk));
}

static void b_end(void)
{
    assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
}

/* Row ck of pk: liveness and column 1 = val at ts (ttl 0: none). */
static void b_row(uint32_t table, const char *pk, uint64_t ck, int64_t ts, const char *val,
                  uint32_t ttl)
{
    wc_mutation *m = b_begin(table, pk);
    uint8_t k[8];
    wc_rowb *rb;
    wc_cell c = {.column = 1, .ts = ts, .value = (const uint8_t *)val, .len = strlen(val)};

    if (ttl) {
        c.flags = WC_CELLF_EXPIRING;
        c.ttl = ttl;
        c.ldt = NOW + ttl;
    }
    wc_test_ck(ck, k);
    rb = wc_mutation_row_begin(m, false, k, 8);
    wc_rowb_liveness(rb, ts, ttl, ttl ? NOW + ttl : 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    b_end();
}

static void b_static(uint32_t table, const char *pk, int64_t ts, const char *val)
{
    wc_mutation *m = b_begin(table, pk);
    wc_rowb *rb;
    wc_cell c = {.column = 5, .ts = ts, .value = (const uint8_t *)val, .len = strlen(val)};

    rb = wc_mutation_row_begin(m, true, NULL, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    b_end();
}

static void b_cell_del(uint32_t table, const char *pk, uint64_t ck, int64_t ts)
{
    wc_mutation *m = b_begin(table, pk);
    uint8_t k[8];
    wc_rowb *rb;
    wc_cell c = {.column = 1, .flags = WC_CELLF_TOMBSTONE, .ts = ts, .ldt = NOW};

    wc_test_ck(ck, k);
    rb = wc_mutation_row_begin(m, false, k, 8);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    b_end();
}

static void b_row_del(uint32_t table, const char *pk, uint64_t ck, int64_t ts)
{
    wc_mutation *m = b_begin(table, pk);
    uint8_t k[8];
    wc_rowb *rb;

    wc_test_ck(ck, k);
    rb = wc_mutation_row_begin(m, false, k, 8);
    wc_rowb_deletion(rb, ts, NOW);
    wc_mutation_row_end(m);
    b_end();
}

/* Range tombstone [lo, hi] (both inclusive). */
static void b_range_del(uint32_t table, const char *pk, uint64_t lo, uint64_t hi, int64_t ts)
{
    wc_mutation *m = b_begin(table, pk);
    uint8_t a[8], b[8];
    wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL,
                             .start = a,
                             .start_len = 8,
                             .end = b,
                             .end_len = 8,
                             .ts = ts,
                             .ldt = NOW};

    wc_test_ck(lo, a);
    wc_test_ck(hi, b);
    wc_mutation_delete_range(m, &rt);
    b_end();
}

static void b_part_del(uint32_t table, const char *pk, int64_t ts)
{
    wc_mutation *m = b_begin(table, pk);

    wc_mutation_delete_partition(m, ts, NOW);
    b_end();
}

/* The batch built so far into out (reset first); the builder starts over. */
static void b_take(wc_buf *out)
{
    const uint8_t *rec;
    size_t len;

    if (!bb_init) {
        wc_batch_builder_init(&bb);
        bb_init = true;
    }
    assert_int_equal(wc_batch_builder_finish(&bb, &rec, &len), WC_OK);
    wc_buf_reset(out);
    wc_buf_append(out, rec, len);
    wc_batch_builder_reset(&bb);
}

/* Apply the batch built so far to engine e. */
static void b_apply(wc_engine *e)
{
    wc_buf rec;

    wc_buf_init(&rec);
    b_take(&rec);
    assert_int_equal(wc_engine_apply_batch(e, rec.data, rec.len), WC_OK);
    wc_buf_free(&rec);
}

/* ---------------------------------------------------------------- reading */

static void req_init(wc_read_request *q, uint32_t table, const char *pk)
{
    memset(q, 0, sizeof(*q));
    q->table_id = table;
    q->pk = (const uint8_t *)pk;
    q->pk_len = pk ? strlen(pk) : 0;
    q->start.unbounded = true;
    q->end.unbounded = true;
    q->now_sec = NOW;
}

/* A page as "ck=value,..." (static row "S=value", "-" for no column 1) into out. */
static void page_str(const wc_page *p, char *out, size_t cap)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < p->nrows && used < cap; i++) {
        const wc_result_row *r = &p->rows[i];
        const wc_cell *c = wc_test_cell(r, r->is_static ? 5 : 1);
        char key[32];

        if (r->is_static)
            snprintf(key, sizeof(key), "S");
        else
            snprintf(key, sizeof(key), "%llu",
                     (unsigned long long)wc_test_ck_value(r->ck, r->ck_len));
        used += (size_t)snprintf(out + used, cap - used, "%s%s=%.*s", i ? "," : "", key,
                                 c ? (int)c->len : 1, c ? (const char *)c->value : "-");
    }
}

/* Read q over overlay ov (may be empty) and compare the page with want. */
static void expect_overlay(wc_engine *e, const wc_read_request *q, const wc_buf *ov, bool only,
                           const char *want)
{
    wc_page *p = NULL;
    char got[512];

    assert_int_equal(wc_engine_read_overlay(e, q, ov->data, ov->len, only, &p), WC_OK);
    page_str(p, got, sizeof(got));
    assert_string_equal(got, want);
    wc_page_free(p);
}

/* ---------------------------------------------------------------- overlay tests */

/* Stored rows 1, 3, 5 (1 and 3 in an SSTable, 5 in the memtable), overlay rows 2, 4 and a newer 3. */
static void test_overlay_slices(void **state)
{
    fx *f = *state;
    wc_engine *e = f->e[0];
    wc_read_request q;
    wc_buf ov;
    uint8_t lo[8], hi[8];

    wc_buf_init(&ov);
    b_row(T1, "p", 1, 10, "s1", 0);
    b_row(T1, "p", 3, 10, "s3", 0);
    b_apply(e);
    assert_int_equal(wc_engine_flush(e, T1, true), WC_OK);
    b_row(T1, "p", 5, 10, "s5", 0);
    b_apply(e);
    b_row(T1, "p", 2, 20, "o2", 0);
    b_row(T1, "p", 4, 20, "o4", 0);
    b_row(T1, "p", 3, 20, "o3", 0);
    b_row(T1, "p", 1, 5, "old1", 0); /* older than the stored cell: loses */
    b_take(&ov);

    req_init(&q, T1, "p");
    expect_overlay(e, &q, &ov, false, "1=s1,2=o2,3=o3,4=o4,5=s5");
    expect_overlay(e, &q, &ov, true, "1=old1,2=o2,3=o3,4=o4");
    /* no overlay: the stored data alone */
    {
        wc_buf none;

        wc_buf_init(&none);
        expect_overlay(e, &q, &none, false, "1=s1,3=s3,5=s5");
    }
    q.reverse = true;
    expect_overlay(e, &q, &ov, false, "5=s5,4=o4,3=o3,2=o2,1=s1");
    q.limit = 2;
    expect_overlay(e, &q, &ov, false, "5=s5,4=o4");
    q.reverse = false;
    expect_overlay(e, &q, &ov, false, "1=s1,2=o2");
    q.limit = 0;
    /* a slice [2, 4) */
    wc_test_ck(2, lo);
    wc_test_ck(4, hi);
    q.start = (wc_bound){.key = lo, .len = 8, .inclusive = true};
    q.end = (wc_bound){.key = hi, .len = 8, .inclusive = false};
    expect_overlay(e, &q, &ov, false, "2=o2,3=o3");
    /* a point read of an overlay row and of a stored row */
    q.end = (wc_bound){.key = lo, .len = 8, .inclusive = true};
    expect_overlay(e, &q, &ov, false, "2=o2");
    wc_test_ck(5, lo);
    expect_overlay(e, &q, &ov, false, "5=s5");
    expect_overlay(e, &q, &ov, true, "");
    wc_buf_free(&ov);
}

/* Paging across overlay and stored rows: every row exactly once, in order. */
static void test_overlay_paging(void **state)
{
    fx *f = *state;
    wc_engine *e = f->e[0];
    wc_read_request q;
    wc_buf ov;
    char all[1024] = "", got[512];
    uint8_t *ps = NULL;
    size_t ps_len = 0;
    int pages = 0;

    wc_buf_init(&ov);
    for (uint64_t ck = 0; ck < 20; ck += 2)
        b_row(T1, "pg", ck, 10, "s", 0);
    b_apply(e);
    for (uint64_t ck = 1; ck < 20; ck += 2)
        b_row(T1, "pg", ck, 10, "o", 0);
    b_take(&ov);
    req_init(&q, T1, "pg");
    q.page_rows = 3;
    for (;;) {
        wc_page *p = NULL;

        q.paging_state = ps;
        q.paging_state_len = ps_len;
        assert_int_equal(wc_engine_read_overlay(e, &q, ov.data, ov.len, false, &p), WC_OK);
        page_str(p, got, sizeof(got));
        if (got[0])
            snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", all[0] ? "," : "",
                     got);
        free(ps);
        ps = NULL;
        pages++;
        if (!p->more) {
            wc_page_free(p);
            break;
        }
        ps = malloc(p->paging_state_len);
        memcpy(ps, p->paging_state, p->paging_state_len);
        ps_len = p->paging_state_len;
        wc_page_free(p);
    }
    assert_string_equal(all, "0=s,1=o,2=s,3=o,4=s,5=o,6=s,7=o,8=s,9=o,10=s,11=o,12=s,13=o,14=s,15=o,"
                             "16=s,17=o,18=s,19=o");
    assert_int_equal(pages, 7);
    /* a scan over all partitions sees the overlay's partition too */
    {
        wc_buf ov2;
        wc_page *p = NULL;

        wc_buf_init(&ov2);
        b_row(T1, "other", 1, 10, "x", 0);
        b_take(&ov2);
        req_init(&q, T1, NULL);
        assert_int_equal(wc_engine_read_overlay(e, &q, ov2.data, ov2.len, false, &p), WC_OK);
        assert_int_equal(p->nrows, 11);
        wc_page_free(p);
        assert_int_equal(wc_engine_read_overlay(e, &q, ov2.data, ov2.len, true, &p), WC_OK);
        assert_int_equal(p->nrows, 1);
        wc_page_free(p);
        wc_buf_free(&ov2);
    }
    wc_buf_free(&ov);
}

/* Every tombstone kind in the overlay shadows stored data; stored tombstones shadow older overlay cells. */
static void test_overlay_tombstones(void **state)
{
    fx *f = *state;
    wc_engine *e = f->e[0];
    wc_read_request q;
    wc_buf ov;

    wc_buf_init(&ov);
    for (uint64_t ck = 1; ck <= 6; ck++)
        b_row(T1, "t", ck, 10, "s", 0);
    b_static(T1, "t", 10, "st");
    b_apply(e);
    assert_int_equal(wc_engine_flush(e, T1, true), WC_OK);
    req_init(&q, T1, "t");
    q.include_static = true;

    b_cell_del(T1, "t", 1, 20);  /* cell tombstone: row 1 stays (liveness), column 1 gone */
    b_row_del(T1, "t", 2, 20);   /* row deletion */
    b_range_del(T1, "t", 3, 4, 20); /* range tombstone */
    b_row(T1, "t", 5, 20, "ttl", 60); /* an expiring cell, live now */
    b_take(&ov);
    expect_overlay(e, &q, &ov, false, "S=st,1=-,5=ttl,6=s");
    q.now_sec = NOW + 61; /* past the TTL: row 5's newer cell expired, its liveness too */
    expect_overlay(e, &q, &ov, false, "S=st,1=-,6=s");
    q.now_sec = NOW;

    b_part_del(T1, "t", 20); /* partition deletion: everything stored is gone */
    b_row(T1, "t", 7, 30, "after", 0);
    b_take(&ov);
    expect_overlay(e, &q, &ov, false, "7=after");

    /* stored tombstones vs older overlay cells */
    b_part_del(T1, "t", 50);
    b_apply(e);
    b_row(T1, "t", 1, 40, "older", 0);
    b_row(T1, "t", 2, 60, "newer", 0);
    b_take(&ov);
    expect_overlay(e, &q, &ov, false, "2=newer");
    b_range_del(T1, "t", 1, 9, 70);
    b_apply(e);
    expect_overlay(e, &q, &ov, false, "");
    b_row_del(T1, "t", 3, 80);
    b_cell_del(T1, "t", 4, 80);
    b_apply(e);
    b_row(T1, "t", 3, 75, "x", 0);
    b_row(T1, "t", 4, 75, "y", 0);
    b_take(&ov);
    /* row 3 deleted; row 4 live by its newer liveness, its older cell shadowed by the tombstone */
    expect_overlay(e, &q, &ov, false, "4=-");
    /* the overlay_only read ignores the stored tombstones */
    expect_overlay(e, &q, &ov, true, "3=x,4=y");
    wc_buf_free(&ov);
}

static void test_overlay_refused(void **state)
{
    fx *f = *state;
    wc_engine *e = f->e[0];
    wc_read_request q;
    wc_buf ov;
    wc_page *p = NULL;

    wc_buf_init(&ov);
    b_row(T2, "p", 1, 10, "x", 0);
    b_take(&ov);
    req_init(&q, T1, "p");
    assert_int_equal(wc_engine_read_overlay(e, &q, ov.data, ov.len, false, &p),
                     WC_INVALID_ARGUMENT);
    ov.data[0] ^= 0xff; /* bad magic */
    q.table_id = T2;
    assert_int_equal(wc_engine_read_overlay(e, &q, ov.data, ov.len, false, &p),
                     WC_INVALID_ARGUMENT);
    ov.data[0] ^= 0xff;
    assert_int_equal(wc_engine_read_overlay(e, &q, ov.data, ov.len - 1, false, &p),
                     WC_INVALID_ARGUMENT);
    q.table_id = 999;
    assert_int_equal(wc_engine_read_overlay(e, &q, ov.data, ov.len, true, &p), WC_INVALID_ARGUMENT);
    wc_buf_free(&ov);
    wc_buf_init(&ov);
    assert_int_equal(wc_engine_read_overlay(e, &q, NULL, 0, true, &p), WC_NOT_FOUND);
    wc_buf_free(&ov);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overlay_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_refused, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    if (bb_init)
        wc_batch_builder_free(&bb);
    return rc;
}
