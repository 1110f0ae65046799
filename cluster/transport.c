/*
 * transport.c - the real wc_env: an epoll loop thread, TCP connections to
 * peers, the handshake and framing of the internode protocol (transport.h).
 *
 * Why epoll by hand rather than libuv: the loop needs sockets, one eventfd
 * and timers, which epoll_wait's timeout over a timer heap gives in a few
 * hundred lines without a new library; the node's client-side worker pool
 * already runs on epoll, so both loops read the same way.
 *
 * Objects, all owned by the loop thread once it runs:
 *   peer   one per address this node has sent to: its queue of framed
 *          messages and its outgoing connection (or a retry timer);
 *   conn   one per socket: outgoing (serves a peer) or incoming (accepted);
 *          it moves CONNECTING -> HANDSHAKE -> ESTABLISHED and is closed on
 *          the first error.  A closed conn is freed after the current batch
 *          of events, so that an event still pending for it is skipped.
 *   timer  a slot in a slab (the id holds slot and generation, so a stale id
 *          is ignored) and an entry in a min-heap of (deadline, sequence).
 */
#include "transport.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "coding.h"
#include "frame.h"
#include "frame_format.h"
#include "thread.h"

#define READ_CHUNK (64u << 10)
#define READS_PER_EVENT 16 /* then let other sockets have a turn */
#define WRITEV_MAX 64
#define MAX_EVENTS 64
#define NAME_MAX_LEN (WC_ADDR_HOST_MAX + 16)

typedef struct out_msg {
    struct out_msg *next;
    size_t len;     /* header + payload */
    uint8_t data[]; /* the whole frame */
} out_msg;

typedef enum conn_state {
    CONN_CONNECTING,
    CONN_HANDSHAKE,
    CONN_ESTABLISHED,
    CONN_CLOSED,
} conn_state;

struct peer;
struct transport;

typedef struct conn {
    struct transport *t;
    int fd;
    bool outbound;
    conn_state state;
    struct peer *peer;         /* outbound: the peer it sends to */
    char name[NAME_MAX_LEN];   /* for log lines: the peer's address once known */
    wc_frame_reader reader;
    wc_hello theirs;
    bool got_hello;
    wc_buf ctl;                /* handshake frames not yet written */
    size_t ctl_off;
    uint64_t hs_timer;
    bool want_out;             /* EPOLLOUT registered */
    struct conn *next, *prev;  /* t->conns, or t->dead once closed */
} conn;

typedef struct peer {
    struct transport *t;
    wc_addr addr;
    conn *conn;
    out_msg *head, *tail;
    size_t head_off;  /* bytes of head already written on conn */
    size_t queued;    /* bytes in the queue */
    uint32_t backoff_ms;
    uint64_t retry_timer;
    bool dirty;             /* on t->dirty: queued since the last write */
    struct peer *next;
    struct peer *next_dirty;
} peer;

typedef struct timer {
    uint64_t deadline;
    uint64_t seq;
    uint32_t gen;
    int32_t heap_pos; /* -1 when free */
    wc_env_cb cb;
    void *arg;
    uint32_t next_free;
} timer;

typedef struct post_item {
    struct post_item *next;
    wc_env_cb cb;
    void *arg;
} post_item;

typedef struct transport {
    wc_env env;
    wc_transport_options opts;
    uint8_t *secret;
    char cluster[WC_CLUSTER_NAME_MAX];
    wc_hello hello; /* our hello, less the nonce */
    int epfd, listen_fd, wake_fd;
    bool listen_paused;
    pthread_t thread;
    bool thread_started;
    uint64_t rng[4];
    uint8_t *rbuf;

    conn *conns, *dead;
    peer *peers;
    peer *dirty; /* peers to write to at the end of this loop turn */

    timer *timers;
    uint32_t ntimers, free_timer; /* free list through next_free, UINT32_MAX = empty */
    uint32_t *heap;
    uint32_t heap_len;
    uint64_t timer_seq;

    pthread_mutex_t post_mu;
    post_item *post_head, *post_tail;
    bool stopping;
} transport;

/* epoll tags of the two non-connection descriptors */
static char listen_tag, wake_tag;

/* ---------------------------------------------------------------- helpers */

static void tlog(transport *t, wc_env_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tlog(transport *t, wc_env_log_level level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (t->opts.log != NULL)
        t->opts.log(t->opts.log_arg, level, line);
    else
        fprintf(stderr, "widecol transport: %s\n", line);
}

static uint64_t mono_ms(void)
{
    return (uint64_t)(wc__mono_ns() / 1000000);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, u = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= u;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Fill buf with random bytes: getrandom, else the loop's generator. */
static void random_bytes(transport *t, uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);

        if (r <= 0)
            break;
        got += (size_t)r;
    }
    while (got < n) {
        uint64_t v = rng_next(t->rng);

        for (int i = 0; i < 8 && got < n; i++)
            buf[got++] = (uint8_t)(v >> (8 * i));
    }
}

