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
#include "utils/float.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

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
 * A composite value (CQL's frozen UDT), in record_cmp's order: for each
 * live field, WC_FIELD_NULL, or WC_FIELD_PRESENT and the field's own
 * (ascending) key encoding.
 */
static void
enc_record(StringInfo buf, Oid typid, Datum value)
{
	HeapTupleHeader th = DatumGetHeapTupleHeader(value);
	TupleDesc	td = lookup_rowtype_tupdesc(typid, -1);
	HeapTupleData tup;
	Datum	   *values = palloc(sizeof(Datum) * td->natts);
	bool	   *nulls = palloc(sizeof(bool) * td->natts);

	tup.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = th;
	heap_deform_tuple(&tup, td, values, nulls);
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
