/*
 * hint_delivery_test.c - hinted handoff between nodes on a small fake
 * environment: a virtual clock, timers and a message queue between three
 * nodes, with loss and down nodes on demand.  Node 0 holds hints for nodes
 * 1 and 2, which apply them into a list the tests check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hint_delivery.h"
#include "hints.h"
#include "hints_format.h"
#include "msg_types.h"
#include "sim.h"
#include "simtest.h"
#include "testutil.h"

#define NNODES 3
#define T0 1700000000000000ll
#define MAX_APPLIED 4096

typedef struct fnet fnet;

typedef struct fevent {
    uint64_t at, order;
    bool is_timer, cancelled;
    uint64_t timer_id;
    wc_env_cb cb;
    void *arg;
    int to, from;
    uint8_t *msg;
    size_t len;
} fevent;

typedef struct fnode {
    wc_env env;   /* the fake network's env */
    wc_env *envp; /* the env the node's logic runs on (&env, or the simulator's) */
    fnet *net;    /* NULL on the simulator */
    int index;
    bool down;
    uint8_t id[WC_HOST_ID_LEN];
    char *dir;
    wc_hints *store;
    wc_hint_delivery *hd;
    int applied[MAX_APPLIED]; /* hint numbers, in the order applied */
    int napplied;
    bool apply_fails;
    uint64_t last_apply_ms;
} fnode;

struct fnet {
    uint64_t now;
    fnode nodes[NNODES];
    fevent *ev;
    size_t nev, cap;
    uint64_t order, next_timer, rng;
    uint32_t loss_pct;   /* messages lost at random */
    uint64_t latency_ms;
    uint64_t messages;   /* sent between nodes */
    uint64_t live_allocs; /* wc_alloc_live_count before the nodes started */
    char log[16384];
};

static fnode *self_of(wc_env *env)
{
    return env->impl;
}

static uint64_t f_now_ms(wc_env *env)
{
    return self_of(env)->net->now;
}

static int64_t f_wall_us(wc_env *env)
{
    return T0 + (int64_t)self_of(env)->net->now * 1000;
}

static uint64_t f_random(wc_env *env)
{
    fnet *n = self_of(env)->net;

    n->rng ^= n->rng << 13;
    n->rng ^= n->rng >> 7;
    n->rng ^= n->rng << 17;
    return n->rng;
}

static fevent *push(fnet *n, uint64_t at)
{
    if (n->nev == n->cap) {
        n->cap = n->cap ? 2 * n->cap : 64;
        n->ev = realloc(n->ev, n->cap * sizeof(*n->ev));
        assert_non_null(n->ev);
    }
    memset(&n->ev[n->nev], 0, sizeof(fevent));
    n->ev[n->nev].at = at;
    n->ev[n->nev].order = n->order++;
    return &n->ev[n->nev++];
}

static wc_status f_send(wc_env *env, const wc_addr *to, const uint8_t *msg, size_t len)
{
    fnode *me = self_of(env);
    fnet *n = me->net;
    int dst = to->port - 7000;
    fevent *e;

    if (len == 0 || len > WC_ENV_MAX_MESSAGE)
        return WC_INVALID_ARGUMENT;
    n->messages++;
    if (dst < 0 || dst >= NNODES || n->nodes[dst].down || me->down)
        return WC_OK; /* lost */
    if (n->loss_pct && f_random(env) % 100 < n->loss_pct)
        return WC_OK;
    e = push(n, n->now + n->latency_ms);
    e->to = dst;
    e->from = me->index;
    e->msg = malloc(len);
    memcpy(e->msg, msg, len);
    e->len = len;
    return WC_OK;
}

static uint64_t f_timer_start(wc_env *env, uint64_t delay_ms, wc_env_cb cb, void *arg)
{
    fnet *n = self_of(env)->net;
    fevent *e = push(n, n->now + delay_ms);

    e->is_timer = true;
    e->timer_id = ++n->next_timer;
    e->cb = cb;
    e->arg = arg;
    return e->timer_id;
}

