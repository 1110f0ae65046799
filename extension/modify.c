/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  Writes to widecol tables: INSERT (an upsert, as in CQL), UPDATE of
 *		  the changed cells only, DELETE as tombstones, and COPY FROM; all
 *		  sent to the node in batches.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/modify.c
 *
 * NOTES
 *	  INSERT writes the row's liveness (CQL's row marker) and one cell per
 *	  column named in the statement (RangeTblEntry.insertedCols): a column
 *	  not named keeps its stored value; a NULL written explicitly deletes
 *	  that cell (a cell tombstone).  COPY writes every column of the file
 *	  but skips NULLs (they leave the stored cells alone), which keeps bulk
 *	  loads free of tombstones.  UPDATE writes only the cells it changes and
 *	  no liveness, so an UPDATE alone does not make a row exist, as in CQL.
 *	  DELETE writes a row tombstone (a partition tombstone for tables
 *	  without clustering columns).  Key columns reach UPDATE and DELETE as
 *	  row-identity junk columns ("wc_key_<attnum>").
 *
 *	  An UPDATE or DELETE of one row (= on every primary-key column) with
 *	  further conditions is a lightweight transaction (CQL IF): its scan
 *	  reads the row at widecol.serial_consistency, PostgreSQL evaluates
 *	  the conditions and the SET expressions on it, and the write goes
 *	  out as a compare-and-set (lwt.c) that applies only if every column
 *	  the statement read still holds the value it read.  When one
 *	  changed, the row is read again and the statement evaluated again,
 *	  until the write applies or the conditions fail (UPDATE 0).
 *
 *	  Mutations are encoded straight into the transaction's pending batch
 *	  (txn.c, engine/mutation.h's batch builder); the node applies them
 *	  when the transaction commits, so a statement or transaction that
 *	  fails leaves none of them behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/explain.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "client.h"
#include "consistency.h"
#include "engine.h"
#include "keys.h"
#include "mutation.h"
#include "thread.h"

#include "lwt.h"

#include "widecol.h"

struct WidecolWriter
{
	WidecolTable *t;
	int64		added;			/* mutations added to the transaction */
};

struct WidecolModifyState
{
	WidecolTable *t;
	CmdType		op;
	bool		copy;			/* COPY FROM: skip NULL cells */
	bool		static_only;	/* this row writes the static row alone */
	int64		ts;				/* write timestamp of this statement's writes */
	bool	   *target;			/* per column: written by this statement */
	AttrNumber *junk;			/* per column index: junk attno of key columns */
	WidecolWriter *w;
	StringInfoData pk,
				ck,
				val;			/* one encoded value */
	wc_mutation *m;				/* the mutation being built, in w's batch */
	/* per column, for the row being written: TTL and write time set by a
	 * ttl / writetime column of the statement (CQL's USING TTL / TIMESTAMP) */
	int32	   *cell_ttl;
	int64	   *cell_ts;
	bool	   *has_ttl,
			   *has_ts;
	bool		if_not_exists;	/* INSERT ... ON CONFLICT DO NOTHING: CQL IF NOT EXISTS */
	wc_batch_builder *lwt;		/* when set, the row's own batch (lwt.c), not w's */
	/* UPDATE or DELETE of one row with conditions: a compare-and-set */
	bool		cas;
	List	   *cas_columns;	/* attnums of the columns the statement reads */
	bool		cas_returning;	/* DELETE ... RETURNING: the row from "wholerow" */
	ForeignScanState *scan;		/* the subplan that reads the row */
};

/* a conditional write retries this often while the columns it read change */
#define WIDECOL_CAS_ATTEMPTS 32

/* Cassandra's largest TTL: 20 years */
#define WIDECOL_MAX_TTL 630720000

/* callbacks */
static void widecolAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
										   RangeTblEntry *target_rte, Relation target_relation);
static List *widecolPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
									  int subplan_index);
static void widecolBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									  List *fdw_private, int subplan_index, int eflags);
static TupleTableSlot *widecolExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
												TupleTableSlot *slot, TupleTableSlot *planSlot);
static TupleTableSlot *widecolExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
												TupleTableSlot *slot, TupleTableSlot *planSlot);
static TupleTableSlot *widecolExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
												TupleTableSlot *slot, TupleTableSlot *planSlot);
static void widecolEndForeignModify(EState *estate, ResultRelInfo *rinfo);
static void widecolBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo);
static void widecolEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
static int	widecolIsForeignRelUpdatable(Relation rel);

/* helpers */
static wc_mutation *writer_begin_mutation(WidecolWriter *w, const char *pk, int pk_len);
static void writer_end_mutation(WidecolWriter *w);
static WidecolModifyState *make_state(Relation rel, CmdType op, EState *estate);
static void encode_keys(WidecolModifyState *ms, Datum *values, bool *isnull);
static bool static_only_insert(WidecolModifyState *ms, TupleTableSlot *slot);
static void encode_pk_only(WidecolModifyState *ms, Datum *values, bool *isnull);
static void write_row(WidecolModifyState *ms, TupleTableSlot *slot, bool liveness);
static void row_meta(WidecolModifyState *ms, TupleTableSlot *slot);
static bool has_cells(WidecolModifyState *ms, TupleTableSlot *slot, WidecolColumnKind kind);
static void add_cells(WidecolModifyState *ms, wc_rowb *rb, TupleTableSlot *slot,
					  WidecolColumnKind kind, int64 ts, int32 ttl, uint32 ldt, uint32 now);
static void delete_row(WidecolModifyState *ms);
static bool insert_if_not_exists(WidecolModifyState *ms, TupleTableSlot *slot);
static bool plan_cas(PlannerInfo *root, ModifyTable *plan, Index rti, int subplan_index,
					 WidecolTable *t, List **columns);
static void begin_cas(WidecolModifyState *ms, ModifyTableState *mtstate, ResultRelInfo *rinfo);
static TupleTableSlot *cas_row(WidecolModifyState *ms, ResultRelInfo *rinfo,
							   TupleTableSlot *slot, TupleTableSlot *planSlot);
static bool cas_write(WidecolModifyState *ms, TupleTableSlot *slot);
static void refuse_pending(WidecolModifyState *ms);
static void widecolExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
										List *fdw_private, int subplan_index,
										struct ExplainState *es);

