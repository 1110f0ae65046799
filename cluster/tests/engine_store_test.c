/*
 * engine_store_test.c - three real engines in one process, each the replica
 * store (engine_store.h) of a coordinator in the simulator: a QUORUM write
 * read back through another coordinator; a replica that missed writes and
 * deletes (partitioned away, no hints) is repaired by a read, after which
 * its raw result equals the others' byte for byte; paged reads (one
 * partition, both orders; a token-order scan) return every live row exactly
 * once, planned and cut by wc_engine_store_plan / _page; the threaded store
 * hands results back through post and drains on destroy; counter increments
 * through every coordinator, one replica cut off for some, are applied by
 * leader replicas (wc_engine_apply_counter) and read back exactly, the
 * shards merged and repaired.  Each test prints
 * its seed; WC_SIM_SEED replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "counter.h"
#include "engine_store.h"
#include "keys.h"
#include "mutation.h"
#include "ring.h"
#include "sim.h"
#include "simtest.h"
#include "testutil.h"

#define ES_TABLE 7
#define NN 3
#define NOW 1700000000u
#define TS(n) (1767225600000000LL + (int64_t)(n))

typedef struct esim esim;

typedef struct enode {
    esim *es;
    uint32_t idx;
    wc_env *env;
    wc_coord *coord;
    char *dir;
    wc_engine *e;
    wc_engine_store *store;
} enode;

struct esim {
    uint64_t seed;
    wc_sim *sim;
    enode nodes[NN];
    wc_ring *ring;
    wc_replication repl;
};

static bool es_is_alive(void *ctx, const wc_ring_member *m)
{
    enode *n = ctx;
    uint32_t i = m->host_id[0];

    return i < NN && wc_sim_is_up(n->es->nodes[i].env);
}

static wc_status es_replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    enode *n = ctx;

    if (table_id != ES_TABLE)
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    *out = n->es->repl;
    return WC_OK;
}

static void es_on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    enode *n = ctx;

    wc_coord_on_message(n->coord, from, msg, len);
}

static esim *es_new(uint64_t dflt)
{
    esim *es = calloc(1, sizeof(*es));
    wc_sim_options so;
    wc_ring_member m[NN];
    int64_t tokens[NN][8];
    uint64_t rs;

    es->seed = simtest_seed(dflt);
    rs = es->seed;
    printf("seed=%" PRIu64 "\n", es->seed);
    memset(m, 0, sizeof(m));
    wc_sim_options_default(&so);
    assert_int_equal(wc_sim_create(es->seed, &so, &es->sim), WC_OK);
    es->repl.cls = WC_REPL_SIMPLE;
    es->repl.replication_factor = NN;
    for (uint32_t i = 0; i < NN; i++) {
        enode *n = &es->nodes[i];
        wc_table_def d;

        n->es = es;
        n->idx = i;
        n->dir = wc_test_tmpdir("engine_store");
        assert_non_null(n->dir);
        assert_int_equal(wc_test_open(n->dir, WC_SYNC_PERIODIC, 1u << 20, &n->e), WC_OK);
        wc_table_def_default(&d);
        d.id = ES_TABLE;
        snprintf(d.name, sizeof(d.name), "ks.t");
        assert_int_equal(wc_engine_create_table(n->e, &d), WC_OK);
        m[i].host_id[0] = (uint8_t)i;
        m[i].host_id[2] = 0xee;
        snprintf(m[i].addr.host, sizeof(m[i].addr.host), "10.3.0.%u", i + 1);
        m[i].addr.port = 7000;
        snprintf(m[i].dc, sizeof(m[i].dc), "dc1");
        snprintf(m[i].rack, sizeof(m[i].rack), "r1");
        for (int t = 0; t < 8; t++) {
            rs = rs * 6364136223846793005ull + 1442695040888963407ull;
            tokens[i][t] = (int64_t)(rs ^ (rs >> 29));
        }
        m[i].tokens = tokens[i];
        m[i].ntokens = 8;
        assert_non_null(n->env = wc_sim_add_node(es->sim, &m[i].addr));
    }
    assert_int_equal(wc_ring_build(m, NN, &es->ring), WC_OK);
    for (uint32_t i = 0; i < NN; i++) {
        enode *n = &es->nodes[i];
        wc_coord_options o;

        assert_int_equal(wc_engine_store_create(n->e, n->env, 0, &n->store), WC_OK);
        memset(&o, 0, sizeof(o));
        o.env = n->env;
        o.self_id[0] = (uint8_t)i;
        o.self_id[2] = 0xee;
        snprintf(o.self_dc, sizeof(o.self_dc), "dc1");
        o.store = wc_engine_store_get(n->store);
        o.is_alive = es_is_alive;
        o.replication = es_replication;
        o.ctx = n;
        assert_int_equal(wc_coord_create(&o, &n->coord), WC_OK);
        wc_coord_set_ring(n->coord, es->ring);
        n->env->handlers = (wc_env_handlers){es_on_message, NULL, n};
    }
    return es;
}

static void es_free(esim *es)
{
    wc_sim_run_for(es->sim, 3000); /* repairs and posts still in flight */
    for (uint32_t i = 0; i < NN; i++) {
        enode *n = &es->nodes[i];

        wc_engine_store_destroy(n->store); /* drained before its coordinator */
        wc_coord_destroy(n->coord);
        wc_engine_close(n->e);
        wc_test_rmrf(n->dir);
        free(n->dir);
    }
    wc_ring_unref(es->ring);
    wc_sim_destroy(es->sim);
    free(es);
}

