/*
 * engine_test.c - the engine end to end: writes, slices, order, paging,
 * tombstones of every kind, TTL, static rows, flush, reopen, drop, skipping
 * and corruption detection; the nice values of the background threads and
 * their yields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>

#include "alloc.h"
#include "engine.h"
#include "keys.h"
#include "testutil.h"
#include "thread.h"

#define T1 7
#define NOW 1700000000u

typedef struct fx {
    char *dir;
    wc_engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    wc_table_def d;

    f->dir = wc_test_tmpdir("engine");
    if (f->dir == NULL || wc_test_open(f->dir, WC_SYNC_PERIODIC, 1u << 20, &f->e) != WC_OK)
        return -1;
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.t1");
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

static void reopen(fx *f)
{
    wc_engine_close(f->e);
    f->e = NULL;
    assert_int_equal(wc_test_open(f->dir, WC_SYNC_PERIODIC, 1u << 20, &f->e), WC_OK);
}

static const uint32_t C12[2] = {1, 2};

static void put(fx *f, const char *pk, uint64_t ck, int64_t ts, const char *a, const char *b)
{
    const char *vals[2] = {a, b};
    assert_int_equal(wc_test_put(f->e, T1, pk, ck, ts, 0, NOW, 2, C12, vals), WC_OK);
}

/* Read a slice of partition pk (lo, hi < 0: unbounded); returns the page (caller frees). */
static wc_page *read_slice(fx *f, const char *pk, bool reverse, uint64_t limit, int64_t lo,
                           int64_t hi, bool lo_incl, bool hi_incl, bool include_static)
{
    wc_read_request r;
    wc_page *p = NULL;
    uint8_t lob[8], hib[8];

    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.reverse = reverse;
    r.limit = limit;
    r.now_sec = NOW;
    r.include_static = include_static;
    r.start.unbounded = lo < 0;
    r.end.unbounded = hi < 0;
    wc_test_ck((uint64_t)(lo < 0 ? 0 : lo), lob);
    wc_test_ck((uint64_t)(hi < 0 ? 0 : hi), hib);
    r.start.key = lob;
    r.start.len = 8;
    r.start.inclusive = lo_incl;
    r.end.key = hib;
    r.end.len = 8;
    r.end.inclusive = hi_incl;
    r.page_rows = 100000;
    assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
    return p;
}

/* read_slice with the static row. */
static wc_page *read_part(fx *f, const char *pk, bool reverse, uint64_t limit, int64_t lo,
                          int64_t hi, bool lo_incl, bool hi_incl)
{
    return read_slice(f, pk, reverse, limit, lo, hi, lo_incl, hi_incl, true);
}

/* Delete partition pk at timestamp ts. */
static void delete_partition(fx *f, const char *pk, int64_t ts)
{
    wc_mutation m;
    wc_mutation *mp = &m;

    wc_mutation_init(&m, T1, pk, strlen(pk));
    wc_mutation_delete_partition(&m, ts, NOW);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

static void expect_cks(wc_page *p, const uint64_t *cks, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < p->nrows; i++) {
        if (p->rows[i].is_static)
            continue;
        assert_true(j < n);
        assert_int_equal(wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len), cks[j]);
        j++;
    }
    assert_int_equal(j, n);
}