/* ---------------------------------------------------------------- writer */

WidecolWriter *
widecol_writer_begin(WidecolTable *t)
{
	WidecolWriter *w = palloc0(sizeof(WidecolWriter));

	w->t = t;
	return w;
}

/* Add a mutation encoded by the caller (wc_mutation_encode). */
void
widecol_writer_add(WidecolWriter *w, const uint8 *mut, size_t len)
{
	wc_status	st = wc_batch_builder_add_encoded(widecol_txn_batch(), mut, len);

	if (st != WC_OK)
		widecol_report(st, "encoding a write");
	w->added++;
	widecol_txn_added(w->t->table_id);
}

/* Begin the next mutation, for partition pk of the writer's table. */
static wc_mutation *
writer_begin_mutation(WidecolWriter *w, const char *pk, int pk_len)
{
	return wc_batch_builder_begin(widecol_txn_batch(), w->t->table_id, pk, pk_len);
}

/* Add the mutation begun last to the transaction's pending writes. */
static void
writer_end_mutation(WidecolWriter *w)
{
	wc_status	st = wc_batch_builder_end(widecol_txn_batch());

	if (st != WC_OK)
		widecol_report(st, "encoding a write");
	w->added++;
	widecol_txn_added(w->t->table_id);
}

/*
 * Nothing to send before the transaction commits: kept for callers that
 * flushed a writer when writes went out per statement.
 */
void
widecol_writer_flush(WidecolWriter *w)
{
}

/*
 * The statement's writes are complete.  They wait with the transaction's
 * other writes until it commits (txn.c).
 */
void
widecol_writer_end(WidecolWriter *w)
{
}

/* ---------------------------------------------------------------- planning */

static void
widecolAddForeignUpdateTargets(PlannerInfo *root, Index rtindex, RangeTblEntry *target_rte,
							   Relation target_relation)
{
	WidecolTable *t = widecol_get_table(RelationGetRelid(target_relation));

	for (int i = 0; i < t->npk + t->nck; i++)
	{
		WidecolColumn *c = &t->cols[i < t->npk ? t->pk[i] : t->ck[i - t->npk]];
		Var		   *var = makeVar(rtindex, c->attnum, c->typid, c->typmod, c->collid, 0);

		add_row_identity_var(root, var, rtindex, psprintf("wc_key_%d", c->attnum));
	}
	/* DELETE ... RETURNING (of a conditional DELETE) returns the row it read */
	if (root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL)
		add_row_identity_var(root, makeWholeRowVar(target_rte, rtindex, 0, false), rtindex,
							 "wholerow");
}

static List *
widecolPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
						 int subplan_index)
{
	CmdType		op = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	WidecolTable *t = widecol_get_table(rte->relid);
	List	   *attrs = NIL;
	List	   *cas_columns = NIL;
	bool		cas = false;
	Bitmapset  *cols = NULL;
	ListCell   *lc;
	int			k;

	if (op == CMD_UPDATE || op == CMD_DELETE)
		cas = plan_cas(root, plan, resultRelation, subplan_index, t, &cas_columns);
	if (plan->returningLists != NIL && op != CMD_INSERT && !cas)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("RETURNING is not supported for UPDATE or DELETE on widecol table \"%s\"",
						get_rel_name(rte->relid)),
				 errhint("Read the rows with SELECT first; widecol writes without reading.  "
						 "RETURNING works for an UPDATE or DELETE of one row with conditions "
						 "(a lightweight transaction).")));
	if (plan->onConflictAction == ONCONFLICT_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO UPDATE is not supported on widecol table \"%s\"", get_rel_name(rte->relid)),
				 errhint("INSERT into a widecol table is already an upsert: drop the ON CONFLICT clause; ON CONFLICT DO NOTHING is CQL IF NOT EXISTS.")));
	widecol_counter_refuse_write(t, op);
	widecol_matview_refuse_write(t);
	if (op == CMD_INSERT)
	{
		Relation	rel = table_open(rte->relid, NoLock);
		TupleDesc	desc = RelationGetDescr(rel);

		/* named columns, and columns with a DEFAULT (their value stands for "not given") */
		cols = bms_copy(rte->insertedCols);
		for (int i = 0; i < desc->natts; i++)
			if (TupleDescAttr(desc, i)->atthasdef && !TupleDescAttr(desc, i)->attisdropped)
				cols = bms_add_member(cols, i + 1 - FirstLowInvalidHeapAttributeNumber);
		table_close(rel, NoLock);
	}
	else if (op == CMD_UPDATE)
	{
		RelOptInfo *rel = find_base_rel(root, resultRelation);

		cols = get_rel_all_updated_cols(root, rel);
	}
	k = -1;
	while ((k = bms_next_member(cols, k)) >= 0)
	{
		AttrNumber	attno = k + FirstLowInvalidHeapAttributeNumber;
		WidecolColumn *c;

		if (attno <= 0 || attno > t->ncols)
			continue;
		c = &t->cols[attno - 1];
		if (op == CMD_UPDATE &&
			(c->kind == WIDECOL_COL_PARTITION || c->kind == WIDECOL_COL_CLUSTERING))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot update primary-key column \"%s\" of widecol table \"%s\"",
							c->name, get_rel_name(rte->relid)),
					 errhint("A row's key is its identity: DELETE the row and INSERT it with the new key.")));
		if (cas && c->coll != NULL && !c->coll->frozen)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a conditional UPDATE of widecol table \"%s\" cannot write collection \"%s\"",
							get_rel_name(rte->relid), c->name),
					 errhint("Write the collection in an UPDATE of its own, or make it frozen.")));
		if (cas && c->kind == WIDECOL_COL_WRITETIME)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a conditional UPDATE of widecol table \"%s\" cannot set the write time \"%s\"",
							get_rel_name(rte->relid), c->name),
					 errhint("A lightweight transaction writes with the timestamp of its Paxos "
							 "ballot, as CQL refuses USING TIMESTAMP with IF: drop the write "
							 "time from SET.")));
		attrs = lappend_int(attrs, attno);
	}
	/* a TTL or write time applies to the cells the statement writes */
	foreach(lc, attrs)
	{
		WidecolColumn *c = &t->cols[lfirst_int(lc) - 1];

		if ((c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL) &&
			!list_member_int(attrs, t->cols[c->meta_of].attnum))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" sets the %s of \"%s\", which this statement does not write",
							c->name, c->kind == WIDECOL_COL_WRITETIME ? "write time" : "TTL",
							t->cols[c->meta_of].name),
					 errhint("Write \"%s\" in the same statement, for example SET %s = %s, %s = ...",
							 t->cols[c->meta_of].name, quote_identifier(t->cols[c->meta_of].name),
							 quote_identifier(t->cols[c->meta_of].name), quote_identifier(c->name))));
	}
	return list_make5(makeInteger((int) op), attrs,
					  makeInteger(plan->onConflictAction == ONCONFLICT_NOTHING),
					  makeInteger(cas), cas_columns);
}

