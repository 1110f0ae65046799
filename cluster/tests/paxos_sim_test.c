/*
 * paxos_sim_test.c - lightweight transactions (paxos.h) in the simulator:
 * many concurrent compare-and-set operations on a few keys under message
 * loss, delay, duplication and crashes of a minority, their history
 * checked by a linearizability checker for single-key registers; a
 * proposal in progress left by a dead coordinator completed by the next
 * round; promises that survive a restart; a replica's ballot rules
 * (promise only newer ballots, accept ballots not older than the promise),
 * also after its restart; two coordinators on both sides of a partition
 * never both winning; the state file and its damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "coordsim.h"
#include "paxos.h"

#define VAL_MAX 24
#define MAX_OPS 1024
#define MAX_CLIENTS 16

/* ---------------------------------------------------------------- a simulated cluster with paxos */

typedef struct memlog {
    wc_buf recs; /* u32 length + payload each: survives the node's crashes */
} memlog;

typedef struct psim {
    csim *cs;
    wc_paxos *px[CS_MAX_NODES];
    memlog log[CS_MAX_NODES];
    bool drop_commits_from[CS_MAX_NODES]; /* COMMIT messages this node sends are lost */
    bool capture_at[CS_MAX_NODES];        /* PROMISE/ACCEPTED to this node: kept in reply */
    wc_buf reply;                         /* the last one kept */
    bool forget_on_restart;               /* a restarted node loses its state (must fail) */
} psim;

static wc_status mem_append(void *ctx, const uint8_t *rec, size_t len)
{
    memlog *m = ctx;

    wc_buf_put_u32(&m->recs, (uint32_t)len);
    wc_buf_append(&m->recs, rec, len);
    return wc_buf_status(&m->recs);
}

static wc_status mem_rewrite(void *ctx, const uint8_t *recs, size_t len)
{
    memlog *m = ctx;

    wc_buf_reset(&m->recs);
    wc_buf_append(&m->recs, recs, len);
    return wc_buf_status(&m->recs);
}

static wc_status mem_load(void *ctx, wc_buf *out)
{
    memlog *m = ctx;

    wc_buf_append(out, m->recs.data, m->recs.len);
    return wc_buf_status(out);
}

static void ps_start(psim *s, cnode *n)
{
    wc_paxos_options o;

    memset(&o, 0, sizeof(o));
    o.env = n->env;
    o.coord = n->coord;
    o.store = model_store_iface(n->store);
    o.self_id[0] = (uint8_t)n->idx;
    o.self_id[1] = (uint8_t)(n->idx >> 8);
    o.self_id[2] = 0xcc;
    snprintf(o.self_dc, sizeof(o.self_dc), "%s", n->dc);
    o.is_alive = cs_is_alive;
    o.replication = cs_replication;
    o.ctx = n;
    o.storage = (wc_paxos_storage){mem_append, mem_rewrite, mem_load, &s->log[n->idx]};
    assert_int_equal(wc_paxos_create(&o, &s->px[n->idx]), WC_OK);
    wc_paxos_set_ring(s->px[n->idx], n->cs->ring);
}

static void ps_node_hook(cnode *n, bool up)
{
    psim *s = n->cs->hook_ctx;

    if (up) {
        if (s->forget_on_restart)
            wc_buf_reset(&s->log[n->idx].recs);
        ps_start(s, n);
    } else {
        /* before the coordinator: a read in flight is left to it */
        wc_paxos_destroy(s->px[n->idx]);
        s->px[n->idx] = NULL;
    }
}

static bool ps_msg_hook(cnode *n, const wc_addr *from, const uint8_t *msg, size_t len)
{
    psim *s = n->cs->hook_ctx;

    if (len == 0 || msg[0] < WC_MSG_PAXOS_FIRST || msg[0] > WC_MSG_PAXOS_LAST)
        return false;
    for (uint32_t i = 0; i < n->cs->n; i++)
        if (s->drop_commits_from[i] && msg[0] == WC_MSG_PAXOS_COMMIT &&
            wc_addr_equal(from, &n->cs->nodes[i].env->self))
            return true;
    if (s->capture_at[n->idx] &&
        (msg[0] == WC_MSG_PAXOS_PROMISE || msg[0] == WC_MSG_PAXOS_ACCEPTED)) {
        wc_buf_reset(&s->reply);
        wc_buf_append(&s->reply, msg, len);
        return true;
    }
    if (s->px[n->idx])
        wc_paxos_on_message(s->px[n->idx], from, msg, len);
    return true;
}

static psim *ps_new(uint64_t seed, uint32_t nodes, uint32_t rf, const wc_sim_options *so)
{
    psim *s = calloc(1, sizeof(*s));
    wc_replication r;

    printf("seed=%" PRIu64 "\n", seed);
    cs_simple(&r, rf);
    s->cs = cs_new(seed, nodes, NULL, &r, so);
    s->cs->hook_ctx = s;
    s->cs->node_hook = ps_node_hook;
    s->cs->msg_hook = ps_msg_hook;
    wc_buf_init(&s->reply);
    for (uint32_t i = 0; i < nodes; i++) {
        wc_buf_init(&s->log[i].recs);
        ps_start(s, &s->cs->nodes[i]);
    }
    return s;
}

