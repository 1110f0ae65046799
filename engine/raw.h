/*
 * raw.h - raw reads for replicas, their digests, reconciliation and
 * accumulation: the engine as the replica store of the coordinator
 * (cluster/replica_store.h).
 *
 * The raw form of a read r is a batch record (mutation.h) of r->table_id
 * holding the slice's data as merged from every source of one replica,
 * with write timestamps, TTLs and every tombstone, nothing purged (expired
 * cells are kept as they are, tombstones regardless of gc_grace).  Its
 * canonical layout (docs/file-formats.md, "Raw read results") makes equal
 * data give equal bytes however it is split into memtables and SSTables:
 *
 *   - one mutation per partition that has an entry, in token order (then
 *     partition-key order, as flat keys sort);
 *   - in it: the header when there is a partition deletion or a range
 *     tombstone overlapping the slice (only those, sorted, without
 *     duplicates and without range tombstones the partition deletion
 *     shadows), then the static row (include_static), then the rows of the
 *     slice in the read's order (descending clustering order for reverse);
 *   - each row rebuilt in its canonical encoding, without the liveness and
 *     cells its own row deletion shadows.  Rows shadowed by the partition
 *     deletion or a range tombstone stay as they are (the tombstone is in the
 *     same raw result): merging rows never empties one, which the limit rule
 *     below relies on.
 *
 * The digest (wc_raw_digest) leaves out what the partition deletion or a
 * range tombstone shadows: XXH3-128 of each partition's key and entries,
 * rows without their shadowed cells, liveness and deletion, rows left empty
 * dropped.  A replica whose compaction already dropped shadowed data then
 * has the same digest as one that still holds it (no read repair for data
 * no read can see); when a data read happens for another reason, the repair
 * may send such shadowed cells back, harmless.
 *
 * Limits count ROW ENTRIES (live or not: a row holding only tombstones
 * counts), never static rows or headers.  A raw read stops right after its
 * limit-th row entry: it is then "cut", and covers the slice only up to that
 * row (the last in the read's order).  Counting entries rather than live
 * rows makes the cut the same on every replica holding the same data and
 * independent of the clock; a page built from an answer may therefore hold
 * fewer live rows than the limit, and continues after the answer's last row
 * (wc_raw_last_row).
 *
 * Short reads (Cassandra's short-read problem): replicas cut at different
 * rows.  Reconcile trusts the merged data only up to the EARLIEST cut in the
 * read's order (the shortest cut: past it a replica that was cut may hold
 * tombstones, or rows, not seen), so the answer is the canonical merge of
 * the entries up to that row, cut again at limit row entries.  The replica
 * with the shortest cut contributed limit row entries up to it and merging
 * never drops a row, so the answer of a read with a cut replica holds
 * exactly limit row entries: it never invents rows past what every replica
 * covered, and never looks complete when it is not (the caller continues
 * after its last row, even when deletions of other replicas leave fewer
 * live rows than the limit in it).
 *
 * Thread-safety: wc_engine_read_raw as wc_engine_read; the other functions
 * are pure and thread-safe.
 */
#ifndef WC_RAW_H
#define WC_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "engine.h"
#include "keys.h"
#include "status.h"

/*
 * One read: a clustering slice of one partition, or (token_range) of every
 * partition whose token lies in (token_start, token_end], in token order
 * (token_start INT64_MIN includes INT64_MIN); pk is then empty.
 */
typedef struct wc_store_read {
    uint32_t table_id;
    const uint8_t *pk;
    size_t pk_len;
    bool token_range;
    int64_t token_start, token_end;
    wc_bound start, end; /* clustering slice (both unbounded: the whole partition) */
    bool reverse;        /* rows in reverse clustering order (single partition only) */
    bool include_static; /* the static row too */
    uint64_t limit;      /* max clustering rows in all, 0 = none */
    int64_t now_sec;     /* TTL clock of the coordinator, so every replica agrees */
} wc_store_read;

/* The raw result of one replica, for reconcile. */
typedef struct wc_store_raw {
    const uint8_t *data;
    size_t len;
} wc_store_raw;

