/*
 * node_test.c - the node server and the client library end to end over a
 * real Unix socket in a temporary directory: tables, batches, paged and
 * reversed reads, concurrent clients, garbage and malformed frames, client
 * timeouts, version mismatch, connection limits, stop with open
 * connections, restart on the same data, consistency refusals, compaction
 * maps, COMPACTION_STATS and COMPACTIONS, the tombstone guardrail of reads
 * (protocol version 3), the signal mask of every thread the node starts,
 * and many more clients than threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "client.h"
#include "mutation.h"
#include "node.h"
#include "rowcache.h"
#include "shmring.h"
#include "table_options.h"
#include "testutil.h"
#include "view.h"

#define T1 11
#define TIMEOUT_MS 10000

typedef struct fx {
    char *dir;
    char data[600];
    char sock[200];
    wc_node *node;
} fx;

static void node_opts(fx *f, wc_node_options *o, uint32_t max_conns)
{
    wc_node_options_default(o);
    o->engine.dir = f->data;
    o->engine.memtable_bytes = 1u << 20;
    o->engine.cache_bytes = 1u << 20;
    o->socket_path = f->sock;
    o->max_connections = max_conns;
}

static void start_node(fx *f, uint32_t max_conns)
{
    wc_node_options o;

    node_opts(f, &o, max_conns);
    if (wc_node_start(&o, &f->node) != WC_OK)
        fail_msg("wc_node_start: %s", wc_last_error());
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    f->dir = wc_test_tmpdir("node");
    if (f->dir == NULL)
        return -1;
    snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
    snprintf(f->sock, sizeof(f->sock), "%s/.s.widecol", f->dir);
    /* a long $WC_TEST_TMP would not fit in sun_path: put the socket in /tmp then */
    if (strlen(f->sock) >= 100)
        snprintf(f->sock, sizeof(f->sock), "/tmp/.s.widecol-test-%ld", (long)getpid());
    start_node(f, 16);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    wc_node_stop(f->node);
    wc_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static wc_client *connect_ok(fx *f)
{
    wc_client *c = NULL;

    if (wc_client_connect(f->sock, TIMEOUT_MS, &c) != WC_OK)
        fail_msg("wc_client_connect: %s", wc_last_error());
    return c;
}

/*
 * Give d a typed schema "k text pk; c bigint ck; v text" (plus ncols more
 * regular columns with long names) of replication cls (dc NULL: Simple).
 * The bytes are leaked on purpose: tests keep defs until they end.
 */
static void set_schema(wc_table_def *d, const char *cls, const char *dc, uint32_t factor,
                       size_t ncols)
{
    wc_schema s;
    wc_schema_replica rep = {dc, factor};
    wc_schema_column *cols = calloc(3 + ncols, sizeof(*cols));
    wc_buf b;

    cols[0] = (wc_schema_column){"k", "text", 25, WC_COL_PARTITION, 0, false, 0, NULL};
    cols[1] = (wc_schema_column){"c", "bigint", 20, WC_COL_CLUSTERING, 0, false, 0, NULL};
    cols[2] = (wc_schema_column){"v", "text", 25, WC_COL_REGULAR, 0, false, 1, NULL};
    for (size_t i = 0; i < ncols; i++) {
        char *name = malloc(128);
        snprintf(name, 128, "a_long_column_name_that_takes_room_in_the_definition_%06zu", i);
        cols[3 + i] = (wc_schema_column){name, "text", 25, WC_COL_REGULAR, 0, false,
                                         (uint32_t)(2 + i), NULL};
    }
    wc_schema_init(&s);
    s.keyspace = "ks";
    s.table = d->name;
    s.table_id = d->id;
    s.replication_class = cls;
    s.nreplicas = 1;
    s.replicas = &rep;
    s.ncolumns = 3 + ncols;
    s.columns = cols;
    wc_buf_init(&b);
    assert_int_equal(wc_schema_encode(&s, &b), WC_OK);
    d->schema = b.data; /* leaked */
    d->schema_len = b.len;
    for (size_t i = 0; i < ncols; i++)
        free((void *)cols[3 + i].name);
    free(cols);
}

/* The replication d's schema names (asserted present). */
static wc_replication def_replication(const wc_table_def *d)
{
    wc_replication r;

    if (wc_table_replication(d, &r) != WC_OK)
        fail_msg("table %u replication: %s", d->id, wc_last_error());
    return r;
}

static void create_t(wc_client *c, uint32_t id, const char *name)
{
    wc_table_def d;

    wc_table_def_default(&d);
    d.id = id;
    snprintf(d.name, sizeof(d.name), "%s", name);
    set_schema(&d, "SimpleStrategy", NULL, 3, 0);
    if (wc_client_create_table(c, &d) != WC_OK)
        fail_msg("create_table: %s", wc_last_error());
}

/*
 * A batch: for each partition "<prefix><p>", rows ck from..to-1 with
 * column 1 = "v<ck>" and column 2 = partition name; optionally a static row.
 */
static void make_batch(wc_buf *rec, uint32_t table, const char *prefix, int nparts, uint64_t from,
                       uint64_t to, int64_t ts, bool with_static)
{
    wc_buf_init(rec);
    wc_batch_begin(rec, (uint32_t)nparts);
    for (int p = 0; p < nparts; p++) {
        char pk[64], val[32];
        wc_mutation m;
        const uint8_t *enc;
        size_t len;

        snprintf(pk, sizeof(pk), "%s%d", prefix, p);
        wc_mutation_init(&m, table, pk, strlen(pk));
        if (with_static) {
            wc_rowb *rb = wc_mutation_row_begin(&m, true, NULL, 0);
            wc_cell c = {.column = 5, .ts = ts, .value = (const uint8_t *)"S", .len = 1};
            wc_rowb_cell(rb, &c);
            wc_mutation_row_end(&m);
        }
        for (uint64_t k = from; k < to; k++) {
            uint8_t ck[8];
            wc_rowb *rb;
            wc_cell c1 = {.column = 1, .ts = ts}, c2 = {.column = 2, .ts = ts};

            wc_test_ck(k, ck);
            rb = wc_mutation_row_begin(&m, false, ck, 8);
            wc_rowb_liveness(rb, ts, 0, 0);
            snprintf(val, sizeof(val), "v%llu", (unsigned long long)k);
            c1.value = (const uint8_t *)val;
            c1.len = strlen(val);
            c2.value = (const uint8_t *)pk;
            c2.len = strlen(pk);
            wc_rowb_cell(rb, &c1);
            wc_rowb_cell(rb, &c2);
            wc_mutation_row_end(&m);
        }
        if (wc_mutation_encode(&m, &enc, &len) == WC_OK)
            wc_batch_add(rec, enc, len);
        wc_mutation_free(&m);
    }
}

static wc_status apply_rows(wc_client *c, uint32_t table, const char *prefix, int nparts,
                            uint64_t from, uint64_t to, wc_consistency cl)
{
    wc_buf rec;
    wc_status st;

    make_batch(&rec, table, prefix, nparts, from, to, 1000 + (int64_t)from, false);
    st = rec.failed ? WC_NO_MEMORY : wc_client_apply(c, rec.data, rec.len, cl);
    wc_buf_free(&rec);
    return st;
}

/*
 * Read a whole partition (or all, pk NULL) page by page; returns the number
 * of clustering rows seen and checks that cks step by +1 (or -1 reversed).
 * Returns -1 on any inconsistency (usable from threads).
 */
static long read_all(wc_client *c, uint32_t table, const char *pk, bool reverse, size_t page_rows,
                     long *pages)
{
    wc_read_request r;
    uint8_t *ps = NULL;
    size_t psl = 0;
    long n = 0, np = 0;
    uint64_t last = 0;
    bool have_last = false;

    for (;;) {
        wc_client_page *pg;
        memset(&r, 0, sizeof(r));
        r.table_id = table;
        r.pk = (const uint8_t *)pk;
        r.pk_len = pk ? strlen(pk) : 0;
        r.start.unbounded = r.end.unbounded = true;
        r.reverse = reverse;
        r.page_rows = page_rows;
        r.paging_state = ps;
        r.paging_state_len = psl;
        if (wc_client_read(c, &r, WC_CL_LOCAL_ONE, &pg) != WC_OK) {
            free(ps);
            return -1;
        }
        np++;
        for (size_t i = 0; i < pg->nrows; i++) {
            const wc_result_row *row = &pg->rows[i];
            uint64_t k;
            const wc_cell *c1;
            char want[32];
            if (row->is_static)
                continue;
            k = wc_test_ck_value(row->ck, row->ck_len);
            c1 = wc_test_cell(row, 1);
            snprintf(want, sizeof(want), "v%llu", (unsigned long long)k);
            if (c1 == NULL || c1->len != strlen(want) || memcmp(c1->value, want, c1->len) != 0)
                n = -1000000;
            if (pk && have_last && k != (reverse ? last - 1 : last + 1))
                n = -1000000;
            last = k;
            have_last = true;
            n++;
        }
        free(ps);
        ps = NULL;
        psl = 0;
        if (pg->more) {
            psl = pg->paging_state_len;
            ps = malloc(psl ? psl : 1);
            memcpy(ps, pg->paging_state, psl);
        }
        wc_client_page_free(pg);
        if (!ps)
            break;
    }
    if (pages)
        *pages = np;
    return n < 0 ? -1 : n;
}

/* ---------------------------------------------------------------- tests */

