/*
 * counter_test.c - counter cells: shard merge rules, delta resolution on the
 * write path (exact under concurrency, across flush, compaction and
 * commit-log replay), deletion, several deltas of one cell in a batch, and
 * the writer id file (counter_id) across a power loss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "engine.h"
#include "faultfs.h"
#include "mutation.h"
#include "raw.h"
#include "row.h"
#include "testutil.h"

#define T1 11
#define NOW 1700000000u

typedef struct fx {
    char *dir;
    wc_engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    wc_table_def d;

    f->dir = wc_test_tmpdir("counter");
    if (f->dir == NULL || wc_test_open(f->dir, WC_SYNC_PERIODIC, 1u << 20, &f->e) != WC_OK)
        return -1;
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.counters");
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

/* One delta cell (column col, += delta) in row ck of partition pk, written at ts. */
static void add_delta(wc_mutation *m, uint64_t ck, uint32_t col, int64_t delta, int64_t ts)
{
    uint8_t ckb[8], v[WC_COUNTER_DELTA_LEN];
    wc_cell c;
    wc_rowb *rb;

    wc_test_ck(ck, ckb);
    wc_counter_delta_encode(v, delta);
    memset(&c, 0, sizeof(c));
    c.column = col;
    c.flags = WC_CELLF_COUNTER_DELTA;
    c.ts = ts;
    c.value = v;
    c.len = sizeof(v);
    rb = wc_mutation_row_begin(m, false, ckb, 8);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
}

static wc_status incr(wc_engine *e, const char *pk, uint64_t ck, uint32_t col, int64_t delta,
                      int64_t ts)
{
    wc_mutation m, *mp = &m;
    wc_status st;

    wc_mutation_init(&m, T1, pk, strlen(pk));
    add_delta(&m, ck, col, delta, ts);
    st = wc_engine_apply(e, &mp, 1);
    wc_mutation_free(&m);
    return st;
}

/* The counter's value (sum of shards); *found false when the cell is absent. */
static int64_t value_of(wc_engine *e, const char *pk, uint64_t ck, uint32_t col, bool *found)
{
    wc_read_request r;
    wc_page *p = NULL;
    uint8_t ckb[8];
    int64_t sum = 0;

    wc_test_ck(ck, ckb);
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.key = r.end.key = ckb;
    r.start.len = r.end.len = 8;
    r.start.inclusive = r.end.inclusive = true;
    r.now_sec = NOW;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    *found = false;
    for (size_t i = 0; i < p->nrows; i++) {
        const wc_cell *c = wc_test_cell(&p->rows[i], col);
        if (c != NULL) {
            assert_true(c->flags & WC_CELLF_COUNTER);
            assert_true(wc_counter_sum(c->value, c->len, &sum));
            *found = true;
        }
    }
    wc_page_free(p);
    return sum;
}

static int64_t value(wc_engine *e, const char *pk, uint64_t ck, uint32_t col)
{
    bool found;
    int64_t v = value_of(e, pk, ck, col, &found);
    assert_true(found);
    return v;
}

static void shard_list(wc_buf *b, uint64_t w, uint64_t clock, int64_t v)
{
    wc_counter_shard s = {w, clock, v};
    wc_counter_put_shard(b, &s);
}

/* Merge: per writer the higher clock wins; commutative and idempotent; sum of shards. */
static void test_merge_rules(void **state)
{
    wc_buf a, b, ab, ba, aa;
    int64_t sum;
    (void)state;

    wc_buf_init(&a);
    wc_buf_init(&b);
    wc_buf_init(&ab);
    wc_buf_init(&ba);
    wc_buf_init(&aa);
    shard_list(&a, 5, 3, 10);
    shard_list(&a, 9, 1, 7);
    shard_list(&b, 5, 4, 12);
    shard_list(&b, 7, 2, -3);
    assert_true(wc_counter_valid(a.data, a.len));
    wc_counter_merge(&ab, a.data, a.len, b.data, b.len);
    wc_counter_merge(&ba, b.data, b.len, a.data, a.len);
    assert_int_equal(ab.len, 3 * WC_COUNTER_SHARD_LEN);
    assert_int_equal(wc_counter_merged_len(a.data, a.len, b.data, b.len), ab.len);
    assert_memory_equal(ab.data, ba.data, ab.len);
    assert_true(wc_counter_sum(ab.data, ab.len, &sum));
    assert_int_equal(sum, 12 - 3 + 7); /* writer 5 at clock 4, not 10 + 12 */
    wc_counter_merge(&aa, a.data, a.len, a.data, a.len);
    assert_memory_equal(aa.data, a.data, a.len);
    /* malformed lists: writers out of order, ragged length */
    assert_false(wc_counter_valid(ba.data, 20));
    wc_buf_reset(&aa);
    shard_list(&aa, 9, 1, 1);
    shard_list(&aa, 5, 1, 1);
    assert_false(wc_counter_valid(aa.data, aa.len));
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&ab);
    wc_buf_free(&ba);
    wc_buf_free(&aa);
}

