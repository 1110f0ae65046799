/*
 * coordinator_format.h - the coordinator messages of the internode protocol
 * (message types 16..39 of msg_types.h).  The byte layouts are described in
 * docs/protocol.md, "Internode protocol", "Coordinator messages"; the codec
 * is wc_coord_decode / wc_coord_encode in coordinator_codec.c.  Constants
 * only.
 *
 * Integers are varints (unsigned LEB128) unless noted; bytes are a varint
 * length then the bytes.
 *
 *   MUTATION      varint request id, bytes batch (a batch record of
 *                 engine/mutation.h: the mutations this replica holds);
 *                 a read repair is a MUTATION too
 *   MUTATION_ACK  varint request id, u8 status (0: applied, else the
 *                 wc_status that the replica's store returned)
 *   READ          varint request id, u8 mode (0 data, 1 digest), then the
 *                 read: u32 table id (little-endian), bytes partition key,
 *                 u8 flags (WC_COORD_READF_*), [bytes start] unless the
 *                 start is unbounded, [bytes end] unless the end is
 *                 unbounded, [u64 token_start, u64 token_end] (little-endian)
 *                 for a range scan (its partition key is empty), varint
 *                 limit (0: none), varint now_sec
 *   READ_RESPONSE varint request id, u8 status, u8 mode, 16 bytes digest,
 *                 bytes data (empty for a digest or a failure)
 */
#ifndef WC_COORDINATOR_FORMAT_H
#define WC_COORDINATOR_FORMAT_H

#include "msg_types.h"

#define WC_COORD_MSG_MUTATION (WC_MSG_RANGE_COORDINATOR + 0)      /* 16 */
#define WC_COORD_MSG_MUTATION_ACK (WC_MSG_RANGE_COORDINATOR + 1)  /* 17 */
#define WC_COORD_MSG_READ (WC_MSG_RANGE_COORDINATOR + 2)          /* 18 */
#define WC_COORD_MSG_READ_RESPONSE (WC_MSG_RANGE_COORDINATOR + 3) /* 19 */
#define WC_COORD_MSG_LAST (WC_MSG_RANGE_COORDINATOR + 23)         /* 39: end of the range */

/* READ modes */
#define WC_COORD_READ_DATA 0
#define WC_COORD_READ_DIGEST 1

/* READ flags */
#define WC_COORD_READF_REVERSE 0x01
#define WC_COORD_READF_STATIC 0x02
#define WC_COORD_READF_START_INCL 0x04
#define WC_COORD_READF_START_UNBOUNDED 0x08
#define WC_COORD_READF_END_INCL 0x10
#define WC_COORD_READF_END_UNBOUNDED 0x20
#define WC_COORD_READF_TOKEN_RANGE 0x40 /* a range scan: two u64 tokens follow the bounds */
#define WC_COORD_READF_ALL 0x7f

#define WC_COORD_DIGEST_LEN 16

/* Bounds checked on decode (a message past any of them is malformed). */
#define WC_COORD_MAX_PK 65535      /* bytes of a partition key (WC_MAX_PK_LEN) */
#define WC_COORD_MAX_CK (1u << 20) /* bytes of a clustering bound (WC_MAX_CK_LEN) */
#define WC_COORD_MAX_STATUS 10     /* largest wc_status value (WC_NO_SPACE) */

#endif /* WC_COORDINATOR_FORMAT_H */
