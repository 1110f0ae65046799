/*
 * batchlog.c - logged batches and their replay (contract in batchlog.h;
 * byte layouts in batchlog_format.h).
 *
 * A logged write (wc__lw) goes through two phases: BATCHLOG (the entry is
 * sent to its holders, a timer bounds the wait for their acks) and
 * MUTATIONS (one wc_coord_write_settled per table: pending counts the
 * writes that have not met their level, after which the caller is
 * answered; unsettled those whose requests have not ended for good, after
 * which the entry is removed if every replica acknowledged).  A
 * replay of an entry this node holds is a wc__lw that starts in the
 * MUTATIONS phase at level ALL and removes the entry when it succeeds.
 */
#include "batchlog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"
#include "counter.h"
#include "fs.h"
#include "mutation.h"

#define WC__MAX_HOLDERS 2
#define WC__MAX_REPLAYS 16 /* replays in flight at once */
/*
 * A counter delta is not idempotent: each holder's replay (and each retry)
 * would add it again, so no logged batch carries one.
 */
#define WC__COUNTER_REFUSED "counter updates cannot be in a logged batch: a replay would add them again"

typedef struct wc__entry wc__entry;
struct wc__entry {
    uint8_t id[WC_BATCHLOG_ID_LEN];
    uint8_t *batch;
    size_t len;
    uint64_t since_ms; /* arrival (or load) on the loop's clock */
    bool replaying;
    bool handing;      /* a handoff of it waits for its acknowledgement */
    wc__entry *next;
};

typedef enum { WC__PHASE_BATCHLOG, WC__PHASE_MUTATIONS } wc__phase;

typedef struct wc__lw wc__lw;
struct wc__lw {
    wc_batchlog *b;
    uint64_t req_id;
    uint8_t id[WC_BATCHLOG_ID_LEN];
    uint8_t *batch;
    size_t len;
    wc_consistency cl;
    uint32_t timeout_ms;
    wc_coord_write_cb done; /* NULL for a replay */
    void *arg;
    wc__entry *entry; /* a replay: the entry replayed */
    wc__phase phase;
    wc_addr holders[WC__MAX_HOLDERS];
    uint32_t nholders, acks;
    bool local_holder; /* this node holds the entry (a cluster of one) */
    uint64_t timer;
    uint32_t pending;   /* table writes that have not met (or missed) their level */
    uint32_t unsettled; /* table writes whose requests have not ended for good */
    uint32_t tables;
    bool failed;
    bool every;    /* every replica of every table write acknowledged */
    bool reported; /* done has run */
    wc_coord_result res; /* the first failure, or the success */
    wc__lw *next;
};

/* One entry handed over to another holder (wc_batchlog_handoff), waiting for its ack. */
typedef struct wc__handoff wc__handoff;
struct wc__handoff {
    wc_batchlog *b;
    uint64_t req_id;
    uint8_t id[WC_BATCHLOG_ID_LEN];
    uint64_t timer;
    wc__handoff *next;
};

struct wc_batchlog {
    wc_batchlog_options o;
    wc_ring *ring;
    wc__entry *entries;
    wc__lw *lws;
    wc__handoff *handoffs;
    bool handing_off;  /* entries go to via instead of being replayed */
    wc_addr via;
    uint32_t replays;
    uint64_t next_req;
    uint64_t tick_timer;
    wc_batchlog_stats stats;
    wc_env_log_limit malformed_log;
};

/* ---------------------------------------------------------------- helpers */

static void wc__hex(const uint8_t *id, char out[2 * WC_BATCHLOG_ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < WC_BATCHLOG_ID_LEN; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * WC_BATCHLOG_ID_LEN] = '\0';
}

/* Whether batch is a well-formed batch record whose mutations all parse. */
static bool wc__batch_ok(const uint8_t *batch, size_t len)
{
    wc_batch_view v;
    wc_mutation_view mv;
    const uint8_t *mut;
    size_t ml;
    int r;

    if (wc_batch_parse(batch, len, &v) != WC_OK)
        return false;
    while ((r = wc_batch_next(&v, &mut, &ml)) == 1)
        if (wc_mutation_parse(mut, ml, &mv) != WC_OK)
            return false;
    return r == 0;
}

static wc__entry *wc__find_entry(wc_batchlog *b, const uint8_t *id)
{
    for (wc__entry *e = b->entries; e; e = e->next)
        if (memcmp(e->id, id, WC_BATCHLOG_ID_LEN) == 0)
            return e;
    return NULL;
}

/* Keep a copy of the entry in memory (it is already in the storage). */
static wc_status wc__hold(wc_batchlog *b, const uint8_t *id, const uint8_t *batch, size_t len)
{
    wc__entry *e;

    if (wc__find_entry(b, id) != NULL)
        return WC_OK;
    e = wc_calloc(1, sizeof(*e));
    if (e == NULL || (e->batch = wc_malloc(len ? len : 1)) == NULL) {
        wc_free(e);
        return wc_error(WC_NO_MEMORY, "out of memory holding a batchlog entry");
    }
    memcpy(e->id, id, WC_BATCHLOG_ID_LEN);
    memcpy(e->batch, batch, len);
    e->len = len;
    e->since_ms = wc_env_now_ms(b->o.env);
    e->next = b->entries;
    b->entries = e;
    b->stats.held++;
    return WC_OK;
}

