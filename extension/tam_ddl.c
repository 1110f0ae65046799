/*-------------------------------------------------------------------------
 *
 * tam_ddl.c
 *		  DDL of tables of the widecol access method: their options, CREATE
 *		  TABLE / CREATE TABLE AS, ALTER TABLE, RENAME, DROP TABLE (which
 *		  drops the engine data) and the statements refused on them.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/tam_ddl.c
 *
 * NOTES
 *	  A widecol table takes the options of a widecol foreign table
 *	  (primary_key, clustering_order, compaction, default_time_to_live,
 *	  gc_grace_seconds, ...; checked by the wrapper's validator, validate.c)
 *	  plus 'keyspace', the widecol server that stands for its keyspace
 *	  (default: server widecol_default, created on first use), and
 *	  'cql_types', the CQL collection type of each collection column (a
 *	  relation has no column options), kept in step with RENAME and DROP
 *	  COLUMN.
 *	  PostgreSQL validates a table's WITH (...) options as heap options, so
 *	  this ProcessUtility hook (chained) takes them out of CREATE TABLE,
 *	  CREATE TABLE AS and ALTER TABLE SET/RESET and stores them in
 *	  pg_class.reloptions itself: psql's \d+ shows them and pg_dump dumps
 *	  them as WITH (...), which comes back here on restore.  While CREATE
 *	  TABLE AS fills the new table its options are not in the catalog yet;
 *	  widecol_tam_options() returns them from the statement.
 *
 *	  A table without primary_key (CREATE TABLE AS, SELECT INTO) gets its
 *	  first column as partition key, with a NOTICE; a PRIMARY KEY
 *	  constraint is taken as primary_key (first column the partition key,
 *	  as in CQL).  Other constraints that need an index, indexes, foreign
 *	  keys from or to the table, row locks and ON CONFLICT are refused
 *	  with errors saying what to use instead (post_parse_analyze hook).
 *
 *	  DROP TABLE (also by DROP SCHEMA ... CASCADE or DROP OWNED) drops the
 *	  engine table the relation created, at commit: an object_access_hook
 *	  notes it, a transaction callback sends it.  ALTER TABLE SET changes
 *	  the engine table's options at commit too.  In a cluster each of
 *	  these changes is also noted for the cluster schema (schema_apply.c),
 *	  whose DROP makes every node drop the engine data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_trigger.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "client.h"
#include "schema_def.h"

#include "widecol.h"

/* The keyspace (widecol server) of a table without the 'keyspace' option. */
const char *widecol_tam_default_keyspace = "widecol_default";

/* An engine table to drop, or a table whose engine options to alter, at commit. */
typedef struct TamPending
{
	Oid			relid;			/* ALTER: the relation */
	uint32		table_id;		/* DROP: the engine table */
	bool		drop;
	SubTransactionId subid;
} TamPending;

static List *tam_pending = NIL;	/* in TopMemoryContext */
static List *creating_options = NIL;	/* options of the table CREATE TABLE AS fills */
static ProcessUtility_hook_type prev_process_utility = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static object_access_hook_type prev_object_access = NULL;

/* hooks and callbacks */
static void tam_process_utility(PlannedStmt *pstmt, const char *queryString,
								bool readOnlyTree, ProcessUtilityContext context,
								ParamListInfo params, QueryEnvironment *queryEnv,
								DestReceiver *dest, QueryCompletion *qc);
static void tam_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate);
static void tam_object_access(ObjectAccessType access, Oid classId, Oid objectId,
							  int subId, void *arg);
static void tam_ddl_xact(XactEvent event, void *arg);
static void tam_ddl_subxact(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg);

/* helpers */
static bool uses_widecol(const char *access_method);
static List *stored_options(Oid relid);
static void store_options(Oid relid, List *options);
static List *set_option(List *options, const char *name, const char *value);
static const char *get_option(List *options, const char *name);
static void validate_options(List *options);
static void check_cql_types(Oid relid, List *options);
static void follow_cql_types(Oid relid, const char *oldname, const char *newname);
static ForeignServer *keyspace_server(const char *name, bool create);
static char *primary_key_text(List *columns);
static List *take_constraints(List *constraints, List **pk, const char *relname);
static void after_create(Oid relid, List *options);
static void refuse_foreign_key_to(List *constraints);
static void check_alter(Oid relid, AlterTableStmt *stmt, List **set, List **reset);
static void note_pending(Oid relid, uint32 table_id, bool drop);
static List *tables_owned_by(List *roles);

void
widecol_tam_ddl_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = tam_process_utility;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = tam_post_parse_analyze;
	prev_object_access = object_access_hook;
	object_access_hook = tam_object_access;
	RegisterXactCallback(tam_ddl_xact, NULL);
	RegisterSubXactCallback(tam_ddl_subxact, NULL);
}

/* ---------------------------------------------------------------- options */

