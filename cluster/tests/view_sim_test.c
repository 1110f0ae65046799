/*
 * view_sim_test.c - materialized views on a simulated cluster: five nodes,
 * replication factor 3, each with an engine, the engine store keeping the
 * view with paired view replicas (view_pair.h) and a coordinator.
 *
 * Random base writes at ONE through random coordinators (inserts, updates
 * that move a row to another view key, key cells set to NULL, row and
 * partition deletions), a node marked down for a while (its base writes and
 * its view updates become hints), then up again with its hints delivered:
 * every node's view table then holds exactly the view rows of the partitions
 * it replicates, as computed from the final base, and no others (a base
 * replica that kept its view rows to itself would hold rows of partitions it
 * does not replicate).  The log replay is set far beyond the run, so that
 * the hints alone must bring the down node's pairs up to date; a third run
 * refuses the view hints instead and replays the logs once the node is
 * back.  At the end no node's view update log holds an entry.  A second
 * test has a sixth node joining the ring: it gets the view rows of the
 * partitions it will replicate.
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
#include <time.h>

#include "coordinator.h"
#include "engine_store.h"
#include "keys.h"
#include "mutation.h"
#include "ring.h"
#include "schema_def.h"
#include "sim.h"
#include "simtest.h"
#include "testutil.h"
#include "view.h"
#include "view_pair.h"

#define VS_NODES 6 /* at most: five in the ring, a sixth joining in one run */
#define VS_RF 3
#define VS_TOKENS 8
#define VS_BASE 1
#define VS_VIEW 2
#define VS_DEVICES 24
#define VS_STATES 8
#define VS_WRITES 300
#define VS_MAX_HINTS 4096
#define RECIPE "base=1 bpk=e bck= pk=x ck=p0 x=1:s"

typedef struct vnode {
    struct vsim *vs;
    uint32_t idx;
    wc_env *env;
    char *dir;
    wc_engine *e;
    wc_views *views;
    wc_engine_store *store;
    wc_coord *coord;
    wc_view_pair *pair;
} vnode;

typedef struct vhint {
    uint32_t target;
    wc_buf batch;
} vhint;

typedef struct vsim {
    uint64_t seed;
    wc_sim *sim;
    wc_ring *ring;
    wc_ring *pending; /* with the joining sixth node, or NULL */
    uint32_t n;       /* nodes in the simulator */
    wc_replication repl;
    vnode nodes[VS_NODES];
    bool down[VS_NODES];
    bool pair_hints; /* the view pair's hints are kept (off: they are refused) */
    vhint hints[VS_MAX_HINTS];
    size_t nhints;
    /* the base as written: state (-1: none) and value of each device, and their timestamps */
    int state[VS_DEVICES];
    int value[VS_DEVICES];
    bool exists[VS_DEVICES];
    int64_t ts;
} vsim;

static uint32_t vs_index_of(const wc_ring_member *m) { return m->host_id[0]; }

static bool vs_is_alive(void *ctx, const wc_ring_member *m)
{
    vnode *n = ctx;
    uint32_t i = vs_index_of(m);

    return i < n->vs->n && !n->vs->down[i];
}

static wc_status vs_replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    vnode *n = ctx;

    if (table_id != VS_BASE && table_id != VS_VIEW)
        return wc_error(WC_NOT_FOUND, "table %u does not exist", table_id);
    *out = n->vs->repl;
    return WC_OK;
}

static wc_status vs_store_hint(void *ctx, const wc_ring_member *m, uint32_t table_id,
                               const uint8_t *batch, size_t len)
{
    vnode *n = ctx;
    vsim *vs = n->vs;
    vhint *h;

    (void)table_id;
    if (table_id == VS_VIEW && !vs->pair_hints)
        return wc_error(WC_UNAVAILABLE, "view hints are off");
    if (vs->nhints == VS_MAX_HINTS)
        return wc_error(WC_OVERLOADED, "too many hints");
    h = &vs->hints[vs->nhints++];
    h->target = vs_index_of(m);
    wc_buf_init(&h->batch);
    wc_buf_append(&h->batch, batch, len);
    return WC_OK;
}