static void f_timer_cancel(wc_env *env, uint64_t id)
{
    fnet *n = self_of(env)->net;

    for (size_t i = 0; i < n->nev; i++)
        if (n->ev[i].is_timer && n->ev[i].timer_id == id)
            n->ev[i].cancelled = true;
}

static wc_status f_post(wc_env *env, wc_env_cb cb, void *arg)
{
    fnet *n = self_of(env)->net;
    fevent *e = push(n, n->now);

    e->is_timer = true;
    e->cb = cb;
    e->arg = arg;
    return WC_OK;
}

static void f_log(wc_env *env, wc_env_log_level level, const char *msg)
{
    fnet *n = self_of(env)->net;

    if (getenv("WC_HD_VERBOSE"))
        printf("[%llu ms] node %d: %s\n", (unsigned long long)n->now, self_of(env)->index, msg);
    strncat(n->log, msg, sizeof(n->log) - strlen(n->log) - 2);
    strcat(n->log, "\n");
}

static const wc_env_ops fake_ops = {
    .now_ms = f_now_ms,
    .wall_us = f_wall_us,
    .random_u64 = f_random,
    .send = f_send,
    .timer_start = f_timer_start,
    .timer_cancel = f_timer_cancel,
    .post = f_post,
    .log = f_log,
};

static void on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    fnode *me = ctx;

    if (!wc_hint_delivery_on_message(me->hd, from, msg, len))
        fail_msg("message type %u not handled", msg[0]);
}

static wc_status apply(void *arg, const wc_addr *from, const uint8_t *table, size_t table_len,
                       const uint8_t *batch, size_t batch_len, int64_t created_us)
{
    fnode *me = arg;
    int target, i;

    if (me->apply_fails)
        return wc_error(WC_IO_ERROR, "disk full (test)");
    assert_int_equal(table_len, 4);
    assert_memory_equal(table, "ks.t", 4);
    assert_int_equal(sscanf((const char *)batch, "hint-%d-%d", &target, &i), 2);
    assert_int_equal(target, me->index);
    assert_non_null(memchr(batch, 0, batch_len));
    assert_true(created_us >= T0);
    assert_true(me->napplied < MAX_APPLIED);
    me->applied[me->napplied++] = i;
    me->last_apply_ms = wc_env_now_ms(me->envp);
    return WC_OK;
}

/* Open nd's store and delivery on nd->envp. */
static void node_open(fnode *nd, const wc_hint_delivery_options *base)
{
    wc_hints_options ho;
    wc_hint_delivery_options o = *base;

    wc_hints_options_default(&ho);
    ho.dir = nd->dir;
    ho.segment_bytes = 4096;
    assert_int_equal(wc_hints_open(&ho, &nd->store), WC_OK);
    memcpy(o.self_host_id, nd->id, WC_HOST_ID_LEN);
    o.apply = apply;
    o.apply_arg = nd;
    assert_int_equal(wc_hint_delivery_new(nd->envp, nd->store, &o, &nd->hd), WC_OK);
}

static void node_close(fnode *nd)
{
    wc_hint_delivery_free(nd->hd);
    wc_hints_close(nd->store);
    nd->hd = NULL;
    nd->store = NULL;
}

static void node_start(fnet *n, int i, const wc_hint_delivery_options *base)
{
    node_open(&n->nodes[i], base);
}

static void node_stop(fnet *n, int i)
{
    node_close(&n->nodes[i]);
}

static fnet *net_new(const wc_hint_delivery_options *o, uint64_t seed)
{
    fnet *n = calloc(1, sizeof(*n));

    n->rng = seed | 1;
    n->latency_ms = 5;
    n->live_allocs = wc_alloc_live_count();
    for (int i = 0; i < NNODES; i++) {
        fnode *nd = &n->nodes[i];

        nd->net = n;
        nd->index = i;
        nd->env.ops = &fake_ops;
        nd->env.impl = nd;
        nd->envp = &nd->env;
        snprintf(nd->env.self.host, sizeof(nd->env.self.host), "127.0.0.%d", i + 1);
        nd->env.self.port = (uint16_t)(7000 + i);
        nd->env.handlers.on_message = on_message;
        nd->env.handlers.ctx = nd;
        memset(nd->id, 0xa0 + i, WC_HOST_ID_LEN);
        nd->dir = wc_test_tmpdir("hd");
        node_start(n, i, o);
    }
    return n;
}

