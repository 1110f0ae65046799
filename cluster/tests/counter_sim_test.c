/*
 * counter_sim_test.c - counter writes on a cluster in the simulator
 * (counter_leader.h): concurrent increments through every coordinator
 * (replicas and not) with a replica down sum exactly at QUORUM, each delta
 * applied by exactly one leader, and the replica that comes back reads the
 * sum at ALL (read repair merges the shards); with message loss every
 * acknowledged increment is counted once and nothing is counted twice; a
 * write whose leader applied it but whose replicas did not answer says it
 * may or may not have been applied; batches that are not increments alone,
 * ANY, the batchlog and a level that cannot be met are refused with
 * nothing applied.  Liveness is the oracle of coordsim.h.  Each test prints
 * its seed; WC_SIM_SEED replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "counter.h"
#include "coordsim.h"
#include "mutation.h"

#define TS(n) (1767225600000000LL + (int64_t)(n))
#define CK "2026-01-01"

/* A batch adding delta to column 1 of row (pk, CK); with plain, also a regular cell. */
static void delta_batch(wc_buf *rec, const char *pk, int64_t delta, int64_t ts, bool plain)
{
    wc_batch_builder bb;
    wc_mutation *m;
    wc_rowb *rb;
    wc_cell c;
    uint8_t v[WC_COUNTER_DELTA_LEN];
    const uint8_t *out;
    size_t len;

    wc_batch_builder_init(&bb);
    m = wc_batch_builder_begin(&bb, CS_TABLE, pk, strlen(pk));
    rb = wc_mutation_row_begin(m, false, CK, strlen(CK));
    memset(&c, 0, sizeof(c));
    wc_counter_delta_encode(v, delta);
    c.column = 1;
    c.flags = WC_CELLF_COUNTER_DELTA;
    c.ts = ts;
    c.value = v;
    c.len = sizeof(v);
    wc_rowb_cell(rb, &c);
    if (plain) {
        c.column = 2;
        c.flags = 0;
        c.value = (const uint8_t *)"x";
        c.len = 1;
        wc_rowb_cell(rb, &c);
    }
    wc_mutation_row_end(m);
    if (wc_batch_builder_end(&bb) != WC_OK || wc_batch_builder_finish(&bb, &out, &len) != WC_OK)
        abort();
    wc_buf_reset(rec);
    wc_buf_append(rec, out, len);
    wc_batch_builder_free(&bb);
}

static void incr_async(csim *cs, uint32_t node, const char *pk, int64_t delta, int64_t ts,
                       wc_consistency cl, uint32_t timeout_ms, cs_wait *w)
{
    wc_buf rec;

    wc_buf_init(&rec);
    delta_batch(&rec, pk, delta, ts, false);
    memset(w, 0, sizeof(*w));
    wc_coord_write(cs->nodes[node].coord, CS_TABLE, rec.data, rec.len, cl, timeout_ms,
                   cs_write_done, w);
    wc_buf_free(&rec);
}

static wc_coord_result incr(csim *cs, uint32_t node, const char *pk, int64_t delta, int64_t ts,
                            wc_consistency cl)
{
    cs_wait w;

    incr_async(cs, node, pk, delta, ts, cl, 2000, &w);
    cs_wait_for(cs, &w, 5000);
    SIM_CHECK(cs->seed, w.done, "counter write never ended");
    return w.res;
}

/* The counter's value in a raw result (0 when absent): false if it is no counter. */
static bool raw_counter(const uint8_t *raw, size_t len, int64_t *sum)
{
    size_t vlen = 0;
    const uint8_t *v = model_raw_value(raw, len, CK, &vlen);

    *sum = 0;
    return v == NULL || wc_counter_sum(v, vlen, sum);
}

/* A read of the counter of pk through node at cl: its value into *sum. */
static wc_coord_result read_counter(csim *cs, uint32_t node, const char *pk, wc_consistency cl,
                                    int64_t *sum)
{
    cs_wait w;

    cs_read_async(cs, node, pk, cl, 2000, &w);
    cs_wait_for(cs, &w, 5000);
    SIM_CHECK(cs->seed, w.done, "read never ended");
    if (w.res.status == WC_OK)
        SIM_CHECK(cs->seed, raw_counter(w.data.data, w.data.len, sum),
                  "the answer holds no counter cell (a delta was stored?)");
    wc_buf_free(&w.data);
    return w.res;
}

