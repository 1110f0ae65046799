/*
 * alloc.c - allocator hook with failure injection for tests.
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static wc_allocator wc__alloc;
static int wc__alloc_set;
static _Atomic uint64_t wc__fail_countdown;
static _Atomic int wc__fail_sticky;
static _Atomic int wc__failing;

/*
 * Live allocations, counted in cache-line-sized stripes: each thread adds to
 * its own stripe (a free may land in another thread's, the sum is still
 * right), so threads that allocate at the same time do not bounce one line.
 */
#define WC__LIVE_STRIPES 16
static struct {
    _Atomic uint64_t n;
    char pad[64 - sizeof(uint64_t)];
} wc__live[WC__LIVE_STRIPES] __attribute__((aligned(64)));
static _Atomic unsigned wc__live_next;
static _Thread_local unsigned wc__live_slot; /* 0: not assigned yet, else stripe + 1 */

static inline void wc__live_add(uint64_t d)
{
    if (wc__live_slot == 0)
        wc__live_slot = atomic_fetch_add(&wc__live_next, 1) % WC__LIVE_STRIPES + 1;
    atomic_fetch_add_explicit(&wc__live[wc__live_slot - 1].n, d, memory_order_relaxed);
}

void wc_set_allocator(const wc_allocator *a)
{
    if (a) {
        wc__alloc = *a;
        wc__alloc_set = 1;
    } else {
        wc__alloc_set = 0;
    }
}

void wc_alloc_fail_after(uint64_t n, int sticky)
{
    atomic_store(&wc__failing, 0);
    atomic_store(&wc__fail_sticky, sticky);
    atomic_store(&wc__fail_countdown, n);
}

uint64_t wc_alloc_live_count(void)
{
    uint64_t sum = 0;

    for (int i = 0; i < WC__LIVE_STRIPES; i++)
        sum += atomic_load(&wc__live[i].n);
    return sum;
}

static int wc__should_fail(void)
{
    uint64_t c;

    if (atomic_load(&wc__failing))
        return 1;
    c = atomic_load(&wc__fail_countdown);
    if (c == 0)
        return 0;
    c = atomic_fetch_sub(&wc__fail_countdown, 1);
    if (c == 1) {
        if (atomic_load(&wc__fail_sticky))
            atomic_store(&wc__failing, 1);
        return 1;
    }
    return 0;
}

void *wc_malloc(size_t n)
{
    void *p;

    if (wc__should_fail())
        return NULL;
    if (n == 0)
        n = 1;
    p = wc__alloc_set ? wc__alloc.malloc_fn(n, wc__alloc.arg) : malloc(n);
    if (p)
        wc__live_add(1);
    return p;
}

void *wc_malloc_huge(size_t n)
{
    void *p;

    if (wc__alloc_set)
        return wc_malloc(n);
    if (wc__should_fail())
        return NULL;
    if (posix_memalign(&p, WC_HUGE_PAGE, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE); /* only advice: small pages work as well */
#endif
    wc__live_add(1);
    return p;
}

void *wc_calloc(size_t count, size_t size)
{
    void *p;

    if (size && count > SIZE_MAX / size)
        return NULL;
    p = wc_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *wc_realloc(void *p, size_t n)
{
    void *q;

    if (p == NULL)
        return wc_malloc(n);
    if (wc__should_fail())
        return NULL;
    if (n == 0)
        n = 1;
    q = wc__alloc_set ? wc__alloc.realloc_fn(p, n, wc__alloc.arg) : realloc(p, n);
    return q;
}

void wc_free(void *p)
{
    if (p == NULL)
        return;
    wc__live_add((uint64_t)-1);
    if (wc__alloc_set)
        wc__alloc.free_fn(p, wc__alloc.arg);
    else
        free(p);
}

void *wc_memdup(const void *p, size_t n)
{
    void *q = wc_malloc(n);

    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *wc_strdup(const char *s)
{
    return wc_memdup(s, strlen(s) + 1);
}
