/*-------------------------------------------------------------------------
 *
 * cluster_views.c
 *		  The cluster as this node sees it: widecol.nodes (nodetool status)
 *		  and the ring that widecol.ring and widecol.endpoints() read.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/cluster_views.c
 *
 * NOTES
 *	  The backend asks its node for the membership (the MEMBERS request of
 *	  docs/protocol.md) and builds the ring from the members that own
 *	  tokens (state normal, leaving, or shut down).  A node without
 *	  widecol.listen_address runs no cluster: it answers so, and the views
 *	  show this node alone (ring_functions.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "alloc.h"
#include "client.h"
#include "gossip.h"
#include "protocol.h"
#include "ring.h"

#include "widecol.h"

#define NODES_COLUMNS 11

PG_FUNCTION_INFO_V1(widecol_nodes);
PG_FUNCTION_INFO_V1(widecol_streams);

static const char *state_name(uint8 status);
static wc_ring *members_ring(const wc_proto_members *m, int **host_of);

/*
 * Ask the local node for the membership.  Returns whether the node runs a
 * cluster; *out is then filled (wc_proto_members_free).  Errors are
 * reported.
 */
bool
widecol_cluster_members(struct wc_proto_members *out)
{
	wc_status	st;

	widecol_require_node();
	st = wc_client_members(widecol_connection(), out);
	if (st != WC_OK)
		widecol_report(st, "cluster membership");
	if (!out->cluster)
		wc_proto_members_free(out);
	return out->cluster;
}

/* A member owns ring tokens in these states. */
static bool
owns_tokens(const wc_member_info *m)
{
	return m->ntokens > 0 && m->has_host_id &&
		(m->status == WC_GOSSIP_STATUS_NORMAL ||
		 m->status == WC_GOSSIP_STATUS_LEAVING ||
		 m->status == WC_GOSSIP_STATUS_SHUTDOWN);
}

/*
 * The ring of the members that own tokens (NULL if none); host_of, when
 * given, maps a member index to its ring host index (-1: not in the ring).
 */
static wc_ring *
members_ring(const wc_proto_members *m, int **host_of)
{
	wc_ring_member *rm = palloc0(sizeof(wc_ring_member) * (m->n ? m->n : 1));
	size_t		n = 0;
	wc_ring    *ring = NULL;
	wc_status	st;

	if (host_of)
		*host_of = palloc(sizeof(int) * (m->n ? m->n : 1));
	for (size_t i = 0; i < m->n; i++)
	{
		const wc_member_info *mi = &m->members[i];

		if (host_of)
			(*host_of)[i] = -1;
		if (!owns_tokens(mi) || wc_addr_parse(mi->address, &rm[n].addr) != WC_OK)
			continue;
		memcpy(rm[n].host_id, mi->host_id, WC_RING_HOST_ID_LEN);
		strlcpy(rm[n].dc, mi->dc, sizeof(rm[n].dc));
		strlcpy(rm[n].rack, mi->rack, sizeof(rm[n].rack));
		rm[n].tokens = mi->tokens;
		rm[n].ntokens = mi->ntokens;
		if (host_of)
			(*host_of)[i] = (int) n;
		n++;
	}
	if (n > 0 && (st = wc_ring_build(rm, n, &ring)) != WC_OK)
		widecol_report(st, "token ring");
	pfree(rm);
	return ring;
}

/*
 * The cluster's ring as the local node sees it, with a reference the
 * caller drops (wc_ring_unref); NULL when the node runs no cluster or no
 * node owns tokens yet.
 */
wc_ring *
widecol_cluster_ring(void)
{
	wc_proto_members m;
	wc_ring    *ring;

	if (!widecol_preloaded || !widecol_cluster_members(&m))
		return NULL;
	PG_TRY();
	{
		ring = members_ring(&m, NULL);
	}
	PG_FINALLY();
	{
		wc_proto_members_free(&m);
	}
	PG_END_TRY();
	return ring;
}

static const char *
state_name(uint8 status)
{
	switch (status)
	{
		case WC_GOSSIP_STATUS_JOINING:
			return "joining";
		case WC_GOSSIP_STATUS_NORMAL:
		case WC_GOSSIP_STATUS_SHUTDOWN:
			return "normal";
		case WC_GOSSIP_STATUS_LEAVING:
			return "leaving";
		case WC_GOSSIP_STATUS_LEFT:
			return "left";
		default:
			return "unknown";
	}
}

/* The replication of the keyspace (foreign server) named ks. */
static void
keyspace_replication(const char *ks, wc_replication *r)
{
	ForeignServer *server = GetForeignServerByName(ks, false);
	const char *text = NULL;
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "replication") == 0)
			text = defGetString(def);
	}
	if (text == NULL)
		wc_replication_default(r);
	else if (wc_replication_parse(text, r) != WC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid replication for keyspace \"%s\"", ks),
				 errdetail_internal("%s", wc_last_error()),
				 errhint("Fix the server's replication option with ALTER SERVER.")));
}