static void sockaddr_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "(unknown address)");
    }
}

/*
 * Options of every internode socket: no Nagle delay (the loop already
 * writes in batches); keepalive probes and a user timeout, so that a peer
 * whose host vanished without a reset is noticed in about 30 s, whether
 * the connection is idle or has unacknowledged data.
 */
static void tune_socket(int fd)
{
    int one = 1, idle = 10, intvl = 5, cnt = 3;
    unsigned int user_timeout_ms = 30000;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

/* ---------------------------------------------------------------- timers */

static bool heap_less(transport *t, uint32_t a, uint32_t b)
{
    const timer *x = &t->timers[a], *y = &t->timers[b];

    return x->deadline < y->deadline || (x->deadline == y->deadline && x->seq < y->seq);
}

static void heap_set(transport *t, uint32_t pos, uint32_t slot)
{
    t->heap[pos] = slot;
    t->timers[slot].heap_pos = (int32_t)pos;
}

static void heap_up(transport *t, uint32_t pos)
{
    uint32_t slot = t->heap[pos];

    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;

        if (!heap_less(t, slot, t->heap[parent]))
            break;
        heap_set(t, pos, t->heap[parent]);
        pos = parent;
    }
    heap_set(t, pos, slot);
}

static void heap_down(transport *t, uint32_t pos)
{
    uint32_t slot = t->heap[pos];

    for (;;) {
        uint32_t c = 2 * pos + 1;

        if (c >= t->heap_len)
            break;
        if (c + 1 < t->heap_len && heap_less(t, t->heap[c + 1], t->heap[c]))
            c++;
        if (!heap_less(t, t->heap[c], slot))
            break;
        heap_set(t, pos, t->heap[c]);
        pos = c;
    }
    heap_set(t, pos, slot);
}

/* Take slot out of the heap and put it on the free list. */
static void timer_release(transport *t, uint32_t slot)
{
    timer *tm = &t->timers[slot];
    uint32_t pos = (uint32_t)tm->heap_pos;
    uint32_t last = t->heap[--t->heap_len];

    if (pos < t->heap_len) {
        heap_set(t, pos, last);
        heap_down(t, pos);
        heap_up(t, (uint32_t)t->timers[last].heap_pos);
    }
    tm->heap_pos = -1;
    tm->gen++;
    tm->cb = NULL;
    tm->next_free = t->free_timer;
    t->free_timer = slot;
}

static uint64_t tr_timer_start(wc_env *env, uint64_t delay_ms, wc_env_cb cb, void *arg)
{
    transport *t = env->impl;
    uint32_t slot;
    timer *tm;

    if (t->free_timer == UINT32_MAX) {
        uint32_t n = t->ntimers ? t->ntimers * 2 : 16;
        timer *nt = wc_realloc(t->timers, (size_t)n * sizeof(*nt));
        uint32_t *nh;

        if (nt == NULL)
            return 0;
        t->timers = nt;
        nh = wc_realloc(t->heap, (size_t)n * sizeof(*nh));
        if (nh == NULL)
            return 0;
        t->heap = nh;
        for (uint32_t i = n; i > t->ntimers; i--) {
            nt[i - 1].gen = 1;
            nt[i - 1].heap_pos = -1;
            nt[i - 1].next_free = t->free_timer;
            t->free_timer = i - 1;
        }
        t->ntimers = n;
    }
    slot = t->free_timer;
    tm = &t->timers[slot];
    t->free_timer = tm->next_free;
    tm->deadline = mono_ms() + delay_ms;
    tm->seq = t->timer_seq++;
    tm->cb = cb;
    tm->arg = arg;
    t->heap[t->heap_len] = slot;
    tm->heap_pos = (int32_t)t->heap_len;
    t->heap_len++;
    heap_up(t, t->heap_len - 1);
    return ((uint64_t)tm->gen << 32) | (uint64_t)(slot + 1);
}

static void tr_timer_cancel(wc_env *env, uint64_t id)
{
    transport *t = env->impl;
    uint32_t slot = (uint32_t)(id & 0xffffffffu);

    if (slot == 0 || slot > t->ntimers)
        return;
    slot--;
    if (t->timers[slot].heap_pos < 0 || t->timers[slot].gen != (uint32_t)(id >> 32))
        return;
    timer_release(t, slot);
}

/* Run every timer due now, in deadline order; not those started while running. */
static void run_timers(transport *t)
{
    uint64_t now = mono_ms(), seq_limit = t->timer_seq;

    while (t->heap_len > 0) {
        uint32_t slot = t->heap[0];
        timer *tm = &t->timers[slot];
        wc_env_cb cb;
        void *arg;

        if (tm->deadline > now || tm->seq >= seq_limit)
            break;
        cb = tm->cb;
        arg = tm->arg;
        timer_release(t, slot);
        cb(arg);
    }
}