/* ---------------------------------------------------------------- writes */

typedef struct es_wait {
    bool done;
    wc_coord_result res;
    wc_buf data;
} es_wait;

static void es_write_done(void *arg, const wc_coord_result *res)
{
    es_wait *w = arg;

    w->res = *res;
    w->done = true;
}

static void es_read_done(void *arg, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    es_wait *w = arg;

    w->res = *res;
    wc_buf_reset(&w->data);
    wc_buf_append(&w->data, data, len);
    w->done = true;
}

static void es_wait_for(esim *es, es_wait *w)
{
    uint64_t end = wc_sim_now(es->sim) + 60000;

    while (!w->done && wc_sim_now(es->sim) < end)
        wc_sim_run_for(es->sim, 1);
    SIM_CHECK(es->seed, w->done, "request never ended");
}

static wc_batch_builder bb;

/* Row ck of pk: liveness and column 1 = val at ts. */
static void b_row(const char *pk, uint64_t ck, int64_t ts, const char *val)
{
    wc_mutation *m = wc_batch_builder_begin(&bb, ES_TABLE, pk, strlen(pk));
    wc_cell c = {.column = 1, .ts = ts, .value = (const uint8_t *)val, .len = strlen(val)};
    uint8_t k[8];
    wc_rowb *rb;

    wc_test_ck(ck, k);
    rb = wc_mutation_row_begin(m, false, k, 8);
    wc_rowb_liveness(rb, ts, 0, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
}

static void b_row_del(const char *pk, uint64_t ck, int64_t ts)
{
    wc_mutation *m = wc_batch_builder_begin(&bb, ES_TABLE, pk, strlen(pk));
    uint8_t k[8];
    wc_rowb *rb;

    wc_test_ck(ck, k);
    rb = wc_mutation_row_begin(m, false, k, 8);
    wc_rowb_deletion(rb, ts, NOW);
    wc_mutation_row_end(m);
    assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
}

static void b_range_del(const char *pk, uint64_t lo, uint64_t hi, int64_t ts)
{
    wc_mutation *m = wc_batch_builder_begin(&bb, ES_TABLE, pk, strlen(pk));
    uint8_t a[8], b[8];
    wc_range_tombstone rt = {.bflags = WC_BOUND_START_INCL | WC_BOUND_END_INCL,
                             .start = a, .start_len = 8, .end = b, .end_len = 8,
                             .ts = ts, .ldt = NOW};

    wc_test_ck(lo, a);
    wc_test_ck(hi, b);
    wc_mutation_delete_range(m, &rt);
    assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
}

static void b_part_del(const char *pk, int64_t ts)
{
    wc_mutation *m = wc_batch_builder_begin(&bb, ES_TABLE, pk, strlen(pk));

    wc_mutation_delete_partition(m, ts, NOW);
    assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
}

/* Write the batch built so far through node i's coordinator at cl. */
static wc_coord_result es_write(esim *es, uint32_t i, wc_consistency cl)
{
    const uint8_t *rec;
    size_t len;
    es_wait w;

    memset(&w, 0, sizeof(w));
    assert_int_equal(wc_batch_builder_finish(&bb, &rec, &len), WC_OK);
    wc_coord_write(es->nodes[i].coord, ES_TABLE, rec, len, cl, 1000, es_write_done, &w);
    wc_batch_builder_reset(&bb);
    es_wait_for(es, &w);
    return w.res;
}

/* ---------------------------------------------------------------- reads */

static void req_init(wc_read_request *q, const char *pk, size_t page_rows)
{
    memset(q, 0, sizeof(*q));
    q->table_id = ES_TABLE;
    q->pk = (const uint8_t *)pk;
    q->pk_len = pk ? strlen(pk) : 0;
    q->start.unbounded = q->end.unbounded = true;
    q->page_rows = page_rows;
    q->now_sec = NOW;
}

/* The reader's pending writes merged into every page es_page builds (none: NULL). */
static const uint8_t *es_overlay;
static size_t es_overlay_len;

/* One client page of q through node i's coordinator at cl (plan, coordinate, cut). */
static wc_page *es_page(esim *es, uint32_t i, const wc_read_request *q, wc_consistency cl,
                        uint32_t *repairs)
{
    wc_store_read pl;
    wc_page *p = NULL;
    es_wait w;

    memset(&w, 0, sizeof(w));
    wc_buf_init(&w.data);
    assert_int_equal(wc_engine_store_plan(q, &pl), WC_OK);
    if (pl.token_range)
        wc_coord_scan(es->nodes[i].coord, &pl, cl, 1000, es_read_done, &w);
    else
        wc_coord_read(es->nodes[i].coord, &pl, cl, 1000, es_read_done, &w);
    es_wait_for(es, &w);
    SIM_CHECK(es->seed, w.res.status == WC_OK, "read: %s", w.res.detail);
    if (repairs)
        *repairs += w.res.repairs;
    assert_int_equal(wc_engine_store_page(es->nodes[i].e, q, w.data.data, w.data.len, es_overlay,
                                           es_overlay_len, &p), WC_OK);
    wc_buf_free(&w.data);
    return p;
}

/* Append "pk/ck=value" of every row of p to out. */
static void page_append(const wc_page *p, char *out, size_t cap)
{
    for (size_t k = 0; k < p->nrows; k++) {
        const wc_result_row *r = &p->rows[k];
        const wc_cell *c = wc_test_cell(r, 1);
        size_t used = strlen(out);

        snprintf(out + used, cap - used, "%s%.*s/%llu=%.*s", used ? "," : "", (int)r->pk_len,
                 (const char *)r->pk, (unsigned long long)wc_test_ck_value(r->ck, r->ck_len),
                 c ? (int)c->len : 1, c ? (const char *)c->value : "-");
    }
}

/*
 * Every page of q (at most 500) through node i, joined into out; returns
 * the pages.  A limit is what is left of it for each page (q->limit ends 0).
 */
static int es_read_all(esim *es, uint32_t i, wc_read_request *q, wc_consistency cl, char *out,
                       size_t cap, uint32_t *repairs)
{
    uint8_t *ps = NULL;
    int pages = 0;

    out[0] = '\0';
    q->paging_state = NULL;
    q->paging_state_len = 0;
    for (;;) {
        wc_page *p = es_page(es, i, q, cl, repairs);
        bool more = p->more;

        if (q->limit) { /* what is left of the limit, as a client asks */
            q->limit = p->nrows >= q->limit ? 0 : q->limit - p->nrows;
            more = more && q->limit > 0;
        }

        page_append(p, out, cap);
        free(ps);
        ps = NULL;
        if (more) {
            ps = malloc(p->paging_state_len);
            memcpy(ps, p->paging_state, p->paging_state_len);
            q->paging_state = ps;
            q->paging_state_len = p->paging_state_len;
        }
        wc_page_free(p);
        pages++;
        SIM_CHECK(es->seed, pages < 500, "paging never ends");
        if (!more)
            break;
    }
    q->paging_state = NULL;
    return pages;
}

/* The raw result of a whole-partition read of pk on node i into out. */
static void es_raw(esim *es, uint32_t i, const char *pk, wc_buf *out)
{
    wc_store_read r;
    uint8_t d[16];

    memset(&r, 0, sizeof(r));
    r.table_id = ES_TABLE;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    r.now_sec = NOW;
    wc_buf_reset(out);
    assert_int_equal(wc_engine_read_raw(es->nodes[i].e, &r, out, d), WC_OK);
}

static bool es_raw_equal(esim *es, const char *pk, uint32_t a, uint32_t b)
{
    wc_buf x, y;
    bool eq;

    wc_buf_init(&x);
    wc_buf_init(&y);
    es_raw(es, a, pk, &x);
    es_raw(es, b, pk, &y);
    eq = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    wc_buf_free(&x);
    wc_buf_free(&y);
    return eq;
}

/* ---------------------------------------------------------------- tests */

static void test_quorum_write_read_elsewhere(void **state)
{
    esim *es = es_new(31);
    wc_read_request q;
    wc_coord_result res;
    char got[256];

    (void)state;
    b_row("alice", 1, TS(1), "hello");
    res = es_write(es, 0, WC_CL_QUORUM);
    SIM_CHECK(es->seed, res.status == WC_OK && res.acked >= 2, "write: %s", res.detail);
    req_init(&q, "alice", 0);
    es_read_all(es, 2, &q, WC_CL_QUORUM, got, sizeof(got), NULL);
    SIM_CHECK(es->seed, strcmp(got, "alice/1=hello") == 0, "read '%s'", got);
    /* a newer write wins, an older one does not */
    b_row("alice", 1, TS(5), "newer");
    es_write(es, 1, WC_CL_QUORUM);
    b_row("alice", 1, TS(3), "older");
    es_write(es, 2, WC_CL_QUORUM);
    es_read_all(es, 0, &q, WC_CL_ALL, got, sizeof(got), NULL);
    SIM_CHECK(es->seed, strcmp(got, "alice/1=newer") == 0, "read '%s'", got);
    /* the trace of a QUORUM read on node 2: itself first (the data), then another replica */
    {
        wc_store_read pl;
        es_wait w;

        memset(&w, 0, sizeof(w));
        wc_buf_init(&w.data);
        assert_int_equal(wc_engine_store_plan(&q, &pl), WC_OK);
        wc_coord_read(es->nodes[2].coord, &pl, WC_CL_QUORUM, 1000, es_read_done, &w);
        es_wait_for(es, &w);
        SIM_CHECK(es->seed, w.res.status == WC_OK && w.res.ntrace == 2, "trace of %u replicas",
                  w.res.ntrace);
        SIM_CHECK(es->seed,
                  strcmp(w.res.trace[0].addr.host, "10.3.0.3") == 0 && w.res.trace[0].asks >= 1 &&
                      w.res.trace[0].answers == w.res.trace[0].asks && w.res.trace[0].bytes > 0,
                  "this node's part: %s asked %u", w.res.trace[0].addr.host, w.res.trace[0].asks);
        SIM_CHECK(es->seed, w.res.trace[1].answers >= 1 && w.res.trace[1].us > 0,
                  "the other replica: %u answers in %llu us", w.res.trace[1].answers,
                  (unsigned long long)w.res.trace[1].us);
        wc_buf_free(&w.data);
    }
    es_free(es);
}

/*
 * Node 2 is cut off while the others take an update, a row deletion, a
 * range tombstone and a partition deletion: reads through node 2 return the
 * newer state, repair node 2, and its raw results equal the others'.
 */
static void test_lagging_replica_repaired(void **state)
{
    esim *es = es_new(32);
    int group[NN] = {0, 0, 1};
    wc_read_request q;
    wc_coord_result res;
    uint32_t repairs = 0;
    char got[512];

    (void)state;
    for (uint64_t ck = 1; ck <= 5; ck++)
        b_row("p", ck, TS(1), "old");
    b_row("q", 1, TS(1), "old");
    b_row("q", 2, TS(1), "old");
    res = es_write(es, 0, WC_CL_ALL);
    SIM_CHECK(es->seed, res.status == WC_OK, "write: %s", res.detail);
    assert_int_equal(wc_engine_flush(es->nodes[2].e, ES_TABLE, true), WC_OK);
    wc_sim_partition(es->sim, group, NN);
    b_row("p", 1, TS(5), "new");
    b_row_del("p", 2, TS(5));
    b_range_del("p", 3, 4, TS(5));
    b_part_del("q", TS(5));
    b_row("q", 3, TS(6), "after");
    res = es_write(es, 0, WC_CL_QUORUM);
    SIM_CHECK(es->seed, res.status == WC_OK, "write: %s", res.detail);
    wc_sim_run_for(es->sim, 3000); /* the write's timeout passes: no hints here */
    wc_sim_heal(es->sim);
    SIM_CHECK(es->seed, !es_raw_equal(es, "p", 0, 2), "node 2 was not cut off");
    SIM_CHECK(es->seed, !es_raw_equal(es, "q", 0, 2), "node 2 was not cut off");
    /* node 2 coordinates: its own stale data loses to the newer writes and tombstones */
    req_init(&q, "p", 0);
    es_read_all(es, 2, &q, WC_CL_QUORUM, got, sizeof(got), &repairs);
    SIM_CHECK(es->seed, strcmp(got, "p/1=new,p/5=old") == 0, "read '%s'", got);
    req_init(&q, "q", 0);
    es_read_all(es, 2, &q, WC_CL_QUORUM, got, sizeof(got), &repairs);
    SIM_CHECK(es->seed, strcmp(got, "q/3=after") == 0, "read '%s'", got);
    SIM_CHECK(es->seed, repairs >= 2, "repairs %u", repairs);
    /* blocking repair: node 2's raw results now equal the others' */
    for (uint32_t i = 1; i < NN; i++) {
        SIM_CHECK(es->seed, es_raw_equal(es, "p", 0, i), "node %u not repaired (p)", i);
        SIM_CHECK(es->seed, es_raw_equal(es, "q", 0, i), "node %u not repaired (q)", i);
    }
    /* the digests agree now: no more repair */
    repairs = 0;
    req_init(&q, "p", 0);
    es_read_all(es, 2, &q, WC_CL_ALL, got, sizeof(got), &repairs);
    SIM_CHECK(es->seed, repairs == 0, "repaired again: %u", repairs);
    es_free(es);
}

/* Paged reads: every live row exactly once, in order, with node 2 lagging behind. */
static void test_paged_reads(void **state)
{
    esim *es = es_new(33);
    int group[NN] = {0, 0, 1};
    wc_read_request q;
    char pk[16], got[8192], want[8192] = "";
    uint32_t repairs = 0;
    int pages;

    (void)state;
    /* one partition of 9 rows, two of them deleted on nodes 0 and 1 only */
    for (uint64_t ck = 1; ck <= 9; ck++)
        b_row("big", ck, TS(1), "v");
    es_write(es, 0, WC_CL_ALL);
    wc_sim_partition(es->sim, group, NN);
    b_row_del("big", 3, TS(2));
    b_row_del("big", 4, TS(2));
    es_write(es, 0, WC_CL_QUORUM);
    wc_sim_run_for(es->sim, 3000);
    wc_sim_heal(es->sim);
    req_init(&q, "big", 2);
    pages = es_read_all(es, 2, &q, WC_CL_QUORUM, got, sizeof(got), &repairs);
    SIM_CHECK(es->seed, strcmp(got, "big/1=v,big/2=v,big/5=v,big/6=v,big/7=v,big/8=v,big/9=v") == 0,
              "forward '%s'", got);
    SIM_CHECK(es->seed, pages >= 4, "%d pages", pages);
    q.reverse = true;
    es_read_all(es, 1, &q, WC_CL_QUORUM, got, sizeof(got), &repairs);
    SIM_CHECK(es->seed, strcmp(got, "big/9=v,big/8=v,big/7=v,big/6=v,big/5=v,big/2=v,big/1=v") == 0,
              "reverse '%s'", got);
    q.reverse = false;
    q.per_partition_limit = 3;
    es_read_all(es, 0, &q, WC_CL_QUORUM, got, sizeof(got), &repairs);
    SIM_CHECK(es->seed, strcmp(got, "big/1=v,big/2=v,big/5=v") == 0, "per-partition '%s'", got);

    /* a token-order scan of 30 partitions; the last ten missed node 2 */
    for (int k = 0; k < 30; k++) {
        snprintf(pk, sizeof(pk), "s%02d", k);
        if (k == 20)
            wc_sim_partition(es->sim, group, NN);
        b_row(pk, 1, TS(k), "a");
        b_row(pk, 2, TS(k), "b");
        if (k % 7 == 0)
            b_row_del(pk, 1, TS(k + 1));
        SIM_CHECK(es->seed, es_write(es, (uint32_t)k % 2, WC_CL_QUORUM).status == WC_OK,
                  "write %s", pk);
    }
    wc_sim_run_for(es->sim, 3000);
    wc_sim_heal(es->sim);
    /* what every row should be, in token order: an ALL scan in one page */
    req_init(&q, NULL, 1000);
    es_read_all(es, 0, &q, WC_CL_ALL, want, sizeof(want), NULL);
    SIM_CHECK(es->seed, strstr(want, "s00/1=") == NULL && strstr(want, "s00/2=b") != NULL &&
                            strstr(want, "s29/2=b") != NULL,
              "ALL scan '%s'", want);
    for (uint32_t page_rows = 1; page_rows <= 7; page_rows += 3) {
        req_init(&q, NULL, page_rows);
        pages = es_read_all(es, 2, &q, WC_CL_QUORUM, got, sizeof(got), &repairs);
        SIM_CHECK(es->seed, strcmp(got, want) == 0, "page_rows %u:\n'%s'\nwant\n'%s'", page_rows,
                  got, want);
        SIM_CHECK(es->seed, pages > 1, "one page");
    }
    /* the scan's limit */
    req_init(&q, NULL, 4);
    q.limit = 3;
    {
        wc_page *p = es_page(es, 0, &q, WC_CL_QUORUM, NULL);

        SIM_CHECK(es->seed, p->nrows == 3 && !p->more, "limit: %zu rows, more %d", p->nrows,
                  p->more);
        wc_page_free(p);
    }
    es_free(es);
}

/* Every row of q read on node i's engine alone, merged with the overlay, in one page. */
static void es_local_overlay(esim *es, uint32_t i, const wc_read_request *q, char *out, size_t cap)
{
    wc_read_request one = *q;
    wc_page *p = NULL;

    one.page_rows = 100000;
    one.paging_state = NULL;
    assert_int_equal(wc_engine_read_overlay(es->nodes[i].e, &one, es_overlay, es_overlay_len,
                                            false, &p),
                     WC_OK);
    out[0] = '\0';
    page_append(p, out, cap);
    SIM_CHECK(es->seed, !p->more, "one page expected");
    wc_page_free(p);
}

/*
 * Read your writes on a cluster: a transaction's pending writes (row
 * deletes, a range delete, a partition delete, updates, new rows) merged
 * into coordinated paged reads give what the same read on one node gives.
 * Small pages cut the replicas' answer before rows the overlay deletes or
 * adds; the overlay's rows past the cut must wait for the next page.
 */
static void test_paged_reads_with_overlay(void **state)
{
    esim *es = es_new(34);
    wc_read_request q;
    char pk[16], got[8192], want[8192];
    const uint8_t *rec;
    size_t len;
    wc_buf ov;

    (void)state;
    for (uint64_t ck = 1; ck <= 10; ck++)
        b_row("p", ck, TS(1), "v");
    for (int k = 0; k < 12; k++) {
        snprintf(pk, sizeof(pk), "s%02d", k);
        b_row(pk, 1, TS(1), "a");
        b_row(pk, 2, TS(1), "b");
    }
    SIM_CHECK(es->seed, es_write(es, 0, WC_CL_ALL).status == WC_OK, "write");
    /* the pending writes: newer than the stored rows */
    b_row_del("p", 2, TS(10));
    b_row_del("p", 3, TS(10));
    b_range_del("p", 5, 6, TS(10));
    b_row("p", 8, TS(10), "new");
    b_row("p", 0, TS(10), "ins");
    b_row("p", 12, TS(10), "ins");
    b_part_del("s03", TS(10));
    b_row_del("s05", 1, TS(10));
    b_row("s07", 3, TS(10), "c");
    b_row("t00", 1, TS(10), "n");
    b_row("t01", 1, TS(10), "n");
    assert_int_equal(wc_batch_builder_finish(&bb, &rec, &len), WC_OK);
    wc_buf_init(&ov);
    wc_buf_append(&ov, rec, len);
    wc_batch_builder_reset(&bb);
    es_overlay = ov.data;
    es_overlay_len = ov.len;
    for (uint32_t page_rows = 1; page_rows <= 5; page_rows += 2) {
        req_init(&q, "p", page_rows);
        es_local_overlay(es, 0, &q, want, sizeof(want));
        SIM_CHECK(es->seed,
                  strcmp(want, "p/0=ins,p/1=v,p/4=v,p/7=v,p/8=new,p/9=v,p/10=v,p/12=ins") == 0,
                  "one node '%s'", want);
        es_read_all(es, 1, &q, WC_CL_QUORUM, got, sizeof(got), NULL);
        SIM_CHECK(es->seed, strcmp(got, want) == 0, "page_rows %u forward:\n'%s'\nwant\n'%s'",
                  page_rows, got, want);
        q.reverse = true;
        es_local_overlay(es, 0, &q, want, sizeof(want));
        es_read_all(es, 1, &q, WC_CL_QUORUM, got, sizeof(got), NULL);
        SIM_CHECK(es->seed, strcmp(got, want) == 0, "page_rows %u reverse:\n'%s'\nwant\n'%s'",
                  page_rows, got, want);
        /* a limit and a per-partition limit over a token-order scan */
        req_init(&q, NULL, page_rows);
        es_local_overlay(es, 0, &q, want, sizeof(want));
        SIM_CHECK(es->seed, strstr(want, "s03/") == NULL && strstr(want, "t01/1=n") != NULL,
                  "one node scan '%s'", want);
        es_read_all(es, 2, &q, WC_CL_QUORUM, got, sizeof(got), NULL);
        SIM_CHECK(es->seed, strcmp(got, want) == 0, "page_rows %u scan:\n'%s'\nwant\n'%s'",
                  page_rows, got, want);
        q.per_partition_limit = 1;
        es_local_overlay(es, 0, &q, want, sizeof(want));
        es_read_all(es, 0, &q, WC_CL_QUORUM, got, sizeof(got), NULL);
        SIM_CHECK(es->seed, strcmp(got, want) == 0,
                  "page_rows %u per-partition limit:\n'%s'\nwant\n'%s'", page_rows, got, want);
    }
    /* LIMIT 4 of the partition, in pages of 2: rows the overlay deletes do not count */
    req_init(&q, "p", 2);
    q.limit = 4;
    es_read_all(es, 1, &q, WC_CL_QUORUM, got, sizeof(got), NULL);
    SIM_CHECK(es->seed, strcmp(got, "p/0=ins,p/1=v,p/4=v,p/7=v") == 0, "limit '%s'", got);
    es_overlay = NULL;
    es_overlay_len = 0;
    wc_buf_free(&ov);
    es_free(es);
}

/* ---------------------------------------------------------------- threads */

/* A loop for the threaded store: post queues, the test thread runs. */
typedef struct tloop {
    pthread_mutex_t mu;
    struct tpost {
        wc_env_cb cb;
        void *arg;
    } q[256];
    size_t n;
    bool stopped;
} tloop;

static wc_status tl_post(wc_env *env, wc_env_cb cb, void *arg)
{
    tloop *l = env->impl;
    wc_status st = WC_OK;

    pthread_mutex_lock(&l->mu);
    if (l->stopped || l->n == 256)
        st = WC_UNAVAILABLE;
    else
        l->q[l->n++] = (struct tpost){cb, arg};
    pthread_mutex_unlock(&l->mu);
    return st;
}

/* Run what was posted; returns how many. */
static size_t tl_run(tloop *l)
{
    struct tpost q[256];
    size_t n;

    pthread_mutex_lock(&l->mu);
    n = l->n;
    memcpy(q, l->q, n * sizeof(*q));
    l->n = 0;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n; i++)
        q[i].cb(q[i].arg);
    return n;
}

