/*
 * sstable_test.c - SSTable writer, reader, iterator, statistics, block cache,
 * corruption handling and write-failure cleanup.
 *
 * Every test builds its entries in memory (a sorted model array), writes
 * them with the writer into a fresh directory under $WC_TEST_TMP (or /tmp)
 * and checks the reader against the model.  Corruption tests edit the file
 * bytes directly, using the layout constants of sstable_format.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "block.h"
#include "cache.h"
#include "coding.h"
#include "faultfs.h"
#include "fs.h"
#include "keys.h"
#include "row.h"
#include "sstable.h"
#include "sstable_format.h"

/* ------------------------------------------------------------------ model */

typedef struct ent {
    uint8_t *k, *v;
    size_t klen, vlen;
} ent;

typedef struct model {
    ent *e;
    size_t n, cap;
} model;

static void model_add(model *m, const wc_buf *k, const wc_buf *v)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->e = realloc(m->e, m->cap * sizeof(ent));
        assert_non_null(m->e);
    }
    m->e[m->n].k = malloc(k->len);
    m->e[m->n].v = malloc(v->len);
    memcpy(m->e[m->n].k, k->data, k->len);
    memcpy(m->e[m->n].v, v->data, v->len);
    m->e[m->n].klen = k->len;
    m->e[m->n].vlen = v->len;
    m->n++;
}

static int ent_cmp(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    return wc_bytes_cmp(x->k, x->klen, y->k, y->klen);
}

static void model_sort(model *m)
{
    qsort(m->e, m->n, sizeof(ent), ent_cmp);
    for (size_t i = 1; i < m->n; i++)
        assert_true(ent_cmp(&m->e[i - 1], &m->e[i]) < 0);
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].k);
        free(m->e[i].v);
    }
    free(m->e);
    memset(m, 0, sizeof(*m));
}

/* deterministic PRNG */
static uint64_t rng_state = 0x1234567;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void make_row(wc_buf *v, int64_t ts, uint32_t ncells, uint32_t seed)
{
    wc_rowb rb;
    char val[64];

    v->len = 0;
    wc_rowb_begin(&rb, v);
    wc_rowb_liveness(&rb, ts, 0, 0);
    for (uint32_t c = 0; c < ncells; c++) {
        wc_cell cell = {.column = c + 1, .ts = ts};
        int n = snprintf(val, sizeof(val), "value-%u-%u-%s", seed, c,
                         (seed % 7 == 0) ? "xxxxxxxxxxxxxxxxxxxxxxxxxxxx" : "y");
        cell.value = (const uint8_t *)val;
        cell.len = (size_t)n;
        wc_rowb_cell(&rb, &cell);
    }
    assert_true(wc_rowb_end(&rb) > 0);
}

static void pk_of(uint32_t p, char *pk, size_t n, size_t *len)
{
    *len = (size_t)snprintf(pk, n, "partition-%u", p);
}

/*
 * Build a model with npart partitions: every 5th has a header with a range
 * tombstone, every 3rd a static row, sizes vary and a few are very large.
 */
static void build_model(model *m, uint32_t npart, size_t target_entries)
{
    wc_buf k, v;
    char pk[32];
    size_t pklen;

    wc_buf_init(&k);
    wc_buf_init(&v);
    for (uint32_t p = 0; p < npart && m->n < target_entries; p++) {
        int64_t tok;
        uint32_t nrows;

        pk_of(p, pk, sizeof(pk), &pklen);
        tok = wc_token(pk, pklen);
        if (p % 5 == 0) {
            wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL,
                                     .start = (const uint8_t *)"a",
                                     .start_len = 1,
                                     .end = (const uint8_t *)"c",
                                     .end_len = 1,
                                     .ts = 50,
                                     .ldt = 1000};
            k.len = v.len = 0;
            wc_key_build(&k, tok, pk, pklen, WC_KIND_HEADER, NULL, 0);
            wc_header_build(&v, p % 10 == 0, 40, 900, &rt, 1);
            model_add(m, &k, &v);
        }
        if (p % 3 == 0) {
            k.len = 0;
            wc_key_build(&k, tok, pk, pklen, WC_KIND_STATIC, NULL, 0);
            make_row(&v, 100 + p, 2, p);
            model_add(m, &k, &v);
        }
        nrows = (p % 97 == 1) ? 3000 : (uint32_t)(1 + rnd() % 60);
        for (uint32_t r = 0; r < nrows; r++) {
            uint8_t ck[8];

            wc_enc_u64be(ck, (uint64_t)r * 3);
            k.len = 0;
            wc_key_build(&k, tok, pk, pklen, WC_KIND_ROW, ck, 8);
            make_row(&v, 1000 + r, 1 + r % 4, r ^ p);
            model_add(m, &k, &v);
        }
    }
    wc_buf_free(&k);
    wc_buf_free(&v);
    model_sort(m);
}

/* ------------------------------------------------------------------ files */

static char tmpdir[512];

