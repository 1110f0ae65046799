/*
 * index.c - node-local secondary indexes: the registry, the entries a
 * write adds to its own commit-log record, the backfill, and the index
 * read that checks every entry against its base row (contract in index.h).
 */
#include "index.h"

#include <stdio.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "cql_literal.h"
#include "engine_int.h"
#include "keys.h"
#include "mutation.h"
#include "schema_def.h"

#define WC__INDEX_BACKFILL_ROWS 1000
#define WC__INDEX_BUILDING "building#" /* name prefix of a hidden table being backfilled */
#define WC__INDEX_BUILT "index#"

uint32_t wc_index_table_id(uint32_t base_id, const char *name)
{
    uint8_t b[4 + 128];
    size_t n = strlen(name) < 128 ? strlen(name) : 128;
    uint32_t h;

    wc_enc_u32(b, base_id);
    memcpy(b + 4, name, n);
    h = (uint32_t)XXH64(b, 4 + n, 0x1d3c) & ~WC_INDEX_ID_BIT;
    return WC_INDEX_ID_BIT | (h ? h : 1);
}

/* ---------------------------------------------------------------- the property */

/*
 * Append the indexes that def's schema lists to *v (grown with wc_realloc).
 * A table without schema or property has none.  WC_INVALID_ARGUMENT names
 * what is wrong; WC_NO_MEMORY.
 */
static wc_status wc__index_list(const wc_table_def *def, wc__index **v, size_t *n)
{
    wc_schema s;
    wc_cql_doc *doc = NULL;
    wc_cql_error err;
    const wc_cql_value *map, *it;
    wc_status st = WC_OK;

    wc_schema_init(&s);
    if (def->schema == NULL || def->schema_len == 0)
        return WC_OK;
    if (wc_schema_decode(def->schema, def->schema_len, &s) != WC_OK) {
        wc_clear_error();
        goto done; /* not a schema the node made: no indexes */
    }
    for (size_t i = 0; i < s.nproperties; i++) {
        if (strcmp(s.properties[i].name, WC_INDEX_PROPERTY) != 0)
            continue;
        if (wc_cql_parse_options(s.properties[i].value, strlen(s.properties[i].value), &doc,
                                 &err) != WC_OK) {
            st = wc_error(WC_INVALID_ARGUMENT, "indexes of table \"%s\": %s at offset %zu",
                          def->name, err.msg, err.pos);
            goto done;
        }
        map = wc_cql_doc_root(doc);
        for (it = map->child; it != NULL; it = it->next) {
            const wc_schema_column *c = wc_schema_find_column(&s, it->text);
            wc__index *nv;

            if (c == NULL || c->kind != WC_COL_REGULAR) {
                st = wc_error(WC_INVALID_ARGUMENT,
                              "index \"%s\" of table \"%s\": \"%s\" is not a regular column",
                              it->key->text, def->name, it->text);
                goto done;
            }
            if (it->key->len == 0 || it->key->len >= sizeof(nv->name)) {
                st = wc_error(WC_INVALID_ARGUMENT, "index name of table \"%s\" has %zu bytes",
                              def->name, it->key->len);
                goto done;
            }
            if ((nv = wc_realloc(*v, (*n + 1) * sizeof(**v))) == NULL) {
                st = wc_error(WC_NO_MEMORY, "out of memory listing indexes");
                goto done;
            }
            *v = nv;
            memset(&nv[*n], 0, sizeof(nv[*n]));
            nv[*n].base_id = def->id;
            nv[*n].cell_id = c->cell_id;
            memcpy(nv[*n].name, it->key->text, it->key->len + 1);
            nv[*n].index_id = wc_index_table_id(def->id, nv[*n].name);
            (*n)++;
        }
        break;
    }
done:
    wc_cql_doc_free(doc);
    wc_schema_free(&s);
    return st;
}

/* Replace the registry.  Takes write_mu and tables_mu (write). */
static void wc__index_publish(wc_engine *e, wc__index *v, size_t n)
{
    wc__index *old;

    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_wrlock(&e->tables_mu);
    old = e->indexes;
    e->indexes = v;
    e->nindexes = n;
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    wc_free(old);
}

void wc__index_free(wc_engine *e)
{
    wc_free(e->indexes);
    e->indexes = NULL;
    e->nindexes = 0;
}

