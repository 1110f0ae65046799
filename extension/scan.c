/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Execution of scans of widecol tables: the partitions to read,
 *		  paged reads from the node, rows with their static columns, and
 *		  EXPLAIN.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/scan.c
 *
 * NOTES
 *	  The BeginForeignScan, IterateForeignScan, ReScanForeignScan,
 *	  EndForeignScan and ExplainForeignScan callbacks of the FDW routine
 *	  (wired in fdw.c), over widecol_begin_scan, widecol_scan_next,
 *	  widecol_rescan and widecol_explain_scan, which the table access
 *	  method (tam.c, tam_scan.c) runs too.  The executor reads what plan.c put into the
 *	  ForeignScan: fdw_private by the FdwScanPrivate indexes (widecol.h),
 *	  and fdw_exprs in plan.c's order: the partition-key values, the
 *	  clustering equalities, then the lower and upper bounds.  Key values
 *	  are encoded with keycodec.c.
 *
 *	  Pages of rows come from the node widecol.fetch_size rows at a time;
 *	  a page lives until the next one is fetched (a callback on the
 *	  query's memory context frees it when the query ends early).  The direct DELETE
 *	  (direct_delete.c) and ANALYZE (analyze.c) reuse this scan state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "client.h"
#include "consistency.h"
#include "keys.h"
#include "protocol.h"
#include "ring.h"

#include "widecol.h"

/* helpers */
static void check_tombstones(WidecolScanState *ss);
static void explain_cluster(WidecolScanState *ss, ExplainState *es);
static void add_trace(WidecolScanState *ss, const wc_client_page *page);
static void explain_trace(WidecolScanState *ss, ExplainState *es);
static void explain_choose(const wc_proto_members *m, wc_ring *ring, const int *member_of,
						   const wc_replication *repl, int64 token, StringInfo out,
						   StringInfo unavailable);
static bool next_partition(WidecolScanState *ss);
static void build_request(WidecolScanState *ss, StringInfo pk, wc_read_request *out);
static bool row_cache_read(WidecolScanState *ss, StringInfo pk);
static bool direct_read(WidecolScanState *ss, StringInfo pk);
static void build_overlay(WidecolScanState *ss, StringInfo pk);
static void add_stats(WidecolScanState *ss, const wc_read_stats *st);
static int64 count_partition(WidecolScanState *ss);
static bool per_partition_trim(WidecolScanState *ss, const wc_result_row *r);
static void build_slices(WidecolScanState *ss, ExprContext *econtext, ExprState *es);
static bool eval_row_bound(WidecolScanState *ss, ExprContext *econtext, ListCell **lc,
						   int nvalues, StringInfo buf, bool *incl);
static int	encode_value_as(StringInfo buf, WidecolColumn *c, Datum v, Oid vtype, bool desc,
							int npk);
static void encode_column(StringInfo buf, WidecolColumn *c, Datum v, bool desc, int npk);

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

void
widecolBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	WidecolScanState *ss;

	/* without a scan relation the plan is a pushed-down count(*) (plan.c) */
	ss = widecol_begin_scan(&node->ss.ps,
							fs->scan.scanrelid == 0 ?
							(Oid) intVal(list_nth(fs->fdw_private, FSP_RELID)) :
							RelationGetRelid(node->ss.ss_currentRelation),
							fs->fdw_private, fs->fdw_exprs, eflags);
	ss->count_only = fs->scan.scanrelid == 0;
	node->fdw_state = ss;
}

/*
 * The state of a scan of table relid as planned by plan.c (priv and exprs
 * as in a ForeignScan), for the executor node ps; without a node (ps NULL:
 * the table access method's own scans) the scan lives in the current
 * memory context and exprs must be empty.
 */
