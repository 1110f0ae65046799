/*
 * view.h - materialized views kept by the node that owns the base table's
 * data: every write to a base table becomes one engine batch holding the
 * base mutations and the view mutations they cause, so base and views
 * change together (one commit-log record).
 *
 * A view is an engine table whose typed schema carries the property
 * WC_VIEW_PROPERTY, a recipe the extension writes (grammar in view.c and
 * docs/file-formats.md, "Materialized views"): the base table, how the
 * view's partition and clustering keys are made of the base's key
 * components and of at most one base cell (the view key cell), and the
 * conditions a base row must meet to appear in the view.  The view's cells
 * are the base row's live cells with the same column ids, the view key
 * cell left out.
 *
 * Maintenance reads before it writes, as Cassandra does for views: under a
 * lock of the base partition (held by every writer through
 * wc_views_apply), each base row the batch touches is read as it is and as
 * it will be (the batch as an overlay); a view row whose key changed is
 * deleted and the row of the new key written.  View rows carry their own,
 * strictly increasing timestamps (the node's clock, never repeating), so
 * that a row moved back to a key it had before always wins over the
 * deletion that moved it away; cells keep their TTL (with a view key cell,
 * the view row expires with it).
 *
 * On a node of a cluster the view rows live on the view's own replicas:
 * wc_views_apply_paired and wc_views_build_paired compute the same view
 * mutations but hand them out as update records for view_pair.h, logged
 * in the node's view update log with the base write.
 *
 * Thread-safety: every function may be called from any thread; the set
 * of views is guarded by a read-write lock, base partitions by a fixed set
 * of mutexes (hash of table and partition key), taken in ascending order.
 */
#ifndef WC_VIEW_H
#define WC_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "status.h"

/* The typed-schema property (wc_schema.properties) that makes a table a view. */
#define WC_VIEW_PROPERTY "materialized_view"

/*
 * The view update log of a cluster node (view_pair.h): a node-local engine
 * table, never in the cluster schema, whose partitions are the pending
 * view updates of base writes, keyed by a 16-byte log id (a timestamp and
 * a sequence number, big-endian), one row holding cell 1: the update
 * entries.  An update record is the log id followed by entries, one per
 * base partition: u32 base table, u32 pk length, pk, u32 batch length,
 * batch (the view mutations that partition's write causes, a batch record
 * of engine/mutation.h); integers little-endian as in coding.h.
 */
#define WC_VIEW_LOG_TABLE 0x7FFFFF01u
/*
 * Engine table ids above this one are the node's own tables (the view
 * update log): a client's CREATE TABLE of one is refused, and the
 * extension never derives one from a table name.
 */
#define WC_USER_TABLE_ID_MAX 0x7FFFFEFFu
#define WC_VIEW_LOG_NAME "system.view_update_log"
#define WC_VIEW_LOG_ID_LEN 16

/* One entry of an update record. */
typedef struct wc_views_update {
    uint32_t base;
    const uint8_t *pk;
    size_t pk_len;
    const uint8_t *batch;
    size_t batch_len;
} wc_views_update;

/* Receives an update record (valid only during the call). */
typedef void (*wc_views_sink)(void *arg, const uint8_t *upd, size_t len);

typedef struct wc_views wc_views;

/* API */

/* An empty set of views.  Caller frees with wc_views_free.  WC_NO_MEMORY. */
wc_status wc_views_new(wc_views **out);
/* Free the set (NULL: no-op).  REQUIRES: no call on it is running. */
void wc_views_free(wc_views *v);

/*
 * Register (or re-register) the table def as a view if its schema carries
 * the recipe property, else forget it as a view.  *is_view (may be NULL)
 * tells which.  WC_INVALID_ARGUMENT for a recipe that does not parse
 * (detail says where; nothing registered), WC_CORRUPTION for schema bytes
 * that do not decode, WC_NO_MEMORY.
 */
wc_status wc_views_define(wc_views *v, const wc_table_def *def, bool *is_view);
/* Whether table_id is a registered view. */
bool wc_views_is_view(wc_views *v, uint32_t table_id);
/* Forget table_id as a view (a dropped table).  Unknown ids are ignored. */
void wc_views_forget(wc_views *v, uint32_t table_id);
/* Register every view of the engine's catalog (at start); malformed recipes are skipped. */
wc_status wc_views_load(wc_views *v, wc_engine *e);

/*
 * wc_engine_apply_batch for a batch that may write base tables of views:
 * the view mutations are computed under the base partitions' locks and
 * applied with the batch as one record.  A batch that touches no base
 * table goes to the engine as it is.  Statuses of wc_engine_apply_batch and
 * wc_engine_read; WC_CORRUPTION when a stored key does not split as the
 * recipe says.
 */
wc_status wc_views_apply(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len);

/*
 * wc_views_apply that leaves the commit log's fsync to the caller in batch
 * mode (wc_engine_apply_batch_unsynced): *need is the position to make
 * durable before the write is acknowledged, segment 0 when none.
 */
wc_status wc_views_apply_unsynced(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len,
                                  wc_clpos *need);

/*
 * The same for a node of a cluster, whose view rows live on other nodes:
 * the view mutations are computed as by wc_views_apply but not applied;
 * they go to *updates as an update record (reset first; left empty when
 * the batch changes no view row), and the batch is applied with that
 * record's log entry as one engine record, so that a crash after the apply
 * still finds the updates to send (wc_views_log_scan).  REQUIRES: the log
 * table exists (wc_views_log_open).  Statuses of wc_views_apply.
 */
wc_status wc_views_apply_paired(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len,
                                wc_buf *updates);

/*
 * Fill view_id from its base table's existing rows (each row read and its
 * view row written under its partition's lock, so writes meanwhile are
 * never undone).  WC_NOT_FOUND if view_id is not a registered view;
 * statuses of the engine's read and apply.
 */
wc_status wc_views_build(wc_views *v, wc_engine *e, uint32_t view_id);

/*
 * wc_views_build for a node of a cluster: the view rows of this node's
 * base rows are logged and handed to sink as update records (a page of
 * base rows each), not applied.  Statuses of wc_views_build.
 */
wc_status wc_views_build_paired(wc_views *v, wc_engine *e, uint32_t view_id, wc_views_sink sink,
                                void *arg);

/* Create the view update log table if the engine lacks it.  Engine statuses. */
wc_status wc_views_log_open(wc_engine *e);
/* Hand every logged update record to sink, oldest first.  Engine read statuses. */
wc_status wc_views_log_scan(wc_engine *e, wc_views_sink sink, void *arg);
/* The batch record that removes the log entry of id (16 bytes) into *out.  WC_NO_MEMORY. */
wc_status wc_views_log_removal(const uint8_t *id, wc_buf *out);
/*
 * The next entry of an update record's entries at *p (before end): 1 and
 * *u (pointing into the record), 0 at the end, -1 when malformed.
 */
int wc_views_update_next(const uint8_t **p, const uint8_t *end, wc_views_update *u);

/*
 * Empty every view of base_id (its table was dropped or emptied): each
 * view's engine table is dropped and created again with its definition.
 * Statuses of wc_engine_drop_table and wc_engine_create_table.
 */
wc_status wc_views_empty_of(wc_views *v, wc_engine *e, uint32_t base_id);

#endif /* WC_VIEW_H */
