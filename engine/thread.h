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
 *
 * Nice sets a thread's share of a busy CPU, not how soon a woken reader gets
 * it: Linux's fair scheduler (EEVDF) lets the running thread finish its
 * slice, a few milliseconds, whatever its nice value.  So a background
 * thread also gives the CPU up on its own: started with yield_us, it calls
 * sched_yield() at its wc__yield_point()s once yield_us of time has passed
 * since its last yield.  With nothing else runnable on its CPU the call
 * returns at once; with a reader waiting, the reader runs first.
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
 * 19; nice <= 0 or a process already that nice: unchanged) before fn runs,
 * and its wc__yield_point()s yielding every yield_us microseconds (0:
 * never).  Both are applied when this returns.  WC_NO_MEMORY if the thread
 * could not be created.
 */
wc_status wc__thread_start_nice(pthread_t *out, void *(*fn)(void *), void *arg, const char *what,
                                int nice, uint32_t yield_us);

/*
 * Make the calling thread's wc__yield_point()s yield every yield_us
 * microseconds of its work (0: never).  A thread started by
 * wc__thread_start_nice gets its interval this way; a thread of the
 * embedding process that does bulk work (a backend copying rows) calls it
 * itself.
 */
void wc__yield_every(uint32_t yield_us);

/*
 * A point in a thread's bulk work where it may give up its CPU: a thread
 * with a yield interval (wc__yield_every) calls sched_yield() here when the
 * interval has passed since its last yield.  Reads the clock once every 16 calls, so a
 * call per row or entry is cheap; on any other thread it does nothing.
 * Never call it with a lock held that a request may wait for.
 */
void wc__yield_point(void);

/* sched_yield() calls made by wc__yield_point in this process so far (tests). */
uint64_t wc__yield_count(void);

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
