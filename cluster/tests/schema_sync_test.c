/*
 * schema_sync_test.c - the cluster schema in the simulator: a table created
 * on one node of 3 or 10 appears on every node with the same id; ALTER and
 * DROP follow; a node crashed during DDL catches up from its durable copy;
 * a partitioned minority catches up after the heal while an agreement wait
 * names it; concurrent CREATE of one table converges to one definition; two
 * tables that drew the same id are told apart the same way on every node;
 * 5% loss; the same seed replays the same run.  Then the codec: round trip,
 * every truncation, wrong definitions, the schema file.  A failing check
 * prints the seed (WC_SIM_SEED replays it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "schema_def.h"
#include "schema_sync.h"
#include "sim.h"
#include "simtest.h"
#include "view.h"

#define NEVER UINT64_MAX
#define MAXN 10

typedef struct snode {
    wc_env *env;
    wc_gossip *g;
    wc_schema_sync *s;
    wc_buf saved;   /* what on_persist wrote: survives a crash */
    wc_env_ops ops; /* the simulator's, random_u64 overridable */
    const wc_env_ops *sim_ops;
    uint64_t forced_random; /* non-zero: the next random_u64 returns it */
    int clashes, table_changes;
    bool fail_persist; /* on_persist fails, as a full disk would */
} snode;

typedef struct harness {
    uint64_t seed;
    wc_sim *sim;
    snode nodes[MAXN];
    int n;
    wc_addr seed_addr;
    int malformed;
} harness;

static harness *cur; /* for the random override */

static wc_addr addr_of(int i)
{
    wc_addr a;

    memset(&a, 0, sizeof(a));
    snprintf(a.host, sizeof(a.host), "10.2.0.%d", i + 1);
    a.port = 7000;
    return a;
}

/* ---------------------------------------------------------------- node wiring */

static uint64_t forced_random(wc_env *env)
{
    snode *n = &cur->nodes[wc_sim_node_index(env)];
    uint64_t v = n->forced_random;

    if (v != 0) {
        n->forced_random = 0;
        return v;
    }
    return n->sim_ops->random_u64(env);
}

static void dispatch(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    snode *n = ctx;

    if (len > 0 && msg[0] >= WC_MSG_RANGE_SCHEMA && msg[0] <= WC_SCHEMA_MSG_LAST)
        wc_schema_sync_on_message(n->s, from, msg, len);
    else
        wc_gossip_on_message(n->g, from, msg, len);
}

static wc_status l_persist(void *ctx, wc_schema_sync *s)
{
    snode *n = ctx;

    if (n->fail_persist)
        return wc_error(WC_IO_ERROR, "no space left on device (test)");
    wc_buf_reset(&n->saved);
    assert_int_equal(wc_schema_sync_encode(s, &n->saved), WC_OK);
    return WC_OK;
}

static void l_clash(void *ctx, const char *ks, const char *t, uint32_t old_id, uint32_t new_id)
{
    (void)ks;
    (void)t;
    (void)old_id;
    (void)new_id;
    ((snode *)ctx)->clashes++;
}

static void l_table(void *ctx, const wc_schema_table *old, const wc_schema_table *n)
{
    (void)old;
    (void)n;
    ((snode *)ctx)->table_changes++;
}

static void node_start(harness *h, int i)
{
    snode *n = &h->nodes[i];
    wc_gossip_options o;
    wc_schema_sync_listener l = {NULL, l_table, l_clash, l_persist, n};

    wc_gossip_options_default(&o);
    o.cluster_name = "schema test";
    o.seeds = &h->seed_addr;
    o.nseeds = 1;
    assert_int_equal(wc_gossip_create(n->env, &o, &n->g), WC_OK);
    wc_gossip_set_local(n->g, WC_GOSSIP_STATUS, "normal", 6);
    assert_int_equal(wc_schema_sync_create(n->env, n->g, NULL, n->saved.data, n->saved.len, &n->s),
                     WC_OK);
    assert_int_equal(wc_schema_sync_add_listener(n->s, &l), WC_OK);
    n->env->handlers.on_message = dispatch;
    n->env->handlers.ctx = n;
    assert_int_equal(wc_gossip_start(n->g), WC_OK);
}

static void node_stop(snode *n)
{
    wc_schema_sync_destroy(n->s);
    wc_gossip_destroy(n->g);
    n->s = NULL;
    n->g = NULL;
}

static void on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    harness *h = ctx;
    int i = (int)wc_sim_node_index(env);

    if (ev == WC_SIM_NODE_CRASHED)
        node_stop(&h->nodes[i]);
    else
        node_start(h, i);
}

static void on_log(void *ctx, wc_env *env, wc_env_log_level level, const char *msg)
{
    harness *h = ctx;

    (void)level;
    if (strstr(msg, "schema: malformed") != NULL)
        h->malformed++;
    if (getenv("WC_SIM_VERBOSE") != NULL)
        printf("[%llu %s] %s\n", (unsigned long long)wc_sim_now(h->sim), env->self.host, msg);
}

