/*
 * manifest.c - a table's manifest and SSTable list: encoding and writing the
 * manifest (the live SSTables with their level and creation time, the
 * flushed commit-log position, the next generation), loading it when the
 * engine opens (opening each SSTable, removing files a crash left behind),
 * and the in-memory list of a table's SSTables.
 *
 * Locking (engine_int.h): a manifest is written under its table's
 * manifest_mu, which also serializes swaps of the SSTable list; the list
 * itself is read and changed under the table's mu.  Loading runs while the
 * engine opens, single-threaded.  The layout is in docs/file-formats.md.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define WC_MANIFEST_MAGIC 0x464d4357u /* "WCMF" */
#define WC_MANIFEST_VERSION 2u /* 2: level and creation time per SSTable */

/* REQUIRES: t->manifest_mu held.  Snapshot of the SSTable list under t->mu. */
wc_status wc__manifest_write(wc_engine *e, wc__table *t)
{
    wc_buf b;
    char path[4200];
    wc_status st;

    wc_buf_init(&b);
    pthread_mutex_lock(&t->mu);
    wc_buf_put_u32(&b, WC_MANIFEST_MAGIC);
    wc_buf_put_u32(&b, WC_MANIFEST_VERSION);
    wc_buf_put_u64(&b, t->flushed.segment);
    wc_buf_put_u64(&b, t->flushed.offset);
    wc_buf_put_u64(&b, t->next_gen);
    wc_buf_put_u32(&b, (uint32_t)(t->nssts + t->ndamaged));
    for (size_t i = 0; i < t->nssts; i++) {
        wc_buf_put_u64(&b, t->ssts[i].gen);
        wc_buf_put_u32(&b, t->ssts[i].level);
        wc_buf_put_u64(&b, (uint64_t)t->ssts[i].created);
    }
    for (size_t i = 0; i < t->ndamaged; i++) { /* kept listed until a scrub */
        wc_buf_put_u64(&b, t->damaged[i].gen);
        wc_buf_put_u32(&b, t->damaged[i].level);
        wc_buf_put_u64(&b, (uint64_t)t->damaged[i].created);
    }
    pthread_mutex_unlock(&t->mu);
    wc_buf_put_u64(&b, XXH64(b.data, b.len, 0));
    st = wc_buf_status(&b);
    if (st == WC_OK) {
        snprintf(path, sizeof(path), "%s/manifest", t->dir);
        st = wc_fs_write_atomic(e->fs, path, b.data, b.len);
    }
    wc_buf_free(&b);
    if (st == WC_OK) {
        pthread_mutex_lock(&t->mu);
        t->unpublished = false;
        pthread_mutex_unlock(&t->mu);
    }
    return st;
}

void wc__sst_path(const wc__table *t, uint64_t gen, char *out, size_t n)
{
    snprintf(out, n, "%s/%llu.sst", t->dir, (unsigned long long)gen);
}

wc_status wc__ssts_push(wc__table *t, wc_sstable *s, uint64_t gen, uint32_t level,
                        int64_t created)
{
    if (t->nssts == t->capssts) {
        size_t cap = t->capssts ? t->capssts * 2 : 8;
        wc__sst *p = wc_realloc(t->ssts, cap * sizeof(*p));
        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory adding an SSTable");
        t->ssts = p;
        t->capssts = cap;
    }
    memset(&t->ssts[t->nssts], 0, sizeof(t->ssts[0]));
    t->ssts[t->nssts].t = s;
    t->ssts[t->nssts].gen = gen;
    t->ssts[t->nssts].level = level;
    t->ssts[t->nssts].created = created;
    t->nssts++;
    return WC_OK;
}

int wc__collect_name(void *arg, const char *name)
{
    wc__cleanup_ctx *c = arg;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **p = wc_realloc(c->names, cap * sizeof(*p));
        if (p == NULL) {
            c->oom = true;
            return 1;
        }
        c->names = p;
        c->cap = cap;
    }
    c->names[c->n] = wc_strdup(name);
    if (c->names[c->n] == NULL) {
        c->oom = true;
        return 1;
    }
    c->n++;
    return 0;
}

void wc__free_names(wc__cleanup_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        wc_free(c->names[i]);
    wc_free(c->names);
}

wc_status wc__gen_after_files(wc_engine *e, wc__table *t)
{
    wc__cleanup_ctx c = {.e = e, .t = t};
    wc_status st;

    st = e->fs->list(e->fs, t->dir, wc__collect_name, &c);
    if (st == WC_OK && c.oom)
        st = wc_error(WC_NO_MEMORY, "out of memory listing \"%s\"", t->dir);
    for (size_t i = 0; st == WC_OK && i < c.n; i++) {
        char *endp;
        unsigned long long gen = strtoull(c.names[i], &endp, 10);

        /* <gen>.sst and its temporaries */
        if (endp != c.names[i] && strncmp(endp, ".sst", 4) == 0 && gen >= t->next_gen)
            t->next_gen = gen + 1;
    }
    wc__free_names(&c);
    return st;
}

