/*
 * sim.h - the deterministic simulator: many nodes of cluster logic in one
 * process and one thread, each behind its own wc_env (env.h).
 *
 * A simulation owns a virtual clock in milliseconds and one event queue (a
 * binary heap ordered by time, then by a sequence number given at
 * scheduling), so that two runs with the same seed, the same options and the
 * same calls deliver the same events in the same order.  Everything random
 * is drawn from that seed: each node has its own PRNG stream (its
 * env->ops->random_u64) and its own wall-clock skew; the network (loss,
 * delay, duplication) has another stream.  Tests take their seed through
 * simtest_seed() (cluster/tests/simtest.h): WC_SIM_SEED in the process
 * environment, when set, overrides the test's own, so a failing test, which
 * prints "seed=<n>", is replayed exactly with WC_SIM_SEED=<n>.
 *
 * The network: a message sent by a node is copied and delivered to the node
 * with that address after a delay drawn uniformly from [delay_min_ms,
 * delay_max_ms] (so messages overtake each other), unless it is lost (with
 * probability loss), its sender and receiver are on different sides of a
 * partition (checked at delivery), or either end crashed since it was sent.
 * With probability duplicate a second copy follows with its own delay.  A
 * message to an address no node has is dropped, as a refused connection.
 *
 * Crash and restart: a crashed node's pending timers and posts and the
 * messages in flight to and from it are dropped; its env stays valid (same
 * pointer, same address) so the owner can build new cluster logic on it
 * after wc_sim_restart.  The node callback tells the owner of each crash
 * (free the node's state there) and restart.
 *
 * Every delivered message and fired timer is folded into a trace hash:
 * equal hashes mean the runs matched event for event.
 *
 * Thread-safety: none; a simulation and its envs belong to one thread, and
 * post is only valid from that thread (the simulator has no other).
 */
#ifndef WC_SIM_H
#define WC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "status.h"

typedef struct wc_sim wc_sim;

typedef enum wc_sim_node_event {
    WC_SIM_NODE_CRASHED = 1,  /* free what lived on the node */
    WC_SIM_NODE_RESTARTED = 2 /* the env delivers again: build new state */
} wc_sim_node_event;

typedef struct wc_sim_options {
    double loss;           /* probability that a message is lost (0) */
    double duplicate;      /* probability that a message arrives twice (0) */
    uint64_t delay_min_ms; /* delivery delay, uniform in [min, max] (1) */
    uint64_t delay_max_ms; /* (10) */
    uint64_t max_skew_ms;  /* each node's wall clock is off by up to +-this (500) */
    int64_t wall_start_us; /* wall clock at virtual time 0 (2026-01-01) */
    size_t max_in_flight;  /* per sender; send returns WC_OVERLOADED past it (100000) */
    /* Node lifecycle callback (optional). */
    void (*on_node)(void *ctx, wc_env *env, wc_sim_node_event ev);
    /*
     * Log lines of every node (optional).  Without it, lines are dropped,
     * or printed to stderr with the virtual time when WC_SIM_VERBOSE is set.
     */
    void (*log)(void *ctx, wc_env *env, wc_env_log_level level, const char *msg);
    void *ctx;
} wc_sim_options;

/* Counters of the network since creation. */
typedef struct wc_sim_stats {
    uint64_t sent;
    uint64_t delivered;
    uint64_t lost; /* by the loss probability */
    uint64_t duplicated;
    uint64_t dropped_partition; /* sender and receiver were partitioned at delivery */
    uint64_t dropped_down;      /* an end crashed, or no node has the address */
    uint64_t timers_fired;
} wc_sim_stats;

/* API */

/* The defaults noted on each field above. */
void wc_sim_options_default(wc_sim_options *o);

/*
 * A new simulation at virtual time 0 with the given seed.
 * o may be NULL for the defaults.  WC_INVALID_ARGUMENT for a probability
 * outside [0, 1] or delay_min_ms > delay_max_ms; WC_NO_MEMORY.  Caller
 * destroys *out.
 */
wc_status wc_sim_create(uint64_t seed, const wc_sim_options *o, wc_sim **out);

/* Frees the simulation, its queue and every env.  Owners free their state first. */
void wc_sim_destroy(wc_sim *sim);

/* The seed of the simulation. */
uint64_t wc_sim_seed(const wc_sim *sim);

/*
 * A new node at addr, up.  Returns its env (owned by the simulation, valid
 * until wc_sim_destroy); the caller sets env->handlers.  NULL if out of
 * memory or the address is taken (wc_last_error says which).
 */
wc_env *wc_sim_add_node(wc_sim *sim, const wc_addr *addr);

/* Number of nodes, the env of node i (in order of adding), the index of env. */
size_t wc_sim_node_count(const wc_sim *sim);
wc_env *wc_sim_node(wc_sim *sim, size_t i);
size_t wc_sim_node_index(const wc_env *env);

/*
 * Crash a node: its timers, posts and the messages in flight to and from it
 * are dropped, its handlers cleared, then on_node(WC_SIM_NODE_CRASHED) runs.
 * Crashing a crashed node does nothing.
 */
void wc_sim_crash(wc_sim *sim, wc_env *env);

/* Bring a crashed node back (on_node(WC_SIM_NODE_RESTARTED)); no-op when up. */
void wc_sim_restart(wc_sim *sim, wc_env *env);

bool wc_sim_is_up(const wc_env *env);

/*
 * Split the network: group[i] is the side of node i (n must be the node
 * count).  Messages between nodes of different sides are dropped from now
 * on, in flight ones included.  WC_INVALID_ARGUMENT if n is wrong.
 */
wc_status wc_sim_partition(wc_sim *sim, const int *group, size_t n);

/* Every node on one side again. */
void wc_sim_heal(wc_sim *sim);

/* Change the loss probability from now on (0..1). */
void wc_sim_set_loss(wc_sim *sim, double loss);

/* Virtual time in milliseconds. */
uint64_t wc_sim_now(const wc_sim *sim);

/* Run the next event, advancing the clock to it.  false if the queue is empty. */
bool wc_sim_step(wc_sim *sim);

/* Run every event due at or before t, then set the clock to t (if later). */
void wc_sim_run_until(wc_sim *sim, uint64_t t);

/* wc_sim_run_until(now + ms). */
void wc_sim_run_for(wc_sim *sim, uint64_t ms);

/* Hash of every delivered message and fired timer so far, in order. */
uint64_t wc_sim_trace_hash(const wc_sim *sim);

void wc_sim_get_stats(const wc_sim *sim, wc_sim_stats *out);

#endif /* WC_SIM_H */
