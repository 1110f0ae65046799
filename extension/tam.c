/*-------------------------------------------------------------------------
 *
 * tam.c
 *		  The widecol table access method: CREATE TABLE ... USING widecol
 *		  gives ordinary relations whose rows live in the widecol engine.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/tam.c
 *
 * NOTES
 *	  The install script makes widecol_tam_handler the handler of the
 *	  access method "widecol".  A table of this access method is modelled
 *	  exactly as a foreign table (schema.c builds its WidecolTable from the
 *	  relation options kept by tam_ddl.c), and reads and writes go through
 *	  the foreign data wrapper's executor: scans through scan.c, writes
 *	  through modify.c, so both faces store the same cells.
 *
 *	  Rows have no physical place.  Each row a scan returns gets a
 *	  made-up TID; while an UPDATE or DELETE of the table runs, the scan
 *	  keeps the rows it returned under their TIDs, so that the executor can
 *	  fetch the old row and name the row to change (its primary key).
 *
 *	  Which cells a statement writes follows the foreign table: an INSERT
 *	  the columns it names (and columns with a DEFAULT), an UPDATE the
 *	  columns it sets, COPY and CREATE TABLE AS every column but NULLs.  An
 *	  ExecutorStart hook records, per statement, the columns of its target
 *	  widecol tables; the writes are sent when the statement ends
 *	  (ExecutorEnd), at the end of a COPY or CREATE TABLE AS
 *	  (finish_bulk_insert), and at the latest before commit.
 *
 *	  What a wide-column store cannot honour fails with an error that says
 *	  what to use instead: index builds, TID-addressed fetches of rows no
 *	  scan returned, row locks, TABLESAMPLE, rewrites by CLUSTER or
 *	  VACUUM FULL.  VACUUM answers with a NOTICE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "catalog/storage.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "parser/parsetree.h"
#include "storage/smgr.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "client.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_tam_handler);

/*
 * A widecol table written by a running statement: which columns it writes
 * and its writes not yet sent.  qd is the statement (NULL for COPY and
 * CREATE TABLE AS, ended by finish_bulk_insert).
 */
typedef struct TamTarget
{
	Oid			relid;
	CmdType		op;
	QueryDesc  *qd;
	Bitmapset  *cols;			/* attnums written; NULL: every column, NULLs skipped */
	MemoryContext cxt;			/* holds ms; deleted when the writes end */
	WidecolModifyState *ms;		/* made at the first write */
	SubTransactionId subid;		/* a failed subtransaction drops its writes */
	bool		streaming;		/* UPDATE/DELETE that changes each row as it is read */
	bool		claimed;		/* its scan began (it keeps the latest row only) */
} TamTarget;

/* A row returned by a scan, under its made-up TID (see NOTES). */
typedef struct TamRow
{
	uint64		tid;			/* hash key */
	Oid			relid;
	HeapTuple	tuple;
} TamRow;

/* A scan of a widecol table. */
typedef struct TamScanDesc
{
	TableScanDescData base;
	MemoryContext cxt;			/* the scan's memory */
	MemoryContext rowcxt;		/* the current row's values */
	WidecolScanState *ss;
	List	   *priv;
	int			keep_rows;		/* an UPDATE or DELETE of the table runs: TAM_KEEP_* */
	uint64		kept;			/* TAM_KEEP_LATEST: the row kept (key + 1), 0 if none */
	bool		analyzed;		/* ANALYZE: the one "block" was handed out */
} TamScanDesc;

static List *tam_targets = NIL;		/* TamTargets, in TopMemoryContext */
static HTAB *tam_rows = NULL;		/* TamRows, in tam_rows_cxt */
static MemoryContext tam_rows_cxt = NULL;
static uint64 tam_next_tid = 0;

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;

static const TableAmRoutine widecol_tam_methods;

/* hooks and callbacks */
static void tam_executor_start(QueryDesc *queryDesc, int eflags);
static void register_targets(QueryDesc *queryDesc);
static void register_modify(QueryDesc *queryDesc, Plan *plan);
static bool changes_as_read(PlannedStmt *ps, ModifyTable *mt, Index rti);
static void tam_executor_end(QueryDesc *queryDesc);
static void tam_xact(XactEvent event, void *arg);
static void tam_subxact(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg);

/* helpers */
static TamTarget *find_target(Oid relid, bool modify_only);
static WidecolModifyState *target_writes(Relation rel, CmdType op);
static void end_target(TamTarget *tg, bool send);
static void forget_rows_if_idle(void);
static void next_tid(ItemPointer tid);
static HeapTuple fetch_row(Relation rel, ItemPointer tid, bool missing_ok);
static void key_values(Relation rel, HeapTuple tup, Datum **values, bool **nulls);