static void test_tables_and_reads(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    wc_table_def d;
    wc_replication r;
    size_t n;
    uint32_t *ids;
    long pages;
    static wc_node_info ni;
    wc_table_stats ts;

    assert_int_equal(wc_client_ping(c), WC_OK);
    assert_int_equal(wc_client_node_info(c, &ni), WC_OK);
    assert_string_equal(ni.version, WC_NODE_VERSION);
    assert_int_equal(ni.protocol_version, WC_PROTO_VERSION);
    assert_string_equal(ni.data_dir, f->data);
    assert_string_equal(ni.socket_path, f->sock);
    assert_int_equal(ni.connections_open, 1);
    assert_true(ni.requests[WC_OP_PING] >= 1);
    /* the engine's bounds travel with it */
    assert_true(ni.memtable_limit_bytes > 0);
    assert_true(ni.commitlog_limit_bytes > 0);
    assert_true(ni.commitlog_bytes > 0);
    assert_string_equal(ni.background_error, "");
    /* a node without a cluster says so and lists no members */
    {
        wc_proto_members m;
        assert_int_equal(wc_client_members(c, &m), WC_OK);
        assert_false(m.cluster);
        assert_int_equal(m.n, 0);
        wc_proto_members_free(&m);
    }

    create_t(c, T1, "ks.t1");
    create_t(c, T1, "ks.t1"); /* same definition again: fine */
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.other");
    wc_replication_default(&r);
    assert_int_equal(wc_client_create_table(c, &d), WC_EXISTS);
    assert_non_null(strstr(wc_last_error(), "already used"));
    assert_false(wc_client_broken(c));
    /* the node's own ids (the view update log's) are not a client's to create */
    d.id = WC_VIEW_LOG_TABLE;
    assert_int_equal(wc_client_create_table(c, &d), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "reserved"));
    d.id = WC_USER_TABLE_ID_MAX + 1;
    assert_int_equal(wc_client_create_table(c, &d), WC_INVALID_ARGUMENT);
    assert_false(wc_client_broken(c));

    assert_int_equal(wc_client_get_table(c, T1, &d), WC_OK);
    assert_string_equal(d.name, "ks.t1");
    r = def_replication(&d);
    assert_int_equal(r.cls, WC_REPL_SIMPLE);
    assert_int_equal(r.replication_factor, 3);
    wc_table_def_clear(&d);
    assert_int_equal(wc_client_get_table(c, 999, &d), WC_NOT_FOUND);
    assert_false(wc_client_broken(c));

    assert_int_equal(wc_client_list_tables(c, &ids, &n), WC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], T1);
    wc_free(ids);

    /* 3 partitions x 100 rows in 5 batches, plus a static row in each */
    for (int b = 0; b < 5; b++)
        assert_int_equal(apply_rows(c, T1, "p", 3, (uint64_t)b * 20, (uint64_t)b * 20 + 20,
                                    WC_CL_QUORUM),
                         WC_OK);
    {
        wc_buf rec;
        make_batch(&rec, T1, "p", 3, 0, 0, 5000, true);
        assert_int_equal(wc_client_apply(c, rec.data, rec.len, WC_CL_ONE), WC_OK);
        wc_buf_free(&rec);
    }

    assert_int_equal(read_all(c, T1, "p1", false, 7, &pages), 100);
    assert_int_equal(pages, 15);
    assert_int_equal(read_all(c, T1, "p1", true, 9, &pages), 100);
    assert_int_equal(read_all(c, T1, NULL, false, 13, &pages), 300);

    /* a slice, reversed, limited, one column, with the static row */
    {
        wc_read_request q;
        wc_client_page *pg;
        uint8_t lo[8], hi[8];
        const uint32_t cols[1] = {1};

        wc_test_ck(10, lo);
        wc_test_ck(20, hi);
        memset(&q, 0, sizeof(q));
        q.table_id = T1;
        q.pk = (const uint8_t *)"p2";
        q.pk_len = 2;
        q.start = (wc_bound){.key = lo, .len = 8, .inclusive = true};
        q.end = (wc_bound){.key = hi, .len = 8, .inclusive = false};
        q.reverse = true;
        q.include_static = true;
        q.limit = 4;
        q.columns = cols;
        q.ncolumns = 1;
        assert_int_equal(wc_client_read(c, &q, WC_CL_ONE, &pg), WC_OK);
        assert_int_equal(pg->nrows, 5);
        assert_true(pg->rows[0].is_static);
        assert_null(pg->rows[0].ck);
        assert_int_equal(pg->rows[1].pk_len, 2);
        assert_memory_equal(pg->rows[1].pk, "p2", 2);
        assert_int_equal(wc_test_ck_value(pg->rows[1].ck, pg->rows[1].ck_len), 19);
        assert_int_equal(wc_test_ck_value(pg->rows[4].ck, pg->rows[4].ck_len), 16);
        assert_int_equal(pg->rows[1].ncells, 1);
        assert_int_equal(pg->rows[1].cells[0].column, 1);
        assert_int_equal(pg->rows[1].live_ts, 1000 + 0);
        assert_true(pg->stats.memtables_read >= 1);
        wc_client_page_free(pg);
    }

    /* flush, stats, compaction, and the data survives them */
    assert_int_equal(wc_client_flush(c, T1), WC_OK);
    assert_int_equal(apply_rows(c, T1, "p", 3, 100, 110, WC_CL_ALL), WC_OK);
    assert_int_equal(wc_client_flush(c, 0), WC_OK);
    assert_int_equal(wc_client_table_stats(c, T1, &ts), WC_OK);
    assert_true(ts.sstable_count >= 2);
    assert_int_equal(wc_client_compact(c, T1), WC_OK);
    assert_int_equal(wc_client_table_stats(c, T1, &ts), WC_OK);
    assert_int_equal(ts.sstable_count, 1);
    assert_int_equal(read_all(c, T1, "p0", false, 1000, NULL), 110);
    assert_int_equal(wc_client_table_stats(c, 4242, &ts), WC_NOT_FOUND);
    /* scrub of a healthy table only verifies it; an unknown table is not-found */
    {
        wc_scrub_result sr;

        assert_int_equal(wc_client_scrub(c, T1, &sr), WC_OK);
        assert_false(sr.was_offline);
        assert_int_equal(sr.sstables_checked, 1);
        assert_int_equal(sr.sstables_damaged, 0);
        assert_int_equal(sr.quarantined[0], '\0');
        assert_int_equal(read_all(c, T1, "p0", false, 1000, NULL), 110);
        assert_int_equal(wc_client_scrub(c, 4242, &sr), WC_NOT_FOUND);
    }

    /* alter keeps the table, replaces schema and replication; a 1000-column schema of
     * some 70 KiB travels and is kept whole */
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.t1");
    d.default_ttl = 60;
    set_schema(&d, "NetworkTopologyStrategy", "dc1", 2, 1000);
    assert_true(d.schema_len > 8192 * 8);
    {
        size_t sent = d.schema_len;
        wc_schema s;
        assert_int_equal(wc_client_alter_table(c, &d), WC_OK);
        assert_int_equal(wc_client_get_table(c, T1, &d), WC_OK);
        assert_int_equal(d.default_ttl, 60);
        assert_int_equal(d.schema_len, sent);
        r = def_replication(&d);
        assert_int_equal(r.cls, WC_REPL_NETWORK_TOPOLOGY);
        assert_string_equal(r.dcs[0].name, "dc1");
        assert_int_equal(r.dcs[0].factor, 2);
        assert_int_equal(wc_schema_decode(d.schema, d.schema_len, &s), WC_OK);
        assert_int_equal(s.ncolumns, 1003);
        wc_schema_free(&s);
        wc_table_def_clear(&d);
    }

    /* an invalid replication or undecodable schema is refused; nothing changes */
    wc_table_def_default(&d);
    d.id = T1;
    snprintf(d.name, sizeof(d.name), "ks.t1");
    set_schema(&d, "SimpleStrategy", NULL, 0, 0);
    assert_int_equal(wc_client_alter_table(c, &d), WC_INVALID_ARGUMENT);
    d.schema[0] ^= 0xff;
    assert_int_equal(wc_client_alter_table(c, &d), WC_CORRUPTION);
    assert_false(wc_client_broken(c));
    assert_int_equal(wc_client_get_table(c, T1, &d), WC_OK);
    assert_int_equal(def_replication(&d).cls, WC_REPL_NETWORK_TOPOLOGY);
    wc_table_def_clear(&d);

    /* a malformed batch is the engine's error; the connection stays usable */
    {
        const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        assert_int_not_equal(wc_client_apply(c, junk, sizeof(junk), WC_CL_ONE), WC_OK);
        assert_false(wc_client_broken(c));
        assert_int_equal(wc_client_apply(c, junk, (size_t)WC_PROTO_MAX_FRAME, WC_CL_ONE),
                         WC_INVALID_ARGUMENT);
        assert_false(wc_client_broken(c));
    }

    assert_int_equal(wc_client_drop_table(c, T1), WC_OK);
    assert_int_equal(wc_client_get_table(c, T1, &d), WC_NOT_FOUND);
    assert_int_equal(wc_client_drop_table(c, T1), WC_NOT_FOUND);
    assert_int_equal(wc_client_ping(c), WC_OK);
    wc_client_close(c);
}

/* One APPLY of nparts partitions "big0".. of rows rows each, longer than min_len, all read back. */
static void big_apply(fx *f, int nparts, uint64_t rows, size_t min_len)
{
    wc_client *c = connect_ok(f);
    wc_buf rec;

    create_t(c, T1, "ks.t1");
    make_batch(&rec, T1, "big", nparts, 0, rows, 77, false);
    assert_true(rec.len > min_len);
    assert_int_equal(wc_client_apply(c, rec.data, rec.len, WC_CL_ONE), WC_OK);
    wc_buf_free(&rec);
    assert_int_equal(read_all(c, T1, NULL, false, 5000, NULL), (long)(nparts * rows));
    assert_int_equal(read_all(c, T1, "big1", true, 4000, NULL), (long)rows);
    wc_client_close(c);
}

static void test_big_batch(void **state)
{
    /* ~ 3 MiB in one APPLY, 60000 rows read back in pages of 5000 */
    big_apply(*state, 6, 10000, 2u << 20);
}

/*
 * Large requests have bulk workers of their own at bulk_nice (a value no
 * other thread here has; 10 by default): half the CPUs, at least one, by
 * default, half as many as the workers when their number is set; a large
 * APPLY is served; the node's other threads keep the process's priority.
 */
static void test_bulk_workers_nice(void **state)
{
    fx *f = *state;
    wc_node_options o;

    if (getpriority(PRIO_PROCESS, 0) != 0)
        skip(); /* the counts below assume a process at nice 0 */
    wc_node_stop(f->node);
    f->node = NULL;
    node_opts(f, &o, 16);
    assert_int_equal(o.bulk_nice, 10);
    o.bulk_nice = 9;
    assert_int_equal(wc_node_start(&o, &f->node), WC_OK);
    {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        assert_int_equal(wc_test_threads_at_nice(9), cpus > 1 ? cpus / 2 : 1);
    }
    wc_node_stop(f->node);
    f->node = NULL;
    o.worker_threads = 4;
    o.bulk_nice = 9;
    o.engine.flush_nice = 3;
    o.engine.compaction_nice = 8;
    assert_int_equal(wc_test_threads_at_nice(9), 0);
    assert_int_equal(wc_node_start(&o, &f->node), WC_OK);
    assert_int_equal(wc_test_threads_at_nice(9), 2);
    assert_int_equal(wc_test_threads_at_nice(3), 1);
    assert_int_equal(getpriority(PRIO_PROCESS, 0), 0);

    big_apply(f, 2, 5000, 64u << 10); /* a bulk request */
    wc_node_stop(f->node);
    f->node = NULL;
    assert_int_equal(wc_test_threads_at_nice(9), 0);
}

