/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  Planning of scans of widecol tables: size estimates, paths with
 *		  partition-key and clustering pushdown, pathkeys and LIMIT, and the
 *		  ForeignScan plan.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/plan.c
 *
 * NOTES
 *	  The GetForeignRelSize, GetForeignPaths and GetForeignPlan callbacks
 *	  of the FDW routine (wired in fdw.c) are thin wrappers of
 *	  widecol_plan_rel, widecol_plan_paths and widecol_plan_scan, which the
 *	  table access method's CustomScan (tam_scan.c) calls too: one planner
 *	  for both faces.
 *
 *	  Planning classifies each restriction of a widecol table:
 *	   - "=" or "= ANY(array)" / IN on every partition-key column restricts
 *		 the scan to those partitions (a Cartesian product for several IN
 *		 lists);
 *	   - "=" on a prefix of the clustering columns, then one range (<, <=,
 *		 >, >=, BETWEEN, or a row comparison "(ck1, ck2) > (x, y)" over
 *		 consecutive columns of one direction) on the next one, becomes the
 *		 clustering slice; in a SELECT, IN on that next column instead reads
 *		 one slice per value;
 *	   - an OR of equalities on one key column counts as IN;
 *	   - everything else is evaluated locally.
 *	  DISTINCT ON the partition key in clustering order, and DISTINCT of the
 *	  partition key, read one row per partition (a per-partition limit of
 *	  1); widecol.per_partition_limit applies only to a SELECT level that
 *	  returns the rows it reads (no aggregate, grouping, DISTINCT or window).
 *	  The partition key may also come from the outer side of a join
 *	  (a parameterized path), so nested loops and LATERAL read one
 *	  partition per outer row.  Inside one partition rows come in
 *	  clustering order, so an ORDER BY in that order or its exact reverse
 *	  needs no Sort, and a LIMIT over such a scan is pushed to the node.
 *	  A scan of the whole table with restrictions is refused (as Cassandra
 *	  does without ALLOW FILTERING) unless widecol.allow_filtering is on.
 *	  A count(*) of partitions with nothing left to filter is an upper
 *	  path (GetForeignUpperPaths): the node counts the rows (COUNT_ROWS)
 *	  and the ForeignScan, of no scan relation, returns the number.
 *
 *	  Bounds of text ranges are pushed only under the "C" collation, whose
 *	  order is byte order (keycodec.c encodes the values).
 *
 *	  fdw_private of the plan is a list (see the FdwScanPrivate indexes in
 *	  widecol.h); fdw_exprs holds, in order, the expressions of the
 *	  partition-key values, the clustering equalities, and the lower and
 *	  upper bounds.  scan.c reads both.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/nbtree.h"
#include "access/stratnum.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "foreign/fdwapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/ruleutils.h"
#include "utils/typcache.h"

#include "widecol.h"

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
	List	   *row_values;		/* (col, next cols...) op (values): all values */
} KeyQual;

/* Per-relation planning state (baserel->fdw_private). */
typedef struct WidecolRelInfo
{
	WidecolTable *t;
	List	   *restrictions;	/* KeyQuals from baserestrictinfo */
	List	   *joinquals;		/* KeyQuals on partition-key columns from joininfo */
	Bitmapset  *attrs_used;		/* attnums the query needs */
	bool		select;			/* the statement is a SELECT */
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
	KeyQual    *ck_in;			/* or IN on clustering column nck_eq (SELECT only) */
	bool		partition;		/* every partition-key column restricted */
	bool		single;			/* ... to one value each */
	List	   *pushed;			/* RestrictInfos handled by the node */
	Relids		required_outer;
} ScanChoice;

/* helpers */
static KeyQual *classify_clause(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
								RestrictInfo *rinfo, bool join);
static KeyQual *classify_or(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
							RestrictInfo *rinfo);
static KeyQual *classify_row_compare(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
									 RestrictInfo *rinfo);
static void choose_scan(WidecolRelInfo *ri, ScanChoice *sc, bool use_join);
static List *ordered_pathkeys(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
							  ScanChoice *sc, bool *reverse);
static char *describe_choice(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t,
							 ScanChoice *sc, bool reverse, int64 limit);

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
	/* a frozen list key compares by the polymorphic array operators */
	if (valtype == ANYARRAYOID && OidIsValid(get_element_type(coltype)))
		return true;
	return false;
}

