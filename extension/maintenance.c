/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *		  SQL-callable node maintenance: anti-entropy repair of a table
 *		  (widecol.repair and the widecol.repairs view) and snapshots
 *		  (widecol.snapshot, widecol.clear_snapshot, widecol.snapshots).
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/maintenance.c
 *
 * NOTES
 *	  Each function sends one request to the local node (client protocol
 *	  REPAIR, REPAIRS, SNAPSHOT) and waits for the answer.  A repair may
 *	  run for long: its request has no client timeout (query cancel still
 *	  interrupts the wait; the node finishes the repair anyway and
 *	  widecol.repairs shows how it ended).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "alloc.h"
#include "client.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_repair);
PG_FUNCTION_INFO_V1(widecol_repairs);
PG_FUNCTION_INFO_V1(widecol_snapshot);
PG_FUNCTION_INFO_V1(widecol_clear_snapshot);
PG_FUNCTION_INFO_V1(widecol_snapshots);

/* Unix microseconds as a timestamptz (NULL for 0). */
static Datum
unix_us_datum(int64 us, bool *isnull)
{
	*isnull = us == 0;
	return TimestampTzGetDatum(us - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
}

static const char *
repair_state_name(uint8 state)
{
	switch (state)
	{
		case WC_REPAIR_STATE_RUNNING:
			return "running";
		case WC_REPAIR_STATE_DONE:
			return "done";
		default:
			return "failed";
	}
}

/*
 * widecol.repair(tab regclass, full boolean, primary_range boolean): repair
 * the table's replicas on this node's ranges; one row of totals.
 */
Datum
widecol_repair(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		full = PG_GETARG_BOOL(1);
	bool		primary = PG_GETARG_BOOL(2);
	WidecolTable *t = widecol_require_readable_table(relid, "repair");
	struct wc_client *c;
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9];
	wc_proto_repair_info r;
	wc_status	st;

	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of widecol table \"%s\" to call widecol.repair()",
						get_rel_name(relid)),
				 errhint("Ask the owner of the table (or a superuser) to run it.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!full)
		ereport(NOTICE,
				(errmsg("widecol.repair() always compares everything: full => false repairs as full => true"),
				 errhint("Incremental repair is not implemented; see \"Repair\" in docs/operations.md.")));
	widecol_ensure_engine_table(t);
	c = widecol_connection();
	wc_client_set_timeout(c, 0);
	st = wc_client_repair(c, t->table_id,
						  (full ? WC_REPAIRF_FULL : 0) | (primary ? WC_REPAIRF_PRIMARY_RANGE : 0),
						  &r);
	wc_client_set_timeout(c, widecol_request_timeout());
	if ((st == WC_UNAVAILABLE || st == WC_TIMEOUT) && !wc_client_broken(c))
		ereport(ERROR,
				(errcode(widecol_status_sqlstate(st)),
				 errmsg("widecol: repair of \"%s\" failed: %s", get_rel_name(relid),
						wc_status_name(st)),
				 errdetail("%s", wc_last_error()),
				 errhint("Repair needs every replica of each range it compares: bring the nodes "
						 "that are down back (see widecol.nodes) and run it again; "
						 "widecol.repairs shows what was done.")));
	if (st != WC_OK)
		widecol_report(st, "repair");

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum((int32) r.ranges_total);
	values[1] = Int32GetDatum((int32) r.ranges_done);
	values[2] = Int32GetDatum((int32) r.ranges_mismatched);
	values[3] = Int64GetDatum((int64) r.leaves_mismatched);
	values[4] = Int64GetDatum((int64) r.partitions);
	values[5] = Int64GetDatum((int64) r.repairs_sent);
	values[6] = Int64GetDatum((int64) r.rows_streamed);
	values[7] = Int64GetDatum((int64) r.bytes_streamed);
	values[8] = Float8GetDatum((double) (r.ended_us - r.started_us) / 1e6);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* widecol.repairs(): the repairs the node remembers (behind the widecol.repairs view). */
Datum
widecol_repairs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	wc_proto_repair_info *v = NULL;
	size_t		n = 0;
	wc_status	st;

	InitMaterializedSRF(fcinfo, 0);
	st = wc_client_repairs(widecol_connection(), &v, &n);
	if (st != WC_OK)
		widecol_report(st, "listing repairs");
	for (size_t i = 0; i < n; i++)
	{
		Datum		values[15];
		bool		nulls[15];
		const wc_proto_repair_info *r = &v[i];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum((int64) r->id);
		values[1] = Int64GetDatum((int64) r->table_id);
		values[2] = CStringGetTextDatum(repair_state_name(r->state));
		values[3] = BoolGetDatum((r->flags & WC_REPAIRF_PRIMARY_RANGE) != 0);
		values[4] = unix_us_datum(r->started_us, &nulls[4]);
		values[5] = unix_us_datum(r->ended_us, &nulls[5]);
		values[6] = Int32GetDatum((int32) r->ranges_total);
		values[7] = Int32GetDatum((int32) r->ranges_done);
		values[8] = Int32GetDatum((int32) r->ranges_mismatched);
		values[9] = Int64GetDatum((int64) r->leaves_mismatched);
		values[10] = Int64GetDatum((int64) r->partitions);
		values[11] = Int64GetDatum((int64) r->repairs_sent);
		values[12] = Int64GetDatum((int64) r->rows_streamed);
		values[13] = Int64GetDatum((int64) r->bytes_streamed);
		values[14] = CStringGetTextDatum(r->error);
		nulls[14] = r->error[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wc_free(v);
	return (Datum) 0;
}

/* Return the snapshots of a SNAPSHOT answer as rows (tag, tables, files, bytes). */
static void
snapshot_rows(FunctionCallInfo fcinfo, uint8 action, const char *tag, const char *what)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	wc_proto_snapshot *v = NULL;
	size_t		n = 0;
	wc_status	st;

	InitMaterializedSRF(fcinfo, 0);
	st = wc_client_snapshot(widecol_connection(), action, tag, &v, &n);
	if (st == WC_INVALID_ARGUMENT || st == WC_EXISTS)
		ereport(ERROR,
				(errcode(st == WC_EXISTS ? ERRCODE_DUPLICATE_OBJECT : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol: %s failed: %s", what, wc_last_error()),
				 errhint(st == WC_EXISTS
						 ? "Choose another tag, or remove the old snapshot with widecol.clear_snapshot(tag)."
						 : "Use a tag of letters, digits, '_', '-' and '.' (at most 63).")));
	if (st != WC_OK)
		widecol_report(st, what);
	for (size_t i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(v[i].tag);
		values[1] = Int32GetDatum((int32) v[i].tables);
		values[2] = Int32GetDatum((int32) v[i].files);
		values[3] = Int64GetDatum((int64) v[i].bytes);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wc_free(v);
}

/* widecol.snapshot(tag text): flush and hard-link every table of the node. */
Datum
widecol_snapshot(PG_FUNCTION_ARGS)
{
	char	   *tag = text_to_cstring(PG_GETARG_TEXT_PP(0));

	snapshot_rows(fcinfo, WC_SNAPSHOT_TAKE, tag, "snapshot");
	return (Datum) 0;
}

/* widecol.clear_snapshot(tag text): remove one snapshot (NULL or '': all); the removed. */
Datum
widecol_clear_snapshot(PG_FUNCTION_ARGS)
{
	char	   *tag = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));

	snapshot_rows(fcinfo, WC_SNAPSHOT_CLEAR, tag, "clear_snapshot");
	return (Datum) 0;
}

/* widecol.snapshots(): the snapshots on this node (behind the widecol.snapshots view). */
Datum
widecol_snapshots(PG_FUNCTION_ARGS)
{
	snapshot_rows(fcinfo, WC_SNAPSHOT_LIST, "", "listing snapshots");
	return (Datum) 0;
}
