/*
 * compaction.c - running compactions: the background compaction threads,
 * major compaction, the merge that writes outputs (with tombstone purging),
 * whole-SSTable expiry, the throughput cap, and compaction statistics.
 *
 * What to compact is decided by compaction_strategy.c from per-SSTable
 * metadata; this file claims the table (one compaction per table at a time,
 * e->comp_mu), snapshots its SSTables, marks the inputs, merges them and
 * swaps inputs for outputs under the table's manifest lock and mu.  Readers
 * keep references to inputs, which are unlinked when the last one lets go
 * (wc_sstable_mark_obsolete).  Flushes that land meanwhile stay in the list.
 *
 * The merge reconciles each key across the inputs, drops data shadowed by
 * partition, range and row deletions, turns expired cells into tombstones,
 * and purges tombstones and expired cells whose ldt is before now -
 * gc_grace and whose timestamp is below the smallest timestamp anything
 * outside the compaction may hold for that partition: the memtables' minimum
 * and, of the SSTables not being compacted whose token range and bloom
 * filter admit the partition, their min_timestamp (computed once per
 * partition, under the table's mu, so SSTables flushed during the compaction
 * count too).  LCS outputs are split at partition boundaries.
 *
 * Throttling: a token bucket over the uncompressed bytes written, shared by
 * all compaction threads, at compaction_throughput_mb_per_sec (majors run
 * unthrottled in the caller's thread).
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "keys.h"
#include "merge.h"
#include "row.h"
#include "thread.h"

#define WC__CANCEL_CHECK_EVERY 512
#define WC__THROTTLE_CHUNK (64u << 10)

void wc__tcounters_unref(wc__tcounters *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        wc_free(c);
}

/* ---------------------------------------------------------------- throttle */

/* Take `bytes` from the token bucket, sleeping while it is in debt (in slices, so close is quick). */
static void wc__throttle(wc_engine *e, uint64_t bytes)
{
    uint32_t mb = atomic_load(&e->throughput_mb);
    double rate, debt;
    int64_t now;

    if (mb == 0 || bytes == 0)
        return;
    rate = (double)mb * 1048576.0; /* bytes per second */
    pthread_mutex_lock(&e->throttle_mu);
    now = wc__mono_ns();
    if (e->throttle_last_ns == 0)
        e->throttle_last_ns = now;
    e->throttle_tokens += (double)(now - e->throttle_last_ns) / 1e9 * rate;
    if (e->throttle_tokens > rate / 10) /* at most 100 ms of burst */
        e->throttle_tokens = rate / 10;
    e->throttle_last_ns = now;
    e->throttle_tokens -= (double)bytes;
    debt = -e->throttle_tokens;
    pthread_mutex_unlock(&e->throttle_mu);
    while (debt > 0) {
        double sec = debt / rate;
        struct timespec ts;
        bool stop;

        if (sec > 0.1)
            sec = 0.1;
        ts.tv_sec = (time_t)sec;
        ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
        debt -= sec * rate;
        pthread_mutex_lock(&e->comp_mu);
        stop = e->comp_stopping;
        pthread_mutex_unlock(&e->comp_mu);
        if (stop)
            break;
    }
}

/* ---------------------------------------------------------------- metadata */

/* Smallest timestamp in t's memtables. REQUIRES: t->mu. */
static int64_t wc__mem_min_ts(wc__table *t)
{
    int64_t min = wc_memtable_min_timestamp(t->active);

    for (size_t i = 0; i < t->nimm; i++) {
        int64_t m = wc_memtable_min_timestamp(t->imm[i].mem);
        if (m < min)
            min = m;
    }
    return min;
}

static void wc__fill_meta(wc_sst_meta *m, const wc__sst *s, int64_t gc_before)
{
    const wc_sstable_stats *ss = wc_sstable_get_stats(s->t);

    memset(m, 0, sizeof(*m));
    m->gen = s->gen;
    m->bytes = ss->file_bytes;
    m->created = s->created;
    m->tombstone_retry_after = s->tombstone_retry_after;
    m->level = s->level;
    m->min_ts = ss->min_timestamp;
    m->max_ts = ss->max_timestamp;
    m->max_ldt = ss->max_ldt;
    m->min_token = ss->min_token;
    m->max_token = ss->max_token;
    m->first_key = ss->first_key;
    m->first_key_len = ss->first_key_len;
    m->last_key = ss->last_key;
    m->last_key_len = ss->last_key_len;
    m->droppable = wc_sstable_stats_droppable(ss, gc_before);
    m->entries = ss->cells + ss->rows + ss->headers;
    m->compacting = s->compacting;
}

/*
 * Snapshot of t's SSTables (referenced) with their metadata.  REQUIRES:
 * t->mu held.  Caller releases with wc__snap_free.
 */
typedef struct wc__snap {
    wc__sst *ssts;
    wc_sst_meta *metas;
    size_t n;
    wc_pick_env env;
} wc__snap;

static void wc__snap_free(wc__snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        wc_sstable_unref(s->ssts[i].t);
    wc_free(s->ssts);
    wc_free(s->metas);
    memset(s, 0, sizeof(*s));
}

