/*
 * schema_def.c - encode and decode the typed table schema (schema_def.h,
 * layout in schema_def_format.h).  The decoder reads the field list twice:
 * once to count the repeated records and check every length against the
 * buffer, once to fill arrays of exactly that size.  Everything it
 * allocates hangs off one list in wc_schema.mem__.
 */
#include "schema_def.h"

#include <string.h>

#include "alloc.h"
#include "schema_def_format.h"

/* ---------------------------------------------------------------- encoder */

static void wc__sf_varint(wc_buf *b, uint32_t tag, uint64_t v)
{
    wc_buf_put_varint(b, tag);
    wc_buf_put_varint(b, (uint64_t)wc_varint_len(v));
    wc_buf_put_varint(b, v);
}

static void wc__sf_str(wc_buf *b, uint32_t tag, const char *s)
{
    if (s == NULL)
        return;
    wc_buf_put_varint(b, tag);
    wc_buf_put_bytes(b, s, strlen(s));
}

/* A nested record: tag, then the length of rec's bytes, then them. */
static void wc__sf_record(wc_buf *b, uint32_t tag, const wc_buf *rec)
{
    wc_buf_put_varint(b, tag);
    wc_buf_put_bytes(b, rec->data, rec->len);
}

static void wc__sf_option(wc_buf *b, wc_buf *rec, uint32_t tag, const wc_schema_option *o)
{
    wc_buf_reset(rec);
    wc__sf_str(rec, WC_SO_NAME, o->name);
    wc__sf_str(rec, WC_SO_VALUE, o->value);
    wc__sf_record(b, tag, rec);
}

void wc_schema_init(wc_schema *s)
{
    memset(s, 0, sizeof(*s));
    s->gc_grace_seconds = 864000;
}

wc_status wc_schema_encode(const wc_schema *s, wc_buf *out)
{
    wc_buf rec;
    wc_status st = WC_OK;

    if (s->table == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "a table schema needs a table name");
    for (size_t i = 0; i < s->ncolumns; i++) {
        const wc_schema_column *c = &s->columns[i];
        if (c->name == NULL || c->kind < WC_COL_PARTITION || c->kind > WC_COL_TTL)
            return wc_error(WC_INVALID_ARGUMENT, "column %zu of table \"%s\" has no name or kind %u",
                            i, s->table, c->kind);
    }
    wc_buf_init(&rec);
    wc_buf_put_u32(out, WC_SCHEMA_MAGIC);
    wc_buf_put_u8(out, WC_SCHEMA_FORMAT);
    wc__sf_varint(out, WC_SF_VERSION, s->version);
    wc__sf_str(out, WC_SF_KEYSPACE, s->keyspace);
    wc__sf_str(out, WC_SF_REPL_CLASS, s->replication_class);
    for (size_t i = 0; i < s->nreplicas; i++) {
        wc_buf_reset(&rec);
        wc__sf_str(&rec, WC_SR_DC, s->replicas[i].dc);
        wc__sf_varint(&rec, WC_SR_FACTOR, s->replicas[i].factor);
        wc__sf_record(out, WC_SF_REPLICA, &rec);
    }
    wc__sf_str(out, WC_SF_TABLE, s->table);
    wc__sf_varint(out, WC_SF_TABLE_ID, s->table_id);
    wc__sf_varint(out, WC_SF_DEFAULT_TTL, s->default_ttl);
    wc__sf_varint(out, WC_SF_GC_GRACE, s->gc_grace_seconds);
    for (size_t i = 0; i < s->ncompaction; i++)
        wc__sf_option(out, &rec, WC_SF_COMPACTION, &s->compaction[i]);
    for (size_t i = 0; i < s->nproperties; i++)
        wc__sf_option(out, &rec, WC_SF_PROPERTY, &s->properties[i]);
    if (s->owner.present) {
        wc_buf_reset(&rec);
        wc__sf_varint(&rec, WC_SW_DB_ID, s->owner.db_id);
        wc__sf_varint(&rec, WC_SW_REL_ID, s->owner.rel_id);
        wc__sf_varint(&rec, WC_SW_ROLE_ID, s->owner.role_id);
        wc__sf_str(&rec, WC_SW_DB_NAME, s->owner.db_name);
        wc__sf_str(&rec, WC_SW_REL_NAME, s->owner.rel_name);
        wc__sf_str(&rec, WC_SW_ROLE_NAME, s->owner.role_name);
        wc__sf_str(&rec, WC_SW_ACCESS_METHOD, s->owner.access_method);
        wc__sf_record(out, WC_SF_OWNER, &rec);
    }
    for (size_t i = 0; i < s->ncolumns; i++) {
        const wc_schema_column *c = &s->columns[i];
        wc_buf_reset(&rec);
        wc__sf_str(&rec, WC_SC_NAME, c->name);
        wc__sf_str(&rec, WC_SC_TYPE, c->type);
        wc__sf_varint(&rec, WC_SC_TYPE_ID, c->type_id);
        wc__sf_varint(&rec, WC_SC_KIND, c->kind);
        wc__sf_varint(&rec, WC_SC_POSITION, c->position);
        wc__sf_varint(&rec, WC_SC_DESCENDING, c->descending);
        wc__sf_varint(&rec, WC_SC_CELL_ID, c->cell_id);
        wc__sf_str(&rec, WC_SC_META_OF, c->meta_of);
        wc__sf_str(&rec, WC_SC_CQL_TYPE, c->cql_type);
        wc__sf_record(out, WC_SF_COLUMN, &rec);
    }
    if (rec.failed)
        st = wc_error(WC_NO_MEMORY, "out of memory encoding a table schema");
    wc_buf_free(&rec);
    return st != WC_OK ? st : wc_buf_status(out);
}