/* ---------------------------------------------------------------- helpers */

/* Is relid a table of the widecol access method? */
bool
widecol_is_tam_table(Oid relid)
{
	HeapTuple	tup;
	bool		result = false;

	if (!OidIsValid(relid))
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		if (form->relkind == RELKIND_RELATION && OidIsValid(form->relam))
			result = form->relam == get_table_am_oid("widecol", true);
		ReleaseSysCache(tup);
	}
	return result;
}

/* The newest running target of relid (UPDATE or DELETE only with modify_only). */
static TamTarget *
find_target(Oid relid, bool modify_only)
{
	TamTarget  *found = NULL;
	ListCell   *lc;

	foreach(lc, tam_targets)
	{
		TamTarget  *tg = lfirst(lc);

		if (tg->relid == relid &&
			(!modify_only || tg->op == CMD_UPDATE || tg->op == CMD_DELETE))
			found = tg;
	}
	return found;
}

/*
 * The pending writes of op on rel: those of the running statement that
 * targets it, else (COPY, CREATE TABLE AS) a bulk load of every column.
 */
static WidecolModifyState *
target_writes(Relation rel, CmdType op)
{
	Oid			relid = RelationGetRelid(rel);
	TamTarget  *tg = NULL;
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, tam_targets)
	{
		TamTarget  *t = lfirst(lc);

		if (t->relid == relid && t->op == op)
			tg = t;
	}
	if (tg == NULL)
	{
		old = MemoryContextSwitchTo(TopMemoryContext);
		tg = palloc0(sizeof(TamTarget));
		tg->relid = relid;
		tg->op = op;
		tg->subid = GetCurrentSubTransactionId();
		tam_targets = lappend(tam_targets, tg);
		MemoryContextSwitchTo(old);
	}
	if (tg->ms == NULL)
	{
		if (tg->cxt == NULL)
			tg->cxt = AllocSetContextCreate(TopTransactionContext, "widecol table writes",
											ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(tg->cxt);
		tg->ms = widecol_modify_begin(rel, op, tg->cols);
		MemoryContextSwitchTo(old);
	}
	return tg->ms;
}

/* Send the target's writes (unless the transaction failed) and forget it. */
static void
end_target(TamTarget *tg, bool send)
{
	tam_targets = list_delete_ptr(tam_targets, tg);
	PG_TRY();
	{
		if (send && tg->ms != NULL)
			widecol_modify_end(tg->ms);
	}
	PG_FINALLY();
	{
		if (tg->cxt != NULL)
			MemoryContextDelete(tg->cxt);
		bms_free(tg->cols);
		pfree(tg);
	}
	PG_END_TRY();
}

/* Without a running UPDATE or DELETE, the rows kept for them can go. */
static void
forget_rows_if_idle(void)
{
	ListCell   *lc;

	foreach(lc, tam_targets)
	{
		TamTarget  *tg = lfirst(lc);

		if (tg->op == CMD_UPDATE || tg->op == CMD_DELETE)
			return;
	}
	if (tam_rows_cxt != NULL)
		MemoryContextDelete(tam_rows_cxt);
	tam_rows_cxt = NULL;
	tam_rows = NULL;
}

/* A made-up TID, never 0 in the offset (an invalid TID). */
static void
next_tid(ItemPointer tid)
{
	uint64		n = tam_next_tid++;

	ItemPointerSet(tid, (BlockNumber) ((n / 65535) % MaxBlockNumber),
				   (OffsetNumber) (n % 65535 + 1));
}