static int setup_dir(void **state)
{
    const char *base = getenv("WC_TEST_TMP");

    snprintf(tmpdir, sizeof(tmpdir), "%s/sstable_test.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int rm_cb(void *arg, const char *name)
{
    char p[1024];

    snprintf(p, sizeof(p), "%s/%s", (const char *)arg, name);
    unlink(p);
    return 0;
}

static int teardown_dir(void **state)
{
    wc_fs *fs = wc_fs_posix();

    fs->list(fs, tmpdir, rm_cb, tmpdir);
    fs->rmdir(fs, tmpdir);
    return 0;
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static wc_status write_model_fs(wc_fs *fs, const char *path, const model *m,
                                const wc_sstable_options *o, uint64_t *bytes)
{
    wc_sstable_writer *w;
    wc_status st = wc_sstable_writer_open(fs, path, o, &w);

    if (st != WC_OK)
        return st;
    for (size_t i = 0; i < m->n; i++) {
        st = wc_sstable_writer_add(w, m->e[i].k, m->e[i].klen, m->e[i].v, m->e[i].vlen);
        if (st != WC_OK) {
            wc_sstable_writer_abort(w);
            return st;
        }
    }
    assert_int_equal(wc_sstable_writer_entries(w), m->n);
    return wc_sstable_writer_finish(w, bytes);
}

static void write_model(const char *path, const model *m, const wc_sstable_options *o)
{
    uint64_t bytes = 0;
    struct stat sb;

    assert_int_equal(write_model_fs(wc_fs_posix(), path, m, o, &bytes), WC_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, bytes);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *d;
    assert_int_equal(wc_fs_read_all(wc_fs_posix(), path, 1u << 30, &d, len), WC_OK);
    return d;
}

static void spit(const char *path, const uint8_t *d, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
}

/* ------------------------------------------------------------- iteration */

static void expect_at(wc_iter *it, const model *m, size_t i)
{
    size_t kl, vl;
    const uint8_t *k, *v;

    assert_true(wc_iter_valid(it));
    k = wc_iter_key(it, &kl);
    v = wc_iter_value(it, &vl);
    assert_int_equal(kl, m->e[i].klen);
    assert_memory_equal(k, m->e[i].k, kl);
    assert_int_equal(vl, m->e[i].vlen);
    assert_memory_equal(v, m->e[i].v, vl);
}

static void check_full_scans(wc_sstable *t, const model *m)
{
    wc_iter *it = wc_sstable_iter(t, NULL);
    size_t i = 0;

    assert_non_null(it);
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it))
        expect_at(it, m, i++);
    assert_int_equal(wc_iter_status(it), WC_OK);
    assert_int_equal(i, m->n);
    i = m->n;
    for (wc_iter_seek_last(it); wc_iter_valid(it); wc_iter_prev(it))
        expect_at(it, m, --i);
    assert_int_equal(wc_iter_status(it), WC_OK);
    assert_int_equal(i, 0);
    wc_iter_destroy(it);
}

/* index of the first entry >= target (m->n if none) */
static size_t lower_bound(const model *m, const uint8_t *t, size_t tl)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (wc_bytes_cmp(m->e[mid].k, m->e[mid].klen, t, tl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void random_target(const model *m, wc_buf *t)
{
    const ent *e = &m->e[rnd() % m->n];
    uint64_t mode = rnd() % 6;

    t->len = 0;
    wc_buf_append(t, e->k, e->klen);
    switch (mode) {
    case 0: /* exact */
        break;
    case 1: /* just after */
        wc_buf_put_u8(t, 0);
        break;
    case 2: /* truncated: partition prefix or shorter */
        t->len = rnd() % (e->klen + 1);
        break;
    case 3: /* tweak one byte */
        t->data[rnd() % t->len] += (uint8_t)(1 + rnd() % 255);
        break;
    case 4: /* partition end bound */
        t->len = wc_key_partition_prefix(e->k, e->klen);
        wc_buf_put_u8(t, WC_KIND_END);
        break;
    default: /* random bytes */
        t->len = 0;
        for (int i = 0; i < 12; i++)
            wc_buf_put_u8(t, (uint8_t)rnd());
        break;
    }
}

static void check_random_seeks(wc_sstable *t, const model *m, int rounds)
{
    wc_iter *it = wc_sstable_iter(t, NULL);
    wc_buf tg;

    wc_buf_init(&tg);
    for (int r = 0; r < rounds; r++) {
        size_t lb, pos;
        bool have;

        random_target(m, &tg);
        lb = lower_bound(m, tg.data, tg.len);
        if (rnd() & 1) {
            wc_iter_seek(it, tg.data, tg.len);
            if (lb == m->n) {
                assert_false(wc_iter_valid(it));
                continue;
            }
            pos = lb;
        } else {
            /* last entry <= target */
            size_t ub = lb;
            if (ub < m->n && wc_bytes_cmp(m->e[ub].k, m->e[ub].klen, tg.data, tg.len) == 0)
                ub++;
            wc_iter_seek_for_prev(it, tg.data, tg.len);
            if (ub == 0) {
                assert_false(wc_iter_valid(it));
                continue;
            }
            pos = ub - 1;
        }
        expect_at(it, m, pos);
        /* then a random walk */
        have = true;
        for (int s = 0; s < 40 && have; s++) {
            if (rnd() & 1) {
                wc_iter_next(it);
                if (pos + 1 == m->n) {
                    assert_false(wc_iter_valid(it));
                    have = false;
                } else {
                    expect_at(it, m, ++pos);
                }
            } else {
                wc_iter_prev(it);
                if (pos == 0) {
                    assert_false(wc_iter_valid(it));
                    have = false;
                } else {
                    expect_at(it, m, --pos);
                }
            }
        }
        assert_int_equal(wc_iter_status(it), WC_OK);
    }
    wc_buf_free(&tg);
    wc_iter_destroy(it);
}

/* ------------------------------------------------------------------ tests */

static void test_roundtrip_100k(void **state)
{
    model m = {0};
    char path[600];
    wc_sstable *t;
    const wc_sstable_stats *s;
    uint64_t live = wc_alloc_live_count();
    size_t partitions = 0;

    build_model(&m, 4000, 100000);
    assert_true(m.n >= 100000);
    path_of(path, sizeof(path), "big.sst");
    write_model(path, &m, NULL);
    assert_false(file_exists(strcat(strcpy((char[700]){0}, path), ".tmp")));
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 1, &t), WC_OK);
    s = wc_sstable_get_stats(t);
    assert_true(s->blocks > 100);
    assert_true(s->data_bytes < s->uncompressed_bytes); /* LZ4 helped */
    check_full_scans(t, &m);
    check_random_seeks(t, &m, 3000);
    assert_int_equal(wc_sstable_verify(t), WC_OK);
    /* every partition is in the filter; stats agree with the model */
    for (size_t i = 0; i < m.n; i++) {
        size_t pl = wc_key_partition_prefix(m.e[i].k, m.e[i].klen);
        if (i == 0 || memcmp(m.e[i].k, m.e[i - 1].k, pl) != 0 ||
            pl != wc_key_partition_prefix(m.e[i - 1].k, m.e[i - 1].klen)) {
            partitions++;
            assert_true(wc_sstable_may_contain(t, m.e[i].k, pl));
        }
    }
    assert_int_equal(s->partitions, partitions);
    assert_int_equal(s->first_key_len, m.e[0].klen);
    assert_memory_equal(s->first_key, m.e[0].k, m.e[0].klen);
    assert_int_equal(s->last_key_len, m.e[m.n - 1].klen);
    assert_memory_equal(s->last_key, m.e[m.n - 1].k, m.e[m.n - 1].klen);
    wc_sstable_unref(t);
    model_free(&m);
    assert_int_equal(wc_alloc_live_count(), live);
}

static void test_small_blocks_no_compression(void **state)
{
    static const uint32_t intervals[] = {1, 2, 3, 16, 200};
    model m = {0};
    char path[600];

    build_model(&m, 300, 20000);
    for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
        wc_sstable_options o;
        wc_sstable *t;

        wc_sstable_options_default(&o);
        o.block_size = 200 + i * 300;
        o.compression = (int)(i & 1);
        o.restart_interval = intervals[i];
        path_of(path, sizeof(path), "small.sst");
        write_model(path, &m, &o);
        assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 2 + i, &t), WC_OK);
        if (o.compression == 0)
            assert_int_equal(wc_sstable_get_stats(t)->data_bytes,
                             wc_sstable_get_stats(t)->uncompressed_bytes +
                                 wc_sstable_get_stats(t)->blocks * WC_SST_TRAILER_LEN);
        check_full_scans(t, &m);
        check_random_seeks(t, &m, 1500);
        assert_int_equal(wc_sstable_verify(t), WC_OK);
        wc_sstable_unref(t);
    }
    model_free(&m);
}

