/*-------------------------------------------------------------------------
 *
 * ddl.c
 *		  The DDL hooks of widecol: checks right after CREATE/ALTER FOREIGN
 *		  TABLE, ALTERs applied to the node at commit, renames that keep the
 *		  engine names, and statements refused before planning.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/ddl.c
 *
 * NOTES
 *	  A ProcessUtility hook (chained with the previous one) runs after
 *	  CREATE/ALTER FOREIGN TABLE in the same transaction: it builds the
 *	  model (schema.c), so a bad definition never commits, refuses changes
 *	  that stored data cannot follow and, when the node runs, checks the
 *	  definition against an engine table of the same name (engine_table.c).
 *	  ALTERs are sent to the node at pre-commit (a transaction callback),
 *	  so a rolled-back ALTER never reaches it.
 *
 *	  A post_parse_analyze hook refuses INSERT ... ON CONFLICT before the
 *	  planner looks for an arbiter index.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "widecol.h"

/*
 * ALTERs are applied to the node at pre-commit, so a rolled-back ALTER
 * never reaches it: (relid, subtransaction) pairs kept in TopMemoryContext.
 */
typedef struct PendingAlter
{
	Oid			relid;
	SubTransactionId subid;
} PendingAlter;
static List *pending_alters = NIL;
static ProcessUtility_hook_type prev_process_utility = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;

/* callbacks */
static void ddl_xact(XactEvent event, void *arg);
static void ddl_subxact(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg);
static void apply_pending_alters(void);
static char *rename_keeps_engine_names(RenameStmt *stmt, char **notice);
static void run_utility(const char *sql);
static Oid	widecol_relation(RangeVar *rv);
static void check_column_kept(Oid relid, const char *column, bool rename);
static void widecol_process_utility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc);

static void widecol_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate);
static List *cluster_drops(Node *parsetree);
static void refuse_cluster_rename(RenameStmt *stmt);
static void note_cluster_changes(Node *parsetree, List *dropped);

void
widecol_ddl_init(void)
{
	RegisterXactCallback(ddl_xact, NULL);
	RegisterSubXactCallback(ddl_subxact, NULL);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = widecol_process_utility;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = widecol_post_parse_analyze;
}

/* Apply the transaction's ALTERs to the node (the catalog now holds their final state). */
static void
apply_pending_alters(void)
{
	List	   *todo = pending_alters;
	ListCell   *lc;

	pending_alters = NIL;
	foreach(lc, todo)
	{
		PendingAlter *pa = lfirst(lc);
		Relation	rel;
		WidecolTable *t;

		if (get_rel_relkind(pa->relid) != RELKIND_FOREIGN_TABLE)
			continue;			/* dropped later in the transaction */
		rel = table_open(pa->relid, AccessShareLock);
		if (!widecol_is_widecol_server(GetForeignTable(pa->relid)->serverid))
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		t = widecol_build_table(rel);
		table_close(rel, AccessShareLock);
		widecol_create_or_check(t, true, false);
	}
	list_free_deep(todo);
}

/* A rolled-back ALTER is never applied. */
static void
ddl_subxact(SubXactEvent event, SubTransactionId mySubid,
			SubTransactionId parentSubid, void *arg)
{
	list_free(widecol_subxact_follow(pending_alters, offsetof(PendingAlter, subid), event,
									 mySubid, parentSubid));
}

static void
ddl_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && pending_alters != NIL)
	{
		ListCell   *lc;
		List	   *live = NIL;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		foreach(lc, pending_alters)
		{
			PendingAlter *pa = lfirst(lc);

			if (pa->subid != InvalidSubTransactionId)
				live = lappend(live, pa);
			else
				pfree(pa);
		}
		list_free(pending_alters);
		pending_alters = live;
		MemoryContextSwitchTo(old);
		apply_pending_alters();
		return;
	}
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		list_free_deep(pending_alters);
		pending_alters = NIL;
	}
}

/*
 * INSERT ... ON CONFLICT on a widecol table: refuse it here, before the
 * planner looks for an arbiter index that a foreign table cannot have,
 * unless it is DO NOTHING without a conflict target (IF NOT EXISTS, lwt.c).
 */
