/*
 * paxos.c - lightweight transactions (contract in paxos.h; byte layouts in
 * paxos_format.h).
 *
 * A request (wc__cas) walks the phases PREPARE -> (COMPLETE -> COMMIT_OLD
 * | REPAIR) or READ -> PROPOSE -> COMMIT.  Each phase sends one message to
 * every live participant under a fresh request id (replies of an earlier
 * phase are then ignored), counts the answers per participant (a
 * duplicate answer counts once) and moves on when the quorum rule is met
 * or cannot be.  One timer per request bounds the whole request (its
 * deadline) and another waits out a backoff.  Messages to this node itself
 * go through a zero-delay timer (wc__loop), so that no answer arrives
 * while a phase is still sending.
 *
 * Replica state lives in a hash table keyed by (table id, partition key);
 * every change is appended to the storage before the answer is sent.
 */
#include "paxos.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fs.h"
#include "keys.h"

#define WC__MAX_PARTICIPANTS 32
#define WC__MAX_MINE 16 /* own proposals that may be in progress, per request */
#define WC__BUCKETS_MIN 256
#define WC__REWRITE_MIN_BYTES (1u << 20)

/* ---------------------------------------------------------------- replica state */

typedef struct wc__state wc__state;
struct wc__state {
    uint32_t table_id;
    uint8_t *pk;
    size_t pk_len;
    uint64_t hash;
    wc_paxos_ballot promised, accepted, committed;
    wc_buf accepted_value, commit_value;
    int64_t changed_us;
    wc__state *next;
};

typedef enum {
    WC__PH_PREPARE,
    WC__PH_COMPLETE,    /* proposing an in-progress value again */
    WC__PH_COMMIT_OLD,  /* committing it */
    WC__PH_REPAIR,      /* sending the most recent commit to promisers behind */
    WC__PH_READ,
    WC__PH_PROPOSE,
    WC__PH_COMMIT,
    WC__PH_BACKOFF,
} wc__phase;

typedef struct wc__cas wc__cas;
struct wc__cas {
    wc_paxos *p;
    wc__cas *next, *prev;
    uint64_t req_id; /* of the current phase */
    wc_store_read read;
    uint8_t *pk, *start, *end; /* copies the read points at */
    int64_t token;
    wc_consistency serial_cl;
    wc_paxos_decide_fn decide;
    void *decide_arg;
    wc_paxos_done_fn done;
    void *arg;
    wc_paxos_result res;
    uint64_t deadline_ms;
    uint64_t timer, backoff_timer, phase_timer;
    uint32_t phase_ms;                 /* how long a phase waits for its answers */
    uint64_t round_start_ms, round_ms; /* of the current round; the last round's length */
    uint32_t retries;                  /* rounds retried after a rejection or a timeout */
    wc__phase phase;
    /* participants */
    wc_addr addr[WC__MAX_PARTICIPANTS];
    bool self[WC__MAX_PARTICIPANTS];
    uint32_t n, required;
    bool sent[WC__MAX_PARTICIPANTS], answered[WC__MAX_PARTICIPANTS], ok[WC__MAX_PARTICIPANTS];
    uint32_t nsent, nanswered, nok;
    wc_paxos_ballot ballot, highest_seen;
    /* from the promises */
    wc_paxos_ballot committed[WC__MAX_PARTICIPANTS];
    wc_paxos_ballot in_progress, recent_commit;
    wc_buf in_progress_value, recent_commit_value;
    wc_buf value;   /* what the current phase proposes or commits */
    wc_buf batch;   /* decide()'s batch */
    wc_buf current; /* the read's answer */
    bool read_pending; /* a coordinator read points at this request */
    bool expired;      /* the deadline passed during the read */
    /*
     * Origins of our own proposals that failed to get a quorum or whose
     * commit failed, but may have been accepted by some replica (a later
     * round may still complete them): the chain of a later commit tells.
     */
    wc_paxos_ballot mine[WC__MAX_MINE];
    bool mine_empty[WC__MAX_MINE]; /* an empty value: a seal, no write */
    uint32_t nmine;
    bool completing_mine; /* the proposal in progress being completed is ours */
    bool dead;         /* the paxos was destroyed while the read was pending */
};

/* A message to this node itself, delivered by a zero-delay timer. */
typedef struct wc__loop wc__loop;
struct wc__loop {
    wc_paxos *p;
    uint64_t timer;
    uint8_t *msg;
    size_t len;
    wc__loop *next, *prev;
};

/* A COMMIT being applied through the store. */
typedef struct wc__apply wc__apply;
struct wc__apply {
    wc_paxos *p; /* NULL once the paxos was destroyed: the completion only frees */
    wc__apply *next, *prev;
    wc_addr from;
    uint64_t req_id;
    uint32_t table_id;
    uint8_t *pk;
    size_t pk_len;
    wc_paxos_ballot ballot;
    uint8_t *value;
    size_t len;
};

struct wc_paxos {
    wc_paxos_options o;
    uint64_t node; /* ballot node of this host */
    wc_ring *ring;
    wc__cas *reqs;
    wc__loop *loops;
    wc__apply *applies; /* commits the store is applying */
    uint64_t next_id;
    int64_t last_ballot_us;
    wc__state **buckets;
    size_t nbuckets, nstates;
    uint64_t log_bytes, live_bytes;
    wc_paxos_stats stats;
    wc_env_log_limit log_limit;
};

/* ---------------------------------------------------------------- helpers */

int wc_paxos_ballot_cmp(const wc_paxos_ballot *a, const wc_paxos_ballot *b)
{
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    return 0;
}

static bool wc__none(const wc_paxos_ballot *b)
{
    return b->ts_us == 0 && b->node == 0;
}

static void wc__put_ballot(wc_buf *b, const wc_paxos_ballot *x)
{
    wc_buf_put_u64(b, (uint64_t)x->ts_us);
    wc_buf_put_u64(b, x->node);
}

static bool wc__get_ballot(const uint8_t **p, const uint8_t *end, wc_paxos_ballot *x)
{
    uint64_t ts;

    if (!wc_get_u64(p, end, &ts) || !wc_get_u64(p, end, &x->node))
        return false;
    x->ts_us = (int64_t)ts;
    return true;
}

static uint64_t wc__hash(uint32_t table_id, const uint8_t *pk, size_t len)
{
    return XXH3_64bits_withSeed(pk, len, table_id);
}

static void wc__send(wc_paxos *p, const wc_addr *to, bool self, const wc_buf *msg);

/* A copy of p[0..n) (n may be 0: a valid pointer all the same); NULL when out of memory. */
static uint8_t *wc__dup(const uint8_t *p, size_t n)
{
    uint8_t *d = wc_malloc(n ? n : 1);

    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* ---------------------------------------------------------------- values and their chain */

/*
 * A proposal's value (paxos_format.h): its chain, the origins (first
 * ballots) of the values committed before it and its own, then the batch.
 * A value without the tag (an earlier format) has no known chain.
 */
typedef struct wc__chain {
    uint32_t n;
    bool truncated; /* older commits exist that the chain no longer lists */
    wc_paxos_ballot origin[WC_PAXOS_CHAIN_MAX];
} wc__chain;

/* Split value v[0..len) into its chain and batch; false for a malformed one. */
static bool wc__value_parse(const uint8_t *v, size_t len, wc__chain *ch, const uint8_t **batch,
                            size_t *blen)
{
    const uint8_t *q = v, *end = v + len;
    uint8_t tag, n, trunc;

    ch->n = 0;
    ch->truncated = true;
    *batch = v;
    *blen = len;
    if (len == 0 || v[0] != WC_PAXOS_VALUE_TAG)
        return true; /* empty, or a bare batch of the earlier format */
    if (!wc_get_u8(&q, end, &tag) || !wc_get_u8(&q, end, &n) || !wc_get_u8(&q, end, &trunc) ||
        n > WC_PAXOS_CHAIN_MAX || trunc > 1)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!wc__get_ballot(&q, end, &ch->origin[i]))
            return false;
    ch->n = n;
    ch->truncated = trunc == 1;
    *batch = q;
    *blen = (size_t)(end - q);
    return true;
}

/* The batch of value v (empty for a malformed value: nothing to apply). */
static size_t wc__value_batch(const uint8_t *v, size_t len, const uint8_t **batch)
{
    wc__chain ch;
    size_t blen;

    if (!wc__value_parse(v, len, &ch, batch, &blen))
        return 0;
    return blen;
}

/* The origin of value v (the last of its chain); false when it has none. */
static bool wc__value_origin(const uint8_t *v, size_t len, wc_paxos_ballot *origin)
{
    wc__chain ch;
    const uint8_t *b;
    size_t blen;

    if (!wc__value_parse(v, len, &ch, &b, &blen) || ch.n == 0)
        return false;
    *origin = ch.origin[ch.n - 1];
    return true;
}

