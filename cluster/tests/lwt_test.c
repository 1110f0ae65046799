/*
 * lwt_test.c - the conditions of a CAS request (lwt.h) on the current
 * data of its partition: =, <>, IS NULL, IS NOT NULL on a regular column
 * of the row, the same on a static column (whose cell is in the
 * partition's static row), the row's existence; and the request's codec
 * keeps every condition.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwt.h"

#define COL_BALANCE 2u
#define COL_NOTE 3u
#define COL_OWNER 7u /* a static column */

/* A partition holding its static row (owner = "ann") and row "a" (balance = "100"). */
typedef struct page_fixture {
    wc_cell static_cells[1];
    wc_cell row_cells[1];
    wc_result_row rows[2];
    wc_page page;
} page_fixture;

static void fixture(page_fixture *f, bool with_static)
{
    memset(f, 0, sizeof(*f));
    f->static_cells[0].column = COL_OWNER;
    f->static_cells[0].value = (const uint8_t *)"ann";
    f->static_cells[0].len = 3;
    f->row_cells[0].column = COL_BALANCE;
    f->row_cells[0].value = (const uint8_t *)"100";
    f->row_cells[0].len = 3;
    f->rows[0].pk = (const uint8_t *)"p";
    f->rows[0].pk_len = 1;
    f->rows[0].is_static = true;
    f->rows[0].ncells = 1;
    f->rows[0].cells = f->static_cells;
    f->rows[1].pk = (const uint8_t *)"p";
    f->rows[1].pk_len = 1;
    f->rows[1].ck = (const uint8_t *)"a";
    f->rows[1].ck_len = 1;
    f->rows[1].ncells = 1;
    f->rows[1].cells = f->row_cells;
    f->page.rows = with_static ? f->rows : f->rows + 1;
    f->page.nrows = with_static ? 2 : 1;
}

/* A request on row ck of partition "p" with one condition. */
static void one_cond(wc_lwt_request *r, const char *ck, uint8_t flags, uint32_t column,
                     uint8_t op, const char *value)
{
    memset(r, 0, sizeof(*r));
    r->serial_cl = WC_CL_SERIAL;
    r->flags = flags;
    r->table_id = 9;
    r->pk = (const uint8_t *)"p";
    r->pk_len = 1;
    r->ck = (const uint8_t *)ck;
    r->ck_len = strlen(ck);
    r->nconds = 1;
    r->conds[0].column = column;
    r->conds[0].op = op;
    r->conds[0].value = (const uint8_t *)value;
    r->conds[0].len = value ? strlen(value) : 0;
}

static bool holds(const char *ck, uint8_t flags, uint32_t column, uint8_t op, const char *value,
                  bool with_static)
{
    page_fixture f;
    wc_lwt_request r;

    fixture(&f, with_static);
    one_cond(&r, ck, flags, column, op, value);
    return wc_lwt_holds(&r, &f.page);
}

static void test_regular_column(void **state)
{
    (void)state;
    assert_true(holds("a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_EQ, "100", true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_EQ, "10", true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_EQ, "1000", true));
    assert_true(holds("a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_NE, "99", true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_NE, "100", true));
    assert_true(holds("a", WC_CASF_EXISTS, COL_NOTE, WC_CAS_IS_NULL, NULL, true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_NOTE, WC_CAS_IS_NOT_NULL, NULL, true));
    assert_true(holds("a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_IS_NOT_NULL, NULL, true));
    /* a missing cell is neither equal nor unequal to a value */
    assert_false(holds("a", WC_CASF_EXISTS, COL_NOTE, WC_CAS_EQ, "x", true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_NOTE, WC_CAS_NE, "x", true));
}

static void test_static_column(void **state)
{
    (void)state;
    /* a condition on a static column of a clustering row is on the static row */
    assert_true(holds("a", WC_CASF_EXISTS, COL_OWNER, WC_CAS_EQ, "ann", true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_OWNER, WC_CAS_EQ, "bob", true));
    assert_false(holds("a", WC_CASF_EXISTS, COL_OWNER, WC_CAS_IS_NULL, NULL, true));
    assert_true(holds("a", WC_CASF_EXISTS, COL_OWNER, WC_CAS_IS_NOT_NULL, NULL, true));
    /* no static row: the static column is NULL */
    assert_true(holds("a", WC_CASF_EXISTS, COL_OWNER, WC_CAS_IS_NULL, NULL, false));
    assert_false(holds("a", WC_CASF_EXISTS, COL_OWNER, WC_CAS_EQ, "ann", false));
    /* the static row itself */
    assert_true(holds("", WC_CASF_STATIC | WC_CASF_EXISTS, COL_OWNER, WC_CAS_EQ, "ann", true));
    assert_false(holds("", WC_CASF_STATIC, COL_BALANCE, WC_CAS_IS_NOT_NULL, NULL, true));
}

static void test_existence(void **state)
{
    (void)state;
    /* row "b" does not exist: its conditions fail, IF NOT EXISTS holds */
    assert_false(holds("b", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_IS_NULL, NULL, true));
    assert_true(holds("b", 0, COL_BALANCE, WC_CAS_IS_NULL, NULL, true));
    assert_false(holds("b", 0, COL_BALANCE, WC_CAS_EQ, "100", true));
    assert_false(holds("a", WC_CASF_NOT_EXISTS, COL_BALANCE, WC_CAS_IS_NOT_NULL, NULL, true));
    /* a static row alone is not the row */
    assert_false(holds("b", WC_CASF_EXISTS, COL_OWNER, WC_CAS_EQ, "ann", true));
}

static void test_codec(void **state)
{
    wc_lwt_request r, got;
    wc_buf b;

    (void)state;
    one_cond(&r, "a", WC_CASF_EXISTS, COL_BALANCE, WC_CAS_EQ, "100");
    r.nconds = 2;
    r.conds[1].column = COL_OWNER;
    r.conds[1].op = WC_CAS_IS_NULL;
    r.batch = (const uint8_t *)"\0\0\0\0";
    r.batch_len = 4;
    wc_buf_init(&b);
    wc_lwt_put_request(&b, &r);
    assert_int_equal(wc_lwt_get_request(b.data, b.len, &got), WC_OK);
    assert_int_equal(got.flags, WC_CASF_EXISTS);
    assert_int_equal(got.nconds, 2);
    assert_int_equal(got.conds[0].column, COL_BALANCE);
    assert_int_equal(got.conds[0].op, WC_CAS_EQ);
    assert_int_equal(got.conds[0].len, 3);
    assert_memory_equal(got.conds[0].value, "100", 3);
    assert_int_equal(got.conds[1].column, COL_OWNER);
    assert_int_equal(got.conds[1].op, WC_CAS_IS_NULL);
    assert_int_equal(got.batch_len, 4);
    /* a truncated body is corrupt, an unknown operator refused */
    assert_int_equal(wc_lwt_get_request(b.data, b.len - 1, &got), WC_CORRUPTION);
    r.conds[1].op = WC_CAS_OP_MAX + 1;
    wc_buf_reset(&b);
    wc_lwt_put_request(&b, &r);
    assert_int_equal(wc_lwt_get_request(b.data, b.len, &got), WC_INVALID_ARGUMENT);
    wc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_column),
        cmocka_unit_test(test_static_column),
        cmocka_unit_test(test_existence),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
