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
 * turns "normal"; a node with stored tokens is "normal" at once.
 *
 * Bootstrap: a node that coordinates, has an engine (or local.list_tables),
 * is not one of its seeds and heard from a normal node first waits while
 * another live node is joining with tokens (logged every 10 s), then
 * chooses its tokens against the ring with the joining nodes, stores them
 * with "bootstrap 1" in the state file, announces them while "joining",
 * and after three gossip rounds, once every live normal node announces its
 * schema version, pulls every range of every table it will replicate from
 * the live replica of the current ring that gives the range up (else from
 * any live replica; stream.h; one session per source, progress in
 * "<data_dir>/streams"), retrying every 5 s until all succeed; then it
 * clears the flag and turns "normal".  A restart while the flag is set
 * resumes the bootstrap.  Two nodes that choose tokens within one gossip
 * round choose the same ones: before streaming and again before turning
 * normal, a joining node whose token another node keeps (normal, leaving,
 * shutdown, or joining with a lower host id: the ring's rule) gives its
 * tokens up (an empty TOKENS value, "tokens 0" stored) and waits for its
 * turn again.  Every coordinator also gets the ring with the joining nodes
 * (wc_coord_set_pending_ring) and sends them the writes of their future
 * ranges.
 *
 * Replacing a dead node (replace_address, Cassandra's
 * replace_address_first_boot): a node started without ring state (no
 * stored tokens) and with replace_address does not gossip at first; every
 * second it asks its seeds other than itself (REPLACE_ASK, replace_format.h)
 * what they know of the node at that address.  On the first answer it
 * refuses, logs why and stays out of the ring (it never gossips; requests
 * fail with that reason until a restart) when the node is unknown, alive,
 * not normal (or shut down), removed, or of another data centre or rack.
 * Else it keeps its own new host id, takes the dead node's tokens, stores
 * them with "bootstrap 1" and "replacing <host id>" and announces them
 * while "joining" with REPLACING (the dead node's host id), then
 * bootstraps as above, but streams every range it will replicate from
 * every live replica but the dead node (its copies are gone).  Every node's ring keeps the dead node (at the replacement's
 * address when the replacement uses the same one) until the replacement
 * is normal, and its pending ring holds the replacement in its place: the
 * writes of those ranges reach the replacement meanwhile.  A ring member
 * is alive only when the node gossiping at its address has its host id, so
 * a dead node replaced at its own address is never read from.  At the end
 * the replacement stores and announces the dead host id as removed
 * (REMOVED) and turns normal: every node leaves the dead node out and
 * drops the hints it held for it.  A node that has ring state ignores
 * replace_address (logged); one that restarts mid-replacement resumes it.
 *
 * On every gossip change of TOKENS, STATUS, DC or RACK, and when a node
 * joins or is removed, the runtime rebuilds the ring snapshot (members in
 * state normal, leaving or shutdown, with their tokens) and publishes it
 * in its wc_ring_slot; on every change (liveness and load included) it
 * re-encodes the membership that wc_cluster_members serves.
 *
 * Coordination: with a local side (wc_cluster_local.store_open set) the
 * runtime also runs, on its loop, a coordinator (coordinator.h) over the
 * store the node gives, with liveness from the gossiper's failure detector
 * and the ring it publishes, and hinted handoff: a durable hint store in
 * "<data_dir>/hints" (hints.h; a hint for a replica down longer than
 * max_hint_window_ms, or while hints are disabled, is not kept) and hint
 * delivery (hint_delivery.h) to every node that comes up, its hints applied
 * through local.apply.  Internode messages 16..39 go to the coordinator, 96..111 to lightweight
 * transactions (paxos.h, state in "<data_dir>/paxos"),
 * 40..47 to hint delivery, 64..79 to streaming, 80..95 to the repair exchange (repair.h).  wc_cluster_write and wc_cluster_read hand a
 * request to the loop and wait for its end, so node worker threads can
 * call them.
 *
 * Thread-safety: wc_cluster_start and wc_cluster_stop are called by the
 * owner thread.  wc_cluster_ring, wc_cluster_members, wc_cluster_write,
 * wc_cluster_read and wc_cluster_set_hints may be called from any thread
 * while the cluster runs.  Everything else runs on the transport's loop
 * thread.
 */
#ifndef WC_CLUSTER_H
#define WC_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "commitlog.h"
#include "coordinator.h"
#include "paxos.h"
#include "env.h"
#include "ring.h"
#include "schema_runtime.h"
#include "status.h"
#include "stream.h"
#include "view.h"

#define WC_CLUSTER_STATE_FILE "cluster_state"
#define WC_CLUSTER_DEFAULT_JOIN_WAIT_MS 5000u
#define WC_CLUSTER_DEFAULT_LOAD_INTERVAL_MS 60000u

#define WC_CLUSTER_HINTS_DIR "hints"
#define WC_CLUSTER_STREAMS_DIR "streams"
#define WC_CLUSTER_BATCHLOG_DIR "batchlog"
#define WC_CLUSTER_PAXOS_DIR "paxos"

typedef struct wc_cluster wc_cluster;

/*
 * The node's side of coordination.  store_open NULL: no coordinator (the
 * messages of the coordinator and of hints are dropped, wc_cluster_write
 * and wc_cluster_read answer WC_UNAVAILABLE).
 */
typedef struct wc_cluster_local {
    /*
     * Make the local replica store (replica_store.h) on env: its
     * completions run on env's loop.  Called once, on the loop, while
     * wc_cluster_start runs.  WC_OK, or a failure that fails the start.
     */
    wc_status (*store_open)(void *ctx, wc_env *env, wc_replica_store *out);
    /*
     * Drain the store (its pending completions are called now) and free
     * it.  Called once, on the loop (or after it stopped), before the
     * coordinator is destroyed.
     */
    void (*store_close)(void *ctx);
    /* The replication of table_id (any thread); WC_NOT_FOUND for an unknown table. */
    wc_status (*replication)(void *ctx, uint32_t table_id, wc_replication *out);
    /* The lifetime in seconds of a hint for table_id (its gc_grace_seconds); 0: keep none. */
    uint32_t (*hint_ttl)(void *ctx, uint32_t table_id);
    /* Apply a hint's batch record durably on this node (on the loop). */
    wc_status (*apply)(void *ctx, const uint8_t *batch, size_t len);
    void *ctx;
    /* The store's raw form for streaming (zero: the engine's, wc_stream_engine_codec). */
    wc_stream_codec stream_codec;
    /*
     * The tables a bootstrap streams (NULL: the engine's, and no bootstrap
     * without an engine): their ids into *ids (wc_malloc'd; the runtime
     * frees them) and their count into *n.  On the loop.
     */
    wc_status (*list_tables)(void *ctx, uint32_t **ids, size_t *n);
    /*
     * Optional: the node keeps materialized views (view_pair.h).  Called
     * once on the loop, after store_open, with the sink (loop only) that
     * sends the update records of its base writes to the paired view
     * replicas.
     */
    void (*views_attach)(void *ctx, wc_views_sink sink, void *arg);
    /* Optional: the follow hook of the cluster schema (schema_runtime.h), with ctx. */
    wc_schema_follow_fn table_followed;
} wc_cluster_local;

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
    wc_cluster_local local;   /* zero: no coordinator */
    bool hinted_handoff;      /* keep hints for replicas that miss writes */
    uint64_t max_hint_window_ms; /* no hint for a node down longer; 0: the hint store's 3 hours */
    /* the node's files (state, schema, batchlog, hints, stream progress); NULL: wc_fs_posix()
       (tests pass a faultfs; not owned, outlives the cluster) */
    wc_fs *fs;
    /*
     * NULL: start a transport (the real network).  Else run on this
     * environment (the simulator, sim.h): the caller is on env's loop and
     * start and stop run there at once (stop announces nothing when env's
     * node crashed), a new host id and the generation come from env, and
     * the calls that wait for the loop (write, read, repair, streams,
     * coordinator stats, batchlog replay) must not be used:
     * wc_cluster_coordinator serves the loop instead.
     */
    wc_env *env;
    uint32_t stream_page_rows; /* rows per streamed page; 0: WC_STREAM_DEFAULT_PAGE_ROWS */
    /* the internode address of a dead node this fresh node replaces (see above); NULL: none */
    const wc_addr *replace_address;
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
 * NULL is ignored.  REQUIRES with options.env: env's node crashed first
 * (wc_sim_crash: its timers are gone), e.g. stop from the crash callback.
 */
void wc_cluster_stop(wc_cluster *c);

/*
 * Append the body of a STREAMS response (protocol.h) to out: the streaming
 * sessions of this node, running and recently ended (wc_stream_list).  c
 * NULL, or a node that does not coordinate: none.  Any thread but the loop.
 */
void wc_cluster_streams(wc_cluster *c, wc_buf *out);

/* The current ring with a reference (caller unrefs), NULL before tokens are known. */
wc_ring *wc_cluster_ring(wc_cluster *c);

/*
 * Append the body of a MEMBERS response (protocol.h) for this node's view
 * to out.  c NULL: a node without a cluster (no members).  Any thread.
 */
void wc_cluster_members(wc_cluster *c, wc_buf *out);

/*
 * Write batch[0..len) (a batch record whose mutations all belong to
 * table_id) at level cl through the coordinator, waiting until it ends; the
 * outcome in *res (detail included).  Returns res->status: WC_UNAVAILABLE
 * also without a coordinator or once the loop stopped; the other statuses
 * of wc_coord_write.  REQUIRES: timeout_ms > 0.  Any thread but the loop.
 */
wc_status wc_cluster_write(wc_cluster *c, uint32_t table_id, const uint8_t *batch, size_t len,
                           wc_consistency cl, uint32_t timeout_ms, wc_coord_result *res);

/*
 * Write batch[0..len) (mutations of any tables and partitions) as a logged
 * batch (batchlog.h): stored on the batchlog replicas first, then every
 * table's mutations at level cl, waiting until it ends.  Statuses of
 * wc_batchlog_write (an error after the batchlog write says the batch will
 * still be applied in full); WC_UNAVAILABLE also without a coordinator.
 * Any thread but the loop.
 */
wc_status wc_cluster_write_logged(wc_cluster *c, const uint8_t *batch, size_t len,
                                  wc_consistency cl, uint32_t timeout_ms, wc_coord_result *res);

/*
 * A lightweight transaction (paxos.h wc_paxos_cas) on the partition of r
 * at serial_cl, waiting until it ends: decide(decide_arg, ...) runs on the
 * loop thread.  The outcome in *res; the data decided on appended to
 * current (may be NULL).  Returns res->status: WC_UNAVAILABLE also without
 * a coordinator or once the loop stopped.  Any thread but the loop.
 */
wc_status wc_cluster_cas(wc_cluster *c, const wc_store_read *r, wc_consistency serial_cl,
                         uint32_t timeout_ms, wc_paxos_decide_fn decide, void *decide_arg,
                         wc_paxos_result *res, wc_buf *current);

/*
 * How long a batchlog entry waits for its removal before its holder replays
 * it (0: WC_BATCHLOG_DEFAULT_REPLAY_AFTER_MS).  Any thread but the loop.
 */
void wc_cluster_set_batchlog_replay(wc_cluster *c, uint32_t replay_after_ms);

/*
 * Read r at level cl, waiting until it ends: one partition (wc_coord_read),
 * or with scan every partition in token order (wc_coord_scan).  The raw
 * answer is appended to answer.  Statuses as wc_cluster_write and
 * wc_coord_read.  Any thread but the loop.
 */
wc_status wc_cluster_read(wc_cluster *c, const wc_store_read *r, bool scan, wc_consistency cl,
                          uint32_t timeout_ms, wc_coord_result *res, wc_buf *answer);

/*
 * One page of the secondary-index read q at level cl (wc_coord_index_read),
 * waiting until it ends: the rows' raw form appended to answer, the next
 * page's start key to resume and *more whether one may follow.  Statuses
 * as wc_coord_index_read.  Any thread but the loop.
 */
wc_status wc_cluster_index_read(wc_cluster *c, const wc_coord_index_query *q, wc_consistency cl,
                                uint32_t timeout_ms, wc_coord_result *res, wc_buf *answer,
                                wc_buf *resume, bool *more);

/* What a repair did (wc_cluster_repair); also its progress while it runs. */
typedef struct wc_repair_result {
    uint32_t ranges_total;      /* token ranges to repair (this node a replica; primary_only) */
    uint32_t ranges_done;       /* of them compared (and repaired) so far */
    uint32_t ranges_mismatched; /* of them whose replicas' Merkle trees differed */
    uint64_t leaves_mismatched; /* differing leaves, each repaired by a read at ALL */
    uint64_t partitions;        /* partitions in this node's trees */
    uint64_t repairs_sent;      /* repair batches sent to replicas */
    uint64_t rows_streamed;     /* row entries in them */
    uint64_t bytes_streamed;    /* their bytes */
} wc_repair_result;

/* Called by wc_cluster_repair after each range, on its thread. */
typedef void (*wc_repair_progress_fn)(void *arg, const wc_repair_result *sofar);

/*
 * Anti-entropy repair of table_id (repair.h): for every range of the
 * current ring that this node replicates (primary_only: only the ranges it
 * is the primary replica of), ask every replica for its Merkle tree of the
 * range, and repair each leaf whose trees differ with a read at ALL of the
 * leaf's sub-range (the coordinator reconciles the replicas' raw data,
 * tombstones included, and sends each what it lacks).  A range with one
 * replica is counted as compared.  Every step waits at most timeout_ms.
 * Returns the totals in *out (also on failure: what was done).  Statuses:
 * WC_UNAVAILABLE (no coordinator or ring yet, a replica down: the read at
 * ALL needs every one), WC_TIMEOUT (a replica did not answer),
 * WC_NOT_FOUND (unknown table), a replica's failure, WC_NO_MEMORY.  Any
 * thread but the loop; may run for long (the caller's thread blocks).
 */
wc_status wc_cluster_repair(wc_cluster *c, uint32_t table_id, bool primary_only,
                            uint32_t timeout_ms, wc_repair_progress_fn progress, void *arg,
                            wc_repair_result *out);

/*
 * Cleanup (nodetool cleanup): drop the partitions of table_id (0: every
 * table of the cluster) whose token is outside every range this node
 * replicates in the current ring (wc_engine_cleanup); the totals in *out.
 * Statuses: WC_UNAVAILABLE (no coordinator, no ring, this node not in it,
 * or the ring is changing: a live node joins or leaves; the detail names
 * it), WC_NOT_FOUND (unknown table), those of wc_engine_cleanup.  Any
 * thread but the loop; may run for long.
 */
wc_status wc_cluster_cleanup(wc_cluster *c, uint32_t table_id, wc_cleanup_result *out);

/* What a decommission or removenode handed over. */
typedef struct wc_topology_result {
    uint32_t ranges;  /* (table, token range) pairs streamed to a new owner */
    uint32_t targets; /* new owners that pulled */
    uint64_t rows;    /* row entries they applied */
    uint64_t bytes;   /* their bytes */
} wc_topology_result;

/*
 * Decommission (nodetool decommission): this node stores "leaving 1" in
 * its state file, announces STATUS "leaving" (coordinators then also send
 * the writes of its ranges to their new owners), waits three gossip
 * rounds, asks each node that gains a range in the ring without it to pull
 * the range from this node (transfer.h).  Once every pull succeeded it
 * hands over what it keeps for others to one live node that stays (of its
 * data centre when there is one): its batchlog entries
 * (wc_batchlog_handoff) and its hints for hosts that are down
 * (wc_hint_delivery_handoff; those for live hosts are delivered to them),
 * waiting until it holds none (at most 10 minutes, else WC_TIMEOUT).
 * Then it announces "left", stores "decommissioned 1" in its state file
 * and refuses every request from then on (also after a restart, which
 * does not gossip at all: the instance takes part in no cluster until its
 * data directory is emptied).  A node restarted while leaving announces
 * "leaving" again and resumes the decommission by itself once it heard
 * from its cluster for three gossip rounds (the new owners resume their
 * pulls); a wc_cluster_decommission called then waits for that one.  A
 * failed pull or handoff turns the node "normal" again (and clears
 * "leaving").  Statuses: WC_INVALID_ARGUMENT (the
 * node is alone in its ring, or a table's replication factor would exceed
 * the nodes left, per data centre), WC_UNAVAILABLE (no coordinator, the
 * node not normal, another topology change runs here or a node joins or
 * leaves as gossip says, a node that stays is down; a pull failed or the
 * node stopped), a pull's failure (WC_TIMEOUT after an hour).  Any thread
 * but the loop; blocks until the end.
 */
wc_status wc_cluster_decommission(wc_cluster *c, wc_topology_result *out);

/* The end of a topology change started with one of the _start calls below. */
typedef void (*wc_topology_done_fn)(void *arg, wc_status st, const wc_topology_result *res,
                                    const char *detail);

/*
 * wc_cluster_decommission and wc_cluster_removenode without waiting, for a
 * caller on the loop (options.env, the simulator): done runs once on the
 * loop (possibly before the call returns) with the status, the totals and
 * a detail ("" on success).
 */
void wc_cluster_decommission_start(wc_cluster *c, wc_topology_done_fn done, void *arg);
void wc_cluster_removenode_start(wc_cluster *c, const uint8_t host_id[WC_RING_HOST_ID_LEN],
                                 wc_topology_done_fn done, void *arg);

/*
 * Removenode (nodetool removenode): the dead node host_id leaves the ring.
 * Each node that gains one of its ranges pulls it from a live replica
 * (this node when it holds it); this node's own writes reach the new owners
 * meanwhile.  Then this node stores the host id (state file, "removed
 * <hex>") and announces it (application state REMOVED): every node leaves
 * a removed host out of its ring and shows it as "left".  Statuses:
 * WC_NOT_FOUND (no known node has that host id), WC_INVALID_ARGUMENT (it
 * is this node, it is up, it owns no range, or too few nodes would stay),
 * WC_UNAVAILABLE and pull failures as wc_cluster_decommission.  Any thread
 * but the loop; blocks until the end.
 */
wc_status wc_cluster_removenode(wc_cluster *c, const uint8_t host_id[WC_RING_HOST_ID_LEN],
                                wc_topology_result *out);

/* Whether this runtime coordinates (it was started with a local side, not stopped). */
bool wc_cluster_coordinates(const wc_cluster *c);

/*
 * Stop coordinating before the local store goes away: the coordinator and
 * hint messages are dropped from now on, the store is closed
 * (local.store_close), the requests still waiting end with WC_UNAVAILABLE
 * "coordinator stopped".  The membership keeps running.  Owner thread;
 * wc_cluster_stop does it too.  NULL is ignored.
 */
void wc_cluster_stop_coordinating(wc_cluster *c);

/* Change the hint settings (widecol.hinted_handoff_enabled, max_hint_window).  Any thread. */
void wc_cluster_set_hints(wc_cluster *c, bool enabled, uint64_t max_hint_window_ms);

/*
 * Send the view update record upd[0..len) (view.h; copied) to the paired
 * view replicas (view_pair.h), from any thread: it is posted to the loop.
 * Dropped while the cluster does not coordinate (the view update log keeps
 * the record for the next replay).
 */
void wc_cluster_view_updates(wc_cluster *c, const uint8_t *upd, size_t len);

/* The coordinator's counters (zero without one).  Any thread but the loop. */
void wc_cluster_coord_stats(wc_cluster *c, wc_coord_stats *out);

/* This node's internode address (the real port when listen.port was 0). */
wc_addr wc_cluster_self(const wc_cluster *c);

/* The cluster schema runtime (NULL: c NULL or started without an engine).  Any thread. */
wc_schema_runtime *wc_cluster_schema(wc_cluster *c);

/* This node's host id (16 bytes). */
void wc_cluster_host_id(const wc_cluster *c, uint8_t out[WC_RING_HOST_ID_LEN]);

/* The coordinator (NULL: none, or stopped).  On the loop only, for callers already there. */
wc_coord *wc_cluster_coordinator(wc_cluster *c);

#endif /* WC_CLUSTER_H */