/* ---------------------------------------------------------------- decoder */

typedef struct wc__sf_chunk {
    struct wc__sf_chunk *next;
    max_align_t data[];
} wc__sf_chunk;

typedef struct wc__sf_field {
    uint64_t tag;
    const uint8_t *p; /* payload */
    size_t len;
} wc__sf_field;

/* Next field of [*pp, end); false at the end.  *bad is set if it is malformed. */
static bool wc__sf_next(const uint8_t **pp, const uint8_t *end, wc__sf_field *f, bool *bad)
{
    if (*pp == end)
        return false;
    if (!wc_get_varint(pp, end, &f->tag) || f->tag == 0 || !wc_get_bytes(pp, end, &f->p, &f->len)) {
        *bad = true;
        return false;
    }
    return true;
}

static void *wc__sf_alloc(wc_schema *s, size_t n)
{
    wc__sf_chunk *c = wc_malloc(sizeof(*c) + (n ? n : 1));

    if (c == NULL)
        return NULL;
    c->next = s->mem__;
    s->mem__ = c;
    return c->data;
}

/* A payload as a NUL-terminated string; *bad on an embedded NUL. */
static const char *wc__sf_get_str(wc_schema *s, const wc__sf_field *f, bool *bad, bool *oom)
{
    char *r;

    if (memchr(f->p, '\0', f->len) != NULL) {
        *bad = true;
        return NULL;
    }
    if ((r = wc__sf_alloc(s, f->len + 1)) == NULL) {
        *oom = true;
        return NULL;
    }
    memcpy(r, f->p, f->len);
    r[f->len] = '\0';
    return r;
}

/* A payload that must be exactly one varint of at most max. */
static uint64_t wc__sf_get_num(const wc__sf_field *f, uint64_t max, bool *bad)
{
    const uint8_t *p = f->p;
    uint64_t v;

    if (!wc_get_varint(&p, f->p + f->len, &v) || p != f->p + f->len || v > max) {
        *bad = true;
        return 0;
    }
    return v;
}

typedef struct wc__sf_state {
    wc_schema *s;
    bool bad, oom;
} wc__sf_state;

#define WC__STR(f) wc__sf_get_str(x->s, (f), &x->bad, &x->oom)
#define WC__U32(f) ((uint32_t)wc__sf_get_num((f), UINT32_MAX, &x->bad))