static void ps_free(psim *s)
{
    for (uint32_t i = 0; i < s->cs->n; i++) {
        wc_paxos_destroy(s->px[i]);
        s->px[i] = NULL;
        wc_buf_free(&s->log[i].recs);
    }
    cs_free(s->cs);
    wc_buf_free(&s->reply);
    free(s);
}

/* ---------------------------------------------------------------- operations on a register */

/* The register of key pk is the value of column 1 of row "r" ("" when absent). */
#define REG_CK "r"

typedef enum { OP_READ, OP_CAS } op_kind;
typedef enum { RES_PENDING, RES_OK, RES_FAIL, RES_UNKNOWN } op_res;

typedef struct op {
    op_kind kind;
    int key;
    char expect[VAL_MAX], value[VAL_MAX]; /* CAS: expect ("" absent) -> value */
    char seen[VAL_MAX];                   /* READ: the value read */
    bool applied;
    op_res res;
    uint64_t invoke, ret;
    wc_paxos_result pr;
} op;

static void reg_value(const uint8_t *raw, size_t len, char *out)
{
    size_t vlen = 0;
    const uint8_t *v = raw ? model_raw_value(raw, len, REG_CK, &vlen) : NULL;

    out[0] = '\0';
    if (v)
        snprintf(out, VAL_MAX, "%.*s", (int)vlen, (const char *)v);
}

typedef struct call {
    psim *s;
    op *o;
    char pk[16];
} call;

static wc_status cas_decide(void *arg, const uint8_t *raw, size_t len, int64_t ts_us, bool *apply,
                            wc_buf *out)
{
    call *c = arg;
    char cur[VAL_MAX];

    reg_value(raw, len, cur);
    *apply = strcmp(cur, c->o->expect) == 0;
    if (*apply)
        model_batch_one(out, CS_TABLE, c->pk, REG_CK, c->o->value, ts_us);
    return WC_OK;
}

static void cas_done(void *arg, const wc_paxos_result *res, const uint8_t *cur, size_t len)
{
    call *c = arg;
    op *o = c->o;

    o->pr = *res;
    o->ret = wc_sim_now(c->s->cs->sim);
    if (res->status == WC_OK) {
        o->res = RES_OK;
        o->applied = res->applied;
        if (o->kind == OP_READ)
            reg_value(cur, len, o->seen);
    } else if (!res->unknown || o->kind == OP_READ) {
        o->res = RES_FAIL; /* known not applied (a read changes nothing) */
    } else {
        o->res = RES_UNKNOWN;
    }
    free(c);
}

static void start_op(psim *s, uint32_t node, op *o, uint32_t timeout_ms)
{
    call *c = calloc(1, sizeof(*c));
    wc_store_read r;

    c->s = s;
    c->o = o;
    snprintf(c->pk, sizeof(c->pk), "k%d", o->key);
    memset(&r, 0, sizeof(r));
    r.table_id = CS_TABLE;
    r.pk = (const uint8_t *)c->pk;
    r.pk_len = strlen(c->pk);
    r.start.unbounded = r.end.unbounded = true;
    o->res = RES_PENDING;
    o->invoke = wc_sim_now(s->cs->sim);
    wc_paxos_cas(s->px[node], &r, WC_CL_SERIAL, timeout_ms, o->kind == OP_CAS ? cas_decide : NULL,
                 c, cas_done, c);
}

static void run_op(psim *s, uint32_t node, op *o, uint32_t timeout_ms)
{
    start_op(s, node, o, timeout_ms);
    for (int i = 0; i < 20000 && o->res == RES_PENDING; i++)
        wc_sim_run_for(s->cs->sim, 1);
    SIM_CHECK(s->cs->seed, o->res != RES_PENDING, "operation never ended");
}

/* ---------------------------------------------------------------- linearizability checker */

/*
 * A search in the style of Wing & Gong (with Lowe's memoization): an
 * operation may be linearized next if it was invoked before every
 * operation still pending returned; definite operations must all be
 * linearized, an unknown CAS may take effect any time after its invoke or
 * never.  (mask of linearized operations, register value) pairs already
 * explored are remembered.
 */
typedef struct lin {
    op *ops[64];
    int n;
    uint64_t must; /* mask of definite operations */
    uint64_t *seen_mask;
    int *seen_val;
    size_t nseen, cap;
    char vals[160][VAL_MAX];
    int nvals;
    long steps;
} lin;

static int lin_val(lin *l, const char *v)
{
    for (int i = 0; i < l->nvals; i++)
        if (strcmp(l->vals[i], v) == 0)
            return i;
    assert_true(l->nvals < 160);
    snprintf(l->vals[l->nvals], VAL_MAX, "%s", v);
    return l->nvals++;
}

static bool lin_seen(lin *l, uint64_t mask, int val)
{
    for (size_t i = 0; i < l->nseen; i++)
        if (l->seen_mask[i] == mask && l->seen_val[i] == val)
            return true;
    if (l->nseen == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->seen_mask = realloc(l->seen_mask, l->cap * sizeof(uint64_t));
        l->seen_val = realloc(l->seen_val, l->cap * sizeof(int));
    }
    l->seen_mask[l->nseen] = mask;
    l->seen_val[l->nseen] = val;
    l->nseen++;
    return false;
}

