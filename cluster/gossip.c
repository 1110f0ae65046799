/*
 * gossip.c - the gossiper of one node (gossip.h): endpoint states, the
 * SYN/ACK/ACK2 exchange, the gossip round, liveness through the failure
 * detector, shutdown announcements, expiry of nodes that left.
 */
#include "gossip.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "failure_detector.h"

#define MAX_QUARANTINE 256    /* removed nodes remembered at once */
#define MAX_FOREIGN_LOGGED 64 /* senders of another cluster already logged */
#define MAX_GENERATION_JUMP (365u * 24 * 3600) /* a generation a year ahead is bogus */

typedef struct gvalue {
    uint64_t version; /* 0: never set */
    uint8_t *data;
    uint32_t len;
} gvalue;

typedef struct endpoint {
    wc_addr addr;
    uint32_t generation;
    uint64_t heartbeat;
    uint64_t max_version; /* of the heartbeat and the values */
    gvalue values[WC_GOSSIP_MAX_KEYS];
    bool alive;
    bool shut_down;        /* announced its shutdown: down until a new generation */
    uint64_t left_seen_ms; /* when this node saw it leave; 0 if not left */
    uint64_t listed;       /* stamp of the last SYN that listed it */
    wc_fd fd;
} endpoint;

typedef struct quarantined {
    wc_addr addr;
    uint32_t generation;
    uint64_t until_ms;
} quarantined;

struct wc_gossip {
    wc_env *env;
    wc_gossip_options o;
    char *cluster_name;
    wc_addr *seeds;
    wc_fd_options fdo;
    endpoint **eps; /* sorted by address */
    size_t neps, capeps;
    endpoint *self;
    uint64_t version; /* this node's version counter: heartbeat and values */
    uint64_t timer;
    bool running;
    bool stopped; /* shut down: ignores everything */
    wc_gossip_listener listeners[WC_GOSSIP_MAX_LISTENERS];
    size_t nlisteners;
    quarantined quarantine[MAX_QUARANTINE];
    size_t nquarantine;
    wc_addr foreign_logged[MAX_FOREIGN_LOGGED];
    size_t nforeign_logged;
    wc_env_log_limit log_limit; /* glog_limited */
    uint32_t unknown_types_logged; /* bit per gossip message type */
    uint64_t stamp;                /* counts SYNs answered */
    wc_buf buf, req, states;       /* scratch for building messages */
};

/* ---------------------------------------------------------------- helpers */

#define glog(g, level, ...) wc_env_logf((g)->env, (level), __VA_ARGS__)
/* a warning caused by what a peer sent (malformed messages, bogus generations) */
#define glog_limited(g, ...) wc_env_log_limited((g)->env, &(g)->log_limit, __VA_ARGS__)

static const char *fmt_addr(const wc_addr *a, char *buf, size_t cap)
{
    wc_addr_format(a, buf, cap);
    return buf;
}

#define ADDR_BUF (WC_ADDR_HOST_MAX + 8)

static int addr_cmp(const wc_addr *a, const wc_addr *b)
{
    int c = strcmp(a->host, b->host);

    return c != 0 ? c : (int)a->port - (int)b->port;
}

