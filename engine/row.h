/*
 * row.h - the value encodings stored under flat keys, and reconciliation.
 *
 * Two blobs exist (byte layouts in docs/file-formats.md, "Row and header
 * values"):
 *
 *  Row blob (under WC_KIND_STATIC and WC_KIND_ROW keys):
 *    u8 flags               WC_ROWF_LIVENESS | WC_ROWF_DELETED
 *    [LIVENESS] i64 ts, u32 ttl, u32 ldt     primary-key liveness (CQL INSERT)
 *    [DELETED]  i64 ts, u32 ldt              row tombstone
 *    varint ncells
 *    ncells x cell, strictly ascending column id:
 *      varint column
 *      u8 cflags            WC_CELLF_TOMBSTONE | WC_CELLF_EXPIRING | WC_CELLF_ROW_TS |
 *                           WC_CELLF_COUNTER | WC_CELLF_COUNTER_DELTA |
 *                           WC_CELLF_COLLECTION
 *      [!ROW_TS] i64 ts     (ROW_TS: the cell's timestamp is the liveness ts)
 *      [TOMBSTONE|EXPIRING] u32 ldt   local deletion time (seconds since epoch)
 *      [EXPIRING] u32 ttl
 *      [!TOMBSTONE] varint len, value bytes
 *
 *  Header blob (under WC_KIND_HEADER keys):
 *    u8 flags               WC_HDRF_PARTITION_DELETED
 *    [PARTITION_DELETED] i64 ts, u32 ldt
 *    varint nrt
 *    nrt x range tombstone: u8 bflags (WC_BOUND_*), bytes start, bytes end, i64 ts, u32 ldt
 *
 * Timestamps are microseconds; "ldt" (local deletion time) is seconds since
 * the epoch: for a tombstone when it was written, for an expiring cell when
 * it expires (write time + ttl).  A deletion with timestamp D shadows data
 * whose timestamp is <= D.
 *
 * Reconciliation (last write wins, Cassandra's tie rules): the higher
 * timestamp wins; on equal timestamps a tombstone beats a live cell, between
 * two tombstones the later ldt wins, an expiring cell beats a non-expiring
 * one, two expiring cells keep the later ldt, and otherwise the greater value
 * (memcmp) wins.  Two live counter cells (or delta cells) do not compete:
 * they merge shard by shard (counter.h) and keep the higher timestamp; a
 * counter and a tombstone reconcile as above.  Two collection cells merge
 * element by element (collection.h); a cell tombstone meeting a collection
 * acts as a collection tombstone; a row deletion drops the elements it
 * shadows.  All functions are pure and thread-safe; parsers validate
 * every length against the blob and return false on malformed input.
 */
#ifndef WC_ROW_H
#define WC_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"

#define WC_ROWF_LIVENESS 0x01
#define WC_ROWF_DELETED 0x02

#define WC_CELLF_TOMBSTONE 0x01
#define WC_CELLF_EXPIRING 0x02
#define WC_CELLF_ROW_TS 0x04
#define WC_CELLF_COUNTER 0x08       /* value is a counter shard list (counter.h) */
#define WC_CELLF_COUNTER_DELTA 0x10 /* value is an int64 to add (counter.h); never stored */
#define WC_CELLF_COLLECTION 0x20    /* value is a collection (collection.h) */

#define WC_HDRF_PARTITION_DELETED 0x01

#define WC_BOUND_START_INCL 0x01
#define WC_BOUND_START_UNBOUNDED 0x02
#define WC_BOUND_END_INCL 0x04
#define WC_BOUND_END_UNBOUNDED 0x08

#define WC_NO_TIMESTAMP INT64_MIN /* "no deletion" marker for shadow timestamps */

typedef struct wc_cell {
    uint32_t column;
    uint8_t flags; /* WC_CELLF_* but ROW_TS (already resolved) */
    int64_t ts;
    uint32_t ldt; /* tombstone: deletion time; expiring: expiry time; else 0 */
    uint32_t ttl; /* expiring only */
    const uint8_t *value;
    size_t len;
} wc_cell;

