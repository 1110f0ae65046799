/*
 * coordinator_index.c - secondary-index reads on a cluster (coordinator.h,
 * wc_coord_index_read): key steps over the ring's ranges, then the rows of
 * the keys read at the level; and the replica side of INDEX_QUERY.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "coordinator_format.h" /* WC_COORD_MAX_STATUS */
#include "coordinator_index.h"
#include "coordinator_index_format.h"
#include "counter_leader.h" /* wc__coord_replicas, wc__coord_options, wc__coord_stats */
#include "keys.h"

/* one replica asked for a range's keys */
typedef struct wc__ixt {
    wc_addr addr;
    bool local;
    uint8_t state; /* WC__IX_* */
    wc_buf keys;   /* its answer (replica_store.h form) */
} wc__ixt;

enum { WC__IX_PENDING = 1, WC__IX_ANSWERED };

/* Ranges asked at once by one index read (in token order; answers are used in that order). */
#define WC__IX_WINDOW 8

typedef struct wc__ixreq wc__ixreq;

/* One range asked: the level's replicas of step `step`, under an id of its own. */
typedef struct wc__ixrange wc__ixrange;
struct wc__ixrange {
    wc__ixrange *next; /* the coordinator's list of ranges asked */
    wc__ixreq *q;
    uint64_t id;
    size_t step;
    wc__ixt *t;
    uint32_t nt, outstanding;
    uint64_t timer;
};

struct wc__ixreq {
    wc__ixreq *next;
    wc_coord *c;
    wc_consistency cl;
    uint32_t timeout_ms;
    uint32_t table_id;
    char index[WC_INDEX_QUERY_MAX_NAME + 1];
    wc_buf value;
    bool include_static;
    int64_t now_sec;
    uint32_t limit;
    wc_ring *ring; /* the ranges walked (the ring when the read started) */
    size_t nsteps, next_step;
    wc_buf after;      /* the start key of step after_step (a resumed page, a cut answer) */
    size_t after_step;
    wc__ixrange *win[WC__IX_WINDOW]; /* the ranges asked, in step order */
    size_t nwin;
    wc_buf keys;  /* gathered entry keys, each as bytes */
    size_t nkeys;
    bool more;    /* keys may follow the last gathered one */
    bool pumping; /* in wc__ix_pump: answers only mark their range */
    bool again;   /* an answer came while pumping */
    bool failed;  /* res holds the failure; the pump ends the read */
    wc_coord_result res;
    wc_coord_index_cb done;
    void *arg;
};

struct wc__ixreads {
    wc__ixreq *head;
    wc__ixrange *ranges;
    uint64_t next_id;
};

/* a local index_keys in flight: found again by its range's id (the read may have ended) */
typedef struct wc__ixop {
    wc_coord *c;
    uint64_t id;
    uint32_t t;
    wc_addr from; /* replica side: the coordinator to answer */
} wc__ixop;

static void wc__ix_pump(wc__ixreq *q);

/* The u16be at p (an entry key's pk length). */
static size_t wc__ix_u16(const uint8_t *p)
{
    return ((size_t)p[0] << 8) | p[1];
}

/* ---------------------------------------------------------------- bookkeeping */

static wc__ixreads *wc__ix_state(wc_coord *c)
{
    wc__ixreads **s = wc__coord_ixreads(c);

    if (*s == NULL && (*s = calloc(1, sizeof(**s))) != NULL)
        (*s)->next_id = (wc_env_random(wc__coord_options(c)->env) >> 2) | 1;
    return *s;
}

