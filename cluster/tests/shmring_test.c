/*
 * shmring_test.c - the shared-memory request ring on its own (no node):
 * formatting, many producer threads against two consumer threads (every
 * answer reaches the producer that asked), consumers that sleep long and
 * answer with wc_shmring_answer_next (no request waits for their timeout,
 * also when every core is busy and requests go to their CPU's workers),
 * requests answered on their client's CPU when every core is busy, but not
 * held for that CPU's worker while it serves another nor kept from a worker
 * of another CPU that spins for requests, wake-ups of sleeping consumers
 * and producers, a full ring, a response too large for its slot, a
 * consumer process that dies or stops (the producer gets "unavailable"
 * within its wait slices, no hang), a restarted consumer (clients of the
 * earlier one are refused), and producer processes that die mid-request
 * (the consumer is not held; the slot is reclaimed), and the pending bits
 * of a ring of several words (round-robin, stale bits).  The region is
 * MAP_SHARED anonymous memory, so forked processes share it as PostgreSQL
 * backends share the node's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmring.h"

#define SLOTS 16
#define SLOT_BYTES 4096

typedef struct fx {
    void *mem;
    size_t size;
    wc_shmring *r;
} fx;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    f->size = wc_shmring_size(SLOTS, SLOT_BYTES);
    f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f->mem == MAP_FAILED)
        return -1;
    if (wc_shmring_format(f->mem, f->size, SLOTS, SLOT_BYTES) != WC_OK ||
        wc_shmring_open(f->mem, f->size, &f->r) != WC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    wc_shmring_close(f->r);
    munmap(f->mem, f->size);
    free(f);
    return 0;
}

static void test_format(void **state)
{
    fx *f = *state;
    wc_shmring *r = NULL;
    uint32_t slot;
    uint8_t *junk;

    assert_int_equal(wc_shmring_slots(f->r), SLOTS);
    assert_true(wc_shmring_slot_bytes(f->r) >= SLOT_BYTES);
    assert_int_equal(wc_shmring_format(f->mem, f->size - 1, SLOTS, SLOT_BYTES),
                     WC_INVALID_ARGUMENT);
    assert_int_equal(wc_shmring_format(f->mem, f->size, SLOTS, 16), WC_INVALID_ARGUMENT);
    junk = calloc(1, 4096);
    assert_int_equal(wc_shmring_open(junk, 4096, &r), WC_CORRUPTION);
    assert_null(r);
    free(junk);
    /* a region no node serves has no slot to give */
    assert_int_equal(wc_shmring_claim(f->r, &slot), WC_UNAVAILABLE);
}

/* ---------------------------------------------------------------- threads */

typedef struct server {
    wc_shmring *r;
    atomic_bool stop;
    atomic_long served;
    int spin_us;
    bool bind; /* lazy_server_main: bind to a CPU first */
} server;

/* Answer each request "n" with "n+1" written after the same 4-byte length. */
static void *server_main(void *arg)
{
    server *s = arg;
    uint32_t cursor = 0;

    while (!atomic_load(&s->stop)) {
        uint32_t len;
        int i = wc_shmring_next(s->r, &cursor, 50, s->spin_us, &len);
        uint8_t *b;
        uint64_t v;

        if (i < 0)
            continue;
        b = wc_shmring_buffer(s->r, (uint32_t)i);
        assert_int_equal(len, 12);
        memcpy(&v, b + 4, 8);
        v++;
        memcpy(b + 4, &v, 8);
        wc_shmring_answer(s->r, (uint32_t)i, 12);
        atomic_fetch_add(&s->served, 1);
    }
    return NULL;
}

typedef struct producer {
    wc_shmring *r;
    int n;
    uint64_t base;
    int errors;
    int give_up_ms; /* a request unanswered this long is an error (0: wait forever) */
} producer;