static int applied, read_ok;

static void t_apply_done(void *arg, wc_status st)
{
    (void)arg;
    applied += st == WC_OK;
}

static void t_read_done(void *arg, wc_status st, const uint8_t *raw, size_t len,
                        const uint8_t digest[16])
{
    uint8_t d[16];

    (void)arg;
    if (st == WC_OK) {
        wc_raw_digest(raw, len, d);
        read_ok += memcmp(d, digest, 16) == 0;
    }
}

static void test_threaded_store(void **state)
{
    static const wc_env_ops ops = {.post = tl_post};
    tloop l = {.n = 0};
    wc_env env = {.ops = &ops, .impl = &l};
    wc_engine_store *s;
    wc_replica_store rs;
    wc_store_read r;
    char *dir = wc_test_tmpdir("engine_store_t");
    wc_engine *e;
    wc_table_def d;
    const uint8_t *rec;
    size_t len, delivered = 0;

    (void)state;
    pthread_mutex_init(&l.mu, NULL);
    applied = read_ok = 0;
    assert_int_equal(wc_test_open(dir, WC_SYNC_PERIODIC, 1u << 20, &e), WC_OK);
    wc_table_def_default(&d);
    d.id = ES_TABLE;
    assert_int_equal(wc_engine_create_table(e, &d), WC_OK);
    assert_int_equal(wc_engine_store_create(e, &env, 3, &s), WC_OK);
    rs = wc_engine_store_get(s);
    b_row("t", 1, TS(1), "x");
    assert_int_equal(wc_batch_builder_finish(&bb, &rec, &len), WC_OK);
    memset(&r, 0, sizeof(r));
    r.table_id = ES_TABLE;
    r.pk = (const uint8_t *)"t";
    r.pk_len = 1;
    r.start.unbounded = r.end.unbounded = true;
    /* completions arrive only through the loop */
    for (int i = 0; i < 10; i++)
        rs.ops->apply(rs.ctx, rec, len, t_apply_done, NULL);
    for (int spin = 0; spin < 5000 && delivered < 10; spin++) {
        struct timespec ts = {0, 1000000};

        assert_int_equal(applied, (int)delivered);
        delivered += tl_run(&l);
        if (delivered < 10)
            nanosleep(&ts, NULL);
    }
    assert_int_equal(delivered, 10);
    assert_int_equal(applied, 10);
    /* destroy drains: work queued or posted but not delivered completes before it returns */
    for (int i = 0; i < 10; i++)
        rs.ops->apply(rs.ctx, rec, len, t_apply_done, NULL);
    for (int i = 0; i < 10; i++)
        rs.ops->read(rs.ctx, &r, t_read_done, NULL);
    wc_batch_builder_reset(&bb);
    wc_engine_store_destroy(s);
    assert_int_equal(applied, 20);
    assert_int_equal(read_ok, 10);
    assert_int_equal(tl_run(&l), 20); /* the late posts only free their jobs */
    assert_int_equal(applied, 20);
    wc_engine_close(e);
    wc_test_rmrf(dir);
    free(dir);
    pthread_mutex_destroy(&l.mu);
}