/* Pipelined applies: each send returns at once; failures surface at the next call. */
static void test_pipelined_apply(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    wc_buf a, b, bad;

    create_t(c, T1, "ks.t1");
    make_batch(&a, T1, "pa", 3, 0, 1000, 5, false);
    make_batch(&b, T1, "pb", 3, 0, 1000, 5, false);
    assert_int_equal(wc_client_apply_send(c, a.data, a.len, WC_CL_ONE), WC_OK);
    /* the buffer may be reused as soon as send returns */
    memset(a.data, 0, a.len);
    assert_int_equal(wc_client_apply_send(c, b.data, b.len, WC_CL_ONE), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_OK); /* nothing outstanding */
    assert_int_equal(read_all(c, T1, NULL, false, 500, NULL), 6000);
    /* a failed pipelined apply is reported by the next call, and the client stays usable */
    make_batch(&bad, 999, "x", 1, 0, 10, 5, false);
    assert_int_equal(wc_client_apply_send(c, bad.data, bad.len, WC_CL_ONE), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_NOT_FOUND);
    assert_int_equal(wc_client_ping(c), WC_OK);
    assert_int_equal(wc_client_apply_send(c, bad.data, bad.len, WC_CL_ONE), WC_OK);
    assert_int_equal(read_all(c, T1, "pa0", false, 500, NULL), -1); /* the read reports it */
    assert_int_equal(read_all(c, T1, "pa0", false, 500, NULL), 1000);
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&bad);
    wc_client_close(c);
}

/*
 * STAGE chunks stay invisible, to their own connection and to others, until
 * PUBLISH commit; an abort, a failed chunk and a closed connection drop
 * them; the consistency level is checked as for APPLY.
 */
static void test_staged(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f), *r = connect_ok(f), *d;
    wc_buf a, b, x, bad;

    create_t(c, T1, "ks.t1");
    make_batch(&a, T1, "sa", 2, 0, 500, 5, false);
    make_batch(&b, T1, "sb", 2, 0, 500, 5, false);
    make_batch(&x, T1, "sx", 1, 0, 100, 5, false);
    make_batch(&bad, 999, "x", 1, 0, 10, 5, false);
    /* a later chunk without a first one, a commit with nothing staged */
    assert_int_equal(wc_client_stage_send(c, a.data, a.len, WC_CL_ONE, false), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_client_publish(c, true), WC_INVALID_ARGUMENT);
    /* staged: invisible; published: all there */
    assert_int_equal(wc_client_stage_send(c, a.data, a.len, WC_CL_ONE, true), WC_OK);
    assert_int_equal(wc_client_stage_send(c, b.data, b.len, WC_CL_ONE, false), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_OK);
    assert_int_equal(read_all(r, T1, NULL, false, 500, NULL), 0);
    assert_int_equal(read_all(c, T1, NULL, false, 500, NULL), 0);
    assert_int_equal(wc_client_publish(c, true), WC_OK);
    assert_int_equal(read_all(r, T1, NULL, false, 500, NULL), 2000);
    assert_int_equal(wc_client_publish(c, true), WC_INVALID_ARGUMENT); /* published already */
    /* aborted (twice: none open is no error) */
    assert_int_equal(wc_client_stage_send(c, x.data, x.len, WC_CL_ONE, true), WC_OK);
    assert_int_equal(wc_client_publish(c, false), WC_OK);
    assert_int_equal(wc_client_publish(c, false), WC_OK);
    /* a failed chunk fails the transaction */
    assert_int_equal(wc_client_stage_send(c, x.data, x.len, WC_CL_ONE, true), WC_OK);
    assert_int_equal(wc_client_stage_send(c, bad.data, bad.len, WC_CL_ONE, false), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_NOT_FOUND);
    assert_int_equal(wc_client_stage_send(c, x.data, x.len, WC_CL_ONE, false), WC_OK);
    assert_int_equal(wc_client_publish(c, true), WC_INVALID_ARGUMENT); /* the STAGE's answer */
    assert_int_equal(wc_client_publish(c, true), WC_INVALID_ARGUMENT);
    /* the consistency level is checked as for APPLY (one replica) */
    assert_int_equal(wc_client_stage_send(c, x.data, x.len, WC_CL_TWO, true), WC_OK);
    assert_int_equal(wc_client_apply_wait(c), WC_UNAVAILABLE);
    assert_int_equal(wc_client_publish(c, true), WC_INVALID_ARGUMENT);
    /* a connection that closes drops what it staged */
    d = connect_ok(f);
    assert_int_equal(wc_client_stage_send(d, x.data, x.len, WC_CL_ONE, true), WC_OK);
    assert_int_equal(wc_client_apply_wait(d), WC_OK);
    wc_client_close(d);
    assert_int_equal(read_all(r, T1, NULL, false, 500, NULL), 2000);
    /* mutations without their batch header: the client sends one in front */
    {
        wc_batch_view bv;

        assert_int_equal(wc_batch_parse(x.data, x.len, &bv), WC_OK);
        assert_int_equal(wc_client_stage_send_mutations(c, bv.count, bv.p, (size_t)(bv.end - bv.p),
                                                        WC_CL_ONE, true),
                         WC_OK);
        assert_int_equal(wc_client_publish(c, true), WC_OK);
        assert_int_equal(read_all(r, T1, NULL, false, 500, NULL), 2100);
    }
    wc_buf_free(&a);
    wc_buf_free(&b);
    wc_buf_free(&x);
    wc_buf_free(&bad);
    wc_client_close(r);
    wc_client_close(c);
}

typedef struct worker {
    fx *f;
    int idx;
    int errors;
    char msg[256];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    wc_client *c = NULL;
    char prefix[32];

    snprintf(prefix, sizeof(prefix), "w%d-", w->idx);
    if (wc_client_connect(w->f->sock, TIMEOUT_MS, &c) != WC_OK) {
        snprintf(w->msg, sizeof(w->msg), "connect: %s", wc_last_error());
        w->errors++;
        return NULL;
    }
    for (int b = 0; b < 25 && !w->errors; b++) {
        char pk[40];
        long n;
        if (apply_rows(c, T1, prefix, 2, (uint64_t)b * 8, (uint64_t)b * 8 + 8, WC_CL_ONE) != WC_OK) {
            snprintf(w->msg, sizeof(w->msg), "apply: %s", wc_last_error());
            w->errors++;
            break;
        }
        snprintf(pk, sizeof(pk), "%s1", prefix);
        n = read_all(c, T1, pk, b % 2 == 1, 5, NULL);
        if (n != (long)(b + 1) * 8) {
            snprintf(w->msg, sizeof(w->msg), "batch %d: read %ld rows: %s", b, n, wc_last_error());
            w->errors++;
        }
    }
    wc_client_close(c);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    pthread_t th[4];
    worker w[4];

    create_t(c, T1, "ks.t1");
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].f = f;
        w[i].idx = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (w[i].errors)
            fail_msg("worker %d: %s", i, w[i].msg);
    }
    assert_int_equal(read_all(c, T1, NULL, false, 64, NULL), 4 * 2 * 200);
    wc_client_close(c);
}

/* ---------------------------------------------------------------- raw sockets */

static int raw_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read one frame (5 s limit); returns payload length, -1 on EOF/error. */
static long raw_frame(int fd, uint8_t *buf, size_t cap)
{
    size_t have = 0, want = 4;

    while (have < want) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (poll(&pf, 1, 5000) <= 0)
            return -1;
        r = recv(fd, buf + have, want - have, 0); /* never past this frame */
        if (r <= 0)
            return -1;
        have += (size_t)r;
        if (want == 4 && have == 4) {
            want = 4 + wc_dec_u32(buf);
            if (want > cap)
                return -1;
        }
    }
    return (long)(want - 4);
}

/* True if the peer closed (EOF within 5 s). */
static bool raw_eof(int fd)
{
    uint8_t b[64];
    struct pollfd pf = {.fd = fd, .events = POLLIN};

    if (poll(&pf, 1, 5000) <= 0)
        return false;
    return recv(fd, b, sizeof(b), 0) <= 0;
}