static void *producer_main(void *arg)
{
    producer *p = arg;
    uint32_t slot;

    if (wc_shmring_claim(p->r, &slot) != WC_OK) {
        p->errors++;
        return NULL;
    }
    for (int k = 0; k < p->n; k++) {
        uint8_t *b = wc_shmring_buffer(p->r, slot);
        uint64_t v = p->base + (uint64_t)k, got;
        size_t len = 0;
        wc_status st;

        memset(b, 0, 4);
        memcpy(b + 4, &v, 8);
        if (wc_shmring_submit(p->r, slot, 12) != WC_OK) {
            p->errors++;
            break;
        }
        int64_t t0 = now_ms();

        while ((st = wc_shmring_wait(p->r, slot, 100, 0, &len)) == WC_TIMEOUT &&
               (p->give_up_ms == 0 || now_ms() - t0 < p->give_up_ms))
            ;
        memcpy(&got, b + 4, 8);
        if (st != WC_OK || len != 12 || got != v + 1) {
            p->errors++;
            if (st == WC_TIMEOUT)
                break;
        }
    }
    wc_shmring_release(p->r, slot);
    return NULL;
}

static void run_producers(fx *f, int nprod, int per, int spin_us)
{
    server s = {.r = f->r, .spin_us = spin_us};
    pthread_t srv[2], th[SLOTS];
    producer p[SLOTS];
    uint32_t slot;

    atomic_init(&s.stop, false);
    atomic_init(&s.served, 0);
    for (int i = 0; i < 2; i++)
        pthread_create(&srv[i], NULL, server_main, &s);
    for (int i = 0; i < nprod; i++) {
        p[i] = (producer){.r = f->r, .n = per, .base = (uint64_t)i << 40};
        pthread_create(&th[i], NULL, producer_main, &p[i]);
    }
    for (int i = 0; i < nprod; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].errors, 0);
    }
    atomic_store(&s.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(srv[i], NULL);
    assert_int_equal(atomic_load(&s.served), (long)nprod * per);
    /* every slot came back */
    for (int i = 0; i < SLOTS; i++)
        assert_int_equal(wc_shmring_claim(f->r, &slot), WC_OK);
    assert_int_equal(wc_shmring_busy(f->r), 0);
}

static void test_many_producers(void **state)
{
    fx *f = *state;

    wc_shmring_serve_begin(f->r);
    run_producers(f, SLOTS, 2000, 0);
}

static void test_many_producers_spinning(void **state)
{
    fx *f = *state;

    wc_shmring_serve_begin(f->r);
    run_producers(f, 3, 2000, 20);
}

/*
 * Consumers that sleep up to 10 s and answer with wc_shmring_answer_next
 * (so that submits wake a sleeper only when no consumer is searching):
 * no request may be left waiting for a consumer's timeout, so 1, 2 and 16
 * producers x 3000 requests finish in well under the 10 s one lost
 * wake-up costs.
 */
static void *lazy_server_main(void *arg)
{
    server *s = arg;
    uint32_t cursor = 0, len = 0;
    int i = -1;

    if (s->bind)
        assert_true(wc_shmring_bind_worker(s->r) >= 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2);
    while (!atomic_load(&s->stop)) {
        uint8_t *b;
        uint64_t v;

        if (i < 0) {
            i = wc_shmring_next(s->r, &cursor, 10000, 0, &len);
            continue;
        }
        b = wc_shmring_buffer(s->r, (uint32_t)i);
        memcpy(&v, b + 4, 8);
        v++;
        memcpy(b + 4, &v, 8);
        atomic_fetch_add(&s->served, 1);
        i = wc_shmring_answer_next(s->r, (uint32_t)i, 12, &cursor, 10000, 0, &len);
    }
    if (i >= 0)
        wc_shmring_answer(s->r, (uint32_t)i, 12);
    return NULL;
}

static void no_lost_wakeups(fx *f, bool bind)
{
    server s = {.r = f->r, .bind = bind};
    pthread_t srv[3], th[SLOTS];
    producer p[SLOTS];
    static const int nprod[] = {1, 2, SLOTS};
    long total = 0;
    int errors = 0;
    int64_t t0;

    atomic_init(&s.stop, false);
    atomic_init(&s.served, 0);
    wc_shmring_serve_begin(f->r);
    for (int i = 0; i < 3; i++)
        pthread_create(&srv[i], NULL, lazy_server_main, &s);
    t0 = now_ms();
    /* one producer (nobody else's submit rescues a lost wake-up), two, many */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < nprod[round]; i++) {
            p[i] = (producer){.r = f->r, .n = 3000, .base = (uint64_t)i << 40, .give_up_ms = 2000};
            pthread_create(&th[i], NULL, producer_main, &p[i]);
        }
        for (int i = 0; i < nprod[round]; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < nprod[round]; i++)
            errors += p[i].errors;
        total += nprod[round] * 3000L;
    }
    /* the consumers sleep now: the node stopping wakes them */
    atomic_store(&s.stop, true);
    wc_shmring_serve_end(f->r);
    for (int i = 0; i < 3; i++)
        pthread_join(srv[i], NULL);
    assert_int_equal(errors, 0);
    assert_true(now_ms() - t0 < 8000);
    assert_int_equal(atomic_load(&s.served), total);
}

