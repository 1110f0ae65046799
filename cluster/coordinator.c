/*
 * coordinator.c - replicated writes and reads at a consistency level
 * (coordinator.h), and the replica side of the coordinator messages.
 *
 * A request (write or read) is a wc__req in a small hash of request ids.
 * It holds its ring, its targets (the replicas it involves, with their
 * state) and its groups (one per replica set; a read has one), each with
 * the clauses its level imposes ("2 acks among all replicas", "2 acks in
 * dc1").  Answers from replicas move target states; after each one the
 * request checks whether every clause of every group is met (done) or can
 * no longer be (fail fast).  A write that is done stays until every target
 * answered or its timer fires, so that the replicas that never answered get
 * a hint.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "coordinator_format.h"
#include "coordinator_index.h"
#include "coordinator_index_format.h"
#include "counter.h"
#include "counter_leader.h"
#include "counter_leader_format.h"
#include "keys.h"
#include "mutation.h"

#define WC__BUCKETS 256
#define WC__CACHE 8
#define WC__MAX_CLAUSES (1 + WC_REPL_MAX_DCS)

typedef enum wc__tstate {
    WC__T_IDLE = 0, /* not contacted (reads) */
    WC__T_PENDING,  /* sent, no answer yet */
    WC__T_ACKED,    /* applied / answered */
    WC__T_FAILED,   /* answered with a failure, or could not be sent */
    WC__T_DOWN,     /* down at send time (writes: hinted) */
} wc__tstate;

typedef struct wc__target {
    uint32_t host; /* ring index (of req->pring for a pending target) */
    bool pending;  /* writes: a host that will be a replica once the ring change ends (counted, as Cassandra) */
    bool local;
    bool alive;
    bool hinted;
    uint8_t state;
    wc_status fail_st;
    uint32_t nmut; /* writes: mutations of its sub-batch */
    wc_buf batch;  /* writes: sub-batch; reads: repair batch */
    uint8_t digest[WC_COORD_DIGEST_LEN];
    wc_buf data; /* reads: raw result */
    bool has_data;
    /* reads: for the trace (wc_coord_trace) */
    int64_t asked_us;
    uint32_t asks, answers, digests;
    uint64_t us, bytes;
} wc__target;

typedef struct wc__clause {
    const char *dc; /* NULL: every replica counts */
    uint32_t need;
} wc__clause;

typedef struct wc__group {
    uint32_t *tidx; /* indexes into req->targets, in placement order */
    uint32_t n;
    wc__clause clauses[WC__MAX_CLAUSES];
    uint32_t nclauses;
} wc__group;

typedef struct wc__req wc__req;
struct wc__req {
    wc__req *next; /* hash chain */
    wc_coord *c;
    uint64_t id;
    bool is_read;
    bool done;
    bool dispatching; /* answers are counted but not acted on yet */
    bool local_applied; /* writes: this node applied the batch already (a counter leader) */
    int phase;        /* reads: 0 data + digests, 1 full data, 2 repairs */
    wc_consistency cl;
    uint32_t table_id;
    uint32_t timeout_ms;
    wc_replication repl; /* the clauses point to its data-centre names */
    wc_ring *ring;
    wc_ring *pring; /* writes: the pending ring of the pending targets, or NULL */
    wc__target *targets;
    uint32_t ntargets;
    wc__group *groups;
    uint32_t ngroups;
    uint64_t timer;
    wc_coord_result res;
    wc_coord_write_cb wdone;
    wc_coord_settled_cb settled; /* writes, optional: when the request ends for good */
    wc_coord_read_cb rdone;
    void *arg;
    /* reads */
    wc_store_read read;
    wc_buf keys;     /* pk and bounds of read */
    uint32_t data_t; /* the target asked for the data in phase 0 */
    uint32_t outstanding;
    wc_buf answer;
};

typedef struct wc__cache_entry {
    wc_replication repl;
    wc_placement *p;
} wc__cache_entry;

struct wc_coord {
    wc_coord_options o;
    wc_env *env;
    wc_ring *ring;
    wc_ring *pending;           /* the ring after the changes under way (wc_coord_set_pending_ring), or NULL */
    wc__cache_entry pending_p;  /* the placement on pending of the last replication used */
    int32_t self; /* ring index of this node, -1 if not in the ring */
    wc__cache_entry cache[WC__CACHE];
    uint32_t cache_next;
    wc__req *buckets[WC__BUCKETS];
    size_t nreqs;
    uint64_t next_id;
    wc_coord_stats stats;
    wc_buf scratch;
    wc__counters *counters; /* counter writes (counter_leader.c), NULL until the first */
    wc__ixreads *ixreads;   /* index reads (coordinator_index.c), NULL until the first */
};

/* A store operation in flight: found again by request id when it completes. */
typedef struct wc__op {
    wc_coord *c;
    uint64_t id;
    uint32_t t;
    bool remote;  /* replica side: answer the peer */
    wc_addr from; /* replica side */
    uint8_t mode; /* replica side reads */
} wc__op;

static void wc__progress(wc__req *q);

/* ---------------------------------------------------------------- requests */

static wc__req *wc__find(wc_coord *c, uint64_t id)
{
    for (wc__req *q = c->buckets[id % WC__BUCKETS]; q; q = q->next)
        if (q->id == id)
            return q;
    return NULL;
}

static void wc__unlink(wc__req *q)
{
    wc__req **pp = &q->c->buckets[q->id % WC__BUCKETS];

    while (*pp && *pp != q)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = q->next;
        q->c->nreqs--;
    }
    q->next = NULL;
}

/* Give q a fresh id (a new phase: answers to the old one are ignored). */
static void wc__register(wc__req *q)
{
    wc_coord *c = q->c;

    wc__unlink(q);
    q->id = c->next_id++;
    q->next = c->buckets[q->id % WC__BUCKETS];
    c->buckets[q->id % WC__BUCKETS] = q;
    c->nreqs++;
}

static void wc__free_req(wc__req *q)
{
    if (!q->is_read && q->settled) {
        bool every = q->done && q->res.status == WC_OK;

        for (uint32_t t = 0; t < q->ntargets; t++)
            every = every && q->targets[t].state == WC__T_ACKED;
        q->settled(q->arg, every);
    }
    wc__unlink(q);
    if (q->timer)
        q->c->env->ops->timer_cancel(q->c->env, q->timer);
    for (uint32_t i = 0; i < q->ntargets; i++) {
        wc_buf_free(&q->targets[i].batch);
        wc_buf_free(&q->targets[i].data);
    }
    for (uint32_t g = 0; g < q->ngroups; g++)
        free(q->groups[g].tidx);
    free(q->targets);
    free(q->groups);
    wc_buf_free(&q->keys);
    wc_buf_free(&q->answer);
    wc_ring_unref(q->ring);
    wc_ring_unref(q->pring);
    free(q);
}

static const wc_ring_member *wc__member(const wc__req *q, uint32_t t);

/* Add t's part of a read to res's trace (merged with an entry of the same replica). */
static void wc__trace_add(wc_coord_result *res, const wc_coord_trace *t)
{
    uint32_t i;

    for (i = 0; i < res->ntrace && !wc_addr_equal(&res->trace[i].addr, &t->addr); i++)
        ;
    if (i == res->ntrace) {
        if (res->ntrace == WC_COORD_TRACE_MAX)
            return;
        memset(&res->trace[i], 0, sizeof(res->trace[i]));
        res->trace[i].addr = t->addr;
        res->ntrace++;
    }
    res->trace[i].asks += t->asks;
    res->trace[i].answers += t->answers;
    res->trace[i].digests += t->digests;
    res->trace[i].us += t->us;
    res->trace[i].bytes += t->bytes;
}

/* Call done_cb once (a read passes its answer on success). */
static void wc__finish(wc__req *q, wc_status st)
{
    if (q->done)
        return;
    q->done = true;
    q->res.status = st;
    /* the trace in the order asked: this node first, then in placement order */
    for (uint32_t k = 0; q->is_read && k < 2 * q->ntargets; k++) {
        uint32_t t = k % q->ntargets;
        const wc__target *tg = &q->targets[t];
        wc_coord_trace tr = {.asks = tg->asks, .answers = tg->answers, .digests = tg->digests,
                             .us = tg->us, .bytes = tg->bytes};

        if (tg->asks == 0 || (k < q->ntargets) != tg->local)
            continue;
        tr.addr = wc__member(q, t)->addr;
        wc__trace_add(&q->res, &tr);
    }
    if (st == WC_UNAVAILABLE)
        q->c->stats.unavailable++;
    else if (st == WC_TIMEOUT)
        q->c->stats.timeouts++;
    else if (st != WC_OK)
        q->c->stats.failures++;
    if (q->is_read)
        q->rdone(q->arg, &q->res, st == WC_OK ? q->answer.data : NULL,
                 st == WC_OK ? q->answer.len : 0);
    else
        q->wdone(q->arg, &q->res);
}

