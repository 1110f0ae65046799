/*-------------------------------------------------------------------------
 *
 * keycodec.c
 *		  Byte-comparable encodings of key columns, and value images of
 *		  every column, between PostgreSQL datums and the engine's opaque
 *		  bytes.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/keycodec.c
 *
 * NOTES
 *		The engine orders clustering keys with memcmp, so each key column is
 *		encoded so that byte order equals PostgreSQL's btree order for the
 *		type (text: the "C" collation, which is also Cassandra's order), and
 *		so that each component is self-delimiting: a composite key is the
 *		concatenation of its components, and a prefix of components is a
 *		valid slice bound.  A DESC column is the bitwise complement of its
 *		ASC encoding, which reverses the order and stays self-delimiting.
 *		Layouts are in docs/file-formats.md ("Key encodings").
 *
 *		Values (every column stored in a cell) are the datum's own image:
 *		typlen bytes for fixed-length types, the detoasted contents for
 *		varlena types.  Decoding rebuilds an identical datum.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/socket.h>

#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "keys.h"
#include "widecol.h"

static void enc_be(StringInfo buf, uint64 v, int nbytes);
static uint64 dec_be(const uint8 *p, int nbytes, bool desc);
static void enc_escaped(StringInfo buf, const char *data, int len);
static void enc_numeric(StringInfo buf, Datum value);
static Datum dec_numeric(const uint8 **pp, const uint8 *end, bool desc);
static void enc_inet(StringInfo buf, Datum value);
static Datum dec_inet(const uint8 **pp, const uint8 *end, bool desc);
static void enc_record(StringInfo buf, Oid typid, Datum value);
static Datum dec_record(const uint8 **pp, const uint8 *end, Oid typid, bool desc);
static TupleDesc deform_record(Oid typid, Datum value, Datum **values, bool **nulls);
static void codec_corrupt(void) pg_attribute_noreturn();

/* markers before each field of a composite key: NULL sorts last, as record_cmp */
#define WC_FIELD_PRESENT 1
#define WC_FIELD_NULL 2
/* nesting of composite types inside key columns */
#define WC_MAX_KEY_DEPTH 8

static void
codec_corrupt(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("widecol key bytes are malformed"),
			 errhint("Check that the table's primary_key and column types match the engine table "
					 "it reads (see widecol.tables); otherwise restore the table from a backup.")));
}

static bool type_keyable_depth(Oid typid, int depth);

/*
 * Is typid usable as a partition or clustering key column?  Composite types
 * (CQL's frozen UDTs) are, when every field is.
 */
bool
widecol_type_keyable(Oid typid)
{
	return type_keyable_depth(typid, 0);
}

static bool
type_keyable_depth(Oid typid, int depth)
{
	switch (typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
		case UUIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INETOID:
			return true;
		default:
			break;
	}
	if (typid == widecol_timeuuid_oid())
		return true;
	if (depth < WC_MAX_KEY_DEPTH && get_typtype(typid) == TYPTYPE_COMPOSITE)
	{
		TupleDesc	td = lookup_rowtype_tupdesc(typid, -1);
		bool		ok = true;

		for (int i = 0; i < td->natts && ok; i++)
		{
			Form_pg_attribute a = TupleDescAttr(td, i);

			if (!a->attisdropped)
				ok = type_keyable_depth(a->atttypid, depth + 1);
		}
		ReleaseTupleDesc(td);
		return ok;
	}
	return false;
}

/*
 * Does the byte order of typid's key encoding agree with PostgreSQL's for
 * comparisons of this kind (ordered: < > and ORDER BY; else equality)?
 * Only composite keys can disagree, through a text field whose collation
 * is not "C" (ordered) or not deterministic (equality); their operators
 * carry no collation of their own for the planner to check.
 */
bool
widecol_key_order_agrees(Oid typid, bool ordered)
{
	TupleDesc	td;
	bool		ok = true;

	/* a frozen map key sorts entry by entry, jsonb does not */
	if (typid == JSONBOID)
		return !ordered;
	if (get_typtype(typid) != TYPTYPE_COMPOSITE)
		return true;
	td = lookup_rowtype_tupdesc(typid, -1);
	for (int i = 0; i < td->natts && ok; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (a->attisdropped)
			continue;
		if (OidIsValid(a->attcollation))
			ok = ordered ? lc_collate_is_c(a->attcollation) :
				get_collation_isdeterministic(a->attcollation);
		if (ok)
			ok = widecol_key_order_agrees(a->atttypid, ordered);
	}
	ReleaseTupleDesc(td);
	return ok;
}

static void
enc_be(StringInfo buf, uint64 v, int nbytes)
{
	char		b[8];

	for (int i = nbytes - 1; i >= 0; i--)
	{
		b[i] = (char) (v & 0xff);
		v >>= 8;
	}
	appendBinaryStringInfo(buf, b, nbytes);
}

static uint64
dec_be(const uint8 *p, int nbytes, bool desc)
{
	uint64		v = 0;

	for (int i = 0; i < nbytes; i++)
		v = (v << 8) | (uint8) (desc ? ~p[i] : p[i]);
	return v;
}

/* 0x00 -> 0x00 0xFF; terminated by 0x00 0x00 */
static void
enc_escaped(StringInfo buf, const char *data, int len)
{
	const char *zero = len > 0 ? memchr(data, '\0', len) : NULL;
	static const char term[2] = {0, 0};

	if (zero == NULL)
	{
		/* text never holds a NUL: one copy */
		enlargeStringInfo(buf, len + 2);
		memcpy(buf->data + buf->len, data, len);
		buf->len += len;
		appendBinaryStringInfo(buf, term, 2);
		return;
	}
	enlargeStringInfo(buf, len * 2 + 2);
	for (int i = 0; i < len; i++)
	{
		buf->data[buf->len++] = data[i];
		if (data[i] == '\0')
			buf->data[buf->len++] = (char) 0xff;
	}
	appendBinaryStringInfo(buf, term, 2);
}

static uint64
float8_key(float8 f)
{
	uint64		u;

	if (isnan(f))
		f = get_float8_nan();	/* one NaN, greater than everything */
	if (f == 0.0)
		f = 0.0;				/* -0 equals +0 */
	memcpy(&u, &f, 8);
	return (u & UINT64CONST(0x8000000000000000)) ? ~u : (u | UINT64CONST(0x8000000000000000));
}

