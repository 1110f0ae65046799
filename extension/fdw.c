/*-------------------------------------------------------------------------
 *
 * fdw.c
 *		  The widecol foreign data wrapper: planning with key pushdown,
 *		  scans, EXPLAIN and ANALYZE (the option validator is in
 *		  validate.c, IMPORT FOREIGN SCHEMA in import.c).
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/fdw.c
 *
 * NOTES
 *	  Planning classifies each restriction of a widecol table:
 *	   - "=" or "= ANY(array)" / IN on every partition-key column restricts
 *		 the scan to those partitions (a Cartesian product for several IN
 *		 lists);
 *	   - "=" on a prefix of the clustering columns, then one range (<, <=,
 *		 >, >=, BETWEEN) on the next one, becomes the clustering slice;
 *	   - everything else is evaluated locally.
 *	  The partition key may also come from the outer side of a join
 *	  (a parameterized path), so nested loops and LATERAL read one
 *	  partition per outer row.  Inside one partition rows come in
 *	  clustering order, so an ORDER BY in that order or its exact reverse
 *	  needs no Sort, and a LIMIT over such a scan is pushed to the node.
 *	  A scan of the whole table with restrictions is refused (as Cassandra
 *	  does without ALLOW FILTERING) unless widecol.allow_filtering is on.
 *
 *	  Key values are encoded with keycodec.c; bounds of text ranges are
 *	  pushed only under the "C" collation, whose order is byte order.
 *
 *	  fdw_private of the plan is a list (see the FdwScanPrivate indexes);
 *	  fdw_exprs holds, in order, the expressions of the partition-key
 *	  values, the clustering equalities, and the lower and upper bounds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/time.h>

#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/ruleutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"
#include "utils/typcache.h"

#include "client.h"
#include "consistency.h"
#include "table_options.h"
#include "compaction_options.h"
#include "engine.h"
#include "mutation.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_fdw_handler);

/* A pushed-down restriction on one key column. */
typedef enum KeyOp
{
	KOP_EQ,
	KOP_IN,
	KOP_LT,
	KOP_LE,
	KOP_GT,
	KOP_GE
} KeyOp;

typedef struct KeyQual
{
	int			col;			/* column index */
	KeyOp		op;
	Expr	   *value;			/* the other side (for IN: the array) */
	RestrictInfo *rinfo;
	Relids		outer;			/* other rels the value needs (join clause) */
} KeyQual;

/* Per-relation planning state (baserel->fdw_private). */
typedef struct WidecolRelInfo
{
	WidecolTable *t;
	List	   *restrictions;	/* KeyQuals from baserestrictinfo */
	List	   *joinquals;		/* KeyQuals on partition-key columns from joininfo */
	Bitmapset  *attrs_used;		/* attnums the query needs */
	double		table_rows;
	double		partitions;
} WidecolRelInfo;

/* Plan choices, computed per path. */
typedef struct ScanChoice
{
	KeyQual   **pkq;			/* per partition-key column: EQ or IN, or NULL */
	int			nck_eq;			/* clustering equalities (prefix) */
	KeyQual   **ckq;			/* their quals */
	KeyQual    *lower;			/* range on clustering column nck_eq */
	KeyQual    *upper;
	bool		partition;		/* every partition-key column restricted */
	bool		single;			/* ... to one value each */
	List	   *pushed;			/* RestrictInfos handled by the node */
	Relids		required_outer;
} ScanChoice;

/* indexes into ForeignScan.fdw_private */
enum FdwScanPrivate
{
	FSP_MODE,					/* Integer: 0 full scan, 1 partitions */
	FSP_PK_IN,					/* List of Integer: per pk column, 1 if IN */
	FSP_NCK_EQ,					/* Integer */
	FSP_BOUNDS,					/* List of Integer: has_lower, lower_incl, has_upper, upper_incl */
	FSP_REVERSE,				/* Integer */
	FSP_LIMIT,					/* Integer (-1 none) */
	FSP_ATTRS,					/* List of Integer: attnums needed */
	FSP_DESC,					/* String: description for EXPLAIN */
	FSP_RELID,					/* Oid as Integer */
	FSP_DIRECT					/* present for a direct DELETE */
};

typedef struct WidecolScanState
{
	WidecolTable *t;
	bool		partition_mode;
	int			npk;
	bool	   *pk_in;
	int			nck_eq;
	bool		has_lower,
				lower_incl,
				has_upper,
				upper_incl;
	bool		reverse;
	int64		limit;
	List	   *value_states;	/* ExprStates in fdw_exprs order */
	uint32	   *columns;		/* cell ids to fetch, ascending */
	int			ncolumns;
	bool		need_static;
	bool		need_meta;		/* writetime/ttl columns wanted */
	bool		*wanted;		/* per column index */
	int		   *cell_map_id;	/* sorted cell ids */
	int		   *cell_map_col;	/* column index for each */
	int			ncell_map;
	char	   *desc;

	/* runtime */
	MemoryContext batch_cxt;
	bool		started;
	List	   *partitions;		/* encoded partition keys (StringInfo) */
	ListCell   *cur_partition;
	StringInfoData lower_key,
				upper_key;
	wc_client_page *page;
	int			row;
	uint8	   *paging_state;
	size_t		paging_state_len;
	int64		returned;
	/* static row of the current partition */
	StringInfoData static_pk;
	Datum	   *static_values;
	bool	   *static_nulls;
	bool		have_static;
	bool		static_pending;	/* static row seen, no clustering row emitted yet */
	/* EXPLAIN ANALYZE counters */
	wc_read_stats stats;
	int64		requests;
	bool		tombstone_warned;
} WidecolScanState;

/* callbacks */
static void widecolGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static void widecolGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static ForeignScan *widecolGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										  Oid foreigntableid, ForeignPath *best_path,
										  List *tlist, List *scan_clauses, Plan *outer_plan);
static void widecolBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *widecolIterateForeignScan(ForeignScanState *node);
static void widecolReScanForeignScan(ForeignScanState *node);
static void widecolEndForeignScan(ForeignScanState *node);
static void widecolExplainForeignScan(ForeignScanState *node, ExplainState *es);
static bool widecolAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
									   BlockNumber *totalpages);
static bool widecolPlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
									int subplan_index);
static void widecolBeginDirectModify(ForeignScanState *node, int eflags);
static TupleTableSlot *widecolIterateDirectModify(ForeignScanState *node);
static void widecolEndDirectModify(ForeignScanState *node);
static void widecolExplainDirectModify(ForeignScanState *node, ExplainState *es);

/* helpers */
static KeyQual *classify_clause(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
								RestrictInfo *rinfo, bool join);
static void choose_scan(WidecolRelInfo *ri, ScanChoice *sc, bool use_join);
static List *ordered_pathkeys(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
							  ScanChoice *sc, bool *reverse);
static char *describe_choice(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
							 ScanChoice *sc, bool reverse, int64 limit);
static void fetch_page(WidecolScanState *ss);
static void check_tombstones(WidecolScanState *ss);
static bool next_partition(WidecolScanState *ss);
static void build_partitions(WidecolScanState *ss, ExprContext *econtext);
static int	encode_value_as(StringInfo buf, WidecolColumn *c, Datum v, Oid vtype, bool desc);
static void fill_row(WidecolScanState *ss, TupleTableSlot *slot, const wc_result_row *r,
					 bool static_only);
static int	acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
								int targrows, double *totalrows, double *totaldeadrows);

/* ---------------------------------------------------------------- planning */

/* Strip binary-compatible relabels. */
static Expr *
strip_relabel(Expr *e)
{
	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return e;
}

/* Is the value type one we can convert to the key column's type? */
static bool
value_type_ok(Oid coltype, Oid valtype)
{
	if (coltype == valtype)
		return true;
	if ((coltype == INT8OID || coltype == INT4OID || coltype == INT2OID) &&
		(valtype == INT8OID || valtype == INT4OID || valtype == INT2OID))
		return true;
	/* float4 widens exactly to float8; the other way would round */
	if (coltype == FLOAT8OID && valtype == FLOAT4OID)
		return true;
	if ((coltype == TEXTOID || coltype == VARCHAROID) &&
		(valtype == TEXTOID || valtype == VARCHAROID || valtype == UNKNOWNOID))
		return true;
	return false;
}

/*
 * Recognize "keycol op value" (either side), "keycol = ANY(array)".  The
 * value must not reference this relation nor be volatile.
 */
