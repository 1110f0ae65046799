/*
 * sim.c - the deterministic simulator (sim.h): virtual clock, one event heap,
 * seeded PRNG streams, a lossy and partitionable network, crashes.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "alloc.h"

enum { EV_MESSAGE = 1, EV_TIMER = 2, EV_POST = 3 };

typedef struct sim_event {
    uint64_t time;
    uint64_t seq; /* also the timer id */
    int kind;
    bool cancelled;
    size_t node;        /* receiver / owner */
    size_t from;        /* sender of a message */
    uint32_t node_life; /* node's incarnation when scheduled */
    uint32_t from_life; /* sender's incarnation when sent */
    wc_env_cb cb;
    void *arg;
    uint8_t *data;
    size_t len;
    struct sim_event *hnext; /* timer id hash chain */
} sim_event;

typedef struct sim_node {
    wc_env env;
    wc_sim *sim;
    size_t index;
    bool up;
    uint32_t life;   /* bumped at each crash */
    uint64_t rng;    /* the node's PRNG stream */
    int64_t skew_us; /* wall-clock offset */
    int group;       /* partition side */
    size_t in_flight;
} sim_node;

struct wc_sim {
    wc_sim_options o;
    uint64_t seed;
    uint64_t now;
    uint64_t next_seq;
    uint64_t net_rng;
    uint64_t trace;
    bool verbose;
    sim_event **heap;
    size_t nheap, capheap;
    sim_event **timers; /* hash of pending timers by id */
    size_t ntimer_buckets, ntimers;
    sim_node **nodes;
    size_t nnodes, capnodes;
    wc_sim_stats stats;
};

/* ---------------------------------------------------------------- PRNG */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1p-53;
}

/* ---------------------------------------------------------------- heap */

/*
 * The array v (n pointers of capacity *cap) with room for one more: v itself
 * or a larger copy (then *cap is updated); NULL if out of memory (v stays).
 */
static void *grow_ptrs(void *v, size_t n, size_t *cap, size_t first)
{
    size_t nc;
    void *nv;

    if (n < *cap)
        return v;
    nc = *cap ? *cap * 2 : first;
    nv = wc_realloc(v, nc * sizeof(void *));
    if (nv != NULL)
        *cap = nc;
    return nv;
}