static void wc__set_detail(wc__req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wc__set_detail(wc__req *q, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(q->res.detail, sizeof(q->res.detail), fmt, ap);
    va_end(ap);
}

/* A request that ends before anything was sent. */
static void wc__refuse(wc__req *q, wc_status st, const char *detail)
{
    if (q->res.detail[0] == '\0')
        snprintf(q->res.detail, sizeof(q->res.detail), "%s", detail);
    wc__finish(q, st);
    wc__free_req(q);
}

/* ---------------------------------------------------------------- placement */

static wc_placement *wc__placement(wc_coord *c, const wc_replication *repl, wc_status *st)
{
    wc__cache_entry *e;

    for (uint32_t i = 0; i < WC__CACHE; i++)
        if (c->cache[i].p && memcmp(&c->cache[i].repl, repl, sizeof(*repl)) == 0)
            return c->cache[i].p;
    e = &c->cache[c->cache_next++ % WC__CACHE];
    wc_placement_unref(e->p);
    e->p = NULL;
    if ((*st = wc_placement_build(c->ring, repl, &e->p)) != WC_OK)
        return NULL;
    e->repl = *repl;
    return e->p;
}

static const wc_ring_member *wc__member(const wc__req *q, uint32_t t)
{
    return wc_ring_host(q->targets[t].pending ? q->pring : q->ring, q->targets[t].host);
}

static bool wc__in_dc(const wc__req *q, uint32_t t, const char *dc)
{
    return dc == NULL || strcmp(wc__member(q, t)->dc, dc) == 0;
}

/*
 * The clauses of level cl for group g (its targets set): see coordinator.h.
 * WC_INVALID_ARGUMENT for a level refused for this kind of request.
 */
static wc_status wc__clauses(wc__req *q, wc__group *g, const wc_replication *repl)
{
    wc_coord *c = q->c;
    wc_consistency cl = q->cl;
    uint32_t nodes = wc_ring_host_count(q->ring), need, n;
    bool nts = repl->cls == WC_REPL_NETWORK_TOPOLOGY;
    wc_status st;

    if ((st = wc_consistency_block_for(cl, repl, nodes, !q->is_read, &need)) != WC_OK)
        return st;
    if (cl == WC_CL_SERIAL)
        cl = WC_CL_QUORUM;
    else if (cl == WC_CL_LOCAL_SERIAL)
        cl = WC_CL_LOCAL_QUORUM;
    g->nclauses = 1;
    g->clauses[0].dc = NULL;
    if (nts && nodes > 1 && (cl == WC_CL_LOCAL_ONE || cl == WC_CL_LOCAL_QUORUM)) {
        n = 0;
        for (uint32_t i = 0; i < g->n; i++)
            n += wc__in_dc(q, g->tidx[i], c->o.self_dc);
        g->clauses[0].dc = c->o.self_dc;
        g->clauses[0].need = cl == WC_CL_LOCAL_ONE ? 1 : n / 2 + 1;
        return WC_OK;
    }
    if (nts && cl == WC_CL_EACH_QUORUM) {
        g->nclauses = 0;
        for (uint32_t d = 0; d < repl->ndcs; d++) {
            if (repl->dcs[d].factor == 0)
                continue;
            n = 0;
            for (uint32_t i = 0; i < g->n; i++)
                n += wc__in_dc(q, g->tidx[i], repl->dcs[d].name);
            g->clauses[g->nclauses].dc = q->repl.dcs[d].name;
            g->clauses[g->nclauses++].need = (n ? n : repl->dcs[d].factor) / 2 + 1;
        }
        return WC_OK;
    }
    if (cl == WC_CL_ALL)
        need = g->n > 0 ? g->n : 1;
    g->clauses[0].need = need;
    return WC_OK;
}

/* Targets of g in clause k's data centre whose state passes the mask (bit per state). */
static uint32_t wc__count(const wc__req *q, const wc__group *g, const wc__clause *k, unsigned mask,
                          bool hinted_counts)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < g->n; i++) {
        const wc__target *t = &q->targets[g->tidx[i]];

        if (!wc__in_dc(q, g->tidx[i], k->dc))
            continue;
        if ((mask & (1u << t->state)) || (hinted_counts && t->hinted))
            n++;
    }
    return n;
}

static void wc__clause_text(const wc__clause *k, char *out, size_t cap)
{
    if (k->dc)
        snprintf(out, cap, " in data centre %s", k->dc);
    else
        out[0] = '\0';
}

/* Too few live replicas for some clause: WC_UNAVAILABLE with the detail. */
static bool wc__unavailable(wc__req *q)
{
    bool any = q->cl == WC_CL_ANY;

    for (uint32_t gi = 0; gi < q->ngroups; gi++) {
        wc__group *g = &q->groups[gi];

        for (uint32_t k = 0; k < g->nclauses; k++) {
            uint32_t alive = 0;
            char where[WC_REPL_DC_NAME_MAX + 20];

            for (uint32_t i = 0; i < g->n; i++)
                alive += q->targets[g->tidx[i]].alive && wc__in_dc(q, g->tidx[i], g->clauses[k].dc);
            if (alive >= g->clauses[k].need || (any && q->c->o.store_hint))
                continue;
            wc__clause_text(&g->clauses[k], where, sizeof(where));
            q->res.required = g->clauses[k].need;
            q->res.alive = alive;
            wc__set_detail(q, "consistency %s needs %u replica%s%s, %u alive",
                           wc_consistency_name(q->cl), g->clauses[k].need,
                           g->clauses[k].need == 1 ? "" : "s", where, alive);
            return true;
        }
    }
    return false;
}

/*
 * The pending replicas of token into out[0..cap) (indexes in the pending
 * ring of pp), their count: the replicas of token in pp that are not among
 * its current replicas hosts[0..nh), a joining host, or the new owner of a
 * leaving or removed host's range.  in_ring maps a pending-ring host to
 * its index in the current ring (-1: joining).
 */
static size_t wc__pending_of(wc_placement *pp, const int32_t *in_ring, const uint32_t *hosts,
                             size_t nh, int64_t token, uint32_t *out, size_t cap)
{
    const uint32_t *ph;
    size_t n = 0, np;

    if (pp == NULL)
        return 0;
    np = wc_placement_replicas(pp, token, &ph);
    for (size_t k = 0; k < np && n < cap; k++) {
        bool current = false;

        for (size_t r = 0; r < nh && !current && in_ring[ph[k]] >= 0; r++)
            current = hosts[r] == (uint32_t)in_ring[ph[k]];
        if (!current)
            out[n++] = ph[k];
    }
    return n;
}

#define WC__MAX_PENDING 8 /* pending replicas of one token (one ring change at a time) */

/*
 * The groups of q: one per distinct replica set of tokens[0..n), mutation i
 * in group gidx[i] (NULL for a read).  Targets are the union of the sets.
 * With pp (writes; the placement on q->pring), each token's pending
 * replicas (wc__pending_of: joining hosts, new owners of a leaving or
 * removed host's range) are pending targets of its group, and each clause
 * of the group needs one more acknowledgement per pending target it
 * covers, as Cassandra adds its pending endpoints to blockFor: a write
 * acknowledged at a level then holds at that level among the replicas of
 * the ring the change leads to, whichever replica the new one streams from.
 */