static void h_init(harness *h, uint64_t seed, int n, double loss)
{
    wc_sim_options o;

    memset(h, 0, sizeof(*h));
    cur = h;
    h->seed = seed;
    printf("seed=%llu\n", (unsigned long long)seed);
    wc_sim_options_default(&o);
    o.loss = loss;
    o.on_node = on_node;
    o.log = on_log;
    o.ctx = h;
    assert_int_equal(wc_sim_create(seed, &o, &h->sim), WC_OK);
    h->n = n;
    h->seed_addr = addr_of(0);
    for (int i = 0; i < n; i++) {
        wc_addr a = addr_of(i);
        snode *nd = &h->nodes[i];
        nd->env = wc_sim_add_node(h->sim, &a);
        assert_non_null(nd->env);
        nd->sim_ops = nd->env->ops;
        nd->ops = *nd->env->ops;
        nd->ops.random_u64 = forced_random;
        nd->env->ops = &nd->ops;
        wc_buf_init(&nd->saved);
    }
    for (int i = 0; i < n; i++)
        node_start(h, i);
}

static void h_free(harness *h)
{
    for (int i = 0; i < h->n; i++) {
        if (h->nodes[i].s != NULL)
            node_stop(&h->nodes[i]);
        wc_buf_free(&h->nodes[i].saved);
    }
    wc_sim_destroy(h->sim);
    cur = NULL;
}

/* ---------------------------------------------------------------- schema helpers */

/* A definition of ks.t with default_ttl ttl (distinguishes versions of it). */
static void def_of(wc_buf *out, const char *ks, const char *t, uint32_t ttl)
{
    wc_schema s;
    wc_schema_column cols[2] = {
        {.name = "id", .type = "bigint", .kind = WC_COL_PARTITION, .cell_id = 0},
        {.name = "v", .type = "text", .kind = WC_COL_REGULAR, .cell_id = 1},
    };

    wc_schema_init(&s);
    s.keyspace = ks;
    s.replication_class = "SimpleStrategy";
    s.table = t;
    s.default_ttl = ttl;
    s.ncolumns = 2;
    s.columns = cols;
    wc_buf_init(out);
    assert_int_equal(wc_schema_encode(&s, out), WC_OK);
}

static uint32_t ttl_of(const wc_schema_table *t)
{
    wc_schema s;
    uint32_t r;

    wc_schema_init(&s);
    assert_int_equal(wc_schema_decode(t->definition, t->definition_len, &s), WC_OK);
    assert_int_equal(s.table_id, t->id);
    r = s.default_ttl;
    wc_schema_free(&s);
    return r;
}

static void create_ks(harness *h, int i, const char *ks)
{
    wc_replication r;

    wc_replication_default(&r);
    r.replication_factor = 3;
    assert_int_equal(wc_schema_sync_create_keyspace(h->nodes[i].s, ks, &r, "alice"), WC_OK);
}

static uint32_t create_table(harness *h, int i, const char *ks, const char *t, uint32_t ttl)
{
    wc_buf d;
    uint32_t id = 0;

    def_of(&d, ks, t, ttl);
    assert_int_equal(wc_schema_sync_create_table(h->nodes[i].s, d.data, d.len, &id), WC_OK);
    wc_buf_free(&d);
    return id;
}

static bool same_version(const harness *h, int i, int j)
{
    uint8_t a[WC_SCHEMA_VERSION_BYTES], b[WC_SCHEMA_VERSION_BYTES];

    wc_schema_sync_version(h->nodes[i].s, a);
    wc_schema_sync_version(h->nodes[j].s, b);
    return memcmp(a, b, sizeof(a)) == 0;
}

/* Every running node has the version of the first running one. */
static bool all_same(const harness *h)
{
    int first = -1;

    for (int i = 0; i < h->n; i++) {
        if (h->nodes[i].s == NULL)
            continue;
        if (first < 0)
            first = i;
        else if (!same_version(h, first, i))
            return false;
    }
    return true;
}

/* Every running node has ks.t visible (want) with id (0: any) and the same version. */
static bool all_have(const harness *h, const char *ks, const char *t, bool want, uint32_t id)
{
    for (int i = 0; i < h->n; i++) {
        const wc_schema_table *e;
        if (h->nodes[i].s == NULL)
            continue;
        e = wc_schema_sync_find_table(h->nodes[i].s, ks, t);
        if ((e != NULL) != want || (e != NULL && id != 0 && e->id != id))
            return false;
    }
    return all_same(h);
}

/* Every node knows every other in gossip, and all versions agree. */
static bool settled(const harness *h)
{
    for (int i = 0; i < h->n; i++)
        if (h->nodes[i].s != NULL && (wc_gossip_endpoint_count(h->nodes[i].g) != (size_t)h->n ||
                                      wc_schema_sync_disagreeing(h->nodes[i].s, NULL, 0) != 0))
            return false;
    return all_same(h);
}

/* Runs in 100 ms steps until settled (ks.t present or absent when t != NULL). */
static uint64_t run_until(harness *h, const char *ks, const char *t, bool want, uint32_t id,
                          uint64_t max_ms)
{
    uint64_t start = wc_sim_now(h->sim);

    while (!(t != NULL ? all_have(h, ks, t, want, id) && settled(h) : settled(h))) {
        if (wc_sim_now(h->sim) - start >= max_ms)
            return NEVER;
        wc_sim_run_for(h->sim, 100);
    }
    return wc_sim_now(h->sim) - start;
}

