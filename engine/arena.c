/*
 * arena.c - block allocation for the bump allocator of arena.h.
 *
 * Every block is one wc_malloc'd piece: a small header linking it into the
 * arena's list, followed by its data.  The fast path (carving from the current
 * block) is inline in arena.h; this file only takes new blocks and frees them.
 * Same threading rules as arena.h: one allocating thread at a time.
 */
#include "arena.h"

#include "alloc.h"

struct wc__arena_block {
    wc__arena_block *next;
    size_t size; /* data bytes following the header */
};

/* The header is 16 bytes, so data keeps malloc's alignment (>= 8). */
_Static_assert(sizeof(wc__arena_block) % WC_ARENA_ALIGN == 0, "arena block header alignment");

void wc_arena_init(wc_arena *a, size_t block_size)
{
    if (block_size == 0)
        block_size = WC_ARENA_DEFAULT_BLOCK;
    if (block_size < 256)
        block_size = 256;
    block_size = (block_size + (WC_ARENA_ALIGN - 1)) & ~(size_t)(WC_ARENA_ALIGN - 1);
    a->ptr = NULL;
    a->remaining = 0;
    a->block_size = block_size;
    a->blocks = NULL;
    atomic_init(&a->memory, 0);
    a->nblocks = 0;
}

void wc_arena_destroy(wc_arena *a)
{
    wc__arena_block *b = a->blocks;

    while (b) {
        wc__arena_block *next = b->next;
        wc_free(b);
        b = next;
    }
    a->blocks = NULL;
    a->ptr = NULL;
    a->remaining = 0;
    a->nblocks = 0;
    atomic_store_explicit(&a->memory, 0, memory_order_relaxed);
}

/* New block with size data bytes, linked into the arena; NULL on OOM. */
static uint8_t *wc__arena_new_block(wc_arena *a, size_t size)
{
    wc__arena_block *b;

    if (size > SIZE_MAX - sizeof(*b))
        return NULL;
    /*
     * A block of whole huge pages (memtables) is taken huge-page aligned,
     * except the first: an arena that stays small (many idle tables) keeps
     * only the small pages it touched.
     */
    if ((sizeof(*b) + size) % WC_HUGE_PAGE == 0 && a->nblocks > 0)
        b = wc_malloc_huge(sizeof(*b) + size);
    else
        b = wc_malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->next = a->blocks;
    a->blocks = b;
    a->nblocks++;
    return (uint8_t *)(b + 1);
}

/* REQUIRES: need is a multiple of WC_ARENA_ALIGN and does not fit the current block. */
void *wc__arena_alloc_slow(wc_arena *a, size_t need)
{
    size_t mem = atomic_load_explicit(&a->memory, memory_order_relaxed);
    uint8_t *p;

    if (need > a->block_size / 4) {
        /* big piece: a block of its own, the current block stays in use */
        p = wc__arena_new_block(a, need);
        if (p == NULL)
            return NULL;
        atomic_store_explicit(&a->memory, mem + need, memory_order_relaxed);
        return p;
    }
    p = wc__arena_new_block(a, a->block_size);
    if (p == NULL)
        return NULL;
    /* the tail of the retired block is lost: count it as consumed */
    mem += a->remaining + need;
    a->ptr = p + need;
    a->remaining = a->block_size - need;
    atomic_store_explicit(&a->memory, mem, memory_order_relaxed);
    return p;
}
