/*
 * hint_delivery.c - sending stored hints to hosts that came back, and
 * applying the hints a peer sends (contract in hint_delivery.h).
 *
 * Per target: a session id, the sequence number of the next HINT, the read
 * cursor (next hint to send), the acknowledged position and the hints in
 * flight (seq and the position after each), oldest first.  Two timers per
 * target: the pump (throttle wait or a full send queue) and the timeout
 * (armed while hints are in flight, re-armed on progress).
 *
 * Lost or overtaken messages: the receiver answers a HINT it cannot apply
 * yet (a gap) or has applied already with its last seq; such a repeated ack
 * makes the sender resend from its oldest unacknowledged hint at once (at
 * most once per progress), and a timeout does the same.  A resend keeps the
 * session and the seq of every hint; if a hint is no longer where it was
 * (expired meanwhile), or after two timeouts in a row without progress (the
 * receiver restarted and lost the session), a new session starts from the
 * acknowledged position.
 *
 * Per sender (receiving side): the session seen last and the highest seq
 * applied in it, in a small table replaced round-robin; a session starts at
 * seq 1, so a stale or unknown session cannot skip hints.
 */
#include "hint_delivery.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"
#include "hints_format.h"
#include "msg_types.h"

#define HD_DEFAULT_WINDOW 8
#define HD_DEFAULT_THROTTLE (1024ull * 1024)
#define HD_DEFAULT_TIMEOUT_MS 10000
#define HD_DEFAULT_RECHECK_MS 10000
#define HD_SEND_RETRY_MS 100 /* the environment's queue to the peer was full */
#define HD_RECEIVERS 64      /* senders remembered by the receiving side */

typedef struct hd_inflight {
    uint64_t seq;
    wc_hint_pos pos;  /* where the hint starts */
    wc_hint_pos next; /* just past it */
} hd_inflight;

typedef struct hd_target {
    wc_hint_delivery *d;
    uint8_t id[WC_HOST_ID_LEN];
    wc_addr addr;      /* the target's, or with handoff the node that takes its hints */
    bool alive;        /* addr can be sent to */
    bool handoff;      /* the hints go to addr as HINT_HANDOFF, to be kept there */
    bool active;       /* a session runs (may be waiting for acks) */
    uint64_t session;
    uint64_t next_seq;
    wc_hint_pos cursor; /* next hint to read */
    wc_hint_pos acked;  /* everything before it acknowledged */
    uint32_t unmarked;  /* acknowledged hints not yet marked in the store */
    hd_inflight *fl;    /* window entries, oldest first */
    uint32_t nfl;
    hd_inflight *resend; /* what was in flight when resending began */
    uint32_t nresend, iresend;
    uint64_t fast_seq;   /* no fast resend until the oldest in flight passes it */
    uint32_t stalls;     /* timeouts in a row without progress */
    uint64_t pump_timer, timeout_timer;
} hd_target;

typedef struct hd_receiver {
    wc_addr from;
    uint64_t session;
    uint64_t applied; /* highest seq applied in the session */
    bool used;
} hd_receiver;

struct wc_hint_delivery {
    wc_env *env;
    wc_hints *store;
    wc_hint_delivery_options o;
    hd_target **targets;
    size_t ntargets, cap;
    uint64_t next_send_us; /* throttle: no send before it (the clock's ms x 1000) */
    uint64_t throttle_rem; /* bytes x 10^6 not yet turned into whole microseconds */
    uint64_t recheck_timer;
    wc_buf scratch, msg;
    hd_receiver recv[HD_RECEIVERS];
    uint32_t recv_next;
    bool has_via;                     /* a handoff began: hints go to via */
    wc_addr via;
    uint8_t via_id[WC_HOST_ID_LEN];
    wc_hint_delivery_stats st;
};

static void hd_pump(hd_target *t);
static void hd_pump_cb(void *arg);
static void hd_timeout_cb(void *arg);
static void hd_recheck_cb(void *arg);
static wc_status hd_hand_over(wc_hint_delivery *d);

