/*
 * compaction_throttle.c - the compaction throughput cap: a token bucket over
 * the uncompressed bytes compactions write, shared by all compaction
 * threads, at compaction_throughput_mb_per_sec (majors run unthrottled in
 * the caller's thread).
 *
 * Locking: the bucket is under throttle_mu, a leaf; the sleep that pays a
 * debt holds no lock and ends early when the compaction threads stop
 * (comp_stopping, read under comp_mu).
 */
#include "engine_int.h"

#include <time.h>

#include "thread.h"

/* Take `bytes` from the token bucket, sleeping while it is in debt (in slices, so close is quick). */
void wc__throttle(wc_engine *e, uint64_t bytes)
{
    uint32_t mb = atomic_load(&e->throughput_mb);
    double rate, debt;
    int64_t now;

    if (mb == 0 || bytes == 0)
        return;
    rate = (double)mb * 1048576.0; /* bytes per second */
    pthread_mutex_lock(&e->throttle_mu);
    now = wc__mono_ns();
    if (e->throttle_last_ns == 0)
        e->throttle_last_ns = now;
    e->throttle_tokens += (double)(now - e->throttle_last_ns) / 1e9 * rate;
    if (e->throttle_tokens > rate / 10) /* at most 100 ms of burst */
        e->throttle_tokens = rate / 10;
    e->throttle_last_ns = now;
    e->throttle_tokens -= (double)bytes;
    debt = -e->throttle_tokens;
    pthread_mutex_unlock(&e->throttle_mu);
    while (debt > 0) {
        double sec = debt / rate;
        struct timespec ts;
        bool stop;

        if (sec > 0.1)
            sec = 0.1;
        ts.tv_sec = (time_t)sec;
        ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
        debt -= sec * rate;
        pthread_mutex_lock(&e->comp_mu);
        stop = e->comp_stopping;
        pthread_mutex_unlock(&e->comp_mu);
        if (stop)
            break;
    }
}
