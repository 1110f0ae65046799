/*-------------------------------------------------------------------------
 *
 * schema.c
 *		  The widecol model of a foreign table: keyspace, partition and
 *		  clustering keys, static and metadata columns, table options; its
 *		  validation at CREATE/ALTER time and its per-backend cache.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/schema.c
 *
 * NOTES
 *	  A keyspace is a foreign server of the widecol wrapper; a table is a
 *	  foreign table on it.  Options use CQL syntax (see docs/user-guide.md):
 *	  the server carries 'replication', the table 'primary_key',
 *	  'clustering_order', 'compaction', 'default_time_to_live',
 *	  'gc_grace_seconds' and the other CQL table options, and columns may be
 *	  'static', or read-only 'writetime'/'ttl' views of another column.
 *
 *	  The option validator (validate.c) checks names and syntax; everything
 *	  that needs the column list is checked here, from a ProcessUtility
 *	  hook that runs right after CREATE/ALTER FOREIGN TABLE in the same
 *	  transaction, so a bad definition never commits.  When the node runs,
 *	  the hook also checks the definition against an engine table of the
 *	  same name (its key must match) and applies ALTERs to it; the engine
 *	  table itself is created on first access, so a rolled-back CREATE
 *	  leaves nothing behind.
 *
 *	  The engine identifies a table by a 32-bit id: a hash of
 *	  "keyspace.table", or the 'table_id' option.  Dropping the foreign
 *	  table keeps the engine data (widecol.drop_table() removes it), and
 *	  the typed schema kept with the engine table (engine/schema_def.h:
 *	  keyspace and replication, columns, options, owner, version) lets
 *	  IMPORT FOREIGN SCHEMA recreate the foreign table.  The schema is
 *	  built here from the relation, sent whole on every CREATE and ALTER,
 *	  and read back to compare keys and check ownership.
 *
 *	  The cache is a hash table keyed by relation OID, flushed on any
 *	  relcache or foreign-server invalidation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "client.h"
#include "consistency.h"
#include "engine.h"
#include "schema_def.h"

#include "widecol.h"

typedef struct TableCacheEntry
{
	Oid			relid;			/* hash key */
	WidecolTable *table;		/* in cxt */
	MemoryContext cxt;			/* the model's own memory */
	bool		valid;			/* false once an invalidation touched it */
	bool		engine_ready;	/* engine table known to exist */
} TableCacheEntry;

/*
 * The hash table lives for the backend.  Invalidation callbacks only mark
 * entries stale (they may run in the middle of building one); a stale
 * model's memory is freed at the end of the transaction, when no scan can
 * still point at it.
 */
static HTAB *table_cache = NULL;
static uint64 table_cache_generation = 0;	/* bumped by every invalidation */

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
static List *retired_cxts = NIL;			/* freed at transaction end */
static ProcessUtility_hook_type prev_process_utility = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;

/* callbacks */
static void table_cache_inval(Datum arg, Oid relid);
static void table_cache_syscache_inval(Datum arg, int cacheid, uint32 hashvalue);
static void table_cache_xact(XactEvent event, void *arg);
static void table_cache_subxact(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg);
static void apply_pending_alters(void);
static void create_or_check(WidecolTable *t, bool is_alter, bool create);
static void table_cache_mark(Oid relid);
static char *rename_keeps_engine_names(RenameStmt *stmt, char **notice);
static void run_utility(const char *sql);
static void widecol_process_utility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc);

static void widecol_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate);

/* helpers */
static int	find_column(WidecolTable *t, const char *name, const char *option);
static int32 int_option(DefElem *def, int32 min, int32 max);
struct EngineOwnership;
static void fill_engine_def(WidecolTable *t, wc_table_def *def, const struct EngineOwnership *o,
							uint64 version);
static void table_replication(WidecolTable *t, wc_replication *r);

void
widecol_schema_init(void)
{
	CacheRegisterRelcacheCallback(table_cache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, table_cache_syscache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNTABLEREL, table_cache_syscache_inval, (Datum) 0);
	RegisterXactCallback(table_cache_xact, NULL);
	RegisterSubXactCallback(table_cache_subxact, NULL);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = widecol_process_utility;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = widecol_post_parse_analyze;
}

/* Mark one entry (or all for InvalidOid) stale. */
static void
table_cache_mark(Oid relid)
{
	HASH_SEQ_STATUS seq;
	TableCacheEntry *e;

	table_cache_generation++;
	if (table_cache == NULL)
		return;
	hash_seq_init(&seq, table_cache);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (!OidIsValid(relid) || e->relid == relid)
			e->valid = false;
}

static void
table_cache_inval(Datum arg, Oid relid)
{
	table_cache_mark(relid);
}

static void
table_cache_syscache_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	table_cache_mark(InvalidOid);
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
		create_or_check(t, true, false);
	}
	list_free_deep(todo);
}