/* The counter of pk as node's own store holds it. */
static int64_t stored_counter(csim *cs, uint32_t node, const char *pk)
{
    const uint8_t *blob;
    size_t len;
    wc_row_view v;
    wc_cell c;
    int64_t sum = 0;

    if (!model_store_get(cs->nodes[node].store, CS_TABLE, pk, strlen(pk), CK, strlen(CK), &blob,
                         &len) ||
        !wc_row_parse(blob, len, &v))
        return 0;
    while (wc_row_next_cell(&v, &c) == 1)
        if (c.column == 1)
            SIM_CHECK(cs->seed, (c.flags & WC_CELLF_COUNTER) && wc_counter_sum(c.value, c.len, &sum),
                      "node %u stores column 1 as no counter (flags %x)", node, c.flags);
    return sum;
}

static int64_t led_total(csim *cs)
{
    int64_t t = 0;

    for (uint32_t i = 0; i < cs->n; i++)
        t += model_store_counter_led(cs->nodes[i].store);
    return t;
}

/* A node that is no replica of pk (the first), or -1. */
static int32_t non_replica(csim *cs, const char *pk)
{
    uint32_t reps[8];
    size_t nr = cs_replicas(cs, pk, reps, 8);

    for (uint32_t i = 0; i < cs->n; i++) {
        bool is = false;

        for (size_t r = 0; r < nr; r++)
            is = is || reps[r] == i;
        if (!is)
            return (int32_t)i;
    }
    return -1;
}

/*
 * 5 nodes, RF=3, one replica of the key down: 300 increments (1, 2 or 3
 * each), 20 in flight at a time, through every live node in turn - replicas
 * lead their own, the others send them to a leader.  Every one succeeds at
 * QUORUM and the QUORUM sum is exact through every node; each delta was
 * resolved by exactly one leader; the node that comes back is repaired by
 * an ALL read and then stores the sum itself.
 */
static void test_concurrent_increments_with_a_replica_down(void **state)
{
    csim *cs = cs_small(41, 5, 3);
    uint32_t reps[3];
    cs_wait w[20];
    int64_t want = 0, sum;
    wc_coord_result res;
    uint32_t down, k = 0;

    (void)state;
    SIM_CHECK(cs->seed, cs_replicas(cs, "clicks", reps, 3) == 3, "three replicas");
    down = reps[1];
    wc_sim_crash(cs->sim, cs->nodes[down].env);
    for (uint32_t round = 0; round < 15; round++) {
        for (uint32_t i = 0; i < 20; i++) {
            uint32_t node;
            int64_t d = 1 + (int64_t)((round * 20 + i) % 3);

            do
                node = k++ % cs->n;
            while (node == down);
            want += d;
            incr_async(cs, node, "clicks", d, TS(round * 20 + i), WC_CL_QUORUM, 2000, &w[i]);
        }
        for (uint32_t i = 0; i < 20; i++) {
            cs_wait_for(cs, &w[i], 5000);
            SIM_CHECK(cs->seed, w[i].done && w[i].res.status == WC_OK,
                      "increment %u of round %u: %s %s", i, round,
                      wc_status_name(w[i].res.status), w[i].res.detail);
        }
    }
    SIM_CHECK(cs->seed, led_total(cs) == want,
              "the leaders resolved %" PRId64 " in deltas, %" PRId64 " were sent", led_total(cs),
              want);
    for (uint32_t i = 0; i < cs->n; i++) {
        if (i == down)
            continue;
        res = read_counter(cs, i, "clicks", WC_CL_QUORUM, &sum);
        SIM_CHECK(cs->seed, res.status == WC_OK && sum == want,
                  "QUORUM read through node %u: %" PRId64 " of %" PRId64 " (%s)", i, sum, want,
                  res.detail);
    }
    wc_sim_run_for(cs->sim, 3000);
    wc_sim_restart(cs->sim, cs->nodes[down].env);
    SIM_CHECK(cs->seed, stored_counter(cs, down, "clicks") == 0, "the down node missed it all");
    res = read_counter(cs, down, "clicks", WC_CL_ALL, &sum);
    SIM_CHECK(cs->seed, res.status == WC_OK && sum == want,
              "ALL read through the node that came back: %" PRId64 " of %" PRId64 " (%s)", sum,
              want, res.detail);
    for (uint32_t r = 0; r < 3; r++)
        SIM_CHECK(cs->seed, stored_counter(cs, reps[r], "clicks") == want,
                  "replica %u stores %" PRId64 " after the repair, not %" PRId64, reps[r],
                  stored_counter(cs, reps[r], "clicks"), want);
    wc_sim_run_for(cs->sim, 3000);
    for (uint32_t i = 0; i < cs->n; i++)
        SIM_CHECK(cs->seed, wc_coord_pending(cs->nodes[i].coord) == 0, "requests left on %u", i);
    cs_free(cs);
}

