/*
 * coordinator_test.c - the pieces of the coordinator: the codec of its
 * messages (round trip, truncation at every length, every bound), the
 * grouping of a batch by replica set (each replica gets exactly the
 * mutations of its partitions, nothing else), ack counting with failing
 * replicas (fail fast, not at the timeout), timeouts with a slow store,
 * refused levels, a node without a ring, stale and duplicate answers, and
 * destroy with requests in flight.  Simulator-based ones print their seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "coordinator_format.h"
#include "coordsim.h"
#include "mutation.h"

#define TS(n) (1767225600000000LL + (int64_t)(n))

/* ---------------------------------------------------------------- codec */

static void roundtrip(const wc_coord_msg *m)
{
    wc_buf a, b;
    wc_coord_msg d;

    wc_buf_init(&a);
    wc_buf_init(&b);
    assert_int_equal(wc_coord_encode(m, &a), WC_OK);
    assert_int_equal(wc_coord_decode(a.data, a.len, &d), WC_OK);
    assert_int_equal(d.type, m->type);
    assert_true(d.req_id == m->req_id);
    assert_int_equal(wc_coord_encode(&d, &b), WC_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* every shorter prefix is refused, never read past */
    for (size_t n = 0; n < a.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);

        memcpy(copy, a.data, n);
        assert_int_not_equal(wc_coord_decode(copy, n, &d), WC_OK);
        free(copy);
    }
    /* a trailing byte is refused */
    wc_buf_put_u8(&a, 0);
    assert_int_equal(wc_coord_decode(a.data, a.len, &d), WC_CORRUPTION);
    wc_buf_free(&a);
    wc_buf_free(&b);
}

static void test_codec_roundtrip(void **state)
{
    uint8_t batch[5] = {1, 2, 3, 4, 5};
    wc_coord_msg m;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.type = WC_COORD_MSG_MUTATION;
    m.req_id = 1234567890123ull;
    m.batch = batch;
    m.batch_len = sizeof(batch);
    roundtrip(&m);
    memset(&m, 0, sizeof(m));
    m.type = WC_COORD_MSG_MUTATION_ACK;
    m.req_id = 7;
    m.status = WC_IO_ERROR;
    roundtrip(&m);
    memset(&m, 0, sizeof(m));
    m.type = WC_COORD_MSG_READ;
    m.req_id = 9;
    m.mode = WC_COORD_READ_DIGEST;
    m.read.table_id = 42;
    m.read.pk = (const uint8_t *)"pk";
    m.read.pk_len = 2;
    m.read.start.key = (const uint8_t *)"a";
    m.read.start.len = 1;
    m.read.start.inclusive = true;
    m.read.end.unbounded = true;
    m.read.reverse = true;
    m.read.limit = 10;
    m.read.now_sec = 1767225600;
    roundtrip(&m);
    /* a token-range read: no partition key, two tokens */
    m.read.pk = NULL;
    m.read.pk_len = 0;
    m.read.reverse = false;
    m.read.token_range = true;
    m.read.token_start = INT64_MIN;
    m.read.token_end = -5;
    roundtrip(&m);
    memset(&m, 0, sizeof(m));
    m.type = WC_COORD_MSG_READ_RESPONSE;
    m.req_id = 10;
    m.mode = WC_COORD_READ_DATA;
    memset(m.digest, 0xab, sizeof(m.digest));
    m.data = batch;
    m.data_len = 3;
    roundtrip(&m);
}

