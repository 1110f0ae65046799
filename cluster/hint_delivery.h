/*
 * hint_delivery.h - hinted handoff on the wire: the state machine that sends
 * a host the hints stored for it once it is alive again, and the receiving
 * side that applies them.
 *
 * Sending: for every target host reported alive (wc_hint_delivery_peer_alive;
 * gossip's on_alive will call it), the hints of that host id are read from
 * the store (hints.h) in order, from its delivered position, and sent as
 * HINT messages (msg_types.h, layout in hints_format.h and docs/protocol.md
 * "Hint messages"):
 *   - at most `window` HINT messages are in flight per target;
 *   - the bytes sent to all targets together are throttled to
 *     throttle_bytes_per_s (Cassandra's hinted_handoff_throttle);
 *   - each delivery runs in a session (a random id); hints are numbered
 *     1, 2, ... in it; the receiver applies them strictly in that order and
 *     acknowledges cumulatively (HINT_ACK: all up to seq applied);
 *   - an acknowledgement advances the target's delivered position in the
 *     store (made durable when nothing is in flight, or every `window`
 *     acknowledged hints, and when the peer goes down);
 *   - a repeated ack (the receiver saw a gap) or no progress for
 *     timeout_ms: the hints from the oldest unacknowledged one are sent
 *     again; a new session starts from the acknowledged position if that
 *     fails twice in a row (redelivery is harmless: last write wins);
 *   - wc_hint_delivery_peer_down stops sending to that host; the next
 *     peer_alive starts again from the durable position;
 *   - hints whose ttl passed are skipped and counted by the store, never
 *     sent; every recheck_ms alive targets are looked at again for new
 *     hints and expired segments are deleted (wc_hints_expire).
 *
 * Handoff (wc_hint_delivery_handoff, a node that leaves the ring): the
 * hints of every target that is not being delivered to directly go to one
 * live node instead, as HINT_HANDOFF messages in the same sessions,
 * windows, acknowledgements and throttle; that node keeps each in its own
 * store for the target (fsynced before it acknowledges) and delivers them
 * when the target is up.  The hints for that node itself are delivered to
 * it as usual.  Once a handoff began, hints stored later go the same way
 * (every recheck_ms).  A target that comes up gets its hints directly.
 *
 * Receiving: wc_hint_delivery_on_message handles HINT, HINT_HANDOFF and HINT_ACK.  A HINT
 * addressed to this host id, next in its session, is given to the apply
 * callback (on a node: the engine's write path).  If apply fails no ack is
 * sent: the sender retries after its timeout and the hint stays stored
 * there.  Every length is checked against the message before use;
 * malformed messages are dropped, counted and logged.
 *
 * Thread-safety: like all cluster logic, one node's loop only (env.h): every
 * function is called on that loop, and callbacks run on it.
 */
#ifndef WC_HINT_DELIVERY_H
#define WC_HINT_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "hints.h"
#include "status.h"

typedef struct wc_hint_delivery wc_hint_delivery;

/*
 * Apply one hint locally (receiving side).  from: the sender.  WC_OK once the
 * batch is applied; any other status: not applied, not acknowledged.
 */
typedef wc_status (*wc_hint_apply_fn)(void *arg, const wc_addr *from, const uint8_t *table,
                                      size_t table_len, const uint8_t *batch, size_t batch_len,
                                      int64_t created_us);

typedef struct wc_hint_delivery_options {
    uint8_t self_host_id[WC_HOST_ID_LEN]; /* HINTs for another host id are refused */
    uint32_t window;               /* HINT messages in flight per target (default 8) */
    uint64_t throttle_bytes_per_s; /* all targets together; 0: unlimited (default 1 MiB/s) */
    uint32_t timeout_ms;           /* no ack progress this long: resend (default 10 s) */
    uint32_t recheck_ms;           /* look for new and expired hints (default 10 s) */
    wc_hint_apply_fn apply;        /* required on a node that receives hints */
    void *apply_arg;
} wc_hint_delivery_options;

typedef struct wc_hint_delivery_stats {
    /* sending */
    uint64_t sent;       /* HINT messages sent (resends included) */
    uint64_t sent_bytes;
    uint64_t delivered;  /* hints acknowledged */
    uint64_t timeouts;     /* timeout_ms without progress: resent */
    uint64_t fast_resends; /* resent at once on a repeated ack */
    uint32_t active;     /* targets being delivered to now */
    /* receiving */
    uint64_t applied;
    uint64_t kept;         /* handed over by a leaving node, kept for their target */
    uint64_t apply_failed;
    uint64_t duplicates;   /* already applied in the session: acknowledged again */
    uint64_t out_of_order; /* ahead of the next expected: dropped */
    uint64_t wrong_host;   /* addressed to another host id: dropped */
    uint64_t malformed;    /* dropped */
} wc_hint_delivery_stats;

/* API */

void wc_hint_delivery_options_default(wc_hint_delivery_options *o);

/*
 * A delivery state machine on env over store (both outlive it).  Starts the
 * recheck timer.  WC_NO_MEMORY.  Caller frees with wc_hint_delivery_free.
 */
wc_status wc_hint_delivery_new(wc_env *env, wc_hints *store, const wc_hint_delivery_options *o,
                               wc_hint_delivery **out);

/* Make acknowledged positions durable, cancel timers, free.  NULL is a no-op. */
void wc_hint_delivery_free(wc_hint_delivery *d);

/*
 * The host host_id is alive at addr: start (or go on) sending its hints.
 * WC_NO_MEMORY.
 */
wc_status wc_hint_delivery_peer_alive(wc_hint_delivery *d, const wc_addr *addr,
                                      const uint8_t host_id[WC_HOST_ID_LEN]);

/* The host at addr went down: stop sending to it (acknowledged hints stay marked). */
void wc_hint_delivery_peer_down(wc_hint_delivery *d, const wc_addr *addr);

/*
 * Hand the hints over to the live host via_id at via (see the top): from
 * now on, also for hints stored later.  Called again with another host
 * (the previous one went down), what was under way restarts there from the
 * acknowledged positions.  The store holds no hint any more once all were
 * handed over or delivered (wc_hints_get_stats).  WC_NO_MEMORY.
 */
wc_status wc_hint_delivery_handoff(wc_hint_delivery *d, const wc_addr *via,
                                   const uint8_t via_id[WC_HOST_ID_LEN]);

/*
 * A message arrived (env handlers.on_message).  Returns true if it is a hint
 * message (type WC_MSG_RANGE_HINTS..+7, or WC_MSG_HINT_HANDOFF), handled
 * here; false otherwise.
 */
bool wc_hint_delivery_on_message(wc_hint_delivery *d, const wc_addr *from, const uint8_t *msg,
                                 size_t len);

void wc_hint_delivery_get_stats(wc_hint_delivery *d, wc_hint_delivery_stats *out);

#endif /* WC_HINT_DELIVERY_H */
