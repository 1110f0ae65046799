/*
 * node.h - the widecol node server: one storage engine served to the
 * PostgreSQL backends of this instance over a Unix-domain socket.
 *
 * A node owns its engine (opened in wc_node_start, closed in wc_node_stop),
 * the listening socket file (mode 0600; a stale one is replaced, a live one
 * is refused) and a fixed set of worker_threads threads, however many
 * clients connect: they share one epoll set, accept connections, and the
 * worker told that a connection is readable serves it.  At most
 * max_connections clients are connected (the next one is answered with an
 * "overloaded" handshake reply and closed; one that arrives when the
 * process is out of file descriptors gets a "no-memory" reply saying so).
 * Each connection does the handshake, then its requests are served one at
 * a time in arrival order, each answered with exactly one response
 * (protocol in docs/protocol.md).
 *
 * Scheduling: a worker serves one request of a connection per turn; a
 * connection with another request already received goes to the back of the
 * ready queue, so connections are served round-robin.  A request frame over
 * 64 KiB (a COPY batch) is bulk: bulk workers of its own (half the online
 * CPUs, at least one; half as many as worker_threads when that is set or
 * under batch sync), at nice value bulk_nice, serve it; the worker that
 * read it queues its connection for them, so the workers of small requests
 * stay free and a busy machine runs them first.
 *
 * A malformed frame or body gets an error response and the connection is
 * closed; an unknown opcode gets an error response and the connection stays
 * usable.  Nothing a client sends can crash the node.  Requests go to the
 * engine as they came (a table's compaction map, a read's tombstone
 * failure threshold); the engine's failures are answered with its status
 * and message unchanged.
 *
 * Consistency: without a coordinating cluster the node is a one-node
 * cluster (cluster_nodes = 1, one live replica); APPLY and READ check
 * their level with wc_consistency_check against the keyspace replication
 * of the table, kept in the table's options (table_options.h), before
 * touching the engine.  With a cluster that coordinates (started with
 * wc_node_cluster_local, set with wc_node_set_cluster) the worker hands
 * APPLY (split per table) and READ (one partition, or a scan in token
 * order) to the cluster's coordinator and waits for the outcome, within
 * the timeouts of wc_node_set_timeouts; its failures are answered with
 * the coordinator's status and detail ("consistency QUORUM needs 2
 * replicas, 1 alive").
 *
 * Shared-memory ring (shmring.h): with o->ring set, as many more workers
 * serve the ring's slots, round-robin, with the same request handlers: the
 * node records itself in the ring at start (clients of an earlier node
 * are refused from then on) and withdraws at stop.  A ring worker never
 * waits for a client; a request that fits no slot comes over the socket.
 *
 * Signals: the process is a PostgreSQL background worker whose main thread
 * handles signals, so every thread the node starts (its workers)
 * and every thread the engine starts inside wc_engine_open runs with all
 * signals blocked: wc_node_start blocks them around those calls and then
 * restores the caller's mask.
 *
 * Thread-safety: wc_node_start and wc_node_stop are called by one thread
 * (the owner); wc_node_engine and wc_node_get_info may be called from any
 * thread while the node runs.
 */
#ifndef WC_NODE_H
#define WC_NODE_H

#include <stdint.h>

#include "engine.h"
#include "protocol.h"
#include "status.h"

#define WC_NODE_VERSION "0.1"
#define WC_NODE_DEFAULT_WRITE_TIMEOUT_MS 2000u
#define WC_NODE_DEFAULT_READ_TIMEOUT_MS 5000u

typedef struct wc_node wc_node;

