/*-------------------------------------------------------------------------
 *
 * engine_table.c
 *		  The engine table behind a widecol foreign table: creating it on the
 *		  node, checking that an existing one has the same key, and who may
 *		  attach to it (its ownership record).
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/engine_table.c
 *
 * NOTES
 *	  The engine table itself is created on first access (table_cache.c),
 *	  so a rolled-back CREATE leaves nothing behind; ddl.c checks the key
 *	  of an existing one right after CREATE/ALTER FOREIGN TABLE and applies
 *	  ALTERs at commit.  Dropping the foreign table keeps the engine data
 *	  (widecol.drop_table() removes it).
 *
 *	  An engine table belongs to the database, relation and owner role of
 *	  the foreign table that created it, kept as the owner record of its
 *	  typed schema (typed_schema.c); owner.c makes the record follow every
 *	  change of that relation's owner.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "client.h"
#include "engine.h"
#include "schema_def.h"

#include "widecol.h"

/* helpers */
static Oid relation_owner(Oid relid);
static EngineOwnership relation_ownership(Oid relid);
static void engine_ownership(const wc_table_def *def, EngineOwnership *o);
static bool is_owning_relation(WidecolTable *t, const EngineOwnership *o);
static void check_attach(WidecolTable *t, const char *name, const EngineOwnership *o);

/* The owner role of relation relid. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* The ownership record of relation relid of this database. */
static EngineOwnership
relation_ownership(Oid relid)
{
	EngineOwnership o;
	char	   *db = get_database_name(MyDatabaseId);
	char	   *role;

	o.present = true;
	o.dbid = MyDatabaseId;
	o.relid = relid;
	o.roleid = relation_owner(relid);
	role = GetUserNameFromId(o.roleid, true);
	o.dbname = db ? db : "?";
	o.relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										   get_rel_name(relid));
	o.rolename = role ? role : "?";
	o.access_method = widecol_is_tam_table(relid) ? "widecol" : NULL;
	return o;
}

/* The ownership recorded with an existing engine table. */
static void
engine_ownership(const wc_table_def *def, EngineOwnership *o)
{
	const wc_schema *s = widecol_engine_schema(def);

	memset(o, 0, sizeof(*o));
	if (s == NULL || !s->owner.present || s->owner.db_id == 0 || s->owner.rel_id == 0 ||
		s->owner.role_id == 0)
		return;
	o->present = true;
	o->dbid = s->owner.db_id;
	o->relid = s->owner.rel_id;
	o->roleid = s->owner.role_id;
	o->dbname = pstrdup(s->owner.db_name ? s->owner.db_name : "?");
	o->relname = pstrdup(s->owner.rel_name ? s->owner.rel_name : "?");
	o->rolename = pstrdup(s->owner.role_name ? s->owner.role_name : "?");
	o->access_method = s->owner.access_method ? pstrdup(s->owner.access_method) : NULL;
}

/*
 * Is t the relation recorded as the creator of the engine table?  In a
 * cluster the record may come from another node, whose OIDs mean nothing
 * here: there the relation of the same database, qualified name and owner
 * role name is the creator's copy (the cluster schema materialized it).
 */
static bool
is_owning_relation(WidecolTable *t, const EngineOwnership *o)
{
	EngineOwnership here;

	if (!o->present)
		return false;
	if (o->dbid == MyDatabaseId && o->relid == t->relid)
		return true;
	if (!widecol_cluster_schema_enabled())
		return false;
	here = relation_ownership(t->relid);
	return strcmp(here.dbname, o->dbname) == 0 && strcmp(here.relname, o->relname) == 0 &&
		strcmp(here.rolename, o->rolename) == 0;
}

/*
 * The engine definition of t as the cluster schema keeps it: t's relation
 * as the owner record, the version one past the node's engine table.
 */
void
widecol_cluster_table_def(WidecolTable *t, wc_table_def *def)
{
	wc_table_def existing;
	EngineOwnership mine = relation_ownership(t->relid);
	uint64		version = 1;

	if (widecol_get_engine_def(t->table_id, &existing) == WC_OK)
	{
		const wc_schema *old = widecol_engine_schema(&existing);

		if (old != NULL)
			version = old->version + 1;
	}
	widecol_fill_engine_def(t, def, &mine, version);
}

/*
 * May foreign table t use the existing engine table "name"?  The relation
 * that created it always may (its own privileges govern access).  Another
 * relation, in this or another database, only if its owner has the rights
 * of the engine table's owner role (roles are shared by all databases, so
 * the role OID is compared), or is a superuser; an engine table without an
 * ownership record only by a superuser's relation.
 */
static void
check_attach(WidecolTable *t, const char *name, const EngineOwnership *o)
{
	Oid			relowner = relation_owner(t->relid);
	const char *relname = get_rel_name(t->relid);
	const char *mine = GetUserNameFromId(relowner, true);
	const char *word = widecol_table_word(t->relid);

	if (is_owning_relation(t, o))
		return;
	if (o->present && has_privs_of_role(relowner, o->roleid))
		return;
	if (!o->present && superuser_arg(relowner))
		return;
	if (!o->present)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to attach %s \"%s\" to widecol table \"%s\"",
						word, relname, name),
				 errdetail("The engine table has no record of its owner, and %s \"%s\" "
						   "is owned by role \"%s\".", word, relname, mine ? mine : "?"),
				 errhint("Only a %s owned by a superuser may attach to it; "
						 "or point this table at another engine table with the table_name option.", word)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to attach %s \"%s\" to widecol table \"%s\"",
					word, relname, name),
			 errdetail("The engine table belongs to %s of database \"%s\", owned by role \"%s\"; "
					   "%s \"%s\" is owned by role \"%s\".",
					   o->relname, o->dbname, o->rolename, word, relname, mine ? mine : "?"),
			 errhint("Only a %s whose owner owns %s (or a superuser) may attach to its data; "
					 "ask that owner to GRANT you privileges on %s, or point this table at another "
					 "engine table with %s.", word, o->relname, o->relname,
					 strcmp(word, "table") == 0 ? "WITH (table_name = '...')" :
					 "OPTIONS (table_name '...')")));
}

