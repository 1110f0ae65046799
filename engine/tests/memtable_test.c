/*
 * memtable_test.c - unit tests of the memtable (memtable.h): ordering of
 * iteration and seeks against a sorted model, reconciliation on put, input
 * validation, allocation failure injection, memory accounting, reference
 * counting, and one writer racing three lock-free readers.
 *
 * Set WC_BENCH=1 to also run a small put/seek speed measurement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "alloc.h"
#include "coding.h"
#include "keys.h"
#include "memtable.h"
#include "row.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Flat key of partition "p<pk>" with the given kind and clustering key. */
static void make_key(wc_buf *b, int pk, uint8_t kind, const void *ck, size_t cklen)
{
    char pkb[16];
    int n = snprintf(pkb, sizeof(pkb), "p%d", pk);

    wc_key_build(b, wc_token(pkb, (size_t)n), pkb, (size_t)n, kind, ck, cklen);
}

/* Row blob: liveness at ts and one cell per (column, value). */
static void make_row(wc_buf *b, int64_t ts, int ncols, const uint32_t *cols, const char **vals)
{
    wc_rowb rb;

    wc_rowb_begin(&rb, b);
    wc_rowb_liveness(&rb, ts, 0, 0);
    for (int i = 0; i < ncols; i++) {
        wc_cell c = {.column = cols[i], .flags = 0, .ts = ts,
                     .value = (const uint8_t *)vals[i], .len = strlen(vals[i])};
        wc_rowb_cell(&rb, &c);
    }
    assert_true(wc_rowb_end(&rb) > 0);
}

/* Row blob whose single cell (column 1) holds the given bytes. */
static void make_row_bytes(wc_buf *b, int64_t ts, const uint8_t *v, size_t len)
{
    wc_rowb rb;
    wc_cell c = {.column = 1, .flags = 0, .ts = ts, .value = v, .len = len};

    wc_rowb_begin(&rb, b);
    wc_rowb_liveness(&rb, ts, 0, 0);
    wc_rowb_cell(&rb, &c);
    assert_true(wc_rowb_end(&rb) > 0);
}

/* Cell of a column in a row blob; false if absent. */
static bool row_cell(const uint8_t *blob, size_t len, uint32_t column, wc_cell *out)
{
    wc_row_view v;
    wc_cell c;
    int r;

    assert_true(wc_row_parse(blob, len, &v));
    while ((r = wc_row_next_cell(&v, &c)) == 1) {
        if (c.column == column) {
            *out = c;
            return true;
        }
    }
    assert_int_equal(r, 0);
    return false;
}

/* A stored key for the sorted model. */
typedef struct mkey {
    uint8_t *k;
    size_t len;
} mkey;

static int mkey_cmp(const void *a, const void *b)
{
    const mkey *x = a, *y = b;

    return wc_bytes_cmp(x->k, x->len, y->k, y->len);
}

/*
 * n random row keys: 64 partitions, clustering keys of 0..7 bytes drawn from
 * {0x00, 0x01, 'a', 0xff} so that many keys share prefixes or are prefixes of
 * one another.  Returns them sorted and without duplicates (*count set).
 */
static mkey *random_keys(size_t n, size_t *count)
{
    mkey *ks = calloc(n, sizeof(*ks));
    static const uint8_t alpha[4] = {0x00, 0x01, 'a', 0xff};
    size_t j = 0;

    assert_non_null(ks);
    for (size_t i = 0; i < n; i++) {
        uint8_t ck[16];
        size_t cklen = 4 + rnd() % 8;
        wc_buf b;

        for (size_t c = 0; c < cklen; c++)
            ck[c] = alpha[rnd() % 4];
        wc_buf_init(&b);
        make_key(&b, (int)(rnd() % 64), WC_KIND_ROW, ck, cklen);
        ks[i].k = malloc(b.len);
        memcpy(ks[i].k, b.data, b.len);
        ks[i].len = b.len;
        wc_buf_free(&b);
    }
    qsort(ks, n, sizeof(*ks), mkey_cmp);
    for (size_t i = 0; i < n; i++) {
        if (j > 0 && mkey_cmp(&ks[j - 1], &ks[i]) == 0) {
            free(ks[i].k);
            continue;
        }
        ks[j++] = ks[i];
    }
    *count = j;
    return ks;
}

static void free_keys(mkey *ks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ks[i].k);
    free(ks);
}

/* Insert every model key (in a shuffled order); the value's cell holds the key. */
static void insert_keys(wc_memtable *m, const mkey *ks, size_t n)
{
    size_t *order = malloc(n * sizeof(*order));
    wc_buf v;

    assert_non_null(order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t r = rnd() % i, t = order[i - 1];
        order[i - 1] = order[r];
        order[r] = t;
    }
    wc_buf_init(&v);
    for (size_t i = 0; i < n; i++) {
        const mkey *k = &ks[order[i]];

        wc_buf_reset(&v);
        make_row_bytes(&v, 1000 + (int64_t)order[i], k->k, k->len);
        assert_int_equal(wc_memtable_put(m, k->k, k->len, v.data, v.len), WC_OK);
    }
    wc_buf_free(&v);
    free(order);
}

