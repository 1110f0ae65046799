/*-------------------------------------------------------------------------
 *
 * schema_apply.c
 *		  The cluster schema and PostgreSQL's catalogs: widecol DDL sent to
 *		  the node at commit, and the catalogs of every database
 *		  materialized from the cluster schema.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/schema_apply.c
 *
 * NOTES
 *	  Only with widecol.listen_address set (a node in a cluster); without
 *	  it nothing here runs.
 *
 *	  Sending: ddl.c notes each CREATE/ALTER/DROP of a widecol server
 *	  (keyspace) or foreign table, tam_ddl.c those of tables USING widecol
 *	  (their owner record names the access method); at pre-commit (a transaction callback,
 *	  so a rolled-back DDL never leaves the node) the changes go to the
 *	  node as SCHEMA_CHANGE requests, then one more waits up to
 *	  WIDECOL_SCHEMA_AGREEMENT_MS for every live node to announce the new
 *	  schema version; a WARNING names the nodes that did not.  A change the
 *	  node refuses fails the transaction.
 *
 *	  Materializing: the node worker (node.c) calls
 *	  widecol_schema_launch_appliers on its latch loop; when the version
 *	  that the node's engine follows changes, it starts one dynamic
 *	  background worker per database that accepts connections
 *	  (widecol_schema_apply_main).  That worker lists the cluster schema
 *	  from the node (SCHEMA_LIST) and makes the database's catalogs match
 *	  it with SPI: servers of live keyspaces, foreign tables (or tables
 *	  USING widecol, each column at the attribute number of its cells) of
 *	  the live tables whose owner record names this database, in the
 *	  schema it names, with the cluster's table id; ADD/DROP COLUMN for
 *	  changed tables (and options for tables USING widecol); DROP for
 *	  dropped ones (the node drops the engine data of a table USING
 *	  widecol itself, cluster/schema_runtime.c).  A relation or server belongs to the
 *	  role of the same name when it exists, else to the extension owner
 *	  (logged).  The worker sets widecol_schema_applying, so its own DDL is
 *	  not sent back.  A failing worker exits with an error and the
 *	  postmaster starts it again after WIDECOL_SCHEMA_RETRY_S seconds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "client.h"
#include "cluster.h"
#include "consistency.h"
#include "engine.h"
#include "protocol.h"
#include "schema_def.h"
#include "schema_runtime.h"
#include "schema_sync.h"

#include "widecol.h"

#define WIDECOL_SCHEMA_AGREEMENT_MS 10000	/* DDL waits this long for agreement */
#define WIDECOL_SCHEMA_RETRY_S 2	/* a failed materializer starts again after */
#define WIDECOL_SCHEMA_MAX_DBS 64	/* databases materialized by one node */
#define WIDECOL_SCHEMA_RESCAN_MS 10000	/* new databases are looked for this often */

typedef enum PendingKind
{
	PENDING_SERVER,				/* created or altered: oid */
	PENDING_SERVER_DROP,		/* keyspace */
	PENDING_TABLE,				/* created or altered: oid */
	PENDING_TABLE_DROP			/* keyspace, table */
} PendingKind;

typedef struct PendingChange
{
	PendingKind kind;
	bool		created;
	Oid			oid;
	char	   *keyspace;
	char	   *table;
	SubTransactionId subid;
} PendingChange;

bool		widecol_schema_applying = false;
static List *pending_changes = NIL;	/* in TopMemoryContext */

/* the node worker's materializers, one per database */
typedef struct Applier
{
	Oid			dbid;
	char		launched[33];	/* the version it was started for */
	BackgroundWorkerHandle *handle;
} Applier;
static Applier appliers[WIDECOL_SCHEMA_MAX_DBS];
static int	napplier = 0;

/* callbacks */
static void schema_xact(XactEvent event, void *arg);
static void schema_subxact(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg);

/* helpers */
static void note(PendingKind kind, bool created, Oid oid, const char *keyspace,
				 const char *table);
static void send_pending(List *todo);
static bool send_change(uint8 kind, const void *a, size_t alen, const char *b, const char *c,
						uint32 wait_ms, wc_proto_schema_result *res);
static bool send_server(ForeignServer *server, bool created);
static void send_table(Oid relid, bool created);
static char *server_replication(ForeignServer *server);
static char *replication_map(const wc_replication *r);
static Oid	owner_role(const char *name, const char *what);
static void run_sql(const char *sql);
static Oid	server_of_keyspace(const char *keyspace);
static Oid	relation_of_table(const char *keyspace, const char *table);
static void apply_keyspace(const wc_schema_keyspace *k);
static void apply_table(const wc_schema_table *t, const char *dbname);
static void alter_columns(Oid relid, const wc_schema *s);
static const char *table_id_verb(Oid relid);
static void set_table_id(Oid relid, uint32 id);
static const char *relation_word(Oid relid);
static void alter_tam_columns(Oid relid, const char *rel, const wc_schema *s);
static void follow_tam_options(Oid relid, const wc_schema *s, uint32 id);
static void create_tam(const wc_schema_table *t, const wc_schema *s, const char *nsp,
					   ForeignServer *fs);
static void follow_owner(Oid relid, const char *rel, const char *role_name);
static void log_missing_databases(struct wc_cluster *cluster, List *dbnames);

void
widecol_schema_apply_init(void)
{
	RegisterXactCallback(schema_xact, NULL);
	RegisterSubXactCallback(schema_subxact, NULL);
}

/* Does this instance run the cluster schema (a node in a cluster)? */
bool
widecol_cluster_schema_enabled(void)
{
	return widecol_preloaded && widecol_listen_address != NULL &&
		widecol_listen_address[0] != '\0';
}

/* ---------------------------------------------------------------- sending */