static void test_no_lost_wakeups(void **state)
{
    no_lost_wakeups(*state, false);
}

/* The same with workers bound to CPUs, each asleep on a doorbell of its own. */
static void test_no_lost_wakeups_bound(void **state)
{
    no_lost_wakeups(*state, true);
}

/* The same when every core is busy: requests go to the workers of their client's CPU. */
static void test_no_lost_wakeups_busy(void **state)
{
    fx *f = *state;

    wc_shmring_assume_busy(f->r, 1);
    no_lost_wakeups(f, true);
    wc_shmring_assume_busy(f->r, -1);
}

/* A bound worker that answers every request with the CPU it runs on. */
typedef struct cpu_server {
    wc_shmring *r;
    atomic_bool stop;
    atomic_int cpu; /* where it is bound, -2 until it is */
    int spin_us;    /* how long the next one started spins for requests */
} cpu_server;

static void *cpu_server_main(void *arg)
{
    cpu_server *s = arg;
    uint32_t cursor = 0, len = 0;
    int i = -1, spin_us = s->spin_us;

    atomic_store(&s->cpu, wc_shmring_bind_worker(s->r));
    while (!atomic_load(&s->stop)) {
        int32_t cpu = sched_getcpu();

        if (i < 0) {
            i = wc_shmring_next(s->r, &cursor, 50, spin_us, &len);
            continue;
        }
        if (wc_shmring_buffer(s->r, (uint32_t)i)[4] == 1)
            usleep(500000); /* a slow request */
        memcpy(wc_shmring_buffer(s->r, (uint32_t)i) + 4, &cpu, sizeof(cpu));
        i = wc_shmring_answer_next(s->r, (uint32_t)i, 8, &cursor, 50, spin_us, &len);
    }
    if (i >= 0)
        wc_shmring_answer(s->r, (uint32_t)i, 8);
    return NULL;
}

/* A client pinned to one CPU: n requests, counting answers from a worker of another CPU. */
typedef struct cpu_client {
    wc_shmring *r;
    int cpu, n, other, errors;
    bool slow;      /* its requests take the worker 500 ms */
    int64_t max_ms; /* the longest wait for an answer */
} cpu_client;

static void *cpu_client_main(void *arg)
{
    cpu_client *c = arg;
    cpu_set_t set;
    uint32_t slot;

    CPU_ZERO(&set);
    CPU_SET(c->cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0 || wc_shmring_claim(c->r, &slot) != WC_OK) {
        c->errors++;
        return NULL;
    }
    for (int k = 0; k < c->n; k++) {
        uint8_t *b = wc_shmring_buffer(c->r, slot);
        int64_t t0 = now_ms();
        size_t len = 0;
        int32_t got = -1;
        wc_status st;

        memset(b, 0, 8);
        b[4] = c->slow;
        if (wc_shmring_submit(c->r, slot, 8) != WC_OK) {
            c->errors++;
            break;
        }
        while ((st = wc_shmring_wait(c->r, slot, 100, 0, &len)) == WC_TIMEOUT &&
               now_ms() - t0 < 2000)
            ;
        if (now_ms() - t0 > c->max_ms)
            c->max_ms = now_ms() - t0;
        if (st != WC_OK || len != 8) {
            c->errors++;
            break;
        }
        memcpy(&got, b + 4, sizeof(got));
        c->other += got != c->cpu;
    }
    wc_shmring_release(c->r, slot);
    return NULL;
}

/*
 * Start two bound cpu_servers on s (every core busy or not), the second
 * spinning spin_us for requests; their CPUs into cpus.
 */
