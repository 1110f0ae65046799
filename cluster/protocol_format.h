/*
 * protocol_format.h - byte-layout constants of the client protocol spoken
 * between PostgreSQL backends and their local widecol node over the Unix
 * socket in $PGDATA.  Every layout below is described byte by byte in
 * docs/protocol.md; this header only names the numbers.  Constants only:
 * thread-safe by construction.
 *
 *   frame     = u32 payload_len, payload            (payload_len <= WC_PROTO_MAX_FRAME)
 *   handshake = u32 magic "WCCP", u32 version                       (client -> node)
 *   hs reply  = u32 magic "WCCP", u32 version, u8 status, [status != 0] bytes message
 *   request   = u8 opcode, u32 request_id, body
 *   response  = u32 request_id, u8 status, body (status 0) | bytes message (failure)
 *
 * Integers are little-endian; `bytes` is a varint length and that many bytes
 * (engine/coding.h); `f64` is an IEEE-754 double sent as the u64 of its bits.
 * Version 2 added the `compaction` map to table definitions, the tombstone
 * failure threshold to READ, and the COMPACTION_STATS and COMPACTIONS opcodes;
 * version 3 the engine's memory, commit-log space and background failure to
 * NODE_INFO; version 5 the offline reason to TABLE_STATS; version 6 the MEMBERS
 * opcode; version 8 the SCHEMA_CHANGE and SCHEMA_LIST opcodes; version 9 the READ overlay (the reader's pending writes); version 10 the READ trace (per-replica timings); version 11 the STREAMS opcode; version 12 REPAIR, REPAIRS and SNAPSHOT; version 13 CLEANUP, DECOMMISSION and REMOVENODE; version 14 collection cells (APPLY and READ); version 15 CAS (lightweight transactions); version 17 STAGE and PUBLISH (staged statements); version 18 INDEX_READ (secondary indexes); version 20 COUNT_ROWS (a count of rows counted on the node); version 21 the APPLY flag WC_APPLYF_CLIENT_SYNCS, its answer's commit-log position and the SYNC opcode (fsyncs left to the client); a node and its clients must speak the same version (checked at handshake).
 */
#ifndef WC_PROTOCOL_FORMAT_H
#define WC_PROTOCOL_FORMAT_H

#define WC_PROTO_MAGIC 0x50434357u /* "WCCP" little-endian */
#define WC_PROTO_VERSION 21u /* history in docs/protocol.md, "Versions" */

#define WC_PROTO_FRAME_HEADER 4u             /* u32 payload length */
#define WC_PROTO_MAX_FRAME (256u << 20)      /* largest payload accepted: 256 MiB */
#define WC_PROTO_REQUEST_HEADER 5u           /* u8 opcode, u32 request id */
#define WC_PROTO_RESPONSE_HEADER 5u          /* u32 request id, u8 status */
#define WC_PROTO_HANDSHAKE_LEN 8u            /* u32 magic, u32 version */
#define WC_PROTO_MAX_ERROR_MESSAGE 4096u     /* longest error text a node sends */

/* Opcodes (u8).  0 is never valid. */
#define WC_OP_CREATE_TABLE 1
#define WC_OP_ALTER_TABLE 2
#define WC_OP_DROP_TABLE 3
#define WC_OP_GET_TABLE 4
#define WC_OP_LIST_TABLES 5
#define WC_OP_APPLY 6
#define WC_OP_READ 7
#define WC_OP_FLUSH 8
#define WC_OP_COMPACT 9
#define WC_OP_TABLE_STATS 10
#define WC_OP_PING 11
#define WC_OP_NODE_INFO 12
#define WC_OP_COMPACTION_STATS 13 /* since version 2 */
#define WC_OP_COMPACTIONS 14      /* since version 2 */
#define WC_OP_SCRUB 15            /* since version 3 (a node without it: invalid-argument) */
#define WC_OP_MEMBERS 16           /* since version 6 */
#define WC_OP_SCHEMA_CHANGE 17     /* since version 8 */
#define WC_OP_SCHEMA_LIST 18       /* since version 8 */
#define WC_OP_STREAMS 19           /* since version 11 */
#define WC_OP_STAGE 20              /* since version 17 */
#define WC_OP_PUBLISH 21            /* since version 17 */
#define WC_OP_REPAIR 22             /* since version 12 */
#define WC_OP_REPAIRS 23            /* since version 12 */
#define WC_OP_CLEANUP 24            /* since version 13 */
#define WC_OP_SNAPSHOT 25           /* since version 12 */
#define WC_OP_DECOMMISSION 26       /* since version 13 */
#define WC_OP_REMOVENODE 27         /* since version 13 */
#define WC_OP_CAS 28                /* since version 15 (29 reserved for it) */
#define WC_OP_INDEX_READ 30         /* since version 18 (31 reserved for it) */
#define WC_OP_COUNT_ROWS 34         /* since version 20 (35 reserved for it) */
#define WC_OP_SYNC 36               /* since version 21 */
#define WC_OP_MAX 36
#define WC_OP_COUNT (WC_OP_MAX + 1) /* size of per-opcode arrays (index 0 unused) */