static bool lin_search(lin *l, uint64_t done, int val)
{
    uint64_t horizon = UINT64_MAX;

    if ((done & l->must) == l->must)
        return true;
    if (lin_seen(l, done, val) || ++l->steps > 5000000)
        return false;
    for (int i = 0; i < l->n; i++)
        if (!(done & (1ull << i)) && (l->must & (1ull << i)) && l->ops[i]->ret < horizon)
            horizon = l->ops[i]->ret;
    for (int i = 0; i < l->n; i++) {
        op *o = l->ops[i];
        int next = val;

        if ((done & (1ull << i)) || o->invoke > horizon)
            continue;
        if (o->kind == OP_READ) {
            if (lin_val(l, o->seen) != val)
                continue;
        } else if (o->res == RES_OK && !o->applied) {
            if (lin_val(l, o->expect) == val)
                continue;
        } else {
            /* applied, or unknown taking effect (an unknown without effect is never linearized) */
            if (lin_val(l, o->expect) != val)
                continue;
            next = lin_val(l, o->value);
        }
        if (lin_search(l, done | (1ull << i), next))
            return true;
    }
    return false;
}

/* Whether the history of key (ops that did not fail) is linearizable from the absent register. */
static bool linearizable(op *ops, int nops, int key, int *counted)
{
    lin l;
    bool ok;

    memset(&l, 0, sizeof(l));
    lin_val(&l, "");
    for (int i = 0; i < nops; i++) {
        op *o = &ops[i];

        if (o->key != key || o->res == RES_FAIL || o->res == RES_PENDING)
            continue;
        assert_true(l.n < 64);
        if (o->res == RES_UNKNOWN)
            o->ret = UINT64_MAX;
        else
            l.must |= 1ull << l.n;
        l.ops[l.n++] = o;
    }
    *counted = l.n;
    ok = lin_search(&l, 0, 0);
    free(l.seen_mask);
    free(l.seen_val);
    return ok;
}

/* The operations of key in ops[0..n), for a failing seed. */
static void print_history(const op *ops, int n, int key)
{
    static const char *const res[] = {"pending", "ok", "fail", "unknown"};

    for (int i = 0; i < n; i++) {
        const op *o = &ops[i];

        if (o->key != key || o->res == RES_FAIL)
            continue;
        if (o->kind == OP_READ)
            printf("  [%" PRIu64 ", %" PRIu64 "] read -> \"%s\" (%s)\n", o->invoke, o->ret, o->seen,
                   res[o->res]);
        else
            printf("  [%" PRIu64 ", %" PRIu64 "] cas \"%s\" -> \"%s\": %s%s\n", o->invoke, o->ret,
                   o->expect, o->value, res[o->res],
                   o->res == RES_OK ? (o->applied ? " applied" : " not applied") : "");
    }
}

/* The checker itself: a stale read after a completed write is caught. */
static void test_checker_catches_a_stale_read(void **state)
{
    op h[3];
    int n;

    (void)state;
    memset(h, 0, sizeof(h));
    h[0] = (op){.kind = OP_CAS, .key = 0, .applied = true, .res = RES_OK, .invoke = 1, .ret = 5};
    snprintf(h[0].value, VAL_MAX, "a");
    h[1] = (op){.kind = OP_READ, .key = 0, .res = RES_OK, .invoke = 6, .ret = 8};
    /* a read after the write completed must see it */
    snprintf(h[1].seen, VAL_MAX, "a");
    assert_true(linearizable(h, 2, 0, &n));
    h[1].seen[0] = '\0';
    assert_false(linearizable(h, 2, 0, &n));
    /* overlapping, the read may come first */
    h[1].invoke = 3;
    assert_true(linearizable(h, 2, 0, &n));
    /* two applied IF NOT EXISTS: never both */
    h[2] = h[0];
    snprintf(h[2].value, VAL_MAX, "b");
    h[1].seen[0] = 'a';
    assert_false(linearizable(h, 3, 0, &n));
    /* one of them unknown: still only one may take effect */
    h[2].res = RES_UNKNOWN;
    assert_true(linearizable(h, 3, 0, &n));
}

/* ---------------------------------------------------------------- random histories */

typedef struct client {
    uint32_t node;
    op *cur;
    int key;            /* of its last read */
    bool cas_next;      /* a CAS from what it read comes next */
    char last[VAL_MAX]; /* what it last read */
} client;

static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/*
 * nclients clients on random nodes run nops operations on nkeys keys
 * (reads and CAS from what they last saw); with crashes, one node at a
 * time crashes and comes back.  Every key's history must be linearizable.
 */