/*
 * Is this UPDATE or DELETE a lightweight transaction: its subplan is the
 * scan of one row of the table (= on every primary-key column, no IN)
 * with conditions the node does not check (the scan's local quals)?
 * Then *columns lists the non-key columns the statement reads - in its
 * conditions, its SET expressions and its RETURNING - whose values the
 * compare-and-set checks.  Columns it cannot compare are refused.
 */
static bool
plan_cas(PlannerInfo *root, ModifyTable *plan, Index rti, int subplan_index, WidecolTable *t,
		 List **columns)
{
	Plan	   *subplan = outerPlan(plan);
	ForeignScan *fscan;
	Bitmapset  *read = NULL,
			   *ret = NULL;
	ListCell   *lc;
	bool		whole;

	*columns = NIL;
	if (subplan == NULL || !IsA(subplan, ForeignScan) || list_length(plan->resultRelations) != 1)
		return false;
	fscan = (ForeignScan *) subplan;
	if (fscan->scan.scanrelid != rti || fscan->scan.plan.qual == NIL ||
		list_length(fscan->fdw_private) <= FSP_RELID ||
		intVal(list_nth(fscan->fdw_private, FSP_MODE)) != 1 ||
		intVal(list_nth(fscan->fdw_private, FSP_NCK_EQ)) != t->nck)
		return false;
	foreach(lc, (List *) list_nth(fscan->fdw_private, FSP_PK_IN))
		if (lfirst_int(lc) != 0)
			return false;

	pull_varattnos((Node *) fscan->scan.plan.qual, rti, &read);
	foreach(lc, fscan->scan.plan.targetlist)
	{
		TargetEntry *tle = lfirst(lc);

		if (!tle->resjunk)
			pull_varattnos((Node *) tle->expr, rti, &read);
	}
	if (plan->returningLists != NIL)
		pull_varattnos((Node *) list_nth(plan->returningLists, subplan_index), rti, &ret);
	/* a whole-row reference reads every column */
	whole = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, read);
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];
		int			a = c->attnum - FirstLowInvalidHeapAttributeNumber;

		if (c->dropped || c->kind == WIDECOL_COL_PARTITION || c->kind == WIDECOL_COL_CLUSTERING)
			continue;
		if (!whole && !bms_is_member(a, read) && !bms_is_member(a, ret) &&
			!bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, ret))
			continue;
		if (c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL ||
			c->is_counter || (c->coll != NULL && !c->coll->frozen))
		{
			/* only RETURNING shows it (RETURNING *): returned as read, not compared */
			if (!whole && !bms_is_member(a, read))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("conditional %s of widecol table \"%s\" cannot read column \"%s\"",
							plan->operation == CMD_UPDATE ? "UPDATE" : "DELETE",
							get_rel_name(t->relid), c->name),
					 errdetail("%s of one row with conditions is a lightweight transaction, "
							   "which compares the values of the columns it reads; a %s cannot be compared.",
							   plan->operation == CMD_UPDATE ? "An UPDATE" : "A DELETE",
							   c->kind == WIDECOL_COL_WRITETIME ? "write time" :
							   c->kind == WIDECOL_COL_TTL ? "TTL" :
							   c->is_counter ? "counter" : "non-frozen collection"),
					 errhint("Condition on regular or static columns, or read the row with SELECT first.")));
		}
		*columns = lappend_int(*columns, c->attnum);
	}
	if (list_length(*columns) > WC_LWT_MAX_CONDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("conditional %s of widecol table \"%s\" reads %d columns, more than the %d a lightweight transaction compares",
						plan->operation == CMD_UPDATE ? "UPDATE" : "DELETE",
						get_rel_name(t->relid), list_length(*columns), WC_LWT_MAX_CONDS),
				 errhint("Name fewer columns in the conditions, SET and RETURNING.")));
	return true;
}

/* ---------------------------------------------------------------- execution */

static WidecolModifyState *
make_state(Relation rel, CmdType op, EState *estate)
{
	WidecolModifyState *ms = palloc0(sizeof(WidecolModifyState));

	ms->t = widecol_get_table(RelationGetRelid(rel));
	widecol_matview_refuse_write(ms->t);
	ms->op = op;
	ms->target = palloc0(sizeof(bool) * Max(ms->t->ncols, 1));
	ms->junk = palloc0(sizeof(AttrNumber) * Max(ms->t->ncols, 1));
	ms->cell_ttl = palloc0(sizeof(int32) * Max(ms->t->ncols, 1));
	ms->cell_ts = palloc0(sizeof(int64) * Max(ms->t->ncols, 1));
	ms->has_ttl = palloc0(sizeof(bool) * Max(ms->t->ncols, 1));
	ms->has_ts = palloc0(sizeof(bool) * Max(ms->t->ncols, 1));
	initStringInfo(&ms->pk);
	initStringInfo(&ms->ck);
	initStringInfo(&ms->val);
	ms->ts = widecol_txn_write_timestamp();
	widecol_ensure_engine_table(ms->t);
	ms->w = widecol_writer_begin(ms->t);
	return ms;
}

