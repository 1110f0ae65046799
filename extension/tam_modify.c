/*-------------------------------------------------------------------------
 *
 * tam_modify.c
 *		  UPDATE without reading on tables of the widecol access method:
 *		  counter increments and collection element writes.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/tam_modify.c
 *
 * NOTES
 *	  A table access method has no "direct modify": PostgreSQL's UPDATE
 *	  reads each row, computes the new one and hands it to tuple_update,
 *	  so `SET c = c + 1` would read the counter and write the sum, losing
 *	  concurrent increments.  A planner hook (chained) therefore looks at
 *	  the finished plan of an UPDATE of a widecol table with counters or
 *	  collections: when the ModifyTable reads its rows by the whole primary
 *	  key through a WidecolScan (tam_scan.c) and every assignment is an
 *	  increment (counter.c) or an element write or a constant
 *	  (collection.c), the ModifyTable is replaced by a "WidecolModify"
 *	  CustomScan that sends the deltas or elements to the node without
 *	  reading, exactly as the foreign table's direct modify does
 *	  (direct_delete.c): same scan state, same writes, same EXPLAIN lines.
 *	  It sets es_processed, which gives the command tag its row count.
 *	  UPDATEs with RETURNING, UPDATE triggers, subqueries or other shapes keep
 *	  PostgreSQL's plan (and an UPDATE of a counter table that is no
 *	  increment is refused, as for foreign tables).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "widecol.h"

/* Executor state of a WidecolModify. */
typedef struct TamModifyState
{
	CustomScanState css;
	WidecolScanState *ss;
	bool		done;
} TamModifyState;

/* what custom_private holds: the scan's private list, then the kind and the writes */
enum
{
	TMP_SCAN,					/* plan.c's private list of the WidecolScan */
	TMP_KIND,					/* Integer: 1 counter deltas, 2 collection writes */
	TMP_WRITES					/* List: counter.c's deltas or collection.c's ops */
};

static planner_hook_type prev_planner = NULL;

/* hooks and callbacks */
static PlannedStmt *tam_planner(Query *parse, const char *query_string, int cursorOptions,
								ParamListInfo boundParams);
