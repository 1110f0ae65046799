/*
 * cql_literal.h - the one parser of the CQL fragments that users write into
 * widecol options: replication maps, compaction maps, PRIMARY KEY and
 * CLUSTERING ORDER lists.  Every layer (engine, cluster, extension) uses it,
 * so a text means the same thing wherever it is read.
 *
 * Two levels:
 *
 *   wc_cql_tokenize     the lexer: the input as a sequence of tokens
 *   wc_cql_parse_term   one CQL term (a scalar, map, list, set or tuple)
 *                       as a tree of wc_cql_value, then the end of input
 *   wc_cql_parse_options  a term that must be a flat options map (string
 *                       keys, scalar values, no key twice), the form of
 *                       replication and compaction maps
 *
 * Tokens, as in CQL:
 *   'it''s'             string; '' inside is one quote
 *   $$it's$$            string taken verbatim up to the next $$
 *   42  -7              integer (any length; int64 value when it fits)
 *   1.5  -2e3  NaN  Infinity  -Infinity    float
 *   true  FALSE         boolean (case-insensitive); null
 *   device_id  DeviceID identifier: [A-Za-z_][A-Za-z0-9_$]* (and bytes >= 0x80),
 *                       folded to lower case; raw keeps it as written
 *   "DeviceID"          quoted identifier, taken as written ("" is a quote)
 *   { } [ ] ( ) : , and other ASCII punctuation: one-character tokens
 *   spaces, tabs, newlines, -- and // line comments, block comments: ignored
 *
 * Terms: a scalar token (not punctuation, not an identifier unless the
 * caller allows bare words), {k: v, ...} map, {a, b} set, [a, b] list,
 * (a, b) tuple.  {} is an empty map.  "X" is an identifier, never a string:
 * CQL strings take single quotes (or $$).
 *
 * Limits (no real schema comes near them): input WC_CQL_MAX_INPUT bytes,
 * nesting WC_CQL_MAX_DEPTH levels.  Memory is O(input length), owned by the
 * returned wc_cql_doc and freed at once with wc_cql_doc_free.
 *
 * Errors: WC_INVALID_ARGUMENT with *err filled: the 0-based byte offset of
 * the problem and a message ("expected \":\"", "key 'x' appears twice",
 * "unterminated string"); wc_last_error() holds "<message> at position
 * <offset + 1>".  WC_NO_MEMORY if an allocation fails.
 *
 * The tree is plain data (kind, text, number, children in order), so a typed
 * schema can be read from it without another lexer.  Pure functions on
 * caller-owned values; thread-safe.
 */
#ifndef WC_CQL_LITERAL_H
#define WC_CQL_LITERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define WC_CQL_MAX_INPUT (1u << 20)
#define WC_CQL_MAX_DEPTH 32

typedef enum wc_cql_kind {
    WC_CQL_NULL = 0,
    WC_CQL_STRING,     /* text = content, unescaped */
    WC_CQL_INTEGER,    /* text as written; i when fits_int64; d always */
    WC_CQL_FLOAT,      /* text as written; d */
    WC_CQL_BOOLEAN,    /* b; text "true"/"false" */
    WC_CQL_IDENTIFIER, /* text folded (unquoted) or as written (quoted) */
    WC_CQL_MAP,        /* n entries: children are the values, each with ->key */
    WC_CQL_SET,        /* n elements in ->child ... ->next */
    WC_CQL_LIST,
    WC_CQL_TUPLE,
    WC_CQL_PUNCT, /* tokens only: one punctuation character in text */
    WC_CQL_END,   /* tokens only: end of input */
} wc_cql_kind;

typedef struct wc_cql_value wc_cql_value;
struct wc_cql_value {
    wc_cql_kind kind;
    bool quoted;               /* identifier written "X"; string written $$x$$ */
    bool fits_int64;           /* INTEGER: i holds the value */
    bool b;                    /* BOOLEAN */
    int64_t i;                 /* INTEGER */
    double d;                  /* INTEGER, FLOAT */
    size_t pos, end;           /* byte offsets of the source text [pos, end) */
    const char *text;          /* NUL-terminated, never NULL (may hold NULs for strings: see len) */
    size_t len;                /* bytes of text */
    const char *raw;           /* identifiers: as written (unquoted: unfolded); others: = text */
    size_t n;                  /* MAP/SET/LIST/TUPLE: number of entries */
    const wc_cql_value *child; /* first element (MAP: first value) */
    const wc_cql_value *next;  /* next sibling */
    const wc_cql_value *key;   /* MAP values: their key */
};

typedef struct wc_cql_error {
    size_t pos;    /* 0-based byte offset */
    char msg[160]; /* "expected ...", without the position */
} wc_cql_error;

typedef struct wc_cql_doc wc_cql_doc;

/* Options of wc_cql_parse_term */
#define WC_CQL_BARE_WORDS 0x1u /* an unquoted identifier is a scalar term (an option value) */

/* API */

/*
 * The tokens of text[0..len), ending with one WC_CQL_END token.
 * *out owns them; free with wc_cql_doc_free.  On failure *out is NULL.
 * WC_INVALID_ARGUMENT (err set) for a lexical error or input over
 * WC_CQL_MAX_INPUT; WC_NO_MEMORY.
 */
wc_status wc_cql_tokenize(const char *text, size_t len, wc_cql_doc **out, wc_cql_error *err);
/* Token i of a tokenized doc (i < wc_cql_ntokens); the last is WC_CQL_END. */
size_t wc_cql_ntokens(const wc_cql_doc *d);
const wc_cql_value *wc_cql_token(const wc_cql_doc *d, size_t i);

/*
 * Parse text[0..len) as exactly one term (flags: WC_CQL_BARE_WORDS).
 * *out owns the tree (wc_cql_doc_root); free with wc_cql_doc_free.  On
 * failure *out is NULL.  WC_INVALID_ARGUMENT (err set) for a syntax error,
 * nesting over WC_CQL_MAX_DEPTH or input over WC_CQL_MAX_INPUT; WC_NO_MEMORY.
 */
wc_status wc_cql_parse_term(const char *text, size_t len, unsigned flags, wc_cql_doc **out,
                            wc_cql_error *err);

/*
 * Parse an options map: '{' [ 'key' ':' value { ',' 'key' ':' value } ] '}'
 * where keys are string literals, no key appears twice (compared
 * case-insensitively) and values are scalars (string, number, boolean or a
 * bare word).  Statuses as wc_cql_parse_term.
 */
wc_status wc_cql_parse_options(const char *text, size_t len, wc_cql_doc **out, wc_cql_error *err);

/* Root of a parsed doc (NULL for a tokenized one). */
const wc_cql_value *wc_cql_doc_root(const wc_cql_doc *d);
/* Free a doc and everything in it.  NULL is fine. */
void wc_cql_doc_free(wc_cql_doc *d);

/* Value of key in a MAP of string keys (case-insensitive), or NULL. */
const wc_cql_value *wc_cql_map_get(const wc_cql_value *map, const char *key);

/* Printable name of a kind ("string", "map"). Never NULL. */
const char *wc_cql_kind_name(wc_cql_kind k);

#endif /* WC_CQL_LITERAL_H */
