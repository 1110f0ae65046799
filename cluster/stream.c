/*
 * stream.c - pulling token ranges from a replica, and serving them
 * (contract in stream.h, messages in stream_format.h).
 *
 * A pull session walks its ranges in order with one STREAM_REQ in flight;
 * its answer is matched by (session id, seq), so a late or duplicated page
 * of an earlier request is ignored.  Serving is stateless apart from the
 * counters widecol.streams shows: each request is one raw read of the local
 * store (two when the page must be widened to a whole partition), answered
 * when the read completes.
 */
#include "stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fs.h"
#include "keys.h"
#include "mutation.h"
#include "raw.h"

#define WC__PROGRESS_MAGIC "widecol-stream 1"
#define WC__PROGRESS_MAX_BYTES (4u << 20)
#define WC__HISTORY 16
#define WC__CHECKPOINT_PAGES 16u           /* a pull syncs and records its progress this often, */
#define WC__CHECKPOINT_BYTES (8u << 20)    /* or after this many page bytes, or a range's end */

typedef struct wc__session wc__session;
struct wc__session {
    wc__session *next;
    wc_stream *s;
    uint64_t id;
    uint32_t seq;
    bool waiting_apply;
    wc_stream_info info;
    wc_stream_range *ranges;
    size_t n, cur;
    uint32_t retries;
    uint32_t unsynced_pages;   /* applied since the last checkpoint (store sync + progress) */
    uint64_t unsynced_bytes;
    uint64_t timer;
    wc_stream_done_cb done;
    void *arg;
};

/* A request being served (the read is in flight). */
typedef struct wc__serve {
    wc_stream *s;
    wc_addr from;
    uint64_t session;
    uint32_t seq, table_id, limit;
    int64_t start, end;
    bool widened; /* the second read: one whole partition */
    int64_t next;
} wc__serve;

struct wc_stream {
    wc_stream_options o;
    char *progress_dir;
    wc_env *env;
    wc__session *sessions;
    wc_stream_info history[WC__HISTORY]; /* ended pulls and served peers */
    size_t nhistory;
    wc_env_log_limit bad_msg;
    wc_buf scratch;
    uint32_t pending_ops; /* store operations in flight (destroy asserts none) */
    bool destroyed;
};

static void wc__request(wc__session *ss);

/* ---------------------------------------------------------------- helpers */

static bool wc__name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n >= WC_STREAM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static void wc__progress_path(const wc_stream *s, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.stream", s->progress_dir, name);
}

/* Keep info of an ended session or of a peer served, newest last. */
static wc_stream_info *wc__history_slot(wc_stream *s)
{
    if (s->nhistory == WC__HISTORY) {
        memmove(s->history, s->history + 1, (WC__HISTORY - 1) * sizeof(s->history[0]));
        s->nhistory--;
    }
    memset(&s->history[s->nhistory], 0, sizeof(s->history[0]));
    return &s->history[s->nhistory++];
}

/* The counters of what this node serves to peer (one entry per peer). */
static wc_stream_info *wc__served(wc_stream *s, const wc_addr *peer)
{
    wc_stream_info *i;

    for (size_t k = 0; k < s->nhistory; k++)
        if (!s->history[k].incoming && wc_addr_equal(&s->history[k].peer, peer))
            return &s->history[k];
    i = wc__history_slot(s);
    snprintf(i->name, sizeof(i->name), "served");
    i->peer = *peer;
    i->state = "streaming";
    return i;
}

/* ---------------------------------------------------------------- progress file */

static wc_status wc__progress_write(wc__session *ss)
{
    wc_stream *s = ss->s;
    char path[4200], line[160];
    wc_buf b;
    wc_status st;

    if (s->progress_dir == NULL)
        return WC_OK;
    wc__progress_path(s, ss->info.name, path, sizeof(path));
    wc_buf_init(&b);
    wc_buf_append(&b, WC__PROGRESS_MAGIC "\n", strlen(WC__PROGRESS_MAGIC) + 1);
    for (size_t i = 0; i < ss->n; i++) {
        const wc_stream_range *r = &ss->ranges[i];
        int n = snprintf(line, sizeof(line), "range %" PRIu32 " %" PRId64 " %" PRId64 " %" PRId64
                                             " %d\n",
                         r->table_id, r->start, r->end, r->pos, r->done ? 1 : 0);
        wc_buf_append(&b, line, (size_t)n);
    }
    if ((st = wc_buf_status(&b)) == WC_OK)
        st = wc_fs_write_atomic(s->o.fs, path, b.data, b.len);
    wc_buf_free(&b);
    return st;
}