static void random_history(uint64_t seed, double loss, bool crashes, int nkeys, int nclients,
                           int nops, uint32_t timeout_ms, int *n_applied, int *n_unknown)
{
    wc_sim_options so;
    psim *s;
    op *ops = calloc(MAX_OPS, sizeof(op));
    client cl[MAX_CLIENTS];
    uint64_t rs = seed ^ 0xabcdef;
    int started = 0, applied = 0, unknown = 0;
    int crashed = -1;
    uint64_t next_fault = 200;

    wc_sim_options_default(&so);
    so.loss = loss;
    so.duplicate = loss > 0 ? 0.02 : 0;
    so.delay_min_ms = 1;
    so.delay_max_ms = 15;
    s = ps_new(seed, 5, 3, &so);
    memset(cl, 0, sizeof(cl));
    for (int i = 0; i < nclients; i++)
        cl[i].node = (uint32_t)(i % 5);
    while (started < nops || crashed >= 0) {
        bool busy = false;

        for (int i = 0; i < nclients; i++) {
            client *c = &cl[i];

            if (c->cur && c->cur->res != RES_PENDING) {
                c->cas_next = c->cur->res == RES_OK && c->cur->kind == OP_READ;
                if (c->cas_next) {
                    snprintf(c->last, VAL_MAX, "%s", c->cur->seen);
                    c->key = c->cur->key;
                }
                c->cur = NULL;
            }
            if (c->cur) {
                busy = true;
                continue;
            }
            if (started >= nops || !wc_sim_is_up(s->cs->nodes[c->node].env) ||
                mix(&rs) % 4 != 0)
                continue;
            {
                op *o = &ops[started++];
                uint64_t dice = mix(&rs) % 8;

                if (c->cas_next && dice != 0) {
                    /* a CAS from what it read (stale if another client got there first) */
                    o->kind = OP_CAS;
                    o->key = c->key;
                    snprintf(o->expect, VAL_MAX, "%s", c->last);
                } else if (dice == 0) {
                    o->kind = OP_CAS; /* IF NOT EXISTS */
                    o->key = (int)(mix(&rs) % (uint64_t)nkeys);
                } else {
                    o->kind = OP_READ;
                    o->key = (int)(mix(&rs) % (uint64_t)nkeys);
                }
                snprintf(o->value, VAL_MAX, "%c%d", 'k' + o->key, started);
                c->cas_next = false;
                c->cur = o;
                start_op(s, c->node, o, timeout_ms);
                busy = true;
            }
        }
        if (crashes && wc_sim_now(s->cs->sim) >= next_fault) {
            if (crashed >= 0) {
                wc_sim_restart(s->cs->sim, s->cs->nodes[crashed].env);
                crashed = -1;
            } else if (started < nops) {
                crashed = (int)(mix(&rs) % 5);
                wc_sim_crash(s->cs->sim, s->cs->nodes[crashed].env);
            }
            next_fault += 150 + mix(&rs) % 300;
        }
        if (!busy && started >= nops && crashed < 0)
            break;
        wc_sim_run_for(s->cs->sim, 1);
        SIM_CHECK(seed, wc_sim_now(s->cs->sim) < 600000, "the history never ended");
    }
    /* finish what is pending (crashed coordinators ended theirs as unknown) */
    for (int i = 0; i < 3000; i++)
        wc_sim_run_for(s->cs->sim, 1);
    for (int i = 0; i < started; i++) {
        applied += ops[i].res == RES_OK && ops[i].applied;
        unknown += ops[i].res == RES_UNKNOWN;
    }
    for (int k = 0; k < nkeys; k++) {
        int counted = 0;
        bool ok = linearizable(ops, started, k, &counted);

        if (!ok)
            print_history(ops, started, k);
        SIM_CHECK(seed, ok, "history of key k%d (%d operations) is not linearizable", k, counted);
    }
    printf("  %d operations, %d applied, %d unknown\n", started, applied, unknown);
    SIM_CHECK(seed, applied >= nops / 10, "too few CAS applied (%d): the test proves nothing",
              applied);
    if (n_applied)
        *n_applied = applied;
    if (n_unknown)
        *n_unknown = unknown;
    ps_free(s);
    free(ops);
}

static void test_linearizable_without_faults(void **state)
{
    (void)state;
    random_history(simtest_seed(11), 0.0, false, 8, 8, 300, 1000, NULL, NULL);
}

static void test_linearizable_under_loss_and_crashes(void **state)
{
    (void)state;
    for (uint64_t seed = 21; seed < 25; seed++)
        random_history(simtest_seed(seed), 0.05, true, 8, 8, 300, 1000, NULL, NULL);
}

/*
 * Contention: 8 clients on five nodes read one key and CAS from what they
 * read, under 5% message loss.  The history must be linearizable, and a
 * CAS that lost to others retries inside its coordinator and ends applied
 * or not applied: an unknown outcome is left only by a timeout (lost
 * messages at the wrong moment), so at most one per 20 applied (the
 * earlier Paxos, which gave up when another commit followed a proposal
 * accepted by too few replicas, left about one per two).
 */
static void test_contention_on_one_key(void **state)
{
    int applied = 0, unknown = 0;

    (void)state;
    for (uint64_t i = 0; i < 8; i++) {
        int a, u;

        random_history(simtest_seed(71) + i, 0.05, false, 1, 8, 60, 3000, &a, &u);
        applied += a;
        unknown += u;
    }
    printf("  contention: %d applied, %d unknown of 480 operations\n", applied, unknown);
    SIM_CHECK(simtest_seed(71), unknown * 20 <= applied,
              "%d outcomes unknown for %d applied under contention", unknown, applied);
}

/* ---------------------------------------------------------------- targeted cases */

/* A key (its number into *key) and the two nodes of five that are not its replicas. */
static void key_and_outsiders(psim *s, int k, int *key, uint32_t out[2])
{
    char pk[16];
    uint32_t r[8];
    size_t n, m = 0;

    snprintf(pk, sizeof(pk), "k%d", k);
    n = cs_replicas(s->cs, pk, r, 8);
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < 5; i++) {
        bool rep = false;
        for (size_t j = 0; j < n; j++)
            rep |= r[j] == i;
        if (!rep)
            out[m++] = i;
    }
    assert_int_equal(m, 2);
    *key = k;
}