/* Forget the entry id (memory and storage); an entry being replayed is dropped when it ends. */
static void wc__forget(wc_batchlog *b, const uint8_t *id)
{
    wc__entry **pp = &b->entries;

    b->o.storage.remove(b->o.storage.ctx, id);
    while (*pp && memcmp((*pp)->id, id, WC_BATCHLOG_ID_LEN) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL)
        return;
    if ((*pp)->replaying) {
        (*pp)->since_ms = UINT64_MAX; /* wc__lw_end removes it */
        return;
    }
    b->stats.removed++;
    {
        wc__entry *e = *pp;
        *pp = e->next;
        wc_free(e->batch);
        wc_free(e);
        b->stats.held--;
    }
}

static void wc__send_remove(wc_batchlog *b, const wc_addr *to, const uint8_t *id)
{
    uint8_t m[WC_BATCHLOG_REMOVE_LEN];

    m[0] = WC_MSG_BATCHLOG_REMOVE;
    memcpy(m + 1, id, WC_BATCHLOG_ID_LEN);
    (void)b->o.env->ops->send(b->o.env, to, m, sizeof(m));
}

/* Tell every holder of lw's entry to drop it (the local one directly). */
static void wc__remove_everywhere(wc__lw *lw)
{
    for (uint32_t i = 0; i < lw->nholders; i++)
        wc__send_remove(lw->b, &lw->holders[i], lw->id);
    if (lw->local_holder)
        wc__forget(lw->b, lw->id);
}

static void wc__lw_unlink(wc__lw *lw)
{
    wc__lw **pp = &lw->b->lws;

    while (*pp && *pp != lw)
        pp = &(*pp)->next;
    if (*pp)
        *pp = lw->next;
}

/* The end of a logged write or a replay: report, clean up, free lw. */
static void wc__lw_end(wc__lw *lw, const wc_coord_result *res)
{
    wc_batchlog *b = lw->b;

    if (lw->timer)
        b->o.env->ops->timer_cancel(b->o.env, lw->timer);
    wc__lw_unlink(lw);
    if (lw->entry != NULL) {
        wc__entry *e = lw->entry;
        char hex[2 * WC_BATCHLOG_ID_LEN + 1];

        b->replays--;
        e->replaying = false;
        if (res->status == WC_OK) {
            b->stats.replayed++;
            wc__hex(e->id, hex);
            wc_env_logf(b->o.env, WC_ENV_LOG_INFO,
                        "batchlog: replayed batch %s (%u table(s)) whose coordinator never "
                        "confirmed it; every mutation is on its replicas",
                        hex, lw->tables);
            wc__forget(b, e->id);
        } else if (e->since_ms == UINT64_MAX) {
            wc__forget(b, e->id); /* removed while it was replayed */
        } else if (res->status == WC_NOT_FOUND || res->status == WC_INVALID_ARGUMENT) {
            /* a dropped table, or a batch the coordinator refuses: never replayable */
            wc__hex(e->id, hex);
            wc_env_logf(b->o.env, WC_ENV_LOG_WARNING,
                        "batchlog: batch %s cannot be replayed (%s); dropped", hex, res->detail);
            wc__forget(b, e->id);
        } else {
            wc__hex(e->id, hex);
            wc_env_logf(b->o.env, WC_ENV_LOG_DEBUG,
                        "batchlog: replay of batch %s failed (%s); tried again later", hex,
                        res->detail);
        }
    } else {
        /* an entry whose batch some replica may lack stays: its replay completes it */
        if (res->status == WC_OK && lw->every)
            wc__remove_everywhere(lw);
        if (!lw->reported)
            lw->done(lw->arg, res);
    }
    wc_free(lw->batch);
    wc_free(lw);
}

