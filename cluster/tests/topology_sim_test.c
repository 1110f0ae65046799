/*
 * topology_sim_test.c - bootstrap and decommission at scale in the simulator: whole cluster
 * runtimes (cluster.h: gossip, the choice of tokens, bootstrap streaming,
 * pending writes, the coordinator) on simulated nodes (sim.h) over model
 * stores (model_store.h) that survive crashes, with their state files,
 * stream progress files, hints and batchlog in a real temporary directory
 * per node.
 *
 * - A cluster of three seeds grows to 24 nodes under 5% message loss while
 *   writes at QUORUM go on through random normal nodes; new nodes are
 *   started three at a time (the cluster makes them join one after the
 *   other: never two bootstraps streaming at once); a bootstrapping node is crashed mid-stream and restarted (it
 *   resumes from its progress file), and a node a later bootstrap streams
 *   from is crashed mid-stream and restarted.  At the end every node is
 *   normal in every node's ring with all its tokens, every acknowledged
 *   write is on a quorum of its replicas of the final ring and is read
 *   back at QUORUM, and ownership is balanced.
 * - Two nodes that start in the same instant choose their tokens in the
 *   same gossip round (the allocator gives them the same tokens): one of
 *   them gives its tokens up and chooses again after the other's join.
 * - Twenty nodes under 5% message loss and writes at QUORUM: one
 *   decommissions, losing its power mid-stream (it resumes after its
 *   restart) while a new owner also crashes mid-pull; then a dead node is
 *   removed.  No acknowledged write is lost and ownership stays balanced.
 * - A leaving node hands its batchlog entries and its hints for a down
 *   node over before it leaves: the down node gets every write it missed.
 * - Replacing a dead node (replace_address) under QUORUM writes and 2%
 *   message loss: a node is crashed, its files and store wiped, and it
 *   starts again at its own address as the replacement.  Meanwhile the
 *   others keep the dead node's host id in their rings, show the address
 *   joining and never read from it at ONE (the dead node is down although
 *   its address is up); at the end the address has a new host id with the same
 *   tokens, and the replacement holds every acknowledged write it
 *   replicates (it streamed them, or got them as a pending replica).
 * - A replacement at another address takes a dead node's tokens, and the
 *   dead node shows as left (it leaves every ring; restarted, it takes no
 *   part any more); a replacement of a live node or of an unknown address
 *   is refused and stays out of every ring.
 *
 * Each test prints its seed; WC_SIM_SEED replays it, WC_SIM_VERBOSE prints
 * every node's log lines with the virtual time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batchlog.h"
#include "cluster.h"
#include "faultfs.h"
#include "gossip.h"
#include "keys.h"
#include "model_store.h"
#include "protocol.h"
#include "sim.h"
#include "simtest.h"

#define TABLE 7
#define RF 3
#define NUM_TOKENS 16
#define NSEEDS 3
#define MAX_NODES 48
#define MAX_WRITES 20000
#define PAGE_ROWS 40 /* small pages: every bootstrap streams several */
#define TS(n) (1767225600000000LL + (int64_t)(n))

typedef struct topo topo;

typedef struct tnode {
    topo *t;
    uint32_t idx;
    wc_env *env;
    wc_cluster *c; /* NULL: not started, or crashed */
    model_store *store;
    wc_faultfs *ff; /* NULL: its files on the real file system; else on this (power loss) */
    char dir[512];
    bool started;  /* started once: a restart starts it again */
    bool gone;     /* decommissioned or removed: out of the ring for good */
    bool normal;   /* normal in its own view (t_refresh) */
    uint32_t finished; /* "bootstrap finished" lines */
    uint32_t chose;    /* "chose N tokens" lines */
    uint32_t gave_up;  /* tokens given up */
    uint32_t refused;  /* "replace_address refused" lines */
    bool has_replace;  /* started with replace_address */
    wc_addr replace;
} tnode;

typedef struct twrite {
    bool started, done;
    wc_status st;
    uint64_t at_ms; /* when it started */
    uint32_t coord; /* the node that coordinated it */
} twrite;

struct topo {
    uint64_t seed;
    wc_sim *sim;
    uint32_t n;
    tnode nodes[MAX_NODES];
    uint32_t nseeds;      /* the first nodes are the seeds */
    wc_addr seeds[MAX_NODES];
    uint32_t num_tokens;
    uint32_t page_rows;
    uint32_t hint_ttl;    /* seconds a hint lives; 0: no hints */
    int32_t slow_replay;  /* this node replays its batchlog after an hour only (-1: none) */
    char base[400];
    twrite *w;
    uint32_t nw;
    bool writing;
    uint64_t rs;          /* the test's own random stream */
    uint32_t resumed;     /* "resuming" lines of streaming */
    uint32_t gave_up;     /* tokens given up after a collision */
    uint32_t max_streaming; /* most nodes seen pulling a bootstrap at once */
};