/* Row merge: two counter cells merge by shard; two deltas add; a tombstone still wins. */
static void test_row_merge(void **state)
{
    wc_buf r1, r2, out, s1, s2;
    wc_rowb rb;
    wc_cell c;
    wc_row_view v;
    int64_t sum;
    uint8_t d1[8], d2[8];
    (void)state;

    wc_buf_init(&r1);
    wc_buf_init(&r2);
    wc_buf_init(&out);
    wc_buf_init(&s1);
    wc_buf_init(&s2);
    shard_list(&s1, 1, 5, 100);
    shard_list(&s2, 2, 1, 20);
    memset(&c, 0, sizeof(c));
    c.column = 3;
    c.flags = WC_CELLF_COUNTER;
    c.ts = 10;
    c.value = s1.data;
    c.len = s1.len;
    wc_rowb_begin(&rb, &r1);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    c.ts = 20;
    c.value = s2.data;
    c.len = s2.len;
    wc_rowb_begin(&rb, &r2);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_int_equal(wc_row_merge(r1.data, r1.len, r2.data, r2.len, &out), WC_OK);
    assert_true(wc_row_parse(out.data, out.len, &v));
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_int_equal(c.ts, 20);
    assert_true(wc_counter_sum(c.value, c.len, &sum));
    assert_int_equal(sum, 120);

    /* deltas add (a transaction's pending increments of one cell) */
    wc_counter_delta_encode(d1, 4);
    wc_counter_delta_encode(d2, -1);
    wc_buf_reset(&r1);
    wc_buf_reset(&r2);
    wc_buf_reset(&out);
    c.flags = WC_CELLF_COUNTER_DELTA;
    c.value = d1;
    c.len = 8;
    wc_rowb_begin(&rb, &r1);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    c.value = d2;
    wc_rowb_begin(&rb, &r2);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_int_equal(wc_row_merge(r1.data, r1.len, r2.data, r2.len, &out), WC_OK);
    assert_true(wc_row_parse(out.data, out.len, &v));
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_true(c.flags & WC_CELLF_COUNTER_DELTA);
    assert_int_equal(wc_counter_delta_decode(c.value), 3);

    /* a later cell tombstone beats a counter */
    wc_buf_reset(&r2);
    wc_buf_reset(&out);
    memset(&c, 0, sizeof(c));
    c.column = 3;
    c.flags = WC_CELLF_TOMBSTONE;
    c.ts = 30;
    c.ldt = NOW;
    wc_rowb_begin(&rb, &r2);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_int_equal(wc_row_merge(r1.data, r1.len, r2.data, r2.len, &out), WC_OK);
    assert_true(wc_row_parse(out.data, out.len, &v));
    assert_int_equal(wc_row_next_cell(&v, &c), 1);
    assert_true(c.flags & WC_CELLF_TOMBSTONE);
    wc_buf_free(&r1);
    wc_buf_free(&r2);
    wc_buf_free(&out);
    wc_buf_free(&s1);
    wc_buf_free(&s2);
}

/* Deltas sum; the sum survives flush, compaction and reopen (replay adds nothing). */
static void test_deltas_flush_compact_replay(void **state)
{
    fx *f = *state;

    assert_int_equal(incr(f->e, "click", 1, 1, 5, 100), WC_OK);
    assert_int_equal(incr(f->e, "click", 1, 1, 3, 101), WC_OK);
    assert_int_equal(value(f->e, "click", 1, 1), 8);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(incr(f->e, "click", 1, 1, -2, 102), WC_OK);
    assert_int_equal(incr(f->e, "click", 1, 2, 40, 102), WC_OK);
    assert_int_equal(value(f->e, "click", 1, 1), 6);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(value(f->e, "click", 1, 1), 6);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(value(f->e, "click", 1, 1), 6);
    assert_int_equal(value(f->e, "click", 1, 2), 40);
    /* unflushed increments come back from the commit log exactly once */
    assert_int_equal(incr(f->e, "click", 1, 1, 10, 103), WC_OK);
    wc_engine_close(f->e);
    f->e = NULL;
    assert_int_equal(wc_test_open(f->dir, WC_SYNC_PERIODIC, 1u << 20, &f->e), WC_OK);
    assert_int_equal(value(f->e, "click", 1, 1), 16);
    /* the writer id is kept: a new increment replaces this engine's shard */
    assert_int_equal(incr(f->e, "click", 1, 1, 1, 104), WC_OK);
    assert_int_equal(value(f->e, "click", 1, 1), 17);
}

