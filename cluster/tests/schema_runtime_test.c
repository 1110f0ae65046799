/*
 * schema_runtime_test.c - the cluster schema in running nodes (real
 * transports on 127.0.0.1, engines in temporary directories): a keyspace
 * and a table created through SCHEMA_CHANGE on one node reach the other
 * node's store and engine (same table id, "keyspace.table"), the versions
 * agree (in gossip too) and the change's agreement wait says so; an ALTER
 * reaches the other engine; a dropped USING widecol table's engine data
 * goes on every node, a dropped foreign table's stays; a restarted node lists its schema from its
 * file; a damaged file is refused; a node without a cluster answers
 * SCHEMA_LIST and refuses SCHEMA_CHANGE; after a power loss (its files on a
 * faultfs) a node keeps its host id and tokens and every acknowledged
 * schema change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "faultfs.h"
#include "fs.h"
#include "protocol.h"
#include "schema_def.h"
#include "schema_runtime.h"
#include "schema_sync.h"
#include "testutil.h"

#define WAIT_MS 10000

typedef struct node {
    char *dir;
    wc_engine *e;
    wc_cluster *c;
    wc_fs *fs; /* the cluster's files (NULL: posix) */
} node;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static wc_status start(node *n, const wc_addr *seed)
{
    wc_engine_options eo;
    wc_cluster_options o;
    wc_status st;

    wc_engine_options_default(&eo);
    eo.dir = n->dir;
    eo.compaction_threads = 0;
    if ((st = wc_engine_open(&eo, &n->e)) != WC_OK)
        return st;
    memset(&o, 0, sizeof(o));
    o.data_dir = n->dir;
    strcpy(o.listen.host, "127.0.0.1");
    o.seeds = seed;
    o.nseeds = seed ? 1 : 0;
    o.cluster_name = "test";
    o.dc = "dc1";
    o.rack = "rack1";
    o.num_tokens = 4;
    o.gossip_interval_ms = 100;
    o.join_wait_ms = 3000;
    o.engine = n->e;
    o.fs = n->fs;
    if ((st = wc_cluster_start(&o, &n->c)) != WC_OK) {
        wc_engine_close(n->e);
        n->e = NULL;
    }
    return st;
}

static void stop(node *n)
{
    wc_cluster_stop(n->c);
    wc_engine_close(n->e);
    n->c = NULL;
    n->e = NULL;
}

/* Send one SCHEMA_CHANGE to n's runtime. */
static wc_status change(node *n, uint8_t kind, uint32_t wait_ms, const void *a, size_t alen,
                        const char *b, const char *c, wc_proto_schema_result *res)
{
    wc_proto_schema_change ch = {kind,          wait_ms, a, (const uint8_t *)b, (const uint8_t *)c,
                                 alen,          b ? strlen(b) : 0, c ? strlen(c) : 0};
    wc_buf req, out;
    wc_status st;

    wc_buf_init(&req);
    wc_buf_init(&out);
    wc_proto_put_schema_change(&req, &ch);
    st = wc_schema_runtime_serve(wc_cluster_schema(n->c), WC_OP_SCHEMA_CHANGE, req.data, req.len,
                                 &out);
    if (st == WC_OK)
        assert_int_equal(wc_proto_get_schema_result(out.data, out.len, res), WC_OK);
    wc_buf_free(&req);
    wc_buf_free(&out);
    return st;
}

static void definition(wc_buf *out, int ncols)
{
    wc_schema s;
    wc_schema_column cols[3] = {
        {.name = "id", .type = "bigint", .kind = WC_COL_PARTITION, .cell_id = 0},
        {.name = "v", .type = "text", .kind = WC_COL_REGULAR, .cell_id = 1},
        {.name = "w", .type = "text", .kind = WC_COL_REGULAR, .cell_id = 2},
    };

    wc_schema_init(&s);
    s.keyspace = "ks";
    s.replication_class = "SimpleStrategy";
    s.table = "t";
    s.table_id = 4242;
    s.ncolumns = (size_t)ncols;
    s.columns = cols;
    wc_buf_init(out);
    assert_int_equal(wc_schema_encode(&s, out), WC_OK);
}