/*
 * May a new foreign table owned by roleid attach to the engine table def
 * (see check_attach)?  For IMPORT FOREIGN SCHEMA, which leaves out what it
 * could not create.
 */
bool
widecol_may_attach(const wc_table_def *def, Oid roleid)
{
	EngineOwnership o;

	engine_ownership(def, &o);
	return o.present ? has_privs_of_role(roleid, o.roleid) : superuser_arg(roleid);
}

/*
 * The node's definition of engine table table_id into *def, its schema
 * bytes copied into palloc'd memory.  Returns the client's status.
 */
wc_status
widecol_get_engine_def(uint32 table_id, wc_table_def *def)
{
	wc_table_def got;
	wc_status	st = wc_client_get_table(widecol_connection(), table_id, &got);

	if (st != WC_OK)
		return st;
	*def = got;
	def->schema = NULL;
	if (got.schema_len > 0)
	{
		def->schema = palloc(got.schema_len);
		memcpy(def->schema, got.schema, got.schema_len);
	}
	wc_table_def_clear(&got);
	return WC_OK;
}

/*
 * Create the engine table, or check that the existing one has the same
 * key (it may have been made by another foreign table, in this or another
 * database, or kept after DROP FOREIGN TABLE).  An existing definition is
 * not overwritten here; ALTER FOREIGN TABLE updates it.
 */
void
widecol_create_or_check(WidecolTable *t, bool is_alter, bool create)
{
	wc_table_def def,
				existing;
	wc_status	st;
	char	   *diff;
	EngineOwnership mine;

	st = widecol_get_engine_def(t->table_id, &existing);
	if (st == WC_OK)
	{
		EngineOwnership owner;
		const wc_schema *old = widecol_engine_schema(&existing);

		engine_ownership(&existing, &owner);
		if (!owner.present || is_owning_relation(t, &owner))
			owner = relation_ownership(t->relid);
		/* an ALTER of another attached relation keeps the creator's record */
		widecol_fill_engine_def(t, &def, &owner, old ? old->version + 1 : 1);
		if (strcmp(existing.name, def.name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("widecol table id %u of \"%s\" is already used by \"%s\"",
							t->table_id, def.name, existing.name),
					 strcmp(widecol_table_word(t->relid), "table") == 0 ?
					 errhint("Create the table with an explicit id: WITH (table_id = '<unused number>').") :
					 errhint("Give the foreign table an explicit id with OPTIONS (table_id '<unused number>').")));
		check_attach(t, def.name, &owner);
		diff = widecol_key_difference(t, &existing);
		if (diff != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("engine table \"%s\" already exists with a different primary key", def.name),
					 errdetail("%s.", diff),
					 strcmp(widecol_table_word(t->relid), "table") == 0 ?
					 errhint("Declare the same primary_key, clustering_order and key column types, or point "
							 "this table at another engine table with WITH (table_name = '...').") :
					 errhint("Declare the same primary_key, clustering_order and key column types, or point "
							 "this foreign table at another engine table with OPTIONS (table_name '...').")));
		if (is_alter)
		{
			struct wc_client *c = widecol_connection();

			/* the node backfills new secondary indexes before it answers: no client timeout */
			wc_client_set_timeout(c, 0);
			st = wc_client_alter_table(c, &def);
			wc_client_set_timeout(c, widecol_request_timeout());
			if (st != WC_OK)
				widecol_report(st, "altering the engine table");
		}
		return;
	}
	if (st != WC_NOT_FOUND)
		widecol_report(st, "reading the engine table");
	if (!create)
		return;					/* made on first access: a rolled-back CREATE leaves nothing */
	mine = relation_ownership(t->relid);
	widecol_fill_engine_def(t, &def, &mine, 1);
	st = wc_client_create_table(widecol_connection(), &def);
	if (st == WC_EXISTS && widecol_cluster_schema_enabled() &&
		widecol_get_engine_def(t->table_id, &existing) == WC_OK)
	{
		/* the cluster schema made it meanwhile: check it as an existing one */
		widecol_create_or_check(t, is_alter, false);
		return;
	}
	if (st == WC_EXISTS)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("widecol table id %u of \"%s\" is already used by another table",
						t->table_id, def.name),
				 errdetail("%s", wc_last_error()),
				 strcmp(widecol_table_word(t->relid), "table") == 0 ?
				 errhint("Create the table again with an explicit id: WITH (table_id = '<unused number>').") :
				 errhint("Give the foreign table an explicit id: ALTER FOREIGN TABLE %s OPTIONS (ADD table_id '<unused number>').",
						 quote_identifier(get_rel_name(t->relid)))));
	if (st != WC_OK)
		widecol_report(st, "creating the engine table");
}

/*
 * Before t empties its engine table (TRUNCATE, widecol.drop_table()): may
 * t use it at all?  Only the ownership is checked.  Returns false if there
 * is no engine table (nothing to empty), else true with its definition in
 * *existing.
 */
bool
widecol_check_engine_owner(WidecolTable *t, wc_table_def *existing)
{
	EngineOwnership owner;
	wc_status	st = widecol_get_engine_def(t->table_id, existing);

	if (st == WC_NOT_FOUND)
		return false;
	if (st != WC_OK)
		widecol_report(st, "reading the engine table");
	engine_ownership(existing, &owner);
	check_attach(t, existing->name, &owner);
	return true;
}