static void test_codec_bounds(void **state)
{
    wc_buf b;
    wc_coord_msg d;
    uint8_t *big = calloc(70000, 1);

    (void)state;
    wc_buf_init(&b);
    /* unknown types */
    wc_buf_put_u8(&b, WC_COORD_MSG_READ_RESPONSE + 1);
    wc_buf_put_varint(&b, 1);
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_INVALID_ARGUMENT);
    wc_buf_reset(&b);
    wc_buf_put_u8(&b, 0);
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_INVALID_ARGUMENT);
    /* an ack status past the last wc_status */
    wc_buf_reset(&b);
    wc_buf_put_u8(&b, WC_COORD_MSG_MUTATION_ACK);
    wc_buf_put_varint(&b, 1);
    wc_buf_put_u8(&b, WC_COORD_MAX_STATUS + 1);
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_CORRUPTION);
    /* a MUTATION whose batch length runs past the message */
    wc_buf_reset(&b);
    wc_buf_put_u8(&b, WC_COORD_MSG_MUTATION);
    wc_buf_put_varint(&b, 1);
    wc_buf_put_varint(&b, 1u << 30);
    wc_buf_append(&b, "abc", 3);
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_CORRUPTION);
    /* a READ with a partition key over 65535 bytes */
    wc_buf_reset(&b);
    wc_buf_put_u8(&b, WC_COORD_MSG_READ);
    wc_buf_put_varint(&b, 1);
    wc_buf_put_u8(&b, WC_COORD_READ_DATA);
    wc_buf_put_u32(&b, 7);
    wc_buf_put_bytes(&b, big, 65536);
    wc_buf_put_u8(&b, WC_COORD_READF_START_UNBOUNDED | WC_COORD_READF_END_UNBOUNDED);
    wc_buf_put_varint(&b, 0);
    wc_buf_put_varint(&b, 0);
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_CORRUPTION);
    /* the same with 65535 bytes decodes */
    wc_buf_reset(&b);
    wc_buf_put_u8(&b, WC_COORD_MSG_READ);
    wc_buf_put_varint(&b, 1);
    wc_buf_put_u8(&b, WC_COORD_READ_DATA);
    wc_buf_put_u32(&b, 7);
    wc_buf_put_bytes(&b, big, 65535);
    wc_buf_put_u8(&b, WC_COORD_READF_START_UNBOUNDED | WC_COORD_READF_END_UNBOUNDED);
    wc_buf_put_varint(&b, 0);
    wc_buf_put_varint(&b, 0);
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_OK);
    assert_int_equal(d.read.pk_len, 65535);
    /* unknown flags, a bound both unbounded and inclusive, an unknown mode */
    b.data[b.len - 3] = 0x40;
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_CORRUPTION);
    b.data[b.len - 3] =
        WC_COORD_READF_START_UNBOUNDED | WC_COORD_READF_START_INCL | WC_COORD_READF_END_UNBOUNDED;
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_CORRUPTION);
    b.data[b.len - 3] = WC_COORD_READF_START_UNBOUNDED | WC_COORD_READF_END_UNBOUNDED;
    b.data[2] = 2;
    assert_int_equal(wc_coord_decode(b.data, b.len, &d), WC_CORRUPTION);
    wc_buf_free(&b);
    free(big);
}

/* ---------------------------------------------------------------- grouping */

static void test_batch_grouped_by_replica_set(void **state)
{
    csim *cs = cs_small(31, 6, 2);
    wc_batch_builder b;
    const uint8_t *rec;
    size_t len;
    cs_wait w;
    char pk[16];

    (void)state;
    wc_batch_builder_init(&b);
    for (int k = 0; k < 40; k++) {
        wc_mutation *m;
        wc_rowb *rb;
        wc_cell c = {.column = 1, .ts = TS(k), .value = (const uint8_t *)pk};

        snprintf(pk, sizeof(pk), "p%d", k);
        c.len = strlen(pk);
        m = wc_batch_builder_begin(&b, CS_TABLE, pk, strlen(pk));
        rb = wc_mutation_row_begin(m, false, "c", 1);
        wc_rowb_cell(rb, &c);
        wc_mutation_row_end(m);
        assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    }
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[0].coord, CS_TABLE, rec, len, WC_CL_ALL, 2000, cs_write_done, &w);
    cs_wait_for(cs, &w, 3000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "write: %s", w.res.detail);
    /* every partition is on exactly its two replicas */
    for (int k = 0; k < 40; k++) {
        uint32_t reps[6];
        size_t nr;

        snprintf(pk, sizeof(pk), "p%d", k);
        nr = cs_replicas(cs, pk, reps, 6);
        SIM_CHECK(cs->seed, nr == 2, "replicas %zu", nr);
        for (uint32_t i = 0; i < 6; i++) {
            bool is_rep = reps[0] == i || reps[1] == i;

            SIM_CHECK(cs->seed, cs_holds(cs, i, pk, "c", pk) == is_rep, "node %u %s partition %s",
                      i, is_rep ? "lacks" : "got", pk);
        }
    }
    /* one apply per replica that holds any of the partitions: sub-batches, not one per mutation */
    for (uint32_t i = 0; i < 6; i++)
        SIM_CHECK(cs->seed, model_store_applies(cs->nodes[i].store) <= 1,
                  "node %u applied %" PRIu64, i, model_store_applies(cs->nodes[i].store));
    wc_batch_builder_free(&b);
    cs_free(cs);
}