/*
 * Several deltas of one cell in one batch add up (a transaction's
 * increments), decrements too: the shards the batch writes for the cell
 * must each supersede the one before, whatever their values.
 */
static void test_batch_same_cell(void **state)
{
    fx *f = *state;
    wc_mutation m1, m2, *ms[2] = {&m1, &m2};

    wc_mutation_init(&m1, T1, "view", 4);
    add_delta(&m1, 7, 1, 2, 200);
    wc_mutation_init(&m2, T1, "view", 4);
    add_delta(&m2, 7, 1, 5, 200);
    assert_int_equal(wc_engine_apply(f->e, ms, 2), WC_OK);
    assert_int_equal(value(f->e, "view", 7, 1), 7);
    wc_mutation_reset(&m1, T1, "view", 4);
    add_delta(&m1, 7, 1, -1, 201);
    wc_mutation_reset(&m2, T1, "view", 4);
    add_delta(&m2, 7, 1, -1, 201);
    assert_int_equal(wc_engine_apply(f->e, ms, 2), WC_OK);
    wc_mutation_free(&m1);
    wc_mutation_free(&m2);
    assert_int_equal(value(f->e, "view", 7, 1), 5);
}

/* A deleted counter reads as absent; incremented after the deletion it counts from 0. */
static void test_delete(void **state)
{
    fx *f = *state;
    wc_mutation m, *mp = &m;
    uint8_t ckb[8];
    bool found;

    assert_int_equal(incr(f->e, "p", 1, 1, 9, 300), WC_OK);
    wc_test_ck(1, ckb);
    wc_mutation_init(&m, T1, "p", 1);
    wc_rowb_deletion(wc_mutation_row_begin(&m, false, ckb, 8), 301, NOW);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
    (void)value_of(f->e, "p", 1, 1, &found);
    assert_false(found);
    assert_int_equal(incr(f->e, "p", 1, 1, 4, 302), WC_OK);
    assert_int_equal(value(f->e, "p", 1, 1), 4);
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(value(f->e, "p", 1, 1), 4);
}

#define NTHREADS 4
#define NINCR 250

static void *incr_main(void *arg)
{
    wc_engine *e = arg;
    for (int i = 0; i < NINCR; i++)
        if (incr(e, "hot", 1, 1, 1, 400 + i) != WC_OK)
            return (void *)1;
    return NULL;
}

/* Concurrent increments of one cell from several threads sum exactly. */
static void test_concurrent(void **state)
{
    fx *f = *state;
    pthread_t th[NTHREADS];
    void *rv;

    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, incr_main, f->e), 0);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], &rv), 0);
        assert_null(rv);
    }
    assert_int_equal(value(f->e, "hot", 1, 1), NTHREADS * NINCR);
}

/* A malformed delta (wrong length) is refused before the log. */
static void test_malformed(void **state)
{
    wc_buf r;
    wc_rowb rb;
    wc_cell c;
    uint8_t v[4] = {1, 2, 3, 4};
    (void)state;

    wc_buf_init(&r);
    memset(&c, 0, sizeof(c));
    c.column = 1;
    c.flags = WC_CELLF_COUNTER_DELTA;
    c.ts = 1;
    c.value = v;
    c.len = sizeof(v);
    wc_rowb_begin(&rb, &r);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_false(wc_row_validate(r.data, r.len));
    wc_buf_reset(&r);
    c.flags = WC_CELLF_COUNTER;
    wc_rowb_begin(&rb, &r);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_false(wc_row_validate(r.data, r.len));
    wc_buf_free(&r);
}

/* A second engine (another replica) with the table, in a directory of its own (*dir). */
static wc_engine *second_engine(const char *name, char **dir)
{
    wc_engine *e2;
    wc_table_def d;

    *dir = wc_test_tmpdir(name);
    assert_non_null(*dir);
    assert_int_equal(wc_test_open(*dir, WC_SYNC_PERIODIC, 1u << 20, &e2), WC_OK);
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.counters");
    assert_int_equal(wc_engine_create_table(e2, &d), WC_OK);
    return e2;
}

/*
 * Two engines (two replicas, each its own writer) count into the same cell:
 * their raw results differ, reconcile merges the shards into the total, and
 * the repairs make both replicas hold it with equal digests; applying a
 * repair twice adds nothing.
 */
