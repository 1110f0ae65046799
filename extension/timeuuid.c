/*-------------------------------------------------------------------------
 *
 * timeuuid.c
 *		  The widecol.timeuuid type: a version 1 (time-based) UUID that
 *		  sorts by its timestamp, like Cassandra's TIMEUUID, with its
 *		  generators, operators and byte-comparable key encoding.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/timeuuid.c
 *
 * NOTES
 *	  A timeuuid is stored exactly like PostgreSQL's uuid: 16 bytes, passed
 *	  by reference, in the RFC 4122 byte layout of a version 1 UUID:
 *
 *		bytes 0..3	 time_low				(timestamp bits 31..0)
 *		bytes 4..5	 time_mid				(timestamp bits 47..32)
 *		bytes 6..7	 time_hi_and_version	(version 1 in the top nibble,
 *											 then timestamp bits 59..48)
 *		bytes 8..9	 clock sequence (with the variant bits)
 *		bytes 10..15 node
 *
 *	  The timestamp counts 100-ns intervals since 1582-10-15 00:00:00 UTC.
 *	  Values order by that 60-bit timestamp first and then by bytes 8..15
 *	  compared as unsigned bytes.  (Cassandra compares those eight bytes as
 *	  signed bytes; both orders agree on everything but values of the same
 *	  100-ns tick.  Ours is the order of the key encoding below, and
 *	  min_timeuuid()/max_timeuuid() use the lowest and highest bytes of our
 *	  order, so range queries select what Cassandra selects.)  Since every
 *	  value has version 1, two values compare equal exactly when their bytes
 *	  are equal, so hashing hashes the raw bytes and btree deduplication is
 *	  safe (btequalimage).
 *
 *	  The key encoding used by the foreign data wrapper,
 *	  widecol_timeuuid_encode_key(), writes the timestamp as 8 big-endian
 *	  bytes followed by bytes 8..15 unchanged, so that memcmp() of two
 *	  encodings is the type's btree order; widecol_timeuuid_decode_key()
 *	  rebuilds the original 16 bytes (version nibble included).
 *
 *	  now_timeuuid() keeps per-backend state: the last timestamp it handed
 *	  out, and a random clock sequence and node id (multicast bit set, as
 *	  RFC 4122 asks of ids that are not a MAC address) drawn once per
 *	  process.  Timestamps strictly increase within a process: a call in the
 *	  same 100-ns tick as the previous one, or after the clock stepped back,
 *	  takes the previous timestamp plus one.  Other backends have other
 *	  random clock sequence and node bytes, so they never produce the same
 *	  value (up to a 2^-61 chance per pair).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/sortsupport.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "widecol.h"

/* Size of a timeuuid, in memory and in its key encoding */
#define TIMEUUID_LEN			16

/* Largest 60-bit timestamp */
#define TIMEUUID_MAX_TICKS		((UINT64CONST(1) << 60) - 1)

/* 100-ns ticks per millisecond and per microsecond */
#define TICKS_PER_MSEC			10000
#define TICKS_PER_USEC			10

/* Microseconds from 1582-10-15 00:00:00 UTC to 1970-01-01 (Unix epoch) */
#define GREGORIAN_TO_UNIX_USECS INT64CONST(12219292800000000)

/* Microseconds from 1582-10-15 00:00:00 UTC to 2000-01-01 (PostgreSQL) */
#define GREGORIAN_TO_PG_USECS \
	(GREGORIAN_TO_UNIX_USECS + \
	 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * \
	 USECS_PER_SEC)

/* Name of the schema the extension lives in (sql/widecol.control) */
#define TIMEUUID_SCHEMA			"widecol"

typedef struct WidecolTimeuuid
{
	uint8		data[TIMEUUID_LEN];
} WidecolTimeuuid;

#define DatumGetTimeuuidP(X)	((WidecolTimeuuid *) DatumGetPointer(X))
#define TimeuuidPGetDatum(X)	PointerGetDatum(X)
#define PG_GETARG_TIMEUUID_P(n) DatumGetTimeuuidP(PG_GETARG_DATUM(n))
#define PG_RETURN_TIMEUUID_P(x) return TimeuuidPGetDatum(x)

/* per-backend state of now_timeuuid() */
static int	generator_pid = 0;		/* process that drew the bytes below */
static uint64 generator_last_ticks = 0;
static uint8 generator_clock_node[8];	/* bytes 8..15 of every value */