static void test_mutation_of_another_table_refused(void **state)
{
    csim *cs = cs_small(32, 3, 3);
    wc_buf rec;
    cs_wait w;

    (void)state;
    wc_buf_init(&rec);
    model_batch_one(&rec, CS_TABLE + 1, "pk", "c", "v", TS(1));
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[0].coord, CS_TABLE, rec.data, rec.len, WC_CL_ONE, 100, cs_write_done,
                   &w);
    assert_true(w.done);
    assert_int_equal(w.res.status, WC_INVALID_ARGUMENT);
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[0].coord, CS_TABLE + 1, rec.data, rec.len, WC_CL_ONE, 100,
                   cs_write_done, &w);
    assert_true(w.done);
    assert_int_equal(w.res.status, WC_NOT_FOUND);
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[0].coord, CS_TABLE, (const uint8_t *)"junk", 4, WC_CL_ONE, 100,
                   cs_write_done, &w);
    assert_true(w.done);
    assert_int_equal(w.res.status, WC_INVALID_ARGUMENT);
    wc_buf_free(&rec);
    cs_free(cs);
}

/* ---------------------------------------------------------------- ack counting */

static void test_failing_replicas_fail_fast(void **state)
{
    csim *cs = cs_small(33, 3, 3);
    cs_wait w;
    uint64_t t0;

    (void)state;
    /* one replica fails: QUORUM still met */
    model_store_fail_applies(cs->nodes[1].store, WC_IO_ERROR, 1);
    cs_write_async(cs, 0, "k1", "c", "v", TS(1), WC_CL_QUORUM, 5000, &w);
    cs_wait_for(cs, &w, 6000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "one failure: %s", w.res.detail);
    /* two fail: the write ends with their status as soon as they answer */
    model_store_fail_applies(cs->nodes[1].store, WC_NO_SPACE, 1);
    model_store_fail_applies(cs->nodes[2].store, WC_NO_SPACE, 1);
    t0 = wc_sim_now(cs->sim);
    cs_write_async(cs, 0, "k2", "c", "v", TS(2), WC_CL_QUORUM, 5000, &w);
    cs_wait_for(cs, &w, 6000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_NO_SPACE, "two failures: %s (%s)",
              wc_status_name(w.res.status), w.res.detail);
    SIM_CHECK(cs->seed, wc_sim_now(cs->sim) - t0 < 100, "failed after %" PRIu64 " ms, not fast",
              wc_sim_now(cs->sim) - t0);
    SIM_CHECK(cs->seed, w.res.acked == 1 && w.res.required == 2, "acked %u of %u", w.res.acked,
              w.res.required);
    SIM_CHECK(cs->seed, strstr(w.res.detail, "2 replicas failed") != NULL, "detail '%s'",
              w.res.detail);
    /* the failed replicas get hints */
    wc_sim_run_for(cs->sim, 100);
    SIM_CHECK(cs->seed, cs->hint_target[1] == 2 && cs->hint_target[2] == 1, "hints %u %u",
              cs->hint_target[1], cs->hint_target[2]);
    cs_free(cs);
}

static void test_slow_store_times_out(void **state)
{
    csim *cs = cs_small(34, 1, 1);
    cs_wait w;
    char v[16];
    wc_coord_result res;

    (void)state;
    model_store_set_delay(cs->nodes[0].store, cs->nodes[0].env, 300);
    cs_write_async(cs, 0, "k", "c", "v", TS(1), WC_CL_ONE, 100, &w);
    assert_false(w.done); /* the store answers later, on the loop */
    cs_wait_for(cs, &w, 1000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_TIMEOUT, "status %s",
              wc_status_name(w.res.status));
    SIM_CHECK(cs->seed, w.res.acked == 0 && w.res.required == 1, "acked %u of %u", w.res.acked,
              w.res.required);
    SIM_CHECK(cs->seed, strstr(w.res.detail, "timed out after 100 ms: 0 of 1 replicas") != NULL,
              "detail '%s'", w.res.detail);
    wc_sim_run_for(cs->sim, 500); /* the late completion finds no request */
    /* with a longer timeout the asynchronous store serves writes and reads */
    cs_write_async(cs, 0, "k", "c", "w", TS(2), WC_CL_ONE, 1000, &w);
    cs_wait_for(cs, &w, 2000);
    SIM_CHECK(cs->seed, w.res.status == WC_OK, "write: %s", w.res.detail);
    res = cs_read(cs, 0, "k", "c", WC_CL_ONE, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, "w") == 0, "read '%s' %s", v, res.detail);
    SIM_CHECK(cs->seed, wc_coord_pending(cs->nodes[0].coord) == 0, "requests left");
    cs_free(cs);
}

