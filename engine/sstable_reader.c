/*
 * sstable_reader.c - opens, verifies and iterates SSTable files (sstable.h;
 * layout in sstable_format.h and docs/file-formats.md).
 *
 * Open reads the footer, checks its magic, checksum, version and the layout
 * of the metadata blocks, then loads the filter, the statistics and the index
 * into memory.  The index is decoded into a flat array of (last key, offset,
 * stored size) searched by binary search.  Data blocks are fetched on demand
 * through the shared block cache (cache.h) and verified (checksum, lengths,
 * restart array) before use.  The table is immutable after open; it is
 * reference-counted with atomics, and any number of threads may iterate it
 * (pread is safe concurrently).  An iterator belongs to one thread and keeps a
 * reference on the block it is positioned in; its failures are sticky.
 */
#include "sstable.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "block.h"
#include "bloom.h"
#include "cache.h"
#include "coding.h"
#include "keys.h"
#include "row.h"
#include "sstable_format.h"

/* largest stored size of a data block: LZ4's bound on WC_SST_MAX_BLOCK_LEN + trailer */
#define WC__MAX_STORED_BLOCK                                                                      \
    ((uint64_t)WC_SST_MAX_BLOCK_LEN + WC_SST_MAX_BLOCK_LEN / 255 + 16 + WC_SST_TRAILER_LEN)

/* Blocks per sample of the index (wc_sstable.sample). */
#define WC__SAMPLE 16u

/* One entry of the index block, decoded in place. */
typedef struct wc__sst_ient {
    const uint8_t *key; /* the block's last key */
    size_t klen;
    uint64_t off;
    uint32_t size; /* stored size */
    size_t next;   /* offset of the next entry in the index contents */
} wc__sst_ient;

struct wc_sstable {
    _Atomic uint32_t refs;
    _Atomic int obsolete;
    wc_fs *fs;
    wc_file *file;
    char *path;
    wc_block_cache *cache;
    uint64_t file_id;
    uint64_t file_size;
    uint64_t data_end; /* end of the data blocks: the filter block's offset */
    uint32_t nblocks;
    /*
     * The index block's contents, searched where they are: in the file's
     * view (wc_fs.view) when its file system has one and the block is
     * stored raw, as the writer stores it, so that a process opening the
     * file copies and parses nothing per block; else in index_blk.  Its
     * restart interval is 1: entry i starts at restart i.
     */
    const uint8_t *index;
    uint64_t index_off; /* the block's offset in the file */
    size_t index_roff;  /* start of its restart array */
    wc_block *index_blk;
    uint64_t *sample; /* sample[j]: index_key_prefix of the last key of block j * WC__SAMPLE */
    uint32_t nsamples;
    const uint8_t *filter; /* filter contents: in the file's view or in filter_blk */
    size_t filter_len;
    wc_block *filter_blk;
    wc_sstable_stats stats;
};

typedef struct wc__sst_iter {
    wc_iter base;
    wc_sstable *t;
    wc_read_counters *counters;
    wc_block *blk; /* block positioned in (one reference), or NULL */
    uint32_t bidx; /* its index */
    wc_block_iter bi;
    wc_buf scratch; /* stored bytes of the block being read */
    wc_status st;
} wc__sst_iter;

/* ------------------------------------------------------------------ helpers */

/* Re-record the calling thread's detail with a prefix naming the file and offset. */
static wc_status sst_error(wc_status st, const wc_sstable *t, const char *what, uint64_t off)
{
    char detail[384];

    snprintf(detail, sizeof(detail), "%s", wc_last_error());
    return wc_error(st, "sstable \"%s\": %s at offset %llu: %s", t->path, what,
                    (unsigned long long)off, detail);
}

/* Read exactly n stored bytes at off into scratch. */
static wc_status read_stored(const wc_sstable *t, uint64_t off, size_t n, wc_buf *scratch)
{
    size_t got;
    wc_status st;

    wc_buf_reset(scratch);
    if (!wc_buf_reserve(scratch, n))
        return wc_error(WC_NO_MEMORY, "out of memory reading %zu bytes", n);
    st = t->fs->pread(t->file, scratch->data, n, off, &got);
    if (st != WC_OK)
        return st;
    if (got != n)
        return wc_error(WC_CORRUPTION, "file truncated: read %zu of %zu bytes", got, n);
    scratch->len = n;
    return WC_OK;
}

/* The n stored bytes at off: in the file's view if it has one, else read into scratch. */
static wc_status stored_bytes(const wc_sstable *t, uint64_t off, size_t n, wc_buf *scratch,
                              const uint8_t **out)
{
    const uint8_t *v = t->fs->view != NULL ? t->fs->view(t->file, off, n) : NULL;
    wc_status st;

    if (v != NULL) {
        *out = v;
        return WC_OK;
    }
    st = read_stored(t, off, n, scratch);
    *out = scratch->data;
    return st;
}

/*
 * Index entry i (< nblocks) of t, decoded in place.  False when it is
 * malformed: every entry was checked at open (check_index) unless another
 * process did that (WC_SST_OPEN_CHECKED_INDEX), so only a file changed
 * under a view since, or one that process did not check, can fail here.
 */
