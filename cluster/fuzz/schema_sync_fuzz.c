/*
 * schema_sync_fuzz.c - libFuzzer target for the schema messages (types
 * 48..63 of the internode protocol, schema_sync_format.h) and the schema
 * file.
 *
 * The input is one message.  Whatever the bytes, wc_schema_msg_decode must
 * return a status without crashing, leaking or reading out of bounds; when
 * it decodes, its encoding must decode and encode to the same bytes.  Then
 * the bytes are handed to a store that already holds a keyspace and a
 * table, as if a peer had sent them, twice (merging is idempotent: the
 * second time changes nothing); and they are tried as a schema file.
 *
 * It lives in cluster/fuzz/; make fuzz builds it with the cluster sources.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "schema_def.h"
#include "schema_sync.h"
#include "sim.h"

static void feed_store(const uint8_t *msg, size_t len)
{
    wc_sim *sim;
    wc_addr a0, a1;
    wc_env *e0;
    wc_schema_sync *s, *f;
    wc_replication r;
    wc_schema d;
    wc_buf def;
    uint8_t v1[WC_SCHEMA_VERSION_BYTES], v2[WC_SCHEMA_VERSION_BYTES];

    wc_addr_parse("10.0.0.1:7000", &a0);
    wc_addr_parse("10.0.0.2:7000", &a1);
    if (wc_sim_create(1, NULL, &sim) != WC_OK)
        abort();
    e0 = wc_sim_add_node(sim, &a0);
    if (e0 == NULL || wc_schema_sync_create(e0, NULL, NULL, NULL, 0, &s) != WC_OK)
        abort();
    wc_replication_default(&r);
    wc_schema_init(&d);
    d.keyspace = "ks";
    d.table = "t";
    wc_buf_init(&def);
    if (wc_schema_sync_create_keyspace(s, "ks", &r, "") != WC_OK ||
        wc_schema_encode(&d, &def) != WC_OK ||
        wc_schema_sync_create_table(s, def.data, def.len, NULL) != WC_OK)
        abort();
    wc_schema_sync_on_message(s, &a1, msg, len);
    wc_schema_sync_version(s, v1);
    wc_schema_sync_on_message(s, &a1, msg, len);
    wc_schema_sync_version(s, v2);
    if (memcmp(v1, v2, sizeof(v1)) != 0)
        abort(); /* the same push merged twice changed the store again */
    wc_sim_run_for(sim, 600);
    if (wc_schema_sync_create(e0, NULL, NULL, msg, len, &f) == WC_OK)
        wc_schema_sync_destroy(f);
    wc_buf_free(&def);
    wc_schema_sync_destroy(s);
    wc_sim_destroy(sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_schema_msg m, m2;
    wc_buf e1, e2;

    if (wc_schema_msg_decode(data, size, &m) == WC_OK) {
        wc_buf_init(&e1);
        wc_buf_init(&e2);
        if (wc_schema_msg_encode(&m, &e1) != WC_OK ||
            wc_schema_msg_decode(e1.data, e1.len, &m2) != WC_OK ||
            wc_schema_msg_encode(&m2, &e2) != WC_OK || e1.len != e2.len ||
            memcmp(e1.data, e2.data, e1.len) != 0)
            abort();
        wc_schema_msg_free(&m2);
        wc_buf_free(&e1);
        wc_buf_free(&e2);
    }
    wc_schema_msg_free(&m);
    feed_store(data, size);
    return 0;
}
