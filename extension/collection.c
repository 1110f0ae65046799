/*-------------------------------------------------------------------------
 *
 * collection.c
 *		  CQL collections (column option cql_type): sets and lists over
 *		  PostgreSQL arrays, maps over jsonb, stored as collection cells
 *		  whose elements the engine merges one by one.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/collection.c
 *
 * NOTES
 *	  A column with OPTIONS (cql_type 'set<text>') is a collection (a table
 *	  USING widecol names its collections in the table option cql_types
 *	  'col set<text>, ...'); the type is parsed and checked against the
 *	  column's type when schema.c builds the table (so at CREATE and
 *	  ALTER).  The typed schema carries it, so every node of a cluster
 *	  makes the same collection column (typed_schema.c).  Writes of a
 *	  whole value (INSERT, COPY, SET col = value) replace the collection:
 *	  a collection tombstone at ts - 1 and one element per member at ts
 *	  (engine/collection.h), as CQL does.  `UPDATE t SET c = c || x`,
 *	  `array_remove(c, x)`, `m || '{...}'`, `m - 'k'` and `m['k'] = v`
 *	  with the whole primary key are planned by direct_delete.c's
 *	  PlanDirectModify as a direct modify (tables USING widecol:
 *	  tam_modify.c's WidecolModify): no row is read, each partition
 *	  gets element writes or element tombstones, so concurrent updates of
 *	  different elements all survive.  Reads get the live elements
 *	  (docs/protocol.md, READ) and rebuild the array or jsonb value.
 *	  Frozen collections are plain cells holding the whole value.
 *
 *	  Element keys: a set element and a map key are the key encoding of
 *	  the value (keycodec.c), so sets and maps read back sorted and
 *	  unique; a list element's key is 17 bytes, u8 0 (prepended) or 1
 *	  (appended), the write time (big-endian, prepends inverted so a later
 *	  prepend comes first) and a per-backend id with a sequence number, so
 *	  appends of concurrent sessions all land, in time order.
 *
 *	  A column of a composite type whose cql_type names that type
 *	  ('address') is a non-frozen UDT: a collection cell with one element
 *	  per field, keyed by the field's attribute number (2 bytes,
 *	  big-endian), its value the field's value image.  A whole value is a
 *	  tombstone plus the fields; `SET home.city = x` (a FieldStore over
 *	  the column) writes that one element, NULL an element tombstone.  A
 *	  read builds the composite from the live fields; a plain cell
 *	  (written before the column had its cql_type) reads as the value it
 *	  holds.  'frozen<address>' is one plain cell, as a composite column
 *	  without cql_type.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <time.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/subscripting.h"
#include "optimizer/appendinfo.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "client.h"
#include "collection.h"
#include "mutation.h"

#include "widecol.h"

/* what a direct UPDATE does to one column */
typedef enum CollOp
{
	COLL_ASSIGN,				/* a whole value (any column) */
	COLL_ADD,					/* add array elements / map entries */
	COLL_ADD_ONE,				/* add one element */
	COLL_PREPEND,				/* list: prepend array elements (set: add) */
	COLL_PREPEND_ONE,
	COLL_REMOVE_ONE,			/* set: remove a value; map: delete a key */
	COLL_LIST_REMOVE,			/* list: remove every element equal to a value */
	COLL_REMOVE_KEYS,			/* map: delete the keys of a text[] */
	COLL_PUT_KEY,				/* map: m['k'] = jsonb value */
	COLL_LIST_SET,				/* list: l[i] = value (NULL: delete element i) */
	COLL_FIELDS					/* UDT: u.f = value, ... (NULL: delete field f) */
} CollOp;

static const struct
{
	const char *name;
	Oid			typid;			/* InvalidOid: widecol.timeuuid */
	Oid			alt;			/* another PostgreSQL type it may map to */
}			cql_scalars[] =
{
	{"text", TEXTOID, VARCHAROID},
	{"varchar", TEXTOID, VARCHAROID},
	{"ascii", TEXTOID, VARCHAROID},
	{"int", INT4OID, InvalidOid},
	{"bigint", INT8OID, InvalidOid},
	{"smallint", INT2OID, InvalidOid},
	{"boolean", BOOLOID, InvalidOid},
	{"double", FLOAT8OID, InvalidOid},
	{"float", FLOAT4OID, InvalidOid},
	{"decimal", NUMERICOID, InvalidOid},
	{"varint", NUMERICOID, InvalidOid},
	{"uuid", UUIDOID, InvalidOid},
	{"timeuuid", InvalidOid, InvalidOid},
	{"timestamp", TIMESTAMPTZOID, TIMESTAMPOID},
	{"date", DATEOID, InvalidOid},
	{"time", TIMEOID, InvalidOid},
	{"blob", BYTEAOID, InvalidOid},
};

static uint32 list_node;		/* this backend's list-id part, random */
static uint32 list_seq;

static int	find_scalar(const char *name);
static Oid	scalar_typid(int i);
static void bad_cql_type(WidecolColumn *c, const char *text, const char *why);
static void elem_type_info(WidecolCollType *ct, Oid typid);
static void list_key(StringInfo k, bool prepend, int64 ts);
static void put_elem(wc_collb *cb, const char *key, int klen, const char *val, int vlen,
					 bool tombstone, int64 ts, int32 ttl, uint32 ldt, uint32 now);
static void array_elems(WidecolColumn *c, Datum arr, Datum **elems, int *n);
static void add_array_elems(WidecolColumn *c, wc_collb *cb, Datum *elems, int n, bool prepend,
							int64 ts, int32 ttl, uint32 ldt, uint32 now);
static void add_map_entries(WidecolColumn *c, wc_collb *cb, Datum jsonb, int64 ts, int32 ttl,
							uint32 ldt, uint32 now);
static Datum map_key_datum(WidecolColumn *c, const char *s, int len);
static Datum map_value_datum(WidecolColumn *c, const char *key, JsonbValue *v);
static void finish_cell(wc_rowb *rb, WidecolColumn *c, wc_collb *cb);
static bool is_free(Expr *e);
static int	classify(Expr *e, Index rti, AttrNumber attno, WidecolColumn *c, List **args,
					 List **fields);
static WidecolCollType *parse_udt(WidecolColumn *c, WidecolCollType *ct, const char *name,
								  const char *text);
static void add_udt_fields(WidecolColumn *c, wc_collb *cb, Datum value, int64 ts, int32 ttl,
						   uint32 ldt, uint32 now);
static Datum udt_datum(WidecolColumn *c, const uint8 *p, const uint8 *end, uint64 n);
static int	map_entries(WidecolColumn *c, Datum value, Datum **keys, Datum **vals);
static void map_encode_key(StringInfo buf, WidecolColumn *c, Datum value, bool descending);
static Datum map_jsonb(WidecolColumn *c, Datum *keys, Datum *vals, int n);

/* ------------------------------------------------------------ cql_type */

/*
 * cql_type 'address' (or 'frozen<address>') on a column of the composite
 * type address: a UDT, one element per field unless frozen.  name is the
 * option folded to lower case without spaces; it must name the column's
 * type, schema-qualified or not.
 */
static WidecolCollType *
parse_udt(WidecolColumn *c, WidecolCollType *ct, const char *name, const char *text)
{
	char	   *qual = format_type_be_qualified(c->typid);
	char	   *plain;
	StringInfoData want;

	initStringInfo(&want);
	for (char *r = qual; *r; r++)
		if (*r != '"')
			appendStringInfoChar(&want, pg_tolower((unsigned char) *r));
	plain = strrchr(want.data, '.');
	if (strcmp(name, want.data) != 0 && (plain == NULL || strcmp(name, plain + 1) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" with cql_type '%s' must have the type it names, not %s",
						c->name, text, format_type_be(c->typid)),
				 errhint("A column of a composite type takes its type's name as cql_type "
						 "('%s', one cell per field) or 'frozen<%s>' (one cell).",
						 plain ? plain + 1 : want.data, plain ? plain + 1 : want.data)));
	ct->kind = WIDECOL_COLL_UDT;
	ct->elem_cql = "udt";
	return ct;
}

static int
find_scalar(const char *name)
{
	for (int i = 0; i < lengthof(cql_scalars); i++)
		if (strcmp(cql_scalars[i].name, name) == 0)
			return i;
	return -1;
}

static Oid
scalar_typid(int i)
{
	return OidIsValid(cql_scalars[i].typid) ? cql_scalars[i].typid : widecol_timeuuid_oid();
}

static void
bad_cql_type(WidecolColumn *c, const char *text, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("cql_type '%s' of column \"%s\" is not usable: %s", text, c->name, why),
			 errhint("Use set<T> or list<T> over an array of T (set<text> over text[]), "
					 "map<K,V> over jsonb, optionally frozen<...>; T, K and V are CQL scalar types "
					 "such as text, int, bigint, uuid, timestamp; a column of a composite type "
					 "takes the type's name (a UDT).")));
}

