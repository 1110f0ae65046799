/*
 * open.c - opening and closing the engine: option defaults, loading the
 * catalog and every table's manifest, removing the files of tables whose
 * drop a crash interrupted, replaying the commit log into memtables,
 * starting the flush and compaction threads; and closing (stopping the
 * threads, freeing the tables).
 *
 * Locking: open runs single-threaded until it starts the flush thread
 * (write_mu is held around replay only for the write path's REQUIRES);
 * close stops the compaction threads, then the flush thread, and may run
 * only once no caller uses the engine.
 */
#include "engine_int.h"
#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mutation.h"
#include "thread.h"

#define WC_DEFAULT_MEMTABLE_TOTAL ((size_t)512 << 20)
#define WC_DEFAULT_WRITE_STALL_MS 2000u
#define WC_DEFAULT_COMPACTION_NICE 10
#define WC_DEFAULT_FLUSH_NICE 5
#define WC_DEFAULT_BULK_YIELD_US 200
#define WC_DEFAULT_COMMITLOG_TOTAL ((size_t)1024 << 20)

void wc_engine_options_default(wc_engine_options *o)
{
    memset(o, 0, sizeof(*o));
    o->sync_mode = WC_SYNC_PERIODIC;
    o->sync_period_ms = 10;
    o->segment_bytes = 32u << 20;
    o->memtable_bytes = 64u << 20;
    o->block_bytes = 8192;
    o->cache_bytes = 64u << 20;
    o->bloom_bits = 10;
    o->compaction_threads = 1;
    o->compaction_nice = WC_DEFAULT_COMPACTION_NICE;
    o->flush_nice = WC_DEFAULT_FLUSH_NICE;
    o->bulk_yield_us = WC_DEFAULT_BULK_YIELD_US;
    o->compaction_throughput_mb_per_sec = 64;
    o->compaction_check_ms = 1000;
    o->memtable_total_bytes = WC_DEFAULT_MEMTABLE_TOTAL;
    o->write_stall_ms = WC_DEFAULT_WRITE_STALL_MS;
    o->commitlog_total_bytes = WC_DEFAULT_COMMITLOG_TOTAL;
}

/*
 * The data directory keeps the partitioner it was created with: a node that
 * changed it would place and order its keys differently.  A directory with a
 * catalog or a commit log but no record predates the record: xxhash.
 */
static wc_status wc__partitioner_check(wc_engine *e)
{
    char path[4200];
    uint8_t *data = NULL;
    size_t len = 0;
    bool exists = false, old = false;
    wc_partitioner stored = WC_PARTITIONER_XXHASH;
    const char *name;
    char line[16];
    wc_status st;

    snprintf(path, sizeof(path), "%s/partitioner", e->dir);
    if ((st = e->fs->exists(e->fs, path, &exists)) != WC_OK)
        return st;
    if (exists) {
        if ((st = wc_fs_read_all(e->fs, path, 64, &data, &len)) != WC_OK)
            return st;
        while (len > 0 && data[len - 1] == '\n')
            len--;
        if (!wc_partitioner_parse((const char *)data, len, &stored)) {
            wc_free(data);
            return wc_error(WC_CORRUPTION, "\"%s\" names no known partitioner", path);
        }
        wc_free(data);
    } else {
        snprintf(path, sizeof(path), "%s/catalog", e->dir);
        if ((st = e->fs->exists(e->fs, path, &old)) != WC_OK)
            return st;
        if (!old) {
            snprintf(path, sizeof(path), "%s/commitlog", e->dir);
            if ((st = e->fs->exists(e->fs, path, &old)) != WC_OK)
                return st;
        }
        stored = old ? WC_PARTITIONER_XXHASH : e->opts.partitioner;
    }
    if (stored != e->opts.partitioner)
        return wc_error(WC_INVALID_ARGUMENT,
                        "the data directory \"%s\" was created with the %s partitioner, which "
                        "cannot change; the node is configured for %s",
                        e->dir, wc_partitioner_name(stored),
                        wc_partitioner_name(e->opts.partitioner));
    if (!exists) {
        name = wc_partitioner_name(stored);
        snprintf(path, sizeof(path), "%s/partitioner", e->dir);
        snprintf(line, sizeof(line), "%s\n", name);
        if ((st = wc_fs_write_atomic(e->fs, path, line, strlen(line))) != WC_OK)
            return st;
    }
    wc_partitioner_set(stored);
    return WC_OK;
}