/* Does a new table with this access method (NULL: the default) use widecol? */
static bool
uses_widecol(const char *access_method)
{
	if (access_method == NULL)
		access_method = default_table_access_method;
	return access_method != NULL && strcmp(access_method, "widecol") == 0;
}

/* The widecol options stored with relid (DefElems). */
static List *
stored_options(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	List	   *options = NIL;
	Datum		d;
	bool		isnull;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_reloptions, &isnull);
	if (!isnull)
		options = untransformRelOptions(d);
	ReleaseSysCache(tup);
	return options;
}

/* Store options (DefElems) as the reloptions of relid. */
static void
store_options(Oid relid, List *options)
{
	Datum		d = transformRelOptions((Datum) 0, options, NULL, NULL, false, false);
	Relation	pgclass = table_open(RelationRelationId, RowExclusiveLock);
	HeapTuple	tup = SearchSysCacheCopy1(RELOID, ObjectIdGetDatum(relid));
	HeapTuple	newtup;
	Datum		values[Natts_pg_class];
	bool		nulls[Natts_pg_class];
	bool		replace[Natts_pg_class];

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	memset(values, 0, sizeof(values));
	memset(nulls, false, sizeof(nulls));
	memset(replace, false, sizeof(replace));
	replace[Anum_pg_class_reloptions - 1] = true;
	if (d != (Datum) 0)
		values[Anum_pg_class_reloptions - 1] = d;
	else
		nulls[Anum_pg_class_reloptions - 1] = true;
	newtup = heap_modify_tuple(tup, RelationGetDescr(pgclass), values, nulls, replace);
	CatalogTupleUpdate(pgclass, &newtup->t_self, newtup);
	heap_freetuple(newtup);
	table_close(pgclass, RowExclusiveLock);
	CommandCounterIncrement();
}

static const char *
get_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/* options with name set to value (NULL: removed) */
static List *
set_option(List *options, const char *name, const char *value)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) != 0)
			result = lappend(result, def);
	}
	if (value != NULL)
		result = lappend(result, makeDefElem(pstrdup(name), (Node *) makeString(pstrdup(value)), -1));
	return result;
}

/*
 * Check option names and values as the foreign data wrapper checks those of
 * a foreign table ('keyspace' as a server's).
 */
static void
validate_options(List *options)
{
	List	   *table = NIL;
	List	   *server = NIL;
	ListCell   *lc;
	Datum		d;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (def->defnamespace != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("widecol table options take no namespace (\"%s.%s\")",
							def->defnamespace, def->defname),
					 errhint("Write the option without \"%s.\".", def->defnamespace)));
		if (strcmp(def->defname, "keyspace") == 0)
			server = lappend(server, def);
		else if (strcmp(def->defname, "cql_types") == 0)
			(void) widecol_collection_parse_types(defGetString(def));
		else
			table = lappend(table, def);
	}
	d = transformRelOptions((Datum) 0, table, NULL, NULL, false, false);
	if (d != (Datum) 0)
		DirectFunctionCall2(widecol_fdw_validator, d, ObjectIdGetDatum(ForeignTableRelationId));
	d = transformRelOptions((Datum) 0, server, NULL, NULL, false, false);
	if (d != (Datum) 0)
		DirectFunctionCall2(widecol_fdw_validator, d, ObjectIdGetDatum(ForeignServerRelationId));
}

/*
 * Every column option cql_types names must be a column of relid (schema.c
 * checks each type against its column).
 */
static void
check_cql_types(Oid relid, List *options)
{
	const char *text = get_option(options, "cql_types");
	ListCell   *lc;

	if (text == NULL)
		return;
	foreach(lc, widecol_collection_parse_types(text))
	{
		WidecolCqlPair *pair = lfirst(lc);

		if (get_attnum(relid, pair->key) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" named in option \"cql_types\" of table \"%s\" does not exist",
							pair->key, get_rel_name(relid)),
					 errhint("Name a column of the table; quote names that have capitals, as in "
							 "'\"Tags\" set<text>'.")));
	}
}

/*
 * Keep the option cql_types of widecol table relid in step with its
 * columns: a column renamed from oldname to newname keeps its type, a
 * dropped column leaves the list.
 */
static void
follow_cql_types(Oid relid, const char *oldname, const char *newname)
{
	List	   *options = stored_options(relid);
	const char *text = get_option(options, "cql_types");
	StringInfoData out;
	ListCell   *lc;

	if (text == NULL)
		return;
	initStringInfo(&out);
	foreach(lc, widecol_collection_parse_types(text))
	{
		WidecolCqlPair *pair = lfirst(lc);
		const char *name = pair->key;

		if (oldname != NULL && strcmp(name, oldname) == 0)
			name = newname;
		if (get_attnum(relid, name) != InvalidAttrNumber)
			appendStringInfo(&out, "%s%s %s", out.len ? ", " : "", quote_identifier(name),
							 pair->value);
	}
	if (strcmp(out.data, text) != 0)
		store_options(relid, set_option(options, "cql_types", out.len ? out.data : NULL));
}

