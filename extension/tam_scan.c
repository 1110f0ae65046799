/*-------------------------------------------------------------------------
 *
 * tam_scan.c
 *		  The CustomScan that reads tables of the widecol access method with
 *		  the foreign table's pushdown: partition keys, clustering slices,
 *		  clustering order, LIMIT, needed columns, parameterized joins.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/tam_scan.c
 *
 * NOTES
 *	  A set_rel_pathlist_hook (chained) replaces the paths PostgreSQL made
 *	  for a widecol table (a sequential scan that would read and filter
 *	  every row, TID scans) with "WidecolScan" CustomPaths.  There is no
 *	  planner of its own here: plan.c, which plans the foreign tables,
 *	  classifies the restrictions, estimates the rows, makes the paths
 *	  (widecol_plan_paths) and the plan's private list (widecol_plan_scan),
 *	  and refuses a filtered scan of the whole table unless
 *	  widecol.allow_filtering is on; scan.c executes the plan and explains
 *	  it, exactly as for a ForeignScan.  custom_private and custom_exprs
 *	  hold what fdw_private and fdw_exprs hold there.
 *
 *	  Rows returned get a made-up TID from tam.c, which keeps them while an
 *	  UPDATE or DELETE of the table runs.
 *
 *	  A create_upper_paths_hook (chained) adds the foreign table's
 *	  count(*) pushdown (plan.c, widecol_count_pushable): a WidecolScan of
 *	  no scan relation whose one row holds the count the node made
 *	  (COUNT_ROWS), since a table access method has no upper-path callback
 *	  of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planner.h"
#include "optimizer/tlist.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "client.h"

#include "widecol.h"

/* Executor state of a WidecolScan. */
typedef struct TamScanState
{
	CustomScanState css;
	WidecolScanState *ss;
	List	   *priv;
	int			keep_rows;		/* an UPDATE or DELETE of the table runs: TAM_KEEP_* */
	uint64		kept;			/* the row kept for TAM_KEEP_LATEST */
} TamScanState;

static set_rel_pathlist_hook_type prev_set_rel_pathlist = NULL;
static create_upper_paths_hook_type prev_create_upper_paths = NULL;

/* hooks and callbacks */
static void tam_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti,
								 RangeTblEntry *rte);
static Plan *tam_plan_custom_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
								  List *tlist, List *clauses, List *custom_plans);
static CustomPath *new_path(RelOptInfo *rel, double rows, Cost startup, Cost total,
							const CustomPathMethods *methods);
static void tam_upper_paths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
							RelOptInfo *output_rel, void *extra);
static Plan *tam_plan_count_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
								 List *tlist, List *clauses, List *custom_plans);
static Node *tam_create_scan_state(CustomScan *cscan);
static void tam_begin_scan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *tam_exec_scan(CustomScanState *node);
static void tam_end_scan(CustomScanState *node);
static void tam_rescan(CustomScanState *node);
static void tam_explain_scan(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomPathMethods tam_path_methods = {
	.CustomName = "WidecolScan",
	.PlanCustomPath = tam_plan_custom_path,
};

static const CustomPathMethods tam_count_path_methods = {
	.CustomName = "WidecolScan",
	.PlanCustomPath = tam_plan_count_path,
};

static const CustomScanMethods tam_plan_methods = {
	.CustomName = "WidecolScan",
	.CreateCustomScanState = tam_create_scan_state,
};

static const CustomExecMethods tam_exec_methods = {
	.CustomName = "WidecolScan",
	.BeginCustomScan = tam_begin_scan,
	.ExecCustomScan = tam_exec_scan,
	.EndCustomScan = tam_end_scan,
	.ReScanCustomScan = tam_rescan,
	.ExplainCustomScan = tam_explain_scan,
};

void
widecol_tam_scan_init(void)
{
	RegisterCustomScanMethods(&tam_plan_methods);
	prev_set_rel_pathlist = set_rel_pathlist_hook;
	set_rel_pathlist_hook = tam_set_rel_pathlist;
	prev_create_upper_paths = create_upper_paths_hook;
	create_upper_paths_hook = tam_upper_paths;
}

/* Is plan a WidecolScan? */
bool
widecol_is_tam_scan(Plan *plan)
{
	return plan != NULL && IsA(plan, CustomScan) &&
		((CustomScan *) plan)->methods == &tam_plan_methods;
}

/* Does a restriction name the ctid of relation relid (varno)? */
static bool
uses_ctid(RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, rel->baserestrictinfo)
	{
		Bitmapset  *attrs = NULL;

		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
		if (bms_is_member(SelfItemPointerAttributeNumber - FirstLowInvalidHeapAttributeNumber, attrs))
			return true;
	}
	return false;
}