static void
table_cache_subxact(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, pending_alters)
	{
		PendingAlter *pa = lfirst(lc);

		if (pa->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			pa->relid = InvalidOid;	/* rolled back: never applied */
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			pa->subid = parentSubid;
	}
}

static void
table_cache_xact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT && pending_alters != NIL)
	{
		ListCell   *lc;
		List	   *live = NIL;
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		foreach(lc, pending_alters)
		{
			PendingAlter *pa = lfirst(lc);

			if (OidIsValid(pa->relid))
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
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		ListCell   *lc;

		foreach(lc, retired_cxts)
			MemoryContextDelete((MemoryContext) lfirst(lc));
		list_free(retired_cxts);
		retired_cxts = NIL;
	}
}

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

static int
find_column(WidecolTable *t, const char *name, const char *option)
{
	for (int i = 0; i < t->ncols; i++)
		if (!t->cols[i].dropped && strcmp(t->cols[i].name, name) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" named in option \"%s\" of foreign table \"%s\" does not exist",
					name, option, get_rel_name(t->relid)),
			 errhint("Name a column of the table; quote names that have capitals, as in '\"Timestamp\"'.")));
	return -1;					/* keep compiler quiet */
}

static int32
int_option(DefElem *def, int32 min, int32 max)
{
	char	   *s = defGetString(def);
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for widecol option \"%s\": \"%s\"", def->defname, s),
				 errhint("Give a whole number from %d to %d.", min, max)));
	return (int32) v;
}

/*
 * Build and validate the model of a widecol foreign table.  Everything is
 * allocated in the current memory context.
 */