WidecolScanState *
widecol_begin_scan(PlanState *ps, Oid relid, List *priv, List *exprs, int eflags)
{
	WidecolScanState *ss = palloc0(sizeof(WidecolScanState));
	MemoryContext query_cxt = ps ? ps->state->es_query_cxt : CurrentMemoryContext;
	List	   *bounds = list_nth(priv, FSP_BOUNDS);
	List	   *pk_in = list_nth(priv, FSP_PK_IN);
	List	   *attrs = list_nth(priv, FSP_ATTRS);
	ListCell   *lc;
	int			i;

	ss->txn_upto = widecol_txn_position();
	ss->t = widecol_get_table(relid);
	ss->desc = strVal(list_nth(priv, FSP_DESC));
	ss->ps = ps;
	ss->explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	if (list_length(priv) > FSP_PPL)
	{
		List	   *ppl = list_nth(priv, FSP_PPL);

		ss->ppl = linitial_int(ppl);
		ss->ppl_distinct = list_length(ppl) > 2 ? lthird_int(ppl) : 0;
		if (ss->ppl == 0 && lsecond_int(ppl) && widecol_per_partition_limit > 0)
		{
			ss->ppl = widecol_per_partition_limit;
			ss->ppl_from_guc = true;
		}
	}
	if (!ss->explain_only)
		widecol_ensure_engine_table(ss->t);

	ss->partition_mode = intVal(list_nth(priv, FSP_MODE)) == 1;
	if (intVal(list_nth(priv, FSP_MODE)) == 2)
		ss->index = strVal(list_nth(priv, FSP_INDEX));
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
	ss->lower_n = list_length(bounds) > 4 ? list_nth_int(bounds, 4) : 1;
	ss->upper_n = list_length(bounds) > 5 ? list_nth_int(bounds, 5) : 1;
	ss->ck_in = list_length(bounds) > 6 && list_nth_int(bounds, 6);
	ss->reverse = intVal(list_nth(priv, FSP_REVERSE)) != 0;
	ss->limit = intVal(list_nth(priv, FSP_LIMIT));
	ss->value_states = ExecInitExprList(exprs, ps);
	if (ss->explain_only)
	{
		/* EXPLAIN on a cluster evaluates constant keys for their tokens */
		initStringInfo(&ss->lower_key);
		initStringInfo(&ss->upper_key);
		return ss;
	}

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
	/* the wanted cells in ascending id, as the table model keeps them */
	ss->columns = palloc(sizeof(uint32) * Max(ss->t->ncells, 1));
	ss->ncolumns = 0;
	for (i = 0; i < ss->t->ncells; i++)
	{
		WidecolColumn *c = &ss->t->cols[ss->t->cell_order[i]];

		if (!ss->wanted[ss->t->cell_order[i]])
			continue;
		ss->columns[ss->ncolumns++] = c->cell_id;
		if (c->kind == WIDECOL_COL_STATIC)
			ss->need_static = true;
	}
	/* a row with no wanted cell must still be returned: fetch nothing extra */

	ss->batch_cxt = AllocSetContextCreate(query_cxt,
										  "widecol scan", ALLOCSET_DEFAULT_SIZES);
	/* the page is malloc'd by the client: free it even when the query fails */
	{
		MemoryContextCallback *cb = MemoryContextAlloc(query_cxt,
													   sizeof(MemoryContextCallback));

		cb->func = free_scan_page;
		cb->arg = ss;
		MemoryContextRegisterResetCallback(query_cxt, cb);
	}
	initStringInfo(&ss->lower_key);
	initStringInfo(&ss->upper_key);
	initStringInfo(&ss->static_pk);
	initStringInfo(&ss->ppl_pk);
	ss->static_values = palloc0(sizeof(Datum) * Max(ss->t->ncols, 1));
	ss->static_nulls = palloc0(sizeof(bool) * Max(ss->t->ncols, 1));
	return ss;
}

/*
 * Encode a value of type vtype as key column c (integer widths converted,
 * float4 widened to float8).  Returns 0 when encoded, or +1 / -1 without
 * encoding when the value lies above / below every value of the column's
 * type: callers treat that as SQL does (= matches nothing; a bound beyond
 * the range is empty or no bound at all).
 */
static int
encode_value_as(StringInfo buf, WidecolColumn *c, Datum v, Oid vtype, bool desc, int npk)
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
				encode_column(buf, c, v, desc, npk);
				return 0;
			default:
				encode_column(buf, c, v, desc, npk);
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
	encode_column(buf, c, v, desc, npk);
	return 0;
}

/* Encode v as column c: a partition-key column (npk > 0, of npk) or a clustering one. */
static void
encode_column(StringInfo buf, WidecolColumn *c, Datum v, bool desc, int npk)
{
	if (npk > 0)
		widecol_encode_column_pk(buf, c, v, npk);
	else
		widecol_encode_column_key(buf, c, v, desc);
}

/*
 * Evaluate the bound of a row comparison "(ck_k, ck_k+1, ...) op (v1, v2,
 * ...)" of nvalues values (plan.c made sure of their types) into buf, one
 * encoded value after the other.  A NULL value decides the comparison at the
 * values before it: the bound stops there and excludes them (*incl false);
 * a NULL first value matches nothing (returns false, no partitions left).
 */
static bool
eval_row_bound(WidecolScanState *ss, ExprContext *econtext, ListCell **lc, int nvalues,
			   StringInfo buf, bool *incl)
{
	bool		stopped = false;

	for (int j = 0; j < nvalues; j++)
	{
		ExprState  *es = lfirst(*lc);
		WidecolColumn *c = &ss->t->cols[ss->t->ck[ss->nck_eq + j]];
		bool		isnull;
		Datum		v = ExecEvalExpr(es, econtext, &isnull);

		*lc = lnext(ss->value_states, *lc);
		if (stopped)
			continue;
		if (isnull && j == 0)
		{
			ss->partitions = NIL;
			return false;
		}
		if (isnull)
		{
			stopped = true;
			*incl = false;
			continue;
		}
		widecol_encode_column_key(buf, c, v, c->descending);
	}
	return true;
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
	r = encode_value_as(buf, c, v, exprType((Node *) es->expr), c->descending, 0);
	if (r == empty_side)
	{
		ss->partitions = NIL;	/* e.g. col > (above every value): nothing */
		return false;
	}
	if (r != 0)
		*has = false;			/* e.g. col > (below every value): no bound */
	return true;
}

