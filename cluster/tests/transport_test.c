/*
 * transport_test.c - the real wc_env over TCP on 127.0.0.1 (ephemeral ports):
 * messages between two and three nodes arrive in order and intact (a
 * message of several MiB too); a peer that goes away is reported and
 * reached again once it is back; a peer of another cluster, secret or
 * protocol version is refused with a log line that says why; damaged
 * frames and a silent peer close their connection and nothing else; timers
 * fire in order and cancel; a peer that comes back during the reconnect
 * backoff is sent to at once; post works from many threads; a full queue
 * gives WC_OVERLOADED; stop with traffic in flight frees everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "coding.h"
#include "frame.h"
#include "handshake.h"
#include "thread.h"
#include "transport.h"

#define WAIT_MS 10000 /* every wait in this file gives up after this long */
#define MAX_LOG 64

typedef struct rx_msg {
    struct rx_msg *next;
    wc_addr from;
    size_t len;
    uint8_t data[];
} rx_msg;

/* One transport and what it has seen, filled on its loop thread. */
typedef struct node {
    wc_env *env;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rx_msg *head, *tail;
    int nmsgs;
    int downs;
    wc_addr last_down;
    char *log[MAX_LOG];
    int nlog;
} node;

static const uint8_t SECRET[] = "correct horse battery staple";

