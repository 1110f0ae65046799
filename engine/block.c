/*
 * block.c - SSTable block builder, stored-block wrapper/loader and block
 * iterator (see block.h and docs/file-formats.md).
 *
 * The iterator decodes lazily: next() parses one entry, seek() binary-searches
 * the restart points and then scans forward, and prev() decodes the restart
 * interval before the current entry once into a small array (prev_ents) so
 * that walking backward costs O(1) per entry after an O(restart_interval)
 * step at each interval boundary.  The iterator never allocates per entry:
 * its key and prev buffers grow geometrically and are reused.
 */
#include "block.h"

#include <limits.h>
#include <lz4.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "sstable_format.h"

_Atomic int wc__block_ignore_checksums;

/* ------------------------------------------------------------------ builder */

void wc_block_builder_init(wc_block_builder *bb, uint32_t restart_interval)
{
    wc_buf_init(&bb->buf);
    wc_buf_init(&bb->restarts);
    wc_buf_init(&bb->last_key);
    bb->interval = restart_interval ? restart_interval : 1;
    bb->counter = 0;
    bb->nrestarts = 0;
    bb->nentries = 0;
}

void wc_block_builder_free(wc_block_builder *bb)
{
    wc_buf_free(&bb->buf);
    wc_buf_free(&bb->restarts);
    wc_buf_free(&bb->last_key);
}

void wc_block_builder_reset(wc_block_builder *bb)
{
    /* keep a latched allocation failure: the caller reports it */
    int failed = bb->buf.failed || bb->restarts.failed || bb->last_key.failed;

    wc_buf_reset(&bb->buf);
    wc_buf_reset(&bb->restarts);
    wc_buf_reset(&bb->last_key);
    bb->buf.failed = failed;
    bb->counter = 0;
    bb->nrestarts = 0;
    bb->nentries = 0;
}

void wc_block_builder_add(wc_block_builder *bb, const uint8_t *key, size_t klen,
                          const uint8_t *value, size_t vlen)
{
    size_t shared = 0;

    if (bb->nentries == 0 || bb->counter >= bb->interval) {
        wc_buf_put_u32(&bb->restarts, (uint32_t)bb->buf.len);
        bb->nrestarts++;
        bb->counter = 0;
    } else {
        size_t n = bb->last_key.len < klen ? bb->last_key.len : klen;
        const uint8_t *lk = bb->last_key.data;

        while (shared < n && lk[shared] == key[shared])
            shared++;
    }
    if (!wc_buf_reserve(&bb->buf, 30 + klen - shared + vlen))
        return;
    wc_buf_put_varint(&bb->buf, shared);
    wc_buf_put_varint(&bb->buf, klen - shared);
    wc_buf_put_varint(&bb->buf, vlen);
    wc_buf_append(&bb->buf, key + shared, klen - shared);
    wc_buf_append(&bb->buf, value, vlen);
    /* last_key keeps the common prefix already */
    bb->last_key.len = shared <= bb->last_key.len ? shared : bb->last_key.len;
    wc_buf_append(&bb->last_key, key + shared, klen - shared);
    bb->counter++;
    bb->nentries++;
}

const uint8_t *wc_block_builder_finish(wc_block_builder *bb, size_t *len)
{
    wc_buf_append(&bb->buf, bb->restarts.data, bb->restarts.len);
    wc_buf_put_u32(&bb->buf, bb->nrestarts);
    if (bb->buf.failed || bb->restarts.failed || bb->last_key.failed)
        return NULL;
    *len = bb->buf.len;
    return bb->buf.data;
}

/* ------------------------------------------------------------ stored blocks */