WidecolTable *
widecol_build_table(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(ft->serverid);
	WidecolTable *t = palloc0(sizeof(WidecolTable));
	const char *primary_key = NULL,
			   *clustering_order = NULL;
	List	   *pkcols,
			   *ckcols,
			   *order = NIL;
	ListCell   *lc;
	int			i;
	bool		explicit_id = false;
	uint32		next_cell = 1;

	t->relid = RelationGetRelid(rel);
	t->serverid = ft->serverid;
	t->keyspace = pstrdup(widecol_server_keyspace(server));
	t->table_name = pstrdup(RelationGetRelationName(rel));
	t->default_ttl = 0;
	t->gc_grace_seconds = 864000;
	t->replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
	t->replication_factor = 1;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "replication") == 0)
			t->replication = defGetString(def);
	}
	foreach(lc, ft->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "primary_key") == 0)
			primary_key = defGetString(def);
		else if (strcmp(def->defname, "clustering_order") == 0)
			clustering_order = defGetString(def);
		else if (strcmp(def->defname, "default_time_to_live") == 0)
			t->default_ttl = int_option(def, 0, 630720000);
		else if (strcmp(def->defname, "gc_grace_seconds") == 0)
			t->gc_grace_seconds = int_option(def, 0, INT32_MAX);
		else if (strcmp(def->defname, "compaction") == 0)
			t->compaction = defGetString(def);
		else if (strcmp(def->defname, "table_name") == 0)
			t->table_name = defGetString(def);
		else if (strcmp(def->defname, "table_id") == 0)
		{
			t->table_id = (uint32) int_option(def, 1, INT32_MAX);
			explicit_id = true;
		}
	}

	/* the node keeps "keyspace.table" in a fixed buffer: never shorten it */
	{
		size_t		len = strlen(t->keyspace) + 1 + strlen(t->table_name);
		size_t		max = sizeof(((wc_table_def *) 0)->name) - 1;

		if (len > max)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("widecol table name \"%s.%s\" is too long (%zu bytes, at most %zu)",
							t->keyspace, t->table_name, len, max),
					 errhint("Choose a shorter table_name option for the foreign table or a shorter "
							 "keyspace option for its server.")));
	}

	/* columns */
	t->ncols = tupdesc->natts;
	t->cols = palloc0(sizeof(WidecolColumn) * Max(t->ncols, 1));
	for (i = 0; i < t->ncols; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		WidecolColumn *c = &t->cols[i];

		c->attnum = att->attnum;
		c->name = pstrdup(NameStr(att->attname));
		c->typid = att->atttypid;
		c->typmod = att->atttypmod;
		c->collid = att->attcollation;
		c->typlen = att->attlen;
		c->typbyval = att->attbyval;
		c->dropped = att->attisdropped;
		c->kind = WIDECOL_COL_REGULAR;
		c->meta_of = -1;
		c->cell_id = (uint32) att->attnum;
		if (c->typlen == -2)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" has type %s, which widecol cannot store",
							c->name, format_type_be(c->typid)),
					 errhint("Use text instead.")));
	}
	/* column options: static, column_id, writetime, ttl */
	for (i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		if (c->dropped)
			continue;
		foreach(lc, GetForeignColumnOptions(t->relid, c->attnum))
		{
			DefElem    *def = lfirst(lc);

			if (strcmp(def->defname, "static") == 0)
			{
				bool		b;

				if (!parse_bool(defGetString(def), &b))
					ereport(ERROR,
							(errcode(ERRCODE_SYNTAX_ERROR),
							 errmsg("%s requires a Boolean value", def->defname),
							 errhint("Use 'true' or 'false'.")));
				if (b)
				{
					c->kind = WIDECOL_COL_STATIC;
					t->has_static = true;
				}
			}
			else if (strcmp(def->defname, "column_id") == 0)
				c->cell_id = (uint32) int_option(def, 1, INT32_MAX);
			else if (strcmp(def->defname, "writetime") == 0 ||
					 strcmp(def->defname, "ttl") == 0)
			{
				bool		wt = strcmp(def->defname, "writetime") == 0;

				c->kind = wt ? WIDECOL_COL_WRITETIME : WIDECOL_COL_TTL;
				c->meta_of = find_column(t, defGetString(def), def->defname);
				if (c->typid != (wt ? INT8OID : INT4OID))
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("column \"%s\" shows the %s of \"%s\" and must have type %s",
									c->name, wt ? "write time" : "remaining TTL",
									defGetString(def), wt ? "bigint" : "integer"),
							 errhint("Declare it as \"%s %s OPTIONS (%s '%s')\".", c->name,
									 wt ? "bigint" : "integer", def->defname, defGetString(def))));
			}
		}
		if (c->cell_id >= next_cell)
			next_cell = c->cell_id + 1;
	}

	/* keys */
	if (primary_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("foreign table \"%s\" has no primary_key option",
						RelationGetRelationName(rel)),
				 errhint("Add OPTIONS (primary_key '(partition_column, clustering_column)') as in a CQL PRIMARY KEY.")));
	widecol_parse_primary_key(primary_key, &pkcols, &ckcols);
	t->npk = list_length(pkcols);
	t->nck = list_length(ckcols);
	t->pk = palloc(sizeof(int) * t->npk);
	t->ck = palloc(sizeof(int) * Max(t->nck, 1));
	i = 0;
	foreach(lc, pkcols)
	{
		int			ci = find_column(t, lfirst(lc), "primary_key");

		if (t->cols[ci].kind != WIDECOL_COL_REGULAR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("column \"%s\" appears twice in the primary key or is static", t->cols[ci].name),
					 errhint("A key column is named once and is not static.")));
		t->cols[ci].kind = WIDECOL_COL_PARTITION;
		t->cols[ci].key_pos = i;
		t->pk[i++] = ci;
	}
	i = 0;
	foreach(lc, ckcols)
	{
		int			ci = find_column(t, lfirst(lc), "primary_key");

		if (t->cols[ci].kind != WIDECOL_COL_REGULAR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("column \"%s\" appears twice in the primary key or is static", t->cols[ci].name),
					 errhint("A key column is named once and is not static.")));
		t->cols[ci].kind = WIDECOL_COL_CLUSTERING;
		t->cols[ci].key_pos = i;
		t->ck[i++] = ci;
	}
	for (i = 0; i < t->npk + t->nck; i++)
	{
		WidecolColumn *c = &t->cols[i < t->npk ? t->pk[i] : t->ck[i - t->npk]];

		if (!widecol_type_keyable(c->typid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of type %s cannot be part of a widecol primary key",
							c->name, format_type_be(c->typid)),
					 errhint("Key columns may be text, varchar, bytea, smallint, integer, bigint, real, "
							 "double precision, numeric, boolean, uuid, widecol.timeuuid, date, time, "
							 "timestamp or timestamptz.")));
	}
	if (t->has_static && t->nck == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("foreign table \"%s\" has static columns but no clustering columns",
						RelationGetRelationName(rel)),
				 errhint("Static columns only make sense when a partition has several rows; "
						 "make the column an ordinary one.")));

	if (clustering_order != NULL)
	{
		int			pos = 0;

		order = widecol_parse_clustering_order(clustering_order);
		foreach(lc, order)
		{
			WidecolCqlOrder *o = lfirst(lc);
			int			ci = find_column(t, o->column, "clustering_order");

			if (t->cols[ci].kind != WIDECOL_COL_CLUSTERING)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("column \"%s\" in clustering_order is not a clustering column", o->column),
						 errhint("clustering_order lists the clustering columns of primary_key, in order.")));
			if (t->cols[ci].key_pos != pos)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("clustering_order must list the clustering columns in primary-key order"),
						 errdetail("\"%s\" is clustering column %d, but it is listed at position %d.",
								   o->column, t->cols[ci].key_pos + 1, pos + 1),
						 errhint("Write the columns in the order of primary_key, as CQL requires.")));
			t->cols[ci].descending = o->descending;
			pos++;
		}
	}
	/* a metadata column may not describe a key or another metadata column */
	for (i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		if ((c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL) &&
			t->cols[c->meta_of].kind != WIDECOL_COL_REGULAR &&
			t->cols[c->meta_of].kind != WIDECOL_COL_STATIC)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("column \"%s\" describes \"%s\", which is not a regular or static column",
							c->name, t->cols[c->meta_of].name),
					 errhint("WRITETIME and TTL exist only for cells, not for key columns.")));
	}
	/* replication map */
	{
		List	   *map = widecol_parse_cql_map("replication", t->replication);
		const char *cls = widecol_cql_map_get(map, "class");

		if (cls == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("replication of keyspace \"%s\" has no 'class'", t->keyspace),
					 errhint("Use {'class': 'SimpleStrategy', 'replication_factor': 1}.")));
	}
	if (t->compaction != NULL)
		(void) widecol_parse_cql_map("compaction", t->compaction);

	/* cells are written in ascending column id: keep that order at hand */
	t->cell_order = palloc(sizeof(int) * Max(t->ncols, 1));
	t->ncells = 0;
	for (i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];
		int			j;

		if (c->dropped || (c->kind != WIDECOL_COL_REGULAR && c->kind != WIDECOL_COL_STATIC))
			continue;
		for (j = t->ncells; j > 0 && t->cols[t->cell_order[j - 1]].cell_id > c->cell_id; j--)
			t->cell_order[j] = t->cell_order[j - 1];
		if (j > 0 && t->cols[t->cell_order[j - 1]].cell_id == c->cell_id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("columns \"%s\" and \"%s\" have the same column_id %u",
							t->cols[t->cell_order[j - 1]].name, c->name, c->cell_id),
					 errhint("Give each column its own column_id, or drop the column_id options.")));
		t->cell_order[j] = i;
		t->ncells++;
	}

	if (!explicit_id)
	{
		char	   *full = psprintf("%s.%s", t->keyspace, t->table_name);

		t->table_id = hash_bytes((const unsigned char *) full, strlen(full)) & 0x7fffffff;
		if (t->table_id == 0)
			t->table_id = 1;
	}
	return t;
}