/* Index of addr in g->eps, or where it would go (*found false). */
static size_t ep_search(const wc_gossip *g, const wc_addr *addr, bool *found)
{
    size_t lo = 0, hi = g->neps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = addr_cmp(&g->eps[mid]->addr, addr);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static endpoint *ep_find(const wc_gossip *g, const wc_addr *addr)
{
    bool found;
    size_t i = ep_search(g, addr, &found);

    return found ? g->eps[i] : NULL;
}

/*
 * ep_find for lists that usually come in address order (digests and states
 * from another gossiper): a few steps forward from *hint, then a binary
 * search.  *hint is where the next address probably is.
 */
static endpoint *ep_find_near(const wc_gossip *g, const wc_addr *addr, size_t *hint)
{
    bool found;
    size_t i;

    for (size_t j = *hint; j < g->neps && j < *hint + 4; j++) {
        int c = addr_cmp(&g->eps[j]->addr, addr);
        if (c == 0) {
            *hint = j + 1;
            return g->eps[j];
        }
        if (c > 0)
            break;
    }
    i = ep_search(g, addr, &found);
    *hint = found ? i + 1 : i;
    return found ? g->eps[i] : NULL;
}

static uint64_t ep_max_version(const endpoint *ep)
{
    return ep->max_version;
}

static void ep_saw_version(endpoint *ep, uint64_t version)
{
    if (version > ep->max_version)
        ep->max_version = version;
}

static void ep_set_heartbeat(endpoint *ep, uint64_t heartbeat)
{
    ep->heartbeat = heartbeat;
    ep_saw_version(ep, heartbeat);
}

static wc_gossip_status ep_status(const endpoint *ep)
{
    const gvalue *v = &ep->values[WC_GOSSIP_STATUS];

    return v->version == 0 ? WC_GOSSIP_STATUS_UNKNOWN : wc_gossip_status_of(v->data, v->len);
}

static void ep_free(endpoint *ep)
{
    for (int k = 0; k < WC_GOSSIP_MAX_KEYS; k++)
        wc_free(ep->values[k].data);
    wc_fd_free(&ep->fd);
    wc_free(ep);
}

static endpoint *ep_new(wc_gossip *g, const wc_addr *addr, uint32_t generation)
{
    endpoint *ep = wc_calloc(1, sizeof(*ep));

    if (ep == NULL)
        return NULL;
    ep->addr = *addr;
    ep->generation = generation;
    if (wc_fd_init(&ep->fd, &g->fdo) != WC_OK) {
        wc_free(ep);
        return NULL;
    }
    return ep;
}

/* Inserts ep (not yet known) in address order.  false if out of memory. */
static bool ep_insert(wc_gossip *g, endpoint *ep)
{
    bool found;
    size_t i = ep_search(g, &ep->addr, &found);

    if (g->neps == g->capeps) {
        size_t cap = g->capeps ? g->capeps * 2 : 16;
        endpoint **v = wc_realloc(g->eps, cap * sizeof(*v));
        if (v == NULL)
            return false;
        g->eps = v;
        g->capeps = cap;
    }
    memmove(&g->eps[i + 1], &g->eps[i], (g->neps - i) * sizeof(*g->eps));
    g->eps[i] = ep;
    g->neps++;
    return true;
}

static wc_status value_set(gvalue *v, uint64_t version, const uint8_t *data, size_t len)
{
    uint8_t *copy = NULL;

    if (len > 0 && (copy = wc_memdup(data, len)) == NULL)
        return wc_error(WC_NO_MEMORY, "gossip: out of memory storing a value");
    wc_free(v->data);
    v->data = copy;
    v->len = (uint32_t)len;
    v->version = version;
    return WC_OK;
}

/* ---------------------------------------------------------------- listeners */

#define NOTIFY(g, cb, ...)                                                                         \
    do {                                                                                           \
        for (size_t li_ = 0; li_ < (g)->nlisteners; li_++)                                         \
            if ((g)->listeners[li_].cb != NULL)                                                    \
                (g)->listeners[li_].cb((g)->listeners[li_].ctx, __VA_ARGS__);                      \
    } while (0)

static void mark_alive(wc_gossip *g, endpoint *ep)
{
    char a[ADDR_BUF];

    if (ep->alive)
        return;
    ep->alive = true;
    glog(g, WC_ENV_LOG_INFO, "gossip: %s is up", fmt_addr(&ep->addr, a, sizeof(a)));
    NOTIFY(g, on_alive, &ep->addr);
}

static void mark_dead(wc_gossip *g, endpoint *ep, const char *why)
{
    char a[ADDR_BUF];

    if (!ep->alive)
        return;
    ep->alive = false;
    glog(g, WC_ENV_LOG_INFO, "gossip: %s is down (%s)", fmt_addr(&ep->addr, a, sizeof(a)), why);
    NOTIFY(g, on_dead, &ep->addr);
}

/* ---------------------------------------------------------------- options, lifecycle */

void wc_gossip_options_default(wc_gossip_options *o)
{
    memset(o, 0, sizeof(*o));
    o->interval_ms = 1000;
    o->phi_convict_threshold = WC_FD_DEFAULT_THRESHOLD;
    o->fd_window = WC_FD_DEFAULT_WINDOW;
    o->left_expiry_ms = UINT64_C(3) * 24 * 3600 * 1000;
    o->quarantine_ms = 60000;
}

wc_status wc_gossip_create(wc_env *env, const wc_gossip_options *o, wc_gossip **out)
{
    wc_gossip *g;
    wc_fd probe;
    wc_status st;
    size_t nlen = o->cluster_name != NULL ? strlen(o->cluster_name) : 0;

    *out = NULL;
    if (nlen == 0 || nlen > WC_GOSSIP_MAX_CLUSTER_NAME)
        return wc_error(WC_INVALID_ARGUMENT, "gossip: the cluster name must have 1 to %d bytes",
                        WC_GOSSIP_MAX_CLUSTER_NAME);
    if (o->interval_ms == 0 || o->interval_ms > 3600 * 1000)
        return wc_error(WC_INVALID_ARGUMENT, "gossip: the interval must be 1 ms to 1 hour");
    g = wc_calloc(1, sizeof(*g));
    if (g == NULL)
        return wc_error(WC_NO_MEMORY, "gossip: out of memory");
    g->env = env;
    g->o = *o;
    wc_buf_init(&g->buf);
    wc_buf_init(&g->req);
    wc_buf_init(&g->states);
    wc_fd_options_default(&g->fdo);
    g->fdo.window = o->fd_window;
    g->fdo.phi_convict_threshold = o->phi_convict_threshold;
    g->fdo.initial_interval_ms = 2 * o->interval_ms;
    g->fdo.max_interval_ms = 10 * o->interval_ms;
    if ((st = wc_fd_init(&probe, &g->fdo)) != WC_OK)
        goto fail;
    st = WC_NO_MEMORY;
    g->cluster_name = wc_strdup(o->cluster_name);
    if (g->cluster_name == NULL)
        goto fail;
    if (o->nseeds > 0) {
        g->seeds = wc_memdup(o->seeds, o->nseeds * sizeof(*o->seeds));
        if (g->seeds == NULL)
            goto fail;
    }
    g->o.seeds = g->seeds;
    g->o.cluster_name = g->cluster_name;
    if (g->o.generation == 0) {
        int64_t secs = wc_env_wall_us(env) / 1000000;
        g->o.generation = secs < 1                          ? 1
                          : secs > WC_GOSSIP_MAX_GENERATION ? WC_GOSSIP_MAX_GENERATION
                                                            : (uint32_t)secs;
    }
    g->self = ep_new(g, &env->self, g->o.generation);
    if (g->self == NULL || !ep_insert(g, g->self))
        goto fail;
    g->self->alive = true;
    *out = g;
    return WC_OK;
fail:
    if (g->self != NULL && g->neps == 0)
        ep_free(g->self);
    g->self = NULL;
    wc_gossip_destroy(g);
    return st == WC_NO_MEMORY ? wc_error(WC_NO_MEMORY, "gossip: out of memory") : st;
}

void wc_gossip_destroy(wc_gossip *g)
{
    if (g == NULL)
        return;
    if (g->timer != 0)
        g->env->ops->timer_cancel(g->env, g->timer);
    for (size_t i = 0; i < g->neps; i++)
        ep_free(g->eps[i]);
    wc_free(g->eps);
    wc_free(g->seeds);
    wc_free(g->cluster_name);
    wc_buf_free(&g->buf);
    wc_buf_free(&g->req);
    wc_buf_free(&g->states);
    wc_free(g);
}

wc_status wc_gossip_add_listener(wc_gossip *g, const wc_gossip_listener *l)
{
    if (g->nlisteners == WC_GOSSIP_MAX_LISTENERS)
        return wc_error(WC_INVALID_ARGUMENT, "gossip: at most %d listeners",
                        WC_GOSSIP_MAX_LISTENERS);
    g->listeners[g->nlisteners++] = *l;
    return WC_OK;
}

wc_status wc_gossip_set_local(wc_gossip *g, int key, const void *value, size_t len)
{
    if (key < 0 || key >= WC_GOSSIP_MAX_KEYS)
        return wc_error(WC_INVALID_ARGUMENT, "gossip: key %d (0 to %d)", key,
                        WC_GOSSIP_MAX_KEYS - 1);
    if (len > WC_GOSSIP_MAX_VALUE)
        return wc_error(WC_INVALID_ARGUMENT, "gossip: a value of %zu bytes (at most %d)", len,
                        WC_GOSSIP_MAX_VALUE);
    wc_status st = value_set(&g->self->values[key], g->version + 1, value, len);

    if (st == WC_OK)
        ep_saw_version(g->self, ++g->version);
    return st;
}

/* ---------------------------------------------------------------- sending */

static void send_buf(wc_gossip *g, const wc_addr *to, const wc_buf *b)
{
    wc_status st;
    char a[ADDR_BUF];

    if (b->failed) {
        glog(g, WC_ENV_LOG_WARNING, "gossip: out of memory building a message to %s",
             fmt_addr(to, a, sizeof(a)));
        return;
    }
    st = g->env->ops->send(g->env, to, b->data, b->len);
    if (st != WC_OK)
        glog(g, WC_ENV_LOG_DEBUG, "gossip: message to %s not sent: %s", fmt_addr(to, a, sizeof(a)),
             wc_last_error());
}

/* Appends ep's state with the values newer than `above` to g->states. */
static void put_state(wc_gossip *g, const endpoint *ep, uint64_t above)
{
    size_t n = 0;

    for (int k = 0; k < WC_GOSSIP_MAX_KEYS; k++)
        n += ep->values[k].version > above;
    wc__gossip_put_state_head(&g->states, &ep->addr, ep->generation, ep->heartbeat, n);
    for (int k = 0; k < WC_GOSSIP_MAX_KEYS; k++)
        if (ep->values[k].version > above)
            wc__gossip_put_value(&g->states, k, ep->values[k].version, ep->values[k].data,
                                 ep->values[k].len);
}

static void send_syn(wc_gossip *g, const wc_addr *to)
{
    wc_buf *b = &g->buf;

    wc_buf_reset(b);
    wc_buf_put_u8(b, WC_GOSSIP_MSG_SYN);
    wc_buf_put_bytes(b, g->cluster_name, strlen(g->cluster_name));
    wc_buf_put_varint(b, g->neps);
    for (size_t i = 0; i < g->neps; i++)
        wc__gossip_put_digest(b, &g->eps[i]->addr, g->eps[i]->generation,
                              ep_max_version(g->eps[i]));
    send_buf(g, to, b);
}

/* ---------------------------------------------------------------- applying states */

static bool is_quarantined(wc_gossip *g, const wc_addr *addr, uint32_t generation)
{
    uint64_t now = wc_env_now_ms(g->env);

    for (size_t i = 0; i < g->nquarantine; i++)
        if (wc_addr_equal(&g->quarantine[i].addr, addr))
            return now < g->quarantine[i].until_ms && generation <= g->quarantine[i].generation;
    return false;
}

static void note_left(wc_gossip *g, endpoint *ep)
{
    if (ep_status(ep) == WC_GOSSIP_STATUS_LEFT) {
        if (ep->left_seen_ms == 0)
            ep->left_seen_ms = wc_env_now_ms(g->env) + 1; /* never 0 */
    } else {
        ep->left_seen_ms = 0;
    }
}

/* The values of s newer than ep's; reports each change when notify. */
static void apply_values(wc_gossip *g, endpoint *ep, const wc_gossip_msg *m,
                         const wc_gossip_state_ref *s, bool notify)
{
    for (size_t j = s->first_value; j < s->first_value + s->nvalues; j++) {
        const wc_gossip_value_ref *v = &m->values[j];
        gvalue *mine = &ep->values[v->key];
        if (v->version <= mine->version)
            continue;
        if (value_set(mine, v->version, v->value, v->len) != WC_OK) {
            glog(g, WC_ENV_LOG_WARNING, "gossip: %s", wc_last_error());
            continue;
        }
        ep_saw_version(ep, v->version);
        if (v->key == WC_GOSSIP_STATUS)
            note_left(g, ep);
        if (notify)
            NOTIFY(g, on_change, &ep->addr, v->key, mine->data, mine->len);
    }
}

/* A node seen for the first time, or again with a new generation. */
static void apply_new_generation(wc_gossip *g, endpoint *ep, const wc_gossip_msg *m,
                                 const wc_gossip_state_ref *s, bool restarted)
{
    uint64_t now = wc_env_now_ms(g->env);
    char a[ADDR_BUF];

    if (restarted) {
        for (int k = 0; k < WC_GOSSIP_MAX_KEYS; k++) {
            wc_free(ep->values[k].data);
            memset(&ep->values[k], 0, sizeof(ep->values[k]));
        }
        wc_fd_reset(&ep->fd);
        glog(g, WC_ENV_LOG_INFO, "gossip: %s restarted (generation %u, was %u)",
             fmt_addr(&ep->addr, a, sizeof(a)), s->generation, ep->generation);
    } else {
        glog(g, WC_ENV_LOG_INFO, "gossip: %s joined (generation %u)",
             fmt_addr(&ep->addr, a, sizeof(a)), s->generation);
    }
    ep->generation = s->generation;
    ep->left_seen_ms = 0;
    ep->max_version = 0;
    ep_set_heartbeat(ep, s->heartbeat);
    ep->shut_down = false;
    apply_values(g, ep, m, s, false);
    wc_fd_heartbeat(&ep->fd, now);
    NOTIFY(g, on_join, &ep->addr);
    if (ep_status(ep) != WC_GOSSIP_STATUS_SHUTDOWN && ep_status(ep) != WC_GOSSIP_STATUS_LEFT)
        mark_alive(g, ep);
}

static void apply_state(wc_gossip *g, const wc_gossip_msg *m, const wc_gossip_state_ref *s,
                        size_t *hint)
{
    endpoint *ep;
    char a[ADDR_BUF];

    if (wc_addr_equal(&s->addr, &g->self->addr))
        return; /* nobody knows this node better than itself */
    if (is_quarantined(g, &s->addr, s->generation))
        return;
    ep = ep_find_near(g, &s->addr, hint);
    if (ep == NULL) {
        if (g->neps >= WC_GOSSIP_MAX_ENDPOINTS) {
            glog(g, WC_ENV_LOG_WARNING, "gossip: %s ignored: %d nodes known already",
                 fmt_addr(&s->addr, a, sizeof(a)), WC_GOSSIP_MAX_ENDPOINTS);
            return;
        }
        ep = ep_new(g, &s->addr, s->generation);
        if (ep == NULL || !ep_insert(g, ep)) {
            if (ep != NULL)
                ep_free(ep);
            glog(g, WC_ENV_LOG_WARNING, "gossip: out of memory adding %s",
                 fmt_addr(&s->addr, a, sizeof(a)));
            return;
        }
        apply_new_generation(g, ep, m, s, false);
        return;
    }
    if (s->generation > ep->generation) {
        if (s->generation - ep->generation > MAX_GENERATION_JUMP) {
            glog_limited(g, "gossip: generation %u of %s ignored: more than a year after %u",
                         s->generation, fmt_addr(&s->addr, a, sizeof(a)), ep->generation);
            return;
        }
        apply_new_generation(g, ep, m, s, true);
        return;
    }
    if (s->generation < ep->generation)
        return; /* from before a restart */
    apply_values(g, ep, m, s, true);
    if (s->heartbeat > ep->heartbeat) {
        ep_set_heartbeat(ep, s->heartbeat);
        wc_fd_heartbeat(&ep->fd, wc_env_now_ms(g->env));
        if (!ep->shut_down)
            mark_alive(g, ep);
    }
}

static void apply_states(wc_gossip *g, const wc_gossip_msg *m)
{
    size_t hint = 0;

    for (size_t i = 0; i < m->nstates; i++)
        apply_state(g, m, &m->states[i], &hint);
}

/* ---------------------------------------------------------------- the exchange */

/* Appends the states asked for by digests (whose version the asker has) to g->states. */
static size_t put_requested(wc_gossip *g, const wc_gossip_digest *d, size_t n)
{
    size_t count = 0, hint = 0;

    for (size_t i = 0; i < n && g->states.len < WC_GOSSIP_SOFT_MESSAGE_LIMIT; i++) {
        const endpoint *ep = ep_find_near(g, &d[i].addr, &hint);
        if (ep == NULL || ep->generation < d[i].generation)
            continue;
        put_state(g, ep, ep->generation > d[i].generation ? 0 : d[i].version);
        count++;
    }
    return count;
}

static bool foreign_cluster(wc_gossip *g, const wc_addr *from, const wc_gossip_msg *m)
{
    char a[ADDR_BUF];

    if (m->cluster_name_len == strlen(g->cluster_name) &&
        memcmp(m->cluster_name, g->cluster_name, m->cluster_name_len) == 0)
        return false;
    for (size_t i = 0; i < g->nforeign_logged; i++)
        if (wc_addr_equal(&g->foreign_logged[i], from))
            return true;
    if (g->nforeign_logged == MAX_FOREIGN_LOGGED)
        return true; /* logged enough strangers */
    g->foreign_logged[g->nforeign_logged++] = *from;
    glog(g, WC_ENV_LOG_WARNING,
         "gossip: ignoring %s: it belongs to cluster \"%.*s\", this node to \"%s\"",
         fmt_addr(from, a, sizeof(a)), (int)m->cluster_name_len, m->cluster_name, g->cluster_name);
    return true;
}

/*
 * A peer knows this node with a newer state than its own: this node
 * restarted within the same second (same generation, its version counter
 * started again from 0), or its clock went back (a lower generation).  Its
 * states would be ignored as old until the peers forget it, so it moves past
 * what they know (a higher generation, or versions above theirs) and
 * stamps every value and the heartbeat again.
 */
static void outrun_self(wc_gossip *g, const wc_gossip_digest *d)
{
    endpoint *self = g->self;
    char a[ADDR_BUF];

    if (d->generation > self->generation) {
        glog(g, WC_ENV_LOG_WARNING,
             "gossip: peers know %s with generation %u, above its own %u (clock set back?): "
             "taking generation %u",
             fmt_addr(&self->addr, a, sizeof(a)), d->generation, self->generation,
             d->generation < WC_GOSSIP_MAX_GENERATION ? d->generation + 1 : d->generation);
        if (d->generation < WC_GOSSIP_MAX_GENERATION)
            self->generation = d->generation + 1;
    } else if (d->version > g->version) {
        g->version = d->version;
    }
    self->max_version = 0;
    for (int k = 0; k < WC_GOSSIP_MAX_KEYS; k++)
        if (self->values[k].version != 0) {
            self->values[k].version = ++g->version;
            ep_saw_version(self, g->version);
        }
    ep_set_heartbeat(self, ++g->version);
}

/* Appends src to dst, carrying an allocation failure. */
static void append_buf(wc_buf *dst, const wc_buf *src)
{
    wc_buf_append(dst, src->data, src->len);
    if (src->failed)
        dst->failed = 1;
}

/*
 * Answers a SYN: the digests this node needs (with the version it has) go
 * into g->req, the states the sender lacks into g->states (newer versions,
 * and every endpoint its digests did not list), then the ACK is assembled.
 */
static void on_syn(wc_gossip *g, const wc_addr *from, const wc_gossip_msg *m)
{
    size_t nreq = 0, nstates = 0, hint = 0;

    if (foreign_cluster(g, from, m))
        return;
    g->stamp++;
    wc_buf_reset(&g->req);
    wc_buf_reset(&g->states);
    for (size_t i = 0; i < m->ndigests; i++) {
        const wc_gossip_digest *d = &m->digests[i];
        endpoint *ep = ep_find_near(g, &d->addr, &hint);
        uint64_t mine;

        if (ep == NULL) {
            if (!is_quarantined(g, &d->addr, d->generation)) {
                wc__gossip_put_digest(&g->req, &d->addr, d->generation, 0);
                nreq++;
            }
            continue;
        }
        ep->listed = g->stamp;
        if (ep == g->self && (d->generation > ep->generation ||
                              (d->generation == ep->generation && d->version > ep->max_version)))
            outrun_self(g, d);
        mine = ep_max_version(ep);
        if (d->generation > ep->generation ||
            (d->generation == ep->generation && d->version > mine)) {
            wc__gossip_put_digest(&g->req, &d->addr, d->generation,
                                  d->generation > ep->generation ? 0 : mine);
            nreq++;
        } else if (g->states.len < WC_GOSSIP_SOFT_MESSAGE_LIMIT &&
                   (d->generation < ep->generation || d->version < mine)) {
            put_state(g, ep, d->generation < ep->generation ? 0 : d->version);
            nstates++;
        }
    }
    for (size_t i = 0; i < g->neps && g->states.len < WC_GOSSIP_SOFT_MESSAGE_LIMIT; i++) {
        if (g->eps[i]->listed != g->stamp && !wc_addr_equal(&g->eps[i]->addr, from)) {
            put_state(g, g->eps[i], 0);
            nstates++;
        }
    }
    wc_buf_reset(&g->buf);
    wc_buf_put_u8(&g->buf, WC_GOSSIP_MSG_ACK);
    wc_buf_put_varint(&g->buf, nreq);
    append_buf(&g->buf, &g->req);
    wc_buf_put_varint(&g->buf, nstates);
    append_buf(&g->buf, &g->states);
    send_buf(g, from, &g->buf);
}

static void on_ack(wc_gossip *g, const wc_addr *from, const wc_gossip_msg *m)
{
    wc_buf *b = &g->buf;
    size_t n;

    apply_states(g, m);
    if (m->ndigests == 0)
        return;
    wc_buf_reset(&g->states);
    n = put_requested(g, m->digests, m->ndigests);
    if (n == 0)
        return;
    wc_buf_reset(b);
    wc_buf_put_u8(b, WC_GOSSIP_MSG_ACK2);
    wc_buf_put_varint(b, n);
    append_buf(b, &g->states);
    send_buf(g, from, b);
}

static void on_shutdown(wc_gossip *g, const wc_addr *from, const wc_gossip_msg *m)
{
    endpoint *ep = ep_find(g, from);

    if (ep == NULL || ep == g->self || ep->generation != m->generation)
        return; /* unknown, or a message from before a restart */
    if (m->heartbeat > ep->heartbeat)
        ep_set_heartbeat(ep, m->heartbeat);
    ep->shut_down = true;
    mark_dead(g, ep, "it announced its shutdown");
}

void wc_gossip_on_message(void *arg, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc_gossip *g = arg;
    wc_gossip_msg m;
    wc_status st;

    if (g->stopped)
        return;
    st = wc_gossip_decode(msg, len, &m);
    if (st == WC_INVALID_ARGUMENT && len > 0 && msg[0] <= WC_GOSSIP_MSG_LAST) {
        if (!(g->unknown_types_logged & (1u << msg[0]))) {
            g->unknown_types_logged |= 1u << msg[0];
            glog(g, WC_ENV_LOG_WARNING, "gossip: message type %u unknown to this node: dropped",
                 msg[0]);
        }
    } else if (st != WC_OK) {
        char a[ADDR_BUF];
        glog_limited(g, "gossip: malformed message from %s dropped: %s",
                     fmt_addr(from, a, sizeof(a)), wc_last_error());
    } else if (m.type == WC_GOSSIP_MSG_SYN) {
        on_syn(g, from, &m);
    } else if (m.type == WC_GOSSIP_MSG_ACK) {
        on_ack(g, from, &m);
    } else if (m.type == WC_GOSSIP_MSG_ACK2) {
        apply_states(g, &m);
    } else {
        on_shutdown(g, from, &m);
    }
    wc_gossip_msg_free(&m);
}

/* ---------------------------------------------------------------- the round */

static void status_check(wc_gossip *g)
{
    uint64_t now = wc_env_now_ms(g->env);
    char a[ADDR_BUF];
    size_t i = 0;

    while (i < g->neps) {
        endpoint *ep = g->eps[i];
        if (ep == g->self) {
            i++;
            continue;
        }
        if (ep->alive && wc_fd_convict(&ep->fd, now))
            mark_dead(g, ep, "the failure detector convicted it");
        if (ep->left_seen_ms != 0 && now - ep->left_seen_ms >= g->o.left_expiry_ms) {
            quarantined *q = NULL;
            for (size_t k = 0; k < g->nquarantine && q == NULL; k++)
                if (wc_addr_equal(&g->quarantine[k].addr, &ep->addr))
                    q = &g->quarantine[k];
            if (q == NULL)
                q = &g->quarantine[g->nquarantine < MAX_QUARANTINE ? g->nquarantine++
                                                                   : now % MAX_QUARANTINE];
            q->addr = ep->addr;
            q->generation = ep->generation;
            q->until_ms = now + g->o.quarantine_ms;
            memmove(&g->eps[i], &g->eps[i + 1], (g->neps - i - 1) * sizeof(*g->eps));
            g->neps--;
            glog(g, WC_ENV_LOG_INFO, "gossip: %s removed: it left",
                 fmt_addr(&ep->addr, a, sizeof(a)));
            NOTIFY(g, on_remove, &ep->addr);
            ep_free(ep);
            continue;
        }
        i++;
    }
    /* forget quarantines that ended */
    for (i = 0; i < g->nquarantine;) {
        if (now >= g->quarantine[i].until_ms)
            g->quarantine[i] = g->quarantine[--g->nquarantine];
        else
            i++;
    }
}

static bool is_seed(const wc_gossip *g, const wc_addr *a)
{
    for (size_t i = 0; i < g->o.nseeds; i++)
        if (wc_addr_equal(&g->seeds[i], a))
            return true;
    return false;
}

static const wc_addr *random_peer(wc_gossip *g, bool alive, size_t count)
{
    size_t pick = (size_t)(wc_env_random(g->env) % count);

    for (size_t i = 0; i < g->neps; i++) {
        const endpoint *ep = g->eps[i];
        if (ep == g->self || ep->alive != alive)
            continue;
        if (pick-- == 0)
            return &ep->addr;
    }
    return NULL;
}

static double random_unit(wc_gossip *g)
{
    return (double)(wc_env_random(g->env) >> 11) * 0x1p-53;
}

static void gossip_round(void *arg)
{
    wc_gossip *g = arg;
    size_t nlive = 0, nunreach = 0, nseeds = 0;
    const wc_addr *to;
    bool to_seed = false;

    g->timer = 0;
    if (g->stopped)
        return;
    ep_set_heartbeat(g->self, ++g->version);
    for (size_t i = 0; i < g->neps; i++) {
        if (g->eps[i] == g->self)
            continue;
        if (g->eps[i]->alive)
            nlive++;
        else
            nunreach++;
    }
    for (size_t i = 0; i < g->o.nseeds; i++)
        nseeds += !wc_addr_equal(&g->seeds[i], &g->self->addr);
    if (nlive > 0) {
        to = random_peer(g, true, nlive);
        send_syn(g, to);
        to_seed = is_seed(g, to);
    }
    if (nunreach > 0 && random_unit(g) < (double)nunreach / (double)(nlive + 1))
        send_syn(g, random_peer(g, false, nunreach));
    if (nseeds > 0 && (!to_seed || nlive < nseeds) &&
        (nlive == 0 || random_unit(g) < (double)nseeds / (double)(nlive + nunreach))) {
        size_t pick = (size_t)(wc_env_random(g->env) % nseeds);
        for (size_t i = 0; i < g->o.nseeds; i++) {
            if (wc_addr_equal(&g->seeds[i], &g->self->addr))
                continue;
            if (pick-- == 0) {
                send_syn(g, &g->seeds[i]);
                break;
            }
        }
    }
    status_check(g);
    g->timer = g->env->ops->timer_start(g->env, g->o.interval_ms, gossip_round, g);
    if (g->timer == 0)
        glog(g, WC_ENV_LOG_WARNING, "gossip: out of memory starting the round timer");
}

wc_status wc_gossip_start(wc_gossip *g)
{
    if (g->running || g->stopped)
        return wc_error(WC_INVALID_ARGUMENT, "gossip: already started");
    g->running = true;
    g->timer = g->env->ops->timer_start(g->env, wc_env_random(g->env) % g->o.interval_ms + 1,
                                        gossip_round, g);
    if (g->timer == 0)
        return wc_error(WC_NO_MEMORY, "gossip: out of memory starting the round timer");
    return WC_OK;
}

void wc_gossip_shutdown(wc_gossip *g)
{
    static const char shutdown_word[] = "shutdown";
    wc_buf *b = &g->buf;

    if (g->stopped)
        return;
    wc_gossip_set_local(g, WC_GOSSIP_STATUS, shutdown_word, sizeof(shutdown_word) - 1);
    wc_buf_reset(b);
    wc_buf_put_u8(b, WC_GOSSIP_MSG_SHUTDOWN);
    wc_buf_put_varint(b, g->self->generation);
    wc_buf_put_varint(b, g->self->heartbeat);
    for (size_t i = 0; i < g->neps; i++)
        if (g->eps[i] != g->self && g->eps[i]->alive)
            send_buf(g, &g->eps[i]->addr, b);
    if (g->timer != 0)
        g->env->ops->timer_cancel(g->env, g->timer);
    g->timer = 0;
    g->stopped = true;
    g->running = false;
    glog(g, WC_ENV_LOG_INFO, "gossip: shut down, peers told");
}

/* ---------------------------------------------------------------- queries */

size_t wc_gossip_endpoint_count(const wc_gossip *g)
{
    return g->neps;
}

const wc_addr *wc_gossip_endpoint(const wc_gossip *g, size_t i)
{
    return i < g->neps ? &g->eps[i]->addr : NULL;
}

bool wc_gossip_is_alive(const wc_gossip *g, const wc_addr *ep)
{
    const endpoint *e = ep_find(g, ep);

    return e != NULL && e->alive;
}

bool wc_gossip_is_known(const wc_gossip *g, const wc_addr *ep)
{
    return ep_find(g, ep) != NULL;
}

wc_status wc_gossip_get(const wc_gossip *g, const wc_addr *ep, int key, const uint8_t **value,
                        size_t *len)
{
    const endpoint *e = ep_find(g, ep);

    if (e == NULL || key < 0 || key >= WC_GOSSIP_MAX_KEYS || e->values[key].version == 0)
        return WC_NOT_FOUND;
    *value = e->values[key].data;
    *len = e->values[key].len;
    return WC_OK;
}

wc_status wc_gossip_generation(const wc_gossip *g, const wc_addr *ep, uint32_t *generation,
                               uint64_t *heartbeat)
{
    const endpoint *e = ep_find(g, ep);

    if (e == NULL)
        return WC_NOT_FOUND;
    *generation = e->generation;
    *heartbeat = e->heartbeat;
    return WC_OK;
}

double wc_gossip_phi(const wc_gossip *g, const wc_addr *ep)
{
    const endpoint *e = ep_find(g, ep);

    if (e == NULL || e == g->self)
        return 0.0;
    return wc_fd_phi(&e->fd, wc_env_now_ms(g->env));
}

wc_status wc_gossip_local_host_id(const wc_gossip *g, const uint8_t **value, size_t *len)
{
    return wc_gossip_get(g, &g->self->addr, WC_GOSSIP_HOST_ID, value, len);
}

wc_gossip_status wc_gossip_status_of(const uint8_t *value, size_t len)
{
    static const struct {
        const char *word;
        wc_gossip_status status;
    } words[] = {
        {"joining", WC_GOSSIP_STATUS_JOINING},   {"normal", WC_GOSSIP_STATUS_NORMAL},
        {"leaving", WC_GOSSIP_STATUS_LEAVING},   {"left", WC_GOSSIP_STATUS_LEFT},
        {"shutdown", WC_GOSSIP_STATUS_SHUTDOWN},
    };
    size_t wlen = 0;

    while (wlen < len && value[wlen] != ',')
        wlen++;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i].word) == wlen && memcmp(words[i].word, value, wlen) == 0)
            return words[i].status;
    return WC_GOSSIP_STATUS_UNKNOWN;
}
