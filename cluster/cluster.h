/*
 * cluster.h - the cluster runtime of one node: the real transport
 * (transport.h), the gossiper (gossip.h) and the node's identity and
 * tokens, kept durably in its data directory.
 *
 * wc_cluster_start reads (or creates) the file "cluster_state" in the data
 * directory: the node's host id (16 random bytes, made once), the last
 * generation (each start takes a larger one) and its tokens.  It starts the
 * transport and the gossiper and sets the node's application states, whose
 * encodings are documented in docs/protocol.md "Application states":
 * HOST_ID, DC, RACK, SQL_ADDRESS, RELEASE_VERSION, SCHEMA (the version
 * of the cluster schema, schema_runtime.h, when the node has an engine), LOAD (bytes under the data directory, every
 * load_interval_ms), TOKENS and STATUS.  A node without stored tokens
 * announces STATUS "joining", waits until it has heard from a seed (at most
 * join_wait_ms), chooses its tokens with wc_ring_allocate_tokens against
 * the ring it then knows (evenly spaced when it is alone), stores them and
 * turns "normal"; a node with stored tokens is "normal" at once.  Nodes
 * must join one at a time: two that choose tokens against the same ring
 * may choose the same ones (the ring keeps a token for the node that
 * announced it first and the log names the other).
 *
 * On every gossip change of TOKENS, STATUS, DC or RACK, and when a node
 * joins or is removed, the runtime rebuilds the ring snapshot (members in
 * state normal, leaving or shutdown, with their tokens) and publishes it
 * in its wc_ring_slot; on every change (liveness and load included) it
 * re-encodes the membership that wc_cluster_members serves.
 *
 * Thread-safety: wc_cluster_start and wc_cluster_stop are called by the
 * owner thread.  wc_cluster_ring and wc_cluster_members may be called from
 * any thread while the cluster runs.  Everything else runs on the
 * transport's loop thread.
 */
#ifndef WC_CLUSTER_H
#define WC_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "commitlog.h"
#include "env.h"
#include "ring.h"
#include "schema_runtime.h"
#include "status.h"

#define WC_CLUSTER_STATE_FILE "cluster_state"
#define WC_CLUSTER_DEFAULT_JOIN_WAIT_MS 5000u
#define WC_CLUSTER_DEFAULT_LOAD_INTERVAL_MS 60000u

typedef struct wc_cluster wc_cluster;

typedef struct wc_cluster_options {
    const char *data_dir;     /* required: the node's data directory (state file, load) */
    wc_addr listen;           /* internode address; also what peers are told */
    const wc_addr *seeds;     /* copied; may include this node; none = alone */
    size_t nseeds;
    const char *cluster_name; /* required */
    const uint8_t *secret;    /* NULL/0: no secret (only nodes without one join) */
    size_t secret_len;
    const char *dc;           /* required, 1..47 characters */
    const char *rack;         /* required, 1..47 characters */
    const char *sql_address;  /* shown to people; may be NULL */
    const char *release_version; /* NULL: unset */
    uint32_t num_tokens;      /* 1..WC_RING_MAX_TOKENS_PER_HOST */
    double phi_convict_threshold; /* 0: the gossiper's default (8) */
    uint64_t gossip_interval_ms;  /* 0: the gossiper's default (1000) */
    uint32_t join_wait_ms;        /* 0: WC_CLUSTER_DEFAULT_JOIN_WAIT_MS */
    uint32_t load_interval_ms;    /* 0: WC_CLUSTER_DEFAULT_LOAD_INTERVAL_MS */
    wc_engine *engine;        /* the node's engine: the cluster schema runs with it (NULL: none) */
    wc_log_fn log;            /* lines of the transport and the runtime; any thread but the caller's */
    void *log_arg;
} wc_cluster_options;

/* API */

/*
 * Start the cluster runtime described above.  Returns once the transport
 * listens and the gossiper runs (tokens may still be chosen later, on the
 * loop).  WC_INVALID_ARGUMENT for bad options (the detail says which),
 * WC_CORRUPTION for a damaged state file, WC_IO_ERROR (state file, or the
 * address cannot be listened on), WC_NO_MEMORY.  Nothing is left running
 * on failure.  Caller stops it with wc_cluster_stop.
 */
wc_status wc_cluster_start(const wc_cluster_options *o, wc_cluster **out);

/*
 * Announce the shutdown to live peers (STATUS "shutdown"), give the
 * announcement a moment to leave, stop the transport and free everything.
 * NULL is ignored.
 */
void wc_cluster_stop(wc_cluster *c);

/* The current ring with a reference (caller unrefs), NULL before tokens are known. */
wc_ring *wc_cluster_ring(wc_cluster *c);

/*
 * Append the body of a MEMBERS response (protocol.h) for this node's view
 * to out.  c NULL: a node without a cluster (no members).  Any thread.
 */
void wc_cluster_members(wc_cluster *c, wc_buf *out);

/* This node's internode address (the real port when listen.port was 0). */
wc_addr wc_cluster_self(const wc_cluster *c);

/* The cluster schema runtime (NULL: c NULL or started without an engine).  Any thread. */
wc_schema_runtime *wc_cluster_schema(wc_cluster *c);

/* This node's host id (16 bytes). */
void wc_cluster_host_id(const wc_cluster *c, uint8_t out[WC_RING_HOST_ID_LEN]);

#endif /* WC_CLUSTER_H */
