/*
 * coding.h - fixed-width little-endian and varint encoding, and the growable
 * byte buffer used to build every on-disk and on-wire record.
 *
 * Decoders take a cursor (pointer + end) and never read past end: they return
 * 0 (false) on a short or malformed input so that callers can turn it into a
 * WC_CORRUPTION status.  A wc_buf is owned by one thread at a time.
 */
#ifndef WC_CODING_H
#define WC_CODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "status.h"

typedef struct wc_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed; /* an allocation failed; every later append is a no-op */
} wc_buf;

/* API */

static inline void wc_buf_init(wc_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
void wc_buf_free(wc_buf *b);
static inline void wc_buf_reset(wc_buf *b)
{
    b->len = 0;
    b->failed = 0;
}
/* Ensure room for n more bytes.  Returns false (and sets failed) on OOM. */
bool wc__buf_grow(wc_buf *b, size_t n); /* slow path of wc_buf_reserve */
static inline bool wc_buf_reserve(wc_buf *b, size_t n)
{
    if (!b->failed && b->cap - b->len >= n)
        return true;
    return wc__buf_grow(b, n);
}
static inline void wc_buf_append(wc_buf *b, const void *p, size_t n)
{
    if (n == 0 || !wc_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void wc_buf_put_u8(wc_buf *b, uint8_t v)
{
    if (!wc_buf_reserve(b, 1))
        return;
    b->data[b->len++] = v;
}
void wc_buf_put_u16be(wc_buf *b, uint16_t v);
static inline void wc_buf_put_u32(wc_buf *b, uint32_t v)
{
    if (!wc_buf_reserve(b, 4))
        return;
    b->data[b->len] = (uint8_t)v;
    b->data[b->len + 1] = (uint8_t)(v >> 8);
    b->data[b->len + 2] = (uint8_t)(v >> 16);
    b->data[b->len + 3] = (uint8_t)(v >> 24);
    b->len += 4;
}
static inline void wc_buf_put_u64(wc_buf *b, uint64_t v)
{
    if (!wc_buf_reserve(b, 8))
        return;
    for (int i = 0; i < 8; i++)
        b->data[b->len + i] = (uint8_t)(v >> (8 * i));
    b->len += 8;
}
static inline void wc_buf_put_varint(wc_buf *b, uint64_t v)
{
    if (!wc_buf_reserve(b, 10))
        return;
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}
/* varint length followed by the bytes */
static inline void wc_buf_put_bytes(wc_buf *b, const void *p, size_t n)
{
    wc_buf_put_varint(b, n);
    wc_buf_append(b, p, n);
}
/* WC_NO_MEMORY if any append failed, else WC_OK. */
static inline wc_status wc_buf_status(const wc_buf *b)
{
    return b->failed ? wc_error(WC_NO_MEMORY, "out of memory building a record") : WC_OK;
}

static inline void wc_enc_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void wc_enc_u64(uint8_t *p, uint64_t v)
{
    wc_enc_u32(p, (uint32_t)v);
    wc_enc_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t wc_dec_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t wc_dec_u64(const uint8_t *p)
{
    return (uint64_t)wc_dec_u32(p) | ((uint64_t)wc_dec_u32(p + 4) << 32);
}
static inline void wc_enc_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t wc_dec_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Cursor decoders: advance *pp, return false if the input is short/malformed. */
static inline bool wc_get_u8(const uint8_t **pp, const uint8_t *end, uint8_t *v)
{
    if (*pp >= end)
        return false;
    *v = **pp;
    (*pp)++;
    return true;
}
static inline bool wc_get_u32(const uint8_t **pp, const uint8_t *end, uint32_t *v)
{
    if (end - *pp < 4)
        return false;
    *v = wc_dec_u32(*pp);
    *pp += 4;
    return true;
}
static inline bool wc_get_u64(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    if (end - *pp < 8)
        return false;
    *v = wc_dec_u64(*pp);
    *pp += 8;
    return true;
}
static inline bool wc_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    const uint8_t *p = *pp;

    for (int shift = 0; shift <= 63; shift += 7) {
        if (p >= end)
            return false;
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = r;
            return true;
        }
    }
    return false;
}
/* varint length + bytes; *out points into the input (no copy). */
static inline bool wc_get_bytes(const uint8_t **pp, const uint8_t *end, const uint8_t **out,
                                size_t *len)
{
    uint64_t n;

    if (!wc_get_varint(pp, end, &n) || n > (uint64_t)(end - *pp))
        return false;
    *out = *pp;
    *len = (size_t)n;
    *pp += n;
    return true;
}
static inline int wc_varint_len(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* memcmp of two byte strings, shorter-is-less on a common prefix. */
static inline int wc_bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

#endif /* WC_CODING_H */
