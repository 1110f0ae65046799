/*
 * cache_test.c - unit tests of the block cache (cache.h): lookups against a
 * model through inserts, evictions and file erasure (the open-addressing
 * table must find every cached block after deletions shifted its probe
 * chains), second-chance eviction, the capacity bound and leak-free
 * destruction.  Single-threaded; sstable_test covers concurrent readers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "block.h"
#include "cache.h"

/* A block of len content bytes filled with tag, one reference. */
static wc_block *make_block(size_t len, uint8_t tag)
{
    wc_block *b = wc_malloc(sizeof(*b) + len);

    assert_non_null(b);
    atomic_init(&b->refs, 1);
    b->nrestarts = 0;
    b->cap = len;
    b->len = len;
    b->restarts_off = len;
    memset(b->data, tag, len);
    return b;
}

/* Cached blocks of one entry's charge: content + the two headers. */
#define BLEN 1000

static size_t count_found(wc_block_cache *c, uint64_t files, uint64_t blocks)
{
    size_t n = 0;

    for (uint64_t f = 1; f <= files; f++)
        for (uint64_t o = 0; o < blocks; o++) {
            wc_block *b = wc__cache_lookup(c, f, o * 4096);

            if (b) {
                assert_int_equal(b->data[0], (uint8_t)(f * 31 + o));
                wc_block_unref(b);
                n++;
            }
        }
    return n;
}

/* Every cached block is found, whatever was inserted, evicted or erased before it. */
static void test_model(void **state)
{
    uint64_t live0 = wc_alloc_live_count();
    wc_block_cache *c;
    wc_cache_stats cs;
    uint64_t s = 99;

    /* one shard of ~300 blocks: the table grows, evicts and shifts chains */
    assert_int_equal(wc_block_cache_new(300 * (BLEN + 200), &c), WC_OK);
    for (int i = 0; i < 20000; i++) {
        uint64_t f = 1 + (s >> 33) % 7, o = (s >> 17) % 120;
        wc_block *b = wc__cache_lookup(c, f, o * 4096);

        if (b == NULL) {
            b = make_block(BLEN, (uint8_t)(f * 31 + o));
            wc__cache_insert(c, f, o * 4096, b);
        }
        assert_int_equal(b->data[0], (uint8_t)(f * 31 + o));
        wc_block_unref(b);
        if (i % 5000 == 4999)
            wc__cache_erase_file(c, 1 + i % 7);
        if (i % 1000 == 999) {
            wc__cache_get_stats(c, &cs);
            assert_true(cs.usage <= 300 * (BLEN + 200));
            assert_int_equal(count_found(c, 7, 120), cs.entries);
        }
        s = s * 6364136223846793005ull + 1442695040888963407ull;
    }
    wc__cache_get_stats(c, &cs);
    assert_true(cs.evictions > 0);
    assert_true(cs.hits > 0);
    wc__cache_erase_file(c, 3);
    for (uint64_t o = 0; o < 120; o++)
        assert_null(wc__cache_lookup(c, 3, o * 4096));
    wc__cache_get_stats(c, &cs);
    assert_int_equal(count_found(c, 7, 120), cs.entries);
    wc_block_cache_free(c);
    assert_int_equal(wc_alloc_live_count(), live0);
}

/* A block hit since it was inserted survives the eviction of an older, untouched one. */
static void test_second_chance(void **state)
{
    uint64_t live0 = wc_alloc_live_count();
    wc_block_cache *c;
    wc_block *b;
    wc_cache_stats cs;

    /* room for four blocks */
    assert_int_equal(wc_block_cache_new(4 * (BLEN + 200), &c), WC_OK);
    for (uint64_t o = 0; o < 4; o++) {
        b = make_block(BLEN, (uint8_t)o);
        wc__cache_insert(c, 1, o, b);
        wc_block_unref(b);
    }
    wc__cache_get_stats(c, &cs);
    assert_int_equal(cs.entries, 4);
    /* hit the oldest, then insert a fifth: the second oldest goes */
    b = wc__cache_lookup(c, 1, 0);
    assert_non_null(b);
    wc_block_unref(b);
    b = make_block(BLEN, 4);
    wc__cache_insert(c, 1, 4, b);
    wc_block_unref(b);
    assert_null(wc__cache_lookup(c, 1, 1));
    for (uint64_t o = 0; o < 5; o++) {
        if (o == 1)
            continue;
        b = wc__cache_lookup(c, 1, o);
        assert_non_null(b);
        assert_int_equal(b->data[0], (uint8_t)o);
        wc_block_unref(b);
    }
    /* every block was hit: all are spared once, then the oldest (2) goes, not the new one */
    b = make_block(BLEN, 5);
    wc__cache_insert(c, 1, 5, b);
    wc_block_unref(b);
    wc__cache_get_stats(c, &cs);
    assert_int_equal(cs.entries, 4);
    assert_true(cs.usage <= 4 * (BLEN + 200));
    assert_null(wc__cache_lookup(c, 1, 2));
    /* a block held by a reader outlives its eviction */
    b = wc__cache_lookup(c, 1, 5);
    assert_non_null(b);
    wc__cache_erase_file(c, 1);
    assert_int_equal(b->data[0], 5);
    wc_block_unref(b);
    wc__cache_get_stats(c, &cs);
    assert_int_equal(cs.entries, 0);
    assert_int_equal(cs.usage, 0);
    wc_block_cache_free(c);
    assert_int_equal(wc_alloc_live_count(), live0);
}

/* Evicted blocks nobody holds become spares of their shard; the cache frees the rest. */
static void test_spares(void **state)
{
    uint64_t live0 = wc_alloc_live_count();
    wc_block_cache *c;
    wc_block *held, *b, *first;

    /* room for two blocks, one shard */
    assert_int_equal(wc_block_cache_new(2 * (BLEN + 200), &c), WC_OK);
    assert_null(wc__cache_take_spare(c, 1, 0));
    first = make_block(BLEN, 0);
    wc__cache_insert(c, 1, 0, first);
    wc_block_unref(first);
    held = make_block(BLEN, 1);
    wc__cache_insert(c, 1, 1, held); /* the test keeps its reference */
    /* block 0 is evicted with no other reference: a spare */
    b = make_block(BLEN, 2);
    wc__cache_insert(c, 1, 2, b);
    wc_block_unref(b);
    b = wc__cache_take_spare(c, 1, 0);
    assert_ptr_equal(b, first);
    assert_int_equal(b->cap, BLEN);
    assert_null(wc__cache_take_spare(c, 1, 0));
    wc_free(b);
    /* block 1 is evicted while the test holds it: not a spare, still readable */
    b = make_block(BLEN, 3);
    wc__cache_insert(c, 1, 3, b);
    wc_block_unref(b);
    assert_null(wc__cache_take_spare(c, 1, 0));
    assert_int_equal(held->data[0], 1);
    wc_block_unref(held);
    /* more evictions than spares: the extra blocks are freed, the spares go with the cache */
    for (uint64_t o = 4; o < 20; o++) {
        b = make_block(BLEN, (uint8_t)o);
        wc__cache_insert(c, 1, o, b);
        wc_block_unref(b);
    }
    wc_block_cache_free(c);
    assert_int_equal(wc_alloc_live_count(), live0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_second_chance),
        cmocka_unit_test(test_spares),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
