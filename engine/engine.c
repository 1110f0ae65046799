/*
 * engine.c - the engine of one node: catalog, manifests, recovery, the write
 * path, memtable switches and the background flush thread.
 *
 * The read path lives in read.c.  Locking rules are in engine_int.h; file
 * layouts in docs/file-formats.md.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "coding.h"
#include "keys.h"
#include "mutation.h"
#include "schema_def.h"
#include "thread.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define WC_CATALOG_MAGIC 0x54434357u  /* "WCCT" */
#define WC_MANIFEST_MAGIC 0x464d4357u /* "WCMF" */
#define WC_CATALOG_VERSION 3u  /* 3: typed schema bytes per table (2, options text, is read) */
#define WC_CATALOG_VERSION_TEXT 2u
#define WC_MANIFEST_VERSION 2u /* 2: level and creation time per SSTable */
#define WC_META_MAX_BYTES (64u << 20)
#define WC_DEFAULT_MEMTABLE_TOTAL ((size_t)512 << 20)
#define WC_DEFAULT_WRITE_STALL_MS 2000u
#define WC_DEFAULT_COMMITLOG_TOTAL ((size_t)1024 << 20)
#define WC_FLUSH_RETRY_MS 1000u

static void *wc__flush_main(void *arg);
static wc_status wc__flush_one(wc_engine *e, wc__table *t);
static wc_status wc__enforce_limits(wc_engine *e, bool *switched);

void wc__engine_log(wc_engine *e, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (e->opts.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    e->opts.log(e->opts.log_arg, level, msg);
}

int64_t wc__engine_now(wc_engine *e)
{
    return e->opts.clock ? e->opts.clock(e->opts.clock_arg) : (int64_t)time(NULL);
}

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
    o->compaction_throughput_mb_per_sec = 64;
    o->compaction_check_ms = 1000;
    o->memtable_total_bytes = WC_DEFAULT_MEMTABLE_TOTAL;
    o->write_stall_ms = WC_DEFAULT_WRITE_STALL_MS;
    o->commitlog_total_bytes = WC_DEFAULT_COMMITLOG_TOTAL;
}

void wc_table_def_default(wc_table_def *d)
{
    memset(d, 0, sizeof(*d));
    d->gc_grace_seconds = 864000;
}

