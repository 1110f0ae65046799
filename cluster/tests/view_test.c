/*
 * view_test.c - materialized views kept on base writes (view.h), on a real
 * engine: a base row whose view key cell changes moves its view row
 * (old one deleted, new one written, and back again); a cell set to NULL
 * leaves the view row too; row and partition deletes of the base delete
 * view rows; a TTL on the view key cell makes the view row expire with it;
 * a view built over existing rows holds them; WHERE conditions keep rows
 * out; a clustering base with a DESC view column and a range delete;
 * malformed recipes are refused; views survive a reopen (catalog reload);
 * a coordinated write of a base table is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "mutation.h"
#include "schema_def.h"
#include "testutil.h"
#include "view.h"
#include "view_pair.h"

#define BASE 1
#define VIEW 2
#define C_STATE 1
#define C_VALUE 2

typedef struct vt {
    char *dir;
    wc_engine *e;
    wc_views *v;
} vt;

/* Text key encoding: the bytes, then 0x00 0x00 (no NUL inside in these tests). */
static size_t key_text(const char *s, uint8_t *out)
{
    size_t n = strlen(s);

    memcpy(out, s, n);
    out[n] = out[n + 1] = 0;
    return n + 2;
}

static void create_table(vt *t, uint32_t id, const char *recipe)
{
    wc_table_def d;
    wc_schema s;
    wc_schema_option prop = {WC_VIEW_PROPERTY, recipe};
    wc_buf b;

    wc_table_def_default(&d);
    d.id = id;
    snprintf(d.name, sizeof(d.name), "ks.t%u", id);
    wc_buf_init(&b);
    if (recipe) {
        wc_schema_init(&s);
        s.keyspace = "ks";
        s.table = d.name + 3;
        s.table_id = id;
        s.nproperties = 1;
        s.properties = &prop;
        assert_int_equal(wc_schema_encode(&s, &b), WC_OK);
        d.schema = b.data;
        d.schema_len = b.len;
    }
    assert_int_equal(wc_engine_create_table(t->e, &d), WC_OK);
    if (recipe) {
        bool is_view = false;
        assert_int_equal(wc_views_define(t->v, &d, &is_view), WC_OK);
        assert_true(is_view);
    }
    wc_buf_free(&b);
}

static void vt_open(vt *t, const char *recipe, bool fresh)
{
    if (fresh) {
        t->dir = wc_test_tmpdir("view");
        assert_non_null(t->dir);
    }
    assert_int_equal(wc_test_open(t->dir, WC_SYNC_PERIODIC, 1 << 20, &t->e), WC_OK);
    assert_int_equal(wc_views_new(&t->v), WC_OK);
    if (fresh) {
        create_table(t, BASE, NULL);
        create_table(t, VIEW, recipe);
    } else {
        assert_int_equal(wc_views_load(t->v, t->e), WC_OK);
    }
}

static void vt_close(vt *t, bool remove)
{
    wc_views_free(t->v);
    wc_engine_close(t->e);
    if (remove) {
        wc_test_rmrf(t->dir);
        free(t->dir);
    }
}

/* Set: put() goes through wc_views_apply_paired, its update record here. */
static wc_buf *paired_upd;

/* A base row of device dev (no clustering key): state and value, NULL = cell tombstone. */
static void put(vt *t, const char *dev, const char *ck, const char *state, const char *value,
                uint32_t ttl)
{
    static int64_t ts = 1700000000000000LL;
    uint32_t now = (uint32_t)time(NULL);
    uint8_t pk[64], ckb[64];
    size_t pk_len = key_text(dev, pk), ck_len = ck ? key_text(ck, ckb) : 0;
    wc_batch_builder b;
    wc_mutation *m;
    wc_rowb *rb;
    const uint8_t *rec;
    size_t len;
    const char *vals[2] = {state, value};

    wc_batch_builder_init(&b);
    m = wc_batch_builder_begin(&b, BASE, pk, pk_len);
    rb = wc_mutation_row_begin(m, false, ckb, ck_len);
    ts++;
    wc_rowb_liveness(rb, ts, ttl, ttl ? now + ttl : 0);
    for (uint32_t c = 0; c < 2; c++) {
        wc_cell cell = {c + 1, 0, ts, 0, 0, (const uint8_t *)vals[c], vals[c] ? strlen(vals[c]) : 0};
        if (vals[c] == NULL) {
            cell.flags = WC_CELLF_TOMBSTONE;
            cell.ldt = now;
        } else if (ttl) {
            cell.flags = WC_CELLF_EXPIRING;
            cell.ttl = ttl;
            cell.ldt = now + ttl;
        }
        wc_rowb_cell(rb, &cell);
    }
    wc_mutation_row_end(m);
    assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    if (paired_upd) {
        assert_int_equal(wc_views_apply_paired(t->v, t->e, rec, len, paired_upd), WC_OK);
    } else {
        assert_int_equal(wc_views_apply(t->v, t->e, rec, len), WC_OK);
    }
    wc_batch_builder_free(&b);
}

