/*
 * schema_text.c - convert the options text of catalog format 2 into the
 * typed schema (wc_schema_from_text in schema_def.h).  That text was
 *
 *   replication=<SimpleStrategy:N | NetworkTopologyStrategy:dc=N,...>\n
 *   schema=keyspace=<ks>\n table=<t>\n replication=<map>\n
 *          [compaction=<map>\n] default_time_to_live=<n>\n
 *          gc_grace_seconds=<n>\n primary_key=<list>\n
 *          [clustering_order=<list>\n]
 *          column=<ident> <cell id> <type>[ static| writetime=<ident>| ttl=<ident>]\n ...
 *          [owner_database=<oid> <name>\n owner_relation=... owner_role=...]
 *
 * Identifiers, key lists and maps are read with the CQL-literal parser.
 * Everything the conversion allocates is released before it returns.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cql_literal.h"
#include "schema_def.h"

typedef struct wc__conv {
    char *text;        /* mutable copy of the input, cut into lines */
    wc_cql_doc **docs; /* parsed pieces whose strings the schema points to */
    size_t ndocs, capdocs;
    void **mem; /* other allocations */
    size_t nmem, capmem;
    bool oom;
} wc__conv;

static void *wc__conv_keep(wc__conv *c, void *p)
{
    if (p == NULL) {
        c->oom = true;
        return NULL;
    }
    if (c->nmem == c->capmem) {
        size_t cap = c->capmem ? c->capmem * 2 : 16;
        void **n = wc_realloc(c->mem, cap * sizeof(*n));
        if (n == NULL) {
            wc_free(p);
            c->oom = true;
            return NULL;
        }
        c->mem = n;
        c->capmem = cap;
    }
    c->mem[c->nmem++] = p;
    return p;
}

static bool wc__conv_doc(wc__conv *c, wc_cql_doc *d)
{
    if (c->ndocs == c->capdocs) {
        size_t cap = c->capdocs ? c->capdocs * 2 : 16;
        wc_cql_doc **n = wc_realloc(c->docs, cap * sizeof(*n));
        if (n == NULL) {
            wc_cql_doc_free(d);
            c->oom = true;
            return false;
        }
        c->docs = n;
        c->capdocs = cap;
    }
    c->docs[c->ndocs++] = d;
    return true;
}

/* The tokens of s[0..len), kept until the end; NULL on error. */
static wc_cql_doc *wc__conv_tokens(wc__conv *c, const char *s, size_t len)
{
    wc_cql_doc *d;
    wc_cql_error err;
    wc_status st = wc_cql_tokenize(s, len, &d, &err);

    if (st == WC_NO_MEMORY)
        c->oom = true;
    if (st != WC_OK || !wc__conv_doc(c, d))
        return NULL;
    return d;
}

/* s[0..len) as exactly one identifier; NULL if it is not one. */
static const char *wc__conv_ident(wc__conv *c, const char *s, size_t len)
{
    wc_cql_doc *d = wc__conv_tokens(c, s, len);

    if (d == NULL || wc_cql_ntokens(d) != 2 || wc_cql_token(d, 0)->kind != WC_CQL_IDENTIFIER)
        return NULL;
    return wc_cql_token(d, 0)->text;
}

/* A list of identifiers (the key columns) with optional ASC/DESC after each. */
typedef struct wc__keylist {
    const char *names[256];
    bool desc[256];
    size_t n;
} wc__keylist;

static bool wc__conv_is_word(const wc_cql_value *t, const char *w)
{
    return t->kind == WC_CQL_IDENTIFIER && !t->quoted && strcmp(t->text, w) == 0;
}

static bool wc__conv_punct(const wc_cql_value *t, char ch)
{
    return t->kind == WC_CQL_PUNCT && t->text[0] == ch;
}

/*
 * primary_key "(a, b)" or "((a, b), c)": the partition columns into pk, the
 * clustering columns into ck.  clustering_order "c DESC, d ASC" when
 * order_only: every identifier into ck with its direction.
 */