/*
 * widecol.nodes(keyspace text DEFAULT NULL) returns setof (address,
 * datacenter, rack, status, state, load_bytes, owns, host_id, tokens,
 * schema_version, sql_address): every node this node knows, as nodetool
 * status shows them.  owns is the share of the ring a node owns as primary
 * replica, or with a keyspace (a widecol foreign server) its effective
 * ownership under that keyspace's replication.
 */
Datum
widecol_nodes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	wc_replication repl;
	bool		have_ks = !PG_ARGISNULL(0);
	wc_proto_members m;

	if (have_ks)
		keyspace_replication(text_to_cstring(PG_GETARG_TEXT_PP(0)), &repl);
	InitMaterializedSRF(fcinfo, 0);
	if (!widecol_preloaded || !widecol_cluster_members(&m))
	{
		/* no cluster: this node alone owns the whole ring */
		Datum		values[NODES_COLUMNS];
		bool		nulls[NODES_COLUMNS];

		memset(nulls, true, sizeof(nulls));
		values[0] = CStringGetTextDatum("local");
		values[1] = CStringGetTextDatum("datacenter1");
		values[2] = CStringGetTextDatum("rack1");
		values[3] = CStringGetTextDatum(widecol_node_running() ? "up" : "down");
		values[4] = CStringGetTextDatum("normal");
		values[6] = Float8GetDatum(1.0);
		values[8] = Int32GetDatum(widecol_num_tokens);
		for (int i = 0; i < NODES_COLUMNS; i++)
			nulls[i] = !(i <= 4 || i == 6 || i == 8);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		return (Datum) 0;
	}
	PG_TRY();
	{
		int		   *host_of;
		wc_ring    *ring = members_ring(&m, &host_of);
		double	   *owns = NULL;
		wc_status	st = WC_OK;

		if (ring)
		{
			owns = palloc0(sizeof(double) * wc_ring_host_count(ring));
			if (have_ks)
				st = wc_ring_effective_ownership(ring, &repl, owns);
			else
				wc_ring_ownership(ring, owns);
		}
		if (st != WC_OK)
		{
			wc_ring_unref(ring);
			widecol_report(st, "ring ownership");
		}
		for (size_t i = 0; i < m.n; i++)
		{
			const wc_member_info *mi = &m.members[i];
			Datum		values[NODES_COLUMNS];
			bool		nulls[NODES_COLUMNS];

			memset(nulls, false, sizeof(nulls));
			values[0] = CStringGetTextDatum(mi->address);
			values[1] = CStringGetTextDatum(mi->dc);
			values[2] = CStringGetTextDatum(mi->rack);
			values[3] = CStringGetTextDatum(mi->up ? "up" : "down");
			values[4] = CStringGetTextDatum(state_name(mi->status));
			values[5] = Int64GetDatum((int64) mi->load_bytes);
			nulls[5] = !mi->has_load;
			if (host_of[i] >= 0)
				values[6] = Float8GetDatum(owns[host_of[i]]);
			else
				nulls[6] = true;
			if (mi->has_host_id)
			{
				pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

				memcpy(u->data, mi->host_id, UUID_LEN);
				values[7] = UUIDPGetDatum(u);
			}
			else
				nulls[7] = true;
			values[8] = Int32GetDatum((int32) mi->ntokens);
			values[9] = CStringGetTextDatum(mi->schema_version);
			nulls[9] = mi->schema_version[0] == '\0';
			values[10] = CStringGetTextDatum(mi->sql_address);
			nulls[10] = mi->sql_address[0] == '\0';
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		wc_ring_unref(ring);
	}
	PG_FINALLY();
	{
		wc_proto_members_free(&m);
	}
	PG_END_TRY();
	return (Datum) 0;
}

#define STREAMS_COLUMNS 9

/*
 * widecol.streams() returns setof (session, peer, direction, table_id,
 * ranges_done, ranges_total, bytes, rows, state): the streaming sessions
 * of the local node, running and recently ended, as nodetool netstats
 * shows them.  Without a preloaded node or a cluster: no rows.
 */
Datum
widecol_streams(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	wc_proto_stream *s = NULL;
	size_t		n = 0;
	wc_status	st;

	InitMaterializedSRF(fcinfo, 0);
	if (!widecol_preloaded)
		return (Datum) 0;
	widecol_require_node();
	st = wc_client_streams(widecol_connection(), &s, &n);
	if (st != WC_OK)
		widecol_report(st, "streaming sessions");
	for (size_t i = 0; i < n; i++)
	{
		Datum		values[STREAMS_COLUMNS];
		bool		nulls[STREAMS_COLUMNS];

		memset(nulls, false, sizeof(nulls));
		values[0] = CStringGetTextDatum(s[i].name);
		values[1] = CStringGetTextDatum(s[i].peer);
		values[2] = CStringGetTextDatum(s[i].incoming ? "in" : "out");
		values[3] = Int64GetDatum((int64) s[i].table_id);
		values[4] = Int32GetDatum((int32) s[i].ranges_done);
		values[5] = Int32GetDatum((int32) s[i].ranges_total);
		values[6] = Int64GetDatum((int64) s[i].bytes);
		values[7] = Int64GetDatum((int64) s[i].rows);
		values[8] = CStringGetTextDatum(s[i].state);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wc_free(s);
	return (Datum) 0;
}