static wc_status wc__snap_take(wc__table *t, int64_t now, uint32_t gc_grace, wc__snap *s)
{
    memset(s, 0, sizeof(*s));
    s->ssts = wc_malloc((t->nssts ? t->nssts : 1) * sizeof(*s->ssts));
    s->metas = wc_malloc((t->nssts ? t->nssts : 1) * sizeof(*s->metas));
    if (s->ssts == NULL || s->metas == NULL) {
        wc_free(s->ssts);
        wc_free(s->metas);
        memset(s, 0, sizeof(*s));
        return wc_error(WC_NO_MEMORY, "out of memory planning a compaction");
    }
    s->env.now = now;
    s->env.gc_before = now - (int64_t)gc_grace;
    s->env.mem_min_ts = wc__mem_min_ts(t);
    for (size_t i = 0; i < t->nssts; i++) {
        s->ssts[i] = t->ssts[i];
        wc_sstable_ref(s->ssts[i].t);
        wc__fill_meta(&s->metas[i], &t->ssts[i], s->env.gc_before);
    }
    s->n = t->nssts;
    return WC_OK;
}

/* ---------------------------------------------------------------- claims */

/* Claim t for a compaction if nobody holds it. REQUIRES: tables_mu held (t in the array). */
static bool wc__try_claim(wc_engine *e, wc__table *t)
{
    bool ok;

    pthread_mutex_lock(&e->comp_mu);
    ok = !t->compacting && !t->comp_cancel && !e->comp_stopping;
    if (ok)
        t->compacting = true;
    pthread_mutex_unlock(&e->comp_mu);
    return ok;
}

void wc__release_claim(wc_engine *e, wc__table *t)
{
    pthread_mutex_lock(&e->comp_mu);
    t->compacting = false;
    pthread_cond_broadcast(&e->comp_done_cv);
    pthread_mutex_unlock(&e->comp_mu);
}

static bool wc__cancelled(wc_engine *e, wc__table *t)
{
    bool c;

    pthread_mutex_lock(&e->comp_mu);
    c = e->comp_stopping || t->comp_cancel;
    pthread_mutex_unlock(&e->comp_mu);
    return c;
}

void wc__compaction_forget_table(wc_engine *e, wc__table *t)
{
    pthread_mutex_lock(&e->comp_mu);
    t->comp_cancel = true;
    while (t->compacting)
        pthread_cond_wait(&e->comp_done_cv, &e->comp_mu);
    pthread_mutex_unlock(&e->comp_mu);
}

/* ---------------------------------------------------------------- purge */

typedef struct wc__purge_ctx {
    wc__table *t;
    const uint8_t *prefix;
    size_t plen;
    int64_t token;
    bool have;
    int64_t value;
} wc__purge_ctx;

/* Smallest timestamp outside the compaction that may hold the current partition. */
static int64_t wc__max_purgeable(void *arg)
{
    wc__purge_ctx *c = arg;
    wc__table *t = c->t;
    int64_t min;

    if (c->have)
        return c->value;
    pthread_mutex_lock(&t->mu);
    min = wc__mem_min_ts(t);
    for (size_t i = 0; i < t->nssts; i++) {
        const wc_sstable_stats *ss;
        if (t->ssts[i].compacting)
            continue;
        ss = wc_sstable_get_stats(t->ssts[i].t);
        if (ss->min_timestamp >= min || c->token < ss->min_token || c->token > ss->max_token)
            continue;
        if (wc_sstable_may_contain(t->ssts[i].t, c->prefix, c->plen))
            min = ss->min_timestamp;
    }
    pthread_mutex_unlock(&t->mu);
    c->have = true;
    c->value = min;
    return min;
}

/* ---------------------------------------------------------------- running one task */

typedef struct wc__outputs {
    wc__sst *v;
    size_t n, cap;
} wc__outputs;

static wc_status wc__outputs_push(wc__outputs *o, wc_sstable *s, uint64_t gen)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        wc__sst *p = wc_realloc(o->v, cap * sizeof(*p));
        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory in compaction");
        o->v = p;
        o->cap = cap;
    }
    memset(&o->v[o->n], 0, sizeof(o->v[0]));
    o->v[o->n].t = s;
    o->v[o->n].gen = gen;
    o->n++;
    return WC_OK;
}

/* Finish the open writer and open its file as an output. */
static wc_status wc__finish_output(wc_engine *e, wc__table *t, wc_sstable_writer **w,
                                   uint64_t gen, wc__outputs *outs)
{
    char path[4200];
    wc_sstable *s;
    wc_status st;

    if (wc_sstable_writer_entries(*w) == 0) {
        wc_sstable_writer_abort(*w);
        *w = NULL;
        return WC_OK;
    }
    st = wc_sstable_writer_finish(*w, NULL);
    *w = NULL;
    if (st != WC_OK)
        return st;
    snprintf(path, sizeof(path), "%s/%llu.sst", t->dir, (unsigned long long)gen);
    st = wc_sstable_open(e->fs, path, e->cache, atomic_fetch_add(&e->next_file_id, 1), &s);
    if (st != WC_OK) {
        e->fs->unlink(e->fs, path);
        return st;
    }
    st = wc__outputs_push(outs, s, gen);
    if (st != WC_OK) {
        wc_sstable_mark_obsolete(s);
        wc_sstable_unref(s);
    }
    return st;
}

/*
 * Merge inputs into outputs.  On failure or cancel every output written so
 * far is removed (outs emptied) and the status returned (WC_UNAVAILABLE when
 * cancelled).
 */
