/*
 * engine_crash_test.c - kill a writing engine with SIGKILL at random moments
 * and prove that in batch mode no acknowledged write is lost, also while
 * memtables are being switched and flushed, and that periodic mode loses at
 * most the writes of its sync window.
 *
 * The child writes rows whose clustering key is a sequence number from two
 * threads and reports each number on a pipe only after wc_engine_apply
 * returned.  The parent kills it after a random delay, reopens the engine
 * (replaying the commit log) and reads every acknowledged row back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "testutil.h"

#define TID 11
#define MAXSEQ (1u << 22)

typedef struct ack {
    uint32_t seq;
    uint32_t ms; /* child's clock when acknowledged, ms since its start */
} ack;

typedef struct child_ctx {
    wc_engine *e;
    int fd;
    int thread;
    pthread_mutex_t *mu;
    struct timespec t0;
} child_ctx;

static uint32_t ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void *child_writer(void *arg)
{
    child_ctx *c = arg;
    const uint32_t col = 1;
    char val[64];
    const char *vals[1] = {val};

    for (uint32_t i = 0; i < MAXSEQ / 2; i++) {
        uint32_t seq = i * 2 + (uint32_t)c->thread;
        ack a;
        snprintf(val, sizeof(val), "value-%u-padding-padding-padding", seq);
        if (wc_test_put(c->e, TID, c->thread ? "odd" : "even", seq, 1000 + seq, 0, 1700000000u,
                        1, &col, vals) != WC_OK)
            _exit(3);
        a.seq = seq;
        a.ms = ms_since(&c->t0);
        pthread_mutex_lock(c->mu);
        if (write(c->fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
            _exit(4);
        pthread_mutex_unlock(c->mu);
    }
    return NULL;
}

static void run_child(const char *dir, wc_sync_mode mode, int fd)
{
    wc_engine *e;
    wc_table_def d;
    pthread_t th[2];
    child_ctx cx[2];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

    if (wc_test_open(dir, mode, 64 * 1024, &e) != WC_OK)
        _exit(2);
    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "ks.crash");
    if (wc_engine_create_table(e, &d) != WC_OK)
        _exit(2);
    for (int i = 0; i < 2; i++) {
        cx[i].e = e;
        cx[i].fd = fd;
        cx[i].thread = i;
        cx[i].mu = &mu;
        clock_gettime(CLOCK_MONOTONIC, &cx[i].t0);
        pthread_create(&th[i], NULL, child_writer, &cx[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    _exit(0);
}

/* Which sequence numbers does the reopened engine hold? */
static void read_back(const char *dir, uint8_t *present)
{
    wc_engine *e;
    const char *pks[2] = {"even", "odd"};

    assert_int_equal(wc_test_open(dir, WC_SYNC_PERIODIC, 64 * 1024, &e), WC_OK);
    for (int i = 0; i < 2; i++) {
        wc_read_request r;
        uint8_t *ps = NULL;
        size_t psl = 0;
        memset(&r, 0, sizeof(r));
        r.table_id = TID;
        r.pk = (const uint8_t *)pks[i];
        r.pk_len = strlen(pks[i]);
        r.start.unbounded = r.end.unbounded = true;
        r.page_rows = 5000;
        for (;;) {
            wc_page *p;
            wc_status st;
            r.paging_state = ps;
            r.paging_state_len = psl;
            st = wc_engine_read(e, &r, &p);
            if (st == WC_NOT_FOUND)
                break; /* killed before the table was created */
            assert_int_equal(st, WC_OK);
            for (size_t j = 0; j < p->nrows; j++) {
                uint64_t seq = wc_test_ck_value(p->rows[j].ck, p->rows[j].ck_len);
                char want[64];
                assert_true(seq < MAXSEQ);
                assert_int_equal(p->rows[j].ncells, 1);
                snprintf(want, sizeof(want), "value-%u-padding-padding-padding", (unsigned)seq);
                assert_int_equal(p->rows[j].cells[0].len, strlen(want));
                assert_memory_equal(p->rows[j].cells[0].value, want, strlen(want));
                present[seq] = 1;
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
            if (ps == NULL)
                break;
        }
    }
    wc_engine_close(e);
}

static void crash_rounds(wc_sync_mode mode, int rounds, uint32_t window_ms)
{
    uint8_t *present = calloc(MAXSEQ, 1);
    ack *acks = malloc(sizeof(ack) * MAXSEQ);
    unsigned seed = (unsigned)time(NULL);
    uint64_t total_acked = 0, total_lost = 0;

    srand(seed);
    printf("crash seed %u\n", seed);
    for (int round = 0; round < rounds; round++) {
        char *dir = wc_test_tmpdir("crash");
        int pfd[2];
        pid_t pid;
        size_t nacks = 0, got;
        int status;
        uint32_t last_ms = 0;

        assert_int_equal(pipe(pfd), 0);
        fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20); /* the parent reads only after the kill */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            run_child(dir, mode, pfd[1]);
        }
        close(pfd[1]);
        usleep(20000 + (useconds_t)(rand() % 180000));
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status)); /* it was writing, not failing */
        while ((got = read(pfd[0], &acks[nacks], sizeof(ack))) == sizeof(ack))
            nacks++;
        close(pfd[0]);
        memset(present, 0, MAXSEQ);
        read_back(dir, present);
        for (size_t i = 0; i < nacks; i++)
            if (acks[i].ms > last_ms)
                last_ms = acks[i].ms;
        for (size_t i = 0; i < nacks; i++) {
            if (present[acks[i].seq])
                continue;
            total_lost++;
            if (mode == WC_SYNC_BATCH)
                fail_msg("round %d: acknowledged write %u lost in batch mode", round,
                         acks[i].seq);
            if (last_ms - acks[i].ms > window_ms)
                fail_msg("round %d: write %u acknowledged %u ms before the kill was lost", round,
                         acks[i].seq, last_ms - acks[i].ms);
        }
        total_acked += nacks;
        wc_test_rmrf(dir);
        free(dir);
    }
    printf("%s mode: %d kills, %llu acknowledged writes, %llu lost\n",
           mode == WC_SYNC_BATCH ? "batch" : "periodic", rounds,
           (unsigned long long)total_acked, (unsigned long long)total_lost);
    assert_true(total_acked > 0);
    free(present);
    free(acks);
}

static void test_batch_mode_loses_nothing(void **state)
{
    crash_rounds(WC_SYNC_BATCH, 25, 0);
}

static void test_periodic_mode_window(void **state)
{
    /* period 10 ms: allow the period, the write in flight and scheduling slack */
    crash_rounds(WC_SYNC_PERIODIC, 15, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_mode_loses_nothing),
        cmocka_unit_test(test_periodic_mode_window),
    };
    return cmocka_run_group_tests_name("engine_crash", tests, NULL, NULL);
}