static uint64
tid_key(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

/*
 * Keep the row in slot under its TID, for the running UPDATE or DELETE.
 * With *kept (TAM_KEEP_LATEST) the row kept before by the same scan goes:
 * the statement changed it, or left it out, before this one was read.
 */
static void
keep_row(Relation rel, TupleTableSlot *slot, uint64 *kept)
{
	TamRow	   *row;
	uint64		key = tid_key(&slot->tts_tid);
	MemoryContext old;

	if (kept != NULL && *kept != 0 && tam_rows != NULL)
	{
		uint64		prev = *kept - 1;

		row = hash_search(tam_rows, &prev, HASH_REMOVE, NULL);
		if (row != NULL)
			heap_freetuple(row->tuple);
		*kept = 0;
	}

	if (tam_rows == NULL)
	{
		HASHCTL		ctl;

		tam_rows_cxt = AllocSetContextCreate(TopTransactionContext, "widecol rows to change",
											 ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(TamRow);
		ctl.hcxt = tam_rows_cxt;
		tam_rows = hash_create("widecol rows to change", 1024, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	row = hash_search(tam_rows, &key, HASH_ENTER, NULL);
	old = MemoryContextSwitchTo(tam_rows_cxt);
	row->relid = RelationGetRelid(rel);
	row->tuple = heap_form_tuple(RelationGetDescr(rel), slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	if (kept != NULL)
		*kept = key + 1;
}

/* The row a scan returned under tid (see NOTES), or an error. */
static HeapTuple
fetch_row(Relation rel, ItemPointer tid, bool missing_ok)
{
	uint64		key = tid_key(tid);
	TamRow	   *row = tam_rows ? hash_search(tam_rows, &key, HASH_FIND, NULL) : NULL;

	if (row != NULL && row->relid == RelationGetRelid(rel))
		return row->tuple;
	if (missing_ok)
		return NULL;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("rows of widecol table \"%s\" cannot be fetched by TID",
					RelationGetRelationName(rel)),
			 errdetail("A widecol row has no physical place: its ctid is made up for the statement that read it."),
			 errhint("Select rows by their primary key instead of their ctid.")));
	return NULL;				/* keep compiler quiet */
}

/* The key values of the row tup of rel, as arrays by column index. */
static void
key_values(Relation rel, HeapTuple tup, Datum **values, bool **nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);

	*values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	*nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	heap_deform_tuple(tup, desc, *values, *nulls);
}

/* ---------------------------------------------------------------- hooks */

/*
 * Record the widecol tables that an INSERT, UPDATE or DELETE writes, with
 * the columns it writes (as the foreign table's PlanForeignModify picks
 * them).
 */
static void
tam_executor_start(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *ps = queryDesc->plannedstmt;

	/* before the scans start: they keep their rows for an UPDATE or DELETE */
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY) && ps->commandType != CMD_SELECT)
		register_targets(queryDesc);
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/* Note the widecol tables that the statement writes (see tam_executor_start). */
static void
register_targets(QueryDesc *queryDesc)
{
	PlannedStmt *ps = queryDesc->plannedstmt;
	ListCell   *lc;

	/* the statement's ModifyTable, and those of WITH ... (DELETE ...) */
	register_modify(queryDesc, ps->planTree);
	foreach(lc, ps->subplans)
		register_modify(queryDesc, lfirst(lc));
}

/* Note the widecol tables that the ModifyTable plan (if it is one) writes. */
static void
register_modify(QueryDesc *queryDesc, Plan *plan)
{
	PlannedStmt *ps = queryDesc->plannedstmt;
	ModifyTable *mt;
	ListCell   *lc;

	if (plan == NULL || !IsA(plan, ModifyTable))
		return;
	mt = (ModifyTable *) plan;
	foreach(lc, mt->resultRelations)
	{
		RangeTblEntry *rte = rt_fetch(lfirst_int(lc), ps->rtable);
		TamTarget  *tg;
		Bitmapset  *cols = NULL;
		int			k = -1;
		MemoryContext old;

		if (rte->rtekind != RTE_RELATION || !widecol_is_tam_table(rte->relid))
			continue;
		old = MemoryContextSwitchTo(TopMemoryContext);
		if (mt->operation == CMD_INSERT)
		{
			Relation	rel = RelationIdGetRelation(rte->relid);
			TupleDesc	desc = RelationGetDescr(rel);

			while ((k = bms_next_member(rte->insertedCols, k)) >= 0)
				cols = bms_add_member(cols, k + FirstLowInvalidHeapAttributeNumber);
			/* a column with a DEFAULT is written too, as by the foreign table */
			for (int i = 0; i < desc->natts; i++)
				if (TupleDescAttr(desc, i)->atthasdef && !TupleDescAttr(desc, i)->attisdropped)
					cols = bms_add_member(cols, i + 1);
			RelationClose(rel);
		}
		else if (mt->operation == CMD_UPDATE)
		{
			Bitmapset  *upd = bms_union(rte->updatedCols, rte->extraUpdatedCols);

			while ((k = bms_next_member(upd, k)) >= 0)
				cols = bms_add_member(cols, k + FirstLowInvalidHeapAttributeNumber);
		}
		tg = palloc0(sizeof(TamTarget));
		tg->relid = rte->relid;
		tg->op = mt->operation;
		tg->streaming = (mt->operation == CMD_UPDATE || mt->operation == CMD_DELETE) &&
			changes_as_read(ps, mt, lfirst_int(lc));
		tg->qd = queryDesc;
		tg->subid = GetCurrentSubTransactionId();
		/* an empty set would read "every column": give INSERT its key at least */
		tg->cols = cols ? cols : bms_make_singleton(0);
		tam_targets = lappend(tam_targets, tg);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Does ModifyTable mt change each row of its result relation rti before
 * the scan reads the next one?  So when the relation is read once in the
 * statement, by a scan under only nodes that pass each row up at once
 * (Result, ProjectSet, the outer side of joins); a Sort, a hash table
 * or a rescanned inner side holds rows back.
 */
static bool
changes_as_read(PlannedStmt *ps, ModifyTable *mt, Index rti)
{
	RangeTblEntry *target = rt_fetch(rti, ps->rtable);
	Plan	   *p = outerPlan(mt);
	ListCell   *lc;
	int			reads = 0;

	foreach(lc, ps->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		reads += rte->rtekind == RTE_RELATION && rte->relid == target->relid;
	}
	if (reads != 1)
		return false;
	while (p != NULL && (IsA(p, Result) || IsA(p, ProjectSet) || IsA(p, NestLoop) ||
						 IsA(p, HashJoin) || IsA(p, MergeJoin)))
		p = outerPlan(p);
	return p != NULL && (IsA(p, SeqScan) || IsA(p, CustomScan)) &&
		((Scan *) p)->scanrelid == rti;
}

/* Send the statement's writes; the node acknowledged them when this returns. */
static void
tam_executor_end(QueryDesc *queryDesc)
{
	ListCell   *lc;
	List	   *mine = NIL;

	foreach(lc, tam_targets)
		if (((TamTarget *) lfirst(lc))->qd == queryDesc)
			mine = lappend(mine, lfirst(lc));
	foreach(lc, mine)
		end_target(lfirst(lc), true);
	list_free(mine);
	if (mine != NIL)
		forget_rows_if_idle();
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* Before commit, send what is left; after an abort, drop it. */
static void
tam_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		event == XACT_EVENT_PRE_PREPARE)
	{
		while (tam_targets != NIL)
			end_target(linitial(tam_targets), true);
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
			 event == XACT_EVENT_PREPARE)
	{
		/* the memory contexts went with TopTransactionContext */
		while (tam_targets != NIL)
		{
			TamTarget  *tg = linitial(tam_targets);

			tam_targets = list_delete_first(tam_targets);
			pfree(tg);
		}
		tam_rows = NULL;
		tam_rows_cxt = NULL;
	}
}

/*
 * A subtransaction that fails drops what its statements had not sent yet
 * (their ExecutorEnd never runs); one that commits hands them to its parent.
 */
static void
tam_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
			void *arg)
{
	List	   *failed = widecol_subxact_follow(tam_targets, offsetof(TamTarget, subid), event,
												mySubid, parentSubid);
	ListCell   *lc;

	foreach(lc, failed)
		end_target(lfirst(lc), false);
	list_free(failed);
	if (failed != NIL)
		forget_rows_if_idle();
}

void
widecol_tam_init(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = tam_executor_start;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = tam_executor_end;
	RegisterXactCallback(tam_xact, NULL);
	RegisterSubXactCallback(tam_subxact, NULL);
}

/* ---------------------------------------------------------------- slots and scans */

static const TupleTableSlotOps *
tam_slot_callbacks(Relation rel)
{
	return &TTSOpsVirtual;
}

static TableScanDesc
tam_scan_begin(Relation rel, Snapshot snapshot, int nkeys, ScanKey key,
			   ParallelTableScanDesc pscan, uint32 flags)
{
	TamScanDesc *scan;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "widecol table scan",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	WidecolTable *t;

	if (pscan != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("widecol table \"%s\" cannot be scanned in parallel",
						RelationGetRelationName(rel)),
				 errhint("SET max_parallel_workers_per_gather = 0.")));
	scan = palloc0(sizeof(TamScanDesc));
	scan->base.rs_rd = rel;
	scan->base.rs_snapshot = snapshot;
	scan->base.rs_nkeys = nkeys;
	scan->base.rs_key = key;
	scan->base.rs_flags = flags;
	scan->base.rs_parallel = pscan;
	scan->cxt = cxt;
	scan->rowcxt = AllocSetContextCreate(cxt, "widecol table row", ALLOCSET_DEFAULT_SIZES);
	t = widecol_get_table(RelationGetRelid(rel));
	scan->priv = widecol_full_scan_private(t);
	scan->ss = widecol_begin_scan(NULL, RelationGetRelid(rel), scan->priv, NIL, 0);
	scan->keep_rows = widecol_tam_keeps_rows(RelationGetRelid(rel));
	scan->kept = 0;
	MemoryContextSwitchTo(old);
	return (TableScanDesc) scan;
}