/*
 * The widecol server named name (NULL: the default keyspace, created on
 * first use when create is true).
 */
static ForeignServer *
keyspace_server(const char *name, bool create)
{
	ForeignServer *server;

	if (name == NULL)
	{
		name = widecol_tam_default_keyspace;
		server = GetForeignServerByName(name, true);
		if (server == NULL && create)
		{
			char	   *sql = psprintf("CREATE SERVER %s FOREIGN DATA WRAPPER widecol",
									   quote_identifier(name));
			RawStmt    *raw = linitial_node(RawStmt, pg_parse_query(sql));
			PlannedStmt *ps = makeNode(PlannedStmt);

			ps->commandType = CMD_UTILITY;
			ps->utilityStmt = raw->stmt;
			ps->stmt_location = -1;
			ProcessUtility(ps, sql, false, PROCESS_UTILITY_QUERY, NULL, NULL, None_Receiver, NULL);
			CommandCounterIncrement();
			ereport(NOTICE,
					(errmsg("created widecol keyspace %s (server %s) for tables without a keyspace option",
							quote_identifier(name), quote_identifier(name))));
			server = GetForeignServerByName(name, false);
		}
	}
	else
		server = GetForeignServerByName(name, true);
	if (server == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("widecol keyspace \"%s\" does not exist", name),
				 errhint("Create it first: CREATE SERVER %s FOREIGN DATA WRAPPER widecol "
						 "OPTIONS (replication '{...}').", quote_identifier(name))));
	if (!widecol_is_widecol_server(server->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a widecol keyspace", name),
				 errhint("Name a server of the widecol foreign data wrapper in the keyspace option.")));
	return server;
}

/* '(a, b, c)': a CQL primary key with the first column as partition key */
static char *
primary_key_text(List *columns)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	appendStringInfoChar(&s, '(');
	foreach(lc, columns)
		appendStringInfo(&s, "%s%s", s.len > 1 ? ", " : "", quote_identifier(lfirst(lc)));
	appendStringInfoChar(&s, ')');
	return s.data;
}

/*
 * The options and engine server of widecol table rel (schema.c): its
 * stored options, or those of the CREATE TABLE AS that is filling it; a
 * missing primary_key is the first column.
 */
void
widecol_tam_options(Relation rel, Oid *serverid, List **options)
{
	List	   *opts = stored_options(RelationGetRelid(rel));
	const char *keyspace;

	if (opts == NIL && rel->rd_createSubid != InvalidSubTransactionId)
		opts = creating_options;
	keyspace = get_option(opts, "keyspace");
	*serverid = keyspace_server(keyspace, false)->serverid;
	if (get_option(opts, "primary_key") == NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);

		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
			{
				opts = set_option(opts, "primary_key",
								  primary_key_text(list_make1(NameStr(TupleDescAttr(desc, i)->attname))));
				break;
			}
	}
	*options = set_option(opts, "keyspace", NULL);
}

/* ---------------------------------------------------------------- CREATE */

/*
 * Take PRIMARY KEY out of constraints (its columns into *pk); refuse
 * UNIQUE, EXCLUDE and FOREIGN KEY, which a widecol table cannot honour.
 */
static List *
take_constraints(List *constraints, List **pk, const char *relname)
{
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, constraints)
	{
		Constraint *c = lfirst(lc);

		switch (c->contype)
		{
			case CONSTR_PRIMARY:
				{
					ListCell   *lc2;

					foreach(lc2, c->keys)
						*pk = lappend(*pk, strVal(lfirst(lc2)));
					if (c->keys == NIL)
						*pk = lappend(*pk, "");	/* a column's own PRIMARY KEY */
					break;
				}
			case CONSTR_UNIQUE:
			case CONSTR_EXCLUSION:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol table \"%s\" cannot have %s constraints", relname,
								c->contype == CONSTR_UNIQUE ? "UNIQUE" : "EXCLUDE"),
						 errdetail("They need an index, and widecol writes are upserts decided by the last write "
								   "(no MVCC): a second row with the same key replaces the first."),
						 errhint("Make the unique columns the table's primary_key, or keep a second widecol table "
								 "keyed by them.")));
				break;
			case CONSTR_FOREIGN:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol table \"%s\" cannot have foreign keys", relname),
						 errdetail("Foreign keys lock and re-read rows by their physical place, which widecol rows "
								   "do not have (no MVCC, last write wins)."),
						 errhint("Check the reference in the application, or use heap tables for both sides.")));
				break;
			default:
				kept = lappend(kept, c);
		}
	}
	return kept;
}

/* REFERENCES to a widecol table: refused (see take_constraints). */
static void
refuse_foreign_key_to(List *constraints)
{
	ListCell   *lc;

	foreach(lc, constraints)
	{
		Constraint *c = lfirst(lc);
		Oid			relid;

		if (!IsA(c, Constraint) || c->contype != CONSTR_FOREIGN || c->pktable == NULL)
			continue;
		relid = RangeVarGetRelid(c->pktable, NoLock, true);
		if (widecol_is_tam_table(relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("foreign keys cannot reference widecol table \"%s\"", get_rel_name(relid)),
					 errdetail("A reference would need a unique index and row locks, which widecol tables "
							   "do not have (no MVCC, last write wins)."),
					 errhint("Check the reference in the application, or keep the referenced rows in a heap table.")));
	}
}