/* Milliseconds until the next timer, -1 if none. */
static int next_timeout(transport *t)
{
    uint64_t now, d;

    if (t->heap_len == 0)
        return -1;
    now = mono_ms();
    d = t->timers[t->heap[0]].deadline;
    if (d <= now)
        return 0;
    return d - now > 60000 ? 60000 : (int)(d - now);
}

/* ---------------------------------------------------------------- connections */

static void conn_flush(conn *c);
static void peer_connect(transport *t, peer *p);
static peer *peer_find(transport *t, const wc_addr *a);

static void conn_set_out(conn *c, bool want)
{
    struct epoll_event ev;

    if (c->want_out == want)
        return;
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(c->t->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = want;
}

static void list_remove(conn **list, conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

static void list_push(conn **list, conn *c)
{
    c->prev = NULL;
    c->next = *list;
    if (*list)
        (*list)->prev = c;
    *list = c;
}

static void conn_free(conn *c)
{
    wc_frame_reader_free(&c->reader);
    wc_buf_free(&c->ctl);
    wc_free(c);
}

static void retry_fire(void *arg);

/*
 * The outgoing connection of p failed or could not be opened: retry after
 * the backoff (doubled on each failure until a handshake succeeds), then
 * tell the handlers.  The timer is set first, so that a send from
 * on_peer_down only queues.
 */
static void peer_failed(peer *p)
{
    transport *t = p->t;

    p->backoff_ms = p->backoff_ms == 0 ? t->opts.reconnect_min_ms : p->backoff_ms * 2;
    if (p->backoff_ms > t->opts.reconnect_max_ms)
        p->backoff_ms = t->opts.reconnect_max_ms;
    p->retry_timer = tr_timer_start(&t->env, p->backoff_ms, retry_fire, p);
    if (t->env.handlers.on_peer_down != NULL)
        t->env.handlers.on_peer_down(t->env.handlers.ctx, &p->addr);
}

/*
 * Close c: its socket now, its memory after the current event batch.  For
 * an outgoing connection, the peer keeps its queue (a partly written head
 * is sent again whole on the next connection) and retries after a backoff
 * if messages wait.  on_peer_down is called when the peer was known.
 */
static void conn_close(conn *c)
{
    transport *t = c->t;
    peer *p = c->peer;
    bool report = c->state == CONN_ESTABLISHED;

    if (c->state == CONN_CLOSED)
        return;
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->hs_timer)
        tr_timer_cancel(&t->env, c->hs_timer);
    c->hs_timer = 0;
    c->state = CONN_CLOSED;
    list_remove(&t->conns, c);
    list_push(&t->dead, c);
    if (p != NULL) {
        p->conn = NULL;
        p->head_off = 0;
        c->peer = NULL;
        peer_failed(p);
    } else if (report && t->env.handlers.on_peer_down != NULL) {
        t->env.handlers.on_peer_down(t->env.handlers.ctx, &c->theirs.addr);
    }
}

static void conn_fail(conn *c, wc_env_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log "<what> <peer>: <reason>" once and close c. */
static void conn_fail(conn *c, wc_env_log_level level, const char *fmt, ...)
{
    char reason[400];
    va_list ap;

    if (c->state == CONN_CLOSED)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    tlog(c->t, level, "%s %s: %s", c->outbound ? "closed connection to" : "closed connection from",
         c->name, reason);
    conn_close(c);
}

static void conn_refuse(conn *c, const char *why)
{
    if (c->state == CONN_CLOSED)
        return;
    tlog(c->t, WC_ENV_LOG_WARNING, "refused connection %s %s: %s", c->outbound ? "to" : "from",
         c->name, why);
    conn_close(c);
}

static void handshake_timeout(void *arg)
{
    conn *c = arg;

    c->hs_timer = 0;
    conn_fail(c, WC_ENV_LOG_WARNING, "no handshake within %u ms",
              (unsigned)c->t->opts.handshake_timeout_ms);
}

/* Append a frame of the given type to c's control output. */
static void ctl_frame(conn *c, uint8_t type, const uint8_t *payload, size_t len)
{
    uint8_t hdr[WC_FRAME_HEADER_SIZE];

    wc_frame_header(hdr, WC_NET_PROTO_VERSION, type, payload, (uint32_t)len);
    wc_buf_append(&c->ctl, hdr, sizeof(hdr));
    wc_buf_append(&c->ctl, payload, len);
}

/* Our hello (with a fresh nonce) into c->ctl; the nonce is kept in c's own copy. */
static wc_hello *our_hello(conn *c);

static void send_hello(conn *c)
{
    wc_buf body;

    wc_buf_init(&body);
    wc_hello_encode(our_hello(c), &body);
    if (body.failed) {
        wc_buf_free(&body);
        conn_fail(c, WC_ENV_LOG_WARNING, "out of memory for the handshake");
        return;
    }
    ctl_frame(c, WC_FRAME_HELLO, body.data, body.len);
    wc_buf_free(&body);
}

/*
 * Our hello on c lives after the conn in the same allocation, so that each
 * connection has its own nonce.
 */
typedef struct conn_box {
    conn c;
    wc_hello ours;
} conn_box;

static wc_hello *our_hello(conn *c)
{
    return &((conn_box *)c)->ours;
}

static conn *conn_new(transport *t, int fd, bool outbound)
{
    conn_box *box = wc_calloc(1, sizeof(*box));
    conn *c;
    struct epoll_event ev;

    if (box == NULL)
        return NULL;
    c = &box->c;
    c->t = t;
    c->fd = fd;
    c->outbound = outbound;
    c->state = outbound ? CONN_CONNECTING : CONN_HANDSHAKE;
    wc_frame_reader_init(&c->reader, WC_FRAME_MAX_HANDSHAKE);
    wc_buf_init(&c->ctl);
    box->ours = t->hello;
    random_bytes(t, box->ours.nonce, WC_NONCE_LEN);
    ev.events = EPOLLIN | (outbound ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_free(c);
        return NULL;
    }
    c->want_out = outbound;
    list_push(&t->conns, c);
    c->hs_timer = tr_timer_start(&t->env, t->opts.handshake_timeout_ms, handshake_timeout, c);
    return c;
}

/* The handshake is complete on c: deliver and send from now on. */
static void conn_established(conn *c)
{
    transport *t = c->t;

    c->state = CONN_ESTABLISHED;
    wc_frame_reader_set_max(&c->reader, WC_ENV_MAX_MESSAGE);
    if (c->hs_timer)
        tr_timer_cancel(&t->env, c->hs_timer);
    c->hs_timer = 0;
    wc_addr_format(&c->theirs.addr, c->name, sizeof(c->name));
    tlog(t, WC_ENV_LOG_DEBUG, "%s %s", c->outbound ? "connected to" : "accepted connection from",
         c->name);
    if (c->peer != NULL) {
        c->peer->backoff_ms = 0;
    } else {
        /*
         * The peer is back (it just proved it): if our own connection to it
         * waits out a reconnect backoff, connect now.  Otherwise what we
         * send it, an answer to its first request too, would wait up to
         * reconnect_max_ms, longer than its request timeout.
         */
        peer *p = peer_find(t, &c->theirs.addr);

        if (p != NULL && p->conn == NULL && p->retry_timer != 0) {
            tr_timer_cancel(&t->env, p->retry_timer);
            p->retry_timer = 0;
            p->backoff_ms = 0;
            if (p->head != NULL)
                peer_connect(t, p);
        }
    }
    conn_flush(c);
}

static void on_hello(conn *c, const wc_frame *f)
{
    transport *t = c->t;
    wc_hello *ours = our_hello(c);
    const wc_hello *ini, *acc;
    uint8_t proof[WC_PROOF_LEN];
    char why[300];

    if (c->got_hello) {
        conn_fail(c, WC_ENV_LOG_WARNING, "a second hello");
        return;
    }
    if (wc_hello_decode(f->payload, f->len, f->version, &c->theirs) == WC_OK)
        wc_addr_format(&c->theirs.addr, c->name, sizeof(c->name));
    else if (f->version == ours->version) {
        conn_fail(c, WC_ENV_LOG_WARNING, "%s", wc_last_error());
        return;
    }
    c->theirs.version = f->version;
    if (wc_hello_check(ours, &c->theirs, why, sizeof(why)) != WC_OK) {
        conn_refuse(c, why);
        return;
    }
    c->got_hello = true;
    ini = c->outbound ? ours : &c->theirs;
    acc = c->outbound ? &c->theirs : ours;
    if (wc_handshake_proof(t->secret, t->opts.secret_len,
                           c->outbound ? WC_ROLE_INITIATOR : WC_ROLE_ACCEPTOR, ini, acc,
                           proof) != WC_OK) {
        conn_fail(c, WC_ENV_LOG_WARNING, "%s", wc_last_error());
        return;
    }
    ctl_frame(c, WC_FRAME_PROOF, proof, sizeof(proof));
    conn_flush(c);
}

static void on_proof(conn *c, const wc_frame *f)
{
    transport *t = c->t;
    wc_hello *ours = our_hello(c);
    const wc_hello *ini = c->outbound ? ours : &c->theirs;
    const wc_hello *acc = c->outbound ? &c->theirs : ours;

    if (!c->got_hello) {
        conn_fail(c, WC_ENV_LOG_WARNING, "a proof before the hello");
        return;
    }
    if (!wc_handshake_verify(t->secret, t->opts.secret_len,
                             c->outbound ? WC_ROLE_ACCEPTOR : WC_ROLE_INITIATOR, ini, acc,
                             f->payload, f->len)) {
        conn_refuse(c, "wrong cluster secret");
        return;
    }
    conn_established(c);
}

/* One whole frame arrived on c. */
static void on_frame(conn *c, const wc_frame *f)
{
    transport *t = c->t;

    if (c->state != CONN_ESTABLISHED) {
        if (f->type == WC_FRAME_HELLO)
            on_hello(c, f);
        else if (f->type == WC_FRAME_PROOF)
            on_proof(c, f);
        else
            conn_fail(c, WC_ENV_LOG_WARNING, "frame of type %u before the handshake ended",
                      (unsigned)f->type);
        return;
    }
    if (f->type != WC_FRAME_MESSAGE) {
        conn_fail(c, WC_ENV_LOG_WARNING, "unexpected frame of type %u", (unsigned)f->type);
        return;
    }
    if (f->version != WC_NET_PROTO_VERSION) {
        conn_fail(c, WC_ENV_LOG_WARNING, "frame of protocol version %u, we speak %u",
                  (unsigned)f->version, WC_NET_PROTO_VERSION);
        return;
    }
    if (f->len == 0) {
        conn_fail(c, WC_ENV_LOG_WARNING, "empty message");
        return;
    }
    if (t->env.handlers.on_message != NULL)
        t->env.handlers.on_message(t->env.handlers.ctx, &c->theirs.addr, f->payload, f->len);
}

static void conn_readable(conn *c)
{
    transport *t = c->t;

    for (int i = 0; i < READS_PER_EVENT && c->state != CONN_CLOSED; i++) {
        ssize_t n = recv(c->fd, t->rbuf, READ_CHUNK, 0);
        size_t pos = 0;

        if (n == 0) {
            if (c->state == CONN_ESTABLISHED)
                conn_fail(c, WC_ENV_LOG_INFO, "the peer closed the connection");
            else
                conn_fail(c, WC_ENV_LOG_WARNING, "the peer closed the connection during the handshake");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            conn_fail(c, WC_ENV_LOG_INFO, "%s", strerror(errno));
            return;
        }
        while (pos < (size_t)n && c->state != CONN_CLOSED) {
            size_t used;
            wc_frame f;
            bool got;

            if (wc_frame_read(&c->reader, t->rbuf + pos, (size_t)n - pos, &used, &f, &got) !=
                WC_OK) {
                conn_fail(c, WC_ENV_LOG_WARNING, "%s", wc_last_error());
                return;
            }
            pos += used;
            if (got)
                on_frame(c, &f);
        }
    }
}

/*
 * sendmsg iov[0..cnt) on c: the bytes written, or -1 when the socket is full
 * (EPOLLOUT is then armed) or failed (c is then closed).
 */
static ssize_t conn_send(conn *c, struct iovec *iov, int cnt)
{
    struct msghdr mh;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)cnt;
    do
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            conn_set_out(c, true);
        else
            conn_fail(c, WC_ENV_LOG_INFO, "%s", strerror(errno));
    }
    return n;
}