static void wc__fail(wc__lw *lw, wc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wc__fail(wc__lw *lw, wc_status st, const char *fmt, ...)
{
    wc_coord_result r;
    va_list ap;

    memset(&r, 0, sizeof(r));
    r.status = st;
    r.cl = lw->cl;
    va_start(ap, fmt);
    vsnprintf(r.detail, sizeof(r.detail), fmt, ap);
    va_end(ap);
    wc__lw_end(lw, &r);
}

/* ---------------------------------------------------------------- mutations phase */

static void wc__table_done(void *arg, const wc_coord_result *res)
{
    wc__lw *lw = arg;

    if (res->status != WC_OK && !lw->failed) {
        lw->failed = true;
        lw->res = *res;
        if (lw->entry == NULL) {
            size_t n = strlen(lw->res.detail);
            snprintf(lw->res.detail + n, sizeof(lw->res.detail) - n,
                     "; the batch is in the batchlog and will still be applied in full");
        }
    } else if (res->status == WC_OK && !lw->failed) {
        lw->res.acked += res->acked;
        lw->res.hints += res->hints;
    }
    if (--lw->pending == 0 && lw->entry == NULL) {
        lw->reported = true;
        lw->done(lw->arg, &lw->res);
    }
}

static void wc__table_settled(void *arg, bool every_replica)
{
    wc__lw *lw = arg;

    lw->every = lw->every && every_replica;
    if (--lw->unsettled == 0)
        wc__lw_end(lw, &lw->res);
}

/* The distinct table ids of a well-formed batch, in order (caller frees); NULL when out of memory. */
static uint32_t *wc__table_ids(const uint8_t *batch, size_t len, uint32_t *n)
{
    wc_batch_view v;
    const uint8_t *mut;
    size_t ml;
    uint32_t *ids;

    *n = 0;
    if (wc_batch_parse(batch, len, &v) != WC_OK ||
        (ids = wc_malloc((v.count ? v.count : 1) * sizeof(*ids))) == NULL)
        return NULL;
    while (wc_batch_next(&v, &mut, &ml) == 1) {
        uint32_t id = wc_dec_u32(mut), k; /* validated: ml >= 4 */
        for (k = 0; k < *n && ids[k] != id; k++)
            ;
        if (k == *n)
            ids[(*n)++] = id;
    }
    return ids;
}

/* The mutations of table id in a well-formed batch, as a batch of their own, into sub (reset). */
static wc_status wc__table_batch(const uint8_t *batch, size_t len, uint32_t id, wc_buf *sub)
{
    wc_batch_view v;
    const uint8_t *mut;
    size_t ml;
    uint32_t count = 0;

    wc_batch_parse(batch, len, &v);
    while (wc_batch_next(&v, &mut, &ml) == 1)
        count += wc_dec_u32(mut) == id;
    wc_buf_reset(sub);
    wc_batch_begin(sub, count);
    wc_batch_parse(batch, len, &v);
    while (wc_batch_next(&v, &mut, &ml) == 1)
        if (wc_dec_u32(mut) == id)
            wc_batch_add(sub, mut, ml);
    return wc_buf_status(sub);
}

/*
 * Before anything is written: every table's mutations must find enough
 * live replicas (Cassandra checks them before the batchlog write too), so
 * an unavailable logged batch writes nothing anywhere.
 */
static bool wc__check_tables(wc__lw *lw)
{
    uint32_t nids = 0;
    uint32_t *ids = wc__table_ids(lw->batch, lw->len, &nids);
    wc_coord_result res;
    wc_buf sub;
    bool ok = true;

    if (ids == NULL) {
        wc__fail(lw, WC_NO_MEMORY, "out of memory splitting a logged batch");
        return false;
    }
    wc_buf_init(&sub);
    for (uint32_t k = 0; k < nids && ok; k++) {
        if (wc__table_batch(lw->batch, lw->len, ids[k], &sub) != WC_OK) {
            wc__fail(lw, WC_NO_MEMORY, "out of memory splitting a logged batch");
            ok = false;
        } else if (wc_coord_write_check(lw->b->o.coord, ids[k], sub.data, sub.len, lw->cl, &res) !=
                   WC_OK) {
            wc_clear_error();
            wc__lw_end(lw, &res);
            ok = false;
        }
    }
    wc_buf_free(&sub);
    wc_free(ids);
    return ok;
}

/* Send every table's mutations of lw's batch through the coordinator. */
static void wc__send_mutations(wc__lw *lw)
{
    uint32_t *ids = NULL;
    uint32_t nids = 0;
    wc_buf sub;

    lw->phase = WC__PHASE_MUTATIONS;
    if (lw->timer) {
        lw->b->o.env->ops->timer_cancel(lw->b->o.env, lw->timer);
        lw->timer = 0;
    }
    memset(&lw->res, 0, sizeof(lw->res));
    lw->res.cl = lw->cl;
    if ((ids = wc__table_ids(lw->batch, lw->len, &nids)) == NULL) {
        wc_clear_error();
        wc__fail(lw, WC_NO_MEMORY, "out of memory splitting a logged batch");
        return;
    }
    lw->tables = nids;
    lw->pending = lw->unsettled = nids + 1; /* held until every write is started */
    lw->every = true;
    wc_buf_init(&sub);
    for (uint32_t k = 0; k < nids; k++) {
        if (wc__table_batch(lw->batch, lw->len, ids[k], &sub) != WC_OK) {
            wc_coord_result r = {.status = WC_NO_MEMORY, .cl = lw->cl,
                                 .detail = "out of memory splitting a logged batch"};
            wc__table_done(lw, &r);
            wc__table_settled(lw, false);
            continue;
        }
        wc_coord_write_settled(lw->b->o.coord, ids[k], sub.data, sub.len, lw->cl, lw->timeout_ms,
                               wc__table_done, wc__table_settled, lw);
    }
    wc_buf_free(&sub);
    wc_free(ids);
    {
        wc_coord_result r = {.status = WC_OK};
        wc__table_done(lw, &r);
    }
    wc__table_settled(lw, true);
}

/* ---------------------------------------------------------------- batchlog phase */

static void wc__batchlog_timeout(void *arg)
{
    wc__lw *lw = arg;
    uint32_t need = lw->nholders, got = lw->acks;

    lw->timer = 0;
    wc__remove_everywhere(lw);
    wc__fail(lw, WC_TIMEOUT,
             "batchlog write: %u of %u batchlog replicas acknowledged within %u ms; nothing "
             "was sent to the data replicas, but a batchlog replica that stored the batch may "
             "still apply it in full",
             got, need, lw->timeout_ms);
}

/* Shuffle m[0..n) with the environment's randomness. */
static void wc__shuffle(wc_batchlog *b, const wc_ring_member **m, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(wc_env_random(b->o.env) % i);
        const wc_ring_member *t = m[i - 1];
        m[i - 1] = m[j];
        m[j] = t;
    }
}