/*
 * Append to out the value of origin whose batch is batch[0..blen), chained
 * after the committed value prev[0..plen) (empty: no commit yet).
 */
static void wc__value_build(wc_buf *out, const uint8_t *prev, size_t plen,
                            const wc_paxos_ballot *origin, const uint8_t *batch, size_t blen)
{
    wc__chain ch;
    const uint8_t *pb;
    size_t pblen;
    uint32_t from = 0;

    if (plen == 0) {
        ch.n = 0;
        ch.truncated = false;
    } else if (!wc__value_parse(prev, plen, &ch, &pb, &pblen)) {
        ch.n = 0;
        ch.truncated = true;
    }
    if (ch.n == WC_PAXOS_CHAIN_MAX) {
        from = 1;
        ch.truncated = true;
    }
    wc_buf_put_u8(out, WC_PAXOS_VALUE_TAG);
    wc_buf_put_u8(out, (uint8_t)(ch.n - from + 1));
    wc_buf_put_u8(out, ch.truncated ? 1 : 0);
    for (uint32_t i = from; i < ch.n; i++)
        wc__put_ballot(out, &ch.origin[i]);
    wc__put_ballot(out, origin);
    wc_buf_append(out, batch, blen);
}

/* ---------------------------------------------------------------- replica: state table */

static wc__state *wc__find_state(const wc_paxos *p, uint32_t table_id, const uint8_t *pk,
                                 size_t len)
{
    uint64_t h = wc__hash(table_id, pk, len);

    for (wc__state *s = p->buckets[h % p->nbuckets]; s; s = s->next)
        if (s->hash == h && s->table_id == table_id && s->pk_len == len &&
            memcmp(s->pk, pk, len) == 0)
            return s;
    return NULL;
}

static void wc__free_state(wc__state *s)
{
    wc_free(s->pk);
    wc_buf_free(&s->accepted_value);
    wc_buf_free(&s->commit_value);
    wc_free(s);
}

static void wc__grow(wc_paxos *p)
{
    size_t nb = p->nbuckets * 2;
    wc__state **v = wc_calloc(nb, sizeof(*v));

    if (v == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < p->nbuckets; i++)
        for (wc__state *s = p->buckets[i], *nx; s; s = nx) {
            nx = s->next;
            s->next = v[s->hash % nb];
            v[s->hash % nb] = s;
        }
    wc_free(p->buckets);
    p->buckets = v;
    p->nbuckets = nb;
}

static wc__state *wc__get_state(wc_paxos *p, uint32_t table_id, const uint8_t *pk, size_t len)
{
    wc__state *s = wc__find_state(p, table_id, pk, len);

    if (s)
        return s;
    if ((s = wc_calloc(1, sizeof(*s))) == NULL || (s->pk = wc__dup(pk, len)) == NULL) {
        wc_free(s);
        return NULL;
    }
    s->table_id = table_id;
    s->pk_len = len;
    s->hash = wc__hash(table_id, pk, len);
    wc_buf_init(&s->accepted_value);
    wc_buf_init(&s->commit_value);
    if (p->nstates >= p->nbuckets)
        wc__grow(p);
    s->next = p->buckets[s->hash % p->nbuckets];
    p->buckets[s->hash % p->nbuckets] = s;
    p->nstates++;
    return s;
}

static void wc__encode_state(wc_buf *b, const wc__state *s)
{
    wc_buf_put_u32(b, s->table_id);
    wc_buf_put_bytes(b, s->pk, s->pk_len);
    wc__put_ballot(b, &s->promised);
    wc__put_ballot(b, &s->accepted);
    wc_buf_put_bytes(b, s->accepted_value.data, s->accepted_value.len);
    wc__put_ballot(b, &s->committed);
    wc_buf_put_bytes(b, s->commit_value.data, s->commit_value.len);
    wc_buf_put_u64(b, (uint64_t)s->changed_us);
}

/* Whether s may be forgotten: nothing in progress, untouched for the retention. */
static bool wc__prunable(const wc_paxos *p, const wc__state *s, int64_t now_us)
{
    if (!wc__none(&s->accepted) && wc_paxos_ballot_cmp(&s->accepted, &s->committed) > 0)
        return false;
    return now_us - s->changed_us > (int64_t)p->o.retention_ms * 1000;
}

/* Rewrite the storage with the live states (pruned) when the log has grown well past them. */
static void wc__maybe_rewrite(wc_paxos *p)
{
    int64_t now = wc_env_wall_us(p->o.env);
    wc_buf all, one;
    wc_status st;

    if (p->log_bytes < WC__REWRITE_MIN_BYTES || p->log_bytes < 4 * p->live_bytes)
        return;
    wc_buf_init(&all);
    wc_buf_init(&one);
    for (size_t i = 0; i < p->nbuckets; i++)
        for (wc__state **pp = &p->buckets[i]; *pp;) {
            wc__state *s = *pp;
            if (wc__prunable(p, s, now)) {
                *pp = s->next;
                wc__free_state(s);
                p->nstates--;
                continue;
            }
            wc_buf_reset(&one);
            wc__encode_state(&one, s);
            wc_buf_put_u32(&all, (uint32_t)one.len);
            wc_buf_append(&all, one.data, one.len);
            pp = &s->next;
        }
    if ((st = wc_buf_status(&all)) == WC_OK)
        st = p->o.storage.rewrite(p->o.storage.ctx, all.data, all.len);
    if (st == WC_OK)
        p->log_bytes = p->live_bytes = all.len;
    else
        wc_env_logf(p->o.env, WC_ENV_LOG_WARNING, "paxos: rewriting the state failed: %s",
                    wc_last_error());
    wc_buf_free(&all);
    wc_buf_free(&one);
}

/*
 * Make s's change durable: WC_OK only once the storage has it.  lazy: a
 * change whose loss in a crash is harmless (a recorded commit: without it
 * the replica shows the proposal accepted, and the next round completes
 * it again with the same value) goes without a sync of its own.
 */
static wc_status wc__save(wc_paxos *p, wc__state *s, bool lazy)
{
    wc_buf rec;
    wc_status st;

    s->changed_us = wc_env_wall_us(p->o.env);
    wc_buf_init(&rec);
    wc__encode_state(&rec, s);
    if ((st = wc_buf_status(&rec)) == WC_OK)
        st = (lazy && p->o.storage.append_lazy ? p->o.storage.append_lazy : p->o.storage.append)(
            p->o.storage.ctx, rec.data, rec.len);
    if (st == WC_OK) {
        p->log_bytes += rec.len + 4;
        p->live_bytes = p->nstates * (rec.len + 4); /* an estimate: states are alike */
    }
    wc_buf_free(&rec);
    if (st == WC_OK)
        wc__maybe_rewrite(p);
    return st;
}

/* Replay the storage's records (the last of a partition wins). */
static wc_status wc__load(wc_paxos *p)
{
    wc_buf all;
    const uint8_t *q, *end;
    wc_status st;

    wc_buf_init(&all);
    if ((st = p->o.storage.load(p->o.storage.ctx, &all)) != WC_OK)
        goto done;
    q = all.data;
    end = all.data + all.len;
    while (q < end) {
        uint32_t rlen, table_id;
        const uint8_t *r, *rend, *pk, *av, *cv;
        size_t pk_len, av_len, cv_len;
        wc_paxos_ballot pr, ac, co;
        uint64_t changed;
        wc__state *s;

        if (!wc_get_u32(&q, end, &rlen) || rlen > (size_t)(end - q)) {
            st = wc_error(WC_CORRUPTION, "paxos state: truncated record");
            goto done;
        }
        r = q;
        rend = q + rlen;
        q = rend;
        if (!wc_get_u32(&r, rend, &table_id) || !wc_get_bytes(&r, rend, &pk, &pk_len) ||
            !wc__get_ballot(&r, rend, &pr) || !wc__get_ballot(&r, rend, &ac) ||
            !wc_get_bytes(&r, rend, &av, &av_len) || !wc__get_ballot(&r, rend, &co) ||
            !wc_get_bytes(&r, rend, &cv, &cv_len) || !wc_get_u64(&r, rend, &changed) ||
            r != rend || pk_len > WC_PAXOS_MAX_PK) {
            st = wc_error(WC_CORRUPTION, "paxos state: malformed record");
            goto done;
        }
        if ((s = wc__get_state(p, table_id, pk, pk_len)) == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory loading the paxos state");
            goto done;
        }
        s->promised = pr;
        s->accepted = ac;
        s->committed = co;
        s->changed_us = (int64_t)changed;
        wc_buf_reset(&s->accepted_value);
        wc_buf_append(&s->accepted_value, av, av_len);
        wc_buf_reset(&s->commit_value);
        wc_buf_append(&s->commit_value, cv, cv_len);
        if ((st = wc_buf_status(&s->accepted_value)) != WC_OK ||
            (st = wc_buf_status(&s->commit_value)) != WC_OK)
            goto done;
        p->log_bytes += rlen + 4;
    }
    p->live_bytes = p->log_bytes;
done:
    wc_buf_free(&all);
    return st;
}