static float8
float8_unkey(uint64 u)
{
	float8		f;

	u = (u & UINT64CONST(0x8000000000000000)) ? (u & ~UINT64CONST(0x8000000000000000)) : ~u;
	memcpy(&f, &u, 8);
	return f;
}

static uint32
float4_key(float4 f)
{
	uint32		u;

	if (isnan(f))
		f = get_float4_nan();
	if (f == 0.0f)
		f = 0.0f;
	memcpy(&u, &f, 4);
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float4
float4_unkey(uint32 u)
{
	float4		f;

	u = (u & 0x80000000u) ? (u & ~0x80000000u) : ~u;
	memcpy(&f, &u, 4);
	return f;
}

/*
 * numeric: a marker byte (1 -Inf, 2 negative, 3 zero, 4 positive, 5 +Inf,
 * 6 NaN), then for finite non-zero values the decimal exponent e (value =
 * 0.d1d2... x 10^e) as 4 bytes big-endian with the sign bit flipped, then
 * the significant digits two per byte as (10*d1 + d2) + 1, terminated by
 * 0x00.  Negative values complement the exponent and digit bytes.  Trailing
 * zeros are dropped, so 1.0 and 1.00 are the same key (they are equal in
 * PostgreSQL too); decoding yields the shortest form.
 */
static void
enc_numeric(StringInfo buf, Datum value)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));
	char	   *p = s;
	bool		neg = false;
	StringInfoData digits;
	int			exp10 = 0;
	bool		seen_point = false,
				leading = true;
	int			start;

	if (strcmp(s, "NaN") == 0)
	{
		appendStringInfoChar(buf, 6);
		return;
	}
	if (strcmp(s, "Infinity") == 0)
	{
		appendStringInfoChar(buf, 5);
		return;
	}
	if (strcmp(s, "-Infinity") == 0)
	{
		appendStringInfoChar(buf, 1);
		return;
	}
	if (*p == '-')
	{
		neg = true;
		p++;
	}
	initStringInfo(&digits);
	for (; *p; p++)
	{
		if (*p == '.')
		{
			seen_point = true;
			continue;
		}
		if (leading && *p == '0')
		{
			if (seen_point)
				exp10--;
			continue;
		}
		leading = false;
		appendStringInfoChar(&digits, *p);
		if (!seen_point)
			exp10++;
	}
	while (digits.len > 0 && digits.data[digits.len - 1] == '0')
		digits.data[--digits.len] = '\0';
	if (digits.len == 0)
	{
		appendStringInfoChar(buf, 3);
		return;
	}
	appendStringInfoChar(buf, neg ? 2 : 4);
	start = buf->len;
	enc_be(buf, (uint32) exp10 ^ 0x80000000u, 4);
	for (int i = 0; i < digits.len; i += 2)
	{
		int			d1 = digits.data[i] - '0';
		int			d2 = i + 1 < digits.len ? digits.data[i + 1] - '0' : 0;

		appendStringInfoChar(buf, (char) (d1 * 10 + d2 + 1));
	}
	appendStringInfoChar(buf, '\0');
	if (neg)
		for (int i = start; i < buf->len; i++)
			buf->data[i] = (char) ~buf->data[i];
}

