/*
 * schema_def_fuzz.c - libFuzzer target for the table-schema decoder.
 *
 * The input is an encoded schema (the magic and format bytes are prepended
 * when the input lacks them, so the fuzzer reaches the fields at once).
 * Whatever the bytes, wc_schema_decode must return a status without
 * crashing, leaking or reading out of bounds.  When it decodes, encoding the
 * result and decoding that must give the same encoding again: a field the
 * decoder reads differently from how the encoder writes it shows up as a
 * mismatch.  Inputs that start with "replication=" also go through the
 * converter of the old options text, whose output must decode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "schema_def.h"
#include "schema_def_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_schema a, b;
    wc_buf in, e1, e2;

    if (size >= 12 && memcmp(data, "replication=", 12) == 0) {
        wc_buf_init(&e1);
        if (wc_schema_from_text(data, size, 1, &e1) == WC_OK && e1.len > 0) {
            if (wc_schema_decode(e1.data, e1.len, &b) != WC_OK)
                abort();
            wc_schema_free(&b);
        }
        wc_buf_free(&e1);
        return 0;
    }
    wc_buf_init(&in);
    if (size < 5 || memcmp(data, "WCSD", 4) != 0) {
        wc_buf_put_u32(&in, WC_SCHEMA_MAGIC);
        wc_buf_put_u8(&in, WC_SCHEMA_FORMAT);
    }
    wc_buf_append(&in, data, size);
    if (in.failed)
        abort();
    if (wc_schema_decode(in.data, in.len, &a) == WC_OK) {
        wc_buf_init(&e1);
        wc_buf_init(&e2);
        if (wc_schema_encode(&a, &e1) != WC_OK || wc_schema_decode(e1.data, e1.len, &b) != WC_OK ||
            wc_schema_encode(&b, &e2) != WC_OK || e1.len != e2.len ||
            memcmp(e1.data, e2.data, e1.len) != 0)
            abort();
        wc_schema_free(&b);
        wc_buf_free(&e1);
        wc_buf_free(&e2);
    }
    wc_schema_free(&a);
    wc_buf_free(&in);
    return 0;
}
