/*
 * hints_fuzz.c - libFuzzer target for hinted handoff input: HINT / HINT_ACK
 * messages and hint segment files (hints_format.h).
 *
 * The first byte chooses.  Even: the rest is a message a peer sent; it is
 * handed to the receiving side of a hint delivery (on a small simulation),
 * whose apply callback checks that what it is given lies inside the
 * message.  Whatever the bytes, the receiver must not crash, leak or read
 * out of bounds, and must still apply a well-formed HINT afterwards.  Odd:
 * the rest is the content of a segment file; a store is opened over it and
 * every hint read back: open and read must return statuses, never crash,
 * and every hint served must pass its checksum (checked by the store).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "hint_delivery.h"
#include "hints.h"
#include "hints_format.h"
#include "msg_types.h"
#include "sim.h"

typedef struct fuzz_rx {
    const uint8_t *msg;
    size_t len;
    int applied;
} fuzz_rx;

static wc_status fuzz_apply(void *arg, const wc_addr *from, const uint8_t *table, size_t table_len,
                            const uint8_t *batch, size_t batch_len, int64_t created_us)
{
    fuzz_rx *rx = arg;

    (void)from;
    (void)created_us;
    if (rx->msg != NULL &&
        (table < rx->msg || table + table_len > rx->msg + rx->len || batch < rx->msg ||
         batch + batch_len > rx->msg + rx->len || batch_len == 0))
        abort();
    rx->applied++;
    return WC_OK;
}

static void fuzz_message(const uint8_t *data, size_t size)
{
    static const uint8_t self[WC_HOST_ID_LEN] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    uint8_t good[WC_HINT_MSG_FIXED + 4 + 1];
    wc_hint_delivery_options o;
    wc_hint_delivery *hd;
    wc_sim *sim;
    wc_addr a0, a1;
    wc_env *e0;
    fuzz_rx rx = {data, size, 0};
    int before;

    wc_addr_parse("10.0.0.1:7000", &a0);
    wc_addr_parse("10.0.0.2:7000", &a1);
    if (wc_sim_create(1, NULL, &sim) != WC_OK || (e0 = wc_sim_add_node(sim, &a0)) == NULL ||
        wc_sim_add_node(sim, &a1) == NULL)
        abort();
    wc_hint_delivery_options_default(&o);
    memcpy(o.self_host_id, self, WC_HOST_ID_LEN);
    o.apply = fuzz_apply;
    o.apply_arg = &rx;
    if (wc_hint_delivery_new(e0, NULL, &o, &hd) != WC_OK)
        abort();
    wc_hint_delivery_on_message(hd, &a1, data, size);
    wc_hint_delivery_on_message(hd, &a1, data, size); /* repeats are normal */
    /* a new session's first hint is still applied */
    good[0] = WC_MSG_HINT;
    memcpy(good + 1, self, WC_HOST_ID_LEN);
    wc_enc_u64(good + 17, 0x5eed5eed5eed5eedull);
    wc_enc_u64(good + 25, 1);
    wc_enc_u64(good + 33, 1);
    wc_enc_u32(good + 41, 0);
    wc_enc_u32(good + 45, 5);
    memcpy(good + 49, "batch", 5);
    before = rx.applied;
    rx.msg = good;
    rx.len = sizeof(good);
    wc_hint_delivery_on_message(hd, &a1, good, sizeof(good));
    if (rx.applied != before + 1)
        abort();
    wc_hint_delivery_free(hd);
    wc_sim_destroy(sim);
}

static char dir[64]; /* the scratch directory of segment inputs */

static void remove_dir(void)
{
    rmdir(dir);
}

static void fuzz_segment(const uint8_t *data, size_t size)
{
    char path[128];
    wc_hints_options o;
    wc_hints *h;
    uint8_t id[WC_HOST_ID_LEN];
    FILE *f;

    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/hints_fuzz.XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        atexit(remove_dir);
    }
    memset(id, 0xab, sizeof(id));
    snprintf(path, sizeof(path), "%s/abababababababababababababababab-1.hints", dir);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    wc_hints_options_default(&o);
    o.dir = dir;
    if (wc_hints_open(&o, &h) == WC_OK) {
        wc_hint_pos pos;
        wc_buf b;
        wc_hint hint;
        int n = 0;

        wc_buf_init(&b);
        if (wc_hints_start(h, id, &pos) == WC_OK)
            while (n++ < 100000 && wc_hints_read(h, id, pos, 0, &b, &hint) == WC_OK) {
                if (hint.batch_len == 0 || wc_hint_pos_cmp(hint.next, pos) <= 0)
                    abort();
                pos = hint.next;
            }
        wc_buf_free(&b);
        wc_hints_delete_target(h, id);
        wc_hints_close(h);
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t live = wc_alloc_live_count();

    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_segment(data + 1, size - 1);
    else
        fuzz_message(data + 1, size - 1);
    if (wc_alloc_live_count() != live)
        abort(); /* leaked */
    return 0;
}
