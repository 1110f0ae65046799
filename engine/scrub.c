/*
 * scrub.c - damaged SSTables: offline tables and wc_engine_scrub (contract
 * in engine.h; internals in engine_int.h).
 *
 * Offline tables: with disk_failure_policy best_effort, an SSTable that
 * fails to open (bad footer, index, filter or stats block; missing file) or
 * an unreadable manifest does not fail wc_engine_open.  The file stays
 * listed in the manifest as a damaged entry (t->damaged) so that nothing
 * deletes it, and the table is offline: reads and compactions are refused
 * with WC_CORRUPTION naming the file, while writes are still accepted
 * (commit log, memtable, new SSTables).
 *
 * A damaged SSTable found at run time (a data block that fails its checksum
 * or lies past the end of a truncated file, met by a read or a compaction)
 * takes its table offline the same way (wc__table_damaged).  The file stays
 * in the live list (t->ssts): nothing reads it while the table is offline,
 * and scrub finds it by verifying it.  Under disk_failure_policy stop the
 * engine also refuses every write, of every table, until that table is
 * scrubbed: a node that would not have started with the file stops taking
 * writes when it finds one at run time.
 *
 * Scrub holds the table's compaction claim and its manifest_mu for the
 * whole run, so no flush, compaction or other scrub changes the SSTable list
 * meanwhile; readers keep their references to the old files.  For each
 * damaged file: salvage what verifies into a new SSTable (sstable.h,
 * wc_sstable_salvage), move the damaged file to quarantine/<gen>.sst, and
 * only then write the manifest without it.  A crash before the manifest
 * write leaves the old manifest naming a file that is now in quarantine: the
 * table comes up offline again (missing file) and a new scrub finds nothing
 * more to salvage from it, while the quarantined copy is still there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "engine_int.h"
#include "sstable.h"

#define WC_QUARANTINE_DIR "quarantine"

/* One damaged file being scrubbed. */
typedef struct wc__scrub_job {
    uint64_t gen;
    uint32_t level;
    int64_t created;
    wc_sstable *old;      /* live SSTable that failed verification, or NULL (offline entry) */
    wc_sstable *repl;     /* salvaged copy, or NULL when nothing was readable */
    uint64_t repl_gen;
} wc__scrub_job;

wc_status wc__table_mark_damaged(wc_engine *e, wc__table *t, uint64_t gen, uint32_t level,
                                 int64_t created, const char *why)
{
    if (t->ndamaged == t->capdamaged) {
        size_t cap = t->capdamaged ? t->capdamaged * 2 : 4;
        struct wc__damaged *p = wc_realloc(t->damaged, cap * sizeof(*p));

        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory recording a damaged SSTable");
        t->damaged = p;
        t->capdamaged = cap;
    }
    t->damaged[t->ndamaged++] = (struct wc__damaged){gen, level, created};
    if (!atomic_load(&t->offline))
        snprintf(t->offline_why, sizeof(t->offline_why), "%s", why);
    atomic_store(&t->offline, true);
    wc__engine_log(e, WC_LOG_ERROR, "table %s is offline (reads refused until it is scrubbed): %s",
                   t->def.name, why);
    return WC_OK;
}

typedef struct wc__adopt_ctx {
    wc_engine *e;
    wc__table *t;
    const char *why;
    wc_status st;
} wc__adopt_ctx;

static int wc__adopt_one(void *arg, const char *name)
{
    wc__adopt_ctx *c = arg;
    size_t nl = strlen(name);
    char *end;
    unsigned long long gen;

    if (nl <= 4 || strcmp(name + nl - 4, ".sst") != 0)
        return 0;
    gen = strtoull(name, &end, 10);
    if (end != name + nl - 4)
        return 0;
    if (gen >= c->t->next_gen)
        c->t->next_gen = gen + 1;
    c->st = wc__table_mark_damaged(c->e, c->t, gen, 0, 0, c->why);
    return c->st != WC_OK;
}

