/*
 * compaction.c - scheduling compactions: the background compaction threads
 * and their rounds over the tables, the per-table claim (one compaction per
 * table at a time), major compaction, wc_engine_set_compaction, and the
 * compaction statistics and listings.
 *
 * What to compact is decided by compaction_strategy.c from per-SSTable
 * metadata; running one chosen task (snapshot, merge, purge, swap) is
 * compaction_job.c, the throughput cap compaction_throttle.c.
 *
 * Locking (engine_int.h): comp_mu guards the threads' state, each table's
 * `compacting` claim, comp_cancel and its running job, and is a leaf.  A
 * compaction runs without tables_mu: drop_table cancels the table's claim
 * (wc__compaction_forget_table) and waits for it to end before freeing the
 * table.
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

void wc__tcounters_unref(wc__tcounters *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        wc_free(c);
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

bool wc__compaction_cancelled(wc_engine *e, wc__table *t)
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
        st = wc__compaction_run(e, t, false, &did);
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

/*
 * Start thread idx (wc__thread_start_nice: signals blocked, at compaction_nice).
 * REQUIRES: comp_mu held, slot free.
 */
static wc_status wc__spawn(wc_engine *e, uint32_t idx)
{
    wc_status st;

    e->comp_args[idx].e = e;
    e->comp_args[idx].idx = idx;
    st = wc__thread_start_nice(&e->comp_threads[idx], wc__comp_main, &e->comp_args[idx],
                               "compaction", e->opts.compaction_nice,
                               e->opts.bulk_yield_us);
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
        st = wc__compaction_run(e, t, true, &did);
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
