/*-------------------------------------------------------------------------
 *
 * typed_schema.c
 *		  Translation between a widecol foreign table and the typed table
 *		  schema of engine/schema_def.h, both ways.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/typed_schema.c
 *
 * NOTES
 *	  The typed schema (keyspace and replication, columns, options, owner,
 *	  version) is kept by the engine with its table.  It is built here from
 *	  the model of schema.c, encoded and sent whole on every CREATE and
 *	  ALTER (engine_table.c), read back to compare keys, and turned back
 *	  into the CREATE FOREIGN TABLE that IMPORT FOREIGN SCHEMA runs.
 *
 *	  Decoded schemas are freed by a reset callback of the memory context
 *	  they were read in, so callers treat them like palloc'd memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "client.h"
#include "consistency.h"
#include "engine.h"
#include "schema_def.h"

#include "widecol.h"

/* helpers */
static wc_schema_option *cql_map_options(const char *option, const char *text, size_t *n);
static void build_schema(WidecolTable *t, const EngineOwnership *o, uint64 version, wc_schema *s);
static void append_options(StringInfo out, List *options, const char *sep);
static char *key_columns(const wc_schema *s, uint32 kind, bool with_order);
static char *primary_key_text(const wc_schema *s);

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
const wc_schema *
widecol_engine_schema(const wc_table_def *def)
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
	"memtable_flush_period_in_ms", "crc_check_chance",
	"materialized_view"			/* the recipe the node keeps a view by (matview.c) */
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
	List	   *ftopts = t->options;
	ListCell   *lc;
	int			n = 0;

	wc_schema_init(s);
	s->version = version;
	s->keyspace = t->keyspace;
	s->table = t->table_name;
	s->table_id = t->table_id;
	s->default_ttl = (uint32) t->default_ttl;
	s->gc_grace_seconds = (uint32) t->gc_grace_seconds;
	widecol_keyspace_replication(t, &r);
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

		/* the secondary indexes, which the nodes build (index.c) */
		if (strcmp(def->defname, "indexes") == 0)
		{
			props[s->nproperties].name = def->defname;
			props[s->nproperties].value = defGetString(def);
			s->nproperties++;
		}
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
		s->owner.access_method = o->access_method;
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
		sc->cql_type = c->coll ? c->coll->cql : NULL;
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
void
widecol_fill_engine_def(WidecolTable *t, wc_table_def *def, const EngineOwnership *o, uint64 version)
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
				 errmsg("the compaction map of %s \"%s\" is longer than %zu bytes",
						widecol_table_word(t->relid), get_rel_name(t->relid),
						sizeof(def->compaction) - 1),
				 errhint("Leave out options that keep their default value.")));
	strlcpy(def->compaction, t->compaction ? t->compaction : "", sizeof(def->compaction));
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
char *
widecol_key_difference(WidecolTable *t, const wc_table_def *existing)
{
	const wc_schema *old = widecol_engine_schema(existing);
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
 * Append the definition of column c as CREATE FOREIGN TABLE and ALTER
 * FOREIGN TABLE ... ADD COLUMN spell it: name, type and column options.
 */
void
widecol_column_definition(const wc_schema_column *c, StringInfo out)
{
	appendStringInfo(out, "%s %s OPTIONS (column_id '%u'",
					 quote_identifier(c->name), c->type ? c->type : "text", c->cell_id);
	if (c->kind == WC_COL_STATIC)
		appendStringInfoString(out, ", static 'true'");
	else if (c->kind == WC_COL_WRITETIME && c->meta_of)
		appendStringInfo(out, ", writetime %s",
						 quote_literal_cstr(quote_identifier(c->meta_of)));
	else if (c->kind == WC_COL_TTL && c->meta_of)
		appendStringInfo(out, ", ttl %s", quote_literal_cstr(quote_identifier(c->meta_of)));
	if (c->cql_type)
		appendStringInfo(out, ", cql_type %s", quote_literal_cstr(c->cql_type));
	appendStringInfoChar(out, ')');
}

/*
 * The table options of s as DefElems, in the order a CREATE writes them:
 * primary_key, clustering_order, compaction, default_time_to_live,
 * gc_grace_seconds, the other CQL properties, and table_id id.
 */
List *
widecol_schema_options(const wc_schema *s, uint32 id)
{
	List	   *out = NIL;
	char	   *order = key_columns(s, WC_COL_CLUSTERING, true);

#define OPT(name, value) out = lappend(out, makeDefElem(pstrdup(name), (Node *) makeString(value), -1))
	OPT("primary_key", primary_key_text(s));
	if (order)
		OPT("clustering_order", order);
	if (s->ncompaction > 0)
	{
		StringInfoData map;

		initStringInfo(&map);
		for (size_t i = 0; i < s->ncompaction; i++)
			appendStringInfo(&map, "%s'%s': %s", i ? ", " : "{", s->compaction[i].name,
							 s->compaction[i].value);
		appendStringInfoChar(&map, '}');
		OPT("compaction", map.data);
	}
	OPT("default_time_to_live", psprintf("%u", s->default_ttl));
	OPT("gc_grace_seconds", psprintf("%u", s->gc_grace_seconds));
	for (size_t i = 0; i < s->nproperties; i++)
		OPT(s->properties[i].name, pstrdup(s->properties[i].value));
	OPT("table_id", psprintf("%u", id));
#undef OPT
	return out;
}

/*
 * The table options of the USING widecol table of s: those of
 * widecol_schema_options, and cql_types naming each collection column
 * and its CQL type, as such a table gives them.
 */
List *
widecol_tam_schema_options(const wc_schema *s, uint32 id)
{
	List	   *out = widecol_schema_options(s, id);
	StringInfoData types;

	initStringInfo(&types);
	for (size_t i = 0; i < s->ncolumns; i++)
		if (s->columns[i].cql_type)
			appendStringInfo(&types, "%s%s %s", types.len ? ", " : "",
							 quote_identifier(s->columns[i].name), s->columns[i].cql_type);
	if (types.len > 0)
		out = lappend(out, makeDefElem(pstrdup("cql_types"), (Node *) makeString(types.data), -1));
	return out;
}

/* Append options as "name<sep>'value'" separated by ", " (OPTIONS: sep " ", WITH: " = "). */
static void
append_options(StringInfo out, List *options, const char *sep)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		appendStringInfo(out, "%s%s%s%s", foreach_current_index(lc) ? ", " : "",
						 quote_identifier(def->defname), sep, quote_literal_cstr(defGetString(def)));
	}
}