static Datum
dec_numeric(const uint8 **pp, const uint8 *end, bool desc)
{
	const uint8 *p = *pp;
	uint8		marker;
	StringInfoData s;
	int			exp10;
	bool		neg;
	StringInfoData digits;
	Datum		result;

	if (p >= end)
		codec_corrupt();
	marker = desc ? (uint8) ~*p : *p;
	p++;
	switch (marker)
	{
		case 1:
			*pp = p;
			return DirectFunctionCall3(numeric_in, CStringGetDatum("-Infinity"),
									   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		case 3:
			*pp = p;
			return DirectFunctionCall3(numeric_in, CStringGetDatum("0"),
									   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		case 5:
			*pp = p;
			return DirectFunctionCall3(numeric_in, CStringGetDatum("Infinity"),
									   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		case 6:
			*pp = p;
			return DirectFunctionCall3(numeric_in, CStringGetDatum("NaN"),
									   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		case 2:
		case 4:
			break;
		default:
			codec_corrupt();
	}
	neg = marker == 2;
	if (end - p < 5)
		codec_corrupt();
	exp10 = (int) (int32) ((uint32) dec_be(p, 4, desc != neg) ^ 0x80000000u);
	p += 4;
	initStringInfo(&digits);
	for (;;)
	{
		uint8		b;

		if (p >= end)
			codec_corrupt();
		b = (desc != neg) ? (uint8) ~*p : *p;
		p++;
		if (b == 0)
			break;
		if (b > 100)
			codec_corrupt();
		appendStringInfoChar(&digits, (char) ('0' + (b - 1) / 10));
		appendStringInfoChar(&digits, (char) ('0' + (b - 1) % 10));
	}
	*pp = p;
	/* an odd number of digits was padded with a zero: drop it */
	while (digits.len > 0 && digits.data[digits.len - 1] == '0')
		digits.data[--digits.len] = '\0';
	if (digits.len == 0)
		codec_corrupt();
	/* render as 0.<digits>e<exp10> */
	initStringInfo(&s);
	if (neg)
		appendStringInfoChar(&s, '-');
	appendStringInfo(&s, "0.%se%d", digits.data, exp10);
	/* the digits carry no trailing zeros, so the display scale is the shortest one */
	result = DirectFunctionCall3(numeric_in, CStringGetDatum(s.data),
								 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	return result;
}

/*
 * inet and cidr, in network_cmp's order: the family byte; then the bits of
 * the network prefix as 2-bit symbols (1 for a 0 bit, 2 for a 1 bit) ended
 * by a 0 symbol and padded with 0 symbols to a whole byte, four symbols a
 * byte; then every byte of the address.  Comparing the symbols compares the
 * common prefix first and puts the shorter mask first when it is equal,
 * as network_cmp does, and the address bytes decide last.
 */
static void
enc_inet(StringInfo buf, Datum value)
{
	inet	   *ip = DatumGetInetPP(value);
	int			bits = ip_bits(ip);
	const unsigned char *addr = ip_addr(ip);
	uint8		cur = 0;
	int			nsym = 0;

	appendStringInfoChar(buf, (char) ip_family(ip));
	for (int i = 0; i <= bits; i++)
	{
		uint8		sym = i == bits ? 0 : ((addr[i / 8] >> (7 - i % 8)) & 1) + 1;

		cur |= (uint8) (sym << (6 - 2 * nsym));
		if (++nsym == 4)
		{
			appendStringInfoChar(buf, (char) cur);
			cur = 0;
			nsym = 0;
		}
	}
	if (nsym > 0)
		appendStringInfoChar(buf, (char) cur);
	appendBinaryStringInfo(buf, (const char *) addr, ip_addrsize(ip));
}

static Datum
dec_inet(const uint8 **pp, const uint8 *end, bool desc)
{
	const uint8 *p = *pp;
	const uint8 *sym;
	inet	   *ip = palloc0(sizeof(inet));
	uint8		family;
	int			maxbits,
				bits = -1,
				size;

	if (p >= end)
		codec_corrupt();
	family = desc ? (uint8) ~*p : *p;
	p++;
	if (family != PGSQL_AF_INET && family != PGSQL_AF_INET6)
		codec_corrupt();
	maxbits = family == PGSQL_AF_INET ? 32 : 128;
	size = family == PGSQL_AF_INET ? 4 : 16;
	ip_family(ip) = family;
	sym = p;
	/* the prefix symbols; the address bytes that follow carry the same bits */
	for (int i = 0; bits < 0; i++)
	{
		uint8		b;

		if (p >= end || i > maxbits / 4)
			codec_corrupt();
		b = desc ? (uint8) ~*p : *p;
		p++;
		for (int s = 0; s < 4 && bits < 0; s++)
		{
			if (((b >> (6 - 2 * s)) & 3) == 0)
				bits = i * 4 + s;
		}
	}
	if (bits > maxbits || end - p < size)
		codec_corrupt();
	for (int i = 0; i < size; i++)
		ip_addr(ip)[i] = desc ? (uint8) ~p[i] : p[i];
	/* the symbols must be the address's prefix and the padding zero */
	for (int i = 0; i < (bits / 4 + 1) * 4; i++)
	{
		uint8		b = desc ? (uint8) ~sym[i / 4] : sym[i / 4];
		uint8		s = (b >> (6 - 2 * (i % 4))) & 3;
		uint8		want = i < bits ? ((ip_addr(ip)[i / 8] >> (7 - i % 8)) & 1) + 1 : 0;

		if (s != want)
			codec_corrupt();
	}
	ip_bits(ip) = (unsigned char) bits;
	SET_INET_VARSIZE(ip);
	*pp = p + size;
	return InetPGetDatum(ip);
}

/*
 * The fields of composite value of type typid into palloc'd *values and
 * *nulls; returns its tuple descriptor, pinned (ReleaseTupleDesc it).
 */
static TupleDesc
deform_record(Oid typid, Datum value, Datum **values, bool **nulls)
{
	HeapTupleHeader th = DatumGetHeapTupleHeader(value);
	TupleDesc	td = lookup_rowtype_tupdesc(typid, -1);
	HeapTupleData tup;

	*values = palloc(sizeof(Datum) * td->natts);
	*nulls = palloc(sizeof(bool) * td->natts);
	tup.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = th;
	heap_deform_tuple(&tup, td, *values, *nulls);
	return td;
}

/*
 * A composite value (CQL's frozen UDT), in record_cmp's order: for each
 * live field, WC_FIELD_NULL, or WC_FIELD_PRESENT and the field's own
 * (ascending) key encoding.
 */
static void
enc_record(StringInfo buf, Oid typid, Datum value)
{
	Datum	   *values;
	bool	   *nulls;
	TupleDesc	td = deform_record(typid, value, &values, &nulls);

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (a->attisdropped)
			continue;
		if (nulls[i])
		{
			appendStringInfoChar(buf, WC_FIELD_NULL);
			continue;
		}
		appendStringInfoChar(buf, WC_FIELD_PRESENT);
		widecol_encode_key(buf, a->atttypid, values[i], false);
	}
	ReleaseTupleDesc(td);
	pfree(values);
	pfree(nulls);
}

static Datum
dec_record(const uint8 **pp, const uint8 *end, Oid typid, bool desc)
{
	TupleDesc	td = lookup_rowtype_tupdesc_copy(typid, -1);
	Datum	   *values = palloc0(sizeof(Datum) * td->natts);
	bool	   *nulls = palloc(sizeof(bool) * td->natts);
	const uint8 *p = *pp;
	HeapTuple	tup;

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);
		uint8		marker;

		nulls[i] = true;
		if (a->attisdropped)
			continue;
		if (p >= end)
			codec_corrupt();
		marker = desc ? (uint8) ~*p : *p;
		p++;
		if (marker == WC_FIELD_NULL)
			continue;
		if (marker != WC_FIELD_PRESENT)
			codec_corrupt();
		/* a DESC component is complemented whole: its fields decode as DESC */
		values[i] = widecol_decode_key(&p, end, a->atttypid, desc);
		nulls[i] = false;
	}
	*pp = p;
	tup = heap_form_tuple(td, values, nulls);
	return HeapTupleGetDatum(tup);
}

/*
 * Append the encoding of one key component.  REQUIRES: widecol_type_keyable(typid)
 * and value not NULL (keys may not be NULL; callers check and report).
 */
void
widecol_encode_key(StringInfo buf, Oid typid, Datum value, bool descending)
{
	int			start = buf->len;

	switch (typid)
	{
		case BOOLOID:
			appendStringInfoChar(buf, DatumGetBool(value) ? 1 : 0);
			break;
		case INT2OID:
			enc_be(buf, (uint16) DatumGetInt16(value) ^ 0x8000, 2);
			break;
		case INT4OID:
		case DATEOID:
			enc_be(buf, (uint32) DatumGetInt32(value) ^ 0x80000000u, 4);
			break;
		case INT8OID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			enc_be(buf, (uint64) DatumGetInt64(value) ^ UINT64CONST(0x8000000000000000), 8);
			break;
		case FLOAT4OID:
			enc_be(buf, float4_key(DatumGetFloat4(value)), 4);
			break;
		case FLOAT8OID:
			enc_be(buf, float8_key(DatumGetFloat8(value)), 8);
			break;
		case NUMERICOID:
			enc_numeric(buf, value);
			break;
		case UUIDOID:
			appendBinaryStringInfo(buf, (const char *) DatumGetUUIDP(value)->data, UUID_LEN);
			break;
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

				enc_escaped(buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
				break;
			}
		case INETOID:
		case CIDROID:
			enc_inet(buf, value);
			break;
		default:
			if (typid == widecol_timeuuid_oid())
			{
				widecol_timeuuid_encode_key(buf, value);
				break;
			}
			if (get_typtype(typid) == TYPTYPE_COMPOSITE)
			{
				enc_record(buf, typid, value);
				break;
			}
			if (widecol_collection_keyable(typid))
			{
				widecol_collection_encode_key(buf, typid, value);
				break;
			}
			elog(ERROR, "widecol: type %u cannot be a key", typid);
	}
	if (descending)
		for (int i = start; i < buf->len; i++)
			buf->data[i] = (char) ~buf->data[i];
}

/*
 * Decode one key component starting at *pp, advancing it.  Malformed bytes
 * are reported as data corruption, never returned as a datum.
 */
Datum
widecol_decode_key(const uint8 **pp, const uint8 *end, Oid typid, bool descending)
{
	const uint8 *p = *pp;
	bool		d = descending;
	int			n = 0;
	Datum		result;

	switch (typid)
	{
		case BOOLOID:
			n = 1;
			break;
		case INT2OID:
			n = 2;
			break;
		case INT4OID:
		case DATEOID:
		case FLOAT4OID:
			n = 4;
			break;
		case INT8OID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case FLOAT8OID:
			n = 8;
			break;
		case UUIDOID:
			n = UUID_LEN;
			break;
		case NUMERICOID:
			return dec_numeric(pp, end, d);
		case INETOID:
		case CIDROID:
			return dec_inet(pp, end, d);
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			{
				StringInfoData s;

				initStringInfo(&s);
				for (;;)
				{
					uint8		b,
								b2;

					if (end - p < 2)
						codec_corrupt();
					b = d ? (uint8) ~p[0] : p[0];
					if (b != 0)
					{
						appendStringInfoChar(&s, (char) b);
						p++;
						continue;
					}
					b2 = d ? (uint8) ~p[1] : p[1];
					p += 2;
					if (b2 == 0)
						break;
					if (b2 != 0xff)
						codec_corrupt();
					appendStringInfoChar(&s, '\0');
				}
				*pp = p;
				if (typid != BYTEAOID && memchr(s.data, '\0', s.len) != NULL)
					codec_corrupt();
				{
					bytea	   *v = (bytea *) palloc(VARHDRSZ + s.len);

					SET_VARSIZE(v, VARHDRSZ + s.len);
					memcpy(VARDATA(v), s.data, s.len);
					return PointerGetDatum(v);
				}
			}
		default:
			if (typid == widecol_timeuuid_oid())
				return widecol_timeuuid_decode_key(pp, end, d);
			if (get_typtype(typid) == TYPTYPE_COMPOSITE)
				return dec_record(pp, end, typid, d);
			if (widecol_collection_keyable(typid))
				return widecol_collection_decode_key(pp, end, typid, d);
			elog(ERROR, "widecol: type %u cannot be a key", typid);
	}
	if (end - p < n)
		codec_corrupt();
	switch (typid)
	{
		case BOOLOID:
			{
				uint8		b = d ? (uint8) ~p[0] : p[0];

				if (b > 1)
					codec_corrupt();
				result = BoolGetDatum(b == 1);
				break;
			}
		case INT2OID:
			result = Int16GetDatum((int16) (dec_be(p, 2, d) ^ 0x8000));
			break;
		case INT4OID:
		case DATEOID:
			result = Int32GetDatum((int32) (dec_be(p, 4, d) ^ 0x80000000u));
			break;
		case INT8OID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			result = Int64GetDatum((int64) (dec_be(p, 8, d) ^ UINT64CONST(0x8000000000000000)));
			break;
		case FLOAT4OID:
			result = Float4GetDatum(float4_unkey((uint32) dec_be(p, 4, d)));
			break;
		case FLOAT8OID:
			result = Float8GetDatum(float8_unkey(dec_be(p, 8, d)));
			break;
		case UUIDOID:
			{
				pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

				for (int i = 0; i < UUID_LEN; i++)
					u->data[i] = d ? (uint8) ~p[i] : p[i];
				result = UUIDPGetDatum(u);
				break;
			}
		default:
			result = (Datum) 0;
	}
	*pp = p + n;
	return result;
}

/*
 * Append the value image of a datum: typlen bytes for fixed-length types,
 * the detoasted contents for varlena.  cstring-like types (typlen -2) are
 * stored with their bytes.
 */
void
widecol_encode_value(StringInfo buf, Datum value, int16 typlen, bool typbyval)
{
	if (typbyval)
	{
		char		tmp[8];

		store_att_byval(tmp, value, typlen);
		appendBinaryStringInfo(buf, tmp, typlen);
	}
	else if (typlen > 0)
		appendBinaryStringInfo(buf, DatumGetPointer(value), typlen);
	else if (typlen == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

		appendBinaryStringInfo(buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	}
	else
	{
		const char *s = DatumGetCString(value);

		appendBinaryStringInfo(buf, s, strlen(s));
	}
}

/* Rebuild a datum from its value image (palloc'd in the current context). */
Datum
widecol_decode_value(const uint8 *p, size_t len, int16 typlen, bool typbyval)
{
	if (typbyval)
	{
		if (len != (size_t) typlen)
			codec_corrupt();
		switch (typlen)
		{
			case 1:
				return CharGetDatum(*(const char *) p);
			case 2:
				{
					int16		v;

					memcpy(&v, p, 2);
					return Int16GetDatum(v);
				}
			case 4:
				{
					int32		v;

					memcpy(&v, p, 4);
					return Int32GetDatum(v);
				}
			case 8:
				{
					int64		v;

					memcpy(&v, p, 8);
					return Int64GetDatum(v);
				}
			default:
				codec_corrupt();
		}
	}
	if (typlen > 0)
	{
		char	   *d;

		if (len != (size_t) typlen)
			codec_corrupt();
		d = palloc(typlen);
		memcpy(d, p, typlen);
		return PointerGetDatum(d);
	}
	if (typlen == -1)
	{
		struct varlena *v;

		if (len > MaxAllocSize - VARHDRSZ)
			codec_corrupt();
		v = palloc(VARHDRSZ + len);
		SET_VARSIZE(v, VARHDRSZ + len);
		memcpy(VARDATA(v), p, len);
		return PointerGetDatum(v);
	}
	{
		char	   *s = palloc(len + 1);

		memcpy(s, p, len);
		s[len] = '\0';
		return CStringGetDatum(s);
	}
}

/*
 * Partition keys under the murmur3 partitioner are the key serialized as
 * Cassandra serializes it, so that Murmur3Partitioner's token of these bytes
 * is Cassandra's token() of the same key.  One column: its value's bytes;
 * several: per column a 2-byte big-endian length, the bytes and 0x00 (CQL's
 * composite key).  Partitions are then ordered by token alone, so these
 * bytes need not be byte-comparable.  Where Cassandra's type holds less than
 * PostgreSQL's (timestamps in milliseconds, inet without a mask) the extra
 * is appended only when present, so every value Cassandra can hold has
 * Cassandra's bytes and every PostgreSQL value stays a distinct key; values
 * that PostgreSQL finds equal get one form (-0 and +0, NaNs, 1.0 and 1.00).
 * Layouts: docs/file-formats.md ("Partitioners").
 */

/* seconds and days between the Unix and PostgreSQL epochs */
#define WC_UNIX_TO_PG_MS INT64CONST(946684800000)
#define WC_UNIX_TO_PG_DAYS 10957
/* Cassandra's date: days since the Unix epoch, offset by 2^31, unsigned */
#define WC_CQL_DATE_OFFSET INT64CONST(2147483648)

static void cass_encode(StringInfo buf, Oid typid, Datum value);
static Datum cass_decode(const uint8 *p, size_t len, Oid typid);
static int	pk_component_begin(StringInfo buf, int npk);
static void pk_component_end(StringInfo buf, int at, int npk);
static const uint8 *pk_component(const uint8 **pp, const uint8 *end, int npk, size_t *len);

/* Append a 4-byte length placeholder; returns where it is. */
static int
cass_len_begin(StringInfo buf)
{
	int			at = buf->len;

	enc_be(buf, 0, 4);
	return at;
}

static void
cass_len_end(StringInfo buf, int at)
{
	uint32		n = (uint32) (buf->len - at - 4);

	for (int i = 0; i < 4; i++)
		buf->data[at + i] = (char) (n >> (24 - 8 * i));
}

/*
 * numeric as CQL decimal: the scale (4 bytes) and the unscaled value in
 * two's complement, big-endian, in the fewest bytes (Java's BigInteger).
 * Trailing fractional zeros are dropped first (1.50 is 15 at scale 1).
 * NaN, Infinity and -Infinity, which decimal lacks, are the scale field
 * alone: 0, 1 and 2 (a decimal always has a value byte).
 */
static void
cass_enc_numeric(StringInfo buf, Datum value)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));
	const char *p = s;
	bool		neg = false;
	StringInfoData digits;
	int			scale = 0;
	bool		frac = false;
	uint8	   *mag;
	int			cap,
				n = 0;

	if (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0)
	{
		enc_be(buf, s[0] == 'N' ? 0 : s[0] == 'I' ? 1 : 2, 4);
		return;
	}
	if (*p == '-')
	{
		neg = true;
		p++;
	}
	initStringInfo(&digits);
	for (; *p; p++)
	{
		if (*p == '.')
		{
			frac = true;
			continue;
		}
		appendStringInfoChar(&digits, *p);
		if (frac)
			scale++;
	}
	while (scale > 0 && digits.data[digits.len - 1] == '0')
	{
		digits.data[--digits.len] = '\0';
		scale--;
	}
	/* the magnitude in base 256 at the end of mag, n bytes in use */
	cap = digits.len / 2 + 2;
	mag = palloc0(cap);
	for (int i = 0; i < digits.len; i++)
	{
		uint32		carry = (uint32) (digits.data[i] - '0');

		for (int j = cap - 1; j >= cap - n; j--)
		{
			uint32		v = (uint32) mag[j] * 10 + carry;

			mag[j] = (uint8) (v & 0xff);
			carry = v >> 8;
		}
		if (carry != 0)
			mag[cap - ++n] = (uint8) carry;
	}
	/* one more byte than the magnitude needs, so that the sign bit is free */
	n++;
	if (neg)
	{
		uint32		carry = 1;

		for (int j = cap - 1; j >= cap - n; j--)
		{
			uint32		v = (uint32) (uint8) ~mag[j] + carry;

			mag[j] = (uint8) v;
			carry = v >> 8;
		}
	}
	/* drop sign bytes the next byte repeats */
	while (n > 1)
	{
		uint8		b0 = mag[cap - n],
					b1 = mag[cap - n + 1];

		if ((b0 == 0 && !(b1 & 0x80)) || (b0 == 0xff && (b1 & 0x80)))
			n--;
		else
			break;
	}
	enc_be(buf, (uint32) scale, 4);
	appendBinaryStringInfo(buf, (const char *) mag + cap - n, n);
	pfree(mag);
	pfree(digits.data);
}

