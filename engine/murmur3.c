/*
 * murmur3.c - Cassandra's variant of MurmurHash3 x64_128 (murmur3.h).
 */
#include "murmur3.h"

#define WC_M3_C1 0x87c37b91114253d5ull
#define WC_M3_C2 0x4cf5ad432745937full

static inline uint64_t wc__rotl64(uint64_t v, int r)
{
    return (v << r) | (v >> (64 - r));
}

static inline uint64_t wc__fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static inline uint64_t wc__le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A tail byte as Cassandra reads it: a signed byte widened to 64 bits. */
static inline uint64_t wc__sbyte(uint8_t b)
{
    return (uint64_t)(int64_t)(int8_t)b;
}

void wc_murmur3_x64_128(const void *data, size_t len, int64_t out[2])
{
    const uint8_t *p = data;
    size_t nblocks = len / 16;
    const uint8_t *tail = p + nblocks * 16;
    uint64_t h1 = 0, h2 = 0, k1 = 0, k2 = 0;

    for (size_t i = 0; i < nblocks; i++) {
        k1 = wc__le64(p + i * 16);
        k2 = wc__le64(p + i * 16 + 8);
        k1 *= WC_M3_C1;
        k1 = wc__rotl64(k1, 31);
        k1 *= WC_M3_C2;
        h1 ^= k1;
        h1 = wc__rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= WC_M3_C2;
        k2 = wc__rotl64(k2, 33);
        k2 *= WC_M3_C1;
        h2 ^= k2;
        h2 = wc__rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    k1 = 0;
    k2 = 0;
    switch (len & 15) {
    case 15:
        k2 ^= wc__sbyte(tail[14]) << 48;
        /* fall through */
    case 14:
        k2 ^= wc__sbyte(tail[13]) << 40;
        /* fall through */
    case 13:
        k2 ^= wc__sbyte(tail[12]) << 32;
        /* fall through */
    case 12:
        k2 ^= wc__sbyte(tail[11]) << 24;
        /* fall through */
    case 11:
        k2 ^= wc__sbyte(tail[10]) << 16;
        /* fall through */
    case 10:
        k2 ^= wc__sbyte(tail[9]) << 8;
        /* fall through */
    case 9:
        k2 ^= wc__sbyte(tail[8]);
        k2 *= WC_M3_C2;
        k2 = wc__rotl64(k2, 33);
        k2 *= WC_M3_C1;
        h2 ^= k2;
        /* fall through */
    case 8:
        k1 ^= wc__sbyte(tail[7]) << 56;
        /* fall through */
    case 7:
        k1 ^= wc__sbyte(tail[6]) << 48;
        /* fall through */
    case 6:
        k1 ^= wc__sbyte(tail[5]) << 40;
        /* fall through */
    case 5:
        k1 ^= wc__sbyte(tail[4]) << 32;
        /* fall through */
    case 4:
        k1 ^= wc__sbyte(tail[3]) << 24;
        /* fall through */
    case 3:
        k1 ^= wc__sbyte(tail[2]) << 16;
        /* fall through */
    case 2:
        k1 ^= wc__sbyte(tail[1]) << 8;
        /* fall through */
    case 1:
        k1 ^= wc__sbyte(tail[0]);
        k1 *= WC_M3_C1;
        k1 = wc__rotl64(k1, 31);
        k1 *= WC_M3_C2;
        h1 ^= k1;
        break;
    default:
        break;
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = wc__fmix64(h1);
    h2 = wc__fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = (int64_t)h1;
    out[1] = (int64_t)h2;
}

int64_t wc_murmur3_token(const void *key, size_t len)
{
    int64_t h[2];

    if (len == 0)
        return INT64_MIN;
    wc_murmur3_x64_128(key, len, h);
    return h[0] == INT64_MIN ? INT64_MAX : h[0];
}
