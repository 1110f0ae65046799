/*
 * collection_test.c - collection cells: element-by-element merge rules
 * (commutative, associative, idempotent, tombstones shadow older elements),
 * concurrent element writes kept across memtable, flush, compaction and
 * replay, element and collection tombstones, row deletions, single-element
 * TTL and compaction purging, and malformed values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection.h"
#include "engine.h"
#include "mutation.h"
#include "raw.h"
#include "row.h"
#include "testutil.h"

#define T1 21
#define COL 2
#define NOW 1700000000

static int64_t now_s = NOW;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return now_s;
}

typedef struct fx {
    char *dir;
    wc_engine *e;
} fx;

static wc_status open_engine(fx *f)
{
    return wc_test_open_clock(f->dir, WC_SYNC_PERIODIC, 1u << 20, test_clock, NULL, &f->e);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    wc_table_def d;

    now_s = NOW;
    f->dir = wc_test_tmpdir("collection");
    if (f->dir == NULL || open_engine(f) != WC_OK)
        return -1;
    wc_table_def_default(&d);
    d.id = T1;
    d.gc_grace_seconds = 10;
    snprintf(d.name, sizeof(d.name), "ks.coll");
    if (wc_engine_create_table(f->e, &d) != WC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    wc_engine_close(f->e);
    wc_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/*
 * A collection value from a spec: "D<ts>" a collection tombstone, then
 * elements "<key>=<value>@<ts>", "<key>-@<ts>" (tombstone) or
 * "<key>=<value>@<ts>~<ttl>" (expiring at NOW + ttl), separated by spaces,
 * keys ascending.  Returns the cell timestamp.
 */
static int64_t coll(wc_buf *b, const char *spec)
{
    wc_collb cb;
    char tmp[256], *save = NULL, *tok;

    snprintf(tmp, sizeof(tmp), "%s", spec);
    wc_collb_begin(&cb, b);
    for (tok = strtok_r(tmp, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        wc_coll_elem e;
        char *at = strchr(tok, '@'), *eq = strchr(tok, '='), *ttl = strchr(tok, '~');

        if (tok[0] == 'D') {
            wc_collb_deletion(&cb, atoll(tok + 1), NOW);
            continue;
        }
        memset(&e, 0, sizeof(e));
        e.key = (const uint8_t *)tok;
        e.key_len = (size_t)((eq ? eq : strchr(tok, '-')) - tok);
        e.ts = atoll(at + 1);
        if (eq) {
            e.value = (const uint8_t *)eq + 1;
            e.len = (size_t)(at - eq - 1);
            if (ttl) {
                e.flags = WC_CELLF_EXPIRING;
                e.ttl = (uint32_t)atoi(ttl + 1);
                e.ldt = (uint32_t)NOW + e.ttl;
            }
        } else {
            e.flags = WC_CELLF_TOMBSTONE;
            e.ldt = NOW;
        }
        wc_collb_elem(&cb, &e);
    }
    assert_true(wc_collb_end(&cb) > 0);
    return cb.max_ts;
}

/* The live elements of a collection value at now as "k=v k=v" ("" when none). */
static void live_text(const uint8_t *v, size_t len, int64_t shadow, int64_t now, char *out,
                      size_t cap)
{
    wc_buf b;
    uint32_t n;
    const uint8_t *p, *end, *k = NULL, *val = NULL;
    size_t kl = 0, vl = 0;
    uint64_t cnt = 0;

    out[0] = '\0';
    wc_buf_init(&b);
    assert_int_equal(wc_coll_live(v, len, shadow, now, &b, &n), WC_OK);
    if (n == 0) {
        assert_int_equal(b.len, 0);
        wc_buf_free(&b);
        return;
    }
    p = b.data;
    end = b.data + b.len;
    assert_true(wc_get_varint(&p, end, &cnt));
    assert_int_equal(cnt, n);
    for (uint64_t i = 0; i < cnt; i++) {
        size_t o = strlen(out);
        assert_true(wc_get_bytes(&p, end, &k, &kl));
        assert_true(wc_get_bytes(&p, end, &val, &vl));
        snprintf(out + o, cap - o, "%s%.*s=%.*s", i ? " " : "", (int)kl, k, (int)vl, val);
    }
    assert_true(p == end);
    wc_buf_free(&b);
}

/* Merge: per element last write wins, tombstones shadow; commutative, associative, idempotent. */
static void test_merge_rules(void **state)
{
    wc_buf a, b, c, ab, ba, aa, ab_c, bc, a_bc;
    int64_t ts;
    char txt[256];
    (void)state;

    wc_buf_init(&a);
    wc_buf_init(&b);
    wc_buf_init(&c);
    wc_buf_init(&ab);
    wc_buf_init(&ba);
    wc_buf_init(&aa);
    wc_buf_init(&ab_c);
    wc_buf_init(&bc);
    wc_buf_init(&a_bc);
    assert_int_equal(coll(&a, "D5 k1=a@10 k2=b@12"), 12);
    assert_int_equal(coll(&b, "k0=z@3 k1-@11 k3=c@7"), 11);
    assert_int_equal(coll(&c, "D8 k2=B@12 k4=d@9"), 12);
    assert_int_equal(wc_coll_merge(a.data, a.len, b.data, b.len, &ab, &ts), WC_OK);
    assert_int_equal(ts, 12);
    assert_int_equal(wc_coll_merge(b.data, b.len, a.data, a.len, &ba, &ts), WC_OK);
    assert_int_equal(ab.len, ba.len);
    assert_memory_equal(ab.data, ba.data, ab.len);
    /* k0@3 is older than the tombstone at 5; k1 deleted at 11 beats its write at 10 */
    live_text(ab.data, ab.len, WC_NO_TIMESTAMP, NOW, txt, sizeof(txt));
    assert_string_equal(txt, "k2=b k3=c");
    assert_int_equal(wc_coll_merge(a.data, a.len, a.data, a.len, &aa, &ts), WC_OK);
    assert_int_equal(aa.len, a.len);
    assert_memory_equal(aa.data, a.data, a.len);
    /* (a b) c == a (b c); c's tombstone at 8 drops k3@7; equal ts: the greater value */
    assert_int_equal(wc_coll_merge(ab.data, ab.len, c.data, c.len, &ab_c, &ts), WC_OK);
    assert_int_equal(wc_coll_merge(b.data, b.len, c.data, c.len, &bc, &ts), WC_OK);
    assert_int_equal(wc_coll_merge(a.data, a.len, bc.data, bc.len, &a_bc, &ts), WC_OK);
    assert_int_equal(ab_c.len, a_bc.len);
    assert_memory_equal(ab_c.data, a_bc.data, ab_c.len);
    live_text(ab_c.data, ab_c.len, WC_NO_TIMESTAMP, NOW, txt, sizeof(txt));
    assert_string_equal(txt, "k2=b k4=d");
    /* a shadow (row or partition deletion) at 10 hides what is not newer */
    live_text(ab_c.data, ab_c.len, 10, NOW, txt, sizeof(txt));
    assert_string_equal(txt, "k2=b");
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&c);
    wc_buf_free(&ab);
    wc_buf_free(&ba);
    wc_buf_free(&aa);
    wc_buf_free(&ab_c);
    wc_buf_free(&bc);
    wc_buf_free(&a_bc);
}