/* A CustomPath of rel (not parallel) producing its target, with these estimates. */
static CustomPath *
new_path(RelOptInfo *rel, double rows, Cost startup, Cost total, const CustomPathMethods *methods)
{
	CustomPath *cp = makeNode(CustomPath);

	cp->path.pathtype = T_CustomScan;
	cp->path.parent = rel;
	cp->path.pathtarget = rel->reltarget;
	cp->path.parallel_aware = false;
	cp->path.parallel_safe = false;
	cp->path.parallel_workers = 0;
	cp->path.rows = rows;
	cp->path.startup_cost = startup;
	cp->path.total_cost = total;
	cp->methods = methods;
	return cp;
}

/*
 * The paths of a widecol table: plan.c's, as CustomPaths, instead of
 * PostgreSQL's own.
 */
static void
tam_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	ListCell   *lc;

	if (prev_set_rel_pathlist)
		prev_set_rel_pathlist(root, rel, rti, rte);
	if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION ||
		rel->reloptkind != RELOPT_BASEREL || !widecol_is_tam_table(rte->relid))
		return;
	if (rte->tablesample != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("TABLESAMPLE is not supported for widecol table \"%s\"", get_rel_name(rte->relid)),
				 errhint("Sample with WHERE random() < fraction under widecol.allow_filtering, or read one partition.")));
	if (uses_ctid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rows of widecol table \"%s\" cannot be selected by ctid", get_rel_name(rte->relid)),
				 errdetail("A widecol row has no physical place: its ctid is made up for the statement that read it."),
				 errhint("Select rows by their primary key instead of their ctid.")));
	widecol_plan_rel(root, rel, rte->relid);
	rel->pathlist = NIL;
	rel->partial_pathlist = NIL;
	rel->consider_parallel = false;
	foreach(lc, widecol_plan_paths(root, rel))
	{
		WidecolPath *wp = lfirst(lc);
		CustomPath *cp = new_path(rel, wp->rows, wp->startup, wp->total, &tam_path_methods);

		cp->path.param_info = get_baserel_parampathinfo(root, rel, wp->required_outer);
		cp->path.pathkeys = wp->pathkeys;
		cp->flags = CUSTOMPATH_SUPPORT_PROJECTION;
		cp->custom_private = list_make1(makeInteger(wp->kind));
		add_path(rel, (Path *) cp);
	}
}

static Plan *
tam_plan_custom_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
					 List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	List	   *local;
	List	   *exprs;

	cscan->custom_private = widecol_plan_scan(root, rel, rte->relid, &best_path->path,
											  intVal(linitial(best_path->custom_private)),
											  clauses, &local, &exprs);
	/*
	 * The rows an UPDATE or DELETE reads are fetched again by TID for the
	 * new row and for RETURNING (tam.c keeps them): read every column.
	 */
	if (root->parse->resultRelation == (int) rel->relid &&
		(root->parse->commandType == CMD_UPDATE || root->parse->commandType == CMD_DELETE))
	{
		WidecolTable *t = widecol_get_table(rte->relid);
		List	   *attrs = NIL;

		for (int i = 0; i < t->ncols; i++)
			if (!t->cols[i].dropped)
				attrs = lappend_int(attrs, t->cols[i].attnum);
		lfirst(list_nth_cell(cscan->custom_private, FSP_ATTRS)) = attrs;
	}
	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = local;
	cscan->scan.scanrelid = rel->relid;
	cscan->custom_exprs = exprs;
	cscan->flags = best_path->flags;
	cscan->methods = &tam_plan_methods;
	return &cscan->scan.plan;
}

/*
 * A count(*) of partitions of a widecol table counted by the node
 * (widecol_count_pushable): a path of the grouping stage.
 */