static Node *tam_create_modify_state(CustomScan *cscan);
static void tam_begin_modify(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *tam_exec_modify(CustomScanState *node);
static void tam_end_modify(CustomScanState *node);
static void tam_rescan_modify(CustomScanState *node);
static void tam_explain_modify(CustomScanState *node, List *ancestors, ExplainState *es);

/* helpers */
static void plan_direct_update(PlannedStmt *ps);

static const CustomScanMethods tam_modify_plan_methods = {
	.CustomName = "WidecolModify",
	.CreateCustomScanState = tam_create_modify_state,
};

static const CustomExecMethods tam_modify_exec_methods = {
	.CustomName = "WidecolModify",
	.BeginCustomScan = tam_begin_modify,
	.ExecCustomScan = tam_exec_modify,
	.EndCustomScan = tam_end_modify,
	.ReScanCustomScan = tam_rescan_modify,
	.ExplainCustomScan = tam_explain_modify,
};

void
widecol_tam_modify_init(void)
{
	RegisterCustomScanMethods(&tam_modify_plan_methods);
	prev_planner = planner_hook;
	planner_hook = tam_planner;
}

static PlannedStmt *
tam_planner(Query *parse, const char *query_string, int cursorOptions,
			ParamListInfo boundParams)
{
	PlannedStmt *ps;

	if (prev_planner)
		ps = prev_planner(parse, query_string, cursorOptions, boundParams);
	else
		ps = standard_planner(parse, query_string, cursorOptions, boundParams);
	if (ps->commandType == CMD_UPDATE)
		plan_direct_update(ps);
	return ps;
}

/*
 * Replace the ModifyTable of ps by a WidecolModify when it is an UPDATE of
 * a widecol table that can be written without reading (see NOTES).
 */
static void
plan_direct_update(PlannedStmt *ps)
{
	ModifyTable *mt = (ModifyTable *) ps->planTree;
	CustomScan *scan;
	CustomScan *cs;
	RangeTblEntry *rte;
	WidecolTable *t;
	Relation	rel;
	bool		triggers;
	Index		rti;
	List	   *exprs = NIL,
			   *writes;
	ListCell   *lc;
	bool		names_rows;
	int			kind;

	if (!IsA(mt, ModifyTable) || mt->operation != CMD_UPDATE ||
		list_length(mt->resultRelations) != 1)
		return;
	rti = linitial_int(mt->resultRelations);
	rte = rt_fetch(rti, ps->rtable);
	if (rte->rtekind != RTE_RELATION || !widecol_is_tam_table(rte->relid))
		return;
	t = widecol_get_table(rte->relid);
	if (t->counter_table && mt->returningLists != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("RETURNING is not supported for UPDATE of counter table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("A counter is changed without reading it, so its new value is not known."),
				 errhint("Drop RETURNING and read the counter with SELECT after the UPDATE.")));
	if ((!t->counter_table && !t->has_collections) || mt->returningLists != NIL ||
		mt->plan.initPlan != NIL || ps->subplans != NIL)
		return;
	scan = (CustomScan *) outerPlan(mt);
	if (!widecol_is_tam_scan((Plan *) scan) || scan->scan.scanrelid != rti ||
		scan->scan.plan.initPlan != NIL)
		return;
	/* UPDATE triggers run in ModifyTable: keep PostgreSQL's plan for them */
	rel = table_open(rte->relid, NoLock);
	triggers = rel->trigdesc != NULL &&
		(rel->trigdesc->trig_update_before_row || rel->trigdesc->trig_update_after_row ||
		 rel->trigdesc->trig_update_instead_row ||
		 rel->trigdesc->trig_update_before_statement ||
		 rel->trigdesc->trig_update_after_statement);
	table_close(rel, NoLock);
	if (triggers)
		return;
	/* the new values of the columns SET, in the order of updateColnosLists */
	foreach(lc, scan->scan.plan.targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk)
			exprs = lappend(exprs, tle->expr);
	}
	if (list_length(exprs) != list_length(linitial(mt->updateColnosLists)))
		return;
	names_rows = widecol_direct_update_names_rows(scan->custom_private, scan->scan.plan.qual, t);
	if (t->counter_table)
	{
		kind = 1;
		writes = widecol_counter_deltas(exprs, linitial(mt->updateColnosLists), rti,
										names_rows, t);
	}
	else
	{
		kind = 2;
		writes = names_rows ? widecol_collection_ops(exprs, linitial(mt->updateColnosLists),
													 rti, t) : NIL;
	}
	if (writes == NIL)
		return;
	cs = makeNode(CustomScan);
	cs->scan.plan.startup_cost = mt->plan.startup_cost;
	cs->scan.plan.total_cost = mt->plan.total_cost;
	cs->scan.plan.plan_rows = mt->plan.plan_rows;
	cs->scan.plan.plan_width = 0;
	cs->scan.plan.targetlist = NIL;
	cs->scan.scanrelid = rti;
	cs->custom_exprs = scan->custom_exprs;
	cs->custom_private = list_make3(scan->custom_private, makeInteger(kind), writes);
	cs->methods = &tam_modify_plan_methods;
	ps->planTree = &cs->scan.plan;
}

/* ---------------------------------------------------------------- execution */

static Node *
tam_create_modify_state(CustomScan *cscan)
{
	TamModifyState *ms = palloc0(sizeof(TamModifyState));

	NodeSetTag(ms, T_CustomScanState);
	ms->css.methods = &tam_modify_exec_methods;
	return (Node *) ms;
}

static void
tam_begin_modify(CustomScanState *node, EState *estate, int eflags)
{
	TamModifyState *ms = (TamModifyState *) node;
	CustomScan *cs = (CustomScan *) node->ss.ps.plan;

	ms->ss = widecol_begin_scan(&node->ss.ps, RelationGetRelid(node->ss.ss_currentRelation),
								list_nth(cs->custom_private, TMP_SCAN), cs->custom_exprs,
								eflags);
}

/* Send the writes once; the node returns no rows. */
static TupleTableSlot *
tam_exec_modify(CustomScanState *node)
{
	TamModifyState *ms = (TamModifyState *) node;
	CustomScan *cs = (CustomScan *) node->ss.ps.plan;
	List	   *writes = list_nth(cs->custom_private, TMP_WRITES);

	if (!ms->done)
	{
		ms->done = true;
		if (intVal(list_nth(cs->custom_private, TMP_KIND)) == 1)
			widecol_counter_update(ms->ss, &node->ss.ps, writes);
		else
			widecol_collection_update(ms->ss, &node->ss.ps, writes);
	}
	return NULL;
}

static void
tam_end_modify(CustomScanState *node)
{
}

static void
tam_rescan_modify(CustomScanState *node)
{
	((TamModifyState *) node)->done = false;
}

static void
tam_explain_modify(CustomScanState *node, List *ancestors, ExplainState *es)
{
	TamModifyState *ms = (TamModifyState *) node;
	CustomScan *cs = (CustomScan *) node->ss.ps.plan;

	if (intVal(list_nth(cs->custom_private, TMP_KIND)) == 1)
		widecol_counter_explain(ms->ss, es);
	else
		widecol_collection_explain(ms->ss, list_nth(cs->custom_private, TMP_WRITES), es);
}