static void
note(PendingKind kind, bool created, Oid oid, const char *keyspace, const char *table)
{
	MemoryContext old;
	PendingChange *pc;

	if (!widecol_cluster_schema_enabled() || widecol_schema_applying)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	pc = palloc0(sizeof(PendingChange));
	pc->kind = kind;
	pc->created = created;
	pc->oid = oid;
	pc->keyspace = keyspace ? pstrdup(keyspace) : NULL;
	pc->table = table ? pstrdup(table) : NULL;
	pc->subid = GetCurrentSubTransactionId();
	pending_changes = lappend(pending_changes, pc);
	MemoryContextSwitchTo(old);
}

void
widecol_schema_note_server(Oid serverid, bool created)
{
	note(PENDING_SERVER, created, serverid, NULL, NULL);
}

void
widecol_schema_note_server_drop(const char *keyspace)
{
	note(PENDING_SERVER_DROP, false, InvalidOid, keyspace, NULL);
}

void
widecol_schema_note_table(Oid relid, bool created)
{
	note(PENDING_TABLE, created, relid, NULL, NULL);
}

void
widecol_schema_note_table_drop(const char *keyspace, const char *table)
{
	note(PENDING_TABLE_DROP, false, InvalidOid, keyspace, table);
}

/* A rolled-back change is never sent. */
static void
schema_subxact(SubXactEvent event, SubTransactionId mySubid,
			   SubTransactionId parentSubid, void *arg)
{
	list_free(widecol_subxact_follow(pending_changes, offsetof(PendingChange, subid), event,
									 mySubid, parentSubid));
}

static void
schema_xact(XactEvent event, void *arg)
{
	List	   *todo = pending_changes;

	if (todo == NIL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		pending_changes = NIL;
		send_pending(todo);
		list_free_deep(todo);
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		pending_changes = NIL;
		list_free_deep(todo);
	}
}

/*
 * One SCHEMA_CHANGE to the node.  Returns false for WC_EXISTS and
 * WC_NOT_FOUND (the caller decides); any other failure is an ERROR.
 */
static bool
send_change(uint8 kind, const void *a, size_t alen, const char *b, const char *c,
			uint32 wait_ms, wc_proto_schema_result *res)
{
	wc_proto_schema_change ch;
	struct wc_client *conn = widecol_connection();
	wc_status	st;

	memset(&ch, 0, sizeof(ch));
	ch.kind = kind;
	ch.wait_ms = wait_ms;
	ch.a = a;
	ch.alen = alen;
	ch.b = (const uint8 *) b;
	ch.blen = b ? strlen(b) : 0;
	ch.c = (const uint8 *) c;
	ch.clen = c ? strlen(c) : 0;
	if (wait_ms > 0)
		wc_client_set_timeout(conn, (int) wait_ms + widecol_request_timeout());
	st = wc_client_schema_change(conn, &ch, res);
	if (wait_ms > 0)
		wc_client_set_timeout(conn, widecol_request_timeout());
	if (st == WC_EXISTS || st == WC_NOT_FOUND)
		return false;
	if (st == WC_UNAVAILABLE && strstr(wc_last_error(), "runs no cluster") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("widecol DDL cannot reach the cluster schema: the node runs no cluster"),
				 errdetail("%s", wc_last_error()),
				 errhint("The cluster did not start (see the server log); fix the widecol.* cluster settings and restart, or unset widecol.listen_address.")));
	if (st != WC_OK)
		widecol_report(st, "changing the cluster schema");
	return true;
}

/* The replication option of a widecol server in the compact form, or the default. */
static char *
server_replication(ForeignServer *server)
{
	wc_replication r;
	char		buf[512];
	size_t		len;
	ListCell   *lc;

	wc_replication_default(&r);
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "replication") == 0 &&
			wc_replication_parse(defGetString(def), &r) != WC_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid replication for server \"%s\": %s", server->servername,
							wc_last_error()),
					 errhint("Use {'class': 'SimpleStrategy', 'replication_factor': N} or "
							 "{'class': 'NetworkTopologyStrategy', '<dc>': N, ...}.")));
	}
	if (wc_replication_format(&r, buf, sizeof(buf), &len) != WC_OK)
		elog(ERROR, "could not format a replication: %s", wc_last_error());
	return pstrdup(buf);
}

/* Send a created or altered keyspace.  Returns false if the server is gone. */
static bool
send_server(ForeignServer *server, bool created)
{
	wc_proto_schema_result res;
	const char *ks = widecol_server_keyspace(server);
	char	   *repl = server_replication(server);
	char	   *owner = GetUserNameFromId(server->owner, true);

	if (created)
	{
		if (!send_change(WC_SCHEMA_CHANGE_CREATE_KEYSPACE, ks, strlen(ks), repl,
						 owner ? owner : "", 0, &res))
			(void) send_change(WC_SCHEMA_CHANGE_ALTER_KEYSPACE, ks, strlen(ks), repl, NULL, 0,
							   &res);
	}
	else if (!send_change(WC_SCHEMA_CHANGE_ALTER_KEYSPACE, ks, strlen(ks), repl, NULL, 0, &res))
		(void) send_change(WC_SCHEMA_CHANGE_CREATE_KEYSPACE, ks, strlen(ks), repl,
						   owner ? owner : "", 0, &res);
	return true;
}