/* ---------------------------------------------------------------- entries */

/* The index clustering key of base row (token, pk, ck) into b. */
static void wc__index_ck(wc_buf *b, int64_t token, const uint8_t *pk, size_t pk_len,
                         const uint8_t *ck, size_t ck_len)
{
    uint8_t t[8];

    wc_token_encode(t, token);
    wc_buf_append(b, t, 8);
    wc_buf_put_u16be(b, (uint16_t)pk_len);
    wc_buf_append(b, pk, pk_len);
    wc_buf_append(b, ck, ck_len);
}

/* Add to b the entry of a live, plain cell c of base row (token, pk, ck) for index ix. */
static wc_status wc__index_entry(wc_batch_builder *b, wc_buf *key, const wc__index *ix,
                                 int64_t token, const uint8_t *pk, size_t pk_len,
                                 const uint8_t *ck, size_t ck_len, const wc_cell *c)
{
    wc_mutation *m;
    wc_rowb *rb;

    if (c->len > WC_MAX_PK_LEN)
        return wc_error(WC_INVALID_ARGUMENT,
                        "a value of %zu bytes cannot be indexed by \"%s\" (at most %u bytes)",
                        c->len, ix->name, (unsigned)WC_MAX_PK_LEN);
    wc_buf_reset(key);
    wc__index_ck(key, token, pk, pk_len, ck, ck_len);
    if (wc_buf_status(key) != WC_OK)
        return wc_error(WC_NO_MEMORY, "out of memory building an index entry");
    m = wc_batch_builder_begin(b, ix->index_id, c->value, c->len);
    rb = wc_mutation_row_begin(m, false, key->data, key->len);
    if (c->flags & WC_CELLF_EXPIRING)
        wc_rowb_liveness(rb, c->ts, c->ttl, c->ldt);
    else
        wc_rowb_liveness(rb, c->ts, 0, 0);
    wc_mutation_row_end(m);
    return wc_batch_builder_end(b);
}

/* The index entries' cell of c?  A live value, neither counter nor collection. */
static bool wc__indexable(const wc_cell *c)
{
    return (c->flags & (WC_CELLF_TOMBSTONE | WC_CELLF_COUNTER | WC_CELLF_COUNTER_DELTA |
                        WC_CELLF_COLLECTION)) == 0;
}

/* Has table_id an index?  REQUIRES: tables_mu. */
static bool wc__index_of(wc_engine *e, uint32_t table_id)
{
    for (size_t i = 0; i < e->nindexes; i++)
        if (e->indexes[i].base_id == table_id)
            return true;
    return false;
}

wc_status wc__index_augment(wc_engine *e, const uint8_t *rec, size_t len, wc_buf *out,
                            bool *augmented)
{
    wc_batch_builder b;
    wc_batch_view bv;
    wc_buf key;
    const uint8_t *mut, *done;
    size_t ml, dlen;
    uint32_t added = 0;
    wc_status st = WC_OK;

    *augmented = false;
    if (e->nindexes == 0 || wc_batch_parse(rec, len, &bv) != WC_OK)
        return WC_OK; /* a malformed batch is refused by validation */
    wc_batch_builder_init(&b);
    wc_buf_init(&key);
    while (st == WC_OK && wc_batch_next(&bv, &mut, &ml) == 1) {
        wc_mutation_view v;
        wc_mutation_entry en;
        int64_t token;

        if ((st = wc_batch_builder_add_encoded(&b, mut, ml)) != WC_OK)
            break;
        if (wc_mutation_parse(mut, ml, &v) != WC_OK) {
            wc_clear_error();
            continue;
        }
        if (!wc__index_of(e, v.table_id))
            continue; /* a table without indexes: its rows are not looked at */
        token = wc_token(v.pk, v.pk_len);
        while (st == WC_OK && wc_mutation_next(&v, &en) == 1) {
            wc_row_view rv;
            wc_cell c;

            if (en.kind != WC_KIND_ROW || !wc_row_parse(en.blob, en.blob_len, &rv))
                continue;
            while (st == WC_OK && wc_row_next_cell(&rv, &c) == 1) {
                for (size_t i = 0; i < e->nindexes && st == WC_OK; i++) {
                    const wc__index *ix = &e->indexes[i];
                    if (ix->base_id != v.table_id || ix->cell_id != c.column ||
                        !wc__indexable(&c))
                        continue;
                    st = wc__index_entry(&b, &key, ix, token, v.pk, v.pk_len, en.ck, en.ck_len,
                                         &c);
                    added++;
                }
            }
        }
    }
    if (st == WC_OK && added > 0 && (st = wc_batch_builder_finish(&b, &done, &dlen)) == WC_OK) {
        wc_buf_reset(out);
        wc_buf_append(out, done, dlen);
        if ((st = wc_buf_status(out)) == WC_OK)
            *augmented = true;
    }
    wc_buf_free(&key);
    wc_batch_builder_free(&b);
    return st;
}