static uint64_t t_rand(topo *t)
{
    uint64_t z = (t->rs += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---------------------------------------------------------------- logs */

static void t_sim_log(void *ctx, wc_env *env, wc_env_log_level level, const char *msg)
{
    topo *t = ctx;

    (void)level;
    if (strstr(msg, "resuming") != NULL)
        t->resumed++;
    if (getenv("WC_SIM_VERBOSE"))
        fprintf(stderr, "[%" PRIu64 "] n%zu %s\n", wc_sim_now(t->sim), wc_sim_node_index(env),
                msg);
}

static void t_log(void *arg, int level, const char *msg)
{
    tnode *n = arg;

    (void)level;
    if (strstr(msg, "bootstrap finished") != NULL)
        n->finished++;
    if (strstr(msg, "chose") != NULL)
        n->chose++;
    if (strstr(msg, "replace_address refused") != NULL)
        n->refused++;
    if (strstr(msg, "gives its tokens up") != NULL) {
        n->gave_up++;
        n->t->gave_up++;
    }
    if (getenv("WC_SIM_VERBOSE"))
        fprintf(stderr, "[%" PRIu64 "] n%u %s\n", wc_sim_now(n->t->sim), n->idx, msg);
}

/* ---------------------------------------------------------------- the local side */

static wc_status t_store_open(void *ctx, wc_env *env, wc_replica_store *out)
{
    tnode *n = ctx;

    (void)env;
    *out = model_store_iface(n->store);
    return WC_OK;
}

static void t_store_close(void *ctx)
{
    tnode *n = ctx;

    model_store_drop_pending(n->store);
}

static wc_status t_replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    out->cls = WC_REPL_SIMPLE;
    out->replication_factor = RF;
    return table_id == TABLE ? WC_OK : wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
}

static uint32_t t_hint_ttl(void *ctx, uint32_t table_id)
{
    tnode *n = ctx;

    (void)table_id;
    return n->t->hint_ttl; /* 0 unless a test is about hints: durability must not depend on them */
}

static void t_applied(void *arg, wc_status st) { *(wc_status *)arg = st; }

static wc_status t_apply(void *ctx, const uint8_t *batch, size_t len)
{
    tnode *n = ctx;
    wc_replica_store s = model_store_iface(n->store);
    wc_status st = WC_IO_ERROR;

    s.ops->apply(s.ctx, batch, len, t_applied, &st); /* synchronous */
    return st;
}

static wc_status t_list_tables(void *ctx, uint32_t **ids, size_t *n)
{
    (void)ctx;
    if ((*ids = wc_malloc(sizeof(**ids))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory");
    (*ids)[0] = TABLE;
    *n = 1;
    return WC_OK;
}

/* ---------------------------------------------------------------- nodes */

static void t_start(tnode *n)
{
    topo *t = n->t;
    wc_cluster_options o;
    wc_status st;

    memset(&o, 0, sizeof(o));
    o.data_dir = n->dir;
    o.listen = n->env->self;
    o.seeds = t->seeds;
    o.nseeds = t->nseeds;
    o.cluster_name = "sim";
    o.dc = "dc1";
    o.rack = "r1";
    o.num_tokens = t->num_tokens;
    o.hinted_handoff = t->hint_ttl > 0;
    o.log = t_log;
    o.log_arg = n;
    o.local = (wc_cluster_local){t_store_open, t_store_close, t_replication, t_hint_ttl, t_apply,
                                 n};
    o.local.stream_codec = model_store_stream_codec(n->store, TABLE);
    o.local.list_tables = t_list_tables;
    o.env = n->env;
    o.fs = n->ff ? wc_faultfs_fs(n->ff) : NULL;
    o.stream_page_rows = t->page_rows;
    o.replace_address = n->has_replace ? &n->replace : NULL;
    st = wc_cluster_start(&o, &n->c);
    SIM_CHECK(t->seed, st == WC_OK, "node %u does not start: %s", n->idx, wc_last_error());
    if ((int32_t)n->idx == t->slow_replay)
        wc_cluster_set_batchlog_replay(n->c, 3600u * 1000u);
    n->started = true;
}

static void t_on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    topo *t = ctx;
    tnode *n = &t->nodes[wc_sim_node_index(env)];

    if (ev == WC_SIM_NODE_CRASHED) {
        wc_cluster_stop(n->c); /* announces nothing: the node is down */
        n->c = NULL;
        n->normal = false;
    } else if (n->started)
        t_start(n);
}

static tnode *t_add(topo *t)
{
    tnode *n = &t->nodes[t->n];
    wc_addr a;

    assert_true(t->n < MAX_NODES);
    memset(&a, 0, sizeof(a));
    snprintf(a.host, sizeof(a.host), "10.3.%u.%u", t->n / 200, t->n % 200 + 1);
    a.port = 7000;
    n->t = t;
    n->idx = t->n;
    n->env = wc_sim_add_node(t->sim, &a);
    assert_non_null(n->env);
    n->store = model_store_new();
    snprintf(n->dir, sizeof(n->dir), "%s/n%u", t->base, t->n);
    assert_int_equal(mkdir(n->dir, 0700), 0);
    if (t->n < t->nseeds)
        t->seeds[t->n] = a;
    t->n++;
    return n;
}

/* A simulation whose first nseeds nodes are seeds (added here) with num_tokens each. */
static topo *t_new_n(uint64_t dflt, double loss, uint32_t nseeds, uint32_t num_tokens)
{
    topo *t = calloc(1, sizeof(*t));
    wc_sim_options so;
    char cmd[1000];
    const char *tmp = getenv("WC_TEST_TMP");

    t->seed = simtest_seed(dflt);
    t->rs = t->seed ^ 0x70b0;
    t->nseeds = nseeds;
    t->num_tokens = num_tokens;
    t->page_rows = PAGE_ROWS;
    t->slow_replay = -1;
    printf("seed=%" PRIu64 "\n", t->seed);
    /*
     * The nodes write their state and progress files with fsync, a few
     * thousand times: in RAM (/dev/shm) when there is one, which this test
     * about cluster logic does not need to reach a disk.
     */
    if (access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm";
    snprintf(t->base, sizeof(t->base), "%s/topology_sim_test.%d", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", t->base, t->base);
    assert_int_equal(system(cmd), 0);
    t->w = calloc(MAX_WRITES, sizeof(*t->w));
    wc_sim_options_default(&so);
    so.loss = loss;
    so.on_node = t_on_node;
    so.log = t_sim_log;
    so.ctx = t;
    assert_int_equal(wc_sim_create(t->seed, &so, &t->sim), WC_OK);
    /* the addresses of the seeds are known before they start */
    for (uint32_t i = 0; i < nseeds; i++)
        t_add(t);
    return t;
}

static topo *t_new(uint64_t dflt, double loss) { return t_new_n(dflt, loss, NSEEDS, NUM_TOKENS); }

static void t_free(topo *t)
{
    char cmd[1000];

    for (uint32_t i = 0; i < t->n; i++) {
        if (t->nodes[i].c)
            wc_sim_crash(t->sim, t->nodes[i].env); /* stops it */
        model_store_free(t->nodes[i].store);
        if (t->nodes[i].ff)
            wc_faultfs_free(t->nodes[i].ff);
    }
    wc_sim_destroy(t->sim);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->base);
    (void)system(cmd);
    free(t->w);
    free(t);
}

/* n's own STATUS, as its MEMBERS view says (UNKNOWN when not running). */
static wc_gossip_status t_status(tnode *n)
{
    wc_gossip_status s = WC_GOSSIP_STATUS_UNKNOWN;
    wc_proto_members m;
    wc_buf b;

    if (n->c == NULL)
        return s;
    wc_buf_init(&b);
    wc_cluster_members(n->c, &b);
    if (wc_proto_get_members(b.data, b.len, &m) == WC_OK) {
        for (size_t i = 0; i < m.n; i++)
            if (m.members[i].local)
                s = (wc_gossip_status)m.members[i].status;
        wc_proto_members_free(&m);
    }
    wc_buf_free(&b);
    return s;
}

/*
 * Whether n pulls a session whose name starts with prefix ("bootstrap",
 * "leave") now; its first such session's peer into *peer.
 */
static bool t_pulling_as(tnode *n, const char *prefix, wc_addr *peer, uint64_t *rows)
{
    wc_proto_stream *s = NULL;
    size_t ns = 0;
    wc_buf b;
    bool yes = false;

    if (n->c == NULL)
        return false;
    wc_buf_init(&b);
    wc_cluster_streams(n->c, &b);
    if (wc_proto_get_streams(b.data, b.len, &s, &ns) == WC_OK) {
        for (size_t i = 0; i < ns && !yes; i++)
            if (s[i].incoming && strcmp(s[i].state, "streaming") == 0 &&
                strncmp(s[i].name, prefix, strlen(prefix)) == 0) {
                yes = true;
                if (rows)
                    *rows = s[i].rows;
                if (peer)
                    (void)wc_addr_parse(s[i].peer, peer);
            }
        wc_free(s);
    }
    wc_buf_free(&b);
    return yes;
}

static bool t_pulling(tnode *n, wc_addr *peer, uint64_t *rows)
{
    return t_pulling_as(n, "bootstrap", peer, rows);
}

static tnode *t_by_addr(topo *t, const wc_addr *a)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (wc_addr_equal(&t->nodes[i].env->self, a))
            return &t->nodes[i];
    return NULL;
}

/* Note which nodes are normal, and how many pull a bootstrap at once. */
static void t_refresh(topo *t)
{
    uint32_t pulling = 0;

    for (uint32_t i = 0; i < t->n; i++) {
        t->nodes[i].normal = t_status(&t->nodes[i]) == WC_GOSSIP_STATUS_NORMAL;
        pulling += t_pulling(&t->nodes[i], NULL, NULL);
    }
    if (pulling > t->max_streaming)
        t->max_streaming = pulling;
}

/* ---------------------------------------------------------------- writes */

static void t_write_done(void *arg, const wc_coord_result *res)
{
    twrite *w = arg;

    w->done = true;
    w->st = res->status;
}

/* Write (k<i>, "c") = k<i> at QUORUM through n's coordinator, noted in t->w[i]. */
static void t_write_key(topo *t, tnode *n, wc_coord *coord, uint32_t i, uint32_t timeout_ms)
{
    char pk[24];
    wc_buf rec;

    snprintf(pk, sizeof(pk), "k%u", i);
    wc_buf_init(&rec);
    model_batch_one(&rec, TABLE, pk, "c", pk, TS(i));
    t->w[i].started = true;
    t->w[i].at_ms = wc_sim_now(t->sim);
    t->w[i].coord = n->idx;
    if (i >= t->nw)
        t->nw = i + 1;
    wc_coord_write(coord, TABLE, rec.data, rec.len, WC_CL_QUORUM, timeout_ms, t_write_done,
                   &t->w[i]);
    wc_buf_free(&rec);
}

/* One write at QUORUM of key k<i> through a random normal node. */
static void t_write_one(topo *t)
{
    tnode *n = &t->nodes[t_rand(t) % t->n];
    wc_coord *coord;
    uint32_t i = t->nw;

    if (i >= MAX_WRITES || !n->normal || n->c == NULL ||
        (coord = wc_cluster_coordinator(n->c)) == NULL)
        return;
    t_write_key(t, n, coord, i, 2000);
}

/* Run for ms of virtual time, a write every 20 ms while writing, the views every 200 ms. */
static void t_run(topo *t, uint64_t ms)
{
    for (uint64_t done = 0; done < ms; done += 20) {
        if (t->writing)
            t_write_one(t);
        wc_sim_run_for(t->sim, 20);
        if (done % 200 == 0)
            t_refresh(t);
    }
}

/* Every started node's ring holds every started node with all its tokens (the gone ones aside). */
static bool t_converged(topo *t)
{
    uint32_t started = 0;

    for (uint32_t i = 0; i < t->n; i++)
        started += t->nodes[i].started && !t->nodes[i].gone;
    for (uint32_t i = 0; i < t->n; i++) {
        tnode *n = &t->nodes[i];
        wc_ring *r;
        bool ok;

        if (!n->started || n->gone)
            continue;
        if (n->c == NULL || !n->normal)
            return false;
        r = wc_cluster_ring(n->c);
        ok = r && wc_ring_host_count(r) == started &&
             wc_ring_token_count(r) == (size_t)started * t->num_tokens;
        wc_ring_unref(r);
        if (!ok)
            return false;
    }
    return true;
}

/* Run until t_converged (checked every second), at most limit_ms. */
static void t_run_until_converged(topo *t, uint64_t limit_ms)
{
    for (uint64_t waited = 0; !t_converged(t); waited += 1000) {
        SIM_CHECK(t->seed, waited < limit_ms, "the cluster did not converge in %" PRIu64 " s",
                  limit_ms / 1000);
        t_run(t, 1000);
    }
}

/*
 * Step the simulation until some node pulls a bootstrap with at least
 * min_rows rows streamed (at most limit_ms); that node, or NULL.
 */
static tnode *t_run_until_pulling_as(topo *t, const char *prefix, uint64_t min_rows,
                                     uint64_t limit_ms, wc_addr *peer)
{
    uint64_t end = wc_sim_now(t->sim) + limit_ms;

    while (wc_sim_now(t->sim) < end) {
        for (uint32_t i = 0; i < t->n; i++) {
            uint64_t rows = 0;

            if (t_pulling_as(&t->nodes[i], prefix, peer, &rows) && rows >= min_rows)
                return &t->nodes[i];
        }
        t_run(t, 20);
    }
    return NULL;
}

static tnode *t_run_until_pulling(topo *t, uint64_t min_rows, uint64_t limit_ms, wc_addr *peer)
{
    return t_run_until_pulling_as(t, "bootstrap", min_rows, limit_ms, peer);
}

/* ---------------------------------------------------------------- checks */

/* How many replicas of pk in ring r hold (pk, "c") = pk. */
static uint32_t t_holders(topo *t, wc_ring *r, const char *pk)
{
    wc_replication repl;
    uint32_t reps[RF], held = 0;
    size_t nr = 0;
    const uint8_t *blob;
    size_t len;

    (void)t_replication(NULL, TABLE, &repl);
    if (wc_ring_replicas(r, &repl, wc_token(pk, strlen(pk)), reps, RF, &nr) != WC_OK)
        return 0;
    for (size_t k = 0; k < nr; k++) {
        tnode *n = t_by_addr(t, &wc_ring_host(r, reps[k])->addr);

        held += n && model_store_get(n->store, TABLE, pk, strlen(pk), "c", 1, &blob, &len);
    }
    return held;
}

typedef struct tread {
    bool done;
    wc_status st;
    bool found;
    char pk[24];
} tread;

static void t_read_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    tread *r = arg;
    size_t vlen = 0;
    const uint8_t *v = model_raw_value(data, len, "c", &vlen);

    r->done = true;
    r->st = res->status;
    r->found = v && vlen == strlen(r->pk) && memcmp(v, r->pk, vlen) == 0;
}

/*
 * A read of pk at cl through node i: whether it returns the written value;
 * *answered: it ended WC_OK (found or not).
 */
static bool t_read(topo *t, uint32_t i, const char *pk, wc_consistency cl, bool *answered)
{
    wc_store_read r;
    tread k;
    wc_coord *coord = wc_cluster_coordinator(t->nodes[i].c);

    memset(&k, 0, sizeof(k));
    snprintf(k.pk, sizeof(k.pk), "%s", pk);
    memset(&r, 0, sizeof(r));
    r.table_id = TABLE;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    wc_coord_read(coord, &r, cl, 2000, t_read_done, &k);
    for (int ms = 0; !k.done && ms < 5000; ms++)
        wc_sim_run_for(t->sim, 1);
    if (answered)
        *answered = k.done && k.st == WC_OK;
    return k.done && k.st == WC_OK && k.found;
}

static bool t_read_quorum(topo *t, uint32_t i, const char *pk)
{
    return t_read(t, i, pk, WC_CL_QUORUM, NULL);
}

/*
 * Every acknowledged write is on a quorum of its replicas in the final
 * ring of a node that stays and is read back at QUORUM through a random
 * node that stays.
 */
/* The first node that runs and stays in the ring. */
static tnode *t_staying(topo *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->nodes[i].c && !t->nodes[i].gone)
            return &t->nodes[i];
    return NULL;
}

