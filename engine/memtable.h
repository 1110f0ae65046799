/*
 * memtable.h - the in-memory sorted table of one engine table.
 *
 * A memtable maps flat keys (keys.h) to row or header blobs (row.h).  Writing
 * a key that is already present reconciles the two blobs (wc_row_merge or
 * wc_header_merge, chosen by the key's kind) and stores the result.  Memory
 * comes from an arena owned by the memtable and is released all at once when
 * the last reference goes away.
 *
 * Concurrency: a skiplist with one writer at a time (callers of
 * wc_memtable_put are serialized by an internal mutex) and any number of
 * lock-free readers/iterators running concurrently with that writer (LevelDB
 * style: nodes are published with release stores; a replaced value pointer is
 * swapped atomically and old values stay in the arena).  Reference counted:
 * every iterator holds a reference.
 *
 * Versions: each put carries a write sequence (wc_memtable_put: 0) and keeps
 * the value it replaced; an iterator opened at sequence s sees every key as
 * it was after the puts of sequence <= s only.  The engine gives all puts of
 * one commit-log record one sequence and publishes it when the record is
 * complete, so a reader sees a record all at once or not at all.
 */
#ifndef WC_MEMTABLE_H
#define WC_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "iter.h"
#include "status.h"

typedef struct wc_memtable wc_memtable;

/* API */

/* New empty memtable with one reference.  WC_NO_MEMORY on failure. */
wc_status wc_memtable_new(wc_memtable **out);
void wc_memtable_ref(wc_memtable *m);
void wc_memtable_unref(wc_memtable *m); /* frees at zero */

/*
 * Insert or reconcile (key -> value).  Copies both.  REQUIRES: key is a valid
 * flat key and value a valid blob of the key's kind (validated: malformed
 * input returns WC_INVALID_ARGUMENT and changes nothing).  WC_NO_MEMORY on OOM.
 */
wc_status wc_memtable_put(wc_memtable *m, const uint8_t *key, size_t klen, const uint8_t *value,
                          size_t vlen);

/*
 * Same, for a value its caller has already validated (the engine validates
 * every mutation batch once, before it reaches the commit log), as a version
 * of write sequence seq.  The key is still checked.  REQUIRES: value is a
 * valid blob of the key's kind; seq is >= the sequence of every earlier put.
 */
wc_status wc_memtable_put_validated(wc_memtable *m, const uint8_t *key, size_t klen,
                                    const uint8_t *value, size_t vlen, uint64_t seq);

/*
 * Smallest write timestamp (cells, liveness, deletions) put so far;
 * INT64_MAX if none.  Published before the entry itself, so a compaction
 * that reads it after a put never misses that put's timestamps.
 */
int64_t wc_memtable_min_timestamp(const wc_memtable *m);

/* Bytes of arena memory in use (keys, values, nodes), for flush thresholds. */
size_t wc_memtable_memory(const wc_memtable *m);
uint64_t wc_memtable_entries(const wc_memtable *m);

/* New iterator over every put (takes a reference; released by destroy).  NULL on OOM. */
wc_iter *wc_memtable_iter(wc_memtable *m);
/*
 * New iterator that sees only the puts of sequence <= seq: a key whose
 * first put is newer is skipped, a newer version gives way to the one it
 * replaced.  As wc_memtable_iter otherwise.
 */
wc_iter *wc_memtable_iter_at(wc_memtable *m, uint64_t seq);

#endif /* WC_MEMTABLE_H */
