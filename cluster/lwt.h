/*
 * lwt.h - what a lightweight transaction asks of its node: the CAS request
 * of the client protocol (its codec), the check of its conditions against
 * the partition's current row, and the restamping of its writes.
 *
 * A CAS names one row (partition key, clustering key; or the partition's
 * static row) and conditions on it: that it does not exist (IF NOT
 * EXISTS), that it exists (IF EXISTS), and per column = value, <> value,
 * IS NULL, IS NOT NULL (values compared as their stored bytes; a
 * condition on a static column is on the partition's static row).  When they
 * all hold, its batch (mutations of that one partition) is written with
 * the transaction's own timestamp, so that of two transactions the later
 * one always wins (paxos.h: the ballot's timestamp).  Layout in
 * docs/protocol.md ("CAS").  Pure functions: thread-safe.
 */
#ifndef WC_LWT_H
#define WC_LWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "consistency.h"
#include "engine.h"
#include "status.h"

#define WC_LWT_MAX_CONDS 64

/* CAS request: u8 flags */
#define WC_CASF_NOT_EXISTS 0x01 /* the row must not exist */
#define WC_CASF_EXISTS 0x02     /* the row must exist */
#define WC_CASF_STATIC 0x04     /* the row is the partition's static row (no clustering key) */
#define WC_CASF_ALL 0x07

/* CAS condition: u8 op */
#define WC_CAS_EQ 1
#define WC_CAS_NE 2
#define WC_CAS_IS_NULL 3
#define WC_CAS_IS_NOT_NULL 4
#define WC_CAS_OP_MAX 4

typedef struct wc_lwt_cond {
    uint32_t column; /* the cell's column id */
    uint8_t op;      /* WC_CAS_* */
    const uint8_t *value;
    size_t len;
} wc_lwt_cond;

typedef struct wc_lwt_request {
    wc_consistency serial_cl; /* SERIAL or LOCAL_SERIAL */
    uint8_t flags;            /* WC_CASF_* */
    uint32_t table_id;
    const uint8_t *pk, *ck; /* ck: empty for a static row */
    size_t pk_len, ck_len;
    uint32_t nconds;
    wc_lwt_cond conds[WC_LWT_MAX_CONDS];
    const uint8_t *batch; /* the writes when the conditions hold: one partition of table_id */
    size_t batch_len;
} wc_lwt_request;

/* API */

/*
 * CAS request body: u8 serial level, u8 flags, u32 table id, bytes pk,
 * bytes ck, varint n, n x {u32 column, u8 op, bytes value}, bytes batch.
 */
void wc_lwt_put_request(wc_buf *b, const wc_lwt_request *r);
/*
 * Decode (pointers into p).  WC_CORRUPTION for a malformed body;
 * WC_INVALID_ARGUMENT for a level that is not serial, unknown flags or
 * operators, too many conditions.
 */
wc_status wc_lwt_get_request(const uint8_t *p, size_t len, wc_lwt_request *out);

/*
 * The read of r's row as wc_engine_read takes it: the one row (and the
 * static row), at the TTL clock now_sec.
 */
void wc_lwt_read_request(const wc_lwt_request *r, int64_t now_sec, wc_read_request *out);

/* Whether r's conditions hold on page, the answer of wc_lwt_read_request. */
bool wc_lwt_holds(const wc_lwt_request *r, const wc_page *page);

/*
 * batch[0..len) with every timestamp (liveness, deletion, cells) set to
 * ts, appended to out.  WC_CORRUPTION for a malformed batch;
 * WC_INVALID_ARGUMENT for a partition or range deletion, a counter cell,
 * or mutations of more than one partition or of another table than
 * table_id; WC_NO_MEMORY.
 */
wc_status wc_lwt_restamp(const uint8_t *batch, size_t len, uint32_t table_id, int64_t ts,
                         wc_buf *out);

#endif /* WC_LWT_H */