/* Row ck of pk: column 1 += delta (a counter delta cell) at ts. */
static void b_incr(const char *pk, uint64_t ck, int64_t delta, int64_t ts)
{
    wc_mutation *m = wc_batch_builder_begin(&bb, ES_TABLE, pk, strlen(pk));
    uint8_t k[8], v[WC_COUNTER_DELTA_LEN];
    wc_cell c = {.column = 1, .flags = WC_CELLF_COUNTER_DELTA, .ts = ts, .value = v,
                 .len = sizeof(v)};
    wc_rowb *rb;

    wc_counter_delta_encode(v, delta);
    wc_test_ck(ck, k);
    rb = wc_mutation_row_begin(m, false, k, 8);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
}

/* The counter of row 1 of pk in a page (0 without the row). */
static int64_t page_counter(esim *es, const wc_page *p)
{
    int64_t sum = 0;

    for (size_t k = 0; k < p->nrows; k++) {
        const wc_cell *c = wc_test_cell(&p->rows[k], 1);

        SIM_CHECK(es->seed, c != NULL && (c->flags & WC_CELLF_COUNTER) &&
                                wc_counter_sum(c->value, c->len, &sum),
                  "row %zu holds no counter cell", k);
    }
    return sum;
}

/*
 * Real engines as leader replicas: 3 x 40 increments through every
 * coordinator at QUORUM (node 2 cut off for the middle third) read 120 x 2
 * at QUORUM and ALL through every node; the ALL read repairs node 2, whose
 * own engine then holds the sum (each engine one shard: three writers).
 */
