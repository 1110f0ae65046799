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

/* A reverse read with the static row, paged one row at a time: the page after the static row goes on with the rows. */
static void test_reverse_static_paging(void **state)
{
    fx *f = *state;
    wc_read_request q;
    wc_buf ov;
    char all[256] = "", got[128];
    uint8_t *ps = NULL;
    size_t ps_len = 0;

    wc_buf_init(&ov);
    b_static(T1, "rs", 10, "st");
    for (uint64_t ck = 1; ck <= 3; ck++)
        b_row(T1, "rs", ck, 10, "v", 0);
    b_apply(f->e[0]);
    req_init(&q, T1, "rs");
    q.reverse = true;
    q.include_static = true;
    q.page_rows = 1;
    for (int pages = 0; pages < 10; pages++) {
        wc_page *p = NULL;

        q.paging_state = ps;
        q.paging_state_len = ps_len;
        assert_int_equal(wc_engine_read_overlay(f->e[0], &q, ov.data, ov.len, false, &p), WC_OK);
        page_str(p, got, sizeof(got));
        if (got[0])
            snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", all[0] ? "," : "",
                     got);
        free(ps);
        ps = NULL;
        if (!p->more) {
            wc_page_free(p);
            break;
        }
        ps = malloc(p->paging_state_len);
        memcpy(ps, p->paging_state, p->paging_state_len);
        ps_len = p->paging_state_len;
        wc_page_free(p);
    }
    free(ps);
    assert_string_equal(all, "S=st,3=v,2=v,1=v");
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


/* ---------------------------------------------------------------- raw tests */

static void sread_init(wc_store_read *r, uint32_t table, const char *pk)
{
    memset(r, 0, sizeof(*r));
    r->table_id = table;
    r->pk = (const uint8_t *)pk;
    r->pk_len = pk ? strlen(pk) : 0;
    r->token_range = pk == NULL;
    r->token_start = INT64_MIN;
    r->token_end = INT64_MAX;
    r->start.unbounded = true;
    r->end.unbounded = true;
    r->now_sec = NOW;
}

static void raw_read(wc_engine *e, const wc_store_read *r, wc_buf *out, uint8_t digest[16])
{
    uint8_t d[16];

    wc_buf_reset(out);
    assert_int_equal(wc_engine_read_raw(e, r, out, digest ? digest : d), WC_OK);
}

/* The rows of a raw result read back as a page (overlay_only over it, TTL clock NOW). */
static void raw_page(wc_engine *e, const wc_store_read *r, const wc_buf *raw, char *out,
                     size_t cap)
{
    wc_read_request q;
    wc_page *p = NULL;

    req_init(&q, r->table_id, r->token_range ? NULL : (const char *)r->pk);
    q.include_static = r->include_static;
    q.reverse = r->reverse;
    assert_int_equal(wc_engine_read_overlay(e, &q, raw->data, raw->len, true, &p), WC_OK);
    page_str(p, out, cap);
    wc_page_free(p);
}