#define hd_log(d, level, ...) wc_env_logf((d)->env, (level), __VA_ARGS__)

static void hd_cancel(wc_hint_delivery *d, uint64_t *timer)
{
    if (*timer != 0)
        d->env->ops->timer_cancel(d->env, *timer);
    *timer = 0;
}

/* Write the acknowledged position to the store. */
static void hd_mark(hd_target *t)
{
    wc_hint_delivery *d = t->d;
    wc_status st;

    if (t->unmarked == 0)
        return;
    st = wc_hints_mark_delivered(d->store, t->id, t->acked);
    if (st != WC_OK)
        hd_log(d, WC_ENV_LOG_WARNING,
               "hints: could not record delivery to %s:%u: %s (the hints will be sent again)",
               t->addr.host, t->addr.port, wc_last_error());
    t->unmarked = 0;
}

/* Forget what is in flight; the next session starts from the acknowledged position. */
static void hd_stop(hd_target *t)
{
    hd_cancel(t->d, &t->pump_timer);
    hd_cancel(t->d, &t->timeout_timer);
    hd_mark(t);
    t->nfl = 0;
    t->nresend = t->iresend = 0;
    t->cursor = t->acked;
    if (t->active)
        t->d->st.active--;
    t->active = false;
}

/* Begin a session from the store's delivered position (nothing stored: stay idle). */
static void hd_start(hd_target *t)
{
    wc_hint_delivery *d = t->d;
    wc_hint_pos pos;

    if (wc_hints_start(d->store, t->id, &pos) != WC_OK)
        return;
    if (!t->active)
        d->st.active++;
    t->active = true;
    t->session = wc_env_random(d->env) | 1;
    t->next_seq = 1;
    t->nfl = 0;
    t->nresend = t->iresend = 0;
    t->fast_seq = 0;
    t->stalls = 0;
    t->unmarked = 0;
    t->acked = t->cursor = pos;
    hd_pump(t);
}

static void hd_arm_timeout(hd_target *t)
{
    wc_hint_delivery *d = t->d;

    hd_cancel(d, &t->timeout_timer);
    t->timeout_timer = d->env->ops->timer_start(d->env, d->o.timeout_ms, hd_timeout_cb, t);
}

static void hd_arm_pump(hd_target *t, uint64_t delay_ms)
{
    wc_hint_delivery *d = t->d;

    if (t->pump_timer == 0)
        t->pump_timer = d->env->ops->timer_start(d->env, delay_ms, hd_pump_cb, t);
}

