/*
 * commitlog_crash_test.c - crash tests of the commit log with real processes.
 *
 * A forked child opens the log and appends records carrying sequence numbers
 * from three threads.  It reports each sequence number (with a CLOCK_MONOTONIC
 * timestamp) through a pipe once the write is acknowledged: in batch mode
 * after wc_commitlog_sync_to returned, in periodic mode right after the
 * append.  The parent SIGKILLs the child after a random 1-30 ms, reopens the
 * log, checks that open succeeds (a killed writer never leaves corruption),
 * that every replayed record is intact, and that
 *  - batch mode: every acknowledged record is present;
 *  - periodic mode: acknowledged records are missing only if they were
 *    acknowledged within 2 * period_ms + 50 ms of the kill (the documented
 *    window is period_ms plus the write in flight; the rest is slack).
 * The kernel keeps the page cache across SIGKILL, so periodic-mode losses are
 * normally zero; the bound is still checked.  The directory is reused across
 * iterations (segments of earlier runs are replayed and then discarded, so
 * pool files get recycled under crashes too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coding.h"
#include "commitlog.h"

#define ITERATIONS 40
#define THREADS 3
#define PERIOD_MS 10
#define MAX_PER_RUN (1u << 22)

typedef struct ack {
    uint64_t seq;
    uint64_t ts_us;
} ack;

static char tmpdir[4096];

static int setup(void **state)
{
    const char *base = getenv("WC_TEST_TMP");

    snprintf(tmpdir, sizeof(tmpdir), "%s/clcrash-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[8192];

    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Record of seq: seq, ~seq, then a pattern; length depends on seq. */
static size_t rec_len(uint64_t seq)
{
    return 16 + (size_t)(seq % 301);
}

static void make_rec(uint64_t seq, uint8_t *buf)
{
    size_t len = rec_len(seq);

    wc_enc_u64(buf, seq);
    wc_enc_u64(buf + 8, ~seq);
    for (size_t k = 16; k < len; k++)
        buf[k] = (uint8_t)(seq * 29 + k);
}

/* ------------------------------------------------------------------ child */

typedef struct child_ctx {
    wc_commitlog *cl;
    wc_sync_mode mode;
    int fd;
    uint64_t base;
    atomic_uint_fast64_t next;
} child_ctx;

static void *child_writer(void *arg)
{
    child_ctx *c = arg;
    uint8_t buf[512];

    for (;;) {
        uint64_t seq = c->base + atomic_fetch_add(&c->next, 1);
        wc_clpos pos;
        ack a;

        make_rec(seq, buf);
        if (wc_commitlog_append(c->cl, buf, rec_len(seq), &pos) != WC_OK)
            _exit(3);
        if (wc_commitlog_sync_to(c->cl, pos) != WC_OK)
            _exit(4);
        a.seq = seq;
        a.ts_us = now_us();
        /* 16 bytes < PIPE_BUF: atomic */
        while (write(c->fd, &a, sizeof(a)) != (ssize_t)sizeof(a)) {
            if (errno != EINTR)
                _exit(5);
        }
    }
    return NULL;
}

static void child_main(wc_sync_mode mode, int fd, uint64_t base)
{
    static child_ctx c;
    wc_commitlog_options o = {0};
    pthread_t th[THREADS];

    o.dir = tmpdir;
    o.mode = mode;
    o.period_ms = PERIOD_MS;
    o.segment_size = 64 << 10;
    c.mode = mode;
    c.fd = fd;
    c.base = base;
    atomic_init(&c.next, 0);
    if (wc_commitlog_open(&o, NULL, NULL, &c.cl) != WC_OK)
        _exit(2);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, child_writer, &c) != 0)
            _exit(6);
    for (;;)
        pause();
}

/* ------------------------------------------------------------------ parent */

typedef struct verify {
    uint64_t base;
    uint8_t *seen; /* MAX_PER_RUN flags for seqs of this run */
    uint64_t records;
    wc_clpos last;
    int bad;
} verify;

static wc_status verify_cb(void *arg, wc_clpos pos, const uint8_t *data, size_t len)
{
    verify *v = arg;
    uint8_t buf[512];
    uint64_t seq;

    if (v->records && wc_clpos_cmp(v->last, pos) >= 0)
        v->bad = 1;
    v->last = pos;
    v->records++;
    if (len < 16) {
        v->bad = 1;
        return WC_OK;
    }
    seq = wc_dec_u64(data);
    if (len != rec_len(seq)) {
        v->bad = 1;
        return WC_OK;
    }
    make_rec(seq, buf);
    if (memcmp(buf, data, len) != 0)
        v->bad = 1;
    if (seq >= v->base && seq - v->base < MAX_PER_RUN)
        v->seen[seq - v->base] = 1;
    return WC_OK;
}

static int warnings;
static void log_cb(void *arg, int level, const char *msg)
{
    if (level >= WC_LOG_WARNING)
        warnings++;
}