/* ---------------------------------------------------------------- propagation */

static void propagate_n(uint64_t dflt_seed, int n, double loss, uint64_t max_ms)
{
    harness h;
    uint64_t t;
    uint32_t id;
    wc_buf d;

    h_init(&h, simtest_seed(dflt_seed), n, loss);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 60000) != NEVER, "gossip never settled");
    create_ks(&h, 1, "ks");
    id = create_table(&h, 1, "ks", "events", 1);
    SIM_CHECK(h.seed, id != 0, "no id");
    t = wc_sim_now(h.sim);
    while (!all_have(&h, "ks", "events", true, id) && wc_sim_now(h.sim) - t < max_ms)
        wc_sim_run_for(h.sim, 10);
    printf("schema: a new table on all %d nodes in %.2f s\n", n, (wc_sim_now(h.sim) - t) / 1000.0);
    t = run_until(&h, "ks", "events", true, id, max_ms);
    SIM_CHECK(h.seed, t != NEVER, "%d nodes did not agree on a new table in %llu ms", n,
              (unsigned long long)max_ms);
    printf("schema agreement (every node announces the same version): %d nodes in %.1f s%s\n", n,
           t / 1000.0, loss > 0 ? " (5% loss)" : "");
    /* the keyspace came along with its replication and owner */
    for (int i = 0; i < n; i++) {
        const wc_schema_keyspace *k = wc_schema_sync_keyspace(h.nodes[i].s, 0);
        SIM_CHECK(h.seed,
                  k != NULL && strcmp(k->name, "ks") == 0 &&
                      k->replication.replication_factor == 3 && strcmp(k->owner_role, "alice") == 0,
                  "node %d lacks the keyspace", i);
    }
    /* ALTER on another node: same id, new definition everywhere */
    def_of(&d, "ks", "events", 7);
    assert_int_equal(wc_schema_sync_alter_table(h.nodes[n - 1].s, d.data, d.len), WC_OK);
    wc_buf_free(&d);
    t = run_until(&h, "ks", "events", true, id, max_ms);
    SIM_CHECK(h.seed, t != NEVER, "ALTER did not propagate");
    for (int i = 0; i < n; i++)
        SIM_CHECK(h.seed, ttl_of(wc_schema_sync_find_table(h.nodes[i].s, "ks", "events")) == 7,
                  "node %d has the old definition", i);
    printf("schema ALTER agreement: %d nodes in %.1f s\n", n, t / 1000.0);
    /* DROP on a third node */
    assert_int_equal(wc_schema_sync_drop_table(h.nodes[0].s, "ks", "events"), WC_OK);
    t = run_until(&h, "ks", "events", false, 0, max_ms);
    SIM_CHECK(h.seed, t != NEVER, "DROP did not propagate");
    /* the tombstone keeps the id: a new table never takes it */
    SIM_CHECK(h.seed,
              wc_schema_sync_table_count(h.nodes[1].s) == 1 &&
                  wc_schema_sync_table(h.nodes[1].s, 0)->dropped,
              "the tombstone is missing");
    /* DROP KEYSPACE drops its tables */
    create_table(&h, 2, "ks", "other", 1);
    SIM_CHECK(h.seed, run_until(&h, "ks", "other", true, 0, max_ms) != NEVER, "second table");
    assert_int_equal(wc_schema_sync_drop_keyspace(h.nodes[n - 1].s, "ks"), WC_OK);
    SIM_CHECK(h.seed, run_until(&h, "ks", "other", false, 0, max_ms) != NEVER,
              "DROP KEYSPACE did not propagate");
    SIM_CHECK(h.seed, h.malformed == 0, "malformed messages in a clean run");
    h_free(&h);
}

static void test_propagate_3(void **state)
{
    (void)state;
    propagate_n(101, 3, 0, 10000);
}

static void test_propagate_10(void **state)
{
    (void)state;
    propagate_n(102, 10, 0, 10000);
}

static void test_propagate_loss(void **state)
{
    (void)state;
    propagate_n(103, 10, 0.05, 30000);
}