static bool wc__conv_keys(wc__conv *c, const char *s, bool order_only, wc__keylist *pk,
                          wc__keylist *ck)
{
    wc_cql_doc *d = wc__conv_tokens(c, s, strlen(s));
    size_t i = 0, n;
    bool nested = false;

    if (d == NULL)
        return false;
    n = wc_cql_ntokens(d) - 1;
    if (!order_only) {
        if (n < 3 || !wc__conv_punct(wc_cql_token(d, 0), '('))
            return false;
        i = 1;
        if (wc__conv_punct(wc_cql_token(d, 1), '(')) {
            nested = true;
            i = 2;
        }
    }
    while (i < n) {
        const wc_cql_value *t = wc_cql_token(d, i++);
        wc__keylist *l = order_only || (!nested && pk->n > 0) ? ck : pk;

        if (t->kind != WC_CQL_IDENTIFIER || l->n == 256)
            return false;
        l->names[l->n] = t->text;
        l->desc[l->n] = false;
        if (order_only && i < n &&
            (wc__conv_is_word(wc_cql_token(d, i), "asc") ||
             wc__conv_is_word(wc_cql_token(d, i), "desc")))
            l->desc[l->n] = wc__conv_is_word(wc_cql_token(d, i++), "desc");
        l->n++;
        if (i < n && wc__conv_punct(wc_cql_token(d, i), ',')) {
            i++;
            continue;
        }
        if (nested && i < n && wc__conv_punct(wc_cql_token(d, i), ')')) {
            nested = false; /* end of the partition key */
            i++;
            if (i < n && wc__conv_punct(wc_cql_token(d, i), ','))
                i++;
            continue;
        }
        if (!order_only && i + 1 == n && wc__conv_punct(wc_cql_token(d, i), ')'))
            return pk->n > 0;
        return order_only && i == n;
    }
    return order_only;
}

/* "<oid> <name>" of an owner line. */
static bool wc__conv_owner(const char *v, uint32_t *oid, const char **name)
{
    char *end;
    unsigned long n = strtoul(v, &end, 10);

    if (end == v || *end != ' ' || n == 0 || n > UINT32_MAX)
        return false;
    *oid = (uint32_t)n;
    *name = end + 1;
    return true;
}

/* The compact replication "SimpleStrategy:3" / "NetworkTopologyStrategy:dc1=3,dc2=2". */
static bool wc__conv_replication(wc__conv *c, char *v, wc_schema *s)
{
    char *colon = strchr(v, ':');
    wc_schema_replica *rep;
    size_t n = 1;

    if (colon == NULL)
        return false;
    *colon++ = '\0';
    s->replication_class = v;
    for (const char *p = colon; *p; p++)
        n += *p == ',';
    if ((rep = wc__conv_keep(c, wc_calloc(n, sizeof(*rep)))) == NULL)
        return false;
    s->replicas = rep;
    s->nreplicas = n;
    if (strcmp(v, "SimpleStrategy") == 0) {
        char *end;
        rep[0].factor = (uint32_t)strtoul(colon, &end, 10);
        return n == 1 && end != colon && *end == '\0';
    }
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(colon, ','), *eq, *end;
        if (comma)
            *comma = '\0';
        if ((eq = strchr(colon, '=')) == NULL)
            return false;
        *eq = '\0';
        rep[i].dc = colon;
        rep[i].factor = (uint32_t)strtoul(eq + 1, &end, 10);
        if (end == eq + 1 || *end != '\0')
            return false;
        colon = comma ? comma + 1 : end;
    }
    return true;
}