/* Table ks.<table> with id; am is its owner record's access method (NULL: a foreign table). */
static void definition_of(wc_buf *out, const char *table, uint32_t id, const char *am)
{
    wc_schema s;
    wc_schema_column cols[1] = {
        {.name = "id", .type = "bigint", .kind = WC_COL_PARTITION, .cell_id = 0},
    };

    wc_schema_init(&s);
    s.keyspace = "ks";
    s.replication_class = "SimpleStrategy";
    s.table = table;
    s.table_id = id;
    s.owner = (wc_schema_owner){true, 1, 2, 3, "db", "public.x", "alice", am};
    s.ncolumns = 1;
    s.columns = cols;
    wc_buf_init(out);
    assert_int_equal(wc_schema_encode(&s, out), WC_OK);
}

static bool has_engine_table(node *n, uint32_t id)
{
    wc_table_def d;

    if (wc_engine_get_table(n->e, id, &d) != WC_OK)
        return false;
    wc_table_def_clear(&d);
    return true;
}

static void wait_engine_table(node *n, uint32_t id, bool want)
{
    for (int t = 0; t < WAIT_MS / 50 && has_engine_table(n, id) != want; t++)
        sleep_ms(50);
    assert_int_equal(has_engine_table(n, id), want);
}

/* Number of columns of engine table id in n's engine (-1: none). */
static int engine_columns(node *n, uint32_t id)
{
    wc_table_def d;
    wc_schema s;
    int k;

    if (wc_engine_get_table(n->e, id, &d) != WC_OK)
        return -1;
    assert_string_equal(d.name, "ks.t");
    wc_schema_init(&s);
    assert_int_equal(wc_schema_decode(d.schema, d.schema_len, &s), WC_OK);
    k = (int)s.ncolumns;
    wc_schema_free(&s);
    wc_table_def_clear(&d);
    return k;
}

static void wait_columns(node *n, uint32_t id, int want)
{
    for (int t = 0; t < WAIT_MS / 50 && engine_columns(n, id) != want; t++)
        sleep_ms(50);
    assert_int_equal(engine_columns(n, id), want);
}

/* The listing of n: whether it names table ks.t. */
static bool lists_table(node *n)
{
    wc_buf req, out;
    uint8_t flags;
    const uint8_t *push;
    size_t plen;
    wc_schema_msg m;
    bool found = false;

    wc_buf_init(&req);
    wc_buf_init(&out);
    wc_proto_put_schema_list(&req, NULL, 0);
    assert_int_equal(wc_schema_runtime_serve(wc_cluster_schema(n->c), WC_OP_SCHEMA_LIST, req.data,
                                             req.len, &out),
                     WC_OK);
    assert_int_equal(wc_proto_get_schema_listing(out.data, out.len, &flags, &push, &plen), WC_OK);
    assert_int_equal(flags, WC_SCHEMA_LISTF_CLUSTER);
    assert_int_equal(wc_schema_msg_decode(push, plen, &m), WC_OK);
    for (size_t i = 0; i < m.ntables; i++)
        found |= strcmp(m.tables[i].name, "t") == 0 && !m.tables[i].dropped;
    wc_schema_msg_free(&m);
    wc_buf_free(&req);
    wc_buf_free(&out);
    return found;
}