/*
 * The model of a widecol foreign table, cached for the backend.
 */
WidecolTable *
widecol_get_table(Oid relid)
{
	TableCacheEntry *entry;
	bool		found;

	if (table_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TableCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		table_cache = hash_create("widecol tables", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->table = NULL;
		entry->cxt = NULL;
		entry->valid = false;
		entry->engine_ready = false;
	}
	while (!entry->valid)
	{
		uint64		generation = table_cache_generation;
		MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "widecol table",
												  ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		WidecolTable *t;
		Relation	rel;

		PG_TRY();
		{
			rel = table_open(relid, AccessShareLock);
			t = widecol_build_table(rel);
			table_close(rel, AccessShareLock);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		/* entries never move in a dynahash table: entry is still ours */
		if (entry->cxt != NULL)
		{
			/* the list outlives this query: keep it in TopMemoryContext */
			MemoryContext top = MemoryContextSwitchTo(TopMemoryContext);

			retired_cxts = lappend(retired_cxts, entry->cxt);
			MemoryContextSwitchTo(top);
		}
		entry->table = t;
		entry->cxt = cxt;
		entry->engine_ready = false;	/* the engine table may be gone (drop_table) */
		/* an invalidation while building: build again */
		entry->valid = generation == table_cache_generation;
	}
	return entry->table;
}

/* The keyspace's replication in the cluster's form (the map was validated at CREATE). */
static void
table_replication(WidecolTable *t, wc_replication *r)
{
	if (wc_replication_parse(t->replication, r) != WC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid replication for keyspace \"%s\"", t->keyspace),
				 errdetail("%s", wc_last_error()),
				 errhint("Use {'class': 'SimpleStrategy', 'replication_factor': 1} or "
						 "{'class': 'NetworkTopologyStrategy', 'dc1': 3}.")));
}

/*
 * Who an engine table belongs to: the database, relation and owner role of
 * the foreign table that created it, kept as the owner record of the
 * typed schema (see relation_ownership).  present is false for an engine
 * table without one.
 */
typedef struct EngineOwnership
{
	bool		present;
	Oid			dbid;
	Oid			relid;
	Oid			roleid;
	char	   *dbname;
	char	   *relname;		/* schema-qualified */
	char	   *rolename;
} EngineOwnership;

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
	return o;
}

/* Frees a decoded schema when the memory context it was read in goes. */
static void
schema_free_callback(void *arg)
{
	wc_schema_free((wc_schema *) arg);
}

/*
 * The typed schema kept with an engine table, decoded; its memory lives as
 * long as the current memory context.  NULL if the table has none.
 */
