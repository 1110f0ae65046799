/*
 * block.h - SSTable blocks: the builder of prefix-compressed entry blocks,
 * the stored-block wrapper (LZ4 + trailer + checksum), the reference-counted
 * decoded block, and the block iterator.  Internal to the SSTable code.
 *
 * A block's contents (layout in sstable_format.h and docs/file-formats.md) is
 * a run of entries
 *     varint shared | varint unshared | varint vlen | key suffix | value
 * whose keys ascend, with a restart point (shared == 0) every
 * restart_interval entries, followed by the u32 restart offsets and a u32
 * restart count.  Data blocks and the index block use it.
 *
 * A wc_block_builder and a wc_block_iter belong to one thread.  A wc_block is
 * immutable after wc_block_load and reference-counted with atomics, so it can
 * be shared by the block cache and by iterators of several threads; it is
 * freed when its last reference is dropped.
 */
#ifndef WC_BLOCK_H
#define WC_BLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"

/* API: builder */

typedef struct wc_block_builder {
    wc_buf buf;      /* entries so far */
    wc_buf restarts; /* u32 restart offsets (little-endian) */
    wc_buf last_key; /* key of the last entry added */
    uint32_t interval;
    uint32_t counter; /* entries since the last restart */
    uint32_t nrestarts;
    uint64_t nentries;
} wc_block_builder;

/* REQUIRES: 1 <= restart_interval. */
void wc_block_builder_init(wc_block_builder *bb, uint32_t restart_interval);
void wc_block_builder_free(wc_block_builder *bb);
/* Forget every entry (keeps the memory). */
void wc_block_builder_reset(wc_block_builder *bb);
/*
 * Append an entry.  REQUIRES: key > the previous key of this block (the
 * caller checks the order).  Allocation failure is latched: see _status.
 */
void wc_block_builder_add(wc_block_builder *bb, const uint8_t *key, size_t klen,
                          const uint8_t *value, size_t vlen);
/* Bytes the finished contents would have now (entries + restart array). */
static inline size_t wc_block_builder_size(const wc_block_builder *bb)
{
    return bb->buf.len + bb->restarts.len + 4;
}
static inline bool wc_block_builder_empty(const wc_block_builder *bb)
{
    return bb->nentries == 0;
}
/*
 * Append the restart array and return the contents (owned by the builder,
 * valid until the next reset/free).  *len receives its length.  NULL if an
 * allocation failed at any point (WC_NO_MEMORY).
 */
const uint8_t *wc_block_builder_finish(wc_block_builder *bb, size_t *len);

/* API: stored blocks */

/*
 * Append the stored form of contents (payload + trailer) to out.  With
 * compress, LZ4 is used when it saves at least 1/8 of the bytes, otherwise
 * the contents are stored raw.  REQUIRES: len <= WC_SST_MAX_META_LEN.
 * scratch is a caller-owned buffer reused between calls.  On OOM out->failed
 * is set.
 */
void wc_block_wrap(const uint8_t *contents, size_t len, bool compress, wc_buf *scratch,
                   wc_buf *out);

/*
 * Testing hook for fuzzers only: when set, block and footer checksums are not
 * verified (every other check still is) so that fuzzed inputs reach the
 * decoders.  Never set in production code.
 */
extern _Atomic int wc__block_ignore_checksums;

/* API: decoded blocks */

typedef struct wc_block {
    _Atomic uint32_t refs;
    uint32_t nrestarts;
    size_t cap;          /* bytes data[] can hold (>= len; a reused buffer may hold more) */
    size_t len;          /* contents length */
    size_t restarts_off; /* offset of the restart array == end of the entries */
    uint8_t data[];      /* contents */
} wc_block;

/*
 * Verify a stored block (stored, n bytes: payload + trailer) and decode it
 * into a new wc_block with one reference (caller unrefs).  max_len bounds the
 * uncompressed length.  With parse_restarts, the restart array is checked
 * (data and index blocks); otherwise the contents are opaque (filter, stats).
 * Returns WC_CORRUPTION (bad trailer, checksum, length, LZ4 stream or restart
 * array; detail in wc_last_error) or WC_NO_MEMORY.
 */
