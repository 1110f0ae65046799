/*
 * repair.c - the Merkle-tree exchange of anti-entropy repair (contract in
 * repair.h; message layouts in repair_format.h).
 *
 * A tree job builds this node's tree of one range from the store: one raw
 * read (two for a range that wraps), folded into a wc_merkle, then either
 * sent back to the peer that asked (TREE_RESPONSE) or delivered to the
 * local ask that wanted it.  An ask waits for one tree per replica: the
 * request ids of its peers are base_id + i, so a response (or a local job)
 * finds its ask by id, and a late one for an ask that already ended is
 * dropped.
 */
#include "repair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"
#include "repair_format.h"

typedef struct wc__ask {
    struct wc__ask *next;
    wc_repair *r;
    uint64_t base_id;
    size_t n, missing;
    wc_addr *peers;
    wc_merkle **trees; /* NULL until answered */
    uint64_t timer;
    wc_repair_trees_cb done;
    void *arg;
} wc__ask;

typedef struct wc__job {
    wc_repair *r;
    uint32_t table_id;
    int64_t start, end, now_sec;
    int half;        /* reads done */
    wc_merkle *tree;
    bool remote;     /* answer peer with a TREE_RESPONSE; else deliver to the local ask */
    wc_addr peer;
    uint64_t req_id;
} wc__job;

struct wc_repair {
    wc_env *env;
    wc_replica_store store;
    wc__ask *asks;
    uint64_t next_id;
    wc_env_log_limit bad_msg;
};

/* ---------------------------------------------------------------- asks */

static void wc__ask_free(wc__ask *a)
{
    for (size_t i = 0; i < a->n; i++)
        wc_free(a->trees[i]);
    wc_free(a->trees);
    wc_free(a->peers);
    wc_free(a);
}

/* Unlink a and end it with st. */
static void wc__ask_end(wc__ask *a, wc_status st, const char *detail)
{
    wc__ask **pp = &a->r->asks;

    while (*pp && *pp != a)
        pp = &(*pp)->next;
    if (*pp)
        *pp = a->next;
    if (a->timer)
        a->r->env->ops->timer_cancel(a->r->env, a->timer);
    a->done(a->arg, st, st == WC_OK ? (const wc_merkle *const *)a->trees : NULL,
            st == WC_OK ? a->n : 0, detail);
    wc__ask_free(a);
}

/* Tree of request id (a copy is taken) or a failure of that replica. */
static void wc__deliver(wc_repair *r, uint64_t id, wc_status st, const wc_merkle *tree)
{
    wc__ask *a;
    size_t i;
    char peer[80], detail[256];

    for (a = r->asks; a; a = a->next)
        if (id >= a->base_id && id < a->base_id + a->n)
            break;
    if (a == NULL)
        return; /* ended already */
    i = (size_t)(id - a->base_id);
    if (a->trees[i] != NULL)
        return;
    wc_addr_format(&a->peers[i], peer, sizeof(peer));
    if (st != WC_OK) {
        snprintf(detail, sizeof(detail), "replica %s could not build its Merkle tree: %s", peer,
                 wc_status_name(st));
        wc__ask_end(a, st, detail);
        return;
    }
    if ((a->trees[i] = wc_malloc(sizeof(wc_merkle))) == NULL) {
        wc__ask_end(a, WC_NO_MEMORY, "out of memory receiving a Merkle tree");
        return;
    }
    *a->trees[i] = *tree;
    if (--a->missing == 0)
        wc__ask_end(a, WC_OK, "");
}

static void wc__ask_timeout(void *arg)
{
    wc__ask *a = arg;
    char peer[80] = "", detail[256];

    a->timer = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->trees[i] == NULL) {
            wc_addr_format(&a->peers[i], peer, sizeof(peer));
            break;
        }
    snprintf(detail, sizeof(detail), "replica %s did not send its Merkle tree in time", peer);
    wc__ask_end(a, WC_TIMEOUT, detail);
}

/* ---------------------------------------------------------------- tree jobs */

static void wc__job_read(wc__job *j);

