/*
 * transport.h - the real wc_env (env.h): one event-loop thread per node,
 * TCP to the other nodes, the internode handshake and framing of
 * docs/protocol.md "Internode protocol".
 *
 * The loop thread (epoll over the listening socket, the connections and an
 * eventfd for post; timers in a heap that sets epoll_wait's timeout) runs
 * every handler, timer and posted callback, one at a time.  It blocks every
 * signal.  Each node sends to a peer over one outgoing connection that it
 * opens on the first send to that peer and reopens, after a failure, with
 * exponential backoff while messages wait, or at once when the peer's own
 * connection to this node completes its handshake (the peer is back); it
 * receives on the connections that peers open to it.  Messages to one peer wait in a queue bounded in
 * bytes (send returns WC_OVERLOADED beyond it); they are written in order,
 * and a connection that fails loses what it had written but not yet
 * delivered (best effort, as env.h says).  A peer named by a host name is
 * resolved with getaddrinfo on the loop thread, which blocks it while DNS
 * answers: name peers by IP address where the loop must never stall.
 *
 * Thread-safety: wc_transport_start and wc_transport_stop are called by the
 * owner thread; the env's ops follow env.h (only post from other threads).
 */
#ifndef WC_TRANSPORT_H
#define WC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "handshake.h"
#include "status.h"

#define WC_TRANSPORT_DEFAULT_QUEUE_BYTES (64u << 20)
#define WC_TRANSPORT_DEFAULT_HANDSHAKE_MS 10000u
#define WC_TRANSPORT_DEFAULT_RECONNECT_MIN_MS 100u
#define WC_TRANSPORT_DEFAULT_RECONNECT_MAX_MS 10000u

/* A log line of the transport (called on the loop thread, or in start). */
typedef void (*wc_transport_log_fn)(void *arg, wc_env_log_level level, const char *line);

typedef struct wc_transport_options {
    /*
     * Address to listen on, which is also the address this node tells its
     * peers (so it must be one they can reach).  Port 0 takes an ephemeral
     * port; env->self then holds the real one.
     */
    wc_addr listen;
    const char *cluster_name;       /* wc_cluster_name_check */
    const uint8_t *secret;          /* the cluster secret (copied); NULL/0 = none */
    size_t secret_len;
    bool allow_no_secret;           /* without a secret, start only if this is set */
    uint8_t host_id[WC_HOST_ID_LEN];
    size_t max_queue_bytes;         /* per peer, frames included; 0 = default */
    uint32_t handshake_timeout_ms;  /* connect + handshake; 0 = default */
    uint32_t reconnect_min_ms;      /* first retry after a failure; 0 = default */
    uint32_t reconnect_max_ms;      /* the backoff doubles up to this; 0 = default */
    wc_transport_log_fn log;        /* NULL: lines go to stderr */
    void *log_arg;
} wc_transport_options;

/* API */

/*
 * Listen, start the loop thread and return the env in *out, whose handlers
 * are *handlers (copied).  The secret is required (at least one byte)
 * unless allow_no_secret is set; then the handshake uses an empty key and
 * only nodes without a secret can join.  WC_INVALID_ARGUMENT for bad
 * options, WC_IO_ERROR if the address cannot be listened on (in use),
 * WC_NO_MEMORY; the detail says which (wc_last_error).
 */
wc_status wc_transport_start(const wc_transport_options *opts, const wc_env_handlers *handlers,
                             wc_env **out);

/*
 * Stop the loop thread (posted callbacks not yet run never run, pending
 * timers never fire, queued messages are dropped), close every socket and
 * free everything.  REQUIRES: not called on the loop thread; env is not
 * used afterwards.  NULL is ignored.
 */
void wc_transport_stop(wc_env *env);

#endif /* WC_TRANSPORT_H */