/* Send hints while the window, the throttle and the environment allow. */
static void hd_pump(hd_target *t)
{
    wc_hint_delivery *d = t->d;

    while (t->alive && t->active && t->nfl < d->o.window) {
        uint64_t now = wc_env_now_ms(d->env);
        wc_hint hint;
        wc_status st;

        if (d->next_send_us > now * 1000) {
            hd_arm_pump(t, (d->next_send_us - now * 1000 + 999) / 1000);
            return;
        }
        st = wc_hints_read(d->store, t->id, t->cursor, wc_env_wall_us(d->env), &d->scratch, &hint);
        if (st == WC_NOT_FOUND) {
            if (t->nfl == 0) {
                hd_mark(t);
                hd_cancel(d, &t->timeout_timer);
                t->active = false;
                d->st.active--;
                if (t->next_seq > 1)
                    hd_log(d, WC_ENV_LOG_INFO, "hints: delivery to %s:%u finished",
                           t->addr.host, t->addr.port);
            }
            return;
        }
        if (st != WC_OK) {
            hd_log(d, WC_ENV_LOG_WARNING, "hints: reading hints for %s:%u failed: %s",
                   t->addr.host, t->addr.port, wc_last_error());
            hd_arm_pump(t, d->o.timeout_ms);
            return;
        }
        if (t->iresend < t->nresend) {
            if (wc_hint_pos_cmp(hint.pos, t->resend[t->iresend].pos) != 0) {
                /* not the hint this seq carried before: start over in a new session */
                t->nresend = t->iresend = 0;
                t->session = wc_env_random(d->env) | 1;
                t->next_seq = 1;
                t->cursor = t->acked;
                continue;
            }
            t->iresend++;
        }
        wc_buf_reset(&d->msg);
        wc_buf_put_u8(&d->msg, t->handoff ? WC_MSG_HINT_HANDOFF : WC_MSG_HINT);
        wc_buf_append(&d->msg, t->id, WC_HOST_ID_LEN);
        wc_buf_put_u64(&d->msg, t->session);
        wc_buf_put_u64(&d->msg, t->next_seq);
        wc_buf_put_u64(&d->msg, (uint64_t)hint.created_us);
        if (t->handoff)
            wc_buf_put_u32(&d->msg, hint.ttl_s);
        wc_buf_put_u32(&d->msg, (uint32_t)hint.table_len);
        wc_buf_append(&d->msg, hint.table, hint.table_len);
        wc_buf_put_u32(&d->msg, (uint32_t)hint.batch_len);
        wc_buf_append(&d->msg, hint.batch, hint.batch_len);
        st = wc_buf_status(&d->msg);
        if (st == WC_OK)
            st = d->env->ops->send(d->env, &t->addr, d->msg.data, d->msg.len);
        if (st != WC_OK) {
            hd_arm_pump(t, HD_SEND_RETRY_MS);
            return;
        }
        t->fl[t->nfl++] = (hd_inflight){t->next_seq++, hint.pos, hint.next};
        t->cursor = hint.next;
        d->st.sent++;
        d->st.sent_bytes += d->msg.len;
        if (d->o.throttle_bytes_per_s != 0) {
            /* exact in the long run: small messages add up instead of rounding to 0 */
            uint64_t units = d->throttle_rem + (uint64_t)d->msg.len * 1000000;

            /* up to a timer tick of credit survives a late wake-up; an idle spell gives none */
            if (d->next_send_us + 1000 < now * 1000)
                d->next_send_us = now * 1000 - 1000;
            d->next_send_us += units / d->o.throttle_bytes_per_s;
            d->throttle_rem = units % d->o.throttle_bytes_per_s;
        }
        if (t->timeout_timer == 0)
            hd_arm_timeout(t);
    }
}

static void hd_pump_cb(void *arg)
{
    hd_target *t = arg;

    t->pump_timer = 0;
    hd_pump(t);
}

/* Resend from the oldest unacknowledged hint, in the same session and seqs. */
static void hd_go_back(hd_target *t)
{
    memcpy(t->resend, t->fl, t->nfl * sizeof(*t->fl));
    t->nresend = t->nfl;
    t->iresend = 0;
    t->cursor = t->fl[0].pos;
    t->next_seq = t->fl[0].seq;
    t->nfl = 0;
    hd_cancel(t->d, &t->timeout_timer);
    hd_cancel(t->d, &t->pump_timer);
    hd_pump(t);
}

static void hd_timeout_cb(void *arg)
{
    hd_target *t = arg;
    wc_hint_delivery *d = t->d;

    t->timeout_timer = 0;
    if (!t->alive || !t->active || t->nfl == 0)
        return;
    d->st.timeouts++;
    hd_log(d, WC_ENV_LOG_DEBUG, "hints: no acknowledgement from %s:%u for %u ms: resending",
           t->addr.host, t->addr.port, d->o.timeout_ms);
    if (++t->stalls >= 2) {
        t->stalls = 0;
        hd_stop(t);
        hd_start(t);
        return;
    }
    hd_go_back(t);
}

static void hd_recheck_cb(void *arg)
{
    wc_hint_delivery *d = arg;

    d->recheck_timer = 0;
    wc_hints_expire(d->store, wc_env_wall_us(d->env));
    if (d->has_via)
        (void)hd_hand_over(d); /* hints stored since go the same way */
    for (size_t i = 0; i < d->ntargets; i++)
        if (d->targets[i]->alive && !d->targets[i]->active)
            hd_start(d->targets[i]);
    d->recheck_timer = d->env->ops->timer_start(d->env, d->o.recheck_ms, hd_recheck_cb, d);
}