static void test_slices_and_order(void **state)
{
    fx *f = *state;
    wc_page *p;

    for (uint64_t ck = 1; ck <= 10; ck++)
        put(f, "dev1", ck, 100, "a", "b");
    put(f, "dev2", 5, 100, "x", "y");

    p = read_part(f, "dev1", false, 0, -1, -1, true, true);
    {
        uint64_t e[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        expect_cks(p, e, 10);
    }
    assert_memory_equal(wc_test_cell(&p->rows[0], 1)->value, "a", 1);
    assert_false(p->more);
    wc_page_free(p);

    p = read_part(f, "dev1", true, 3, -1, -1, true, true);
    {
        uint64_t e[] = {10, 9, 8};
        expect_cks(p, e, 3);
    }
    wc_page_free(p);

    p = read_part(f, "dev1", false, 0, 3, 6, false, true);
    {
        uint64_t e[] = {4, 5, 6};
        expect_cks(p, e, 3);
    }
    wc_page_free(p);

    p = read_part(f, "dev1", true, 0, 3, 6, true, false);
    {
        uint64_t e[] = {5, 4, 3};
        expect_cks(p, e, 3);
    }
    wc_page_free(p);

    /* the same after a flush, and after a reopen */
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put(f, "dev1", 11, 100, "a", "b");
    p = read_part(f, "dev1", true, 0, 8, 11, true, true);
    {
        uint64_t e[] = {11, 10, 9, 8};
        expect_cks(p, e, 4);
    }
    wc_page_free(p);
    reopen(f);
    p = read_part(f, "dev1", false, 0, 9, -1, true, true);
    {
        uint64_t e[] = {9, 10, 11};
        expect_cks(p, e, 3);
    }
    wc_page_free(p);
    p = read_part(f, "nosuch", false, 0, -1, -1, true, true);
    assert_int_equal(p->nrows, 0);
    wc_page_free(p);
}

static void test_overwrite_and_tombstones(void **state)
{
    fx *f = *state;
    wc_page *p;
    wc_mutation m;
    wc_mutation *mp = &m;
    uint8_t ck[8], ck2[8];

    for (uint64_t i = 1; i <= 6; i++)
        put(f, "p", i, 100, "v1", "w1");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    /* newer value for ck 1 col 1; older write for ck 2 loses */
    put(f, "p", 1, 200, "v2", "w2");
    put(f, "p", 2, 50, "old", "old");
    /* delete cell 2 of ck 3 */
    {
        const char *vals[1] = {NULL};
        uint32_t col = 2;
        assert_int_equal(wc_test_put(f->e, T1, "p", 3, 300, 0, NOW, 1, &col, vals), WC_OK);
    }
    /* row delete of ck 4 */
    wc_test_ck(4, ck);
    wc_mutation_init(&m, T1, "p", 1);
    wc_rowb_deletion(wc_mutation_row_begin(&m, false, ck, 8), 300, NOW);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
    /* range delete (5, 6] */
    {
        wc_range_tombstone rt = {.bflags = WC_BOUND_END_INCL, .ts = 300, .ldt = NOW};
        wc_test_ck(5, ck);
        wc_test_ck(6, ck2);
        rt.start = ck;
        rt.start_len = 8;
        rt.end = ck2;
        rt.end_len = 8;
        wc_mutation_init(&m, T1, "p", 1);
        wc_mutation_delete_range(&m, &rt);
        assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
        wc_mutation_free(&m);
    }
    for (int round = 0; round < 3; round++) {
        p = read_part(f, "p", false, 0, -1, -1, true, true);
        {
            uint64_t e[] = {1, 2, 3, 5};
            expect_cks(p, e, 4);
        }
        assert_memory_equal(wc_test_cell(&p->rows[0], 1)->value, "v2", 2);
        assert_memory_equal(wc_test_cell(&p->rows[1], 1)->value, "v1", 2);
        assert_non_null(wc_test_cell(&p->rows[2], 1));
        assert_null(wc_test_cell(&p->rows[2], 2));
        assert_true(p->stats.tombstones_scanned >= 3);
        wc_page_free(p);
        if (round == 0)
            assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
        else
            reopen(f);
    }
    /* partition delete shadows everything older; a newer write survives */
    delete_partition(f, "p", 1000);
    put(f, "p", 9, 1001, "after", "x");
    p = read_part(f, "p", false, 0, -1, -1, true, true);
    {
        uint64_t e[] = {9};
        expect_cks(p, e, 1);
    }
    wc_page_free(p);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    reopen(f);
    p = read_part(f, "p", false, 0, -1, -1, true, true);
    assert_int_equal(p->nrows, 1);
    wc_page_free(p);
}

static void test_ttl_and_static(void **state)
{
    fx *f = *state;
    wc_read_request r;
    wc_page *p;
    wc_mutation m;
    wc_mutation *mp = &m;
    const char *vals[2] = {"t", "u"};
    wc_cell c = {.column = 9, .ts = 100, .value = (const uint8_t *)"S", .len = 1};

    assert_int_equal(wc_test_put(f->e, T1, "q", 1, 100, 60, NOW, 2, C12, vals), WC_OK);
    put(f, "q", 2, 100, "k", "l");
    wc_mutation_init(&m, T1, "q", 1);
    wc_rowb_cell(wc_mutation_row_begin(&m, true, NULL, 0), &c);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);

    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)"q";
    r.pk_len = 1;
    r.start.unbounded = r.end.unbounded = true;
    r.include_static = true;
    for (int flushed = 0; flushed < 2; flushed++) {
        r.now_sec = NOW + 59;
        assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
        assert_int_equal(p->nrows, 3);
        assert_true(p->rows[0].is_static);
        assert_memory_equal(wc_test_cell(&p->rows[0], 9)->value, "S", 1);
        assert_int_equal(wc_test_cell(&p->rows[1], 1)->ttl, 60);
        assert_int_equal(wc_test_cell(&p->rows[1], 1)->ldt, NOW + 60);
        wc_page_free(p);
        r.now_sec = NOW + 60; /* expired: the whole TTL'd row disappears */
        assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
        assert_int_equal(p->nrows, 2);
        assert_int_equal(wc_test_ck_value(p->rows[1].ck, p->rows[1].ck_len), 2);
        assert_true(p->stats.tombstones_scanned >= 2);
        wc_page_free(p);
        assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    }
}

