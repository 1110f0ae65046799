/*
 * flush.c - turning immutable memtables into SSTables: the flush thread,
 * wc_engine_flush, flushing one table's oldest immutable memtable
 * (wc__flush_one) and publishing it in the manifest, the pins that let a
 * flush run without tables_mu, retiring commit-log segments no table needs,
 * and the background failure that fails writes while a flush keeps failing.
 *
 * Locking (engine_int.h): a flush pins its table (pins, under flush_mu)
 * while holding tables_mu, then runs without it; drop_table waits for the
 * pins to go.  One table's flushes serialize on its manifest_mu, held for
 * the whole SSTable write; its mu is taken only to take and publish
 * references.  flush_mu guards flush_seq, the pins, stopping and the
 * background failures (bg_*, comp_*); nothing is taken while it is held.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "thread.h"

#define WC_FLUSH_RETRY_MS 1000u

/* Position before which no table needs the commit log any more. */
wc_clpos wc__log_needed_from(wc_engine *e)
{
    wc_clpos min;

    pthread_rwlock_rdlock(&e->tables_mu);
    min = wc__log_needed_locked(e);
    pthread_rwlock_unlock(&e->tables_mu);
    return min;
}

/* Flush t's oldest immutable memtable to an SSTable and publish it. */
wc_status wc__flush_one(wc_engine *e, wc__table *t)
{
    wc__imm imm;
    wc_iter *it = NULL;
    wc_sstable_writer *w = NULL;
    wc_sstable *s = NULL;
    wc_sstable_options so;
    uint64_t gen;
    char path[4200];
    wc_status st;

    pthread_mutex_lock(&t->manifest_mu);
    pthread_mutex_lock(&t->mu);
    if (t->nimm == 0 || t->dropped) {
        pthread_mutex_unlock(&t->mu);
        pthread_mutex_unlock(&t->manifest_mu);
        return WC_OK;
    }
    imm = t->imm[0];
    wc_memtable_ref(imm.mem);
    gen = t->next_gen++;
    pthread_mutex_unlock(&t->mu);

    if (wc_memtable_entries(imm.mem) > 0) {
        wc_sstable_options_default(&so);
        so.block_size = e->opts.block_bytes;
        so.bloom_bits_per_key = e->opts.bloom_bits;
        wc__sst_path(t, gen, path, sizeof(path));
        st = wc_sstable_writer_open(e->fs, path, &so, &w);
        if (st != WC_OK)
            goto fail;
        it = wc_memtable_iter(imm.mem);
        if (it == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory flushing an SSTable");
            goto fail;
        }
        for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = wc_iter_key(it, &kl), *v = wc_iter_value(it, &vl);
            st = wc_sstable_writer_add(w, k, kl, v, vl);
            if (st != WC_OK)
                goto fail;
        }
        wc_iter_destroy(it);
        it = NULL;
        st = wc_sstable_writer_finish(w, NULL);
        w = NULL;
        if (st != WC_OK)
            goto fail;
        st = wc_sstable_open(e->fs, path, e->cache, atomic_fetch_add(&e->next_file_id, 1), &s);
        if (st != WC_OK)
            goto fail;
    }
    pthread_mutex_lock(&t->mu);
    if (s) {
        st = wc__ssts_push(t, s, gen, 0, wc__engine_now(e));
        if (st != WC_OK) {
            pthread_mutex_unlock(&t->mu);
            goto fail;
        }
        s = NULL;
    }
    t->flushed = imm.end;
    if (!t->unpublished || wc_clpos_cmp(imm.keep, t->unpublished_start) < 0) {
        t->unpublished = true;
        t->unpublished_start = imm.keep;
    }
    memmove(&t->imm[0], &t->imm[1], (t->nimm - 1) * sizeof(t->imm[0]));
    t->nimm--;
    wc__publish_table(e, t); /* the SSTable with the memtable's serial moving past it */
    pthread_mutex_unlock(&t->mu);
    atomic_fetch_sub(&e->mem_imm, imm.bytes);
    wc_memtable_unref(imm.mem); /* the list's reference */
    st = wc__manifest_write(e, t);
    pthread_mutex_unlock(&t->manifest_mu);
    wc_memtable_unref(imm.mem); /* ours */
    if (st == WC_OK && e->log)
        st = wc_commitlog_discard_before(e->log, wc__log_needed_from(e));
    pthread_mutex_lock(&e->flush_mu);
    e->flushes_done++;
    pthread_cond_broadcast(&e->flush_done_cv);
    pthread_mutex_unlock(&e->flush_mu);
    wc__compaction_notify(e);
    return st;