static void cpu_servers_start(fx *f, cpu_server *s, pthread_t srv[2], int busy, int spin_us,
                              int cpus[2])
{
    s->r = f->r;
    atomic_init(&s->stop, false);
    wc_shmring_assume_busy(f->r, busy);
    wc_shmring_serve_begin(f->r);
    for (int i = 0; i < 2; i++) {
        s->spin_us = i == 1 ? spin_us : 0;
        atomic_store(&s->cpu, -2);
        pthread_create(&srv[i], NULL, cpu_server_main, s);
        while (atomic_load(&s->cpu) == -2)
            usleep(1000);
        cpus[i] = atomic_load(&s->cpu);
        assert_true(cpus[i] >= 0);
    }
}

static void cpu_servers_stop(fx *f, cpu_server *s, pthread_t srv[2])
{
    atomic_store(&s->stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(srv[i], NULL);
    wc_shmring_assume_busy(f->r, -1);
}

/*
 * Two clients pinned to two CPUs, a worker bound to each.  With every core
 * busy, each request is answered by the worker of its client's CPU (a
 * worker searching after its answer leaves the other CPU's requests);
 * with a core free either worker may answer.  Returns the answers that
 * came from the other CPU.
 */
static int local_run(fx *f, int busy)
{
    cpu_server s;
    cpu_client c[2];
    pthread_t srv[2], cli[2];
    int other = 0, cpus[2];

    cpu_servers_start(f, &s, srv, busy, 0, cpus);
    for (int i = 0; i < 2; i++) {
        c[i] = (cpu_client){.r = f->r, .cpu = cpus[i], .n = 5000};
        pthread_create(&cli[i], NULL, cpu_client_main, &c[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(cli[i], NULL);
        assert_int_equal(c[i].errors, 0);
        other += c[i].other;
    }
    cpu_servers_stop(f, &s, srv);
    return other;
}

/*
 * A request is not held for a worker of its CPU that is busy with another:
 * while the worker of CPU a serves a slow request, a second client on CPU a
 * is answered by the worker of the other CPU, at once.
 */
static void test_local_worker_busy(void **state)
{
    fx *f = *state;
    cpu_server s;
    cpu_client slow, quick;
    pthread_t srv[2], cli[2];
    cpu_set_t allowed;
    int cpus[2];

    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        skip();
    cpu_servers_start(f, &s, srv, 1, 0, cpus);
    slow = (cpu_client){.r = f->r, .cpu = cpus[0], .n = 1, .slow = true};
    quick = (cpu_client){.r = f->r, .cpu = cpus[0], .n = 1};
    pthread_create(&cli[0], NULL, cpu_client_main, &slow);
    usleep(100000); /* the worker of CPU a serves it now */
    pthread_create(&cli[1], NULL, cpu_client_main, &quick);
    for (int i = 0; i < 2; i++)
        pthread_join(cli[i], NULL);
    cpu_servers_stop(f, &s, srv);
    assert_int_equal(slow.errors + quick.errors, 0);
    assert_int_equal(slow.other, 0);
    assert_int_equal(quick.other, 1);
    assert_true(quick.max_ms < 250);
}

/*
 * A worker spinning for requests (it had a core free when it began) takes
 * a request of another CPU's client at once, even when that client finds
 * every core busy: one client with its worker spinning on the other core
 * keeps that path, rather than waking the worker of its own CPU.
 */
static void test_spinner_takes_request(void **state)
{
    fx *f = *state;
    cpu_server s;
    cpu_client c;
    pthread_t srv[2], cli;
    cpu_set_t allowed;
    wc_shmring *busy;
    int cpus[2];

    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        skip();
    /* the workers see a core free, the client every core busy */
    assert_int_equal(wc_shmring_open(f->mem, f->size, &busy), WC_OK);
    wc_shmring_assume_busy(busy, 1);
    cpu_servers_start(f, &s, srv, 0, 300000, cpus);
    usleep(50000); /* the first worker sleeps, the second spins */
    c = (cpu_client){.r = busy, .cpu = cpus[0], .n = 1};
    pthread_create(&cli, NULL, cpu_client_main, &c);
    pthread_join(cli, NULL);
    cpu_servers_stop(f, &s, srv);
    wc_shmring_close(busy);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.other, 1);
}

static void test_local_requests(void **state)
{
    fx *f = *state;
    cpu_set_t allowed;
    int free_core;

    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        skip();
    free_core = local_run(f, 0);
    print_message("answers from the other CPU: %d of 10000 with a core free\n", free_core);
    assert_int_equal(local_run(f, 1), 0);
}

/* One client on the first worker's CPU, n requests with the machine idle; answers from the other CPU. */
static int idle_run(fx *f, int n)
{
    cpu_server s;
    cpu_client c;
    pthread_t srv[2], cli;
    int cpus[2];

    cpu_servers_start(f, &s, srv, 2, 0, cpus);
    c = (cpu_client){.r = f->r, .cpu = cpus[0], .n = n};
    pthread_create(&cli, NULL, cpu_client_main, &c);
    pthread_join(cli, NULL);
    cpu_servers_stop(f, &s, srv);
    assert_int_equal(c.errors, 0);
    return c.other;
}

/*
 * Nothing runs but one client: its requests wake a worker on the other
 * (idle) CPU and it spins meanwhile; but when clients fsync the commit log
 * (batch mode), where no worker spins between requests, the worker of its
 * own CPU takes every one, as when every core is busy.
 */
static void test_idle_batch_requests_stay(void **state)
{
    fx *f = *state;
    cpu_set_t allowed;
    int periodic;

    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2)
        skip();
    periodic = idle_run(f, 2000);
    print_message("answers from the other CPU: %d of 2000 idle, periodic mode\n", periodic);
    assert_true(periodic > 1000);
    assert_int_equal(wc_shmring_set_commitlog(f->r, "/nonexistent/commitlog"), WC_OK);
    assert_int_equal(idle_run(f, 2000), 0);
    assert_int_equal(wc_shmring_set_commitlog(f->r, NULL), WC_OK);
}

/*
 * Binding pins each worker to one CPU it may run on, the first n workers
 * to n different CPUs; a serve_begin starts the count again.
 */
static void *bind_main(void *arg)
{
    wc_shmring *r = arg;
    cpu_set_t set;
    int cpu = wc_shmring_bind_worker(r);

    if (cpu >= 0) {
        assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
        assert_int_equal(CPU_COUNT(&set), 1);
        assert_true(CPU_ISSET(cpu, &set));
    }
    return (void *)(intptr_t)cpu;
}

static void test_bind_worker(void **state)
{
    fx *f = *state;
    cpu_set_t allowed;
    int n, cpus[4];

    assert_int_equal(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    n = CPU_COUNT(&allowed);
    if (n < 2)
        skip();
    wc_shmring_serve_begin(f->r);
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 2; k++) {
            pthread_t t;
            void *ret;

            pthread_create(&t, NULL, bind_main, f->r);
            pthread_join(t, &ret);
            cpus[k] = (int)(intptr_t)ret;
            assert_true(cpus[k] >= 0 && CPU_ISSET(cpus[k], &allowed));
        }
        assert_int_not_equal(cpus[0], cpus[1]);
        wc_shmring_serve_begin(f->r); /* counts again from the first CPU */
    }
}

