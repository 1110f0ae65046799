/*-------------------------------------------------------------------------
 *
 * owner.c
 *		  The engine table's ownership record follows every change of the
 *		  foreign table's owner, however it is spelled.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/owner.c
 *
 * NOTES
 *	  ddl.c moves the ownership record of an engine table (the role
 *	  whose foreign tables may attach to it) when ALTER FOREIGN TABLE
 *	  changes the owner of the foreign table that created it.  PostgreSQL
 *	  changes a foreign table's owner by two other statements too: ALTER
 *	  TABLE ... OWNER TO, and REASSIGN OWNED.  This ProcessUtility hook
 *	  (chained with the previous one) follows each of them, for every
 *	  widecol foreign table whose owner it changed, with ALTER FOREIGN
 *	  TABLE ... OWNER TO the new owner: a no-op for PostgreSQL, which goes
 *	  through ddl.c's hook like any ALTER FOREIGN TABLE, so the record
 *	  moves at commit exactly as for that spelling.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_table.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "widecol.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* hooks */
static void widecol_owner_process_utility(PlannedStmt *pstmt,
										  const char *queryString,
										  bool readOnlyTree,
										  ProcessUtilityContext context,
										  ParamListInfo params,
										  QueryEnvironment *queryEnv,
										  DestReceiver *dest,
										  QueryCompletion *qc);

/* helpers */
static bool is_widecol_table(Oid relid);
static Oid	relation_owner(Oid relid);
static bool changes_owner(AlterTableStmt *stmt);
static List *widecol_tables_owned_by(List *roles);
static void follow_owner(Oid relid);

void
widecol_owner_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = widecol_owner_process_utility;
}

/* Is relid a foreign table of a widecol server? */
static bool
is_widecol_table(Oid relid)
{
	return OidIsValid(relid) &&
		get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE &&
		widecol_is_widecol_server(GetForeignTable(relid)->serverid);
}

/* The owner role of relation relid, or InvalidOid if it is gone. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* ALTER TABLE (not ALTER FOREIGN TABLE: ddl.c sees that) ... OWNER TO */
static bool
changes_owner(AlterTableStmt *stmt)
{
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE)
		return false;
	foreach(lc, stmt->cmds)
		if (((AlterTableCmd *) lfirst(lc))->subtype == AT_ChangeOwner)
			return true;
	return false;
}

/* The widecol foreign tables of this database owned by one of roles. */
static List *
widecol_tables_owned_by(List *roles)
{
	List	   *owners = NIL;
	List	   *found = NIL;
	ListCell   *lc;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;

	foreach(lc, roles)
	{
		Oid			role = get_rolespec_oid(lfirst(lc), true);

		if (OidIsValid(role))
			owners = lappend_oid(owners, role);
	}
	if (owners == NIL)
		return NIL;
	rel = table_open(ForeignTableRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_foreign_table ft = (Form_pg_foreign_table) GETSTRUCT(tup);

		if (list_member_oid(owners, relation_owner(ft->ftrelid)) &&
			widecol_is_widecol_server(ft->ftserver))
			found = lappend_oid(found, ft->ftrelid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Give relid to its (new) owner once more, spelled ALTER FOREIGN TABLE, so
 * that ddl.c moves the ownership record.
 */
static void
follow_owner(Oid relid)
{
	Oid			owner = relation_owner(relid);
	char	   *sql;

	if (!OidIsValid(owner) || !is_widecol_table(relid))
		return;
	sql = psprintf("ALTER FOREIGN TABLE %s OWNER TO %s",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											  get_rel_name(relid)),
				   quote_identifier(GetUserNameFromId(owner, false)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute failed: %s", sql);
	SPI_finish();
	pfree(sql);
}

static void
widecol_owner_process_utility(PlannedStmt *pstmt, const char *queryString,
							  bool readOnlyTree, ProcessUtilityContext context,
							  ParamListInfo params, QueryEnvironment *queryEnv,
							  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	RangeVar   *altered = NULL;
	List	   *reassigned = NIL;
	ListCell   *lc;

	if (IsA(parsetree, AlterTableStmt) && context != PROCESS_UTILITY_SUBCOMMAND &&
		changes_owner((AlterTableStmt *) parsetree))
		altered = copyObject(((AlterTableStmt *) parsetree)->relation);
	else if (IsA(parsetree, ReassignOwnedStmt))
		reassigned = widecol_tables_owned_by(((ReassignOwnedStmt *) parsetree)->roles);

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (altered == NULL && reassigned == NIL)
		return;
	CommandCounterIncrement();	/* see the new owners */
	if (altered != NULL)
		follow_owner(RangeVarGetRelid(altered, NoLock, true));
	foreach(lc, reassigned)
		follow_owner(lfirst_oid(lc));
}