static void net_free(fnet *n)
{
    for (int i = 0; i < NNODES; i++) {
        if (n->nodes[i].hd != NULL)
            node_stop(n, i);
        wc_test_rmrf(n->nodes[i].dir);
        free(n->nodes[i].dir);
    }
    assert_int_equal(wc_alloc_live_count(), n->live_allocs); /* nothing leaked */
    for (size_t i = 0; i < n->nev; i++)
        free(n->ev[i].msg);
    free(n->ev);
    free(n);
}

/* Run every event due up to virtual time until, in time order. */
static void run_until(fnet *n, uint64_t until)
{
    for (;;) {
        size_t best = SIZE_MAX;
        fevent e;

        for (size_t i = 0; i < n->nev; i++)
            if (best == SIZE_MAX || n->ev[i].at < n->ev[best].at ||
                (n->ev[i].at == n->ev[best].at && n->ev[i].order < n->ev[best].order))
                best = i;
        if (best == SIZE_MAX || n->ev[best].at > until)
            break;
        e = n->ev[best];
        n->ev[best] = n->ev[--n->nev];
        n->now = e.at;
        if (e.is_timer) {
            if (!e.cancelled)
                e.cb(e.arg);
        } else {
            fnode *to = &n->nodes[e.to];

            if (!to->down && to->hd != NULL)
                to->env.handlers.on_message(to->env.handlers.ctx, &n->nodes[e.from].env.self,
                                            e.msg, e.len);
            free(e.msg);
        }
    }
    n->now = until;
}

/* Store count hints on node from for node to, numbered from first. */
static void store_hints(fnode *from, fnode *to, int first, int count, uint32_t ttl_s, size_t pad)
{
    char batch[2048];

    assert_true(pad < sizeof(batch) - 32);
    for (int i = first; i < first + count; i++) {
        int len = snprintf(batch, sizeof(batch), "hint-%d-%d", to->index, i);

        memset(batch + len + 1, 'p', pad);
        assert_int_equal(wc_hints_append(from->store, to->id, "ks.t", 4, (const uint8_t *)batch,
                                         len + 1 + pad, ttl_s, wc_env_wall_us(from->envp), 0),
                         WC_OK);
    }
}

static void add_hints(fnet *n, int target, int first, int count, uint32_t ttl_s, size_t pad)
{
    store_hints(&n->nodes[0], &n->nodes[target], first, count, ttl_s, pad);
}

static void alive(fnet *n, int target)
{
    assert_int_equal(wc_hint_delivery_peer_alive(n->nodes[0].hd, &n->nodes[target].env.self,
                                                 n->nodes[target].id),
                     WC_OK);
}

static uint64_t stored(fnet *n, int target)
{
    wc_hints_target_stats ts;

    wc_hints_target_stats_get(n->nodes[0].store, n->nodes[target].id, &ts);
    return ts.hints;
}

/*
 * Every hint numbered 0..count-1 was applied, first applications in order;
 * after a resend the receiver may apply a suffix again (redelivery), never
 * skip.  Returns how many applications were repeats, or -1 (saying why)
 * if a hint is missing or came before an earlier one.
 */
static int check_applied(fnode *nd, int count)
{
    int next = 0, repeats = 0;

    for (int k = 0; k < nd->napplied; k++) {
        int i = nd->applied[k];

        if (i == next)
            next++;
        else if (i < next)
            repeats++;
        else {
            printf("node %d applied hint %d before hint %d\n", nd->index, i, next);
            return -1;
        }
    }
    if (next != count) {
        printf("node %d applied hints 0..%d of %d\n", nd->index, next - 1, count);
        return -1;
    }
    return repeats;
}

