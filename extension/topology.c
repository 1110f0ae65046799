/*-------------------------------------------------------------------------
 *
 * topology.c
 *		  SQL-callable topology changes of a cluster: widecol.cleanup
 *		  (drop the data this node no longer owns), widecol.decommission
 *		  (this node hands its ranges over and leaves the ring) and
 *		  widecol.removenode (a dead node's ranges are re-replicated from
 *		  the survivors and it leaves the ring).
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/topology.c
 *
 * NOTES
 *	  Each function sends one request to the local node (client protocol
 *	  CLEANUP, DECOMMISSION, REMOVENODE) and waits for the end with no
 *	  client timeout: streaming a node's ranges may take long.  Query
 *	  cancel still interrupts the wait; the node finishes (or fails) the
 *	  change anyway, and widecol.nodes and widecol.streams show where it
 *	  stands.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "client.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_cleanup);
PG_FUNCTION_INFO_V1(widecol_decommission);
PG_FUNCTION_INFO_V1(widecol_removenode);

static void report_topology(wc_status st, const char *what, const char *retry_hint)
			pg_attribute_noreturn();

/*
 * Report a failed topology request: the refusals a user can act on get
 * their own code and hint; everything else goes through widecol_report.
 */
static void
report_topology(wc_status st, const char *what, const char *retry_hint)
{
	char		detail[1024];

	strlcpy(detail, wc_last_error(), sizeof(detail));
	if (st == WC_INVALID_ARGUMENT && strstr(detail, "not part of a cluster") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("widecol: %s needs a cluster", what),
				 errdetail("%s", detail),
				 errhint("A node alone owns every token and has no other node to hand its data "
						 "to; set widecol.cluster_name and widecol.seeds to run it in a cluster.")));
	if (st == WC_UNAVAILABLE && strstr(detail, "the ring is changing") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("widecol: %s refused: the ring is changing", what),
				 errdetail("%s", detail),
				 errhint("Topology changes run one at a time: wait until every node shows state "
						 "'normal' in widecol.nodes, then run %s again.", what)));
	if (st == WC_UNAVAILABLE && !wc_client_broken(widecol_connection()))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("widecol: %s failed: %s", what, wc_status_name(st)),
				 errdetail("%s", detail),
				 errhint("%s", retry_hint)));
	if (st == WC_INVALID_ARGUMENT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol: %s refused", what),
				 errdetail("%s", detail),
				 errhint("%s", retry_hint)));
	if (st == WC_NOT_FOUND)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("widecol: %s failed: %s", what, detail),
				 errhint("widecol.nodes lists the nodes of the cluster with their host ids.")));
	widecol_report(st, what);
}

static double
seconds_since(TimestampTz t0)
{
	return (double) (GetCurrentTimestamp() - t0) / 1e6;
}

/*
 * widecol.cleanup(tab regclass DEFAULT NULL): drop the partitions of the
 * table (NULL: of every table) that this node no longer replicates; one
 * row of totals.
 */
Datum
widecol_cleanup(PG_FUNCTION_ARGS)
{
	uint32		table_id = 0;
	struct wc_client *c;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	wc_cleanup_result r;
	TimestampTz t0 = GetCurrentTimestamp();
	wc_status	st;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (PG_ARGISNULL(0))
	{
		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be superuser to clean up every widecol table"),
					 errhint("Name one table you own: widecol.cleanup('table').")));
	}
	else
	{
		Oid			relid = PG_GETARG_OID(0);
		WidecolTable *t = widecol_require_readable_table(relid, "cleanup");

		if (!pg_class_ownercheck(relid, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of widecol table \"%s\" to call widecol.cleanup()",
							get_rel_name(relid)),
					 errhint("Ask the owner of the table (or a superuser) to run it.")));
		widecol_ensure_engine_table(t);
		table_id = t->table_id;
	}
	c = widecol_connection();
	wc_client_set_timeout(c, 0);
	st = wc_client_cleanup(c, table_id, &r);
	wc_client_set_timeout(c, widecol_request_timeout());
	if (st != WC_OK)
		report_topology(st, "widecol.cleanup()",
						"Cleanup needs the node to be a normal member of its ring; see widecol.nodes.");
	values[0] = Int32GetDatum((int32) r.sstables_checked);
	values[1] = Int32GetDatum((int32) r.sstables_rewritten);
	values[2] = Int64GetDatum((int64) r.partitions_dropped);
	values[3] = Int64GetDatum((int64) r.rows_dropped);
	values[4] = Int64GetDatum((int64) (r.bytes_before - r.bytes_after));
	values[5] = Float8GetDatum(seconds_since(t0));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Run DECOMMISSION (host_id NULL) or REMOVENODE of host_id on the local
 * node and return its answer as one row; hint: what to do after a refusal.
 */
static Datum
topology_call(FunctionCallInfo fcinfo, const uint8 *host_id, const char *what, const char *hint)
{
	struct wc_client *c = widecol_connection();
	wc_proto_topology_result r;
	TimestampTz t0 = GetCurrentTimestamp();
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	wc_status	st;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	wc_client_set_timeout(c, 0);
	st = host_id ? wc_client_removenode(c, host_id, &r) : wc_client_decommission(c, &r);
	wc_client_set_timeout(c, widecol_request_timeout());
	if (st != WC_OK)
		report_topology(st, what, hint);
	values[0] = Int32GetDatum((int32) r.ranges);
	values[1] = Int32GetDatum((int32) r.targets);
	values[2] = Int64GetDatum((int64) r.rows);
	values[3] = Int64GetDatum((int64) r.bytes);
	values[4] = Float8GetDatum(seconds_since(t0));
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* widecol.decommission(): this node streams its ranges away and leaves the ring. */
Datum
widecol_decommission(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(topology_call(fcinfo, NULL, "widecol.decommission()",
								  "The node stays a normal member of the ring: fix what the detail "
								  "names (add a node, lower the replication factor with ALTER "
								  "SERVER, bring nodes back) and run widecol.decommission() again."));
}

/* widecol.removenode(host_id uuid): re-replicate a dead node's ranges, then drop it. */
Datum
widecol_removenode(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);

	PG_RETURN_DATUM(topology_call(fcinfo, id->data, "widecol.removenode()",
								  "Only a node that is down is removed (a live one leaves with "
								  "widecol.decommission() on its own instance); the nodes that "
								  "stay must be up and enough for the replication factor."));
}