/* A node crashed during DDL comes back with its durable copy and catches up. */
static void test_crash_catch_up(void **state)
{
    harness h;
    wc_env *e4;
    uint32_t id;

    (void)state;
    h_init(&h, simtest_seed(104), 5, 0);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 60000) != NEVER, "gossip never settled");
    create_ks(&h, 0, "ks");
    create_table(&h, 0, "ks", "before", 1);
    SIM_CHECK(h.seed, run_until(&h, "ks", "before", true, 0, 10000) != NEVER, "first table");
    e4 = h.nodes[4].env;
    id = create_table(&h, 0, "ks", "during", 1);
    wc_sim_crash(h.sim, e4); /* the push to it is in flight: dropped */
    assert_int_equal(wc_schema_sync_drop_table(h.nodes[1].s, "ks", "before"), WC_OK);
    wc_sim_run_for(h.sim, 30000);
    wc_sim_restart(h.sim, e4);
    /* the durable copy: it knows the keyspace and the first table at once */
    SIM_CHECK(h.seed, wc_schema_sync_find_table(h.nodes[4].s, "ks", "before") != NULL,
              "the restarted node lost its durable schema");
    SIM_CHECK(h.seed, wc_schema_sync_find_table(h.nodes[4].s, "ks", "during") == NULL,
              "the restarted node knew a table created while it was down");
    SIM_CHECK(h.seed, run_until(&h, "ks", "during", true, id, 20000) != NEVER,
              "the restarted node did not catch up");
    SIM_CHECK(h.seed, wc_schema_sync_find_table(h.nodes[4].s, "ks", "before") == NULL,
              "the restarted node missed the drop");
    h_free(&h);
}

typedef struct wait_result {
    int calls;
    wc_status st;
    size_t n;
    wc_addr first;
} wait_result;

static void on_wait(void *arg, wc_status st, const wc_addr *lag, size_t n)
{
    wait_result *w = arg;

    w->calls++;
    w->st = st;
    w->n = n;
    if (n > 0)
        w->first = lag[0];
}

/* A partitioned node holds agreement up (the wait names it), then catches up after the heal. */
static void test_partition_and_wait(void **state)
{
    harness h;
    int group[5] = {0, 0, 0, 0, 1};
    wait_result w1 = {0}, w2 = {0};
    uint32_t id;

    (void)state;
    h_init(&h, simtest_seed(105), 5, 0);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 60000) != NEVER, "gossip never settled");
    create_ks(&h, 0, "ks");
    assert_int_equal(wc_schema_sync_wait_agreement(h.nodes[0].s, 5000, on_wait, &w1), WC_OK);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 10000) != NEVER, "keyspace");
    SIM_CHECK(h.seed, w1.calls == 1 && w1.st == WC_OK, "the agreement wait did not complete");
    assert_int_equal(wc_sim_partition(h.sim, group, 5), WC_OK);
    id = create_table(&h, 1, "ks", "t", 1);
    assert_int_equal(wc_schema_sync_wait_agreement(h.nodes[1].s, 4000, on_wait, &w2), WC_OK);
    wc_sim_run_for(h.sim, 3900);
    SIM_CHECK(h.seed, w2.calls == 0, "the wait ended early");
    wc_sim_run_for(h.sim, 400);
    SIM_CHECK(h.seed,
              w2.calls == 1 && w2.st == WC_TIMEOUT && w2.n == 1 &&
                  wc_addr_equal(&w2.first, &h.nodes[4].env->self),
              "the wait did not time out naming the partitioned node (calls %d st %d n %zu)",
              w2.calls, w2.st, w2.n);
    wc_sim_run_for(h.sim, 20000);
    SIM_CHECK(h.seed, wc_schema_sync_find_table(h.nodes[4].s, "ks", "t") == NULL,
              "the schema crossed a partition");
    wc_sim_heal(h.sim);
    SIM_CHECK(h.seed, run_until(&h, "ks", "t", true, id, 30000) != NEVER,
              "the minority did not catch up after the heal");
    h_free(&h);
}

/* The same table created on two nodes at once: one definition everywhere. */
static void test_concurrent_create(void **state)
{
    harness h;
    const wc_schema_table *t0;

    (void)state;
    h_init(&h, simtest_seed(106), 5, 0);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 60000) != NEVER, "gossip never settled");
    create_ks(&h, 0, "ks");
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 10000) != NEVER, "keyspace");
    create_table(&h, 0, "ks", "t", 100);
    create_table(&h, 3, "ks", "t", 300);
    SIM_CHECK(h.seed, run_until(&h, "ks", "t", true, 0, 10000) != NEVER, "no convergence");
    t0 = wc_schema_sync_find_table(h.nodes[0].s, "ks", "t");
    for (int i = 1; i < 5; i++) {
        const wc_schema_table *ti = wc_schema_sync_find_table(h.nodes[i].s, "ks", "t");
        SIM_CHECK(h.seed,
                  ti->id == t0->id && ti->definition_len == t0->definition_len &&
                      memcmp(ti->definition, t0->definition, t0->definition_len) == 0,
                  "node %d has another definition", i);
    }
    SIM_CHECK(h.seed, ttl_of(t0) == 100 || ttl_of(t0) == 300, "a definition nobody wrote");
    h_free(&h);
}

/* Create table name of p on node 0 proposing id, the random source forced to draw; its id. */
static uint32_t create_proposing(harness *h, wc_schema *p, const char *name, uint32_t id,
                                 uint64_t draw)
{
    wc_buf d;
    uint32_t got = 0;

    p->table = name;
    p->table_id = id;
    h->nodes[0].forced_random = draw;
    wc_buf_init(&d);
    assert_int_equal(wc_schema_encode(p, &d), WC_OK);
    assert_int_equal(wc_schema_sync_create_table(h->nodes[0].s, d.data, d.len, &got), WC_OK);
    wc_buf_free(&d);
    return got;
}