static void opts(wc_hint_delivery_options *o)
{
    wc_hint_delivery_options_default(o);
    o->throttle_bytes_per_s = 0;
    o->timeout_ms = 500;
    o->recheck_ms = 2000;
}

/* No loss: every hint applied exactly once, in order, per target; the store empties. */
static void test_all_delivered_in_order(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;
    wc_hints_stats hs;

    (void)state;
    opts(&o);
    n = net_new(&o, 1);
    add_hints(n, 1, 0, 300, 3600, 40);
    add_hints(n, 2, 0, 120, 3600, 40);
    alive(n, 1);
    alive(n, 2);
    run_until(n, 10000);
    assert_int_equal(n->nodes[1].napplied, 300);
    assert_int_equal(n->nodes[2].napplied, 120);
    assert_int_equal(check_applied(&n->nodes[1], 300), 0);
    assert_int_equal(check_applied(&n->nodes[2], 120), 0);
    wc_hint_delivery_get_stats(n->nodes[0].hd, &s);
    assert_int_equal(s.delivered, 420);
    assert_int_equal(s.sent, 420);
    assert_int_equal(s.timeouts, 0);
    assert_int_equal(s.active, 0);
    wc_hints_get_stats(n->nodes[0].store, &hs);
    assert_int_equal(hs.hints, 0);
    assert_int_equal(hs.targets, 0);
    assert_non_null(strstr(n->log, "delivery to 127.0.0.2:7001 finished"));
    net_free(n);
}

/* 30% of messages lost: timeouts resend from the acknowledged hint; nothing is lost. */
static void test_loss_and_timeouts(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;

    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        opts(&o);
        n = net_new(&o, seed * 7919);
        n->loss_pct = 30;
        add_hints(n, 1, 0, 200, 3600, 10);
        alive(n, 1);
        run_until(n, 120000);
        assert_true(check_applied(&n->nodes[1], 200) >= 0);
        wc_hint_delivery_get_stats(n->nodes[0].hd, &s);
        assert_true(s.timeouts > 0);
        assert_true(s.sent > 200);
        assert_int_equal(stored(n, 1), 0);
        net_free(n);
    }
}

/*
 * The peer goes down mid-delivery: sending stops.  Node 0 restarts (store
 * and delivery reopened) and the peer comes back: delivery resumes from the
 * durable position, resending at most what was in flight.
 */
static void test_peer_down_and_restart(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    uint64_t msgs, left;
    int done, repeats;

    (void)state;
    opts(&o);
    o.throttle_bytes_per_s = 20000; /* about 2 s for the whole lot */
    n = net_new(&o, 3);
    add_hints(n, 1, 0, 400, 3600, 60);
    alive(n, 1);
    run_until(n, 800);
    done = n->nodes[1].napplied;
    assert_true(done > 20 && done < 380);
    n->nodes[1].down = true;
    wc_hint_delivery_peer_down(n->nodes[0].hd, &n->nodes[1].env.self);
    run_until(n, 1000);
    msgs = n->messages;
    run_until(n, 10000);
    assert_int_equal(n->messages, msgs); /* nothing sent to a down peer */
    left = stored(n, 1);
    assert_true(left >= 400 - (uint64_t)n->nodes[1].napplied);
    assert_true(left <= 400 - (uint64_t)n->nodes[1].napplied + o.window);

    node_stop(n, 0);
    node_start(n, 0, &o);
    assert_int_equal(stored(n, 1), left);
    n->nodes[1].down = false;
    alive(n, 1);
    run_until(n, 30000);
    repeats = check_applied(&n->nodes[1], 400);
    assert_true(repeats >= 0 && repeats <= (int)o.window);
    assert_int_equal(stored(n, 1), 0);
    net_free(n);
}