static void
elem_type_info(WidecolCollType *ct, Oid typid)
{
	ct->elem_typid = typid;
	get_typlenbyvalalign(typid, &ct->elem_typlen, &ct->elem_byval, &ct->elem_align);
}

/*
 * Parse the cql_type option of column c and check it against the column's
 * type: set<T> and list<T> over T[], map<K,V> over jsonb (K keyable),
 * optionally frozen<...>.  Errors name the column and say what fits.
 */
WidecolCollType *
widecol_collection_parse(WidecolColumn *c, const char *text)
{
	WidecolCollType *ct = palloc0(sizeof(WidecolCollType));
	char	   *s = pstrdup(text),
			   *w = s,
			   *lt,
			   *comma;
	int			len;
	int			si,
				ki = -1;

	/* lower case, no spaces */
	for (char *r = s; *r; r++)
		if (!isspace((unsigned char) *r))
			*w++ = pg_tolower((unsigned char) *r);
	*w = '\0';
	ct->cql = pstrdup(text);
	len = strlen(s);
	if (strncmp(s, "frozen<", 7) == 0 && len > 8 && s[len - 1] == '>')
	{
		ct->frozen = true;
		s[len - 1] = '\0';
		s += 7;
		len -= 8;
	}
	if (get_typtype(c->typid) == TYPTYPE_COMPOSITE && strchr(s, '<') == NULL)
		return parse_udt(c, ct, s, text);
	lt = strchr(s, '<');
	if (lt == NULL || len < 3 || s[len - 1] != '>')
		bad_cql_type(c, text, "it is no collection type");
	*lt = '\0';
	s[len - 1] = '\0';
	if (strchr(lt + 1, '<') != NULL)
		bad_cql_type(c, text, "nested collections are not supported");
	if (strcmp(s, "set") == 0)
		ct->kind = WIDECOL_COLL_SET;
	else if (strcmp(s, "list") == 0)
		ct->kind = WIDECOL_COLL_LIST;
	else if (strcmp(s, "map") == 0)
		ct->kind = WIDECOL_COLL_MAP;
	else
		bad_cql_type(c, text, "it is no collection type");
	comma = strchr(lt + 1, ',');
	if ((ct->kind == WIDECOL_COLL_MAP) != (comma != NULL))
		bad_cql_type(c, text, ct->kind == WIDECOL_COLL_MAP ? "a map needs a key and a value type"
					 : "a set or list has one element type");
	if (comma)
	{
		*comma = '\0';
		ki = find_scalar(lt + 1);
		si = find_scalar(comma + 1);
	}
	else
		si = find_scalar(lt + 1);
	if (si < 0 || (comma && ki < 0))
		bad_cql_type(c, text, "unknown element type");
	ct->elem_cql = cql_scalars[si].name;
	if (ct->kind == WIDECOL_COLL_MAP)
	{
		if (c->typid != JSONBOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" with cql_type '%s' must have type jsonb, not %s",
							c->name, text, format_type_be(c->typid)),
					 errhint("Declare it as \"%s jsonb OPTIONS (cql_type '%s')\".", c->name, text)));
		ct->key_cql = cql_scalars[ki].name;
		ct->key_typid = scalar_typid(ki);
		if (!widecol_type_keyable(ct->key_typid))
			bad_cql_type(c, text, "the map key type cannot be a key");
		elem_type_info(ct, scalar_typid(si));
	}
	else
	{
		Oid			et = get_element_type(c->typid);

		if (!OidIsValid(et) ||
			(et != scalar_typid(si) && et != cql_scalars[si].alt))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" with cql_type '%s' must be an array of %s, not %s",
							c->name, text, format_type_be(scalar_typid(si)), format_type_be(c->typid)),
					 errhint("Declare it as \"%s %s[] OPTIONS (cql_type '%s')\".", c->name,
							 format_type_be(scalar_typid(si)), text)));
		if (ct->kind == WIDECOL_COLL_SET && !widecol_type_keyable(et))
			bad_cql_type(c, text, "the set element type cannot be a key");
		elem_type_info(ct, et);
	}
	return ct;
}

static void
bad_cql_types(const char *text, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("invalid value for widecol option \"cql_types\": %s", why),
			 errdetail("The value is '%s'.", text),
			 errhint("List each collection column with its CQL type, separated by commas: "
					 "cql_types = 'tags set<text>, stock map<text, int>' (quote names that "
					 "have capitals, as in '\"Tags\" set<text>').")));
}

/*
 * The table option cql_types of a table USING widecol, "name type, ...":
 * per column a WidecolCqlPair with the column name as key (folded to lower
 * case unless double-quoted) and its cql_type text as value.  Only the
 * syntax is checked here; schema.c checks the names and types.
 */
List *
widecol_collection_parse_types(const char *text)
{
	List	   *out = NIL;
	const char *p = text;

	for (;;)
	{
		WidecolCqlPair *pair;
		StringInfoData name,
					type;
		int			depth = 0;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
		{
			if (out != NIL)
				bad_cql_types(text, "it ends with a comma");
			break;
		}
		initStringInfo(&name);
		if (*p == '"')
		{
			for (p++;; p++)
			{
				if (*p == '\0')
					bad_cql_types(text, "a quoted column name is not closed");
				if (*p == '"' && p[1] != '"')
					break;
				if (*p == '"')
					p++;
				appendStringInfoChar(&name, *p);
			}
			p++;
		}
		else
			while (*p && !isspace((unsigned char) *p) && *p != ',' && *p != '<')
				appendStringInfoChar(&name, pg_tolower((unsigned char) *p++));
		if (name.len == 0)
			bad_cql_types(text, "a column name is missing");
		initStringInfo(&type);
		while (isspace((unsigned char) *p))
			p++;
		for (; *p && (*p != ',' || depth > 0); p++)
		{
			depth += (*p == '<') - (*p == '>');
			appendStringInfoChar(&type, *p);
		}
		while (type.len > 0 && isspace((unsigned char) type.data[type.len - 1]))
			type.data[--type.len] = '\0';
		if (type.len == 0)
			bad_cql_types(text, psprintf("column \"%s\" has no type", name.data));
		pair = palloc0(sizeof(WidecolCqlPair));
		pair->key = name.data;
		pair->value = type.data;
		out = lappend(out, pair);
		if (*p == '\0')
			break;
		p++;					/* the comma */
	}
	return out;
}

/* Check the table's collection columns: regular or static columns. */
void
widecol_collection_check_table(WidecolTable *t)
{
	for (int i = 0; i < t->ncols; i++)
	{
		WidecolColumn *c = &t->cols[i];

		if (c->dropped || c->coll == NULL)
			continue;
		if ((c->kind == WIDECOL_COL_PARTITION || c->kind == WIDECOL_COL_CLUSTERING) &&
			!c->coll->frozen)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("key column \"%s\" cannot be a %s%s", c->name,
							c->coll->kind == WIDECOL_COLL_UDT ? "non-frozen UDT " : "",
							c->coll->cql),
					 errhint("A key column may be a frozen collection or UDT (frozen<list<T>>, "
							 "frozen<set<T>>, frozen<map<K, V>>, frozen<udt>); others are regular "
							 "columns.")));
		if (c->kind == WIDECOL_COL_WRITETIME || c->kind == WIDECOL_COL_TTL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("column \"%s\" cannot have a cql_type", c->name),
					 errhint("Only regular and static columns hold collections.")));
		if (!c->coll->frozen &&
			(c->kind == WIDECOL_COL_REGULAR || c->kind == WIDECOL_COL_STATIC))
			t->has_collections = true;
	}
}

/* ------------------------------------------------------------ keys */

/* Is typid a one-dimensional array of a key type (a frozen list as a key)? */
bool
widecol_collection_keyable(Oid typid)
{
	Oid			et = get_element_type(typid);

	return OidIsValid(et) && !OidIsValid(get_element_type(et)) && widecol_type_keyable(et);
}

/*
 * The key encoding of an array: per element a 0x01 byte and the element's
 * key encoding, then 0x00, so byte order is the array order of
 * PostgreSQL (element by element, a prefix first).
 */
void
widecol_collection_encode_key(StringInfo buf, Oid typid, Datum value)
{
	Oid			et = get_element_type(typid);
	ArrayType  *a = DatumGetArrayTypeP(value);
	int16		len;
	bool		byval;
	char		align;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a key of type %s must be a one-dimensional array", format_type_be(typid)),
				 errhint("Flatten the array: a frozen list holds single values.")));
	get_typlenbyvalalign(et, &len, &byval, &align);
	deconstruct_array(a, et, len, byval, align, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a key of type %s cannot hold NULL elements", format_type_be(typid)),
					 errhint("Remove the NULLs: CQL collections have none.")));
		appendStringInfoChar(buf, 1);
		widecol_encode_key(buf, et, elems[i], false);
	}
	appendStringInfoChar(buf, 0);
}