typedef struct wc__replay_ctx {
    wc_engine *e;
    uint64_t records;
    wc__stage_replay *staged; /* staged transactions waiting for their marker */
} wc__replay_ctx;

wc_status wc__replay_check(const uint8_t *rec, size_t len)
{
    /* full validation: a checksum proves the bytes are intact, not well-formed */
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
    int r = 0;
    wc_status st;

    st = wc_batch_parse(rec, len, &bv);
    while (st == WC_OK && (r = wc_batch_next(&bv, &mut, &ml)) == 1) {
        wc_mutation_view v;
        wc_mutation_entry en;
        int r2 = 0;

        st = wc_mutation_parse(mut, ml, &v);
        while (st == WC_OK && (r2 = wc_mutation_next(&v, &en)) == 1)
            ;
        if (st == WC_OK && r2 < 0)
            st = WC_CORRUPTION;
    }
    if (st == WC_OK && r < 0)
        st = WC_CORRUPTION;
    return st;
}

static wc_status wc__replay_record(void *arg, wc_clpos pos, const uint8_t *rec, size_t len)
{
    wc__replay_ctx *c = arg;
    wc_status st;
    bool handled;

    c->records++;
    /* a staged chunk, publish or abort marker (stage.c) */
    if ((st = wc__stage_replay_record(c->e, &c->staged, pos, rec, len, &handled)) != WC_OK ||
        handled)
        return st;
    st = wc__replay_check(rec, len);
    if (st == WC_OK)
        st = wc__apply_batch_mem(c->e, rec, len, pos, true);
    if (st == WC_CORRUPTION)
        return wc_error(WC_CORRUPTION,
                        "commit-log record at segment %llu offset %llu passes its checksum but "
                        "is not a valid mutation batch",
                        (unsigned long long)pos.segment, (unsigned long long)pos.offset);
    return st;
}

/* Remove directories of tables the catalog no longer lists (a drop interrupted by a crash). */
static int wc__collect_dirs(void *arg, const char *name)
{
    return wc__collect_name(arg, name);
}

static void wc__remove_dropped(wc_engine *e)
{
    wc__cleanup_ctx c = {0};

    e->fs->list(e->fs, e->dir, wc__collect_dirs, &c);
    for (size_t i = 0; i < c.n; i++) {
        const char *name = c.names[i];
        char *endp;
        unsigned long id;

        if (name[0] != 't' || name[1] == '\0')
            continue;
        id = strtoul(name + 1, &endp, 10);
        if (*endp != '\0' || wc__engine_find_table(e, (uint32_t)id))
            continue;
        {
            wc__cleanup_ctx f = {0};
            char dir[4200];
            snprintf(dir, sizeof(dir), "%s/%s", e->dir, name);
            wc__quarantine_remove(e, dir);
            e->fs->list(e->fs, dir, wc__collect_name, &f);
            for (size_t j = 0; j < f.n; j++) {
                char fp[4400];
                snprintf(fp, sizeof(fp), "%s/%s", dir, f.names[j]);
                e->fs->unlink(e->fs, fp);
            }
            wc__free_names(&f);
            e->fs->rmdir(e->fs, dir);
            wc__engine_log(e, WC_LOG_INFO, "removed files of dropped table %lu", id);
        }
    }
    wc__free_names(&c);
}