static void test_paging_and_scan(void **state)
{
    fx *f = *state;
    wc_read_request r;
    wc_page *p;
    char pk[16];
    uint64_t seen = 0, pages = 0, last = 0;
    uint8_t *ps = NULL;
    size_t psl = 0;

    for (uint64_t i = 0; i < 1000; i++)
        put(f, "big", i, 100, "v", "w");
    for (int d = 0; d < 50; d++) {
        snprintf(pk, sizeof(pk), "d%02d", d);
        for (uint64_t i = 0; i < 5; i++)
            put(f, pk, i, 100, "v", "w");
        if (d == 25)
            assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    }
    /* single-partition paging, reverse */
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)"big";
    r.pk_len = 3;
    r.start.unbounded = r.end.unbounded = true;
    r.reverse = true;
    r.page_rows = 64;
    last = 1000;
    do {
        r.paging_state = ps;
        r.paging_state_len = psl;
        assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
        for (size_t i = 0; i < p->nrows; i++) {
            uint64_t v = wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len);
            assert_int_equal(v, last - 1);
            last = v;
            seen++;
        }
        free(ps);
        ps = NULL;
        psl = 0;
        if (p->more) {
            ps = malloc(p->paging_state_len);
            memcpy(ps, p->paging_state, p->paging_state_len);
            psl = p->paging_state_len;
        }
        pages++;
        wc_page_free(p);
    } while (ps);
    assert_int_equal(seen, 1000);
    assert_true(pages >= 16);

    /* full scan with per-partition limit 2 and pages of 7 rows: tokens ascending */
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.start.unbounded = r.end.unbounded = true;
    r.per_partition_limit = 2;
    r.page_rows = 7;
    seen = 0;
    {
        int64_t last_token = INT64_MIN;
        uint64_t in_part = 0;
        char lastpk[64] = "";
        do {
            r.paging_state = ps;
            r.paging_state_len = psl;
            assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
            for (size_t i = 0; i < p->nrows; i++) {
                char cur[64];
                snprintf(cur, sizeof(cur), "%.*s", (int)p->rows[i].pk_len, p->rows[i].pk);
                assert_true(p->rows[i].token >= last_token);
                if (strcmp(cur, lastpk) != 0) {
                    in_part = 0;
                    snprintf(lastpk, sizeof(lastpk), "%s", cur);
                }
                in_part++;
                assert_true(in_part <= 2);
                last_token = p->rows[i].token;
                seen++;
            }
            free(ps);
            ps = NULL;
            psl = 0;
            if (p->more) {
                ps = malloc(p->paging_state_len);
                memcpy(ps, p->paging_state, p->paging_state_len);
                psl = p->paging_state_len;
            }
            wc_page_free(p);
        } while (ps);
    }
    assert_int_equal(seen, 51 * 2);
    /* a paging state from another partition is refused */
    {
        uint8_t bad[3] = {1, 0, 0};
        memset(&r, 0, sizeof(r));
        r.table_id = T1;
        r.pk = (const uint8_t *)"big";
        r.pk_len = 3;
        r.start.unbounded = r.end.unbounded = true;
        r.paging_state = bad;
        r.paging_state_len = 3;
        assert_int_equal(wc_engine_read(f->e, &r, &p), WC_INVALID_ARGUMENT);
    }
}