static Datum
cass_dec_numeric(const uint8 *p, size_t len)
{
	int32		scale;
	bool		neg;
	size_t		n;
	uint8	   *mag;
	uint32	   *chunks;
	size_t		nchunks = 0;
	StringInfoData s;
	char	   *digits;
	int			ndigits;

	if (len < 4)
		codec_corrupt();
	scale = (int32) dec_be(p, 4, false);
	n = len - 4;
	if (len == 4)
	{
		if (scale < 0 || scale > 2)
			codec_corrupt();
		return DirectFunctionCall3(numeric_in,
								   CStringGetDatum(scale == 0 ? "NaN" : scale == 1 ? "Infinity" : "-Infinity"),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	if (scale < 0 || scale > NUMERIC_MAX_DISPLAY_SCALE)
		codec_corrupt();
	p += 4;
	neg = (p[0] & 0x80) != 0;
	mag = palloc(n);
	memcpy(mag, p, n);
	if (neg)
	{
		uint32		carry = 1;

		for (size_t j = n; j-- > 0;)
		{
			uint32		v = (uint32) (uint8) ~mag[j] + carry;

			mag[j] = (uint8) v;
			carry = v >> 8;
		}
	}
	/* base 256 to base 10^9 by repeated division */
	chunks = palloc(sizeof(uint32) * (n * 8 / 29 + 2));
	for (;;)
	{
		uint64		rem = 0;
		bool		zero = true;

		for (size_t j = 0; j < n; j++)
		{
			uint64		cur = (rem << 8) | mag[j];

			mag[j] = (uint8) (cur / 1000000000);
			rem = cur % 1000000000;
			if (mag[j] != 0)
				zero = false;
		}
		chunks[nchunks++] = (uint32) rem;
		if (zero)
			break;
	}
	initStringInfo(&s);
	appendStringInfo(&s, "%u", chunks[nchunks - 1]);
	for (size_t j = nchunks - 1; j-- > 0;)
		appendStringInfo(&s, "%09u", chunks[j]);
	digits = s.data;
	ndigits = s.len;
	{
		StringInfoData out;

		initStringInfo(&out);
		if (neg)
			appendStringInfoChar(&out, '-');
		if (ndigits <= scale)
		{
			appendStringInfoString(&out, "0.");
			for (int i = ndigits; i < scale; i++)
				appendStringInfoChar(&out, '0');
			appendStringInfoString(&out, digits);
		}
		else
		{
			appendBinaryStringInfo(&out, digits, ndigits - scale);
			if (scale > 0)
			{
				appendStringInfoChar(&out, '.');
				appendStringInfoString(&out, digits + ndigits - scale);
			}
		}
		return DirectFunctionCall3(numeric_in, CStringGetDatum(out.data),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
}

/* A composite value as a CQL UDT: per live field a 4-byte length (-1: NULL) and its bytes. */
static void
cass_enc_record(StringInfo buf, Oid typid, Datum value)
{
	Datum	   *values;
	bool	   *nulls;
	TupleDesc	td = deform_record(typid, value, &values, &nulls);

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);
		int			at;

		if (a->attisdropped)
			continue;
		if (nulls[i])
		{
			enc_be(buf, 0xffffffffu, 4);
			continue;
		}
		at = cass_len_begin(buf);
		cass_encode(buf, a->atttypid, values[i]);
		cass_len_end(buf, at);
	}
	ReleaseTupleDesc(td);
	pfree(values);
	pfree(nulls);
}

static Datum
cass_dec_record(const uint8 *p, size_t len, Oid typid)
{
	TupleDesc	td = lookup_rowtype_tupdesc_copy(typid, -1);
	Datum	   *values = palloc0(sizeof(Datum) * td->natts);
	bool	   *nulls = palloc(sizeof(bool) * td->natts);
	const uint8 *end = p + len;

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);
		uint32		n;

		nulls[i] = true;
		if (a->attisdropped)
			continue;
		if (end - p < 4)
			codec_corrupt();
		n = (uint32) dec_be(p, 4, false);
		p += 4;
		if (n == 0xffffffffu)
			continue;
		if ((size_t) (end - p) < n)
			codec_corrupt();
		values[i] = cass_decode(p, n, a->atttypid);
		nulls[i] = false;
		p += n;
	}
	if (p != end)
		codec_corrupt();
	return HeapTupleGetDatum(heap_form_tuple(td, values, nulls));
}