/* The replica cannot apply: nothing is acknowledged, the hints stay; then they go. */
static void test_apply_fails(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;

    (void)state;
    opts(&o);
    n = net_new(&o, 4);
    add_hints(n, 2, 0, 50, 3600, 10);
    n->nodes[2].apply_fails = true;
    alive(n, 2);
    run_until(n, 5000);
    assert_int_equal(n->nodes[2].napplied, 0);
    assert_int_equal(stored(n, 2), 50);
    wc_hint_delivery_get_stats(n->nodes[2].hd, &s);
    assert_true(s.apply_failed >= 5);
    assert_non_null(strstr(n->log, "disk full (test)"));
    wc_hint_delivery_get_stats(n->nodes[0].hd, &s);
    assert_int_equal(s.delivered, 0);
    assert_true(s.timeouts >= 5);
    n->nodes[2].apply_fails = false;
    run_until(n, 10000);
    assert_int_equal(check_applied(&n->nodes[2], 50), 0);
    assert_int_equal(stored(n, 2), 0);
    net_free(n);
}

/* The throttle bounds the bytes per second (virtual time). */
static void test_throttle(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;
    uint64_t took;

    (void)state;
    opts(&o);
    o.throttle_bytes_per_s = 50000;
    o.timeout_ms = 5000;
    n = net_new(&o, 5);
    add_hints(n, 1, 0, 100, 3600, 1000); /* about 1.1 kB per message */
    alive(n, 1);
    run_until(n, 20000);
    assert_int_equal(check_applied(&n->nodes[1], 100), 0);
    wc_hint_delivery_get_stats(n->nodes[0].hd, &s);
    took = n->nodes[1].last_apply_ms;
    /* the last message may leave once the bytes before it were paid for */
    assert_true(took * 50000 >= (s.sent_bytes - s.sent_bytes / 100 * 2) * 1000);
    assert_true(took <= s.sent_bytes * 1000 / 50000 + 200);
    net_free(n);

    /* small messages, a large window: well under a millisecond each, still throttled */
    o.throttle_bytes_per_s = 200000;
    o.window = 1000;
    n = net_new(&o, 5);
    add_hints(n, 1, 0, 1000, 3600, 0); /* about 70 bytes per message */
    alive(n, 1);
    run_until(n, 20000);
    assert_int_equal(check_applied(&n->nodes[1], 1000), 0);
    wc_hint_delivery_get_stats(n->nodes[0].hd, &s);
    took = n->nodes[1].last_apply_ms;
    assert_true(took * 200000 >= (s.sent_bytes - 200) * 1000);
    assert_true(took <= s.sent_bytes * 1000 / 200000 + 50);
    net_free(n);
}

/* Hints past their ttl are counted as expired and never sent. */
static void test_expired_not_sent(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hints_stats hs;
    wc_hint_delivery_stats s;

    (void)state;
    opts(&o);
    n = net_new(&o, 6);
    add_hints(n, 1, 0, 20, 5, 10);      /* live 5 s */
    add_hints(n, 1, 20, 10, 3600, 10);  /* live an hour */
    run_until(n, 6000);                 /* the first 20 expire while node 1 is down */
    alive(n, 1);
    run_until(n, 12000);
    assert_int_equal(n->nodes[1].napplied, 10);
    for (int k = 0; k < 10; k++)
        assert_int_equal(n->nodes[1].applied[k], 20 + k);
    wc_hints_get_stats(n->nodes[0].store, &hs);
    assert_int_equal(hs.expired, 20);
    assert_int_equal(hs.hints, 0);
    wc_hint_delivery_get_stats(n->nodes[0].hd, &s);
    assert_int_equal(s.sent, 10);
    net_free(n);
}

