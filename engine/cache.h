/*
 * cache.h - internal interface of the shared block cache (sstable.h declares
 * the public constructor, destructor and usage).
 *
 * The cache holds decoded, verified blocks (wc_block, block.h) keyed by
 * (file_id, block offset), charged by the bytes of their contents, and
 * evicts by second chance (CLOCK, an approximation of LRU: a block hit since
 * it was inserted or last spared is spared once more).  It is split into
 * shards, each with its own mutex, hash table and list, so readers on
 * several threads rarely contend.  The cache holds one reference
 * on every block it contains; lookups hand out another one, so a block
 * evicted while an iterator still uses it stays alive until that iterator
 * drops it.  Every function is thread-safe.
 */
#ifndef WC_CACHE_H
#define WC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "sstable.h"

/* API: internal */

/*
 * Find a block; returns it with a new reference (caller unrefs) and marks it
 * referenced (spared by the next eviction that reaches it), or NULL on a miss.
 */
wc_block *wc__cache_lookup(wc_block_cache *c, uint64_t file_id, uint64_t off);

/*
 * Insert a block; the cache takes its own reference (the caller keeps its
 * one).  If the key is already present the existing entry is kept.  Then
 * evicts least recently used blocks until the shard fits its capacity (the
 * new block itself may be evicted at once when larger than the shard).
 * On OOM the block is simply not cached.
 */
void wc__cache_insert(wc_block_cache *c, uint64_t file_id, uint64_t off, wc_block *b);

/*
 * A buffer of an evicted block that nobody references (caller owns it: pass
 * it to wc_block_load_reuse), from the shard (file_id, off) belongs to, or
 * NULL.  Each shard keeps a few.
 */
wc_block *wc__cache_take_spare(wc_block_cache *c, uint64_t file_id, uint64_t off);

/* Drop every block of a file (e.g. when its SSTable is deleted). */
void wc__cache_erase_file(wc_block_cache *c, uint64_t file_id);

typedef struct wc_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t entries, usage, capacity;
} wc_cache_stats;

/* Totals over every shard (a consistent snapshot per shard only). */
void wc__cache_get_stats(wc_block_cache *c, wc_cache_stats *out);

#endif /* WC_CACHE_H */