/* READ request: u8 flags */
#define WC_READF_PK 0x01             /* a partition key follows (else: scan) */
#define WC_READF_REVERSE 0x02
#define WC_READF_STATIC 0x04         /* include_static */
#define WC_READF_TOKEN_RANGE 0x08    /* i64 token_start, i64 token_end follow */
#define WC_READF_COLUMNS 0x10        /* a column list follows (else: all columns) */
#define WC_READF_PAGING 0x20         /* a paging state follows (else: first page) */
#define WC_READF_OVERLAY 0x40        /* since version 9: bytes overlay (a batch record) ends the request */
#define WC_READF_TRACE 0x80          /* since version 10: the response ends with the replicas' trace */
#define WC_READF_ALL 0xff

/* READ request: u8 flags of one clustering bound */
#define WC_BOUNDF_INCLUSIVE 0x01
#define WC_BOUNDF_UNBOUNDED 0x02     /* no key follows */
#define WC_BOUNDF_ALL 0x03

/* APPLY request: u8 consistency level (low 7 bits) and flags (since version 21) */
#define WC_APPLYF_CLIENT_SYNCS 0x80  /* the client fsyncs the commit log itself when the answer
                                      * names a position (batch mode, shared-memory ring) */

/* STAGE request: u8 consistency level (low 7 bits) and flags */
#define WC_STAGEF_FIRST 0x80         /* begins the connection's staged transaction (a previous
                                      * one still open is aborted) */
#define WC_STAGE_CL_MASK 0x7f

/* PUBLISH request: u8 action */
#define WC_PUBLISH_COMMIT 1          /* make the staged writes visible, durable */
#define WC_PUBLISH_ABORT 2           /* drop them (none open: nothing to do) */

/* READ response: u8 flags of one row */
#define WC_ROWF_WIRE_STATIC 0x01     /* static row: no clustering key follows */
#define WC_ROWF_WIRE_SAME_PK 0x02    /* same partition as the previous row: no pk/token follow */
#define WC_ROWF_WIRE_ALL 0x03

/* READ response: u8 flags of one cell (bit values shared with engine/row.h) */
#define WC_CELLF_WIRE_TOMBSTONE 0x01 /* u32 ldt follows; no value */
#define WC_CELLF_WIRE_EXPIRING 0x02  /* u32 ldt, u32 ttl follow */
#define WC_CELLF_WIRE_ROW_TS 0x04    /* ts equals the row's live_ts: no i64 ts */
#define WC_CELLF_WIRE_COLLECTION 0x20 /* since version 14: the value is a collection's live
                                       * elements (engine/collection.h, wc_coll_live) */
#define WC_CELLF_WIRE_ALL 0x27

/* COMPACTION_STATS response: u8 flags */
#define WC_CSTATF_WIRE_ENABLED 0x01
#define WC_CSTATF_WIRE_RUNNING 0x02
#define WC_CSTATF_WIRE_ALL 0x03

/* COMPACTIONS response: u8 flags of one compaction */
#define WC_CINFOF_WIRE_RUNNING 0x01  /* running (else: the next pending task) */
#define WC_CINFOF_WIRE_ALL 0x01

