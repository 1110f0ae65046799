/*
 * cql_literal_fuzz.c - libFuzzer target for the shared CQL-literal parser.
 *
 * The input is the text.  Byte 0 chooses the flags (bit 0: bare words) and
 * is also part of the text.  Whatever the bytes, tokenize, parse_term,
 * parse_options and the compaction-map reader must return a status without
 * crashing, leaking or reading out of bounds.  When a term parses, its tree
 * must be consistent (positions inside the input, n = number of children,
 * map values with keys, depth within WC_CQL_MAX_DEPTH), and printing it back
 * as CQL and parsing that must give the same tree: a quoting rule that reads
 * differently from how it writes shows up as a mismatch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "compaction_options.h"
#include "cql_literal.h"

static void check_tree(const wc_cql_value *v, size_t len, int depth)
{
    size_t n = 0;

    if (v->pos > v->end || v->end > len || depth > WC_CQL_MAX_DEPTH || v->text == NULL)
        abort();
    for (const wc_cql_value *c = v->child; c; c = c->next) {
        if ((v->kind == WC_CQL_MAP) != (c->key != NULL))
            abort();
        if (c->key)
            check_tree(c->key, len, depth + 1);
        check_tree(c, len, depth + 1);
        n++;
    }
    if (n != v->n)
        abort();
}

static void put_quoted(wc_buf *b, const char *s, size_t len, char q)
{
    wc_buf_put_u8(b, (uint8_t)q);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == q)
            wc_buf_put_u8(b, (uint8_t)q);
        wc_buf_put_u8(b, (uint8_t)s[i]);
    }
    wc_buf_put_u8(b, (uint8_t)q);
}

/* Print v as CQL text. */
static void print(wc_buf *b, const wc_cql_value *v)
{
    const char *open = "{", *close = "}";

    switch (v->kind) {
    case WC_CQL_STRING:
        put_quoted(b, v->text, v->len, '\'');
        return;
    case WC_CQL_IDENTIFIER:
        if (v->quoted)
            put_quoted(b, v->text, v->len, '"');
        else
            wc_buf_append(b, v->raw, strlen(v->raw));
        return;
    case WC_CQL_MAP:
    case WC_CQL_SET:
        break;
    case WC_CQL_LIST:
        open = "[", close = "]";
        break;
    case WC_CQL_TUPLE:
        open = "(", close = ")";
        break;
    default:
        wc_buf_append(b, v->raw, strlen(v->raw));
        return;
    }
    wc_buf_append(b, open, 1);
    for (const wc_cql_value *c = v->child; c; c = c->next) {
        if (c != v->child)
            wc_buf_append(b, ", ", 2);
        if (c->key) {
            print(b, c->key);
            wc_buf_append(b, ": ", 2);
        }
        print(b, c);
    }
    wc_buf_append(b, close, 1);
}

static void same(const wc_cql_value *a, const wc_cql_value *b)
{
    if (a->kind != b->kind || a->n != b->n || a->len != b->len ||
        memcmp(a->text, b->text, a->len) != 0 ||
        (a->kind == WC_CQL_IDENTIFIER && a->quoted != b->quoted))
        abort();
    if ((a->key == NULL) != (b->key == NULL))
        abort();
    if (a->key)
        same(a->key, b->key);
    for (a = a->child, b = b->child; a && b; a = a->next, b = b->next)
        same(a, b);
    if (a || b)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    unsigned flags = size && (data[0] & 1) ? WC_CQL_BARE_WORDS : 0;
    wc_cql_doc *d, *d2;
    wc_cql_error err;
    char *z;

    if (wc_cql_tokenize(text, size, &d, &err) == WC_OK) {
        if (wc_cql_token(d, wc_cql_ntokens(d) - 1)->kind != WC_CQL_END)
            abort();
        wc_cql_doc_free(d);
    } else if (err.pos > size) {
        abort();
    }
    if (wc_cql_parse_term(text, size, flags, &d, &err) == WC_OK) {
        wc_buf out;

        check_tree(wc_cql_doc_root(d), size, 0);
        wc_buf_init(&out);
        print(&out, wc_cql_doc_root(d));
        if (!out.failed) {
            if (wc_cql_parse_term((const char *)out.data, out.len, flags, &d2, &err) != WC_OK) {
                fprintf(stderr, "reprint does not parse: %.*s (%s)\n", (int)out.len,
                        (const char *)out.data, err.msg);
                abort();
            }
            same(wc_cql_doc_root(d), wc_cql_doc_root(d2));
            wc_cql_doc_free(d2);
        }
        wc_buf_free(&out);
        wc_cql_doc_free(d);
    }
    if (wc_cql_parse_options(text, size, &d, &err) == WC_OK) {
        check_tree(wc_cql_doc_root(d), size, 0);
        wc_cql_doc_free(d);
    }
    if ((z = malloc(size + 1)) != NULL) {
        wc_compaction_options o;

        memcpy(z, data, size);
        z[size] = '\0';
        (void)wc_compaction_options_parse(z, &o);
        free(z);
    }
    return 0;
}