static void
tam_upper_paths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
				RelOptInfo *output_rel, void *extra)
{
	RangeTblEntry *rte;
	CustomPath *cp;

	if (prev_create_upper_paths)
		prev_create_upper_paths(root, stage, input_rel, output_rel, extra);
	if (stage != UPPERREL_GROUP_AGG || input_rel->reloptkind != RELOPT_BASEREL)
		return;
	rte = planner_rt_fetch(input_rel->relid, root);
	if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION ||
		!widecol_is_tam_table(rte->relid) ||
		!widecol_count_pushable(root, stage, input_rel, output_rel, extra))
		return;
	output_rel->fdw_private = input_rel;
	cp = new_path(output_rel, 1, 1.0, 1.0 + input_rel->rows * cpu_operator_cost,
				  &tam_count_path_methods);
	add_path(output_rel, (Path *) cp);
}

/* The plan of a count(*) path: a WidecolScan of no relation, its scan tuple the count(*)s. */
static Plan *
tam_plan_count_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
					List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	List	   *exprs;

	cscan->custom_private = widecol_plan_count(root, rel->fdw_private, &best_path->path, &exprs);
	cscan->scan.plan.targetlist = tlist;
	cscan->scan.scanrelid = 0;
	cscan->custom_scan_tlist = add_to_flat_tlist(NIL, pull_var_clause((Node *) tlist,
																	  PVC_INCLUDE_AGGREGATES));
	cscan->custom_exprs = exprs;
	cscan->methods = &tam_plan_methods;
	return &cscan->scan.plan;
}

static Node *
tam_create_scan_state(CustomScan *cscan)
{
	TamScanState *ts = palloc0(sizeof(TamScanState));

	NodeSetTag(ts, T_CustomScanState);
	ts->css.methods = &tam_exec_methods;
	ts->priv = cscan->custom_private;
	return (Node *) ts;
}

static void
tam_begin_scan(CustomScanState *node, EState *estate, int eflags)
{
	TamScanState *ts = (TamScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Oid			relid;

	/* without a scan relation the plan is a count(*) (tam_plan_count_path) */
	if (cscan->scan.scanrelid == 0)
	{
		relid = (Oid) intVal(list_nth(ts->priv, FSP_RELID));
		ts->ss = widecol_begin_scan(&node->ss.ps, relid, ts->priv, cscan->custom_exprs, eflags);
		ts->ss->count_only = true;
		return;
	}
	relid = RelationGetRelid(node->ss.ss_currentRelation);
	ts->ss = widecol_begin_scan(&node->ss.ps, relid, ts->priv, cscan->custom_exprs, eflags);
	ts->keep_rows = widecol_tam_keeps_rows(relid);
}

static TupleTableSlot *
tam_scan_next(ScanState *node)
{
	TamScanState *ts = (TamScanState *) node;
	ExprContext *econtext = node->ps.ps_ExprContext;
	MemoryContext old;
	TupleTableSlot *slot;

	if (ts->ss->count_only)
		return widecol_scan_count(ts->ss, node->ss_ScanTupleSlot, econtext);
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	slot = widecol_scan_next(ts->ss, node->ss_ScanTupleSlot, econtext);

	MemoryContextSwitchTo(old);
	if (!TupIsNull(slot))
		widecol_tam_row_returned(node->ss_currentRelation, slot, ts->keep_rows, &ts->kept);
	return slot;
}

static bool
tam_scan_recheck(ScanState *node, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
tam_exec_scan(CustomScanState *node)
{
	return ExecScan(&node->ss, tam_scan_next, tam_scan_recheck);
}

static void
tam_end_scan(CustomScanState *node)
{
	TamScanState *ts = (TamScanState *) node;

	if (ts->ss && ts->ss->page)
	{
		wc_client_page_free(ts->ss->page);
		ts->ss->page = NULL;
	}
}

static void
tam_rescan(CustomScanState *node)
{
	TamScanState *ts = (TamScanState *) node;

	widecol_rescan(ts->ss, ts->priv);
	ExecScanReScan(&node->ss);
}

static void
tam_explain_scan(CustomScanState *node, List *ancestors, ExplainState *es)
{
	widecol_explain_scan(((TamScanState *) node)->ss, es);
}