/* A random node that runs and stays in the ring. */
static uint32_t t_random_staying(topo *t)
{
    for (;;) {
        uint32_t i = (uint32_t)(t_rand(t) % t->n);
        if (t->nodes[i].c && !t->nodes[i].gone)
            return i;
    }
}

static void t_check_writes(topo *t)
{
    wc_ring *r = wc_cluster_ring(t_staying(t)->c);
    uint32_t acked = 0, short_ = 0, unread = 0, via;
    char pk[24];

    assert_non_null(r);
    for (uint32_t i = 0; i < t->nw; i++) {
        if (!t->w[i].done || t->w[i].st != WC_OK)
            continue;
        acked++;
        snprintf(pk, sizeof(pk), "k%u", i);
        if (t_holders(t, r, pk) < RF / 2 + 1) {
            if (short_++ < 10)
                printf("  %s (at %" PRIu64 " ms through node %u) is on %u of its %d replicas\n",
                       pk, t->w[i].at_ms, t->w[i].coord, t_holders(t, r, pk), RF);
        }
    }
    /* reads last: a read at QUORUM repairs what it reads */
    for (uint32_t i = 0; i < t->nw; i++) {
        if (!t->w[i].done || t->w[i].st != WC_OK)
            continue;
        snprintf(pk, sizeof(pk), "k%u", i);
        do
            via = t_random_staying(t);
        while (!t->nodes[via].normal);
        if (!t_read_quorum(t, via, pk) && unread++ < 10)
            printf("  %s is not read back at QUORUM\n", pk);
    }
    wc_ring_unref(r);
    printf("topology sim: %u writes, %u acknowledged, %u on fewer than a quorum of replicas, "
           "%u not read back\n",
           t->nw, acked, short_, unread);
    SIM_CHECK(t->seed, acked > t->nw / 2, "only %u of %u writes acknowledged", acked, t->nw);
    SIM_CHECK(t->seed, short_ == 0, "%u acknowledged writes on fewer than a quorum of replicas",
              short_);
    SIM_CHECK(t->seed, unread == 0, "%u acknowledged writes not read back at QUORUM", unread);
}

