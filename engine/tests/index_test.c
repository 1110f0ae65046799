/*
 * index_test.c - node-local secondary indexes (index.h): backfill at
 * creation, entries written with every base write, and reads that stay
 * exact through overwrites, row and partition deletions, TTL expiry,
 * flushes, compaction, paging and a restart; a random model compares every
 * index read with a filtered scan of the base table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "engine.h"
#include "index.h"
#include "keys.h"
#include "mutation.h"
#include "schema_def.h"
#include "testutil.h"

#define TID 11u
#define COL_STATE 1u
#define COL_V 2u
#define NOW 1700000000

static int64_t now_s = NOW;
static int64_t ts_us = (int64_t)NOW * 1000000;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return now_s;
}

/* Create (or alter to) table TID with columns k, c, state, v and the given indexes property. */
static wc_status define(wc_engine *e, const char *indexes, bool create)
{
    wc_schema_column cols[4] = {
        {.name = "k", .type = "text", .kind = WC_COL_PARTITION},
        {.name = "c", .type = "bigint", .kind = WC_COL_CLUSTERING},
        {.name = "state", .type = "text", .kind = WC_COL_REGULAR, .cell_id = COL_STATE},
        {.name = "v", .type = "text", .kind = WC_COL_REGULAR, .cell_id = COL_V},
    };
    wc_schema_option prop = {.name = WC_INDEX_PROPERTY, .value = indexes};
    wc_schema s;
    wc_table_def d;
    wc_buf b;
    wc_status st;

    wc_schema_init(&s);
    s.keyspace = "ks";
    s.table = "t";
    s.table_id = TID;
    s.ncolumns = 4;
    s.columns = cols;
    s.nproperties = indexes ? 1 : 0;
    s.properties = &prop;
    wc_buf_init(&b);
    assert_int_equal(wc_schema_encode(&s, &b), WC_OK);
    wc_table_def_default(&d);
    d.id = TID;
    snprintf(d.name, sizeof(d.name), "ks.t");
    d.schema = b.data;
    d.schema_len = b.len;
    st = create ? wc_engine_create_table(e, &d) : wc_engine_alter_table(e, &d);
    wc_buf_free(&b);
    return st;
}

static void put(wc_engine *e, const char *k, uint64_t c, const char *state, uint32_t ttl)
{
    const uint32_t cols[2] = {COL_STATE, COL_V};
    const char *vals[2] = {state, "payload"};

    assert_int_equal(wc_test_put(e, TID, k, c, ++ts_us, ttl, (uint32_t)now_s, 2, cols, vals),
                     WC_OK);
}

