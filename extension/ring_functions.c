/*-------------------------------------------------------------------------
 *
 * ring_functions.c
 *		  SQL functions over the token ring: the token of a partition key
 *		  (widecol.token), its replicas (widecol.endpoints) and the local
 *		  node's tokens (widecol.ring_tokens, behind the widecol.ring view).
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/ring_functions.c
 *
 * NOTES
 *	  widecol.token() encodes the key values with the same key codec the
 *	  foreign data wrapper writes partitions with (keycodec.c) and hashes
 *	  the bytes as the engine does (wc_token), so the result is the token
 *	  under which the engine stores that partition.  Values are taken in
 *	  the partition-key columns' types: an untyped literal goes through the
 *	  column type's input function, another type through its implicit cast
 *	  to the column type; anything else is refused with a hint to cast.
 *
 *	  The ring is the cluster's as the local node sees it
 *	  (widecol_cluster_ring(), cluster_views.c).  Without a cluster
 *	  (widecol.listen_address empty) it has one member, this node, in data centre "datacenter1"
 *	  and rack "rack1", with widecol.num_tokens evenly spaced tokens
 *	  starting at -2^63, and its address is shown as "local"; every
 *	  keyspace then has this node as its one replica, whatever its
 *	  replication says (the one-node rule of cluster/consistency.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "parser/parse_coerce.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "consistency.h"
#include "keys.h"
#include "ring.h"

#include "widecol.h"

/* The one node's address in the ring until nodes form a cluster. */
#define LOCAL_ADDRESS "local"

PG_FUNCTION_INFO_V1(widecol_token);
PG_FUNCTION_INFO_V1(widecol_endpoints);
PG_FUNCTION_INFO_V1(widecol_ring_tokens);

/* helpers */
static bool partition_token(FunctionCallInfo fcinfo, const char *fname,
							WidecolTable *t, int64 *token);
static Datum key_argument(FunctionCallInfo fcinfo, int argno, const char *fname,
						  WidecolTable *t, WidecolColumn *c);
static char *partition_key_list(WidecolTable *t);
static wc_ring *local_ring(void);
static uint64_t no_offset(void *arg);
static const char *host_address(const wc_ring_member *m);

/* The partition-key columns of t, "a, b", for messages. */
static char *
partition_key_list(WidecolTable *t)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < t->npk; i++)
		appendStringInfo(&s, "%s%s", i ? ", " : "",
						 quote_identifier(t->cols[t->pk[i]].name));
	return s.data;
}

/*
 * Argument argno (1-based, after the regclass) as a value of partition-key
 * column c: as it is, from an untyped literal through c's input function,
 * or through the implicit cast to c's type.  REQUIRES: not NULL.
 */
static Datum
key_argument(FunctionCallInfo fcinfo, int argno, const char *fname,
			 WidecolTable *t, WidecolColumn *c)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argno);
	Datum		v = PG_GETARG_DATUM(argno);
	CoercionPathType path;
	Oid			funcid = InvalidOid;

	if (argtype == c->typid)
		return v;
	if (argtype == UNKNOWNOID)
	{
		Oid			infunc,
					ioparam;

		getTypeInputInfo(c->typid, &infunc, &ioparam);
		return OidInputFunctionCall(infunc, DatumGetCString(v), ioparam, c->typmod);
	}
	path = OidIsValid(argtype) ?
		find_coercion_pathway(c->typid, argtype, COERCION_IMPLICIT, &funcid) :
		COERCION_PATH_NONE;
	switch (path)
	{
		case COERCION_PATH_RELABELTYPE:
			return v;
		case COERCION_PATH_FUNC:
			switch (get_func_nargs(funcid))
			{
				case 1:
					return OidFunctionCall1(funcid, v);
				case 2:
					return OidFunctionCall2(funcid, v, Int32GetDatum(-1));
				default:
					return OidFunctionCall3(funcid, v, Int32GetDatum(-1),
											BoolGetDatum(false));
			}
		case COERCION_PATH_COERCEVIAIO:
			{
				Oid			outfunc,
							infunc,
							ioparam;
				bool		varlena;

				getTypeOutputInfo(argtype, &outfunc, &varlena);
				getTypeInputInfo(c->typid, &infunc, &ioparam);
				return OidInputFunctionCall(infunc, OidOutputFunctionCall(outfunc, v),
											ioparam, c->typmod);
			}
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("argument %d of widecol.%s() is of type %s, but partition-key column \"%s\" of \"%s\" is of type %s",
							argno + 1, fname, format_type_be(argtype), c->name,
							get_rel_name(t->relid), format_type_be(c->typid)),
					 errhint("Cast the value to the column's type, e.g. widecol.%s('%s', value::%s).",
							 fname, get_rel_name(t->relid), format_type_be(c->typid))));
	}
	pg_unreachable();
}

/*
 * The token of the partition key given by the arguments after the
 * regclass into *token; false if one of the values is NULL (no partition
 * has a NULL key).  Wrong counts and types are errors with a hint.
 */