wc_status wc__table_adopt_files(wc_engine *e, wc__table *t, const char *why)
{
    char msg[512];
    wc__adopt_ctx c = {e, t, msg, WC_OK};
    wc_status st;

    snprintf(msg, sizeof(msg), "%s", why);
    /* the flushed position is unknown: replay the whole commit log into the table */
    t->flushed = (wc_clpos){0, 0};
    st = e->fs->list(e->fs, t->dir, wc__adopt_one, &c);
    if (st == WC_OK)
        st = c.st;
    if (st == WC_OK && !atomic_load(&t->offline)) {
        /* no SSTable file at all: still offline, the manifest itself is damaged */
        snprintf(t->offline_why, sizeof(t->offline_why), "%s", msg);
        atomic_store(&t->offline, true);
        wc__engine_log(e, WC_LOG_ERROR, "table %s is offline (reads refused until it is scrubbed): %s",
                       t->def.name, msg);
    }
    return st;
}

wc_status wc__offline_error(const wc__table *t)
{
    return wc_error(WC_CORRUPTION,
                    "table %s is offline because of a damaged file: %s; scrub the table to "
                    "rebuild it from what is readable",
                    t->def.name, t->offline_why);
}

wc_status wc__table_damaged(wc_engine *e, uint32_t table_id, const char *why)
{
    char detail[512], msg[1024], name[sizeof(((wc_table_def *)0)->name)];
    wc__table *t;

    snprintf(detail, sizeof(detail), "%s", why);
    pthread_rwlock_rdlock(&e->tables_mu);
    t = wc__engine_find_table(e, table_id);
    if (t == NULL) { /* dropped meanwhile */
        pthread_rwlock_unlock(&e->tables_mu);
        return wc_error(WC_CORRUPTION, "%s", detail);
    }
    pthread_mutex_lock(&t->mu);
    if (!atomic_load(&t->offline)) {
        snprintf(t->offline_why, sizeof(t->offline_why), "%s", detail);
        atomic_store(&t->offline, true);
        wc__publish_table(e, t);
        wc__engine_log(e, WC_LOG_ERROR,
                       "table %s is offline (reads refused until it is scrubbed): %s", t->def.name,
                       detail);
    }
    snprintf(name, sizeof(name), "%s", t->def.name);
    wc__offline_error(t);
    snprintf(msg, sizeof(msg), "%s", wc_last_error());
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&e->tables_mu);

    if (e->opts.disk_failure_policy == WC_DISK_FAILURE_STOP) {
        pthread_mutex_lock(&e->flush_mu);
        if (e->halt_status == WC_OK) {
            e->halt_status = WC_CORRUPTION;
            e->halt_table = table_id;
            snprintf(e->halt_detail, sizeof(e->halt_detail),
                     "writes are stopped (disk_failure_policy stop): table %s has a damaged file: "
                     "%s; scrub the table to resume writes",
                     name, detail);
            wc__engine_log(e, WC_LOG_ERROR, "%s", e->halt_detail);
        }
        pthread_mutex_unlock(&e->flush_mu);
    }
    return wc_error(WC_CORRUPTION, "%s", msg);
}

bool wc__offline_any(wc_engine *e, char *out, size_t n)
{
    bool found = false;

    pthread_rwlock_rdlock(&e->tables_mu);
    for (size_t i = 0; i < e->ntables && !found; i++) {
        wc__table *t = e->tables[i];

        if (t == NULL || !atomic_load(&t->offline))
            continue;
        pthread_mutex_lock(&t->mu);
        snprintf(out, n, "table %s is offline because of a damaged file: %s", t->def.name,
                 t->offline_why);
        pthread_mutex_unlock(&t->mu);
        found = true;
    }
    pthread_rwlock_unlock(&e->tables_mu);
    return found;
}

typedef struct wc__unlink_ctx {
    wc_fs *fs;
    const char *dir;
} wc__unlink_ctx;