static void delete_row(wc_engine *e, const char *k, uint64_t c)
{
    wc_mutation m, *mp = &m;
    uint8_t ck[8];
    wc_rowb *rb;

    wc_test_ck(c, ck);
    wc_mutation_init(&m, TID, k, strlen(k));
    rb = wc_mutation_row_begin(&m, false, ck, 8);
    wc_rowb_deletion(rb, ++ts_us, (uint32_t)now_s);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

static void delete_partition(wc_engine *e, const char *k)
{
    wc_mutation m, *mp = &m;

    wc_mutation_init(&m, TID, k, strlen(k));
    wc_mutation_delete_partition(&m, ++ts_us, (uint32_t)now_s);
    assert_int_equal(wc_engine_apply(e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

/* "k/c" of every row the index returns for state (pages of page_rows), sorted, comma-joined. */
static char *by_index(wc_engine *e, const char *state, size_t page_rows, wc_status *st_out)
{
    wc_read_request r;
    wc_page *p = NULL;
    uint8_t *paging = NULL;
    size_t plen = 0;
    char *out = calloc(1, 65536);
    wc_status st;

    for (;;) {
        memset(&r, 0, sizeof(r));
        r.table_id = TID;
        r.page_rows = page_rows;
        r.now_sec = now_s;
        r.paging_state = paging;
        r.paging_state_len = plen;
        st = wc_engine_index_read(e, &r, "s_idx", (const uint8_t *)state, strlen(state), &p);
        if (st != WC_OK)
            break;
        assert_true(p->nrows <= page_rows);
        for (size_t i = 0; i < p->nrows; i++) {
            const wc_cell *c = wc_test_cell(&p->rows[i], COL_STATE);
            assert_non_null(c);
            assert_int_equal(c->len, strlen(state));
            assert_memory_equal(c->value, state, c->len);
            snprintf(out + strlen(out), 64, "%.*s/%llu,", (int)p->rows[i].pk_len,
                     (const char *)p->rows[i].pk,
                     (unsigned long long)wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len));
        }
        free(paging);
        paging = NULL;
        plen = 0;
        if (!p->more) {
            wc_page_free(p);
            break;
        }
        plen = p->paging_state_len;
        paging = malloc(plen);
        memcpy(paging, p->paging_state, plen);
        wc_page_free(p);
    }
    free(paging);
    if (st_out)
        *st_out = st;
    return out;
}

/* The same answer from a filtered scan of the base table (sorted in token order like the index). */
static char *by_scan(wc_engine *e, const char *state)
{
    wc_read_request r;
    wc_page *p;
    char *out = calloc(1, 65536);

    memset(&r, 0, sizeof(r));
    r.table_id = TID;
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = now_s;
    r.page_rows = 100000;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    assert_false(p->more);
    for (size_t i = 0; i < p->nrows; i++) {
        const wc_cell *c = wc_test_cell(&p->rows[i], COL_STATE);
        if (c == NULL || c->len != strlen(state) || memcmp(c->value, state, c->len) != 0)
            continue;
        snprintf(out + strlen(out), 64, "%.*s/%llu,", (int)p->rows[i].pk_len,
                 (const char *)p->rows[i].pk,
                 (unsigned long long)wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len));
    }
    wc_page_free(p);
    return out;
}

static void expect(wc_engine *e, const char *state, const char *want)
{
    char *got = by_index(e, state, 1000, NULL);
    char *scan = by_scan(e, state);

    assert_string_equal(got, scan);
    if (want)
        assert_string_equal(got, want);
    free(got);
    free(scan);
}

/* Live entries in the index table for value (stale ones included until a read removes them). */
static long entries(wc_engine *e, const char *value)
{
    wc_read_request r;
    wc_page *p;
    long n;

    memset(&r, 0, sizeof(r));
    r.table_id = wc_index_table_id(TID, "s_idx");
    r.pk = (const uint8_t *)value;
    r.pk_len = strlen(value);
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = now_s;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    n = (long)p->nrows;
    wc_page_free(p);
    return n;
}

static wc_engine *open_engine(const char *dir)
{
    wc_engine *e;

    assert_int_equal(wc_test_open_clock(dir, WC_SYNC_BATCH, 1u << 20, test_clock, NULL, &e),
                     WC_OK);
    return e;
}

/* Backfill at creation; then writes, overwrites, deletes and TTL keep it exact. */
static void test_maintenance(void **state)
{
    char *dir = wc_test_tmpdir("index");
    wc_engine *e = open_engine(dir);
    uint32_t *ids;
    size_t n;
    wc_status st;

    (void)state;
    now_s = NOW;
    assert_int_equal(define(e, NULL, true), WC_OK);
    put(e, "a", 1, "on", 0);
    put(e, "a", 2, "off", 0);
    put(e, "b", 1, "on", 0);
    assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    put(e, "c", 1, "off", 0);
    /* no index yet */
    free(by_index(e, "on", 10, &st));
    assert_int_equal(st, WC_NOT_FOUND);

    /* creation backfills from SSTables and memtables */
    assert_int_equal(define(e, "{'s_idx': 'state'}", false), WC_OK);
    expect(e, "on", NULL);
    expect(e, "off", NULL);
    assert_int_equal(entries(e, "on"), 2);
    /* the hidden table is not listed */
    assert_int_equal(wc_engine_list_tables(e, &ids, &n), WC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], TID);
    wc_free(ids);

    /* new writes; an overwrite moves a row from on to off */
    put(e, "d", 1, "on", 0);
    put(e, "a", 1, "off", 0);
    expect(e, "on", NULL);
    expect(e, "off", NULL);
    /* the stale entry of a/1 under "on" was removed by the read */
    assert_int_equal(entries(e, "on"), 2);

    /* row and partition deletions */
    delete_row(e, "b", 1);
    delete_partition(e, "a");
    expect(e, "on", NULL);
    expect(e, "off", NULL);

    /* TTL: the entry expires with the cell */
    put(e, "t", 1, "on", 10);
    expect(e, "on", NULL);
    now_s += 11;
    assert_int_equal(entries(e, "on"), 1); /* t/1's entry expired with its cell */
    expect(e, "on", NULL);

    /* flush and compaction change nothing */
    assert_int_equal(wc_engine_flush(e, 0, true), WC_OK);
    assert_int_equal(wc_engine_compact(e, TID), WC_OK);
    assert_int_equal(wc_engine_compact(e, wc_index_table_id(TID, "s_idx")), WC_OK);
    expect(e, "on", NULL);
    expect(e, "off", NULL);

    /* a restart keeps the index and its maintenance */
    wc_engine_close(e);
    e = open_engine(dir);
    expect(e, "on", NULL);
    put(e, "e", 1, "on", 0);
    expect(e, "on", NULL);

    /* an index dropped from the property, or with its table, is gone */
    assert_int_equal(define(e, NULL, false), WC_OK);
    free(by_index(e, "on", 10, &st));
    assert_int_equal(st, WC_NOT_FOUND);
    {
        wc_table_def d;
        assert_int_equal(wc_engine_get_table(e, wc_index_table_id(TID, "s_idx"), &d),
                         WC_NOT_FOUND);
    }
    assert_int_equal(define(e, "{'s_idx': 'state'}", false), WC_OK);
    expect(e, "on", NULL);
    assert_int_equal(wc_engine_drop_table(e, TID), WC_OK);
    {
        wc_table_def d;
        assert_int_equal(wc_engine_get_table(e, wc_index_table_id(TID, "s_idx"), &d),
                         WC_NOT_FOUND);
    }
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/* A property naming a key column or an unknown column indexes nothing. */
static void test_bad_property(void **state)
{
    char *dir = wc_test_tmpdir("indexbad");
    wc_engine *e = open_engine(dir);
    wc_status st;

    (void)state;
    assert_int_equal(define(e, "{'s_idx': 'k'}", true), WC_OK);
    free(by_index(e, "on", 10, &st));
    assert_int_equal(st, WC_NOT_FOUND);
    assert_int_equal(define(e, "{'s_idx': 'nosuch'}", false), WC_OK);
    free(by_index(e, "on", 10, &st));
    assert_int_equal(st, WC_NOT_FOUND);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/* Random writes, overwrites, deletes, TTLs, flushes and compactions: index == filtered scan, in pages. */
static void test_model(void **state)
{
    static const char *const states[3] = {"on", "off", "error"};
    char *dir = wc_test_tmpdir("indexmodel");
    wc_engine *e = open_engine(dir);

    (void)state;
    now_s = NOW;
    srand(1234);
    assert_int_equal(define(e, "{'s_idx': 'state'}", true), WC_OK);
    for (int step = 0; step < 600; step++) {
        char k[8];
        int op = rand() % 20;

        snprintf(k, sizeof(k), "p%d", rand() % 12);
        if (op < 12)
            put(e, k, (uint64_t)(rand() % 5), states[rand() % 3], rand() % 4 == 0 ? 5 : 0);
        else if (op < 15)
            delete_row(e, k, (uint64_t)(rand() % 5));
        else if (op < 16)
            delete_partition(e, k);
        else if (op < 17)
            assert_int_equal(wc_engine_flush(e, 0, true), WC_OK);
        else if (op < 18)
            assert_int_equal(wc_engine_compact(e, TID), WC_OK);
        else
            now_s += 2;
        if (step % 25 == 0) {
            for (int s = 0; s < 3; s++) {
                char *paged = by_index(e, states[s], 1 + (size_t)(rand() % 4), NULL);
                char *scan = by_scan(e, states[s]);
                assert_string_equal(paged, scan);
                free(paged);
                free(scan);
            }
        }
    }
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

/*
 * The rows of state in (lo, hi] read through the index with token_range, in
 * pages of page_rows, each page continuing after the previous page's last
 * entry key (as a replica of a coordinated index read does), appended to out.
 */
static void by_range(wc_engine *e, const char *state, int64_t lo, int64_t hi, size_t page_rows,
                     char *out)
{
    uint8_t after[256];
    size_t alen = 0;

    for (;;) {
        wc_read_request r;
        wc_page *p = NULL;

        memset(&r, 0, sizeof(r));
        r.table_id = TID;
        r.page_rows = page_rows;
        r.now_sec = now_s;
        r.token_range = true;
        r.token_start = lo;
        r.token_end = hi;
        r.start.unbounded = alen == 0;
        r.start.key = after;
        r.start.len = alen;
        r.end.unbounded = true;
        assert_int_equal(
            wc_engine_index_read(e, &r, "s_idx", (const uint8_t *)state, strlen(state), &p),
            WC_OK);
        for (size_t i = 0; i < p->nrows; i++) {
            const wc_result_row *row = &p->rows[i];

            assert_true(row->token > lo || (lo == INT64_MIN && row->token == INT64_MIN));
            assert_true(row->token <= hi);
            snprintf(out + strlen(out), 64, "%.*s/%llu,", (int)row->pk_len,
                     (const char *)row->pk,
                     (unsigned long long)wc_test_ck_value(row->ck, row->ck_len));
            /* the entry key: token | u16be pk_len | pk | ck */
            wc_enc_u64be(after, (uint64_t)row->token ^ 0x8000000000000000ull);
            after[8] = (uint8_t)(row->pk_len >> 8);
            after[9] = (uint8_t)row->pk_len;
            memcpy(after + 10, row->pk, row->pk_len);
            memcpy(after + 10 + row->pk_len, row->ck, row->ck_len);
            alen = 10 + row->pk_len + row->ck_len;
        }
        if (!p->more || p->nrows == 0) {
            wc_page_free(p);
            return;
        }
        wc_page_free(p);
    }
}

/* Token ranges and a start key: the index read of a replica in a coordinated index read. */
static void test_token_ranges(void **state)
{
    char *dir = wc_test_tmpdir("index_ranges");
    wc_engine *e = open_engine(dir);
    int64_t cuts[5] = {INT64_MIN, 0, 0, 0, INT64_MAX};
    char key[16], *whole, *parts = calloc(1, 65536);

    (void)state;
    /* ranges that end exactly at rows' tokens (an entry of token_end belongs to the range) */
    cuts[1] = wc_token("k7", 2);
    cuts[2] = wc_token("k19", 3);
    cuts[3] = wc_token("k30", 3);
    for (int i = 1; i < 3; i++)
        for (int j = 1; j < 4 - i; j++)
            if (cuts[j] > cuts[j + 1]) {
                int64_t t = cuts[j];
                cuts[j] = cuts[j + 1];
                cuts[j + 1] = t;
            }
    now_s = NOW;
    assert_int_equal(define(e, "{'s_idx': 'state'}", true), WC_OK);
    for (int k = 0; k < 40; k++) {
        snprintf(key, sizeof(key), "k%d", k);
        put(e, key, 1, k % 3 ? "on" : "off", 0);
        put(e, key, 2, "on", 0);
    }
    assert_int_equal(wc_engine_flush(e, TID, true), WC_OK);
    put(e, "k5", 2, "off", 0); /* a stale entry in an SSTable, checked away */
    whole = by_index(e, "on", 1000, NULL);
    for (size_t page = 1; page <= 7; page += 3) {
        parts[0] = '\0';
        for (int i = 0; i < 4; i++)
            by_range(e, "on", cuts[i], cuts[i + 1], page, parts);
        assert_string_equal(parts, whole);
    }
    free(whole);
    free(parts);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maintenance),
        cmocka_unit_test(test_bad_property),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_token_ranges),
    };
    return cmocka_run_group_tests_name("index", tests, NULL, NULL);
}
