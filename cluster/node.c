/*
 * node.c - the node server: listener thread, one thread per connection,
 * request dispatch into the engine (contract and threading in node.h).
 *
 * Locking: n->mu guards the connection slots; n->repl_mu guards the cache
 * of keyspace replication per table; counters are atomics.  A connection
 * thread never closes its own socket: the thread that joins it does, so
 * wc_node_stop can shutdown() any socket it sees without racing a close.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "consistency.h"
#include "protocol.h"
#include "table_options.h"
#include "thread.h"

#define WC__DEFAULT_MAX_CONNECTIONS 64
#define WC__DEFAULT_SEND_TIMEOUT_MS 60000
#define WC__DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define WC__SOCKET_BUFFER (4 << 20)   /* asked of the kernel; it may cap it */
#define WC__READ_CHUNK (256 << 10)    /* least room offered to one recv */
#define WC__KEEP_BUFFER (8 << 20)     /* buffers above this are released when idle */
#define WC__CLUSTER_NODES 1           /* no ring yet: a one-node cluster */
#define WC__LIVE_REPLICAS 1

typedef struct wc__conn {
    wc_node *node;
    int fd;
    pthread_t thread;
    atomic_bool done;
    wc_buf in; /* received bytes: [in_pos, in.len) not yet consumed */
    size_t in_pos;
    wc_buf out;
} wc__conn;

typedef struct wc__repl_entry {
    uint32_t table_id;
    wc_replication r;
} wc__repl_entry;

struct wc_node {
    wc_engine *engine;
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char data_dir[4096];
    int listen_fd;
    int wake[2];
    pthread_t listener;
    bool listener_started;
    bool socket_bound;
    uint32_t max_conns;
    uint32_t send_timeout_ms;
    uint32_t handshake_timeout_ms;
    wc_log_fn log;
    void *log_arg;
    struct timespec started;

    pthread_mutex_t mu;
    wc__conn **slots; /* max_conns entries, NULL = free */

    pthread_rwlock_t repl_mu;
    wc__repl_entry *repl;
    size_t nrepl, repl_cap;