static void test_bloom_skips_and_errors(void **state)
{
    fx *f = *state;
    wc_page *p;
    wc_mutation m;
    wc_mutation *mp = &m;
    char pk[16];
    wc_table_stats ts;

    for (int batch = 0; batch < 4; batch++) {
        for (int d = 0; d < 20; d++) {
            snprintf(pk, sizeof(pk), "b%d-%d", batch, d);
            put(f, pk, 1, 100, "v", "w");
        }
        assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    }
    assert_int_equal(wc_engine_table_stats(f->e, T1, &ts), WC_OK);
    assert_int_equal(ts.sstable_count, 4);
    assert_int_equal(ts.partitions_estimate, 80);
    p = read_part(f, "b2-7", false, 0, -1, -1, true, true);
    assert_int_equal(p->nrows, 1);
    assert_true(p->stats.bloom_skips + p->stats.range_skips >= 2);
    assert_true(p->stats.sstables_read >= 1);
    wc_page_free(p);

    /* unknown table, malformed mutation */
    wc_mutation_init(&m, 999, "x", 1);
    wc_rowb_liveness(wc_mutation_row_begin(&m, false, "a", 1), 1, 0, 0);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_NOT_FOUND);
    wc_mutation_free(&m);
    {
        uint8_t junk[] = {1, 2, 3, 4, 5};
        assert_int_equal(wc_engine_apply_batch(f->e, junk, sizeof(junk)), WC_INVALID_ARGUMENT);
    }
}

static void test_drop_and_recreate(void **state)
{
    fx *f = *state;
    wc_table_def d;
    wc_page *p;

    put(f, "z", 1, 100, "v", "w");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put(f, "z", 2, 100, "v", "w");
    assert_int_equal(wc_engine_drop_table(f->e, T1), WC_OK);
    assert_int_equal(wc_engine_drop_table(f->e, T1), WC_NOT_FOUND);
    reopen(f);
    assert_int_equal(wc_engine_get_table(f->e, T1, &d), WC_NOT_FOUND);
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.t1");
    assert_int_equal(wc_engine_create_table(f->e, &d), WC_OK);
    p = read_part(f, "z", false, 0, -1, -1, true, true);
    assert_int_equal(p->nrows, 0); /* nothing of the dropped table comes back */
    wc_page_free(p);
    reopen(f);
    p = read_part(f, "z", false, 0, -1, -1, true, true);
    assert_int_equal(p->nrows, 0);
    wc_page_free(p);
}

static void test_major_compaction(void **state)
{
    fx *f = *state;
    wc_page *p;
    wc_table_stats ts;
    wc_mutation m;
    wc_mutation *mp = &m;

    for (int round = 0; round < 4; round++) {
        for (uint64_t i = 0; i < 50; i++)
            put(f, "m", i, 100 + round, round % 2 ? "odd" : "even", "w");
        assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    }
    /* delete rows 10..19 with a range tombstone, in its own SSTable */
    {
        uint8_t a[8], b[8];
        wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL, .ts = 500,
                                 .ldt = NOW, .start = a, .start_len = 8, .end = b, .end_len = 8};
        wc_test_ck(10, a);
        wc_test_ck(19, b);
        wc_mutation_init(&m, T1, "m", 1);
        wc_mutation_delete_range(&m, &rt);
        assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
        wc_mutation_free(&m);
    }
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(wc_engine_table_stats(f->e, T1, &ts), WC_OK);
    assert_int_equal(ts.sstable_count, 5);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(wc_engine_table_stats(f->e, T1, &ts), WC_OK);
    assert_int_equal(ts.sstable_count, 1);
    assert_int_equal(ts.rows_estimate, 40); /* shadowed rows are gone from disk */
    for (int pass = 0; pass < 2; pass++) {
        p = read_part(f, "m", false, 0, -1, -1, true, true);
        assert_int_equal(p->nrows, 40);
        assert_int_equal(wc_test_ck_value(p->rows[10].ck, 8), 20);
        assert_memory_equal(wc_test_cell(&p->rows[0], 1)->value, "odd", 3);
        assert_int_equal(p->stats.sstables_read, 1);
        wc_page_free(p);
        reopen(f);
    }
}