/* After CREATE TABLE [AS]: store the options, depend on the keyspace, check the model. */
static void
after_create(Oid relid, List *options)
{
	ForeignServer *server = keyspace_server(get_option(options, "keyspace"), true);
	ObjectAddress rel_addr,
				srv_addr;
	WidecolTable *t;

	if (get_option(options, "primary_key") == NULL)
	{
		Relation	rel = table_open(relid, AccessShareLock);
		Oid			dummy;
		List	   *opts;

		widecol_tam_options(rel, &dummy, &opts);
		table_close(rel, AccessShareLock);
		options = set_option(options, "primary_key", get_option(opts, "primary_key"));
		ereport(NOTICE,
				(errmsg("widecol table \"%s\" has no primary_key: its partition key is %s",
						get_rel_name(relid), get_option(options, "primary_key")),
				 errhint("Rows with the same %s replace each other; give WITH (primary_key = '...') "
						 "to choose the key.", get_option(options, "primary_key"))));
	}
	store_options(relid, options);
	check_cql_types(relid, options);
	ObjectAddressSet(rel_addr, RelationRelationId, relid);
	ObjectAddressSet(srv_addr, ForeignServerRelationId, server->serverid);
	recordDependencyOn(&rel_addr, &srv_addr, DEPENDENCY_NORMAL);
	CommandCounterIncrement();
	t = widecol_get_table(relid);
	if (widecol_preloaded && widecol_node_running())
		widecol_create_or_check(t, false, false);
	widecol_schema_note_table(relid, true);
}

/* ---------------------------------------------------------------- ALTER */

/*
 * Refuse what stored rows cannot follow; take SET/RESET of options out of
 * stmt into *set and *reset.
 */
static void
check_alter(Oid relid, AlterTableStmt *stmt, List **set, List **reset)
{
	WidecolTable *t = widecol_get_table(relid);
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst(lc);

		switch (cmd->subtype)
		{
			case AT_SetRelOptions:
				*set = list_concat(*set, (List *) cmd->def);
				continue;
			case AT_ResetRelOptions:
				*reset = list_concat(*reset, (List *) cmd->def);
				continue;
			case AT_AlterColumnType:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change the type of column \"%s\" of widecol table \"%s\"",
								cmd->name, get_rel_name(relid)),
						 errhint("Stored values keep the type they were written with; add a column of the new type instead.")));
				break;
			case AT_AddColumn:
				{
					ColumnDef  *cd = (ColumnDef *) cmd->def;
					Node	   *d = cd->raw_default;
					ListCell   *lc2;

					foreach(lc2, cd->constraints)
						if (((Constraint *) lfirst(lc2))->contype == CONSTR_DEFAULT)
							d = ((Constraint *) lfirst(lc2))->raw_expr;
					if (d && IsA(d, TypeCast))
						d = ((TypeCast *) d)->arg;
					/* any other DEFAULT may be volatile: PostgreSQL would rewrite the table */
					if (d != NULL && !IsA(d, A_Const))
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("cannot add column \"%s\" with a computed DEFAULT to widecol table \"%s\"",
										cd->colname, get_rel_name(relid)),
								 errdetail("PostgreSQL would rewrite the table row by row, and widecol rows stay in the engine."),
								 errhint("Add the column with a constant DEFAULT or none, then set it with UPDATE.")));
					break;
				}
			case AT_SetLogged:
			case AT_SetUnLogged:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change the persistence of widecol table \"%s\"", get_rel_name(relid)),
						 errhint("The engine's commit log makes every widecol write durable; LOGGED and UNLOGGED do not apply.")));
				break;
			case AT_SetAccessMethod:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change the access method of widecol table \"%s\"", get_rel_name(relid)),
						 errhint("Create a table with the access method you want and INSERT ... SELECT the rows into it.")));
				break;
			case AT_DropColumn:
				for (int i = 0; i < t->ncols; i++)
					if (!t->cols[i].dropped && strcmp(t->cols[i].name, cmd->name) == 0 &&
						(t->cols[i].kind == WIDECOL_COL_PARTITION ||
						 t->cols[i].kind == WIDECOL_COL_CLUSTERING))
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("cannot drop key column \"%s\" of widecol table \"%s\"",
										cmd->name, get_rel_name(relid)),
								 errhint("The primary key of stored rows cannot change; create a new table with "
										 "the key you want and copy the rows into it.")));
				break;
			case AT_AddConstraint:
			case AT_AddIndex:
			case AT_AddIndexConstraint:
				if (cmd->def && IsA(cmd->def, Constraint))
				{
					List	   *pk = NIL;

					(void) take_constraints(list_make1(cmd->def), &pk, get_rel_name(relid));
					if (pk != NIL)
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("cannot add a PRIMARY KEY to widecol table \"%s\"", get_rel_name(relid)),
								 errhint("A widecol table's key is its primary_key option, fixed at CREATE TABLE.")));
				}
				else
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("widecol table \"%s\" cannot have PostgreSQL indexes", get_rel_name(relid)),
							 errhint("Read by the primary key, or create a second widecol table keyed by the column "
									 "you look up (the query-first model).")));
				break;
			default:
				break;
		}
		kept = lappend(kept, cmd);
	}
	stmt->cmds = kept;
}

