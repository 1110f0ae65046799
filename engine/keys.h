/*
 * keys.h - partition tokens and the flat, byte-comparable engine key.
 *
 * Every entry of a memtable or SSTable is addressed by one flat key whose
 * memcmp order is the storage order: partitions in token order, inside a
 * partition first its header (partition deletion + range tombstones), then its
 * static row, then its rows in clustering order.  Byte layout (see
 * docs/file-formats.md, "Flat keys"):
 *
 *   token    8 bytes  big-endian, sign bit flipped (so signed order == memcmp order)
 *   pk_len   2 bytes  big-endian
 *   pk       pk_len bytes (opaque partition-key bytes from the caller)
 *   kind     1 byte   WC_KIND_HEADER / WC_KIND_STATIC / WC_KIND_ROW
 *   ck       rest     clustering key bytes (only for WC_KIND_ROW)
 *
 * The token of a partition depends on the process's partitioner: XXH3-64
 * of its partition-key bytes read as a signed 64-bit integer (xxhash, the
 * default), or Cassandra's Murmur3Partitioner token of them (murmur3.h; the
 * extension then serializes partition keys as Cassandra does).  The
 * partitioner is set once per process, before any thread computes a token
 * (wc_partitioner_set; the engine sets it when it opens its data directory,
 * which records it).  Otherwise pure functions; thread-safe.
 */
#ifndef WC_KEYS_H
#define WC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"

#define WC_KIND_HEADER 0x00
#define WC_KIND_STATIC 0x01
#define WC_KIND_ROW 0x02
#define WC_KIND_END 0x03 /* seek bound only: sorts after every entry of the partition */

#define WC_MAX_PK_LEN 65535
#define WC_MAX_CK_LEN (1u << 20)
#define WC_KEY_PREFIX_LEN(pklen) (8 + 2 + (size_t)(pklen)) /* bytes before kind */

typedef struct wc_key_parts {
    int64_t token;
    const uint8_t *pk; /* points into the key */
    size_t pk_len;
    uint8_t kind;
    const uint8_t *ck; /* points into the key; NULL/0 unless kind == WC_KIND_ROW */
    size_t ck_len;
} wc_key_parts;

typedef enum wc_partitioner {
    WC_PARTITIONER_XXHASH = 0, /* XXH3-64 of the key bytes (the default) */
    WC_PARTITIONER_MURMUR3 = 1 /* Cassandra's Murmur3Partitioner */
} wc_partitioner;

/* API */

/* The token of a partition key under the process's partitioner. */
int64_t wc_token(const void *pk, size_t len);

/* Select the partitioner of this process.  REQUIRES: no thread computes a token meanwhile. */
void wc_partitioner_set(wc_partitioner p);
wc_partitioner wc_partitioner_get(void);
/* "xxhash" or "murmur3". */
const char *wc_partitioner_name(wc_partitioner p);
/* Parse a name of wc_partitioner_name; false if unknown. */
bool wc_partitioner_parse(const char *name, size_t len, wc_partitioner *out);

/* Append the flat key to b.  REQUIRES: pk_len <= WC_MAX_PK_LEN. */
void wc_key_build(wc_buf *b, int64_t token, const void *pk, size_t pk_len, uint8_t kind,
                  const void *ck, size_t ck_len);

/* Split a flat key; false if it is malformed (too short, pk_len past the end). */
bool wc_key_parse(const uint8_t *key, size_t len, wc_key_parts *out);

/* Length of the partition prefix (token + pk_len + pk) of a valid key, 0 if malformed. */
size_t wc_key_partition_prefix(const uint8_t *key, size_t len);

/* Encode a token as the 8 big-endian bytes used in keys (sign bit flipped). */
static inline void wc_token_encode(uint8_t *p, int64_t token)
{
    wc_enc_u64be(p, (uint64_t)token ^ 0x8000000000000000ull);
}
static inline int64_t wc_token_decode(const uint8_t *p)
{
    return (int64_t)(wc_dec_u64be(p) ^ 0x8000000000000000ull);
}

#endif /* WC_KEYS_H */