static int wc__unlink_in(void *arg, const char *name)
{
    wc__unlink_ctx *c = arg;
    char p[4600];

    snprintf(p, sizeof(p), "%s/%s", c->dir, name);
    c->fs->unlink(c->fs, p);
    return 0;
}

void wc__quarantine_remove(wc_engine *e, const char *tdir)
{
    char p[4400];
    wc__unlink_ctx c = {e->fs, p};

    snprintf(p, sizeof(p), "%s/" WC_QUARANTINE_DIR, tdir);
    e->fs->list(e->fs, p, wc__unlink_in, &c);
    e->fs->rmdir(e->fs, p);
}

void wc__table_remove_damaged(wc_engine *e, wc__table *t)
{
    char p[4400];

    for (size_t i = 0; i < t->ndamaged; i++) {
        snprintf(p, sizeof(p), "%s/%llu.sst", t->dir, (unsigned long long)t->damaged[i].gen);
        e->fs->unlink(e->fs, p);
    }
    wc__quarantine_remove(e, t->dir);
}

/* ---------------------------------------------------------------- scrub */

static wc_status wc__scrub_add(void *arg, const uint8_t *key, size_t klen, const uint8_t *value,
                               size_t vlen)
{
    return wc_sstable_writer_add(arg, key, klen, value, vlen);
}

/* Salvage job j's file at path into a new SSTable of t (j->repl; NULL if nothing readable). */
static wc_status wc__scrub_salvage(wc_engine *e, wc__table *t, wc__scrub_job *j, const char *path,
                                   wc_scrub_result *res)
{
    wc_sstable_options so;
    wc_sstable_writer *w = NULL;
    wc_sstable_salvage_stats ss;
    char np[4400];
    wc_status st;

    pthread_mutex_lock(&t->mu);
    j->repl_gen = t->next_gen++;
    pthread_mutex_unlock(&t->mu);
    snprintf(np, sizeof(np), "%s/%llu.sst", t->dir, (unsigned long long)j->repl_gen);
    wc_sstable_options_default(&so);
    so.block_size = e->opts.block_bytes;
    so.bloom_bits_per_key = e->opts.bloom_bits;
    st = wc_sstable_writer_open(e->fs, np, &so, &w);
    if (st != WC_OK)
        return st;
    st = wc_sstable_salvage(e->fs, path, wc__scrub_add, w, &ss);
    if (st != WC_OK) {
        wc_sstable_writer_abort(w);
        return st;
    }
    res->blocks_lost += ss.blocks_lost;
    res->bytes_lost += ss.bytes_lost;
    res->rows_salvaged += ss.rows;
    wc__engine_log(e, WC_LOG_WARNING,
                   "scrub of table %s: \"%s\": %llu rows salvaged, %llu blocks (%llu bytes) lost%s",
                   t->def.name, path, (unsigned long long)ss.rows,
                   (unsigned long long)ss.blocks_lost, (unsigned long long)ss.bytes_lost,
                   ss.indexed ? "" : " (the file did not open: scanned from its start)");
    if (ss.entries == 0) {
        wc_sstable_writer_abort(w);
        return WC_OK;
    }
    st = wc_sstable_writer_finish(w, NULL);
    if (st == WC_OK)
        st = wc_sstable_open(e->fs, np, e->cache, atomic_fetch_add(&e->next_file_id, 1), &j->repl);
    if (st == WC_OK)
        res->sstables_rewritten++;
    else
        e->fs->unlink(e->fs, np);
    return st;
}

