/*
 * write.c - the write path: wc_engine_apply and wc_engine_apply_batch
 * (validate a batch, append it to the commit log, apply it to the active
 * memtables), memtable switches, the memtable memory and commit-log space
 * bounds, write stalls, and the engine-wide statistics they feed.
 *
 * Locking (engine_int.h): writers are serialized by write_mu, taken before
 * tables_mu (read); a memtable switch takes the table's mu to move the
 * active memtable to its immutable list and flush_mu to wake the flush
 * thread.  wc__admit_write takes flush_mu alone, before write_mu, and is
 * where writers stall (flush_done_cv) or fail with the background flush
 * failure.  No file I/O under write_mu but the commit-log append (and the
 * synchronous flushes of replay, while open runs single-threaded).
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"
#include "counter.h"
#include "index.h"
#include "keys.h"
#include "mutation.h"
#include "thread.h"

static wc_status wc__enforce_limits(wc_engine *e, bool *switched);

/* Count t's active memtable growth in e->mem_active.  REQUIRES: write_mu. */
static void wc__account_active(wc_engine *e, wc__table *t)
{
    size_t now = wc_memtable_memory(t->active);

    if (now > t->active_acct) {
        atomic_fetch_add(&e->mem_active, now - t->active_acct);
        t->active_acct = now;
    }
}

wc_status wc__put_mutation(wc_memtable *m, wc_buf *key, const uint8_t *mut, size_t len,
                           uint64_t seq)
{
    wc_mutation_view v;
    wc_mutation_entry en;
    int64_t token;
    int r;
    wc_status st;

    st = wc_mutation_parse(mut, len, &v);
    if (st != WC_OK)
        return st;
    token = wc_token(v.pk, v.pk_len);
    /* validated once already: by wc__validate_batch before the log, or on replay */
    while ((r = wc_mutation_next_unchecked(&v, &en)) == 1) {
        wc_buf_reset(key);
        wc_key_build(key, token, v.pk, v.pk_len, en.kind, en.ck, en.ck_len);
        if ((st = wc_buf_status(key)) != WC_OK)
            return st;
        st = wc_memtable_put_validated(m, key->data, key->len, en.blob, en.blob_len, seq);
        if (st != WC_OK)
            return st;
    }
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed mutation entry");
    return WC_OK;
}

/* Apply one encoded mutation to its table's active memtable at sequence seq. REQUIRES: write_mu. */
static wc_status wc__apply_mutation(wc_engine *e, wc__table *t, const uint8_t *mut, size_t len,
                                    uint64_t seq)
{
    wc_status st = wc__put_mutation(t->active, &e->key, mut, len, seq);

    wc__account_active(e, t);
    return st;
}

wc_status wc__validate_batch(wc_engine *e, const uint8_t *rec, size_t len, bool *deltas)
{
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
    uint8_t flags = 0;
    int r;
    wc_status st;

    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        return wc_error(WC_INVALID_ARGUMENT, "malformed mutation batch");
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        wc_mutation_view v;
        wc_mutation_entry en;
        int r2;

        if (wc_mutation_parse(mut, ml, &v) != WC_OK)
            return wc_error(WC_INVALID_ARGUMENT, "malformed mutation");
        if (wc__engine_find_table(e, v.table_id) == NULL)
            return wc_error(WC_NOT_FOUND, "table %u does not exist", v.table_id);
        /* one walk over each row's cells checks them and collects their flags */
        while ((r2 = wc_mutation_next_unchecked(&v, &en)) == 1) {
            uint8_t f;

            if (en.kind == WC_KIND_HEADER ? !wc_header_validate(en.blob, en.blob_len)
                                          : !wc_row_validate_flags(en.blob, en.blob_len, &f)) {
                r2 = -1;
                break;
            }
            if (en.kind != WC_KIND_HEADER)
                flags |= f;
        }
        if (r2 < 0)
            return wc_error(WC_INVALID_ARGUMENT, "malformed entry in a mutation of table %u",
                            v.table_id);
    }
    if (deltas != NULL)
        *deltas = (flags & WC_CELLF_COUNTER_DELTA) != 0;
    if (r < 0)
        return wc_error(WC_INVALID_ARGUMENT, "malformed mutation batch");
    return WC_OK;
}