static KeyQual *
classify_clause(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, RestrictInfo *rinfo,
				bool join)
{
	Expr	   *clause = rinfo->clause;
	Var		   *var = NULL;
	Expr	   *value = NULL;
	Oid			opno;
	bool		commuted = false;
	bool		is_in = false;
	int			ci;
	WidecolColumn *c;
	TypeCacheEntry *tce;
	int			strategy;
	Oid			lefttype,
				righttype;
	KeyQual    *kq;
	Oid			inputcollid;

	/* "boolkey" and "NOT boolkey" are how the planner writes boolkey = true/false */
	{
		Expr	   *e = clause;
		bool		negated = false;

		if (is_notclause((Node *) e))
		{
			e = get_notclausearg(e);
			negated = true;
		}
		e = strip_relabel(e);
		if (IsA(e, Var) && ((Var *) e)->varno == baserel->relid && ((Var *) e)->varlevelsup == 0 &&
			((Var *) e)->varattno > 0 && ((Var *) e)->varattno <= t->ncols &&
			((Var *) e)->vartype == BOOLOID)
		{
			ci = ((Var *) e)->varattno - 1;
			if (t->cols[ci].kind != WIDECOL_COL_PARTITION &&
				t->cols[ci].kind != WIDECOL_COL_CLUSTERING)
				return NULL;
			kq = palloc0(sizeof(KeyQual));
			kq->col = ci;
			kq->op = KOP_EQ;
			kq->value = (Expr *) makeBoolConst(!negated, false);
			kq->rinfo = rinfo;
			return kq;
		}
	}

	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Expr	   *l = strip_relabel(linitial(op->args));
		Expr	   *r = strip_relabel(lsecond(op->args));

		opno = op->opno;
		inputcollid = op->inputcollid;
		if (IsA(l, Var) && ((Var *) l)->varno == baserel->relid && ((Var *) l)->varlevelsup == 0)
		{
			var = (Var *) l;
			value = lsecond(op->args);
		}
		else if (IsA(r, Var) && ((Var *) r)->varno == baserel->relid && ((Var *) r)->varlevelsup == 0)
		{
			var = (Var *) r;
			value = linitial(op->args);
			commuted = true;
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;
		Expr	   *l = strip_relabel(linitial(saop->args));

		if (!saop->useOr || !IsA(l, Var) || ((Var *) l)->varno != baserel->relid)
			return NULL;
		var = (Var *) l;
		value = lsecond(saop->args);
		opno = saop->opno;
		inputcollid = saop->inputcollid;
		is_in = true;
	}
	if (var == NULL || var->varattno <= 0 || var->varattno > t->ncols)
		return NULL;
	ci = var->varattno - 1;
	c = &t->cols[ci];
	if (c->kind != WIDECOL_COL_PARTITION && c->kind != WIDECOL_COL_CLUSTERING)
		return NULL;
	if (bms_is_member(baserel->relid, pull_varnos(root, (Node *) value)) ||
		contain_volatile_functions((Node *) value))
		return NULL;
	if (!join && !bms_is_empty(pull_varnos(root, (Node *) value)))
		return NULL;
	tce = lookup_type_cache(c->typid, TYPECACHE_BTREE_OPFAMILY);
	if (!OidIsValid(tce->btree_opf) || !op_in_opfamily(opno, tce->btree_opf))
		return NULL;			/* LIKE, regex, ...: evaluated locally */
	get_op_opfamily_properties(opno, tce->btree_opf, false, &strategy, &lefttype, &righttype);
	{
		Oid			vtype = commuted ? lefttype : righttype;
		Oid			valtype = exprType((Node *) value);

		if (is_in)
			valtype = get_element_type(valtype);
		if (!value_type_ok(c->typid, vtype) || !value_type_ok(c->typid, valtype))
			return NULL;
	}
	if (commuted)
		strategy = BTCommuteStrategyNumber(strategy);
	kq = palloc0(sizeof(KeyQual));
	kq->col = ci;
	kq->value = value;
	kq->rinfo = rinfo;
	kq->outer = pull_varnos(root, (Node *) value);
	switch (strategy)
	{
		case BTEqualStrategyNumber:
			kq->op = is_in ? KOP_IN : KOP_EQ;
			break;
		case BTLessStrategyNumber:
			kq->op = KOP_LT;
			break;
		case BTLessEqualStrategyNumber:
			kq->op = KOP_LE;
			break;
		case BTGreaterStrategyNumber:
			kq->op = KOP_GT;
			break;
		case BTGreaterEqualStrategyNumber:
			kq->op = KOP_GE;
			break;
		default:
			return NULL;
	}
	if (is_in && kq->op != KOP_IN)
		return NULL;
	/* ranges of collatable types only in byte order ("C") */
	if (kq->op != KOP_EQ && kq->op != KOP_IN && OidIsValid(inputcollid) &&
		!lc_collate_is_c(inputcollid))
		return NULL;
	/* equality on text needs a deterministic collation (byte equality) */
	if ((kq->op == KOP_EQ || kq->op == KOP_IN) && OidIsValid(inputcollid) &&
		!get_collation_isdeterministic(inputcollid))
		return NULL;
	return kq;
}

/* generate_implied_equalities_for_column callback: is em our column? */
typedef struct EcColumnArg
{
	Index		relid;
	AttrNumber	attnum;
} EcColumnArg;

static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	EcColumnArg *a = arg;
	Expr	   *e = strip_relabel(em->em_expr);

	return IsA(e, Var) && ((Var *) e)->varno == a->relid &&
		((Var *) e)->varattno == a->attnum && ((Var *) e)->varlevelsup == 0;
}

static void
widecolGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	WidecolRelInfo *ri = palloc0(sizeof(WidecolRelInfo));
	ListCell   *lc;
	ScanChoice	sc;
	double		rows;

	ri->t = widecol_get_table(foreigntableid);
	foreach(lc, baserel->baserestrictinfo)
	{
		KeyQual    *kq = classify_clause(root, baserel, ri->t, lfirst(lc), false);

		if (kq)
			ri->restrictions = lappend(ri->restrictions, kq);
	}
	foreach(lc, baserel->joininfo)
	{
		KeyQual    *kq = classify_clause(root, baserel, ri->t, lfirst(lc), true);

		if (kq && kq->op == KOP_EQ && ri->t->cols[kq->col].kind == WIDECOL_COL_PARTITION)
			ri->joinquals = lappend(ri->joinquals, kq);
	}
	/* equality joins on partition-key columns live in equivalence classes */
	if (baserel->has_eclass_joins)
	{
		for (int i = 0; i < ri->t->npk; i++)
		{
			EcColumnArg arg;
			List	   *clauses;
			ListCell   *lc2;

			arg.relid = baserel->relid;
			arg.attnum = ri->t->cols[ri->t->pk[i]].attnum;
			clauses = generate_implied_equalities_for_column(root, baserel, ec_member_is_column,
															 &arg, baserel->lateral_referencers);
			foreach(lc2, clauses)
			{
				RestrictInfo *rinfo = lfirst(lc2);
				KeyQual    *kq;

				if (!join_clause_is_movable_to(rinfo, baserel))
					continue;
				kq = classify_clause(root, baserel, ri->t, rinfo, true);
				if (kq && kq->op == KOP_EQ && ri->t->cols[kq->col].kind == WIDECOL_COL_PARTITION)
					ri->joinquals = lappend(ri->joinquals, kq);
			}
		}
	}
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &ri->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, baserel->relid, &ri->attrs_used);

	/* size: ANALYZE's numbers if any, else a guess */
	ri->table_rows = baserel->tuples > 0 ? baserel->tuples : 1000.0;
	ri->partitions = Max(1.0, ri->table_rows / 100.0);
	if (baserel->pages > 0 && baserel->tuples > 0)
		ri->partitions = Max(1.0, baserel->tuples / Max(1.0, (double) baserel->pages));
	baserel->fdw_private = ri;

	choose_scan(ri, &sc, false);
	rows = ri->table_rows;
	if (sc.partition)
		rows = rows / ri->partitions;
	rows *= clauselist_selectivity(root, baserel->baserestrictinfo, 0, JOIN_INNER, NULL) /
		Max(clauselist_selectivity(root, sc.pushed, 0, JOIN_INNER, NULL), 1e-10);
	if (sc.partition && sc.pushed)
		rows = Min(rows, ri->table_rows / ri->partitions);
	baserel->rows = clamp_row_est(rows);
	baserel->reltarget->width = Max(baserel->reltarget->width, 8);
}

/*
 * Choose the pushed restrictions: partition key from restrictions (and,
 * with use_join, from join clauses), then the clustering slice.
 */
