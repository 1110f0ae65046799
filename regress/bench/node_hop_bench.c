/*
 * node_hop_bench.c - what one request costs between a backend and its node,
 * without PostgreSQL: a node (cluster/node.h) on a temporary directory, one
 * table of PARTS partitions x 10 rows flushed to an SSTable, and THREADS
 * client threads that each send N requests back to back.  It prints the mean
 * microseconds per request of:
 *   engine_read  wc_engine_read of one row, in-process (no transport)
 *   ping         a request that touches nothing (transport alone)
 *   point_read   READ of one row by full key over the transport
 *   apply        APPLY of a one-row batch (a single-row INSERT) over the transport
 * first over the Unix socket, then through the shared-memory ring
 * (ring_ping, ring_point_read; clients spin at most $HOP_SPIN_US, default
 * 0, and node workers $HOP_NODE_SPIN_US, default 0, before sleeping;
 * HOP_SYNC=batch syncs the commit log per write, HOP_WORKERS sets the
 * node's worker threads), as
 * "RESULT hop_<what>_t<threads> us=<mean> cpu_us=<cpu> ops=<n>": us is the
 * wall time per request of one client, cpu_us the CPU time (user + system,
 * clients and node together) per request, which a busy machine disturbs
 * much less than the wall time.  The clients are threads of the node's
 * process, or with HOP_PROCS=1 forked processes (as PostgreSQL backends
 * are: a switch between them and a node thread changes address space).
 *
 * Usage: node_hop_bench [threads...]   (default 1 2 8); N from $HOP_N (20000);
 * HOP_OPS (e.g. "ring_ping ring_point_read") runs only the names it contains.
 *
 * Copyright (c) 2026, widecol developers
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "mutation.h"
#include "node.h"
#include "shmring.h"

#define TABLE 7
#define PARTS 1000
#define ROWS 10

static char g_sock[256];
static wc_node *g_node;
static long g_n = 20000;
static int g_what; /* 0 engine_read, 1 ping, 2 point_read, 3 apply, 4-6: 1-3 on the ring */
static void *g_ring;
static size_t g_ring_size;
static int g_spin_us;

static int g_procs; /* clients are forked processes */