/* Write what c has to write; EPOLLOUT stays registered while something remains. */
static void conn_flush(conn *c)
{
    peer *p = c->peer;
    struct iovec iov[WRITEV_MAX];
    ssize_t n;

    if (c->state == CONN_CLOSED || c->state == CONN_CONNECTING)
        return;
    if (c->ctl.failed) {
        conn_fail(c, WC_ENV_LOG_WARNING, "out of memory for the handshake");
        return;
    }
    while (c->ctl_off < c->ctl.len) {
        iov[0].iov_base = c->ctl.data + c->ctl_off;
        iov[0].iov_len = c->ctl.len - c->ctl_off;
        if ((n = conn_send(c, iov, 1)) < 0)
            return;
        c->ctl_off += (size_t)n;
    }
    c->ctl_off = 0;
    wc_buf_reset(&c->ctl);
    while (c->state == CONN_ESTABLISHED && p != NULL && p->head != NULL) {
        int cnt = 0;
        out_msg *m;
        size_t left;

        for (m = p->head; m != NULL && cnt < WRITEV_MAX; m = m->next, cnt++) {
            size_t off = cnt == 0 ? p->head_off : 0;

            iov[cnt].iov_base = m->data + off;
            iov[cnt].iov_len = m->len - off;
        }
        if ((n = conn_send(c, iov, cnt)) < 0)
            return;
        for (left = (size_t)n; left > 0;) {
            m = p->head;
            if (left < m->len - p->head_off) {
                p->head_off += left;
                break;
            }
            left -= m->len - p->head_off;
            p->head_off = 0;
            p->head = m->next;
            if (p->head == NULL)
                p->tail = NULL;
            p->queued -= m->len;
            wc_free(m);
        }
    }
    conn_set_out(c, false);
}

