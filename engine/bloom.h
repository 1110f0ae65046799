/*
 * bloom.h - the bloom filter of an SSTable, over partition prefixes.
 *
 * The writer adds the partition prefix (token + pk_len + pk, keys.h) of every
 * partition once; the reader asks whether a prefix may be present.  Each key
 * is hashed once with XXH3-64; the k probe positions come from double hashing
 * of its two 32-bit halves (h1 + i*h2), mapped onto the bit array by a
 * multiply-shift.  Filter contents (sstable_format.h, docs/file-formats.md):
 * the bit array, then one byte with the number of probes k; k == 0 means "no
 * filter" and every query answers true.
 *
 * A builder belongs to one thread.  wc_bloom_may_contain is a pure function
 * of immutable bytes and thread-safe.
 */
#ifndef WC_BLOOM_H
#define WC_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"

typedef struct wc_bloom_builder {
    uint64_t *hashes;
    size_t n, cap;
    uint32_t bits_per_key;
    bool failed; /* an allocation failed */
} wc_bloom_builder;

/* API */

/* bits_per_key 0 builds an empty filter that matches everything. */
void wc_bloom_builder_init(wc_bloom_builder *bb, uint32_t bits_per_key);
void wc_bloom_builder_free(wc_bloom_builder *bb);
/* Add one key (an allocation failure is latched and reported by _finish). */
void wc_bloom_builder_add(wc_bloom_builder *bb, const uint8_t *key, size_t len);
/* Append the filter contents to out.  WC_NO_MEMORY if any allocation failed. */
wc_status wc_bloom_builder_finish(wc_bloom_builder *bb, wc_buf *out);

/* Number of probes for a bits-per-key budget (round(bpk * ln 2), clamped to 1..30). */
uint32_t wc_bloom_probes(uint32_t bits_per_key);

/*
 * Check filter contents read from disk: false if malformed (empty, k above
 * WC_SST_BLOOM_MAX_PROBES, a non-empty bit array with k == 0 is allowed).
 */
bool wc_bloom_check(const uint8_t *filter, size_t len);

/* REQUIRES: wc_bloom_check(filter, len).  False means certainly absent. */
bool wc_bloom_may_contain(const uint8_t *filter, size_t len, const uint8_t *key, size_t klen);

/* Same with a precomputed XXH3-64 of the key (wc_bloom_hash). */
bool wc_bloom_may_contain_hash(const uint8_t *filter, size_t len, uint64_t h);
uint64_t wc_bloom_hash(const uint8_t *key, size_t len);

#endif /* WC_BLOOM_H */