/* An array (a frozen list or set) as CQL's: a 4-byte count, per element a 4-byte length and its bytes. */
static void
cass_enc_array(StringInfo buf, Oid typid, Datum value)
{
	Oid			et = get_element_type(typid);
	ArrayType  *a = DatumGetArrayTypeP(value);
	int16		elen;
	bool		ebyval;
	char		ealign;
	Datum	   *elems;
	bool	   *enulls;
	int			n;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a key of type %s must be a one-dimensional array", format_type_be(typid)),
				 errhint("Flatten the array: a frozen list holds single values.")));
	get_typlenbyvalalign(et, &elen, &ebyval, &ealign);
	deconstruct_array(a, et, elen, ebyval, ealign, &elems, &enulls, &n);
	enc_be(buf, (uint32) n, 4);
	for (int i = 0; i < n; i++)
	{
		int			at;

		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a key of type %s cannot hold NULL elements", format_type_be(typid)),
					 errhint("Remove the NULLs: CQL collections have none.")));
		at = cass_len_begin(buf);
		cass_encode(buf, et, elems[i]);
		cass_len_end(buf, at);
	}
}

static Datum
cass_dec_array(const uint8 *p, size_t len, Oid typid)
{
	Oid			et = get_element_type(typid);
	const uint8 *end = p + len;
	int16		elen;
	bool		ebyval;
	char		ealign;
	uint32		n;
	Datum	   *elems;

	if (len < 4)
		codec_corrupt();
	n = (uint32) dec_be(p, 4, false);
	p += 4;
	if (n > len / 4)
		codec_corrupt();
	get_typlenbyvalalign(et, &elen, &ebyval, &ealign);
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (uint32 i = 0; i < n; i++)
	{
		uint32		m;

		if (end - p < 4)
			codec_corrupt();
		m = (uint32) dec_be(p, 4, false);
		p += 4;
		if ((size_t) (end - p) < m)
			codec_corrupt();
		elems[i] = cass_decode(p, m, et);
		p += m;
	}
	if (p != end)
		codec_corrupt();
	return PointerGetDatum(construct_array(elems, (int) n, et, elen, ebyval, ealign));
}