static wc__ixrange *wc__ix_range_find(wc_coord *c, uint64_t id)
{
    wc__ixreads *s = *wc__coord_ixreads(c);

    for (wc__ixrange *r = s ? s->ranges : NULL; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

static void wc__ix_range_free(wc__ixrange *r)
{
    wc__ixreads *s = *wc__coord_ixreads(r->q->c);
    wc_env *env = wc__coord_options(r->q->c)->env;

    for (wc__ixrange **pp = &s->ranges; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    if (r->timer)
        env->ops->timer_cancel(env, r->timer);
    for (uint32_t i = 0; i < r->nt; i++)
        wc_buf_free(&r->t[i].keys);
    free(r->t);
    free(r);
}

/* Forget the ranges asked (their late answers find nothing). */
static void wc__ix_clear_window(wc__ixreq *q)
{
    for (size_t i = 0; i < q->nwin; i++)
        wc__ix_range_free(q->win[i]);
    q->nwin = 0;
}

/* End q: done once, then unlink and free it. */
static void wc__ix_end(wc__ixreq *q, const uint8_t *data, size_t len)
{
    wc__ixreads *s = *wc__coord_ixreads(q->c);
    const uint8_t *resume = NULL;
    size_t rlen = 0;

    wc__ix_clear_window(q);
    if (q->res.status == WC_OK && q->more && q->nkeys > 0) {
        /* the last gathered key */
        const uint8_t *p = q->keys.data, *end = q->keys.data + q->keys.len;
        while (p < end && wc_get_bytes(&p, end, &resume, &rlen))
            ;
    }
    q->done(q->arg, &q->res, q->res.status == WC_OK ? data : NULL,
            q->res.status == WC_OK ? len : 0, resume, rlen, q->res.status == WC_OK && q->more);
    for (wc__ixreq **pp = &s->head; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    wc_buf_free(&q->value);
    wc_buf_free(&q->after);
    wc_buf_free(&q->keys);
    wc_ring_unref(q->ring);
    free(q);
}

/*
 * Fail q with st: at once, or, while the pump runs (an answer that came
 * synchronously), when the pump next looks.
 */
static void wc__ix_fail(wc__ixreq *q, wc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void wc__ix_fail(wc__ixreq *q, wc_status st, const char *fmt, ...)
{
    va_list ap;

    if (q->failed)
        return; /* the first failure is the one reported */
    q->res.status = st;
    va_start(ap, fmt);
    vsnprintf(q->res.detail, sizeof(q->res.detail), fmt, ap);
    va_end(ap);
    q->failed = true;
    if (q->pumping)
        q->again = true;
    else
        wc__ix_end(q, NULL, 0);
}

/* ---------------------------------------------------------------- codec */

static void wc__ix_put_query(wc_buf *b, uint64_t id, const wc_store_index_query *x)
{
    wc_buf_put_u8(b, WC_INDEX_MSG_QUERY);
    wc_buf_put_varint(b, id);
    wc_buf_put_u32(b, x->table_id);
    wc_buf_put_bytes(b, x->index, strlen(x->index));
    wc_buf_put_bytes(b, x->value, x->value_len);
    wc_buf_put_u64(b, (uint64_t)x->token_start);
    wc_buf_put_u64(b, (uint64_t)x->token_end);
    wc_buf_put_bytes(b, x->after, x->after ? x->after_len : 0);
    wc_buf_put_varint(b, x->limit);
    wc_buf_put_varint(b, (uint64_t)x->now_sec);
}

/* Decode an INDEX_QUERY body after its type byte; name gets the index name. */
static wc_status wc__ix_get_query(const uint8_t *p, const uint8_t *end, uint64_t *id,
                                  wc_store_index_query *x, char *name)
{
    const uint8_t *nm;
    size_t nlen;
    uint64_t ts, te, limit, now;

    memset(x, 0, sizeof(*x));
    if (!wc_get_varint(&p, end, id) || !wc_get_u32(&p, end, &x->table_id) ||
        !wc_get_bytes(&p, end, &nm, &nlen) || nlen == 0 || nlen > WC_INDEX_QUERY_MAX_NAME ||
        memchr(nm, 0, nlen) != NULL || !wc_get_bytes(&p, end, &x->value, &x->value_len) ||
        x->value_len > WC_INDEX_QUERY_MAX_VALUE || !wc_get_u64(&p, end, &ts) ||
        !wc_get_u64(&p, end, &te) || !wc_get_bytes(&p, end, &x->after, &x->after_len) ||
        x->after_len > WC_INDEX_QUERY_MAX_AFTER || (x->after_len > 0 && x->after_len < 10) ||
        !wc_get_varint(&p, end, &limit) || limit == 0 || limit > WC_INDEX_QUERY_MAX_LIMIT ||
        !wc_get_varint(&p, end, &now) || p != end || (int64_t)ts > (int64_t)te)
        return wc_error(WC_CORRUPTION, "malformed INDEX_QUERY message");
    memcpy(name, nm, nlen);
    name[nlen] = '\0';
    x->index = name;
    x->token_start = (int64_t)ts;
    x->token_end = (int64_t)te;
    if (x->after_len == 0)
        x->after = NULL;
    x->limit = (uint32_t)limit;
    x->now_sec = (int64_t)now;
    return WC_OK;
}

/* The entries of a store's keys answer: *more and the entries after it, or false if malformed. */
static bool wc__ix_keys_parse(const uint8_t *keys, size_t len, bool *more, const uint8_t **p)
{
    const uint8_t *end = keys + len, *k;
    size_t kl;

    if (len < 1 || keys[0] > 1)
        return false;
    *more = keys[0] == 1;
    *p = keys + 1;
    for (const uint8_t *q = keys + 1; q < end;)
        if (!wc_get_bytes(&q, end, &k, &kl) || kl < 10 || kl > WC_INDEX_QUERY_MAX_AFTER ||
            (size_t)wc__ix_u16(k + 8) + 10 > kl)
            return false;
    return true;
}

/* ---------------------------------------------------------------- phase 2: the rows */

typedef struct wc__ixrows {
    wc__ixreq *q;
    wc_store_read *reads;
    size_t n;
    wc_buf bounds; /* pks and bounds of reads */
} wc__ixrows;

static void wc__ix_rows_done(void *arg, const wc_coord_result *res, const wc_store_raw *answers,
                             size_t n)
{
    wc__ixrows *w = arg;
    wc__ixreq *q = w->q;
    const wc_coord_options *o = wc__coord_options(q->c);
    wc_buf body;
    uint64_t rows;
    wc_status st = WC_OK;

    wc_buf_init(&body);
    q->res.repairs += res->repairs;
    q->res.repair_rows += res->repair_rows;
    q->res.repair_bytes += res->repair_bytes;
    if (res->status != WC_OK) {
        q->res = *res;
        wc__ix_end(q, NULL, 0);
    } else {
        for (size_t i = 0; i < n && st == WC_OK; i++)
            st = o->store.ops->append(o->store.ctx, &body, answers[i].data, answers[i].len, &rows);
        if (st != WC_OK)
            wc__ix_fail(q, st, "answer of an index read: %s", wc_last_error());
        else
            wc__ix_end(q, body.data, body.len);
    }
    wc_buf_free(&body);
    wc_buf_free(&w->bounds);
    free(w->reads);
    free(w);
}

/*
 * Read the rows of the gathered keys at the level: one read per partition,
 * the slice from its first to its last key (the caller filters rows between
 * them that do not hold the value).
 */
static void wc__ix_read_rows(wc__ixreq *q)
{
    wc__ixrows *w;
    const uint8_t *p, *end, *k;
    size_t kl, i = 0;

    if (q->nkeys == 0) {
        wc__ix_end(q, NULL, 0);
        return;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL ||
        (w->reads = calloc(q->nkeys, sizeof(*w->reads))) == NULL) {
        free(w);
        wc__ix_fail(q, WC_NO_MEMORY, "out of memory");
        return;
    }
    w->q = q;
    wc_buf_init(&w->bounds);
    /* first pass: copy every key's pk and ck into bounds (offsets are fixed once it stops growing) */
    wc_buf_append(&w->bounds, q->keys.data, q->keys.len);
    if (wc_buf_status(&w->bounds) != WC_OK) {
        free(w->reads);
        free(w);
        wc__ix_fail(q, WC_NO_MEMORY, "out of memory");
        return;
    }
    p = w->bounds.data;
    end = w->bounds.data + w->bounds.len;
    while (p < end && wc_get_bytes(&p, end, &k, &kl)) {
        size_t pl = wc__ix_u16(k + 8);
        const uint8_t *pk = k + 10, *ck = k + 10 + pl;
        size_t cl = kl - 10 - pl;
        wc_store_read *r;

        if (i > 0 && w->reads[i - 1].pk_len == pl && memcmp(w->reads[i - 1].pk, pk, pl) == 0) {
            r = &w->reads[i - 1]; /* the same partition: extend its slice */
            r->end.key = ck;
            r->end.len = cl;
            r->start.unbounded = r->end.unbounded = cl == 0;
            continue;
        }
        r = &w->reads[i++];
        r->table_id = q->table_id;
        r->pk = pk;
        r->pk_len = pl;
        r->start.key = r->end.key = ck;
        r->start.len = r->end.len = cl;
        r->start.inclusive = r->end.inclusive = true;
        r->start.unbounded = r->end.unbounded = cl == 0;
        r->include_static = q->include_static;
        r->now_sec = q->now_sec;
    }
    w->n = i;
    wc_coord_read_partitions(q->c, w->reads, w->n, q->cl, q->timeout_ms, wc__ix_rows_done, w);
}


/* ---------------------------------------------------------------- phase 1: the keys */

/* Order of two entry keys (token, then pk length and pk, then ck: memcmp of the whole key). */
static int wc__ix_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return wc_bytes_cmp(a, al, b, bl);
}

typedef struct wc__ixkey {
    const uint8_t *k;
    size_t len;
} wc__ixkey;

static int wc__ix_qsort(const void *x, const void *y)
{
    const wc__ixkey *a = x, *b = y;
    return wc__ix_cmp(a->k, a->len, b->k, b->len);
}

/* The token range of step i of q's ring walk into (*s, *e]; false when it is empty. */
static bool wc__ix_step_range(const wc__ixreq *q, size_t i, int64_t *s, int64_t *e)
{
    size_t ntok = wc_ring_token_count(q->ring);

    *s = i == 0 ? INT64_MIN : wc_ring_token_at(q->ring, i - 1);
    *e = i < ntok ? wc_ring_token_at(q->ring, i) : INT64_MAX;
    return *s < *e || (*s == INT64_MIN && *e == INT64_MIN && i == 0);
}

/*
 * Use the answers of range r (every asked replica answered): unite their
 * keys up to the smallest last key of a cut answer and add them to the
 * page, at most up to its limit.  *cut is set when r's range continues
 * after the last key added (a cut answer, or the page became full inside
 * it).  False when q failed.
 */
static bool wc__ix_merge(wc__ixreq *q, wc__ixrange *r, bool *cut)
{
    wc__ixkey *v = NULL, lim = {NULL, 0};
    size_t n = 0, cap = 0;
    bool cut_any = false;

    *cut = false;
    for (uint32_t i = 0; i < r->nt; i++) {
        const uint8_t *p, *end = r->t[i].keys.data + r->t[i].keys.len, *k = NULL;
        size_t kl = 0;
        bool more;

        if (!wc__ix_keys_parse(r->t[i].keys.data, r->t[i].keys.len, &more, &p)) {
            free(v);
            wc__ix_fail(q, WC_CORRUPTION, "malformed keys in an index read's answer");
            return false;
        }
        while (p < end && wc_get_bytes(&p, end, &k, &kl)) {
            if (n == cap) {
                wc__ixkey *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
                if (nv == NULL) {
                    free(v);
                    wc__ix_fail(q, WC_NO_MEMORY, "out of memory");
                    return false;
                }
                v = nv;
            }
            v[n].k = k;
            v[n++].len = kl;
        }
        if (more && k == NULL) {
            free(v);
            wc__ix_fail(q, WC_CORRUPTION, "a replica cut its index answer before any key");
            return false;
        }
        if (more && (!cut_any || wc__ix_cmp(k, kl, lim.k, lim.len) < 0)) {
            lim.k = k;
            lim.len = kl;
            cut_any = true;
        }
    }
    if (n > 0)
        qsort(v, n, sizeof(*v), wc__ix_qsort);
    *cut = cut_any;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && wc__ix_cmp(v[i].k, v[i].len, v[i - 1].k, v[i - 1].len) == 0)
            continue;
        if (cut_any && wc__ix_cmp(v[i].k, v[i].len, lim.k, lim.len) > 0)
            break;
        if (q->nkeys >= q->limit) {
            *cut = true; /* the page is full: the next page continues after its last key */
            break;
        }
        wc_buf_put_bytes(&q->keys, v[i].k, v[i].len);
        q->nkeys++;
    }
    if (cut_any && q->nkeys < q->limit) {
        /* the range continues after the smallest cut: ask it again from there */
        wc_buf_reset(&q->after);
        wc_buf_append(&q->after, lim.k, lim.len);
        q->after_step = r->step;
    }
    free(v);
    if (wc_buf_status(&q->keys) != WC_OK || wc_buf_status(&q->after) != WC_OK) {
        wc__ix_fail(q, WC_NO_MEMORY, "out of memory");
        return false;
    }
    return true;
}

static void wc__ix_answer(wc__ixrange *r, uint32_t t, wc_status st, const uint8_t *keys,
                          size_t len)
{
    wc__ixt *x = &r->t[t];
    wc__ixreq *q = r->q;

    if (x->state != WC__IX_PENDING || q->failed)
        return;
    r->outstanding--;
    x->state = WC__IX_ANSWERED;
    if (st == WC_OK) {
        wc_buf_append(&x->keys, keys, len);
        st = wc_buf_status(&x->keys);
    }
    if (st != WC_OK) {
        char who[WC_ADDR_HOST_MAX + 8];

        wc_addr_format(&x->addr, who, sizeof(who));
        q->res.required = r->nt;
        q->res.acked = r->nt - r->outstanding - 1;
        wc__ix_fail(q, st, "replica %s failed the index read of index \"%s\" (%s)", who,
                    q->index, st == WC_NOT_FOUND ? "no such index there" : wc_status_name(st));
        return;
    }
    if (r->outstanding == 0)
        wc__ix_pump(q);
}

static void wc__ix_timeout(void *arg)
{
    wc__ixrange *r = arg;
    wc__ixreq *q = r->q;
    uint32_t answered = r->nt - r->outstanding;

    r->timer = 0;
    q->res.required = r->nt;
    q->res.acked = answered;
    wc__ix_fail(q, WC_TIMEOUT,
                "consistency %s needs %" PRIu32 " replicas, %" PRIu32
                " answered the index read in time",
                wc_consistency_name(q->res.cl), r->nt, answered);
}

static void wc__ix_local_done(void *arg, wc_status st, const uint8_t *keys, size_t len)
{
    wc__ixop *op = arg;
    wc__ixrange *r = wc__ix_range_find(op->c, op->id);

    if (r != NULL && op->t < r->nt)
        wc__ix_answer(r, op->t, st, keys, len);
    free(op);
}

/* The query of range r for the replicas. */
static void wc__ix_query(const wc__ixreq *q, const wc__ixrange *r, wc_store_index_query *x)
{
    memset(x, 0, sizeof(*x));
    x->table_id = q->table_id;
    x->index = q->index;
    x->value = q->value.data;
    x->value_len = q->value.len;
    (void)wc__ix_step_range(q, r->step, &x->token_start, &x->token_end);
    if (q->after.len > 0 && q->after_step == r->step) {
        x->after = q->after.data;
        x->after_len = q->after.len;
    }
    x->limit = q->limit - (uint32_t)q->nkeys;
    x->now_sec = q->now_sec;
}

/* Whether the level counts only this data centre's replicas. */
static bool wc__ix_local_level(wc_consistency cl)
{
    return cl == WC_CL_LOCAL_ONE || cl == WC_CL_LOCAL_QUORUM || cl == WC_CL_LOCAL_SERIAL;
}

/*
 * Ask the replicas of step `step` for their keys: a new range at the end
 * of the window (REQUIRES: q->pumping, so that answers that come at once
 * only mark it).  On failure q->failed is set.
 */
static void wc__ix_ask(wc__ixreq *q, size_t step)
{
    wc_coord *c = q->c;
    const wc_coord_options *o = wc__coord_options(c);
    wc__ixreads *s = *wc__coord_ixreads(c);
    wc_env *env = o->env;
    wc_replication repl;
    wc_ring *ring;
    const uint32_t *hosts;
    size_t n;
    int32_t self;
    uint32_t need, alive = 0;
    uint32_t *pick = NULL;
    wc__ixrange *r;
    int64_t ts, te;
    wc_store_index_query x;
    wc_buf msg;
    wc_status st;

    (void)wc__ix_step_range(q, step, &ts, &te);
    memset(&repl, 0, sizeof(repl));
    if ((st = o->replication(o->ctx, q->table_id, &repl)) != WC_OK ||
        (st = wc__coord_replicas(c, q->table_id, te, &ring, &hosts, &n, &self)) != WC_OK ||
        (st = wc_consistency_block_for(q->cl, &repl, wc_ring_host_count(ring), false, &need)) !=
            WC_OK) {
        wc__ix_fail(q, st, "%s", wc_last_error());
        return;
    }
    if (need == 0 || (pick = calloc(n ? n : 1, sizeof(*pick))) == NULL) {
        wc__ix_fail(q, need ? WC_NO_MEMORY : WC_INVALID_ARGUMENT, "%s",
                    need ? "out of memory" : "no replica to ask");
        return;
    }
    /* this node first when it is a live replica, then live replicas in placement order */
    for (int pass = 0; pass < 2 && alive < need; pass++)
        for (size_t i = 0; i < n && alive < need; i++) {
            const wc_ring_member *m = wc_ring_host(ring, hosts[i]);
            bool is_self = (int32_t)hosts[i] == self;

            if ((pass == 0) != is_self)
                continue;
            if (wc__ix_local_level(q->cl) && strcmp(m->dc, o->self_dc) != 0)
                continue;
            if (!is_self && !o->is_alive(o->ctx, m))
                continue;
            pick[alive++] = hosts[i];
        }
    q->res.required = need;
    if (alive < need) {
        free(pick);
        q->res.alive = alive;
        wc__ix_fail(q, WC_UNAVAILABLE, "consistency %s needs %" PRIu32 " replicas, %" PRIu32
                    " alive", wc_consistency_name(q->res.cl), need, alive);
        return;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL || (r->t = calloc(need, sizeof(*r->t))) == NULL) {
        free(r);
        free(pick);
        wc__ix_fail(q, WC_NO_MEMORY, "out of memory");
        return;
    }
    r->q = q;
    r->id = s->next_id++;
    r->step = step;
    r->nt = need;
    r->outstanding = need;
    r->next = s->ranges;
    s->ranges = r;
    q->win[q->nwin++] = r;
    for (uint32_t i = 0; i < need; i++) {
        r->t[i].addr = wc_ring_host(ring, pick[i])->addr;
        r->t[i].local = (int32_t)pick[i] == self;
        r->t[i].state = WC__IX_PENDING;
        wc_buf_init(&r->t[i].keys);
    }
    free(pick);
    r->timer = env->ops->timer_start(env, q->timeout_ms, wc__ix_timeout, r);
    if (r->timer == 0) {
        wc__ix_fail(q, WC_NO_MEMORY, "out of memory starting a timer");
        return;
    }
    wc__ix_query(q, r, &x);
    wc_buf_init(&msg);
    wc__ix_put_query(&msg, r->id, &x);
    for (uint32_t i = 0; i < need && !q->failed; i++) {
        if (r->t[i].local) {
            wc__ixop *op = calloc(1, sizeof(*op));

            if (op == NULL || o->store.ops->index_keys == NULL) {
                free(op);
                wc__ix_answer(r, i, op ? WC_NOT_FOUND : WC_NO_MEMORY, NULL, 0);
            } else {
                op->c = c;
                op->id = r->id;
                op->t = i;
                o->store.ops->index_keys(o->store.ctx, &x, wc__ix_local_done, op);
            }
        } else if (wc_buf_status(&msg) == WC_OK) {
            (void)env->ops->send(env, &r->t[i].addr, msg.data, msg.len); /* a loss times out */
        }
    }
    wc_buf_free(&msg);
}

/*
 * Drive q: use the answered ranges at the head of the window in step
 * order, keep up to WC__IX_WINDOW ranges asked, and read the rows once the
 * page is full or the ring walked.  Answers that arrive meanwhile (a store
 * that answers at once) only mark their range; the loop looks again.
 */
static void wc__ix_pump(wc__ixreq *q)
{
    if (q->pumping) {
        q->again = true;
        return;
    }
    q->pumping = true;
    do {
        q->again = false;
        while (!q->failed && q->nwin > 0 && q->win[0]->outstanding == 0) {
            wc__ixrange *r = q->win[0];
            bool cut;

            if (!wc__ix_merge(q, r, &cut))
                break;
            if (q->nkeys >= q->limit && (cut || r->step + 1 < q->nsteps)) {
                q->more = true; /* the page is full */
                q->pumping = false;
                wc__ix_clear_window(q);
                wc__ix_read_rows(q);
                return;
            }
            memmove(q->win, q->win + 1, --q->nwin * sizeof(q->win[0]));
            if (cut) {
                /* the same range again, after the cut, ahead of the others */
                size_t keep = q->nwin;
                wc__ixrange *later[WC__IX_WINDOW];

                memcpy(later, q->win, keep * sizeof(later[0]));
                q->nwin = 0;
                wc__ix_ask(q, r->step);
                if (!q->failed) {
                    memcpy(q->win + q->nwin, later, keep * sizeof(later[0]));
                    q->nwin += keep;
                } else {
                    for (size_t i = 0; i < keep; i++)
                        wc__ix_range_free(later[i]);
                }
            } else if (q->after_step == r->step) {
                wc_buf_reset(&q->after);
            }
            wc__ix_range_free(r);
        }
        while (!q->failed && q->nwin < WC__IX_WINDOW && q->next_step < q->nsteps) {
            int64_t s, e;
            size_t step = q->next_step++;

            if (wc__ix_step_range(q, step, &s, &e))
                wc__ix_ask(q, step);
        }
        if (!q->failed && q->nwin == 0) {
            q->more = false; /* the ring is walked */
            q->pumping = false;
            wc__ix_read_rows(q);
            return;
        }
    } while (q->again && !q->failed);
    q->pumping = false;
    if (q->failed)
        wc__ix_end(q, NULL, 0);
}

void wc_coord_index_read(wc_coord *c, const wc_coord_index_query *iq, wc_consistency cl,
                         uint32_t timeout_ms, wc_coord_index_cb done, void *arg)
{
    wc__ixreads *s = wc__ix_state(c);
    wc_coord_result res = {.status = WC_NO_MEMORY, .cl = cl, .detail = "out of memory"};
    wc_ring *ring = NULL;
    wc__ixreq *q;
    size_t ntok, nlen = iq->index ? strlen(iq->index) : 0;

    wc__coord_stats(c)->reads++;
    if (cl == WC_CL_ANY || cl == WC_CL_EACH_QUORUM || nlen == 0 ||
        nlen > WC_INDEX_QUERY_MAX_NAME || iq->limit == 0 ||
        iq->value_len > WC_INDEX_QUERY_MAX_VALUE ||
        (iq->after && (iq->after_len < 10 || iq->after_len > WC_INDEX_QUERY_MAX_AFTER))) {
        res.status = WC_INVALID_ARGUMENT;
        snprintf(res.detail, sizeof(res.detail), "%s",
                 cl == WC_CL_ANY ? "consistency ANY is for writes only"
                 : cl == WC_CL_EACH_QUORUM
                     ? "consistency EACH_QUORUM cannot read an index (use QUORUM or LOCAL_QUORUM)"
                     : "malformed index read");
        done(arg, &res, NULL, 0, NULL, 0, false);
        return;
    }
    if (s == NULL || (q = calloc(1, sizeof(*q))) == NULL) {
        done(arg, &res, NULL, 0, NULL, 0, false);
        return;
    }
    {
        const uint32_t *hosts;
        size_t n;
        int32_t self;
        wc_status st = wc__coord_replicas(c, iq->table_id, 0, &ring, &hosts, &n, &self);

        if (st != WC_OK) {
            res.status = st;
            snprintf(res.detail, sizeof(res.detail), "%s", wc_last_error());
            free(q);
            done(arg, &res, NULL, 0, NULL, 0, false);
            return;
        }
    }
    q->c = c;
    /* a SERIAL read of an index is a QUORUM read (no Paxos round per row) */
    q->cl = cl == WC_CL_SERIAL ? WC_CL_QUORUM : cl == WC_CL_LOCAL_SERIAL ? WC_CL_LOCAL_QUORUM : cl;
    q->timeout_ms = timeout_ms;
    q->table_id = iq->table_id;
    memcpy(q->index, iq->index, nlen + 1);
    wc_buf_init(&q->value);
    wc_buf_init(&q->after);
    wc_buf_init(&q->keys);
    wc_buf_append(&q->value, iq->value, iq->value_len);
    if (iq->after)
        wc_buf_append(&q->after, iq->after, iq->after_len);
    q->include_static = iq->include_static;
    q->now_sec = iq->now_sec;
    q->limit = iq->limit > WC_INDEX_QUERY_MAX_LIMIT ? WC_INDEX_QUERY_MAX_LIMIT : iq->limit;
    q->ring = ring;
    wc_ring_ref(ring);
    q->res.cl = cl;
    q->done = done;
    q->arg = arg;
    q->next = s->head;
    s->head = q;
    ntok = wc_ring_token_count(ring);
    /* the range that wraps is read as its two halves, so keys come in token order */
    q->nsteps = ntok + (wc_ring_token_at(ring, ntok - 1) != INT64_MAX);
    if (wc_buf_status(&q->value) != WC_OK || wc_buf_status(&q->after) != WC_OK) {
        wc__ix_fail(q, WC_NO_MEMORY, "out of memory");
        return;
    }
    if (q->after.len > 0) {
        /* a later page: from the range that holds the key it continues after */
        int64_t t = wc_token_decode(q->after.data), rs, re;

        while (q->next_step + 1 < q->nsteps &&
               (!wc__ix_step_range(q, q->next_step, &rs, &re) || re < t))
            q->next_step++;
        q->after_step = q->next_step;
    }
    wc__ix_pump(q);
}

/* ---------------------------------------------------------------- replica side */

static void wc__ix_replica_done(void *arg, wc_status st, const uint8_t *keys, size_t len)
{
    wc__ixop *op = arg;
    const wc_coord_options *o = wc__coord_options(op->c);
    wc_buf b;

    wc_buf_init(&b);
    wc_buf_put_u8(&b, WC_INDEX_MSG_KEYS);
    wc_buf_put_varint(&b, op->id);
    if (st == WC_OK && 1 + (size_t)wc_varint_len(op->id) + 1 + (size_t)wc_varint_len(len) + len >
                           WC_ENV_MAX_MESSAGE)
        st = WC_OVERLOADED; /* too many keys for one message: the coordinator fails the read */
    wc_buf_put_u8(&b, (uint8_t)st);
    wc_buf_put_bytes(&b, st == WC_OK ? keys : NULL, st == WC_OK ? len : 0);
    if (wc_buf_status(&b) == WC_OK)
        (void)o->env->ops->send(o->env, &op->from, b.data, b.len);
    if (st == WC_OK)
        wc__coord_stats(op->c)->reads_served++;
    wc_buf_free(&b);
    free(op);
}

static void wc__ix_malformed(wc_coord *c, const wc_addr *from)
{
    wc_coord_stats *stats = wc__coord_stats(c);

    if (stats->malformed++ % 1000 == 0) {
        char who[WC_ADDR_HOST_MAX + 8];

        wc_addr_format(from, who, sizeof(who));
        wc_env_logf(wc__coord_options(c)->env, WC_ENV_LOG_WARNING,
                    "index message from %s dropped (%" PRIu64 " so far): %s", who,
                    stats->malformed, wc_last_error());
    }
}

void wc__index_on_message(wc_coord *c, const wc_addr *from, const uint8_t *msg, size_t len)
{
    const wc_coord_options *o = wc__coord_options(c);
    const uint8_t *p = msg + 1, *end = msg + len, *keys;
    size_t klen;
    uint64_t id = 0;
    uint8_t status;
    wc__ixrange *r;

    if (msg[0] == WC_INDEX_MSG_QUERY) {
        wc_store_index_query x;
        char name[WC_INDEX_QUERY_MAX_NAME + 1];
        wc__ixop *op;

        if (wc__ix_get_query(p, end, &id, &x, name) != WC_OK) {
            wc__ix_malformed(c, from);
            return;
        }
        if ((op = calloc(1, sizeof(*op))) == NULL)
            return; /* the coordinator times out */
        op->c = c;
        op->id = id;
        op->from = *from;
        if (o->store.ops->index_keys == NULL)
            wc__ix_replica_done(op, WC_NOT_FOUND, NULL, 0);
        else
            o->store.ops->index_keys(o->store.ctx, &x, wc__ix_replica_done, op);
        return;
    }
    if (msg[0] != WC_INDEX_MSG_KEYS)
        return; /* reserved types */
    if (!wc_get_varint(&p, end, &id) || !wc_get_u8(&p, end, &status) ||
        status > WC_COORD_MAX_STATUS || !wc_get_bytes(&p, end, &keys, &klen) || p != end) {
        (void)wc_error(WC_CORRUPTION, "malformed INDEX_KEYS message");
        wc__ix_malformed(c, from);
        return;
    }
    if ((r = wc__ix_range_find(c, id)) == NULL)
        return;
    for (uint32_t t = 0; t < r->nt; t++)
        if (!r->t[t].local && r->t[t].state == WC__IX_PENDING &&
            wc_addr_equal(&r->t[t].addr, from)) {
            wc__ix_answer(r, t, (wc_status)status, keys, klen);
            return;
        }
}

void wc__index_stop(wc_coord *c)
{
    wc__ixreads **s = wc__coord_ixreads(c);

    while (*s && (*s)->head) {
        wc__ixreq *q = (*s)->head;

        q->pumping = false;
        wc__ix_fail(q, WC_UNAVAILABLE, "coordinator stopped");
    }
    free(*s);
    *s = NULL;
}