static bool index_entry(const wc_sstable *t, uint32_t i, wc__sst_ient *e)
{
    const uint8_t *base = t->index, *end = t->index + t->index_roff;
    const uint8_t *p = base + wc_dec_u32(end + (size_t)i * 4), *vend;
    uint64_t shared, klen, vlen, off, size;

    if (p >= end || !wc_get_varint(&p, end, &shared) || shared != 0 ||
        !wc_get_varint(&p, end, &klen) || !wc_get_varint(&p, end, &vlen) || klen == 0 ||
        klen > (uint64_t)(end - p) || vlen > (uint64_t)(end - p) - klen)
        return false;
    e->key = p;
    e->klen = (size_t)klen;
    p += klen;
    vend = p + vlen;
    if (!wc_get_varint(&p, vend, &off) || !wc_get_varint(&p, vend, &size) || p != vend ||
        size < WC_SST_TRAILER_LEN || size > WC__MAX_STORED_BLOCK || off > t->data_end ||
        size > t->data_end - off)
        return false;
    e->off = off;
    e->size = (uint32_t)size;
    e->next = (size_t)(vend - base);
    return true;
}

/* The offset of block idx for an error's detail (0 if its entry does not decode). */
static uint64_t block_off(const wc_sstable *t, uint32_t idx)
{
    wc__sst_ient e;

    return idx < t->nblocks && index_entry(t, idx, &e) ? e.off : 0;
}

static wc_status bad_entry(const wc_sstable *t, uint32_t idx)
{
    wc_error(WC_CORRUPTION, "malformed index entry %u", idx);
    return sst_error(WC_CORRUPTION, t, "index block", t->index_off);
}

/*
 * Fetch data block idx (through the cache) with one reference for the caller.
 * Counts into counters.  Detail names the file and offset on failure.
 */
static wc_status get_data_block(wc_sstable *t, uint32_t idx, wc_read_counters *counters,
                                wc_buf *scratch, bool use_cache, wc_block **out)
{
    wc__sst_ient ent, *e = &ent;
    const uint8_t *stored;
    wc_block *b, *spare;
    wc_status st;

    *out = NULL;
    if (!index_entry(t, idx, e))
        return bad_entry(t, idx);
    if (use_cache && t->cache) {
        b = wc__cache_lookup(t->cache, t->file_id, e->off);
        if (b) {
            if (counters) {
                counters->blocks_read++;
                counters->cache_hits++;
            }
            *out = b;
            return WC_OK;
        }
    }
    st = stored_bytes(t, e->off, e->size, scratch, &stored);
    if (st != WC_OK)
        return sst_error(st, t, "data block", e->off);
    if (counters) {
        counters->blocks_read++;
        counters->bytes_read += e->size;
    }
    /* decode into a buffer the cache evicted, if it has one */
    spare = use_cache && t->cache ? wc__cache_take_spare(t->cache, t->file_id, e->off) : NULL;
    st = wc_block_load_reuse(stored, e->size, WC_SST_MAX_BLOCK_LEN, true, spare, &b);
    if (st != WC_OK)
        return sst_error(st, t, "data block", e->off);
    if (b->nrestarts == 0) {
        wc_block_unref(b);
        wc_error(WC_CORRUPTION, "empty data block");
        return sst_error(WC_CORRUPTION, t, "data block", e->off);
    }
    if (use_cache && t->cache)
        wc__cache_insert(t->cache, t->file_id, e->off, b);
    *out = b;
    return WC_OK;
}

/*
 * The first 8 bytes of a key as a big-endian integer, zero-padded: a smaller
 * prefix means a smaller key (wc_bytes_cmp), equal prefixes decide nothing.
 */