typedef struct wc_node_options {
    wc_engine_options engine;  /* engine.dir required; engine.log also gets node events */
    const char *socket_path;   /* required; shorter than sun_path (107 bytes on Linux) */
    uint32_t max_connections;  /* 0: 64 */
    uint32_t send_timeout_ms;  /* drop a client that takes no response bytes for this long; 0: 60000 */
    uint32_t handshake_timeout_ms; /* drop a client that does not complete the handshake; 0: 10000 */
    uint32_t worker_threads;   /* threads serving the socket, and as many the ring; 0: two
                                  per online CPU, at least 4, on the socket and one per CPU,
                                  at least 2, on the ring (engine.sync_mode batch: eight per
                                  CPU, at least 16, on both) */
    int bulk_nice;             /* nice value of the workers for large requests (half the
                                  CPUs, at least 1; half as many as worker_threads when set or
                                  under batch sync); wc_node_options_default: 10; 0 = the
                                  process's own (docs/architecture.md) */
    void *ring;                /* a region formatted by wc_shmring_format, or NULL: socket only */
    size_t ring_size;          /* its size in bytes */
    uint32_t ring_spin_us;     /* a ring worker spins this long for a request before sleeping
                                  (only while the machine's runnable threads leave a CPU free) */
    bool cluster_expected;     /* a cluster will coordinate this node: APPLY and READ are
                                  refused (WC_UNAVAILABLE) whenever no cluster coordinates
                                  them, until wc_node_serve_alone */
    void *row_cache;           /* a region formatted by wc_rowcache_format, or NULL: the node
                                  tells it of every write (engine change hook) and enables it
                                  while it serves; ignored with cluster_expected */
    size_t row_cache_size;     /* its size in bytes */
    void *direct_read;         /* a region formatted by wc_directread_format, or NULL: the node
                                  publishes its tables' files and memtable stripes in it (engine
                                  publish and resident hooks) while it serves, so that clients
                                  read SSTables themselves (directread.h); ignored with
                                  cluster_expected */
    size_t direct_read_size;   /* its size in bytes */
} wc_node_options;

/* API */

/* Defaults for every field (engine options from wc_engine_options_default). */
void wc_node_options_default(wc_node_options *o);

/*
 * Open the engine in o->engine.dir, listen on o->socket_path and start
 * serving.  Returns once the socket accepts connections.  Caller stops the
 * node with wc_node_stop.
 * REQUIRES: o->engine.dir and o->socket_path set.
 * Statuses: WC_INVALID_ARGUMENT (path missing or longer than sun_path
 * allows), WC_CORRUPTION (o->ring is not a formatted ring, o->row_cache not a
 * formatted row cache), WC_EXISTS (the path is not a socket, or another node listens
 * there), the engine's statuses from wc_engine_open, WC_IO_ERROR (socket,
 * bind, listen), WC_NO_MEMORY.  Nothing is left running on failure.
 */
wc_status wc_node_start(const wc_node_options *o, wc_node **out);

/*
 * Stop accepting, close every client connection (a request being served
 * completes first), join all threads, close the engine, remove the socket
 * file and free the node.  NULL is a no-op.
 */
void wc_node_stop(wc_node *n);

/*
 * The cluster runtime whose membership MEMBERS serves (NULL: none, the
 * answer then says so).  REQUIRES: c outlives its use here: set NULL and
 * stop the node before stopping the cluster.
 */
struct wc_cluster;
void wc_node_set_cluster(wc_node *n, struct wc_cluster *c);

/*
 * The cluster o->cluster_expected announced did not start: serve APPLY and
 * READ from the local engine alone from now on.
 */
void wc_node_serve_alone(wc_node *n);

/*
 * The node's side of coordination, for wc_cluster_options.local: the
 * engine as the replica store (engine_store.h), the replication kept per
 * table, hints applied to the engine.
 */
struct wc_cluster_local;
void wc_node_cluster_local(wc_node *n, struct wc_cluster_local *out);

/*
 * How long the coordinator waits for the replicas of a write and of a read
 * (each range of a scan) before WC_TIMEOUT; 0 counts as 1.  Any thread.
 */
void wc_node_set_timeouts(wc_node *n, uint32_t write_ms, uint32_t read_ms);

/* The node's engine (owned by the node; valid until wc_node_stop). */
wc_engine *wc_node_engine(wc_node *n);

/* Counters and identity, as NODE_INFO reports them. */
void wc_node_get_info(wc_node *n, wc_node_info *out);

#endif /* WC_NODE_H */
