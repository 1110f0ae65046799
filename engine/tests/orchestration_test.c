/*
 * orchestration_test.c - the engine's threads and bounds: a flush runs
 * without the table lock (DDL goes on while an SSTable is written), drop
 * waits for a flush of its table, a failing background flush fails writes
 * (and the failure clears once a retry succeeds), immutable memtables are
 * bounded (writers wait, then get WC_OVERLOADED), memtable memory is bounded
 * across tables, the commit log is bounded when an idle table pins its
 * oldest segment, and engine threads run with every signal blocked.
 *
 * SSTable (or catalog) writes are held or failed by a gate in front of the
 * real file system: opening a file whose name ends in the gate's suffix
 * (".sst.tmp" unless a test says otherwise) blocks while the gate is closed
 * and fails with WC_IO_ERROR while it is set to fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "testutil.h"
#include "thread.h"

#define NOW 1700000000u

/* ---------------------------------------------------------------- the gate */

static struct gate {
    wc_fs fs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;  /* SSTable opens wait */
    bool failing; /* SSTable opens fail */
    int waiting;  /* threads held at the gate */
    uint64_t opens;
    const char *suffix;
} g_gate = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static bool is_gated(const char *path)
{
    size_t n = strlen(path), m = strlen(g_gate.suffix);
    return n > m && strcmp(path + n - m, g_gate.suffix) == 0;
}

static wc_status gate_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    wc_fs *base = wc_fs_posix();

    if (is_gated(path)) {
        bool fail;

        pthread_mutex_lock(&g_gate.mu);
        g_gate.opens++;
        g_gate.waiting++;
        pthread_cond_broadcast(&g_gate.cv);
        while (g_gate.closed)
            pthread_cond_wait(&g_gate.cv, &g_gate.mu);
        g_gate.waiting--;
        fail = g_gate.failing;
        pthread_mutex_unlock(&g_gate.mu);
        if (fail)
            return wc_error(WC_IO_ERROR, "could not open \"%s\": injected I/O error", path);
    }
    return base->open(base, path, flags, out);
}

static wc_fs *gate_fs(void)
{
    g_gate.fs = *wc_fs_posix();
    g_gate.fs.open = gate_open;
    return &g_gate.fs;
}

static void gate_set(bool closed, bool failing)
{
    pthread_mutex_lock(&g_gate.mu);
    g_gate.closed = closed;
    g_gate.failing = failing;
    pthread_cond_broadcast(&g_gate.cv);
    pthread_mutex_unlock(&g_gate.mu);
}

/* Wait (up to 5 s) until a thread is held at the closed gate. */
static bool gate_wait_held(void)
{
    struct timespec ts;
    bool held;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&g_gate.mu);
    while (g_gate.waiting == 0 &&
           pthread_cond_timedwait(&g_gate.cv, &g_gate.mu, &ts) == 0)
        ;
    held = g_gate.waiting > 0;
    pthread_mutex_unlock(&g_gate.mu);
    return held;
}

/* ---------------------------------------------------------------- fixture */

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[8192];

static void capture_log(void *arg, int level, const char *msg)
{
    pthread_mutex_lock(&g_log_mu);
    if (level == WC_LOG_ERROR && strlen(g_log) + strlen(msg) + 2 < sizeof(g_log)) {
        strcat(g_log, msg);
        strcat(g_log, "\n");
    }
    pthread_mutex_unlock(&g_log_mu);
}

static bool log_has(const char *needle)
{
    bool found;

    pthread_mutex_lock(&g_log_mu);
    found = strstr(g_log, needle) != NULL;
    pthread_mutex_unlock(&g_log_mu);
    return found;
}

typedef struct fx {
    char *dir;
    wc_engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    f->dir = wc_test_tmpdir("orch");
    if (f->dir == NULL)
        return -1;
    gate_set(false, false);
    g_gate.suffix = ".sst.tmp";
    g_log[0] = '\0';
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    gate_set(false, false);
    wc_engine_close(f->e);
    wc_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void open_engine(fx *f, size_t memtable_bytes, size_t total_bytes, size_t segment_bytes,
                        size_t log_total_bytes)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = f->dir;
    o.fs = gate_fs();
    o.memtable_bytes = memtable_bytes;
    o.memtable_total_bytes = total_bytes;
    o.write_stall_ms = 200;
    o.segment_bytes = segment_bytes;
    o.commitlog_total_bytes = log_total_bytes;
    o.cache_bytes = 1u << 20;
    o.compaction_threads = 0;
    o.log = capture_log;
    assert_int_equal(wc_engine_open(&o, &f->e), WC_OK);
}

