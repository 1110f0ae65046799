/*
 * compaction_options.c - parser and validator of the CQL compaction map
 * (grammar and options in compaction_options.h).
 *
 * The text is read by the shared CQL-literal parser (cql_literal.h) as an
 * options map; this file finds the class first, then applies every other
 * entry to the class's option table.
 * Unknown names are answered with the closest valid one by edit distance.
 */
#include "compaction_options.h"

#include "cql_literal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WC__MAX_NAME 256 /* longer names are not compared for suggestions */

#define WC__CLS_STCS (1u << WC_COMPACTION_STCS)
#define WC__CLS_LCS (1u << WC_COMPACTION_LCS)
#define WC__CLS_TWCS (1u << WC_COMPACTION_TWCS)
#define WC__CLS_ALL (WC__CLS_STCS | WC__CLS_LCS | WC__CLS_TWCS)

typedef enum { WC__OPT_BOOL, WC__OPT_UINT, WC__OPT_DOUBLE, WC__OPT_UNIT, WC__OPT_RESOLUTION } wc__opt_type;

typedef struct wc__opt {
    const char *name;
    unsigned classes;
    wc__opt_type type;
    double min, max; /* numeric bounds (inclusive) */
} wc__opt;

static const wc__opt wc__opts[] = {
    {"enabled", WC__CLS_ALL, WC__OPT_BOOL, 0, 0},
    {"tombstone_threshold", WC__CLS_ALL, WC__OPT_DOUBLE, 0, 1e9},
    {"tombstone_compaction_interval", WC__CLS_ALL, WC__OPT_UINT, 0, 4e9},
    {"unchecked_tombstone_compaction", WC__CLS_ALL, WC__OPT_BOOL, 0, 0},
    {"min_threshold", WC__CLS_ALL, WC__OPT_UINT, 2, 1e6},
    {"max_threshold", WC__CLS_ALL, WC__OPT_UINT, 2, 1e6},
    {"bucket_low", WC__CLS_STCS | WC__CLS_TWCS, WC__OPT_DOUBLE, 1e-9, 1},
    {"bucket_high", WC__CLS_STCS | WC__CLS_TWCS, WC__OPT_DOUBLE, 1, 1e9},
    {"min_sstable_size", WC__CLS_STCS | WC__CLS_TWCS, WC__OPT_UINT, 0, 1e15},
    {"sstable_size_in_mb", WC__CLS_LCS, WC__OPT_DOUBLE, 1.0 / 1024, 1 << 20},
    {"fanout_size", WC__CLS_LCS, WC__OPT_UINT, 2, 1000},
    {"compaction_window_unit", WC__CLS_TWCS, WC__OPT_UNIT, 0, 0},
    {"compaction_window_size", WC__CLS_TWCS, WC__OPT_UINT, 1, 1e6},
    {"timestamp_resolution", WC__CLS_TWCS, WC__OPT_RESOLUTION, 0, 0},
    {"unsafe_aggressive_sstable_expiration", WC__CLS_TWCS, WC__OPT_BOOL, 0, 0},
};
#define WC__NOPTS (sizeof(wc__opts) / sizeof(wc__opts[0]))

static const struct {
    const char *name;
    wc_compaction_class cls;
} wc__classes[] = {
    {"SizeTieredCompactionStrategy", WC_COMPACTION_STCS},
    {"LeveledCompactionStrategy", WC_COMPACTION_LCS},
    {"TimeWindowCompactionStrategy", WC_COMPACTION_TWCS},
    {"STCS", WC_COMPACTION_STCS},
    {"LCS", WC_COMPACTION_LCS},
    {"TWCS", WC_COMPACTION_TWCS},
};
#define WC__NCLASSES (sizeof(wc__classes) / sizeof(wc__classes[0]))
#define WC__CLASS_PREFIX "org.apache.cassandra.db.compaction."

void wc_compaction_options_default(wc_compaction_options *o)
{
    memset(o, 0, sizeof(*o));
    o->cls = WC_COMPACTION_STCS;
    o->enabled = true;
    o->tombstone_threshold = 0.2;
    o->tombstone_compaction_interval = 86400;
    o->min_threshold = 4;
    o->max_threshold = 32;
    o->bucket_low = 0.5;
    o->bucket_high = 1.5;
    o->min_sstable_size = 1u << 20;
    o->sstable_size = 160ull << 20;
    o->fanout = 10;
    o->window_size = 1;
    o->window_unit_seconds = 86400;
}