static void on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    node *n = ctx;
    rx_msg *m = malloc(sizeof(*m) + len);

    assert_non_null(m);
    m->next = NULL;
    m->from = *from;
    m->len = len;
    memcpy(m->data, msg, len);
    pthread_mutex_lock(&n->mu);
    if (n->tail)
        n->tail->next = m;
    else
        n->head = m;
    n->tail = m;
    n->nmsgs++;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void on_peer_down(void *ctx, const wc_addr *peer)
{
    node *n = ctx;

    pthread_mutex_lock(&n->mu);
    n->downs++;
    n->last_down = *peer;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void on_log(void *arg, wc_env_log_level level, const char *line)
{
    node *n = arg;

    pthread_mutex_lock(&n->mu);
    if (n->nlog < MAX_LOG)
        n->log[n->nlog++] = strdup(line);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void default_options(wc_transport_options *o, node *n, const char *cluster)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(wc_addr_parse("127.0.0.1:1", &o->listen), WC_OK);
    o->listen.port = 0;
    o->cluster_name = cluster;
    o->secret = SECRET;
    o->secret_len = sizeof(SECRET) - 1;
    o->reconnect_min_ms = 20;
    o->reconnect_max_ms = 200;
    o->log = on_log;
    o->log_arg = n;
    for (int i = 0; i < WC_HOST_ID_LEN; i++)
        o->host_id[i] = (uint8_t)((uintptr_t)n >> (i % 8));
}

static void node_init(node *n)
{
    memset(n, 0, sizeof(*n));
    pthread_mutex_init(&n->mu, NULL);
    assert_int_equal(wc__cond_init(&n->cv), 0);
}

static void node_start_opts(node *n, const wc_transport_options *o)
{
    wc_env_handlers h = {.on_message = on_message, .on_peer_down = on_peer_down, .ctx = n};

    if (wc_transport_start(o, &h, &n->env) != WC_OK)
        fail_msg("wc_transport_start: %s", wc_last_error());
}

static void node_start(node *n, const char *cluster)
{
    wc_transport_options o;

    node_init(n);
    default_options(&o, n, cluster);
    node_start_opts(n, &o);
}

/* Start n again on the port it had (a peer that comes back). */
static void node_restart_on(node *n, const char *cluster, uint16_t port)
{
    wc_transport_options o;

    node_init(n);
    default_options(&o, n, cluster);
    o.listen.port = port;
    node_start_opts(n, &o);
}

/* Stop the transport (if running) and forget what the node saw. */
static void node_stop(node *n)
{
    wc_transport_stop(n->env);
    n->env = NULL;
    while (n->head) {
        rx_msg *m = n->head;
        n->head = m->next;
        free(m);
    }
    n->tail = NULL;
    for (int i = 0; i < n->nlog; i++)
        free(n->log[i]);
    n->nlog = 0;
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
}

/* Wait until pred(n) holds (under n->mu); false after WAIT_MS. */
static bool wait_until(node *n, bool (*pred)(node *, const void *), const void *arg)
{
    struct timespec ts;
    bool ok;

    wc__deadline_ms(&ts, WAIT_MS);
    pthread_mutex_lock(&n->mu);
    while (!(ok = pred(n, arg)))
        if (pthread_cond_timedwait(&n->cv, &n->mu, &ts) != 0) {
            ok = pred(n, arg);
            break;
        }
    pthread_mutex_unlock(&n->mu);
    return ok;
}

static bool has_msgs(node *n, const void *arg)
{
    return n->nmsgs >= *(const int *)arg;
}

static bool has_downs(node *n, const void *arg)
{
    return n->downs >= *(const int *)arg;
}

static bool has_log(node *n, const void *arg)
{
    for (int i = 0; i < n->nlog; i++)
        if (strstr(n->log[i], arg) != NULL)
            return true;
    return false;
}

static void expect_log(node *n, const char *text)
{
    if (!wait_until(n, has_log, text)) {
        for (int i = 0; i < n->nlog; i++)
            print_message("log: %s\n", n->log[i]);
        fail_msg("no log line contains \"%s\"", text);
    }
}

static void wait_msgs(node *n, int count)
{
    if (!wait_until(n, has_msgs, &count))
        fail_msg("%d of %d messages arrived", n->nmsgs, count);
}

/* ---------------------------------------------------------------- running on the loop */

typedef struct call {
    void (*fn)(struct call *);
    wc_env *env;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    /* arguments and results */
    wc_addr to;
    const uint8_t *msg;
    size_t len;
    int count;
    wc_status st;
    char detail[200]; /* wc_last_error of the loop thread after a failure */
    int sent;
} call;

static void call_trampoline(void *arg)
{
    call *c = arg;

    c->fn(c);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Run c->fn(c) on env's loop and wait for it. */
static void on_loop(wc_env *env, call *c)
{
    c->env = env;
    c->done = false;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    assert_int_equal(env->ops->post(env, call_trampoline, c), WC_OK);
    pthread_mutex_lock(&c->mu);
    while (!c->done)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Send count messages "<i>" padded to len bytes (len 0: just the number), stop at a failure. */
static void do_send_numbered(call *c)
{
    uint8_t buf[256];

    c->st = WC_OK;
    for (c->sent = 0; c->sent < c->count; c->sent++) {
        size_t n = (size_t)snprintf((char *)buf, sizeof(buf), "%d", c->sent);

        if (c->len > n) {
            memset(buf + n, '.', c->len - n);
            n = c->len;
        }
        c->st = c->env->ops->send(c->env, &c->to, buf, n);
        if (c->st != WC_OK) {
            snprintf(c->detail, sizeof(c->detail), "%s", wc_last_error());
            return;
        }
    }
}

static wc_status send_numbered(node *from, const wc_addr *to, int count, size_t len)
{
    call c = {.fn = do_send_numbered, .to = *to, .count = count, .len = len};

    on_loop(from->env, &c);
    return c.st;
}

static void do_send(call *c)
{
    c->st = c->env->ops->send(c->env, &c->to, c->msg, c->len);
}

static wc_status send_one(node *from, const wc_addr *to, const uint8_t *msg, size_t len)
{
    call c = {.fn = do_send, .to = *to, .msg = msg, .len = len};

    on_loop(from->env, &c);
    return c.st;
}

/* The messages n received from *from are "0", "1", ... count-1 in order. */
static void check_numbered(node *n, const wc_addr *from, int count)
{
    int next = 0;

    pthread_mutex_lock(&n->mu);
    for (rx_msg *m = n->head; m != NULL; m = m->next) {
        char want[32];
        int wl;

        if (!wc_addr_equal(&m->from, from))
            continue;
        wl = snprintf(want, sizeof(want), "%d", next);
        if (m->len < (size_t)wl || memcmp(m->data, want, (size_t)wl) != 0 ||
            (m->len > (size_t)wl && m->data[wl] != '.'))
            fail_msg("message %d from %s:%u is \"%.*s\"", next, from->host, from->port,
                     (int)(m->len < 20 ? m->len : 20), (const char *)m->data);
        next++;
    }
    pthread_mutex_unlock(&n->mu);
    assert_int_equal(next, count);
}

/* ---------------------------------------------------------------- tests */

static void test_two_nodes_in_order(void **state)
{
    node a, b;
    uint64_t live = wc_alloc_live_count();

    (void)state;
    node_start(&a, "test");
    node_start(&b, "test");
    assert_int_equal(send_numbered(&a, &b.env->self, 2000, 0), WC_OK);
    assert_int_equal(send_numbered(&b, &a.env->self, 2000, 100), WC_OK);
    wait_msgs(&b, 2000);
    wait_msgs(&a, 2000);
    check_numbered(&b, &a.env->self, 2000);
    check_numbered(&a, &b.env->self, 2000);
    node_stop(&a);
    node_stop(&b);
    assert_int_equal(wc_alloc_live_count(), live);
}

static void test_three_nodes(void **state)
{
    node n[3];

    (void)state;
    for (int i = 0; i < 3; i++)
        node_start(&n[i], "three");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                assert_int_equal(send_numbered(&n[i], &n[j].env->self, 500, 40), WC_OK);
    for (int i = 0; i < 3; i++) {
        wait_msgs(&n[i], 1000);
        for (int j = 0; j < 3; j++)
            if (i != j)
                check_numbered(&n[i], &n[j].env->self, 500);
    }
    for (int i = 0; i < 3; i++)
        node_stop(&n[i]);
}

static void test_big_message(void **state)
{
    node a, b;
    size_t big = 6u << 20;
    uint8_t *msg = malloc(WC_ENV_MAX_MESSAGE + 1);
    uint64_t x = 88172645463325252ull;

    (void)state;
    assert_non_null(msg);
    for (size_t i = 0; i < WC_ENV_MAX_MESSAGE + 1; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        msg[i] = (uint8_t)x;
    }
    node_start(&a, "big");
    node_start(&b, "big");
    assert_int_equal(send_one(&a, &b.env->self, msg, big), WC_OK);
    assert_int_equal(send_one(&a, &b.env->self, msg + 1, WC_ENV_MAX_MESSAGE), WC_OK);
    assert_int_equal(send_one(&a, &b.env->self, msg, 1), WC_OK);
    assert_int_equal(send_one(&a, &b.env->self, msg, WC_ENV_MAX_MESSAGE + 1),
                     WC_INVALID_ARGUMENT);
    assert_int_equal(send_one(&a, &b.env->self, msg, 0), WC_INVALID_ARGUMENT);
    wait_msgs(&b, 3);
    assert_int_equal(b.head->len, big);
    assert_memory_equal(b.head->data, msg, big);
    assert_int_equal(b.head->next->len, WC_ENV_MAX_MESSAGE);
    assert_memory_equal(b.head->next->data, msg + 1, WC_ENV_MAX_MESSAGE);
    assert_int_equal(b.tail->len, 1);
    node_stop(&a);
    node_stop(&b);
    free(msg);
}

static void test_peer_down_and_back(void **state)
{
    node a, b;
    wc_addr baddr;
    int one = 1, two = 2;

    (void)state;
    node_start(&a, "updown");
    node_start(&b, "updown");
    baddr = b.env->self;
    assert_int_equal(send_numbered(&a, &baddr, 10, 0), WC_OK);
    wait_msgs(&b, 10);
    node_stop(&b);
    /* a notices the closed connection (and reports the peer) */
    if (!wait_until(&a, has_downs, &one))
        fail_msg("no on_peer_down after the peer stopped");
    assert_true(wc_addr_equal(&a.last_down, &baddr));
    /* sends while it is away are queued; connecting fails and is reported again */
    assert_int_equal(send_numbered(&a, &baddr, 5, 0), WC_OK);
    if (!wait_until(&a, has_downs, &two))
        fail_msg("no on_peer_down for the failed reconnection");
    /* b comes back on the same port: a reconnects after its backoff and delivers */
    node_restart_on(&b, "updown", baddr.port);
    wait_msgs(&b, 5);
    check_numbered(&b, &a.env->self, 5);
    node_stop(&a);
    node_stop(&b);
}

/*
 * A peer that comes back while this node waits out its reconnect backoff:
 * its incoming connection proves it is there, so what this node sends it
 * (an answer to its first request) goes out at once rather than after the
 * backoff, which can outlast the peer's request timeout.
 */
static void test_peer_back_reconnects_at_once(void **state)
{
    node a, b;
    wc_transport_options o;
    wc_addr baddr;
    int one = 1, two = 2;
    uint64_t t0;

    (void)state;
    node_init(&a);
    default_options(&o, &a, "back");
    o.reconnect_min_ms = 5000; /* the backoff after the peer went away */
    o.reconnect_max_ms = 5000;
    node_start_opts(&a, &o);
    node_start(&b, "back");
    baddr = b.env->self;
    assert_int_equal(send_numbered(&a, &baddr, 1, 0), WC_OK);
    wait_msgs(&b, 1);
    node_stop(&b);
    if (!wait_until(&a, has_downs, &one))
        fail_msg("no on_peer_down after the peer stopped");
    /* b restarts on the same port and speaks first */
    node_restart_on(&b, "back", baddr.port);
    t0 = wc__mono_ns() / 1000000;
    assert_int_equal(send_numbered(&b, &a.env->self, 1, 0), WC_OK);
    wait_msgs(&a, 1);
    /* a answers: it arrives well before a's backoff of 5 s ends */
    assert_int_equal(send_numbered(&a, &baddr, 2, 0), WC_OK);
    if (!wait_until(&b, has_msgs, &two))
        fail_msg("the answer never arrived");
    if (wc__mono_ns() / 1000000 - t0 > 2500)
        fail_msg("the answer took %llu ms: it waited for the reconnect backoff",
                 (unsigned long long)(wc__mono_ns() / 1000000 - t0));
    check_numbered(&b, &a.env->self, 2);
    node_stop(&a);
    node_stop(&b);
}

static void test_wrong_cluster_name(void **state)
{
    node a, b;
    char line[200];
    int one = 1;

    (void)state;
    node_start(&a, "a");
    node_start(&b, "b");
    assert_int_equal(send_numbered(&a, &b.env->self, 3, 0), WC_OK);
    snprintf(line, sizeof(line), "refused connection from %s:%u: cluster name \"a\" differs from ours \"b\"",
             a.env->self.host, (unsigned)a.env->self.port);
    expect_log(&b, line);
    snprintf(line, sizeof(line), "refused connection to %s:%u: cluster name \"b\" differs from ours \"a\"",
             b.env->self.host, (unsigned)b.env->self.port);
    expect_log(&a, line);
    if (!wait_until(&a, has_downs, &one))
        fail_msg("no on_peer_down for a refused connection");
    assert_int_equal(b.nmsgs, 0);
    node_stop(&a);
    node_stop(&b);
}

static void test_wrong_secret(void **state)
{
    node a, b;
    wc_transport_options o;
    static const uint8_t other[] = "another secret";
    char line[200];

    (void)state;
    node_start(&a, "c");
    node_init(&b);
    default_options(&o, &b, "c");
    o.secret = other;
    o.secret_len = sizeof(other) - 1;
    node_start_opts(&b, &o);
    assert_int_equal(send_numbered(&a, &b.env->self, 3, 0), WC_OK);
    snprintf(line, sizeof(line), "refused connection from %s:%u: wrong cluster secret",
             a.env->self.host, (unsigned)a.env->self.port);
    expect_log(&b, line);
    snprintf(line, sizeof(line), "refused connection to %s:%u: wrong cluster secret",
             b.env->self.host, (unsigned)b.env->self.port);
    expect_log(&a, line);
    assert_int_equal(b.nmsgs, 0);
    node_stop(&a);
    node_stop(&b);
}

static void test_no_secret(void **state)
{
    node a, b;
    wc_transport_options o;
    wc_env_handlers h = {0};
    wc_env *env = NULL;

    (void)state;
    /* without a secret the transport does not start unless told */
    node_init(&a);
    default_options(&o, &a, "open");
    o.secret = NULL;
    o.secret_len = 0;
    assert_int_equal(wc_transport_start(&o, &h, &env), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "no cluster secret"));
    assert_null(env);
    /* two nodes that both run without one talk; a node with a secret refuses them */
    o.allow_no_secret = true;
    node_start_opts(&a, &o);
    node_init(&b);
    default_options(&o, &b, "open");
    o.secret = NULL;
    o.secret_len = 0;
    o.allow_no_secret = true;
    node_start_opts(&b, &o);
    assert_int_equal(send_numbered(&a, &b.env->self, 3, 0), WC_OK);
    wait_msgs(&b, 3);
    node_stop(&b);
    node_start(&b, "open");
    assert_int_equal(send_numbered(&a, &b.env->self, 3, 0), WC_OK);
    expect_log(&b, "wrong cluster secret");
    assert_int_equal(b.nmsgs, 0);
    node_stop(&a);
    node_stop(&b);
}

static void test_bad_options_and_out_of_memory(void **state)
{
    node a, b;
    wc_transport_options o;
    wc_env_handlers h = {0};
    wc_env *env = NULL;
    uint64_t live = wc_alloc_live_count();
    int n;

    (void)state;
    node_start(&a, "opts");
    /* a port another node listens on */
    node_init(&b);
    default_options(&o, &b, "opts");
    o.listen.port = a.env->self.port;
    assert_int_equal(wc_transport_start(&o, &h, &env), WC_IO_ERROR);
    assert_non_null(strstr(wc_last_error(), "cannot listen on 127.0.0.1:"));
    assert_null(env);
    /* a cluster name with a quote */
    o.listen.port = 0;
    o.cluster_name = "a\"b";
    assert_int_equal(wc_transport_start(&o, &h, &env), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "cluster name"));
    node_stop(&a);
    assert_int_equal(wc_alloc_live_count(), live);
    /* each allocation of start failing in turn: WC_NO_MEMORY and nothing left behind */
    o.cluster_name = "opts";
    for (n = 1; n < 50; n++) {
        wc_status st;

        wc_alloc_fail_after((uint64_t)n, 1);
        st = wc_transport_start(&o, &h, &env);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK)
            break;
        assert_int_equal(st, WC_NO_MEMORY);
        assert_int_equal(wc_alloc_live_count(), live);
    }
    assert_true(n > 1 && n < 50);
    wc_transport_stop(env);
    assert_int_equal(wc_alloc_live_count(), live);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
}