static wc_status wc__merge(wc_engine *e, wc__table *t, wc__sst *inputs, size_t nin,
                           uint64_t max_output_bytes, int64_t now, int64_t gc_before,
                           bool throttle, wc__job *job, wc__outputs *outs, uint64_t *purged)
{
    wc_iter **its = NULL;
    wc_merge *m = NULL;
    wc_sstable_writer *w = NULL;
    wc_sstable_options so;
    wc_buf mb[2], row, hdr, prefix;
    wc_range_tombstone *rts = NULL;
    size_t nrts = 0, caprts = 0;
    int64_t pdel = WC_NO_TIMESTAMP;
    uint64_t gen = 0, steps = 0, unthrottled = 0;
    wc__purge_ctx pc = {.t = t};
    wc_purge purge = {.gc_before = gc_before, .max_purgeable = wc__max_purgeable, .arg = &pc};
    char path[4200];
    wc_status st = WC_OK;

    wc_buf_init(&mb[0]);
    wc_buf_init(&mb[1]);
    wc_buf_init(&row);
    wc_buf_init(&hdr);
    wc_buf_init(&prefix);
    wc_sstable_options_default(&so);
    so.block_size = e->opts.block_bytes;
    so.bloom_bits_per_key = e->opts.bloom_bits;

    its = wc_malloc(nin * sizeof(*its));
    if (its == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting a compaction");
        goto fail;
    }
    for (size_t i = 0; i < nin; i++) {
        its[i] = wc_sstable_iter(inputs[i].t, NULL);
        if (its[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                wc_iter_destroy(its[j]);
            st = wc_error(WC_NO_MEMORY, "out of memory starting a compaction");
            goto fail;
        }
    }
    st = wc_merge_new(its, nin, &m);
    if (st != WC_OK)
        goto fail;

    for (wc_merge_seek(m, (const uint8_t *)"", 0); wc_merge_valid(m); wc_merge_step(m)) {
        size_t kl, n, plen;
        const uint8_t *k = wc_merge_key(m, &kl);
        const wc_merge_value *v = wc_merge_values(m, &n);
        const uint8_t *cur = v[0].data, *outv = NULL;
        size_t curlen = v[0].len, outlen = 0;
        wc_key_parts kp;
        int which = 0;
        bool empty = false;

        if (++steps % WC__CANCEL_CHECK_EVERY == 0 && wc__cancelled(e, t)) {
            st = wc_error(WC_UNAVAILABLE, "compaction of table %u cancelled", t->def.id);
            goto fail;
        }
        if (!wc_key_parse(k, kl, &kp)) {
            st = wc_error(WC_CORRUPTION, "malformed key in compaction");
            goto fail;
        }
        {
            uint64_t consumed = 0;
            for (size_t i = 0; i < n; i++)
                consumed += kl + v[i].len;
            if (job)
                atomic_fetch_add(&job->done, consumed);
        }
        for (size_t i = 1; i < n; i++) {
            wc_buf_reset(&mb[which]);
            st = kp.kind == WC_KIND_HEADER
                     ? wc_header_merge(cur, curlen, v[i].data, v[i].len, &mb[which])
                     : wc_row_merge(cur, curlen, v[i].data, v[i].len, &mb[which]);
            if (st != WC_OK)
                goto fail;
            cur = mb[which].data;
            curlen = mb[which].len;
            which ^= 1;
        }
        plen = WC_KEY_PREFIX_LEN(kp.pk_len);
        if (prefix.len != plen || memcmp(prefix.data, k, plen) != 0) {
            /* new partition: forget the previous one's deletions; maybe start a new output */
            wc_buf_reset(&prefix);
            wc_buf_append(&prefix, k, plen);
            if ((st = wc_buf_status(&prefix)) != WC_OK)
                goto fail;
            pdel = WC_NO_TIMESTAMP;
            nrts = 0;
            pc.prefix = prefix.data;
            pc.plen = plen;
            pc.token = kp.token;
            pc.have = false;
            if (w && max_output_bytes && wc_sstable_writer_bytes(w) >= max_output_bytes &&
                (st = wc__finish_output(e, t, &w, gen, outs)) != WC_OK)
                goto fail;
        }
        if (kp.kind == WC_KIND_HEADER) {
            wc_header_view hv;
            wc_range_tombstone rt;
            int r;

            wc_buf_reset(&hdr);
            wc_buf_append(&hdr, cur, curlen);
            if ((st = wc_buf_status(&hdr)) != WC_OK)
                goto fail;
            if (!wc_header_parse(hdr.data, hdr.len, &hv)) {
                st = wc_error(WC_CORRUPTION, "malformed partition header in compaction");
                goto fail;
            }
            if (hv.flags & WC_HDRF_PARTITION_DELETED)
                pdel = hv.pdel_ts;
            while ((r = wc_header_next_rt(&hv, &rt)) == 1) {
                if (nrts == caprts) {
                    size_t cap = caprts ? caprts * 2 : 8;
                    wc_range_tombstone *p = wc_realloc(rts, cap * sizeof(*p));
                    if (p == NULL) {
                        st = wc_error(WC_NO_MEMORY, "out of memory in compaction");
                        goto fail;
                    }
                    rts = p;
                    caprts = cap;
                }
                rts[nrts++] = rt;
            }
            wc_buf_reset(&row);
            st = wc_header_compact_purge(hdr.data, hdr.len, &purge, &row, &empty, purged);
        } else {
            int64_t shadow = pdel;

            if (kp.kind == WC_KIND_ROW)
                for (size_t i = 0; i < nrts; i++)
                    if (rts[i].ts > shadow && wc_rt_covers(&rts[i], kp.ck, kp.ck_len))
                        shadow = rts[i].ts;
            wc_buf_reset(&row);
            st = wc_row_compact_purge(cur, curlen, shadow, now, &purge, &row, &empty, purged);
        }
        if (st != WC_OK)
            goto fail;
        if (empty)
            continue;
        outv = row.data;
        outlen = row.len;
        if (w == NULL) {
            pthread_mutex_lock(&t->mu);
            gen = t->next_gen++;
            pthread_mutex_unlock(&t->mu);
            snprintf(path, sizeof(path), "%s/%llu.sst", t->dir, (unsigned long long)gen);
            if ((st = wc_sstable_writer_open(e->fs, path, &so, &w)) != WC_OK)
                goto fail;
        }
        if ((st = wc_sstable_writer_add(w, k, kl, outv, outlen)) != WC_OK)
            goto fail;
        unthrottled += kl + outlen;
        if (throttle && unthrottled >= WC__THROTTLE_CHUNK) {
            wc__throttle(e, unthrottled);
            unthrottled = 0;
        }
    }
    if ((st = wc_merge_status(m)) != WC_OK)
        goto fail;
    if (w && (st = wc__finish_output(e, t, &w, gen, outs)) != WC_OK)
        goto fail;
    if (throttle)
        wc__throttle(e, unthrottled);
    goto done;
fail:
    if (w)
        wc_sstable_writer_abort(w);
    for (size_t i = 0; i < outs->n; i++) {
        wc_sstable_mark_obsolete(outs->v[i].t);
        wc_sstable_unref(outs->v[i].t);
    }
    outs->n = 0;
done:
    wc_merge_free(m);
    wc_free(its);
    wc_free(rts);
    wc_buf_free(&mb[0]);
    wc_buf_free(&mb[1]);
    wc_buf_free(&row);
    wc_buf_free(&hdr);
    wc_buf_free(&prefix);
    return st;
}

/* Unmark t's SSTables that are inputs (those still listed). */
static void wc__unmark(wc__table *t, wc__sst *inputs, size_t nin)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->nssts; i++)
        for (size_t k = 0; k < nin; k++)
            if (t->ssts[i].t == inputs[k].t)
                t->ssts[i].compacting = false;
    pthread_mutex_unlock(&t->mu);
}