/*
 * The largest owner over the mean, for the token share and for RF=3
 * effective ownership, in node 0's ring.
 */
static void t_balance(topo *t, double *share, double *eff)
{
    wc_ring *r = wc_cluster_ring(t_staying(t)->c);
    uint32_t nh = wc_ring_host_count(r);
    double *own = calloc(nh, sizeof(*own)), max = 0, sum = 0;
    wc_replication repl;

    (void)t_replication(NULL, TABLE, &repl);
    wc_ring_ownership(r, own);
    for (uint32_t i = 0; i < nh; i++) {
        sum += own[i];
        max = own[i] > max ? own[i] : max;
    }
    *share = max / (sum / nh);
    assert_int_equal(wc_ring_effective_ownership(r, &repl, own), WC_OK);
    max = sum = 0;
    for (uint32_t i = 0; i < nh; i++) {
        sum += own[i];
        max = own[i] > max ? own[i] : max;
    }
    *eff = max / (sum / nh);
    free(own);
    wc_ring_unref(r);
}

/* Start the seeds one at a time (seeds do not bootstrap), each once the ring has the previous. */
static void t_seeds_up(topo *t)
{
    for (uint32_t i = 0; i < t->nseeds; i++) {
        t_start(&t->nodes[i]);
        t_run_until_converged(t, 60000);
    }
}

/* ---------------------------------------------------------------- tests */

static void test_grow_to_24_under_loss(void **state)
{
    topo *t = t_new(61, 0.05);
    tnode *joiner, *source;
    wc_addr peer;
    uint32_t resumed_before;
    double share, eff;

    (void)state;
    t_seeds_up(t);
    t->writing = true;
    t_run(t, 5000);
    /* 21 nodes, three at a time, every 10 s: they queue for their turn */
    for (uint32_t wave = 0; wave < 7; wave++) {
        for (int k = 0; k < 3; k++)
            t_start(t_add(t));
        if (wave == 1) {
            /* a bootstrapping node crashes mid-stream and comes back: it resumes */
            joiner = t_run_until_pulling(t, PAGE_ROWS, 60000, NULL);
            SIM_CHECK(t->seed, joiner != NULL, "no bootstrap streamed");
            resumed_before = t->resumed;
            wc_sim_crash(t->sim, joiner->env);
            t_run(t, 2000);
            wc_sim_restart(t->sim, joiner->env);
            t_run(t, 10000);
            SIM_CHECK(t->seed, t->resumed > resumed_before, "the restarted node did not resume");
        } else if (wave == 3) {
            /* a node a bootstrap streams from crashes mid-stream and comes back */
            joiner = t_run_until_pulling(t, PAGE_ROWS, 60000, &peer);
            SIM_CHECK(t->seed, joiner != NULL, "no bootstrap streamed");
            source = t_by_addr(t, &peer);
            assert_non_null(source);
            wc_sim_crash(t->sim, source->env);
            t_run(t, 3000);
            wc_sim_restart(t->sim, source->env);
            t_run(t, 7000);
        } else
            t_run(t, 10000);
    }
    t_run_until_converged(t, 600000);
    t->writing = false;
    t_run(t, 3000);
    wc_sim_set_loss(t->sim, 0);
    for (uint32_t i = t->nseeds; i < t->n; i++)
        SIM_CHECK(t->seed, t->nodes[i].finished >= 1, "node %u never finished a bootstrap", i);
    t_check_writes(t);
    t_balance(t, &share, &eff);
    printf("topology sim: %u nodes at %" PRIu64 " virtual s, largest owner / mean: tokens %.3f, "
           "RF=3 %.3f; at most %u bootstraps streaming at once\n",
           t->n, wc_sim_now(t->sim) / 1000, share, eff, t->max_streaming);
    /* one join at a time: the waiting nodes go in host id order (sampled every 200 ms) */
    SIM_CHECK(t->seed, t->max_streaming <= 1, "%u bootstraps streamed at once", t->max_streaming);
    /* the allocator's target (docs/benchmarks.md, make bench-ring): 1.3 */
    SIM_CHECK(t->seed, share <= 1.3 && eff <= 1.3, "unbalanced: tokens %.3f, RF=3 %.3f", share,
              eff);
    t_free(t);
}

/*
 * Two nodes choose the same tokens in one gossip round: node a chooses its
 * tokens; before its bootstrap streams, node b starts with a's tokens in
 * its state file and the bootstrap flag (as if it had chosen them in the
 * same round) and a host id below a's.  The ring gives the tokens to b, so
 * a gives its tokens up, waits for b's join and chooses again; both end
 * normal with all their tokens, and no write made meanwhile is lost.
 */
static void test_token_collision_in_one_round(void **state)
{
    topo *t = t_new(62, 0.05);
    tnode *a, *b;
    char path[700], line[8192], text[8400];
    FILE *f;
    bool found = false;

    (void)state;
    t_seeds_up(t);
    t->writing = true;
    t_run(t, 3000);
    a = t_add(t);
    t_start(a);
    while (a->chose == 0)
        t_run(t, 20);
    snprintf(path, sizeof(path), "%s/%s", a->dir, WC_CLUSTER_STATE_FILE);
    assert_non_null(f = fopen(path, "r"));
    while (!found && fgets(line, sizeof(line), f))
        found = strncmp(line, "tokens ", 7) == 0;
    fclose(f);
    assert_true(found);
    b = t_add(t);
    snprintf(text, sizeof(text),
             "widecol-cluster-state 1\nhost_id 00000000000000000000000000000001\n"
             "generation 1\n%sbootstrap 1\n",
             line);
    snprintf(path, sizeof(path), "%s/%s", b->dir, WC_CLUSTER_STATE_FILE);
    assert_non_null(f = fopen(path, "w"));
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    t_start(b);
    t_run_until_converged(t, 300000);
    t->writing = false;
    t_run(t, 3000);
    wc_sim_set_loss(t->sim, 0);
    SIM_CHECK(t->seed, a->gave_up >= 1 && b->gave_up == 0, "node a gave its tokens up %u times, b %u",
              a->gave_up, b->gave_up);
    SIM_CHECK(t->seed, a->chose == 2 && a->finished >= 1 && b->finished >= 1,
              "a chose %u times and finished %u times, b finished %u times", a->chose, a->finished,
              b->finished);
    t_check_writes(t);
    t_free(t);
}


/* ---------------------------------------------------------------- decommission */

/* The end of a decommission or removenode started here. */
typedef struct tchange {
    uint32_t ended;
    wc_status st;
    wc_topology_result res;
    char detail[300];
} tchange;

static void t_change_done(void *arg, wc_status st, const wc_topology_result *res,
                          const char *detail)
{
    tchange *k = arg;

    k->ended++;
    k->st = st;
    k->res = *res;
    snprintf(k->detail, sizeof(k->detail), "%s", detail);
}

/* Run until n's own status is s (checked every 200 ms), at most limit_ms; whether it got there. */
static bool t_run_until_status(topo *t, tnode *n, wc_gossip_status s, uint64_t limit_ms)
{
    for (uint64_t waited = 0; t_status(n) != s; waited += 200) {
        if (waited >= limit_ms)
            return false;
        t_run(t, 200);
    }
    return true;
}

/* Run until observer sees n down (at most limit_ms); whether it did. */
static bool t_run_until_down(topo *t, tnode *observer, tnode *n, uint64_t limit_ms)
{
    for (uint64_t waited = 0; waited < limit_ms; waited += 200) {
        wc_proto_members m;
        wc_buf b;
        bool down = false;
        char a[80];

        wc_addr_format(&n->env->self, a, sizeof(a));
        wc_buf_init(&b);
        wc_cluster_members(observer->c, &b);
        if (wc_proto_get_members(b.data, b.len, &m) == WC_OK) {
            for (size_t i = 0; i < m.n; i++)
                if (strcmp(m.members[i].address, a) == 0)
                    down = !m.members[i].up;
            wc_proto_members_free(&m);
        }
        wc_buf_free(&b);
        if (down)
            return true;
        t_run(t, 200);
    }
    return false;
}