/* The same data, written in one memtable or split over SSTables and memtables, gives the same raw. */
static void test_raw_canonical(void **state)
{
    fx *f = *state;
    wc_store_read r;
    wc_buf a, b, c;
    uint8_t da[16], db[16], dc[16];
    uint64_t rows;
    char got[512];

    wc_buf_init(&a);
    wc_buf_init(&b);
    wc_buf_init(&c);
    /* engine 0: everything at once */
    b_row(T1, "k", 1, 10, "old", 0);
    b_row(T1, "k", 1, 20, "new", 0);
    b_row(T1, "k", 2, 10, "two", 0);
    b_row(T1, "k", 3, 10, "gone", 0);
    b_row_del(T1, "k", 3, 30);
    b_row(T1, "k", 4, 10, "exp", 5); /* expires at NOW + 5 */
    b_cell_del(T1, "k", 5, 40);
    b_range_del(T1, "k", 6, 7, 40);
    b_static(T1, "k", 10, "st");
    b_apply(f->e[0]);
    /* engine 1: the same, in another order, over an SSTable and the memtable */
    b_range_del(T1, "k", 6, 7, 40);
    b_row(T1, "k", 1, 20, "new", 0);
    b_row(T1, "k", 3, 10, "gone", 0);
    b_apply(f->e[1]);
    assert_int_equal(wc_engine_flush(f->e[1], T1, true), WC_OK);
    b_row(T1, "k", 1, 10, "old", 0);
    b_row_del(T1, "k", 3, 30);
    b_cell_del(T1, "k", 5, 40);
    b_row(T1, "k", 2, 10, "two", 0);
    b_static(T1, "k", 10, "st");
    b_apply(f->e[1]);
    assert_int_equal(wc_engine_flush(f->e[1], T1, true), WC_OK);
    b_row(T1, "k", 4, 10, "exp", 5);
    b_range_del(T1, "k", 6, 7, 40); /* a duplicate tombstone */
    b_apply(f->e[1]);

    sread_init(&r, T1, "k");
    r.include_static = true;
    r.now_sec = NOW + 100; /* row 4 expired: kept as it is in the raw form */
    raw_read(f->e[0], &r, &a, da);
    raw_read(f->e[1], &r, &b, db);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_memory_equal(da, db, 16);
    /* header, static row, rows 1..5 (3 and 5 hold only tombstones, 4 only an expired cell) */
    assert_int_equal(wc_raw_last_row(a.data, a.len, &rows, &c), WC_OK);
    assert_int_equal(rows, 5);
    raw_page(f->e[0], &r, &a, got, sizeof(got));
    assert_string_equal(got, "S=st,1=new,2=two,4=exp");
    /* the digest is of the bytes; a replica without the row deletion differs */
    wc_raw_digest(a.data, a.len, dc);
    assert_memory_equal(da, dc, 16);
    b_row(T1, "k", 1, 20, "new", 0);
    b_apply(f->e[2]);
    raw_read(f->e[2], &r, &c, dc);
    assert_memory_not_equal(da, dc, 16);
    /* after compaction the data is the same: so is the raw */
    assert_int_equal(wc_engine_compact(f->e[1], T1), WC_OK);
    raw_read(f->e[1], &r, &b, db);
    assert_memory_equal(da, db, 16);
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&c);
}

/*
 * A replica whose compaction dropped the data a range tombstone shadows and
 * one that still holds it: their raws differ, their digests do not (no read
 * repair for data no read can see).
 */
static void test_raw_digest_ignores_shadowed(void **state)
{
    fx *f = *state;
    wc_store_read r;
    wc_buf a, b;
    uint8_t da[16], db[16];
    wc_table_def d;

    wc_buf_init(&a);
    wc_buf_init(&b);
    for (int i = 0; i < 2; i++) {
        wc_table_def_default(&d);
        d.id = 13;
        d.gc_grace_seconds = 2000000000u; /* the tombstones themselves stay */
        snprintf(d.name, sizeof(d.name), "ks.raw13");
        assert_int_equal(wc_engine_create_table(f->e[i], &d), WC_OK);
        for (uint64_t ck = 1; ck <= 3; ck++)
            b_row(13, "g", ck, 10, "old", 0);
        b_apply(f->e[i]);
        if (i == 0) /* two SSTables for the compaction to merge */
            assert_int_equal(wc_engine_flush(f->e[0], 13, true), WC_OK);
        b_range_del(13, "g", 1, 2, 20);
        b_row(13, "g", 4, 30, "new", 0);
        b_static(13, "g", 5, "st");
        b_part_del(13, "g", 6);
        b_apply(f->e[i]);
    }
    assert_int_equal(wc_engine_flush(f->e[0], 13, true), WC_OK);
    assert_int_equal(wc_engine_compact(f->e[0], 13), WC_OK);
    sread_init(&r, 13, "g");
    r.include_static = true;
    raw_read(f->e[0], &r, &a, da);
    raw_read(f->e[1], &r, &b, db);
    assert_true(a.len < b.len); /* rows 1 and 2, the static cell: compacted away on replica 0 */
    assert_memory_equal(da, db, 16);
    /* a difference a read can see still shows */
    b_row(13, "g", 2, 25, "newer", 0);
    b_apply(f->e[1]);
    raw_read(f->e[1], &r, &b, db);
    assert_memory_not_equal(da, db, 16);
    wc_buf_free(&a);
    wc_buf_free(&b);
}