static inline uint64_t index_key_prefix(const uint8_t *k, size_t len)
{
    uint8_t b[8] = {0};
    uint64_t v = 0;

    memcpy(b, k, len < 8 ? len : 8);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

/*
 * First block whose last key is >= target into *out (nblocks if none);
 * false if an index entry is malformed (*out: that entry).  The samples, a small packed
 * array, narrow the search to the blocks whose prefix they cannot decide
 * (at most WC__SAMPLE - 1 unless many blocks share the target's prefix,
 * the blocks of one token); the rest runs on the index in place.
 */
static bool index_lower_bound(const wc_sstable *t, const uint8_t *target, size_t tlen,
                              uint32_t *out)
{
    uint64_t tp = index_key_prefix(target, tlen);
    uint32_t a = 0, b = t->nsamples, lo, hi;

    while (a < b) { /* first sample with a prefix >= tp */
        uint32_t mid = a + (b - a) / 2;

        if (t->sample[mid] < tp)
            a = mid + 1;
        else
            b = mid;
    }
    lo = a == 0 ? 0 : (a - 1) * WC__SAMPLE + 1; /* block (a - 1) * WC__SAMPLE < target */
    b = t->nsamples;
    while (a < b) { /* first sample with a prefix > tp */
        uint32_t mid = a + (b - a) / 2;

        if (t->sample[mid] <= tp)
            a = mid + 1;
        else
            b = mid;
    }
    hi = a == t->nsamples ? t->nblocks : a * WC__SAMPLE; /* block hi > target */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        wc__sst_ient e;

        if (!index_entry(t, mid, &e)) {
            *out = mid;
            return false;
        }
        if (wc_bytes_cmp(e.key, e.klen, target, tlen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *out = lo;
    return true;
}

/* ---------------------------------------------------------------- open/close */

static void stats_free(wc_sstable_stats *s)
{
    wc_free(s->min_ck);
    wc_free(s->max_ck);
    wc_free(s->first_key);
    wc_free(s->last_key);
}

static void sstable_destroy(wc_sstable *t)
{
    if (t->file)
        t->fs->close(t->file);
    if (atomic_load(&t->obsolete)) {
        t->fs->unlink(t->fs, t->path);
        if (t->cache)
            wc__cache_erase_file(t->cache, t->file_id);
    }
    wc_block_unref(t->filter_blk);
    wc_block_unref(t->index_blk);
    wc_free(t->sample);
    stats_free(&t->stats);
    wc_free(t->path);
    wc_free(t);
}

/*
 * One metadata block's contents (bounds already checked against the file):
 * in the file's view when it has one and the block is raw, else decoded
 * into *blk (one reference; NULL when in place).
 */
static wc_status view_meta(wc_sstable *t, const char *what, uint64_t off, uint64_t size,
                           wc_buf *scratch, const uint8_t **contents, size_t *len, wc_block **blk)
{
    const uint8_t *v = t->fs->view != NULL ? t->fs->view(t->file, off, (size_t)size) : NULL;
    wc_status st;

    *blk = NULL;
    if (v != NULL) {
        st = wc_block_view(v, (size_t)size, WC_SST_MAX_META_LEN, contents, len, blk);
    } else {
        st = read_stored(t, off, (size_t)size, scratch);
        if (st == WC_OK)
            st = wc_block_load(scratch->data, (size_t)size, WC_SST_MAX_META_LEN, false, blk);
        if (st == WC_OK) {
            *contents = (*blk)->data;
            *len = (*blk)->len;
        }
    }
    if (st != WC_OK)
        return sst_error(st, t, what, off);
    return WC_OK;
}

/* Copy a varint-length byte string out of a block: WC_OK, WC_CORRUPTION or WC_NO_MEMORY. */
static wc_status get_copy(const uint8_t **p, const uint8_t *end, uint8_t **out, size_t *len)
{
    const uint8_t *b;

    if (!wc_get_bytes(p, end, &b, len))
        return WC_CORRUPTION;
    *out = NULL;
    if (*len == 0)
        return WC_OK;
    *out = wc_memdup(b, *len);
    return *out ? WC_OK : WC_NO_MEMORY;
}

static wc_status parse_stats(wc_sstable *t, const uint8_t *data, size_t len, uint64_t off)
{
    const uint8_t *p = data, *end = data + len;
    wc_sstable_stats *s = &t->stats;
    uint8_t version, has_ck;
    uint64_t u;
    uint32_t v32;
    wc_status st;

    if (!wc_get_u8(&p, end, &version) || version < WC_SST_STATS_VERSION_MIN ||
        version > WC_SST_STATS_VERSION)
        goto corrupt;
    if (!wc_get_varint(&p, end, &s->partitions) || !wc_get_varint(&p, end, &s->rows) ||
        !wc_get_varint(&p, end, &s->cells) || !wc_get_varint(&p, end, &s->tombstones))
        goto corrupt;
    if (!wc_get_u64(&p, end, &u))
        goto corrupt;
    s->min_timestamp = (int64_t)u;
    if (!wc_get_u64(&p, end, &u))
        goto corrupt;
    s->max_timestamp = (int64_t)u;
    if (!wc_get_u32(&p, end, &v32))
        goto corrupt;
    s->min_ldt = v32;
    if (!wc_get_u32(&p, end, &v32))
        goto corrupt;
    s->max_ldt = v32;
    if (!wc_get_u64(&p, end, &u))
        goto corrupt;
    s->min_token = (int64_t)u;
    if (!wc_get_u64(&p, end, &u))
        goto corrupt;
    s->max_token = (int64_t)u;
    if (!wc_get_varint(&p, end, &s->data_bytes) ||
        !wc_get_varint(&p, end, &s->uncompressed_bytes) || !wc_get_varint(&p, end, &s->blocks) ||
        !wc_get_u8(&p, end, &has_ck) || has_ck > 1)
        goto corrupt;
    s->has_ck = has_ck != 0;
    if ((st = get_copy(&p, end, &s->min_ck, &s->min_ck_len)) != WC_OK ||
        (st = get_copy(&p, end, &s->max_ck, &s->max_ck_len)) != WC_OK ||
        (st = get_copy(&p, end, &s->first_key, &s->first_key_len)) != WC_OK ||
        (st = get_copy(&p, end, &s->last_key, &s->last_key_len)) != WC_OK) {
        if (st == WC_NO_MEMORY)
            return wc_error(WC_NO_MEMORY, "out of memory loading the statistics of \"%s\"",
                            t->path);
        goto corrupt;
    }
    if (!s->has_ck && (s->min_ck_len > 0 || s->max_ck_len > 0))
        goto corrupt;
    if (!wc_get_varint(&p, end, &s->headers) || !wc_get_varint(&p, end, &s->statics) ||
        s->headers > s->partitions || s->statics > s->rows)
        goto corrupt;
    s->tomb_hist_n = 0;
    if (version >= 2) {
        uint64_t n, total = 0;
        if (!wc_get_varint(&p, end, &n) || n > WC_SST_TOMB_HIST_BINS)
            goto corrupt;
        for (uint64_t i = 0; i < n; i++) {
            if (!wc_get_u32(&p, end, &s->tomb_hist_ldt[i]) ||
                !wc_get_varint(&p, end, &s->tomb_hist_count[i]) || s->tomb_hist_count[i] == 0 ||
                (i > 0 && s->tomb_hist_ldt[i] <= s->tomb_hist_ldt[i - 1]))
                goto corrupt;
            total += s->tomb_hist_count[i];
        }
        if (total != s->tombstones)
            goto corrupt;
        s->tomb_hist_n = (uint32_t)n;
    }
    if (p != end)
        goto corrupt;
    s->file_bytes = t->file_size;
    return WC_OK;

corrupt:
    wc_error(WC_CORRUPTION, "malformed statistics block");
    return sst_error(WC_CORRUPTION, t, "stats block", off);
}

/*
 * Check the whole index block (t->index, len bytes) once, where it is, and
 * sample it: every entry well formed and a restart point, the handles
 * contiguous from offset 0 to the end of the data blocks, the keys strictly
 * ascending.  Nothing is copied.  With checked (WC_SST_OPEN_CHECKED_INDEX)
 * only the restart array and the sampled entries are looked at.
 */
static wc_status check_index(wc_sstable *t, size_t len, uint64_t off, bool checked)
{
    uint32_t n;
    uint64_t expect = 0;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    const char *why = NULL;

    if (!wc_block_check_restarts(t->index, len, &t->index_roff, &n)) {
        why = "bad restart array";
        goto corrupt;
    }
    t->nblocks = n;
    t->nsamples = (n + WC__SAMPLE - 1) / WC__SAMPLE;
    t->sample = wc_malloc((t->nsamples ? t->nsamples : 1) * sizeof(*t->sample));
    if (t->sample == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory loading the index of \"%s\"", t->path);
    for (uint32_t j = 0; checked && j < t->nsamples; j++) {
        wc__sst_ient e;

        if (!index_entry(t, j * WC__SAMPLE, &e)) {
            why = "malformed index entry";
            goto corrupt;
        }
        t->sample[j] = index_key_prefix(e.key, e.klen);
    }
    for (uint32_t i = 0; !checked && i < n; i++) {
        wc__sst_ient e;
        size_t end = i + 1 < n ? wc_dec_u32(t->index + t->index_roff + (size_t)(i + 1) * 4)
                               : t->index_roff;

        if (!index_entry(t, i, &e) || e.next != end) {
            why = "malformed index entry";
            goto corrupt;
        }
        if (e.off != expect) {
            why = "index entry points outside the data blocks";
            goto corrupt;
        }
        if (prev != NULL && wc_bytes_cmp(prev, prev_len, e.key, e.klen) >= 0) {
            why = "index keys out of order";
            goto corrupt;
        }
        if (i % WC__SAMPLE == 0)
            t->sample[i / WC__SAMPLE] = index_key_prefix(e.key, e.klen);
        prev = e.key;
        prev_len = e.klen;
        expect = e.off + e.size;
    }
    if (!checked && expect != t->data_end) {
        why = "index does not cover the data blocks";
        goto corrupt;
    }
    return WC_OK;

corrupt:
    t->nblocks = 0;
    wc_error(WC_CORRUPTION, "%s", why);
    return sst_error(WC_CORRUPTION, t, "index block", off);
}

wc_status wc_sstable_open(wc_fs *fs, const char *path, wc_block_cache *cache, uint64_t file_id,
                          wc_sstable **out)
{
    return wc_sstable_open_flags(fs, path, cache, file_id, 0, out);
}

wc_status wc_sstable_open_flags(wc_fs *fs, const char *path, wc_block_cache *cache,
                                uint64_t file_id, unsigned flags, wc_sstable **out)
{
    wc_sstable *t;
    uint8_t footer[WC_SST_FOOTER_LEN];
    uint64_t filter_off, filter_size, stats_off, stats_size, index_off, index_size, body;
    wc_block *meta = NULL;
    wc__sst_ient last;
    const uint8_t *contents;
    wc_buf scratch;
    size_t got, len;
    wc_status st;

    *out = NULL;
    wc_buf_init(&scratch);
    t = wc_calloc(1, sizeof(*t));
    if (t == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening \"%s\"", path);
    atomic_init(&t->refs, 1);
    atomic_init(&t->obsolete, 0);
    t->fs = fs;
    t->cache = cache;
    t->file_id = file_id;
    t->path = wc_strdup(path);
    if (t->path == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory opening \"%s\"", path);
        goto fail;
    }
    st = fs->open(fs, path, WC_O_READ, &t->file);
    if (st != WC_OK)
        goto fail;
    st = fs->size(t->file, &t->file_size);
    if (st != WC_OK)
        goto fail;
    if (t->file_size < WC_SST_FOOTER_LEN) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": %llu bytes is too short for a footer", path,
                      (unsigned long long)t->file_size);
        goto fail;
    }

    /* footer */
    body = t->file_size - WC_SST_FOOTER_LEN;
    st = fs->pread(t->file, footer, sizeof(footer), body, &got);
    if (st != WC_OK)
        goto fail;
    if (got != sizeof(footer)) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": short footer read", path);
        goto fail;
    }
    if (wc_dec_u64(footer + 56) != WC_SST_MAGIC) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": bad magic number (not an sstable?)", path);
        goto fail;
    }
    if (!atomic_load_explicit(&wc__block_ignore_checksums, memory_order_relaxed) &&
        wc_dec_u32(footer + 52) != (uint32_t)XXH3_64bits(footer, WC_SST_FOOTER_CHECKED_LEN)) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": footer checksum mismatch", path);
        goto fail;
    }
    if (wc_dec_u32(footer + 48) != WC_SST_FORMAT_VERSION) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": unsupported format version %u", path,
                      wc_dec_u32(footer + 48));
        goto fail;
    }
    filter_off = wc_dec_u64(footer + 0);
    filter_size = wc_dec_u64(footer + 8);
    stats_off = wc_dec_u64(footer + 16);
    stats_size = wc_dec_u64(footer + 24);
    index_off = wc_dec_u64(footer + 32);
    index_size = wc_dec_u64(footer + 40);
    /* layout: data | filter | stats | index | footer, each size within the file */
    if (filter_size < WC_SST_TRAILER_LEN || stats_size < WC_SST_TRAILER_LEN ||
        index_size < WC_SST_TRAILER_LEN || filter_size > body || stats_size > body ||
        index_size > body || index_off > body || index_off + index_size != body ||
        stats_off > index_off || stats_off + stats_size != index_off || filter_off > stats_off ||
        filter_off + filter_size != stats_off ||
        filter_size > WC_SST_MAX_META_LEN + (uint64_t)WC_SST_TRAILER_LEN ||
        stats_size > WC_SST_MAX_META_LEN + (uint64_t)WC_SST_TRAILER_LEN ||
        index_size > WC_SST_MAX_META_LEN + (uint64_t)WC_SST_TRAILER_LEN) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": footer block handles are inconsistent", path);
        goto fail;
    }

    t->data_end = filter_off;

    /* filter */
    st = view_meta(t, "filter block", filter_off, filter_size, &scratch, &t->filter,
                   &t->filter_len, &t->filter_blk);
    if (st != WC_OK)
        goto fail;
    if (!wc_bloom_check(t->filter, t->filter_len)) {
        wc_error(WC_CORRUPTION, "malformed bloom filter");
        st = sst_error(WC_CORRUPTION, t, "filter block", filter_off);
        goto fail;
    }

    /* statistics */
    st = view_meta(t, "stats block", stats_off, stats_size, &scratch, &contents, &len, &meta);
    if (st != WC_OK)
        goto fail;
    st = parse_stats(t, contents, len, stats_off);
    wc_block_unref(meta);
    meta = NULL;
    if (st != WC_OK)
        goto fail;

    /* index */
    st = view_meta(t, "index block", index_off, index_size, &scratch, &t->index, &len,
                   &t->index_blk);
    if (st != WC_OK)
        goto fail;
    t->index_off = index_off;
    st = check_index(t, len, index_off, (flags & WC_SST_OPEN_CHECKED_INDEX) != 0);
    if (st != WC_OK)
        goto fail;
    if (t->nblocks != t->stats.blocks || filter_off != t->stats.data_bytes ||
        (t->nblocks == 0) != (t->stats.last_key_len == 0) ||
        (t->nblocks > 0 &&
         (!index_entry(t, t->nblocks - 1, &last) ||
          wc_bytes_cmp(last.key, last.klen, t->stats.last_key, t->stats.last_key_len) != 0))) {
        st = wc_error(WC_CORRUPTION, "sstable \"%s\": statistics disagree with the index", path);
        goto fail;
    }
    wc_buf_free(&scratch);
    *out = t;
    return WC_OK;