/* ---------------------------------------------------------------- raw peers */

static int raw_connect(const wc_addr *to)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(to->port);
    inet_pton(AF_INET, to->host, &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_frame(int fd, uint8_t version, uint8_t type, const uint8_t *p, size_t n)
{
    uint8_t hdr[WC_FRAME_HEADER_SIZE];

    wc_frame_header(hdr, version, type, p, (uint32_t)n);
    assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), sizeof(hdr));
    if (n > 0)
        assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static uint8_t raw_buf[4096]; /* bytes read from the raw connection, not yet decoded */
static size_t raw_have, raw_pos;

/* Read frames until one of the given type; false if the connection closed first. */
static bool raw_read_frame(int fd, wc_frame_reader *r, uint8_t type, uint8_t *out, size_t *outlen)
{
    uint8_t *buf = raw_buf;
    size_t have = raw_have, pos = raw_pos;

    for (;;) {
        while (pos < have) {
            size_t used;
            wc_frame f;
            bool got;

            assert_int_equal(wc_frame_read(r, buf + pos, have - pos, &used, &f, &got), WC_OK);
            pos += used;
            if (got && f.type == type) {
                memcpy(out, f.payload, f.len);
                *outlen = f.len;
                raw_have = have;
                raw_pos = pos;
                return true;
            }
        }
        {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            ssize_t n;

            if (poll(&pfd, 1, WAIT_MS) <= 0)
                return false;
            n = recv(fd, buf, sizeof(raw_buf), 0);
            if (n <= 0)
                return false;
            have = (size_t)n;
            pos = 0;
        }
    }
}

