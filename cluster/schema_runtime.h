/*
 * schema_runtime.h - the cluster schema of a running node: a schema store
 * (schema_sync.h) on the node's loop, kept durably in the file "schema" of
 * the data directory, announced through gossip, fed by the backends'
 * SCHEMA_CHANGE requests, listed by SCHEMA_LIST, and followed by the
 * node's engine.
 *
 * Every change of the store (a local DDL, a merge from a peer, a re-id, a
 * purge) is written with wc_fs_write_atomic before anything else, then
 * handed to the runtime's engine thread, which makes the engine follow it:
 * each visible table gets an engine table of the same id, named
 * "keyspace.table", created or altered to the stored definition (an engine
 * table of that id with another name is left alone and logged).  Dropped
 * tables keep their engine data, as DROP FOREIGN TABLE does on one node,
 * unless the engine table's owner record names an access method (a
 * CREATE TABLE ... USING widecol table): then its engine table is dropped.
 * Only once the engine follows a version is that version published as
 * applied (wc_schema_runtime_applied_version), so that whoever materializes
 * the catalogs from it finds the engine tables in place.
 *
 * Thread-safety: create, destroy and on_message run on the loop (destroy
 * also after the loop stopped, as the gossiper's).  serve and
 * applied_version may be called from any thread while the runtime exists;
 * serve posts the change to the loop and waits for it (and for the
 * agreement wait it asks for), bounded.
 */
#ifndef WC_SCHEMA_RUNTIME_H
#define WC_SCHEMA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "engine.h"
#include "env.h"
#include "fs.h"
#include "gossip.h"
#include "status.h"

#define WC_SCHEMA_RUNTIME_FILE "schema"
#define WC_SCHEMA_RUNTIME_MAX_FILE (64u << 20)
#define WC_SCHEMA_RUNTIME_MAX_WAIT_MS 60000u /* longest agreement wait a request may ask */

typedef struct wc_schema_runtime wc_schema_runtime;

/* API */

/*
 * Load data_dir/schema (absent: an empty schema), create the store on env
 * and g and start the engine thread, which makes engine e follow the
 * loaded schema at once.  log/log_arg get the runtime's lines (any
 * thread).  WC_CORRUPTION for a damaged file (the detail names it),
 * WC_IO_ERROR, WC_NO_MEMORY, the store's statuses.  On the loop.
 */
wc_status wc_schema_runtime_create(wc_env *env, wc_gossip *g, const char *data_dir, wc_engine *e,
                                   wc_log_fn log, void *log_arg, wc_schema_runtime **out);
/* The same with the schema file on fs (NULL: wc_fs_posix(); not owned, outlives rt). */
wc_status wc_schema_runtime_create_fs(wc_fs *fs, wc_env *env, wc_gossip *g, const char *data_dir,
                                      wc_engine *e, wc_log_fn log, void *log_arg,
                                      wc_schema_runtime **out);

/* Ends pending waits, joins the engine thread, frees everything.  NULL is ignored. */
void wc_schema_runtime_destroy(wc_schema_runtime *rt);

/* The handler of internode message types 48..63 (on_message signature; ctx is rt). */
void wc_schema_runtime_on_message(void *rt, const wc_addr *from, const uint8_t *msg, size_t len);

/*
 * Serve a SCHEMA_CHANGE or SCHEMA_LIST request body (protocol.h) into out
 * (the response body).  rt NULL: the node runs no cluster (WC_UNAVAILABLE
 * for a change; a list says so).  WC_CORRUPTION for a malformed body; the
 * store's statuses for a refused change (WC_EXISTS, WC_NOT_FOUND,
 * WC_INVALID_ARGUMENT); WC_TIMEOUT if the loop did not answer in time;
 * WC_NO_MEMORY.  Any thread.
 */
wc_status wc_schema_runtime_serve(wc_schema_runtime *rt, uint8_t op, const uint8_t *body,
                                  size_t len, wc_buf *out);

/*
 * The last version the engine follows, as 32 hex digits and a NUL, into
 * out; "" before the first one.  Any thread.
 */
void wc_schema_runtime_applied_version(wc_schema_runtime *rt, char out[33]);

/* Append the current schema as SCHEMA_LIST lists it (a full PUSH) to out.  Any thread.  WC_NO_MEMORY. */
wc_status wc_schema_runtime_listing(wc_schema_runtime *rt, wc_buf *out);

/*
 * Called on the runtime's engine thread after the engine followed a table
 * of the cluster schema: created or altered (dropped false), or dropped
 * from the schema (dropped true; its engine table may stay).
 */
typedef void (*wc_schema_follow_fn)(void *arg, uint32_t table_id, bool dropped);
/* Set (fn NULL: clear) the follow hook.  Any thread. */
void wc_schema_runtime_set_follow(wc_schema_runtime *rt, wc_schema_follow_fn fn, void *arg);

#endif /* WC_SCHEMA_RUNTIME_H */
