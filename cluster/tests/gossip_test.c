/*
 * gossip_test.c - membership in the simulator: 3 to 100 nodes converge to
 * every node's application states; a crashed node is convicted by every
 * peer and seen again after a restart with a new generation; loss, delay
 * and duplication; a partition that heals; another cluster's node never
 * joins; a shutdown announcement; a node that left expires; the same seed
 * replays the same run.  Then the codec: round trip, truncation, every
 * bound.  A failing check prints the seed (WC_SIM_SEED replays it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip.h"
#include "sim.h"
#include "simtest.h"

#define NEVER UINT64_MAX

typedef struct harness harness;

typedef struct gnode {
    harness *h;
    wc_env *env;
    wc_gossip *g;
    const char *cluster;
    int joins, alive, dead, removed, changes;
    wc_addr last_change_ep; /* what on_change reported last */
    int last_change_key;
    char last_change_value[64];
    int foreign_logged, malformed_logged;
} gnode;

struct harness {
    uint64_t seed;
    wc_sim *sim;
    gnode *nodes;
    int n;
    wc_addr seeds[2];
    int nseeds;
    wc_gossip_options o;
    int straggler; /* a node p_all_removed leaves out (-1: none) */
};

static wc_addr addr_of(int i)
{
    wc_addr a;

    memset(&a, 0, sizeof(a));
    snprintf(a.host, sizeof(a.host), "10.1.%d.%d", i / 200, i % 200 + 1);
    a.port = 7000;
    return a;
}

/* ---------------------------------------------------------------- listeners and log */

static void l_join(void *ctx, const wc_addr *ep)
{
    (void)ep;
    ((gnode *)ctx)->joins++;
}
static void l_change(void *ctx, const wc_addr *ep, int key, const uint8_t *v, size_t len)
{
    gnode *n = ctx;

    n->changes++;
    n->last_change_ep = *ep;
    n->last_change_key = key;
    snprintf(n->last_change_value, sizeof(n->last_change_value), "%.*s", (int)len, (const char *)v);
}
static void l_alive(void *ctx, const wc_addr *ep)
{
    (void)ep;
    ((gnode *)ctx)->alive++;
}
static void l_dead(void *ctx, const wc_addr *ep)
{
    (void)ep;
    ((gnode *)ctx)->dead++;
}
static void l_remove(void *ctx, const wc_addr *ep)
{
    (void)ep;
    ((gnode *)ctx)->removed++;
}

static void on_log(void *ctx, wc_env *env, wc_env_log_level level, const char *msg)
{
    harness *h = ctx;
    gnode *n = &h->nodes[wc_sim_node_index(env)];

    (void)level;
    if (strstr(msg, "belongs to cluster") != NULL)
        n->foreign_logged++;
    if (strstr(msg, "malformed") != NULL)
        n->malformed_logged++;
    if (getenv("WC_SIM_VERBOSE") != NULL)
        printf("[%llu %s] %s\n", (unsigned long long)wc_sim_now(h->sim), env->self.host, msg);
}

/* ---------------------------------------------------------------- nodes */

static void set_states(gnode *n, int i)
{
    char v[WC_ADDR_HOST_MAX + 16];
    uint8_t host_id[16];

    assert_int_equal(wc_gossip_set_local(n->g, WC_GOSSIP_STATUS, "normal", 6), WC_OK);
    snprintf(v, sizeof(v), "token-%d", i);
    wc_gossip_set_local(n->g, WC_GOSSIP_TOKENS, v, strlen(v));
    wc_gossip_set_local(n->g, WC_GOSSIP_DC, "dc1", 3);
    snprintf(v, sizeof(v), "rack%d", i % 3);
    wc_gossip_set_local(n->g, WC_GOSSIP_RACK, v, strlen(v));
    wc_gossip_set_local(n->g, WC_GOSSIP_SCHEMA, "schema-1", 8);
    snprintf(v, sizeof(v), "%d", 1000 * i);
    wc_gossip_set_local(n->g, WC_GOSSIP_LOAD, v, strlen(v));
    for (int k = 0; k < 16; k++)
        host_id[k] = (uint8_t)(i * 16 + k);
    wc_gossip_set_local(n->g, WC_GOSSIP_HOST_ID, host_id, sizeof(host_id));
    snprintf(v, sizeof(v), "%s:5432", n->env->self.host);
    wc_gossip_set_local(n->g, WC_GOSSIP_SQL_ADDRESS, v, strlen(v));
    wc_gossip_set_local(n->g, WC_GOSSIP_RELEASE_VERSION, "0.1", 3);
}