static bool
partition_token(FunctionCallInfo fcinfo, const char *fname, WidecolTable *t,
				int64 *token)
{
	int			nargs = PG_NARGS() - 1;
	bool		any_null = false;
	StringInfoData pk;

	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol.%s() takes the partition-key values as separate arguments",
						fname),
				 errhint("Call it as widecol.%s('%s', value1, value2, ...), without VARIADIC.",
						 fname, get_rel_name(t->relid))));
	if (nargs != t->npk)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("widecol.%s() needs %d partition-key value%s for \"%s\", %d given",
						fname, t->npk, t->npk == 1 ? "" : "s", get_rel_name(t->relid),
						nargs),
				 errdetail("The partition key of \"%s\" is (%s).", get_rel_name(t->relid),
						   partition_key_list(t)),
				 errhint("Pass one value per partition-key column, in order: widecol.%s('%s', %s).",
						 fname, get_rel_name(t->relid), partition_key_list(t))));

	initStringInfo(&pk);
	for (int i = 0; i < t->npk; i++)
	{
		WidecolColumn *c = &t->cols[t->pk[i]];

		/* check every argument's type, even after a NULL */
		if (PG_ARGISNULL(i + 1))
		{
			any_null = true;
			continue;
		}
		widecol_encode_column_pk(&pk, c, key_argument(fcinfo, i + 1, fname, t, c), t->npk);
	}
	if (any_null)
		return false;
	if (pk.len > WC_MAX_PK_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partition key of %d bytes is longer than the %d bytes a widecol partition key may have",
						pk.len, WC_MAX_PK_LEN),
				 errhint("No partition of \"%s\" can have this key.", get_rel_name(t->relid))));
	*token = wc_token(pk.data, (size_t) pk.len);
	pfree(pk.data);
	return true;
}

/*
 * widecol.token(regclass, VARIADIC "any") returns bigint: the token of a
 * partition key, as CQL's token(); NULL if a value is NULL.
 */
Datum
widecol_token(PG_FUNCTION_ARGS)
{
	WidecolTable *t;
	int64		token;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = widecol_require_readable_table(PG_GETARG_OID(0), "token");
	if (!partition_token(fcinfo, "token", t, &token))
		PG_RETURN_NULL();
	PG_RETURN_INT64(token);
}

/* The allocator's random source for the evenly spaced local tokens: no offset. */
static uint64_t
no_offset(void *arg)
{
	return 0;
}

/*
 * The ring this backend sees: until nodes form a cluster, this node alone
 * with widecol.num_tokens evenly spaced tokens (built once; num_tokens
 * changes only with a restart).
 */
static wc_ring *
local_ring(void)
{
	static wc_ring *ring = NULL;
	wc_ring_member self;
	int64_t    *tokens;
	wc_status	st;

	if (ring != NULL)
		return ring;
	tokens = palloc(sizeof(int64_t) * widecol_num_tokens);
	memset(&self, 0, sizeof(self));
	strlcpy(self.addr.host, LOCAL_ADDRESS, sizeof(self.addr.host));
	strlcpy(self.dc, "datacenter1", sizeof(self.dc));
	strlcpy(self.rack, "rack1", sizeof(self.rack));
	self.tokens = tokens;
	self.ntokens = widecol_num_tokens;
	st = wc_ring_allocate_tokens(NULL, NULL, self.ntokens, 1, no_offset, NULL, tokens);
	if (st == WC_OK)
		st = wc_ring_build(&self, 1, &ring);
	pfree(tokens);
	if (st != WC_OK)
		widecol_report(st, "token ring");
	return ring;
}

/* How a ring member's address is shown. */
static const char *
host_address(const wc_ring_member *m)
{
	char		buf[WC_ADDR_HOST_MAX + 8];

	if (m->addr.port == 0)
		return m->addr.host;
	wc_addr_format(&m->addr, buf, sizeof(buf));
	return pstrdup(buf);
}

/*
 * widecol.endpoints(regclass, VARIADIC "any") returns text[]: the addresses
 * of the replicas of a partition key under its keyspace's replication, the
 * primary replica first; NULL if a value is NULL.
 */
Datum
widecol_endpoints(PG_FUNCTION_ARGS)
{
	WidecolTable *t;
	wc_replication repl;
	wc_ring    *ring;
	wc_ring    *cluster_ring;
	uint32_t   *hosts;
	size_t		n = 0;
	ArrayBuildState *out;
	int64		token;
	wc_status	st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = widecol_require_readable_table(PG_GETARG_OID(0), "endpoints");
	if (!partition_token(fcinfo, "endpoints", t, &token))
		PG_RETURN_NULL();
	cluster_ring = widecol_cluster_ring();
	ring = cluster_ring ? cluster_ring : local_ring();
	if (wc_replication_parse(t->replication, &repl) != WC_OK)
		wc_replication_default(&repl);
	/* replicas are distinct hosts: there are at most as many as hosts */
	hosts = palloc(sizeof(uint32_t) * wc_ring_host_count(ring));
	st = wc_ring_replicas(ring, &repl, token, hosts, wc_ring_host_count(ring), &n);
	if (st != WC_OK)
		widecol_report(st, "replica placement");
	/* one node: it holds every keyspace, whatever data centres it names */
	if (n == 0 && wc_ring_host_count(ring) == 1)
		hosts[n++] = 0;
	out = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	for (size_t i = 0; i < n; i++)
		accumArrayResult(out, CStringGetTextDatum(host_address(wc_ring_host(ring, hosts[i]))),
						 false, TEXTOID, CurrentMemoryContext);
	wc_ring_unref(cluster_ring);
	PG_RETURN_DATUM(makeArrayResult(out, CurrentMemoryContext));
}

/*
 * widecol.ring_tokens() returns setof (token bigint, address text): every
 * token of the ring with its host's address, in token order (the
 * widecol.ring view).
 */
Datum
widecol_ring_tokens(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	wc_ring    *cluster_ring = widecol_cluster_ring();
	wc_ring    *ring = cluster_ring ? cluster_ring : local_ring();

	InitMaterializedSRF(fcinfo, 0);
	for (size_t i = 0; i < wc_ring_token_count(ring); i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(wc_ring_token_at(ring, i));
		values[1] = CStringGetTextDatum(host_address(wc_ring_host(ring,
																 wc_ring_owner_at(ring, i))));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wc_ring_unref(cluster_ring);
	return (Datum) 0;
}