static void run_crashes(wc_sync_mode mode)
{
    uint64_t total_acked = 0, total_lost = 0, total_replayed = 0;
    uint64_t window_us = (2 * PERIOD_MS + 50) * 1000u;
    size_t cap = 1 << 16;
    ack *acks = malloc(cap * sizeof(*acks));
    verify v = {0};

    v.seen = malloc(MAX_PER_RUN);
    assert_non_null(acks);
    assert_non_null(v.seen);
    srand((unsigned)now_us());
    warnings = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        uint64_t base = (uint64_t)(it + 1) << 32;
        int fds[2], status;
        size_t nacks = 0, partial = 0;
        uint64_t t_kill, deadline;
        wc_commitlog_options o = {0};
        wc_commitlog *cl;
        pid_t pid;
        char rbuf[4096 + sizeof(ack)];

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(mode, fds[1], base);
            _exit(1);
        }
        close(fds[1]);

        /* read acknowledgements until the random moment, then kill */
        deadline = now_us() + 1000u * (1 + (uint64_t)(rand() % 30));
        for (;;) {
            uint64_t now = now_us();
            struct pollfd pfd = {fds[0], POLLIN, 0};
            ssize_t r;

            if (now >= deadline)
                break;
            if (poll(&pfd, 1, (int)((deadline - now + 999) / 1000)) <= 0)
                continue;
            r = read(fds[0], rbuf + partial, sizeof(rbuf) - partial);
            if (r <= 0)
                break; /* the child died by itself: caught below */
            partial += (size_t)r;
            for (size_t k = 0; k + sizeof(ack) <= partial; k += sizeof(ack)) {
                if (nacks == cap) {
                    cap *= 2;
                    acks = realloc(acks, cap * sizeof(*acks));
                    assert_non_null(acks);
                }
                memcpy(&acks[nacks++], rbuf + k, sizeof(ack));
            }
            {
                size_t used = partial / sizeof(ack) * sizeof(ack);
                memmove(rbuf, rbuf + used, partial - used);
                partial -= used;
            }
        }
        t_kill = now_us();
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* the child must have been killed, not have failed on its own */
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("iteration %d: the child stopped by itself (status 0x%x)", it, status);
        /* drain what it wrote before dying */
        for (;;) {
            ssize_t r = read(fds[0], rbuf + partial, sizeof(rbuf) - partial);

            if (r <= 0)
                break;
            partial += (size_t)r;
            for (size_t k = 0; k + sizeof(ack) <= partial; k += sizeof(ack)) {
                if (nacks == cap) {
                    cap *= 2;
                    acks = realloc(acks, cap * sizeof(*acks));
                    assert_non_null(acks);
                }
                memcpy(&acks[nacks++], rbuf + k, sizeof(ack));
            }
            {
                size_t used = partial / sizeof(ack) * sizeof(ack);
                memmove(rbuf, rbuf + used, partial - used);
                partial -= used;
            }
        }
        close(fds[0]);
        assert_int_equal(partial, 0);

        /* reopen and replay */
        memset(v.seen, 0, MAX_PER_RUN);
        v.base = base;
        v.records = 0;
        v.bad = 0;
        o.dir = tmpdir;
        o.mode = mode;
        o.segment_size = 64 << 10;
        o.log = log_cb;
        if (wc_commitlog_open(&o, verify_cb, &v, &cl) != WC_OK)
            fail_msg("iteration %d: reopen failed: %s", it, wc_last_error());
        assert_false(v.bad);
        for (size_t i = 0; i < nacks; i++) {
            uint64_t k = acks[i].seq - base;

            assert_true(acks[i].seq >= base && k < MAX_PER_RUN);
            if (v.seen[k])
                continue;
            if (mode == WC_SYNC_BATCH)
                fail_msg("iteration %d: acknowledged seq %llu missing after the crash", it,
                         (unsigned long long)k);
            /* periodic: only the last window may be lost */
            if (acks[i].ts_us + window_us < t_kill)
                fail_msg("iteration %d: seq %llu acknowledged %llu us before the kill is "
                         "missing (window %llu us)",
                         it, (unsigned long long)k, (unsigned long long)(t_kill - acks[i].ts_us),
                         (unsigned long long)window_us);
            total_lost++;
        }
        total_acked += nacks;
        total_replayed += v.records;
        /* everything replayed is "flushed": retire old segments for recycling */
        assert_int_equal(wc_commitlog_discard_before(cl, wc_commitlog_current(cl)), WC_OK);
        wc_commitlog_close(cl);
    }
    print_message("%s: %d kills, %llu acknowledged, %llu replayed, %llu acknowledged but "
                  "lost, %d torn-tail warnings\n",
                  mode == WC_SYNC_BATCH ? "batch" : "periodic", ITERATIONS,
                  (unsigned long long)total_acked, (unsigned long long)total_replayed,
                  (unsigned long long)total_lost, warnings);
    free(acks);
    free(v.seen);
}

static void test_crash_batch(void **state)
{
    run_crashes(WC_SYNC_BATCH);
}

static void test_crash_periodic(void **state)
{
    run_crashes(WC_SYNC_PERIODIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_periodic, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
