/*
 * node.c - the node server: a fixed pool of worker threads that share one
 * epoll set (the listening socket, every idle connection, a wake-up pipe
 * and a queue event), accept connections, serve their requests, and the
 * dispatch of each request into the engine (contract and threading in
 * node.h).
 *
 * Large requests (COPY chunks, big batches) are served by bulk workers of
 * their own (half the CPUs, at wc_node_options.bulk_nice, by default 10,
 * so that point requests and direct reads go first while a load runs,
 * docs/architecture.md): a worker that reads a large frame queues its
 * connection in the bulk lane for them, so bulk work never takes the
 * workers of small requests.
 *
 * Ownership: a connection belongs to exactly one party at a time - the
 * epoll set (armed with EPOLLONESHOT, so its readiness is reported to one
 * worker once), the ready or bulk queue, or the worker serving it.  Only
 * that worker reads, writes, re-arms or closes it.  The worker that finds
 * the handshake deadline sweep due shutdown()s connections that have not
 * finished the handshake in time, which their owner then sees as the end
 * of the stream.  A worker that takes a readable connection from epoll
 * serves it itself: no hand-over to another thread on the request path.
 *
 * Locking: n->mu guards the list of connections (for the handshake sweep
 * and wc_node_stop); n->qmu guards the two queues; n->kick (an eventfd in
 * the epoll set) wakes a worker for a connection in the ready queue and
 * n->bulk_cv a bulk worker for one in the bulk lane; n->repl_mu guards the cache of keyspace replication per
 * table; counters and the stop flag are atomics.
 */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "alloc.h"
#include "batchlog.h"
#include "cluster.h"
#include "consistency.h"
#include "counter.h"
#include "engine_store.h"
#include "index.h"
#include "lwt.h"
#include "mutation.h"
#include "protocol.h"
#include "rowcache.h"
#include "directread.h"
#include "shmring.h"
#include "table_options.h"
#include "thread.h"
#include "view.h"

#define WC__DEFAULT_MAX_CONNECTIONS 64
#define WC__DEFAULT_SEND_TIMEOUT_MS 60000
#define WC__DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define WC__MIN_WORKERS 4             /* default pool: 2 per CPU, at least this */
#define WC__MAX_WORKERS 256
#define WC__BULK_BYTES (64u << 10)    /* a request frame larger than this is bulk */
#define WC__DEFAULT_BULK_NICE 10      /* wc_node_options_default's bulk_nice */
#define WC__SWEEP_MS 200              /* handshake deadlines are checked this often */
#define WC__SOCKET_BUFFER (4 << 20)   /* asked of the kernel; it may cap it */
#define WC__READ_CHUNK (256 << 10)    /* least room offered to one recv */
#define WC__KEEP_BUFFER (8 << 20)     /* buffers above this are released when idle */
#define WC__CLUSTER_NODES 1           /* no ring yet: a one-node cluster */
#define WC__LIVE_REPLICAS 1
#define WC__CAS_LOCKS 64            /* partitions serialized for CAS alone: striped */

typedef struct wc__conn {
    wc_node *node;
    int fd;
    atomic_bool handshaken;
    bool eof;                /* the peer closed (or the socket failed) */
    bool bulk_turn;          /* served by a bulk worker this turn */
    bool swept;              /* shut down for a missed handshake deadline */
    uint64_t accepted_ms;    /* since the node started */
    wc_buf in; /* received bytes: [in_pos, in.len) not yet consumed */
    size_t in_pos;
    wc_buf out;
    wc_staged *staged;       /* the open staged transaction (STAGE, PUBLISH), or NULL */
    bool client_fsyncs;      /* the last answer left its commit-log fsync to the client */
    struct wc__conn *next;                /* queue link, under qmu */
    struct wc__conn *prev_all, *next_all; /* n->conns, under mu */
} wc__conn;

typedef struct wc__fifo {
    wc__conn *head, *tail;
} wc__fifo;

typedef struct wc__repl_entry {
    uint32_t table_id;
    wc_replication r;
} wc__repl_entry;

struct wc_node {
    wc_engine *engine;
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char data_dir[4096];
    int listen_fd;
    int epfd;
    int spare_fd; /* given up to refuse a connection when descriptors run out */
    int wake[2];
    int kick; /* eventfd: a connection was queued */
    pthread_t *workers;
    uint32_t nworkers, workers_started;
    bool socket_bound;
    uint32_t max_conns;
    uint32_t send_timeout_ms;
    uint32_t handshake_timeout_ms;
    wc_log_fn log;
    void *log_arg;
    struct timespec started;

    pthread_mutex_t mu;
    wc__conn *conns; /* every open connection */
    uint32_t nconns;

    pthread_mutex_t qmu;
    wc__fifo ready;      /* connections with a request (or handshake) to serve */
    wc__fifo bulk;       /* connections whose next request is large, for the bulk workers */
    pthread_cond_t bulk_cv; /* signalled for each connection queued in the bulk lane */
    pthread_t *bulk_workers;
    uint32_t nbulk, bulk_started;
    int bulk_nice;
    uint32_t bulk_yield_us; /* the bulk workers' wc__yield_point interval (engine option) */
    atomic_bool quit;
    atomic_uint_fast64_t last_sweep_ms;

    pthread_rwlock_t repl_mu;
    wc__repl_entry *repl;
    size_t nrepl, repl_cap;

    wc_shmring *ring;        /* NULL: socket only */
    pthread_t *ring_workers;
    uint32_t nring, ring_started;
    uint32_t ring_spin_us;
    bool ring_serving;
    wc_rowcache *rowcache;   /* NULL: no row cache (none configured, or a cluster node) */
    wc_directread *direct;   /* NULL: no direct reads (no region, or a cluster node) */

    atomic_uint_fast32_t conns_open;
    _Atomic(wc_cluster *) cluster; /* MEMBERS answers from it; NULL: no cluster */
    atomic_bool cluster_expected;  /* never serve APPLY/READ alone (see wc__not_joined) */
    wc_engine_store *estore; /* the cluster's view of the engine (cluster loop) */
    wc_views *views;         /* materialized views kept on local writes (view.h) */
    wc_views_sink view_sink; /* on a cluster: where update records go (loop only; NULL: alone) */
    void *view_sink_arg;
    atomic_uint write_timeout_ms, read_timeout_ms; /* of coordinated requests */
    atomic_uint_fast64_t conns_total, conns_refused, requests_total, errors_total;
    atomic_uint_fast64_t requests[WC_OP_COUNT];
    pthread_mutex_t repairs_mu; /* guards the repairs this node remembers */
    pthread_mutex_t cas_mu[WC__CAS_LOCKS]; /* CAS without a cluster: one partition at a time */
    atomic_int_fast64_t cas_last_us;       /* the last CAS timestamp given alone */
    wc_proto_repair_info repairs[WC_PROTO_MAX_REPAIRS]; /* oldest first */
    size_t nrepairs;
    uint64_t next_repair_id;
};

/* ---------------------------------------------------------------- helpers */