/*
 * The key encoding of value of key column c into buf (descending: inverted
 * bytes): a frozen set is encoded sorted and unique, so that any order of
 * its elements names the same key, as in CQL; other values as their type
 * encodes them.
 */
void
widecol_encode_column_key(StringInfo buf, WidecolColumn *c, Datum value, bool descending)
{
	if (c->coll != NULL && c->coll->kind == WIDECOL_COLL_MAP)
	{
		map_encode_key(buf, c, value, descending);
		return;
	}
	if (c->coll != NULL && c->coll->kind == WIDECOL_COLL_SET)
		value = widecol_collection_frozen_value(c, value);
	widecol_encode_key(buf, c->typid, value, descending);
}

/*
 * The same for partition-key column c, one of npk (widecol_encode_pk: the
 * partitioner's serialization).
 */
void
widecol_encode_column_pk(StringInfo buf, WidecolColumn *c, Datum value, int npk)
{
	if (c->coll != NULL && c->coll->kind == WIDECOL_COLL_MAP)
	{
		Datum	   *keys,
				   *vals;
		int			n;

		if (widecol_partitioner != WC_PARTITIONER_MURMUR3)
		{
			map_encode_key(buf, c, value, false);
			return;
		}
		n = map_entries(c, value, &keys, &vals);
		widecol_encode_pk_map(buf, c->coll->key_typid, c->coll->elem_typid, keys, vals, n, npk);
		return;
	}
	if (c->coll != NULL && c->coll->kind == WIDECOL_COLL_SET)
		value = widecol_collection_frozen_value(c, value);
	widecol_encode_pk(buf, c->typid, value, npk);
}

/* Decode key column c at *pp (widecol_encode_column_key's bytes), advancing it. */
Datum
widecol_decode_column_key(const uint8 **pp, const uint8 *end, WidecolColumn *c, bool descending)
{
	Datum	   *keys,
			   *vals;
	int			n = 0,
				cap = 8;

	if (c->coll == NULL || c->coll->kind != WIDECOL_COLL_MAP)
		return widecol_decode_key(pp, end, c->typid, descending);
	keys = palloc(sizeof(Datum) * cap);
	vals = palloc(sizeof(Datum) * cap);
	for (;;)
	{
		uint8		b;

		if (*pp >= end || ((b = descending ? (uint8) ~**pp : **pp) != 0 && b != 1))
			widecol_report(wc_error(WC_CORRUPTION, "malformed frozen map key of column \"%s\"",
									c->name), "reading a key");
		(*pp)++;
		if (b == 0)
			break;
		if (n == cap)
		{
			cap *= 2;
			keys = repalloc(keys, sizeof(Datum) * cap);
			vals = repalloc(vals, sizeof(Datum) * cap);
		}
		keys[n] = widecol_decode_key(pp, end, c->coll->key_typid, descending);
		vals[n++] = widecol_decode_key(pp, end, c->coll->elem_typid, descending);
	}
	return map_jsonb(c, keys, vals, n);
}

/* Decode partition-key column c (one of npk) at *pp (widecol_encode_column_pk's bytes). */
Datum
widecol_decode_column_pk(const uint8 **pp, const uint8 *end, WidecolColumn *c, int npk)
{
	Datum	   *keys,
			   *vals;
	int			n;

	if (c->coll == NULL || c->coll->kind != WIDECOL_COLL_MAP)
		return widecol_decode_pk(pp, end, c->typid, npk);
	if (widecol_partitioner != WC_PARTITIONER_MURMUR3)
		return widecol_decode_column_key(pp, end, c, false);
	n = widecol_decode_pk_map(pp, end, c->coll->key_typid, c->coll->elem_typid, npk, &keys, &vals);
	return map_jsonb(c, keys, vals, n);
}

/* Decode widecol_collection_encode_key's bytes at *pp (inverted when descending). */
Datum
widecol_collection_decode_key(const uint8 **pp, const uint8 *end, Oid typid, bool descending)
{
	Oid			et = get_element_type(typid);
	int16		len;
	bool		byval;
	char		align;
	Datum	   *elems;
	int			n = 0,
				cap = 8;

	get_typlenbyvalalign(et, &len, &byval, &align);
	elems = palloc(sizeof(Datum) * cap);
	for (;;)
	{
		uint8		b;

		if (*pp >= end || ((b = descending ? (uint8) ~**pp : **pp) != 0 && b != 1))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("widecol key bytes are malformed"),
					 errhint("Check that the table's primary_key and column types match the engine "
							 "table it reads (see widecol.tables).")));
		(*pp)++;
		if (b == 0)
			break;
		if (n == cap)
		{
			cap *= 2;
			elems = repalloc(elems, sizeof(Datum) * cap);
		}
		elems[n++] = widecol_decode_key(pp, end, et, descending);
	}
	return PointerGetDatum(construct_array(elems, n, et, len, byval, align));
}

/* ------------------------------------------------------------ encoding */

static void
list_key(StringInfo k, bool prepend, int64 ts)
{
	uint8		b[17];
	uint64		tpart = (uint64) ts ^ UINT64CONST(0x8000000000000000);
	uint64		u;

	if (list_node == 0)
		list_node = (uint32) (pg_prng_uint64(&pg_global_prng_state) | 1);
	if (prepend)
		tpart = ~tpart;
	u = ((uint64) list_node << 32) | ++list_seq;
	b[0] = prepend ? 0 : 1;
	for (int i = 0; i < 8; i++)
	{
		b[1 + i] = (uint8) (tpart >> (56 - 8 * i));
		b[9 + i] = (uint8) (u >> (56 - 8 * i));
	}
	appendBinaryStringInfo(k, (const char *) b, sizeof(b));
}

static void
put_elem(wc_collb *cb, const char *key, int klen, const char *val, int vlen, bool tombstone,
		 int64 ts, int32 ttl, uint32 ldt, uint32 now)
{
	wc_coll_elem e;

	memset(&e, 0, sizeof(e));
	e.key = (const uint8_t *) key;
	e.key_len = klen;
	e.ts = ts;
	if (tombstone)
	{
		e.flags = WC_CELLF_TOMBSTONE;
		e.ldt = now;
	}
	else
	{
		e.value = (const uint8_t *) val;
		e.len = vlen;
		if (ttl > 0)
		{
			e.flags = WC_CELLF_EXPIRING;
			e.ttl = (uint32) ttl;
			e.ldt = ldt;
		}
	}
	wc_collb_elem(cb, &e);
}

/* The elements of a one-dimensional array value of column c; NULL elements are refused. */
static void
array_elems(WidecolColumn *c, Datum arr, Datum **elems, int *n)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	bool	   *nulls;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("collection column \"%s\" takes a one-dimensional array", c->name),
				 errhint("A CQL %s holds single values: flatten the array.", c->coll->cql)));
	deconstruct_array(a, c->coll->elem_typid, c->coll->elem_typlen, c->coll->elem_byval,
					  c->coll->elem_align, elems, &nulls, n);
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("collection column \"%s\" (%s) cannot hold NULL elements", c->name,
							c->coll->cql),
					 errhint("Remove the NULLs from the array, as CQL collections have none.")));
}

typedef struct KeyVal
{
	char	   *key;
	int			klen;
	char	   *val;
	int			vlen;
	int			idx;			/* place in the value: the last of equal keys wins */
} KeyVal;

static int
key_cmp(const KeyVal *x, const KeyVal *y)
{
	int			c = memcmp(x->key, y->key, Min(x->klen, y->klen));

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static int
keyval_cmp(const void *a, const void *b)
{
	const KeyVal *x = a,
			   *y = b;
	int			c = key_cmp(x, y);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sort entries by key, keep the last of equal keys, and put them into cb. */
static void
put_sorted(wc_collb *cb, KeyVal *kv, int n, bool tombstones, int64 ts, int32 ttl, uint32 ldt,
		   uint32 now)
{
	for (int i = 0; i < n; i++)
		kv[i].idx = i;
	if (n > 1)
		qsort(kv, n, sizeof(KeyVal), keyval_cmp);
	for (int i = 0; i < n; i++)
	{
		if (i + 1 < n && key_cmp(&kv[i], &kv[i + 1]) == 0)
			continue;
		put_elem(cb, kv[i].key, kv[i].klen, kv[i].val, kv[i].vlen, tombstones, ts, ttl, ldt, now);
	}
}

static void
add_array_elems(WidecolColumn *c, wc_collb *cb, Datum *elems, int n, bool prepend, int64 ts,
				int32 ttl, uint32 ldt, uint32 now)
{
	WidecolCollType *ct = c->coll;
	KeyVal	   *kv = palloc(sizeof(KeyVal) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		StringInfoData k,
					v;

		initStringInfo(&k);
		initStringInfo(&v);
		if (ct->kind == WIDECOL_COLL_SET)
			widecol_encode_key(&k, ct->elem_typid, elems[i], false);
		else
		{
			list_key(&k, prepend, ts);
			widecol_encode_value(&v, elems[i], ct->elem_typlen, ct->elem_byval);
		}
		kv[i].key = k.data;
		kv[i].klen = k.len;
		kv[i].val = v.data;
		kv[i].vlen = v.len;
	}
	/* list keys ascend already; set keys get sorted and deduplicated */
	put_sorted(cb, kv, n, false, ts, ttl, ldt, now);
}

/*
 * str read by the input function of typid, for a map of column c; an
 * invalid value is an error naming what it is (a key, or the value of a
 * key), the column, and what the map takes.
 */
static Datum
map_input(WidecolColumn *c, Oid typid, const char *str, const char *what, const char *cql,
		  const char *want)
{
	Oid			typinput,
				ioparam;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		d = (Datum) 0;

	getTypeInputInfo(typid, &typinput, &ioparam);
	PG_TRY();
	{
		d = OidInputFunctionCall(typinput, (char *) str, ioparam, -1);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s of column \"%s\" is not a valid %s", what, c->name, cql),
				 errdetail("%s", ed->message),
				 errhint("Column \"%s\" is a CQL %s: give %s.", c->name, c->coll->cql, want)));
	}
	PG_END_TRY();
	return d;
}

