/*
 * view_pair.c - paired view updates (view_pair.h).
 *
 * A record in flight is a wc__vrec (its log id and how many of its sends
 * are still open); each send is a wc__vsend, local (waiting for the
 * store) or remote (waiting for VIEW_ACK until its deadline, then
 * hinted).  The tick checks deadlines and, every replay_interval_ms,
 * replays the log.
 */
#include "view_pair.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "mutation.h"
#include "ring.h"
#include "counter_leader.h" /* wc__coord_replicas, wc__coord_options */
#include "view.h"

#define WC__VP_TICK_MS 200u
#define WC__VP_MAX_REPLICAS 64

typedef struct wc__vrec wc__vrec;
struct wc__vrec {
    wc__vrec *next, *prev;
    uint8_t id[WC_VIEW_LOG_ID_LEN];
    uint32_t open;   /* sends not finished */
    bool failed;     /* a send neither landed nor was hinted: keep the log entry */
    bool submitting; /* sends are still being made: do not finish yet */
};

typedef struct wc__vsend wc__vsend;
struct wc__vsend {
    wc__vsend *next, *prev; /* remote sends waiting for their ack */
    wc_view_pair *p;
    wc__vrec *rec;
    uint64_t id;
    uint64_t deadline_ms;
    uint32_t table;
    wc_ring_member host; /* tokens not used; valid with ring held */
    wc_ring *ring;
    wc_buf batch;
};

/* A VIEW_MUTATION applied for another node: where the ack goes. */
typedef struct wc__vserve {
    wc_view_pair *p;
    wc_addr from;
    uint64_t id;
} wc__vserve;

struct wc_view_pair {
    wc_view_pair_options o;
    wc__vrec recs;   /* sentinel: records in flight */
    wc__vsend sends; /* sentinel: remote sends waiting */
    uint64_t next_id;
    uint64_t timer;
    uint64_t next_replay_ms;
    bool replay_needed; /* at start, and after a record kept its log entry */
    bool stopping;
    wc_buf scratch;
    wc_view_pair_stats stats;
};

static void wc__vp_tick(void *arg);

/* ---------------------------------------------------------------- pairing */

static bool wc__in(const uint32_t *a, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == x)
            return true;
    return false;
}

void wc_view_pair_choose(const uint32_t *base, size_t nb, const uint32_t *view, size_t nv,
                         int32_t self, bool *local, int32_t *paired)
{
    size_t bi = 0, vi = 0;
    bool found = false;

    *local = self >= 0 && wc__in(view, nv, (uint32_t)self);
    *paired = -1;
    if (*local || self < 0)
        return;
    /* this node's position among the base replicas that are not view replicas */
    for (size_t i = 0; i < nb && !found; i++) {
        if (wc__in(view, nv, base[i]))
            continue;
        if (base[i] == (uint32_t)self)
            found = true;
        else
            bi++;
    }
    if (!found)
        return;
    for (size_t i = 0; i < nv; i++) {
        if (wc__in(base, nb, view[i]))
            continue;
        if (vi++ == bi) {
            *paired = (int32_t)view[i];
            return;
        }
    }
}

/* ---------------------------------------------------------------- records */

static wc__vrec *wc__vrec_find(wc_view_pair *p, const uint8_t *id)
{
    for (wc__vrec *r = p->recs.next; r != &p->recs; r = r->next)
        if (memcmp(r->id, id, WC_VIEW_LOG_ID_LEN) == 0)
            return r;
    return NULL;
}

static void wc__removal_done(void *arg, wc_status st)
{
    wc_view_pair *p = arg;

    if (st == WC_OK)
        p->stats.removed++;
}

/* A record whose sends all ended: its log entry goes unless one failed. */
static void wc__vrec_end(wc_view_pair *p, wc__vrec *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    if (r->failed)
        p->replay_needed = true;
    if (!r->failed && !p->stopping) {
        wc_buf_reset(&p->scratch);
        if (wc_views_log_removal(r->id, &p->scratch) == WC_OK)
            p->o.store.ops->apply(p->o.store.ctx, p->scratch.data, p->scratch.len,
                                  wc__removal_done, p);
        else
            wc_clear_error();
    }
    wc_free(r);
}

static void wc__vrec_close_one(wc_view_pair *p, wc__vrec *r, bool ok)
{
    if (!ok)
        r->failed = true;
    if (--r->open == 0 && !r->submitting)
        wc__vrec_end(p, r);
}

static void wc__vsend_free(wc__vsend *s)
{
    wc_ring_unref(s->ring);
    wc_buf_free(&s->batch);
    wc_free(s);
}