static void create(fx *f, uint32_t id, const char *name)
{
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = id;
    snprintf(d.name, sizeof(d.name), "%s", name);
    assert_int_equal(wc_engine_create_table(f->e, &d), WC_OK);
}

/* One row of about `bytes` value bytes. */
static wc_status put(fx *f, uint32_t id, uint64_t i, size_t bytes)
{
    static char val[65536];
    const char *vals[1] = {val};
    const uint32_t cols[1] = {1};
    char pk[32];

    if (bytes >= sizeof(val))
        bytes = sizeof(val) - 1;
    memset(val, 'v', bytes);
    val[bytes] = '\0';
    snprintf(pk, sizeof(pk), "p%llu", (unsigned long long)(i % 97));
    return wc_test_put(f->e, id, pk, i, (int64_t)i + 1, 0, NOW, 1, cols, vals);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- tests */

typedef struct ddl_arg {
    fx *f;
    _Atomic int done;
    wc_status st;
} ddl_arg;

static wc_status put(fx *f, uint32_t id, uint64_t i, size_t bytes);

static void *put_main(void *arg)
{
    ddl_arg *a = arg;

    a->st = put(a->f, 7, 2000, 100);
    atomic_store(&a->done, 1);
    return NULL;
}

/* A write to the flushing table, then create/alter/drop of another table. */
static void *ddl_main(void *arg)
{
    ddl_arg *a = arg;
    wc_table_def d;
    wc_status st;

    a->st = put(a->f, 7, 1000, 100);
    if (a->st != WC_OK) {
        atomic_store(&a->done, 1);
        return NULL;
    }
    wc_table_def_default(&d);
    d.id = 42;
    snprintf(d.name, sizeof(d.name), "ks.other");
    st = wc_engine_create_table(a->f->e, &d);
    if (st == WC_OK) {
        d.gc_grace_seconds = 60;
        st = wc_engine_alter_table(a->f->e, &d);
    }
    if (st == WC_OK)
        st = wc_engine_drop_table(a->f->e, 42);
    a->st = st;
    atomic_store(&a->done, 1);
    return NULL;
}

/* While the flush thread writes an SSTable, create/alter/drop of another table go on. */
static void test_ddl_during_flush(void **state)
{
    fx *f = *state;
    ddl_arg a = {0};
    pthread_t th;
    int waited = 0;

    open_engine(f, 4u << 20, 0, 1u << 20, 0);
    create(f, 7, "ks.busy");
    for (uint64_t i = 0; i < 50; i++)
        assert_int_equal(put(f, 7, i, 100), WC_OK);
    gate_set(true, false);
    assert_int_equal(wc_engine_flush(f->e, 7, false), WC_OK);
    assert_true(gate_wait_held());

    a.f = f;
    assert_int_equal(pthread_create(&th, NULL, ddl_main, &a), 0);
    while (!atomic_load(&a.done) && waited < 3000) {
        sleep_ms(10);
        waited += 10;
    }
    gate_set(false, false); /* let everything finish before asserting */
    pthread_join(th, NULL);
    assert_true(waited < 3000);
    assert_int_equal(a.st, WC_OK);
    assert_int_equal(wc_engine_flush(f->e, 0, true), WC_OK);
}

typedef struct create_arg {
    wc_engine *e;
    _Atomic int done;
    wc_status st;
} create_arg;

static void *create_main(void *arg)
{
    create_arg *a = arg;
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = 43;
    snprintf(d.name, sizeof(d.name), "ks.new");
    a->st = wc_engine_create_table(a->e, &d);
    atomic_store(&a->done, 1);
    return NULL;
}

/* While a CREATE writes the catalog, writes and reads of other tables go on. */
static void test_writes_during_catalog_write(void **state)
{
    fx *f = *state;
    create_arg a = {0};
    pthread_t th;
    wc_status st;

    open_engine(f, 4u << 20, 0, 1u << 20, 0);
    create(f, 7, "ks.t1");
    g_gate.suffix = "/catalog.tmp";
    gate_set(true, false);
    a.e = f->e;
    assert_int_equal(pthread_create(&th, NULL, create_main, &a), 0);
    assert_true(gate_wait_held());
    {
        ddl_arg w = {.f = f};
        pthread_t wt;
        int waited = 0;

        /* the writer runs in a thread: on failure it must not hang the test */
        assert_int_equal(pthread_create(&wt, NULL, put_main, &w), 0);
        while (!atomic_load(&w.done) && waited < 3000) {
            sleep_ms(10);
            waited += 10;
        }
        gate_set(false, false);
        pthread_join(wt, NULL);
        pthread_join(th, NULL);
        assert_true(waited < 3000);
        assert_int_equal(w.st, WC_OK);
    }
    assert_int_equal(a.st, WC_OK);
    st = put(f, 43, 1, 10);
    assert_int_equal(st, WC_OK);
}

typedef struct drop_arg {
    wc_engine *e;
    uint32_t id;
    wc_status st;
} drop_arg;

static void *drop_main(void *arg)
{
    drop_arg *a = arg;
    a->st = wc_engine_drop_table(a->e, a->id);
    return NULL;
}

/*
 * A table dropped while its background flush is running and then fails:
 * drop waits for the flush, the failure is reported with the table's name,
 * and once the table is gone its failure no longer fails writes.
 */
static void test_drop_during_failing_flush(void **state)
{
    fx *f = *state;
    drop_arg a = {0};
    pthread_t th;
    wc_engine_stats es;

    open_engine(f, 4u << 20, 0, 1u << 20, 0);
    create(f, 9, "ks.victim");
    create(f, 10, "ks.keeper");
    for (int round = 0; round < 3; round++) {
        uint32_t id = 9 + 2 * (uint32_t)round;
        char name[32];

        if (round > 0) {
            snprintf(name, sizeof(name), "ks.victim%d", round);
            create(f, id, name);
        }
        for (uint64_t i = 0; i < 20; i++)
            assert_int_equal(put(f, id, i, 100), WC_OK);
        gate_set(true, true);
        assert_int_equal(wc_engine_flush(f->e, id, false), WC_OK);
        assert_true(gate_wait_held());
        a.e = f->e;
        a.id = id;
        assert_int_equal(pthread_create(&th, NULL, drop_main, &a), 0);
        sleep_ms(20);
        gate_set(false, true); /* the held flush fails now */
        pthread_join(th, NULL);
        assert_int_equal(a.st, WC_OK);
        gate_set(false, false);
    }
    assert_true(log_has("background flush of table ks.victim"));
    /* the dropped tables' failures do not fail writes to the others */
    assert_int_equal(put(f, 10, 1, 100), WC_OK);
    wc_engine_get_stats(f->e, &es);
    assert_int_equal(es.background_status, WC_OK);
    assert_int_equal(es.memtable_flushing_bytes, 0);
}

/* A failing background flush fails writes with its status and detail until a retry succeeds. */
static void test_flush_failure_fails_writes(void **state)
{
    fx *f = *state;
    wc_engine_stats es;
    wc_status st = WC_OK;

    open_engine(f, 4u << 20, 0, 1u << 20, 0);
    create(f, 7, "ks.t1");
    assert_int_equal(put(f, 7, 1, 100), WC_OK);
    gate_set(false, true);
    assert_int_equal(wc_engine_flush(f->e, 7, false), WC_OK);
    for (int i = 0; i < 300 && st == WC_OK; i++) {
        sleep_ms(10);
        st = put(f, 7, 2, 100);
    }
    assert_int_equal(st, WC_IO_ERROR);
    assert_non_null(strstr(wc_last_error(), "background flush of table ks.t1 failed"));
    wc_engine_get_stats(f->e, &es);
    assert_int_equal(es.background_status, WC_IO_ERROR);
    assert_non_null(strstr(es.background_error, "background flush of table ks.t1 failed"));

    /* the flush thread retries once a second (a monotonic timed wait), it does not spin */
    {
        uint64_t before, after;

        pthread_mutex_lock(&g_gate.mu);
        before = g_gate.opens;
        pthread_mutex_unlock(&g_gate.mu);
        sleep_ms(1500);
        pthread_mutex_lock(&g_gate.mu);
        after = g_gate.opens;
        pthread_mutex_unlock(&g_gate.mu);
        assert_true(after - before <= 3);
    }

    gate_set(false, false); /* the disk heals: the retry (every second) succeeds */
    for (int i = 0; i < 300 && st != WC_OK; i++) {
        sleep_ms(10);
        st = put(f, 7, 3, 100);
    }
    assert_int_equal(st, WC_OK);
    wc_engine_get_stats(f->e, &es);
    assert_int_equal(es.background_status, WC_OK);
    assert_string_equal(es.background_error, "");
}

/* Flushes stalled: writers wait, then fail with WC_OVERLOADED; memory stays near the limit. */
static void test_immutable_memtables_bounded(void **state)
{
    fx *f = *state;
    const size_t limit = 1u << 20;
    wc_engine_stats es;
    wc_status st = WC_OK;
    uint64_t i;

    open_engine(f, 256u << 10, limit, 1u << 20, 0);
    create(f, 7, "ks.t1");
    gate_set(true, false);
    for (i = 0; i < 2000 && st == WC_OK; i++) /* up to ~8 MiB */
        st = put(f, 7, i, 4000);
    assert_int_equal(st, WC_OVERLOADED);
    assert_non_null(strstr(wc_last_error(), "memtable_total_space"));
    wc_engine_get_stats(f->e, &es);
    assert_true(es.writes_stalled >= 1);
    assert_true(es.writes_refused >= 1);
    assert_true(es.memtable_bytes <= limit + (256u << 10));
    assert_int_equal(es.memtable_limit_bytes, limit);

    gate_set(false, false); /* flushes catch up: writes go on */
    assert_int_equal(put(f, 7, i + 1, 4000), WC_OK);
    assert_int_equal(wc_engine_flush(f->e, 0, true), WC_OK);
}

/* Memtables replayed at open over the limit: the first write switches them and goes on. */
static void test_replayed_memtables_over_limit(void **state)
{
    fx *f = *state;
    wc_engine_stats es;

    open_engine(f, 8u << 20, 64u << 20, 1u << 20, 0);
    create(f, 7, "ks.t1");
    for (uint64_t i = 0; i < 500; i++) /* ~2 MiB, all in the active memtable */
        assert_int_equal(put(f, 7, i, 4000), WC_OK);
    wc_engine_close(f->e);
    f->e = NULL;
    open_engine(f, 8u << 20, 1u << 20, 1u << 20, 0);
    wc_engine_get_stats(f->e, &es);
    assert_true(es.memtable_bytes > (1u << 20));
    assert_int_equal(put(f, 7, 1000, 10), WC_OK);
    assert_int_equal(wc_engine_flush(f->e, 0, true), WC_OK);
}

/* Many tables each below memtable_bytes: together they stay under memtable_total_bytes. */
static void test_memtable_total_across_tables(void **state)
{
    fx *f = *state;
    const size_t limit = 1u << 20;
    wc_engine_stats es;
    uint64_t sum = 0;

    open_engine(f, 512u << 10, limit, 1u << 20, 0);
    for (uint32_t t = 1; t <= 16; t++) {
        char name[32];
        snprintf(name, sizeof(name), "ks.t%u", t);
        create(f, t, name);
    }
    for (uint64_t i = 0; i < 75; i++) /* 16 tables x ~300 KB */
        for (uint32_t t = 1; t <= 16; t++)
            assert_int_equal(put(f, t, i, 4000), WC_OK);
    /* wait for the flush thread to drain what was switched */
    for (int i = 0; i < 500; i++) {
        wc_engine_get_stats(f->e, &es);
        if (es.memtable_flushing_bytes == 0)
            break;
        sleep_ms(10);
    }
    for (uint32_t t = 1; t <= 16; t++) {
        wc_table_stats ts;
        assert_int_equal(wc_engine_table_stats(f->e, t, &ts), WC_OK);
        sum += ts.memtable_bytes;
    }
    assert_true(sum <= limit);
    wc_engine_get_stats(f->e, &es);
    assert_true(es.memtable_bytes <= limit);
}

static size_t count_segments(const char *dir)
{
    char path[1024];
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/commitlog", dir);
    d = opendir(path);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* An idle table with one row and a busy table: the log stays bounded. */
static void test_commitlog_bounded_idle_table(void **state)
{
    fx *f = *state;
    const size_t seg = 128u << 10, log_limit = 512u << 10;
    wc_engine_stats es;
    size_t max_segments = 0;

    /* memtables (and so the flush backlog) bounded at 1 MiB: what pins the log is the idle table */
    open_engine(f, 256u << 10, 1u << 20, seg, log_limit);
    create(f, 1, "ks.idle");
    create(f, 2, "ks.busy");
    assert_int_equal(put(f, 1, 1, 10), WC_OK);
    for (uint64_t i = 0; i < 1500; i++) { /* ~6 MiB through the log */
        assert_int_equal(put(f, 2, i, 4000), WC_OK);
        if (i % 50 == 0) {
            size_t n = count_segments(f->dir);
            if (n > max_segments)
                max_segments = n;
        }
    }
    assert_int_equal(wc_engine_flush(f->e, 2, true), WC_OK);
    sleep_ms(50);
    /* the limit, plus the memtables waiting for their flush, plus the segment being written;
     * without the bound the idle table keeps all ~48 segments */
    assert_true(max_segments * seg <= log_limit + (1u << 20) + 2 * seg);
    wc_engine_get_stats(f->e, &es);
    assert_true(es.commitlog_bytes <= log_limit + 2 * seg);
    assert_int_equal(es.commitlog_limit_bytes, log_limit);
    /* the idle table's row survived its flush */
    {
        wc_read_request r = {0};
        wc_page *p = NULL;
        r.table_id = 1;
        r.pk = (const uint8_t *)"p1";
        r.pk_len = 2;
        r.start.unbounded = r.end.unbounded = true;
        r.now_sec = NOW;
        assert_int_equal(wc_engine_read(f->e, &r, &p), WC_OK);
        assert_int_equal(p->nrows, 1);
        wc_page_free(p);
    }
}

/* A wc__cond_init condition times out at a wc__deadline_ms deadline, not before. */
static void test_monotonic_timed_wait(void **state)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    struct timespec ts;
    int64_t t0, waited;
    int rc;

    (void)state;
    assert_int_equal(wc__cond_init(&cv), 0);
    pthread_mutex_lock(&mu);
    t0 = wc__mono_ns();
    wc__deadline_ms(&ts, 100);
    do
        rc = pthread_cond_timedwait(&cv, &mu, &ts);
    while (rc == 0);
    waited = wc__mono_ns() - t0;
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cv);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(waited >= 90 * 1000000LL);
    assert_true(waited < 2000 * 1000000LL);
}

