/*
 * coordinator_index_format.h - the secondary-index messages of the
 * internode protocol (message types 20..23 of the coordinator range,
 * msg_types.h).  The byte layouts are described in docs/protocol.md,
 * "Internode protocol", "Index reads"; the codec is in coordinator_index.c.
 * Constants only.
 *
 * Integers are varints (unsigned LEB128) unless noted; bytes are a varint
 * length then the bytes.
 *
 *   INDEX_QUERY  varint request id, u32 table id (little-endian), bytes
 *                index name, bytes value, u64 token_start, u64 token_end
 *                (little-endian, two's complement), bytes after (an index
 *                entry key, empty: from the range's start), varint limit
 *                (1..WC_INDEX_QUERY_MAX_LIMIT), varint now_sec
 *   INDEX_KEYS   varint request id, u8 status (a wc_status), bytes keys
 *                (the store's answer, replica_store.h: u8 more, then each
 *                entry key as bytes; empty on a failure)
 *
 * Types 22 and 23 are reserved for index messages.
 */
#ifndef WC_COORDINATOR_INDEX_FORMAT_H
#define WC_COORDINATOR_INDEX_FORMAT_H

#include "msg_types.h"

#define WC_INDEX_MSG_QUERY (WC_MSG_RANGE_COORDINATOR + 4) /* 20 */
#define WC_INDEX_MSG_KEYS (WC_MSG_RANGE_COORDINATOR + 5)  /* 21 */
#define WC_INDEX_MSG_LAST (WC_MSG_RANGE_COORDINATOR + 7)  /* 23: end of the index types */

#define WC_INDEX_QUERY_MAX_NAME 127      /* bytes of an index name */
#define WC_INDEX_QUERY_MAX_VALUE 65535   /* bytes of a value (WC_MAX_PK_LEN) */
#define WC_INDEX_QUERY_MAX_AFTER 1114112 /* bytes of an entry key: 8 + 2 + pk + ck */
#define WC_INDEX_QUERY_MAX_LIMIT 100000  /* keys one replica returns at most */

#endif /* WC_COORDINATOR_INDEX_FORMAT_H */
