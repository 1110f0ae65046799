/*-------------------------------------------------------------------------
 *
 * counter.c
 *		  Counter columns (widecol.counter): counter tables, UPDATE by
 *		  increments sent to the node as deltas, reading the sum.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/counter.c
 *
 * NOTES
 *	  A table whose non-key columns are all widecol.counter is a counter
 *	  table (checked when schema.c builds the table, so at CREATE FOREIGN
 *	  TABLE and CREATE TABLE ... USING widecol).  `UPDATE t SET c = c + n
 *	  WHERE <whole primary key>` is planned by direct_delete.c's
 *	  PlanDirectModify as a direct modify (for a table USING widecol: by
 *	  tam_modify.c's WidecolModify): no row is read; each partition gets
 *	  one delta cell per counter
 *	  (engine/counter.h), which the node turns into its own shard.  The
 *	  delta is the new-value expression evaluated with the counter at 0,
 *	  so `c - n` sends -n.  The writes go through modify.c's batch writer,
 *	  and so into the transaction's batch when there is one.  On a cluster
 *	  the node sends the deltas to one leader replica per partition, which
 *	  replicates its resulting shard (cluster/counter_leader.h); conn.c
 *	  reports a counter write that may or may not have been applied.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "counter.h"
#include "mutation.h"

#include "widecol.h"

static Node *zero_counter_mutator(Node *node, void *context);
static Expr *delta_expression(Expr *e, Index rti, AttrNumber attno);
static void refuse_ttl_or_timestamp(WidecolTable *t);

/* The OID of widecol.counter, InvalidOid if the extension's schema lacks it. */
Oid
widecol_counter_typid(void)
{
	Oid			nsp = get_namespace_oid("widecol", true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("counter"),
						   ObjectIdGetDatum(nsp));
}

/*
 * Mark the counter columns of t and check the counter-table rules: counters
 * are regular columns, and a table with a counter has only counters
 * besides its primary key.
 */
void
widecol_counter_check_table(WidecolTable *t)
{
	Oid			counter = widecol_counter_typid();
	int			ncounter = 0;
	const char *counter_name = NULL,
			   *other_name = NULL;

	if (!OidIsValid(counter))
		return;
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		if (c->dropped)
			continue;
		if (c->typid == counter)
		{
			c->is_counter = true;
			ncounter++;
			counter_name = c->name;
			if (c->kind == WIDECOL_COL_STATIC)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("counter column \"%s\" cannot be static", c->name),
						 errhint("Drop the static option: counters are regular columns of their row.")));
		}
		else if (c->kind == WIDECOL_COL_REGULAR || c->kind == WIDECOL_COL_STATIC)
			other_name = c->name;
	}
	if (ncounter == 0)
		return;
	if (other_name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("table \"%s\" mixes counter column \"%s\" with non-counter column \"%s\"",
						t->table_name, counter_name, other_name),
				 errhint("As in CQL, a counter table has only counters besides its primary key: "
						 "put \"%s\" in a table of its own.", other_name)));
	if (t->default_ttl > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("counter table \"%s\" cannot have a default_time_to_live", t->table_name),
				 errhint("Counters never expire: drop the default_time_to_live option.")));
	t->counter_table = true;
}

/* Refuse a write that is not an increment (INSERT, COPY, SET c = value). */
void
widecol_counter_refuse_write(WidecolTable *t, CmdType op)
{
	if (!t->counter_table || op == CMD_DELETE)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s of counter table \"%s\" is not possible", op == CMD_INSERT ? "INSERT" : "this UPDATE",
					get_rel_name(t->relid)),
			 op == CMD_INSERT ?
			 errdetail("A counter row comes into being with its first increment.") : 0,
			 errhint("counters only change by increments: SET c = c + n (or c - n) "
					 "WHERE every primary-key column is given with =.")));
}

/*
 * The value of a counter cell as a bigint Datum: the node sends a counter
 * as its value (docs/protocol.md, READ), 8 bytes little-endian.
 */
Datum
widecol_counter_datum(WidecolTable *t, const wc_cell *c)
{
	if (c->len != WC_COUNTER_DELTA_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("widecol counter of \"%s\" has %zu bytes, not 8", get_rel_name(t->relid), c->len),
				 errhint("The column may have been redefined as a counter over data of another type; "
						 "recreate the table with its original column types.")));
	return Int64GetDatum(wc_counter_delta_decode(c->value));
}

/* ------------------------------------------------------------ planning */

typedef struct ZeroContext
{
	Index		rti;
	AttrNumber	attno;
} ZeroContext;