static void
widecolBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
						  int subplan_index, int eflags)
{
	WidecolModifyState *ms;
	CmdType		op = (CmdType) intVal(linitial(fdw_private));
	ListCell   *lc;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	ms = make_state(rinfo->ri_RelationDesc, op, mtstate->ps.state);
	foreach(lc, (List *) lsecond(fdw_private))
		ms->target[lfirst_int(lc) - 1] = true;
	ms->if_not_exists = list_length(fdw_private) > 2 && intVal(lthird(fdw_private)) != 0;
	ms->cas = list_length(fdw_private) > 4 && intVal(list_nth(fdw_private, 3)) != 0;
	if (op == CMD_UPDATE || op == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		for (int i = 0; i < ms->t->npk + ms->t->nck; i++)
		{
			int			ci = i < ms->t->npk ? ms->t->pk[i] : ms->t->ck[i - ms->t->npk];
			char	   *name = psprintf("wc_key_%d", ms->t->cols[ci].attnum);

			ms->junk[ci] = ExecFindJunkAttributeInTlist(subplan->targetlist, name);
			if (!AttributeNumberIsValid(ms->junk[ci]))
				elog(ERROR, "widecol: key column %s missing from the subplan", name);
		}
		if (ms->cas)
		{
			ms->cas_columns = (List *) list_nth(fdw_private, 4);
			begin_cas(ms, mtstate, rinfo);
		}
	}
	rinfo->ri_FdwState = ms;
}

/*
 * A conditional UPDATE or DELETE: refused in a transaction block (before
 * anything is read); its scan reads the row at the serial level.
 */
static void
begin_cas(WidecolModifyState *ms, ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	PlanState  *sub = outerPlanState(mtstate);
	WidecolScanState *ss;

	widecol_lwt_refuse_in_block(ms->t, ms->op == CMD_UPDATE ?
								"An UPDATE of one row with conditions" :
								"A DELETE of one row with conditions");
	if (sub == NULL || !IsA(sub, ForeignScanState) || ((ForeignScanState *) sub)->fdw_state == NULL)
		elog(ERROR, "widecol: the conditional write has no scan of its row");
	ms->scan = (ForeignScanState *) sub;
	ss = ms->scan->fdw_state;
	if (ss->t->table_id != ms->t->table_id)
		elog(ERROR, "widecol: the conditional write scans another table");
	ss->serial = true;
	ms->cas_returning = ms->op == CMD_DELETE &&
		((ModifyTable *) mtstate->ps.plan)->returningLists != NIL;
}

static void
widecolBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	WidecolModifyState *ms = make_state(rinfo->ri_RelationDesc, CMD_INSERT, mtstate->ps.state);
	WidecolTable *t = ms->t;

	widecol_counter_refuse_write(t, CMD_INSERT);

	/* COPY and tuple routing: every column, NULLs skipped */
	for (int i = 0; i < t->ncols; i++)
		ms->target[i] = !t->cols[i].dropped;
	ms->copy = true;
	rinfo->ri_FdwState = ms;
}

/* Encode the partition and clustering keys from values; NULL keys are errors. */
static void
encode_keys(WidecolModifyState *ms, Datum *values, bool *isnull)
{
	WidecolTable *t = ms->t;

	resetStringInfo(&ms->pk);
	resetStringInfo(&ms->ck);
	for (int i = 0; i < t->npk + t->nck; i++)
	{
		bool		is_pk = i < t->npk;
		int			ci = is_pk ? t->pk[i] : t->ck[i - t->npk];
		WidecolColumn *c = &t->cols[ci];

		if (isnull[ci])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("%s column \"%s\" of widecol table \"%s\" cannot be NULL",
							is_pk ? "partition-key" : "clustering", c->name, get_rel_name(t->relid)),
					 errhint("Every primary-key column needs a value.")));
		if (is_pk)
			widecol_encode_column_pk(&ms->pk, c, values[ci], t->npk);
		else
			widecol_encode_column_key(&ms->ck, c, values[ci], c->descending);
	}
	if (ms->pk.len > WC_MAX_PK_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partition key of widecol table \"%s\" is %d bytes, more than the %d allowed",
						get_rel_name(t->relid), ms->pk.len, WC_MAX_PK_LEN),
				 errhint("Use shorter partition-key values.")));
	if ((uint32) ms->ck.len > WC_MAX_CK_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("clustering key of widecol table \"%s\" is %d bytes, more than the %u allowed",
						get_rel_name(t->relid), ms->ck.len, WC_MAX_CK_LEN),
				 errhint("Use shorter clustering-key values.")));
}

static void
send_mutation(WidecolModifyState *ms)
{
	if (ms->lwt != NULL)
	{
		wc_status	st = wc_batch_builder_end(ms->lwt);

		if (st != WC_OK)
			widecol_report(st, "encoding a write");
	}
	else
		writer_end_mutation(ms->w);
	ms->m = NULL;
}

/* Start the statement's next mutation in the writer's batch. */
static void
begin_mutation(WidecolModifyState *ms)
{
	ms->m = ms->lwt != NULL ?
		wc_batch_builder_begin(ms->lwt, ms->t->table_id, ms->pk.data, ms->pk.len) :
		writer_begin_mutation(ms->w, ms->pk.data, ms->pk.len);
}

/* Does the statement write any cell of this kind for the row in slot? */
static bool
has_cells(WidecolModifyState *ms, TupleTableSlot *slot, WidecolColumnKind kind)
{
	WidecolTable *t = ms->t;

	for (int i = 0; i < t->ncols; i++)
		if (ms->target[i] && t->cols[i].kind == kind && !(ms->copy && slot->tts_isnull[i]))
			return true;
	return false;
}

/*
 * Add the targeted cells of one kind (static or regular) to rb, in
 * ascending column id: a NULL is a cell tombstone (skipped by COPY), a value
 * expires after ttl seconds when ttl > 0.
 */
