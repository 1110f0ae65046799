/*
 * alloc.h - the engine's one allocator hook.
 *
 * All engine and cluster memory goes through wc_malloc/wc_calloc/wc_realloc/
 * wc_free so that tests can inject allocation failures and count leaks.  The
 * hook is process-global and must be set before any other engine call;
 * the functions themselves are thread-safe.
 */
#ifndef WC_ALLOC_H
#define WC_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef struct wc_allocator {
    void *(*malloc_fn)(size_t n, void *arg);
    void *(*realloc_fn)(void *p, size_t n, void *arg);
    void (*free_fn)(void *p, void *arg);
    void *arg;
} wc_allocator;

/* API */

/* Install a hook (NULL restores libc).  REQUIRES: no engine object is live. */
void wc_set_allocator(const wc_allocator *a);

/* Return NULL on failure; never abort. */
void *wc_malloc(size_t n);
void *wc_calloc(size_t count, size_t size);
void *wc_realloc(void *p, size_t n);
void wc_free(void *p);

/*
 * n bytes aligned to WC_HUGE_PAGE and advised for transparent huge pages
 * (fewer TLB misses for big, randomly accessed pieces such as memtable arena
 * blocks); freed with wc_free.  With a hook installed it is plain wc_malloc.
 * REQUIRES: n is a multiple of WC_HUGE_PAGE.  NULL on failure.
 */
#define WC_HUGE_PAGE ((size_t)2 << 20)
void *wc_malloc_huge(size_t n);

/* Copy n bytes into new memory (caller frees).  NULL on failure. */
void *wc_memdup(const void *p, size_t n);
char *wc_strdup(const char *s);

/*
 * Test support: make the Nth allocation from now fail (and every one after it
 * if sticky).  n = 0 disables.  Counts only allocations through this module.
 */
void wc_alloc_fail_after(uint64_t n, int sticky);
uint64_t wc_alloc_live_count(void); /* allocations not yet freed */

#endif /* WC_ALLOC_H */