/* per-backend cache of the type's OID (widecol_timeuuid_oid()) */
static Oid	timeuuid_type_oid = InvalidOid;
static bool timeuuid_type_oid_valid = false;
static bool timeuuid_inval_registered = false;

/* helpers */
static inline uint64 timeuuid_get_ticks(const uint8 *data);
static inline void timeuuid_set_ticks(uint8 *data, uint64 ticks);
static inline int timeuuid_cmp_internal(const WidecolTimeuuid *a,
										const WidecolTimeuuid *b);
static bool timeuuid_parse(const char *str, uint8 *out);
static int	hex_digit_value(char c);
static char *timeuuid_to_cstring(const WidecolTimeuuid *u);
static inline bool timeuuid_is_version_1(const WidecolTimeuuid *u);
static int	errdetail_not_version_1(const WidecolTimeuuid *u);
static uint64 timeuuid_ticks_of_msec(TimestampTz ts);
static WidecolTimeuuid *timeuuid_make(uint64 ticks, const uint8 *clock_node);

/* callbacks */
static int	timeuuid_fastcmp(Datum x, Datum y, SortSupport ssup);
#if SIZEOF_DATUM >= 8
static Datum timeuuid_abbrev_convert(Datum original, SortSupport ssup);
static bool timeuuid_abbrev_abort(int memtupcount, SortSupport ssup);
#endif
static void timeuuid_type_inval(Datum arg, int cacheid, uint32 hashvalue);

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(widecol_timeuuid_in);
PG_FUNCTION_INFO_V1(widecol_timeuuid_out);
PG_FUNCTION_INFO_V1(widecol_timeuuid_recv);
PG_FUNCTION_INFO_V1(widecol_timeuuid_send);
PG_FUNCTION_INFO_V1(widecol_timeuuid_eq);
PG_FUNCTION_INFO_V1(widecol_timeuuid_ne);
PG_FUNCTION_INFO_V1(widecol_timeuuid_lt);
PG_FUNCTION_INFO_V1(widecol_timeuuid_le);
PG_FUNCTION_INFO_V1(widecol_timeuuid_gt);
PG_FUNCTION_INFO_V1(widecol_timeuuid_ge);
PG_FUNCTION_INFO_V1(widecol_timeuuid_cmp);
PG_FUNCTION_INFO_V1(widecol_timeuuid_smaller);
PG_FUNCTION_INFO_V1(widecol_timeuuid_larger);
PG_FUNCTION_INFO_V1(widecol_timeuuid_sortsupport);
PG_FUNCTION_INFO_V1(widecol_timeuuid_hash);
PG_FUNCTION_INFO_V1(widecol_timeuuid_hash_extended);
PG_FUNCTION_INFO_V1(widecol_timeuuid_from_uuid);
PG_FUNCTION_INFO_V1(widecol_now_timeuuid);
PG_FUNCTION_INFO_V1(widecol_timeuuid_timestamp);
PG_FUNCTION_INFO_V1(widecol_min_timeuuid);
PG_FUNCTION_INFO_V1(widecol_max_timeuuid);


/* ---------------------------------------------------------------- helpers */

/*
 * The 60-bit timestamp of a timeuuid (version nibble dropped).
 */
static inline uint64
timeuuid_get_ticks(const uint8 *data)
{
	return ((uint64) (data[6] & 0x0f) << 56) |
		((uint64) data[7] << 48) |
		((uint64) data[4] << 40) |
		((uint64) data[5] << 32) |
		((uint64) data[0] << 24) |
		((uint64) data[1] << 16) |
		((uint64) data[2] << 8) |
		(uint64) data[3];
}

/*
 * Store a 60-bit timestamp and version 1 into bytes 0..7.
 */
static inline void
timeuuid_set_ticks(uint8 *data, uint64 ticks)
{
	Assert(ticks <= TIMEUUID_MAX_TICKS);

	data[0] = (uint8) (ticks >> 24);
	data[1] = (uint8) (ticks >> 16);
	data[2] = (uint8) (ticks >> 8);
	data[3] = (uint8) ticks;
	data[4] = (uint8) (ticks >> 40);
	data[5] = (uint8) (ticks >> 32);
	data[6] = (uint8) (0x10 | ((ticks >> 56) & 0x0f));
	data[7] = (uint8) (ticks >> 48);
}

