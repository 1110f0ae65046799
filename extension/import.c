/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA for widecol: foreign tables recreated from
 *		  the engine tables of a keyspace.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/import.c
 *
 * NOTES
 *	  The ImportForeignSchema callback of the FDW routine (wired in fdw.c).
 *	  Each engine table created through a widecol foreign table keeps the
 *	  schema text of that table (schema.c); this callback lists the node's
 *	  tables, keeps those of the imported keyspace that LIMIT TO / EXCEPT
 *	  select and that the importing role may attach to, and returns one
 *	  CREATE FOREIGN TABLE per table for PostgreSQL to run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <string.h>

#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "client.h"
#include "engine.h"
#include "table_options.h"

#include "widecol.h"

List *
widecolImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const char *keyspace = widecol_server_keyspace(server);
	uint32_t   *ids = NULL;
	size_t		n = 0;
	List	   *cmds = NIL;
	wc_status	st;

	if (strcmp(stmt->remote_schema, keyspace) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("keyspace \"%s\" is not served by server \"%s\"", stmt->remote_schema,
						server->servername),
				 errhint("Import FROM SERVER %s the schema \"%s\".", quote_identifier(server->servername),
						 keyspace)));
	st = wc_client_list_tables(widecol_connection(), &ids, &n);
	if (st != WC_OK)
		widecol_report(st, "listing tables");
	for (size_t i = 0; i < n; i++)
	{
		wc_table_def def;
		StringInfoData cmd,
					cols;
		char	   *line,
				   *save = NULL,
				   *text;
		const char *table = NULL,
				   *pk = NULL,
				   *order = NULL,
				   *compaction = NULL,
				   *ttl = NULL,
				   *gc = NULL;
		char	   *ks = NULL;

		st = wc_client_get_table(widecol_connection(), ids[i], &def);
		if (st == WC_NOT_FOUND)
			continue;
		if (st != WC_OK)
			widecol_report(st, "reading a table definition");
		{
			wc_replication repl;
			const char *schema;
			size_t		schema_len;

			if (wc_table_options_parse(def.options, &repl, &schema, &schema_len) != WC_OK)
				continue;		/* not created through a widecol foreign table */
			text = pnstrdup(schema, schema_len);
		}
		initStringInfo(&cols);
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		{
			char	   *eq = strchr(line, '=');

			if (eq == NULL)
				continue;
			*eq = '\0';
			if (strcmp(line, "keyspace") == 0)
				ks = eq + 1;
			else if (strcmp(line, "table") == 0)
				table = eq + 1;
			else if (strcmp(line, "primary_key") == 0)
				pk = eq + 1;
			else if (strcmp(line, "clustering_order") == 0)
				order = eq + 1;
			else if (strcmp(line, "compaction") == 0)
				compaction = eq + 1;
			else if (strcmp(line, "default_time_to_live") == 0)
				ttl = eq + 1;
			else if (strcmp(line, "gc_grace_seconds") == 0)
				gc = eq + 1;
			else if (strcmp(line, "column") == 0)
			{
				/* name id type [static|writetime=x|ttl=x] */
				char	   *rest = eq + 1;
				char	   *name,
						   *idstr,
						   *type,
						   *extra;
				char	   *sp;

				name = rest;
				if (*name == '"')
				{
					sp = name + 1;
					while (*sp && !(*sp == '"' && sp[1] != '"'))
						sp += (*sp == '"') ? 2 : 1;
					sp++;
				}
				else
					sp = strchr(name, ' ');
				if (sp == NULL || *sp != ' ')
					continue;
				*sp = '\0';
				idstr = sp + 1;
				sp = strchr(idstr, ' ');
				if (sp == NULL)
					continue;
				*sp = '\0';
				type = sp + 1;
				extra = NULL;
				if ((sp = strstr(type, " static")) != NULL ||
					(sp = strstr(type, " writetime=")) != NULL ||
					(sp = strstr(type, " ttl=")) != NULL)
				{
					*sp = '\0';
					extra = sp + 1;
				}
				appendStringInfo(&cols, "%s  %s %s OPTIONS (column_id '%s'", cols.len ? ",\n" : "",
								 name, type, idstr);
				if (extra && strcmp(extra, "static") == 0)
					appendStringInfoString(&cols, ", static 'true'");
				else if (extra && strncmp(extra, "writetime=", 10) == 0)
					appendStringInfo(&cols, ", writetime %s", quote_literal_cstr(extra + 10));
				else if (extra && strncmp(extra, "ttl=", 4) == 0)
					appendStringInfo(&cols, ", ttl %s", quote_literal_cstr(extra + 4));
				appendStringInfoChar(&cols, ')');
			}
		}
		if (ks == NULL || table == NULL || pk == NULL || strcmp(ks, keyspace) != 0)
			continue;
		/* LIMIT TO / EXCEPT */
		if (stmt->list_type != FDW_IMPORT_SCHEMA_ALL)
		{
			bool		listed = false;
			ListCell   *lc2;

			foreach(lc2, stmt->table_list)
				if (strcmp(((RangeVar *) lfirst(lc2))->relname, table) == 0)
					listed = true;
			if ((stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO) != listed)
				continue;
		}
		/* tables of other owners could not be attached: leave them out */
		if (!widecol_may_attach(&def, GetUserId()))
		{
			ereport(NOTICE,
					(errmsg("widecol table \"%s.%s\" is not imported: it belongs to another owner",
							ks, table)));
			continue;
		}
		initStringInfo(&cmd);
		appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (\n%s\n) SERVER %s OPTIONS (primary_key %s",
						 quote_identifier(table), cols.data, quote_identifier(server->servername),
						 quote_literal_cstr(pk));
		if (order)
			appendStringInfo(&cmd, ", clustering_order %s", quote_literal_cstr(order));
		if (compaction)
			appendStringInfo(&cmd, ", compaction %s", quote_literal_cstr(compaction));
		if (ttl)
			appendStringInfo(&cmd, ", default_time_to_live %s", quote_literal_cstr(ttl));
		if (gc)
			appendStringInfo(&cmd, ", gc_grace_seconds %s", quote_literal_cstr(gc));
		appendStringInfo(&cmd, ", table_id '%u')", def.id);
		cmds = lappend(cmds, cmd.data);
	}
	return cmds;
}
