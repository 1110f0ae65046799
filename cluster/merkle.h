/*
 * merkle.h - Merkle trees of one token range of one table, the comparison
 * unit of anti-entropy repair (repair.h).
 *
 * A tree covers the token range (start, end] (start == end: the whole
 * ring) split into WC_MERKLE_LEAVES sub-ranges of equal width: with W the
 * range's width, leaf i holds the tokens t whose offset o = t - start - 1
 * (unsigned, wrapping) has floor(o * L / W) == i, that is the sub-range
 * (start + ceil(i W / L), start + ceil((i + 1) W / L)].  A leaf's hash
 * starts at 0 and folds in, in token order (then partition-key order, the
 * order of a raw read), the digest of each partition (wc_raw_digest of the
 * partition's raw form, engine/raw.h: key, rows, cells, timestamps and
 * every tombstone, not what a tombstone shadows): h = XXH3_64(digest, seed
 * h).  An inner node hashes its two children (XXH3_64 of 16 bytes, the
 * left one first, little-endian); the root covers the range.  Equal data
 * gives equal trees however the replicas split it into memtables and
 * SSTables; a changed cell or tombstone changes its leaf and every node
 * above it.  Only the leaves travel (repair_format.h): both sides build the
 * inner nodes.
 *
 * Depth WC_MERKLE_DEPTH (10: 1024 leaves, 8 KiB per tree).  Pure functions,
 * no allocation but wc_merkle_add_raw's scratch: thread-safe.
 */
#ifndef WC_MERKLE_H
#define WC_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define WC_MERKLE_DEPTH 10
#define WC_MERKLE_LEAVES (1u << WC_MERKLE_DEPTH)

typedef struct wc_merkle {
    int64_t start, end;                /* the range (start, end] */
    uint64_t leaf[WC_MERKLE_LEAVES];   /* leaf hashes */
    uint64_t partitions;               /* partitions folded in */
} wc_merkle;

/* API */

/* An empty tree of (start, end]. */
void wc_merkle_init(wc_merkle *m, int64_t start, int64_t end);
/* The leaf that holds token.  REQUIRES: token in the tree's range. */
uint32_t wc_merkle_leaf_of(const wc_merkle *m, int64_t token);
/* Whether token lies in the tree's range. */
bool wc_merkle_covers(const wc_merkle *m, int64_t token);
/*
 * The sub-range (*lo, *hi] of leaf i; false when it is empty (a range
 * narrower than WC_MERKLE_LEAVES tokens).  *lo > *hi: it wraps past the
 * largest token.
 */
bool wc_merkle_leaf_range(const wc_merkle *m, uint32_t i, int64_t *lo, int64_t *hi);
/*
 * Fold every partition of raw[0..len) (a raw read result, engine/raw.h, of
 * tokens inside the range, in token order) into the leaves.
 * WC_CORRUPTION for a malformed raw or a partition outside the range,
 * WC_NO_MEMORY.
 */
wc_status wc_merkle_add_raw(wc_merkle *m, const uint8_t *raw, size_t len);
/* The root hash (the inner nodes computed from the leaves). */
uint64_t wc_merkle_root(const wc_merkle *m);
/*
 * Walk both trees from the root and mark in differs[0..WC_MERKLE_LEAVES)
 * each leaf whose hash differs (entries already true stay true, so several
 * replicas can be compared against one); returns the leaves newly marked.
 * REQUIRES: same range.
 */
uint32_t wc_merkle_diff(const wc_merkle *a, const wc_merkle *b, bool *differs);

#endif /* WC_MERKLE_H */
