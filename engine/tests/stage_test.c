/*
 * stage_test.c - staged transactions (engine.h, stage.c): writes staged in
 * chunks stay invisible until published and then appear all at once, an
 * abort or a failed chunk leaves nothing, and after a crash (faultfs) the
 * commit-log replay keeps every published transaction and drops the ones
 * never published, also when plain writes and flushes retired commit-log
 * segments while the transaction was open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counter.h"
#include "engine.h"
#include "engine_int.h"
#include "faultfs.h"
#include "mutation.h"
#include "testutil.h"

#define T1 21
#define T2 22
#define NOW 1700000000

typedef struct st_env {
    char *dir;
    wc_faultfs *ff;
    wc_engine *e;
    wc__table *held; /* a table whose flushes are held (its manifest_mu is locked) */
} st_env;

/* Hold (or let go) every flush of table id: its memtables stay in memory only. */
static void st_hold_flushes(st_env *s, uint32_t id, bool hold)
{
    if (hold) {
        pthread_rwlock_rdlock(&s->e->tables_mu);
        s->held = wc__engine_find_table(s->e, id);
        pthread_rwlock_unlock(&s->e->tables_mu);
        assert_non_null(s->held);
        pthread_mutex_lock(&s->held->manifest_mu);
    } else if (s->held != NULL) {
        pthread_mutex_unlock(&s->held->manifest_mu);
        s->held = NULL;
    }
}

static wc_status st_open(st_env *s)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = s->dir;
    o.fs = wc_faultfs_fs(s->ff);
    o.sync_mode = WC_SYNC_BATCH;
    o.segment_bytes = 256u << 10;    /* chunks span several segments */
    o.memtable_bytes = 64u << 20;    /* no switch unless asked for */
    o.cache_bytes = 4u << 20;
    o.block_bytes = 4096;
    o.compaction_threads = 0;
    return wc_engine_open(&o, &s->e);
}

static void st_setup(st_env *s)
{
    wc_table_def d;

    memset(s, 0, sizeof(*s));
    s->dir = wc_test_tmpdir("stage");
    assert_non_null(s->dir);
    s->ff = wc_faultfs_new(NULL);
    assert_non_null(s->ff);
    assert_int_equal(st_open(s), WC_OK);
    for (uint32_t id = T1; id <= T2; id++) {
        wc_table_def_default(&d);
        d.id = id;
        snprintf(d.name, sizeof(d.name), "ks.stage%u", id);
        assert_int_equal(wc_engine_create_table(s->e, &d), WC_OK);
    }
}

/*
 * Crash: whatever was not fsynced is gone; then reopen on what survived.
 * open (if not NULL) is a transaction the crash interrupted: only its
 * memory is released (its abort marker cannot be written any more).
 */
static void st_crash_reopen(st_env *s, wc_staged *open)
{
    wc_faultfs_crash(s->ff);
    st_hold_flushes(s, 0, false); /* a held flush now fails: the machine is down */
    wc_engine_stage_abort(s->e, open);
    wc_engine_close(s->e);
    wc_faultfs_reset(s->ff);
    s->e = NULL;
    assert_int_equal(st_open(s), WC_OK);
}

static void st_teardown(st_env *s)
{
    wc_engine_close(s->e);
    wc_faultfs_free(s->ff);
    wc_test_rmrf(s->dir);
    free(s->dir);
}

/* A batch of rows [from, to) of partition pk of table, value pad bytes of fill. */
static void st_batch(wc_batch_builder *b, uint32_t table, const char *pk, uint64_t from,
                     uint64_t to, int64_t ts, char fill, size_t pad)
{
    char val[4096];

    assert_true(pad < sizeof(val));
    memset(val, fill, pad);
    val[pad] = '\0';
    for (uint64_t ck = from; ck < to; ck++) {
        uint8_t ckb[8];
        wc_mutation *m = wc_batch_builder_begin(b, table, pk, strlen(pk));
        wc_rowb *rb;
        wc_cell c = {.column = 1, .ts = ts, .value = (const uint8_t *)val, .len = pad};

        assert_non_null(m);
        wc_test_ck(ck, ckb);
        rb = wc_mutation_row_begin(m, false, ckb, 8);
        wc_rowb_liveness(rb, ts, 0, 0);
        wc_rowb_cell(rb, &c);
        wc_mutation_row_end(m);
        assert_int_equal(wc_batch_builder_end(b), WC_OK);
    }
}