static void test_replicas_reconcile(void **state)
{
    fx *f = *state;
    char *dir2;
    wc_engine *e2 = second_engine("counter2", &dir2);
    wc_store_read r;
    wc_buf raw1, raw2, answer, rep[2];
    wc_store_raw raws[2];
    uint8_t d1[WC_RAW_DIGEST_LEN], d2[WC_RAW_DIGEST_LEN];
    wc_engine *es[2];

    es[0] = f->e;
    es[1] = e2;
    assert_int_equal(incr(f->e, "r", 1, 1, 10, 500), WC_OK);
    assert_int_equal(incr(f->e, "r", 1, 1, 5, 501), WC_OK);
    assert_int_equal(incr(e2, "r", 1, 1, 7, 502), WC_OK);

    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)"r";
    r.pk_len = 1;
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = NOW;
    for (int round = 0; round < 2; round++) {
        wc_buf_init(&raw1);
        wc_buf_init(&raw2);
        wc_buf_init(&answer);
        wc_buf_init(&rep[0]);
        wc_buf_init(&rep[1]);
        assert_int_equal(wc_engine_read_raw(f->e, &r, &raw1, d1), WC_OK);
        assert_int_equal(wc_engine_read_raw(e2, &r, &raw2, d2), WC_OK);
        if (round == 1)
            assert_memory_equal(d1, d2, WC_RAW_DIGEST_LEN);
        else
            assert_memory_not_equal(d1, d2, WC_RAW_DIGEST_LEN);
        raws[0].data = raw1.data;
        raws[0].len = raw1.len;
        raws[1].data = raw2.data;
        raws[1].len = raw2.len;
        assert_int_equal(wc_raw_reconcile(&r, raws, 2, &answer, rep), WC_OK);
        for (int i = 0; i < 2; i++) {
            if (rep[i].len > 0) {
                assert_false(wc_counter_batch_has_delta(rep[i].data, rep[i].len));
                assert_int_equal(wc_engine_apply_batch(es[i], rep[i].data, rep[i].len), WC_OK);
                /* a repair delivered twice (a retry) changes nothing */
                assert_int_equal(wc_engine_apply_batch(es[i], rep[i].data, rep[i].len), WC_OK);
            }
            wc_buf_free(&rep[i]);
        }
        assert_int_equal(value(f->e, "r", 1, 1), 22);
        assert_int_equal(value(e2, "r", 1, 1), 22);
        wc_buf_free(&raw1);
        wc_buf_free(&raw2);
        wc_buf_free(&answer);
    }
    /* each replica keeps counting into its own shard */
    assert_int_equal(incr(e2, "r", 1, 1, 1, 503), WC_OK);
    assert_int_equal(value(e2, "r", 1, 1), 23);
    wc_engine_close(e2);
    wc_test_rmrf(dir2);
    free(dir2);
}

/* The 8 bytes of dir/counter_id into id; false when the file is missing or not 8 bytes. */
static bool read_writer_id(const char *dir, uint8_t id[8])
{
    char path[4200];
    uint8_t extra;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/counter_id", dir);
    if ((f = fopen(path, "rb")) == NULL)
        return false;
    n = fread(id, 1, 8, f);
    n += fread(&extra, 1, 1, f); /* a longer file is not an id */
    fclose(f);
    return n == 8;
}

/*
 * The power goes out right after the first counter write of an engine was
 * acknowledged.  The writer id that shard names must still be in
 * counter_id, and the shard itself must be there even with a periodic
 * commit log (here one that would not sync for a minute): the engine goes
 * on with the same id, so a shard it lost would let it write that clock
 * again with another value, and the replicas that got the first one would
 * keep either (an increment lost or counted twice).  Later increments add
 * to what survived.
 */