/* qsort comparator of encoded keys (StringInfo *): byte order */
static int
key_cmp(const void *a, const void *b)
{
	StringInfo	x = *(StringInfo const *) a;
	StringInfo	y = *(StringInfo const *) b;
	int			c = memcmp(x->data, y->data, Min(x->len, y->len));

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/*
 * IN on the clustering column after the equality prefix (in ss->lower_key):
 * one slice per distinct value, each the prefix and the value's key, in
 * clustering order (reversed for a reverse read).  No value left (all NULL
 * or out of the column's range) reads nothing.
 */
static void
build_slices(WidecolScanState *ss, ExprContext *econtext, ExprState *es)
{
	WidecolColumn *c = &ss->t->cols[ss->t->ck[ss->nck_eq]];
	bool		isnull;
	Datum		v = ExecEvalExpr(es, econtext, &isnull);
	ArrayType  *arr;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems,
				n = 0;
	StringInfo *keys;

	ss->ck_slices = NIL;
	if (isnull)
	{
		ss->partitions = NIL;
		return;
	}
	arr = DatumGetArrayTypeP(v);
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &elmlen, &elmbyval, &elmalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), elmlen, elmbyval, elmalign, &elems, &nulls, &nelems);
	keys = palloc(sizeof(StringInfo) * Max(nelems, 1));
	for (int e = 0; e < nelems; e++)
	{
		StringInfo	k;

		if (nulls[e])
			continue;
		k = makeStringInfo();
		appendBinaryStringInfo(k, ss->lower_key.data, ss->lower_key.len);
		if (encode_value_as(k, c, elems[e], ARR_ELEMTYPE(arr), c->descending, 0) != 0)
			continue;			/* out of the column's range: matches nothing */
		keys[n++] = k;
	}
	if (n > 1)
		qsort(keys, n, sizeof(StringInfo), key_cmp);
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && key_cmp(&keys[i - 1], &keys[i]) == 0)
			continue;
		if (ss->reverse)
			ss->ck_slices = lcons(keys[i], ss->ck_slices);
		else
			ss->ck_slices = lappend(ss->ck_slices, keys[i]);
	}
	if (ss->ck_slices == NIL)
		ss->partitions = NIL;
	ss->cur_slice = list_head(ss->ck_slices);
}

/* Evaluate the partition-key values into the list of encoded keys. */
void
widecol_build_partitions(WidecolScanState *ss, ExprContext *econtext)
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
									exprType((Node *) es->expr), false, t->npk) != 0)
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
					if (encode_value_as(k, c, elems[e], ARR_ELEMTYPE(arr), false, t->npk) != 0)
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
		if (encode_value_as(&ss->lower_key, c, v, exprType((Node *) es->expr), c->descending, 0) != 0)
		{
			ss->partitions = NIL;
			return;
		}
	}
	appendBinaryStringInfo(&ss->upper_key, ss->lower_key.data, ss->lower_key.len);
	if (ss->ck_in)
	{
		build_slices(ss, econtext, lfirst(lc));
		return;
	}
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
			!(ss->lower_n > 1 ? eval_row_bound(ss, econtext, &lc, ss->lower_n, &lo, &lo_incl) :
			  eval_bound(ss, econtext, &lc, c, &lo, 1, &has_lo)))
			return;
		if (ss->has_upper &&
			!(ss->upper_n > 1 ? eval_row_bound(ss, econtext, &lc, ss->upper_n, &hi, &hi_incl) :
			  eval_bound(ss, econtext, &lc, c, &hi, -1, &has_hi)))
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

void
widecol_fetch_page(WidecolScanState *ss)
{
	wc_read_request req;
	StringInfo	pk = ss->partition_mode ? lfirst(ss->cur_partition) : NULL;
	wc_status	st;

	build_request(ss, pk, &req);

	if (ss->page)
	{
		wc_client_page_free(ss->page);
		ss->page = NULL;
	}
	build_overlay(ss, pk);
	/* EXPLAIN ANALYZE on a cluster: the node says which replicas answered how */
	if (ss->index && ss->overlay_len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("secondary index \"%s\" cannot be read in a transaction that wrote to \"%s\"",
						ss->index, get_rel_name(ss->t->relid)),
				 errdetail("The node's index does not see the transaction's writes before commit."),
				 errhint("Query by the index before writing to the table in the transaction, or after commit.")));
	if (ss->index)
		st = wc_client_index_read(widecol_connection(), &req, widecol_consistency, ss->index,
								  (const uint8_t *) ss->index_value.data,
								  (size_t) ss->index_value.len, &ss->page);
	else if (row_cache_read(ss, pk))
		st = wc_client_read_cached(widecol_connection(), &req, widecol_consistency,
								   ss->t->counter_table, &ss->page);
	else if (direct_read(ss, pk))
		st = wc_client_read_direct(widecol_connection(), &req, widecol_consistency,
								   ss->nck_eq == ss->t->nck && !ss->ck_in, &ss->page);
	else
		st = wc_client_read_ex(widecol_connection(), &req,
							   ss->serial ? widecol_serial_consistency : widecol_consistency,
							   ss->overlay, ss->overlay_len,
							   ss->ps != NULL && ss->ps->state->es_instrument != 0 &&
							   widecol_listen_address != NULL && widecol_listen_address[0] != '\0',
							   &ss->page);
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
	add_stats(ss, &ss->page->stats);
	add_trace(ss, ss->page);
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
 * Whether the read of partition pk may go through the row cache: a table
 * with the option caching 'rows', the session's widecol.row_cache on, the
 * whole primary key given (one row), the first page, no index, no serial
 * read, and no writes of this transaction to merge (read-your-writes
 * reads ask the node).  EXPLAIN ANALYZE asks the node too, so that its
 * counters describe a real read.
 */
static bool
row_cache_read(WidecolScanState *ss, StringInfo pk)
{
	return ss->t->cache_rows && widecol_row_cache && pk != NULL &&
		ss->nck_eq == ss->t->nck && !ss->ck_in && ss->paging_state == NULL &&
		ss->overlay_len == 0 && !ss->serial &&
		!(ss->ps != NULL && ss->ps->state->es_instrument != 0);
}

