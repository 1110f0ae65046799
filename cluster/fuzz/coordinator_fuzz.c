/*
 * coordinator_fuzz.c - libFuzzer target for the coordinator messages (types
 * 16..19 of the internode protocol, coordinator_format.h).
 *
 * The input is one message.  Whatever the bytes, wc_coord_decode must
 * return a status without crashing or reading out of bounds; when it
 * decodes, the result must encode in at most the input's bytes and that
 * encoding must decode and encode to the same bytes.  Then the bytes are
 * handed to a coordinator, as if a replica had sent them, while it waits
 * for a write and a read: first as they are, then (when they decode) with
 * the request id of the pending write and of the pending read, so that
 * acks and responses reach live requests.  Nothing may crash or leak, and
 * the coordinator must still finish both requests (by their timeouts at
 * the latest).
 *
 * It lives in cluster/fuzz/ (engine/fuzz/ may not include cluster headers);
 * make fuzz builds it with the cluster sources.  The replica store is a
 * stub that validates batches and returns an empty partition.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "coordinator_format.h"
#include "mutation.h"
#include "sim.h"

static void stub_apply(void *ctx, const uint8_t *batch, size_t len, wc_store_apply_done done,
                       void *arg)
{
    wc_batch_view v;

    (void)ctx;
    done(arg, wc_batch_parse(batch, len, &v) == WC_OK ? WC_OK : WC_CORRUPTION);
}

static void stub_read(void *ctx, const wc_store_read *r, wc_store_read_done done, void *arg)
{
    static const uint8_t empty[1] = {0};
    uint8_t digest[16] = {0};

    (void)ctx;
    (void)r;
    done(arg, WC_OK, empty, 1, digest);
}

static wc_status stub_reconcile(void *ctx, const wc_store_read *r, const wc_store_raw *raws,
                                size_t n, wc_buf *answer, wc_buf *repairs)
{
    (void)ctx;
    (void)r;
    (void)raws;
    (void)n;
    (void)repairs;
    wc_buf_put_u8(answer, 0);
    return wc_buf_status(answer);
}

static wc_status stub_append(void *ctx, wc_buf *acc, const uint8_t *raw, size_t len, uint64_t *rows)
{
    (void)ctx;
    (void)raw;
    (void)len;
    *rows = 0;
    if (acc->len == 0)
        wc_buf_put_u8(acc, 0);
    return wc_buf_status(acc);
}

static const wc_replica_store_ops stub_ops = {stub_apply, stub_read, stub_reconcile, stub_append};

static bool all_alive(void *ctx, const wc_ring_member *m)
{
    (void)ctx;
    (void)m;
    return true;
}

static wc_status rf2(void *ctx, uint32_t table_id, wc_replication *out)
{
    (void)ctx;
    (void)table_id;
    memset(out, 0, sizeof(*out));
    out->cls = WC_REPL_SIMPLE;
    out->replication_factor = 2;
    return WC_OK;
}

/* Node 1 only records the request ids node 0 sends it. */
typedef struct capture {
    uint64_t write_id, read_id;
} capture;

static void on_capture(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    capture *cp = ctx;
    wc_coord_msg m;

    (void)from;
    if (wc_coord_decode(msg, len, &m) != WC_OK)
        return;
    if (m.type == WC_COORD_MSG_MUTATION)
        cp->write_id = m.req_id;
    else if (m.type == WC_COORD_MSG_READ)
        cp->read_id = m.req_id;
}

static void on_node0(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc_coord_on_message(ctx, from, msg, len);
}

static void write_done(void *arg, const wc_coord_result *res)
{
    (void)res;
    (*(int *)arg)++;
}

static void read_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    (void)res;
    (void)data;
    (void)len;
    (*(int *)arg)++;
}

/* msg with its request id replaced by id (when it decodes). */
static void feed_as(wc_coord *c, const wc_addr *from, const uint8_t *data, size_t size, uint64_t id)
{
    wc_coord_msg m;
    wc_buf b;

    if (wc_coord_decode(data, size, &m) != WC_OK)
        return;
    m.req_id = id;
    wc_buf_init(&b);
    if (wc_coord_encode(&m, &b) == WC_OK)
        wc_coord_on_message(c, from, b.data, b.len);
    wc_buf_free(&b);
}