static const wc_schema *
engine_schema(const wc_table_def *def)
{
	wc_schema  *s;
	MemoryContextCallback *cb;
	wc_status	st;

	if (def->schema_len == 0)
		return NULL;
	s = palloc0(sizeof(wc_schema));
	st = wc_schema_decode(def->schema, def->schema_len, s);
	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = schema_free_callback;
	cb->arg = s;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	if (st != WC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the schema of widecol table \"%s\" cannot be read", def->name),
				 errdetail("%s", wc_last_error()),
				 errhint("The node's catalog may be damaged, or written by a newer widecol; "
						 "check the node's version and its server log.")));
	return s;
}

/* The ownership recorded with an existing engine table. */
static void
engine_ownership(const wc_table_def *def, EngineOwnership *o)
{
	const wc_schema *s = engine_schema(def);

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
}

/* Is t the relation recorded as the creator of the engine table? */
static bool
is_owning_relation(WidecolTable *t, const EngineOwnership *o)
{
	return o->present && o->dbid == MyDatabaseId && o->relid == t->relid;
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

	if (is_owning_relation(t, o))
		return;
	if (o->present && has_privs_of_role(relowner, o->roleid))
		return;
	if (!o->present && superuser_arg(relowner))
		return;
	if (!o->present)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to attach foreign table \"%s\" to widecol table \"%s\"",
						relname, name),
				 errdetail("The engine table has no record of its owner, and foreign table \"%s\" "
						   "is owned by role \"%s\".", relname, mine ? mine : "?"),
				 errhint("Only a foreign table owned by a superuser may attach to it; "
						 "or point this table at another engine table with OPTIONS (table_name '...').")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to attach foreign table \"%s\" to widecol table \"%s\"",
					relname, name),
			 errdetail("The engine table belongs to %s of database \"%s\", owned by role \"%s\"; "
					   "foreign table \"%s\" is owned by role \"%s\".",
					   o->relname, o->dbname, o->rolename, relname, mine ? mine : "?"),
			 errhint("Only a foreign table whose owner owns %s (or a superuser) may attach to its data; "
					 "ask that owner to GRANT you privileges on %s, or point this table at another "
					 "engine table with OPTIONS (table_name '...').", o->relname, o->relname)));
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

/* A CQL map option as typed name/value pairs (values as CQL text). */
static wc_schema_option *
cql_map_options(const char *option, const char *text, size_t *n)
{
	List	   *map = widecol_parse_cql_map(option, text);
	wc_schema_option *o = palloc0(sizeof(wc_schema_option) * Max(list_length(map), 1));
	ListCell   *lc;

	*n = 0;
	foreach(lc, map)
	{
		WidecolCqlPair *pair = lfirst(lc);
		StringInfoData v;

		initStringInfo(&v);
		if (pair->quoted)
		{
			appendStringInfoChar(&v, '\'');
			for (const char *c = pair->value; *c; c++)
			{
				if (*c == '\'')
					appendStringInfoChar(&v, '\'');
				appendStringInfoChar(&v, *c);
			}
			appendStringInfoChar(&v, '\'');
		}
		else
			appendStringInfoString(&v, pair->value);
		o[*n].name = pair->key;
		o[*n].value = v.data;
		(*n)++;
	}
	return o;
}

/* The CQL table properties widecol accepts without using them. */
static const char *const unused_properties[] = {
	"comment", "compression", "caching", "bloom_filter_fp_chance", "speculative_retry",
	"memtable_flush_period_in_ms", "crc_check_chance"
};

/*
 * The typed schema of t (schema_def.h), in palloc'd memory: the keyspace and
 * its replication, the columns, the options, the ownership record o and
 * the schema version.
 */