static void test_large_values_and_single_entry(void **state)
{
    model m = {0};
    wc_buf k, v;
    char path[600];
    wc_sstable *t;
    wc_sstable_options o;

    wc_buf_init(&k);
    wc_buf_init(&v);
    /* one partition whose rows are each bigger than a block */
    for (uint32_t r = 0; r < 20; r++) {
        uint8_t ck[4];
        wc_rowb rb;
        static uint8_t big[40000];
        wc_cell c = {.column = 1, .ts = 5, .value = big, .len = sizeof(big)};

        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = (uint8_t)rnd();
        wc_enc_u32(ck, r);
        ck[0] = (uint8_t)r;
        k.len = v.len = 0;
        wc_key_build(&k, 7, "p", 1, WC_KIND_ROW, ck, 4);
        wc_rowb_begin(&rb, &v);
        wc_rowb_cell(&rb, &c);
        wc_rowb_end(&rb);
        model_add(&m, &k, &v);
    }
    model_sort(&m);
    wc_sstable_options_default(&o);
    o.block_size = 4096;
    path_of(path, sizeof(path), "large.sst");
    write_model(path, &m, &o);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 9, &t), WC_OK);
    assert_int_equal(wc_sstable_get_stats(t)->blocks, 20);
    /* random bytes do not compress: stored raw */
    assert_true(wc_sstable_get_stats(t)->data_bytes > wc_sstable_get_stats(t)->uncompressed_bytes);
    check_full_scans(t, &m);
    check_random_seeks(t, &m, 300);
    wc_sstable_unref(t);

    /* a single entry */
    model_free(&m);
    k.len = v.len = 0;
    wc_key_build(&k, -5, "q", 1, WC_KIND_STATIC, NULL, 0);
    make_row(&v, 1, 1, 1);
    model_add(&m, &k, &v);
    write_model(path, &m, NULL);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 10, &t), WC_OK);
    check_full_scans(t, &m);
    check_random_seeks(t, &m, 100);
    wc_sstable_unref(t);
    model_free(&m);
    wc_buf_free(&k);
    wc_buf_free(&v);
}

static void test_empty_table(void **state)
{
    model m = {0};
    char path[600];
    wc_sstable *t;
    wc_iter *it;
    const wc_sstable_stats *s;

    path_of(path, sizeof(path), "empty.sst");
    write_model(path, &m, NULL);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 11, &t), WC_OK);
    s = wc_sstable_get_stats(t);
    assert_int_equal(s->partitions, 0);
    assert_int_equal(s->blocks, 0);
    assert_int_equal(s->first_key_len, 0);
    assert_int_equal(s->min_ldt, UINT32_MAX);
    it = wc_sstable_iter(t, NULL);
    wc_iter_seek_first(it);
    assert_false(wc_iter_valid(it));
    wc_iter_seek_last(it);
    assert_false(wc_iter_valid(it));
    wc_iter_seek(it, (const uint8_t *)"abc", 3);
    assert_false(wc_iter_valid(it));
    wc_iter_seek_for_prev(it, (const uint8_t *)"abc", 3);
    assert_false(wc_iter_valid(it));
    assert_int_equal(wc_iter_status(it), WC_OK);
    wc_iter_destroy(it);
    assert_false(wc_sstable_may_contain(t, (const uint8_t *)"abc", 3));
    assert_int_equal(wc_sstable_verify(t), WC_OK);
    wc_sstable_unref(t);
}

static void test_stats_exact(void **state)
{
    wc_buf k, v;
    char path[600];
    wc_sstable_writer *w;
    wc_sstable *t;
    const wc_sstable_stats *s;
    wc_rowb rb;
    uint8_t ckA[] = {0x10}, ckB[] = {0x05, 0x01}, ckC[] = {0x20};
    int64_t tokA = -100, tokB = 300;

    wc_buf_init(&k);
    wc_buf_init(&v);
    path_of(path, sizeof(path), "stats.sst");
    assert_int_equal(wc_sstable_writer_open(wc_fs_posix(), path, NULL, &w), WC_OK);

    /* partition A: header with a partition deletion and two range tombstones */
    {
        wc_range_tombstone rts[2] = {
            {.bflags = WC_BOUND_START_UNBOUNDED | WC_BOUND_END_INCL, .end = ckA, .end_len = 1,
             .ts = 20, .ldt = 500},
            {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL, .start = ckC, .start_len = 1,
             .end = ckC, .end_len = 1, .ts = 25, .ldt = 700},
        };
        wc_key_build(&k, tokA, "A", 1, WC_KIND_HEADER, NULL, 0);
        wc_header_build(&v, true, 10, 400, rts, 2);
        assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    }
    /* A: static row, liveness with ttl (expiring, ldt 9000), one live cell ts 30 */
    k.len = v.len = 0;
    wc_key_build(&k, tokA, "A", 1, WC_KIND_STATIC, NULL, 0);
    wc_rowb_begin(&rb, &v);
    wc_rowb_liveness(&rb, 30, 100, 9000);
    {
        wc_cell c = {.column = 1, .ts = 30, .value = (const uint8_t *)"s", .len = 1,
                     .flags = WC_CELLF_EXPIRING, .ttl = 100, .ldt = 9000};
        wc_rowb_cell(&rb, &c);
    }
    wc_rowb_end(&rb);
    assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    /* A: row ckA with a row deletion (ts 35, ldt 600) and a cell tombstone (ts 36, ldt 650) */
    k.len = v.len = 0;
    wc_key_build(&k, tokA, "A", 1, WC_KIND_ROW, ckA, sizeof(ckA));
    wc_rowb_begin(&rb, &v);
    wc_rowb_deletion(&rb, 35, 600);
    {
        wc_cell c = {.column = 2, .ts = 36, .flags = WC_CELLF_TOMBSTONE, .ldt = 650};
        wc_rowb_cell(&rb, &c);
    }
    wc_rowb_end(&rb);
    assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    /* A: row ckC with one expiring cell (ts 5, ldt 800) */
    k.len = v.len = 0;
    wc_key_build(&k, tokA, "A", 1, WC_KIND_ROW, ckC, sizeof(ckC));
    wc_rowb_begin(&rb, &v);
    {
        wc_cell c = {.column = 3, .ts = 5, .value = (const uint8_t *)"x", .len = 1,
                     .flags = WC_CELLF_EXPIRING, .ttl = 10, .ldt = 800};
        wc_rowb_cell(&rb, &c);
    }
    wc_rowb_end(&rb);
    assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    /* B: row ckB with two tombstone cells (ts 50 and 60, ldt 1000 and 300) */
    k.len = v.len = 0;
    wc_key_build(&k, tokB, "B", 1, WC_KIND_ROW, ckB, sizeof(ckB));
    wc_rowb_begin(&rb, &v);
    {
        wc_cell c1 = {.column = 1, .ts = 50, .flags = WC_CELLF_TOMBSTONE, .ldt = 1000};
        wc_cell c2 = {.column = 2, .ts = 60, .flags = WC_CELLF_TOMBSTONE, .ldt = 300};
        wc_rowb_cell(&rb, &c1);
        wc_rowb_cell(&rb, &c2);
    }
    wc_rowb_end(&rb);
    assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    assert_int_equal(wc_sstable_writer_finish(w, NULL), WC_OK);

    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 12, &t), WC_OK);
    s = wc_sstable_get_stats(t);
    assert_int_equal(s->partitions, 2);
    assert_int_equal(s->rows, 4);
    assert_int_equal(s->cells, 5);
    /* pdel + 2 rt + row del + cell tomb + expiring static cell + expiring cell + 2 tombs */
    assert_int_equal(s->tombstones, 9);
    assert_int_equal(s->min_timestamp, 5);
    assert_int_equal(s->max_timestamp, 60);
    assert_int_equal(s->min_ldt, 300);
    assert_int_equal(s->max_ldt, 9000); /* no live non-expiring data */
    assert_int_equal(s->min_token, tokA);
    assert_int_equal(s->max_token, tokB);
    assert_int_equal(s->blocks, 1);
    assert_true(s->has_ck);
    assert_int_equal(s->min_ck_len, 2);
    assert_memory_equal(s->min_ck, ckB, 2);
    assert_int_equal(s->max_ck_len, 1);
    assert_memory_equal(s->max_ck, ckC, 1);
    assert_int_equal(s->last_key_len, k.len);
    assert_memory_equal(s->last_key, k.data, k.len);
    {
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(s->file_bytes, (uint64_t)sb.st_size);
    }
    wc_sstable_unref(t);

    /* a live non-expiring cell makes max_ldt UINT32_MAX */
    assert_int_equal(wc_sstable_writer_open(wc_fs_posix(), path, NULL, &w), WC_OK);
    k.len = 0;
    wc_key_build(&k, 1, "C", 1, WC_KIND_ROW, ckA, 1);
    make_row(&v, 77, 1, 1);
    assert_int_equal(wc_sstable_writer_add(w, k.data, k.len, v.data, v.len), WC_OK);
    assert_int_equal(wc_sstable_writer_finish(w, NULL), WC_OK);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 13, &t), WC_OK);
    s = wc_sstable_get_stats(t);
    assert_int_equal(s->max_ldt, UINT32_MAX);
    assert_int_equal(s->min_ldt, UINT32_MAX);
    assert_int_equal(s->tombstones, 0);
    assert_int_equal(s->min_timestamp, 77);
    assert_int_equal(s->max_timestamp, 77);
    assert_int_equal(s->min_token, 1);
    assert_int_equal(s->max_token, 1);
    wc_sstable_unref(t);
    wc_buf_free(&k);
    wc_buf_free(&v);
}