static void wc__log(wc_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wc__log(wc_node *n, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (n->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n->log(n->log_arg, level, msg);
}

static uint64_t wc__ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000u +
           (uint64_t)((now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* ---------------------------------------------------------------- replication cache */

static void wc__repl_set(wc_node *n, uint32_t id, const wc_replication *r)
{
    pthread_rwlock_wrlock(&n->repl_mu);
    for (size_t i = 0; i < n->nrepl; i++)
        if (n->repl[i].table_id == id) {
            n->repl[i].r = *r;
            goto done;
        }
    if (n->nrepl == n->repl_cap) {
        size_t cap = n->repl_cap ? n->repl_cap * 2 : 16;
        wc__repl_entry *v = wc_realloc(n->repl, cap * sizeof(*v));
        if (v == NULL)
            goto done; /* lookups fall back to the default: factor 1 */
        n->repl = v;
        n->repl_cap = cap;
    }
    n->repl[n->nrepl].table_id = id;
    n->repl[n->nrepl].r = *r;
    n->nrepl++;
done:
    pthread_rwlock_unlock(&n->repl_mu);
}

static void wc__repl_remove(wc_node *n, uint32_t id)
{
    pthread_rwlock_wrlock(&n->repl_mu);
    for (size_t i = 0; i < n->nrepl; i++)
        if (n->repl[i].table_id == id) {
            n->repl[i] = n->repl[--n->nrepl];
            break;
        }
    pthread_rwlock_unlock(&n->repl_mu);
}

static void wc__repl_get(wc_node *n, uint32_t id, wc_replication *out)
{
    wc_replication_default(out);
    pthread_rwlock_rdlock(&n->repl_mu);
    for (size_t i = 0; i < n->nrepl; i++)
        if (n->repl[i].table_id == id) {
            *out = n->repl[i].r;
            break;
        }
    pthread_rwlock_unlock(&n->repl_mu);
}

/* Fill the cache from the catalog; tables with foreign options count as factor 1. */
static wc_status wc__repl_load(wc_node *n)
{
    uint32_t *ids = NULL;
    size_t cnt = 0;
    wc_status st = wc_engine_list_tables(n->engine, &ids, &cnt);

    for (size_t i = 0; st == WC_OK && i < cnt; i++) {
        wc_table_def d;
        wc_replication r;

        if (wc_engine_get_table(n->engine, ids[i], &d) != WC_OK)
            continue;
        if (wc_table_replication(&d, &r) != WC_OK)
            wc_replication_default(&r);
        wc_table_def_clear(&d);
        wc__repl_set(n, ids[i], &r);
    }
    wc_free(ids);
    return st;
}

static wc_status wc__check_table(wc_node *n, uint32_t table_id, wc_consistency cl, bool is_write)
{
    wc_replication r;

    wc__repl_get(n, table_id, &r);
    return wc_consistency_check(cl, &r, WC__CLUSTER_NODES, WC__LIVE_REPLICAS, is_write);
}

/* Check cl for every table a batch touches.  A malformed batch is left to the engine. */
static wc_status wc__check_batch(wc_node *n, const uint8_t *batch, size_t len, wc_consistency cl)
{
    wc_batch_view v;
    const uint8_t *mut;
    size_t mlen;
    uint32_t last = 0;
    bool any = false;
    wc_status st;

    if (wc_batch_parse(batch, len, &v) != WC_OK) {
        wc_clear_error();
        return WC_OK;
    }
    while (wc_batch_next(&v, &mut, &mlen) == 1) {
        uint32_t id;
        if (mlen < 4)
            break;
        id = wc_dec_u32(mut);
        if (any && id == last)
            continue;
        if ((st = wc__check_table(n, id, cl, true)) != WC_OK)
            return st;
        last = id;
        any = true;
    }
    if (!any) {
        wc_replication r;
        wc_replication_default(&r);
        return wc_consistency_check(cl, &r, WC__CLUSTER_NODES, WC__LIVE_REPLICAS, true);
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- coordinated requests */

/* The cluster that coordinates this node's requests, or NULL: the node serves alone. */
static wc_cluster *wc__coordinator(wc_node *n)
{
    wc_cluster *c = atomic_load(&n->cluster);

    return wc_cluster_coordinates(c) ? c : NULL;
}

/*
 * A node configured for a cluster never serves a write or read alone: not
 * before its cluster coordinates (the node accepts backends first), not
 * after coordination stopped at shutdown.  Alone it would acknowledge a
 * QUORUM write with one copy.
 */
static wc_status wc__not_joined(wc_node *n)
{
    if (!atomic_load(&n->cluster_expected))
        return WC_OK;
    return wc_error(WC_UNAVAILABLE, "this node is not coordinating for its cluster yet "
                                    "(starting or stopping); no replica was asked");
}

/*
 * Write batch through the coordinator: a batch of one partition of one
 * table as it came (unlogged, the fast path); any other (a transaction's,
 * a statement's of several rows) as a logged batch (batchlog.h), so that
 * its mutations land all or none even if this node dies half-way.  A
 * batch of counter increments is never logged: the coordinator sends it to
 * leader replicas (counter_leader.h), which replicate shards.
 */
static wc_status wc__coord_apply(wc_node *n, wc_cluster *c, const uint8_t *batch, size_t len,
                                 wc_consistency cl)
{
    uint32_t timeout = atomic_load(&n->write_timeout_ms);
    wc_coord_result res;
    wc_batch_view v;
    const uint8_t *mut;
    size_t mlen;
    wc_status st;

    if ((st = wc_batch_parse(batch, len, &v)) != WC_OK)
        return st;
    if (v.count == 0)
        return WC_OK; /* an empty batch writes nothing */
    if (wc_batchlog_needed(batch, len) && !wc_counter_batch_has_delta(batch, len))
        return wc_cluster_write_logged(c, batch, len, cl, timeout, &res);
    if (wc_batch_next(&v, &mut, &mlen) != 1 || mlen < 4)
        return wc_error(WC_CORRUPTION, "malformed mutation in a batch");
    return wc_cluster_write(c, wc_dec_u32(mut), batch, len, cl, timeout, &res);
}

/*
 * A read through the coordinator: the request as the store reads it (with
 * this node's TTL clock, so every replica agrees), the answer as a page,
 * merged with the reader's pending writes (overlay, may be empty).
 */
static wc_status wc__coord_read(wc_node *n, wc_cluster *c, const wc_read_request *creq,
                                wc_consistency cl, const uint8_t *overlay, size_t overlay_len,
                                wc_page **page, wc_coord_result *res_out)
{
    wc_read_request req = *creq;
    wc_store_read r;
    wc_coord_result res_local, *res = res_out ? res_out : &res_local;
    wc_buf ans;
    wc_status st;

    if (req.now_sec == 0)
        req.now_sec = (int64_t)time(NULL);
    if ((st = wc_engine_store_plan(&req, &r)) != WC_OK)
        return st;
    if ((cl == WC_CL_SERIAL || cl == WC_CL_LOCAL_SERIAL) && !r.token_range) {
        /* a SERIAL read of a partition first completes a Paxos round in progress */
        wc_paxos_result pres;
        if ((st = wc_cluster_cas(c, &r, cl, atomic_load(&n->read_timeout_ms), NULL, NULL, &pres,
                                 NULL)) != WC_OK)
            return st;
    }
    wc_buf_init(&ans);
    /* a scan's page may continue inside one partition: the plan says which read it is */
    st = wc_cluster_read(c, &r, r.token_range, cl, atomic_load(&n->read_timeout_ms), res, &ans);
    if (st == WC_OK)
        st = wc_engine_store_page(n->engine, &req, ans.data, ans.len, overlay, overlay_len, page);
    wc_buf_free(&ans);
    return st;
}

/* First byte of the paging state of a coordinated index read: then the resume key. */
#define WC__INDEX_PAGING 0x49

/*
 * INDEX_READ on a cluster: one page of the coordinated index read
 * (wc_coord_index_read: every token range asked at cl, the rows read at
 * cl), of at most page_rows (and the request's limit) keys, put to out.
 * The rows are the replicas' reconciled rows, which the reader filters by
 * the value again (a row may have changed since its index entry).  The
 * page's paging state is WC__INDEX_PAGING and the key to resume after.
 */
static wc_status wc__coord_index_read(wc_node *n, wc_cluster *c, const wc_read_request *creq,
                                      wc_consistency cl, const char *index, const uint8_t *value,
                                      size_t vlen, wc_buf *out)
{
    wc_read_request req = *creq;
    wc_coord_index_query q;
    wc_coord_result res;
    wc_buf ans, resume;
    wc_page *page = NULL;
    uint8_t *ps;
    size_t pslen;
    bool more, pmore;
    wc_status st;

    if (req.now_sec == 0)
        req.now_sec = (int64_t)time(NULL);
    if (req.paging_state_len > 0 &&
        (req.paging_state_len < 11 || req.paging_state[0] != WC__INDEX_PAGING))
        return wc_error(WC_INVALID_ARGUMENT, "malformed paging state of an index read");
    memset(&q, 0, sizeof(q));
    q.table_id = req.table_id;
    q.index = index;
    q.value = value;
    q.value_len = vlen;
    if (req.paging_state_len > 0) {
        q.after = req.paging_state + 1;
        q.after_len = req.paging_state_len - 1;
    }
    q.limit = req.page_rows ? (uint32_t)(req.page_rows < 100000 ? req.page_rows : 100000) : 1000;
    if (req.limit > 0 && req.limit < q.limit)
        q.limit = (uint32_t)req.limit;
    q.include_static = req.include_static;
    q.now_sec = req.now_sec;
    wc_buf_init(&ans);
    wc_buf_init(&resume);
    wc_buf_put_u8(&resume, WC__INDEX_PAGING);
    st = wc_cluster_index_read(c, &q, cl, atomic_load(&n->read_timeout_ms), &res, &ans, &resume,
                               &more);
    if (st == WC_OK && wc_buf_status(&resume) != WC_OK)
        st = wc_error(WC_NO_MEMORY, "out of memory reading an index");
    if (st == WC_OK) {
        /* every row of the answer, as a scan's page of it */
        req.pk = NULL;
        req.pk_len = 0;
        req.paging_state = NULL;
        req.paging_state_len = 0;
        req.token_range = false;
        req.limit = 0;
        req.page_rows = (size_t)1 << 30;
        req.start.unbounded = req.end.unbounded = true;
        req.reverse = false;
        if (ans.len == 0) {
            /* no key: an empty raw answer (a batch record without mutations) */
            wc_batch_builder bb;
            const uint8_t *rec;
            size_t rlen;

            wc_batch_builder_init(&bb);
            if ((st = wc_batch_builder_finish(&bb, &rec, &rlen)) == WC_OK)
                wc_buf_append(&ans, rec, rlen);
            wc_batch_builder_free(&bb);
        }
        if (st == WC_OK)
            st = wc_engine_store_page(n->engine, &req, ans.data, ans.len, NULL, 0, &page);
    }
    if (st == WC_OK) {
        ps = page->paging_state;
        pslen = page->paging_state_len;
        pmore = page->more;
        page->paging_state = more ? resume.data : NULL;
        page->paging_state_len = more ? resume.len : 0;
        page->more = more;
        wc_proto_put_page(out, page);
        page->paging_state = ps;
        page->paging_state_len = pslen;
        page->more = pmore;
        wc_page_free(page);
    }
    wc_buf_free(&ans);
    wc_buf_free(&resume);
    return st;
}

/* The replicas' part in a coordinated read (none for a read served alone). */
static void wc__put_trace(wc_buf *out, const wc_coord_result *res)
{
    wc_read_trace t[WC_PROTO_TRACE_MAX];
    size_t n = 0;

    for (uint32_t i = 0; i < res->ntrace && n < WC_PROTO_TRACE_MAX; i++, n++) {
        memset(&t[n], 0, sizeof(t[n]));
        wc_addr_format(&res->trace[i].addr, t[n].address, sizeof(t[n].address));
        t[n].asks = res->trace[i].asks;
        t[n].answers = res->trace[i].answers;
        t[n].digests = res->trace[i].digests;
        t[n].us = res->trace[i].us;
        t[n].bytes = res->trace[i].bytes;
    }
    wc_proto_put_trace(out, t, n);
}

/*
 * COUNT_ROWS: read req's rows page by page as READ would (coordinated at cl
 * on a cluster: the replicas' answers reconciled here first), and count the
 * live clustering rows instead of sending them.  The tombstone limit spans
 * the pages.
 */
static wc_status wc__count_rows(wc_node *n, wc_read_request *req, wc_consistency cl,
                                const uint8_t *overlay, size_t overlay_len, uint64_t *count,
                                wc_read_stats *stats)
{
    uint8_t *state = NULL;
    wc_page *page = NULL;
    wc_cluster *cc;
    uint64_t limit = req->tombstone_failure_threshold;
    wc_status st;

    *count = 0;
    memset(stats, 0, sizeof(*stats));
    if (req->page_rows < 1000)
        req->page_rows = 1000;
    for (;;) {
        if ((cc = wc__coordinator(n)) != NULL)
            st = wc__coord_read(n, cc, req, cl, overlay, overlay_len, &page, NULL);
        else if ((st = wc__not_joined(n)) != WC_OK)
            ;
        else if ((st = wc__check_table(n, req->table_id, cl, false)) == WC_OK)
            st = wc_engine_read_overlay(n->engine, req, overlay, overlay_len, false, &page);
        if (st != WC_OK)
            goto fail;
        for (size_t i = 0; i < page->nrows; i++)
            if (!page->rows[i].is_static)
                (*count)++;
        stats->memtables_read += page->stats.memtables_read;
        stats->sstables_read += page->stats.sstables_read;
        stats->bloom_skips += page->stats.bloom_skips;
        stats->range_skips += page->stats.range_skips;
        stats->blocks_read += page->stats.blocks_read;
        stats->cache_hits += page->stats.cache_hits;
        stats->rows_scanned += page->stats.rows_scanned;
        stats->tombstones_scanned += page->stats.tombstones_scanned;
        if (limit > 0) {
            /* what the next page may still meet (0 would mean no limit: the check here) */
            if (stats->tombstones_scanned > limit) {
                st = wc_error(WC_OVERLOADED, "count scanned %llu tombstones, more than the "
                              "failure threshold %llu",
                              (unsigned long long)stats->tombstones_scanned,
                              (unsigned long long)limit);
                goto fail;
            }
            req->tombstone_failure_threshold = limit - stats->tombstones_scanned;
            if (req->tombstone_failure_threshold == 0)
                req->tombstone_failure_threshold = 1;
        }
        if (!page->more)
            break;
        wc_free(state);
        if ((state = wc_malloc(page->paging_state_len ? page->paging_state_len : 1)) == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory counting rows");
            goto fail;
        }
        memcpy(state, page->paging_state, page->paging_state_len);
        req->paging_state = state;
        req->paging_state_len = page->paging_state_len;
        wc_page_free(page);
        page = NULL;
    }
    wc_page_free(page);
    wc_free(state);
    return WC_OK;
fail:
    wc_page_free(page);
    wc_free(state);
    return st;
}

/* ---------------------------------------------------------------- lightweight transactions */

static int64_t wc__wall_us(void);

typedef struct wc__cas_ctx {
    wc_node *n;
    const wc_lwt_request *r;
    wc_read_request req;
} wc__cas_ctx;

/* Paxos's decision (on the cluster loop): the conditions on the quorum read, the batch restamped. */
static wc_status wc__cas_decide(void *arg, const uint8_t *raw, size_t len, int64_t ts_us,
                                bool *apply, wc_buf *out)
{
    wc__cas_ctx *x = arg;
    wc_page *page = NULL;
    wc_status st;

    *apply = false;
    if ((st = wc_engine_store_page(x->n->engine, &x->req, raw, len, NULL, 0, &page)) != WC_OK)
        return st;
    *apply = wc_lwt_holds(x->r, page);
    wc_page_free(page);
    return *apply ? wc_lwt_restamp(x->r->batch, x->r->batch_len, x->r->table_id, ts_us, out)
                  : WC_OK;
}

/* CAS through the cluster: Paxos on the partition (paxos.h). */
static wc_status wc__cas_coord(wc_node *n, wc_cluster *c, const wc_lwt_request *r, bool *applied)
{
    wc__cas_ctx x = {n, r, {0}};
    wc_store_read sr;
    wc_paxos_result res;
    wc_status st;

    wc_lwt_read_request(r, (int64_t)time(NULL), &x.req);
    if ((st = wc_engine_store_plan(&x.req, &sr)) != WC_OK)
        return st;
    st = wc_cluster_cas(c, &sr, r->serial_cl, atomic_load(&n->write_timeout_ms), wc__cas_decide,
                        &x, &res, NULL);
    *applied = st == WC_OK && res.applied;
    return st;
}

/*
 * CAS on a node alone: the partition's lock held from the read to the
 * write, so that CAS requests of one partition run one after the other;
 * timestamps strictly increase, so a later CAS always wins.
 */
static wc_status wc__cas_alone(wc_node *n, const wc_lwt_request *r, bool *applied)
{
    pthread_mutex_t *mu =
        &n->cas_mu[XXH3_64bits_withSeed(r->pk, r->pk_len, r->table_id) % WC__CAS_LOCKS];
    wc_read_request req;
    wc_page *page = NULL;
    wc_buf batch;
    int64_t ts, last;
    wc_status st;

    *applied = false;
    wc_buf_init(&batch);
    wc_lwt_read_request(r, 0, &req);
    pthread_mutex_lock(mu);
    if ((st = wc_engine_read(n->engine, &req, &page)) != WC_OK)
        goto done;
    if (!wc_lwt_holds(r, page))
        goto done;
    last = atomic_load(&n->cas_last_us);
    do {
        int64_t now = wc__wall_us();
        ts = now > last ? now : last + 1;
    } while (!atomic_compare_exchange_weak(&n->cas_last_us, &last, ts));
    if ((st = wc_lwt_restamp(r->batch, r->batch_len, r->table_id, ts, &batch)) != WC_OK)
        goto done;
    if ((st = wc_views_apply(n->views, n->engine, batch.data, batch.len)) == WC_OK)
        *applied = true;
done:
    pthread_mutex_unlock(mu);
    wc_page_free(page);
    wc_buf_free(&batch);
    return st;
}

/* ---------------------------------------------------------------- repair, snapshots */

static int64_t wc__wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The remembered repair of id (NULL: forgotten).  REQUIRES: repairs_mu. */
static wc_proto_repair_info *wc__repair_find(wc_node *n, uint64_t id)
{
    for (size_t i = 0; i < n->nrepairs; i++)
        if (n->repairs[i].id == id)
            return &n->repairs[i];
    return NULL;
}

typedef struct wc__repair_run {
    wc_node *n;
    uint64_t id;
} wc__repair_run;

static void wc__repair_copy(wc_proto_repair_info *dst, const wc_repair_result *r)
{
    dst->ranges_total = r->ranges_total;
    dst->ranges_done = r->ranges_done;
    dst->ranges_mismatched = r->ranges_mismatched;
    dst->leaves_mismatched = r->leaves_mismatched;
    dst->partitions = r->partitions;
    dst->repairs_sent = r->repairs_sent;
    dst->rows_streamed = r->rows_streamed;
    dst->bytes_streamed = r->bytes_streamed;
}

static void wc__repair_progress(void *arg, const wc_repair_result *r)
{
    wc__repair_run *run = arg;
    wc_proto_repair_info *ri;

    pthread_mutex_lock(&run->n->repairs_mu);
    if ((ri = wc__repair_find(run->n, run->id)) != NULL)
        wc__repair_copy(ri, r);
    pthread_mutex_unlock(&run->n->repairs_mu);
}

/*
 * REPAIR: remember the repair (progress in REPAIRS while it runs), run it
 * through the cluster (a node without one has no other replica: nothing to
 * compare), remember how it ended.
 */
static wc_status wc__repair(wc_node *n, uint32_t table_id, uint8_t flags,
                            wc_proto_repair_info *out)
{
    wc_cluster *cc = wc__coordinator(n);
    wc_repair_result res;
    wc__repair_run run = {n, 0};
    wc_proto_repair_info *ri;
    wc_table_def d;
    wc_status st;

    memset(out, 0, sizeof(*out));
    memset(&res, 0, sizeof(res));
    if (cc == NULL && (st = wc__not_joined(n)) != WC_OK)
        return st;
    if (wc_engine_get_table(n->engine, table_id, &d) != WC_OK)
        return wc_error(WC_NOT_FOUND, "table %u is not known on this node", table_id);
    wc_table_def_clear(&d);
    pthread_mutex_lock(&n->repairs_mu);
    if (n->nrepairs == WC_PROTO_MAX_REPAIRS) {
        memmove(&n->repairs[0], &n->repairs[1], (n->nrepairs - 1) * sizeof(n->repairs[0]));
        n->nrepairs--;
    }
    ri = &n->repairs[n->nrepairs++];
    memset(ri, 0, sizeof(*ri));
    ri->id = run.id = ++n->next_repair_id;
    ri->table_id = table_id;
    ri->flags = flags;
    ri->state = WC_REPAIR_STATE_RUNNING;
    ri->started_us = wc__wall_us();
    pthread_mutex_unlock(&n->repairs_mu);
    st = cc ? wc_cluster_repair(cc, table_id, (flags & WC_REPAIRF_PRIMARY_RANGE) != 0,
                                atomic_load(&n->read_timeout_ms) * 4 + 10000, wc__repair_progress,
                                &run, &res)
            : WC_OK;
    pthread_mutex_lock(&n->repairs_mu);
    if ((ri = wc__repair_find(n, run.id)) != NULL) {
        wc__repair_copy(ri, &res);
        ri->state = st == WC_OK ? WC_REPAIR_STATE_DONE : WC_REPAIR_STATE_FAILED;
        ri->ended_us = wc__wall_us();
        if (st != WC_OK)
            snprintf(ri->error, sizeof(ri->error), "%s", wc_last_error());
        *out = *ri;
    }
    pthread_mutex_unlock(&n->repairs_mu);
    return st;
}

/*
 * CLEANUP: through the cluster, which knows the ranges this node keeps; a
 * node without a cluster owns every token and drops nothing.
 */
static wc_status wc__cleanup(wc_node *n, uint32_t table_id, wc_cleanup_result *out)
{
    wc_cluster *cc = wc__coordinator(n);
    wc_table_def d;
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (cc != NULL)
        return wc_cluster_cleanup(cc, table_id, out);
    if ((st = wc__not_joined(n)) != WC_OK)
        return st;
    if (table_id != 0 && wc_engine_get_table(n->engine, table_id, &d) != WC_OK)
        return wc_error(WC_NOT_FOUND, "table %u is not known on this node", table_id);
    if (table_id != 0)
        wc_table_def_clear(&d);
    return WC_OK;
}

/* DECOMMISSION (host_id NULL) or REMOVENODE: through the cluster; a node without one refuses. */
static wc_status wc__topology(wc_node *n, const uint8_t *host_id, wc_buf *out)
{
    wc_cluster *cc = wc__coordinator(n);
    wc_topology_result r;
    wc_proto_topology_result pr;
    wc_status st;

    if (cc == NULL && (st = wc__not_joined(n)) != WC_OK)
        return st;
    if (cc == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "this node is not part of a cluster "
                                             "(widecol.cluster_name is not set)");
    st = host_id ? wc_cluster_removenode(cc, host_id, &r) : wc_cluster_decommission(cc, &r);
    if (st != WC_OK)
        return st;
    pr.ranges = r.ranges;
    pr.targets = r.targets;
    pr.rows = r.rows;
    pr.bytes = r.bytes;
    wc_proto_put_topology_result(out, &pr);
    return WC_OK;
}

/* SNAPSHOT: take, clear or list; the snapshots taken, removed or present into out. */
static wc_status wc__snapshot(wc_node *n, uint8_t action, const char *tag, wc_buf *out)
{
    wc_snapshot_info one, *v = NULL;
    wc_proto_snapshot *pv = NULL;
    size_t cnt = 0, k = 0;
    uint32_t removed = 0;
    wc_status st;

    if (action == WC_SNAPSHOT_TAKE) {
        if ((st = wc_engine_snapshot(n->engine, tag, &one)) != WC_OK)
            return st;
        v = &one;
        cnt = 1;
    } else if ((st = wc_engine_list_snapshots(n->engine, &v, &cnt)) != WC_OK)
        return st;
    if (cnt && (pv = wc_calloc(cnt, sizeof(*pv))) == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory answering SNAPSHOT");
        goto done;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (action == WC_SNAPSHOT_CLEAR && tag[0] && strcmp(tag, v[i].tag) != 0)
            continue;
        snprintf(pv[k].tag, sizeof(pv[k].tag), "%s", v[i].tag);
        pv[k].tables = v[i].tables;
        pv[k].files = v[i].files;
        pv[k].bytes = v[i].bytes;
        k++;
    }
    if (action == WC_SNAPSHOT_CLEAR && (st = wc_engine_clear_snapshot(n->engine, tag, &removed)) != WC_OK)
        goto done;
    wc_proto_put_snapshots(out, pv, k);
done:
    wc_free(pv);
    if (v != &one)
        wc_free(v);
    return st;
}

/* ---- the local side of the cluster (cluster.h wc_cluster_local) over the engine */

static wc_status wc__local_store_open(void *ctx, wc_env *env, wc_replica_store *out)
{
    wc_node *n = ctx;
    uint32_t threads = n->nworkers < WC_ENGINE_STORE_MAX_THREADS ? n->nworkers
                                                                 : WC_ENGINE_STORE_MAX_THREADS;
    wc_status st = wc_engine_store_create(n->engine, env, threads ? threads : 1, &n->estore);

    if (st == WC_OK)
        *out = wc_engine_store_get(n->estore);
    return st;
}

static void wc__local_store_close(void *ctx)
{
    wc_node *n = ctx;

    wc_engine_store_destroy(n->estore);
    n->estore = NULL;
}

/*
 * The replication of a table, from the engine's catalog: tables the cluster
 * schema creates or alters (schema_runtime.h) never pass through this
 * node's CREATE/ALTER requests, so the cache of those cannot answer.
 */
static wc_status wc__local_replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    wc_node *n = ctx;
    wc_table_def d;
    wc_status st;

    if (table_id == WC_VIEW_LOG_TABLE) /* node-local: never replicated, cleaned or streamed */
        return wc_error(WC_NOT_FOUND, "table %u is this node's view update log", table_id);
    if (wc_engine_get_table(n->engine, table_id, &d) != WC_OK)
        return wc_error(WC_NOT_FOUND, "table %u is not known on this node", table_id);
    st = wc_table_replication(&d, out);
    wc_table_def_clear(&d);
    if (st != WC_OK)
        wc_replication_default(out);
    return WC_OK;
}

static uint32_t wc__local_hint_ttl(void *ctx, uint32_t table_id)
{
    wc_node *n = ctx;
    wc_table_def d;
    uint32_t ttl = 0;

    if (wc_engine_get_table(n->engine, table_id, &d) == WC_OK) {
        ttl = d.gc_grace_seconds;
        wc_table_def_clear(&d);
    }
    wc_clear_error();
    return ttl;
}

/* A hint's batch (on the loop): a base write's view updates go to the paired replicas. */
static wc_status wc__local_apply(void *ctx, const uint8_t *batch, size_t len)
{
    wc_node *n = ctx;
    wc_buf upd;
    wc_status st;

    if (n->view_sink == NULL)
        return wc_engine_apply_batch(n->engine, batch, len);
    wc_buf_init(&upd);
    if ((st = wc_views_apply_paired(n->views, n->engine, batch, len, &upd)) == WC_OK &&
        upd.len > 0)
        n->view_sink(n->view_sink_arg, upd.data, upd.len);
    wc_buf_free(&upd);
    return st;
}

/* The cluster keeps this node's views with paired view replicas (on the loop, after store_open). */
static void wc__local_views_attach(void *ctx, wc_views_sink sink, void *arg)
{
    wc_node *n = ctx;

    if (wc_views_log_open(n->engine) != WC_OK) {
        wc__log(n, WC_LOG_WARNING, "node: no view update log, views are not kept: %s",
                wc_last_error());
        return;
    }
    n->view_sink = sink;
    n->view_sink_arg = arg;
    wc_engine_store_set_views(n->estore, n->views, sink, arg);
}

/* Update records of a view's backfill (the schema's engine thread): to the loop. */
static void wc__backfill_sink(void *arg, const uint8_t *upd, size_t len)
{
    wc_node *n = arg;

    wc_cluster_view_updates(atomic_load(&n->cluster), upd, len);
}

/*
 * A table of the cluster schema was created, altered or dropped (the
 * schema's engine thread): a view starts to be kept, and every node builds
 * the view rows of its own base rows for their paired view replicas.
 */
static void wc__local_table_followed(void *ctx, uint32_t table_id, bool dropped)
{
    wc_node *n = ctx;
    wc_table_def d;
    bool was, is = false;

    was = wc_views_is_view(n->views, table_id);
    if (dropped) {
        wc_views_forget(n->views, table_id);
        return;
    }
    if (wc_engine_get_table(n->engine, table_id, &d) != WC_OK) {
        wc_clear_error();
        return;
    }
    if (wc_views_define(n->views, &d, &is) != WC_OK)
        wc__log(n, WC_LOG_WARNING, "node: table %u: %s", table_id, wc_last_error());
    else if (is && !was && n->view_sink &&
             wc_views_build_paired(n->views, n->engine, table_id, wc__backfill_sink, n) != WC_OK)
        wc__log(n, WC_LOG_WARNING, "node: materialized view %u could not be built: %s", table_id,
                wc_last_error());
    wc_table_def_clear(&d);
    wc_clear_error();
}

/* ---------------------------------------------------------------- requests */

/* The replication of a table to create: its schema's, or factor 1 without one. */
static wc_status wc__change_replication(const wc_table_def *def, wc_replication *r)
{
    wc_status st = wc_table_replication(def, r);

    if (st == WC_NOT_FOUND) {
        wc_clear_error();
        wc_replication_default(r);
        return WC_OK;
    }
    return st;
}

/*
 * May c stage writes?  Only over the socket (the staged transaction belongs
 * to the connection) and on a node that serves alone: a cluster's
 * statements go to the coordinator as one logged batch (APPLY), and a node
 * configured for a cluster never applies a replicated write alone.
 */
static wc_status wc__stage_allowed(wc__conn *c)
{
    if (c->fd < 0)
        return wc_error(WC_INVALID_ARGUMENT,
                        "STAGE and PUBLISH travel over the node's socket, not the shared ring");
    if (wc__coordinator(c->node) != NULL)
        return wc_error(WC_INVALID_ARGUMENT,
                        "this node runs a cluster: send the statement's writes as one APPLY");
    return wc__not_joined(c->node);
}

/*
 * Serve one request into c->out (a complete response frame).  Returns the
 * status sent; *fatal is set when the connection must be closed after the
 * response (malformed body).
 */
/* Decode a request body; a malformed one means the two sides no longer agree: close. */
#define WC__DECODE(call)                                                                           \
    if ((st = (call)) != WC_OK) {                                                                  \
        *fatal = st == WC_CORRUPTION;                                                              \
        break;                                                                                     \
    }

static wc_status wc__serve(wc__conn *c, uint8_t op, uint32_t id, const uint8_t *body,
                           size_t blen, bool *fatal)
{
    wc_node *n = c->node;
    wc_engine *e = n->engine;
    wc_buf *out = &c->out;
    wc_cluster *cc;
    size_t start;
    wc_status st = WC_OK;

    wc_buf_reset(out);
    start = wc_proto_begin_response(out, id, WC_OK);
    switch (op) {
    case WC_OP_CREATE_TABLE:
    case WC_OP_ALTER_TABLE: {
        wc_table_def def, stored;
        wc_replication r;
        WC__DECODE(wc_proto_get_table_change(body, blen, &def));
        if (op == WC_OP_CREATE_TABLE && def.id > WC_USER_TABLE_ID_MAX)
            st = wc_error(WC_INVALID_ARGUMENT,
                          "table id %u is reserved for the node's own tables (at most %u)", def.id,
                          WC_USER_TABLE_ID_MAX);
        else if ((st = wc__change_replication(&def, &r)) == WC_OK)
            st = op == WC_OP_CREATE_TABLE ? wc_engine_create_table(e, &def)
                                          : wc_engine_alter_table(e, &def);
        /* cache what the catalog holds (a repeated CREATE keeps the first definition) */
        if (st == WC_OK && wc_engine_get_table(e, def.id, &stored) == WC_OK) {
            bool view = false;
            if (wc_table_replication(&stored, &r) != WC_OK)
                wc_replication_default(&r);
            wc__repl_set(n, def.id, &r);
            wc_clear_error();
            /* a new materialized view starts from the base table's rows */
            if ((st = wc_views_define(n->views, &stored, &view)) == WC_OK && view &&
                op == WC_OP_CREATE_TABLE)
                st = n->view_sink ? wc_views_build_paired(n->views, e, def.id, wc__backfill_sink, n)
                                  : wc_views_build(n->views, e, def.id);
            wc_table_def_clear(&stored);
        }
        wc_table_def_clear(&def);
        break;
    }
    case WC_OP_DROP_TABLE: {
        uint32_t t;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_drop_table(e, t)) == WC_OK) {
            wc__repl_remove(n, t);
            wc_views_forget(n->views, t);
            st = wc_views_empty_of(n->views, e, t); /* a base's views lose its rows too */
        }
        break;
    }
    case WC_OP_GET_TABLE: {
        uint32_t t;
        wc_table_def def;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_get_table(e, t, &def)) == WC_OK) {
            wc_proto_put_table_def(out, &def);
            wc_table_def_clear(&def);
        }
        break;
    }
    case WC_OP_LIST_TABLES: {
        uint32_t *ids = NULL;
        size_t cnt = 0;
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed LIST_TABLES message") : WC_OK);
        if ((st = wc_engine_list_tables(e, &ids, &cnt)) == WC_OK) {
            /* the view update log is the node's own, no table of the user's */
            size_t k = 0;
            for (size_t i = 0; i < cnt; i++)
                if (ids[i] != WC_VIEW_LOG_TABLE)
                    ids[k++] = ids[i];
            cnt = k;
            wc_proto_put_table_ids(out, ids, cnt);
        }
        wc_free(ids);
        break;
    }
    case WC_OP_APPLY: {
        wc_consistency cl;
        const uint8_t *batch;
        size_t len;
        bool client_syncs;
        wc_clpos need;
        WC__DECODE(wc_proto_get_apply(body, blen, &cl, &client_syncs, &batch, &len));
        if ((cc = wc__coordinator(n)) != NULL) {
            st = wc__coord_apply(n, cc, batch, len, cl);
            break;
        }
        if ((st = wc__not_joined(n)) != WC_OK)
            break;
        if ((st = wc__check_batch(n, batch, len, cl)) != WC_OK)
            break;
        if (!client_syncs || n->ring == NULL) {
            st = wc_views_apply(n->views, e, batch, len);
            break;
        }
        /* batch mode: the client fsyncs (clsync.h) unless the position cannot be published */
        if ((st = wc_views_apply_unsynced(n->views, e, batch, len, &need)) != WC_OK ||
            need.segment == 0)
            break;
        if (wc_shmring_note_appended(n->ring, need)) {
            wc_proto_put_clpos(out, need);
            c->client_fsyncs = true;
        } else {
            st = wc_engine_sync_to(e, need);
        }
        break;
    }
    case WC_OP_SYNC: {
        wc_clpos pos;
        WC__DECODE(wc_proto_get_clpos(body, blen, false, &pos));
        st = wc_engine_sync_to(e, pos);
        break;
    }
    case WC_OP_STAGE: {
        wc_consistency cl;
        const uint8_t *batch;
        size_t len;
        bool first;
        WC__DECODE(wc_proto_get_stage(body, blen, &cl, &first, &batch, &len));
        if ((st = wc__stage_allowed(c)) != WC_OK)
            break;
        if (first) {
            wc_engine_stage_abort(e, c->staged);
            c->staged = NULL;
            if ((st = wc_engine_stage_begin(e, &c->staged)) != WC_OK)
                break;
        } else if (c->staged == NULL) {
            st = wc_error(WC_INVALID_ARGUMENT,
                          "no staged transaction is open on this connection (it was published "
                          "or aborted)");
            break;
        }
        if ((st = wc__check_batch(n, batch, len, cl)) != WC_OK) {
            char why[512];

            /* the transaction cannot be complete any more: later chunks are refused */
            snprintf(why, sizeof(why), "%s", wc_last_error());
            wc_engine_stage_abort(e, c->staged);
            c->staged = NULL;
            st = wc_error(st, "%s", why);
            break;
        }
        /* a failure leaves the transaction failed: PUBLISH refuses it */
        st = wc_engine_stage(e, c->staged, batch, len);
        break;
    }
    case WC_OP_PUBLISH: {
        uint8_t action;
        wc_staged *s = c->staged;
        WC__DECODE(wc_proto_get_publish(body, blen, &action));
        if (action == WC_PUBLISH_ABORT) {
            c->staged = NULL;
            wc_engine_stage_abort(e, s);
            break;
        }
        if ((st = wc__stage_allowed(c)) != WC_OK)
            break;
        if (s == NULL) {
            st = wc_error(WC_INVALID_ARGUMENT, "nothing is staged on this connection");
            break;
        }
        c->staged = NULL;
        st = wc_engine_publish(e, s);
        break;
    }
    case WC_OP_READ: {
        wc_read_request req;
        wc_consistency cl;
        uint32_t *cols = NULL;
        wc_page *page = NULL;
        const uint8_t *overlay; /* the reader's pending writes (a transaction's) */
        size_t overlay_len;
        bool trace;                /* the replicas' part follows the page */
        wc_coord_result *res = NULL;
        WC__DECODE(wc_proto_get_read_ex(body, blen, &req, &cl, &cols, &overlay, &overlay_len,
                                        &trace));
        if (trace && (res = wc_calloc(1, sizeof(*res))) == NULL)
            st = wc_error(WC_NO_MEMORY, "out of memory for a read's trace");
        else if ((cc = wc__coordinator(n)) != NULL)
            st = wc__coord_read(n, cc, &req, cl, overlay, overlay_len, &page, res);
        else if ((st = wc__not_joined(n)) != WC_OK)
            ;
        else if ((st = wc__check_table(n, req.table_id, cl, false)) == WC_OK)
            st = wc_engine_read_overlay(e, &req, overlay, overlay_len, false, &page);
        if (st == WC_OK) {
            wc_proto_put_page(out, page);
            wc_page_free(page);
            if (trace)
                wc__put_trace(out, res);
        }
        wc_free(res);
        wc_free(cols);
        break;
    }
    case WC_OP_COUNT_ROWS: {
        wc_read_request req;
        wc_consistency cl;
        uint32_t *cols = NULL;
        const uint8_t *overlay;
        size_t overlay_len;
        bool trace;
        uint64_t count = 0;
        wc_read_stats stats;
        WC__DECODE(wc_proto_get_read_ex(body, blen, &req, &cl, &cols, &overlay, &overlay_len,
                                        &trace));
        st = wc__count_rows(n, &req, cl, overlay, overlay_len, &count, &stats);
        if (st == WC_OK)
            wc_proto_put_count(out, count, &stats);
        wc_free(cols);
        break;
    }
    case WC_OP_INDEX_READ: {
        wc_read_request req;
        wc_consistency cl;
        uint32_t *cols = NULL;
        wc_page *page = NULL;
        char index[128];
        const uint8_t *value;
        size_t vlen;
        WC__DECODE(wc_proto_get_index_read(body, blen, index, &value, &vlen, &req, &cl, &cols));
        if ((cc = wc__coordinator(n)) != NULL) {
            st = wc__coord_index_read(n, cc, &req, cl, index, value, vlen, out);
            wc_free(cols);
            break;
        }
        if ((st = wc__not_joined(n)) != WC_OK)
            ;
        else if ((st = wc__check_table(n, req.table_id, cl, false)) == WC_OK)
            st = wc_engine_index_read(e, &req, index, value, vlen, &page);
        if (st == WC_OK) {
            wc_proto_put_page(out, page);
            wc_page_free(page);
        }
        wc_free(cols);
        break;
    }
    case WC_OP_FLUSH: {
        uint32_t t;
        bool wait;
        WC__DECODE(wc_proto_get_flush(body, blen, &t, &wait));
        st = wc_engine_flush(e, t, wait);
        break;
    }
    case WC_OP_COMPACT: {
        uint32_t t;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        st = wc_engine_compact(e, t);
        break;
    }
    case WC_OP_SCRUB: {
        uint32_t t;
        wc_scrub_result r;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_scrub(e, t, &r)) == WC_OK)
            wc_proto_put_scrub_result(out, &r);
        break;
    }
    case WC_OP_TABLE_STATS: {
        uint32_t t;
        wc_table_stats s;
        memset(&s, 0, sizeof(s));
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_table_stats(e, t, &s)) == WC_OK)
            wc_proto_put_table_stats(out, &s);
        break;
    }
    case WC_OP_COMPACTION_STATS: {
        uint32_t t;
        wc_compaction_stats s;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_compaction_stats(e, t, &s)) == WC_OK)
            wc_proto_put_compaction_stats(out, &s);
        break;
    }
    case WC_OP_COMPACTIONS: {
        uint32_t t;
        wc_compaction_info *v = NULL;
        size_t cnt = 0;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_compactions(e, t, &v, &cnt)) == WC_OK)
            wc_proto_put_compactions(out, v, cnt);
        wc_free(v);
        break;
    }
    case WC_OP_PING:
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed PING message") : WC_OK);
        break;
    case WC_OP_NODE_INFO: {
        wc_node_info *ni;
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed NODE_INFO message") : WC_OK);
        ni = wc_malloc(sizeof(*ni));
        if (ni == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory answering NODE_INFO");
            break;
        }
        wc_node_get_info(n, ni);
        wc_proto_put_node_info(out, ni);
        wc_free(ni);
        break;
    }
    case WC_OP_MEMBERS:
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed MEMBERS message") : WC_OK);
        wc_cluster_members(atomic_load(&n->cluster), out);
        break;
    case WC_OP_STREAMS:
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed STREAMS message") : WC_OK);
        wc_cluster_streams(atomic_load(&n->cluster), out);
        break;
    case WC_OP_SCHEMA_CHANGE:
    case WC_OP_SCHEMA_LIST:
        *fatal = (st = wc_schema_runtime_serve(wc_cluster_schema(atomic_load(&n->cluster)), op,
                                               body, blen, out)) == WC_CORRUPTION;
        break;
    case WC_OP_REPAIR: {
        uint32_t t;
        uint8_t flags;
        wc_proto_repair_info ri;
        WC__DECODE(wc_proto_get_repair(body, blen, &t, &flags));
        if ((st = wc__repair(n, t, flags, &ri)) == WC_OK)
            wc_proto_put_repair_info(out, &ri);
        break;
    }
    case WC_OP_REPAIRS:
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed REPAIRS message") : WC_OK);
        pthread_mutex_lock(&n->repairs_mu);
        wc_proto_put_repairs(out, n->repairs, n->nrepairs);
        pthread_mutex_unlock(&n->repairs_mu);
        break;
    case WC_OP_CAS: {
        wc_lwt_request lr;
        bool applied = false;
        WC__DECODE(wc_lwt_get_request(body, blen, &lr));
        if ((cc = wc__coordinator(n)) != NULL)
            st = wc__cas_coord(n, cc, &lr, &applied);
        else if ((st = wc__not_joined(n)) == WC_OK &&
                 (st = wc__check_table(n, lr.table_id, lr.serial_cl, false)) == WC_OK)
            st = wc__cas_alone(n, &lr, &applied);
        if (st == WC_OK)
            wc_buf_put_u8(out, applied ? 1 : 0);
        break;
    }
    case WC_OP_CLEANUP: {
        uint32_t t;
        wc_cleanup_result r;
        WC__DECODE(wc_proto_get_cleanup(body, blen, &t));
        if ((st = wc__cleanup(n, t, &r)) == WC_OK)
            wc_proto_put_cleanup_result(out, &r);
        break;
    }
    case WC_OP_DECOMMISSION:
        WC__DECODE(blen ? wc_error(WC_CORRUPTION, "malformed DECOMMISSION message") : WC_OK);
        st = wc__topology(n, NULL, out);
        break;
    case WC_OP_REMOVENODE: {
        uint8_t id[WC_MEMBER_HOST_ID_LEN];
        WC__DECODE(wc_proto_get_removenode(body, blen, id));
        st = wc__topology(n, id, out);
        break;
    }
    case WC_OP_SNAPSHOT: {
        uint8_t action;
        char tag[64];
        WC__DECODE(wc_proto_get_snapshot(body, blen, &action, tag));
        st = wc__snapshot(n, action, tag, out);
        break;
    }
    default:
        st = wc_error(WC_INVALID_ARGUMENT, "unknown protocol opcode %u", op);
        break;
    }
    if (st == WC_OK && (st = wc_proto_end_frame(out, start)) == WC_OK)
        return WC_OK;
    /* failure (or a response too large to send): an error frame instead */
    {
        char msg[WC_PROTO_MAX_ERROR_MESSAGE];
        snprintf(msg, sizeof(msg), "%s", *wc_last_error() ? wc_last_error() : wc_status_name(st));
        wc_buf_reset(out);
        start = wc_proto_begin_response(out, id, st);
        wc_proto_put_error(out, msg);
        if (wc_proto_end_frame(out, start) != WC_OK)
            *fatal = true;
    }
    return st;
}

