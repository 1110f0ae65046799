/*-------------------------------------------------------------------------
 *
 * index.c
 *		  Secondary indexes of widecol tables: widecol.create_index and
 *		  widecol.drop_index (and CREATE INDEX ... USING widecol), the
 *		  table's "indexes" option, and the
 *		  planner's choice of an index for an equality on an indexed column.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/index.c
 *
 * NOTES
 *	  An index is node-local (Cassandra's 2i): every node indexes the rows
 *	  it stores (engine/index.h).  The table lists its indexes in its
 *	  "indexes" option, a CQL map {'<index>': '<column>', ...}; the option
 *	  travels in the typed schema like every table property, so each node
 *	  (and, in a cluster, each instance's catalog) learns of it, and pg_dump
 *	  keeps it.  widecol.create_index and widecol.drop_index only rewrite
 *	  the option (ALTER FOREIGN TABLE ... OPTIONS, or ALTER TABLE ... SET for
 *	  a table USING widecol); the node builds the index when the changed
 *	  definition reaches it (backfilled from the table's data) and drops it
 *	  when the option no longer names it.
 *
 *	  The node matches values byte for byte, so only types whose equality
 *	  is byte equality can be indexed (integers, text and varchar under a
 *	  deterministic collation, uuid, boolean, date, timestamps, bytea).
 *	  For such an equality the planner reads the index instead of scanning
 *	  the table (scan mode 2, fdw_private FSP_INDEX), and the qual is not
 *	  checked again.  On a cluster the node reads the indexes of every
 *	  token range's replicas at the consistency level and returns their
 *	  reconciled rows (cluster/coordinator.h, wc_coord_index_read); a row
 *	  may have changed since its index entry, so there the qual stays.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"

#include "cql_literal.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_create_index);
PG_FUNCTION_INFO_V1(widecol_drop_index);

/* helpers */
static bool type_indexable(Oid typid);
static int	find_column(WidecolTable *t, const char *name);
static void check_indexable(WidecolTable *t, int col, const char *index);
static char *indexes_text(List *indexes);
static List *named_indexes(WidecolTable *t);
static void set_indexes_option(WidecolTable *t, List *indexes);
static char *create_index(Oid relid, const char *colname, const char *idxname,
						  bool if_not_exists);

/* Types whose SQL equality is equality of the encoded bytes. */
static bool
type_indexable(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case TEXTOID:
		case VARCHAROID:
		case UUIDOID:
		case BOOLOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case BYTEAOID:
			return true;
		default:
			return false;
	}
}

/* The column index of name in t, or -1. */
static int
find_column(WidecolTable *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (!t->cols[i].dropped && strcmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

/* Refuse an index on column col of t that the node could not keep exact. */
static void
check_indexable(WidecolTable *t, int col, const char *index)
{
	WidecolColumn *c = &t->cols[col];
	const char *rel = get_rel_name(t->relid);

	if (c->kind == WIDECOL_COL_PARTITION || c->kind == WIDECOL_COL_CLUSTERING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot index column \"%s\" of \"%s\": it is part of the primary key",
						c->name, rel),
				 errhint("Key columns need no index: restrict the partition key with = or IN, and "
						 "clustering columns within a partition.")));
	if (c->kind != WIDECOL_COL_REGULAR)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot index column \"%s\" of \"%s\": only regular columns can be indexed",
						c->name, rel),
				 errhint("Index a regular (non-key, non-static) column.")));
	if (c->is_counter || c->coll != NULL || !type_indexable(c->typid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot index column \"%s\" of \"%s\": type %s cannot be indexed",
						c->name, rel, format_type_be(c->typid)),
				 errhint("Index a column of type smallint, integer, bigint, text, varchar, uuid, "
						 "boolean, date, timestamp, timestamptz or bytea.")));
	if ((c->typid == TEXTOID || c->typid == VARCHAROID) && OidIsValid(c->collid) &&
		!get_collation_isdeterministic(c->collid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot index column \"%s\" of \"%s\": its collation is nondeterministic",
						c->name, rel),
				 errhint("The index matches values byte for byte; use a deterministic collation.")));
	if (strlen(index) == 0 || strlen(index) >= 128 || strchr(index, '\'') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid index name \"%s\"", index),
				 errhint("Use 1 to 127 bytes without single quotes.")));
}