/* True once the peer has closed fd (EOF or reset) within WAIT_MS. */
static bool raw_closed(int fd)
{
    uint8_t buf[4096];

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, WAIT_MS) <= 0)
            return false;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return true;
    }
}

/* Complete a handshake on fd as a node of cluster "raw" at 127.0.0.1:port. */
static void raw_handshake(int fd, node *target, uint16_t port)
{
    wc_hello ours, theirs;
    wc_frame_reader r;
    wc_buf body;
    uint8_t buf[WC_FRAME_MAX_HANDSHAKE], proof[WC_PROOF_LEN];
    size_t len;

    raw_have = raw_pos = 0;
    memset(&ours, 0, sizeof(ours));
    ours.version = WC_NET_PROTO_VERSION;
    strcpy(ours.cluster, "raw");
    strcpy(ours.addr.host, "127.0.0.1");
    ours.addr.port = port;
    ours.nonce[0] = 42;
    wc_buf_init(&body);
    wc_hello_encode(&ours, &body);
    raw_frame(fd, WC_NET_PROTO_VERSION, WC_FRAME_HELLO, body.data, body.len);
    wc_buf_free(&body);
    wc_frame_reader_init(&r, WC_FRAME_MAX_HANDSHAKE);
    assert_true(raw_read_frame(fd, &r, WC_FRAME_HELLO, buf, &len));
    assert_int_equal(wc_hello_decode(buf, len, WC_NET_PROTO_VERSION, &theirs), WC_OK);
    assert_true(wc_addr_equal(&theirs.addr, &target->env->self));
    assert_int_equal(wc_handshake_proof(SECRET, sizeof(SECRET) - 1, WC_ROLE_INITIATOR, &ours,
                                        &theirs, proof),
                     WC_OK);
    raw_frame(fd, WC_NET_PROTO_VERSION, WC_FRAME_PROOF, proof, sizeof(proof));
    assert_true(raw_read_frame(fd, &r, WC_FRAME_PROOF, buf, &len));
    assert_true(wc_handshake_verify(SECRET, sizeof(SECRET) - 1, WC_ROLE_ACCEPTOR, &ours, &theirs,
                                    buf, len));
    wc_frame_reader_free(&r);
}

