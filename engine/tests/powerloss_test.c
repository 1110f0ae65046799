/*
 * powerloss_test.c - cut the power under a realistic engine workload and
 * prove that what survives is what the sync mode promises.
 *
 * The workload (seeded) runs on a faultfs in power-loss mode: unsynced file
 * contents and unsynced directory operations are lost at the crash.  Tables
 * 1..NTABLES are created, altered, dropped and created again; rows are
 * written and deleted through per-table models (model.h); tables are flushed
 * and compacted; memtables and commit-log segments are tiny so that segments
 * roll, are recycled and deleted all the time.  The power goes out:
 *  - before or right after the Nth file-system operation, for seeded random
 *    N over the whole workload;
 *  - before or right after the nth operation of one kind on one kind of file
 *    (commit-log append, sync, segment rename and directory sync, SSTable
 *    sync, publish and directory sync, manifest and catalog replacement,
 *    unlink, rmdir);
 *  - and, in some rounds, a second time while the engine recovers.
 * A trigger the workload did not reach may fire in the close that ends it
 * (its final commit-log sync): only a close it did not interrupt counts as
 * clean, one that made everything durable.
 * In every other round part of the unsynced writes survives the crash, the
 * oldest lost one torn (wc_faultfs_crash_keeps).
 * The engine is then reopened on what survived and every table is compared
 * with its model: in batch mode every acknowledged operation is there (the
 * one in flight may or may not be); in periodic mode each table holds a
 * prefix of its operations that includes every operation acknowledged
 * before the latest commit-log sync began.  Open must succeed (no manifest
 * names a missing or torn SSTable) and the tables must be exactly those
 * whose DDL was acknowledged (the one in flight either way).
 *
 * WC_PL_SEED replays a run, WC_PL_ROUNDS sets the number of random rounds,
 * WC_PL_ONLY runs the tests whose name matches, WC_PL_VERBOSE prints every
 * write, the engine log and, on a failure, the files left (with WC_FF_TRACE
 * also every file-system operation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "faultfs.h"
#include "model.h"
#include "testutil.h"

#define NTABLES 4
#define NPK 4
#define NOW 1700000000
#define STEPS 400

typedef struct pl_table {
    bool exists;     /* acknowledged */
    bool ddl_flight; /* a create/drop was in flight at the crash: either outcome */
    uint32_t gc_grace, gc_flight; /* acknowledged, and an ALTER's value in flight (0: none) */
    wc_model m;                   /* operations since the table was created */
    size_t acked;                 /* operations acknowledged */
    uint64_t *ack_op;             /* faultfs operation count when each was acknowledged */
    size_t capack;
} pl_table;

typedef struct pl_run {
    wc_faultfs *ff;
    char *root, *dir, *stash;
    wc_sync_mode mode;
    uint32_t sync_period_ms; /* periodic mode; 0: 2 ms */
    uint64_t rng;
    uint64_t frontier; /* wc_faultfs_durable_frontier when the power went out */
    pl_table t[NTABLES + 1];
} pl_run;

static int64_t pl_ts;

static int64_t pl_fresh_ts(wc_model *m)
{
    (void)m;
    return ++pl_ts;
}

static int64_t pl_clock(void *arg)
{
    (void)arg;
    return NOW;
}