void wc_hint_delivery_options_default(wc_hint_delivery_options *o)
{
    memset(o, 0, sizeof(*o));
    o->window = HD_DEFAULT_WINDOW;
    o->throttle_bytes_per_s = HD_DEFAULT_THROTTLE;
    o->timeout_ms = HD_DEFAULT_TIMEOUT_MS;
    o->recheck_ms = HD_DEFAULT_RECHECK_MS;
}

wc_status wc_hint_delivery_new(wc_env *env, wc_hints *store, const wc_hint_delivery_options *o,
                               wc_hint_delivery **out)
{
    wc_hint_delivery *d = wc_calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL)
        return WC_NO_MEMORY;
    d->env = env;
    d->store = store;
    d->o = *o;
    if (d->o.window == 0)
        d->o.window = HD_DEFAULT_WINDOW;
    if (d->o.timeout_ms == 0)
        d->o.timeout_ms = HD_DEFAULT_TIMEOUT_MS;
    if (d->o.recheck_ms == 0)
        d->o.recheck_ms = HD_DEFAULT_RECHECK_MS;
    wc_buf_init(&d->scratch);
    wc_buf_init(&d->msg);
    d->recheck_timer = env->ops->timer_start(env, d->o.recheck_ms, hd_recheck_cb, d);
    if (d->recheck_timer == 0) {
        wc_free(d);
        return WC_NO_MEMORY;
    }
    *out = d;
    return WC_OK;
}

void wc_hint_delivery_free(wc_hint_delivery *d)
{
    if (d == NULL)
        return;
    hd_cancel(d, &d->recheck_timer);
    for (size_t i = 0; i < d->ntargets; i++) {
        hd_stop(d->targets[i]);
        wc_free(d->targets[i]->fl);
        wc_free(d->targets[i]->resend);
        wc_free(d->targets[i]);
    }
    wc_free(d->targets);
    wc_buf_free(&d->scratch);
    wc_buf_free(&d->msg);
    wc_free(d);
}

/*
 * The target sent to at addr in session (one at most: the host itself, or
 * one of those whose hints are handed over to it).
 */
static hd_target *hd_find_session(wc_hint_delivery *d, const wc_addr *addr, uint64_t session)
{
    for (size_t i = 0; i < d->ntargets; i++)
        if (d->targets[i]->alive && d->targets[i]->session == session &&
            wc_addr_equal(&d->targets[i]->addr, addr))
            return d->targets[i];
    return NULL;
}

/* The target of host_id, made (idle, not alive) if new; NULL when out of memory. */
static hd_target *hd_target_get(wc_hint_delivery *d, const uint8_t host_id[WC_HOST_ID_LEN])
{
    hd_target *t;

    for (size_t i = 0; i < d->ntargets; i++)
        if (memcmp(d->targets[i]->id, host_id, WC_HOST_ID_LEN) == 0)
            return d->targets[i];
    if (d->ntargets == d->cap) {
        size_t ncap = d->cap ? 2 * d->cap : 8;
        hd_target **n = wc_realloc(d->targets, ncap * sizeof(*n));

        if (n == NULL)
            return NULL;
        d->targets = n;
        d->cap = ncap;
    }
    t = wc_calloc(1, sizeof(*t));
    if (t == NULL || (t->fl = wc_calloc(d->o.window, sizeof(*t->fl))) == NULL ||
        (t->resend = wc_calloc(d->o.window, sizeof(*t->resend))) == NULL) {
        if (t != NULL)
            wc_free(t->fl);
        wc_free(t);
        return NULL;
    }
    t->d = d;
    memcpy(t->id, host_id, WC_HOST_ID_LEN);
    d->targets[d->ntargets++] = t;
    return t;
}