static void feed_coordinator(const uint8_t *data, size_t size)
{
    wc_sim *sim;
    wc_addr a[2];
    wc_env *e[2];
    wc_ring_member m[2];
    int64_t tokens[2] = {-1000, 1000};
    wc_ring *ring;
    wc_coord_options o;
    wc_coord *c;
    wc_batch_builder bb;
    wc_mutation *mu;
    const uint8_t *rec;
    size_t len;
    wc_store_read r;
    capture cp = {0, 0};
    int finished = 0;

    memset(m, 0, sizeof(m));
    if (wc_sim_create(1, NULL, &sim) != WC_OK)
        abort();
    for (int i = 0; i < 2; i++) {
        wc_addr_parse(i ? "10.0.0.2:7000" : "10.0.0.1:7000", &a[i]);
        e[i] = wc_sim_add_node(sim, &a[i]);
        m[i].host_id[0] = (uint8_t)(i + 1);
        m[i].addr = a[i];
        strcpy(m[i].dc, "dc1");
        strcpy(m[i].rack, "r1");
        m[i].tokens = &tokens[i];
        m[i].ntokens = 1;
    }
    if (wc_ring_build(m, 2, &ring) != WC_OK)
        abort();
    memset(&o, 0, sizeof(o));
    o.env = e[0];
    o.self_id[0] = 1;
    strcpy(o.self_dc, "dc1");
    o.store = (wc_replica_store){&stub_ops, NULL};
    o.is_alive = all_alive;
    o.replication = rf2;
    if (wc_coord_create(&o, &c) != WC_OK)
        abort();
    wc_coord_set_ring(c, ring);
    e[0]->handlers = (wc_env_handlers){on_node0, NULL, c};
    e[1]->handlers = (wc_env_handlers){on_capture, NULL, &cp};
    /* a pending ALL write and ALL read: node 1 never answers by itself */
    wc_batch_builder_init(&bb);
    mu = wc_batch_builder_begin(&bb, 7, "pk", 2);
    wc_mutation_delete_partition(mu, 1, 1);
    if (wc_batch_builder_end(&bb) != WC_OK || wc_batch_builder_finish(&bb, &rec, &len) != WC_OK)
        abort();
    wc_coord_write(c, 7, rec, len, WC_CL_ALL, 500, write_done, &finished);
    memset(&r, 0, sizeof(r));
    r.table_id = 7;
    r.pk = (const uint8_t *)"pk";
    r.pk_len = 2;
    r.start.unbounded = r.end.unbounded = true;
    wc_coord_read(c, &r, WC_CL_ALL, 500, read_done, &finished);
    wc_sim_run_for(sim, 50);
    wc_coord_on_message(c, &a[1], data, size);
    feed_as(c, &a[1], data, size, cp.write_id);
    feed_as(c, &a[1], data, size, cp.read_id);
    wc_sim_run_for(sim, 50);
    feed_as(c, &a[1], data, size, cp.read_id); /* a second phase may have begun */
    wc_sim_run_for(sim, 1000);
    if (finished != 2 || wc_coord_pending(c) != 0)
        abort(); /* a request was lost or never ended */
    wc_coord_destroy(c);
    wc_ring_unref(ring);
    wc_batch_builder_free(&bb);
    wc_sim_destroy(sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_coord_msg m, m2;
    wc_buf e1, e2;

    if (wc_coord_decode(data, size, &m) == WC_OK) {
        wc_buf_init(&e1);
        wc_buf_init(&e2);
        if (wc_coord_encode(&m, &e1) != WC_OK || wc_coord_decode(e1.data, e1.len, &m2) != WC_OK ||
            wc_coord_encode(&m2, &e2) != WC_OK || e1.len != e2.len ||
            memcmp(e1.data, e2.data, e1.len) != 0 || e1.len > size)
            abort();
        wc_buf_free(&e1);
        wc_buf_free(&e2);
    }
    feed_coordinator(data, size);
    return 0;
}
