/*
 * counter.c - counter shard lists: validate, sum, merge.  See counter.h.
 */
#include "counter.h"

#include "keys.h"
#include "mutation.h"
#include "row.h"

static void wc__shard_at(const uint8_t *p, wc_counter_shard *s)
{
    s->writer = wc_dec_u64(p);
    s->clock = wc_dec_u64(p + 8);
    s->value = (int64_t)wc_dec_u64(p + 16);
}

bool wc_counter_valid(const uint8_t *value, size_t len)
{
    uint64_t prev = 0;

    if (len == 0 || len % WC_COUNTER_SHARD_LEN != 0)
        return false;
    for (size_t off = 0; off < len; off += WC_COUNTER_SHARD_LEN) {
        uint64_t w = wc_dec_u64(value + off);
        if (off > 0 && w <= prev)
            return false;
        prev = w;
    }
    return true;
}

bool wc_counter_sum(const uint8_t *value, size_t len, int64_t *sum)
{
    uint64_t s = 0;

    if (!wc_counter_valid(value, len))
        return false;
    for (size_t off = 0; off < len; off += WC_COUNTER_SHARD_LEN)
        s += wc_dec_u64(value + off + 16);
    *sum = (int64_t)s;
    return true;
}

bool wc_counter_find(const uint8_t *value, size_t len, uint64_t writer, wc_counter_shard *out)
{
    for (size_t off = 0; off + WC_COUNTER_SHARD_LEN <= len; off += WC_COUNTER_SHARD_LEN) {
        if (wc_dec_u64(value + off) == writer) {
            wc__shard_at(value + off, out);
            return true;
        }
    }
    return false;
}

void wc_counter_put_shard(wc_buf *b, const wc_counter_shard *s)
{
    wc_buf_put_u64(b, s->writer);
    wc_buf_put_u64(b, s->clock);
    wc_buf_put_u64(b, (uint64_t)s->value);
}

/* Does shard x win over shard y of the same writer? */
static bool wc__shard_wins(const wc_counter_shard *x, const wc_counter_shard *y)
{
    if (x->clock != y->clock)
        return x->clock > y->clock;
    return x->value >= y->value;
}

/* Walk merge(a, b); append the shards to out when out is not NULL; return their count. */
static size_t wc__merge_walk(wc_buf *out, const uint8_t *a, size_t alen, const uint8_t *b,
                             size_t blen)
{
    size_t i = 0, j = 0, n = 0;
    wc_counter_shard sa, sb;

    while (i < alen || j < blen) {
        const wc_counter_shard *take;

        if (i < alen)
            wc__shard_at(a + i, &sa);
        if (j < blen)
            wc__shard_at(b + j, &sb);
        if (i < alen && j < blen && sa.writer == sb.writer) {
            take = wc__shard_wins(&sa, &sb) ? &sa : &sb;
            i += WC_COUNTER_SHARD_LEN;
            j += WC_COUNTER_SHARD_LEN;
        } else if (j >= blen || (i < alen && sa.writer < sb.writer)) {
            take = &sa;
            i += WC_COUNTER_SHARD_LEN;
        } else {
            take = &sb;
            j += WC_COUNTER_SHARD_LEN;
        }
        if (out)
            wc_counter_put_shard(out, take);
        n++;
    }
    return n;
}

size_t wc_counter_merged_len(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return wc__merge_walk(NULL, a, alen, b, blen) * WC_COUNTER_SHARD_LEN;
}

void wc_counter_merge(wc_buf *out, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    (void)wc__merge_walk(out, a, alen, b, blen);
}

/* Does the row blob hold a delta cell?  false for a malformed blob (validation reports it). */
bool wc_counter_row_has_delta(const uint8_t *blob, size_t len)
{
    wc_row_view v;
    wc_cell c;

    if (!wc_row_parse(blob, len, &v))
        return false;
    while (wc_row_next_cell(&v, &c) == 1)
        if (c.flags & WC_CELLF_COUNTER_DELTA)
            return true;
    return false;
}

bool wc_counter_batch_has_delta(const uint8_t *rec, size_t len)
{
    wc_batch_view bv;
    wc_mutation_view mv;
    wc_mutation_entry en;
    const uint8_t *mut;
    size_t ml;

    if (wc_batch_parse(rec, len, &bv) != WC_OK)
        return false;
    while (wc_batch_next(&bv, &mut, &ml) == 1) {
        if (wc_mutation_parse(mut, ml, &mv) != WC_OK)
            return false;
        while (wc_mutation_next(&mv, &en) == 1)
            if (en.kind != WC_KIND_HEADER && wc_counter_row_has_delta(en.blob, en.blob_len))
                return true;
    }
    return false;
}