/* Replace inputs by outputs in t's list and manifest; inputs become obsolete once durable. */
/*
 * Replace the inputs by the outputs in the table's list and manifest.  The
 * outputs get level and, when retry_after is non-zero, wait until then
 * before a tombstone compaction may pick them (one that purged nothing
 * would only find the same tombstones again).
 */
static wc_status wc__swap(wc_engine *e, wc__table *t, wc__sst *inputs, size_t nin,
                          wc__outputs *outs, uint32_t level, int64_t now, int64_t retry_after)
{
    wc__sst *nv;
    size_t cap, j = 0, at = SIZE_MAX;
    wc_status st;

    pthread_mutex_lock(&t->manifest_mu);
    pthread_mutex_lock(&t->mu);
    cap = t->nssts + outs->n + 1;
    nv = wc_malloc(cap * sizeof(*nv));
    if (nv == NULL) {
        pthread_mutex_unlock(&t->mu);
        pthread_mutex_unlock(&t->manifest_mu);
        return wc_error(WC_NO_MEMORY, "out of memory swapping compaction outputs");
    }
    for (size_t i = 0; i < t->nssts; i++) {
        bool input = false;
        for (size_t k = 0; k < nin && !input; k++)
            input = t->ssts[i].t == inputs[k].t;
        if (input) {
            if (at == SIZE_MAX)
                at = j;
            wc_sstable_unref(t->ssts[i].t); /* the list's reference */
            continue;
        }
        nv[j++] = t->ssts[i];
    }
    if (at == SIZE_MAX)
        at = j;
    /* outputs take the place of the oldest input */
    memmove(&nv[at + outs->n], &nv[at], (j - at) * sizeof(nv[0]));
    for (size_t k = 0; k < outs->n; k++) {
        nv[at + k] = outs->v[k];
        nv[at + k].level = level;
        nv[at + k].created = now;
        nv[at + k].tombstone_retry_after = retry_after;
        nv[at + k].compacting = false;
    }
    wc_free(t->ssts);
    t->ssts = nv;
    t->nssts = j + outs->n;
    t->capssts = cap;
    outs->n = 0; /* references moved to the list */
    pthread_mutex_unlock(&t->mu);
    st = wc__manifest_write(e, t);
    pthread_mutex_unlock(&t->manifest_mu);
    if (st == WC_OK)
        for (size_t i = 0; i < nin; i++)
            wc_sstable_mark_obsolete(inputs[i].t);
    return st;
}

static wc_compaction_kind wc__info_kind(wc_task_kind k)
{
    switch (k) {
    case WC_TASK_TOMBSTONE:
        return WC_COMPACTION_KIND_TOMBSTONE;
    case WC_TASK_DROP_EXPIRED:
        return WC_COMPACTION_KIND_EXPIRED;
    case WC_TASK_MAJOR:
        return WC_COMPACTION_KIND_MAJOR;
    default:
        return WC_COMPACTION_KIND_MINOR;
    }
}