wc_status wc_table_def_copy(wc_table_def *dst, const wc_table_def *src)
{
    *dst = *src;
    dst->schema = NULL;
    dst->schema_len = 0;
    if (src->schema_len == 0)
        return WC_OK;
    if ((dst->schema = wc_memdup(src->schema, src->schema_len)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory copying the schema of table %u", src->id);
    dst->schema_len = src->schema_len;
    return WC_OK;
}

void wc_table_def_clear(wc_table_def *d)
{
    wc_free(d->schema);
    d->schema = NULL;
    d->schema_len = 0;
}

/* ---------------------------------------------------------------- catalog */

static void wc__catalog_put_def(wc_buf *b, const wc_table_def *d)
{
    wc_buf_put_u32(b, d->id);
    wc_buf_put_bytes(b, d->name, strnlen(d->name, sizeof(d->name) - 1));
    wc_buf_put_u32(b, d->gc_grace_seconds);
    wc_buf_put_u32(b, d->default_ttl);
    wc_buf_put_bytes(b, d->schema, d->schema_len);
    wc_buf_put_bytes(b, d->compaction, strnlen(d->compaction, sizeof(d->compaction) - 1));
}

/*
 * Write the catalog as the table array will be once the caller's change is
 * published: with `add` (if not NULL) added, without table skip_id (0:
 * none), and with alt (if not NULL) as the definition of table alt->id.
 * REQUIRES: ddl_mu (the array and the definitions change only under it),
 * neither write_mu nor tables_mu (this is file I/O).
 */
static wc_status wc__catalog_write(wc_engine *e, const wc_table_def *add, uint32_t skip_id,
                                   const wc_table_def *alt)
{
    wc_buf b;
    char path[4200];
    uint32_t n = 0;
    wc_status st;

    for (size_t i = 0; i < e->ntables; i++)
        if (e->tables[i]->def.id != skip_id)
            n++;
    wc_buf_init(&b);
    wc_buf_put_u32(&b, WC_CATALOG_MAGIC);
    wc_buf_put_u32(&b, WC_CATALOG_VERSION);
    wc_buf_put_u32(&b, n + (add != NULL));
    for (size_t i = 0; i < e->ntables; i++) {
        const wc_table_def *d = &e->tables[i]->def;

        if (d->id == skip_id)
            continue;
        wc__catalog_put_def(&b, alt != NULL && alt->id == d->id ? alt : d);
    }
    if (add != NULL)
        wc__catalog_put_def(&b, add);
    wc_buf_put_u64(&b, XXH64(b.data, b.len, 0));
    st = wc_buf_status(&b);
    if (st == WC_OK) {
        snprintf(path, sizeof(path), "%s/catalog", e->dir);
        st = wc_fs_write_atomic(e->fs, path, b.data, b.len);
    }
    wc_buf_free(&b);
    return st;
}

static wc_status wc__table_new(wc_engine *e, const wc_table_def *def, wc__table **out)
{
    wc__table *t = wc_calloc(1, sizeof(*t));
    wc_status st;

    if (t == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating table %u", def->id);
    if (wc_table_def_copy(&t->def, def) != WC_OK) {
        wc_free(t);
        return WC_NO_MEMORY;
    }
    t->def.name[sizeof(t->def.name) - 1] = '\0';
    t->def.compaction[sizeof(t->def.compaction) - 1] = '\0';
    if (wc_compaction_options_parse(t->def.compaction, &t->copts) != WC_OK) {
        /* validated before it reached the catalog; never refuse to load a table for it */
        wc__engine_log(e, WC_LOG_WARNING, "table %u: compaction map not understood (%s); using STCS",
                       def->id, wc_last_error());
        wc_compaction_options_default(&t->copts);
    }
    t->counters = wc_calloc(1, sizeof(*t->counters));
    if (t->counters == NULL) {
        wc_table_def_clear(&t->def);
        wc_free(t);
        return wc_error(WC_NO_MEMORY, "out of memory creating table %u", def->id);
    }
    atomic_init(&t->counters->refs, 1);
    snprintf(t->dir, sizeof(t->dir), "%.4000s/t%u", e->dir, def->id);
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->manifest_mu, NULL);
    t->next_gen = 1;
    st = wc_memtable_new(&t->active);
    if (st != WC_OK) {
        pthread_mutex_destroy(&t->mu);
        pthread_mutex_destroy(&t->manifest_mu);
        wc__tcounters_unref(t->counters);
        wc_table_def_clear(&t->def);
        wc_free(t);
        return st;
    }
    *out = t;
    return WC_OK;
}

static void wc__table_free(wc__table *t)
{
    if (t == NULL)
        return;
    if (t->active)
        wc_memtable_unref(t->active);
    for (size_t i = 0; i < t->nimm; i++)
        wc_memtable_unref(t->imm[i].mem);
    for (size_t i = 0; i < t->nssts; i++)
        wc_sstable_unref(t->ssts[i].t);
    wc_free(t->imm);
    wc_free(t->ssts);
    wc_free(t->damaged);
    wc_lcs_state_free(&t->lcs);
    wc__tcounters_unref(t->counters);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->manifest_mu);
    wc_table_def_clear(&t->def);
    wc_free(t);
}

/* Room for one more table in the array.  REQUIRES: tables_mu written (or no other thread). */
static wc_status wc__tables_reserve(wc_engine *e)
{
    if (e->ntables == e->captables) {
        size_t cap = e->captables ? e->captables * 2 : 8;
        wc__table **p = wc_realloc(e->tables, cap * sizeof(*p));
        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory adding a table");
        e->tables = p;
        e->captables = cap;
    }
    return WC_OK;
}

static wc_status wc__tables_push(wc_engine *e, wc__table *t)
{
    wc_status st = wc__tables_reserve(e);

    if (st == WC_OK)
        e->tables[e->ntables++] = t;
    return st;
}

wc__table *wc__engine_find_table(wc_engine *e, uint32_t id)
{
    for (size_t i = 0; i < e->ntables; i++)
        if (e->tables[i]->def.id == id)
            return e->tables[i];
    return NULL;
}

static wc_status wc__catalog_read(wc_engine *e)
{
    char path[4200];
    uint8_t *data = NULL;
    size_t len;
    const uint8_t *p, *end;
    uint32_t magic, version, n;
    bool exists;
    wc_buf conv;
    wc_status st;

    wc_buf_init(&conv);
    snprintf(path, sizeof(path), "%s/catalog", e->dir);
    st = e->fs->exists(e->fs, path, &exists);
    if (st != WC_OK || !exists)
        return st;
    st = wc_fs_read_all(e->fs, path, WC_META_MAX_BYTES, &data, &len);
    if (st != WC_OK)
        return st;
    if (len < 20 || XXH64(data, len - 8, 0) != wc_dec_u64(data + len - 8)) {
        st = wc_error(WC_CORRUPTION, "catalog \"%s\" fails its checksum", path);
        goto done;
    }
    p = data;
    end = data + len - 8;
    if (!wc_get_u32(&p, end, &magic) || magic != WC_CATALOG_MAGIC ||
        !wc_get_u32(&p, end, &version) ||
        (version != WC_CATALOG_VERSION && version != WC_CATALOG_VERSION_TEXT) ||
        !wc_get_u32(&p, end, &n)) {
        st = wc_error(WC_CORRUPTION, "catalog \"%s\" has a bad header", path);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        wc_table_def d;
        const uint8_t *name, *schema, *comp;
        size_t nl, sl, cl;
        wc__table *t;

        wc_table_def_default(&d);
        if (!wc_get_u32(&p, end, &d.id) || !wc_get_bytes(&p, end, &name, &nl) ||
            nl >= sizeof(d.name) || !wc_get_u32(&p, end, &d.gc_grace_seconds) ||
            !wc_get_u32(&p, end, &d.default_ttl) || !wc_get_bytes(&p, end, &schema, &sl) ||
            !wc_get_bytes(&p, end, &comp, &cl) || cl >= sizeof(d.compaction)) {
            st = wc_error(WC_CORRUPTION, "catalog \"%s\": malformed table entry %u", path, i);
            goto done;
        }
        memcpy(d.name, name, nl);
        d.name[nl] = '\0';
        memcpy(d.compaction, comp, cl);
        d.compaction[cl] = '\0';
        if (version == WC_CATALOG_VERSION_TEXT) {
            /* the options text of old: convert it to the typed schema */
            if ((st = wc_schema_from_text(schema, sl, d.id, &conv)) != WC_OK) {
                st = wc_error(st, "catalog \"%s\": table %u (\"%s\"): %s", path, d.id, d.name,
                              wc_last_error());
                goto done;
            }
            d.schema = conv.data;
            d.schema_len = conv.len;
        } else {
            d.schema = (uint8_t *)schema;
            d.schema_len = sl;
        }
        st = wc__table_new(e, &d, &t); /* copies the schema */
        wc_buf_reset(&conv);
        if (st == WC_OK && (st = wc__tables_push(e, t)) != WC_OK)
            wc__table_free(t);
        if (st != WC_OK)
            goto done;
    }
    if (p != end)
        st = wc_error(WC_CORRUPTION, "catalog \"%s\" has trailing bytes", path);
    /* an old catalog is rewritten in the new format at once */
    if (st == WC_OK && version == WC_CATALOG_VERSION_TEXT)
        st = wc__catalog_write(e, NULL, 0, NULL);
done:
    wc_buf_free(&conv);
    wc_free(data);
    return st;
}

/* --------------------------------------------------------------- manifests */

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

static void wc__sst_path(const wc__table *t, uint64_t gen, char *out, size_t n)
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

typedef struct wc__cleanup_ctx {
    wc_engine *e;
    wc__table *t;
    char **names;
    size_t n, cap;
    bool oom;
} wc__cleanup_ctx;

static int wc__collect_name(void *arg, const char *name)
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

static void wc__free_names(wc__cleanup_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        wc_free(c->names[i]);
    wc_free(c->names);
}

/* Load a table's manifest, open its SSTables, remove files a crash left behind. */
static wc_status wc__table_load(wc_engine *e, wc__table *t)
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

/* ---------------------------------------------------------------- writes */

/* Count t's active memtable growth in e->mem_active.  REQUIRES: write_mu. */
static void wc__account_active(wc_engine *e, wc__table *t)
{
    size_t now = wc_memtable_memory(t->active);

    if (now > t->active_acct) {
        atomic_fetch_add(&e->mem_active, now - t->active_acct);
        t->active_acct = now;
    }
}

/* Apply one encoded mutation to its table's active memtable. REQUIRES: write_mu. */
static wc_status wc__apply_mutation(wc_engine *e, wc__table *t, const uint8_t *mut, size_t len)
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
        wc_buf_reset(&e->key);
        wc_key_build(&e->key, token, v.pk, v.pk_len, en.kind, en.ck, en.ck_len);
        if ((st = wc_buf_status(&e->key)) != WC_OK)
            return st;
        st = wc_memtable_put_validated(t->active, e->key.data, e->key.len, en.blob, en.blob_len);
        if (st != WC_OK)
            break;
    }
    wc__account_active(e, t);
    if (st != WC_OK)
        return st;
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed mutation entry");
    return WC_OK;
}

