/*
 * coding.c - the growable byte buffer.
 */
#include "coding.h"

#include "alloc.h"

void wc_buf_free(wc_buf *b)
{
    wc_free(b->data);
    wc_buf_init(b);
}

bool wc_buf_reserve(wc_buf *b, size_t n)
{
    size_t need, cap;
    uint8_t *p;

    if (b->failed)
        return false;
    need = b->len + n;
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    p = wc_realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void wc_buf_append(wc_buf *b, const void *p, size_t n)
{
    if (n == 0 || !wc_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void wc_buf_put_u8(wc_buf *b, uint8_t v)
{
    wc_buf_append(b, &v, 1);
}

void wc_buf_put_u16be(wc_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wc_buf_append(b, t, 2);
}

void wc_buf_put_u32(wc_buf *b, uint32_t v)
{
    uint8_t t[4];
    wc_enc_u32(t, v);
    wc_buf_append(b, t, 4);
}

void wc_buf_put_u64(wc_buf *b, uint64_t v)
{
    uint8_t t[8];
    wc_enc_u64(t, v);
    wc_buf_append(b, t, 8);
}

void wc_buf_put_varint(wc_buf *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;

    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    wc_buf_append(b, t, (size_t)n);
}

void wc_buf_put_bytes(wc_buf *b, const void *p, size_t n)
{
    wc_buf_put_varint(b, n);
    wc_buf_append(b, p, n);
}