/* A slice, in reverse, with a limit: the same rows from any coordinator, also after repair. */
static void test_slice_reverse_limit(void **state)
{
    csim *cs = cs_small(39, 3, 3);
    int group[3] = {0, 0, 1};
    char ck[8], rows[64];
    wc_store_read r;
    cs_wait w;

    (void)state;
    for (int i = 1; i <= 5; i++) {
        snprintf(ck, sizeof(ck), "c%d", i);
        if (i == 5) /* the newest row misses node 2 */
            wc_sim_partition(cs->sim, group, 3);
        cs_write(cs, 0, "p", ck, ck, TS(i), WC_CL_QUORUM);
    }
    wc_sim_run_for(cs->sim, 3000);
    wc_sim_heal(cs->sim);
    memset(&r, 0, sizeof(r));
    r.table_id = CS_TABLE;
    r.pk = (const uint8_t *)"p";
    r.pk_len = 1;
    r.start.key = (const uint8_t *)"c2";
    r.start.len = 2;
    r.start.inclusive = true;
    r.end.unbounded = true;
    r.reverse = true;
    r.limit = 2;
    for (uint32_t node = 0; node < 3; node++) {
        memset(&w, 0, sizeof(w));
        wc_coord_read(cs->nodes[node].coord, &r, WC_CL_ALL, 1000, cs_read_done, &w);
        cs_wait_for(cs, &w, 2000);
        model_raw_rows(w.data.data, w.data.len, rows, sizeof(rows));
        SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "read: %s", w.res.detail);
        SIM_CHECK(cs->seed, strcmp(rows, "c5,c4") == 0, "node %u read rows '%s'", node, rows);
        wc_buf_free(&w.data);
    }
    SIM_CHECK(cs->seed, cs_holds(cs, 2, "p", "c5", "c5"), "node 2 not repaired");
    cs_free(cs);
}

/* Every store answers later, on the loop: writes, digest reads and repairs still work. */
static void test_asynchronous_stores(void **state)
{
    csim *cs = cs_small(40, 3, 3);
    int group[3] = {0, 0, 1};
    char v[16];
    wc_coord_result res;

    (void)state;
    cs->hints_on = false;
    for (uint32_t i = 0; i < 3; i++)
        model_store_set_delay(cs->nodes[i].store, cs->nodes[i].env, 5);
    wc_sim_partition(cs->sim, group, 3);
    res = cs_write(cs, 0, "a", "c", "v1", TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "write: %s", res.detail);
    wc_sim_run_for(cs->sim, 3000);
    wc_sim_heal(cs->sim);
    res = cs_read(cs, 2, "a", "c", WC_CL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, "v1") == 0, "read '%s': %s", v,
              res.detail);
    SIM_CHECK(cs->seed, res.repairs == 1 && cs_holds(cs, 2, "a", "c", "v1"), "repairs %u",
              res.repairs);
    wc_sim_run_for(cs->sim, 100);
    for (uint32_t i = 0; i < 3; i++)
        SIM_CHECK(cs->seed, wc_coord_pending(cs->nodes[i].coord) == 0, "requests left");
    cs_free(cs);
}

/* ---------------------------------------------------------------- refusals and lifecycle */

static void test_refused_levels_and_no_ring(void **state)
{
    csim *cs = cs_small(35, 3, 3);
    cs_wait w;
    char v[16];
    wc_coord_result res;

    (void)state;
    cs_write_async(cs, 0, "k", "c", "v", TS(1), WC_CL_SERIAL, 100, &w);
    assert_true(w.done);
    assert_int_equal(w.res.status, WC_INVALID_ARGUMENT);
    assert_non_null(strstr(w.res.detail, "lightweight transactions"));
    cs_read_async(cs, 0, "k", WC_CL_ANY, 100, &w);
    assert_true(w.done);
    assert_int_equal(w.res.status, WC_INVALID_ARGUMENT);
    wc_buf_free(&w.data);
    cs_write(cs, 0, "k", "c", "v", TS(1), WC_CL_ALL);
    /* a SERIAL read is a QUORUM read */
    res = cs_read(cs, 1, "k", "c", WC_CL_SERIAL, v, sizeof(v));
    assert_int_equal(res.status, WC_OK);
    assert_string_equal(v, "v");
    wc_coord_set_ring(cs->nodes[0].coord, NULL);
    cs_write_async(cs, 0, "k", "c", "v", TS(1), WC_CL_ONE, 100, &w);
    assert_true(w.done);
    assert_int_equal(w.res.status, WC_UNAVAILABLE);
    assert_string_equal(w.res.detail, "this node has no token ring yet");
    cs_free(cs);
}

