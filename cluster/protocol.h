/*
 * protocol.h - encoder and decoder of the client protocol between
 * PostgreSQL backends and their local widecol node (byte layouts in
 * protocol_format.h and docs/protocol.md).
 *
 * Owns nothing but the byte forms: encoders append to a caller's wc_buf
 * (allocation failures are sticky in the buffer and reported by
 * wc_proto_end_frame / wc_buf_status), decoders read a caller's bytes and
 * return views into them.  Every decoder validates every length against the
 * bytes it was given, requires the body to be consumed exactly and returns
 * WC_CORRUPTION (never crashes, never allocates more than the input can
 * justify) on a malformed or truncated message.  Stateless: thread-safe.
 *
 * Frame flow: wc_proto_begin_request / wc_proto_begin_response append the
 * length prefix and the header, the caller appends a body with a put
 * function, wc_proto_end_frame patches the length.  On receipt,
 * wc_proto_frame_length checks the prefix, wc_proto_parse_request /
 * wc_proto_parse_response split the payload into header and body, and the
 * get function of the opcode decodes the body.
 */
#ifndef WC_PROTOCOL_H
#define WC_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "consistency.h"
#include "engine.h"
#include "protocol_format.h"
#include "status.h"

/* What NODE_INFO reports. */
typedef struct wc_node_info {
    uint32_t protocol_version;
    char version[32];            /* widecol library version, e.g. "0.1" */
    uint64_t uptime_ms;
    char data_dir[4096];
    char socket_path[128];
    uint32_t connections_open;
    uint32_t max_connections;
    uint64_t connections_total;  /* accepted since start */
    uint64_t connections_refused; /* over max_connections */
    uint64_t requests_total;
    uint64_t errors_total;       /* responses with a failure status */
    uint64_t requests[WC_OP_COUNT]; /* by opcode; [0] counts unknown opcodes */
    /* the engine (wc_engine_stats; since version 3) */
    uint64_t memtable_bytes;
    uint64_t memtable_flushing_bytes;
    uint64_t memtable_limit_bytes;
    uint64_t commitlog_bytes;
    uint64_t commitlog_limit_bytes;
    uint64_t writes_stalled;
    uint64_t writes_refused;
    char background_error[512]; /* "" if none */
} wc_node_info;

/* MEMBERS: one node of the cluster as the answering node sees it (since version 6). */
#define WC_MEMBER_HOST_ID_LEN 16
typedef struct wc_member_info {
    char address[80];          /* internode "host:port" */
    char dc[48];
    char rack[48];
    bool up;
    bool local;                /* the node that answers */
    bool has_host_id;
    bool has_load;
    uint8_t status;            /* a wc_gossip_status value (gossip.h) */
    uint64_t load_bytes;
    uint8_t host_id[WC_MEMBER_HOST_ID_LEN];
    char schema_version[64];
    char sql_address[128];
    char release_version[32];
    uint32_t ntokens;
    const int64_t *tokens;     /* sorted; decoded: into wc_proto_members.tokens */
} wc_member_info;

/* A decoded MEMBERS response (wc_proto_members_free). */
typedef struct wc_proto_members {
    bool cluster;              /* false: the node runs no cluster (n is 0) */
    size_t n;
    wc_member_info *members;
    int64_t *tokens;           /* every member's tokens, one allocation */
} wc_proto_members;

/* A decoded READ response.  rows/cells live in mem (one allocation, caller
 * wc_frees it); every byte pointer points into the decoded body. */
typedef struct wc_proto_page {
    size_t nrows;
    wc_result_row *rows;
    bool more;
    const uint8_t *paging_state; /* NULL when paging_state_len == 0 */
    size_t paging_state_len;
    wc_read_stats stats;
    void *mem;
} wc_proto_page;

/* Smallest encoded compaction in a COMPACTIONS response (no input generations). */
#define WC_PROTO_MIN_COMPACTION_BYTES 39u