static void vs_on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    vnode *n = ctx;

    if (n->vs->down[n->idx])
        return; /* a node marked down hears nothing */
    if (!wc_view_pair_on_message(n->pair, from, msg, len))
        wc_coord_on_message(n->coord, from, msg, len);
}

static void vs_sink(void *arg, const uint8_t *upd, size_t len)
{
    vnode *n = arg;

    wc_view_pair_submit(n->pair, upd, len);
}

static size_t key_text(const char *s, uint8_t *out)
{
    size_t n = strlen(s);

    memcpy(out, s, n);
    out[n] = out[n + 1] = 0;
    return n + 2;
}

static void vs_create_tables(vnode *n)
{
    wc_table_def d;
    wc_schema s;
    wc_schema_option prop = {WC_VIEW_PROPERTY, RECIPE};
    wc_buf b;
    bool is_view = false;

    wc_table_def_default(&d);
    d.id = VS_BASE;
    snprintf(d.name, sizeof(d.name), "ks.base");
    assert_int_equal(wc_engine_create_table(n->e, &d), WC_OK);
    wc_table_def_default(&d);
    d.id = VS_VIEW;
    snprintf(d.name, sizeof(d.name), "ks.view");
    wc_buf_init(&b);
    wc_schema_init(&s);
    s.keyspace = "ks";
    s.table = "view";
    s.table_id = VS_VIEW;
    s.nproperties = 1;
    s.properties = &prop;
    assert_int_equal(wc_schema_encode(&s, &b), WC_OK);
    d.schema = b.data;
    d.schema_len = b.len;
    assert_int_equal(wc_engine_create_table(n->e, &d), WC_OK);
    assert_int_equal(wc_views_define(n->views, &d, &is_view), WC_OK);
    assert_true(is_view);
    wc_buf_free(&b);
    assert_int_equal(wc_views_log_open(n->e), WC_OK);
}

static void vs_start_node(vnode *n)
{
    wc_coord_options o;
    wc_view_pair_options po;

    n->dir = wc_test_tmpdir("viewsim");
    assert_non_null(n->dir);
    assert_int_equal(wc_test_open(n->dir, WC_SYNC_PERIODIC, 1 << 20, &n->e), WC_OK);
    assert_int_equal(wc_views_new(&n->views), WC_OK);
    vs_create_tables(n);
    assert_int_equal(wc_engine_store_create(n->e, n->env, 0, &n->store), WC_OK);
    wc_engine_store_set_views(n->store, n->views, vs_sink, n);
    memset(&o, 0, sizeof(o));
    o.env = n->env;
    o.self_id[0] = (uint8_t)n->idx;
    o.self_id[2] = 0xcc;
    snprintf(o.self_dc, sizeof(o.self_dc), "dc1");
    o.store = wc_engine_store_get(n->store);
    o.is_alive = vs_is_alive;
    o.replication = vs_replication;
    o.store_hint = vs_store_hint;
    o.ctx = n;
    assert_int_equal(wc_coord_create(&o, &n->coord), WC_OK);
    wc_coord_set_ring(n->coord, n->vs->ring);
    if (n->vs->pending)
        wc_coord_set_pending_ring(n->coord, n->vs->pending);
    memset(&po, 0, sizeof(po));
    po.env = n->env;
    po.coord = n->coord;
    po.store = o.store;
    po.engine = n->e;
    po.replay_interval_ms = 24u * 3600 * 1000; /* the hints must do it */
    assert_int_equal(wc_view_pair_create(&po, &n->pair), WC_OK);
    n->env->handlers = (wc_env_handlers){vs_on_message, NULL, n};
}