/* A map key from its JSON text, as K. */
static Datum
map_key_datum(WidecolColumn *c, const char *s, int len)
{
	char	   *str = pnstrdup(s, len);

	return map_input(c, c->coll->key_typid, str, psprintf("map key \"%s\"", str),
					 c->coll->key_cql, psprintf("every key as a %s", c->coll->key_cql));
}

static bool
json_number_type(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID || t == FLOAT4OID || t == FLOAT8OID ||
		t == NUMERICOID;
}

/* A map value from its JSON value, as V: numbers for numeric types, booleans, else strings. */
static Datum
map_value_datum(WidecolColumn *c, const char *key, JsonbValue *v)
{
	Oid			vt = c->coll->elem_typid;
	const char *want = json_number_type(vt) ? "a JSON number" : vt == BOOLOID ? "true or false" : "a JSON string";
	char	   *str = NULL;

	if (v->type == jbvNumeric && json_number_type(vt))
		str = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvBool && vt == BOOLOID)
		str = v->val.boolean ? "true" : "false";
	else if (v->type == jbvString && !json_number_type(vt) && vt != BOOLOID)
		str = pnstrdup(v->val.string.val, v->val.string.len);
	if (str == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("value of map key \"%s\" of column \"%s\" is not of type %s", key, c->name,
						c->coll->elem_cql),
				 errhint("Column \"%s\" is a CQL %s: give every value as %s (NULL values are not "
						 "allowed; delete a key with - 'key').", c->name, c->coll->cql, want)));
	return map_input(c, vt, str, psprintf("value of map key \"%s\"", key), c->coll->elem_cql,
					 psprintf("every value as %s of type %s", want, c->coll->elem_cql));
}

/* Entries of a jsonb object value into cb (keys and values checked against K and V). */
static void
add_map_entries(WidecolColumn *c, wc_collb *cb, Datum jsonb, int64 ts, int32 ttl, uint32 ldt,
				uint32 now)
{
	Jsonb	   *jb = DatumGetJsonbP(jsonb);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	KeyVal	   *kv;
	int			n = 0,
				cap;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" (%s) takes a JSON object", c->name, c->coll->cql),
				 errhint("Give the map as {\"key\": value, ...}.")));
	cap = Max(JB_ROOT_COUNT(jb), 1);
	kv = palloc(sizeof(KeyVal) * cap);
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			StringInfoData k;

			key = pnstrdup(v.val.string.val, v.val.string.len);
			initStringInfo(&k);
			widecol_encode_key(&k, c->coll->key_typid, map_key_datum(c, v.val.string.val,
																	  v.val.string.len), false);
			kv[n].key = k.data;
			kv[n].klen = k.len;
		}
		else if (tok == WJB_VALUE)
		{
			StringInfoData val;

			initStringInfo(&val);
			widecol_encode_value(&val, map_value_datum(c, key, &v), c->coll->elem_typlen,
								 c->coll->elem_byval);
			kv[n].val = val.data;
			kv[n].vlen = val.len;
			n++;
		}
	}
	put_sorted(cb, kv, n, false, ts, ttl, ldt, now);
}

/* The element key of field attno of a UDT: the attribute number, 2 bytes big-endian. */
static void
udt_key(char *key, int attno)
{
	key[0] = (char) (attno >> 8);
	key[1] = (char) (attno & 0xff);
}

/*
 * The fields of composite value of UDT column c into cb: one element per
 * field that is not NULL, keyed by its attribute number (udt_key), so a
 * field update writes that element alone.
 */
static void
add_udt_fields(WidecolColumn *c, wc_collb *cb, Datum value, int64 ts, int32 ttl, uint32 ldt,
			   uint32 now)
{
	HeapTupleHeader th = DatumGetHeapTupleHeader(value);
	TupleDesc	td = lookup_rowtype_tupdesc(c->typid, -1);
	HeapTupleData tup;
	Datum	   *values = palloc(sizeof(Datum) * Max(td->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(td->natts, 1));

	tup.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = th;
	heap_deform_tuple(&tup, td, values, nulls);
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);
		char		key[2];
		StringInfoData v;

		if (att->attisdropped || nulls[i])
			continue;
		udt_key(key, i + 1);
		initStringInfo(&v);
		widecol_encode_value(&v, values[i], att->attlen, att->attbyval);
		put_elem(cb, key, 2, v.data, v.len, false, ts, ttl, ldt, now);
	}
	ReleaseTupleDesc(td);
}

/* End the collection cb and add it to rb as column c's cell. */
static void
finish_cell(wc_rowb *rb, WidecolColumn *c, wc_collb *cb)
{
	wc_cell		cell;

	if (wc_collb_end(cb) == 0)
		widecol_report(wc_error(WC_NO_MEMORY, "out of memory"), "encoding a collection");
	memset(&cell, 0, sizeof(cell));
	cell.column = c->cell_id;
	cell.flags = WC_CELLF_COLLECTION;
	cell.ts = cb->max_ts;
	cell.value = cb->b->data + cb->start;
	cell.len = cb->b->len - cb->start;
	wc_rowb_cell(rb, &cell);
}

/*
 * Add to rb the cell of a whole collection value of column c (INSERT,
 * COPY, SET c = value): a collection tombstone at ts - 1 and the elements
 * at ts, expiring after ttl seconds when ttl > 0.
 */
void
widecol_collection_put_value(wc_rowb *rb, WidecolColumn *c, Datum value, int64 ts, int32 ttl,
							 uint32 ldt, uint32 now)
{
	wc_buf		b;
	wc_collb	cb;

	wc_buf_init(&b);
	wc_collb_begin(&cb, &b);
	wc_collb_deletion(&cb, ts - 1, now);
	if (c->coll->kind == WIDECOL_COLL_MAP)
		add_map_entries(c, &cb, value, ts, ttl, ldt, now);
	else if (c->coll->kind == WIDECOL_COLL_UDT)
		add_udt_fields(c, &cb, value, ts, ttl, ldt, now);
	else
	{
		Datum	   *elems;
		int			n;

		array_elems(c, value, &elems, &n);
		add_array_elems(c, &cb, elems, n, false, ts, ttl, ldt, now);
	}
	finish_cell(rb, c, &cb);
	wc_buf_free(&b);
}

/* ------------------------------------------------------------ decoding */

/*
 * The value of column c from a collection cell of a read (its live
 * elements, docs/protocol.md): an array, sorted for sets, or a jsonb object.
 */