/* Send a created or altered table (its keyspace first if the cluster lacks it). */
static void
send_table(Oid relid, bool created)
{
	Relation	rel;
	WidecolTable *t;
	wc_table_def def;
	wc_proto_schema_result res;
	uint8		kind = created ? WC_SCHEMA_CHANGE_CREATE_TABLE : WC_SCHEMA_CHANGE_ALTER_TABLE;
	uint8		other = created ? WC_SCHEMA_CHANGE_ALTER_TABLE : WC_SCHEMA_CHANGE_CREATE_TABLE;

	if (widecol_is_tam_table(relid))
		rel = table_open(relid, AccessShareLock);
	else if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return;					/* dropped later in the transaction */
	else
	{
		rel = table_open(relid, AccessShareLock);
		if (!widecol_is_widecol_server(GetForeignTable(relid)->serverid))
		{
			table_close(rel, AccessShareLock);
			return;
		}
	}
	t = widecol_build_table(rel);
	table_close(rel, AccessShareLock);
	widecol_cluster_table_def(t, &def);
	memset(&res, 0, sizeof(res));
	if (send_change(kind, def.schema, def.schema_len, NULL, NULL, 0, &res))
		goto sent;
	/* the keyspace is missing (made before the cluster), or the table exists or not */
	(void) send_server(GetForeignServer(t->serverid), true);
	if (!send_change(kind, def.schema, def.schema_len, NULL, NULL, 0, &res) &&
		!send_change(other, def.schema, def.schema_len, NULL, NULL, 0, &res))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("widecol table \"%s.%s\" could not be entered in the cluster schema",
						t->keyspace, t->table_name),
				 errdetail("%s", wc_last_error()),
				 errhint("Retry the statement; if it fails again, check that keyspace \"%s\" exists on every node.",
						 t->keyspace)));
sent:
	if (kind == WC_SCHEMA_CHANGE_CREATE_TABLE && res.table_id != 0 && res.table_id != t->table_id)
	{
		/* the cluster gave the table another id: the relation takes it */
		widecol_schema_applying = true;
		PG_TRY();
		{
			set_table_id(relid, res.table_id);
		}
		PG_FINALLY();
		{
			widecol_schema_applying = false;
		}
		PG_END_TRY();
	}
}

/* Give widecol table relid (either face) the cluster's table id. */
static void
set_table_id(Oid relid, uint32 id)
{
	if (widecol_is_tam_table(relid))
	{
		Relation	rel = table_open(relid, AccessShareLock);
		Oid			serverid;
		List	   *options;
		DefElem    *def = makeDefElem("table_id", (Node *) makeString(psprintf("%u", id)), -1);
		List	   *kept = NIL;
		ListCell   *lc;

		widecol_tam_options(rel, &serverid, &options);
		table_close(rel, AccessShareLock);
		foreach(lc, options)
			if (strcmp(((DefElem *) lfirst(lc))->defname, "table_id") != 0)
				kept = lappend(kept, lfirst(lc));
		widecol_tam_follow_options(relid, lappend(kept, def));
		return;
	}
	run_sql(psprintf("ALTER FOREIGN TABLE %s OPTIONS (%s table_id '%u')",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)),
					 table_id_verb(relid), id));
}

/* "SET" if foreign table relid has a table_id option, else "ADD". */
static const char *
table_id_verb(Oid relid)
{
	ListCell   *lc;

	foreach(lc, GetForeignTable(relid)->options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "table_id") == 0)
			return "SET";
	return "ADD";
}

/* Send the transaction's changes in order, then wait for agreement. */
static void
send_pending(List *todo)
{
	ListCell   *lc;
	bool		any = false;
	wc_proto_schema_result res;

	foreach(lc, todo)
	{
		PendingChange *pc = lfirst(lc);

		if (pc->subid == InvalidSubTransactionId)
			continue;
		any = true;
		switch (pc->kind)
		{
			case PENDING_SERVER:
				{
					ForeignServer *server = GetForeignServerExtended(pc->oid, FSV_MISSING_OK);

					if (server != NULL && widecol_is_widecol_server(server->serverid))
						(void) send_server(server, pc->created);
					break;
				}
			case PENDING_SERVER_DROP:
				(void) send_change(WC_SCHEMA_CHANGE_DROP_KEYSPACE, pc->keyspace,
								   strlen(pc->keyspace), NULL, NULL, 0, &res);
				break;
			case PENDING_TABLE:
				send_table(pc->oid, pc->created);
				break;
			case PENDING_TABLE_DROP:
				(void) send_change(WC_SCHEMA_CHANGE_DROP_TABLE, pc->keyspace,
								   strlen(pc->keyspace), pc->table, NULL, 0, &res);
				break;
		}
	}
	if (!any)
		return;
	(void) send_change(WC_SCHEMA_CHANGE_WAIT, NULL, 0, NULL, NULL, WIDECOL_SCHEMA_AGREEMENT_MS,
					   &res);
	if (!res.agreed)
	{
		StringInfoData nodes;

		initStringInfo(&nodes);
		for (uint32 i = 0; i < res.nlaggards && i < WC_SCHEMA_MAX_LAGGARDS; i++)
			appendStringInfo(&nodes, "%s%s", i ? ", " : "", res.laggards[i]);
		if (res.nlaggards > WC_SCHEMA_MAX_LAGGARDS)
			appendStringInfo(&nodes, " and %u more", res.nlaggards - WC_SCHEMA_MAX_LAGGARDS);
		ereport(WARNING,
				(errmsg("the widecol schema change is not yet agreed by %u node(s) after %u ms: %s",
						res.nlaggards, res.waited_ms, nodes.data),
				 errhint("The change is committed and reaches those nodes when they answer; see widecol.nodes for their schema versions.")));
	}
	else
		elog(DEBUG1, "widecol schema agreed by every live node in %u ms", res.waited_ms);
}

/* ---------------------------------------------------------------- materializing */