static void wc__job_end(wc__job *j, wc_status st)
{
    wc_repair *r = j->r;

    if (j->remote) {
        wc_buf b;
        wc_buf_init(&b);
        wc_buf_put_u8(&b, WC_REPAIR_MSG_TREE_RESPONSE);
        wc_buf_put_u64(&b, j->req_id);
        wc_buf_put_u8(&b, (uint8_t)st);
        wc_buf_put_u64(&b, st == WC_OK ? j->tree->partitions : 0);
        wc_buf_put_u32(&b, st == WC_OK ? WC_MERKLE_LEAVES : 0);
        for (uint32_t i = 0; st == WC_OK && i < WC_MERKLE_LEAVES; i++)
            wc_buf_put_u64(&b, j->tree->leaf[i]);
        if (wc_buf_status(&b) == WC_OK)
            (void)r->env->ops->send(r->env, &j->peer, b.data, b.len);
        wc_buf_free(&b);
    } else
        wc__deliver(r, j->req_id, st, j->tree);
    wc_free(j->tree);
    wc_free(j);
}

static void wc__job_read_done(void *arg, wc_status st, const uint8_t *raw, size_t len,
                              const uint8_t digest[16])
{
    wc__job *j = arg;

    (void)digest;
    if (st == WC_OK)
        st = wc_merkle_add_raw(j->tree, raw, len);
    j->half++;
    /* a range that wraps: (start, max], then [min, end] */
    if (st == WC_OK && j->half == 1 && j->start > j->end) {
        wc__job_read(j);
        return;
    }
    wc__job_end(j, st);
}

static void wc__job_read(wc__job *j)
{
    wc_store_read rd;

    memset(&rd, 0, sizeof(rd));
    rd.table_id = j->table_id;
    rd.token_range = true;
    rd.start.unbounded = rd.end.unbounded = true;
    rd.include_static = true;
    rd.now_sec = j->now_sec;
    if (j->start == j->end) { /* the whole ring */
        rd.token_start = INT64_MIN;
        rd.token_end = INT64_MAX;
    } else if (j->start < j->end) {
        rd.token_start = j->start;
        rd.token_end = j->end;
    } else if (j->half == 0) {
        rd.token_start = j->start;
        rd.token_end = INT64_MAX;
    } else {
        rd.token_start = INT64_MIN;
        rd.token_end = j->end;
    }
    j->r->store.ops->read(j->r->store.ctx, &rd, wc__job_read_done, j);
}

static void wc__job_start(wc_repair *r, uint32_t table_id, int64_t start, int64_t end,
                          int64_t now_sec, bool remote, const wc_addr *peer, uint64_t req_id)
{
    wc__job *j = wc_calloc(1, sizeof(*j));

    if (j == NULL || (j->tree = wc_malloc(sizeof(wc_merkle))) == NULL) {
        wc_free(j);
        if (!remote)
            wc__deliver(r, req_id, WC_NO_MEMORY, NULL);
        return; /* a remote asker times out */
    }
    j->r = r;
    j->table_id = table_id;
    j->start = start;
    j->end = end;
    j->now_sec = now_sec;
    j->remote = remote;
    if (peer)
        j->peer = *peer;
    j->req_id = req_id;
    wc_merkle_init(j->tree, start, end);
    wc__job_read(j);
}

/* ---------------------------------------------------------------- API */

wc_status wc_repair_create(wc_env *env, wc_replica_store store, wc_repair **out)
{
    wc_repair *r = wc_calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating the repair service");
    r->env = env;
    r->store = store;
    r->next_id = 1;
    *out = r;
    return WC_OK;
}

void wc_repair_destroy(wc_repair *r)
{
    if (r == NULL)
        return;
    while (r->asks)
        wc__ask_end(r->asks, WC_UNAVAILABLE, "repair stopped: the node is shutting down");
    wc_free(r);
}