fail:
    wc_buf_free(&scratch);
    wc_block_unref(meta);
    sstable_destroy(t);
    return st;
}

void wc_sstable_ref(wc_sstable *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void wc_sstable_unref(wc_sstable *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        sstable_destroy(t);
}

void wc_sstable_mark_obsolete(wc_sstable *t)
{
    atomic_store(&t->obsolete, 1);
}

const wc_sstable_stats *wc_sstable_get_stats(const wc_sstable *t)
{
    return &t->stats;
}

uint64_t wc_sstable_file_id(const wc_sstable *t)
{
    return t->file_id;
}

const char *wc_sstable_path(const wc_sstable *t)
{
    return t->path;
}

bool wc_sstable_may_contain(const wc_sstable *t, const uint8_t *prefix, size_t len)
{
    return wc_bloom_may_contain(t->filter, t->filter_len, prefix, len);
}

/* ----------------------------------------------------------------- iterator */

static void it_release(wc__sst_iter *it)
{
    wc_block_unref(it->blk);
    it->blk = NULL;
}

static void it_fail(wc__sst_iter *it, wc_status st)
{
    it->st = st;
    it_release(it);
}

/* Position the block iterator on block idx (reusing the current block if it is the same). */
static bool it_load(wc__sst_iter *it, uint32_t idx)
{
    wc_block *b;
    wc_status st;

    if (it->blk && it->bidx == idx) {
        wc_block_iter_set(&it->bi, it->blk);
        return true;
    }
    it_release(it);
    st = get_data_block(it->t, idx, it->counters, &it->scratch, true, &b);
    if (st != WC_OK) {
        it_fail(it, st);
        return false;
    }
    it->blk = b;
    it->bidx = idx;
    wc_block_iter_set(&it->bi, b);
    return true;
}

/* After a block-iterator move: record its failure, if any. */
static bool it_check(wc__sst_iter *it)
{
    if (it->bi.st == WC_OK)
        return true;
    if (it->bi.st == WC_CORRUPTION)
        sst_error(WC_CORRUPTION, it->t, "data block", block_off(it->t, it->bidx));
    it_fail(it, it->bi.st);
    return false;
}

static void it_skip_forward(wc__sst_iter *it)
{
    while (it->blk && !wc_block_iter_valid(&it->bi)) {
        if (!it_check(it))
            return;
        if (it->bidx + 1 >= it->t->nblocks) {
            it_release(it);
            return;
        }
        if (!it_load(it, it->bidx + 1))
            return;
        wc_block_iter_seek_first(&it->bi);
    }
    it_check(it);
}

static void it_skip_backward(wc__sst_iter *it)
{
    while (it->blk && !wc_block_iter_valid(&it->bi)) {
        if (!it_check(it))
            return;
        if (it->bidx == 0) {
            it_release(it);
            return;
        }
        if (!it_load(it, it->bidx - 1))
            return;
        wc_block_iter_seek_last(&it->bi);
    }
    it_check(it);
}

static bool it_valid(wc_iter *base)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    return it->st == WC_OK && it->blk != NULL && wc_block_iter_valid(&it->bi);
}