/* Stage rows [from, to) of table/pk as one chunk, written at ts with values of fill. */
static wc_status st_stage_as(wc_engine *e, wc_staged *x, uint32_t table, const char *pk,
                             uint64_t from, uint64_t to, int64_t ts, char fill, size_t pad)
{
    wc_batch_builder b;
    const uint8_t *rec;
    size_t len;
    wc_status st;

    wc_batch_builder_init(&b);
    st_batch(&b, table, pk, from, to, ts, fill, pad);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    st = wc_engine_stage(e, x, rec, len);
    wc_batch_builder_free(&b);
    return st;
}

static wc_status st_stage(wc_engine *e, wc_staged *x, uint32_t table, const char *pk,
                          uint64_t from, uint64_t to, size_t pad)
{
    return st_stage_as(e, x, table, pk, from, to, 1000, 'x', pad);
}

/* Apply rows [from, to) of table/pk as a plain batch. */
static void st_apply(wc_engine *e, uint32_t table, const char *pk, uint64_t from, uint64_t to,
                     size_t pad)
{
    wc_batch_builder b;
    const uint8_t *rec;
    size_t len;

    wc_batch_builder_init(&b);
    st_batch(&b, table, pk, from, to, 2000, 'x', pad);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_engine_apply_batch(e, rec, len), WC_OK);
    wc_batch_builder_free(&b);
}

static long st_count(wc_engine *e, uint32_t table)
{
    wc_status st;
    long n = wc_test_count_rows(e, table, NULL, NOW, &st);

    assert_int_equal(st, WC_OK);
    return n;
}

/* Staged rows of two tables are invisible until the publish, then all there. */
static void test_invisible_until_publish(void **state)
{
    st_env s;
    wc_staged *x;

    (void)state;
    st_setup(&s);
    st_apply(s.e, T1, "p", 0, 1, 10);
    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "p", 1, 100, 10), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "q", 0, 100, 10), WC_OK);
    assert_int_equal(st_stage(s.e, x, T2, "p", 0, 10, 10), WC_OK);
    assert_int_equal(st_count(s.e, T1), 1);
    assert_int_equal(st_count(s.e, T2), 0);
    /* plain writes meanwhile are visible at once, and a flush takes none of the staged rows */
    st_apply(s.e, T1, "r", 0, 5, 10);
    assert_int_equal(wc_engine_flush(s.e, T1, true), WC_OK);
    assert_int_equal(st_count(s.e, T1), 6);
    assert_int_equal(wc_engine_publish(s.e, x), WC_OK);
    assert_int_equal(st_count(s.e, T1), 6 + 99 + 100);
    assert_int_equal(st_count(s.e, T2), 10);
    /* they flush like any write */
    assert_int_equal(wc_engine_flush(s.e, 0, true), WC_OK);
    assert_int_equal(st_count(s.e, T1), 6 + 99 + 100);
    assert_int_equal(st_count(s.e, T2), 10);
    st_teardown(&s);
}