static void
choose_scan(WidecolRelInfo *ri, ScanChoice *sc, bool use_join)
{
	WidecolTable *t = ri->t;
	ListCell   *lc;
	int			i;

	memset(sc, 0, sizeof(*sc));
	sc->pkq = palloc0(sizeof(KeyQual *) * t->npk);
	sc->ckq = palloc0(sizeof(KeyQual *) * Max(t->nck, 1));
	foreach(lc, ri->restrictions)
	{
		KeyQual    *kq = lfirst(lc);
		WidecolColumn *c = &t->cols[kq->col];

		if (c->kind == WIDECOL_COL_PARTITION && (kq->op == KOP_EQ || kq->op == KOP_IN))
		{
			KeyQual    *old = sc->pkq[c->key_pos];

			if (old == NULL || (old->op == KOP_IN && kq->op == KOP_EQ))
				sc->pkq[c->key_pos] = kq;
		}
	}
	if (use_join)
	{
		foreach(lc, ri->joinquals)
		{
			KeyQual    *kq = lfirst(lc);
			WidecolColumn *c = &t->cols[kq->col];

			if (sc->pkq[c->key_pos] == NULL || sc->pkq[c->key_pos]->op == KOP_IN)
				sc->pkq[c->key_pos] = kq;
		}
	}
	sc->partition = true;
	sc->single = true;
	for (i = 0; i < t->npk; i++)
	{
		if (sc->pkq[i] == NULL)
			sc->partition = false;
		else if (sc->pkq[i]->op == KOP_IN)
			sc->single = false;
	}
	if (!sc->partition)
	{
		sc->single = false;
		return;
	}
	for (i = 0; i < t->npk; i++)
	{
		sc->pushed = lappend(sc->pushed, sc->pkq[i]->rinfo);
		sc->required_outer = bms_union(sc->required_outer, sc->pkq[i]->outer);
	}
	/* clustering: equality prefix, then one range */
	for (i = 0; i < t->nck; i++)
	{
		KeyQual    *eq = NULL;

		foreach(lc, ri->restrictions)
		{
			KeyQual    *kq = lfirst(lc);

			if (kq->col == t->ck[i] && kq->op == KOP_EQ)
				eq = kq;
		}
		if (eq == NULL)
			break;
		sc->ckq[i] = eq;
		sc->pushed = lappend(sc->pushed, eq->rinfo);
	}
	sc->nck_eq = i;
	if (i < t->nck)
	{
		foreach(lc, ri->restrictions)
		{
			KeyQual    *kq = lfirst(lc);

			if (kq->col != t->ck[i])
				continue;
			if ((kq->op == KOP_GT || kq->op == KOP_GE) && sc->lower == NULL)
				sc->lower = kq;
			else if ((kq->op == KOP_LT || kq->op == KOP_LE) && sc->upper == NULL)
				sc->upper = kq;
		}
		if (sc->lower)
			sc->pushed = lappend(sc->pushed, sc->lower->rinfo);
		if (sc->upper)
			sc->pushed = lappend(sc->pushed, sc->upper->rinfo);
	}
}

/*
 * If the query's ORDER BY follows the clustering order (or its reverse)
 * after the clustering columns fixed by equality, return those pathkeys.
 */
static List *
ordered_pathkeys(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, ScanChoice *sc,
				 bool *reverse)
{
	ListCell   *lc;
	int			next = sc->nck_eq;
	int			dir = 0;		/* 1 forward, -1 reverse */

	*reverse = false;
	if (root->query_pathkeys == NIL || !sc->single || t->nck == 0)
		return NIL;
	foreach(lc, root->query_pathkeys)
	{
		PathKey    *pk = lfirst(lc);
		EquivalenceClass *ec = pk->pk_eclass;
		ListCell   *lc2;
		int			found = -1;

		if (ec->ec_has_volatile)
			return NIL;
		foreach(lc2, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(lc2);
			Expr	   *e = strip_relabel(em->em_expr);

			if (IsA(e, Var) && ((Var *) e)->varno == baserel->relid &&
				((Var *) e)->varattno > 0)
			{
				int			ci = ((Var *) e)->varattno - 1;

				if (t->cols[ci].kind == WIDECOL_COL_CLUSTERING)
					found = t->cols[ci].key_pos;
			}
		}
		if (found < 0)
			return NIL;
		/* a column fixed by equality may appear anywhere */
		if (found < sc->nck_eq)
			continue;
		if (found != next)
			return NIL;
		{
			WidecolColumn *c = &t->cols[t->ck[found]];
			TypeCacheEntry *tce = lookup_type_cache(c->typid, TYPECACHE_BTREE_OPFAMILY);
			bool		asc = pk->pk_strategy == BTLessStrategyNumber;
			int			d = (asc != c->descending) ? 1 : -1;

			if (pk->pk_opfamily != tce->btree_opf)
				return NIL;
			if (OidIsValid(ec->ec_collation) && !lc_collate_is_c(ec->ec_collation))
				return NIL;
			if (dir != 0 && d != dir)
				return NIL;
			dir = d;
		}
		next++;
	}
	*reverse = dir < 0;
	return root->query_pathkeys;
}

static void
widecolGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	WidecolRelInfo *ri = baserel->fdw_private;
	ScanChoice	sc;
	Cost		startup = 1.0,	/* one request to the node */
				total;
	bool		reverse = false;
	List	   *pathkeys;

	/*
	 * Costs: a request to the node is about one unit (a page fetch), each
	 * row costs cpu_tuple_cost, and a full scan pays a request per page of
	 * rows and a filter per row.
	 */
	choose_scan(ri, &sc, false);
	if (sc.partition)
		total = startup + baserel->rows * cpu_tuple_cost;
	else
		total = startup + ri->table_rows * (cpu_tuple_cost + cpu_operator_cost) +
			ri->table_rows / Max(1, widecol_fetch_size);
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows,
													   startup, total, NIL, NULL, NULL,
													   list_make1(makeInteger(0))));
	pathkeys = ordered_pathkeys(root, baserel, ri->t, &sc, &reverse);
	if (pathkeys != NIL)
		add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows,
														   startup, total, pathkeys, NULL, NULL,
														   list_make1(makeInteger(reverse ? 2 : 1))));

	/* the partition key from the outer side of a join */
	if (!sc.partition && ri->joinquals != NIL)
	{
		ScanChoice	jsc;

		choose_scan(ri, &jsc, true);
		if (jsc.partition && !bms_is_empty(jsc.required_outer))
		{
			ParamPathInfo *ppi = get_baserel_parampathinfo(root, baserel, jsc.required_outer);
			double		rows = Max(1.0, ri->table_rows / ri->partitions);
			ForeignPath *fp;

			fp = create_foreignscan_path(root, baserel, NULL, rows, startup,
										 startup + rows * cpu_tuple_cost, NIL,
										 jsc.required_outer, NULL,
										 list_make1(makeInteger(3)));
			fp->path.rows = Min(ppi->ppi_rows, rows);
			add_path(baserel, (Path *) fp);
		}
	}
}

static void
append_value_expr(List **exprs, KeyQual *kq)
{
	*exprs = lappend(*exprs, kq->value);
}

static ForeignScan *
widecolGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					  ForeignPath *best_path, List *tlist, List *scan_clauses, Plan *outer_plan)
{
	WidecolRelInfo *ri = baserel->fdw_private;
	WidecolTable *t = ri->t;
	int			kind = intVal(linitial(best_path->fdw_private));
	bool		use_join = kind == 3;
	bool		reverse = kind == 2;
	ScanChoice	sc;
	List	   *local = NIL;
	List	   *exprs = NIL;
	List	   *pk_in = NIL;
	List	   *attrs = NIL;
	List	   *priv;
	ListCell   *lc;
	int64		limit = -1;
	int			i;

	choose_scan(ri, &sc, use_join);

	/* keep the clauses the node does not handle */
	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst(lc);

		bool		pushed = false;
		ListCell   *lc2;

		if (rinfo->pseudoconstant)
			continue;
		foreach(lc2, sc.pushed)
			if (lfirst(lc2) == rinfo ||
				equal(((RestrictInfo *) lfirst(lc2))->clause, rinfo->clause))
				pushed = true;
		/* the same join equality in its other form (from the equivalence class) */
		if (!pushed && use_join && sc.partition)
		{
			KeyQual    *kq = classify_clause(root, baserel, t, rinfo, true);

			if (kq && kq->op == KOP_EQ && t->cols[kq->col].kind == WIDECOL_COL_PARTITION &&
				!bms_is_empty(sc.pkq[t->cols[kq->col].key_pos]->outer) &&
				equal(kq->value, sc.pkq[t->cols[kq->col].key_pos]->value))
				pushed = true;
		}
		if (pushed)
			continue;
		local = lappend(local, rinfo->clause);
	}
	if (!sc.partition && local != NIL && !widecol_allow_filtering)
	{
		StringInfoData cols;

		initStringInfo(&cols);
		for (i = 0; i < t->npk; i++)
			appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(t->cols[t->pk[i]].name));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this query on \"%s\" would scan and filter the whole table",
						get_rel_name(foreigntableid)),
				 errdetail("Only a restriction by = or IN on every partition-key column (%s) reads single partitions.",
						   cols.data),
				 errhint("Add the partition key to the WHERE clause, or create a table whose partition key is "
						 "the column you filter on (the query-first model); to scan anyway, SET widecol.allow_filtering = on.")));
	}

	/* expressions: pk values, clustering equalities, bounds */
	if (sc.partition)
	{
		for (i = 0; i < t->npk; i++)
		{
			append_value_expr(&exprs, sc.pkq[i]);
			pk_in = lappend_int(pk_in, sc.pkq[i]->op == KOP_IN);
		}
		for (i = 0; i < sc.nck_eq; i++)
			append_value_expr(&exprs, sc.ckq[i]);
		if (sc.lower)
			append_value_expr(&exprs, sc.lower);
		if (sc.upper)
			append_value_expr(&exprs, sc.upper);
	}

	/* LIMIT: only when it applies to this scan's rows as they come */
	if (root->limit_tuples > 0 && local == NIL &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		(root->query_pathkeys == NIL || best_path->path.pathkeys != NIL) && !use_join)
		limit = (int64) root->limit_tuples;

	for (i = 0; i < t->ncols; i++)
		if (bms_is_member(t->cols[i].attnum - FirstLowInvalidHeapAttributeNumber, ri->attrs_used) ||
			bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, ri->attrs_used))
			attrs = lappend_int(attrs, t->cols[i].attnum);

	priv = list_make5(makeInteger(sc.partition ? 1 : 0),
					  pk_in,
					  makeInteger(sc.nck_eq),
					  list_make4_int(sc.lower != NULL,
									 sc.lower && sc.lower->op == KOP_GE,
									 sc.upper != NULL,
									 sc.upper && sc.upper->op == KOP_LE),
					  makeInteger(reverse));
	priv = lappend(priv, makeInteger((int) Min(limit, (int64) INT_MAX)));
	priv = lappend(priv, attrs);
	priv = lappend(priv, makeString(describe_choice(root, baserel, t, &sc, reverse, limit)));
	priv = lappend(priv, makeInteger((int) foreigntableid));

	return make_foreignscan(tlist, local, baserel->relid, exprs, priv, NIL, NIL, outer_plan);
}

