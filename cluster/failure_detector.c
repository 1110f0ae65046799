/*
 * failure_detector.c - phi accrual over a bounded window of heartbeat
 * intervals, exponential distribution (failure_detector.h says why).
 */
#include "failure_detector.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

void wc_fd_options_default(wc_fd_options *o)
{
    o->window = WC_FD_DEFAULT_WINDOW;
    o->phi_convict_threshold = WC_FD_DEFAULT_THRESHOLD;
    o->initial_interval_ms = 2000;
    o->max_interval_ms = 10000;
}

wc_status wc_fd_init(wc_fd *fd, const wc_fd_options *o)
{
    memset(fd, 0, sizeof(*fd));
    if (o == NULL)
        wc_fd_options_default(&fd->o);
    else
        fd->o = *o;
    if (fd->o.window == 0 || fd->o.window > 100000)
        return wc_error(WC_INVALID_ARGUMENT, "failure detector window %u: must be 1 to 100000",
                        fd->o.window);
    if (!(fd->o.phi_convict_threshold > 0))
        return wc_error(WC_INVALID_ARGUMENT, "phi_convict_threshold must be positive");
    if (fd->o.initial_interval_ms == 0 || fd->o.max_interval_ms == 0 ||
        fd->o.initial_interval_ms > UINT32_MAX || fd->o.max_interval_ms > UINT32_MAX)
        return wc_error(WC_INVALID_ARGUMENT, "failure detector intervals must be 1 ms to 49 days");
    return WC_OK;
}

void wc_fd_free(wc_fd *fd)
{
    wc_free(fd->intervals);
    fd->intervals = NULL;
    fd->cap = fd->n = fd->head = 0;
}

void wc_fd_reset(wc_fd *fd)
{
    fd->n = fd->head = 0;
    fd->sum = 0;
    fd->last = 0;
    fd->heard = false;
}

/* Append one interval, dropping the oldest when the window is full. */
static wc_status record(wc_fd *fd, uint64_t interval)
{
    if (fd->n == fd->o.window) {
        fd->sum -= fd->intervals[fd->head];
        fd->intervals[fd->head] = (uint32_t)interval;
        if (++fd->head == fd->o.window)
            fd->head = 0;
        fd->sum += interval;
        return WC_OK;
    }
    if (fd->n == fd->cap) {
        /* grow to the window step by step: most peers never need all of it */
        uint32_t cap = fd->cap ? fd->cap * 2 : 16;
        uint32_t *v;
        if (cap > fd->o.window)
            cap = fd->o.window;
        v = wc_malloc((size_t)cap * sizeof(*v));
        if (v == NULL)
            return wc_error(WC_NO_MEMORY, "failure detector: out of memory");
        /* not full yet, so the ring starts at 0 */
        if (fd->n > 0)
            memcpy(v, fd->intervals, (size_t)fd->n * sizeof(*v));
        wc_free(fd->intervals);
        fd->intervals = v;
        fd->cap = cap;
    }
    fd->intervals[fd->n] = (uint32_t)interval; /* not full: head is 0 */
    fd->n++;
    fd->sum += interval;
    return WC_OK;
}

wc_status wc_fd_heartbeat(wc_fd *fd, uint64_t now_ms)
{
    wc_status st = WC_OK;

    if (!fd->heard) {
        st = record(fd, fd->o.initial_interval_ms);
        fd->heard = true;
    } else if (now_ms >= fd->last && now_ms - fd->last <= fd->o.max_interval_ms) {
        st = record(fd, now_ms - fd->last);
    }
    if (now_ms >= fd->last) /* a clock going back is not an arrival */
        fd->last = now_ms;
    return st;
}

double wc_fd_mean(const wc_fd *fd)
{
    double mean;

    if (fd->n == 0)
        return (double)fd->o.initial_interval_ms;
    mean = (double)fd->sum / fd->n;
    return mean < 1.0 ? 1.0 : mean; /* a window of zero gaps: no division by zero */
}

double wc_fd_phi(const wc_fd *fd, uint64_t now_ms)
{
    if (!fd->heard || now_ms <= fd->last)
        return 0.0;
    return (double)(now_ms - fd->last) / (wc_fd_mean(fd) * M_LN10);
}

bool wc_fd_convict(const wc_fd *fd, uint64_t now_ms)
{
    return wc_fd_phi(fd, now_ms) > fd->o.phi_convict_threshold;
}