static void test_rejects_bad_input(void **state)
{
    wc_buf k1, k2, v;
    char path[600], tmp[700];
    wc_sstable_writer *w;

    wc_buf_init(&k1);
    wc_buf_init(&k2);
    wc_buf_init(&v);
    wc_key_build(&k1, 1, "a", 1, WC_KIND_ROW, "b", 1);
    wc_key_build(&k2, 1, "a", 1, WC_KIND_ROW, "c", 1);
    make_row(&v, 1, 1, 1);
    path_of(path, sizeof(path), "bad.sst");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_equal(wc_sstable_writer_open(wc_fs_posix(), path, NULL, &w), WC_OK);
    assert_true(file_exists(tmp));
    assert_int_equal(wc_sstable_writer_add(w, k2.data, k2.len, v.data, v.len), WC_OK);
    /* equal and descending keys */
    assert_int_equal(wc_sstable_writer_add(w, k2.data, k2.len, v.data, v.len),
                     WC_INVALID_ARGUMENT);
    assert_int_equal(wc_sstable_writer_add(w, k1.data, k1.len, v.data, v.len),
                     WC_INVALID_ARGUMENT);
    /* malformed key */
    assert_int_equal(wc_sstable_writer_add(w, (const uint8_t *)"short", 5, v.data, v.len),
                     WC_INVALID_ARGUMENT);
    /* malformed values: row blob under a header key and garbage under a row key */
    k1.len = 0;
    wc_key_build(&k1, 2, "z", 1, WC_KIND_ROW, "a", 1);
    assert_int_equal(wc_sstable_writer_add(w, k1.data, k1.len, (const uint8_t *)"\xff\xff", 2),
                     WC_INVALID_ARGUMENT);
    k1.len = 0;
    wc_key_build(&k1, 2, "z", 1, WC_KIND_END, NULL, 0);
    assert_int_equal(wc_sstable_writer_add(w, k1.data, k1.len, v.data, v.len),
                     WC_INVALID_ARGUMENT);
    assert_int_equal(wc_sstable_writer_entries(w), 1);
    wc_sstable_writer_abort(w);
    assert_false(file_exists(tmp));
    assert_false(file_exists(path));
    wc_buf_free(&k1);
    wc_buf_free(&k2);
    wc_buf_free(&v);
}

/* ------------------------------------------------------------ block cache */

typedef struct reader_arg {
    wc_sstable *t;
    const model *m;
    int rounds;
    uint64_t seed;
    int errors;
} reader_arg;

static void *reader_thread(void *p)
{
    reader_arg *a = p;
    wc_iter *it = wc_sstable_iter(a->t, NULL);
    uint64_t s = a->seed;

    for (int r = 0; r < a->rounds; r++) {
        size_t i, kl, vl;
        const uint8_t *k, *v;

        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        i = s % a->m->n;
        wc_iter_seek(it, a->m->e[i].k, a->m->e[i].klen);
        for (int j = 0; j < 5 && i + j < a->m->n; j++, wc_iter_next(it)) {
            if (!wc_iter_valid(it)) {
                a->errors++;
                break;
            }
            k = wc_iter_key(it, &kl);
            v = wc_iter_value(it, &vl);
            if (kl != a->m->e[i + j].klen || memcmp(k, a->m->e[i + j].k, kl) != 0 ||
                vl != a->m->e[i + j].vlen || memcmp(v, a->m->e[i + j].v, vl) != 0)
                a->errors++;
        }
    }
    if (wc_iter_status(it) != WC_OK)
        a->errors++;
    wc_iter_destroy(it);
    return NULL;
}

