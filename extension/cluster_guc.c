/*-------------------------------------------------------------------------
 *
 * cluster_guc.c
 *		  The widecol.* settings of the cluster: name, addresses, seeds,
 *		  data centre and rack, secret, failure detection and the request
 *		  settings the coordinator will use.
 *
 * Copyright (c) 2026, widecol developers
 *
 * IDENTIFICATION
 *		  extension/cluster_guc.c
 *
 * NOTES
 *	  The node reads the postmaster settings once, when it starts the
 *	  cluster runtime (node.c).  widecol.write_request_timeout and
 *	  widecol.read_request_timeout exist however the library is loaded
 *	  (backends wait for the node longer than they do, conn.c); the others
 *	  exist only with shared_preload_libraries, as the other node settings
 *	  (widecol.c).  The two request timeouts, widecol.hinted_handoff_enabled
 *	  and widecol.max_hint_window are server-wide: the node hands them to
 *	  the coordinator at start and on SIGHUP.  widecol.phi_convict_threshold
 *	  is read when the cluster starts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "widecol.h"

/* GUC variables */
char	   *widecol_cluster_name = NULL;
char	   *widecol_listen_address = NULL;
int			widecol_port = 7000;
char	   *widecol_seeds = NULL;
char	   *widecol_replace_address = NULL;
char	   *widecol_datacenter = NULL;
char	   *widecol_rack = NULL;
char	   *widecol_cluster_secret_file = NULL;
double		widecol_phi_convict_threshold = 8.0;
int			widecol_write_request_timeout = 2000;
int			widecol_read_request_timeout = 5000;
bool		widecol_hinted_handoff_enabled = true;
int			widecol_max_hint_window = 3 * 3600 * 1000;

/*
 * Define the cluster settings: the session ones always, the node ones only
 * while shared_preload_libraries are processed (preloaded).
 */
void
widecol_define_cluster_gucs(bool preloaded)
{
	DefineCustomIntVariable("widecol.write_request_timeout",
							"How long the coordinator waits for the replicas "
							"of a write.",
							"Server-wide; the node reads it at start and on reload.",
							&widecol_write_request_timeout,
							2000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.read_request_timeout",
							"How long the coordinator waits for the replicas "
							"of a read (of each token range of a scan).",
							"Server-wide; the node reads it at start and on reload.",
							&widecol_read_request_timeout,
							5000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	if (!preloaded)
		return;

	DefineCustomStringVariable("widecol.cluster_name",
							   "Name of the cluster; nodes of another name are "
							   "refused.",
							   NULL,
							   &widecol_cluster_name,
							   "widecol",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.listen_address",
							   "IP address the node listens on for other nodes "
							   "and tells them to use; empty: no cluster, this "
							   "node alone.",
							   NULL,
							   &widecol_listen_address,
							   "",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.port",
							"TCP port of the internode protocol.",
							NULL,
							&widecol_port,
							7000, 1, 65535,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.seeds",
							   "Comma-separated host:port of the seed nodes a "
							   "starting node contacts first; empty: this node "
							   "alone.",
							   NULL,
							   &widecol_seeds,
							   "",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.replace_address",
							   "Internode host:port of a dead node this fresh "
							   "node replaces: it takes the dead node's tokens "
							   "and streams its data.",
							   "Honoured on a first start only (no tokens "
							   "stored yet); empty: none.",
							   &widecol_replace_address,
							   "",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.datacenter",
							   "Data centre of this node (replica placement).",
							   NULL,
							   &widecol_datacenter,
							   "dc1",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.rack",
							   "Rack of this node (replica placement).",
							   NULL,
							   &widecol_rack,
							   "rack1",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("widecol.cluster_secret_file",
							   "File holding the secret every node of the "
							   "cluster shares; it must not be readable by "
							   "group or others.",
							   "Empty: no secret (only nodes without one join).",
							   &widecol_cluster_secret_file,
							   "",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomRealVariable("widecol.phi_convict_threshold",
							 "Suspicion level (phi) at which the failure "
							 "detector marks a node down.",
							 "Lower detects failures sooner and risks false "
							 "alarms; read when the cluster starts.",
							 &widecol_phi_convict_threshold,
							 8.0, 1.0, 16.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("widecol.hinted_handoff_enabled",
							 "Keep hints for replicas that are down.",
							 "Applies to writes the node coordinates from the next reload.",
							 &widecol_hinted_handoff_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("widecol.max_hint_window",
							"How long hints are kept for a replica that is "
							"down.",
							"No hint is stored for a node down longer than this.",
							&widecol_max_hint_window,
							3 * 3600 * 1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}