/*
 * Three-way comparison: timestamp, then bytes 8..15 as unsigned bytes.
 * -1, 0 or 1 (memcmp's own magnitude differs between C libraries and CPUs).
 */
static inline int
timeuuid_cmp_internal(const WidecolTimeuuid *a, const WidecolTimeuuid *b)
{
	uint64		ta = timeuuid_get_ticks(a->data);
	uint64		tb = timeuuid_get_ticks(b->data);
	int			c;

	if (ta != tb)
		return (ta < tb) ? -1 : 1;
	c = memcmp(a->data + 8, b->data + 8, 8);
	return (c > 0) - (c < 0);
}

static int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse the canonical text form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex
 * digits in either case) into 16 bytes.  Returns false on anything else.
 */
static bool
timeuuid_parse(const char *str, uint8 *out)
{
	const char *p = str;
	int			i;

	for (i = 0; i < TIMEUUID_LEN; i++)
	{
		int			hi;
		int			lo;

		if (i == 4 || i == 6 || i == 8 || i == 10)
		{
			if (*p != '-')
				return false;
			p++;
		}
		/* a NUL is not a hex digit, so this never reads past the end */
		if ((hi = hex_digit_value(p[0])) < 0 ||
			(lo = hex_digit_value(p[1])) < 0)
			return false;
		out[i] = (uint8) ((hi << 4) | lo);
		p += 2;
	}
	return *p == '\0';
}

/*
 * Canonical lowercase text of a timeuuid, palloc'd.
 */
static char *
timeuuid_to_cstring(const WidecolTimeuuid *u)
{
	static const char hex[] = "0123456789abcdef";
	char	   *buf = palloc(2 * TIMEUUID_LEN + 5);
	char	   *p = buf;
	int			i;

	for (i = 0; i < TIMEUUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u->data[i] >> 4];
		*p++ = hex[u->data[i] & 0x0f];
	}
	*p = '\0';
	return buf;
}

static inline bool
timeuuid_is_version_1(const WidecolTimeuuid *u)
{
	return (u->data[6] >> 4) == 1;
}

/*
 * errdetail and errhint of the errors about a UUID that is not version 1,
 * for use inside ereport(); returns 0 like errdetail().
 */
static int
errdetail_not_version_1(const WidecolTimeuuid *u)
{
	errdetail("A timeuuid is a time-based (version 1) UUID; this one is "
			  "version %d.", u->data[6] >> 4);
	errhint("Use widecol.now_timeuuid() or "
			"widecol.min_timeuuid(timestamptz) to make one.");
	return 0;
}

/*
 * First 100-ns tick of the millisecond that holds ts.  Errors out when that
 * millisecond cannot be a timeuuid's (before 1582-10-15, after the year
 * 5236, infinite).
 */
static uint64
timeuuid_ticks_of_msec(TimestampTz ts)
{
	int64		gregorian_usecs;
	uint64		msecs;

	/*
	 * Before 1582-10-15, or far beyond the range (this coarse upper bound
	 * keeps the addition below from overflowing; the exact one follows).
	 */
	if (ts < -GREGORIAN_TO_PG_USECS ||
		ts > (int64) (TIMEUUID_MAX_TICKS / TICKS_PER_USEC))
		goto out_of_range;

	gregorian_usecs = ts + GREGORIAN_TO_PG_USECS;
	msecs = (uint64) gregorian_usecs / 1000;
	if (msecs > TIMEUUID_MAX_TICKS / TICKS_PER_MSEC)
		goto out_of_range;

	return msecs * TICKS_PER_MSEC;

out_of_range:
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range for timeuuid"),
			 errdetail("A timeuuid holds times from 1582-10-15 00:00:00 UTC "
					   "to 5236-03-31 21:21:00.684 UTC.")));
	return 0;					/* keep compiler quiet */
}

/*
 * A new palloc'd timeuuid from a timestamp and bytes 8..15.
 */
static WidecolTimeuuid *
timeuuid_make(uint64 ticks, const uint8 *clock_node)
{
	WidecolTimeuuid *result = palloc(sizeof(WidecolTimeuuid));

	timeuuid_set_ticks(result->data, ticks);
	memcpy(result->data + 8, clock_node, 8);
	return result;
}

/* ---------------------------------------------------------------- I/O */

/*
 * timeuuid_in(cstring) returns timeuuid
 */
