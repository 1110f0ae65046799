/*
 * arena_test.c - unit tests of the memtable arena (arena.h): alignment,
 * block reuse, big allocations, memory accounting, allocation failure and
 * leak-free destruction.  Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "arena.h"

static void test_alignment_and_distinct(void **state)
{
    wc_arena a;
    uint8_t *prev = NULL;
    uint64_t live0 = wc_alloc_live_count();

    wc_arena_init(&a, 4096);
    assert_int_equal(wc_arena_memory(&a), 0);
    for (size_t i = 0; i < 10000; i++) {
        size_t n = (i * 7919) % 300;
        uint8_t *p = wc_arena_alloc(&a, n);

        assert_non_null(p);
        assert_int_equal((uintptr_t)p % WC_ARENA_ALIGN, 0);
        memset(p, (int)(i & 0xff), n);
        if (prev)
            assert_ptr_not_equal(p, prev);
        prev = p;
    }
    assert_true(a.nblocks > 1);
    wc_arena_destroy(&a);
    assert_int_equal(wc_alloc_live_count(), live0);
}

static void test_contents_survive(void **state)
{
    wc_arena a;
    uint8_t *ptrs[2000];

    wc_arena_init(&a, 1024);
    for (int i = 0; i < 2000; i++) {
        ptrs[i] = wc_arena_alloc(&a, 24);
        assert_non_null(ptrs[i]);
        memset(ptrs[i], i & 0xff, 24);
    }
    for (int i = 0; i < 2000; i++)
        for (int j = 0; j < 24; j++)
            assert_int_equal(ptrs[i][j], i & 0xff);
    wc_arena_destroy(&a);
}

static void test_accounting(void **state)
{
    wc_arena a;
    size_t m0, m1;
    uint8_t *small, *big, *after;

    wc_arena_init(&a, 4096);
    small = wc_arena_alloc(&a, 5); /* rounded up to 8 */
    assert_non_null(small);
    assert_int_equal(wc_arena_memory(&a), 8);
    assert_int_equal(a.nblocks, 1);

    /* a big piece gets its own block; the current block keeps serving */
    m0 = wc_arena_memory(&a);
    big = wc_arena_alloc(&a, 100000);
    assert_non_null(big);
    assert_int_equal(a.nblocks, 2);
    assert_int_equal(wc_arena_memory(&a), m0 + 100000);
    after = wc_arena_alloc(&a, 8);
    assert_ptr_equal(after, small + 8);

    /* filling the block retires its tail into the count */
    m1 = wc_arena_memory(&a);
    for (int i = 0; i < 600; i++)
        assert_non_null(wc_arena_alloc(&a, 16));
    assert_true(a.nblocks >= 4);
    assert_true(wc_arena_memory(&a) >= m1 + 600 * 16);
    assert_true(wc_arena_memory(&a) <= m1 + 600 * 16 + 4 * 4096);

    /* zero-byte requests still get a distinct piece */
    assert_ptr_not_equal(wc_arena_alloc(&a, 0), wc_arena_alloc(&a, 0));
    wc_arena_destroy(&a);
    assert_int_equal(wc_arena_memory(&a), 0);
}

static void test_alloc_failure(void **state)
{
    wc_arena a;
    uint64_t live0 = wc_alloc_live_count();
    size_t m;
    uint8_t *p;

    wc_arena_init(&a, 1024);
    /* the first allocation needs a block: fail it */
    wc_alloc_fail_after(1, 1);
    assert_null(wc_arena_alloc(&a, 16));
    assert_int_equal(wc_arena_memory(&a), 0);
    assert_int_equal(a.nblocks, 0);
    assert_null(wc_arena_alloc(&a, 100000));
    wc_alloc_fail_after(0, 0);

    p = wc_arena_alloc(&a, 16);
    assert_non_null(p);
    m = wc_arena_memory(&a);

    /* failures while the current block has room do not matter */
    wc_alloc_fail_after(1, 1);
    assert_non_null(wc_arena_alloc(&a, 16));
    /* the block is full: the next one cannot be had, the arena is unchanged */
    while (a.remaining >= 16)
        assert_non_null(wc_arena_alloc(&a, 16));
    m = wc_arena_memory(&a);
    assert_null(wc_arena_alloc(&a, 64));
    assert_int_equal(wc_arena_memory(&a), m);
    wc_alloc_fail_after(0, 0);
    assert_non_null(wc_arena_alloc(&a, 64));

    /* absurd sizes are refused without allocating */
    assert_null(wc_arena_alloc(&a, SIZE_MAX - 3));
    assert_null(wc_arena_alloc(&a, SIZE_MAX / 2 + 1));

    wc_arena_destroy(&a);
    assert_int_equal(wc_alloc_live_count(), live0);
}

/*
 * Blocks of whole huge pages: the first is an ordinary allocation, the later
 * ones start on a huge-page boundary (their data right after the 16-byte
 * header); failures and accounting behave as with ordinary blocks.
 */
static void test_huge_blocks(void **state)
{
    wc_arena a;
    uint64_t live0 = wc_alloc_live_count();
    size_t nblocks = 0, m;
    uint8_t *p;

    wc_arena_init(&a, WC_ARENA_HUGE_BLOCK);
    assert_int_equal(a.block_size, WC_ARENA_HUGE_BLOCK);
    assert_true(wc_arena_fits(&a, 8) == 0);
    for (int i = 0; nblocks < 3; i++) {
        p = wc_arena_alloc(&a, 4000);
        assert_non_null(p);
        memset(p, i & 0xff, 4000);
        if (a.nblocks != nblocks) {
            nblocks = a.nblocks;
            /* a fresh block: p is its first piece */
            if (nblocks > 1)
                assert_int_equal((uintptr_t)p % WC_HUGE_PAGE, 16);
        }
        assert_true(wc_arena_fits(&a, 8) == (a.remaining >= 8));
    }
    assert_true(wc_arena_memory(&a) >= 2 * (size_t)WC_ARENA_HUGE_BLOCK);

    /* a huge block that cannot be had leaves the arena as it was */
    while (a.remaining >= 4000)
        assert_non_null(wc_arena_alloc(&a, 4000));
    m = wc_arena_memory(&a);
    wc_alloc_fail_after(1, 1);
    assert_false(wc_arena_fits(&a, 4000));
    assert_null(wc_arena_alloc(&a, 4000));
    wc_alloc_fail_after(0, 0);
    assert_int_equal(wc_arena_memory(&a), m);
    assert_int_equal(a.nblocks, nblocks);
    assert_non_null(wc_arena_alloc(&a, 4000));

    wc_arena_destroy(&a);
    assert_int_equal(wc_alloc_live_count(), live0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_distinct),
        cmocka_unit_test(test_contents_survive),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_huge_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