static void
add_cells(WidecolModifyState *ms, wc_rowb *rb, TupleTableSlot *slot, WidecolColumnKind kind,
		  int64 ts, int32 ttl, uint32 ldt, uint32 now)
{
	WidecolTable *t = ms->t;
	StringInfo	val = &ms->val;

	for (int k = 0; k < t->ncells; k++)
	{
		int			i = t->cell_order[k];
		WidecolColumn *c = &t->cols[i];
		wc_cell		cell;

		if (!ms->target[i] || c->kind != kind)
			continue;
		if (slot->tts_isnull[i] && ms->copy)
			continue;
		memset(&cell, 0, sizeof(cell));
		cell.column = c->cell_id;
		cell.ts = ms->has_ts[i] ? ms->cell_ts[i] : ts;
		if (slot->tts_isnull[i])
		{
			cell.flags = WC_CELLF_TOMBSTONE;
			cell.ldt = now;
		}
		else if (c->coll != NULL && !c->coll->frozen)
		{
			int32		cttl = ms->has_ttl[i] ? ms->cell_ttl[i] : ttl;

			/* a whole collection replaces the stored one (collection.c) */
			widecol_collection_put_value(rb, c, slot->tts_values[i], cell.ts, cttl,
										 ms->has_ttl[i] && cttl > 0 ? now + (uint32) cttl :
										 (ms->has_ttl[i] ? 0 : ldt), now);
			continue;
		}
		else
		{
			int32		cttl = ms->has_ttl[i] ? ms->cell_ttl[i] : ttl;

			Datum		v = slot->tts_values[i];

			if (c->coll != NULL)
				v = widecol_collection_frozen_value(c, v);
			resetStringInfo(val);
			widecol_encode_value(val, v, c->typlen, c->typbyval);
			cell.value = (const uint8_t *) val->data;
			cell.len = val->len;
			if (cttl > 0)
			{
				cell.flags = WC_CELLF_EXPIRING;
				cell.ttl = (uint32) cttl;
				cell.ldt = ms->has_ttl[i] ? now + (uint32) cttl : ldt;
			}
		}
		wc_rowb_cell(rb, &cell);
	}
}

/*
 * Collect the TTLs and write times the row in slot sets through its ttl and
 * writetime columns (a NULL one leaves the statement's), checking them.
 */
static void
row_meta(WidecolModifyState *ms, TupleTableSlot *slot)
{
	WidecolTable *t = ms->t;

	if (!t->has_meta)
		return;					/* has_ttl and has_ts stay false */
	for (int i = 0; i < t->ncols; i++)
		ms->has_ttl[i] = ms->has_ts[i] = false;
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		if (!ms->target[i] || slot->tts_isnull[i])
			continue;
		if (c->kind == WIDECOL_COL_TTL)
		{
			int32		v = DatumGetInt32(slot->tts_values[i]);

			if (v < 0 || v > WIDECOL_MAX_TTL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("TTL %d written to \"%s\" is out of range", v, c->name),
						 errhint("A TTL is a number of seconds from 0 (no expiry) to %d (20 years).",
								 WIDECOL_MAX_TTL)));
			ms->cell_ttl[c->meta_of] = v;
			ms->has_ttl[c->meta_of] = true;
		}
		else if (c->kind == WIDECOL_COL_WRITETIME)
		{
			int64		v = DatumGetInt64(slot->tts_values[i]);

			if (v < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("write time " INT64_FORMAT " written to \"%s\" is negative", v, c->name),
						 errhint("A write time is in microseconds since 1970-01-01 UTC, as CQL's "
								 "USING TIMESTAMP.")));
			ms->cell_ts[c->meta_of] = v;
			ms->has_ts[c->meta_of] = true;
		}
	}
}

/*
 * Write the targeted cells of the row in slot (keys already encoded).  With
 * liveness, the row marker too (INSERT).
 */
static void
write_row(WidecolModifyState *ms, TupleTableSlot *slot, bool liveness)
{
	WidecolTable *t = ms->t;
	int64		ts = ms->ts;
	int32		ttl = widecol_ttl >= 0 ? widecol_ttl : t->default_ttl;
	uint32		now = (uint32) time(NULL);
	uint32		ldt = ttl > 0 ? now + (uint32) ttl : 0;
	wc_rowb    *rb;
	int64		live_ts = ts;
	int32		live_ttl = ttl;

	row_meta(ms, slot);
	if (liveness && t->has_meta)
	{
		/*
		 * With per-column TTLs or write times, the row marker lives as long
		 * as the longest-lived cell the row writes and carries the latest of
		 * their write times: the row goes when its cells go, as with CQL's
		 * USING TTL.
		 */
		bool		any_ttl = false,
					any_ts = false,
					forever = false;
		int32		max_ttl = 0;
		int64		max_ts = PG_INT64_MIN;

		for (int i = 0; i < t->ncols; i++)
		{
			if (!ms->target[i] || t->cols[i].kind != WIDECOL_COL_REGULAR)
				continue;
			any_ts |= ms->has_ts[i];
			max_ts = Max(max_ts, ms->has_ts[i] ? ms->cell_ts[i] : ts);
			if (slot->tts_isnull[i])
				continue;
			any_ttl |= ms->has_ttl[i];
			if ((ms->has_ttl[i] ? ms->cell_ttl[i] : ttl) <= 0)
				forever = true;
			else
				max_ttl = Max(max_ttl, ms->has_ttl[i] ? ms->cell_ttl[i] : ttl);
		}
		if (any_ts)
			live_ts = max_ts;
		if (any_ttl)
			live_ttl = forever ? 0 : max_ttl;
	}

	begin_mutation(ms);

	/* static cells go to the partition's static row, the others to the row */
	if (has_cells(ms, slot, WIDECOL_COL_STATIC))
	{
		rb = wc_mutation_row_begin(ms->m, true, NULL, 0);
		add_cells(ms, rb, slot, WIDECOL_COL_STATIC, ts, ttl, ldt, now);
		wc_mutation_row_end(ms->m);
	}
	if (!ms->static_only && (liveness || has_cells(ms, slot, WIDECOL_COL_REGULAR)))
	{
		rb = wc_mutation_row_begin(ms->m, false, ms->ck.data, ms->ck.len);
		if (liveness)
			wc_rowb_liveness(rb, live_ts, live_ttl > 0 ? (uint32) live_ttl : 0,
							 live_ttl > 0 ? now + (uint32) live_ttl : 0);
		add_cells(ms, rb, slot, WIDECOL_COL_REGULAR, ts, ttl, ldt, now);
		wc_mutation_row_end(ms->m);
	}
	send_mutation(ms);
}

static TupleTableSlot *
widecolExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						 TupleTableSlot *planSlot)
{
	WidecolModifyState *ms = rinfo->ri_FdwState;

	if (ms->if_not_exists)
		return insert_if_not_exists(ms, slot) ? slot : NULL;
	widecol_modify_insert(ms, slot);
	if (ms->copy)
		widecol_bulk_yield_point();
	return slot;
}

/*
 * INSERT ... ON CONFLICT DO NOTHING: the row's writes in a batch of their
 * own, sent at once as a lightweight transaction (lwt.c) that writes them
 * only if the row does not exist.  Whether it applied.
 */
