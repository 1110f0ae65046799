/*
 * replication_test.c - replication maps as users write them: read by the
 * shared CQL-literal parser, then every rule of wc_replication_validate
 * (the rules CREATE SERVER applies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consistency.h"

static void expect_bad(const char *text, const char *detail)
{
    wc_replication r;

    if (wc_replication_parse(text, &r) != WC_INVALID_ARGUMENT)
        fail_msg("accepted %s", text);
    if (strstr(wc_last_error(), detail) == NULL)
        fail_msg("%s: detail \"%s\" lacks \"%s\"", text, wc_last_error(), detail);
}

/* CQL quoting that the cluster's old lexer read differently from the extension's. */
static void test_cql_quoting(void **state)
{
    wc_replication r;

    (void)state;
    assert_int_equal(
        wc_replication_parse("{'class': $$SimpleStrategy$$, 'replication_factor': '3'}", &r),
        WC_OK);
    assert_int_equal(r.cls, WC_REPL_SIMPLE);
    assert_int_equal(r.replication_factor, 3);
    assert_int_equal(wc_replication_parse("{'class': 'NetworkTopologyStrategy', -- comment\n"
                                          " 'dc-1.east': 2, 'DC_2': '0'}",
                                          &r),
                     WC_OK);
    assert_int_equal(r.ndcs, 2);
    assert_string_equal(r.dcs[0].name, "dc-1.east");
    assert_string_equal(r.dcs[1].name, "DC_2");
    assert_int_equal(r.dcs[1].factor, 0);
    /* a doubled quote is one quote inside the string, not its end */
    expect_bad("{'class': 'NetworkTopologyStrategy', 'it''s': 1}", "data centre name \"it's\"");
    /* double quotes name identifiers in CQL; they do not make strings */
    expect_bad("{\"class\": 'SimpleStrategy', 'replication_factor': 1}", "expected a quoted key");
    expect_bad("{class: 'SimpleStrategy', 'replication_factor': 1}", "expected a quoted key");
}

static void test_rules(void **state)
{
    wc_replication r;

    (void)state;
    expect_bad("{'replication_factor': 1}", "no 'class' given");
    expect_bad("{}", "no 'class' given");
    expect_bad("{'class': 'LocalStrategy'}", "unknown replication class 'LocalStrategy'");
    expect_bad("{'class': 'SimpleStrategy'}", "needs a 'replication_factor'");
    expect_bad("{'class': 'SimpleStrategy', 'replication_factor': 0}", "between 1 and 1000");
    expect_bad("{'class': 'SimpleStrategy', 'replication_factor': 1001}", "above the maximum");
    expect_bad("{'class': 'SimpleStrategy', 'replication_factor': '3/1'}", "whole number");
    expect_bad("{'class': 'SimpleStrategy', 'replication_factor': 2.5}", "whole number");
    expect_bad("{'class': 'SimpleStrategy', 'replication_factor': true}", "whole number");
    expect_bad("{'class': 'SimpleStrategy', 'replication_factor': 3, 'dc1': 2}",
               "unknown option 'dc1' for SimpleStrategy");
    expect_bad("{'class': 'NetworkTopologyStrategy'}", "between 1 and 8 data centres");
    expect_bad("{'class': 'NetworkTopologyStrategy', 'dc1': 0}", "non-zero factor");
    expect_bad("{'class': 'NetworkTopologyStrategy', 'dc1': -1}", "whole number");
    expect_bad("{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}", "per data centre");
    expect_bad("{'class': 'NetworkTopologyStrategy', 'dc 1': 3}", "may only hold");
    expect_bad("{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'DC1': 1}", "appears twice");
    expect_bad("{'class': 'NetworkTopologyStrategy', "
               "'a23456789012345678901234567890123456789012345678': 3}",
               "1 to 47 characters");
    expect_bad("{'class': 'NetworkTopologyStrategy', 'd1':1,'d2':1,'d3':1,'d4':1,'d5':1,'d6':1,"
               "'d7':1,'d8':1,'d9':1}",
               "at most 8 data centres");
    assert_int_equal(wc_replication_parse("{'class': 'NetworkTopologyStrategy', 'd1':1,'d2':1,"
                                          "'d3':1,'d4':1,'d5':1,'d6':1,'d7':1,'d8':1000}",
                                          &r),
                     WC_OK);
    assert_int_equal(r.ndcs, 8);
    /* the stored compact form still reads back */
    assert_int_equal(wc_replication_parse("NetworkTopologyStrategy:dc1=3,dc2=0", &r), WC_OK);
    assert_int_equal(r.dcs[1].factor, 0);
    expect_bad("NetworkTopologyStrategy:dc1=3,", "malformed replication");
    expect_bad("SimpleStrategy:3 ", "whole number");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cql_quoting),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests_name("replication", tests, NULL, NULL);
}