/*
 * "k = v1 OR k = v2 OR ..." on one key column, with values of one type, is
 * "k IN (v1, v2, ...)": a KOP_IN whose value is an ARRAY[].
 */
static KeyQual *
classify_or(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, RestrictInfo *rinfo)
{
	List	   *values = NIL;
	Oid			vtype = InvalidOid;
	int			col = -1;
	ListCell   *lc;
	ArrayExpr  *arr;
	KeyQual    *kq;

	foreach(lc, ((BoolExpr *) rinfo->clause)->args)
	{
		RestrictInfo arm_rinfo = *rinfo;
		KeyQual    *arm;

		arm_rinfo.clause = lfirst(lc);
		arm = classify_clause(root, baserel, t, &arm_rinfo, false);
		if (arm == NULL || arm->op != KOP_EQ ||
			(col >= 0 && (arm->col != col || exprType((Node *) arm->value) != vtype)))
			return NULL;
		col = arm->col;
		vtype = exprType((Node *) arm->value);
		values = lappend(values, arm->value);
	}
	if (col < 0 || !OidIsValid(get_array_type(vtype)))
		return NULL;
	arr = makeNode(ArrayExpr);
	arr->array_typeid = get_array_type(vtype);
	arr->array_collid = exprCollation((Node *) linitial(values));
	arr->element_typeid = vtype;
	arr->elements = values;
	arr->multidims = false;
	arr->location = -1;
	kq = palloc0(sizeof(KeyQual));
	kq->col = col;
	kq->op = KOP_IN;
	kq->value = (Expr *) arr;
	kq->rinfo = rinfo;
	return kq;
}

/*
 * "(ck1, ck2, ...) op (v1, v2, ...)" on consecutive clustering columns of
 * one direction, with values of their types: a range on ck1 whose bound is
 * the encoded values one after the other (KeyQual.row_values).
 */
static KeyQual *
classify_row_compare(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, RestrictInfo *rinfo)
{
	RowCompareExpr *rc = (RowCompareExpr *) rinfo->clause;
	KeyQual    *kq;
	ListCell   *l,
			   *r;
	int			first = -1;
	int			n = 0;

	forboth(l, rc->largs, r, rc->rargs)
	{
		Expr	   *e = strip_relabel(lfirst(l));
		Expr	   *v = lfirst(r);
		WidecolColumn *c;
		TypeCacheEntry *tce;
		Oid			collid = list_nth_oid(rc->inputcollids, n);

		if (!IsA(e, Var) || ((Var *) e)->varno != baserel->relid || ((Var *) e)->varlevelsup != 0 ||
			((Var *) e)->varattno <= 0 || ((Var *) e)->varattno > t->ncols)
			return NULL;
		c = &t->cols[((Var *) e)->varattno - 1];
		if (c->kind != WIDECOL_COL_CLUSTERING || exprType((Node *) v) != c->typid ||
			!bms_is_empty(pull_varnos(root, (Node *) v)) || contain_volatile_functions((Node *) v))
			return NULL;
		if (n == 0)
			first = c->key_pos;
		else if (c->key_pos != first + n || c->descending != t->cols[t->ck[first]].descending)
			return NULL;
		tce = lookup_type_cache(c->typid, TYPECACHE_BTREE_OPFAMILY);
		if (list_nth_oid(rc->opfamilies, n) != tce->btree_opf)
			return NULL;
		if (OidIsValid(collid) && !lc_collate_is_c(collid))
			return NULL;
		n++;
	}
	kq = palloc0(sizeof(KeyQual));
	kq->col = t->ck[first];
	kq->value = linitial(rc->rargs);
	kq->row_values = rc->rargs;
	kq->rinfo = rinfo;
	switch (rc->rctype)
	{
		case ROWCOMPARE_LT:
			kq->op = KOP_LT;
			break;
		case ROWCOMPARE_LE:
			kq->op = KOP_LE;
			break;
		case ROWCOMPARE_GT:
			kq->op = KOP_GT;
			break;
		case ROWCOMPARE_GE:
			kq->op = KOP_GE;
			break;
		default:
			return NULL;
	}
	return kq;
}