static uint64_t vs_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Five nodes in the ring; with joining, a sixth that joins it (the pending ring) all along. */
static vsim *vs_new(uint64_t seed, bool joining)
{
    vsim *vs = calloc(1, sizeof(*vs));
    wc_sim_options so;
    wc_ring_member m[VS_NODES];
    int64_t tokens[VS_NODES * VS_TOKENS];
    uint64_t rs = seed;

    wc_sim_options_default(&so);
    vs->seed = seed;
    vs->pair_hints = true;
    vs->ts = 1700000000000000LL;
    memset(&vs->repl, 0, sizeof(vs->repl));
    vs->repl.cls = WC_REPL_SIMPLE;
    vs->repl.replication_factor = VS_RF;
    assert_int_equal(wc_sim_create(seed, &so, &vs->sim), WC_OK);
    memset(m, 0, sizeof(m));
    vs->n = joining ? 6 : 5;
    for (uint32_t i = 0; i < vs->n; i++) {
        m[i].host_id[0] = (uint8_t)i;
        m[i].host_id[2] = 0xcc;
        snprintf(m[i].addr.host, sizeof(m[i].addr.host), "10.3.0.%u", i + 1);
        m[i].addr.port = 7000;
        snprintf(m[i].dc, sizeof(m[i].dc), "dc1");
        snprintf(m[i].rack, sizeof(m[i].rack), "r1");
        for (uint32_t t = 0; t < VS_TOKENS; t++)
            tokens[i * VS_TOKENS + t] = (int64_t)vs_mix(&rs);
        m[i].tokens = &tokens[i * VS_TOKENS];
        m[i].ntokens = VS_TOKENS;
        vs->nodes[i].vs = vs;
        vs->nodes[i].idx = i;
        assert_non_null(vs->nodes[i].env = wc_sim_add_node(vs->sim, &m[i].addr));
    }
    assert_int_equal(wc_ring_build(m, 5, &vs->ring), WC_OK);
    if (joining)
        assert_int_equal(wc_ring_build(m, 6, &vs->pending), WC_OK);
    for (uint32_t i = 0; i < vs->n; i++)
        vs_start_node(&vs->nodes[i]);
    for (int d = 0; d < VS_DEVICES; d++)
        vs->state[d] = -1;
    return vs;
}

static void vs_free(vsim *vs)
{
    for (uint32_t i = 0; i < vs->n; i++) {
        vnode *n = &vs->nodes[i];
        wc_engine_store_destroy(n->store);
        wc_view_pair_destroy(n->pair);
        wc_coord_destroy(n->coord);
        wc_views_free(n->views);
        wc_engine_close(n->e);
        wc_test_rmrf(n->dir);
        free(n->dir);
    }
    for (size_t i = 0; i < vs->nhints; i++)
        wc_buf_free(&vs->hints[i].batch);
    wc_ring_unref(vs->ring);
    wc_ring_unref(vs->pending);
    wc_sim_destroy(vs->sim);
    free(vs);
}

typedef struct vs_wait {
    bool done;
    wc_status st;
} vs_wait;

static void vs_write_done(void *arg, const wc_coord_result *res)
{
    vs_wait *w = arg;

    w->done = true;
    w->st = res->status;
}