/*
 * Choose lw's holders: up to two live other nodes, of this data centre
 * first.  WC_UNAVAILABLE when other nodes exist and none is alive.
 */
static wc_status wc__choose_holders(wc__lw *lw, uint32_t *others)
{
    wc_batchlog *b = lw->b;
    uint32_t n = wc_ring_host_count(b->ring), nl = 0, nr = 0;
    const wc_ring_member **local = wc_calloc(n ? n : 1, sizeof(*local));
    const wc_ring_member **remote = wc_calloc(n ? n : 1, sizeof(*remote));

    *others = 0;
    if (local == NULL || remote == NULL) {
        wc_free(local);
        wc_free(remote);
        return wc_error(WC_NO_MEMORY, "out of memory choosing batchlog replicas");
    }
    for (uint32_t i = 0; i < n; i++) {
        const wc_ring_member *m = wc_ring_host(b->ring, i);

        if (memcmp(m->host_id, b->o.self_id, WC_RING_HOST_ID_LEN) == 0)
            continue;
        (*others)++;
        if (!b->o.is_alive(b->o.ctx, m))
            continue;
        if (strcmp(m->dc, b->o.self_dc) == 0)
            local[nl++] = m;
        else
            remote[nr++] = m;
    }
    wc__shuffle(b, local, nl);
    wc__shuffle(b, remote, nr);
    for (uint32_t i = 0; i < nl && lw->nholders < WC__MAX_HOLDERS; i++)
        lw->holders[lw->nholders++] = local[i]->addr;
    for (uint32_t i = 0; i < nr && lw->nholders < WC__MAX_HOLDERS; i++)
        lw->holders[lw->nholders++] = remote[i]->addr;
    wc_free(local);
    wc_free(remote);
    if (*others == 0)
        lw->local_holder = true; /* a cluster of this node alone */
    else if (lw->nholders == 0)
        return wc_error(WC_UNAVAILABLE, "no other node is alive to hold the batchlog");
    return WC_OK;
}

void wc_batchlog_write(wc_batchlog *b, const uint8_t *batch, size_t len, wc_consistency cl,
                       uint32_t timeout_ms, wc_coord_write_cb done, void *arg)
{
    wc__lw *lw = wc_calloc(1, sizeof(*lw));
    uint32_t others = 0;
    wc_buf msg;
    wc_status st;

    if (lw == NULL || (lw->batch = wc_malloc(len ? len : 1)) == NULL) {
        wc_coord_result res = {.status = WC_NO_MEMORY, .cl = cl,
                               .detail = "out of memory starting a logged batch"};
        wc_free(lw);
        done(arg, &res);
        return;
    }
    memcpy(lw->batch, batch, len);
    lw->len = len;
    lw->b = b;
    lw->cl = cl;
    lw->timeout_ms = timeout_ms;
    lw->done = done;
    lw->arg = arg;
    lw->req_id = ++b->next_req;
    for (int i = 0; i < WC_BATCHLOG_ID_LEN; i += 8) {
        uint64_t x = wc_env_random(b->o.env);
        memcpy(lw->id + i, &x, 8);
    }
    lw->next = b->lws;
    b->lws = lw;
    b->stats.logged_writes++;

    if (!wc__batch_ok(batch, len)) {
        wc_clear_error();
        wc__fail(lw, WC_INVALID_ARGUMENT, "malformed mutation batch");
        return;
    }
    if (wc_counter_batch_has_delta(batch, len)) {
        wc__fail(lw, WC_INVALID_ARGUMENT, "%s", WC__COUNTER_REFUSED);
        return;
    }
    if (b->ring == NULL) {
        wc__fail(lw, WC_UNAVAILABLE, "no ring yet: the batchlog has no replicas");
        return;
    }
    if (!wc__check_tables(lw))
        return;
    if ((st = wc__choose_holders(lw, &others)) != WC_OK) {
        wc__fail(lw, st, "logged batch: none of the %u other node(s) is alive to hold the "
                         "batchlog; nothing was written", others);
        wc_clear_error();
        return;
    }
    if (lw->local_holder) {
        if ((st = b->o.storage.put(b->o.storage.ctx, lw->id, batch, len)) != WC_OK ||
            (st = wc__hold(b, lw->id, batch, len)) != WC_OK) {
            wc__fail(lw, st, "could not store the batchlog entry: %s", wc_last_error());
            return;
        }
        b->stats.stored++;
        wc__send_mutations(lw);
        return;
    }
    wc_buf_init(&msg);
    wc_buf_put_u8(&msg, WC_MSG_BATCHLOG_STORE);
    wc_buf_put_u64(&msg, lw->req_id);
    wc_buf_append(&msg, lw->id, WC_BATCHLOG_ID_LEN);
    wc_buf_put_u32(&msg, (uint32_t)len);
    wc_buf_append(&msg, batch, len);
    if ((st = wc_buf_status(&msg)) != WC_OK || len > WC_ENV_MAX_MESSAGE - WC_BATCHLOG_STORE_HEADER) {
        wc_buf_free(&msg);
        wc__fail(lw, st != WC_OK ? st : WC_INVALID_ARGUMENT,
                 "logged batch of %zu bytes is larger than a message can carry", len);
        return;
    }
    for (uint32_t i = 0; i < lw->nholders; i++)
        (void)b->o.env->ops->send(b->o.env, &lw->holders[i], msg.data, msg.len);
    wc_buf_free(&msg);
    lw->timer = b->o.env->ops->timer_start(b->o.env, timeout_ms, wc__batchlog_timeout, lw);
    if (lw->timer == 0)
        wc__fail(lw, WC_NO_MEMORY, "out of memory for a batchlog timer");
}