static void
widecol_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	if (query->commandType == CMD_INSERT && query->onConflict != NULL && query->resultRelation > 0 &&
		(query->onConflict->action != ONCONFLICT_NOTHING ||
		 query->onConflict->arbiterElems != NIL ||
		 OidIsValid(query->onConflict->constraint)))
	{
		RangeTblEntry *rte = rt_fetch(query->resultRelation, query->rtable);

		if (rte->relkind == RELKIND_FOREIGN_TABLE &&
			widecol_is_widecol_server(GetForeignTable(rte->relid)->serverid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ON CONFLICT is not supported on widecol table \"%s\"",
							get_rel_name(rte->relid)),
					 errhint("INSERT into a widecol table is already an upsert: drop the ON CONFLICT clause; "
							 "ON CONFLICT DO NOTHING without a conflict target is CQL IF NOT EXISTS.")));
	}
}

static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	return false;
}

/*
 * Engine tables are named "keyspace.table" after the foreign server and
 * the foreign table unless the 'keyspace' or 'table_name' option says
 * otherwise.  For ALTER SERVER / ALTER [FOREIGN] TABLE ... RENAME TO of a
 * widecol server or table without that option, return the ALTER that
 * records the old name (to run after the rename, so that the data stays
 * reachable) and the NOTICE that says so; else NULL.
 */
static char *
rename_keeps_engine_names(RenameStmt *stmt, char **notice)
{
	char	   *old;

	if (stmt->renameType == OBJECT_FOREIGN_SERVER)
	{
		ForeignServer *server = GetForeignServerByName(strVal(stmt->object), true);

		if (server == NULL || !widecol_is_widecol_server(server->serverid) ||
			has_option(server->options, "keyspace"))
			return NULL;
		old = server->servername;
		*notice = psprintf("widecol keyspace %s keeps the engine tables of keyspace \"%s\": "
						   "OPTIONS (keyspace '%s') was added",
						   quote_identifier(stmt->newname), old, old);
		return psprintf("ALTER SERVER %s OPTIONS (ADD keyspace %s)",
						quote_identifier(stmt->newname), quote_literal_cstr(old));
	}
	if ((stmt->renameType == OBJECT_FOREIGN_TABLE || stmt->renameType == OBJECT_TABLE) &&
		stmt->relation != NULL)
	{
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		char	   *rel;

		if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE ||
			!widecol_is_widecol_server(GetForeignTable(relid)->serverid) ||
			has_option(GetForeignTable(relid)->options, "table_name"))
			return NULL;
		old = get_rel_name(relid);
		rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), stmt->newname);
		*notice = psprintf("widecol table %s keeps its data in engine table \"%s\": "
						   "OPTIONS (table_name '%s') was added", rel, old, old);
		return psprintf("ALTER FOREIGN TABLE %s OPTIONS (ADD table_name %s)", rel,
						quote_literal_cstr(old));
	}
	return NULL;
}

/* Run one utility statement as a user would (validated, transactional). */
static void
run_utility(const char *sql)
{
	RawStmt    *raw = linitial_node(RawStmt, pg_parse_query(sql));
	PlannedStmt *ps = makeNode(PlannedStmt);

	ps->commandType = CMD_UTILITY;
	ps->canSetTag = false;
	ps->utilityStmt = raw->stmt;
	ps->stmt_location = -1;
	ps->stmt_len = 0;
	ProcessUtility(ps, sql, false, PROCESS_UTILITY_QUERY, NULL, NULL, None_Receiver, NULL);
}

/* The widecol foreign table rv names, or InvalidOid (missing, or another relation). */
static Oid
widecol_relation(RangeVar *rv)
{
	Oid			relid = rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE ||
		!widecol_is_widecol_server(GetForeignTable(relid)->serverid))
		return InvalidOid;
	return relid;
}

/*
 * Before column of widecol table relid is renamed or dropped: refuse it if
 * stored rows or other columns depend on its name.  Key columns are named
 * by the primary_key and clustering_order options and by the engine
 * table's key; a WRITETIME or TTL column names the column it describes.
 */
static void
check_column_kept(Oid relid, const char *column, bool rename)
{
	WidecolTable *t = widecol_get_table(relid);
	const char *verb = rename ? "rename" : "drop";
	int			ci = -1;

	for (int i = 0; i < t->ncols; i++)
		if (!t->cols[i].dropped && strcmp(t->cols[i].name, column) == 0)
			ci = i;
	if (ci < 0)
		return;					/* PostgreSQL reports the missing column */
	if (t->cols[ci].kind == WIDECOL_COL_PARTITION || t->cols[ci].kind == WIDECOL_COL_CLUSTERING)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s key column \"%s\" of widecol table \"%s\"",
						verb, column, get_rel_name(relid)),
				 errhint("The primary key of stored rows cannot change; create a new table with "
						 "the key you want and copy the rows into it.")));
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		if (!c->dropped && c->meta_of == ci &&
			(c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL))
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot %s column \"%s\" of widecol table \"%s\": column \"%s\" shows its %s",
							verb, column, get_rel_name(relid), c->name,
							c->kind == WIDECOL_COL_WRITETIME ? "write time" : "TTL"),
					 errhint("Drop column \"%s\" first%s.", c->name,
							 rename ? ", and add it again naming the new column" : "")));
	}
}

