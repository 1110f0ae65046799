/*
 * compaction_job.c - running one compaction task of a claimed table:
 * snapshotting its SSTables with their metadata, marking the inputs,
 * merging them into outputs (with tombstone purging, LCS outputs split at
 * partition boundaries), whole-SSTable expiry, and swapping inputs for
 * outputs under the table's manifest lock and mu.  Readers keep references
 * to inputs, which are unlinked when the last one lets go
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
 * count too).
 *
 * Locking (engine_int.h): the caller holds the table's claim; the snapshot
 * and the input marks are taken under the table's mu, the swap under its
 * manifest_mu then mu; the running job is published under comp_mu.  The
 * merge itself holds no lock and checks for cancellation every
 * WC__CANCEL_CHECK_EVERY steps.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "merge.h"
#include "row.h"

#define WC__CANCEL_CHECK_EVERY 512
#define WC__THROTTLE_CHUNK (64u << 10)

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

void wc__snap_free(wc__snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        wc_sstable_unref(s->ssts[i].t);
    wc_free(s->ssts);
    wc_free(s->metas);
    memset(s, 0, sizeof(*s));
}

wc_status wc__snap_take(wc__table *t, int64_t now, uint32_t gc_grace, wc__snap *s)
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

wc_status wc__output_open(wc_engine *e, wc__table *t, uint64_t *gen, char *path, size_t cap,
                          wc_sstable_writer **w)
{
    wc_sstable_options so;

    wc_sstable_options_default(&so);
    so.block_size = e->opts.block_bytes;
    so.bloom_bits_per_key = e->opts.bloom_bits;
    pthread_mutex_lock(&t->mu);
    *gen = t->next_gen++;
    pthread_mutex_unlock(&t->mu);
    snprintf(path, cap, "%s/%llu.sst", t->dir, (unsigned long long)*gen);
    return wc_sstable_writer_open(e->fs, path, &so, w);
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

        if (++steps % WC__CANCEL_CHECK_EVERY == 0 && wc__compaction_cancelled(e, t)) {
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
        if (w == NULL && (st = wc__output_open(e, t, &gen, path, sizeof(path), &w)) != WC_OK)
            goto fail;
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
    /* a damaged input takes the table offline (scrub.c); nothing is written from it */
    for (size_t i = 0; st == WC_CORRUPTION && m && i < nin; i++)
        if (wc_iter_status(its[i]) == WC_CORRUPTION) {
            st = wc__table_damaged(e, t->def.id, wc_last_error());
            break;
        }
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

/* Replace inputs by outputs in t's list and manifest (contract in engine_int.h). */
wc_status wc__swap(wc_engine *e, wc__table *t, wc__sst *inputs, size_t nin,
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
    wc__publish_table(e, t);
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

void wc__fill_info(wc_compaction_info *ci, uint32_t table_id, wc_compaction_class cls,
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
wc_status wc__compaction_run(wc_engine *e, wc__table *t, bool major, bool *did)
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