static uint64_t pl_rnd(pl_run *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

static void pl_table_reset(pl_table *t, uint32_t id, uint64_t seed)
{
    wc_model_config cfg = {.table_id = id, .npk = NPK, .max_ttl = 1000000, .fresh_ts = pl_fresh_ts};

    wc_model_free(&t->m);
    wc_model_init(&t->m, &cfg, seed, NOW);
    t->acked = 0;
}

/* the faultfs maps files (commit-log segments are then written by stores, not pwrite) */
static bool pl_map;

static void pl_setup(pl_run *r, wc_sync_mode mode, uint64_t seed)
{
    char p[1024];

    memset(r, 0, sizeof(*r));
    r->mode = mode;
    r->rng = seed ? seed : 1;
    r->root = wc_test_tmpdir("powerloss");
    assert_non_null(r->root);
    snprintf(p, sizeof(p), "%s/db", r->root);
    r->dir = strdup(p);
    snprintf(p, sizeof(p), "%s/stash", r->root);
    r->stash = strdup(p);
    assert_int_equal(mkdir(r->stash, 0700), 0);
    r->ff = wc_faultfs_new(NULL);
    assert_non_null(r->ff);
    wc_faultfs_power_loss_mode(r->ff, r->stash, true);
    wc_faultfs_map_mode(r->ff, pl_map);
    wc_faultfs_watch_syncs(r->ff, "/commitlog/");
    for (uint32_t id = 1; id <= NTABLES; id++) {
        r->t[id].gc_grace = 864000;
        pl_table_reset(&r->t[id], id, seed * 31 + id);
    }
}

static void pl_teardown(pl_run *r)
{
    for (uint32_t id = 1; id <= NTABLES; id++) {
        wc_model_free(&r->t[id].m);
        free(r->t[id].ack_op);
    }
    wc_faultfs_free(r->ff);
    wc_test_rmrf(r->root);
    free(r->root);
    free(r->dir);
    free(r->stash);
}

static void pl_log(void *arg, int level, const char *msg)
{
    (void)arg;
    if (getenv("WC_PL_VERBOSE"))
        printf("  engine log %d: %s\n", level, msg);
}

static wc_status pl_open(pl_run *r, wc_engine **e)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = r->dir;
    o.fs = wc_faultfs_fs(r->ff);
    o.sync_mode = r->mode;
    o.sync_period_ms = r->sync_period_ms ? r->sync_period_ms : 2;
    o.segment_bytes = 2 * 1024;
    o.memtable_bytes = 3 * 1024;
    o.block_bytes = 512;
    o.cache_bytes = 1 << 20;
    o.clock = pl_clock;
    o.compaction_threads = 0;
    o.log = pl_log;
    return wc_engine_open(&o, e);
}

static void pl_def(uint32_t id, uint32_t gc_grace, wc_table_def *d)
{
    wc_table_def_default(d);
    d->id = id;
    d->gc_grace_seconds = gc_grace;
    snprintf(d->name, sizeof(d->name), "ks.t%u", id);
}

/* One model write to table id; an acknowledged one is noted with the operation count. */
static wc_status pl_write(pl_run *r, wc_engine *e, uint32_t id)
{
    pl_table *t = &r->t[id];
    wc_status st = wc_model_try_write(&t->m, e);

    if (getenv("WC_PL_VERBOSE"))
        printf("write t%u op %zu pk%d ck%d: %d at op %llu\n", id, t->m.nops - 1,
               t->m.ops[t->m.nops - 1].pk, t->m.ops[t->m.nops - 1].ck, st,
               (unsigned long long)wc_faultfs_op_count(r->ff));
    if (st == WC_OK) {
        if (t->m.nops > t->capack) {
            t->capack = t->capack ? t->capack * 2 : 256;
            t->ack_op = realloc(t->ack_op, t->capack * sizeof(*t->ack_op));
            assert_non_null(t->ack_op);
        }
        t->ack_op[t->m.nops - 1] = wc_faultfs_op_count(r->ff);
        t->acked = t->m.nops;
    }
    return st;
}