/*
 * Take the positions of the progress file of ss when it holds the same
 * ranges (a file for other ranges is ignored: the pull starts over).
 */
static wc_status wc__progress_load(wc__session *ss)
{
    wc_stream *s = ss->s;
    char path[4200], *text = NULL, *line, *save = NULL;
    uint8_t *data = NULL;
    size_t len = 0, k = 0;
    wc_stream_range *got = NULL;
    bool exists = false;
    wc_fs *fs = s->o.fs;
    wc_status st;

    if (s->progress_dir == NULL)
        return WC_OK;
    wc__progress_path(s, ss->info.name, path, sizeof(path));
    if ((st = fs->exists(fs, path, &exists)) != WC_OK || !exists)
        return st;
    if ((st = wc_fs_read_all(fs, path, WC__PROGRESS_MAX_BYTES, &data, &len)) != WC_OK)
        return st;
    text = wc_malloc(len + 1);
    got = wc_calloc(ss->n, sizeof(*got));
    if (text == NULL || got == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory reading %s", path);
        goto done;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    line = strtok_r(text, "\n", &save);
    if (line == NULL || strcmp(line, WC__PROGRESS_MAGIC) != 0)
        goto bad;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        wc_stream_range r;
        int done_flag, used = 0;

        if (sscanf(line, "range %" SCNu32 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %d%n",
                   &r.table_id, &r.start, &r.end, &r.pos, &done_flag, &used) != 5 ||
            line[used] != '\0' || (done_flag != 0 && done_flag != 1))
            goto bad;
        if (k == ss->n) {
            k++;
            break;
        }
        r.done = done_flag == 1;
        got[k++] = r;
    }
    st = WC_OK;
    if (k != ss->n)
        goto done; /* other ranges: start over */
    for (size_t i = 0; i < ss->n; i++)
        if (got[i].table_id != ss->ranges[i].table_id || got[i].start != ss->ranges[i].start ||
            got[i].end != ss->ranges[i].end || got[i].pos < got[i].start ||
            got[i].pos > got[i].end)
            goto done;
    for (size_t i = 0; i < ss->n; i++) {
        ss->ranges[i].pos = got[i].pos;
        ss->ranges[i].done = got[i].done;
    }
    wc_env_logf(s->env, WC_ENV_LOG_INFO, "stream %s: resuming from its progress file",
                ss->info.name);
    goto done;
bad:
    st = wc_error(WC_CORRUPTION,
                  "the stream progress file \"%s\" is damaged: remove it to stream the "
                  "session again from the start",
                  path);
done:
    wc_free(got);
    wc_free(text);
    wc_free(data);
    return st;
}

/* ---------------------------------------------------------------- pull sessions */

static void wc__session_unlink(wc__session *ss)
{
    wc__session **pp = &ss->s->sessions;

    while (*pp && *pp != ss)
        pp = &(*pp)->next;
    if (*pp)
        *pp = ss->next;
}

static void wc__session_free(wc__session *ss)
{
    if (ss->timer)
        ss->s->env->ops->timer_cancel(ss->s->env, ss->timer);
    wc_free(ss->ranges);
    wc_free(ss);
}

/* End ss: its info goes to the history, then done. */
static void wc__session_end(wc__session *ss, wc_status st, const char *detail)
{
    wc_stream *s = ss->s;
    wc_stream_info *h;
    wc_stream_done_cb done = ss->done;
    void *arg = ss->arg;
    char path[4200];

    wc__session_unlink(ss);
    ss->info.state = st == WC_OK ? "done" : "failed";
    h = wc__history_slot(s);
    *h = ss->info;
    if (st == WC_OK && s->progress_dir) {
        wc__progress_path(s, ss->info.name, path, sizeof(path));
        (void)s->o.fs->unlink(s->o.fs, path);
    }
    wc_env_logf(s->env, st == WC_OK ? WC_ENV_LOG_INFO : WC_ENV_LOG_WARNING,
                "stream %s: %s after %u of %u ranges, %" PRIu64 " rows, %" PRIu64 " bytes%s%s",
                ss->info.name, st == WC_OK ? "finished" : "failed", ss->info.ranges_done,
                ss->info.ranges_total, ss->info.rows, ss->info.bytes, detail ? ": " : "",
                detail ? detail : "");
    wc__session_free(ss);
    done(arg, st, detail);
}