/*
 * Recognize "keycol op value" (either side), "keycol = ANY(array)", and an
 * OR of partition-key equalities.  The value must not reference this
 * relation nor be volatile.
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

	if (is_orclause(clause))
		return join ? NULL : classify_or(root, baserel, t, rinfo);
	if (IsA(clause, RowCompareExpr))
		return join ? NULL : classify_row_compare(root, baserel, t, rinfo);

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
		/* record operators (composite keys) take "record"; the value must be of the column's type */
		if (!(value_type_ok(c->typid, vtype) || (vtype == RECORDOID && valtype == c->typid)) ||
			!value_type_ok(c->typid, valtype))
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
	/* the same for the text fields of a composite key */
	if (!widecol_key_order_agrees(c->typid, kq->op != KOP_EQ && kq->op != KOP_IN))
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

void
widecolGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	widecol_plan_rel(root, baserel, foreigntableid);
}

/*
 * Classify the restrictions of widecol table relid and estimate its rows
 * (baserel->rows); keeps the planning state in baserel->fdw_private.  The
 * foreign table and the table access method's CustomScan (tam_scan.c) both
 * plan here.
 */
void
widecol_plan_rel(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	WidecolRelInfo *ri = palloc0(sizeof(WidecolRelInfo));
	ListCell   *lc;
	ScanChoice	sc;
	double		rows;

	ri->t = widecol_get_table(foreigntableid);
	ri->select = root->parse->commandType == CMD_SELECT;
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
	/*
	 * IN on the next clustering column: one slice per value (for a SELECT:
	 * the direct DELETE writes one range per partition)
	 */
	if (i < t->nck && ri->select)
	{
		foreach(lc, ri->restrictions)
		{
			KeyQual    *kq = lfirst(lc);

			if (kq->col == t->ck[i] && kq->op == KOP_IN && sc->ck_in == NULL)
				sc->ck_in = kq;
		}
		if (sc->ck_in)
		{
			sc->pushed = lappend(sc->pushed, sc->ck_in->rinfo);
			return;
		}
	}
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
	if (root->query_pathkeys == NIL || !sc->single || t->nck == 0 || sc->ck_in != NULL)
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
			if (!widecol_key_order_agrees(c->typid, true))
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

void
widecolGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ListCell   *lc;

	foreach(lc, widecol_plan_paths(root, baserel))
	{
		WidecolPath *wp = lfirst(lc);
		ForeignPath *fp;

		fp = create_foreignscan_path(root, baserel, NULL, wp->rows, wp->startup, wp->total,
									 wp->pathkeys, wp->required_outer, NULL,
									 list_make1(makeInteger(wp->kind)));
		fp->path.rows = wp->rows;
		add_path(baserel, (Path *) fp);
	}
}

/* A new WidecolPath */
static WidecolPath *
make_path(double rows, Cost startup, Cost total, List *pathkeys, Relids required_outer, int kind)
{
	WidecolPath *wp = palloc0(sizeof(WidecolPath));

	wp->rows = rows;
	wp->startup = startup;
	wp->total = total;
	wp->pathkeys = pathkeys;
	wp->required_outer = required_outer;
	wp->kind = kind;
	return wp;
}

/*
 * The scan paths of a widecol table planned by widecol_plan_rel: the scan
 * as restricted, the same in clustering order when the query wants it, and
 * one partition per outer row of a join.
 */
List *
widecol_plan_paths(PlannerInfo *root, RelOptInfo *baserel)
{
	WidecolRelInfo *ri = baserel->fdw_private;
	List	   *paths = NIL;
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
	paths = lappend(paths, make_path(baserel->rows, startup, total, NIL, NULL, 0));
	pathkeys = ordered_pathkeys(root, baserel, ri->t, &sc, &reverse);
	if (pathkeys != NIL)
		paths = lappend(paths, make_path(baserel->rows, startup, total, pathkeys, NULL,
										 reverse ? 2 : 1));

	/* the partition key from the outer side of a join */
	if (!sc.partition && ri->joinquals != NIL)
	{
		ScanChoice	jsc;

		choose_scan(ri, &jsc, true);
		if (jsc.partition && !bms_is_empty(jsc.required_outer))
		{
			ParamPathInfo *ppi = get_baserel_parampathinfo(root, baserel, jsc.required_outer);
			double		rows = Max(1.0, ri->table_rows / ri->partitions);

			paths = lappend(paths, make_path(Min(ppi->ppi_rows, rows), startup,
											 startup + rows * cpu_tuple_cost, NIL,
											 jsc.required_outer, 3));
		}
	}
	return paths;
}