static void
note_pending(Oid relid, uint32 table_id, bool drop)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	TamPending *p = palloc0(sizeof(TamPending));

	p->relid = relid;
	p->table_id = table_id;
	p->drop = drop;
	p->subid = GetCurrentSubTransactionId();
	tam_pending = lappend(tam_pending, p);
	MemoryContextSwitchTo(old);
}

/* The widecol tables of this database owned by one of roles (RoleSpecs). */
static List *
tables_owned_by(List *roles)
{
	StringInfoData sql;
	List	   *out = NIL;
	ListCell   *lc;
	MemoryContext outer = CurrentMemoryContext;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT c.oid FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
						   "WHERE a.amname = 'widecol' AND c.relkind = 'r' AND c.relowner IN (0");
	foreach(lc, roles)
		appendStringInfo(&sql, ", %u", get_rolespec_oid(lfirst(lc), false));
	appendStringInfoChar(&sql, ')');
	SPI_connect();
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the widecol tables of the roles");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext spi = MemoryContextSwitchTo(outer);

		out = lappend_oid(out, relid);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return out;
}

/* Apply ALTER TABLE SET/RESET of widecol options to relid. */
static void
alter_options(Oid relid, List *set, List *reset)
{
	List	   *options = stored_options(relid);
	List	   *changed = NIL;
	ListCell   *lc;
	WidecolTable *t;

	foreach(lc, set)
		changed = lappend(changed, lfirst(lc));
	validate_options(changed);
	foreach(lc, list_concat(list_copy(set), reset))
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "keyspace") == 0 || strcmp(def->defname, "table_name") == 0 ||
			strcmp(def->defname, "table_id") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot change option \"%s\" of widecol table \"%s\"", def->defname,
							get_rel_name(relid)),
					 errhint("It names the engine table that holds the rows; create a new table and "
							 "INSERT ... SELECT the rows into it.")));
	}
	foreach(lc, reset)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "primary_key") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot reset option \"primary_key\" of widecol table \"%s\"", get_rel_name(relid)),
					 errhint("The primary key of stored rows cannot change.")));
		options = set_option(options, def->defname, NULL);
	}
	foreach(lc, set)
	{
		DefElem    *def = lfirst(lc);

		options = set_option(options, def->defname, defGetString(def));
	}
	store_options(relid, options);
	check_cql_types(relid, options);
	t = widecol_get_table(relid);
	if (widecol_preloaded && widecol_node_running())
	{
		/* the key is checked against the engine table now, the options go at commit */
		widecol_create_or_check(t, false, false);
		if (!widecol_schema_applying)
			note_pending(relid, 0, false);
	}
	widecol_schema_note_table(relid, false);
}

/*
 * The cluster schema changed the options of widecol table relid
 * (schema_apply.c): store options (DefElems), keeping its keyspace and
 * table_name options.
 */
void
widecol_tam_follow_options(Oid relid, List *options)
{
	List	   *stored = stored_options(relid);
	const char *keep[] = {"keyspace", "table_name"};

	for (int i = 0; i < lengthof(keep); i++)
		if (get_option(stored, keep[i]) != NULL)
			options = set_option(options, keep[i], get_option(stored, keep[i]));
	validate_options(options);
	store_options(relid, options);
}

/* ---------------------------------------------------------------- hooks */

