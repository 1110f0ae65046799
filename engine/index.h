/*
 * index.h - node-local secondary indexes (Cassandra's 2i): each engine
 * indexes the rows it stores itself.
 *
 * A table lists its indexes in the "indexes" property of its typed schema
 * (schema_def.h): an options map {'<index name>': '<column name>', ...}
 * over regular columns.  For each the engine keeps a hidden table of its
 * own (id WC_INDEX_ID_BIT | hash of base id and name; never listed by
 * wc_engine_list_tables, so neither replicated nor repaired) whose
 *
 *   partition key  = the indexed cell's value bytes,
 *   clustering key = token (8 bytes, as in flat keys) | u16be pk_len | pk |
 *                    the base row's clustering key,
 *
 * so one value's entries sort in the base table's token order and a page
 * of them continues where the last stopped.  Layout in docs/file-formats.md,
 * "Secondary index tables".
 *
 * Maintenance: every write of a base row that carries a live cell of an
 * indexed column adds an entry (row liveness with the cell's timestamp and
 * TTL) to the SAME commit-log record (wc__index_augment), so base data and
 * index never disagree after a crash.  Deletes and overwrites write nothing
 * to the index: a read checks every entry against the base row (the cell
 * must still hold the value) and deletes entries that no longer match
 * (Cassandra's read-time validation with cleanup), so results are exact.
 *
 * Creation backfills from the table's data while writes continue (they
 * already maintain the index); the hidden table is named "<base>#<index>#building"
 * until the backfill ends, and an index found in that state at open is
 * built again.  Dropping the index (removing it from the property) or the
 * base table drops the hidden table.
 *
 * Thread-safety: the registry lives in the engine under tables_mu (read on
 * every write, replaced under the write lock); wc__index_sync is serialized
 * by the engine's index_mu and takes ddl_mu only through the public DDL
 * calls (never while holding it).
 */
#ifndef WC_INDEX_H
#define WC_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "engine.h"
#include "status.h"

/* Ids of hidden index tables have this bit; the extension never makes such ids. */
#define WC_INDEX_ID_BIT 0x80000000u
/* Name of the schema property that lists a table's indexes. */
#define WC_INDEX_PROPERTY "indexes"

/* One index of the registry. */
typedef struct wc__index {
    uint32_t base_id;
    uint32_t index_id;   /* the hidden table */
    uint32_t cell_id;    /* engine column id of the indexed column */
    bool built;          /* backfill finished: reads may use it */
    char name[128];
} wc__index;

/* API */

/* The id of index name of table base_id (WC_INDEX_ID_BIT set, never 0 below it). */
uint32_t wc_index_table_id(uint32_t base_id, const char *name);

/*
 * Read one page of the rows of table req->table_id whose indexed column
 * of index `name` holds exactly value[0..len): req as for wc_engine_read
 * (columns, include_static, page_rows, limit, now_sec, paging_state from a
 * previous page of THIS kind of read; pk and the clustering slice are
 * ignored).  With req->token_range only rows whose token lies in
 * (token_start, token_end] (token_start INT64_MIN including it), and a
 * bounded req->start is then an index entry key (the hidden table's
 * clustering key above: token | u16be pk_len | pk | ck) after which the
 * read begins (a replica continuing a coordinated index read).  Rows come
 * in token order.  Entries that no longer match their
 * base row are skipped and deleted.  Caller frees *out with wc_page_free.
 * WC_NOT_FOUND (no such table or index), WC_UNAVAILABLE (the index is
 * still being built), statuses of wc_engine_read, WC_NO_MEMORY.
 */
wc_status wc_engine_index_read(wc_engine *e, const wc_read_request *req, const char *name,
                               const uint8_t *value, size_t len, wc_page **out);

/* Internal (engine.c, write.c, open.c) */

/*
 * Bring the hidden tables and the registry in line with the tables'
 * "indexes" properties: create (and backfill) new indexes, rebuild ones
 * left half-built, drop indexes no longer listed and those of dropped
 * tables.  REQUIRES: no engine lock held.  Statuses of the DDL calls and
 * of wc_engine_read/apply; WC_INVALID_ARGUMENT for a property that does not
 * parse or names an unknown or non-regular column (nothing is created).
 */
wc_status wc__index_sync(wc_engine *e);
/*
 * If rec (a validated-to-be batch) writes indexed tables, *out gets rec with
 * the index entries of its rows appended as further mutations and true is
 * returned; else false (out untouched).  REQUIRES: tables_mu held.
 * WC_INVALID_ARGUMENT for an indexed value longer than WC_MAX_PK_LEN,
 * WC_NO_MEMORY (the caller writes nothing then).
 */
wc_status wc__index_augment(wc_engine *e, const uint8_t *rec, size_t len, wc_buf *out,
                            bool *augmented);
/* Free the registry (close). */
void wc__index_free(wc_engine *e);

#endif /* WC_INDEX_H */
