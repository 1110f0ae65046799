/*-------------------------------------------------------------------------
 *
 * schema.c
 *		  The widecol model of a foreign table (WidecolTable): keyspace,
 *		  partition and clustering keys, static and metadata columns, table
 *		  options, built and validated from the relation's definition.
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
 *	  that needs the column list is checked here, when the model is built:
 *	  by ddl.c right after CREATE/ALTER FOREIGN TABLE, and by table_cache.c
 *	  on first use in a backend.
 *
 *	  The engine identifies a table by a 32-bit id: a hash of
 *	  "keyspace.table", or the 'table_id' option, never above
 *	  WC_USER_TABLE_ID_MAX (the ids above are the node's own tables).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "engine.h"
#include "view.h"

#include "widecol.h"

/* helpers */
static int	find_column(WidecolTable *t, const char *name, const char *option);

/*
 * How messages name widecol table relid: "foreign table", or "table" for a
 * table of the widecol access method.
 */
const char *
widecol_table_word(Oid relid)
{
	return get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE ? "foreign table" : "table";
}
static int32 int_option(DefElem *def, int32 min, int32 max);
static bool caching_rows(const char *value);

static int
find_column(WidecolTable *t, const char *name, const char *option)
{
	for (int i = 0; i < t->ncols; i++)
		if (!t->cols[i].dropped && strcmp(t->cols[i].name, name) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" named in option \"%s\" of %s \"%s\" does not exist",
					name, option, widecol_table_word(t->relid), get_rel_name(t->relid)),
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
 * Whether the "caching" option asks for the row cache: 'rows' or 'all', or
 * Cassandra's map with a rows_per_partition other than 'NONE'
 * ({'keys': 'ALL', 'rows_per_partition': 'ALL'}).  'keys', 'none' and
 * anything else: no.
 */
static bool
caching_rows(const char *value)
{
	char	   *v = asc_tolower(value, strlen(value));
	char	   *rows = strstr(v, "rows_per_partition");

	if (strcmp(v, "rows") == 0 || strcmp(v, "all") == 0)
		return true;
	return rows != NULL && strstr(rows, "none") == NULL;
}

/*
 * Build and validate the model of a widecol foreign table.  Everything is
 * allocated in the current memory context.
 */
WidecolTable *
widecol_build_table(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		foreign = rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE;
	Oid			serverid;
	List	   *table_options;
	ForeignServer *server;
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

	/* a foreign table, or a table of the widecol access method (tam_options.c) */
	if (foreign)
	{
		ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));

		serverid = ft->serverid;
		table_options = ft->options;
	}
	else
		widecol_tam_options(rel, &serverid, &table_options);
	server = GetForeignServer(serverid);
	t->relid = RelationGetRelid(rel);
	t->serverid = serverid;
	t->options = table_options;
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
	foreach(lc, table_options)
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
		else if (strcmp(def->defname, "materialized_view") == 0)
			t->is_view = true;
		else if (strcmp(def->defname, "table_name") == 0)
			t->table_name = defGetString(def);
		else if (strcmp(def->defname, "indexes") == 0)
			t->indexes_text = defGetString(def);
		else if (strcmp(def->defname, "caching") == 0)
			t->cache_rows = caching_rows(defGetString(def));
		else if (strcmp(def->defname, "table_id") == 0)
		{
			t->table_id = (uint32) int_option(def, 1, (int32) WC_USER_TABLE_ID_MAX);
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
					 errhint("Choose a shorter table_name option for the %s or a shorter "
							 "keyspace option for its server.", widecol_table_word(t->relid))));
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
		foreach(lc, foreign ? GetForeignColumnOptions(t->relid, c->attnum) : NIL)
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
			else if (strcmp(def->defname, "cql_type") == 0)
				c->coll = widecol_collection_parse(c, defGetString(def));
			else if (strcmp(def->defname, "writetime") == 0 ||
					 strcmp(def->defname, "ttl") == 0)
			{
				bool		wt = strcmp(def->defname, "writetime") == 0;

				c->kind = wt ? WIDECOL_COL_WRITETIME : WIDECOL_COL_TTL;
				t->has_meta = true;
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
	/* a table USING widecol names its collections in the table option cql_types */
	foreach(lc, foreign ? NIL : table_options)
	{
		DefElem    *def = lfirst(lc);
		ListCell   *lc2;

		if (strcmp(def->defname, "cql_types") != 0)
			continue;
		foreach(lc2, widecol_collection_parse_types(defGetString(def)))
		{
			WidecolCqlPair *pair = lfirst(lc2);

			/* a dropped column's entry is left out (tam_ddl.c prunes it) */
			for (i = 0; i < t->ncols; i++)
				if (!t->cols[i].dropped && strcmp(t->cols[i].name, pair->key) == 0)
					t->cols[i].coll = widecol_collection_parse(&t->cols[i], pair->value);
		}
	}

	/* keys */
	if (primary_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("%s \"%s\" has no primary_key option", foreign ? "foreign table" : "table",
						RelationGetRelationName(rel)),
				 foreign ?
				 errhint("Add OPTIONS (primary_key '(partition_column, clustering_column)') as in a CQL PRIMARY KEY.") :
				 errhint("Add WITH (primary_key = '(partition_column, clustering_column)') as in a CQL PRIMARY KEY.")));
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

		if (!widecol_type_keyable(c->typid) &&
			!(c->coll && c->coll->frozen))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of type %s cannot be part of a widecol primary key",
							c->name, format_type_be(c->typid)),
					 errhint("Key columns may be text, varchar, bytea, smallint, integer, bigint, real, "
							 "double precision, numeric, boolean, uuid, widecol.timeuuid, date, time, "
							 "timestamp, timestamptz, inet, or a composite type whose fields "
							 "are all of these types.")));
	}
	if (t->has_static && t->nck == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("%s \"%s\" has static columns but no clustering columns",
						foreign ? "foreign table" : "table", RelationGetRelationName(rel)),
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
	widecol_counter_check_table(t);
	widecol_collection_check_table(t);
	if (t->indexes_text != NULL)
		t->indexes = widecol_index_parse(t, t->indexes_text);

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
		/* the ids above are the node's own tables (cluster/view.h) */
		if (t->table_id > WC_USER_TABLE_ID_MAX)
			t->table_id -= 0x7fffffff - WC_USER_TABLE_ID_MAX;
	}
	return t;
}