static const char *
kop_name(KeyOp op)
{
	switch (op)
	{
		case KOP_EQ:
			return "=";
		case KOP_IN:
			return "IN";
		case KOP_LT:
			return "<";
		case KOP_LE:
			return "<=";
		case KOP_GT:
			return ">";
		case KOP_GE:
			return ">=";
	}
	return "?";
}

/* "column op value", with values from other relations shown as (outer) */
static void
describe_qual(StringInfo s, PlannerInfo *root, WidecolTable *t, KeyQual *kq, List *ctx)
{
	appendStringInfo(s, "%s %s ", quote_identifier(t->cols[kq->col].name), kop_name(kq->op));
	if (bms_is_empty(pull_varnos(root, (Node *) kq->value)))
		appendStringInfoString(s, deparse_expression((Node *) kq->value, ctx, false, false));
	else
		appendStringInfoString(s, "(outer)");
}

static char *
describe_choice(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, ScanChoice *sc,
				bool reverse, int64 limit)
{
	StringInfoData s;
	List	   *ctx = deparse_context_for(get_rel_name(t->relid), t->relid);
	int			i;
	bool		first = true;

	initStringInfo(&s);
	if (!sc->partition)
		appendStringInfoString(&s, "full scan in token order");
	else
	{
		appendStringInfoString(&s, "partition key: ");
		for (i = 0; i < t->npk; i++)
		{
			if (i)
				appendStringInfoString(&s, " AND ");
			describe_qual(&s, root, t, sc->pkq[i], ctx);
		}
		if (sc->nck_eq > 0 || sc->lower || sc->upper)
		{
			appendStringInfoString(&s, "; clustering: ");
			for (i = 0; i < sc->nck_eq; i++)
			{
				if (!first)
					appendStringInfoString(&s, " AND ");
				describe_qual(&s, root, t, sc->ckq[i], ctx);
				first = false;
			}
			if (sc->lower)
			{
				if (!first)
					appendStringInfoString(&s, " AND ");
				describe_qual(&s, root, t, sc->lower, ctx);
				first = false;
			}
			if (sc->upper)
			{
				if (!first)
					appendStringInfoString(&s, " AND ");
				describe_qual(&s, root, t, sc->upper, ctx);
			}
		}
	}
	if (t->nck > 0 && sc->partition)
		appendStringInfo(&s, "; order: clustering%s", reverse ? " (reversed)" : "");
	if (limit > 0)
		appendStringInfo(&s, "; limit: " INT64_FORMAT, limit);
	if (widecol_per_partition_limit > 0)
		appendStringInfo(&s, "; per partition limit: %d", widecol_per_partition_limit);
	return s.data;
}

/* ---------------------------------------------------------------- execution */

static void
free_scan_page(void *arg)
{
	WidecolScanState *ss = arg;

	if (ss->page)
	{
		wc_client_page_free(ss->page);
		ss->page = NULL;
	}
}

static void
widecolBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	List	   *priv = fs->fdw_private;
	WidecolScanState *ss = palloc0(sizeof(WidecolScanState));
	List	   *bounds = list_nth(priv, FSP_BOUNDS);
	List	   *pk_in = list_nth(priv, FSP_PK_IN);
	List	   *attrs = list_nth(priv, FSP_ATTRS);
	ListCell   *lc;
	int			i,
				n;

	node->fdw_state = ss;
	ss->t = widecol_get_table(RelationGetRelid(node->ss.ss_currentRelation));
	ss->desc = strVal(list_nth(priv, FSP_DESC));
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	widecol_ensure_engine_table(ss->t);

	ss->partition_mode = intVal(list_nth(priv, FSP_MODE)) == 1;
	ss->npk = list_length(pk_in);
	ss->pk_in = palloc0(sizeof(bool) * Max(ss->npk, 1));
	i = 0;
	foreach(lc, pk_in)
		ss->pk_in[i++] = lfirst_int(lc) != 0;
	ss->nck_eq = intVal(list_nth(priv, FSP_NCK_EQ));
	ss->has_lower = list_nth_int(bounds, 0);
	ss->lower_incl = list_nth_int(bounds, 1);
	ss->has_upper = list_nth_int(bounds, 2);
	ss->upper_incl = list_nth_int(bounds, 3);
	ss->reverse = intVal(list_nth(priv, FSP_REVERSE)) != 0;
	ss->limit = intVal(list_nth(priv, FSP_LIMIT));
	ss->value_states = ExecInitExprList(fs->fdw_exprs, (PlanState *) node);

	/* columns to fetch */
	ss->wanted = palloc0(sizeof(bool) * Max(ss->t->ncols, 1));
	foreach(lc, attrs)
	{
		int			ci = lfirst_int(lc) - 1;
		WidecolColumn *c = &ss->t->cols[ci];

		ss->wanted[ci] = true;
		if (c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL)
		{
			ss->wanted[c->meta_of] = true;
			ss->need_meta = true;
		}
	}
	ss->columns = palloc(sizeof(uint32) * Max(ss->t->ncols, 1));
	ss->cell_map_id = palloc(sizeof(int) * Max(ss->t->ncols, 1));
	ss->cell_map_col = palloc(sizeof(int) * Max(ss->t->ncols, 1));
	n = 0;
	for (i = 0; i < ss->t->ncols; i++)
	{
		WidecolColumn *c = &ss->t->cols[i];

		if (c->dropped || (c->kind != WIDECOL_COL_REGULAR && c->kind != WIDECOL_COL_STATIC))
			continue;
		ss->cell_map_id[n] = (int) c->cell_id;
		ss->cell_map_col[n] = i;
		n++;
		if (ss->wanted[i] && c->kind == WIDECOL_COL_STATIC)
			ss->need_static = true;
	}
	ss->ncell_map = n;
	/* sort the cell map by id (insertion sort: few columns) */
	for (i = 1; i < n; i++)
		for (int j = i; j > 0 && ss->cell_map_id[j - 1] > ss->cell_map_id[j]; j--)
		{
			int			a = ss->cell_map_id[j],
						b = ss->cell_map_col[j];

			ss->cell_map_id[j] = ss->cell_map_id[j - 1];
			ss->cell_map_col[j] = ss->cell_map_col[j - 1];
			ss->cell_map_id[j - 1] = a;
			ss->cell_map_col[j - 1] = b;
		}
	ss->ncolumns = 0;
	for (i = 0; i < n; i++)
		if (ss->wanted[ss->cell_map_col[i]])
			ss->columns[ss->ncolumns++] = (uint32) ss->cell_map_id[i];
	/* a row with no wanted cell must still be returned: fetch nothing extra */

	ss->batch_cxt = AllocSetContextCreate(node->ss.ps.state->es_query_cxt,
										  "widecol scan", ALLOCSET_DEFAULT_SIZES);
	/* the page is malloc'd by the client: free it even when the query fails */
	{
		MemoryContextCallback *cb = MemoryContextAlloc(node->ss.ps.state->es_query_cxt,
													   sizeof(MemoryContextCallback));

		cb->func = free_scan_page;
		cb->arg = ss;
		MemoryContextRegisterResetCallback(node->ss.ps.state->es_query_cxt, cb);
	}
	initStringInfo(&ss->lower_key);
	initStringInfo(&ss->upper_key);
	initStringInfo(&ss->static_pk);
	ss->static_values = palloc0(sizeof(Datum) * Max(ss->t->ncols, 1));
	ss->static_nulls = palloc0(sizeof(bool) * Max(ss->t->ncols, 1));
}