Datum
widecol_collection_datum(WidecolColumn *c, const wc_cell *cell)
{
	WidecolCollType *ct = c->coll;
	const uint8 *p = cell->value,
			   *end = cell->value + cell->len;
	uint64		n;
	StringInfoData js;
	Datum	   *elems;
	Oid			kout,
				vout;
	bool		varlena;

	if (ct == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" holds a CQL collection but has no cql_type option", c->name),
				 errhint("Give the column its cql_type back: ALTER FOREIGN TABLE ... ALTER COLUMN %s "
						 "OPTIONS (ADD cql_type '...').", c->name)));
	if (!wc_get_varint(&p, end, &n) || n > cell->len)
		widecol_report(wc_error(WC_CORRUPTION, "malformed collection of column \"%s\"", c->name),
					   "reading a collection");
	if (ct->kind == WIDECOL_COLL_UDT)
		return udt_datum(c, p, end, n);
	if (ct->kind == WIDECOL_COLL_MAP)
	{
		getTypeOutputInfo(ct->key_typid, &kout, &varlena);
		getTypeOutputInfo(ct->elem_typid, &vout, &varlena);
		initStringInfo(&js);
		appendStringInfoChar(&js, '{');
	}
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		const uint8 *k,
				   *v;
		size_t		kl,
					vl;

		if (!wc_get_bytes(&p, end, &k, &kl) || !wc_get_bytes(&p, end, &v, &vl))
			widecol_report(wc_error(WC_CORRUPTION, "malformed collection of column \"%s\"", c->name),
						   "reading a collection");
		if (ct->kind == WIDECOL_COLL_SET)
		{
			const uint8 *kp = k;

			elems[i] = widecol_decode_key(&kp, k + kl, ct->elem_typid, false);
		}
		else if (ct->kind == WIDECOL_COLL_LIST)
			elems[i] = widecol_decode_value(v, vl, ct->elem_typlen, ct->elem_byval);
		else
		{
			const uint8 *kp = k;
			Datum		kd = widecol_decode_key(&kp, k + kl, ct->key_typid, false);
			Datum		vd = widecol_decode_value(v, vl, ct->elem_typlen, ct->elem_byval);
			char	   *vs = OidOutputFunctionCall(vout, vd);

			if (i > 0)
				appendStringInfoString(&js, ", ");
			escape_json(&js, OidOutputFunctionCall(kout, kd));
			appendStringInfoString(&js, ": ");
			if (ct->elem_typid == BOOLOID)
				appendStringInfoString(&js, DatumGetBool(vd) ? "true" : "false");
			else if (json_number_type(ct->elem_typid) && strspn(vs, "0123456789.-+eE") == strlen(vs))
				appendStringInfoString(&js, vs);
			else
				escape_json(&js, vs);
		}
	}
	if (ct->kind == WIDECOL_COLL_MAP)
	{
		appendStringInfoChar(&js, '}');
		return DirectFunctionCall1(jsonb_in, CStringGetDatum(js.data));
	}
	return PointerGetDatum(construct_array(elems, (int) n, ct->elem_typid, ct->elem_typlen,
										   ct->elem_byval, ct->elem_align));
}

/*
 * The composite value of UDT column c from its n live fields at p (a
 * field the type no longer has, or does not have yet, is skipped; a
 * field without element is NULL).
 */
