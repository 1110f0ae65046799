/*-------------------------------------------------------------------------
 *
 * cql.c
 *		  Parsers for the CQL fragments users paste into widecol options:
 *		  maps ({'class': 'SimpleStrategy', 'replication_factor': 1}),
 *		  PRIMARY KEY lists ('((user_id, event_type), event_id)') and
 *		  CLUSTERING ORDER lists ('order_date DESC, order_id DESC').
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/cql.c
 *
 * NOTES
 *		Identifiers follow CQL and PostgreSQL alike: unquoted names are folded
 *		to lower case, double-quoted names are taken as written ("" is a
 *		quote).  Every syntax error names the option, the offending position
 *		and what was expected, with a hint showing the accepted form.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "widecol.h"

typedef struct CqlLexer
{
	const char *option;			/* option name, for messages */
	const char *input;
	const char *p;
} CqlLexer;

static void cql_skip_space(CqlLexer *lx);
static void cql_error(CqlLexer *lx, const char *expected, const char *hint)
			pg_attribute_noreturn();
static char *cql_identifier(CqlLexer *lx, const char *hint);
static bool cql_accept(CqlLexer *lx, char c);
static void cql_expect(CqlLexer *lx, char c, const char *hint);

static void
cql_skip_space(CqlLexer *lx)
{
	while (*lx->p && isspace((unsigned char) *lx->p))
		lx->p++;
}

static void
cql_error(CqlLexer *lx, const char *expected, const char *hint)
{
	int			pos = (int) (lx->p - lx->input);

	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("invalid value for widecol option \"%s\": expected %s at position %d",
					lx->option, expected, pos + 1),
			 errdetail("The value is: %s", lx->input),
			 hint ? errhint("%s", hint) : 0));
}

static bool
cql_accept(CqlLexer *lx, char c)
{
	cql_skip_space(lx);
	if (*lx->p == c)
	{
		lx->p++;
		return true;
	}
	return false;
}

static void
cql_expect(CqlLexer *lx, char c, const char *hint)
{
	char		what[8];

	if (!cql_accept(lx, c))
	{
		snprintf(what, sizeof(what), "\"%c\"", c);
		cql_error(lx, what, hint);
	}
}

/*
 * An identifier: unquoted [A-Za-z_][A-Za-z0-9_$]* folded to lower case, or
 * a double-quoted name taken as written.  Returns NULL if none is there.
 */
static char *
cql_identifier(CqlLexer *lx, const char *hint)
{
	StringInfoData buf;

	cql_skip_space(lx);
	initStringInfo(&buf);
	if (*lx->p == '"')
	{
		lx->p++;
		for (;;)
		{
			if (*lx->p == '\0')
				cql_error(lx, "a closing double quote", hint);
			if (*lx->p == '"')
			{
				if (lx->p[1] == '"')
				{
					appendStringInfoChar(&buf, '"');
					lx->p += 2;
					continue;
				}
				lx->p++;
				break;
			}
			appendStringInfoChar(&buf, *lx->p++);
		}
		if (buf.len == 0)
			cql_error(lx, "a non-empty quoted name", hint);
		return buf.data;
	}
	if (!(isalpha((unsigned char) *lx->p) || *lx->p == '_'))
	{
		pfree(buf.data);
		return NULL;
	}
	while (isalnum((unsigned char) *lx->p) || *lx->p == '_' || *lx->p == '$')
		appendStringInfoChar(&buf, tolower((unsigned char) *lx->p++));
	return buf.data;
}

/* ---------------------------------------------------------------- maps */

/*
 * Parse a CQL map literal into a List of WidecolCqlPair.  Keys are quoted
 * strings; values are quoted strings, numbers or true/false (kept as text).
 * Keys are compared case-insensitively by callers, as Cassandra does for
 * option names.
 */