wc_status wc_hint_delivery_peer_alive(wc_hint_delivery *d, const wc_addr *addr,
                                      const uint8_t host_id[WC_HOST_ID_LEN])
{
    hd_target *t = hd_target_get(d, host_id);

    if (t == NULL)
        return WC_NO_MEMORY;
    if (t->alive && !t->handoff && t->active && wc_addr_equal(&t->addr, addr))
        return WC_OK; /* already delivering */
    /* another host id at this address (a host replaced): that one is gone from here */
    for (size_t i = 0; i < d->ntargets; i++) {
        hd_target *o = d->targets[i];

        if (o != t && o->alive && !o->handoff && wc_addr_equal(&o->addr, addr)) {
            hd_stop(o);
            o->alive = false;
        }
    }
    if (t->active)
        hd_stop(t);
    t->addr = *addr;
    t->alive = true;
    t->handoff = false; /* the host itself is up: its hints go to it */
    hd_start(t);
    return WC_OK;
}

void wc_hint_delivery_peer_down(wc_hint_delivery *d, const wc_addr *addr)
{
    /* the host itself, and every target whose hints were handed over to it */
    for (size_t i = 0; i < d->ntargets; i++) {
        hd_target *t = d->targets[i];

        if (!t->alive || !wc_addr_equal(&t->addr, addr))
            continue;
        hd_stop(t);
        t->alive = false;
    }
}

static int hd_collect_target(void *arg, const uint8_t target[WC_HOST_ID_LEN])
{
    wc_buf *ids = arg;

    wc_buf_append(ids, target, WC_HOST_ID_LEN);
    return 0;
}

/*
 * Send every target's hints to d->via, except those of a target delivered
 * to directly (alive itself); via's own hints go to it as plain HINTs.
 */
static wc_status hd_hand_over(wc_hint_delivery *d)
{
    wc_buf ids;
    wc_status st;

    wc_buf_init(&ids);
    wc_hints_foreach_target(d->store, hd_collect_target, &ids);
    if ((st = wc_buf_status(&ids)) != WC_OK)
        goto done;
    for (size_t k = 0; k + WC_HOST_ID_LEN <= ids.len; k += WC_HOST_ID_LEN)
        if (hd_target_get(d, ids.data + k) == NULL) {
            st = WC_NO_MEMORY;
            goto done;
        }
    for (size_t i = 0; i < d->ntargets; i++) {
        hd_target *t = d->targets[i];

        if (memcmp(t->id, d->via_id, WC_HOST_ID_LEN) == 0) {
            if (!(t->alive && !t->handoff && wc_addr_equal(&t->addr, &d->via)) &&
                (st = wc_hint_delivery_peer_alive(d, &d->via, d->via_id)) != WC_OK)
                goto done;
            continue;
        }
        if (t->alive && (t->handoff ? wc_addr_equal(&t->addr, &d->via) : true))
            continue; /* handed over to via already, or delivered to the host itself */
        if (t->active)
            hd_stop(t);
        t->addr = d->via;
        t->alive = true;
        t->handoff = true;
        hd_start(t);
    }
done:
    wc_buf_free(&ids);
    return st;
}

wc_status wc_hint_delivery_handoff(wc_hint_delivery *d, const wc_addr *via,
                                   const uint8_t via_id[WC_HOST_ID_LEN])
{
    if (d->has_via && !wc_addr_equal(&d->via, via))
        wc_hint_delivery_peer_down(d, &d->via); /* what went to the old one moves */
    d->has_via = true;
    d->via = *via;
    memcpy(d->via_id, via_id, WC_HOST_ID_LEN);
    return hd_hand_over(d);
}

