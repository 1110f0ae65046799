/*
 * coordsim.h - a simulated cluster of coordinators for coordinator_test.c
 * and coordinator_sim_test.c: n nodes in the simulator (sim.h), each with a
 * coordinator and a model store (model_store.h) that survives the node's
 * crashes, one ring of every node (8 random tokens each, from the seed),
 * one keyspace replication for every table.
 *
 * Liveness is an oracle, not gossip: a node is alive to the others when the
 * simulator has it up and the test has not marked it down (cs->fd_down),
 * so that a partitioned node still looks alive (the failure detector has
 * not convicted it yet) and a crashed one is seen down at once.
 *
 * Header-only: the helper objects of cluster/tests are linked into the
 * engine tests too, which have no cluster library.
 */
#ifndef WC_COORDSIM_H
#define WC_COORDSIM_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "keys.h"
#include "model_store.h"
#include "ring.h"
#include "sim.h"
#include "simtest.h"

#define CS_TABLE 7
#define CS_TOKENS 8
#define CS_MAX_NODES 128

typedef struct csim csim;

typedef struct cnode {
    csim *cs;
    uint32_t idx;
    wc_env *env;
    wc_coord *coord;
    model_store *store;
    char dc[WC_REPL_DC_NAME_MAX];
} cnode;

struct csim {
    uint64_t seed;
    wc_sim *sim;
    uint32_t n;
    cnode nodes[CS_MAX_NODES];
    wc_ring *ring;
    wc_replication repl;
    bool fd_down[CS_MAX_NODES];
    bool hints_on;
    uint64_t hints;                     /* hints stored */
    uint32_t hint_target[CS_MAX_NODES]; /* hints per target node */
    /* optional, for components beside the coordinator (batchlog_test.c) */
    void (*node_hook)(cnode *n, bool up);   /* after a start, before a crash's teardown */
    bool (*msg_hook)(cnode *n, const wc_addr *from, const uint8_t *msg, size_t len);
    void *hook_ctx;
};

/* A write or read waited for by the test. */
typedef struct cs_wait {
    bool done;
    wc_coord_result res;
    wc_buf data;
} cs_wait;

static inline uint32_t cs_index_of(const wc_ring_member *m)
{
    return (uint32_t)m->host_id[0] | ((uint32_t)m->host_id[1] << 8);
}

static bool cs_is_alive(void *ctx, const wc_ring_member *m)
{
    cnode *n = ctx;
    uint32_t i = cs_index_of(m);

    return i < n->cs->n && wc_sim_is_up(n->cs->nodes[i].env) && !n->cs->fd_down[i];
}

static wc_status cs_replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    cnode *n = ctx;

    if (table_id != CS_TABLE)
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    *out = n->cs->repl;
    return WC_OK;
}

static wc_status cs_store_hint(void *ctx, const wc_ring_member *m, uint32_t table_id,
                               const uint8_t *batch, size_t len)
{
    cnode *n = ctx;

    (void)table_id;
    (void)batch;
    (void)len;
    if (!n->cs->hints_on)
        return wc_error(WC_UNAVAILABLE, "hints are off");
    n->cs->hints++;
    n->cs->hint_target[cs_index_of(m)]++;
    return WC_OK;
}

static void cs_on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    cnode *n = ctx;

    if (n->cs->msg_hook && n->cs->msg_hook(n, from, msg, len))
        return;
    wc_coord_on_message(n->coord, from, msg, len);
}

static void cs_start_node(cnode *n)
{
    wc_coord_options o;

    memset(&o, 0, sizeof(o));
    o.env = n->env;
    o.self_id[0] = (uint8_t)n->idx;
    o.self_id[1] = (uint8_t)(n->idx >> 8);
    o.self_id[2] = 0xcc;
    snprintf(o.self_dc, sizeof(o.self_dc), "%s", n->dc);
    o.store = model_store_iface(n->store);
    o.is_alive = cs_is_alive;
    o.replication = cs_replication;
    o.store_hint = cs_store_hint;
    o.ctx = n;
    if (wc_coord_create(&o, &n->coord) != WC_OK) {
        simtest_print_seed(n->cs->seed);
        abort();
    }
    wc_coord_set_ring(n->coord, n->cs->ring);
    n->env->handlers = (wc_env_handlers){cs_on_message, NULL, n};
}