/* Malformed values: keys out of order, elements the tombstone shadows, a cell ts that lies. */
static void test_malformed(void **state)
{
    wc_buf v, row;
    wc_rowb rb;
    wc_cell c;
    int64_t mx, mn;
    (void)state;

    wc_buf_init(&v);
    wc_buf_init(&row);
    coll(&v, "D5 a=1@6 b=2@9");
    assert_true(wc_coll_valid(v.data, v.len, &mx, &mn));
    assert_int_equal(mx, 9);
    assert_int_equal(mn, 5);
    for (size_t cut = 0; cut < v.len; cut++)
        assert_false(wc_coll_valid(v.data, cut, NULL, NULL));
    wc_buf_reset(&v);
    coll(&v, "b=1@6 a=2@9");
    assert_false(wc_coll_valid(v.data, v.len, NULL, NULL));
    wc_buf_reset(&v);
    coll(&v, "D7 a=1@6");
    assert_false(wc_coll_valid(v.data, v.len, NULL, NULL));
    wc_buf_reset(&v);
    coll(&v, "a=1@6");
    /* a row blob whose collection cell claims another timestamp is malformed */
    memset(&c, 0, sizeof(c));
    c.column = 1;
    c.flags = WC_CELLF_COLLECTION;
    c.ts = 7;
    c.value = v.data;
    c.len = v.len;
    wc_rowb_begin(&rb, &row);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_false(wc_row_validate(row.data, row.len));
    wc_buf_reset(&row);
    c.ts = 6;
    wc_rowb_begin(&rb, &row);
    wc_rowb_cell(&rb, &c);
    wc_rowb_end(&rb);
    assert_true(wc_row_validate(row.data, row.len));
    wc_buf_free(&v);
    wc_buf_free(&row);
}

/* Write the collection spec as cell COL of row (pk, ck). */
static void put(wc_engine *e, const char *pk, uint64_t ck, const char *spec)
{
    wc_mutation m, *mp = &m;
    wc_buf v;
    wc_cell c;
    uint8_t ckb[8];
    wc_rowb *rb;

    wc_buf_init(&v);
    wc_test_ck(ck, ckb);
    memset(&c, 0, sizeof(c));
    c.column = COL;
    c.flags = WC_CELLF_COLLECTION;
    c.ts = coll(&v, spec);
    c.value = v.data;
    c.len = v.len;
    wc_mutation_init(&m, T1, pk, strlen(pk));
    rb = wc_mutation_row_begin(&m, false, ckb, 8);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
    wc_buf_free(&v);
}