/* Validate a batch before it reaches the log; every table must exist. REQUIRES: tables_mu. */
static wc_status wc__validate_batch(wc_engine *e, const uint8_t *rec, size_t len)
{
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
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
        while ((r2 = wc_mutation_next(&v, &en)) == 1)
            ;
        if (r2 < 0)
            return wc_error(WC_INVALID_ARGUMENT, "malformed entry in a mutation of table %u",
                            v.table_id);
    }
    if (r < 0)
        return wc_error(WC_INVALID_ARGUMENT, "malformed mutation batch");
    return WC_OK;
}

/* Switch t's active memtable for a new one. REQUIRES: write_mu. */
static wc_status wc__switch_memtable(wc_engine *e, wc__table *t)
{
    wc_memtable *fresh;
    wc_clpos now = e->log ? wc_commitlog_current(e->log) : (wc_clpos){0, 0};
    wc_status st;

    st = wc_memtable_new(&fresh);
    if (st != WC_OK)
        return st;
    pthread_mutex_lock(&t->mu);
    if (t->nimm == t->capimm) {
        size_t cap = t->capimm ? t->capimm * 2 : 4;
        wc__imm *p = wc_realloc(t->imm, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&t->mu);
            wc_memtable_unref(fresh);
            return wc_error(WC_NO_MEMORY, "out of memory switching memtables");
        }
        t->imm = p;
        t->capimm = cap;
    }
    t->imm[t->nimm].mem = t->active;
    t->imm[t->nimm].start = t->active_start;
    t->imm[t->nimm].end = now;
    t->imm[t->nimm].bytes = t->active_acct;
    t->nimm++;
    t->active = fresh;
    t->active_start = now;
    t->active_used = false;
    pthread_mutex_unlock(&t->mu);
    atomic_fetch_add(&e->mem_imm, t->active_acct);
    atomic_fetch_sub(&e->mem_active, t->active_acct);
    t->active_acct = 0;
    pthread_mutex_lock(&e->flush_mu);
    e->flush_seq++;
    pthread_cond_broadcast(&e->flush_cv);
    pthread_mutex_unlock(&e->flush_mu);
    return WC_OK;
}