static void test_destroy_with_requests_in_flight(void **state)
{
    csim *cs = cs_small(36, 3, 3);
    int group[3] = {0, 1, 1};
    cs_wait w, r;

    (void)state;
    wc_sim_partition(cs->sim, group, 3);
    cs_write_async(cs, 0, "k", "c", "v", TS(1), WC_CL_ALL, 1000, &w);
    cs_read_async(cs, 0, "k", WC_CL_ALL, 1000, &r);
    wc_sim_run_for(cs->sim, 50);
    assert_false(w.done);
    assert_int_equal(wc_coord_pending(cs->nodes[0].coord), 2);
    wc_sim_crash(cs->sim, cs->nodes[0].env); /* destroys the coordinator */
    assert_true(w.done && r.done);
    assert_int_equal(w.res.status, WC_UNAVAILABLE);
    assert_int_equal(r.res.status, WC_UNAVAILABLE);
    assert_string_equal(w.res.detail, "coordinator stopped");
    wc_buf_free(&r.data);
    cs_free(cs);
}

static void test_stale_and_malformed_answers(void **state)
{
    csim *cs = cs_small(37, 3, 3);
    wc_coord_msg m;
    wc_buf b;
    wc_coord_stats st;
    const wc_addr *from = &cs->nodes[1].env->self;

    (void)state;
    wc_buf_init(&b);
    memset(&m, 0, sizeof(m));
    m.type = WC_COORD_MSG_MUTATION_ACK;
    m.req_id = 99; /* no such request */
    assert_int_equal(wc_coord_encode(&m, &b), WC_OK);
    assert_true(wc_coord_on_message(cs->nodes[0].coord, from, b.data, b.len));
    assert_true(wc_coord_on_message(cs->nodes[0].coord, from, b.data, 1)); /* truncated */
    b.data[0] = 1; /* gossip's range: not consumed */
    assert_false(wc_coord_on_message(cs->nodes[0].coord, from, b.data, b.len));
    wc_coord_get_stats(cs->nodes[0].coord, &st);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(wc_coord_pending(cs->nodes[0].coord), 0);
    wc_buf_free(&b);
    cs_free(cs);
}

static void test_duplicated_messages(void **state)
{
    uint64_t seed = simtest_seed(38);
    wc_sim_options so;
    wc_replication r;
    csim *cs;
    cs_wait w;
    char v[16], pk[16];
    wc_coord_result res;

    (void)state;
    printf("seed=%" PRIu64 "\n", seed);
    wc_sim_options_default(&so);
    so.duplicate = 0.5;
    cs_simple(&r, 3);
    cs = cs_new(seed, 3, NULL, &r, &so);
    for (int k = 0; k < 20; k++) {
        snprintf(pk, sizeof(pk), "d%d", k);
        cs_write_async(cs, (uint32_t)k % 3, pk, "c", pk, TS(k), WC_CL_ALL, 1000, &w);
        cs_wait_for(cs, &w, 2000);
        SIM_CHECK(cs->seed, w.res.status == WC_OK && w.res.acked == 3, "acked %u: %s", w.res.acked,
                  w.res.detail);
        res = cs_read(cs, (uint32_t)(k + 1) % 3, pk, "c", WC_CL_ALL, v, sizeof(v));
        SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, pk) == 0, "read '%s'", v);
    }
    wc_sim_run_for(cs->sim, 2000);
    for (uint32_t i = 0; i < 3; i++)
        SIM_CHECK(cs->seed, wc_coord_pending(cs->nodes[i].coord) == 0, "requests left");
    cs_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_bounds),
        cmocka_unit_test(test_batch_grouped_by_replica_set),
        cmocka_unit_test(test_mutation_of_another_table_refused),
        cmocka_unit_test(test_failing_replicas_fail_fast),
        cmocka_unit_test(test_slow_store_times_out),
        cmocka_unit_test(test_slice_reverse_limit),
        cmocka_unit_test(test_asynchronous_stores),
        cmocka_unit_test(test_refused_levels_and_no_ring),
        cmocka_unit_test(test_destroy_with_requests_in_flight),
        cmocka_unit_test(test_stale_and_malformed_answers),
        cmocka_unit_test(test_duplicated_messages),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