/* ---------------------------------------------------------------- sync and backfill */

/* Write the entries of every row of ix's base table (pages of WC__INDEX_BACKFILL_ROWS). */
static wc_status wc__index_backfill(wc_engine *e, const wc__index *ix)
{
    wc_read_request req;
    wc_page *page = NULL;
    wc_batch_builder b;
    wc_buf key, paging;
    wc_status st;

    memset(&req, 0, sizeof(req));
    req.table_id = ix->base_id;
    req.start.unbounded = req.end.unbounded = true;
    req.columns = &ix->cell_id;
    req.ncolumns = 1;
    req.page_rows = WC__INDEX_BACKFILL_ROWS;
    wc_batch_builder_init(&b);
    wc_buf_init(&key);
    wc_buf_init(&paging);
    for (;;) {
        const uint8_t *rec;
        size_t rlen;

        if ((st = wc_engine_read(e, &req, &page)) != WC_OK)
            break;
        wc_batch_builder_reset(&b);
        for (size_t i = 0; i < page->nrows && st == WC_OK; i++) {
            const wc_result_row *r = &page->rows[i];
            for (uint32_t j = 0; j < r->ncells && st == WC_OK; j++)
                if (!r->is_static && r->cells[j].column == ix->cell_id &&
                    wc__indexable(&r->cells[j]))
                    st = wc__index_entry(&b, &key, ix, r->token, r->pk, r->pk_len, r->ck,
                                         r->ck_len, &r->cells[j]);
        }
        if (st == WC_OK && wc_batch_builder_count(&b) > 0 &&
            (st = wc_batch_builder_finish(&b, &rec, &rlen)) == WC_OK)
            st = wc__apply_record(e, rec, rlen);
        if (st != WC_OK || !page->more)
            break;
        wc_buf_reset(&paging);
        wc_buf_append(&paging, page->paging_state, page->paging_state_len);
        if ((st = wc_buf_status(&paging)) != WC_OK)
            break;
        req.paging_state = paging.data;
        req.paging_state_len = paging.len;
        wc_page_free(page);
        page = NULL;
    }
    wc_page_free(page);
    wc_buf_free(&paging);
    wc_buf_free(&key);
    wc_batch_builder_free(&b);
    return st;
}

/* The hidden table def of ix (building or built) with base's gc_grace. */
static void wc__index_def(wc_table_def *d, const wc__index *ix, const char *base_name,
                          uint32_t gc_grace, bool building)
{
    wc_table_def_default(d);
    d->id = ix->index_id;
    d->gc_grace_seconds = gc_grace;
    /* informational past the state prefix: a long name is cut */
    if (snprintf(d->name, sizeof(d->name), "%s%s#%s",
                 building ? WC__INDEX_BUILDING : WC__INDEX_BUILT, base_name,
                 ix->name) >= (int)sizeof(d->name))
        d->name[sizeof(d->name) - 1] = '\0';
}

