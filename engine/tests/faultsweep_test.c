/*
 * faultsweep_test.c - fail the Nth file-system call with EIO, the Nth (and
 * every later) one with ENOSPC, and the Nth allocation, for N = 1, 2, ...
 * until a scripted engine workload completes (open, writes, memtable
 * switches, flushes, compactions, create/alter/drop, commit-log rolls and
 * recycling, close).
 *
 * For every N: the engine reports the failure as a status (a crash or abort
 * fails the whole program), frees everything it allocated once closed
 * (counted through the allocator hook), and then reopens without faults
 * holding every acknowledged write (the one that failed may or may not be
 * there) and exactly the tables whose DDL was acknowledged.
 *
 * WC_SWEEP_STRIDE (default 1) tests every stride-th N only, WC_SWEEP_FROM
 * starts at that N (to replay one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "engine.h"
#include "faultfs.h"
#include "model.h"
#include "testutil.h"

#define NOW 1700000000
#define NT 3 /* tables 1..3 */

typedef struct sw_run {
    wc_faultfs *ff;
    char *dir;
    wc_model m[NT + 1];
    size_t acked[NT + 1];
    bool exists[NT + 1], ddl_flight[NT + 1];
    uint32_t gc[NT + 1], gc_flight[NT + 1];
} sw_run;

static int64_t sw_ts;
/* the allocator hook counts allocations and fails the sw_fail_at-th one */
static _Atomic uint64_t sw_allocs, sw_fail_at;
static atomic_bool sw_alloc_fired;

static bool sw_alloc_fails(void)
{
    uint64_t n = atomic_fetch_add(&sw_allocs, 1) + 1;

    if (n != atomic_load(&sw_fail_at))
        return false;
    atomic_store(&sw_alloc_fired, true);
    return true;
}

static void *sw_malloc(size_t n, void *arg)
{
    (void)arg;
    return sw_alloc_fails() ? NULL : malloc(n);
}

static void *sw_realloc(void *p, size_t n, void *arg)
{
    (void)arg;
    return sw_alloc_fails() ? NULL : realloc(p, n);
}

static void sw_free(void *p, void *arg)
{
    (void)arg;
    free(p);
}

static int64_t sw_fresh_ts(wc_model *m)
{
    (void)m;
    return ++sw_ts;
}

static int64_t sw_clock(void *arg)
{
    (void)arg;
    return NOW;
}

static void sw_setup(sw_run *r)
{
    memset(r, 0, sizeof(*r));
    r->dir = wc_test_tmpdir("faultsweep");
    assert_non_null(r->dir);
    r->ff = wc_faultfs_new(NULL);
    assert_non_null(r->ff);
    wc_faultfs_power_loss_mode(r->ff, NULL, true); /* only for the speed: no real fsync */
    for (uint32_t id = 1; id <= NT; id++) {
        wc_model_config cfg = {
            .table_id = id, .npk = 3, .max_ttl = 1000000, .fresh_ts = sw_fresh_ts};

        wc_model_init(&r->m[id], &cfg, 1000 + id, NOW);
        r->gc[id] = 864000;
    }
}

static void sw_teardown(sw_run *r)
{
    for (uint32_t id = 1; id <= NT; id++)
        wc_model_free(&r->m[id]);
    wc_faultfs_free(r->ff);
    wc_test_rmrf(r->dir);
    free(r->dir);
}

static wc_status sw_open(sw_run *r, wc_engine **e)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = r->dir;
    o.fs = wc_faultfs_fs(r->ff);
    o.sync_mode = WC_SYNC_BATCH;
    o.segment_bytes = 2048;
    o.memtable_bytes = 2048;
    o.block_bytes = 512;
    o.cache_bytes = 1 << 20;
    o.clock = sw_clock;
    o.compaction_threads = 0;
    return wc_engine_open(&o, e);
}

static wc_status sw_create(sw_run *r, wc_engine *e, uint32_t id)
{
    wc_table_def d;
    wc_status st;

    wc_table_def_default(&d);
    d.id = id;
    d.gc_grace_seconds = r->gc[id];
    snprintf(d.name, sizeof(d.name), "ks.t%u", id);
    r->ddl_flight[id] = true;
    st = wc_engine_create_table(e, &d);
    if (st == WC_OK) {
        r->ddl_flight[id] = false;
        r->exists[id] = true;
    }
    return st;
}

static wc_status sw_writes(sw_run *r, wc_engine *e, uint32_t a, uint32_t b, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t id = i % 2 ? b : a;
        wc_status st = wc_model_try_write(&r->m[id], e);

        if (st != WC_OK)
            return st;
        r->acked[id] = r->m[id].nops;
    }
    return WC_OK;
}

/* The scripted workload; stops at the first failure and returns it. */
static wc_status sw_workload(sw_run *r, wc_engine *e)
{
    wc_table_def d;
    wc_status st;

    if ((st = sw_create(r, e, 1)) != WC_OK || (st = sw_create(r, e, 2)) != WC_OK ||
        (st = sw_writes(r, e, 1, 2, 30)) != WC_OK || (st = wc_engine_flush(e, 0, true)) != WC_OK ||
        (st = sw_writes(r, e, 1, 2, 30)) != WC_OK || (st = wc_engine_flush(e, 1, true)) != WC_OK ||
        (st = wc_engine_compact(e, 1)) != WC_OK)
        return st;
    wc_table_def_default(&d);
    d.id = 1;
    d.gc_grace_seconds = r->gc_flight[1] = 864001;
    snprintf(d.name, sizeof(d.name), "ks.t1");
    if ((st = wc_engine_alter_table(e, &d)) != WC_OK)
        return st;
    r->gc[1] = 864001;
    r->ddl_flight[2] = true;
    if ((st = wc_engine_drop_table(e, 2)) != WC_OK)
        return st;
    r->ddl_flight[2] = false;
    r->exists[2] = false;
    if ((st = sw_create(r, e, 3)) != WC_OK || (st = sw_writes(r, e, 1, 3, 24)) != WC_OK ||
        (st = wc_engine_flush(e, 0, true)) != WC_OK || (st = wc_engine_compact(e, 3)) != WC_OK)
        return st;
    return sw_writes(r, e, 3, 1, 6);
}

