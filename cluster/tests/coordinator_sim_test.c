/*
 * coordinator_sim_test.c - the coordinator in the simulator: a QUORUM
 * write read at QUORUM through another node; one node crashed (QUORUM
 * works, ALL is refused before anything is written); a replica that missed
 * a write is repaired by a QUORUM read; a timeout reports its ack count;
 * LOCAL_QUORUM and EACH_QUORUM over two data centres; ANY with every
 * replica down stores a hint; no acknowledged write is lost at 10, 50 and
 * 100 nodes with message loss, crashes and restarts; the same seed replays
 * the same run.  Liveness is the oracle of coordsim.h (the simulator's
 * up/down state), not gossip.  Each test prints its seed; WC_SIM_SEED
 * replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "coordsim.h"

#define TS(n) (1767225600000000LL + (int64_t)(n))

static csim *cs_three(uint64_t dflt)
{
    return cs_small(dflt, 3, 3);
}

static void test_quorum_write_then_read_elsewhere(void **state)
{
    csim *cs = cs_three(11);
    char v[64];
    wc_coord_result res;

    (void)state;
    res = cs_write(cs, 0, "alice", "c1", "hello", TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "write: %s", res.detail);
    SIM_CHECK(cs->seed, res.required == 2 && res.acked >= 2, "acked %u of %u", res.acked,
              res.required);
    res = cs_read(cs, 2, "alice", "c1", WC_CL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK, "read: %s", res.detail);
    SIM_CHECK(cs->seed, strcmp(v, "hello") == 0, "read '%s'", v);
    /* a newer write wins, an older one does not */
    cs_write(cs, 1, "alice", "c1", "newer", TS(5), WC_CL_QUORUM);
    cs_write(cs, 2, "alice", "c1", "older", TS(3), WC_CL_QUORUM);
    cs_read(cs, 0, "alice", "c1", WC_CL_ALL, v, sizeof(v));
    SIM_CHECK(cs->seed, strcmp(v, "newer") == 0, "read '%s'", v);
    wc_sim_run_for(cs->sim, 3000);
    for (uint32_t i = 0; i < 3; i++)
        SIM_CHECK(cs->seed, wc_coord_pending(cs->nodes[i].coord) == 0, "requests left");
    cs_free(cs);
}

static void test_one_node_down(void **state)
{
    csim *cs = cs_three(12);
    char v[64];
    wc_coord_result res;
    size_t before[3];

    (void)state;
    wc_sim_crash(cs->sim, cs->nodes[2].env);
    res = cs_write(cs, 0, "bob", "c1", "v1", TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "QUORUM with one down: %s", res.detail);
    SIM_CHECK(cs->seed, res.hints == 1 && cs->hint_target[2] == 1, "the down replica gets a hint");
    for (uint32_t i = 0; i < 3; i++)
        before[i] = model_store_count(cs->nodes[i].store);
    res = cs_write(cs, 0, "carol", "c1", "v2", TS(2), WC_CL_ALL);
    SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE, "ALL: %s", wc_status_name(res.status));
    SIM_CHECK(cs->seed, strcmp(res.detail, "consistency ALL needs 3 replicas, 2 alive") == 0,
              "detail '%s'", res.detail);
    SIM_CHECK(cs->seed, res.required == 3 && res.alive == 2, "required %u alive %u", res.required,
              res.alive);
    wc_sim_run_for(cs->sim, 3000);
    for (uint32_t i = 0; i < 2; i++)
        SIM_CHECK(cs->seed, model_store_count(cs->nodes[i].store) == before[i],
                  "node %u got a write that was refused", i);
    SIM_CHECK(cs->seed, !cs_holds(cs, 0, "carol", "c1", "v2"), "refused write applied");
    res = cs_read(cs, 1, "bob", "c1", WC_CL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, "v1") == 0, "read '%s': %s", v,
              res.detail);
    res = cs_read(cs, 1, "bob", "c1", WC_CL_ALL, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE, "ALL read: %s", res.detail);
    cs_free(cs);
}

