/*-------------------------------------------------------------------------
 *
 * matview.c
 *		  Materialized views (CQL CREATE MATERIALIZED VIEW): a widecol
 *		  table that the node keeps, on every write of its base table, as
 *		  the base's rows under another primary key.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/matview.c
 *
 * NOTES
 *	  widecol.create_materialized_view() checks the view's key against
 *	  the base (every base key column, at most one other column, as
 *	  Cassandra requires), turns the key and the WHERE conditions into a
 *	  recipe in the node's terms (key components, their encodings, the
 *	  view key cell; cluster/view.c) and creates a foreign table in the
 *	  base's server with the base's columns and the recipe as its
 *	  materialized_view option.  The node reads the recipe from the typed
 *	  schema when the table is created, fills the view from the base's
 *	  rows and from then on writes view rows in the same commit-log
 *	  record as each base write.  Writes to a view are refused here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include "engine.h"
#include "schema_def.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_create_materialized_view);
PG_FUNCTION_INFO_V1(widecol_drop_materialized_view);

/* helpers */
static const char *key_codec(WidecolColumn *c);
static const char *cell_codec(WidecolColumn *c);
static int	base_column(WidecolTable *base, const char *name, const char *view);
static void add_condition(StringInfo conds, WidecolTable *base, const char *clause,
						  const char *view);
static char *literal_value(const char *lit);

/*
 * The node's name for the key encoding of a column (view.c: f<n> fixed
 * bytes, e escaped), or NULL when a view cannot take it apart.
 */
static const char *
key_codec(WidecolColumn *c)
{
	switch (c->typid)
	{
		case BOOLOID:
			return "f1";
		case INT2OID:
			return "f2";
		case INT4OID:
		case DATEOID:
		case FLOAT4OID:
			return "f4";
		case INT8OID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case FLOAT8OID:
			return "f8";
		case UUIDOID:
			return "f16";
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			return "e";
		default:
			return c->typid == widecol_timeuuid_oid() ? "f16" : NULL;
	}
}

/* The node's conversion of a cell's value to a key component (view.c), or NULL. */
static const char *
cell_codec(WidecolColumn *c)
{
	switch (c->typid)
	{
		case BOOLOID:
			return "b";
		case INT2OID:
			return "i2";
		case INT4OID:
		case DATEOID:
			return "i4";
		case INT8OID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return "i8";
		case UUIDOID:
			return "u";
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			return "s";
		default:
			return NULL;
	}
}

static int
base_column(WidecolTable *base, const char *name, const char *view)
{
	for (int i = 0; i < base->ncols; i++)
		if (!base->cols[i].dropped && strcmp(base->cols[i].name, name) == 0 &&
			base->cols[i].kind != WIDECOL_COL_WRITETIME && base->cols[i].kind != WIDECOL_COL_TTL)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("materialized view \"%s\" names column \"%s\", which base table \"%s\" does not have",
					view, name, get_rel_name(base->relid)),
			 errhint("Name columns of the base table in the view's primary key and WHERE.")));
	return -1;
}

/* The text of a CQL literal: 'quoted' (with '' for a quote) or a bare word. */
static char *
literal_value(const char *lit)
{
	StringInfoData s;

	if (lit[0] != '\'')
		return pstrdup(lit);
	initStringInfo(&s);
	for (const char *p = lit + 1; *p; p++)
	{
		if (*p == '\'')
		{
			if (p[1] != '\'')
			{
				if (p[1] != '\0')
					break;
				return s.data;
			}
			p++;
		}
		appendStringInfoChar(&s, *p);
	}
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("malformed literal %s in the WHERE of a materialized view", lit),
			 errhint("Quote text as 'text' and double a quote inside it.")));
	return NULL;
}

/*
 * One WHERE clause, "col IS NOT NULL" or "col = literal", as a recipe
 * condition appended to conds (key columns are never NULL: nothing to add).
 */