static void
build_schema(WidecolTable *t, const EngineOwnership *o, uint64 version, wc_schema *s)
{
	wc_replication r;
	wc_schema_replica *rep;
	wc_schema_column *cols;
	wc_schema_option *props;
	List	   *ftopts = GetForeignTable(t->relid)->options;
	ListCell   *lc;
	int			n = 0;

	wc_schema_init(s);
	s->version = version;
	s->keyspace = t->keyspace;
	s->table = t->table_name;
	s->table_id = t->table_id;
	s->default_ttl = (uint32) t->default_ttl;
	s->gc_grace_seconds = (uint32) t->gc_grace_seconds;
	table_replication(t, &r);
	rep = palloc0(sizeof(wc_schema_replica) * WC_REPL_MAX_DCS);
	if (r.cls == WC_REPL_SIMPLE)
	{
		s->replication_class = "SimpleStrategy";
		rep[0].factor = r.replication_factor;
		s->nreplicas = 1;
	}
	else
	{
		s->replication_class = "NetworkTopologyStrategy";
		for (uint32 i = 0; i < r.ndcs; i++)
		{
			rep[i].dc = pstrdup(r.dcs[i].name);
			rep[i].factor = r.dcs[i].factor;
		}
		s->nreplicas = r.ndcs;
	}
	s->replicas = rep;
	if (t->compaction)
		s->compaction = cql_map_options("compaction", t->compaction, &s->ncompaction);
	props = palloc0(sizeof(wc_schema_option) * Max(list_length(ftopts), 1));
	foreach(lc, ftopts)
	{
		DefElem    *def = lfirst(lc);

		for (int i = 0; i < lengthof(unused_properties); i++)
			if (strcmp(def->defname, unused_properties[i]) == 0)
			{
				props[s->nproperties].name = def->defname;
				props[s->nproperties].value = defGetString(def);
				s->nproperties++;
			}
	}
	s->properties = props;
	if (o->present)
	{
		s->owner.present = true;
		s->owner.db_id = o->dbid;
		s->owner.rel_id = o->relid;
		s->owner.role_id = o->roleid;
		s->owner.db_name = o->dbname;
		s->owner.rel_name = o->relname;
		s->owner.role_name = o->rolename;
	}
	cols = palloc0(sizeof(wc_schema_column) * Max(t->ncols, 1));
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];
		wc_schema_column *sc = &cols[n];

		if (c->dropped)
			continue;
		sc->name = c->name;
		sc->type = format_type_extended(c->typid, c->typmod,
										FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
		sc->type_id = c->typid;
		sc->position = (uint32) c->key_pos;
		sc->descending = c->descending;
		sc->cell_id = c->cell_id;
		switch (c->kind)
		{
			case WIDECOL_COL_PARTITION:
				sc->kind = WC_COL_PARTITION;
				break;
			case WIDECOL_COL_CLUSTERING:
				sc->kind = WC_COL_CLUSTERING;
				break;
			case WIDECOL_COL_STATIC:
				sc->kind = WC_COL_STATIC;
				break;
			case WIDECOL_COL_REGULAR:
				sc->kind = WC_COL_REGULAR;
				break;
			case WIDECOL_COL_WRITETIME:
				sc->kind = WC_COL_WRITETIME;
				sc->meta_of = t->cols[c->meta_of].name;
				break;
			case WIDECOL_COL_TTL:
				sc->kind = WC_COL_TTL;
				sc->meta_of = t->cols[c->meta_of].name;
				break;
		}
		n++;
	}
	s->columns = cols;
	s->ncolumns = n;
}

/*
 * The engine definition of t: o is the ownership record to keep with it,
 * version the schema version.  def->schema is palloc'd.
 */
static void
fill_engine_def(WidecolTable *t, wc_table_def *def, const EngineOwnership *o, uint64 version)
{
	wc_schema	s;
	wc_buf		b;
	wc_status	st;

	build_schema(t, o, version, &s);
	wc_table_def_default(def);
	def->id = t->table_id;
	snprintf(def->name, sizeof(def->name), "%s.%s", t->keyspace, t->table_name);
	def->gc_grace_seconds = (uint32) t->gc_grace_seconds;
	def->default_ttl = (uint32) t->default_ttl;
	wc_buf_init(&b);
	st = wc_schema_encode(&s, &b);
	if (st == WC_OK)
	{
		def->schema = palloc(Max(b.len, 1));
		memcpy(def->schema, b.data, b.len);
		def->schema_len = b.len;
	}
	wc_buf_free(&b);
	if (st != WC_OK)
		widecol_report(st, "encoding the table schema");
	if (t->compaction && strlen(t->compaction) >= sizeof(def->compaction))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the compaction map of foreign table \"%s\" is longer than %zu bytes",
						get_rel_name(t->relid), sizeof(def->compaction) - 1),
				 errhint("Leave out options that keep their default value.")));
	strlcpy(def->compaction, t->compaction ? t->compaction : "", sizeof(def->compaction));
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

/* The columns of kind in key order, as a CQL list ("a, b"), or NULL if none. */
static char *
key_columns(const wc_schema *s, uint32 kind, bool with_order)
{
	StringInfoData out;
	uint32		pos = 0;
	bool		found = true;

	initStringInfo(&out);
	while (found)
	{
		found = false;
		for (size_t i = 0; i < s->ncolumns; i++)
		{
			const wc_schema_column *c = &s->columns[i];

			if (c->kind != kind || c->position != pos)
				continue;
			appendStringInfo(&out, "%s%s", pos ? ", " : "", quote_identifier(c->name));
			if (with_order)
				appendStringInfoString(&out, c->descending ? " DESC" : " ASC");
			found = true;
			pos++;
			break;
		}
	}
	return pos > 0 ? out.data : NULL;
}

/* The primary key of s as its primary_key option: "((a, b), c)" or "(a, c)". */
static char *
primary_key_text(const wc_schema *s)
{
	char	   *pk = key_columns(s, WC_COL_PARTITION, false);
	char	   *ck = key_columns(s, WC_COL_CLUSTERING, false);
	bool		composite = pk && strchr(pk, ',') != NULL;

	return psprintf("(%s%s%s%s%s)", composite ? "(" : "", pk ? pk : "", composite ? ")" : "",
					ck ? ", " : "", ck ? ck : "");
}