/*
 * Whether the read of partition pk may read the table's files in this
 * backend (cluster/directread.h; the client still asks the node when a
 * memtable may hold the partition): the session's widecol.direct_reads on,
 * one partition, no index, no serial read, no writes of this transaction
 * to merge.  EXPLAIN ANALYZE asks the node, as for the row cache, so that
 * its counters describe the node's read.
 */
static bool
direct_read(WidecolScanState *ss, StringInfo pk)
{
	return widecol_direct_reads && pk != NULL && ss->overlay_len == 0 && !ss->serial &&
		!(ss->ps != NULL && ss->ps->state->es_instrument != 0);
}

/* The read request for the current partition (pk; NULL for a scan) and slice. */
static void
build_request(WidecolScanState *ss, StringInfo pk, wc_read_request *out)
{
	wc_read_request req;
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
	if (ss->ck_in)
	{
		StringInfo	slice = lfirst(ss->cur_slice);

		req.start.unbounded = req.end.unbounded = false;
		req.start.key = req.end.key = (const uint8_t *) slice->data;
		req.start.len = req.end.len = slice->len;
		req.start.inclusive = req.end.inclusive = true;
	}
	req.reverse = ss->reverse;
	req.include_static = ss->need_static;
	/*
	 * The setting asks the node for one row more per partition, so that the
	 * scan knows when it cut a partition short (and says so); the query's own
	 * limit (DISTINCT ON) is what the query means and needs no such row.
	 */
	req.per_partition_limit = ss->ppl > 0 ? (uint64) ss->ppl + (ss->ppl_from_guc ? 1 : 0) : 0;
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
		/* the extra row per partition would count against the limit */
		if (!ss->ppl_from_guc)
			req.limit = (uint64) Max(left, 1);
	}
	req.page_rows = (size_t) want;
	*out = req;
}

/*
 * The transaction's pending writes of the current partition (or the
 * table), into ss->overlay; refuses consistency ANY for reads.
 */
static void
build_overlay(WidecolScanState *ss, StringInfo pk)
{
	if (widecol_consistency == WC_CL_ANY && !ss->serial)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol.consistency ANY is only supported for writes"),
				 errhint("Read with ONE or a higher level: SET widecol.consistency = one.")));
	/*
	 * Read your writes: the transaction's pending writes of the partition (or
	 * the table) go with the read, and the node merges them as the newest
	 * source.  Built once per partition, so a statement never sees the
	 * writes it makes itself while it reads.
	 */
	if (!ss->overlay_built || ss->overlay_for != (pk ? ss->cur_partition : NULL))
	{
		MemoryContext old = MemoryContextSwitchTo(ss->batch_cxt);
		uint32		n;

		if (ss->overlay)
			pfree(ss->overlay);
		ss->overlay = widecol_txn_overlay(ss->t->table_id, pk ? pk->data : NULL, pk ? pk->len : 0,
										  ss->txn_upto, &ss->overlay_len, &n);
		ss->overlay_mutations += n;
		ss->overlay_built = true;
		ss->overlay_for = pk ? ss->cur_partition : NULL;
		MemoryContextSwitchTo(old);
	}
}

static void
add_stats(WidecolScanState *ss, const wc_read_stats *st)
{
	ss->stats.sstables_read += st->sstables_read;
	ss->stats.memtables_read += st->memtables_read;
	ss->stats.bloom_skips += st->bloom_skips;
	ss->stats.range_skips += st->range_skips;
	ss->stats.blocks_read += st->blocks_read;
	ss->stats.cache_hits += st->cache_hits;
	ss->stats.rows_scanned += st->rows_scanned;
	ss->stats.tombstones_scanned += st->tombstones_scanned;
}

/* The rows of the current partition and slice, counted by the node (COUNT_ROWS). */
static int64
count_partition(WidecolScanState *ss)
{
	wc_read_request req;
	StringInfo	pk = lfirst(ss->cur_partition);
	wc_read_stats rs;
	uint64		n = 0;
	wc_status	st;

	build_request(ss, pk, &req);
	req.limit = 0;
	req.per_partition_limit = 0;
	req.include_static = false;
	build_overlay(ss, pk);
	st = wc_client_count(widecol_connection(), &req, widecol_consistency,
						 ss->overlay, ss->overlay_len, &n, &rs);
	if (st == WC_OVERLOADED && widecol_tombstone_failure_threshold > 0)
	{
		ss->stats.tombstones_scanned = (uint64) widecol_tombstone_failure_threshold + 1;
		check_tombstones(ss);
	}
	if (st != WC_OK)
		widecol_report(st, "read");
	ss->requests++;
	add_stats(ss, &rs);
	check_tombstones(ss);
	return (int64) n;
}

/*
 * A pushed-down count(*) (plan.c's upper path, of either face): one row
 * holding the rows of every partition and slice the scan would read,
 * counted by the node, in each column of the slot (count(*) may appear
 * several times).
 */
