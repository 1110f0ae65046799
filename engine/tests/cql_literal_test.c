/*
 * cql_literal_test.c - the shared CQL-literal parser: every token kind,
 * terms and options maps, errors with their positions, the limits, and
 * allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cql_literal.h"

/* Tokenize s and check the kinds and texts of its tokens (END excluded). */
static void expect_tokens(const char *s, size_t n, const wc_cql_kind *kinds,
                          const char *const *texts)
{
    wc_cql_doc *d;
    wc_cql_error err;

    if (wc_cql_tokenize(s, strlen(s), &d, &err) != WC_OK)
        fail_msg("tokenize \"%s\": %s at %zu", s, err.msg, err.pos);
    assert_int_equal(wc_cql_ntokens(d), n + 1);
    for (size_t i = 0; i < n; i++) {
        const wc_cql_value *t = wc_cql_token(d, i);
        if (t->kind != kinds[i] || strcmp(t->text, texts[i]) != 0)
            fail_msg("\"%s\" token %zu: %s '%s', expected %s '%s'", s, i, wc_cql_kind_name(t->kind),
                     t->text, wc_cql_kind_name(kinds[i]), texts[i]);
    }
    assert_int_equal(wc_cql_token(d, n)->kind, WC_CQL_END);
    wc_cql_doc_free(d);
}

static void test_tokens(void **state)
{
    (void)state;
    {
        const wc_cql_kind k[] = {WC_CQL_STRING, WC_CQL_STRING, WC_CQL_STRING, WC_CQL_STRING};
        const char *t[] = {"it's", "", "a''b", ""};
        expect_tokens("'it''s' '' $$a''b$$ $$$$", 4, k, t);
    }
    {
        const wc_cql_kind k[] = {WC_CQL_INTEGER, WC_CQL_INTEGER, WC_CQL_FLOAT, WC_CQL_FLOAT,
                                 WC_CQL_FLOAT,   WC_CQL_FLOAT,   WC_CQL_FLOAT, WC_CQL_FLOAT};
        const char *t[] = {"42", "-7", "1.5", "-2e3", "3E+2", "NaN", "Infinity", "-Infinity"};
        expect_tokens("42 -7 1.5 -2e3 3E+2 NaN Infinity -Infinity", 8, k, t);
    }
    {
        const wc_cql_kind k[] = {WC_CQL_BOOLEAN,    WC_CQL_BOOLEAN,    WC_CQL_NULL,
                                 WC_CQL_IDENTIFIER, WC_CQL_IDENTIFIER, WC_CQL_IDENTIFIER,
                                 WC_CQL_IDENTIFIER};
        const char *t[] = {"true", "false", "null", "deviceid", "DeviceID", "_x$1", "say \"hi\""};
        expect_tokens("true FALSE Null DeviceID \"DeviceID\" _x$1 \"say \"\"hi\"\"\"", 7, k, t);
    }
    {
        const wc_cql_kind k[] = {WC_CQL_PUNCT, WC_CQL_PUNCT, WC_CQL_PUNCT, WC_CQL_PUNCT,
                                 WC_CQL_PUNCT, WC_CQL_PUNCT, WC_CQL_PUNCT, WC_CQL_PUNCT};
        const char *t[] = {"{", "}", "[", "]", "(", ")", ":", ","};
        /* comments of the three CQL kinds are skipped */
        expect_tokens("{ -- one\n} // two\n [ /* three */ ] ( ) : ,", 8, k, t);
    }
    /* positions, raw text and numeric values */
    {
        wc_cql_doc *d;
        wc_cql_error err;
        const wc_cql_value *t;

        assert_int_equal(wc_cql_tokenize("  Dc1 99999999999999999999 -12", 30, &d, &err), WC_OK);
        t = wc_cql_token(d, 0);
        assert_int_equal(t->pos, 2);
        assert_int_equal(t->end, 5);
        assert_string_equal(t->raw, "Dc1");
        assert_string_equal(t->text, "dc1");
        t = wc_cql_token(d, 1);
        assert_int_equal(t->kind, WC_CQL_INTEGER);
        assert_false(t->fits_int64);
        assert_true(t->d > 9e19);
        t = wc_cql_token(d, 2);
        assert_true(t->fits_int64);
        assert_int_equal(t->i, -12);
        wc_cql_doc_free(d);
    }
}

