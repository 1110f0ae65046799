/*
 * schema_sync_format.h - the schema messages of the internode protocol
 * (message types 48..63 of msg_types.h) and the file a node keeps its copy
 * of the cluster schema in.  The layouts are described in docs/protocol.md,
 * "Internode protocol", "Schema messages"; the codec is in schema_sync.c.
 * Constants only.
 *
 * Integers are varints (unsigned LEB128); bytes = varint length, then the
 * bytes.  A version is 16 raw bytes (XXH3-128 of the canonical encoding).
 *
 *   PULL   the sender's version
 *   PUSH   u8 flags, the sender's version, varint count of keyspace
 *          entries, each: bytes name, varint timestamp, u8 flags, bytes
 *          replication (compact form), bytes owner role; varint count of
 *          table entries, each: bytes keyspace, bytes name, varint
 *          timestamp, u8 flags, varint table id, bytes definition
 *          (engine/schema_def.h encoding; empty for a dropped table)
 *
 * The file: u32 magic, u32 format, then a PUSH body without its first byte
 * (flags), then a u64 XXH3-64 of everything before it.
 */
#ifndef WC_SCHEMA_SYNC_FORMAT_H
#define WC_SCHEMA_SYNC_FORMAT_H

#include "msg_types.h"

#define WC_SCHEMA_MSG_PULL (WC_MSG_RANGE_SCHEMA + 0)  /* 48 */
#define WC_SCHEMA_MSG_PUSH (WC_MSG_RANGE_SCHEMA + 1)  /* 49 */
#define WC_SCHEMA_MSG_LAST (WC_MSG_RANGE_SCHEMA + 15) /* 63: end of the schema range */

/* PUSH flags */
#define WC_SCHEMA_PUSH_FULL 0x01 /* every entry of the sender (an answer to a PULL) */

/* entry flags */
#define WC_SCHEMA_ENTRY_DROPPED 0x01

#define WC_SCHEMA_VERSION_BYTES 16

/* Bounds checked on decode (a message past any of them is malformed). */
#define WC_SCHEMA_MAX_NAME 255              /* bytes of a keyspace, table or role name */
#define WC_SCHEMA_MAX_REPLICATION 1024      /* bytes of a replication text */
#define WC_SCHEMA_MAX_ENTRIES 65536         /* keyspace or table entries in one message */
#define WC_SCHEMA_MAX_DEFINITION (4u << 20) /* bytes of one table definition */
/* Local DDL is refused when the whole schema would encode past this. */
#define WC_SCHEMA_MAX_TOTAL (12u << 20)

#define WC_SCHEMA_FILE_MAGIC 0x53534357u /* "WCSS" little-endian */
#define WC_SCHEMA_FILE_FORMAT 1

#endif /* WC_SCHEMA_SYNC_FORMAT_H */