/* An aborted transaction, and one whose chunk failed, leave nothing, also after a restart. */
static void test_abort_and_failure_drop(void **state)
{
    st_env s;
    wc_staged *x;

    (void)state;
    st_setup(&s);
    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "p", 0, 50, 10), WC_OK);
    wc_engine_stage_abort(s.e, x);
    assert_int_equal(st_count(s.e, T1), 0);

    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "p", 0, 50, 10), WC_OK);
    assert_int_equal(st_stage(s.e, x, 999, "p", 0, 5, 10), WC_NOT_FOUND);
    assert_int_equal(st_stage(s.e, x, T1, "p", 50, 60, 10), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_engine_publish(s.e, x), WC_INVALID_ARGUMENT);
    assert_int_equal(st_count(s.e, T1), 0);

    /* counter deltas cannot be staged (they are resolved under the counter lock) */
    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "c", 0, 5, 10), WC_OK);
    {
        wc_batch_builder b;
        wc_mutation *m;
        uint8_t ckb[8], v[WC_COUNTER_DELTA_LEN];
        wc_cell c = {.column = 2, .flags = WC_CELLF_COUNTER_DELTA, .ts = 5};
        const uint8_t *rec;
        size_t len;

        wc_batch_builder_init(&b);
        m = wc_batch_builder_begin(&b, T1, "c", 1);
        wc_test_ck(7, ckb);
        wc_counter_delta_encode(v, 3);
        c.value = v;
        c.len = sizeof(v);
        wc_rowb_cell(wc_mutation_row_begin(m, false, ckb, 8), &c);
        wc_mutation_row_end(m);
        assert_int_equal(wc_batch_builder_end(&b), WC_OK);
        assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
        assert_int_equal(wc_engine_stage(s.e, x, rec, len), WC_INVALID_ARGUMENT);
        wc_batch_builder_free(&b);
    }
    assert_int_equal(wc_engine_publish(s.e, x), WC_INVALID_ARGUMENT);
    assert_int_equal(st_count(s.e, T1), 0);

    st_apply(s.e, T2, "p", 0, 1, 10); /* synced: every chunk before it is durable */
    st_crash_reopen(&s, NULL);
    assert_int_equal(st_count(s.e, T1), 0);
    assert_int_equal(st_count(s.e, T2), 1);
    st_teardown(&s);
}

/*
 * A crash keeps the published transaction whole and drops the open one,
 * whose chunks a later synced write made durable.
 */
static void test_replay_keeps_only_published(void **state)
{
    st_env s;
    wc_staged *x, *y;

    (void)state;
    st_setup(&s);
    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(wc_engine_stage_begin(s.e, &y), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "p", 0, 300, 200), WC_OK);
    assert_int_equal(st_stage(s.e, y, T1, "y", 0, 300, 200), WC_OK);
    assert_int_equal(st_stage(s.e, x, T2, "p", 0, 300, 200), WC_OK);
    assert_int_equal(st_stage(s.e, y, T2, "y", 0, 300, 200), WC_OK);
    assert_int_equal(wc_engine_publish(s.e, x), WC_OK);
    assert_int_equal(st_stage(s.e, y, T1, "y", 300, 600, 200), WC_OK);
    st_apply(s.e, T2, "plain", 0, 1, 10);
    st_crash_reopen(&s, y);
    assert_int_equal(st_count(s.e, T1), 300);
    assert_int_equal(st_count(s.e, T2), 301);
    assert_int_equal(wc_test_count_rows(s.e, T1, "y", NOW, NULL), 0);
    st_teardown(&s);
}

/*
 * Segments holding the chunks of a transaction survive flushes of another
 * table that retire older segments, before the publish (the transaction is
 * open) and after it, until its memtable is flushed (held here, so that the
 * crash finds the rows in the commit log alone): with T1 idle at the
 * publish (its memtable becomes T1's active one) and with T1 written (it
 * becomes an immutable one).
 */