/*
 * May widecol.per_partition_limit trim the rows of this query level?  Only a
 * SELECT that returns the rows it reads: Cassandra ignores PER PARTITION
 * LIMIT for an aggregate over everything, and a count(), a GROUP BY, a
 * DISTINCT, a window function or a write that saw only the first rows of
 * each partition would give a wrong answer without saying so.
 */
static bool
per_partition_setting_applies(PlannerInfo *root)
{
	Query	   *q = root->parse;

	return q->commandType == CMD_SELECT && !q->hasAggs && !q->hasWindowFuncs &&
		q->groupClause == NIL && q->groupingSets == NIL && q->distinctClause == NIL &&
		!root->hasHavingQual && q->rowMarks == NIL;
}

/* The column index of e if it is a column of baserel's table, else -1. */
static int
rel_column(RelOptInfo *baserel, WidecolTable *t, Expr *e)
{
	e = strip_relabel(e);
	if (e && IsA(e, Var) && ((Var *) e)->varno == baserel->relid &&
		((Var *) e)->varlevelsup == 0 && ((Var *) e)->varattno > 0 &&
		((Var *) e)->varattno <= t->ncols)
		return ((Var *) e)->varattno - 1;
	return -1;
}

/*
 * A DISTINCT ON (the partition-key columns) whose ORDER BY goes on, after
 * them, in clustering order (or its exact reverse: *reverse), keeps the
 * first row of each partition as the node reads it; a DISTINCT of exactly
 * the partition-key columns keeps one row of each.  Either is a per-
 * partition limit of 1 (CQL PER PARTITION LIMIT 1, SELECT DISTINCT pk).
 * Returns 1 for DISTINCT ON, 2 for DISTINCT, 0 when the query is neither
 * or something else (a filter, a join, grouping) sits between the read and
 * the DISTINCT.
 */
static int
distinct_per_partition(PlannerInfo *root, RelOptInfo *baserel, WidecolTable *t, ScanChoice *sc,
					   bool *reverse)
{
	Query	   *q = root->parse;
	Bitmapset  *keycols = NULL;
	ListCell   *lc;
	int			next = sc->nck_eq;
	int			dir = 0;		/* 1 forward, -1 reverse */
	int			i;

	*reverse = false;
	if (q->distinctClause == NIL || q->commandType != CMD_SELECT || q->hasAggs ||
		q->hasWindowFuncs || q->groupClause != NIL || q->groupingSets != NIL ||
		root->hasHavingQual || q->hasTargetSRFs || sc->ck_in != NULL ||
		bms_membership(root->all_baserels) != BMS_SINGLETON)
		return 0;
	/* the DISTINCT (ON) columns are exactly the partition key */
	foreach(lc, q->distinctClause)
	{
		SortGroupClause *sgc = lfirst(lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, q->targetList);
		int			ci = rel_column(baserel, t, tle->expr);

		if (ci < 0 || t->cols[ci].kind != WIDECOL_COL_PARTITION)
			return 0;
		keycols = bms_add_member(keycols, ci);
	}
	for (i = 0; i < t->npk; i++)
		if (!bms_is_member(t->pk[i], keycols))
			return 0;
	if (!q->hasDistinctOn)
		return 2;
	/* ORDER BY: the partition key, then clustering columns in one direction */
	foreach(lc, q->sortClause)
	{
		SortGroupClause *sgc = lfirst(lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, q->targetList);
		int			ci = rel_column(baserel, t, tle->expr);
		WidecolColumn *c;
		TypeCacheEntry *tce;
		Oid			opfamily,
					opcintype,
					coll;
		int16		strategy;
		int			d;

		if (ci < 0)
			return 0;
		c = &t->cols[ci];
		if (c->kind == WIDECOL_COL_PARTITION)
		{
			if (dir != 0 || next != sc->nck_eq)
				return 0;		/* a key column after a clustering column */
			continue;
		}
		if (c->kind != WIDECOL_COL_CLUSTERING)
			return 0;
		if (c->key_pos < sc->nck_eq)
			continue;			/* fixed by equality */
		if (c->key_pos != next)
			return 0;
		tce = lookup_type_cache(c->typid, TYPECACHE_BTREE_OPFAMILY);
		if (!get_ordering_op_properties(sgc->sortop, &opfamily, &opcintype, &strategy) ||
			opfamily != tce->btree_opf)
			return 0;
		coll = exprCollation((Node *) tle->expr);
		if ((OidIsValid(coll) && !lc_collate_is_c(coll)) || !widecol_key_order_agrees(c->typid, true))
			return 0;
		d = ((strategy == BTLessStrategyNumber) != c->descending) ? 1 : -1;
		if (dir != 0 && d != dir)
			return 0;
		dir = d;
		next++;
	}
	*reverse = dir < 0;
	return 1;
}

