/*
 * sstable_writer.c - builds an SSTable file (sstable.h; layout in
 * sstable_format.h and docs/file-formats.md).
 *
 * Entries are appended to a data block builder; once the block's contents
 * pass block_size it is wrapped (LZ4 + trailer), appended to a write buffer
 * that goes to "<path>.tmp" in WC_SST_WRITE_BUFFER chunks, and its last key
 * is added to the index builder.  Statistics and the bloom filter are updated
 * per entry.  finish() writes the filter, stats and index blocks and the
 * footer, syncs, renames the file into place and syncs the directory.  The
 * first failure is latched: later calls return it and finish() cleans up.
 * One thread.
 */
#include "sstable.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "collection.h"
#include "keys.h"
#include "row.h"
#include "sstable_format.h"
#include "thread.h"

struct wc_sstable_writer {
    wc_fs *fs;
    wc_file *file;
    char *path, *tmp_path;
    wc_sstable_options opts;
    wc_status st; /* first failure, latched */

    wc_block_builder data;
    wc_block_builder index;
    wc_bloom_builder bloom;
    wc_buf out;     /* stored bytes not yet written */
    uint64_t out_off; /* file offset of out.data[0] */
    wc_buf scratch; /* compression output */
    wc_buf handle;  /* index entry value */

    wc_buf last_key;
    size_t last_prefix_len; /* partition prefix of last_key */
    uint64_t entries;

    /* statistics */
    wc_sstable_stats stats;
    wc_buf first_key, min_ck, max_ck;
    bool has_live_forever;
    uint32_t max_ldt_seen;
};

void wc_sstable_options_default(wc_sstable_options *o)
{
    o->block_size = 8192;
    o->compression = 1;
    o->bloom_bits_per_key = 10;
    o->restart_interval = 16;
}

uint64_t wc_sstable_writer_entries(const wc_sstable_writer *w)
{
    return w->entries;
}

uint64_t wc_sstable_writer_bytes(const wc_sstable_writer *w)
{
    return w->out_off + w->out.len + wc_block_builder_size(&w->data);
}

static void writer_free(wc_sstable_writer *w)
{
    wc_block_builder_free(&w->data);
    wc_block_builder_free(&w->index);
    wc_bloom_builder_free(&w->bloom);
    wc_buf_free(&w->out);
    wc_buf_free(&w->scratch);
    wc_buf_free(&w->handle);
    wc_buf_free(&w->last_key);
    wc_buf_free(&w->first_key);
    wc_buf_free(&w->min_ck);
    wc_buf_free(&w->max_ck);
    wc_free(w->path);
    wc_free(w->tmp_path);
    wc_free(w);
}