static void st_log_kept(bool t1_written)
{
    st_env s;
    wc_staged *x;
    long plain = t1_written ? 2 : 0;

    st_setup(&s);
    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "p", 0, 400, 1000), WC_OK);
    for (int i = 0; i < 4; i++) {
        st_apply(s.e, T2, "a", (uint64_t)i * 300, (uint64_t)i * 300 + 300, 1000);
        assert_int_equal(wc_engine_flush(s.e, T2, true), WC_OK);
    }
    assert_int_equal(st_stage(s.e, x, T1, "p", 400, 800, 1000), WC_OK);
    if (t1_written) {
        /* T1's active memtable starts after the first chunk */
        st_apply(s.e, T1, "plain", 0, 1, 10);
        assert_int_equal(wc_engine_flush(s.e, T1, true), WC_OK);
        st_apply(s.e, T1, "plain", 1, 2, 10);
    }
    st_hold_flushes(&s, T1, true);
    assert_int_equal(wc_engine_publish(s.e, x), WC_OK);
    for (int i = 4; i < 8; i++) {
        st_apply(s.e, T2, "a", (uint64_t)i * 300, (uint64_t)i * 300 + 300, 1000);
        assert_int_equal(wc_engine_flush(s.e, T2, true), WC_OK);
    }
    assert_int_equal(st_count(s.e, T1), 800 + plain);
    st_crash_reopen(&s, NULL);
    assert_int_equal(st_count(s.e, T1), 800 + plain);
    assert_int_equal(st_count(s.e, T2), 2400);
    /* and once flushed, the rows come from SSTables after another crash */
    assert_int_equal(wc_engine_flush(s.e, 0, true), WC_OK);
    st_crash_reopen(&s, NULL);
    assert_int_equal(st_count(s.e, T1), 800 + plain);
    st_teardown(&s);
}

static void test_log_kept_for_staged_chunks(void **state)
{
    (void)state;
    st_log_kept(false);
    st_log_kept(true);
}

/* A table dropped while staged: its writes are discarded, the other table's published. */
static void test_dropped_table(void **state)
{
    st_env s;
    wc_staged *x;

    (void)state;
    st_setup(&s);
    assert_int_equal(wc_engine_stage_begin(s.e, &x), WC_OK);
    assert_int_equal(st_stage(s.e, x, T1, "p", 0, 10, 10), WC_OK);
    assert_int_equal(st_stage(s.e, x, T2, "p", 0, 10, 10), WC_OK);
    assert_int_equal(wc_engine_drop_table(s.e, T2), WC_OK);
    assert_int_equal(wc_engine_publish(s.e, x), WC_OK);
    assert_int_equal(st_count(s.e, T1), 10);
    st_crash_reopen(&s, NULL);
    assert_int_equal(st_count(s.e, T1), 10);
    st_teardown(&s);
}

/*
 * Every transaction's staged writes together are bounded by the memtable
 * budget: past it a chunk is refused as an overload (nothing kept), and a
 * publish or an abort gives its share back.
 */
static void test_staged_bytes_bounded(void **state)
{
    st_env s;
    wc_staged *a, *b;

    (void)state;
    st_setup(&s);
    s.e->opts.memtable_total_bytes = 1u << 20;
    assert_int_equal(wc_engine_stage_begin(s.e, &a), WC_OK);
    assert_int_equal(wc_engine_stage_begin(s.e, &b), WC_OK);
    assert_int_equal(st_stage(s.e, a, T1, "a", 0, 150, 4000), WC_OK);
    assert_int_equal(st_stage(s.e, b, T1, "b", 0, 150, 4000), WC_OVERLOADED);
    assert_non_null(strstr(wc_last_error(), "MiB of staged writes"));
    wc_engine_stage_abort(s.e, b);
    assert_int_equal(wc_engine_publish(s.e, a), WC_OK);
    assert_int_equal(atomic_load(&s.e->staged_bytes), 0);
    assert_int_equal(wc_engine_stage_begin(s.e, &b), WC_OK);
    assert_int_equal(st_stage(s.e, b, T1, "b", 0, 150, 4000), WC_OK);
    assert_int_equal(wc_engine_publish(s.e, b), WC_OK);
    assert_int_equal(st_count(s.e, T1), 300);
    assert_int_equal(wc_engine_stage_begin(s.e, &a), WC_OK);
    assert_int_equal(st_stage(s.e, a, T2, "c", 0, 100, 4000), WC_OK);
    wc_engine_stage_abort(s.e, a);
    assert_int_equal(atomic_load(&s.e->staged_bytes), 0);
    st_teardown(&s);
}

