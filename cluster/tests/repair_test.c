/*
 * repair_test.c - the Merkle-tree exchange of repair (repair.h) between
 * three simulated nodes over real engines (engine stores inline on the
 * simulator's loop), with 20% message loss: an ask either ends with every
 * replica's true tree or with WC_TIMEOUT naming a replica (never a wrong or
 * partial answer, never a hang); retried asks succeed; the trees differ in
 * exactly the leaves of the partitions a replica lacks or holds newer;
 * repairing those leaves (raw reads, reconcile, repair batches: what a
 * read at ALL does) makes every tree equal.  Malformed messages are dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_store.h"
#include "keys.h"
#include "merkle.h"
#include "raw.h"
#include "repair.h"
#include "repair_format.h"
#include "sim.h"
#include "simtest.h"
#include "testutil.h"

#define TID 5u
#define NOW 1700000000
#define NODES 3
#define NPART 120

typedef struct node {
    char *dir;
    wc_engine *e;
    wc_env *env;
    wc_engine_store *es;
    wc_repair *rep;
} node;

static node nodes[NODES];
static wc_addr addrs[NODES];

static void on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    node *n = ctx;

    (void)wc_repair_on_message(n->rep, from, msg, len);
}

static void put(wc_engine *e, int k, int64_t ts, const char *val)
{
    const uint32_t col = 1;
    const char *vals[1] = {val};
    char pk[16];

    snprintf(pk, sizeof(pk), "k%d", k);
    assert_int_equal(wc_test_put(e, TID, pk, 1, ts, 0, NOW, 1, &col, vals), WC_OK);
}

static int64_t token_of(int k)
{
    char pk[16];

    snprintf(pk, sizeof(pk), "k%d", k);
    return wc_token(pk, strlen(pk));
}

typedef struct ask {
    bool done;
    wc_status st;
    char detail[256];
    wc_merkle trees[NODES];
} ask;

static void ask_done(void *arg, wc_status st, const wc_merkle *const *trees, size_t n,
                     const char *detail)
{
    ask *a = arg;

    a->done = true;
    a->st = st;
    snprintf(a->detail, sizeof(a->detail), "%s", detail);
    for (size_t i = 0; st == WC_OK && i < n; i++)
        a->trees[i] = *trees[i];
}

/* Node 0 asks every node for its tree of the whole ring; runs the simulation until the end. */
static void ask_trees(wc_sim *sim, ask *a)
{
    const bool local[NODES] = {true, false, false};

    memset(a, 0, sizeof(*a));
    wc_repair_trees(nodes[0].rep, TID, 0, 0, NOW, addrs, local, NODES, 2000, ask_done, a);
    for (int i = 0; i < 100000 && !a->done; i++)
        if (!wc_sim_step(sim))
            break;
    assert_true(a->done);
}

/* Repair leaf i of tree t on every node: raw reads, reconcile, apply the repair batches. */
static void repair_leaf(const wc_merkle *t, uint32_t i)
{
    int64_t lo, hi;
    wc_store_read r;
    wc_buf raw[NODES], ans, rep[NODES];
    wc_store_raw raws[NODES];
    uint8_t dig[WC_RAW_DIGEST_LEN];

    if (!wc_merkle_leaf_range(t, i, &lo, &hi))
        return;
    memset(&r, 0, sizeof(r));
    r.table_id = TID;
    r.token_range = true;
    r.token_start = lo;
    r.token_end = hi;
    r.start.unbounded = r.end.unbounded = true;
    r.include_static = true;
    r.now_sec = NOW;
    assert_true(lo < hi); /* the whole ring from 0: no leaf wraps but the one across the maximum */
    wc_buf_init(&ans);
    for (int n = 0; n < NODES; n++) {
        wc_buf_init(&raw[n]);
        wc_buf_init(&rep[n]);
        assert_int_equal(wc_engine_read_raw(nodes[n].e, &r, &raw[n], dig), WC_OK);
        raws[n].data = raw[n].data;
        raws[n].len = raw[n].len;
    }
    assert_int_equal(wc_raw_reconcile(&r, raws, NODES, &ans, rep), WC_OK);
    for (int n = 0; n < NODES; n++) {
        if (rep[n].len)
            assert_int_equal(wc_engine_apply_batch(nodes[n].e, rep[n].data, rep[n].len), WC_OK);
        wc_buf_free(&raw[n]);
        wc_buf_free(&rep[n]);
    }
    wc_buf_free(&ans);
}