wc_status wc_sstable_writer_open(wc_fs *fs, const char *path, const wc_sstable_options *opts,
                                 wc_sstable_writer **out)
{
    wc_sstable_writer *w;
    size_t plen;
    wc_status st;

    *out = NULL;
    if (fs == NULL || path == NULL || *path == '\0')
        return wc_error(WC_INVALID_ARGUMENT, "sstable writer needs a file system and a path");
    w = wc_calloc(1, sizeof(*w));
    if (w == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening an sstable writer");
    w->fs = fs;
    if (opts)
        w->opts = *opts;
    else
        wc_sstable_options_default(&w->opts);
    if (w->opts.block_size == 0)
        w->opts.block_size = 8192;
    if (w->opts.block_size > WC_SST_MAX_BLOCK_SIZE_OPT)
        w->opts.block_size = WC_SST_MAX_BLOCK_SIZE_OPT;
    if (w->opts.restart_interval == 0)
        w->opts.restart_interval = 16;
    if (w->opts.restart_interval > WC_SST_MAX_RESTART_INTERVAL)
        w->opts.restart_interval = WC_SST_MAX_RESTART_INTERVAL;
    if (w->opts.bloom_bits_per_key > 100)
        w->opts.bloom_bits_per_key = 100;
    wc_block_builder_init(&w->data, w->opts.restart_interval);
    wc_block_builder_init(&w->index, 1);
    wc_bloom_builder_init(&w->bloom, w->opts.bloom_bits_per_key);
    wc_buf_init(&w->out);
    wc_buf_init(&w->scratch);
    wc_buf_init(&w->handle);
    wc_buf_init(&w->last_key);
    wc_buf_init(&w->first_key);
    wc_buf_init(&w->min_ck);
    wc_buf_init(&w->max_ck);
    w->stats.min_timestamp = INT64_MAX;
    w->stats.max_timestamp = INT64_MIN;
    w->stats.min_ldt = UINT32_MAX;
    w->stats.min_token = INT64_MAX;
    w->stats.max_token = INT64_MIN;

    plen = strlen(path);
    w->path = wc_strdup(path);
    w->tmp_path = wc_malloc(plen + 5);
    if (w->path == NULL || w->tmp_path == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory opening an sstable writer");
        goto fail;
    }
    memcpy(w->tmp_path, path, plen);
    memcpy(w->tmp_path + plen, ".tmp", 5);
    st = fs->open(fs, w->tmp_path, WC_O_WRITE | WC_O_CREATE | WC_O_TRUNC, &w->file);
    if (st != WC_OK) {
        /* the file may have been created before the failure: do not leave it */
        char detail[512];

        snprintf(detail, sizeof(detail), "%s", wc_last_error());
        w->file = NULL;
        fs->unlink(fs, w->tmp_path);
        wc_error(st, "%s", detail);
        goto fail;
    }
    *out = w;
    return WC_OK;

fail:
    writer_free(w);
    return st;
}

/* Write the buffered bytes to the file. */
static wc_status flush_out(wc_sstable_writer *w)
{
    wc_status st;

    if (w->out.failed)
        return wc_error(WC_NO_MEMORY, "out of memory writing \"%s\"", w->tmp_path);
    if (w->out.len == 0)
        return WC_OK;
    st = w->fs->pwrite(w->file, w->out.data, w->out.len, w->out_off);
    if (st != WC_OK)
        return st;
    w->out_off += w->out.len;
    w->out.len = 0;
    return WC_OK;
}

/* Wrap contents as a stored block at the current end; its handle goes to off and size. */
static wc_status append_block(wc_sstable_writer *w, const uint8_t *contents, size_t len,
                              bool compress, uint64_t *off, uint64_t *size)
{
    size_t before = w->out.len;

    *off = w->out_off + before;
    wc_block_wrap(contents, len, compress, &w->scratch, &w->out);
    if (w->out.failed)
        return wc_error(WC_NO_MEMORY, "out of memory writing \"%s\"", w->tmp_path);
    *size = w->out.len - before;
    if (w->out.len >= WC_SST_WRITE_BUFFER)
        return flush_out(w);
    return WC_OK;
}

static wc_status flush_data_block(wc_sstable_writer *w)
{
    const uint8_t *contents;
    size_t len;
    uint64_t off, size;
    wc_status st;

    if (wc_block_builder_empty(&w->data))
        return WC_OK;
    contents = wc_block_builder_finish(&w->data, &len);
    if (contents == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory building a block of \"%s\"", w->tmp_path);
    st = append_block(w, contents, len, w->opts.compression != 0, &off, &size);
    if (st != WC_OK)
        return st;
    w->stats.blocks++;
    w->stats.uncompressed_bytes += len;
    w->stats.data_bytes += size;
    /* index entry: the block's last key -> (offset, stored size) */
    wc_buf_reset(&w->handle);
    wc_buf_put_varint(&w->handle, off);
    wc_buf_put_varint(&w->handle, size);
    if (w->handle.failed)
        return wc_error(WC_NO_MEMORY, "out of memory building the index of \"%s\"", w->tmp_path);
    wc_block_builder_add(&w->index, w->last_key.data, w->last_key.len, w->handle.data,
                         w->handle.len);
    wc_block_builder_reset(&w->data);
    return WC_OK;
}

static void stats_add_collection(wc_sstable_writer *w, const wc_cell *c);

static inline void stat_ts(wc_sstable_writer *w, int64_t ts)
{
    if (ts < w->stats.min_timestamp)
        w->stats.min_timestamp = ts;
    if (ts > w->stats.max_timestamp)
        w->stats.max_timestamp = ts;
}

static inline void stat_ldt(wc_sstable_writer *w, uint32_t ldt)
{
    if (ldt < w->stats.min_ldt)
        w->stats.min_ldt = ldt;
    if (ldt > w->max_ldt_seen)
        w->max_ldt_seen = ldt;
}

/* Add one tombstone ldt to the streaming histogram (see wc_sstable_stats). */
static void stat_tomb_hist(wc_sstable_writer *w, uint32_t ldt)
{
    wc_sstable_stats *s = &w->stats;
    uint32_t lo = 0, hi = s->tomb_hist_n, best = 0;
    uint64_t gap = UINT64_MAX;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->tomb_hist_ldt[mid] < ldt)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->tomb_hist_n && s->tomb_hist_ldt[lo] == ldt) {
        s->tomb_hist_count[lo]++;
        return;
    }
    if (s->tomb_hist_n == WC_SST_TOMB_HIST_BINS) {
        /* full: merge the two closest adjacent bins to make room */
        for (uint32_t i = 0; i + 1 < s->tomb_hist_n; i++) {
            uint64_t g = (uint64_t)s->tomb_hist_ldt[i + 1] - s->tomb_hist_ldt[i];
            if (g < gap) {
                gap = g;
                best = i;
            }
        }
        {
            uint64_t c1 = s->tomb_hist_count[best], c2 = s->tomb_hist_count[best + 1];
            uint64_t mean = ((uint64_t)s->tomb_hist_ldt[best] * c1 +
                             (uint64_t)s->tomb_hist_ldt[best + 1] * c2) / (c1 + c2);
            s->tomb_hist_ldt[best] = (uint32_t)mean;
            s->tomb_hist_count[best] = c1 + c2;
            memmove(&s->tomb_hist_ldt[best + 1], &s->tomb_hist_ldt[best + 2],
                    (s->tomb_hist_n - best - 2) * sizeof(s->tomb_hist_ldt[0]));
            memmove(&s->tomb_hist_count[best + 1], &s->tomb_hist_count[best + 2],
                    (s->tomb_hist_n - best - 2) * sizeof(s->tomb_hist_count[0]));
            s->tomb_hist_n--;
        }
        /* the merge may have created a bin equal to ldt or moved the slot */
        stat_tomb_hist(w, ldt);
        return;
    }
    memmove(&s->tomb_hist_ldt[lo + 1], &s->tomb_hist_ldt[lo],
            (s->tomb_hist_n - lo) * sizeof(s->tomb_hist_ldt[0]));
    memmove(&s->tomb_hist_count[lo + 1], &s->tomb_hist_count[lo],
            (s->tomb_hist_n - lo) * sizeof(s->tomb_hist_count[0]));
    s->tomb_hist_ldt[lo] = ldt;
    s->tomb_hist_count[lo] = 1;
    s->tomb_hist_n++;
}

