/*
 * table_options.h - the text kept in wc_table_def.options for tables that
 * the node creates: the keyspace's replication and the extension's schema.
 *
 * The engine keeps options as an opaque NUL-terminated string of at most
 * WC_TABLE_OPTIONS_MAX bytes in its catalog.  The node writes it as
 *
 *   replication=<compact replication>\n
 *   schema=<schema text, up to the end of the field>
 *
 * e.g. "replication=SimpleStrategy:3\nschema=id int pk; ts bigint ck desc".
 * The compact replication form is the one of wc_replication_format
 * ("SimpleStrategy:3", "NetworkTopologyStrategy:dc1=3,dc2=2"); the schema
 * text belongs to the extension and may hold any byte but NUL, newlines
 * included.  Both lines are always present; the schema may be empty.
 * Pure functions on caller-owned buffers: thread-safe.  Layout described in
 * docs/protocol.md ("Table options").
 */
#ifndef WC_TABLE_OPTIONS_H
#define WC_TABLE_OPTIONS_H

#include <stddef.h>

#include "consistency.h"
#include "engine.h"
#include "status.h"

#define WC_TABLE_OPTIONS_MAX (sizeof(((wc_table_def *)0)->options) - 1) /* 8191 bytes */

/* API */

/*
 * Compose the options text into out (cap bytes, NUL-terminated).
 * REQUIRES: schema holds schema_len bytes (no NUL).
 * WC_INVALID_ARGUMENT if r is invalid, the schema holds a NUL byte or the
 * result does not fit in cap (the message gives both sizes).
 */
wc_status wc_table_options_build(const wc_replication *r, const char *schema, size_t schema_len,
                                 char *out, size_t cap);
/*
 * Split an options text.  *schema points into opts (not NUL-terminated at
 * schema_len; it runs to the end of opts).  WC_INVALID_ARGUMENT if opts is
 * not in the format above (e.g. a table created without the node).
 */
wc_status wc_table_options_parse(const char *opts, wc_replication *r, const char **schema,
                                 size_t *schema_len);

#endif /* WC_TABLE_OPTIONS_H */