/*
 * The indexes of t from its "indexes" option text (a CQL map of index name
 * to column name), checked: a list of WidecolIndex.
 */
List *
widecol_index_parse(WidecolTable *t, const char *text)
{
	wc_cql_doc *doc = NULL;
	wc_cql_error err;
	const wc_cql_value *it;
	List	   *out = NIL;
	ListCell   *lc;

	if (wc_cql_parse_options(text, strlen(text), &doc, &err) != WC_OK)
	{
		wc_clear_error();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid indexes option \"%s\": %s at offset %zu", text, err.msg, err.pos),
				 errhint("Manage indexes with widecol.create_index() and widecol.drop_index().")));
	}
	for (it = wc_cql_doc_root(doc)->child; it != NULL; it = it->next)
	{
		WidecolIndex *ix = palloc0(sizeof(WidecolIndex));
		int			col = find_column(t, it->text);

		if (col < 0)
		{
			char	   *name = pstrdup(it->key->text);
			char	   *colname = pstrdup(it->text);

			wc_cql_doc_free(doc);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("index \"%s\" names column \"%s\", which \"%s\" does not have",
							name, colname, get_rel_name(t->relid)),
					 errhint("Manage indexes with widecol.create_index() and widecol.drop_index().")));
		}
		ix->name = pstrdup(it->key->text);
		ix->col = col;
		out = lappend(out, ix);
	}
	wc_cql_doc_free(doc);
	foreach(lc, out)
		check_indexable(t, ((WidecolIndex *) lfirst(lc))->col, ((WidecolIndex *) lfirst(lc))->name);
	return out;
}

/* The index of column col of t, or NULL. */
WidecolIndex *
widecol_index_on(WidecolTable *t, int col)
{
	ListCell   *lc;

	foreach(lc, t->indexes)
		if (((WidecolIndex *) lfirst(lc))->col == col)
			return lfirst(lc);
	return NULL;
}

/* The option text of a list of indexes ("{'name': 'column', ...}"). */
static char *
indexes_text(List *indexes)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	foreach(lc, indexes)
	{
		WidecolIndex *ix = lfirst(lc);
		const char *col = ix->column ? ix->column : "";

		appendStringInfo(&s, "%s'%s': '", s.len > 1 ? ", " : "", ix->name);
		for (const char *p = col; *p; p++)
		{
			if (*p == '\'')
				appendStringInfoChar(&s, '\'');
			appendStringInfoChar(&s, *p);
		}
		appendStringInfoChar(&s, '\'');
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}

/* Rewrite t's "indexes" option (none left: the option goes) through ALTER. */
static void
set_indexes_option(WidecolTable *t, List *indexes)
{
	bool		foreign = get_rel_relkind(t->relid) == RELKIND_FOREIGN_TABLE;
	char	   *rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(t->relid)),
												 get_rel_name(t->relid));
	char	   *sql;

	if (indexes == NIL)
		sql = foreign ? psprintf("ALTER FOREIGN TABLE %s OPTIONS (DROP indexes)", rel)
			: psprintf("ALTER TABLE %s RESET (indexes)", rel);
	else if (foreign)
		sql = psprintf("ALTER FOREIGN TABLE %s OPTIONS (%s indexes %s)", rel,
					   t->indexes_text != NULL ? "SET" : "ADD", quote_literal_cstr(indexes_text(indexes)));
	else
		sql = psprintf("ALTER TABLE %s SET (indexes = %s)", rel,
					   quote_literal_cstr(indexes_text(indexes)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not change the indexes of \"%s\"", rel);
	SPI_finish();
}