/* Bytes in front of the batch in an APPLY frame (frame header, request header, u8 cl, u32 len). */
#define WC_PROTO_APPLY_PREFIX 14u

/* API: frames */

/*
 * Append a frame length placeholder and a request header (opcode, id);
 * returns the offset of the frame, for wc_proto_end_frame.
 */
size_t wc_proto_begin_request(wc_buf *b, uint8_t op, uint32_t id);
/* Same for a response header (id, status). */
size_t wc_proto_begin_response(wc_buf *b, uint32_t id, wc_status st);
/*
 * Patch the length of the frame that starts at offset start.
 * WC_NO_MEMORY if an append failed, WC_INVALID_ARGUMENT if the payload
 * exceeds WC_PROTO_MAX_FRAME.
 */
wc_status wc_proto_end_frame(wc_buf *b, size_t start);
/* Payload length from a 4-byte prefix.  WC_CORRUPTION if above WC_PROTO_MAX_FRAME. */
wc_status wc_proto_frame_length(const uint8_t *prefix, uint32_t *len);

/*
 * Split a request payload.  WC_CORRUPTION if shorter than the header;
 * WC_INVALID_ARGUMENT for an unknown opcode (*op and *id are still set, so
 * the node can answer that request).
 */
wc_status wc_proto_parse_request(const uint8_t *p, size_t len, uint8_t *op, uint32_t *id,
                                 const uint8_t **body, size_t *body_len);
/* Split a response payload.  WC_CORRUPTION if short or the status is unknown. */
wc_status wc_proto_parse_response(const uint8_t *p, size_t len, uint32_t *id, wc_status *st,
                                  const uint8_t **body, size_t *body_len);

/* Error body: bytes message (cut at WC_PROTO_MAX_ERROR_MESSAGE). */
void wc_proto_put_error(wc_buf *b, const char *msg);
/* *msg points into body (not NUL-terminated).  WC_CORRUPTION if malformed. */
wc_status wc_proto_get_error(const uint8_t *body, size_t len, const char **msg, size_t *msg_len);

/* API: handshake (whole frames) */

/* Append the client's handshake frame. */
void wc_proto_put_handshake(wc_buf *b, uint32_t version);
/* Decode a handshake payload.  WC_CORRUPTION if the length or magic is wrong. */
wc_status wc_proto_get_handshake(const uint8_t *p, size_t len, uint32_t *version);
/* Append the node's handshake reply frame; msg is used when st != WC_OK. */
void wc_proto_put_handshake_reply(wc_buf *b, uint32_t version, wc_status st, const char *msg);
/*
 * Decode a handshake reply payload.  *st is the node's verdict; on failure
 * *msg and *msg_len point into p.  Returns WC_CORRUPTION if malformed.
 */
wc_status wc_proto_get_handshake_reply(const uint8_t *p, size_t len, uint32_t *version,
                                       wc_status *st, const char **msg, size_t *msg_len);

/* API: request bodies */

/*
 * CREATE_TABLE / ALTER_TABLE: the table definition: id, name, gc_grace,
 * default TTL, the typed schema bytes (engine/schema_def.h, which carry the
 * keyspace replication) and the compaction map verbatim (the engine
 * validates it).  Strings longer than their field are cut at the field's
 * size - 1; the schema has no size limit but the frame's.
 */
void wc_proto_put_table_change(wc_buf *b, const wc_table_def *def);
/*
 * *def gets the fields and a copy of the schema bytes it owns (release with
 * wc_table_def_clear).  WC_CORRUPTION if malformed (a string that does not
 * fit its field or holds a NUL is malformed, never cut), WC_NO_MEMORY.
 */
wc_status wc_proto_get_table_change(const uint8_t *body, size_t len, wc_table_def *def);

/* DROP_TABLE, GET_TABLE, COMPACT, TABLE_STATS, COMPACTION_STATS, SCRUB: u32 table id;
 * COMPACTIONS: u32 table id, 0 = every table. */