/* A create keeps the id its definition proposes when the store does not know it. */
static void test_proposed_id(void **state)
{
    harness h;
    wc_buf d;
    uint32_t id = 0;

    (void)state;
    h_init(&h, simtest_seed(108), 1, 0);
    create_ks(&h, 0, "ks");
    def_of(&d, "ks", "a", 1);
    /* def_of leaves table_id 0: a drawn id (random r gives r % WC_USER_TABLE_ID_MAX + 1) */
    h.nodes[0].forced_random = 554;
    assert_int_equal(wc_schema_sync_create_table(h.nodes[0].s, d.data, d.len, &id), WC_OK);
    assert_int_equal(id, 555);
    wc_buf_free(&d);
    /* b proposes 4242: kept */
    {
        wc_schema_column cols[1] = {{.name = "id", .type = "bigint", .kind = WC_COL_PARTITION}};
        wc_schema p;
        wc_schema_init(&p);
        p.keyspace = "ks";
        p.replication_class = "SimpleStrategy";
        p.table = "b";
        p.table_id = 4242;
        p.ncolumns = 1;
        p.columns = cols;
        wc_buf_init(&d);
        assert_int_equal(wc_schema_encode(&p, &d), WC_OK);
        assert_int_equal(wc_schema_sync_create_table(h.nodes[0].s, d.data, d.len, &id), WC_OK);
        assert_int_equal(id, 4242);
        /* dropped and created again: its own tombstone does not take the id away */
        assert_int_equal(wc_schema_sync_drop_table(h.nodes[0].s, "ks", "b"), WC_OK);
        assert_int_equal(wc_schema_sync_create_table(h.nodes[0].s, d.data, d.len, &id), WC_OK);
        assert_int_equal(id, 4242);
        wc_buf_free(&d);
        /* c proposes a's id: it gets a drawn one */
        assert_int_equal(create_proposing(&h, &p, "c", 555, 555), 556);
        /* e proposes one of the node's own ids: it gets a drawn one */
        assert_int_equal(create_proposing(&h, &p, "e", WC_VIEW_LOG_TABLE, 600), 601);
    }
    h_free(&h);
}

static void test_id_clash(void **state)
{
    harness h;
    uint32_t a, b;
    int clashes = 0;

    (void)state;
    h_init(&h, simtest_seed(107), 5, 0);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 60000) != NEVER, "gossip never settled");
    create_ks(&h, 0, "ks");
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 10000) != NEVER, "keyspace");
    /* a random draw r becomes the id r % WC_USER_TABLE_ID_MAX + 1 */
    h.nodes[1].forced_random = 776;
    h.nodes[2].forced_random = 776;
    a = create_table(&h, 1, "ks", "a", 1);
    wc_sim_run_for(h.sim, 0);
    b = create_table(&h, 2, "ks", "b", 1);
    assert_int_equal(a, 777);
    assert_int_equal(b, 777);
    SIM_CHECK(h.seed,
              run_until(&h, "ks", "a", true, 0, 10000) != NEVER &&
                  run_until(&h, "ks", "b", true, 0, 10000) != NEVER,
              "no convergence");
    a = wc_schema_sync_find_table(h.nodes[0].s, "ks", "a")->id;
    b = wc_schema_sync_find_table(h.nodes[0].s, "ks", "b")->id;
    SIM_CHECK(h.seed, a != b && (a == 777 || b == 777), "ids %u and %u after the clash", a, b);
    for (int i = 0; i < 5; i++) {
        SIM_CHECK(h.seed,
                  wc_schema_sync_find_table(h.nodes[i].s, "ks", "a")->id == a &&
                      wc_schema_sync_find_table(h.nodes[i].s, "ks", "b")->id == b,
                  "node %d resolved the clash differently", i);
        ttl_of(wc_schema_sync_find_table(h.nodes[i].s, "ks", "b")); /* definition carries the id */
        clashes += h.nodes[i].clashes;
    }
    SIM_CHECK(h.seed, clashes > 0, "the clash was not reported");
    /* a new create never draws a known id */
    h.nodes[3].forced_random = a - 1;
    SIM_CHECK(h.seed, create_table(&h, 3, "ks", "c", 1) != a, "a known id was drawn again");
    /* ids drawn are those a client may use: never the node's own */
    h.nodes[3].forced_random = WC_USER_TABLE_ID_MAX;
    SIM_CHECK(h.seed, create_table(&h, 3, "ks", "d", 1) == 1, "id %u drawn for %u",
              wc_schema_sync_find_table(h.nodes[3].s, "ks", "d")->id, WC_USER_TABLE_ID_MAX);
    SIM_CHECK(h.seed,
              wc_schema_sync_find_table(h.nodes[0].s, "ks", "a")->id <= WC_USER_TABLE_ID_MAX &&
                  wc_schema_sync_find_table(h.nodes[0].s, "ks", "b")->id <= WC_USER_TABLE_ID_MAX,
              "a new id for a clash is beyond the ids a client may use");
    h_free(&h);
}

