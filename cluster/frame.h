/*
 * frame.h - encoding and incremental decoding of internode frames
 * (frame_format.h, docs/protocol.md "Internode protocol").
 *
 * The encoder writes a header for a payload; the reader takes bytes as they
 * come off a socket, in pieces of any size, and hands out whole frames
 * whose magic, flags, length and checksum it has checked.  It allocates at
 * most the limit it was given (checked against the header before any
 * allocation), so what a peer sends cannot make it allocate without bound.
 * A reader belongs to one connection and one thread at a time.
 */
#ifndef WC_FRAME_H
#define WC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_format.h"
#include "status.h"

/* One decoded frame; payload points into the reader or the input. */
typedef struct wc_frame {
    uint8_t version;
    uint8_t type;
    const uint8_t *payload;
    uint32_t len;
} wc_frame;

typedef struct wc_frame_reader {
    uint8_t hdr[WC_FRAME_HEADER_SIZE];
    size_t hdr_got;
    uint32_t max_len;  /* largest payload accepted */
    uint8_t *buf;      /* payload of a frame split over several inputs */
    size_t buf_cap;
    size_t buf_got;
} wc_frame_reader;

/* API */

/*
 * Write the header of a frame carrying payload[0..len) into hdr
 * (WC_FRAME_HEADER_SIZE bytes).  REQUIRES: len <= UINT32_MAX.
 */
void wc_frame_header(uint8_t *hdr, uint8_t version, uint8_t type, const uint8_t *payload,
                     uint32_t len);

/* An empty reader that accepts payloads of at most max_len bytes. */
void wc_frame_reader_init(wc_frame_reader *r, uint32_t max_len);
/* Change the limit for the frames after the current one. */
void wc_frame_reader_set_max(wc_frame_reader *r, uint32_t max_len);
/* Free what the reader holds (it may be initialized again). */
void wc_frame_reader_free(wc_frame_reader *r);

/*
 * Consume bytes from data[0..len) up to the end of the next frame.  *used
 * gets the bytes consumed; *got is true when a whole frame was completed,
 * and *out describes it (its payload is valid until the next call on this
 * reader and as long as data is).  Call again with the rest of the input.
 * WC_OK, or WC_CORRUPTION with a detail (wc_last_error) naming the bad
 * magic, flags, oversize length or checksum mismatch; after a failure the
 * stream is unusable (the connection must be closed).  WC_NO_MEMORY.
 */
wc_status wc_frame_read(wc_frame_reader *r, const uint8_t *data, size_t len, size_t *used,
                        wc_frame *out, bool *got);

#endif /* WC_FRAME_H */