static void conn_writable(conn *c)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            conn_fail(c, WC_ENV_LOG_INFO, "could not connect: %s", strerror(err));
            return;
        }
        c->state = CONN_HANDSHAKE;
        send_hello(c);
    }
    conn_flush(c);
}

/* ---------------------------------------------------------------- peers */

static peer *peer_find(transport *t, const wc_addr *a)
{
    for (peer *p = t->peers; p != NULL; p = p->next)
        if (wc_addr_equal(&p->addr, a))
            return p;
    return NULL;
}

static void retry_fire(void *arg)
{
    peer *p = arg;

    p->retry_timer = 0;
    if (p->head != NULL && p->conn == NULL)
        peer_connect(p->t, p);
}

/* Open the outgoing connection of p (a failure closes it through the backoff path). */
static void peer_connect(transport *t, peer *p)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int fd = -1, rc, err = 0;
    conn *c;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)p->addr.port);
    rc = getaddrinfo(p->addr.host, port, &hints, &res);
    for (ai = rc == 0 ? res : NULL; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    if (res != NULL)
        freeaddrinfo(res);
    c = fd >= 0 ? conn_new(t, fd, true) : NULL;
    if (c == NULL) {
        char name[NAME_MAX_LEN];

        if (fd >= 0)
            close(fd);
        wc_addr_format(&p->addr, name, sizeof(name));
        if (rc != 0)
            tlog(t, WC_ENV_LOG_INFO, "could not connect to %s: %s", name, gai_strerror(rc));
        else
            tlog(t, WC_ENV_LOG_INFO, "could not connect to %s: %s", name,
                 err ? strerror(err) : "out of memory");
        peer_failed(p);
        return;
    }
    tune_socket(fd);
    c->peer = p;
    wc_addr_format(&p->addr, c->name, sizeof(c->name));
    p->conn = c;
}