static uint64_t replay_once(uint64_t seed)
{
    harness h;
    uint64_t r;

    h_init(&h, seed, 5, 0.05);
    wc_sim_run_for(h.sim, 5000);
    create_ks(&h, 2, "ks");
    create_table(&h, 2, "ks", "t", 1);
    wc_sim_run_for(h.sim, 10000);
    r = wc_sim_trace_hash(h.sim);
    h_free(&h);
    return r;
}

static void test_replay(void **state)
{
    uint64_t seed = simtest_seed(108);

    (void)state;
    SIM_CHECK(seed, replay_once(seed) == replay_once(seed), "same seed, different traces");
}

/* ---------------------------------------------------------------- codec and file */

/* A PUSH of every entry of s into out. */
static void push_of(wc_schema_sync *s, wc_buf *out)
{
    wc_schema_msg m;
    wc_schema_keyspace ks[4];
    wc_schema_table ts[4];

    memset(&m, 0, sizeof(m));
    m.type = WC_SCHEMA_MSG_PUSH;
    m.flags = WC_SCHEMA_PUSH_FULL;
    wc_schema_sync_version(s, m.version);
    m.nkeyspaces = wc_schema_sync_keyspace_count(s);
    m.ntables = wc_schema_sync_table_count(s);
    assert_true(m.nkeyspaces <= 4 && m.ntables <= 4);
    for (size_t i = 0; i < m.nkeyspaces; i++)
        ks[i] = *wc_schema_sync_keyspace(s, i);
    for (size_t i = 0; i < m.ntables; i++)
        ts[i] = *wc_schema_sync_table(s, i);
    m.keyspaces = ks;
    m.tables = ts;
    wc_buf_init(out);
    assert_int_equal(wc_schema_msg_encode(&m, out), WC_OK);
}

static void test_codec(void **state)
{
    harness h;
    wc_schema_sync *lone, *copy;
    wc_buf push, again, file;
    wc_schema_msg m;
    uint8_t v1[WC_SCHEMA_VERSION_BYTES], v2[WC_SCHEMA_VERSION_BYTES];

    (void)state;
    h_init(&h, simtest_seed(109), 2, 0);
    /* a lone store (no gossip) on node 1's env, with a keyspace, a table and a tombstone */
    assert_int_equal(wc_schema_sync_create(h.nodes[1].env, NULL, NULL, NULL, 0, &lone), WC_OK);
    {
        wc_replication r;
        wc_buf d;
        uint32_t id;
        assert_int_equal(wc_replication_parse("NetworkTopologyStrategy:dc1=3,dc2=2", &r), WC_OK);
        assert_int_equal(wc_schema_sync_create_keyspace(lone, "ks", &r, "bob"), WC_OK);
        assert_int_equal(wc_schema_sync_create_keyspace(lone, "ks", &r, "bob"), WC_EXISTS);
        def_of(&d, "ks", "t", 5);
        assert_int_equal(wc_schema_sync_create_table(lone, d.data, d.len, &id), WC_OK);
        assert_int_equal(wc_schema_sync_create_table(lone, d.data, d.len, &id), WC_EXISTS);
        wc_buf_free(&d);
        def_of(&d, "nope", "t", 5);
        assert_int_equal(wc_schema_sync_create_table(lone, d.data, d.len, &id), WC_NOT_FOUND);
        wc_buf_free(&d);
        def_of(&d, "ks", "gone", 5);
        assert_int_equal(wc_schema_sync_create_table(lone, d.data, d.len, &id), WC_OK);
        wc_buf_free(&d);
        assert_int_equal(wc_schema_sync_drop_table(lone, "ks", "gone"), WC_OK);
        assert_int_equal(wc_schema_sync_drop_table(lone, "ks", "gone"), WC_NOT_FOUND);
    }
    /* round trip of a PUSH */
    push_of(lone, &push);
    assert_int_equal(wc_schema_msg_decode(push.data, push.len, &m), WC_OK);
    assert_int_equal(m.nkeyspaces, 1);
    assert_int_equal(m.ntables, 2);
    wc_buf_init(&again);
    assert_int_equal(wc_schema_msg_encode(&m, &again), WC_OK);
    assert_int_equal(again.len, push.len);
    assert_memory_equal(again.data, push.data, push.len);
    wc_schema_msg_free(&m);
    wc_buf_free(&again);
    /* every truncation and a trailing byte are malformed */
    for (size_t n = 0; n < push.len; n++) {
        assert_int_not_equal(wc_schema_msg_decode(push.data, n, &m), WC_OK);
        wc_schema_msg_free(&m);
    }
    wc_buf_put_u8(&push, 0);
    assert_int_equal(wc_schema_msg_decode(push.data, push.len, &m), WC_CORRUPTION);
    wc_schema_msg_free(&m);
    push.len--;
    /* an unknown type is not malformed, it is unknown */
    push.data[0] = WC_SCHEMA_MSG_LAST;
    assert_int_equal(wc_schema_msg_decode(push.data, push.len, &m), WC_INVALID_ARGUMENT);
    wc_schema_msg_free(&m);
    push.data[0] = WC_SCHEMA_MSG_PUSH;
    /* a malformed push to a store is dropped and logged, changing nothing */
    assert_int_equal(wc_schema_sync_create(h.nodes[0].env, NULL, NULL, NULL, 0, &copy), WC_OK);
    wc_schema_sync_version(copy, v1);
    wc_schema_sync_on_message(copy, &h.nodes[1].env->self, push.data, push.len - 1);
    wc_schema_sync_version(copy, v2);
    assert_memory_equal(v1, v2, sizeof(v1));
    assert_int_equal(h.malformed, 1);
    /* the whole push merges to the same version */
    wc_schema_sync_on_message(copy, &h.nodes[1].env->self, push.data, push.len);
    wc_schema_sync_version(copy, v1);
    wc_schema_sync_version(lone, v2);
    assert_memory_equal(v1, v2, sizeof(v1));
    assert_non_null(wc_schema_sync_find_table(copy, "ks", "t"));
    assert_null(wc_schema_sync_find_table(copy, "ks", "gone"));
    /* merging it again changes nothing (idempotent) */
    wc_schema_sync_on_message(copy, &h.nodes[1].env->self, push.data, push.len);
    wc_schema_sync_version(copy, v1);
    assert_memory_equal(v1, v2, sizeof(v1));
    wc_schema_sync_destroy(copy);
    wc_buf_free(&push);

    /* the schema file: loads to the same version; any damage is corruption */
    wc_buf_init(&file);
    assert_int_equal(wc_schema_sync_encode(lone, &file), WC_OK);
    assert_int_equal(wc_schema_sync_create(h.nodes[0].env, NULL, NULL, file.data, file.len, &copy),
                     WC_OK);
    wc_schema_sync_version(copy, v1);
    assert_memory_equal(v1, v2, sizeof(v1));
    wc_schema_sync_destroy(copy);
    for (size_t i = 0; i < file.len; i += 7) {
        file.data[i] ^= 0x20;
        assert_int_equal(
            wc_schema_sync_create(h.nodes[0].env, NULL, NULL, file.data, file.len, &copy),
            WC_CORRUPTION);
        assert_null(copy);
        file.data[i] ^= 0x20;
    }
    for (size_t n = 1; n < file.len; n += 5)
        assert_int_equal(wc_schema_sync_create(h.nodes[0].env, NULL, NULL, file.data, n, &copy),
                         WC_CORRUPTION);
    wc_buf_free(&file);
    wc_schema_sync_destroy(lone);
    h_free(&h);
}

