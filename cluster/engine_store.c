/*
 * engine_store.c - the replica store over the engine (engine_store.h).
 *
 * Jobs (an apply or a read, with copies of their inputs) wait in a FIFO
 * queue under the store's mutex; a worker runs one, then posts its
 * completion to the loop.  A posted job sits on the posted list until the
 * loop delivers it; destroy, after joining the workers, delivers what is
 * still there itself and marks those jobs finished, so the later posts only
 * free them.
 */
#include "engine_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "index.h"
#include "keys.h"
#include "mutation.h"
#include "thread.h"
#include "view.h"

typedef struct es_job es_job;
struct es_job {
    es_job *next, *prev;   /* queue (next only), then the posted list */
    wc_engine_store *s;
    bool is_read;
    bool is_sync;          /* an apply job with no batch: wc_engine_sync */
    bool is_counter;       /* apply_counter: the resolved batch comes back in raw */
    bool is_index;         /* index_keys: the keys come back in raw */
    wc_buf in;             /* apply: the batch; read: pk, start and end keys */
    wc_store_read r;       /* read: points into in */
    wc_store_apply_done adone;
    wc_store_read_done rdone;
    wc_store_counter_done cdone;
    wc_store_keys_done kdone;
    wc_store_index_query q; /* index_keys: points into in */
    void *arg;
    wc_status st;
    wc_buf raw;
    uint8_t digest[WC_RAW_DIGEST_LEN];
    atomic_bool finished;  /* delivered by destroy: the post only frees */
};