/* The current indexes of t with their column names filled in (a new list). */
static List *
named_indexes(WidecolTable *t)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, t->indexes)
	{
		WidecolIndex *ix = palloc(sizeof(WidecolIndex));

		*ix = *(WidecolIndex *) lfirst(lc);
		ix->column = t->cols[ix->col].name;
		out = lappend(out, ix);
	}
	return out;
}

/*
 * widecol.create_index(tab regclass, col name, index_name name DEFAULT NULL)
 * returns name: add a secondary index on a regular column (default name
 * <table>_<column>_idx, as Cassandra names them); the node backfills it
 * from the table's data when the change reaches it (at commit).
 */
Datum
widecol_create_index(PG_FUNCTION_ARGS)
{
	char	   *name;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	name = create_index(PG_GETARG_OID(0), NameStr(*PG_GETARG_NAME(1)),
						PG_ARGISNULL(2) ? NULL : NameStr(*PG_GETARG_NAME(2)), false);
	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(name)));
}

/*
 * Add index idxname (NULL: <table>_<column>_idx) on column colname of
 * relid, the owner's table, to its "indexes" option; its name.  With
 * if_not_exists, an index of that name already there is a notice.
 */
static char *
create_index(Oid relid, const char *colname, const char *idxname, bool if_not_exists)
{
	WidecolTable *t;
	char	   *name;
	List	   *indexes;
	WidecolIndex *ix;
	ListCell   *lc;
	int			col;

	t = widecol_require_owned_table(relid, "create_index");
	col = find_column(t, colname);
	if (col < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of \"%s\" does not exist", colname, get_rel_name(relid)),
				 errhint("Name a regular column of the table.")));
	name = idxname == NULL ? psprintf("%s_%s_idx", get_rel_name(relid), colname)
		: pstrdup(idxname);
	check_indexable(t, col, name);
	foreach(lc, t->indexes)
	{
		WidecolIndex *other = lfirst(lc);

		if (strcmp(other->name, name) == 0 && if_not_exists)
		{
			ereport(NOTICE,
					(errmsg("index \"%s\" of \"%s\" already exists, skipping", name,
							get_rel_name(relid))));
			return name;
		}
		if (strcmp(other->name, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("index \"%s\" of \"%s\" already exists", name, get_rel_name(relid)),
					 errhint("Choose another name, or drop it first with widecol.drop_index('%s', '%s').",
							 get_rel_name(relid), name)));
		if (other->col == col)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("column \"%s\" of \"%s\" already has index \"%s\"", colname,
							get_rel_name(relid), other->name),
					 errhint("One index per column: drop it first with widecol.drop_index('%s', '%s').",
							 get_rel_name(relid), other->name)));
	}
	indexes = named_indexes(t);
	ix = palloc0(sizeof(WidecolIndex));
	ix->name = name;
	ix->col = col;
	ix->column = t->cols[col].name;
	indexes = lappend(indexes, ix);
	set_indexes_option(t, indexes);
	return name;
}

/*
 * CREATE INDEX [IF NOT EXISTS] [name] ON <widecol table> USING widecol
 * (column), run by the utility hook instead of PostgreSQL's CREATE INDEX:
 * widecol.create_index(table, column, name); true when done, false when
 * stmt is not one (another access method, not a widecol table).  No
 * PostgreSQL index is made (one could not follow last-write-wins rows);
 * the index lives in the table's "indexes" option, and widecol.drop_index
 * drops it.
 */
bool
widecol_index_statement(Oid relid, IndexStmt *stmt)
{
	IndexElem  *elem = list_length(stmt->indexParams) == 1 ? linitial(stmt->indexParams) : NULL;

	if (stmt->accessMethod == NULL || strcmp(stmt->accessMethod, "widecol") != 0)
		return false;
	if (!widecol_is_tam_table(relid) &&
		!(get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE &&
		  widecol_is_widecol_server(GetForeignTable(relid)->serverid)))
		return false;
	if (elem == NULL || elem->name == NULL || elem->expr != NULL || elem->collation != NIL ||
		elem->opclass != NIL || elem->ordering != SORTBY_DEFAULT ||
		elem->nulls_ordering != SORTBY_NULLS_DEFAULT || stmt->unique || stmt->primary ||
		stmt->whereClause != NULL || stmt->indexIncludingParams != NIL ||
		stmt->options != NIL || stmt->tableSpace != NULL || stmt->concurrent)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a widecol secondary index covers one column of \"%s\", as it is",
						get_rel_name(relid)),
				 errdetail("Expressions, several columns, UNIQUE, INCLUDE, WHERE, WITH, "
						   "TABLESPACE, CONCURRENTLY, collations, operator classes and "
						   "orderings are not supported."),
				 errhint("CREATE INDEX [name] ON %s USING widecol (<column>);",
						 get_rel_name(relid))));
	create_index(relid, elem->name, stmt->idxname, stmt->if_not_exists);
	return true;
}