fail:
    wc_iter_destroy(it);
    if (w)
        wc_sstable_writer_abort(w);
    if (s)
        wc_sstable_unref(s);
    pthread_mutex_unlock(&t->manifest_mu);
    wc_memtable_unref(imm.mem);
    return st;
}

/*
 * Pin the table (table_id 0: any) whose oldest immutable memtable is the
 * oldest in the log, so that it may be flushed without tables_mu; NULL if
 * none waits.  Its id and name are copied to *id and name (for messages:
 * the def may change once tables_mu is released).  REQUIRES: tables_mu.
 */
static wc__table *wc__pin_flush(wc_engine *e, uint32_t table_id, uint32_t *id, char *name,
                                size_t name_size)
{
    wc__table *found = NULL;
    wc_clpos oldest = {0, 0};

    for (size_t i = 0; i < e->ntables; i++) {
        wc__table *t = e->tables[i];

        if (table_id != 0 && t->def.id != table_id)
            continue;
        pthread_mutex_lock(&t->mu);
        if (t->nimm > 0 && (found == NULL || wc_clpos_cmp(t->imm[0].start, oldest) < 0)) {
            found = t;
            oldest = t->imm[0].start;
        }
        pthread_mutex_unlock(&t->mu);
    }
    if (found == NULL)
        return NULL;
    *id = found->def.id;
    snprintf(name, name_size, "%s", found->def.name);
    pthread_mutex_lock(&e->flush_mu);
    found->pins++;
    pthread_mutex_unlock(&e->flush_mu);
    return found;
}

/* Release a pin of wc__pin_flush (drop_table may be waiting for it). */
static void wc__unpin(wc_engine *e, wc__table *t)
{
    pthread_mutex_lock(&e->flush_mu);
    t->pins--;
    pthread_cond_broadcast(&e->flush_done_cv);
    pthread_mutex_unlock(&e->flush_mu);
}

/*
 * Record the outcome of a background flush: a failure fails every write
 * until a flush of that table succeeds (wc__admit_write).  REQUIRES: the
 * table is pinned (id and name are copies).
 */
static void wc__flush_result(wc_engine *e, uint32_t id, const char *name, wc_status st)
{
    char detail[sizeof(e->bg_detail)];
    uint64_t failures = 0;
    int64_t now = wc__mono_ns();
    int level = 0; /* 0: nothing to log, else the level of the line */

    pthread_mutex_lock(&e->flush_mu);
    if (st != WC_OK) {
        bool repeat = e->bg_status != WC_OK && e->bg_table == id;

        snprintf(e->bg_detail, sizeof(e->bg_detail), "background flush of table %s failed: %s",
                 name, wc_last_error());
        e->bg_status = st;
        e->bg_table = id;
        e->bg_failures = repeat ? e->bg_failures + 1 : 1;
        /* the first failure, then one line a minute while the retries fail */
        if (!repeat || now - e->bg_logged_ns >= WC__BG_LOG_INTERVAL_NS) {
            e->bg_logged_ns = now;
            level = WC_LOG_ERROR;
        }
    } else if (e->bg_status != WC_OK && e->bg_table == id) {
        failures = e->bg_failures;
        e->bg_status = WC_OK;
        e->bg_detail[0] = '\0';
        e->bg_failures = 0;
        level = WC_LOG_INFO;
    }
    failures = st != WC_OK ? e->bg_failures : failures;
    memcpy(detail, e->bg_detail, sizeof(detail));
    pthread_mutex_unlock(&e->flush_mu);
    if (level == WC_LOG_ERROR)
        wc__engine_log(e, WC_LOG_ERROR, "background flush of table %s (%u) failed: %s (%s); "
                       "writes fail until a retry succeeds (%llu failed attempts so far)",
                       name, id, wc_status_name(st), detail, (unsigned long long)failures);
    else if (level == WC_LOG_INFO)
        wc__engine_log(e, WC_LOG_INFO, "background flush of table %s (%u) succeeded after %llu "
                       "failed attempts; writes are accepted again",
                       name, id, (unsigned long long)failures);
}