static wc__session *wc__session_find(wc_stream *s, uint64_t id)
{
    for (wc__session *ss = s->sessions; ss; ss = ss->next)
        if (ss->id == id)
            return ss;
    return NULL;
}

static void wc__timeout(void *arg)
{
    wc__session *ss = arg;
    char detail[160];

    ss->timer = 0;
    if (ss->waiting_apply)
        return;
    if (++ss->retries > ss->s->o.max_retries) {
        snprintf(detail, sizeof(detail), "%u page requests in a row were not answered",
                 ss->retries);
        wc__session_end(ss, WC_TIMEOUT, detail);
        return;
    }
    wc__request(ss);
}

/* Ask for the next page of the current range, or end the session when all are done. */
static void wc__request(wc__session *ss)
{
    wc_stream *s = ss->s;
    uint8_t m[WC_STREAM_REQ_LEN], *p = m;

    while (ss->cur < ss->n && ss->ranges[ss->cur].done)
        ss->cur++;
    ss->info.ranges_done = 0;
    for (size_t i = 0; i < ss->n; i++)
        ss->info.ranges_done += ss->ranges[i].done;
    if (ss->cur == ss->n) {
        wc__session_end(ss, WC_OK, NULL);
        return;
    }
    ss->info.table_id = ss->ranges[ss->cur].table_id;
    ss->seq++;
    *p++ = WC_MSG_STREAM_REQ;
    wc_enc_u64(p, ss->id), p += 8;
    wc_enc_u32(p, ss->seq), p += 4;
    wc_enc_u32(p, ss->ranges[ss->cur].table_id), p += 4;
    wc_enc_u64(p, (uint64_t)ss->ranges[ss->cur].pos), p += 8;
    wc_enc_u64(p, (uint64_t)ss->ranges[ss->cur].end), p += 8;
    wc_enc_u32(p, s->o.page_rows);
    /* a full queue or a lost message is the same: the timer asks again */
    (void)s->env->ops->send(s->env, &ss->info.peer, m, sizeof(m));
    ss->timer = s->env->ops->timer_start(s->env, s->o.timeout_ms, wc__timeout, ss);
}

typedef struct wc__apply_op {
    wc_stream *s;
    uint64_t session;
    uint32_t seq;
    int64_t next;
    bool more;
    bool checkpoint; /* made durable, so the progress file is written */
    uint64_t rows, bytes;
} wc__apply_op;

/*
 * The page of op is applied (with op->checkpoint: and made durable), or
 * failed: record it, write the progress file at a checkpoint, then ask for
 * the next page.
 */
static void wc__stored(void *arg, wc_status st)
{
    wc__apply_op *op = arg;
    wc_stream *s = op->s;
    wc__session *ss;
    char detail[200];

    s->pending_ops--;
    ss = s->destroyed ? NULL : wc__session_find(s, op->session);
    if (ss == NULL || ss->seq != op->seq) {
        wc_free(op);
        return;
    }
    ss->waiting_apply = false;
    if (st != WC_OK) {
        snprintf(detail, sizeof(detail), "applying a page failed: %s", wc_last_error());
        wc_free(op);
        wc__session_end(ss, st, detail);
        return;
    }
    ss->ranges[ss->cur].pos = op->next;
    ss->ranges[ss->cur].done = !op->more;
    ss->info.rows += op->rows;
    ss->info.bytes += op->bytes;
    ss->retries = 0;
    if (!op->checkpoint) {
        wc_free(op);
        wc__request(ss);
        return;
    }
    wc_free(op);
    if ((st = wc__progress_write(ss)) != WC_OK)
        wc_env_logf(s->env, WC_ENV_LOG_WARNING,
                    "stream %s: could not keep its progress (a restart streams more again): %s",
                    ss->info.name, wc_last_error());
    wc__request(ss);
}