static void test_two_nodes(void **state)
{
    node a = {0}, b = {0};
    wc_addr aa;
    wc_buf def;
    wc_proto_schema_result res;
    char va[33], vb[33];
    wc_proto_members m;
    wc_buf mb;

    (void)state;
    a.dir = wc_test_tmpdir("schema_runtime_a");
    b.dir = wc_test_tmpdir("schema_runtime_b");
    assert_int_equal(start(&a, NULL), WC_OK);
    aa = wc_cluster_self(a.c);
    assert_int_equal(start(&b, &aa), WC_OK);

    /* a table needs its keyspace */
    definition(&def, 2);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_TABLE, 0, def.data, def.len, NULL, NULL,
                            &res),
                     WC_NOT_FOUND);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_KEYSPACE, 0, "ks", 2, "SimpleStrategy:3",
                            "alice", &res),
                     WC_OK);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_TABLE, 0, def.data, def.len, NULL, NULL,
                            &res),
                     WC_OK);
    assert_int_equal(res.table_id, 4242); /* the proposed id, free */
    wc_buf_free(&def);

    /* the other node's engine gets the table, and the nodes agree */
    wait_columns(&b, 4242, 2);
    wait_columns(&a, 4242, 2);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_WAIT, WAIT_MS, NULL, 0, NULL, NULL, &res), WC_OK);
    assert_true(res.agreed);
    assert_int_equal(res.nlaggards, 0);
    wc_schema_runtime_applied_version(wc_cluster_schema(a.c), va);
    wc_schema_runtime_applied_version(wc_cluster_schema(b.c), vb);
    assert_int_equal(strlen(va), 32);
    assert_string_equal(va, vb);
    wc_buf_init(&mb);
    wc_cluster_members(a.c, &mb);
    assert_int_equal(wc_proto_get_members(mb.data, mb.len, &m), WC_OK);
    assert_int_equal(m.n, 2);
    for (size_t i = 0; i < m.n; i++)
        assert_string_equal(m.members[i].schema_version, va);
    wc_proto_members_free(&m);
    wc_buf_free(&mb);

    /* an ALTER on b reaches a's engine */
    definition(&def, 3);
    assert_int_equal(change(&b, WC_SCHEMA_CHANGE_ALTER_TABLE, WAIT_MS, def.data, def.len, NULL,
                            NULL, &res),
                     WC_OK);
    assert_true(res.agreed);
    wc_buf_free(&def);
    wait_columns(&a, 4242, 3);

    /*
     * DROP of a foreign table keeps its engine data everywhere; DROP of a
     * USING widecol table (access method in its owner record) drops it on
     * every node.
     */
    definition_of(&def, "f", 5151, NULL);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_TABLE, 0, def.data, def.len, NULL, NULL,
                            &res),
                     WC_OK);
    wc_buf_free(&def);
    definition_of(&def, "u", 5252, "widecol");
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_TABLE, 0, def.data, def.len, NULL, NULL,
                            &res),
                     WC_OK);
    wc_buf_free(&def);
    wait_engine_table(&b, 5151, true);
    wait_engine_table(&b, 5252, true);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_DROP_TABLE, 0, "ks", 2, "f", NULL, &res), WC_OK);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_DROP_TABLE, WAIT_MS, "ks", 2, "u", NULL, &res),
                     WC_OK);
    wait_engine_table(&b, 5252, false);
    wait_engine_table(&a, 5252, false);
    assert_true(has_engine_table(&b, 5151));
    assert_true(has_engine_table(&a, 5151));

    /* a restarted node lists its schema from its file before it hears from anyone */
    stop(&b);
    stop(&a);
    assert_int_equal(start(&a, NULL), WC_OK);
    assert_true(lists_table(&a));
    stop(&a);

    /* a damaged schema file is refused, naming it */
    {
        char path[600];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", a.dir, WC_SCHEMA_RUNTIME_FILE);
        f = fopen(path, "r+");
        assert_non_null(f);
        /* flip a byte of the version hash (writing a fixed byte left the file intact
           when the hash had that byte there: one run in 256) */
        int ch;
        fseek(f, 12, SEEK_SET);
        ch = fgetc(f);
        assert_true(ch != EOF);
        fseek(f, 12, SEEK_SET);
        fputc(ch ^ 0xff, f);
        fclose(f);
        assert_int_equal(start(&a, NULL), WC_CORRUPTION);
        assert_non_null(strstr(wc_last_error(), WC_SCHEMA_RUNTIME_FILE));
    }
    wc_test_rmrf(a.dir);
    wc_test_rmrf(b.dir);
    free(a.dir);
    free(b.dir);
}