/* Append value serialized as Cassandra serializes the matching CQL type. */
static void
cass_encode(StringInfo buf, Oid typid, Datum value)
{
	switch (typid)
	{
		case BOOLOID:
			appendStringInfoChar(buf, DatumGetBool(value) ? 1 : 0);
			return;
		case INT2OID:
			enc_be(buf, (uint16) DatumGetInt16(value), 2);
			return;
		case INT4OID:
			enc_be(buf, (uint32) DatumGetInt32(value), 4);
			return;
		case INT8OID:
			enc_be(buf, (uint64) DatumGetInt64(value), 8);
			return;
		case FLOAT4OID:
			{
				float4		f = DatumGetFloat4(value);
				uint32		u;

				if (isnan(f))
					u = 0x7fc00000u;	/* Java's canonical NaN */
				else
				{
					if (f == 0.0f)
						f = 0.0f;
					memcpy(&u, &f, 4);
				}
				enc_be(buf, u, 4);
				return;
			}
		case FLOAT8OID:
			{
				float8		f = DatumGetFloat8(value);
				uint64		u;

				if (isnan(f))
					u = UINT64CONST(0x7ff8000000000000);
				else
				{
					if (f == 0.0)
						f = 0.0;
					memcpy(&u, &f, 8);
				}
				enc_be(buf, u, 8);
				return;
			}
		case NUMERICOID:
			cass_enc_numeric(buf, value);
			return;
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(value);
				uint32		u;

				if (DATE_IS_NOBEGIN(d))
					u = 0;
				else if (DATE_IS_NOEND(d))
					u = 0xffffffffu;
				else
					u = (uint32) ((int64) d + WC_UNIX_TO_PG_DAYS + WC_CQL_DATE_OFFSET);
				enc_be(buf, u, 4);
				return;
			}
		case TIMEOID:
			/* CQL time: nanoseconds since midnight */
			enc_be(buf, (uint64) (DatumGetInt64(value) * 1000), 8);
			return;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				int64		ts = DatumGetInt64(value);
				int64		ms,
							us;

				/* CQL timestamp: milliseconds since the Unix epoch; then the microseconds if any */
				if (ts == DT_NOBEGIN || ts == DT_NOEND)
				{
					enc_be(buf, (uint64) ts, 8);
					return;
				}
				ms = ts / 1000;
				us = ts % 1000;
				if (us < 0)
				{
					us += 1000;
					ms--;
				}
				enc_be(buf, (uint64) (ms + WC_UNIX_TO_PG_MS), 8);
				if (us != 0)
					enc_be(buf, (uint64) us, 2);
				return;
			}
		case UUIDOID:
			appendBinaryStringInfo(buf, (const char *) DatumGetUUIDP(value)->data, UUID_LEN);
			return;
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

				appendBinaryStringInfo(buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
				return;
			}
		case INETOID:
		case CIDROID:
			{
				inet	   *ip = DatumGetInetPP(value);

				/* CQL inet: the address; a mask shorter than the address follows it */
				appendBinaryStringInfo(buf, (const char *) ip_addr(ip), ip_addrsize(ip));
				if (ip_bits(ip) != ip_maxbits(ip))
					appendStringInfoChar(buf, (char) ip_bits(ip));
				return;
			}
		default:
			break;
	}
	if (typid == widecol_timeuuid_oid())
		appendBinaryStringInfo(buf, DatumGetPointer(value), 16);
	else if (get_typtype(typid) == TYPTYPE_COMPOSITE)
		cass_enc_record(buf, typid, value);
	else if (widecol_collection_keyable(typid))
		cass_enc_array(buf, typid, value);
	else
		elog(ERROR, "widecol: type %u cannot be a key", typid);
}