static void test_read_repairs_a_stale_replica(void **state)
{
    csim *cs = cs_three(13);
    int group[3] = {0, 0, 1};
    char v[64];
    wc_coord_result res;
    wc_coord_stats st;

    (void)state;
    cs->hints_on = false;
    wc_sim_partition(cs->sim, group, 3);
    res = cs_write(cs, 0, "dave", "c1", "fresh", TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "write: %s", res.detail);
    res = cs_write(cs, 1, "ed", "c1", "fresh", TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "write: %s", res.detail);
    wc_sim_run_for(cs->sim, 3000); /* the write's timer fires: no hint (off) */
    wc_sim_heal(cs->sim);
    SIM_CHECK(cs->seed, !cs_holds(cs, 2, "dave", "c1", "fresh"), "node 2 was cut off");
    /* node 2 coordinates: it asks itself for the data and one other for a digest */
    res = cs_read(cs, 2, "dave", "c1", WC_CL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK, "read: %s", res.detail);
    SIM_CHECK(cs->seed, strcmp(v, "fresh") == 0, "read '%s'", v);
    SIM_CHECK(cs->seed, res.repairs == 1, "repairs %u", res.repairs);
    wc_coord_get_stats(cs->nodes[2].coord, &st);
    SIM_CHECK(cs->seed, st.digest_mismatches == 1 && st.repairs_sent == 1, "mismatch counted");
    /* blocking repair: the replica holds the data when the read answers */
    SIM_CHECK(cs->seed, cs_holds(cs, 2, "dave", "c1", "fresh"), "node 2 not repaired");
    /* a remote stale replica: the answer waits for its repair's ack */
    SIM_CHECK(cs->seed, !cs_holds(cs, 2, "ed", "c1", "fresh"), "node 2 was cut off");
    res = cs_read(cs, 0, "ed", "c1", WC_CL_ALL, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, "fresh") == 0, "read '%s': %s", v,
              res.detail);
    SIM_CHECK(cs->seed, res.repairs == 1, "repairs %u", res.repairs);
    SIM_CHECK(cs->seed, cs_holds(cs, 2, "ed", "c1", "fresh"), "answered before the repair");
    /* now the digests agree: no more repair */
    res = cs_read(cs, 2, "dave", "c1", WC_CL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && res.repairs == 0, "second read repaired again");
    cs_free(cs);
}

/* A replica that missed a delete: the tombstone wins the read and repairs it. */
static void test_read_repairs_a_missed_delete(void **state)
{
    csim *cs = cs_three(18);
    int group[3] = {0, 0, 1};
    char v[64];
    wc_buf rec;
    cs_wait w;
    wc_coord_result res;
    const uint8_t *blob;
    size_t len;

    (void)state;
    cs->hints_on = false;
    res = cs_write(cs, 0, "hal", "c1", "alive", TS(1), WC_CL_ALL);
    SIM_CHECK(cs->seed, res.status == WC_OK, "write: %s", res.detail);
    wc_sim_partition(cs->sim, group, 3);
    wc_buf_init(&rec);
    model_batch_delete(&rec, CS_TABLE, "hal", "c1", TS(2));
    memset(&w, 0, sizeof(w));
    wc_coord_write(cs->nodes[1].coord, CS_TABLE, rec.data, rec.len, WC_CL_QUORUM, 500,
                   cs_write_done, &w);
    cs_wait_for(cs, &w, 1000);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "delete: %s", w.res.detail);
    wc_sim_run_for(cs->sim, 1000);
    wc_sim_heal(cs->sim);
    SIM_CHECK(cs->seed, cs_holds(cs, 2, "hal", "c1", "alive"), "node 2 missed the delete");
    /* node 2 first: its live cell loses to the tombstone of the others */
    res = cs_read(cs, 2, "hal", "c1", WC_CL_ALL, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && v[0] == '\0', "read '%s': %s", v, res.detail);
    SIM_CHECK(cs->seed, res.repairs == 1, "repairs %u", res.repairs);
    SIM_CHECK(cs->seed, !cs_holds(cs, 2, "hal", "c1", "alive"), "node 2 still has the cell");
    SIM_CHECK(cs->seed,
              model_store_get(cs->nodes[2].store, CS_TABLE, "hal", 3, "c1", 2, &blob, &len),
              "node 2 lost the row's tombstone");
    wc_buf_free(&rec);
    cs_free(cs);
}

