/*
 * transfer_format.h - the internode messages of range transfers
 * (transfer.h): one node asks another to pull token ranges from a source
 * and hears how it ended.  Layouts in docs/protocol.md, "Transfer
 * messages"; integers little-endian, bytes = varint length and data.
 * Constants only.
 *
 *   TRANSFER_ASK   u8 66, u64 ask id, bytes session name, bytes source
 *                  host, u16 source port, u32 n, n x (u32 table id,
 *                  i64 start, i64 end)
 *       pull the partitions of each table whose token is in (start, end]
 *       (start INT64_MIN includes INT64_MIN) from the source, as a stream
 *       session of that name
 *
 *   TRANSFER_DONE  u8 67, u64 ask id, u8 status, u64 rows, u64 bytes,
 *                  bytes detail
 *       the session asked under that id ended: status 0 when every range
 *       is in the target's store (wc_status otherwise, detail says why),
 *       with the row entries and bytes it applied
 *
 * Types 68 .. 71 belong to replacing a dead node (replace_format.h).
 */
#ifndef WC_TRANSFER_FORMAT_H
#define WC_TRANSFER_FORMAT_H

#define WC_MSG_TRANSFER_ASK 66
#define WC_MSG_TRANSFER_DONE 67
#define WC_MSG_TRANSFER_FIRST 66
#define WC_MSG_TRANSFER_LAST 67 /* types 66 .. 67 belong to range transfers */

#define WC_TRANSFER_RANGE_LEN (4 + 8 + 8)

#endif /* WC_TRANSFER_FORMAT_H */
