/*-------------------------------------------------------------------------
 *
 * direct_delete.c
 *		  DELETE without reading: a DELETE whose WHERE the node handles
 *		  entirely becomes one tombstone per partition.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/direct_delete.c
 *
 * NOTES
 *	  The PlanDirectModify, BeginDirectModify, IterateDirectModify,
 *	  EndDirectModify and ExplainDirectModify callbacks of the FDW routine
 *	  (wired in fdw.c).  The plan is the ForeignScan plan.c made, so the
 *	  partitions and clustering bounds come from scan.c's scan state; the
 *	  tombstones go to the node through modify.c's batch writer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "nodes/primnodes.h"
#include "parser/parsetree.h"

#include "client.h"
#include "mutation.h"

#include "widecol.h"

/* ------------------------------------------------ UPDATE without reading */

/* e without the domain coercions and relabelings above it. */
Expr *
widecol_strip_coercions(Expr *e)
{
	for (;;)
	{
		if (IsA(e, CoerceToDomain))
			e = ((CoerceToDomain *) e)->arg;
		else if (IsA(e, RelabelType))
			e = ((RelabelType *) e)->arg;
		else
			return e;
	}
}

/* Is e (coercions aside) column attno of range table entry rti? */
bool
widecol_is_column(Expr *e, Index rti, AttrNumber attno)
{
	e = widecol_strip_coercions(e);
	return IsA(e, Var) && ((Var *) e)->varno == (int) rti && ((Var *) e)->varattno == attno &&
		((Var *) e)->varlevelsup == 0;
}

/*
 * Does a scan planned by plan.c (its private list priv, its quals qual)
 * read exactly the rows named by the whole primary key, so that an UPDATE
 * of it (counters, collection elements) may write them without reading?
 */
bool
widecol_direct_update_names_rows(List *priv, List *qual, WidecolTable *t)
{
	return list_length(priv) > FSP_RELID &&
		intVal(list_nth(priv, FSP_MODE)) == 1 &&
		intVal(list_nth(priv, FSP_NCK_EQ)) == t->nck &&
		qual == NIL && widecol_per_partition_limit == 0;
}

/*
 * Write one row per partition of the scan ss of executor node ps (the row
 * its clustering key names) without reading: fill adds the row's cells to
 * rb.  Adds the rows to es_processed (a missing row is created, so UPDATE
 * reports it); what names the write in an encoding error.
 */
void
widecol_direct_update_rows(WidecolScanState *ss, PlanState *ps, widecol_row_fill fill,
						   void *arg, const char *what)
{
	WidecolTable *t = ss->t;
	WidecolWriter *w;
	ListCell   *lc;
	int64		count = 0;

	widecol_build_partitions(ss, ps->ps_ExprContext);
	w = widecol_writer_begin(t);
	foreach(lc, ss->partitions)
	{
		StringInfo	pk = lfirst(lc);
		wc_mutation m;
		const uint8_t *enc;
		size_t		len;
		wc_status	st;

		wc_mutation_init(&m, t->table_id, pk->data, pk->len);
		fill(wc_mutation_row_begin(&m, false, ss->lower_key.data, ss->lower_key.len), pk, arg);
		wc_mutation_row_end(&m);
		st = wc_mutation_encode(&m, &enc, &len);
		if (st != WC_OK)
		{
			wc_mutation_free(&m);
			widecol_report(st, what);
		}
		widecol_writer_add(w, enc, len);
		wc_mutation_free(&m);
		count++;
	}
	widecol_writer_end(w);
	ss->requests++;
	ps->state->es_processed += count;
}

/*
 * A DELETE whose WHERE is entirely pushed down (the partition key, and
 * optionally a clustering prefix and range) is done without reading: one
 * tombstone per partition - a partition tombstone, a row tombstone for a
 * full key, or a range tombstone for a prefix or range.
 */
bool
widecolPlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
						int subplan_index)
{
	Plan	   *subplan = outerPlan(plan);
	ForeignScan *fscan;

	widecol_matview_refuse_write(widecol_get_table(planner_rt_fetch(resultRelation, root)->relid));
	if (plan->operation == CMD_UPDATE && plan->returningLists == NIL && subplan != NULL &&
		IsA(subplan, ForeignScan) && ((ForeignScan *) subplan)->scan.scanrelid == resultRelation)
	{
		WidecolTable *t = widecol_get_table(planner_rt_fetch(resultRelation, root)->relid);

		if (t->counter_table)
			return widecol_counter_plan_update(root, plan, resultRelation,
											   (ForeignScan *) subplan, t);
		if (t->has_collections)
			return widecol_collection_plan_update(root, plan, resultRelation,
												  (ForeignScan *) subplan, t);
	}
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

void
widecolBeginDirectModify(ForeignScanState *node, int eflags)
{
	widecolBeginForeignScan(node, eflags);
}

TupleTableSlot *
widecolIterateDirectModify(ForeignScanState *node)
{
	WidecolScanState *ss = node->fdw_state;
	WidecolTable *t = ss->t;
	EState	   *estate = node->ss.ps.state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	WidecolWriter *w;
	ListCell   *lc;
	int64		ts = widecol_txn_write_timestamp();
	uint32		now = (uint32) time(NULL);
	int64		count = 0;

	if (ss->started)
		return ExecClearTuple(slot);
	ss->started = true;
	if (widecol_collection_is_update((ForeignScan *) node->ss.ps.plan))
	{
		widecol_collection_update(ss, &node->ss.ps,
								  llast(((ForeignScan *) node->ss.ps.plan)->fdw_private));
		return ExecClearTuple(slot);
	}
	if (((ForeignScan *) node->ss.ps.plan)->operation == CMD_UPDATE)
	{
		widecol_counter_update(ss, &node->ss.ps,
							   llast(((ForeignScan *) node->ss.ps.plan)->fdw_private));
		return ExecClearTuple(slot);
	}
	widecol_build_partitions(ss, node->ss.ps.ps_ExprContext);
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

void
widecolEndDirectModify(ForeignScanState *node)
{
}

void
widecolExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	WidecolScanState *ss = node->fdw_state;
	WidecolTable *t = ss->t;
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	int			nck_eq = intVal(list_nth(fs->fdw_private, FSP_NCK_EQ));
	List	   *bounds = list_nth(fs->fdw_private, FSP_BOUNDS);
	const char *kind;

	if (widecol_collection_is_update(fs))
	{
		widecol_collection_explain(ss, llast(fs->fdw_private), es);
		return;
	}
	if (fs->operation == CMD_UPDATE)
	{
		widecol_counter_explain(ss, es);
		return;
	}
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