static void test_timeout_reports_acks(void **state)
{
    csim *cs = cs_three(14);
    int group[3] = {0, 1, 1};
    char v[64];
    wc_coord_result res;

    (void)state;
    wc_sim_partition(cs->sim, group, 3);
    res = cs_write(cs, 0, "erin", "c1", "x", TS(1), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_TIMEOUT, "status %s", wc_status_name(res.status));
    SIM_CHECK(cs->seed, res.acked == 1 && res.required == 2, "acked %u of %u", res.acked,
              res.required);
    SIM_CHECK(cs->seed, strstr(res.detail, "1 of 2 replicas acknowledged") != NULL, "detail '%s'",
              res.detail);
    SIM_CHECK(cs->seed, res.hints == 2, "hints %u: the two silent replicas", res.hints);
    res = cs_read(cs, 0, "erin", "c1", WC_CL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_TIMEOUT, "read status %s", wc_status_name(res.status));
    SIM_CHECK(cs->seed, strstr(res.detail, "1 of 2 replicas answered") != NULL, "detail '%s'",
              res.detail);
    cs_free(cs);
}

static void test_two_data_centres(void **state)
{
    static const char *const dcs[6] = {"dc1", "dc1", "dc1", "dc2", "dc2", "dc2"};
    uint64_t seed = simtest_seed(15);
    wc_replication r;
    csim *cs;
    wc_coord_result res;
    int group[6] = {0, 0, 0, 1, 1, 1};
    char v[64];

    (void)state;
    printf("seed=%" PRIu64 "\n", seed);
    memset(&r, 0, sizeof(r));
    r.cls = WC_REPL_NETWORK_TOPOLOGY;
    r.ndcs = 2;
    snprintf(r.dcs[0].name, sizeof(r.dcs[0].name), "dc1");
    r.dcs[0].factor = 3;
    snprintf(r.dcs[1].name, sizeof(r.dcs[1].name), "dc2");
    r.dcs[1].factor = 3;
    cs = cs_new(seed, 6, dcs, &r, NULL);
    /* dc2 cut off (still believed alive): LOCAL_QUORUM in dc1 does not wait for it */
    wc_sim_partition(cs->sim, group, 6);
    res = cs_write(cs, 0, "fay", "c1", "local", TS(1), WC_CL_LOCAL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "LOCAL_QUORUM: %s", res.detail);
    res = cs_write(cs, 0, "fay", "c2", "each", TS(2), WC_CL_EACH_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_TIMEOUT, "EACH_QUORUM across a partition: %s (%s)",
              wc_status_name(res.status), res.detail);
    SIM_CHECK(cs->seed, strstr(res.detail, "in data centre dc2") != NULL, "detail '%s'",
              res.detail);
    wc_sim_heal(cs->sim);
    /* two of dc2 down: EACH_QUORUM refused up front, LOCAL_QUORUM in dc1 fine */
    wc_sim_crash(cs->sim, cs->nodes[3].env);
    wc_sim_crash(cs->sim, cs->nodes[4].env);
    res = cs_write(cs, 1, "gus", "c1", "v", TS(3), WC_CL_EACH_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE, "EACH_QUORUM: %s",
              wc_status_name(res.status));
    SIM_CHECK(cs->seed,
              strcmp(res.detail,
                     "consistency EACH_QUORUM needs 2 replicas in data centre dc2, 1 alive") == 0,
              "detail '%s'", res.detail);
    res = cs_write(cs, 1, "gus", "c1", "v", TS(3), WC_CL_LOCAL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "LOCAL_QUORUM dc1: %s", res.detail);
    /* from dc2's last node LOCAL_QUORUM cannot be met, QUORUM (4 of 6) can */
    res = cs_write(cs, 5, "gus", "c2", "w", TS(4), WC_CL_LOCAL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE && res.required == 2 && res.alive == 1,
              "LOCAL_QUORUM dc2: %s", res.detail);
    res = cs_write(cs, 5, "gus", "c2", "w", TS(4), WC_CL_QUORUM);
    SIM_CHECK(cs->seed, res.status == WC_OK, "QUORUM: %s", res.detail);
    res = cs_read(cs, 2, "gus", "c2", WC_CL_LOCAL_QUORUM, v, sizeof(v));
    SIM_CHECK(cs->seed, res.status == WC_OK && strcmp(v, "w") == 0, "read '%s': %s", v, res.detail);
    cs_free(cs);
}