static int flip_in_first_sst(const char *tdir)
{
    DIR *d = opendir(tdir);
    struct dirent *de;
    int done = -1;

    while (d && (de = readdir(d)) != NULL) {
        char path[1400];
        FILE *fp;
        if (!strstr(de->d_name, ".sst"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", tdir, de->d_name);
        fp = fopen(path, "r+b");
        if (fp == NULL)
            continue;
        fseek(fp, 20, SEEK_SET); /* inside the first data block */
        {
            int c = fgetc(fp);
            fseek(fp, 20, SEEK_SET);
            fputc(c ^ 0x5a, fp);
        }
        fclose(fp);
        done = 0;
        break;
    }
    if (d)
        closedir(d);
    return done;
}

static void test_corrupt_sstable_detected(void **state)
{
    fx *f = *state;
    wc_read_request r;
    wc_page *p = NULL;
    char tdir[1024];

    for (uint64_t i = 0; i < 200; i++)
        put(f, "c", i, 100, "value-value-value", "w");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    wc_engine_close(f->e);
    f->e = NULL;
    snprintf(tdir, sizeof(tdir), "%s/t%u", f->dir, T1);
    assert_int_equal(flip_in_first_sst(tdir), 0);
    assert_int_equal(wc_test_open(f->dir, WC_SYNC_PERIODIC, 1u << 20, &f->e), WC_OK);
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)"c";
    r.pk_len = 1;
    r.start.unbounded = r.end.unbounded = true;
    assert_int_equal(wc_engine_read(f->e, &r, &p), WC_CORRUPTION);
    assert_null(p);
}

/* A thread at nice 3 asks for 1 (lower) and then 30 (past the top). */
static void *nice_probe(void *arg)
{
    int *got = arg;

    got[0] = wc__thread_nice(1);
    got[1] = wc__thread_nice(30);
    got[2] = getpriority(PRIO_PROCESS, 0) == 19;
    return NULL;
}

/*
 * The flush thread runs at flush_nice and every compaction thread at
 * compaction_nice (values no other thread of this test has: the fixture's
 * engine runs the defaults), from the moment wc_engine_open returns; the
 * caller's own priority is untouched; a thread's nice value only rises.
 */
static void test_background_nice(void **state)
{
    fx *f = *state;
    wc_engine_options o;
    wc_engine *e = NULL;
    char dir[1024];
    pthread_t th;
    int got[3] = {0, 0, 0};

    (void)f;
    if (getpriority(PRIO_PROCESS, 0) != 0)
        skip(); /* the counts below assume a process at nice 0 */
    assert_int_equal(wc_test_threads_at_nice(4), 0);
    assert_int_equal(wc_test_threads_at_nice(7), 0);
    snprintf(dir, sizeof(dir), "%s/nice", f->dir);
    wc_engine_options_default(&o);
    assert_int_equal(o.flush_nice, 5);
    assert_int_equal(o.compaction_nice, 10);
    o.dir = dir;
    o.compaction_threads = 2;
    o.flush_nice = 4;
    o.compaction_nice = 7;
    assert_int_equal(wc_engine_open(&o, &e), WC_OK);
    assert_int_equal(wc_test_threads_at_nice(4), 1);
    assert_int_equal(wc_test_threads_at_nice(7), 2);
    assert_int_equal(getpriority(PRIO_PROCESS, 0), 0);
    wc_engine_close(e);
    assert_int_equal(wc_test_threads_at_nice(4), 0);
    assert_int_equal(wc_test_threads_at_nice(7), 0);

    assert_int_equal(wc__thread_start_nice(&th, nice_probe, got, "probe", 3, 0), WC_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 19);
    assert_int_equal(got[2], 1);
}

/*
 * A read of one partition passes over SSTables whose clustering keys all lie
 * outside its slice (counted in range_skips), whatever their bloom filters
 * say, and still reads every file whose partition deletion, range
 * tombstone or static row could change the answer.
 */
static void test_clustering_bounds_skip(void **state)
{
    fx *f = *state;
    wc_page *p;
    wc_mutation m;
    wc_mutation *mp = &m;
    char pk[16];
    uint8_t ck[8], ck2[8];

    /* file A: clustering keys 1..100 of partitions s0..s9; file B: 1000..1100 */
    for (int file = 0; file < 2; file++) {
        uint64_t lo = file ? 1000 : 1, hi = file ? 1100 : 100;

        for (int d = 0; d < 10; d++)
            for (uint64_t c = lo; c <= hi; c++) {
                snprintf(pk, sizeof(pk), "s%d", d);
                put(f, pk, c, 100, "v", file ? "new" : "old");
            }
        assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    }
    /* a point read of an old row reads A only, of a new row B only */
    p = read_slice(f, "s3", false, 0, 50, 50, true, true, false);
    assert_int_equal(p->nrows, 1);
    assert_memory_equal(wc_test_cell(&p->rows[0], 2)->value, "old", 3);
    assert_int_equal(p->stats.sstables_read, 1);
    assert_int_equal(p->stats.range_skips, 1);
    wc_page_free(p);
    p = read_slice(f, "s3", false, 0, 1050, 1050, true, true, false);
    assert_int_equal(p->nrows, 1);
    assert_memory_equal(wc_test_cell(&p->rows[0], 2)->value, "new", 3);
    assert_int_equal(p->stats.sstables_read, 1);
    wc_page_free(p);
    /* slices: at the edges of a file's bounds, between the files, across both */
    /* A ends at 100 (inclusive start) */
    p = read_slice(f, "s3", false, 0, 100, 999, true, true, false);
    assert_int_equal(p->nrows, 1);
    assert_int_equal(p->stats.sstables_read, 1);
    wc_page_free(p);
    /* nothing in (100, 999) */
    p = read_slice(f, "s3", false, 0, 100, 999, false, false, false);
    assert_int_equal(p->nrows, 0);
    assert_int_equal(p->stats.sstables_read, 0);
    assert_int_equal(p->stats.range_skips, 2);
    wc_page_free(p);
    /* B starts at 1000 (inclusive end) */
    p = read_slice(f, "s3", false, 0, 101, 1000, true, true, false);
    assert_int_equal(p->nrows, 1);
    assert_int_equal(p->stats.sstables_read, 1);
    wc_page_free(p);
    p = read_slice(f, "s3", false, 0, 90, 1010, true, false, false);
    assert_int_equal(p->nrows, 11 + 10);
    assert_int_equal(p->stats.sstables_read, 2);
    wc_page_free(p);
    p = read_slice(f, "s3", false, 0, -1, 5, true, true, false);
    assert_int_equal(p->nrows, 5);
    assert_int_equal(p->stats.sstables_read, 1);
    wc_page_free(p);

    /* file C: a range tombstone over [40, 60] of s3 and a row far away (5000) */
    wc_test_ck(40, ck);
    wc_test_ck(60, ck2);
    {
        wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL,
                                 .ts = 200, .ldt = NOW, .start = ck, .start_len = 8,
                                 .end = ck2, .end_len = 8};
        wc_mutation_init(&m, T1, "s3", 2);
        wc_mutation_delete_range(&m, &rt);
        assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
        wc_mutation_free(&m);
    }
    put(f, "s3", 5000, 200, "far", "far");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    p = read_slice(f, "s3", false, 0, 50, 50, true, true, false);
    assert_int_equal(p->nrows, 0); /* C's header is read though its rows are at 5000 */
    assert_int_equal(p->stats.sstables_read, 2);
    wc_page_free(p);
    p = read_slice(f, "s3", false, 0, 30, 70, true, true, false);
    assert_int_equal(p->nrows, 41 - 21);
    wc_page_free(p);

    /* file D: a partition deletion of s4 and a newer row at 7000 */
    delete_partition(f, "s4", 300);
    put(f, "s4", 7000, 301, "alive", "x");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    p = read_slice(f, "s4", false, 0, 10, 10, true, true, false);
    assert_int_equal(p->nrows, 0);
    wc_page_free(p);
    p = read_slice(f, "s4", false, 0, -1, -1, true, true, false);
    assert_int_equal(p->nrows, 1);
    wc_page_free(p);

    /* file E: a static row of s5 and a row at 9000; a read with the static row reads E */
    {
        wc_cell c = {.column = 9, .ts = 400, .value = (const uint8_t *)"S", .len = 1};

        wc_mutation_init(&m, T1, "s5", 2);
        wc_rowb_cell(wc_mutation_row_begin(&m, true, NULL, 0), &c);
        wc_mutation_row_end(&m);
        assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
        wc_mutation_free(&m);
    }
    put(f, "s5", 9000, 400, "e", "e");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    p = read_part(f, "s5", false, 0, 10, 12, true, true);
    assert_int_equal(p->nrows, 4);
    assert_true(p->rows[0].is_static);
    wc_page_free(p);
    p = read_slice(f, "s5", false, 0, 10, 12, true, true, false);
    assert_int_equal(p->nrows, 3);
    assert_int_equal(p->stats.sstables_read, 1); /* A only: B, C (other partition, rows
                                                   elsewhere), D and E skipped or filtered */
    wc_page_free(p);
}