uint64_t wc_sstable_stats_droppable(const wc_sstable_stats *s, int64_t gc_before)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < s->tomb_hist_n; i++)
        if ((int64_t)s->tomb_hist_ldt[i] < gc_before)
            n += s->tomb_hist_count[i];
    return n;
}

/* Update statistics from one value; false if the blob is malformed. */
static bool stats_add_value(wc_sstable_writer *w, const wc_key_parts *kp, const uint8_t *value,
                            size_t vlen)
{
    if (kp->kind == WC_KIND_HEADER) {
        wc_header_view hv;
        wc_range_tombstone rt;
        int r;

        w->stats.headers++;

        if (!wc_header_validate(value, vlen) || !wc_header_parse(value, vlen, &hv))
            return false;
        if (hv.flags & WC_HDRF_PARTITION_DELETED) {
            w->stats.tombstones++;
            stat_ts(w, hv.pdel_ts);
            stat_ldt(w, hv.pdel_ldt);
            stat_tomb_hist(w, hv.pdel_ldt);
        }
        while ((r = wc_header_next_rt(&hv, &rt)) == 1) {
            w->stats.tombstones++;
            stat_ts(w, rt.ts);
            stat_ldt(w, rt.ldt);
            stat_tomb_hist(w, rt.ldt);
        }
        return r == 0;
    } else {
        wc_row_view rv;
        wc_cell c;
        int r;

        if (!wc_row_validate(value, vlen) || !wc_row_parse(value, vlen, &rv))
            return false;
        w->stats.rows++;
        if (kp->kind == WC_KIND_STATIC)
            w->stats.statics++;
        if (rv.flags & WC_ROWF_LIVENESS) {
            stat_ts(w, rv.live_ts);
            if (rv.live_ttl != 0)
                stat_ldt(w, rv.live_ldt); /* expiring liveness: bounds ldt, not a tombstone */
            else
                w->has_live_forever = true;
        }
        if (rv.flags & WC_ROWF_DELETED) {
            w->stats.tombstones++;
            stat_ts(w, rv.del_ts);
            stat_ldt(w, rv.del_ldt);
            stat_tomb_hist(w, rv.del_ldt);
        }
        while ((r = wc_row_next_cell(&rv, &c)) == 1) {
            w->stats.cells++;
            stat_ts(w, c.ts);
            if (c.flags & WC_CELLF_COLLECTION)
                stats_add_collection(w, &c);
            if (c.flags & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING)) {
                w->stats.tombstones++;
                stat_ldt(w, c.ldt);
                stat_tomb_hist(w, c.ldt);
            } else {
                w->has_live_forever = true;
            }
        }
        return r == 0;
    }
}