static void test_any_with_every_replica_down(void **state)
{
    csim *cs = cs_small(16, 4, 2);
    uint32_t reps[4];
    char pk[32];
    wc_coord_result res;
    int k;

    (void)state;
    /* a key whose replicas do not include node 0 */
    for (k = 0;; k++) {
        snprintf(pk, sizeof(pk), "key%d", k);
        cs_replicas(cs, pk, reps, 4);
        if (reps[0] != 0 && reps[1] != 0)
            break;
    }
    wc_sim_crash(cs->sim, cs->nodes[reps[0]].env);
    wc_sim_crash(cs->sim, cs->nodes[reps[1]].env);
    res = cs_write(cs, 0, pk, "c1", "v", TS(1), WC_CL_ONE);
    SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE, "ONE: %s", wc_status_name(res.status));
    SIM_CHECK(cs->seed, cs->hints == 0, "a refused write stored a hint");
    res = cs_write(cs, 0, pk, "c1", "v", TS(1), WC_CL_ANY);
    SIM_CHECK(cs->seed, res.status == WC_OK, "ANY: %s", res.detail);
    SIM_CHECK(cs->seed,
              res.hints == 2 && cs->hint_target[reps[0]] == 1 && cs->hint_target[reps[1]] == 1,
              "hints %u", res.hints);
    /* without a hint sink ANY cannot be met either */
    cs->hints_on = false;
    res = cs_write(cs, 0, pk, "c1", "v", TS(2), WC_CL_ANY);
    SIM_CHECK(cs->seed, res.status == WC_TIMEOUT, "ANY without hints: %s",
              wc_status_name(res.status));
    cs_free(cs);
}

typedef struct in_wait {
    bool done;
    wc_coord_result res;
    size_t n;
    char values[8][16];
} in_wait;

static void in_done(void *arg, const wc_coord_result *res, const wc_store_raw *answers, size_t n)
{
    in_wait *w = arg;

    w->done = true;
    w->res = *res;
    w->n = answers ? n : 0;
    for (size_t i = 0; i < w->n && i < 8; i++) {
        size_t vlen = 0;
        const uint8_t *v = model_raw_value(answers[i].data, answers[i].len, "c", &vlen);

        snprintf(w->values[i], sizeof(w->values[i]), "%.*s", (int)vlen, v ? (const char *)v : "");
    }
}

/* An IN list: one single-partition read per key, answers in the list's order. */
static void test_read_of_several_partitions(void **state)
{
    csim *cs = cs_three(17);
    static const char *const keys[5] = {"in0", "in1", "in2", "in3", "absent"};
    wc_store_read r[5];
    in_wait w;

    (void)state;
    for (int i = 0; i < 4; i++)
        cs_write(cs, (uint32_t)i % 3, keys[i], "c", keys[i], TS(i), WC_CL_QUORUM);
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 5; i++) {
        r[i].table_id = CS_TABLE;
        r[i].pk = (const uint8_t *)keys[i];
        r[i].pk_len = strlen(keys[i]);
        r[i].start.unbounded = r[i].end.unbounded = true;
    }
    memset(&w, 0, sizeof(w));
    wc_coord_read_partitions(cs->nodes[1].coord, r, 5, WC_CL_QUORUM, 1000, in_done, &w);
    for (uint64_t end = wc_sim_now(cs->sim) + 5000; !w.done && wc_sim_now(cs->sim) < end;)
        wc_sim_run_for(cs->sim, 1);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK && w.n == 5, "IN read: %s", w.res.detail);
    for (int i = 0; i < 4; i++)
        SIM_CHECK(cs->seed, strcmp(w.values[i], keys[i]) == 0, "answer %d '%s'", i, w.values[i]);
    SIM_CHECK(cs->seed, w.values[4][0] == '\0', "absent partition answered '%s'", w.values[4]);
    /* one node down: ALL fails for the whole list, with the level's detail */
    wc_sim_crash(cs->sim, cs->nodes[2].env);
    memset(&w, 0, sizeof(w));
    wc_coord_read_partitions(cs->nodes[1].coord, r, 5, WC_CL_ALL, 1000, in_done, &w);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_UNAVAILABLE && w.n == 0, "ALL IN read: %s",
              wc_status_name(w.res.status));
    SIM_CHECK(cs->seed, strcmp(w.res.detail, "consistency ALL needs 3 replicas, 2 alive") == 0,
              "detail '%s'", w.res.detail);
    cs_free(cs);
}