static void wc__fill_info(wc_compaction_info *ci, uint32_t table_id, wc_compaction_class cls,
                          const wc_compaction_task *task, const wc__sst *ssts,
                          const wc_sst_meta *metas)
{
    memset(ci, 0, sizeof(*ci));
    ci->table_id = table_id;
    ci->strategy = cls;
    ci->kind = wc__info_kind(task->kind);
    ci->ninputs = (uint32_t)task->ninputs;
    ci->level = cls == WC_COMPACTION_LCS ? (int32_t)task->level : -1;
    ci->window_start = task->window;
    for (size_t k = 0; k < task->ninputs; k++) {
        if (k < WC_COMPACTION_INFO_INPUTS)
            ci->inputs[k] = metas[task->inputs[k]].gen;
        if (task->kind != WC_TASK_DROP_EXPIRED)
            ci->bytes_total += wc_sstable_get_stats(ssts[task->inputs[k]].t)->uncompressed_bytes;
    }
}

/*
 * Pick and run one compaction of t (major: every SSTable).  REQUIRES: the
 * claim on t is held.  *did tells whether there was anything to do.
 */
static wc_status wc__run(wc_engine *e, wc__table *t, bool major, bool *did)
{
    wc_compaction_options co;
    uint32_t gc_grace;
    wc__snap snap = {0};
    wc_compaction_task task = {0};
    wc__sst *inputs = NULL;
    wc__outputs outs = {0};
    wc__job *job = NULL;
    uint64_t purged = 0, in_bytes = 0, out_bytes = 0;
    int64_t now = wc__engine_now(e);
    wc_status st;

    *did = false;
    pthread_rwlock_rdlock(&e->tables_mu);
    co = t->copts;
    gc_grace = t->def.gc_grace_seconds;
    pthread_rwlock_unlock(&e->tables_mu);

    pthread_mutex_lock(&t->mu);
    st = wc__snap_take(t, now, gc_grace, &snap);
    if (st == WC_OK)
        st = major ? wc_compaction_major(&co, snap.metas, snap.n, &task)
                   : wc_compaction_pick(&co, snap.metas, snap.n, &snap.env, &t->lcs, &task);
    if (st == WC_OK && task.kind == WC_TASK_MAJOR && task.ninputs < 2 &&
        !(task.ninputs == 1 && (snap.metas[task.inputs[0]].level != task.level ||
                                snap.metas[task.inputs[0]].droppable > 0)))
        wc_compaction_task_free(&task); /* nothing to merge, move or purge */
    if (st != WC_OK || task.kind == WC_TASK_NONE) {
        pthread_mutex_unlock(&t->mu);
        goto done;
    }
    inputs = wc_malloc(task.ninputs * sizeof(*inputs));
    job = wc_calloc(1, sizeof(*job));
    if (inputs == NULL || job == NULL) {
        pthread_mutex_unlock(&t->mu);
        st = wc_error(WC_NO_MEMORY, "out of memory starting a compaction");
        goto done;
    }
    for (size_t k = 0; k < task.ninputs; k++) {
        inputs[k] = snap.ssts[task.inputs[k]];
        for (size_t i = 0; i < t->nssts; i++)
            if (t->ssts[i].t == inputs[k].t)
                t->ssts[i].compacting = true;
        in_bytes += wc_sstable_get_stats(inputs[k].t)->file_bytes;
    }
    pthread_mutex_unlock(&t->mu);
    *did = true;

    wc__fill_info(&job->info, t->def.id, co.cls, &task, snap.ssts, snap.metas);
    job->info.running = true;
    atomic_init(&job->done, 0);
    pthread_mutex_lock(&e->comp_mu);
    t->job = job;
    pthread_mutex_unlock(&e->comp_mu);

    if (task.kind != WC_TASK_DROP_EXPIRED) {
        st = wc__merge(e, t, inputs, task.ninputs, task.max_output_bytes, now,
                       now - (int64_t)gc_grace, !major, job, &outs, &purged);
        for (size_t k = 0; k < outs.n; k++)
            out_bytes += wc_sstable_get_stats(outs.v[k].t)->file_bytes;
    }
    if (st == WC_OK)
        st = wc__swap(e, t, inputs, task.ninputs, &outs, task.level, now,
                      task.kind == WC_TASK_TOMBSTONE && purged == 0
                          ? now + (co.tombstone_compaction_interval > 3600
                                       ? co.tombstone_compaction_interval
                                       : 3600)
                          : 0);
    if (st == WC_OK) {
        atomic_fetch_add(&t->counters->compactions, 1);
        if (task.kind == WC_TASK_DROP_EXPIRED) {
            atomic_fetch_add(&t->counters->expired, task.ninputs);
        } else {
            atomic_fetch_add(&t->counters->bytes_read, in_bytes);
            atomic_fetch_add(&t->counters->bytes_written, out_bytes);
            atomic_fetch_add(&t->counters->purged, purged);
        }
        wc__engine_log(e, WC_LOG_INFO,
                       "table %u: %s %s compaction of %zu SSTables -> level %u (%llu purged)",
                       t->def.id, wc_compaction_class_name(co.cls, true),
                       task.kind == WC_TASK_DROP_EXPIRED ? "expiry"
                       : task.kind == WC_TASK_MAJOR      ? "major"
                       : task.kind == WC_TASK_TOMBSTONE  ? "tombstone"
                                                         : "minor",
                       task.ninputs, task.level, (unsigned long long)purged);
    }
    wc__unmark(t, inputs, task.ninputs);
    pthread_mutex_lock(&e->comp_mu);
    t->job = NULL;
    pthread_mutex_unlock(&e->comp_mu);
done:
    for (size_t k = 0; k < outs.n; k++) {
        wc_sstable_mark_obsolete(outs.v[k].t);
        wc_sstable_unref(outs.v[k].t);
    }
    wc_free(outs.v);
    wc_free(inputs);
    wc_free(job);
    wc_compaction_task_free(&task);
    wc__snap_free(&snap);
    return st;
}

