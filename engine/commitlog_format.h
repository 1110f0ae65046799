/*
 * commitlog_format.h - byte layout of commit log segments and records.
 *
 * Owned by commitlog.c; tests and the fuzz target include it to build and
 * damage segment files by hand.  The layout is described for humans in
 * docs/file-formats.md (section "Commit log"); keep both in step.
 *
 * A segment file CommitLog-<id>.log is:
 *
 *   segment header (WC_CL_HEADER_SIZE = 48 bytes, little-endian)
 *     0  u32 magic      WC_CL_MAGIC ("WCLG" in file byte order)
 *     4  u32 version    WC_CL_VERSION
 *     8  u64 segment id equal to the <id> in the file name
 *    16  u64 previous segment id: the segment written just before this one
 *              (0 = none)
 *    24  u64 previous segment end: offset just past its last record
 *    32  u64 previous segment records: how many records it holds
 *    40  u32 checksum   low 32 bits of XXH3_64 over bytes 0..39
 *    44  u32 reserved   0
 *   records, back to back from offset 48:
 *     0  u32 length     payload bytes, 1 .. max record size; 0 = end of segment
 *     4  u32 checksum   wc__cl_record_checksum(segment id, payload, length)
 *     8  payload
 *   zero fill (preallocated space) or end of file
 *
 * The previous-segment fields chain the segments: once a segment is
 * followed by another, replay knows where its valid data must end and how
 * many records it holds, so a truncated file, a zeroed record header or a
 * missing segment is told apart from the end of the data.  Version 1
 * segments (24-byte header: checksum over bytes 0..15 at offset 16) carry no
 * chain and are still read.
 *
 * The record checksum is seeded with the segment id and the length, so the
 * bytes of a record written under another segment id (a recycled file, a
 * copied file) never validate, and a damaged length field changes the seed.
 *
 * Pool files CommitLog-<old id>.free are retired segments kept for reuse; they
 * are never replayed.  Thread-safety: constants and pure functions only.
 */
#ifndef WC_COMMITLOG_FORMAT_H
#define WC_COMMITLOG_FORMAT_H

#include <stdint.h>
#include <stddef.h>
#include <xxhash.h>

#include "coding.h"

#define WC_CL_MAGIC 0x474C4357u /* bytes 'W' 'C' 'L' 'G' */
#define WC_CL_VERSION 2u
#define WC_CL_HEADER_SIZE 48u
#define WC_CL_HEADER_CHECKSUM_OFF 40u
#define WC_CL_V1_HEADER_SIZE 24u
#define WC_CL_V1_HEADER_CHECKSUM_OFF 16u
#define WC_CL_RECORD_HEADER_SIZE 8u

#define WC_CL_FILE_PREFIX "CommitLog-"
#define WC_CL_FILE_SUFFIX ".log"
#define WC_CL_FREE_SUFFIX ".free"

/* Seed of a record checksum: distinct for every segment id at a given length. */
static inline uint64_t wc__cl_record_seed(uint64_t segment_id, uint32_t len)
{
    return segment_id ^ ((uint64_t)len * 0x9E3779B97F4A7C15ull) ^ 0x57434C4F47ull;
}

/* Checksum stored in a record header.  REQUIRES: payload readable for len bytes. */
static inline uint32_t wc__cl_record_checksum(uint64_t segment_id, const uint8_t *payload,
                                              uint32_t len)
{
    return (uint32_t)XXH3_64bits_withSeed(payload, len, wc__cl_record_seed(segment_id, len));
}

/* Checksum of a segment header (version 2: bytes 0..39). */
static inline uint32_t wc__cl_header_checksum(const uint8_t *hdr)
{
    return (uint32_t)XXH3_64bits(hdr, WC_CL_HEADER_CHECKSUM_OFF);
}

/* Checksum of a version 1 segment header (bytes 0..15). */
static inline uint32_t wc__cl_v1_header_checksum(const uint8_t *hdr)
{
    return (uint32_t)XXH3_64bits(hdr, WC_CL_V1_HEADER_CHECKSUM_OFF);
}

/*
 * Fill out[WC_CL_HEADER_SIZE] with the header of segment id, written after
 * segment prev_id (0: none) whose records (prev_records of them) end at
 * prev_end.
 */
static inline void wc__cl_encode_header(uint8_t *out, uint64_t segment_id, uint64_t prev_id,
                                        uint64_t prev_end, uint64_t prev_records)
{
    wc_enc_u32(out, WC_CL_MAGIC);
    wc_enc_u32(out + 4, WC_CL_VERSION);
    wc_enc_u64(out + 8, segment_id);
    wc_enc_u64(out + 16, prev_id);
    wc_enc_u64(out + 24, prev_end);
    wc_enc_u64(out + 32, prev_records);
    wc_enc_u32(out + WC_CL_HEADER_CHECKSUM_OFF, wc__cl_header_checksum(out));
    wc_enc_u32(out + 44, 0);
}

/* Fill out[WC_CL_RECORD_HEADER_SIZE] with the header of a record of segment id. */
static inline void wc__cl_encode_record_header(uint8_t *out, uint64_t segment_id,
                                               const uint8_t *payload, uint32_t len)
{
    wc_enc_u32(out, len);
    wc_enc_u32(out + 4, wc__cl_record_checksum(segment_id, payload, len));
}

#endif /* WC_COMMITLOG_FORMAT_H */
