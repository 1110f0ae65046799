/*-------------------------------------------------------------------------
 *
 * functions.c
 *		  SQL-callable administration of widecol tables: flush, compact,
 *		  scrub, drop the engine data, and the per-table statistics behind
 *		  the widecol.tables view.
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
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/timestamp.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "alloc.h"
#include "client.h"
#include "compaction_options.h"
#include "engine.h"
#include "table_options.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_flush);
PG_FUNCTION_INFO_V1(widecol_compact);
PG_FUNCTION_INFO_V1(widecol_scrub);
PG_FUNCTION_INFO_V1(widecol_drop_table);
PG_FUNCTION_INFO_V1(widecol_table_stats);
PG_FUNCTION_INFO_V1(widecol_compaction_stats);
PG_FUNCTION_INFO_V1(widecol_table_compactions);

/* The widecol model of relid, or an error with a hint if it is not one. */
static WidecolTable *
require_widecol_table(Oid relid)
{
	if ((get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE ||
		 !widecol_is_widecol_server(GetForeignTable(relid)->serverid)) &&
		!widecol_is_tam_table(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a widecol table", get_rel_name(relid)),
				 errhint("Name a foreign table of a widecol server or a table created USING widecol.")));
	return widecol_get_table(relid);
}

/*
 * The widecol model of relid for a maintenance function (flush, compact,
 * drop_table): only the table's owner (or a member of its owner role, or a
 * superuser) may call it.
 */
static WidecolTable *
require_owned_table(Oid relid, const char *function)
{
	WidecolTable *t = require_widecol_table(relid);

	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of widecol table \"%s\" to call widecol.%s()",
						get_rel_name(relid), function),
				 errhint("Ask the owner of the table (or a superuser) to run it.")));
	return t;
}

/* require_owned_table for the functions of other files (index.c) */
WidecolTable *
widecol_require_owned_table(Oid relid, const char *function)
{
	return require_owned_table(relid, function);
}

/*
 * The widecol model of relid for a statistics function: the caller needs
 * SELECT on the table.
 */
WidecolTable *
widecol_require_readable_table(Oid relid, const char *function)
{
	WidecolTable *t = require_widecol_table(relid);

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for widecol table \"%s\"", get_rel_name(relid)),
				 errdetail("widecol.%s() needs SELECT on the table.", function),
				 errhint("Ask the owner of the table to GRANT SELECT ON %s TO you.",
						 quote_identifier(get_rel_name(relid)))));
	return t;
}

/*
 * widecol.flush(regclass) returns void: write the table's memtable to an
 * SSTable and wait for it.
 */