TupleTableSlot *
widecol_scan_count(WidecolScanState *ss, TupleTableSlot *slot, ExprContext *econtext)
{
	MemoryContext old;
	int64		total = 0;

	ExecClearTuple(slot);
	if (ss->started)
		return slot;
	ss->started = true;
	old = MemoryContextSwitchTo(ss->batch_cxt);
	widecol_build_partitions(ss, econtext);
	ss->cur_partition = list_head(ss->partitions);
	MemoryContextSwitchTo(old);
	while (ss->cur_partition != NULL)
	{
		total += count_partition(ss);
		if (!next_partition(ss))
			break;
	}
	for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = Int64GetDatum(total);
		slot->tts_isnull[i] = false;
	}
	return ExecStoreVirtualTuple(slot);
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
	ss->paging_state = NULL;
	ss->paging_state_len = 0;
	/* the next IN value of the clustering column, in the same partition */
	if (ss->ck_in && lnext(ss->ck_slices, ss->cur_slice) != NULL)
	{
		ss->cur_slice = lnext(ss->ck_slices, ss->cur_slice);
		return true;
	}
	if (ss->ck_in)
		ss->cur_slice = list_head(ss->ck_slices);
	ss->cur_partition = lnext(ss->partitions, ss->cur_partition);
	if (ss->cur_partition == NULL)
		return false;
	ss->paging_state = NULL;
	ss->paging_state_len = 0;
	return true;
}

/* The column index of cell id (binary search in the table's cell order), or -1. */
static int
cell_col(WidecolScanState *ss, uint32 id)
{
	const WidecolTable *t = ss->t;
	int			lo = 0,
				hi = t->ncells - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		uint32		mid_id = t->cols[t->cell_order[mid]].cell_id;

		if (mid_id == id)
			return t->cell_order[mid];
		if (mid_id < id)
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

void
widecol_fill_row(WidecolScanState *ss, TupleTableSlot *slot, const wc_result_row *r, bool static_only)
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

		values[ci] = key_datum(&t->cols[ci], widecol_decode_column_pk(&p, end, &t->cols[ci], t->npk));
		nulls[ci] = false;
	}
	if (p != end)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("widecol partition key of \"%s\" has trailing bytes", get_rel_name(t->relid)),
				 errhint("The table's key definition may have changed since the data was written; "
						 "recreate the table with its original primary_key.")));
	if (!static_only && !r->is_static)
	{
		p = r->ck;
		end = r->ck + r->ck_len;
		for (i = 0; i < t->nck; i++)
		{
			int			ci = t->ck[i];

			values[ci] = key_datum(&t->cols[ci],
								   widecol_decode_column_key(&p, end, &t->cols[ci], t->cols[ci].descending));
			nulls[ci] = false;
		}
		if (p != end)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("widecol clustering key of \"%s\" has trailing bytes", get_rel_name(t->relid)),
					 errhint("The table's key definition may have changed since the data was written; "
							 "recreate the table with its original primary_key.")));
		for (uint32 k = 0; k < r->ncells; k++)
		{
			const wc_cell *c = &r->cells[k];
			int			ci = cell_col(ss, c->column);

			if (ci < 0 || !ss->wanted[ci] || t->cols[ci].kind == WIDECOL_COL_STATIC)
				continue;
			if (t->cols[ci].is_counter)
				values[ci] = widecol_counter_datum(t, c);
			else if (c->flags & WC_CELLF_COLLECTION)
				values[ci] = widecol_collection_datum(&t->cols[ci], c);
			else
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
		if (c->flags & WC_CELLF_COLLECTION)
			ss->static_values[ci] = widecol_collection_datum(&t->cols[ci], c);
		else
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

TupleTableSlot *
widecolIterateForeignScan(ForeignScanState *node)
{
	if (((WidecolScanState *) node->fdw_state)->count_only)
		return widecol_scan_count(node->fdw_state, node->ss.ss_ScanTupleSlot,
								  node->ss.ps.ps_ExprContext);
	return widecol_scan_next(node->fdw_state, node->ss.ss_ScanTupleSlot,
							 node->ss.ps.ps_ExprContext);
}

/*
 * widecol.per_partition_limit: true when row r is beyond the limit of its
 * partition (the node sends one such row, so the scan knows).  The first
 * time, a NOTICE says that the setting trimmed the result.
 */
static bool
per_partition_trim(WidecolScanState *ss, const wc_result_row *r)
{
	if (ss->ppl_pk.len != (int) r->pk_len || memcmp(ss->ppl_pk.data, r->pk, r->pk_len) != 0)
	{
		MemoryContext old = MemoryContextSwitchTo(ss->batch_cxt);

		resetStringInfo(&ss->ppl_pk);
		appendBinaryStringInfo(&ss->ppl_pk, (const char *) r->pk, r->pk_len);
		MemoryContextSwitchTo(old);
		ss->ppl_rows = 0;
	}
	if (++ss->ppl_rows <= ss->ppl)
		return false;
	if (ss->ppl_trimmed++ == 0)
		ereport(NOTICE,
				(errmsg("widecol.per_partition_limit = %d cut partitions of \"%s\" short",
						(int) ss->ppl, get_rel_name(ss->t->relid)),
				 errdetail("Each partition read returned only its first %d rows in clustering order.",
						   (int) ss->ppl),
				 errhint("RESET widecol.per_partition_limit to read every row.")));
	return true;
}

/*
 * The encoded value of an index read into ss->index_value (evaluated once
 * per scan); false if it is NULL (nothing matches).
 */
static bool
index_value(WidecolScanState *ss, ExprContext *econtext)
{
	WidecolIndex *ix = NULL;
	ListCell   *lc;
	bool		isnull;
	Datum		v;

	foreach(lc, ss->t->indexes)
		if (strcmp(((WidecolIndex *) lfirst(lc))->name, ss->index) == 0)
			ix = lfirst(lc);
	if (ix == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secondary index \"%s\" of \"%s\" no longer exists",
						ss->index, get_rel_name(ss->t->relid)),
				 errhint("Run the query again to plan it without the index.")));
	v = ExecEvalExpr(linitial(ss->value_states), econtext, &isnull);
	if (isnull)
		return false;
	initStringInfo(&ss->index_value);
	widecol_encode_value(&ss->index_value, v, ss->t->cols[ix->col].typlen,
						 ss->t->cols[ix->col].typbyval);
	return true;
}