static void test_wrong_version(void **state)
{
    node a;
    wc_hello h;
    wc_buf body;
    int fd;

    (void)state;
    node_start(&a, "raw");
    fd = raw_connect(&a.env->self);
    memset(&h, 0, sizeof(h));
    strcpy(h.cluster, "raw");
    strcpy(h.addr.host, "127.0.0.1");
    h.addr.port = 7002;
    wc_buf_init(&body);
    wc_hello_encode(&h, &body);
    raw_frame(fd, 2, WC_FRAME_HELLO, body.data, body.len);
    wc_buf_free(&body);
    expect_log(&a, "refused connection from 127.0.0.1:7002: protocol version 2, we speak 1");
    assert_true(raw_closed(fd));
    close(fd);
    node_stop(&a);
}

static void test_corrupted_frames(void **state)
{
    node a, b;
    uint8_t junk[64];
    uint8_t hdr[WC_FRAME_HEADER_SIZE];
    int fd;

    (void)state;
    node_start(&a, "raw");
    /* garbage instead of a hello */
    fd = raw_connect(&a.env->self);
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), sizeof(junk));
    expect_log(&a, "bad frame magic 0x78787878");
    assert_true(raw_closed(fd));
    close(fd);

    /* an unauthenticated peer announcing a big frame: cut at the header */
    fd = raw_connect(&a.env->self);
    wc_frame_header(hdr, WC_NET_PROTO_VERSION, WC_FRAME_HELLO, NULL, 0);
    wc_enc_u32(hdr + WC_FRAME_OFF_LENGTH, 100u << 20);
    assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), sizeof(hdr));
    expect_log(&a, "frame of 104857600 bytes exceeds the limit of 1024 bytes");
    assert_true(raw_closed(fd));
    close(fd);

    /* after a good handshake: a message whose checksum is wrong, then one too big */
    fd = raw_connect(&a.env->self);
    raw_handshake(fd, &a, 7005);
    wc_frame_header(hdr, WC_NET_PROTO_VERSION, WC_FRAME_MESSAGE, junk, sizeof(junk));
    hdr[WC_FRAME_OFF_CHECKSUM] ^= 1;
    assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), sizeof(hdr));
    assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), sizeof(junk));
    expect_log(&a, "closed connection from 127.0.0.1:7005: frame checksum mismatch");
    assert_true(raw_closed(fd));
    close(fd);
    fd = raw_connect(&a.env->self);
    raw_handshake(fd, &a, 7006);
    raw_frame(fd, WC_NET_PROTO_VERSION, WC_FRAME_MESSAGE, junk, 1); /* a good one */
    wc_frame_header(hdr, WC_NET_PROTO_VERSION, WC_FRAME_MESSAGE, NULL, 0);
    wc_enc_u32(hdr + WC_FRAME_OFF_LENGTH, WC_ENV_MAX_MESSAGE + 1);
    assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), sizeof(hdr));
    expect_log(&a, "closed connection from 127.0.0.1:7006: frame of 16777217 bytes exceeds");
    assert_true(raw_closed(fd));
    close(fd);
    wait_msgs(&a, 1);

    /* the node is unharmed: a real peer still gets through */
    node_start(&b, "raw");
    assert_int_equal(send_numbered(&b, &a.env->self, 5, 0), WC_OK);
    wait_msgs(&a, 6);
    check_numbered(&a, &b.env->self, 5);
    node_stop(&a);
    node_stop(&b);
}