typedef struct wc_row_view {
    uint8_t flags;
    int64_t live_ts; /* valid if WC_ROWF_LIVENESS */
    uint32_t live_ttl, live_ldt;
    int64_t del_ts; /* valid if WC_ROWF_DELETED */
    uint32_t del_ldt;
    uint32_t ncells;
    /* iteration state */
    const uint8_t *p, *end;
    uint32_t seen;
    uint32_t last_column;
} wc_row_view;

typedef struct wc_range_tombstone {
    uint8_t bflags;
    const uint8_t *start;
    size_t start_len;
    const uint8_t *end;
    size_t end_len;
    int64_t ts;
    uint32_t ldt;
} wc_range_tombstone;

typedef struct wc_header_view {
    uint8_t flags;
    int64_t pdel_ts; /* valid if WC_HDRF_PARTITION_DELETED */
    uint32_t pdel_ldt;
    uint32_t nrt;
    const uint8_t *p, *end; /* iteration state */
    uint32_t seen;
} wc_header_view;

/* API: rows */

/* Parse the fixed part of a row blob; cells are then read with wc_row_next_cell. */
bool wc_row_parse(const uint8_t *blob, size_t len, wc_row_view *v);
/*
 * Next cell, in ascending column order.  Returns 1 and fills *c, 0 at the end,
 * -1 if the blob is malformed (bad length, columns not ascending, trailing bytes).
 */
int wc_row_next_cell(wc_row_view *v, wc_cell *c);
/* Validate a whole row blob (fixed part and every cell). */
bool wc_row_validate(const uint8_t *blob, size_t len);
/* wc_row_validate, and *flags = the flags of all its cells or-ed (WC_CELLF_ROW_TS cleared). */
bool wc_row_validate_flags(const uint8_t *blob, size_t len, uint8_t *flags);

/*
 * Row builder: wc_rowb_begin, then optional liveness/deletion, then cells in
 * strictly ascending column order, then wc_rowb_end.  Appends to b; nothing
 * else may be appended to b between begin and end (cells are written in place
 * and the fixed part is inserted in front of them at the end).
 * A cell whose ts equals the liveness ts is stored with WC_CELLF_ROW_TS.
 */
typedef struct wc_rowb {
    wc_buf *b;
    size_t start; /* offset of the blob in b */
    uint8_t flags;
    int64_t live_ts, del_ts;
    uint32_t live_ttl, live_ldt, del_ldt;
    uint32_t ncells;
} wc_rowb;

void wc_rowb_begin(wc_rowb *rb, wc_buf *b);
void wc_rowb_liveness(wc_rowb *rb, int64_t ts, uint32_t ttl, uint32_t ldt);
void wc_rowb_deletion(wc_rowb *rb, int64_t ts, uint32_t ldt);
/* REQUIRES: liveness set before the first cell (for ROW_TS); ascending columns. */
void wc_rowb_cell(wc_rowb *rb, const wc_cell *c);
/* Finishes the blob; returns its length (0 and b->failed set on OOM). */
size_t wc_rowb_end(wc_rowb *rb);

/*
 * Reconcile two row blobs of the same key into out (appended).  The result
 * keeps, per column, the winning cell; the winning liveness and deletion; and
 * drops cells and liveness shadowed by the row's own deletion.
 * Returns WC_CORRUPTION if either blob is malformed, WC_NO_MEMORY on OOM.
 */
wc_status wc_row_merge(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, wc_buf *out);

/*
 * Tombstone purging during compaction.  An element with timestamp ts and
 * local deletion time ldt (a cell, row, range or partition tombstone, an
 * expired cell or an expired row liveness) may be dropped when
 * ldt < gc_before (= now - gc_grace_seconds) and ts < max_purgeable(arg),
 * the smallest timestamp that data outside the compaction (other SSTables,
 * memtables) may hold for the partition (Cassandra's maxPurgeableTimestamp).
 * max_purgeable is called lazily, at most once per call below, and only when
 * some element passes the gc_before test; NULL means "purge nothing".
 */
typedef struct wc_purge {
    int64_t gc_before;
    int64_t (*max_purgeable)(void *arg);
    void *arg;
} wc_purge;

