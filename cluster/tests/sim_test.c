/*
 * sim_test.c - the simulator itself: timer order and cancellation, delay,
 * loss, duplication and reordering of messages, partitions, crashes that
 * drop timers and in-flight messages, per-node clocks and PRNG streams,
 * replay by seed, and the speed of 100 nodes over 10 virtual minutes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "simtest.h"

static wc_addr addr_of(int i)
{
    wc_addr a;

    memset(&a, 0, sizeof(a));
    snprintf(a.host, sizeof(a.host), "10.0.%d.%d", i / 250, i % 250 + 1);
    a.port = 7000;
    return a;
}

/* ---------------------------------------------------------------- timers */

typedef struct fired {
    int order[16];
    uint64_t at[16];
    int n;
    wc_env *env;
} fired;

typedef struct timer_arg {
    fired *f;
    int tag;
} timer_arg;

static void on_timer(void *arg)
{
    timer_arg *t = arg;

    t->f->order[t->f->n] = t->tag;
    t->f->at[t->f->n++] = wc_env_now_ms(t->f->env);
}

static void test_timers(void **state)
{
    uint64_t seed = simtest_seed(1);
    wc_sim *sim;
    wc_addr a = addr_of(0);
    wc_env *env;
    fired f = {0};
    timer_arg t[5];
    uint64_t id[5];

    (void)state;
    assert_int_equal(wc_sim_create(seed, NULL, &sim), WC_OK);
    env = wc_sim_add_node(sim, &a);
    assert_non_null(env);
    assert_null(wc_sim_add_node(sim, &a)); /* address taken */
    f.env = env;
    for (int i = 0; i < 5; i++) {
        t[i].f = &f;
        t[i].tag = i;
    }
    /* same due time: in order of scheduling; earlier due time first */
    id[0] = env->ops->timer_start(env, 50, on_timer, &t[0]);
    id[1] = env->ops->timer_start(env, 20, on_timer, &t[1]);
    id[2] = env->ops->timer_start(env, 50, on_timer, &t[2]);
    id[3] = env->ops->timer_start(env, 30, on_timer, &t[3]);
    id[4] = env->ops->timer_start(env, 50, on_timer, &t[4]);
    for (int i = 0; i < 5; i++)
        assert_true(id[i] != 0);
    env->ops->timer_cancel(env, id[3]);
    env->ops->timer_cancel(env, id[3]); /* twice: ignored */
    wc_sim_run_until(sim, 49);
    assert_int_equal(f.n, 1);
    assert_int_equal(wc_sim_now(sim), 49);
    wc_sim_run_for(sim, 1);
    assert_int_equal(f.n, 4);
    assert_int_equal(f.order[0], 1);
    assert_int_equal(f.at[0], 20);
    assert_int_equal(f.order[1], 0);
    assert_int_equal(f.order[2], 2);
    assert_int_equal(f.order[3], 4);
    assert_int_equal(f.at[3], 50);
    env->ops->timer_cancel(env, id[0]); /* already fired: ignored */
    assert_false(wc_sim_step(sim));
    wc_sim_destroy(sim);
}

/* ---------------------------------------------------------------- network */

typedef struct inbox {
    int n;
    uint32_t last_seq;
    int reordered;
    uint64_t min_delay, max_delay;
    uint32_t seen[2048];
} inbox;

static void on_msg(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    inbox *in = ctx;
    uint32_t seq;

    (void)from;
    assert_int_equal(len, 12);
    memcpy(&seq, msg, 4);
    if (in->n > 0 && seq < in->last_seq)
        in->reordered++;
    in->last_seq = seq;
    if (seq < 2048)
        in->seen[seq]++;
    in->n++;
}

typedef struct clocked_inbox {
    inbox in;
    wc_env *env;
} clocked_inbox;

static void on_msg_clocked(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    clocked_inbox *ci = ctx;
    uint64_t sent_at, d;

    on_msg(&ci->in, from, msg, len);
    memcpy(&sent_at, msg + 4, 8);
    d = wc_env_now_ms(ci->env) - sent_at;
    if (ci->in.n == 1 || d < ci->in.min_delay)
        ci->in.min_delay = d;
    if (d > ci->in.max_delay)
        ci->in.max_delay = d;
}