/*
 * Encode a value of type vtype as key column c (integer widths converted,
 * float4 widened to float8).  Returns 0 when encoded, or +1 / -1 without
 * encoding when the value lies above / below every value of the column's
 * type: callers treat that as SQL does (= matches nothing; a bound beyond
 * the range is empty or no bound at all).
 */
static int
encode_value_as(StringInfo buf, WidecolColumn *c, Datum v, Oid vtype, bool desc)
{
	if (vtype != c->typid)
	{
		int64		iv = 0;

		switch (vtype)
		{
			case INT2OID:
				iv = DatumGetInt16(v);
				break;
			case INT4OID:
				iv = DatumGetInt32(v);
				break;
			case INT8OID:
				iv = DatumGetInt64(v);
				break;
			case FLOAT4OID:
				v = Float8GetDatum((float8) DatumGetFloat4(v));
				widecol_encode_key(buf, c->typid, v, desc);
				return 0;
			default:
				widecol_encode_key(buf, c->typid, v, desc);
				return 0;
		}
		switch (c->typid)
		{
			case INT2OID:
				if (iv < PG_INT16_MIN || iv > PG_INT16_MAX)
					return iv > 0 ? 1 : -1;
				v = Int16GetDatum((int16) iv);
				break;
			case INT4OID:
				if (iv < PG_INT32_MIN || iv > PG_INT32_MAX)
					return iv > 0 ? 1 : -1;
				v = Int32GetDatum((int32) iv);
				break;
			default:
				v = Int64GetDatum(iv);
				break;
		}
	}
	widecol_encode_key(buf, c->typid, v, desc);
	return 0;
}

/*
 * Evaluate one range bound of clustering column c into buf.  empty_side is
 * the side (+1 for a lower bound, -1 for an upper one) on which a value
 * beyond the column's range leaves nothing to read; beyond the other side
 * the bound simply drops (*has = false).  Returns false, with no partitions
 * left to read, when the bound is NULL or empties the range.
 */
static bool
eval_bound(WidecolScanState *ss, ExprContext *econtext, ListCell **lc, WidecolColumn *c,
		   StringInfo buf, int empty_side, bool *has)
{
	ExprState  *es = lfirst(*lc);
	bool		isnull;
	Datum		v = ExecEvalExpr(es, econtext, &isnull);
	int			r;

	*lc = lnext(ss->value_states, *lc);
	if (isnull)
	{
		ss->partitions = NIL;
		return false;
	}
	r = encode_value_as(buf, c, v, exprType((Node *) es->expr), c->descending);
	if (r == empty_side)
	{
		ss->partitions = NIL;	/* e.g. col > (above every value): nothing */
		return false;
	}
	if (r != 0)
		*has = false;			/* e.g. col > (below every value): no bound */
	return true;
}

/* Evaluate the partition-key values into the list of encoded keys. */
static void
build_partitions(WidecolScanState *ss, ExprContext *econtext)
{
	WidecolTable *t = ss->t;
	ListCell   *lc = list_head(ss->value_states);
	List	   *keys = list_make1(makeStringInfo());
	int			i;

	ss->partitions = NIL;
	for (i = 0; i < ss->npk; i++)
	{
		ExprState  *es = lfirst(lc);
		WidecolColumn *c = &t->cols[t->pk[i]];
		bool		isnull;
		Datum		v = ExecEvalExpr(es, econtext, &isnull);
		List	   *next = NIL;
		ListCell   *kc;

		lc = lnext(ss->value_states, lc);
		if (isnull)
			return;				/* key = NULL matches nothing */
		if (!ss->pk_in[i])
		{
			foreach(kc, keys)
				if (encode_value_as((StringInfo) lfirst(kc), c, v,
									exprType((Node *) es->expr), false) != 0)
					return;		/* no value of the column's type is equal */
			continue;
		}
		{
			ArrayType  *arr = DatumGetArrayTypeP(v);
			int16		elmlen;
			bool		elmbyval;
			char		elmalign;
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			get_typlenbyvalalign(ARR_ELEMTYPE(arr), &elmlen, &elmbyval, &elmalign);
			deconstruct_array(arr, ARR_ELEMTYPE(arr), elmlen, elmbyval, elmalign,
							  &elems, &nulls, &nelems);
			foreach(kc, keys)
			{
				StringInfo	prefix = lfirst(kc);

				for (int e = 0; e < nelems; e++)
				{
					StringInfo	k;
					bool		dup = false;

					if (nulls[e])
						continue;
					k = makeStringInfo();
					appendBinaryStringInfo(k, prefix->data, prefix->len);
					if (encode_value_as(k, c, elems[e], ARR_ELEMTYPE(arr), false) != 0)
						continue;	/* out of the column's range: matches nothing */
					{
						ListCell   *dc;

						foreach(dc, next)
						{
							StringInfo	o = lfirst(dc);

							if (o->len == k->len && memcmp(o->data, k->data, k->len) == 0)
								dup = true;
						}
					}
					if (!dup)
						next = lappend(next, k);
				}
			}
			keys = next;
		}
	}
	ss->partitions = keys;

	/* clustering bounds */
	resetStringInfo(&ss->lower_key);
	resetStringInfo(&ss->upper_key);
	for (i = 0; i < ss->nck_eq; i++)
	{
		ExprState  *es = lfirst(lc);
		WidecolColumn *c = &t->cols[t->ck[i]];
		bool		isnull;
		Datum		v = ExecEvalExpr(es, econtext, &isnull);

		lc = lnext(ss->value_states, lc);
		if (isnull)
		{
			ss->partitions = NIL;
			return;
		}
		if (encode_value_as(&ss->lower_key, c, v, exprType((Node *) es->expr), c->descending) != 0)
		{
			ss->partitions = NIL;
			return;
		}
	}
	appendBinaryStringInfo(&ss->upper_key, ss->lower_key.data, ss->lower_key.len);
	if (ss->nck_eq < t->nck)
	{
		WidecolColumn *c = &t->cols[t->ck[ss->nck_eq]];
		StringInfoData lo,
					hi;
		bool		has_lo = ss->has_lower,
					has_hi = ss->has_upper;
		bool		lo_incl = ss->lower_incl,
					hi_incl = ss->upper_incl;

		initStringInfo(&lo);
		initStringInfo(&hi);
		if (ss->has_lower &&
			!eval_bound(ss, econtext, &lc, c, &lo, 1, &has_lo))
			return;
		if (ss->has_upper &&
			!eval_bound(ss, econtext, &lc, c, &hi, -1, &has_hi))
			return;
		/* a DESC column turns the value range around in byte order */
		if (c->descending)
		{
			StringInfoData tmp = lo;
			bool		b;

			lo = hi;
			hi = tmp;
			b = has_lo;
			has_lo = has_hi;
			has_hi = b;
			b = lo_incl;
			lo_incl = hi_incl;
			hi_incl = b;
		}
		ss->has_lower = has_lo;
		ss->has_upper = has_hi;
		ss->lower_incl = lo_incl;
		ss->upper_incl = hi_incl;
		if (has_lo)
			appendBinaryStringInfo(&ss->lower_key, lo.data, lo.len);
		if (has_hi)
			appendBinaryStringInfo(&ss->upper_key, hi.data, hi.len);
	}
}