/*
 * A collection's elements count as cells do: its oldest timestamp bounds
 * the table's (purging), its element and collection tombstones and
 * expiring elements count as tombstones (droppable estimates).
 * REQUIRES: c is a valid collection cell (wc_row_next_cell checked it).
 */
static void stats_add_collection(wc_sstable_writer *w, const wc_cell *c)
{
    wc_coll_view cv;
    wc_coll_elem e;

    if (!wc_coll_parse(c->value, c->len, &cv))
        return;
    if (cv.deleted) {
        w->stats.tombstones++;
        stat_ts(w, cv.del_ts);
        stat_ldt(w, cv.del_ldt);
        stat_tomb_hist(w, cv.del_ldt);
    }
    while (wc_coll_next(&cv, &e) == 1) {
        stat_ts(w, e.ts);
        if (e.flags & (WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING)) {
            w->stats.tombstones++;
            stat_ldt(w, e.ldt);
            stat_tomb_hist(w, e.ldt);
        }
    }
}

static void stats_add_ck(wc_sstable_writer *w, const uint8_t *ck, size_t len)
{
    if (!w->stats.has_ck) {
        wc_buf_append(&w->min_ck, ck, len);
        wc_buf_append(&w->max_ck, ck, len);
        w->stats.has_ck = true;
        return;
    }
    if (wc_bytes_cmp(ck, len, w->min_ck.data, w->min_ck.len) < 0) {
        w->min_ck.len = 0;
        wc_buf_append(&w->min_ck, ck, len);
    }
    if (wc_bytes_cmp(ck, len, w->max_ck.data, w->max_ck.len) > 0) {
        w->max_ck.len = 0;
        wc_buf_append(&w->max_ck, ck, len);
    }
}