static void test_block_cache(void **state)
{
    model m = {0};
    char path[600];
    wc_block_cache *c;
    wc_sstable *t;
    wc_read_counters rc = {0};
    wc_iter *it;
    wc_cache_stats cs;
    wc_sstable_options o;
    size_t n = 0;

    build_model(&m, 200, 10000);
    wc_sstable_options_default(&o);
    o.block_size = 1024;
    path_of(path, sizeof(path), "cache.sst");
    write_model(path, &m, &o);

    /* a cache big enough for everything: the second scan hits only */
    assert_int_equal(wc_block_cache_new(64u << 20, &c), WC_OK);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, c, 100, &t), WC_OK);
    it = wc_sstable_iter(t, &rc);
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it))
        n++;
    assert_int_equal(n, m.n);
    assert_int_equal(rc.blocks_read, wc_sstable_get_stats(t)->blocks);
    assert_int_equal(rc.cache_hits, 0);
    assert_int_equal(rc.bytes_read, wc_sstable_get_stats(t)->data_bytes);
    memset(&rc, 0, sizeof(rc));
    for (wc_iter_seek_last(it); wc_iter_valid(it); wc_iter_prev(it))
        ;
    assert_int_equal(rc.cache_hits, wc_sstable_get_stats(t)->blocks);
    assert_int_equal(rc.blocks_read, rc.cache_hits);
    assert_int_equal(rc.bytes_read, 0);
    assert_true(wc_block_cache_usage(c) >= wc_sstable_get_stats(t)->uncompressed_bytes);
    wc__cache_get_stats(c, &cs);
    assert_int_equal(cs.entries, wc_sstable_get_stats(t)->blocks);
    assert_int_equal(cs.evictions, 0);
    wc_iter_destroy(it);
    wc_sstable_unref(t);
    wc_block_cache_free(c);

    /* a small cache: usage stays under capacity, blocks are evicted, results stay right */
    assert_int_equal(wc_block_cache_new(8 * 1024, &c), WC_OK);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, c, 101, &t), WC_OK);
    {
        /* an iterator holding a block that gets evicted keeps working */
        wc_iter *hold = wc_sstable_iter(t, NULL);
        wc_iter_seek_first(hold);
        expect_at(hold, &m, 0);
        check_full_scans(t, &m);
        wc__cache_get_stats(c, &cs);
        assert_true(cs.evictions > 0);
        assert_true(wc_block_cache_usage(c) <= 8 * 1024);
        expect_at(hold, &m, 0);
        wc_iter_next(hold);
        expect_at(hold, &m, 1);
        wc_iter_destroy(hold);
    }
    check_random_seeks(t, &m, 500);
    assert_true(wc_block_cache_usage(c) <= 8 * 1024);
    wc_sstable_unref(t);
    wc_block_cache_free(c);

    /* concurrent readers sharing one table and one cache of moderate size */
    assert_int_equal(wc_block_cache_new(40 * 1024, &c), WC_OK);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, c, 102, &t), WC_OK);
    {
        pthread_t th[8];
        reader_arg args[8];

        for (int i = 0; i < 8; i++) {
            args[i] = (reader_arg){.t = t, .m = &m, .rounds = 4000, .seed = 77 + i * 1000};
            assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(args[i].errors, 0);
        }
        wc__cache_get_stats(c, &cs);
        assert_true(cs.hits > 0);
        assert_true(cs.usage <= 40 * 1024);
    }
    wc_sstable_unref(t);
    wc_block_cache_free(c);

    /* a large sharded cache under concurrency */
    assert_int_equal(wc_block_cache_new(256u << 20, &c), WC_OK);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, c, 103, &t), WC_OK);
    {
        pthread_t th[4];
        reader_arg args[4];

        for (int i = 0; i < 4; i++) {
            args[i] = (reader_arg){.t = t, .m = &m, .rounds = 3000, .seed = 5 + i};
            assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(args[i].errors, 0);
        }
    }
    wc_sstable_mark_obsolete(t);
    wc_sstable_unref(t);
    assert_false(file_exists(path));
    wc__cache_get_stats(c, &cs);
    assert_int_equal(cs.entries, 0); /* erased with the obsolete file */
    wc_block_cache_free(c);
    model_free(&m);
}

static void test_mark_obsolete(void **state)
{
    model m = {0};
    char path[600];
    wc_sstable *t;
    wc_iter *it;

    build_model(&m, 20, 500);
    path_of(path, sizeof(path), "obsolete.sst");
    write_model(path, &m, NULL);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 20, &t), WC_OK);
    assert_string_equal(wc_sstable_path(t), path);
    assert_int_equal(wc_sstable_file_id(t), 20);
    it = wc_sstable_iter(t, NULL);
    wc_sstable_mark_obsolete(t);
    wc_sstable_unref(t);
    assert_true(file_exists(path)); /* the iterator still holds a reference */
    wc_iter_seek_first(it);
    expect_at(it, &m, 0);
    wc_iter_destroy(it);
    assert_false(file_exists(path));
    model_free(&m);
}

/* ------------------------------------------------------------- corruption */

typedef struct layout {
    uint64_t filter_off, filter_size, stats_off, stats_size, index_off, index_size, body;
} layout;

static layout read_layout(const uint8_t *d, size_t len)
{
    const uint8_t *f = d + len - WC_SST_FOOTER_LEN;
    layout l = {wc_dec_u64(f), wc_dec_u64(f + 8), wc_dec_u64(f + 16), wc_dec_u64(f + 24),
                wc_dec_u64(f + 32), wc_dec_u64(f + 40), len - WC_SST_FOOTER_LEN};
    return l;
}

static void reseal_footer(uint8_t *d, size_t len)
{
    uint8_t *f = d + len - WC_SST_FOOTER_LEN;
    wc_enc_u32(f + 52, (uint32_t)XXH3_64bits(f, WC_SST_FOOTER_CHECKED_LEN));
}

/* recompute the checksum of the stored block [off, off+size) */
static void reseal_block(uint8_t *d, uint64_t off, uint64_t size)
{
    wc_enc_u32(d + off + size - 4, (uint32_t)XXH3_64bits(d + off, size - 4));
}

static wc_status open_bytes(const char *name, const uint8_t *d, size_t len, wc_sstable **t)
{
    char path[600];

    path_of(path, sizeof(path), name);
    spit(path, d, len);
    return wc_sstable_open(wc_fs_posix(), path, NULL, 999, t);
}

/* Scan forward and backward; return the first non-OK status (checks served entries). */
static wc_status scan_status(wc_sstable *t, const model *m)
{
    wc_iter *it = wc_sstable_iter(t, NULL);
    wc_status st;
    size_t i = 0;

    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it))
        expect_at(it, m, i++);
    st = wc_iter_status(it);
    if (st == WC_OK) {
        i = m->n;
        for (wc_iter_seek_last(it); wc_iter_valid(it); wc_iter_prev(it))
            expect_at(it, m, --i);
        st = wc_iter_status(it);
    }
    assert_false(wc_iter_valid(it));
    wc_iter_destroy(it);
    return st;
}

/* largest single allocation seen through the allocator hook */
static size_t max_alloc;
static void *track_malloc(size_t n, void *arg)
{
    if (n > max_alloc)
        max_alloc = n;
    return malloc(n);
}
static void *track_realloc(void *p, size_t n, void *arg)
{
    if (n > max_alloc)
        max_alloc = n;
    return realloc(p, n);
}
static void track_free(void *p, void *arg)
{
    free(p);
}