static void
fetch_page(WidecolScanState *ss)
{
	wc_read_request req;
	StringInfo	pk = ss->partition_mode ? lfirst(ss->cur_partition) : NULL;
	wc_status	st;
	int64		want;

	memset(&req, 0, sizeof(req));
	req.table_id = ss->t->table_id;
	if (pk)
	{
		req.pk = (const uint8_t *) pk->data;
		req.pk_len = pk->len;
	}
	/* prefix bounds: the equality prefix is a bound on both sides */
	req.start.unbounded = ss->lower_key.len == 0;
	req.start.key = (const uint8_t *) ss->lower_key.data;
	req.start.len = ss->lower_key.len;
	req.start.inclusive = !ss->has_lower || ss->lower_incl;
	req.end.unbounded = ss->upper_key.len == 0;
	req.end.key = (const uint8_t *) ss->upper_key.data;
	req.end.len = ss->upper_key.len;
	req.end.inclusive = !ss->has_upper || ss->upper_incl;
	req.reverse = ss->reverse;
	req.include_static = ss->need_static;
	req.per_partition_limit = widecol_per_partition_limit > 0 ? (uint64) widecol_per_partition_limit : 0;
	/* the node stops a read as soon as it passes the limit (what is left of it) */
	if (widecol_tombstone_failure_threshold > 0)
		req.tombstone_failure_threshold =
			(uint64) widecol_tombstone_failure_threshold >= ss->stats.tombstones_scanned ?
			(uint64) widecol_tombstone_failure_threshold - ss->stats.tombstones_scanned + 1 : 1;
	req.columns = ss->columns;
	req.ncolumns = (size_t) ss->ncolumns;
	req.paging_state = ss->paging_state;
	req.paging_state_len = ss->paging_state_len;
	want = widecol_fetch_size;
	if (ss->limit > 0)
	{
		int64		left = ss->limit - ss->returned;

		if (left < want)
			want = Max(left, 1);
		req.limit = (uint64) Max(left, 1);
	}
	req.page_rows = (size_t) want;

	if (ss->page)
	{
		wc_client_page_free(ss->page);
		ss->page = NULL;
	}
	if (widecol_consistency == WC_CL_ANY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol.consistency ANY is only supported for writes"),
				 errhint("Read with ONE or a higher level: SET widecol.consistency = one.")));
	st = wc_client_read(widecol_connection(), &req, widecol_consistency, &ss->page);
	if (st == WC_OVERLOADED && widecol_tombstone_failure_threshold > 0)
	{
		/* the node stopped the read at the tombstone limit */
		ss->page = NULL;
		ss->stats.tombstones_scanned = (uint64) widecol_tombstone_failure_threshold + 1;
		check_tombstones(ss);
	}
	if (st != WC_OK)
	{
		ss->page = NULL;
		widecol_report(st, "read");
	}
	ss->requests++;
	ss->stats.sstables_read += ss->page->stats.sstables_read;
	ss->stats.memtables_read += ss->page->stats.memtables_read;
	ss->stats.bloom_skips += ss->page->stats.bloom_skips;
	ss->stats.range_skips += ss->page->stats.range_skips;
	ss->stats.blocks_read += ss->page->stats.blocks_read;
	ss->stats.cache_hits += ss->page->stats.cache_hits;
	ss->stats.rows_scanned += ss->page->stats.rows_scanned;
	ss->stats.tombstones_scanned += ss->page->stats.tombstones_scanned;
	ss->row = 0;
	check_tombstones(ss);
	if (ss->paging_state)
		pfree(ss->paging_state);
	ss->paging_state = NULL;
	ss->paging_state_len = 0;
	if (ss->page->more)
	{
		/* Iterate runs in per-tuple memory: keep the state in the scan's context */
		ss->paging_state = MemoryContextAlloc(ss->batch_cxt, ss->page->paging_state_len);
		memcpy(ss->paging_state, ss->page->paging_state, ss->page->paging_state_len);
		ss->paging_state_len = ss->page->paging_state_len;
	}
}

/*
 * Tombstone guardrails, as Cassandra's: a NOTICE once a scan has met more
 * tombstones than widecol.tombstone_warn_threshold, an ERROR past
 * widecol.tombstone_failure_threshold.
 */
static void
check_tombstones(WidecolScanState *ss)
{
	uint64		n = ss->stats.tombstones_scanned;

	if (widecol_tombstone_failure_threshold > 0 && n > (uint64) widecol_tombstone_failure_threshold)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("read of widecol table \"%s\" scanned " UINT64_FORMAT " tombstones, more than widecol.tombstone_failure_threshold (%d)",
						get_rel_name(ss->t->relid), n, widecol_tombstone_failure_threshold),
				 errhint("Deleted data piles up where rows are deleted and rewritten in place: "
						 "model the data so reads skip deleted ranges, lower gc_grace_seconds and compact, "
						 "or raise the threshold for this query.")));
	if (widecol_tombstone_warn_threshold > 0 && !ss->tombstone_warned &&
		n > (uint64) widecol_tombstone_warn_threshold)
	{
		ss->tombstone_warned = true;
		ereport(NOTICE,
				(errmsg("read of widecol table \"%s\" scanned " UINT64_FORMAT " tombstones (widecol.tombstone_warn_threshold is %d)",
						get_rel_name(ss->t->relid), n, widecol_tombstone_warn_threshold),
				 errhint("Many tombstones slow reads down; see docs/user-guide.md on deletes and compaction.")));
	}
}

/* Advance to the next partition to read; false when done. */
static bool
next_partition(WidecolScanState *ss)
{
	if (!ss->partition_mode)
		return false;
	if (ss->cur_partition == NULL)
		return false;
	ss->cur_partition = lnext(ss->partitions, ss->cur_partition);
	if (ss->cur_partition == NULL)
		return false;
	ss->paging_state = NULL;
	ss->paging_state_len = 0;
	return true;
}

static int
cell_col(WidecolScanState *ss, uint32 id)
{
	int			lo = 0,
				hi = ss->ncell_map - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if ((uint32) ss->cell_map_id[mid] == id)
			return ss->cell_map_col[mid];
		if ((uint32) ss->cell_map_id[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Numeric keys are stored normalized (1.50 and 1.5 are one key); give the
 * value back with the column's declared scale, as a heap table would.
 */
static Datum
key_datum(WidecolColumn *c, Datum v)
{
	if (c->typid == NUMERICOID && c->typmod >= 0)
		return DirectFunctionCall2(numeric, v, Int32GetDatum(c->typmod));
	return v;
}

static void
fill_row(WidecolScanState *ss, TupleTableSlot *slot, const wc_result_row *r, bool static_only)
{
	WidecolTable *t = ss->t;
	Datum	   *values = slot->tts_values;
	bool	   *nulls = slot->tts_isnull;
	const uint8 *p,
			   *end;
	int			i;
	int64		now_us = 0;

	ExecClearTuple(slot);
	for (i = 0; i < t->ncols; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	/* partition key */
	p = r->pk;
	end = r->pk + r->pk_len;
	for (i = 0; i < t->npk; i++)
	{
		int			ci = t->pk[i];

		values[ci] = key_datum(&t->cols[ci], widecol_decode_key(&p, end, t->cols[ci].typid, false));
		nulls[ci] = false;
	}
	if (p != end)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("widecol partition key of \"%s\" has trailing bytes", get_rel_name(t->relid)),
				 errhint("The table's key definition may have changed since the data was written; "
						 "recreate the foreign table with its original primary_key.")));
	if (!static_only && !r->is_static)
	{
		p = r->ck;
		end = r->ck + r->ck_len;
		for (i = 0; i < t->nck; i++)
		{
			int			ci = t->ck[i];

			values[ci] = key_datum(&t->cols[ci],
								   widecol_decode_key(&p, end, t->cols[ci].typid, t->cols[ci].descending));
			nulls[ci] = false;
		}
		if (p != end)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("widecol clustering key of \"%s\" has trailing bytes", get_rel_name(t->relid)),
					 errhint("The table's key definition may have changed since the data was written; "
							 "recreate the foreign table with its original primary_key.")));
		for (uint32 k = 0; k < r->ncells; k++)
		{
			const wc_cell *c = &r->cells[k];
			int			ci = cell_col(ss, c->column);

			if (ci < 0 || !ss->wanted[ci] || t->cols[ci].kind == WIDECOL_COL_STATIC)
				continue;
			values[ci] = widecol_decode_value(c->value, c->len, t->cols[ci].typlen,
											  t->cols[ci].typbyval);
			nulls[ci] = false;
		}
	}
	if (ss->need_meta)
	{
		struct timeval tv;

		gettimeofday(&tv, NULL);
		now_us = (int64) tv.tv_sec * 1000000 + tv.tv_usec;
		for (i = 0; i < t->ncols; i++)
		{
			WidecolColumn *mc = &t->cols[i];
			const wc_cell *found = NULL;
			const wc_result_row *src = r;

			if (!ss->wanted[i] || (mc->kind != WIDECOL_COL_WRITETIME && mc->kind != WIDECOL_COL_TTL))
				continue;
			if (t->cols[mc->meta_of].kind == WIDECOL_COL_STATIC)
				continue;		/* filled from the static row below */
			if (static_only)
				continue;
			for (uint32 k = 0; k < src->ncells; k++)
				if (src->cells[k].column == t->cols[mc->meta_of].cell_id)
					found = &src->cells[k];
			if (found == NULL)
				continue;
			if (mc->kind == WIDECOL_COL_WRITETIME)
				values[i] = Int64GetDatum(found->ts);
			else if (found->flags & WC_CELLF_EXPIRING)
				values[i] = Int32GetDatum((int32) Max(0, (int64) found->ldt - now_us / 1000000));
			else
				continue;
			nulls[i] = false;
		}
	}
	/* static columns of the partition */
	if (ss->have_static && ss->static_pk.len == (int) r->pk_len &&
		memcmp(ss->static_pk.data, r->pk, r->pk_len) == 0)
	{
		for (i = 0; i < t->ncols; i++)
		{
			WidecolColumn *c = &t->cols[i];

			if ((c->kind == WIDECOL_COL_STATIC ||
				 ((c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL) &&
				  t->cols[c->meta_of].kind == WIDECOL_COL_STATIC)) &&
				!ss->static_nulls[i])
			{
				values[i] = ss->static_values[i];
				nulls[i] = false;
			}
		}
	}
	ExecStoreVirtualTuple(slot);
}

