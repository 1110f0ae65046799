/*
 * internode_fuzz.c - libFuzzer target for what a node reads from a peer
 * before and after the handshake: the frame reader and the HELLO decoder
 * (cluster/frame.c, cluster/handshake.c).
 *
 * The first input byte picks how the rest is used:
 *   0  a raw byte stream, fed to a frame reader in pieces whose sizes come
 *      from the second byte (frame headers, lengths and checksums as sent);
 *   1  one HELLO payload, decoded directly;
 *   2  HELLO payloads framed correctly (so the checksum passes and the
 *      decoder behind the reader is reached), cut at each 0xff byte.
 * Whatever the bytes, nothing may crash, leak or read out of bounds; the
 * reader may never hand out a frame longer than its limit; a HELLO that
 * decodes must encode back to bytes that decode to the same hello.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "frame.h"
#include "handshake.h"

static void check_hello(const uint8_t *p, size_t len, uint8_t version)
{
    wc_hello h, h2, ours;
    wc_buf b;
    char why[300];

    if (wc_hello_decode(p, len, version, &h) != WC_OK)
        return;
    wc_buf_init(&b);
    wc_hello_encode(&h, &b);
    if (b.failed || wc_hello_decode(b.data, b.len, version, &h2) != WC_OK ||
        memcmp(&h, &h2, sizeof(h)) != 0)
        abort();
    wc_buf_free(&b);
    memset(&ours, 0, sizeof(ours));
    ours.version = WC_NET_PROTO_VERSION;
    strcpy(ours.cluster, "fuzz");
    (void)wc_hello_check(&ours, &h, why, sizeof(why));
    (void)wc_handshake_verify((const uint8_t *)"k", 1, WC_ROLE_INITIATOR, &h, &ours, p,
                              len < WC_PROOF_LEN ? len : WC_PROOF_LEN);
}

static void read_stream(const uint8_t *data, size_t size, size_t step)
{
    wc_frame_reader r;
    size_t pos = 0;

    wc_frame_reader_init(&r, WC_FRAME_MAX_HANDSHAKE);
    while (pos < size) {
        size_t n = size - pos < step ? size - pos : step, off = 0;

        while (off < n) {
            size_t used;
            wc_frame f;
            bool got;

            if (wc_frame_read(&r, data + pos + off, n - off, &used, &f, &got) != WC_OK)
                goto out;
            if (used == 0 && !got)
                abort(); /* no progress */
            off += used;
            if (!got)
                continue;
            if (f.len > r.max_len)
                abort();
            if (f.type == WC_FRAME_HELLO)
                check_hello(f.payload, f.len, f.version);
            else if (f.type == WC_FRAME_PROOF)
                wc_frame_reader_set_max(&r, 1u << 16); /* as after a handshake */
        }
        pos += n;
    }
out:
    wc_frame_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    switch (data[0] % 3) {
    case 0:
        read_stream(data + 2, size - 2, (size_t)data[1] + 1);
        break;
    case 1:
        check_hello(data + 1, size - 1, WC_NET_PROTO_VERSION);
        break;
    default: {
        wc_buf s;
        const uint8_t *p = data + 1, *end = data + size;

        wc_buf_init(&s);
        while (p < end) {
            const uint8_t *cut = memchr(p, 0xff, (size_t)(end - p));
            size_t n = (size_t)((cut ? cut : end) - p);
            uint8_t hdr[WC_FRAME_HEADER_SIZE];

            wc_frame_header(hdr, WC_NET_PROTO_VERSION, WC_FRAME_HELLO, p, (uint32_t)n);
            wc_buf_append(&s, hdr, sizeof(hdr));
            wc_buf_append(&s, p, n);
            p += n + (cut ? 1 : 0);
        }
        if (!s.failed)
            read_stream(s.data, s.len, 7);
        wc_buf_free(&s);
        break;
    }
    }
    return 0;
}