/* A scan of the whole ring, range after range. */
static void scan(csim *cs, uint32_t node, wc_consistency cl, uint64_t limit, cs_wait *w)
{
    wc_store_read r;

    memset(&r, 0, sizeof(r));
    r.table_id = CS_TABLE;
    r.start.unbounded = r.end.unbounded = true;
    r.limit = limit;
    memset(w, 0, sizeof(*w));
    wc_buf_init(&w->data);
    wc_coord_scan(cs->nodes[node].coord, &r, cl, 1000, cs_read_done, w);
    cs_wait_for(cs, w, 60000);
}

static void test_range_scan(void **state)
{
    csim *cs = cs_small(19, 5, 3);
    int group[5] = {0, 0, 0, 0, 1};
    int64_t tokens[64];
    char pk[16], rows[512];
    size_t np;
    cs_wait w;

    (void)state;
    cs->hints_on = false;
    for (int k = 0; k < 50; k++) {
        snprintf(pk, sizeof(pk), "s%d", k);
        if (k == 40) /* the last ten miss node 4 */
            wc_sim_partition(cs->sim, group, 5);
        SIM_CHECK(cs->seed,
                  cs_write(cs, (uint32_t)k % 4, pk, "c", pk, TS(k), WC_CL_QUORUM).status == WC_OK,
                  "write %s", pk);
    }
    wc_sim_run_for(cs->sim, 3000);
    wc_sim_heal(cs->sim);
    scan(cs, 0, WC_CL_QUORUM, 0, &w);
    SIM_CHECK(cs->seed, w.done && w.res.status == WC_OK, "scan: %s", w.res.detail);
    np = model_raw_partitions(w.data.data, w.data.len, tokens, 64);
    SIM_CHECK(cs->seed, np == 50, "scan found %zu partitions", np);
    for (size_t i = 1; i < np; i++)
        SIM_CHECK(cs->seed, tokens[i - 1] < tokens[i], "not in token order at %zu", i);
    /* a limit counts rows across ranges */
    wc_buf_free(&w.data);
    scan(cs, 1, WC_CL_ONE, 7, &w);
    model_raw_rows(w.data.data, w.data.len, rows, sizeof(rows));
    SIM_CHECK(cs->seed,
              w.res.status == WC_OK &&
                  model_raw_partitions(w.data.data, w.data.len, tokens, 64) == 7,
              "limit 7: rows '%s' (%s)", rows, w.res.detail);
    /* ALL from the stale node: every range reconciled, node 4 repaired */
    wc_buf_free(&w.data);
    scan(cs, 4, WC_CL_ALL, 0, &w);
    SIM_CHECK(cs->seed,
              w.res.status == WC_OK &&
                  model_raw_partitions(w.data.data, w.data.len, tokens, 64) == 50,
              "ALL scan: %s", w.res.detail);
    SIM_CHECK(cs->seed, w.res.repairs > 0, "no repair");
    for (int k = 40; k < 50; k++) {
        uint32_t reps[5];
        size_t nr;

        snprintf(pk, sizeof(pk), "s%d", k);
        nr = cs_replicas(cs, pk, reps, 5);
        for (size_t i = 0; i < nr; i++)
            SIM_CHECK(cs->seed, cs_holds(cs, reps[i], pk, "c", pk), "replica %u lacks %s", reps[i],
                      pk);
    }
    /* a node down: ALL cannot be met in the ranges it replicates */
    wc_buf_free(&w.data);
    wc_sim_crash(cs->sim, cs->nodes[3].env);
    scan(cs, 0, WC_CL_ALL, 0, &w);
    SIM_CHECK(cs->seed, w.res.status == WC_UNAVAILABLE, "ALL scan with a node down: %s",
              wc_status_name(w.res.status));
    wc_buf_free(&w.data);
    cs_free(cs);
}

/* ---------------------------------------------------------------- no acknowledged write is lost */

typedef struct lw_write {
    cs_wait w;
    bool started;
    char pk[24];
} lw_write;

/*
 * n nodes, RF=3: nwrites writes of distinct keys on random coordinators
 * (QUORUM), 5% loss, a random minority of nodes crashing and restarting;
 * then every node up, no loss, and every acknowledged key read at QUORUM
 * from a sample of coordinators.  Returns the trace hash.
 */
