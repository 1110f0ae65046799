/*
 * gossip.h - membership: the gossiper of one node, after Cassandra's.
 *
 * Each node keeps an endpoint state for every node it knows, itself
 * included: the generation (the node's start time in wall-clock seconds, so
 * a restart has a higher one), a heartbeat version it bumps every gossip
 * round, and application states: opaque values that the owner supplies
 * under fixed keys (STATUS, TOKENS, DC, RACK, SCHEMA, LOAD, HOST_ID,
 * SQL_ADDRESS, RELEASE_VERSION, REMOVED, REPLACING), each with the version
 * it was set at.  The
 * heartbeat and the values of a node take their versions from one counter,
 * so (generation, max version) says how new a node's whole state is.
 *
 * Every interval (1 s) the gossiper sends a SYN, the digests (address,
 * generation, max version) of every endpoint it knows, to a random live
 * peer; with probability unreachable / (live + 1) also to a random
 * unreachable one; and to a random seed when it has no live peer, and
 * otherwise, unless the live peer was a seed and there are at least as many
 * live peers as seeds, with probability seeds / (live + unreachable).  The
 * receiver answers an ACK: the digests it needs (with the version it has)
 * and the states the sender lacks (newer versions, and endpoints the sender
 * did not list); the sender applies them and answers an ACK2 with the states
 * asked for.  A state with a higher generation replaces the one known (the
 * node restarted); a lower one is ignored; at the same generation newer
 * values replace older ones key by key.  A SYN from a node with another
 * cluster name is dropped and logged once per sender.
 *
 * Liveness: a new heartbeat version of a peer is an arrival for its phi
 * accrual failure detector (failure_detector.h).  At the end of each round
 * every live peer whose phi exceeds the threshold is marked down.  A peer
 * is marked up when it first becomes known or comes back with a new
 * generation, and when its heartbeat advances while it is down.  A node
 * that shuts down sends SHUTDOWN to its live peers, which mark it down at
 * once and keep it down until it restarts (a new generation).  A node whose
 * STATUS is "left" is removed from the map left_expiry_ms after this node
 * saw it leave, and its address is then quarantined (states of that
 * generation or older are ignored) for quarantine_ms, so that gossip from
 * nodes that have not yet removed it does not bring it back.
 *
 * Generations must grow from one start of a node to the next.  When peers
 * know this node with the same generation and higher versions (it restarted
 * within the same second) or with a higher generation (its clock went
 * back), it moves past them: its versions, or its generation, jump above
 * what they know, so its new states are not taken for old ones.  An owner
 * that stores the last generation should still pass a larger one.
 *
 * Listeners (the ring, the coordinator) learn of every change through
 * callbacks, called on the loop after the change is applied.  A callback may
 * query the gossiper and call wc_gossip_set_local; it must not destroy it
 * or add listeners.
 *
 * Thread-safety: a gossiper lives on its node's loop (env.h); every call,
 * the queries included, must come from that loop.
 */
#ifndef WC_GOSSIP_H
#define WC_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "env.h"
#include "gossip_format.h"
#include "status.h"

/* Application state keys (the wire's u8 key).  Values are the owner's bytes. */
typedef enum wc_gossip_key {
    WC_GOSSIP_STATUS = 0,          /* "joining", "normal", "leaving", "left", "shutdown" */
    WC_GOSSIP_TOKENS = 1,          /* the node's tokens (the ring's encoding) */
    WC_GOSSIP_DC = 2,              /* data centre name */
    WC_GOSSIP_RACK = 3,            /* rack name */
    WC_GOSSIP_SCHEMA = 4,          /* schema version */
    WC_GOSSIP_LOAD = 5,            /* bytes of data on disk */
    WC_GOSSIP_HOST_ID = 6,         /* the node's host id (16 bytes) */
    WC_GOSSIP_SQL_ADDRESS = 7,     /* the PostgreSQL host:port of the node */
    WC_GOSSIP_RELEASE_VERSION = 8, /* widecol release */
    WC_GOSSIP_REMOVED = 9,         /* host ids the node removed from the ring (16 bytes each) */
    WC_GOSSIP_REPLACING = 10,      /* the host id of the dead node this node replaces (16 bytes) */
    WC_GOSSIP_KEY_COUNT = 11       /* keys up to WC_GOSSIP_MAX_KEYS - 1 travel too */
} wc_gossip_key;

