/*
 * sstable_format.h - byte layout constants of an SSTable file.
 *
 * The layout is described in docs/file-formats.md ("SSTables"); this header
 * only names its constants so that the writer (sstable_writer.c), the reader
 * (sstable_reader.c), the block code (block.c) and the bloom filter (bloom.c)
 * agree.  Summary:
 *
 *   [data block 0] ... [data block n-1] [filter block] [stats block]
 *   [index block] [footer]
 *
 * Every block is stored as  payload | trailer, where the trailer is
 *   u8  type          WC_SST_BLOCK_RAW or WC_SST_BLOCK_LZ4
 *   u32 ulen          length of the uncompressed contents
 *   u32 checksum      low 32 bits of XXH3-64 over payload + type + ulen
 * (all integers little-endian).  A block handle is (offset, stored size),
 * stored size = payload + trailer.
 *
 * Footer (WC_SST_FOOTER_LEN bytes at the end of the file):
 *   u64 filter_off, u64 filter_size
 *   u64 stats_off,  u64 stats_size
 *   u64 index_off,  u64 index_size
 *   u32 format version (WC_SST_FORMAT_VERSION)
 *   u32 checksum      low 32 bits of XXH3-64 over the 52 bytes above
 *   u64 magic         WC_SST_MAGIC
 *
 * Pure constants; no state.
 */
#ifndef WC_SSTABLE_FORMAT_H
#define WC_SSTABLE_FORMAT_H

#include <stdint.h>

#define WC_SST_MAGIC 0x314c425453534357ull /* the bytes "WCSSTBL1" stored little-endian */
#define WC_SST_FORMAT_VERSION 1u

#define WC_SST_FOOTER_LEN 64u
#define WC_SST_FOOTER_CHECKED_LEN 52u /* bytes covered by the footer checksum */

/* block trailer */
#define WC_SST_BLOCK_RAW 0u
#define WC_SST_BLOCK_LZ4 1u
#define WC_SST_TRAILER_LEN 9u /* u8 type + u32 ulen + u32 checksum */

/*
 * Sanity bounds applied before allocating anything read from disk.  A data
 * block's uncompressed contents never exceed WC_SST_MAX_BLOCK_LEN: the writer
 * clamps block_size to WC_SST_MAX_BLOCK_SIZE_OPT and rejects entries larger
 * than WC_SST_MAX_ENTRY_LEN, and their sum stays below the bound.  Metadata
 * blocks (filter, stats, index) may be larger but never more than
 * WC_SST_MAX_META_LEN.  LZ4 cannot expand data more than ~255x, so a trailer
 * claiming more than WC_SST_LZ4_MAX_RATIO times its payload is corrupt.
 */
#define WC_SST_MAX_BLOCK_LEN (64u << 20)
#define WC_SST_MAX_BLOCK_SIZE_OPT (16u << 20)
#define WC_SST_MAX_ENTRY_LEN (32u << 20)
#define WC_SST_MAX_META_LEN (1u << 30)
#define WC_SST_LZ4_MAX_RATIO 256u

/* data and index blocks: entry = varint shared, varint unshared, varint vlen, suffix, value;
 * then u32 restart offsets, then u32 restart count */
#define WC_SST_MAX_RESTART_INTERVAL 1024u

/* bloom filter block: bit array, then u8 number of probes (0 = no filter, always matches) */
#define WC_SST_BLOOM_MAX_PROBES 30u
#define WC_SST_BLOOM_MAX_BITS 0xffffffc0ull /* bit positions are computed in 32 bits */

/* stats block */
#define WC_SST_STATS_VERSION 2u     /* written; version 1 (no tombstone histogram) is still read */
#define WC_SST_STATS_VERSION_MIN 1u

/* writer buffering: stored blocks are appended to the file in chunks of this size */
#define WC_SST_WRITE_BUFFER (256u << 10)

#endif /* WC_SSTABLE_FORMAT_H */