/* Every engine thread has every catchable signal blocked. */
static void test_threads_block_signals(void **state)
{
    fx *f = *state;
    sigset_t none, old;
    DIR *d;
    struct dirent *de;
    int others = 0;
    wc_engine_options o;

    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, &old);
    wc_engine_options_default(&o);
    o.dir = f->dir;
    o.compaction_threads = 2;
    assert_int_equal(wc_engine_open(&o, &f->e), WC_OK);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    d = opendir("/proc/self/task");
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[300], line[256];
        FILE *fp;

        if (de->d_name[0] == '.' || atoi(de->d_name) == (int)getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
        fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        while (fgets(line, sizeof(line), fp)) {
            if (strncmp(line, "SigBlk:", 7) == 0) {
                unsigned long long mask = strtoull(line + 7, NULL, 16);
                /* SIGHUP, SIGINT, SIGUSR1, SIGTERM, SIGQUIT */
                unsigned long long want = (1ull << (SIGHUP - 1)) | (1ull << (SIGINT - 1)) |
                                          (1ull << (SIGUSR1 - 1)) | (1ull << (SIGTERM - 1)) |
                                          (1ull << (SIGQUIT - 1));
                assert_true((mask & want) == want);
                others++;
            }
        }
        fclose(fp);
    }
    closedir(d);
    assert_true(others >= 4); /* flush, 2 compaction, commit-log sync */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ddl_during_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_during_catalog_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_during_failing_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_failure_fails_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_immutable_memtables_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memtable_total_across_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_memtables_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commitlog_bounded_idle_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_block_signals, setup, teardown),
        cmocka_unit_test(test_monotonic_timed_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