/* Apply a validated batch to memtables, switching full ones. REQUIRES: write_mu, tables_mu. */
static wc_status wc__apply_batch_mem(wc_engine *e, const uint8_t *rec, size_t len, wc_clpos pos,
                                     bool replay)
{
    bool switched;
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
    int r;
    wc_status st;

    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        return st;
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
            t->active_used = true;
            if (replay)
                t->active_start = pos;
        }
        st = wc__apply_mutation(e, t, mut, ml);
        if (st != WC_OK)
            return st;
        if (wc_memtable_memory(t->active) >= e->opts.memtable_bytes) {
            if (replay) {
                /* flush synchronously during recovery: nothing else runs yet */
                st = wc__switch_memtable(e, t);
                if (st == WC_OK) {
                    t->imm[t->nimm - 1].end = (wc_clpos){pos.segment, pos.offset + 1};
                    t->active_start = t->imm[t->nimm - 1].end;
                    st = wc__flush_one(e, t);
                }
            } else {
                st = wc__switch_memtable(e, t);
            }
            if (st != WC_OK)
                return st;
        }
    }
    if (r < 0)
        return wc_error(WC_CORRUPTION, "malformed mutation batch");
    if (!replay && wc__enforce_limits(e, &switched) != WC_OK) /* applied: only report it */
        wc__engine_log(e, WC_LOG_WARNING, "could not switch a memtable to keep memory bounded: %s",
                       wc_last_error());
    return WC_OK;
}