wc_status wc__index_sync(wc_engine *e)
{
    wc__index *want = NULL;
    size_t nwant = 0;
    wc_table_def *defs = NULL;
    size_t ndefs = 0;
    wc_status st = WC_OK;

    pthread_mutex_lock(&e->index_mu);
    /* every table's definition, as of now */
    pthread_rwlock_rdlock(&e->tables_mu);
    defs = wc_calloc(e->ntables ? e->ntables : 1, sizeof(*defs));
    for (size_t i = 0; defs != NULL && i < e->ntables && st == WC_OK; i++)
        if ((st = wc_table_def_copy(&defs[i], &e->tables[i]->def)) == WC_OK)
            ndefs++;
    pthread_rwlock_unlock(&e->tables_mu);
    if (defs == NULL && st == WC_OK)
        st = wc_error(WC_NO_MEMORY, "out of memory listing indexes");
    for (size_t i = 0; i < ndefs && st == WC_OK; i++)
        if ((defs[i].id & WC_INDEX_ID_BIT) == 0 &&
            (st = wc__index_list(&defs[i], &want, &nwant)) != WC_OK) {
            /* the table keeps working without (those) indexes */
            wc__engine_log(e, WC_LOG_WARNING, "%s", wc_last_error());
            wc_clear_error();
            st = WC_OK;
        }
    if (st != WC_OK)
        goto done;
    /* which are built already */
    for (size_t i = 0; i < nwant; i++)
        for (size_t j = 0; j < ndefs; j++)
            if (defs[j].id == want[i].index_id &&
                strncmp(defs[j].name, WC__INDEX_BUILT, strlen(WC__INDEX_BUILT)) == 0)
                want[i].built = true;
    /* hidden tables no longer wanted, or left half-built, go */
    for (size_t j = 0; j < ndefs && st == WC_OK; j++) {
        bool keep = false;
        if ((defs[j].id & WC_INDEX_ID_BIT) == 0)
            continue;
        for (size_t i = 0; i < nwant; i++)
            if (want[i].index_id == defs[j].id && want[i].built)
                keep = true;
        if (!keep && (st = wc_engine_drop_table(e, defs[j].id)) != WC_OK)
            goto done;
    }
    /* writes maintain every wanted index from here on; reads use the built ones */
    {
        wc__index *pub = wc_malloc((nwant ? nwant : 1) * sizeof(*pub));
        if (pub == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory publishing indexes");
            goto done;
        }
        memcpy(pub, want, nwant * sizeof(*pub));
        wc__index_publish(e, pub, nwant);
    }
    for (size_t i = 0; i < nwant && st == WC_OK; i++) {
        const wc_table_def *base = NULL;
        wc_table_def d;

        if (want[i].built)
            continue;
        for (size_t j = 0; j < ndefs; j++)
            if (defs[j].id == want[i].base_id)
                base = &defs[j];
        wc__index_def(&d, &want[i], base->name, base->gc_grace_seconds, true);
        if ((st = wc_engine_create_table(e, &d)) != WC_OK ||
            (st = wc__index_backfill(e, &want[i])) != WC_OK)
            break;
        wc__index_def(&d, &want[i], base->name, base->gc_grace_seconds, false);
        if ((st = wc_engine_alter_table(e, &d)) != WC_OK)
            break;
        want[i].built = true;
        wc__engine_log(e, WC_LOG_INFO, "built secondary index \"%s\" of table \"%s\"",
                       want[i].name, base->name);
    }
    if (st == WC_OK) {
        wc__index_publish(e, want, nwant);
        want = NULL;
    }
done:
    pthread_mutex_unlock(&e->index_mu);
    for (size_t i = 0; i < ndefs; i++)
        wc_table_def_clear(&defs[i]);
    wc_free(defs);
    wc_free(want);
    return st;
}

/* ---------------------------------------------------------------- reads */

/* ix of table base_id called name, copied out (registry under tables_mu).  WC_NOT_FOUND. */
static wc_status wc__index_find(wc_engine *e, uint32_t base_id, const char *name, wc__index *out)
{
    wc_status st;

    pthread_rwlock_rdlock(&e->tables_mu);
    st = wc_error(WC_NOT_FOUND, "table %u has no index \"%s\"", base_id, name);
    for (size_t i = 0; i < e->nindexes; i++)
        if (e->indexes[i].base_id == base_id && strcmp(e->indexes[i].name, name) == 0) {
            *out = e->indexes[i];
            wc_clear_error();
            st = WC_OK;
        }
    pthread_rwlock_unlock(&e->tables_mu);
    return st;
}

/* Split an index clustering key; false if malformed. */
static bool wc__index_split(const wc_result_row *r, const uint8_t **pk, size_t *pk_len,
                            const uint8_t **ck, size_t *ck_len)
{
    if (r->ck_len < 10)
        return false;
    *pk_len = ((size_t)r->ck[8] << 8) | r->ck[9];
    if (r->ck_len < 10 + *pk_len)
        return false;
    *pk = r->ck + 10;
    *ck = r->ck + 10 + *pk_len;
    *ck_len = r->ck_len - 10 - *pk_len;
    return true;
}

