/*
 * mutation.h - a write to one partition of one table, in its encoded form.
 *
 * A mutation is built directly in the byte form that travels to the commit
 * log and (later) over the wire, so applying it costs no re-encoding:
 *
 *   u32 table_id, bytes pk (varint len + bytes), varint nentries,
 *   nentries x { u8 kind, bytes ck, bytes blob }
 *
 * where kind is WC_KIND_HEADER (blob is a header blob: partition deletion,
 * range tombstones), WC_KIND_STATIC or WC_KIND_ROW (blob is a row blob).  A
 * batch (commit-log record) is: u32 magic 'WCMB', varint count, count x
 * (bytes mutation).  Byte layouts in docs/file-formats.md.  A wc_mutation is
 * used by one thread at a time.
 *
 * Callers that send writes build whole batches with a wc_batch_builder, which
 * encodes each mutation straight into the record and writes the batch header
 * when the record is finished, so no caller writes the batch layout:
 *
 *   wc_batch_builder b;
 *   wc_batch_builder_init(&b);
 *   m = wc_batch_builder_begin(&b, table_id, pk, pk_len);
 *   rb = wc_mutation_row_begin(m, false, ck, ck_len);   (cells, liveness,
 *   wc_rowb_cell(rb, &cell); wc_mutation_row_end(m);     row deletion) or
 *   wc_mutation_delete_partition(m, ts, now);            tombstones
 *   st = wc_batch_builder_end(&b);                       (appends m)
 *   st = wc_batch_builder_finish(&b, &rec, &len);        (the record)
 *   wc_batch_builder_reset(&b);  ...  wc_batch_builder_free(&b);
 *
 * A builder is used by one thread at a time.
 */
#ifndef WC_MUTATION_H
#define WC_MUTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "row.h"

typedef struct wc_mutation {
    uint32_t table_id;
    wc_buf buf;       /* encoded mutation (table id, pk, then entries at encode time) */
    size_t count_pos; /* offset in buf after table id and pk */
    uint32_t nentries;
    bool bad;         /* pk too long: encode fails */
    wc_buf entries;   /* encoded entries */
    wc_buf scratch;   /* staging area for a row blob */
    wc_buf ck;        /* clustering key of the row being built */
    wc_rowb rowb;
    uint8_t row_kind;
} wc_mutation;

/* A decoded mutation: pointers into the encoded bytes. */
typedef struct wc_mutation_view {
    uint32_t table_id;
    const uint8_t *pk;
    size_t pk_len;
    uint32_t nentries;
    const uint8_t *p, *end; /* iteration state */
    uint32_t seen;
} wc_mutation_view;

typedef struct wc_mutation_entry {
    uint8_t kind;
    const uint8_t *ck;
    size_t ck_len;
    const uint8_t *blob;
    size_t blob_len;
} wc_mutation_entry;

#define WC_BATCH_MAGIC 0x424d4357u /* "WCMB" little-endian */

/* API: building */

/* REQUIRES: pk_len <= WC_MAX_PK_LEN (else wc_mutation_encode fails). */
void wc_mutation_init(wc_mutation *m, uint32_t table_id, const void *pk, size_t pk_len);
void wc_mutation_free(wc_mutation *m);
/* Start a new mutation in m, keeping its buffers (m was initialized before). */
void wc_mutation_reset(wc_mutation *m, uint32_t table_id, const void *pk, size_t pk_len);

/* Delete the whole partition: ts shadows everything at or before it. */
void wc_mutation_delete_partition(wc_mutation *m, int64_t ts, uint32_t ldt);
/* Delete a clustering range (bounds as in wc_range_tombstone). */
void wc_mutation_delete_range(wc_mutation *m, const wc_range_tombstone *rt);
/* Add a prebuilt entry (kind + ck + blob); blob must be valid for its kind. */
void wc_mutation_add(wc_mutation *m, uint8_t kind, const void *ck, size_t ck_len,
                     const uint8_t *blob, size_t blob_len);
/*
 * Row helper: begin a row (static or clustering), then use the returned
 * builder (wc_rowb_*) and finish with wc_mutation_row_end.
 */
wc_rowb *wc_mutation_row_begin(wc_mutation *m, bool is_static, const void *ck, size_t ck_len);
void wc_mutation_row_end(wc_mutation *m);

/* Encoded form, valid until the mutation changes.  WC_NO_MEMORY / WC_INVALID_ARGUMENT. */
wc_status wc_mutation_encode(wc_mutation *m, const uint8_t **out, size_t *len);

