/*
 * batch_builder_test.c - wc_batch_builder: batches built with it read back
 * through the batch and mutation decoders, byte for byte what the
 * mutation-by-mutation encoding gives; bad mutations are left out; reuse
 * after reset; truncation to an earlier point; allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"
#include "mutation.h"
#include "row.h"

/* One mutation of every kind of entry: static row, row with cells, row
 * deletion, range tombstone, partition deletion. */
static void fill(wc_mutation *m, int i)
{
    wc_rowb *rb;
    wc_cell c = {.column = 1, .ts = 100 + i, .value = (const uint8_t *)"v1", .len = 2};
    wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL,
                             .start = (const uint8_t *)"a",
                             .start_len = 1,
                             .end = (const uint8_t *)"c",
                             .end_len = 1,
                             .ts = 50,
                             .ldt = 7};

    rb = wc_mutation_row_begin(m, true, NULL, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    rb = wc_mutation_row_begin(m, false, "ck1", 3);
    wc_rowb_liveness(rb, 100 + i, 0, 0);
    wc_rowb_cell(rb, &c);
    c.column = 2;
    c.flags = WC_CELLF_TOMBSTONE;
    c.value = NULL;
    c.len = 0;
    c.ldt = 9;
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    wc_rowb_deletion(wc_mutation_row_begin(m, false, "ck2", 3), 60, 8);
    wc_mutation_row_end(m);
    wc_mutation_delete_range(m, &rt);
    if (i % 2)
        wc_mutation_delete_partition(m, 40, 6);
}

static void pk_of(int i, char *pk)
{
    snprintf(pk, 16, "pk%05d", i);
}

/* Check one decoded mutation against fill(i). */
static void check_mutation(const uint8_t *mut, size_t len, int i)
{
    wc_mutation_view v;
    wc_mutation_entry e;
    wc_row_view rv;
    wc_header_view hv;
    wc_cell c;
    char pk[16];
    int n = 0;

    pk_of(i, pk);
    assert_int_equal(wc_mutation_parse(mut, len, &v), WC_OK);
    assert_int_equal(v.table_id, 7 + (uint32_t)i % 3);
    assert_memory_equal(v.pk, pk, strlen(pk));
    assert_int_equal(v.nentries, i % 2 ? 5 : 4);
    while (wc_mutation_next(&v, &e) == 1) {
        switch (n++) {
        case 0:
            assert_int_equal(e.kind, WC_KIND_STATIC);
            assert_true(wc_row_parse(e.blob, e.blob_len, &rv));
            assert_int_equal(wc_row_next_cell(&rv, &c), 1);
            assert_memory_equal(c.value, "v1", 2);
            break;
        case 1:
            assert_int_equal(e.kind, WC_KIND_ROW);
            assert_memory_equal(e.ck, "ck1", 3);
            assert_true(wc_row_parse(e.blob, e.blob_len, &rv));
            assert_int_equal(rv.live_ts, 100 + i);
            assert_int_equal(rv.ncells, 2);
            assert_int_equal(wc_row_next_cell(&rv, &c), 1);
            assert_int_equal(wc_row_next_cell(&rv, &c), 1);
            assert_int_equal(c.column, 2);
            assert_true(c.flags & WC_CELLF_TOMBSTONE);
            break;
        case 2:
            assert_true(wc_row_parse(e.blob, e.blob_len, &rv));
            assert_int_equal(rv.del_ts, 60);
            break;
        case 3:
            assert_int_equal(e.kind, WC_KIND_HEADER);
            assert_true(wc_header_parse(e.blob, e.blob_len, &hv));
            assert_int_equal(hv.nrt, 1);
            break;
        default:
            assert_true(wc_header_parse(e.blob, e.blob_len, &hv));
            assert_int_equal(hv.pdel_ts, 40);
        }
    }
    assert_int_equal(n, i % 2 ? 5 : 4);
    assert_int_equal(wc_mutation_next(&v, &e), 0);
}

/* Build count mutations with the builder and, by hand, the same batch. */
static void round_trip(wc_batch_builder *b, int count)
{
    wc_buf manual;
    const uint8_t *rec, *mut;
    size_t len, mlen;
    wc_batch_view bv;
    char pk[16];
    int n = 0;

    wc_buf_init(&manual);
    wc_batch_begin(&manual, (uint32_t)count);
    for (int i = 0; i < count; i++) {
        wc_mutation ref;
        const uint8_t *enc;
        size_t enc_len;

        pk_of(i, pk);
        fill(wc_batch_builder_begin(b, 7 + (uint32_t)i % 3, pk, strlen(pk)), i);
        assert_int_equal(wc_batch_builder_end(b), WC_OK);
        wc_mutation_init(&ref, 7 + (uint32_t)i % 3, pk, strlen(pk));
        fill(&ref, i);
        assert_int_equal(wc_mutation_encode(&ref, &enc, &enc_len), WC_OK);
        wc_batch_add(&manual, enc, enc_len);
        wc_mutation_free(&ref);
    }
    assert_int_equal(wc_batch_builder_count(b), count);
    assert_int_equal(wc_batch_builder_finish(b, &rec, &len), WC_OK);
    assert_int_equal(len, manual.len);
    assert_memory_equal(rec, manual.data, len);
    assert_int_equal(wc_batch_parse(rec, len, &bv), WC_OK);
    assert_int_equal(bv.count, count);
    while (wc_batch_next(&bv, &mut, &mlen) == 1)
        check_mutation(mut, mlen, n++);
    assert_int_equal(n, count);
    wc_buf_free(&manual);
}