static wc_status tr_send(wc_env *env, const wc_addr *to, const uint8_t *msg, size_t len)
{
    transport *t = env->impl;
    peer *p;
    out_msg *m;

    if (len == 0 || len > WC_ENV_MAX_MESSAGE)
        return wc_error(WC_INVALID_ARGUMENT, "a message has 1 to %u bytes, not %zu",
                        WC_ENV_MAX_MESSAGE, len);
    p = peer_find(t, to);
    if (p == NULL) {
        p = wc_calloc(1, sizeof(*p));
        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory for a peer");
        p->t = t;
        p->addr = *to;
        p->next = t->peers;
        t->peers = p;
    }
    if (p->head != NULL && p->queued + WC_FRAME_HEADER_SIZE + len > t->opts.max_queue_bytes)
        return wc_error(WC_OVERLOADED, "the queue to %s:%u holds %zu bytes (limit %zu)",
                        to->host, (unsigned)to->port, p->queued, t->opts.max_queue_bytes);
    m = wc_malloc(sizeof(*m) + WC_FRAME_HEADER_SIZE + len);
    if (m == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory queueing a message of %zu bytes", len);
    m->next = NULL;
    m->len = WC_FRAME_HEADER_SIZE + len;
    memcpy(m->data + WC_FRAME_HEADER_SIZE, msg, len);
    wc_frame_header(m->data, WC_NET_PROTO_VERSION, WC_FRAME_MESSAGE, msg, (uint32_t)len);
    if (p->tail)
        p->tail->next = m;
    else
        p->head = m;
    p->tail = m;
    p->queued += m->len;
    if (p->conn != NULL) {
        /* written at the end of this loop turn, with what else is sent in it */
        if (p->conn->state == CONN_ESTABLISHED && !p->conn->want_out && !p->dirty) {
            p->dirty = true;
            p->next_dirty = t->dirty;
            t->dirty = p;
        }
    } else if (p->retry_timer == 0) {
        peer_connect(t, p);
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- listening */

static void pause_listen(transport *t, bool pause);

static void resume_listen(void *arg)
{
    pause_listen(arg, false);
}

static void pause_listen(transport *t, bool pause)
{
    struct epoll_event ev;

    if (t->listen_paused == pause)
        return;
    ev.events = EPOLLIN;
    ev.data.ptr = &listen_tag;
    if (pause)
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->listen_fd, NULL);
    else
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->listen_fd, &ev);
    t->listen_paused = pause;
    if (pause)
        tr_timer_start(&t->env, 100, resume_listen, t);
}

static void accept_all(transport *t)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        conn *c;

        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            /* out of descriptors or memory: try again a little later */
            tlog(t, WC_ENV_LOG_WARNING, "could not accept a connection: %s", strerror(errno));
            pause_listen(t, true);
            return;
        }
        tune_socket(fd);
        c = conn_new(t, fd, false);
        if (c == NULL) {
            tlog(t, WC_ENV_LOG_WARNING, "out of memory for an incoming connection");
            close(fd);
            continue;
        }
        sockaddr_name(&ss, c->name, sizeof(c->name));
        send_hello(c);
        conn_flush(c);
    }
}

/* ---------------------------------------------------------------- post and the loop */