/* The scan's next row in slot, or an empty slot at the end. */
TupleTableSlot *
widecol_scan_next(WidecolScanState *ss, TupleTableSlot *slot, ExprContext *econtext)
{
	if (!ss->started)
	{
		MemoryContext old = MemoryContextSwitchTo(ss->batch_cxt);

		ss->started = true;
		if (ss->index && !index_value(ss, econtext))
		{
			MemoryContextSwitchTo(old);
			return ExecClearTuple(slot);	/* column = NULL matches nothing */
		}
		if (ss->partition_mode)
		{
			widecol_build_partitions(ss, econtext);
			ss->cur_partition = list_head(ss->partitions);
			if (ss->cur_partition == NULL)
			{
				MemoryContextSwitchTo(old);
				return ExecClearTuple(slot);
			}
		}
		MemoryContextSwitchTo(old);
		widecol_fetch_page(ss);
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
				ss->nck_eq == 0 && !ss->has_lower && !ss->has_upper && !ss->ck_in)
			{
				wc_result_row fake;

				memset(&fake, 0, sizeof(fake));
				fake.pk = (const uint8_t *) ss->static_pk.data;
				fake.pk_len = ss->static_pk.len;
				ss->static_pending = false;
				ss->row--;
				widecol_fill_row(ss, slot, &fake, true);
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
			if (ss->ppl_from_guc && per_partition_trim(ss, r))
				continue;
			widecol_fill_row(ss, slot, r, false);
			ss->returned++;
			return slot;
		}
		/* page used up: next page of this read, or next partition */
		if (ss->page && ss->page->more)
		{
			widecol_fetch_page(ss);
			continue;
		}
		if (ss->static_pending && ss->nck_eq == 0 && !ss->has_lower && !ss->has_upper && !ss->ck_in)
		{
			wc_result_row fake;

			memset(&fake, 0, sizeof(fake));
			fake.pk = (const uint8_t *) ss->static_pk.data;
			fake.pk_len = ss->static_pk.len;
			ss->static_pending = false;
			widecol_fill_row(ss, slot, &fake, true);
			ss->returned++;
			return slot;
		}
		ss->static_pending = false;
		if (!next_partition(ss))
			return ExecClearTuple(slot);
		widecol_fetch_page(ss);
	}
}

void
widecolReScanForeignScan(ForeignScanState *node)
{
	widecol_rescan(node->fdw_state, ((ForeignScan *) node->ss.ps.plan)->fdw_private);
}

/* Start the scan over (priv: what widecol_begin_scan was given). */
void
widecol_rescan(WidecolScanState *ss, List *priv)
{
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
	ss->overlay_built = false;
	ss->overlay = NULL;
	ss->overlay_len = 0;
	MemoryContextReset(ss->batch_cxt);
	initStringInfo(&ss->static_pk);
	initStringInfo(&ss->ppl_pk);
	ss->ppl_rows = 0;
	/* the bound flags may have been swapped for DESC columns: restore them */
	{
		List	   *bounds = list_nth(priv, FSP_BOUNDS);

		ss->has_lower = list_nth_int(bounds, 0);
		ss->lower_incl = list_nth_int(bounds, 1);
		ss->has_upper = list_nth_int(bounds, 2);
		ss->upper_incl = list_nth_int(bounds, 3);
	}
}

void
widecolEndForeignScan(ForeignScanState *node)
{
	WidecolScanState *ss = node->fdw_state;

	if (ss && ss->page)
	{
		wc_client_page_free(ss->page);
		ss->page = NULL;
	}
}

void
widecolExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	widecol_explain_scan(node->fdw_state, es);
}

