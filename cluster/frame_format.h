/*
 * frame_format.h - byte layout of the frames of the internode protocol
 * (node to node over TCP).  Every layout here is described byte by byte in
 * docs/protocol.md, "Internode protocol"; this header only names the
 * numbers.  Constants and one inline checksum: thread-safe.
 *
 *   frame   = header (16 bytes), payload
 *   header  =  0 u32 magic      "WCIN"
 *              4 u8  version    protocol version of the sender
 *              5 u8  type       HELLO, PROOF or MESSAGE
 *              6 u16 flags      none defined: must be 0
 *              8 u32 length     payload bytes that follow
 *             12 u32 checksum   low 32 bits of XXH3-64 over the payload,
 *                               seeded with XXH3-64 of header bytes 0..11
 *
 * The header layout and checksum are the same in every protocol version, so
 * that a node can read the HELLO of a peer of another version and refuse it
 * by name.  Integers are little-endian.
 */
#ifndef WC_FRAME_FORMAT_H
#define WC_FRAME_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#define WC_FRAME_MAGIC 0x4E494357u /* "WCIN" little-endian */
#define WC_NET_PROTO_VERSION 1u    /* history in docs/protocol.md, "Internode protocol" */

#define WC_FRAME_HEADER_SIZE 16u
#define WC_FRAME_OFF_MAGIC 0
#define WC_FRAME_OFF_VERSION 4
#define WC_FRAME_OFF_TYPE 5
#define WC_FRAME_OFF_FLAGS 6
#define WC_FRAME_OFF_LENGTH 8
#define WC_FRAME_OFF_CHECKSUM 12

/* Frame types (u8).  0 is never valid. */
#define WC_FRAME_HELLO 1   /* handshake: who I am (handshake.h) */
#define WC_FRAME_PROOF 2   /* handshake: HMAC-SHA256 proof of the cluster secret */
#define WC_FRAME_MESSAGE 3 /* one env message: type byte + body (msg_types.h) */

/* Largest payload of a HELLO or PROOF: all a peer may send before it is authenticated. */
#define WC_FRAME_MAX_HANDSHAKE 1024u

static inline uint32_t wc__frame_checksum(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
    XXH64_hash_t seed = XXH3_64bits(hdr, WC_FRAME_OFF_CHECKSUM);

    return (uint32_t)XXH3_64bits_withSeed(payload, len, seed);
}

#endif /* WC_FRAME_FORMAT_H */
