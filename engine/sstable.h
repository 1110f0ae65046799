/*
 * sstable.h - immutable sorted tables on disk: writer, reader, statistics.
 *
 * An SSTable file holds (flat key -> blob) entries in key order (keys.h,
 * row.h).  Byte layout in sstable_format.h and docs/file-formats.md: LZ4-
 * compressed data blocks, each with an xxhash checksum, cut at entry
 * boundaries (prefix-compressed keys, restart points); a bloom filter over
 * partition prefixes (token + pk); a statistics block; an index block with one
 * entry per data block (its last key -> offset, size); a fixed footer with a
 * magic number.  Because keys are flat, the block index is both the partition
 * index (a partition is found by one data-block read) and the intra-partition
 * index (a seek by clustering key lands on the right block of a large
 * partition).
 *
 * Writer: one thread.  Writes to "<path>.tmp", then on finish fsyncs, renames
 * to <path> and fsyncs the directory.  Abort removes the temporary file.
 *
 * Reader: open reads and verifies footer, index, bloom and statistics, and
 * keeps them: in place in the file's view when its file system offers one
 * (wc_fs.view; the index is searched where it lies, never decoded into
 * arrays), else in memory; data blocks are read on demand (through the optional
 * shared block cache) and verified before use: a bad checksum is
 * WC_CORRUPTION from the iterator, never served.  Reference counted; any
 * number of threads may iterate one reader concurrently.
 */
#ifndef WC_SSTABLE_H
#define WC_SSTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "iter.h"
#include "status.h"

typedef struct wc_sstable_writer wc_sstable_writer;
typedef struct wc_sstable wc_sstable;
typedef struct wc_block_cache wc_block_cache;

/* Bins of the tombstone local-deletion-time histogram in the stats block. */
#define WC_SST_TOMB_HIST_BINS 32

typedef struct wc_sstable_options {
    size_t block_size;      /* uncompressed target bytes per data block; default 8192 */
    int compression;        /* 1 = LZ4 (default), 0 = none */
    uint32_t bloom_bits_per_key; /* default 10 */
    uint32_t restart_interval;   /* default 16 */
} wc_sstable_options;

/* Statistics, computed by the writer from the entries and stored in the file. */
typedef struct wc_sstable_stats {
    uint64_t partitions;     /* distinct partition prefixes */
    uint64_t rows;           /* WC_KIND_ROW + WC_KIND_STATIC entries */
    uint64_t cells;
    uint64_t tombstones;     /* cell, row, range and partition tombstones, and expiring cells */
    int64_t min_timestamp;   /* over every timestamp (cells, liveness, deletions) */
    int64_t max_timestamp;
    uint32_t min_ldt;        /* over tombstones and expiring cells; UINT32_MAX if none */
    uint32_t max_ldt;        /* UINT32_MAX if any live non-expiring data exists */
    int64_t min_token, max_token;
    uint64_t data_bytes;     /* compressed data block bytes */
    uint64_t uncompressed_bytes;
    uint64_t file_bytes;
    uint64_t blocks;
    uint64_t headers;        /* WC_KIND_HEADER entries (partition/range deletions) */
    uint64_t statics;        /* WC_KIND_STATIC entries */
    /*
     * Streaming histogram of the ldt of every tombstone and expiring cell
     * (the same things `tombstones` counts): up to WC_SST_TOMB_HIST_BINS
     * (ldt, count) bins in ascending ldt; when a new value would make one bin
     * too many, the two closest bins merge into their weighted mean.  Lets a
     * compaction strategy estimate the droppable tombstones at any gc_before
     * without reading data.  Empty (tomb_hist_n 0) in version-1 stats blocks.
     */
    uint32_t tomb_hist_n;
    uint32_t tomb_hist_ldt[WC_SST_TOMB_HIST_BINS];
    uint64_t tomb_hist_count[WC_SST_TOMB_HIST_BINS];
    /* clustering key bounds over WC_KIND_ROW entries (owned by the reader/writer) */
    uint8_t *min_ck, *max_ck;
    size_t min_ck_len, max_ck_len;
    bool has_ck;
    /* first and last flat key of the file */
    uint8_t *first_key, *last_key;
    size_t first_key_len, last_key_len;
} wc_sstable_stats;

/* Per-read counters; iterators add to them (may be NULL).  Not atomic: one reader each. */
typedef struct wc_read_counters {
    uint64_t blocks_read;    /* data blocks fetched (cache hits included) */
    uint64_t cache_hits;
    uint64_t bytes_read;     /* bytes read from files */
} wc_read_counters;

/* API: options */
void wc_sstable_options_default(wc_sstable_options *o);

/* API: writer */

/* REQUIRES: path's directory exists.  Creates "<path>.tmp". */
wc_status wc_sstable_writer_open(wc_fs *fs, const char *path, const wc_sstable_options *opts,
                                 wc_sstable_writer **out);
/*
 * Add one entry.  REQUIRES: keys strictly ascending (WC_INVALID_ARGUMENT
 * otherwise), key a valid flat key, value a valid blob for its kind.
 */
