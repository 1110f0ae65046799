/*
 * client.h - the blocking client of the local widecol node, used by
 * PostgreSQL backends (protocol in docs/protocol.md).
 *
 * A wc_client owns one Unix-socket connection and its buffers.  Every call
 * sends one request frame with one write (APPLY: one writev of a 14-byte
 * prefix and the caller's batch, no copy) and reads the one response with
 * as few reads as its size allows.  The client starts no thread and never
 * touches signal state; all I/O is non-blocking with poll(), restarted on
 * EINTR, and bounded by the client's timeout so a stuck node cannot hang a
 * backend.  SIGPIPE is never raised (MSG_NOSIGNAL).
 *
 * Failures: a status the node reports (engine errors, consistency, unknown
 * table) is returned as is and wc_last_error() holds the node's message;
 * the connection stays usable.  A local or transport failure (I/O error,
 * closed connection, timeout, malformed response) returns WC_UNAVAILABLE,
 * WC_TIMEOUT or WC_CORRUPTION and leaves the client broken: every later
 * call returns WC_UNAVAILABLE until the caller closes it and reconnects.
 *
 * With wc_client_use_ring the client holds a slot of the node's shared
 * memory ring and small requests go through it instead of the socket
 * (same frames, futex wake-ups; see shmring.h).
 *
 * Thread-safety: a wc_client is used by one thread at a time.  Pages
 * returned by wc_client_read are independent of the client (they may
 * outlive it).
 */
#ifndef WC_CLIENT_H
#define WC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consistency.h"
#include "engine.h"
#include "protocol.h"
#include "shmring.h"
#include "status.h"

typedef struct wc_client wc_client;
struct wc_rowcache;

/* One page of a read, decoded in place: every pointer points into frame. */
typedef struct wc_client_page {
    size_t nrows;
    wc_result_row *rows;         /* nrows rows; cells of all rows in one array */
    bool more;                   /* another page follows: pass paging_state back */
    const uint8_t *paging_state; /* NULL when there is none */
    size_t paging_state_len;
    wc_read_stats stats;
    size_t ntrace;               /* wc_client_read_ex with trace: the replicas asked */
    wc_read_trace trace[WC_PROTO_TRACE_MAX];
    bool cached;                 /* wc_client_read_cached answered from the row cache */
    bool direct;                 /* wc_client_read_direct read the table's files itself */
    void *frame;                 /* private: the received response */
    void *mem;                   /* private: the row and cell arrays */
    const uint8_t *body;         /* private: the page's encoding, inside frame */
    size_t body_len;
} wc_client_page;

/*
 * Called about every 100 ms while a call waits for the node; return false
 * to abandon the call (it returns WC_TIMEOUT "interrupted" and the client
 * is broken).  Lets a backend honour query cancellation.  Must not
 * longjmp out of the client.
 */
typedef bool (*wc_client_wait_fn)(void *arg);

/* API: connection */

/*
 * Connect to the node listening at path and do the handshake.  timeout_ms
 * bounds the connect and the handshake and becomes the client's timeout
 * for each later call (<= 0: wait forever).  Caller closes *out.
 * Statuses: WC_INVALID_ARGUMENT (path too long for a Unix socket; protocol
 * version mismatch, with the node's message), WC_UNAVAILABLE ("could not
 * connect to the widecol node at <path>: ..."), WC_TIMEOUT, WC_OVERLOADED
 * (the node has too many connections), WC_CORRUPTION (not a widecol node),
 * WC_NO_MEMORY.
 */