/* Move the damaged file of job j into the quarantine directory. */
static wc_status wc__scrub_quarantine(wc_engine *e, wc__table *t, const wc__scrub_job *j,
                                      const char *path, wc_scrub_result *res)
{
    char qdir[4400], qp[4500];
    size_t used = strlen(res->quarantined);
    wc_status st;

    snprintf(qdir, sizeof(qdir), "%s/" WC_QUARANTINE_DIR, t->dir);
    snprintf(qp, sizeof(qp), "%s/%llu.sst", qdir, (unsigned long long)j->gen);
    st = wc_fs_mkdirs(e->fs, qdir);
    if (st == WC_OK)
        st = e->fs->rename(e->fs, path, qp);
    if (st == WC_NOT_FOUND)
        return WC_OK; /* a missing file: nothing to keep */
    /* the file's new entry is durable once qdir is synced; its removal from
     * the table's directory becomes durable with the manifest written next
     * (a power loss in between leaves it in both: the old manifest still
     * lists it, the table comes up offline and a new scrub starts over) */
    if (st == WC_OK)
        st = e->fs->sync_dir(e->fs, qdir);
    if (st != WC_OK)
        return st;
    wc__engine_log(e, WC_LOG_WARNING, "scrub of table %s: moved damaged \"%s\" to \"%s\"",
                   t->def.name, path, qp);
    snprintf(res->quarantined + used, sizeof(res->quarantined) - used, "%s%s", used ? ", " : "",
             qp);
    return WC_OK;
}

/* Put the outcome of the jobs into t's lists.  REQUIRES: t->mu held. */
static wc_status wc__scrub_swap(wc__table *t, wc__scrub_job *jobs, size_t njobs)
{
    wc_status st = WC_OK;

    for (size_t k = 0; k < njobs; k++) {
        wc__scrub_job *j = &jobs[k];
        size_t i;

        for (i = 0; j->old && i < t->nssts && t->ssts[i].t != j->old; i++)
            ;
        if (j->old && i < t->nssts) {
            wc_sstable_unref(t->ssts[i].t); /* the list's reference; the file is in quarantine */
            if (j->repl) {
                t->ssts[i].t = j->repl;
                t->ssts[i].gen = j->repl_gen;
                j->repl = NULL;
            } else {
                memmove(&t->ssts[i], &t->ssts[i + 1], (t->nssts - i - 1) * sizeof(t->ssts[0]));
                t->nssts--;
            }
        } else if (j->repl) {
            st = wc__ssts_push(t, j->repl, j->repl_gen, j->level, j->created);
            if (st != WC_OK)
                return st;
            j->repl = NULL;
        }
    }
    t->ndamaged = 0;
    t->offline_why[0] = '\0';
    atomic_store(&t->offline, false);
    return WC_OK;
}

