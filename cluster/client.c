/*
 * client.c - blocking, poll()-based client of the local node (contract in
 * client.h).  One thread at a time per client; no threads, no signals.
 */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "lwt.h"
#include "protocol.h"
#include "rowcache.h"
#include "directread.h"
#include "shmring.h"

#define WC__SOCKET_BUFFER (4 << 20)
#define WC__READ_CHUNK (64 << 10)
#define WC__HOOK_SLICE_MS 100
#define WC__MAX_HANDSHAKE_REPLY (64u << 10)

struct wc_client {
    int fd;
    int timeout_ms;
    bool broken;
    uint32_t next_id;
    wc_client_wait_fn hook;
    void *hook_arg;
    wc_buf out;
    bool pending;        /* an APPLY was sent whose answer is not read yet */
    uint32_t pending_id;
    uint8_t *in; /* response buffer; handed to a page by wc_client_read */
    size_t in_cap;
    wc_shmring *ring;    /* NULL: every request goes over the socket */
    uint32_t slot;       /* the ring slot this client claimed */
    int ring_spin_us;
    bool ring_inflight;  /* the request awaiting its answer went through the ring */
    bool socket_only;    /* send the next request over the socket even if it fits the ring */
    wc_rowcache *rowcache; /* NULL: wc_client_read_cached always asks the node */
    wc_directread *direct; /* NULL: wc_client_read_direct always asks the node */
    wc_buf key;          /* the row cache key of the read being served */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ---------------------------------------------------------------- time */

static int64_t wc__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline of a call, -1 for none. */
static int64_t wc__deadline(const wc_client *c)
{
    return c->timeout_ms > 0 ? wc__now_ms() + c->timeout_ms : -1;
}

/* ---------------------------------------------------------------- transport */

static wc_status wc__broken(wc_client *c, wc_status st)
{
    c->broken = true;
    return st;
}

/*
 * Wait until fd is ready for events or the deadline passes.  WC_TIMEOUT on
 * the deadline or when the hook abandons the call.
 */
static wc_status wc__wait(wc_client *c, short events, int64_t deadline, const char *what)
{
    for (;;) {
        struct pollfd pf = {.fd = c->fd, .events = events};
        int slice = -1, r;

        if (deadline >= 0) {
            int64_t left = deadline - wc__now_ms();
            if (left <= 0)
                return wc_error(WC_TIMEOUT, "timed out after %d ms %s the widecol node at \"%s\"",
                                c->timeout_ms, what, c->path);
            slice = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        if (c->hook && (slice < 0 || slice > WC__HOOK_SLICE_MS))
            slice = WC__HOOK_SLICE_MS;
        r = poll(&pf, 1, slice);
        if (r > 0)
            return WC_OK;
        if (r < 0 && errno != EINTR) {
            wc_error_errno(errno, "poll on the connection to the widecol node failed");
            return WC_UNAVAILABLE;
        }
        if (c->hook && !c->hook(c->hook_arg))
            return wc_error(WC_TIMEOUT, "request to the widecol node at \"%s\" interrupted",
                            c->path);
    }
}

/* Send every byte of iov[0..n) (modified in place). */
static wc_status wc__send(wc_client *c, struct iovec *iov, int n, int64_t deadline)
{
    while (n > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        wc_status st;

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if ((st = wc__wait(c, POLLOUT, deadline, "sending to")) != WC_OK)
                    return st;
                continue;
            }
            wc_error_errno(errno, "could not send to the widecol node at \"%s\"", c->path);
            return WC_UNAVAILABLE;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return WC_OK;
}

static wc_status wc__send_buf(wc_client *c, const wc_buf *b, int64_t deadline)
{
    struct iovec iov = {.iov_base = b->data, .iov_len = b->len};

    return wc__send(c, &iov, 1, deadline);
}

static bool wc__in_reserve(wc_client *c, size_t need)
{
    uint8_t *p;
    size_t cap;

    if (need <= c->in_cap)
        return true;
    cap = c->in_cap ? c->in_cap : WC__READ_CHUNK;
    while (cap < need)
        cap *= 2;
    p = wc_realloc(c->in, cap);
    if (p == NULL)
        return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

/*
 * Receive exactly one frame into c->in (reading as much as is there at a
 * time).  *payload points at c->in + 4.  A node never sends anything but
 * the one response, so bytes past the frame are a protocol error.
 */
static wc_status wc__recv_frame(wc_client *c, uint32_t max, int64_t deadline,
                                const uint8_t **payload, uint32_t *len)
{
    size_t have = 0, want = 0; /* want: whole frame, known once the prefix is in */
    uint32_t n = 0;
    wc_status st;

    if (!wc__in_reserve(c, WC__READ_CHUNK))
        return wc_error(WC_NO_MEMORY, "out of memory receiving from the widecol node");
    while (want == 0 || have < want) {
        ssize_t r = recv(c->fd, c->in + have, c->in_cap - have, MSG_DONTWAIT);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /*
                 * Sleep in poll() at once: yielding or spinning here takes
                 * the CPU from the node's threads that would answer, as
                 * soon as backends outnumber cores.
                 */
                if ((st = wc__wait(c, POLLIN, deadline, "waiting for")) != WC_OK)
                    return st;
                continue;
            }
            wc_error_errno(errno, "could not receive from the widecol node at \"%s\"", c->path);
            return WC_UNAVAILABLE;
        }
        if (r == 0)
            return wc_error(WC_UNAVAILABLE, "the widecol node at \"%s\" closed the connection",
                            c->path);
        have += (size_t)r;
        if (want == 0 && have >= WC_PROTO_FRAME_HEADER) {
            n = wc_dec_u32(c->in);
            if (n > max)
                return wc_error(WC_CORRUPTION,
                                "the widecol node at \"%s\" sent a frame of %u bytes (limit %u)",
                                c->path, n, max);
            want = WC_PROTO_FRAME_HEADER + (size_t)n;
            if (!wc__in_reserve(c, want))
                return wc_error(WC_NO_MEMORY, "out of memory receiving %u bytes from the node",
                                n);
        }
        if (want != 0 && have > want)
            return wc_error(WC_CORRUPTION, "the widecol node at \"%s\" sent unexpected bytes",
                            c->path);
    }
    *payload = c->in + WC_PROTO_FRAME_HEADER;
    *len = n;
    return WC_OK;
}

/* Give the ring slot up (also mid-request) and use the socket from now on. */
static void wc__ring_drop(wc_client *c)
{
    if (c->ring == NULL)
        return;
    wc_shmring_release(c->ring, c->slot);
    wc_shmring_close(c->ring);
    c->ring = NULL;
    c->ring_inflight = false;
}

/*
 * Send one request frame, the concatenation of iov[0..n): through the ring
 * slot when it fits there, else over the socket.
 */
static wc_status wc__send_request(wc_client *c, struct iovec *iov, int n, int64_t deadline)
{
    size_t total = 0, off = 0;
    uint8_t *b;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (c->ring == NULL || c->socket_only || total > wc_shmring_slot_bytes(c->ring))
        return wc__send(c, iov, n, deadline);
    b = wc_shmring_buffer(c->ring, c->slot);
    for (int i = 0; i < n; i++) {
        memcpy(b + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    if (wc_shmring_submit(c->ring, c->slot, total) != WC_OK) {
        wc__ring_drop(c);
        return wc_error(WC_UNAVAILABLE, "the widecol node at \"%s\" stopped or restarted",
                        c->path);
    }
    c->ring_inflight = true;
    return WC_OK;
}

/*
 * Receive the answer of a request sent through the ring into c->in, waiting
 * in slices so that the hook and the deadline are honoured.  A response
 * too large for the slot is asked for again over the socket (the slot
 * still holds the request).
 */
static wc_status wc__ring_recv(wc_client *c, int64_t deadline, const uint8_t **payload,
                               uint32_t *len)
{
    uint32_t cap = wc_shmring_slot_bytes(c->ring);
    uint8_t *b = wc_shmring_buffer(c->ring, c->slot);
    size_t rlen = 0;
    wc_status st;

    c->ring_inflight = false;
    for (;;) {
        int slice = WC__HOOK_SLICE_MS;

        if (deadline >= 0) {
            int64_t left = deadline - wc__now_ms();
            if (left <= 0) {
                wc__ring_drop(c);
                return wc_error(WC_TIMEOUT,
                                "timed out after %d ms waiting for the widecol node at \"%s\"",
                                c->timeout_ms, c->path);
            }
            if (left < slice)
                slice = (int)left;
        }
        st = wc_shmring_wait(c->ring, c->slot, slice, c->ring_spin_us, &rlen);
        if (st == WC_OK)
            break;
        if (st != WC_TIMEOUT) {
            wc__ring_drop(c);
            return wc_error(WC_UNAVAILABLE, "the widecol node at \"%s\" stopped or restarted",
                            c->path);
        }
        if (c->hook && !c->hook(c->hook_arg)) {
            wc__ring_drop(c);
            return wc_error(WC_TIMEOUT, "request to the widecol node at \"%s\" interrupted",
                            c->path);
        }
    }
    if (rlen > cap) {
        /* the answer did not fit: the same request once more, over the socket */
        struct iovec iov = {.iov_base = b, .iov_len = WC_PROTO_FRAME_HEADER + wc_dec_u32(b)};

        if ((st = wc__send(c, &iov, 1, deadline)) != WC_OK)
            return st;
        return wc__recv_frame(c, WC_PROTO_MAX_FRAME, deadline, payload, len);
    }
    if (rlen < WC_PROTO_FRAME_HEADER || wc_dec_u32(b) != rlen - WC_PROTO_FRAME_HEADER)
        return wc_error(WC_CORRUPTION, "the widecol node at \"%s\" left a malformed response",
                        c->path);
    if (rlen > c->in_cap) {
        uint8_t *p = wc_realloc(c->in, rlen);
        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory receiving from the widecol node");
        c->in = p;
        c->in_cap = rlen;
    }
    memcpy(c->in, b, rlen);
    *payload = c->in + WC_PROTO_FRAME_HEADER;
    *len = (uint32_t)(rlen - WC_PROTO_FRAME_HEADER);
    return WC_OK;
}

/*
 * Receive the response to request id.  On WC_OK *body points into c->in.
 * A failure the node reports is returned with its message in
 * wc_last_error() (client intact); a transport failure breaks the client.
 */
static wc_status wc__response(wc_client *c, uint32_t id, int64_t deadline, const uint8_t **body,
                              size_t *blen)
{
    const uint8_t *p;
    uint32_t len, rid;
    wc_status st, node_st;
    const char *msg;
    size_t mlen;

    st = c->ring_inflight ? wc__ring_recv(c, deadline, &p, &len)
                          : wc__recv_frame(c, WC_PROTO_MAX_FRAME, deadline, &p, &len);
    if (st != WC_OK)
        return wc__broken(c, st);
    if ((st = wc_proto_parse_response(p, len, &rid, &node_st, body, blen)) != WC_OK)
        return wc__broken(c, st);
    if (node_st != WC_OK) {
        if (wc_proto_get_error(*body, *blen, &msg, &mlen) != WC_OK)
            return wc__broken(c, wc_error(WC_CORRUPTION,
                                          "malformed error response from the widecol node"));
        /* id 0: the node rejected the frame itself and closed the connection */
        if (rid != id)
            c->broken = true;
        return wc_error(node_st, "%.*s", (int)(mlen > 480 ? 480 : mlen), msg);
    }
    if (rid != id)
        return wc__broken(c, wc_error(WC_CORRUPTION,
                                      "the widecol node answered request %u instead of %u", rid,
                                      id));
    return WC_OK;
}

/* Collect the answer of an APPLY sent by wc_client_apply_send, if any. */
static wc_status wc__settle(wc_client *c)
{
    const uint8_t *body;
    size_t blen;
    wc_status st;

    if (!c->pending)
        return WC_OK;
    c->pending = false;
    if ((st = wc__response(c, c->pending_id, wc__deadline(c), &body, &blen)) != WC_OK)
        return st;
    if (blen != 0)
        return wc__broken(c, wc_error(WC_CORRUPTION, "unexpected body in an APPLY response"));
    return WC_OK;
}

/* Send the request in c->out (built from frame offset 0) and await its response. */
static wc_status wc__call(wc_client *c, uint32_t id, const uint8_t **body, size_t *blen)
{
    struct iovec iov;
    int64_t deadline;
    wc_status st;

    if (c->pending && (st = wc__settle(c)) != WC_OK)
        return st;
    deadline = wc__deadline(c);
    st = wc_proto_end_frame(&c->out, 0);

    if (st != WC_OK)
        return st; /* nothing sent: the client is still usable */
    iov.iov_base = c->out.data;
    iov.iov_len = c->out.len;
    if ((st = wc__send_request(c, &iov, 1, deadline)) != WC_OK)
        return wc__broken(c, st);
    return wc__response(c, id, deadline, body, blen);
}

/* Start a request in c->out; returns its id, or 0 if the client is broken. */
static uint32_t wc__begin(wc_client *c, uint8_t op)
{
    uint32_t id;

    if (c->broken)
        return 0;
    id = ++c->next_id;
    if (id == 0)
        id = ++c->next_id;
    wc_buf_reset(&c->out);
    (void)wc_proto_begin_request(&c->out, op, id);
    return id;
}

static wc_status wc__broken_status(wc_client *c)
{
    return wc_error(WC_UNAVAILABLE,
                    "the connection to the widecol node at \"%s\" failed earlier; reconnect",
                    c->path);
}

/* A request whose response has an empty body. */
static wc_status wc__simple(wc_client *c, uint32_t id)
{
    const uint8_t *body;
    size_t blen;
    wc_status st = wc__call(c, id, &body, &blen);

    if (st == WC_OK && blen != 0)
        return wc__broken(c, wc_error(WC_CORRUPTION, "unexpected body in a response"));
    return st;
}

/* ---------------------------------------------------------------- connection */

static wc_status wc__connect_socket(wc_client *c, int64_t deadline)
{
    struct sockaddr_un sa;
    int bufsz = WC__SOCKET_BUFFER, err = 0;
    socklen_t elen = sizeof(err);
    wc_status st;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, c->path, strlen(c->path));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        wc_error_errno(errno, "could not create a socket for the widecol node");
        return WC_UNAVAILABLE;
    }
    (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    for (;;) {
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return WC_OK;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            /* the listen backlog is full: retry until the deadline */
            if (deadline >= 0 && wc__now_ms() >= deadline)
                return wc_error(WC_TIMEOUT,
                                "timed out connecting to the widecol node at \"%s\" (backlog "
                                "full)",
                                c->path);
            usleep(5000);
            continue;
        }
        if (errno == EINPROGRESS) {
            if ((st = wc__wait(c, POLLOUT, deadline, "connecting to")) != WC_OK)
                return st;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
                return WC_OK;
            errno = err ? err : ECONNREFUSED;
        }
        wc_error_errno(errno, "could not connect to the widecol node at \"%s\"", c->path);
        return WC_UNAVAILABLE;
    }
}

static wc_status wc__handshake(wc_client *c, int64_t deadline)
{
    const uint8_t *p;
    uint32_t len, version;
    wc_status st, send_st, node_st;
    const char *msg;
    size_t mlen;

    wc_buf_reset(&c->out);
    wc_proto_put_handshake(&c->out, WC_PROTO_VERSION);
    if ((st = wc_buf_status(&c->out)) != WC_OK)
        return st;
    /* a node that refuses us may close before reading: still read its reason */
    send_st = wc__send_buf(c, &c->out, deadline);
    if (send_st == WC_TIMEOUT)
        return send_st;
    st = wc__recv_frame(c, WC__MAX_HANDSHAKE_REPLY, deadline, &p, &len);
    if (st != WC_OK)
        return send_st != WC_OK ? send_st : st;
    if ((st = wc_proto_get_handshake_reply(p, len, &version, &node_st, &msg, &mlen)) != WC_OK)
        return wc_error(WC_CORRUPTION, "\"%s\" is not a widecol node (bad handshake reply)",
                        c->path);
    if (node_st != WC_OK)
        return wc_error(node_st, "%.*s", (int)(mlen > 480 ? 480 : mlen), msg);
    if (version != WC_PROTO_VERSION)
        return wc_error(WC_INVALID_ARGUMENT,
                        "protocol version mismatch: this client speaks version %u, the widecol "
                        "node at \"%s\" speaks version %u",
                        WC_PROTO_VERSION, c->path, version);
    return send_st;
}

wc_status wc_client_connect(const char *path, int timeout_ms, wc_client **out)
{
    struct sockaddr_un sa;
    wc_client *c;
    int64_t deadline;
    wc_status st;

    *out = NULL;
    if (path == NULL || strlen(path) >= sizeof(sa.sun_path))
        return wc_error(WC_INVALID_ARGUMENT,
                        "widecol node socket path is missing or longer than %zu bytes",
                        sizeof(sa.sun_path) - 1);
    c = wc_calloc(1, sizeof(*c));
    if (c == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory connecting to the widecol node");
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    wc_buf_init(&c->out);
    wc_buf_init(&c->key);
    snprintf(c->path, sizeof(c->path), "%s", path);
    deadline = wc__deadline(c);
    if ((st = wc__connect_socket(c, deadline)) != WC_OK)
        goto fail;
    if ((st = wc__handshake(c, deadline)) != WC_OK)
        goto fail;
    *out = c;
    return WC_OK;
fail:
    wc_client_close(c);
    return st;
}

void wc_client_close(wc_client *c)
{
    if (c == NULL)
        return;
    wc__ring_drop(c);
    if (c->fd >= 0)
        close(c->fd);
    wc_buf_free(&c->out);
    wc_buf_free(&c->key);
    wc_free(c->in);
    wc_free(c);
}

void wc_client_use_rowcache(wc_client *c, wc_rowcache *rc)
{
    c->rowcache = rc;
}

void wc_client_use_directread(wc_client *c, wc_directread *dr)
{
    c->direct = dr;
}

void wc_client_set_timeout(wc_client *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms;
}

void wc_client_set_wait_hook(wc_client *c, wc_client_wait_fn fn, void *arg)
{
    c->hook = fn;
    c->hook_arg = arg;
}

bool wc_client_broken(const wc_client *c)
{
    return c->broken;
}

wc_status wc_client_use_ring(wc_client *c, void *mem, size_t size, int spin_us)
{
    wc_status st;

    if (c->ring != NULL || c->broken)
        return WC_OK;
    if ((st = wc_shmring_open(mem, size, &c->ring)) != WC_OK)
        return st;
    if ((st = wc_shmring_claim(c->ring, &c->slot)) != WC_OK) {
        wc_shmring_close(c->ring);
        c->ring = NULL;
        return st;
    }
    c->ring_spin_us = spin_us;
    return WC_OK;
}

bool wc_client_on_ring(const wc_client *c)
{
    return c->ring != NULL;
}

/* ---------------------------------------------------------------- requests */

static wc_status wc__table_change(wc_client *c, uint8_t op, const wc_table_def *def)
{
    uint32_t id;

    if ((id = wc__begin(c, op)) == 0)
        return wc__broken_status(c);
    wc_proto_put_table_change(&c->out, def);
    return wc__simple(c, id);
}

wc_status wc_client_create_table(wc_client *c, const wc_table_def *def)
{
    return wc__table_change(c, WC_OP_CREATE_TABLE, def);
}

wc_status wc_client_alter_table(wc_client *c, const wc_table_def *def)
{
    return wc__table_change(c, WC_OP_ALTER_TABLE, def);
}

static wc_status wc__table_op(wc_client *c, uint8_t op, uint32_t table_id)
{
    uint32_t id = wc__begin(c, op);

    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_table_id(&c->out, table_id);
    return wc__simple(c, id);
}

wc_status wc_client_drop_table(wc_client *c, uint32_t table_id)
{
    return wc__table_op(c, WC_OP_DROP_TABLE, table_id);
}

wc_status wc_client_compact(wc_client *c, uint32_t table_id)
{
    return wc__table_op(c, WC_OP_COMPACT, table_id);
}

/* Send a request that carries only a table id and wait for its answer body. */
static wc_status wc__table_query(wc_client *c, uint8_t op, uint32_t table_id,
                                 const uint8_t **body, size_t *blen)
{
    uint32_t id = wc__begin(c, op);

    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_table_id(&c->out, table_id);
    return wc__call(c, id, body, blen);
}

wc_status wc_client_get_table(wc_client *c, uint32_t table_id, wc_table_def *out)
{
    const uint8_t *body;
    size_t blen;
    wc_status st;

    if ((st = wc__table_query(c, WC_OP_GET_TABLE, table_id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_table_def(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_list_tables(wc_client *c, uint32_t **ids, size_t *n)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_LIST_TABLES);
    wc_status st;

    *ids = NULL;
    *n = 0;
    if (id == 0)
        return wc__broken_status(c);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    st = wc_proto_get_table_ids(body, blen, ids, n);
    return st == WC_CORRUPTION ? wc__broken(c, st) : st;
}

/*
 * Send an APPLY frame (op WC_OP_APPLY; first: the flag CLIENT_SYNCS) or a
 * STAGE frame (first: its flag FIRST; always over the socket, where the
 * node keeps the connection's staged transaction); *idp gets its request id.
 */
static wc_status wc__apply_send(wc_client *c, uint8_t op, wc_consistency cl, bool first,
                                const uint8_t *hdr, size_t hlen, const uint8_t *batch,
                                size_t len, uint32_t *idp)
{
    uint8_t prefix[WC_PROTO_APPLY_PREFIX];
    struct iovec iov[3];
    int n = 0;
    uint32_t id;
    wc_status st;

    if (c->broken)
        return wc__broken_status(c);
    if (c->pending && (st = wc__settle(c)) != WC_OK)
        return st;
    if (!wc_consistency_valid((int)cl))
        return wc_error(WC_INVALID_ARGUMENT, "unknown consistency level %d", (int)cl);
    id = c->next_id + 1 ? c->next_id + 1 : 1;
    st = op == WC_OP_APPLY ? wc_proto_apply_prefix(prefix, id, cl, first, hlen + len)
                           : wc_proto_stage_prefix(prefix, id, cl, first, hlen + len);
    if (st != WC_OK)
        return st;
    c->next_id = id;
    iov[n].iov_base = prefix;
    iov[n++].iov_len = sizeof(prefix);
    if (hlen) {
        iov[n].iov_base = (void *)hdr;
        iov[n++].iov_len = hlen;
    }
    if (len) {
        iov[n].iov_base = (void *)batch;
        iov[n++].iov_len = len;
    }
    c->socket_only = op == WC_OP_STAGE;
    st = wc__send_request(c, iov, n, wc__deadline(c));
    c->socket_only = false;
    if (st != WC_OK)
        return wc__broken(c, st);
    *idp = id;
    return WC_OK;
}

wc_status wc_client_apply_send(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl)
{
    uint32_t id;
    wc_status st = wc__apply_send(c, WC_OP_APPLY, cl, false, NULL, 0, batch, len, &id);

    if (st != WC_OK)
        return st;
    c->pending = true;
    c->pending_id = id;
    return WC_OK;
}

wc_status wc_client_apply_wait(wc_client *c)
{
    if (c->broken && !c->pending)
        return WC_OK;
    return wc__settle(c);
}

/* APPLY and its answer; need NULL: the node syncs */
static wc_status wc__apply(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl,
                           wc_clpos *need)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id;
    bool syncs = need != NULL && c->ring != NULL;
    wc_clpos pos;
    wc_status st;

    if (need)
        *need = (wc_clpos){0, 0};
    if ((st = wc__apply_send(c, WC_OP_APPLY, cl, syncs, NULL, 0, batch, len, &id)) != WC_OK)
        return st;
    if ((st = wc__response(c, id, wc__deadline(c), &body, &blen)) != WC_OK)
        return st;
    if ((blen != 0 && !syncs) || wc_proto_get_clpos(body, blen, true, &pos) != WC_OK)
        return wc__broken(c, wc_error(WC_CORRUPTION, "unexpected body in an APPLY response"));
    if (need)
        *need = pos;
    return WC_OK;
}

wc_status wc_client_apply(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl)
{
    return wc__apply(c, batch, len, cl, NULL);
}

wc_status wc_client_apply_unsynced(wc_client *c, const uint8_t *batch, size_t len,
                                   wc_consistency cl, wc_clpos *need)
{
    return wc__apply(c, batch, len, cl, need);
}

wc_status wc_client_sync(wc_client *c, wc_clpos pos)
{
    uint32_t id = wc__begin(c, WC_OP_SYNC);

    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_clpos(&c->out, pos);
    return wc__simple(c, id);
}

wc_shmring *wc_client_ring(wc_client *c, uint32_t *slot)
{
    *slot = c->slot;
    return c->ring;
}

/* STAGE of the batch hdr (hlen bytes, may be 0) followed by batch, pipelined. */
static wc_status wc__stage_send(wc_client *c, const uint8_t *hdr, size_t hlen,
                                const uint8_t *batch, size_t len, wc_consistency cl, bool first)
{
    uint32_t id;
    wc_status st = wc__apply_send(c, WC_OP_STAGE, cl, first, hdr, hlen, batch, len, &id);

    if (st != WC_OK)
        return st;
    c->pending = true;
    c->pending_id = id;
    return WC_OK;
}

wc_status wc_client_stage_send(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl,
                               bool first)
{
    return wc__stage_send(c, NULL, 0, batch, len, cl, first);
}

wc_status wc_client_stage_send_mutations(wc_client *c, uint32_t count, const uint8_t *muts,
                                         size_t len, wc_consistency cl, bool first)
{
    uint8_t room[16]; /* wc_buf_put_varint reserves 10 bytes whatever it writes */
    wc_buf hdr = {.data = room, .len = 0, .cap = sizeof(room), .failed = 0};

    wc_batch_begin(&hdr, count);
    return wc__stage_send(c, hdr.data, hdr.len, muts, len, cl, first);
}

wc_status wc_client_publish(wc_client *c, bool commit)
{
    uint32_t id = wc__begin(c, WC_OP_PUBLISH);
    wc_status st;

    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_publish(&c->out, commit ? WC_PUBLISH_COMMIT : WC_PUBLISH_ABORT);
    c->socket_only = true;
    st = wc__simple(c, id);
    c->socket_only = false;
    return st;
}

wc_status wc_client_read(wc_client *c, const wc_read_request *req, wc_consistency cl,
                         wc_client_page **out)
{
    return wc_client_read_overlay(c, req, cl, NULL, 0, out);
}

wc_status wc_client_read_overlay(wc_client *c, const wc_read_request *req, wc_consistency cl,
                                 const uint8_t *overlay, size_t overlay_len,
                                 wc_client_page **out)
{
    return wc_client_read_ex(c, req, cl, overlay, overlay_len, false, out);
}

wc_status wc_client_count(wc_client *c, const wc_read_request *req, wc_consistency cl,
                          const uint8_t *overlay, size_t overlay_len, uint64_t *count,
                          wc_read_stats *stats)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id;
    wc_status st;

    *count = 0;
    memset(stats, 0, sizeof(*stats));
    if (!wc_consistency_valid((int)cl))
        return wc_error(WC_INVALID_ARGUMENT, "unknown consistency level %d", (int)cl);
    if ((id = wc__begin(c, WC_OP_COUNT_ROWS)) == 0)
        return wc__broken_status(c);
    wc_proto_put_read_ex(&c->out, req, cl, overlay, overlay_len, false);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    st = wc_proto_get_count(body, blen, count, stats);
    return st == WC_CORRUPTION ? wc__broken(c, st) : st;
}

/* Fill pg from the decoded page pp of body[0..len), inside frame (which pg now owns). */
static void wc__page_set(wc_client_page *pg, const wc_proto_page *pp, const uint8_t *body,
                         size_t len, void *frame)
{
    pg->nrows = pp->nrows;
    pg->rows = pp->rows;
    pg->more = pp->more;
    pg->paging_state = pp->paging_state;
    pg->paging_state_len = pp->paging_state_len;
    pg->stats = pp->stats;
    pg->mem = pp->mem;
    pg->body = body;
    pg->body_len = len;
    pg->frame = frame;
}

/* READ, or INDEX_READ of index (not NULL) for value: the page of the answer. */
static wc_status wc__read_page(wc_client *c, const char *index, const uint8_t *value, size_t vlen,
                               const wc_read_request *req, wc_consistency cl,
                               const uint8_t *overlay, size_t overlay_len, bool trace,
                               wc_client_page **out)
{
    const uint8_t *body;
    size_t blen;
    wc_proto_page pp;
    wc_client_page *pg = NULL;
    uint32_t id;
    wc_status st;

    *out = NULL;
    if (!wc_consistency_valid((int)cl))
        return wc_error(WC_INVALID_ARGUMENT, "unknown consistency level %d", (int)cl);
    if ((id = wc__begin(c, index ? WC_OP_INDEX_READ : WC_OP_READ)) == 0)
        return wc__broken_status(c);
    if (index)
        wc_proto_put_index_read(&c->out, index, value, vlen, req, cl);
    else
        wc_proto_put_read_ex(&c->out, req, cl, overlay, overlay_len, trace);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    pg = wc_calloc(1, sizeof(*pg));
    if (pg == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory receiving a page");
    if ((trace && (st = wc_proto_get_trace(body, blen, &blen, pg->trace, &pg->ntrace)) != WC_OK) ||
        (st = wc_proto_get_page(body, blen, &pp)) != WC_OK) {
        wc_free(pg);
        return st == WC_CORRUPTION ? wc__broken(c, st) : st;
    }
    /* the page keeps the received frame: rows and cells point into it */
    wc__page_set(pg, &pp, body, blen, c->in);
    c->in = NULL;
    c->in_cap = 0;
    *out = pg;
    return WC_OK;
}

wc_status wc_client_read_ex(wc_client *c, const wc_read_request *req, wc_consistency cl,
                            const uint8_t *overlay, size_t overlay_len, bool trace,
                            wc_client_page **out)
{
    return wc__read_page(c, NULL, NULL, 0, req, cl, overlay, overlay_len, trace, out);
}

wc_status wc_client_index_read(wc_client *c, const wc_read_request *req, wc_consistency cl,
                               const char *index, const uint8_t *value, size_t vlen,
                               wc_client_page **out)
{
    return wc__read_page(c, index, value, vlen, req, cl, NULL, 0, false, out);
}

/*
 * Whether the answer pg to req may be cached, and until when (*expires,
 * seconds; 0: no expiry).  Time only takes cells away: the earliest
 * expiry of a returned cell or row marker bounds the entry.  A row
 * without a marker that returns only some columns may live by a column
 * not returned (whose expiry is unknown here, unless no cell of the table
 * expires), and a collection's elements carry expiries of their own:
 * neither is cached.
 */
static bool wc__cacheable(const wc_read_request *req, const wc_client_page *pg,
                          bool never_expires, int64_t *expires)
{
    int64_t min = 0;

    if (pg->more || pg->paging_state_len != 0)
        return false;
    for (size_t r = 0; r < pg->nrows; r++) {
        const wc_result_row *row = &pg->rows[r];

        if (req->columns != NULL && row->live_ts == WC_NO_TIMESTAMP && !never_expires)
            return false;
        if (row->live_ts != WC_NO_TIMESTAMP && row->live_ttl != 0 &&
            (min == 0 || row->live_ldt < min))
            min = row->live_ldt;
        for (uint32_t i = 0; i < row->ncells; i++) {
            const wc_cell *cell = &row->cells[i];

            if (cell->flags & WC_CELLF_COLLECTION)
                return false;
            if ((cell->flags & WC_CELLF_EXPIRING) && (min == 0 || cell->ldt < min))
                min = cell->ldt;
        }
    }
    *expires = min;
    return true;
}

wc_status wc_client_read_cached(wc_client *c, const wc_read_request *req, wc_consistency cl,
                                bool never_expires, wc_client_page **out)
{
    wc_read_request kr;
    wc_rowcache_tag tag;
    uint8_t *frame = NULL;
    wc_client_page *pg = NULL;
    wc_proto_page pp;
    int64_t now = req->now_sec ? req->now_sec : (int64_t)time(NULL), expires;
    size_t vlen;
    wc_status st;

    *out = NULL;
    /* a pipelined write of this session first: a hit must not overtake it */
    if (c->pending && (st = wc__settle(c)) != WC_OK)
        return st;
    if (c->rowcache == NULL || req->pk == NULL || req->paging_state_len != 0 || c->broken ||
        !wc_consistency_valid((int)cl)) {
        wc_rowcache_count_miss(c->rowcache);
        return wc_client_read_ex(c, req, cl, NULL, 0, false, out);
    }
    /* the key: the request as sent, but for its clock (expiry is checked apart) */
    kr = *req;
    kr.now_sec = 0;
    wc_buf_reset(&c->key);
    wc_proto_put_read_ex(&c->key, &kr, cl, NULL, 0, false);
    if ((st = wc_buf_status(&c->key)) != WC_OK)
        return st;
    if ((frame = wc_malloc(WC_ROWCACHE_SLOT_BYTES)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory reading from the row cache");
    if (wc_rowcache_lookup(c->rowcache, req->table_id, req->pk, req->pk_len, c->key.data,
                           c->key.len, now, frame, WC_ROWCACHE_SLOT_BYTES, &vlen)) {
        /* a hit: the stored answer decoded as if the node had sent it */
        if ((pg = wc_calloc(1, sizeof(*pg))) == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory reading from the row cache");
            goto fail;
        }
        if ((st = wc_proto_get_page(frame, vlen, &pp)) != WC_OK)
            goto fail;
        pg->nrows = pp.nrows;
        pg->rows = pp.rows;
        pg->mem = pp.mem;
        pg->frame = frame;
        pg->cached = true; /* nothing was read: the stats stay zero */
        *out = pg;
        return WC_OK;
    }
    wc_free(frame);
    frame = NULL;
    /* the generations before the request: a write that ends after this invalidates the fill */
    wc_rowcache_fill_begin(c->rowcache, req->table_id, req->pk, req->pk_len, &tag);
    if ((st = wc_client_read_ex(c, req, cl, NULL, 0, false, out)) != WC_OK)
        return st;
    if (tag.ok && wc__cacheable(req, *out, never_expires, &expires))
        (void)wc_rowcache_fill(c->rowcache, &tag, c->key.data, c->key.len, (*out)->body,
                               (*out)->body_len, expires);
    return WC_OK;
fail:
    wc_free(frame);
    wc_free(pg);
    return st;
}

wc_status wc_client_read_direct(wc_client *c, const wc_read_request *req, wc_consistency cl,
                                bool row, wc_client_page **out)
{
    wc_client_page *pg;
    wc_page *page;
    wc_proto_page pp;
    wc_buf b;
    wc_status st;

    *out = NULL;
    /* a pipelined write of this session first: the read must see it */
    if (c->pending && (st = wc__settle(c)) != WC_OK)
        return st;
    if (c->direct == NULL || req->pk == NULL || c->broken ||
        (cl != WC_CL_ONE && cl != WC_CL_LOCAL_ONE) || wc_directread_read(c->direct, req, row, &page) != WC_OK)
        return wc_client_read_ex(c, req, cl, NULL, 0, false, out);
    /* the page as the node would send it, decoded as the node's: one meaning for both */
    wc_buf_init(&b);
    wc_proto_put_page(&b, page);
    wc_page_free(page);
    if ((st = wc_buf_status(&b)) != WC_OK || (pg = wc_calloc(1, sizeof(*pg))) == NULL) {
        wc_buf_free(&b);
        return wc_error(WC_NO_MEMORY, "out of memory reading a table's files");
    }
    if ((st = wc_proto_get_page(b.data, b.len, &pp)) != WC_OK) {
        wc_free(pg);
        wc_buf_free(&b);
        return st;
    }
    wc__page_set(pg, &pp, b.data, b.len, b.data); /* the page owns the encoding from now on */
    pg->direct = true;
    *out = pg;
    return WC_OK;
}

void wc_client_page_free(wc_client_page *p)
{
    if (p == NULL)
        return;

    wc_free(p->mem);
    wc_free(p->frame);
    wc_free(p);
}

wc_status wc_client_flush(wc_client *c, uint32_t table_id)
{
    uint32_t id = wc__begin(c, WC_OP_FLUSH);

    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_flush(&c->out, table_id, true);
    return wc__simple(c, id);
}

wc_status wc_client_table_stats(wc_client *c, uint32_t table_id, wc_table_stats *out)
{
    const uint8_t *body;
    size_t blen;
    wc_status st;

    if ((st = wc__table_query(c, WC_OP_TABLE_STATS, table_id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_table_stats(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_scrub(wc_client *c, uint32_t table_id, wc_scrub_result *out)
{
    const uint8_t *body;
    size_t blen;
    wc_status st;

    if ((st = wc__table_query(c, WC_OP_SCRUB, table_id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_scrub_result(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_compaction_stats(wc_client *c, uint32_t table_id, wc_compaction_stats *out)
{
    const uint8_t *body;
    size_t blen;
    wc_status st;

    if ((st = wc__table_query(c, WC_OP_COMPACTION_STATS, table_id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_compaction_stats(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_compactions(wc_client *c, uint32_t table_id, wc_compaction_info **out,
                                size_t *n)
{
    const uint8_t *body;
    size_t blen;
    wc_status st;

    *out = NULL;
    *n = 0;
    if ((st = wc__table_query(c, WC_OP_COMPACTIONS, table_id, &body, &blen)) != WC_OK)
        return st;
    st = wc_proto_get_compactions(body, blen, out, n);
    return st == WC_CORRUPTION ? wc__broken(c, st) : st;
}

wc_status wc_client_ping(wc_client *c)
{
    uint32_t id = wc__begin(c, WC_OP_PING);

    if (id == 0)
        return wc__broken_status(c);
    return wc__simple(c, id);
}

wc_status wc_client_node_info(wc_client *c, wc_node_info *out)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_NODE_INFO);
    wc_status st;

    if (id == 0)
        return wc__broken_status(c);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_node_info(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_members(wc_client *c, wc_proto_members *out)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_MEMBERS);
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (id == 0)
        return wc__broken_status(c);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_members(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_streams(wc_client *c, wc_proto_stream **out, size_t *n)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_STREAMS);
    wc_status st;

    *out = NULL;
    *n = 0;
    if (id == 0)
        return wc__broken_status(c);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_streams(body, blen, out, n)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_schema_change(wc_client *c, const wc_proto_schema_change *ch,
                                  wc_proto_schema_result *res)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_SCHEMA_CHANGE);
    wc_status st;

    memset(res, 0, sizeof(*res));
    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_schema_change(&c->out, ch);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_schema_result(body, blen, res)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_schema_list(wc_client *c, const uint8_t *known, size_t known_len,
                                uint8_t *flags, const uint8_t **push, size_t *push_len)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_SCHEMA_LIST);
    wc_status st;

    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_schema_list(&c->out, known, known_len);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_schema_listing(body, blen, flags, push, push_len)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_repair(wc_client *c, uint32_t table_id, uint8_t flags,
                           wc_proto_repair_info *out)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_REPAIR);
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_repair(&c->out, table_id, flags);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_repair_info(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_repairs(wc_client *c, wc_proto_repair_info **v, size_t *n)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_REPAIRS);
    wc_status st;

    *v = NULL;
    *n = 0;
    if (id == 0)
        return wc__broken_status(c);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_repairs(body, blen, v, n)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_snapshot(wc_client *c, uint8_t action, const char *tag, wc_proto_snapshot **v,
                             size_t *n)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_SNAPSHOT);
    wc_status st;

    *v = NULL;
    *n = 0;
    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_snapshot(&c->out, action, tag);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_snapshots(body, blen, v, n)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_cas(wc_client *c, const wc_lwt_request *r, bool *applied)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_CAS);
    wc_status st;

    *applied = false;
    if (id == 0)
        return wc__broken_status(c);
    wc_lwt_put_request(&c->out, r);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if (blen != 1 || body[0] > 1)
        return wc__broken(c, wc_error(WC_CORRUPTION, "malformed CAS response"));
    *applied = body[0] == 1;
    return WC_OK;
}

wc_status wc_client_cleanup(wc_client *c, uint32_t table_id, wc_cleanup_result *out)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, WC_OP_CLEANUP);
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (id == 0)
        return wc__broken_status(c);
    wc_proto_put_cleanup(&c->out, table_id);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_cleanup_result(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

/* DECOMMISSION (host_id NULL) or REMOVENODE of host_id. */
static wc_status wc__topology(wc_client *c, const uint8_t *host_id, wc_proto_topology_result *out)
{
    const uint8_t *body;
    size_t blen;
    uint32_t id = wc__begin(c, host_id ? WC_OP_REMOVENODE : WC_OP_DECOMMISSION);
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (id == 0)
        return wc__broken_status(c);
    if (host_id)
        wc_proto_put_removenode(&c->out, host_id);
    if ((st = wc__call(c, id, &body, &blen)) != WC_OK)
        return st;
    if ((st = wc_proto_get_topology_result(body, blen, out)) != WC_OK)
        return wc__broken(c, st);
    return WC_OK;
}

wc_status wc_client_decommission(wc_client *c, wc_proto_topology_result *out)
{
    return wc__topology(c, NULL, out);
}

wc_status wc_client_removenode(wc_client *c, const uint8_t host_id[WC_MEMBER_HOST_ID_LEN],
                               wc_proto_topology_result *out)
{
    return wc__topology(c, host_id, out);
}