/* HINT_ACK: the hints of a session up to seq were applied. */
static void hd_on_ack(wc_hint_delivery *d, const wc_addr *from, const uint8_t *msg, size_t len)
{
    hd_target *t;
    uint64_t session, seq;
    uint32_t n = 0;

    if (len != WC_HINT_ACK_MSG_SIZE) {
        d->st.malformed++;
        hd_log(d, WC_ENV_LOG_WARNING, "hints: malformed HINT_ACK from %s:%u (%zu bytes) dropped",
               from->host, from->port, len);
        return;
    }
    session = wc_dec_u64(msg + 1);
    seq = wc_dec_u64(msg + 9);
    t = hd_find_session(d, from, session);
    if (t == NULL || !t->active)
        return; /* a session given up */
    while (n < t->nfl && t->fl[n].seq <= seq)
        n++;
    if (n == 0) {
        /* a repeated ack: the receiver lacks the oldest hint in flight */
        if (t->nfl > 0 && seq + 1 == t->fl[0].seq && t->fl[0].seq > t->fast_seq) {
            t->fast_seq = t->fl[0].seq;
            d->st.fast_resends++;
            hd_go_back(t);
        }
        return;
    }
    t->stalls = 0;
    t->acked = t->fl[n - 1].next;
    memmove(t->fl, t->fl + n, (t->nfl - n) * sizeof(*t->fl));
    t->nfl -= n;
    t->unmarked += n;
    d->st.delivered += n;
    if (t->nfl == 0 || t->unmarked >= d->o.window)
        hd_mark(t);
    hd_cancel(d, &t->timeout_timer);
    if (t->nfl > 0)
        hd_arm_timeout(t);
    hd_pump(t);
}

/*
 * The receiving state of session from *from; a new one only at seq 1 (NULL
 * otherwise: a stale or unknown session cannot skip hints).  A sender may
 * run several sessions at once (its own hints and those it hands over).
 */
static hd_receiver *hd_receiver_get(wc_hint_delivery *d, const wc_addr *from, uint64_t session,
                                    uint64_t seq)
{
    hd_receiver *r;

    for (int i = 0; i < HD_RECEIVERS; i++)
        if (d->recv[i].used && d->recv[i].session == session &&
            wc_addr_equal(&d->recv[i].from, from))
            return &d->recv[i];
    if (seq != 1)
        return NULL;
    r = &d->recv[d->recv_next++ % HD_RECEIVERS];
    memset(r, 0, sizeof(*r));
    r->from = *from;
    r->session = session;
    r->used = true;
    return r;
}

static void hd_send_ack(wc_hint_delivery *d, const wc_addr *to, uint64_t session, uint64_t seq)
{
    uint8_t ack[WC_HINT_ACK_MSG_SIZE];

    ack[0] = WC_MSG_HINT_ACK;
    wc_enc_u64(ack + 1, session);
    wc_enc_u64(ack + 9, seq);
    d->env->ops->send(d->env, to, ack, sizeof(ack)); /* lost: the sender resends */
}

/*
 * Keep a handed-over hint for its target in this node's store, durably
 * before it is acknowledged (the sender then forgets it), and start
 * delivering it when the target is up.
 */
static wc_status hd_keep(wc_hint_delivery *d, const uint8_t *id, const uint8_t *table,
                         size_t table_len, const uint8_t *batch, size_t batch_len, int64_t created,
                         uint32_t ttl_s)
{
    wc_status st;

    if ((st = wc_hints_append(d->store, id, table, table_len, batch, batch_len, ttl_s, created,
                              0)) != WC_OK ||
        (st = wc_hints_sync(d->store)) != WC_OK)
        return st;
    d->st.kept++;
    for (size_t i = 0; i < d->ntargets; i++)
        if (memcmp(d->targets[i]->id, id, WC_HOST_ID_LEN) == 0 && d->targets[i]->alive &&
            !d->targets[i]->active)
            hd_start(d->targets[i]);
    return WC_OK;
}

/*
 * HINT: apply it if it is the next one of its session, then acknowledge.
 * HINT_HANDOFF (handoff): the same, but a hint for another host is kept
 * for it here.
 */