/* ---------------------------------------------------------------- threads */

/* One round: run one task of the first table (round-robin) that has one. */
static bool wc__round(wc_engine *e)
{
    uint32_t *ids = NULL;
    size_t n = 0, start;
    bool did = false;

    pthread_rwlock_rdlock(&e->tables_mu);
    if (e->ntables)
        ids = wc_malloc(e->ntables * sizeof(*ids));
    if (ids)
        for (size_t i = 0; i < e->ntables; i++)
            ids[n++] = e->tables[i]->def.id;
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_lock(&e->comp_mu);
    start = e->comp_next++;
    pthread_mutex_unlock(&e->comp_mu);
    for (size_t k = 0; k < n && !did; k++) {
        wc__table *t;
        wc_status st;

        pthread_rwlock_rdlock(&e->tables_mu);
        t = wc__engine_find_table(e, ids[(start + k) % n]);
        if (t == NULL || !t->copts.enabled || atomic_load(&t->offline) || !wc__try_claim(e, t)) {
            pthread_rwlock_unlock(&e->tables_mu);
            continue;
        }
        pthread_rwlock_unlock(&e->tables_mu);
        st = wc__run(e, t, false, &did);
        if (st != WC_OK && st != WC_UNAVAILABLE) {
            char detail[512];

            snprintf(detail, sizeof(detail), "%s", wc_last_error());
            wc__engine_log(e, WC_LOG_ERROR, "compaction of table %u failed: %s (%s)", t->def.id,
                           wc_status_name(st), detail);
            wc__compaction_result(e, t->def.id, st, detail);
            did = false; /* wait for the next check rather than retry at once */
        } else if (st == WC_OK && did) {
            wc__compaction_result(e, t->def.id, WC_OK, NULL);
        }
        wc__release_claim(e, t);
    }
    wc_free(ids);
    return did;
}

static void *wc__comp_main(void *arg)
{
    struct wc__comp_arg *a = arg;
    wc_engine *e = a->e;

    for (;;) {
        struct timespec ts;

        pthread_mutex_lock(&e->comp_mu);
        if (e->comp_stopping || a->idx >= e->comp_wanted) {
            e->comp_exited[a->idx] = true;
            pthread_mutex_unlock(&e->comp_mu);
            return NULL;
        }
        pthread_mutex_unlock(&e->comp_mu);
        if (wc__round(e))
            continue;
        pthread_mutex_lock(&e->comp_mu);
        if (!e->comp_stopping && a->idx < e->comp_wanted) {
            wc__deadline_ms(&ts, e->opts.compaction_check_ms);
            pthread_cond_timedwait(&e->comp_cv, &e->comp_mu, &ts);
        }
        pthread_mutex_unlock(&e->comp_mu);
    }
}

/* Start thread idx (wc__thread_start: signals blocked).  REQUIRES: comp_mu held, slot free. */
static wc_status wc__spawn(wc_engine *e, uint32_t idx)
{
    wc_status st;

    e->comp_args[idx].e = e;
    e->comp_args[idx].idx = idx;
    st = wc__thread_start(&e->comp_threads[idx], wc__comp_main, &e->comp_args[idx], "compaction");
    if (st != WC_OK)
        return st;
    e->comp_started[idx] = true;
    e->comp_exited[idx] = false;
    return WC_OK;
}

wc_status wc__compaction_start(wc_engine *e)
{
    wc_status st = WC_OK;

    pthread_mutex_lock(&e->comp_mu);
    e->comp_wanted = e->opts.compaction_threads;
    for (uint32_t i = 0; i < e->comp_wanted && st == WC_OK; i++)
        st = wc__spawn(e, i);
    pthread_mutex_unlock(&e->comp_mu);
    return st;
}

void wc__compaction_stop(wc_engine *e)
{
    pthread_mutex_lock(&e->comp_mu);
    e->comp_stopping = true;
    pthread_cond_broadcast(&e->comp_cv);
    pthread_mutex_unlock(&e->comp_mu);
    for (uint32_t i = 0; i < WC_MAX_COMPACTION_THREADS; i++) {
        if (!e->comp_started[i])
            continue;
        pthread_join(e->comp_threads[i], NULL);
        e->comp_started[i] = false;
    }
}

void wc__compaction_notify(wc_engine *e)
{
    pthread_mutex_lock(&e->comp_mu);
    pthread_cond_broadcast(&e->comp_cv);
    pthread_mutex_unlock(&e->comp_mu);
}

wc_status wc_engine_set_compaction(wc_engine *e, uint32_t threads, uint32_t throughput_mb_per_sec)
{
    wc_status st = WC_OK;
    pthread_t joins[WC_MAX_COMPACTION_THREADS];
    size_t nj = 0;

    if (threads > WC_MAX_COMPACTION_THREADS)
        return wc_error(WC_INVALID_ARGUMENT, "at most %d compaction threads",
                        WC_MAX_COMPACTION_THREADS);
    atomic_store(&e->throughput_mb, throughput_mb_per_sec);
    pthread_mutex_lock(&e->comp_mu);
    e->comp_wanted = threads;
    pthread_cond_broadcast(&e->comp_cv);
    /* slots whose thread exited are joined (outside the lock) and refilled */
    for (uint32_t i = 0; i < WC_MAX_COMPACTION_THREADS; i++) {
        if (e->comp_started[i] && e->comp_exited[i]) {
            joins[nj++] = e->comp_threads[i];
            e->comp_started[i] = false;
        }
    }
    for (uint32_t i = 0; i < threads && st == WC_OK && !e->comp_stopping; i++)
        if (!e->comp_started[i])
            st = wc__spawn(e, i);
    pthread_mutex_unlock(&e->comp_mu);
    for (size_t i = 0; i < nj; i++)
        pthread_join(joins[i], NULL);
    return st;
}