wc_status wc_block_load(const uint8_t *stored, size_t n, size_t max_len, bool parse_restarts,
                        wc_block **out);

/*
 * Same, decoding into spare (a block nobody references any more, taken
 * over by this call) when its cap is enough, so that no memory is
 * allocated; a spare too small is freed.  spare may be NULL.
 */
wc_status wc_block_load_reuse(const uint8_t *stored, size_t n, size_t max_len,
                              bool parse_restarts, wc_block *spare, wc_block **out);

/*
 * Verify a stored block as wc_block_load does (restarts are not checked)
 * and give its contents (*contents, *len): a raw block's in place, inside
 * stored, with *out NULL; a compressed one's decoded into a new block *out
 * with one reference (caller unrefs), its data.
 */
wc_status wc_block_view(const uint8_t *stored, size_t n, size_t max_len, const uint8_t **contents,
                        size_t *len, wc_block **out);

static inline void wc_block_ref(wc_block *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}
/* Drop a reference; frees the block at zero.  NULL is a no-op. */
void wc_block_unref(wc_block *b);

/* API: block iterator */

typedef struct wc_block_prev_ent {
    size_t off, next; /* entry offset and offset after it */
    size_t key_off;   /* into prev_keys */
    size_t key_len;
    size_t val_off; /* into the block */
    size_t vlen;
} wc_block_prev_ent;

typedef struct wc_block_iter {
    const uint8_t *data;
    size_t restarts_off;
    uint32_t nrestarts;
    size_t cur;  /* offset of the current entry; restarts_off when invalid */
    size_t next; /* offset just after the current entry */
    wc_buf key;  /* the current key */
    const uint8_t *val;
    size_t vlen;
    wc_status st; /* WC_CORRUPTION (malformed entry) or WC_NO_MEMORY; sticky until set() */
    /* entries of one restart interval, built by prev() (see block.c) */
    wc_block_prev_ent *prev_ents;
    size_t prev_n, prev_cap, prev_pos;
    wc_buf prev_keys;
} wc_block_iter;

void wc_block_iter_init(wc_block_iter *bi);
void wc_block_iter_free(wc_block_iter *bi);
/* Attach to a block (no reference is taken) and invalidate the position. */
void wc_block_iter_set(wc_block_iter *bi, const wc_block *b);
/* Attach to raw contents already checked with wc_block_check_restarts. */
void wc_block_iter_set_raw(wc_block_iter *bi, const uint8_t *data, size_t restarts_off,
                           uint32_t nrestarts);

static inline bool wc_block_iter_valid(const wc_block_iter *bi)
{
    return bi->st == WC_OK && bi->cur < bi->restarts_off;
}
void wc_block_iter_seek_first(wc_block_iter *bi);
void wc_block_iter_seek_last(wc_block_iter *bi);
/* First entry >= target (invalid if none). */
void wc_block_iter_seek(wc_block_iter *bi, const uint8_t *target, size_t tlen);
/* Last entry <= target (invalid if none). */
void wc_block_iter_seek_for_prev(wc_block_iter *bi, const uint8_t *target, size_t tlen);
void wc_block_iter_next(wc_block_iter *bi); /* REQUIRES: valid */
void wc_block_iter_prev(wc_block_iter *bi); /* REQUIRES: valid */
static inline const uint8_t *wc_block_iter_key(const wc_block_iter *bi, size_t *len)
{
    *len = bi->key.len;
    return bi->key.data;
}
static inline const uint8_t *wc_block_iter_value(const wc_block_iter *bi, size_t *len)
{
    *len = bi->vlen;
    return bi->val;
}

/*
 * Check the restart array at the end of contents (data, len): sets
 * *restarts_off and *nrestarts.  False if malformed (no room, count zero or
 * too large, first restart not 0, offsets not ascending or out of range).
 */
bool wc_block_check_restarts(const uint8_t *data, size_t len, size_t *restarts_off,
                             uint32_t *nrestarts);

#endif /* WC_BLOCK_H */