void wc_proto_put_table_id(wc_buf *b, uint32_t table_id);
wc_status wc_proto_get_table_id(const uint8_t *body, size_t len, uint32_t *table_id);

/* FLUSH: u32 table id (0 = all), u8 wait. */
void wc_proto_put_flush(wc_buf *b, uint32_t table_id, bool wait);
wc_status wc_proto_get_flush(const uint8_t *body, size_t len, uint32_t *table_id, bool *wait);

/*
 * APPLY: u8 consistency | WC_APPLYF_CLIENT_SYNCS, u32 batch length, batch
 * record (mutation.h).  The answer is empty, or, when the client said it
 * syncs and the node left the commit log's fsync to it, the record's
 * commit-log position (u64 segment, u64 offset; wc_proto_put_clpos).
 */
void wc_proto_put_apply(wc_buf *b, wc_consistency cl, const uint8_t *batch, size_t batch_len);
/*
 * The WC_PROTO_APPLY_PREFIX bytes of a whole APPLY frame that precede the
 * batch, so a client can send prefix and batch with one writev and no copy.
 * WC_INVALID_ARGUMENT if the frame would exceed WC_PROTO_MAX_FRAME.
 */
wc_status wc_proto_apply_prefix(uint8_t *out, uint32_t id, wc_consistency cl, bool client_syncs,
                                size_t batch_len);
/* *batch points into body.  WC_CORRUPTION if malformed, cl unknown, or a flag set that
 * client_syncs (NULL: none accepted) does not take. */
wc_status wc_proto_get_apply(const uint8_t *body, size_t len, wc_consistency *cl,
                             bool *client_syncs, const uint8_t **batch, size_t *batch_len);

/* A commit-log position: the body of SYNC (since version 21: make the record at it durable)
 * and of an APPLY answer that leaves the fsync to the client. */
void wc_proto_put_clpos(wc_buf *b, wc_clpos pos);
/* WC_CORRUPTION if malformed; an empty body is position {0, 0} when empty_ok (APPLY answer). */
wc_status wc_proto_get_clpos(const uint8_t *body, size_t len, bool empty_ok, wc_clpos *pos);

/*
 * STAGE (since version 17): u8 consistency level | WC_STAGEF_FIRST, u32
 * batch length, batch record.  The frame prefix has APPLY's size
 * (WC_PROTO_APPLY_PREFIX); statuses as for APPLY.
 */
wc_status wc_proto_stage_prefix(uint8_t *out, uint32_t id, wc_consistency cl, bool first,
                                size_t batch_len);
/* *batch points into body.  WC_CORRUPTION if malformed or cl unknown. */
wc_status wc_proto_get_stage(const uint8_t *body, size_t len, wc_consistency *cl, bool *first,
                             const uint8_t **batch, size_t *batch_len);
/* PUBLISH (since version 17): u8 action, WC_PUBLISH_COMMIT or WC_PUBLISH_ABORT. */
void wc_proto_put_publish(wc_buf *b, uint8_t action);
/* WC_CORRUPTION if malformed or the action unknown. */
wc_status wc_proto_get_publish(const uint8_t *body, size_t len, uint8_t *action);

/* READ: the whole wc_read_request (tombstone_failure_threshold too) and a consistency level. */
void wc_proto_put_read(wc_buf *b, const wc_read_request *req, wc_consistency cl);
/*
 * Byte fields of *req point into body; the column list (if any) is copied
 * to *columns, which the caller frees with wc_free (NULL when absent).
 * WC_CORRUPTION if malformed; WC_NO_MEMORY.
 */
wc_status wc_proto_get_read(const uint8_t *body, size_t len, wc_read_request *req,
                            wc_consistency *cl, uint32_t **columns);
/*
 * READ with an overlay (since version 9): the reader's own pending writes
 * of req->table_id, a batch record (engine/mutation.h) that the node merges
 * with the stored data as the newest source.  overlay_len 0: none (the
 * request is then exactly what wc_proto_put_read writes).
 */