/*
 * Put n's files on a faultfs that loses what was not fsynced when n
 * crashes (t_power_loss); before n starts.
 */
static void t_power_loss_fs(topo *t, tnode *n)
{
    char root[600];

    snprintf(root, sizeof(root), "%s/ff%u", t->base, n->idx);
    assert_int_equal(mkdir(root, 0700), 0);
    n->ff = wc_faultfs_new_power_loss(root);
    assert_non_null(n->ff);
}

/* n loses its power: its files keep only what was fsynced, and it is down. */
static void t_power_loss(topo *t, tnode *n)
{
    wc_faultfs_crash(n->ff);
    wc_sim_crash(t->sim, n->env);
    wc_faultfs_reset(n->ff);
}

/*
 * Once every node's ring agrees, the writes stop, the messages stop being
 * lost and every acknowledged write is checked (t_check_writes).
 */
static void t_settle_and_check(topo *t)
{
    t_run_until_converged(t, 120000);
    t->writing = false;
    t_run(t, 3000);
    wc_sim_set_loss(t->sim, 0);
    t_check_writes(t);
}

/* A burst of n writes, one every virtual millisecond (data for streaming to move). */
static void t_burst(topo *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        t_write_one(t);
        wc_sim_run_for(t->sim, 1);
    }
    t_refresh(t);
}

/*
 * Decommission and removenode at 20 nodes under 5% message loss, writes at
 * QUORUM going on: a node decommissions; it loses its power (its files
 * keep what was fsynced) while a new owner pulls from it and comes back
 * (still "leaving": it resumes by itself, and a
 * second decommission call waits for that one); then a node pulling its
 * ranges crashes mid-stream and comes back (it resumes its pull).  The
 * node ends "left", out of every ring.  Then a node dies for good and is
 * removed.  Every acknowledged write is on a quorum of its replicas of
 * the final ring and is read back at QUORUM; ownership stays balanced.
 */
static void test_decommission_at_scale_under_loss(void **state)
{
    topo *t = t_new_n(63, 0.05, 20, NUM_TOKENS);
    tnode *leaver, *receiver, *dead;
    tchange first = {0}, again = {0}, removal = {0};
    uint8_t dead_id[WC_RING_HOST_ID_LEN];
    double share, eff;

    (void)state;
    t->page_rows = 4; /* a handful of rows per page: every transfer takes several */
    leaver = &t->nodes[7];
    t_power_loss_fs(t, leaver);
    t_seeds_up(t);
    t->writing = true;
    t_burst(t, 3000);
    t_run(t, 2000);
    wc_cluster_decommission_start(leaver->c, t_change_done, &first);
    SIM_CHECK(t->seed, first.ended == 0, "the decommission ended at once: %s", first.detail);
    SIM_CHECK(t->seed, t_status(leaver) == WC_GOSSIP_STATUS_LEAVING, "the node is not leaving");

    /* the leaving node loses its power while a new owner pulls from it, and comes back */
    receiver = t_run_until_pulling_as(t, "leave", t->page_rows, 60000, NULL);
    SIM_CHECK(t->seed, receiver != NULL, "no new owner pulled from the leaving node");
    t_power_loss(t, leaver);
    SIM_CHECK(t->seed, first.ended == 1 && first.st == WC_UNAVAILABLE,
              "the crash did not end the decommission call (%u, %s)", first.ended,
              wc_status_name(first.st));
    t_run(t, 2000);
    wc_sim_restart(t->sim, leaver->env);
    SIM_CHECK(t->seed, t_status(leaver) == WC_GOSSIP_STATUS_LEAVING,
              "the node forgot it was leaving across its restart");
    wc_cluster_decommission_start(leaver->c, t_change_done, &again); /* waits for the resumed one */
    SIM_CHECK(t->seed, again.ended == 0, "the second decommission call ended at once: %s",
              again.detail);

    /* a new owner crashes mid-pull and comes back */
    receiver = t_run_until_pulling_as(t, "leave", t->page_rows, 60000, NULL);
    if (receiver != NULL) {
        wc_sim_crash(t->sim, receiver->env);
        t_run(t, 3000);
        wc_sim_restart(t->sim, receiver->env);
    } else
        printf("topology sim: the resumed decommission ended before a receiver could crash\n");
    SIM_CHECK(t->seed, t_run_until_status(t, leaver, WC_GOSSIP_STATUS_LEFT, 600000),
              "the node did not leave");
    SIM_CHECK(t->seed, again.ended == 1 && again.st == WC_OK, "the decommission ended %u times: %s (%s)",
              again.ended, wc_status_name(again.st), again.detail);
    SIM_CHECK(t->seed, again.res.ranges > 0 && again.res.targets > 0,
              "the decommission handed over %u ranges to %u nodes", again.res.ranges,
              again.res.targets);
    leaver->gone = true;
    t_settle_and_check(t);

    /*
     * A node dies for good and is removed.  Its ranges come from the
     * survivors, so a write that only it and one other replica got would
     * be left on one (repair's job, as in Cassandra): reads at ALL first
     * put every write on all its replicas.
     */
    for (uint32_t i = 0; i < t->nw; i++) {
        char pk[24];
        snprintf(pk, sizeof(pk), "k%u", i);
        if (t->w[i].done && t->w[i].st == WC_OK)
            SIM_CHECK(t->seed, t_read(t, t_random_staying(t), pk, WC_CL_ALL, NULL),
                      "%s is not read at ALL", pk);
    }
    wc_sim_set_loss(t->sim, 0.05);
    dead = &t->nodes[12];
    wc_cluster_host_id(dead->c, dead_id);
    wc_sim_crash(t->sim, dead->env);
    dead->started = false; /* stays down */
    t->writing = true;
    SIM_CHECK(t->seed, t_run_until_down(t, &t->nodes[0], dead, 60000), "node 0 does not see it down");
    wc_cluster_removenode_start(t->nodes[0].c, dead_id, t_change_done, &removal);
    for (uint64_t waited = 0; removal.ended == 0 && waited < 600000; waited += 200)
        t_run(t, 200);
    SIM_CHECK(t->seed, removal.ended == 1 && removal.st == WC_OK, "removenode: %s (%s)",
              wc_status_name(removal.st), removal.detail);
    dead->gone = true;
    t_settle_and_check(t);
    t_balance(t, &share, &eff);
    printf("topology sim: decommission of 1 and removal of 1 of 20 nodes at %" PRIu64
           " virtual s: %u ranges (%" PRIu64 " rows) handed over, then %u ranges; largest owner / "
           "mean: tokens %.3f, RF=3 %.3f\n",
           wc_sim_now(t->sim) / 1000, again.res.ranges, again.res.rows, removal.res.ranges, share,
           eff);
    SIM_CHECK(t->seed, share <= 1.5 && eff <= 1.5, "unbalanced: tokens %.3f, RF=3 %.3f", share, eff);
    t_free(t);
}

/* Whether the directory dir holds a file whose name ends in suffix. */
static bool t_has_file(const char *dir, const char *suffix)
{
    char cmd[1200];

    snprintf(cmd, sizeof(cmd), "ls '%s' 2>/dev/null | grep -q '%s$'", dir, suffix);
    return system(cmd) == 0;
}

/* A write of (pk, "c") = pk at QUORUM through node n's coordinator. */
static void t_write_via(topo *t, tnode *n, uint32_t i)
{
    wc_coord *coord = wc_cluster_coordinator(n->c);

    assert_non_null(coord);
    assert_true(i < MAX_WRITES);
    t_write_key(t, n, coord, i, 500);
}