static void send_seq(wc_env *from, const wc_addr *to, uint32_t seq)
{
    uint8_t m[12];
    uint64_t now = wc_env_now_ms(from);

    memcpy(m, &seq, 4);
    memcpy(m + 4, &now, 8);
    assert_int_equal(from->ops->send(from, to, m, sizeof(m)), WC_OK);
}

static void test_delay_loss_duplication(void **state)
{
    uint64_t seed = simtest_seed(2);
    wc_sim_options o;
    wc_sim *sim;
    wc_addr a = addr_of(0), b = addr_of(1), nobody = addr_of(9);
    wc_env *ea, *eb;
    clocked_inbox ci;
    wc_sim_stats st;
    int dups = 0, missing = 0;

    (void)state;
    wc_sim_options_default(&o);
    o.loss = 0.2;
    o.duplicate = 0.1;
    o.delay_min_ms = 5;
    o.delay_max_ms = 40;
    assert_int_equal(wc_sim_create(seed, &o, &sim), WC_OK);
    ea = wc_sim_add_node(sim, &a);
    eb = wc_sim_add_node(sim, &b);
    memset(&ci, 0, sizeof(ci));
    ci.env = eb;
    eb->handlers.on_message = on_msg_clocked;
    eb->handlers.ctx = &ci;
    assert_int_equal(ea->ops->send(ea, &b, (const uint8_t *)"", 0), WC_INVALID_ARGUMENT);
    for (uint32_t i = 0; i < 2000; i++) {
        send_seq(ea, &b, i);
        if (i % 4 == 3)
            wc_sim_run_for(sim, 1);
    }
    send_seq(ea, &nobody, 0); /* dropped like a refused connection */
    wc_sim_run_for(sim, 100);
    wc_sim_get_stats(sim, &st);
    for (int i = 0; i < 2000; i++) {
        dups += ci.in.seen[i] > 1;
        missing += ci.in.seen[i] == 0;
    }
    SIM_CHECK(seed, missing > 300 && missing < 500, "%d of 2000 lost at 20%%", missing);
    SIM_CHECK(seed, (uint64_t)missing == st.lost, "lost %d, stats say %llu", missing,
              (unsigned long long)st.lost);
    SIM_CHECK(seed, dups > 100 && (uint64_t)dups == st.duplicated, "%d duplicated", dups);
    SIM_CHECK(seed, ci.in.reordered > 100, "only %d messages overtaken", ci.in.reordered);
    SIM_CHECK(seed, ci.in.min_delay >= 5 && ci.in.max_delay <= 40, "delay %llu..%llu",
              (unsigned long long)ci.in.min_delay, (unsigned long long)ci.in.max_delay);
    assert_int_equal(st.delivered, (uint64_t)ci.in.n);
    assert_int_equal(st.dropped_down, 1);
    /* loss can change during a run: everything lost, then nothing */
    wc_sim_set_loss(sim, 1.0);
    for (uint32_t i = 0; i < 100; i++)
        send_seq(ea, &b, i);
    wc_sim_run_for(sim, 100);
    assert_int_equal(ci.in.n, (int)st.delivered);
    wc_sim_set_loss(sim, 0.0);
    send_seq(ea, &b, 1);
    wc_sim_run_for(sim, 100);
    assert_true(ci.in.n >= (int)st.delivered + 1);
    wc_sim_destroy(sim);
}

/* ---------------------------------------------------------------- partitions, crashes */

typedef struct lifecycle {
    int crashed, restarted;
    wc_env *last;
} lifecycle;

static void on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    lifecycle *l = ctx;

    l->last = env;
    if (ev == WC_SIM_NODE_CRASHED)
        l->crashed++;
    else
        l->restarted++;
}