static void
tam_scan_end(TableScanDesc sscan)
{
	TamScanDesc *scan = (TamScanDesc *) sscan;

	MemoryContextDelete(scan->cxt);
}

static void
tam_scan_rescan(TableScanDesc sscan, ScanKey key, bool set_params, bool allow_strat,
				bool allow_sync, bool allow_pagemode)
{
	TamScanDesc *scan = (TamScanDesc *) sscan;

	widecol_rescan(scan->ss, scan->priv);
}

/* The next row of the scan into slot, with a made-up TID. */
static bool
tam_next_row(TamScanDesc *scan, TupleTableSlot *slot)
{
	MemoryContext old;

	CHECK_FOR_INTERRUPTS();
	MemoryContextReset(scan->rowcxt);
	old = MemoryContextSwitchTo(scan->rowcxt);
	widecol_scan_next(scan->ss, slot, NULL);
	MemoryContextSwitchTo(old);
	if (TupIsNull(slot))
		return false;
	widecol_tam_row_returned(scan->base.rs_rd, slot, scan->keep_rows, &scan->kept);
	return true;
}

/*
 * Which rows must a new scan of relid keep for UPDATE or DELETE?  None
 * (TAM_KEEP_NONE) without a running one; the latest only (TAM_KEEP_LATEST)
 * for the scan of a statement that changes each row as it reads it (the
 * first scan of the table to begin is that statement's own: statements
 * nested in it begin theirs later); else every row until the statement
 * ends (TAM_KEEP_ALL).
 */