const char *wc_compaction_class_name(wc_compaction_class c, bool abbrev)
{
    switch (c) {
    case WC_COMPACTION_LCS:
        return abbrev ? "LCS" : "LeveledCompactionStrategy";
    case WC_COMPACTION_TWCS:
        return abbrev ? "TWCS" : "TimeWindowCompactionStrategy";
    default:
        return abbrev ? "STCS" : "SizeTieredCompactionStrategy";
    }
}

/* ---------------------------------------------------------------- suggestions */

/* Case-insensitive Levenshtein distance (names are short). */
static size_t wc__distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[WC__MAX_NAME + 1];

    if (la > WC__MAX_NAME || lb > WC__MAX_NAME)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0], tmp;
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb];
}

static const char *wc__closest_option(const char *name, unsigned cls_bit)
{
    const char *best = NULL;
    size_t bd = (size_t)-1;

    for (size_t i = 0; i < WC__NOPTS; i++) {
        size_t d;
        if (!(wc__opts[i].classes & cls_bit))
            continue;
        d = wc__distance(name, wc__opts[i].name);
        if (d < bd) {
            bd = d;
            best = wc__opts[i].name;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- values */

static bool wc__parse_bool(const char *v, bool *out)
{
    if (strcasecmp(v, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(v, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool wc__parse_double(const char *v, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool wc__parse_uint(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long u;

    if (!isdigit((unsigned char)v[0]))
        return false;
    errno = 0;
    u = strtoull(v, &end, 10);
    if (*end != '\0' || errno != 0)
        return false;
    *out = u;
    return true;
}

static wc_status wc__apply(wc_compaction_options *o, const wc__opt *opt, const char *val)
{
    const char *cls = wc_compaction_class_name(o->cls, false);
    bool b;
    double d;
    uint64_t u;

    switch (opt->type) {
    case WC__OPT_BOOL:
        if (!wc__parse_bool(val, &b))
            return wc_error(WC_INVALID_ARGUMENT,
                            "compaction option '%s' of %s must be true or false, not '%s'",
                            opt->name, cls, val);
        if (strcmp(opt->name, "enabled") == 0)
            o->enabled = b;
        else if (strcmp(opt->name, "unchecked_tombstone_compaction") == 0)
            o->unchecked_tombstone_compaction = b;
        else
            o->unsafe_aggressive_sstable_expiration = b;
        return WC_OK;
    case WC__OPT_UINT:
        if (!wc__parse_uint(val, &u) || (double)u < opt->min || (double)u > opt->max)
            return wc_error(WC_INVALID_ARGUMENT,
                            "compaction option '%s' of %s must be an integer between %.0f and "
                            "%.0f, not '%s'",
                            opt->name, cls, opt->min, opt->max, val);
        if (strcmp(opt->name, "tombstone_compaction_interval") == 0)
            o->tombstone_compaction_interval = (int64_t)u;
        else if (strcmp(opt->name, "min_threshold") == 0)
            o->min_threshold = (uint32_t)u;
        else if (strcmp(opt->name, "max_threshold") == 0)
            o->max_threshold = (uint32_t)u;
        else if (strcmp(opt->name, "min_sstable_size") == 0)
            o->min_sstable_size = u;
        else if (strcmp(opt->name, "fanout_size") == 0)
            o->fanout = (uint32_t)u;
        else
            o->window_size = (uint32_t)u;
        return WC_OK;
    case WC__OPT_DOUBLE:
        if (!wc__parse_double(val, &d) || d < opt->min || d > opt->max)
            return wc_error(WC_INVALID_ARGUMENT,
                            "compaction option '%s' of %s must be a number between %g and %g, "
                            "not '%s'",
                            opt->name, cls, opt->min, opt->max, val);
        if (strcmp(opt->name, "tombstone_threshold") == 0)
            o->tombstone_threshold = d;
        else if (strcmp(opt->name, "bucket_low") == 0)
            o->bucket_low = d;
        else if (strcmp(opt->name, "bucket_high") == 0)
            o->bucket_high = d;
        else
            o->sstable_size = (uint64_t)(d * 1048576.0);
        return WC_OK;
    case WC__OPT_UNIT:
        if (strcasecmp(val, "MINUTES") == 0)
            o->window_unit_seconds = 60;
        else if (strcasecmp(val, "HOURS") == 0)
            o->window_unit_seconds = 3600;
        else if (strcasecmp(val, "DAYS") == 0)
            o->window_unit_seconds = 86400;
        else
            return wc_error(WC_INVALID_ARGUMENT,
                            "compaction option 'compaction_window_unit' must be MINUTES, HOURS "
                            "or DAYS, not '%s'",
                            val);
        return WC_OK;
    case WC__OPT_RESOLUTION:
        if (strcasecmp(val, "MICROSECONDS") != 0)
            return wc_error(WC_INVALID_ARGUMENT,
                            "compaction option 'timestamp_resolution' must be MICROSECONDS "
                            "(widecol timestamps are microseconds), not '%s'",
                            val);
        return WC_OK;
    }
    return WC_OK;
}

static wc_status wc__parse_class(const char *v, wc_compaction_class *out)
{
    const char *name = v, *best = NULL;
    size_t bd = (size_t)-1;

    if (strncasecmp(name, WC__CLASS_PREFIX, strlen(WC__CLASS_PREFIX)) == 0)
        name += strlen(WC__CLASS_PREFIX);
    for (size_t i = 0; i < WC__NCLASSES; i++) {
        size_t d;
        if (strcasecmp(name, wc__classes[i].name) == 0) {
            *out = wc__classes[i].cls;
            return WC_OK;
        }
        d = wc__distance(name, wc__classes[i].name);
        if (d < bd) {
            bd = d;
            best = wc__classes[i].name;
        }
    }
    return wc_error(WC_INVALID_ARGUMENT,
                    "unknown compaction class '%s'; did you mean '%s'? (classes: "
                    "SizeTieredCompactionStrategy, LeveledCompactionStrategy, "
                    "TimeWindowCompactionStrategy)",
                    v, best);
}

/* Blank text: the defaults. */
static bool wc__blank(const char *text)
{
    for (; text && *text; text++)
        if (!isspace((unsigned char)*text))
            return false;
    return true;
}

wc_status wc_compaction_options_parse(const char *text, wc_compaction_options *out)
{
    wc_cql_doc *doc = NULL;
    wc_cql_error err;
    const wc_cql_value *map, *v;
    wc_compaction_options o;
    wc_status st;

    wc_compaction_options_default(&o);
    if (wc__blank(text)) {
        *out = o;
        return WC_OK;
    }
    if ((st = wc_cql_parse_options(text, strlen(text), &doc, &err)) != WC_OK)
        return wc_error(st, "compaction map: %s at position %zu", err.msg, err.pos + 1);
    map = wc_cql_doc_root(doc);
    if ((v = wc_cql_map_get(map, "class")) != NULL && (st = wc__parse_class(v->raw, &o.cls)) != WC_OK)
        goto fail;
    for (v = map->child; v; v = v->next) {
        const wc__opt *opt = NULL;
        unsigned bit = 1u << o.cls;

        if (strcasecmp(v->key->text, "class") == 0)
            continue;
        for (size_t j = 0; j < WC__NOPTS && !opt; j++)
            if (strcasecmp(v->key->text, wc__opts[j].name) == 0)
                opt = &wc__opts[j];
        if (opt == NULL || !(opt->classes & bit)) {
            st = wc_error(WC_INVALID_ARGUMENT, "%s compaction option '%s' for %s; did you mean '%s'?",
                          opt ? "inapplicable" : "unknown", v->key->text,
                          wc_compaction_class_name(o.cls, false),
                          wc__closest_option(v->key->text, bit));
            goto fail;
        }
        if ((st = wc__apply(&o, opt, v->raw)) != WC_OK)
            goto fail;
    }
    wc_cql_doc_free(doc);
    doc = NULL;
    if (o.max_threshold < o.min_threshold)
        return wc_error(WC_INVALID_ARGUMENT,
                        "compaction option 'max_threshold' (%u) must not be below "
                        "'min_threshold' (%u)",
                        o.max_threshold, o.min_threshold);
    if (o.bucket_high <= o.bucket_low)
        return wc_error(WC_INVALID_ARGUMENT,
                        "compaction option 'bucket_high' must be greater than 'bucket_low'");
    if (o.sstable_size < 1024)
        o.sstable_size = 1024;
    *out = o;
    return WC_OK;
fail:
    wc_cql_doc_free(doc);
    return st;
}