/*
 * Rewrite a row for compaction into out (appended): drop the liveness and
 * cells shadowed by shadow_ts (a partition or range deletion covering the
 * row, or WC_NO_TIMESTAMP) or by the row's own deletion, and turn cells that
 * expired before now_sec into tombstones dated at their expiry.  Tombstones
 * and expired liveness are kept.  *empty is set when nothing is left (out
 * unchanged then).  WC_CORRUPTION for a malformed blob.
 */
wc_status wc_row_compact(const uint8_t *blob, size_t len, int64_t shadow_ts, int64_t now_sec,
                         wc_buf *out, bool *empty);
/*
 * wc_row_compact that also drops what purge allows (purge may be NULL);
 * adds the number of dropped elements to *purged (may be NULL).
 */
wc_status wc_row_compact_purge(const uint8_t *blob, size_t len, int64_t shadow_ts,
                               int64_t now_sec, const wc_purge *purge, wc_buf *out, bool *empty,
                               uint64_t *purged);
/*
 * Copy a partition header into out (appended) without the partition deletion
 * and range tombstones purge allows to drop; *empty when nothing is left
 * (out unchanged).  WC_CORRUPTION for a malformed blob, WC_NO_MEMORY.
 */
wc_status wc_header_compact_purge(const uint8_t *blob, size_t len, const wc_purge *purge,
                                  wc_buf *out, bool *empty, uint64_t *purged);

/* Internal: true (and *mp loaded on first use) if an element (ts, ldt) may be purged. */
bool wc__purgeable(const wc_purge *pg, int64_t ts, uint32_t ldt, int64_t *mp, bool *have_mp);

/* Smallest timestamp in a blob of the given key kind (INT64_MAX if none, INT64_MIN if
 * malformed: the conservative answer for purge decisions).  REQUIRES: a row blob was
 * validated (wc_row_validate); its cells are not checked again, only their lengths. */
int64_t wc_blob_min_timestamp(uint8_t kind, const uint8_t *blob, size_t len);

/* <0 if a loses to b, >0 if a wins, 0 if identical.  Cells of the same column. */
int wc_cell_reconcile(const wc_cell *a, const wc_cell *b);

/* True if the cell is live: not a tombstone, not expired at now, not shadowed (ts <= shadow_ts). */
static inline bool wc_cell_is_live(const wc_cell *c, int64_t shadow_ts, int64_t now_sec)
{
    if (c->flags & WC_CELLF_TOMBSTONE)
        return false;
    if ((c->flags & WC_CELLF_EXPIRING) && now_sec >= (int64_t)c->ldt)
        return false;
    return c->ts > shadow_ts;
}

/* API: partition headers */

bool wc_header_parse(const uint8_t *blob, size_t len, wc_header_view *v);
/* 1 and *rt filled, 0 at end, -1 malformed. */
int wc_header_next_rt(wc_header_view *v, wc_range_tombstone *rt);
bool wc_header_validate(const uint8_t *blob, size_t len);

/* Append a header blob with an optional partition deletion and n range tombstones. */
void wc_header_build(wc_buf *b, bool pdel, int64_t pdel_ts, uint32_t pdel_ldt,
                     const wc_range_tombstone *rts, size_t nrt);

/*
 * Reconcile two headers: the later partition deletion wins; range tombstones
 * are the union, minus those shadowed by the partition deletion (ts <= pdel)
 * and exact duplicates.
 */
wc_status wc_header_merge(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                          wc_buf *out);

/*
 * Clustering bounds are PREFIXES, as in CQL: clustering keys are
 * concatenations of self-delimiting component encodings, and a bound names
 * the first components.  An inclusive start admits every key >= the bound; an
 * exclusive start also rejects keys that begin with the bound; an inclusive
 * end admits keys <= the bound and keys that begin with it; an exclusive end
 * admits keys < the bound (keys beginning with it sort after it).
 */
bool wc_slice_start_ok(uint8_t bflags, const uint8_t *start, size_t start_len, const uint8_t *ck,
                       size_t ck_len);
bool wc_slice_end_ok(uint8_t bflags, const uint8_t *end, size_t end_len, const uint8_t *ck,
                     size_t ck_len);

/* True if clustering key ck lies inside the range tombstone's (prefix) bounds. */
bool wc_rt_covers(const wc_range_tombstone *rt, const uint8_t *ck, size_t ck_len);

#endif /* WC_ROW_H */