/* Run one statement through SPI (the caller's transaction); DDL is logged. */
static void
run_sql(const char *sql)
{
	int			rc;

	if (strncmp(sql, "SET ", 4) != 0)
		ereport(LOG, (errmsg("widecol schema: running: %s", sql)));
	SPI_connect();
	rc = SPI_execute(sql, false, 0);
	if (rc < 0)
		elog(ERROR, "widecol schema: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	SPI_finish();
}

/* The role called name, else the widecol extension's owner (logged, naming what). */
static Oid
owner_role(const char *name, const char *what)
{
	Oid			role = (name && name[0]) ? get_role_oid(name, true) : InvalidOid;
	Oid			extowner = BOOTSTRAP_SUPERUSERID;
	HeapTuple	tup;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;

	if (OidIsValid(role))
		return role;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("widecol"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		extowner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	ereport(LOG,
			(errmsg("widecol schema: role \"%s\" does not exist on this node: %s belongs to the extension owner \"%s\"",
					name ? name : "", what, GetUserNameFromId(extowner, false))));
	return extowner;
}

/* A CQL replication map of r, as the server option spells it. */
static char *
replication_map(const wc_replication *r)
{
	StringInfoData m;

	initStringInfo(&m);
	if (r->cls == WC_REPL_SIMPLE)
		appendStringInfo(&m, "{'class': 'SimpleStrategy', 'replication_factor': %u}",
						 r->replication_factor);
	else
	{
		appendStringInfoString(&m, "{'class': 'NetworkTopologyStrategy'");
		for (uint32 i = 0; i < r->ndcs; i++)
			appendStringInfo(&m, ", '%s': %u", r->dcs[i].name, r->dcs[i].factor);
		appendStringInfoChar(&m, '}');
	}
	return m.data;
}

/* The widecol server of keyspace in this database, or InvalidOid. */
static Oid
server_of_keyspace(const char *keyspace)
{
	Oid			found = InvalidOid;

	SPI_connect();
	if (SPI_execute("SELECT s.oid FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w "
					"ON w.oid = s.srvfdw WHERE w.fdwname = 'widecol' ORDER BY s.oid",
					false, 0) != SPI_OK_SELECT)	/* not read-only: a new snapshot */
		elog(ERROR, "widecol schema: could not list the servers");
	for (uint64 i = 0; i < SPI_processed && !OidIsValid(found); i++)
	{
		bool		isnull;
		Oid			oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));

		if (strcmp(widecol_server_keyspace(GetForeignServer(oid)), keyspace) == 0)
			found = oid;
	}
	SPI_finish();
	return found;
}

/* The foreign tables and the tables USING widecol of this database, by OID. */
static List *
widecol_relids(void)
{
	List	   *relids = NIL;
	MemoryContext outer = CurrentMemoryContext;

	SPI_connect();
	if (SPI_execute("SELECT ftrelid FROM pg_foreign_table UNION ALL "
					"SELECT c.oid FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
					"WHERE c.relkind = 'r' AND a.amname = 'widecol' ORDER BY 1", false, 0) !=
		SPI_OK_SELECT)
		elog(ERROR, "widecol schema: could not list the widecol tables");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext spi = MemoryContextSwitchTo(outer);	/* outlives SPI_finish */

		relids = lappend_oid(relids, relid);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return relids;
}

/*
 * Hold every widecol relation of this database against DDL until the
 * materializer commits, before it reads the cluster schema: a DDL statement
 * of this node holds its relation from its first change until its commit,
 * and enters the cluster schema before it commits, so what is read next is
 * at least as new as these catalogs.  (Read first and locked later, an
 * older definition would undo a column just added here.)  Never waits
 * while holding some: a DDL locking two tables in another order cannot
 * deadlock with it.
 */
static void
hold_widecol_relations(void)
{
	List	   *relids = widecol_relids();

	for (;;)
	{
		ListCell   *lc;
		Oid			busy = InvalidOid;

		foreach(lc, relids)
		{
			if (!ConditionalLockRelationOid(lfirst_oid(lc), ShareUpdateExclusiveLock))
			{
				busy = lfirst_oid(lc);
				break;
			}
		}
		if (!OidIsValid(busy))
			break;
		foreach(lc, relids)
		{
			if (lfirst_oid(lc) == busy)
				break;
			UnlockRelationOid(lfirst_oid(lc), ShareUpdateExclusiveLock);
		}
		/* wait for the statement that holds it, holding nothing */
		LockRelationOid(busy, ShareUpdateExclusiveLock);
		UnlockRelationOid(busy, ShareUpdateExclusiveLock);
		CHECK_FOR_INTERRUPTS();
		list_free(relids);
		relids = widecol_relids();	/* a new snapshot: tables created or dropped meanwhile */
	}
}

/*
 * The widecol table (a foreign table, or a table USING widecol) of engine
 * table keyspace.table in this database, or InvalidOid.
 */
static Oid
relation_of_table(const char *keyspace, const char *table)
{
	Oid			found = InvalidOid;
	List	   *relids = widecol_relids();
	ListCell   *lc;

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		WidecolTable *t;

		/* a relation dropped meanwhile (a DROP in flight) is skipped once its owner commits */
		LockRelationOid(relid, AccessShareLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		{
			UnlockRelationOid(relid, AccessShareLock);
			continue;
		}
		if (get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE &&
			!widecol_is_widecol_server(GetForeignTable(relid)->serverid))
			continue;
		t = widecol_get_table(relid);
		if (strcmp(t->keyspace, keyspace) == 0 && strcmp(t->table_name, table) == 0)
			found = relid;
	}
	return found;
}