/* The datum of cass_encode's len bytes at p; malformed bytes are corruption. */
static Datum
cass_decode(const uint8 *p, size_t len, Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
			if (len != 1 || p[0] > 1)
				codec_corrupt();
			return BoolGetDatum(p[0] == 1);
		case INT2OID:
			if (len != 2)
				codec_corrupt();
			return Int16GetDatum((int16) dec_be(p, 2, false));
		case INT4OID:
			if (len != 4)
				codec_corrupt();
			return Int32GetDatum((int32) dec_be(p, 4, false));
		case INT8OID:
			if (len != 8)
				codec_corrupt();
			return Int64GetDatum((int64) dec_be(p, 8, false));
		case FLOAT4OID:
			{
				uint32		u;
				float4		f;

				if (len != 4)
					codec_corrupt();
				u = (uint32) dec_be(p, 4, false);
				memcpy(&f, &u, 4);
				return Float4GetDatum(f);
			}
		case FLOAT8OID:
			{
				uint64		u;
				float8		f;

				if (len != 8)
					codec_corrupt();
				u = dec_be(p, 8, false);
				memcpy(&f, &u, 8);
				return Float8GetDatum(f);
			}
		case NUMERICOID:
			return cass_dec_numeric(p, len);
		case DATEOID:
			{
				uint32		u;

				if (len != 4)
					codec_corrupt();
				u = (uint32) dec_be(p, 4, false);
				if (u == 0)
					return DateADTGetDatum(DATEVAL_NOBEGIN);
				if (u == 0xffffffffu)
					return DateADTGetDatum(DATEVAL_NOEND);
				return DateADTGetDatum((DateADT) ((int64) u - WC_CQL_DATE_OFFSET - WC_UNIX_TO_PG_DAYS));
			}
		case TIMEOID:
			{
				int64		ns;

				if (len != 8)
					codec_corrupt();
				ns = (int64) dec_be(p, 8, false);
				if (ns < 0 || ns % 1000 != 0 || ns / 1000 > USECS_PER_DAY)
					codec_corrupt();
				return TimeADTGetDatum(ns / 1000);
			}
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				int64		ms,
							us = 0;

				if (len != 8 && len != 10)
					codec_corrupt();
				ms = (int64) dec_be(p, 8, false);
				if (len == 8 && (ms == DT_NOBEGIN || ms == DT_NOEND))
					return Int64GetDatum(ms);
				if (len == 10)
				{
					us = (int64) dec_be(p + 8, 2, false);
					if (us == 0 || us > 999)
						codec_corrupt();
				}
				/* finite PostgreSQL timestamps are far inside this */
				if (ms < -PG_INT64_MAX / 2000 || ms > PG_INT64_MAX / 2000)
					codec_corrupt();
				return Int64GetDatum((ms - WC_UNIX_TO_PG_MS) * 1000 + us);
			}
		case UUIDOID:
			{
				pg_uuid_t  *u;

				if (len != UUID_LEN)
					codec_corrupt();
				u = palloc(sizeof(pg_uuid_t));
				memcpy(u->data, p, UUID_LEN);
				return UUIDPGetDatum(u);
			}
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			{
				bytea	   *v;

				if (typid != BYTEAOID && memchr(p, '\0', len) != NULL)
					codec_corrupt();
				v = (bytea *) palloc(VARHDRSZ + len);
				SET_VARSIZE(v, VARHDRSZ + len);
				memcpy(VARDATA(v), p, len);
				return PointerGetDatum(v);
			}
		case INETOID:
		case CIDROID:
			{
				inet	   *ip = palloc0(sizeof(inet));
				size_t		size = (len == 4 || len == 5) ? 4 : 16;
				int			maxbits = size == 4 ? 32 : 128;

				if (len != size && len != size + 1)
					codec_corrupt();
				ip_family(ip) = size == 4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
				memcpy(ip_addr(ip), p, size);
				ip_bits(ip) = (unsigned char) (len == size ? maxbits : p[size]);
				if (len != size && p[size] >= maxbits)
					codec_corrupt();
				SET_INET_VARSIZE(ip);
				return InetPGetDatum(ip);
			}
		default:
			break;
	}
	if (typid == widecol_timeuuid_oid())
	{
		char	   *u;

		if (len != 16)
			codec_corrupt();
		u = palloc(16);
		memcpy(u, p, 16);
		return PointerGetDatum(u);
	}
	if (get_typtype(typid) == TYPTYPE_COMPOSITE)
		return cass_dec_record(p, len, typid);
	if (widecol_collection_keyable(typid))
		return cass_dec_array(p, len, typid);
	elog(ERROR, "widecol: type %u cannot be a key", typid);
	return (Datum) 0;
}

