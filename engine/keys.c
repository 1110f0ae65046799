/*
 * keys.c - tokens and flat keys.
 */
#include "keys.h"

#include <stdatomic.h>
#include <string.h>

#include "murmur3.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static atomic_int wc__partitioner = WC_PARTITIONER_XXHASH;

int64_t wc_token(const void *pk, size_t len)
{
    if (atomic_load_explicit(&wc__partitioner, memory_order_relaxed) == WC_PARTITIONER_MURMUR3)
        return wc_murmur3_token(pk, len);
    return (int64_t)XXH3_64bits(pk, len);
}

void wc_partitioner_set(wc_partitioner p)
{
    atomic_store_explicit(&wc__partitioner, (int)p, memory_order_relaxed);
}

wc_partitioner wc_partitioner_get(void)
{
    return (wc_partitioner)atomic_load_explicit(&wc__partitioner, memory_order_relaxed);
}

const char *wc_partitioner_name(wc_partitioner p)
{
    return p == WC_PARTITIONER_MURMUR3 ? "murmur3" : "xxhash";
}

bool wc_partitioner_parse(const char *name, size_t len, wc_partitioner *out)
{
    if (len == 6 && memcmp(name, "xxhash", 6) == 0)
        *out = WC_PARTITIONER_XXHASH;
    else if (len == 7 && memcmp(name, "murmur3", 7) == 0)
        *out = WC_PARTITIONER_MURMUR3;
    else
        return false;
    return true;
}

void wc_key_build(wc_buf *b, int64_t token, const void *pk, size_t pk_len, uint8_t kind,
                  const void *ck, size_t ck_len)
{
    uint8_t t[8];

    if (!wc_buf_reserve(b, 11 + pk_len + ck_len))
        return;
    wc_token_encode(t, token);
    wc_buf_append(b, t, 8);
    wc_buf_put_u16be(b, (uint16_t)pk_len);
    wc_buf_append(b, pk, pk_len);
    wc_buf_put_u8(b, kind);
    if (kind == WC_KIND_ROW)
        wc_buf_append(b, ck, ck_len);
}

bool wc_key_parse(const uint8_t *key, size_t len, wc_key_parts *out)
{
    size_t pk_len;

    if (len < 11)
        return false;
    pk_len = ((size_t)key[8] << 8) | key[9];
    if (10 + pk_len + 1 > len)
        return false;
    out->token = wc_token_decode(key);
    out->pk = key + 10;
    out->pk_len = pk_len;
    out->kind = key[10 + pk_len];
    if (out->kind == WC_KIND_ROW) {
        out->ck = key + 11 + pk_len;
        out->ck_len = len - 11 - pk_len;
    } else {
        if (len != 11 + pk_len || out->kind > WC_KIND_END)
            return false;
        out->ck = NULL;
        out->ck_len = 0;
    }
    return true;
}

size_t wc_key_partition_prefix(const uint8_t *key, size_t len)
{
    size_t pk_len;

    if (len < 10)
        return 0;
    pk_len = ((size_t)key[8] << 8) | key[9];
    if (10 + pk_len > len)
        return 0;
    return 10 + pk_len;
}
