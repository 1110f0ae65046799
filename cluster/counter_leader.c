/*
 * counter_leader.c - counter writes on a cluster: the coordinator's side
 * (one leader per partition, the answers gathered) and the leader's side
 * (apply the deltas to its own shards, replicate the shards).  Design and
 * failure rules in counter_leader.h.
 *
 * A coordinated counter write is a wc__cw in a list of this coordinator's
 * counter writes, found again by request id when a leader answers (a
 * COUNTER_RESULT, or the local leader's callback).  A leader's work is a
 * wc__lead, in a list so that a stopping coordinator frees what is left.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator_format.h"
#include "counter.h"
#include "counter_leader.h"
#include "counter_leader_format.h"
#include "keys.h"
#include "mutation.h"

typedef struct wc__cw wc__cw;

/* One leader of a counter write: the partitions it leads and its answer. */
typedef struct wc__cw_leader {
    uint32_t host; /* ring index */
    wc_addr addr;
    bool local;
    uint32_t nmut;
    wc_buf batch;
    bool answered;
    bool applied; /* it said so (or may have: no answer) */
    wc_status st;
    uint32_t required, acked, hints;
    char detail[WC_COUNTER_DETAIL_MAX + 1];
} wc__cw_leader;

struct wc__cw {
    wc__cw *next;
    wc__counters *k;
    uint64_t id;
    bool dispatching; /* answers are recorded, the end waits */
    wc_consistency cl;
    uint32_t timeout_ms;
    wc__cw_leader *leaders;
    uint32_t nleaders, answered;
    uint64_t timer;
    wc_coord_write_cb done;
    void *arg;
};

/* A leader's work: apply the deltas, replicate the shards, answer. */
typedef struct wc__lead wc__lead;
struct wc__lead {
    wc__lead *next, *prev;
    wc__counters *k;
    bool remote;
    wc_addr from;    /* remote: the coordinator */
    uint64_t req_id; /* the coordinator's request id */
    uint32_t leader; /* local: the index among the write's leaders */
    uint32_t table_id;
    wc_consistency cl;
    uint32_t timeout_ms;
};

#define WC__RECENT 64

/* A COUNTER_WRITE led lately: a second copy of it is dropped, not counted again. */
typedef struct wc__recent {
    wc_addr from;
    uint64_t req_id;
} wc__recent;

struct wc__counters {
    wc_coord *c;
    wc__recent recent[WC__RECENT];
    uint32_t nrecent;
    wc__cw *writes;
    wc__lead leads; /* sentinel of the list of leads */
    uint64_t next_id;
    bool stopping;
    wc_buf scratch;
};

static void wc__lead_answer(wc__lead *l, wc_status st, bool applied, const wc_coord_result *res,
                            const char *detail);
