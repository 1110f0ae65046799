/*
 * sstable_fuzz.c - libFuzzer target for the SSTable reader.
 *
 * Input: one flags byte, then the bytes of a file.  Flags bit 0 disables
 * block and footer checksum verification (wc__block_ignore_checksums) so that
 * mutated files reach the footer, index, stats, filter and block decoders;
 * bit 1 reads through a small shared block cache; bit 2 also runs scrub's
 * salvage (wc_sstable_salvage) over the file; bit 3 opens it as a
 * direct-read client does (WC_SST_OPEN_CHECKED_INDEX: the index entries are
 * checked as they are decoded, not all at open).  Each input is written to
 * a file in a per-process temporary directory, then opened, iterated forward
 * and backward, sought, and verified.  Nothing may crash, leak, overread or
 * allocate without bound.
 *
 * Seeds: with WC_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes a few valid
 * SSTables (raw, LZ4, small blocks, empty) as seed inputs into that
 * directory; pass the same directory as the corpus:
 *     WC_FUZZ_SEED_DIR=corpus build/fuzz/sstable_fuzz corpus -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "block.h"
#include "fs.h"
#include "keys.h"
#include "row.h"
#include "sstable.h"

static char fuzz_dir[256];
static char fuzz_path[300];
static wc_block_cache *fuzz_cache;

static void fuzz_cleanup(void)
{
    unlink(fuzz_path);
    rmdir(fuzz_dir);
    wc_block_cache_free(fuzz_cache);
    fuzz_cache = NULL;
}

/* Write one seed: flags byte + a valid sstable built with the given options. */
static void write_seed(const char *dir, const char *name, int nparts, int nrows,
                       const wc_sstable_options *o, uint8_t flags)
{
    char path[600], seed[700];
    wc_sstable_writer *w;
    wc_buf k, v;
    uint8_t *data = NULL;
    size_t len = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/seed.sst", fuzz_dir);
    if (wc_sstable_writer_open(wc_fs_posix(), path, o, &w) != WC_OK)
        return;
    wc_buf_init(&k);
    wc_buf_init(&v);
    for (int p = 0; p < nparts; p++) {
        char pk[16];
        int pl = snprintf(pk, sizeof(pk), "p%d", p);
        /* partitions must be added in token order: use the index as the token */
        int64_t tok = (int64_t)p * 1000 - 5000;
        wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_UNBOUNDED,
                                 .start = (const uint8_t *)"m",
                                 .start_len = 1,
                                 .ts = 9,
                                 .ldt = 99};

        k.len = v.len = 0;
        wc_key_build(&k, tok, pk, (size_t)pl, WC_KIND_HEADER, NULL, 0);
        wc_header_build(&v, p % 2, 7, 77, &rt, 1);
        wc_sstable_writer_add(w, k.data, k.len, v.data, v.len);
        for (int r = 0; r < nrows; r++) {
            uint8_t ck[2] = {(uint8_t)(r >> 8), (uint8_t)r};
            wc_rowb rb;
            wc_cell c = {.column = 1, .ts = 100 + r, .value = (const uint8_t *)"valuevalue", .len = 10};

            k.len = v.len = 0;
            wc_key_build(&k, tok, pk, (size_t)pl, WC_KIND_ROW, ck, 2);
            wc_rowb_begin(&rb, &v);
            wc_rowb_liveness(&rb, 100 + r, 0, 0);
            wc_rowb_cell(&rb, &c);
            wc_rowb_end(&rb);
            wc_sstable_writer_add(w, k.data, k.len, v.data, v.len);
        }
    }
    wc_buf_free(&k);
    wc_buf_free(&v);
    if (wc_sstable_writer_finish(w, NULL) != WC_OK)
        return;
    if (wc_fs_read_all(wc_fs_posix(), path, 1u << 24, &data, &len) == WC_OK) {
        snprintf(seed, sizeof(seed), "%s/%s", dir, name);
        f = fopen(seed, "wb");
        if (f) {
            fwrite(&flags, 1, 1, f);
            fwrite(data, 1, len, f);
            fclose(f);
        }
        wc_free(data);
    }
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    const char *seeds = getenv("WC_FUZZ_SEED_DIR");

    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/sstable_fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL)
        abort(); /* the harness itself cannot run */
    snprintf(fuzz_path, sizeof(fuzz_path), "%s/input.sst", fuzz_dir);
    if (wc_block_cache_new(16 * 1024, &fuzz_cache) != WC_OK)
        abort();
    atexit(fuzz_cleanup);
    if (seeds && *seeds) {
        wc_sstable_options o;

        mkdir(seeds, 0700);
        wc_sstable_options_default(&o);
        o.block_size = 256;
        write_seed(seeds, "seed-lz4", 4, 20, &o, 0);
        write_seed(seeds, "seed-lz4-nocheck", 4, 20, &o, 1);
        write_seed(seeds, "seed-lz4-nocheck-checked-index", 4, 20, &o, 9);
        o.compression = 0;
        o.restart_interval = 3;
        write_seed(seeds, "seed-raw-nocheck", 3, 10, &o, 3);
        write_seed(seeds, "seed-raw", 3, 10, &o, 2);
        write_seed(seeds, "seed-empty", 0, 0, &o, 1);
    }
    return 0;
}

