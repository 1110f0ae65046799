/*
 * merge.h - a merging view over several sorted iterators (memtables and
 * SSTables of one table).
 *
 * The merge walks the union of keys in one direction at a time; at each key
 * it exposes every source's value for that key so the caller can reconcile
 * them (row.h merges are commutative, so source order does not matter).  It
 * does not own the sources' data but destroys the source iterators.  One
 * thread at a time.
 */
#ifndef WC_MERGE_H
#define WC_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iter.h"
#include "status.h"

typedef struct wc_merge wc_merge;

typedef struct wc_merge_value {
    const uint8_t *data;
    size_t len;
} wc_merge_value;

/* API */

/* Takes ownership of the n iterators (destroyed by wc_merge_free, also on failure). */
wc_status wc_merge_new(wc_iter **its, size_t n, wc_merge **out);
void wc_merge_free(wc_merge *m);

/* Forward: position at the smallest key >= target. */
void wc_merge_seek(wc_merge *m, const uint8_t *target, size_t len);
/* Backward: position at the largest key <= target. */
void wc_merge_seek_for_prev(wc_merge *m, const uint8_t *target, size_t len);
/* Move on in the direction of the last seek. REQUIRES: valid. */
void wc_merge_step(wc_merge *m);
bool wc_merge_valid(wc_merge *m);
/* Current key; values of every source holding it (count in *n; array owned by m). */
const uint8_t *wc_merge_key(wc_merge *m, size_t *len);
const wc_merge_value *wc_merge_values(wc_merge *m, size_t *n);
/* First failure of any source (WC_OK if none). */
wc_status wc_merge_status(wc_merge *m);

#endif /* WC_MERGE_H */
