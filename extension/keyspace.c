/*-------------------------------------------------------------------------
 *
 * keyspace.c
 *		  Keyspaces: which foreign servers are widecol's, the keyspace
 *		  a server stands for and its replication.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/keyspace.c
 *
 * NOTES
 *	  A keyspace is a foreign server of the widecol wrapper.  Its engine
 *	  name is the server's 'keyspace' option, else the server name (ddl.c
 *	  adds the option when the server is renamed); its 'replication' option
 *	  is a CQL replication map, parsed by cluster/consistency.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"

#include "consistency.h"
#include "status.h"

#include "widecol.h"

bool
widecol_is_widecol_server(Oid serverid)
{
	ForeignServer *server = GetForeignServer(serverid);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

	return strcmp(fdw->fdwname, "widecol") == 0;
}

/* The keyspace a widecol server stands for: its 'keyspace' option, else its name. */
const char *
widecol_server_keyspace(ForeignServer *server)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "keyspace") == 0)
			return defGetString(def);
	}
	return server->servername;
}

/* The keyspace's replication in the cluster's form (the map was validated at CREATE). */
void
widecol_keyspace_replication(WidecolTable *t, wc_replication *r)
{
	if (wc_replication_parse(t->replication, r) != WC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid replication for keyspace \"%s\"", t->keyspace),
				 errdetail("%s", wc_last_error()),
				 errhint("Use {'class': 'SimpleStrategy', 'replication_factor': 1} or "
						 "{'class': 'NetworkTopologyStrategy', 'dc1': 3}.")));
}