/* Delete the base partition of dev, or its row ck, or the rows ck >= from. */
static void del(vt *t, const char *dev, const char *ck, const char *from)
{
    uint8_t pk[64], ckb[64];
    size_t pk_len = key_text(dev, pk);
    wc_batch_builder b;
    wc_mutation *m;
    const uint8_t *rec;
    size_t len;
    uint32_t now = (uint32_t)time(NULL);
    int64_t ts = 1800000000000000LL;

    wc_batch_builder_init(&b);
    m = wc_batch_builder_begin(&b, BASE, pk, pk_len);
    if (ck) {
        wc_rowb_deletion(wc_mutation_row_begin(m, false, ckb, key_text(ck, ckb)), ts, now);
        wc_mutation_row_end(m);
    } else if (from) {
        wc_range_tombstone rt;
        memset(&rt, 0, sizeof(rt));
        rt.start = ckb;
        rt.start_len = key_text(from, ckb);
        rt.bflags = WC_BOUND_START_INCL | WC_BOUND_END_UNBOUNDED;
        rt.ts = ts;
        rt.ldt = now;
        wc_mutation_delete_range(m, &rt);
    } else {
        wc_mutation_delete_partition(m, ts, now);
    }
    assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_views_apply(t->v, t->e, rec, len), WC_OK);
    wc_batch_builder_free(&b);
}

/* The view rows of partition key vpk (text), as "ck=value" joined by spaces ("" if none). */
static void view_rows(vt *t, const char *vpk, int64_t now, char *out, size_t cap)
{
    uint8_t pk[64];
    wc_read_request req;
    wc_page *pg = NULL;

    memset(&req, 0, sizeof(req));
    req.table_id = VIEW;
    req.pk = pk;
    req.pk_len = key_text(vpk, pk);
    req.start.unbounded = req.end.unbounded = true;
    req.now_sec = now;
    assert_int_equal(wc_engine_read(t->e, &req, &pg), WC_OK);
    out[0] = '\0';
    for (size_t i = 0; i < pg->nrows; i++) {
        const wc_result_row *r = &pg->rows[i];
        const wc_cell *v = wc_test_cell(r, C_VALUE);
        char ck[64];
        size_t n = 0;
        for (size_t j = 0; j < r->ck_len && n + 1 < sizeof(ck); j++)
            ck[n++] = r->ck[j] >= 0x20 && r->ck[j] < 0x7f ? (char)r->ck[j] : '.';
        ck[n] = '\0';
        assert_null(wc_test_cell(r, C_STATE)); /* the view key cell is in the key */
        snprintf(out + strlen(out), cap - strlen(out), "%s%s=%.*s", i ? " " : "", ck,
                 v ? (int)v->len : 4, v ? (const char *)v->value : "NULL");
    }
    wc_page_free(pg);
}

#define RECIPE_STATE "base=1 bpk=e bck= pk=x ck=p0 x=1:s"