static Node *
zero_counter_mutator(Node *node, void *context)
{
	ZeroContext *z = context;

	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varno == (int) z->rti &&
		((Var *) node)->varattno == z->attno && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *v = (Var *) node;

		return (Node *) makeConst(v->vartype, v->vartypmod, v->varcollid, sizeof(int64),
								  Int64GetDatum(0), false, FLOAT8PASSBYVAL);
	}
	return expression_tree_mutator(node, zero_counter_mutator, context);
}

/*
 * The delta of a new-value expression "c + n", "n + c" or "c - n" (n free
 * of columns and subqueries): the expression with c replaced by 0.  NULL
 * when e has another shape.
 */
static Expr *
delta_expression(Expr *e, Index rti, AttrNumber attno)
{
	Expr	   *core = widecol_strip_coercions(e);
	OpExpr	   *op;
	char	   *name;
	Expr	   *a,
			   *b;
	ZeroContext z = {rti, attno};
	Expr	   *out;

	if (!IsA(core, OpExpr) || list_length(((OpExpr *) core)->args) != 2)
		return NULL;
	op = (OpExpr *) core;
	if (op->opresulttype != INT8OID)
		return NULL;
	name = get_opname(op->opno);
	a = linitial(op->args);
	b = lsecond(op->args);
	if (name == NULL || (strcmp(name, "+") != 0 && strcmp(name, "-") != 0))
		return NULL;
	/* c + n and c - n, or n + c */
	if (!(widecol_is_column(a, rti, attno) && !contain_var_clause((Node *) b)) &&
		!(strcmp(name, "+") == 0 && widecol_is_column(b, rti, attno) &&
		  !contain_var_clause((Node *) a)))
		return NULL;
	if (contain_subplans((Node *) e))
		return NULL;
	out = (Expr *) zero_counter_mutator((Node *) copyObject(e), &z);
	fix_opfuncids((Node *) out);
	return out;
}

/*
 * The deltas of `UPDATE <counter table> SET c = c + n ...` whose new-value
 * expressions are exprs (of the columns attnos, of range table entry rti):
 * a List of (attno, delta expression) pairs, or NIL when the UPDATE sets a
 * column that is no counter (modify.c then refuses it with its own
 * message).  Errors when the UPDATE is not an increment, or when its scan
 * does not name the rows by the whole primary key (names_rows false).
 */
List *
widecol_counter_deltas(List *exprs, List *attnos, Index rti, bool names_rows, WidecolTable *t)
{
	List	   *deltas = NIL;
	ListCell   *lc,
			   *lc2;

	forboth(lc, exprs, lc2, attnos)
	{
		AttrNumber	attno = lfirst_int(lc2);

		if (attno <= 0 || attno > t->ncols || !t->cols[attno - 1].is_counter)
			return NIL;
	}
	forboth(lc, exprs, lc2, attnos)
	{
		AttrNumber	attno = lfirst_int(lc2);
		Expr	   *d = delta_expression(lfirst(lc), rti, attno);

		if (d == NULL)
			widecol_counter_refuse_write(t, CMD_UPDATE);
		deltas = lappend(deltas, list_make2(makeInteger(attno), d));
	}
	if (!names_rows)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("UPDATE of counter table \"%s\" needs the whole primary key", get_rel_name(t->relid)),
				 errdetail("A counter is changed without reading it, one row at a time."),
				 errhint("Give every primary-key column with = (IN for partition-key columns), "
						 "and no other condition.")));
	return deltas;
}

/*
 * Plan `UPDATE <counter table> SET c = c + n ...` as a direct modify of
 * fscan (the ForeignScan plan.c made): returns false when the UPDATE sets a
 * column that is no counter; errors as widecol_counter_deltas does.  On
 * success, appends to fscan->fdw_private the Integer 1 and the List of
 * (attno, delta expression) pairs.
 */
bool
widecol_counter_plan_update(PlannerInfo *root, ModifyTable *plan, Index rti,
							ForeignScan *fscan, WidecolTable *t)
{
	List	   *tlist,
			   *attnos,
			   *exprs = NIL,
			   *deltas;
	ListCell   *lc;

	get_translated_update_targetlist(root, rti, &tlist, &attnos);
	foreach(lc, tlist)
		exprs = lappend(exprs, lfirst_node(TargetEntry, lc)->expr);
	deltas = widecol_counter_deltas(exprs, attnos, rti,
									widecol_direct_update_names_rows(fscan->fdw_private,
																	 fscan->scan.plan.qual, t),
									t);
	if (deltas == NIL)
		return false;
	fscan->operation = CMD_UPDATE;
	fscan->resultRelation = rti;
	fscan->fdw_private = lappend(fscan->fdw_private, makeInteger(1));
	fscan->fdw_private = lappend(fscan->fdw_private, deltas);
	return true;
}