Datum
widecol_timeuuid_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	WidecolTimeuuid *result = palloc(sizeof(WidecolTimeuuid));

	if (!timeuuid_parse(str, result->data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"",
						"timeuuid", str)));

	if (!timeuuid_is_version_1(result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"",
						"timeuuid", str),
				 errdetail_not_version_1(result)));
	PG_RETURN_TIMEUUID_P(result);
}

/*
 * timeuuid_out(timeuuid) returns cstring
 */
Datum
widecol_timeuuid_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(timeuuid_to_cstring(PG_GETARG_TIMEUUID_P(0)));
}

/*
 * timeuuid_recv(internal) returns timeuuid: the 16 bytes as they are.
 */
Datum
widecol_timeuuid_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	WidecolTimeuuid *result = palloc(sizeof(WidecolTimeuuid));

	memcpy(result->data, pq_getmsgbytes(buf, TIMEUUID_LEN), TIMEUUID_LEN);
	if (!timeuuid_is_version_1(result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external timeuuid value \"%s\"",
						timeuuid_to_cstring(result)),
				 errdetail_not_version_1(result)));
	PG_RETURN_TIMEUUID_P(result);
}

/*
 * timeuuid_send(timeuuid) returns bytea
 */
Datum
widecol_timeuuid_send(PG_FUNCTION_ARGS)
{
	WidecolTimeuuid *u = PG_GETARG_TIMEUUID_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (char *) u->data, TIMEUUID_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * timeuuid(uuid) returns timeuuid: the cast from uuid, for version 1 only.
 * (The cast to uuid needs no function: the bytes are the same.)
 */
Datum
widecol_timeuuid_from_uuid(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *uuid = PG_GETARG_UUID_P(0);
	WidecolTimeuuid *result = palloc(sizeof(WidecolTimeuuid));

	StaticAssertStmt(sizeof(pg_uuid_t) == TIMEUUID_LEN,
					 "uuid and timeuuid differ in size");
	memcpy(result->data, uuid->data, TIMEUUID_LEN);
	if (!timeuuid_is_version_1(result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("uuid \"%s\" is not a timeuuid",
						timeuuid_to_cstring(result)),
				 errdetail_not_version_1(result)));
	PG_RETURN_TIMEUUID_P(result);
}

/* ---------------------------------------------------------------- ordering */

Datum
widecol_timeuuid_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										 PG_GETARG_TIMEUUID_P(1)) == 0);
}

Datum
widecol_timeuuid_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										 PG_GETARG_TIMEUUID_P(1)) != 0);
}

Datum
widecol_timeuuid_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										 PG_GETARG_TIMEUUID_P(1)) < 0);
}

Datum
widecol_timeuuid_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										 PG_GETARG_TIMEUUID_P(1)) <= 0);
}

Datum
widecol_timeuuid_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										 PG_GETARG_TIMEUUID_P(1)) > 0);
}

Datum
widecol_timeuuid_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										 PG_GETARG_TIMEUUID_P(1)) >= 0);
}

/*
 * timeuuid_cmp(timeuuid, timeuuid) returns int4: btree support function 1.
 */
Datum
widecol_timeuuid_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(timeuuid_cmp_internal(PG_GETARG_TIMEUUID_P(0),
										  PG_GETARG_TIMEUUID_P(1)));
}

/*
 * timeuuid_smaller(timeuuid, timeuuid) and timeuuid_larger(): transition
 * functions of the min() and max() aggregates.
 */
Datum
widecol_timeuuid_smaller(PG_FUNCTION_ARGS)
{
	WidecolTimeuuid *a = PG_GETARG_TIMEUUID_P(0);
	WidecolTimeuuid *b = PG_GETARG_TIMEUUID_P(1);

	PG_RETURN_TIMEUUID_P(timeuuid_cmp_internal(a, b) <= 0 ? a : b);
}

Datum
widecol_timeuuid_larger(PG_FUNCTION_ARGS)
{
	WidecolTimeuuid *a = PG_GETARG_TIMEUUID_P(0);
	WidecolTimeuuid *b = PG_GETARG_TIMEUUID_P(1);

	PG_RETURN_TIMEUUID_P(timeuuid_cmp_internal(a, b) >= 0 ? a : b);
}

static int
timeuuid_fastcmp(Datum x, Datum y, SortSupport ssup)
{
	return timeuuid_cmp_internal(DatumGetTimeuuidP(x), DatumGetTimeuuidP(y));
}