void wc_proto_put_read_overlay(wc_buf *b, const wc_read_request *req, wc_consistency cl,
                               const uint8_t *overlay, size_t overlay_len);
/*
 * As wc_proto_get_read; *overlay points into body (NULL and *overlay_len 0
 * when the request carries none).
 */
wc_status wc_proto_get_read_overlay(const uint8_t *body, size_t len, wc_read_request *req,
                                    wc_consistency *cl, uint32_t **columns,
                                    const uint8_t **overlay, size_t *overlay_len);

/*
 * READ as wc_proto_put_read_overlay, asking with trace (since version 10)
 * for the replicas' part in the coordinated read after the page
 * (wc_proto_put_trace).
 */
void wc_proto_put_read_ex(wc_buf *b, const wc_read_request *req, wc_consistency cl,
                          const uint8_t *overlay, size_t overlay_len, bool trace);
/* As wc_proto_get_read_overlay; *trace says whether the trace was asked for. */
wc_status wc_proto_get_read_ex(const uint8_t *body, size_t len, wc_read_request *req,
                               wc_consistency *cl, uint32_t **columns, const uint8_t **overlay,
                               size_t *overlay_len, bool *trace);

/*
 * INDEX_READ (since version 18): bytes index name (1..127 bytes), bytes
 * value (the indexed column's cell value), then a READ body without
 * overlay or trace.  The answer is a page, as for READ.
 */
void wc_proto_put_index_read(wc_buf *b, const char *index, const uint8_t *value, size_t vlen,
                             const wc_read_request *req, wc_consistency cl);
/*
 * The index name into index[0..128) (NUL-terminated); *value points into
 * body; the rest as wc_proto_get_read.  WC_CORRUPTION if malformed;
 * WC_NO_MEMORY.
 */
wc_status wc_proto_get_index_read(const uint8_t *body, size_t len, char *index,
                                  const uint8_t **value, size_t *vlen, wc_read_request *req,
                                  wc_consistency *cl, uint32_t **columns);

/* API: response bodies */

#define WC_PROTO_TRACE_MAX 8

/*
 * COUNT_ROWS (since version 20): the request is a READ's (wc_proto_put_read_ex
 * without trace); the response is u64 the number of live clustering rows the
 * read returns over all its pages (static rows not counted), then the read
 * statistics of those pages summed.
 */
void wc_proto_put_count(wc_buf *b, uint64_t count, const wc_read_stats *stats);
/* WC_CORRUPTION if the response is truncated or has trailing bytes. */
wc_status wc_proto_get_count(const uint8_t *body, size_t len, uint64_t *count,
                             wc_read_stats *stats);

/* One replica's part in a coordinated read (a READ with the trace flag). */
typedef struct wc_read_trace {
    char address[80]; /* internode "host:port" */
    uint32_t asks;    /* reads sent to it */
    uint32_t answers; /* answered with success */
    uint32_t digests; /* of them, digests only */
    uint64_t us;      /* time from ask to answer, summed */
    uint64_t bytes;   /* raw data of its data answers */
} wc_read_trace;

/*
 * Append the trace t[0..n) (n <= WC_PROTO_TRACE_MAX) to a READ response
 * after its page: u8 n, n entries, then u32 the length of those.
 */
void wc_proto_put_trace(wc_buf *b, const wc_read_trace *t, size_t n);
/*
 * Split a READ response that ends with a trace: *page_len is the length of
 * its page part, the entries go to t[0..*n) (room for WC_PROTO_TRACE_MAX).
 * WC_CORRUPTION if malformed.
 */
wc_status wc_proto_get_trace(const uint8_t *body, size_t len, size_t *page_len, wc_read_trace *t,
                             size_t *n);

/* GET_TABLE: the stored definition, as for CREATE_TABLE (the decoder's def owns its
 * schema bytes: wc_table_def_clear). */
