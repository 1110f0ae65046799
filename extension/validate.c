/*-------------------------------------------------------------------------
 *
 * validate.c
 *		  The option validator of the widecol foreign data wrapper: which
 *		  options a server, a foreign table and a column take, and the
 *		  syntax of their values.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/validate.c
 *
 * NOTES
 *	  PostgreSQL calls the validator (the wrapper's VALIDATOR function) on
 *	  every CREATE/ALTER of a server, user mapping, foreign table or column
 *	  options, with only the options themselves: it checks names and the
 *	  syntax of each value.  What needs the column list (the primary key's
 *	  columns exist, static columns are not keys, ...) is checked by
 *	  schema.c, from ddl.c's hook, after the statement.  An unknown name is answered with the
 *	  closest valid one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "compaction_options.h"
#include "consistency.h"
#include "engine.h"
#include "table_options.h"

#include "widecol.h"

PG_FUNCTION_INFO_V1(widecol_fdw_validator);

typedef struct ValidOption
{
	const char *name;
	Oid			context;
} ValidOption;

static const ValidOption valid_options[] = {
	{"replication", ForeignServerRelationId},
	{"keyspace", ForeignServerRelationId},
	{"durable_writes", ForeignServerRelationId},
	{"primary_key", ForeignTableRelationId},
	{"clustering_order", ForeignTableRelationId},
	{"compaction", ForeignTableRelationId},
	{"default_time_to_live", ForeignTableRelationId},
	{"gc_grace_seconds", ForeignTableRelationId},
	{"table_name", ForeignTableRelationId},
	{"table_id", ForeignTableRelationId},
	{"comment", ForeignTableRelationId},
	{"compression", ForeignTableRelationId},
	{"caching", ForeignTableRelationId},
	{"bloom_filter_fp_chance", ForeignTableRelationId},
	{"speculative_retry", ForeignTableRelationId},
	{"memtable_flush_period_in_ms", ForeignTableRelationId},
	{"crc_check_chance", ForeignTableRelationId},
	{"indexes", ForeignTableRelationId},
	{"static", AttributeRelationId},
	{"column_id", AttributeRelationId},
	{"writetime", AttributeRelationId},
	{"ttl", AttributeRelationId},
	{"cql_type", AttributeRelationId},
	{NULL, InvalidOid}
};

Datum
widecol_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);
		const ValidOption *o;
		bool		ok = false;

		for (o = valid_options; o->name; o++)
			if (o->context == catalog && strcmp(o->name, def->defname) == 0)
				ok = true;
		/* set by widecol.create_materialized_view(), not offered in hints */
		if (catalog == ForeignTableRelationId && strcmp(def->defname, "materialized_view") == 0)
			ok = true;
		if (!ok)
		{
			const char *closest = NULL;
			int			best = INT_MAX;
			int			best_prefix = 0;
			StringInfoData names;

			initStringInfo(&names);
			for (o = valid_options; o->name; o++)
			{
				int			d;

				/* "indexes" is written by widecol.create_index(): not offered */
				if (o->context != catalog || strcmp(o->name, "indexes") == 0)
					continue;
				appendStringInfo(&names, "%s%s", names.len ? ", " : "", o->name);
				d = varstr_levenshtein(def->defname, strlen(def->defname),
									   o->name, strlen(o->name), 1, 1, 1, false);
				if (d < best)
				{
					best = d;
					if (best_prefix == 0)
						closest = o->name;
				}
				/* an abbreviation ("default_ttl") shares a long prefix */
				{
					int			n = 0;

					while (def->defname[n] && def->defname[n] == o->name[n])
						n++;
					if (n >= 5 && n > best_prefix)
					{
						best_prefix = n;
						closest = o->name;
					}
				}
			}
			if (names.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("widecol takes no option \"%s\" here", def->defname),
						 errhint("Options belong to the server (keyspace), the foreign table or its columns.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid widecol option \"%s\"", def->defname),
					 closest && (best <= 4 || best_prefix >= 5) ?
					 errhint("Perhaps you meant \"%s\". Valid options here: %s.", closest, names.data) :
					 errhint("Valid options here: %s.", names.data)));
		}
		/* syntax checks that need no other object */
		if (strcmp(def->defname, "replication") == 0)
		{
			wc_replication r;

			/* the syntax, with positions; then every rule of the node */
			(void) widecol_parse_cql_map("replication", defGetString(def));
			if (wc_replication_parse(defGetString(def), &r) != WC_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid replication map: %s", wc_last_error()),
						 errhint("Use {'class': 'SimpleStrategy', 'replication_factor': N} or "
								 "{'class': 'NetworkTopologyStrategy', 'dc1': N, ...} with N from 1 to %d "
								 "(0 for a data centre without replicas), at most %d data centres "
								 "named with letters, digits, '_', '.' and '-'.",
								 WC_REPL_MAX_FACTOR, WC_REPL_MAX_DCS)));
		}
		else if (strcmp(def->defname, "compaction") == 0)
		{
			List	   *map = widecol_parse_cql_map("compaction", defGetString(def));
			wc_compaction_options co;

			if (widecol_cql_map_get(map, "class") == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("compaction map has no 'class'"),
						 errhint("Use {'class': 'SizeTieredCompactionStrategy'}, LeveledCompactionStrategy "
								 "or TimeWindowCompactionStrategy.")));
			/* the engine's own parser: every class, option and value it takes */
			if (wc_compaction_options_parse(defGetString(def), &co) != WC_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid compaction map: %s", wc_last_error()),
						 errhint("See docs/user-guide.md, \"Compaction\", for the strategies and their options.")));
		}
		else if (strcmp(def->defname, "primary_key") == 0)
		{
			List	   *p,
					   *c;

			widecol_parse_primary_key(defGetString(def), &p, &c);
		}
		else if (strcmp(def->defname, "clustering_order") == 0)
			(void) widecol_parse_clustering_order(defGetString(def));
		else if (strcmp(def->defname, "static") == 0 || strcmp(def->defname, "durable_writes") == 0)
		{
			bool		b;

			if (!parse_bool(defGetString(def), &b))
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("%s requires a Boolean value", def->defname),
						 errhint("Use 'true' or 'false'.")));
		}
		else if (strcmp(def->defname, "keyspace") == 0 ||
				 strcmp(def->defname, "table_name") == 0)
		{
			/* the node names a table "keyspace.table" in at most this many bytes */
			size_t		max = sizeof(((wc_table_def *) 0)->name) - 3;
			size_t		len = strlen(defGetString(def));

			if (len == 0 || len > max)
				ereport(ERROR,
						(errcode(len ? ERRCODE_NAME_TOO_LONG : ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("widecol option \"%s\" must have 1 to %zu bytes, not %zu",
								def->defname, max, len),
						 errhint("Give a name of 1 to %zu bytes: the node keeps \"keyspace.table\" in at most %zu bytes.",
								 max, max + 2)));
		}
	}
	PG_RETURN_VOID();
}
