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

#endif /* WC_MUTATION_H */