static double cpu_of(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* CPU time of this process and of its clients that ended. */
static double cpu_us(void)
{
    return cpu_of(RUSAGE_SELF) + cpu_of(RUSAGE_CHILDREN);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
    fprintf(stderr, "node_hop_bench: %s: %s\n", what, wc_last_error());
    exit(1);
}

/* Is name one of the space-separated words of $HOP_OPS (all when unset)? */
static int op_wanted(const char *name)
{
    const char *ops = getenv("HOP_OPS"), *p;
    size_t n = strlen(name);

    if (ops == NULL || *ops == '\0')
        return 1;
    for (p = ops; (p = strstr(p, name)) != NULL; p += n)
        if ((p == ops || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
    return 0;
}

static void ck_of(uint64_t k, uint8_t ck[8])
{
    for (int i = 0; i < 8; i++)
        ck[i] = (uint8_t)(k >> (56 - 8 * i));
}

static void make_req(wc_read_request *r, char *pk, uint8_t ck[8], unsigned *seed)
{
    int p = (int)(rand_r(seed) % PARTS);
    uint64_t k = (uint64_t)(rand_r(seed) % ROWS);

    snprintf(pk, 32, "p%d", p);
    ck_of(k, ck);
    memset(r, 0, sizeof(*r));
    r->table_id = TABLE;
    r->pk = (const uint8_t *)pk;
    r->pk_len = strlen(pk);
    r->start.key = ck;
    r->start.len = 8;
    r->start.inclusive = true;
    r->end = r->start;
    r->page_rows = 1;
}

/* A batch of one row of partition pk (clustering key 1000 + i: above the loaded rows). */
static void one_row_batch(wc_buf *rec, const char *pk, uint8_t ck[8], long i)
{
    wc_mutation m;
    wc_rowb *rb;
    const uint8_t *enc;
    size_t len;
    wc_cell cell = {.column = 1, .ts = 2000, .value = (const uint8_t *)"inserted", .len = 8};

    wc_buf_reset(rec);
    wc_batch_begin(rec, 1);
    wc_mutation_init(&m, TABLE, pk, strlen(pk));
    ck_of(1000 + (uint64_t)i, ck);
    rb = wc_mutation_row_begin(&m, false, ck, 8);
    wc_rowb_liveness(rb, 2000, 0, 0);
    wc_rowb_cell(rb, &cell);
    wc_mutation_row_end(&m);
    if (wc_mutation_encode(&m, &enc, &len) != WC_OK)
        die("encode");
    wc_batch_add(rec, enc, len);
    wc_mutation_free(&m);
}

static void *client_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    wc_client *c = NULL;
    wc_buf rec;

    wc_buf_init(&rec);

    if (g_what != 0 && wc_client_connect(g_sock, 10000, &c) != WC_OK)
        die("connect");
    if (g_what >= 4 && wc_client_use_ring(c, g_ring, g_ring_size, g_spin_us) != WC_OK)
        die("ring");
    for (long i = 0; i < g_n; i++) {
        wc_read_request r;
        char pk[32];
        uint8_t ck[8];

        make_req(&r, pk, ck, &seed);
        if (g_what == 0) {
            wc_page *pg;
            if (wc_engine_read(wc_node_engine(g_node), &r, &pg) != WC_OK || pg->nrows != 1)
                die("engine read");
            wc_page_free(pg);
        } else if (g_what == 1 || g_what == 4) {
            if (wc_client_ping(c) != WC_OK)
                die("ping");
        } else if (g_what == 3 || g_what == 6) {
            one_row_batch(&rec, pk, ck, i);
            if (wc_client_apply(c, rec.data, rec.len, WC_CL_ONE) != WC_OK)
                die("apply");
        } else {
            wc_client_page *pg;
            if (wc_client_read(c, &r, WC_CL_ONE, &pg) != WC_OK || pg->nrows != 1)
                die("read");
            wc_client_page_free(pg);
        }
    }
    wc_client_close(c);
    wc_buf_free(&rec);
    return NULL;
}

static void load(void)
{
    wc_client *c;
    wc_table_def d;
    wc_buf rec;

    if (wc_client_connect(g_sock, 10000, &c) != WC_OK)
        die("connect");
    wc_table_def_default(&d);
    d.id = TABLE;
    snprintf(d.name, sizeof(d.name), "hop");
    if (wc_client_create_table(c, &d) != WC_OK)
        die("create table");
    wc_buf_init(&rec);
    wc_batch_begin(&rec, PARTS);
    for (int p = 0; p < PARTS; p++) {
        char pk[32];
        wc_mutation m;
        const uint8_t *enc;
        size_t len;

        snprintf(pk, sizeof(pk), "p%d", p);
        wc_mutation_init(&m, TABLE, pk, strlen(pk));
        for (uint64_t k = 0; k < ROWS; k++) {
            uint8_t ck[8];
            wc_rowb *rb;
            wc_cell cell = {.column = 1, .ts = 1000, .value = (const uint8_t *)"value", .len = 5};

            ck_of(k, ck);
            rb = wc_mutation_row_begin(&m, false, ck, 8);
            wc_rowb_liveness(rb, 1000, 0, 0);
            wc_rowb_cell(rb, &cell);
            wc_mutation_row_end(&m);
        }
        if (wc_mutation_encode(&m, &enc, &len) != WC_OK)
            die("encode");
        wc_batch_add(&rec, enc, len);
        wc_mutation_free(&m);
    }
    if (wc_client_apply(c, rec.data, rec.len, WC_CL_ONE) != WC_OK)
        die("apply");
    wc_buf_free(&rec);
    if (wc_client_flush(c, TABLE) != WC_OK)
        die("flush");
    wc_client_close(c);
}

int main(int argc, char **argv)
{
    static const char *names[] = {"engine_read", "ping",      "point_read",     "apply",
                                  "ring_ping",   "ring_point_read", "ring_apply"};
    char dir[] = "/tmp/wc-hop-XXXXXX", data[300], cmd[400];
    int def_threads[] = {1, 2, 8}, nthreads = 3;
    wc_node_options o;

    if (getenv("HOP_N"))
        g_n = atol(getenv("HOP_N"));
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(g_sock, sizeof(g_sock), "%s/.s.widecol", dir);
    wc_node_options_default(&o);
    o.engine.dir = data;
    o.socket_path = g_sock;
    g_ring_size = wc_shmring_size(300, 64 << 10);
    g_ring = mmap(NULL, g_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_ring == MAP_FAILED || wc_shmring_format(g_ring, g_ring_size, 300, 64 << 10) != WC_OK)
        die("ring");
    o.ring = g_ring;
    o.ring_size = g_ring_size;
    /* HOP_SYNC=batch: every APPLY waits for its commit-log fsync (group commit) */
    if (getenv("HOP_SYNC") && strcmp(getenv("HOP_SYNC"), "batch") == 0)
        o.engine.sync_mode = WC_SYNC_BATCH;
    if (getenv("HOP_WORKERS"))
        o.worker_threads = (uint32_t)atoi(getenv("HOP_WORKERS"));
    if (getenv("HOP_NODE_SPIN_US"))
        o.ring_spin_us = (uint32_t)atoi(getenv("HOP_NODE_SPIN_US"));
    if (getenv("HOP_SPIN_US"))
        g_spin_us = atoi(getenv("HOP_SPIN_US"));
    g_procs = getenv("HOP_PROCS") && atoi(getenv("HOP_PROCS")) != 0;
    if (wc_node_start(&o, &g_node) != WC_OK)
        die("node start");
    load();
    if (argc > 1)
        nthreads = argc - 1;
    for (int w = 0; w < 7; w++)
        for (int a = 0; a < nthreads; a++) {
            int t = argc > 1 ? atoi(argv[a + 1]) : def_threads[a];
            pthread_t th[256];
            double t0, c0, us, cpu;

            if (t < 1 || t > 256)
                continue;
            g_what = w;
            if (g_procs && w == 0)
                continue; /* the engine is this process's */
            if (!op_wanted(names[w]))
                continue;
            t0 = now_us();
            c0 = cpu_us();
            if (g_procs) {
                pid_t pids[256];

                fflush(stdout);
                for (int i = 0; i < t; i++)
                    if ((pids[i] = fork()) == 0) {
                        client_main((void *)(uintptr_t)(i + 1));
                        _exit(0);
                    }
                for (int i = 0; i < t; i++) {
                    int status;
                    if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
                        WEXITSTATUS(status) != 0)
                        die("client process");
                }
            } else {
                for (int i = 0; i < t; i++)
                    pthread_create(&th[i], NULL, client_main, (void *)(uintptr_t)(i + 1));
                for (int i = 0; i < t; i++)
                    pthread_join(th[i], NULL);
            }
            us = (now_us() - t0) / (double)g_n; /* wall time per request of one client */
            cpu = (cpu_us() - c0) / (double)(g_n * t);
            printf("RESULT hop_%s_t%d us=%.2f cpu_us=%.2f ops=%ld\n", names[w], t, us, cpu,
                   g_n * t);
            fflush(stdout);
        }
    wc_node_stop(g_node);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
