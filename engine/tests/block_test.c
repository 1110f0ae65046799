/*
 * block_test.c - the block builder, stored-block wrapper/loader and block
 * iterator: round trips for several restart intervals, seek/prev against a
 * sorted array, and malformed contents (never a crash, always corruption).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "block.h"
#include "sstable_format.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

#define NKEYS 2000
static char keys[NKEYS][24];

static int cmpstr(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void make_keys(void)
{
    for (int i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "key%06u", (unsigned)(i * 7 + (rnd() % 7)));
    qsort(keys, NKEYS, sizeof(keys[0]), cmpstr);
}

static wc_block *build(uint32_t interval, int n, bool compress)
{
    wc_block_builder bb;
    wc_buf scratch, out;
    const uint8_t *c;
    size_t len;
    wc_block *b;

    wc_block_builder_init(&bb, interval);
    for (int i = 0; i < n; i++)
        wc_block_builder_add(&bb, (const uint8_t *)keys[i], strlen(keys[i]),
                             (const uint8_t *)keys[i] + 3, strlen(keys[i]) - 3);
    c = wc_block_builder_finish(&bb, &len);
    assert_non_null(c);
    wc_buf_init(&scratch);
    wc_buf_init(&out);
    wc_block_wrap(c, len, compress, &scratch, &out);
    assert_false(out.failed);
    assert_int_equal(wc_block_load(out.data, out.len, WC_SST_MAX_BLOCK_LEN, true, &b), WC_OK);
    assert_int_equal(b->len, len);
    if (compress && n > 100)
        assert_int_equal(out.data[out.len - WC_SST_TRAILER_LEN], WC_SST_BLOCK_LZ4);
    wc_buf_free(&scratch);
    wc_buf_free(&out);
    wc_block_builder_free(&bb);
    return b;
}

static void expect(wc_block_iter *bi, int i)
{
    size_t kl, vl;
    const uint8_t *k, *v;

    assert_true(wc_block_iter_valid(bi));
    k = wc_block_iter_key(bi, &kl);
    v = wc_block_iter_value(bi, &vl);
    assert_int_equal(kl, strlen(keys[i]));
    assert_memory_equal(k, keys[i], kl);
    assert_int_equal(vl, kl - 3);
    assert_memory_equal(v, keys[i] + 3, vl);
}

static void test_roundtrip(void **state)
{
    static const uint32_t intervals[] = {1, 2, 5, 16, 1000};

    make_keys();
    for (size_t t = 0; t < 5; t++) {
        for (int n = 1; n <= NKEYS; n = n * 3 + 1) {
            wc_block *b = build(intervals[t], n, t & 1);
            wc_block_iter bi;
            int i = 0;

            wc_block_iter_init(&bi);
            wc_block_iter_set(&bi, b);
            for (wc_block_iter_seek_first(&bi); wc_block_iter_valid(&bi); wc_block_iter_next(&bi))
                expect(&bi, i++);
            assert_int_equal(i, n);
            for (wc_block_iter_seek_last(&bi); wc_block_iter_valid(&bi); wc_block_iter_prev(&bi))
                expect(&bi, --i);
            assert_int_equal(i, 0);
            /* seeks */
            for (int r = 0; r < 300; r++) {
                char tg[24];
                int lb = 0, pos;

                snprintf(tg, sizeof(tg), "key%06u", (unsigned)(rnd() % (NKEYS * 7 + 20)));
                if (r % 5 == 0)
                    tg[4 + rnd() % 5] = '\0';
                while (lb < n && strcmp(keys[lb], tg) < 0)
                    lb++;
                wc_block_iter_seek(&bi, (const uint8_t *)tg, strlen(tg));
                if (lb == n) {
                    assert_false(wc_block_iter_valid(&bi));
                } else {
                    expect(&bi, lb);
                    pos = lb;
                    for (int s = 0; s < 20 && pos > 0; s++) {
                        wc_block_iter_prev(&bi);
                        expect(&bi, --pos);
                        if (s % 3 == 2) {
                            wc_block_iter_next(&bi);
                            expect(&bi, ++pos);
                        }
                    }
                }
                pos = (lb < n && strcmp(keys[lb], tg) == 0) ? lb : lb - 1;
                wc_block_iter_seek_for_prev(&bi, (const uint8_t *)tg, strlen(tg));
                if (pos < 0)
                    assert_false(wc_block_iter_valid(&bi));
                else
                    expect(&bi, pos);
                assert_int_equal(bi.st, WC_OK);
            }
            wc_block_iter_free(&bi);
            wc_block_unref(b);
        }
    }
}

static void test_empty_block(void **state)
{
    wc_block_builder bb;
    const uint8_t *c;
    size_t len, roff;
    uint32_t nr;
    wc_block_iter bi;

    wc_block_builder_init(&bb, 16);
    c = wc_block_builder_finish(&bb, &len);
    assert_int_equal(len, 4);
    assert_true(wc_block_check_restarts(c, len, &roff, &nr));
    assert_int_equal(nr, 0);
    wc_block_iter_init(&bi);
    wc_block_iter_set_raw(&bi, c, roff, nr);
    wc_block_iter_seek_first(&bi);
    assert_false(wc_block_iter_valid(&bi));
    wc_block_iter_seek(&bi, (const uint8_t *)"a", 1);
    assert_false(wc_block_iter_valid(&bi));
    wc_block_iter_seek_for_prev(&bi, (const uint8_t *)"a", 1);
    assert_false(wc_block_iter_valid(&bi));
    wc_block_iter_free(&bi);
    wc_block_builder_free(&bb);
}

static void reseal(uint8_t *s, size_t n)
{
    wc_enc_u32(s + n - 4, (uint32_t)XXH3_64bits(s, n - 4));
}