static void exercise(wc_sstable *t, const uint8_t *probe, size_t plen)
{
    wc_iter *it = wc_sstable_iter(t, NULL);
    size_t n = 0, kl, vl;
    const uint8_t *k, *v;
    volatile uint8_t sink = 0;

    if (it == NULL)
        return;
    for (wc_iter_seek_first(it); wc_iter_valid(it) && n < 100000; wc_iter_next(it), n++) {
        k = wc_iter_key(it, &kl);
        v = wc_iter_value(it, &vl);
        if (kl)
            sink ^= k[kl - 1];
        if (vl)
            sink ^= v[vl - 1];
    }
    wc_iter_destroy(it);
    it = wc_sstable_iter(t, NULL);
    if (it == NULL)
        return;
    n = 0;
    for (wc_iter_seek_last(it); wc_iter_valid(it) && n < 100000; wc_iter_prev(it), n++) {
        k = wc_iter_key(it, &kl);
        if (kl)
            sink ^= k[0];
    }
    wc_iter_destroy(it);
    it = wc_sstable_iter(t, NULL);
    if (it == NULL)
        return;
    wc_iter_seek(it, probe, plen);
    for (int i = 0; i < 3 && wc_iter_valid(it); i++)
        wc_iter_prev(it);
    wc_iter_seek_for_prev(it, probe, plen);
    for (int i = 0; i < 3 && wc_iter_valid(it); i++)
        wc_iter_next(it);
    wc_iter_destroy(it);
    (void)wc_sstable_may_contain(t, probe, plen);
    (void)wc_sstable_get_stats(t);
    (void)wc_sstable_verify(t);
    (void)sink;
}

static wc_status salvage_count(void *arg, const uint8_t *key, size_t klen, const uint8_t *value,
                               size_t vlen)
{
    (void)key;
    (void)value;
    *(uint64_t *)arg += klen + vlen;
    return WC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t file_id;
    FILE *f;
    wc_sstable *t;
    uint8_t flags;

    if (size < 1)
        return 0;
    flags = data[0];
    f = fopen(fuzz_path, "wb");
    if (f == NULL)
        return 0;
    if (size > 1)
        fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    atomic_store(&wc__block_ignore_checksums, (flags & 1) ? 1 : 0);
    /* flag 8: as a direct-read client opens, the index's order not walked at open */
    if (wc_sstable_open_flags(wc_fs_posix(), fuzz_path, (flags & 2) ? fuzz_cache : NULL,
                              ++file_id, (flags & 8) ? WC_SST_OPEN_CHECKED_INDEX : 0,
                              &t) == WC_OK) {
        /* a probe key from the tail of the input */
        size_t plen = size > 24 ? 24 : size - 1;
        exercise(t, data + size - plen, plen);
        wc_sstable_unref(t);
    }
    atomic_store(&wc__block_ignore_checksums, 0);
    if (flags & 4) {
        /* scrub's salvage: by index when the file opens, else by scanning for block trailers */
        wc_sstable_salvage_stats ss;
        uint64_t entries = 0;

        (void)wc_sstable_salvage(wc_fs_posix(), fuzz_path, salvage_count, &entries, &ss);
    }
    return 0;
}