/*
 * Before DROP SERVER / DROP FOREIGN TABLE in a cluster: the widecol
 * keyspaces and tables it names, as (keyspace, table or NULL) pairs, to
 * drop from the cluster schema once the statement succeeded.
 */
static List *
cluster_drops(Node *parsetree)
{
	DropStmt   *stmt = (DropStmt *) parsetree;
	List	   *out = NIL;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt))
		return NIL;
	foreach(lc, stmt->objects)
	{
		if (stmt->removeType == OBJECT_FOREIGN_SERVER)
		{
			ForeignServer *server = GetForeignServerByName(strVal(lfirst(lc)), true);

			if (server != NULL && widecol_is_widecol_server(server->serverid))
				out = lappend(out, list_make2(pstrdup(widecol_server_keyspace(server)), NULL));
		}
		else if (stmt->removeType == OBJECT_FOREIGN_TABLE)
		{
			Oid			relid = widecol_relation(makeRangeVarFromNameList(lfirst(lc)));
			WidecolTable *t;

			if (!OidIsValid(relid))
				continue;
			t = widecol_get_table(relid);
			out = lappend(out, list_make2(pstrdup(t->keyspace), pstrdup(t->table_name)));
		}
	}
	return out;
}

/*
 * In a cluster, renaming a widecol server or foreign table would rename it
 * on this node only: refuse it (columns may be renamed: the other nodes
 * follow the definition).
 */
static void
refuse_cluster_rename(RenameStmt *stmt)
{
	const char *what = NULL;
	char	   *name = NULL;

	if (!widecol_cluster_schema_enabled() || widecol_schema_applying)
		return;
	if (stmt->renameType == OBJECT_FOREIGN_SERVER)
	{
		ForeignServer *server = GetForeignServerByName(strVal(stmt->object), true);

		if (server != NULL && widecol_is_widecol_server(server->serverid))
		{
			what = "server";
			name = server->servername;
		}
	}
	else if ((stmt->renameType == OBJECT_FOREIGN_TABLE || stmt->renameType == OBJECT_TABLE) &&
			 OidIsValid(widecol_relation(stmt->relation)))
	{
		what = "foreign table";
		name = stmt->relation->relname;
	}
	else if (stmt->renameType == OBJECT_TABLE && stmt->relation != NULL &&
			 widecol_is_tam_table(RangeVarGetRelid(stmt->relation, NoLock, true)))
	{
		what = "table";
		name = stmt->relation->relname;
	}
	if (what != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot rename widecol %s \"%s\" in a cluster", what, name),
				 errdetail("Renames are not propagated to the other nodes of the cluster yet."),
				 strcmp(what, "table") == 0 ?
				 errhint("Create a table of the new name and INSERT ... SELECT the rows into it, then drop the old one.") :
				 errhint("Create a %s of the new name (with OPTIONS (%s '...') naming the engine %s to keep its data) and drop the old one.",
						 what, strcmp(what, "server") == 0 ? "keyspace" : "table_name",
						 strcmp(what, "server") == 0 ? "keyspace" : "table")));
}

/* After a statement: note the keyspaces it made, altered or dropped for the cluster schema. */
static void
note_cluster_changes(Node *parsetree, List *dropped)
{
	ListCell   *lc;
	ForeignServer *server = NULL;

	foreach(lc, dropped)
	{
		List	   *pair = lfirst(lc);

		if (lsecond(pair) == NULL)
			widecol_schema_note_server_drop(linitial(pair));
		else
			widecol_schema_note_table_drop(linitial(pair), lsecond(pair));
	}
	if (!widecol_cluster_schema_enabled())
		return;
	if (IsA(parsetree, CreateForeignServerStmt))
		server = GetForeignServerByName(((CreateForeignServerStmt *) parsetree)->servername, true);
	else if (IsA(parsetree, AlterForeignServerStmt))
		server = GetForeignServerByName(((AlterForeignServerStmt *) parsetree)->servername, true);
	if (server != NULL && widecol_is_widecol_server(server->serverid))
		widecol_schema_note_server(server->serverid, IsA(parsetree, CreateForeignServerStmt));
}