wc_status wc_client_connect(const char *path, int timeout_ms, wc_client **out);
/* Close the connection and free the client.  NULL is a no-op. */
void wc_client_close(wc_client *c);
/* Change the per-call timeout (<= 0: none). */
void wc_client_set_timeout(wc_client *c, int timeout_ms);
/* Install (or with NULL remove) the wait hook. */
void wc_client_set_wait_hook(wc_client *c, wc_client_wait_fn fn, void *arg);
/* True once a transport failure made the client unusable. */
bool wc_client_broken(const wc_client *c);
/*
 * Send from now on every request whose frame fits a slot through a slot
 * of the node's shared-memory ring at mem (shmring.h), the rest over the
 * socket; waiting for an answer spins at most spin_us (only while the
 * threads runnable on the machine do not outnumber its CPUs) before
 * sleeping on a futex, and notices within 100 ms a node that stopped or restarted
 * (WC_UNAVAILABLE, client broken).  The slot is held until the client is
 * closed or broken.  On failure the client keeps using the socket alone:
 * WC_CORRUPTION (not a ring), WC_UNAVAILABLE (no node serves it),
 * WC_OVERLOADED (every slot taken), WC_NO_MEMORY.
 */
wc_status wc_client_use_ring(wc_client *c, void *mem, size_t size, int spin_us);
/* True while requests go through a ring slot. */
bool wc_client_on_ring(const wc_client *c);
/*
 * Answer wc_client_read_cached from the row cache rc (rowcache.h) and fill
 * it; NULL: always ask the node.  REQUIRES: rc outlives the client.
 */
void wc_client_use_rowcache(wc_client *c, struct wc_rowcache *rc);
/*
 * Answer wc_client_read_direct from the tables' files where the direct
 * read region dr allows it (directread.h); NULL: always ask the node.
 * REQUIRES: dr outlives the client.
 */
struct wc_directread;
void wc_client_use_directread(wc_client *c, struct wc_directread *dr);

/* API: requests.  Each returns WC_OK, the node's status, or a transport status (above). */

/*
 * Create a table.  def->schema carries its typed schema (engine/schema_def.h
 * encoding, with the keyspace replication; none: replication factor 1),
 * stored as sent.  def->compaction is the CQL compaction map ("" = STCS
 * defaults), stored verbatim.  REQUIRES: def->id != 0.  WC_EXISTS if the id
 * belongs to another table name; WC_INVALID_ARGUMENT if the replication is
 * invalid or the engine refuses the compaction map (wc_last_error() is the
 * engine's message naming the option); WC_CORRUPTION if the schema bytes do
 * not decode.
 */
wc_status wc_client_create_table(wc_client *c, const wc_table_def *def);
/*
 * Replace gc_grace, default_ttl, name, schema and compaction map (an empty
 * def->compaction means STCS defaults: send the stored map to keep it).
 * WC_NOT_FOUND if absent; the other statuses as for create (a refused
 * definition changes nothing).
 */
wc_status wc_client_alter_table(wc_client *c, const wc_table_def *def);
/* Drop a table and its data.  WC_NOT_FOUND if absent. */
wc_status wc_client_drop_table(wc_client *c, uint32_t table_id);
/*
 * The stored definition (schema bytes as stored: wc_schema_decode;
 * compaction as written).  *out owns its schema bytes: release them with
 * wc_table_def_clear.  WC_NOT_FOUND if absent.
 */
wc_status wc_client_get_table(wc_client *c, uint32_t table_id, wc_table_def *out);
/* Ids of all tables; caller frees *ids with wc_free (NULL when *n is 0). */
wc_status wc_client_list_tables(wc_client *c, uint32_t **ids, size_t *n);

/*
 * Apply an encoded batch record (mutation.h) atomically at consistency cl.
 * The batch is sent without a copy.  WC_INVALID_ARGUMENT if it exceeds the
 * frame limit (nothing sent, client still usable) or is malformed;
 * WC_UNAVAILABLE if cl cannot be met; the engine's statuses.
 */
wc_status wc_client_apply(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl);
/*
 * wc_client_apply for a client that fsyncs the commit log itself
 * (clsync.h): on a node in batch sync mode that serves this client's
 * shared-memory ring, the answer comes once the record is appended and
 * applied, and *need names the record, which the caller must make durable
 * (wc_clsync_to, else wc_client_sync) before it acknowledges the write.
 * need->segment is 0 when the node synced (or had nothing to sync).
 */