/*
 * A page applied.  At a checkpoint (the end of a range, or
 * WC__CHECKPOINT_PAGES pages or WC__CHECKPOINT_BYTES since the last one)
 * a store that acknowledges before its fsync makes what it applied durable
 * first, so that the progress file never names a page a power loss can
 * take back (a resumed pull would skip it); between checkpoints the next
 * page is asked for at once (a resumed pull reads those pages again).
 */
static void wc__applied(void *arg, wc_status st)
{
    wc__apply_op *op = arg;
    wc_stream *s = op->s;
    wc__session *ss = s->destroyed ? NULL : wc__session_find(s, op->session);

    if (st == WC_OK && ss != NULL) {
        ss->unsynced_pages++;
        ss->unsynced_bytes += op->bytes;
        op->checkpoint = !op->more || ss->unsynced_pages >= WC__CHECKPOINT_PAGES ||
                         ss->unsynced_bytes >= WC__CHECKPOINT_BYTES;
        if (op->checkpoint) {
            ss->unsynced_pages = 0;
            ss->unsynced_bytes = 0;
        }
    }
    if (st != WC_OK || ss == NULL || !op->checkpoint || s->o.store.ops->sync == NULL) {
        wc__stored(op, st);
        return;
    }
    s->o.store.ops->sync(s->o.store.ctx, wc__stored, op);
}

static void wc__on_page(wc_stream *s, const wc_addr *from, const uint8_t *msg, size_t len)
{
    uint64_t id, rows;
    uint32_t seq;
    uint8_t status, flags;
    int64_t next;
    wc__session *ss;
    wc__apply_op *op;
    const wc_stream_range *r;
    char detail[200];

    if (len < 1 + 8 + 4 + 1 + 1) {
        wc_env_log_limited(s->env, &s->bad_msg, "stream: dropped a short STREAM_PAGE");
        return;
    }
    id = wc_dec_u64(msg + 1);
    seq = wc_dec_u32(msg + 9);
    status = msg[13];
    flags = msg[14];
    ss = wc__session_find(s, id);
    if (ss == NULL || ss->seq != seq || ss->waiting_apply || !wc_addr_equal(from, &ss->info.peer))
        return; /* late, duplicated or not ours */
    if (status != WC_OK) {
        snprintf(detail, sizeof(detail), "the source could not read table %u: %s",
                 ss->ranges[ss->cur].table_id, wc_status_name((wc_status)status));
        wc__session_end(ss, (wc_status)status, detail);
        return;
    }
    if (len < WC_STREAM_PAGE_HEAD_LEN) {
        wc_env_log_limited(s->env, &s->bad_msg, "stream: dropped a short STREAM_PAGE");
        return;
    }
    next = (int64_t)wc_dec_u64(msg + 15);
    rows = wc_dec_u64(msg + 23);
    r = &ss->ranges[ss->cur];
    if (next < r->pos || next > r->end || (!(flags & WC_STREAM_PAGE_MORE) && next != r->end) ||
        ((flags & WC_STREAM_PAGE_MORE) && next == r->pos)) {
        wc_env_log_limited(s->env, &s->bad_msg,
                           "stream: dropped a STREAM_PAGE whose next token does not advance");
        return;
    }
    if (ss->timer) {
        s->env->ops->timer_cancel(s->env, ss->timer);
        ss->timer = 0;
    }
    op = wc_calloc(1, sizeof(*op));
    if (op == NULL) {
        wc__session_end(ss, WC_NO_MEMORY, "out of memory");
        return;
    }
    op->s = s;
    op->session = id;
    op->seq = seq;
    op->next = next;
    op->more = (flags & WC_STREAM_PAGE_MORE) != 0;
    op->rows = rows;
    op->bytes = len - WC_STREAM_PAGE_HEAD_LEN;
    ss->waiting_apply = true;
    s->pending_ops++;
    if (flags & WC_STREAM_PAGE_EMPTY) {
        wc__applied(op, WC_OK); /* nothing to apply; a checkpoint syncs the pages before */
        return;
    }
    s->o.store.ops->apply(s->o.store.ctx, msg + WC_STREAM_PAGE_HEAD_LEN,
                          len - WC_STREAM_PAGE_HEAD_LEN, wc__applied, op);
}

/* ---------------------------------------------------------------- serving */