static void raw_handshake(int fd, uint32_t version, wc_status want)
{
    wc_buf b;
    uint8_t buf[4096];
    long n;
    uint32_t v;
    wc_status st;
    const char *m;
    size_t ml;

    wc_buf_init(&b);
    wc_proto_put_handshake(&b, version);
    raw_send(fd, b.data, b.len);
    wc_buf_free(&b);
    n = raw_frame(fd, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(wc_proto_get_handshake_reply(buf + 4, (size_t)n, &v, &st, &m, &ml), WC_OK);
    assert_int_equal(st, want);
    assert_int_equal(v, WC_PROTO_VERSION);
}

/* Expect a response frame with status st (and id); returns its message. */
static void raw_expect(int fd, uint32_t id, wc_status want, const char *needle)
{
    uint8_t buf[8192];
    long n = raw_frame(fd, buf, sizeof(buf));
    const uint8_t *body;
    size_t blen;
    uint32_t rid;
    wc_status st;
    const char *m;
    size_t ml;
    char text[600];

    assert_true(n > 0);
    assert_int_equal(wc_proto_parse_response(buf + 4, (size_t)n, &rid, &st, &body, &blen), WC_OK);
    assert_int_equal(rid, id);
    assert_int_equal(st, want);
    if (needle) {
        assert_int_equal(wc_proto_get_error(body, blen, &m, &ml), WC_OK);
        snprintf(text, sizeof(text), "%.*s", (int)ml, m);
        if (strstr(text, needle) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", text, needle);
    }
}

static void test_garbage(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    int fd;
    uint8_t frame[64];
    wc_buf b;

    create_t(c, T1, "ks.t1");

    /* not a handshake at all */
    fd = raw_connect(f->sock);
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    {
        uint8_t buf[4096];
        long n = raw_frame(fd, buf, sizeof(buf));
        uint32_t v;
        wc_status st;
        const char *m;
        size_t ml;
        assert_true(n > 0);
        assert_int_equal(wc_proto_get_handshake_reply(buf + 4, (size_t)n, &v, &st, &m, &ml),
                         WC_OK);
        assert_int_equal(st, WC_CORRUPTION);
        assert_non_null(memmem(m, ml, "handshake", 9));
    }
    assert_true(raw_eof(fd));
    close(fd);
    assert_int_equal(wc_client_ping(c), WC_OK);

    /* a frame over the limit after a good handshake */
    fd = raw_connect(f->sock);
    raw_handshake(fd, WC_PROTO_VERSION, WC_OK);
    wc_enc_u32(frame, 0xfffffff0u);
    raw_send(fd, frame, 4);
    raw_expect(fd, 0, WC_CORRUPTION, "exceeds the limit");
    assert_true(raw_eof(fd));
    close(fd);

    /* a payload shorter than a request header */
    fd = raw_connect(f->sock);
    raw_handshake(fd, WC_PROTO_VERSION, WC_OK);
    wc_enc_u32(frame, 2);
    frame[4] = WC_OP_PING;
    frame[5] = 0;
    raw_send(fd, frame, 6);
    raw_expect(fd, 0, WC_CORRUPTION, "shorter");
    assert_true(raw_eof(fd));
    close(fd);

    /* an unknown opcode: error, but the connection stays usable */
    fd = raw_connect(f->sock);
    raw_handshake(fd, WC_PROTO_VERSION, WC_OK);
    wc_buf_init(&b);
    {
        size_t s = wc_proto_begin_request(&b, 200, 17);
        assert_int_equal(wc_proto_end_frame(&b, s), WC_OK);
        s = wc_proto_begin_request(&b, WC_OP_PING, 18);
        assert_int_equal(wc_proto_end_frame(&b, s), WC_OK);
    }
    raw_send(fd, b.data, b.len); /* two requests in one write: pipelining works too */
    raw_expect(fd, 17, WC_INVALID_ARGUMENT, "unknown protocol opcode 200");
    raw_expect(fd, 18, WC_OK, NULL);

    /* a malformed READ body: error with its id, then the node closes */
    wc_buf_reset(&b);
    {
        size_t s = wc_proto_begin_request(&b, WC_OP_READ, 19);
        wc_buf_put_u8(&b, WC_CL_ONE);
        wc_buf_put_u32(&b, T1);
        wc_buf_put_u8(&b, 0xff);
        assert_int_equal(wc_proto_end_frame(&b, s), WC_OK);
    }
    raw_send(fd, b.data, b.len);
    raw_expect(fd, 19, WC_CORRUPTION, "malformed READ");
    assert_true(raw_eof(fd));
    close(fd);

    /* random garbage after a handshake, many times over */
    srand(7);
    for (int it = 0; it < 50; it++) {
        uint8_t junk[300];
        fd = raw_connect(f->sock);
        raw_handshake(fd, WC_PROTO_VERSION, WC_OK);
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)rand();
        /* a plausible length so that the body, not the prefix, is the garbage */
        wc_enc_u32(junk, (uint32_t)(sizeof(junk) - 4));
        junk[4] = (uint8_t)(1 + rand() % WC_OP_MAX);
        if (junk[4] == WC_OP_DROP_TABLE || junk[4] == WC_OP_CREATE_TABLE ||
            junk[4] == WC_OP_ALTER_TABLE)
            junk[4] = WC_OP_READ;
        raw_send(fd, junk, sizeof(junk));
        {
            uint8_t buf[8192];
            assert_true(raw_frame(fd, buf, sizeof(buf)) > 0);
        }
        close(fd);
    }
    wc_buf_free(&b);

    /* the node still serves the well-behaved client */
    assert_int_equal(apply_rows(c, T1, "g", 1, 0, 10, WC_CL_ONE), WC_OK);
    assert_int_equal(read_all(c, T1, "g0", false, 3, NULL), 10);
    wc_client_close(c);
}

static void test_version_mismatch(void **state)
{
    fx *f = *state;
    /* older clients (version 1: before compaction data, 2: before engine state in
     * NODE_INFO, 5: before MEMBERS, 6: before the schema opcodes, 8: before the READ overlay,
     * 9: before the READ trace, 10: before STREAMS, 11: before REPAIR and SNAPSHOT, 12: before
     * CLEANUP and DECOMMISSION, 13: before collection cells, 14: before CAS, 15: before
     * STAGE and PUBLISH, INDEX_READ, COUNT_ROWS, 20: before SYNC) and one from the future */
    const uint32_t versions[14] = {1, 2, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 20, 99};

    assert_int_equal(WC_PROTO_VERSION, 21);
    for (int i = 0; i < 14; i++) {
        int fd = raw_connect(f->sock);
        wc_buf b;
        uint8_t buf[4096];
        long n;
        uint32_t v;
        wc_status st;
        const char *m;
        size_t ml;
        char want[128];

        wc_buf_init(&b);
        wc_proto_put_handshake(&b, versions[i]);
        raw_send(fd, b.data, b.len);
        wc_buf_free(&b);
        n = raw_frame(fd, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(wc_proto_get_handshake_reply(buf + 4, (size_t)n, &v, &st, &m, &ml),
                         WC_OK);
        assert_int_equal(st, WC_INVALID_ARGUMENT);
        assert_int_equal(v, WC_PROTO_VERSION);
        assert_non_null(memmem(m, ml, "protocol version mismatch", 25));
        snprintf(want, sizeof(want),
                 "the client speaks version %u, this widecol node speaks version %u", versions[i],
                 WC_PROTO_VERSION);
        if (memmem(m, ml, want, strlen(want)) == NULL)
            fail_msg("reply \"%.*s\" lacks \"%s\"", (int)ml, m, want);
        assert_true(raw_eof(fd));
        close(fd);
    }
}

/* ---------------------------------------------------------------- timeouts and limits */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dummy_listener(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

static bool g_interrupt_now;
static int g_hook_calls;
static bool hook(void *arg)
{
    g_hook_calls++;
    return !g_interrupt_now;
}

static void test_timeouts(void **state)
{
    fx *f = *state;
    char path[300];
    wc_client *c = NULL;
    int lfd;
    int64_t t0;

    /* nobody there */
    snprintf(path, sizeof(path), "%s.nobody", f->sock);
    assert_int_equal(wc_client_connect(path, 1000, &c), WC_UNAVAILABLE);
    assert_non_null(strstr(wc_last_error(), "could not connect to the widecol node at"));
    assert_null(c);

    /* a listener that never answers the handshake */
    snprintf(path, sizeof(path), "%s.mute", f->sock);
    lfd = dummy_listener(path);
    t0 = now_ms();
    assert_int_equal(wc_client_connect(path, 300, &c), WC_TIMEOUT);
    assert_true(now_ms() - t0 >= 290);
    assert_true(now_ms() - t0 < 3000);
    assert_non_null(strstr(wc_last_error(), "timed out"));

    close(lfd);
    unlink(path);
}

typedef struct silent_server {
    int lfd;
    int afd;
} silent_server;

/* Accept one connection, answer its handshake, then read and never answer. */
static void *silent_main(void *arg)
{
    silent_server *s = arg;
    uint8_t buf[64];
    wc_buf b;
    size_t have = 0;

    s->afd = accept(s->lfd, NULL, NULL);
    if (s->afd < 0)
        return NULL;
    while (have < 12) {
        ssize_t r = recv(s->afd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0)
            return NULL;
        have += (size_t)r;
    }
    wc_buf_init(&b);
    wc_proto_put_handshake_reply(&b, WC_PROTO_VERSION, WC_OK, NULL);
    (void)send(s->afd, b.data, b.len, MSG_NOSIGNAL);
    wc_buf_free(&b);
    return NULL;
}

static void test_request_timeout(void **state)
{
    fx *f = *state;
    char path[300];
    wc_client *c = NULL;
    silent_server s = {.afd = -1};
    pthread_t th;
    int64_t t0;

    snprintf(path, sizeof(path), "%s.silent", f->sock);
    s.lfd = dummy_listener(path);
    assert_int_equal(pthread_create(&th, NULL, silent_main, &s), 0);
    assert_int_equal(wc_client_connect(path, 400, &c), WC_OK);
    pthread_join(th, NULL);
    t0 = now_ms();
    assert_int_equal(wc_client_ping(c), WC_TIMEOUT);
    assert_true(now_ms() - t0 >= 390);
    assert_true(wc_client_broken(c));
    assert_int_equal(wc_client_ping(c), WC_UNAVAILABLE);
    assert_non_null(strstr(wc_last_error(), "reconnect"));
    wc_client_close(c);
    close(s.afd);

    /* the wait hook can abandon a call without any timeout */
    s.afd = -1;
    assert_int_equal(pthread_create(&th, NULL, silent_main, &s), 0);
    assert_int_equal(wc_client_connect(path, 0, &c), WC_OK);
    pthread_join(th, NULL);
    g_hook_calls = 0;
    g_interrupt_now = false;
    wc_client_set_wait_hook(c, hook, NULL);
    {
        /* interrupt from the hook after a few calls */
        g_interrupt_now = true;
        t0 = now_ms();
        assert_int_equal(wc_client_ping(c), WC_TIMEOUT);
        assert_true(now_ms() - t0 < 2000);
        assert_true(g_hook_calls >= 1);
        assert_non_null(strstr(wc_last_error(), "interrupted"));
    }
    wc_client_close(c);
    close(s.afd);
    close(s.lfd);
    unlink(path);
}

static void test_max_connections(void **state)
{
    fx *f = *state;
    wc_client *a, *b, *c = NULL;
    static wc_node_info ni;

    wc_node_stop(f->node);
    start_node(f, 2);
    a = connect_ok(f);
    b = connect_ok(f);
    assert_int_equal(wc_client_connect(f->sock, TIMEOUT_MS, &c), WC_OVERLOADED);
    assert_non_null(strstr(wc_last_error(), "too many connections"));
    assert_null(c);
    wc_client_close(b);
    /* the slot frees once the node notices the close */
    for (int i = 0; i < 100 && c == NULL; i++) {
        if (wc_client_connect(f->sock, TIMEOUT_MS, &c) != WC_OK) {
            c = NULL;
            usleep(20000);
        }
    }
    assert_non_null(c);
    assert_int_equal(wc_client_node_info(c, &ni), WC_OK);
    assert_int_equal(ni.max_connections, 2);
    assert_true(ni.connections_refused >= 1);
    wc_client_close(c);
    wc_client_close(a);
}

static void test_stop_with_open_connections(void **state)
{
    fx *f = *state;
    wc_client *c[3];
    int raw;
    wc_table_def d;
    struct stat sb;

    for (int i = 0; i < 3; i++)
        c[i] = connect_ok(f);
    raw = raw_connect(f->sock); /* connected, never handshakes */
    create_t(c[0], T1, "ks.t1");
    assert_int_equal(apply_rows(c[1], T1, "s", 2, 0, 50, WC_CL_ONE), WC_OK);
    wc_node_stop(f->node);
    f->node = NULL;
    assert_int_equal(stat(f->sock, &sb), -1); /* socket file removed */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wc_client_ping(c[i]), WC_UNAVAILABLE);
        assert_true(wc_client_broken(c[i]));
        assert_int_equal(wc_client_get_table(c[i], T1, &d), WC_UNAVAILABLE);
        wc_client_close(c[i]);
    }
    close(raw);

    /* restart on the same directory: tables and data are there */
    start_node(f, 16);
    c[0] = connect_ok(f);
    assert_int_equal(wc_client_get_table(c[0], T1, &d), WC_OK);
    assert_string_equal(d.name, "ks.t1");
    assert_int_equal(read_all(c[0], T1, NULL, false, 17, NULL), 100);
    assert_int_equal(read_all(c[0], T1, "s1", true, 17, NULL), 50);
    /* the replication came back from the catalog: TWO is still refused, QUORUM is fine */
    assert_int_equal(apply_rows(c[0], T1, "s", 1, 50, 60, WC_CL_TWO), WC_UNAVAILABLE);
    assert_int_equal(apply_rows(c[0], T1, "s", 1, 50, 60, WC_CL_QUORUM), WC_OK);
    wc_client_close(c[0]);
}

static void test_stale_and_live_socket(void **state)
{
    fx *f = *state;
    wc_node_options o;
    wc_node *other = NULL;
    char longpath[300];
    struct stat sb;

    /* a second node on the same socket is refused while the first runs */
    node_opts(f, &o, 4);
    assert_int_equal(wc_node_start(&o, &other), WC_EXISTS);
    assert_non_null(strstr(wc_last_error(), "already listening"));
    assert_null(other);

    /* a stale socket file (no listener) is replaced; the mode is 0600 */
    wc_node_stop(f->node);
    f->node = NULL;
    close(dummy_listener(f->sock)); /* leaves the file behind */
    assert_int_equal(stat(f->sock, &sb), 0);
    start_node(f, 4);
    assert_int_equal(stat(f->sock, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* a path longer than sun_path */
    memset(longpath, 'a', sizeof(longpath));
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    o.socket_path = longpath;
    assert_int_equal(wc_node_start(&o, &other), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "at most"));
    {
        wc_client *c = NULL;
        assert_int_equal(wc_client_connect(longpath, 100, &c), WC_INVALID_ARGUMENT);
    }
}

static void test_consistency(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    wc_read_request r;
    wc_client_page *pg = NULL;

    create_t(c, T1, "ks.t1");
    assert_int_equal(apply_rows(c, T1, "c", 1, 0, 5, WC_CL_TWO), WC_UNAVAILABLE);
    assert_string_equal(wc_last_error(), "consistency TWO needs 2 replicas, 1 alive");
    assert_false(wc_client_broken(c));
    assert_int_equal(apply_rows(c, T1, "c", 1, 0, 5, WC_CL_THREE), WC_UNAVAILABLE);
    assert_int_equal(apply_rows(c, T1, "c", 1, 0, 5, WC_CL_SERIAL), WC_INVALID_ARGUMENT);
    assert_int_equal(read_all(c, T1, "c0", false, 10, NULL), 0); /* nothing was applied */
    for (int cl = WC_CL_ANY; cl <= WC_CL_EACH_QUORUM; cl++)
        if (cl != WC_CL_TWO && cl != WC_CL_THREE)
            assert_int_equal(apply_rows(c, T1, "c", 1, 0, 5, (wc_consistency)cl), WC_OK);

    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.start.unbounded = r.end.unbounded = true;
    assert_int_equal(wc_client_read(c, &r, WC_CL_TWO, &pg), WC_UNAVAILABLE);
    assert_null(pg);
    assert_int_equal(wc_client_read(c, &r, WC_CL_ANY, &pg), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_client_read(c, &r, WC_CL_SERIAL, &pg), WC_OK);
    assert_int_equal(pg->nrows, 5);
    wc_client_page_free(pg);
    assert_int_equal(wc_client_read(c, &r, (wc_consistency)99, &pg), WC_INVALID_ARGUMENT);
    /* engine errors travel too: a reverse scan is refused by the engine */
    r.reverse = true;
    assert_int_equal(wc_client_read(c, &r, WC_CL_ONE, &pg), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "reverse"));
    assert_false(wc_client_broken(c));
    wc_client_close(c);
}

/*
 * A node started for a cluster (cluster_expected) serves no write or read
 * alone before a cluster coordinates it: alone it would acknowledge a
 * QUORUM write with one copy.  Once told to serve alone, it does.
 */
static void test_cluster_expected(void **state)
{
    fx *f = *state;
    wc_node_options o;
    wc_client *c;
    wc_read_request r;
    wc_client_page *pg = NULL;

    wc_node_stop(f->node);
    node_opts(f, &o, 16);
    o.cluster_expected = true;
    if (wc_node_start(&o, &f->node) != WC_OK)
        fail_msg("wc_node_start: %s", wc_last_error());
    c = connect_ok(f);
    create_t(c, T1, "ks.t1");
    assert_int_equal(apply_rows(c, T1, "c", 1, 0, 5, WC_CL_ONE), WC_UNAVAILABLE);
    assert_non_null(strstr(wc_last_error(), "not coordinating"));
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.start.unbounded = r.end.unbounded = true;
    assert_int_equal(wc_client_read(c, &r, WC_CL_ONE, &pg), WC_UNAVAILABLE);
    assert_null(pg);
    assert_false(wc_client_broken(c));
    {
        uint64_t n;
        wc_read_stats rs;

        /* a count is a read: never from the local engine alone */
        assert_int_equal(wc_client_count(c, &r, WC_CL_ONE, NULL, 0, &n, &rs), WC_UNAVAILABLE);
        assert_false(wc_client_broken(c));
    }

    wc_node_serve_alone(f->node);
    assert_int_equal(apply_rows(c, T1, "c", 1, 0, 5, WC_CL_ONE), WC_OK);
    assert_int_equal(read_all(c, T1, "c0", false, 10, NULL), 5);
    assert_int_equal(wc_client_read(c, &r, WC_CL_ONE, &pg), WC_OK);
    assert_int_equal(pg->nrows, 5);
    wc_client_page_free(pg);
    wc_client_close(c);
}

/* ---------------------------------------------------------------- compaction (version 2) */

#define T2 12
#define LCS_MAP "{'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': 1}"
#define TWCS_MAP                                                                                   \
    "{'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', "                \
    "'compaction_window_size': 6}"

static void def_with_map(wc_table_def *d, uint32_t id, const char *name, const char *map)
{
    wc_table_def_default(d);
    d->id = id;
    snprintf(d->name, sizeof(d->name), "%s", name);
    set_schema(d, "SimpleStrategy", NULL, 1, 0);
    snprintf(d->compaction, sizeof(d->compaction), "%s", map);
}

static uint64_t sum_u64(const uint64_t *v, size_t n)
{
    uint64_t s = 0;

    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* Shape of one listed compaction (any table among ids). */
static void check_info(const wc_compaction_info *ci, const uint32_t *ids, size_t nids)
{
    bool known = false;

    for (size_t i = 0; i < nids; i++)
        known |= ci->table_id == ids[i];
    assert_true(known);
    assert_true(ci->strategy <= WC_COMPACTION_TWCS);
    assert_true(ci->kind <= WC_COMPACTION_KIND_MAJOR);
    assert_true(ci->bytes_done <= ci->bytes_total);
    if (!ci->running)
        assert_int_equal(ci->bytes_done, 0);
    if (ci->strategy != WC_COMPACTION_LCS)
        assert_int_equal(ci->level, -1);
    else
        assert_true(ci->level >= 0 && ci->level < WC_LEVELS);
    for (uint32_t k = 0; k < ci->ninputs && k < WC_COMPACTION_INFO_INPUTS; k++)
        assert_true(ci->inputs[k] != 0);
}

static void test_compaction_maps(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    wc_engine *e = wc_node_engine(f->node);
    wc_table_def d, g;
    wc_replication r;
    char msg[600];

    /* CREATE carries the map; GET_TABLE returns it verbatim */
    wc_replication_default(&r);
    def_with_map(&d, T1, "ks.t1", LCS_MAP);
    assert_int_equal(wc_client_create_table(c, &d), WC_OK);
    assert_int_equal(wc_client_get_table(c, T1, &g), WC_OK);
    assert_string_equal(g.compaction, LCS_MAP);
    assert_int_equal(def_replication(&g).replication_factor, 1);
    {
        wc_compaction_stats cs;
        assert_int_equal(wc_client_compaction_stats(c, T1, &cs), WC_OK);
        assert_int_equal(cs.strategy, WC_COMPACTION_LCS);
        assert_true(cs.enabled);
    }

    /* ALTER to TWCS */
    snprintf(d.compaction, sizeof(d.compaction), "%s", TWCS_MAP);
    assert_int_equal(wc_client_alter_table(c, &d), WC_OK);
    assert_int_equal(wc_client_get_table(c, T1, &g), WC_OK);
    assert_string_equal(g.compaction, TWCS_MAP);
    {
        wc_compaction_stats cs;
        assert_int_equal(wc_client_compaction_stats(c, T1, &cs), WC_OK);
        assert_int_equal(cs.strategy, WC_COMPACTION_TWCS);
    }

    /* an invalid map: the engine's status and message, verbatim; nothing changes */
    snprintf(d.compaction, sizeof(d.compaction),
             "{'class': 'LeveledCompactionStrategy', 'sstable_size_in_mbb': 1}");
    assert_int_equal(wc_client_alter_table(c, &d), WC_INVALID_ARGUMENT);
    snprintf(msg, sizeof(msg), "%s", wc_last_error());
    assert_false(wc_client_broken(c));
    assert_non_null(strstr(msg, "sstable_size_in_mbb"));
    assert_int_equal(wc_engine_alter_table(e, &d), WC_INVALID_ARGUMENT); /* refused: no change */
    assert_string_equal(msg, wc_last_error());
    assert_int_equal(wc_client_get_table(c, T1, &g), WC_OK);
    assert_string_equal(g.compaction, TWCS_MAP);
    assert_int_equal(def_replication(&g).replication_factor, 1);

    /* CREATE with an invalid map creates nothing */
    def_with_map(&d, T2, "ks.t2", "{'class': 'FancyCompactionStrategy'}");
    assert_int_equal(wc_client_create_table(c, &d), WC_INVALID_ARGUMENT);
    snprintf(msg, sizeof(msg), "%s", wc_last_error());
    assert_int_equal(wc_engine_create_table(e, &d), WC_INVALID_ARGUMENT);
    assert_string_equal(msg, wc_last_error());
    assert_non_null(strstr(msg, "FancyCompactionStrategy"));
    assert_int_equal(wc_client_get_table(c, T2, &g), WC_NOT_FOUND);
    def_with_map(&d, T2, "ks.t2", "{'class': 'LCS', 'sstable_size_in_mb': 1");
    assert_int_equal(wc_client_create_table(c, &d), WC_INVALID_ARGUMENT);
    assert_false(wc_client_broken(c));

    /* an empty map means the defaults (STCS) */
    def_with_map(&d, T2, "ks.t2", "");
    assert_int_equal(wc_client_create_table(c, &d), WC_OK);
    assert_int_equal(wc_client_get_table(c, T2, &g), WC_OK);
    assert_string_equal(g.compaction, "");
    {
        wc_compaction_stats cs;
        assert_int_equal(wc_client_compaction_stats(c, T2, &cs), WC_OK);
        assert_int_equal(cs.strategy, WC_COMPACTION_STCS);
    }

    /* the map survives a restart of the node (catalog) */
    wc_client_close(c);
    wc_node_stop(f->node);
    start_node(f, 16);
    c = connect_ok(f);
    assert_int_equal(wc_client_get_table(c, T1, &g), WC_OK);
    assert_string_equal(g.compaction, TWCS_MAP);
    wc_client_close(c);
}

static void test_compaction_stats(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    wc_engine *e = wc_node_engine(f->node);
    wc_table_def d;
    wc_replication r;
    wc_compaction_stats cs;
    wc_table_stats ts;
    wc_compaction_info *v = NULL;
    size_t n = 0;
    const uint32_t ids[2] = {T1, T2};

    wc_replication_default(&r);
    def_with_map(&d, T1, "ks.lcs", LCS_MAP);
    assert_int_equal(wc_client_create_table(c, &d), WC_OK);
    def_with_map(&d, T2, "ks.twcs", TWCS_MAP);
    assert_int_equal(wc_client_create_table(c, &d), WC_OK);

    /* several flushes of each table */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(apply_rows(c, T1, "lcs", 4, (uint64_t)i * 200, (uint64_t)i * 200 + 200,
                                    WC_CL_ONE),
                         WC_OK);
        assert_int_equal(apply_rows(c, T2, "tw", 2, (uint64_t)i * 50, (uint64_t)i * 50 + 50,
                                    WC_CL_ONE),
                         WC_OK);
        assert_int_equal(wc_client_flush(c, 0), WC_OK);
    }
    /* COMPACTIONS while the background thread may be working: shape only */
    assert_int_equal(wc_client_compactions(c, 0, &v, &n), WC_OK);
    for (size_t i = 0; i < n; i++)
        check_info(&v[i], ids, 2);
    if (n == 0)
        assert_null(v);
    wc_free(v);

    assert_int_equal(wc_engine_compaction_wait(e, 0, 60000), WC_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(read_all(c, T1, "lcs1", i == 1, 1000, NULL), 1200);

    /* LCS: levels account for every SSTable */
    assert_int_equal(wc_client_compaction_stats(c, T1, &cs), WC_OK);
    assert_int_equal(wc_client_table_stats(c, T1, &ts), WC_OK);
    assert_int_equal(cs.strategy, WC_COMPACTION_LCS);
    assert_true(cs.enabled);
    assert_false(cs.running);
    assert_true(ts.sstable_count >= 1);
    assert_int_equal(sum_u64(cs.level_sstables, WC_LEVELS), ts.sstable_count);
    assert_true(sum_u64(cs.level_bytes, WC_LEVELS) > 0);
    assert_int_equal(cs.nwindows, 0);
    assert_true(sum_u64(cs.read_histogram, WC_READ_HIST_BUCKETS) >= 3);
    assert_true(cs.read_p50 <= cs.read_p99);
    assert_int_equal(cs.droppable_tombstones, 0);

    /*
     * A major compaction shows in the counters.  A fresh SSTable first: the
     * background compactions may have left one SSTable at its level, which
     * a major compaction leaves alone.  Whoever merges the new one, the
     * background thread (compact waits for it) or compact, counts.
     */
    {
        uint64_t before = cs.compactions_completed, written = cs.bytes_written;
        assert_int_equal(apply_rows(c, T1, "major", 1, 0, 20, WC_CL_ONE), WC_OK);
        assert_int_equal(wc_client_flush(c, 0), WC_OK);
        assert_int_equal(wc_client_compact(c, T1), WC_OK);
        assert_int_equal(wc_client_compaction_stats(c, T1, &cs), WC_OK);
        assert_true(cs.compactions_completed >= before + 1);
        assert_true(cs.bytes_written > written);
        assert_true(cs.bytes_read > 0);
    }

    /* TWCS: windows account for every SSTable (all rows in one window) */
    assert_int_equal(wc_client_compaction_stats(c, T2, &cs), WC_OK);
    assert_int_equal(wc_client_table_stats(c, T2, &ts), WC_OK);
    assert_int_equal(cs.strategy, WC_COMPACTION_TWCS);
    assert_true(ts.sstable_count >= 1);
    assert_int_equal(cs.nwindows, 1);
    assert_int_equal(cs.window_sstables[0], ts.sstable_count);
    assert_true(cs.window_bytes[0] > 0);
    assert_int_equal(sum_u64(cs.level_sstables, WC_LEVELS), ts.sstable_count);
    assert_int_equal(read_all(c, T2, NULL, false, 1000, NULL), 600);

    /* COMPACTIONS of one table, of every table, of an unknown table */
    assert_int_equal(wc_client_compactions(c, T1, &v, &n), WC_OK);
    for (size_t i = 0; i < n; i++) {
        check_info(&v[i], ids, 1);
        assert_int_equal(v[i].strategy, WC_COMPACTION_LCS);
    }
    wc_free(v);
    assert_int_equal(wc_client_compactions(c, 0, &v, &n), WC_OK);
    for (size_t i = 0; i < n; i++)
        check_info(&v[i], ids, 2);
    wc_free(v);
    {
        static wc_compaction_info sentinel;
        v = &sentinel; /* must come back NULL */
        n = 5;
    }
    assert_int_equal(wc_client_compactions(c, 4242, &v, &n), WC_NOT_FOUND);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_non_null(strstr(wc_last_error(), "4242"));
    assert_int_equal(wc_client_compaction_stats(c, 4242, &cs), WC_NOT_FOUND);
    assert_false(wc_client_broken(c));
    assert_int_equal(wc_client_ping(c), WC_OK);
    wc_client_close(c);
}

/* Without compaction threads work stays pending: COMPACTIONS lists it exactly. */
static void test_compactions_pending(void **state)
{
    fx *f = *state;
    wc_node_options o;
    wc_client *c;
    wc_table_def d;
    wc_replication r;
    wc_compaction_stats cs;
    wc_table_stats ts;
    wc_compaction_info *v = NULL;
    size_t n = 0;
    const uint32_t ids[1] = {T1};

    wc_node_stop(f->node);
    node_opts(f, &o, 16);
    o.engine.compaction_threads = 0;
    if (wc_node_start(&o, &f->node) != WC_OK)
        fail_msg("wc_node_start: %s", wc_last_error());
    c = connect_ok(f);
    wc_replication_default(&r);
    def_with_map(&d, T1, "ks.stcs",
                 "{'class': 'SizeTieredCompactionStrategy', 'min_threshold': 4}");
    assert_int_equal(wc_client_create_table(c, &d), WC_OK);
    assert_int_equal(wc_client_compactions(c, T1, &v, &n), WC_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(apply_rows(c, T1, "st", 2, (uint64_t)i * 100, (uint64_t)i * 100 + 100,
                                    WC_CL_ONE),
                         WC_OK);
        assert_int_equal(wc_client_flush(c, T1), WC_OK);
    }
    assert_int_equal(wc_client_table_stats(c, T1, &ts), WC_OK);
    assert_int_equal(ts.sstable_count, 5);
    assert_int_equal(wc_client_compaction_stats(c, T1, &cs), WC_OK);
    assert_int_equal(cs.strategy, WC_COMPACTION_STCS);
    assert_false(cs.running);
    assert_true(cs.pending >= 1);
    assert_int_equal(cs.level_sstables[0], 5);

    assert_int_equal(wc_client_compactions(c, 0, &v, &n), WC_OK);
    assert_int_equal(n, 1);
    check_info(&v[0], ids, 1);
    assert_int_equal(v[0].table_id, T1);
    assert_false(v[0].running);
    assert_int_equal(v[0].strategy, WC_COMPACTION_STCS);
    assert_int_equal(v[0].kind, WC_COMPACTION_KIND_MINOR);
    assert_true(v[0].ninputs >= 4 && v[0].ninputs <= 5);
    assert_int_equal(v[0].level, -1);
    assert_int_equal(v[0].window_start, INT64_MIN);
    assert_int_equal(v[0].bytes_done, 0);
    assert_true(v[0].bytes_total > 0);
    for (uint32_t k = 1; k < v[0].ninputs; k++)
        assert_true(v[0].inputs[k] != v[0].inputs[k - 1]);
    wc_free(v);

    /* a major compaction leaves nothing to do */
    assert_int_equal(wc_client_compact(c, T1), WC_OK);
    assert_int_equal(wc_client_compactions(c, T1, &v, &n), WC_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    assert_int_equal(wc_client_compaction_stats(c, T1, &cs), WC_OK);
    assert_int_equal(cs.pending, 0);
    assert_int_equal(cs.level_sstables[0], 1);
    assert_true(cs.compactions_completed >= 1);
    assert_int_equal(read_all(c, T1, NULL, false, 1000, NULL), 1000);
    wc_client_close(c);
}

/* Delete rows [from, to) of partition pk with row tombstones at ts. */
static wc_status delete_rows(wc_client *c, uint32_t table, const char *pk, uint64_t from,
                             uint64_t to, int64_t ts)
{
    wc_buf rec;
    wc_mutation m;
    const uint8_t *enc;
    size_t len;
    wc_status st;

    wc_buf_init(&rec);
    wc_batch_begin(&rec, 1);
    wc_mutation_init(&m, table, pk, strlen(pk));
    for (uint64_t k = from; k < to; k++) {
        uint8_t ck[8];
        wc_rowb *rb;
        wc_test_ck(k, ck);
        rb = wc_mutation_row_begin(&m, false, ck, 8);
        wc_rowb_deletion(rb, ts, (uint32_t)time(NULL));
        wc_mutation_row_end(&m);
    }
    st = wc_mutation_encode(&m, &enc, &len);
    if (st == WC_OK)
        wc_batch_add(&rec, enc, len);
    wc_mutation_free(&m);
    if (st == WC_OK)
        st = rec.failed ? WC_NO_MEMORY : wc_client_apply(c, rec.data, rec.len, WC_CL_ONE);
    wc_buf_free(&rec);
    return st;
}

static wc_status read_with_threshold(wc_client *c, uint64_t threshold, size_t *nrows,
                                     uint64_t *tombstones)
{
    wc_read_request q;
    wc_client_page *pg = NULL;
    wc_status st;

    memset(&q, 0, sizeof(q));
    q.table_id = T1;
    q.pk = (const uint8_t *)"tomb";
    q.pk_len = 4;
    q.start.unbounded = q.end.unbounded = true;
    q.tombstone_failure_threshold = threshold;
    st = wc_client_read(c, &q, WC_CL_ONE, &pg);
    if (st == WC_OK) {
        *nrows = pg->nrows;
        *tombstones = pg->stats.tombstones_scanned;
        wc_client_page_free(pg);
    } else {
        assert_null(pg);
    }
    return st;
}

static void test_tombstone_guardrail(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    size_t nrows = 0;
    uint64_t tomb = 0;

    create_t(c, T1, "ks.t1");
    /* 30 rows of partition "tomb", 20 of them deleted again */
    for (uint64_t k = 0; k < 30; k++) {
        wc_buf rec;
        wc_mutation m;
        const uint8_t *enc;
        size_t len;
        uint8_t ck[8];
        wc_rowb *rb;
        wc_cell cell = {.column = 1, .ts = 100, .value = (const uint8_t *)"x", .len = 1};

        wc_buf_init(&rec);
        wc_batch_begin(&rec, 1);
        wc_mutation_init(&m, T1, "tomb", 4);
        wc_test_ck(k, ck);
        rb = wc_mutation_row_begin(&m, false, ck, 8);
        wc_rowb_liveness(rb, 100, 0, 0);
        wc_rowb_cell(rb, &cell);
        wc_mutation_row_end(&m);
        assert_int_equal(wc_mutation_encode(&m, &enc, &len), WC_OK);
        wc_batch_add(&rec, enc, len);
        assert_int_equal(wc_client_apply(c, rec.data, rec.len, WC_CL_ONE), WC_OK);
        wc_mutation_free(&m);
        wc_buf_free(&rec);
    }
    assert_int_equal(delete_rows(c, T1, "tomb", 5, 25, 200), WC_OK);

    /* no threshold, and one above what the read meets: the rows that are left */
    assert_int_equal(read_with_threshold(c, 0, &nrows, &tomb), WC_OK);
    assert_int_equal(nrows, 10);
    assert_true(tomb >= 20);
    assert_int_equal(read_with_threshold(c, 1000, &nrows, &tomb), WC_OK);
    assert_int_equal(nrows, 10);

    /* threshold 5: the engine's WC_OVERLOADED and message reach the client */
    assert_int_equal(read_with_threshold(c, 5, &nrows, &tomb), WC_OVERLOADED);
    if (strstr(wc_last_error(), "failure threshold 5") == NULL ||
        strstr(wc_last_error(), "ks.t1") == NULL || strstr(wc_last_error(), "tombstones") == NULL)
        fail_msg("unexpected message \"%s\"", wc_last_error());
    assert_false(wc_client_broken(c));

    /* the same from SSTables */
    assert_int_equal(wc_client_flush(c, T1), WC_OK);
    assert_int_equal(read_with_threshold(c, 5, &nrows, &tomb), WC_OVERLOADED);
    assert_non_null(strstr(wc_last_error(), "more than the failure threshold 5"));
    assert_int_equal(read_with_threshold(c, 0, &nrows, &tomb), WC_OK);
    assert_int_equal(nrows, 10);
    assert_int_equal(wc_client_ping(c), WC_OK);
    wc_client_close(c);
}

/* ---------------------------------------------------------------- COUNT_ROWS (version 20) */

static uint64_t count_of(wc_client *c, const char *pk, uint64_t lo, uint64_t hi, bool slice,
                         bool with_static, uint64_t threshold, wc_status *st_out)
{
    wc_read_request q;
    uint8_t klo[8], khi[8];
    uint64_t n = 99999;
    wc_read_stats rs;
    wc_status st;

    memset(&q, 0, sizeof(q));
    q.table_id = T1;
    q.pk = (const uint8_t *)pk;
    q.pk_len = pk ? strlen(pk) : 0;
    q.start.unbounded = q.end.unbounded = !slice;
    if (slice) {
        wc_test_ck(lo, klo);
        wc_test_ck(hi, khi);
        q.start.key = klo;
        q.start.len = 8;
        q.start.inclusive = true;
        q.end.key = khi;
        q.end.len = 8;
        q.end.inclusive = true;
    }
    q.include_static = with_static;
    q.page_rows = 7; /* the node reads pages of its own size */
    q.tombstone_failure_threshold = threshold;
    st = wc_client_count(c, &q, WC_CL_ONE, NULL, 0, &n, &rs);
    if (st_out)
        *st_out = st;
    else if (st != WC_OK)
        fail_msg("count: %s", wc_last_error());
    return n;
}

/* The node counts what a read returns, over every page, without the rows. */
static void test_count_rows(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    wc_buf rec;
    wc_status st;

    create_t(c, T1, "ks.t1");
    assert_int_equal(apply_rows(c, T1, "n", 3, 0, 2500, WC_CL_ONE), WC_OK);
    assert_int_equal(delete_rows(c, T1, "n0", 100, 300, 5000), WC_OK);
    /* a partition with a static row and three rows */
    make_batch(&rec, T1, "s", 1, 0, 3, 1000, true);
    assert_int_equal(wc_client_apply(c, rec.data, rec.len, WC_CL_ONE), WC_OK);
    wc_buf_free(&rec);

    assert_int_equal(count_of(c, "n0", 0, 0, false, false, 0, NULL), 2300);
    assert_int_equal(count_of(c, "n1", 0, 0, false, false, 0, NULL), 2500);
    assert_int_equal(read_all(c, T1, "n1", false, 1000, NULL), 2500);
    assert_int_equal(count_of(c, "n0", 50, 149, true, false, 0, NULL), 50);
    assert_int_equal(count_of(c, "nothing", 0, 0, false, false, 0, NULL), 0);
    /* static rows are no rows, asked for or not */
    assert_int_equal(count_of(c, "s0", 0, 0, false, true, 0, NULL), 3);
    assert_int_equal(count_of(c, "s0", 0, 0, false, false, 0, NULL), 3);
    /* the whole table, in pages */
    assert_int_equal(count_of(c, NULL, 0, 0, false, false, 0, NULL), 2300 + 2500 + 2500 + 3);
    /* from SSTables: the same */
    assert_int_equal(wc_client_flush(c, T1), WC_OK);
    assert_int_equal(count_of(c, "n0", 0, 0, false, false, 0, NULL), 2300);
    /* the tombstone limit holds over all pages */
    count_of(c, "n0", 0, 0, false, false, 150, &st);
    assert_int_equal(st, WC_OVERLOADED);
    assert_int_equal(count_of(c, "n0", 0, 0, false, false, 100000, NULL), 2300);
    assert_false(wc_client_broken(c));
    wc_client_close(c);
}

/* ---------------------------------------------------------------- signals */

/* Blocked-signal mask of a thread from /proc (hex SigBlk). */
static bool thread_sigblk(const char *tid, unsigned long long *mask)
{
    char path[400], line[256];
    FILE *fp;
    bool ok = false;

    snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, "SigBlk:", 7) == 0) {
            *mask = strtoull(line + 7, NULL, 16);
            ok = true;
        }
    fclose(fp);
    return ok;
}

static void test_threads_block_signals(void **state)
{
    fx *f = *state;
    wc_client *c = connect_ok(f);
    DIR *d;
    struct dirent *de;
    int others = 0;
    char self[32];
    sigset_t cur;
    const unsigned long long need = (1ull << (SIGTERM - 1)) | (1ull << (SIGHUP - 1)) |
                                    (1ull << (SIGINT - 1)) | (1ull << (SIGUSR1 - 1)) |
                                    (1ull << (SIGQUIT - 1)) | (1ull << (SIGPIPE - 1));

    create_t(c, T1, "ks.t1"); /* the node's and the engine's threads exist now */
    snprintf(self, sizeof(self), "%ld", (long)syscall(SYS_gettid));
    d = opendir("/proc/self/task");
    if (d == NULL)
        skip();
    while ((de = readdir(d)) != NULL) {
        unsigned long long mask;
        if (de->d_name[0] == '.' || strcmp(de->d_name, self) == 0)
            continue;
        if (!thread_sigblk(de->d_name, &mask))
            continue;
        if ((mask & need) != need)
            fail_msg("thread %s runs with SigBlk %llx", de->d_name, mask);
        others++;
    }
    closedir(d);
    assert_true(others >= 3); /* event loop, workers, engine flush/sync */
    /* the caller's mask was restored */
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    assert_false(sigismember(&cur, SIGTERM));
    wc_client_close(c);
}

/* Threads of this process (the test's own and the node's). */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int k = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            k++;
    closedir(d);
    return k;
}