/* One random base write through a random live coordinator, the model updated. */
static void vs_random_write(vsim *vs, uint64_t *rs)
{
    int d = (int)(vs_mix(rs) % VS_DEVICES), kind = (int)(vs_mix(rs) % 10);
    uint32_t c;
    char dev[16], st[16], val[16];
    uint8_t pk[32];
    size_t pk_len;
    wc_batch_builder b;
    wc_mutation *m;
    const uint8_t *rec;
    size_t len;
    uint32_t now = (uint32_t)time(NULL);
    int64_t ts = ++vs->ts;
    vs_wait w = {false, WC_OK};

    do
        c = (uint32_t)(vs_mix(rs) % 5);
    while (vs->down[c]);
    snprintf(dev, sizeof(dev), "d%02d", d);
    pk_len = key_text(dev, pk);
    wc_batch_builder_init(&b);
    m = wc_batch_builder_begin(&b, VS_BASE, pk, pk_len);
    if (kind == 0) { /* the partition goes */
        wc_mutation_delete_partition(m, ts, now);
        vs->exists[d] = false;
        vs->state[d] = -1;
    } else if (kind == 1) { /* the row goes */
        wc_rowb_deletion(wc_mutation_row_begin(m, false, NULL, 0), ts, now);
        wc_mutation_row_end(m);
        vs->exists[d] = false;
        vs->state[d] = -1;
    } else {
        /* an upsert: a new state (a key move), or the state set to NULL */
        int s = kind == 2 ? -1 : (int)(vs_mix(rs) % VS_STATES);
        int v = (int)(vs_mix(rs) % 1000);
        wc_rowb *rb = wc_mutation_row_begin(m, false, NULL, 0);
        wc_cell cs = {1, 0, ts, 0, 0, NULL, 0}, cv = {2, 0, ts, 0, 0, NULL, 0};
        snprintf(st, sizeof(st), "s%d", s);
        snprintf(val, sizeof(val), "v%d", v);
        wc_rowb_liveness(rb, ts, 0, 0);
        if (s < 0) {
            cs.flags = WC_CELLF_TOMBSTONE;
            cs.ldt = now;
        } else {
            cs.value = (const uint8_t *)st;
            cs.len = strlen(st);
        }
        cv.value = (const uint8_t *)val;
        cv.len = strlen(val);
        wc_rowb_cell(rb, &cs);
        wc_rowb_cell(rb, &cv);
        wc_mutation_row_end(m);
        vs->exists[d] = true;
        vs->state[d] = s;
        vs->value[d] = v;
    }
    assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    wc_coord_write(vs->nodes[c].coord, VS_BASE, rec, len, WC_CL_ONE, 2000, vs_write_done, &w);
    wc_batch_builder_free(&b);
    for (int i = 0; i < 100000 && !w.done; i++)
        if (!wc_sim_step(vs->sim))
            break;
    SIM_CHECK(vs->seed, w.done && w.st == WC_OK, "write %d failed: %d", d, w.st);
    wc_sim_run_for(vs->sim, (vs_mix(rs) % 3) * 5);
}

/* Deliver the hints kept for node t through its own store (as hint delivery does). */
static void vs_deliver_hints(vsim *vs, uint32_t t)
{
    for (size_t i = 0; i < vs->nhints; i++) {
        vhint *h = &vs->hints[i];
        wc_store_apply_done nothing = NULL;
        if (h->target != t || h->batch.len == 0)
            continue;
        (void)nothing;
        /* the node's hint apply: base hints make view updates for the pairs */
        {
            wc_buf upd;
            wc_buf_init(&upd);
            assert_int_equal(wc_views_apply_paired(vs->nodes[t].views, vs->nodes[t].e,
                                                   h->batch.data, h->batch.len, &upd),
                             WC_OK);
            if (upd.len)
                wc_view_pair_submit(vs->nodes[t].pair, upd.data, upd.len);
            wc_buf_free(&upd);
        }
        h->batch.len = 0;
    }
}