/* The iterator is on model key i, and its value is the row made for it. */
static void check_at(wc_iter *it, const mkey *ks, size_t i)
{
    size_t klen, vlen;
    const uint8_t *k, *v;
    wc_cell c;

    assert_true(wc_iter_valid(it));
    k = wc_iter_key(it, &klen);
    assert_int_equal(klen, ks[i].len);
    assert_memory_equal(k, ks[i].k, klen);
    v = wc_iter_value(it, &vlen);
    assert_true(row_cell(v, vlen, 1, &c));
    assert_int_equal(c.len, ks[i].len);
    assert_memory_equal(c.value, ks[i].k, c.len);
}

/* First model index with key >= t (n if none). */
static size_t model_lower_bound(const mkey *ks, size_t n, const uint8_t *t, size_t tlen)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (wc_bytes_cmp(ks[mid].k, ks[mid].len, t, tlen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t count_entries(wc_memtable *m)
{
    wc_iter *it = wc_memtable_iter(m);
    size_t n = 0;

    assert_non_null(it);
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it))
        n++;
    wc_iter_destroy(it);
    return n;
}

/* -------------------------------------------------------------- tests */

static void test_empty(void **state)
{
    wc_memtable *m;
    wc_iter *it;
    const uint8_t t[12] = {0};
    uint64_t live0 = wc_alloc_live_count();

    assert_int_equal(wc_memtable_new(&m), WC_OK);
    assert_int_equal(wc_memtable_entries(m), 0);
    it = wc_memtable_iter(m);
    assert_non_null(it);
    assert_int_equal(wc_iter_status(it), WC_OK);
    wc_iter_seek_first(it);
    assert_false(wc_iter_valid(it));
    wc_iter_seek_last(it);
    assert_false(wc_iter_valid(it));
    wc_iter_seek(it, t, sizeof(t));
    assert_false(wc_iter_valid(it));
    wc_iter_seek_for_prev(it, t, sizeof(t));
    assert_false(wc_iter_valid(it));
    assert_int_equal(wc_iter_status(it), WC_OK);
    wc_iter_destroy(it);
    wc_memtable_unref(m);
    assert_int_equal(wc_alloc_live_count(), live0);
}

static void test_random_order(void **state)
{
    size_t n;
    mkey *ks = random_keys(200000, &n);
    wc_memtable *m;
    wc_iter *it;
    size_t i;

    assert_true(n > 100000);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    insert_keys(m, ks, n);
    assert_int_equal(wc_memtable_entries(m), n);

    it = wc_memtable_iter(m);
    assert_non_null(it);
    /* forward */
    i = 0;
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it))
        check_at(it, ks, i++);
    assert_int_equal(i, n);
    /* backward */
    i = n;
    for (wc_iter_seek_last(it); wc_iter_valid(it); wc_iter_prev(it))
        check_at(it, ks, --i);
    assert_int_equal(i, 0);
    /* direction changes */
    wc_iter_seek_first(it);
    wc_iter_next(it);
    wc_iter_next(it);
    wc_iter_prev(it);
    check_at(it, ks, 1);
    wc_iter_prev(it);
    check_at(it, ks, 0);
    wc_iter_prev(it);
    assert_false(wc_iter_valid(it));
    wc_iter_seek_last(it);
    wc_iter_next(it);
    assert_false(wc_iter_valid(it));
    assert_int_equal(wc_iter_status(it), WC_OK);

    wc_iter_destroy(it);
    wc_memtable_unref(m);
    free_keys(ks, n);
}

static void test_seek(void **state)
{
    size_t n;
    mkey *ks = random_keys(50000, &n);
    wc_memtable *m;
    wc_iter *it;
    uint8_t before[1] = {0x00};
    uint8_t after[24];
    wc_buf t;

    assert_int_equal(wc_memtable_new(&m), WC_OK);
    insert_keys(m, ks, n);
    it = wc_memtable_iter(m);
    assert_non_null(it);

    /* before the first key */
    wc_iter_seek(it, before, 0);
    check_at(it, ks, 0);
    wc_iter_seek(it, before, 1);
    check_at(it, ks, 0);
    wc_iter_seek_for_prev(it, before, 0);
    assert_false(wc_iter_valid(it));
    wc_iter_seek_for_prev(it, ks[0].k, ks[0].len - 1);
    assert_false(wc_iter_valid(it));
    /* after the last key */
    memset(after, 0xff, sizeof(after));
    wc_iter_seek(it, after, sizeof(after));
    assert_false(wc_iter_valid(it));
    wc_iter_seek_for_prev(it, after, sizeof(after));
    check_at(it, ks, n - 1);

    /* exact keys, random targets, and keys one byte longer/shorter */
    wc_buf_init(&t);
    for (int round = 0; round < 30000; round++) {
        size_t lb, i = rnd() % n;
        const uint8_t *tk;
        size_t tlen;
        uint8_t tmp[64];

        switch (round % 4) {
        case 0: /* existing key */
            tk = ks[i].k;
            tlen = ks[i].len;
            break;
        case 1: /* existing key plus a byte: just after it */
            memcpy(tmp, ks[i].k, ks[i].len);
            tmp[ks[i].len] = (uint8_t)rnd();
            tk = tmp;
            tlen = ks[i].len + 1;
            break;
        case 2: /* existing key minus a byte: just before it (or equal to another) */
            tk = ks[i].k;
            tlen = ks[i].len - 1;
            break;
        default: { /* random clustering key in a random (maybe absent) partition */
            uint8_t ck[8];
            for (int c = 0; c < 8; c++)
                ck[c] = (uint8_t)rnd();
            wc_buf_reset(&t);
            make_key(&t, (int)(rnd() % 80), WC_KIND_ROW, ck, rnd() % 8);
            tk = t.data;
            tlen = t.len;
        }
        }
        lb = model_lower_bound(ks, n, tk, tlen);
        wc_iter_seek(it, tk, tlen);
        if (lb == n) {
            assert_false(wc_iter_valid(it));
        } else {
            check_at(it, ks, lb);
            if (lb + 1 < n) {
                wc_iter_next(it);
                check_at(it, ks, lb + 1);
                wc_iter_prev(it);
                check_at(it, ks, lb);
            }
        }
        /* last <= target */
        wc_iter_seek_for_prev(it, tk, tlen);
        {
            size_t le = lb < n && wc_bytes_cmp(ks[lb].k, ks[lb].len, tk, tlen) == 0 ? lb + 1 : lb;
            if (le == 0) {
                assert_false(wc_iter_valid(it));
            } else {
                check_at(it, ks, le - 1);
                if (le >= 2) {
                    wc_iter_prev(it);
                    check_at(it, ks, le - 2);
                }
            }
        }
    }
    wc_buf_free(&t);
    wc_iter_destroy(it);
    wc_memtable_unref(m);
    free_keys(ks, n);
}