static void wc__local_done(void *arg, wc_status st)
{
    wc__vsend *s = arg;

    if (st == WC_OK)
        s->p->stats.local++;
    else
        s->p->stats.failed++;
    wc__vrec_close_one(s->p, s->rec, st == WC_OK);
    wc__vsend_free(s);
}

/* Keep a remote send as a hint; false if the coordinator would not keep it. */
static bool wc__vsend_hint(wc_view_pair *p, wc__vsend *s)
{
    const wc_coord_options *co = wc__coord_options(p->o.coord);

    if (co->store_hint == NULL ||
        co->store_hint(co->ctx, &s->host, s->table, s->batch.data, s->batch.len) != WC_OK) {
        wc_clear_error();
        return false;
    }
    p->stats.hinted++;
    return true;
}

/* End a remote send (acknowledged, hinted or failed). */
static void wc__vsend_end(wc_view_pair *p, wc__vsend *s, bool ok)
{
    s->prev->next = s->next;
    s->next->prev = s->prev;
    if (!ok)
        p->stats.failed++;
    wc__vrec_close_one(p, s->rec, ok);
    wc__vsend_free(s);
}

/* Send (or apply, or hint) the view mutations of one table to the host at ring index h. */
static void wc__send_one(wc_view_pair *p, wc__vrec *r, wc_ring *ring, uint32_t h, bool local,
                         uint32_t table, const uint8_t *batch, size_t len)
{
    const wc_coord_options *co = wc__coord_options(p->o.coord);
    wc__vsend *s = wc_calloc(1, sizeof(*s));
    const wc_ring_member *m = wc_ring_host(ring, h);

    if (s == NULL) {
        r->failed = true;
        return;
    }
    s->p = p;
    s->rec = r;
    s->table = table;
    s->host = *m;
    s->ring = ring;
    wc_ring_ref(ring);
    wc_buf_init(&s->batch);
    wc_buf_append(&s->batch, batch, len);
    if (wc_buf_status(&s->batch) != WC_OK) {
        r->failed = true;
        wc__vsend_free(s);
        return;
    }
    r->open++;
    if (local) {
        p->o.store.ops->apply(p->o.store.ctx, batch, len, wc__local_done, s);
        return;
    }
    s->id = ++p->next_id;
    s->deadline_ms = wc_env_now_ms(p->o.env) + p->o.timeout_ms;
    s->next = p->sends.next;
    s->prev = &p->sends;
    p->sends.next->prev = s;
    p->sends.next = s;
    if (co->is_alive(co->ctx, m)) {
        wc_buf_reset(&p->scratch);
        wc_buf_put_u8(&p->scratch, WC_MSG_VIEW_MUTATION);
        wc_buf_put_u64(&p->scratch, s->id);
        wc_buf_append(&p->scratch, batch, len);
        if (wc_buf_status(&p->scratch) == WC_OK &&
            p->o.env->ops->send(p->o.env, &m->addr, p->scratch.data, p->scratch.len) == WC_OK) {
            p->stats.sent++;
            return;
        }
        wc_clear_error();
    }
    /* down (or the send failed): a hint, as the coordinator keeps for a replica that is down */
    wc__vsend_end(p, s, wc__vsend_hint(p, s));
}