static void
add_condition(StringInfo conds, WidecolTable *base, const char *clause, const char *view)
{
	char	   *col = pstrdup(clause);
	char	   *rest;
	WidecolColumn *c;

	/* "column" then the rest, blanks trimmed */
	while (*col == ' ')
		col++;
	for (rest = col; *rest && *rest != ' ' && *rest != '='; rest++)
		;
	if (*rest == ' ')
		*rest++ = '\0';
	while (*rest == ' ')
		rest++;
	for (int i = (int) strlen(rest) - 1; i >= 0 && rest[i] == ' '; i--)
		rest[i] = '\0';
	if (*col && pg_strcasecmp(rest, "IS NOT NULL") == 0)
	{
		c = &base->cols[base_column(base, col, view)];
		if (c->kind == WIDECOL_COL_REGULAR)
			appendStringInfo(conds, "%sn%u", conds->len ? "," : "", c->cell_id);
		return;
	}
	if (*col && *rest == '=')
	{
		char	   *text;
		Oid			typinput,
					typioparam;
		Datum		d;
		StringInfoData b;
		int			pos;
		char		kind;

		*rest++ = '\0';
		while (*rest == ' ')
			rest++;
		c = &base->cols[base_column(base, col, view)];
		text = literal_value(rest);
		getTypeInputInfo(c->typid, &typinput, &typioparam);
		d = OidInputFunctionCall(typinput, text, typioparam, c->typmod);
		initStringInfo(&b);
		if (c->kind == WIDECOL_COL_PARTITION || c->kind == WIDECOL_COL_CLUSTERING)
		{
			kind = c->kind == WIDECOL_COL_PARTITION ? 'p' : 'c';
			pos = c->key_pos;
			widecol_encode_column_key(&b, c, d, c->descending);
		}
		else if (c->kind == WIDECOL_COL_REGULAR && c->coll == NULL)
		{
			kind = 'v';
			pos = (int) c->cell_id;
			widecol_encode_value(&b, d, c->typlen, c->typbyval);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("materialized view \"%s\" cannot compare column \"%s\" in its WHERE",
							view, c->name),
					 errhint("Compare key columns or regular columns of a scalar type.")));
		appendStringInfo(conds, "%s%c%d:", conds->len ? "," : "", kind, pos);
		for (int i = 0; i < b.len; i++)
			appendStringInfo(conds, "%02x", (unsigned char) b.data[i]);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("materialized view \"%s\" cannot filter on \"%s\"", view, clause),
			 errhint("A view's WHERE joins with AND clauses of the forms \"column IS NOT NULL\" "
					 "and \"column = literal\", as in CQL.")));
}

/*
 * Refuse a write to a materialized view: the node writes it, from its
 * base table.
 */
void
widecol_matview_refuse_write(WidecolTable *t)
{
	if (t->is_view)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to materialized view \"%s\"", get_rel_name(t->relid)),
				 errdetail("widecol keeps a materialized view from the writes to its base table."),
				 errhint("Write to the base table; its rows appear in the view.")));
}

/*
 * widecol.create_materialized_view(name text, base regclass, primary_key
 * text, clustering_order text, where text) returns regclass.
 */