static void node_start(harness *h, int i)
{
    gnode *n = &h->nodes[i];
    wc_gossip_options o = h->o;
    wc_gossip_listener l = {l_join, l_change, l_alive, l_dead, l_remove, n};

    o.cluster_name = n->cluster;
    o.seeds = h->seeds;
    o.nseeds = (size_t)h->nseeds;
    assert_int_equal(wc_gossip_create(n->env, &o, &n->g), WC_OK);
    assert_int_equal(wc_gossip_add_listener(n->g, &l), WC_OK);
    set_states(n, i);
    n->env->handlers.on_message = wc_gossip_on_message;
    n->env->handlers.ctx = n->g;
    assert_int_equal(wc_gossip_start(n->g), WC_OK);
}

static void on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    harness *h = ctx;
    int i = (int)wc_sim_node_index(env);

    if (ev == WC_SIM_NODE_CRASHED) {
        wc_gossip_destroy(h->nodes[i].g);
        h->nodes[i].g = NULL;
    } else {
        node_start(h, i);
    }
}

static void h_init(harness *h, uint64_t seed, int n, int nseeds, const wc_sim_options *so)
{
    wc_sim_options o;

    memset(h, 0, sizeof(*h));
    h->seed = seed;
    printf("seed=%llu\n", (unsigned long long)seed); /* before anything can fail or crash */
    if (so != NULL)
        o = *so;
    else
        wc_sim_options_default(&o);
    o.on_node = on_node;
    o.log = on_log;
    o.ctx = h;
    assert_int_equal(wc_sim_create(h->seed, &o, &h->sim), WC_OK);
    h->n = n;
    h->straggler = -1;
    h->nodes = calloc((size_t)n, sizeof(*h->nodes));
    h->nseeds = nseeds;
    for (int i = 0; i < nseeds; i++)
        h->seeds[i] = addr_of(i * 7 % n);
    wc_gossip_options_default(&h->o);
    for (int i = 0; i < n; i++) {
        wc_addr a = addr_of(i);
        h->nodes[i].h = h;
        h->nodes[i].cluster = "test cluster";
        h->nodes[i].env = wc_sim_add_node(h->sim, &a);
        assert_non_null(h->nodes[i].env);
    }
}

static void h_start_all(harness *h)
{
    for (int i = 0; i < h->n; i++)
        node_start(h, i);
}

static void h_free(harness *h)
{
    for (int i = 0; i < h->n; i++)
        wc_gossip_destroy(h->nodes[i].g);
    wc_sim_destroy(h->sim);
    free(h->nodes);
}

/* ---------------------------------------------------------------- views */

/* Node i sees node j up with every application state j has. */
static bool sees(const harness *h, int i, int j)
{
    const wc_gossip *gi = h->nodes[i].g, *gj = h->nodes[j].g;
    const wc_addr *aj = &h->nodes[j].env->self;

    if (!wc_gossip_is_alive(gi, aj))
        return false;
    for (int k = 0; k < WC_GOSSIP_KEY_COUNT; k++) {
        const uint8_t *vi, *vj;
        size_t li, lj;
        if (wc_gossip_get(gj, aj, k, &vj, &lj) != WC_OK)
            continue;
        if (wc_gossip_get(gi, aj, k, &vi, &li) != WC_OK || li != lj || memcmp(vi, vj, li) != 0)
            return false;
    }
    return true;
}

/* Every running node of the cluster sees every other one, with all its states. */
static bool converged(const harness *h)
{
    for (int i = 0; i < h->n; i++) {
        if (h->nodes[i].g == NULL || strcmp(h->nodes[i].cluster, h->nodes[0].cluster) != 0)
            continue;
        for (int j = 0; j < h->n; j++)
            if (j != i && h->nodes[j].g != NULL &&
                strcmp(h->nodes[j].cluster, h->nodes[0].cluster) == 0 && !sees(h, i, j))
                return false;
    }
    return true;
}

/* Number of running nodes other than j that see j down (or do not know it). */
static int count_seeing_down(const harness *h, int j)
{
    int c = 0;

    for (int i = 0; i < h->n; i++)
        if (i != j && h->nodes[i].g != NULL &&
            !wc_gossip_is_alive(h->nodes[i].g, &h->nodes[j].env->self))
            c++;
    return c;
}

static int running_others(const harness *h, int j)
{
    int c = 0;

    for (int i = 0; i < h->n; i++)
        c += i != j && h->nodes[i].g != NULL;
    return c;
}

/* Runs in steps of step_ms until pred holds; the virtual time it took, or NEVER. */
static uint64_t run_until(harness *h, bool (*pred)(const harness *, int), int arg, uint64_t max_ms,
                          uint64_t step_ms)
{
    uint64_t start = wc_sim_now(h->sim);

    while (!pred(h, arg)) {
        if (wc_sim_now(h->sim) - start >= max_ms)
            return NEVER;
        wc_sim_run_for(h->sim, step_ms);
    }
    return wc_sim_now(h->sim) - start;
}