/* Oldest commit-log position some table still needs.  REQUIRES: tables_mu. */
static wc_clpos wc__log_needed_locked(wc_engine *e)
{
    wc_clpos min = wc_commitlog_current(e->log);

    for (size_t i = 0; i < e->ntables; i++) {
        wc__table *t = e->tables[i];
        pthread_mutex_lock(&t->mu);
        if (t->nimm > 0 && wc_clpos_cmp(t->imm[0].start, min) < 0)
            min = t->imm[0].start;
        else if (t->nimm == 0 && t->active_used && wc_clpos_cmp(t->active_start, min) < 0)
            min = t->active_start;
        if (t->unpublished && wc_clpos_cmp(t->unpublished_start, min) < 0)
            min = t->unpublished_start;
        pthread_mutex_unlock(&t->mu);
    }
    return min;
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
 * lasts; while memtables hold more than memtable_total_bytes, waits for
 * flushes up to write_stall_ms, then fails with WC_OVERLOADED.  Takes
 * flush_mu only (called before write_mu).
 */
static wc_status wc__admit_write(wc_engine *e)
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

static wc_status wc__apply_record(wc_engine *e, const uint8_t *rec, size_t len)
{
    wc_clpos pos;
    wc_status st;

    if ((st = wc__admit_write(e)) != WC_OK)
        return st;
    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_rdlock(&e->tables_mu);
    st = wc__validate_batch(e, rec, len);
    if (st == WC_OK)
        st = wc_commitlog_append(e->log, rec, len, &pos);
    if (st == WC_OK)
        st = wc__apply_batch_mem(e, rec, len, pos, false);
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    if (st == WC_OK)
        st = wc_commitlog_sync_to(e->log, pos);
    return st;
}

wc_status wc_engine_apply_batch(wc_engine *e, const uint8_t *rec, size_t len)
{
    return wc__apply_record(e, rec, len);
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
        st = wc__apply_record(e, rec.data, rec.len);
    wc_buf_free(&rec);
    return st;
}

/* ---------------------------------------------------------------- flushing */

/* Position before which no table needs the commit log any more. */
static wc_clpos wc__log_needed_from(wc_engine *e)
{
    wc_clpos min;

    pthread_rwlock_rdlock(&e->tables_mu);
    min = wc__log_needed_locked(e);
    pthread_rwlock_unlock(&e->tables_mu);
    return min;
}

/* Flush t's oldest immutable memtable to an SSTable and publish it. */
static wc_status wc__flush_one(wc_engine *e, wc__table *t)
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
    if (!t->unpublished) {
        t->unpublished = true;
        t->unpublished_start = imm.start;
    }
    memmove(&t->imm[0], &t->imm[1], (t->nimm - 1) * sizeof(t->imm[0]));
    t->nimm--;
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
    pthread_mutex_lock(&e->flush_mu);
    if (st != WC_OK) {
        snprintf(e->bg_detail, sizeof(e->bg_detail), "background flush of table %s failed: %s",
                 name, wc_last_error());
        e->bg_status = st;
        e->bg_table = id;
    } else if (e->bg_status != WC_OK && e->bg_table == id) {
        e->bg_status = WC_OK;
        e->bg_detail[0] = '\0';
    }
    pthread_mutex_unlock(&e->flush_mu);
    if (st != WC_OK)
        wc__engine_log(e, WC_LOG_ERROR, "background flush of table %s (%u) failed: %s (%s); "
                       "writes fail until a retry succeeds",
                       name, id, wc_status_name(st), e->bg_detail);
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

static void *wc__flush_main(void *arg)
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

/* ---------------------------------------------------------------- tables */

wc_status wc_engine_create_table(wc_engine *e, const wc_table_def *def)
{
    wc__table *t;
    wc_status st;

    if (def->id == 0)
        return wc_error(WC_INVALID_ARGUMENT, "table id 0 is reserved");
    {
        wc_compaction_options co;
        char comp[sizeof(def->compaction)];
        memcpy(comp, def->compaction, sizeof(comp));
        comp[sizeof(comp) - 1] = '\0';
        if ((st = wc_compaction_options_parse(comp, &co)) != WC_OK)
            return st;
    }
    /* DDL serializes on ddl_mu; its file I/O runs under no other engine lock */
    pthread_mutex_lock(&e->ddl_mu);
    t = wc__engine_find_table(e, def->id);
    if (t) {
        st = strcmp(t->def.name, def->name) == 0
                 ? WC_OK
                 : wc_error(WC_EXISTS, "table id %u is already used by \"%s\"", def->id,
                            t->def.name);
        t = NULL;
        goto done;
    }
    st = wc__table_new(e, def, &t);
    if (st != WC_OK)
        goto done;
    /* records before this position belong to an older table with this id, if any */
    pthread_mutex_lock(&e->write_mu);
    t->flushed = wc_commitlog_current(e->log);
    pthread_mutex_unlock(&e->write_mu);
    t->active_start = t->flushed;
    pthread_rwlock_wrlock(&e->tables_mu);
    st = wc__tables_reserve(e);
    pthread_rwlock_unlock(&e->tables_mu);
    if (st == WC_OK)
        st = wc_fs_mkdirs(e->fs, t->dir);
    if (st == WC_OK)
        st = wc__manifest_write(e, t); /* nobody else sees t yet */
    if (st == WC_OK)
        st = wc__catalog_write(e, &t->def, 0, NULL);
    if (st != WC_OK)
        goto done;
    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_wrlock(&e->tables_mu);
    e->tables[e->ntables++] = t; /* room reserved above */
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    t = NULL;
done:
    pthread_mutex_unlock(&e->ddl_mu);
    wc__table_free(t);
    return st;
}

wc_status wc_engine_alter_table(wc_engine *e, const wc_table_def *def)
{
    wc__table *t;
    wc_table_def nd;
    wc_compaction_options co;
    char comp[sizeof(def->compaction)];
    wc_status st;

    memcpy(comp, def->compaction, sizeof(comp));
    comp[sizeof(comp) - 1] = '\0';
    if ((st = wc_compaction_options_parse(comp, &co)) != WC_OK)
        return st;
    if ((st = wc_table_def_copy(&nd, def)) != WC_OK)
        return st;
    nd.name[sizeof(nd.name) - 1] = '\0';
    nd.compaction[sizeof(nd.compaction) - 1] = '\0';
    pthread_mutex_lock(&e->ddl_mu);
    t = wc__engine_find_table(e, def->id);
    if (t == NULL) {
        st = wc_error(WC_NOT_FOUND, "table %u does not exist", def->id);
    } else {
        st = wc__catalog_write(e, NULL, 0, &nd);
        if (st == WC_OK) {
            wc_table_def old;
            pthread_rwlock_wrlock(&e->tables_mu);
            old = t->def;
            t->def = nd;
            t->copts = co;
            pthread_rwlock_unlock(&e->tables_mu);
            nd = old; /* freed below */
        }
    }
    pthread_mutex_unlock(&e->ddl_mu);
    wc_table_def_clear(&nd);
    if (st == WC_OK)
        wc__compaction_notify(e);
    return st;
}

static int wc__unlink_each(void *arg, const char *name)
{
    wc__cleanup_ctx *c = arg;
    return wc__collect_name(c, name);
}

wc_status wc_engine_drop_table(wc_engine *e, uint32_t table_id)
{
    wc__table *t = NULL;
    wc__cleanup_ctx c = {0};
    wc_status st;
    size_t i;

    /* ddl_mu stays held until the files are gone: a create of the same id waits */
    pthread_mutex_lock(&e->ddl_mu);
    t = wc__engine_find_table(e, table_id);
    if (t == NULL) {
        pthread_mutex_unlock(&e->ddl_mu);
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    }
    st = wc__catalog_write(e, NULL, table_id, NULL);
    if (st != WC_OK) {
        pthread_mutex_unlock(&e->ddl_mu);
        return st;
    }
    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_wrlock(&e->tables_mu);
    for (i = 0; e->tables[i] != t; i++)
        ;
    memmove(&e->tables[i], &e->tables[i + 1], (e->ntables - i - 1) * sizeof(e->tables[0]));
    e->ntables--;
    atomic_fetch_sub(&e->mem_active, t->active_acct);
    t->active_acct = 0;
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);

    /* flushes that pinned it run to their end; its failure no longer fails writes */
    pthread_mutex_lock(&e->flush_mu);
    while (t->pins > 0)
        pthread_cond_wait(&e->flush_done_cv, &e->flush_mu);
    if (e->bg_status != WC_OK && e->bg_table == table_id) {
        e->bg_status = WC_OK;
        e->bg_detail[0] = '\0';
    }
    if (e->comp_status != WC_OK && e->comp_err_table == table_id) {
        e->comp_status = WC_OK;
        e->comp_detail[0] = '\0';
    }
    pthread_mutex_unlock(&e->flush_mu);

    /* the catalog no longer lists it: remove its files (a crash here leaves a dir open() removes) */
    wc__compaction_forget_table(e, t);
    pthread_mutex_lock(&t->manifest_mu);
    pthread_mutex_lock(&t->mu);
    t->dropped = true;
    for (i = 0; i < t->nimm; i++)
        atomic_fetch_sub(&e->mem_imm, t->imm[i].bytes);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_unlock(&t->manifest_mu);
    for (i = 0; i < t->nssts; i++)
        wc_sstable_mark_obsolete(t->ssts[i].t);
    wc__table_remove_damaged(e, t);
    e->fs->list(e->fs, t->dir, wc__unlink_each, &c);
    for (i = 0; i < c.n; i++) {
        char fp[4200];
        if (strstr(c.names[i], ".sst") && !strstr(c.names[i], ".tmp"))
            continue; /* unlinked when the last reader lets go */
        snprintf(fp, sizeof(fp), "%s/%s", t->dir, c.names[i]);
        e->fs->unlink(e->fs, fp);
    }
    wc__free_names(&c);
    {
        char dir[sizeof(t->dir)];
        memcpy(dir, t->dir, sizeof(dir));
        wc__table_free(t);
        e->fs->rmdir(e->fs, dir);
    }
    pthread_mutex_unlock(&e->ddl_mu);
    return WC_OK;
}