/* Whether some value in m holds a run of 8 fill bytes. */
static bool st_mem_has(wc_memtable *m, char fill)
{
    char run[8];
    wc_iter *it = wc_memtable_iter(m);
    bool found = false;

    assert_non_null(it);
    memset(run, fill, sizeof(run));
    for (wc_iter_seek_first(it); !found && wc_iter_valid(it); wc_iter_next(it)) {
        size_t len;
        const uint8_t *v = wc_iter_value(it, &len);

        found = memmem(v, len, run, sizeof(run)) != NULL;
    }
    wc_iter_destroy(it);
    return found;
}

/* Partition "p" of T1 as st_stage_past_memtable staged it: rows [0, 600), the
 * first 100 as the late chunk wrote them. */
static void st_check_newest(wc_engine *e)
{
    wc_read_request q;
    wc_page *p = NULL;

    memset(&q, 0, sizeof(q));
    q.table_id = T1;
    q.pk = (const uint8_t *)"p";
    q.pk_len = 1;
    q.start.unbounded = q.end.unbounded = true;
    q.now_sec = NOW;
    q.page_rows = 1000000;
    assert_int_equal(wc_engine_read(e, &q, &p), WC_OK);
    assert_int_equal(p->nrows, 600);
    for (size_t i = 0; i < p->nrows; i++) {
        const wc_result_row *r = &p->rows[i];
        const wc_cell *c = wc_test_cell(r, 1);
        uint64_t ck = wc_test_ck_value(r->ck, r->ck_len);
        bool late = ck < 100;

        assert_non_null(c);
        assert_int_equal(c->len, 1000);
        assert_int_equal(c->value[0], late ? 'b' : ck < 300 ? 'a' : 'c');
        assert_int_equal(c->ts, late ? 2000 : 1000);
    }
    wc_page_free(p);
}

/* Stage partition "p" of T1 past memtable_bytes (256 kB): rows [0, 300)
 * of 'a' and [300, 600) of 'c' in two chunks at ts 1000, then rows [0, 100)
 * again, of 'b', at ts 2000; after a plain
 * write to T1, so that its active memtable is used.  Flushes of T1 are held. */
static wc_staged *st_stage_past_memtable(st_env *s)
{
    wc_staged *x;

    s->e->opts.memtable_bytes = 256u << 10;
    st_apply(s->e, T1, "plain", 0, 1, 10);
    assert_int_equal(wc_engine_stage_begin(s->e, &x), WC_OK);
    assert_int_equal(st_stage_as(s->e, x, T1, "p", 0, 300, 1000, 'a', 1000), WC_OK);
    assert_int_equal(st_stage_as(s->e, x, T1, "p", 300, 600, 1000, 'c', 1000), WC_OK);
    assert_int_equal(st_stage_as(s->e, x, T1, "p", 0, 100, 2000, 'b', 1000), WC_OK);
    assert_int_equal(st_count(s->e, T1), 1);
    assert_int_equal(wc_test_count_rows(s->e, T1, "p", NOW, NULL), 0);
    st_hold_flushes(s, T1, true);
    return x;
}

/*
 * A transaction staging more than memtable_bytes into one table keeps its
 * writes in memtables of about that size (inserts and the flush then walk
 * skiplists of the size of a table's own, not one of the whole statement).
 * The publish makes the full ones immutable memtables of the table, after
 * its active one and in staging order, counted in mem_imm, and the last one
 * the table's active memtable.  A row written by an early and a late chunk
 * reads as the late one wrote it, before and after a crash and a flush.
 * (Reads reconcile by timestamp, whatever the order of the sources: the
 * order is checked on the list itself.)
 */