static void
tam_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	CreateStmt *create = NULL;
	CreateTableAsStmt *ctas = NULL;
	List	   *options = NIL;
	Oid			alter_relid = InvalidOid;
	List	   *set = NIL,
			   *reset = NIL;
	char	   *rename_old = NULL;
	Oid			rename_relid = InvalidOid;
	Oid			rename_column_relid = InvalidOid;
	RenameStmt *rename_column = NULL;
	bool		existed = false;
	List	   *saved_creating = creating_options;
	List	   *reassigned = NIL;

	if (IsA(parsetree, CreateStmt) &&
		uses_widecol(((CreateStmt *) parsetree)->accessMethod) &&
		(((CreateStmt *) parsetree)->accessMethod != NULL ||
		 ((CreateStmt *) parsetree)->partspec == NULL))	/* a partitioned table has no AM */
	{
		List	   *pk = NIL;
		List	   *elts;
		ListCell   *lc;

		pstmt = copyObject(pstmt);
		create = (CreateStmt *) pstmt->utilityStmt;
		if (create->relation->relpersistence == RELPERSISTENCE_TEMP && create->accessMethod == NULL)
		{
			/* default_table_access_method = widecol: temporary tables stay heap */
			create->accessMethod = "heap";
			create = NULL;
		}
		else
		{
			if (create->relation->relpersistence == RELPERSISTENCE_TEMP)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol tables cannot be temporary"),
						 errhint("Create a temporary heap table, or a widecol table and drop it afterwards.")));
			if (create->partspec != NULL || create->partbound != NULL || create->inhRelations != NIL ||
				create->ofTypename != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol table \"%s\" cannot be partitioned, a partition, inherit or be typed",
								create->relation->relname),
						 errhint("widecol partitions rows itself by the partition key of primary_key.")));
			existed = create->if_not_exists &&
				OidIsValid(RangeVarGetRelid(create->relation, NoLock, true));
			options = create->options;
			validate_options(options);
			create->options = NIL;
			refuse_foreign_key_to(create->constraints);
			create->constraints = take_constraints(create->constraints, &pk, create->relation->relname);
			elts = NIL;
			foreach(lc, create->tableElts)
			{
				ColumnDef  *cd = lfirst(lc);
				List	   *colpk = NIL;

				if (IsA(cd, Constraint))
				{
					/* a table constraint */
					refuse_foreign_key_to(list_make1(cd));
					elts = list_concat(elts, take_constraints(list_make1(cd), &pk,
															  create->relation->relname));
					continue;
				}
				elts = lappend(elts, cd);
				if (!IsA(cd, ColumnDef))
					continue;
				refuse_foreign_key_to(cd->constraints);
				cd->constraints = take_constraints(cd->constraints, &colpk, create->relation->relname);
				if (colpk != NIL)
					pk = lappend(pk, cd->colname);
			}
			create->tableElts = elts;
			if (pk != NIL)
			{
				const char *given = get_option(options, "primary_key");
				char	   *text = primary_key_text(pk);

				if (given == NULL)
					options = set_option(options, "primary_key", text);
				else
				{
					List	   *p,
							   *c;
					List	   *flat;
					bool		same;

					widecol_parse_primary_key(given, &p, &c);
					flat = list_concat(list_copy(p), c);
					same = list_length(flat) == list_length(pk);
					for (int i = 0; same && i < list_length(pk); i++)
						same = strcmp(list_nth(flat, i), list_nth(pk, i)) == 0;
					if (!same)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
								 errmsg("PRIMARY KEY %s of widecol table \"%s\" differs from its primary_key option '%s'",
										text, create->relation->relname, given),
								 errhint("Give the key once, as WITH (primary_key = '...').")));
				}
			}
		}
	}
	else if (IsA(parsetree, CreateTableAsStmt) &&
			 ((CreateTableAsStmt *) parsetree)->objtype == OBJECT_MATVIEW &&
			 uses_widecol(((CreateTableAsStmt *) parsetree)->into->accessMethod))
	{
		pstmt = copyObject(pstmt);
		ctas = (CreateTableAsStmt *) pstmt->utilityStmt;
		if (ctas->into->accessMethod != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("materialized views cannot use the widecol access method"),
					 errhint("Create the materialized view USING heap, or a widecol table with CREATE TABLE ... AS.")));
		/* default_table_access_method = widecol: materialized views stay heap */
		ctas->into->accessMethod = "heap";
		ctas = NULL;
	}
	else if (IsA(parsetree, CreateTableAsStmt) &&
			 ((CreateTableAsStmt *) parsetree)->objtype == OBJECT_TABLE &&
			 uses_widecol(((CreateTableAsStmt *) parsetree)->into->accessMethod))
	{
		pstmt = copyObject(pstmt);
		ctas = (CreateTableAsStmt *) pstmt->utilityStmt;
		if (ctas->into->rel->relpersistence == RELPERSISTENCE_TEMP && ctas->into->accessMethod == NULL)
		{
			ctas->into->accessMethod = "heap";
			ctas = NULL;
		}
		else
		{
			if (ctas->into->rel->relpersistence == RELPERSISTENCE_TEMP)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("widecol tables cannot be temporary"),
						 errhint("Create a temporary heap table, or a widecol table and drop it afterwards.")));
			existed = ctas->if_not_exists &&
				OidIsValid(RangeVarGetRelid(ctas->into->rel, NoLock, true));
			options = ctas->into->options;
			validate_options(options);
			ctas->into->options = NIL;
			(void) keyspace_server(get_option(options, "keyspace"), true);
			creating_options = options;
		}
	}
	else if (IsA(parsetree, AlterTableStmt) &&
			 ((AlterTableStmt *) parsetree)->objtype == OBJECT_TABLE)
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		ListCell   *lc;

		if (widecol_is_tam_table(relid))
		{
			pstmt = copyObject(pstmt);
			stmt = (AlterTableStmt *) pstmt->utilityStmt;
			check_alter(relid, stmt, &set, &reset);
			alter_relid = relid;
			if (stmt->cmds == NIL)
			{
				alter_options(relid, set, reset);
				return;
			}
		}
		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (cmd->subtype == AT_AddConstraint && cmd->def && IsA(cmd->def, Constraint))
				refuse_foreign_key_to(list_make1(cmd->def));
		}
	}
	else if (IsA(parsetree, ReassignOwnedStmt))
		reassigned = tables_owned_by(((ReassignOwnedStmt *) parsetree)->roles);
	else if (IsA(parsetree, CreateTrigStmt))
	{
		CreateTrigStmt *stmt = (CreateTrigStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

		/* AFTER ... FOR EACH ROW fetches the rows again by TID at the end of the statement */
		if (stmt->row && (stmt->timing & (TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_INSTEAD)) == 0 &&
			widecol_is_tam_table(relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("widecol table \"%s\" cannot have AFTER ... FOR EACH ROW triggers",
							get_rel_name(relid)),
					 errdetail("They read the changed rows again by their physical place, which widecol rows do not have."),
					 errhint("Use a BEFORE ... FOR EACH ROW trigger or a statement trigger.")));
	}
	else if (IsA(parsetree, IndexStmt))
	{
		IndexStmt  *stmt = (IndexStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

		if (OidIsValid(relid) && widecol_index_statement(relid, stmt))
			return;				/* a widecol secondary index, no PostgreSQL index */
		if (widecol_is_tam_table(relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("widecol table \"%s\" cannot have PostgreSQL indexes", get_rel_name(relid)),
					 errdetail("Rows are placed by their primary key, written last-write-wins without MVCC: "
							   "an index could not follow them."),
					 errhint("For lookups by one column, create a widecol secondary index: "
							 "CREATE INDEX ON %s USING widecol (<column>); or create a second "
							 "widecol table keyed by the column you look up (the query-first model).",
							 get_rel_name(relid))));
	}
	else if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;
		Oid			relid = stmt->relation ? RangeVarGetRelid(stmt->relation, NoLock, true) : InvalidOid;

		if (widecol_is_tam_table(relid))
		{
			if (stmt->renameType == OBJECT_TABLE &&
				get_option(stored_options(relid), "table_name") == NULL)
			{
				rename_old = get_rel_name(relid);
				rename_relid = relid;
			}
			else if (stmt->renameType == OBJECT_COLUMN)
			{
				WidecolTable *t = widecol_get_table(relid);

				rename_column_relid = relid;
				rename_column = stmt;

				for (int i = 0; i < t->ncols; i++)
					if (!t->cols[i].dropped && strcmp(t->cols[i].name, stmt->subname) == 0 &&
						(t->cols[i].kind == WIDECOL_COL_PARTITION ||
						 t->cols[i].kind == WIDECOL_COL_CLUSTERING))
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("cannot rename key column \"%s\" of widecol table \"%s\"",
										stmt->subname, get_rel_name(relid)),
								 errhint("The primary key of stored rows names its columns; create a new table with "
										 "the names you want and copy the rows into it.")));
			}
		}
	}

	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
								 queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		creating_options = saved_creating;
	}
	PG_END_TRY();

	if (create != NULL && !existed)
		after_create(RangeVarGetRelid(create->relation, NoLock, false), options);
	else if (ctas != NULL && !existed)
		after_create(RangeVarGetRelid(ctas->into->rel, NoLock, false), options);
	else if (OidIsValid(alter_relid) && (set != NIL || reset != NIL))
		alter_options(alter_relid, set, reset);
	else if (OidIsValid(alter_relid))
	{
		/* e.g. OWNER TO: the engine table's ownership record follows at commit */
		follow_cql_types(alter_relid, NULL, NULL);
		if (widecol_preloaded && widecol_node_running() && !widecol_schema_applying)
			note_pending(alter_relid, 0, false);
		widecol_schema_note_table(alter_relid, false);
	}
	else if (OidIsValid(rename_column_relid))
	{
		follow_cql_types(rename_column_relid, rename_column->subname, rename_column->newname);
		widecol_schema_note_table(rename_column_relid, false);
	}
	else if (reassigned != NIL)
	{
		ListCell   *lc;

		/* the engine tables' ownership records follow at commit, as for OWNER TO */
		foreach(lc, reassigned)
		{
			if (widecol_preloaded && widecol_node_running() && !widecol_schema_applying)
				note_pending(lfirst_oid(lc), 0, false);
			widecol_schema_note_table(lfirst_oid(lc), false);
		}
	}
	else if (OidIsValid(rename_relid))
	{
		CommandCounterIncrement();
		store_options(rename_relid, set_option(stored_options(rename_relid), "table_name", rename_old));
		ereport(NOTICE,
				(errmsg("widecol table %s keeps its data in engine table \"%s\": "
						"WITH (table_name = '%s') was added",
						quote_identifier(get_rel_name(rename_relid)), rename_old, rename_old)));
	}
}