static void test_corruption(void **state)
{
    model m = {0};
    char path[600];
    uint8_t *orig, *d;
    size_t len;
    layout l;
    wc_sstable *t;
    wc_sstable_options o;

    build_model(&m, 40, 3000);
    wc_sstable_options_default(&o);
    o.block_size = 2048;
    path_of(path, sizeof(path), "good.sst");
    write_model(path, &m, &o);
    orig = slurp(path, &len);
    d = malloc(len);
    l = read_layout(orig, len);
    assert_true(l.filter_off > 0);

    /* a flipped byte in a data block: open works, the iterator reports corruption */
    for (int trial = 0; trial < 50; trial++) {
        uint64_t pos = rnd() % l.filter_off;

        memcpy(d, orig, len);
        d[pos] ^= (uint8_t)(1 + rnd() % 255);
        assert_int_equal(open_bytes("c.sst", d, len, &t), WC_OK);
        assert_int_equal(scan_status(t, &m), WC_CORRUPTION);
        assert_non_null(strstr(wc_last_error(), "c.sst"));
        assert_non_null(strstr(wc_last_error(), "offset"));
        assert_int_equal(wc_sstable_verify(t), WC_CORRUPTION);
        wc_sstable_unref(t);
    }

    /* flipped bytes in the filter, stats, index and footer: open fails */
    {
        struct {
            uint64_t off, size;
        } regions[] = {{l.filter_off, l.filter_size},
                       {l.stats_off, l.stats_size},
                       {l.index_off, l.index_size},
                       {l.body, WC_SST_FOOTER_LEN}};
        for (size_t r = 0; r < 4; r++) {
            for (uint64_t i = 0; i < regions[r].size; i += 1 + regions[r].size / 97) {
                memcpy(d, orig, len);
                d[regions[r].off + i] ^= 0x40;
                assert_int_equal(open_bytes("c.sst", d, len, &t), WC_CORRUPTION);
            }
        }
    }

    /* wrong magic */
    memcpy(d, orig, len);
    d[len - 1] ^= 1;
    assert_int_equal(open_bytes("c.sst", d, len, &t), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "magic"));

    /* truncated files */
    {
        size_t cuts[] = {0, 1, 8, 63, 64, 65, len / 2, len - 1, len - 64};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
            assert_int_equal(open_bytes("c.sst", orig, cuts[i], &t), WC_CORRUPTION);
    }

    /* huge lengths in the footer (resealed, so only the bounds checks catch them) */
    wc_set_allocator(&(wc_allocator){track_malloc, track_realloc, track_free, NULL});
    {
        static const int fields[] = {0, 8, 16, 24, 32, 40};
        static const uint64_t values[] = {UINT64_MAX, 1ull << 40, UINT64_MAX - 100};
        for (size_t f = 0; f < 6; f++) {
            for (size_t v = 0; v < 3; v++) {
                memcpy(d, orig, len);
                wc_enc_u64(d + l.body + fields[f], values[v]);
                reseal_footer(d, len);
                max_alloc = 0;
                assert_int_equal(open_bytes("c.sst", d, len, &t), WC_CORRUPTION);
                assert_true(max_alloc < 2 * len + 4096);
            }
        }
        /* a bad format version */
        memcpy(d, orig, len);
        wc_enc_u32(d + l.body + 48, 99);
        reseal_footer(d, len);
        assert_int_equal(open_bytes("c.sst", d, len, &t), WC_CORRUPTION);
    }
    /* huge uncompressed length in a data block trailer (resealed) */
    {
        wc_buf scratch;
        wc_block *b;
        uint64_t first_size;
        wc_block_iter bi;
        const uint8_t *v;
        size_t vlen;

        /* the first index entry gives the first block's size */
        memcpy(d, orig, len);
        assert_int_equal(wc_block_load(d + l.index_off, l.index_size, 1u << 30, true, &b), WC_OK);
        wc_block_iter_init(&bi);
        wc_block_iter_set(&bi, b);
        wc_block_iter_seek_first(&bi);
        assert_true(wc_block_iter_valid(&bi));
        v = wc_block_iter_value(&bi, &vlen);
        {
            uint64_t off;
            assert_true(wc_get_varint(&v, v + vlen, &off));
            assert_int_equal(off, 0);
            assert_true(wc_get_varint(&v, v + vlen, &first_size));
        }
        wc_block_iter_free(&bi);
        wc_block_unref(b);
        wc_buf_init(&scratch);
        for (int mode = 0; mode < 4; mode++) {
            uint8_t *tr;

            memcpy(d, orig, len);
            tr = d + first_size - WC_SST_TRAILER_LEN;
            if (mode == 0)
                wc_enc_u32(tr + 1, UINT32_MAX);
            else if (mode == 1)
                wc_enc_u32(tr + 1, WC_SST_MAX_BLOCK_LEN); /* within max, too big for the ratio? */
            else if (mode == 2)
                tr[0] = 7; /* unknown type */
            else
                d[0] ^= 0xff; /* bad payload with a valid checksum */
            reseal_block(d, 0, first_size);
            assert_int_equal(open_bytes("c.sst", d, len, &t), WC_OK);
            max_alloc = 0;
            assert_int_equal(scan_status(t, &m), WC_CORRUPTION);
            assert_true(max_alloc < (1u << 20));
            assert_int_equal(wc_sstable_verify(t), WC_CORRUPTION);
            wc_sstable_unref(t);
        }
        wc_buf_free(&scratch);
    }
    wc_set_allocator(NULL);

    /* every single-byte flip anywhere is caught by open or verify */
    for (size_t pos = 0; pos < len; pos += 1 + len / 1500) {
        wc_status st;

        memcpy(d, orig, len);
        d[pos] ^= 0x01;
        st = open_bytes("c.sst", d, len, &t);
        if (st == WC_OK) {
            assert_int_equal(wc_sstable_verify(t), WC_CORRUPTION);
            wc_sstable_unref(t);
        } else {
            assert_int_equal(st, WC_CORRUPTION);
        }
    }

    /* a missing file */
    path_of(path, sizeof(path), "missing.sst");
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 1, &t), WC_NOT_FOUND);
    free(d);
    wc_free(orig);
    model_free(&m);
}

/* --------------------------------------------------------- index in place */

/* The posix fs with views: every file mapped whole, read-only, as a direct-read client maps them. */
typedef struct viewfile {
    wc_file base;
    wc_file *inner;
    uint8_t *map;
    size_t len;
} viewfile;

static wc_fs g_viewfs;
static int g_views; /* views handed out */

static wc_status vf_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    viewfile *f = calloc(1, sizeof(*f));
    uint64_t size;
    wc_status st;

    assert_non_null(f);
    st = wc_fs_posix()->open(wc_fs_posix(), path, flags, &f->inner);
    if (st != WC_OK) {
        free(f);
        return st;
    }
    assert_int_equal(wc_fs_posix()->size(f->inner, &size), WC_OK);
    f->len = (size_t)size;
    f->map = size ? mmap(NULL, f->len, PROT_READ, MAP_SHARED, wc_fs_posix_fd(f->inner), 0) : NULL;
    assert_true(f->map != MAP_FAILED);
    f->base.fs = fs;
    *out = &f->base;
    return WC_OK;
}
static wc_status vf_pread(wc_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    return wc_fs_posix()->pread(((viewfile *)f)->inner, buf, n, off, got);
}
static wc_status vf_size(wc_file *f, uint64_t *out)
{
    return wc_fs_posix()->size(((viewfile *)f)->inner, out);
}
static wc_status vf_close(wc_file *f)
{
    viewfile *v = (viewfile *)f;
    wc_status st;

    if (v->map)
        munmap(v->map, v->len);
    st = wc_fs_posix()->close(v->inner);
    free(v);
    return st;
}
static const uint8_t *vf_view(wc_file *f, uint64_t off, size_t n)
{
    viewfile *v = (viewfile *)f;

    if (v->map == NULL || off > v->len || n > v->len - off)
        return NULL;
    g_views++;
    return v->map + off;
}

static wc_status open_either_flags(bool view, const char *name, const uint8_t *d, size_t len,
                                   unsigned flags, wc_sstable **t)
{
    char path[600];

    path_of(path, sizeof(path), name);
    spit(path, d, len);
    g_viewfs = *wc_fs_posix();
    g_viewfs.open = vf_open;
    g_viewfs.pread = vf_pread;
    g_viewfs.size = vf_size;
    g_viewfs.close = vf_close;
    g_viewfs.view = vf_view;
    return wc_sstable_open_flags(view ? &g_viewfs : wc_fs_posix(), path, NULL, 998, flags, t);
}

static wc_status open_either(bool view, const char *name, const uint8_t *d, size_t len,
                             wc_sstable **t)
{
    return open_either_flags(view, name, d, len, 0, t);
}

