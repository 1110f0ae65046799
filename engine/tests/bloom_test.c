/*
 * bloom_test.c - the SSTable bloom filter: no false negatives, a false
 * positive rate within 2x of theory, degenerate filters and validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bloom.h"
#include "coding.h"
#include "keys.h"

/* a partition prefix as the writer adds it */
static void prefix_of(wc_buf *b, uint32_t i, uint32_t salt)
{
    char pk[32];
    int n = snprintf(pk, sizeof(pk), "pk-%u-%u", salt, i);

    b->len = 0;
    wc_key_build(b, wc_token(pk, (size_t)n), pk, (size_t)n, WC_KIND_HEADER, NULL, 0);
    b->len = wc_key_partition_prefix(b->data, b->len);
}

static void check_rate(uint32_t bpk, uint32_t n)
{
    wc_bloom_builder bb;
    wc_buf filter, k;
    uint32_t fp = 0, queries = 200000;
    double m, kk, theory, rate;
    uint64_t live = wc_alloc_live_count();

    wc_buf_init(&filter);
    wc_buf_init(&k);
    wc_bloom_builder_init(&bb, bpk);
    for (uint32_t i = 0; i < n; i++) {
        prefix_of(&k, i, 1);
        wc_bloom_builder_add(&bb, k.data, k.len);
    }
    assert_int_equal(wc_bloom_builder_finish(&bb, &filter), WC_OK);
    wc_bloom_builder_free(&bb);
    assert_true(wc_bloom_check(filter.data, filter.len));
    assert_int_equal(filter.data[filter.len - 1], wc_bloom_probes(bpk));
    /* no false negatives */
    for (uint32_t i = 0; i < n; i++) {
        prefix_of(&k, i, 1);
        assert_true(wc_bloom_may_contain(filter.data, filter.len, k.data, k.len));
    }
    for (uint32_t i = 0; i < queries; i++) {
        prefix_of(&k, i, 2);
        fp += wc_bloom_may_contain(filter.data, filter.len, k.data, k.len);
    }
    m = (double)(filter.len - 1) * 8;
    kk = wc_bloom_probes(bpk);
    theory = pow(1.0 - exp(-kk * n / m), kk);
    rate = (double)fp / queries;
    print_message("bits/key %u: k=%.0f fp rate %.5f, theory %.5f\n", bpk, kk, rate, theory);
    assert_true(rate <= 2.0 * theory);
    assert_true(rate >= theory / 2.0); /* sanity: the filter is not oversized either */
    wc_buf_free(&filter);
    wc_buf_free(&k);
    assert_int_equal(wc_alloc_live_count(), live);
}

static void test_fp_rate(void **state)
{
    check_rate(10, 100000);
    check_rate(6, 100000);
    check_rate(16, 50000);
    check_rate(4, 20000);
}

static void test_degenerate(void **state)
{
    wc_bloom_builder bb;
    wc_buf f;

    /* bits_per_key 0: no filter, everything may be present */
    wc_buf_init(&f);
    wc_bloom_builder_init(&bb, 0);
    wc_bloom_builder_add(&bb, (const uint8_t *)"a", 1);
    assert_int_equal(wc_bloom_builder_finish(&bb, &f), WC_OK);
    wc_bloom_builder_free(&bb);
    assert_int_equal(f.len, 1);
    assert_true(wc_bloom_check(f.data, f.len));
    assert_true(wc_bloom_may_contain(f.data, f.len, (const uint8_t *)"zz", 2));

    /* no keys: nothing is present */
    f.len = 0;
    wc_bloom_builder_init(&bb, 10);
    assert_int_equal(wc_bloom_builder_finish(&bb, &f), WC_OK);
    wc_bloom_builder_free(&bb);
    assert_int_equal(f.len, 8 + 1);
    assert_true(wc_bloom_check(f.data, f.len));
    assert_false(wc_bloom_may_contain(f.data, f.len, (const uint8_t *)"zz", 2));

    /* one key */
    f.len = 0;
    wc_bloom_builder_init(&bb, 10);
    wc_bloom_builder_add(&bb, (const uint8_t *)"k", 1);
    assert_int_equal(wc_bloom_builder_finish(&bb, &f), WC_OK);
    wc_bloom_builder_free(&bb);
    assert_true(wc_bloom_may_contain(f.data, f.len, (const uint8_t *)"k", 1));
    wc_buf_free(&f);

    assert_int_equal(wc_bloom_probes(1), 1);
    assert_int_equal(wc_bloom_probes(10), 7);
    assert_int_equal(wc_bloom_probes(100), 30);
}

static void test_check(void **state)
{
    uint8_t bad_k[9] = {0, 0, 0, 0, 0, 0, 0, 0, 31};
    uint8_t no_bits[1] = {3};
    uint8_t ok[9] = {0xff, 0, 0, 0, 0, 0, 0, 0, 30};

    assert_false(wc_bloom_check(NULL, 0));
    assert_false(wc_bloom_check(bad_k, sizeof(bad_k)));
    assert_false(wc_bloom_check(no_bits, sizeof(no_bits)));
    assert_true(wc_bloom_check(ok, sizeof(ok)));
}

static void test_alloc_failure(void **state)
{
    wc_bloom_builder bb;
    wc_buf f;
    uint64_t live = wc_alloc_live_count();

    wc_buf_init(&f);
    wc_bloom_builder_init(&bb, 10);
    wc_alloc_fail_after(1, 1);
    wc_bloom_builder_add(&bb, (const uint8_t *)"a", 1);
    assert_int_equal(wc_bloom_builder_finish(&bb, &f), WC_NO_MEMORY);
    wc_alloc_fail_after(0, 0);
    wc_bloom_builder_free(&bb);
    wc_buf_free(&f);
    assert_int_equal(wc_alloc_live_count(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp_rate),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
