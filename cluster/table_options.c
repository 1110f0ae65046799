/*
 * table_options.c - compose and split the "replication=...\nschema=..." text
 * the node keeps in wc_table_def.options (format in table_options.h).
 * Pure functions; thread-safe.
 */
#include "table_options.h"

#include <stdio.h>
#include <string.h>

#define WC__REPL_KEY "replication="
#define WC__SCHEMA_KEY "schema="

wc_status wc_table_options_build(const wc_replication *r, const char *schema, size_t schema_len,
                                 char *out, size_t cap)
{
    char repl[WC_REPL_MAX_DCS * (WC_REPL_DC_NAME_MAX + 8) + 64];
    size_t rlen, need;
    wc_status st;

    if ((st = wc_replication_format(r, repl, sizeof(repl), &rlen)) != WC_OK)
        return st;
    if (schema_len && memchr(schema, '\0', schema_len))
        return wc_error(WC_INVALID_ARGUMENT, "table schema text holds a NUL byte");
    need = strlen(WC__REPL_KEY) + rlen + 1 + strlen(WC__SCHEMA_KEY) + schema_len;
    if (need >= cap)
        return wc_error(WC_INVALID_ARGUMENT,
                        "table options need %zu bytes (replication %zu, schema %zu) but at most "
                        "%zu fit",
                        need, rlen, schema_len, cap ? cap - 1 : 0);
    memcpy(out, WC__REPL_KEY, strlen(WC__REPL_KEY));
    need = strlen(WC__REPL_KEY);
    memcpy(out + need, repl, rlen);
    need += rlen;
    out[need++] = '\n';
    memcpy(out + need, WC__SCHEMA_KEY, strlen(WC__SCHEMA_KEY));
    need += strlen(WC__SCHEMA_KEY);
    if (schema_len)
        memcpy(out + need, schema, schema_len);
    need += schema_len;
    out[need] = '\0';
    return WC_OK;
}

wc_status wc_table_options_parse(const char *opts, wc_replication *r, const char **schema,
                                 size_t *schema_len)
{
    char repl[WC_REPL_MAX_DCS * (WC_REPL_DC_NAME_MAX + 8) + 64];
    const char *nl;
    size_t rlen;

    if (strncmp(opts, WC__REPL_KEY, strlen(WC__REPL_KEY)) != 0)
        goto bad;
    opts += strlen(WC__REPL_KEY);
    nl = strchr(opts, '\n');
    if (nl == NULL || (rlen = (size_t)(nl - opts)) >= sizeof(repl))
        goto bad;
    memcpy(repl, opts, rlen);
    repl[rlen] = '\0';
    if (wc_replication_parse(repl, r) != WC_OK)
        return WC_INVALID_ARGUMENT;
    opts = nl + 1;
    if (strncmp(opts, WC__SCHEMA_KEY, strlen(WC__SCHEMA_KEY)) != 0)
        goto bad;
    *schema = opts + strlen(WC__SCHEMA_KEY);
    *schema_len = strlen(*schema);
    return WC_OK;
bad:
    return wc_error(WC_INVALID_ARGUMENT,
                    "table options are not in the node's \"replication=...\\nschema=...\" form");
}