/* Make the server of keyspace k match the entry. */
static void
apply_keyspace(const wc_schema_keyspace *k)
{
	Oid			server = server_of_keyspace(k->name);
	char	   *map = replication_map(&k->replication);

	if (k->dropped)
	{
		if (OidIsValid(server))
			run_sql(psprintf("DROP SERVER %s CASCADE",
							 quote_identifier(GetForeignServer(server)->servername)));
		return;
	}
	if (!OidIsValid(server))
	{
		char	   *what = psprintf("server %s", quote_identifier(k->name));
		Oid			role = owner_role(k->owner_role, what);

		run_sql(psprintf("CREATE SERVER %s FOREIGN DATA WRAPPER widecol OPTIONS (replication %s)",
						 quote_identifier(k->name), quote_literal_cstr(map)));
		run_sql(psprintf("ALTER SERVER %s OWNER TO %s", quote_identifier(k->name),
						 quote_identifier(GetUserNameFromId(role, false))));
		ereport(LOG, (errmsg("widecol schema: created server %s", quote_identifier(k->name))));
		return;
	}
	else
	{
		char		want[512];
		size_t		len;
		ForeignServer *fs = GetForeignServer(server);
		bool		has_option = false;
		ListCell   *lc;

		foreach(lc, fs->options)
			has_option |= strcmp(((DefElem *) lfirst(lc))->defname, "replication") == 0;
		if (wc_replication_format(&k->replication, want, sizeof(want), &len) != WC_OK)
			elog(ERROR, "widecol schema: could not format a replication: %s", wc_last_error());
		if (strcmp(server_replication(fs), want) != 0)
			run_sql(psprintf("ALTER SERVER %s OPTIONS (%s replication %s)",
							 quote_identifier(fs->servername), has_option ? "SET" : "ADD",
							 quote_literal_cstr(map)));
	}
}

/*
 * ADD the columns of s the relation lacks, DROP those s no longer has, and
 * give the others the cql_type s has for them.
 */
static void
alter_columns(Oid relid, const wc_schema *s)
{
	WidecolTable *t = widecol_get_table(relid);
	char	   *rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												 get_rel_name(relid));
	List	   *cmds = NIL;
	ListCell   *lc;

	for (size_t i = 0; i < s->ncolumns; i++)
	{
		const char *want = s->columns[i].cql_type;
		bool		have = false;

		for (int c = 0; c < t->ncols; c++)
		{
			const char *mine;

			if (t->cols[c].dropped || strcmp(t->cols[c].name, s->columns[i].name) != 0)
				continue;
			have = true;
			mine = t->cols[c].coll ? t->cols[c].coll->cql : NULL;
			if ((want == NULL) != (mine == NULL) || (want && strcmp(want, mine) != 0))
				cmds = lappend(cmds, psprintf("ALTER FOREIGN TABLE %s ALTER COLUMN %s OPTIONS (%s cql_type%s%s)",
											  rel, quote_identifier(t->cols[c].name),
											  want == NULL ? "DROP" : mine == NULL ? "ADD" : "SET",
											  want ? " " : "", want ? quote_literal_cstr(want) : ""));
		}
		if (!have)
		{
			StringInfoData sql;

			initStringInfo(&sql);
			appendStringInfo(&sql, "ALTER FOREIGN TABLE %s ADD COLUMN ", rel);
			widecol_column_definition(&s->columns[i], &sql);
			cmds = lappend(cmds, sql.data);
		}
	}
	foreach(lc, cmds)
		run_sql(lfirst(lc));
	t = widecol_get_table(relid);
	for (int c = 0; c < t->ncols; c++)
		if (!t->cols[c].dropped && wc_schema_find_column(s, t->cols[c].name) == NULL)
			run_sql(psprintf("ALTER FOREIGN TABLE %s DROP COLUMN %s", rel,
							 quote_identifier(t->cols[c].name)));
}

/* An owner change made elsewhere: the relation takes the role of that name, if it exists here. */
static void
follow_owner(Oid relid, const char *rel, const char *role_name)
{
	Oid			want = (role_name && role_name[0]) ? get_role_oid(role_name, true) : InvalidOid;
	HeapTuple	tup;
	Oid			have;

	if (!OidIsValid(want))
		return;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return;
	have = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	if (have != want)
		run_sql(psprintf("ALTER %s %s OWNER TO %s", relation_word(relid), rel,
						 quote_identifier(role_name)));
}

/* "FOREIGN TABLE" or "TABLE", as ALTER and DROP name widecol table relid. */
static const char *
relation_word(Oid relid)
{
	return get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE ? "FOREIGN TABLE" : "TABLE";
}

/*
 * The columns of USING widecol table relid follow s.  Such a table keeps
 * each column's cells under its attribute number, so a column of s must
 * come back at the attribute number of its cell id: a rename is a RENAME
 * COLUMN, a new column is added after placeholders that fill any gap (and
 * are dropped again), a column s lacks is dropped.
 */
static void
alter_tam_columns(Oid relid, const char *rel, const wc_schema *s)
{
	uint32		maxcell = 0;

	for (size_t i = 0; i < s->ncolumns; i++)
		maxcell = Max(maxcell, s->columns[i].cell_id);
	for (uint32 cell = 1; cell <= maxcell; cell++)
	{
		const wc_schema_column *c = NULL;
		Relation	r;
		TupleDesc	desc;
		int			natts;

		for (size_t i = 0; i < s->ncolumns; i++)
			if (s->columns[i].cell_id == cell)
				c = &s->columns[i];
		if (c == NULL)
			continue;
		r = table_open(relid, AccessShareLock);
		desc = CreateTupleDescCopy(RelationGetDescr(r));
		table_close(r, AccessShareLock);
		natts = desc->natts;
		if ((int) cell <= natts)
		{
			Form_pg_attribute att = TupleDescAttr(desc, cell - 1);

			if (att->attisdropped)
				ereport(LOG,
						(errmsg("widecol schema: column \"%s\" of %s was dropped on this node: its cells are not materialized here",
								c->name, rel)));
			else if (strcmp(NameStr(att->attname), c->name) != 0)
				run_sql(psprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", rel,
								 quote_identifier(NameStr(att->attname)), quote_identifier(c->name)));
			continue;
		}
		for (int gap = natts + 1; gap < (int) cell; gap++)
		{
			run_sql(psprintf("ALTER TABLE %s ADD COLUMN widecol_gap_%d integer", rel, gap));
			run_sql(psprintf("ALTER TABLE %s DROP COLUMN widecol_gap_%d", rel, gap));
		}
		run_sql(psprintf("ALTER TABLE %s ADD COLUMN %s %s", rel, quote_identifier(c->name),
						 c->type ? c->type : "text"));
	}
	{
		WidecolTable *wt = widecol_get_table(relid);

		for (int i = 0; i < wt->ncols; i++)
		{
			bool		keep = false;

			if (wt->cols[i].dropped)
				continue;
			for (size_t k = 0; k < s->ncolumns; k++)
				keep |= s->columns[k].cell_id == (uint32) wt->cols[i].attnum;
			if (!keep)
				run_sql(psprintf("ALTER TABLE %s DROP COLUMN %s", rel,
								 quote_identifier(wt->cols[i].name)));
		}
	}
}