static uint64_t lost_writes_run(uint64_t seed, uint32_t n, uint32_t nwrites, uint32_t *acked_out,
                                uint32_t *lost_out)
{
    wc_replication r;
    wc_sim_options so;
    csim *cs;
    lw_write *w = calloc(nwrites, sizeof(*w));
    uint64_t rs = seed ^ 0x5eed, hash;
    uint32_t acked = 0, lost = 0, crashed = 0, max_crashed = (n - 1) / 2;
    char v[64];

    cs_simple(&r, 3);
    wc_sim_options_default(&so);
    so.loss = 0.05;
    cs = cs_new(seed, n, NULL, &r, &so);
    cs->hints_on = false; /* durability must not depend on hints */
    for (uint32_t i = 0; i < nwrites; i++) {
        uint32_t c = (uint32_t)(cs_mix(&rs) % n);

        /* now and then a node crashes or comes back */
        if (cs_mix(&rs) % 20 == 0) {
            uint32_t k = (uint32_t)(cs_mix(&rs) % n);

            if (wc_sim_is_up(cs->nodes[k].env) && crashed < max_crashed &&
                crashed < (n / 10 > 2 ? n / 10 : 2)) {
                wc_sim_crash(cs->sim, cs->nodes[k].env);
                crashed++;
            } else if (!wc_sim_is_up(cs->nodes[k].env)) {
                wc_sim_restart(cs->sim, cs->nodes[k].env);
                crashed--;
            }
        }
        if (!wc_sim_is_up(cs->nodes[c].env))
            continue;
        snprintf(w[i].pk, sizeof(w[i].pk), "k%u", i);
        w[i].started = true;
        cs_write_async(cs, c, w[i].pk, "c", w[i].pk, TS(i), WC_CL_QUORUM, 500, &w[i].w);
        wc_sim_run_for(cs->sim, 2);
    }
    wc_sim_run_for(cs->sim, 3000);
    wc_sim_set_loss(cs->sim, 0);
    for (uint32_t k = 0; k < n; k++)
        if (!wc_sim_is_up(cs->nodes[k].env))
            wc_sim_restart(cs->sim, cs->nodes[k].env);
    for (uint32_t i = 0; i < nwrites; i++) {
        if (!w[i].started || !w[i].w.done || w[i].w.res.status != WC_OK)
            continue;
        acked++;
        /* a sample of coordinators: three per key */
        for (int s = 0; s < 3; s++) {
            wc_coord_result res =
                cs_read(cs, (uint32_t)(cs_mix(&rs) % n), w[i].pk, "c", WC_CL_QUORUM, v, sizeof(v));

            if (res.status != WC_OK || strcmp(v, w[i].pk) != 0) {
                lost++;
                printf("lost %s: %s '%s' (%s)\n", w[i].pk, wc_status_name(res.status), v,
                       res.detail);
                break;
            }
        }
    }
    hash = wc_sim_trace_hash(cs->sim);
    cs_free(cs);
    free(w);
    *acked_out = acked;
    *lost_out = lost;
    return hash;
}

static void lost_writes(uint32_t n, uint32_t nwrites, uint64_t dflt)
{
    uint64_t seed = simtest_seed(dflt);
    uint32_t acked, lost;

    printf("seed=%" PRIu64 "\n", seed);
    lost_writes_run(seed, n, nwrites, &acked, &lost);
    printf("coordinator sim: %u nodes, %u writes acknowledged, %u lost\n", n, acked, lost);
    SIM_CHECK(seed, lost == 0, "%u acknowledged writes lost", lost);
    SIM_CHECK(seed, acked > nwrites / 2, "only %u of %u writes acknowledged", acked, nwrites);
}

static void test_no_acknowledged_write_lost_10(void **state)
{
    (void)state;
    lost_writes(10, 1000, 21);
}

static void test_no_acknowledged_write_lost_50(void **state)
{
    (void)state;
    lost_writes(50, 3000, 22);
}

static void test_no_acknowledged_write_lost_100(void **state)
{
    (void)state;
    lost_writes(100, 5000, 23);
}

