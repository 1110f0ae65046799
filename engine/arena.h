/*
 * arena.h - bump allocator owning the memory of one memtable.
 *
 * An arena hands out 8-byte aligned pieces carved from large blocks (1 MiB by
 * default) obtained through wc_malloc; a request bigger than a quarter of the
 * block size gets a block of its own so that little space is wasted.  With
 * WC_ARENA_HUGE_BLOCK, every block after the first is exactly one huge page,
 * aligned and advised for transparent huge pages (wc_malloc_huge), which
 * saves TLB misses when a big arena is walked at random.  Pieces are never
 * freed one by one: everything goes at once in wc_arena_destroy.
 *
 * Ownership and threads: the arena is embedded in its owner (the memtable).
 * wc_arena_alloc is single-threaded (the memtable calls it only under its
 * writer mutex); memory handed out may be read by any thread once published.
 * wc_arena_memory may be called from any thread at any time.
 */
#ifndef WC_ARENA_H
#define WC_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WC_ARENA_DEFAULT_BLOCK (1u << 20)
/* Block size whose blocks (with their 16-byte header) are exactly one huge page. */
#define WC_ARENA_HUGE_BLOCK ((2u << 20) - 16)
#define WC_ARENA_ALIGN 8

typedef struct wc__arena_block wc__arena_block;

typedef struct wc_arena {
    uint8_t *ptr;              /* next free byte of the current block */
    size_t remaining;          /* free bytes left in the current block */
    size_t block_size;         /* size of a regular block (data part) */
    wc__arena_block *blocks;   /* every block, newest first */
    _Atomic size_t memory;     /* bytes consumed (see wc_arena_memory) */
    size_t nblocks;            /* number of blocks (for tests) */
} wc_arena;

/* API */

/*
 * Initialise an empty arena; no memory is taken until the first allocation.
 * block_size 0 means WC_ARENA_DEFAULT_BLOCK; it is rounded up to a multiple
 * of WC_ARENA_ALIGN and to at least 256 bytes.  Cannot fail.
 */
void wc_arena_init(wc_arena *a, size_t block_size);

/* Free every block.  REQUIRES: no pointer into the arena is used afterwards. */
void wc_arena_destroy(wc_arena *a);

/* Slow path of wc_arena_alloc (a new block is needed).  Internal. */
void *wc__arena_alloc_slow(wc_arena *a, size_t n);

/*
 * n bytes, 8-byte aligned, uninitialised, valid until wc_arena_destroy.
 * n == 0 is treated as 1.  Returns NULL when wc_malloc fails or n is absurdly
 * large; the arena is unchanged then and stays usable.  Sets no error detail.
 * REQUIRES: one caller at a time.
 */
static inline void *wc_arena_alloc(wc_arena *a, size_t n)
{
    size_t need;
    uint8_t *p;

    if (n > SIZE_MAX / 2)
        return NULL;
    need = (n + (WC_ARENA_ALIGN - 1)) & ~(size_t)(WC_ARENA_ALIGN - 1);
    if (need == 0)
        need = WC_ARENA_ALIGN;
    if (need > a->remaining)
        return wc__arena_alloc_slow(a, need);
    p = a->ptr;
    a->ptr += need;
    a->remaining -= need;
    /* single writer: a relaxed load + store is enough and cheaper than an RMW */
    atomic_store_explicit(&a->memory,
                          atomic_load_explicit(&a->memory, memory_order_relaxed) + need,
                          memory_order_relaxed);
    return p;
}

/* Would wc_arena_alloc(a, n) be served from the current block (cannot fail)? */
static inline int wc_arena_fits(const wc_arena *a, size_t n)
{
    size_t need = (n + (WC_ARENA_ALIGN - 1)) & ~(size_t)(WC_ARENA_ALIGN - 1);

    return n <= SIZE_MAX / 2 && need != 0 && need <= a->remaining;
}

/*
 * Bytes consumed from the system so far: every piece handed out (rounded up
 * to the alignment) plus the unused tails of blocks that were retired.  It
 * grows with every allocation (not by whole blocks), so it is a fine-grained
 * flush threshold measure.  Any thread.
 */
static inline size_t wc_arena_memory(const wc_arena *a)
{
    return atomic_load_explicit(&((wc_arena *)a)->memory, memory_order_relaxed);
}

#endif /* WC_ARENA_H */