/* The options as one comparable text. */
static char *
options_text(List *options)
{
	StringInfoData out;
	ListCell   *lc;

	initStringInfo(&out);
	foreach(lc, options)
		appendStringInfo(&out, "%s=%s\n", ((DefElem *) lfirst(lc))->defname,
						 defGetString((DefElem *) lfirst(lc)));
	return out.data;
}

/* The options of USING widecol table relid (TTL, compaction, ..., table id, cql_types) follow s. */
static void
follow_tam_options(Oid relid, const wc_schema *s, uint32 id)
{
	WidecolTable *wt = widecol_get_table(relid);
	wc_table_def def;
	const wc_schema *mine;
	List	   *want = widecol_tam_schema_options(s, id);

	widecol_cluster_table_def(wt, &def);
	mine = widecol_engine_schema(&def);
	if (mine != NULL && strcmp(options_text(widecol_tam_schema_options(mine, wt->table_id)),
							   options_text(want)) == 0)
		return;
	widecol_tam_follow_options(relid, want);
}

/* Create the USING widecol table of entry t (schema s) in schema nsp, keyspace server fs. */
static void
create_tam(const wc_schema_table *t, const wc_schema *s, const char *nsp, ForeignServer *fs)
{
	List	   *names = stringToQualifiedNameList(s->owner.rel_name ? s->owner.rel_name : s->table);
	char	   *relname = strVal(llast(names));
	List	   *gaps;
	char	   *cmd = widecol_tam_create_command(s, t->id, relname, fs, &gaps);
	char	   *rel = quote_qualified_identifier(nsp, relname);
	ListCell   *lc;
	Oid			role;

	if (cmd == NULL)
	{
		ereport(LOG,
				(errmsg("widecol schema: table %s.%s cannot be a USING widecol table: it is not created here",
						t->keyspace, t->name)));
		return;
	}
	run_sql(psprintf("SET LOCAL search_path TO %s", quote_identifier(nsp)));
	run_sql(cmd);
	foreach(lc, gaps)
		run_sql(psprintf("ALTER TABLE %s DROP COLUMN %s", rel, quote_identifier(lfirst(lc))));
	role = owner_role(s->owner.role_name, psprintf("table %s", rel));
	run_sql(psprintf("ALTER TABLE %s OWNER TO %s", rel,
					 quote_identifier(GetUserNameFromId(role, false))));
	ereport(LOG, (errmsg("widecol schema: created table %s USING widecol (id %u)", rel, t->id)));
}

/* The secondary indexes (option "indexes", index.c) of foreign table relid follow s. */
static void
follow_indexes(Oid relid, const char *rel, const wc_schema *s)
{
	const char *mine = widecol_get_table(relid)->indexes_text;
	const char *want = NULL;

	for (size_t i = 0; i < s->nproperties; i++)
		if (strcmp(s->properties[i].name, "indexes") == 0)
			want = s->properties[i].value;
	if (want == NULL && mine != NULL)
		run_sql(psprintf("ALTER FOREIGN TABLE %s OPTIONS (DROP indexes)", rel));
	else if (want != NULL && (mine == NULL || strcmp(mine, want) != 0))
		run_sql(psprintf("ALTER FOREIGN TABLE %s OPTIONS (%s indexes %s)", rel,
						 mine ? "SET" : "ADD", quote_literal_cstr(want)));
}