#define WC_RAW_DIGEST_LEN 16

/* API */

/*
 * Read r's raw form (above) and append it to out; digest =
 * wc_raw_digest of it.  REQUIRES: out
 * initialized.  WC_NOT_FOUND (unknown table), WC_INVALID_ARGUMENT (reverse
 * token range, pk missing or too long), WC_CORRUPTION (a damaged source: the
 * table goes offline as with wc_engine_read), WC_NO_MEMORY.
 */
wc_status wc_engine_read_raw(wc_engine *e, const wc_store_read *r, wc_buf *out,
                             uint8_t digest[WC_RAW_DIGEST_LEN]);

/*
 * The digest of raw[0..len) (above; 16 bytes, the low 64 bits first, each
 * little-endian), as wc_engine_read_raw computes it; a malformed raw gets
 * XXH3-128 of its bytes.  Cannot fail.
 */
void wc_raw_digest(const uint8_t *raw, size_t len, uint8_t digest[WC_RAW_DIGEST_LEN]);

/*
 * Reconcile raws[0..n) of read r: append the answer (a raw result of r, the
 * limit rule above) to answer and, for each i, the repair batch of replica i
 * to repairs[i]: every entry of the answer whose bytes replica i's raw does
 * not hold (nothing when it lacks nothing).  Applying repairs[i] to replica
 * i makes its raw result of r equal the answer.  REQUIRES: answer and
 * repairs[0..n) initialized.  WC_CORRUPTION for a malformed raw result, a
 * mutation of another table or a partition outside r (another partition, a
 * token outside the range) (answer and repairs then unspecified),
 * WC_NO_MEMORY.
 */
wc_status wc_raw_reconcile(const wc_store_read *r, const wc_store_raw *raws, size_t n,
                           wc_buf *answer, wc_buf *repairs);

/*
 * Append the raw result raw[0..len) to the raw result in acc (empty acc:
 * none yet) so that acc is one raw result holding both (raws of
 * consecutive token ranges), and set *rows to the row entries of raw.
 * WC_CORRUPTION (acc unchanged), WC_NO_MEMORY.
 */
wc_status wc_raw_append(wc_buf *acc, const uint8_t *raw, size_t len, uint64_t *rows);

/*
 * Row entries of raw[0..len) into *rows and the flat key (keys.h) of its
 * last row entry, in the raw's order, into last_key (reset first; left
 * empty without rows).  WC_CORRUPTION, WC_NO_MEMORY.
 */
wc_status wc_raw_last_row(const uint8_t *raw, size_t len, uint64_t *rows, wc_buf *last_key);

/*
 * Append the paging state wc_engine_read would return after the row of flat
 * key key[0..klen) with rows_in_part rows of its partition returned (for a
 * caller that pages over raw answers).  Errors show in out->failed.
 */
void wc_paging_state_build(wc_buf *out, const uint8_t *key, size_t klen, uint64_t rows_in_part);

/* Internal (read.c and raw.c): a read whose reconciled entries go to a sink. */
typedef struct wc__raw_sink {
    /* a partition (flat-key prefix: token, pk_len, pk) is being read */
    wc_status (*partition)(void *arg, const uint8_t *prefix, size_t plen);
    /* its reconciled header */
    wc_status (*header)(void *arg, const uint8_t *blob, size_t len);
    /* a reconciled static or clustering row; *added when it became an entry */
    wc_status (*row)(void *arg, const wc_key_parts *kp, const uint8_t *blob, size_t len,
                     bool *added);
    void *arg;
} wc__raw_sink;

/*
 * wc_engine_read's walk with a sink: req's slice, reverse, static row, limit
 * (counting added row entries) and token range (incl_min: a token_start of
 * INT64_MIN includes INT64_MIN); no page is built.  stats may be NULL.
 */
wc_status wc__read_raw(wc_engine *e, const wc_read_request *req, bool incl_min,
                       const wc__raw_sink *sink, wc_read_stats *stats);

#endif /* WC_RAW_H */
