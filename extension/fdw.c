/*-------------------------------------------------------------------------
 *
 * fdw.c
 *		  The widecol foreign data wrapper: its handler, the direct DELETE
 *		  and ANALYZE.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/fdw.c
 *
 * NOTES
 *	  The validator is in validate.c, planning in plan.c, scans in
 *	  scan.c, writes in modify.c and IMPORT FOREIGN SCHEMA in import.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/time.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
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

/* callbacks */
static bool widecolAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
									   BlockNumber *totalpages);
static bool widecolPlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
									int subplan_index);
static void widecolBeginDirectModify(ForeignScanState *node, int eflags);
static TupleTableSlot *widecolIterateDirectModify(ForeignScanState *node);
static void widecolEndDirectModify(ForeignScanState *node);
static void widecolExplainDirectModify(ForeignScanState *node, ExplainState *es);

/* helpers */
static int	acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
								int targrows, double *totalrows, double *totaldeadrows);

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
	widecol_fetch_page(&ss);
	for (;;)
	{
		if (ss.row >= (int) ss.page->nrows)
		{
			if (!ss.page->more)
				break;
			widecol_fetch_page(&ss);
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
			widecol_fill_row(&ss, slot, r, false);
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