static uint32_t block_checksum(const uint8_t *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

void wc_block_wrap(const uint8_t *contents, size_t len, bool compress, wc_buf *scratch,
                   wc_buf *out)
{
    const uint8_t *payload = contents;
    size_t plen = len;
    uint8_t type = WC_SST_BLOCK_RAW;
    size_t start;

    if (compress && len > 0 && len <= (size_t)LZ4_MAX_INPUT_SIZE) {
        int bound = LZ4_compressBound((int)len);

        wc_buf_reset(scratch);
        if (bound > 0 && wc_buf_reserve(scratch, (size_t)bound)) {
            int c = LZ4_compress_default((const char *)contents, (char *)scratch->data, (int)len,
                                         bound);
            /* keep LZ4 only when it saves at least 1/8: decompression is not free */
            if (c > 0 && (size_t)c < len - len / 8) {
                payload = scratch->data;
                plen = (size_t)c;
                type = WC_SST_BLOCK_LZ4;
            }
        }
    }
    if (!wc_buf_reserve(out, plen + WC_SST_TRAILER_LEN))
        return;
    start = out->len;
    wc_buf_append(out, payload, plen);
    wc_buf_put_u8(out, type);
    wc_buf_put_u32(out, (uint32_t)len);
    if (out->failed)
        return;
    wc_buf_put_u32(out, block_checksum(out->data + start, plen + 5));
}

bool wc_block_check_restarts(const uint8_t *data, size_t len, size_t *restarts_off,
                             uint32_t *nrestarts)
{
    uint32_t n, prev = 0;
    size_t roff;

    if (len < 4)
        return false;
    n = wc_dec_u32(data + len - 4);
    if (n == 0) {
        /* only an empty block has no restart point */
        if (len != 4)
            return false;
        *restarts_off = 0;
        *nrestarts = 0;
        return true;
    }
    if ((uint64_t)n > (len - 4) / 4)
        return false;
    roff = len - 4 - (size_t)n * 4;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = wc_dec_u32(data + roff + (size_t)i * 4);

        if ((i == 0 && r != 0) || (i > 0 && r <= prev) || r >= roff)
            return false;
        prev = r;
    }
    *restarts_off = roff;
    *nrestarts = n;
    return true;
}

wc_status wc_block_load(const uint8_t *stored, size_t n, size_t max_len, bool parse_restarts,
                        wc_block **out)
{
    return wc_block_load_reuse(stored, n, max_len, parse_restarts, NULL, out);
}

/*
 * Check a stored block's trailer, checksum and lengths (wc_block_load):
 * *type, *ulen and *plen (payload bytes) on success.
 */
static wc_status check_stored(const uint8_t *stored, size_t n, size_t max_len, uint8_t *type,
                              uint32_t *ulen, size_t *plen)
{
    uint32_t sum;

    if (n < WC_SST_TRAILER_LEN)
        return wc_error(WC_CORRUPTION, "block of %zu bytes is shorter than its trailer", n);
    *plen = n - WC_SST_TRAILER_LEN;
    *type = stored[*plen];
    *ulen = wc_dec_u32(stored + *plen + 1);
    sum = wc_dec_u32(stored + *plen + 5);
    if (!atomic_load_explicit(&wc__block_ignore_checksums, memory_order_relaxed) &&
        block_checksum(stored, *plen + 5) != sum)
        return wc_error(WC_CORRUPTION, "block checksum mismatch");
    if (*ulen > max_len)
        return wc_error(WC_CORRUPTION, "block claims %u uncompressed bytes, more than %zu", *ulen,
                        max_len);
    if (*type == WC_SST_BLOCK_RAW) {
        if (*ulen != *plen)
            return wc_error(WC_CORRUPTION, "raw block length %u does not match its size %zu",
                            *ulen, *plen);
    } else if (*type == WC_SST_BLOCK_LZ4) {
        if (*plen == 0 || *plen > (size_t)INT_MAX || *ulen > (size_t)INT_MAX ||
            (uint64_t)*ulen > (uint64_t)*plen * WC_SST_LZ4_MAX_RATIO)
            return wc_error(WC_CORRUPTION, "implausible lz4 block lengths (%zu -> %u)", *plen,
                            *ulen);
    } else {
        return wc_error(WC_CORRUPTION, "unknown block type %u", *type);
    }
    return WC_OK;
}