/* Malformed and misaddressed messages are dropped and logged; nothing is applied. */
static void test_malformed_messages(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;
    uint8_t m[128];
    const wc_addr *from;
    fnode *b;

    (void)state;
    opts(&o);
    n = net_new(&o, 7);
    b = &n->nodes[1];
    from = &n->nodes[0].env.self;
    memset(m, 0, sizeof(m));
    m[0] = WC_MSG_HINT;
    memcpy(m + 1, b->id, WC_HOST_ID_LEN);
    wc_enc_u64(m + 17, 42);           /* session */
    wc_enc_u64(m + 25, 1);            /* seq */
    wc_enc_u64(m + 33, (uint64_t)T0); /* created */
    wc_enc_u32(m + 41, 4);
    memcpy(m + 45, "ks.t", 4);
    wc_enc_u32(m + 49, 10);
    memcpy(m + 53, "hint-1-77", 10); /* a well-formed HINT is 63 bytes */
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 20));      /* short */
    wc_enc_u32(m + 41, 0xfffffff0u);                                   /* table past the end */
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 63));
    wc_enc_u32(m + 41, 4);
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 62));      /* batch cut */
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 64));      /* trailing byte */
    m[0] = WC_MSG_HINT_ACK;
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 5));       /* short ack */
    m[0] = WC_MSG_RANGE_HINTS + 7;
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 10));      /* unknown type */
    m[0] = WC_MSG_RANGE_COORDINATOR;
    assert_false(wc_hint_delivery_on_message(b->hd, from, m, 10));     /* not ours */
    m[0] = WC_MSG_HINT;
    m[5] ^= 1;                                                         /* another host id */
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 63));
    wc_hint_delivery_get_stats(b->hd, &s);
    assert_int_equal(s.malformed, 6);
    assert_int_equal(s.wrong_host, 1);
    assert_int_equal(b->napplied, 0);
    assert_non_null(strstr(n->log, "malformed HINT from 127.0.0.1:7000"));
    m[5] ^= 1; /* the well-formed one is applied once, a repeat acknowledged */
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 63));
    assert_true(wc_hint_delivery_on_message(b->hd, from, m, 63));
    wc_hint_delivery_get_stats(b->hd, &s);
    assert_int_equal(s.applied, 1);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(b->napplied, 1);
    assert_int_equal(b->applied[0], 77);
    net_free(n);
}

/*
 * A host replaced at the same address: hints for the old host id are refused
 * by the new host and stay stored; naming the new host id there stops the
 * old delivery, and the new host gets its own hints.
 */
static void test_host_replaced(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;
    uint8_t old_id[WC_HOST_ID_LEN];
    char batch[32];

    (void)state;
    opts(&o);
    n = net_new(&o, 8);
    memset(old_id, 0x55, sizeof(old_id));
    for (int i = 0; i < 5; i++) {
        snprintf(batch, sizeof(batch), "hint-9-%d", i);
        assert_int_equal(wc_hints_append(n->nodes[0].store, old_id, "ks.t", 4,
                                         (const uint8_t *)batch, strlen(batch) + 1, 3600,
                                         f_wall_us(&n->nodes[0].env), 0),
                         WC_OK);
    }
    add_hints(n, 1, 0, 30, 3600, 10);
    assert_int_equal(
        wc_hint_delivery_peer_alive(n->nodes[0].hd, &n->nodes[1].env.self, old_id), WC_OK);
    run_until(n, 2000);
    wc_hint_delivery_get_stats(n->nodes[1].hd, &s);
    assert_true(s.wrong_host >= 5);
    assert_int_equal(n->nodes[1].napplied, 0);
    alive(n, 1);
    run_until(n, 10000);
    assert_int_equal(check_applied(&n->nodes[1], 30), 0);
    assert_int_equal(stored(n, 1), 0);
    {
        wc_hints_target_stats ts;

        wc_hints_target_stats_get(n->nodes[0].store, old_id, &ts);
        assert_int_equal(ts.hints, 5);
    }
    net_free(n);
}

/* ---- on the deterministic simulator ---- */

typedef struct simh {
    wc_sim *sim;
    uint64_t seed;
    fnode nodes[NNODES];
    wc_hint_delivery_options o;
} simh;