int
widecol_tam_keeps_rows(Oid relid)
{
	TamTarget  *tg = find_target(relid, true);

	if (tg == NULL)
		return TAM_KEEP_NONE;
	if (tg->streaming && !tg->claimed)
	{
		tg->claimed = true;
		return TAM_KEEP_LATEST;
	}
	return TAM_KEEP_ALL;
}

/*
 * A scan of rel returned the row in slot: give it a TID, and keep it as
 * keep (TAM_KEEP_*) says; *kept is the scan's latest kept row.
 */
void
widecol_tam_row_returned(Relation rel, TupleTableSlot *slot, int keep, uint64 *kept)
{
	slot->tts_tableOid = RelationGetRelid(rel);
	next_tid(&slot->tts_tid);
	if (keep != TAM_KEEP_NONE)
		keep_row(rel, slot, keep == TAM_KEEP_LATEST ? kept : NULL);
}

static bool
tam_scan_getnextslot(TableScanDesc sscan, ScanDirection direction, TupleTableSlot *slot)
{
	if (direction == BackwardScanDirection)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("widecol table \"%s\" cannot be scanned backward",
						RelationGetRelationName(sscan->rs_rd)),
				 errhint("Declare the cursor without SCROLL, or read the rows into a temporary table first.")));
	return tam_next_row((TamScanDesc *) sscan, slot);
}

static Size
tam_parallelscan_estimate(Relation rel)
{
	return sizeof(ParallelBlockTableScanDescData);
}

static Size
tam_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan)
{
	return table_block_parallelscan_initialize(rel, pscan);
}

static void
tam_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan)
{
	table_block_parallelscan_reinitialize(rel, pscan);
}

/* ---------------------------------------------------------------- refusals */

static void
refuse_index(Relation rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("widecol table \"%s\" cannot have PostgreSQL indexes",
					RelationGetRelationName(rel)),
			 errdetail("Rows are placed by their primary key, written last-write-wins without MVCC: "
					   "an index could not follow them."),
			 errhint("For lookups by one column, create a widecol secondary index: "
					 "SELECT widecol.create_index('%s', '<column>'); or create a second "
					 "widecol table keyed by the column you look up (the query-first model).",
					 RelationGetRelationName(rel))));
}

static IndexFetchTableData *
tam_index_fetch_begin(Relation rel)
{
	refuse_index(rel);
	return NULL;
}

static void
tam_index_fetch_reset(IndexFetchTableData *data)
{
}

static void
tam_index_fetch_end(IndexFetchTableData *data)
{
}

static bool
tam_index_fetch_tuple(IndexFetchTableData *scan, ItemPointer tid, Snapshot snapshot,
					  TupleTableSlot *slot, bool *call_again, bool *all_dead)
{
	refuse_index(scan->rel);
	return false;
}

static TransactionId
tam_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	refuse_index(rel);
	return InvalidTransactionId;
}

static double
tam_index_build_range_scan(Relation rel, Relation index, IndexInfo *index_info,
						   bool allow_sync, bool anyvisible, bool progress,
						   BlockNumber start_blockno, BlockNumber numblocks,
						   IndexBuildCallback callback, void *callback_state,
						   TableScanDesc scan)
{
	refuse_index(rel);
	return 0;
}