/* What the first word of a STATUS value says (wc_gossip_status_of). */
typedef enum wc_gossip_status {
    WC_GOSSIP_STATUS_UNKNOWN = 0, /* no STATUS, or a word not below */
    WC_GOSSIP_STATUS_JOINING,
    WC_GOSSIP_STATUS_NORMAL,
    WC_GOSSIP_STATUS_LEAVING,
    WC_GOSSIP_STATUS_LEFT,
    WC_GOSSIP_STATUS_SHUTDOWN,
} wc_gossip_status;

typedef struct wc_gossip wc_gossip;

typedef struct wc_gossip_options {
    const char *cluster_name; /* required, 1..255 bytes; copied */
    const wc_addr *seeds;     /* copied; may include this node */
    size_t nseeds;
    uint32_t generation;          /* 0: the wall clock in seconds (see below) */
    uint64_t interval_ms;         /* gossip round (1000) */
    double phi_convict_threshold; /* (8) */
    uint32_t fd_window;           /* heartbeat intervals kept per peer (1000) */
    uint64_t left_expiry_ms;      /* a "left" node is removed after this (3 days) */
    uint64_t quarantine_ms;       /* a removed node is ignored for this long (60 s) */
} wc_gossip_options;

/* Callbacks; any may be NULL.  ep is valid only during the call. */
typedef struct wc_gossip_listener {
    /* A node became known, or restarted (new generation), with all its states. */
    void (*on_join)(void *ctx, const wc_addr *ep);
    /* An application state of a known node changed (not called for on_join's states). */
    void (*on_change)(void *ctx, const wc_addr *ep, int key, const uint8_t *value, size_t len);
    void (*on_alive)(void *ctx, const wc_addr *ep);
    void (*on_dead)(void *ctx, const wc_addr *ep);
    /* The node was removed from the map (it left and its expiry passed). */
    void (*on_remove)(void *ctx, const wc_addr *ep);
    void *ctx;
} wc_gossip_listener;

#define WC_GOSSIP_MAX_LISTENERS 8

/* API: the gossiper */

void wc_gossip_options_default(wc_gossip_options *o);

/*
 * A gossiper on env (env->self is this node).  It does not take env's
 * handlers: the node's dispatcher passes gossip messages (types 1..15) to
 * wc_gossip_on_message.  WC_INVALID_ARGUMENT for a missing or too long
 * cluster name, a zero interval or a bad failure-detector setting;
 * WC_NO_MEMORY.  Caller destroys *out.
 */
wc_status wc_gossip_create(wc_env *env, const wc_gossip_options *o, wc_gossip **out);

/* Stops the timer and frees everything (no announcement: see shutdown). */
void wc_gossip_destroy(wc_gossip *g);

/* WC_INVALID_ARGUMENT when all slots are taken.  l is copied. */
wc_status wc_gossip_add_listener(wc_gossip *g, const wc_gossip_listener *l);

/* Start gossiping: the first round comes after a random part of the interval. */
wc_status wc_gossip_start(wc_gossip *g);

/*
 * Announce the shutdown: STATUS becomes "shutdown", every live peer is sent
 * SHUTDOWN, and gossiping stops (later messages are ignored).
 */
void wc_gossip_shutdown(wc_gossip *g);

/*
 * Set this node's application state key to value[0..len) (copied), under a
 * new version, so that it spreads.  WC_INVALID_ARGUMENT for a key past
 * WC_GOSSIP_MAX_KEYS or a value past WC_GOSSIP_MAX_VALUE; WC_NO_MEMORY.
 */
wc_status wc_gossip_set_local(wc_gossip *g, int key, const void *value, size_t len);

/* The message handler (the signature of wc_env_handlers.on_message; ctx is g). */
void wc_gossip_on_message(void *g, const wc_addr *from, const uint8_t *msg, size_t len);

/* API: queries */