static void test_tree_exchange_under_loss(void **state)
{
    uint64_t seed = simtest_seed(0x5e9a1);
    wc_sim *sim;
    wc_sim_options so;
    wc_table_def d;
    ask a;
    bool want1[WC_MERKLE_LEAVES], want2[WC_MERKLE_LEAVES], got[WC_MERKLE_LEAVES];
    const int missing[] = {3, 10, 44, 77, 101};
    int ok = 0, timeouts = 0;

    (void)state;
    wc_sim_options_default(&so);
    so.loss = 0.2;
    assert_int_equal(wc_sim_create(seed, &so, &sim), WC_OK);
    for (int n = 0; n < NODES; n++) {
        snprintf(addrs[n].host, sizeof(addrs[n].host), "10.0.0.%d", n + 1);
        addrs[n].port = 7000;
        nodes[n].env = wc_sim_add_node(sim, &addrs[n]);
        nodes[n].env->handlers.on_message = on_message;
        nodes[n].env->handlers.ctx = &nodes[n];
        nodes[n].dir = wc_test_tmpdir("repair");
        assert_int_equal(wc_test_open(nodes[n].dir, WC_SYNC_PERIODIC, 1 << 20, &nodes[n].e), WC_OK);
        wc_table_def_default(&d);
        d.id = TID;
        snprintf(d.name, sizeof(d.name), "t");
        assert_int_equal(wc_engine_create_table(nodes[n].e, &d), WC_OK);
        assert_int_equal(wc_engine_store_create(nodes[n].e, nodes[n].env, 0, &nodes[n].es), WC_OK);
        assert_int_equal(wc_repair_create(nodes[n].env, wc_engine_store_get(nodes[n].es),
                                          &nodes[n].rep),
                         WC_OK);
        for (int k = 0; k < NPART; k++) {
            bool skip = false;
            for (size_t m = 0; m < sizeof(missing) / sizeof(missing[0]); m++)
                skip |= n == 2 && k == missing[m];
            if (!skip)
                put(nodes[n].e, k, (int64_t)NOW * 1000000, "v");
        }
    }
    put(nodes[1].e, 50, (int64_t)NOW * 1000000 + 5, "newer"); /* node 1 holds a newer cell */
    assert_int_equal(wc_engine_flush(nodes[1].e, 0, true), WC_OK);

    /* the leaves that must differ */
    {
        wc_merkle shape;
        wc_merkle_init(&shape, 0, 0);
        memset(want1, 0, sizeof(want1));
        memset(want2, 0, sizeof(want2));
        want1[wc_merkle_leaf_of(&shape, token_of(50))] = true;
        for (size_t m = 0; m < sizeof(missing) / sizeof(missing[0]); m++)
            want2[wc_merkle_leaf_of(&shape, token_of(missing[m]))] = true;
    }

    for (int attempt = 0; attempt < 40 && ok < 3; attempt++) {
        ask_trees(sim, &a);
        SIM_CHECK(seed, a.st == WC_OK || a.st == WC_TIMEOUT, "ask ended with %s: %s",
                  wc_status_name(a.st), a.detail);
        if (a.st == WC_TIMEOUT) {
            SIM_CHECK(seed, strstr(a.detail, "10.0.0.") != NULL, "no replica named: %s",
                      a.detail);
            timeouts++;
            continue;
        }
        ok++;
        SIM_CHECK(seed, a.trees[0].partitions == NPART && a.trees[2].partitions == NPART - 5,
                  "partitions %llu %llu", (unsigned long long)a.trees[0].partitions,
                  (unsigned long long)a.trees[2].partitions);
        memset(got, 0, sizeof(got));
        wc_merkle_diff(&a.trees[0], &a.trees[1], got);
        SIM_CHECK(seed, memcmp(got, want1, sizeof(got)) == 0, "leaves of node 1");
        memset(got, 0, sizeof(got));
        wc_merkle_diff(&a.trees[0], &a.trees[2], got);
        SIM_CHECK(seed, memcmp(got, want2, sizeof(got)) == 0, "leaves of node 2");
    }
    SIM_CHECK(seed, ok == 3, "only %d of the asks succeeded (%d timed out)", ok, timeouts);
    SIM_CHECK(seed, timeouts > 0, "20%% loss never made an ask time out");

    /* repair the differing leaves, then every tree is equal */
    for (uint32_t i = 0; i < WC_MERKLE_LEAVES; i++)
        if (want1[i] || want2[i])
            repair_leaf(&a.trees[0], i);
    wc_sim_set_loss(sim, 0);
    ask_trees(sim, &a);
    SIM_CHECK(seed, a.st == WC_OK, "ask without loss: %s", a.detail);
    for (int n = 1; n < NODES; n++) {
        memset(got, 0, sizeof(got));
        SIM_CHECK(seed, wc_merkle_diff(&a.trees[0], &a.trees[n], got) == 0,
                  "node %d still differs after the repair", n);
    }
    SIM_CHECK(seed, wc_merkle_root(&a.trees[1]) == wc_merkle_root(&a.trees[2]), "roots");

    /* malformed messages are dropped */
    {
        uint8_t bad[WC_REPAIR_TREE_REQUEST_LEN - 3] = {WC_REPAIR_MSG_TREE_REQUEST};
        uint8_t bad2[WC_REPAIR_TREE_RESPONSE_MIN] = {WC_REPAIR_MSG_TREE_RESPONSE};
        assert_true(wc_repair_on_message(nodes[1].rep, &addrs[0], bad, sizeof(bad)));
        assert_true(wc_repair_on_message(nodes[1].rep, &addrs[0], bad2, sizeof(bad2)));
        bad2[9] = 77; /* an unknown status */
        assert_true(wc_repair_on_message(nodes[1].rep, &addrs[0], bad2, sizeof(bad2)));
        bad[0] = 42;
        assert_false(wc_repair_on_message(nodes[1].rep, &addrs[0], bad, sizeof(bad)));
    }

    for (int n = 0; n < NODES; n++) {
        wc_engine_store_destroy(nodes[n].es);
        wc_repair_destroy(nodes[n].rep);
        wc_engine_close(nodes[n].e);
        wc_test_rmrf(nodes[n].dir);
        free(nodes[n].dir);
    }
    wc_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_exchange_under_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