/* Prefix relations: the shorter clustering key sorts first. */
static void test_prefix_keys(void **state)
{
    wc_memtable *m;
    wc_iter *it;
    wc_buf k, v;
    const char *cks[] = {"abc", "", "ab", "abd", "a", "b", "abcd"};
    const char *sorted[] = {"", "a", "ab", "abc", "abcd", "abd", "b"};
    size_t klen, n = 0;

    wc_buf_init(&k);
    wc_buf_init(&v);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    make_row_bytes(&v, 1, (const uint8_t *)"x", 1);
    for (size_t i = 0; i < 7; i++) {
        wc_buf_reset(&k);
        make_key(&k, 7, WC_KIND_ROW, cks[i], strlen(cks[i]));
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    }
    /* header and static row of the partition sort before its rows */
    wc_buf_reset(&k);
    make_key(&k, 7, WC_KIND_STATIC, NULL, 0);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    wc_buf_reset(&k);
    wc_buf_reset(&v);
    make_key(&k, 7, WC_KIND_HEADER, NULL, 0);
    wc_header_build(&v, true, 5, 1, NULL, 0);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    assert_int_equal(wc_memtable_entries(m), 9);

    it = wc_memtable_iter(m);
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it), n++) {
        const uint8_t *key = wc_iter_key(it, &klen);
        wc_key_parts kp;

        assert_true(wc_key_parse(key, klen, &kp));
        if (n == 0) {
            assert_int_equal(kp.kind, WC_KIND_HEADER);
        } else if (n == 1) {
            assert_int_equal(kp.kind, WC_KIND_STATIC);
        } else {
            assert_int_equal(kp.kind, WC_KIND_ROW);
            assert_int_equal(kp.ck_len, strlen(sorted[n - 2]));
            assert_memory_equal(kp.ck, sorted[n - 2], kp.ck_len);
        }
    }
    assert_int_equal(n, 9);
    wc_iter_destroy(it);
    wc_memtable_unref(m);
    wc_buf_free(&k);
    wc_buf_free(&v);
}

/* Value currently stored under key (iterator positioned by seek). */
static const uint8_t *get(wc_iter *it, const wc_buf *k, size_t *vlen)
{
    size_t klen;
    const uint8_t *key;

    wc_iter_seek(it, k->data, k->len);
    assert_true(wc_iter_valid(it));
    key = wc_iter_key(it, &klen);
    assert_int_equal(klen, k->len);
    assert_memory_equal(key, k->data, klen);
    return wc_iter_value(it, vlen);
}