/* A definition whose id or names differ from its entry is malformed. */
static void test_definition_mismatch(void **state)
{
    wc_schema_msg m, d;
    wc_schema_table t;
    wc_schema_keyspace k;
    wc_buf def, msg;

    (void)state;
    memset(&m, 0, sizeof(m));
    memset(&k, 0, sizeof(k));
    k.name = "ks";
    k.owner_role = "";
    k.timestamp_us = 5;
    wc_replication_default(&k.replication);
    def_of(&def, "ks", "t", 1); /* table_id 0 in the definition */
    t.keyspace = "ks";
    t.name = "t";
    t.id = 9;
    t.definition = def.data;
    t.definition_len = def.len;
    t.timestamp_us = 6;
    t.dropped = false;
    m.type = WC_SCHEMA_MSG_PUSH;
    m.keyspaces = &k;
    m.nkeyspaces = 1;
    m.tables = &t;
    m.ntables = 1;
    wc_buf_init(&msg);
    assert_int_equal(wc_schema_msg_encode(&m, &msg), WC_OK);
    assert_int_equal(wc_schema_msg_decode(msg.data, msg.len, &d), WC_CORRUPTION);
    wc_schema_msg_free(&d);
    /* a dropped entry with a definition, or a live one without */
    t.dropped = true;
    wc_buf_reset(&msg);
    assert_int_equal(wc_schema_msg_encode(&m, &msg), WC_OK);
    assert_int_equal(wc_schema_msg_decode(msg.data, msg.len, &d), WC_CORRUPTION);
    wc_schema_msg_free(&d);
    wc_buf_free(&msg);
    wc_buf_free(&def);
}

/* A tombstone goes after the grace period, and an expired one from a peer is not taken back. */
static void test_tombstone_grace(void **state)
{
    harness h;
    wc_schema_sync *a, *b;
    wc_schema_sync_options o;
    wc_buf old;
    wc_replication r;

    (void)state;
    h_init(&h, simtest_seed(110), 2, 0);
    wc_schema_sync_options_default(&o);
    o.grace_ms = 60000;
    assert_int_equal(wc_schema_sync_create(h.nodes[0].env, NULL, &o, NULL, 0, &a), WC_OK);
    assert_int_equal(wc_schema_sync_create(h.nodes[1].env, NULL, &o, NULL, 0, &b), WC_OK);
    wc_replication_default(&r);
    assert_int_equal(wc_schema_sync_create_keyspace(a, "ks", &r, NULL), WC_OK);
    assert_int_equal(wc_schema_sync_drop_keyspace(a, "ks"), WC_OK);
    push_of(a, &old); /* the tombstone, as a peer that kept it too long would send it */
    wc_sim_run_for(h.sim, 30000);
    assert_int_equal(wc_schema_sync_keyspace_count(a), 1);
    wc_sim_run_for(h.sim, 31000 + 1000); /* past the grace period and the skew */
    assert_int_equal(wc_schema_sync_keyspace_count(a), 0);
    wc_schema_sync_on_message(b, &h.nodes[0].env->self, old.data, old.len);
    assert_int_equal(wc_schema_sync_keyspace_count(b), 0);
    /* the name is free again */
    assert_int_equal(wc_schema_sync_create_keyspace(a, "ks", &r, NULL), WC_OK);
    wc_buf_free(&old);
    wc_schema_sync_destroy(a);
    wc_schema_sync_destroy(b);
    h_free(&h);
}