static void wc__detail(wc_coord_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* res->detail from fmt, cut to its size. */
static void wc__detail(wc_coord_result *res, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
    va_end(ap);
}

static wc__counters *wc__counters_of(wc_coord *c)
{
    wc__counters **pk = wc__coord_counters(c);

    if (*pk == NULL) {
        wc__counters *k = calloc(1, sizeof(*k));

        if (k == NULL)
            return NULL;
        k->c = c;
        k->leads.next = k->leads.prev = &k->leads;
        k->next_id = (wc_env_random(wc__coord_options(c)->env) >> 2) | 1;
        wc_buf_init(&k->scratch);
        *pk = k;
    }
    return *pk;
}

/* ---------------------------------------------------------------- the coordinator's side */

static wc__cw *wc__cw_find(wc__counters *k, uint64_t id)
{
    for (wc__cw *w = k->writes; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

static void wc__cw_free(wc__cw *w)
{
    wc__cw **pp = &w->k->writes;
    wc_env *env = wc__coord_options(w->k->c)->env;

    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    if (w->timer)
        env->ops->timer_cancel(env, w->timer);
    for (uint32_t i = 0; i < w->nleaders; i++)
        wc_buf_free(&w->leaders[i].batch);
    free(w->leaders);
    free(w);
}

/* The end of w: done once with the write's result (counter_leader.h), then w is freed. */
static void wc__cw_end(wc__cw *w)
{
    wc_coord_result res;
    wc_coord_stats *stats = wc__coord_stats(w->k->c);
    const wc__cw_leader *f = NULL;
    bool applied = false;

    memset(&res, 0, sizeof(res));
    res.cl = w->cl;
    for (uint32_t i = 0; i < w->nleaders; i++) {
        const wc__cw_leader *l = &w->leaders[i];

        applied = applied || l->applied || !l->answered;
        if (f == NULL && (!l->answered || l->st != WC_OK))
            f = l;
        res.hints += l->hints;
    }
    if (f == NULL) {
        res.status = WC_OK;
        res.required = w->leaders[0].required;
        res.acked = w->leaders[0].acked;
    } else if (!applied) {
        /* no leader applied anything: the write failed as a plain write does */
        res.status = f->st;
        res.required = f->required;
        res.acked = f->acked;
        snprintf(res.detail, sizeof(res.detail), "%s", f->detail);
    } else {
        char who[WC_ADDR_HOST_MAX + 8];

        res.status = WC_TIMEOUT;
        res.required = f->required;
        res.acked = f->acked;
        wc_addr_format(&f->addr, who, sizeof(who));
        if (!f->answered && w->k->stopping)
            wc__detail(&res,
                     "counter write interrupted: this node stopped before its leader replica %s "
                     "answered; it may or may not have been applied",
                     who);
        else if (!f->answered)
            wc__detail(&res,
                     "counter write timed out after %u ms waiting for its leader replica %s: "
                     "it may or may not have been applied",
                     w->timeout_ms, who);
        else if (f->applied)
            wc__detail(&res,
                     "counter write timed out after its leader replica %s applied it (%s): it "
                     "may or may not be counted yet",
                     who, f->detail);
        else
            wc__detail(&res,
                     "counter write partly applied: its leader replica %s failed (%s) while "
                     "another leader applied its partitions",
                     who, f->detail);
    }
    if (res.status == WC_TIMEOUT)
        stats->timeouts++;
    else if (res.status == WC_UNAVAILABLE)
        stats->unavailable++;
    else if (res.status != WC_OK)
        stats->failures++;
    w->done(w->arg, &res);
    wc__cw_free(w);
}

static void wc__cw_timeout(void *arg)
{
    wc__cw *w = arg;

    w->timer = 0;
    wc__cw_end(w);
}

/* Leader i of w answered (remote or local). */
static void wc__cw_answer(wc__cw *w, uint32_t i, wc_status st, bool applied, uint32_t required,
                          uint32_t acked, uint32_t hints, const char *detail, size_t detail_len)
{
    wc__cw_leader *l = &w->leaders[i];

    if (l->answered)
        return;
    l->answered = true;
    l->st = st;
    l->applied = applied;
    l->required = required;
    l->acked = acked;
    l->hints = hints;
    if (detail_len > WC_COUNTER_DETAIL_MAX)
        detail_len = WC_COUNTER_DETAIL_MAX;
    memcpy(l->detail, detail, detail_len);
    l->detail[detail_len] = '\0';
    w->answered++;
    if (!w->dispatching && w->answered == w->nleaders)
        wc__cw_end(w);
}

static void wc__lead_start(wc__counters *k, wc__lead *l, const uint8_t *batch, size_t len);

/* Hand leader i its deltas: to this node's leader code, or in a COUNTER_WRITE. */
static void wc__cw_dispatch(wc__cw *w, uint32_t i)
{
    wc__counters *k = w->k;
    wc__cw_leader *ld = &w->leaders[i];
    const wc_coord_options *o = wc__coord_options(k->c);
    wc_status st;

    if (ld->local) {
        wc__lead *l = calloc(1, sizeof(*l));

        if (l == NULL) {
            wc__cw_answer(w, i, WC_NO_MEMORY, false, 0, 0, 0, "out of memory", 13);
            return;
        }
        l->req_id = w->id;
        l->leader = i;
        l->cl = w->cl;
        l->timeout_ms = w->timeout_ms - w->timeout_ms / 4;
        wc__lead_start(k, l, ld->batch.data, ld->batch.len);
        return;
    }
    wc_buf_reset(&k->scratch);
    wc_buf_put_u8(&k->scratch, WC_COUNTER_MSG_WRITE);
    wc_buf_put_varint(&k->scratch, w->id);
    wc_buf_put_u8(&k->scratch, (uint8_t)w->cl);
    wc_buf_put_varint(&k->scratch, w->timeout_ms - w->timeout_ms / 4);
    wc_buf_put_bytes(&k->scratch, ld->batch.data, ld->batch.len);
    if ((st = wc_buf_status(&k->scratch)) == WC_OK)
        st = o->env->ops->send(o->env, &ld->addr, k->scratch.data, k->scratch.len);
    if (st != WC_OK) {
        const char *why = "could not send the counter write to its leader replica";

        wc__cw_answer(w, i, st == WC_INVALID_ARGUMENT ? WC_OVERLOADED : st, false, 0, 0, 0, why,
                      strlen(why));
    }
}

/* The leader of a partition: this node if it is a replica, else the first live one (own DC first). */
static int64_t wc__choose_leader(const wc_coord_options *o, wc_ring *ring, const uint32_t *hosts,
                                 size_t n, int32_t self)
{
    int64_t other_dc = -1;

    for (size_t i = 0; i < n; i++)
        if ((int32_t)hosts[i] == self)
            return hosts[i];
    for (size_t i = 0; i < n; i++) {
        const wc_ring_member *m = wc_ring_host(ring, hosts[i]);

        if (!o->is_alive(o->ctx, m))
            continue;
        if (strcmp(m->dc, o->self_dc) == 0)
            return hosts[i];
        if (other_dc < 0)
            other_dc = hosts[i];
    }
    return other_dc;
}

static void wc__refuse(wc_coord *c, wc_status st, wc_consistency cl, wc_coord_write_cb done,
                       void *arg, const char *detail)
{
    wc_coord_result res;
    wc_coord_stats *stats = wc__coord_stats(c);

    memset(&res, 0, sizeof(res));
    res.status = st;
    res.cl = cl;
    snprintf(res.detail, sizeof(res.detail), "%s", detail);
    if (st == WC_UNAVAILABLE)
        stats->unavailable++;
    else
        stats->failures++;
    done(arg, &res);
}

void wc__counter_write(wc_coord *c, uint32_t table_id, const uint8_t *batch, size_t len,
                       wc_consistency cl, uint32_t timeout_ms, wc_coord_write_cb done, void *arg)
{
    wc__counters *k = wc__counters_of(c);
    const wc_coord_options *o = wc__coord_options(c);
    wc_coord_result check;
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
    uint32_t tid = 0, *lead_of = NULL, nm = 0;
    const char *why;
    char detail[WC_COORD_DETAIL_MAX];
    wc__cw *w = NULL;
    wc_status st;

    wc__coord_stats(c)->writes++;
    if (k == NULL) {
        wc__refuse(c, WC_NO_MEMORY, cl, done, arg, "out of memory");
        return;
    }
    if (!wc_counter_batch_only_deltas(batch, len, &tid, &why) || tid != table_id) {
        snprintf(detail, sizeof(detail),
                 "a counter update on a cluster is sent alone, increments of one table only, "
                 "but %s",
                 why ? why : "it is for another table");
        wc__refuse(c, WC_INVALID_ARGUMENT, cl, done, arg, detail);
        return;
    }
    if (cl == WC_CL_ANY) {
        wc__refuse(c, WC_INVALID_ARGUMENT, cl, done, arg,
                   "consistency ANY is not supported for counter updates: a hint is no leader");
        return;
    }
    /* enough live replicas for every partition, or nothing is sent */
    if (wc_coord_write_check(c, table_id, batch, len, cl, &check) != WC_OK) {
        done(arg, &check); /* counted by the check */
        return;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL || wc_batch_parse(batch, len, &bv) != WC_OK ||
        (lead_of = calloc(bv.count ? bv.count : 1, sizeof(*lead_of))) == NULL ||
        (w->leaders = calloc(bv.count ? bv.count : 1, sizeof(*w->leaders))) == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory");
        goto fail;
    }
    w->k = k;
    w->cl = cl;
    w->timeout_ms = timeout_ms > 1 ? timeout_ms : 2;
    w->done = done;
    w->arg = arg;
    /* each partition's leader; the leaders in the order first met */
    while (wc_batch_next(&bv, &mut, &ml) == 1) {
        wc_mutation_view mv;
        wc_ring *ring;
        const uint32_t *hosts;
        size_t nh;
        int32_t self;
        int64_t h;
        uint32_t i;

        if ((st = wc_mutation_parse(mut, ml, &mv)) != WC_OK)
            goto fail;
        st = wc__coord_replicas(c, table_id, wc_token(mv.pk, mv.pk_len), &ring, &hosts, &nh, &self);
        if (st != WC_OK)
            goto fail;
        if ((h = wc__choose_leader(o, ring, hosts, nh, self)) < 0) {
            st = wc_error(WC_UNAVAILABLE, "no live replica can lead the counter write");
            goto fail;
        }
        for (i = 0; i < w->nleaders && w->leaders[i].host != (uint32_t)h; i++)
            ;
        if (i == w->nleaders) {
            w->leaders[i].host = (uint32_t)h;
            w->leaders[i].addr = wc_ring_host(ring, (uint32_t)h)->addr;
            w->leaders[i].local = (int32_t)h == self;
            wc_buf_init(&w->leaders[i].batch);
            w->nleaders++;
        }
        w->leaders[i].nmut++;
        lead_of[nm++] = i;
    }
    for (uint32_t i = 0; i < w->nleaders; i++)
        wc_batch_begin(&w->leaders[i].batch, w->leaders[i].nmut);
    wc_batch_parse(batch, len, &bv);
    for (uint32_t m = 0; wc_batch_next(&bv, &mut, &ml) == 1; m++)
        wc_batch_add(&w->leaders[lead_of[m]].batch, mut, ml);
    for (uint32_t i = 0; i < w->nleaders; i++)
        if ((st = wc_buf_status(&w->leaders[i].batch)) != WC_OK)
            goto fail;
    free(lead_of);
    lead_of = NULL;
    w->id = k->next_id++;
    w->next = k->writes;
    k->writes = w;
    w->timer = o->env->ops->timer_start(o->env, w->timeout_ms, wc__cw_timeout, w);
    if (w->timer == 0) {
        wc__cw_free(w);
        wc__refuse(c, WC_NO_MEMORY, cl, done, arg, "out of memory starting a timer");
        return;
    }
    w->dispatching = true;
    for (uint32_t i = 0; i < w->nleaders; i++)
        wc__cw_dispatch(w, i);
    w->dispatching = false;
    if (w->answered == w->nleaders)
        wc__cw_end(w);
    return;
fail:
    free(lead_of);
    if (w) {
        for (uint32_t i = 0; i < w->nleaders; i++)
            wc_buf_free(&w->leaders[i].batch);
        free(w->leaders);
        free(w);
    }
    wc__refuse(c, st, cl, done, arg, wc_last_error());
}

/* ---------------------------------------------------------------- the leader's side */

static void wc__lead_free(wc__lead *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    free(l);
}

/* Tell the coordinator how the lead ended (a message, or its own write), then free l. */
static void wc__lead_answer(wc__lead *l, wc_status st, bool applied, const wc_coord_result *res,
                            const char *detail)
{
    wc__counters *k = l->k;
    const wc_coord_options *o = wc__coord_options(k->c);
    uint32_t required = res ? res->required : 0, acked = res ? res->acked : 0;
    uint32_t hints = res ? res->hints : 0;
    size_t dl = strlen(detail);

    if (dl > WC_COUNTER_DETAIL_MAX)
        dl = WC_COUNTER_DETAIL_MAX;
    if (k->stopping) {
        wc__lead_free(l);
        return;
    }
    if (l->remote) {
        wc_buf_reset(&k->scratch);
        wc_buf_put_u8(&k->scratch, WC_COUNTER_MSG_RESULT);
        wc_buf_put_varint(&k->scratch, l->req_id);
        wc_buf_put_u8(&k->scratch, (uint8_t)st);
        wc_buf_put_u8(&k->scratch, applied ? WC_COUNTER_RESULT_APPLIED : 0);
        wc_buf_put_varint(&k->scratch, required);
        wc_buf_put_varint(&k->scratch, acked);
        wc_buf_put_varint(&k->scratch, hints);
        wc_buf_put_bytes(&k->scratch, detail, dl);
        if (wc_buf_status(&k->scratch) == WC_OK)
            (void)o->env->ops->send(o->env, &l->from, k->scratch.data, k->scratch.len);
    } else {
        wc__cw *w = wc__cw_find(k, l->req_id);

        if (w && l->leader < w->nleaders)
            wc__cw_answer(w, l->leader, st, applied, required, acked, hints, detail, dl);
    }
    wc__lead_free(l);
}

static void wc__lead_written(void *arg, const wc_coord_result *res)
{
    wc__lead *l = arg;

    wc__lead_answer(l, res->status, true, res, res->detail);
}

static void wc__lead_applied(void *arg, wc_status st, const uint8_t *resolved, size_t len)
{
    wc__lead *l = arg;
    char detail[WC_COORD_DETAIL_MAX];

    if (st != WC_OK) {
        snprintf(detail, sizeof(detail), "the leader replica failed to apply it: %s",
                 wc_last_error());
        wc__lead_answer(l, st, false, NULL, detail);
        return;
    }
    if (l->k->stopping) {
        wc__lead_free(l);
        return;
    }
    /* the shards to every replica, this one counted as applied */
    wc__coord_write_applied(l->k->c, l->table_id, resolved, len, l->cl,
                            l->timeout_ms ? l->timeout_ms : 1, wc__lead_written, l);
}

/* Lead the deltas of batch (l filled but for k and table): check, apply, replicate. */
static void wc__lead_start(wc__counters *k, wc__lead *l, const uint8_t *batch, size_t len)
{
    const wc_coord_options *o = wc__coord_options(k->c);
    wc_coord_result check;
    const char *why;

    l->k = k;
    l->next = k->leads.next;
    l->prev = &k->leads;
    k->leads.next->prev = l;
    k->leads.next = l;
    if (!wc_counter_batch_only_deltas(batch, len, &l->table_id, &why)) {
        wc__lead_answer(l, WC_INVALID_ARGUMENT, false, NULL, why);
        return;
    }
    if (o->store.ops->apply_counter == NULL) {
        wc__lead_answer(l, WC_INVALID_ARGUMENT, false, NULL,
                        "this replica cannot lead counter writes");
        return;
    }
    /* the replicas may have gone down since the coordinator looked */
    if (wc_coord_write_check(k->c, l->table_id, batch, len, l->cl, &check) != WC_OK) {
        wc__lead_answer(l, check.status, false, &check, check.detail);
        return;
    }
    o->store.ops->apply_counter(o->store.ctx, batch, len, wc__lead_applied, l);
}

void wc__counter_on_message(wc_coord *c, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc__counters *k = wc__counters_of(c);
    const uint8_t *p = msg + 1, *end = msg + len, *b;
    uint64_t id, v[3];
    size_t bl;

    if (k == NULL || k->stopping)
        return;
    if (msg[0] == WC_COUNTER_MSG_WRITE) {
        uint64_t timeout;
        uint8_t cl;
        wc__lead *l;

        if (!wc_get_varint(&p, end, &id) || p >= end)
            goto malformed;
        cl = *p++;
        if (!wc_get_varint(&p, end, &timeout) || !wc_get_bytes(&p, end, &b, &bl) || p != end ||
            !wc_consistency_valid(cl) || timeout == 0 || timeout > UINT32_MAX)
            goto malformed;
        for (uint32_t i = 0; i < WC__RECENT && i < k->nrecent; i++)
            if (k->recent[i].req_id == id && wc_addr_equal(&k->recent[i].from, from))
                return; /* a duplicate: applied (or being applied) once already */
        k->recent[k->nrecent % WC__RECENT].from = *from;
        k->recent[k->nrecent % WC__RECENT].req_id = id;
        k->nrecent++;
        if ((l = calloc(1, sizeof(*l))) == NULL)
            return;
        l->remote = true;
        l->from = *from;
        l->req_id = id;
        l->cl = (wc_consistency)cl;
        l->timeout_ms = (uint32_t)timeout;
        wc__lead_start(k, l, b, bl);
        return;
    }
    if (msg[0] == WC_COUNTER_MSG_RESULT) {
        uint8_t st, flags;
        wc__cw *w;
        uint32_t i;

        if (!wc_get_varint(&p, end, &id) || end - p < 2)
            goto malformed;
        st = p[0];
        flags = p[1];
        p += 2;
        if (!wc_get_varint(&p, end, &v[0]) || !wc_get_varint(&p, end, &v[1]) ||
            !wc_get_varint(&p, end, &v[2]) || !wc_get_bytes(&p, end, &b, &bl) || p != end ||
            st > WC_COORD_MAX_STATUS || v[0] > UINT32_MAX || v[1] > UINT32_MAX ||
            v[2] > UINT32_MAX)
            goto malformed;
        if ((w = wc__cw_find(k, id)) == NULL)
            return; /* ended (timed out) before the answer came */
        for (i = 0; i < w->nleaders; i++)
            if (!w->leaders[i].local && wc_addr_equal(&w->leaders[i].addr, from))
                break;
        if (i < w->nleaders)
            wc__cw_answer(w, i, (wc_status)st, (flags & WC_COUNTER_RESULT_APPLIED) != 0,
                          (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (const char *)b, bl);
        return;
    }
malformed:
    if (wc__coord_stats(c)->malformed++ % 1000 == 0) {
        char who[WC_ADDR_HOST_MAX + 8];
        wc_env *env = wc__coord_options(c)->env;

        wc_addr_format(from, who, sizeof(who));
        wc_env_logf(env, WC_ENV_LOG_WARNING,
                    "counter message of type %u from %s dropped (%" PRIu64 " malformed so far)",
                    msg[0], who, wc__coord_stats(c)->malformed);
    }
}

/* ---------------------------------------------------------------- lifecycle */

void wc__counter_stop(wc_coord *c)
{
    wc__counters *k = *wc__coord_counters(c);

    if (k == NULL)
        return;
    k->stopping = true;
    while (k->writes)
        wc__cw_end(k->writes);
}

void wc__counter_free(wc_coord *c)
{
    wc__counters **pk = wc__coord_counters(c), *k = *pk;

    if (k == NULL)
        return;
    while (k->leads.next != &k->leads)
        wc__lead_free(k->leads.next);
    wc_buf_free(&k->scratch);
    free(k);
    *pk = NULL;
}