#if SIZEOF_DATUM >= 8
/*
 * The abbreviated key is the 60-bit timestamp: unsigned comparison of two
 * abbreviated keys agrees with the full comparison whenever they differ.
 */
static Datum
timeuuid_abbrev_convert(Datum original, SortSupport ssup)
{
	return (Datum) timeuuid_get_ticks(DatumGetTimeuuidP(original)->data);
}

/*
 * Never give up on abbreviation: timestamps are nearly always distinct,
 * and when they are not the full comparison that breaks ties is cheap.
 */
static bool
timeuuid_abbrev_abort(int memtupcount, SortSupport ssup)
{
	return false;
}
#endif

/*
 * timeuuid_sortsupport(internal) returns void: btree support function 2.
 */
Datum
widecol_timeuuid_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = timeuuid_fastcmp;
#if SIZEOF_DATUM >= 8
	if (ssup->abbreviate)
	{
		ssup->comparator = ssup_datum_unsigned_cmp;
		ssup->abbrev_converter = timeuuid_abbrev_convert;
		ssup->abbrev_abort = timeuuid_abbrev_abort;
		ssup->abbrev_full_comparator = timeuuid_fastcmp;
	}
#endif
	PG_RETURN_VOID();
}

/*
 * timeuuid_hash(timeuuid) returns int4: hash support function 1.  Equal
 * timeuuids have equal bytes, so the bytes are hashed as they are.
 */
Datum
widecol_timeuuid_hash(PG_FUNCTION_ARGS)
{
	WidecolTimeuuid *u = PG_GETARG_TIMEUUID_P(0);

	return hash_any(u->data, TIMEUUID_LEN);
}

/*
 * timeuuid_hash_extended(timeuuid, int8) returns int8: hash support
 * function 2.
 */
Datum
widecol_timeuuid_hash_extended(PG_FUNCTION_ARGS)
{
	WidecolTimeuuid *u = PG_GETARG_TIMEUUID_P(0);

	return hash_any_extended(u->data, TIMEUUID_LEN, PG_GETARG_INT64(1));
}

/* ---------------------------------------------------------------- time */

/*
 * now_timeuuid() returns timeuuid: a new time-based UUID (CQL now()).
 */
Datum
widecol_now_timeuuid(PG_FUNCTION_ARGS)
{
	struct timespec now;
	uint64		ticks;

	/* a new process (this never forks, but be sure): new random bytes */
	if (generator_pid != MyProcPid)
	{
		if (!pg_strong_random(generator_clock_node,
							  sizeof(generator_clock_node)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random values for a "
							"timeuuid")));
		/* RFC 4122 variant (10xx) in the clock sequence */
		generator_clock_node[0] = 0x80 | (generator_clock_node[0] & 0x3f);
		/* multicast bit of the node: not a real MAC address */
		generator_clock_node[2] |= 0x01;
		generator_last_ticks = 0;
		generator_pid = MyProcPid;
	}

	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		elog(ERROR, "clock_gettime failed: %m");

	ticks = (uint64) now.tv_sec * (USECS_PER_SEC * TICKS_PER_USEC) +
		(uint64) now.tv_nsec / 100 +
		(uint64) GREGORIAN_TO_UNIX_USECS * TICKS_PER_USEC;

	/* strictly increasing within the process, even in one clock tick */
	if (ticks <= generator_last_ticks)
		ticks = generator_last_ticks + 1;
	if (ticks > TIMEUUID_MAX_TICKS)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("current time is out of range for timeuuid")));
	generator_last_ticks = ticks;

	PG_RETURN_TIMEUUID_P(timeuuid_make(ticks, generator_clock_node));
}

/*
 * timeuuid_timestamp(timeuuid) returns timestamptz (CQL toTimestamp()).
 * PostgreSQL keeps microseconds, so the time is truncated to the
 * microsecond, not to the millisecond as in Cassandra.
 */
Datum
widecol_timeuuid_timestamp(PG_FUNCTION_ARGS)
{
	WidecolTimeuuid *u = PG_GETARG_TIMEUUID_P(0);
	int64		gregorian_usecs;

	gregorian_usecs = (int64) (timeuuid_get_ticks(u->data) / TICKS_PER_USEC);
	PG_RETURN_TIMESTAMPTZ(gregorian_usecs - GREGORIAN_TO_PG_USECS);
}

