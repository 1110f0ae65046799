/*
 * merkle.c - Merkle trees of a token range (contract in merkle.h).
 */
#include "merkle.h"

#include <string.h>
#include <xxhash.h>

#include "coding.h"
#include "keys.h"
#include "mutation.h"
#include "raw.h"

typedef unsigned __int128 wc__u128;

/* The range's width: 2^64 for the whole ring. */
static wc__u128 wc__width(const wc_merkle *m)
{
    uint64_t w = (uint64_t)m->end - (uint64_t)m->start;

    return w == 0 ? (wc__u128)1 << 64 : (wc__u128)w;
}

/* ceil(i * W / L): the offset where leaf i starts. */
static uint64_t wc__bound(const wc_merkle *m, uint32_t i)
{
    wc__u128 x = (wc__u128)i * wc__width(m);

    return (uint64_t)((x + WC_MERKLE_LEAVES - 1) / WC_MERKLE_LEAVES);
}

void wc_merkle_init(wc_merkle *m, int64_t start, int64_t end)
{
    memset(m, 0, sizeof(*m));
    m->start = start;
    m->end = end;
}

bool wc_merkle_covers(const wc_merkle *m, int64_t token)
{
    uint64_t off = (uint64_t)token - (uint64_t)m->start - 1;

    return (wc__u128)off < wc__width(m);
}

uint32_t wc_merkle_leaf_of(const wc_merkle *m, int64_t token)
{
    uint64_t off = (uint64_t)token - (uint64_t)m->start - 1;

    return (uint32_t)(((wc__u128)off * WC_MERKLE_LEAVES) / wc__width(m));
}

bool wc_merkle_leaf_range(const wc_merkle *m, uint32_t i, int64_t *lo, int64_t *hi)
{
    wc__u128 b0 = wc__bound(m, i);
    wc__u128 b1 = i + 1 == WC_MERKLE_LEAVES ? wc__width(m) : wc__bound(m, i + 1);

    /* the last leaf ends at the range's end (b1 = W, 2^64 for the whole ring) */
    *lo = (int64_t)((uint64_t)m->start + (uint64_t)b0);
    *hi = (int64_t)((uint64_t)m->start + (uint64_t)b1);
    return b1 > b0;
}

wc_status wc_merkle_add_raw(wc_merkle *m, const uint8_t *raw, size_t len)
{
    wc_batch_view bv;
    const uint8_t *mut;
    size_t mlen;
    wc_buf one;
    int r;
    wc_status st;

    if (len == 0)
        return WC_OK;
    if ((st = wc_batch_parse(raw, len, &bv)) != WC_OK)
        return st;
    wc_buf_init(&one);
    while ((r = wc_batch_next(&bv, &mut, &mlen)) == 1) {
        wc_mutation_view mv;
        uint8_t dig[WC_RAW_DIGEST_LEN];
        int64_t token;
        uint32_t i;

        if ((st = wc_mutation_parse(mut, mlen, &mv)) != WC_OK)
            goto fail;
        token = wc_token(mv.pk, mv.pk_len);
        if (!wc_merkle_covers(m, token)) {
            st = wc_error(WC_CORRUPTION, "a partition of token %lld lies outside the tree's "
                                         "range (%lld, %lld]",
                          (long long)token, (long long)m->start, (long long)m->end);
            goto fail;
        }
        wc_buf_reset(&one);
        wc_batch_begin(&one, 1);
        wc_batch_add(&one, mut, mlen);
        if ((st = wc_buf_status(&one)) != WC_OK)
            goto fail;
        wc_raw_digest(one.data, one.len, dig);
        i = wc_merkle_leaf_of(m, token);
        m->leaf[i] = XXH3_64bits_withSeed(dig, sizeof(dig), m->leaf[i]);
        m->partitions++;
    }
    st = r == 0 ? WC_OK : wc_error(WC_CORRUPTION, "malformed raw result in a Merkle tree");
fail:
    wc_buf_free(&one);
    return st;
}

static uint64_t wc__pair(uint64_t l, uint64_t r)
{
    uint8_t b[16];

    wc_enc_u64(b, l);
    wc_enc_u64(b + 8, r);
    return XXH3_64bits(b, sizeof(b));
}

/* The whole tree, heap order: node k has children 2k, 2k+1; leaves at L..2L-1. */
static void wc__build(const wc_merkle *m, uint64_t *node)
{
    memcpy(node + WC_MERKLE_LEAVES, m->leaf, sizeof(m->leaf));
    for (uint32_t k = WC_MERKLE_LEAVES - 1; k >= 1; k--)
        node[k] = wc__pair(node[2 * k], node[2 * k + 1]);
}

uint64_t wc_merkle_root(const wc_merkle *m)
{
    uint64_t node[2 * WC_MERKLE_LEAVES];

    wc__build(m, node);
    return node[1];
}

static uint32_t wc__walk(const uint64_t *a, const uint64_t *b, uint32_t k, bool *differs)
{
    if (a[k] == b[k])
        return 0;
    if (k >= WC_MERKLE_LEAVES) {
        if (differs[k - WC_MERKLE_LEAVES])
            return 0;
        differs[k - WC_MERKLE_LEAVES] = true;
        return 1;
    }
    return wc__walk(a, b, 2 * k, differs) + wc__walk(a, b, 2 * k + 1, differs);
}

uint32_t wc_merkle_diff(const wc_merkle *a, const wc_merkle *b, bool *differs)
{
    static _Thread_local uint64_t na[2 * WC_MERKLE_LEAVES], nb[2 * WC_MERKLE_LEAVES];

    wc__build(a, na);
    wc__build(b, nb);
    return wc__walk(na, nb, 1, differs);
}