wc_status wc_client_apply_unsynced(wc_client *c, const uint8_t *batch, size_t len,
                                   wc_consistency cl, wc_clpos *need);
/* SYNC: have the node make the record at pos durable (the fallback of wc_clsync_to). */
wc_status wc_client_sync(wc_client *c, wc_clpos pos);
/* The shared-memory ring the client uses (wc_client_use_ring) and its slot there, NULL when none. */
wc_shmring *wc_client_ring(wc_client *c, uint32_t *slot);
/*
 * Pipelined APPLY: send the batch and return without waiting for the node,
 * so the caller can prepare the next batch meanwhile.  At most one APPLY is
 * outstanding: the next request of any kind (or wc_client_apply_wait) first
 * collects its answer and returns its failure, if it failed.  The batch
 * memory may be reused as soon as this returns.  Same statuses as
 * wc_client_apply.
 */
wc_status wc_client_apply_send(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl);
/* Collect the answer of an outstanding wc_client_apply_send (WC_OK if none). */
wc_status wc_client_apply_wait(wc_client *c);

/*
 * STAGE: hand the node a chunk of the writes of a statement (or
 * transaction) that it is to publish at once later, at consistency cl;
 * pipelined like
 * wc_client_apply_send (at most one outstanding, its failure returned by
 * the next request or wc_client_apply_wait).  first begins the
 * connection's staged transaction (one still open is dropped); a later
 * chunk after a failed one fails too.  Staged writes are invisible to
 * every read until wc_client_publish, and a node that restarts or loses
 * the connection before then drops them.  STAGE and PUBLISH always travel
 * over the socket, never the ring.  WC_INVALID_ARGUMENT (counter updates,
 * more than the engine's WC_STAGE_MAX_BYTES, a node that runs a cluster),
 * WC_UNAVAILABLE, the statuses of APPLY.
 */
wc_status wc_client_stage_send(wc_client *c, const uint8_t *batch, size_t len, wc_consistency cl,
                               bool first);
/*
 * wc_client_stage_send of count mutations in the batch layout, len bytes
 * at muts without the batch header (the tail of a batch builder, say): the
 * header is sent in front of them, so the chunk is not copied first.
 */
wc_status wc_client_stage_send_mutations(wc_client *c, uint32_t count, const uint8_t *muts,
                                         size_t len, wc_consistency cl, bool first);
/*
 * PUBLISH: make the connection's staged writes visible at once and durable
 * (commit), or drop them (!commit; none open is not an error).  Waits for
 * an outstanding STAGE first and returns its failure, if it failed (the
 * staged transaction is then dropped: send an abort).  Commit with
 * nothing staged: WC_INVALID_ARGUMENT.
 */
wc_status wc_client_publish(wc_client *c, bool commit);

/*
 * Read one page.  Every field of req travels (pk, bounds, reverse,
 * include_static, limits, columns, now_sec, paging state, page_rows, token
 * range, tombstone_failure_threshold).  Caller frees *out with
 * wc_client_page_free.  WC_OVERLOADED when the read scanned more
 * tombstones than req->tombstone_failure_threshold (the engine's message:
 * "read of table <name> scanned <n> tombstones, more than the failure
 * threshold <t>"); WC_UNAVAILABLE / WC_INVALID_ARGUMENT for cl; the
 * engine's statuses.
 */
wc_status wc_client_read(wc_client *c, const wc_read_request *req, wc_consistency cl,
                         wc_client_page **out);
/*
 * Read one page merged with overlay[0..overlay_len), a batch record of
 * req->table_id's mutations not yet applied (a transaction's own writes),
 * as the newest source; overlay_len 0 is a plain wc_client_read.  The
 * overlay is sent with every page: pass the same one with the paging
 * state.  Statuses of wc_client_read; WC_INVALID_ARGUMENT for a malformed
 * overlay or one of another table.
 */
wc_status wc_client_read_overlay(wc_client *c, const wc_read_request *req, wc_consistency cl,
                                 const uint8_t *overlay, size_t overlay_len,
                                 wc_client_page **out);