static void cs_on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    csim *cs = ctx;
    cnode *n = &cs->nodes[wc_sim_node_index(env)];

    if (ev == WC_SIM_NODE_CRASHED) {
        if (cs->node_hook)
            cs->node_hook(n, false);
        wc_coord_destroy(n->coord);
        n->coord = NULL;
        model_store_drop_pending(n->store); /* its timers are gone; the data stays */
    } else {
        cs_start_node(n);
        if (cs->node_hook)
            cs->node_hook(n, true);
    }
}

static uint64_t cs_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/*
 * n nodes; dcs[i] names node i's data centre (NULL: all "dc1"); repl is
 * the keyspace's replication; o the network (NULL: defaults).
 */
static csim *cs_new(uint64_t seed, uint32_t n, const char *const *dcs, const wc_replication *repl,
                    const wc_sim_options *o)
{
    csim *cs = calloc(1, sizeof(*cs));
    wc_sim_options so;
    wc_ring_member *m = calloc(n, sizeof(*m));
    int64_t *tokens = calloc((size_t)n * CS_TOKENS, sizeof(*tokens));
    uint64_t rs = seed;

    if (o)
        so = *o;
    else
        wc_sim_options_default(&so);
    so.on_node = cs_on_node;
    so.ctx = cs;
    cs->seed = seed;
    cs->n = n;
    cs->repl = *repl;
    cs->hints_on = true;
    if (wc_sim_create(seed, &so, &cs->sim) != WC_OK)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        cnode *nd = &cs->nodes[i];

        nd->cs = cs;
        nd->idx = i;
        snprintf(nd->dc, sizeof(nd->dc), "%s", dcs ? dcs[i] : "dc1");
        nd->store = model_store_new();
        m[i].host_id[0] = (uint8_t)i;
        m[i].host_id[1] = (uint8_t)(i >> 8);
        m[i].host_id[2] = 0xcc;
        snprintf(m[i].addr.host, sizeof(m[i].addr.host), "10.2.%u.%u", i / 200, i % 200 + 1);
        m[i].addr.port = 7000;
        snprintf(m[i].dc, sizeof(m[i].dc), "%s", nd->dc);
        snprintf(m[i].rack, sizeof(m[i].rack), "r1");
        for (uint32_t t = 0; t < CS_TOKENS; t++)
            tokens[i * CS_TOKENS + t] = (int64_t)cs_mix(&rs);
        m[i].tokens = &tokens[i * CS_TOKENS];
        m[i].ntokens = CS_TOKENS;
        if ((nd->env = wc_sim_add_node(cs->sim, &m[i].addr)) == NULL)
            abort();
    }
    if (wc_ring_build(m, n, &cs->ring) != WC_OK) {
        simtest_print_seed(seed);
        fprintf(stderr, "ring: %s\n", wc_last_error());
        abort();
    }
    for (uint32_t i = 0; i < n; i++)
        cs_start_node(&cs->nodes[i]);
    free(m);
    free(tokens);
    return cs;
}

static void cs_free(csim *cs)
{
    for (uint32_t i = 0; i < cs->n; i++) {
        wc_coord_destroy(cs->nodes[i].coord);
        model_store_free(cs->nodes[i].store);
    }
    wc_ring_unref(cs->ring);
    wc_sim_destroy(cs->sim);
    free(cs);
}

static void cs_simple(wc_replication *r, uint32_t rf)
{
    memset(r, 0, sizeof(*r));
    r->cls = WC_REPL_SIMPLE;
    r->replication_factor = rf;
}

/* n nodes of one data centre, SimpleStrategy rf; prints the seed (WC_SIM_SEED or dflt). */
static csim *cs_small(uint64_t dflt, uint32_t n, uint32_t rf)
{
    wc_replication r;
    uint64_t seed = simtest_seed(dflt);

    printf("seed=%" PRIu64 "\n", seed);
    cs_simple(&r, rf);
    return cs_new(seed, n, NULL, &r, NULL);
}

/* Ring indexes of the replicas of pk (in placement order) into out; returns their count. */
static size_t cs_replicas(csim *cs, const char *pk, uint32_t *out, size_t cap)
{
    size_t n = 0;

    if (wc_ring_replicas(cs->ring, &cs->repl, wc_token(pk, strlen(pk)), out, cap, &n) != WC_OK)
        return 0;
    return n;
}