static void test_reconcile_rows(void **state)
{
    wc_memtable *m;
    wc_iter *it, *old_it;
    wc_buf k, v;
    const uint8_t *val, *oldval;
    size_t vlen, oldlen;
    wc_cell c;
    wc_row_view rv;
    uint32_t c12[2] = {1, 2}, c1[1] = {1};
    const char *ab[2] = {"a", "b"}, *cc[1] = {"c"}, *zz[1] = {"z"};

    wc_buf_init(&k);
    wc_buf_init(&v);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    make_key(&k, 1, WC_KIND_ROW, "ck", 2);

    make_row(&v, 10, 2, c12, ab);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    old_it = wc_memtable_iter(m);
    oldval = get(old_it, &k, &oldlen);

    /* a later write of column 1 wins; column 2 stays */
    wc_buf_reset(&v);
    make_row(&v, 20, 1, c1, cc);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    assert_int_equal(wc_memtable_entries(m), 1);
    it = wc_memtable_iter(m);
    val = get(it, &k, &vlen);
    assert_true(row_cell(val, vlen, 1, &c));
    assert_int_equal(c.ts, 20);
    assert_memory_equal(c.value, "c", 1);
    assert_true(row_cell(val, vlen, 2, &c));
    assert_int_equal(c.ts, 10);
    assert_memory_equal(c.value, "b", 1);

    /* an iterator positioned before the overwrite still sees the old value */
    {
        size_t l2;
        const uint8_t *v2 = wc_iter_value(old_it, &l2);
        assert_ptr_equal(v2, oldval);
        assert_int_equal(l2, oldlen);
        assert_true(row_cell(v2, l2, 1, &c));
        assert_int_equal(c.ts, 10);
        assert_memory_equal(c.value, "a", 1);
    }
    wc_iter_destroy(old_it);

    /* an older write loses */
    wc_buf_reset(&v);
    make_row(&v, 5, 1, c1, zz);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(row_cell(val, vlen, 1, &c));
    assert_int_equal(c.ts, 20);
    assert_memory_equal(c.value, "c", 1);

    /* a row deletion at 15 shadows column 2 (ts 10) and the liveness (ts 20 stays) */
    {
        wc_rowb rb;
        wc_buf_reset(&v);
        wc_rowb_begin(&rb, &v);
        wc_rowb_deletion(&rb, 15, 100);
        assert_true(wc_rowb_end(&rb) > 0);
    }
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(wc_row_parse(val, vlen, &rv));
    assert_true(rv.flags & WC_ROWF_DELETED);
    assert_int_equal(rv.del_ts, 15);
    assert_true(row_cell(val, vlen, 1, &c));
    assert_int_equal(c.ts, 20);
    assert_false(row_cell(val, vlen, 2, &c));

    /* a deletion at 30 shadows everything */
    {
        wc_rowb rb;
        wc_buf_reset(&v);
        wc_rowb_begin(&rb, &v);
        wc_rowb_deletion(&rb, 30, 101);
        assert_true(wc_rowb_end(&rb) > 0);
    }
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(wc_row_parse(val, vlen, &rv));
    assert_int_equal(rv.del_ts, 30);
    assert_false(rv.flags & WC_ROWF_LIVENESS);
    assert_int_equal(rv.ncells, 0);

    /* writing the same value again changes nothing and allocates nothing */
    {
        size_t mem = wc_memtable_memory(m);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
        assert_int_equal(wc_memtable_memory(m), mem);
    }
    assert_int_equal(wc_memtable_entries(m), 1);

    wc_iter_destroy(it);
    wc_memtable_unref(m);
    wc_buf_free(&k);
    wc_buf_free(&v);
}

static void test_reconcile_header(void **state)
{
    wc_memtable *m;
    wc_iter *it;
    wc_buf k, v;
    const uint8_t *val;
    size_t vlen;
    wc_header_view hv;
    wc_range_tombstone rt, got;
    uint32_t nrt;

    wc_buf_init(&k);
    wc_buf_init(&v);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    it = wc_memtable_iter(m);
    make_key(&k, 3, WC_KIND_HEADER, NULL, 0);

    /* partition deletion at 100 */
    wc_header_build(&v, true, 100, 7, NULL, 0);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);

    /* range tombstone at 50 is shadowed by it; one at 150 is kept */
    memset(&rt, 0, sizeof(rt));
    rt.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL;
    rt.start = (const uint8_t *)"a";
    rt.start_len = 1;
    rt.end = (const uint8_t *)"m";
    rt.end_len = 1;
    rt.ts = 50;
    rt.ldt = 8;
    wc_buf_reset(&v);
    wc_header_build(&v, false, 0, 0, &rt, 1);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(wc_header_parse(val, vlen, &hv));
    assert_true(hv.flags & WC_HDRF_PARTITION_DELETED);
    assert_int_equal(hv.pdel_ts, 100);
    assert_int_equal(hv.nrt, 0);

    rt.ts = 150;
    rt.start = (const uint8_t *)"b";
    wc_buf_reset(&v);
    wc_header_build(&v, false, 0, 0, &rt, 1);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    rt.ts = 160;
    rt.start = (const uint8_t *)"c";
    wc_buf_reset(&v);
    wc_header_build(&v, false, 0, 0, &rt, 1);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(wc_header_parse(val, vlen, &hv));
    assert_int_equal(hv.pdel_ts, 100);
    assert_int_equal(hv.nrt, 2);
    nrt = 0;
    while (wc_header_next_rt(&hv, &got) == 1) {
        assert_true(got.ts == 150 || got.ts == 160);
        nrt++;
    }
    assert_int_equal(nrt, 2);

    /* a later partition deletion (155) wins and drops the tombstone at 150 */
    wc_buf_reset(&v);
    wc_header_build(&v, true, 155, 9, NULL, 0);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(wc_header_parse(val, vlen, &hv));
    assert_int_equal(hv.pdel_ts, 155);
    assert_int_equal(hv.nrt, 1);
    assert_int_equal(wc_header_next_rt(&hv, &got), 1);
    assert_int_equal(got.ts, 160);
    assert_int_equal(got.start_len, 1);
    assert_memory_equal(got.start, "c", 1);

    /* an older partition deletion changes nothing */
    wc_buf_reset(&v);
    wc_header_build(&v, true, 90, 1, NULL, 0);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    val = get(it, &k, &vlen);
    assert_true(wc_header_parse(val, vlen, &hv));
    assert_int_equal(hv.pdel_ts, 155);
    assert_int_equal(wc_memtable_entries(m), 1);

    wc_iter_destroy(it);
    wc_memtable_unref(m);
    wc_buf_free(&k);
    wc_buf_free(&v);
}