/* Call wc__yield_point() in a loop for 20 ms; *arg: the yields counted meanwhile. */
static void *yield_probe(void *arg)
{
    uint64_t *got = arg;
    uint64_t before = wc__yield_count();
    int64_t end = wc__mono_ns() + 20 * 1000000LL;

    while (wc__mono_ns() < end)
        wc__yield_point();
    *got = wc__yield_count() - before;
    return NULL;
}

/*
 * A thread started with yield_us = 100 yields about every 100 us of its
 * work: 20 ms of yield points give at most 200 yields and, however busy the
 * machine, some; one started with 0, or any other thread, never yields.
 */
static void test_yield_points(void **state)
{
    pthread_t th;
    uint64_t got = 0;

    (void)state;
    assert_int_equal(wc__thread_start_nice(&th, yield_probe, &got, "probe", 0, 100), WC_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(got >= 10);
    assert_true(got <= 201);
    assert_int_equal(wc__thread_start_nice(&th, yield_probe, &got, "probe", 3, 0), WC_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(got, 0);
    yield_probe(&got); /* the test's own thread */
    assert_int_equal(got, 0);
}

/* Yields made while a compaction thread of an engine at bulk_yield_us merges 4 SSTables. */
static uint64_t compaction_yields(fx *f, const char *name, uint32_t yield_us)
{
    wc_engine_options o;
    wc_engine *e = NULL;
    wc_table_def d;
    char dir[1024];
    uint64_t before;
    wc_table_stats ts;

    snprintf(dir, sizeof(dir), "%s/%s", f->dir, name);
    wc_engine_options_default(&o);
    assert_int_equal(o.bulk_yield_us, 200);
    o.dir = dir;
    o.compaction_threads = 1;
    o.compaction_throughput_mb_per_sec = 0;
    o.bulk_yield_us = yield_us;
    assert_int_equal(wc_engine_open(&o, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.t1");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < 2000; i++) {
            char pk[32];
            const char *vals[2] = {"a", "b"};

            snprintf(pk, sizeof(pk), "p%d", i % 50);
            assert_int_equal(wc_test_put(e, T1, pk, (uint64_t)(s * 2000 + i), 1, 0, NOW, 2, C12,
                                         vals),
                             WC_OK);
        }
        /* in this thread, which never yields */
        assert_int_equal(wc_engine_flush(e, T1, true), WC_OK);
    }
    before = wc__yield_count();
    assert_int_equal(wc_engine_compaction_wait(e, T1, 30000), WC_OK);
    assert_int_equal(wc_engine_table_stats(e, T1, &ts), WC_OK);
    assert_int_equal(ts.sstable_count, 1);
    before = wc__yield_count() - before;
    wc_engine_close(e);
    return before;
}

/*
 * The compaction thread writes its output through yield points at the
 * engine's bulk_yield_us: 8,000 rows at 1 us yield often, at 0 never.
 */
static void test_compaction_yields(void **state)
{
    fx *f = *state;

    assert_true(compaction_yields(f, "yield1", 1) >= 50);
    assert_int_equal(compaction_yields(f, "yield0", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slices_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_and_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_and_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_and_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bloom_skips_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_and_recreate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_major_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_sstable_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_nice, setup, teardown),
        cmocka_unit_test(test_yield_points),
        cmocka_unit_test_setup_teardown(test_clustering_bounds_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_yields, setup, teardown),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
