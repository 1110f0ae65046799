/*
 * stream_format.h - the internode messages of streaming (stream.h): a
 * node pulling a token range of a table asks a replica for one page at a
 * time and applies each page before asking for the next.  Layouts in
 * docs/protocol.md, "Streaming"; integers little-endian.  Constants only.
 *
 *   STREAM_REQ   u8 64, u64 session, u32 seq, u32 table id, i64 start,
 *                i64 end, u32 limit
 *       the rows of every partition of the table whose token is in
 *       (start, end] (start INT64_MIN includes INT64_MIN), at most limit
 *       row entries (0: no limit)
 *
 *   STREAM_PAGE  u8 65, u64 session, u32 seq, u8 status, u8 flags,
 *                i64 next, u64 rows, batch to the end of the message
 *       the answer to the request with that session and seq: status 0 and
 *       the data as a batch record (timestamps, TTLs and tombstones as the
 *       replica holds them) with its row entries; the next request starts
 *       after token next; flags 0x01 (more): the range is not finished,
 *       0x02 (empty): no partition, no batch.  A non-zero status is the
 *       replica's failure (wc_status) and nothing follows the flags.
 */
#ifndef WC_STREAM_FORMAT_H
#define WC_STREAM_FORMAT_H

#define WC_MSG_STREAM_REQ 64
#define WC_MSG_STREAM_PAGE 65
#define WC_MSG_STREAM_LAST 79 /* types 64 .. 79 belong to streaming */

#define WC_STREAM_REQ_LEN (1 + 8 + 4 + 4 + 8 + 8 + 4)
#define WC_STREAM_PAGE_HEAD_LEN (1 + 8 + 4 + 1 + 1 + 8 + 8)

#define WC_STREAM_PAGE_MORE 0x01
#define WC_STREAM_PAGE_EMPTY 0x02

#endif /* WC_STREAM_FORMAT_H */
