/*
 * raw_fuzz.c - libFuzzer target for the decoder of raw read results (raw.h).
 *
 * The first byte picks the read (limit 0..7, reverse, token range or
 * partition "p"); the rest is split in two raw results at the second byte.
 * Whatever the bytes, wc_raw_reconcile, wc_raw_append, wc_raw_last_row and
 * wc_raw_digest must return without crashing, leaking or reading out of
 * bounds.  When reconcile succeeds, its answer must itself be a raw result
 * that reconciles with nothing to repair, and that keeps at most limit row
 * entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "raw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_store_read r;
    wc_store_raw in[2];
    wc_buf ans, again, rep[2], rep2[1], acc, last;
    uint64_t rows;
    size_t split;

    if (size < 2)
        return 0;
    memset(&r, 0, sizeof(r));
    r.table_id = 7;
    r.limit = data[0] & 7;
    r.token_range = (data[0] & 8) != 0;
    r.reverse = !r.token_range && (data[0] & 16) != 0;
    r.token_start = INT64_MIN;
    r.token_end = INT64_MAX;
    r.pk = (const uint8_t *)"p"; /* single-partition reads are of partition "p" */
    r.pk_len = r.token_range ? 0 : 1;
    if (r.token_range)
        r.pk = NULL;
    r.start.unbounded = true;
    r.end.unbounded = true;
    split = data[1] <= size - 2 ? data[1] : size - 2;
    in[0] = (wc_store_raw){data + 2, split};
    in[1] = (wc_store_raw){data + 2 + split, size - 2 - split};
    wc_buf_init(&ans);
    wc_buf_init(&again);
    wc_buf_init(&acc);
    wc_buf_init(&last);
    for (int i = 0; i < 2; i++)
        wc_buf_init(&rep[i]);
    wc_buf_init(&rep2[0]);
    if (wc_raw_reconcile(&r, in, 2, &ans, rep) == WC_OK) {
        in[0] = (wc_store_raw){ans.data, ans.len};
        if (wc_raw_reconcile(&r, in, 1, &again, rep2) != WC_OK || rep2[0].len != 0 ||
            again.len != ans.len || memcmp(again.data, ans.data, ans.len) != 0)
            abort();
        if (wc_raw_last_row(ans.data, ans.len, &rows, &last) != WC_OK ||
            (r.limit && rows > r.limit))
            abort();
    }
    (void)wc_raw_append(&acc, data + 2, split, &rows);
    (void)wc_raw_append(&acc, data + 2 + split, size - 2 - split, &rows);
    (void)wc_raw_last_row(data + 2, size - 2, &rows, &last);
    {
        uint8_t d[WC_RAW_DIGEST_LEN];

        wc_raw_digest(data + 2, split, d);
    }
    wc_buf_free(&ans);
    wc_buf_free(&again);
    wc_buf_free(&acc);
    wc_buf_free(&last);
    for (int i = 0; i < 2; i++)
        wc_buf_free(&rep[i]);
    wc_buf_free(&rep2[0]);
    return 0;
}