/*
 * A change that cannot be saved is not acknowledged and not kept: local
 * DDL returns the error with the store as before (nothing announced, so a
 * restart forgets nothing it acknowledged), a peer's push is merged again
 * once the disk works.
 */
static void test_persist_failure(void **state)
{
    harness h;
    wc_buf d, before;
    uint8_t v0[WC_SCHEMA_VERSION_BYTES], v1[WC_SCHEMA_VERSION_BYTES];
    wc_replication r;
    uint32_t id = 0;

    (void)state;
    h_init(&h, simtest_seed(108), 3, 0);
    SIM_CHECK(h.seed, run_until(&h, NULL, NULL, false, 0, 60000) != NEVER, "gossip never settled");
    create_ks(&h, 0, "ks");
    create_table(&h, 0, "ks", "kept", 1);
    SIM_CHECK(h.seed, run_until(&h, "ks", "kept", true, 0, 10000) != NEVER, "no agreement");

    /* local DDL on node 0 with a failing disk: every kind is refused and undone */
    h.nodes[0].fail_persist = true;
    wc_schema_sync_version(h.nodes[0].s, v0);
    wc_buf_init(&before);
    wc_buf_append(&before, h.nodes[0].saved.data, h.nodes[0].saved.len);
    def_of(&d, "ks", "lost", 1);
    assert_int_equal(wc_schema_sync_create_table(h.nodes[0].s, d.data, d.len, &id), WC_IO_ERROR);
    wc_buf_free(&d);
    assert_null(wc_schema_sync_find_table(h.nodes[0].s, "ks", "lost"));
    def_of(&d, "ks", "kept", 9);
    assert_int_equal(wc_schema_sync_alter_table(h.nodes[0].s, d.data, d.len), WC_IO_ERROR);
    wc_buf_free(&d);
    assert_int_equal(ttl_of(wc_schema_sync_find_table(h.nodes[0].s, "ks", "kept")), 1);
    assert_int_equal(wc_schema_sync_drop_table(h.nodes[0].s, "ks", "kept"), WC_IO_ERROR);
    assert_false(wc_schema_sync_find_table(h.nodes[0].s, "ks", "kept")->dropped);
    wc_replication_default(&r);
    assert_int_equal(wc_schema_sync_create_keyspace(h.nodes[0].s, "ks2", &r, "bob"), WC_IO_ERROR);
    assert_int_equal(wc_schema_sync_drop_keyspace(h.nodes[0].s, "ks"), WC_IO_ERROR);
    assert_non_null(wc_schema_sync_find_table(h.nodes[0].s, "ks", "kept"));
    wc_schema_sync_version(h.nodes[0].s, v1);
    assert_memory_equal(v0, v1, sizeof(v0));
    assert_int_equal(h.nodes[0].saved.len, before.len);
    assert_memory_equal(h.nodes[0].saved.data, before.data, before.len);
    wc_buf_free(&before);
    wc_sim_run_for(h.sim, 3000);
    SIM_CHECK(h.seed, all_have(&h, "ks", "lost", false, 0), "an undone table reached a peer");

    /* a peer's push to node 0 while its disk fails: not kept, merged once it works */
    create_table(&h, 1, "ks", "late", 1);
    wc_sim_run_for(h.sim, 3000);
    SIM_CHECK(h.seed, wc_schema_sync_find_table(h.nodes[0].s, "ks", "late") == NULL,
              "node 0 kept a push it could not save");
    h.nodes[0].fail_persist = false;
    SIM_CHECK(h.seed, run_until(&h, "ks", "late", true, 0, 30000) != NEVER,
              "node 0 never merged the push once its disk worked");
    create_table(&h, 0, "ks", "lost", 1);
    SIM_CHECK(h.seed, run_until(&h, "ks", "lost", true, 0, 10000) != NEVER,
              "the refused table could not be created afterwards");
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_propagate_3),
        cmocka_unit_test(test_propagate_10),
        cmocka_unit_test(test_propagate_loss),
        cmocka_unit_test(test_crash_catch_up),
        cmocka_unit_test(test_partition_and_wait),
        cmocka_unit_test(test_concurrent_create),
        cmocka_unit_test(test_id_clash),
        cmocka_unit_test(test_proposed_id),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_definition_mismatch),
        cmocka_unit_test(test_tombstone_grace),
        cmocka_unit_test(test_persist_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