/* ---------------------------------------------------------------- messages */

static void wc__on_store(wc_batchlog *b, const wc_addr *from, const uint8_t *msg, size_t len)
{
    uint8_t ack[WC_BATCHLOG_ACK_LEN];
    const uint8_t *id = msg + 9;
    uint32_t blen = wc_dec_u32(msg + 9 + WC_BATCHLOG_ID_LEN);
    const uint8_t *batch = msg + WC_BATCHLOG_STORE_HEADER;
    wc_status st = WC_OK;

    if (blen != len - WC_BATCHLOG_STORE_HEADER) {
        b->stats.malformed++;
        wc_env_log_limited(b->o.env, &b->malformed_log,
                           "batchlog: dropped a malformed BATCHLOG_STORE (length %u in %zu bytes)",
                           blen, len);
        return;
    }
    if (!wc__batch_ok(batch, blen)) {
        wc_clear_error();
        b->stats.malformed++;
        wc_env_log_limited(b->o.env, &b->malformed_log,
                           "batchlog: refused a BATCHLOG_STORE whose batch is malformed");
        st = WC_CORRUPTION;
    } else if (wc_counter_batch_has_delta(batch, blen)) {
        b->stats.malformed++;
        wc_env_log_limited(b->o.env, &b->malformed_log,
                           "batchlog: refused a BATCHLOG_STORE whose batch adds to counters");
        st = WC_INVALID_ARGUMENT;
    } else if (wc__find_entry(b, id) == NULL) {
        st = b->o.storage.put(b->o.storage.ctx, id, batch, blen);
        if (st == WC_OK)
            st = wc__hold(b, id, batch, blen);
        if (st == WC_OK)
            b->stats.stored++;
        else
            wc_env_logf(b->o.env, WC_ENV_LOG_WARNING, "batchlog: could not store an entry: %s",
                        wc_last_error());
    }
    ack[0] = WC_MSG_BATCHLOG_ACK;
    memcpy(ack + 1, msg + 1, 8);
    ack[9] = (uint8_t)st;
    (void)b->o.env->ops->send(b->o.env, from, ack, sizeof(ack));
}

static void wc__handoff_end(wc__handoff *h, bool stored);

static void wc__on_ack(wc_batchlog *b, const wc_addr *from, const uint8_t *msg)
{
    uint64_t req = wc_dec_u64(msg + 1);
    wc__lw *lw;
    char a[80];

    for (wc__handoff *h = b->handoffs; h; h = h->next)
        if (h->req_id == req) {
            wc__handoff_end(h, msg[9] == WC_OK);
            return;
        }
    for (lw = b->lws; lw && lw->req_id != req; lw = lw->next)
        ;
    if (lw == NULL || lw->phase != WC__PHASE_BATCHLOG)
        return; /* late: ended already */
    if (msg[9] != WC_OK) {
        wc_addr_format(from, a, sizeof(a));
        wc__remove_everywhere(lw);
        wc__fail(lw, WC_UNAVAILABLE,
                 "batchlog replica %s could not store the batch (status %u); nothing was sent "
                 "to the data replicas",
                 a, msg[9]);
        return;
    }
    if (++lw->acks == lw->nholders)
        wc__send_mutations(lw);
}

bool wc_batchlog_on_message(wc_batchlog *b, const wc_addr *from, const uint8_t *msg, size_t len)
{
    if (len == 0 || msg[0] < WC_MSG_BATCHLOG_FIRST || msg[0] > WC_MSG_BATCHLOG_LAST)
        return false;
    switch (msg[0]) {
    case WC_MSG_BATCHLOG_STORE:
        if (len >= WC_BATCHLOG_STORE_HEADER) {
            wc__on_store(b, from, msg, len);
            return true;
        }
        break;
    case WC_MSG_BATCHLOG_ACK:
        if (len == WC_BATCHLOG_ACK_LEN) {
            wc__on_ack(b, from, msg);
            return true;
        }
        break;
    default:
        if (len == WC_BATCHLOG_REMOVE_LEN) {
            wc__forget(b, msg + 1);
            return true;
        }
        break;
    }
    b->stats.malformed++;
    wc_env_log_limited(b->o.env, &b->malformed_log,
                       "batchlog: dropped a malformed message of type %u (%zu bytes)", msg[0], len);
    return true;
}

/* ---------------------------------------------------------------- replay */