/* Decode a stored block that check_stored accepted into spare or a new block. */
static wc_status decode_stored(const uint8_t *stored, uint8_t type, uint32_t ulen, size_t plen,
                               bool parse_restarts, wc_block *spare, wc_block **out)
{
    wc_block *b = NULL;
    wc_status st;

    if (spare != NULL && spare->cap >= ulen) {
        b = spare; /* decoded in place of what it held */
        spare = NULL;
    } else {
        b = wc_malloc(sizeof(*b) + (size_t)ulen);
        if (b == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory loading a block of %u bytes", ulen);
            goto fail;
        }
        b->cap = ulen;
    }
    atomic_init(&b->refs, 1);
    b->len = ulen;
    b->restarts_off = 0;
    b->nrestarts = 0;
    if (type == WC_SST_BLOCK_RAW) {
        if (ulen)
            memcpy(b->data, stored, ulen);
    } else {
        int r = LZ4_decompress_safe((const char *)stored, (char *)b->data, (int)plen, (int)ulen);

        if (r < 0 || (uint32_t)r != ulen) {
            st = wc_error(WC_CORRUPTION, "bad lz4 stream (%d of %u bytes)", r, ulen);
            goto fail;
        }
    }
    if (parse_restarts && !wc_block_check_restarts(b->data, b->len, &b->restarts_off,
                                                   &b->nrestarts)) {
        st = wc_error(WC_CORRUPTION, "bad restart array");
        goto fail;
    }
    wc_free(spare);
    *out = b;
    return WC_OK;

fail:
    wc_free(b);
    wc_free(spare);
    return st;
}

wc_status wc_block_load_reuse(const uint8_t *stored, size_t n, size_t max_len,
                              bool parse_restarts, wc_block *spare, wc_block **out)
{
    size_t plen;
    uint8_t type;
    uint32_t ulen;
    wc_status st;

    *out = NULL;
    st = check_stored(stored, n, max_len, &type, &ulen, &plen);
    if (st != WC_OK) {
        wc_free(spare);
        return st;
    }
    return decode_stored(stored, type, ulen, plen, parse_restarts, spare, out);
}

wc_status wc_block_view(const uint8_t *stored, size_t n, size_t max_len, const uint8_t **contents,
                        size_t *len, wc_block **out)
{
    size_t plen;
    uint8_t type;
    uint32_t ulen;
    wc_status st;

    *contents = NULL;
    *len = 0;
    *out = NULL;
    st = check_stored(stored, n, max_len, &type, &ulen, &plen);
    if (st == WC_OK && type == WC_SST_BLOCK_RAW) {
        *contents = stored;
        *len = plen;
    } else if (st == WC_OK && (st = decode_stored(stored, type, ulen, plen, false, NULL, out)) ==
                                  WC_OK) {
        *contents = (*out)->data;
        *len = (*out)->len;
    }
    return st;
}

void wc_block_unref(wc_block *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        wc_free(b);
}

/* ----------------------------------------------------------------- iterator */

void wc_block_iter_init(wc_block_iter *bi)
{
    memset(bi, 0, sizeof(*bi));
    wc_buf_init(&bi->key);
    wc_buf_init(&bi->prev_keys);
    bi->st = WC_OK;
}

void wc_block_iter_free(wc_block_iter *bi)
{
    wc_buf_free(&bi->key);
    wc_buf_free(&bi->prev_keys);
    wc_free(bi->prev_ents);
    bi->prev_ents = NULL;
    bi->prev_cap = bi->prev_n = 0;
}

void wc_block_iter_set_raw(wc_block_iter *bi, const uint8_t *data, size_t restarts_off,
                           uint32_t nrestarts)
{
    bi->data = data;
    bi->restarts_off = restarts_off;
    bi->nrestarts = nrestarts;
    bi->cur = bi->next = restarts_off;
    bi->key.len = 0;
    bi->val = NULL;
    bi->vlen = 0;
    bi->st = WC_OK;
    bi->prev_n = bi->prev_pos = 0;
}

void wc_block_iter_set(wc_block_iter *bi, const wc_block *b)
{
    wc_block_iter_set_raw(bi, b->data, b->restarts_off, b->nrestarts);
}

static inline size_t restart_at(const wc_block_iter *bi, uint32_t i)
{
    return wc_dec_u32(bi->data + bi->restarts_off + (size_t)i * 4);
}