static bool p_converged(const harness *h, int unused)
{
    (void)unused;
    return converged(h);
}

static bool p_all_see_down(const harness *h, int j)
{
    return count_seeing_down(h, j) == running_others(h, j);
}

static bool p_all_see_up_again(const harness *h, int j)
{
    return count_seeing_down(h, j) == 0 && converged(h);
}

/* ---------------------------------------------------------------- convergence */

static void converge_n(uint64_t dflt_seed, int n, int nseeds, uint64_t max_ms)
{
    harness h;
    uint64_t t;
    int total_dead = 0;
    struct timespec t0, t1;

    h_init(&h, simtest_seed(dflt_seed), n, nseeds, NULL);
    h_start_all(&h);
    t = run_until(&h, p_converged, 0, max_ms, 100);
    SIM_CHECK(h.seed, t != NEVER, "%d nodes did not converge in %.0f s", n, max_ms / 1000.0);
    printf("gossip convergence: %d nodes in %.1f s\n", n, t / 1000.0);
    /* and it stays that way: no false conviction in steady state (100 nodes: 10 minutes) */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wc_sim_run_for(h.sim, n == 100 ? 600000 : 60000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (n == 100)
        printf("gossip: %d nodes for 600 virtual s took %.1f s\n", n,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (int i = 0; i < n; i++)
        total_dead += h.nodes[i].dead;
    SIM_CHECK(h.seed, total_dead == 0, "%d false convictions in a steady cluster", total_dead);
    SIM_CHECK(h.seed, converged(&h), "a converged cluster diverged");
    for (int i = 0; i < n; i++)
        SIM_CHECK(h.seed, wc_gossip_endpoint_count(h.nodes[i].g) == (size_t)n,
                  "node %d knows %zu endpoints of %d", i, wc_gossip_endpoint_count(h.nodes[i].g),
                  n);
    h_free(&h);
}

static void test_converge_3(void **state)
{
    (void)state;
    converge_n(11, 3, 1, 30000);
}

static void test_converge_10(void **state)
{
    (void)state;
    converge_n(12, 10, 1, 30000);
}

static void test_converge_50(void **state)
{
    (void)state;
    converge_n(13, 50, 2, 60000);
}

static void test_converge_100(void **state)
{
    (void)state;
    converge_n(14, 100, 2, 60000);
}

/* ---------------------------------------------------------------- crash, restart */

static void test_crash_convicted_restart_seen(void **state)
{
    harness h;
    const int victim = 3;
    wc_addr va = addr_of(victim);
    uint32_t old_gen, gen;
    uint64_t hb, t;
    int alive_before;

    (void)state;
    h_init(&h, simtest_seed(21), 10, 1, NULL);
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    wc_sim_run_for(h.sim, 20000);
    assert_int_equal(wc_gossip_generation(h.nodes[0].g, &va, &old_gen, &hb), WC_OK);

    wc_sim_crash(h.sim, h.nodes[victim].env);
    t = run_until(&h, p_all_see_down, victim, 60000, 100);
    SIM_CHECK(h.seed, t != NEVER, "only %d of 9 peers convicted the crashed node",
              count_seeing_down(&h, victim));
    printf("gossip failure detection: crashed node convicted by all 9 peers in %.1f s\n",
           t / 1000.0);
    SIM_CHECK(h.seed, t >= 5000, "convicted after only %.1f s: phi threshold ignored?", t / 1000.0);
    for (int i = 0; i < h.n; i++)
        if (i != victim)
            SIM_CHECK(h.seed, h.nodes[i].dead == 1, "node %d: %d on_dead", i, h.nodes[i].dead);
    /* still known (down), not forgotten */
    SIM_CHECK(h.seed, wc_gossip_is_known(h.nodes[0].g, &va), "crashed node forgotten");

    alive_before = h.nodes[0].alive;
    wc_sim_restart(h.sim, h.nodes[victim].env); /* on_node starts a new gossiper */
    t = run_until(&h, p_all_see_up_again, victim, 30000, 100);
    SIM_CHECK(h.seed, t != NEVER, "restarted node not seen up by all: %d see it down",
              count_seeing_down(&h, victim));
    printf("gossip restart: seen up again by all peers in %.1f s\n", t / 1000.0);
    for (int i = 0; i < h.n; i++) {
        if (i == victim)
            continue;
        assert_int_equal(wc_gossip_generation(h.nodes[i].g, &va, &gen, &hb), WC_OK);
        SIM_CHECK(h.seed, gen > old_gen, "node %d sees generation %u, was %u", i, gen, old_gen);
    }
    SIM_CHECK(h.seed, h.nodes[0].alive == alive_before + 1, "on_alive not called once");
    h_free(&h);
}

/*
 * A node that restarts within the same second (same generation, versions
 * from 0 again) or with its clock set back (a lower generation) is still
 * heard: it moves past what its peers know of it.
 */
static void test_restart_same_or_lower_generation(void **state)
{
    harness h;
    const int node = 2;
    wc_addr na = addr_of(node);
    uint32_t gen;
    uint64_t hb, t;

    (void)state;
    h_init(&h, simtest_seed(25), 5, 1, NULL);
    h.o.generation = 1000;
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    wc_sim_run_for(h.sim, 10000);

    wc_sim_crash(h.sim, h.nodes[node].env);
    wc_sim_restart(h.sim, h.nodes[node].env); /* generation 1000 again */
    wc_gossip_set_local(h.nodes[node].g, WC_GOSSIP_SCHEMA, "schema-after-restart", 20);
    t = run_until(&h, p_converged, 0, 30000, 100);
    SIM_CHECK(h.seed, t != NEVER, "a node restarted with the same generation is not heard");
    wc_sim_run_for(h.sim, 30000);
    SIM_CHECK(h.seed, converged(&h), "same generation: the restarted node was lost again");

    h.o.generation = 999; /* the clock went back */
    wc_sim_crash(h.sim, h.nodes[node].env);
    wc_sim_restart(h.sim, h.nodes[node].env);
    wc_gossip_set_local(h.nodes[node].g, WC_GOSSIP_SCHEMA, "schema-clock-back", 17);
    t = run_until(&h, p_converged, 0, 30000, 100);
    SIM_CHECK(h.seed, t != NEVER, "a node restarted with a lower generation is not heard");
    assert_int_equal(wc_gossip_generation(h.nodes[0].g, &na, &gen, &hb), WC_OK);
    SIM_CHECK(h.seed, gen == 1001, "generation %u, expected 1001", gen);
    h_free(&h);
}

/* ---------------------------------------------------------------- loss, delay */

static void test_loss_and_delay(void **state)
{
    harness h;
    wc_sim_options so;
    wc_sim_stats st;
    uint64_t t;
    int dead = 0;

    (void)state;
    wc_sim_options_default(&so);
    so.loss = 0.05;
    so.delay_min_ms = 1;
    so.delay_max_ms = 300;
    so.duplicate = 0.02;
    h_init(&h, simtest_seed(31), 20, 2, &so);
    h_start_all(&h);
    t = run_until(&h, p_converged, 0, 60000, 100);
    SIM_CHECK(h.seed, t != NEVER, "20 nodes with 5%% loss did not converge");
    printf("gossip convergence with 5%% loss, 1-300 ms delay: 20 nodes in %.1f s\n", t / 1000.0);
    wc_sim_run_for(h.sim, 120000);
    for (int i = 0; i < h.n; i++)
        dead += h.nodes[i].dead;
    SIM_CHECK(h.seed, dead == 0, "%d false convictions under 5%% loss", dead);
    SIM_CHECK(h.seed, converged(&h), "diverged under loss");
    wc_sim_get_stats(h.sim, &st);
    SIM_CHECK(h.seed, st.lost > 100 && st.duplicated > 50, "loss %llu dup %llu",
              (unsigned long long)st.lost, (unsigned long long)st.duplicated);
    h_free(&h);
}

/* ---------------------------------------------------------------- partition */

static bool p_sides_see_down(const harness *h, int half)
{
    for (int i = 0; i < h->n; i++)
        for (int j = 0; j < h->n; j++)
            if ((i < half) != (j < half) &&
                wc_gossip_is_alive(h->nodes[i].g, &h->nodes[j].env->self))
                return false;
    return true;
}

static void test_partition_heals(void **state)
{
    harness h;
    int groups[10];
    uint64_t t;

    (void)state;
    h_init(&h, simtest_seed(41), 10, 2, NULL); /* seeds are nodes 0 and 7: one on each side */
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    wc_sim_run_for(h.sim, 20000); /* the failure detectors learn the steady rate */
    for (int i = 0; i < 10; i++)
        groups[i] = i < 5;
    assert_int_equal(wc_sim_partition(h.sim, groups, 10), WC_OK);
    t = run_until(&h, p_sides_see_down, 5, 90000, 100);
    SIM_CHECK(h.seed, t != NEVER, "the sides of a partition still see each other up");
    /* both sides change state while apart */
    wc_gossip_set_local(h.nodes[1].g, WC_GOSSIP_SCHEMA, "schema-2", 8);
    wc_gossip_set_local(h.nodes[8].g, WC_GOSSIP_LOAD, "123456", 6);
    wc_sim_run_for(h.sim, 30000);
    /* listeners on node 3, on node 1's side, heard of the change */
    SIM_CHECK(h.seed,
              h.nodes[3].last_change_key == WC_GOSSIP_SCHEMA &&
                  strcmp(h.nodes[3].last_change_value, "schema-2") == 0 &&
                  wc_addr_equal(&h.nodes[3].last_change_ep, &h.nodes[1].env->self),
              "on_change reported key %d \"%s\"", h.nodes[3].last_change_key,
              h.nodes[3].last_change_value);
    SIM_CHECK(h.seed, !converged(&h), "converged across a partition");
    wc_sim_heal(h.sim);
    t = run_until(&h, p_converged, 0, 30000, 100);
    SIM_CHECK(h.seed, t != NEVER, "the sides did not merge after the partition healed");
    printf("gossip partition: the two sides merged %.1f s after the heal\n", t / 1000.0);
    h_free(&h);
}

/* ---------------------------------------------------------------- other cluster */

static void test_other_cluster_never_joins(void **state)
{
    harness h;
    const int stranger = 5;
    wc_addr sa = addr_of(stranger);

    (void)state;
    h_init(&h, simtest_seed(51), 6, 1, NULL); /* the stranger's seed is node 0, as everyone's */
    h.nodes[stranger].cluster = "another cluster";
    h_start_all(&h);
    wc_sim_run_for(h.sim, 60000);
    SIM_CHECK(h.seed, converged(&h), "the real cluster did not converge");
    for (int i = 0; i < stranger; i++) {
        SIM_CHECK(h.seed, !wc_gossip_is_known(h.nodes[i].g, &sa), "node %d knows the stranger", i);
        SIM_CHECK(h.seed, h.nodes[i].foreign_logged <= 1, "node %d logged the stranger %d times", i,
                  h.nodes[i].foreign_logged);
    }
    SIM_CHECK(h.seed, h.nodes[0].foreign_logged == 1, "the seed did not log the stranger");
    SIM_CHECK(h.seed, wc_gossip_endpoint_count(h.nodes[stranger].g) == 1,
              "the stranger learnt %zu endpoints", wc_gossip_endpoint_count(h.nodes[stranger].g));
    h_free(&h);
}

/* ---------------------------------------------------------------- shutdown */

static void test_shutdown_marks_down_at_once(void **state)
{
    harness h;
    const int leaver = 4;
    wc_addr la = addr_of(leaver);
    const uint8_t *v;
    size_t len;

    (void)state;
    h_init(&h, simtest_seed(61), 10, 1, NULL);
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    wc_sim_run_for(h.sim, 5000);
    wc_gossip_shutdown(h.nodes[leaver].g);
    assert_int_equal(wc_gossip_get(h.nodes[leaver].g, &la, WC_GOSSIP_STATUS, &v, &len), WC_OK);
    assert_int_equal(wc_gossip_status_of(v, len), WC_GOSSIP_STATUS_SHUTDOWN);
    /* delivery takes at most 10 ms: every peer knows within that, not after phi's ~18 s */
    wc_sim_run_for(h.sim, 20);
    SIM_CHECK(h.seed, p_all_see_down(&h, leaver), "only %d of 9 peers marked the node down",
              count_seeing_down(&h, leaver));
    /* late gossip about its last heartbeat does not bring it back */
    wc_sim_run_for(h.sim, 60000);
    SIM_CHECK(h.seed, p_all_see_down(&h, leaver), "a shut-down node came back up");
    for (int i = 0; i < h.n; i++)
        if (i != leaver)
            SIM_CHECK(h.seed, h.nodes[i].dead == 1, "node %d: %d on_dead", i, h.nodes[i].dead);
    h_free(&h);
}

/* ---------------------------------------------------------------- left, expiry */

static bool p_all_removed(const harness *h, int j)
{
    for (int i = 0; i < h->n; i++)
        if (i != j && i != h->straggler && h->nodes[i].g != NULL &&
            wc_gossip_is_known(h->nodes[i].g, &h->nodes[j].env->self))
            return false;
    return true;
}

static void test_left_node_expires(void **state)
{
    harness h;
    const int leaver = 2;
    wc_addr la = addr_of(leaver);
    uint64_t left_at, t;

    (void)state;
    h_init(&h, simtest_seed(71), 8, 1, NULL);
    h.o.left_expiry_ms = 20000;
    h.o.quarantine_ms = 60000;
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    wc_gossip_set_local(h.nodes[leaver].g, WC_GOSSIP_STATUS, "left", 4);
    left_at = wc_sim_now(h.sim);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "left not spread");
    wc_sim_crash(h.sim, h.nodes[leaver].env); /* it is gone */
    /* still known before the expiry */
    wc_sim_run_until(h.sim, left_at + 15000);
    SIM_CHECK(h.seed, wc_gossip_is_known(h.nodes[0].g, &la), "removed before the expiry");
    t = run_until(&h, p_all_removed, leaver, 30000, 100);
    SIM_CHECK(h.seed, t != NEVER, "the node that left was never removed");
    t = wc_sim_now(h.sim) - left_at;
    printf("gossip: a node that left removed everywhere %.1f s after it left (expiry 20 s)\n",
           t / 1000.0);
    SIM_CHECK(h.seed, t >= 20000 && t < 30000, "removed after %.1f s", t / 1000.0);
    /* and it stays removed: gossip from slower nodes is quarantined */
    wc_sim_run_for(h.sim, 120000);
    SIM_CHECK(h.seed, p_all_removed(&h, leaver), "a removed node came back");
    for (int i = 0; i < h.n; i++)
        if (i != leaver)
            SIM_CHECK(h.seed, h.nodes[i].removed == 1, "node %d: %d on_remove", i,
                      h.nodes[i].removed);
    h_free(&h);
}

/*
 * A node cut off while another left still holds the leaver's old state when
 * it comes back; the others, which removed the leaver, must not take it
 * again from it (quarantine).
 */
static void test_removed_node_quarantined(void **state)
{
    harness h;
    const int leaver = 2, straggler = 7;
    wc_addr la = addr_of(leaver);
    int groups[8] = {0};
    uint64_t t;

    (void)state;
    h_init(&h, simtest_seed(75), 8, 1, NULL);
    h.o.left_expiry_ms = 20000;
    h.o.quarantine_ms = 60000;
    h.straggler = straggler;
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    wc_sim_run_for(h.sim, 10000);
    groups[straggler] = 1;
    assert_int_equal(wc_sim_partition(h.sim, groups, 8), WC_OK);
    wc_gossip_set_local(h.nodes[leaver].g, WC_GOSSIP_STATUS, "left", 4);
    wc_sim_run_for(h.sim, 5000);
    wc_sim_crash(h.sim, h.nodes[leaver].env);
    t = run_until(&h, p_all_removed, leaver, 40000, 100);
    SIM_CHECK(h.seed, t != NEVER, "the node that left was never removed");
    SIM_CHECK(h.seed, wc_gossip_is_known(h.nodes[straggler].g, &la), "the straggler forgot it");
    wc_sim_heal(h.sim);
    wc_sim_run_for(h.sim, 30000);
    SIM_CHECK(h.seed, p_all_removed(&h, leaver),
              "a removed node came back from a node that had not seen it leave");
    for (int i = 0; i < h.n; i++)
        if (i != leaver && i != straggler)
            SIM_CHECK(h.seed, h.nodes[i].removed == 1 && h.nodes[i].joins == h.n - 1,
                      "node %d: %d on_remove, %d on_join", i, h.nodes[i].removed, h.nodes[i].joins);
    h_free(&h);
}

/* ---------------------------------------------------------------- replay */

static uint64_t replay_run(uint64_t seed)
{
    harness h;
    wc_sim_options so;
    uint64_t hash;

    wc_sim_options_default(&so);
    so.loss = 0.05;
    so.delay_max_ms = 200;
    h_init(&h, seed, 12, 2, &so);
    h_start_all(&h);
    wc_sim_run_for(h.sim, 20000);
    wc_sim_crash(h.sim, h.nodes[5].env);
    wc_sim_run_for(h.sim, 30000);
    wc_sim_restart(h.sim, h.nodes[5].env);
    wc_sim_run_for(h.sim, 10000);
    hash = wc_sim_trace_hash(h.sim);
    h_free(&h);
    return hash;
}

static void test_same_seed_same_trace(void **state)
{
    uint64_t seed = simtest_seed(81);
    uint64_t a, b, c;

    (void)state;
    a = replay_run(seed);
    b = replay_run(seed);
    c = replay_run(seed + 1);
    SIM_CHECK(seed, a == b, "same seed, traces %016llx and %016llx", (unsigned long long)a,
              (unsigned long long)b);
    SIM_CHECK(seed, a != c, "different seeds, same trace");
}

/* ---------------------------------------------------------------- malformed input */

static void test_malformed_dropped(void **state)
{
    harness h;
    const uint8_t bad[][8] = {
        {WC_GOSSIP_MSG_SYN, 0x05, 'x'},         /* name cut short */
        {WC_GOSSIP_MSG_ACK2, 0xff, 0xff, 0x7f}, /* huge count */
        {WC_GOSSIP_MSG_SHUTDOWN, 0x00, 0x01},   /* generation 0 */
        {9, 1, 2, 3},                           /* unknown gossip type */
    };
    const size_t lens[] = {3, 4, 3, 4};

    (void)state;
    h_init(&h, simtest_seed(91), 3, 1, NULL);
    h_start_all(&h);
    SIM_CHECK(h.seed, run_until(&h, p_converged, 0, 30000, 100) != NEVER, "no convergence");
    for (int r = 0; r < 3; r++)
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
            h.nodes[1].env->ops->send(h.nodes[1].env, &h.nodes[0].env->self, bad[i], lens[i]);
    wc_sim_run_for(h.sim, 5000);
    SIM_CHECK(h.seed, h.nodes[0].malformed_logged == 1, "malformed logged %d times (rate limit)",
              h.nodes[0].malformed_logged);
    SIM_CHECK(h.seed, converged(&h), "garbage disturbed the cluster");
    h_free(&h);
}

/* ---------------------------------------------------------------- codec */

static void test_codec(void **state)
{
    wc_gossip_digest d[2];
    wc_gossip_state_ref s[2];
    wc_gossip_value_ref v[3];
    wc_gossip_msg m, back;
    wc_buf b, b2;
    static uint8_t big[WC_GOSSIP_MAX_VALUE + 1];

    (void)state;
    memset(&m, 0, sizeof(m));
    d[0] = (wc_gossip_digest){addr_of(0), 1767225600, 42};
    d[1] = (wc_gossip_digest){addr_of(1), 1767225601, 7};
    s[0] = (wc_gossip_state_ref){addr_of(0), 1767225600, 40, 0, 2};
    s[1] = (wc_gossip_state_ref){addr_of(2), 1767225602, 3, 2, 1};
    v[0] = (wc_gossip_value_ref){WC_GOSSIP_STATUS, 41, (const uint8_t *)"normal", 6};
    v[1] = (wc_gossip_value_ref){WC_GOSSIP_DC, 42, (const uint8_t *)"dc1", 3};
    v[2] = (wc_gossip_value_ref){31, 2, (const uint8_t *)"", 0};
    m.type = WC_GOSSIP_MSG_ACK;
    m.digests = d;
    m.ndigests = 2;
    m.states = s;
    m.nstates = 2;
    m.values = v;
    m.nvalues = 3;
    wc_buf_init(&b);
    wc_buf_init(&b2);
    assert_int_equal(wc_gossip_encode(&m, &b), WC_OK);
    assert_int_equal(wc_gossip_decode(b.data, b.len, &back), WC_OK);
    assert_int_equal(back.ndigests, 2);
    assert_int_equal(back.nstates, 2);
    assert_int_equal(back.nvalues, 3);
    assert_string_equal(back.digests[1].addr.host, addr_of(1).host);
    assert_int_equal(back.states[1].first_value, 2);
    assert_int_equal(back.values[1].len, 3);
    assert_memory_equal(back.values[1].value, "dc1", 3);
    assert_int_equal(wc_gossip_encode(&back, &b2), WC_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    wc_gossip_msg_free(&back);
    /* every truncation and a trailing byte are malformed */
    for (size_t n = 1; n < b.len; n++) {
        assert_int_equal(wc_gossip_decode(b.data, n, &back), WC_CORRUPTION);
        wc_gossip_msg_free(&back);
    }
    wc_buf_put_u8(&b, 0);
    assert_int_equal(wc_gossip_decode(b.data, b.len, &back), WC_CORRUPTION);
    wc_gossip_msg_free(&back);
    assert_int_equal(wc_gossip_decode(b.data, 0, &back), WC_CORRUPTION);
    b.data[0] = 0;
    assert_int_equal(wc_gossip_decode(b.data, b.len, &back), WC_INVALID_ARGUMENT);

    /* keys out of order, a key past 31, a value past 64 KiB */
#define EXPECT_BAD(detail)                                                                         \
    do {                                                                                           \
        wc_buf_reset(&b);                                                                          \
        assert_int_equal(wc_gossip_encode(&m, &b), WC_OK);                                         \
        assert_int_equal(wc_gossip_decode(b.data, b.len, &back), WC_CORRUPTION);                   \
        if (strstr(wc_last_error(), detail) == NULL)                                               \
            fail_msg("\"%s\" lacks \"%s\"", wc_last_error(), detail);                              \
        wc_gossip_msg_free(&back);                                                                 \
    } while (0)
    v[1].key = WC_GOSSIP_STATUS;
    EXPECT_BAD("increasing");
    v[1].key = WC_GOSSIP_DC;
    v[2].key = 32;
    EXPECT_BAD("keys are below 32");
    v[2].key = 31;
    v[2].value = big;
    v[2].len = sizeof(big);
    EXPECT_BAD("at most 65536");
    v[2].len = 0;
    s[0].generation = 0;
    EXPECT_BAD("generation 0");
    s[0].generation = 1;
    memset(d[0].addr.host, 'h',
           WC_ADDR_HOST_MAX - 1); /* 63 is fine; the encoder writes what it is given */
    d[0].addr.host[WC_ADDR_HOST_MAX - 1] = '\0';
    wc_buf_reset(&b);
    assert_int_equal(wc_gossip_encode(&m, &b), WC_OK);
    assert_int_equal(wc_gossip_decode(b.data, b.len, &back), WC_OK);
    wc_gossip_msg_free(&back);
    d[0].addr.host[3] = ' ';
    EXPECT_BAD("host has byte 0x20");
    d[0].addr = addr_of(0);
    d[0].addr.port = 0;
    EXPECT_BAD("port 0");
#undef EXPECT_BAD
    wc_buf_free(&b);
    wc_buf_free(&b2);
}

static void test_options_and_queries(void **state)
{
    wc_sim *sim;
    wc_addr a = addr_of(0), other = addr_of(1);
    wc_env *env;
    wc_gossip_options o;
    wc_gossip *g;
    wc_gossip_listener l = {0};
    const uint8_t *v;
    size_t len;
    char longname[300];

    (void)state;
    assert_int_equal(wc_sim_create(simtest_seed(101), NULL, &sim), WC_OK);
    env = wc_sim_add_node(sim, &a);
    wc_gossip_options_default(&o);
    assert_int_equal(wc_gossip_create(env, &o, &g), WC_INVALID_ARGUMENT); /* no name */
    memset(longname, 'c', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    o.cluster_name = longname;
    assert_int_equal(wc_gossip_create(env, &o, &g), WC_INVALID_ARGUMENT);
    o.cluster_name = "c";
    o.phi_convict_threshold = -1;
    assert_int_equal(wc_gossip_create(env, &o, &g), WC_INVALID_ARGUMENT);
    o.phi_convict_threshold = 8;
    assert_int_equal(wc_gossip_create(env, &o, &g), WC_OK);
    for (int i = 0; i < WC_GOSSIP_MAX_LISTENERS; i++)
        assert_int_equal(wc_gossip_add_listener(g, &l), WC_OK);
    assert_int_equal(wc_gossip_add_listener(g, &l), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_gossip_set_local(g, 32, "x", 1), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_gossip_set_local(g, 0, "x", WC_GOSSIP_MAX_VALUE + 1), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_gossip_local_host_id(g, &v, &len), WC_NOT_FOUND);
    assert_int_equal(wc_gossip_set_local(g, WC_GOSSIP_HOST_ID, "0123456789abcdef", 16), WC_OK);
    assert_int_equal(wc_gossip_local_host_id(g, &v, &len), WC_OK);
    assert_int_equal(len, 16);
    assert_int_equal(wc_gossip_endpoint_count(g), 1);
    assert_true(wc_addr_equal(wc_gossip_endpoint(g, 0), &a));
    assert_null(wc_gossip_endpoint(g, 1));
    assert_true(wc_gossip_is_alive(g, &a));
    assert_false(wc_gossip_is_known(g, &other));
    assert_int_equal(wc_gossip_get(g, &other, 0, &v, &len), WC_NOT_FOUND);
    assert_true(wc_gossip_phi(g, &a) == 0.0);
    /* generation: the wall clock in seconds */
    {
        uint32_t gen;
        uint64_t hb;
        assert_int_equal(wc_gossip_generation(g, &a, &gen, &hb), WC_OK);
        assert_int_equal(gen, (uint32_t)(wc_env_wall_us(env) / 1000000));
    }
    assert_int_equal(wc_gossip_status_of((const uint8_t *)"left,123", 8), WC_GOSSIP_STATUS_LEFT);
    assert_int_equal(wc_gossip_status_of((const uint8_t *)"normal", 6), WC_GOSSIP_STATUS_NORMAL);
    assert_int_equal(wc_gossip_status_of((const uint8_t *)"norma", 5), WC_GOSSIP_STATUS_UNKNOWN);
    assert_int_equal(wc_gossip_start(g), WC_OK);
    assert_int_equal(wc_gossip_start(g), WC_INVALID_ARGUMENT);
    wc_gossip_destroy(g);
    wc_sim_run_for(sim, 5000); /* the cancelled round never runs */
    wc_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_options_and_queries),
        cmocka_unit_test(test_converge_3),
        cmocka_unit_test(test_converge_10),
        cmocka_unit_test(test_converge_50),
        cmocka_unit_test(test_converge_100),
        cmocka_unit_test(test_crash_convicted_restart_seen),
        cmocka_unit_test(test_restart_same_or_lower_generation),
        cmocka_unit_test(test_loss_and_delay),
        cmocka_unit_test(test_partition_heals),
        cmocka_unit_test(test_other_cluster_never_joins),
        cmocka_unit_test(test_shutdown_marks_down_at_once),
        cmocka_unit_test(test_left_node_expires),
        cmocka_unit_test(test_removed_node_quarantined),
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_malformed_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