static void it_seek_first(wc_iter *base)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    if (it->st != WC_OK)
        return;
    if (it->t->nblocks == 0) {
        it_release(it);
        return;
    }
    if (!it_load(it, 0))
        return;
    wc_block_iter_seek_first(&it->bi);
    it_skip_forward(it);
}

static void it_seek_last(wc_iter *base)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    if (it->st != WC_OK)
        return;
    if (it->t->nblocks == 0) {
        it_release(it);
        return;
    }
    if (!it_load(it, it->t->nblocks - 1))
        return;
    wc_block_iter_seek_last(&it->bi);
    it_skip_backward(it);
}

static void it_seek(wc_iter *base, const uint8_t *target, size_t len)
{
    wc__sst_iter *it = (wc__sst_iter *)base;
    uint32_t idx;

    if (it->st != WC_OK)
        return;
    if (!index_lower_bound(it->t, target, len, &idx)) {
        it_fail(it, bad_entry(it->t, idx));
        return;
    }
    if (idx >= it->t->nblocks) {
        it_release(it);
        return;
    }
    if (!it_load(it, idx))
        return;
    wc_block_iter_seek(&it->bi, target, len);
    it_skip_forward(it);
}

static void it_seek_for_prev(wc_iter *base, const uint8_t *target, size_t len)
{
    wc__sst_iter *it = (wc__sst_iter *)base;
    uint32_t idx;

    if (it->st != WC_OK)
        return;
    if (!index_lower_bound(it->t, target, len, &idx)) {
        it_fail(it, bad_entry(it->t, idx));
        return;
    }
    if (idx >= it->t->nblocks) {
        it_seek_last(base);
        return;
    }
    if (!it_load(it, idx))
        return;
    wc_block_iter_seek_for_prev(&it->bi, target, len);
    it_skip_backward(it);
}

