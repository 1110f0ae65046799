/*
 * env.h - what the cluster layer may take from the world: time, randomness,
 * timers and the network.
 *
 * Every piece of cluster logic (gossip, failure detection, ring, coordinator,
 * hints, schema agreement) is written as a single-threaded state machine of
 * one node, driven by three kinds of events that its wc_env delivers on that
 * node's loop:
 *
 *   a message from a peer      wc_env_handlers.on_message
 *   a timer firing             the callback given to timer_start
 *   work posted by a thread    the callback given to post
 *
 * and it acts on the world only through the wc_env_ops below.  Nothing in
 * cluster logic calls time(), clock_gettime(), random(), socket() or
 * pthread_create() itself.  Two environments implement the interface:
 *
 *   the real one (one event-loop thread per node, TCP to peers, the
 *   handshake of docs/protocol.md "Internode protocol"), used by the node
 *   worker inside PostgreSQL;
 *
 *   the simulator (cluster/sim.h): many nodes in one process and one
 *   thread, a virtual clock, message loss, delay, reordering, partitions and
 *   crashes, all drawn from one seed, so that a failing run replays exactly.
 *
 * Messages are payloads: one byte of message type (cluster/msg_types.h),
 * then the body, at most WC_ENV_MAX_MESSAGE bytes in all.  The environment
 * carries them and never looks inside; the real transport wraps each one
 * in a frame (length, protocol version, checksum: docs/protocol.md) and
 * drops a connection whose frame is damaged.  Delivery is best effort, as
 * on a network: a message may be lost, delayed or reordered relative to
 * messages to other peers; to one peer over one live connection the real
 * transport keeps order, the simulator may not.  Loss is noticed by the
 * sender through timeouts and the failure detector, never reported by send.

 * Addresses: a peer is named by its internode address "host:port"
 * (wc_addr); a node learns its own from the environment.
 *
 * Thread-safety: every op except post is called only on the node's loop (from
 * inside a handler or timer callback, or before the loop starts).  post may
 * be called from any thread; its callback runs later on the loop.  Handlers
 * and callbacks run one at a time and must not block.
 */
#ifndef WC_ENV_H
#define WC_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define WC_ADDR_HOST_MAX 64 /* including the NUL */
#define WC_ENV_MAX_MESSAGE (16u << 20) /* largest message payload: 16 MiB */

/* An internode address: host (name or IP literal) and TCP port. */
typedef struct wc_addr {
    char host[WC_ADDR_HOST_MAX];
    uint16_t port;
} wc_addr;

typedef struct wc_env wc_env;

typedef void (*wc_env_cb)(void *arg);

/* Log levels of wc_env_ops.log (mapped to the server log's LOG/WARNING/DEBUG1). */
typedef enum wc_env_log_level {
    WC_ENV_LOG_DEBUG = 0,
    WC_ENV_LOG_INFO = 1,
    WC_ENV_LOG_WARNING = 2,
} wc_env_log_level;

typedef struct wc_env_ops {
    /* Monotonic time in milliseconds (virtual in the simulator). */
    uint64_t (*now_ms)(wc_env *env);
    /*
     * Wall-clock time in microseconds since the Unix epoch: write timestamps
     * and hint expiry.  The simulator gives each node its own skew.
     */
    int64_t (*wall_us)(wc_env *env);
    /* A uniformly random 64-bit value (seeded in the simulator). */
    uint64_t (*random_u64)(wc_env *env);
    /*
     * Queue msg[0..len) for the peer at *to; the bytes are copied.  Never
     * blocks.  WC_OK once queued (not delivered); WC_OVERLOADED if the
     * queue to that peer is full (bounded); WC_INVALID_ARGUMENT for an empty
     * message or one longer than WC_ENV_MAX_MESSAGE; WC_NO_MEMORY.
     */
    wc_status (*send)(wc_env *env, const wc_addr *to, const uint8_t *msg, size_t len);
    /*
     * Call cb(arg) on the loop after delay_ms.  Returns a non-zero timer id
     * for timer_cancel, 0 if out of memory.
     */
    uint64_t (*timer_start)(wc_env *env, uint64_t delay_ms, wc_env_cb cb, void *arg);
    /* Cancel a pending timer; an id that already fired or was cancelled is ignored. */
    void (*timer_cancel)(wc_env *env, uint64_t timer_id);
    /*
     * From any thread: run cb(arg) on the loop as soon as possible.
     * WC_UNAVAILABLE if the loop has stopped (cb will never run), WC_NO_MEMORY.
     */
    wc_status (*post)(wc_env *env, wc_env_cb cb, void *arg);
    /* One line for the server log (no trailing newline needed). */
    void (*log)(wc_env *env, wc_env_log_level level, const char *msg);
} wc_env_ops;

/* Set by the node's cluster logic; called by the environment on the loop. */
typedef struct wc_env_handlers {
    /*
     * A message arrived from the peer at *from (its listen address, as proven
     * in the handshake).  msg is valid only during the call.
     */
    void (*on_message)(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len);
    /* Optional: the connection to *peer was lost or could not be opened. */
    void (*on_peer_down)(void *ctx, const wc_addr *peer);
    void *ctx;
} wc_env_handlers;

struct wc_env {
    const wc_env_ops *ops;
    wc_addr self;              /* this node's internode address */
    wc_env_handlers handlers;  /* set before the loop starts delivering */
    void *impl;                /* the environment's own state */
};

/* API: helpers over the ops (inline) and addresses (env.c) */

static inline uint64_t wc_env_now_ms(wc_env *env) { return env->ops->now_ms(env); }
static inline int64_t wc_env_wall_us(wc_env *env) { return env->ops->wall_us(env); }
static inline uint64_t wc_env_random(wc_env *env) { return env->ops->random_u64(env); }

/*
 * Format a line and pass it to env's log op (lines longer than 511 bytes are
 * cut).  On the loop only, as every op but post.
 */
void wc_env_logf(wc_env *env, wc_env_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* State of a rate-limited log (zero-initialized: nothing logged yet). */
typedef struct wc_env_log_limit {
    uint64_t logged_ms;  /* when the last line was logged; 0 = never */
    uint64_t suppressed; /* lines dropped since */
} wc_env_log_limit;

#define WC_ENV_LOG_LIMIT_MS 10000

/*
 * A warning caused by what a peer sent (a malformed message, a bogus
 * state): logged at most once per WC_ENV_LOG_LIMIT_MS per *lim, with the
 * number of such lines not logged since, so a hostile or broken peer
 * cannot flood the server log.
 */
void wc_env_log_limited(wc_env *env, wc_env_log_limit *lim, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parse "host:port" (host 1..63 characters; port 1..65535; an IPv6 literal
 * in brackets, "[::1]:7000").  WC_INVALID_ARGUMENT saying what is wrong.
 */
wc_status wc_addr_parse(const char *text, wc_addr *out);
/* "host:port" into out (NUL-terminated, truncated to cap). */
void wc_addr_format(const wc_addr *a, char *out, size_t cap);
/* Same host (byte-wise) and port. */
bool wc_addr_equal(const wc_addr *a, const wc_addr *b);

#endif /* WC_ENV_H */