void wc_proto_put_table_def(wc_buf *b, const wc_table_def *def);
wc_status wc_proto_get_table_def(const uint8_t *body, size_t len, wc_table_def *def);

/* LIST_TABLES: u32 n, n x u32 id. */
void wc_proto_put_table_ids(wc_buf *b, const uint32_t *ids, size_t n);
/* Caller frees *ids with wc_free (NULL when n is 0).  WC_CORRUPTION / WC_NO_MEMORY. */
wc_status wc_proto_get_table_ids(const uint8_t *body, size_t len, uint32_t **ids, size_t *n);

/* READ: one page, encoded straight from the engine's page. */
void wc_proto_put_page(wc_buf *b, const wc_page *page);
/*
 * Decode a page in place: rows and cells in one allocation (out->mem,
 * caller frees), byte fields pointing into body, which must outlive out.
 * WC_CORRUPTION if malformed (nothing allocated then), WC_NO_MEMORY.
 */
wc_status wc_proto_get_page(const uint8_t *body, size_t len, wc_proto_page *out);

/* TABLE_STATS: 8 x u64. */
void wc_proto_put_table_stats(wc_buf *b, const wc_table_stats *s);
wc_status wc_proto_get_table_stats(const uint8_t *body, size_t len, wc_table_stats *s);

/* SCRUB: every field of a wc_scrub_result (layout in docs/protocol.md). */
void wc_proto_put_scrub_result(wc_buf *b, const wc_scrub_result *r);
/* WC_CORRUPTION (malformed; *r zeroed) or WC_OK. */
wc_status wc_proto_get_scrub_result(const uint8_t *body, size_t len, wc_scrub_result *r);

/* COMPACTION_STATS: every field of a wc_compaction_stats (layout in docs/protocol.md). */
void wc_proto_put_compaction_stats(wc_buf *b, const wc_compaction_stats *s);
/*
 * Decode into *s (zeroed first: windows past nwindows are 0).  WC_CORRUPTION
 * if malformed: unknown flag bits or strategy, nwindows > WC_STATS_WINDOWS,
 * short or long body.
 */
wc_status wc_proto_get_compaction_stats(const uint8_t *body, size_t len, wc_compaction_stats *s);

/* COMPACTIONS: u32 n, n x compaction (every field of wc_compaction_info). */
void wc_proto_put_compactions(wc_buf *b, const wc_compaction_info *v, size_t n);
/*
 * Caller frees *v with wc_free (NULL when *n is 0).  n is bounded by the
 * body (smallest compaction: WC_PROTO_MIN_COMPACTION_BYTES) before
 * allocating.  WC_CORRUPTION if malformed (nothing allocated then), WC_NO_MEMORY.
 */
wc_status wc_proto_get_compactions(const uint8_t *body, size_t len, wc_compaction_info **v,
                                   size_t *n);

/* NODE_INFO. */
void wc_proto_put_node_info(wc_buf *b, const wc_node_info *ni);
wc_status wc_proto_get_node_info(const uint8_t *body, size_t len, wc_node_info *ni);

/* STREAMS: one streaming session of the node, as widecol.streams shows it (since version 11). */
typedef struct wc_proto_stream {
    char name[64];
    char peer[80];        /* "host:port" */
    bool incoming;        /* pulled into the node (false: served to the peer) */
    uint32_t table_id;
    uint32_t ranges_done, ranges_total;
    uint64_t bytes, rows;
    char state[16];       /* "streaming", "done", "failed" */
} wc_proto_stream;

/* STREAMS response: u32 n, n x session (layout in docs/protocol.md). */
void wc_proto_put_streams(wc_buf *b, const wc_proto_stream *s, size_t n);
/*
 * Decode into *out[0..*n) (caller frees *out with wc_free).  WC_CORRUPTION
 * for a malformed body (counts bounded by the body first), WC_NO_MEMORY.
 */