static void test_invalid_input(void **state)
{
    wc_memtable *m;
    wc_buf k, v, h;
    size_t mem;
    uint8_t bad[64];

    wc_buf_init(&k);
    wc_buf_init(&v);
    wc_buf_init(&h);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    make_key(&k, 1, WC_KIND_ROW, "x", 1);
    make_row_bytes(&v, 1, (const uint8_t *)"val", 3);
    wc_header_build(&h, true, 10, 1, NULL, 0);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    mem = wc_memtable_memory(m);

    /* malformed keys */
    assert_int_equal(wc_memtable_put(m, k.data, 5, v.data, v.len), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_memtable_put(m, NULL, 0, v.data, v.len), WC_INVALID_ARGUMENT);
    memcpy(bad, k.data, k.len);
    bad[8] = 0xff; /* pk_len past the end */
    assert_int_equal(wc_memtable_put(m, bad, k.len, v.data, v.len), WC_INVALID_ARGUMENT);
    {
        wc_buf e;
        wc_buf_init(&e);
        make_key(&e, 1, WC_KIND_END, NULL, 0); /* a seek bound, never stored */
        assert_int_equal(wc_memtable_put(m, e.data, e.len, v.data, v.len), WC_INVALID_ARGUMENT);
        wc_buf_reset(&e);
        make_key(&e, 1, WC_KIND_STATIC, NULL, 0);
        wc_buf_put_u8(&e, 'z'); /* bytes after a static kind */
        assert_int_equal(wc_memtable_put(m, e.data, e.len, v.data, v.len), WC_INVALID_ARGUMENT);
        wc_buf_reset(&e);
        make_key(&e, 1, WC_KIND_STATIC, NULL, 0);
        e.data[e.len - 1] = 0x09; /* unknown kind */
        assert_int_equal(wc_memtable_put(m, e.data, e.len, v.data, v.len), WC_INVALID_ARGUMENT);
        wc_buf_free(&e);
    }
    /* malformed values */
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len - 1), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, 0), WC_INVALID_ARGUMENT);
    memset(bad, 0xee, sizeof(bad));
    assert_int_equal(wc_memtable_put(m, k.data, k.len, bad, sizeof(bad)), WC_INVALID_ARGUMENT);
    {
        /* a header blob with a range tombstone is not a row, and vice versa */
        wc_range_tombstone rt = {.bflags = WC_BOUND_START_UNBOUNDED | WC_BOUND_END_UNBOUNDED,
                                 .ts = 3, .ldt = 1};
        wc_buf hk, hr;
        wc_buf_init(&hk);
        wc_buf_init(&hr);
        wc_header_build(&hr, true, 10, 1, &rt, 1);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, hr.data, hr.len), WC_INVALID_ARGUMENT);
        make_key(&hk, 1, WC_KIND_HEADER, NULL, 0);
        assert_int_equal(wc_memtable_put(m, hk.data, hk.len, v.data, v.len), WC_INVALID_ARGUMENT);
        assert_int_equal(wc_memtable_put(m, hk.data, hk.len, h.data, h.len - 1),
                         WC_INVALID_ARGUMENT);
        wc_buf_free(&hk);
        wc_buf_free(&hr);
    }
    /* nothing changed */
    assert_int_equal(wc_memtable_entries(m), 1);
    assert_int_equal(wc_memtable_memory(m), mem);
    assert_int_equal(count_entries(m), 1);
    {
        wc_iter *it = wc_memtable_iter(m);
        size_t vlen;
        const uint8_t *val = get(it, &k, &vlen);
        assert_int_equal(vlen, v.len);
        assert_memory_equal(val, v.data, vlen);
        wc_iter_destroy(it);
    }

    wc_memtable_unref(m);
    wc_buf_free(&k);
    wc_buf_free(&v);
    wc_buf_free(&h);
}