static void writer_id_power_loss(wc_sync_mode mode)
{
    char *root = wc_test_tmpdir("counterpl");
    char dir[4200];
    uint8_t before[8], after[8];
    wc_faultfs *ff = wc_faultfs_new_power_loss(root);
    wc_engine_options o;
    wc_engine *e;
    wc_table_def d;

    assert_non_null(ff);
    snprintf(dir, sizeof(dir), "%s/db", root);
    wc_engine_options_default(&o);
    o.dir = dir;
    o.fs = wc_faultfs_fs(ff);
    o.sync_mode = mode;
    o.sync_period_ms = 60000;
    o.compaction_threads = 0;
    assert_int_equal(wc_engine_open(&o, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.counters");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    assert_int_equal(incr(e, "p", 1, 1, 5, 100), WC_OK); /* makes counter_id */
    assert_true(read_writer_id(dir, before));
    wc_faultfs_crash(ff);
    wc_engine_close(e);
    wc_faultfs_reset(ff);

    assert_true(read_writer_id(dir, after));
    assert_memory_equal(before, after, 8);
    assert_int_equal(wc_engine_open(&o, &e), WC_OK);
    assert_int_equal(value(e, "p", 1, 1), 5);
    assert_int_equal(incr(e, "p", 1, 1, 2, 101), WC_OK);
    assert_int_equal(value(e, "p", 1, 1), 7);
    assert_true(read_writer_id(dir, after));
    assert_memory_equal(before, after, 8);
    wc_engine_close(e);
    wc_faultfs_free(ff);
    wc_test_rmrf(root);
    free(root);
}

static void test_writer_id_power_loss_batch(void **state)
{
    (void)state;
    writer_id_power_loss(WC_SYNC_BATCH);
}

static void test_writer_id_power_loss_periodic(void **state)
{
    (void)state;
    writer_id_power_loss(WC_SYNC_PERIODIC);
}

/*
 * A leader replica: wc_engine_apply_counter applies the deltas to its own
 * shard and hands back the batch it applied - shards only - which another
 * replica applies as a plain batch to hold the same value; applied twice
 * there (a hint and a repair) it adds nothing.  The leader's next delta
 * builds on its shard.  wc_counter_batch_only_deltas tells a counter write
 * from a batch that also holds other writes.
 */
static void test_leader_apply(void **state)
{
    fx *f = *state;
    char *dir2;
    wc_engine *e2 = second_engine("counter_follower", &dir2);
    wc_mutation m;
    wc_buf rec, resolved;
    const uint8_t *enc;
    size_t len;
    uint32_t table = 0;
    const char *why = NULL;

    wc_buf_init(&rec);
    wc_buf_init(&resolved);
    for (int round = 0; round < 2; round++) {
        wc_mutation_init(&m, T1, "lead", 4);
        add_delta(&m, 3, 1, round == 0 ? 40 : 2, 900 + round);
        assert_int_equal(wc_mutation_encode(&m, &enc, &len), WC_OK);
        wc_buf_reset(&rec);
        wc_batch_begin(&rec, 1);
        wc_batch_add(&rec, enc, len);
        wc_mutation_free(&m);
        assert_true(wc_counter_batch_only_deltas(rec.data, rec.len, &table, &why));
        assert_int_equal(table, T1);
        wc_buf_reset(&resolved);
        assert_int_equal(wc_engine_apply_counter(f->e, rec.data, rec.len, &resolved), WC_OK);
        assert_true(resolved.len > 0);
        assert_false(wc_counter_batch_has_delta(resolved.data, resolved.len));
        /* the follower applies the leader's shard, twice: the same value */
        assert_int_equal(wc_engine_apply_batch(e2, resolved.data, resolved.len), WC_OK);
        assert_int_equal(wc_engine_apply_batch(e2, resolved.data, resolved.len), WC_OK);
        assert_int_equal(value(f->e, "lead", 3, 1), round == 0 ? 40 : 42);
        assert_int_equal(value(e2, "lead", 3, 1), round == 0 ? 40 : 42);
    }
    /* an older shard of the leader arriving late changes nothing */
    assert_int_equal(wc_engine_apply_batch(e2, resolved.data, resolved.len), WC_OK);
    assert_int_equal(value(e2, "lead", 3, 1), 42);
    /* a batch with a plain cell, or a deletion, is not a counter write */
    assert_false(wc_counter_batch_only_deltas(resolved.data, resolved.len, &table, &why));
    assert_non_null(why);
    wc_mutation_init(&m, T1, "lead", 4);
    wc_mutation_delete_partition(&m, 950, NOW);
    add_delta(&m, 3, 1, 1, 951);
    assert_int_equal(wc_mutation_encode(&m, &enc, &len), WC_OK);
    wc_buf_reset(&rec);
    wc_batch_begin(&rec, 1);
    wc_batch_add(&rec, enc, len);
    wc_mutation_free(&m);
    assert_false(wc_counter_batch_only_deltas(rec.data, rec.len, &table, &why));
    wc_buf_free(&rec);
    wc_buf_free(&resolved);
    wc_engine_close(e2);
    wc_test_rmrf(dir2);
    free(dir2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_rules),
        cmocka_unit_test(test_row_merge),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test_setup_teardown(test_deltas_flush_compact_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_same_cell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicas_reconcile, setup, teardown),
        cmocka_unit_test(test_writer_id_power_loss_batch),
        cmocka_unit_test(test_writer_id_power_loss_periodic),
        cmocka_unit_test_setup_teardown(test_leader_apply, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