/*
 * Append the encoding of partition-key column value (one of npk columns):
 * its key encoding under xxhash, Cassandra's serialization under murmur3.
 * REQUIRES: widecol_type_keyable(typid), value not NULL.
 */
void
widecol_encode_pk(StringInfo buf, Oid typid, Datum value, int npk)
{
	int			at;

	if (widecol_partitioner != WC_PARTITIONER_MURMUR3)
	{
		widecol_encode_key(buf, typid, value, false);
		return;
	}
	at = pk_component_begin(buf, npk);
	cass_encode(buf, typid, value);
	pk_component_end(buf, at, npk);
}

/*
 * Cassandra's serialization of a frozen map of n entries (keys of type
 * ktyp ascending, values of type vtyp) as partition-key column one of
 * npk, under murmur3: a 4-byte count, then per entry the key and the
 * value, each with a 4-byte length.
 */
void
widecol_encode_pk_map(StringInfo buf, Oid ktyp, Oid vtyp, const Datum *keys, const Datum *vals,
					  int n, int npk)
{
	int			at = pk_component_begin(buf, npk);

	enc_be(buf, (uint32) n, 4);
	for (int i = 0; i < n; i++)
	{
		int			l = cass_len_begin(buf);

		cass_encode(buf, ktyp, keys[i]);
		cass_len_end(buf, l);
		l = cass_len_begin(buf);
		cass_encode(buf, vtyp, vals[i]);
		cass_len_end(buf, l);
	}
	pk_component_end(buf, at, npk);
}

/*
 * Decode widecol_encode_pk_map's bytes at *pp, advancing it: *keys and
 * *vals (palloc'd) get the entries; returns their count.
 */
int
widecol_decode_pk_map(const uint8 **pp, const uint8 *end, Oid ktyp, Oid vtyp, int npk,
					  Datum **keys, Datum **vals)
{
	size_t		len;
	const uint8 *p = pk_component(pp, end, npk, &len),
			   *e = p + len;
	uint32		n;

	if (len < 4)
		codec_corrupt();
	n = (uint32) dec_be(p, 4, false);
	p += 4;
	if (n > len / 8)
		codec_corrupt();
	*keys = palloc(sizeof(Datum) * Max(n, 1));
	*vals = palloc(sizeof(Datum) * Max(n, 1));
	for (uint32 i = 0; i < 2 * n; i++)
	{
		uint32		m;

		if (e - p < 4)
			codec_corrupt();
		m = (uint32) dec_be(p, 4, false);
		p += 4;
		if ((size_t) (e - p) < m)
			codec_corrupt();
		if (i % 2 == 0)
			(*keys)[i / 2] = cass_decode(p, m, ktyp);
		else
			(*vals)[i / 2] = cass_decode(p, m, vtyp);
		p += m;
	}
	if (p != e)
		codec_corrupt();
	return (int) n;
}

/* Start a partition-key component under murmur3 (one of npk); returns where it starts. */
static int
pk_component_begin(StringInfo buf, int npk)
{
	int			at = buf->len;

	if (npk > 1)
		enc_be(buf, 0, 2);
	return at;
}

/* End the component begun at at: a lone key must not be empty; else its length and a 0. */
static void
pk_component_end(StringInfo buf, int at, int npk)
{
	int			n;

	if (npk == 1)
	{
		if (buf->len == at)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a partition key may not be empty under the murmur3 partitioner"),
					 errdetail("The key's only column holds an empty value, which Cassandra refuses as well."),
					 errhint("Use a non-empty partition-key value.")));
		return;
	}
	n = buf->len - at - 2;
	if (n > 0xffff)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a component of a composite partition key is %d bytes, more than the 65535 allowed", n),
				 errhint("Use shorter partition-key values.")));
	buf->data[at] = (char) (n >> 8);
	buf->data[at + 1] = (char) (n & 0xff);
	appendStringInfoChar(buf, '\0');
}

/* Decode one partition-key column (of npk) at *pp, advancing it. */
Datum
widecol_decode_pk(const uint8 **pp, const uint8 *end, Oid typid, int npk)
{
	const uint8 *p;
	size_t		n;

	if (widecol_partitioner != WC_PARTITIONER_MURMUR3)
		return widecol_decode_key(pp, end, typid, false);
	p = pk_component(pp, end, npk, &n);
	return cass_decode(p, n, typid);
}

/* The bytes (*len of them) of the murmur3 partition-key component at *pp (one of npk), advancing *pp. */
static const uint8 *
pk_component(const uint8 **pp, const uint8 *end, int npk, size_t *len)
{
	const uint8 *p = *pp;

	if (npk == 1)
	{
		*pp = end;
		*len = (size_t) (end - p);
		return p;
	}
	if (end - p < 3)
		codec_corrupt();
	*len = ((size_t) p[0] << 8) | p[1];
	p += 2;
	if ((size_t) (end - p) < *len + 1 || p[*len] != 0)
		codec_corrupt();
	*pp = p + *len + 1;
	return p;
}