/* A compaction map as name/value pairs; values keep their CQL text. */
static bool wc__conv_map(wc__conv *c, const char *v, wc_schema *s)
{
    wc_cql_doc *d;
    wc_cql_error err;
    wc_schema_option *o;
    size_t n = 0;
    wc_status st = wc_cql_parse_options(v, strlen(v), &d, &err);

    if (st == WC_NO_MEMORY)
        c->oom = true;
    if (st != WC_OK || !wc__conv_doc(c, d))
        return false;
    if ((o = wc__conv_keep(c, wc_calloc(wc_cql_doc_root(d)->n + 1, sizeof(*o)))) == NULL)
        return false;
    for (const wc_cql_value *e = wc_cql_doc_root(d)->child; e; e = e->next) {
        char *val = wc__conv_keep(c, wc_malloc(e->end - e->pos + 1));
        if (val == NULL)
            return false;
        memcpy(val, v + e->pos, e->end - e->pos);
        val[e->end - e->pos] = '\0';
        o[n].name = e->key->text;
        o[n].value = val;
        n++;
    }
    s->compaction = o;
    s->ncompaction = n;
    return true;
}

/* One "column=" line into col; the kind of key columns is set later. */
static bool wc__conv_column(wc__conv *c, char *v, wc_schema_column *col)
{
    char *p = v, *sp, *end, *extra;
    unsigned long id;

    if (*p == '"') {
        for (p++; *p && !(*p == '"' && p[1] != '"'); p += *p == '"' ? 2 : 1)
            ;
        if (*p == '\0')
            return false;
        p++;
    } else {
        p = strchr(p, ' ');
    }
    if (p == NULL || *p != ' ' || (col->name = wc__conv_ident(c, v, (size_t)(p - v))) == NULL)
        return false;
    id = strtoul(p + 1, &end, 10);
    if (end == p + 1 || *end != ' ' || id > UINT32_MAX)
        return false;
    col->cell_id = (uint32_t)id;
    col->type = end + 1;
    col->kind = WC_COL_REGULAR;
    extra = NULL;
    if ((sp = strstr(col->type, " static")) != NULL && sp[7] == '\0')
        col->kind = WC_COL_STATIC;
    else if ((sp = strstr(col->type, " writetime=")) != NULL)
        col->kind = WC_COL_WRITETIME, extra = sp + 11;
    else if ((sp = strstr(col->type, " ttl=")) != NULL)
        col->kind = WC_COL_TTL, extra = sp + 5;
    if (sp != NULL)
        *sp = '\0';
    if (extra != NULL && (col->meta_of = wc__conv_ident(c, extra, strlen(extra))) == NULL)
        return false;
    return *col->type != '\0';
}