static void test_handshake_timeout(void **state)
{
    node a;
    wc_transport_options o;
    int fd;
    uint64_t t0;

    (void)state;
    node_init(&a);
    default_options(&o, &a, "slow");
    o.handshake_timeout_ms = 200;
    node_start_opts(&a, &o);
    t0 = (uint64_t)wc__mono_ns();
    fd = raw_connect(&a.env->self);
    expect_log(&a, "no handshake within 200 ms");
    assert_true(raw_closed(fd));
    assert_true((uint64_t)wc__mono_ns() - t0 >= 190000000ull);
    close(fd);
    node_stop(&a);
}

/* ---------------------------------------------------------------- timers, post */

typedef struct timer_log {
    int order[16];
    int n;
    uint64_t ids[16];
    wc_env *env;
} timer_log;

typedef struct timer_arg {
    timer_log *log;
    int tag;
} timer_arg;

static void timer_fired(void *arg)
{
    timer_arg *ta = arg;

    ta->log->order[ta->log->n++] = ta->tag;
}

static timer_log tlog_state;
static timer_arg targs[8];

static void do_start_timers(call *c)
{
    static const int delays[] = {60, 10, 40, 10, 30, 20, 50, 0};
    wc_env *env = c->env;

    tlog_state.env = env;
    for (int i = 0; i < 8; i++) {
        targs[i].log = &tlog_state;
        targs[i].tag = i;
        tlog_state.ids[i] = env->ops->timer_start(env, (uint64_t)delays[i], timer_fired, &targs[i]);
        assert_true(tlog_state.ids[i] != 0);
    }
    env->ops->timer_cancel(env, tlog_state.ids[2]); /* 40 ms: never fires */
    env->ops->timer_cancel(env, tlog_state.ids[2]); /* twice: ignored */
}

