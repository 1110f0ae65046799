/*
 * batchlog_format.h - the byte layouts of the batchlog (batchlog.h): its
 * three internode messages and the file that keeps one entry.  Described
 * in docs/protocol.md ("Internode protocol", batchlog) and
 * docs/file-formats.md (batchlog entries).  All integers little-endian.
 *
 * Messages (types of the coordinator range, msg_types.h):
 *
 *   BATCHLOG_STORE   u8 type 24 | u64 req_id | 16 bytes batch id |
 *                    u32 batch length | the batch record (engine/mutation.h)
 *   BATCHLOG_ACK     u8 type 25 | u64 req_id | u8 status (a wc_status;
 *                    0: the entry is durable on the sender)
 *   BATCHLOG_REMOVE  u8 type 26 | 16 bytes batch id
 *
 * Entry file: <data dir>/batchlog/<32 hex digits of the id>.batch
 *
 *   0   8 bytes magic "WCBATCH1"
 *   8   u32 batch length L
 *   12  L bytes of batch record
 *   12+L u32 checksum: low 32 bits of XXH3_64 over bytes 0 .. 12+L
 */
#ifndef WC_BATCHLOG_FORMAT_H
#define WC_BATCHLOG_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#define WC_MSG_BATCHLOG_STORE 24
#define WC_MSG_BATCHLOG_ACK 25
#define WC_MSG_BATCHLOG_REMOVE 26
#define WC_MSG_BATCHLOG_FIRST 24
#define WC_MSG_BATCHLOG_LAST 26

#define WC_BATCHLOG_ID_LEN 16
#define WC_BATCHLOG_STORE_HEADER (1 + 8 + WC_BATCHLOG_ID_LEN + 4)
#define WC_BATCHLOG_ACK_LEN (1 + 8 + 1)
#define WC_BATCHLOG_REMOVE_LEN (1 + WC_BATCHLOG_ID_LEN)

#define WC_BATCHLOG_FILE_MAGIC "WCBATCH1"
#define WC_BATCHLOG_FILE_HEADER 12
#define WC_BATCHLOG_FILE_SUFFIX ".batch"

static inline uint32_t wc__batchlog_checksum(const uint8_t *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

#endif /* WC_BATCHLOG_FORMAT_H */