/* SCRUB response: u8 flags */
#define WC_SCRUBF_WIRE_WAS_OFFLINE 0x01
#define WC_SCRUBF_WIRE_ALL 0x01

/* MEMBERS response: u8 flags of the body, u8 flags of one member */
#define WC_MEMBERSF_WIRE_CLUSTER 0x01 /* the node runs a cluster (else: no members) */
#define WC_MEMBERSF_WIRE_ALL 0x01
#define WC_MEMBERF_WIRE_UP 0x01
#define WC_MEMBERF_WIRE_LOCAL 0x02    /* the node that answers */
#define WC_MEMBERF_WIRE_HOST_ID 0x04  /* the host id is known (else: 16 zero bytes) */
#define WC_MEMBERF_WIRE_LOAD 0x08     /* the load is known (else: 0) */
#define WC_MEMBERF_WIRE_ALL 0x0f

/* SCHEMA_CHANGE request: u8 kind (fields a, b, c in docs/protocol.md) */
#define WC_SCHEMA_CHANGE_CREATE_KEYSPACE 1 /* a name, b replication (compact), c owner role */
#define WC_SCHEMA_CHANGE_ALTER_KEYSPACE 2  /* a name, b replication */
#define WC_SCHEMA_CHANGE_DROP_KEYSPACE 3   /* a name */
#define WC_SCHEMA_CHANGE_CREATE_TABLE 4    /* a definition (schema_def.h encoding) */
#define WC_SCHEMA_CHANGE_ALTER_TABLE 5     /* a definition */
#define WC_SCHEMA_CHANGE_DROP_TABLE 6      /* a keyspace, b table */
#define WC_SCHEMA_CHANGE_WAIT 7            /* no change: only the agreement wait */
#define WC_SCHEMA_CHANGE_MAX 7
#define WC_SCHEMA_MAX_LAGGARDS 16          /* disagreeing nodes named in a response */

/* SCHEMA_LIST response: u8 flags */
#define WC_SCHEMA_LISTF_CLUSTER 0x01   /* the node runs a cluster (else nothing follows) */
#define WC_SCHEMA_LISTF_UNCHANGED 0x02 /* the version is the one the request named: no entries */
#define WC_SCHEMA_LISTF_ALL 0x03

/* REPAIR request: u8 flags */
#define WC_REPAIRF_PRIMARY_RANGE 0x01 /* only the ranges the node is primary for */
#define WC_REPAIRF_FULL 0x02          /* a full repair (every repair is full) */
#define WC_REPAIRF_ALL 0x03

/* REPAIRS: u8 state of one repair */
#define WC_REPAIR_STATE_RUNNING 0
#define WC_REPAIR_STATE_DONE 1
#define WC_REPAIR_STATE_FAILED 2
#define WC_REPAIR_STATE_MAX 2
#define WC_PROTO_REPAIR_ERROR_MAX 256  /* error text kept per repair, including the NUL */
#define WC_PROTO_MAX_REPAIRS 16        /* repairs a node remembers (the newest) */

/* SNAPSHOT request: u8 action, bytes tag */
#define WC_SNAPSHOT_TAKE 1   /* flush and hard-link every table into snapshots/<tag>/ */
#define WC_SNAPSHOT_CLEAR 2  /* remove snapshot <tag> (empty tag: every snapshot) */
#define WC_SNAPSHOT_LIST 3   /* tag ignored */
#define WC_SNAPSHOT_ACTION_MAX 3

/* Compaction strategies on the wire (u8; same values as wc_compaction_class) */
#define WC_CSTRAT_WIRE_STCS 0
#define WC_CSTRAT_WIRE_LCS 1
#define WC_CSTRAT_WIRE_TWCS 2
#define WC_CSTRAT_WIRE_MAX 2

/* Compaction kinds on the wire (u8; same values as wc_compaction_kind) */
#define WC_CKIND_WIRE_MINOR 0
#define WC_CKIND_WIRE_TOMBSTONE 1
#define WC_CKIND_WIRE_EXPIRED 2
#define WC_CKIND_WIRE_MAJOR 3
#define WC_CKIND_WIRE_MAX 3

#endif /* WC_PROTOCOL_FORMAT_H */