/*
 * Far more clients than the old cap of 64, each writing and reading back its
 * own partition while all stay connected: the node serves them with a fixed
 * set of threads, not one per connection.
 */
static void test_many_clients(void **state)
{
    fx *f = *state;
    enum { NCLIENTS = 200 };
    static wc_client *cl[NCLIENTS];
    static wc_node_info ni;
    wc_node_options o;
    char pk[32];
    int before, during;

    wc_node_stop(f->node);
    node_opts(f, &o, NCLIENTS + 10);
    o.worker_threads = 4;
    if (wc_node_start(&o, &f->node) != WC_OK)
        fail_msg("wc_node_start: %s", wc_last_error());
    cl[0] = connect_ok(f);
    create_t(cl[0], T1, "ks.t1");
    before = count_threads();
    for (int i = 1; i < NCLIENTS; i++)
        cl[i] = connect_ok(f);
    /* interleave the clients' requests so every connection is served while all are open */
    for (int i = 0; i < NCLIENTS; i++) {
        snprintf(pk, sizeof(pk), "m%d-", i);
        assert_int_equal(apply_rows(cl[i], T1, pk, 1, 0, 3, WC_CL_ONE), WC_OK);
    }
    for (int i = NCLIENTS - 1; i >= 0; i--) {
        snprintf(pk, sizeof(pk), "m%d-0", i);
        assert_int_equal(read_all(cl[i], T1, pk, false, 2, NULL), 3);
    }
    during = count_threads();
    assert_int_equal(wc_client_node_info(cl[7], &ni), WC_OK);
    assert_int_equal(ni.connections_open, NCLIENTS);
    assert_int_equal(ni.connections_refused, 0);
    if (before > 0)
        assert_int_equal(during, before); /* no thread per connection */
    for (int i = 0; i < NCLIENTS; i++)
        wc_client_close(cl[i]);
}

