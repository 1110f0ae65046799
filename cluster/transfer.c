/*
 * transfer.c - asking nodes to pull token ranges, and serving such asks
 * (contract in transfer.h, messages in transfer_format.h).
 *
 * The asker keeps one record per ask (its id, target, the encoded ASK
 * message, a deadline) and a timer that sends the ASK again every
 * resend_ms.  The target keeps one record per session name it was asked
 * for (the newest asker and ask id, whether its pull runs, how it ended
 * and a hash of its ranges), the oldest ended ones dropped past
 * WC__SERVED_MAX.
 */
#include "transfer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"

#define WC__SERVED_MAX 32
#define WC__DETAIL_MAX 200

typedef struct wc__ask wc__ask;
struct wc__ask {
    wc__ask *next;
    wc_transfer *t;
    uint64_t id;
    wc_addr target;
    wc_buf msg; /* the encoded ASK */
    uint64_t deadline_ms;
    uint64_t timer;
    wc_transfer_done_cb done;
    void *arg;
};

/* A session this node was asked to pull. */
typedef struct wc__served {
    wc_transfer *t;
    char name[WC_STREAM_NAME_MAX];
    uint64_t ranges_hash;
    wc_addr asker;
    uint64_t ask_id;
    bool running;
    wc_status st;
    uint64_t rows, bytes;
    char detail[WC__DETAIL_MAX];
} wc__served;

struct wc_transfer {
    wc_env *env;
    wc_stream *stream;
    uint32_t resend_ms;
    wc__ask *asks;
    wc__served *served[WC__SERVED_MAX];
    size_t nserved;
    wc_env_log_limit bad_msg;
};

/* FNV-1a over the range bytes of an ASK: tells a repeated ask from a new one. */
static uint64_t wc__hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* ---------------------------------------------------------------- the target */

static void wc__send_done(wc_transfer *t, const wc_addr *to, uint64_t ask_id, wc_status st,
                          uint64_t rows, uint64_t bytes, const char *detail);

static void wc__pulled(void *arg, wc_status st, const char *detail)
{
    wc__served *sv = arg;
    wc_transfer *t = sv->t;
    wc_stream_info info[64];
    size_t n = wc_stream_list(t->stream, info, 64);

    sv->running = false;
    sv->st = st;
    snprintf(sv->detail, sizeof(sv->detail), "%s", detail ? detail : "");
    sv->rows = sv->bytes = 0;
    for (size_t i = 0; i < n && i < 64; i++) /* the newest ended session of that name */
        if (info[i].incoming && strcmp(info[i].name, sv->name) == 0) {
            sv->rows = info[i].rows;
            sv->bytes = info[i].bytes;
        }
    wc__send_done(t, &sv->asker, sv->ask_id, st, sv->rows, sv->bytes, sv->detail);
}

/* The record of session name (a new one, the oldest ended dropped if full); NULL if none fits. */
static wc__served *wc__served_slot(wc_transfer *t, const char *name)
{
    wc__served *sv;

    for (size_t i = 0; i < t->nserved; i++)
        if (strcmp(t->served[i]->name, name) == 0)
            return t->served[i];
    if (t->nserved == WC__SERVED_MAX) {
        size_t i;
        for (i = 0; i < t->nserved && t->served[i]->running; i++)
            ;
        if (i == t->nserved)
            return NULL;
        wc_free(t->served[i]);
        memmove(&t->served[i], &t->served[i + 1], (t->nserved - i - 1) * sizeof(t->served[0]));
        t->nserved--;
    }
    if ((sv = wc_calloc(1, sizeof(*sv))) == NULL)
        return NULL;
    sv->t = t;
    snprintf(sv->name, sizeof(sv->name), "%s", name);
    t->served[t->nserved++] = sv;
    return sv;
}