static void sim_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    fnode *nd = ctx;

    if (nd->hd != NULL && !wc_hint_delivery_on_message(nd->hd, from, msg, len))
        fail_msg("message type %u not handled", msg[0]);
}

/* Node 0 is the sender: at every start it learns that nodes 1 and 2 are alive. */
static void sim_node_up(simh *h, fnode *nd)
{
    node_open(nd, &h->o);
    nd->envp->handlers = (wc_env_handlers){sim_message, NULL, nd};
    if (nd->index == 0)
        for (int t = 1; t < NNODES; t++)
            assert_int_equal(wc_hint_delivery_peer_alive(nd->hd, &h->nodes[t].envp->self,
                                                         h->nodes[t].id),
                             WC_OK);
}

static void sim_on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    simh *h = ctx;
    fnode *nd = &h->nodes[wc_sim_node_index(env)];

    if (ev == WC_SIM_NODE_CRASHED)
        node_close(nd);
    else
        sim_node_up(h, nd);
}

/*
 * Loss, duplicates, reordering, a partition, a crash of the receiver and a
 * crash of the sender while it delivers: every hint is applied, first
 * applications in order, and the sender's store ends empty.
 */
static void test_simulated_faults(void **state)
{
    simh h;
    wc_sim_options so;
    int part[NNODES] = {0, 1, 1};
    int r1, r2, before;

    (void)state;
    memset(&h, 0, sizeof(h));
    h.seed = simtest_seed(2026);
    opts(&h.o);
    h.o.throttle_bytes_per_s = 20000; /* about 4 s for all the hints */
    wc_sim_options_default(&so);
    so.loss = 0.1;
    so.duplicate = 0.05;
    so.delay_min_ms = 1;
    so.delay_max_ms = 40;
    so.on_node = sim_on_node;
    so.ctx = &h;
    assert_int_equal(wc_sim_create(h.seed, &so, &h.sim), WC_OK);
    for (int i = 0; i < NNODES; i++) {
        fnode *nd = &h.nodes[i];
        wc_addr a = {{0}, 7000};

        snprintf(a.host, sizeof(a.host), "127.0.0.%d", i + 1);
        nd->index = i;
        memset(nd->id, 0xa0 + i, WC_HOST_ID_LEN);
        nd->dir = wc_test_tmpdir("hdsim");
        nd->envp = wc_sim_add_node(h.sim, &a);
        assert_non_null(nd->envp);
        node_open(nd, &h.o);
        nd->envp->handlers = (wc_env_handlers){sim_message, NULL, nd};
    }
    store_hints(&h.nodes[0], &h.nodes[1], 0, 300, 3600, 100);
    store_hints(&h.nodes[0], &h.nodes[2], 0, 200, 3600, 100);
    node_close(&h.nodes[0]);
    sim_node_up(&h, &h.nodes[0]);

    wc_sim_run_for(h.sim, 1000);
    assert_int_equal(wc_sim_partition(h.sim, part, NNODES), WC_OK);
    wc_sim_run_for(h.sim, 3000);
    wc_sim_heal(h.sim);
    wc_sim_run_for(h.sim, 1000);
    wc_sim_crash(h.sim, h.nodes[1].envp);
    wc_sim_run_for(h.sim, 1000);
    wc_sim_restart(h.sim, h.nodes[1].envp);
    /* the restarted receiver lost the session: the sender must start a new one */
    before = h.nodes[1].napplied;
    SIM_CHECK(h.seed, before < 300, "delivery to node 1 ended before its crash");
    wc_sim_run_for(h.sim, 3000);
    SIM_CHECK(h.seed, h.nodes[1].napplied > before, "no progress after the receiver restarted");
    SIM_CHECK(h.seed, h.nodes[2].napplied < 200, "delivery to node 2 ended before the sender crash");
    wc_sim_crash(h.sim, h.nodes[0].envp);
    wc_sim_run_for(h.sim, 1000);
    wc_sim_restart(h.sim, h.nodes[0].envp);
    wc_sim_run_for(h.sim, 60000);

    if (getenv("WC_HD_VERBOSE")) {
        for (int i = 0; i < NNODES; i++) {
            wc_hint_delivery_stats ds;

            wc_hint_delivery_get_stats(h.nodes[i].hd, &ds);
            printf("node %d: sent %llu delivered %llu timeouts %llu fast resends %llu "
                   "applied %llu repeats %llu out of order %llu\n",
                   i, (unsigned long long)ds.sent, (unsigned long long)ds.delivered,
                   (unsigned long long)ds.timeouts, (unsigned long long)ds.fast_resends,
                   (unsigned long long)ds.applied, (unsigned long long)ds.duplicates,
                   (unsigned long long)ds.out_of_order);
        }
    }
    r1 = check_applied(&h.nodes[1], 300);
    r2 = check_applied(&h.nodes[2], 200);
    SIM_CHECK(h.seed, r1 >= 0 && r2 >= 0, "hints missing or out of order");
    {
        wc_hints_stats hs;

        wc_hints_get_stats(h.nodes[0].store, &hs);
        SIM_CHECK(h.seed, hs.hints == 0, "%llu hints left on the sender",
                  (unsigned long long)hs.hints);
    }
    for (int i = 0; i < NNODES; i++) {
        node_close(&h.nodes[i]);
        wc_test_rmrf(h.nodes[i].dir);
        free(h.nodes[i].dir);
    }
    wc_sim_destroy(h.sim);
}