/* A consumer asleep for long is woken by a submit, a producer asleep by the answer. */
static void test_wakeups(void **state)
{
    fx *f = *state;
    uint32_t slot, len = 0, cursor = 0;
    size_t rlen = 0;
    int64_t t0;
    pid_t child;
    int status;

    wc_shmring_serve_begin(f->r);
    assert_int_equal(wc_shmring_claim(f->r, &slot), WC_OK);
    child = fork();
    if (child == 0) {
        /* the producer, in another process: submit after the consumer fell asleep */
        uint8_t *b = wc_shmring_buffer(f->r, slot);
        size_t got = 0;

        usleep(200000);
        memcpy(b, "\0\0\0\0ping", 8);
        if (wc_shmring_submit(f->r, slot, 8) != WC_OK)
            _exit(2);
        if (wc_shmring_wait(f->r, slot, 5000, 0, &got) != WC_OK || got != 8 ||
            memcmp(b + 4, "pong", 4) != 0)
            _exit(3);
        _exit(0);
    }
    t0 = now_ms();
    int i = wc_shmring_next(f->r, &cursor, 5000, 0, &len);
    assert_int_equal(i, (int)slot);
    assert_int_equal(len, 8);
    assert_true(now_ms() - t0 < 2500); /* woken by the submit, not by the 5 s timeout */
    usleep(200000);                    /* the producer is asleep by now */
    memcpy(wc_shmring_buffer(f->r, slot) + 4, "pong", 4);
    t0 = now_ms();
    wc_shmring_answer(f->r, slot, 8);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(now_ms() - t0 < 2500);
    (void)rlen;
}