wc_status wc_sstable_writer_add(wc_sstable_writer *w, const uint8_t *key, size_t klen,
                                const uint8_t *value, size_t vlen);
/* Write filter, stats, index, footer; fsync; rename; fsync dir; free w (also on failure). file_bytes may be NULL. */
wc_status wc_sstable_writer_finish(wc_sstable_writer *w, uint64_t *file_bytes);
/* Remove the temporary file and free w. */
void wc_sstable_writer_abort(wc_sstable_writer *w);
/* Entries added so far. */
uint64_t wc_sstable_writer_entries(const wc_sstable_writer *w);
/* Bytes the file would have if finished now, without its metadata blocks (an estimate:
 * the open data block counts uncompressed).  Compactions split outputs on it. */
uint64_t wc_sstable_writer_bytes(const wc_sstable_writer *w);

/* Tombstones and expiring cells of the file whose ldt is below gc_before, estimated
 * from the histogram in its statistics. */
uint64_t wc_sstable_stats_droppable(const wc_sstable_stats *s, int64_t gc_before);

/* API: reader */

/*
 * Open and verify.  cache may be NULL; file_id identifies the file in the
 * cache (unique per process).  WC_CORRUPTION for a bad footer, index, filter
 * or stats block; WC_IO_ERROR; WC_NOT_FOUND.
 */
wc_status wc_sstable_open(wc_fs *fs, const char *path, wc_block_cache *cache, uint64_t file_id,
                          wc_sstable **out);
/*
 * wc_sstable_open with flags.  WC_SST_OPEN_CHECKED_INDEX: another process
 * opened this very file with every check (the node, for a direct-read
 * client): the index block's checksum is verified, so its bytes are the
 * ones that process checked, and each entry is bounds-checked as it is
 * decoded, but the order and tiling of all the entries are not walked
 * again (most of an open's time for a large file).
 */
#define WC_SST_OPEN_CHECKED_INDEX 0x1u
wc_status wc_sstable_open_flags(wc_fs *fs, const char *path, wc_block_cache *cache,
                                uint64_t file_id, unsigned flags, wc_sstable **out);
void wc_sstable_ref(wc_sstable *t);
void wc_sstable_unref(wc_sstable *t); /* closes at zero */
/* Unlink the file when the last reference goes away (after compaction). */
void wc_sstable_mark_obsolete(wc_sstable *t);

const wc_sstable_stats *wc_sstable_get_stats(const wc_sstable *t);
uint64_t wc_sstable_file_id(const wc_sstable *t);
const char *wc_sstable_path(const wc_sstable *t);

/* Bloom filter test for a partition prefix (token + pk_len + pk, see keys.h). */
bool wc_sstable_may_contain(const wc_sstable *t, const uint8_t *prefix, size_t len);

/* New iterator (takes a reference, released by destroy); NULL on OOM.  counters may be NULL. */
wc_iter *wc_sstable_iter(wc_sstable *t, wc_read_counters *counters);

/* Read and verify every block (for scrub and tests): WC_OK or WC_CORRUPTION. */
wc_status wc_sstable_verify(wc_sstable *t);

/* Receives one salvaged entry (key, value valid until it returns); non-WC_OK stops. */
typedef wc_status (*wc_sstable_entry_fn)(void *arg, const uint8_t *key, size_t klen,
                                         const uint8_t *value, size_t vlen);

/* What wc_sstable_salvage found. */
typedef struct wc_sstable_salvage_stats {
    bool indexed;         /* the file opened: blocks were located through its index */
    uint64_t entries;     /* entries handed to fn */
    uint64_t rows;        /* of them, rows (not partition/range headers) */
    uint64_t blocks_ok;
    uint64_t blocks_lost; /* data blocks that failed verification (indexed files) */
    uint64_t bytes_lost;  /* bytes of lost blocks; unreadable rest of a file that did not open */
} wc_sstable_salvage_stats;

/*
 * Hand every entry of the SSTable at path that still verifies to fn, in
 * ascending key order (for scrub).  A file that opens is read block by block
 * through its index, skipping blocks that fail their checksum or hold
 * malformed entries.  A file that does not open (truncated, bad footer or
 * index) is scanned from its start: each data block is found by its trailer
 * checksum; the scan stops at the first stretch it cannot parse (the rest
 * counts as lost).  Files above 1 GiB that do not open are not scanned (all
 * lost).  Returns WC_OK whatever the damage (counted in *out), WC_IO_ERROR /
 * WC_NO_MEMORY, or fn's status.
 */
wc_status wc_sstable_salvage(wc_fs *fs, const char *path, wc_sstable_entry_fn fn, void *arg,
                             wc_sstable_salvage_stats *out);

/* API: block cache (LRU of verified, decompressed blocks; thread-safe) */
wc_status wc_block_cache_new(size_t capacity_bytes, wc_block_cache **out);
void wc_block_cache_free(wc_block_cache *c);
size_t wc_block_cache_usage(const wc_block_cache *c);

#endif /* WC_SSTABLE_H */