static wc_status wc__build_groups(wc__req *q, wc_placement *p, wc_placement *pp,
                                  const int64_t *tokens, size_t n, uint32_t *gidx,
                                  const wc_replication *repl)
{
    const uint32_t **sets = calloc(n ? n : 1, sizeof(*sets));
    size_t *setn = calloc(n ? n : 1, sizeof(*setn));
    uint32_t (*psets)[WC__MAX_PENDING] = calloc(n ? n : 1, sizeof(*psets));
    size_t *psetn = calloc(n ? n : 1, sizeof(*psetn));
    uint32_t ring_hosts = wc_ring_host_count(q->ring);
    uint32_t pend_hosts = pp ? wc_ring_host_count(q->pring) : 0;
    int32_t *tmap = malloc((ring_hosts + pend_hosts + 1) * sizeof(*tmap));
    int32_t *in_ring = calloc(pend_hosts + 1, sizeof(*in_ring));
    wc_status st = WC_NO_MEMORY;

    q->groups = calloc(n ? n : 1, sizeof(*q->groups));
    q->targets = calloc(ring_hosts + pend_hosts, sizeof(*q->targets));
    if (!sets || !setn || !psets || !psetn || !tmap || !in_ring || !q->groups || !q->targets)
        goto fail;
    for (uint32_t h = 0; h < ring_hosts + pend_hosts; h++)
        tmap[h] = -1;
    for (uint32_t h = 0; h < pend_hosts; h++)
        in_ring[h] = wc_ring_find_host(q->ring, wc_ring_host(q->pring, h)->host_id);
    for (size_t i = 0; i < n; i++) {
        const uint32_t *hosts;
        size_t nh = wc_placement_replicas(p, tokens[i], &hosts);
        uint32_t g, pend[WC__MAX_PENDING];
        size_t np = wc__pending_of(pp, in_ring, hosts, nh, tokens[i], pend, WC__MAX_PENDING);

        for (g = 0; g < q->ngroups; g++)
            if (setn[g] == nh && memcmp(sets[g], hosts, nh * sizeof(*hosts)) == 0 &&
                psetn[g] == np && memcmp(psets[g], pend, np * sizeof(*pend)) == 0)
                break;
        if (gidx)
            gidx[i] = g;
        if (g < q->ngroups)
            continue;
        sets[g] = hosts;
        setn[g] = nh;
        memcpy(psets[g], pend, np * sizeof(*pend));
        psetn[g] = np;
        q->ngroups++;
        if ((q->groups[g].tidx = calloc(nh + np ? nh + np : 1, sizeof(uint32_t))) == NULL)
            goto fail;
        for (size_t r = 0; r < nh; r++) {
            if (tmap[hosts[r]] < 0) {
                wc__target *t = &q->targets[q->ntargets];
                const wc_ring_member *m = wc_ring_host(q->ring, hosts[r]);

                tmap[hosts[r]] = (int32_t)q->ntargets++;
                t->host = hosts[r];
                t->local = (int32_t)hosts[r] == q->c->self;
                t->alive = t->local || q->c->o.is_alive(q->c->o.ctx, m);
                wc_buf_init(&t->batch);
                wc_buf_init(&t->data);
            }
            q->groups[g].tidx[q->groups[g].n++] = (uint32_t)tmap[hosts[r]];
        }
        for (size_t r = 0; r < np; r++) {
            uint32_t key = ring_hosts + pend[r];

            if (tmap[key] < 0) {
                wc__target *t = &q->targets[q->ntargets];
                const wc_ring_member *m = wc_ring_host(q->pring, pend[r]);

                tmap[key] = (int32_t)q->ntargets++;
                t->host = pend[r];
                t->pending = true;
                t->local = memcmp(m->host_id, q->c->o.self_id, WC_RING_HOST_ID_LEN) == 0;
                t->alive = t->local || q->c->o.is_alive(q->c->o.ctx, m);
                wc_buf_init(&t->batch);
                wc_buf_init(&t->data);
            }
            q->groups[g].tidx[q->groups[g].n++] = (uint32_t)tmap[key];
        }
        if ((st = wc__clauses(q, &q->groups[g], repl)) != WC_OK)
            goto fail;
        /* ALL already counts every target; ANY is met by a hint */
        for (uint32_t k = 0; np && q->cl != WC_CL_ALL && q->cl != WC_CL_ANY &&
                             k < q->groups[g].nclauses;
             k++)
            for (uint32_t r = 0; r < q->groups[g].n; r++)
                q->groups[g].clauses[k].need +=
                    q->targets[q->groups[g].tidx[r]].pending &&
                    wc__in_dc(q, q->groups[g].tidx[r], q->groups[g].clauses[k].dc);
    }
    st = WC_OK;
fail:
    free(sets);
    free(setn);
    free(psets);
    free(psetn);
    free(tmap);
    free(in_ring);
    return st;
}

/* The ring, replication and placement of a new request; false once refused. */
static bool wc__start(wc__req *q, wc_placement **p, wc_replication *repl)
{
    wc_coord *c = q->c;
    wc_status st;

    if (!wc_consistency_valid((int)q->cl)) {
        wc__refuse(q, WC_INVALID_ARGUMENT, "unknown consistency level");
        return false;
    }
    if (c->ring == NULL) {
        wc__refuse(q, WC_UNAVAILABLE, "this node has no token ring yet");
        return false;
    }
    q->ring = c->ring;
    wc_ring_ref(q->ring);
    memset(repl, 0, sizeof(*repl));
    if ((st = c->o.replication(c->o.ctx, q->table_id, repl)) != WC_OK) {
        wc__refuse(q, st, wc_last_error());
        return false;
    }
    q->repl = *repl;
    if ((*p = wc__placement(c, repl, &st)) == NULL) {
        wc__refuse(q, st, wc_last_error());
        return false;
    }
    return true;
}

static wc__req *wc__new_req(wc_coord *c, bool is_read, uint32_t table_id, wc_consistency cl,
                            uint32_t timeout_ms)
{
    wc__req *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->c = c;
    q->is_read = is_read;
    q->cl = cl;
    q->table_id = table_id;
    q->timeout_ms = timeout_ms ? timeout_ms : 1;
    q->res.cl = cl;
    wc_buf_init(&q->keys);
    wc_buf_init(&q->answer);
    return q;
}

static void wc__send(wc__req *q, uint32_t t, const wc_coord_msg *m)
{
    wc_coord *c = q->c;

    wc_status st;

    wc_buf_reset(&c->scratch);
    if ((st = wc_coord_encode(m, &c->scratch)) != WC_OK ||
        (st = c->env->ops->send(c->env, &wc__member(q, t)->addr, c->scratch.data,
                                c->scratch.len)) != WC_OK) {
        /* too large (WC_INVALID_ARGUMENT), queue full or out of memory */
        q->targets[t].state = WC__T_FAILED;
        q->targets[t].fail_st = st == WC_INVALID_ARGUMENT ? WC_OVERLOADED : st;
        return;
    }
    q->targets[t].state = WC__T_PENDING;
}

static wc__op *wc__op_new(wc__req *q, uint32_t t)
{
    wc__op *op = calloc(1, sizeof(*op));

    if (op) {
        op->c = q->c;
        op->id = q->id;
        op->t = t;
    }
    return op;
}

/* ---------------------------------------------------------------- writes */

static void wc__hint(wc__req *q, uint32_t t)
{
    wc__target *tg = &q->targets[t];
    wc_coord *c = q->c;

    if (tg->hinted || tg->local || tg->nmut == 0 || c->o.store_hint == NULL)
        return;
    if (c->o.store_hint(c->o.ctx, wc__member(q, t), q->table_id, tg->batch.data, tg->batch.len) ==
        WC_OK) {
        tg->hinted = true;
        q->res.hints++;
        c->stats.hints++;
    }
}

static void wc__local_apply_done(void *arg, wc_status st)
{
    wc__op *op = arg;
    wc__req *q = wc__find(op->c, op->id);

    if (q && op->t < q->ntargets && q->targets[op->t].state == WC__T_PENDING) {
        q->targets[op->t].state = st == WC_OK ? WC__T_ACKED : WC__T_FAILED;
        q->targets[op->t].fail_st = st;
        if (!q->dispatching)
            wc__progress(q);
    }
    free(op);
}

/* Apply or send target t's batch (a write's sub-batch or a read repair). */
static void wc__dispatch_batch(wc__req *q, uint32_t t)
{
    wc__target *tg = &q->targets[t];
    wc_coord_msg m = {0};
    wc__op *op;

    if (tg->local) {
        if ((op = wc__op_new(q, t)) == NULL) {
            tg->state = WC__T_FAILED;
            tg->fail_st = WC_NO_MEMORY;
            return;
        }
        tg->state = WC__T_PENDING;
        q->c->o.store.ops->apply(q->c->o.store.ctx, tg->batch.data, tg->batch.len,
                                 wc__local_apply_done, op);
        return;
    }
    m.type = WC_COORD_MSG_MUTATION;
    m.req_id = q->id;
    m.batch = tg->batch.data;
    m.batch_len = tg->batch.len;
    wc__send(q, t, &m);
}

/* First clause of a group that is not met, NULL when all are. */
static const wc__clause *wc__unmet(const wc__req *q, const wc__group *g, uint32_t *acked)
{
    bool any = q->cl == WC_CL_ANY;

    for (uint32_t k = 0; k < g->nclauses; k++) {
        uint32_t n = wc__count(q, g, &g->clauses[k], 1u << WC__T_ACKED, any);

        if (n < g->clauses[k].need) {
            *acked = n;
            return &g->clauses[k];
        }
    }
    return NULL;
}