static void test_partition_crash_restart(void **state)
{
    uint64_t seed = simtest_seed(3);
    wc_sim_options o;
    wc_sim *sim;
    wc_addr a = addr_of(0), b = addr_of(1), c = addr_of(2);
    wc_env *ea, *eb, *ec;
    inbox ib, ic;
    lifecycle l = {0};
    fired f = {0};
    timer_arg t = {&f, 7};
    int groups[3] = {0, 1, 1};

    (void)state;
    wc_sim_options_default(&o);
    o.on_node = on_node;
    o.ctx = &l;
    assert_int_equal(wc_sim_create(seed, &o, &sim), WC_OK);
    ea = wc_sim_add_node(sim, &a);
    eb = wc_sim_add_node(sim, &b);
    ec = wc_sim_add_node(sim, &c);
    assert_int_equal(wc_sim_node_count(sim), 3);
    assert_ptr_equal(wc_sim_node(sim, 2), ec);
    assert_int_equal(wc_sim_node_index(eb), 1);
    memset(&ib, 0, sizeof(ib));
    memset(&ic, 0, sizeof(ic));
    eb->handlers = (wc_env_handlers){on_msg, NULL, &ib};
    ec->handlers = (wc_env_handlers){on_msg, NULL, &ic};

    /* a message in flight when the partition starts is dropped too */
    send_seq(ea, &b, 1);
    assert_int_equal(wc_sim_partition(sim, groups, 2), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_sim_partition(sim, groups, 3), WC_OK);
    send_seq(ea, &c, 2);
    send_seq(eb, &c, 3); /* same side */
    wc_sim_run_for(sim, 50);
    assert_int_equal(ib.n, 0);
    assert_int_equal(ic.n, 1);
    wc_sim_heal(sim);
    send_seq(ea, &b, 4);
    wc_sim_run_for(sim, 50);
    assert_int_equal(ib.n, 1);

    /* a crash drops the node's timers and the messages to and from it */
    f.env = eb;
    eb->ops->timer_start(eb, 10, on_timer, &t);
    send_seq(ea, &b, 5);
    send_seq(eb, &c, 6);
    assert_int_equal(eb->ops->post(eb, on_timer, &t), WC_OK);
    wc_sim_crash(sim, eb);
    assert_int_equal(l.crashed, 1);
    assert_ptr_equal(l.last, eb);
    assert_false(wc_sim_is_up(eb));
    assert_null(eb->handlers.on_message);
    assert_int_equal(eb->ops->post(eb, on_timer, &t), WC_UNAVAILABLE);
    wc_sim_run_for(sim, 50);
    assert_int_equal(f.n, 0);
    assert_int_equal(ic.n, 1);
    send_seq(ea, &b, 7); /* to a crashed node: dropped */
    wc_sim_run_for(sim, 50);

    wc_sim_restart(sim, eb);
    assert_int_equal(l.restarted, 1);
    assert_true(wc_sim_is_up(eb));
    eb->handlers = (wc_env_handlers){on_msg, NULL, &ib};
    send_seq(ea, &b, 8);
    wc_sim_run_for(sim, 50);
    assert_int_equal(ib.n, 2);
    assert_int_equal(ib.last_seq, 8);
    wc_sim_destroy(sim);
}

static void test_clocks_and_streams(void **state)
{
    uint64_t seed = simtest_seed(4);
    wc_sim_options o;
    wc_sim *s1, *s2;
    wc_addr a = addr_of(0), b = addr_of(1);
    wc_env *a1, *b1, *a2;
    int64_t d;

    (void)state;
    wc_sim_options_default(&o);
    o.max_skew_ms = 300;
    assert_int_equal(wc_sim_create(seed, &o, &s1), WC_OK);
    assert_int_equal(wc_sim_create(seed, &o, &s2), WC_OK);
    a1 = wc_sim_add_node(s1, &a);
    b1 = wc_sim_add_node(s1, &b);
    a2 = wc_sim_add_node(s2, &a);
    /* skew within bounds, different per node, the wall clock follows virtual time */
    d = wc_env_wall_us(a1) - o.wall_start_us;
    assert_true(d >= -300000 && d <= 300000);
    assert_true(wc_env_wall_us(a1) != wc_env_wall_us(b1));
    wc_sim_run_for(s1, 1500);
    assert_int_equal(wc_env_wall_us(a1) - o.wall_start_us - d, 1500000);
    /* a node's stream depends on the seed and its index only */
    assert_true(wc_env_random(a1) != wc_env_random(b1));
    for (int i = 0; i < 10; i++)
        wc_env_random(b1);
    {
        uint64_t x = wc_env_random(a1); /* a1's second draw */
        wc_env_random(a2);
        assert_int_equal(x, wc_env_random(a2));
    }
    wc_sim_destroy(s1);
    wc_sim_destroy(s2);
}