/* Keep the static row of a partition for the rows that follow it. */
static void
remember_static(WidecolScanState *ss, const wc_result_row *r)
{
	WidecolTable *t = ss->t;
	MemoryContext old = MemoryContextSwitchTo(ss->batch_cxt);
	struct timeval tv;
	int64		now_s;

	gettimeofday(&tv, NULL);
	now_s = tv.tv_sec;
	resetStringInfo(&ss->static_pk);
	appendBinaryStringInfo(&ss->static_pk, (const char *) r->pk, r->pk_len);
	for (int i = 0; i < t->ncols; i++)
		ss->static_nulls[i] = true;
	for (uint32 k = 0; k < r->ncells; k++)
	{
		const wc_cell *c = &r->cells[k];
		int			ci = cell_col(ss, c->column);

		if (ci < 0 || t->cols[ci].kind != WIDECOL_COL_STATIC)
			continue;
		ss->static_values[ci] = widecol_decode_value(c->value, c->len, t->cols[ci].typlen,
													 t->cols[ci].typbyval);
		ss->static_nulls[ci] = false;
		for (int m = 0; m < t->ncols; m++)
		{
			WidecolColumn *mc = &t->cols[m];

			if (mc->meta_of != ci)
				continue;
			if (mc->kind == WIDECOL_COL_WRITETIME)
			{
				ss->static_values[m] = Int64GetDatum(c->ts);
				ss->static_nulls[m] = false;
			}
			else if (mc->kind == WIDECOL_COL_TTL && (c->flags & WC_CELLF_EXPIRING))
			{
				ss->static_values[m] = Int32GetDatum((int32) Max(0, (int64) c->ldt - now_s));
				ss->static_nulls[m] = false;
			}
		}
	}
	ss->have_static = true;
	MemoryContextSwitchTo(old);
}

static TupleTableSlot *
widecolIterateForeignScan(ForeignScanState *node)
{
	WidecolScanState *ss = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (!ss->started)
	{
		MemoryContext old = MemoryContextSwitchTo(ss->batch_cxt);

		ss->started = true;
		if (ss->partition_mode)
		{
			build_partitions(ss, node->ss.ps.ps_ExprContext);
			ss->cur_partition = list_head(ss->partitions);
			if (ss->cur_partition == NULL)
			{
				MemoryContextSwitchTo(old);
				return ExecClearTuple(slot);
			}
		}
		MemoryContextSwitchTo(old);
		fetch_page(ss);
	}
	for (;;)
	{
		if (ss->limit > 0 && ss->returned >= ss->limit)
			return ExecClearTuple(slot);
		if (ss->page && ss->row < (int) ss->page->nrows)
		{
			const wc_result_row *r = &ss->page->rows[ss->row++];

			/* a static row with no clustering row after it in its partition */
			if (ss->static_pending &&
				(r->is_static || r->pk_len != (size_t) ss->static_pk.len ||
				 memcmp(r->pk, ss->static_pk.data, r->pk_len) != 0) &&
				ss->nck_eq == 0 && !ss->has_lower && !ss->has_upper)
			{
				wc_result_row fake;

				memset(&fake, 0, sizeof(fake));
				fake.pk = (const uint8_t *) ss->static_pk.data;
				fake.pk_len = ss->static_pk.len;
				ss->static_pending = false;
				ss->row--;
				fill_row(ss, slot, &fake, true);
				ss->returned++;
				return slot;
			}
			if (r->is_static)
			{
				remember_static(ss, r);
				ss->static_pending = true;
				continue;
			}
			ss->static_pending = false;
			fill_row(ss, slot, r, false);
			ss->returned++;
			return slot;
		}
		/* page used up: next page of this read, or next partition */
		if (ss->page && ss->page->more)
		{
			fetch_page(ss);
			continue;
		}
		if (ss->static_pending && ss->nck_eq == 0 && !ss->has_lower && !ss->has_upper)
		{
			wc_result_row fake;

			memset(&fake, 0, sizeof(fake));
			fake.pk = (const uint8_t *) ss->static_pk.data;
			fake.pk_len = ss->static_pk.len;
			ss->static_pending = false;
			fill_row(ss, slot, &fake, true);
			ss->returned++;
			return slot;
		}
		ss->static_pending = false;
		if (!next_partition(ss))
			return ExecClearTuple(slot);
		fetch_page(ss);
	}
}

static void
widecolReScanForeignScan(ForeignScanState *node)
{
	WidecolScanState *ss = node->fdw_state;

	if (ss->page)
		wc_client_page_free(ss->page);
	ss->page = NULL;
	ss->started = false;
	ss->returned = 0;
	ss->row = 0;
	ss->paging_state = NULL;
	ss->paging_state_len = 0;
	ss->have_static = false;
	ss->static_pending = false;
	MemoryContextReset(ss->batch_cxt);
	initStringInfo(&ss->static_pk);
	/* the bound flags may have been swapped for DESC columns: restore them */
	{
		ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
		List	   *bounds = list_nth(fs->fdw_private, FSP_BOUNDS);

		ss->has_lower = list_nth_int(bounds, 0);
		ss->lower_incl = list_nth_int(bounds, 1);
		ss->has_upper = list_nth_int(bounds, 2);
		ss->upper_incl = list_nth_int(bounds, 3);
	}
}

static void
widecolEndForeignScan(ForeignScanState *node)
{
	WidecolScanState *ss = node->fdw_state;

	if (ss && ss->page)
	{
		wc_client_page_free(ss->page);
		ss->page = NULL;
	}
}

static void
widecolExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	WidecolScanState *ss = node->fdw_state;

	ExplainPropertyText("Widecol Read", ss->desc, es);
	ExplainPropertyText("Consistency", widecol_consistency_name(widecol_consistency), es);
	ExplainPropertyText("Replicas", "local node", es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Node Requests", NULL, ss->requests, es);
		ExplainPropertyInteger("SSTables Read", NULL, (int64) ss->stats.sstables_read, es);
		ExplainPropertyInteger("Bloom Filter Skips", NULL, (int64) ss->stats.bloom_skips, es);
		ExplainPropertyInteger("Tombstones Scanned", NULL, (int64) ss->stats.tombstones_scanned, es);
		if (es->verbose)
		{
			ExplainPropertyInteger("Memtables Read", NULL, (int64) ss->stats.memtables_read, es);
			ExplainPropertyInteger("Range Skips", NULL, (int64) ss->stats.range_skips, es);
			ExplainPropertyInteger("Blocks Read", NULL, (int64) ss->stats.blocks_read, es);
			ExplainPropertyInteger("Block Cache Hits", NULL, (int64) ss->stats.cache_hits, es);
			ExplainPropertyInteger("Cells Merged", NULL, (int64) ss->stats.rows_scanned, es);
		}
	}
}

/* ---------------------------------------------------------------- direct DELETE */

/*
 * A DELETE whose WHERE is entirely pushed down (the partition key, and
 * optionally a clustering prefix and range) is done without reading: one
 * tombstone per partition - a partition tombstone, a row tombstone for a
 * full key, or a range tombstone for a prefix or range.
 */
static bool
widecolPlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
						int subplan_index)
{
	Plan	   *subplan = outerPlan(plan);
	ForeignScan *fscan;

	if (plan->operation != CMD_DELETE || plan->returningLists != NIL)
		return false;
	if (subplan == NULL || !IsA(subplan, ForeignScan))
		return false;
	fscan = (ForeignScan *) subplan;
	if (fscan->scan.scanrelid != resultRelation || fscan->scan.plan.qual != NIL ||
		list_length(fscan->fdw_private) <= FSP_RELID)
		return false;
	if (intVal(list_nth(fscan->fdw_private, FSP_MODE)) != 1 ||
		widecol_per_partition_limit > 0)
		return false;
	fscan->operation = CMD_DELETE;
	fscan->resultRelation = resultRelation;
	fscan->fdw_private = lappend(fscan->fdw_private, makeInteger(1));
	return true;
}

static void
widecolBeginDirectModify(ForeignScanState *node, int eflags)
{
	widecolBeginForeignScan(node, eflags);
}

