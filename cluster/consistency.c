/*
 * consistency.c - consistency level names, the block_for rule and the text
 * forms of replication descriptions (rules in consistency.h).  Pure code on
 * caller-owned values; thread-safe.
 */
#include "consistency.h"

#include "cql_literal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const wc__cl_names[WC_CL_COUNT] = {
    "ANY",          "ONE",         "TWO",    "THREE",       "QUORUM",      "ALL",
    "LOCAL_ONE",    "LOCAL_QUORUM", "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL",
};

#define WC__LOCATOR_PREFIX "org.apache.cassandra.locator."

/* ---------------------------------------------------------------- levels */

bool wc_consistency_valid(int cl)
{
    return cl >= 0 && cl < WC_CL_COUNT;
}

const char *wc_consistency_name(wc_consistency cl)
{
    return wc_consistency_valid((int)cl) ? wc__cl_names[cl] : "UNKNOWN";
}

wc_status wc_consistency_parse(const char *name, wc_consistency *out)
{
    if (name != NULL)
        for (int i = 0; i < WC_CL_COUNT; i++)
            if (strcasecmp(name, wc__cl_names[i]) == 0) {
                *out = (wc_consistency)i;
                return WC_OK;
            }
    return wc_error(WC_INVALID_ARGUMENT,
                    "unknown consistency level \"%.64s\" (valid: ANY, ONE, TWO, THREE, QUORUM, "
                    "ALL, LOCAL_ONE, LOCAL_QUORUM, EACH_QUORUM, SERIAL, LOCAL_SERIAL)",
                    name ? name : "");
}