/* One step of the workload; a failure status means the power went out. */
static wc_status pl_step(pl_run *r, wc_engine *e)
{
    uint32_t id = 1 + (uint32_t)(pl_rnd(r) % NTABLES);
    pl_table *t = &r->t[id];
    uint64_t x = pl_rnd(r) % 1000;
    wc_table_def d;
    wc_status st;

    if (!t->exists) {
        if (x >= 300)
            id = 0; /* fall through to a write on some existing table */
        else {
            pl_def(id, t->gc_grace, &d);
            t->ddl_flight = true;
            st = wc_engine_create_table(e, &d);
            if (st == WC_OK) {
                t->ddl_flight = false;
                t->exists = true;
            }
            return st;
        }
    }
    if (id == 0) {
        for (id = 1; id <= NTABLES && !r->t[id].exists; id++)
            ;
        if (id > NTABLES)
            return WC_OK;
        t = &r->t[id];
        x = 0;
    }
    if (x < 870)
        return pl_write(r, e, id);
    if (x < 930)
        return wc_engine_flush(e, id, true);
    if (x < 960)
        return wc_engine_compact(e, id);
    if (x < 985) {
        t->gc_flight = t->gc_grace == 864000 ? 864001 : 864000;
        pl_def(id, t->gc_flight, &d);
        st = wc_engine_alter_table(e, &d);
        if (st == WC_OK) {
            t->gc_grace = t->gc_flight;
            t->gc_flight = 0;
        }
        return st;
    }
    t->ddl_flight = true;
    st = wc_engine_drop_table(e, id);
    if (st == WC_OK) {
        t->ddl_flight = false;
        t->exists = false;
        pl_table_reset(t, id, pl_rnd(r));
    }
    return st;
}

/* Run the workload until it is done or a step fails; returns the steps done. */
static int pl_workload(pl_run *r, wc_engine *e, int steps)
{
    for (int i = 0; i < steps; i++)
        if (pl_step(r, e) != WC_OK)
            return i;
    return steps;
}

/* After the crash: does the reopened engine hold what was promised? */
static void pl_verify(pl_run *r, wc_engine *e, const char *what)
{
    uint64_t frontier = r->frontier;

    for (uint32_t id = 1; id <= NTABLES; id++) {
        pl_table *t = &r->t[id];
        wc_table_def d;
        wc_status st = wc_engine_get_table(e, id, &d);
        size_t lo, hi, k;
        char why[512] = "";

        if (st == WC_NOT_FOUND) {
            if (t->exists && !t->ddl_flight)
                fail_msg("%s: acknowledged table %u is gone", what, id);
            t->exists = false;
            t->ddl_flight = false;
            pl_table_reset(t, id, pl_rnd(r));
            continue;
        }
        assert_int_equal(st, WC_OK);
        if (!t->exists && !t->ddl_flight)
            fail_msg("%s: dropped table %u is back", what, id);
        if (!t->exists) {
            /* a create in flight made it: empty */
            t->exists = true;
            pl_table_reset(t, id, pl_rnd(r));
        }
        t->ddl_flight = false;
        if (d.gc_grace_seconds != t->gc_grace && d.gc_grace_seconds != t->gc_flight)
            fail_msg("%s: table %u has gc_grace %u, acknowledged %u", what, id,
                     d.gc_grace_seconds, t->gc_grace);
        t->gc_grace = d.gc_grace_seconds;
        t->gc_flight = 0;

        hi = t->m.nops;
        lo = t->acked;
        if (r->mode == WC_SYNC_PERIODIC)
            while (lo > 0 && t->ack_op[lo - 1] >= frontier)
                lo--;
        for (k = hi + 1; k-- > lo;)
            if (wc_model_matches(&t->m, e, k, why, sizeof(why)))
                break;
        if (k + 1 == lo) {
            if (getenv("WC_PL_VERBOSE")) {
                char cmd[2048];
                snprintf(cmd, sizeof(cmd), "ls -lR %s; od -A d -t x8 %s/t%u/manifest", r->dir,
                         r->dir, id);
                if (system(cmd) != 0)
                    printf("dump failed\n");
            }
            wc_model_matches(&t->m, e, t->acked, why, sizeof(why));
            if (getenv("WC_PL_VERBOSE"))
                printf("frontier %llu last ack %llu\n", (unsigned long long)frontier,
                       (unsigned long long)(t->acked ? t->ack_op[t->acked - 1] : 0));
            fail_msg("%s: table %u matches no prefix of its %zu operations between %zu and %zu "
                     "(%zu acknowledged): %s",
                     what, id, hi, lo, hi, t->acked, why);
        }
        /* what survived is the new truth */
        t->m.nops = k;
        t->acked = k;
    }
}