static void test_alloc_failure(void **state)
{
    wc_memtable *m = NULL;
    wc_buf k, v;
    uint64_t live0 = wc_alloc_live_count();
    uint64_t entries;
    size_t mem;
    int i, failures = 0;

    wc_buf_init(&k);
    wc_buf_init(&v);

    /* creation: every allocation failing in turn */
    for (uint64_t n = 1; n <= 3; n++) {
        wc_alloc_fail_after(n, 1);
        wc_status st = wc_memtable_new(&m);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK) {
            wc_memtable_unref(m);
            break;
        }
        assert_int_equal(st, WC_NO_MEMORY);
        assert_null(m);
        assert_int_equal(wc_alloc_live_count(), live0);
    }
    assert_int_equal(wc_memtable_new(&m), WC_OK);

    /* iterator creation */
    wc_alloc_fail_after(1, 1);
    assert_null(wc_memtable_iter(m));
    wc_alloc_fail_after(0, 0);

    /* fresh keys while the arena cannot grow: puts fail once the block is full */
    make_row_bytes(&v, 1, (const uint8_t *)"0123456789012345678901234567890123456789", 40);
    make_key(&k, 0, WC_KIND_ROW, "first", 5);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    wc_alloc_fail_after(1, 1);
    for (i = 0; i < 100000; i++) {
        char ck[16];
        int n = snprintf(ck, sizeof(ck), "c%07d", i);
        wc_status st;

        wc_buf_reset(&k);
        make_key(&k, 0, WC_KIND_ROW, ck, (size_t)n);
        entries = wc_memtable_entries(m);
        mem = wc_memtable_memory(m);
        st = wc_memtable_put(m, k.data, k.len, v.data, v.len);
        if (st == WC_OK)
            continue;
        assert_int_equal(st, WC_NO_MEMORY);
        assert_int_equal(wc_memtable_entries(m), entries);
        assert_int_equal(wc_memtable_memory(m), mem);
        failures++;
        if (failures == 3)
            break;
    }
    wc_alloc_fail_after(0, 0);
    assert_int_equal(failures, 3);
    /* consistent: the failed key is absent, the others are there, and puts work again */
    assert_int_equal(count_entries(m), wc_memtable_entries(m));
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    assert_int_equal(count_entries(m), wc_memtable_entries(m));

    /* a big value needs a block of its own */
    {
        size_t big = 1536 * 1024; /* more than a whole block */
        uint8_t *bv = calloc(1, big);
        wc_buf_reset(&v);
        make_row_bytes(&v, 2, bv, big);
        wc_buf_reset(&k);
        make_key(&k, 0, WC_KIND_ROW, "big", 3);
        entries = wc_memtable_entries(m);
        wc_alloc_fail_after(1, 1);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_NO_MEMORY);
        wc_alloc_fail_after(0, 0);
        assert_int_equal(wc_memtable_entries(m), entries);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
        /* reconciliation of a big row: the scratch buffer or the block cannot grow */
        for (uint64_t n = 1; n <= 4; n++) {
            wc_status st;
            size_t vlen;
            const uint8_t *val;
            wc_iter *it;
            wc_cell c;

            wc_buf_reset(&v);
            bv[0] = (uint8_t)n;
            make_row_bytes(&v, 2 + (int64_t)n, bv, big);
            wc_alloc_fail_after(n, 1);
            st = wc_memtable_put(m, k.data, k.len, v.data, v.len);
            wc_alloc_fail_after(0, 0);
            it = wc_memtable_iter(m);
            val = get(it, &k, &vlen);
            assert_true(row_cell(val, vlen, 1, &c));
            if (st == WC_OK) {
                assert_int_equal(c.ts, 2 + (int64_t)n);
            } else {
                assert_int_equal(st, WC_NO_MEMORY);
                assert_true(c.ts < 2 + (int64_t)n);
            }
            wc_iter_destroy(it);
        }
        free(bv);
    }

    /* header reconciliation failing */
    {
        wc_range_tombstone rt = {.bflags = WC_BOUND_START_UNBOUNDED | WC_BOUND_END_UNBOUNDED,
                                 .ts = 3, .ldt = 1};
        wc_buf_reset(&k);
        wc_buf_reset(&v);
        make_key(&k, 0, WC_KIND_HEADER, NULL, 0);
        wc_header_build(&v, false, 0, 0, &rt, 1);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
        entries = wc_memtable_entries(m);
        rt.ts = 4;
        wc_buf_reset(&v);
        wc_header_build(&v, false, 0, 0, &rt, 1);
        wc_alloc_fail_after(1, 1);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_NO_MEMORY);
        wc_alloc_fail_after(0, 0);
        assert_int_equal(wc_memtable_entries(m), entries);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    }

    assert_int_equal(count_entries(m), wc_memtable_entries(m));
    wc_memtable_unref(m);
    wc_buf_free(&k);
    wc_buf_free(&v);
    assert_int_equal(wc_alloc_live_count(), live0);
}

static void test_memory_accounting(void **state)
{
    wc_memtable *m;
    wc_buf k, v;
    size_t last;

    wc_buf_init(&k);
    wc_buf_init(&v);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    last = wc_memtable_memory(m);
    make_row_bytes(&v, 1, (const uint8_t *)"some value bytes", 16);
    for (int i = 0; i < 1000; i++) {
        char ck[16];
        int n = snprintf(ck, sizeof(ck), "%06d", i);

        wc_buf_reset(&k);
        make_key(&k, 2, WC_KIND_ROW, ck, (size_t)n);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
        /* each fresh entry costs at least its key and value */
        assert_true(wc_memtable_memory(m) >= last + k.len + v.len);
        last = wc_memtable_memory(m);
    }
    assert_int_equal(wc_memtable_entries(m), 1000);
    /* overwrites keep old values: memory grows, entries do not */
    wc_buf_reset(&v);
    make_row_bytes(&v, 2, (const uint8_t *)"newer", 5);
    assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    assert_true(wc_memtable_memory(m) > last);
    assert_int_equal(wc_memtable_entries(m), 1000);
    wc_memtable_unref(m);
    wc_buf_free(&k);
    wc_buf_free(&v);
}

static void test_refcount(void **state)
{
    wc_memtable *m;
    wc_iter *it;
    wc_buf k, v;
    uint64_t live0 = wc_alloc_live_count();
    size_t n = 0;

    wc_buf_init(&k);
    wc_buf_init(&v);
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    make_row_bytes(&v, 1, (const uint8_t *)"v", 1);
    for (int i = 0; i < 100; i++) {
        char ck[8];
        int l = snprintf(ck, sizeof(ck), "%03d", i);
        wc_buf_reset(&k);
        make_key(&k, 4, WC_KIND_ROW, ck, (size_t)l);
        assert_int_equal(wc_memtable_put(m, k.data, k.len, v.data, v.len), WC_OK);
    }
    wc_memtable_ref(m);
    wc_memtable_unref(m);
    it = wc_memtable_iter(m);
    assert_non_null(it);
    wc_memtable_unref(m); /* the iterator keeps it alive */
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it)) {
        size_t vlen;
        const uint8_t *val = wc_iter_value(it, &vlen);
        assert_true(wc_row_validate(val, vlen));
        n++;
    }
    assert_int_equal(n, 100);
    assert_true(wc_alloc_live_count() > live0);
    wc_buf_free(&k);
    wc_buf_free(&v);
    wc_iter_destroy(it); /* last reference: everything is freed */
    assert_int_equal(wc_alloc_live_count(), live0);
}