/*
 * wc_client_read_overlay, and with trace the replicas' part in the
 * coordinated read into (*out)->trace (none when the node serves alone).
 */
wc_status wc_client_read_ex(wc_client *c, const wc_read_request *req, wc_consistency cl,
                            const uint8_t *overlay, size_t overlay_len, bool trace,
                            wc_client_page **out);
/*
 * wc_client_read of a single partition (req->pk set, no paging state)
 * through the row cache (wc_client_use_rowcache): an entry for the same
 * request that is still current (rowcache.h) is the page, with
 * (*out)->cached set and zero stats, without asking the node; otherwise the
 * node answers and a complete answer (one page) is stored, unless a write
 * to the partition was in progress when the read began, it does not fit a
 * slot, a returned row may live by a column not returned (never_expires:
 * the caller knows that no cell of the table can expire, as in a counter
 * table, so such a row cannot end by time), or it holds collection cells.
 * The caller decides that the read may be cached at all (no pending writes
 * of the transaction to merge, no trace).  Statuses of wc_client_read.
 */
/*
 * A read of one partition (req->pk set) that the client answers by reading
 * the table's SSTable files itself when no memtable of the node can hold
 * the partition (wc_client_use_directread, directread.h), and otherwise
 * asks the node, as wc_client_read.  Only at consistency ONE or LOCAL_ONE
 * (a node alone is the one replica); a pipelined write of this client is
 * settled first.  row: req names the whole clustering key of one row
 * (wc_directread_read).  The page says which (direct).
 */
wc_status wc_client_read_direct(wc_client *c, const wc_read_request *req, wc_consistency cl,
                                bool row, wc_client_page **out);
wc_status wc_client_read_cached(wc_client *c, const wc_read_request *req, wc_consistency cl,
                                bool never_expires, wc_client_page **out);
/*
 * INDEX_READ: one page of the rows of req->table_id whose column indexed by
 * the secondary index `index` holds value (req: columns, include_static,
 * page_rows, limit, paging state of a previous page of this read; pk and
 * slice ignored).  Statuses of wc_client_read; WC_NOT_FOUND for an unknown
 * index, WC_UNAVAILABLE while it is being built.
 */
wc_status wc_client_index_read(wc_client *c, const wc_read_request *req, wc_consistency cl,
                               const char *index, const uint8_t *value, size_t vlen,
                               wc_client_page **out);
void wc_client_page_free(wc_client_page *p);
/*
 * The number of live clustering rows (static rows not counted) that
 * wc_client_read_overlay of req would return over all its pages, counted by
 * the node (coordinated at cl on a cluster) without sending them; req's
 * paging state, limits and page size are the node's to use.  *stats sums the
 * read statistics of the pages.  Statuses of wc_client_read_overlay.
 */
wc_status wc_client_count(wc_client *c, const wc_read_request *req, wc_consistency cl,
                          const uint8_t *overlay, size_t overlay_len, uint64_t *count,
                          wc_read_stats *stats);

/* Flush a table's memtable (0: every table) and wait for it. */
wc_status wc_client_flush(wc_client *c, uint32_t table_id);
/* Major compaction of a table (may take long: raise the timeout first). */
wc_status wc_client_compact(wc_client *c, uint32_t table_id);
wc_status wc_client_table_stats(wc_client *c, uint32_t table_id, wc_table_stats *out);
/*
 * Scrub a table (wc_engine_scrub: salvage damaged SSTables, quarantine them,
 * bring an offline table online); may take long: raise the timeout first.
 * WC_NOT_FOUND, WC_IO_ERROR, WC_NO_SPACE.
 */
wc_status wc_client_scrub(wc_client *c, uint32_t table_id, wc_scrub_result *out);
/*
 * Compaction state of one table (strategy, levels, windows, droppable
 * tombstones, read histogram, counters): every field of the engine's
 * wc_compaction_stats.  WC_NOT_FOUND if the table is absent.
 */