static void test_staged_past_memtable_bytes(void **state)
{
    st_env s;
    wc_staged *x;
    uint64_t imm_before, active_before, imm_sum = 0;
    wc__table *t;

    (void)state;
    st_setup(&s);
    x = st_stage_past_memtable(&s);
    imm_before = atomic_load(&s.e->mem_imm);
    active_before = atomic_load(&s.e->mem_active);
    assert_int_equal(wc_engine_publish(s.e, x), WC_OK);
    assert_int_equal(atomic_load(&s.e->staged_bytes), 0);
    t = s.held;
    pthread_mutex_lock(&t->mu);
    /* the plain write's memtable, then 700 kB of rows in memtables of about 256 kB */
    assert_true(t->nimm >= 3);
    assert_false(st_mem_has(t->imm[0].mem, 'a'));
    /* staging order: the first chunk's rows fill the first one, the second's follow */
    assert_true(st_mem_has(t->imm[1].mem, 'a'));
    assert_false(st_mem_has(t->imm[1].mem, 'c'));
    assert_true(st_mem_has(t->imm[t->nimm - 1].mem, 'c'));
    for (size_t i = 1; i < t->nimm; i++) {
        assert_false(st_mem_has(t->imm[i].mem, 'b'));
        /* [M, M): a flush of one of them leaves the transaction to the replay */
        assert_int_equal(wc_clpos_cmp(t->imm[i].start, t->imm[0].end), 0);
        assert_int_equal(wc_clpos_cmp(t->imm[i].end, t->imm[0].end), 0);
    }
    for (size_t i = 0; i < t->nimm; i++) {
        assert_int_equal(t->imm[i].bytes, wc_memtable_memory(t->imm[i].mem));
        assert_true(t->imm[i].bytes < (256u << 10) + (8u << 10));
        imm_sum += t->imm[i].bytes;
    }
    assert_true(st_mem_has(t->active, 'b'));
    assert_true(t->active_used);
    assert_true(wc_clpos_cmp(t->active_start, t->imm[0].end) < 0); /* the first chunk */
    assert_int_equal(t->active_acct, wc_memtable_memory(t->active));
    pthread_mutex_unlock(&t->mu);
    assert_int_equal(atomic_load(&s.e->mem_imm) - imm_before, imm_sum);
    assert_int_equal(atomic_load(&s.e->mem_active) + t->imm[0].bytes - active_before,
                     t->active_acct);
    st_check_newest(s.e);
    assert_int_equal(st_count(s.e, T1), 601);

    /* the log brings the same back (applied whole at the marker) */
    st_crash_reopen(&s, NULL);
    st_check_newest(s.e);
    assert_int_equal(st_count(s.e, T1), 601);
    /* and SSTables, after a flush and another crash */
    assert_int_equal(wc_engine_flush(s.e, 0, true), WC_OK);
    st_check_newest(s.e);
    st_crash_reopen(&s, NULL);
    st_check_newest(s.e);
    assert_int_equal(st_count(s.e, T1), 601);
    st_teardown(&s);
}

/*
 * A crash after the flush of the first of a published transaction's
 * memtables, the others not flushed: the replay still brings the whole
 * transaction back (the flushed position the manifest recorded is not
 * past its publish marker).
 */
static void test_staged_crash_between_flushes(void **state)
{
    st_env s;
    wc_staged *x;

    (void)state;
    st_setup(&s);
    x = st_stage_past_memtable(&s);
    assert_int_equal(wc_engine_publish(s.e, x), WC_OK);
    assert_true(s.held->nimm >= 3);
    /* manifest writes: the plain write's memtable, then the transaction's first */
    wc_faultfs_trigger(s.ff, WC_FF_RENAME, "t21/manifest", 2, WC_FF_CRASH_AFTER, WC_IO_ERROR,
                       false);
    st_hold_flushes(&s, T1, false);
    for (int i = 0; i < 1000 && !wc_faultfs_triggered(s.ff); i++)
        usleep(10000);
    assert_true(wc_faultfs_triggered(s.ff));
    st_crash_reopen(&s, NULL);
    st_check_newest(s.e);
    assert_int_equal(st_count(s.e, T1), 601);
    st_teardown(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invisible_until_publish),
        cmocka_unit_test(test_abort_and_failure_drop),
        cmocka_unit_test(test_replay_keeps_only_published),
        cmocka_unit_test(test_log_kept_for_staged_chunks),
        cmocka_unit_test(test_dropped_table),
        cmocka_unit_test(test_staged_bytes_bounded),
        cmocka_unit_test(test_staged_past_memtable_bytes),
        cmocka_unit_test(test_staged_crash_between_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