/* Reopen without faults: every acknowledged write and DDL is there. */
static void sw_verify(sw_run *r, const char *what)
{
    wc_engine *e;
    wc_status st = sw_open(r, &e);

    if (st != WC_OK)
        fail_msg("%s: clean reopen failed: %s %s", what, wc_status_name(st), wc_last_error());
    for (uint32_t id = 1; id <= NT; id++) {
        wc_table_def d;
        size_t k;
        char why[256] = "";

        st = wc_engine_get_table(e, id, &d);
        if (st == WC_NOT_FOUND) {
            if (r->exists[id] && !r->ddl_flight[id])
                fail_msg("%s: acknowledged table %u is gone", what, id);
            continue;
        }
        assert_int_equal(st, WC_OK);
        if (!r->exists[id] && !r->ddl_flight[id])
            fail_msg("%s: table %u should not exist", what, id);
        if (!r->exists[id] && id == 2)
            continue; /* a drop in flight that did not happen: its data is as it was */
        if (d.gc_grace_seconds != r->gc[id] && d.gc_grace_seconds != r->gc_flight[id])
            fail_msg("%s: table %u has gc_grace %u, acknowledged %u", what, id,
                     d.gc_grace_seconds, r->gc[id]);
        for (k = r->acked[id]; k <= r->m[id].nops; k++)
            if (wc_model_matches(&r->m[id], e, k, why, sizeof(why)))
                break;
        if (k > r->m[id].nops)
            fail_msg("%s: table %u lost acknowledged writes (%zu acknowledged): %s", what, id,
                     r->acked[id], why);
    }
    wc_engine_close(e);
}

/* Run the workload once with the fault armed by arm(n); returns false once n is past the end. */
static bool sw_round(uint64_t n, int kind, int *errors)
{
    sw_run r;
    wc_engine *e = NULL;
    uint64_t live0;
    char what[96];
    bool fired;
    wc_status st;

    snprintf(what, sizeof(what), "%s at call %llu",
             kind == 0 ? "EIO" : kind == 1 ? "ENOSPC from" : "allocation failure",
             (unsigned long long)n);
    sw_setup(&r);
    live0 = wc_alloc_live_count();
    if (kind == 0)
        wc_faultfs_trigger(r.ff, WC_FF_ANY, NULL, n, WC_FF_FAIL, WC_IO_ERROR, false);
    else if (kind == 1)
        wc_faultfs_trigger(r.ff, WC_FF_ANY, NULL, n, WC_FF_FAIL, WC_NO_SPACE, true);
    else {
        atomic_store(&sw_alloc_fired, false);
        atomic_store(&sw_fail_at, atomic_load(&sw_allocs) + n);
    }
    st = sw_open(&r, &e);
    if (st == WC_OK) {
        st = sw_workload(&r, e);
        wc_engine_close(e);
    }
    if (kind == 2) {
        atomic_store(&sw_fail_at, 0);
        fired = atomic_load(&sw_alloc_fired);
    } else {
        fired = wc_faultfs_triggered(r.ff);
    }
    if (st != WC_OK) {
        if (!fired)
            fail_msg("%s: the workload failed without the fault: %s", what, wc_last_error());
        if (st != WC_IO_ERROR && st != WC_NO_SPACE && st != WC_NO_MEMORY)
            fail_msg("%s: unexpected status %s (%s)", what, wc_status_name(st), wc_last_error());
        (*errors)++;
    }
    if (wc_alloc_live_count() != live0)
        fail_msg("%s: %lld allocations leaked", what,
                 (long long)(wc_alloc_live_count() - live0));
    wc_faultfs_reset(r.ff);
    wc_faultfs_trigger(r.ff, WC_FF_ANY, NULL, 0, WC_FF_FAIL, WC_OK, false);
    sw_verify(&r, what);
    sw_teardown(&r);
    return fired;
}

static void sw_sweep(int kind)
{
    const char *env = getenv("WC_SWEEP_STRIDE");
    uint64_t stride = env ? strtoull(env, NULL, 10) : 1, n;
    int errors = 0, rounds = 0;

    if (stride == 0)
        stride = 1;
    n = getenv("WC_SWEEP_FROM") ? strtoull(getenv("WC_SWEEP_FROM"), NULL, 10) : 1;
    for (; sw_round(n, kind, &errors); n += stride)
        rounds++;
    printf("%s sweep: %d failing rounds (every %llu calls), %d returned an error; the "
           "workload completes at call %llu\n",
           kind == 0 ? "EIO" : kind == 1 ? "ENOSPC" : "allocation", rounds,
           (unsigned long long)stride, errors, (unsigned long long)n);
    assert_true(errors > rounds / 2);
}

static void test_eio_sweep(void **state)
{
    (void)state;
    sw_sweep(0);
}

static void test_enospc_sweep(void **state)
{
    (void)state;
    sw_sweep(1);
}

static void test_alloc_sweep(void **state)
{
    (void)state;
    sw_sweep(2);
}

int main(void)
{
    const wc_allocator counting = {sw_malloc, sw_realloc, sw_free, NULL};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eio_sweep),
        cmocka_unit_test(test_enospc_sweep),
        cmocka_unit_test(test_alloc_sweep),
    };

    wc_set_allocator(&counting);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests_name("faultsweep", tests, NULL, NULL);
}