wc_status wc_sstable_writer_add(wc_sstable_writer *w, const uint8_t *key, size_t klen,
                                const uint8_t *value, size_t vlen)
{
    wc_key_parts kp;
    size_t prefix;
    wc_status st;

    wc__yield_point(); /* flush and compaction threads give way to readers */
    if (w->st != WC_OK)
        return w->st;
    if (key == NULL || !wc_key_parse(key, klen, &kp) || kp.kind == WC_KIND_END)
        return wc_error(WC_INVALID_ARGUMENT, "malformed sstable key (%zu bytes)", klen);
    if (klen + vlen > WC_SST_MAX_ENTRY_LEN)
        return wc_error(WC_INVALID_ARGUMENT, "sstable entry of %zu bytes exceeds the %u limit",
                        klen + vlen, WC_SST_MAX_ENTRY_LEN);
    if (value == NULL && vlen != 0)
        return wc_error(WC_INVALID_ARGUMENT, "NULL value with a length");
    if (w->entries > 0 && wc_bytes_cmp(key, klen, w->last_key.data, w->last_key.len) <= 0)
        return wc_error(WC_INVALID_ARGUMENT, "sstable keys out of order at entry %llu",
                        (unsigned long long)w->entries);
    if (!stats_add_value(w, &kp, value ? value : (const uint8_t *)"", vlen))
        return wc_error(WC_INVALID_ARGUMENT, "malformed %s value at entry %llu",
                        kp.kind == WC_KIND_HEADER ? "header" : "row",
                        (unsigned long long)w->entries);

    prefix = WC_KEY_PREFIX_LEN(kp.pk_len);
    if (w->entries == 0 || prefix != w->last_prefix_len ||
        memcmp(key, w->last_key.data, prefix) != 0) {
        w->stats.partitions++;
        wc_bloom_builder_add(&w->bloom, key, prefix);
        if (kp.token < w->stats.min_token)
            w->stats.min_token = kp.token;
        if (kp.token > w->stats.max_token)
            w->stats.max_token = kp.token;
    }
    if (kp.kind == WC_KIND_ROW)
        stats_add_ck(w, kp.ck, kp.ck_len);
    if (w->entries == 0)
        wc_buf_append(&w->first_key, key, klen);

    wc_block_builder_add(&w->data, key, klen, value, vlen);
    w->last_key.len = 0;
    wc_buf_append(&w->last_key, key, klen);
    w->last_prefix_len = prefix;
    w->entries++;
    /* the data builder latches a failed allocation: an entry it dropped must not go unnoticed */
    if (w->last_key.failed || w->first_key.failed || w->min_ck.failed || w->max_ck.failed ||
        w->data.buf.failed || w->data.restarts.failed || w->data.last_key.failed) {
        w->st = wc_error(WC_NO_MEMORY, "out of memory adding to \"%s\"", w->tmp_path);
        return w->st;
    }
    if (wc_block_builder_size(&w->data) >= w->opts.block_size) {
        st = flush_data_block(w);
        if (st != WC_OK) {
            w->st = st;
            return st;
        }
    }
    return WC_OK;
}

static void encode_stats(wc_sstable_writer *w, wc_buf *b)
{
    const wc_sstable_stats *s = &w->stats;

    wc_buf_put_u8(b, WC_SST_STATS_VERSION);
    wc_buf_put_varint(b, s->partitions);
    wc_buf_put_varint(b, s->rows);
    wc_buf_put_varint(b, s->cells);
    wc_buf_put_varint(b, s->tombstones);
    wc_buf_put_u64(b, (uint64_t)s->min_timestamp);
    wc_buf_put_u64(b, (uint64_t)s->max_timestamp);
    wc_buf_put_u32(b, s->min_ldt);
    wc_buf_put_u32(b, s->max_ldt);
    wc_buf_put_u64(b, (uint64_t)s->min_token);
    wc_buf_put_u64(b, (uint64_t)s->max_token);
    wc_buf_put_varint(b, s->data_bytes);
    wc_buf_put_varint(b, s->uncompressed_bytes);
    wc_buf_put_varint(b, s->blocks);
    wc_buf_put_u8(b, s->has_ck ? 1 : 0);
    wc_buf_put_bytes(b, w->min_ck.data, w->min_ck.len);
    wc_buf_put_bytes(b, w->max_ck.data, w->max_ck.len);
    wc_buf_put_bytes(b, w->first_key.data, w->first_key.len);
    wc_buf_put_bytes(b, w->last_key.data, w->entries ? w->last_key.len : 0);
    wc_buf_put_varint(b, s->headers);
    wc_buf_put_varint(b, s->statics);
    wc_buf_put_varint(b, s->tomb_hist_n);
    for (uint32_t i = 0; i < s->tomb_hist_n; i++) {
        wc_buf_put_u32(b, s->tomb_hist_ldt[i]);
        wc_buf_put_varint(b, s->tomb_hist_count[i]);
    }
}

