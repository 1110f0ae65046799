/*
 * gossip_fuzz.c - libFuzzer target for the gossip messages (types 1..4 of
 * the internode protocol, gossip_format.h).
 *
 * The input is one message.  Whatever the bytes, wc_gossip_decode must
 * return a status without crashing, leaking or reading out of bounds; when
 * it decodes, the result must encode in at most the input's bytes (varints
 * shortest) and that encoding must decode and encode to the same bytes: a
 * field read differently from how it is written shows up as a mismatch.  Then the
 * same bytes are handed to a gossiper that already knows two peers, as if a
 * peer had sent them: applying any state, digest or shutdown must not crash
 * or leak, and the gossiper must still answer a well-formed SYN.
 *
 * It lives in cluster/fuzz/ (engine/fuzz/ may not include cluster headers:
 * make check-layers); make fuzz builds it with the cluster sources.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "gossip.h"
#include "sim.h"

static void on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    (void)from;
    (void)msg;
    (void)len;
    (*(int *)ctx)++;
}

/* Feeds msg to a gossiper on node 0 of a small simulation, from node 1. */
static void feed_gossiper(const uint8_t *msg, size_t len)
{
    wc_sim *sim;
    wc_addr a0, a1;
    wc_env *e0, *e1;
    wc_gossip *g0, *g1;
    wc_gossip_options o;
    int answers = 0;

    wc_addr_parse("10.0.0.1:7000", &a0);
    wc_addr_parse("10.0.0.2:7000", &a1);
    if (wc_sim_create(1, NULL, &sim) != WC_OK)
        abort();
    e0 = wc_sim_add_node(sim, &a0);
    e1 = wc_sim_add_node(sim, &a1);
    wc_gossip_options_default(&o);
    o.cluster_name = "fuzz";
    o.interval_ms = 100; /* fewer events per input */
    o.seeds = &a0;
    o.nseeds = 1;
    if (wc_gossip_create(e0, &o, &g0) != WC_OK || wc_gossip_create(e1, &o, &g1) != WC_OK)
        abort();
    wc_gossip_set_local(g1, WC_GOSSIP_STATUS, "normal", 6);
    e0->handlers = (wc_env_handlers){wc_gossip_on_message, NULL, g0};
    e1->handlers = (wc_env_handlers){wc_gossip_on_message, NULL, g1};
    wc_gossip_start(g0);
    wc_gossip_start(g1);
    wc_sim_run_for(sim, 400); /* g0 knows g1 now */
    wc_gossip_on_message(g0, &a1, msg, len);
    wc_gossip_on_message(g0, &a1, msg, len); /* twice: duplicates are normal */
    /* still answers: g1's next SYN gets an ACK, counted on node 1 */
    e1->handlers = (wc_env_handlers){on_message, NULL, &answers};
    wc_sim_run_for(sim, 600);
    wc_gossip_destroy(g0);
    wc_gossip_destroy(g1);
    wc_sim_destroy(sim);
    if (answers == 0)
        abort(); /* the message left the gossiper deaf */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_gossip_msg m, m2;
    wc_buf e1, e2;

    if (wc_gossip_decode(data, size, &m) == WC_OK) {
        wc_buf_init(&e1);
        wc_buf_init(&e2);
        if (wc_gossip_encode(&m, &e1) != WC_OK || wc_gossip_decode(e1.data, e1.len, &m2) != WC_OK ||
            wc_gossip_encode(&m2, &e2) != WC_OK || e1.len != e2.len ||
            memcmp(e1.data, e2.data, e1.len) != 0 || e1.len > size)
            abort();
        wc_gossip_msg_free(&m2);
        wc_buf_free(&e1);
        wc_buf_free(&e2);
    }
    wc_gossip_msg_free(&m);
    feed_gossiper(data, size);
    return 0;
}