wc_status wc_proto_get_streams(const uint8_t *body, size_t len, wc_proto_stream **out, size_t *n);

/* MEMBERS: u8 flags, u32 n, n x member (layout in docs/protocol.md). */
void wc_proto_put_members(wc_buf *b, bool cluster, const wc_member_info *m, size_t n);
/*
 * Decode into *out (caller frees with wc_proto_members_free, also after a
 * failure).  Counts are bounded by the body before allocating.
 * WC_CORRUPTION if malformed, WC_NO_MEMORY.
 */
wc_status wc_proto_get_members(const uint8_t *body, size_t len, wc_proto_members *out);
void wc_proto_members_free(wc_proto_members *m);

/* API: schema (since version 8; codec in protocol_schema.c) */

/* A SCHEMA_CHANGE request: kind, agreement wait and up to three byte fields
 * whose meaning depends on the kind (protocol_format.h). */
typedef struct wc_proto_schema_change {
    uint8_t kind;
    uint32_t wait_ms; /* wait this long for every live node to agree; 0: no wait */
    const uint8_t *a, *b, *c;
    size_t alen, blen, clen;
} wc_proto_schema_change;

/* A SCHEMA_CHANGE response. */
typedef struct wc_proto_schema_result {
    uint32_t table_id;  /* CREATE_TABLE: the table's cluster-wide id; else 0 */
    bool agreed;        /* every live node announced the new version in time */
    uint32_t waited_ms;
    uint32_t nlaggards; /* disagreeing nodes (at most WC_SCHEMA_MAX_LAGGARDS named) */
    char laggards[WC_SCHEMA_MAX_LAGGARDS][80];
} wc_proto_schema_result;

void wc_proto_put_schema_change(wc_buf *b, const wc_proto_schema_change *c);
/* Byte fields point into body.  WC_CORRUPTION if malformed or the kind is unknown. */
wc_status wc_proto_get_schema_change(const uint8_t *body, size_t len, wc_proto_schema_change *c);
void wc_proto_put_schema_result(wc_buf *b, const wc_proto_schema_result *r);
wc_status wc_proto_get_schema_result(const uint8_t *body, size_t len, wc_proto_schema_result *r);

/* SCHEMA_LIST request: bytes version the client knows (0 or 16 bytes). */
void wc_proto_put_schema_list(wc_buf *b, const uint8_t *known, size_t known_len);
wc_status wc_proto_get_schema_list(const uint8_t *body, size_t len, const uint8_t **known,
                                   size_t *known_len);
/* SCHEMA_LIST response: u8 flags, then (cluster, changed) bytes push: a full
 * schema PUSH message (schema_sync.h, wc_schema_msg_decode). */
void wc_proto_put_schema_listing(wc_buf *b, uint8_t flags, const uint8_t *push, size_t push_len);
/* *push points into body (NULL/0 when flags say none).  WC_CORRUPTION if malformed. */
wc_status wc_proto_get_schema_listing(const uint8_t *body, size_t len, uint8_t *flags,
                                      const uint8_t **push, size_t *push_len);

/* API: repair and snapshots (since version 12; codec in protocol_repair.c) */

/* One repair as REPAIR and REPAIRS report it. */
typedef struct wc_proto_repair_info {
    uint64_t id;        /* per node, from 1 */
    uint32_t table_id;
    uint8_t state;      /* WC_REPAIR_STATE_* */
    uint8_t flags;      /* WC_REPAIRF_* it was asked with */
    int64_t started_us, ended_us; /* Unix microseconds; ended 0 while running */
    uint32_t ranges_total, ranges_done, ranges_mismatched;
    uint64_t leaves_mismatched, partitions, repairs_sent, rows_streamed, bytes_streamed;
    char error[WC_PROTO_REPAIR_ERROR_MAX]; /* "" unless failed */
} wc_proto_repair_info;