/*
 * Refuse, before planning, what a widecol table cannot honour: row locks
 * (FOR UPDATE/SHARE), ON CONFLICT, and UPDATE of a key column.
 */
static void
tam_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	ListCell   *lc;

	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	foreach(lc, query->rowMarks)
	{
		RowMarkClause *rc = lfirst(lc);
		RangeTblEntry *rte = rt_fetch(rc->rti, query->rtable);

		if (rte->rtekind == RTE_RELATION && widecol_is_tam_table(rte->relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("rows of widecol table \"%s\" cannot be locked", get_rel_name(rte->relid)),
					 errdetail("widecol keeps no row versions (no MVCC): the last write wins."),
					 errhint("Drop FOR UPDATE / FOR SHARE; to serialize writers, use an advisory lock "
							 "(pg_advisory_xact_lock) or a heap table.")));
	}
	if (query->resultRelation > 0 &&
		(query->commandType == CMD_INSERT || query->commandType == CMD_UPDATE ||
		 query->commandType == CMD_MERGE))
	{
		RangeTblEntry *rte = rt_fetch(query->resultRelation, query->rtable);
		WidecolTable *t;
		int			k = -1;

		if (rte->rtekind != RTE_RELATION || !widecol_is_tam_table(rte->relid))
			return;
		if (query->commandType == CMD_MERGE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("MERGE is not supported on widecol table \"%s\"", get_rel_name(rte->relid)),
					 errhint("INSERT into a widecol table is already an upsert; use INSERT ... SELECT, "
							 "and DELETE for the rows to remove.")));
		if (query->onConflict != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ON CONFLICT is not supported on widecol table \"%s\"",
							get_rel_name(rte->relid)),
					 errhint("INSERT into a widecol table is already an upsert: drop the ON CONFLICT clause.")));
		if (query->commandType != CMD_UPDATE)
			return;
		t = widecol_get_table(rte->relid);
		while ((k = bms_next_member(rte->updatedCols, k)) >= 0)
		{
			AttrNumber	attno = k + FirstLowInvalidHeapAttributeNumber;
			WidecolColumn *c;

			if (attno <= 0 || attno > t->ncols)
				continue;
			c = &t->cols[attno - 1];
			if (c->kind == WIDECOL_COL_PARTITION || c->kind == WIDECOL_COL_CLUSTERING)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update primary-key column \"%s\" of widecol table \"%s\"",
								c->name, get_rel_name(rte->relid)),
						 errhint("A row's key is its identity: DELETE the row and INSERT it with the new key.")));
		}
	}
}