static void test_exactly_one_if_not_exists_wins(void **state)
{
    psim *s;
    op o[10], r;
    int winners = 0, unknown = 0;
    const char *won = NULL;

    (void)state;
    s = ps_new(simtest_seed(31), 5, 3, NULL);
    memset(o, 0, sizeof(o));
    for (int i = 0; i < 10; i++) {
        o[i].kind = OP_CAS;
        o[i].key = 3;
        snprintf(o[i].value, VAL_MAX, "c%d", i);
        start_op(s, (uint32_t)(i % 5), &o[i], 2000);
    }
    for (int t = 0; t < 5000; t++)
        wc_sim_run_for(s->cs->sim, 1);
    for (int i = 0; i < 10; i++) {
        /* under contention a proposal accepted by too few replicas has an unknown outcome */
        SIM_CHECK(s->cs->seed, o[i].res == RES_OK || o[i].res == RES_UNKNOWN,
                  "IF NOT EXISTS %d ended with %s: %s", i, wc_status_name(o[i].pr.status),
                  o[i].pr.detail);
        unknown += o[i].res == RES_UNKNOWN;
        if (o[i].res == RES_OK && o[i].applied) {
            winners++;
            won = o[i].value;
        }
    }
    printf("  %d winner, %d unknown\n", winners, unknown);
    SIM_CHECK(s->cs->seed, winners <= 1, "%d IF NOT EXISTS won", winners);
    SIM_CHECK(s->cs->seed, winners == 1 || unknown > 0, "nobody won, and no outcome is unknown");
    memset(&r, 0, sizeof(r));
    r.kind = OP_READ;
    r.key = 3;
    run_op(s, 0, &r, 2000);
    SIM_CHECK(s->cs->seed, r.res == RES_OK, "serial read: %s", r.pr.detail);
    if (won)
        SIM_CHECK(s->cs->seed, strcmp(r.seen, won) == 0, "the winner wrote %s, the key holds %s",
                  won, r.seen);
    SIM_CHECK(s->cs->seed, r.seen[0] != '\0', "the key holds nothing");
    ps_free(s);
}

/*
 * A coordinator whose proposal a quorum accepted dies before its commit
 * reaches anyone: the value is on no replica, yet the next round (a serial
 * read from another node) finds it in progress and completes it.
 */
static void test_in_progress_proposal_is_completed(void **state)
{
    psim *s;
    uint32_t coords[2];
    int key;
    char pk[16];
    uint32_t reps[3];
    op w, r;

    (void)state;
    s = ps_new(simtest_seed(41), 5, 3, NULL);
    key_and_outsiders(s, 7, &key, coords);
    snprintf(pk, sizeof(pk), "k%d", key);
    assert_int_equal(cs_replicas(s->cs, pk, reps, 3), 3);
    memset(&w, 0, sizeof(w));
    w.kind = OP_CAS;
    w.key = key;
    snprintf(w.value, VAL_MAX, "orphan");
    s->drop_commits_from[coords[0]] = true;
    run_op(s, coords[0], &w, 300);
    SIM_CHECK(s->cs->seed, w.res == RES_UNKNOWN, "the CAS without commits ended %d (%s)", w.res,
              w.pr.detail);
    for (int i = 0; i < 3; i++)
        SIM_CHECK(s->cs->seed, !cs_holds(s->cs, reps[i], pk, REG_CK, "orphan"),
                  "replica %u has the value before any commit", reps[i]);
    wc_sim_crash(s->cs->sim, s->cs->nodes[coords[0]].env);
    memset(&r, 0, sizeof(r));
    r.kind = OP_READ;
    r.key = key;
    run_op(s, coords[1], &r, 1000);
    SIM_CHECK(s->cs->seed, r.res == RES_OK && strcmp(r.seen, "orphan") == 0,
              "the serial read saw \"%s\" (%s), not the proposal in progress", r.seen,
              r.pr.detail);
    {
        int holders = 0;
        for (int i = 0; i < 3; i++)
            holders += cs_holds(s->cs, reps[i], pk, REG_CK, "orphan");
        SIM_CHECK(s->cs->seed, holders >= 2, "only %d replicas hold the completed value", holders);
    }
    ps_free(s);
}

/* A replica's promise survives its restart: an older ballot is refused after it. */
static void test_restart_keeps_promises(void **state)
{
    psim *s;
    op w, w2;
    char pk[16] = "k5";
    uint32_t reps[3];
    wc_paxos_ballot pr, ac, co, pr2, ac2, co2;

    (void)state;
    s = ps_new(simtest_seed(51), 3, 3, NULL);
    memset(&w, 0, sizeof(w));
    w.kind = OP_CAS;
    w.key = 5;
    snprintf(w.value, VAL_MAX, "first");
    run_op(s, 0, &w, 1000);
    SIM_CHECK(s->cs->seed, w.res == RES_OK && w.applied, "the first CAS failed: %s", w.pr.detail);
    wc_sim_run_for(s->cs->sim, 100);
    assert_int_equal(cs_replicas(s->cs, pk, reps, 3), 3);
    for (int i = 0; i < 3; i++) {
        uint32_t n = reps[i];

        assert_true(wc_paxos_replica_state(s->px[n], CS_TABLE, (const uint8_t *)pk, 2, &pr, &ac, &co));
        wc_sim_crash(s->cs->sim, s->cs->nodes[n].env);
        wc_sim_restart(s->cs->sim, s->cs->nodes[n].env);
        SIM_CHECK(s->cs->seed,
                  wc_paxos_replica_state(s->px[n], CS_TABLE, (const uint8_t *)pk, 2, &pr2, &ac2, &co2),
                  "node %u forgot its paxos state across a restart", n);
        assert_int_equal(wc_paxos_ballot_cmp(&pr, &pr2), 0);
        assert_int_equal(wc_paxos_ballot_cmp(&ac, &ac2), 0);
        assert_int_equal(wc_paxos_ballot_cmp(&co, &co2), 0);
        assert_false(co2.ts_us == 0);
    }
    /* every replica restarted: a CAS from the old value still sees "first" */
    memset(&w2, 0, sizeof(w2));
    w2.kind = OP_CAS;
    w2.key = 5;
    snprintf(w2.value, VAL_MAX, "second");
    run_op(s, 1, &w2, 1000);
    SIM_CHECK(s->cs->seed, w2.res == RES_OK && !w2.applied,
              "IF NOT EXISTS applied over an existing value after restarts");
    ps_free(s);
}