struct wc_engine_store {
    wc_engine *e;
    wc_env *env;
    uint32_t nthreads;
    pthread_t th[WC_ENGINE_STORE_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    es_job *head, *tail; /* queued */
    es_job posted;       /* sentinel of the posted list */
    bool stopping;
    wc_views *views;     /* applies keep them for paired replicas (NULL: none) */
    wc_views_sink view_sink;
    void *view_arg;
};

static void es_job_free(es_job *j)
{
    wc_buf_free(&j->in);
    wc_buf_free(&j->raw);
    wc_free(j);
}

static void es_complete(es_job *j)
{
    if (j->is_index)
        j->kdone(j->arg, j->st, j->st == WC_OK ? j->raw.data : NULL, j->raw.len);
    else if (j->is_read)
        j->rdone(j->arg, j->st, j->st == WC_OK ? j->raw.data : NULL, j->raw.len, j->digest);
    else if (j->is_counter)
        j->cdone(j->arg, j->st, j->st == WC_OK ? j->raw.data : NULL, j->raw.len);
    else {
        /* the view updates of a base write leave before its acknowledgement */
        if (j->st == WC_OK && j->raw.len > 0 && j->s->view_sink)
            j->s->view_sink(j->s->view_arg, j->raw.data, j->raw.len);
        j->adone(j->arg, j->st);
    }
}

/* On the loop: hand a job's result to its caller. */
static void es_deliver(void *arg)
{
    es_job *j = arg;
    wc_engine_store *s = j->s;

    if (atomic_load(&j->finished)) {
        es_job_free(j);
        return;
    }
    pthread_mutex_lock(&s->mu);
    j->prev->next = j->next;
    j->next->prev = j->prev;
    pthread_mutex_unlock(&s->mu);
    es_complete(j);
    es_job_free(j);
}

/*
 * The keys of index query q from the engine's index, in the store's keys
 * form (replica_store.h) into out.
 */
static wc_status es_index_keys(wc_engine *e, const wc_store_index_query *q, wc_buf *out)
{
    static const uint32_t no_column = 0;
    wc_read_request req;
    wc_page *page = NULL;
    wc_status st;

    memset(&req, 0, sizeof(req));
    req.table_id = q->table_id;
    req.token_range = true;
    req.token_start = q->token_start;
    req.token_end = q->token_end;
    req.start.unbounded = req.end.unbounded = true;
    if (q->after) {
        req.start.key = q->after;
        req.start.len = q->after_len;
        req.start.unbounded = false;
    }
    req.columns = &no_column; /* keys only: no cell but the indexed one */
    req.ncolumns = 0;
    req.page_rows = q->limit;
    req.now_sec = q->now_sec;
    if ((st = wc_engine_index_read(e, &req, q->index, q->value, q->value_len, &page)) != WC_OK)
        return st;
    wc_buf_put_u8(out, page->more ? 1 : 0);
    for (size_t i = 0; i < page->nrows; i++) {
        const wc_result_row *r = &page->rows[i];
        uint8_t tok[8];

        if (r->is_static)
            continue;
        wc_token_encode(tok, r->token);
        wc_buf_put_varint(out, 8 + 2 + r->pk_len + r->ck_len);
        wc_buf_append(out, tok, sizeof(tok));
        wc_buf_put_u16be(out, (uint16_t)r->pk_len);
        wc_buf_append(out, r->pk, r->pk_len);
        wc_buf_append(out, r->ck, r->ck_len);
    }
    wc_page_free(page);
    return wc_buf_status(out) == WC_OK ? WC_OK
                                       : wc_error(WC_NO_MEMORY, "out of memory reading an index");
}

static void es_run(es_job *j)
{
    wc_engine_store *s = j->s;

    if (j->is_index)
        j->st = es_index_keys(s->e, &j->q, &j->raw);
    else if (j->is_read)
        j->st = wc_engine_read_raw(s->e, &j->r, &j->raw, j->digest);
    else if (j->is_sync)
        j->st = wc_engine_sync(s->e);
    else if (j->is_counter)
        j->st = wc_engine_apply_counter(s->e, j->in.data, j->in.len, &j->raw);
    else if (s->views)
        j->st = wc_views_apply_paired(s->views, s->e, j->in.data, j->in.len, &j->raw);
    else
        j->st = wc_engine_apply_batch(s->e, j->in.data, j->in.len);
    pthread_mutex_lock(&s->mu);
    j->next = s->posted.next;
    j->prev = &s->posted;
    s->posted.next->prev = j;
    s->posted.next = j;
    pthread_mutex_unlock(&s->mu);
    if (s->env->ops->post(s->env, es_deliver, j) != WC_OK) {
        /* the loop has stopped: nobody waits for this result any more */
        pthread_mutex_lock(&s->mu);
        j->prev->next = j->next;
        j->next->prev = j->prev;
        pthread_mutex_unlock(&s->mu);
        es_job_free(j);
    }
}

static void *es_worker(void *arg)
{
    wc_engine_store *s = arg;

    for (;;) {
        es_job *j;

        pthread_mutex_lock(&s->mu);
        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        j = s->head;
        if (j == NULL) { /* stopping and drained */
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->head = j->next;
        if (s->head == NULL)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        es_run(j);
    }
}

/* Queue j (or run it now without threads); false when the store is stopping. */
static bool es_submit(wc_engine_store *s, es_job *j)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    if (s->nthreads == 0) {
        pthread_mutex_unlock(&s->mu);
        es_run(j);
        return true;
    }
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return true;
}

static es_job *es_job_new(wc_engine_store *s, bool is_read, void *arg)
{
    es_job *j = wc_calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->s = s;
    j->is_read = is_read;
    j->arg = arg;
    wc_buf_init(&j->in);
    wc_buf_init(&j->raw);
    atomic_init(&j->finished, false);
    return j;
}

/* ---------------------------------------------------------------- ops */

/* Queue an apply job j with a copy of batch; else its failure status (j is freed). */
static wc_status es_queue_apply(wc_engine_store *s, es_job *j, const uint8_t *batch, size_t len)
{
    wc_buf_append(&j->in, batch, len);
    if (wc_buf_status(&j->in) != WC_OK) {
        es_job_free(j);
        return wc_error(WC_NO_MEMORY, "out of memory queueing an apply");
    }
    if (!es_submit(s, j)) {
        es_job_free(j);
        return wc_error(WC_UNAVAILABLE, "the replica store is stopping");
    }
    return WC_OK;
}

/* Apply batch[0..len), or sync the commit log when batch is NULL. */
static void es_op_apply(void *ctx, const uint8_t *batch, size_t len, wc_store_apply_done done,
                        void *arg)
{
    wc_engine_store *s = ctx;
    es_job *j = es_job_new(s, false, arg);
    wc_status st;

    if (j == NULL) {
        done(arg, wc_error(WC_NO_MEMORY, "out of memory queueing an apply"));
        return;
    }
    j->adone = done;
    j->is_sync = batch == NULL;
    if ((st = es_queue_apply(s, j, batch, len)) != WC_OK)
        done(arg, st);
}

static void es_op_sync(void *ctx, wc_store_apply_done done, void *arg)
{
    es_op_apply(ctx, NULL, 0, done, arg);
}

static void es_op_apply_counter(void *ctx, const uint8_t *batch, size_t len,
                                wc_store_counter_done done, void *arg)
{
    wc_engine_store *s = ctx;
    es_job *j = es_job_new(s, false, arg);
    wc_status st;

    if (j == NULL) {
        done(arg, wc_error(WC_NO_MEMORY, "out of memory queueing a counter write"), NULL, 0);
        return;
    }
    j->is_counter = true;
    j->cdone = done;
    if ((st = es_queue_apply(s, j, batch, len)) != WC_OK)
        done(arg, st, NULL, 0);
}

static void es_op_read(void *ctx, const wc_store_read *r, wc_store_read_done done, void *arg)
{
    static const uint8_t zero[WC_RAW_DIGEST_LEN];
    wc_engine_store *s = ctx;
    es_job *j = es_job_new(s, true, arg);
    size_t pk_len = r->pk ? r->pk_len : 0;
    size_t sl = r->start.unbounded ? 0 : r->start.len, el = r->end.unbounded ? 0 : r->end.len;

    if (j == NULL) {
        done(arg, wc_error(WC_NO_MEMORY, "out of memory queueing a read"), NULL, 0, zero);
        return;
    }
    j->rdone = done;
    j->r = *r;
    /* one copy of pk and both bounds, pointed into once it stopped growing */
    wc_buf_append(&j->in, r->pk, pk_len);
    wc_buf_append(&j->in, r->start.key, sl);
    wc_buf_append(&j->in, r->end.key, el);
    if (wc_buf_status(&j->in) != WC_OK) {
        es_job_free(j);
        done(arg, wc_error(WC_NO_MEMORY, "out of memory queueing a read"), NULL, 0, zero);
        return;
    }
    j->r.pk = r->pk ? j->in.data : NULL;
    j->r.start.key = j->in.data + pk_len;
    j->r.end.key = j->in.data + pk_len + sl;
    if (!es_submit(s, j)) {
        es_job_free(j);
        done(arg, wc_error(WC_UNAVAILABLE, "the replica store is stopping"), NULL, 0, zero);
    }
}

static void es_op_index_keys(void *ctx, const wc_store_index_query *q, wc_store_keys_done done,
                             void *arg)
{
    wc_engine_store *s = ctx;
    es_job *j = es_job_new(s, false, arg);
    size_t nl = strlen(q->index) + 1, al = q->after ? q->after_len : 0;

    if (j == NULL) {
        done(arg, wc_error(WC_NO_MEMORY, "out of memory queueing an index read"), NULL, 0);
        return;
    }
    j->is_index = true;
    j->kdone = done;
    j->q = *q;
    /* one copy of the name, the value and the start key */
    wc_buf_append(&j->in, q->index, nl);
    wc_buf_append(&j->in, q->value, q->value_len);
    wc_buf_append(&j->in, q->after, al);
    if (wc_buf_status(&j->in) != WC_OK) {
        es_job_free(j);
        done(arg, wc_error(WC_NO_MEMORY, "out of memory queueing an index read"), NULL, 0);
        return;
    }
    j->q.index = (const char *)j->in.data;
    j->q.value = j->in.data + nl;
    j->q.after = q->after ? j->in.data + nl + q->value_len : NULL;
    if (!es_submit(s, j)) {
        es_job_free(j);
        done(arg, wc_error(WC_UNAVAILABLE, "the replica store is stopping"), NULL, 0);
    }
}

static wc_status es_op_reconcile(void *ctx, const wc_store_read *r, const wc_store_raw *raws,
                                 size_t n, wc_buf *answer, wc_buf *repairs)
{
    (void)ctx;
    return wc_raw_reconcile(r, raws, n, answer, repairs);
}

static wc_status es_op_append(void *ctx, wc_buf *acc, const uint8_t *raw, size_t len,
                              uint64_t *rows)
{
    (void)ctx;
    return wc_raw_append(acc, raw, len, rows);
}

static const wc_replica_store_ops es_ops = {
    .apply = es_op_apply,
    .read = es_op_read,
    .reconcile = es_op_reconcile,
    .append = es_op_append,
    .sync = es_op_sync,
    .apply_counter = es_op_apply_counter,
    .index_keys = es_op_index_keys,
};

wc_replica_store wc_engine_store_get(wc_engine_store *s)
{
    return (wc_replica_store){&es_ops, s};
}

wc_status wc_engine_store_create(wc_engine *e, wc_env *env, uint32_t threads,
                                 wc_engine_store **out)
{
    wc_engine_store *s;
    wc_status st;

    if (e == NULL || env == NULL || threads > WC_ENGINE_STORE_MAX_THREADS)
        return wc_error(WC_INVALID_ARGUMENT, "engine store: an engine, an env and at most %d threads",
                        WC_ENGINE_STORE_MAX_THREADS);
    s = wc_calloc(1, sizeof(*s));
    if (s == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating the engine store");
    s->e = e;
    s->env = env;
    s->posted.next = s->posted.prev = &s->posted;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        wc_free(s);
        return wc_error(WC_NO_MEMORY, "engine store: cannot create a mutex");
    }
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        wc_free(s);
        return wc_error(WC_NO_MEMORY, "engine store: cannot create a condition variable");
    }
    for (; s->nthreads < threads; s->nthreads++)
        if ((st = wc__thread_start(&s->th[s->nthreads], es_worker, s, "engine store")) != WC_OK) {
            wc_engine_store_destroy(s);
            return st;
        }
    *out = s;
    return WC_OK;
}