/* The view rows node i holds, as "state/device=value" lines sorted, into out. */
static void vs_node_view(vsim *vs, uint32_t i, char *out, size_t cap)
{
    wc_read_request req;
    wc_page *prev = NULL;

    out[0] = '\0';
    memset(&req, 0, sizeof(req));
    req.table_id = VS_VIEW;
    req.start.unbounded = req.end.unbounded = true;
    req.page_rows = 1000;
    for (;;) {
        wc_page *pg = NULL;
        assert_int_equal(wc_engine_read(vs->nodes[i].e, &req, &pg), WC_OK);
        for (size_t r = 0; r < pg->nrows; r++) {
            const wc_result_row *row = &pg->rows[r];
            const wc_cell *v = wc_test_cell(row, 2);
            snprintf(out + strlen(out), cap - strlen(out), "%.*s/%.*s=%.*s ",
                     (int)row->pk_len - 2, (const char *)row->pk, (int)row->ck_len - 2,
                     (const char *)row->ck, v ? (int)v->len : 4, v ? (const char *)v->value : "NULL");
        }
        wc_page_free(prev);
        prev = pg;
        if (!pg->more)
            break;
        req.paging_state = pg->paging_state;
        req.paging_state_len = pg->paging_state_len;
    }
    wc_page_free(prev);
}

static int vs_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the space-separated words of s in place. */
static void vs_sort_words(char *s)
{
    char *words[VS_DEVICES * 2 + 1], *copy = strdup(s), *p = copy, *w;
    size_t n = 0;

    while ((w = strsep(&p, " ")) != NULL)
        if (*w && n < sizeof(words) / sizeof(words[0]))
            words[n++] = w;
    qsort(words, n, sizeof(*words), vs_cmp_str);
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(s, words[i]);
        strcat(s, " ");
    }
    free(copy);
}

/* What node i must hold: the view rows of the final base in the view partitions it replicates in ring. */
static void vs_expected(vsim *vs, const wc_ring *ring, uint32_t i, char *out)
{
    out[0] = '\0';
    for (int d = 0; d < VS_DEVICES; d++) {
        char st[16];
        uint32_t reps[VS_RF];
        size_t nr = 0;
        bool mine = false;
        if (!vs->exists[d] || vs->state[d] < 0)
            continue;
        snprintf(st, sizeof(st), "s%d", vs->state[d]);
        {
            uint8_t vpk[32];
            size_t vlen = key_text(st, vpk);
            assert_int_equal(wc_ring_replicas(ring, &vs->repl, wc_token(vpk, vlen), reps,
                                              VS_RF, &nr),
                             WC_OK);
        }
        for (size_t r = 0; r < nr; r++)
            mine |= reps[r] == i;
        if (mine)
            sprintf(out + strlen(out), "s%d/d%02d=v%d ", vs->state[d], d, vs->value[d]);
    }
}

static void vs_check(vsim *vs, const char *when)
{
    static char have[8192], want[8192];

    for (uint32_t i = 0; i < vs->n; i++) {
        /* the joining node holds what it will replicate: it got every update of those partitions */
        vs_node_view(vs, i, have, sizeof(have));
        vs_expected(vs, i < 5 ? vs->ring : vs->pending, i, want);
        vs_sort_words(have);
        vs_sort_words(want);
        SIM_CHECK(vs->seed, strcmp(have, want) == 0, "%s: node %u holds\n  %s\nbut must hold\n  %s",
                  when, i, have, want);
    }
}

static void vs_count_entry(void *arg, const uint8_t *upd, size_t len)
{
    (void)upd;
    (void)len;
    (*(int *)arg)++;
}

/*
 * replay: the view updates for the down node are neither delivered nor
 * hinted (view hints refused): their records stay in the senders' logs,
 * and the log replay, run once the node is back, brings them.
 */