/*
 * Two coordinators on the two sides of a partition, the failure detector
 * not yet aware (everyone still looks alive), both run IF NOT EXISTS of
 * the same key: only the side with a quorum of the replicas may win, and
 * after the partition heals every serial read agrees with the winner.
 */
static void split_brain(uint64_t seed, int minority_replicas)
{
    psim *s;
    uint32_t coords[2];
    uint32_t reps[3];
    int group[5], key;
    char pk[16];
    op a, b, r[5];

    s = ps_new(seed, 5, 3, NULL);
    key_and_outsiders(s, 9, &key, coords);
    snprintf(pk, sizeof(pk), "k%d", key);
    assert_int_equal(cs_replicas(s->cs, pk, reps, 3), 3);
    /*
     * A with minority_replicas replicas on one side (the last in placement
     * order: B's quorum read asks the first ones), B with the rest
     */
    group[coords[0]] = 0;
    group[coords[1]] = 1;
    for (int i = 0; i < 3; i++)
        group[reps[i]] = i >= 3 - minority_replicas ? 0 : 1;
    assert_int_equal(wc_sim_partition(s->cs->sim, group, 5), WC_OK);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.kind = b.kind = OP_CAS;
    a.key = b.key = key;
    snprintf(a.value, VAL_MAX, "A");
    snprintf(b.value, VAL_MAX, "B");
    start_op(s, coords[0], &a, 800);
    start_op(s, coords[1], &b, 800);
    for (int t = 0; t < 2000 && (a.res == RES_PENDING || b.res == RES_PENDING); t++)
        wc_sim_run_for(s->cs->sim, 1);
    SIM_CHECK(seed, !(a.res == RES_OK && a.applied && b.res == RES_OK && b.applied),
              "two winners");
    SIM_CHECK(seed, b.res == RES_OK && b.applied, "the majority side lost: %s", b.pr.detail);
    SIM_CHECK(seed, !(a.res == RES_OK && a.applied), "the minority side won");
    wc_sim_heal(s->cs->sim);
    for (uint32_t i = 0; i < 5; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].kind = OP_READ;
        r[i].key = key;
        run_op(s, i, &r[i], 1000);
        SIM_CHECK(seed, r[i].res == RES_OK && strcmp(r[i].seen, "B") == 0,
                  "node %u reads \"%s\" after the heal", i, r[i].seen);
    }
    ps_free(s);
}

static void test_split_brain_has_one_winner(void **state)
{
    (void)state;
    split_brain(simtest_seed(61), 1);
    split_brain(simtest_seed(62), 0);
}

static void test_unavailable_without_quorum(void **state)
{
    psim *s;
    op w;
    uint32_t reps[3];

    (void)state;
    s = ps_new(simtest_seed(71), 3, 3, NULL);
    assert_int_equal(cs_replicas(s->cs, "k1", reps, 3), 3);
    s->cs->fd_down[reps[1]] = true;
    memset(&w, 0, sizeof(w));
    w.kind = OP_CAS;
    w.key = 1;
    snprintf(w.value, VAL_MAX, "one-down");
    run_op(s, reps[0], &w, 1000);
    SIM_CHECK(s->cs->seed, w.res == RES_OK && w.applied, "one replica down: %s", w.pr.detail);
    s->cs->fd_down[reps[2]] = true;
    memset(&w, 0, sizeof(w));
    w.kind = OP_CAS;
    w.key = 1;
    snprintf(w.expect, VAL_MAX, "one-down");
    snprintf(w.value, VAL_MAX, "two-down");
    run_op(s, reps[0], &w, 1000);
    assert_int_equal(w.pr.status, WC_UNAVAILABLE);
    assert_string_equal(w.pr.detail, "consistency SERIAL needs 2 replicas, 1 alive");
    ps_free(s);
}

/* ---------------------------------------------------------------- a replica's ballot rules */

/* Ballot b is (ts_us, node). */
static bool ballot_is(const wc_paxos_ballot *b, int64_t ts_us, uint64_t node)
{
    return b->ts_us == ts_us && b->node == node;
}

/*
 * A hand-made PREPARE (propose false) or PROPOSE of an empty value, ballot
 * (ts_us, node), for partition "k1", handed to replica r as if node from
 * had sent it: whether r promised (accepted it), the ballot its answer
 * says it promised, and (a PREPARE, accepted not NULL) the ballot of the
 * proposal it says it accepted.
 */
