/*
 * murmur3_test.c - the murmur3 partitioner: Cassandra's Murmur3Partitioner
 * tokens for known keys (values Cassandra itself returns for token(); the
 * int keys 1..3 and 128 and the bytes >= 0x80 pin its sign-extended tail),
 * the engine's whole-table order under it, and the partitioner a data
 * directory records: kept across reopens, another one refused, a directory
 * from before the record counted as xxhash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "keys.h"
#include "murmur3.h"
#include "testutil.h"

#define TID 3u
#define NOW 1700000000

typedef struct vec {
    uint8_t key[48];
    size_t len;
    int64_t token;
} vec;

static void test_known_tokens(void **state)
{
    /* int keys are 4 bytes big-endian, bigint 8, text its UTF-8 bytes, uuid 16 */
    static const vec v[] = {
        {{0, 0, 0, 1}, 4, -4069959284402364209LL},
        {{0, 0, 0, 2}, 4, -3248873570005575792LL},
        {{0, 0, 0, 3}, 4, 9010454139840013625LL},
        {{0, 0, 0, 5}, 4, -7509452495886106294LL},
        {{0, 0, 0, 20}, 4, 1388667306199997068LL},
        {{0, 0, 0, 0}, 4, -3485513579396041028LL},
        {{0xff, 0xff, 0xff, 0xff}, 4, 7297452126230313552LL},
        {{0, 0, 0, 0x80}, 4, -9081975895656599623LL},
        {{0, 0, 0, 0xff}, 4, -8423851636648339959LL},
        {{0, 0, 0, 0, 0, 0, 0, 1}, 8, 6292367497774912474LL},
        {{'a'}, 1, -8839064797231613815LL},
        {{'h', 'e', 'l', 'l', 'o'}, 5, -3758069500696749310LL},
        {{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'},
         16,
         5467490433528156583LL},
        {{0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89}, 10, -7623170703309721106LL},
        {{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0, 0},
         16,
         4277286421682315655LL},
        /* composite ('hello', 42): per component a 2-byte length, the bytes, 0x00 */
        {{0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 4, 0, 0, 0, 42, 0}, 15, 7666157718303755816LL},
    };
    static const char *lng = "this is a longer test key for murmur3 hashing";

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (wc_murmur3_token(v[i].key, v[i].len) != v[i].token)
            fail_msg("vector %zu: token %lld, Cassandra's is %lld", i,
                     (long long)wc_murmur3_token(v[i].key, v[i].len), (long long)v[i].token);
    }
    assert_true(wc_murmur3_token(lng, strlen(lng)) == -7889617755374116647LL);
    assert_true(wc_murmur3_token("", 0) == INT64_MIN);

    /* wc_token follows the process's partitioner */
    wc_partitioner_set(WC_PARTITIONER_MURMUR3);
    assert_true(wc_token("a", 1) == -8839064797231613815LL);
    wc_partitioner_set(WC_PARTITIONER_XXHASH);
    assert_true(wc_token("a", 1) != -8839064797231613815LL);
}

static void test_names(void **state)
{
    wc_partitioner p;

    (void)state;
    assert_true(wc_partitioner_parse("murmur3", 7, &p) && p == WC_PARTITIONER_MURMUR3);
    assert_true(wc_partitioner_parse("xxhash", 6, &p) && p == WC_PARTITIONER_XXHASH);
    assert_false(wc_partitioner_parse("Murmur3", 7, &p));
    assert_false(wc_partitioner_parse("murmur", 6, &p));
    assert_string_equal(wc_partitioner_name(WC_PARTITIONER_MURMUR3), "murmur3");
}

static wc_status open_with(const char *dir, wc_partitioner part, wc_engine **out)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = dir;
    o.segment_bytes = 1u << 20;
    o.cache_bytes = 1u << 20;
    o.compaction_threads = 0;
    o.partitioner = part;
    return wc_engine_open(&o, out);
}

static void create(wc_engine *e)
{
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "t");
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
}

static char keys[16][16];

/* The partition keys of a whole-table read, in the order returned. */
static size_t scan_order(wc_engine *e, const char **out, size_t cap, int64_t *tokens)
{
    wc_read_request q;
    wc_page *p = NULL;
    size_t n = 0;

    memset(&q, 0, sizeof(q));
    q.table_id = TID;
    q.start.unbounded = q.end.unbounded = true;
    q.now_sec = NOW;
    assert_int_equal(wc_engine_read(e, &q, &p), WC_OK);
    for (size_t i = 0; i < p->nrows && n < cap; i++) {

        if (n > 0 && strlen(out[n - 1]) == p->rows[i].pk_len &&
            memcmp(out[n - 1], p->rows[i].pk, p->rows[i].pk_len) == 0)
            continue;
        snprintf(keys[n], sizeof(keys[n]), "%.*s", (int)p->rows[i].pk_len,
                 (const char *)p->rows[i].pk);
        tokens[n] = p->rows[i].token;
        out[n] = keys[n];
        n++;
    }
    wc_page_free(p);
    return n;
}

static void test_engine_order_and_record(void **state)
{
    /* murmur3 tokens: a < abc < hello < cassandra < abcde < murmur3 */
    static const char *insert[] = {"murmur3", "hello", "a", "abcde", "cassandra", "abc"};
    static const char *want[] = {"a", "abc", "hello", "cassandra", "abcde", "murmur3"};
    const uint32_t col = 1;
    const char *vals[1] = {"v"};
    const char *got[16];
    int64_t tokens[16];
    char *dir = wc_test_tmpdir("murmur3");
    char path[4200];
    wc_engine *e = NULL;
    size_t n;

    (void)state;
    assert_int_equal(open_with(dir, WC_PARTITIONER_MURMUR3, &e), WC_OK);
    assert_int_equal(wc_partitioner_get(), WC_PARTITIONER_MURMUR3);
    create(e);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(wc_test_put(e, TID, insert[i], 1, (int64_t)NOW * 1000000, 0, NOW, 1,
                                     &col, vals),
                         WC_OK);
        if (i == 2)
            assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    }
    n = scan_order(e, got, 16, tokens);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i], want[i]);
        assert_true(tokens[i] == wc_murmur3_token(want[i], strlen(want[i])));
    }
    wc_engine_close(e);

    /* another partitioner is refused, the same one reopens */
    assert_int_equal(open_with(dir, WC_PARTITIONER_XXHASH, &e), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "created with the murmur3 partitioner"));
    assert_int_equal(open_with(dir, WC_PARTITIONER_MURMUR3, &e), WC_OK);
    n = scan_order(e, got, 16, tokens);
    assert_int_equal(n, 6);
    assert_string_equal(got[0], "a");
    wc_engine_close(e);

    /* a directory from before the record (a catalog, no record) is xxhash */
    snprintf(path, sizeof(path), "%s/partitioner", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(open_with(dir, WC_PARTITIONER_MURMUR3, &e), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "created with the xxhash partitioner"));
    assert_int_equal(open_with(dir, WC_PARTITIONER_XXHASH, &e), WC_OK);
    assert_int_equal(wc_partitioner_get(), WC_PARTITIONER_XXHASH);
    wc_engine_close(e);
    assert_int_equal(access(path, F_OK), 0); /* recorded now */
    assert_int_equal(open_with(dir, WC_PARTITIONER_MURMUR3, &e), WC_INVALID_ARGUMENT);

    wc_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_tokens),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_engine_order_and_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