static Datum
udt_datum(WidecolColumn *c, const uint8 *p, const uint8 *end, uint64 n)
{
	TupleDesc	td = lookup_rowtype_tupdesc(c->typid, -1);
	Datum	   *values = palloc0(sizeof(Datum) * Max(td->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(td->natts, 1));
	HeapTuple	tup;
	Datum		d;

	memset(nulls, true, sizeof(bool) * Max(td->natts, 1));
	for (uint64 i = 0; i < n; i++)
	{
		const uint8 *k,
				   *v;
		size_t		kl,
					vl;
		int			attno;

		if (!wc_get_bytes(&p, end, &k, &kl) || !wc_get_bytes(&p, end, &v, &vl) || kl != 2)
			widecol_report(wc_error(WC_CORRUPTION, "malformed UDT fields of column \"%s\"", c->name),
						   "reading a UDT");
		attno = (k[0] << 8) | k[1];
		if (attno < 1 || attno > td->natts || TupleDescAttr(td, attno - 1)->attisdropped)
			continue;
		values[attno - 1] = widecol_decode_value(v, vl, TupleDescAttr(td, attno - 1)->attlen,
												 TupleDescAttr(td, attno - 1)->attbyval);
		nulls[attno - 1] = false;
	}
	tup = heap_form_tuple(td, values, nulls);
	d = HeapTupleGetDatum(tup);
	ReleaseTupleDesc(td);
	return d;
}

/*
 * A frozen collection is one cell with the whole value: checked as a
 * collection (map keys and values, no NULL elements), a set sorted and
 * unique, a map with its keys in key order.
 */
Datum
widecol_collection_frozen_value(WidecolColumn *c, Datum value)
{
	wc_buf		b,
				live;
	wc_collb	cb;
	wc_cell		cell;
	uint32_t	n;
	Datum		out = value;

	if (c->coll->kind == WIDECOL_COLL_UDT)
		return value;			/* a frozen UDT: the composite value itself */
	if (c->coll->kind != WIDECOL_COLL_MAP)
	{
		Datum	   *elems;
		int			nelems;

		array_elems(c, value, &elems, &nelems);
		if (c->coll->kind == WIDECOL_COLL_LIST || nelems == 0)
			return value;
		wc_buf_init(&b);
		wc_collb_begin(&cb, &b);
		add_array_elems(c, &cb, elems, nelems, false, 0, 0, 0, 0);
	}
	else
	{
		wc_buf_init(&b);
		wc_collb_begin(&cb, &b);
		add_map_entries(c, &cb, value, 0, 0, 0, 0);
	}
	wc_buf_init(&live);
	if (wc_collb_end(&cb) == 0 ||
		wc_coll_live(b.data, b.len, WC_NO_TIMESTAMP, INT64_MIN, &live, &n) != WC_OK)
		widecol_report(wc_error(WC_NO_MEMORY, "out of memory"), "encoding a collection");
	/* rebuilt through the live form, as a read would: sorted, unique */
	if (n > 0)
	{
		memset(&cell, 0, sizeof(cell));
		cell.value = live.data;
		cell.len = live.len;
		out = widecol_collection_datum(c, &cell);
	}
	wc_buf_free(&live);
	wc_buf_free(&b);
	return out;
}

/*
 * The entries of map value (jsonb) of column c, checked against K and V,
 * in key order without duplicates (the last wins), as palloc'd arrays of
 * K and V datums; returns their count.
 */
static int
map_entries(WidecolColumn *c, Datum value, Datum **keys, Datum **vals)
{
	wc_buf		b,
				live;
	wc_collb	cb;
	uint32_t	n;
	const uint8 *p,
			   *end;
	uint64		cnt;

	wc_buf_init(&b);
	wc_buf_init(&live);
	wc_collb_begin(&cb, &b);
	add_map_entries(c, &cb, value, 0, 0, 0, 0);
	if (wc_collb_end(&cb) == 0 ||
		wc_coll_live(b.data, b.len, WC_NO_TIMESTAMP, INT64_MIN, &live, &n) != WC_OK)
		widecol_report(wc_error(WC_NO_MEMORY, "out of memory"), "encoding a map key");
	*keys = palloc(sizeof(Datum) * Max(n, 1));
	*vals = palloc(sizeof(Datum) * Max(n, 1));
	p = live.data;
	end = live.data + live.len;
	if (n > 0 && (!wc_get_varint(&p, end, &cnt) || cnt != n))
		elog(ERROR, "widecol: malformed live map");
	for (uint32 i = 0; i < n; i++)
	{
		const uint8 *k,
				   *v,
				   *kp;
		size_t		kl,
					vl;

		if (!wc_get_bytes(&p, end, &k, &kl) || !wc_get_bytes(&p, end, &v, &vl))
			elog(ERROR, "widecol: malformed live map");
		kp = k;
		(*keys)[i] = widecol_decode_key(&kp, k + kl, c->coll->key_typid, false);
		(*vals)[i] = widecol_decode_value(v, vl, c->coll->elem_typlen, c->coll->elem_byval);
	}
	wc_buf_free(&b);
	wc_buf_free(&live);
	return (int) n;
}

/*
 * The key encoding of a frozen map (inverted bytes when descending): per
 * entry, in key order, a 0x01 byte, the key's and the value's key
 * encodings, then 0x00; so maps compare entry by entry (key, then value),
 * a prefix first, as CQL's frozen maps do.
 */
static void
map_encode_key(StringInfo buf, WidecolColumn *c, Datum value, bool descending)
{
	Datum	   *keys,
			   *vals;
	int			n = map_entries(c, value, &keys, &vals);
	int			start = buf->len;

	for (int i = 0; i < n; i++)
	{
		appendStringInfoChar(buf, 1);
		widecol_encode_key(buf, c->coll->key_typid, keys[i], false);
		widecol_encode_key(buf, c->coll->elem_typid, vals[i], false);
	}
	appendStringInfoChar(buf, 0);
	if (descending)
		for (int i = start; i < buf->len; i++)
			buf->data[i] = (char) ~buf->data[i];
}

/* The jsonb value of map column c with the n entries keys, vals (in key order). */
static Datum
map_jsonb(WidecolColumn *c, Datum *keys, Datum *vals, int n)
{
	wc_buf		live;
	wc_cell		cell;
	Datum		out;

	wc_buf_init(&live);
	wc_buf_put_varint(&live, (uint64) n);
	for (int i = 0; i < n; i++)
	{
		StringInfoData k,
					v;

		initStringInfo(&k);
		initStringInfo(&v);
		widecol_encode_key(&k, c->coll->key_typid, keys[i], false);
		widecol_encode_value(&v, vals[i], c->coll->elem_typlen, c->coll->elem_byval);
		wc_buf_put_bytes(&live, k.data, k.len);
		wc_buf_put_bytes(&live, v.data, v.len);
	}
	if (live.failed)
		widecol_report(wc_error(WC_NO_MEMORY, "out of memory"), "reading a map key");
	memset(&cell, 0, sizeof(cell));
	cell.value = live.data;
	cell.len = live.len;
	out = widecol_collection_datum(c, &cell);
	wc_buf_free(&live);
	return out;
}

/* ------------------------------------------------------------ planning */

static bool
is_free(Expr *e)
{
	return !contain_var_clause((Node *) e) && !contain_subplans((Node *) e);
}

/*
 * What the new-value expression e of column attno does: a CollOp, with
 * its argument expressions in *args; -1 when the shape needs a read.
 */
static int
classify(Expr *e, Index rti, AttrNumber attno, WidecolColumn *c, List **args, List **fields)
{
	Expr	   *core = widecol_strip_coercions(e);
	bool		elements = c->coll != NULL && !c->coll->frozen;

	*args = NIL;
	*fields = NIL;
	if (is_free(e))
	{
		*args = list_make1(e);
		return COLL_ASSIGN;
	}
	if (!elements)
		return -1;
	if (IsA(core, FieldStore) && c->coll->kind == WIDECOL_COLL_UDT)
	{
		/* SET u.a = x, u.b = y: one FieldStore, or nested ones (inner first) */
		Expr	   *x = core;

		while (IsA(x, FieldStore))
		{
			FieldStore *fs = (FieldStore *) x;
			List	   *nums = NIL;
			ListCell   *lv,
					   *ln;

			forboth(lv, fs->newvals, ln, fs->fieldnums)
			{
				if (!is_free(lfirst(lv)))
					return -1;
				nums = lappend(nums, makeInteger(lfirst_int(ln)));
			}
			*args = list_concat(list_copy(fs->newvals), *args);
			*fields = list_concat(nums, *fields);
			x = widecol_strip_coercions(fs->arg);
		}
		return widecol_is_column(x, rti, attno) ? COLL_FIELDS : -1;
	}
	if (IsA(core, OpExpr) && list_length(((OpExpr *) core)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) core;
		Expr	   *a = linitial(op->args),
				   *b = lsecond(op->args);
		Oid			f = get_opcode(op->opno);
		bool		a_col = widecol_is_column(a, rti, attno) && is_free(b);
		bool		b_col = widecol_is_column(b, rti, attno) && is_free(a);

		*args = list_make1(a_col ? b : a);
		if (f == F_ARRAY_CAT && a_col)
			return COLL_ADD;
		if (f == F_ARRAY_CAT && b_col)
			return COLL_PREPEND;
		if (f == F_ARRAY_APPEND && a_col)
			return COLL_ADD_ONE;
		if (f == F_ARRAY_PREPEND && b_col)
			return COLL_PREPEND_ONE;
		if (f == F_JSONB_CONCAT && a_col)
			return COLL_ADD;
		if (f == F_JSONB_DELETE_JSONB_TEXT && a_col)
			return COLL_REMOVE_ONE;
		if (f == F_JSONB_DELETE_JSONB__TEXT && a_col)
			return COLL_REMOVE_KEYS;
		return -1;
	}
	if (IsA(core, FuncExpr) && ((FuncExpr *) core)->funcid == F_ARRAY_REMOVE)
	{
		FuncExpr   *fe = (FuncExpr *) core;

		if (list_length(fe->args) == 2 && widecol_is_column(linitial(fe->args), rti, attno) &&
			is_free(lsecond(fe->args)))
		{
			*args = list_make1(lsecond(fe->args));
			return c->coll->kind == WIDECOL_COLL_SET ? COLL_REMOVE_ONE : COLL_LIST_REMOVE;
		}
		return -1;
	}
	if (IsA(core, SubscriptingRef) && c->coll->kind == WIDECOL_COLL_MAP)
	{
		SubscriptingRef *sr = (SubscriptingRef *) core;

		if (sr->refassgnexpr != NULL && list_length(sr->refupperindexpr) == 1 &&
			linitial(sr->refupperindexpr) != NULL &&
			exprType(linitial(sr->refupperindexpr)) == TEXTOID &&
			sr->reflowerindexpr == NIL && widecol_is_column(sr->refexpr, rti, attno) &&
			is_free((Expr *) linitial(sr->refupperindexpr)) && is_free(sr->refassgnexpr))
		{
			*args = list_make2(linitial(sr->refupperindexpr), sr->refassgnexpr);
			return COLL_PUT_KEY;
		}
	}
	if (IsA(core, SubscriptingRef) && c->coll->kind == WIDECOL_COLL_LIST)
	{
		SubscriptingRef *sr = (SubscriptingRef *) core;

		if (sr->refassgnexpr != NULL && list_length(sr->refupperindexpr) == 1 &&
			linitial(sr->refupperindexpr) != NULL &&
			exprType(linitial(sr->refupperindexpr)) == INT4OID &&
			sr->reflowerindexpr == NIL && widecol_is_column(sr->refexpr, rti, attno) &&
			is_free((Expr *) linitial(sr->refupperindexpr)) && is_free(sr->refassgnexpr))
		{
			*args = list_make2(linitial(sr->refupperindexpr), sr->refassgnexpr);
			return COLL_LIST_SET;
		}
	}
	return -1;
}

/*
 * The element writes of `UPDATE t SET c = c || x ...` whose new-value
 * expressions are exprs (of the columns attnos, of range table entry rti),
 * for an UPDATE that names its rows by the whole primary key: a List of
 * (attno, op, argument expressions) triples, or NIL when some assignment
 * needs the row (modify.c then reads and writes whole values) or when no
 * assignment changes elements.
 */
List *
widecol_collection_ops(List *exprs, List *attnos, Index rti, WidecolTable *t)
{
	List	   *ops = NIL;
	ListCell   *lc,
			   *lc2;
	bool		any_element = false;

	forboth(lc, exprs, lc2, attnos)
	{
		AttrNumber	attno = lfirst_int(lc2);
		WidecolColumn *c;
		List	   *args,
				   *fields;
		int			op;

		if (attno <= 0 || attno > t->ncols)
			return NIL;
		c = &t->cols[attno - 1];
		if (c->kind != WIDECOL_COL_REGULAR || c->is_counter)
			return NIL;
		op = classify(lfirst(lc), rti, attno, c, &args, &fields);
		if (op < 0)
			return NIL;
		if (op != COLL_ASSIGN)
			any_element = true;
		/* a field update carries the field numbers fourth */
		ops = lappend(ops, op == COLL_FIELDS ?
					  list_make4(makeInteger(attno), makeInteger(op), args, fields) :
					  list_make3(makeInteger(attno), makeInteger(op), args));
	}
	return any_element ? ops : NIL;
}

/*
 * Plan `UPDATE t SET c = c || x ...` (an element write of a collection
 * column, with the whole primary key) as a direct modify of fscan: false
 * when widecol_collection_ops finds none or the WHERE is not the whole
 * primary key.  On success appends to fscan->fdw_private the Integer 2 and
 * the List of (attno, op, argument expressions) triples.
 */
bool
widecol_collection_plan_update(PlannerInfo *root, ModifyTable *plan, Index rti,
							   ForeignScan *fscan, WidecolTable *t)
{
	List	   *tlist,
			   *attnos,
			   *exprs = NIL,
			   *ops;
	ListCell   *lc;

	if (!widecol_direct_update_names_rows(fscan->fdw_private, fscan->scan.plan.qual, t))
		return false;
	get_translated_update_targetlist(root, rti, &tlist, &attnos);
	foreach(lc, tlist)
		exprs = lappend(exprs, lfirst_node(TargetEntry, lc)->expr);
	ops = widecol_collection_ops(exprs, attnos, rti, t);
	if (ops == NIL)
		return false;
	fscan->operation = CMD_UPDATE;
	fscan->resultRelation = rti;
	fscan->fdw_private = lappend(fscan->fdw_private, makeInteger(2));
	fscan->fdw_private = lappend(fscan->fdw_private, ops);
	return true;
}

/* Is this direct modify a collection UPDATE (widecol_collection_plan_update)? */
bool
widecol_collection_is_update(ForeignScan *fs)
{
	int			n = list_length(fs->fdw_private);

	return fs->operation == CMD_UPDATE && n >= 2 && IsA(list_nth(fs->fdw_private, n - 2), Integer) &&
		intVal(list_nth(fs->fdw_private, n - 2)) == 2;
}

/* ------------------------------------------------------------ execution */

typedef struct CollWrite
{
	WidecolColumn *c;
	CollOp		op;
	Datum		arg,
				arg2;
	bool		isnull,
				isnull2;
	int			nf;				/* COLL_FIELDS: the fields set, in SET order */
	int		   *fnums;
	Datum	   *fvals;
	bool	   *fnulls;
} CollWrite;

static int
collwrite_cmp(const void *a, const void *b)
{
	const CollWrite *x = a,
			   *y = b;

	return (x->c->cell_id > y->c->cell_id) - (x->c->cell_id < y->c->cell_id);
}

/*
 * Read the list of column c in the row the scan names (its partition pk
 * and clustering key, with the transaction's pending writes) and call
 * visit for each element, in list order, with its position (from 1), key
 * and value bytes.  The caller's writes keep the elements' keys, so
 * elements appended meanwhile by others stay.
 */
static void
read_list(WidecolScanState *ss, StringInfo pk, WidecolColumn *c,
		  void (*visit) (void *arg, uint64 pos, const uint8 *k, size_t kl, const uint8 *v,
						 size_t vl), void *arg)
{
	wc_read_request req;
	wc_client_page *page = NULL;
	uint8	   *overlay;
	size_t		olen = 0;
	uint32		nov;
	uint64		pos = 0;
	wc_status	st;

	memset(&req, 0, sizeof(req));
	req.table_id = ss->t->table_id;
	req.pk = (const uint8_t *) pk->data;
	req.pk_len = pk->len;
	req.start.key = req.end.key = (const uint8_t *) ss->lower_key.data;
	req.start.len = req.end.len = ss->lower_key.len;
	req.start.unbounded = req.end.unbounded = ss->lower_key.len == 0;
	req.start.inclusive = req.end.inclusive = true;
	req.columns = &c->cell_id;
	req.ncolumns = 1;
	req.page_rows = 1;
	overlay = widecol_txn_overlay(ss->t->table_id, pk->data, pk->len, widecol_txn_position(),
								  &olen, &nov);
	st = wc_client_read_ex(widecol_connection(), &req, widecol_consistency, overlay, olen, false,
						   &page);
	if (st != WC_OK)
		widecol_report(st, "read");
	ss->requests++;
	for (size_t r = 0; r < page->nrows; r++)
		for (uint32 i = 0; i < page->rows[r].ncells; i++)
		{
			const wc_cell *cell = &page->rows[r].cells[i];
			const uint8 *p = cell->value,
					   *end = cell->value + cell->len;
			uint64		n = 0;

			if (cell->column != c->cell_id || !(cell->flags & WC_CELLF_COLLECTION) ||
				!wc_get_varint(&p, end, &n))
				continue;
			for (uint64 j = 0; j < n; j++)
			{
				const uint8 *k,
						   *ev;
				size_t		kl,
							evl;

				if (!wc_get_bytes(&p, end, &k, &kl) || !wc_get_bytes(&p, end, &ev, &evl))
					break;
				visit(arg, ++pos, k, kl, ev, evl);
			}
		}
	wc_client_page_free(page);
}

/* What a list removal or index assignment puts into cb (read_list visitor). */
typedef struct ListEdit
{
	wc_collb   *cb;
	StringInfoData value;		/* removal: the value; assignment: the new value */
	uint64		index;			/* assignment: the position, from 1; removal: 0 */
	bool		tombstone;		/* assignment of NULL: delete the element */
	bool		found;
	int64		ts;
	int32		ttl;
	uint32		ldt,
				now;
} ListEdit;

static void
edit_list_element(void *arg, uint64 pos, const uint8 *k, size_t kl, const uint8 *v, size_t vl)
{
	ListEdit   *e = arg;

	if (e->index == 0 && vl == (size_t) e->value.len && memcmp(v, e->value.data, vl) == 0)
		put_elem(e->cb, (const char *) k, (int) kl, NULL, 0, true, e->ts, 0, 0, e->now);
	else if (e->index == pos)
	{
		put_elem(e->cb, (const char *) k, (int) kl, e->value.data, e->value.len, e->tombstone,
				 e->ts, e->ttl, e->ldt, e->now);
		e->found = true;
	}
}

/*
 * The field writes of a UDT update into cb: an element per field (the
 * last one set when SET names a field twice), an element tombstone for a
 * field set to NULL.
 */
static void
put_fields(wc_collb *cb, CollWrite *w, int64 ts, int32 ttl, uint32 ldt, uint32 now)
{
	TupleDesc	td = lookup_rowtype_tupdesc(w->c->typid, -1);
	KeyVal	   *kv = palloc(sizeof(KeyVal) * Max(w->nf, 1));

	for (int i = 0; i < w->nf; i++)
	{
		Form_pg_attribute att;
		StringInfoData v;

		if (w->fnums[i] < 1 || w->fnums[i] > td->natts)
			elog(ERROR, "widecol: field %d of column \"%s\" out of range", w->fnums[i], w->c->name);
		att = TupleDescAttr(td, w->fnums[i] - 1);
		kv[i].key = palloc(2);
		kv[i].klen = 2;
		udt_key(kv[i].key, w->fnums[i]);
		kv[i].idx = i;
		kv[i].val = NULL;
		kv[i].vlen = 0;
		if (!w->fnulls[i])
		{
			initStringInfo(&v);
			widecol_encode_value(&v, w->fvals[i], att->attlen, att->attbyval);
			kv[i].val = v.data;
			kv[i].vlen = v.len;
		}
	}
	ReleaseTupleDesc(td);
	if (w->nf > 1)
		qsort(kv, w->nf, sizeof(KeyVal), keyval_cmp);
	for (int i = 0; i < w->nf; i++)
	{
		if (i + 1 < w->nf && key_cmp(&kv[i], &kv[i + 1]) == 0)
			continue;
		put_elem(cb, kv[i].key, 2, kv[i].val, kv[i].vlen, kv[i].val == NULL, ts, ttl, ldt, now);
	}
}

/* Add the cell of one planned write to the row rb of partition pk. */
static void
add_write_cell(wc_rowb *rb, CollWrite *w, int64 ts, int32 ttl, uint32 ldt, uint32 now,
			   WidecolScanState *ss, StringInfo pk)
{
	WidecolColumn *c = w->c;
	wc_buf		b;
	wc_collb	cb;
	wc_cell		cell;

	if (w->op == COLL_ASSIGN)
	{
		StringInfoData val;

		memset(&cell, 0, sizeof(cell));
		cell.column = c->cell_id;
		cell.ts = ts;
		if (w->isnull)
		{
			cell.flags = WC_CELLF_TOMBSTONE;
			cell.ldt = now;
			wc_rowb_cell(rb, &cell);
			return;
		}
		if (c->coll != NULL && !c->coll->frozen)
		{
			widecol_collection_put_value(rb, c, w->arg, ts, ttl, ldt, now);
			return;
		}
		initStringInfo(&val);
		widecol_encode_value(&val, c->coll ? widecol_collection_frozen_value(c, w->arg) : w->arg,
							 c->typlen, c->typbyval);
		cell.value = (const uint8_t *) val.data;
		cell.len = val.len;
		if (ttl > 0)
		{
			cell.flags = WC_CELLF_EXPIRING;
			cell.ttl = (uint32) ttl;
			cell.ldt = ldt;
		}
		wc_rowb_cell(rb, &cell);
		return;
	}
	wc_buf_init(&b);
	wc_collb_begin(&cb, &b);
	switch (w->op)
	{
		case COLL_ADD:
		case COLL_PREPEND:
			if (c->coll->kind == WIDECOL_COLL_MAP)
				add_map_entries(c, &cb, w->arg, ts, ttl, ldt, now);
			else
			{
				Datum	   *elems;
				int			n;

				array_elems(c, w->arg, &elems, &n);
				add_array_elems(c, &cb, elems, n, w->op == COLL_PREPEND, ts, ttl, ldt, now);
			}
			break;
		case COLL_ADD_ONE:
		case COLL_PREPEND_ONE:
			if (w->isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("collection column \"%s\" (%s) cannot hold NULL elements", c->name,
								c->coll->cql),
						 errhint("Add a value that is not NULL.")));
			add_array_elems(c, &cb, &w->arg, 1, w->op == COLL_PREPEND_ONE, ts, ttl, ldt, now);
			break;
		case COLL_REMOVE_ONE:
		case COLL_REMOVE_KEYS:
			{
				Datum	   *keys = &w->arg;
				bool	   *nulls = NULL;
				int			n = 1,
							nkv = 0;
				KeyVal	   *kv;
				Oid			kt = c->coll->kind == WIDECOL_COLL_MAP ? c->coll->key_typid
					: c->coll->elem_typid;

				if (w->op == COLL_REMOVE_KEYS)
					deconstruct_array(DatumGetArrayTypeP(w->arg), TEXTOID, -1, false, TYPALIGN_INT,
									  &keys, &nulls, &n);
				kv = palloc(sizeof(KeyVal) * Max(n, 1));
				for (int i = 0; i < n; i++)
				{
					StringInfoData k;
					Datum		d = keys[i];

					if (nulls && nulls[i])
						continue;	/* a NULL key removes nothing */
					initStringInfo(&k);
					if (c->coll->kind == WIDECOL_COLL_MAP)
					{
						text	   *tk = DatumGetTextPP(keys[i]);

						d = map_key_datum(c, VARDATA_ANY(tk), VARSIZE_ANY_EXHDR(tk));
					}
					widecol_encode_key(&k, kt, d, false);
					kv[nkv].key = k.data;
					kv[nkv].klen = k.len;
					kv[nkv].val = NULL;
					kv[nkv].vlen = 0;
					nkv++;
				}
				put_sorted(&cb, kv, nkv, true, ts, ttl, ldt, now);
				break;
			}
		case COLL_LIST_REMOVE:
		case COLL_LIST_SET:
			{
				/* read the list, as CQL does for both, and edit elements by their keys */
				ListEdit	e;

				memset(&e, 0, sizeof(e));
				e.cb = &cb;
				e.ts = ts;
				e.ttl = ttl;
				e.ldt = ldt;
				e.now = now;
				initStringInfo(&e.value);
				if (w->op == COLL_LIST_REMOVE && w->isnull)
					break;
				if (w->op == COLL_LIST_SET)
				{
					if (w->isnull || DatumGetInt32(w->arg) < 1)
						ereport(ERROR,
								(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
								 errmsg("list index of column \"%s\" must be 1 or more", c->name),
								 errhint("Lists are numbered from 1, as PostgreSQL arrays: %s[1] is "
										 "the first element.", c->name)));
					e.index = (uint64) DatumGetInt32(w->arg);
					e.tombstone = w->isnull2;
				}
				if (!(w->op == COLL_LIST_SET && w->isnull2))
					widecol_encode_value(&e.value, w->op == COLL_LIST_SET ? w->arg2 : w->arg,
										 c->coll->elem_typlen, c->coll->elem_byval);
				read_list(ss, pk, c, edit_list_element, &e);
				if (w->op == COLL_LIST_SET && !e.found)
					ereport(ERROR,
							(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
							 errmsg("list \"%s\" has no element %d", c->name, DatumGetInt32(w->arg)),
							 errhint("Set an element the list has (cardinality(%s) tells how many), "
									 "or append with %s = %s || ARRAY[...].", c->name, c->name,
									 c->name)));
				break;
			}
		case COLL_PUT_KEY:
			{
				text	   *tk;
				Jsonb	   *jv;
				JsonbValue	v;
				StringInfoData k,
							val;

				if (w->isnull || w->isnull2)
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("map column \"%s\" cannot take a NULL key or value", c->name),
							 errhint("Delete a key with SET %s = %s - 'key'.", c->name, c->name)));
				tk = DatumGetTextPP(w->arg);
				jv = DatumGetJsonbP(w->arg2);
				if (!JsonbExtractScalar(&jv->root, &v))
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("value of map key \"%s\" of column \"%s\" is not of type %s",
									text_to_cstring(tk), c->name, c->coll->elem_cql),
							 errhint("Give a single JSON value.")));
				initStringInfo(&k);
				initStringInfo(&val);
				widecol_encode_key(&k, c->coll->key_typid,
								   map_key_datum(c, VARDATA_ANY(tk), VARSIZE_ANY_EXHDR(tk)), false);
				widecol_encode_value(&val, map_value_datum(c, text_to_cstring(tk), &v),
									 c->coll->elem_typlen, c->coll->elem_byval);
				put_elem(&cb, k.data, k.len, val.data, val.len, false, ts, ttl, ldt, now);
				break;
			}
		case COLL_FIELDS:
			put_fields(&cb, w, ts, ttl, ldt, now);
			break;
		default:
			elog(ERROR, "widecol: unknown collection write %d", (int) w->op);
	}
	if (cb.n == 0)
	{
		/* nothing to add or remove */
		wc_buf_free(&b);
		return;
	}
	finish_cell(rb, c, &cb);
	wc_buf_free(&b);
}

