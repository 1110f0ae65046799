/*
 * thread.h - how the engine starts threads and times its waits.
 *
 * Every engine thread (flush, compaction, commit-log sync) starts through
 * wc__thread_start, with every signal blocked: the process that embeds the
 * engine (a PostgreSQL background worker) handles its signals on its own
 * main thread only.  Every condition variable that is waited on with a
 * timeout is created by wc__cond_init and its deadlines come from
 * wc__deadline_ms, so that all timed waits use CLOCK_MONOTONIC and a
 * wall-clock step never shortens or stretches them.  Thread-safe.
 *
 * Background threads (flush, compaction, the node's workers for bulk
 * requests) start through wc__thread_start_nice at a higher nice value than
 * the threads that serve reads (docs/architecture.md, "Threads and CPU
 * priority"): on a busy machine the scheduler then runs a woken reader
 * first.  An unprivileged process may always raise its own nice value (never
 * lower it back), so a thread's priority is set once, when it starts.
 */
#ifndef WC_THREAD_H
#define WC_THREAD_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "status.h"

/* API */

/*
 * Start fn(arg) on a new thread with every signal blocked; the caller's
 * signal mask is unchanged afterwards.  what names the thread in the error.
 * WC_NO_MEMORY if the thread could not be created.
 */
wc_status wc__thread_start(pthread_t *out, void *(*fn)(void *), void *arg, const char *what);

/*
 * wc__thread_start, with the new thread's nice value raised to nice (at most
 * 19; nice <= 0 or a process already that nice: unchanged) before fn runs.
 * The nice value is applied when this returns.  WC_NO_MEMORY if the thread
 * could not be created.
 */
wc_status wc__thread_start_nice(pthread_t *out, void *(*fn)(void *), void *arg, const char *what,
                                int nice);

/*
 * Raise the calling thread's nice value to nice (Linux: nice is per thread).
 * Never lowers it.  Returns the thread's nice value afterwards.
 */
int wc__thread_nice(int nice);

/* Initialize cv for waits timed by CLOCK_MONOTONIC.  Returns 0 or an errno value. */
int wc__cond_init(pthread_cond_t *cv);

/* *ts = CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait on a wc__cond_init cond. */
void wc__deadline_ms(struct timespec *ts, uint32_t ms);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t wc__mono_ns(void);

#endif /* WC_THREAD_H */