static bool replica_says(psim *s, uint32_t r, uint32_t from, bool propose, int64_t ts_us,
                         uint64_t node, wc_paxos_ballot *promised, wc_paxos_ballot *accepted)
{
    static uint64_t req_id = 5000;
    const uint8_t *q, *end;
    uint8_t type = 0, st = 0, ok = 0;
    uint64_t id = 0, u = 0;
    wc_buf m;

    wc_buf_init(&m);
    wc_buf_put_u8(&m, propose ? WC_MSG_PAXOS_PROPOSE : WC_MSG_PAXOS_PREPARE);
    wc_buf_put_u64(&m, ++req_id);
    wc_buf_put_u32(&m, CS_TABLE);
    wc_buf_put_bytes(&m, "k1", 2);
    wc_buf_put_u64(&m, (uint64_t)ts_us);
    wc_buf_put_u64(&m, node);
    if (propose)
        wc_buf_put_bytes(&m, NULL, 0);
    assert_int_equal(wc_buf_status(&m), WC_OK);
    wc_buf_reset(&s->reply);
    s->capture_at[from] = true;
    assert_true(wc_paxos_on_message(s->px[r], &s->cs->nodes[from].env->self, m.data, m.len));
    wc_buf_free(&m);
    for (int i = 0; i < 500 && s->reply.len == 0; i++)
        wc_sim_run_for(s->cs->sim, 1);
    s->capture_at[from] = false;
    SIM_CHECK(s->cs->seed, s->reply.len > 0, "replica %u did not answer", r);
    q = s->reply.data;
    end = q + s->reply.len;
    assert_true(wc_get_u8(&q, end, &type) && wc_get_u64(&q, end, &id) &&
                wc_get_u8(&q, end, &st) && wc_get_u8(&q, end, &ok));
    assert_int_equal(type, propose ? WC_MSG_PAXOS_ACCEPTED : WC_MSG_PAXOS_PROMISE);
    assert_true(id == req_id);
    assert_int_equal(st, WC_OK);
    assert_true(wc_get_u64(&q, end, &u) && wc_get_u64(&q, end, &promised->node));
    promised->ts_us = (int64_t)u;
    if (accepted && !propose) {
        assert_true(wc_get_u64(&q, end, &u) && wc_get_u64(&q, end, &accepted->node));
        accepted->ts_us = (int64_t)u;
    }
    return ok == 1;
}

/*
 * Cassandra's ballot rules on one replica, with hand-made requests: a
 * PREPARE is promised only with a ballot newer than the promise (the
 * timestamp decides, then the node; an equal ballot is refused); a PROPOSE
 * is accepted with a ballot not older than the promise and raises the
 * promise to it; every refusal names the promise.  After a restart the
 * replica refuses what it refused before and still reports the proposal
 * it accepted; a replica that forgot its state on restart (the defect
 * these checks catch) would promise the older ballot.
 */
static void replica_ballot_rules(uint64_t seed, bool forget_on_restart)
{
    const uint32_t r = 0, from = 1;
    wc_paxos_ballot pr, ac;
    psim *s;

    s = ps_new(seed, 3, 3, NULL);
    assert_true(replica_says(s, r, from, false, 1000, 5, &pr, &ac));
    assert_true(ballot_is(&pr, 1000, 5) && ballot_is(&ac, 0, 0));
    /* older, equal, same time with a lower node: refused, naming the promise */
    assert_false(replica_says(s, r, from, false, 999, 9, &pr, NULL));
    assert_true(ballot_is(&pr, 1000, 5));
    assert_false(replica_says(s, r, from, false, 1000, 5, &pr, NULL));
    assert_false(replica_says(s, r, from, false, 1000, 4, &pr, NULL));
    assert_true(ballot_is(&pr, 1000, 5));
    /* same time, higher node: newer */
    assert_true(replica_says(s, r, from, false, 1000, 6, &pr, NULL));
    /* a proposal older than the promise is refused, one equal to it accepted */
    assert_false(replica_says(s, r, from, true, 1000, 5, &pr, NULL));
    assert_true(ballot_is(&pr, 1000, 6));
    assert_true(replica_says(s, r, from, true, 1000, 6, &pr, NULL));
    /* a newer proposal without a prepare of its own is accepted and is the promise */
    assert_true(replica_says(s, r, from, true, 2000, 1, &pr, NULL));
    assert_true(ballot_is(&pr, 2000, 1));
    assert_false(replica_says(s, r, from, false, 1500, 1, &pr, &ac));
    assert_true(ballot_is(&pr, 2000, 1) && ballot_is(&ac, 2000, 1));

    s->forget_on_restart = forget_on_restart;
    wc_sim_crash(s->cs->sim, s->cs->nodes[r].env);
    wc_sim_restart(s->cs->sim, s->cs->nodes[r].env);
    if (forget_on_restart) {
        /* the defect: the older ballot is promised again */
        assert_true(replica_says(s, r, from, false, 1999, 9, &pr, &ac));
        assert_true(ballot_is(&ac, 0, 0));
    } else {
        assert_false(replica_says(s, r, from, false, 1999, 9, &pr, NULL));
        assert_true(ballot_is(&pr, 2000, 1));
        assert_false(replica_says(s, r, from, true, 1999, 9, &pr, NULL));
        assert_true(replica_says(s, r, from, false, 2001, 0, &pr, &ac));
        assert_true(ballot_is(&pr, 2001, 0) && ballot_is(&ac, 2000, 1));
    }
    ps_free(s);
}