static void wc__stats_add(wc_read_stats *a, const wc_read_stats *b)
{
    a->memtables_read += b->memtables_read;
    a->sstables_read += b->sstables_read;
    a->bloom_skips += b->bloom_skips;
    a->range_skips += b->range_skips;
    a->blocks_read += b->blocks_read;
    a->cache_hits += b->cache_hits;
    a->rows_scanned += b->rows_scanned;
    a->tombstones_scanned += b->tombstones_scanned;
}

/*
 * Check entry r (of value) against its base row and append the base row
 * (with its static row first when asked) to out if it still holds value;
 * else add the entry's deletion to stale.  *added counts clustering rows.
 */
static wc_status wc__index_check(wc_engine *e, const wc_read_request *req, const wc__index *ix,
                                 const uint32_t *cols, size_t ncols, const wc_result_row *r,
                                 const uint8_t *value, size_t len, wc_page *out,
                                 wc_batch_builder *stale, size_t *added)
{
    wc_read_request br;
    wc_page *bp = NULL;
    const uint8_t *pk, *ck;
    size_t pk_len, ck_len;
    bool match = false;
    wc_status st;

    if (!wc__index_split(r, &pk, &pk_len, &ck, &ck_len))
        return wc_error(WC_CORRUPTION, "malformed entry in index \"%s\"", ix->name);
    memset(&br, 0, sizeof(br));
    br.table_id = req->table_id;
    br.pk = pk;
    br.pk_len = pk_len;
    br.start.key = br.end.key = ck;
    br.start.len = br.end.len = ck_len;
    br.start.inclusive = br.end.inclusive = true;
    br.start.unbounded = br.end.unbounded = ck_len == 0;
    br.include_static = req->include_static;
    br.columns = cols;
    br.ncolumns = ncols;
    br.now_sec = req->now_sec;
    br.page_rows = 2;
    br.tombstone_failure_threshold = req->tombstone_failure_threshold;
    if ((st = wc_engine_read(e, &br, &bp)) != WC_OK)
        return st;
    wc__stats_add(&out->stats, &bp->stats);
    for (size_t i = 0; i < bp->nrows; i++) {
        const wc_result_row *b = &bp->rows[i];
        if (b->is_static || b->ck_len != ck_len || memcmp(b->ck, ck, ck_len) != 0)
            continue;
        for (uint32_t j = 0; j < b->ncells; j++)
            if (b->cells[j].column == ix->cell_id && wc__indexable(&b->cells[j]) &&
                b->cells[j].len == len && memcmp(b->cells[j].value, value, len) == 0)
                match = true;
    }
    for (size_t i = 0; match && i < bp->nrows && st == WC_OK; i++) {
        st = wc__page_add_row(out, &bp->rows[i], req->columns, req->columns ? req->ncolumns : 0);
        if (!bp->rows[i].is_static)
            (*added)++;
    }
    if (!match && r->live_ts != WC_NO_TIMESTAMP) {
        /* stale: its deletion shadows this entry, never a newer write of the value */
        wc_mutation *m = wc_batch_builder_begin(stale, ix->index_id, value, len);
        wc_rowb *rb = wc_mutation_row_begin(m, false, r->ck, r->ck_len);
        wc_rowb_deletion(rb, r->live_ts, (uint32_t)wc__engine_now(e));
        wc_mutation_row_end(m);
        if (wc_batch_builder_end(stale) != WC_OK)
            wc_clear_error(); /* only cleanup */
    }
    wc_page_free(bp);
    return st;
}