wc_status wc_client_compaction_stats(wc_client *c, uint32_t table_id, wc_compaction_stats *out);
/*
 * Running compactions (with progress) and the next pending one per idle
 * table with work, of one table or (table_id 0) every table.  Caller frees
 * *out with wc_free (NULL with *n 0 is allowed; *out is NULL and *n 0 on
 * failure).  WC_NOT_FOUND for an unknown non-zero table_id; WC_NO_MEMORY.
 */
wc_status wc_client_compactions(wc_client *c, uint32_t table_id, wc_compaction_info **out,
                                size_t *n);
/* A round trip that touches nothing. */
wc_status wc_client_ping(wc_client *c);
wc_status wc_client_node_info(wc_client *c, wc_node_info *out);
/* MEMBERS: the cluster as the node sees it; caller frees *out with wc_proto_members_free. */
wc_status wc_client_members(wc_client *c, wc_proto_members *out);
/* STREAMS: the node's streaming sessions into *out[0..*n) (caller frees *out with wc_free). */
wc_status wc_client_streams(wc_client *c, wc_proto_stream **out, size_t *n);

/*
 * SCHEMA_CHANGE: apply one change to the cluster schema of the node and
 * wait for agreement as the request asks (raise the timeout past
 * ch->wait_ms first).  WC_UNAVAILABLE if the node runs no cluster; the
 * store's refusals (WC_EXISTS, WC_NOT_FOUND, WC_INVALID_ARGUMENT).
 */
wc_status wc_client_schema_change(wc_client *c, const wc_proto_schema_change *ch,
                                  wc_proto_schema_result *res);
/*
 * SCHEMA_LIST: *flags, and (when the schema differs from known) the full
 * schema PUSH message in *push, valid until the next call on c.
 */
wc_status wc_client_schema_list(wc_client *c, const uint8_t *known, size_t known_len,
                                uint8_t *flags, const uint8_t **push, size_t *push_len);

/*
 * REPAIR (since version 12): repair table_id as flags (WC_REPAIRF_*) ask
 * and wait for the end (may take long: raise the timeout first); *out is
 * the finished repair.  A failed repair is the node's status and message.
 */
wc_status wc_client_repair(wc_client *c, uint32_t table_id, uint8_t flags,
                           wc_proto_repair_info *out);
/* REPAIRS: the repairs the node remembers, oldest first (caller wc_frees *v). */
wc_status wc_client_repairs(wc_client *c, wc_proto_repair_info **v, size_t *n);
/*
 * SNAPSHOT: take (the new snapshot), clear (the snapshots removed) or list
 * the node's snapshots into *v (caller wc_frees it).
 */
wc_status wc_client_snapshot(wc_client *c, uint8_t action, const char *tag, wc_proto_snapshot **v,
                             size_t *n);
/*
 * CAS (since version 15): a lightweight transaction (lwt.h); *applied says
 * whether its conditions held and its batch was written.  Failures are the
 * node's status and message (WC_TIMEOUT: contention or an unknown outcome).
 */
struct wc_lwt_request;
wc_status wc_client_cas(wc_client *c, const struct wc_lwt_request *r, bool *applied);
/*
 * CLEANUP (since version 13): drop the partitions of table_id the node no
 * longer replicates and wait for the end (raise the timeout first); what
 * was dropped into *out.
 */
wc_status wc_client_cleanup(wc_client *c, uint32_t table_id, wc_cleanup_result *out);
/*
 * DECOMMISSION (since version 13): the node streams its ranges to their
 * new owners and leaves the ring; waits for the end (raise the timeout
 * first).  What was streamed into *out.
 */
wc_status wc_client_decommission(wc_client *c, wc_proto_topology_result *out);
/*
 * REMOVENODE (since version 13): the dead node host_id's ranges are
 * streamed to their new owners from the surviving replicas, then it leaves
 * the ring; waits for the end.  What was streamed into *out.
 */
wc_status wc_client_removenode(wc_client *c, const uint8_t host_id[WC_MEMBER_HOST_ID_LEN],
                               wc_proto_topology_result *out);

#endif /* WC_CLIENT_H */