/*
 * min_timeuuid(timestamptz) returns timeuuid (CQL minTimeuuid()): the
 * smallest timeuuid of the millisecond that holds the argument.
 */
Datum
widecol_min_timeuuid(PG_FUNCTION_ARGS)
{
	static const uint8 lowest[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	uint64		ticks = timeuuid_ticks_of_msec(PG_GETARG_TIMESTAMPTZ(0));

	PG_RETURN_TIMEUUID_P(timeuuid_make(ticks, lowest));
}

/*
 * max_timeuuid(timestamptz) returns timeuuid (CQL maxTimeuuid()): the
 * largest timeuuid of the millisecond that holds the argument.
 */
Datum
widecol_max_timeuuid(PG_FUNCTION_ARGS)
{
	static const uint8 highest[8] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	uint64		ticks = timeuuid_ticks_of_msec(PG_GETARG_TIMESTAMPTZ(0));

	/* the last millisecond of the range is not a whole one */
	ticks = Min(ticks + TICKS_PER_MSEC - 1, TIMEUUID_MAX_TICKS);
	PG_RETURN_TIMEUUID_P(timeuuid_make(ticks, highest));
}

/* ---------------------------------------------------------------- key codec */

/*
 * Syscache callback: some type changed, look the OID up again next time.
 * (Creating a type fires it too, so a cached "not installed" goes away
 * with CREATE EXTENSION.)
 */
static void
timeuuid_type_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	timeuuid_type_oid_valid = false;
}

/*
 * OID of widecol.timeuuid, or InvalidOid when the extension is not
 * installed in this database.  Cached per backend.
 *
 * REQUIRES: a transaction (it may read the catalog).
 */
Oid
widecol_timeuuid_oid(void)
{
	Oid			nspid;

	if (timeuuid_type_oid_valid)
		return timeuuid_type_oid;

	if (!timeuuid_inval_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, timeuuid_type_inval,
									  (Datum) 0);
		timeuuid_inval_registered = true;
	}

	/* an invalidation arriving during the lookup clears the flag again */
	timeuuid_type_oid_valid = true;
	nspid = get_namespace_oid(TIMEUUID_SCHEMA, true);
	if (OidIsValid(nspid))
		timeuuid_type_oid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
											CStringGetDatum("timeuuid"),
											ObjectIdGetDatum(nspid));
	else
		timeuuid_type_oid = InvalidOid;
	return timeuuid_type_oid;
}

/*
 * Append the 16-byte ascending key encoding of a timeuuid to buf: the
 * 60-bit timestamp as 8 big-endian bytes, then bytes 8..15 unchanged.
 * memcmp() order of encodings is the btree order of the values.
 */
void
widecol_timeuuid_encode_key(StringInfo buf, Datum value)
{
	const WidecolTimeuuid *u = DatumGetTimeuuidP(value);
	uint64		ticks = timeuuid_get_ticks(u->data);
	uint8		key[TIMEUUID_LEN];
	int			i;

	for (i = 0; i < 8; i++)
		key[i] = (uint8) (ticks >> (56 - 8 * i));
	memcpy(key + 8, u->data + 8, 8);
	appendBinaryStringInfo(buf, (const char *) key, TIMEUUID_LEN);
}

/*
 * Read one key encoding at *pp (complemented when the column is
 * descending), advance *pp past it and return the timeuuid, palloc'd in
 * the current memory context.  A short or impossible key is corruption.
 */
Datum
widecol_timeuuid_decode_key(const uint8 **pp, const uint8 *end,
							bool descending)
{
	const uint8 *p = *pp;
	uint8		key[TIMEUUID_LEN];
	uint64		ticks = 0;
	int			i;

	if (p > end || end - p < TIMEUUID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("truncated timeuuid in a widecol key"),
				 errdetail("%d bytes are left, a timeuuid needs %d.",
						   p > end ? 0 : (int) (end - p), TIMEUUID_LEN)));

	for (i = 0; i < TIMEUUID_LEN; i++)
		key[i] = descending ? (uint8) ~p[i] : p[i];

	for (i = 0; i < 8; i++)
		ticks = (ticks << 8) | key[i];
	if (ticks > TIMEUUID_MAX_TICKS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid timeuuid in a widecol key"),
				 errdetail("Its timestamp does not fit in 60 bits.")));

	*pp = p + TIMEUUID_LEN;
	return TimeuuidPGetDatum(timeuuid_make(ticks, key + 8));
}