static void wc__replay(wc_batchlog *b, wc__entry *e)
{
    wc__lw *lw;

    if (wc_counter_batch_has_delta(e->batch, e->len)) {
        char hex[2 * WC_BATCHLOG_ID_LEN + 1];

        wc__hex(e->id, hex);
        wc_env_logf(b->o.env, WC_ENV_LOG_WARNING, "batchlog: batch %s cannot be replayed (%s); dropped",
                    hex, WC__COUNTER_REFUSED);
        wc__forget(b, e->id);
        return;
    }
    lw = wc_calloc(1, sizeof(*lw));
    if (lw == NULL || (lw->batch = wc_malloc(e->len ? e->len : 1)) == NULL) {
        wc_free(lw);
        return; /* tried again at the next tick */
    }
    memcpy(lw->batch, e->batch, e->len);
    lw->len = e->len;
    memcpy(lw->id, e->id, WC_BATCHLOG_ID_LEN);
    lw->b = b;
    lw->cl = WC_CL_ALL;
    lw->timeout_ms = b->o.replay_after_ms / 2 ? b->o.replay_after_ms / 2 : 1;
    lw->entry = e;
    lw->req_id = ++b->next_req;
    lw->next = b->lws;
    b->lws = lw;
    e->replaying = true;
    b->replays++;
    b->stats.replays_started++;
    wc__send_mutations(lw);
}

/* ---------------------------------------------------------------- handoff */

#define WC__HANDOFF_TIMEOUT_MS 5000u

/* The end of an entry's handoff: stored on the new holder (forgotten here) or not (kept). */
static void wc__handoff_end(wc__handoff *h, bool stored)
{
    wc_batchlog *b = h->b;
    wc__handoff **pp = &b->handoffs;
    wc__entry *e = wc__find_entry(b, h->id);

    while (*pp && *pp != h)
        pp = &(*pp)->next;
    if (*pp)
        *pp = h->next;
    if (h->timer)
        b->o.env->ops->timer_cancel(b->o.env, h->timer);
    if (e != NULL) {
        e->handing = false;
        if (stored) {
            b->stats.handed_off++;
            wc__forget(b, h->id);
        }
    }
    wc_free(h);
}

static void wc__handoff_timeout(void *arg)
{
    wc__handoff *h = arg;

    h->timer = 0;
    wc__handoff_end(h, false);
}

/* Send entry e to b->via as a BATCHLOG_STORE and wait for the ack. */
static void wc__hand_over(wc_batchlog *b, wc__entry *e)
{
    wc__handoff *h = wc_calloc(1, sizeof(*h));
    wc_buf msg;

    if (h == NULL)
        return; /* tried again at the next tick */
    h->b = b;
    h->req_id = ++b->next_req;
    memcpy(h->id, e->id, WC_BATCHLOG_ID_LEN);
    wc_buf_init(&msg);
    wc_buf_put_u8(&msg, WC_MSG_BATCHLOG_STORE);
    wc_buf_put_u64(&msg, h->req_id);
    wc_buf_append(&msg, e->id, WC_BATCHLOG_ID_LEN);
    wc_buf_put_u32(&msg, (uint32_t)e->len);
    wc_buf_append(&msg, e->batch, e->len);
    h->timer = b->o.env->ops->timer_start(b->o.env, WC__HANDOFF_TIMEOUT_MS, wc__handoff_timeout, h);
    if (wc_buf_status(&msg) != WC_OK || h->timer == 0) {
        if (h->timer)
            b->o.env->ops->timer_cancel(b->o.env, h->timer);
        wc_buf_free(&msg);
        wc_free(h);
        return;
    }
    (void)b->o.env->ops->send(b->o.env, &b->via, msg.data, msg.len);
    wc_buf_free(&msg);
    e->handing = true;
    h->next = b->handoffs;
    b->handoffs = h;
}

uint64_t wc_batchlog_handoff(wc_batchlog *b, const wc_addr *via)
{
    if (!b->handing_off || !wc_addr_equal(&b->via, via))
        while (b->handoffs) /* asked of another holder: that one's acks no longer count */
            wc__handoff_end(b->handoffs, false);
    b->handing_off = true;
    b->via = *via;
    for (wc__entry *e = b->entries; e; e = e->next)
        if (!e->replaying && !e->handing)
            wc__hand_over(b, e);
    return b->stats.held;
}

static void wc__tick(void *arg)
{
    wc_batchlog *b = arg;
    uint64_t now = wc_env_now_ms(b->o.env);
    wc__entry *e, *next;

    b->tick_timer = 0;
    if (b->handing_off)
        (void)wc_batchlog_handoff(b, &b->via); /* entries that arrived since go too */
    else if (b->ring != NULL)
        for (e = b->entries; e && b->replays < WC__MAX_REPLAYS; e = next) {
            next = e->next; /* a replay that ends at once may free e */
            if (!e->replaying && now >= e->since_ms && now - e->since_ms >= b->o.replay_after_ms)
                wc__replay(b, e);
        }
    b->tick_timer = b->o.env->ops->timer_start(b->o.env, b->o.replay_interval_ms, wc__tick, b);
}

/* ---------------------------------------------------------------- lifetime */

static void wc__load_one(void *arg, const uint8_t *id, const uint8_t *batch, size_t len)
{
    wc_batchlog *b = arg;

    if (wc__hold(b, id, batch, len) != WC_OK)
        wc_clear_error();
}