/* The node's state file without its generation line (which every start bumps) into out. */
static void state_without_generation(const node *n, char *out, size_t cap)
{
    char path[4200], line[8192];
    size_t used = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", n->dir, WC_CLUSTER_STATE_FILE);
    f = fopen(path, "r");
    assert_non_null(f);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t l = strlen(line);
        if (strncmp(line, "generation ", 11) == 0)
            continue;
        assert_true(used + l < cap);
        memcpy(out + used, line, l + 1);
        used += l;
    }
    fclose(f);
    assert_true(used > 0);
}

/*
 * The power goes out right after a node acknowledged a keyspace and a
 * table (its state, schema, batchlog, hint and stream files on a faultfs,
 * which loses every content and directory entry not fsynced).  The node
 * starts again with the same host id and tokens (a lost or torn state file
 * would give it new ones or refuse to start) and lists the table.
 */
static void test_node_files_survive_power_loss(void **state)
{
    node a = {0};
    wc_buf def;
    wc_proto_schema_result res;
    char *root = wc_test_tmpdir("schema_runtime_pl");
    char path[4200], before[8192], after[8192];
    wc_faultfs *ff = wc_faultfs_new_power_loss(root);

    (void)state;
    assert_non_null(ff);
    snprintf(path, sizeof(path), "%s/node", root);
    a.dir = strdup(path);
    a.fs = wc_faultfs_fs(ff);
    assert_int_equal(start(&a, NULL), WC_OK);
    definition(&def, 2);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_KEYSPACE, 0, "ks", 2, "SimpleStrategy:1",
                            "alice", &res),
                     WC_OK);
    assert_int_equal(change(&a, WC_SCHEMA_CHANGE_CREATE_TABLE, 0, def.data, def.len, NULL, NULL,
                            &res),
                     WC_OK);
    state_without_generation(&a, before, sizeof(before));
    wc_faultfs_crash(ff); /* both changes were acknowledged */
    stop(&a);
    wc_faultfs_reset(ff);

    assert_int_equal(start(&a, NULL), WC_OK);
    state_without_generation(&a, after, sizeof(after));
    assert_string_equal(before, after);
    assert_true(lists_table(&a));
    stop(&a);
    wc_buf_free(&def);
    wc_faultfs_free(ff);
    wc_test_rmrf(root);
    free(a.dir);
    free(root);
}

/* A node without a cluster: SCHEMA_LIST says so, SCHEMA_CHANGE is refused. */
static void test_no_cluster(void **state)
{
    wc_buf req, out;
    uint8_t flags;
    const uint8_t *push;
    size_t plen;
    wc_proto_schema_change ch = {WC_SCHEMA_CHANGE_WAIT, 0, NULL, NULL, NULL, 0, 0, 0};

    (void)state;
    wc_buf_init(&req);
    wc_buf_init(&out);
    wc_proto_put_schema_list(&req, NULL, 0);
    assert_int_equal(wc_schema_runtime_serve(NULL, WC_OP_SCHEMA_LIST, req.data, req.len, &out),
                     WC_OK);
    assert_int_equal(wc_proto_get_schema_listing(out.data, out.len, &flags, &push, &plen), WC_OK);
    assert_int_equal(flags, 0);
    wc_buf_reset(&req);
    wc_proto_put_schema_change(&req, &ch);
    assert_int_equal(wc_schema_runtime_serve(NULL, WC_OP_SCHEMA_CHANGE, req.data, req.len, &out),
                     WC_UNAVAILABLE);
    assert_int_equal(wc_schema_runtime_serve(NULL, WC_OP_SCHEMA_CHANGE, req.data, req.len - 1, &out),
                     WC_CORRUPTION);
    wc_buf_free(&req);
    wc_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_no_cluster),
        cmocka_unit_test(test_node_files_survive_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