static bool
insert_if_not_exists(WidecolModifyState *ms, TupleTableSlot *slot)
{
	wc_batch_builder b;
	const uint8_t *rec;
	size_t		len;
	bool		applied = false;

	slot_getallattrs(slot);
	if (static_only_insert(ms, slot))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO NOTHING needs the whole primary key of widecol table \"%s\"",
						get_rel_name(ms->t->relid)),
				 errhint("Give every clustering column: the condition is on one row.")));
	wc_batch_builder_init(&b);
	PG_TRY();
	{
		wc_status	st;

		ms->lwt = &b;
		widecol_modify_insert(ms, slot);
		ms->lwt = NULL;
		if ((st = wc_batch_builder_finish(&b, &rec, &len)) != WC_OK)
			widecol_report(st, "encoding a write");
		applied = widecol_lwt_cas(ms->t, ms->pk.data, ms->pk.len, ms->ck.data, ms->ck.len,
								  WC_CASF_NOT_EXISTS, NULL, 0, rec, len);
	}
	PG_FINALLY();
	{
		ms->lwt = NULL;
		wc_batch_builder_free(&b);
	}
	PG_END_TRY();
	return applied;
}

/*
 * A point between the rows of a COPY (or another bulk insert) where its
 * backend may give up the CPU: once widecol.bulk_yield_us have passed since
 * its last yield, sched_yield() lets a woken reader waiting for this CPU run
 * first.  The fair scheduler would otherwise let the COPY finish its slice,
 * milliseconds, whatever the reader's wait (docs/architecture.md, "Bulk work
 * yields").  The engine's yield point, with the setting as this backend's
 * interval (it reads the clock every 16 rows).
 */
void
widecol_bulk_yield_point(void)
{
	static bool interval_set = false;

	if (!interval_set)
	{
		wc__yield_every((uint32) widecol_bulk_yield_us);
		interval_set = true;
	}
	wc__yield_point();
}

/* Write the row in slot as an INSERT does (an upsert of its targeted cells). */
void
widecol_modify_insert(WidecolModifyState *ms, TupleTableSlot *slot)
{
	WidecolTable *t = ms->t;

	slot_getallattrs(slot);
	if (static_only_insert(ms, slot))
	{
		/* CQL: INSERT of the partition key and static columns only */
		Datum	   *values = palloc0(sizeof(Datum) * t->ncols);
		bool	   *nulls = palloc(sizeof(bool) * t->ncols);

		for (int i = 0; i < t->ncols; i++)
		{
			values[i] = slot->tts_values[i];
			nulls[i] = slot->tts_isnull[i];
		}
		/* the clustering key is absent: encode the partition key alone */
		for (int i = 0; i < t->nck; i++)
		{
			nulls[t->ck[i]] = false;
			values[t->ck[i]] = (Datum) 0;
		}
		encode_pk_only(ms, values, nulls);
		ms->static_only = true;
		write_row(ms, slot, false);
		ms->static_only = false;
		return;
	}
	encode_keys(ms, slot->tts_values, slot->tts_isnull);
	write_row(ms, slot, true);
}

/*
 * An INSERT that gives the partition key and static columns but no
 * clustering key and no regular column writes only the partition's static
 * row, as CQL allows.
 */
static bool
static_only_insert(WidecolModifyState *ms, TupleTableSlot *slot)
{
	WidecolTable *t = ms->t;
	bool		any_static = false;

	if (t->nck == 0 || !t->has_static)
		return false;
	for (int i = 0; i < t->nck; i++)
		if (!slot->tts_isnull[t->ck[i]])
			return false;
	for (int i = 0; i < t->ncols; i++)
	{
		if (!ms->target[i])
			continue;
		if (t->cols[i].kind == WIDECOL_COL_REGULAR && !slot->tts_isnull[i])
			return false;
		if (t->cols[i].kind == WIDECOL_COL_STATIC)
			any_static = true;
	}
	return any_static;
}

/* Encode only the partition key (a static-only write). */
static void
encode_pk_only(WidecolModifyState *ms, Datum *values, bool *isnull)
{
	WidecolTable *t = ms->t;

	resetStringInfo(&ms->pk);
	resetStringInfo(&ms->ck);
	for (int i = 0; i < t->npk; i++)
	{
		WidecolColumn *c = &t->cols[t->pk[i]];

		if (isnull[t->pk[i]])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("partition-key column \"%s\" of widecol table \"%s\" cannot be NULL",
							c->name, get_rel_name(t->relid)),
					 errhint("Every primary-key column needs a value.")));
		widecol_encode_column_pk(&ms->pk, c, values[t->pk[i]], t->npk);
	}
}

/* Key values of the row being updated or deleted, from the junk columns. */
static void
keys_from_plan(WidecolModifyState *ms, TupleTableSlot *planSlot)
{
	WidecolTable *t = ms->t;
	Datum	   *values = palloc0(sizeof(Datum) * Max(t->ncols, 1));
	bool	   *nulls = palloc0(sizeof(bool) * Max(t->ncols, 1));

	for (int i = 0; i < t->npk + t->nck; i++)
	{
		int			ci = i < t->npk ? t->pk[i] : t->ck[i - t->npk];

		values[ci] = ExecGetJunkAttribute(planSlot, ms->junk[ci], &nulls[ci]);
	}
	encode_keys(ms, values, nulls);
}

static TupleTableSlot *
widecolExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						 TupleTableSlot *planSlot)
{
	WidecolModifyState *ms = rinfo->ri_FdwState;

	if (ms->cas)
		return cas_row(ms, rinfo, slot, planSlot);
	slot_getallattrs(slot);
	keys_from_plan(ms, planSlot);
	write_row(ms, slot, false);
	return slot;
}

static TupleTableSlot *
widecolExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						 TupleTableSlot *planSlot)
{
	WidecolModifyState *ms = rinfo->ri_FdwState;

	if (ms->cas)
		return cas_row(ms, rinfo, slot, planSlot);
	keys_from_plan(ms, planSlot);
	delete_row(ms);
	return slot;
}