wc_status wc_engine_get_table(wc_engine *e, uint32_t table_id, wc_table_def *out)
{
    wc__table *t;
    wc_status st = WC_OK;

    pthread_rwlock_rdlock(&e->tables_mu);
    t = wc__engine_find_table(e, table_id);
    if (t)
        st = wc_table_def_copy(out, &t->def);
    else
        st = wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    pthread_rwlock_unlock(&e->tables_mu);
    return st;
}

wc_status wc_engine_list_tables(wc_engine *e, uint32_t **ids, size_t *n)
{
    wc_status st = WC_OK;

    pthread_rwlock_rdlock(&e->tables_mu);
    *ids = wc_malloc((e->ntables ? e->ntables : 1) * sizeof(uint32_t));
    if (*ids == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory listing tables");
    } else {
        for (size_t i = 0; i < e->ntables; i++)
            (*ids)[i] = e->tables[i]->def.id;
        *n = e->ntables;
    }
    pthread_rwlock_unlock(&e->tables_mu);
    return st;
}

wc_status wc__sources_acquire(wc_engine *e, uint32_t table_id, wc__sources *s)
{
    wc__table *t;
    wc_status st = WC_OK;

    memset(s, 0, sizeof(*s));
    pthread_rwlock_rdlock(&e->tables_mu);
    t = wc__engine_find_table(e, table_id);
    if (t == NULL) {
        pthread_rwlock_unlock(&e->tables_mu);
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    }
    if (atomic_load(&t->offline)) {
        pthread_mutex_lock(&t->mu);
        st = wc__offline_error(t);
        pthread_mutex_unlock(&t->mu);
        pthread_rwlock_unlock(&e->tables_mu);
        return st;
    }
    s->gc_grace = t->def.gc_grace_seconds;
    s->counters = t->counters;
    atomic_fetch_add(&s->counters->refs, 1);
    memcpy(s->name, t->def.name, sizeof(s->name));
    pthread_mutex_lock(&t->mu);
    s->mems = wc_malloc((t->nimm + 1) * sizeof(*s->mems));
    s->ssts = wc_malloc((t->nssts + 1) * sizeof(*s->ssts));
    if (s->mems == NULL || s->ssts == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting a read");
    } else {
        s->mems[s->nmems++] = t->active;
        wc_memtable_ref(t->active);
        for (size_t i = t->nimm; i-- > 0;) {
            s->mems[s->nmems++] = t->imm[i].mem;
            wc_memtable_ref(t->imm[i].mem);
        }
        for (size_t i = t->nssts; i-- > 0;) {
            s->ssts[s->nssts++] = t->ssts[i].t;
            wc_sstable_ref(t->ssts[i].t);
        }
    }
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&e->tables_mu);
    if (st != WC_OK)
        wc__sources_release(s);
    return st;
}