/* ---------------------------------------------------------------- transport */

/*
 * Send all of p, waiting in poll() at most send_timeout_ms whenever the
 * peer's buffer is full; false on any error or timeout (the connection is
 * then dropped).
 */
static bool wc__send_all(wc_node *n, int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int r;

            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return false;
            do
                r = poll(&pf, 1, (int)n->send_timeout_ms);
            while (r < 0 && errno == EINTR);
            if (r <= 0 || (pf.revents & (POLLERR | POLLHUP | POLLNVAL)))
                return false;
            continue;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* Put an error response with request id 0 (frame-level trouble) in out. */
static wc_status wc__error_frame(wc_buf *out, wc_status st, const char *msg)
{
    size_t start;

    wc_buf_reset(out);
    start = wc_proto_begin_response(out, 0, st);
    wc_proto_put_error(out, msg);
    return wc_proto_end_frame(out, start);
}

/* Send an error response with request id 0 (frame-level trouble). */
static void wc__frame_error(wc__conn *c, wc_status st, const char *msg)
{
    if (wc__error_frame(&c->out, st, msg) == WC_OK)
        (void)wc__send_all(c->node, c->fd, c->out.data, c->out.len);
}

/*
 * Look at the next frame in c->in without consuming it.  Returns 1 with *p
 * and *len set to the payload, 0 if it is not complete yet (room for it is
 * reserved), -1 on memory exhaustion, -2 if the length prefix is over max
 * (message in wc_last_error).
 */
static int wc__peek_frame(wc__conn *c, uint32_t max, const uint8_t **p, uint32_t *len)
{
    size_t have = c->in.len - c->in_pos;
    uint32_t n;

    if (have < WC_PROTO_FRAME_HEADER)
        return 0;
    n = wc_dec_u32(c->in.data + c->in_pos);
    if (n > max) {
        if (max == WC_PROTO_MAX_FRAME)
            (void)wc_proto_frame_length(c->in.data + c->in_pos, &n);
        return -2;
    }
    if (have >= WC_PROTO_FRAME_HEADER + (size_t)n) {
        *p = c->in.data + c->in_pos + WC_PROTO_FRAME_HEADER;
        *len = n;
        return 1;
    }
    if (c->in_pos > 0) {
        memmove(c->in.data, c->in.data + c->in_pos, have);
        c->in.len = have;
        c->in_pos = 0;
    }
    if (!wc_buf_reserve(&c->in, WC_PROTO_FRAME_HEADER + (size_t)n - have)) {
        wc_error(WC_NO_MEMORY, "out of memory receiving a frame of %u bytes", n);
        return -1;
    }
    return 0;
}

/*
 * Receive what the socket holds (it never blocks) until the next frame is
 * complete.  Returns as wc__peek_frame, and -1 also on end of stream or an
 * I/O error (c->eof set).
 */
static int wc__fill(wc__conn *c, uint32_t max, const uint8_t **p, uint32_t *len)
{
    for (;;) {
        int r = wc__peek_frame(c, max, p, len);
        ssize_t got;

        if (r != 0)
            return r;
        if (c->eof)
            return -1;
        if (c->in_pos > 0 && c->in_pos == c->in.len)
            c->in.len = c->in_pos = 0;
        if (c->in.cap - c->in.len < WC__READ_CHUNK / 4 && !wc_buf_reserve(&c->in, WC__READ_CHUNK)) {
            wc_error(WC_NO_MEMORY, "out of memory receiving a frame");
            return -1;
        }
        got = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (got <= 0) {
            c->eof = true;
            return -1;
        }
        c->in.len += (size_t)got;
    }
}

/* Answer the handshake frame p; false if the connection must be closed. */
static bool wc__handshake(wc__conn *c, int frame, const uint8_t *p, uint32_t len)
{
    uint32_t version;
    char msg[256];
    bool ok = false;

    wc_buf_reset(&c->out);
    if (frame == -2 || wc_proto_get_handshake(p, len, &version) != WC_OK) {
        wc_proto_put_handshake_reply(&c->out, WC_PROTO_VERSION, WC_CORRUPTION,
                                     "not a widecol client handshake: expected magic \"WCCP\" "
                                     "and a protocol version");
    } else if (version != WC_PROTO_VERSION) {
        snprintf(msg, sizeof(msg),
                 "protocol version mismatch: the client speaks version %u, this widecol node "
                 "speaks version %u (install the same widecol version in every backend and the "
                 "node, then restart)",
                 version, WC_PROTO_VERSION);
        wc_proto_put_handshake_reply(&c->out, WC_PROTO_VERSION, WC_INVALID_ARGUMENT, msg);
    } else {
        wc_proto_put_handshake_reply(&c->out, WC_PROTO_VERSION, WC_OK, NULL);
        ok = true;
    }
    if (c->out.failed || !wc__send_all(c->node, c->fd, c->out.data, c->out.len))
        return false;
    if (frame == 1)
        c->in_pos += WC_PROTO_FRAME_HEADER + (size_t)len;
    return ok;
}

/* ---------------------------------------------------------------- scheduling */

static void wc__fifo_push(wc__fifo *q, wc__conn *c)
{
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

static wc__conn *wc__fifo_pop(wc__fifo *q)
{
    wc__conn *c = q->head;

    if (c) {
        q->head = c->next;
        if (q->head == NULL)
            q->tail = NULL;
        c->next = NULL;
    }
    return c;
}

/* Wake a worker waiting in epoll to look at the queues. */
static void wc__kick(wc_node *n)
{
    uint64_t one = 1;
    ssize_t w;

    do
        w = write(n->kick, &one, sizeof(one));
    while (w < 0 && errno == EINTR);
}

/* Queue c for a worker (its next request is small) or, bulk, for a bulk worker. */
static void wc__enqueue(wc_node *n, wc__conn *c, bool bulk)
{
    pthread_mutex_lock(&n->qmu);
    wc__fifo_push(bulk ? &n->bulk : &n->ready, c);
    if (bulk)
        pthread_cond_signal(&n->bulk_cv);
    pthread_mutex_unlock(&n->qmu);
    if (!bulk)
        wc__kick(n);
}

/*
 * A connection of the ready queue to serve, or NULL, in arrival order.  If
 * more remain queued another worker is woken for them.
 */
static wc__conn *wc__take_queued(wc_node *n)
{
    wc__conn *c;
    bool more;

    pthread_mutex_lock(&n->qmu);
    c = wc__fifo_pop(&n->ready);
    more = c != NULL && n->ready.head;
    pthread_mutex_unlock(&n->qmu);
    if (more)
        wc__kick(n);
    return c;
}

/* Hand c back to the event loop: it comes back when its socket is readable. */
static bool wc__rearm(wc__conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};

    return epoll_ctl(c->node->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

static void wc__conn_free(wc__conn *c)
{
    /* a connection that ends drops what it staged and never published */
    wc_engine_stage_abort(c->node->engine, c->staged);
    if (c->fd >= 0)
        close(c->fd);
    wc_buf_free(&c->in);
    wc_buf_free(&c->out);
    wc_free(c);
}

/* Take c off the node's list of connections.  REQUIRES: n->mu held. */
static void wc__unlink(wc_node *n, wc__conn *c)
{
    if (c->prev_all)
        c->prev_all->next_all = c->next_all;
    else
        n->conns = c->next_all;
    if (c->next_all)
        c->next_all->prev_all = c->prev_all;
    n->nconns--;
    atomic_fetch_sub(&n->conns_open, 1);
}

/* Forget c and close its socket.  REQUIRES: the calling worker owns c. */
static void wc__conn_close(wc__conn *c)
{
    wc_node *n = c->node;

    pthread_mutex_lock(&n->mu);
    wc__unlink(n, c);
    pthread_mutex_unlock(&n->mu);
    (void)epoll_ctl(n->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    wc__conn_free(c);
}

/*
 * One turn of a connection on a worker: complete the handshake, or serve
 * at most one request, then requeue it (another request is buffered),
 * hand it back to the event loop, or close it.
 */
static void wc__turn(wc__conn *c)
{
    wc_node *n = c->node;
    const uint8_t *payload, *body;
    uint32_t len, id = 0;
    size_t blen;
    uint8_t op = 0;
    bool fatal = false, on_bulk = c->bulk_turn;
    wc_status st;
    int r;

    c->bulk_turn = false; /* set by a bulk worker for this one turn */
    if (!atomic_load(&c->handshaken)) {
        r = wc__fill(c, WC_PROTO_HANDSHAKE_LEN, &payload, &len);
        if (r == -1)
            goto close;
        if (r == 0)
            goto wait;
        if (!wc__handshake(c, r, payload, len))
            goto close;
        atomic_store(&c->handshaken, true);
        goto next;
    }
    r = wc__fill(c, WC_PROTO_MAX_FRAME, &payload, &len);
    if (r == -1)
        goto close;
    if (r == 0)
        goto wait;
    if (r == -2) {
        atomic_fetch_add(&n->errors_total, 1);
        wc__frame_error(c, WC_CORRUPTION, wc_last_error());
        goto close;
    }
    /* a large request goes to the bulk workers, below the priority of this one */
    if (len > WC__BULK_BYTES && !on_bulk) {
        wc__enqueue(n, c, true);
        return;
    }
    wc_clear_error();
    st = wc_proto_parse_request(payload, len, &op, &id, &body, &blen);
    atomic_fetch_add(&n->requests_total, 1);
    atomic_fetch_add(&n->requests[st == WC_OK ? op : 0], 1);
    if (st == WC_CORRUPTION) {
        atomic_fetch_add(&n->errors_total, 1);
        wc__frame_error(c, st, wc_last_error());
        goto close;
    }
    st = wc__serve(c, op, id, body, blen, &fatal);
    if (st != WC_OK)
        atomic_fetch_add(&n->errors_total, 1);
    c->in_pos += WC_PROTO_FRAME_HEADER + (size_t)len;
    if (!wc__send_all(n, c->fd, c->out.data, c->out.len) || fatal)
        goto close;
    /* do not keep the memory of one huge request or page around */
    if (c->in_pos == c->in.len) {
        c->in.len = c->in_pos = 0;
        if (c->in.cap > WC__KEEP_BUFFER) {
            wc_buf_free(&c->in);
            wc_buf_init(&c->in);
        }
    }
    if (c->out.cap > WC__KEEP_BUFFER) {
        wc_buf_free(&c->out);
        wc_buf_init(&c->out);
    }
next:
    /* another request already buffered goes to the back of the line */
    if (wc__peek_frame(c, WC_PROTO_MAX_FRAME, &payload, &len) != 0) {
        wc__enqueue(n, c, false);
        return;
    }
    if (c->eof)
        goto close;
wait:
    if (wc__rearm(c))
        return;
close:
    wc__conn_close(c);
}

/* ---------------------------------------------------------------- event loop */

static void wc__refuse(wc_node *n, int fd, wc_status st, const char *msg)
{
    wc_buf b;

    atomic_fetch_add(&n->conns_refused, 1);
    wc_buf_init(&b);
    wc_proto_put_handshake_reply(&b, WC_PROTO_VERSION, st, msg);
    if (!b.failed)
        (void)send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    wc_buf_free(&b);
    close(fd);
    wc__log(n, WC_LOG_WARNING, "widecol node refused a connection: %s", msg);
}

static void wc__accept_one(wc_node *n, int fd)
{
    wc__conn *c = NULL;
    int bufsz = WC__SOCKET_BUFFER;
    struct epoll_event ev;
    char msg[160];

    pthread_mutex_lock(&n->mu);
    if (n->nconns >= n->max_conns) {
        pthread_mutex_unlock(&n->mu);
        snprintf(msg, sizeof(msg),
                 "the widecol node has too many connections (max_connections = %u)",
                 n->max_conns);
        wc__refuse(n, fd, WC_OVERLOADED, msg);
        return;
    }
    c = wc_calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    c->node = n;
    c->fd = fd;
    c->accepted_ms = wc__ms_since(&n->started);
    atomic_init(&c->handshaken, false);
    wc_buf_init(&c->in);
    wc_buf_init(&c->out);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    c->next_all = n->conns;
    if (n->conns)
        n->conns->prev_all = c;
    n->conns = c;
    n->nconns++;
    atomic_fetch_add(&n->conns_open, 1);
    atomic_fetch_add(&n->conns_total, 1);
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = c;
    /* from here a worker may own c: touch it no more */
    if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        wc__unlink(n, c);
        pthread_mutex_unlock(&n->mu);
        c->fd = -1; /* wc__refuse closes it */
        wc__conn_free(c);
        wc__refuse(n, fd, WC_NO_MEMORY, "the widecol node could not watch a new connection");
        return;
    }
    pthread_mutex_unlock(&n->mu);
    return;
fail:
    pthread_mutex_unlock(&n->mu);
    wc__refuse(n, fd, WC_NO_MEMORY, "the widecol node is out of memory for a new connection");
}

/* Accept every pending connection. */
static void wc__accept_all(wc_node *n)
{
    for (;;) {
        int fd = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd >= 0) {
            wc__accept_one(n, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno == EMFILE || errno == ENFILE) && n->spare_fd >= 0) {
            /* out of descriptors: give the spare one up to say so, then take it back */
            char msg[200];
            int err = errno;

            close(n->spare_fd);
            fd = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            snprintf(msg, sizeof(msg),
                     "the widecol node is out of file descriptors (%s) with %u connections "
                     "open",
                     strerror(err), (unsigned)atomic_load(&n->conns_open));
            if (fd >= 0)
                wc__refuse(n, fd, WC_NO_MEMORY, msg);
            n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            wc__log(n, WC_LOG_WARNING, "widecol node: accept failed: %s", strerror(errno));
        }
        return;
    }
}

/* Shut down connections that did not complete the handshake in time. */
static void wc__sweep_handshakes(wc_node *n)
{
    uint64_t now = wc__ms_since(&n->started);

    pthread_mutex_lock(&n->mu);
    for (wc__conn *c = n->conns; c; c = c->next_all)
        if (!atomic_load(&c->handshaken) && !c->swept &&
            now - c->accepted_ms >= n->handshake_timeout_ms) {
            /* the worker that sees the end of stream closes it */
            c->swept = true;
            shutdown(c->fd, SHUT_RDWR);
        }
    pthread_mutex_unlock(&n->mu);
}

/* Re-arm a one-shot registration of the node's own descriptors. */
static void wc__rearm_fd(wc_node *n, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = tag};

    (void)epoll_ctl(n->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Run the handshake sweep if it is due and no other worker claimed it. */
static void wc__maybe_sweep(wc_node *n)
{
    uint64_t now = wc__ms_since(&n->started);
    uint_fast64_t last = atomic_load(&n->last_sweep_ms);

    if (now - last >= WC__SWEEP_MS &&
        atomic_compare_exchange_strong(&n->last_sweep_ms, &last, now))
        wc__sweep_handshakes(n);
}

/*
 * A worker: serve queued connections first, else wait in epoll for a
 * readable connection (served at once by this worker), a new connection, a
 * queue event or the stop signal.
 */
static void *wc__worker_main(void *arg)
{
    wc_node *n = arg;

    while (!atomic_load(&n->quit)) {
        struct epoll_event ev;
        wc__conn *c;
        void *p;
        int k;

        wc__maybe_sweep(n);
        if ((c = wc__take_queued(n)) != NULL) {
            wc__turn(c);
            continue;
        }
        k = epoll_wait(n->epfd, &ev, 1, WC__SWEEP_MS);
        if (k < 0 && errno != EINTR) {
            wc__log(n, WC_LOG_ERROR, "widecol node: epoll_wait failed: %s", strerror(errno));
            usleep(10000);
        }
        if (k <= 0)
            continue;
        p = ev.data.ptr;
        if (p == &n->wake[0])
            break;
        if (p == &n->listen_fd) {
            wc__accept_all(n);
            wc__rearm_fd(n, n->listen_fd, &n->listen_fd);
        } else if (p == &n->kick) {
            uint64_t v;
            while (read(n->kick, &v, sizeof(v)) < 0 && errno == EINTR)
                ;
            wc__rearm_fd(n, n->kick, &n->kick);
        } else {
            wc__turn(p);
        }
    }
    return NULL;
}

/*
 * A bulk worker (at n->bulk_nice): serve the connections of the bulk lane,
 * whose next request is large, one turn each, until the node stops.
 */
static void *wc__bulk_main(void *arg)
{
    wc_node *n = arg;

    for (;;) {
        wc__conn *c;

        pthread_mutex_lock(&n->qmu);
        while ((c = wc__fifo_pop(&n->bulk)) == NULL && !atomic_load(&n->quit))
            pthread_cond_wait(&n->bulk_cv, &n->qmu);
        pthread_mutex_unlock(&n->qmu);
        if (c == NULL)
            return NULL;
        c->bulk_turn = true;
        wc__turn(c);
    }
}

/* ---------------------------------------------------------------- shared-memory ring */

/*
 * Serve the request in ring slot i (len bytes, one frame as on the socket)
 * with the handlers of the socket path; c is the worker's own context (no
 * socket).  The response frame replaces the request in the slot, or, too
 * large for it, is announced by its size so that the client asks again
 * over the socket.  Returns the response length to answer the slot with.
 */
static size_t wc__ring_serve(wc_node *n, wc__conn *c, uint32_t i, uint32_t len)
{
    uint8_t *buf = wc_shmring_buffer(n->ring, i);
    uint32_t cap = wc_shmring_slot_bytes(n->ring), id = 0;
    const uint8_t *body = NULL;
    size_t blen = 0, rlen;
    uint8_t op = 0;
    bool fatal = false;
    wc_status st;

    wc_clear_error();
    if (len < WC_PROTO_FRAME_HEADER || len > cap ||
        wc_dec_u32(buf) != len - WC_PROTO_FRAME_HEADER)
        st = wc_error(WC_CORRUPTION, "malformed frame of %u bytes in the shared request ring",
                      len);
    else
        st = wc_proto_parse_request(buf + WC_PROTO_FRAME_HEADER, len - WC_PROTO_FRAME_HEADER,
                                    &op, &id, &body, &blen);
    atomic_fetch_add(&n->requests_total, 1);
    atomic_fetch_add(&n->requests[st == WC_OK ? op : 0], 1);
    if (st == WC_CORRUPTION) {
        atomic_fetch_add(&n->errors_total, 1);
        (void)wc__error_frame(&c->out, st, wc_last_error());
    } else if ((st = wc__serve(c, op, id, body, blen, &fatal)) != WC_OK) {
        atomic_fetch_add(&n->errors_total, 1);
    }
    rlen = c->out.len;
    if (rlen <= cap)
        memcpy(buf, c->out.data, rlen);
    if (c->out.cap > WC__KEEP_BUFFER) {
        wc_buf_free(&c->out);
        wc_buf_init(&c->out);
    }
    return rlen;
}

/*
 * A ring worker: take submitted slots round-robin and serve them until the
 * node stops (a slot in hand is answered first).
 */
static void *wc__ring_main(void *arg)
{
    wc_node *n = arg;
    wc__conn c;
    uint32_t cursor, len = 0;
    size_t rlen;

    memset(&c, 0, sizeof(c));
    c.node = n;
    c.fd = -1;
    wc_buf_init(&c.in);
    wc_buf_init(&c.out);
    /* start the workers at different slots */
    cursor = (uint32_t)(((uintptr_t)&c >> 6) % wc_shmring_slots(n->ring));
    /* one CPU each, so that a request and its answer can stay on the client's CPU */
    (void)wc_shmring_bind_worker(n->ring);
    for (int i = -1; i >= 0 || !atomic_load(&n->quit);) {
        if (i < 0) {
            i = wc_shmring_next(n->ring, &cursor, WC__SWEEP_MS, (int)n->ring_spin_us, &len);
            continue;
        }
        c.client_fsyncs = false;
        rlen = wc__ring_serve(n, &c, (uint32_t)i, len);
        if (atomic_load(&n->quit)) {
            wc_shmring_answer(n->ring, (uint32_t)i, rlen);
            break;
        }
        /*
         * No spin for the next request after an answer whose client fsyncs
         * the commit log next: it comes after that fsync, far beyond any
         * spin, and another client's request wakes a worker as usual.
         */
        i = wc_shmring_answer_next(n->ring, (uint32_t)i, rlen, &cursor, WC__SWEEP_MS,
                                   c.client_fsyncs ? 0 : (int)n->ring_spin_us, &len);
    }
    wc_buf_free(&c.out);
    wc_buf_free(&c.in);
    return NULL;
}

/* Attach to o->ring, start serving it and its workers. */
static wc_status wc__ring_start(wc_node *n, const wc_node_options *o)
{
    wc_status st;

    if (o->ring == NULL)
        return WC_OK;
    if ((st = wc_shmring_open(o->ring, o->ring_size, &n->ring)) != WC_OK)
        return st;
    {
        /* batch mode: clients fsync the commit log themselves (clsync.h) */
        char dir[WC_SHMRING_DIR_MAX];
        if (wc_engine_batch_commitlog_dir(n->engine, dir, sizeof(dir)) != WC_OK ||
            wc_shmring_set_commitlog(n->ring, dir) != WC_OK) {
            wc__log(n, WC_LOG_WARNING, "the node fsyncs every write itself: %s", wc_last_error());
            (void)wc_shmring_set_commitlog(n->ring, NULL);
        }
    }
    n->ring_spin_us = o->ring_spin_us;
    n->ring_workers = wc_calloc(n->nring, sizeof(*n->ring_workers));
    if (n->ring_workers == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting the widecol node");
    wc_shmring_serve_begin(n->ring);
    n->ring_serving = true;
    for (uint32_t i = 0; i < n->nring; i++) {
        if ((st = wc__thread_start(&n->ring_workers[i], wc__ring_main, n, "node ring worker")) !=
            WC_OK)
            return st;
        n->ring_started++;
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- socket */

/* Check the path, replace a stale socket file, refuse a live one. */
static wc_status wc__prepare_path(const char *path)
{
    struct sockaddr_un sa;
    struct stat sb;
    int fd;

    if (path == NULL || *path == '\0')
        return wc_error(WC_INVALID_ARGUMENT, "the widecol node needs a socket path");
    if (strlen(path) >= sizeof(sa.sun_path))
        return wc_error(WC_INVALID_ARGUMENT,
                        "socket path \"%s\" is %zu bytes long; a Unix-domain socket path may have "
                        "at most %zu (move the data directory or set a shorter socket path)",
                        path, strlen(path), sizeof(sa.sun_path) - 1);
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT)
            return WC_OK;
        return wc_error_errno(errno, "could not stat socket path \"%s\"", path);
    }
    if (!S_ISSOCK(sb.st_mode))
        return wc_error(WC_EXISTS, "\"%s\" exists and is not a socket", path);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wc_error_errno(errno, "could not create a Unix-domain socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        close(fd);
        return wc_error(WC_EXISTS, "another widecol node is already listening at \"%s\"", path);
    }
    close(fd);
    if (unlink(path) != 0 && errno != ENOENT)
        return wc_error_errno(errno, "could not remove stale socket \"%s\"", path);
    return WC_OK;
}

static wc_status wc__listen(wc_node *n)
{
    struct sockaddr_un sa;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, n->socket_path, strlen(n->socket_path));
    n->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->listen_fd < 0)
        return wc_error_errno(errno, "could not create a Unix-domain socket");
    if (bind(n->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return wc_error_errno(errno, "could not bind the widecol node socket \"%s\"",
                              n->socket_path);
    n->socket_bound = true;
    if (chmod(n->socket_path, 0600) != 0)
        return wc_error_errno(errno, "could not set the mode of socket \"%s\"", n->socket_path);
    /* a burst of every backend connecting at once should not find the backlog full */
    if (listen(n->listen_fd, n->max_conns > 65535 ? 65535 : (int)n->max_conns) != 0)
        return wc_error_errno(errno, "could not listen on socket \"%s\"", n->socket_path);
    return WC_OK;
}

/* ---------------------------------------------------------------- API */

void wc_node_options_default(wc_node_options *o)
{
    memset(o, 0, sizeof(*o));
    wc_engine_options_default(&o->engine);
    o->max_connections = WC__DEFAULT_MAX_CONNECTIONS;
    o->send_timeout_ms = WC__DEFAULT_SEND_TIMEOUT_MS;
    o->handshake_timeout_ms = WC__DEFAULT_HANDSHAKE_TIMEOUT_MS;
    o->worker_threads = 0;
    o->bulk_nice = WC__DEFAULT_BULK_NICE;
}

/*
 * Worker threads for o: the setting, else two per online CPU (at least
 * WC__MIN_WORKERS).  Under batch sync a write holds its worker until the
 * commit log is fsynced, and writes waiting together share one fsync, so
 * there the default is eight per CPU: waiting workers use no CPU.
 */
static uint32_t wc__worker_count(const wc_node_options *o)
{
    long cpus;
    uint32_t k = o->worker_threads, per_cpu;

    if (k == 0) {
        per_cpu = o->engine.sync_mode == WC_SYNC_BATCH ? 8 : 2;
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        k = cpus > 0 ? per_cpu * (uint32_t)cpus : WC__MIN_WORKERS;
        if (k < WC__MIN_WORKERS * per_cpu / 2)
            k = WC__MIN_WORKERS * per_cpu / 2;
    }
    return k > WC__MAX_WORKERS ? WC__MAX_WORKERS : k;
}

/*
 * Ring workers for o: as many as socket workers when the setting asks
 * for a number or under batch sync (a write holds its worker until its
 * fsync), else one per online CPU, at least 2.  A ring request is small
 * and rarely waits, and a ring worker that is looking for work spares
 * waking another, so more ring workers than CPUs only add wake-ups
 * (measured in docs/benchmarks.md, "Where a point read's time goes").
 */
static uint32_t wc__ring_worker_count(const wc_node_options *o, uint32_t workers)
{
    long cpus;

    if (o->worker_threads != 0 || o->engine.sync_mode == WC_SYNC_BATCH)
        return workers;
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 2 ? (uint32_t)(cpus > WC__MAX_WORKERS ? WC__MAX_WORKERS : cpus) : 2;
}

/*
 * Bulk workers for o: half as many as socket workers when the setting asks
 * for a number or under batch sync (a chunk holds its worker until its
 * fsync), else half the online CPUs, at least 1.  One COPY keeps its
 * backend and one bulk worker busy; more bulk workers than half the CPUs
 * let loads take every core from the readers (a point read's p99 during a
 * COPY, docs/benchmarks.md, "Point reads during a COPY: bulk workers").
 */
static uint32_t wc__bulk_worker_count(const wc_node_options *o, uint32_t workers)
{
    long cpus;

    if (o->worker_threads != 0 || o->engine.sync_mode == WC_SYNC_BATCH)
        return workers / 2 ? workers / 2 : 1;
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 1 ? (uint32_t)(cpus / 2 > WC__MAX_WORKERS ? WC__MAX_WORKERS : cpus / 2) : 1;
}

/* Create the epoll set with the listening socket, the queue event and the wake-up pipe. */
static wc_status wc__loop_init(wc_node *n)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};

    n->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (n->epfd < 0)
        return wc_error_errno(errno, "could not create the node's epoll set");
    n->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->kick < 0)
        return wc_error_errno(errno, "could not create the node's queue event");
    ev.data.ptr = &n->listen_fd;
    if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->listen_fd, &ev) != 0)
        return wc_error_errno(errno, "could not watch the node's socket");
    ev.data.ptr = &n->kick;
    if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->kick, &ev) != 0)
        return wc_error_errno(errno, "could not watch the node's queue event");
    /* level-triggered and never read: once written, it wakes every worker */
    ev.events = EPOLLIN;
    ev.data.ptr = &n->wake[0];
    if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->wake[0], &ev) != 0)
        return wc_error_errno(errno, "could not watch the node's wake-up pipe");
    return WC_OK;
}