static void test_round_trip(void **state)
{
    wc_batch_builder b;
    const uint8_t *rec;
    size_t len;
    wc_batch_view bv;

    (void)state;
    wc_batch_builder_init(&b);
    /* an empty batch is a valid record of no mutations */
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_batch_parse(rec, len, &bv), WC_OK);
    assert_int_equal(bv.count, 0);
    round_trip(&b, 1);
    wc_batch_builder_reset(&b);
    /* 300 mutations: the count takes two varint bytes */
    round_trip(&b, 300);
    wc_batch_builder_reset(&b);
    round_trip(&b, 3);
    wc_batch_builder_free(&b);
}

/* Truncating to a point taken earlier leaves the batch as it was then. */
static void test_truncate(void **state)
{
    wc_batch_builder b;
    const uint8_t *rec, *mut;
    size_t len, mlen, size2 = 0;
    uint32_t count2 = 0;
    wc_batch_view bv;
    char pk[16];
    int n = 0;

    (void)state;
    wc_batch_builder_init(&b);
    for (int i = 0; i < 5; i++) {
        if (i == 2) {
            count2 = wc_batch_builder_count(&b);
            size2 = wc_batch_builder_size(&b);
        }
        pk_of(i, pk);
        fill(wc_batch_builder_begin(&b, 7 + (uint32_t)i % 3, pk, strlen(pk)), i);
        assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    }
    /* an open mutation goes too */
    wc_batch_builder_begin(&b, 99, "open", 4);
    wc_batch_builder_truncate(&b, count2, size2);
    assert_int_equal(wc_batch_builder_count(&b), 2);
    assert_int_equal(wc_batch_builder_size(&b), size2);
    assert_int_equal(wc_batch_builder_end(&b), WC_INVALID_ARGUMENT);
    /* appending after the cut continues the batch */
    pk_of(2, pk);
    fill(wc_batch_builder_begin(&b, 7 + 2 % 3, pk, strlen(pk)), 2);
    assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_batch_parse(rec, len, &bv), WC_OK);
    assert_int_equal(bv.count, 3);
    while (wc_batch_next(&bv, &mut, &mlen) == 1)
        check_mutation(mut, mlen, n++);
    assert_int_equal(n, 3);
    /* to nothing: an empty batch */
    wc_batch_builder_truncate(&b, 0, 0);
    assert_int_equal(wc_batch_builder_count(&b), 0);
    assert_int_equal(wc_batch_builder_size(&b), 0);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_batch_parse(rec, len, &bv), WC_OK);
    assert_int_equal(bv.count, 0);
    wc_batch_builder_free(&b);
}

static void test_bad_mutations(void **state)
{
    wc_batch_builder b;
    wc_mutation *m;
    const uint8_t *rec, *enc;
    size_t len, enc_len;
    wc_batch_view bv;
    char *big = calloc(1, WC_MAX_PK_LEN + 1);
    wc_mutation ref;

    (void)state;
    wc_batch_builder_init(&b);
    assert_int_equal(wc_batch_builder_end(&b), WC_INVALID_ARGUMENT);
    /* a partition key over the limit: refused, nothing appended */
    m = wc_batch_builder_begin(&b, 1, big, WC_MAX_PK_LEN + 1);
    wc_mutation_delete_partition(m, 1, 1);
    assert_int_equal(wc_batch_builder_end(&b), WC_INVALID_ARGUMENT);
    /* ended once only */
    m = wc_batch_builder_begin(&b, 1, "k", 1);
    wc_mutation_delete_partition(m, 1, 1);
    assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    assert_int_equal(wc_batch_builder_end(&b), WC_INVALID_ARGUMENT);
    /* a mutation begun but not ended is not in the record */
    m = wc_batch_builder_begin(&b, 1, "x", 1);
    wc_mutation_delete_partition(m, 1, 1);
    /* an encoded mutation goes in as it is */
    wc_mutation_init(&ref, 2, "y", 1);
    wc_mutation_delete_partition(&ref, 2, 2);
    assert_int_equal(wc_mutation_encode(&ref, &enc, &enc_len), WC_OK);
    assert_int_equal(wc_batch_builder_add_encoded(&b, enc, enc_len), WC_OK);
    wc_mutation_free(&ref);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_batch_parse(rec, len, &bv), WC_OK);
    assert_int_equal(bv.count, 2);
    wc_batch_builder_free(&b);
    free(big);
}

static void test_alloc_failure(void **state)
{
    uint64_t live = wc_alloc_live_count();
    int failures = 0;

    (void)state;
    for (uint64_t n = 1; n < 100; n++) {
        wc_batch_builder b;
        const uint8_t *rec;
        size_t len;
        wc_status st = WC_OK;

        wc_batch_builder_init(&b);
        wc_alloc_fail_after(n, 1);
        for (int i = 0; i < 3 && st == WC_OK; i++) {
            fill(wc_batch_builder_begin(&b, 7, "pk", 2), i);
            st = wc_batch_builder_end(&b);
        }
        if (st == WC_OK)
            st = wc_batch_builder_finish(&b, &rec, &len);
        wc_alloc_fail_after(0, 0);
        wc_batch_builder_free(&b);
        assert_int_equal(wc_alloc_live_count(), live);
        if (st == WC_OK)
            break;
        assert_true(st == WC_NO_MEMORY || st == WC_INVALID_ARGUMENT);
        failures++;
    }
    assert_true(failures > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_mutations),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests_name("batch_builder", tests, NULL, NULL);
}