/* One snapshot as SNAPSHOT reports it. */
typedef struct wc_proto_snapshot {
    char tag[64];
    uint32_t tables, files;
    uint64_t bytes;
} wc_proto_snapshot;

/* REPAIR request: u32 table id, u8 flags. */
void wc_proto_put_repair(wc_buf *b, uint32_t table_id, uint8_t flags);
/* WC_CORRUPTION if malformed or a flag is unknown. */
wc_status wc_proto_get_repair(const uint8_t *body, size_t len, uint32_t *table_id, uint8_t *flags);
/* REPAIR response: one repair; REPAIRS response: u32 n, n repairs (layout in docs/protocol.md). */
void wc_proto_put_repair_info(wc_buf *b, const wc_proto_repair_info *r);
wc_status wc_proto_get_repair_info(const uint8_t *body, size_t len, wc_proto_repair_info *r);
void wc_proto_put_repairs(wc_buf *b, const wc_proto_repair_info *v, size_t n);
/* *v (caller frees with wc_free; NULL when n is 0).  WC_CORRUPTION, WC_NO_MEMORY. */
wc_status wc_proto_get_repairs(const uint8_t *body, size_t len, wc_proto_repair_info **v,
                               size_t *n);
/* SNAPSHOT request: u8 action, bytes tag (at most 63 bytes). */
void wc_proto_put_snapshot(wc_buf *b, uint8_t action, const char *tag);
/* tag gets a NUL-terminated copy.  WC_CORRUPTION if malformed. */
wc_status wc_proto_get_snapshot(const uint8_t *body, size_t len, uint8_t *action, char tag[64]);
/* SNAPSHOT response: u32 n, n x (bytes tag, u32 tables, u32 files, u64 bytes). */
void wc_proto_put_snapshots(wc_buf *b, const wc_proto_snapshot *v, size_t n);
/* *v (caller frees with wc_free; NULL when n is 0).  WC_CORRUPTION, WC_NO_MEMORY. */
wc_status wc_proto_get_snapshots(const uint8_t *body, size_t len, wc_proto_snapshot **v,
                                 size_t *n);

/* API: topology (since version 13; codec in protocol_topology.c) */

/* What DECOMMISSION and REMOVENODE moved: the ranges streamed to their new owners. */
typedef struct wc_proto_topology_result {
    uint32_t ranges;  /* (table, token range) pairs streamed */
    uint32_t targets; /* nodes that pulled them */
    uint64_t rows;    /* row entries applied on the targets */
    uint64_t bytes;   /* their bytes */
} wc_proto_topology_result;

/* CLEANUP request: u32 table id. */
void wc_proto_put_cleanup(wc_buf *b, uint32_t table_id);
wc_status wc_proto_get_cleanup(const uint8_t *body, size_t len, uint32_t *table_id);
/* CLEANUP response: u32 checked, u32 rewritten, 4 x u64 (wc_cleanup_result order). */
void wc_proto_put_cleanup_result(wc_buf *b, const wc_cleanup_result *r);
wc_status wc_proto_get_cleanup_result(const uint8_t *body, size_t len, wc_cleanup_result *r);
/* REMOVENODE request: the host id (16 bytes). */
void wc_proto_put_removenode(wc_buf *b, const uint8_t host_id[WC_MEMBER_HOST_ID_LEN]);
wc_status wc_proto_get_removenode(const uint8_t *body, size_t len,
                                  uint8_t host_id[WC_MEMBER_HOST_ID_LEN]);
/* DECOMMISSION and REMOVENODE response: u32 ranges, u32 targets, u64 rows, u64 bytes. */
void wc_proto_put_topology_result(wc_buf *b, const wc_proto_topology_result *r);
wc_status wc_proto_get_topology_result(const uint8_t *body, size_t len,
                                       wc_proto_topology_result *r);

/* Name of an opcode ("READ"); "UNKNOWN" if out of range.  Never NULL. */
const char *wc_proto_op_name(int op);

#endif /* WC_PROTOCOL_H */