/* --------------------------------------------------------- concurrency */

#define CONC_PARTS 8
#define CONC_CKS 4000

typedef struct conc_ctx {
    wc_memtable *m;
    atomic_int stop;
    atomic_long errors;
    atomic_long reads;
    atomic_long writes;
} conc_ctx;

typedef struct conc_arg {
    conc_ctx *cx;
    uint64_t seed;
} conc_arg;

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void conc_key(wc_buf *b, uint64_t r)
{
    char ck[16];
    int n = snprintf(ck, sizeof(ck), "ck%05u", (unsigned)(r % CONC_CKS));

    make_key(b, (int)((r >> 20) % CONC_PARTS), (r >> 40) % 50 == 0 ? WC_KIND_HEADER : WC_KIND_ROW,
             ck, (size_t)n);
}

static void *conc_writer(void *arg)
{
    conc_ctx *cx = ((conc_arg *)arg)->cx;
    uint64_t s = ((conc_arg *)arg)->seed;
    wc_buf k, v;
    int64_t ts = 1;

    wc_buf_init(&k);
    wc_buf_init(&v);
    while (!atomic_load(&cx->stop)) {
        uint64_t r = xs(&s);
        wc_key_parts kp;
        wc_status st;

        wc_buf_reset(&k);
        wc_buf_reset(&v);
        conc_key(&k, r);
        if (!wc_key_parse(k.data, k.len, &kp)) {
            atomic_fetch_add(&cx->errors, 1);
            break;
        }
        if (kp.kind == WC_KIND_HEADER) {
            wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL,
                                     .start = (const uint8_t *)"a", .start_len = 1,
                                     .end = (const uint8_t *)"b", .end_len = 1,
                                     .ts = ts, .ldt = 1};
            wc_header_build(&v, false, 0, 0, &rt, 1);
        } else {
            uint8_t val[64];
            size_t vl = 1 + (size_t)(r % 60);
            memset(val, (int)(r & 0xff), vl);
            wc_rowb rb;
            wc_cell c = {.column = (uint32_t)(r >> 33) % 6, .ts = ts, .value = val, .len = vl};
            wc_rowb_begin(&rb, &v);
            wc_rowb_liveness(&rb, ts, 0, 0);
            wc_rowb_cell(&rb, &c);
            wc_rowb_end(&rb);
        }
        ts++;
        st = wc_memtable_put(cx->m, k.data, k.len, v.data, v.len);
        if (st != WC_OK)
            atomic_fetch_add(&cx->errors, 1);
        atomic_fetch_add(&cx->writes, 1);
    }
    wc_buf_free(&k);
    wc_buf_free(&v);
    return NULL;
}

/* Validate the entry under the iterator; 0 if fine. */
static int conc_check_entry(wc_iter *it)
{
    size_t klen, vlen;
    const uint8_t *k = wc_iter_key(it, &klen), *v = wc_iter_value(it, &vlen);
    wc_key_parts kp;

    if (!wc_key_parse(k, klen, &kp))
        return 1;
    if (kp.kind == WC_KIND_HEADER)
        return wc_header_validate(v, vlen) ? 0 : 1;
    return wc_row_validate(v, vlen) ? 0 : 1;
}

