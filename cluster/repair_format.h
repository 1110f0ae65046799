/*
 * repair_format.h - the repair messages of the internode protocol (message
 * types 80..95 of msg_types.h; layouts in docs/protocol.md, "Repair
 * messages").  Constants only.
 *
 * Integers are little-endian.
 *
 *   TREE_REQUEST  u64 request id, u32 table id, i64 start, i64 end (the
 *                 token range (start, end]; start == end: the whole ring),
 *                 i64 now_sec (the repair coordinator's clock)
 *   TREE_RESPONSE u64 request id, u8 status (0, else the wc_status the
 *                 replica met), u64 partitions, u32 leaves (WC_MERKLE_LEAVES,
 *                 0 on failure), leaves x u64 leaf hash (merkle.h)
 */
#ifndef WC_REPAIR_FORMAT_H
#define WC_REPAIR_FORMAT_H

#include "msg_types.h"

#define WC_REPAIR_MSG_FIRST 80
#define WC_REPAIR_MSG_TREE_REQUEST 80
#define WC_REPAIR_MSG_TREE_RESPONSE 81
#define WC_REPAIR_MSG_LAST 95

#define WC_REPAIR_TREE_REQUEST_LEN (1 + 8 + 4 + 8 + 8 + 8)
#define WC_REPAIR_TREE_RESPONSE_MIN (1 + 8 + 1 + 8 + 4)

#endif /* WC_REPAIR_FORMAT_H */