void wc__compaction_result(wc_engine *e, uint32_t table_id, wc_status st, const char *detail)
{
    pthread_mutex_lock(&e->flush_mu);
    if (st != WC_OK) {
        e->comp_status = st;
        e->comp_err_table = table_id;
        snprintf(e->comp_detail, sizeof(e->comp_detail), "compaction of table %u failed: %s",
                 table_id, detail ? detail : "");
    } else if (e->comp_status != WC_OK && e->comp_err_table == table_id) {
        e->comp_status = WC_OK;
        e->comp_detail[0] = '\0';
    }
    pthread_mutex_unlock(&e->flush_mu);
}

void *wc__flush_main(void *arg)
{
    wc_engine *e = arg;

    for (;;) {
        wc__table *t;
        wc_status st;
        uint64_t seq;
        uint32_t id = 0;
        char name[sizeof(t->def.name)];

        pthread_mutex_lock(&e->flush_mu);
        seq = e->flush_seq; /* a switch after this point wakes the wait below */
        if (e->stopping) {
            pthread_mutex_unlock(&e->flush_mu);
            return NULL;
        }
        pthread_mutex_unlock(&e->flush_mu);
        pthread_rwlock_rdlock(&e->tables_mu);
        t = wc__pin_flush(e, 0, &id, name, sizeof(name));
        pthread_rwlock_unlock(&e->tables_mu);
        if (t) {
            st = wc__flush_one(e, t);
            wc__flush_result(e, id, name, st);
            wc__unpin(e, t);
            if (st != WC_OK) {
                struct timespec ts;

                pthread_mutex_lock(&e->flush_mu);
                wc__deadline_ms(&ts, WC_FLUSH_RETRY_MS);
                while (!e->stopping &&
                       pthread_cond_timedwait(&e->flush_cv, &e->flush_mu, &ts) != ETIMEDOUT)
                    ;
                pthread_mutex_unlock(&e->flush_mu);
            }
            continue;
        }
        pthread_mutex_lock(&e->flush_mu);
        /* memtable switches (flush_seq) and close signal flush_cv: no need to poll */
        while (!e->stopping && e->flush_seq == seq)
            pthread_cond_wait(&e->flush_cv, &e->flush_mu);
        pthread_mutex_unlock(&e->flush_mu);
    }
}

wc_status wc_engine_flush(wc_engine *e, uint32_t table_id, bool wait)
{
    wc_status st = WC_OK;
    bool found = false;

    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_rdlock(&e->tables_mu);
    for (size_t i = 0; i < e->ntables && st == WC_OK; i++) {
        wc__table *t = e->tables[i];
        if (table_id != 0 && t->def.id != table_id)
            continue;
        found = true;
        if (t->active_used && wc_memtable_entries(t->active) > 0)
            st = wc__switch_memtable(e, t);
    }
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    if (st != WC_OK)
        return st;
    if (!found && table_id != 0)
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    if (!wait)
        return WC_OK;
    /* do the work in this thread too: flushes of one table serialize on manifest_mu */
    for (;;) {
        wc__table *t;
        uint32_t id = 0;
        char name[sizeof(t->def.name)];

        pthread_rwlock_rdlock(&e->tables_mu);
        t = wc__pin_flush(e, table_id, &id, name, sizeof(name));
        pthread_rwlock_unlock(&e->tables_mu);
        if (t == NULL)
            return WC_OK;
        st = wc__flush_one(e, t);
        if (st == WC_OK)
            wc__flush_result(e, id, name, st); /* a success ends a background failure */
        wc__unpin(e, t);
        if (st != WC_OK)
            return st;
    }
}