    atomic_uint_fast32_t conns_open;
    atomic_uint_fast64_t conns_total, conns_refused, requests_total, errors_total;
    atomic_uint_fast64_t requests[WC_OP_COUNT];
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

static void wc__set_timeout(int fd, int opt, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    (void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Send all of buf; false on any error (the connection is then dropped). */
static bool wc__send_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
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
        if ((st = wc__change_replication(&def, &r)) == WC_OK)
            st = op == WC_OP_CREATE_TABLE ? wc_engine_create_table(e, &def)
                                          : wc_engine_alter_table(e, &def);
        /* cache what the catalog holds (a repeated CREATE keeps the first definition) */
        if (st == WC_OK && wc_engine_get_table(e, def.id, &stored) == WC_OK) {
            if (wc_table_replication(&stored, &r) != WC_OK)
                wc_replication_default(&r);
            wc_table_def_clear(&stored);
            wc__repl_set(n, def.id, &r);
            wc_clear_error();
        }
        wc_table_def_clear(&def);
        break;
    }
    case WC_OP_DROP_TABLE: {
        uint32_t t;
        WC__DECODE(wc_proto_get_table_id(body, blen, &t));
        if ((st = wc_engine_drop_table(e, t)) == WC_OK)
            wc__repl_remove(n, t);
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
        if ((st = wc_engine_list_tables(e, &ids, &cnt)) == WC_OK)
            wc_proto_put_table_ids(out, ids, cnt);
        wc_free(ids);
        break;
    }
    case WC_OP_APPLY: {
        wc_consistency cl;
        const uint8_t *batch;
        size_t len;
        WC__DECODE(wc_proto_get_apply(body, blen, &cl, &batch, &len));
        if ((st = wc__check_batch(n, batch, len, cl)) != WC_OK)
            break;
        st = wc_engine_apply_batch(e, batch, len);
        break;
    }
    case WC_OP_READ: {
        wc_read_request req;
        wc_consistency cl;
        uint32_t *cols = NULL;
        wc_page *page = NULL;
        WC__DECODE(wc_proto_get_read(body, blen, &req, &cl, &cols));
        if ((st = wc__check_table(n, req.table_id, cl, false)) == WC_OK &&
            (st = wc_engine_read(e, &req, &page)) == WC_OK) {
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

/* Append an error response with request id 0 (frame-level trouble). */
static void wc__frame_error(wc__conn *c, wc_status st, const char *msg)
{
    size_t start;

    wc_buf_reset(&c->out);
    start = wc_proto_begin_response(&c->out, 0, st);
    wc_proto_put_error(&c->out, msg);
    if (wc_proto_end_frame(&c->out, start) == WC_OK)
        (void)wc__send_all(c->fd, c->out.data, c->out.len);
}

/*
 * Read the next frame into c->in.  Returns 1 with *p and *len set to the
 * payload, 0 on a clean end of stream, -1 on an I/O error, -2 if the length
 * prefix is over max (message in wc_last_error).
 */
static int wc__read_frame(wc__conn *c, uint32_t max, const uint8_t **p, uint32_t *len)
{
    for (;;) {
        size_t have = c->in.len - c->in_pos;
        ssize_t r;

        if (have >= WC_PROTO_FRAME_HEADER) {
            uint32_t n = wc_dec_u32(c->in.data + c->in_pos);
            if (n > max) {
                if (max == WC_PROTO_MAX_FRAME)
                    (void)wc_proto_frame_length(c->in.data + c->in_pos, &n);
                return -2;
            }
            if (have >= WC_PROTO_FRAME_HEADER + (size_t)n) {
                *p = c->in.data + c->in_pos + WC_PROTO_FRAME_HEADER;
                *len = n;
                c->in_pos += WC_PROTO_FRAME_HEADER + (size_t)n;
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
        } else if (c->in_pos > 0) {
            memmove(c->in.data, c->in.data + c->in_pos, have);
            c->in.len = have;
            c->in_pos = 0;
        }
        if (c->in.cap - c->in.len < WC__READ_CHUNK / 4 && !wc_buf_reserve(&c->in, WC__READ_CHUNK)) {
            wc_error(WC_NO_MEMORY, "out of memory receiving a frame");
            return -1;
        }
        r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        c->in.len += (size_t)r;
    }
}

static bool wc__handshake(wc__conn *c)
{
    wc_node *n = c->node;
    const uint8_t *p;
    uint32_t len, version;
    char msg[256];
    int r;
    bool ok = false;

    wc__set_timeout(c->fd, SO_RCVTIMEO, n->handshake_timeout_ms);
    r = wc__read_frame(c, WC_PROTO_HANDSHAKE_LEN, &p, &len);
    wc__set_timeout(c->fd, SO_RCVTIMEO, 0);
    wc_buf_reset(&c->out);
    if (r == 0 || r == -1)
        return false;
    if (r == -2 || wc_proto_get_handshake(p, len, &version) != WC_OK) {
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
    if (c->out.failed || !wc__send_all(c->fd, c->out.data, c->out.len))
        return false;
    return ok;
}

static void *wc__conn_main(void *arg)
{
    wc__conn *c = arg;
    wc_node *n = c->node;

    if (!wc__handshake(c))
        goto done;
    for (;;) {
        const uint8_t *payload, *body;
        uint32_t len, id = 0;
        size_t blen;
        uint8_t op = 0;
        bool fatal = false;
        wc_status st;
        int r = wc__read_frame(c, WC_PROTO_MAX_FRAME, &payload, &len);

        if (r == 0 || r == -1)
            break;
        if (r == -2) {
            atomic_fetch_add(&n->errors_total, 1);
            wc__frame_error(c, WC_CORRUPTION, wc_last_error());
            break;
        }
        wc_clear_error();
        st = wc_proto_parse_request(payload, len, &op, &id, &body, &blen);
        atomic_fetch_add(&n->requests_total, 1);
        atomic_fetch_add(&n->requests[st == WC_OK ? op : 0], 1);
        if (st == WC_CORRUPTION) {
            atomic_fetch_add(&n->errors_total, 1);
            wc__frame_error(c, st, wc_last_error());
            break;
        }
        st = wc__serve(c, op, id, body, blen, &fatal);
        if (st != WC_OK)
            atomic_fetch_add(&n->errors_total, 1);
        if (!wc__send_all(c->fd, c->out.data, c->out.len) || fatal)
            break;
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
    }
done:
    /* the peer sees the end now; the socket is closed by whoever joins this thread */
    shutdown(c->fd, SHUT_RDWR);
    atomic_fetch_sub(&n->conns_open, 1);
    atomic_store(&c->done, true);
    return NULL;
}

/* ---------------------------------------------------------------- listener */

static void wc__conn_free(wc__conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    wc_buf_free(&c->in);
    wc_buf_free(&c->out);
    wc_free(c);
}

/* Join and free finished connections.  REQUIRES: n->mu held. */
static void wc__reap(wc_node *n)
{
    for (uint32_t i = 0; i < n->max_conns; i++) {
        wc__conn *c = n->slots[i];
        if (c && atomic_load(&c->done)) {
            pthread_join(c->thread, NULL);
            wc__conn_free(c);
            n->slots[i] = NULL;
        }
    }
}

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
    int slot = -1, bufsz = WC__SOCKET_BUFFER;
    char msg[160];

    pthread_mutex_lock(&n->mu);
    wc__reap(n);
    for (uint32_t i = 0; i < n->max_conns && slot < 0; i++)
        if (n->slots[i] == NULL)
            slot = (int)i;
    if (slot < 0) {
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
    atomic_init(&c->done, false);
    wc_buf_init(&c->in);
    wc_buf_init(&c->out);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    wc__set_timeout(fd, SO_SNDTIMEO, n->send_timeout_ms);
    atomic_fetch_add(&n->conns_open, 1);
    if (wc__thread_start(&c->thread, wc__conn_main, c, "connection") != WC_OK) {
        atomic_fetch_sub(&n->conns_open, 1);
        goto fail;
    }
    n->slots[slot] = c;
    atomic_fetch_add(&n->conns_total, 1);
    pthread_mutex_unlock(&n->mu);
    return;
fail:
    pthread_mutex_unlock(&n->mu);
    if (c) {
        c->fd = -1;
        wc__conn_free(c);
    }
    wc__refuse(n, fd, WC_NO_MEMORY, "the widecol node could not start a connection thread");
}

static void *wc__listener_main(void *arg)
{
    wc_node *n = arg;

    for (;;) {
        struct pollfd pf[2] = {{.fd = n->listen_fd, .events = POLLIN},
                               {.fd = n->wake[0], .events = POLLIN}};
        int fd;

        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            wc__log(n, WC_LOG_ERROR, "widecol node: poll failed: %s", strerror(errno));
            usleep(10000);
            continue;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        fd = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                wc__log(n, WC_LOG_WARNING, "widecol node: accept failed: %s", strerror(errno));
                usleep(10000);
            }
            continue;
        }
        wc__accept_one(n, fd);
    }
    return NULL;
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
    if (listen(n->listen_fd, 128) != 0)
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
}

wc_status wc_node_start(const wc_node_options *o, wc_node **out)
{
    wc_node *n = NULL;
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
    n->listen_fd = -1;
    n->wake[0] = n->wake[1] = -1;
    snprintf(n->socket_path, sizeof(n->socket_path), "%s", o->socket_path);
    snprintf(n->data_dir, sizeof(n->data_dir), "%s", o->engine.dir);
    n->max_conns = o->max_connections ? o->max_connections : WC__DEFAULT_MAX_CONNECTIONS;
    n->send_timeout_ms = o->send_timeout_ms ? o->send_timeout_ms : WC__DEFAULT_SEND_TIMEOUT_MS;
    n->handshake_timeout_ms =
        o->handshake_timeout_ms ? o->handshake_timeout_ms : WC__DEFAULT_HANDSHAKE_TIMEOUT_MS;
    n->log = o->engine.log;
    n->log_arg = o->engine.log_arg;
    clock_gettime(CLOCK_MONOTONIC, &n->started);
    pthread_mutex_init(&n->mu, NULL);
    pthread_rwlock_init(&n->repl_mu, NULL);
    n->slots = wc_calloc(n->max_conns, sizeof(*n->slots));
    if (n->slots == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting the widecol node");
        goto fail;
    }
    if (pipe2(n->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        st = wc_error_errno(errno, "could not create the node's wake-up pipe");
        goto fail;
    }

    /* Every thread started from here on inherits a fully blocked mask. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    st = wc_engine_open(&o->engine, &n->engine);
    if (st == WC_OK)
        st = wc__repl_load(n);
    if (st == WC_OK)
        st = wc__listen(n);
    if (st == WC_OK && (st = wc__thread_start(&n->listener, wc__listener_main, n,
                                              "node listener")) == WC_OK)
        n->listener_started = true;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (st != WC_OK)
        goto fail;
    wc__log(n, WC_LOG_INFO, "widecol node listening on \"%s\" (protocol version %u)",
            n->socket_path, WC_PROTO_VERSION);
    *out = n;
    return WC_OK;
fail:
    wc_node_stop(n);
    return st;
}

void wc_node_stop(wc_node *n)
{
    if (n == NULL)
        return;
    if (n->listener_started) {
        ssize_t w;
        do
            w = write(n->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(n->listener, NULL);
    }
    if (n->slots) {
        /* wake every connection, then join them: a request in progress completes first */
        pthread_mutex_lock(&n->mu);
        for (uint32_t i = 0; i < n->max_conns; i++)
            if (n->slots[i])
                shutdown(n->slots[i]->fd, SHUT_RDWR);
        pthread_mutex_unlock(&n->mu);
        for (uint32_t i = 0; i < n->max_conns; i++)
            if (n->slots[i]) {
                pthread_join(n->slots[i]->thread, NULL);
                wc__conn_free(n->slots[i]);
                n->slots[i] = NULL;
            }
        wc_free(n->slots);
    }
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    if (n->socket_bound)
        unlink(n->socket_path);
    if (n->wake[0] >= 0)
        close(n->wake[0]);
    if (n->wake[1] >= 0)
        close(n->wake[1]);
    if (n->engine)
        wc_engine_close(n->engine);
    wc_free(n->repl);
    pthread_rwlock_destroy(&n->repl_mu);
    pthread_mutex_destroy(&n->mu);
    wc_free(n);
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