static void wc__on_ask(wc_transfer *t, const wc_addr *from, const uint8_t *msg, size_t len)
{
    const uint8_t *p = msg + 1, *end = msg + len, *name, *host, *ranges;
    size_t nlen, hlen;
    uint64_t id;
    uint32_t port, n;
    char nm[WC_STREAM_NAME_MAX];
    wc_addr source;
    wc_stream_range *r = NULL;
    wc__served *sv;
    wc_status st;

    memset(&source, 0, sizeof(source));
    if (!wc_get_u64(&p, end, &id) || !wc_get_bytes(&p, end, &name, &nlen) ||
        nlen >= sizeof(nm) || !wc_get_bytes(&p, end, &host, &hlen) ||
        hlen >= sizeof(source.host) || end - p < 2 + 4)
        goto bad;
    port = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    p += 2;
    if (!wc_get_u32(&p, end, &n) || n == 0 || n > (size_t)(end - p) / WC_TRANSFER_RANGE_LEN ||
        (size_t)(end - p) != (size_t)n * WC_TRANSFER_RANGE_LEN)
        goto bad;
    ranges = p;
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    memcpy(source.host, host, hlen);
    source.port = (uint16_t)port;
    if ((sv = wc__served_slot(t, nm)) == NULL) {
        wc__send_done(t, from, id, WC_OVERLOADED, 0, 0, "too many range transfers running");
        return;
    }
    if (sv->running) { /* the pull goes on; its end goes to the newest asker */
        sv->asker = *from;
        sv->ask_id = id;
        return;
    }
    if (sv->st == WC_OK && sv->ask_id != 0 && sv->ranges_hash == wc__hash(ranges, end - ranges)) {
        wc__send_done(t, from, id, WC_OK, sv->rows, sv->bytes, "");
        return;
    }
    if ((r = wc_calloc(n, sizeof(*r))) == NULL) {
        wc__send_done(t, from, id, WC_NO_MEMORY, 0, 0, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t s = 0, e = 0;
        (void)wc_get_u32(&p, end, &r[i].table_id);
        (void)wc_get_u64(&p, end, &s);
        (void)wc_get_u64(&p, end, &e);
        r[i].start = r[i].pos = (int64_t)s;
        r[i].end = (int64_t)e;
    }
    sv->asker = *from;
    sv->ask_id = id;
    sv->ranges_hash = wc__hash(ranges, end - ranges);
    sv->st = WC_OK;
    if ((st = wc_stream_pull(t->stream, nm, &source, r, n, wc__pulled, sv)) != WC_OK)
        wc__send_done(t, from, id, st, 0, 0, wc_last_error());
    else
        sv->running = true;
    if (st != WC_OK)
        sv->ask_id = 0; /* not a success to repeat */
    wc_free(r);
    return;
bad:
    wc_env_log_limited(t->env, &t->bad_msg, "transfer: dropped a malformed ASK");
}

/* ---------------------------------------------------------------- the asker */

static void wc__ask_free(wc__ask *a)
{
    wc__ask **pp = &a->t->asks;

    while (*pp && *pp != a)
        pp = &(*pp)->next;
    if (*pp)
        *pp = a->next;
    if (a->timer)
        a->t->env->ops->timer_cancel(a->t->env, a->timer);
    wc_buf_free(&a->msg);
    wc_free(a);
}

static void wc__ask_end(wc__ask *a, wc_status st, uint64_t rows, uint64_t bytes,
                        const char *detail)
{
    wc_transfer_done_cb done = a->done;
    void *arg = a->arg;

    wc__ask_free(a);
    done(arg, st, rows, bytes, detail);
}

static void wc__on_done(wc_transfer *t, const wc_addr *from, const uint8_t *msg, size_t len)
{
    const uint8_t *p = msg + 1, *end = msg + len, *d;
    uint64_t id, rows, bytes;
    uint8_t status;
    size_t dlen;
    char detail[WC__DETAIL_MAX];

    (void)from;
    if (!wc_get_u64(&p, end, &id) || !wc_get_u8(&p, end, &status) ||
        !wc_get_u64(&p, end, &rows) || !wc_get_u64(&p, end, &bytes) ||
        !wc_get_bytes(&p, end, &d, &dlen) || p != end) {
        wc_env_log_limited(t->env, &t->bad_msg, "transfer: dropped a malformed DONE");
        return;
    }
    if (dlen >= sizeof(detail))
        dlen = sizeof(detail) - 1;
    memcpy(detail, d, dlen);
    detail[dlen] = '\0';
    for (wc__ask *a = t->asks; a; a = a->next)
        if (a->id == id) {
            wc__ask_end(a, (wc_status)status, rows, bytes, detail);
            return;
        }
}

static void wc__send_done(wc_transfer *t, const wc_addr *to, uint64_t ask_id, wc_status st,
                          uint64_t rows, uint64_t bytes, const char *detail)
{
    wc_buf b;

    wc_buf_init(&b);
    wc_buf_put_u8(&b, WC_MSG_TRANSFER_DONE);
    wc_buf_put_u64(&b, ask_id);
    wc_buf_put_u8(&b, (uint8_t)st);
    wc_buf_put_u64(&b, rows);
    wc_buf_put_u64(&b, bytes);
    wc_buf_put_bytes(&b, detail, strnlen(detail, WC__DETAIL_MAX - 1));
    if (wc_buf_status(&b) == WC_OK) {
        if (wc_addr_equal(to, &t->env->self))
            wc__on_done(t, to, b.data, b.len);
        else
            (void)t->env->ops->send(t->env, to, b.data, b.len);
    }
    wc_buf_free(&b);
}

/* Send the ASK (again), or end the ask past its deadline. */
static void wc__ask_tick(void *arg)
{
    wc__ask *a = arg;
    wc_transfer *t = a->t;

    a->timer = 0;
    if (wc_env_now_ms(t->env) >= a->deadline_ms) {
        char a_s[80], detail[160];
        wc_addr_format(&a->target, a_s, sizeof(a_s));
        snprintf(detail, sizeof(detail), "node %s did not report the end of its pull in time",
                 a_s);
        wc__ask_end(a, WC_TIMEOUT, 0, 0, detail);
        return;
    }
    a->timer = t->env->ops->timer_start(t->env, t->resend_ms, wc__ask_tick, a);
    if (wc_addr_equal(&a->target, &t->env->self))
        wc__on_ask(t, &t->env->self, a->msg.data, a->msg.len);
    else
        (void)t->env->ops->send(t->env, &a->target, a->msg.data, a->msg.len);
}

wc_status wc_transfer_ask(wc_transfer *t, const wc_addr *target, const char *name,
                          const wc_addr *source, const wc_stream_range *ranges, size_t n,
                          uint64_t timeout_ms, wc_transfer_done_cb done, void *arg)
{
    size_t nlen = name ? strlen(name) : 0;
    wc__ask *a;
    wc_status st;

    if (n == 0 || nlen == 0 || nlen >= WC_STREAM_NAME_MAX ||
        n > (WC_ENV_MAX_MESSAGE - 256) / WC_TRANSFER_RANGE_LEN)
        return wc_error(WC_INVALID_ARGUMENT, "transfer: no ranges, too many, or a bad name");
    for (size_t i = 0; i < n; i++)
        if (ranges[i].start >= ranges[i].end)
            return wc_error(WC_INVALID_ARGUMENT, "transfer %s: range %zu is empty or wraps",
                            name, i);
    if ((a = wc_calloc(1, sizeof(*a))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory asking for a transfer");
    a->t = t;
    a->id = wc_env_random(t->env) | 1;
    a->target = *target;
    a->deadline_ms = wc_env_now_ms(t->env) + timeout_ms;
    a->done = done;
    a->arg = arg;
    wc_buf_init(&a->msg);
    wc_buf_put_u8(&a->msg, WC_MSG_TRANSFER_ASK);
    wc_buf_put_u64(&a->msg, a->id);
    wc_buf_put_bytes(&a->msg, name, nlen);
    wc_buf_put_bytes(&a->msg, source->host, strnlen(source->host, sizeof(source->host) - 1));
    wc_buf_put_u8(&a->msg, (uint8_t)(source->port & 0xff));
    wc_buf_put_u8(&a->msg, (uint8_t)(source->port >> 8));
    wc_buf_put_u32(&a->msg, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        wc_buf_put_u32(&a->msg, ranges[i].table_id);
        wc_buf_put_u64(&a->msg, (uint64_t)ranges[i].start);
        wc_buf_put_u64(&a->msg, (uint64_t)ranges[i].end);
    }
    if ((st = wc_buf_status(&a->msg)) != WC_OK ||
        (a->timer = t->env->ops->timer_start(t->env, 0, wc__ask_tick, a)) == 0) {
        wc_buf_free(&a->msg);
        wc_free(a);
        return wc_error(WC_NO_MEMORY, "out of memory asking for a transfer");
    }
    a->next = t->asks;
    t->asks = a;
    return WC_OK;
}

/* ---------------------------------------------------------------- API */

wc_status wc_transfer_create(wc_env *env, wc_stream *stream, uint32_t resend_ms,
                             wc_transfer **out)
{
    wc_transfer *t = wc_calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating range transfers");
    t->env = env;
    t->stream = stream;
    t->resend_ms = resend_ms ? resend_ms : WC_TRANSFER_RESEND_MS;
    *out = t;
    return WC_OK;
}

void wc_transfer_destroy(wc_transfer *t)
{
    if (t == NULL)
        return;
    while (t->asks)
        wc__ask_free(t->asks);
    for (size_t i = 0; i < t->nserved; i++) {
        if (t->served[i]->running)
            (void)wc_stream_cancel(t->stream, t->served[i]->name);
        wc_free(t->served[i]);
    }
    wc_free(t);
}

bool wc_transfer_on_message(wc_transfer *t, const wc_addr *from, const uint8_t *msg, size_t len)
{
    if (len == 0 || msg[0] < WC_MSG_TRANSFER_FIRST || msg[0] > WC_MSG_TRANSFER_LAST)
        return false;
    if (msg[0] == WC_MSG_TRANSFER_ASK)
        wc__on_ask(t, from, msg, len);
    else if (msg[0] == WC_MSG_TRANSFER_DONE)
        wc__on_done(t, from, msg, len);
    else
        wc_env_log_limited(t->env, &t->bad_msg, "transfer: dropped a message of unknown type %u",
                           msg[0]);
    return true;
}