static void wc__write_timeout(void *arg)
{
    wc__req *q = arg;
    uint32_t acked = 0;
    const wc__clause *k = NULL;

    q->timer = 0;
    for (uint32_t g = 0; g < q->ngroups && k == NULL; g++)
        k = wc__unmet(q, &q->groups[g], &acked);
    for (uint32_t t = 0; t < q->ntargets; t++)
        if (q->targets[t].state != WC__T_ACKED)
            wc__hint(q, t);
    if (!q->done && k) {
        char where[WC_REPL_DC_NAME_MAX + 20];

        wc__clause_text(k, where, sizeof(where));
        q->res.required = k->need;
        q->res.acked = acked;
        wc__set_detail(q,
                       "consistency %s write timed out after %u ms: %u of %u replicas%s "
                       "acknowledged",
                       wc_consistency_name(q->cl), q->timeout_ms, acked, k->need, where);
        wc__finish(q, WC_TIMEOUT);
    }
    wc__free_req(q);
}

/* A write: done when every group is met; fail fast when a group cannot be. */
static void wc__write_progress(wc__req *q)
{
    uint32_t acked = 0;
    bool met = true, resolved = true;

    for (uint32_t g = 0; g < q->ngroups && !q->done; g++) {
        const wc__group *gr = &q->groups[g];
        const wc__clause *k = wc__unmet(q, gr, &acked);
        uint32_t possible, failed;

        if (k == NULL)
            continue;
        met = false;
        possible = wc__count(q, gr, k, (1u << WC__T_ACKED) | (1u << WC__T_PENDING), false);
        if (possible >= k->need || (q->cl == WC_CL_ANY && q->c->o.store_hint))
            continue;
        failed = wc__count(q, gr, k, 1u << WC__T_FAILED, false);
        if (failed == 0) { /* replicas that went down (ANY without a hint sink) */
            q->res.required = k->need;
            q->res.acked = acked;
            wc__set_detail(q, "consistency %s needs %u replicas, %u can still answer",
                           wc_consistency_name(q->cl), k->need, possible);
            wc__finish(q, WC_UNAVAILABLE);
            continue;
        }
        for (uint32_t i = 0; i < gr->n; i++)
            if (q->targets[gr->tidx[i]].state == WC__T_FAILED) {
                q->res.status = q->targets[gr->tidx[i]].fail_st;
                break;
            }
        q->res.required = k->need;
        q->res.acked = acked;
        wc__set_detail(q,
                       "consistency %s cannot be met: %u replica%s failed (%s), %u of %u "
                       "acknowledged",
                       wc_consistency_name(q->cl), failed, failed == 1 ? "" : "s",
                       wc_status_name(q->res.status), acked, k->need);
        wc__finish(q, q->res.status != WC_OK ? q->res.status : WC_UNAVAILABLE);
    }
    if (met && !q->done) {
        q->res.required = q->groups[0].clauses[0].need;
        q->res.acked =
            wc__count(q, &q->groups[0], &q->groups[0].clauses[0], 1u << WC__T_ACKED, false);
        wc__finish(q, WC_OK);
    }
    for (uint32_t t = 0; t < q->ntargets; t++)
        if (q->targets[t].state == WC__T_PENDING)
            resolved = false;
    if (q->done && resolved) {
        for (uint32_t t = 0; t < q->ntargets; t++)
            if (q->targets[t].state != WC__T_ACKED)
                wc__hint(q, t);
        wc__free_req(q);
    }
}

/*
 * The placement on the pending ring for repl (the ring after the changes
 * under way: wc_coord_set_pending_ring), holding a reference on that ring
 * in q->pring; NULL when no change is under way.
 */
static wc_placement *wc__pending_p(wc_coord *c, const wc_replication *repl)
{
    if (c->pending == NULL || c->ring == NULL)
        return NULL;
    if (c->pending_p.p == NULL || memcmp(&c->pending_p.repl, repl, sizeof(*repl)) != 0) {
        wc_placement_unref(c->pending_p.p);
        c->pending_p.p = NULL;
        if (wc_placement_build(c->pending, repl, &c->pending_p.p) != WC_OK)
            return NULL;
        c->pending_p.repl = *repl;
    }
    return c->pending_p.p;
}

static wc_placement *wc__pending_placement(wc_coord *c, wc__req *q, const wc_replication *repl)
{
    if (wc__pending_p(c, repl) == NULL)
        return NULL;
    q->pring = c->pending;
    wc_ring_ref(q->pring);
    return c->pending_p.p;
}

void wc_coord_write(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                    wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done, void *arg)
{
    wc_coord_write_settled(c, table_id, batch, len, cl, timeout_ms, done, NULL, arg);
}

static void wc__write(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                      wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done,
                      wc_coord_settled_cb settled, void *arg, bool dry_run, bool local_applied);

void wc_coord_write_settled(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                            wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done,
                            wc_coord_settled_cb settled, void *arg)
{
    /* a delta is applied once, by a leader replica; only its shards are replicated */
    if (wc_counter_batch_has_delta(batch, len)) {
        wc_coord_result res = {.status = WC_INVALID_ARGUMENT, .cl = cl};

        if (settled == NULL) {
            wc__counter_write(c, table_id, batch, len, cl, timeout_ms, done, arg);
            return;
        }
        snprintf(res.detail, sizeof(res.detail),
                 "counter updates are never written through the batchlog (a replayed increment "
                 "would count twice)");
        c->stats.failures++;
        done(arg, &res);
        settled(arg, false);
        return;
    }
    wc__write(c, table_id, batch, len, cl, timeout_ms, done, settled, arg, false, false);
}

void wc__coord_write_applied(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                             wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done,
                             void *arg)
{
    wc__write(c, table_id, batch, len, cl, timeout_ms, done, NULL, arg, false, true);
}

static void wc__check_done(void *arg, const wc_coord_result *res)
{
    *(wc_coord_result *)arg = *res;
}

wc_status wc_coord_write_check(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                               wc_consistency cl, wc_coord_result *out)
{
    memset(out, 0, sizeof(*out));
    out->status = WC_UNAVAILABLE;
    wc__write(c, table_id, batch, len, cl, 1, wc__check_done, NULL, out, true, false);
    return out->status;
}

/* A write; with dry_run only its checks, done running before the return (nothing sent). */
static void wc__write(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                      wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done,
                      wc_coord_settled_cb settled, void *arg, bool dry_run, bool local_applied)
{
    wc__req *q = wc__new_req(c, false, table_id, cl, timeout_ms);
    wc_coord_result oom = {.status = WC_NO_MEMORY, .cl = cl, .detail = "out of memory"};
    wc_replication repl;
    wc_placement *p;
    wc_batch_view bv;
    const uint8_t **muts = NULL;
    size_t *lens = NULL;
    int64_t *tokens = NULL;
    uint32_t *gidx = NULL, nm = 0;
    wc_status st;

    if (q == NULL) {
        done(arg, &oom);
        if (settled)
            settled(arg, false);
        return;
    }
    q->wdone = done;
    q->settled = settled;
    q->arg = arg;
    q->local_applied = local_applied;
    if (!dry_run && !local_applied) /* a leader's write is part of the counter write counted */
        c->stats.writes++;
    if (cl == WC_CL_SERIAL || cl == WC_CL_LOCAL_SERIAL) {
        wc__set_detail(q,
                       "consistency %s is for lightweight transactions, which are not "
                       "supported yet",
                       wc_consistency_name(cl));
        wc__refuse(q, WC_INVALID_ARGUMENT, "");
        return;
    }
    if (wc_batch_parse(batch, len, &bv) != WC_OK || bv.count == 0) {
        wc__refuse(q, WC_INVALID_ARGUMENT, "the write is not a batch of mutations");
        return;
    }
    if (!wc__start(q, &p, &repl))
        return;
    muts = calloc(bv.count, sizeof(*muts));
    lens = calloc(bv.count, sizeof(*lens));
    tokens = calloc(bv.count, sizeof(*tokens));
    gidx = calloc(bv.count, sizeof(*gidx));
    if (!muts || !lens || !tokens || !gidx) {
        st = WC_NO_MEMORY;
        goto refuse;
    }
    for (int r; (r = wc_batch_next(&bv, &muts[nm], &lens[nm])) != 0; nm++) {
        wc_mutation_view mv;

        if (r < 0 || wc_mutation_parse(muts[nm], lens[nm], &mv) != WC_OK) {
            st = wc_error(WC_INVALID_ARGUMENT, "mutation %u of the write is malformed", nm + 1);
            goto refuse;
        }
        if (mv.table_id != table_id) {
            st = wc_error(WC_INVALID_ARGUMENT, "mutation %u of the write is for table %u, not %u",
                          nm + 1, mv.table_id, table_id);
            goto refuse;
        }
        tokens[nm] = wc_token(mv.pk, mv.pk_len);
    }
    if ((st = wc__build_groups(q, p, wc__pending_placement(c, q, &repl), tokens, nm, gidx,
                               &repl)) != WC_OK)
        goto refuse;
    if (wc__unavailable(q)) {
        st = WC_UNAVAILABLE;
        goto refuse;
    }
    if (dry_run) {
        st = WC_OK; /* enough live replicas: the write would be sent */
        goto refuse;
    }
    /* sub-batches: the mutations of the groups each target belongs to */
    for (uint32_t i = 0; i < nm; i++)
        for (uint32_t k = 0; k < q->groups[gidx[i]].n; k++)
            q->targets[q->groups[gidx[i]].tidx[k]].nmut++;
    for (uint32_t t = 0; t < q->ntargets; t++)
        wc_batch_begin(&q->targets[t].batch, q->targets[t].nmut);
    for (uint32_t i = 0; i < nm; i++)
        for (uint32_t k = 0; k < q->groups[gidx[i]].n; k++)
            wc_batch_add(&q->targets[q->groups[gidx[i]].tidx[k]].batch, muts[i], lens[i]);
    for (uint32_t t = 0; t < q->ntargets; t++)
        if ((st = wc_buf_status(&q->targets[t].batch)) != WC_OK)
            goto refuse;
    for (uint32_t t = 0; t < q->ntargets; t++)
        c->stats.pending_writes += q->targets[t].pending;
    free(muts);
    free(lens);
    free(tokens);
    free(gidx);
    wc__register(q);
    q->timer = c->env->ops->timer_start(c->env, q->timeout_ms, wc__write_timeout, q);
    if (q->timer == 0) {
        wc__refuse(q, WC_NO_MEMORY, "out of memory starting a timer");
        return;
    }
    q->dispatching = true;
    for (uint32_t t = 0; t < q->ntargets; t++) {
        if (!q->targets[t].alive) {
            q->targets[t].state = WC__T_DOWN;
            wc__hint(q, t);
        } else if (q->local_applied && q->targets[t].local) {
            q->targets[t].state = WC__T_ACKED;
        } else {
            wc__dispatch_batch(q, t);
        }
    }
    q->dispatching = false;
    wc__progress(q);
    return;
refuse:
    free(muts);
    free(lens);
    free(tokens);
    free(gidx);
    wc__refuse(q, st, wc_last_error());
}

