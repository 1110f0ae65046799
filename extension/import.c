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
 *	  typed schema of that table (typed_schema.c); this callback lists the node's
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
		char	   *cmd;

		st = widecol_get_engine_def(ids[i], &def);
		if (st == WC_NOT_FOUND)
			continue;
		if (st != WC_OK)
			widecol_report(st, "reading a table definition");
		cmd = widecol_import_command(&def, server, keyspace, stmt);
		if (cmd != NULL)
			cmds = lappend(cmds, cmd);
	}
	return cmds;
}
