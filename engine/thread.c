/*
 * thread.c - thread start with signals blocked and monotonic timed waits
 * (thread.h).
 */
#include "thread.h"

#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What a thread started by wc__thread_start_nice needs before it runs fn. */
struct wc__nice_start {
    void *(*fn)(void *);
    void *arg;
    int nice;
    uint32_t yield_us;
    sem_t applied; /* posted once the new thread has applied nice */
};

/* The calling thread's yield interval (0: never yields) and its clock. */
static __thread int64_t wc__yield_ns;
static __thread int64_t wc__yield_last;
static __thread uint32_t wc__yield_calls;
static _Atomic uint64_t wc__yields;

wc_status wc__thread_start(pthread_t *out, void *(*fn)(void *), void *arg, const char *what)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(out, NULL, fn, arg); /* the new thread inherits the mask */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return wc_error(WC_NO_MEMORY, "could not start the %s thread", what);
    return WC_OK;
}

int wc__thread_nice(int nice)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int cur;

    if (nice > 19)
        nice = 19;
    errno = 0;
    cur = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno != 0)
        return 0;
    /* only ever lower the priority: raising it back needs CAP_SYS_NICE */
    if (nice > cur && setpriority(PRIO_PROCESS, (id_t)tid, nice) == 0)
        return nice;
    return cur;
}

static void *wc__nice_main(void *arg)
{
    struct wc__nice_start *s = arg;
    void *(*fn)(void *) = s->fn;
    void *fn_arg = s->arg;

    (void)wc__thread_nice(s->nice);
    wc__yield_every(s->yield_us);
    sem_post(&s->applied); /* s is the starter's: not touched after this */
    return fn(fn_arg);
}

wc_status wc__thread_start_nice(pthread_t *out, void *(*fn)(void *), void *arg, const char *what,
                                int nice, uint32_t yield_us)
{
    struct wc__nice_start s = {.fn = fn, .arg = arg, .nice = nice, .yield_us = yield_us};
    wc_status st;

    if (nice <= 0 && yield_us == 0)
        return wc__thread_start(out, fn, arg, what);
    if (sem_init(&s.applied, 0, 0) != 0)
        return wc_error_errno(errno, "could not start the %s thread", what);
    st = wc__thread_start(out, wc__nice_main, &s, what);
    if (st == WC_OK)
        while (sem_wait(&s.applied) != 0 && errno == EINTR)
            ;
    sem_destroy(&s.applied);
    return st;
}

void wc__yield_every(uint32_t yield_us)
{
    wc__yield_ns = (int64_t)yield_us * 1000;
    wc__yield_last = wc__mono_ns();
}

void wc__yield_point(void)
{
    int64_t now;

    if (wc__yield_ns == 0 || (++wc__yield_calls & 15) != 0)
        return;
    now = wc__mono_ns();
    if (now - wc__yield_last < wc__yield_ns)
        return;
    sched_yield();
    atomic_fetch_add_explicit(&wc__yields, 1, memory_order_relaxed);
    wc__yield_last = wc__mono_ns();
}

uint64_t wc__yield_count(void)
{
    return atomic_load_explicit(&wc__yields, memory_order_relaxed);
}

int wc__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rc;

    if ((rc = pthread_condattr_init(&ca)) != 0)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

void wc__deadline_ms(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int64_t wc__mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