static void it_next(wc_iter *base)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    if (!it_valid(base))
        return;
    wc_block_iter_next(&it->bi);
    it_skip_forward(it);
}

static void it_prev(wc_iter *base)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    if (!it_valid(base))
        return;
    wc_block_iter_prev(&it->bi);
    it_skip_backward(it);
}

static const uint8_t *it_key(wc_iter *base, size_t *len)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    return wc_block_iter_key(&it->bi, len);
}

static const uint8_t *it_value(wc_iter *base, size_t *len)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    return wc_block_iter_value(&it->bi, len);
}

static wc_status it_status(wc_iter *base)
{
    return ((wc__sst_iter *)base)->st;
}

static void it_destroy(wc_iter *base)
{
    wc__sst_iter *it = (wc__sst_iter *)base;

    it_release(it);
    wc_block_iter_free(&it->bi);
    wc_buf_free(&it->scratch);
    wc_sstable_unref(it->t);
    wc_free(it);
}

static const wc_iter_ops wc__sst_iter_ops = {
    .valid = it_valid,
    .seek_first = it_seek_first,
    .seek_last = it_seek_last,
    .seek = it_seek,
    .seek_for_prev = it_seek_for_prev,
    .next = it_next,
    .prev = it_prev,
    .key = it_key,
    .value = it_value,
    .status = it_status,
    .destroy = it_destroy,
};

wc_iter *wc_sstable_iter(wc_sstable *t, wc_read_counters *counters)
{
    wc__sst_iter *it = wc_calloc(1, sizeof(*it));

    if (it == NULL)
        return NULL;
    it->base.ops = &wc__sst_iter_ops;
    it->t = t;
    it->counters = counters;
    it->st = WC_OK;
    wc_block_iter_init(&it->bi);
    wc_buf_init(&it->scratch);
    wc_sstable_ref(t);
    return &it->base;
}

/* ------------------------------------------------------------------- verify */

