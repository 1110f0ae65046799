/*
 * frame_test.c - internode frames: written and read back whole or a byte at
 * a time, and every kind of damage refused with its reason (bad magic,
 * flags, oversize length, checksum of header or payload) before anything
 * is allocated for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"
#include "frame.h"

/* Build a frame of payload p[0..n) in b. */
static void build(wc_buf *b, uint8_t type, const uint8_t *p, uint32_t n)
{
    uint8_t hdr[WC_FRAME_HEADER_SIZE];

    wc_frame_header(hdr, WC_NET_PROTO_VERSION, type, p, n);
    wc_buf_append(b, hdr, sizeof(hdr));
    wc_buf_append(b, p, n);
}

/* Feed data in pieces of step bytes; return the status, count frames and check payloads. */
static wc_status feed(wc_frame_reader *r, const uint8_t *data, size_t len, size_t step,
                      const uint8_t *want, uint32_t want_len, int *frames)
{
    size_t pos = 0;

    while (pos < len) {
        size_t n = len - pos < step ? len - pos : step, off = 0;

        while (off < n) {
            size_t used;
            wc_frame f;
            bool got;
            wc_status st = wc_frame_read(r, data + pos + off, n - off, &used, &f, &got);

            if (st != WC_OK)
                return st;
            assert_true(used > 0);
            off += used;
            if (got) {
                assert_int_equal(f.len, want_len);
                assert_int_equal(f.type, WC_FRAME_MESSAGE);
                assert_int_equal(f.version, WC_NET_PROTO_VERSION);
                assert_memory_equal(f.payload, want, want_len);
                (*frames)++;
            }
        }
        pos += n;
    }
    return WC_OK;
}

static void test_roundtrip_any_split(void **state)
{
    uint8_t payload[3000];
    wc_buf b;
    size_t steps[] = {1, 7, 16, 17, 100, 3016, 100000};

    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    wc_buf_init(&b);
    for (int k = 0; k < 3; k++)
        build(&b, WC_FRAME_MESSAGE, payload, sizeof(payload));
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        wc_frame_reader r;
        int frames = 0;

        wc_frame_reader_init(&r, 4096);
        assert_int_equal(feed(&r, b.data, b.len, steps[s], payload, sizeof(payload), &frames),
                         WC_OK);
        assert_int_equal(frames, 3);
        wc_frame_reader_free(&r);
    }
    wc_buf_free(&b);
    assert_int_equal(wc_alloc_live_count(), 0);
}

static void expect_refused(const uint8_t *data, size_t len, uint32_t max, const char *detail)
{
    size_t steps[] = {1, 5, 1 << 20};

    for (size_t s = 0; s < 3; s++) {
        wc_frame_reader r;
        int frames = 0;
        wc_status st;

        wc_frame_reader_init(&r, max);
        st = feed(&r, data, len, steps[s], data + WC_FRAME_HEADER_SIZE,
                  (uint32_t)(len - WC_FRAME_HEADER_SIZE), &frames);
        assert_int_equal(st, WC_CORRUPTION);
        if (strstr(wc_last_error(), detail) == NULL)
            fail_msg("detail \"%s\" lacks \"%s\"", wc_last_error(), detail);
        assert_int_equal(frames, 0);
        wc_frame_reader_free(&r);
    }
}

static void test_damage_refused(void **state)
{
    uint8_t payload[200];
    wc_buf b;

    (void)state;
    memset(payload, 0xab, sizeof(payload));
    wc_buf_init(&b);
    build(&b, WC_FRAME_MESSAGE, payload, sizeof(payload));

    b.data[0] ^= 1;
    expect_refused(b.data, b.len, 4096, "bad frame magic");
    b.data[0] ^= 1;

    b.data[WC_FRAME_OFF_FLAGS] = 1;
    expect_refused(b.data, b.len, 4096, "unknown flags");
    b.data[WC_FRAME_OFF_FLAGS] = 0;

    /* the limit is checked on the header: a reader with a smaller limit allocates nothing */
    wc_alloc_fail_after(1, 1);
    expect_refused(b.data, b.len, 100, "frame of 200 bytes exceeds the limit of 100 bytes");
    wc_alloc_fail_after(0, 0);

    /* any flipped bit of the checksummed header bytes or of the payload */
    for (size_t i = 0; i < b.len; i++) {
        if (i < WC_FRAME_OFF_CHECKSUM && i != WC_FRAME_OFF_VERSION && i != WC_FRAME_OFF_TYPE)
            continue; /* magic, flags, length: refused above for their own reason */
        b.data[i] ^= 0x10;
        expect_refused(b.data, b.len, 4096, "checksum mismatch");
        b.data[i] ^= 0x10;
    }
    wc_buf_free(&b);
    assert_int_equal(wc_alloc_live_count(), 0);
}

static void test_oversize_length_field(void **state)
{
    uint8_t hdr[WC_FRAME_HEADER_SIZE];

    (void)state;
    /* a header announcing 4 GiB - 1 is refused with nothing allocated */
    wc_frame_header(hdr, WC_NET_PROTO_VERSION, WC_FRAME_MESSAGE, NULL, 0);
    wc_enc_u32(hdr + WC_FRAME_OFF_LENGTH, UINT32_MAX);
    {
        wc_frame_reader r;
        size_t used;
        wc_frame f;
        bool got;

        wc_frame_reader_init(&r, WC_FRAME_MAX_HANDSHAKE);
        assert_int_equal(wc_frame_read(&r, hdr, sizeof(hdr), &used, &f, &got), WC_CORRUPTION);
        assert_non_null(strstr(wc_last_error(), "4294967295 bytes exceeds"));
        wc_frame_reader_free(&r);
    }
    assert_int_equal(wc_alloc_live_count(), 0);
}

static void test_empty_payload(void **state)
{
    wc_buf b;
    wc_frame_reader r;
    size_t used;
    wc_frame f;
    bool got;

    (void)state;
    wc_buf_init(&b);
    build(&b, WC_FRAME_PROOF, NULL, 0);
    wc_frame_reader_init(&r, 10);
    assert_int_equal(wc_frame_read(&r, b.data, b.len, &used, &f, &got), WC_OK);
    assert_true(got);
    assert_int_equal(used, WC_FRAME_HEADER_SIZE);
    assert_int_equal(f.len, 0);
    assert_int_equal(f.type, WC_FRAME_PROOF);
    wc_frame_reader_free(&r);
    wc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_any_split),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_oversize_length_field),
        cmocka_unit_test(test_empty_payload),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