static void wc__sf_replica(wc__sf_state *x, const wc__sf_field *r, wc_schema_replica *out)
{
    const uint8_t *p = r->p, *end = r->p + r->len;
    wc__sf_field f;

    while (wc__sf_next(&p, end, &f, &x->bad)) {
        if (f.tag == WC_SR_DC)
            out->dc = WC__STR(&f);
        else if (f.tag == WC_SR_FACTOR)
            out->factor = WC__U32(&f);
    }
}

static void wc__sf_option_rec(wc__sf_state *x, const wc__sf_field *r, wc_schema_option *out)
{
    const uint8_t *p = r->p, *end = r->p + r->len;
    wc__sf_field f;

    while (wc__sf_next(&p, end, &f, &x->bad)) {
        if (f.tag == WC_SO_NAME)
            out->name = WC__STR(&f);
        else if (f.tag == WC_SO_VALUE)
            out->value = WC__STR(&f);
    }
    if (out->name == NULL || out->value == NULL)
        x->bad = true;
}

static void wc__sf_owner(wc__sf_state *x, const wc__sf_field *r, wc_schema_owner *o)
{
    const uint8_t *p = r->p, *end = r->p + r->len;
    wc__sf_field f;

    o->present = true;
    while (wc__sf_next(&p, end, &f, &x->bad)) {
        switch (f.tag) {
        case WC_SW_DB_ID: o->db_id = WC__U32(&f); break;
        case WC_SW_REL_ID: o->rel_id = WC__U32(&f); break;
        case WC_SW_ROLE_ID: o->role_id = WC__U32(&f); break;
        case WC_SW_DB_NAME: o->db_name = WC__STR(&f); break;
        case WC_SW_REL_NAME: o->rel_name = WC__STR(&f); break;
        case WC_SW_ROLE_NAME: o->role_name = WC__STR(&f); break;
        case WC_SW_ACCESS_METHOD: o->access_method = WC__STR(&f); break;
        default: break;
        }
    }
}

static void wc__sf_column(wc__sf_state *x, const wc__sf_field *r, wc_schema_column *c)
{
    const uint8_t *p = r->p, *end = r->p + r->len;
    wc__sf_field f;

    while (wc__sf_next(&p, end, &f, &x->bad)) {
        switch (f.tag) {
        case WC_SC_NAME: c->name = WC__STR(&f); break;
        case WC_SC_TYPE: c->type = WC__STR(&f); break;
        case WC_SC_TYPE_ID: c->type_id = WC__U32(&f); break;
        case WC_SC_KIND: c->kind = WC__U32(&f); break;
        case WC_SC_POSITION: c->position = WC__U32(&f); break;
        case WC_SC_DESCENDING: c->descending = wc__sf_get_num(&f, 1, &x->bad) != 0; break;
        case WC_SC_CELL_ID: c->cell_id = WC__U32(&f); break;
        case WC_SC_META_OF: c->meta_of = WC__STR(&f); break;
        case WC_SC_CQL_TYPE: c->cql_type = WC__STR(&f); break;
        default: break;
        }
    }
    if (c->name == NULL || c->kind < WC_COL_PARTITION || c->kind > WC_COL_TTL)
        x->bad = true;
}