/* Known endpoints, this node included, in address order: count and the i-th. */
size_t wc_gossip_endpoint_count(const wc_gossip *g);
const wc_addr *wc_gossip_endpoint(const wc_gossip *g, size_t i);

/* Known and up (this node is always up while gossiping). */
bool wc_gossip_is_alive(const wc_gossip *g, const wc_addr *ep);

/* Known at all (up or down). */
bool wc_gossip_is_known(const wc_gossip *g, const wc_addr *ep);

/*
 * The value of key for ep: *value points into the gossiper (valid until the
 * next call that may change it), *len its length.  WC_NOT_FOUND if ep is
 * unknown or has no such state.
 */
wc_status wc_gossip_get(const wc_gossip *g, const wc_addr *ep, int key, const uint8_t **value,
                        size_t *len);

/* ep's generation and heartbeat version; WC_NOT_FOUND if unknown. */
wc_status wc_gossip_generation(const wc_gossip *g, const wc_addr *ep, uint32_t *generation,
                               uint64_t *heartbeat);

/* ep's current phi (0 for this node or an unknown one). */
double wc_gossip_phi(const wc_gossip *g, const wc_addr *ep);

/* This node's HOST_ID value (WC_NOT_FOUND until set). */
wc_status wc_gossip_local_host_id(const wc_gossip *g, const uint8_t **value, size_t *len);

/* What a STATUS value says. */
wc_gossip_status wc_gossip_status_of(const uint8_t *value, size_t len);

/* API: the wire codec (gossip_format.h, gossip_codec.c): the gossiper and the fuzz target */

typedef struct wc_gossip_digest {
    wc_addr addr;
    uint32_t generation;
    uint64_t version; /* max version (SYN) or the version the sender has (ACK) */
} wc_gossip_digest;

typedef struct wc_gossip_value_ref {
    uint8_t key;
    uint64_t version;
    const uint8_t *value; /* points into the decoded message */
    size_t len;
} wc_gossip_value_ref;

typedef struct wc_gossip_state_ref {
    wc_addr addr;
    uint32_t generation;
    uint64_t heartbeat;
    size_t first_value, nvalues; /* in wc_gossip_msg.values */
} wc_gossip_state_ref;

typedef struct wc_gossip_msg {
    uint8_t type;
    const uint8_t *cluster_name; /* SYN; points into the message */
    size_t cluster_name_len;
    uint32_t generation;       /* SHUTDOWN */
    uint64_t heartbeat;        /* SHUTDOWN */
    wc_gossip_digest *digests; /* SYN, ACK */
    size_t ndigests;
    wc_gossip_state_ref *states; /* ACK, ACK2 */
    size_t nstates;
    wc_gossip_value_ref *values;
    size_t nvalues;
} wc_gossip_msg;

/*
 * Decode one gossip message (type byte included).  Every length and count is
 * checked against the bytes that hold it before anything is allocated.
 * WC_CORRUPTION saying what is wrong for a malformed message (short, too
 * long, a bound of gossip_format.h passed, keys not increasing, trailing
 * bytes); WC_INVALID_ARGUMENT for a type outside 1..4; WC_NO_MEMORY.  The
 * result points into msg; free it with wc_gossip_msg_free (also after a
 * failure).
 */
wc_status wc_gossip_decode(const uint8_t *msg, size_t len, wc_gossip_msg *out);
void wc_gossip_msg_free(wc_gossip_msg *m);

/*
 * Append the encoding of m to out.  REQUIRES: m within the bounds of
 * gossip_format.h (as wc_gossip_decode returns it).  WC_NO_MEMORY.
 */
wc_status wc_gossip_encode(const wc_gossip_msg *m, wc_buf *out);

/* Internal: the pieces of a message (gossip_codec.c), for gossip.c's encoder. */
void wc__gossip_put_digest(wc_buf *b, const wc_addr *a, uint32_t generation, uint64_t version);
void wc__gossip_put_state_head(wc_buf *b, const wc_addr *a, uint32_t generation, uint64_t heartbeat,
                               size_t nvalues);
void wc__gossip_put_value(wc_buf *b, int key, uint64_t version, const uint8_t *value, size_t len);

#endif /* WC_GOSSIP_H */