static void test_terms(void **state)
{
    wc_cql_doc *d;
    wc_cql_error err;
    const wc_cql_value *r, *v;
    const char *s = "{'a': [1, 2.5, 'x'], 'b': {true, null}, 'c': ('t', -1), 'd': {}, 7: []}";

    (void)state;
    assert_int_equal(wc_cql_parse_term(s, strlen(s), 0, &d, &err), WC_OK);
    r = wc_cql_doc_root(d);
    assert_int_equal(r->kind, WC_CQL_MAP);
    assert_int_equal(r->n, 5);
    v = wc_cql_map_get(r, "A");
    assert_non_null(v);
    assert_int_equal(v->kind, WC_CQL_LIST);
    assert_int_equal(v->n, 3);
    assert_int_equal(v->child->i, 1);
    assert_true(v->child->next->d == 2.5);
    assert_string_equal(v->child->next->next->text, "x");
    assert_null(v->child->next->next->next);
    v = wc_cql_map_get(r, "b");
    assert_int_equal(v->kind, WC_CQL_SET);
    assert_int_equal(v->n, 2);
    assert_true(v->child->b);
    assert_int_equal(v->child->next->kind, WC_CQL_NULL);
    v = wc_cql_map_get(r, "c");
    assert_int_equal(v->kind, WC_CQL_TUPLE);
    assert_int_equal(v->child->next->i, -1);
    v = wc_cql_map_get(r, "d");
    assert_int_equal(v->kind, WC_CQL_MAP);
    assert_int_equal(v->n, 0);
    v = v->next;
    assert_int_equal(v->key->kind, WC_CQL_INTEGER);
    assert_int_equal(v->kind, WC_CQL_LIST);
    assert_int_equal(r->pos, 0);
    assert_int_equal(r->end, strlen(s));
    assert_null(wc_cql_map_get(r, "nope"));
    wc_cql_doc_free(d);

    /* bare words are terms only when the caller asks */
    assert_int_equal(wc_cql_parse_term("[a]", 3, 0, &d, &err), WC_INVALID_ARGUMENT);
    assert_null(d);
    assert_int_equal(wc_cql_parse_term("[A]", 3, WC_CQL_BARE_WORDS, &d, &err), WC_OK);
    assert_string_equal(wc_cql_doc_root(d)->child->raw, "A");
    wc_cql_doc_free(d);
}

static void test_options(void **state)
{
    wc_cql_doc *d;
    wc_cql_error err;
    const wc_cql_value *r;
    const char *s = "{ 'class' : 'NetworkTopologyStrategy', 'DC1': '3', 'it''s': 2,\n"
                    "  'unit': HOURS, 'on': true, 'f': 0.5, 'body': $$a 'quoted' {text}$$ }";

    (void)state;
    assert_int_equal(wc_cql_parse_options(s, strlen(s), &d, &err), WC_OK);
    r = wc_cql_doc_root(d);
    assert_int_equal(r->n, 7);
    assert_string_equal(wc_cql_map_get(r, "class")->text, "NetworkTopologyStrategy");
    assert_string_equal(wc_cql_map_get(r, "dc1")->key->text, "DC1");
    assert_string_equal(wc_cql_map_get(r, "it's")->raw, "2");
    assert_string_equal(wc_cql_map_get(r, "unit")->raw, "HOURS");
    assert_true(wc_cql_map_get(r, "on")->b);
    assert_string_equal(wc_cql_map_get(r, "body")->text, "a 'quoted' {text}");
    wc_cql_doc_free(d);
    assert_int_equal(wc_cql_parse_options(" {} ", 4, &d, &err), WC_OK);
    assert_int_equal(wc_cql_doc_root(d)->n, 0);
    wc_cql_doc_free(d);
}