List *
widecol_parse_cql_map(const char *option, const char *input)
{
	CqlLexer	lx = {option, input, input};
	List	   *result = NIL;
	const char *hint = "Write a CQL map such as {'class': 'SimpleStrategy', 'replication_factor': 1}.";

	cql_expect(&lx, '{', hint);
	if (cql_accept(&lx, '}'))
		goto done;
	for (;;)
	{
		WidecolCqlPair *pair = palloc0(sizeof(WidecolCqlPair));
		StringInfoData buf;
		ListCell   *lc;

		/* key: a quoted string */
		cql_skip_space(&lx);
		if (*lx.p != '\'')
			cql_error(&lx, "a quoted key", hint);
		lx.p++;
		initStringInfo(&buf);
		for (;;)
		{
			if (*lx.p == '\0')
				cql_error(&lx, "a closing quote", hint);
			if (*lx.p == '\'')
			{
				if (lx.p[1] == '\'')
				{
					appendStringInfoChar(&buf, '\'');
					lx.p += 2;
					continue;
				}
				lx.p++;
				break;
			}
			appendStringInfoChar(&buf, *lx.p++);
		}
		pair->key = buf.data;
		foreach(lc, result)
		{
			WidecolCqlPair *other = lfirst(lc);

			if (pg_strcasecmp(other->key, pair->key) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("invalid value for widecol option \"%s\": key '%s' appears twice",
								option, pair->key),
						 errhint("Give each key once.")));
		}
		cql_expect(&lx, ':', hint);
		cql_skip_space(&lx);
		initStringInfo(&buf);
		if (*lx.p == '\'')
		{
			lx.p++;
			for (;;)
			{
				if (*lx.p == '\0')
					cql_error(&lx, "a closing quote", hint);
				if (*lx.p == '\'')
				{
					if (lx.p[1] == '\'')
					{
						appendStringInfoChar(&buf, '\'');
						lx.p += 2;
						continue;
					}
					lx.p++;
					break;
				}
				appendStringInfoChar(&buf, *lx.p++);
			}
			pair->quoted = true;
		}
		else
		{
			while (*lx.p && (isalnum((unsigned char) *lx.p) || *lx.p == '.' ||
							 *lx.p == '-' || *lx.p == '+' || *lx.p == '_'))
				appendStringInfoChar(&buf, *lx.p++);
			if (buf.len == 0)
				cql_error(&lx, "a value (a quoted string, a number, true or false)", hint);
		}
		pair->value = buf.data;
		result = lappend(result, pair);
		if (cql_accept(&lx, '}'))
			break;
		cql_expect(&lx, ',', hint);
	}
done:
	cql_skip_space(&lx);
	if (*lx.p != '\0')
		cql_error(&lx, "the end of the map", hint);
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
	CqlLexer	lx = {"primary_key", input, input};
	const char *hint = "Write the key as in CQL: '(device_id, \"timestamp\")' or '((user_id, event_type), event_id)'.";
	char	   *name;

	*partition = NIL;
	*clustering = NIL;
	if (!cql_accept(&lx, '('))
	{
		/* a single bare column */
		name = cql_identifier(&lx, hint);
		if (name == NULL)
			cql_error(&lx, "a column name or \"(\"", hint);
		*partition = list_make1(name);
		goto done;
	}
	if (cql_accept(&lx, '('))
	{
		for (;;)
		{
			name = cql_identifier(&lx, hint);
			if (name == NULL)
				cql_error(&lx, "a partition-key column name", hint);
			*partition = lappend(*partition, name);
			if (cql_accept(&lx, ')'))
				break;
			cql_expect(&lx, ',', hint);
		}
	}
	else
	{
		name = cql_identifier(&lx, hint);
		if (name == NULL)
			cql_error(&lx, "a column name", hint);
		*partition = list_make1(name);
	}
	while (!cql_accept(&lx, ')'))
	{
		cql_expect(&lx, ',', hint);
		name = cql_identifier(&lx, hint);
		if (name == NULL)
			cql_error(&lx, "a clustering column name", hint);
		*clustering = lappend(*clustering, name);
	}
done:
	cql_skip_space(&lx);
	if (*lx.p != '\0')
		cql_error(&lx, "the end of the key", hint);
}

/*
 * Parse a CLUSTERING ORDER: "a DESC, b ASC", optionally in parentheses.
 * Returns a List of WidecolCqlOrder.
 */
List *
widecol_parse_clustering_order(const char *input)
{
	CqlLexer	lx = {"clustering_order", input, input};
	const char *hint = "Write it as in CQL: '\"timestamp\" DESC' or 'order_date DESC, order_id DESC'.";
	bool		paren = cql_accept(&lx, '(');
	List	   *result = NIL;

	for (;;)
	{
		WidecolCqlOrder *o = palloc0(sizeof(WidecolCqlOrder));
		char	   *dir;

		o->column = cql_identifier(&lx, hint);
		if (o->column == NULL)
			cql_error(&lx, "a clustering column name", hint);
		dir = cql_identifier(&lx, hint);
		if (dir == NULL || strcmp(dir, "asc") == 0)
			o->descending = false;
		else if (strcmp(dir, "desc") == 0)
			o->descending = true;
		else
			cql_error(&lx, "ASC or DESC", hint);
		result = lappend(result, o);
		if (!cql_accept(&lx, ','))
			break;
	}
	if (paren)
		cql_expect(&lx, ')', hint);
	cql_skip_space(&lx);
	if (*lx.p != '\0')
		cql_error(&lx, "\",\" or the end of the list", hint);
	return result;
}