void wc__sources_release(wc__sources *s)
{
    for (size_t i = 0; i < s->nmems; i++)
        wc_memtable_unref(s->mems[i]);
    for (size_t i = 0; i < s->nssts; i++)
        wc_sstable_unref(s->ssts[i]);
    wc_free(s->mems);
    wc_free(s->ssts);
    if (s->counters)
        wc__tcounters_unref(s->counters);
    memset(s, 0, sizeof(*s));
}

wc_status wc_engine_table_stats(wc_engine *e, uint32_t table_id, wc_table_stats *out)
{
    wc__table *t;

    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&e->tables_mu);
    t = wc__engine_find_table(e, table_id);
    if (t == NULL) {
        pthread_rwlock_unlock(&e->tables_mu);
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    }
    pthread_mutex_lock(&t->mu);
    out->memtable_bytes = wc_memtable_memory(t->active);
    out->memtable_entries = wc_memtable_entries(t->active);
    for (size_t i = 0; i < t->nimm; i++) {
        out->memtable_bytes += wc_memtable_memory(t->imm[i].mem);
        out->memtable_entries += wc_memtable_entries(t->imm[i].mem);
    }
    out->pending_flushes = t->nimm;
    out->sstable_count = t->nssts;
    for (size_t i = 0; i < t->nssts; i++) {
        const wc_sstable_stats *ss = wc_sstable_get_stats(t->ssts[i].t);
        out->sstable_bytes += ss->file_bytes;
        out->partitions_estimate += ss->partitions;
        out->rows_estimate += ss->rows;
        out->tombstones += ss->tombstones;
    }
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&e->tables_mu);
    return WC_OK;
}