/*
 * After CREATE/ALTER FOREIGN TABLE on a widecol server, or ALTER TABLE or
 * RENAME COLUMN of a widecol foreign table (however spelled): validate the
 * whole definition now, and create or alter the engine table if the node
 * runs.  Before a column is dropped or renamed, refuse what stored rows
 * cannot follow.  After a rename, keep the engine names (see
 * rename_keeps_engine_names).
 */
static void
widecol_process_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	RangeVar   *target = NULL;
	bool		is_alter = false;
	char	   *keep_names = NULL,
			   *keep_notice = NULL;
	List	   *dropped = widecol_cluster_schema_enabled() ? cluster_drops(parsetree) : NIL;

	widecol_matview_refuse_drop(parsetree);
	if (IsA(parsetree, RenameStmt))
	{
		refuse_cluster_rename((RenameStmt *) parsetree);
		keep_names = rename_keeps_engine_names((RenameStmt *) parsetree, &keep_notice);
	}
	if (IsA(parsetree, CreateForeignTableStmt))
		target = ((CreateForeignTableStmt *) parsetree)->base.relation;
	else if (IsA(parsetree, AlterTableStmt) &&
			 (((AlterTableStmt *) parsetree)->objtype == OBJECT_FOREIGN_TABLE ||
			  ((AlterTableStmt *) parsetree)->objtype == OBJECT_TABLE) &&
			 context != PROCESS_UTILITY_SUBCOMMAND)	/* not CREATE's own column options */
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		Oid			relid = widecol_relation(stmt->relation);
		ListCell   *lc;

		if (OidIsValid(relid))
		{
			foreach(lc, stmt->cmds)
			{
				AlterTableCmd *cmd = lfirst(lc);

				if (cmd->subtype == AT_DropColumn)
					check_column_kept(relid, cmd->name, false);
			}
		}
		target = stmt->relation;
		is_alter = true;
	}
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN &&
			 context != PROCESS_UTILITY_SUBCOMMAND)
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;
		Oid			relid = widecol_relation(stmt->relation);

		if (OidIsValid(relid))
		{
			check_column_kept(relid, stmt->subname, true);
			target = stmt->relation;
			is_alter = true;
		}
	}

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	note_cluster_changes(parsetree, dropped);
	if (keep_names != NULL)
	{
		CommandCounterIncrement();	/* see the new name */
		run_utility(keep_names);
		ereport(NOTICE, (errmsg("%s", keep_notice)));
	}
	if (target != NULL)
	{
		Oid			relid = RangeVarGetRelid(target, NoLock, true);
		Relation	rel;
		WidecolTable *t;

		if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
			return;
		rel = table_open(relid, AccessShareLock);
		if (!widecol_is_widecol_server(GetForeignTable(relid)->serverid))
		{
			table_close(rel, AccessShareLock);
			return;
		}
		t = widecol_build_table(rel);
		table_close(rel, AccessShareLock);
		if (is_alter && IsA(parsetree, AlterTableStmt))
		{
			ListCell   *lc;

			foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			{
				AlterTableCmd *cmd = lfirst(lc);

				if (cmd->subtype == AT_AlterColumnGenericOptions)
				{
					ListCell   *lc2;

					foreach(lc2, (List *) cmd->def)
					{
						DefElem    *opt = lfirst(lc2);

						if (strcmp(opt->defname, "static") == 0 ||
							strcmp(opt->defname, "column_id") == 0)
							ereport(ERROR,
									(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
									 errmsg("cannot change option \"%s\" of existing column \"%s\" of widecol table \"%s\"",
											opt->defname, cmd->name, get_rel_name(relid)),
									 errhint("Where a column's cells are stored cannot change once data may exist; "
											 "add a new column with the option instead.")));
					}
				}
				if (cmd->subtype == AT_AlterColumnType)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot change the type of column \"%s\" of widecol table \"%s\"",
									cmd->name, get_rel_name(relid)),
							 errhint("Stored values keep the type they were written with; add a column of the new type instead.")));
			}
		}
		widecol_schema_note_table(relid, !is_alter);
		if (widecol_preloaded && widecol_node_running())
		{
			/* check the key against the engine table now; apply the ALTER at commit */
			widecol_create_or_check(t, false, false);
			if (is_alter && !widecol_schema_applying)
			{
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
				PendingAlter *pa = palloc(sizeof(PendingAlter));

				pa->relid = relid;
				pa->subid = GetCurrentSubTransactionId();
				pending_alters = lappend(pending_alters, pa);
				MemoryContextSwitchTo(old);
			}
		}
	}
}