static bool ev_before(const sim_event *a, const sim_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static bool heap_push(wc_sim *sim, sim_event *ev)
{
    size_t i;
    sim_event **h = grow_ptrs(sim->heap, sim->nheap, &sim->capheap, 1024);

    if (h == NULL)
        return false;
    sim->heap = h;
    i = sim->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(ev, sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = ev;
    return true;
}

static sim_event *heap_pop(wc_sim *sim)
{
    sim_event *top, *last;
    size_t i = 0;

    if (sim->nheap == 0)
        return NULL;
    top = sim->heap[0];
    last = sim->heap[--sim->nheap];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= sim->nheap)
            break;
        if (c + 1 < sim->nheap && ev_before(sim->heap[c + 1], sim->heap[c]))
            c++;
        if (!ev_before(sim->heap[c], last))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    if (sim->nheap > 0)
        sim->heap[i] = last;
    return top;
}

/* ---------------------------------------------------------------- timer ids */

static bool timers_grow(wc_sim *sim)
{
    size_t nb = sim->ntimer_buckets ? sim->ntimer_buckets * 2 : 256;
    sim_event **b = wc_calloc(nb, sizeof(*b));

    if (b == NULL)
        return false;
    for (size_t i = 0; i < sim->ntimer_buckets; i++) {
        sim_event *e = sim->timers[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = b[e->seq & (nb - 1)];
            b[e->seq & (nb - 1)] = e;
        }
    }
    wc_free(sim->timers);
    sim->timers = b;
    sim->ntimer_buckets = nb;
    return true;
}

static bool timers_add(wc_sim *sim, sim_event *ev)
{
    size_t b;

    if (sim->ntimers >= sim->ntimer_buckets && !timers_grow(sim))
        return false;
    b = ev->seq & (sim->ntimer_buckets - 1);
    ev->hnext = sim->timers[b];
    sim->timers[b] = ev;
    sim->ntimers++;
    return true;
}

/* Unlinks and returns the pending timer with that id, or NULL. */
static sim_event *timers_take(wc_sim *sim, uint64_t id)
{
    sim_event **pp;

    if (sim->ntimer_buckets == 0)
        return NULL;
    for (pp = &sim->timers[id & (sim->ntimer_buckets - 1)]; *pp != NULL; pp = &(*pp)->hnext) {
        if ((*pp)->seq == id) {
            sim_event *e = *pp;
            *pp = e->hnext;
            sim->ntimers--;
            return e;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- events */

static sim_event *event_new(wc_sim *sim, int kind, size_t node, uint64_t delay)
{
    sim_event *ev = wc_calloc(1, sizeof(*ev));

    if (ev == NULL)
        return NULL;
    ev->kind = kind;
    ev->node = node;
    ev->time = sim->now + delay;
    ev->seq = sim->next_seq++;
    ev->node_life = sim->nodes[node]->life;
    return ev;
}

static void event_free(sim_event *ev)
{
    wc_free(ev->data);
    wc_free(ev);
}

static void trace_add(wc_sim *sim, const sim_event *ev)
{
    uint64_t rec[5];

    rec[0] = ev->time;
    rec[1] = (uint64_t)ev->kind;
    rec[2] = ev->node;
    rec[3] = ev->kind == EV_MESSAGE ? ev->from : ev->seq;
    rec[4] = ev->kind == EV_MESSAGE ? XXH3_64bits(ev->data, ev->len) : 0;
    sim->trace = XXH3_64bits_withSeed(rec, sizeof(rec), sim->trace);
}

/* ---------------------------------------------------------------- env ops */

static sim_node *node_of(wc_env *env)
{
    return (sim_node *)env->impl;
}

static uint64_t op_now_ms(wc_env *env)
{
    return node_of(env)->sim->now;
}

static int64_t op_wall_us(wc_env *env)
{
    sim_node *n = node_of(env);

    return n->sim->o.wall_start_us + (int64_t)n->sim->now * 1000 + n->skew_us;
}

static uint64_t op_random_u64(wc_env *env)
{
    return splitmix64(&node_of(env)->rng);
}

static sim_node *node_by_addr(wc_sim *sim, const wc_addr *a)
{
    for (size_t i = 0; i < sim->nnodes; i++)
        if (wc_addr_equal(&sim->nodes[i]->env.self, a))
            return sim->nodes[i];
    return NULL;
}

static uint64_t draw_delay(wc_sim *sim)
{
    uint64_t span = sim->o.delay_max_ms - sim->o.delay_min_ms + 1;

    return sim->o.delay_min_ms + splitmix64(&sim->net_rng) % span;
}

static wc_status enqueue_message(wc_sim *sim, sim_node *from, sim_node *to, const uint8_t *msg,
                                 size_t len)
{
    sim_event *ev = event_new(sim, EV_MESSAGE, to->index, draw_delay(sim));

    if (ev == NULL || (ev->data = wc_memdup(msg, len)) == NULL)
        goto fail;
    ev->len = len;
    ev->from = from->index;
    ev->from_life = from->life;
    if (!heap_push(sim, ev))
        goto fail;
    from->in_flight++;
    return WC_OK;
fail:
    if (ev != NULL)
        event_free(ev);
    return wc_error(WC_NO_MEMORY, "simulator: out of memory queueing a message");
}

static wc_status op_send(wc_env *env, const wc_addr *to, const uint8_t *msg, size_t len)
{
    sim_node *from = node_of(env);
    wc_sim *sim = from->sim;
    sim_node *dst;
    wc_status st;

    if (len == 0 || len > WC_ENV_MAX_MESSAGE)
        return wc_error(WC_INVALID_ARGUMENT, "message of %zu bytes: must be 1 to %u", len,
                        WC_ENV_MAX_MESSAGE);
    if (from->in_flight >= sim->o.max_in_flight)
        return wc_error(WC_OVERLOADED, "simulator: %zu messages in flight from this node",
                        from->in_flight);
    sim->stats.sent++;
    if (!from->up)
        return WC_OK;
    dst = node_by_addr(sim, to);
    if (dst == NULL) {
        sim->stats.dropped_down++;
        return WC_OK;
    }
    if (rng_unit(&sim->net_rng) < sim->o.loss) {
        sim->stats.lost++;
        return WC_OK;
    }
    st = enqueue_message(sim, from, dst, msg, len);
    if (st == WC_OK && sim->o.duplicate > 0 && rng_unit(&sim->net_rng) < sim->o.duplicate) {
        sim->stats.duplicated++;
        st = enqueue_message(sim, from, dst, msg, len);
    }
    return st;
}

static uint64_t op_timer_start(wc_env *env, uint64_t delay_ms, wc_env_cb cb, void *arg)
{
    sim_node *n = node_of(env);
    wc_sim *sim = n->sim;
    sim_event *ev = event_new(sim, EV_TIMER, n->index, delay_ms);

    if (ev == NULL)
        return 0;
    ev->cb = cb;
    ev->arg = arg;
    if (!timers_add(sim, ev)) {
        event_free(ev);
        return 0;
    }
    if (!heap_push(sim, ev)) {
        timers_take(sim, ev->seq);
        event_free(ev);
        return 0;
    }
    return ev->seq;
}

static void op_timer_cancel(wc_env *env, uint64_t timer_id)
{
    sim_event *ev = timers_take(node_of(env)->sim, timer_id);

    if (ev != NULL)
        ev->cancelled = true; /* freed when it reaches the top of the heap */
}

static wc_status op_post(wc_env *env, wc_env_cb cb, void *arg)
{
    sim_node *n = node_of(env);
    sim_event *ev;

    if (!n->up)
        return wc_error(WC_UNAVAILABLE, "simulator: the node is down");
    ev = event_new(n->sim, EV_POST, n->index, 0);
    if (ev == NULL)
        return wc_error(WC_NO_MEMORY, "simulator: out of memory posting work");
    ev->cb = cb;
    ev->arg = arg;
    if (!heap_push(n->sim, ev)) {
        event_free(ev);
        return wc_error(WC_NO_MEMORY, "simulator: out of memory posting work");
    }
    return WC_OK;
}

static void op_log(wc_env *env, wc_env_log_level level, const char *msg)
{
    sim_node *n = node_of(env);
    wc_sim *sim = n->sim;
    char addr[WC_ADDR_HOST_MAX + 8];

    if (sim->o.log != NULL) {
        sim->o.log(sim->o.ctx, env, level, msg);
        return;
    }
    if (!sim->verbose)
        return;
    wc_addr_format(&env->self, addr, sizeof(addr));
    fprintf(stderr, "[%8" PRIu64 ".%03u %s] %s\n", sim->now / 1000, (unsigned)(sim->now % 1000),
            addr, msg);
}

static const wc_env_ops sim_ops = {
    .now_ms = op_now_ms,
    .wall_us = op_wall_us,
    .random_u64 = op_random_u64,
    .send = op_send,
    .timer_start = op_timer_start,
    .timer_cancel = op_timer_cancel,
    .post = op_post,
    .log = op_log,
};

/* ---------------------------------------------------------------- API */

void wc_sim_options_default(wc_sim_options *o)
{
    memset(o, 0, sizeof(*o));
    o->delay_min_ms = 1;
    o->delay_max_ms = 10;
    o->max_skew_ms = 500;
    o->wall_start_us = INT64_C(1767225600) * 1000000; /* 2026-01-01 00:00:00 UTC */
    o->max_in_flight = 100000;
}

wc_status wc_sim_create(uint64_t seed, const wc_sim_options *o, wc_sim **out)
{
    wc_sim *sim;

    *out = NULL;
    if (o != NULL && (!(o->loss >= 0 && o->loss <= 1) || !(o->duplicate >= 0 && o->duplicate <= 1)))
        return wc_error(WC_INVALID_ARGUMENT, "simulator: loss and duplicate are probabilities");
    if (o != NULL && o->delay_min_ms > o->delay_max_ms)
        return wc_error(WC_INVALID_ARGUMENT, "simulator: delay_min_ms > delay_max_ms");
    sim = wc_calloc(1, sizeof(*sim));
    if (sim == NULL)
        return wc_error(WC_NO_MEMORY, "simulator: out of memory");
    if (o != NULL)
        sim->o = *o;
    else
        wc_sim_options_default(&sim->o);
    if (sim->o.max_in_flight == 0)
        sim->o.max_in_flight = 100000;
    sim->seed = seed;
    sim->net_rng = seed ^ 0x6e6574776f726b21ull; /* "network!" */
    sim->trace = seed;
    sim->next_seq = 1;
    sim->verbose = getenv("WC_SIM_VERBOSE") != NULL;
    *out = sim;
    return WC_OK;
}

void wc_sim_destroy(wc_sim *sim)
{
    if (sim == NULL)
        return;
    for (size_t i = 0; i < sim->nheap; i++)
        event_free(sim->heap[i]);
    wc_free(sim->heap);
    wc_free(sim->timers);
    for (size_t i = 0; i < sim->nnodes; i++)
        wc_free(sim->nodes[i]);
    wc_free(sim->nodes);
    wc_free(sim);
}

uint64_t wc_sim_seed(const wc_sim *sim)
{
    return sim->seed;
}

wc_env *wc_sim_add_node(wc_sim *sim, const wc_addr *addr)
{
    sim_node *n, **v;
    uint64_t s;

    if (node_by_addr(sim, addr) != NULL) {
        wc_error(WC_EXISTS, "simulator: address %s:%u is taken", addr->host, addr->port);
        return NULL;
    }
    v = grow_ptrs(sim->nodes, sim->nnodes, &sim->capnodes, 16);
    if (v == NULL)
        goto oom;
    sim->nodes = v;
    n = wc_calloc(1, sizeof(*n));
    if (n == NULL)
        goto oom;
    n->env.ops = &sim_ops;
    n->env.self = *addr;
    n->env.impl = n;
    n->sim = sim;
    n->index = sim->nnodes;
    n->up = true;
    /* each node's stream depends only on the seed and its index */
    s = sim->seed + 0x51ed270b27a5c3a1ull * (n->index + 1);
    n->rng = splitmix64(&s);
    if (sim->o.max_skew_ms > 0)
        n->skew_us = ((int64_t)(splitmix64(&s) % (2 * sim->o.max_skew_ms + 1)) -
                      (int64_t)sim->o.max_skew_ms) *
                     1000;
    sim->nodes[sim->nnodes++] = n;
    return &n->env;
oom:
    wc_error(WC_NO_MEMORY, "simulator: out of memory adding a node");
    return NULL;
}

size_t wc_sim_node_count(const wc_sim *sim)
{
    return sim->nnodes;
}

wc_env *wc_sim_node(wc_sim *sim, size_t i)
{
    return i < sim->nnodes ? &sim->nodes[i]->env : NULL;
}

size_t wc_sim_node_index(const wc_env *env)
{
    return ((const sim_node *)env->impl)->index;
}

bool wc_sim_is_up(const wc_env *env)
{
    return ((const sim_node *)env->impl)->up;
}

void wc_sim_crash(wc_sim *sim, wc_env *env)
{
    sim_node *n = node_of(env);

    if (!n->up)
        return;
    n->up = false;
    n->life++; /* every event scheduled for or sent by the old life is dropped */
    memset(&env->handlers, 0, sizeof(env->handlers));
    if (sim->o.on_node != NULL)
        sim->o.on_node(sim->o.ctx, env, WC_SIM_NODE_CRASHED);
}

void wc_sim_restart(wc_sim *sim, wc_env *env)
{
    sim_node *n = node_of(env);

    if (n->up)
        return;
    n->up = true;
    if (sim->o.on_node != NULL)
        sim->o.on_node(sim->o.ctx, env, WC_SIM_NODE_RESTARTED);
}

wc_status wc_sim_partition(wc_sim *sim, const int *group, size_t n)
{
    if (n != sim->nnodes)
        return wc_error(WC_INVALID_ARGUMENT, "simulator: %zu groups for %zu nodes", n, sim->nnodes);
    for (size_t i = 0; i < n; i++)
        sim->nodes[i]->group = group[i];
    return WC_OK;
}

void wc_sim_heal(wc_sim *sim)
{
    for (size_t i = 0; i < sim->nnodes; i++)
        sim->nodes[i]->group = 0;
}

void wc_sim_set_loss(wc_sim *sim, double loss)
{
    sim->o.loss = loss < 0 ? 0 : loss > 1 ? 1 : loss;
}

uint64_t wc_sim_now(const wc_sim *sim)
{
    return sim->now;
}

/* Runs one popped event (or drops it), then frees it. */
static void dispatch(wc_sim *sim, sim_event *ev)
{
    sim_node *n = sim->nodes[ev->node];

    if (ev->kind == EV_TIMER && !ev->cancelled)
        timers_take(sim, ev->seq);
    if (ev->kind == EV_MESSAGE) {
        sim_node *from = sim->nodes[ev->from];
        from->in_flight--;
        if (!n->up || ev->node_life != n->life || ev->from_life != from->life) {
            sim->stats.dropped_down++;
        } else if (n->group != from->group) {
            sim->stats.dropped_partition++;
        } else {
            sim->stats.delivered++;
            trace_add(sim, ev);
            if (n->env.handlers.on_message != NULL)
                n->env.handlers.on_message(n->env.handlers.ctx, &from->env.self, ev->data, ev->len);
        }
    } else if (!ev->cancelled && n->up && ev->node_life == n->life) {
        if (ev->kind == EV_TIMER) {
            sim->stats.timers_fired++;
            trace_add(sim, ev);
        }
        ev->cb(ev->arg);
    }
    event_free(ev);
}

bool wc_sim_step(wc_sim *sim)
{
    sim_event *ev = heap_pop(sim);

    if (ev == NULL)
        return false;
    if (ev->time > sim->now)
        sim->now = ev->time;
    dispatch(sim, ev);
    return true;
}

void wc_sim_run_until(wc_sim *sim, uint64_t t)
{
    while (sim->nheap > 0 && sim->heap[0]->time <= t)
        wc_sim_step(sim);
    if (t > sim->now)
        sim->now = t;
}

void wc_sim_run_for(wc_sim *sim, uint64_t ms)
{
    wc_sim_run_until(sim, sim->now + ms);
}

uint64_t wc_sim_trace_hash(const wc_sim *sim)
{
    return sim->trace;
}

void wc_sim_get_stats(const wc_sim *sim, wc_sim_stats *out)
{
    *out = sim->stats;
}