static void test_replica_ballot_rules(void **state)
{
    (void)state;
    replica_ballot_rules(simtest_seed(91), false);
    replica_ballot_rules(simtest_seed(92), true);
}

/* ---------------------------------------------------------------- the state file */

static void test_state_file_survives_and_damage_is_cut(void **state)
{
    const char *tmp = getenv("WC_TEST_TMP");
    char dir[512], path[700];
    wc_paxos_file *f;
    wc_paxos_storage st;
    wc_buf all;
    int fd;
    off_t size;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/paxos_test_XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, WC_PAXOS_STATE_FILE);
    assert_int_equal(wc_paxos_file_open(dir, NULL, NULL, &f), WC_OK);
    st = wc_paxos_file_storage(f);
    assert_int_equal(st.append(st.ctx, (const uint8_t *)"one", 3), WC_OK);
    assert_int_equal(st.append(st.ctx, (const uint8_t *)"second", 6), WC_OK);
    wc_paxos_file_close(f);

    /* reopened: both records */
    assert_int_equal(wc_paxos_file_open(dir, NULL, NULL, &f), WC_OK);
    st = wc_paxos_file_storage(f);
    wc_buf_init(&all);
    assert_int_equal(st.load(st.ctx, &all), WC_OK);
    assert_int_equal(all.len, 4 + 3 + 4 + 6);
    assert_memory_equal(all.data + 4, "one", 3);
    /* a rewrite replaces them */
    assert_int_equal(st.rewrite(st.ctx, all.data, 7), WC_OK);
    assert_int_equal(st.append(st.ctx, (const uint8_t *)"third", 5), WC_OK);
    wc_paxos_file_close(f);

    /* damage the last record's checksum: it is cut off, the first stays */
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    size = lseek(fd, 0, SEEK_END);
    {
        uint8_t c;
        assert_int_equal(pread(fd, &c, 1, size - 1), 1);
        c ^= 0x5a;
        assert_int_equal(pwrite(fd, &c, 1, size - 1), 1);
    }
    close(fd);
    assert_int_equal(wc_paxos_file_open(dir, NULL, NULL, &f), WC_OK);
    st = wc_paxos_file_storage(f);
    wc_buf_reset(&all);
    assert_int_equal(st.load(st.ctx, &all), WC_OK);
    assert_int_equal(all.len, 4 + 3);
    /* appends continue after the cut */
    assert_int_equal(st.append(st.ctx, (const uint8_t *)"4th", 3), WC_OK);
    wc_paxos_file_close(f);
    assert_int_equal(wc_paxos_file_open(dir, NULL, NULL, &f), WC_OK);
    st = wc_paxos_file_storage(f);
    wc_buf_reset(&all);
    assert_int_equal(st.load(st.ctx, &all), WC_OK);
    assert_int_equal(all.len, 4 + 3 + 4 + 3);
    wc_paxos_file_close(f);

    /* not a state file */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "garbage!", 8), 8);
    close(fd);
    assert_int_equal(wc_paxos_file_open(dir, NULL, NULL, &f), WC_OK);
    st = wc_paxos_file_storage(f);
    wc_buf_reset(&all);
    assert_int_equal(st.load(st.ctx, &all), WC_CORRUPTION);
    wc_paxos_file_close(f);
    wc_buf_free(&all);
    unlink(path);
    rmdir(dir);
}

/* Malformed messages are counted and dropped, never crash. */
static void test_malformed_messages_are_dropped(void **state)
{
    psim *s;
    wc_paxos_stats stats;
    uint8_t junk[64];
    wc_addr from;

    (void)state;
    s = ps_new(simtest_seed(81), 3, 3, NULL);
    from = s->cs->nodes[1].env->self;
    for (int t = WC_MSG_PAXOS_FIRST; t <= WC_MSG_PAXOS_LAST; t++)
        for (size_t len = 1; len < sizeof(junk); len += 7) {
            memset(junk, 0xff, sizeof(junk));
            junk[0] = (uint8_t)t;
            assert_true(wc_paxos_on_message(s->px[0], &from, junk, len));
        }
    junk[0] = 50;
    assert_false(wc_paxos_on_message(s->px[0], &from, junk, 10));
    wc_paxos_get_stats(s->px[0], &stats);
    assert_true(stats.malformed > 0);
    ps_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_catches_a_stale_read),
        cmocka_unit_test(test_exactly_one_if_not_exists_wins),
        cmocka_unit_test(test_in_progress_proposal_is_completed),
        cmocka_unit_test(test_restart_keeps_promises),
        cmocka_unit_test(test_replica_ballot_rules),
        cmocka_unit_test(test_split_brain_has_one_winner),
        cmocka_unit_test(test_unavailable_without_quorum),
        cmocka_unit_test(test_linearizable_without_faults),
        cmocka_unit_test(test_linearizable_under_loss_and_crashes),
        cmocka_unit_test(test_contention_on_one_key),
        cmocka_unit_test(test_state_file_survives_and_damage_is_cut),
        cmocka_unit_test(test_malformed_messages_are_dropped),
    };

    /* helpers of coordsim.h this test has no use for */
    (void)cs_small;
    (void)cs_write;
    (void)cs_read;

    return cmocka_run_group_tests(tests, NULL, NULL);
}
