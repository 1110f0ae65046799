/*
 * stream_test.c - streaming in the simulator: a node pulls the whole ring
 * of a table from another (pages cut inside partitions, a partition larger
 * than a page, a deleted cell) under message loss and ends with exactly the
 * source's data, timestamps and tombstones included; a pull resumes from
 * its progress file after the puller crashes mid-stream, and carries on
 * after the source crashes and comes back.  Range transfers (transfer.h):
 * a node asks another to pull from it under loss and hears the end (a
 * repeated ask is answered from the kept outcome), a node asks itself, a
 * target that restarts mid-pull resumes when asked again, a target that
 * never comes back times the ask out.  The stores are model stores
 * (model_store.h), which survive crashes; one test cuts the power under a
 * puller whose store acknowledges before it syncs (a periodic commit log)
 * and whose progress files live on a faultfs.  Each test prints its seed on
 * failure; WC_SIM_SEED replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultfs.h"
#include "model_store.h"
#include "sim.h"
#include "simtest.h"
#include "stream.h"
#include "transfer.h"

#define TABLE 7
#define TS(n) (1767225600000000LL + (int64_t)(n))
#define NPART 120

typedef struct snode {
    wc_env *env;
    model_store *store;
    wc_stream *stream;
    wc_transfer *transfer;
} snode;

typedef struct stest {
    wc_sim *sim;
    uint64_t seed;
    snode n[2];
    char dir[256];
    uint32_t page_rows;
    int ended;
    wc_status end_st;
    uint64_t resumed;
    wc_faultfs *ff; /* progress files on it when set */
    uint64_t rows; /* of the last transfer that ended */
} stest;

/* ---------------------------------------------------------------- nodes */

static void st_on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    snode *n = ctx;

    if (n->transfer && wc_transfer_on_message(n->transfer, from, msg, len))
        return;
    if (n->stream)
        (void)wc_stream_on_message(n->stream, from, msg, len);
}

static void st_log(void *ctx, wc_env *env, wc_env_log_level level, const char *msg)
{
    stest *t = ctx;

    (void)env;
    (void)level;
    if (strstr(msg, "resuming") != NULL)
        t->resumed++;
    if (getenv("WC_SIM_VERBOSE"))
        fprintf(stderr, "[%" PRIu64 "] %s\n", wc_sim_now(t->sim), msg);
}

static void st_node_up(stest *t, snode *n)
{
    wc_stream_options o;

    memset(&o, 0, sizeof(o));
    o.env = n->env;
    o.store = model_store_iface(n->store);
    o.codec = model_store_stream_codec(n->store, TABLE);
    o.page_rows = t->page_rows;
    o.timeout_ms = 500;
    o.progress_dir = t->dir;
    o.fs = t->ff ? wc_faultfs_fs(t->ff) : NULL;
    assert_int_equal(wc_stream_create(&o, &n->stream), WC_OK);
    assert_int_equal(wc_transfer_create(n->env, n->stream, 1000, &n->transfer), WC_OK);
    n->env->handlers.on_message = st_on_message;
    n->env->handlers.ctx = n;
}

static void st_on_node(void *ctx, wc_env *env, wc_sim_node_event ev)
{
    stest *t = ctx;
    snode *n = &t->n[wc_sim_node_index(env)];

    if (ev == WC_SIM_NODE_CRASHED) {
        model_store_drop_pending(n->store);
        wc_transfer_destroy(n->transfer);
        n->transfer = NULL;
        wc_stream_destroy(n->stream);
        n->stream = NULL;
    } else
        st_node_up(t, n);
}

