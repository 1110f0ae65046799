/*
 * failure_detector.h - the phi accrual failure detector (Hayashibara et al.)
 * of one peer, as Cassandra uses it.
 *
 * Instead of a yes/no timeout, the detector says how suspicious the silence
 * of a peer is: phi = -log10(P(a heartbeat arrives later than now)), where
 * the probability comes from the intervals between the heartbeats seen so
 * far.  phi 1 means a 10% chance that the peer is merely late, phi 8 one in
 * 10^8.  The peer is convicted (considered down) when phi exceeds
 * phi_convict_threshold (widecol.phi_convict_threshold, default 8).
 *
 * Distribution: exponential, P(later than t) = exp(-t / mean), so
 * phi = t / (mean * ln 10).  Heartbeats reach a peer through gossip relayed
 * by randomly chosen nodes, not straight from the source at a fixed rate, so
 * the gaps look like the waiting times of a Poisson process rather than a
 * bell around the gossip interval; a normal approximation fitted to a
 * steady, low-variance stream turns a small delay into a huge phi (false
 * convictions after any hiccup), while the exponential needs only the mean
 * and grows linearly with the silence.  With the default threshold a peer
 * heard every second is convicted after about 8 * ln 10 = 18.4 s of silence.
 *
 * The window keeps the last `window` intervals (1000); the first heartbeat
 * records initial_interval_ms as its interval, so that phi is sane before
 * real intervals exist; an interval longer than max_interval_ms (a pause, a
 * healed partition) is not recorded, so that it does not inflate the mean
 * and slow the next detection.
 *
 * Pure and single-threaded: the caller passes monotonic times in
 * milliseconds and owns the structure.
 */
#ifndef WC_FAILURE_DETECTOR_H
#define WC_FAILURE_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

#define WC_FD_DEFAULT_WINDOW 1000
#define WC_FD_DEFAULT_THRESHOLD 8.0

typedef struct wc_fd_options {
    uint32_t window;              /* intervals kept (1000) */
    double phi_convict_threshold; /* convict above this phi (8) */
    uint64_t initial_interval_ms; /* assumed interval of the first heartbeat (2000) */
    uint64_t max_interval_ms;     /* longer intervals are not recorded (10000) */
} wc_fd_options;

/* The arrival window of one peer; fields are private. */
typedef struct wc_fd {
    wc_fd_options o;
    uint32_t *intervals; /* ring of the last n intervals, grown up to o.window */
    uint32_t cap, n, head;
    uint64_t sum;  /* of the n intervals */
    uint64_t last; /* time of the last heartbeat */
    bool heard;    /* a heartbeat has arrived */
} wc_fd;

/* API */

void wc_fd_options_default(wc_fd_options *o);

/*
 * An empty window with options o (NULL for the defaults).
 * WC_INVALID_ARGUMENT for window 0 or above 100000, a threshold that is not
 * positive, initial or max interval 0.  Allocates nothing yet; caller calls
 * wc_fd_free.
 */
wc_status wc_fd_init(wc_fd *fd, const wc_fd_options *o);

void wc_fd_free(wc_fd *fd);

/* Forget every heartbeat (the peer restarted), keeping the options. */
void wc_fd_reset(wc_fd *fd);

/*
 * A heartbeat arrived at now_ms (monotonic, never less than the previous
 * one).  WC_NO_MEMORY if the window could not grow (the interval is then
 * only reflected in the time of the last heartbeat).
 */
wc_status wc_fd_heartbeat(wc_fd *fd, uint64_t now_ms);

/* Mean interval in ms of the window (initial_interval_ms before any heartbeat). */
double wc_fd_mean(const wc_fd *fd);

/* phi at now_ms; 0 before the first heartbeat. */
double wc_fd_phi(const wc_fd *fd, uint64_t now_ms);

/* phi(now_ms) > phi_convict_threshold. */
bool wc_fd_convict(const wc_fd *fd, uint64_t now_ms);

#endif /* WC_FAILURE_DETECTOR_H */
