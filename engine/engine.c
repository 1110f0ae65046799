/*
 * engine.c - the tables of one node and the catalog: creating, altering,
 * dropping and listing tables, the catalog file that lists their
 * definitions, the table structure (wc__table_new, wc__table_free), the
 * sources a read takes, and per-table statistics.
 *
 * The rest of the engine: manifest.c (a table's SSTable list), write.c,
 * flush.c, open.c (open, replay, close), read.c, compaction.c.  Locking
 * rules are in engine_int.h (DDL serializes on ddl_mu and does its file
 * I/O under no other engine lock); file layouts in docs/file-formats.md.
 */
#include "engine_int.h"
#include "index.h"

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
#define WC_CATALOG_VERSION 3u  /* 3: typed schema bytes per table (2, options text, is read) */
#define WC_CATALOG_VERSION_TEXT 2u

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

uint64_t wc__next_serial(wc_engine *e)
{
    return atomic_fetch_add(&e->next_serial, 1);
}

void wc__publish_table(wc_engine *e, wc__table *t)
{
    wc_engine_file_ref refs0[16], *refs = refs0;
    wc_engine_table_files f;

    if (e->opts.publish_hook == NULL)
        return;
    memset(&f, 0, sizeof(f));
    f.table_id = t->def.id;
    f.readable = !t->dropped && !atomic_load(&t->offline);
    if (t->nimm > 0)
        f.flushed_below = t->imm[0].serial;
    else
        f.flushed_below = t->active_used ? t->active_serial : WC_FLUSHED_ALL;
    f.table_wide = t->table_wide;
    if (t->nssts > sizeof(refs0) / sizeof(refs0[0]) &&
        (refs = wc_malloc(t->nssts * sizeof(*refs))) == NULL) {
        refs = refs0;
        f.readable = false; /* cannot tell the list: nobody reads it directly */
    } else {
        for (size_t i = 0; i < t->nssts; i++) {
            refs[i].gen = t->ssts[i].gen;
            refs[i].file_id = wc_sstable_file_id(t->ssts[i].t);
            refs[i].bytes = wc_sstable_get_stats(t->ssts[i].t)->file_bytes;
        }
        f.files = refs;
        f.nfiles = t->nssts;
    }
    e->opts.publish_hook(e->opts.direct_hook_arg, &f);
    if (refs != refs0)
        wc_free(refs);
}

int64_t wc__engine_now(wc_engine *e)
{
    return e->opts.clock ? e->opts.clock(e->opts.clock_arg) : (int64_t)time(NULL);
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
    t->active_serial = wc__next_serial(e);
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

void wc__table_free(wc__table *t)
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

wc_status wc__catalog_read(wc_engine *e)
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
        st = wc__gen_after_files(e, t); /* a dropped t<id> may still have open files */
    if (st == WC_OK)
        st = wc__manifest_write(e, t); /* nobody else sees t yet */
    if (st == WC_OK)
        st = wc__catalog_write(e, &t->def, 0, NULL);
    if (st != WC_OK)
        goto done;
    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_wrlock(&e->tables_mu);
    e->tables[e->ntables++] = t; /* room reserved above */
    pthread_mutex_lock(&t->mu);
    wc__publish_table(e, t);
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    t = NULL;
done:
    pthread_mutex_unlock(&e->ddl_mu);
    wc__table_free(t);
    if (st == WC_OK && (def->id & WC_INDEX_ID_BIT) == 0)
        st = wc__index_sync(e); /* a definition that comes with indexes */
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
            wc__notify_change(e, NULL, 0, def->id, false);
            pthread_rwlock_wrlock(&e->tables_mu);
            old = t->def;
            t->def = nd;
            t->copts = co;
            pthread_rwlock_unlock(&e->tables_mu);
            wc__notify_change(e, NULL, 0, def->id, true);
            nd = old; /* freed below */
        }
    }
    pthread_mutex_unlock(&e->ddl_mu);
    wc_table_def_clear(&nd);
    if (st == WC_OK)
        wc__compaction_notify(e);
    if (st == WC_OK && (def->id & WC_INDEX_ID_BIT) == 0)
        st = wc__index_sync(e); /* indexes added or dropped */
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
    wc__notify_change(e, NULL, 0, table_id, false);
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
    wc__notify_change(e, NULL, 0, table_id, true);

    /* flushes that pinned it run to their end; its failure no longer fails writes */
    pthread_mutex_lock(&e->flush_mu);
    while (t->pins > 0)
        pthread_cond_wait(&e->flush_done_cv, &e->flush_mu);
    if (e->bg_status != WC_OK && e->bg_table == table_id) {
        e->bg_status = WC_OK;
        e->bg_detail[0] = '\0';
    }
    if (e->halt_status != WC_OK && e->halt_table == table_id) {
        e->halt_status = WC_OK; /* its damaged file is gone with it */
        e->halt_detail[0] = '\0';
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
    wc__publish_table(e, t);
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
    if ((table_id & WC_INDEX_ID_BIT) == 0)
        return wc__index_sync(e); /* its indexes go with it */
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
        *n = 0;
        for (size_t i = 0; i < e->ntables; i++)
            if ((e->tables[i]->def.id & WC_INDEX_ID_BIT) == 0) /* index tables are hidden */
                (*ids)[(*n)++] = e->tables[i]->def.id;
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
    /* most reads fit the built-in arrays: no allocation */
    s->mems = t->nimm + 1 <= (sizeof(s->mems0) / sizeof(s->mems0[0]))
                  ? s->mems0
                  : wc_malloc((t->nimm + 1) * sizeof(*s->mems));
    s->ssts = t->nssts + 1 <= (sizeof(s->ssts0) / sizeof(s->ssts0[0]))
                  ? s->ssts0
                  : wc_malloc((t->nssts + 1) * sizeof(*s->ssts));
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
    if (s->mems != s->mems0)
        wc_free(s->mems);
    if (s->ssts != s->ssts0)
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
    if (atomic_load(&t->offline))
        snprintf(out->offline, sizeof(out->offline), "%s", t->offline_why);
    pthread_mutex_unlock(&t->mu);
    pthread_rwlock_unlock(&e->tables_mu);
    return WC_OK;
}