/* ---------------------------------------------------------------- replica: messages */

static void wc__reply_status(wc_paxos *p, const wc_addr *to, uint8_t type, uint64_t req_id,
                             wc_status st)
{
    wc_buf m;

    wc_buf_init(&m);
    wc_buf_put_u8(&m, type);
    wc_buf_put_u64(&m, req_id);
    wc_buf_put_u8(&m, (uint8_t)st);
    if (type != WC_MSG_PAXOS_COMMIT_ACK) {
        /* a failed PROMISE or ACCEPTED: not promised, no ballots */
        wc_paxos_ballot z = {0, 0};
        wc_buf_put_u8(&m, 0);
        wc__put_ballot(&m, &z);
        if (type == WC_MSG_PAXOS_PROMISE) {
            wc__put_ballot(&m, &z);
            wc_buf_put_bytes(&m, NULL, 0);
            wc__put_ballot(&m, &z);
            wc_buf_put_bytes(&m, NULL, 0);
        }
    }
    wc__send(p, to, wc_addr_equal(to, &p->o.env->self), &m);
    wc_buf_free(&m);
}

static void wc__on_prepare(wc_paxos *p, const wc_addr *from, uint64_t req_id, uint32_t table_id,
                           const uint8_t *pk, size_t pk_len, const wc_paxos_ballot *b)
{
    wc__state *s = wc__get_state(p, table_id, pk, pk_len);
    wc_paxos_ballot old;
    bool promise;
    wc_buf m;

    p->stats.prepares++;
    if (s == NULL) {
        wc__reply_status(p, from, WC_MSG_PAXOS_PROMISE, req_id, WC_NO_MEMORY);
        return;
    }
    old = s->promised;
    promise = wc_paxos_ballot_cmp(b, &s->promised) > 0;
    if (promise) {
        s->promised = *b;
        if (wc__save(p, s, false) != WC_OK) {
            s->promised = old;
            wc__reply_status(p, from, WC_MSG_PAXOS_PROMISE, req_id, WC_IO_ERROR);
            return;
        }
    }
    wc_buf_init(&m);
    wc_buf_put_u8(&m, WC_MSG_PAXOS_PROMISE);
    wc_buf_put_u64(&m, req_id);
    wc_buf_put_u8(&m, WC_OK);
    wc_buf_put_u8(&m, promise ? 1 : 0);
    wc__put_ballot(&m, &s->promised);
    wc__put_ballot(&m, &s->accepted);
    wc_buf_put_bytes(&m, s->accepted_value.data, s->accepted_value.len);
    wc__put_ballot(&m, &s->committed);
    wc_buf_put_bytes(&m, s->commit_value.data, s->commit_value.len);
    wc__send(p, from, wc_addr_equal(from, &p->o.env->self), &m);
    wc_buf_free(&m);
}

static void wc__on_propose(wc_paxos *p, const wc_addr *from, uint64_t req_id, uint32_t table_id,
                           const uint8_t *pk, size_t pk_len, const wc_paxos_ballot *b,
                           const uint8_t *v, size_t vlen)
{
    wc__state *s = wc__get_state(p, table_id, pk, pk_len);
    bool accept;
    wc_buf m;

    p->stats.proposes++;
    if (s == NULL) {
        wc__reply_status(p, from, WC_MSG_PAXOS_ACCEPTED, req_id, WC_NO_MEMORY);
        return;
    }
    accept = wc_paxos_ballot_cmp(b, &s->promised) >= 0;
    if (accept) {
        wc_buf old_v;
        wc_paxos_ballot old_p = s->promised, old_a = s->accepted;

        old_v = s->accepted_value;
        wc_buf_init(&s->accepted_value);
        wc_buf_append(&s->accepted_value, v, vlen);
        s->promised = *b;
        s->accepted = *b;
        if (wc_buf_status(&s->accepted_value) != WC_OK || wc__save(p, s, false) != WC_OK) {
            wc_buf_free(&s->accepted_value);
            s->accepted_value = old_v;
            s->promised = old_p;
            s->accepted = old_a;
            wc__reply_status(p, from, WC_MSG_PAXOS_ACCEPTED, req_id, WC_IO_ERROR);
            return;
        }
        wc_buf_free(&old_v);
    }
    wc_buf_init(&m);
    wc_buf_put_u8(&m, WC_MSG_PAXOS_ACCEPTED);
    wc_buf_put_u64(&m, req_id);
    wc_buf_put_u8(&m, WC_OK);
    wc_buf_put_u8(&m, accept ? 1 : 0);
    wc__put_ballot(&m, &s->promised);
    wc__send(p, from, wc_addr_equal(from, &p->o.env->self), &m);
    wc_buf_free(&m);
}

static void wc__free_apply(wc__apply *a)
{
    if (a->p) {
        if (a->prev)
            a->prev->next = a->next;
        else if (a->p->applies == a)
            a->p->applies = a->next;
        if (a->next)
            a->next->prev = a->prev;
    }
    wc_free(a->pk);
    wc_free(a->value);
    wc_free(a);
}

/* The commit's value is applied: record the commit (when newest), then acknowledge. */
static void wc__commit_applied(void *arg, wc_status st)
{
    wc__apply *a = arg;
    wc_paxos *p = a->p;
    wc__state *s;

    if (p == NULL) {
        wc__free_apply(a); /* the paxos is gone: nobody to answer */
        return;
    }
    if (st == WC_OK && (s = wc__get_state(p, a->table_id, a->pk, a->pk_len)) == NULL)
        st = WC_NO_MEMORY;
    if (st == WC_OK && wc_paxos_ballot_cmp(&a->ballot, &s->committed) > 0) {
        wc_paxos_ballot old_c = s->committed, old_a = s->accepted;
        wc_buf old_cv = s->commit_value, old_av = s->accepted_value;
        bool clear = wc_paxos_ballot_cmp(&s->accepted, &a->ballot) <= 0;

        wc_buf_init(&s->commit_value);
        wc_buf_append(&s->commit_value, a->value, a->len);
        s->committed = a->ballot;
        if (clear) {
            wc_buf_init(&s->accepted_value);
            s->accepted = (wc_paxos_ballot){0, 0};
        }
        if ((st = wc_buf_status(&s->commit_value)) == WC_OK)
            st = wc__save(p, s, true);
        if (st != WC_OK) {
            wc_buf_free(&s->commit_value);
            s->commit_value = old_cv;
            s->committed = old_c;
            if (clear) {
                wc_buf_free(&s->accepted_value);
                s->accepted_value = old_av;
                s->accepted = old_a;
            }
        } else {
            wc_buf_free(&old_cv);
            if (clear)
                wc_buf_free(&old_av);
        }
    }
    wc__reply_status(p, &a->from, WC_MSG_PAXOS_COMMIT_ACK, a->req_id, st);
    wc__free_apply(a);
}

static void wc__on_commit(wc_paxos *p, const wc_addr *from, uint64_t req_id, uint32_t table_id,
                          const uint8_t *pk, size_t pk_len, const wc_paxos_ballot *b,
                          const uint8_t *v, size_t vlen)
{
    wc__state *s = wc__find_state(p, table_id, pk, pk_len);
    wc__apply *a;
    const uint8_t *batch;
    size_t blen = wc__value_batch(v, vlen, &batch);

    p->stats.commits++;
    if (s && wc_paxos_ballot_cmp(b, &s->committed) <= 0) {
        /* recorded already: its value was applied before it was recorded */
        wc__reply_status(p, from, WC_MSG_PAXOS_COMMIT_ACK, req_id, WC_OK);
        return;
    }
    if ((a = wc_calloc(1, sizeof(*a))) == NULL || (a->pk = wc__dup(pk, pk_len)) == NULL ||
        (a->value = wc__dup(v, vlen)) == NULL) {
        if (a)
            wc__free_apply(a);
        wc__reply_status(p, from, WC_MSG_PAXOS_COMMIT_ACK, req_id, WC_NO_MEMORY);
        return;
    }
    a->p = p;
    a->next = p->applies;
    if (p->applies)
        p->applies->prev = a;
    p->applies = a;
    a->from = *from;
    a->req_id = req_id;
    a->table_id = table_id;
    a->pk_len = pk_len;
    a->ballot = *b;
    a->len = vlen;
    if (blen == 0) {
        wc__commit_applied(a, WC_OK); /* a round that wrote nothing */
        return;
    }
    p->o.store.ops->apply(p->o.store.ctx, batch, blen, wc__commit_applied, a);
}