/*
 * widecol.drop_index(tab regclass, index_name name) returns void: the node
 * drops the index's data when the change reaches it.
 */
Datum
widecol_drop_index(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *name = NameStr(*PG_GETARG_NAME(1));
	WidecolTable *t = widecol_require_owned_table(relid, "drop_index");
	List	   *indexes = named_indexes(t);
	ListCell   *lc;

	foreach(lc, indexes)
		if (strcmp(((WidecolIndex *) lfirst(lc))->name, name) == 0)
		{
			indexes = foreach_delete_current(indexes, lc);
			set_indexes_option(t, indexes);
			PG_RETURN_VOID();
		}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("index \"%s\" of \"%s\" does not exist", name, get_rel_name(relid)),
			 t->indexes ? errhint("The table's indexes are in its \"indexes\" option (\\d+ shows it).")
			 : errhint("The table has no index.")));
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------- planning */

/*
 * An equality "indexed column = value" among the clauses local (Exprs) of
 * a scan of t, where value needs nothing of this relation and the operator
 * is the btree equality of the column's type: its index, value and clause
 * in *ix, *value and *clause.  Returns false if there is none.
 */
bool
widecol_index_choose(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, List *local,
					 WidecolIndex **ix, Expr **value, Expr **clause)
{
	ListCell   *lc;

	if (t->indexes == NIL)
		return false;
	foreach(lc, local)
	{
		OpExpr	   *op = lfirst(lc);
		Node	   *a,
				   *b,
				   *r;
		Var		   *var;
		Oid			opfamily,
					typ;
		WidecolIndex *found;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		/* column = value or value = column; varchar is relabeled to text */
		a = linitial(op->args);
		b = lsecond(op->args);
		if (IsA(a, RelabelType))
			a = (Node *) ((RelabelType *) a)->arg;
		if (IsA(b, RelabelType))
			b = (Node *) ((RelabelType *) b)->arg;
		if (IsA(a, Var) && ((Var *) a)->varno == baserel->relid)
		{
			var = (Var *) a;
			r = lsecond(op->args);
		}
		else if (IsA(b, Var) && ((Var *) b)->varno == baserel->relid)
		{
			var = (Var *) b;
			r = linitial(op->args);
		}
		else
			continue;
		if (var->varlevelsup != 0 || var->varattno <= 0 || var->varattno > t->ncols)
			continue;
		found = widecol_index_on(t, var->varattno - 1);
		if (found == NULL || bms_is_member(baserel->relid, pull_varnos(root, r)) ||
			contain_volatile_functions(r))
			continue;
		/* the btree equality of one type, the column's (varchar compares as text) */
		typ = exprType(linitial(op->args));
		if (typ != exprType(lsecond(op->args)))
			continue;
		opfamily = get_opclass_family(GetDefaultOpClass(typ, BTREE_AM_OID));
		if (!OidIsValid(opfamily) ||
			get_opfamily_member(opfamily, typ, typ, BTEqualStrategyNumber) != op->opno)
			continue;
		if (typ != t->cols[found->col].typid &&
			!(typ == TEXTOID && t->cols[found->col].typid == VARCHAROID))
			continue;
		if (OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid))
			continue;
		*ix = found;
		*value = (Expr *) r;
		*clause = (Expr *) op;
		return true;
	}
	return false;
}