void wc_engine_store_destroy(wc_engine_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (uint32_t i = 0; i < s->nthreads; i++)
        pthread_join(s->th[i], NULL);
    /* every job ran; deliver what the loop has not yet (no worker is left to race) */
    while (s->posted.next != &s->posted) {
        es_job *j = s->posted.prev; /* oldest first */

        j->prev->next = j->next;
        j->next->prev = j->prev;
        atomic_store(&j->finished, true);
        es_complete(j);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    wc_free(s);
}

/* ---------------------------------------------------------------- paging */

/* A client request's paging state, resolved. */
typedef struct es_state {
    bool has;            /* a paging state was given */
    const uint8_t *key;  /* its last flat key */
    size_t klen;
    wc_key_parts kp;
    uint64_t rows;       /* rows of kp's partition returned so far */
    bool done;           /* that partition is finished */
} es_state;

#define ES_FLAG_DONE 0x01

static wc_status es_state_parse(const wc_read_request *req, es_state *ps)
{
    const uint8_t *p = req->paging_state, *end = p + req->paging_state_len;
    uint8_t ver, flags;

    memset(ps, 0, sizeof(*ps));
    if (req->paging_state == NULL)
        return WC_OK;
    if (!wc_get_u8(&p, end, &ver) || ver != WC_STORE_PAGING_VERSION ||
        !wc_get_bytes(&p, end, &ps->key, &ps->klen) || !wc_get_varint(&p, end, &ps->rows) ||
        !wc_get_u8(&p, end, &flags) || p != end || !wc_key_parse(ps->key, ps->klen, &ps->kp))
        return wc_error(WC_INVALID_ARGUMENT, "malformed paging state");
    if (req->pk && (ps->kp.pk_len != req->pk_len ||
                    (req->pk_len && memcmp(ps->kp.pk, req->pk, req->pk_len) != 0)))
        return wc_error(WC_INVALID_ARGUMENT, "paging state belongs to another partition");
    ps->has = true;
    /* a partition that gave its per-partition limit is finished */
    ps->done = (flags & ES_FLAG_DONE) ||
               (req->per_partition_limit && ps->rows >= req->per_partition_limit);
    return WC_OK;
}

/* plan with the state already parsed */
static wc_status es_plan(const wc_read_request *req, const es_state *ps, wc_store_read *out)
{
    uint64_t lim = req->page_rows ? req->page_rows : 1000;

    memset(out, 0, sizeof(*out));
    if (req->pk == NULL && req->reverse)
        return wc_error(WC_INVALID_ARGUMENT, "reverse order needs a single partition");
    if (req->pk && req->pk_len > WC_MAX_PK_LEN)
        return wc_error(WC_INVALID_ARGUMENT, "partition key longer than %d bytes", WC_MAX_PK_LEN);
    out->table_id = req->table_id;
    out->start = req->start;
    out->end = req->end;
    out->reverse = req->reverse;
    out->include_static = req->include_static;
    out->now_sec = req->now_sec;
    if (req->limit && req->limit < lim)
        lim = req->limit;
    if (req->pk || (ps->has && !ps->done)) {
        /* one partition: the request's, or the rest of the scan's current one */
        out->pk = req->pk ? req->pk : ps->kp.pk;
        out->pk_len = req->pk ? req->pk_len : ps->kp.pk_len;
        if (ps->has) {
            out->include_static = false;
            if (ps->kp.kind == WC_KIND_ROW) {
                wc_bound after = {.key = ps->kp.ck, .len = ps->kp.ck_len, .inclusive = false};

                if (req->reverse)
                    out->end = after;
                else
                    out->start = after;
            }
            if (ps->done) /* one partition, its per-partition limit given: nothing left */
                lim = 1;
            else if (req->per_partition_limit && req->per_partition_limit - ps->rows < lim)
                lim = req->per_partition_limit - ps->rows;
        }
    } else {
        out->token_range = true;
        out->token_start = req->token_range ? req->token_start : INT64_MIN;
        out->token_end = req->token_range ? req->token_end : INT64_MAX;
        if (ps->has) /* after a finished partition */
            out->token_start = ps->kp.token;
    }
    out->limit = lim;
    return WC_OK;
}

wc_status wc_engine_store_plan(const wc_read_request *req, wc_store_read *out)
{
    es_state ps;
    wc_status st = es_state_parse(req, &ps);

    return st != WC_OK ? st : es_plan(req, &ps, out);
}

/* Replace p's paging state by the store's: key, rows of its partition, flags. */
static wc_status es_set_state(wc_page *p, const uint8_t *key, size_t klen, uint64_t rows,
                              uint8_t flags)
{
    wc_buf b;

    wc_buf_init(&b);
    wc_buf_put_u8(&b, WC_STORE_PAGING_VERSION);
    wc_buf_put_bytes(&b, key, klen);
    wc_buf_put_varint(&b, rows);
    wc_buf_put_u8(&b, flags);
    if (wc_buf_status(&b) != WC_OK) {
        wc_buf_free(&b);
        return wc_error(WC_NO_MEMORY, "out of memory building a paging state");
    }
    wc_free(p->paging_state);
    p->paging_state = b.data;
    p->paging_state_len = b.len;
    p->more = true;
    return WC_OK;
}

/* Clustering rows of the page in the partition of flat key kp. */
static uint64_t es_rows_in(const wc_page *p, const wc_key_parts *kp)
{
    uint64_t n = 0;

    for (size_t i = 0; i < p->nrows; i++)
        n += !p->rows[i].is_static && p->rows[i].pk_len == kp->pk_len &&
             (kp->pk_len == 0 || memcmp(p->rows[i].pk, kp->pk, kp->pk_len) == 0);
    return n;
}

static bool es_same_partition(const wc_key_parts *a, const wc_key_parts *b)
{
    return a->pk_len == b->pk_len && (a->pk_len == 0 || memcmp(a->pk, b->pk, a->pk_len) == 0);
}

/*
 * One batch record of the answer's mutations followed by the overlay's (the
 * engine merges them by timestamp as one more memtable would) into *merged.
 */
static wc_status es_merge_batches(const uint8_t *answer, size_t len, const uint8_t *overlay,
                                  size_t overlay_len, wc_buf *merged)
{
    wc_batch_view va, vo;
    const uint8_t *mut;
    size_t mlen;

    if (wc_batch_parse(answer, len, &va) != WC_OK)
        return wc_error(WC_CORRUPTION, "malformed answer of a coordinated read");
    if (wc_batch_parse(overlay, overlay_len, &vo) != WC_OK)
        return wc_error(WC_INVALID_ARGUMENT, "malformed overlay batch");
    wc_batch_begin(merged, va.count + vo.count);
    while (wc_batch_next(&va, &mut, &mlen) == 1)
        wc_batch_add(merged, mut, mlen);
    while (wc_batch_next(&vo, &mut, &mlen) == 1)
        wc_batch_add(merged, mut, mlen);
    return wc_buf_status(merged);
}

/* Flat keys in memcmp order, a prefix first. */
static int es_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/*
 * Drop the rows of p that come after the flat key last in the read's order
 * (reverse: one partition, clustering keys descending).  Returns the rows
 * dropped.
 */
static wc_status es_cut_after(wc_page *p, const wc_key_parts *lk, const uint8_t *last,
                              size_t last_len, bool reverse, size_t *dropped)
{
    wc_buf k;
    size_t keep = 0;

    wc_buf_init(&k);
    for (; keep < p->nrows; keep++) {
        const wc_result_row *r = &p->rows[keep];
        int c;

        if (reverse) {
            /* the static row comes first; rows descend */
            if (r->is_static)
                continue;
            c = es_key_cmp(lk->ck, lk->ck_len, r->ck, r->ck_len);
        } else {
            wc_buf_reset(&k);
            wc_key_build(&k, r->token, r->pk, r->pk_len, r->is_static ? WC_KIND_STATIC : WC_KIND_ROW,
                         r->ck, r->is_static ? 0 : r->ck_len);
            if (wc_buf_status(&k) != WC_OK) {
                wc_buf_free(&k);
                return wc_error(WC_NO_MEMORY, "out of memory cutting a page");
            }
            c = es_key_cmp(k.data, k.len, last, last_len);
        }
        if (c > 0)
            break;
    }
    wc_buf_free(&k);
    *dropped = p->nrows - keep;
    p->nrows = keep;
    return WC_OK;
}

wc_status wc_engine_store_page(wc_engine *e, const wc_read_request *req, const uint8_t *answer,
                               size_t len, const uint8_t *overlay, size_t overlay_len,
                               wc_page **out)
{
    es_state ps;
    wc_store_read pl;
    wc_read_request q = *req;
    wc_buf state, last, merged;
    wc_page *p = NULL;
    uint64_t arows = 0;
    wc_key_parts akp;
    wc_status st;

    wc_buf_init(&state);
    wc_buf_init(&last);
    wc_buf_init(&merged);
    if ((st = es_state_parse(req, &ps)) != WC_OK || (st = es_plan(req, &ps, &pl)) != WC_OK)
        goto fail;
    if ((st = wc_raw_last_row(answer, len, &arows, &last)) != WC_OK)
        goto fail;
    q.paging_state = NULL;
    q.paging_state_len = 0;
    q.token_range = false; /* the answer holds only what the plan read */
    if (!pl.token_range) {
        q.pk = pl.pk;
        q.pk_len = pl.pk_len;
        if (ps.has) {
            /* the engine's own state: skip the static row, count the per-partition limit */
            wc_paging_state_build(&state, ps.key, ps.klen, ps.rows);
            if ((st = wc_buf_status(&state)) != WC_OK)
                goto fail;
            q.paging_state = state.data;
            q.paging_state_len = state.len;
        }
    } else {
        q.pk = NULL;
        q.pk_len = 0;
        if (overlay_len > 0) {
            /* the overlay reaches beyond what the plan read: only the plan's tokens */
            q.token_range = true;
            q.token_start = pl.token_start;
            q.token_end = pl.token_end;
        }
    }
    if (overlay_len > 0) {
        if ((st = es_merge_batches(answer, len, overlay, overlay_len, &merged)) != WC_OK)
            goto fail;
        st = wc_engine_read_overlay(e, &q, merged.data, merged.len, true, &p);
    } else {
        st = wc_engine_read_overlay(e, &q, answer, len, true, &p);
    }
    if (st != WC_OK)
        goto fail;
    if (overlay_len > 0 && arows >= pl.limit && last.len > 0 &&
        wc_key_parse(last.data, last.len, &akp)) {
        /*
         * The answer was cut at its last row: past it the replicas' data is
         * unknown, so the overlay's rows there wait for the next page (which
         * continues after that row, below).
         */
        size_t dropped = 0;

        if ((st = es_cut_after(p, &akp, last.data, last.len, pl.reverse, &dropped)) != WC_OK)
            goto fail;
        if (dropped > 0)
            p->more = false;
    }
    if (p->more) {
        /* the page is full: continue after its last row (engine state -> store state) */
        const uint8_t *s = p->paging_state, *end = s + p->paging_state_len, *k;
        size_t kl;
        uint8_t ver;
        uint64_t rows;

        if (!wc_get_u8(&s, end, &ver) || !wc_get_bytes(&s, end, &k, &kl) ||
            !wc_get_varint(&s, end, &rows)) {
            st = wc_error(WC_CORRUPTION, "unexpected paging state from the engine");
            goto fail;
        }
        wc_buf_reset(&state);
        wc_buf_append(&state, k, kl);
        if ((st = wc_buf_status(&state)) != WC_OK ||
            (st = es_set_state(p, state.data, state.len, rows, 0)) != WC_OK)
            goto fail;
    } else if ((req->limit && p->nrows >= req->limit) || (req->pk && ps.done)) {
        /* the limit, or the per-partition limit of the one partition, ended the read */
    } else if (arows >= pl.limit && last.len > 0 && wc_key_parse(last.data, last.len, &akp)) {
        /* the answer was cut: continue after its last row entry, live or not */
        uint64_t rows = es_rows_in(p, &akp);

        if (ps.has && !pl.token_range && es_same_partition(&ps.kp, &akp))
            rows += ps.rows;
        if ((st = es_set_state(p, last.data, last.len, rows, 0)) != WC_OK)
            goto fail;
    } else if (req->pk == NULL && !pl.token_range) {
        /* the rest of the scan's current partition is read: on to the next ones */
        uint64_t rows = ps.rows + es_rows_in(p, &ps.kp);

        if ((st = es_set_state(p, ps.key, ps.klen, rows, ES_FLAG_DONE)) != WC_OK)
            goto fail;
    }
    wc_buf_free(&state);
    wc_buf_free(&last);
    wc_buf_free(&merged);
    *out = p;
    return WC_OK;
fail:
    wc_page_free(p);
    wc_buf_free(&state);
    wc_buf_free(&last);
    wc_buf_free(&merged);
    return st;
}

void wc_engine_store_set_views(wc_engine_store *s, wc_views *v, wc_views_sink sink, void *arg)
{
    s->views = v;
    s->view_sink = sink;
    s->view_arg = arg;
}