static void test_key_change_moves_row(void **state)
{
    vt t;
    char rows[256];

    (void)state;
    vt_open(&t, RECIPE_STATE, true);
    put(&t, "d1", NULL, "on", "e11", 0);
    put(&t, "d2", NULL, "off", "e21", 0);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=e11");
    put(&t, "d1", NULL, "off", "e12", 0);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "");
    view_rows(&t, "off", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=e12 d2..=e21");
    /* back to a key it had: the new row wins over the deletion that moved it away */
    put(&t, "d1", NULL, "on", "e13", 0);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=e13");
    view_rows(&t, "off", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d2..=e21");
    /* a cell set to NULL goes from the view row too; a NULL key cell takes the row out */
    put(&t, "d1", NULL, "on", NULL, 0);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=NULL");
    put(&t, "d2", NULL, NULL, "e22", 0);
    view_rows(&t, "off", 0, rows, sizeof(rows));
    assert_string_equal(rows, "");
    vt_close(&t, true);
}

static void test_deletes(void **state)
{
    vt t;
    char rows[256];

    (void)state;
    vt_open(&t, RECIPE_STATE, true);
    put(&t, "d1", NULL, "on", "a", 0);
    put(&t, "d2", NULL, "on", "b", 0);
    put(&t, "d3", NULL, "on", "c", 0);
    del(&t, "d1", NULL, NULL); /* partition */
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d2..=b d3..=c");
    vt_close(&t, false);
    vt_open(&t, RECIPE_STATE, false); /* views reloaded from the catalog */
    del(&t, "d3", NULL, NULL);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d2..=b");
    vt_close(&t, true);
}

static void test_ttl_carries_over(void **state)
{
    vt t;
    char rows[256];
    int64_t now = (int64_t)time(NULL);

    (void)state;
    vt_open(&t, RECIPE_STATE, true);
    put(&t, "d1", NULL, "on", "a", 100);
    put(&t, "d2", NULL, "on", "b", 0);
    view_rows(&t, "on", now, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=a d2..=b");
    /* 200 seconds later the TTL'd base row and its view row are gone, the other stays */
    view_rows(&t, "on", now + 200, rows, sizeof(rows));
    assert_string_equal(rows, "d2..=b");
    assert_int_equal(wc_test_count_rows(t.e, BASE, NULL, now + 200, NULL), 1);
    vt_close(&t, true);
}

static void test_build_and_where(void **state)
{
    vt t;
    char rows[256];
    char recipe[128];

    (void)state;
    t.dir = wc_test_tmpdir("view");
    assert_int_equal(wc_test_open(t.dir, WC_SYNC_PERIODIC, 1 << 20, &t.e), WC_OK);
    assert_int_equal(wc_views_new(&t.v), WC_OK);
    create_table(&t, BASE, NULL);
    put(&t, "d1", NULL, "on", "keep", 0);
    put(&t, "d2", NULL, "on", "drop", 0);
    put(&t, "d3", NULL, "off", "keep", 0);
    /* only rows whose value is 'keep' (6b656570) */
    snprintf(recipe, sizeof(recipe), "%s where=v2:6b656570", RECIPE_STATE);
    create_table(&t, VIEW, recipe);
    assert_int_equal(wc_views_build(t.v, t.e, VIEW), WC_OK);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=keep");
    view_rows(&t, "off", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d3..=keep");
    put(&t, "d2", NULL, "on", "keep", 0);
    put(&t, "d1", NULL, "on", "gone", 0);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d2..=keep");
    assert_int_equal(wc_views_build(t.v, t.e, 99), WC_NOT_FOUND);
    vt_close(&t, true);
}

/* Base (dev, ts ck); view ((state), dev, ts DESC): rows of one device in reverse. */
static void test_clustering_desc_and_range_delete(void **state)
{
    vt t;
    char rows[256];

    (void)state;
    vt_open(&t, "base=1 bpk=e bck=e pk=x ck=p0,c0d x=1:s", true);
    put(&t, "d1", "t1", "on", "a", 0);
    put(&t, "d1", "t2", "on", "b", 0);
    put(&t, "d1", "t3", "on", "c", 0);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    /* ck = d1 then the complemented t<n> (shown as dots): DESC order c, b, a */
    assert_string_equal(rows, "d1......=c d1......=b d1......=a");
    del(&t, "d1", NULL, "t2"); /* t2 and t3 */
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1......=a");
    del(&t, "d1", "t1", NULL);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "");
    vt_close(&t, true);
}

static void test_malformed_recipes(void **state)
{
    static const char *const bad[] = {
        "",
        "bpk=e pk=p0",                       /* no base */
        "base=1 bpk=e pk=p1",                /* no such component */
        "base=1 bpk=e pk=x",                 /* x without a view key cell */
        "base=1 bpk=q pk=p0",                /* unknown codec */
        "base=1 bpk=e pk=p0 x=3:zz",         /* unknown cell codec */
        "base=1 bpk=e pk=p0 where=v2:abc",   /* odd hex */
        "base=1 bpk=e pk=p0 bogus=1",
    };
    vt t;

    (void)state;
    t.dir = wc_test_tmpdir("view");
    assert_int_equal(wc_test_open(t.dir, WC_SYNC_PERIODIC, 1 << 20, &t.e), WC_OK);
    assert_int_equal(wc_views_new(&t.v), WC_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wc_table_def d;
        wc_schema s;
        wc_schema_option prop = {WC_VIEW_PROPERTY, bad[i]};
        wc_buf b;
        bool is_view = true;

        wc_table_def_default(&d);
        d.id = 5;
        wc_schema_init(&s);
        s.keyspace = "ks";
        s.table = "v";
        s.table_id = 5;
        s.nproperties = 1;
        s.properties = &prop;
        wc_buf_init(&b);
        assert_int_equal(wc_schema_encode(&s, &b), WC_OK);
        d.schema = b.data;
        d.schema_len = b.len;
        assert_int_equal(wc_views_define(t.v, &d, &is_view), WC_INVALID_ARGUMENT);
        assert_false(is_view);
        wc_buf_free(&b);
    }
    vt_close(&t, true);
}

/* A coordinated write of a base table is refused; of another table, let through. */
/* Apply every view batch of update record upd (as its paired replica would); returns entries. */
static int apply_updates(vt *t, const wc_buf *upd)
{
    const uint8_t *q = upd->data + WC_VIEW_LOG_ID_LEN, *end = upd->data + upd->len;
    wc_views_update u;
    int n = 0, more;

    while ((more = wc_views_update_next(&q, end, &u)) == 1) {
        assert_int_equal(u.base, BASE);
        assert_int_equal(wc_engine_apply_batch(t->e, u.batch, u.batch_len), WC_OK);
        n++;
    }
    assert_int_equal(more, 0);
    return n;
}

static void count_log(void *arg, const uint8_t *upd, size_t len)
{
    (void)upd;
    assert_true(len > WC_VIEW_LOG_ID_LEN);
    (*(int *)arg)++;
}

/*
 * On a cluster node the view mutations are not applied with the base
 * write: they come back as an update record, logged in the same engine
 * record, until their removal.
 */
static void test_paired_updates_are_logged(void **state)
{
    vt t;
    wc_buf upd, rm;
    char rows[256];
    int logged = 0;

    (void)state;
    vt_open(&t, RECIPE_STATE, true);
    assert_int_equal(wc_views_log_open(t.e), WC_OK);
    wc_buf_init(&upd);
    wc_buf_init(&rm);
    paired_upd = &upd;
    put(&t, "d1", NULL, "on", "e11", 0);
    assert_true(upd.len > WC_VIEW_LOG_ID_LEN);
    /* nothing in the view here: the paired replica applies it */
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "");
    assert_int_equal(wc_views_log_scan(t.e, count_log, &logged), WC_OK);
    assert_int_equal(logged, 1);
    assert_int_equal(apply_updates(&t, &upd), 1);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=e11");
    /* the key moves: the record deletes the old view row and writes the new one */
    assert_int_equal(wc_views_log_removal(upd.data, &rm), WC_OK);
    assert_int_equal(wc_engine_apply_batch(t.e, rm.data, rm.len), WC_OK);
    put(&t, "d1", NULL, "off", "e12", 0);
    apply_updates(&t, &upd);
    view_rows(&t, "on", 0, rows, sizeof(rows));
    assert_string_equal(rows, "");
    view_rows(&t, "off", 0, rows, sizeof(rows));
    assert_string_equal(rows, "d1..=e12");
    logged = 0;
    assert_int_equal(wc_views_log_scan(t.e, count_log, &logged), WC_OK);
    assert_int_equal(logged, 1); /* the first one was removed */
    /* the log survives a restart */
    paired_upd = NULL;
    vt_close(&t, false);
    vt_open(&t, RECIPE_STATE, false);
    logged = 0;
    assert_int_equal(wc_views_log_scan(t.e, count_log, &logged), WC_OK);
    assert_int_equal(logged, 1);
    wc_buf_free(&upd);
    wc_buf_free(&rm);
    vt_close(&t, true);
}

/* Cassandra's pairing: the i-th base replica that is no view replica pairs with the i-th such view replica. */
static void test_pairing(void **state)
{
    uint32_t base[3] = {0, 1, 2}, view[3] = {2, 3, 4}, view2[3] = {3, 4, 0};
    bool local;
    int32_t paired;

    (void)state;
    /* a view replica applies locally */
    wc_view_pair_choose(base, 3, view, 3, 2, &local, &paired);
    assert_true(local);
    /* 0 and 1 are left with {3, 4} once the shared 2 is out */
    wc_view_pair_choose(base, 3, view, 3, 0, &local, &paired);
    assert_false(local);
    assert_int_equal(paired, 3);
    wc_view_pair_choose(base, 3, view, 3, 1, &local, &paired);
    assert_int_equal(paired, 4);
    /* 1 and 2 pair with 3 and 4 in order */
    wc_view_pair_choose(base, 3, view2, 3, 1, &local, &paired);
    assert_int_equal(paired, 3);
    wc_view_pair_choose(base, 3, view2, 3, 2, &local, &paired);
    assert_int_equal(paired, 4);
    /* no base replica: no pair */
    wc_view_pair_choose(base, 3, view2, 3, 7, &local, &paired);
    assert_false(local);
    assert_int_equal(paired, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_change_moves_row),
        cmocka_unit_test(test_deletes),
        cmocka_unit_test(test_ttl_carries_over),
        cmocka_unit_test(test_build_and_where),
        cmocka_unit_test(test_clustering_desc_and_range_delete),
        cmocka_unit_test(test_malformed_recipes),
        cmocka_unit_test(test_paired_updates_are_logged),
        cmocka_unit_test(test_pairing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