static uint32_t wc__min(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

wc_status wc_consistency_block_for(wc_consistency cl, const wc_replication *r,
                                   uint32_t cluster_nodes, bool is_write, uint32_t *out)
{
    uint32_t rf, lrf, each = 0;

    if (!wc_consistency_valid((int)cl))
        return wc_error(WC_INVALID_ARGUMENT, "unknown consistency level %d", (int)cl);
    if (cl == WC_CL_ANY && !is_write)
        return wc_error(WC_INVALID_ARGUMENT, "consistency ANY is only supported for writes");
    if ((cl == WC_CL_SERIAL || cl == WC_CL_LOCAL_SERIAL) && is_write)
        return wc_error(WC_INVALID_ARGUMENT,
                        "consistency %s is only supported for reads; writes at it are "
                        "lightweight transactions (INSERT ... ON CONFLICT DO NOTHING)",
                        wc__cl_names[cl]);
    if (cluster_nodes == 0)
        cluster_nodes = 1;
    if (r->cls == WC_REPL_NETWORK_TOPOLOGY) {
        rf = 0;
        for (uint32_t i = 0; i < r->ndcs && i < WC_REPL_MAX_DCS; i++) {
            uint32_t f = wc__min(r->dcs[i].factor, cluster_nodes);
            rf += f;
            if (f)
                each += f / 2 + 1;
        }
        rf = wc__min(rf, cluster_nodes);
        /* The local data centre: with one node it is that node whatever the names. */
        lrf = cluster_nodes == 1 ? rf : (r->ndcs ? wc__min(r->dcs[0].factor, cluster_nodes) : 0);
        if (cluster_nodes == 1)
            each = rf ? 1 : 0;
    } else {
        rf = wc__min(r->replication_factor, cluster_nodes);
        lrf = rf;
        each = rf ? rf / 2 + 1 : 0;
    }
    switch (cl) {
    case WC_CL_ANY:
    case WC_CL_ONE:
    case WC_CL_LOCAL_ONE: *out = 1; break;
    case WC_CL_TWO: *out = 2; break;
    case WC_CL_THREE: *out = 3; break;
    case WC_CL_QUORUM:
    case WC_CL_SERIAL: *out = rf / 2 + 1; break;
    case WC_CL_ALL: *out = rf ? rf : 1; break;
    case WC_CL_LOCAL_QUORUM:
    case WC_CL_LOCAL_SERIAL: *out = lrf / 2 + 1; break;
    case WC_CL_EACH_QUORUM: *out = each ? each : 1; break;
    }
    if (rf == 0)
        return wc_error(WC_UNAVAILABLE, "consistency %s: the keyspace has no replicas",
                        wc__cl_names[cl]);
    return WC_OK;
}

wc_status wc_consistency_check(wc_consistency cl, const wc_replication *r, uint32_t cluster_nodes,
                               uint32_t live_replicas, bool is_write)
{
    uint32_t need;
    wc_status st = wc_consistency_block_for(cl, r, cluster_nodes, is_write, &need);

    if (st != WC_OK)
        return st;
    if (need > live_replicas)
        return wc_error(WC_UNAVAILABLE, "consistency %s needs %u replica%s, %u alive",
                        wc__cl_names[cl], need, need == 1 ? "" : "s", live_replicas);
    return WC_OK;
}

/* ---------------------------------------------------------------- replication */

void wc_replication_default(wc_replication *r)
{
    memset(r, 0, sizeof(*r));
    r->cls = WC_REPL_SIMPLE;
    r->replication_factor = 1;
}

static bool wc__dc_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

wc_status wc_replication_validate(const wc_replication *r)
{
    if (r->cls == WC_REPL_SIMPLE) {
        if (r->replication_factor < 1 || r->replication_factor > WC_REPL_MAX_FACTOR)
            return wc_error(WC_INVALID_ARGUMENT,
                            "SimpleStrategy needs a replication_factor between 1 and %d, not %u",
                            WC_REPL_MAX_FACTOR, r->replication_factor);
        return WC_OK;
    }
    if (r->cls != WC_REPL_NETWORK_TOPOLOGY)
        return wc_error(WC_INVALID_ARGUMENT, "unknown replication class %d", (int)r->cls);
    if (r->ndcs < 1 || r->ndcs > WC_REPL_MAX_DCS)
        return wc_error(WC_INVALID_ARGUMENT,
                        "NetworkTopologyStrategy needs between 1 and %d data centres, not %u",
                        WC_REPL_MAX_DCS, r->ndcs);
    for (uint32_t i = 0; i < r->ndcs; i++) {
        size_t n = strnlen(r->dcs[i].name, WC_REPL_DC_NAME_MAX);
        if (n == 0 || n >= WC_REPL_DC_NAME_MAX)
            return wc_error(WC_INVALID_ARGUMENT,
                            "data centre names must have 1 to %d characters",
                            WC_REPL_DC_NAME_MAX - 1);
        for (size_t k = 0; k < n; k++)
            if (!wc__dc_char((unsigned char)r->dcs[i].name[k]))
                return wc_error(WC_INVALID_ARGUMENT,
                                "data centre name \"%s\" may only hold letters, digits, '_', '.' "
                                "and '-'",
                                r->dcs[i].name);
        if (r->dcs[i].factor > WC_REPL_MAX_FACTOR)
            return wc_error(WC_INVALID_ARGUMENT, "replication factor %u of \"%s\" exceeds %d",
                            r->dcs[i].factor, r->dcs[i].name, WC_REPL_MAX_FACTOR);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(r->dcs[j].name, r->dcs[i].name) == 0)
                return wc_error(WC_INVALID_ARGUMENT, "data centre \"%s\" is listed twice",
                                r->dcs[i].name);
    }
    if (wc_replication_total(r) == 0)
        return wc_error(WC_INVALID_ARGUMENT, "NetworkTopologyStrategy needs a non-zero factor");
    return WC_OK;
}

uint32_t wc_replication_total(const wc_replication *r)
{
    uint32_t t = 0;

    if (r->cls == WC_REPL_SIMPLE)
        return r->replication_factor;
    for (uint32_t i = 0; i < r->ndcs && i < WC_REPL_MAX_DCS; i++)
        t += r->dcs[i].factor;
    return t;
}