wc_status wc_sstable_writer_finish(wc_sstable_writer *w, uint64_t *file_bytes)
{
    wc_buf meta;
    uint64_t filter_off, filter_size, stats_off, stats_size, index_off, index_size;
    const uint8_t *contents;
    size_t len;
    uint8_t footer[WC_SST_FOOTER_LEN];
    char dir[4096];
    char detail[512];
    wc_status st;

    wc_buf_init(&meta);
    if (w->st != WC_OK) {
        st = w->st;
        goto fail;
    }
    st = flush_data_block(w);
    if (st != WC_OK)
        goto fail;

    /* filter */
    st = wc_bloom_builder_finish(&w->bloom, &meta);
    if (st != WC_OK)
        goto fail;
    st = append_block(w, meta.data, meta.len, false, &filter_off, &filter_size);
    if (st != WC_OK)
        goto fail;

    /* statistics */
    w->stats.max_ldt = w->has_live_forever ? UINT32_MAX : w->max_ldt_seen;
    wc_buf_reset(&meta);
    encode_stats(w, &meta);
    if (meta.failed) {
        st = wc_error(WC_NO_MEMORY, "out of memory writing \"%s\"", w->tmp_path);
        goto fail;
    }
    st = append_block(w, meta.data, meta.len, false, &stats_off, &stats_size);
    if (st != WC_OK)
        goto fail;

    /* index */
    contents = wc_block_builder_finish(&w->index, &len);
    if (contents == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory writing the index of \"%s\"", w->tmp_path);
        goto fail;
    }
    /* raw, never compressed: readers with a view of the file search it where it is */
    st = append_block(w, contents, len, false, &index_off, &index_size);
    if (st != WC_OK)
        goto fail;

    /* footer */
    wc_enc_u64(footer + 0, filter_off);
    wc_enc_u64(footer + 8, filter_size);
    wc_enc_u64(footer + 16, stats_off);
    wc_enc_u64(footer + 24, stats_size);
    wc_enc_u64(footer + 32, index_off);
    wc_enc_u64(footer + 40, index_size);
    wc_enc_u32(footer + 48, WC_SST_FORMAT_VERSION);
    wc_enc_u32(footer + 52, (uint32_t)XXH3_64bits(footer, WC_SST_FOOTER_CHECKED_LEN));
    wc_enc_u64(footer + 56, WC_SST_MAGIC);
    wc_buf_append(&w->out, footer, sizeof(footer));
    st = flush_out(w);
    if (st != WC_OK)
        goto fail;

    st = w->fs->sync(w->file);
    if (st != WC_OK)
        goto fail;
    st = w->fs->close(w->file);
    w->file = NULL;
    if (st != WC_OK)
        goto fail;
    st = w->fs->rename(w->fs, w->tmp_path, w->path);
    if (st != WC_OK)
        goto fail;
    wc_path_dirname(w->path, dir, sizeof(dir));
    st = w->fs->sync_dir(w->fs, dir);
    if (st != WC_OK) {
        /* the rename may not be durable: do not leave a file we reported as failed */
        w->fs->unlink(w->fs, w->path);
        goto fail;
    }
    if (file_bytes)
        *file_bytes = w->out_off;
    wc_buf_free(&meta);
    writer_free(w);
    return WC_OK;

fail:
    /* keep the detail of the first failure across the cleanup calls */
    snprintf(detail, sizeof(detail), "%s", wc_last_error());
    wc_buf_free(&meta);
    if (w->file)
        w->fs->close(w->file);
    w->file = NULL;
    w->fs->unlink(w->fs, w->tmp_path);
    writer_free(w);
    return wc_error(st, "%s", detail);
}

void wc_sstable_writer_abort(wc_sstable_writer *w)
{
    if (w == NULL)
        return;
    if (w->file)
        w->fs->close(w->file);
    w->fs->unlink(w->fs, w->tmp_path);
    writer_free(w);
}