/*
 * One worker, and a client that sends half of a large request and stalls
 * (then a client that never handshakes): neither holds the worker, other
 * clients are served at once; the large request completes when the rest
 * arrives.
 */
static void test_partial_request_holds_no_worker(void **state)
{
    fx *f = *state;
    wc_node_options o;
    wc_client *c;
    wc_buf rec, req;
    uint8_t buf[256];
    int raw, mute;
    int64_t t0;
    size_t start, half;

    wc_node_stop(f->node);
    node_opts(f, &o, 8);
    o.worker_threads = 1;
    if (wc_node_start(&o, &f->node) != WC_OK)
        fail_msg("wc_node_start: %s", wc_last_error());
    c = connect_ok(f);
    create_t(c, T1, "ks.t1");
    /* an APPLY of 2000 rows: a bulk request of well over 64 KiB */
    make_batch(&rec, T1, "big", 1, 0, 2000, 1000, false);
    wc_buf_init(&req);
    start = wc_proto_begin_request(&req, WC_OP_APPLY, 7);
    wc_proto_put_apply(&req, WC_CL_ONE, rec.data, rec.len);
    assert_int_equal(wc_proto_end_frame(&req, start), WC_OK);
    assert_true(req.len > (64u << 10));
    raw = raw_connect(f->sock);
    raw_handshake(raw, WC_PROTO_VERSION, WC_OK);
    half = req.len / 2;
    raw_send(raw, req.data, half);
    mute = raw_connect(f->sock); /* connected, never handshakes */
    usleep(100000);
    t0 = now_ms();
    for (int i = 0; i < 50; i++)
        assert_int_equal(wc_client_ping(c), WC_OK);
    assert_int_equal(apply_rows(c, T1, "small", 1, 0, 3, WC_CL_ONE), WC_OK);
    assert_int_equal(read_all(c, T1, "small0", false, 10, NULL), 3);
    assert_true(now_ms() - t0 < 2000);
    /* the rest arrives: the request is served and answered */
    raw_send(raw, req.data + half, req.len - half);
    assert_true(raw_frame(raw, buf, sizeof(buf)) > 0);
    assert_int_equal(read_all(c, T1, "big0", false, 500, NULL), 2000);
    close(raw);
    close(mute);
    wc_buf_free(&req);
    wc_buf_free(&rec);
    wc_client_close(c);
}