/* Open d both ways, with and without WC_SST_OPEN_CHECKED_INDEX; each must read exactly m. */
static void check_both_ways(const char *name, const uint8_t *d, size_t len, const model *m)
{
    for (int view = 0; view < 4; view++) {
        wc_sstable *t;

        g_views = 0;
        assert_int_equal(open_either_flags(view & 1, name, d, len,
                                           view & 2 ? WC_SST_OPEN_CHECKED_INDEX : 0, &t),
                         WC_OK);
        assert_true((view & 1) ? g_views >= 3 : g_views == 0);
        check_full_scans(t, m);
        check_random_seeks(t, m, 2000);
        assert_int_equal(wc_sstable_verify(t), WC_OK);
        wc_sstable_unref(t);
    }
}

/* Offset of entry i in index contents c (ulen bytes). */
static size_t index_entry_at(const uint8_t *c, size_t ulen, uint32_t i)
{
    uint32_t n = wc_dec_u32(c + ulen - 4);

    assert_true(i < n);
    return wc_dec_u32(c + ulen - 4 - 4 * (size_t)n + 4 * (size_t)i);
}

/*
 * The writer stores the index block raw, and a reader with a view of the
 * file searches it where it is: opening copies nothing of it.  A file with
 * an LZ4-compressed index (as written before) reads the same either way.
 * An index sealed with a good checksum but malformed is refused at open,
 * in place or not; opened as checked elsewhere (WC_SST_OPEN_CHECKED_INDEX),
 * a malformed entry fails the read that decodes it.
 */
static void test_index_in_place(void **state)
{
    model m = {0};
    char path[600];
    uint8_t *orig, *d;
    size_t len, ulen;
    layout l;
    wc_sstable *t;
    wc_sstable_options o;

    build_model(&m, 400, 20000);
    wc_sstable_options_default(&o);
    o.block_size = 1024; /* many blocks */
    path_of(path, sizeof(path), "inplace.sst");
    write_model(path, &m, &o);
    orig = slurp(path, &len);
    l = read_layout(orig, len);
    ulen = l.index_size - WC_SST_TRAILER_LEN;
    /* raw, although compression is on */
    assert_int_equal(orig[l.index_off + ulen], WC_SST_BLOCK_RAW);

    wc_set_allocator(&(wc_allocator){track_malloc, track_realloc, track_free, NULL});
    max_alloc = 0;
    assert_int_equal(open_either(true, "inplace.sst", orig, len, &t), WC_OK);
    wc_set_allocator(NULL);
    assert_true(wc_sstable_get_stats(t)->blocks > 200);
    assert_true(max_alloc < ulen / 8); /* nothing of the index was copied */
    wc_sstable_unref(t);
    check_both_ways("inplace.sst", orig, len, &m);

    /* the same file with an LZ4-compressed index */
    {
        wc_buf scratch, blk;
        uint8_t *old;
        size_t olen;

        wc_buf_init(&scratch);
        wc_buf_init(&blk);
        wc_block_wrap(orig + l.index_off, ulen, true, &scratch, &blk);
        assert_false(blk.failed);
        assert_int_equal(blk.data[blk.len - WC_SST_TRAILER_LEN], WC_SST_BLOCK_LZ4);
        olen = l.index_off + blk.len + WC_SST_FOOTER_LEN;
        old = malloc(olen);
        memcpy(old, orig, l.index_off);
        memcpy(old + l.index_off, blk.data, blk.len);
        memcpy(old + l.index_off + blk.len, orig + l.body, WC_SST_FOOTER_LEN);
        wc_enc_u64(old + olen - WC_SST_FOOTER_LEN + 40, blk.len);
        reseal_footer(old, olen);
        check_both_ways("lz4index.sst", old, olen, &m);
        free(old);
        wc_buf_free(&scratch);
        wc_buf_free(&blk);
    }

    /* sealed but malformed */
    d = malloc(len);
    for (int kind = 0; kind < 4; kind++) {
        uint8_t *c = d + l.index_off;
        size_t e, p;
        uint64_t unshared = 0, vlen = 0;
        const uint8_t *q;

        memcpy(d, orig, len);
        e = index_entry_at(c, ulen, 1);
        q = c + e + 1;
        assert_int_equal(c[e], 0); /* shared */
        assert_true(wc_get_varint(&q, c + ulen, &unshared));
        assert_true(wc_get_varint(&q, c + ulen, &vlen));
        p = (size_t)(q - c); /* the key */
        if (kind == 0)
            c[e] = 1; /* shares with the entry before */
        else if (kind == 1)
            memset(c + p, 0, unshared); /* below the key before */
        else if (kind == 2)
            c[p + unshared] ^= 1; /* the block's offset: handles no longer contiguous */
        else
            wc_enc_u32(c + ulen - 4 - 4 * (size_t)wc_dec_u32(c + ulen - 4) + 4, (uint32_t)p);
        reseal_block(d, l.index_off, l.index_size);
        for (int view = 0; view < 2; view++) {
            assert_int_equal(open_either(view, "bad.sst", d, len, &t), WC_CORRUPTION);
            assert_non_null(strstr(wc_last_error(), "index"));
        }
        if (kind == 0) {
            /* checked elsewhere: the entry is caught when a read decodes it */
            assert_int_equal(
                open_either_flags(true, "bad.sst", d, len, WC_SST_OPEN_CHECKED_INDEX, &t), WC_OK);
            assert_int_equal(scan_status(t, &m), WC_CORRUPTION);
            assert_non_null(strstr(wc_last_error(), "malformed index entry 1"));
            wc_sstable_unref(t);
        }
    }
    free(d);
    wc_free(orig);
    model_free(&m);
}

/* --------------------------------------------------------- write failures */

/* A wrapper around the posix fs that fails one kind of operation. */
enum fail_op { FAIL_NONE, FAIL_PWRITE, FAIL_SYNC, FAIL_RENAME, FAIL_SYNC_DIR, FAIL_CLOSE };

typedef struct failfs {
    wc_fs base;
    wc_fs *real;
    enum fail_op op;
    int countdown; /* fail the Nth call of op */
} failfs;

static failfs g_ffs;

static bool should_fail(enum fail_op op)
{
    return g_ffs.op == op && --g_ffs.countdown == 0;
}

static wc_status ff_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    return g_ffs.real->open(g_ffs.real, path, flags, out);
}
static wc_status ff_pwrite(wc_file *f, const void *buf, size_t n, uint64_t off)
{
    if (should_fail(FAIL_PWRITE))
        return wc_error(WC_NO_SPACE, "injected ENOSPC");
    return g_ffs.real->pwrite(f, buf, n, off);
}
static wc_status ff_sync(wc_file *f)
{
    if (should_fail(FAIL_SYNC))
        return wc_error(WC_IO_ERROR, "injected fsync failure");
    return g_ffs.real->sync(f);
}
static wc_status ff_close(wc_file *f)
{
    wc_status st = g_ffs.real->close(f);
    if (should_fail(FAIL_CLOSE))
        return wc_error(WC_IO_ERROR, "injected close failure");
    return st;
}
static wc_status ff_rename(wc_fs *fs, const char *a, const char *b)
{
    if (should_fail(FAIL_RENAME))
        return wc_error(WC_IO_ERROR, "injected rename failure");
    return g_ffs.real->rename(g_ffs.real, a, b);
}
static wc_status ff_unlink(wc_fs *fs, const char *p)
{
    return g_ffs.real->unlink(g_ffs.real, p);
}
static wc_status ff_sync_dir(wc_fs *fs, const char *p)
{
    if (should_fail(FAIL_SYNC_DIR))
        return wc_error(WC_IO_ERROR, "injected directory fsync failure");
    return g_ffs.real->sync_dir(g_ffs.real, p);
}