static void wc__send_page(wc__serve *sv, wc_status status, uint8_t flags, int64_t next,
                          uint64_t rows, const wc_buf *batch)
{
    wc_stream *s = sv->s;
    wc_buf *b = &s->scratch;
    wc_status st;

    wc_buf_reset(b);
    wc_buf_put_u8(b, WC_MSG_STREAM_PAGE);
    wc_buf_put_u64(b, sv->session);
    wc_buf_put_u32(b, sv->seq);
    wc_buf_put_u8(b, (uint8_t)status);
    wc_buf_put_u8(b, flags);
    if (status == WC_OK) {
        wc_buf_put_u64(b, (uint64_t)next);
        wc_buf_put_u64(b, rows);
        if (batch)
            wc_buf_append(b, batch->data, batch->len);
    }
    if ((st = wc_buf_status(b)) != WC_OK ||
        (st = s->env->ops->send(s->env, &sv->from, b->data, b->len)) != WC_OK) {
        if (status != WC_OK)
            return;
        /* too large for a message, or the queue is full: say so (the pull fails or retries) */
        wc_env_logf(s->env, WC_ENV_LOG_WARNING,
                    "stream: a page of table %u (%" PRIu64 " rows) could not be sent: %s",
                    sv->table_id, rows, wc_status_name(st));
        if (st == WC_INVALID_ARGUMENT)
            wc__send_page(sv, WC_OVERLOADED, 0, 0, 0, NULL);
        return;
    }
    if (status == WC_OK) {
        wc_stream_info *i = wc__served(s, &sv->from);
        i->table_id = sv->table_id;
        i->rows += rows;
        i->bytes += batch ? batch->len : 0;
        if (!(flags & WC_STREAM_PAGE_MORE))
            i->ranges_done++, i->ranges_total++;
    }
}

static void wc__serve_read(wc__serve *sv, int64_t start, int64_t end, uint32_t limit);

static void wc__served_read(void *arg, wc_status st, const uint8_t *raw, size_t len,
                            const uint8_t digest[16])
{
    wc__serve *sv = arg;
    wc_stream *s = sv->s;
    uint64_t rows = 0;
    bool has_last = false, more = false;
    int64_t last = 0, next = sv->end;
    wc_buf batch;

    (void)digest;
    s->pending_ops--;
    if (s->destroyed) {
        wc_free(sv);
        return;
    }
    wc_buf_init(&batch);
    if (st == WC_OK)
        st = s->o.codec.last_token(s->o.codec.ctx, raw, len, &rows, &has_last, &last);
    if (st != WC_OK) {
        wc__send_page(sv, st, 0, 0, 0, NULL);
        goto done;
    }
    if (!has_last) {
        wc__send_page(sv, WC_OK, WC_STREAM_PAGE_EMPTY, sv->end, 0, NULL);
        goto done;
    }
    if (sv->widened) {
        next = sv->next;
        more = next != sv->end;
    } else if (sv->limit > 0 && rows >= sv->limit) {
        if ((uint64_t)last - (uint64_t)sv->start <= 1) {
            /* the page's first partition alone fills it: send that partition whole */
            sv->widened = true;
            sv->next = last;
            wc__serve_read(sv, sv->start, last, 0);
            return;
        }
        next = last - 1; /* the cut partition is read again whole by the next page */
        more = true;
    }
    if ((st = s->o.codec.to_batch(s->o.codec.ctx, raw, len, &batch)) != WC_OK ||
        (st = wc_buf_status(&batch)) != WC_OK)
        wc__send_page(sv, st, 0, 0, 0, NULL);
    else
        wc__send_page(sv, WC_OK, more ? WC_STREAM_PAGE_MORE : 0, next, rows, &batch);
done:
    wc_buf_free(&batch);
    wc_free(sv);
}

static void wc__serve_read(wc__serve *sv, int64_t start, int64_t end, uint32_t limit)
{
    wc_stream *s = sv->s;
    wc_store_read r;

    memset(&r, 0, sizeof(r));
    r.table_id = sv->table_id;
    r.token_range = true;
    r.token_start = start;
    r.token_end = end;
    r.start.unbounded = true;
    r.end.unbounded = true;
    r.include_static = true;
    r.limit = limit;
    r.now_sec = wc_env_wall_us(s->env) / 1000000;
    s->pending_ops++;
    s->o.store.ops->read(s->o.store.ctx, &r, wc__served_read, sv);
}