/* Make the widecol table of entry t match it, if its owner record names this database. */
static void
apply_table(const wc_schema_table *t, const char *dbname)
{
	wc_schema	s;
	Oid			relid;
	Oid			server;
	char	   *rel;

	relid = relation_of_table(t->keyspace, t->name);
	if (t->dropped)
	{
		/* a DROP still in flight on this node holds the relation: wait for it */
		if (OidIsValid(relid))
		{
			LockRelationOid(relid, AccessExclusiveLock);
			if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
				return;
		}
		if (OidIsValid(relid))
			run_sql(psprintf("DROP %s %s", relation_word(relid),
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														get_rel_name(relid))));
		return;
	}
	memset(&s, 0, sizeof(s));
	if (wc_schema_decode(t->definition, t->definition_len, &s) != WC_OK)
	{
		ereport(LOG, (errmsg("widecol schema: table %s.%s has an unreadable definition: %s",
							 t->keyspace, t->name, wc_last_error())));
		wc_schema_free(&s);
		return;
	}
	/*
	 * On the node that runs the DDL, the change arrives before its commit:
	 * wait for that transaction, which holds the relation the owner record
	 * names, and look again.
	 */
	if (s.owner.present && s.owner.db_id == MyDatabaseId && s.owner.rel_id != 0)
	{
		LockRelationOid(s.owner.rel_id, AccessShareLock);
		relid = relation_of_table(t->keyspace, t->name);
	}
	PG_TRY();
	{
		server = server_of_keyspace(t->keyspace);
		if (!s.owner.present || s.owner.db_name == NULL || strcmp(s.owner.db_name, dbname) != 0 ||
			!OidIsValid(server))
			;					/* another database's table (or no server yet) */
		else if (OidIsValid(relid))
		{
			WidecolTable *wt = widecol_get_table(relid);

			rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											 get_rel_name(relid));
			if (widecol_is_tam_table(relid))
			{
				alter_tam_columns(relid, rel, &s);
				follow_tam_options(relid, &s, t->id);
			}
			else
			{
				if (wt->table_id != t->id)
					set_table_id(relid, t->id);
				alter_columns(relid, &s);
				follow_indexes(relid, rel, &s);
			}
			follow_owner(relid, rel, s.owner.role_name);
		}
		else
		{
			List	   *names = stringToQualifiedNameList(s.owner.rel_name ? s.owner.rel_name : s.table);
			char	   *nsp = list_length(names) > 1 ? strVal(linitial(names)) : "public";
			ImportForeignSchemaStmt stmt;
			wc_table_def def;
			ForeignServer *fs = GetForeignServer(server);
			char	   *cmd;
			Oid			role;

			if (!OidIsValid(get_namespace_oid(nsp, true)))
			{
				ereport(LOG,
						(errmsg("widecol schema: schema \"%s\" of table %s.%s does not exist in database \"%s\": the table is not created here",
								nsp, t->keyspace, t->name, dbname)));
				goto done;
			}
			if (s.owner.access_method != NULL && strcmp(s.owner.access_method, "widecol") == 0)
			{
				create_tam(t, &s, nsp, GetForeignServer(server));
				goto done;
			}
			memset(&stmt, 0, sizeof(stmt));
			stmt.type = T_ImportForeignSchemaStmt;
			stmt.list_type = FDW_IMPORT_SCHEMA_ALL;
			wc_table_def_default(&def);
			def.id = t->id;
			def.schema = (uint8 *) t->definition;
			def.schema_len = t->definition_len;
			cmd = widecol_import_command(&def, fs, widecol_server_keyspace(fs), &stmt);
			if (cmd == NULL)
				goto done;
			run_sql(psprintf("SET LOCAL search_path TO %s", quote_identifier(nsp)));
			run_sql(cmd);
			relid = relation_of_table(t->keyspace, t->name);
			if (!OidIsValid(relid))
				elog(ERROR, "widecol schema: table %s.%s was not created", t->keyspace, t->name);
			rel = quote_qualified_identifier(nsp, get_rel_name(relid));
			role = owner_role(s.owner.role_name, psprintf("foreign table %s", rel));
			run_sql(psprintf("ALTER FOREIGN TABLE %s OWNER TO %s", rel,
							 quote_identifier(GetUserNameFromId(role, false))));
			ereport(LOG, (errmsg("widecol schema: created foreign table %s (id %u)", rel, t->id)));
		}
done:
		;
	}
	PG_FINALLY();
	{
		wc_schema_free(&s);
	}
	PG_END_TRY();
}

/*
 * Entry point of a materializer: one database, one pass over the cluster
 * schema, exit 0 when the catalogs match it.
 */
void
widecol_schema_apply_main(Datum main_arg)
{
	Oid			dbid = DatumGetObjectId(main_arg);
	uint8		flags;
	const uint8 *push;
	size_t		push_len;
	wc_schema_msg m;
	wc_status	st;
	char	   *dbname;

	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	widecol_schema_applying = true;
	pgstat_report_appname("widecol schema");

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	dbname = get_database_name(MyDatabaseId);
	if (!OidIsValid(get_extension_oid("widecol", true)) || !widecol_node_running())
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		proc_exit(0);			/* nothing to materialize here */
	}
	hold_widecol_relations();
	st = wc_client_schema_list(widecol_connection(), NULL, 0, &flags, &push, &push_len);
	if (st != WC_OK)
		widecol_report(st, "listing the cluster schema");
	if (!(flags & WC_SCHEMA_LISTF_CLUSTER))
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		proc_exit(0);
	}
	if (wc_schema_msg_decode(push, push_len, &m) != WC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the widecol node sent an unreadable cluster schema: %s", wc_last_error()),
				 errhint("Restart the server; if it persists, report it.")));
	PG_TRY();
	{
		/* keyspaces first (a dropped one takes its tables), then tables */
		for (size_t i = 0; i < m.nkeyspaces; i++)
			apply_keyspace(&m.keyspaces[i]);
		for (size_t i = 0; i < m.ntables; i++)
		{
			bool		live_ks = false;

			for (size_t k = 0; k < m.nkeyspaces; k++)
				live_ks |= strcmp(m.keyspaces[k].name, m.tables[i].keyspace) == 0 &&
					!m.keyspaces[k].dropped;
			if (live_ks)
				apply_table(&m.tables[i], dbname);
		}
	}
	PG_FINALLY();
	{
		wc_schema_msg_free(&m);
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
	proc_exit(0);
}

/*
 * In the node worker, on its latch loop: start a materializer in every
 * database that accepts connections and has none running, when the
 * version the engine follows is not the one it was last started for.
 */