static void cs_write_done(void *arg, const wc_coord_result *res)
{
    cs_wait *w = arg;

    w->res = *res;
    w->done = true;
}

static void cs_read_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    cs_wait *w = arg;

    w->res = *res;
    wc_buf_reset(&w->data);
    wc_buf_append(&w->data, data, len);
    w->done = true;
}

/* Run the simulation until w is done (at most limit_ms). */
static void cs_wait_for(csim *cs, cs_wait *w, uint64_t limit_ms)
{
    uint64_t end = wc_sim_now(cs->sim) + limit_ms;

    while (!w->done && wc_sim_now(cs->sim) < end)
        wc_sim_run_for(cs->sim, 1);
}

/* Start a write of (pk, ck) = value at ts on node i; w is filled when it ends. */
static void cs_write_async(csim *cs, uint32_t i, const char *pk, const char *ck, const char *value,
                           int64_t ts, wc_consistency cl, uint32_t timeout_ms, cs_wait *w)
{
    wc_buf rec;

    wc_buf_init(&rec);
    model_batch_one(&rec, CS_TABLE, pk, ck, value, ts);
    memset(w, 0, sizeof(*w));
    wc_coord_write(cs->nodes[i].coord, CS_TABLE, rec.data, rec.len, cl, timeout_ms, cs_write_done,
                   w);
    wc_buf_free(&rec);
}

/* A write, waited for. */
static wc_coord_result cs_write(csim *cs, uint32_t i, const char *pk, const char *ck,
                                const char *value, int64_t ts, wc_consistency cl)
{
    cs_wait w;

    cs_write_async(cs, i, pk, ck, value, ts, cl, 2000, &w);
    cs_wait_for(cs, &w, 5000);
    if (!w.done) {
        simtest_print_seed(cs->seed);
        fprintf(stderr, "write never ended\n");
        abort();
    }
    return w.res;
}

/* Start a whole-partition read of pk on node i. */
static void cs_read_async(csim *cs, uint32_t i, const char *pk, wc_consistency cl,
                          uint32_t timeout_ms, cs_wait *w)
{
    wc_store_read r;

    memset(&r, 0, sizeof(r));
    r.table_id = CS_TABLE;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    memset(w, 0, sizeof(*w));
    wc_buf_init(&w->data);
    wc_coord_read(cs->nodes[i].coord, &r, cl, timeout_ms, cs_read_done, w);
}

/*
 * A read of (pk, ck), waited for: the value into out (cap bytes), "" if
 * the row is absent; the result returned.
 */
static wc_coord_result cs_read(csim *cs, uint32_t i, const char *pk, const char *ck,
                               wc_consistency cl, char *out, size_t cap)
{
    cs_wait w;
    const uint8_t *v;
    size_t vlen = 0;

    cs_read_async(cs, i, pk, cl, 2000, &w);
    cs_wait_for(cs, &w, 5000);
    if (!w.done) {
        simtest_print_seed(cs->seed);
        fprintf(stderr, "read never ended\n");
        abort();
    }
    out[0] = '\0';
    v = model_raw_value(w.data.data, w.data.len, ck, &vlen);
    if (v)
        snprintf(out, cap, "%.*s", (int)vlen, (const char *)v);
    wc_buf_free(&w.data);
    return w.res;
}

/* Whether node i's store holds (pk, ck) = value. */
static bool cs_holds(csim *cs, uint32_t i, const char *pk, const char *ck, const char *value)
{
    const uint8_t *blob, *v;
    size_t len, vlen;
    wc_buf raw;
    bool ok;

    if (!model_store_get(cs->nodes[i].store, CS_TABLE, pk, strlen(pk), ck, strlen(ck), &blob, &len))
        return false;
    /* wrap the blob as a one-entry raw result to read its value */
    wc_buf_init(&raw);
    wc_buf_put_varint(&raw, 1);
    wc_buf_put_bytes(&raw, pk, strlen(pk));
    wc_buf_put_u8(&raw, WC_KIND_ROW);
    wc_buf_put_bytes(&raw, ck, strlen(ck));
    wc_buf_put_bytes(&raw, blob, len);
    v = model_raw_value(raw.data, raw.len, ck, &vlen);
    ok = v && vlen == strlen(value) && memcmp(v, value, vlen) == 0;
    wc_buf_free(&raw);
    return ok;
}

#endif /* WC_COORDSIM_H */