typedef struct CollUpdate
{
	WidecolScanState *ss;
	CollWrite  *ws;				/* in column order */
	int			n;
	int64		ts;
	int32		ttl;
	uint32		ldt,
				now;
} CollUpdate;

/* The element writes of one row (widecol_row_fill). */
static void
add_writes(wc_rowb *rb, StringInfo pk, void *arg)
{
	CollUpdate *u = arg;

	for (int i = 0; i < u->n; i++)
		add_write_cell(rb, &u->ws[i], u->ts, u->ttl, u->ldt, u->now, u->ss, pk);
}

/*
 * Send the element writes of a collection UPDATE (ops as made by
 * widecol_collection_ops) to each partition of the scan ss of executor
 * node ps (the row named by the clustering key), without reading.  Adds
 * the rows to es_processed: a missing row gets the cells, as CQL's UPDATE
 * does.
 */
void
widecol_collection_update(WidecolScanState *ss, PlanState *ps, List *ops)
{
	WidecolTable *t = ss->t;
	ExprContext *econtext = ps->ps_ExprContext;
	int			n = list_length(ops);
	CollWrite  *ws = palloc0(sizeof(CollWrite) * Max(n, 1));
	int64		ts = widecol_txn_write_timestamp();
	int32		ttl = widecol_ttl >= 0 ? widecol_ttl : t->default_ttl;
	uint32		now = (uint32) time(NULL);
	uint32		ldt = ttl > 0 ? now + (uint32) ttl : 0;
	CollUpdate	ctx;
	ListCell   *lc;
	int			k = 0;

	foreach(lc, ops)
	{
		List	   *triple = lfirst(lc);
		List	   *args = lthird(triple);
		CollWrite  *cw = &ws[k++];

		cw->c = &t->cols[intVal(linitial(triple)) - 1];
		cw->op = (CollOp) intVal(lsecond(triple));
		if (cw->op == COLL_FIELDS)
		{
			cw->nf = list_length(args);
			cw->fnums = palloc(sizeof(int) * cw->nf);
			cw->fvals = palloc(sizeof(Datum) * cw->nf);
			cw->fnulls = palloc(sizeof(bool) * cw->nf);
			for (int j = 0; j < cw->nf; j++)
			{
				cw->fnums[j] = intVal(list_nth(lfourth(triple), j));
				cw->fvals[j] = ExecEvalExprSwitchContext(ExecInitExpr(list_nth(args, j), NULL),
														 econtext, &cw->fnulls[j]);
			}
			continue;
		}
		cw->arg = ExecEvalExprSwitchContext(ExecInitExpr(linitial(args), NULL), econtext,
											&cw->isnull);
		if (list_length(args) > 1)
			cw->arg2 = ExecEvalExprSwitchContext(ExecInitExpr(lsecond(args), NULL), econtext,
												 &cw->isnull2);
		if (cw->isnull && cw->op != COLL_ASSIGN && cw->op != COLL_ADD_ONE &&
			cw->op != COLL_PREPEND_ONE && cw->op != COLL_PUT_KEY && cw->op != COLL_LIST_REMOVE &&
			cw->op != COLL_LIST_SET)
		{
			/* NULL || c and array_remove(c, NULL) change nothing */
			if (cw->c->coll->kind == WIDECOL_COLL_MAP && cw->op == COLL_ADD)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("cannot add NULL to map column \"%s\"", cw->c->name),
						 errhint("Add a JSON object: SET %s = %s || '{\"key\": value}'.",
								 cw->c->name, cw->c->name)));
			k--;
		}
	}
	if (k > 1)
		qsort(ws, k, sizeof(CollWrite), collwrite_cmp);
	ctx.ss = ss;
	ctx.ws = ws;
	ctx.n = k;
	ctx.ts = ts;
	ctx.ttl = ttl;
	ctx.ldt = ldt;
	ctx.now = now;
	widecol_direct_update_rows(ss, ps, add_writes, &ctx, "encoding a collection update");
}

void
widecol_collection_explain(WidecolScanState *ss, List *ops, ExplainState *es)
{
	const char *list_read = NULL;
	bool		fields = false,
				elements = false;
	ListCell   *lc;

	foreach(lc, ops)
	{
		int			op = intVal(lsecond((List *) lfirst(lc)));

		if (op == COLL_FIELDS)
			fields = true;
		else if (op != COLL_ASSIGN)
			elements = true;

		if (op == COLL_LIST_REMOVE)
			list_read = "the list (element removal)";
		else if (op == COLL_LIST_SET && list_read == NULL)
			list_read = "the list (index assignment)";
	}
	ExplainPropertyText("Widecol Collection Update", ss->desc, es);
	ExplainPropertyText("Writes", fields && elements ? "collection elements, UDT fields" :
						fields ? "UDT fields" : "collection elements", es);
	ExplainPropertyText("Reads Before Write", list_read ? list_read : "none", es);
	ExplainPropertyText("Consistency", widecol_consistency_name(widecol_consistency), es);
}