static void
tam_index_validate_scan(Relation rel, Relation index, IndexInfo *index_info,
						Snapshot snapshot, ValidateIndexState *state)
{
	refuse_index(rel);
}

static TM_Result
tam_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot,
			   CommandId cid, LockTupleMode mode, LockWaitPolicy wait_policy,
			   uint8 flags, TM_FailureData *tmfd)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("rows of widecol table \"%s\" cannot be locked",
					RelationGetRelationName(rel)),
			 errdetail("widecol keeps no row versions (no MVCC): the last write wins."),
			 errhint("Drop FOR UPDATE / FOR SHARE; to serialize writers, use an advisory lock "
					 "(pg_advisory_xact_lock) or a heap table.")));
	return TM_Invisible;
}

static void
refuse_rewrite(Relation rel, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s is not supported for widecol table \"%s\"", what,
					RelationGetRelationName(rel)),
			 errdetail("The rows live in the widecol engine, which keeps and compacts them itself."),
			 errhint("Compact with widecol.compact(); to change the table, create a new "
					 "widecol table and INSERT ... SELECT into it.")));
}

static void
tam_relation_copy_data(Relation rel, const RelFileNode *newrnode)
{
	refuse_rewrite(rel, "moving the table's files");
}

static void
tam_relation_copy_for_cluster(Relation OldTable, Relation NewTable, Relation OldIndex,
							  bool use_sort, TransactionId OldestXmin, TransactionId *xid_cutoff,
							  MultiXactId *multi_cutoff, double *num_tuples,
							  double *tups_vacuumed, double *tups_recently_dead)
{
	refuse_rewrite(OldTable, "CLUSTER or VACUUM FULL");
}

static bool
tam_scan_sample_next_block(TableScanDesc scan, SampleScanState *scanstate)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("TABLESAMPLE is not supported for widecol table \"%s\"",
					RelationGetRelationName(scan->rs_rd)),
			 errhint("Sample with WHERE random() < fraction under widecol.allow_filtering, or read one partition.")));
	return false;
}

static bool
tam_scan_sample_next_tuple(TableScanDesc scan, SampleScanState *scanstate, TupleTableSlot *slot)
{
	return false;
}

static bool
tam_scan_bitmap_next_block(TableScanDesc scan, TBMIterateResult *tbmres)
{
	refuse_index(scan->rs_rd);
	return false;
}

static bool
tam_scan_bitmap_next_tuple(TableScanDesc scan, TBMIterateResult *tbmres, TupleTableSlot *slot)
{
	return false;
}

/* ---------------------------------------------------------------- rows by TID */

static bool
tam_tuple_fetch_row_version(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot)
{
	HeapTuple	tup = fetch_row(rel, tid, false);

	ExecClearTuple(slot);
	heap_deform_tuple(tup, RelationGetDescr(rel), slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = *tid;
	return true;
}

static bool
tam_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	return fetch_row(scan->rs_rd, tid, false) != NULL;
}

static void
tam_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
}

static bool
tam_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot, Snapshot snapshot)
{
	return true;
}

/* ---------------------------------------------------------------- writes */

static void
tam_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid, int options,
				 BulkInsertState bistate)
{
	widecol_modify_insert(target_writes(rel, CMD_INSERT), slot);
	slot->tts_tableOid = RelationGetRelid(rel);
	next_tid(&slot->tts_tid);
}

static void
tam_tuple_insert_speculative(Relation rel, TupleTableSlot *slot, CommandId cid, int options,
							 BulkInsertState bistate, uint32 specToken)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ON CONFLICT is not supported on widecol table \"%s\"",
					RelationGetRelationName(rel)),
			 errhint("INSERT into a widecol table is already an upsert: drop the ON CONFLICT clause.")));
}

static void
tam_tuple_complete_speculative(Relation rel, TupleTableSlot *slot, uint32 specToken,
							   bool succeeded)
{
}

static void
tam_multi_insert(Relation rel, TupleTableSlot **slots, int nslots, CommandId cid, int options,
				 BulkInsertState bistate)
{
	WidecolModifyState *ms = target_writes(rel, CMD_INSERT);

	for (int i = 0; i < nslots; i++)
	{
		widecol_modify_insert(ms, slots[i]);
		widecol_bulk_yield_point();
		slots[i]->tts_tableOid = RelationGetRelid(rel);
		next_tid(&slots[i]->tts_tid);
	}
}