static bool wc__conv_lines(wc__conv *c, wc_schema *s, uint32_t table_id)
{
    char *line = strchr(c->text, '\n'), *next;
    const char *pk_text = NULL, *order_text = NULL;
    wc_schema_column *cols = NULL;
    size_t ncols = 0, cap = 0;
    wc__keylist *pk, *ck, *ord;

    s->version = 1;
    s->table_id = table_id;
    /* line 1: the compact replication; line 2 on: the schema lines after "schema=" */
    if (line == NULL || strncmp(line + 1, "schema=", 7) != 0)
        return false;
    *line = '\0';
    if (!wc__conv_replication(c, c->text + strlen("replication="), s))
        return false;
    for (line += 8; line != NULL && !c->oom; line = next) {
        char *eq;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == '\0')
            continue;
        if ((eq = strchr(line, '=')) == NULL)
            goto fail;
        *eq++ = '\0';
        if (strcmp(line, "keyspace") == 0) {
            s->keyspace = eq;
        } else if (strcmp(line, "table") == 0) {
            s->table = eq;
        } else if (strcmp(line, "compaction") == 0) {
            if (!wc__conv_map(c, eq, s))
                goto fail;
        } else if (strcmp(line, "default_time_to_live") == 0) {
            s->default_ttl = (uint32_t)strtoul(eq, NULL, 10);
        } else if (strcmp(line, "gc_grace_seconds") == 0) {
            s->gc_grace_seconds = (uint32_t)strtoul(eq, NULL, 10);
        } else if (strcmp(line, "primary_key") == 0) {
            pk_text = eq;
        } else if (strcmp(line, "clustering_order") == 0) {
            order_text = eq;
        } else if (strcmp(line, "column") == 0) {
            if (ncols == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                wc_schema_column *n = wc_realloc(cols, ncap * sizeof(*n));
                if (n == NULL) {
                    c->oom = true;
                    break;
                }
                cols = n;
                cap = ncap;
            }
            memset(&cols[ncols], 0, sizeof(cols[0]));
            if (!wc__conv_column(c, eq, &cols[ncols++]))
                goto fail;
        } else if (strcmp(line, "owner_database") == 0) {
            s->owner.present = wc__conv_owner(eq, &s->owner.db_id, &s->owner.db_name);
        } else if (strcmp(line, "owner_relation") == 0) {
            s->owner.present &= wc__conv_owner(eq, &s->owner.rel_id, &s->owner.rel_name);
        } else if (strcmp(line, "owner_role") == 0) {
            s->owner.present &= wc__conv_owner(eq, &s->owner.role_id, &s->owner.role_name);
        } /* "replication=<map>" of the schema lines repeats the first line */
    }
    if (cols != NULL && wc__conv_keep(c, cols) == NULL)
        return false;
    s->columns = cols;
    s->ncolumns = ncols;
    if (c->oom || s->table == NULL || pk_text == NULL)
        return false;
    pk = wc__conv_keep(c, wc_calloc(3, sizeof(*pk)));
    if (pk == NULL)
        return false;
    ck = pk + 1;
    ord = pk + 2;
    if (!wc__conv_keys(c, pk_text, false, pk, ck) ||
        (order_text != NULL && !wc__conv_keys(c, order_text, true, NULL, ord)))
        return false;
    for (size_t i = 0; i < ncols; i++) {
        for (size_t k = 0; k < pk->n; k++)
            if (strcmp(cols[i].name, pk->names[k]) == 0)
                cols[i].kind = WC_COL_PARTITION, cols[i].position = (uint32_t)k;
        for (size_t k = 0; k < ck->n; k++)
            if (strcmp(cols[i].name, ck->names[k]) == 0) {
                cols[i].kind = WC_COL_CLUSTERING;
                cols[i].position = (uint32_t)k;
                for (size_t o = 0; o < ord->n; o++)
                    if (strcmp(ord->names[o], ck->names[k]) == 0)
                        cols[i].descending = ord->desc[o];
            }
    }
    return true;
fail:
    wc_free(cols);
    return false;
}

wc_status wc_schema_from_text(const uint8_t *text, size_t len, uint32_t table_id, wc_buf *out)
{
    static const char prefix[] = "replication=";
    wc__conv c = {0};
    wc_schema s;
    wc_status st;

    if (len < sizeof(prefix) - 1 || memcmp(text, prefix, sizeof(prefix) - 1) != 0 ||
        memchr(text, '\0', len) != NULL)
        return WC_OK; /* empty, or not written by the node: no schema */
    wc_schema_init(&s);
    if ((c.text = wc_malloc(len + 1)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory converting the schema of table %u", table_id);
    memcpy(c.text, text, len);
    c.text[len] = '\0';
    if (wc__conv_lines(&c, &s, table_id))
        st = wc_schema_encode(&s, out);
    else if (c.oom)
        st = wc_error(WC_NO_MEMORY, "out of memory converting the schema of table %u", table_id);
    else
        st = wc_error(WC_CORRUPTION, "the schema text of table %u does not parse", table_id);
    for (size_t i = 0; i < c.ndocs; i++)
        wc_cql_doc_free(c.docs[i]);
    for (size_t i = 0; i < c.nmem; i++)
        wc_free(c.mem[i]);
    wc_free(c.docs);
    wc_free(c.mem);
    wc_free(c.text);
    return st;
}