/* ---------------------------------------------------------------- major */

wc_status wc_engine_compact(wc_engine *e, uint32_t table_id)
{
    wc__table *t;
    bool did;
    wc_status st;

    st = wc__claim_wait(e, table_id, &t);
    if (st != WC_OK)
        return st;
    if (atomic_load(&t->offline)) {
        pthread_mutex_lock(&t->mu);
        st = wc__offline_error(t);
        pthread_mutex_unlock(&t->mu);
    } else {
        st = wc__run(e, t, true, &did);
    }
    wc__release_claim(e, t);
    return st;
}

wc_status wc__claim_wait(wc_engine *e, uint32_t table_id, wc__table **out)
{
    wc__table *t;

    for (;;) {
        struct timespec ts;

        pthread_rwlock_rdlock(&e->tables_mu);
        t = wc__engine_find_table(e, table_id);
        if (t == NULL) {
            pthread_rwlock_unlock(&e->tables_mu);
            return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
        }
        if (wc__try_claim(e, t)) {
            pthread_rwlock_unlock(&e->tables_mu);
            *out = t;
            return WC_OK;
        }
        pthread_rwlock_unlock(&e->tables_mu);
        pthread_mutex_lock(&e->comp_mu);
        if (e->comp_stopping) {
            pthread_mutex_unlock(&e->comp_mu);
            return wc_error(WC_UNAVAILABLE, "engine is closing");
        }
        wc__deadline_ms(&ts, 50);
        pthread_cond_timedwait(&e->comp_done_cv, &e->comp_mu, &ts);
        pthread_mutex_unlock(&e->comp_mu);
    }
}

/* ---------------------------------------------------------------- stats */

static uint32_t wc__hist_bucket_hi(int b)
{
    static const uint32_t hi[WC_READ_HIST_BUCKETS] = {0, 1, 2, 3, 4, 8, 16, UINT32_MAX};
    return hi[b];
}

static uint32_t wc__hist_percentile(const uint64_t *h, double p)
{
    uint64_t total = 0, acc = 0;

    for (int b = 0; b < WC_READ_HIST_BUCKETS; b++)
        total += h[b];
    if (total == 0)
        return 0;
    for (int b = 0; b < WC_READ_HIST_BUCKETS; b++) {
        acc += h[b];
        if ((double)acc >= p * (double)total)
            return wc__hist_bucket_hi(b);
    }
    return UINT32_MAX;
}

void wc__read_hist_add(wc__tcounters *c, uint64_t touched)
{
    int b = touched <= 4 ? (int)touched : touched <= 8 ? 5 : touched <= 16 ? 6 : 7;
    atomic_fetch_add_explicit(&c->read_hist[b], 1, memory_order_relaxed);
}

wc_status wc_engine_compaction_stats(wc_engine *e, uint32_t table_id, wc_compaction_stats *out)
{
    wc__table *t;
    wc__snap snap = {0};
    wc_compaction_options co;
    uint64_t entries = 0;
    int64_t W;
    wc_status st;

    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&e->tables_mu);
    t = wc__engine_find_table(e, table_id);
    if (t == NULL) {
        pthread_rwlock_unlock(&e->tables_mu);
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    }
    co = t->copts;
    pthread_mutex_lock(&t->mu);
    st = wc__snap_take(t, wc__engine_now(e), t->def.gc_grace_seconds, &snap);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_lock(&e->comp_mu);
    out->running = t->compacting && t->job != NULL;
    pthread_mutex_unlock(&e->comp_mu);
    for (int b = 0; b < WC_READ_HIST_BUCKETS; b++)
        out->read_histogram[b] = atomic_load(&t->counters->read_hist[b]);
    out->compactions_completed = atomic_load(&t->counters->compactions);
    out->bytes_read = atomic_load(&t->counters->bytes_read);
    out->bytes_written = atomic_load(&t->counters->bytes_written);
    out->sstables_expired = atomic_load(&t->counters->expired);
    out->tombstones_purged = atomic_load(&t->counters->purged);
    pthread_rwlock_unlock(&e->tables_mu);
    if (st != WC_OK)
        return st;

    out->strategy = co.cls;
    out->enabled = co.enabled;
    out->read_p50 = wc__hist_percentile(out->read_histogram, 0.5);
    out->read_p99 = wc__hist_percentile(out->read_histogram, 0.99);
    W = wc_compaction_window_seconds(&co);
    for (size_t i = 0; i < snap.n; i++) {
        const wc_sst_meta *m = &snap.metas[i];
        uint32_t lv = m->level <= WC_LCS_MAX_LEVEL ? m->level : WC_LCS_MAX_LEVEL;
        out->level_sstables[lv]++;
        out->level_bytes[lv] += m->bytes;
        out->droppable_tombstones += m->droppable;
        entries += m->entries;
        if (co.cls == WC_COMPACTION_TWCS) {
            int64_t w = wc_twcs_window(m->max_ts, W);
            uint32_t j = 0;
            while (j < out->nwindows && out->window_start[j] != w)
                j++;
            if (j == out->nwindows) {
                /* keep the newest WC_STATS_WINDOWS, sorted newest first */
                uint32_t pos = 0;
                while (pos < out->nwindows && out->window_start[pos] > w)
                    pos++;
                if (pos >= WC_STATS_WINDOWS)
                    continue;
                if (out->nwindows == WC_STATS_WINDOWS)
                    out->nwindows--;
                memmove(&out->window_start[pos + 1], &out->window_start[pos],
                        (out->nwindows - pos) * sizeof(out->window_start[0]));
                memmove(&out->window_sstables[pos + 1], &out->window_sstables[pos],
                        (out->nwindows - pos) * sizeof(out->window_sstables[0]));
                memmove(&out->window_bytes[pos + 1], &out->window_bytes[pos],
                        (out->nwindows - pos) * sizeof(out->window_bytes[0]));
                out->window_start[pos] = w;
                out->window_sstables[pos] = 0;
                out->window_bytes[pos] = 0;
                out->nwindows++;
                j = pos;
            }
            out->window_sstables[j]++;
            out->window_bytes[j] += m->bytes;
        }
    }
    out->droppable_tombstone_ratio = entries ? (double)out->droppable_tombstones / (double)entries : 0;
    out->pending = wc_compaction_estimate_pending(&co, snap.metas, snap.n, &snap.env);
    wc__snap_free(&snap);
    return WC_OK;
}