/* Decode the three lengths of the entry at p; NULL if malformed. */
static inline const uint8_t *decode_entry(const uint8_t *p, const uint8_t *limit,
                                          uint64_t *shared, uint64_t *unshared, uint64_t *vlen)
{
    if (limit - p >= 3 && ((p[0] | p[1] | p[2]) & 0x80) == 0) {
        *shared = p[0];
        *unshared = p[1];
        *vlen = p[2];
        p += 3;
    } else if (!wc_get_varint(&p, limit, shared) || !wc_get_varint(&p, limit, unshared) ||
               !wc_get_varint(&p, limit, vlen)) {
        return NULL;
    }
    if (*unshared > (uint64_t)(limit - p) || *vlen > (uint64_t)(limit - p) - *unshared)
        return NULL;
    return p;
}

static void set_corrupt(wc_block_iter *bi)
{
    bi->st = WC_CORRUPTION;
    bi->cur = bi->next = bi->restarts_off;
    bi->key.len = 0;
    wc_error(WC_CORRUPTION, "malformed block entry");
}

/* Parse the entry at bi->next into the current position (key buf holds the previous key). */
static inline bool parse_next(wc_block_iter *bi)
{
    const uint8_t *limit = bi->data + bi->restarts_off;
    const uint8_t *p;
    uint64_t shared, unshared, vlen;
    size_t off = bi->next;

    if (off >= bi->restarts_off) {
        bi->cur = bi->next = bi->restarts_off;
        return false;
    }
    p = decode_entry(bi->data + off, limit, &shared, &unshared, &vlen);
    if (p == NULL || shared > bi->key.len) {
        set_corrupt(bi);
        return false;
    }
    bi->key.len = (size_t)shared;
    if (unshared) {
        if (bi->key.cap - bi->key.len < unshared && !wc_buf_reserve(&bi->key, (size_t)unshared)) {
            bi->st = wc_error(WC_NO_MEMORY, "out of memory decoding a block");
            bi->cur = bi->next = bi->restarts_off;
            return false;
        }
        memcpy(bi->key.data + bi->key.len, p, (size_t)unshared);
        bi->key.len += (size_t)unshared;
    }
    bi->val = p + unshared;
    bi->vlen = (size_t)vlen;
    bi->cur = off;
    bi->next = (size_t)(bi->val + vlen - bi->data);
    return true;
}

/* Key of the restart entry i, pointing into the block; false if malformed. */
static inline bool restart_key(wc_block_iter *bi, uint32_t i, const uint8_t **k, size_t *klen)
{
    const uint8_t *limit = bi->data + bi->restarts_off;
    uint64_t shared, unshared, vlen;
    const uint8_t *p = decode_entry(bi->data + restart_at(bi, i), limit, &shared, &unshared, &vlen);

    if (p == NULL || shared != 0) {
        set_corrupt(bi);
        return false;
    }
    *k = p;
    *klen = (size_t)unshared;
    return true;
}

static inline void seek_to_restart(wc_block_iter *bi, uint32_t i)
{
    bi->key.len = 0;
    bi->next = restart_at(bi, i);
}

void wc_block_iter_seek_first(wc_block_iter *bi)
{
    if (bi->st != WC_OK)
        return;
    if (bi->nrestarts == 0) {
        bi->cur = bi->next = bi->restarts_off;
        return;
    }
    seek_to_restart(bi, 0);
    parse_next(bi);
}

void wc_block_iter_seek_last(wc_block_iter *bi)
{
    if (bi->st != WC_OK)
        return;
    if (bi->nrestarts == 0) {
        bi->cur = bi->next = bi->restarts_off;
        return;
    }
    seek_to_restart(bi, bi->nrestarts - 1);
    while (parse_next(bi) && bi->next < bi->restarts_off)
        ;
}