static void *conc_reader(void *arg)
{
    conc_ctx *cx = ((conc_arg *)arg)->cx;
    uint64_t s = ((conc_arg *)arg)->seed;
    wc_buf prevk, t;
    long errors = 0, reads = 0;
    wc_iter *it = wc_memtable_iter(cx->m);

    if (it == NULL) {
        atomic_fetch_add(&cx->errors, 1);
        return NULL;
    }
    wc_buf_init(&prevk);
    wc_buf_init(&t);
    while (!atomic_load(&cx->stop)) {
        uint64_t r = xs(&s);
        int mode = (int)(r % 3);
        bool first = true;
        int steps = 0;

        if (mode == 0)
            wc_iter_seek_first(it);
        else if (mode == 1)
            wc_iter_seek_last(it);
        else {
            wc_buf_reset(&t);
            conc_key(&t, xs(&s));
            if (r & 8)
                wc_iter_seek(it, t.data, t.len);
            else
                wc_iter_seek_for_prev(it, t.data, t.len);
            if (wc_iter_valid(it)) {
                size_t klen;
                const uint8_t *k = wc_iter_key(it, &klen);
                int c = wc_bytes_cmp(k, klen, t.data, t.len);
                if ((r & 8) ? c < 0 : c > 0)
                    errors++;
            }
        }
        /* walk forward (mode 0, or seek) or backward (mode 1, or seek_for_prev) */
        bool fwd = mode == 0 || (mode == 2 && (r & 8));
        int limit = mode == 2 ? 200 : 1 << 30;
        for (; wc_iter_valid(it) && steps < limit; steps++) {
            size_t klen;
            const uint8_t *k = wc_iter_key(it, &klen);

            if (!first) {
                int c = wc_bytes_cmp(prevk.data, prevk.len, k, klen);
                if (fwd ? c >= 0 : c <= 0)
                    errors++;
            }
            errors += conc_check_entry(it);
            reads++;
            wc_buf_reset(&prevk);
            wc_buf_append(&prevk, k, klen);
            first = false;
            if (fwd)
                wc_iter_next(it);
            else
                wc_iter_prev(it);
        }
        if (wc_iter_status(it) != WC_OK)
            errors++;
    }
    wc_iter_destroy(it);
    wc_buf_free(&prevk);
    wc_buf_free(&t);
    atomic_fetch_add(&cx->errors, errors);
    atomic_fetch_add(&cx->reads, reads);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    conc_ctx cx;
    conc_arg wa, ra[3];
    pthread_t w, r[3];
    struct timespec two = {.tv_sec = 2, .tv_nsec = 0};

    memset(&cx, 0, sizeof(cx));
    assert_int_equal(wc_memtable_new(&cx.m), WC_OK);
    atomic_init(&cx.stop, 0);
    atomic_init(&cx.errors, 0);
    atomic_init(&cx.reads, 0);
    atomic_init(&cx.writes, 0);
    wa.cx = &cx;
    wa.seed = 0x1234567;
    assert_int_equal(pthread_create(&w, NULL, conc_writer, &wa), 0);
    for (int i = 0; i < 3; i++) {
        ra[i].cx = &cx;
        ra[i].seed = 0x9876543ull * (uint64_t)(i + 2);
        assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &ra[i]), 0);
    }
    nanosleep(&two, NULL);
    atomic_store(&cx.stop, 1);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(r[i], NULL);

    print_message("    concurrency: %ld writes, %ld entries read, %llu keys\n",
                  atomic_load(&cx.writes), atomic_load(&cx.reads),
                  (unsigned long long)wc_memtable_entries(cx.m));
    assert_int_equal(atomic_load(&cx.errors), 0);
    assert_true(atomic_load(&cx.writes) > 1000);
    assert_true(atomic_load(&cx.reads) > 1000);
    assert_int_equal(count_entries(cx.m), wc_memtable_entries(cx.m));
    wc_memtable_unref(cx.m);
}

/* ---------------------------------------------------------------- bench */

static void test_bench(void **state)
{
    const size_t n = 1000000;
    wc_memtable *m;
    wc_buf kb, v;
    size_t *koff;
    uint8_t val[100];
    double t0, t1;
    wc_iter *it;
    size_t found = 0;

    if (getenv("WC_BENCH") == NULL) {
        skip();
        return;
    }
    wc_buf_init(&kb);
    wc_buf_init(&v);
    koff = malloc((n + 1) * sizeof(*koff));
    /* 1000 partitions x 1000 random clustering keys of 16 bytes */
    for (size_t i = 0; i < n; i++) {
        uint8_t ck[16];
        for (int c = 0; c < 16; c += 8) {
            uint64_t r = rnd();
            memcpy(ck + c, &r, 8);
        }
        koff[i] = kb.len;
        make_key(&kb, (int)(rnd() % 1000), WC_KIND_ROW, ck, sizeof(ck));
    }
    koff[n] = kb.len;
    memset(val, 'v', sizeof(val));
    make_row_bytes(&v, 12345, val, sizeof(val) - 12);

    assert_int_equal(wc_memtable_new(&m), WC_OK);
    t0 = now_sec();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            wc_memtable_put(m, kb.data + koff[i], koff[i + 1] - koff[i], v.data, v.len), WC_OK);
    t1 = now_sec();
    print_message("    put random: %.0f ops/s (%zu-byte values, %.1f MiB arena)\n", n / (t1 - t0),
                  v.len, wc_memtable_memory(m) / 1048576.0);

    it = wc_memtable_iter(m);
    t0 = now_sec();
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)(rnd() % n);
        wc_iter_seek(it, kb.data + koff[j], koff[j + 1] - koff[j]);
        found += wc_iter_valid(it);
    }
    t1 = now_sec();
    print_message("    seek random: %.0f ops/s\n", n / (t1 - t0));
    assert_int_equal(found, n);
    t0 = now_sec();
    found = 0;
    for (wc_iter_seek_first(it); wc_iter_valid(it); wc_iter_next(it))
        found++;
    t1 = now_sec();
    print_message("    scan: %.0f entries/s\n", found / (t1 - t0));
    wc_iter_destroy(it);
    wc_memtable_unref(m);

    /* ascending clustering keys in one partition (time series) */
    assert_int_equal(wc_memtable_new(&m), WC_OK);
    wc_buf_reset(&kb);
    for (size_t i = 0; i < n; i++) {
        uint8_t ck[8];
        wc_enc_u64be(ck, i);
        koff[i] = kb.len;
        make_key(&kb, 42, WC_KIND_ROW, ck, sizeof(ck));
    }
    koff[n] = kb.len;
    t0 = now_sec();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            wc_memtable_put(m, kb.data + koff[i], koff[i + 1] - koff[i], v.data, v.len), WC_OK);
    t1 = now_sec();
    print_message("    put sequential: %.0f ops/s\n", n / (t1 - t0));
    wc_memtable_unref(m);
    free(koff);
    wc_buf_free(&kb);
    wc_buf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_random_order),
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_prefix_keys),
        cmocka_unit_test(test_reconcile_rows),
        cmocka_unit_test(test_reconcile_header),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_memory_accounting),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