wc_status wc_sstable_verify(wc_sstable *t)
{
    wc_buf scratch, prev_key;
    wc_block_iter bi;
    wc_block *b = NULL;
    uint64_t partitions = 0, rows = 0;
    size_t prev_prefix = 0;
    wc_status st = WC_OK;
    uint64_t off = 0;
    const char *why = NULL;

    wc_buf_init(&scratch);
    wc_buf_init(&prev_key);
    wc_block_iter_init(&bi);
    for (uint32_t i = 0; i < t->nblocks; i++) {
        wc__sst_ient ent, *e = &ent;
        size_t klen = 0;

        if (!index_entry(t, i, e)) {
            st = bad_entry(t, i);
            goto fail;
        }
        off = e->off;
        st = get_data_block(t, i, NULL, &scratch, false, &b);
        if (st != WC_OK)
            goto fail;
        wc_block_iter_set(&bi, b);
        for (wc_block_iter_seek_first(&bi); wc_block_iter_valid(&bi); wc_block_iter_next(&bi)) {
            size_t vlen, prefix;
            const uint8_t *k = wc_block_iter_key(&bi, &klen);
            const uint8_t *v = wc_block_iter_value(&bi, &vlen);
            wc_key_parts kp;

            if (!wc_key_parse(k, klen, &kp) || kp.kind == WC_KIND_END) {
                why = "malformed key";
                goto corrupt;
            }
            if (prev_key.len && wc_bytes_cmp(prev_key.data, prev_key.len, k, klen) >= 0) {
                why = "keys out of order";
                goto corrupt;
            }
            if (prev_key.len == 0 && wc_bytes_cmp(k, klen, t->stats.first_key,
                                                  t->stats.first_key_len) != 0) {
                why = "first key differs from the statistics";
                goto corrupt;
            }
            if (kp.kind == WC_KIND_HEADER ? !wc_header_validate(v, vlen)
                                          : !wc_row_validate(v, vlen)) {
                why = "malformed value";
                goto corrupt;
            }
            prefix = WC_KEY_PREFIX_LEN(kp.pk_len);
            if (prev_key.len == 0 || prefix != prev_prefix ||
                memcmp(prev_key.data, k, prefix) != 0) {
                partitions++;
                if (!wc_sstable_may_contain(t, k, prefix)) {
                    why = "bloom filter misses a partition";
                    goto corrupt;
                }
            }
            if (kp.kind != WC_KIND_HEADER)
                rows++;
            prev_prefix = prefix;
            prev_key.len = 0;
            wc_buf_append(&prev_key, k, klen);
            if (prev_key.failed) {
                st = wc_error(WC_NO_MEMORY, "out of memory verifying \"%s\"", t->path);
                goto fail;
            }
        }
        if (bi.st != WC_OK) {
            if (bi.st == WC_CORRUPTION) {
                why = "malformed entry";
                goto corrupt;
            }
            st = bi.st;
            goto fail;
        }
        if (wc_bytes_cmp(prev_key.data, prev_key.len, e->key, e->klen) != 0) {
            why = "last key differs from the index";
            goto corrupt;
        }
        wc_block_unref(b);
        b = NULL;
    }
    if (partitions != t->stats.partitions || rows != t->stats.rows) {
        why = "entry counts differ from the statistics";
        goto corrupt;
    }
    wc_buf_free(&scratch);
    wc_buf_free(&prev_key);
    wc_block_iter_free(&bi);
    return WC_OK;

corrupt:
    wc_error(WC_CORRUPTION, "%s", why);
    st = sst_error(WC_CORRUPTION, t, "data block", off);
fail:
    wc_block_unref(b);
    wc_buf_free(&scratch);
    wc_buf_free(&prev_key);
    wc_block_iter_free(&bi);
    return st;
}

/* ------------------------------------------------------------------ salvage */

#define WC__SALVAGE_SCAN_MAX ((size_t)1 << 30)

typedef struct wc__salvage {
    wc_sstable_entry_fn fn;
    void *arg;
    wc_buf last; /* last key handed out */
    wc_sstable_salvage_stats *out;
} wc__salvage;

/*
 * Hand the entries of block b to fn.  *bad is set (and nothing more handed
 * out) at the first malformed or out-of-order entry.
 */
static wc_status salvage_block(wc__salvage *sv, const wc_block *b, bool *bad)
{
    wc_block_iter bi;
    wc_status st = WC_OK;

    *bad = false;
    wc_block_iter_init(&bi);
    wc_block_iter_set(&bi, b);
    for (wc_block_iter_seek_first(&bi); wc_block_iter_valid(&bi); wc_block_iter_next(&bi)) {
        size_t klen, vlen;
        const uint8_t *k = wc_block_iter_key(&bi, &klen);
        const uint8_t *v = wc_block_iter_value(&bi, &vlen);
        wc_key_parts kp;

        if (!wc_key_parse(k, klen, &kp) || kp.kind == WC_KIND_END ||
            (sv->last.len && wc_bytes_cmp(sv->last.data, sv->last.len, k, klen) >= 0) ||
            (kp.kind == WC_KIND_HEADER ? !wc_header_validate(v, vlen)
                                       : !wc_row_validate(v, vlen))) {
            *bad = true;
            break;
        }
        st = sv->fn(sv->arg, k, klen, v, vlen);
        if (st != WC_OK)
            break;
        sv->out->entries++;
        if (kp.kind != WC_KIND_HEADER)
            sv->out->rows++;
        sv->last.len = 0;
        wc_buf_append(&sv->last, k, klen);
        if (sv->last.failed) {
            st = wc_error(WC_NO_MEMORY, "out of memory salvaging an SSTable");
            break;
        }
    }
    if (st == WC_OK && bi.st != WC_OK) {
        if (bi.st == WC_CORRUPTION)
            *bad = true;
        else
            st = bi.st;
    }
    wc_block_iter_free(&bi);
    return st;
}