bool wc_repair_on_message(wc_repair *r, const wc_addr *from, const uint8_t *msg, size_t len)
{
    const uint8_t *p = msg + 1, *end = msg + len;
    uint64_t id;

    if (len == 0 || msg[0] < WC_REPAIR_MSG_FIRST || msg[0] > WC_REPAIR_MSG_LAST)
        return false;
    if (msg[0] == WC_REPAIR_MSG_TREE_REQUEST) {
        uint32_t table_id;
        uint64_t s, e, now;
        if (len != WC_REPAIR_TREE_REQUEST_LEN || !wc_get_u64(&p, end, &id) ||
            !wc_get_u32(&p, end, &table_id) || !wc_get_u64(&p, end, &s) ||
            !wc_get_u64(&p, end, &e) || !wc_get_u64(&p, end, &now))
            goto bad;
        wc__job_start(r, table_id, (int64_t)s, (int64_t)e, (int64_t)now, true, from, id);
        return true;
    }
    if (msg[0] == WC_REPAIR_MSG_TREE_RESPONSE) {
        uint8_t st;
        uint64_t parts;
        uint32_t nleaves;
        static _Thread_local wc_merkle t;
        if (len < WC_REPAIR_TREE_RESPONSE_MIN || !wc_get_u64(&p, end, &id) ||
            !wc_get_u8(&p, end, &st) || !wc_get_u64(&p, end, &parts) ||
            !wc_get_u32(&p, end, &nleaves) || (st == WC_OK && nleaves != WC_MERKLE_LEAVES) ||
            (st != WC_OK && nleaves != 0) || (size_t)(end - p) != (size_t)nleaves * 8 ||
            st > WC_NO_SPACE)
            goto bad;
        memset(&t, 0, sizeof(t));
        t.partitions = parts;
        for (uint32_t i = 0; i < nleaves; i++)
            (void)wc_get_u64(&p, end, &t.leaf[i]);
        wc__deliver(r, id, (wc_status)st, &t);
        return true;
    }
bad: {
    char a[80];
    wc_addr_format(from, a, sizeof(a));
    wc_env_log_limited(r->env, &r->bad_msg, "repair: dropped a malformed message of type %u from %s",
                       msg[0], a);
}
    return true;
}

void wc_repair_trees(wc_repair *r, uint32_t table_id, int64_t start, int64_t end, int64_t now_sec,
                     const wc_addr *peers, const bool *local, size_t n, uint32_t timeout_ms,
                     wc_repair_trees_cb done, void *arg)
{
    wc__ask *a = wc_calloc(1, sizeof(*a));
    uint64_t base = r->next_id;

    if (a == NULL || (a->peers = wc_calloc(n, sizeof(*a->peers))) == NULL ||
        (a->trees = wc_calloc(n, sizeof(*a->trees))) == NULL) {
        if (a) {
            wc_free(a->peers);
            wc_free(a);
        }
        done(arg, WC_NO_MEMORY, NULL, 0, "out of memory asking for Merkle trees");
        return;
    }
    r->next_id += n;
    a->r = r;
    a->base_id = base;
    a->n = a->missing = n;
    memcpy(a->peers, peers, n * sizeof(*peers));
    a->done = done;
    a->arg = arg;
    a->next = r->asks;
    r->asks = a;
    a->timer = r->env->ops->timer_start(r->env, timeout_ms, wc__ask_timeout, a);
    for (size_t i = 0; i < n; i++) {
        if (local[i]) {
            /* may deliver (and end the ask) before returning: nothing of a is used after */
            wc__job_start(r, table_id, start, end, now_sec, false, NULL, base + i);
        } else {
            uint8_t m[WC_REPAIR_TREE_REQUEST_LEN];
            m[0] = WC_REPAIR_MSG_TREE_REQUEST;
            wc_enc_u64(m + 1, base + i);
            wc_enc_u32(m + 9, table_id);
            wc_enc_u64(m + 13, (uint64_t)start);
            wc_enc_u64(m + 21, (uint64_t)end);
            wc_enc_u64(m + 29, (uint64_t)now_sec);
            (void)r->env->ops->send(r->env, &peers[i], m, sizeof(m)); /* loss: the timeout */
        }
    }
}