/*
 * A node that gains no range when leaver leaves the ring r (one of r's
 * hosts, not leaver), or NULL: its replicas of every range stay the same.
 */
static tnode *t_non_gainer(topo *t, wc_ring *r, tnode *leaver)
{
    uint32_t nh = wc_ring_host_count(r), m = 0;
    wc_ring_member *mem = calloc(nh, sizeof(*mem));
    bool *gains = calloc(nh, sizeof(*gains));
    wc_ring *np = NULL;
    wc_replication repl;
    tnode *pick = NULL;

    (void)t_replication(NULL, TABLE, &repl);
    for (uint32_t h = 0; h < nh; h++)
        if (!wc_addr_equal(&wc_ring_host(r, h)->addr, &leaver->env->self))
            mem[m++] = *wc_ring_host(r, h);
    assert_int_equal(wc_ring_build(mem, m, &np), WC_OK);
    for (size_t i = 0; i < wc_ring_token_count(r); i++) {
        uint32_t before[RF], after[RF];
        size_t nb = 0, na = 0;
        int64_t tok = wc_ring_token_at(r, i);

        assert_int_equal(wc_ring_replicas(r, &repl, tok, before, RF, &nb), WC_OK);
        assert_int_equal(wc_ring_replicas(np, &repl, tok, after, RF, &na), WC_OK);
        for (size_t a = 0; a < na; a++) {
            const wc_ring_member *x = wc_ring_host(np, after[a]);
            bool held = false;
            for (size_t b = 0; b < nb; b++)
                held = held || wc_addr_equal(&wc_ring_host(r, before[b])->addr, &x->addr);
            if (!held)
                gains[wc_ring_find_host(r, x->host_id)] = true;
        }
    }
    for (uint32_t h = 0; h < nh && pick == NULL; h++)
        if (!gains[h] && !wc_addr_equal(&wc_ring_host(r, h)->addr, &leaver->env->self))
            pick = t_by_addr(t, &wc_ring_host(r, h)->addr);
    wc_ring_unref(np);
    free(gains);
    free(mem);
    return pick;
}

/*
 * Of the acknowledged writes k1..k100, how many have node n among their
 * replicas in ring r (into *missed), and how many of those n lacks (returned).
 */
static uint32_t t_missed(topo *t, wc_ring *r, const wc_replication *repl, tnode *n,
                         uint32_t *missed)
{
    uint32_t lacking = 0;

    *missed = 0;
    for (uint32_t i = 1; i <= 100; i++) {
        char pk[24];
        uint32_t reps[RF];
        size_t nr = 0;
        const uint8_t *blob;
        size_t len;

        if (!t->w[i].done || t->w[i].st != WC_OK)
            continue;
        snprintf(pk, sizeof(pk), "k%u", i);
        assert_int_equal(wc_ring_replicas(r, repl, wc_token(pk, strlen(pk)), reps, RF, &nr), WC_OK);
        for (size_t j = 0; j < nr; j++)
            if (wc_addr_equal(&wc_ring_host(r, reps[j])->addr, &n->env->self)) {
                (*missed)++;
                lacking += !model_store_get(n->store, TABLE, pk, strlen(pk), "c", 1, &blob, &len);
            }
    }
    return lacking;
}

/*
 * What only a leaving node holds for others goes to a node that stays
 * before it leaves: its batchlog entries (a batch whose coordinator never
 * confirmed it, on the leaving node's disk) and its hints for a node that
 * is down.  Six nodes with one token each; the leaving node replays its
 * batchlog after an hour only, so it cannot finish the batch itself.  A
 * node that gains no range of the leaving node's goes down after the
 * decommission began, and writes through the leaving node meanwhile leave
 * hints for it.  Once the node left, its batchlog and hints directories
 * hold nothing; the down node comes back and gets every write it missed
 * (from the node the hints were handed to), and the batch is on every one
 * of its replicas.
 */
static void test_decommission_hands_over_hints_and_batchlog(void **state)
{
    topo *t = t_new_n(64, 0.02, 6, 1);
    tnode *leaver = &t->nodes[3], *down;
    tchange k = {0};
    wc_batchlog_dir *bd;
    wc_batchlog_storage bs;
    uint8_t id[WC_BATCHLOG_ID_LEN];
    char dir[700];
    wc_buf rec;
    wc_ring *r;
    uint32_t missed = 0, lacking = 0, bl_held = 0;
    wc_replication repl;

    (void)state;
    t->hint_ttl = 3600;
    t->slow_replay = (int32_t)leaver->idx;
    /* a batch whose coordinator died: only the leaving node holds it */
    snprintf(dir, sizeof(dir), "%s/%s", leaver->dir, WC_CLUSTER_BATCHLOG_DIR);
    assert_int_equal(wc_batchlog_dir_open(dir, NULL, NULL, &bd), WC_OK);
    bs = wc_batchlog_dir_storage(bd);
    memset(id, 0x5a, sizeof(id));
    wc_buf_init(&rec);
    model_batch_one(&rec, TABLE, "bl0", "c", "bl0", TS(0));
    assert_int_equal(bs.put(bs.ctx, id, rec.data, rec.len), WC_OK);
    wc_buf_free(&rec);
    wc_batchlog_dir_close(bd);

    t_seeds_up(t);
    t_run(t, 3000);
    r = wc_cluster_ring(leaver->c);
    down = t_non_gainer(t, r, leaver);
    wc_ring_unref(r);
    SIM_CHECK(t->seed, down != NULL, "every node gains a range of the leaving node");
    wc_cluster_decommission_start(leaver->c, t_change_done, &k);
    SIM_CHECK(t->seed, k.ended == 0, "the decommission ended at once: %s", k.detail);
    wc_sim_crash(t->sim, down->env);
    /* writes through the leaving node while it waits to stream: hints for the down node */
    for (uint32_t i = 1; i <= 100; i++) {
        t_write_via(t, leaver, i);
        wc_sim_run_for(t->sim, 20);
    }
    SIM_CHECK(t->seed, t_run_until_status(t, leaver, WC_GOSSIP_STATUS_LEFT, 120000),
              "the node did not leave: %s", k.detail);
    SIM_CHECK(t->seed, k.ended == 1 && k.st == WC_OK, "decommission: %s (%s)", wc_status_name(k.st),
              k.detail);
    leaver->gone = true;
    snprintf(dir, sizeof(dir), "%s/%s", leaver->dir, WC_CLUSTER_BATCHLOG_DIR);
    SIM_CHECK(t->seed, !t_has_file(dir, ".batch"), "the node left with a batchlog entry");
    snprintf(dir, sizeof(dir), "%s/%s", leaver->dir, WC_CLUSTER_HINTS_DIR);
    SIM_CHECK(t->seed, !t_has_file(dir, ".hints"), "the node left with hints");

    /* the down node comes back: the node that took the hints delivers them */
    wc_sim_restart(t->sim, down->env);
    t_run_until_converged(t, 120000);
    r = wc_cluster_ring(t_staying(t)->c);
    (void)t_replication(NULL, TABLE, &repl);
    for (uint64_t waited = 0; waited < 120000; waited += 1000) {
        if (t_missed(t, r, &repl, down, &missed) == 0 && t_holders(t, r, "bl0") == RF)
            break;
        t_run(t, 1000);
    }
    lacking = t_missed(t, r, &repl, down, &missed);
    bl_held = t_holders(t, r, "bl0");
    wc_ring_unref(r);
    printf("topology sim: %u writes the down node missed, %u of them lacking after its return; "
           "the handed-over batch on %u of %d replicas\n",
           missed, lacking, bl_held, RF);
    SIM_CHECK(t->seed, missed > 0, "no write for the down node went through the leaving node");
    SIM_CHECK(t->seed, lacking == 0, "%u writes never reached the node that was down", lacking);
    SIM_CHECK(t->seed, bl_held == RF, "the batch is on %u of its %d replicas", bl_held, RF);
    t_free(t);
}