/* Reconcile three replicas (one missed writes, one has newer tombstones); repairs make them equal. */
static void test_raw_reconcile_repairs(void **state)
{
    fx *f = *state;
    wc_store_read r;
    wc_buf raw[NENG], rep[NENG], ans, again;
    wc_store_raw in[NENG];
    char got[512];

    wc_buf_init(&ans);
    wc_buf_init(&again);
    for (int i = 0; i < NENG; i++) {
        wc_buf_init(&raw[i]);
        wc_buf_init(&rep[i]);
    }
    for (int i = 0; i < NENG; i++) {
        for (uint64_t ck = 1; ck <= 6; ck++)
            b_row(T1, "p", ck, 10, "v", 0);
        if (i != 1) /* replica 1 missed these */
            b_row(T1, "p", 7, 20, "late", 0);
        b_apply(f->e[i]);
    }
    assert_int_equal(wc_engine_flush(f->e[0], T1, true), WC_OK);
    b_row_del(T1, "p", 2, 30);
    b_range_del(T1, "p", 4, 5, 30);
    b_cell_del(T1, "p", 6, 30);
    b_apply(f->e[2]); /* only replica 2 saw the deletes */
    b_part_del(T1, "q", 5); /* replica 0 alone has a partition deletion elsewhere: not in the slice */
    b_apply(f->e[0]);

    sread_init(&r, T1, "p");
    for (int i = 0; i < NENG; i++) {
        raw_read(f->e[i], &r, &raw[i], NULL);
        in[i] = (wc_store_raw){raw[i].data, raw[i].len};
    }
    assert_int_equal(wc_raw_reconcile(&r, in, NENG, &ans, rep), WC_OK);
    raw_page(f->e[0], &r, &ans, got, sizeof(got));
    assert_string_equal(got, "1=v,3=v,6=-,7=late");
    assert_true(rep[0].len > 0); /* the deletes */
    assert_true(rep[1].len > 0); /* the deletes and row 7 */
    assert_int_equal(rep[2].len, 0); /* saw everything */
    for (int i = 0; i < NENG; i++) {
        if (rep[i].len > 0)
            assert_int_equal(wc_engine_apply_batch(f->e[i], rep[i].data, rep[i].len), WC_OK);
        raw_read(f->e[i], &r, &again, NULL);
        assert_int_equal(again.len, ans.len);
        assert_memory_equal(again.data, ans.data, ans.len);
    }
    /* now equal: nothing to repair */
    for (int i = 0; i < NENG; i++) {
        raw_read(f->e[i], &r, &raw[i], NULL);
        in[i] = (wc_store_raw){raw[i].data, raw[i].len};
        wc_buf_reset(&rep[i]);
    }
    wc_buf_reset(&again);
    assert_int_equal(wc_raw_reconcile(&r, in, NENG, &again, rep), WC_OK);
    for (int i = 0; i < NENG; i++)
        assert_int_equal(rep[i].len, 0);
    assert_int_equal(again.len, ans.len);
    assert_memory_equal(again.data, ans.data, ans.len);
    for (int i = 0; i < NENG; i++) {
        wc_buf_free(&raw[i]);
        wc_buf_free(&rep[i]);
    }
    wc_buf_free(&ans);
    wc_buf_free(&again);
}

/*
 * Limits count row entries; the answer stops at the shortest cut.  Replica
 * 0 holds rows 1..3 (old) and 4 (new); replica 1 only a partition deletion
 * between them.  With limit 3, replica 0 is cut at row 3: the answer must
 * hold three row entries (all deleted) so that the reader continues after
 * row 3 and finds row 4, instead of ending on an empty page.
 */