wc_status wc_engine_scrub(wc_engine *e, uint32_t table_id, wc_scrub_result *res)
{
    wc__table *t = NULL;
    wc__scrub_job *jobs = NULL;
    wc_sstable **live = NULL;
    size_t nlive = 0, njobs = 0, ndamaged = 0;
    char path[4400];
    wc_status st;

    memset(res, 0, sizeof(*res));
    st = wc_engine_flush(e, table_id, true);
    if (st != WC_OK)
        return st;
    st = wc__claim_wait(e, table_id, &t);
    if (st != WC_OK)
        return st;
    wc__notify_change(e, NULL, 0, table_id, false);
    pthread_mutex_lock(&t->manifest_mu);
    pthread_mutex_lock(&t->mu);
    res->was_offline = atomic_load(&t->offline);
    live = wc_malloc((t->nssts + 1) * sizeof(*live));
    jobs = wc_calloc(t->nssts + t->ndamaged + 1, sizeof(*jobs));
    if (live == NULL || jobs == NULL) {
        pthread_mutex_unlock(&t->mu);
        st = wc_error(WC_NO_MEMORY, "out of memory scrubbing table %u", table_id);
        goto out;
    }
    for (size_t i = 0; i < t->nssts; i++) {
        live[nlive++] = t->ssts[i].t;
        wc_sstable_ref(t->ssts[i].t);
    }
    ndamaged = t->ndamaged;
    for (size_t i = 0; i < t->ndamaged; i++)
        jobs[njobs++] = (wc__scrub_job){.gen = t->damaged[i].gen,
                                        .level = t->damaged[i].level,
                                        .created = t->damaged[i].created};
    pthread_mutex_unlock(&t->mu);

    /* live SSTables that fail verification are damaged too */
    for (size_t i = 0; i < nlive; i++) {
        res->sstables_checked++;
        st = wc_sstable_verify(live[i]);
        if (st == WC_OK) {
            res->rows_kept += wc_sstable_get_stats(live[i])->rows;
            continue;
        }
        if (st != WC_CORRUPTION)
            goto out;
        wc__engine_log(e, WC_LOG_WARNING, "scrub of table %s: %s", t->def.name, wc_last_error());
        pthread_mutex_lock(&t->mu);
        for (size_t k = 0; k < t->nssts; k++)
            if (t->ssts[k].t == live[i])
                jobs[njobs++] = (wc__scrub_job){.gen = t->ssts[k].gen,
                                                .level = t->ssts[k].level,
                                                .created = t->ssts[k].created,
                                                .old = live[i]};
        pthread_mutex_unlock(&t->mu);
    }
    res->sstables_checked += (uint32_t)ndamaged;
    res->sstables_damaged = (uint32_t)njobs;
    st = WC_OK;
    for (size_t k = 0; k < njobs && st == WC_OK; k++) {
        snprintf(path, sizeof(path), "%s/%llu.sst", t->dir, (unsigned long long)jobs[k].gen);
        st = wc__scrub_salvage(e, t, &jobs[k], path, res);
    }
    /* the originals go aside before the manifest forgets them: they are never lost */
    for (size_t k = 0; k < njobs && st == WC_OK; k++) {
        snprintf(path, sizeof(path), "%s/%llu.sst", t->dir, (unsigned long long)jobs[k].gen);
        st = wc__scrub_quarantine(e, t, &jobs[k], path, res);
    }
    if (st != WC_OK)
        goto out;
    pthread_mutex_lock(&t->mu);
    st = wc__scrub_swap(t, jobs, njobs);
    wc__publish_table(e, t);
    pthread_mutex_unlock(&t->mu);
    if (st == WC_OK)
        st = wc__manifest_write(e, t);
    if (st == WC_OK) {
        pthread_mutex_lock(&e->flush_mu);
        if (e->halt_status != WC_OK && e->halt_table == table_id) {
            e->halt_status = WC_OK; /* the damaged file is gone: writes resume */
            e->halt_detail[0] = '\0';
        }
        pthread_mutex_unlock(&e->flush_mu);
        pthread_mutex_lock(&t->mu);
        res->rows_kept = 0;
        for (size_t i = 0; i < t->nssts; i++)
            res->rows_kept += wc_sstable_get_stats(t->ssts[i].t)->rows;
        pthread_mutex_unlock(&t->mu);
        wc__engine_log(e, WC_LOG_INFO,
                       "scrub of table %s: %u SSTables checked, %u damaged, %llu rows kept, %llu "
                       "rows salvaged, %llu blocks lost%s",
                       t->def.name, res->sstables_checked, res->sstables_damaged,
                       (unsigned long long)res->rows_kept, (unsigned long long)res->rows_salvaged,
                       (unsigned long long)res->blocks_lost,
                       res->was_offline ? "; the table is online again" : "");
    }
out:
    for (size_t k = 0; k < njobs; k++)
        if (jobs[k].repl) {
            wc_sstable_mark_obsolete(jobs[k].repl); /* not published: remove it */
            wc_sstable_unref(jobs[k].repl);
        }
    for (size_t i = 0; i < nlive; i++)
        wc_sstable_unref(live[i]);
    wc_free(live);
    wc_free(jobs);
    pthread_mutex_unlock(&t->manifest_mu);
    wc__release_claim(e, t);
    wc__notify_change(e, NULL, 0, table_id, true);
    if (st == WC_OK)
        wc__compaction_notify(e);
    return st;
}