wc_status wc_engine_open(const wc_engine_options *opts, wc_engine **out)
{
    wc_engine *e;
    wc_commitlog_options co;
    wc_commitlog_stats cs;
    wc__replay_ctx rc;
    char logdir[4200];
    wc_status st;

    if (opts->dir == NULL || strlen(opts->dir) >= sizeof(e->dir) - 64)
        return wc_error(WC_INVALID_ARGUMENT, "engine directory missing or too long");
    e = wc_calloc(1, sizeof(*e));
    if (e == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening the engine");
    e->opts = *opts;
    if (e->opts.sync_period_ms == 0)
        e->opts.sync_period_ms = 10;
    if (e->opts.segment_bytes == 0)
        e->opts.segment_bytes = 32u << 20;
    if (e->opts.memtable_bytes == 0)
        e->opts.memtable_bytes = 64u << 20;
    if (e->opts.block_bytes == 0)
        e->opts.block_bytes = 8192;
    if (e->opts.bloom_bits == 0)
        e->opts.bloom_bits = 10;
    if (e->opts.memtable_total_bytes == 0)
        e->opts.memtable_total_bytes = WC_DEFAULT_MEMTABLE_TOTAL;
    if (e->opts.write_stall_ms == 0)
        e->opts.write_stall_ms = WC_DEFAULT_WRITE_STALL_MS;
    if (e->opts.commitlog_total_bytes == 0)
        e->opts.commitlog_total_bytes = WC_DEFAULT_COMMITLOG_TOTAL;
    snprintf(e->dir, sizeof(e->dir), "%s", opts->dir);
    e->opts.dir = e->dir;
    e->fs = opts->fs ? opts->fs : wc_fs_posix();
    atomic_init(&e->next_file_id, 1);
    atomic_init(&e->next_serial, opts->memtable_serial_base ? opts->memtable_serial_base : 1);
    pthread_mutex_init(&e->ddl_mu, NULL);
    pthread_mutex_init(&e->index_mu, NULL);
    pthread_rwlock_init(&e->tables_mu, NULL);
    pthread_mutex_init(&e->counter_mu, NULL);
    pthread_mutex_init(&e->write_mu, NULL);
    pthread_mutex_init(&e->staged_mu, NULL);
    pthread_mutex_init(&e->flush_mu, NULL);
    wc__cond_init(&e->flush_cv);
    wc__cond_init(&e->flush_done_cv);
    pthread_mutex_init(&e->comp_mu, NULL);
    wc__cond_init(&e->comp_cv);
    wc__cond_init(&e->comp_done_cv);
    pthread_mutex_init(&e->throttle_mu, NULL);
    atomic_init(&e->throughput_mb, e->opts.compaction_throughput_mb_per_sec);
    if (e->opts.compaction_threads > WC_MAX_COMPACTION_THREADS)
        e->opts.compaction_threads = WC_MAX_COMPACTION_THREADS;
    if (e->opts.compaction_check_ms == 0)
        e->opts.compaction_check_ms = 1000;
    wc_buf_init(&e->rec);
    wc_buf_init(&e->key);

    st = wc_fs_mkdirs(e->fs, e->dir);
    if (st != WC_OK)
        goto fail;
    if ((st = wc__partitioner_check(e)) != WC_OK)
        goto fail;
    if (e->opts.cache_bytes > 0 && (st = wc_block_cache_new(e->opts.cache_bytes, &e->cache)) != WC_OK)
        goto fail;
    if ((st = wc__catalog_read(e)) != WC_OK)
        goto fail;
    for (size_t i = 0; i < e->ntables; i++)
        if ((st = wc__table_load(e, e->tables[i])) != WC_OK)
            goto fail;
    wc__remove_dropped(e);
    for (size_t i = 0; i < e->ntables; i++) {
        pthread_mutex_lock(&e->tables[i]->mu);
        wc__publish_table(e, e->tables[i]);
        pthread_mutex_unlock(&e->tables[i]->mu);
    }

    memset(&co, 0, sizeof(co));
    snprintf(logdir, sizeof(logdir), "%s/commitlog", e->dir);
    co.fs = e->fs;
    co.dir = logdir;
    co.mode = e->opts.sync_mode;
    co.period_ms = e->opts.sync_period_ms;
    co.segment_size = e->opts.segment_bytes;
    co.log = e->opts.log;
    co.log_arg = e->opts.log_arg;
    co.ignore_replay_errors = e->opts.commitlog_ignore_replay_errors;
    /* a restored snapshot comes without the log: new segments sort after what manifests name */
    for (size_t i = 0; i < e->ntables; i++)
        if (e->tables[i]->flushed.segment >= co.min_next_id)
            co.min_next_id = e->tables[i]->flushed.segment + 1;
    rc.e = e;
    rc.records = 0;
    rc.staged = NULL;
    pthread_mutex_lock(&e->write_mu);
    st = wc_commitlog_open(&co, wc__replay_record, &rc, &e->log);
    pthread_mutex_unlock(&e->write_mu);
    {
        uint64_t dropped = 0;

        wc__stage_replay_end(&rc.staged, &dropped);
        if (st == WC_OK && dropped)
            wc__engine_log(e, WC_LOG_INFO,
                           "dropped %llu staged transaction(s) that were never published",
                           (unsigned long long)dropped);
    }
    if (st != WC_OK)
        goto fail;
    for (size_t i = 0; i < e->ntables; i++) {
        wc__table *t = e->tables[i];
        if (!t->active_used)
            t->active_start = wc_commitlog_current(e->log);
    }
    if (rc.records)
        wc__engine_log(e, WC_LOG_INFO, "replayed %llu commit-log records",
                       (unsigned long long)rc.records);
    e->log_seg_checked = wc_commitlog_current(e->log).segment;
    if ((st = wc__thread_start_nice(&e->flush_thread, wc__flush_main, e, "flush",
                                    e->opts.flush_nice,
                                    e->opts.bulk_yield_us)) != WC_OK)
        goto fail;
    e->flush_started = true;
    wc_commitlog_get_stats(e->log, &cs);
    if (cs.replay_damaged_segments) {
        wc__engine_log(e, WC_LOG_WARNING,
                       "commit-log replay skipped damage in %llu segments (%llu records known "
                       "lost, %llu bytes); flushing what was replayed to retire them",
                       (unsigned long long)cs.replay_damaged_segments,
                       (unsigned long long)cs.replay_skipped_records,
                       (unsigned long long)cs.replay_skipped_bytes);
        if ((st = wc_engine_flush(e, 0, true)) != WC_OK ||
            (st = wc_commitlog_discard_before(e->log, wc__log_needed_from(e))) != WC_OK)
            goto fail;
    }
    if ((st = wc__compaction_start(e)) != WC_OK)
        goto fail;
    /* secondary indexes: the registry, and indexes a crash left half-built */
    if ((st = wc__index_sync(e)) != WC_OK)
        goto fail;
    *out = e;
    return WC_OK;
fail:
    wc_engine_close(e);
    return st;
}

void wc_engine_close(wc_engine *e)
{
    if (e == NULL)
        return;
    wc__compaction_stop(e);
    pthread_mutex_lock(&e->flush_mu);
    e->stopping = true;
    pthread_cond_broadcast(&e->flush_cv);
    pthread_cond_broadcast(&e->flush_done_cv); /* stalled writers */
    pthread_mutex_unlock(&e->flush_mu);
    if (e->flush_started)
        pthread_join(e->flush_thread, NULL);
    if (e->log)
        wc_commitlog_close(e->log);
    for (size_t i = 0; i < e->ntables; i++)
        wc__table_free(e->tables[i]);
    wc_free(e->tables);
    if (e->cache)
        wc_block_cache_free(e->cache);
    wc_buf_free(&e->rec);
    wc_buf_free(&e->key);
    pthread_mutex_destroy(&e->ddl_mu);
    pthread_mutex_destroy(&e->index_mu);
    wc__index_free(e);
    wc_buf_free(&e->index_rec);
    pthread_rwlock_destroy(&e->tables_mu);
    pthread_mutex_destroy(&e->counter_mu);
    pthread_mutex_destroy(&e->write_mu);
    pthread_mutex_destroy(&e->staged_mu);
    pthread_mutex_destroy(&e->flush_mu);
    pthread_cond_destroy(&e->flush_cv);
    pthread_cond_destroy(&e->flush_done_cv);
    pthread_mutex_destroy(&e->comp_mu);
    pthread_cond_destroy(&e->comp_cv);
    pthread_cond_destroy(&e->comp_done_cv);
    pthread_mutex_destroy(&e->throttle_mu);
    wc_free(e);
}