/*
 * Does the existing engine table have the same key as t?  Compares the
 * primary key, the clustering order and the type of every key column.
 * Returns NULL if so, else a description of the difference.
 */
static char *
key_difference(WidecolTable *t, const wc_table_def *existing)
{
	const wc_schema *old = engine_schema(existing);
	wc_schema	mine;
	EngineOwnership none = {0};
	char	   *a,
			   *b;

	if (old == NULL)
		return NULL;			/* not made through a foreign table: nothing to compare */
	build_schema(t, &none, 0, &mine);
	a = primary_key_text(old);
	b = primary_key_text(&mine);
	if (strcmp(a, b) != 0)
		return psprintf("It has primary_key=%s, this table primary_key=%s", a, b);
	a = key_columns(old, WC_COL_CLUSTERING, true);
	b = key_columns(&mine, WC_COL_CLUSTERING, true);
	if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
		return psprintf("It has %s%s, this table %s%s", a ? "clustering_order=" : "",
						a ? a : "no clustering order", b ? "clustering_order=" : "",
						b ? b : "no clustering order");
	for (size_t i = 0; i < mine.ncolumns; i++)
	{
		const wc_schema_column *c = &mine.columns[i];
		const wc_schema_column *o;

		if (c->kind != WC_COL_PARTITION && c->kind != WC_COL_CLUSTERING)
			continue;
		o = wc_schema_find_column(old, c->name);
		if (o == NULL)
			return psprintf("Key column %s is missing from it", quote_identifier(c->name));
		if (o->type == NULL || strcmp(o->type, c->type) != 0)
			return psprintf("Key column %s has type %s there and %s here",
							quote_identifier(c->name), o->type ? o->type : "?", c->type);
	}
	return NULL;
}

/*
 * The CREATE FOREIGN TABLE command that IMPORT FOREIGN SCHEMA runs for the
 * engine table def of keyspace on server, or NULL to leave it out: made
 * without a foreign table, of another keyspace, not selected by stmt's
 * LIMIT TO / EXCEPT, or owned by someone the current user may not attach as.
 */
char *
widecol_import_command(const wc_table_def *def, ForeignServer *server, const char *keyspace,
					   ImportForeignSchemaStmt *stmt)
{
	const wc_schema *s = engine_schema(def);
	StringInfoData cmd,
				cols;
	char	   *order;

	if (s == NULL || s->keyspace == NULL || strcmp(s->keyspace, keyspace) != 0 ||
		key_columns(s, WC_COL_PARTITION, false) == NULL)
		return NULL;
	if (stmt->list_type != FDW_IMPORT_SCHEMA_ALL)
	{
		bool		listed = false;
		ListCell   *lc;

		foreach(lc, stmt->table_list)
			if (strcmp(((RangeVar *) lfirst(lc))->relname, s->table) == 0)
				listed = true;
		if ((stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO) != listed)
			return NULL;
	}
	/* tables of other owners could not be attached: leave them out */
	if (!widecol_may_attach(def, GetUserId()))
	{
		ereport(NOTICE,
				(errmsg("widecol table \"%s.%s\" is not imported: it belongs to another owner",
						s->keyspace, s->table)));
		return NULL;
	}
	initStringInfo(&cols);
	for (size_t i = 0; i < s->ncolumns; i++)
	{
		const wc_schema_column *c = &s->columns[i];

		appendStringInfo(&cols, "%s  %s %s OPTIONS (column_id '%u'", cols.len ? ",\n" : "",
						 quote_identifier(c->name), c->type ? c->type : "text", c->cell_id);
		if (c->kind == WC_COL_STATIC)
			appendStringInfoString(&cols, ", static 'true'");
		else if (c->kind == WC_COL_WRITETIME && c->meta_of)
			appendStringInfo(&cols, ", writetime %s",
							 quote_literal_cstr(quote_identifier(c->meta_of)));
		else if (c->kind == WC_COL_TTL && c->meta_of)
			appendStringInfo(&cols, ", ttl %s", quote_literal_cstr(quote_identifier(c->meta_of)));
		appendStringInfoChar(&cols, ')');
	}
	initStringInfo(&cmd);
	appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (\n%s\n) SERVER %s OPTIONS (primary_key %s",
					 quote_identifier(s->table), cols.data, quote_identifier(server->servername),
					 quote_literal_cstr(primary_key_text(s)));
	order = key_columns(s, WC_COL_CLUSTERING, true);
	if (order)
		appendStringInfo(&cmd, ", clustering_order %s", quote_literal_cstr(order));
	if (s->ncompaction > 0)
	{
		StringInfoData map;

		initStringInfo(&map);
		for (size_t i = 0; i < s->ncompaction; i++)
			appendStringInfo(&map, "%s'%s': %s", i ? ", " : "{", s->compaction[i].name,
							 s->compaction[i].value);
		appendStringInfoChar(&map, '}');
		appendStringInfo(&cmd, ", compaction %s", quote_literal_cstr(map.data));
	}
	appendStringInfo(&cmd, ", default_time_to_live '%u'", s->default_ttl);
	appendStringInfo(&cmd, ", gc_grace_seconds '%u'", s->gc_grace_seconds);
	for (size_t i = 0; i < s->nproperties; i++)
		appendStringInfo(&cmd, ", %s %s", quote_identifier(s->properties[i].name),
						 quote_literal_cstr(s->properties[i].value));
	appendStringInfo(&cmd, ", table_id '%u')", def->id);
	return cmd.data;
}