static void hd_on_hint(wc_hint_delivery *d, const wc_addr *from, const uint8_t *msg, size_t len,
                       bool handoff)
{
    const uint8_t *p = msg + 1, *end = msg + len;
    const uint8_t *id, *table, *batch;
    uint64_t session, seq, created;
    uint32_t table_len, batch_len, ttl_s = 0;
    hd_receiver *r;
    wc_status st;
    const char *why = NULL;

    if (len < WC_HINT_MSG_FIXED + (handoff ? 4u : 0u)) {
        why = "shorter than its fixed part";
        goto malformed;
    }
    id = p;
    session = wc_dec_u64(p + 16);
    seq = wc_dec_u64(p + 24);
    created = wc_dec_u64(p + 32);
    p += 40;
    if (handoff) {
        ttl_s = wc_dec_u32(p);
        p += 4;
    }
    table_len = wc_dec_u32(p);
    p += 4;
    /* the fixed part guarantees the 4 bytes of batch_len after the table */
    if (table_len > WC_HINTS_MAX_TABLE || table_len > (size_t)(end - p) - 4) {
        why = "table length past the message";
        goto malformed;
    }
    table = p;
    p += table_len;
    batch_len = wc_dec_u32(p);
    p += 4;
    if (batch_len == 0 || batch_len != (size_t)(end - p)) {
        why = "batch length does not match the message";
        goto malformed;
    }
    batch = p;
    if (seq == 0) {
        why = "sequence number 0";
        goto malformed;
    }
    if (handoff && ttl_s == 0) {
        why = "ttl 0";
        goto malformed;
    }
    if (!handoff && memcmp(id, d->o.self_host_id, WC_HOST_ID_LEN) != 0) {
        d->st.wrong_host++;
        hd_log(d, WC_ENV_LOG_WARNING,
               "hints: HINT from %s:%u is for another host id: dropped (the sender's view of "
               "this address is stale)",
               from->host, from->port);
        return;
    }
    r = hd_receiver_get(d, from, session, seq);
    if (r == NULL) {
        d->st.out_of_order++;
        return;
    }
    if (seq <= r->applied) {
        d->st.duplicates++;
        hd_send_ack(d, from, session, r->applied);
        return;
    }
    if (seq != r->applied + 1) {
        d->st.out_of_order++;
        hd_send_ack(d, from, session, r->applied); /* the sender resends the gap */
        return;
    }
    if (handoff && memcmp(id, d->o.self_host_id, WC_HOST_ID_LEN) != 0)
        st = hd_keep(d, id, table, table_len, batch, batch_len, (int64_t)created, ttl_s);
    else
        st = d->o.apply ? d->o.apply(d->o.apply_arg, from, table, table_len, batch, batch_len,
                                     (int64_t)created)
                        : WC_UNAVAILABLE;
    if (st != WC_OK) {
        d->st.apply_failed++;
        hd_log(d, WC_ENV_LOG_WARNING, "hints: %s a hint from %s:%u failed: %s: %s",
               handoff ? "keeping" : "applying", from->host, from->port, wc_status_name(st),
               wc_last_error());
        return;
    }
    d->st.applied++;
    r->applied = seq;
    hd_send_ack(d, from, session, seq);
    return;

malformed:
    d->st.malformed++;
    hd_log(d, WC_ENV_LOG_WARNING, "hints: malformed HINT from %s:%u (%zu bytes, %s) dropped",
           from->host, from->port, len, why);
}

bool wc_hint_delivery_on_message(wc_hint_delivery *d, const wc_addr *from, const uint8_t *msg,
                                 size_t len)
{
    if (len == 0 || ((msg[0] < WC_MSG_RANGE_HINTS || msg[0] >= WC_MSG_RANGE_HINTS + 8) &&
                     msg[0] != WC_MSG_HINT_HANDOFF))
        return false;
    if (msg[0] == WC_MSG_HINT || msg[0] == WC_MSG_HINT_HANDOFF)
        hd_on_hint(d, from, msg, len, msg[0] == WC_MSG_HINT_HANDOFF);
    else if (msg[0] == WC_MSG_HINT_ACK)
        hd_on_ack(d, from, msg, len);
    else {
        d->st.malformed++;
        hd_log(d, WC_ENV_LOG_WARNING, "hints: unknown hint message type %u from %s:%u dropped",
               msg[0], from->host, from->port);
    }
    return true;
}

void wc_hint_delivery_get_stats(wc_hint_delivery *d, wc_hint_delivery_stats *out)
{
    *out = d->st;
}