/* A partition of n rows with values of vlen bytes, applied in batches of 1000 rows. */
static void apply_fat(wc_client *c, uint32_t table, const char *pk, int n, size_t vlen)
{
    uint8_t *val = malloc(vlen);

    memset(val, 'x', vlen);
    for (int from = 0; from < n; from += 1000) {
        wc_buf rec;
        wc_mutation m;
        const uint8_t *enc;
        size_t len;

        wc_buf_init(&rec);
        wc_batch_begin(&rec, 1);
        wc_mutation_init(&m, table, pk, strlen(pk));
        for (int k = from; k < n && k < from + 1000; k++) {
            uint8_t ck[8];
            wc_rowb *rb;
            wc_cell cell = {.column = 1, .ts = 1000, .value = val, .len = vlen};

            wc_test_ck((uint64_t)k, ck);
            rb = wc_mutation_row_begin(&m, false, ck, 8);
            wc_rowb_liveness(rb, 1000, 0, 0);
            wc_rowb_cell(rb, &cell);
            wc_mutation_row_end(&m);
        }
        assert_int_equal(wc_mutation_encode(&m, &enc, &len), WC_OK);
        wc_batch_add(&rec, enc, len);
        assert_int_equal(wc_client_apply(c, rec.data, rec.len, WC_CL_ONE), WC_OK);
        wc_mutation_free(&m);
        wc_buf_free(&rec);
    }
    free(val);
}