/*
 * 5 nodes, RF=3, 10% message loss: 200 increments of 1 through random
 * nodes, 10 in flight.  Acknowledged ones are all counted at QUORUM after
 * the loss stops; at ALL the sum is exactly what the leaders applied (no
 * double count, no loss of an applied delta); a failed one says it may or
 * may not have been applied.
 */
static void test_increments_with_message_loss(void **state)
{
    uint64_t seed = simtest_seed(42), rs = seed ^ 0xc0c0;
    wc_replication r;
    wc_sim_options so;
    csim *cs;
    cs_wait w[10];
    int64_t ok = 0, maybe = 0, sum = 0;
    wc_coord_result res;

    (void)state;
    printf("seed=%" PRIu64 "\n", seed);
    cs_simple(&r, 3);
    wc_sim_options_default(&so);
    so.loss = 0.10;
    cs = cs_new(seed, 5, NULL, &r, &so);
    for (uint32_t round = 0; round < 20; round++) {
        for (uint32_t i = 0; i < 10; i++)
            incr_async(cs, (uint32_t)(cs_mix(&rs) % cs->n), "views", 1, TS(round * 10 + i),
                       WC_CL_QUORUM, 300, &w[i]);
        for (uint32_t i = 0; i < 10; i++) {
            cs_wait_for(cs, &w[i], 2000);
            SIM_CHECK(seed, w[i].done, "an increment never ended");
            if (w[i].res.status == WC_OK) {
                ok++;
            } else {
                SIM_CHECK(seed, w[i].res.status == WC_TIMEOUT,
                          "a failed increment is a timeout: %s %s",
                          wc_status_name(w[i].res.status), w[i].res.detail);
                SIM_CHECK(seed, strncmp(w[i].res.detail, "counter write", 13) == 0 &&
                                    strstr(w[i].res.detail, "may or may not") != NULL,
                          "detail '%s'", w[i].res.detail);
                maybe++;
            }
        }
    }
    printf("acknowledged %" PRId64 ", may or may not %" PRId64 "\n", ok, maybe);
    SIM_CHECK(seed, ok >= 100, "too few increments succeeded (%" PRId64 ")", ok);
    wc_sim_set_loss(cs->sim, 0);
    wc_sim_run_for(cs->sim, 3000);
    for (uint32_t i = 0; i < cs->n; i++) {
        res = read_counter(cs, i, "views", WC_CL_QUORUM, &sum);
        SIM_CHECK(seed, res.status == WC_OK && sum >= ok && sum <= ok + maybe,
                  "QUORUM through %u: %" PRId64 ", acknowledged %" PRId64 ", maybe %" PRId64 " (%s)",
                  i, sum, ok, maybe, res.detail);
    }
    res = read_counter(cs, 0, "views", WC_CL_ALL, &sum);
    SIM_CHECK(seed, res.status == WC_OK && sum == led_total(cs),
              "ALL: %" PRId64 ", the leaders applied %" PRId64 " (%s)", sum, led_total(cs),
              res.detail);
    SIM_CHECK(seed, sum >= ok && sum <= ok + maybe, "ALL: %" PRId64, sum);
    cs_free(cs);
}

/*
 * The leader applied it, its replicas did not answer: WC_TIMEOUT, "may or
 * may not", and the leader holds it.  A coordinator cut off from every
 * replica: the same, waiting for the leader.  Nothing is retried.
 */
