/*-------------------------------------------------------------------------
 *
 * functions.c
 *		  SQL-callable administration of widecol tables: flush, compact,
 *		  drop the engine data, and the per-table statistics behind the
 *		  widecol.tables view.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/functions.c
 *
 * NOTES
 *	  Each function names a foreign table by regclass, checks that it is a
 *	  widecol table, and sends one request to the node.  Flush and compact
 *	  wait until the node has finished; compaction may take long, so its
 *	  request has no client timeout (query cancel still interrupts it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_table.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "client.h"
#include "engine.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_flush);
PG_FUNCTION_INFO_V1(widecol_compact);
PG_FUNCTION_INFO_V1(widecol_drop_table);
PG_FUNCTION_INFO_V1(widecol_table_stats);

/* The widecol model of relid, or an error with a hint if it is not one. */
static WidecolTable *
require_widecol_table(Oid relid)
{
	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE ||
		!widecol_is_widecol_server(GetForeignTable(relid)->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a widecol table", get_rel_name(relid)),
				 errhint("Name a foreign table of a widecol server.")));
	return widecol_get_table(relid);
}

/*
 * widecol.flush(regclass) returns void: write the table's memtable to an
 * SSTable and wait for it.
 */
Datum
widecol_flush(PG_FUNCTION_ARGS)
{
	WidecolTable *t = require_widecol_table(PG_GETARG_OID(0));
	wc_status	st;

	widecol_ensure_engine_table(t);
	st = wc_client_flush(widecol_connection(), t->table_id);
	if (st != WC_OK)
		widecol_report(st, "flush");
	PG_RETURN_VOID();
}

/*
 * widecol.compact(regclass) returns void: flush, then merge all SSTables of
 * the table into one (a major compaction).
 */
Datum
widecol_compact(PG_FUNCTION_ARGS)
{
	WidecolTable *t = require_widecol_table(PG_GETARG_OID(0));
	struct wc_client *c;
	wc_status	st;

	widecol_ensure_engine_table(t);
	c = widecol_connection();
	st = wc_client_flush(c, t->table_id);
	if (st == WC_OK)
	{
		wc_client_set_timeout(c, 0);
		st = wc_client_compact(c, t->table_id);
		wc_client_set_timeout(c, widecol_request_timeout());
	}
	if (st != WC_OK)
		widecol_report(st, "compaction");
	PG_RETURN_VOID();
}

/*
 * widecol.drop_table(regclass) returns void: remove the table's data from
 * the engine.  The foreign table stays (empty); DROP FOREIGN TABLE removes
 * it.  Only the table's owner may do this.
 */
Datum
widecol_drop_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	WidecolTable *t = require_widecol_table(relid);
	wc_status	st;

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_TABLE, get_rel_name(relid));
	st = wc_client_drop_table(widecol_connection(), t->table_id);
	if (st != WC_OK && st != WC_NOT_FOUND)
		widecol_report(st, "dropping the engine table");
	/* the next access recreates an empty engine table */
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_VOID();
}

/*
 * widecol.table_stats(regclass) returns record: what the node knows of the
 * table (memtable, SSTables, estimates).
 */
Datum
widecol_table_stats(PG_FUNCTION_ARGS)
{
	WidecolTable *t = require_widecol_table(PG_GETARG_OID(0));
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8];
	wc_table_stats ts;
	wc_status	st;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	widecol_ensure_engine_table(t);
	st = wc_client_table_stats(widecol_connection(), t->table_id, &ts);
	if (st != WC_OK)
		widecol_report(st, "reading table statistics");
	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum((int64) ts.memtable_bytes);
	values[1] = Int64GetDatum((int64) ts.memtable_entries);
	values[2] = Int64GetDatum((int64) ts.sstable_count);
	values[3] = Int64GetDatum((int64) ts.sstable_bytes);
	values[4] = Int64GetDatum((int64) ts.partitions_estimate);
	values[5] = Int64GetDatum((int64) ts.rows_estimate);
	values[6] = Int64GetDatum((int64) ts.tombstones);
	values[7] = Int64GetDatum((int64) ts.pending_flushes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