static void
append_value_expr(List **exprs, KeyQual *kq)
{
	if (kq->row_values != NIL)
		*exprs = list_concat(*exprs, kq->row_values);
	else
		*exprs = lappend(*exprs, kq->value);
}

/*
 * count(*) of partitions the node reads whole or by a clustering slice,
 * with nothing left for PostgreSQL to filter: the node counts the rows
 * (COUNT_ROWS) and only the number comes back.  An upper path of the
 * grouping stage; its plan (below) is a ForeignScan of no scan relation.
 */
void
widecolGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
							RelOptInfo *output_rel, void *extra)
{
	ForeignPath *fp;

	if (!widecol_count_pushable(root, stage, input_rel, output_rel, extra))
		return;
	output_rel->fdw_private = input_rel;
	fp = create_foreign_upper_path(root, output_rel, output_rel->reltarget, 1.0, 1.0,
								   1.0 + input_rel->rows * cpu_operator_cost, NIL, NULL,
								   list_make1(makeInteger(4)));
	add_path(output_rel, (Path *) fp);
}

/*
 * Is the grouping stage output_rel over the widecol table input_rel
 * (planned by widecol_plan_rel) a count(*) the node can count: only
 * count(*)s of partitions, every restriction pushed down?  Then the
 * caller sets output_rel->fdw_private to input_rel and adds its path;
 * widecol_plan_count plans it.
 */
bool
widecol_count_pushable(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
					   RelOptInfo *output_rel, void *extra)
{
	Query	   *q = root->parse;
	WidecolRelInfo *ri;
	GroupPathExtraData *gx = extra;
	ScanChoice	sc;
	ListCell   *lc;
	List	   *aggs;

	if (stage != UPPERREL_GROUP_AGG || input_rel->reloptkind != RELOPT_BASEREL ||
		input_rel->fdw_private == NULL || output_rel->fdw_private != NULL)
		return false;
	if (q->commandType != CMD_SELECT || q->groupClause != NIL || q->groupingSets != NIL ||
		q->hasWindowFuncs || q->hasTargetSRFs || q->rowMarks != NIL || root->hasHavingQual ||
		gx == NULL || gx->patype != PARTITIONWISE_AGGREGATE_NONE ||
		bms_membership(root->all_baserels) != BMS_SINGLETON)
		return false;
	/* the output is made of count(*) only (and constants) */
	aggs = pull_var_clause((Node *) output_rel->reltarget->exprs,
						   PVC_INCLUDE_AGGREGATES | PVC_INCLUDE_PLACEHOLDERS);
	if (aggs == NIL || contain_volatile_functions((Node *) output_rel->reltarget->exprs) ||
		contain_subplans((Node *) output_rel->reltarget->exprs))
		return false;
	foreach(lc, aggs)
	{
		Aggref	   *a = lfirst(lc);

		if (!IsA(a, Aggref) || a->aggfnoid != F_COUNT_ || !a->aggstar || a->aggfilter != NULL ||
			a->aggdistinct != NIL || a->aggorder != NIL || a->agglevelsup != 0 ||
			a->aggsplit != AGGSPLIT_SIMPLE)
			return false;
	}
	/* partitions, and every restriction handled by the node */
	ri = input_rel->fdw_private;
	choose_scan(ri, &sc, false);
	if (!sc.partition)
		return false;
	foreach(lc, input_rel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst(lc);

		if (rinfo->pseudoconstant || !list_member_ptr(sc.pushed, rinfo))
			return false;
	}
	return true;
}

/*
 * The scan of scanrel below the count(*) path (widecol_count_pushable):
 * the private list scan.c reads, with the values the node needs in *exprs.
 */
List *
widecol_plan_count(PlannerInfo *root, RelOptInfo *scanrel, Path *path, List **exprs)
{
	WidecolRelInfo *ri = scanrel->fdw_private;
	Cardinality limit_tuples = root->limit_tuples;
	List	   *local;
	List	   *priv;

	/* a LIMIT applies to the count's one row, not to the rows counted */
	root->limit_tuples = -1;
	priv = widecol_plan_scan(root, scanrel, ri->t->relid, path, 0, scanrel->baserestrictinfo,
							 &local, exprs);
	root->limit_tuples = limit_tuples;
	if (local != NIL)
		elog(ERROR, "widecol: a pushed-down count(*) left clauses to evaluate");
	return priv;
}