/* What the scan reads, for EXPLAIN (with ANALYZE, what it cost the node). */
void
widecol_explain_scan(WidecolScanState *ss, ExplainState *es)
{
	ExplainPropertyText("Widecol Read", ss->desc, es);
	if (ss->count_only)
		ExplainPropertyText("Aggregate", "count(*) counted on the node", es);
	ExplainPropertyText("Consistency", widecol_consistency_name(ss->serial ? widecol_serial_consistency :
																widecol_consistency), es);
	if (widecol_listen_address != NULL && widecol_listen_address[0] != '\0')
		explain_cluster(ss, es);
	else
		ExplainPropertyText("Replicas", "local node", es);
	/* read-your-writes: say when this transaction's pending writes are merged */
	if (es->analyze ? ss->overlay_mutations > 0 : widecol_txn_wrote(ss->t->table_id))
		ExplainPropertyText("Merged With", "this transaction's pending writes", es);
	if (ss->ppl > 0)
		ExplainPropertyText("Per Partition Limit",
							psprintf(INT64_FORMAT " (%s)", ss->ppl,
									 ss->ppl_from_guc ? "widecol.per_partition_limit" :
									 ss->ppl_distinct == 2 ? "DISTINCT partition key" :
									 "DISTINCT ON partition key"),
							es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Node Requests", NULL, ss->requests, es);
		explain_trace(ss, es);
		ExplainPropertyInteger("SSTables Read", NULL, (int64) ss->stats.sstables_read, es);
		ExplainPropertyInteger("Bloom Filter Skips", NULL, (int64) ss->stats.bloom_skips, es);
		ExplainPropertyInteger("Tombstones Scanned", NULL, (int64) ss->stats.tombstones_scanned, es);
		if (ss->overlay_mutations > 0)
			ExplainPropertyInteger("Pending Writes Merged", NULL, ss->overlay_mutations, es);
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

/* ---------------------------------------------------------------- EXPLAIN on a cluster */

/*
 * Append to out the replicas the coordinator asks for token at the
 * session's level: this node first when it is a live replica, then the
 * live replicas in placement order, each only while a clause of the level
 * (a data centre's count for LOCAL_* and EACH_QUORUM) is short, as
 * coordinator.c chooses.  A clause that cannot be met is described in
 * unavailable (empty otherwise).
 */
static void
explain_choose(const wc_proto_members *m, wc_ring *ring, const int *member_of,
			   const wc_replication *repl, int64 token, StringInfo out, StringInfo unavailable)
{
	uint32		nhosts = wc_ring_host_count(ring);
	uint32_t   *reps = palloc(sizeof(uint32_t) * Max(nhosts, 1));
	size_t		nreps = 0;
	wc_consistency cl = (wc_consistency) widecol_consistency;
	const char *self_dc = NULL;
	const char *dcs[WC_REPL_MAX_DCS + 1];
	uint32		need[WC_REPL_MAX_DCS + 1],
				picked[WC_REPL_MAX_DCS + 1] = {0},
				alive[WC_REPL_MAX_DCS + 1] = {0},
				blk = 1;
	int			nclauses = 1;
	bool		nts = repl->cls == WC_REPL_NETWORK_TOPOLOGY;
	bool	   *chosen;

	for (size_t i = 0; i < m->n; i++)
		if (m->members[i].local)
			self_dc = m->members[i].dc;
	if (wc_ring_replicas(ring, repl, token, reps, nhosts, &nreps) != WC_OK)
		nreps = 0;
	chosen = palloc0(sizeof(bool) * Max(nreps, 1));
	(void) wc_consistency_block_for(cl, repl, nhosts, false, &blk);
	if (cl == WC_CL_SERIAL)
		cl = WC_CL_QUORUM;
	else if (cl == WC_CL_LOCAL_SERIAL)
		cl = WC_CL_LOCAL_QUORUM;
	dcs[0] = NULL;
	need[0] = cl == WC_CL_ALL ? Max((uint32) nreps, 1) : blk;
	if (nts && nhosts > 1 && self_dc && (cl == WC_CL_LOCAL_ONE || cl == WC_CL_LOCAL_QUORUM))
	{
		uint32		n = 0;

		for (size_t i = 0; i < nreps; i++)
			n += member_of[reps[i]] >= 0 &&
				strcmp(m->members[member_of[reps[i]]].dc, self_dc) == 0;
		dcs[0] = self_dc;
		need[0] = cl == WC_CL_LOCAL_ONE ? 1 : n / 2 + 1;
	}
	else if (nts && cl == WC_CL_EACH_QUORUM)
	{
		nclauses = 0;
		for (uint32 d = 0; d < repl->ndcs; d++)
		{
			uint32		n = 0;

			if (repl->dcs[d].factor == 0)
				continue;
			for (size_t i = 0; i < nreps; i++)
				n += member_of[reps[i]] >= 0 &&
					strcmp(m->members[member_of[reps[i]]].dc, repl->dcs[d].name) == 0;
			dcs[nclauses] = repl->dcs[d].name;
			need[nclauses++] = (n ? n : repl->dcs[d].factor) / 2 + 1;
		}
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nreps; i++)
		{
			int			mi = member_of[reps[i]];
			const wc_member_info *mm = mi >= 0 ? &m->members[mi] : NULL;
			bool		helps = false;

			if (mm == NULL || !(mm->up || mm->local) || (pass == 0) != mm->local)
				continue;
			for (int k = 0; k < nclauses; k++)
				if (dcs[k] == NULL || strcmp(mm->dc, dcs[k]) == 0)
				{
					alive[k]++;
					helps |= picked[k] < need[k];
				}
			if (!helps)
				continue;
			for (int k = 0; k < nclauses; k++)
				picked[k] += dcs[k] == NULL || strcmp(mm->dc, dcs[k]) == 0;
			chosen[i] = true;
		}
	/* in the order asked: this node first */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nreps; i++)
		{
			const wc_member_info *mm = &m->members[member_of[reps[i]]];

			if (!chosen[i] || (pass == 0) != mm->local)
				continue;
			if (strstr(out->data, mm->address) != NULL)
				continue;		/* already named (another token) */
			appendStringInfo(out, "%s%s%s", out->len ? ", " : "", mm->address,
							 mm->local ? " (this node)" : "");
		}
	for (int k = 0; k < nclauses; k++)
		if (alive[k] < need[k] && unavailable->len == 0)
			appendStringInfo(unavailable, "%s needs %u replicas%s%s, %u alive",
							 widecol_consistency_name(widecol_consistency), need[k],
							 dcs[k] ? " in " : "", dcs[k] ? dcs[k] : "", alive[k]);
	pfree(chosen);
	pfree(reps);
}

/* Add a page's trace of the replicas asked to the scan's, by address. */
static void
add_trace(WidecolScanState *ss, const wc_client_page *page)
{
	for (size_t i = 0; i < page->ntrace; i++)
	{
		const wc_read_trace *t = &page->trace[i];
		int			k;

		for (k = 0; k < ss->ntrace && strcmp(ss->trace[k].address, t->address) != 0; k++)
			;
		if (k == ss->ntrace)
		{
			if (ss->ntrace == WC_PROTO_TRACE_MAX)
				continue;
			memset(&ss->trace[k], 0, sizeof(ss->trace[k]));
			strlcpy(ss->trace[k].address, t->address, sizeof(ss->trace[k].address));
			ss->ntrace++;
		}
		ss->trace[k].asks += t->asks;
		ss->trace[k].answers += t->answers;
		ss->trace[k].digests += t->digests;
		ss->trace[k].us += t->us;
		ss->trace[k].bytes += t->bytes;
	}
}

/*
 * EXPLAIN ANALYZE's "Replica Reads": per replica asked, the reads sent, the
 * time to their answers, and what they answered (data with its bytes, or a
 * digest).
 */
static void
explain_trace(WidecolScanState *ss, ExplainState *es)
{
	StringInfoData s;

	if (ss->ntrace == 0)
		return;
	initStringInfo(&s);
	for (int i = 0; i < ss->ntrace; i++)
	{
		const wc_read_trace *t = &ss->trace[i];

		appendStringInfo(&s, "%s%s: %u reads, %.3f ms, %u data (" UINT64_FORMAT " bytes), %u digests",
						 i ? "; " : "", t->address, t->asks, (double) t->us / 1000.0,
						 t->answers - t->digests, t->bytes, t->digests);
		if (t->answers < t->asks)
			appendStringInfo(&s, ", %u unanswered", t->asks - t->answers);
	}
	ExplainPropertyText("Replica Reads", s.data, es);
}

/* Whether every value the scan's keys come from is a constant. */
static bool
explain_values_constant(WidecolScanState *ss)
{
	ListCell   *lc;

	foreach(lc, ss->value_states)
		if (!IsA(((ExprState *) lfirst(lc))->expr, Const))
			return false;
	return true;
}

/*
 * EXPLAIN's Token and Replicas on a cluster: the partition keys' tokens
 * (known when the scan ran, or from constants), or the whole ring in token
 * order for a scan, and the replicas the coordinator asks at the level.
 */
static void
explain_cluster(WidecolScanState *ss, ExplainState *es)
{
	wc_proto_members m;
	wc_ring    *ring = NULL;
	int		   *member_of = NULL;
	wc_replication repl;
	StringInfoData tokens,
				replicas,
				unavailable;
	bool		known = !ss->explain_only;

	initStringInfo(&tokens);
	initStringInfo(&replicas);
	initStringInfo(&unavailable);
	if (ss->explain_only && ss->partition_mode && ss->ps != NULL &&
		explain_values_constant(ss))
	{
		widecol_build_partitions(ss, ss->ps->ps_ExprContext);
		known = true;
	}
	if (!widecol_cluster_members(&m))
	{
		ExplainPropertyText("Replicas", "local node", es);
		return;
	}
	PG_TRY();
	{
		uint32		nhosts;

		ring = widecol_cluster_ring();
		if (ring == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("widecol: this node has no token ring yet"),
					 errhint("Wait until the node has joined its cluster (SELECT * FROM widecol.nodes).")));
		nhosts = wc_ring_host_count(ring);
		member_of = palloc(sizeof(int) * Max(nhosts, 1));
		for (uint32 h = 0; h < nhosts; h++)
		{
			char		addr[WC_ADDR_HOST_MAX + 8];

			wc_addr_format(&wc_ring_host(ring, h)->addr, addr, sizeof(addr));
			member_of[h] = -1;
			for (size_t i = 0; i < m.n; i++)
				if (strcmp(m.members[i].address, addr) == 0)
					member_of[h] = (int) i;
		}
		if (wc_replication_parse(ss->t->replication, &repl) != WC_OK)
			wc_replication_default(&repl);
		if (!ss->partition_mode)
		{
			size_t		ntok = wc_ring_token_count(ring);

			appendStringInfoString(&tokens, "full ring in token order");
			for (size_t i = 0; i <= ntok; i++)
				explain_choose(&m, ring, member_of, &repl,
							   i < ntok ? wc_ring_token_at(ring, i) : PG_INT64_MAX,
							   &replicas, &unavailable);
		}
		else if (!known)
		{
			appendStringInfoString(&tokens, "of the partition keys given at execution");
			appendStringInfoString(&replicas, "chosen at execution");
		}
		else
		{
			ListCell   *lc;

			foreach(lc, ss->partitions)
			{
				StringInfo	pk = lfirst(lc);
				int64		token = wc_token(pk->data, pk->len);

				appendStringInfo(&tokens, "%s" INT64_FORMAT, tokens.len ? ", " : "", token);
				explain_choose(&m, ring, member_of, &repl, token, &replicas, &unavailable);
			}
			if (ss->partitions == NIL)
				appendStringInfoString(&tokens, "none (no partition matches)");
		}
	}
	PG_FINALLY();
	{
		wc_proto_members_free(&m);
		wc_ring_unref(ring);
	}
	PG_END_TRY();
	ExplainPropertyText("Token", tokens.data, es);
	if (unavailable.len > 0)
		appendStringInfo(&replicas, "%sunavailable: %s", replicas.len ? "; " : "",
						 unavailable.data);
	ExplainPropertyText("Replicas", replicas.len ? replicas.data : "none", es);
}