wc_status wc__imm_reserve(wc__table *t, size_t n)
{
    size_t cap = t->capimm ? t->capimm : 4;
    wc__imm *p;

    if (t->nimm + n <= t->capimm)
        return WC_OK;
    while (cap < t->nimm + n)
        cap *= 2;
    p = wc_realloc(t->imm, cap * sizeof(*p));
    if (p == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory switching memtables");
    t->imm = p;
    t->capimm = cap;
    return WC_OK;
}

size_t wc__imm_push_active(wc__table *t, wc_memtable *fresh, wc_clpos end, uint64_t serial)
{
    size_t moved = t->active_acct;

    t->imm[t->nimm].serial = t->active_serial;
    t->active_serial = serial;
    t->imm[t->nimm].mem = t->active;
    t->imm[t->nimm].start = t->active_start;
    t->imm[t->nimm].end = end;
    t->imm[t->nimm].keep = t->active_start;
    t->imm[t->nimm].bytes = moved;
    t->nimm++;
    t->active = fresh;
    t->active_start = end;
    t->active_used = false;
    t->active_acct = 0;
    return moved;
}

void wc__imm_accounted(wc_engine *e, size_t moved, size_t added)
{
    atomic_fetch_add(&e->mem_imm, moved + added);
    atomic_fetch_sub(&e->mem_active, moved);
    pthread_mutex_lock(&e->flush_mu);
    e->flush_seq++;
    pthread_cond_broadcast(&e->flush_cv);
    pthread_mutex_unlock(&e->flush_mu);
}

/* Switch t's active memtable for a new one. REQUIRES: write_mu. */
wc_status wc__switch_memtable(wc_engine *e, wc__table *t)
{
    wc_memtable *fresh;
    wc_clpos now = e->log ? wc_commitlog_current(e->log) : (wc_clpos){0, 0};
    size_t moved;
    wc_status st;

    st = wc_memtable_new(&fresh);
    if (st != WC_OK)
        return st;
    pthread_mutex_lock(&t->mu);
    if ((st = wc__imm_reserve(t, 1)) != WC_OK) {
        pthread_mutex_unlock(&t->mu);
        wc_memtable_unref(fresh);
        return st;
    }
    moved = wc__imm_push_active(t, fresh, now, wc__next_serial(e));
    pthread_mutex_unlock(&t->mu);
    wc__imm_accounted(e, moved, 0);
    return WC_OK;
}

void wc__notify_change(wc_engine *e, const uint8_t *rec, size_t len, uint32_t table_id, bool done)
{
    wc_batch_view bv;
    wc_mutation_view v;
    const uint8_t *mut;
    size_t ml;

    if (e->opts.change_hook == NULL)
        return;
    if (rec == NULL) {
        e->opts.change_hook(e->opts.change_hook_arg, table_id, NULL, 0, done);
        return;
    }
    /* the same walk for begin and end: every partition told once each time */
    if (wc_batch_parse(rec, len, &bv) != WC_OK)
        return;
    while (wc_batch_next(&bv, &mut, &ml) == 1)
        if (wc_mutation_parse(mut, ml, &v) == WC_OK)
            e->opts.change_hook(e->opts.change_hook_arg, v.table_id, v.pk, v.pk_len, done);
}

/* Apply a validated batch to memtables, switching full ones. REQUIRES: write_mu, tables_mu. */
wc_status wc__apply_batch_mem(wc_engine *e, const uint8_t *rec, size_t len, wc_clpos pos,
                                     bool replay)
{
    bool switched;
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
    int r;
    wc_status st;
    uint64_t seq = e->write_seq + 1;

    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        return st;
    e->write_seq = seq;
    wc__notify_change(e, rec, len, 0, false);
    while ((r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        uint32_t id;
        wc__table *t;

        if (ml < 4)
            return wc_error(WC_CORRUPTION, "malformed mutation in batch");
        id = wc_dec_u32(mut);
        t = wc__engine_find_table(e, id);
        if (t == NULL)
            continue; /* replay of a dropped table */
        if (replay && wc_clpos_cmp(pos, t->flushed) < 0)
            continue; /* already in an SSTable */
        if (!t->active_used) {
            /*
             * The table's first write since its memtables were all flushed
             * (wc__publish_table published WC_FLUSHED_ALL: every stripe read
             * directly).  The memtable takes the newest serial, published
             * before its stripes are raised, so that the stripes other
             * tables raised before now do not send this table's reads to
             * the node.
             */
            pthread_mutex_lock(&t->mu);
            t->active_used = true;
            t->active_serial = wc__next_serial(e);
            if (replay)
                t->active_start = pos;
            wc__publish_table(e, t);
            pthread_mutex_unlock(&t->mu);
        }
        if (e->opts.resident_hook != NULL) {
            wc_mutation_view mv;
            wc_mutation_entry en;

            /* before the memtable holds it: a direct reader reads the node from now on */
            if (wc_mutation_parse(mut, ml, &mv) == WC_OK)
                while (wc_mutation_next_unchecked(&mv, &en) == 1)
                    e->opts.resident_hook(e->opts.direct_hook_arg, id, mv.pk, mv.pk_len,
                                          en.kind == WC_KIND_ROW, en.ck, en.ck_len,
                                          t->active_serial);
        }
        st = wc__apply_mutation(e, t, mut, ml, seq);
        if (st != WC_OK)
            break;
    }
    /*
     * The whole record is in the memtables: readers see it from now on, all
     * of it at once.  Published before any switch below, so an SSTable never
     * holds a record that readers of the memtable do not see yet.  A record
     * that failed half-way is published as well (its commit-log record is
     * written and comes back whole at the next replay).
     */
    atomic_store_explicit(&e->visible_seq, seq, memory_order_release);
    wc__notify_change(e, rec, len, 0, true);
    if (st != WC_OK)
        return st;
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed mutation batch");
    /*
     * Switch full memtables only now that the whole batch is in them: a switch
     * between two mutations of one table would end the memtable past this
     * record, whose flush then counts the record as flushed while the rest
     * of it waits in the next memtable (lost at a crash).
     */
    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        return st;
    while (wc_batch_next(&bv, &mut, &ml) == 1) {
        wc__table *t = wc__engine_find_table(e, wc_dec_u32(mut)); /* ml >= 4: checked above */

        if (t == NULL || wc_memtable_memory(t->active) < e->opts.memtable_bytes)
            continue;
        st = wc__switch_memtable(e, t);
        if (st == WC_OK && replay) {
            /* flush synchronously during recovery: nothing else runs yet */
            t->imm[t->nimm - 1].end = (wc_clpos){pos.segment, pos.offset + 1};
            t->active_start = t->imm[t->nimm - 1].end;
            st = wc__flush_one(e, t);
        }
        if (st != WC_OK)
            return st;
    }
    if (!replay && wc__enforce_limits(e, &switched) != WC_OK) /* applied: only report it */
        wc__engine_log(e, WC_LOG_WARNING, "could not switch a memtable to keep memory bounded: %s",
                       wc_last_error());
    return WC_OK;
}

/* Oldest commit-log position some table still needs.  REQUIRES: tables_mu. */
wc_clpos wc__log_needed_locked(wc_engine *e)
{
    wc_clpos min = wc_commitlog_current(e->log);

    for (size_t i = 0; i < e->ntables; i++) {
        wc__table *t = e->tables[i];
        pthread_mutex_lock(&t->mu);
        /* keep: the start, or the first chunk of a published staged transaction */
        for (size_t j = 0; j < t->nimm; j++)
            if (wc_clpos_cmp(t->imm[j].keep, min) < 0)
                min = t->imm[j].keep;
        /* (after a publish an active memtable may start before an immutable one) */
        if (t->active_used && wc_clpos_cmp(t->active_start, min) < 0)
            min = t->active_start;
        if (t->unpublished && wc_clpos_cmp(t->unpublished_start, min) < 0)
            min = t->unpublished_start;
        pthread_mutex_unlock(&t->mu);
    }
    return wc__staged_needed(e, min);
}

/*
 * Keep memtable memory and commit-log space bounded (engine_int.h): switch
 * the largest active memtable past half of memtable_total_bytes, and, when a
 * new segment starts with the log over commitlog_total_bytes, the active
 * memtables that hold records of the oldest needed segment.  REQUIRES:
 * write_mu, tables_mu (read).
 */
static wc_status wc__enforce_limits(wc_engine *e, bool *switched)
{
    wc_clpos cur = wc_commitlog_current(e->log);
    wc_status st = WC_OK;

    *switched = false;
    if (atomic_load(&e->mem_active) > e->opts.memtable_total_bytes / 2) {
        wc__table *big = NULL;

        for (size_t i = 0; i < e->ntables; i++)
            if (e->tables[i]->active_acct > 0 &&
                (big == NULL || e->tables[i]->active_acct > big->active_acct))
                big = e->tables[i];
        if (big != NULL && (st = wc__switch_memtable(e, big)) == WC_OK)
            *switched = true;
    }
    if (st == WC_OK && cur.segment != e->log_seg_checked) {
        wc_commitlog_stats cs;

        e->log_seg_checked = cur.segment;
        wc_commitlog_get_stats(e->log, &cs);
        if (cs.segments * (uint64_t)e->opts.segment_bytes > e->opts.commitlog_total_bytes) {
            wc_clpos oldest = wc__log_needed_locked(e);
            size_t n = 0;

            for (size_t i = 0; i < e->ntables && st == WC_OK; i++) {
                wc__table *t = e->tables[i];
                if (t->active_used && t->active_start.segment <= oldest.segment) {
                    st = wc__switch_memtable(e, t);
                    n++;
                }
            }
            if (n > 0)
                wc__engine_log(e, WC_LOG_INFO,
                               "commit log holds %llu segments, over the %llu MiB allowed: "
                               "flushing %zu table(s) that keep segment %llu",
                               (unsigned long long)cs.segments,
                               (unsigned long long)(e->opts.commitlog_total_bytes >> 20), n,
                               (unsigned long long)oldest.segment);
        }
    }
    return st;
}

/*
 * May a write start?  Fails with the background flush failure while one
 * lasts, and with the write halt of disk_failure_policy stop (scrub.c); while memtables hold more than memtable_total_bytes, waits for
 * flushes up to write_stall_ms, then fails with WC_OVERLOADED.  Takes
 * flush_mu only (called before write_mu).
 */
wc_status wc__admit_write(wc_engine *e)
{
    struct timespec deadline;
    bool waited = false;
    wc_status st = WC_OK;

    pthread_mutex_lock(&e->flush_mu);
    for (;;) {
        uint64_t used = atomic_load(&e->mem_active) + atomic_load(&e->mem_imm);

        if (e->bg_status != WC_OK) {
            st = wc_error(e->bg_status, "%s", e->bg_detail);
            break;
        }
        if (e->halt_status != WC_OK) {
            st = wc_error(e->halt_status, "%s", e->halt_detail);
            break;
        }
        if (used <= e->opts.memtable_total_bytes || e->stopping)
            break;
        if (atomic_load(&e->mem_active) > e->opts.memtable_total_bytes / 2) {
            /* active memtables (one huge batch, replay) hold it: switch them for flushing */
            bool switched = false;

            pthread_mutex_unlock(&e->flush_mu);
            pthread_mutex_lock(&e->write_mu);
            pthread_rwlock_rdlock(&e->tables_mu);
            (void)wc__enforce_limits(e, &switched);
            pthread_rwlock_unlock(&e->tables_mu);
            pthread_mutex_unlock(&e->write_mu);
            pthread_mutex_lock(&e->flush_mu);
            if (switched)
                continue;
        }
        if (!waited) {
            waited = true;
            e->writes_stalled++;
            wc__deadline_ms(&deadline, e->opts.write_stall_ms);
            pthread_cond_broadcast(&e->flush_cv);
        }
        if (pthread_cond_timedwait(&e->flush_done_cv, &e->flush_mu, &deadline) == ETIMEDOUT &&
            (used = atomic_load(&e->mem_active) + atomic_load(&e->mem_imm)) >
                e->opts.memtable_total_bytes &&
            e->bg_status == WC_OK) {
            e->writes_refused++;
            st = wc_error(WC_OVERLOADED,
                          "memtables hold %llu MiB, more than the %llu MiB allowed "
                          "(memtable_total_space), and flushes did not catch up within %u ms",
                          (unsigned long long)(used >> 20),
                          (unsigned long long)(e->opts.memtable_total_bytes >> 20),
                          e->opts.write_stall_ms);
            break;
        }
    }
    pthread_mutex_unlock(&e->flush_mu);
    return st;
}

/* need NULL: wait for the fsync the mode promises; else leave it to the caller (engine.h) */
static wc_status wc__apply_record_pos(wc_engine *e, const uint8_t *rec, size_t len, wc_clpos *need)
{
    wc_clpos pos;
    bool augmented = false;
    wc_status st;

    if ((st = wc__admit_write(e)) != WC_OK)
        return st;
    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_rdlock(&e->tables_mu);
    /* secondary index entries go into the same record (index.h) */
    st = wc__index_augment(e, rec, len, &e->index_rec, &augmented);
    if (st == WC_OK && augmented) {
        rec = e->index_rec.data;
        len = e->index_rec.len;
    }
    if (st == WC_OK)
        st = wc__validate_batch(e, rec, len, NULL);
    if (st == WC_OK)
        st = wc_commitlog_append(e->log, rec, len, &pos);
    if (st == WC_OK)
        st = wc__apply_batch_mem(e, rec, len, pos, false);
    if (augmented)
        wc_buf_reset(&e->index_rec);
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    if (st != WC_OK)
        return st;
    if (need == NULL)
        return wc_commitlog_sync_to(e->log, pos);
    if (wc_commitlog_mode(e->log) == WC_SYNC_BATCH)
        *need = pos;
    return WC_OK;
}

wc_status wc__apply_record(wc_engine *e, const uint8_t *rec, size_t len)
{
    return wc__apply_record_pos(e, rec, len, NULL);
}

wc_status wc_engine_apply_batch(wc_engine *e, const uint8_t *rec, size_t len)
{
    if (wc_counter_batch_has_delta(rec, len))
        return wc__counter_apply(e, rec, len, NULL);
    return wc__apply_record(e, rec, len);
}

wc_status wc_engine_apply_batch_unsynced(wc_engine *e, const uint8_t *rec, size_t len,
                                         wc_clpos *need)
{
    *need = (wc_clpos){0, 0};
    if (wc_counter_batch_has_delta(rec, len))
        return wc__counter_apply(e, rec, len, NULL);
    return wc__apply_record_pos(e, rec, len, need);
}

wc_status wc_engine_sync_to(wc_engine *e, wc_clpos pos)
{
    return wc_commitlog_sync_to(e->log, pos);
}

wc_status wc_engine_batch_commitlog_dir(wc_engine *e, char *out, size_t n)
{
    const char *dir = wc_commitlog_dir(e->log);
    size_t len = strlen(dir);

    if (n == 0)
        return wc_error(WC_INVALID_ARGUMENT, "no room for the commit log directory");
    out[0] = '\0';
    if (wc_commitlog_mode(e->log) != WC_SYNC_BATCH)
        return WC_OK;
    if (len >= n)
        return wc_error(WC_INVALID_ARGUMENT, "commit log directory too long: \"%s\"", dir);
    memcpy(out, dir, len + 1);
    return WC_OK;
}

wc_status wc_engine_sync(wc_engine *e)
{
    return wc_commitlog_sync_all(e->log);
}

wc_status wc_engine_apply(wc_engine *e, wc_mutation *const *muts, size_t n)
{
    wc_buf rec;
    wc_status st = WC_OK;

    wc_buf_init(&rec);
    /* one allocation for the record: the encoded size is known up front */
    {
        size_t total = 16;
        for (size_t i = 0; i < n; i++)
            total += muts[i]->buf.len + muts[i]->entries.len + 24;
        wc_buf_reserve(&rec, total);
    }
    wc_batch_begin(&rec, (uint32_t)n);
    for (size_t i = 0; i < n && st == WC_OK; i++) {
        const uint8_t *p;
        size_t len;
        st = wc_mutation_encode(muts[i], &p, &len);
        if (st == WC_OK)
            wc_batch_add(&rec, p, len);
    }
    if (st == WC_OK)
        st = wc_buf_status(&rec);
    if (st == WC_OK)
        st = wc_engine_apply_batch(e, rec.data, rec.len);
    wc_buf_free(&rec);
    return st;
}

void wc_engine_get_stats(wc_engine *e, wc_engine_stats *out)
{
    wc_commitlog_stats cs;
    char offline[512];
    bool has_offline = wc__offline_any(e, offline, sizeof(offline));

    memset(out, 0, sizeof(*out));
    out->memtable_flushing_bytes = atomic_load(&e->mem_imm);
    out->memtable_bytes = atomic_load(&e->mem_active) + out->memtable_flushing_bytes;
    out->memtable_limit_bytes = e->opts.memtable_total_bytes;
    wc_commitlog_get_stats(e->log, &cs);
    out->commitlog_bytes = cs.segments * (uint64_t)e->opts.segment_bytes;
    out->commitlog_limit_bytes = e->opts.commitlog_total_bytes;
    pthread_mutex_lock(&e->flush_mu);
    out->writes_stalled = e->writes_stalled;
    out->writes_refused = e->writes_refused;
    if (e->halt_status != WC_OK) {
        out->background_status = e->halt_status;
        snprintf(out->background_error, sizeof(out->background_error), "%.511s", e->halt_detail);
    } else if (e->bg_status != WC_OK) {
        out->background_status = e->bg_status;
        snprintf(out->background_error, sizeof(out->background_error), "%s", e->bg_detail);
    } else if (has_offline) {
        out->background_status = WC_CORRUPTION;
        snprintf(out->background_error, sizeof(out->background_error), "%s", offline);
    } else if (e->comp_status != WC_OK) {
        out->background_status = e->comp_status;
        snprintf(out->background_error, sizeof(out->background_error), "%s", e->comp_detail);
    }
    pthread_mutex_unlock(&e->flush_mu);
}