ForeignScan *
widecolGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					  ForeignPath *best_path, List *tlist, List *scan_clauses, Plan *outer_plan)
{
	List	   *local;
	List	   *exprs;
	List	   *priv;

	if (baserel->reloptkind == RELOPT_UPPER_REL)
	{
		/* a count(*) (widecolGetForeignUpperPaths): the scan of the table below it */
		priv = widecol_plan_count(root, baserel->fdw_private, &best_path->path, &exprs);
		/* the node's scan tuple holds the count(*)s; tlist computes from them */
		return make_foreignscan(tlist, NIL, 0, exprs, priv,
								add_to_flat_tlist(NIL, pull_var_clause((Node *) tlist,
																	   PVC_INCLUDE_AGGREGATES)),
								NIL, outer_plan);
	}
	priv = widecol_plan_scan(root, baserel, foreigntableid, &best_path->path,
							 intVal(linitial(best_path->fdw_private)), scan_clauses,
							 &local, &exprs);
	return make_foreignscan(tlist, local, baserel->relid, exprs, priv, NIL, NIL, outer_plan);
}

/*
 * The plan of the WidecolPath of kind chosen as best_path: returns the
 * private list that scan.c reads (FdwScanPrivate indexes), with the
 * clauses left to evaluate locally in *local and the values the node needs
 * in *exprs.  Refuses a filtered scan of the whole table unless
 * widecol.allow_filtering is on.
 */
List *
widecol_plan_scan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid, Path *best_path,
				  int kind, List *scan_clauses, List **local_out, List **exprs_out)
{
	WidecolRelInfo *ri = baserel->fdw_private;
	WidecolTable *t = ri->t;
	bool		use_join = kind == 3;
	bool		reverse = kind == 2;
	ScanChoice	sc;
	List	   *local = NIL;
	List	   *exprs = NIL;
	List	   *pk_in = NIL;
	List	   *attrs = NIL;
	List	   *bounds;
	List	   *priv;
	ListCell   *lc;
	int64		limit = -1;
	int			distinct = 0;
	int			i;
	WidecolIndex *ix = NULL;
	Expr	   *ix_value = NULL;
	Expr	   *ix_clause = NULL;
	bool		ix_cluster = false;

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
	/* an equality on an indexed column: read the index (one node) or allow the scan */
	if (!sc.partition && !use_join && local != NIL &&
		widecol_index_choose(root, baserel, t, local, &ix, &ix_value, &ix_clause))
	{
		/*
		 * On one node the index is exact.  On a cluster the rows are the
		 * replicas' reconciled rows of the keys their indexes gave, which a
		 * newer write may have changed: the equality is checked again.
		 */
		ix_cluster = widecol_listen_address != NULL && widecol_listen_address[0] != '\0';
		if (!ix_cluster)
			local = list_delete_ptr(local, ix_clause);
		exprs = lappend(exprs, ix_value);
	}
	if (!sc.partition && local != NIL && !widecol_allow_filtering && ix == NULL)
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
		if (sc.ck_in)
			append_value_expr(&exprs, sc.ck_in);
		if (sc.lower)
			append_value_expr(&exprs, sc.lower);
		if (sc.upper)
			append_value_expr(&exprs, sc.upper);
	}

	/* LIMIT: only when it applies to this scan's rows as they come */
	if (root->limit_tuples > 0 && local == NIL &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		(root->query_pathkeys == NIL || best_path->pathkeys != NIL) && !use_join)
		limit = (int64) root->limit_tuples;

	/* DISTINCT (ON) the partition key: the node reads one row per partition */
	if (local == NIL && !use_join && ix == NULL)
	{
		bool		dreverse;

		distinct = distinct_per_partition(root, baserel, t, &sc, &dreverse);
		/* reverse reads need a partition key */
		if (distinct != 0 && dreverse && !sc.partition)
			distinct = 0;
		if (distinct != 0 && dreverse)
			reverse = true;
	}

	for (i = 0; i < t->ncols; i++)
		if (bms_is_member(t->cols[i].attnum - FirstLowInvalidHeapAttributeNumber, ri->attrs_used) ||
			bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, ri->attrs_used))
			attrs = lappend_int(attrs, t->cols[i].attnum);

	bounds = list_make4_int(sc.lower != NULL, sc.lower && sc.lower->op == KOP_GE,
							sc.upper != NULL, sc.upper && sc.upper->op == KOP_LE);
	bounds = lappend_int(bounds, sc.lower ? Max(list_length(sc.lower->row_values), 1) : 0);
	bounds = lappend_int(bounds, sc.upper ? Max(list_length(sc.upper->row_values), 1) : 0);
	bounds = lappend_int(bounds, sc.ck_in != NULL);
	priv = list_make5(makeInteger(sc.partition ? 1 : ix != NULL ? 2 : 0),
					  pk_in,
					  makeInteger(sc.nck_eq),
					  bounds,
					  makeInteger(reverse));
	priv = lappend(priv, makeInteger((int) Min(limit, (int64) INT_MAX)));
	priv = lappend(priv, attrs);
	{
		char	   *desc = describe_choice(root, baserel, t, &sc, reverse, limit);

		if (ix != NULL)
			desc = psprintf("secondary index %s: %s = %s%s", quote_identifier(ix->name),
							quote_identifier(t->cols[ix->col].name),
							bms_is_empty(pull_varnos(root, (Node *) ix_value)) ?
							deparse_expression((Node *) ix_value,
											   deparse_context_for(get_rel_name(t->relid), t->relid),
											   false, false) : "(outer)",
							ix_cluster ? " (each token range's replicas at the consistency level, rows checked again)" :
							strstr(desc, "; limit: ") ? strstr(desc, "; limit: ") : "");
		priv = lappend(priv, makeString(desc));
	}
	priv = lappend(priv, makeInteger((int) foreigntableid));
	priv = lappend(priv, list_make3_int(distinct != 0 ? 1 : 0, per_partition_setting_applies(root),
										distinct));
	if (ix != NULL)
		priv = lappend(priv, makeString(ix->name));
	*local_out = local;
	*exprs_out = exprs;
	return priv;
}