/*
 * Handoff (a leaving node): node 0 holds hints for node 1, which is down,
 * and for node 2, and hands them over to node 2 under 20% loss.  Node 2
 * applies its own and keeps node 1's; node 0 holds none any more.  Node 1
 * comes back: node 2 delivers them all, in order.
 */
static void test_handoff(void **state)
{
    wc_hint_delivery_options o;
    fnet *n;
    wc_hint_delivery_stats s;
    wc_hints_stats hs;
    wc_hints_target_stats ts;

    (void)state;
    opts(&o);
    n = net_new(&o, 11);
    n->loss_pct = 20;
    n->nodes[1].down = true;
    add_hints(n, 1, 0, 150, 3600, 30);
    add_hints(n, 2, 0, 60, 3600, 30);
    assert_int_equal(wc_hint_delivery_handoff(n->nodes[0].hd, &n->nodes[2].env.self,
                                              n->nodes[2].id),
                     WC_OK);
    /* a hint stored after the handoff began goes the same way */
    add_hints(n, 1, 150, 10, 3600, 30);
    run_until(n, 60000);
    wc_hints_get_stats(n->nodes[0].store, &hs);
    assert_int_equal(hs.hints, 0);
    assert_true(check_applied(&n->nodes[2], 60) >= 0);
    assert_int_equal(n->nodes[1].napplied, 0);
    wc_hints_target_stats_get(n->nodes[2].store, n->nodes[1].id, &ts);
    assert_true(ts.hints >= 160); /* a session started again keeps a suffix twice */
    wc_hint_delivery_get_stats(n->nodes[2].hd, &s);
    assert_true(s.kept >= 160);
    n->nodes[1].down = false;
    assert_int_equal(wc_hint_delivery_peer_alive(n->nodes[2].hd, &n->nodes[1].env.self,
                                                 n->nodes[1].id),
                     WC_OK);
    run_until(n, 120000);
    assert_true(check_applied(&n->nodes[1], 160) >= 0);
    wc_hints_target_stats_get(n->nodes[2].store, n->nodes[1].id, &ts);
    assert_int_equal(ts.hints, 0);
    net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_delivered_in_order),
        cmocka_unit_test(test_loss_and_timeouts),
        cmocka_unit_test(test_peer_down_and_restart),
        cmocka_unit_test(test_apply_fails),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_expired_not_sent),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_host_replaced),
        cmocka_unit_test(test_handoff),
        cmocka_unit_test(test_simulated_faults),
    };
    return cmocka_run_group_tests_name("hint_delivery", tests, NULL, NULL);
}