/* ---------------------------------------------------------------- sending */

static void wc__free_loop(wc__loop *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        l->p->loops = l->next;
    if (l->next)
        l->next->prev = l->prev;
    wc_free(l->msg);
    wc_free(l);
}

static void wc__loop_fire(void *arg)
{
    wc__loop *l = arg;
    wc_paxos *p = l->p;
    uint8_t *msg = l->msg;
    size_t len = l->len;

    l->msg = NULL;
    wc__free_loop(l);
    wc_paxos_on_message(p, &p->o.env->self, msg, len);
    wc_free(msg);
}

static void wc__send(wc_paxos *p, const wc_addr *to, bool self, const wc_buf *msg)
{
    wc_env *env = p->o.env;
    wc__loop *l;

    if (wc_buf_status(msg) != WC_OK)
        return; /* lost, as on the network: the sender times out */
    if (!self) {
        if (env->ops->send(env, to, msg->data, msg->len) != WC_OK)
            wc_clear_error();
        return;
    }
    if ((l = wc_calloc(1, sizeof(*l))) == NULL || (l->msg = wc__dup(msg->data, msg->len)) == NULL) {
        wc_free(l);
        return;
    }
    l->p = p;
    l->len = msg->len;
    l->next = p->loops;
    if (p->loops)
        p->loops->prev = l;
    p->loops = l;
    if ((l->timer = env->ops->timer_start(env, 0, wc__loop_fire, l)) == 0)
        wc__free_loop(l);
}

/* ---------------------------------------------------------------- coordinator */

static void wc__cas_free(wc__cas *q)
{
    wc_env *env = q->p ? q->p->o.env : NULL;

    if (env) {
        if (q->timer)
            env->ops->timer_cancel(env, q->timer);
        if (q->backoff_timer)
            env->ops->timer_cancel(env, q->backoff_timer);
        if (q->phase_timer)
            env->ops->timer_cancel(env, q->phase_timer);
    }
    wc_free(q->pk);
    wc_free(q->start);
    wc_free(q->end);
    wc_buf_free(&q->in_progress_value);
    wc_buf_free(&q->recent_commit_value);
    wc_buf_free(&q->value);
    wc_buf_free(&q->batch);
    wc_buf_free(&q->current);
    wc_free(q);
}