/* Load a table's manifest, open its SSTables, remove files a crash left behind. */
wc_status wc__table_load(wc_engine *e, wc__table *t)
{
    char path[4200];
    uint8_t *data = NULL;
    size_t len;
    const uint8_t *p, *end;
    uint32_t magic, version, n;
    bool exists;
    wc__cleanup_ctx c = {.e = e, .t = t};
    wc_status st;

    st = wc_fs_mkdirs(e->fs, t->dir);
    if (st != WC_OK)
        return st;
    snprintf(path, sizeof(path), "%s/manifest", t->dir);
    st = e->fs->exists(e->fs, path, &exists);
    if (st != WC_OK)
        return st;
    if (exists) {
        st = wc_fs_read_all(e->fs, path, WC_META_MAX_BYTES, &data, &len);
        if (st != WC_OK)
            return st;
        if (len < 44 || XXH64(data, len - 8, 0) != wc_dec_u64(data + len - 8)) {
            st = wc_error(WC_CORRUPTION, "manifest \"%s\" fails its checksum", path);
            if (e->opts.disk_failure_policy == WC_DISK_FAILURE_BEST_EFFORT)
                st = wc__table_adopt_files(e, t, wc_last_error());
            goto done;
        }
        p = data;
        end = data + len - 8;
        if (!wc_get_u32(&p, end, &magic) || magic != WC_MANIFEST_MAGIC ||
            !wc_get_u32(&p, end, &version) || version != WC_MANIFEST_VERSION ||
            !wc_get_u64(&p, end, &t->flushed.segment) ||
            !wc_get_u64(&p, end, &t->flushed.offset) || !wc_get_u64(&p, end, &t->next_gen) ||
            !wc_get_u32(&p, end, &n) || (uint64_t)n * 20 != (uint64_t)(end - p)) {
            st = wc_error(WC_CORRUPTION, "manifest \"%s\" is malformed", path);
            goto done;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t gen, created;
            uint32_t level;
            wc_sstable *s;
            char sp[4200];

            wc_get_u64(&p, end, &gen);
            wc_get_u32(&p, end, &level);
            wc_get_u64(&p, end, &created);
            if (level > WC_LCS_MAX_LEVEL || gen >= t->next_gen) {
                st = wc_error(WC_CORRUPTION, "manifest \"%s\": bad entry %u", path, i);
                goto done;
            }
            wc__sst_path(t, gen, sp, sizeof(sp));
            st = wc_sstable_open(e->fs, sp, e->cache, atomic_fetch_add(&e->next_file_id, 1), &s);
            if ((st == WC_CORRUPTION || st == WC_NOT_FOUND) &&
                e->opts.disk_failure_policy == WC_DISK_FAILURE_BEST_EFFORT) {
                st = wc__table_mark_damaged(e, t, gen, level, (int64_t)created, wc_last_error());
                if (st != WC_OK)
                    goto done;
                continue;
            }
            if (st != WC_OK)
                goto done;
            st = wc__ssts_push(t, s, gen, level, (int64_t)created);
            if (st != WC_OK) {
                wc_sstable_unref(s);
                goto done;
            }
        }
    }
    /* remove temporaries and SSTables the manifest does not list */
    st = e->fs->list(e->fs, t->dir, wc__collect_name, &c);
    if (st == WC_OK && c.oom)
        st = wc_error(WC_NO_MEMORY, "out of memory listing \"%s\"", t->dir);
    for (size_t i = 0; st == WC_OK && i < c.n; i++) {
        const char *name = c.names[i];
        size_t nl = strlen(name);
        bool keep = strcmp(name, "manifest") == 0 || strcmp(name, "quarantine") == 0;
        char fp[4200];

        if (!keep && nl > 4 && strcmp(name + nl - 4, ".sst") == 0) {
            unsigned long long gen = strtoull(name, NULL, 10);
            for (size_t j = 0; j < t->nssts; j++)
                if (t->ssts[j].gen == gen)
                    keep = true;
            for (size_t j = 0; j < t->ndamaged; j++)
                if (t->damaged[j].gen == gen)
                    keep = true;
        }
        if (keep)
            continue;
        snprintf(fp, sizeof(fp), "%s/%s", t->dir, name);
        wc__engine_log(e, WC_LOG_INFO, "removing leftover file \"%s\"", fp);
        e->fs->unlink(e->fs, fp);
    }
done:
    wc__free_names(&c);
    wc_free(data);
    return st;
}