static TM_Result
tam_tuple_delete(Relation rel, ItemPointer tid, CommandId cid, Snapshot snapshot,
				 Snapshot crosscheck, bool wait, TM_FailureData *tmfd, bool changingPart)
{
	Datum	   *values;
	bool	   *nulls;

	key_values(rel, fetch_row(rel, tid, false), &values, &nulls);
	widecol_modify_delete(target_writes(rel, CMD_DELETE), values, nulls);
	return TM_Ok;
}

static TM_Result
tam_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot, CommandId cid,
				 Snapshot snapshot, Snapshot crosscheck, bool wait, TM_FailureData *tmfd,
				 LockTupleMode *lockmode, bool *update_indexes)
{
	Datum	   *values;
	bool	   *nulls;

	key_values(rel, fetch_row(rel, otid, false), &values, &nulls);
	widecol_modify_update(target_writes(rel, CMD_UPDATE), values, nulls, slot);
	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = *otid;
	*lockmode = LockTupleExclusive;
	*update_indexes = false;
	return TM_Ok;
}

/* The end of a COPY or CREATE TABLE AS: send its writes. */
static void
tam_finish_bulk_insert(Relation rel, int options)
{
	ListCell   *lc;

	foreach(lc, tam_targets)
	{
		TamTarget  *tg = lfirst(lc);

		if (tg->relid == RelationGetRelid(rel) && tg->qd == NULL)
		{
			end_target(tg, true);
			return;
		}
	}
}

/* ---------------------------------------------------------------- relation */

/*
 * A new relfilenode: at CREATE TABLE an empty file keeps PostgreSQL's
 * storage bookkeeping as for any table (the rows live in the engine); at
 * TRUNCATE the engine table is emptied too, which ROLLBACK cannot undo, so
 * TRUNCATE is refused inside a transaction block.
 */
static void
tam_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode, char persistence,
							  TransactionId *freezeXid, MultiXactId *minmulti)
{
	SMgrRelation srel;

	if (rel->rd_node.relNode != newrnode->relNode && OidIsValid(rel->rd_node.relNode))
	{
		widecol_refuse_cluster_truncate(RelationGetRelationName(rel));
		if (IsTransactionBlock())
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("TRUNCATE of widecol table \"%s\" cannot run inside a transaction block",
							RelationGetRelationName(rel)),
					 errdetail("widecol cannot undo a TRUNCATE at ROLLBACK."),
					 errhint("Run TRUNCATE on its own, outside BEGIN ... COMMIT.")));
		widecol_empty_table(widecol_get_table(RelationGetRelid(rel)));
	}
	else if (strncmp(RelationGetRelationName(rel), "pg_temp_", 8) == 0)
	{
		/* make_new_heap's transient table: an ALTER TABLE that rewrites every row */
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("widecol tables cannot be rewritten"),
				 errdetail("This command would copy every row into a new table, and widecol rows stay in the engine."),
				 errhint("Create a new widecol table and INSERT ... SELECT the rows into it.")));
	}
	*freezeXid = InvalidTransactionId;
	*minmulti = InvalidMultiXactId;
	srel = RelationCreateStorage(*newrnode, persistence, true);
	smgrclose(srel);
}

static void
tam_relation_nontransactional_truncate(Relation rel)
{
	widecol_refuse_cluster_truncate(RelationGetRelationName(rel));
	widecol_empty_table(widecol_get_table(RelationGetRelid(rel)));
}

/*
 * TRUNCATE in a cluster: the node would empty its own replicas only, and
 * the other nodes would keep (and read repair would bring back) the rows.
 * Refused, for both faces, until a cluster-wide TRUNCATE exists.
 */
void
widecol_refuse_cluster_truncate(const char *relname)
{
	if (widecol_cluster_schema_enabled())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("TRUNCATE of widecol table \"%s\" is not supported in a cluster", relname),
				 errdetail("It would empty the replicas of this node only."),
				 errhint("DELETE the rows by partition key, or DROP the table and create it again "
						 "(DROP TABLE of a USING widecol table drops its data on every node).")));
}

/* VACUUM: the engine purges tombstones itself when it compacts. */
static void
tam_relation_vacuum(Relation rel, struct VacuumParams *params, BufferAccessStrategy bstrategy)
{
	ereport(NOTICE,
			(errmsg("VACUUM does nothing for widecol table \"%s\"", RelationGetRelationName(rel)),
			 errdetail("widecol keeps no dead row versions; compaction purges tombstones older than gc_grace_seconds."),
			 errhint("Run SELECT widecol.compact('%s') for a major compaction now.",
					 RelationGetRelationName(rel))));
}