/*
 * Reopen after a crash (the trigger already fired or the caller crashed the
 * machine).  In some rounds the power goes out again during recovery.
 */
static void pl_recover(pl_run *r, const char *what, uint64_t second_crash)
{
    wc_engine *e = NULL;
    wc_status st;

    wc_faultfs_reset(r->ff);
    if (second_crash) {
        wc_faultfs_trigger(r->ff, WC_FF_ANY, NULL, second_crash, WC_FF_CRASH_BEFORE, WC_OK,
                           false);
        st = pl_open(r, &e);
        if (st == WC_OK && wc_faultfs_triggered(r->ff)) {
            /* the crash hit a background thread after open returned */
            wc_engine_close(e);
            st = WC_IO_ERROR;
        }
        if (st == WC_OK) {
            wc_faultfs_trigger(r->ff, WC_FF_ANY, NULL, 0, WC_FF_CRASH_BEFORE, WC_OK, false);
            wc_engine_close(e);
        }
        wc_faultfs_crash(r->ff);
        wc_faultfs_reset(r->ff);
    }
    st = pl_open(r, &e);
    if (st != WC_OK)
        fail_msg("%s: reopen after the power loss failed: %s %s", what, wc_status_name(st),
                 wc_last_error());
    pl_verify(r, e, what);
    wc_engine_close(e);
}

/*
 * Close the engine, then cut the power.  A trigger that has not fired yet
 * may fire during the close (its final commit-log sync, a flush it waits
 * for), so whether it fired is read after the close: only a close the power
 * did not interrupt made everything durable.  Returns whether it fired.
 */
static bool pl_close_crash(pl_run *r, wc_engine *e)
{
    bool fired;

    wc_engine_close(e);
    fired = wc_faultfs_triggered(r->ff);
    wc_faultfs_crash(r->ff);
    r->frontier = fired ? wc_faultfs_durable_frontier(r->ff) : UINT64_MAX;
    return fired;
}

typedef struct pl_target {
    wc_faultfs_op op;
    const char *part;
    const char *what;
} pl_target;

static const pl_target pl_targets[] = {
    {WC_FF_WRITE, "/commitlog/", "commit-log append"},
    {WC_FF_SYNC, "/commitlog/", "commit-log sync"},
    {WC_FF_TRUNCATE, "/commitlog/", "commit-log segment reuse"},
    {WC_FF_RENAME, "/commitlog/", "commit-log segment recycle/reuse"},
    {WC_FF_UNLINK, "/commitlog/", "commit-log segment delete"},
    {WC_FF_SYNC_DIR, "/commitlog", "commit-log directory sync"},
    {WC_FF_WRITE, ".sst", "SSTable write"},
    {WC_FF_SYNC, ".sst", "SSTable sync"},
    {WC_FF_RENAME, ".sst", "SSTable publish"},
    {WC_FF_UNLINK, ".sst", "SSTable removal"},
    {WC_FF_SYNC, "manifest", "manifest sync"},
    {WC_FF_RENAME, "manifest", "manifest replacement"},
    {WC_FF_SYNC_DIR, "/db/t", "table directory sync"},
    {WC_FF_SYNC, "catalog", "catalog sync"},
    {WC_FF_RENAME, "catalog", "catalog replacement"},
    {WC_FF_MKDIR, "/db/t", "table directory creation"},
    {WC_FF_RMDIR, "/db/t", "table directory removal"},
};