void wc_engine_get_stats(wc_engine *e, wc_engine_stats *out)
{
    wc_commitlog_stats cs;

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
    if (e->bg_status != WC_OK) {
        out->background_status = e->bg_status;
        snprintf(out->background_error, sizeof(out->background_error), "%s", e->bg_detail);
    } else if (e->comp_status != WC_OK) {
        out->background_status = e->comp_status;
        snprintf(out->background_error, sizeof(out->background_error), "%s", e->comp_detail);
    }
    pthread_mutex_unlock(&e->flush_mu);
}

/* ---------------------------------------------------------------- open/close */

typedef struct wc__replay_ctx {
    wc_engine *e;
    uint64_t records;
} wc__replay_ctx;

static wc_status wc__replay_record(void *arg, wc_clpos pos, const uint8_t *rec, size_t len)
{
    wc__replay_ctx *c = arg;
    wc_status st;

    c->records++;
    /* full validation: a checksum proves the bytes are intact, not well-formed */
    {
        wc_batch_view bv;
        const uint8_t *mut;
        size_t ml;
        int r;

        st = wc_batch_parse(rec, len, &bv);
        while (st == WC_OK && (r = wc_batch_next(&bv, &mut, &ml)) == 1) {
            wc_mutation_view v;
            wc_mutation_entry en;
            int r2;

            st = wc_mutation_parse(mut, ml, &v);
            while (st == WC_OK && (r2 = wc_mutation_next(&v, &en)) == 1)
                ;
            if (st == WC_OK && r2 < 0)
                st = WC_CORRUPTION;
        }
        if (st == WC_OK && r < 0)
            st = WC_CORRUPTION;
    }
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
    pthread_mutex_init(&e->ddl_mu, NULL);
    pthread_rwlock_init(&e->tables_mu, NULL);
    pthread_mutex_init(&e->write_mu, NULL);
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
    if (e->opts.cache_bytes > 0 && (st = wc_block_cache_new(e->opts.cache_bytes, &e->cache)) != WC_OK)
        goto fail;
    if ((st = wc__catalog_read(e)) != WC_OK)
        goto fail;
    for (size_t i = 0; i < e->ntables; i++)
        if ((st = wc__table_load(e, e->tables[i])) != WC_OK)
            goto fail;
    wc__remove_dropped(e);

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
    rc.e = e;
    rc.records = 0;
    pthread_mutex_lock(&e->write_mu);
    st = wc_commitlog_open(&co, wc__replay_record, &rc, &e->log);
    pthread_mutex_unlock(&e->write_mu);
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
    if ((st = wc__thread_start(&e->flush_thread, wc__flush_main, e, "flush")) != WC_OK)
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
    pthread_rwlock_destroy(&e->tables_mu);
    pthread_mutex_destroy(&e->write_mu);
    pthread_mutex_destroy(&e->flush_mu);
    pthread_cond_destroy(&e->flush_cv);
    pthread_cond_destroy(&e->flush_done_cv);
    pthread_mutex_destroy(&e->comp_mu);
    pthread_cond_destroy(&e->comp_cv);
    pthread_cond_destroy(&e->comp_done_cv);
    pthread_mutex_destroy(&e->throttle_mu);
    wc_free(e);
}