static void wc__on_req(wc_stream *s, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc__serve *sv;

    if (len != WC_STREAM_REQ_LEN) {
        wc_env_log_limited(s->env, &s->bad_msg, "stream: dropped a STREAM_REQ of %zu bytes", len);
        return;
    }
    sv = wc_calloc(1, sizeof(*sv));
    if (sv == NULL)
        return; /* the puller asks again */
    sv->s = s;
    sv->from = *from;
    sv->session = wc_dec_u64(msg + 1);
    sv->seq = wc_dec_u32(msg + 9);
    sv->table_id = wc_dec_u32(msg + 13);
    sv->start = (int64_t)wc_dec_u64(msg + 17);
    sv->end = (int64_t)wc_dec_u64(msg + 25);
    sv->limit = wc_dec_u32(msg + 33);
    if (sv->start >= sv->end) {
        wc_env_log_limited(s->env, &s->bad_msg, "stream: dropped a STREAM_REQ of an empty range");
        wc_free(sv);
        return;
    }
    wc__serve_read(sv, sv->start, sv->end, sv->limit);
}

/* ---------------------------------------------------------------- API */

wc_status wc_stream_create(const wc_stream_options *o, wc_stream **out)
{
    wc_stream *s;

    *out = NULL;
    if (o->env == NULL || o->store.ops == NULL || o->codec.last_token == NULL ||
        o->codec.to_batch == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "stream: env, store and codec are required");
    s = wc_calloc(1, sizeof(*s));
    if (s == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating the stream manager");
    s->o = *o;
    s->env = o->env;
    if (s->o.page_rows == 0)
        s->o.page_rows = WC_STREAM_DEFAULT_PAGE_ROWS;
    if (s->o.timeout_ms == 0)
        s->o.timeout_ms = WC_STREAM_DEFAULT_TIMEOUT_MS;
    if (s->o.max_retries == 0)
        s->o.max_retries = WC_STREAM_DEFAULT_MAX_RETRIES;
    if (s->o.fs == NULL)
        s->o.fs = wc_fs_posix();
    if (o->progress_dir) {
        size_t n = strlen(o->progress_dir) + 1;
        if ((s->progress_dir = wc_malloc(n)) == NULL) {
            wc_free(s);
            return wc_error(WC_NO_MEMORY, "out of memory creating the stream manager");
        }
        memcpy(s->progress_dir, o->progress_dir, n);
    }
    s->o.progress_dir = NULL;
    wc_buf_init(&s->scratch);
    *out = s;
    return WC_OK;
}

void wc_stream_destroy(wc_stream *s)
{
    if (s == NULL)
        return;
    while (s->sessions) {
        wc__session *ss = s->sessions;
        s->sessions = ss->next;
        wc__session_free(ss);
    }
    wc_buf_free(&s->scratch);
    wc_free(s->progress_dir);
    wc_free(s);
}

bool wc_stream_on_message(wc_stream *s, const wc_addr *from, const uint8_t *msg, size_t len)
{
    if (len == 0 || msg[0] < WC_MSG_STREAM_REQ || msg[0] > WC_MSG_STREAM_LAST)
        return false;
    if (msg[0] == WC_MSG_STREAM_REQ)
        wc__on_req(s, from, msg, len);
    else if (msg[0] == WC_MSG_STREAM_PAGE)
        wc__on_page(s, from, msg, len);
    else
        wc_env_log_limited(s->env, &s->bad_msg, "stream: dropped a message of unknown type %u",
                           msg[0]);
    return true;
}

static void wc__start_tramp(void *arg)
{
    wc__session *ss = arg;

    ss->timer = 0;
    wc__request(ss);
}

wc_status wc_stream_pull(wc_stream *s, const char *name, const wc_addr *peer,
                         const wc_stream_range *ranges, size_t n, wc_stream_done_cb done,
                         void *arg)
{
    wc__session *ss;
    wc_status st;

    if (!wc__name_ok(name))
        return wc_error(WC_INVALID_ARGUMENT, "stream: a session name has 1 to %d characters of "
                                             "[A-Za-z0-9_.-]",
                        WC_STREAM_NAME_MAX - 1);
    if (n == 0)
        return wc_error(WC_INVALID_ARGUMENT, "stream %s: no ranges to pull", name);
    for (size_t i = 0; i < n; i++)
        if (ranges[i].start >= ranges[i].end)
            return wc_error(WC_INVALID_ARGUMENT, "stream %s: range %zu is empty or wraps", name,
                            i);
    for (wc__session *o = s->sessions; o; o = o->next)
        if (strcmp(o->info.name, name) == 0)
            return wc_error(WC_INVALID_ARGUMENT, "stream %s is already running", name);
    ss = wc_calloc(1, sizeof(*ss));
    if (ss == NULL || (ss->ranges = wc_malloc(n * sizeof(*ranges))) == NULL) {
        wc_free(ss);
        return wc_error(WC_NO_MEMORY, "out of memory starting stream %s", name);
    }
    memcpy(ss->ranges, ranges, n * sizeof(*ranges));
    ss->n = n;
    ss->s = s;
    ss->id = wc_env_random(s->env) | 1;
    ss->done = done;
    ss->arg = arg;
    snprintf(ss->info.name, sizeof(ss->info.name), "%s", name);
    ss->info.peer = *peer;
    ss->info.incoming = true;
    ss->info.ranges_total = (uint32_t)n;
    ss->info.state = "streaming";
    if ((st = wc__progress_load(ss)) != WC_OK) {
        wc__session_free(ss);
        return st;
    }
    ss->timer = s->env->ops->timer_start(s->env, 0, wc__start_tramp, ss);
    if (ss->timer == 0) {
        wc__session_free(ss);
        return wc_error(WC_NO_MEMORY, "out of memory starting stream %s", name);
    }
    ss->next = s->sessions;
    s->sessions = ss;
    return WC_OK;
}

bool wc_stream_cancel(wc_stream *s, const char *name)
{
    for (wc__session *ss = s->sessions; ss; ss = ss->next)
        if (strcmp(ss->info.name, name) == 0) {
            wc__session_unlink(ss);
            wc__session_free(ss);
            return true;
        }
    return false;
}

size_t wc_stream_list(const wc_stream *s, wc_stream_info *out, size_t cap)
{
    size_t n = 0;

    for (const wc__session *ss = s->sessions; ss; ss = ss->next, n++)
        if (n < cap)
            out[n] = ss->info;
    for (size_t k = 0; k < s->nhistory; k++, n++)
        if (n < cap)
            out[n] = s->history[k];
    return n;
}

/* ---------------------------------------------------------------- the engine's codec */

static wc_status wc__engine_last_token(void *ctx, const uint8_t *raw, size_t len, uint64_t *rows,
                                       bool *has_last, int64_t *last)
{
    wc_batch_view bv;
    const uint8_t *m = NULL, *mut;
    size_t mlen = 0, ml;
    wc_buf key;
    wc_status st;
    int r;

    (void)ctx;
    *has_last = false;
    *rows = 0;
    wc_buf_init(&key);
    st = wc_raw_last_row(raw, len, rows, &key);
    wc_buf_free(&key);
    if (st != WC_OK)
        return st;
    if (wc_batch_parse(raw, len, &bv) != WC_OK)
        return wc_error(WC_CORRUPTION, "stream: a raw result that is not a batch record");
    while ((r = wc_batch_next(&bv, &mut, &ml)) > 0) {
        m = mut;
        mlen = ml;
    }
    if (r < 0)
        return wc_error(WC_CORRUPTION, "stream: a raw result with a malformed mutation");
    if (m != NULL) {
        wc_mutation_view mv;
        if (wc_mutation_parse(m, mlen, &mv) != WC_OK)
            return wc_error(WC_CORRUPTION, "stream: a raw result with a malformed mutation");
        *last = wc_token(mv.pk, mv.pk_len);
        *has_last = true;
    }
    return WC_OK;
}

static wc_status wc__engine_to_batch(void *ctx, const uint8_t *raw, size_t len, wc_buf *out)
{
    (void)ctx;
    wc_buf_append(out, raw, len);
    return wc_buf_status(out);
}

wc_stream_codec wc_stream_engine_codec(void)
{
    wc_stream_codec c = {wc__engine_last_token, wc__engine_to_batch, NULL};

    return c;
}