/* ------------------------------------------------------------ execution */

typedef struct CounterDeltas
{
	uint32	   *cols;			/* cell ids, ascending */
	int64	   *vals;
	int			n;
	int64		ts;
} CounterDeltas;

/* One delta cell per counter (widecol_row_fill). */
static void
add_deltas(wc_rowb *rb, StringInfo pk, void *arg)
{
	CounterDeltas *d = arg;

	for (int i = 0; i < d->n; i++)
	{
		wc_cell		c;
		uint8		v[WC_COUNTER_DELTA_LEN];

		memset(&c, 0, sizeof(c));
		wc_counter_delta_encode(v, d->vals[i]);
		c.column = d->cols[i];
		c.flags = WC_CELLF_COUNTER_DELTA;
		c.ts = d->ts;
		c.value = v;
		c.len = sizeof(v);
		wc_rowb_cell(rb, &c);
	}
}

/*
 * Refuse an increment under widecol.ttl or widecol.write_timestamp, as CQL
 * refuses USING TTL and USING TIMESTAMP on counter updates: counters never
 * expire, and an increment dated by the user could fall behind a deletion
 * and be lost.  Checked when the UPDATE runs, as the settings may change
 * after it is planned.
 */
static void
refuse_ttl_or_timestamp(WidecolTable *t)
{
	if (widecol_ttl > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("counter update of table \"%s\" cannot have a TTL (widecol.ttl = %d)",
						get_rel_name(t->relid), widecol_ttl),
				 errhint("Counters never expire: RESET widecol.ttl (or set it to 0) for counter updates.")));
	if (widecol_write_timestamp && widecol_write_timestamp[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("counter update of table \"%s\" cannot have a write timestamp (widecol.write_timestamp = %s)",
						get_rel_name(t->relid), widecol_write_timestamp),
				 errhint("Counter updates take the current time: RESET widecol.write_timestamp for them.")));
}

/*
 * Send one delta cell per counter of the UPDATE (deltas as made by
 * widecol_counter_deltas) to each partition of the scan ss of executor
 * node ps (the row named by the clustering key), without reading.  Adds
 * the rows to es_processed: a missing row is created, so UPDATE reports it.
 */
void
widecol_counter_update(WidecolScanState *ss, PlanState *ps, List *deltas)
{
	WidecolTable *t = ss->t;
	ExprContext *econtext = ps->ps_ExprContext;
	int			n = list_length(deltas);
	uint32	   *cols = palloc(sizeof(uint32) * Max(n, 1));
	int64	   *vals = palloc(sizeof(int64) * Max(n, 1));
	int64		ts;
	CounterDeltas d;
	ListCell   *lc;
	int			k = 0;

	refuse_ttl_or_timestamp(t);
	ts = widecol_txn_write_timestamp();

	/* the deltas, in ascending cell id (the row blob's order) */
	foreach(lc, deltas)
	{
		List	   *pair = lfirst(lc);
		AttrNumber	attno = intVal(linitial(pair));
		ExprState  *es = ExecInitExpr(lsecond(pair), NULL);
		bool		isnull;
		Datum		d = ExecEvalExprSwitchContext(es, econtext, &isnull);
		int			j;

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the increment of counter \"%s\" is NULL", t->cols[attno - 1].name),
					 errhint("Add a number: SET c = c + n with n not NULL.")));
		for (j = k; j > 0 && cols[j - 1] > t->cols[attno - 1].cell_id; j--)
		{
			cols[j] = cols[j - 1];
			vals[j] = vals[j - 1];
		}
		if (j > 0 && cols[j - 1] == t->cols[attno - 1].cell_id)
			vals[j - 1] += DatumGetInt64(d);	/* SET c = c + 1, c = c + 2 is refused by the parser */
		else
		{
			cols[j] = t->cols[attno - 1].cell_id;
			vals[j] = DatumGetInt64(d);
			k++;
		}
	}
	d.cols = cols;
	d.vals = vals;
	d.n = k;
	d.ts = ts;
	widecol_txn_counter_deltas();
	widecol_direct_update_rows(ss, ps, add_deltas, &d, "encoding a counter update");
}

void
widecol_counter_explain(WidecolScanState *ss, ExplainState *es)
{
	ExplainPropertyText("Widecol Counter Update", ss->desc, es);
	ExplainPropertyText("Writes", "counter deltas", es);
	ExplainPropertyText("Reads Before Write", "none", es);
	ExplainPropertyText("Consistency", widecol_consistency_name(widecol_consistency), es);
}