/* ---------------------------------------------------------------- reads */

static void wc__local_read_done(void *arg, wc_status st, const uint8_t *raw, size_t len,
                                const uint8_t digest[16]);

/* Ask target t for the data (or only its digest). */
static void wc__ask(wc__req *q, uint32_t t, uint8_t mode)
{
    wc__target *tg = &q->targets[t];
    wc_coord_msg m = {0};
    wc__op *op;

    tg->has_data = false;
    wc_buf_reset(&tg->data);
    q->outstanding++;
    tg->asks++;
    tg->asked_us = wc_env_wall_us(q->c->env);
    if (tg->local) {
        if ((op = wc__op_new(q, t)) == NULL) {
            tg->state = WC__T_FAILED;
            tg->fail_st = WC_NO_MEMORY;
            return;
        }
        op->mode = mode;
        tg->state = WC__T_PENDING;
        q->c->o.store.ops->read(q->c->o.store.ctx, &q->read, wc__local_read_done, op);
        return;
    }
    m.type = WC_COORD_MSG_READ;
    m.req_id = q->id;
    m.mode = mode;
    m.read = q->read;
    wc__send(q, t, &m);
}

/* A read answer (local or remote) for target t of q. */
static void wc__read_answer(wc__req *q, uint32_t t, wc_status st, uint8_t mode, const uint8_t *data,
                            size_t len, const uint8_t digest[16])
{
    wc__target *tg = &q->targets[t];

    if (tg->state != WC__T_PENDING)
        return;
    q->outstanding--;
    if (st != WC_OK) {
        tg->state = WC__T_FAILED;
        tg->fail_st = st;
    } else {
        int64_t now = wc_env_wall_us(q->c->env);

        tg->state = WC__T_ACKED;
        tg->answers++;
        tg->us += now > tg->asked_us ? (uint64_t)(now - tg->asked_us) : 0;
        tg->digests += mode != WC_COORD_READ_DATA;
        tg->bytes += mode == WC_COORD_READ_DATA ? len : 0;
        memcpy(tg->digest, digest, WC_COORD_DIGEST_LEN);
        if (mode == WC_COORD_READ_DATA) {
            wc_buf_reset(&tg->data);
            wc_buf_append(&tg->data, data, len);
            tg->has_data = true;
        }
    }
    if (!q->dispatching)
        wc__progress(q);
}

static void wc__local_read_done(void *arg, wc_status st, const uint8_t *raw, size_t len,
                                const uint8_t digest[16])
{
    wc__op *op = arg;
    wc__req *q = wc__find(op->c, op->id);

    if (q && op->t < q->ntargets)
        wc__read_answer(q, op->t, st, op->mode, raw, len, digest);
    free(op);
}

static void wc__read_timeout(void *arg)
{
    wc__req *q = arg;
    uint32_t answered = 0, asked = 0;

    q->timer = 0;
    for (uint32_t t = 0; t < q->ntargets; t++) {
        if (q->targets[t].state == WC__T_IDLE || q->targets[t].state == WC__T_DOWN)
            continue;
        asked++;
        answered += q->targets[t].state == WC__T_ACKED;
    }
    q->res.acked = answered;
    q->res.required = asked;
    wc__set_detail(q, "consistency %s read timed out after %u ms%s: %u of %u replicas %s",
                   wc_consistency_name(q->cl), q->timeout_ms,
                   q->phase == 2 ? " in read repair" : "", answered, asked,
                   q->phase == 2 ? "acknowledged" : "answered");
    wc__finish(q, WC_TIMEOUT);
    wc__free_req(q);
}

/* Count a repair batch's bytes and entries (each partition's header counts as one) in res. */
static void wc__count_repair(wc_coord_result *res, const wc_buf *batch)
{
    wc_batch_view v;
    const uint8_t *mut;
    size_t mlen;

    res->repair_bytes += batch->len;
    if (wc_batch_parse(batch->data, batch->len, &v) != WC_OK) {
        wc_clear_error();
        return;
    }
    while (wc_batch_next(&v, &mut, &mlen) == 1) {
        wc_mutation_view mv;
        if (wc_mutation_parse(mut, mlen, &mv) == WC_OK)
            res->repair_rows += mv.nentries;
    }
    wc_clear_error();
}

/* Every asked target answered: compare digests, reconcile, repair, answer. */
static void wc__read_progress(wc__req *q)
{
    wc_coord *c = q->c;
    wc_store_raw *raws = NULL;
    wc_buf *repairs = NULL;
    uint32_t n = 0, *ti = NULL;
    wc_status st;

    for (uint32_t t = 0; t < q->ntargets; t++)
        if (q->targets[t].state == WC__T_FAILED) {
            q->res.status = q->targets[t].fail_st;
            wc__set_detail(q, "replica %s failed the read: %s", wc__member(q, t)->addr.host,
                           wc_status_name(q->targets[t].fail_st));
            wc__finish(q, q->targets[t].fail_st);
            wc__free_req(q);
            return;
        }
    if (q->outstanding > 0)
        return;
    if (q->phase == 0) {
        bool same = true;

        for (uint32_t t = 0; t < q->ntargets; t++)
            if (q->targets[t].state == WC__T_ACKED &&
                memcmp(q->targets[t].digest, q->targets[q->data_t].digest, WC_COORD_DIGEST_LEN))
                same = false;
        if (same) {
            wc_buf_append(&q->answer, q->targets[q->data_t].data.data,
                          q->targets[q->data_t].data.len);
            goto answer;
        }
        c->stats.digest_mismatches++;
        q->phase = 1;
        wc__register(q);
        q->dispatching = true;
        for (uint32_t t = 0; t < q->ntargets; t++)
            if (q->targets[t].state == WC__T_ACKED)
                wc__ask(q, t, WC_COORD_READ_DATA);
        q->dispatching = false;
        wc__read_progress(q);
        return;
    }
    if (q->phase == 1) {
        raws = calloc(q->ntargets, sizeof(*raws));
        repairs = calloc(q->ntargets, sizeof(*repairs));
        ti = calloc(q->ntargets, sizeof(*ti));
        if (!raws || !repairs || !ti) {
            st = WC_NO_MEMORY;
            goto fail;
        }
        for (uint32_t t = 0; t < q->ntargets; t++)
            if (q->targets[t].state == WC__T_ACKED && q->targets[t].has_data) {
                raws[n].data = q->targets[t].data.data;
                raws[n].len = q->targets[t].data.len;
                wc_buf_init(&repairs[n]);
                ti[n++] = t;
            }
        st = c->o.store.ops->reconcile(c->o.store.ctx, &q->read, raws, n, &q->answer, repairs);
        if (st != WC_OK)
            goto fail;
        q->phase = 2;
        wc__register(q);
        for (uint32_t i = 0; i < n; i++) {
            wc__target *tg = &q->targets[ti[i]];

            wc_buf_free(&tg->batch);
            tg->batch = repairs[i];
            wc_buf_init(&repairs[i]);
        }
        q->dispatching = true;
        for (uint32_t i = 0; i < n; i++)
            if (q->targets[ti[i]].batch.len > 0) {
                q->res.repairs++;
                wc__count_repair(&q->res, &q->targets[ti[i]].batch);
                c->stats.repairs_sent++;
                q->outstanding++;
                wc__dispatch_batch(q, ti[i]);
            }
        q->dispatching = false;
        free(raws);
        free(repairs);
        free(ti);
        wc__progress(q);
        return;
    }
answer:
    q->res.acked = 0;
    for (uint32_t t = 0; t < q->ntargets; t++)
        q->res.acked += q->targets[t].state == WC__T_ACKED;
    wc__finish(q, WC_OK);
    wc__free_req(q);
    return;
fail:
    if (repairs)
        for (uint32_t i = 0; i < n; i++)
            wc_buf_free(&repairs[i]);
    free(raws);
    free(repairs);
    free(ti);
    wc__refuse(q, st, wc_last_error());
}

