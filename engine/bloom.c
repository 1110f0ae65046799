/*
 * bloom.c - bloom filter over partition prefixes (see bloom.h).
 *
 * The builder keeps one 64-bit hash per key and sizes the bit array at
 * finish, so the filter is exactly bits_per_key * n bits (at least 64,
 * rounded up to whole bytes, at most WC_SST_BLOOM_MAX_BITS).
 */
#include "bloom.h"

#include <math.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "sstable_format.h"

void wc_bloom_builder_init(wc_bloom_builder *bb, uint32_t bits_per_key)
{
    bb->hashes = NULL;
    bb->n = bb->cap = 0;
    bb->bits_per_key = bits_per_key;
    bb->failed = false;
}

void wc_bloom_builder_free(wc_bloom_builder *bb)
{
    wc_free(bb->hashes);
    bb->hashes = NULL;
    bb->n = bb->cap = 0;
}

uint64_t wc_bloom_hash(const uint8_t *key, size_t len)
{
    return XXH3_64bits(key, len);
}

void wc_bloom_builder_add(wc_bloom_builder *bb, const uint8_t *key, size_t len)
{
    if (bb->failed || bb->bits_per_key == 0)
        return;
    if (bb->n == bb->cap) {
        size_t ncap = bb->cap ? bb->cap * 2 : 1024;
        uint64_t *nh = wc_realloc(bb->hashes, ncap * sizeof(*nh));

        if (nh == NULL) {
            bb->failed = true;
            return;
        }
        bb->hashes = nh;
        bb->cap = ncap;
    }
    bb->hashes[bb->n++] = wc_bloom_hash(key, len);
}

uint32_t wc_bloom_probes(uint32_t bits_per_key)
{
    uint32_t k = (uint32_t)lround((double)bits_per_key * 0.69314718056);

    if (k < 1)
        k = 1;
    if (k > WC_SST_BLOOM_MAX_PROBES)
        k = WC_SST_BLOOM_MAX_PROBES;
    return k;
}

static inline uint32_t probe_bit(uint32_t h, uint64_t nbits)
{
    return (uint32_t)(((uint64_t)h * nbits) >> 32);
}

wc_status wc_bloom_builder_finish(wc_bloom_builder *bb, wc_buf *out)
{
    uint64_t nbits;
    size_t nbytes, start;
    uint32_t k;
    uint8_t *bits;

    if (bb->failed)
        return wc_error(WC_NO_MEMORY, "out of memory building a bloom filter");
    if (bb->bits_per_key == 0) {
        wc_buf_put_u8(out, 0);
        return wc_buf_status(out);
    }
    k = wc_bloom_probes(bb->bits_per_key);
    nbits = (uint64_t)bb->n * bb->bits_per_key;
    if (nbits < 64)
        nbits = 64;
    if (nbits > WC_SST_BLOOM_MAX_BITS)
        nbits = WC_SST_BLOOM_MAX_BITS;
    nbytes = (size_t)((nbits + 7) / 8);
    nbits = (uint64_t)nbytes * 8;
    if (!wc_buf_reserve(out, nbytes + 1))
        return wc_buf_status(out);
    start = out->len;
    memset(out->data + start, 0, nbytes);
    out->len += nbytes;
    bits = out->data + start;
    for (size_t i = 0; i < bb->n; i++) {
        uint32_t h1 = (uint32_t)bb->hashes[i];
        uint32_t h2 = (uint32_t)(bb->hashes[i] >> 32) | 1;

        for (uint32_t j = 0; j < k; j++) {
            uint32_t b = probe_bit(h1, nbits);

            bits[b >> 3] |= (uint8_t)(1u << (b & 7));
            h1 += h2;
        }
    }
    wc_buf_put_u8(out, (uint8_t)k);
    return wc_buf_status(out);
}

bool wc_bloom_check(const uint8_t *filter, size_t len)
{
    if (len < 1)
        return false;
    if (filter[len - 1] > WC_SST_BLOOM_MAX_PROBES)
        return false;
    if (filter[len - 1] != 0 && (len - 1 == 0 || (uint64_t)(len - 1) * 8 > WC_SST_BLOOM_MAX_BITS))
        return false;
    return true;
}

bool wc_bloom_may_contain_hash(const uint8_t *filter, size_t len, uint64_t h)
{
    uint32_t k = filter[len - 1];
    uint64_t nbits = (uint64_t)(len - 1) * 8;
    uint32_t h1 = (uint32_t)h;
    uint32_t h2 = (uint32_t)(h >> 32) | 1;

    if (k == 0)
        return true;
    for (uint32_t j = 0; j < k; j++) {
        uint32_t b = probe_bit(h1, nbits);

        if (!(filter[b >> 3] & (1u << (b & 7))))
            return false;
        h1 += h2;
    }
    return true;
}

bool wc_bloom_may_contain(const uint8_t *filter, size_t len, const uint8_t *key, size_t klen)
{
    return wc_bloom_may_contain_hash(filter, len, wc_bloom_hash(key, klen));
}