/* A client thread on one CPU: submit 8 bytes in slot and return. */
typedef struct pinned_submit {
    wc_shmring *r;
    uint32_t slot;
    int cpu;
    wc_status st;
} pinned_submit;

static void *pinned_submit_main(void *arg)
{
    pinned_submit *p = arg;
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(p->cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        p->st = WC_IO_ERROR;
        return NULL;
    }
    p->st = wc_shmring_submit(p->r, p->slot, 8);
    return NULL;
}

/*
 * The worker (this thread, on CPU 0) answers a request submitted from CPU
 * cpu and looks for the next one with a spin of 300 ms; milliseconds that
 * took (the next look sleeps 20 ms, no request comes).
 */
static int64_t answer_spin_ms(fx *f, uint32_t slot, int cpu)
{
    pinned_submit p = {.r = f->r, .slot = slot, .cpu = cpu};
    pthread_t t;
    uint32_t cursor = 0, len = 0;
    size_t rlen = 0;
    int64_t t0;

    assert_int_equal(pthread_create(&t, NULL, pinned_submit_main, &p), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(p.st, WC_OK);
    assert_int_equal(wc_shmring_next(f->r, &cursor, 1000, 0, &len), (int)slot);
    t0 = now_ms();
    assert_int_equal(wc_shmring_answer_next(f->r, slot, 8, &cursor, 20, 300000, &len), -1);
    t0 = now_ms() - t0;
    assert_int_equal(wc_shmring_wait(f->r, slot, 100, 0, &rlen), WC_OK);
    return t0;
}

/*
 * A worker does not spin for the next request on the CPU of the client it
 * just answered (the client needs that CPU to read the answer); for a
 * client on another CPU it does, where the machine leaves a CPU free (else
 * nobody spins and the test has nothing to tell: skipped).
 */
static void test_no_spin_on_client_cpu(void **state)
{
    fx *f = *state;
    cpu_set_t old, zero;
    uint32_t slot;
    int64_t other, same;

    if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getaffinity(0, sizeof(old), &old) != 0 ||
        !CPU_ISSET(0, &old) || !CPU_ISSET(1, &old))
        skip();
    CPU_ZERO(&zero);
    CPU_SET(0, &zero);
    assert_int_equal(sched_setaffinity(0, sizeof(zero), &zero), 0);
    wc_shmring_serve_begin(f->r);
    assert_int_equal(wc_shmring_claim(f->r, &slot), WC_OK);
    other = answer_spin_ms(f, slot, 1);
    same = answer_spin_ms(f, slot, 0);
    assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
    if (other < 150) {
        print_message("no spin for a client on another CPU either (busy machine): skipped\n");
        skip();
    }
    assert_true(same < 150);
}

/* Every slot taken: the next claim is refused until one comes back. */
static void test_full_ring(void **state)
{
    fx *f = *state;
    uint32_t slots[SLOTS], extra;

    wc_shmring_serve_begin(f->r);
    for (int i = 0; i < SLOTS; i++)
        assert_int_equal(wc_shmring_claim(f->r, &slots[i]), WC_OK);
    assert_int_equal(wc_shmring_claim(f->r, &extra), WC_OVERLOADED);
    wc_shmring_release(f->r, slots[5]);
    assert_int_equal(wc_shmring_claim(f->r, &extra), WC_OK);
    assert_int_equal(extra, slots[5]);
}

/* A response larger than the slot is announced by size; the request stays. */
static void test_response_too_large(void **state)
{
    fx *f = *state;
    uint32_t slot, cursor = 0, len;
    size_t got = 0;
    uint8_t *b;

    wc_shmring_serve_begin(f->r);
    assert_int_equal(wc_shmring_claim(f->r, &slot), WC_OK);
    b = wc_shmring_buffer(f->r, slot);
    memcpy(b, "\0\0\0\0request", 11);
    assert_int_equal(wc_shmring_submit(f->r, slot, 11), WC_OK);
    assert_int_equal(wc_shmring_next(f->r, &cursor, 1000, 0, &len), (int)slot);
    wc_shmring_answer(f->r, slot, 1u << 20);
    assert_int_equal(wc_shmring_wait(f->r, slot, 1000, 0, &got), WC_OK);
    assert_int_equal(got, 1u << 20);
    assert_memory_equal(b + 4, "request", 7);
    /* the slot is usable again */
    assert_int_equal(wc_shmring_submit(f->r, slot, 11), WC_OK);
}