static void wc__unlink(wc__cas *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else if (q->p->reqs == q)
        q->p->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

static void wc__set_detail(wc__cas *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wc__set_detail(wc__cas *q, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(q->res.detail, sizeof(q->res.detail), fmt, ap);
    va_end(ap);
}

/* Whether a proposal of q may be accepted without q knowing whether it was committed. */
static bool wc__in_doubt(const wc__cas *q)
{
    return q->nmine > 0 || q->phase == WC__PH_PROPOSE || q->phase == WC__PH_COMMIT;
}

static void wc__finish(wc__cas *q, wc_status st)
{
    wc_paxos *p = q->p;

    q->res.status = st;
    if (st != WC_OK && wc__in_doubt(q))
        q->res.unknown = true;
    if (st == WC_OK && q->res.applied)
        p->stats.applied++;
    else if (st == WC_OK)
        p->stats.not_applied++;
    else if (st == WC_UNAVAILABLE)
        p->stats.unavailable++;
    else if (st == WC_TIMEOUT)
        p->stats.timeouts++;
    wc__unlink(q);
    if (q->done)
        q->done(q->arg, &q->res, q->current.len ? q->current.data : NULL, q->current.len);
    wc__cas_free(q);
}

static void wc__phase_expired(void *arg);

/*
 * Start phase ph under a fresh request id; a phase that sends messages
 * waits phase_ms at most for their answers (lost messages), the read its
 * own timeout, the backoff its timer.
 */
static void wc__phase_begin(wc__cas *q, wc__phase ph)
{
    wc_env *env = q->p->o.env;
    uint64_t now = wc_env_now_ms(env);

    q->phase = ph;
    q->req_id = ++q->p->next_id;
    q->nsent = q->nanswered = q->nok = 0;
    memset(q->sent, 0, sizeof(q->sent));
    memset(q->answered, 0, sizeof(q->answered));
    memset(q->ok, 0, sizeof(q->ok));
    if (q->phase_timer)
        env->ops->timer_cancel(env, q->phase_timer);
    q->phase_timer = 0;
    /* past the deadline the request's own timer ends it (a failed timer: the same) */
    if (ph != WC__PH_READ && ph != WC__PH_BACKOFF && now + q->phase_ms < q->deadline_ms)
        q->phase_timer = env->ops->timer_start(env, q->phase_ms, wc__phase_expired, q);
}

/* A message of the current phase to participant i. */
static void wc__send_phase(wc__cas *q, uint32_t i, uint8_t type, const wc_buf *value)
{
    wc_buf m;

    wc_buf_init(&m);
    wc_buf_put_u8(&m, type);
    wc_buf_put_u64(&m, q->req_id);
    wc_buf_put_u32(&m, q->read.table_id);
    wc_buf_put_bytes(&m, q->read.pk, q->read.pk_len);
    wc__put_ballot(&m, &q->ballot);
    if (type != WC_MSG_PAXOS_PREPARE)
        wc_buf_put_bytes(&m, value->data, value->len);
    q->sent[i] = true;
    q->nsent++;
    wc__send(q->p, &q->addr[i], q->self[i], &m);
    wc_buf_free(&m);
}

/* Whether b is the origin of one of our own earlier proposals (*empty: one that wrote nothing). */
static bool wc__is_mine(const wc__cas *q, const wc_paxos_ballot *b, bool *empty)
{
    for (uint32_t i = 0; i < q->nmine; i++)
        if (wc_paxos_ballot_cmp(&q->mine[i], b) == 0) {
            if (empty)
                *empty = q->mine_empty[i];
            return true;
        }
    return false;
}

static void wc__round(wc__cas *q);

/*
 * The request ends without a decision: WC_TIMEOUT, its outcome unknown when
 * a proposal of ours may still be committed, else known not applied
 * (contention: the last round was rejected by a newer ballot).
 */
static void wc__give_up(wc__cas *q, bool contention, const char *why)
{
    if (q->nmine > 0) {
        q->res.unknown = true;
        wc__set_detail(q,
                       "lightweight transaction outcome unknown: a proposal of it was accepted "
                       "by too few replicas and a later round may still commit it (%u rounds; "
                       "last: %s)",
                       q->res.attempts, why);
    } else if (contention)
        wc__set_detail(q,
                       "lightweight transaction contention: %u rounds on the partition were "
                       "rejected by newer ballots or timed out (last: %s); it did not apply",
                       q->res.attempts, why);
    else
        wc__set_detail(q,
                       "lightweight transaction timed out after %u rounds (last: %s); it did "
                       "not apply",
                       q->res.attempts, why);
    wc__finish(q, WC_TIMEOUT);
}

/* Remember our proposal of this round, which may be accepted; false when the request ended. */
static bool wc__add_mine(wc__cas *q)
{
    const uint8_t *b;

    if (wc__is_mine(q, &q->ballot, NULL))
        return true;
    if (q->nmine == WC__MAX_MINE) {
        q->res.unknown = true;
        wc__set_detail(q,
                       "lightweight transaction outcome unknown: %u of its proposals were "
                       "accepted by too few replicas",
                       q->nmine + 1);
        wc__finish(q, WC_TIMEOUT);
        return false;
    }
    q->mine_empty[q->nmine] = wc__value_batch(q->value.data, q->value.len, &b) == 0;
    q->mine[q->nmine++] = q->ballot;
    return true;
}

static void wc__backoff_fire(void *arg)
{
    wc__cas *q = arg;

    q->backoff_timer = 0;
    wc__round(q);
}

/*
 * A round that did not decide (rejected by a newer ballot, or answers
 * missing): try again after a random backoff, within the deadline and the
 * attempts.  The backoff grows with the retries, from the length of the
 * round up to WC_PAXOS_MAX_BACKOFF_MS, so that contenders spread out.
 */
static void wc__retry(wc__cas *q, bool contention, const char *why)
{
    wc_paxos *p = q->p;
    wc_env *env = p->o.env;
    uint64_t now = wc_env_now_ms(env), cap, wait;

    p->stats.contended++;
    q->retries++;
    if (now > q->round_start_ms)
        q->round_ms = now - q->round_start_ms;
    cap = (q->round_ms ? q->round_ms : 1) << (q->retries < 6 ? q->retries : 6);
    if (cap > WC_PAXOS_MAX_BACKOFF_MS)
        cap = WC_PAXOS_MAX_BACKOFF_MS;
    wait = 1 + wc_env_random(env) % cap;
    if (q->res.attempts >= p->o.max_attempts || now + wait >= q->deadline_ms) {
        wc__give_up(q, contention, why);
        return;
    }
    wc__phase_begin(q, WC__PH_BACKOFF);
    if ((q->backoff_timer = env->ops->timer_start(env, wait, wc__backoff_fire, q)) == 0) {
        wc__set_detail(q, "out of memory for a backoff timer");
        wc__finish(q, WC_NO_MEMORY);
    }
}

/* A phase's answers did not all come in time (lost messages, a slow or dead replica). */
static void wc__phase_expired(void *arg)
{
    wc__cas *q = arg;

    q->phase_timer = 0;
    switch (q->phase) {
    case WC__PH_PROPOSE:
        if ((q->nok > 0 || q->nanswered < q->nsent) && !wc__add_mine(q))
            return;
        wc__retry(q, false, "propose timed out");
        return;
    case WC__PH_COMMIT:
        /* a quorum accepted: the next round completes it or finds it committed */
        if (wc__add_mine(q))
            wc__retry(q, false, "commit timed out");
        return;
    case WC__PH_PREPARE:
        wc__retry(q, false, "prepare timed out");
        return;
    case WC__PH_COMPLETE:
    case WC__PH_COMMIT_OLD:
        wc__retry(q, false, "completing a proposal in progress timed out");
        return;
    case WC__PH_REPAIR:
        wc__retry(q, false, "commit repair timed out");
        return;
    default:
        return;
    }
}

/* Who takes part (replicas of the partition, LOCAL_SERIAL: of this DC) and how many must answer. */
static wc_status wc__participants(wc__cas *q)
{
    wc_paxos *p = q->p;
    wc_replication repl;
    uint32_t idx[WC__MAX_PARTICIPANTS * 4];
    size_t n = 0;
    uint32_t alive = 0;
    wc_status st;

    if (p->ring == NULL)
        return wc_error(WC_UNAVAILABLE, "no ring yet: the node does not know the cluster's tokens");
    if ((st = p->o.replication(p->o.ctx, q->read.table_id, &repl)) != WC_OK)
        return st;
    if ((st = wc_ring_replicas(p->ring, &repl, q->token, idx, sizeof(idx) / sizeof(idx[0]), &n)) !=
        WC_OK)
        return st;
    q->n = 0;
    for (size_t i = 0; i < n && q->n < WC__MAX_PARTICIPANTS; i++) {
        const wc_ring_member *m = wc_ring_host(p->ring, idx[i]);

        if (q->serial_cl == WC_CL_LOCAL_SERIAL && repl.cls == WC_REPL_NETWORK_TOPOLOGY &&
            strcmp(m->dc, p->o.self_dc) != 0)
            continue;
        if (!p->o.is_alive(p->o.ctx, m))
            continue;
        q->addr[q->n] = m->addr;
        q->self[q->n] = memcmp(m->host_id, p->o.self_id, WC_RING_HOST_ID_LEN) == 0;
        q->n++;
    }
    alive = q->n;
    {
        uint32_t total = 0;
        for (size_t i = 0; i < n; i++) {
            const wc_ring_member *m = wc_ring_host(p->ring, idx[i]);
            if (q->serial_cl == WC_CL_LOCAL_SERIAL && repl.cls == WC_REPL_NETWORK_TOPOLOGY &&
                strcmp(m->dc, p->o.self_dc) != 0)
                continue;
            total++;
        }
        q->required = total / 2 + 1;
    }
    q->res.required = q->required;
    q->res.alive = alive;
    if (alive < q->required)
        return wc_error(WC_UNAVAILABLE, "consistency %s needs %u replicas, %u alive",
                        wc_consistency_name(q->serial_cl), q->required, alive);
    return WC_OK;
}

/* A new round: a fresh ballot, PREPARE to every live participant. */
static void wc__round(wc__cas *q)
{
    wc_paxos *p = q->p;
    int64_t ts = wc_env_wall_us(p->o.env);
    wc_status st;

    if (wc_env_now_ms(p->o.env) >= q->deadline_ms) {
        wc__give_up(q, false, "the deadline passed");
        return;
    }
    if ((st = wc__participants(q)) != WC_OK) {
        if (q->nmine > 0)
            q->res.unknown = true;
        wc__set_detail(q, "%s", wc_last_error());
        wc__finish(q, st);
        return;
    }
    q->res.attempts++;
    p->stats.rounds++;
    q->round_start_ms = wc_env_now_ms(p->o.env);
    if (ts <= p->last_ballot_us)
        ts = p->last_ballot_us + 1;
    if (ts <= q->highest_seen.ts_us)
        ts = q->highest_seen.ts_us + 1;
    p->last_ballot_us = ts;
    q->ballot.ts_us = ts;
    q->ballot.node = p->node;
    q->in_progress = q->recent_commit = (wc_paxos_ballot){0, 0};
    wc_buf_reset(&q->in_progress_value);
    wc_buf_reset(&q->recent_commit_value);
    wc__phase_begin(q, WC__PH_PREPARE);
    for (uint32_t i = 0; i < q->n; i++)
        wc__send_phase(q, i, WC_MSG_PAXOS_PREPARE, NULL);
}

/* Propose (or commit) q->value to every participant in phase ph. */
static void wc__broadcast(wc__cas *q, wc__phase ph)
{
    uint8_t type = ph == WC__PH_COMPLETE || ph == WC__PH_PROPOSE ? WC_MSG_PAXOS_PROPOSE
                                                                 : WC_MSG_PAXOS_COMMIT;

    wc__phase_begin(q, ph);
    for (uint32_t i = 0; i < q->n; i++)
        wc__send_phase(q, i, type, &q->value);
}

static void wc__read_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    wc__cas *q = arg;
    bool apply = false;
    wc_status st;

    q->read_pending = false;
    if (q->dead) {
        wc__cas_free(q);
        return;
    }
    if (q->expired) {
        wc__give_up(q, false, "read timed out");
        return;
    }
    if (res->status == WC_TIMEOUT) {
        wc__retry(q, false, "read timed out"); /* nothing proposed in this round yet */
        return;
    }
    if (res->status != WC_OK) {
        if (q->nmine > 0)
            q->res.unknown = true;
        wc__set_detail(q, "%s", res->detail);
        wc__finish(q, res->status);
        return;
    }
    wc_buf_reset(&q->current);
    wc_buf_append(&q->current, data, len);
    wc_buf_reset(&q->batch);
    if (q->decide == NULL) {
        wc__finish(q, WC_OK); /* a serial read */
        return;
    }
    if ((st = q->decide(q->decide_arg, data, len, q->ballot.ts_us, &apply, &q->batch)) != WC_OK) {
        if (q->nmine > 0)
            q->res.unknown = true;
        wc__set_detail(q, "%s", wc_last_error());
        wc__finish(q, st);
        return;
    }
    if (!apply && q->nmine == 0) {
        wc__finish(q, WC_OK);
        return;
    }
    /*
     * Not applied but an earlier proposal of ours may still be completed
     * later: commit an empty value with this newer ballot, after which it
     * never can (the answer "not applied" then holds).  The value is
     * chained after the most recent commit.
     */
    if (!apply)
        wc_buf_reset(&q->batch);
    wc_buf_reset(&q->value);
    wc__value_build(&q->value, q->recent_commit_value.data, q->recent_commit_value.len, &q->ballot,
                    q->batch.data, q->batch.len);
    if ((st = wc_buf_status(&q->batch)) != WC_OK || (st = wc_buf_status(&q->value)) != WC_OK) {
        if (q->nmine > 0)
            q->res.unknown = true;
        wc__finish(q, st);
        return;
    }
    wc__broadcast(q, WC__PH_PROPOSE);
}

/* Every answer of the promises is in (a quorum promised): complete, repair, or read. */
static void wc__promised(wc__cas *q)
{
    wc_paxos *p = q->p;
    uint64_t now = wc_env_now_ms(p->o.env);
    bool behind = false;

    if (!wc__none(&q->in_progress) &&
        wc_paxos_ballot_cmp(&q->in_progress, &q->recent_commit) > 0) {
        /* a proposal in progress: finish it with this ballot first (ours: that ends us) */
        wc_paxos_ballot origin;

        p->stats.completed_in_progress++;
        q->completing_mine =
            wc__value_origin(q->in_progress_value.data, q->in_progress_value.len, &origin) &&
            wc__is_mine(q, &origin, NULL);
        wc_buf_reset(&q->value);
        wc_buf_append(&q->value, q->in_progress_value.data, q->in_progress_value.len);
        wc__broadcast(q, WC__PH_COMPLETE);
        return;
    }
    for (uint32_t i = 0; i < q->n; i++)
        if (q->ok[i] && wc_paxos_ballot_cmp(&q->committed[i], &q->recent_commit) < 0)
            behind = true;
    if (behind) {
        wc_paxos_ballot mine = q->ballot;
        bool was_ok[WC__MAX_PARTICIPANTS];

        p->stats.repaired_commits++;
        memcpy(was_ok, q->ok, sizeof(was_ok));
        wc_buf_reset(&q->value);
        wc_buf_append(&q->value, q->recent_commit_value.data, q->recent_commit_value.len);
        q->ballot = q->recent_commit; /* the commit keeps its own ballot */
        wc__phase_begin(q, WC__PH_REPAIR);
        for (uint32_t i = 0; i < q->n; i++)
            if (was_ok[i] && wc_paxos_ballot_cmp(&q->committed[i], &q->recent_commit) < 0)
                wc__send_phase(q, i, WC_MSG_PAXOS_COMMIT, &q->value);
        q->ballot = mine;
        return;
    }
    if (q->nmine > 0) {
        /*
         * An earlier proposal of ours may have been committed meanwhile (by
         * us or by a round that completed it): the chain of the most recent
         * commit lists it then.  When the chain reaches back before our
         * oldest proposal and does not list it, nothing of ours is
         * committed and this round goes on (its proposal seals ours off).
         */
        wc__chain ch;
        const uint8_t *b;
        size_t blen;
        bool covered = false, empty = false;

        if (wc__none(&q->recent_commit))
            ch.n = 0, ch.truncated = false; /* nothing committed: nothing of ours either */
        else if (!wc__value_parse(q->recent_commit_value.data, q->recent_commit_value.len, &ch, &b,
                                  &blen))
            ch.n = 0, ch.truncated = true;
        for (uint32_t i = ch.n; i-- > 0;)
            if (wc__is_mine(q, &ch.origin[i], &empty)) {
                q->res.applied = !empty;
                wc__finish(q, WC_OK);
                return;
            }
        covered = !ch.truncated;
        for (uint32_t i = 0; i < ch.n && !covered; i++)
            for (uint32_t j = 0; j < q->nmine && !covered; j++)
                covered = wc_paxos_ballot_cmp(&ch.origin[i], &q->mine[j]) <= 0;
        if (!covered) {
            q->res.unknown = true;
            wc__set_detail(q, "lightweight transaction outcome unknown: its proposal was "
                              "accepted by too few replicas and more transactions committed "
                              "since than the most recent commit lists");
            wc__finish(q, WC_TIMEOUT);
            return;
        }
    }
    wc__phase_begin(q, WC__PH_READ);
    q->read_pending = true;
    {
        uint64_t left = q->deadline_ms > now ? q->deadline_ms - now : 1;

        wc_coord_read(p->o.coord, &q->read,
                      q->serial_cl == WC_CL_LOCAL_SERIAL ? WC_CL_LOCAL_QUORUM : WC_CL_QUORUM,
                      (uint32_t)(left < q->phase_ms ? left : q->phase_ms), wc__read_done, q);
    }
}

/* Whether the current phase can still reach required oks. */
static bool wc__hopeless(const wc__cas *q, uint32_t need)
{
    return q->nok + (q->nsent - q->nanswered) < need;
}

static void wc__on_reply(wc_paxos *p, const wc_addr *from, uint8_t type, uint64_t req_id,
                         wc_status st, bool ok, const wc_paxos_ballot *promised,
                         const wc_paxos_ballot *accepted, const uint8_t *av, size_t av_len,
                         const wc_paxos_ballot *committed, const uint8_t *cv, size_t cv_len)
{
    wc__cas *q;
    uint32_t i;

    for (q = p->reqs; q && q->req_id != req_id; q = q->next)
        ;
    if (q == NULL)
        return; /* an earlier phase's, or an ended request's */
    /* this node answers itself from its own address, which may differ from the ring's */
    for (i = 0; i < q->n && !(q->sent[i] && (q->self[i] ? wc_addr_equal(from, &p->o.env->self)
                                                        : wc_addr_equal(&q->addr[i], from)));
         i++)
        ;
    if (i == q->n || q->answered[i])
        return;
    q->answered[i] = true;
    q->nanswered++;
    if (st != WC_OK)
        ok = false;
    if (promised && wc_paxos_ballot_cmp(promised, &q->highest_seen) > 0)
        q->highest_seen = *promised;
    switch (q->phase) {
    case WC__PH_PREPARE:
        if (type != WC_MSG_PAXOS_PROMISE)
            return;
        if (ok) {
            q->ok[i] = true;
            q->nok++;
            q->committed[i] = *committed;
            if (wc_paxos_ballot_cmp(accepted, &q->in_progress) > 0) {
                q->in_progress = *accepted;
                wc_buf_reset(&q->in_progress_value);
                wc_buf_append(&q->in_progress_value, av, av_len);
            }
            if (wc_paxos_ballot_cmp(committed, &q->recent_commit) > 0) {
                q->recent_commit = *committed;
                wc_buf_reset(&q->recent_commit_value);
                wc_buf_append(&q->recent_commit_value, cv, cv_len);
            }
        }
        if (q->nok >= q->required && q->nanswered >= q->required) {
            wc__promised(q);
            return;
        }
        if (wc__hopeless(q, q->required))
            wc__retry(q, true, "prepare");
        return;
    case WC__PH_COMPLETE:
    case WC__PH_PROPOSE:
        if (type != WC_MSG_PAXOS_ACCEPTED)
            return;
        if (ok) {
            q->ok[i] = true;
            q->nok++;
        }
        if (q->nok >= q->required) {
            wc__broadcast(q, q->phase == WC__PH_PROPOSE ? WC__PH_COMMIT : WC__PH_COMMIT_OLD);
            return;
        }
        if (!wc__hopeless(q, q->required))
            return;
        /*
         * Our value may still have been accepted by a replica (an
         * acceptance whose answer is on its way): a later round may
         * complete it.  Remember its origin so that the next rounds know
         * their proposal in progress or a commit of their chain is ours.
         */
        if (q->phase == WC__PH_PROPOSE && (q->nok > 0 || q->nanswered < q->nsent) &&
            !wc__add_mine(q))
            return;
        wc__retry(q, true, q->phase == WC__PH_PROPOSE ? "propose" : "propose (in progress)");
        return;
    case WC__PH_COMMIT:
    case WC__PH_COMMIT_OLD:
    case WC__PH_REPAIR:
        if (type != WC_MSG_PAXOS_COMMIT_ACK)
            return;
        if (ok) {
            q->ok[i] = true;
            q->nok++;
        }
        if (q->phase == WC__PH_REPAIR) {
            if (q->nanswered < q->nsent)
                return;
            if (q->nok == q->nsent)
                wc__round(q);
            else
                wc__retry(q, false, "commit repair");
            return;
        }
        if (q->nok >= q->required) {
            if (q->phase == WC__PH_COMMIT || q->completing_mine) {
                /* ours committed (an empty batch is a round that sealed a not-applied) */
                const uint8_t *b;

                q->res.applied =
                    wc__value_batch(q->value.data, q->value.len, &b) > 0 && q->decide != NULL;
                wc__finish(q, WC_OK);
            } else
                wc__round(q);
            return;
        }
        if (wc__hopeless(q, q->required)) {
            /* ours was chosen (a quorum accepted it): the next round finds it */
            if (q->phase == WC__PH_COMMIT && !wc__add_mine(q))
                return;
            wc__retry(q, false,
                      q->phase == WC__PH_COMMIT ? "commit" : "commit of a proposal in progress");
        }
        return;
    default:
        return;
    }
}

static void wc__deadline(void *arg)
{
    wc__cas *q = arg;
    static const char *const names[] = {"prepare", "propose (in progress)", "commit (in progress)",
                                        "commit repair", "read", "propose", "commit", "backoff"};

    q->timer = 0;
    if (q->phase == WC__PH_READ) {
        q->expired = true; /* the coordinator's read ends soon: it ends the request */
        return;
    }
    if (q->phase == WC__PH_PROPOSE || q->phase == WC__PH_COMMIT || q->nmine > 0) {
        q->res.unknown = true;
        wc__set_detail(q,
                       "lightweight transaction outcome unknown: timed out in its %s phase: "
                       "%u of %u replicas",
                       names[q->phase], q->nok, q->required);
    } else
        wc__set_detail(q,
                       "lightweight transaction timed out in its %s phase: %u of %u replicas; "
                       "it did not apply",
                       names[q->phase], q->nok, q->required);
    wc__finish(q, WC_TIMEOUT);
}

void wc_paxos_cas(wc_paxos *p, const wc_store_read *r, wc_consistency serial_cl,
                  uint32_t timeout_ms, wc_paxos_decide_fn decide, void *decide_arg,
                  wc_paxos_done_fn done, void *arg)
{
    wc__cas *q = wc_calloc(1, sizeof(*q));
    wc_env *env = p->o.env;

    p->stats.requests++;
    if (q == NULL) {
        wc_paxos_result res;
        memset(&res, 0, sizeof(res));
        res.status = WC_NO_MEMORY;
        snprintf(res.detail, sizeof(res.detail), "out of memory for a lightweight transaction");
        done(arg, &res, NULL, 0);
        return;
    }
    q->p = p;
    q->serial_cl = serial_cl;
    q->decide = decide;
    q->decide_arg = decide_arg;
    q->done = done;
    q->arg = arg;
    q->read = *r;
    wc_buf_init(&q->in_progress_value);
    wc_buf_init(&q->recent_commit_value);
    wc_buf_init(&q->value);
    wc_buf_init(&q->batch);
    wc_buf_init(&q->current);
    q->phase_ms = p->o.phase_ms ? p->o.phase_ms : timeout_ms / 4;
    if (q->phase_ms < WC_PAXOS_MIN_PHASE_MS)
        q->phase_ms = WC_PAXOS_MIN_PHASE_MS;
    q->next = p->reqs;
    if (p->reqs)
        p->reqs->prev = q;
    p->reqs = q;
    if (serial_cl != WC_CL_SERIAL && serial_cl != WC_CL_LOCAL_SERIAL) {
        wc__set_detail(q, "a lightweight transaction runs at SERIAL or LOCAL_SERIAL, not %s",
                       wc_consistency_name(serial_cl));
        wc__finish(q, WC_INVALID_ARGUMENT);
        return;
    }
    if (r->token_range || r->pk_len > WC_PAXOS_MAX_PK) {
        wc__set_detail(q, "a lightweight transaction names one partition");
        wc__finish(q, WC_INVALID_ARGUMENT);
        return;
    }
    q->pk = wc__dup(r->pk, r->pk_len);
    q->start = r->start.len ? wc__dup(r->start.key, r->start.len) : NULL;
    q->end = r->end.len ? wc__dup(r->end.key, r->end.len) : NULL;
    if (q->pk == NULL || (r->start.len && !q->start) || (r->end.len && !q->end)) {
        wc__set_detail(q, "out of memory for a lightweight transaction");
        wc__finish(q, WC_NO_MEMORY);
        return;
    }
    q->read.pk = q->pk;
    q->read.start.key = q->start;
    q->read.end.key = q->end;
    q->token = wc_token(r->pk, r->pk_len);
    q->deadline_ms = wc_env_now_ms(env) + timeout_ms;
    if ((q->timer = env->ops->timer_start(env, timeout_ms, wc__deadline, q)) == 0) {
        wc__set_detail(q, "out of memory for a timer");
        wc__finish(q, WC_NO_MEMORY);
        return;
    }
    wc__round(q);
}

/* ---------------------------------------------------------------- messages */

static void wc__malformed(wc_paxos *p, const wc_addr *from, const char *what)
{
    char a[WC_ADDR_HOST_MAX + 8];

    p->stats.malformed++;
    wc_addr_format(from, a, sizeof(a));
    wc_env_log_limited(p->o.env, &p->log_limit, "paxos: dropped a malformed %s from %s", what, a);
}

bool wc_paxos_on_message(wc_paxos *p, const wc_addr *from, const uint8_t *msg, size_t len)
{
    const uint8_t *q = msg + 1, *end = msg + len;
    uint8_t type;
    uint64_t req_id;

    if (len == 0 || msg[0] < WC_MSG_PAXOS_FIRST || msg[0] > WC_MSG_PAXOS_LAST)
        return false;
    type = msg[0];
    if (!wc_get_u64(&q, end, &req_id)) {
        wc__malformed(p, from, "paxos message");
        return true;
    }
    switch (type) {
    case WC_MSG_PAXOS_PREPARE:
    case WC_MSG_PAXOS_PROPOSE:
    case WC_MSG_PAXOS_COMMIT: {
        uint32_t table_id;
        const uint8_t *pk, *v = NULL;
        size_t pk_len, vlen = 0;
        wc_paxos_ballot b;

        if (!wc_get_u32(&q, end, &table_id) || !wc_get_bytes(&q, end, &pk, &pk_len) ||
            pk_len > WC_PAXOS_MAX_PK || !wc__get_ballot(&q, end, &b) ||
            (type != WC_MSG_PAXOS_PREPARE &&
             (!wc_get_bytes(&q, end, &v, &vlen) || vlen > WC_PAXOS_MAX_VALUE)) ||
            q != end) {
            wc__malformed(p, from, "paxos request");
            return true;
        }
        if (type != WC_MSG_PAXOS_PREPARE) {
            wc__chain ch;
            const uint8_t *batch;
            size_t blen;

            if (!wc__value_parse(v, vlen, &ch, &batch, &blen)) {
                wc__malformed(p, from, "paxos value");
                return true;
            }
        }
        if (type == WC_MSG_PAXOS_PREPARE)
            wc__on_prepare(p, from, req_id, table_id, pk, pk_len, &b);
        else if (type == WC_MSG_PAXOS_PROPOSE)
            wc__on_propose(p, from, req_id, table_id, pk, pk_len, &b, v, vlen);
        else
            wc__on_commit(p, from, req_id, table_id, pk, pk_len, &b, v, vlen);
        return true;
    }
    case WC_MSG_PAXOS_PROMISE:
    case WC_MSG_PAXOS_ACCEPTED:
    case WC_MSG_PAXOS_COMMIT_ACK: {
        uint8_t st, ok = 1;
        wc_paxos_ballot pr = {0, 0}, ac = {0, 0}, co = {0, 0};
        const uint8_t *av = NULL, *cv = NULL;
        size_t av_len = 0, cv_len = 0;
        bool good = wc_get_u8(&q, end, &st) && st <= WC_PAXOS_MAX_STATUS;

        if (good && type != WC_MSG_PAXOS_COMMIT_ACK)
            good = wc_get_u8(&q, end, &ok) && ok <= 1 && wc__get_ballot(&q, end, &pr);
        if (good && type == WC_MSG_PAXOS_PROMISE)
            good = wc__get_ballot(&q, end, &ac) && wc_get_bytes(&q, end, &av, &av_len) &&
                   wc__get_ballot(&q, end, &co) && wc_get_bytes(&q, end, &cv, &cv_len);
        if (!good || q != end) {
            wc__malformed(p, from, "paxos reply");
            return true;
        }
        wc__on_reply(p, from, type, req_id, (wc_status)st, ok == 1,
                     type == WC_MSG_PAXOS_COMMIT_ACK ? NULL : &pr, &ac, av, av_len, &co, cv, cv_len);
        return true;
    }
    default:
        wc__malformed(p, from, "paxos message of an unknown type");
        return true;
    }
}

/* ---------------------------------------------------------------- lifecycle */

wc_status wc_paxos_create(const wc_paxos_options *o, wc_paxos **out)
{
    wc_paxos *p;
    wc_status st;

    *out = NULL;
    if (o->env == NULL || o->coord == NULL || o->store.ops == NULL || o->is_alive == NULL ||
        o->replication == NULL || o->storage.append == NULL || o->storage.rewrite == NULL ||
        o->storage.load == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "paxos: env, coordinator, store, liveness, "
                                             "replication and storage are required");
    if ((p = wc_calloc(1, sizeof(*p))) == NULL ||
        (p->buckets = wc_calloc(WC__BUCKETS_MIN, sizeof(*p->buckets))) == NULL) {
        wc_free(p);
        return wc_error(WC_NO_MEMORY, "out of memory for paxos");
    }
    p->o = *o;
    if (p->o.max_attempts == 0)
        p->o.max_attempts = WC_PAXOS_DEFAULT_MAX_ATTEMPTS;
    if (p->o.retention_ms == 0)
        p->o.retention_ms = WC_PAXOS_DEFAULT_RETENTION_MS;
    p->nbuckets = WC__BUCKETS_MIN;
    for (int i = 0; i < 8; i++)
        p->node = (p->node << 8) | o->self_id[i];
    if ((st = wc__load(p)) != WC_OK) {
        wc_paxos_destroy(p);
        return st;
    }
    *out = p;
    return WC_OK;
}

void wc_paxos_destroy(wc_paxos *p)
{
    if (p == NULL)
        return;
    while (p->reqs) {
        wc__cas *q = p->reqs;

        wc__set_detail(q, "lightweight transaction stopped: the node is stopping");
        if (q->read_pending) {
            /* the coordinator's read still points here: it frees q when it ends */
            wc_paxos_done_fn done = q->done;
            wc_env *env = p->o.env;

            q->res.status = WC_UNAVAILABLE;
            q->res.unknown = wc__in_doubt(q);
            wc__unlink(q);
            if (done)
                done(q->arg, &q->res, NULL, 0);
            if (q->timer)
                env->ops->timer_cancel(env, q->timer);
            if (q->backoff_timer)
                env->ops->timer_cancel(env, q->backoff_timer);
            if (q->phase_timer)
                env->ops->timer_cancel(env, q->phase_timer);
            q->timer = q->backoff_timer = q->phase_timer = 0;
            q->dead = true;
            q->p = NULL;
            continue;
        }
        wc__finish(q, WC_UNAVAILABLE);
    }
    for (wc__apply *a = p->applies; a; a = a->next)
        a->p = NULL; /* the store still completes them */
    p->applies = NULL;
    while (p->loops) {
        p->o.env->ops->timer_cancel(p->o.env, p->loops->timer);
        wc__free_loop(p->loops);
    }
    for (size_t i = 0; i < p->nbuckets; i++)
        for (wc__state *s = p->buckets[i], *nx; s; s = nx) {
            nx = s->next;
            wc__free_state(s);
        }
    wc_free(p->buckets);
    wc_ring_unref(p->ring);
    wc_free(p);
}

void wc_paxos_set_ring(wc_paxos *p, wc_ring *r)
{
    if (r)
        wc_ring_ref(r);
    wc_ring_unref(p->ring);
    p->ring = r;
}

bool wc_paxos_replica_state(const wc_paxos *p, uint32_t table_id, const uint8_t *pk,
                            size_t pk_len, wc_paxos_ballot *promised, wc_paxos_ballot *accepted,
                            wc_paxos_ballot *committed)
{
    const wc__state *s = wc__find_state(p, table_id, pk, pk_len);

    if (s == NULL)
        return false;
    *promised = s->promised;
    *accepted = s->accepted;
    *committed = s->committed;
    return true;
}

size_t wc_paxos_pending(const wc_paxos *p)
{
    size_t n = 0;

    for (const wc__cas *q = p->reqs; q; q = q->next)
        n++;
    return n;
}

void wc_paxos_get_stats(const wc_paxos *p, wc_paxos_stats *out)
{
    *out = p->stats;
    out->states = p->nstates;
}

/* ---------------------------------------------------------------- the state file */

struct wc_paxos_file {
    wc_fs *fs;
    char dir[4096];
    char path[4200];
    wc_file *f;
    uint64_t size;
    void (*log)(void *arg, const char *line);
    void *log_arg;
};

static wc_status wc__file_write(wc_paxos_file *f, const uint8_t *rec, size_t len, bool sync)
{
    wc_buf b;
    wc_status st;

    wc_buf_init(&b);
    wc_buf_put_u32(&b, (uint32_t)len);
    wc_buf_append(&b, rec, len);
    if ((st = wc_buf_status(&b)) == WC_OK) {
        wc_buf_put_u32(&b, wc__paxos_checksum(b.data, b.len));
        st = wc_buf_status(&b);
    }
    if (st == WC_OK && (st = f->fs->pwrite(f->f, b.data, b.len, f->size)) == WC_OK &&
        (!sync || (st = f->fs->sync(f->f)) == WC_OK))
        f->size += b.len;
    wc_buf_free(&b);
    return st;
}

static wc_status wc__file_append(void *ctx, const uint8_t *rec, size_t len)
{
    return wc__file_write(ctx, rec, len, true);
}

/* Written, synced by the next append (a crash before it may cut the record off). */
static wc_status wc__file_append_lazy(void *ctx, const uint8_t *rec, size_t len)
{
    return wc__file_write(ctx, rec, len, false);
}

/* recs: u32 length + payload each; the file: magic, then each framed with its checksum. */
static wc_status wc__file_rewrite(void *ctx, const uint8_t *recs, size_t len)
{
    wc_paxos_file *f = ctx;
    const uint8_t *q = recs, *end = recs + len;
    wc_buf b;
    wc_file *nf = NULL;
    wc_status st;

    wc_buf_init(&b);
    wc_buf_append(&b, WC_PAXOS_FILE_MAGIC, WC_PAXOS_FILE_MAGIC_LEN);
    while (q < end) {
        uint32_t rlen;
        size_t at = b.len;

        if (!wc_get_u32(&q, end, &rlen) || rlen > (size_t)(end - q)) {
            st = wc_error(WC_INVALID_ARGUMENT, "paxos: malformed records to rewrite");
            goto done;
        }
        wc_buf_put_u32(&b, rlen);
        wc_buf_append(&b, q, rlen);
        q += rlen;
        if (wc_buf_status(&b) == WC_OK)
            wc_buf_put_u32(&b, wc__paxos_checksum(b.data + at, b.len - at));
    }
    if ((st = wc_buf_status(&b)) != WC_OK)
        goto done;
    if ((st = wc_fs_write_atomic(f->fs, f->path, b.data, b.len)) != WC_OK)
        goto done;
    if ((st = f->fs->open(f->fs, f->path, WC_O_WRITE, &nf)) != WC_OK)
        goto done;
    f->fs->close(f->f);
    f->f = nf;
    f->size = b.len;
done:
    wc_buf_free(&b);
    return st;
}

static wc_status wc__file_load(void *ctx, wc_buf *out)
{
    wc_paxos_file *f = ctx;
    uint8_t *data = NULL;
    size_t len = 0, at = WC_PAXOS_FILE_MAGIC_LEN;
    wc_status st;

    if ((st = wc_fs_read_all(f->fs, f->path, (size_t)1 << 34, &data, &len)) != WC_OK)
        return st;
    if (len < WC_PAXOS_FILE_MAGIC_LEN || memcmp(data, WC_PAXOS_FILE_MAGIC, WC_PAXOS_FILE_MAGIC_LEN)) {
        wc_free(data);
        return wc_error(WC_CORRUPTION, "%s is not a paxos state file", f->path);
    }
    while (at < len) {
        uint32_t rlen;

        if (len - at < 8 || (rlen = wc_dec_u32(data + at)) > len - at - 8 ||
            wc_dec_u32(data + at + 4 + rlen) != wc__paxos_checksum(data + at, 4 + rlen))
            break;
        wc_buf_append(out, data + at, 4 + rlen);
        at += 8 + (size_t)rlen;
    }
    if (at < len) {
        char line[4400];

        snprintf(line, sizeof(line),
                 "paxos: %s has a damaged or unfinished record at byte %zu of %zu; the rest is "
                 "cut off (only unacknowledged changes are lost)",
                 f->path, at, len);
        if (f->log)
            f->log(f->log_arg, line);
        if ((st = f->fs->truncate(f->f, at)) == WC_OK)
            st = f->fs->sync(f->f);
    }
    f->size = at;
    wc_free(data);
    if (st == WC_OK)
        st = wc_buf_status(out);
    return st;
}

wc_status wc_paxos_file_open(const char *dir, void (*log)(void *arg, const char *line),
                             void *log_arg, wc_paxos_file **out)
{
    return wc_paxos_file_open_fs(NULL, dir, log, log_arg, out);
}

wc_status wc_paxos_file_open_fs(wc_fs *fs, const char *dir,
                                void (*log)(void *arg, const char *line), void *log_arg,
                                wc_paxos_file **out)
{
    wc_paxos_file *f = wc_calloc(1, sizeof(*f));
    bool exists = false;
    wc_status st;

    *out = NULL;
    if (f == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory for the paxos state file");
    f->fs = fs ? fs : wc_fs_posix();
    f->log = log;
    f->log_arg = log_arg;
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    snprintf(f->path, sizeof(f->path), "%s/%s", dir, WC_PAXOS_STATE_FILE);
    if ((st = wc_fs_mkdirs(f->fs, dir)) != WC_OK)
        goto fail;
    if ((st = f->fs->exists(f->fs, f->path, &exists)) != WC_OK)
        goto fail;
    if (!exists &&
        (st = wc_fs_write_atomic(f->fs, f->path, WC_PAXOS_FILE_MAGIC, WC_PAXOS_FILE_MAGIC_LEN)) !=
            WC_OK)
        goto fail;
    if ((st = f->fs->open(f->fs, f->path, WC_O_WRITE, &f->f)) != WC_OK)
        goto fail;
    if ((st = f->fs->size(f->f, &f->size)) != WC_OK)
        goto fail;
    *out = f;
    return WC_OK;
fail:
    wc_paxos_file_close(f);
    return st;
}

void wc_paxos_file_close(wc_paxos_file *f)
{
    if (f == NULL)
        return;
    if (f->f)
        f->fs->close(f->f);
    wc_free(f);
}

wc_paxos_storage wc_paxos_file_storage(wc_paxos_file *f)
{
    wc_paxos_storage s = {wc__file_append, wc__file_rewrite, wc__file_load, f,
                          wc__file_append_lazy};

    return s;
}