wc_status wc_replication_format(const wc_replication *r, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    int w;
    wc_status st = wc_replication_validate(r);

    if (st != WC_OK)
        return st;
    if (r->cls == WC_REPL_SIMPLE) {
        w = snprintf(out, cap, "SimpleStrategy:%u", r->replication_factor);
        if (w < 0 || (size_t)w >= cap)
            goto too_long;
        n = (size_t)w;
    } else {
        w = snprintf(out, cap, "NetworkTopologyStrategy:");
        if (w < 0 || (size_t)w >= cap)
            goto too_long;
        n = (size_t)w;
        for (uint32_t i = 0; i < r->ndcs; i++) {
            w = snprintf(out + n, cap - n, "%s%s=%u", i ? "," : "", r->dcs[i].name,
                         r->dcs[i].factor);
            if (w < 0 || (size_t)w >= cap - n)
                goto too_long;
            n += (size_t)w;
        }
    }
    if (len)
        *len = n;
    return WC_OK;
too_long:
    return wc_error(WC_INVALID_ARGUMENT, "replication description longer than %zu bytes", cap);
}

static bool wc__class(const char *s, wc_repl_class *out)
{
    if (strncasecmp(s, WC__LOCATOR_PREFIX, strlen(WC__LOCATOR_PREFIX)) == 0)
        s += strlen(WC__LOCATOR_PREFIX);
    if (strcasecmp(s, "SimpleStrategy") == 0)
        *out = WC_REPL_SIMPLE;
    else if (strcasecmp(s, "NetworkTopologyStrategy") == 0)
        *out = WC_REPL_NETWORK_TOPOLOGY;
    else
        return false;
    return true;
}

/* A factor: decimal digits only, at most WC_REPL_MAX_FACTOR. */
static wc_status wc__factor(const char *what, const char *s, uint32_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        goto bad;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            goto bad;
        v = v * 10 + (uint64_t)(*c - '0');
        if (v > WC_REPL_MAX_FACTOR)
            return wc_error(WC_INVALID_ARGUMENT, "replication factor of %s is %.40s, above the "
                            "maximum of %d", what, s, WC_REPL_MAX_FACTOR);
    }
    *out = (uint32_t)v;
    return WC_OK;
bad:
    return wc_error(WC_INVALID_ARGUMENT, "replication factor of %s must be a whole number, not '%.40s'",
                    what, s);
}

/* Add data centre name with factor text val to r (NetworkTopologyStrategy). */
static wc_status wc__add_dc(wc_replication *r, const char *name, size_t name_len, const char *val)
{
    char what[WC_REPL_DC_NAME_MAX + 32];
    wc_status st;

    if (r->ndcs >= WC_REPL_MAX_DCS)
        return wc_error(WC_INVALID_ARGUMENT,
                        "NetworkTopologyStrategy takes at most %d data centres", WC_REPL_MAX_DCS);
    if (name_len == 0 || name_len >= WC_REPL_DC_NAME_MAX)
        return wc_error(WC_INVALID_ARGUMENT, "data centre names must have 1 to %d characters",
                        WC_REPL_DC_NAME_MAX - 1);
    memcpy(r->dcs[r->ndcs].name, name, name_len);
    r->dcs[r->ndcs].name[name_len] = '\0';
    snprintf(what, sizeof(what), "data centre '%s'", r->dcs[r->ndcs].name);
    if ((st = wc__factor(what, val, &r->dcs[r->ndcs].factor)) != WC_OK)
        return st;
    r->ndcs++;
    return WC_OK;
}