Datum
widecol_flush(PG_FUNCTION_ARGS)
{
	WidecolTable *t = require_owned_table(PG_GETARG_OID(0), "flush");
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
	WidecolTable *t = require_owned_table(PG_GETARG_OID(0), "compact");
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
 * widecol.scrub(regclass) returns record: rebuild the table from what is
 * readable, like Cassandra's sstablescrub.  The node flushes the table,
 * verifies every SSTable, copies what still verifies out of each damaged
 * one, moves the damaged file to the table's quarantine directory and brings
 * an offline table back online.  Only the table's owner (or a superuser) may
 * do this.  Like compact, the request has no client timeout.
 */
Datum
widecol_scrub(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	WidecolTable *t = require_widecol_table(relid);
	struct wc_client *c;
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8];
	ArrayBuildState *files;
	wc_scrub_result r;
	wc_status	st;
	char	   *list;
	char	   *tok;
	char	   *save;

	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of %s %s", widecol_table_word(relid), get_rel_name(relid)),
				 errhint("Run widecol.scrub() as the table's owner or as a superuser.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	widecol_ensure_engine_table(t);
	c = widecol_connection();
	wc_client_set_timeout(c, 0);
	st = wc_client_scrub(c, t->table_id, &r);
	wc_client_set_timeout(c, widecol_request_timeout());
	if (st != WC_OK)
		widecol_report(st, "scrub");

	files = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	list = pstrdup(r.quarantined);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
	{
		while (*tok == ' ')
			tok++;
		if (*tok)
			accumArrayResult(files, CStringGetTextDatum(tok), false, TEXTOID,
							 CurrentMemoryContext);
	}
	if (r.sstables_damaged > 0 || r.was_offline)
		ereport(NOTICE,
				(errmsg("scrub of \"%s\": %u of %u SSTables damaged, %llu rows kept "
						"(%llu salvaged from damaged files), %llu blocks (%llu bytes) lost",
						get_rel_name(relid), r.sstables_damaged, r.sstables_checked,
						(unsigned long long) r.rows_kept,
						(unsigned long long) r.rows_salvaged,
						(unsigned long long) r.blocks_lost,
						(unsigned long long) r.bytes_lost),
				 r.quarantined[0] ? errdetail("Damaged files moved aside: %s.", r.quarantined) : 0));

	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(r.was_offline);
	values[1] = Int32GetDatum((int32) r.sstables_checked);
	values[2] = Int32GetDatum((int32) r.sstables_damaged);
	values[3] = Int64GetDatum((int64) r.rows_kept);
	values[4] = Int64GetDatum((int64) r.rows_salvaged);
	values[5] = Int64GetDatum((int64) r.blocks_lost);
	values[6] = Int64GetDatum((int64) r.bytes_lost);
	values[7] = makeArrayResult(files, CurrentMemoryContext);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * widecol.drop_table(regclass) returns void: remove the table's data from
 * the engine.  The foreign table stays (empty); DROP FOREIGN TABLE removes
 * it.  Only the table's owner may do this.
 */
Datum
widecol_drop_table(PG_FUNCTION_ARGS)
{
	WidecolTable *t = require_owned_table(PG_GETARG_OID(0), "drop_table");

	widecol_empty_table(t);
	PG_RETURN_VOID();
}

/*
 * Remove every row of t at once: the node drops the engine table and it is
 * created again at once, empty, with the same definition, so that it keeps
 * its ownership record (were it left to the next access, any foreign table
 * naming it could become its owner).  Like every widecol write it is not
 * undone by ROLLBACK.  widecol.drop_table() and TRUNCATE come here.
 */
void
widecol_empty_table(WidecolTable *t)
{
	wc_table_def def;
	wc_status	st;

	if (!widecol_check_engine_owner(t, &def))
		return;					/* never created: already empty */
	st = wc_client_drop_table(widecol_connection(), t->table_id);
	if (st != WC_OK && st != WC_NOT_FOUND)
		widecol_report(st, "dropping the engine table");
	CacheInvalidateRelcacheByRelid(t->relid);
	if (def.schema_len == 0)
		return;					/* not made through a foreign table: next access makes it */
	st = wc_client_create_table(widecol_connection(), &def);
	if (st != WC_OK && st != WC_EXISTS)
		widecol_report(st, "re-creating the emptied engine table");
}

/*
 * widecol.table_stats(regclass) returns record: what the node knows of the
 * table (memtable, SSTables, estimates).
 */
Datum
widecol_table_stats(PG_FUNCTION_ARGS)
{
	WidecolTable *t = widecol_require_readable_table(PG_GETARG_OID(0), "table_stats");
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9];
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
	if (ts.offline[0] != '\0')
		values[8] = CStringGetTextDatum(ts.offline);
	else
		nulls[8] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* int64 array datum from n values */
static Datum
int8_array(const uint64_t *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum((int64) v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/* seconds since the epoch -> timestamptz */
static Datum
epoch_to_timestamptz(int64 secs)
{
	return TimestampTzGetDatum((TimestampTz) ((secs - ((int64) POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) * USECS_PER_SEC));
}

/*
 * widecol.compaction_stats(regclass) returns record: the table's compaction
 * strategy and state, SSTables per LCS level or TWCS window, estimated
 * droppable tombstones, read amplification and compaction counters.
 */
Datum
widecol_compaction_stats(PG_FUNCTION_ARGS)
{
	WidecolTable *t = widecol_require_readable_table(PG_GETARG_OID(0), "compaction_stats");
	TupleDesc	tupdesc;
	Datum		values[17];
	bool		nulls[17];
	wc_compaction_stats cs;
	wc_status	st;
	int			nlevels = WC_LEVELS;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	widecol_ensure_engine_table(t);
	st = wc_client_compaction_stats(widecol_connection(), t->table_id, &cs);
	if (st != WC_OK)
		widecol_report(st, "reading compaction statistics");
	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(wc_compaction_class_name(cs.strategy, false));
	values[1] = BoolGetDatum(cs.enabled);
	values[2] = BoolGetDatum(cs.running);
	values[3] = Int64GetDatum((int64) cs.pending);
	/* levels: up to the highest one holding SSTables */
	while (nlevels > 1 && cs.level_sstables[nlevels - 1] == 0)
		nlevels--;
	values[4] = int8_array(cs.level_sstables, nlevels);
	{
		Datum	   *ws = palloc(sizeof(Datum) * Max(cs.nwindows, 1));

		for (uint32 i = 0; i < cs.nwindows; i++)
			ws[i] = epoch_to_timestamptz(cs.window_start[i]);
		values[5] = PointerGetDatum(construct_array(ws, (int) cs.nwindows, TIMESTAMPTZOID, 8,
													true, TYPALIGN_DOUBLE));
	}
	values[6] = int8_array(cs.window_sstables, (int) cs.nwindows);
	values[7] = Int64GetDatum((int64) cs.droppable_tombstones);
	values[8] = Float8GetDatum(cs.droppable_tombstone_ratio);
	values[9] = int8_array(cs.read_histogram, WC_READ_HIST_BUCKETS);
	/* the last bucket is open-ended: shown as 17, "17 or more SSTables" */
	values[10] = Int32GetDatum(cs.read_p50 > 16 ? 17 : (int32) cs.read_p50);
	values[11] = Int32GetDatum(cs.read_p99 > 16 ? 17 : (int32) cs.read_p99);
	values[12] = Int64GetDatum((int64) cs.compactions_completed);
	values[13] = Int64GetDatum((int64) cs.bytes_read);
	values[14] = Int64GetDatum((int64) cs.bytes_written);
	values[15] = Int64GetDatum((int64) cs.sstables_expired);
	values[16] = Int64GetDatum((int64) cs.tombstones_purged);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

static const char *
compaction_kind_name(wc_compaction_kind k)
{
	switch (k)
	{
		case WC_COMPACTION_KIND_MINOR:
			return "minor";
		case WC_COMPACTION_KIND_TOMBSTONE:
			return "tombstone";
		case WC_COMPACTION_KIND_EXPIRED:
			return "expired sstables";
		case WC_COMPACTION_KIND_MAJOR:
			return "major";
	}
	return "?";
}

/*
 * widecol.table_compactions(regclass) returns setof record: the table's
 * running compaction (with progress) and the next pending one.
 */
Datum
widecol_table_compactions(PG_FUNCTION_ARGS)
{
	WidecolTable *t = widecol_require_readable_table(PG_GETARG_OID(0), "table_compactions");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	wc_compaction_info *list = NULL;
	size_t		n = 0;
	wc_status	st;

	InitMaterializedSRF(fcinfo, 0);
	widecol_ensure_engine_table(t);
	st = wc_client_compactions(widecol_connection(), t->table_id, &list, &n);
	if (st != WC_OK)
		widecol_report(st, "listing compactions");
	for (size_t i = 0; i < n; i++)
	{
		wc_compaction_info *ci = &list[i];
		Datum		values[8];
		bool		nulls[8];

		memset(nulls, 0, sizeof(nulls));
		values[0] = BoolGetDatum(ci->running);
		values[1] = CStringGetTextDatum(wc_compaction_class_name(ci->strategy, false));
		values[2] = CStringGetTextDatum(compaction_kind_name(ci->kind));
		values[3] = Int32GetDatum((int32) ci->ninputs);
		if (ci->level >= 0)
			values[4] = Int32GetDatum(ci->level);
		else
			nulls[4] = true;
		if (ci->window_start != INT64_MIN)
			values[5] = epoch_to_timestamptz(ci->window_start);
		else
			nulls[5] = true;
		values[6] = Int64GetDatum((int64) ci->bytes_done);
		values[7] = Int64GetDatum((int64) ci->bytes_total);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wc_free(list);
	return (Datum) 0;
}