/*
 * ANALYZE reads the whole table as one "block" and samples its rows; the
 * table's size in blocks is its number of partitions (as for the foreign
 * table, relpages holds it, so reltuples / relpages is the rows of one
 * partition).
 */
static bool
tam_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
							BufferAccessStrategy bstrategy)
{
	TamScanDesc *scan = (TamScanDesc *) sscan;

	if (scan->analyzed)
		return false;
	scan->analyzed = true;
	return true;
}

static bool
tam_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin, double *liverows,
							double *deadrows, TupleTableSlot *slot)
{
	if (!tam_next_row((TamScanDesc *) sscan, slot))
		return false;
	*liverows += 1;
	return true;
}

static uint64
tam_relation_size(Relation rel, ForkNumber forkNumber)
{
	WidecolTable *t;
	wc_table_stats ts;
	wc_status	st;
	double		parts;

	if (forkNumber != MAIN_FORKNUM || !widecol_preloaded || !widecol_node_running())
		return 0;
	t = widecol_get_table(RelationGetRelid(rel));
	widecol_ensure_engine_table(t);
	st = wc_client_table_stats(widecol_connection(), t->table_id, &ts);
	if (st != WC_OK)
		widecol_report(st, "reading table statistics");
	parts = (double) ts.partitions_estimate + (double) ts.memtable_entries / 100.0;
	return (uint64) Max(1.0, Min(parts, (double) MaxBlockNumber)) * BLCKSZ;
}

static bool
tam_relation_needs_toast_table(Relation rel)
{
	return false;
}

static void
tam_relation_estimate_size(Relation rel, int32 *attr_widths, BlockNumber *pages,
						   double *tuples, double *allvisfrac)
{
	*pages = rel->rd_rel->relpages;
	*tuples = rel->rd_rel->reltuples >= 0 ? rel->rd_rel->reltuples : 0;
	*allvisfrac = 0;
}

static const TableAmRoutine widecol_tam_methods = {
	.type = T_TableAmRoutine,

	.slot_callbacks = tam_slot_callbacks,

	.scan_begin = tam_scan_begin,
	.scan_end = tam_scan_end,
	.scan_rescan = tam_scan_rescan,
	.scan_getnextslot = tam_scan_getnextslot,

	.parallelscan_estimate = tam_parallelscan_estimate,
	.parallelscan_initialize = tam_parallelscan_initialize,
	.parallelscan_reinitialize = tam_parallelscan_reinitialize,

	.index_fetch_begin = tam_index_fetch_begin,
	.index_fetch_reset = tam_index_fetch_reset,
	.index_fetch_end = tam_index_fetch_end,
	.index_fetch_tuple = tam_index_fetch_tuple,

	.tuple_fetch_row_version = tam_tuple_fetch_row_version,
	.tuple_tid_valid = tam_tuple_tid_valid,
	.tuple_get_latest_tid = tam_tuple_get_latest_tid,
	.tuple_satisfies_snapshot = tam_tuple_satisfies_snapshot,
	.index_delete_tuples = tam_index_delete_tuples,

	.tuple_insert = tam_tuple_insert,
	.tuple_insert_speculative = tam_tuple_insert_speculative,
	.tuple_complete_speculative = tam_tuple_complete_speculative,
	.multi_insert = tam_multi_insert,
	.tuple_delete = tam_tuple_delete,
	.tuple_update = tam_tuple_update,
	.tuple_lock = tam_tuple_lock,
	.finish_bulk_insert = tam_finish_bulk_insert,

	.relation_set_new_filenode = tam_relation_set_new_filenode,
	.relation_nontransactional_truncate = tam_relation_nontransactional_truncate,
	.relation_copy_data = tam_relation_copy_data,
	.relation_copy_for_cluster = tam_relation_copy_for_cluster,
	.relation_vacuum = tam_relation_vacuum,
	.scan_analyze_next_block = tam_scan_analyze_next_block,
	.scan_analyze_next_tuple = tam_scan_analyze_next_tuple,
	.index_build_range_scan = tam_index_build_range_scan,
	.index_validate_scan = tam_index_validate_scan,

	.relation_size = tam_relation_size,
	.relation_needs_toast_table = tam_relation_needs_toast_table,

	.relation_estimate_size = tam_relation_estimate_size,

	.scan_bitmap_next_block = tam_scan_bitmap_next_block,
	.scan_bitmap_next_tuple = tam_scan_bitmap_next_tuple,
	.scan_sample_next_block = tam_scan_sample_next_block,
	.scan_sample_next_tuple = tam_scan_sample_next_tuple
};

Datum
widecol_tam_handler(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&widecol_tam_methods);
}