void wc_coord_read(wc_coord *c, const wc_store_read *r, wc_consistency cl, uint32_t timeout_ms,
                   wc_coord_read_cb done, void *arg)
{
    wc__req *q = wc__new_req(c, true, r->table_id, cl, timeout_ms);
    wc_coord_result oom = {.status = WC_NO_MEMORY, .cl = cl, .detail = "out of memory"};
    wc_replication repl;
    wc_placement *p;
    int64_t token;
    wc_status st;
    wc__group *g;
    uint32_t picked[WC__MAX_CLAUSES] = {0}, nasked = 0;

    if (q == NULL) {
        done(arg, &oom, NULL, 0);
        return;
    }
    q->rdone = done;
    q->arg = arg;
    c->stats.reads++;
    if (cl == WC_CL_ANY) {
        wc__refuse(q, WC_INVALID_ARGUMENT, "consistency ANY is for writes only");
        return;
    }
    if (r->token_range && (r->pk_len != 0 || r->reverse)) {
        wc__refuse(q, WC_INVALID_ARGUMENT,
                   "a token-range read has no partition key and no reverse order");
        return;
    }
    if (r->pk_len > WC_COORD_MAX_PK || (!r->start.unbounded && r->start.len > WC_COORD_MAX_CK) ||
        (!r->end.unbounded && r->end.len > WC_COORD_MAX_CK)) {
        wc__refuse(q, WC_INVALID_ARGUMENT, "partition key or clustering bound too long");
        return;
    }
    /* own copies of the key and bounds */
    q->read = *r;
    wc_buf_append(&q->keys, r->pk, r->pk_len);
    if (!r->start.unbounded)
        wc_buf_append(&q->keys, r->start.key, r->start.len);
    if (!r->end.unbounded)
        wc_buf_append(&q->keys, r->end.key, r->end.len);
    if (wc_buf_status(&q->keys) != WC_OK) {
        wc__refuse(q, WC_NO_MEMORY, "out of memory");
        return;
    }
    q->read.pk = q->keys.data;
    q->read.start.key = r->start.unbounded ? NULL : q->keys.data + r->pk_len;
    q->read.end.key = r->end.unbounded
                          ? NULL
                          : q->keys.data + r->pk_len + (r->start.unbounded ? 0 : r->start.len);
    if (!wc__start(q, &p, &repl))
        return;
    /* a token range lies inside one ring range: the replicas of its end */
    token = r->token_range ? r->token_end : wc_token(q->read.pk, q->read.pk_len);
    if ((st = wc__build_groups(q, p, NULL, &token, 1, NULL, &repl)) != WC_OK) {
        wc__refuse(q, st, wc_last_error());
        return;
    }
    if (wc__unavailable(q)) {
        wc__refuse(q, WC_UNAVAILABLE, "");
        return;
    }
    /*
     * Whom to ask: this node first if it is a live replica, then live
     * replicas in placement order, each only if it helps a clause that is
     * still short.
     */
    g = &q->groups[0];
    q->data_t = UINT32_MAX;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < g->n; i++) {
            wc__target *tg = &q->targets[g->tidx[i]];
            bool helps = false;

            if (!tg->alive || tg->state != WC__T_IDLE || (pass == 0) != tg->local)
                continue;
            for (uint32_t k = 0; k < g->nclauses; k++)
                if (picked[k] < g->clauses[k].need && wc__in_dc(q, g->tidx[i], g->clauses[k].dc))
                    helps = true;
            if (!helps)
                continue;
            for (uint32_t k = 0; k < g->nclauses; k++)
                picked[k] += wc__in_dc(q, g->tidx[i], g->clauses[k].dc);
            tg->state = WC__T_PENDING; /* chosen; wc__ask sends */
            if (q->data_t == UINT32_MAX)
                q->data_t = g->tidx[i];
            nasked++;
        }
    q->res.required = nasked;
    wc__register(q);
    q->timer = c->env->ops->timer_start(c->env, q->timeout_ms, wc__read_timeout, q);
    if (q->timer == 0) {
        wc__refuse(q, WC_NO_MEMORY, "out of memory starting a timer");
        return;
    }
    q->dispatching = true;
    for (uint32_t t = 0; t < q->ntargets; t++)
        if (q->targets[t].state == WC__T_PENDING)
            wc__ask(q, t, t == q->data_t ? WC_COORD_READ_DATA : WC_COORD_READ_DIGEST);
    q->dispatching = false;
    wc__progress(q);
}

/* A multi-partition read: its single-partition reads report here. */
typedef struct wc__multi {
    size_t n, remaining;
    wc_coord_result first_failure;
    size_t failure_at; /* index of first_failure's read, n if none */
    wc_buf *answers;
    wc_store_raw *raws;
    wc_coord_multi_cb done;
    void *arg;
} wc__multi;

typedef struct wc__multi_slot {
    wc__multi *m;
    size_t i;
} wc__multi_slot;

static void wc__multi_end(wc__multi *m)
{
    wc_coord_result ok = {.status = WC_OK};

    if (--m->remaining > 0)
        return;
    if (m->failure_at < m->n) {
        m->done(m->arg, &m->first_failure, NULL, 0);
    } else {
        ok.cl = m->first_failure.cl;
        for (size_t i = 0; i < m->n; i++) {
            m->raws[i].data = m->answers[i].data;
            m->raws[i].len = m->answers[i].len;
        }
        m->done(m->arg, &ok, m->raws, m->n);
    }
    for (size_t i = 0; i < m->n; i++)
        wc_buf_free(&m->answers[i]);
    free(m->answers);
    free(m->raws);
    free(m);
}

static void wc__multi_read_done(void *arg, const wc_coord_result *res, const uint8_t *data,
                                size_t len)
{
    wc__multi_slot *s = arg;
    wc__multi *m = s->m;

    if (res->status != WC_OK && s->i < m->failure_at) {
        m->first_failure = *res;
        m->failure_at = s->i;
    } else if (res->status == WC_OK) {
        wc_buf_append(&m->answers[s->i], data, len);
        if (wc_buf_status(&m->answers[s->i]) != WC_OK && s->i < m->failure_at) {
            m->first_failure = *res;
            m->first_failure.status = WC_NO_MEMORY;
            snprintf(m->first_failure.detail, sizeof(m->first_failure.detail), "out of memory");
            m->failure_at = s->i;
        }
    }
    free(s);
    wc__multi_end(m);
}

void wc_coord_read_partitions(wc_coord *c, const wc_store_read *reads, size_t n, wc_consistency cl,
                              uint32_t timeout_ms, wc_coord_multi_cb done, void *arg)
{
    wc__multi *m = calloc(1, sizeof(*m));
    wc_coord_result oom = {.status = WC_NO_MEMORY, .cl = cl, .detail = "out of memory"};

    if (m == NULL || (m->answers = calloc(n ? n : 1, sizeof(*m->answers))) == NULL ||
        (m->raws = calloc(n ? n : 1, sizeof(*m->raws))) == NULL) {
        if (m)
            free(m->answers);
        free(m);
        done(arg, &oom, NULL, 0);
        return;
    }
    m->n = n;
    m->remaining = n + 1; /* the last reference is this call's: reads may end synchronously */
    m->failure_at = n;
    m->first_failure.cl = cl;
    m->done = done;
    m->arg = arg;
    for (size_t i = 0; i < n; i++) {
        wc__multi_slot *s = calloc(1, sizeof(*s));

        wc_buf_init(&m->answers[i]);
        if (s == NULL) {
            if (i < m->failure_at) {
                m->first_failure = oom;
                m->failure_at = i;
            }
            m->remaining--;
            continue;
        }
        s->m = m;
        s->i = i;
        wc_coord_read(c, &reads[i], cl, timeout_ms, wc__multi_read_done, s);
    }
    wc__multi_end(m);
}