void
widecol_schema_launch_appliers(struct wc_cluster *cluster)
{
	static char logged[33];		/* the version missing databases were logged for */
	static TimestampTz scanned = 0; /* databases are listed again this often */
	char		version[33];
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *dbnames = NIL;

	if (cluster == NULL)
		return;
	wc_schema_runtime_applied_version(wc_cluster_schema(cluster), version);
	if (version[0] == '\0')
		return;
	for (int i = 0; i < napplier; i++)
		if (strcmp(appliers[i].launched, version) != 0)
			goto launch;
	if (napplier > 0 &&
		!TimestampDifferenceExceeds(scanned, GetCurrentTimestamp(), WIDECOL_SCHEMA_RESCAN_MS))
		return;					/* a new database is found at the next scan */
launch:
	scanned = GetCurrentTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();	/* as the autovacuum launcher lists databases */
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		Applier    *a = NULL;
		BackgroundWorker w;
		pid_t		pid;

		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);	/* past the commit */

			dbnames = lappend(dbnames, pstrdup(NameStr(db->datname)));
			MemoryContextSwitchTo(old);
		}
		if (!db->datallowconn || db->datistemplate)
			continue;
		for (int i = 0; i < napplier; i++)
			if (appliers[i].dbid == db->oid)
				a = &appliers[i];
		if (a == NULL)
		{
			if (napplier == WIDECOL_SCHEMA_MAX_DBS)
				continue;
			a = &appliers[napplier++];
			memset(a, 0, sizeof(*a));
			a->dbid = db->oid;
		}
		if (strcmp(a->launched, version) == 0)
			continue;
		if (a->handle != NULL)
		{
			BgwHandleStatus hs = GetBackgroundWorkerPid(a->handle, &pid);

			if (hs == BGWH_STARTED || hs == BGWH_NOT_YET_STARTED)
				continue;		/* started again for the newest version when it ends */
			pfree(a->handle);
			a->handle = NULL;
		}
		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = WIDECOL_SCHEMA_RETRY_S;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "widecol");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "widecol_schema_apply_main");
		snprintf(w.bgw_name, BGW_MAXLEN, "widecol schema for database %u", db->oid);
		snprintf(w.bgw_type, BGW_MAXLEN, "widecol schema");
		w.bgw_main_arg = ObjectIdGetDatum(db->oid);
		w.bgw_notify_pid = MyProcPid;
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
			bool		ok = RegisterDynamicBackgroundWorker(&w, &a->handle);

			MemoryContextSwitchTo(old);
			if (ok)
				strlcpy(a->launched, version, sizeof(a->launched));
			else
				a->handle = NULL;	/* no free slot: tried again on the next tick */
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	if (strcmp(logged, version) != 0)
	{
		log_missing_databases(cluster, dbnames);
		strlcpy(logged, version, sizeof(logged));
	}
	list_free_deep(dbnames);
}

/*
 * Once per version: log the tables of the cluster schema whose database
 * does not exist on this node (they are not materialized here).
 */
static void
log_missing_databases(struct wc_cluster *cluster, List *dbnames)
{
	wc_buf		b;
	wc_schema_msg m;

	wc_buf_init(&b);
	memset(&m, 0, sizeof(m));
	if (wc_schema_runtime_listing(wc_cluster_schema(cluster), &b) != WC_OK ||
		wc_schema_msg_decode(b.data, b.len, &m) != WC_OK)
		goto done;
	for (size_t i = 0; i < m.ntables; i++)
	{
		wc_schema	s;
		bool		found = false;
		ListCell   *lc;

		if (m.tables[i].dropped)
			continue;
		memset(&s, 0, sizeof(s));
		if (wc_schema_decode(m.tables[i].definition, m.tables[i].definition_len, &s) == WC_OK &&
			s.owner.present && s.owner.db_name != NULL)
		{
			foreach(lc, dbnames)
				found |= strcmp(lfirst(lc), s.owner.db_name) == 0;
			if (!found)
				ereport(LOG,
						(errmsg("widecol schema: database \"%s\" of table %s.%s does not exist on this node: the table is not materialized here",
								s.owner.db_name, m.tables[i].keyspace, m.tables[i].name)));
		}
		wc_schema_free(&s);
	}
done:
	wc_schema_msg_free(&m);
	wc_buf_free(&b);
}

/* ---------------------------------------------------------------- SQL */

#define CLUSTER_SCHEMA_COLUMNS 6

PG_FUNCTION_INFO_V1(widecol_cluster_schema);

/*
 * widecol.cluster_schema(): the node's copy of the cluster schema, one row
 * per keyspace (table_name NULL) and per table, tombstones included, with
 * the schema version; no rows without a cluster.
 */
Datum
widecol_cluster_schema(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint8		flags;
	const uint8 *push;
	size_t		push_len;
	wc_schema_msg m;
	wc_status	st;
	char		version[33];

	InitMaterializedSRF(fcinfo, 0);
	if (!widecol_cluster_schema_enabled())
		return (Datum) 0;
	widecol_require_node();
	st = wc_client_schema_list(widecol_connection(), NULL, 0, &flags, &push, &push_len);
	if (st != WC_OK)
		widecol_report(st, "listing the cluster schema");
	if (!(flags & WC_SCHEMA_LISTF_CLUSTER))
		return (Datum) 0;
	if (wc_schema_msg_decode(push, push_len, &m) != WC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the widecol node sent an unreadable cluster schema: %s", wc_last_error()),
				 errhint("Restart the server; if it persists, report it.")));
	for (int i = 0; i < 16; i++)
		snprintf(version + 2 * i, 3, "%02x", m.version[i]);
	for (size_t i = 0; i < m.nkeyspaces + m.ntables; i++)
	{
		Datum		values[CLUSTER_SCHEMA_COLUMNS];
		bool		nulls[CLUSTER_SCHEMA_COLUMNS];

		memset(nulls, false, sizeof(nulls));
		if (i < m.nkeyspaces)
		{
			const wc_schema_keyspace *k = &m.keyspaces[i];
			char		repl[512];
			size_t		len;

			values[0] = CStringGetTextDatum(k->name);
			nulls[1] = nulls[2] = true;
			if (wc_replication_format(&k->replication, repl, sizeof(repl), &len) == WC_OK)
				values[3] = CStringGetTextDatum(repl);
			else
				nulls[3] = true;
			values[4] = BoolGetDatum(k->dropped);
		}
		else
		{
			const wc_schema_table *t = &m.tables[i - m.nkeyspaces];

			values[0] = CStringGetTextDatum(t->keyspace);
			values[1] = CStringGetTextDatum(t->name);
			values[2] = Int64GetDatum((int64) t->id);
			nulls[3] = true;
			values[4] = BoolGetDatum(t->dropped);
		}
		values[5] = CStringGetTextDatum(version);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wc_schema_msg_free(&m);
	return (Datum) 0;
}