/* ---------------------------------------------------------------- replay and scale */

typedef struct chatter {
    wc_sim *sim;
    wc_env *env;
    uint64_t received;
} chatter;

static void chatter_tick(void *arg)
{
    chatter *c = arg;
    size_t n = wc_sim_node_count(c->sim);
    wc_env *peer = wc_sim_node(c->sim, wc_env_random(c->env) % n);
    uint8_t msg[64];

    memset(msg, (int)(c->received & 0xff), sizeof(msg));
    c->env->ops->send(c->env, &peer->self, msg, 16 + wc_env_random(c->env) % 48);
    c->env->ops->timer_start(c->env, 900 + wc_env_random(c->env) % 200, chatter_tick, c);
}

static void chatter_msg(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    chatter *c = ctx;

    (void)from;
    (void)msg;
    c->received += len;
}

/* n nodes gossiping noise for ms of virtual time; returns the trace hash. */
static uint64_t chatter_run(uint64_t seed, int n, uint64_t ms, double loss, uint64_t *delivered)
{
    wc_sim_options o;
    wc_sim *sim;
    chatter *c = calloc((size_t)n, sizeof(*c));
    wc_sim_stats st;
    uint64_t h;

    wc_sim_options_default(&o);
    o.loss = loss;
    o.duplicate = 0.01;
    assert_int_equal(wc_sim_create(seed, &o, &sim), WC_OK);
    for (int i = 0; i < n; i++) {
        wc_addr a = addr_of(i);
        c[i].sim = sim;
        c[i].env = wc_sim_add_node(sim, &a);
        c[i].env->handlers = (wc_env_handlers){chatter_msg, NULL, &c[i]};
        c[i].env->ops->timer_start(c[i].env, wc_env_random(c[i].env) % 1000, chatter_tick, &c[i]);
    }
    wc_sim_run_for(sim, ms / 2);
    wc_sim_crash(sim, c[1].env);
    wc_sim_run_for(sim, ms / 2);
    h = wc_sim_trace_hash(sim);
    wc_sim_get_stats(sim, &st);
    *delivered = st.delivered;
    wc_sim_destroy(sim);
    free(c);
    return h;
}

static void test_same_seed_same_run(void **state)
{
    uint64_t seed = simtest_seed(5), d1, d2, d3;
    uint64_t h1, h2, h3;

    (void)state;
    h1 = chatter_run(seed, 10, 60000, 0.05, &d1);
    h2 = chatter_run(seed, 10, 60000, 0.05, &d2);
    h3 = chatter_run(seed + 1, 10, 60000, 0.05, &d3);
    SIM_CHECK(seed, h1 == h2 && d1 == d2, "same seed, different runs: %016llx %016llx",
              (unsigned long long)h1, (unsigned long long)h2);
    SIM_CHECK(seed, h1 != h3, "seeds %llu and %llu gave the same trace", (unsigned long long)seed,
              (unsigned long long)seed + 1);
    SIM_CHECK(seed, d1 > 500, "only %llu messages delivered", (unsigned long long)d1);
}

static void test_scale(void **state)
{
    uint64_t seed = simtest_seed(6), delivered;
    struct timespec t0, t1;
    double secs;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    chatter_run(seed, 100, 600000, 0.01, &delivered);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("simulator: 100 nodes, 600 virtual s, %llu messages in %.2f s\n",
           (unsigned long long)delivered, secs);
    SIM_CHECK(seed, delivered > 50000, "%llu delivered", (unsigned long long)delivered);
    SIM_CHECK(seed, secs < 5.0, "100 nodes for 10 virtual minutes took %.1f s", secs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_delay_loss_duplication),
        cmocka_unit_test(test_partition_crash_restart),
        cmocka_unit_test(test_clocks_and_streams),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_scale),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
