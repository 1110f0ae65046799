/*
 * frame.c - internode frame header encoding and the incremental frame
 * reader (frame.h).
 */
#include "frame.h"

#include <string.h>

#include "alloc.h"
#include "coding.h"

/* A payload buffer larger than this is freed once its frame is handed out. */
#define KEEP_BUF_MAX (256u << 10)

void wc_frame_header(uint8_t *hdr, uint8_t version, uint8_t type, const uint8_t *payload,
                     uint32_t len)
{
    wc_enc_u32(hdr + WC_FRAME_OFF_MAGIC, WC_FRAME_MAGIC);
    hdr[WC_FRAME_OFF_VERSION] = version;
    hdr[WC_FRAME_OFF_TYPE] = type;
    hdr[WC_FRAME_OFF_FLAGS] = 0;
    hdr[WC_FRAME_OFF_FLAGS + 1] = 0;
    wc_enc_u32(hdr + WC_FRAME_OFF_LENGTH, len);
    wc_enc_u32(hdr + WC_FRAME_OFF_CHECKSUM, wc__frame_checksum(hdr, payload, len));
}

void wc_frame_reader_init(wc_frame_reader *r, uint32_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void wc_frame_reader_set_max(wc_frame_reader *r, uint32_t max_len)
{
    r->max_len = max_len;
}

void wc_frame_reader_free(wc_frame_reader *r)
{
    wc_free(r->buf);
    r->buf = NULL;
    r->buf_cap = r->buf_got = 0;
    r->hdr_got = 0;
}

/* Check a complete header; WC_CORRUPTION naming what is wrong. */
static wc_status check_header(const wc_frame_reader *r)
{
    uint32_t magic = wc_dec_u32(r->hdr + WC_FRAME_OFF_MAGIC);
    uint32_t len = wc_dec_u32(r->hdr + WC_FRAME_OFF_LENGTH);

    if (magic != WC_FRAME_MAGIC)
        return wc_error(WC_CORRUPTION, "bad frame magic 0x%08x (not a widecol node?)",
                        (unsigned)magic);
    if (r->hdr[WC_FRAME_OFF_FLAGS] != 0 || r->hdr[WC_FRAME_OFF_FLAGS + 1] != 0)
        return wc_error(WC_CORRUPTION, "frame with unknown flags 0x%02x%02x",
                        r->hdr[WC_FRAME_OFF_FLAGS + 1], r->hdr[WC_FRAME_OFF_FLAGS]);
    if (len > r->max_len)
        return wc_error(WC_CORRUPTION, "frame of %u bytes exceeds the limit of %u bytes",
                        (unsigned)len, (unsigned)r->max_len);
    return WC_OK;
}

/* The frame whose header is in r->hdr and payload at p is complete: check and describe it. */
static wc_status finish(wc_frame_reader *r, const uint8_t *p, wc_frame *out)
{
    uint32_t len = wc_dec_u32(r->hdr + WC_FRAME_OFF_LENGTH);
    uint32_t want = wc_dec_u32(r->hdr + WC_FRAME_OFF_CHECKSUM);
    uint32_t have = wc__frame_checksum(r->hdr, p, len);

    if (want != have)
        return wc_error(WC_CORRUPTION, "frame checksum mismatch (%u byte payload)", (unsigned)len);
    out->version = r->hdr[WC_FRAME_OFF_VERSION];
    out->type = r->hdr[WC_FRAME_OFF_TYPE];
    out->payload = p;
    out->len = len;
    r->hdr_got = 0;
    r->buf_got = 0;
    return WC_OK;
}

wc_status wc_frame_read(wc_frame_reader *r, const uint8_t *data, size_t len, size_t *used,
                        wc_frame *out, bool *got)
{
    size_t pos = 0, n;
    uint32_t plen;
    wc_status st;

    *got = false;
    *used = 0;
    /* the previous frame's large buffer is no longer referenced */
    if (r->buf_got == 0 && r->buf_cap > KEEP_BUF_MAX) {
        wc_free(r->buf);
        r->buf = NULL;
        r->buf_cap = 0;
    }
    if (r->hdr_got < WC_FRAME_HEADER_SIZE) {
        n = WC_FRAME_HEADER_SIZE - r->hdr_got;
        if (n > len)
            n = len;
        memcpy(r->hdr + r->hdr_got, data, n);
        r->hdr_got += n;
        pos = n;
        if (r->hdr_got < WC_FRAME_HEADER_SIZE) {
            *used = pos;
            return WC_OK;
        }
        if ((st = check_header(r)) != WC_OK)
            return st;
    }
    plen = wc_dec_u32(r->hdr + WC_FRAME_OFF_LENGTH);
    if (r->buf_got == 0 && len - pos >= plen) {
        /* the whole payload is in the input: no copy */
        *used = pos + plen;
        if ((st = finish(r, data + pos, out)) != WC_OK)
            return st;
        *got = true;
        return WC_OK;
    }
    if (r->buf_cap < plen) {
        uint8_t *nb = wc_malloc(plen);

        if (nb == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory for a frame of %u bytes", (unsigned)plen);
        if (r->buf_got > 0)
            memcpy(nb, r->buf, r->buf_got);
        wc_free(r->buf);
        r->buf = nb;
        r->buf_cap = plen;
    }
    n = plen - r->buf_got;
    if (n > len - pos)
        n = len - pos;
    memcpy(r->buf + r->buf_got, data + pos, n);
    r->buf_got += n;
    pos += n;
    *used = pos;
    if (r->buf_got < plen)
        return WC_OK;
    if ((st = finish(r, r->buf, out)) != WC_OK)
        return st;
    *got = true;
    return WC_OK;
}