static void run_views(uint64_t seed, bool replay)
{
    vsim *vs = vs_new(seed, false);
    uint64_t rs = seed ^ 0x5eedu;
    uint32_t victim = (uint32_t)(seed % 5);

    for (int i = 0; i < VS_WRITES / 3; i++)
        vs_random_write(vs, &rs);
    wc_sim_run_for(vs->sim, 500);
    vs_check(vs, "after the first writes");
    /* a node down: its base writes and the view updates for it wait as hints */
    vs->down[victim] = true;
    vs->pair_hints = !replay;
    for (int i = 0; i < VS_WRITES / 3; i++)
        vs_random_write(vs, &rs);
    wc_sim_run_for(vs->sim, 3000); /* sends to it time out into hints */
    vs->down[victim] = false;
    vs->pair_hints = true;
    vs_deliver_hints(vs, victim);
    wc_sim_run_for(vs->sim, 500);
    vs_deliver_hints(vs, victim); /* view hints its own updates' pairs kept meanwhile */
    wc_sim_run_for(vs->sim, 500);
    if (replay) {
        wc_view_pair_stats st;
        uint64_t failed = 0;
        for (uint32_t i = 0; i < vs->n; i++) {
            wc_view_pair_get_stats(vs->nodes[i].pair, &st);
            failed += st.failed;
            wc_view_pair_replay(vs->nodes[i].pair);
        }
        SIM_CHECK(vs->seed, failed > 0, "no view update failed: the replay is not exercised");
        wc_sim_run_for(vs->sim, 500);
    }
    vs_check(vs, replay ? "after the replay" : "after the hints");
    for (int i = 0; i < VS_WRITES / 3; i++)
        vs_random_write(vs, &rs);
    wc_sim_run_for(vs->sim, 500);
    vs_check(vs, "after the last writes");
    {
        wc_view_pair_stats st, sum;
        size_t rows = 0;
        memset(&sum, 0, sizeof(sum));
        for (uint32_t i = 0; i < vs->n; i++) {
            wc_view_pair_get_stats(vs->nodes[i].pair, &st);
            sum.sent += st.sent;
            sum.local += st.local;
            sum.hinted += st.hinted;
            sum.removed += st.removed;
            sum.records += st.records;
        }
        for (int d = 0; d < VS_DEVICES; d++)
            rows += vs->exists[d] && vs->state[d] >= 0;
        printf("records %" PRIu64 ", sent %" PRIu64 ", local %" PRIu64 ", hinted %" PRIu64
               ", log entries removed %" PRIu64 ", view rows %zu\n",
               sum.records, sum.sent, sum.local, sum.hinted, sum.removed, rows);
        /* the run exercised what it claims: remote pairs, local pairs, hints */
        SIM_CHECK(vs->seed, sum.sent > 0 && sum.local > 0 && (replay || sum.hinted > 0) && rows > 0,
                  "the run did not exercise pairing and hints");
        /* every view update landed: no node's log holds an entry any more */
        for (uint32_t i = 0; i < vs->n; i++) {
            int left = 0;
            assert_int_equal(wc_views_log_scan(vs->nodes[i].e, vs_count_entry, &left), WC_OK);
            SIM_CHECK(vs->seed, left == 0, "node %u keeps %d view update log entries", i, left);
        }
    }
    vs_free(vs);
}

/* A node joining the ring gets the view updates of the view partitions it will replicate. */
static void run_joining(uint64_t seed)
{
    vsim *vs = vs_new(seed, true);
    uint64_t rs = seed ^ 0x101du;

    for (int i = 0; i < VS_WRITES / 2; i++)
        vs_random_write(vs, &rs);
    wc_sim_run_for(vs->sim, 500);
    vs_check(vs, "with a node joining");
    {
        static char want[8192];
        vs_expected(vs, vs->pending, 5, want);
        SIM_CHECK(vs->seed, want[0] != '\0', "the joining node replicates no view row");
    }
    vs_free(vs);
}

static void test_joining_node_gets_view_updates(void **state)
{
    uint64_t seed = simtest_seed(15);

    (void)state;
    printf("seed=%" PRIu64 "\n", seed);
    run_joining(seed);
    run_joining(seed + 1);
}

static void test_views_on_a_cluster(void **state)
{
    uint64_t seed = simtest_seed(14);

    (void)state;
    printf("seed=%" PRIu64 "\n", seed);
    run_views(seed, false);
    run_views(seed + 1, false);
    run_views(seed + 2, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_on_a_cluster),
        cmocka_unit_test(test_joining_node_gets_view_updates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