/* The parse of s fails at 1-based position pos with a message containing msg. */
static void expect_error(bool options, const char *s, size_t pos, const char *msg)
{
    wc_cql_doc *d = (wc_cql_doc *)1;
    wc_cql_error err;
    wc_status st = options ? wc_cql_parse_options(s, strlen(s), &d, &err)
                           : wc_cql_parse_term(s, strlen(s), 0, &d, &err);

    if (st != WC_INVALID_ARGUMENT)
        fail_msg("\"%s\" parsed (status %d)", s, (int)st);
    assert_null(d);
    if (err.pos + 1 != pos || strstr(err.msg, msg) == NULL)
        fail_msg("\"%s\": got \"%s\" at %zu, expected \"%s\" at %zu", s, err.msg, err.pos + 1, msg,
                 pos);
    assert_non_null(strstr(wc_last_error(), "at position"));
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(true, "'class': 'x'}", 1, "expected \"{\"");
    expect_error(true, "{'class': 'SimpleStrategy', 'replication_factor': 1", 52,
                 "expected \",\" or \"}\"");
    expect_error(true, "{class: 'x'}", 2, "expected a quoted key");
    expect_error(true, "{\"class\": 'x'}", 2, "strings take single quotes");
    expect_error(true, "{'a': 1, 'A': 2}", 10, "key 'A' appears twice");
    expect_error(true, "{'class' 'x'}", 10, "expected \":\"");
    expect_error(true, "{'a': }", 7, "expected a value");
    expect_error(true, "{'a': [1]}", 7, "expected a value");
    expect_error(true, "{'a': null}", 7, "expected a value");
    expect_error(true, "{'class': 'x} ", 15, "expected a closing quote");
    expect_error(true, "{'a': 1} x", 10, "expected the end of the map");
    expect_error(true, "{'a': 50MB}", 7, "expected a number");
    expect_error(true, "{'a': $$x}", 11, "expected a closing $$");
    expect_error(true, "{'a': 1 /* x}", 9, "unterminated comment");
    expect_error(true, "{'a':\x01 1}", 6, "unexpected character 0x01");
    expect_error(false, "(\"\", b)", 4, "expected a non-empty quoted name");
    expect_error(false, "(\"a, b)", 8, "expected a closing double quote");
    expect_error(false, "()", 2, "expected a value");
    expect_error(false, "{1: 2, 3}", 9, "expected \":\"");
    expect_error(false, "{1, 2: 3}", 6, "expected \",\" or \"}\"");
    expect_error(false, "[1, 2", 6, "expected \",\" or \"]\"");
    expect_error(false, "", 1, "expected a value");
    expect_error(false, "1 2", 3, "expected the end of the text");
}

static void test_limits(void **state)
{
    wc_cql_doc *d;
    wc_cql_error err;
    char deep[2 * WC_CQL_MAX_DEPTH + 8];
    size_t n = 0;
    char *big;
    size_t big_len = 200000;

    (void)state;
    /* WC_CQL_MAX_DEPTH levels parse, one more does not */
    for (int i = 0; i < WC_CQL_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < WC_CQL_MAX_DEPTH; i++)
        deep[n++] = ']';
    assert_int_equal(wc_cql_parse_term(deep, n, 0, &d, &err), WC_OK);
    wc_cql_doc_free(d);
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[n + 1] = ']';
    assert_int_equal(wc_cql_parse_term(deep, n + 2, 0, &d, &err), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "nesting deeper than"));

    /* no ceiling a real schema hits: a 200 kB value and 5000 keys */
    big = malloc(big_len + 64);
    n = (size_t)sprintf(big, "{'k': '");
    memset(big + n, 'x', big_len);
    n += big_len;
    n += (size_t)sprintf(big + n, "'}");
    assert_int_equal(wc_cql_parse_options(big, n, &d, &err), WC_OK);
    assert_int_equal(wc_cql_doc_root(d)->child->len, big_len);
    wc_cql_doc_free(d);
    n = 0;
    big[n++] = '{';
    for (int i = 0; i < 5000; i++)
        n += (size_t)sprintf(big + n, "%s'k%d': %d", i ? "," : "", i, i);
    big[n++] = '}';
    assert_int_equal(wc_cql_parse_options(big, n, &d, &err), WC_OK);
    assert_int_equal(wc_cql_doc_root(d)->n, 5000);
    wc_cql_doc_free(d);
    free(big);

    /* input over the limit is refused before any work */
    assert_int_equal(wc_cql_tokenize("x", (size_t)WC_CQL_MAX_INPUT + 1, &d, &err),
                     WC_INVALID_ARGUMENT);
    assert_null(d);
}

/* Every allocation failure is a clean WC_NO_MEMORY with nothing leaked. */
static void test_alloc_failure(void **state)
{
    const char *s = "{'a': [1, 2, {'x': ('y', 3)}], 'b': 'a longer string value', 'c': {1, 2}}";
    uint64_t live = wc_alloc_live_count();
    int failures = 0;

    (void)state;
    for (uint64_t n = 1; n < 200; n++) {
        wc_cql_doc *d;
        wc_cql_error err;
        wc_status st;

        wc_alloc_fail_after(n, 1);
        st = wc_cql_parse_term(s, strlen(s), 0, &d, &err);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK) {
            wc_cql_doc_free(d);
            break;
        }
        assert_int_equal(st, WC_NO_MEMORY);
        assert_null(d);
        failures++;
        assert_int_equal(wc_alloc_live_count(), live);
    }
    assert_true(failures > 0);
    assert_int_equal(wc_alloc_live_count(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),  cmocka_unit_test(test_terms),
        cmocka_unit_test(test_options), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),  cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests_name("cql_literal", tests, NULL, NULL);
}
