/*
 * cql_literal.c - lexer and term parser of CQL literals (grammar, limits and
 * errors in cql_literal.h).
 *
 * The lexer turns the whole input into an array of tokens first (their texts
 * unescaped into the doc's arena); the parsers walk that array by recursive
 * descent, with the depth bounded by WC_CQL_MAX_DEPTH.  Tree nodes live in
 * the same arena, so a doc is freed in one call.
 */
#include "cql_literal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "arena.h"

#define WC__CQL_ARENA_BLOCK 4096

struct wc_cql_doc {
    wc_arena arena;
    wc_cql_value *toks; /* wc_malloc'd array */
    size_t ntoks, cap;
    const wc_cql_value *root;
};

typedef struct wc__cql_parser {
    wc_cql_doc *doc;
    size_t i; /* next token */
    unsigned flags;
    wc_cql_error *err;
} wc__cql_parser;

/* ---------------------------------------------------------------- errors */

static wc_status wc__cql_fail(wc_cql_error *err, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static wc_status wc__cql_fail(wc_cql_error *err, size_t pos, const char *fmt, ...)
{
    va_list ap;

    err->pos = pos;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return wc_error(WC_INVALID_ARGUMENT, "%s at position %zu", err->msg, pos + 1);
}

const char *wc_cql_kind_name(wc_cql_kind k)
{
    switch (k) {
    case WC_CQL_NULL:
        return "null";
    case WC_CQL_STRING:
        return "string";
    case WC_CQL_INTEGER:
        return "integer";
    case WC_CQL_FLOAT:
        return "float";
    case WC_CQL_BOOLEAN:
        return "boolean";
    case WC_CQL_IDENTIFIER:
        return "identifier";
    case WC_CQL_MAP:
        return "map";
    case WC_CQL_SET:
        return "set";
    case WC_CQL_LIST:
        return "list";
    case WC_CQL_TUPLE:
        return "tuple";
    case WC_CQL_PUNCT:
        return "punctuation";
    case WC_CQL_END:
        return "end of input";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- docs */

static wc_cql_doc *wc__cql_doc_new(void)
{
    wc_cql_doc *d = wc_calloc(1, sizeof(*d));

    if (d != NULL)
        wc_arena_init(&d->arena, WC__CQL_ARENA_BLOCK);
    return d;
}

void wc_cql_doc_free(wc_cql_doc *d)
{
    if (d == NULL)
        return;
    wc_arena_destroy(&d->arena);
    wc_free(d->toks);
    wc_free(d);
}

size_t wc_cql_ntokens(const wc_cql_doc *d)
{
    return d->ntoks;
}

const wc_cql_value *wc_cql_token(const wc_cql_doc *d, size_t i)
{
    return i < d->ntoks ? &d->toks[i] : &d->toks[d->ntoks - 1];
}

const wc_cql_value *wc_cql_doc_root(const wc_cql_doc *d)
{
    return d->root;
}

/* A fresh token at the end of the array, zeroed; NULL when out of memory. */
static wc_cql_value *wc__cql_push(wc_cql_doc *d)
{
    if (d->ntoks == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        wc_cql_value *t = wc_realloc(d->toks, cap * sizeof(*t));
        if (t == NULL)
            return NULL;
        d->toks = t;
        d->cap = cap;
    }
    memset(&d->toks[d->ntoks], 0, sizeof(d->toks[0]));
    return &d->toks[d->ntoks++];
}

/* n bytes + NUL from the arena, NULL when out of memory. */
static char *wc__cql_text(wc_cql_doc *d, size_t n)
{
    char *s = wc_arena_alloc(&d->arena, n + 1);

    if (s != NULL)
        s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- lexer */

static bool wc__cql_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool wc__cql_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool wc__cql_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool wc__cql_ident_char(unsigned char c)
{
    return wc__cql_ident_start(c) || wc__cql_digit(c) || c == '$';
}

/* Skip spaces and comments; WC_INVALID_ARGUMENT for an unterminated block comment. */
static wc_status wc__cql_skip(const char *s, size_t len, size_t *pos, wc_cql_error *err)
{
    size_t p = *pos;

    for (;;) {
        while (p < len && wc__cql_space((unsigned char)s[p]))
            p++;
        if (p + 1 < len && ((s[p] == '-' && s[p + 1] == '-') || (s[p] == '/' && s[p + 1] == '/'))) {
            while (p < len && s[p] != '\n')
                p++;
            continue;
        }
        if (p + 1 < len && s[p] == '/' && s[p + 1] == '*') {
            size_t start = p;
            p += 2;
            while (p + 1 < len && !(s[p] == '*' && s[p + 1] == '/'))
                p++;
            if (p + 1 >= len)
                return wc__cql_fail(err, start, "unterminated comment");
            p += 2;
            continue;
        }
        break;
    }
    *pos = p;
    return WC_OK;
}

/* A string or quoted identifier delimited by q, where qq stands for q. */
static wc_status wc__cql_quoted(wc_cql_doc *d, const char *s, size_t len, size_t *pos,
                                wc_cql_value *t, char q, wc_cql_error *err)
{
    size_t p = *pos + 1, n = 0, end;
    char *out;

    for (end = p;; end++) {
        if (end >= len)
            return wc__cql_fail(err, len,
                                q == '"' ? "expected a closing double quote"
                                         : "expected a closing quote");
        if (s[end] == q) {
            if (end + 1 < len && s[end + 1] == q) {
                end++;
                continue;
            }
            break;
        }
    }
    if ((out = wc__cql_text(d, end - p)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
    while (p < end) {
        out[n++] = s[p];
        p += s[p] == q ? 2 : 1;
    }
    out[n] = '\0';
    t->text = out;
    t->len = n;
    *pos = end + 1;
    return WC_OK;
}

/* A number at *pos (an optional '-' then a digit); the kind and values in t. */
static wc_status wc__cql_number(wc_cql_doc *d, const char *s, size_t len, size_t *pos,
                                wc_cql_value *t, wc_cql_error *err)
{
    size_t p = *pos;
    bool is_float = false;
    char *text, *endp;

    if (s[p] == '-')
        p++;
    while (p < len && wc__cql_digit((unsigned char)s[p]))
        p++;
    if (p < len && s[p] == '.') {
        is_float = true;
        p++;
        while (p < len && wc__cql_digit((unsigned char)s[p]))
            p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        size_t q = p + 1;
        if (q < len && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q < len && wc__cql_digit((unsigned char)s[q])) {
            is_float = true;
            p = q;
            while (p < len && wc__cql_digit((unsigned char)s[p]))
                p++;
        }
    }
    if (p < len && wc__cql_ident_char((unsigned char)s[p]))
        return wc__cql_fail(err, *pos,
                            "expected a number, not \"%.*s\" (quote a value that has a unit)",
                            (int)(p - *pos + 1 < 40 ? p - *pos + 1 : 40), s + *pos);
    if ((text = wc__cql_text(d, p - *pos)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
    memcpy(text, s + *pos, p - *pos);
    t->text = text;
    t->len = p - *pos;
    t->kind = is_float ? WC_CQL_FLOAT : WC_CQL_INTEGER;
    errno = 0;
    t->d = strtod(text, &endp);
    if (!is_float) {
        errno = 0;
        t->i = strtoll(text, &endp, 10);
        t->fits_int64 = errno == 0 && *endp == '\0';
    }
    *pos = p;
    return WC_OK;
}

/* An unquoted word at *pos (after an optional '-' for -Infinity / -NaN). */
static wc_status wc__cql_word(wc_cql_doc *d, const char *s, size_t len, size_t *pos,
                              wc_cql_value *t)
{
    size_t p = *pos, start = *pos, n;
    char *raw, *low;

    if (s[p] == '-')
        p++, start++;
    while (p < len && wc__cql_ident_char((unsigned char)s[p]))
        p++;
    n = p - start;
    if ((raw = wc__cql_text(d, p - *pos)) == NULL || (low = wc__cql_text(d, n)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
    memcpy(raw, s + *pos, p - *pos);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[start + k];
        low[k] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    t->raw = raw;
    t->text = low;
    t->len = n;
    t->kind = WC_CQL_IDENTIFIER;
    if (strcmp(low, "true") == 0 || strcmp(low, "false") == 0) {
        t->kind = WC_CQL_BOOLEAN;
        t->b = low[0] == 't';
    } else if (strcmp(low, "null") == 0) {
        t->kind = WC_CQL_NULL;
    } else if (strcmp(low, "nan") == 0 || strcmp(low, "infinity") == 0) {
        t->kind = WC_CQL_FLOAT;
        t->text = raw;
        t->len = p - *pos;
        t->d =
            low[0] == 'n' ? strtod("nan", NULL) : (*pos < start ? -1.0 : 1.0) * strtod("inf", NULL);
    }
    *pos = p;
    return WC_OK;
}

static bool wc__cql_word_is(const char *s, size_t len, size_t p, const char *w)
{
    size_t n = strlen(w);

    return p + n <= len && strncasecmp(s + p, w, n) == 0 &&
           (p + n == len || !wc__cql_ident_char((unsigned char)s[p + n]));
}

static wc_status wc__cql_lex(wc_cql_doc *d, const char *s, size_t len, wc_cql_error *err)
{
    size_t pos = 0;
    wc_status st;

    if (len > WC_CQL_MAX_INPUT)
        return wc__cql_fail(err, 0, "text of %zu bytes is longer than the %u allowed", len,
                            WC_CQL_MAX_INPUT);
    for (;;) {
        wc_cql_value *t;
        unsigned char c;

        if ((st = wc__cql_skip(s, len, &pos, err)) != WC_OK)
            return st;
        if ((t = wc__cql_push(d)) == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
        t->pos = pos;
        if (pos == len) {
            t->kind = WC_CQL_END;
            t->text = t->raw = "";
            t->end = pos;
            return WC_OK;
        }
        c = (unsigned char)s[pos];
        if (c == '\'') {
            t->kind = WC_CQL_STRING;
            st = wc__cql_quoted(d, s, len, &pos, t, '\'', err);
        } else if (c == '"') {
            t->kind = WC_CQL_IDENTIFIER;
            t->quoted = true;
            st = wc__cql_quoted(d, s, len, &pos, t, '"', err);
            if (st == WC_OK && t->len == 0)
                return wc__cql_fail(err, pos, "expected a non-empty quoted name");
        } else if (c == '$' && pos + 1 < len && s[pos + 1] == '$') {
            const char *close = memmem(s + pos + 2, len - pos - 2, "$$", 2);
            char *text;
            size_t n;
            if (close == NULL)
                return wc__cql_fail(err, len, "expected a closing $$");
            n = (size_t)(close - (s + pos + 2));
            if ((text = wc__cql_text(d, n)) == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
            memcpy(text, s + pos + 2, n);
            t->kind = WC_CQL_STRING;
            t->quoted = true;
            t->text = text;
            t->len = n;
            pos += n + 4;
        } else if (wc__cql_digit(c) ||
                   (c == '-' && pos + 1 < len && wc__cql_digit((unsigned char)s[pos + 1]))) {
            st = wc__cql_number(d, s, len, &pos, t, err);
        } else if (wc__cql_ident_start(c) ||
                   (c == '-' && (wc__cql_word_is(s, len, pos + 1, "infinity") ||
                                 wc__cql_word_is(s, len, pos + 1, "nan")))) {
            st = wc__cql_word(d, s, len, &pos, t);
        } else if (c > 0x20 && c < 0x7f) {
            char *text = wc__cql_text(d, 1);
            if (text == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
            text[0] = (char)c;
            t->kind = WC_CQL_PUNCT;
            t->text = text;
            t->len = 1;
            pos++;
        } else {
            return wc__cql_fail(err, pos, "unexpected character 0x%02x", c);
        }
        if (st != WC_OK)
            return st;
        t->end = pos;
        if (t->raw == NULL)
            t->raw = t->text;
    }
}

wc_status wc_cql_tokenize(const char *text, size_t len, wc_cql_doc **out, wc_cql_error *err)
{
    wc_cql_doc *d = wc__cql_doc_new();
    wc_status st;

    *out = NULL;
    if (d == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
    if ((st = wc__cql_lex(d, text ? text : "", text ? len : 0, err)) != WC_OK)
        goto fail;
    *out = d;
    return WC_OK;
fail:
    if (st == WC_NO_MEMORY)
        wc__cql_fail(err, 0, "out of memory"), st = WC_NO_MEMORY;
    wc_cql_doc_free(d);
    return st;
}

/* ---------------------------------------------------------------- terms */

static const wc_cql_value *wc__cql_peek(const wc__cql_parser *p)
{
    return wc_cql_token(p->doc, p->i);
}

static bool wc__cql_is_punct(const wc_cql_value *t, char c)
{
    return t->kind == WC_CQL_PUNCT && t->text[0] == c;
}

/* Describe a token for "expected X, found Y" messages. */
static void wc__cql_found(const wc_cql_value *t, char *buf, size_t cap)
{
    if (t->kind == WC_CQL_END)
        snprintf(buf, cap, "the end of the text");
    else if (t->kind == WC_CQL_PUNCT)
        snprintf(buf, cap, "\"%s\"", t->text);
    else if (t->kind == WC_CQL_STRING)
        snprintf(buf, cap, "'%.40s'", t->text);
    else if (t->kind == WC_CQL_IDENTIFIER && t->quoted)
        snprintf(buf, cap, "the name \"%.40s\" (strings take single quotes)", t->text);
    else
        snprintf(buf, cap, "%.40s", t->raw);
}

static wc_status wc__cql_expected(wc__cql_parser *p, const char *what)
{
    const wc_cql_value *t = wc__cql_peek(p);
    char found[128];

    wc__cql_found(t, found, sizeof(found));
    return wc__cql_fail(p->err, t->pos, "expected %s, found %s", what, found);
}

static wc_cql_value *wc__cql_node(wc__cql_parser *p, const wc_cql_value *like)
{
    wc_cql_value *v = wc_arena_alloc(&p->doc->arena, sizeof(*v));

    if (v != NULL)
        *v = *like;
    return v;
}

static bool wc__cql_scalar(const wc_cql_value *t, unsigned flags)
{
    switch (t->kind) {
    case WC_CQL_NULL:
    case WC_CQL_STRING:
    case WC_CQL_INTEGER:
    case WC_CQL_FLOAT:
    case WC_CQL_BOOLEAN:
        return true;
    case WC_CQL_IDENTIFIER:
        return (flags & WC_CQL_BARE_WORDS) && !t->quoted;
    default:
        return false;
    }
}

static wc_status wc__cql_term(wc__cql_parser *p, int depth, const wc_cql_value **out);

/* Elements of a collection until close; the first may already be parsed. */
static wc_status wc__cql_elements(wc__cql_parser *p, int depth, wc_cql_value *coll, char close,
                                  bool is_map)
{
    const wc_cql_value *start = wc__cql_peek(p);
    wc_cql_value **tail = (wc_cql_value **)&coll->child;
    char what[32];
    wc_status st;

    if (wc__cql_is_punct(start, close)) {
        if (coll->kind == WC_CQL_TUPLE)
            return wc__cql_expected(p, "a value");
        p->i++;
        coll->end = start->end;
        return WC_OK;
    }
    for (;;) {
        const wc_cql_value *key = NULL, *val;
        wc_cql_value *node;

        if ((st = wc__cql_term(p, depth + 1, &val)) != WC_OK)
            return st;
        if (coll->kind == WC_CQL_MAP && coll->n == 0 && !is_map) {
            /* {x ...}: a map if a ':' follows the first element, else a set */
            if (wc__cql_is_punct(wc__cql_peek(p), ':'))
                is_map = true;
            else
                coll->kind = WC_CQL_SET;
        }
        if (is_map) {
            key = val;
            if (!wc__cql_is_punct(wc__cql_peek(p), ':'))
                return wc__cql_expected(p, "\":\"");
            p->i++;
            if ((st = wc__cql_term(p, depth + 1, &val)) != WC_OK)
                return st;
        }
        if ((node = wc__cql_node(p, val)) == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
        node->key = key;
        node->next = NULL;
        *tail = node;
        tail = (wc_cql_value **)&node->next;
        coll->n++;
        if (wc__cql_is_punct(wc__cql_peek(p), ',')) {
            p->i++;
            continue;
        }
        if (wc__cql_is_punct(wc__cql_peek(p), close)) {
            coll->end = wc__cql_peek(p)->end;
            p->i++;
            return WC_OK;
        }
        snprintf(what, sizeof(what), "\",\" or \"%c\"", close);
        return wc__cql_expected(p, what);
    }
}

static wc_status wc__cql_term(wc__cql_parser *p, int depth, const wc_cql_value **out)
{
    const wc_cql_value *t = wc__cql_peek(p);
    wc_cql_value *coll;
    char close;
    wc_status st;

    if (wc__cql_scalar(t, p->flags)) {
        p->i++;
        *out = t;
        return WC_OK;
    }
    if (t->kind != WC_CQL_PUNCT || !strchr("{[(", t->text[0]))
        return wc__cql_expected(p, "a value (a quoted string, a number, true, false, null, "
                                   "a map, a set, a list or a tuple)");
    if (depth >= WC_CQL_MAX_DEPTH)
        return wc__cql_fail(p->err, t->pos, "nesting deeper than %d levels", WC_CQL_MAX_DEPTH);
    if ((coll = wc__cql_node(p, t)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
    coll->child = NULL;
    coll->n = 0;
    switch (t->text[0]) {
    case '{':
        coll->kind = WC_CQL_MAP, close = '}';
        break;
    case '[':
        coll->kind = WC_CQL_LIST, close = ']';
        break;
    default:
        coll->kind = WC_CQL_TUPLE, close = ')';
        break;
    }
    coll->text = coll->raw = "";
    coll->len = 0;
    p->i++;
    if ((st = wc__cql_elements(p, depth, coll, close, false)) != WC_OK)
        return st;
    *out = coll;
    return WC_OK;
}

static wc_status wc__cql_end(wc__cql_parser *p, const char *what)
{
    if (wc__cql_peek(p)->kind != WC_CQL_END)
        return wc__cql_expected(p, what);
    return WC_OK;
}

wc_status wc_cql_parse_term(const char *text, size_t len, unsigned flags, wc_cql_doc **out,
                            wc_cql_error *err)
{
    wc__cql_parser p = {.flags = flags, .err = err};
    wc_status st;

    *out = NULL;
    if ((st = wc_cql_tokenize(text, len, &p.doc, err)) != WC_OK)
        return st;
    if ((st = wc__cql_term(&p, 0, &p.doc->root)) != WC_OK ||
        (st = wc__cql_end(&p, "the end of the text")) != WC_OK)
        goto fail;
    *out = p.doc;
    return WC_OK;
fail:
    if (st == WC_NO_MEMORY)
        wc__cql_fail(err, 0, "out of memory"), st = WC_NO_MEMORY;
    wc_cql_doc_free(p.doc);
    return st;
}

/* ---------------------------------------------------------------- options maps */

wc_status wc_cql_parse_options(const char *text, size_t len, wc_cql_doc **out, wc_cql_error *err)
{
    wc__cql_parser p = {.flags = WC_CQL_BARE_WORDS, .err = err};
    wc_cql_value *map;
    wc_cql_value **tail;
    wc_status st;

    *out = NULL;
    if ((st = wc_cql_tokenize(text, len, &p.doc, err)) != WC_OK)
        return st;
    if (!wc__cql_is_punct(wc__cql_peek(&p), '{')) {
        st = wc__cql_expected(&p, "\"{\"");
        goto fail;
    }
    if ((map = wc__cql_node(&p, wc__cql_peek(&p))) == NULL)
        goto no_memory;
    map->kind = WC_CQL_MAP;
    map->text = map->raw = "";
    map->len = 0;
    map->child = NULL;
    tail = (wc_cql_value **)&map->child;
    p.i++;
    if (wc__cql_is_punct(wc__cql_peek(&p), '}')) {
        map->end = wc__cql_peek(&p)->end;
        p.i++;
        goto end;
    }
    for (;;) {
        const wc_cql_value *key = wc__cql_peek(&p), *val;
        wc_cql_value *node;

        if (key->kind != WC_CQL_STRING) {
            st = wc__cql_expected(&p, "a quoted key such as 'class'");
            goto fail;
        }
        for (const wc_cql_value *o = map->child; o; o = o->next)
            if (strcasecmp(o->key->text, key->text) == 0) {
                st = wc__cql_fail(err, key->pos, "key '%.60s' appears twice", key->text);
                goto fail;
            }
        p.i++;
        if (!wc__cql_is_punct(wc__cql_peek(&p), ':')) {
            st = wc__cql_expected(&p, "\":\"");
            goto fail;
        }
        p.i++;
        val = wc__cql_peek(&p);
        if (!wc__cql_scalar(val, p.flags) || val->kind == WC_CQL_NULL) {
            st = wc__cql_expected(&p, "a value (a quoted string, a number, true or false)");
            goto fail;
        }
        p.i++;
        if ((node = wc__cql_node(&p, val)) == NULL)
            goto no_memory;
        node->key = key;
        node->next = NULL;
        *tail = node;
        tail = (wc_cql_value **)&node->next;
        map->n++;
        if (wc__cql_is_punct(wc__cql_peek(&p), ',')) {
            p.i++;
            continue;
        }
        if (wc__cql_is_punct(wc__cql_peek(&p), '}')) {
            map->end = wc__cql_peek(&p)->end;
            p.i++;
            break;
        }
        st = wc__cql_expected(&p, "\",\" or \"}\"");
        goto fail;
    }
end:
    if ((st = wc__cql_end(&p, "the end of the map")) != WC_OK)
        goto fail;
    p.doc->root = map;
    *out = p.doc;
    return WC_OK;
no_memory:
    st = wc_error(WC_NO_MEMORY, "out of memory parsing a CQL literal");
fail:
    if (st == WC_NO_MEMORY)
        wc__cql_fail(err, 0, "out of memory"), st = WC_NO_MEMORY;
    wc_cql_doc_free(p.doc);
    return st;
}

const wc_cql_value *wc_cql_map_get(const wc_cql_value *map, const char *key)
{
    if (map == NULL || map->kind != WC_CQL_MAP)
        return NULL;
    for (const wc_cql_value *v = map->child; v; v = v->next)
        if (v->key != NULL && v->key->kind == WC_CQL_STRING && strcasecmp(v->key->text, key) == 0)
            return v;
    return NULL;
}
