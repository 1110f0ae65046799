/*
 * table_options.c - a table's replication from its typed schema
 * (table_options.h).  Pure functions; thread-safe.
 */
#include "table_options.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

wc_status wc_schema_replication(const wc_schema *s, wc_replication *r)
{
    memset(r, 0, sizeof(*r));
    if (s->replication_class == NULL)
        return wc_error(WC_NOT_FOUND, "table \"%s\" has no replication", s->table);
    if (strcasecmp(s->replication_class, "SimpleStrategy") == 0) {
        r->cls = WC_REPL_SIMPLE;
        if (s->nreplicas != 1 || s->replicas[0].dc != NULL)
            return wc_error(WC_INVALID_ARGUMENT,
                            "SimpleStrategy of table \"%s\" needs exactly one replication factor",
                            s->table);
        r->replication_factor = s->replicas[0].factor;
    } else if (strcasecmp(s->replication_class, "NetworkTopologyStrategy") == 0) {
        r->cls = WC_REPL_NETWORK_TOPOLOGY;
        if (s->nreplicas > WC_REPL_MAX_DCS)
            return wc_error(WC_INVALID_ARGUMENT, "table \"%s\" names %zu data centres, at most %d",
                            s->table, s->nreplicas, WC_REPL_MAX_DCS);
        for (size_t i = 0; i < s->nreplicas; i++) {
            const char *dc = s->replicas[i].dc;
            if (dc == NULL || strlen(dc) >= sizeof(r->dcs[i].name))
                return wc_error(WC_INVALID_ARGUMENT,
                                "data centre %zu of table \"%s\" has no name or a name over %d bytes",
                                i, s->table, WC_REPL_DC_NAME_MAX - 1);
            snprintf(r->dcs[i].name, sizeof(r->dcs[i].name), "%s", dc);
            r->dcs[i].factor = s->replicas[i].factor;
        }
        r->ndcs = (uint32_t)s->nreplicas;
    } else {
        return wc_error(WC_INVALID_ARGUMENT, "unknown replication class \"%s\" of table \"%s\"",
                        s->replication_class, s->table);
    }
    return wc_replication_validate(r);
}

wc_status wc_table_replication(const wc_table_def *def, wc_replication *r)
{
    wc_schema s;
    wc_status st;

    if (def->schema_len == 0)
        return wc_error(WC_NOT_FOUND, "table %u has no schema", def->id);
    if ((st = wc_schema_decode(def->schema, def->schema_len, &s)) == WC_OK)
        st = wc_schema_replication(&s, r);
    wc_schema_free(&s);
    return st;
}