/* cols := req's columns plus cell (ascending), into a wc_malloc'd array. */
static wc_status wc__index_columns(const wc_read_request *req, uint32_t cell, uint32_t **cols,
                                   size_t *n)
{
    size_t k = 0;

    *cols = NULL;
    *n = 0;
    if (req->columns == NULL)
        return WC_OK; /* every column */
    if ((*cols = wc_malloc((req->ncolumns + 1) * sizeof(**cols))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory reading an index");
    for (size_t i = 0; i < req->ncolumns; i++) {
        if (req->columns[i] > cell && (k == 0 || (*cols)[k - 1] < cell))
            (*cols)[k++] = cell;
        if (req->columns[i] != cell)
            (*cols)[k++] = req->columns[i];
    }
    if (k == 0 || (*cols)[k - 1] < cell)
        (*cols)[k++] = cell;
    *n = k;
    return WC_OK;
}

wc_status wc_engine_index_read(wc_engine *e, const wc_read_request *req, const char *name,
                               const uint8_t *value, size_t len, wc_page **out)
{
    wc__index ix;
    wc_read_request ir;
    wc_page *page = NULL, *ip = NULL;
    wc_batch_builder stale;
    wc_buf paging;
    uint32_t *cols = NULL;
    size_t ncols = 0, want, got = 0;
    uint8_t lo[8], hi[8];
    bool more = false;
    wc_status st;

    *out = NULL;
    if ((st = wc__index_find(e, req->table_id, name, &ix)) != WC_OK)
        return st;
    if (!ix.built)
        return wc_error(WC_UNAVAILABLE, "index \"%s\" is still being built", name);
    if (len > WC_MAX_PK_LEN) {
        /* no such value can be indexed: nothing matches */
        if ((page = wc__page_new()) == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory reading an index");
        *out = page;
        return wc__page_done(page, NULL, 0, false);
    }
    want = req->page_rows ? req->page_rows : 1000;
    if (req->limit > 0 && req->limit < want)
        want = (size_t)req->limit;
    if ((st = wc__index_columns(req, ix.cell_id, &cols, &ncols)) != WC_OK)
        return st;
    wc_batch_builder_init(&stale);
    wc_buf_init(&paging);
    if ((page = wc__page_new()) == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory reading an index");
        goto fail;
    }
    memset(&ir, 0, sizeof(ir));
    ir.table_id = ix.index_id;
    ir.pk = value;
    ir.pk_len = len;
    ir.start.unbounded = ir.end.unbounded = true;
    if (req->token_range) {
        /* entries sort by token first: the range is a slice of the value's entries */
        if (!req->start.unbounded) {
            ir.start = req->start;
            ir.start.inclusive = false;
        } else if (req->token_start != INT64_MIN) {
            wc_token_encode(lo, req->token_start);
            ir.start.key = lo;
            ir.start.len = sizeof(lo);
            ir.start.unbounded = ir.start.inclusive = false;
        }
        wc_token_encode(hi, req->token_end);
        ir.end.key = hi;
        ir.end.len = sizeof(hi);
        ir.end.unbounded = false;
        ir.end.inclusive = true; /* a prefix: every entry of token_end */
    }
    ir.now_sec = req->now_sec;
    ir.tombstone_failure_threshold = req->tombstone_failure_threshold;
    ir.paging_state = req->paging_state;
    ir.paging_state_len = req->paging_state_len;
    for (;;) {
        ir.page_rows = want - got;
        if ((st = wc_engine_read(e, &ir, &ip)) != WC_OK)
            goto fail;
        wc__stats_add(&page->stats, &ip->stats);
        for (size_t i = 0; i < ip->nrows && st == WC_OK; i++)
            st = wc__index_check(e, req, &ix, cols, ncols, &ip->rows[i], value, len, page,
                                 &stale, &got);
        if (st != WC_OK)
            goto fail;
        more = ip->more;
        wc_buf_reset(&paging);
        if (more)
            wc_buf_append(&paging, ip->paging_state, ip->paging_state_len);
        if ((st = wc_buf_status(&paging)) != WC_OK)
            goto fail;
        wc_page_free(ip);
        ip = NULL;
        if (!more || got >= want)
            break;
        ir.paging_state = paging.data;
        ir.paging_state_len = paging.len;
    }
    if (req->limit > 0 && got >= req->limit)
        more = false;
    if ((st = wc__page_done(page, paging.data, paging.len, more)) != WC_OK)
        goto fail;
    if (wc_batch_builder_count(&stale) > 0) {
        const uint8_t *rec;
        size_t rlen;
        if (wc_batch_builder_finish(&stale, &rec, &rlen) != WC_OK ||
            wc__apply_record(e, rec, rlen) != WC_OK)
            wc_clear_error(); /* only cleanup: the next read tries again */
    }
    *out = page;
    page = NULL;
fail:
    wc_page_free(ip);
    wc_page_free(page);
    wc_buf_free(&paging);
    wc_batch_builder_free(&stale);
    wc_free(cols);
    return st;
}