/* A range scan: one token range of the ring after the other. */
typedef struct wc__scan {
    wc_coord *c;
    wc_ring *ring;
    wc_store_read read; /* the template: slice, limit, table */
    wc_buf keys;        /* its bounds */
    wc_consistency cl;
    uint32_t timeout_ms;
    size_t step, nsteps; /* step i < ntokens: (t[i-1], t[i]]; the last: (t[n-1], max] */
    uint64_t rows_left;  /* 0 with a limit: done */
    bool limited;
    wc_buf body; /* the ranges' answers, appended by the store */
    wc_coord_result res;
    wc_coord_read_cb done;
    void *arg;
} wc__scan;

static void wc__scan_next(wc__scan *s);

static void wc__scan_end(wc__scan *s, const wc_coord_result *res)
{
    s->done(s->arg, res, res->status == WC_OK ? s->body.data : NULL,
            res->status == WC_OK ? s->body.len : 0);
    wc_buf_free(&s->body);
    wc_buf_free(&s->keys);
    wc_ring_unref(s->ring);
    free(s);
}

/* One range answered: gather its entries (the store appends), then the next range. */
static void wc__scan_range_done(void *arg, const wc_coord_result *res, const uint8_t *data,
                                size_t len)
{
    wc__scan *s = arg;
    wc_coord_result bad;
    uint64_t rows = 0;
    wc_status st;

    s->res.repairs += res->repairs;
    for (uint32_t i = 0; i < res->ntrace; i++)
        wc__trace_add(&s->res, &res->trace[i]);
    s->res.repair_rows += res->repair_rows;
    s->res.repair_bytes += res->repair_bytes;
    if (res->status != WC_OK) {
        wc__scan_end(s, res);
        return;
    }
    if ((st = s->c->o.store.ops->append(s->c->o.store.ctx, &s->body, data, len, &rows)) != WC_OK) {
        bad = *res;
        bad.status = st;
        snprintf(bad.detail, sizeof(bad.detail), "answer of a range read: %s", wc_last_error());
        wc__scan_end(s, &bad);
        return;
    }
    if (s->limited)
        s->rows_left = rows >= s->rows_left ? 0 : s->rows_left - rows;
    s->step++;
    wc__scan_next(s);
}

static void wc__scan_next(wc__scan *s)
{
    size_t ntok = wc_ring_token_count(s->ring);
    wc_store_read r = s->read;

    for (;;) {
        if (s->step >= s->nsteps || (s->limited && s->rows_left == 0)) {
            s->res.status = WC_OK;
            wc__scan_end(s, &s->res);
            return;
        }
        r.token_start = s->step == 0 ? INT64_MIN : wc_ring_token_at(s->ring, s->step - 1);
        r.token_end = s->step < ntok ? wc_ring_token_at(s->ring, s->step) : INT64_MAX;
        if (!s->read.token_range)
            break;
        /* only the part of the range inside the scan's (token_start, token_end] */
        if (r.token_start < s->read.token_start)
            r.token_start = s->read.token_start;
        if (r.token_end > s->read.token_end)
            r.token_end = s->read.token_end;
        if (r.token_start < r.token_end ||
            (r.token_start == INT64_MIN && r.token_end == INT64_MIN && s->step == 0))
            break;
        s->step++;
    }
    r.token_range = true;
    r.limit = s->limited ? s->rows_left : 0;
    wc_coord_read(s->c, &r, s->cl, s->timeout_ms, wc__scan_range_done, s);
}

void wc_coord_scan(wc_coord *c, const wc_store_read *r, wc_consistency cl, uint32_t timeout_ms,
                   wc_coord_read_cb done, void *arg)
{
    wc__scan *s = calloc(1, sizeof(*s));
    wc_coord_result res = {.status = WC_NO_MEMORY, .cl = cl, .detail = "out of memory"};
    size_t ntok;

    if (s == NULL) {
        done(arg, &res, NULL, 0);
        return;
    }
    if (c->ring == NULL || r->reverse) {
        res.status = c->ring ? WC_INVALID_ARGUMENT : WC_UNAVAILABLE;
        snprintf(res.detail, sizeof(res.detail), "%s",
                 c->ring ? "reverse order needs a single partition (a range scan has none)"
                         : "this node has no token ring yet");
        free(s);
        done(arg, &res, NULL, 0);
        return;
    }
    s->c = c;
    s->ring = c->ring;
    wc_ring_ref(s->ring);
    s->read = *r;
    s->read.pk = NULL;
    s->read.pk_len = 0;
    wc_buf_init(&s->keys);
    wc_buf_init(&s->body);
    if (!r->start.unbounded)
        wc_buf_append(&s->keys, r->start.key, r->start.len);
    if (!r->end.unbounded)
        wc_buf_append(&s->keys, r->end.key, r->end.len);
    s->read.start.key = r->start.unbounded ? NULL : s->keys.data;
    s->read.end.key =
        r->end.unbounded ? NULL : s->keys.data + (r->start.unbounded ? 0 : r->start.len);
    s->cl = cl;
    s->timeout_ms = timeout_ms;
    s->limited = r->limit > 0;
    s->rows_left = r->limit;
    s->res.cl = cl;
    s->done = done;
    s->arg = arg;
    ntok = wc_ring_token_count(s->ring);
    /* the range that wraps is read as its two halves, so rows come in token order */
    s->nsteps = ntok + (wc_ring_token_at(s->ring, ntok - 1) != INT64_MAX);
    if (wc_buf_status(&s->keys) != WC_OK) {
        wc__scan_end(s, &res);
        return;
    }
    wc__scan_next(s);
}

static void wc__progress(wc__req *q)
{
    if (q->is_read) {
        if (q->phase == 2) {
            for (uint32_t t = 0; t < q->ntargets; t++)
                if (q->targets[t].state == WC__T_FAILED) {
                    q->res.status = q->targets[t].fail_st;
                    wc__set_detail(q, "read repair of replica %s failed: %s",
                                   wc__member(q, t)->addr.host,
                                   wc_status_name(q->targets[t].fail_st));
                    wc__finish(q, q->targets[t].fail_st);
                    wc__free_req(q);
                    return;
                }
            q->outstanding = 0;
            for (uint32_t t = 0; t < q->ntargets; t++)
                q->outstanding += q->targets[t].state == WC__T_PENDING;
        }
        wc__read_progress(q);
    } else {
        wc__write_progress(q);
    }
}

/* ---------------------------------------------------------------- replica side */

static void wc__reply(wc_coord *c, const wc_addr *to, const wc_coord_msg *m)
{
    wc_coord_msg small;

    wc_buf_reset(&c->scratch);
    if (wc_coord_encode(m, &c->scratch) != WC_OK)
        return;
    if (c->scratch.len > WC_ENV_MAX_MESSAGE && m->type == WC_COORD_MSG_READ_RESPONSE) {
        /* a result too large for one message: the coordinator fails the read at once */
        small = *m;
        small.status = WC_OVERLOADED;
        small.data = NULL;
        small.data_len = 0;
        wc_buf_reset(&c->scratch);
        if (wc_coord_encode(&small, &c->scratch) != WC_OK)
            return;
    }
    (void)c->env->ops->send(c->env, to, c->scratch.data, c->scratch.len);
}

static void wc__replica_apply_done(void *arg, wc_status st)
{
    wc__op *op = arg;
    wc_coord_msg m = {.type = WC_COORD_MSG_MUTATION_ACK, .req_id = op->id, .status = (uint8_t)st};

    if (st == WC_OK)
        op->c->stats.mutations_applied++;
    wc__reply(op->c, &op->from, &m);
    free(op);
}

static void wc__replica_read_done(void *arg, wc_status st, const uint8_t *raw, size_t len,
                                  const uint8_t digest[16])
{
    wc__op *op = arg;
    wc_coord_msg m = {.type = WC_COORD_MSG_READ_RESPONSE,
                      .req_id = op->id,
                      .status = (uint8_t)st,
                      .mode = op->mode};

    if (st == WC_OK) {
        op->c->stats.reads_served++;
        memcpy(m.digest, digest, WC_COORD_DIGEST_LEN);
        if (op->mode == WC_COORD_READ_DATA) {
            m.data = raw;
            m.data_len = len;
        }
    }
    wc__reply(op->c, &op->from, &m);
    free(op);
}

