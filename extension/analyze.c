/*-------------------------------------------------------------------------
 *
 * analyze.c
 *		  ANALYZE of widecol tables: the partition count from the node's
 *		  statistics and a row sample from a full read.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/analyze.c
 *
 * NOTES
 *	  The AnalyzeForeignTable callback of the FDW routine (wired in
 *	  fdw.c) and the AcquireSampleRowsFunc it returns.  The sample is read
 *	  with scan.c's paging and row decoding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/tuptable.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "client.h"

#include "widecol.h"

/* helpers */
static int	acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
								int targrows, double *totalrows, double *totaldeadrows);

/*
 * relpages of a widecol table holds its number of partitions, so that
 * reltuples / relpages estimates the rows of one partition.  The count
 * comes from the node's SSTable statistics; data still in memtables is
 * estimated at one partition per 100 entries.
 */
bool
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
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		ss.wanted[i] = !c->dropped && c->kind != WIDECOL_COL_STATIC &&
			c->kind != WIDECOL_COL_WRITETIME && c->kind != WIDECOL_COL_TTL;
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