static void test_raw_short_read(void **state)
{
    fx *f = *state;
    wc_store_read r;
    wc_buf raw[2], rep[2], ans, last, again;
    wc_store_raw in[2];
    uint64_t rows;
    uint8_t k3[8];
    char got[512];

    wc_buf_init(&ans);
    wc_buf_init(&last);
    wc_buf_init(&again);
    for (int i = 0; i < 2; i++) {
        wc_buf_init(&raw[i]);
        wc_buf_init(&rep[i]);
    }
    for (uint64_t ck = 1; ck <= 3; ck++)
        b_row(T1, "s", ck, 10, "old", 0);
    b_row(T1, "s", 4, 100, "new", 0);
    b_apply(f->e[0]);
    b_part_del(T1, "s", 50);
    b_apply(f->e[1]);
    sread_init(&r, T1, "s");
    r.limit = 3;
    for (int i = 0; i < 2; i++) {
        raw_read(f->e[i], &r, &raw[i], NULL);
        in[i] = (wc_store_raw){raw[i].data, raw[i].len};
    }
    assert_int_equal(wc_raw_reconcile(&r, in, 2, &ans, rep), WC_OK);
    assert_int_equal(wc_raw_last_row(ans.data, ans.len, &rows, &last), WC_OK);
    assert_int_equal(rows, 3);
    wc_test_ck(3, k3);
    assert_memory_equal(last.data + last.len - 8, k3, 8);
    raw_page(f->e[0], &r, &ans, got, sizeof(got));
    assert_string_equal(got, "");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wc_engine_apply_batch(f->e[i], rep[i].data, rep[i].len), WC_OK);
        raw_read(f->e[i], &r, &again, NULL);
        assert_int_equal(again.len, ans.len);
        assert_memory_equal(again.data, ans.data, ans.len);
    }
    /* the next read starts after row 3 and finds row 4 */
    r.start = (wc_bound){.key = k3, .len = 8, .inclusive = false};
    raw_read(f->e[0], &r, &again, NULL);
    raw_page(f->e[0], &r, &again, got, sizeof(got));
    assert_string_equal(got, "4=new");

    /* reverse: replica 0 cut at row 2 (rows 4, 3, 2); replica 1 holds rows 1 and 3 only */
    b_row(T2, "v", 1, 10, "a", 0);
    b_row(T2, "v", 2, 10, "b", 0);
    b_row(T2, "v", 3, 10, "c", 0);
    b_row(T2, "v", 4, 10, "d", 0);
    b_apply(f->e[0]);
    b_row(T2, "v", 1, 10, "a", 0);
    b_row(T2, "v", 3, 20, "C", 0);
    b_apply(f->e[1]);
    sread_init(&r, T2, "v");
    r.reverse = true;
    r.limit = 3;
    for (int i = 0; i < 2; i++) {
        raw_read(f->e[i], &r, &raw[i], NULL);
        in[i] = (wc_store_raw){raw[i].data, raw[i].len};
        wc_buf_reset(&rep[i]);
    }
    wc_buf_reset(&ans);
    assert_int_equal(wc_raw_reconcile(&r, in, 2, &ans, rep), WC_OK);
    raw_page(f->e[0], &r, &ans, got, sizeof(got));
    assert_string_equal(got, "4=d,3=C,2=b");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wc_engine_apply_batch(f->e[i], rep[i].data, rep[i].len), WC_OK);
        raw_read(f->e[i], &r, &again, NULL);
        assert_int_equal(again.len, ans.len);
        assert_memory_equal(again.data, ans.data, ans.len);
    }
    for (int i = 0; i < 2; i++) {
        wc_buf_free(&raw[i]);
        wc_buf_free(&rep[i]);
    }
    wc_buf_free(&ans);
    wc_buf_free(&last);
    wc_buf_free(&again);
}

/*
 * The shortest-cut rule with raws as another replica could send them:
 * replica 0 is cut at row 2 (limit 2) by an entry that carries nothing,
 * replica 1 at row 3.  Past row 2 replica 0 may hold anything: the answer
 * stops at row 2 rather than take row 3 from replica 1.
 */
static void test_raw_shortest_cut(void **state)
{
    static const uint8_t empty_row[] = {0x00, 0x00}; /* no liveness, no deletion, no cells */
    wc_store_read r;
    wc_buf raw[2], rep[2], ans, last;
    wc_store_raw in[2];
    wc_mutation *m;
    uint64_t rows;
    uint8_t k[8];

    (void)state;
    wc_buf_init(&ans);
    wc_buf_init(&last);
    for (int i = 0; i < 2; i++) {
        wc_buf_init(&raw[i]);
        wc_buf_init(&rep[i]);
    }
    b_row(T1, "c", 1, 10, "a", 0);
    m = b_begin(T1, "c");
    wc_test_ck(2, k);
    wc_mutation_add(m, WC_KIND_ROW, k, 8, empty_row, sizeof(empty_row));
    b_end();
    b_take(&raw[0]);
    b_row(T1, "c", 1, 10, "a", 0);
    b_row(T1, "c", 3, 10, "b", 0);
    b_take(&raw[1]);
    sread_init(&r, T1, "c");
    r.limit = 2;
    for (int i = 0; i < 2; i++)
        in[i] = (wc_store_raw){raw[i].data, raw[i].len};
    assert_int_equal(wc_raw_reconcile(&r, in, 2, &ans, rep), WC_OK);
    assert_int_equal(wc_raw_last_row(ans.data, ans.len, &rows, &last), WC_OK);
    assert_int_equal(rows, 1);
    wc_test_ck(1, k);
    assert_memory_equal(last.data + last.len - 8, k, 8);
    for (int i = 0; i < 2; i++) {
        wc_buf_free(&raw[i]);
        wc_buf_free(&rep[i]);
    }
    wc_buf_free(&ans);
    wc_buf_free(&last);
}