/* Write a plain cell tombstone (SET col = NULL of an old client) or a row deletion. */
static void put_tombstone(wc_engine *e, const char *pk, uint64_t ck, int64_t ts, bool row)
{
    wc_mutation m, *mp = &m;
    wc_cell c;
    uint8_t ckb[8];
    wc_rowb *rb;

    wc_test_ck(ck, ckb);
    memset(&c, 0, sizeof(c));
    c.column = COL;
    c.flags = WC_CELLF_TOMBSTONE;
    c.ts = ts;
    c.ldt = (uint32_t)now_s;
    wc_mutation_init(&m, T1, pk, strlen(pk));
    rb = wc_mutation_row_begin(&m, false, ckb, 8);
    if (row)
        wc_rowb_deletion(rb, ts, (uint32_t)now_s);
    else
        wc_rowb_cell(rb, &c);
    wc_mutation_row_end(&m);
    assert_int_equal(wc_engine_apply(e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
}

/* The live elements of (pk, ck, COL) as "k=v ..."; "" when the cell reads as absent. */
static void get(wc_engine *e, const char *pk, uint64_t ck, char *out, size_t cap)
{
    wc_read_request r;
    wc_page *p = NULL;
    uint8_t ckb[8];

    out[0] = '\0';
    wc_test_ck(ck, ckb);
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.key = r.end.key = ckb;
    r.start.len = r.end.len = 8;
    r.start.inclusive = r.end.inclusive = true;
    r.now_sec = now_s;
    assert_int_equal(wc_engine_read(e, &r, &p), WC_OK);
    for (size_t i = 0; i < p->nrows; i++) {
        const wc_cell *c = wc_test_cell(&p->rows[i], COL);
        const uint8_t *q, *end, *k = NULL, *val = NULL;
        size_t kl = 0, vl = 0;
        uint64_t n = 0;

        if (c == NULL)
            continue;
        assert_true(c->flags & WC_CELLF_COLLECTION);
        q = c->value;
        end = c->value + c->len;
        assert_true(wc_get_varint(&q, end, &n));
        assert_true(n > 0);
        for (uint64_t j = 0; j < n; j++) {
            size_t o = strlen(out);
            assert_true(wc_get_bytes(&q, end, &k, &kl));
            assert_true(wc_get_bytes(&q, end, &val, &vl));
            snprintf(out + o, cap - o, "%s%.*s=%.*s", j ? " " : "", (int)kl, k, (int)vl, val);
        }
        assert_true(q == end);
    }
    wc_page_free(p);
}

static void reopen(fx *f)
{
    wc_engine_close(f->e);
    assert_int_equal(open_engine(f), WC_OK);
}

/*
 * Element writes of different writers all land: in the memtable, across a
 * flush (memtable + SSTable), after compaction and after replay.
 */
static void test_element_writes_kept(void **state)
{
    fx *f = *state;
    char txt[256];

    put(f->e, "p", 1, "a=1@10");
    put(f->e, "p", 1, "b=2@11");
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1 b=2");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put(f->e, "p", 1, "c=3@9"); /* older than the others, a different element: kept */
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1 b=2 c=3");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1 b=2 c=3");
    put(f->e, "p", 1, "d=4@12");
    reopen(f); /* d comes back from the commit log */
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1 b=2 c=3 d=4");
}

/* Element tombstones, collection tombstones (replace), plain cell tombstones, row deletions. */
static void test_tombstones(void **state)
{
    fx *f = *state;
    char txt[256];

    put(f->e, "p", 1, "a=1@10 b=2@10 c=3@10");
    put(f->e, "p", 1, "b-@11");
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1 c=3");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    /* a replace: collection tombstone at ts - 1 and the new elements */
    put(f->e, "p", 1, "D19 x=9@20");
    put(f->e, "p", 1, "a=5@18"); /* a late element older than the replace: shadowed */
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "x=9");
    /* a plain cell tombstone acts on elements as a collection tombstone */
    put(f->e, "p", 1, "y=8@30");
    put_tombstone(f->e, "p", 1, 25, false);
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "y=8");
    /* a row deletion drops the older elements, newer ones stay */
    put(f->e, "q", 1, "a=1@10 b=2@20");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put_tombstone(f->e, "q", 1, 15, true);
    get(f->e, "q", 1, txt, sizeof(txt));
    assert_string_equal(txt, "b=2");
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "y=8");
    get(f->e, "q", 1, txt, sizeof(txt));
    assert_string_equal(txt, "b=2");
    /* removing every element leaves nothing to read */
    put(f->e, "q", 1, "b-@21");
    get(f->e, "q", 1, txt, sizeof(txt));
    assert_string_equal(txt, "");
}

