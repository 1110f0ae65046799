/*
 * view_pair.h - materialized views on a cluster: the view updates that a
 * base replica computes (view.h, wc_views_apply_paired) go to its paired
 * view replica, as Cassandra does.
 *
 * Pairing: for a base partition of token b and a view partition of token
 * v, the base replicas B (placement order) and the view replicas V of the
 * current ring are taken; when this node is in V the update is applied
 * here; else the nodes in both lists are left out of both, and this node,
 * the i-th of what is left of B, sends the update to the i-th of what is
 * left of V (none: this node is no base replica of b, the update is
 * dropped and counted).  Every base replica pairs with a distinct view
 * replica, so each view replica gets each view update once, from the base
 * replica that pairs with it, and a view read at a level sees what the
 * base replicas it pairs with have applied.  Nodes joining the view's
 * ranges (the pending ring) get every update too.
 *
 * Durability (Cassandra's local batchlog for views): the update record is
 * written to the node's view update log in the same engine record as the
 * base write, so a crash between the base write and the sends loses
 * nothing.  A record's log entry is removed once each of its sends was
 * applied (locally or acknowledged by VIEW_ACK) or kept as a hint (a
 * paired replica down, or silent for timeout_ms); a send that neither
 * lands nor is hinted (a failed local apply, a paired replica that does
 * not have the view's table yet) leaves the entry, and every
 * replay_interval_ms after that (and once after the start) the log is read
 * again and the entries not in flight are sent anew (their mutations carry their timestamps: applying one
 * twice changes nothing); an entry older than WC_VIEW_PAIR_MAX_AGE_MS is
 * given up and removed, as a hint that old would be.
 *
 * Thread-safety: none; a view pair lives on its node's loop (env.h), with
 * its coordinator, and every function and callback runs there.
 */
#ifndef WC_VIEW_PAIR_H
#define WC_VIEW_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator.h"
#include "engine.h"
#include "env.h"
#include "replica_store.h"
#include "status.h"
#include "view_pair_format.h"

typedef struct wc_view_pair wc_view_pair;

typedef struct wc_view_pair_options {
    wc_env *env;
    wc_coord *coord;          /* replicas, liveness and hints (not owned) */
    wc_replica_store store;   /* local applies of view updates and of log removals */
    wc_engine *engine;        /* the view update log, replayed (NULL: no replay) */
    uint32_t timeout_ms;      /* 0: WC_VIEW_PAIR_DEFAULT_TIMEOUT_MS */
    uint32_t replay_interval_ms; /* 0: WC_VIEW_PAIR_DEFAULT_REPLAY_MS */
} wc_view_pair_options;

#define WC_VIEW_PAIR_DEFAULT_TIMEOUT_MS 2000u
#define WC_VIEW_PAIR_DEFAULT_REPLAY_MS 5000u
#define WC_VIEW_PAIR_MAX_AGE_MS (3u * 3600 * 1000) /* as Cassandra's max_hint_window */

typedef struct wc_view_pair_stats {
    uint64_t records;   /* update records taken (submitted and replayed) */
    uint64_t local;     /* view updates applied here (this node is a view replica) */
    uint64_t sent;      /* sent to a paired or pending replica */
    uint64_t acked;     /* of them acknowledged */
    uint64_t hinted;    /* kept as hints (replica down or silent) */
    uint64_t unpaired;  /* dropped: this node is no base replica of the partition */
    uint64_t failed;    /* neither applied nor hinted: the record stays in the log */
    uint64_t removed;   /* log entries removed */
    uint64_t expired;   /* log entries given up: older than WC_VIEW_PAIR_MAX_AGE_MS */
    uint64_t applied;   /* VIEW_MUTATION messages applied for other nodes */
    uint64_t malformed; /* messages or records dropped */
} wc_view_pair_stats;

/* API */

/*
 * A view pair on o (copied); starts its tick timer.  WC_INVALID_ARGUMENT
 * without env, coord or store; WC_NO_MEMORY.  Caller destroys *out.
 */
wc_status wc_view_pair_create(const wc_view_pair_options *o, wc_view_pair **out);
/*
 * Stop the timer and free everything (sends under way are forgotten: their
 * records stay in the log).  REQUIRES: the store was drained first (its
 * completions point here).  NULL is ignored.
 */
void wc_view_pair_destroy(wc_view_pair *p);

/*
 * Send the update record upd[0..len) (view.h; copied) to the paired view
 * replicas.  A record whose log id is in flight already is ignored.
 */
void wc_view_pair_submit(wc_view_pair *p, const uint8_t *upd, size_t len);

/* Read the view update log now and submit what is not in flight (also done every tick). */
void wc_view_pair_replay(wc_view_pair *p);

/* A message of types WC_MSG_VIEW_FIRST..LAST; false for other types. */
bool wc_view_pair_on_message(wc_view_pair *p, const wc_addr *from, const uint8_t *msg, size_t len);

void wc_view_pair_get_stats(const wc_view_pair *p, wc_view_pair_stats *out);

/*
 * Pairing (see above): base[0..nb) and view[0..nv) are ring indexes in
 * placement order, self this node's (-1: not in the ring).  *local: this
 * node is a view replica (apply here); else *paired is the ring index of
 * the paired view replica, -1 when there is none.
 */
void wc_view_pair_choose(const uint32_t *base, size_t nb, const uint32_t *view, size_t nv,
                         int32_t self, bool *local, int32_t *paired);

#endif /* WC_VIEW_PAIR_H */