/*
 * The CREATE TABLE ... USING widecol that makes a table of the cluster
 * schema s (engine table id) in this database, named relname, in keyspace
 * server: its columns in cell order, so that each column's attribute number
 * is its cell id, with a placeholder column for each gap, returned in
 * *gaps (names, to drop after the CREATE).  NULL if s has no partition
 * key or a column a USING widecol table cannot have.
 */
char *
widecol_tam_create_command(const wc_schema *s, uint32 id, const char *relname,
						   ForeignServer *server, List **gaps)
{
	StringInfoData cmd;
	List	   *options = widecol_tam_schema_options(s, id);
	uint32		attno = 1;
	bool		more = true;

	*gaps = NIL;
	if (key_columns(s, WC_COL_PARTITION, false) == NULL)
		return NULL;
	for (size_t i = 0; i < s->ncolumns; i++)
		if (s->columns[i].kind != WC_COL_PARTITION && s->columns[i].kind != WC_COL_CLUSTERING &&
			s->columns[i].kind != WC_COL_REGULAR)
			return NULL;
	initStringInfo(&cmd);
	appendStringInfo(&cmd, "CREATE TABLE %s (", quote_identifier(relname));
	while (more)
	{
		const wc_schema_column *c = NULL;

		more = false;
		for (size_t i = 0; i < s->ncolumns; i++)
		{
			if (s->columns[i].cell_id == attno)
				c = &s->columns[i];
			if (s->columns[i].cell_id > attno)
				more = true;
		}
		if (c == NULL && !more)
			break;
		if (attno > 1)
			appendStringInfoString(&cmd, ", ");
		if (c != NULL)
			appendStringInfo(&cmd, "%s %s", quote_identifier(c->name), c->type ? c->type : "text");
		else
		{
			char	   *gap = psprintf("widecol_gap_%u", attno);

			appendStringInfo(&cmd, "%s integer", gap);
			*gaps = lappend(*gaps, gap);
		}
		attno++;
	}
	appendStringInfoString(&cmd, ") USING widecol WITH (");
	if (strcmp(server->servername, widecol_tam_default_keyspace) != 0)
		options = lcons(makeDefElem("keyspace", (Node *) makeString(server->servername), -1),
						options);
	if (strcmp(relname, s->table) != 0)
		options = lappend(options, makeDefElem("table_name", (Node *) makeString((char *) s->table), -1));
	append_options(&cmd, options, " = ");
	appendStringInfoChar(&cmd, ')');
	return cmd.data;
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
	const wc_schema *s = widecol_engine_schema(def);
	StringInfoData cmd,
				cols;

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
		if (cols.len)
			appendStringInfoString(&cols, ",\n");
		appendStringInfoString(&cols, "  ");
		widecol_column_definition(&s->columns[i], &cols);
	}
	initStringInfo(&cmd);
	appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (\n%s\n) SERVER %s OPTIONS (",
					 quote_identifier(s->table), cols.data, quote_identifier(server->servername));
	append_options(&cmd, widecol_schema_options(s, def->id), " ");
	appendStringInfoChar(&cmd, ')');
	return cmd.data;
}
