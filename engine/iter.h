/*
 * iter.h - the sorted-entry iterator every source of flat keys implements
 * (memtable, SSTable, merging iterator).
 *
 * An iterator walks (flat key, value) entries in memcmp order of the key,
 * forward with next() and backward with prev().  key()/value() point into
 * memory owned by the iterator, valid until the next move or destroy.
 * After a failure valid() is false and status() is not WC_OK (for example
 * WC_CORRUPTION for a bad block checksum).  One thread at a time.
 */
#ifndef WC_ITER_H
#define WC_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct wc_iter wc_iter;

typedef struct wc_iter_ops {
    bool (*valid)(wc_iter *it);
    void (*seek_first)(wc_iter *it);
    void (*seek_last)(wc_iter *it);
    /* Position at the first entry with key >= target. */
    void (*seek)(wc_iter *it, const uint8_t *target, size_t len);
    /* Position at the last entry with key <= target. */
    void (*seek_for_prev)(wc_iter *it, const uint8_t *target, size_t len);
    void (*next)(wc_iter *it); /* REQUIRES: valid */
    void (*prev)(wc_iter *it); /* REQUIRES: valid */
    const uint8_t *(*key)(wc_iter *it, size_t *len);   /* REQUIRES: valid */
    const uint8_t *(*value)(wc_iter *it, size_t *len); /* REQUIRES: valid */
    wc_status (*status)(wc_iter *it);
    void (*destroy)(wc_iter *it);
} wc_iter_ops;

struct wc_iter {
    const wc_iter_ops *ops;
};

/* API: thin wrappers */
static inline bool wc_iter_valid(wc_iter *it) { return it->ops->valid(it); }
static inline void wc_iter_seek_first(wc_iter *it) { it->ops->seek_first(it); }
static inline void wc_iter_seek_last(wc_iter *it) { it->ops->seek_last(it); }
static inline void wc_iter_seek(wc_iter *it, const uint8_t *k, size_t n) { it->ops->seek(it, k, n); }
static inline void wc_iter_seek_for_prev(wc_iter *it, const uint8_t *k, size_t n)
{
    it->ops->seek_for_prev(it, k, n);
}
static inline void wc_iter_next(wc_iter *it) { it->ops->next(it); }
static inline void wc_iter_prev(wc_iter *it) { it->ops->prev(it); }
static inline const uint8_t *wc_iter_key(wc_iter *it, size_t *n) { return it->ops->key(it, n); }
static inline const uint8_t *wc_iter_value(wc_iter *it, size_t *n) { return it->ops->value(it, n); }
static inline wc_status wc_iter_status(wc_iter *it) { return it->ops->status(it); }
static inline void wc_iter_destroy(wc_iter *it)
{
    if (it)
        it->ops->destroy(it);
}

#endif /* WC_ITER_H */