/*
 * A non-frozen UDT as the extension stores it: one element per field,
 * keyed by field number.  A field update of one writer and one of another
 * writer with an older timestamp both land; a field set to NULL is an
 * element tombstone; a whole value replaces every field older than it.
 */
static void test_udt_fields(void **state)
{
    fx *f = *state;
    char txt[256];

    put(f->e, "u", 1, "D99 1=street@100 2=city@100 3=zip@100");
    put(f->e, "u", 1, "2=Paris@300");
    put(f->e, "u", 1, "3=75001@200"); /* sent after, written with an older time */
    get(f->e, "u", 1, txt, sizeof(txt));
    assert_string_equal(txt, "1=street 2=Paris 3=75001");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    put(f->e, "u", 1, "1-@250");
    get(f->e, "u", 1, txt, sizeof(txt));
    assert_string_equal(txt, "2=Paris 3=75001");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    get(f->e, "u", 1, txt, sizeof(txt));
    assert_string_equal(txt, "2=Paris 3=75001");
    /* a whole value at 260 keeps the newer city, drops the older zip */
    put(f->e, "u", 1, "D259 1=quai@260 3=69000@260");
    put(f->e, "u", 1, "3=stale@150");
    reopen(f);
    get(f->e, "u", 1, txt, sizeof(txt));
    assert_string_equal(txt, "1=quai 2=Paris 3=69000");
}

/* Raw (unresolved) row of (pk, ck) after a major compaction: the count of collection elements. */
static int stored_elements(fx *f, const char *pk)
{
    wc_buf raw;
    uint8_t ckb[8];
    wc_store_read r;
    uint8_t digest[WC_RAW_DIGEST_LEN];
    wc_batch_view bv;
    const uint8_t *mut;
    size_t mlen;
    int n = -1;

    (void)ckb;
    wc_buf_init(&raw);
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    assert_int_equal(wc_engine_read_raw(f->e, &r, &raw, digest), WC_OK);
    if (raw.len == 0) {
        wc_buf_free(&raw);
        return 0;
    }
    assert_int_equal(wc_batch_parse(raw.data, raw.len, &bv), WC_OK);
    while (wc_batch_next(&bv, &mut, &mlen) == 1) {
        wc_mutation_view mv;
        wc_mutation_entry me;

        assert_int_equal(wc_mutation_parse(mut, mlen, &mv), WC_OK);
        while (wc_mutation_next(&mv, &me) == 1) {
            wc_row_view v;
            wc_cell c;

            if (me.kind == WC_KIND_HEADER)
                continue;
            assert_true(wc_row_parse(me.blob, me.blob_len, &v));
            n = 0;
            while (wc_row_next_cell(&v, &c) == 1) {
                wc_coll_view cv;
                assert_true(c.flags & WC_CELLF_COLLECTION);
                assert_true(wc_coll_parse(c.value, c.len, &cv));
                n = (int)cv.n + (cv.deleted ? 100 : 0);
            }
        }
    }
    wc_buf_free(&raw);
    return n;
}

/* TTL of single elements; compaction turns them into tombstones and purges them after gc_grace. */
static void test_ttl_and_purge(void **state)
{
    fx *f = *state;
    char txt[256];

    put(f->e, "p", 1, "a=1@10 b=2@10~60 c=3@10");
    put(f->e, "p", 1, "c-@11");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1 b=2");
    now_s = NOW + 61;
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1");
    /* c's tombstone (written at NOW) is past gc_grace (10 s) and goes; b expired at
     * NOW + 60 and stays as a tombstone within gc_grace */
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(stored_elements(f, "p"), 2);
    /* b's tombstone past gc_grace too: purged, a stays */
    now_s = NOW + 61 + 11;
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(stored_elements(f, "p"), 1);
    get(f->e, "p", 1, txt, sizeof(txt));
    assert_string_equal(txt, "a=1");
    /* a collection tombstone (deletion time NOW) is purged too, past gc_grace only;
     * what it shadowed goes at once */
    now_s = NOW + 5;
    put(f->e, "q", 1, "a=1@10");
    put(f->e, "q", 1, "D11 b=2@12");
    assert_int_equal(wc_engine_flush(f->e, T1, true), WC_OK);
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(stored_elements(f, "q"), 101);
    now_s = NOW + 11;
    assert_int_equal(wc_engine_compact(f->e, T1), WC_OK);
    assert_int_equal(stored_elements(f, "q"), 1);
    get(f->e, "q", 1, txt, sizeof(txt));
    assert_string_equal(txt, "b=2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_rules),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test_setup_teardown(test_element_writes_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udt_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_and_purge, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