static void test_counters(void **state)
{
    esim *es = es_new(36);
    int group[NN] = {0, 0, 1};
    wc_read_request q;
    wc_coord_result res;
    wc_page *p;
    int64_t want = 0;

    (void)state;
    for (int i = 0; i < 120; i++) {
        if (i == 40)
            wc_sim_partition(es->sim, group, NN);
        if (i == 80) {
            wc_sim_run_for(es->sim, 3000);
            wc_sim_heal(es->sim);
        }
        b_incr("clicks", 1, 2, TS(i));
        want += 2;
        res = es_write(es, (uint32_t)(i % (i >= 40 && i < 80 ? 2 : NN)), WC_CL_QUORUM);
        SIM_CHECK(es->seed, res.status == WC_OK, "increment %d: %s", i, res.detail);
    }
    req_init(&q, "clicks", 0);
    for (uint32_t i = 0; i < NN; i++) {
        p = es_page(es, i, &q, WC_CL_QUORUM, NULL);
        SIM_CHECK(es->seed, page_counter(es, p) == want, "QUORUM through %u: %lld of %lld", i,
                  (long long)page_counter(es, p), (long long)want);
        wc_page_free(p);
    }
    p = es_page(es, 2, &q, WC_CL_ALL, NULL);
    SIM_CHECK(es->seed, page_counter(es, p) == want, "ALL through node 2: %lld",
              (long long)page_counter(es, p));
    wc_page_free(p);
    for (uint32_t i = 1; i < NN; i++)
        SIM_CHECK(es->seed, es_raw_equal(es, "clicks", 0, i), "node %u not repaired", i);
    p = es_page(es, 2, &q, WC_CL_ONE, NULL);
    SIM_CHECK(es->seed, page_counter(es, p) == want, "node 2 alone: %lld",
              (long long)page_counter(es, p));
    wc_page_free(p);
    es_free(es);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum_write_read_elsewhere),
        cmocka_unit_test(test_lagging_replica_repaired),
        cmocka_unit_test(test_paged_reads),
        cmocka_unit_test(test_paged_reads_with_overlay),
        cmocka_unit_test(test_threaded_store),
        cmocka_unit_test(test_counters),
    };
    int rc;

    wc_batch_builder_init(&bb);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    wc_batch_builder_free(&bb);
    return rc;
}