/* Start the workers and the bulk workers. */
static wc_status wc__start_threads(wc_node *n)
{
    wc_status st;

    for (uint32_t i = 0; i < n->nworkers; i++) {
        if ((st = wc__thread_start(&n->workers[i], wc__worker_main, n, "node worker")) != WC_OK)
            return st;
        n->workers_started++;
    }
    for (uint32_t i = 0; i < n->nbulk; i++) {
        st = wc__thread_start_nice(&n->bulk_workers[i], wc__bulk_main, n, "node bulk worker",
                                   n->bulk_nice, n->bulk_yield_us);
        if (st != WC_OK)
            return st;
        n->bulk_started++;
    }
    return WC_OK;
}

wc_status wc_node_start(const wc_node_options *o, wc_node **out)
{
    wc_node *n = NULL;
    wc_engine_options eo = o->engine;
    sigset_t all, old;
    wc_status st;

    *out = NULL;
    if (o->engine.dir == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "the widecol node needs a data directory");
    if ((st = wc__prepare_path(o->socket_path)) != WC_OK)
        return st;
    n = wc_calloc(1, sizeof(*n));
    if (n == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting the widecol node");
    n->listen_fd = n->epfd = n->kick = -1;
    n->wake[0] = n->wake[1] = -1;
    snprintf(n->socket_path, sizeof(n->socket_path), "%s", o->socket_path);
    snprintf(n->data_dir, sizeof(n->data_dir), "%s", o->engine.dir);
    n->max_conns = o->max_connections ? o->max_connections : WC__DEFAULT_MAX_CONNECTIONS;
    n->send_timeout_ms = o->send_timeout_ms ? o->send_timeout_ms : WC__DEFAULT_SEND_TIMEOUT_MS;
    n->handshake_timeout_ms =
        o->handshake_timeout_ms ? o->handshake_timeout_ms : WC__DEFAULT_HANDSHAKE_TIMEOUT_MS;
    n->nworkers = wc__worker_count(o);
    n->nring = wc__ring_worker_count(o, n->nworkers);
    /* large requests get workers of their own */
    n->nbulk = wc__bulk_worker_count(o, n->nworkers);
    n->bulk_nice = o->bulk_nice;
    n->bulk_yield_us = o->engine.bulk_yield_us;
    n->log = o->engine.log;
    n->log_arg = o->engine.log_arg;
    clock_gettime(CLOCK_MONOTONIC, &n->started);
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->qmu, NULL);
    pthread_cond_init(&n->bulk_cv, NULL);
    pthread_rwlock_init(&n->repl_mu, NULL);
    pthread_mutex_init(&n->repairs_mu, NULL);
    for (int i = 0; i < WC__CAS_LOCKS; i++)
        pthread_mutex_init(&n->cas_mu[i], NULL);
    atomic_init(&n->write_timeout_ms, WC_NODE_DEFAULT_WRITE_TIMEOUT_MS);
    atomic_init(&n->read_timeout_ms, WC_NODE_DEFAULT_READ_TIMEOUT_MS);
    atomic_init(&n->cluster_expected, o->cluster_expected);
    n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    n->workers = wc_calloc(n->nworkers, sizeof(*n->workers));
    n->bulk_workers = wc_calloc(n->nbulk, sizeof(*n->bulk_workers));
    if (n->workers == NULL || n->bulk_workers == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting the widecol node");
        goto fail;
    }
    if (pipe2(n->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        st = wc_error_errno(errno, "could not create the node's wake-up pipe");
        goto fail;
    }

    /* a cluster read needs other replicas: only a node alone answers from a row cache */
    if (o->row_cache != NULL && !o->cluster_expected) {
        if ((st = wc_rowcache_open(o->row_cache, o->row_cache_size, &n->rowcache)) != WC_OK)
            goto fail;
        /* entries of an earlier node are stale; writers it left counted are forgotten */
        wc_rowcache_serve(n->rowcache, false);
        eo.change_hook = wc_rowcache_change;
        eo.change_hook_arg = n->rowcache;
    }

    /* the same for direct reads: a node alone publishes its files to its clients */
    if (o->direct_read != NULL && !o->cluster_expected) {
        if ((st = wc_directread_open(o->direct_read, o->direct_read_size, &n->direct)) != WC_OK)
            goto fail;
        /* an earlier node's tables are forgotten; serials grow past what it used */
        wc_directread_serve(n->direct, NULL, false);
        eo.publish_hook = wc_directread_publish;
        eo.resident_hook = wc_directread_resident;
        eo.direct_hook_arg = n->direct;
        eo.memtable_serial_base = wc_directread_serial_base(n->direct);
    }

    /* Every thread started from here on inherits a fully blocked mask. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    st = wc_engine_open(&eo, &n->engine);
    if (st == WC_OK)
        st = wc__repl_load(n);
    if (st == WC_OK && (st = wc_views_new(&n->views)) == WC_OK)
        st = wc_views_load(n->views, n->engine);
    /* before any request can come: no write runs while the cache starts */
    if (st == WC_OK && n->rowcache != NULL)
        wc_rowcache_serve(n->rowcache, true);
    if (st == WC_OK && n->direct != NULL)
        wc_directread_serve(n->direct, eo.dir, true);
    if (st == WC_OK)
        st = wc__listen(n);
    if (st == WC_OK)
        st = wc__loop_init(n);
    if (st == WC_OK)
        st = wc__start_threads(n);
    if (st == WC_OK)
        st = wc__ring_start(n, o);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (st != WC_OK)
        goto fail;
    wc__log(n, WC_LOG_INFO,
            "widecol node listening on \"%s\" (protocol version %u, %u worker threads, at most "
            "%u connections; shared-memory ring: %u slots of %u bytes, %u workers)",
            n->socket_path, WC_PROTO_VERSION, n->nworkers, n->max_conns,
            n->ring ? wc_shmring_slots(n->ring) : 0, n->ring ? wc_shmring_slot_bytes(n->ring) : 0,
            n->ring_started);
    *out = n;
    return WC_OK;
fail:
    wc_node_stop(n);
    return st;
}

void wc_node_stop(wc_node *n)
{
    wc__conn *c;

    if (n == NULL)
        return;
    atomic_store(&n->quit, true);
    /* coordinated requests still waiting end now; the engine store goes before the engine */
    wc_cluster_stop_coordinating(atomic_load(&n->cluster));
    if (n->wake[1] >= 0) {
        ssize_t w;
        do
            w = write(n->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
    }
    /* wake every connection: a request being served completes, its answer finds the end */
    pthread_mutex_lock(&n->mu);
    for (c = n->conns; c; c = c->next_all)
        shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&n->mu);
    for (uint32_t i = 0; i < n->workers_started; i++)
        pthread_join(n->workers[i], NULL);
    wc_free(n->workers);
    /* the bulk workers finish the turn in hand; connections still queued are freed below */
    pthread_mutex_lock(&n->qmu);
    pthread_cond_broadcast(&n->bulk_cv);
    pthread_mutex_unlock(&n->qmu);
    for (uint32_t i = 0; i < n->bulk_started; i++)
        pthread_join(n->bulk_workers[i], NULL);
    wc_free(n->bulk_workers);
    /* ring clients get "unavailable"; its workers finish the request in hand */
    if (n->ring_serving)
        wc_shmring_serve_end(n->ring);
    for (uint32_t i = 0; i < n->ring_started; i++)
        pthread_join(n->ring_workers[i], NULL);
    wc_free(n->ring_workers);
    wc_shmring_close(n->ring);
    while ((c = n->conns) != NULL) {
        n->conns = c->next_all;
        wc__conn_free(c);
    }
    if (n->epfd >= 0)
        close(n->epfd);
    if (n->kick >= 0)
        close(n->kick);
    if (n->spare_fd >= 0)
        close(n->spare_fd);
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    if (n->socket_bound)
        unlink(n->socket_path);
    if (n->wake[0] >= 0)
        close(n->wake[0]);
    if (n->wake[1] >= 0)
        close(n->wake[1]);
    if (n->direct != NULL)
        wc_directread_serve(n->direct, NULL, false); /* clients read through the node from now */
    if (n->engine)
        wc_engine_close(n->engine);
    if (n->direct != NULL)
        wc_directread_close(n->direct);
    if (n->rowcache != NULL) {
        wc_rowcache_serve(n->rowcache, false); /* no writer runs any more */
        wc_rowcache_close(n->rowcache);
    }
    wc_views_free(n->views);
    wc_free(n->repl);
    pthread_rwlock_destroy(&n->repl_mu);
    pthread_mutex_destroy(&n->repairs_mu);
    for (int i = 0; i < WC__CAS_LOCKS; i++)
        pthread_mutex_destroy(&n->cas_mu[i]);
    pthread_mutex_destroy(&n->qmu);
    pthread_cond_destroy(&n->bulk_cv);
    pthread_mutex_destroy(&n->mu);
    wc_free(n);
}

void wc_node_set_cluster(wc_node *n, wc_cluster *c) { atomic_store(&n->cluster, c); }

void wc_node_serve_alone(wc_node *n) { atomic_store(&n->cluster_expected, false); }

void wc_node_cluster_local(wc_node *n, wc_cluster_local *out)
{
    memset(out, 0, sizeof(*out));
    out->store_open = wc__local_store_open;
    out->store_close = wc__local_store_close;
    out->replication = wc__local_replication;
    out->hint_ttl = wc__local_hint_ttl;
    out->apply = wc__local_apply;
    out->views_attach = wc__local_views_attach;
    out->table_followed = wc__local_table_followed;
    out->ctx = n;
}

void wc_node_set_timeouts(wc_node *n, uint32_t write_ms, uint32_t read_ms)
{
    atomic_store(&n->write_timeout_ms, write_ms ? write_ms : 1);
    atomic_store(&n->read_timeout_ms, read_ms ? read_ms : 1);
}

wc_engine *wc_node_engine(wc_node *n)
{
    return n->engine;
}

void wc_node_get_info(wc_node *n, wc_node_info *out)
{
    memset(out, 0, sizeof(*out));
    out->protocol_version = WC_PROTO_VERSION;
    snprintf(out->version, sizeof(out->version), "%s", WC_NODE_VERSION);
    out->uptime_ms = wc__ms_since(&n->started);
    snprintf(out->data_dir, sizeof(out->data_dir), "%s", n->data_dir);
    snprintf(out->socket_path, sizeof(out->socket_path), "%s", n->socket_path);
    out->connections_open = (uint32_t)atomic_load(&n->conns_open);
    out->max_connections = n->max_conns;
    out->connections_total = atomic_load(&n->conns_total);
    out->connections_refused = atomic_load(&n->conns_refused);
    out->requests_total = atomic_load(&n->requests_total);
    out->errors_total = atomic_load(&n->errors_total);
    for (int i = 0; i < WC_OP_COUNT; i++)
        out->requests[i] = atomic_load(&n->requests[i]);
    if (n->engine != NULL) {
        wc_engine_stats es;

        wc_engine_get_stats(n->engine, &es);
        out->memtable_bytes = es.memtable_bytes;
        out->memtable_flushing_bytes = es.memtable_flushing_bytes;
        out->memtable_limit_bytes = es.memtable_limit_bytes;
        out->commitlog_bytes = es.commitlog_bytes;
        out->commitlog_limit_bytes = es.commitlog_limit_bytes;
        out->writes_stalled = es.writes_stalled;
        out->writes_refused = es.writes_refused;
        snprintf(out->background_error, sizeof(out->background_error), "%s",
                 es.background_error);
    }
}
