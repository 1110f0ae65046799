/*
 * hints_format.h - byte layout of hint segment files, the delivered-position
 * file and the HINT / HINT_ACK messages.
 *
 * Owned by hints.c and hint_delivery.c; tests include it to build and damage
 * files and messages by hand.  Described for humans in docs/file-formats.md
 * ("Hints") and docs/protocol.md ("Hint messages"); keep them in step.
 *
 * Files in the hints directory, per target host (<host> = the 16-byte host
 * id as 32 lower-case hex digits):
 *
 *   <host>-<seq>.hints   a segment; <seq> is a decimal number unique in the
 *                        store (increasing in creation order)
 *   <host>.delivered     where delivery to that host got to
 *
 * Segment header (WC_HINTS_HEADER_SIZE = 40 bytes, little-endian):
 *    0  u32 magic      WC_HINTS_MAGIC ("WCHT" in file byte order)
 *    4  u32 version    WC_HINTS_VERSION
 *    8  u8[16]         target host id
 *   24  u64 seq        equal to the <seq> in the file name
 *   32  u32 checksum   low 32 bits of XXH3_64 over bytes 0..31
 *   36  u32 reserved   0
 * Records back to back from offset 40, in the commit log's record framing
 * (commitlog_format.h): u32 payload length, u32 checksum
 * wc__cl_record_checksum(seq, payload, length), then the payload:
 *    0  i64 created    wall-clock time of the hint, microseconds
 *    8  u32 ttl        seconds the hint lives (the table's gc_grace)
 *   12  u32 table_len  then table_len bytes: the table's identity (opaque)
 *       batch          the rest: one mutation batch (engine/mutation.h)
 *
 * Delivered-position file (WC_HINTS_POS_SIZE = 48 bytes, replaced atomically):
 *    0  u32 magic      WC_HINTS_POS_MAGIC ("WCHD")
 *    4  u32 version    1
 *    8  u8[16]         target host id
 *   24  u64 seq        segment of the next hint to deliver
 *   32  u64 offset     offset of that hint in the segment
 *   40  u32 checksum   low 32 bits of XXH3_64 over bytes 0..39
 *   44  u32 reserved   0
 *
 * Messages (env.h payloads; types in msg_types.h):
 *   HINT:     u8 type, u8[16] target host id, u64 session, u64 seq,
 *             i64 created, u32 table_len, table, u32 batch_len, batch
 *   HINT_ACK: u8 type, u64 session, u64 seq (every hint of the session up
 *             to seq was applied, or kept)
 *   HINT_HANDOFF: as HINT with u32 ttl (seconds) after created: a hint a
 *             leaving node hands over; the receiver keeps it for the target
 *             host id in its own store (applies it when it is the target)
 *
 * Thread-safety: constants and pure functions only.
 */
#ifndef WC_HINTS_FORMAT_H
#define WC_HINTS_FORMAT_H

#include <stdint.h>
#include <xxhash.h>

#include "commitlog_format.h"
#include "env.h"

#define WC_HINTS_MAGIC 0x54484357u     /* bytes 'W' 'C' 'H' 'T' */
#define WC_HINTS_POS_MAGIC 0x44484357u /* bytes 'W' 'C' 'H' 'D' */
#define WC_HINTS_VERSION 1u
#define WC_HINTS_HEADER_SIZE 40u
#define WC_HINTS_HEADER_CHECKSUM_OFF 32u
#define WC_HINTS_POS_SIZE 48u
#define WC_HINTS_POS_CHECKSUM_OFF 40u
#define WC_HINTS_RECORD_HEADER_SIZE WC_CL_RECORD_HEADER_SIZE
#define WC_HINTS_PAYLOAD_FIXED 16u /* created, ttl, table_len */
#define WC_HINTS_HOST_ID_LEN 16u

#define WC_HINTS_SUFFIX ".hints"
#define WC_HINTS_POS_SUFFIX ".delivered"

/* HINT message: fixed part before the table bytes, and the batch length field. */
#define WC_HINT_MSG_FIXED (1u + 16u + 8u + 8u + 8u + 4u + 4u)
#define WC_HINT_ACK_MSG_SIZE (1u + 8u + 8u)

/*
 * Largest table identity and payload: a hint must fit in one HINT message
 * (WC_ENV_MAX_MESSAGE), whose fixed part is a little larger than the record's.
 */
#define WC_HINTS_MAX_TABLE 4096u
#define WC_HINTS_MAX_PAYLOAD (WC_ENV_MAX_MESSAGE - WC_HINT_MSG_FIXED)

static inline uint32_t wc__hints_checksum32(const uint8_t *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

#endif /* WC_HINTS_FORMAT_H */
