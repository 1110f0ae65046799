/*
 * collection.h - collection cells: CQL sets, lists and maps merged element
 * by element.
 *
 * A collection cell (WC_CELLF_COLLECTION in row.h) holds an optional
 * collection tombstone and a list of elements, each with its own
 * timestamp, tombstone or TTL.  Value bytes (docs/file-formats.md,
 * "Collection cells"):
 *
 *   u8 flags                  WC_COLLF_DELETED
 *   [DELETED] i64 ts, u32 ldt the collection tombstone
 *   varint n
 *   n x element, keys strictly ascending (memcmp):
 *     bytes key
 *     u8 eflags               WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING
 *     i64 ts
 *     [TOMBSTONE|EXPIRING] u32 ldt
 *     [EXPIRING] u32 ttl
 *     [!TOMBSTONE] bytes value
 *
 * The cell's own timestamp is the greatest timestamp inside (tombstone or
 * element), so "the cell is shadowed" keeps meaning "everything in it is".
 * No element is older than or as old as the collection tombstone.  The
 * engine knows no element type: a set's key is the element (its
 * byte-comparable key encoding) with an empty value, a list's key is a
 * time-based id and its value the element, a map's key is the map key.
 *
 * Two collection cells merge element by element: the later collection
 * tombstone wins (equal timestamps: the later ldt); per key the element
 * wins as cells do (row.h, wc_cell_reconcile); elements the merged
 * tombstone shadows drop.  Merging is commutative, associative and
 * idempotent, so memtables, SSTable merges, compaction, read repair and
 * hints reconcile collections without losing concurrent element writes.
 *
 * All functions are pure and thread-safe; parsers validate every length.
 */
#ifndef WC_COLLECTION_H
#define WC_COLLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "row.h"

#define WC_COLLF_DELETED 0x01

/* One element, pointers into the value it was read from. */
typedef struct wc_coll_elem {
    const uint8_t *key;
    size_t key_len;
    uint8_t flags; /* WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING */
    int64_t ts;
    uint32_t ldt, ttl;
    const uint8_t *value;
    size_t len;
} wc_coll_elem;

typedef struct wc_coll_view {
    bool deleted;
    int64_t del_ts; /* valid if deleted */
    uint32_t del_ldt;
    uint32_t n;
    const uint8_t *p, *end; /* iteration state */
    uint32_t seen;
    const uint8_t *last_key;
    size_t last_len;
} wc_coll_view;

/*
 * Builder: wc_collb_begin, an optional wc_collb_deletion, elements in
 * strictly ascending key order, wc_collb_end.  Appends to b (nothing else
 * may be appended to b in between).  max_ts tracks the cell's timestamp.
 */
typedef struct wc_collb {
    wc_buf *b;
    size_t start;
    bool deleted;
    int64_t del_ts;
    uint32_t del_ldt;
    uint32_t n;
    int64_t max_ts;
} wc_collb;

/* API: reading */

/* Parse the fixed part; false if malformed. */
bool wc_coll_parse(const uint8_t *value, size_t len, wc_coll_view *v);
/* Next element: 1 and *e filled, 0 at the end, -1 if malformed (keys not ascending too). */
int wc_coll_next(wc_coll_view *v, wc_coll_elem *e);
/*
 * True if value is a well-formed collection with a tombstone or at least
 * one element, none of them shadowed by the tombstone; *max_ts gets the
 * greatest timestamp inside and *min_ts the smallest (either may be NULL).
 */
bool wc_coll_valid(const uint8_t *value, size_t len, int64_t *max_ts, int64_t *min_ts);

/* API: building */

void wc_collb_begin(wc_collb *cb, wc_buf *b);
void wc_collb_deletion(wc_collb *cb, int64_t ts, uint32_t ldt);
/* REQUIRES: keys strictly ascending; e->ts > the collection tombstone's. */
void wc_collb_elem(wc_collb *cb, const wc_coll_elem *e);
/* Finishes the value; returns its length (0 and b->failed on OOM). */
size_t wc_collb_end(wc_collb *cb);

/* API: reconciliation */

/*
 * Append merge(a, b) (both valid collection values) to out; *max_ts gets
 * the merged cell's timestamp.  WC_CORRUPTION if either is malformed,
 * WC_NO_MEMORY.
 */
wc_status wc_coll_merge(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, wc_buf *out,
                        int64_t *max_ts);

/*
 * Rewrite a collection value into out (appended): drop the tombstone and
 * elements shadowed by shadow_ts (WC_NO_TIMESTAMP: none), turn elements
 * that expired before now_sec into element tombstones dated at their expiry
 * (INT64_MIN: expire nothing), and drop tombstones purge allows (NULL:
 * none; counted into *purged, which may be NULL).  *empty when nothing is
 * left (out unchanged); else *max_ts is the new cell timestamp.
 * WC_CORRUPTION, WC_NO_MEMORY.
 */
wc_status wc_coll_compact(const uint8_t *value, size_t len, int64_t shadow_ts, int64_t now_sec,
                          const wc_purge *purge, wc_buf *out, int64_t *max_ts, bool *empty,
                          uint64_t *purged);

/* wc_coll_compact sharing a row's lazily loaded max_purgeable (row.c). */
wc_status wc__coll_compact(const uint8_t *value, size_t len, int64_t shadow_ts, int64_t now_sec,
                           const wc_purge *purge, int64_t *mp, bool *have_mp, wc_buf *out,
                           int64_t *max_ts, bool *empty, uint64_t *purged);

/*
 * The live elements, as reads return them (engine.h, wc_page): varint n,
 * n x (bytes key, bytes value), keys ascending; only elements that are no
 * tombstone, not expired at now_sec and newer than shadow_ts.  Appended to
 * out; *n gets the count (0: the collection reads as absent).
 * WC_CORRUPTION, WC_NO_MEMORY.
 */
wc_status wc_coll_live(const uint8_t *value, size_t len, int64_t shadow_ts, int64_t now_sec,
                       wc_buf *out, uint32_t *n);

/* Does the live form (wc_coll_live) parse?  *n gets the element count. */
bool wc_coll_live_valid(const uint8_t *p, size_t len, uint32_t *n);

#endif /* WC_COLLECTION_H */