/*
 * DROP of a widecol table: note its engine table for dropping at commit,
 * if this relation created it (another relation's data stays).
 */
static void
tam_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
	if (access != OAT_DROP || classId != RelationRelationId || subId != 0 ||
		!widecol_is_tam_table(objectId))
		return;
	if (widecol_cluster_schema_enabled() && !widecol_schema_applying)
	{
		/* in a cluster every node drops the engine data when it follows the drop */
		WidecolTable *t = widecol_get_table(objectId);

		widecol_schema_note_table_drop(t->keyspace, t->table_name);
	}
	if (widecol_preloaded && widecol_node_running() && !widecol_schema_applying)
	{
		WidecolTable *t = widecol_get_table(objectId);
		wc_table_def def;
		const wc_schema *s;

		if (widecol_get_engine_def(t->table_id, &def) != WC_OK)
			return;				/* never made: nothing to drop */
		s = widecol_engine_schema(&def);
		if (s != NULL && s->owner.present && s->owner.db_id == MyDatabaseId &&
			s->owner.rel_id == objectId)
			note_pending(objectId, t->table_id, true);
	}
}

/* A rolled-back DROP or ALTER is never applied. */
static void
tam_ddl_subxact(SubXactEvent event, SubTransactionId mySubid,
				SubTransactionId parentSubid, void *arg)
{
	list_free(widecol_subxact_follow(tam_pending, offsetof(TamPending, subid), event,
									 mySubid, parentSubid));
}

/* At pre-commit, drop the engine tables of dropped tables and apply ALTERs. */
static void
tam_ddl_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && tam_pending != NIL)
	{
		List	   *todo = tam_pending;
		ListCell   *lc;

		tam_pending = NIL;
		foreach(lc, todo)
		{
			TamPending *p = lfirst(lc);

			if (p->subid == InvalidSubTransactionId)
				continue;
			if (p->drop)
			{
				wc_status	st = wc_client_drop_table(widecol_connection(), p->table_id);

				if (st != WC_OK && st != WC_NOT_FOUND)
					widecol_report(st, "dropping the engine table");
			}
			else if (widecol_is_tam_table(p->relid))
				widecol_create_or_check(widecol_get_table(p->relid), true, false);
		}
		list_free_deep(todo);
		return;
	}
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		list_free_deep(tam_pending);
		tam_pending = NIL;
	}
}