static void test_same_seed_same_trace(void **state)
{
    uint64_t seed = simtest_seed(24);
    uint32_t a1, l1, a2, l2, a3, l3;
    uint64_t h1, h2, h3;

    (void)state;
    printf("seed=%" PRIu64 "\n", seed);
    h1 = lost_writes_run(seed, 10, 300, &a1, &l1);
    h2 = lost_writes_run(seed, 10, 300, &a2, &l2);
    h3 = lost_writes_run(seed + 1, 10, 300, &a3, &l3);
    SIM_CHECK(seed, h1 == h2 && a1 == a2, "same seed, traces %016" PRIx64 " and %016" PRIx64, h1,
              h2);
    SIM_CHECK(seed, h1 != h3, "another seed gave the same trace");
}

/* Whether node is a replica of pk in the simulation's ring. */
static bool cs_is_replica(csim *cs, const char *pk, uint32_t node)
{
    uint32_t reps[8];
    size_t n = cs_replicas(cs, pk, reps, 8);

    for (size_t r = 0; r < n; r++)
        if (reps[r] == node)
            return true;
    return false;
}

/*
 * Pending writes: node 3 is joining (in the pending ring, not in the ring
 * the coordinators use).  Every write of a token it will replicate reaches
 * it too, none other does, and such a write needs one more acknowledgement
 * than its level (Cassandra's pending endpoints): QUORUM of RF 2 waits for
 * 3, and with node 3 down it is unavailable.
 */
static void test_pending_writes_reach_a_joining_node(void **state)
{
    csim *cs = cs_small(19, 4, 2);
    wc_ring_member m[3];
    wc_ring *cur = NULL;
    wc_coord_result res;
    int hit = 0, miss = 0;

    (void)state;
    for (uint32_t i = 0; i < 3; i++)
        m[i] = *wc_ring_host(cs->ring, i);
    assert_int_equal(wc_ring_build(m, 3, &cur), WC_OK);
    for (uint32_t i = 0; i < 4; i++) {
        wc_coord_set_ring(cs->nodes[i].coord, cur);
        wc_coord_set_pending_ring(cs->nodes[i].coord, cs->ring);
    }
    for (int k = 0; k < 60; k++) {
        char pk[32];
        bool future;

        snprintf(pk, sizeof(pk), "key%d", k);
        future = cs_is_replica(cs, pk, 3);
        res = cs_write(cs, (uint32_t)k % 3, pk, "c1", "v", TS(k), WC_CL_QUORUM);
        SIM_CHECK(cs->seed,
                  res.status == WC_OK && res.required == (future ? 3u : 2u) &&
                      res.acked >= res.required,
                  "write %s: required %u, acked %u: %s", pk, res.required, res.acked,
                  res.detail);
        wc_sim_run_for(cs->sim, 50);
        SIM_CHECK(cs->seed, cs_holds(cs, 3, pk, "c1", "v") == future,
                  "%s: the joining node %s it", pk, future ? "lacks" : "got");
        hit += future;
        miss += !future;
    }
    SIM_CHECK(cs->seed, hit > 0 && miss > 0, "%d keys for the joining node, %d not", hit, miss);
    /* the joining node down: a write of its future ranges cannot be met at QUORUM */
    wc_sim_crash(cs->sim, cs->nodes[3].env);
    for (int k = 0;; k++) {
        char pk[32];

        snprintf(pk, sizeof(pk), "down%d", k);
        if (!cs_is_replica(cs, pk, 3))
            continue;
        res = cs_write(cs, 0, pk, "c1", "v", TS(90), WC_CL_QUORUM);
        SIM_CHECK(cs->seed, res.status == WC_UNAVAILABLE && res.required == 3 && res.alive == 2,
                  "write with the joining node down: %s", res.detail);
        break;
    }
    wc_sim_restart(cs->sim, cs->nodes[3].env);
    /* without a pending ring nothing more reaches it */
    for (uint32_t i = 0; i < 4; i++)
        wc_coord_set_pending_ring(cs->nodes[i].coord, NULL);
    for (int k = 0; k < 60; k++) {
        char pk[32];

        snprintf(pk, sizeof(pk), "after%d", k);
        if (!cs_is_replica(cs, pk, 3))
            continue;
        res = cs_write(cs, 0, pk, "c1", "v", TS(100), WC_CL_QUORUM);
        wc_sim_run_for(cs->sim, 50);
        SIM_CHECK(cs->seed, !cs_holds(cs, 3, pk, "c1", "v"), "a write after the join reached it");
        break;
    }
    wc_ring_unref(cur);
    cs_free(cs);
}