/* Store the row of the "wholerow" junk column of planSlot in dest. */
static void
store_wholerow(ResultRelInfo *rinfo, TupleTableSlot *planSlot, TupleTableSlot *dest)
{
	HeapTupleData tup;
	Datum		d;
	bool		isnull;

	if (!AttributeNumberIsValid(rinfo->ri_RowIdAttNo))
		elog(ERROR, "widecol: the conditional write has no wholerow column");
	d = ExecGetJunkAttribute(planSlot, rinfo->ri_RowIdAttNo, &isnull);
	if (isnull)
		elog(ERROR, "widecol: the conditional write read a NULL wholerow");
	tup.t_data = DatumGetHeapTupleHeader(d);
	tup.t_len = HeapTupleHeaderGetDatumLength(tup.t_data);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = RelationGetRelid(rinfo->ri_RelationDesc);
	/* a copy: a heap-tuple slot keeps the tuple it is given */
	ExecForceStoreHeapTuple(heap_copytuple(&tup), dest, true);
}

/*
 * The replicas check a conditional write's columns without the
 * transaction's pending writes (a function or DO block may have written
 * the partition before): refused, rather than retried until it gives up.
 */
static void
refuse_pending(WidecolModifyState *ms)
{
	size_t		len;
	uint32		n = 0;

	widecol_txn_overlay(ms->t->table_id, ms->pk.data, ms->pk.len, widecol_txn_position(), &len, &n);
	if (n > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("conditional %s of widecol table \"%s\" cannot follow writes of the same partition in its transaction",
						ms->op == CMD_UPDATE ? "UPDATE" : "DELETE", get_rel_name(ms->t->relid)),
				 errdetail("A lightweight transaction compares the values stored on the replicas, "
						   "which do not have the transaction's pending writes yet."),
				 errhint("Commit those writes first, or make the conditional write the first "
						 "write of its partition in the transaction.")));
}

/*
 * The conditional UPDATE (slot: the new row) or DELETE of the row the
 * scan read: a compare-and-set that applies only while the columns the
 * statement read hold what it read.  When one changed, the scan reads
 * the row again (at the serial level; its quals are the conditions) and
 * the new row is computed again from it.  Returns the row as applied, or
 * NULL when the conditions do not hold (UPDATE 0, DELETE 0).
 */
static TupleTableSlot *
cas_row(WidecolModifyState *ms, ResultRelInfo *rinfo, TupleTableSlot *slot,
		TupleTableSlot *planSlot)
{
	for (int attempt = 1;; attempt++)
	{
		keys_from_plan(ms, planSlot);
		if (attempt == 1)
			refuse_pending(ms);
		if (ms->op == CMD_UPDATE)
			slot_getallattrs(slot);
		if (cas_write(ms, slot))
		{
			if (ms->cas_returning)
				store_wholerow(rinfo, planSlot, slot);
			return slot;
		}
		if (attempt == WIDECOL_CAS_ATTEMPTS)
			ereport(ERROR,
					(errcode(ERRCODE_WIDECOL_LWT_CONTENTION),
					 errmsg("lightweight transaction on widecol table \"%s\" gave up under contention",
							get_rel_name(ms->t->relid)),
					 errdetail("The columns it reads changed %d times between its read and its "
							   "compare-and-set; it did not apply.", WIDECOL_CAS_ATTEMPTS),
					 errhint("Other writers keep changing the row: retry after a short random "
							 "pause, and spread the writers over more rows.")));
		/* a short random pause: the writers that changed the row may still be at it */
		pg_usleep((long) pg_prng_uint64_range(&pg_global_prng_state, 0,
											  (uint64) Min(attempt, 8) * 1000));
		CHECK_FOR_INTERRUPTS();
		ExecReScan(&ms->scan->ss.ps);
		planSlot = ExecProcNode(&ms->scan->ss.ps);
		if (TupIsNull(planSlot))
			return NULL;
		if (ms->op == CMD_UPDATE)
		{
			store_wholerow(rinfo, planSlot, rinfo->ri_oldTupleSlot);
			slot = ExecGetUpdateNewTuple(rinfo, planSlot, rinfo->ri_oldTupleSlot);
		}
	}
}

/*
 * One compare-and-set of the row whose keys are encoded in ms: the row
 * must exist and each column the statement read must hold the value the
 * scan read (the same stored bytes, or no cell); then the UPDATE's cells
 * of slot, or the DELETE's row tombstone, are written.  Whether it applied.
 */
static bool
cas_write(WidecolModifyState *ms, TupleTableSlot *slot)
{
	WidecolTable *t = ms->t;
	WidecolScanState *ss = ms->scan->fdw_state;
	TupleTableSlot *row = ms->scan->ss.ss_ScanTupleSlot;
	wc_lwt_cond conds[WC_LWT_MAX_CONDS];
	int			n = 0;
	ListCell   *lc;
	wc_batch_builder b;
	const uint8_t *rec;
	size_t		len;
	bool		applied = false;

	slot_getallattrs(row);
	foreach(lc, ms->cas_columns)
	{
		int			ci = lfirst_int(lc) - 1;
		WidecolColumn *c = &t->cols[ci];

		if (!ss->wanted[ci])
			elog(ERROR, "widecol: column \"%s\" of the conditional write was not read", c->name);
		memset(&conds[n], 0, sizeof(conds[n]));
		conds[n].column = c->cell_id;
		if (row->tts_isnull[ci])
			conds[n].op = WC_CAS_IS_NULL;
		else
		{
			StringInfoData v;
			Datum		d = row->tts_values[ci];

			initStringInfo(&v);
			if (c->coll != NULL)
				d = widecol_collection_frozen_value(c, d);
			widecol_encode_value(&v, d, c->typlen, c->typbyval);
			conds[n].op = WC_CAS_EQ;
			conds[n].value = (const uint8_t *) v.data;
			conds[n].len = v.len;
		}
		n++;
	}
	wc_batch_builder_init(&b);
	PG_TRY();
	{
		wc_status	st;

		ms->lwt = &b;
		if (ms->op == CMD_UPDATE)
			write_row(ms, slot, false);
		else
			delete_row(ms);
		ms->lwt = NULL;
		if ((st = wc_batch_builder_finish(&b, &rec, &len)) != WC_OK)
			widecol_report(st, "encoding a write");
		applied = widecol_lwt_cas(t, ms->pk.data, ms->pk.len, ms->ck.data, ms->ck.len,
								  WC_CASF_EXISTS, conds, n, rec, len);
	}
	PG_FINALLY();
	{
		ms->lwt = NULL;
		wc_batch_builder_free(&b);
	}
	PG_END_TRY();
	return applied;
}