/* One round: a fresh engine, the workload, a power loss by the trigger, recovery. */
static bool pl_round(wc_sync_mode mode, uint64_t seed, wc_faultfs_op op, const char *part,
                     uint64_t nth, wc_faultfs_action action, uint64_t second_crash,
                     const char *what)
{
    pl_run r;
    wc_engine *e;
    bool fired;
    int done;

    pl_setup(&r, mode, seed);
    /* every other round some unsynced writes survive the crash, the last one torn */
    wc_faultfs_crash_keeps(r.ff, seed % 2 ? seed : 0);
    assert_int_equal(pl_open(&r, &e), WC_OK);
    wc_faultfs_trigger(r.ff, op, part, nth, action, WC_OK, false);
    done = pl_workload(&r, e, STEPS);
    if (done < STEPS && !wc_faultfs_triggered(r.ff))
        fail_msg("%s: the workload failed without a power loss: %s", what, wc_last_error());
    fired = pl_close_crash(&r, e);
    pl_recover(&r, what, second_crash);
    pl_teardown(&r);
    return fired;
}

static uint64_t pl_seed(void)
{
    const char *s = getenv("WC_PL_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);

    printf("powerloss seed %llu (set WC_PL_SEED to replay)\n", (unsigned long long)seed);
    return seed;
}

/* Power loss at the Nth file-system operation, N random over the whole workload. */
static void pl_random_rounds(wc_sync_mode mode)
{
    uint64_t seed = pl_seed(), total, rng = seed | 1;
    const char *env = getenv("WC_PL_ROUNDS");
    int rounds = env ? atoi(env) : 150, fired = 0;
    pl_run r;
    wc_engine *e;

    /* how many operations does the whole workload make? */
    pl_setup(&r, mode, seed);
    assert_int_equal(pl_open(&r, &e), WC_OK);
    assert_int_equal(pl_workload(&r, e, STEPS), STEPS);
    wc_engine_close(e);
    total = wc_faultfs_op_count(r.ff);
    wc_faultfs_crash(r.ff);
    r.frontier = UINT64_MAX;
    pl_recover(&r, "after a clean close", 0);
    pl_teardown(&r);
    for (int i = 0; i < rounds; i++) {
        uint64_t n, second;
        char what[128];
        wc_faultfs_action action;

        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        n = 1 + rng % total;
        action = (rng >> 40) % 2 ? WC_FF_CRASH_AFTER : WC_FF_CRASH_BEFORE;
        second = (rng >> 20) % 4 == 0 ? 1 + (rng >> 24) % 80 : 0;
        snprintf(what, sizeof(what), "seed %llu round %d: power loss %s operation %llu of %llu%s",
                 (unsigned long long)seed, i, action == WC_FF_CRASH_AFTER ? "after" : "before",
                 (unsigned long long)n, (unsigned long long)total,
                 second ? " and again during recovery" : "");
        fired += pl_round(mode, seed + (uint64_t)i, WC_FF_ANY, NULL, n, action, second, what);
    }
    printf("%s mode: %d random power losses (%d during the workload), %llu operations each\n",
           mode == WC_SYNC_BATCH ? "batch" : "periodic", rounds, fired,
           (unsigned long long)total);
    assert_true(fired > rounds / 2);
}

/* Power loss right before and right after the nth step of each kind. */
static void pl_targeted_rounds(wc_sync_mode mode)
{
    static const uint64_t nths[] = {1, 2, 5, 13};
    uint64_t seed = pl_seed();
    int rounds = 0, fired = 0;

    for (size_t k = 0; k < sizeof(pl_targets) / sizeof(pl_targets[0]); k++) {
        const pl_target *tg = &pl_targets[k];
        int hit = 0;

        for (size_t j = 0; j < sizeof(nths) / sizeof(nths[0]); j++) {
            for (int a = 0; a < 2; a++) {
                char what[160];
                wc_faultfs_action action = a ? WC_FF_CRASH_AFTER : WC_FF_CRASH_BEFORE;

                snprintf(what, sizeof(what), "seed %llu: power loss %s %s #%llu",
                         (unsigned long long)seed, a ? "right after" : "right before", tg->what,
                         (unsigned long long)nths[j]);
                hit += pl_round(mode, seed + k * 100 + j, tg->op, tg->part, nths[j], action, 0,
                                what);
                rounds++;
            }
        }
        if (hit == 0)
            printf("note: this workload never reached a %s\n", tg->what);
        fired += hit;
    }
    printf("%s mode: %d targeted power losses (%d hit their step)\n",
           mode == WC_SYNC_BATCH ? "batch" : "periodic", rounds, fired);
}

/*
 * The flush thread has moved table 1's memtable into an SSTable and is still
 * writing the manifest that lists it (its fsync stalls) when a flush of table
 * 2 finishes and recycles commit-log segments; then the power goes.  Table
 * 1's records must still be in the commit log.
 */
static void test_concurrent_flushes(void **state)
{
    pl_run r;
    wc_engine *e;
    char why[256];
    int i;

    (void)state;
    pl_setup(&r, WC_SYNC_BATCH, 99);
    assert_int_equal(pl_open(&r, &e), WC_OK);
    for (uint32_t id = 1; id <= 2; id++) {
        wc_table_def d;

        pl_def(id, 864000, &d);
        assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    }
    wc_faultfs_stall_syncs(r.ff, "/t1/manifest", 1500 * 1000);
    /* enough rows for table 1 to switch memtables (the flush thread takes it) */
    for (i = 0; i < 60; i++)
        assert_int_equal(wc_model_try_write(&r.t[1].m, e), WC_OK);
    r.t[1].acked = r.t[1].m.nops;
    usleep(300 * 1000); /* the flush thread is now stalled on table 1's manifest */
    assert_int_equal(wc_model_try_write(&r.t[2].m, e), WC_OK);
    r.t[2].acked = r.t[2].m.nops;
    assert_int_equal(wc_engine_flush(e, 2, true), WC_OK);
    wc_faultfs_crash(r.ff);
    wc_engine_close(e);
    wc_faultfs_reset(r.ff);
    assert_int_equal(pl_open(&r, &e), WC_OK);
    for (uint32_t id = 1; id <= 2; id++)
        if (!wc_model_matches(&r.t[id].m, e, r.t[id].acked, why, sizeof(why)))
            fail_msg("table %u after the power loss: %s", id, why);
    wc_engine_close(e);
    pl_teardown(&r);
}

/*
 * Periodic mode: the power goes out at the commit-log sync of the close,
 * after the last step of the workload.  The writes that sync was to make
 * durable may be lost; the check must know the power went out and not
 * take the close for a clean one.
 */
static void test_periodic_crash_at_close(void **state)
{
    pl_run r;
    wc_engine *e;
    wc_table_def d;

    (void)state;
    pl_setup(&r, WC_SYNC_PERIODIC, 5);
    r.sync_period_ms = 3600 * 1000; /* no periodic sync before the close */
    assert_int_equal(pl_open(&r, &e), WC_OK);
    pl_def(1, 864000, &d);
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    r.t[1].exists = true;
    for (int i = 0; i < 8; i++)
        assert_int_equal(pl_write(&r, e, 1), WC_OK);
    wc_faultfs_trigger(r.ff, WC_FF_SYNC, "/commitlog/", 1, WC_FF_CRASH_BEFORE, WC_OK, false);
    assert_false(wc_faultfs_triggered(r.ff));
    assert_true(pl_close_crash(&r, e));
    assert_true(r.frontier <= r.t[1].ack_op[0]); /* none of the writes was synced */
    pl_recover(&r, "power loss at the close", 0);
    pl_teardown(&r);
}

/*
 * One batch holds two mutations of a table, and the first fills its
 * memtable, which is switched before the second is applied.  Once the
 * switched memtable is flushed, a power loss must not lose the second:
 * the batch was acknowledged (batch mode) as a whole.
 */
static void test_switch_inside_batch(void **state)
{
    pl_run r;
    wc_engine *e;
    wc_table_def d;
    wc_mutation a, b;
    wc_mutation *muts[2] = {&a, &b};
    static char big[4000];
    uint8_t ck[8];
    wc_table_stats ts;

    (void)state;
    pl_setup(&r, WC_SYNC_BATCH, 6);
    assert_int_equal(pl_open(&r, &e), WC_OK);
    pl_def(1, 864000, &d);
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    memset(big, 'x', sizeof(big));
    wc_test_ck(1, ck);
    wc_mutation_init(&a, 1, "a", 1);
    wc_rowb_cell(wc_mutation_row_begin(&a, false, ck, 8),
                 &(wc_cell){.column = 0, .ts = 10, .value = (const uint8_t *)big,
                            .len = sizeof(big)});
    wc_mutation_row_end(&a);
    wc_mutation_init(&b, 1, "b", 1);
    wc_rowb_cell(wc_mutation_row_begin(&b, false, ck, 8),
                 &(wc_cell){.column = 0, .ts = 10, .value = (const uint8_t *)"v", .len = 1});
    wc_mutation_row_end(&b);
    assert_int_equal(wc_engine_apply(e, muts, 2), WC_OK);
    wc_mutation_free(&a);
    wc_mutation_free(&b);
    /* the flush thread writes the switched memtable */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(wc_engine_table_stats(e, 1, &ts), WC_OK);
        if (ts.sstable_count > 0 && ts.pending_flushes == 0)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(ts.sstable_count, 1);
    assert_int_equal(wc_test_count_rows(e, 1, "b", NOW, NULL), 1);
    wc_faultfs_crash(r.ff);
    wc_engine_close(e);
    wc_faultfs_reset(r.ff);
    assert_int_equal(pl_open(&r, &e), WC_OK);
    assert_int_equal(wc_test_count_rows(e, 1, "a", NOW, NULL), 1);
    assert_int_equal(wc_test_count_rows(e, 1, "b", NOW, NULL), 1);
    wc_engine_close(e);
    pl_teardown(&r);
}

static void test_batch_random(void **state)
{
    (void)state;
    pl_random_rounds(WC_SYNC_BATCH);
}

static void test_batch_targeted(void **state)
{
    (void)state;
    pl_targeted_rounds(WC_SYNC_BATCH);
}

static void test_periodic_random(void **state)
{
    (void)state;
    pl_random_rounds(WC_SYNC_PERIODIC);
}

/*
 * The same random power losses with mapped commit-log segments (periodic
 * mode on a real file system that maps safely): appends are stores that
 * reach the file only when written back (before an fsync of it), so no
 * append is a numbered operation and the crash points fall on everything
 * else.
 */
static void test_periodic_random_mapped(void **state)
{
    (void)state;
    pl_map = true;
    pl_random_rounds(WC_SYNC_PERIODIC);
    pl_map = false;
}

static void test_periodic_targeted(void **state)
{
    (void)state;
    pl_targeted_rounds(WC_SYNC_PERIODIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_flushes),
        cmocka_unit_test(test_periodic_crash_at_close),
        cmocka_unit_test(test_switch_inside_batch),
        cmocka_unit_test(test_batch_targeted),
        cmocka_unit_test(test_batch_random),
        cmocka_unit_test(test_periodic_targeted),
        cmocka_unit_test(test_periodic_random),
        cmocka_unit_test(test_periodic_random_mapped),
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("WC_PL_ONLY"))
        cmocka_set_test_filter(getenv("WC_PL_ONLY"));
    return cmocka_run_group_tests_name("powerloss", tests, NULL, NULL);
}