Datum
widecol_create_materialized_view(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			baseid;
	char	   *primary_key;
	char	   *clustering_order = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *where = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	WidecolTable *base;
	List	   *vpk,
			   *vck,
			   *order = NIL,
			   *qname;
	List	   *used = NIL;
	int			x = -1;
	StringInfoData recipe,
				conds,
				ddl;
	ListCell   *lc;
	RangeVar   *rv;
	Oid			viewid;
	WidecolTable *view;
	wc_table_def existing;
	wc_status	st;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a materialized view needs a name, a base table and a primary key"),
				 errhint("Call widecol.create_materialized_view('name', 'base_table', '((a), b)').")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	baseid = PG_GETARG_OID(1);
	primary_key = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (get_rel_relkind(baseid) != RELKIND_FOREIGN_TABLE ||
		!widecol_is_widecol_server(GetForeignTable(baseid)->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a widecol foreign table", get_rel_name(baseid)),
				 errhint("The base of a materialized view is a foreign table of a widecol server.")));
	if (!pg_class_ownercheck(baseid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of widecol table \"%s\" to create a materialized view of it",
						get_rel_name(baseid)),
				 errhint("Ask the owner of the table (or a superuser) to create the view.")));
	widecol_require_node();
	base = widecol_get_table(baseid);
	widecol_ensure_engine_table(base);	/* the node reads it to fill the view */
	if (base->is_view)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("\"%s\" is a materialized view itself", get_rel_name(baseid)),
				 errhint("Create the view over the base table of \"%s\".", get_rel_name(baseid))));
	if (base->has_static || base->counter_table || base->has_collections)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" has %s columns, which a materialized view cannot hold",
						get_rel_name(baseid),
						base->has_static ? "static" : base->counter_table ? "counter" : "collection"),
				 errhint("As in Cassandra, views are made of tables without static, counter and "
						 "non-frozen collection columns.")));

	/* the view's key: every base key column, and at most one other column */
	widecol_parse_primary_key(primary_key, &vpk, &vck);
	if (clustering_order)
		order = widecol_parse_clustering_order(clustering_order);
	foreach(lc, list_concat_copy(vpk, vck))
	{
		int			i = base_column(base, (char *) lfirst(lc), name);
		WidecolColumn *c = &base->cols[i];

		if (list_member_int(used, i))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" appears twice in the primary key of materialized view \"%s\"",
							c->name, name),
					 errhint("Name each column once.")));
		used = lappend_int(used, i);
		if (c->kind != WIDECOL_COL_PARTITION && c->kind != WIDECOL_COL_CLUSTERING)
		{
			if (x >= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("materialized view \"%s\" has columns \"%s\" and \"%s\" in its key, which are not in the key of \"%s\"",
								name, base->cols[x].name, c->name, get_rel_name(baseid)),
						 errhint("A view's primary key holds every primary-key column of its base and at most one other column (Cassandra's rule).")));
			if (cell_codec(c) == NULL || c->coll != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("column \"%s\" of type %s cannot be a key column of a materialized view",
								c->name, format_type_be(c->typid)),
						 errhint("A view's key column that is not a base key column must be boolean, smallint, integer, bigint, date, time, timestamp, timestamptz, uuid, text, varchar or bytea.")));
			x = i;
		}
	}
	for (int i = 0; i < base->npk + base->nck; i++)
	{
		int			ci = i < base->npk ? base->pk[i] : base->ck[i - base->npk];

		if (!list_member_int(used, ci))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the primary key of materialized view \"%s\" lacks column \"%s\" of the key of \"%s\"",
							name, base->cols[ci].name, get_rel_name(baseid)),
					 errhint("A view's primary key holds every primary-key column of its base, so that each base row is one view row.")));
		if (key_codec(&base->cols[ci]) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("key column \"%s\" of type %s cannot be in a materialized view",
							base->cols[ci].name, format_type_be(base->cols[ci].typid)),
					 errhint("Views take base tables whose key columns are boolean, integers, floats, date, time, timestamps, uuid, timeuuid, text, varchar or bytea.")));
	}

	/* the recipe (cluster/view.c) */
	initStringInfo(&recipe);
	appendStringInfo(&recipe, "base=%u bpk=", base->table_id);
	for (int i = 0; i < base->npk; i++)
		appendStringInfo(&recipe, "%s%s", i ? "," : "", key_codec(&base->cols[base->pk[i]]));
	appendStringInfoString(&recipe, " bck=");
	for (int i = 0; i < base->nck; i++)
		appendStringInfo(&recipe, "%s%s%s", i ? "," : "", key_codec(&base->cols[base->ck[i]]),
						 base->cols[base->ck[i]].descending ? "d" : "");
	for (int part = 0; part < 2; part++)
	{
		List	   *cols = part == 0 ? vpk : vck;
		int			k = 0;

		appendStringInfoString(&recipe, part == 0 ? " pk=" : " ck=");
		foreach(lc, cols)
		{
			WidecolColumn *c = &base->cols[base_column(base, (char *) lfirst(lc), name)];
			bool		desc = false;
			ListCell   *oc;

			foreach(oc, order)
			{
				WidecolCqlOrder *o = lfirst(oc);

				if (strcmp(o->column, c->name) == 0)
					desc = o->descending;
			}
			if (c->kind == WIDECOL_COL_PARTITION)
				appendStringInfo(&recipe, "%sp%d", k++ ? "," : "", c->key_pos);
			else if (c->kind == WIDECOL_COL_CLUSTERING)
				appendStringInfo(&recipe, "%sc%d", k++ ? "," : "", c->key_pos);
			else
				appendStringInfo(&recipe, "%sx", k++ ? "," : "");
			if (desc && part == 1)
				appendStringInfoChar(&recipe, 'd');
		}
	}
	if (x >= 0)
		appendStringInfo(&recipe, " x=%u:%s", base->cols[x].cell_id, cell_codec(&base->cols[x]));
	initStringInfo(&conds);
	if (where)
	{
		char	   *w = pstrdup(where);
		char	   *p = w;

		/* clauses joined by AND (any case) */
		for (;;)
		{
			char	   *and = NULL;

			for (char *q = p; *q; q++)
				if ((q == w || q[-1] == ' ') && pg_strncasecmp(q, "AND ", 4) == 0)
				{
					and = q;
					break;
				}
			if (and)
				*and = '\0';
			add_condition(&conds, base, p, name);
			if (!and)
				break;
			p = and + 4;
		}
	}
	if (conds.len)
		appendStringInfo(&recipe, " where=%s", conds.data);

	/* the foreign table: the base's columns (not WRITETIME/TTL), the view's key */
	qname = textToQualifiedNameList(PG_GETARG_TEXT_PP(0));
	rv = makeRangeVarFromNameList(qname);
	initStringInfo(&ddl);
	appendStringInfo(&ddl, "CREATE FOREIGN TABLE %s (",
					 quote_qualified_identifier(rv->schemaname, rv->relname));
	for (int i = 0, k = 0; i < base->ncols; i++)
	{
		WidecolColumn *c = &base->cols[i];

		if (c->dropped || c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL)
			continue;
		appendStringInfo(&ddl, "%s%s %s", k++ ? ", " : "", quote_identifier(c->name),
						 format_type_with_typemod(c->typid, c->typmod));
		if (c->kind == WIDECOL_COL_REGULAR && i != x)
		{
			List	   *opts = GetForeignColumnOptions(baseid, c->attnum);
			ListCell   *oc;

			appendStringInfo(&ddl, " OPTIONS (column_id '%u'", c->cell_id);
			foreach(oc, opts)
			{
				DefElem    *d = lfirst(oc);

				if (strcmp(d->defname, "column_id") != 0)
					appendStringInfo(&ddl, ", %s %s", quote_identifier(d->defname),
									 quote_literal_cstr(defGetString(d)));
			}
			appendStringInfoChar(&ddl, ')');
		}
	}
	appendStringInfo(&ddl, ") SERVER %s OPTIONS (primary_key %s",
					 quote_identifier(GetForeignServer(base->serverid)->servername),
					 quote_literal_cstr(primary_key));
	if (clustering_order)
		appendStringInfo(&ddl, ", clustering_order %s", quote_literal_cstr(clustering_order));
	appendStringInfo(&ddl, ", materialized_view %s)", quote_literal_cstr(recipe.data));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(ddl.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "widecol: could not create materialized view \"%s\"", name);
	SPI_finish();
	viewid = RangeVarGetRelid(rv, NoLock, false);
	view = widecol_get_table(viewid);
	/* an engine table an earlier view of this name left (DROP FOREIGN TABLE keeps it) goes */
	if (widecol_check_engine_owner(view, &existing))
	{
		const wc_schema *old = widecol_engine_schema(&existing);
		bool		was_view = false;

		for (size_t i = 0; old && i < old->nproperties; i++)
			was_view |= strcmp(old->properties[i].name, "materialized_view") == 0;
		if (!was_view)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("engine table \"%s\" exists and is not a materialized view", existing.name),
					 errhint("Choose another name for the view, or remove that table's data with widecol.drop_table() first.")));
		st = wc_client_drop_table(widecol_connection(), view->table_id);
		if (st != WC_OK && st != WC_NOT_FOUND)
			widecol_report(st, "replacing the engine table of an earlier materialized view");
	}
	/* the node makes the engine table now, and fills it from the base */
	widecol_ensure_engine_table(view);
	PG_RETURN_OID(viewid);
}

