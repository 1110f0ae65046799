/*-------------------------------------------------------------------------
 *
 * cql.c
 *		  The CQL fragments users paste into widecol options: maps
 *		  ({'class': 'SimpleStrategy', 'replication_factor': 1}),
 *		  PRIMARY KEY lists ('((user_id, event_type), event_id)') and
 *		  CLUSTERING ORDER lists ('order_date DESC, order_id DESC').
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/cql.c
 *
 * NOTES
 *		The text is read by the engine's CQL-literal parser
 *		(engine/cql_literal.h), the same one the node uses for replication
 *		and compaction maps, so a map means the same thing in every layer.
 *		This file holds only the small grammars of keys and clustering
 *		orders over its tokens, and turns its errors into ereports.  The
 *		tokens are copied into palloc'd memory and the parser's own memory
 *		freed before any error is raised.  Identifiers follow CQL and
 *		PostgreSQL alike: unquoted names are folded to lower case,
 *		double-quoted names are taken as written ("" is a quote).  Every
 *		syntax error names the option, the offending position and what was
 *		expected, with a hint showing the accepted form.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cql_literal.h"

#include "widecol.h"

/* One token, copied out of the engine parser's memory. */
typedef struct CqlToken
{
	wc_cql_kind kind;
	bool		quoted;
	char	   *text;
	int			pos;			/* 0-based byte offset */
} CqlToken;

typedef struct CqlTokens
{
	const char *option;			/* option name, for messages */
	const char *input;
	const char *hint;
	CqlToken   *tok;
	int			ntok;
	int			i;				/* next token */
} CqlTokens;

static void cql_report(const char *option, const char *input, wc_status st,
					   const wc_cql_error *err, const char *hint) pg_attribute_noreturn();
static void cql_error(CqlTokens *lx, const char *expected) pg_attribute_noreturn();
static void cql_tokenize(CqlTokens *lx, const char *option, const char *input, const char *hint);
static bool cql_accept(CqlTokens *lx, char c);
static void cql_expect(CqlTokens *lx, char c);
static char *cql_identifier(CqlTokens *lx);

/* An error of the engine's parser as an ereport. */
static void
cql_report(const char *option, const char *input, wc_status st, const wc_cql_error *err,
		   const char *hint)
{
	if (st == WC_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory parsing widecol option \"%s\"", option)));
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("invalid value for widecol option \"%s\": %s at position %d",
					option, err->msg, (int) err->pos + 1),
			 errdetail("The value is: %s", input),
			 errhint("%s", hint)));
}

static void
cql_error(CqlTokens *lx, const char *expected)
{
	wc_cql_error err;

	err.pos = lx->tok[lx->i].pos;
	snprintf(err.msg, sizeof(err.msg), "expected %s", expected);
	cql_report(lx->option, lx->input, WC_INVALID_ARGUMENT, &err, lx->hint);
}

static void
cql_tokenize(CqlTokens *lx, const char *option, const char *input, const char *hint)
{
	wc_cql_doc *doc;
	wc_cql_error err;
	wc_status	st = wc_cql_tokenize(input, strlen(input), &doc, &err);
	size_t		n,
				k;

	if (st != WC_OK)
		cql_report(option, input, st, &err, hint);
	n = wc_cql_ntokens(doc);
	lx->option = option;
	lx->input = input;
	lx->hint = hint;
	lx->tok = palloc_extended(sizeof(CqlToken) * n, MCXT_ALLOC_NO_OOM);
	lx->ntok = (int) n;
	lx->i = 0;
	for (k = 0; lx->tok != NULL && k < n; k++)
	{
		const wc_cql_value *t = wc_cql_token(doc, k);

		lx->tok[k].kind = t->kind;
		lx->tok[k].quoted = t->quoted;
		lx->tok[k].pos = (int) t->pos;
		lx->tok[k].text = palloc_extended(t->len + 1, MCXT_ALLOC_NO_OOM);
		if (lx->tok[k].text == NULL)
		{
			lx->tok = NULL;
			break;
		}
		memcpy(lx->tok[k].text, t->text, t->len + 1);
	}
	wc_cql_doc_free(doc);
	if (lx->tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory parsing widecol option \"%s\"", option)));
}

static bool
cql_accept(CqlTokens *lx, char c)
{
	CqlToken   *t = &lx->tok[lx->i];

	if (t->kind == WC_CQL_PUNCT && t->text[0] == c)
	{
		lx->i++;
		return true;
	}
	return false;
}

static void
cql_expect(CqlTokens *lx, char c)
{
	char		what[8];

	if (!cql_accept(lx, c))
	{
		snprintf(what, sizeof(what), "\"%c\"", c);
		cql_error(lx, what);
	}
}

/* The next token if it is an identifier (folded unless quoted), else NULL. */
static char *
cql_identifier(CqlTokens *lx)
{
	CqlToken   *t = &lx->tok[lx->i];

	if (t->kind != WC_CQL_IDENTIFIER)
		return NULL;
	lx->i++;
	return t->text;
}

/* ---------------------------------------------------------------- maps */