/* The CQL map form, through the shared CQL-literal parser. */
static wc_status wc__parse_map(const char *text, wc_replication *r)
{
    wc_cql_doc *doc = NULL;
    wc_cql_error err;
    const wc_cql_value *map, *cls, *v;
    wc_status st;

    if ((st = wc_cql_parse_options(text, strlen(text), &doc, &err)) != WC_OK)
        return wc_error(st, "malformed replication map: %s at position %zu", err.msg, err.pos + 1);
    map = wc_cql_doc_root(doc);
    if ((cls = wc_cql_map_get(map, "class")) == NULL) {
        st = wc_error(WC_INVALID_ARGUMENT, "no 'class' given");
        goto fail;
    }
    if (!wc__class(cls->raw, &r->cls)) {
        st = wc_error(WC_INVALID_ARGUMENT,
                      "unknown replication class '%.80s' (SimpleStrategy or "
                      "NetworkTopologyStrategy)",
                      cls->raw);
        goto fail;
    }
    if (r->cls == WC_REPL_SIMPLE && wc_cql_map_get(map, "replication_factor") == NULL) {
        st = wc_error(WC_INVALID_ARGUMENT, "SimpleStrategy needs a 'replication_factor'");
        goto fail;
    }
    for (v = map->child; v; v = v->next) {
        const char *key = v->key->text;

        if (v == cls)
            continue;
        if (v->kind != WC_CQL_STRING && v->kind != WC_CQL_INTEGER) {
            st = wc_error(WC_INVALID_ARGUMENT,
                          "replication option '%.60s' must be a whole number, not '%.40s'", key,
                          v->raw);
            goto fail;
        }
        if (r->cls == WC_REPL_SIMPLE) {
            if (strcasecmp(key, "replication_factor") != 0) {
                st = wc_error(WC_INVALID_ARGUMENT,
                              "unknown option '%.60s' for SimpleStrategy (it takes only "
                              "replication_factor)",
                              key);
                goto fail;
            }
            if ((st = wc__factor("SimpleStrategy", v->raw, &r->replication_factor)) != WC_OK)
                goto fail;
        } else {
            if (strcasecmp(key, "replication_factor") == 0) {
                st = wc_error(WC_INVALID_ARGUMENT,
                              "NetworkTopologyStrategy takes a factor per data centre, not "
                              "replication_factor");
                goto fail;
            }
            if ((st = wc__add_dc(r, key, v->key->len, v->raw)) != WC_OK)
                goto fail;
        }
    }
    wc_cql_doc_free(doc);
    return WC_OK;
fail:
    wc_cql_doc_free(doc);
    return st;
}

/*
 * The compact stored form (written by wc_replication_format, never by
 * users): "Class:rf" or "Class:dc=f,dc=f" with no spaces.
 */
static wc_status wc__parse_compact(const char *text, wc_replication *r)
{
    const char *colon = strchr(text, ':'), *p;
    char cls[64], num[16];

    if (colon == NULL || (size_t)(colon - text) >= sizeof(cls))
        goto bad;
    memcpy(cls, text, (size_t)(colon - text));
    cls[colon - text] = '\0';
    if (!wc__class(cls, &r->cls))
        goto bad;
    p = colon + 1;
    if (r->cls == WC_REPL_SIMPLE)
        return wc__factor("SimpleStrategy", p, &r->replication_factor);
    for (;;) {
        const char *eq = strchr(p, '='), *comma;
        size_t n;
        wc_status st;

        if (eq == NULL)
            goto bad;
        comma = strchr(eq, ',');
        n = comma ? (size_t)(comma - eq - 1) : strlen(eq + 1);
        if (n >= sizeof(num))
            goto bad;
        memcpy(num, eq + 1, n);
        num[n] = '\0';
        if ((st = wc__add_dc(r, p, (size_t)(eq - p), num)) != WC_OK)
            return st;
        if (comma == NULL)
            return WC_OK;
        p = comma + 1;
    }
bad:
    return wc_error(WC_INVALID_ARGUMENT,
                    "malformed replication \"%.200s\" (expected e.g. "
                    "{'class': 'SimpleStrategy', 'replication_factor': 3} or "
                    "{'class': 'NetworkTopologyStrategy', 'dc1': 3})",
                    text);
}

wc_status wc_replication_parse(const char *text, wc_replication *out)
{
    wc_replication r;
    const char *p = text;
    wc_status st;

    if (text == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "replication description is missing");
    memset(&r, 0, sizeof(r));
    while (isspace((unsigned char)*p))
        p++;
    st = *p == '{' ? wc__parse_map(text, &r) : wc__parse_compact(text, &r);
    if (st != WC_OK)
        return st;
    if ((st = wc_replication_validate(&r)) != WC_OK)
        return st;
    *out = r;
    return WC_OK;
}