/* Write the tombstone of the row whose keys are encoded in ms. */
static void
delete_row(WidecolModifyState *ms)
{
	int64		ts = ms->ts;
	uint32		now = (uint32) time(NULL);

	begin_mutation(ms);
	/* a lightweight transaction writes rows: the row (empty key) of the partition */
	if (ms->t->nck == 0 && ms->lwt == NULL)
		wc_mutation_delete_partition(ms->m, ts, now);
	else
	{
		wc_rowb_deletion(wc_mutation_row_begin(ms->m, false, ms->ck.data, ms->ck.len), ts, now);
		wc_mutation_row_end(ms->m);
	}
	send_mutation(ms);
}

/* EXPLAIN of a conditional UPDATE or DELETE: the read and the columns compared. */
static void
widecolExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
							int subplan_index, struct ExplainState *es)
{
	WidecolTable *t = widecol_get_table(RelationGetRelid(rinfo->ri_RelationDesc));
	StringInfoData s;
	ListCell   *lc;

	if (list_length(fdw_private) <= 4 || intVal(list_nth(fdw_private, 3)) == 0)
		return;
	/* the scan below shows the level it reads at (ModifyTable is explained first) */
	if (outerPlanState(mtstate) != NULL && IsA(outerPlanState(mtstate), ForeignScanState) &&
		((ForeignScanState *) outerPlanState(mtstate))->fdw_state != NULL)
		((WidecolScanState *) ((ForeignScanState *) outerPlanState(mtstate))->fdw_state)->serial = true;
	initStringInfo(&s);
	appendStringInfo(&s, "read at %s, then compare-and-set of",
					 widecol_serial_consistency == WC_CL_LOCAL_SERIAL ? "LOCAL_SERIAL" : "SERIAL");
	foreach(lc, (List *) list_nth(fdw_private, 4))
		appendStringInfo(&s, "%s %s", foreach_current_index(lc) ? "," : "",
						 quote_identifier(t->cols[lfirst_int(lc) - 1].name));
	if (list_length((List *) list_nth(fdw_private, 4)) == 0)
		appendStringInfoString(&s, " the row's existence");
	ExplainPropertyText("Lightweight Transaction", s.data, es);
}

static void
widecolEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	WidecolModifyState *ms = rinfo->ri_FdwState;

	if (ms == NULL)
		return;
	widecol_writer_end(ms->w);
}

static void
widecolEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	widecolEndForeignModify(estate, rinfo);
}

static int
widecolIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

/*
 * TRUNCATE: empty every listed table (PostgreSQL has checked the
 * privilege).  It cannot be undone, so it is refused inside a transaction
 * block, where a user would expect ROLLBACK to bring the rows back.
 */
static void
widecolExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	ListCell   *lc;

	widecol_refuse_cluster_truncate(RelationGetRelationName((Relation) linitial(rels)));
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("TRUNCATE of widecol table \"%s\" cannot run inside a transaction block",
						RelationGetRelationName((Relation) linitial(rels))),
				 errdetail("widecol cannot undo a TRUNCATE at ROLLBACK."),
				 errhint("Run TRUNCATE on its own, outside BEGIN ... COMMIT.")));
	foreach(lc, rels)
		widecol_matview_refuse_write(widecol_get_table(RelationGetRelid((Relation) lfirst(lc))));
	foreach(lc, rels)
		widecol_empty_table(widecol_get_table(RelationGetRelid((Relation) lfirst(lc))));
}

/* ---------------------------------------------------------------- table AM */

/*
 * The writes of one statement to a widecol table reached through the table
 * access method (tam.c): cols holds the attribute numbers the statement
 * writes (NULLs are cell tombstones), or is NULL for every column with NULLs
 * skipped, as COPY writes.  The state lives in the current memory context.
 */
WidecolModifyState *
widecol_modify_begin(Relation rel, CmdType op, Bitmapset *cols)
{
	WidecolModifyState *ms = make_state(rel, op, NULL);

	/* a counter table USING widecol changes only by increments (tam_modify.c) */
	widecol_counter_refuse_write(ms->t, op);
	for (int i = 0; i < ms->t->ncols; i++)
		ms->target[i] = !ms->t->cols[i].dropped &&
			(cols == NULL || bms_is_member(ms->t->cols[i].attnum, cols));
	ms->copy = cols == NULL;
	return ms;
}

/* UPDATE: write the targeted cells of slot to the row whose key is in keys/nulls. */
void
widecol_modify_update(WidecolModifyState *ms, Datum *keys, bool *nulls, TupleTableSlot *slot)
{
	slot_getallattrs(slot);
	encode_keys(ms, keys, nulls);
	write_row(ms, slot, false);
}

/* DELETE the row (or partition) whose key is in keys/nulls. */
void
widecol_modify_delete(WidecolModifyState *ms, Datum *keys, bool *nulls)
{
	encode_keys(ms, keys, nulls);
	delete_row(ms);
}

/* Send what is left of the statement's writes and wait for the node. */
void
widecol_modify_end(WidecolModifyState *ms)
{
	widecol_writer_end(ms->w);
}

/* Fill in the modify callbacks of the FDW routine (called by fdw.c). */
void
widecol_fdw_modify_routine(FdwRoutine *routine)
{
	routine->AddForeignUpdateTargets = widecolAddForeignUpdateTargets;
	routine->PlanForeignModify = widecolPlanForeignModify;
	routine->BeginForeignModify = widecolBeginForeignModify;
	routine->ExecForeignInsert = widecolExecForeignInsert;
	routine->ExecForeignUpdate = widecolExecForeignUpdate;
	routine->ExecForeignDelete = widecolExecForeignDelete;
	routine->EndForeignModify = widecolEndForeignModify;
	routine->ExplainForeignModify = widecolExplainForeignModify;
	routine->BeginForeignInsert = widecolBeginForeignInsert;
	routine->EndForeignInsert = widecolEndForeignInsert;
	routine->IsForeignRelUpdatable = widecolIsForeignRelUpdatable;
	routine->ExecForeignTruncate = widecolExecForeignTruncate;
}