wc_status wc_batchlog_create(const wc_batchlog_options *o, wc_batchlog **out)
{
    wc_batchlog *b;
    wc_status st;

    *out = NULL;
    if (o->env == NULL || o->coord == NULL || o->is_alive == NULL || o->storage.put == NULL ||
        o->storage.remove == NULL || o->storage.load == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "batchlog: env, coord, is_alive and storage needed");
    b = wc_calloc(1, sizeof(*b));
    if (b == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating the batchlog");
    b->o = *o;
    if (b->o.replay_after_ms == 0)
        b->o.replay_after_ms = WC_BATCHLOG_DEFAULT_REPLAY_AFTER_MS;
    if (b->o.replay_interval_ms == 0)
        b->o.replay_interval_ms = WC_BATCHLOG_DEFAULT_REPLAY_INTERVAL_MS;
    if ((st = o->storage.load(o->storage.ctx, wc__load_one, b)) != WC_OK)
        goto fail;
    if (b->stats.held > 0)
        wc_env_logf(o->env, WC_ENV_LOG_INFO,
                    "batchlog: %" PRIu64 " entr%s found; replayed after %u ms unless removed",
                    b->stats.held, b->stats.held == 1 ? "y" : "ies", b->o.replay_after_ms);
    b->tick_timer = o->env->ops->timer_start(o->env, b->o.replay_interval_ms, wc__tick, b);
    if (b->tick_timer == 0) {
        st = wc_error(WC_NO_MEMORY, "out of memory for the batchlog timer");
        goto fail;
    }
    *out = b;
    return WC_OK;

fail:
    wc_batchlog_destroy(b);
    return st;
}

void wc_batchlog_destroy(wc_batchlog *b)
{
    if (b == NULL)
        return;
    if (b->tick_timer)
        b->o.env->ops->timer_cancel(b->o.env, b->tick_timer);
    while (b->handoffs)
        wc__handoff_end(b->handoffs, false);
    /* writes still in the batchlog phase (the coordinator's ended with it) */
    while (b->lws) {
        wc__lw *lw = b->lws;

        if (lw->phase == WC__PHASE_MUTATIONS) {
            /* REQUIRES broken: the coordinator would call back into freed memory */
            b->lws = lw->next;
            wc_free(lw->batch);
            wc_free(lw);
            continue;
        }
        wc__fail(lw, WC_UNAVAILABLE, "coordinator stopped");
    }
    while (b->entries) {
        wc__entry *e = b->entries;
        b->entries = e->next;
        wc_free(e->batch);
        wc_free(e);
    }
    wc_ring_unref(b->ring);
    wc_free(b);
}

void wc_batchlog_set_ring(wc_batchlog *b, wc_ring *r)
{
    if (r)
        wc_ring_ref(r);
    wc_ring_unref(b->ring);
    b->ring = r;
}

void wc_batchlog_set_replay_after(wc_batchlog *b, uint32_t ms)
{
    b->o.replay_after_ms = ms ? ms : WC_BATCHLOG_DEFAULT_REPLAY_AFTER_MS;
}

void wc_batchlog_get_stats(const wc_batchlog *b, wc_batchlog_stats *out)
{
    *out = b->stats;
}

bool wc_batchlog_needed(const uint8_t *batch, size_t len)
{
    wc_batch_view v;
    wc_mutation_view first, m;
    const uint8_t *mut;
    size_t ml;
    bool any = false;

    if (wc_batch_parse(batch, len, &v) != WC_OK) {
        wc_clear_error();
        return false;
    }
    while (wc_batch_next(&v, &mut, &ml) == 1) {
        if (wc_mutation_parse(mut, ml, any ? &m : &first) != WC_OK) {
            wc_clear_error();
            return false;
        }
        if (!any) {
            any = true;
            continue;
        }
        if (m.table_id != first.table_id || m.pk_len != first.pk_len ||
            memcmp(m.pk, first.pk, m.pk_len) != 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- file storage */

struct wc_batchlog_dir {
    wc_fs *fs;
    char *dir;
    void (*log)(void *arg, const char *line);
    void *log_arg;
};

static void wc__entry_path(const wc_batchlog_dir *d, const uint8_t *id, char *out, size_t cap)
{
    char hex[2 * WC_BATCHLOG_ID_LEN + 1];

    wc__hex(id, hex);
    snprintf(out, cap, "%s/%s%s", d->dir, hex, WC_BATCHLOG_FILE_SUFFIX);
}

static wc_status wc__dir_put(void *ctx, const uint8_t *id, const uint8_t *batch, size_t len)
{
    wc_batchlog_dir *d = ctx;
    char path[4200];
    wc_buf f;
    wc_status st;

    wc_buf_init(&f);
    wc_buf_append(&f, WC_BATCHLOG_FILE_MAGIC, 8);
    wc_buf_put_u32(&f, (uint32_t)len);
    wc_buf_append(&f, batch, len);
    if ((st = wc_buf_status(&f)) == WC_OK) {
        wc_buf_put_u32(&f, wc__batchlog_checksum(f.data, f.len));
        st = wc_buf_status(&f);
    }
    wc__entry_path(d, id, path, sizeof(path));
    if (st == WC_OK)
        st = wc_fs_write_atomic(d->fs, path, f.data, f.len);
    wc_buf_free(&f);
    return st;
}

static void wc__dir_remove(void *ctx, const uint8_t *id)
{
    wc_batchlog_dir *d = ctx;
    char path[4200];

    wc__entry_path(d, id, path, sizeof(path));
    if (d->fs->unlink(d->fs, path) != WC_OK)
        wc_clear_error();
}

static void wc__dir_log(wc_batchlog_dir *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wc__dir_log(wc_batchlog_dir *d, const char *fmt, ...)
{
    char line[600];
    va_list ap;

    if (d->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->log(d->log_arg, line);
}

/* Names of the directory, collected first (the loads rename damaged files). */
typedef struct wc__names {
    char **v;
    size_t n, cap;
    bool oom;
} wc__names;

static int wc__collect(void *arg, const char *name)
{
    wc__names *ns = arg;

    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? 2 * ns->cap : 16;
        char **v = wc_realloc(ns->v, cap * sizeof(*v));
        if (v == NULL) {
            ns->oom = true;
            return 1;
        }
        ns->v = v;
        ns->cap = cap;
    }
    if ((ns->v[ns->n] = wc_malloc(strlen(name) + 1)) == NULL) {
        ns->oom = true;
        return 1;
    }
    strcpy(ns->v[ns->n++], name);
    return 0;
}

/* The id of an entry file's name (32 hex digits and the suffix); false for other names. */
static bool wc__parse_name(const char *name, uint8_t *id)
{
    size_t sl = strlen(WC_BATCHLOG_FILE_SUFFIX);

    if (strlen(name) != 2 * WC_BATCHLOG_ID_LEN + sl ||
        strcmp(name + 2 * WC_BATCHLOG_ID_LEN, WC_BATCHLOG_FILE_SUFFIX) != 0)
        return false;
    for (int i = 0; i < 2 * WC_BATCHLOG_ID_LEN; i++) {
        char c = name[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            id[i / 2] = (uint8_t)(v << 4);
        else
            id[i / 2] |= (uint8_t)v;
    }
    return true;
}

static wc_status wc__dir_load(void *ctx, wc_batchlog_load_cb cb, void *arg)
{
    wc_batchlog_dir *d = ctx;
    wc__names ns = {0};
    wc_status st = d->fs->list(d->fs, d->dir, wc__collect, &ns);

    if (st == WC_OK && ns.oom)
        st = wc_error(WC_NO_MEMORY, "out of memory listing the batchlog");
    for (size_t i = 0; st == WC_OK && i < ns.n; i++) {
        uint8_t id[WC_BATCHLOG_ID_LEN];
        char path[4200], moved[4300];
        uint8_t *data = NULL;
        size_t len = 0;
        uint32_t blen;
        const char *why = NULL;

        snprintf(path, sizeof(path), "%s/%s", d->dir, ns.v[i]);
        if (!wc__parse_name(ns.v[i], id)) {
            size_t nl = strlen(ns.v[i]);
            if (nl > 4 && strcmp(ns.v[i] + nl - 4, ".tmp") == 0)
                (void)d->fs->unlink(d->fs, path); /* a put that never finished */
            continue;
        }
        if (wc_fs_read_all(d->fs, path, WC_ENV_MAX_MESSAGE + 64, &data, &len) != WC_OK)
            why = wc_last_error();
        else if (len < WC_BATCHLOG_FILE_HEADER + 4 || memcmp(data, WC_BATCHLOG_FILE_MAGIC, 8) != 0)
            why = "no batchlog header";
        else if ((blen = wc_dec_u32(data + 8)) != len - WC_BATCHLOG_FILE_HEADER - 4)
            why = "length does not match the file";
        else if (wc__batchlog_checksum(data, len - 4) != wc_dec_u32(data + len - 4))
            why = "checksum mismatch";
        if (why == NULL) {
            cb(arg, id, data + WC_BATCHLOG_FILE_HEADER, len - WC_BATCHLOG_FILE_HEADER - 4);
        } else {
            snprintf(moved, sizeof(moved), "%s.damaged", path);
            (void)d->fs->rename(d->fs, path, moved);
            wc__dir_log(d, "batchlog: entry %s is damaged (%s); moved aside to %s.damaged, "
                           "not replayed",
                        ns.v[i], why, ns.v[i]);
            wc_clear_error();
        }
        wc_free(data);
    }
    for (size_t i = 0; i < ns.n; i++)
        wc_free(ns.v[i]);
    wc_free(ns.v);
    return st;
}

wc_status wc_batchlog_dir_open(const char *dir, void (*log)(void *arg, const char *line),
                               void *log_arg, wc_batchlog_dir **out)
{
    return wc_batchlog_dir_open_fs(NULL, dir, log, log_arg, out);
}

wc_status wc_batchlog_dir_open_fs(wc_fs *fs, const char *dir,
                                  void (*log)(void *arg, const char *line), void *log_arg,
                                  wc_batchlog_dir **out)
{
    wc_batchlog_dir *d = wc_calloc(1, sizeof(*d));
    wc_status st;

    *out = NULL;
    if (d == NULL || (d->dir = wc_malloc(strlen(dir) + 1)) == NULL) {
        wc_free(d);
        return wc_error(WC_NO_MEMORY, "out of memory opening the batchlog");
    }
    strcpy(d->dir, dir);
    d->fs = fs ? fs : wc_fs_posix();
    d->log = log;
    d->log_arg = log_arg;
    if ((st = wc_fs_mkdirs(d->fs, dir)) != WC_OK) {
        wc_batchlog_dir_close(d);
        return st;
    }
    *out = d;
    return WC_OK;
}

void wc_batchlog_dir_close(wc_batchlog_dir *d)
{
    if (d == NULL)
        return;
    wc_free(d->dir);
    wc_free(d);
}

wc_batchlog_storage wc_batchlog_dir_storage(wc_batchlog_dir *d)
{
    wc_batchlog_storage s = {wc__dir_put, wc__dir_remove, wc__dir_load, d};

    return s;
}
