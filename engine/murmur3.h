/*
 * murmur3.h - Cassandra's Murmur3Partitioner token.
 *
 * MurmurHash3 x64_128 with seed 0, exactly as Cassandra computes it: the
 * 16-byte blocks are read little-endian, and the bytes of the tail are
 * sign-extended before they are shifted (Cassandra reads them as Java's
 * signed bytes), which differs from the reference MurmurHash3 for tail
 * bytes >= 0x80.  The token is the first 64 bits of the hash as a signed
 * integer, with INT64_MIN mapped to INT64_MAX; an empty key has the token
 * INT64_MIN.  The input is the partition key serialized as Cassandra does
 * (docs/file-formats.md, "Partitioners").  Pure functions; thread-safe.
 */
#ifndef WC_MURMUR3_H
#define WC_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

/* API */

/* The two 64-bit halves of Cassandra's MurmurHash3 x64_128 (seed 0) of data[0..len). */
void wc_murmur3_x64_128(const void *data, size_t len, int64_t out[2]);

/* Murmur3Partitioner's token of a serialized partition key. */
int64_t wc_murmur3_token(const void *key, size_t len);

#endif /* WC_MURMUR3_H */