/* ---------------------------------------------------------------- replace_address */

/* n's view of the node at a: its status and whether it is up (false: not known). */
static bool t_view(tnode *n, const wc_addr *a, wc_gossip_status *status, bool *up)
{
    wc_proto_members m;
    char want[80];
    bool found = false;
    wc_buf b;

    if (n->c == NULL)
        return false;
    wc_addr_format(a, want, sizeof(want));
    wc_buf_init(&b);
    wc_cluster_members(n->c, &b);
    if (wc_proto_get_members(b.data, b.len, &m) == WC_OK) {
        for (size_t i = 0; i < m.n && !found; i++)
            if (strcmp(m.members[i].address, want) == 0) {
                found = true;
                *status = (wc_gossip_status)m.members[i].status;
                *up = m.members[i].up;
            }
        wc_proto_members_free(&m);
    }
    wc_buf_free(&b);
    return found;
}

/* Run until node i sees the node at a down (at most limit_ms). */
static void t_run_until_addr_down(topo *t, uint32_t i, const wc_addr *a, uint64_t limit_ms)
{
    wc_gossip_status s;
    bool up = true;

    for (uint64_t waited = 0; !t_view(&t->nodes[i], a, &s, &up) || up; waited += 200) {
        SIM_CHECK(t->seed, waited < limit_ms, "node %u does not see the crashed node down", i);
        t_run(t, 200);
    }
}

/* The host id and tokens of the host at a in node i's ring (false: none there). */
static bool t_ring_host(topo *t, uint32_t i, const wc_addr *a, uint8_t id[WC_RING_HOST_ID_LEN],
                        int64_t *tokens, uint32_t *nt)
{
    wc_ring *r = wc_cluster_ring(t->nodes[i].c);
    bool found = false;

    for (uint32_t h = 0; r && h < wc_ring_host_count(r) && !found; h++) {
        const wc_ring_member *m = wc_ring_host(r, h);
        if (!wc_addr_equal(&m->addr, a))
            continue;
        found = true;
        memcpy(id, m->host_id, WC_RING_HOST_ID_LEN);
        memcpy(tokens, m->tokens, m->ntokens * sizeof(int64_t));
        *nt = m->ntokens;
    }
    wc_ring_unref(r);
    return found;
}

/*
 * Reads at ONE through node 0 of up to n acknowledged keys written before
 * write `before` that every replica but the one at dead holds (so any live
 * replica has them): how many are answered without their value (a read
 * lost to message loss is not counted).
 */
static uint32_t t_read_one_misses(topo *t, const wc_addr *dead, uint32_t before, uint32_t n)
{
    wc_ring *r = wc_cluster_ring(t->nodes[0].c);
    wc_replication repl;
    uint32_t misses = 0;
    char pk[24];

    (void)t_replication(NULL, TABLE, &repl);
    for (uint32_t tries = 0; r && n > 0 && tries < 50; tries++) {
        uint32_t i = (uint32_t)(t_rand(t) % before), reps[RF];
        size_t nr = 0;
        bool everywhere = true, dead_replica = false, answered;

        if (!t->w[i].done || t->w[i].st != WC_OK)
            continue;
        snprintf(pk, sizeof(pk), "k%u", i);
        if (wc_ring_replicas(r, &repl, wc_token(pk, strlen(pk)), reps, RF, &nr) != WC_OK)
            continue;
        for (size_t k = 0; k < nr; k++) {
            const wc_ring_member *m = wc_ring_host(r, reps[k]);
            tnode *h = t_by_addr(t, &m->addr);
            const uint8_t *blob;
            size_t len;

            if (wc_addr_equal(&m->addr, dead)) {
                dead_replica = true;
                continue;
            }
            everywhere = everywhere && h &&
                         model_store_get(h->store, TABLE, pk, strlen(pk), "c", 1, &blob, &len);
        }
        if (!everywhere || !dead_replica)
            continue;
        n--;
        if (!t_read(t, 0, pk, WC_CL_ONE, &answered) && answered)
            misses++;
    }
    wc_ring_unref(r);
    return misses;
}

/* Crash n, empty its directory and store (a disk wiped), and have it start as a replacement of a. */
static void t_wipe_as_replacement(topo *t, tnode *n, const wc_addr *a)
{
    char cmd[1200];

    wc_sim_crash(t->sim, n->env);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", n->dir, n->dir);
    assert_int_equal(system(cmd), 0);
    model_store_free(n->store);
    n->store = model_store_new();
    n->has_replace = true;
    n->replace = *a;
    n->finished = n->chose = n->gave_up = 0;
}

/*
 * Every acknowledged write of which the node at a is a replica in node 0's
 * final ring is in that node's store; their count into *held.
 */
static void t_check_replacement_holds(topo *t, tnode *n, uint32_t *held)
{
    wc_ring *r = wc_cluster_ring(t->nodes[0].c);
    wc_replication repl;
    uint32_t missing = 0;
    char pk[24];

    (void)t_replication(NULL, TABLE, &repl);
    *held = 0;
    for (uint32_t i = 0; i < t->nw; i++) {
        uint32_t reps[RF];
        size_t nr = 0;
        const uint8_t *blob;
        size_t len;
        bool mine = false;

        if (!t->w[i].done || t->w[i].st != WC_OK)
            continue;
        snprintf(pk, sizeof(pk), "k%u", i);
        assert_int_equal(wc_ring_replicas(r, &repl, wc_token(pk, strlen(pk)), reps, RF, &nr), WC_OK);
        for (size_t k = 0; k < nr; k++)
            mine = mine || wc_addr_equal(&wc_ring_host(r, reps[k])->addr, &n->env->self);
        if (!mine)
            continue;
        if (model_store_get(n->store, TABLE, pk, strlen(pk), "c", 1, &blob, &len))
            (*held)++;
        else if (missing++ < 10)
            printf("  %s (at %" PRIu64 " ms) is not on the replacement\n", pk, t->w[i].at_ms);
    }
    wc_ring_unref(r);
    SIM_CHECK(t->seed, missing == 0, "%u acknowledged writes missing on the replacement", missing);
}