/* ---------------------------------------------------------------- dying peers */

/*
 * The consumer (the node) is another process that attaches and dies
 * without answering: a producer waiting on its slot hears so within a
 * wait slice, however long it meant to wait.
 */
static void test_consumer_dies(void **state)
{
    fx *f = *state;
    int go[2], ready[2];
    uint32_t slot;
    size_t len = 0;
    wc_status st;
    int64_t t0;
    pid_t child;
    char ch;

    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    child = fork();
    if (child == 0) {
        wc_shmring_serve_begin(f->r);
        (void)!write(ready[1], "r", 1);
        (void)!read(go[0], &ch, 1);
        _exit(0); /* dies with a request pending */
    }
    assert_int_equal(read(ready[0], &ch, 1), 1);
    assert_int_equal(wc_shmring_claim(f->r, &slot), WC_OK);
    memset(wc_shmring_buffer(f->r, slot), 0, 8);
    assert_int_equal(wc_shmring_submit(f->r, slot, 8), WC_OK);
    assert_int_equal(wc_shmring_wait(f->r, slot, 50, 0, &len), WC_TIMEOUT);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(waitpid(child, NULL, 0), child);
    t0 = now_ms();
    do
        st = wc_shmring_wait(f->r, slot, 100, 0, &len);
    while (st == WC_TIMEOUT && now_ms() - t0 < 5000);
    assert_int_equal(st, WC_UNAVAILABLE);
    assert_true(now_ms() - t0 < 1000);
    /* nor can anyone claim a slot of a ring whose node is gone */
    assert_int_equal(wc_shmring_claim(f->r, &slot), WC_UNAVAILABLE);
    close(go[0]);
    close(go[1]);
    close(ready[0]);
    close(ready[1]);
}

/* A node that stops or restarts: its clients are refused, new ones are served. */
static void test_consumer_stops_and_restarts(void **state)
{
    fx *f = *state;
    uint32_t old, fresh, cursor = 0, len;
    size_t got = 0;

    wc_shmring_serve_begin(f->r);
    assert_int_equal(wc_shmring_claim(f->r, &old), WC_OK);
    assert_int_equal(wc_shmring_submit(f->r, old, 8), WC_OK);
    wc_shmring_serve_end(f->r);
    assert_int_equal(wc_shmring_wait(f->r, old, 5000, 0, &got), WC_UNAVAILABLE);
    assert_int_equal(wc_shmring_next(f->r, &cursor, 10, 0, &len), -1);
    wc_shmring_serve_begin(f->r); /* the node restarted */
    assert_int_equal(wc_shmring_submit(f->r, old, 8), WC_UNAVAILABLE);
    assert_int_equal(wc_shmring_claim(f->r, &fresh), WC_OK);
    wc_shmring_release(f->r, old); /* a slot of the earlier node: left alone */
    assert_int_equal(wc_shmring_submit(f->r, fresh, 8), WC_OK);
    assert_int_equal(wc_shmring_next(f->r, &cursor, 1000, 0, &len), (int)fresh);
    wc_shmring_answer(f->r, fresh, 8);
    assert_int_equal(wc_shmring_wait(f->r, fresh, 1000, 0, &got), WC_OK);
}

/*
 * Producers die mid-request: one after submitting (its request is served
 * and answered without anybody waiting), one after giving up on a request
 * being served.  The consumer is never held, and with every other slot
 * taken a new producer gets the dead one's slot.
 */