static TupleTableSlot *
widecolIterateDirectModify(ForeignScanState *node)
{
	WidecolScanState *ss = node->fdw_state;
	WidecolTable *t = ss->t;
	EState	   *estate = node->ss.ps.state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	WidecolWriter *w;
	ListCell   *lc;
	int64		ts = widecol_new_write_timestamp();
	uint32		now = (uint32) time(NULL);
	int64		count = 0;

	if (ss->started)
		return ExecClearTuple(slot);
	ss->started = true;
	build_partitions(ss, node->ss.ps.ps_ExprContext);
	w = widecol_writer_begin(t);
	foreach(lc, ss->partitions)
	{
		StringInfo	pk = lfirst(lc);
		wc_mutation m;
		const uint8_t *enc;
		size_t		len;
		wc_status	st;

		wc_mutation_init(&m, t->table_id, pk->data, pk->len);
		if (t->nck == 0 || (ss->lower_key.len == 0 && ss->upper_key.len == 0))
			wc_mutation_delete_partition(&m, ts, now);
		else if (ss->nck_eq == t->nck)
		{
			wc_rowb_deletion(wc_mutation_row_begin(&m, false, ss->lower_key.data,
												   ss->lower_key.len), ts, now);
			wc_mutation_row_end(&m);
		}
		else
		{
			wc_range_tombstone rt;

			memset(&rt, 0, sizeof(rt));
			rt.ts = ts;
			rt.ldt = now;
			if (ss->lower_key.len == 0)
				rt.bflags |= WC_BOUND_START_UNBOUNDED;
			else if (!ss->has_lower || ss->lower_incl)
				rt.bflags |= WC_BOUND_START_INCL;
			if (ss->upper_key.len == 0)
				rt.bflags |= WC_BOUND_END_UNBOUNDED;
			else if (!ss->has_upper || ss->upper_incl)
				rt.bflags |= WC_BOUND_END_INCL;
			rt.start = (const uint8_t *) ss->lower_key.data;
			rt.start_len = ss->lower_key.len;
			rt.end = (const uint8_t *) ss->upper_key.data;
			rt.end_len = ss->upper_key.len;
			wc_mutation_delete_range(&m, &rt);
		}
		st = wc_mutation_encode(&m, &enc, &len);
		if (st != WC_OK)
		{
			wc_mutation_free(&m);
			widecol_report(st, "encoding a delete");
		}
		widecol_writer_add(w, enc, len);
		wc_mutation_free(&m);
		count++;
	}
	widecol_writer_end(w);
	ss->requests++;
	estate->es_processed += count;
	return ExecClearTuple(slot);
}

static void
widecolEndDirectModify(ForeignScanState *node)
{
}

static void
widecolExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	WidecolScanState *ss = node->fdw_state;
	WidecolTable *t = ss->t;
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	int			nck_eq = intVal(list_nth(fs->fdw_private, FSP_NCK_EQ));
	List	   *bounds = list_nth(fs->fdw_private, FSP_BOUNDS);
	const char *kind;

	if (t->nck == 0 || (nck_eq == 0 && !list_nth_int(bounds, 0) && !list_nth_int(bounds, 2)))
		kind = "partition tombstone";
	else if (nck_eq == t->nck)
		kind = "row tombstone";
	else
		kind = "range tombstone";
	ExplainPropertyText("Widecol Delete", ss->desc, es);
	ExplainPropertyText("Tombstone", kind, es);
	ExplainPropertyText("Reads Before Write", "none", es);
	ExplainPropertyText("Consistency", widecol_consistency_name(widecol_consistency), es);
}

/* ---------------------------------------------------------------- ANALYZE */

/*
 * relpages of a widecol table holds its number of partitions, so that
 * reltuples / relpages estimates the rows of one partition.  The count
 * comes from the node's SSTable statistics; data still in memtables is
 * estimated at one partition per 100 entries.
 */
static bool
widecolAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	WidecolTable *t = widecol_get_table(RelationGetRelid(relation));
	wc_table_stats ts;
	wc_status	st;
	double		parts;

	widecol_ensure_engine_table(t);
	st = wc_client_table_stats(widecol_connection(), t->table_id, &ts);
	if (st != WC_OK)
		widecol_report(st, "reading table statistics");
	parts = (double) ts.partitions_estimate + (double) ts.memtable_entries / 100.0;
	*func = acquire_sample_rows;
	*totalpages = (BlockNumber) Max(1.0, Min(parts, (double) MaxBlockNumber));
	return true;
}

/*
 * Sample rows by reading the whole table in token order (reservoir
 * sampling).  Also counts partitions, which the planner uses for
 * per-partition row estimates (stored as relpages).
 */
static int
acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows, int targrows,
					double *totalrows, double *totaldeadrows)
{
	WidecolTable *t = widecol_get_table(RelationGetRelid(relation));
	TupleDesc	tupdesc = RelationGetDescr(relation);
	ReservoirStateData rstate;
	Datum	   *values = palloc(sizeof(Datum) * Max(t->ncols, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(t->ncols, 1));
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "widecol analyze",
											  ALLOCSET_DEFAULT_SIZES);
	WidecolScanState ss;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(tupdesc, &TTSOpsVirtual);
	int			numrows = 0;
	double		seen = 0,
				partitions = 0;
	StringInfoData lastpk;

	widecol_ensure_engine_table(t);
	memset(&ss, 0, sizeof(ss));
	ss.t = t;
	ss.wanted = palloc(sizeof(bool) * Max(t->ncols, 1));
	ss.cell_map_id = palloc(sizeof(int) * Max(t->ncols, 1));
	ss.cell_map_col = palloc(sizeof(int) * Max(t->ncols, 1));
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		ss.wanted[i] = !c->dropped && c->kind != WIDECOL_COL_STATIC &&
			c->kind != WIDECOL_COL_WRITETIME && c->kind != WIDECOL_COL_TTL;
		if (!c->dropped && (c->kind == WIDECOL_COL_REGULAR || c->kind == WIDECOL_COL_STATIC))
		{
			ss.cell_map_id[ss.ncell_map] = (int) c->cell_id;
			ss.cell_map_col[ss.ncell_map] = i;
			ss.ncell_map++;
		}
	}
	for (int i = 1; i < ss.ncell_map; i++)
		for (int j = i; j > 0 && ss.cell_map_id[j - 1] > ss.cell_map_id[j]; j--)
		{
			int			a = ss.cell_map_id[j],
						b = ss.cell_map_col[j];

			ss.cell_map_id[j] = ss.cell_map_id[j - 1];
			ss.cell_map_col[j] = ss.cell_map_col[j - 1];
			ss.cell_map_id[j - 1] = a;
			ss.cell_map_col[j - 1] = b;
		}
	initStringInfo(&ss.lower_key);
	initStringInfo(&ss.upper_key);
	initStringInfo(&ss.static_pk);
	initStringInfo(&lastpk);
	ss.batch_cxt = CurrentMemoryContext;	/* paging state; cxt is reset per row */
	reservoir_init_selection_state(&rstate, targrows);
	fetch_page(&ss);
	for (;;)
	{
		if (ss.row >= (int) ss.page->nrows)
		{
			if (!ss.page->more)
				break;
			fetch_page(&ss);
			continue;
		}
		{
			const wc_result_row *r = &ss.page->rows[ss.row++];
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			if (r->is_static)
				continue;
			if (lastpk.len != (int) r->pk_len || memcmp(lastpk.data, r->pk, r->pk_len) != 0)
			{
				partitions++;
				resetStringInfo(&lastpk);
				appendBinaryStringInfo(&lastpk, (const char *) r->pk, r->pk_len);
			}
			seen++;
			old = MemoryContextSwitchTo(cxt);
			fill_row(&ss, slot, r, false);
			MemoryContextSwitchTo(old);
			if (numrows < targrows)
				rows[numrows++] = heap_form_tuple(tupdesc, slot->tts_values, slot->tts_isnull);
			else
			{
				double		k = reservoir_get_next_S(&rstate, seen, targrows);

				if (k < 1.0)
				{
					int			pos = (int) (targrows * sampler_random_fract(&rstate.randstate));

					heap_freetuple(rows[pos]);
					rows[pos] = heap_form_tuple(tupdesc, slot->tts_values, slot->tts_isnull);
				}
			}
			MemoryContextReset(cxt);
		}
	}
	if (ss.page)
		wc_client_page_free(ss.page);
	ExecDropSingleTupleTableSlot(slot);
	*totalrows = seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": read %.0f rows in %.0f partitions, sampled %d",
					RelationGetRelationName(relation), seen, partitions, numrows)));
	(void) values;
	(void) nulls;
	return numrows;
}

/* ---------------------------------------------------------------- handler */

Datum
widecol_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = widecolGetForeignRelSize;
	routine->GetForeignPaths = widecolGetForeignPaths;
	routine->GetForeignPlan = widecolGetForeignPlan;
	routine->BeginForeignScan = widecolBeginForeignScan;
	routine->IterateForeignScan = widecolIterateForeignScan;
	routine->ReScanForeignScan = widecolReScanForeignScan;
	routine->EndForeignScan = widecolEndForeignScan;
	routine->ExplainForeignScan = widecolExplainForeignScan;
	routine->AnalyzeForeignTable = widecolAnalyzeForeignTable;
	routine->ImportForeignSchema = widecolImportForeignSchema;
	routine->PlanDirectModify = widecolPlanDirectModify;
	routine->BeginDirectModify = widecolBeginDirectModify;
	routine->IterateDirectModify = widecolIterateDirectModify;
	routine->EndDirectModify = widecolEndDirectModify;
	routine->ExplainDirectModify = widecolExplainDirectModify;
	widecol_fdw_modify_routine(routine);
	PG_RETURN_POINTER(routine);
}