/* Token ranges: two halves appended equal the whole ring's raw; limits cut in token order. */
static void test_raw_token_ranges(void **state)
{
    fx *f = *state;
    wc_store_read r;
    wc_buf whole, half, acc, cut;
    uint64_t rows, total = 0;
    char pk[16];

    wc_buf_init(&whole);
    wc_buf_init(&half);
    wc_buf_init(&acc);
    wc_buf_init(&cut);
    for (int i = 0; i < 30; i++) {
        snprintf(pk, sizeof(pk), "pk%d", i);
        b_row(T1, pk, 1, 10, "a", 0);
        b_row(T1, pk, 2, 10, "b", 0);
        if (i % 5 == 0)
            b_part_del(T1, pk, 5);
    }
    b_apply(f->e[0]);
    assert_int_equal(wc_engine_flush(f->e[0], T1, true), WC_OK);
    b_row(T1, "pk3", 3, 10, "c", 0);
    b_apply(f->e[0]);
    sread_init(&r, T1, NULL);
    raw_read(f->e[0], &r, &whole, NULL);
    r.token_end = 0;
    raw_read(f->e[0], &r, &half, NULL);
    assert_int_equal(wc_raw_append(&acc, half.data, half.len, &rows), WC_OK);
    total += rows;
    r.token_start = 0;
    r.token_end = INT64_MAX;
    raw_read(f->e[0], &r, &half, NULL);
    assert_int_equal(wc_raw_append(&acc, half.data, half.len, &rows), WC_OK);
    total += rows;
    assert_int_equal(total, 61);
    assert_int_equal(acc.len, whole.len);
    assert_memory_equal(acc.data, whole.data, whole.len);
    /* a limit of 5 rows: the first 5 rows in token order */
    r.token_start = INT64_MIN;
    r.limit = 5;
    raw_read(f->e[0], &r, &cut, NULL);
    assert_int_equal(wc_raw_last_row(cut.data, cut.len, &rows, &half), WC_OK);
    assert_int_equal(rows, 5);
    {
        char a[2048], b[2048];

        raw_page(f->e[0], &r, &cut, a, sizeof(a));
        raw_page(f->e[0], &r, &whole, b, sizeof(b));
        assert_true(strlen(a) > 0 && strncmp(a, b, strlen(a)) == 0); /* the first rows */
    }
    wc_buf_free(&whole);
    wc_buf_free(&half);
    wc_buf_free(&acc);
    wc_buf_free(&cut);
}

/* Malformed raw results are corruption, not crashes. */
static void test_raw_malformed(void **state)
{
    fx *f = *state;
    wc_store_read r;
    wc_buf raw, ans, rep[1], acc;
    wc_store_raw in[1];
    uint64_t rows;

    (void)f;
    wc_buf_init(&raw);
    wc_buf_init(&ans);
    wc_buf_init(&rep[0]);
    wc_buf_init(&acc);
    b_row(T1, "m", 1, 10, "x", 0);
    b_take(&raw);
    sread_init(&r, T1, "m");
    for (size_t cut = 0; cut < raw.len; cut++) {
        in[0] = (wc_store_raw){raw.data, cut};
        assert_int_equal(wc_raw_reconcile(&r, in, 1, &ans, rep), WC_CORRUPTION);
        assert_int_equal(wc_raw_append(&acc, raw.data, cut, &rows), WC_CORRUPTION);
    }
    in[0] = (wc_store_raw){raw.data, raw.len};
    r.table_id = T2; /* a raw of another table */
    assert_int_equal(wc_raw_reconcile(&r, in, 1, &ans, rep), WC_CORRUPTION);
    in[0] = (wc_store_raw){NULL, 0};
    assert_int_equal(wc_raw_reconcile(&r, in, 1, &ans, rep), WC_CORRUPTION);
    /* a raw of another partition, or of a partition outside the token range */
    r.table_id = T1;
    in[0] = (wc_store_raw){raw.data, raw.len};
    r.pk = (const uint8_t *)"n";
    assert_int_equal(wc_raw_reconcile(&r, in, 1, &ans, rep), WC_CORRUPTION);
    r.pk = NULL;
    r.pk_len = 0;
    r.token_range = true;
    r.token_start = wc_token("m", 1);
    assert_int_equal(wc_raw_reconcile(&r, in, 1, &ans, rep), WC_CORRUPTION);
    r.token_start = INT64_MIN;
    assert_int_equal(wc_raw_reconcile(&r, in, 1, &ans, rep), WC_OK);
    wc_buf_free(&raw);
    wc_buf_free(&ans);
    wc_buf_free(&rep[0]);
    wc_buf_free(&acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overlay_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_static_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_digest_ignores_shadowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_reconcile_repairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_short_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_shortest_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_token_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_malformed, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    if (bb_init)
        wc_batch_builder_free(&bb);
    return rc;
}
