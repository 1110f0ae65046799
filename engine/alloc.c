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
static _Atomic uint64_t wc__live;

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
    return atomic_load(&wc__live);
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
        atomic_fetch_add(&wc__live, 1);
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
    atomic_fetch_add(&wc__live, 1);
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
    atomic_fetch_sub(&wc__live, 1);
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