/*
 * Create the engine table, or check that the existing one has the same
 * key (it may have been made by another foreign table, in this or another
 * database, or kept after DROP FOREIGN TABLE).  An existing definition is
 * not overwritten here; ALTER FOREIGN TABLE updates it.
 */
static void
create_or_check(WidecolTable *t, bool is_alter, bool create)
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
		const wc_schema *old = engine_schema(&existing);

		engine_ownership(&existing, &owner);
		if (!owner.present || is_owning_relation(t, &owner))
			owner = relation_ownership(t->relid);
		/* an ALTER of another attached relation keeps the creator's record */
		fill_engine_def(t, &def, &owner, old ? old->version + 1 : 1);
		if (strcmp(existing.name, def.name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("widecol table id %u of \"%s\" is already used by \"%s\"",
							t->table_id, def.name, existing.name),
					 errhint("Give the foreign table an explicit id with OPTIONS (table_id '<unused number>').")));
		check_attach(t, def.name, &owner);
		diff = key_difference(t, &existing);
		if (diff != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("engine table \"%s\" already exists with a different primary key", def.name),
					 errdetail("%s.", diff),
					 errhint("Declare the same primary_key, clustering_order and key column types, or point "
							 "this foreign table at another engine table with OPTIONS (table_name '...').")));
		if (is_alter)
		{
			st = wc_client_alter_table(widecol_connection(), &def);
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
	fill_engine_def(t, &def, &mine, 1);
	st = wc_client_create_table(widecol_connection(), &def);
	if (st == WC_EXISTS)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("widecol table id %u of \"%s\" is already used by another table",
						t->table_id, def.name),
				 errdetail("%s", wc_last_error()),
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

/*
 * Make sure the node has the engine table (once per backend and table).
 */
void
widecol_ensure_engine_table(WidecolTable *t)
{
	TableCacheEntry *entry = NULL;

	if (table_cache != NULL)
	{
		entry = hash_search(table_cache, &t->relid, HASH_FIND, NULL);
		if (entry && entry->engine_ready)
			return;
	}
	create_or_check(t, false, true);
	if (entry)
		entry->engine_ready = true;
}

/*
 * INSERT ... ON CONFLICT on a widecol table: refuse it here, before the
 * planner looks for an arbiter index that a foreign table cannot have.
 */
static void
widecol_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	if (query->commandType == CMD_INSERT && query->onConflict != NULL && query->resultRelation > 0)
	{
		RangeTblEntry *rte = rt_fetch(query->resultRelation, query->rtable);

		if (rte->relkind == RELKIND_FOREIGN_TABLE &&
			widecol_is_widecol_server(GetForeignTable(rte->relid)->serverid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ON CONFLICT is not supported on widecol table \"%s\"",
							get_rel_name(rte->relid)),
					 errhint("INSERT into a widecol table is already an upsert: drop the ON CONFLICT clause.")));
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

/*
 * After CREATE/ALTER FOREIGN TABLE on a widecol server: validate the whole
 * definition now, and create or alter the engine table if the node runs.
 * After a rename, keep the engine names (see rename_keeps_engine_names).
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

	if (IsA(parsetree, RenameStmt))
		keep_names = rename_keeps_engine_names((RenameStmt *) parsetree, &keep_notice);
	if (IsA(parsetree, CreateForeignTableStmt))
		target = ((CreateForeignTableStmt *) parsetree)->base.relation;
	else if (IsA(parsetree, AlterTableStmt) &&
			 ((AlterTableStmt *) parsetree)->objtype == OBJECT_FOREIGN_TABLE &&
			 context != PROCESS_UTILITY_SUBCOMMAND)	/* not CREATE's own column options */
	{
		target = ((AlterTableStmt *) parsetree)->relation;
		is_alter = true;
	}

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

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
		if (is_alter)
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
		if (widecol_preloaded && widecol_node_running())
		{
			/* check the key against the engine table now; apply the ALTER at commit */
			create_or_check(t, false, false);
			if (is_alter)
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