/* The view mutations of one base partition: each view mutation to its paired replica. */
static void wc__send_entry(wc_view_pair *p, wc__vrec *r, const wc_views_update *u)
{
    uint32_t base[WC__VP_MAX_REPLICAS];
    const uint32_t *hosts;
    size_t nb, nv;
    int32_t self;
    wc_ring *ring;
    wc_batch_view bv;
    const uint8_t *mut;
    size_t mlen;
    wc_buf one;

    if (wc__coord_replicas(p->o.coord, u->base, wc_token(u->pk, u->pk_len), &ring, &hosts, &nb,
                           &self) != WC_OK) {
        wc_clear_error();
        r->failed = true;
        return;
    }
    if (nb > WC__VP_MAX_REPLICAS)
        nb = WC__VP_MAX_REPLICAS;
    memcpy(base, hosts, nb * sizeof(*base));
    if (wc_batch_parse(u->batch, u->batch_len, &bv) != WC_OK) {
        wc_clear_error();
        p->stats.malformed++;
        return;
    }
    wc_buf_init(&one);
    while (wc_batch_next(&bv, &mut, &mlen) == 1) {
        wc_mutation_view mv;
        bool local;
        int32_t paired;
        if (wc_mutation_parse(mut, mlen, &mv) != WC_OK) {
            wc_clear_error();
            p->stats.malformed++;
            continue;
        }
        if (wc__coord_replicas(p->o.coord, mv.table_id, wc_token(mv.pk, mv.pk_len), &ring,
                               &hosts, &nv, &self) != WC_OK) {
            wc_clear_error();
            r->failed = true;
            continue;
        }
        wc_view_pair_choose(base, nb, hosts, nv, self, &local, &paired);
        if (!local && paired < 0) {
            p->stats.unpaired++;
            continue;
        }
        wc_buf_reset(&one);
        wc_batch_begin(&one, 1);
        wc_batch_add(&one, mut, mlen);
        if (wc_buf_status(&one) != WC_OK) {
            r->failed = true;
            continue;
        }
        wc__send_one(p, r, ring, local ? (uint32_t)self : (uint32_t)paired, local, mv.table_id,
                     one.data, one.len);
        /* nodes joining the view partition's range get it from every base replica */
        {
            uint32_t pend[WC__VP_MAX_REPLICAS];
            wc_ring *pring = NULL;
            size_t np = wc__coord_pending_replicas(p->o.coord, mv.table_id,
                                                   wc_token(mv.pk, mv.pk_len), &pring, pend,
                                                   WC__VP_MAX_REPLICAS);
            const uint8_t *me = wc__coord_options(p->o.coord)->self_id;
            for (size_t k = 0; k < np; k++) {
                bool is_self = memcmp(wc_ring_host(pring, pend[k])->host_id, me,
                                      WC_RING_HOST_ID_LEN) == 0;
                wc__send_one(p, r, pring, pend[k], is_self, mv.table_id, one.data, one.len);
            }
        }
    }
    wc_buf_free(&one);
}

void wc_view_pair_submit(wc_view_pair *p, const uint8_t *upd, size_t len)
{
    const uint8_t *q, *end = upd + len;
    wc_views_update u;
    wc__vrec *r;
    int more;

    if (p->stopping || len < WC_VIEW_LOG_ID_LEN || wc__vrec_find(p, upd) != NULL)
        return;
    if ((r = wc_calloc(1, sizeof(*r))) == NULL)
        return; /* the log keeps it: the next replay sends it */
    memcpy(r->id, upd, WC_VIEW_LOG_ID_LEN);
    r->submitting = true;
    r->next = p->recs.next;
    r->prev = &p->recs;
    p->recs.next->prev = r;
    p->recs.next = r;
    p->stats.records++;
    q = upd + WC_VIEW_LOG_ID_LEN;
    while ((more = wc_views_update_next(&q, end, &u)) == 1)
        wc__send_entry(p, r, &u);
    if (more < 0)
        p->stats.malformed++;
    r->submitting = false;
    if (r->open == 0)
        wc__vrec_end(p, r);
}

static void wc__replay_one(void *arg, const uint8_t *upd, size_t len)
{
    wc_view_pair *p = arg;
    uint64_t logged_us = 0;

    for (int i = 0; i < 8; i++)
        logged_us = (logged_us << 8) | upd[i];
    if (wc_env_wall_us(p->o.env) - (int64_t)logged_us > (int64_t)WC_VIEW_PAIR_MAX_AGE_MS * 1000) {
        /* older than any hint would be kept: give it up, as an expired hint */
        wc_buf_reset(&p->scratch);
        if (wc_views_log_removal(upd, &p->scratch) == WC_OK) {
            p->stats.expired++;
            p->o.store.ops->apply(p->o.store.ctx, p->scratch.data, p->scratch.len,
                                  wc__removal_done, p);
        }
        wc_clear_error();
        return;
    }
    wc_view_pair_submit(p, upd, len);
}

void wc_view_pair_replay(wc_view_pair *p)
{
    if (p->o.engine == NULL || p->stopping)
        return;
    if (wc_views_log_scan(p->o.engine, wc__replay_one, p) != WC_OK)
        wc_clear_error();
}

/* ---------------------------------------------------------------- messages */

static void wc__serve_done(void *arg, wc_status st)
{
    wc__vserve *v = arg;
    wc_view_pair *p = v->p;
    uint8_t msg[WC_VIEW_MSG_HEAD + 1];

    if (st == WC_OK)
        p->stats.applied++;
    if (!p->stopping) {
        msg[0] = WC_MSG_VIEW_ACK;
        wc_enc_u64(msg + 1, v->id);
        msg[WC_VIEW_MSG_HEAD] = (uint8_t)st;
        (void)p->o.env->ops->send(p->o.env, &v->from, msg, sizeof(msg));
        wc_clear_error();
    }
    wc_free(v);
}