/*
 * Parse a CQL options map into a List of WidecolCqlPair (wc_cql_parse_options:
 * keys are quoted strings, values strings, numbers, booleans or bare words,
 * kept as written).  Keys are compared case-insensitively, as Cassandra does
 * for option names.
 */
List *
widecol_parse_cql_map(const char *option, const char *input)
{
	const char *hint = strcmp(option, "compaction") == 0 ?
		"Write a CQL map such as {'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': 160}." :
		"Write a CQL map such as {'class': 'SimpleStrategy', 'replication_factor': 1}.";
	wc_cql_doc *doc;
	wc_cql_error err;
	wc_status	st = wc_cql_parse_options(input, strlen(input), &doc, &err);
	List	   *result = NIL;
	const wc_cql_value *v;

	if (st != WC_OK)
		cql_report(option, input, st, &err, hint);
	/* palloc may fail: copy out under PG_TRY so that the doc is freed */
	PG_TRY();
	{
		for (v = wc_cql_doc_root(doc)->child; v; v = v->next)
		{
			WidecolCqlPair *pair = palloc0(sizeof(WidecolCqlPair));

			pair->key = pstrdup(v->key->text);
			pair->value = pstrdup(v->raw);
			pair->quoted = v->kind == WC_CQL_STRING;
			result = lappend(result, pair);
		}
	}
	PG_CATCH();
	{
		wc_cql_doc_free(doc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	wc_cql_doc_free(doc);
	return result;
}

/* Value of key in a parsed map (case-insensitive), or NULL. */
const char *
widecol_cql_map_get(List *map, const char *key)
{
	ListCell   *lc;

	foreach(lc, map)
	{
		WidecolCqlPair *pair = lfirst(lc);

		if (pg_strcasecmp(pair->key, key) == 0)
			return pair->value;
	}
	return NULL;
}

/* ---------------------------------------------------------------- keys */

/*
 * Parse a CQL PRIMARY KEY: "a", "(a)", "(a, b, c)" or "((a, b), c, d)".
 * The first element (or the inner parenthesized list) is the partition key,
 * the rest are clustering columns.  Names are returned as palloc'd strings.
 */
void
widecol_parse_primary_key(const char *input, List **partition, List **clustering)
{
	CqlTokens	lx;
	char	   *name;

	cql_tokenize(&lx, "primary_key", input,
				 "Write the key as in CQL: '(device_id, \"timestamp\")' or '((user_id, event_type), event_id)'.");
	*partition = NIL;
	*clustering = NIL;
	if (!cql_accept(&lx, '('))
	{
		/* a single bare column */
		name = cql_identifier(&lx);
		if (name == NULL)
			cql_error(&lx, "a column name or \"(\"");
		*partition = list_make1(name);
		goto done;
	}
	if (cql_accept(&lx, '('))
	{
		for (;;)
		{
			name = cql_identifier(&lx);
			if (name == NULL)
				cql_error(&lx, "a partition-key column name");
			*partition = lappend(*partition, name);
			if (cql_accept(&lx, ')'))
				break;
			cql_expect(&lx, ',');
		}
	}
	else
	{
		name = cql_identifier(&lx);
		if (name == NULL)
			cql_error(&lx, "a column name");
		*partition = list_make1(name);
	}
	while (!cql_accept(&lx, ')'))
	{
		cql_expect(&lx, ',');
		name = cql_identifier(&lx);
		if (name == NULL)
			cql_error(&lx, "a clustering column name");
		*clustering = lappend(*clustering, name);
	}
done:
	if (lx.tok[lx.i].kind != WC_CQL_END)
		cql_error(&lx, "the end of the key");
}

/*
 * Parse a CLUSTERING ORDER: "a DESC, b ASC", optionally in parentheses.
 * Returns a List of WidecolCqlOrder.
 */
List *
widecol_parse_clustering_order(const char *input)
{
	CqlTokens	lx;
	bool		paren;
	List	   *result = NIL;

	cql_tokenize(&lx, "clustering_order", input,
				 "Write it as in CQL: '\"timestamp\" DESC' or 'order_date DESC, order_id DESC'.");
	paren = cql_accept(&lx, '(');
	for (;;)
	{
		WidecolCqlOrder *o = palloc0(sizeof(WidecolCqlOrder));
		CqlToken   *dir;

		o->column = cql_identifier(&lx);
		if (o->column == NULL)
			cql_error(&lx, "a clustering column name");
		dir = &lx.tok[lx.i];
		if (dir->kind == WC_CQL_IDENTIFIER && !dir->quoted && strcmp(dir->text, "desc") == 0)
			o->descending = true, lx.i++;
		else if (dir->kind == WC_CQL_IDENTIFIER && !dir->quoted && strcmp(dir->text, "asc") == 0)
			lx.i++;
		else if (dir->kind == WC_CQL_IDENTIFIER)
			cql_error(&lx, "ASC or DESC");
		result = lappend(result, o);
		if (!cql_accept(&lx, ','))
			break;
	}
	if (paren)
		cql_expect(&lx, ')');
	if (lx.tok[lx.i].kind != WC_CQL_END)
		cql_error(&lx, "\",\" or the end of the list");
	return result;
}