static void test_load_errors(void **state)
{
    uint8_t s[64] = {0};
    wc_block *b;

    /* too short for a trailer */
    assert_int_equal(wc_block_load(s, 8, 1024, false, &b), WC_CORRUPTION);
    /* checksum mismatch */
    s[9] = 0; /* raw */
    wc_enc_u32(s + 10, 9);
    assert_int_equal(wc_block_load(s, 18, 1024, false, &b), WC_CORRUPTION);
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, 1024, false, &b), WC_OK);
    wc_block_unref(b);
    /* raw length mismatch */
    wc_enc_u32(s + 10, 8);
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, 1024, false, &b), WC_CORRUPTION);
    /* above max_len */
    wc_enc_u32(s + 10, 9);
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, 8, false, &b), WC_CORRUPTION);
    /* unknown type */
    s[9] = 2;
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, 1024, false, &b), WC_CORRUPTION);
    /* lz4 with an implausible ratio and with a garbage stream */
    s[9] = 1;
    wc_enc_u32(s + 10, UINT32_MAX);
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, UINT32_MAX, false, &b), WC_CORRUPTION);
    wc_enc_u32(s + 10, 100);
    memset(s, 0xf0, 9);
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, 1024, false, &b), WC_CORRUPTION);
    /* a bad restart array: raw contents of 9 bytes ending in a huge count */
    memset(s, 0, 9);
    wc_enc_u32(s + 5, 1000);
    s[9] = 0;
    wc_enc_u32(s + 10, 9);
    reseal(s, 18);
    assert_int_equal(wc_block_load(s, 18, 1024, true, &b), WC_CORRUPTION);
    assert_int_equal(wc_block_load(s, 18, 1024, false, &b), WC_OK);
    wc_block_unref(b);
}

/* random contents with a valid restart array: iteration never crashes or overreads */
static void test_garbage_entries(void **state)
{
    uint64_t live = wc_alloc_live_count();

    for (int round = 0; round < 3000; round++) {
        size_t n = 8 + rnd() % 200, roff, len;
        uint32_t nr = 1 + (uint32_t)(rnd() % 4);
        uint8_t *d;
        wc_block_iter bi;
        int steps = 0;

        len = n + nr * 4 + 4;
        d = malloc(len);
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)(rnd() % 4 == 0 ? rnd() : rnd() % 8);
        for (uint32_t i = 0; i < nr; i++)
            wc_enc_u32(d + n + i * 4, i == 0 ? 0 : (uint32_t)(i * (n / nr)));
        wc_enc_u32(d + len - 4, nr);
        if (!wc_block_check_restarts(d, len, &roff, &nr)) {
            free(d);
            continue;
        }
        wc_block_iter_init(&bi);
        wc_block_iter_set_raw(&bi, d, roff, nr);
        for (wc_block_iter_seek_first(&bi); wc_block_iter_valid(&bi) && steps < 1000;
             wc_block_iter_next(&bi))
            steps++;
        wc_block_iter_set_raw(&bi, d, roff, nr);
        for (wc_block_iter_seek_last(&bi); wc_block_iter_valid(&bi) && steps < 2000;
             wc_block_iter_prev(&bi))
            steps++;
        wc_block_iter_set_raw(&bi, d, roff, nr);
        wc_block_iter_seek(&bi, d, 3);
        wc_block_iter_set_raw(&bi, d, roff, nr);
        wc_block_iter_seek_for_prev(&bi, d + 1, 4);
        if (wc_block_iter_valid(&bi))
            wc_block_iter_prev(&bi);
        wc_block_iter_free(&bi);
        free(d);
    }
    assert_int_equal(wc_alloc_live_count(), live);
}

/*
 * Decoding into a spare block: a big enough spare is the result (nothing
 * allocated), a small one is freed, and every failure frees the spare too.
 */
static void test_load_reuse(void **state)
{
    uint64_t live0 = wc_alloc_live_count();
    uint8_t s[64] = {0};
    wc_block *big, *small, *b, *spare;

    big = build(16, 200, true);
    small = build(16, 3, false);
    assert_int_equal(big->cap, big->len);
    assert_int_equal(small->cap, small->len);
    /* a raw 9-byte block decoded into the big block's buffer */
    s[9] = 0;
    wc_enc_u32(s + 10, 9);
    memcpy(s, "123456789", 9);
    reseal(s, 18);
    spare = big;
    assert_int_equal(wc_block_load_reuse(s, 18, 1024, false, spare, &b), WC_OK);
    assert_ptr_equal(b, spare);
    assert_int_equal(b->len, 9);
    assert_true(b->cap > 9);
    assert_memory_equal(b->data, "123456789", 9);
    assert_int_equal(atomic_load(&b->refs), 1);
    wc_block_unref(b);
    /* a spare smaller than the block is freed and a new block allocated */
    small->cap = 8;
    assert_int_equal(wc_block_load_reuse(s, 18, 1024, false, small, &b), WC_OK);
    assert_int_equal(b->cap, 9);
    assert_memory_equal(b->data, "123456789", 9);
    wc_block_unref(b);
    spare = build(16, 150, true);
    /* failures free the spare */
    assert_int_equal(wc_block_load_reuse(s, 8, 1024, false, spare, &b), WC_CORRUPTION);
    assert_null(b);
    spare = build(16, 3, false);
    s[0] ^= 1;
    assert_int_equal(wc_block_load_reuse(s, 18, 1024, false, spare, &b), WC_CORRUPTION);
    assert_int_equal(wc_alloc_live_count(), live0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty_block),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_reuse),
        cmocka_unit_test(test_garbage_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