/* Rows of one page of partition pk (page_rows rows at most), or -1. */
static long read_page(wc_client *c, uint32_t table, const char *pk, size_t page_rows)
{
    wc_read_request r;
    wc_client_page *pg;
    long n;

    memset(&r, 0, sizeof(r));
    r.table_id = table;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    r.page_rows = page_rows;
    if (wc_client_read(c, &r, WC_CL_ONE, &pg) != WC_OK)
        return -1;
    n = (long)pg->nrows;
    wc_client_page_free(pg);
    return n;
}

/*
 * The shared-memory ring through the node: small requests of a client on
 * the ring are served by the ring's workers even while the only socket
 * worker is held by a client that does not read its large response (a
 * socket-only client times out meanwhile); a response too large for a
 * slot comes over the socket; APPLY and READ give the same results as
 * over the socket; a node that stops leaves its ring clients
 * "unavailable" (broken), not waiting.
 */
static void test_ring(void **state)
{
    fx *f = *state;
    size_t size = wc_shmring_size(8, 4096);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    wc_node_options o;
    wc_client *c, *sock_only;
    wc_read_request r;
    wc_buf req;
    size_t start;
    int raw;
    int64_t t0;

    assert_true(mem != MAP_FAILED);
    assert_int_equal(wc_shmring_format(mem, size, 8, 4096), WC_OK);
    wc_node_stop(f->node);
    node_opts(f, &o, 16);
    o.worker_threads = 1;
    o.send_timeout_ms = 20000;
    o.ring = mem;
    o.ring_size = size;
    if (wc_node_start(&o, &f->node) != WC_OK)
        fail_msg("wc_node_start: %s", wc_last_error());
    c = connect_ok(f);
    assert_false(wc_client_on_ring(c));
    assert_int_equal(wc_client_use_ring(c, mem, size, 0), WC_OK);
    assert_true(wc_client_on_ring(c));
    create_t(c, T1, "ks.t1");
    assert_int_equal(apply_rows(c, T1, "r", 3, 0, 20, WC_CL_ONE), WC_OK);
    assert_int_equal(read_all(c, T1, "r1", false, 5, NULL), 20);
    assert_int_equal(read_all(c, T1, "r2", true, 7, NULL), 20);
    /* 12 MB in one partition: its page does not fit the socket's buffers */
    apply_fat(c, T1, "fat", 12000, 1000);

    /* a raw client asks for all of it and never reads: the socket worker is stuck sending */
    raw = raw_connect(f->sock);
    raw_handshake(raw, WC_PROTO_VERSION, WC_OK);
    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)"fat";
    r.pk_len = 3;
    r.start.unbounded = r.end.unbounded = true;
    r.page_rows = 20000;
    wc_buf_init(&req);
    start = wc_proto_begin_request(&req, WC_OP_READ, 9);
    wc_proto_put_read(&req, &r, WC_CL_ONE);
    assert_int_equal(wc_proto_end_frame(&req, start), WC_OK);
    raw_send(raw, req.data, req.len);
    wc_buf_free(&req);
    usleep(300000);
    if (wc_client_connect(f->sock, 500, &sock_only) == WC_OK) {
        assert_int_equal(wc_client_ping(sock_only), WC_TIMEOUT); /* the socket side is held */
        wc_client_close(sock_only);
    }
    t0 = now_ms();
    for (int i = 0; i < 50; i++)
        assert_int_equal(wc_client_ping(c), WC_OK);
    assert_int_equal(apply_rows(c, T1, "during", 1, 0, 3, WC_CL_ONE), WC_OK);
    assert_int_equal(read_page(c, T1, "during0", 100), 3);
    assert_int_equal(read_page(c, T1, "fat", 2), 2); /* 2 KB: fits the slot */
    assert_true(now_ms() - t0 < 3000);
    close(raw); /* frees the socket worker */

    /* 10 rows of 1 KB do not fit a 4 KB slot: the answer comes over the socket */
    assert_int_equal(read_page(c, T1, "fat", 10), 10);
    assert_true(wc_client_on_ring(c));
    assert_int_equal(read_page(c, T1, "fat", 20000), 12000);

    /* the node stops: the ring client hears it at once */
    wc_node_stop(f->node);
    f->node = NULL;
    t0 = now_ms();
    assert_int_equal(wc_client_ping(c), WC_UNAVAILABLE);
    assert_true(wc_client_broken(c));
    assert_true(now_ms() - t0 < 2000);
    wc_client_close(c);
    start_node(f, 16);
    munmap(mem, size);
}

/* Rows of partition pk through the row cache; *cached: answered from it. */
static long read_cached(wc_client *c, const char *pk, bool *cached)
{
    wc_read_request r;
    wc_client_page *pg;
    long n;

    memset(&r, 0, sizeof(r));
    r.table_id = T1;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = r.end.unbounded = true;
    if (wc_client_read_cached(c, &r, WC_CL_LOCAL_ONE, false, &pg) != WC_OK)
        fail_msg("read_cached: %s", wc_last_error());
    n = (long)pg->nrows;
    *cached = pg->cached;
    wc_client_page_free(pg);
    return n;
}

/*
 * The node drives the row cache: enabled while it serves, a write through
 * the node makes the partition's entry stale, a restarted node's cache
 * starts empty, and a node configured for a cluster leaves it disabled.
 */
static void test_row_cache(void **state)
{
    fx *f = *state;
    size_t size = wc_rowcache_size(1u << 20);
    void *mem = aligned_alloc(64, size);
    wc_rowcache *rc = NULL;
    wc_rowcache_stats st;
    wc_node_options o;
    wc_client *c;
    bool cached;

    assert_non_null(mem);
    assert_int_equal(wc_rowcache_format(mem, size), WC_OK);
    assert_int_equal(wc_rowcache_open(mem, size, &rc), WC_OK);
    wc_node_stop(f->node);
    node_opts(f, &o, 16);
    o.row_cache = mem;
    o.row_cache_size = size;
    assert_int_equal(wc_node_start(&o, &f->node), WC_OK);
    wc_rowcache_get_stats(rc, &st);
    assert_true(st.enabled);

    c = connect_ok(f);
    wc_client_use_rowcache(c, rc);
    create_t(c, T1, "ks.cached");
    assert_int_equal(apply_rows(c, T1, "p", 2, 0, 3, WC_CL_ONE), WC_OK);
    assert_int_equal(read_cached(c, "p0", &cached), 3);
    assert_false(cached);
    assert_int_equal(read_cached(c, "p0", &cached), 3);
    assert_true(cached);
    /* a write to another partition leaves it; a write to p0 makes it stale */
    assert_int_equal(apply_rows(c, T1, "q", 1, 0, 1, WC_CL_ONE), WC_OK);
    assert_int_equal(read_cached(c, "p0", &cached), 3);
    assert_true(cached);
    assert_int_equal(apply_rows(c, T1, "p", 1, 3, 4, WC_CL_ONE), WC_OK);
    assert_int_equal(read_cached(c, "p0", &cached), 4);
    assert_false(cached);
    assert_int_equal(read_cached(c, "p0", &cached), 4);
    assert_true(cached);
    wc_client_close(c);

    /* a restarted node: nothing of the earlier one hits */
    wc_node_stop(f->node);
    f->node = NULL;
    wc_rowcache_get_stats(rc, &st);
    assert_false(st.enabled);
    assert_int_equal(wc_node_start(&o, &f->node), WC_OK);
    c = connect_ok(f);
    wc_client_use_rowcache(c, rc);
    assert_int_equal(read_cached(c, "p0", &cached), 4);
    assert_false(cached);
    wc_client_close(c);

    /* a node configured for a cluster never enables it */
    wc_node_stop(f->node);
    o.cluster_expected = true;
    assert_int_equal(wc_node_start(&o, &f->node), WC_OK);
    wc_rowcache_get_stats(rc, &st);
    assert_false(st.enabled);
    wc_rowcache_close(rc);
    wc_node_stop(f->node);
    f->node = NULL;
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tables_and_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_workers_nice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_open_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_live_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consistency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_expected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compactions_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_guardrail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_block_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_request_holds_no_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