static wc_status tr_post(wc_env *env, wc_env_cb cb, void *arg)
{
    transport *t = env->impl;
    post_item *it = wc_malloc(sizeof(*it));
    uint64_t one = 1;
    bool stopping;

    if (it == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory posting to the loop");
    it->next = NULL;
    it->cb = cb;
    it->arg = arg;
    pthread_mutex_lock(&t->post_mu);
    stopping = t->stopping;
    if (!stopping) {
        if (t->post_tail)
            t->post_tail->next = it;
        else
            t->post_head = it;
        t->post_tail = it;
    }
    pthread_mutex_unlock(&t->post_mu);
    if (stopping) {
        wc_free(it);
        return wc_error(WC_UNAVAILABLE, "the transport loop has stopped");
    }
    if (write(t->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return WC_OK; /* the item is queued; the loop drains it on its next wake */
    return WC_OK;
}

/* Run what was posted so far; false once stop was asked. */
static bool run_posts(transport *t)
{
    uint64_t v;
    post_item *list;
    bool stopping;

    if (read(t->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return true;
    pthread_mutex_lock(&t->post_mu);
    list = t->post_head;
    t->post_head = t->post_tail = NULL;
    stopping = t->stopping;
    pthread_mutex_unlock(&t->post_mu);
    while (list != NULL) {
        post_item *it = list;

        list = it->next;
        if (!stopping)
            it->cb(it->arg);
        wc_free(it);
    }
    return !stopping;
}

static void *loop_main(void *arg)
{
    transport *t = arg;
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        int n = epoll_wait(t->epfd, evs, MAX_EVENTS, next_timeout(t));

        if (n < 0 && errno != EINTR) {
            tlog(t, WC_ENV_LOG_WARNING, "epoll_wait failed: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            conn *c;

            if (tag == &wake_tag) {
                if (!run_posts(t))
                    goto out;
                continue;
            }
            if (tag == &listen_tag) {
                accept_all(t);
                continue;
            }
            c = tag;
            if (c->state == CONN_CLOSED)
                continue;
            if (evs[i].events & (EPOLLOUT | EPOLLERR))
                conn_writable(c);
            if (c->state != CONN_CLOSED && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                conn_readable(c);
        }
        run_timers(t);
        while (t->dirty != NULL) {
            peer *p = t->dirty;

            t->dirty = p->next_dirty;
            p->dirty = false;
            if (p->conn != NULL)
                conn_flush(p->conn);
        }
        while (t->dead != NULL) {
            conn *c = t->dead;

            list_remove(&t->dead, c);
            conn_free(c);
        }
        pthread_mutex_lock(&t->post_mu);
        if (t->stopping) {
            pthread_mutex_unlock(&t->post_mu);
            break;
        }
        pthread_mutex_unlock(&t->post_mu);
    }
out:
    return NULL;
}

/* ---------------------------------------------------------------- the other ops */

static uint64_t tr_now_ms(wc_env *env)
{
    return mono_ms();
}

static int64_t tr_wall_us(wc_env *env)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t tr_random(wc_env *env)
{
    transport *t = env->impl;

    return rng_next(t->rng);
}

static void tr_log(wc_env *env, wc_env_log_level level, const char *msg)
{
    tlog(env->impl, level, "%s", msg);
}

static const wc_env_ops transport_ops = {
    .now_ms = tr_now_ms,
    .wall_us = tr_wall_us,
    .random_u64 = tr_random,
    .send = tr_send,
    .timer_start = tr_timer_start,
    .timer_cancel = tr_timer_cancel,
    .post = tr_post,
    .log = tr_log,
};

/* ---------------------------------------------------------------- start, stop */

static void transport_free(transport *t)
{
    conn *c;
    peer *p;
    post_item *it;

    t->stopping = true;
    while ((c = t->conns) != NULL) {
        list_remove(&t->conns, c);
        if (c->fd >= 0)
            close(c->fd);
        conn_free(c);
    }
    while ((c = t->dead) != NULL) {
        list_remove(&t->dead, c);
        conn_free(c);
    }
    while ((p = t->peers) != NULL) {
        t->peers = p->next;
        while (p->head != NULL) {
            out_msg *m = p->head;
            p->head = m->next;
            wc_free(m);
        }
        wc_free(p);
    }
    while ((it = t->post_head) != NULL) {
        t->post_head = it->next;
        wc_free(it);
    }
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    if (t->epfd >= 0)
        close(t->epfd);
    pthread_mutex_destroy(&t->post_mu);
    wc_free(t->timers);
    wc_free(t->heap);
    wc_free(t->rbuf);
    wc_free(t->secret);
    wc_free(t);
}

/* Bind and listen on opts->listen; the real port goes into t->env.self. */
static wc_status listen_on(transport *t)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char port[8], name[NAME_MAX_LEN];
    int rc, err = 0, one = 1;

    wc_addr_format(&t->opts.listen, name, sizeof(name));
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)t->opts.listen.port);
    rc = getaddrinfo(t->opts.listen.host, port, &hints, &res);
    if (rc != 0)
        return wc_error(WC_INVALID_ARGUMENT, "cannot listen on %s: %s", name, gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);

        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
            t->listen_fd = fd;
            break;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (t->listen_fd < 0)
        return wc_error_errno(err, "cannot listen on %s", name);
    t->env.self = t->opts.listen;
    if (getsockname(t->listen_fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            t->env.self.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            t->env.self.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return WC_OK;
}

wc_status wc_transport_start(const wc_transport_options *opts, const wc_env_handlers *handlers,
                             wc_env **out)
{
    transport *t = NULL;
    struct epoll_event ev;
    wc_status st;

    *out = NULL;
    if (opts->cluster_name == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "the transport needs a cluster name");
    if ((st = wc_cluster_name_check(opts->cluster_name)) != WC_OK)
        return st;
    if ((opts->secret == NULL || opts->secret_len == 0) && !opts->allow_no_secret)
        return wc_error(WC_INVALID_ARGUMENT,
                        "no cluster secret: every node needs the same secret, or all of them "
                        "must run without one explicitly");
    if (opts->listen.host[0] == '\0')
        return wc_error(WC_INVALID_ARGUMENT, "the transport needs a listen address");
    t = wc_calloc(1, sizeof(*t));
    if (t == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting the transport");
    t->epfd = t->listen_fd = t->wake_fd = -1;
    t->free_timer = UINT32_MAX;
    pthread_mutex_init(&t->post_mu, NULL);
    t->opts = *opts;
    t->opts.cluster_name = t->cluster;
    snprintf(t->cluster, sizeof(t->cluster), "%s", opts->cluster_name);
    if (t->opts.max_queue_bytes == 0)
        t->opts.max_queue_bytes = WC_TRANSPORT_DEFAULT_QUEUE_BYTES;
    if (t->opts.handshake_timeout_ms == 0)
        t->opts.handshake_timeout_ms = WC_TRANSPORT_DEFAULT_HANDSHAKE_MS;
    if (t->opts.reconnect_min_ms == 0)
        t->opts.reconnect_min_ms = WC_TRANSPORT_DEFAULT_RECONNECT_MIN_MS;
    if (t->opts.reconnect_max_ms == 0)
        t->opts.reconnect_max_ms = WC_TRANSPORT_DEFAULT_RECONNECT_MAX_MS;
    if (t->opts.reconnect_max_ms < t->opts.reconnect_min_ms)
        t->opts.reconnect_max_ms = t->opts.reconnect_min_ms;
    if (opts->secret != NULL && opts->secret_len > 0) {
        t->secret = wc_memdup(opts->secret, opts->secret_len);
        if (t->secret == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory starting the transport");
            goto fail;
        }
    } else {
        t->opts.secret_len = 0;
    }
    t->opts.secret = NULL;
    t->rbuf = wc_malloc(READ_CHUNK);
    if (t->rbuf == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting the transport");
        goto fail;
    }
    random_bytes(t, (uint8_t *)t->rng, sizeof(t->rng));
    if ((t->rng[0] | t->rng[1] | t->rng[2] | t->rng[3]) == 0)
        t->rng[0] = (uint64_t)wc__mono_ns() | 1;
    t->env.ops = &transport_ops;
    t->env.handlers = *handlers;
    t->env.impl = t;
    if ((st = listen_on(t)) != WC_OK)
        goto fail;
    t->hello.version = WC_NET_PROTO_VERSION;
    snprintf(t->hello.cluster, sizeof(t->hello.cluster), "%s", t->cluster);
    t->hello.addr = t->env.self;
    memcpy(t->hello.host_id, opts->host_id, WC_HOST_ID_LEN);
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->epfd < 0 || t->wake_fd < 0) {
        st = wc_error_errno(errno, "cannot create the transport's event loop");
        goto fail;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = &wake_tag;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wake_fd, &ev) != 0) {
        st = wc_error_errno(errno, "cannot create the transport's event loop");
        goto fail;
    }
    ev.data.ptr = &listen_tag;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->listen_fd, &ev) != 0) {
        st = wc_error_errno(errno, "cannot create the transport's event loop");
        goto fail;
    }
    if ((st = wc__thread_start(&t->thread, loop_main, t, "internode transport")) != WC_OK)
        goto fail;
    t->thread_started = true;
    *out = &t->env;
    return WC_OK;
fail:
    transport_free(t);
    return st;
}

void wc_transport_stop(wc_env *env)
{
    transport *t;
    uint64_t one = 1;

    if (env == NULL)
        return;
    t = env->impl;
    pthread_mutex_lock(&t->post_mu);
    t->stopping = true;
    pthread_mutex_unlock(&t->post_mu);
    if (write(t->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is already non-zero: the loop wakes anyway */
    }
    if (t->thread_started)
        pthread_join(t->thread, NULL);
    transport_free(t);
}