static void test_replace_same_address_under_writes(void **state)
{
    topo *t = t_new(63, 0.02);
    tnode *victim;
    uint8_t old_id[WC_RING_HOST_ID_LEN], new_id[WC_RING_HOST_ID_LEN];
    int64_t old_tok[NUM_TOKENS], new_tok[NUM_TOKENS];
    uint32_t old_nt = 0, new_nt = 0, held = 0, kept_old = 0, samples = 0, before, misses = 0;
    uint32_t w_first = UINT32_MAX, w_last = 0, w_acked = 0, w_done = 0;
    bool saw_joining = false;

    (void)state;
    t_seeds_up(t);
    for (int k = 0; k < 2; k++) {
        t_start(t_add(t));
        t_run_until_converged(t, 120000);
    }
    victim = &t->nodes[4];
    t->writing = true;
    t_run(t, 3000);
    assert_true(t_ring_host(t, 0, &victim->env->self, old_id, old_tok, &old_nt));
    wc_sim_crash(t->sim, victim->env);
    before = t->nw;
    for (uint32_t i = 0; i < NSEEDS; i++) /* the replacement asks the seeds */
        t_run_until_addr_down(t, i, &victim->env->self, 60000);
    t_run(t, 2000); /* writes for the dead node's ranges meanwhile (on two replicas) */
    t_wipe_as_replacement(t, victim, &victim->env->self);
    wc_sim_restart(t->sim, victim->env);
    /* until the replacement is normal: node 0 shows it joining and keeps the dead host id */
    for (uint64_t waited = 0; t_status(victim) != WC_GOSSIP_STATUS_NORMAL; waited += 200) {
        wc_gossip_status s;
        bool up;
        uint8_t id[WC_RING_HOST_ID_LEN];
        int64_t tok[NUM_TOKENS];
        uint32_t nt;

        SIM_CHECK(t->seed, waited < 300000, "the replacement did not turn normal");
        t_run(t, 200);
        if (t_status(victim) == WC_GOSSIP_STATUS_NORMAL)
            break;
        if (t_view(&t->nodes[0], &victim->env->self, &s, &up) && s == WC_GOSSIP_STATUS_JOINING) {
            saw_joining = true;
            samples++;
            kept_old += t_ring_host(t, 0, &victim->env->self, id, tok, &nt) &&
                        memcmp(id, old_id, sizeof(id)) == 0 && nt == old_nt;
            /* the dead node is down although its address is up: never read from */
            misses += t_read_one_misses(t, &victim->env->self, before, 5);
            if (w_first == UINT32_MAX)
                w_first = t->nw;
            w_last = t->nw;
        }
    }
    t_run_until_converged(t, 120000);
    t->writing = false;
    t_run(t, 3000);
    wc_sim_set_loss(t->sim, 0);
    SIM_CHECK(t->seed, saw_joining, "node 0 never showed the replacement joining");
    /* the replacement acknowledges the writes of its ranges as a pending replica */
    for (uint32_t i = w_first; i < w_last; i++) {
        w_done += t->w[i].done;
        w_acked += t->w[i].done && t->w[i].st == WC_OK;
    }
    printf("replace sim: %u of %u writes acknowledged while the replacement was joining\n",
           w_acked, w_done);
    SIM_CHECK(t->seed, w_done > 100 && w_acked * 10 >= w_done * 8,
              "only %u of %u writes acknowledged while the replacement was joining", w_acked,
              w_done);
    SIM_CHECK(t->seed, misses == 0,
              "%u reads at ONE during the replacement answered without a value every live "
              "replica has",
              misses);
    SIM_CHECK(t->seed, kept_old == samples,
              "node 0's ring lost the dead node's tokens while it was replaced (%u of %u samples)",
              samples - kept_old, samples);
    assert_true(t_ring_host(t, 0, &victim->env->self, new_id, new_tok, &new_nt));
    SIM_CHECK(t->seed, memcmp(new_id, old_id, sizeof(new_id)) != 0,
              "the replacement kept the dead node's host id");
    SIM_CHECK(t->seed, new_nt == old_nt && memcmp(new_tok, old_tok, old_nt * sizeof(int64_t)) == 0,
              "the replacement does not own the dead node's tokens");
    SIM_CHECK(t->seed, victim->finished == 1 && victim->chose == 0,
              "the replacement finished %u bootstraps and chose tokens %u times", victim->finished,
              victim->chose);
    t_check_replacement_holds(t, victim, &held);
    t_check_writes(t);
    printf("replace sim: the replacement holds the %u acknowledged writes it replicates\n", held);
    SIM_CHECK(t->seed, held > 100, "only %u writes on the replacement", held);
    t_free(t);
}

static void test_replace_other_address_and_refusals(void **state)
{
    topo *t = t_new(64, 0.02);
    tnode *victim, *alive_r, *unknown_r, *repl;
    wc_addr nowhere;
    uint8_t old_id[WC_RING_HOST_ID_LEN], id[WC_RING_HOST_ID_LEN];
    int64_t old_tok[NUM_TOKENS], tok[NUM_TOKENS];
    uint32_t old_nt = 0, nt = 0, held = 0;
    wc_gossip_status s;
    bool up;

    (void)state;
    t_seeds_up(t);
    t_start(t_add(t));
    t_run_until_converged(t, 120000);
    victim = &t->nodes[3];
    t->writing = true;
    t_run(t, 2000);
    /* a live node, and an address nobody knows: refused, out of every ring */
    alive_r = t_add(t);
    alive_r->has_replace = true;
    alive_r->replace = victim->env->self;
    t_start(alive_r);
    unknown_r = t_add(t);
    memset(&nowhere, 0, sizeof(nowhere));
    snprintf(nowhere.host, sizeof(nowhere.host), "10.9.9.9");
    nowhere.port = 7000;
    unknown_r->has_replace = true;
    unknown_r->replace = nowhere;
    t_start(unknown_r);
    t_run(t, 5000);
    SIM_CHECK(t->seed, alive_r->refused == 1 && unknown_r->refused == 1,
              "refusals: of a live node %u, of an unknown one %u", alive_r->refused,
              unknown_r->refused);
    for (uint32_t i = 0; i < 4; i++) {
        wc_ring *r = wc_cluster_ring(t->nodes[i].c);
        SIM_CHECK(t->seed, wc_ring_host_count(r) == 4 && !t_view(&t->nodes[i], &alive_r->env->self, &s, &up),
                  "node %u's ring has %u hosts or it knows the refused node", i,
                  wc_ring_host_count(r));
        wc_ring_unref(r);
    }
    SIM_CHECK(t->seed, wc_cluster_coordinator(alive_r->c) != NULL &&
                           t_status(alive_r) != WC_GOSSIP_STATUS_NORMAL,
              "the refused node turned normal");
    wc_sim_crash(t->sim, alive_r->env);
    wc_sim_crash(t->sim, unknown_r->env);
    alive_r->started = unknown_r->started = false;

    /* the victim dies; a fresh node at another address replaces it */
    assert_true(t_ring_host(t, 0, &victim->env->self, old_id, old_tok, &old_nt));
    wc_sim_crash(t->sim, victim->env);
    victim->started = false;
    for (uint32_t i = 0; i < NSEEDS; i++)
        t_run_until_addr_down(t, i, &victim->env->self, 60000);
    repl = t_add(t);
    repl->has_replace = true;
    repl->replace = victim->env->self;
    t_start(repl);
    t_run_until_converged(t, 300000);
    t->writing = false;
    t_run(t, 3000);
    wc_sim_set_loss(t->sim, 0);
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->nodes[i].c == NULL)
            continue;
        SIM_CHECK(t->seed, !t_ring_host(t, i, &victim->env->self, id, tok, &nt),
                  "node %u's ring still holds the dead node", i);
        SIM_CHECK(t->seed, t_view(&t->nodes[i], &victim->env->self, &s, &up) &&
                               s == WC_GOSSIP_STATUS_LEFT,
                  "node %u does not show the replaced node as left", i);
        assert_true(t_ring_host(t, i, &repl->env->self, id, tok, &nt));
        SIM_CHECK(t->seed, nt == old_nt && memcmp(tok, old_tok, nt * sizeof(int64_t)) == 0 &&
                               memcmp(id, old_id, sizeof(id)) != 0,
                  "node %u: the replacement does not own the dead node's tokens", i);
    }
    t_check_replacement_holds(t, repl, &held);
    t_check_writes(t);
    /* the replaced node comes back after all: it finds itself removed and takes no part */
    victim->started = true;
    wc_sim_restart(t->sim, victim->env);
    t_run(t, 10000);
    SIM_CHECK(t->seed, t_status(victim) == WC_GOSSIP_STATUS_LEFT,
              "the replaced node came back as %d", (int)t_status(victim));
    assert_true(t_ring_host(t, 0, &repl->env->self, id, tok, &nt));
    SIM_CHECK(t->seed, !t_ring_host(t, 0, &victim->env->self, id, tok, &nt),
              "the replaced node is back in node 0's ring");
    t_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace_same_address_under_writes),
        cmocka_unit_test(test_replace_other_address_and_refusals),
        cmocka_unit_test(test_token_collision_in_one_round),
        cmocka_unit_test(test_grow_to_24_under_loss),
        cmocka_unit_test(test_decommission_at_scale_under_loss),
        cmocka_unit_test(test_decommission_hands_over_hints_and_batchlog),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
