/*
 * atomic_visibility_test.c - the mutations of one batch (one commit-log
 * record) become visible to concurrent readers all at once: a writer
 * applies transfers (a debit row and a credit row in one batch, in two
 * partitions or in one), readers running at the same time must never see
 * one row of a transfer without the other, across memtable switches and
 * flushes as well.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "mutation.h"
#include "testutil.h"

#define T1 11
#define COL 1
#define TRANSFERS 20000
#define MAX_MS 4000 /* the writer stops earlier on a slow machine */

typedef struct fx {
    char *dir;
    wc_engine *e;
    bool one_partition; /* both rows in partition "acct" (ck 1, 2), else "alice" and "bob" (ck 1) */
    _Atomic bool done;
    _Atomic long reads, torn, partial_reads, failures;
} fx;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One row (pk, ck) with cell COL = val, in m. */
static void add_row(wc_mutation *m, uint64_t ck, int64_t ts, const char *val)
{
    uint8_t ckb[8];
    wc_rowb *rb;
    wc_cell c = {.column = COL, .ts = ts, .value = (const uint8_t *)val, .len = strlen(val)};

    wc_test_ck(ck, ckb);
    rb = wc_mutation_row_begin(m, false, ckb, 8);
    wc_rowb_liveness(rb, ts, 0, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
}

/* Transfer i: both rows get the value i, in one wc_engine_apply (one record). */
static wc_status transfer(fx *f, long i)
{
    char val[32];
    wc_mutation m[2];
    wc_mutation *mp[2] = {&m[0], &m[1]};
    size_t n;
    wc_status st;

    snprintf(val, sizeof(val), "%010ld", i);
    if (f->one_partition) {
        wc_mutation_init(&m[0], T1, "acct", 4);
        add_row(&m[0], 1, i, val);
        add_row(&m[0], 2, i, val);
        n = 1;
    } else {
        wc_mutation_init(&m[0], T1, "alice", 5);
        wc_mutation_init(&m[1], T1, "bob", 3);
        add_row(&m[0], 1, i, val);
        add_row(&m[1], 1, i, val);
        n = 2;
    }
    st = wc_engine_apply(f->e, mp, n);
    for (size_t k = 0; k < n; k++)
        wc_mutation_free(&m[k]);
    return st;
}

static void *writer(void *arg)
{
    fx *f = arg;
    uint64_t deadline = now_ms() + MAX_MS;

    for (long i = 1; i <= TRANSFERS && now_ms() < deadline; i++)
        if (transfer(f, i) != WC_OK) {
            atomic_fetch_add(&f->failures, 1);
            break;
        }
    atomic_store(&f->done, true);
    return NULL;
}

/* Read the accounts (a scan, or the one partition) and check the two rows agree. */
static void *reader(void *arg)
{
    fx *f = arg;

    while (!atomic_load(&f->done)) {
        wc_read_request q;
        wc_page *p = NULL;
        const wc_cell *a, *b;

        memset(&q, 0, sizeof(q));
        q.table_id = T1;
        if (f->one_partition) {
            q.pk = (const uint8_t *)"acct";
            q.pk_len = 4;
        }
        q.start.unbounded = q.end.unbounded = true;
        q.page_rows = 100;
        if (wc_engine_read(f->e, &q, &p) != WC_OK) {
            atomic_fetch_add(&f->failures, 1);
            return NULL;
        }
        atomic_fetch_add(&f->reads, 1);
        if (p->nrows == 1) {
            atomic_fetch_add(&f->partial_reads, 1);
        } else if (p->nrows == 2) {
            a = wc_test_cell(&p->rows[0], COL);
            b = wc_test_cell(&p->rows[1], COL);
            if (a == NULL || b == NULL || a->len != b->len || memcmp(a->value, b->value, a->len) != 0)
                atomic_fetch_add(&f->torn, 1);
        } else if (p->nrows != 0) {
            atomic_fetch_add(&f->failures, 1);
        }
        wc_page_free(p);
    }
    return NULL;
}

static void run(bool one_partition)
{
    fx f;
    wc_table_def d;
    pthread_t w, r[2];

    memset(&f, 0, sizeof(f));
    f.one_partition = one_partition;
    f.dir = wc_test_tmpdir("atomicvis");
    assert_non_null(f.dir);
    /* small memtables: switches and flushes happen while the readers run */
    assert_int_equal(wc_test_open(f.dir, WC_SYNC_PERIODIC, 256u << 10, &f.e), WC_OK);
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.accounts");
    assert_int_equal(wc_engine_create_table(f.e, &d), WC_OK);

    assert_int_equal(pthread_create(&w, NULL, writer, &f), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&r[i], NULL, reader, &f), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    print_message("%s: %ld reads, %ld saw one row of a transfer without the other, %ld saw "
                  "two rows of different transfers\n",
                  one_partition ? "one partition" : "two partitions", atomic_load(&f.reads),
                  atomic_load(&f.partial_reads), atomic_load(&f.torn));
    assert_int_equal(atomic_load(&f.failures), 0);
    assert_true(atomic_load(&f.reads) > 0);
    assert_int_equal(atomic_load(&f.partial_reads), 0);
    assert_int_equal(atomic_load(&f.torn), 0);
    assert_int_equal(wc_test_count_rows(f.e, T1, NULL, 0, NULL), 2);

    wc_engine_close(f.e);
    wc_test_rmrf(f.dir);
    free(f.dir);
}

static void test_two_partitions_at_once(void **state)
{
    (void)state;
    run(false);
}

static void test_two_rows_of_one_partition_at_once(void **state)
{
    (void)state;
    run(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_partitions_at_once),
        cmocka_unit_test(test_two_rows_of_one_partition_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