bool wc_view_pair_on_message(wc_view_pair *p, const wc_addr *from, const uint8_t *msg, size_t len)
{
    uint64_t id;

    if (len == 0 || msg[0] < WC_MSG_VIEW_FIRST || msg[0] > WC_MSG_VIEW_LAST)
        return false;
    if (len < WC_VIEW_MSG_HEAD || (msg[0] != WC_MSG_VIEW_MUTATION && msg[0] != WC_MSG_VIEW_ACK)) {
        p->stats.malformed++;
        return true;
    }
    id = wc_dec_u64(msg + 1);
    if (msg[0] == WC_MSG_VIEW_MUTATION) {
        wc__vserve *v = wc_calloc(1, sizeof(*v));
        if (v == NULL)
            return true; /* no ack: the sender hints it */
        v->p = p;
        v->from = *from;
        v->id = id;
        p->o.store.ops->apply(p->o.store.ctx, msg + WC_VIEW_MSG_HEAD, len - WC_VIEW_MSG_HEAD,
                              wc__serve_done, v);
        return true;
    }
    if (len != WC_VIEW_MSG_HEAD + 1) {
        p->stats.malformed++;
        return true;
    }
    for (wc__vsend *s = p->sends.next; s != &p->sends; s = s->next)
        if (s->id == id) {
            uint8_t st = msg[WC_VIEW_MSG_HEAD];
            if (st == WC_OK)
                p->stats.acked++;
            /*
             * A replica without the view's table (its schema is behind, or
             * the view was dropped there): the log entry stays for the
             * replay, which gives up once it is older than the hint window.
             * Another failure: a hint, for a later try.
             */
            wc__vsend_end(p, s, st == WC_OK || (st != WC_NOT_FOUND && wc__vsend_hint(p, s)));
            break;
        }
    return true;
}

/* ---------------------------------------------------------------- life */

static void wc__vp_tick(void *arg)
{
    wc_view_pair *p = arg;
    uint64_t now = wc_env_now_ms(p->o.env);
    wc__vsend *s = p->sends.next;

    p->timer = 0;
    while (s != &p->sends) {
        wc__vsend *next = s->next;
        if (now >= s->deadline_ms)
            wc__vsend_end(p, s, wc__vsend_hint(p, s));
        s = next;
    }
    /* the log is read (on the loop) only when it may hold what no send carries */
    if (now >= p->next_replay_ms && p->replay_needed) {
        p->next_replay_ms = now + p->o.replay_interval_ms;
        p->replay_needed = false;
        wc_view_pair_replay(p);
    }
    p->timer = p->o.env->ops->timer_start(p->o.env, WC__VP_TICK_MS, wc__vp_tick, p);
}

wc_status wc_view_pair_create(const wc_view_pair_options *o, wc_view_pair **out)
{
    wc_view_pair *p;

    *out = NULL;
    if (o->env == NULL || o->coord == NULL || o->store.ops == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "a view pair needs an env, a coordinator and a store");
    if ((p = wc_calloc(1, sizeof(*p))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory for view updates");
    p->o = *o;
    if (p->o.timeout_ms == 0)
        p->o.timeout_ms = WC_VIEW_PAIR_DEFAULT_TIMEOUT_MS;
    if (p->o.replay_interval_ms == 0)
        p->o.replay_interval_ms = WC_VIEW_PAIR_DEFAULT_REPLAY_MS;
    p->recs.next = p->recs.prev = &p->recs;
    p->sends.next = p->sends.prev = &p->sends;
    wc_buf_init(&p->scratch);
    /* the first replay (what a crash left in the log) after one interval */
    p->next_replay_ms = wc_env_now_ms(p->o.env) + p->o.replay_interval_ms;
    p->replay_needed = true;
    if ((p->timer = p->o.env->ops->timer_start(p->o.env, WC__VP_TICK_MS, wc__vp_tick, p)) == 0) {
        wc_free(p);
        return wc_error(WC_NO_MEMORY, "out of memory for the view update timer");
    }
    *out = p;
    return WC_OK;
}

void wc_view_pair_destroy(wc_view_pair *p)
{
    if (p == NULL)
        return;
    p->stopping = true;
    if (p->timer)
        p->o.env->ops->timer_cancel(p->o.env, p->timer);
    while (p->sends.next != &p->sends) {
        wc__vsend *s = p->sends.next;
        s->prev->next = s->next;
        s->next->prev = s->prev;
        wc__vsend_free(s);
    }
    while (p->recs.next != &p->recs) {
        wc__vrec *r = p->recs.next;
        r->prev->next = r->next;
        r->next->prev = r->prev;
        wc_free(r);
    }
    wc_buf_free(&p->scratch);
    wc_free(p);
}

void wc_view_pair_get_stats(const wc_view_pair *p, wc_view_pair_stats *out)
{
    *out = p->stats;
}
