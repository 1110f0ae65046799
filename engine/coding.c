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

bool wc__buf_grow(wc_buf *b, size_t n)
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

void wc_buf_put_u16be(wc_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wc_buf_append(b, t, 2);
}