void wc_block_iter_seek(wc_block_iter *bi, const uint8_t *target, size_t tlen)
{
    uint32_t lo = 0, hi;

    if (bi->st != WC_OK)
        return;
    if (bi->nrestarts == 0) {
        bi->cur = bi->next = bi->restarts_off;
        return;
    }
    /* last restart whose key is < target (or the first one) */
    hi = bi->nrestarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        const uint8_t *k;
        size_t klen;

        if (!restart_key(bi, mid, &k, &klen))
            return;
        if (wc_bytes_cmp(k, klen, target, tlen) < 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    seek_to_restart(bi, lo);
    while (parse_next(bi)) {
        if (wc_bytes_cmp(bi->key.data, bi->key.len, target, tlen) >= 0)
            return;
    }
}

void wc_block_iter_seek_for_prev(wc_block_iter *bi, const uint8_t *target, size_t tlen)
{
    wc_block_iter_seek(bi, target, tlen);
    if (bi->st != WC_OK)
        return;
    if (!wc_block_iter_valid(bi)) {
        wc_block_iter_seek_last(bi);
        return;
    }
    if (wc_bytes_cmp(bi->key.data, bi->key.len, target, tlen) > 0)
        wc_block_iter_prev(bi);
}

void wc_block_iter_next(wc_block_iter *bi)
{
    parse_next(bi);
}

/* Restore the cached entry j of prev_ents as the current position. */
static void use_prev_ent(wc_block_iter *bi, size_t j)
{
    const wc_block_prev_ent *e = &bi->prev_ents[j];

    bi->key.len = 0;
    wc_buf_append(&bi->key, bi->prev_keys.data + e->key_off, e->key_len);
    if (bi->key.failed) {
        bi->st = wc_error(WC_NO_MEMORY, "out of memory decoding a block");
        bi->cur = bi->next = bi->restarts_off;
        return;
    }
    bi->cur = e->off;
    bi->next = e->next;
    bi->val = bi->data + e->val_off;
    bi->vlen = e->vlen;
    bi->prev_pos = j;
}

void wc_block_iter_prev(wc_block_iter *bi)
{
    size_t cur = bi->cur;
    uint32_t lo, hi;

    if (bi->st != WC_OK || cur >= bi->restarts_off)
        return;
    /* fast path: the current entry is in the decoded interval */
    if (bi->prev_n) {
        size_t p = bi->prev_pos;

        if (p < bi->prev_n && bi->prev_ents[p].off == cur) {
            if (p > 0) {
                use_prev_ent(bi, p - 1);
                return;
            }
        } else if (p + 1 < bi->prev_n && bi->prev_ents[p + 1].off == cur) {
            use_prev_ent(bi, p);
            return;
        }
    }
    if (cur == 0) {
        /* first entry: move before the beginning */
        bi->cur = bi->next = bi->restarts_off;
        return;
    }
    /* last restart point strictly before cur */
    lo = 0;
    hi = bi->nrestarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;

        if (restart_at(bi, mid) < cur)
            lo = mid;
        else
            hi = mid - 1;
    }
    /* decode that interval up to cur, remembering every entry */
    seek_to_restart(bi, lo);
    bi->prev_n = 0;
    bi->prev_keys.len = 0;
    bi->prev_keys.failed = 0;
    for (;;) {
        wc_block_prev_ent *e;

        if (!parse_next(bi))
            return; /* corrupt or ran off the end: cur was not an entry boundary */
        if (bi->prev_n == bi->prev_cap) {
            size_t ncap = bi->prev_cap ? bi->prev_cap * 2 : 32;
            wc_block_prev_ent *ne = wc_realloc(bi->prev_ents, ncap * sizeof(*ne));

            if (ne == NULL) {
                bi->st = wc_error(WC_NO_MEMORY, "out of memory decoding a block");
                bi->cur = bi->next = bi->restarts_off;
                bi->prev_n = 0;
                return;
            }
            bi->prev_ents = ne;
            bi->prev_cap = ncap;
        }
        e = &bi->prev_ents[bi->prev_n++];
        e->off = bi->cur;
        e->next = bi->next;
        e->key_off = bi->prev_keys.len;
        e->key_len = bi->key.len;
        e->val_off = (size_t)(bi->val - bi->data);
        e->vlen = bi->vlen;
        wc_buf_append(&bi->prev_keys, bi->key.data, bi->key.len);
        if (bi->prev_keys.failed) {
            bi->st = wc_error(WC_NO_MEMORY, "out of memory decoding a block");
            bi->cur = bi->next = bi->restarts_off;
            bi->prev_n = 0;
            return;
        }
        if (bi->next == cur)
            break;
        if (bi->next > cur) {
            bi->prev_n = 0;
            set_corrupt(bi);
            return;
        }
    }
    bi->prev_pos = bi->prev_n - 1;
}