static void test_producer_dies(void **state)
{
    fx *f = *state;
    uint32_t cursor = 0, len, mine[SLOTS], extra;
    int nmine = 0, i, status;
    pid_t child;
    int64_t t0;

    wc_shmring_serve_begin(f->r);
    child = fork();
    if (child == 0) {
        uint32_t s;
        if (wc_shmring_claim(f->r, &s) != WC_OK || wc_shmring_submit(f->r, s, 8) != WC_OK)
            _exit(2);
        _exit(0); /* dies before the answer */
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    t0 = now_ms();
    i = wc_shmring_next(f->r, &cursor, 1000, 0, &len);
    assert_true(i >= 0);
    wc_shmring_answer(f->r, (uint32_t)i, 8); /* returns at once: nobody waits */
    assert_true(now_ms() - t0 < 1000);

    /* the second one gives up while its request is served, then dies */
    child = fork();
    if (child == 0) {
        uint32_t s;
        size_t got;
        if (wc_shmring_claim(f->r, &s) != WC_OK || wc_shmring_submit(f->r, s, 8) != WC_OK)
            _exit(2);
        usleep(100000);
        if (wc_shmring_wait(f->r, s, 10, 0, &got) != WC_TIMEOUT)
            _exit(3);
        wc_shmring_release(f->r, s);
        _exit(0);
    }
    i = wc_shmring_next(f->r, &cursor, 2000, 0, &len);
    assert_true(i >= 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    wc_shmring_answer(f->r, (uint32_t)i, 8); /* abandoned: the slot becomes free */
    assert_int_equal(wc_shmring_busy(f->r), 1); /* the first one's answer, unread */

    /* every slot: the free ones, then the dead first producer's */
    while (nmine < SLOTS && wc_shmring_claim(f->r, &mine[nmine]) == WC_OK)
        nmine++;
    assert_int_equal(nmine, SLOTS);
    assert_int_equal(wc_shmring_claim(f->r, &extra), WC_OVERLOADED);
    assert_int_equal(wc_shmring_busy(f->r), 0);
}

/*
 * A ring of 150 slots (three words of pending bits): workers find requests
 * in every word, serve them round-robin from their cursor (wrapping past
 * the last slot), and a slot released with its request unserved leaves
 * nothing to serve, nor does it hide the next request in that slot.
 */
static void test_pending_words(void **state)
{
    enum { N = 150 };
    size_t size = wc_shmring_size(N, SLOT_BYTES), got = 0;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    wc_shmring *r = NULL;
    uint32_t slot[N], cursor, len;
    static const uint32_t pick[] = {3, 63, 64, 100, 127, 128, 149};
    const int npick = (int)(sizeof(pick) / sizeof(pick[0]));

    (void)state;
    assert_true(mem != MAP_FAILED);
    assert_int_equal(wc_shmring_format(mem, size, N, SLOT_BYTES), WC_OK);
    assert_int_equal(wc_shmring_open(mem, size, &r), WC_OK);
    wc_shmring_serve_begin(r);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(wc_shmring_claim(r, &slot[i]), WC_OK);
        assert_int_equal(slot[i], i);
    }
    /* requests in all three words; a cursor at 100 serves 100 .. 149, then 3 .. 64 */
    for (int k = 0; k < npick; k++)
        assert_int_equal(wc_shmring_submit(r, pick[k], 8), WC_OK);
    cursor = 100;
    for (int k = 0; k < npick; k++) {
        int i = wc_shmring_next(r, &cursor, 1000, 0, &len);

        assert_int_equal(i, (int)pick[(k + 3) % npick]);
        wc_shmring_answer(r, (uint32_t)i, 8);
        assert_int_equal(wc_shmring_wait(r, (uint32_t)i, 1000, 0, &got), WC_OK);
    }
    assert_int_equal(wc_shmring_next(r, &cursor, 0, 0, &len), -1);
    assert_int_equal(wc_shmring_busy(r), 0);

    /* a request given up before any worker saw it: nothing to serve */
    assert_int_equal(wc_shmring_submit(r, 77, 8), WC_OK);
    wc_shmring_release(r, 77);
    assert_int_equal(wc_shmring_next(r, &cursor, 0, 0, &len), -1);
    assert_int_equal(wc_shmring_busy(r), 0);
    /* the slot's next owner is served as usual */
    assert_int_equal(wc_shmring_claim(r, &slot[0]), WC_OK);
    assert_int_equal(slot[0], 77);
    assert_int_equal(wc_shmring_submit(r, 77, 8), WC_OK);
    assert_int_equal(wc_shmring_next(r, &cursor, 1000, 0, &len), 77);
    wc_shmring_answer(r, 77, 8);
    assert_int_equal(wc_shmring_wait(r, 77, 1000, 0, &got), WC_OK);
    wc_shmring_close(r);
    munmap(mem, size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_producers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_producers_spinning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wakeups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_spin_on_client_cpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_stops_and_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_dies, setup, teardown),
        cmocka_unit_test(test_pending_words),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeups_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeups_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_worker_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_batch_requests_stay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spinner_takes_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_worker, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