static void test_write_failures(void **state)
{
    model m = {0};
    char path[600], tmp[700];
    wc_fs *real = wc_fs_posix();
    static const struct {
        enum fail_op op;
        int countdown;
        wc_status expect;
    } cases[] = {
        {FAIL_PWRITE, 1, WC_NO_SPACE},  {FAIL_PWRITE, 2, WC_NO_SPACE},
        {FAIL_PWRITE, 3, WC_NO_SPACE},  {FAIL_SYNC, 1, WC_IO_ERROR},
        {FAIL_CLOSE, 1, WC_IO_ERROR},   {FAIL_RENAME, 1, WC_IO_ERROR},
        {FAIL_SYNC_DIR, 1, WC_IO_ERROR},
    };
    uint64_t live = wc_alloc_live_count();
    wc_sstable_options raw;
    uint64_t bytes = 0;

    g_ffs.base = *real;
    g_ffs.base.open = ff_open;
    g_ffs.base.pwrite = ff_pwrite;
    g_ffs.base.sync = ff_sync;
    g_ffs.base.close = ff_close;
    g_ffs.base.rename = ff_rename;
    g_ffs.base.unlink = ff_unlink;
    g_ffs.base.sync_dir = ff_sync_dir;
    g_ffs.real = real;
    wc_sstable_options_default(&raw);
    raw.compression = 0;
    build_model(&m, 200, 12000); /* several write-buffer flushes */
    path_of(path, sizeof(path), "fail.sst");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        g_ffs.op = cases[i].op;
        g_ffs.countdown = cases[i].countdown;
        assert_int_equal(write_model_fs(&g_ffs.base, path, &m, &raw, NULL), cases[i].expect);
        assert_non_null(strstr(wc_last_error(), "injected"));
        assert_false(file_exists(path));
        assert_false(file_exists(tmp));
    }
    /* without faults it works through the same wrapper */
    g_ffs.op = FAIL_NONE;
    assert_int_equal(write_model_fs(&g_ffs.base, path, &m, &raw, &bytes), WC_OK);
    assert_true(bytes > 3 * WC_SST_WRITE_BUFFER);
    assert_true(file_exists(path));
    unlink(path);
    /* allocation failures anywhere in writing never leak or leave files */
    for (uint64_t n = 1; n < 60; n += 3) {
        wc_status st;

        wc_alloc_fail_after(n, 1);
        st = write_model_fs(real, path, &m, NULL, NULL);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK) {
            unlink(path);
            continue;
        }
        assert_int_equal(st, WC_NO_MEMORY);
        assert_false(file_exists(path));
        assert_false(file_exists(tmp));
    }
    assert_int_equal(wc_alloc_live_count(), live);
    model_free(&m);
}

/* The shared fault-injecting file system: ENOSPC with a short write, fsync failure, crash. */
static void test_faultfs(void **state)
{
    model m = {0};
    char path[600], tmp[700];
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_fs *fs;
    wc_sstable_options raw;
    wc_sstable *t;
    wc_faultfs_counts fc;

    assert_non_null(ff);
    fs = wc_faultfs_fs(ff);
    wc_sstable_options_default(&raw);
    raw.compression = 0;
    build_model(&m, 200, 12000);
    path_of(path, sizeof(path), "ffs.sst");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    for (uint64_t nth = 1; nth <= 4; nth++) {
        wc_faultfs_fail_write(ff, nth, nth == 4, WC_NO_SPACE, 100);
        assert_int_equal(write_model_fs(fs, path, &m, &raw, NULL), WC_NO_SPACE);
        assert_false(file_exists(path));
        assert_false(file_exists(tmp));
        wc_faultfs_reset(ff);
    }
    wc_faultfs_fail_sync(ff, 1, false);
    assert_int_equal(write_model_fs(fs, path, &m, &raw, NULL), WC_IO_ERROR);
    assert_false(file_exists(path));
    assert_false(file_exists(tmp));
    wc_faultfs_reset(ff);
    wc_faultfs_get_counts(ff, &fc);
    assert_true(fc.failed_writes >= 4);
    assert_int_equal(fc.failed_syncs, 1);

    /* a crash in the middle of writing leaves no final file */
    {
        wc_sstable_writer *w;

        assert_int_equal(wc_sstable_writer_open(fs, path, &raw, &w), WC_OK);
        for (size_t i = 0; i < m.n; i++)
            if (wc_sstable_writer_add(w, m.e[i].k, m.e[i].klen, m.e[i].v, m.e[i].vlen) != WC_OK)
                break;
        wc_faultfs_crash(ff);
        assert_int_not_equal(wc_sstable_writer_finish(w, NULL), WC_OK);
        assert_false(file_exists(path));
        wc_faultfs_reset(ff);
        unlink(tmp); /* the crashed process could not remove it; recovery does */
    }

    /* a finished file survives a crash intact: everything was synced before the rename */
    assert_int_equal(write_model_fs(fs, path, &m, NULL, NULL), WC_OK);
    wc_faultfs_crash(ff);
    wc_faultfs_reset(ff);
    assert_int_equal(wc_sstable_open(wc_fs_posix(), path, NULL, 5, &t), WC_OK);
    assert_int_equal(wc_sstable_verify(t), WC_OK);
    check_full_scans(t, &m);
    wc_sstable_unref(t);
    wc_faultfs_free(ff);
    model_free(&m);
}

static void test_open_alloc_failures(void **state)
{
    model m = {0};
    char path[600];
    uint64_t live;

    build_model(&m, 30, 2000);
    path_of(path, sizeof(path), "oom.sst");
    write_model(path, &m, NULL);
    live = wc_alloc_live_count();
    for (uint64_t n = 1; n < 40; n++) {
        wc_sstable *t;
        wc_status st;

        wc_alloc_fail_after(n, 1);
        st = wc_sstable_open(wc_fs_posix(), path, NULL, 1, &t);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK) {
            wc_alloc_fail_after(n, 1);
            wc_iter *it = wc_sstable_iter(t, NULL);
            if (it) {
                wc_iter_seek_first(it);
                while (wc_iter_valid(it))
                    wc_iter_next(it);
                assert_true(wc_iter_status(it) == WC_OK || wc_iter_status(it) == WC_NO_MEMORY);
                wc_iter_destroy(it);
            }
            wc_alloc_fail_after(0, 0);
            wc_sstable_unref(t);
        } else {
            assert_int_equal(st, WC_NO_MEMORY);
        }
        assert_int_equal(wc_alloc_live_count(), live);
    }
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_100k, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_small_blocks_no_compression, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_large_values_and_single_entry, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_empty_table, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_stats_exact, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_rejects_bad_input, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_block_cache, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mark_obsolete, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_corruption, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_failures, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_faultfs, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_open_alloc_failures, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_index_in_place, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