/* The next task t's strategy would run (kind NONE if none). REQUIRES: tables_mu held. */
static wc_status wc__peek(wc_engine *e, wc__table *t, wc_compaction_info *ci, bool *found)
{
    wc__snap snap;
    wc_compaction_task task;
    wc_status st;

    *found = false;
    pthread_mutex_lock(&t->mu);
    st = wc__snap_take(t, wc__engine_now(e), t->def.gc_grace_seconds, &snap);
    pthread_mutex_unlock(&t->mu);
    if (st != WC_OK)
        return st;
    st = wc_compaction_pick(&t->copts, snap.metas, snap.n, &snap.env, NULL, &task);
    if (st == WC_OK && task.kind != WC_TASK_NONE) {
        wc__fill_info(ci, t->def.id, t->copts.cls, &task, snap.ssts, snap.metas);
        *found = true;
    }
    wc_compaction_task_free(&task);
    wc__snap_free(&snap);
    return st;
}

wc_status wc_engine_compactions(wc_engine *e, uint32_t table_id, wc_compaction_info **out,
                                size_t *n)
{
    wc_compaction_info *v = NULL;
    size_t cnt = 0;
    bool any = false;
    wc_status st = WC_OK;

    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&e->tables_mu);
    v = wc_malloc((e->ntables ? e->ntables : 1) * sizeof(*v));
    if (v == NULL) {
        pthread_rwlock_unlock(&e->tables_mu);
        return wc_error(WC_NO_MEMORY, "out of memory listing compactions");
    }
    for (size_t i = 0; i < e->ntables && st == WC_OK; i++) {
        wc__table *t = e->tables[i];
        bool running = false, found;

        if (table_id != 0 && t->def.id != table_id)
            continue;
        any = true;
        pthread_mutex_lock(&e->comp_mu);
        if (t->job) {
            v[cnt] = t->job->info;
            v[cnt].bytes_done = atomic_load(&t->job->done);
            if (v[cnt].bytes_done > v[cnt].bytes_total)
                v[cnt].bytes_done = v[cnt].bytes_total;
            cnt++;
            running = true;
        }
        pthread_mutex_unlock(&e->comp_mu);
        if (running)
            continue;
        st = wc__peek(e, t, &v[cnt], &found);
        if (st == WC_OK && found)
            cnt++;
    }
    pthread_rwlock_unlock(&e->tables_mu);
    if (st == WC_OK && table_id != 0 && !any)
        st = wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    if (st != WC_OK) {
        wc_free(v);
        return st;
    }
    *out = v;
    *n = cnt;
    return WC_OK;
}

wc_status wc_engine_compaction_wait(wc_engine *e, uint32_t table_id, uint32_t timeout_ms)
{
    int64_t deadline = wc__mono_ns() + (int64_t)timeout_ms * 1000000;

    for (;;) {
        bool busy = false, any = false;
        wc_status st = WC_OK;
        struct timespec ts;

        wc__compaction_notify(e);
        pthread_rwlock_rdlock(&e->tables_mu);
        for (size_t i = 0; i < e->ntables && !busy && st == WC_OK; i++) {
            wc__table *t = e->tables[i];
            wc_compaction_info ci;
            bool found = false;

            if (table_id != 0 && t->def.id != table_id)
                continue;
            any = true;
            pthread_mutex_lock(&e->comp_mu);
            busy = t->compacting;
            pthread_mutex_unlock(&e->comp_mu);
            if (!busy && t->copts.enabled && (st = wc__peek(e, t, &ci, &found)) == WC_OK)
                busy = found;
        }
        pthread_rwlock_unlock(&e->tables_mu);
        if (st != WC_OK)
            return st;
        if (table_id != 0 && !any)
            return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
        if (!busy)
            return WC_OK;
        if (wc__mono_ns() >= deadline)
            return wc_error(WC_TIMEOUT, "compactions still pending after %u ms", timeout_ms);
        pthread_mutex_lock(&e->comp_mu);
        wc__deadline_ms(&ts, 10);
        pthread_cond_timedwait(&e->comp_done_cv, &e->comp_mu, &ts);
        pthread_mutex_unlock(&e->comp_mu);
    }
}