static void do_count_fired(call *c)
{
    c->count = tlog_state.n;
}

static void do_cancel_fired(call *c)
{
    /*
     * A new timer takes the slot of one that fired; cancelling the old ids
     * (fired or cancelled already) is ignored and leaves the new one alone.
     */
    targs[2].tag = 8;
    tlog_state.ids[8] = c->env->ops->timer_start(c->env, 10, timer_fired, &targs[2]);
    for (int i = 0; i < 8; i++)
        c->env->ops->timer_cancel(c->env, tlog_state.ids[i]);
}

static void test_timers(void **state)
{
    node a;
    call c = {.fn = do_start_timers};
    call d = {.fn = do_count_fired};
    call e = {.fn = do_cancel_fired};
    static const int want[] = {7, 1, 3, 5, 4, 6, 0};
    uint64_t t0;

    (void)state;
    memset(&tlog_state, 0, sizeof(tlog_state));
    node_start(&a, "timers");
    on_loop(a.env, &c);
    t0 = (uint64_t)wc__mono_ns();
    do {
        usleep(100 * 1000); /* the last timer is due after 60 ms: more on a busy machine */
        on_loop(a.env, &d);
    } while (d.count < 7 && (uint64_t)wc__mono_ns() - t0 < 5000000000ull);
    assert_int_equal(d.count, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(tlog_state.order[i], want[i]);
    on_loop(a.env, &e);
    do {
        usleep(50 * 1000);
        on_loop(a.env, &d);
    } while (d.count < 8 && (uint64_t)wc__mono_ns() - t0 < 5000000000ull);
    assert_int_equal(d.count, 8);
    assert_int_equal(tlog_state.order[7], 8);
    assert_int_not_equal(tlog_state.ids[8] & 0xffffffffu, 0);
    node_stop(&a);
}

#define POST_THREADS 8
#define POSTS_PER_THREAD 2000

typedef struct post_state {
    int last[POST_THREADS];
    int total;
    bool out_of_order;
} post_state;

typedef struct post_arg {
    post_state *ps;
    int thread;
    int seq;
} post_arg;

static post_arg post_args[POST_THREADS][POSTS_PER_THREAD];

static void posted(void *arg)
{
    post_arg *pa = arg;

    if (pa->ps->last[pa->thread] + 1 != pa->seq)
        pa->ps->out_of_order = true;
    pa->ps->last[pa->thread] = pa->seq;
    pa->ps->total++;
}

typedef struct poster {
    wc_env *env;
    post_state *ps;
    int thread;
} poster;

static void *post_thread(void *arg)
{
    poster *p = arg;

    for (int i = 0; i < POSTS_PER_THREAD; i++) {
        post_arg *pa = &post_args[p->thread][i];

        pa->ps = p->ps;
        pa->thread = p->thread;
        pa->seq = i;
        if (p->env->ops->post(p->env, posted, pa) != WC_OK)
            return (void *)1;
    }
    return NULL;
}

static void do_read_total(call *c)
{
    post_state *ps = (post_state *)c->msg;

    c->count = ps->total;
    c->sent = ps->out_of_order;
}

static void test_post_from_many_threads(void **state)
{
    node a;
    post_state ps;
    poster p[POST_THREADS];
    pthread_t th[POST_THREADS];
    call c = {.fn = do_read_total};
    uint64_t t0;

    (void)state;
    memset(&ps, 0, sizeof(ps));
    for (int i = 0; i < POST_THREADS; i++)
        ps.last[i] = -1;
    node_start(&a, "post");
    for (int i = 0; i < POST_THREADS; i++) {
        p[i] = (poster){.env = a.env, .ps = &ps, .thread = i};
        assert_int_equal(pthread_create(&th[i], NULL, post_thread, &p[i]), 0);
    }
    for (int i = 0; i < POST_THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    c.msg = (const uint8_t *)&ps;
    t0 = (uint64_t)wc__mono_ns();
    do {
        on_loop(a.env, &c); /* posted after all of them: they have run */
    } while (c.count < POST_THREADS * POSTS_PER_THREAD && wc__mono_ns() - t0 < 5000000000ll);
    assert_int_equal(c.count, POST_THREADS * POSTS_PER_THREAD);
    assert_false(c.sent);
    node_stop(&a);
}

/* ---------------------------------------------------------------- overload, stop */

static void test_full_queue_overloaded(void **state)
{
    node a;
    wc_transport_options o;
    wc_addr nowhere;
    int fd;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    (void)state;
    /* a port nobody listens on: bound, then closed */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    assert_int_equal(wc_addr_parse("127.0.0.1:1", &nowhere), WC_OK);
    nowhere.port = ntohs(sa.sin_port);

    node_init(&a);
    default_options(&o, &a, "full");
    o.max_queue_bytes = 10000;
    node_start_opts(&a, &o);
    {
        call c = {.fn = do_send_numbered, .to = nowhere, .count = 1000, .len = 100};

        /* 100-byte messages take 116 bytes queued: the 87th does not fit */
        on_loop(a.env, &c);
        assert_int_equal(c.st, WC_OVERLOADED);
        assert_int_equal(c.sent, 86);
        assert_non_null(strstr(c.detail, "the queue to 127.0.0.1:"));
        /* it stays full while the peer is unreachable */
        on_loop(a.env, &c);
        assert_int_equal(c.st, WC_OVERLOADED);
        assert_int_equal(c.sent, 0);
    }
    node_stop(&a);
}

static void test_stop_with_traffic(void **state)
{
    node n[3];
    uint64_t live = wc_alloc_live_count();

    (void)state;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3; i++)
            node_start(&n[i], "stop");
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                if (i != j)
                    assert_int_equal(send_numbered(&n[i], &n[j].env->self, 3000, 200), WC_OK);
        /* stop in a different order each round, messages still in flight */
        for (int i = 0; i < 3; i++)
            node_stop(&n[(i + round) % 3]);
        assert_int_equal(wc_alloc_live_count(), live);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_in_order),
        cmocka_unit_test(test_three_nodes),
        cmocka_unit_test(test_big_message),
        cmocka_unit_test(test_peer_down_and_back),
        cmocka_unit_test(test_peer_back_reconnects_at_once),
        cmocka_unit_test(test_wrong_cluster_name),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_no_secret),
        cmocka_unit_test(test_bad_options_and_out_of_memory),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_corrupted_frames),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_post_from_many_threads),
        cmocka_unit_test(test_full_queue_overloaded),
        cmocka_unit_test(test_stop_with_traffic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