wc_status wc_schema_decode(const uint8_t *data, size_t len, wc_schema *out)
{
    const uint8_t *p = data, *end = data + len;
    size_t nrep = 0, ncomp = 0, nprop = 0, ncol = 0;
    wc_schema_replica *rep = NULL;
    wc_schema_option *comp = NULL, *prop = NULL;
    wc_schema_column *col = NULL;
    wc__sf_state x = {out, false, false};
    wc__sf_field f;
    uint32_t magic;
    uint8_t format;

    wc_schema_init(out);
    if (len > WC_SCHEMA_MAX_BYTES)
        return wc_error(WC_CORRUPTION, "table schema of %zu bytes exceeds %u", len,
                        WC_SCHEMA_MAX_BYTES);
    if (!wc_get_u32(&p, end, &magic) || magic != WC_SCHEMA_MAGIC || !wc_get_u8(&p, end, &format) ||
        format != WC_SCHEMA_FORMAT)
        return wc_error(WC_CORRUPTION, "not a table schema of format %u", WC_SCHEMA_FORMAT);
    /* pass 1: count the repeated records; every length is checked here */
    for (const uint8_t *q = p; wc__sf_next(&q, end, &f, &x.bad);) {
        nrep += f.tag == WC_SF_REPLICA;
        ncomp += f.tag == WC_SF_COMPACTION;
        nprop += f.tag == WC_SF_PROPERTY;
        ncol += f.tag == WC_SF_COLUMN;
    }
    if (x.bad)
        goto bad;
    /* each record takes at least 2 bytes of input: the products cannot overflow */
    if ((nrep && (rep = wc__sf_alloc(out, nrep * sizeof(*rep))) == NULL) ||
        (ncomp && (comp = wc__sf_alloc(out, ncomp * sizeof(*comp))) == NULL) ||
        (nprop && (prop = wc__sf_alloc(out, nprop * sizeof(*prop))) == NULL) ||
        (ncol && (col = wc__sf_alloc(out, ncol * sizeof(*col))) == NULL))
        goto oom;
    if (nrep)
        memset(rep, 0, nrep * sizeof(*rep));
    if (ncomp)
        memset(comp, 0, ncomp * sizeof(*comp));
    if (nprop)
        memset(prop, 0, nprop * sizeof(*prop));
    if (ncol)
        memset(col, 0, ncol * sizeof(*col));
    out->replicas = rep;
    out->compaction = comp;
    out->properties = prop;
    out->columns = col;
    /* pass 2: fill */
    while (!x.bad && !x.oom && wc__sf_next(&p, end, &f, &x.bad)) {
        switch (f.tag) {
        case WC_SF_VERSION: out->version = wc__sf_get_num(&f, UINT64_MAX, &x.bad); break;
        case WC_SF_KEYSPACE: out->keyspace = wc__sf_get_str(out, &f, &x.bad, &x.oom); break;
        case WC_SF_REPL_CLASS:
            out->replication_class = wc__sf_get_str(out, &f, &x.bad, &x.oom);
            break;
        case WC_SF_REPLICA: wc__sf_replica(&x, &f, &rep[out->nreplicas++]); break;
        case WC_SF_TABLE: out->table = wc__sf_get_str(out, &f, &x.bad, &x.oom); break;
        case WC_SF_TABLE_ID: out->table_id = (uint32_t)wc__sf_get_num(&f, UINT32_MAX, &x.bad); break;
        case WC_SF_DEFAULT_TTL:
            out->default_ttl = (uint32_t)wc__sf_get_num(&f, UINT32_MAX, &x.bad);
            break;
        case WC_SF_GC_GRACE:
            out->gc_grace_seconds = (uint32_t)wc__sf_get_num(&f, UINT32_MAX, &x.bad);
            break;
        case WC_SF_COMPACTION: wc__sf_option_rec(&x, &f, &comp[out->ncompaction++]); break;
        case WC_SF_PROPERTY: wc__sf_option_rec(&x, &f, &prop[out->nproperties++]); break;
        case WC_SF_OWNER: wc__sf_owner(&x, &f, &out->owner); break;
        case WC_SF_COLUMN: wc__sf_column(&x, &f, &col[out->ncolumns++]); break;
        default: break; /* a field of a newer writer */
        }
    }
    if (x.oom)
        goto oom;
    if (x.bad || out->table == NULL)
        goto bad;
    return WC_OK;
bad:
    return wc_error(WC_CORRUPTION, "malformed table schema (%zu bytes)", len);
oom:
    return wc_error(WC_NO_MEMORY, "out of memory decoding a table schema");
}

#undef WC__STR
#undef WC__U32

void wc_schema_free(wc_schema *s)
{
    wc__sf_chunk *c;

    if (s == NULL)
        return;
    c = s->mem__;
    while (c != NULL) {
        wc__sf_chunk *next = c->next;
        wc_free(c);
        c = next;
    }
    wc_schema_init(s);
}

const wc_schema_column *wc_schema_find_column(const wc_schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncolumns; i++)
        if (strcmp(s->columns[i].name, name) == 0)
            return &s->columns[i];
    return NULL;
}