static void test_timeouts_say_maybe(void **state)
{
    csim *cs = cs_small(43, 4, 3);
    uint32_t reps[3];
    int group[4];
    wc_coord_result res;
    int32_t outsider;

    (void)state;
    cs->hints_on = false;
    cs_replicas(cs, "likes", reps, 3);
    outsider = non_replica(cs, "likes");
    SIM_CHECK(cs->seed, outsider >= 0, "a node that is no replica");
    /* the leader alone on its side */
    for (uint32_t i = 0; i < 4; i++)
        group[i] = i == reps[0] ? 0 : 1;
    wc_sim_partition(cs->sim, group, 4);
    res = incr(cs, reps[0], "likes", 5, TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_TIMEOUT, "status %s", wc_status_name(res.status));
    SIM_CHECK(cs->seed, strstr(res.detail, "counter write timed out after its leader replica") &&
                            strstr(res.detail, "may or may not"),
              "detail '%s'", res.detail);
    SIM_CHECK(cs->seed, stored_counter(cs, reps[0], "likes") == 5, "the leader applied it once");
    SIM_CHECK(cs->seed, led_total(cs) == 5, "no retry: led %" PRId64, led_total(cs));
    /* the coordinator alone on its side: no leader answers */
    for (uint32_t i = 0; i < 4; i++)
        group[i] = (int32_t)i == outsider ? 0 : 1;
    wc_sim_partition(cs->sim, group, 4);
    res = incr(cs, (uint32_t)outsider, "likes", 7, TS(2), WC_CL_ONE);
    SIM_CHECK(cs->seed, res.status == WC_TIMEOUT, "status %s", wc_status_name(res.status));
    SIM_CHECK(cs->seed, strstr(res.detail, "waiting for its leader replica") &&
                            strstr(res.detail, "may or may not"),
              "detail '%s'", res.detail);
    wc_sim_heal(cs->sim);
    wc_sim_run_for(cs->sim, 3000);
    SIM_CHECK(cs->seed, led_total(cs) == 5, "a lost COUNTER_WRITE was retried: %" PRId64,
              led_total(cs));
    cs_free(cs);
}

/* done of a refused logged write: bit 0 when refused as it should be */
static void settled_write_done(void *arg, const wc_coord_result *res)
{
    if (res->status == WC_INVALID_ARGUMENT && strstr(res->detail, "batchlog") != NULL)
        *(int *)arg |= 1;
}

/* settled: bit 1 when it says not every replica has it */
static void settled_note(void *arg, bool every)
{
    if (!every)
        *(int *)arg |= 2;
}

/* Refused with nothing applied: a mixed batch, ANY, the batchlog, a level that cannot be met. */
static void test_refusals(void **state)
{
    csim *cs = cs_small(44, 3, 3);
    wc_buf rec;
    cs_wait w;
    wc_coord_result res;
    int settled_calls = 0;

    (void)state;
    wc_buf_init(&rec);
    delta_batch(&rec, "mix", 1, TS(1), true);
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[0].coord, CS_TABLE, rec.data, rec.len, WC_CL_QUORUM, 1000,
                   cs_write_done, &w);
    cs_wait_for(cs, &w, 2000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_INVALID_ARGUMENT &&
                            strncmp(w.res.detail, "a counter update on a cluster", 29) == 0,
              "mixed batch: %s '%s'", wc_status_name(w.res.status), w.res.detail);
    res = incr(cs, 0, "any", 1, TS(2), WC_CL_ANY);
    SIM_CHECK(cs->seed, res.status == WC_INVALID_ARGUMENT, "ANY: %s", wc_status_name(res.status));
    /* the batchlog never carries a delta (it would replay it) */
    delta_batch(&rec, "logged", 1, TS(3), false);
    memset(&w, 0, sizeof(w));
    settled_calls = 0;
    wc_coord_write_settled(cs->nodes[0].coord, CS_TABLE, rec.data, rec.len, WC_CL_QUORUM, 1000,
                           settled_write_done, settled_note, &settled_calls);
    SIM_CHECK(cs->seed, settled_calls == 3, "done and settled(false) at once: %d", settled_calls);
    wc_sim_crash(cs->sim, cs->nodes[2].env);
    res = incr(cs, 0, "all", 1, TS(4), WC_CL_ALL);
    SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE, "ALL with one down: %s",
              wc_status_name(res.status));
    wc_sim_run_for(cs->sim, 2000);
    SIM_CHECK(cs->seed, led_total(cs) == 0, "a refused write was applied: %" PRId64,
              led_total(cs));
    for (uint32_t i = 0; i < cs->n; i++)
        SIM_CHECK(cs->seed, model_store_count(cs->nodes[i].store) == 0,
                  "node %u stores something of a refused write", i);
    /* plain writes still take their own path */
    {
        char v[16];

        res = cs_write(cs, 0, "plain", "c", "v", TS(5), WC_CL_QUORUM);
        SIM_CHECK(cs->seed, res.status == WC_OK, "plain write: %s", res.detail);
        res = cs_read(cs, 1, "plain", "c", WC_CL_QUORUM, v, sizeof(v));
        SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, "v") == 0, "plain read '%s'", v);
        SIM_CHECK(cs->seed, cs_holds(cs, 0, "plain", "c", "v"), "node 0 holds the plain write");
    }
    wc_buf_free(&rec);
    cs_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_increments_with_a_replica_down),
        cmocka_unit_test(test_increments_with_message_loss),
        cmocka_unit_test(test_timeouts_say_maybe),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
