/*
 * table_options.h - the keyspace replication of a table, read from the typed
 * schema it carries (engine/schema_def.h): the replication class and its
 * replicas become a wc_replication the coordinator can check consistency
 * levels against.  Pure functions on caller-owned data: thread-safe.
 */
#ifndef WC_TABLE_OPTIONS_H
#define WC_TABLE_OPTIONS_H

#include "consistency.h"
#include "engine.h"
#include "schema_def.h"
#include "status.h"

/* API */

/*
 * The replication of schema s.  WC_NOT_FOUND if s names no replication
 * class; WC_INVALID_ARGUMENT if the class or a replica is not valid
 * (wc_replication_validate).
 */
wc_status wc_schema_replication(const wc_schema *s, wc_replication *r);
/*
 * The replication of the table def: WC_NOT_FOUND if it has no schema or
 * the schema no replication (callers then use wc_replication_default);
 * WC_CORRUPTION if the schema bytes do not decode; WC_INVALID_ARGUMENT as
 * above; WC_NO_MEMORY.
 */
wc_status wc_table_replication(const wc_table_def *def, wc_replication *r);

#endif /* WC_TABLE_OPTIONS_H */