/* Salvage through the index of an open file. */
static wc_status salvage_indexed(wc__salvage *sv, wc_sstable *t)
{
    wc_buf scratch;
    wc_status st = WC_OK;

    wc_buf_init(&scratch);
    for (uint32_t i = 0; i < t->nblocks && st == WC_OK; i++) {
        wc_block *b = NULL;
        bool bad = false;

        st = get_data_block(t, i, NULL, &scratch, false, &b);
        if (st == WC_CORRUPTION) {
            st = WC_OK;
            bad = true;
        } else if (st == WC_OK) {
            st = salvage_block(sv, b, &bad);
            wc_block_unref(b);
        }
        if (bad) {
            sv->out->blocks_lost++;
            wc__sst_ient e;

            sv->out->bytes_lost += index_entry(t, i, &e) ? e.size : 0;
        } else if (st == WC_OK) {
            sv->out->blocks_ok++;
        }
    }
    wc_buf_free(&scratch);
    return st;
}

/*
 * Salvage a file without a usable index: data blocks lie back to back from
 * offset 0, each payload | trailer.  A block ends where a trailer's checksum
 * matches the bytes since the block's start; the hash state over the payload
 * grows by one byte per candidate, so finding a block costs one pass over it.
 */
static wc_status salvage_scan(wc__salvage *sv, const uint8_t *data, size_t size)
{
    uint64_t off = 0;
    XXH3_state_t hs_state, probe_state, *hs = &hs_state, *probe = &probe_state;
    wc_status st = WC_OK;

    XXH3_INITSTATE(hs);
    XXH3_INITSTATE(probe);
    while (off + WC_SST_TRAILER_LEN <= size) {
        uint64_t found = 0;
        size_t maxp = size - off - WC_SST_TRAILER_LEN;

        if (maxp > WC__MAX_STORED_BLOCK)
            maxp = WC__MAX_STORED_BLOCK;
        XXH3_64bits_reset(hs);
        for (size_t plen = 0; plen <= maxp; plen++) {
            const uint8_t *tr = data + off + plen;
            uint8_t type = tr[0];
            uint32_t ulen = wc_dec_u32(tr + 1);

            if (plen)
                XXH3_64bits_update(hs, data + off + plen - 1, 1);
            if (plen == 0 || ulen > WC_SST_MAX_BLOCK_LEN)
                continue;
            if (type == WC_SST_BLOCK_RAW ? ulen != plen
                                         : type != WC_SST_BLOCK_LZ4 ||
                                               (uint64_t)ulen > (uint64_t)plen * WC_SST_LZ4_MAX_RATIO)
                continue;
            XXH3_copyState(probe, hs);
            XXH3_64bits_update(probe, tr, 5);
            if ((uint32_t)XXH3_64bits_digest(probe) == wc_dec_u32(tr + 5)) {
                found = plen + WC_SST_TRAILER_LEN;
                break;
            }
        }
        if (found == 0)
            break;
        {
            wc_block *b = NULL;
            bool bad = false;

            if (wc_block_load(data + off, found, WC_SST_MAX_BLOCK_LEN, true, &b) != WC_OK ||
                b->nrestarts == 0) {
                wc_block_unref(b);
                break; /* past the data blocks, or a damaged stretch */
            }
            st = salvage_block(sv, b, &bad);
            wc_block_unref(b);
            if (st != WC_OK || bad)
                break; /* the filter, stats or index block: the data ended */
        }
        sv->out->blocks_ok++;
        off += found;
    }
    /* what the scan could not use, up to the metadata it cannot tell apart */
    if (st == WC_OK && off < size)
        sv->out->bytes_lost += size - off;
    return st;
}

wc_status wc_sstable_salvage(wc_fs *fs, const char *path, wc_sstable_entry_fn fn, void *arg,
                             wc_sstable_salvage_stats *out)
{
    wc__salvage sv = {.fn = fn, .arg = arg, .out = out};
    wc_sstable *t = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    wc_status st;

    memset(out, 0, sizeof(*out));
    wc_buf_init(&sv.last);
    st = wc_sstable_open(fs, path, NULL, 0, &t);
    if (st == WC_OK) {
        out->indexed = true;
        st = salvage_indexed(&sv, t);
        wc_sstable_unref(t);
    } else if (st == WC_CORRUPTION) {
        st = wc_fs_read_all(fs, path, WC__SALVAGE_SCAN_MAX, &data, &len);
        if (st == WC_CORRUPTION) {
            wc_file *f = NULL;
            uint64_t size = 0;

            /* too large to scan: all of it is lost */
            if (fs->open(fs, path, WC_O_READ, &f) == WC_OK) {
                fs->size(f, &size);
                fs->close(f);
            }
            out->bytes_lost = size;
            st = WC_OK;
        } else if (st == WC_OK) {
            st = salvage_scan(&sv, data, len);
        }
    } else if (st == WC_NOT_FOUND) {
        st = WC_OK; /* nothing to salvage */
    }
    wc_free(data);
    wc_buf_free(&sv.last);
    return st;
}