static stest *st_new(uint64_t dflt, double loss, uint32_t page_rows)
{
    stest *t = calloc(1, sizeof(*t));
    wc_sim_options so;
    char cmd[600];

    t->seed = simtest_seed(dflt);
    t->page_rows = page_rows;
    snprintf(t->dir, sizeof(t->dir), "%s/stream_test.%d",
             getenv("WC_TEST_TMP") ? getenv("WC_TEST_TMP") : "/tmp", (int)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", t->dir, t->dir);
    assert_int_equal(system(cmd), 0);
    wc_sim_options_default(&so);
    so.loss = loss;
    so.on_node = st_on_node;
    so.log = st_log;
    so.ctx = t;
    assert_int_equal(wc_sim_create(t->seed, &so, &t->sim), WC_OK);
    for (int i = 0; i < 2; i++) {
        wc_addr a;
        snprintf(a.host, sizeof(a.host), "10.0.0.%d", i + 1);
        a.port = 7000;
        t->n[i].env = wc_sim_add_node(t->sim, &a);
        t->n[i].store = model_store_new();
        st_node_up(t, &t->n[i]);
    }
    return t;
}

static void st_free(stest *t)
{
    char cmd[600];

    for (int i = 0; i < 2; i++) {
        wc_transfer_destroy(t->n[i].transfer);
        wc_stream_destroy(t->n[i].stream);
        model_store_free(t->n[i].store);
    }
    wc_sim_destroy(t->sim);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    (void)system(cmd);
    free(t);
}

static void st_applied(void *arg, wc_status st)
{
    (void)arg;
    assert_int_equal(st, WC_OK);
}

static void st_apply(model_store *m, const wc_buf *b)
{
    wc_replica_store st = model_store_iface(m);

    st.ops->apply(st.ctx, b->data, b->len, st_applied, NULL);
}

/* The source's data: NPART partitions of 3 rows, one of 250 rows, a deleted cell. */
static void st_fill(stest *t)
{
    wc_buf b;
    char pk[32], ck[32], v[32];

    wc_buf_init(&b);
    for (int p = 0; p < NPART; p++)
        for (int r = 0; r < 3; r++) {
            snprintf(pk, sizeof(pk), "p%d", p);
            snprintf(ck, sizeof(ck), "c%d", r);
            snprintf(v, sizeof(v), "v%d.%d", p, r);
            model_batch_one(&b, TABLE, pk, ck, v, TS(p * 10 + r));
            st_apply(t->n[0].store, &b);
        }
    for (int r = 0; r < 250; r++) {
        snprintf(ck, sizeof(ck), "c%03d", r);
        model_batch_one(&b, TABLE, "big", ck, "x", TS(r));
        st_apply(t->n[0].store, &b);
    }
    model_batch_delete(&b, TABLE, "p5", "c1", TS(1000));
    st_apply(t->n[0].store, &b);
    wc_buf_free(&b);
}

/* Every row of the source is on the puller with the same merged blob (timestamps, tombstones). */
static void st_check_same(stest *t)
{
    char pk[32], ck[32];
    const uint8_t *a, *b;
    size_t alen, blen;

    SIM_CHECK(t->seed, model_store_count(t->n[1].store) == model_store_count(t->n[0].store),
              "puller holds %zu entries, source %zu", model_store_count(t->n[1].store),
              model_store_count(t->n[0].store));
    for (int p = 0; p <= NPART; p++)
        for (int r = 0; r < (p == NPART ? 250 : 3); r++) {
            snprintf(pk, sizeof(pk), p == NPART ? "big" : "p%d", p);
            snprintf(ck, sizeof(ck), p == NPART ? "c%03d" : "c%d", r);
            SIM_CHECK(t->seed, model_store_get(t->n[0].store, TABLE, pk, strlen(pk), ck,
                                               strlen(ck), &a, &alen),
                      "source lacks %s/%s", pk, ck);
            SIM_CHECK(t->seed, model_store_get(t->n[1].store, TABLE, pk, strlen(pk), ck,
                                               strlen(ck), &b, &blen),
                      "puller lacks %s/%s", pk, ck);
            SIM_CHECK(t->seed, alen == blen && memcmp(a, b, alen) == 0, "%s/%s differs", pk, ck);
        }
}

static void st_done(void *arg, wc_status st, const char *detail)
{
    stest *t = arg;

    (void)detail;
    t->ended++;
    t->end_st = st;
}

static const wc_stream_range st_ranges[2] = {
    {TABLE, INT64_MIN, 0, INT64_MIN, false},
    {TABLE, 0, INT64_MAX, 0, false},
};

static void st_pull(stest *t)
{
    assert_int_equal(wc_stream_pull(t->n[1].stream, "bootstrap", &t->n[0].env->self, st_ranges, 2,
                                    st_done, t),
                     WC_OK);
}

static void test_pull_whole_ring_under_loss(void **state)
{
    stest *t = st_new(41, 0.2, 40);
    wc_stream_info info[4];
    size_t n;
    char path[400];

    (void)state;
    st_fill(t);
    st_pull(t);
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    st_check_same(t);
    n = wc_stream_list(t->n[1].stream, info, 4);
    SIM_CHECK(t->seed, n == 1 && info[0].incoming && strcmp(info[0].state, "done") == 0 &&
                           info[0].ranges_done == 2 && info[0].ranges_total == 2 &&
                           info[0].rows >= NPART * 3 + 250 && info[0].bytes > 0,
              "streams view of the puller");
    n = wc_stream_list(t->n[0].stream, info, 4);
    SIM_CHECK(t->seed, n == 1 && !info[0].incoming && info[0].rows >= NPART * 3 + 250,
              "streams view of the source");
    snprintf(path, sizeof(path), "%s/bootstrap.stream", t->dir);
    SIM_CHECK(t->seed, access(path, F_OK) != 0, "the progress file is removed at the end");
    st_free(t);
}

static void test_resume_after_puller_restart(void **state)
{
    stest *t = st_new(42, 0.05, 20);
    uint64_t applies_before, applies_total;

    (void)state;
    st_fill(t);
    st_pull(t);
    /* let it stream part of the ring, then crash the puller */
    while (model_store_count(t->n[1].store) < model_store_count(t->n[0].store) / 2)
        SIM_CHECK(t->seed, wc_sim_step(t->sim), "the simulation ran dry");
    wc_sim_crash(t->sim, t->n[1].env);
    SIM_CHECK(t->seed, t->ended == 0, "a crashed session does not end");
    applies_before = model_store_applies(t->n[1].store);
    wc_sim_run_for(t->sim, 2000);
    wc_sim_restart(t->sim, t->n[1].env);
    st_pull(t);
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    SIM_CHECK(t->seed, t->resumed == 1, "the second pull resumed from the progress file");
    st_check_same(t);
    /* resumed: the pages after the crash are about the rest, not the whole ring again */
    applies_total = model_store_applies(t->n[1].store);
    SIM_CHECK(t->seed, applies_total - applies_before < applies_before + 5,
              "%" PRIu64 " pages before the crash, %" PRIu64 " after", applies_before,
              applies_total - applies_before);
    st_free(t);
}

static void test_source_restart_mid_stream(void **state)
{
    stest *t = st_new(43, 0.1, 30);

    (void)state;
    st_fill(t);
    st_pull(t);
    while (model_store_count(t->n[1].store) < model_store_count(t->n[0].store) / 3)
        SIM_CHECK(t->seed, wc_sim_step(t->sim), "the simulation ran dry");
    wc_sim_crash(t->sim, t->n[0].env);
    wc_sim_run_for(t->sim, 5000);
    SIM_CHECK(t->seed, t->ended == 0, "the puller waits for the source");
    wc_sim_restart(t->sim, t->n[0].env);
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    st_check_same(t);
    st_free(t);
}

/*
 * The power goes out under the puller mid-stream.  Its store acknowledges
 * pages before they are durable (synced every fourth apply, as a periodic
 * commit log does) and loses the rest; its progress files are on a faultfs
 * that loses what was not fsynced.  The resumed pull must not skip a page
 * the store lost: the progress file may only name pages made durable.
 */
static void test_resume_after_power_loss(void **state)
{
    stest *t = st_new(46, 0, 20);
    char root[300], cmd[700];
    wc_replica_store rs;

    (void)state;
    snprintf(root, sizeof(root), "%s.pl", t->dir);
    assert_int_equal(mkdir(root, 0700), 0);
    t->ff = wc_faultfs_new_power_loss(root);
    assert_non_null(t->ff);
    wc_stream_destroy(t->n[1].stream); /* again, with its progress on the faultfs */
    st_node_up(t, &t->n[1]);
    model_store_set_periodic(t->n[1].store, 4);
    st_fill(t);
    st_pull(t);
    while (model_store_applies(t->n[1].store) < 11)
        SIM_CHECK(t->seed, wc_sim_step(t->sim), "the simulation ran dry");
    wc_sim_crash(t->sim, t->n[1].env);
    wc_faultfs_crash(t->ff);
    model_store_power_loss(t->n[1].store);
    wc_faultfs_reset(t->ff);
    wc_sim_run_for(t->sim, 2000);
    wc_sim_restart(t->sim, t->n[1].env);
    st_pull(t);
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    SIM_CHECK(t->seed, t->resumed == 1, "the second pull resumed from the progress file");
    rs = model_store_iface(t->n[1].store);
    rs.ops->sync(rs.ctx, st_applied, NULL); /* the last pages, before comparing */
    st_check_same(t);
    wc_stream_destroy(t->n[1].stream);
    t->n[1].stream = NULL;
    wc_faultfs_free(t->ff);
    st_free(t);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    (void)system(cmd);
}

static void test_source_gone_fails(void **state)
{
    stest *t = st_new(44, 0, 30);

    (void)state;
    st_fill(t);
    wc_sim_crash(t->sim, t->n[0].env);
    st_pull(t);
    wc_sim_run_for(t->sim, 60000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_TIMEOUT, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    st_free(t);
}

/*
 * Malformed or stray messages are dropped: short pages and requests, a page
 * of a session nobody runs, a request of an empty range, an unused type of
 * the range (consumed), a type outside it (not consumed); the pull still
 * ends with the source's data.
 */
static void test_malformed_messages_dropped(void **state)
{
    stest *t = st_new(45, 0, 25);
    uint8_t m[64];
    wc_addr other = {"10.0.0.9", 7000};

    (void)state;
    st_fill(t);
    st_pull(t);
    for (int round = 0; round < 40 && t->ended == 0; round++) {
        wc_stream *dst = t->n[1].stream, *src = t->n[0].stream;
        const wc_addr *from = &t->n[0].env->self;

        memset(m, 0, sizeof(m));
        m[0] = WC_MSG_STREAM_PAGE;
        assert_true(wc_stream_on_message(dst, from, m, 5));  /* short */
        assert_true(wc_stream_on_message(dst, from, m, 20)); /* short head */
        for (int i = 1; i < 9; i++)
            m[i] = 0xff;                                     /* a session nobody runs */
        assert_true(wc_stream_on_message(dst, from, m, WC_STREAM_PAGE_HEAD_LEN + 3));
        m[0] = 70; /* a type of the range nobody uses */
        assert_true(wc_stream_on_message(dst, from, m, 10));
        m[0] = WC_MSG_STREAM_REQ;
        assert_true(wc_stream_on_message(src, &other, m, WC_STREAM_REQ_LEN - 1));
        memset(m + 1, 0, sizeof(m) - 1); /* (0, 0]: an empty range */
        assert_true(wc_stream_on_message(src, &other, m, WC_STREAM_REQ_LEN));
        m[0] = 1;
        assert_false(wc_stream_on_message(dst, from, m, 10));
        wc_sim_run_for(t->sim, 20);
    }
    wc_sim_run_for(t->sim, 60000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    st_check_same(t);
    st_free(t);
}

/* ---------------------------------------------------------------- range transfers */

static void st_transferred(void *arg, wc_status st, uint64_t rows, uint64_t bytes,
                           const char *detail)
{
    stest *t = arg;

    (void)bytes;
    (void)detail;
    t->ended++;
    t->end_st = st;
    t->rows = rows;
}

/* Node `asker` asks node `target` to pull the whole ring from node `source`. */
static void st_ask(stest *t, int asker, int target, int source, uint64_t timeout_ms)
{
    assert_int_equal(wc_transfer_ask(t->n[asker].transfer, &t->n[target].env->self, "leave-x",
                                     &t->n[source].env->self, st_ranges, 2, timeout_ms,
                                     st_transferred, t),
                     WC_OK);
}

static void test_transfer_under_loss(void **state)
{
    stest *t = st_new(46, 0.2, 40);
    uint64_t applies;

    (void)state;
    st_fill(t);
    st_ask(t, 0, 1, 0, 600000); /* decommission: the new owner pulls from the leaving node */
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    SIM_CHECK(t->seed, t->rows >= NPART * 3 + 250, "the target reported %" PRIu64 " rows",
              t->rows);
    st_check_same(t);
    /* asked again with the same ranges: answered from the kept outcome, nothing pulled */
    applies = model_store_applies(t->n[1].store);
    st_ask(t, 0, 1, 0, 600000);
    wc_sim_run_for(t->sim, 20000);
    SIM_CHECK(t->seed, t->ended == 2 && t->end_st == WC_OK && t->rows >= NPART * 3 + 250,
              "ended %d: %s", t->ended, wc_status_name(t->end_st));
    SIM_CHECK(t->seed, model_store_applies(t->n[1].store) == applies, "a repeated ask pulled again");
    st_free(t);
}

static void test_transfer_to_self(void **state)
{
    stest *t = st_new(47, 0.05, 40);

    (void)state;
    st_fill(t);
    st_ask(t, 1, 1, 0, 600000); /* removenode: the node running it is a new owner */
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    st_check_same(t);
    st_free(t);
}

static void test_transfer_target_restarts(void **state)
{
    stest *t = st_new(48, 0.05, 20);

    (void)state;
    st_fill(t);
    st_ask(t, 0, 1, 0, 600000);
    while (model_store_count(t->n[1].store) < model_store_count(t->n[0].store) / 2)
        SIM_CHECK(t->seed, wc_sim_step(t->sim), "the simulation ran dry");
    wc_sim_crash(t->sim, t->n[1].env);
    wc_sim_run_for(t->sim, 3000);
    SIM_CHECK(t->seed, t->ended == 0, "the asker waits for the target");
    wc_sim_restart(t->sim, t->n[1].env);
    wc_sim_run_for(t->sim, 120000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_OK, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    SIM_CHECK(t->seed, t->resumed == 1, "the repeated ask resumed the pull");
    st_check_same(t);
    st_free(t);
}

static void test_transfer_target_gone_times_out(void **state)
{
    stest *t = st_new(49, 0, 30);

    (void)state;
    st_fill(t);
    wc_sim_crash(t->sim, t->n[1].env);
    st_ask(t, 0, 1, 0, 20000);
    wc_sim_run_for(t->sim, 15000);
    SIM_CHECK(t->seed, t->ended == 0, "ended before the timeout");
    wc_sim_run_for(t->sim, 10000);
    SIM_CHECK(t->seed, t->ended == 1 && t->end_st == WC_TIMEOUT, "ended %d: %s", t->ended,
              wc_status_name(t->end_st));
    /* bad asks are refused at once */
    assert_int_equal(wc_transfer_ask(t->n[0].transfer, &t->n[1].env->self, "x",
                                     &t->n[0].env->self, st_ranges, 0, 1000, st_transferred, t),
                     WC_INVALID_ARGUMENT);
    st_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_under_loss),
        cmocka_unit_test(test_transfer_to_self),
        cmocka_unit_test(test_transfer_target_restarts),
        cmocka_unit_test(test_transfer_target_gone_times_out),
        cmocka_unit_test(test_pull_whole_ring_under_loss),
        cmocka_unit_test(test_resume_after_puller_restart),
        cmocka_unit_test(test_source_restart_mid_stream),
        cmocka_unit_test(test_source_gone_fails),
        cmocka_unit_test(test_resume_after_power_loss),
        cmocka_unit_test(test_malformed_messages_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