/*
 * The encoded form in pieces, without assembling it: head (table id and
 * partition key), then varint nentries, then entries.  Lets a caller write
 * the mutation straight into a larger buffer.  Same statuses as encode.
 */
wc_status wc_mutation_parts(const wc_mutation *m, const uint8_t **head, size_t *head_len,
                            uint32_t *nentries, const uint8_t **entries, size_t *entries_len);

/* API: decoding (validates every length; WC_CORRUPTION on malformed input) */
wc_status wc_mutation_parse(const uint8_t *p, size_t len, wc_mutation_view *v);
/* 1 = entry filled, 0 = end, -1 = malformed. */
int wc_mutation_next(wc_mutation_view *v, wc_mutation_entry *e);
/* Same without validating the entry's blob (REQUIRES: the mutation was validated before). */
int wc_mutation_next_unchecked(wc_mutation_view *v, wc_mutation_entry *e);

/* Batch: append encoded mutations to a record; iterate a record. */
void wc_batch_begin(wc_buf *rec, uint32_t count);
void wc_batch_add(wc_buf *rec, const uint8_t *mut, size_t len);
typedef struct wc_batch_view {
    uint32_t count, seen;
    const uint8_t *p, *end;
} wc_batch_view;
wc_status wc_batch_parse(const uint8_t *rec, size_t len, wc_batch_view *v);
/* 1 = *mut set, 0 = end, -1 = malformed. */
int wc_batch_next(wc_batch_view *v, const uint8_t **mut, size_t *len);

/* API: batch builder */

/* Room kept before the first mutation for the header (magic + varint count). */
#define WC_BATCH_HEADER_MAX 9

typedef struct wc_batch_builder {
    wc_buf body;     /* WC_BATCH_HEADER_MAX bytes of room, then the mutations */
    uint32_t count;  /* mutations appended */
    size_t start;    /* offset of the finished record in body */
    wc_mutation m;   /* the mutation being built (buffers reused) */
    bool m_init;     /* m was initialized */
    bool open;       /* a mutation was begun and not ended */
} wc_batch_builder;

/* An empty builder; takes no memory until the first mutation.  Cannot fail. */
void wc_batch_builder_init(wc_batch_builder *b);
/* Free every buffer.  The builder may be initialized again afterwards. */
void wc_batch_builder_free(wc_batch_builder *b);
/* Forget the mutations (and an open one), keeping the buffers. */
void wc_batch_builder_reset(wc_batch_builder *b);
/*
 * Begin the next mutation, for one partition (pk) of table_id, and return it
 * for rows, cells and tombstones (wc_mutation_row_begin, wc_rowb_*,
 * wc_mutation_row_end, wc_mutation_delete_partition / _range).  The pointer
 * is valid until wc_batch_builder_end.  A mutation begun and not ended is
 * dropped by the next begin.
 */
wc_mutation *wc_batch_builder_begin(wc_batch_builder *b, uint32_t table_id, const void *pk,
                                    size_t pk_len);
/*
 * Append the mutation begun last to the batch.  WC_INVALID_ARGUMENT if none
 * is open, or if it has a key over its limit or a malformed entry (nothing
 * is appended then); WC_NO_MEMORY.
 */
wc_status wc_batch_builder_end(wc_batch_builder *b);
/* Append a mutation already encoded (wc_mutation_encode).  WC_NO_MEMORY. */
wc_status wc_batch_builder_add_encoded(wc_batch_builder *b, const uint8_t *mut, size_t len);
/* Mutations appended so far. */
static inline uint32_t wc_batch_builder_count(const wc_batch_builder *b)
{
    return b->count;
}
/* Bytes the record will have, about (mutations appended so far). */
static inline size_t wc_batch_builder_size(const wc_batch_builder *b)
{
    return b->body.len > WC_BATCH_HEADER_MAX ? b->body.len - WC_BATCH_HEADER_MAX : 0;
}
/*
 * The batch record (header and the mutations appended), as wc_batch_parse
 * reads it; valid until the builder changes.  A mutation still open is not
 * in it.  WC_NO_MEMORY if an append failed earlier.
 */
wc_status wc_batch_builder_finish(wc_batch_builder *b, const uint8_t **rec, size_t *len);
/*
 * Forget the mutations appended after the first count ones, which took size
 * bytes (wc_batch_builder_count and _size as they were then), and an open
 * mutation.  Lets a caller roll a batch back to an earlier point.
 * REQUIRES: count and size were read from this builder since its last reset.
 */
void wc_batch_builder_truncate(wc_batch_builder *b, uint32_t count, size_t size);

#endif /* WC_MUTATION_H */