/*
 * The private list of a plain read of every row and column of t in token
 * order, as widecol_plan_scan makes it (the table access method's scans).
 */
List *
widecol_full_scan_private(WidecolTable *t)
{
	List	   *attrs = NIL;
	List	   *priv;

	for (int i = 0; i < t->ncols; i++)
		if (!t->cols[i].dropped)
			attrs = lappend_int(attrs, t->cols[i].attnum);
	priv = list_make5(makeInteger(0), NIL, makeInteger(0), list_make4_int(0, 0, 0, 0),
					  makeInteger(0));
	priv = lappend(priv, makeInteger(-1));
	priv = lappend(priv, attrs);
	priv = lappend(priv, makeString("full scan in token order"));
	priv = lappend(priv, makeInteger((int) t->relid));
	priv = lappend(priv, list_make3_int(0, 0, 0));
	return priv;
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
	if (kq->row_values != NIL)
	{
		ListCell   *lc;
		int			i = 0;

		appendStringInfoChar(s, '(');
		for (i = 0; i < list_length(kq->row_values); i++)
			appendStringInfo(s, "%s%s", i ? ", " : "",
							 quote_identifier(t->cols[t->ck[t->cols[kq->col].key_pos + i]].name));
		appendStringInfo(s, ") %s (", kop_name(kq->op));
		i = 0;
		foreach(lc, kq->row_values)
			appendStringInfo(s, "%s%s", i++ ? ", " : "",
							 deparse_expression(lfirst(lc), ctx, false, false));
		appendStringInfoChar(s, ')');
		return;
	}
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
		if (sc->nck_eq > 0 || sc->lower || sc->upper || sc->ck_in)
		{
			appendStringInfoString(&s, "; clustering: ");
			for (i = 0; i < sc->nck_eq; i++)
			{
				if (!first)
					appendStringInfoString(&s, " AND ");
				describe_qual(&s, root, t, sc->ckq[i], ctx);
				first = false;
			}
			if (sc->ck_in)
			{
				if (!first)
					appendStringInfoString(&s, " AND ");
				describe_qual(&s, root, t, sc->ck_in, ctx);
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
		appendStringInfo(&s, "; order: clustering%s%s", reverse ? " (reversed)" : "",
						 sc->ck_in ? " in each IN value" : "");
	if (limit > 0)
		appendStringInfo(&s, "; limit: " INT64_FORMAT, limit);
	return s.data;
}