/* Set while drop_materialized_view drops the view's foreign table. */
static bool matview_dropping = false;

/*
 * Before DROP FOREIGN TABLE: refuse to drop a materialized view that way,
 * which would leave its engine table kept by every base write.  The
 * cluster schema's own drops (another node's drop_materialized_view) pass.
 */
void
widecol_matview_refuse_drop(Node *parsetree)
{
	DropStmt   *stmt = (DropStmt *) parsetree;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt) || stmt->removeType != OBJECT_FOREIGN_TABLE ||
		matview_dropping || widecol_schema_applying)
		return;
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList(lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE &&
			widecol_is_widecol_server(GetForeignTable(relid)->serverid) &&
			widecol_get_table(relid)->is_view)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("\"%s\" is a widecol materialized view", rv->relname),
					 errdetail("DROP FOREIGN TABLE would leave the view's data kept on every write of its base table."),
					 errhint("Drop it with SELECT widecol.drop_materialized_view('%s').",
							 rv->relname)));
	}
}

/*
 * widecol.drop_materialized_view(view regclass) returns void: the view's
 * data and its foreign table.
 */
Datum
widecol_drop_materialized_view(PG_FUNCTION_ARGS)
{
	Oid			viewid = PG_GETARG_OID(0);
	WidecolTable *t;
	wc_status	st;
	char	   *sql;

	if (get_rel_relkind(viewid) != RELKIND_FOREIGN_TABLE ||
		!widecol_is_widecol_server(GetForeignTable(viewid)->serverid) ||
		!(t = widecol_get_table(viewid))->is_view)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a widecol materialized view", get_rel_name(viewid)),
				 errhint("Name a view made by widecol.create_materialized_view(); DROP FOREIGN TABLE and widecol.drop_table() remove tables.")));
	if (!pg_class_ownercheck(viewid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of materialized view \"%s\" to drop it", get_rel_name(viewid)),
				 errhint("Ask the owner of the view (or a superuser) to drop it.")));
	widecol_require_node();
	sql = psprintf("DROP FOREIGN TABLE %s",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(viewid)),
											  get_rel_name(viewid)));
	/* the node stops keeping the view with its engine table */
	st = wc_client_drop_table(widecol_connection(), t->table_id);
	if (st != WC_OK && st != WC_NOT_FOUND)
		widecol_report(st, "dropping the materialized view's engine table");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	matview_dropping = true;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "widecol: could not drop materialized view \"%s\"", get_rel_name(viewid));
	}
	PG_FINALLY();
	{
		matview_dropping = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}