/*
 * Pending writes while a node leaves: node 3 is in the ring the
 * coordinators use and absent from the pending ring.  A write of a token
 * node 3 replicates also reaches the node that takes the range over (a
 * node already in the ring, not a replica of that token yet), which counts
 * as a pending replica (one more acknowledgement, as Cassandra); writes of
 * other tokens reach only their replicas.
 */
static void test_pending_writes_reach_the_new_owners_of_a_leaving_node(void **state)
{
    csim *cs = cs_small(20, 4, 2);
    wc_ring_member m[3];
    wc_ring *after = NULL;
    wc_coord_result res;
    uint32_t reps[8], areps[8];
    int moved = 0, stayed = 0;

    (void)state;
    for (uint32_t i = 0; i < 3; i++)
        m[i] = *wc_ring_host(cs->ring, i);
    assert_int_equal(wc_ring_build(m, 3, &after), WC_OK);
    for (uint32_t i = 0; i < 4; i++)
        wc_coord_set_pending_ring(cs->nodes[i].coord, after);
    for (int k = 0; k < 60; k++) {
        char pk[32];
        size_t n, an;
        bool holds_ok[4] = {false, false, false, false}, leaving = false;

        snprintf(pk, sizeof(pk), "leave%d", k);
        n = cs_replicas(cs, pk, reps, 8);
        assert_int_equal(wc_ring_replicas(after, &cs->repl, wc_token(pk, strlen(pk)), areps, 8,
                                          &an),
                         WC_OK);
        for (size_t r = 0; r < n; r++) {
            holds_ok[reps[r]] = true;
            leaving = leaving || reps[r] == 3;
        }
        /* each new owner of the token is a pending replica: one more acknowledgement */
        size_t pending = 0;
        for (size_t r = 0; r < an; r++) {
            int32_t h = wc_ring_find_host(cs->ring, wc_ring_host(after, areps[r])->host_id);
            bool current = false;
            for (size_t q = 0; q < n; q++)
                current = current || (int32_t)reps[q] == h;
            pending += !current;
        }
        res = cs_write(cs, (uint32_t)k % 3, pk, "c1", "v", TS(k), WC_CL_QUORUM);
        SIM_CHECK(cs->seed, res.status == WC_OK && res.required == 2 + pending,
                  "write %s: required %u, want %zu: %s", pk, res.required, 2 + pending, res.detail);
        wc_sim_run_for(cs->sim, 50);
        for (size_t r = 0; r < an; r++) {
            int32_t h = wc_ring_find_host(cs->ring, wc_ring_host(after, areps[r])->host_id);
            assert_true(h >= 0);
            SIM_CHECK(cs->seed, cs_holds(cs, (uint32_t)h, pk, "c1", "v"),
                      "%s: its owner %d after the leave lacks it", pk, h);
            holds_ok[h] = true;
        }
        for (uint32_t i = 0; i < 4; i++)
            SIM_CHECK(cs->seed, holds_ok[i] || !cs_holds(cs, i, pk, "c1", "v"),
                      "%s reached node %u, no replica of it", pk, i);
        moved += leaving;
        stayed += !leaving;
    }
    SIM_CHECK(cs->seed, moved > 0 && stayed > 0, "%d keys on the leaving node, %d not", moved,
              stayed);
    wc_ring_unref(after);
    cs_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_writes_reach_the_new_owners_of_a_leaving_node),
        cmocka_unit_test(test_quorum_write_then_read_elsewhere),
        cmocka_unit_test(test_one_node_down),
        cmocka_unit_test(test_read_repairs_a_stale_replica),
        cmocka_unit_test(test_read_repairs_a_missed_delete),
        cmocka_unit_test(test_timeout_reports_acks),
        cmocka_unit_test(test_two_data_centres),
        cmocka_unit_test(test_any_with_every_replica_down),
        cmocka_unit_test(test_read_of_several_partitions),
        cmocka_unit_test(test_range_scan),
        cmocka_unit_test(test_no_acknowledged_write_lost_10),
        cmocka_unit_test(test_no_acknowledged_write_lost_50),
        cmocka_unit_test(test_no_acknowledged_write_lost_100),
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_pending_writes_reach_a_joining_node),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