/*
 * The target of q at address a, or -1.  Two targets share an address when
 * a dead host was replaced at it: the live one (the replacement) answers.
 */
static int32_t wc__target_of(const wc__req *q, const wc_addr *a)
{
    int32_t found = -1;

    for (uint32_t t = 0; t < q->ntargets; t++)
        if (wc_addr_equal(&wc__member(q, t)->addr, a)) {
            if (q->targets[t].alive)
                return (int32_t)t;
            if (found < 0)
                found = (int32_t)t;
        }
    return found;
}

bool wc_coord_on_message(wc_coord *c, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc_coord_msg m;
    wc__op *op;
    wc__req *q;
    int32_t t;

    if (len == 0 || msg[0] < WC_MSG_RANGE_COORDINATOR || msg[0] > WC_COORD_MSG_LAST)
        return false;
    if (msg[0] >= WC_COUNTER_MSG_WRITE && msg[0] <= WC_COUNTER_MSG_LAST) {
        wc__counter_on_message(c, from, msg, len);
        return true;
    }
    if (msg[0] >= WC_INDEX_MSG_QUERY && msg[0] <= WC_INDEX_MSG_LAST) {
        wc__index_on_message(c, from, msg, len);
        return true;
    }
    if (wc_coord_decode(msg, len, &m) != WC_OK) {
        /* logged the first time and then every 1000th, with the total */
        if (c->stats.malformed++ % 1000 == 0) {
            char line[WC_ADDR_HOST_MAX + 200], who[WC_ADDR_HOST_MAX + 8];

            wc_addr_format(from, who, sizeof(who));
            snprintf(line, sizeof(line),
                     "coordinator message from %s dropped (%" PRIu64 " so far): %s", who,
                     c->stats.malformed, wc_last_error());
            c->env->ops->log(c->env, WC_ENV_LOG_WARNING, line);
        }
        return true;
    }
    switch (m.type) {
    case WC_COORD_MSG_MUTATION:
    case WC_COORD_MSG_READ:
        if ((op = calloc(1, sizeof(*op))) == NULL)
            return true;
        op->c = c;
        op->id = m.req_id;
        op->remote = true;
        op->from = *from;
        op->mode = m.mode;
        if (m.type == WC_COORD_MSG_MUTATION)
            c->o.store.ops->apply(c->o.store.ctx, m.batch, m.batch_len, wc__replica_apply_done, op);
        else
            c->o.store.ops->read(c->o.store.ctx, &m.read, wc__replica_read_done, op);
        break;
    case WC_COORD_MSG_MUTATION_ACK:
        if ((q = wc__find(c, m.req_id)) == NULL || (t = wc__target_of(q, from)) < 0 ||
            q->targets[t].state != WC__T_PENDING || (q->is_read && q->phase != 2))
            break;
        q->targets[t].state = m.status == WC_OK ? WC__T_ACKED : WC__T_FAILED;
        q->targets[t].fail_st = (wc_status)m.status;
        wc__progress(q);
        break;
    case WC_COORD_MSG_READ_RESPONSE:
        if ((q = wc__find(c, m.req_id)) == NULL || !q->is_read || q->phase == 2 ||
            (t = wc__target_of(q, from)) < 0)
            break;
        if (m.status == WC_OK &&
            m.mode != (q->phase == 0 && (uint32_t)t != q->data_t ? WC_COORD_READ_DIGEST
                                                                 : WC_COORD_READ_DATA))
            break;
        wc__read_answer(q, (uint32_t)t, (wc_status)m.status, m.mode, m.data, m.data_len, m.digest);
        break;
    }
    return true;
}

/* ---------------------------------------------------------------- lifecycle */

wc_status wc_coord_create(const wc_coord_options *o, wc_coord **out)
{
    wc_coord *c;

    if (o == NULL || o->env == NULL || o->store.ops == NULL || o->store.ops->apply == NULL ||
        o->store.ops->read == NULL || o->store.ops->reconcile == NULL ||
        o->store.ops->append == NULL || o->is_alive == NULL || o->replication == NULL)
        return wc_error(WC_INVALID_ARGUMENT,
                        "a coordinator needs an env, a store, is_alive and replication");
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating a coordinator");
    c->o = *o;
    c->env = o->env;
    c->self = -1;
    /* a restarted node does not take answers meant for its previous life */
    c->next_id = (wc_env_random(c->env) >> 2) | 1;
    wc_buf_init(&c->scratch);
    *out = c;
    return WC_OK;
}

void wc_coord_destroy(wc_coord *c)
{
    if (c == NULL)
        return;
    wc__counter_stop(c);
    for (uint32_t b = 0; b < WC__BUCKETS; b++)
        while (c->buckets[b]) {
            wc__req *q = c->buckets[b];

            if (!q->done)
                wc__set_detail(q, "coordinator stopped");
            wc__finish(q, WC_UNAVAILABLE);
            wc__free_req(q);
        }
    wc__counter_free(c);
    wc__index_stop(c);
    wc_coord_set_ring(c, NULL);
    wc_coord_set_pending_ring(c, NULL);
    wc_buf_free(&c->scratch);
    free(c);
}

void wc_coord_set_ring(wc_coord *c, wc_ring *r)
{
    for (uint32_t i = 0; i < WC__CACHE; i++) {
        wc_placement_unref(c->cache[i].p);
        c->cache[i].p = NULL;
    }
    if (r)
        wc_ring_ref(r);
    wc_ring_unref(c->ring);
    c->ring = r;
    c->self = r ? wc_ring_find_host(r, c->o.self_id) : -1;
}

void wc_coord_set_pending_ring(wc_coord *c, wc_ring *r)
{
    wc_placement_unref(c->pending_p.p);
    c->pending_p.p = NULL;
    if (r)
        wc_ring_ref(r);
    wc_ring_unref(c->pending);
    c->pending = r;
}

size_t wc_coord_pending(const wc_coord *c)
{
    return c->nreqs;
}

void wc_coord_get_stats(const wc_coord *c, wc_coord_stats *out)
{
    *out = c->stats;
}

/* ---------------------------------------------------------------- for counter_leader.c */

wc__counters **wc__coord_counters(wc_coord *c)
{
    return &c->counters;
}

const wc_coord_options *wc__coord_options(const wc_coord *c)
{
    return &c->o;
}

wc_coord_stats *wc__coord_stats(wc_coord *c)
{
    return &c->stats;
}

wc__ixreads **wc__coord_ixreads(wc_coord *c)
{
    return &c->ixreads;
}

wc_status wc__coord_replicas(wc_coord *c, uint32_t table_id, int64_t token, wc_ring **ring,
                             const uint32_t **hosts, size_t *n, int32_t *self)
{
    wc_replication repl;
    wc_placement *p;
    wc_status st;

    if (c->ring == NULL)
        return wc_error(WC_UNAVAILABLE, "this node has no token ring yet");
    memset(&repl, 0, sizeof(repl));
    if ((st = c->o.replication(c->o.ctx, table_id, &repl)) != WC_OK)
        return st;
    if ((p = wc__placement(c, &repl, &st)) == NULL)
        return st;
    *ring = c->ring;
    *n = wc_placement_replicas(p, token, hosts);
    *self = c->self;
    return WC_OK;
}

size_t wc__coord_pending_replicas(wc_coord *c, uint32_t table_id, int64_t token, wc_ring **pring,
                                  uint32_t *out, size_t cap)
{
    wc_replication repl;
    wc_placement *p, *pp;
    const uint32_t *hosts, *ph;
    size_t nh, np, n = 0;
    wc_status st;

    memset(&repl, 0, sizeof(repl));
    if (c->ring == NULL || c->pending == NULL ||
        c->o.replication(c->o.ctx, table_id, &repl) != WC_OK ||
        (p = wc__placement(c, &repl, &st)) == NULL || (pp = wc__pending_p(c, &repl)) == NULL) {
        wc_clear_error();
        return 0;
    }
    nh = wc_placement_replicas(p, token, &hosts);
    np = wc_placement_replicas(pp, token, &ph);
    for (size_t k = 0; k < np && n < cap; k++) {
        int32_t cur = wc_ring_find_host(c->ring, wc_ring_host(c->pending, ph[k])->host_id);
        bool current = false;

        for (size_t r = 0; r < nh && !current && cur >= 0; r++)
            current = hosts[r] == (uint32_t)cur;
        if (!current)
            out[n++] = ph[k];
    }
    *pring = c->pending;
    return n;
}
