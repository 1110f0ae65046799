/*
 * cluster_test.c - the cluster runtime with real transports on 127.0.0.1
 * (ephemeral ports, gossip every 100 ms): a seed alone chooses its tokens at
 * once and a second node joins it; both see two members up and normal with
 * the same host ids and tokens, and the same ring; a restarted node keeps
 * its host id and tokens and takes a larger generation; a node with another
 * secret never joins; a damaged state file is refused; the MEMBERS codec
 * refuses truncated and inflated bodies.  With a local side (model stores,
 * replication factor 2) the runtime coordinates: a write at ALL reaches
 * both nodes, ALL is unavailable with one node down while ONE stores a
 * hint, and the hint reaches the node when it comes back.  Topology: a
 * decommissioned node turns "left" for the others, leaves their ring and
 * refuses requests, also after a restart; a dead node is removed with
 * removenode (a live one, this node or an unknown host id are refused) and
 * shows as "left"; a node alone cannot decommission.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cluster.h"
#include "fs.h"
#include "gossip.h"
#include "model_store.h"
#include "protocol.h"

#define WAIT_MS 10000

static const uint8_t SECRET[] = "a cluster secret";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void make_dir(char *out, size_t cap, const char *name)
{
    const char *base = getenv("WC_TEST_TMP");
    char cmd[600];

    snprintf(out, cap, "%s/cluster_test_%d_%s", base && *base ? base : "/tmp", (int)getpid(),
             name);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir(out, 0700), 0);
}

static void remove_dir(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Options of a test node (model: a local side over that store, or NULL: none). */
static void node_options(wc_cluster_options *o, const char *dir, const wc_addr *seed,
                         model_store *model);

static wc_status start(const char *dir, const wc_addr *seed, const uint8_t *secret,
                       size_t secret_len, wc_cluster **out)
{
    wc_cluster_options o;

    node_options(&o, dir, seed, NULL);
    o.secret = secret;
    o.secret_len = secret_len;
    return wc_cluster_start(&o, out);
}

/* ---- a local side over a model store: replication factor 2, hints live a day */

static wc_status local_open(void *ctx, wc_env *env, wc_replica_store *out)
{
    *out = model_store_iface(ctx);
    return WC_OK;
}

static void local_close(void *ctx) {}

static wc_status local_replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    memset(out, 0, sizeof(*out));
    out->cls = WC_REPL_SIMPLE;
    out->replication_factor = 2;
    return table_id == 7 ? WC_OK : WC_NOT_FOUND;
}

static uint32_t local_hint_ttl(void *ctx, uint32_t table_id) { return 86400; }

static void local_applied(void *arg, wc_status st) { *(wc_status *)arg = st; }

static wc_status local_apply(void *ctx, const uint8_t *batch, size_t len)
{
    wc_replica_store s = model_store_iface(ctx);
    wc_status st = WC_IO_ERROR;

    s.ops->apply(s.ctx, batch, len, local_applied, &st); /* synchronous */
    return st;
}

static void node_options(wc_cluster_options *o, const char *dir, const wc_addr *seed,
                         model_store *model)
{
    memset(o, 0, sizeof(*o));
    o->data_dir = dir;
    strcpy(o->listen.host, "127.0.0.1"); /* port 0: an ephemeral one */
    o->seeds = seed;
    o->nseeds = seed ? 1 : 0;
    o->cluster_name = "test";
    o->dc = "dc1";
    o->rack = "rack1";
    o->sql_address = "127.0.0.1:5432";
    o->release_version = "0.1";
    o->num_tokens = 8;
    o->gossip_interval_ms = 100;
    o->join_wait_ms = 3000;
    if (model) {
        o->phi_convict_threshold = 4;
        o->local = (wc_cluster_local){local_open, local_close, local_replication, local_hint_ttl,
                                      local_apply, model};
        o->hinted_handoff = true;
    }
}

/* A node with a local side over m, listening on port (0: an ephemeral one). */
static wc_status start_local(const char *dir, const wc_addr *seed, uint16_t port, model_store *m,
                             wc_cluster **out)
{
    wc_cluster_options o;

    node_options(&o, dir, seed, m);
    o.listen.port = port;
    return wc_cluster_start(&o, out);
}

static void members(wc_cluster *c, wc_proto_members *m)
{
    wc_buf b;

    wc_buf_init(&b);
    wc_cluster_members(c, &b);
    assert_int_equal(wc_proto_get_members(b.data, b.len, m), WC_OK);
    wc_buf_free(&b);
}

/* Members known, up and normal with tokens. */
static size_t normal_up(wc_cluster *c)
{
    wc_proto_members m;
    size_t k = 0;

    members(c, &m);
    for (size_t i = 0; i < m.n; i++)
        k += m.members[i].up && m.members[i].status == WC_GOSSIP_STATUS_NORMAL &&
             m.members[i].ntokens == 8 && m.members[i].has_host_id;
    wc_proto_members_free(&m);
    return k;
}

static void wait_normal_up(wc_cluster *c, size_t want)
{
    for (int t = 0; t < WAIT_MS / 50 && normal_up(c) != want; t++)
        sleep_ms(50);
    assert_int_equal(normal_up(c), want);
}

static void test_two_nodes_and_restart(void **state)
{
    char da[512], db[512];
    wc_cluster *a, *b;
    wc_addr aa;
    wc_proto_members ma, mb;
    uint8_t id_b[16], id_b2[16];
    int64_t tokens_b[8];
    wc_ring *ra, *rb;

    make_dir(da, sizeof(da), "a");
    make_dir(db, sizeof(db), "b");
    assert_int_equal(start(da, NULL, SECRET, sizeof(SECRET), &a), WC_OK);
    aa = wc_cluster_self(a);
    wait_normal_up(a, 1);
    assert_int_equal(start(db, &aa, SECRET, sizeof(SECRET), &b), WC_OK);
    wait_normal_up(a, 2);
    wait_normal_up(b, 2);

    /* both views agree on host ids and tokens, and each marks itself local */
    members(a, &ma);
    members(b, &mb);
    assert_true(ma.cluster && mb.cluster);
    assert_int_equal(ma.n, 2);
    assert_int_equal(mb.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(ma.members[i].address, mb.members[i].address);
        assert_memory_equal(ma.members[i].host_id, mb.members[i].host_id, 16);
        assert_int_equal(ma.members[i].ntokens, mb.members[i].ntokens);
        assert_memory_equal(ma.members[i].tokens, mb.members[i].tokens, 8 * sizeof(int64_t));
        assert_string_equal(ma.members[i].dc, "dc1");
        assert_string_equal(ma.members[i].sql_address, "127.0.0.1:5432");
        assert_string_equal(ma.members[i].schema_version, ""); /* no engine: no schema */
        assert_true(ma.members[i].has_load);
        assert_true(ma.members[i].local != mb.members[i].local);
    }
    wc_proto_members_free(&ma);
    wc_proto_members_free(&mb);

    /* the same ring on both: two hosts, sixteen distinct tokens */
    ra = wc_cluster_ring(a);
    rb = wc_cluster_ring(b);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_int_equal(wc_ring_host_count(ra), 2);
    assert_int_equal(wc_ring_token_count(ra), 16);
    assert_int_equal(wc_ring_token_count(rb), 16);
    for (size_t i = 0; i < 16; i++)
        assert_true(wc_ring_token_at(ra, i) == wc_ring_token_at(rb, i));
    wc_ring_unref(ra);
    wc_ring_unref(rb);

    /* restart b: same host id and tokens, seen again by a */
    wc_cluster_host_id(b, id_b);
    rb = wc_cluster_ring(b);
    {
        int32_t h = wc_ring_find_host(rb, id_b);
        assert_true(h >= 0);
        memcpy(tokens_b, wc_ring_host(rb, (uint32_t)h)->tokens, sizeof(tokens_b));
    }
    wc_ring_unref(rb);
    wc_cluster_stop(b);
    assert_int_equal(start(db, &aa, SECRET, sizeof(SECRET), &b), WC_OK);
    wc_cluster_host_id(b, id_b2);
    assert_memory_equal(id_b, id_b2, 16);
    wait_normal_up(a, 2);
    wait_normal_up(b, 2);
    rb = wc_cluster_ring(b);
    {
        int32_t h = wc_ring_find_host(rb, id_b);
        assert_true(h >= 0);
        assert_memory_equal(wc_ring_host(rb, (uint32_t)h)->tokens, tokens_b, sizeof(tokens_b));
    }
    wc_ring_unref(rb);

    wc_cluster_stop(b);
    wc_cluster_stop(a);
    remove_dir(da);
    remove_dir(db);
}

static unsigned long stored_generation(const char *path)
{
    uint8_t *data;
    size_t len;
    unsigned long g;
    char *p;

    assert_int_equal(wc_fs_read_all(wc_fs_posix(), path, 1 << 16, &data, &len), WC_OK);
    data[len - 1] = '\0';
    p = strstr((char *)data, "generation ");
    assert_non_null(p);
    g = strtoul(p + 11, NULL, 10);
    wc_free(data);
    return g;
}

static void test_generation_grows(void **state)
{
    char d[512], path[600], text[256];
    wc_cluster *a;
    unsigned long g1, future = (unsigned long)time(NULL) + 100000;

    make_dir(d, sizeof(d), "gen");
    snprintf(path, sizeof(path), "%s/%s", d, WC_CLUSTER_STATE_FILE);
    assert_int_equal(start(d, NULL, SECRET, sizeof(SECRET), &a), WC_OK);
    wc_cluster_stop(a);
    g1 = stored_generation(path);
    assert_true(g1 >= (unsigned long)time(NULL) - 5);
    /* a stored generation ahead of the clock (clock set back): the next is above it */
    snprintf(text, sizeof(text),
             "widecol-cluster-state 1\nhost_id 000102030405060708090a0b0c0d0e0f\n"
             "generation %lu\ntokens 2 -5 7\n",
             future);
    assert_int_equal(wc_fs_write_atomic(wc_fs_posix(), path, text, strlen(text)), WC_OK);
    assert_int_equal(start(d, NULL, SECRET, sizeof(SECRET), &a), WC_OK);
    {
        uint8_t id[16];
        wc_cluster_host_id(a, id);
        assert_int_equal(id[15], 0x0f);
    }
    wc_cluster_stop(a);
    assert_int_equal(stored_generation(path), future + 1);
    remove_dir(d);
}

static void test_wrong_secret_never_joins(void **state)
{
    char da[512], db[512];
    wc_cluster *a, *b;
    wc_addr aa;
    static const uint8_t OTHER[] = "another secret";

    make_dir(da, sizeof(da), "sa");
    make_dir(db, sizeof(db), "sb");
    assert_int_equal(start(da, NULL, SECRET, sizeof(SECRET), &a), WC_OK);
    aa = wc_cluster_self(a);
    assert_int_equal(start(db, &aa, OTHER, sizeof(OTHER), &b), WC_OK);
    sleep_ms(1500);
    {
        wc_proto_members m;
        members(a, &m);
        assert_int_equal(m.n, 1);
        wc_proto_members_free(&m);
        members(b, &m);
        assert_int_equal(m.n, 1);
        wc_proto_members_free(&m);
    }
    wc_cluster_stop(b);
    wc_cluster_stop(a);
    remove_dir(da);
    remove_dir(db);
}

static void test_damaged_state_file(void **state)
{
    char d[512], path[600];
    wc_cluster *a = NULL;
    static const char junk[] = "widecol-cluster-state 1\nhost_id zz\n";

    make_dir(d, sizeof(d), "bad");
    snprintf(path, sizeof(path), "%s/%s", d, WC_CLUSTER_STATE_FILE);
    assert_int_equal(wc_fs_write_atomic(wc_fs_posix(), path, junk, strlen(junk)), WC_OK);
    assert_int_equal(start(d, NULL, SECRET, sizeof(SECRET), &a), WC_CORRUPTION);
    assert_null(a);
    assert_non_null(strstr(wc_last_error(), "damaged"));
    remove_dir(d);
}

static void test_members_codec(void **state)
{
    wc_member_info in[2];
    int64_t t[3] = {-5, 0, 7};
    wc_buf b;
    wc_proto_members m;

    memset(in, 0, sizeof(in));
    strcpy(in[0].address, "10.0.0.1:7000");
    strcpy(in[0].dc, "dc1");
    in[0].up = true;
    in[0].tokens = t;
    in[0].ntokens = 3;
    strcpy(in[1].address, "10.0.0.2:7000");
    in[1].status = WC_GOSSIP_STATUS_LEFT;
    wc_buf_init(&b);
    wc_proto_put_members(&b, true, in, 2);
    assert_int_equal(wc_proto_get_members(b.data, b.len, &m), WC_OK);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.members[0].ntokens, 3);
    assert_true(m.members[0].tokens[0] == -5 && m.members[0].tokens[2] == 7);
    assert_int_equal(m.members[1].status, WC_GOSSIP_STATUS_LEFT);
    wc_proto_members_free(&m);
    /* every truncation is malformed */
    for (size_t cut = 0; cut < b.len; cut++) {
        assert_int_equal(wc_proto_get_members(b.data, cut, &m), WC_CORRUPTION);
        wc_proto_members_free(&m);
    }
    /* an inflated member count or token count is refused before allocating */
    b.data[1] = 0xff;
    b.data[4] = 0x7f;
    assert_int_equal(wc_proto_get_members(b.data, b.len, &m), WC_CORRUPTION);
    wc_proto_members_free(&m);
    wc_buf_free(&b);
}

/* The rows of partition pk of table 7 that c reads at ONE (itself a replica: RF 2 of 2). */
static void read_rows(wc_cluster *c, const char *pk, char *out, size_t cap)
{
    wc_store_read r;
    wc_coord_result res;
    wc_buf ans;

    memset(&r, 0, sizeof(r));
    r.table_id = 7;
    r.pk = (const uint8_t *)pk;
    r.pk_len = strlen(pk);
    r.start.unbounded = true;
    r.end.unbounded = true;
    wc_buf_init(&ans);
    assert_int_equal(wc_cluster_read(c, &r, false, WC_CL_ONE, 2000, &res, &ans), WC_OK);
    model_raw_rows(ans.data, ans.len, out, cap);
    wc_buf_free(&ans);
}

static bool peer_down(wc_cluster *c)
{
    wc_proto_members m;
    bool down = false;

    members(c, &m);
    for (size_t i = 0; i < m.n; i++)
        down |= !m.members[i].up;
    wc_proto_members_free(&m);
    return down;
}

static void test_coordinated_writes_and_hints(void **state)
{
    char da[512], db[512], rows[256];
    model_store *ma = model_store_new(), *mb = model_store_new();
    wc_cluster *a, *b;
    wc_addr aa;
    wc_buf rec;
    wc_coord_result res;
    wc_coord_stats cs;
    uint16_t bport;
    int t;

    make_dir(da, sizeof(da), "ca");
    make_dir(db, sizeof(db), "cb");
    assert_int_equal(start_local(da, NULL, 0, ma, &a), WC_OK);
    aa = wc_cluster_self(a);
    assert_true(wc_cluster_coordinates(a));
    wait_normal_up(a, 1);
    assert_int_equal(start_local(db, &aa, 0, mb, &b), WC_OK);
    bport = wc_cluster_self(b).port; /* b comes back at the same address */
    for (t = 0; t < WAIT_MS / 50; t++) {
        wc_ring *r = wc_cluster_ring(a);
        bool two = r && wc_ring_host_count(r) == 2;
        wc_ring_unref(r);
        if (two && normal_up(a) == 2 && normal_up(b) == 2)
            break;
        sleep_ms(50);
    }

    /* ALL: both replicas have it, b reads it from itself */
    wc_buf_init(&rec);
    model_batch_one(&rec, 7, "p", "c1", "v1", 10);
    assert_int_equal(wc_cluster_write(a, 7, rec.data, rec.len, WC_CL_ALL, 2000, &res), WC_OK);
    assert_int_equal(res.acked, 2);
    read_rows(b, "p", rows, sizeof(rows));
    assert_string_equal(rows, "c1");
    /* an unknown table */
    assert_int_equal(wc_cluster_write(a, 8, rec.data, rec.len, WC_CL_ONE, 2000, &res),
                     WC_NOT_FOUND);

    /* b stops: ALL is unavailable (nothing written), ONE is met and hints b */
    wc_cluster_stop(b);
    for (t = 0; t < WAIT_MS / 50 && !peer_down(a); t++)
        sleep_ms(50);
    assert_true(peer_down(a));
    model_batch_one(&rec, 7, "p", "c2", "v2", 20);
    assert_int_equal(wc_cluster_write(a, 7, rec.data, rec.len, WC_CL_ALL, 2000, &res),
                     WC_UNAVAILABLE);
    assert_int_equal(res.required, 2);
    assert_int_equal(res.alive, 1);
    assert_string_equal(res.detail, "consistency ALL needs 2 replicas, 1 alive");
    assert_int_equal(wc_cluster_write(a, 7, rec.data, rec.len, WC_CL_ONE, 2000, &res), WC_OK);
    wc_cluster_coord_stats(a, &cs);
    assert_int_equal(cs.hints, 1);
    assert_int_equal(cs.unavailable, 1);

    /* b comes back: the hint is delivered, b reads c2 from itself at ONE */
    assert_int_equal(start_local(db, &aa, bport, mb, &b), WC_OK);
    for (t = 0; t < WAIT_MS / 50; t++) {
        if (normal_up(b) == 2) {
            read_rows(b, "p", rows, sizeof(rows));
            if (strcmp(rows, "c1,c2") == 0)
                break;
        }
        sleep_ms(50);
    }
    assert_string_equal(rows, "c1,c2");

    /* a scan reads every partition, in token order, at QUORUM (once a sees b up again) */
    wait_normal_up(a, 2);
    model_batch_one(&rec, 7, "q", "d1", "v3", 30);
    assert_int_equal(wc_cluster_write(b, 7, rec.data, rec.len, WC_CL_QUORUM, 2000, &res), WC_OK);
    {
        wc_store_read r;
        wc_buf ans;
        int64_t tokens[4];

        memset(&r, 0, sizeof(r));
        r.table_id = 7;
        r.start.unbounded = r.end.unbounded = true;
        wc_buf_init(&ans);
        assert_int_equal(wc_cluster_read(a, &r, true, WC_CL_QUORUM, 2000, &res, &ans), WC_OK);
        assert_int_equal(model_raw_partitions(ans.data, ans.len, tokens, 4), 2);
        assert_true(tokens[0] < tokens[1]);
        model_raw_rows(ans.data, ans.len, rows, sizeof(rows));
        assert_true(strcmp(rows, "c1,c2,d1") == 0 || strcmp(rows, "d1,c1,c2") == 0);
        wc_buf_free(&ans);
    }

    wc_buf_free(&rec);
    wc_cluster_stop(b);
    wc_cluster_stop(a);
    model_store_free(ma);
    model_store_free(mb);
    remove_dir(da);
    remove_dir(db);
}

/* The status of the member with host id id in c's view (-1: unknown), and whether it is up. */
static int member_status_up(wc_cluster *c, const uint8_t *id, bool *up)
{
    wc_proto_members m;
    int s = -1;

    members(c, &m);
    for (size_t i = 0; i < m.n; i++)
        if (m.members[i].has_host_id && memcmp(m.members[i].host_id, id, 16) == 0) {
            s = m.members[i].status;
            if (up)
                *up = m.members[i].up;
        }
    wc_proto_members_free(&m);
    return s;
}

static int member_status(wc_cluster *c, const uint8_t *id)
{
    return member_status_up(c, id, NULL);
}

static bool member_down(wc_cluster *c, const uint8_t *id)
{
    bool up = true;

    return member_status_up(c, id, &up) >= 0 && !up;
}

static uint32_t ring_hosts(wc_cluster *c)
{
    wc_ring *r = wc_cluster_ring(c);
    uint32_t n = r ? wc_ring_host_count(r) : 0;

    wc_ring_unref(r);
    return n;
}

static bool file_has(const char *dir, const char *name, const char *needle)
{
    char path[600];
    uint8_t *data = NULL;
    size_t len = 0;
    bool found;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (wc_fs_read_all(wc_fs_posix(), path, 1 << 20, &data, &len) != WC_OK)
        return false;
    found = memmem(data, len, needle, strlen(needle)) != NULL;
    wc_free(data);
    return found;
}

static void test_decommission_and_removenode(void **state)
{
    char da[512], db[512], dc[512];
    model_store *ma = model_store_new(), *mb = model_store_new(), *mc = model_store_new();
    wc_cluster *a, *b, *c;
    wc_addr aa;
    uint8_t ida[16], idb[16], idc[16], unknown[16];
    wc_topology_result tr;
    wc_coord_result res;
    wc_buf rec;
    uint16_t cport, bport;
    int t;

    make_dir(da, sizeof(da), "ta");
    make_dir(db, sizeof(db), "tb");
    make_dir(dc, sizeof(dc), "tc");
    assert_int_equal(start_local(da, NULL, 0, ma, &a), WC_OK);
    aa = wc_cluster_self(a);
    wait_normal_up(a, 1);
    assert_int_equal(start_local(db, &aa, 0, mb, &b), WC_OK);
    bport = wc_cluster_self(b).port;
    wait_normal_up(a, 2);
    assert_int_equal(start_local(dc, &aa, 0, mc, &c), WC_OK);
    cport = wc_cluster_self(c).port;
    wait_normal_up(a, 3);
    wait_normal_up(c, 3);
    wc_cluster_host_id(a, ida);
    wc_cluster_host_id(b, idb);
    wc_cluster_host_id(c, idc);
    for (t = 0; t < WAIT_MS / 50 && ring_hosts(a) != 3; t++)
        sleep_ms(50);
    assert_int_equal(ring_hosts(a), 3);

    /* c leaves: the others see it left and drop it from their ring; it refuses requests */
    assert_int_equal(wc_cluster_decommission(c, &tr), WC_OK);
    assert_int_equal(tr.ranges, 0); /* no engine tables to hand over */
    for (t = 0; t < WAIT_MS / 50 && (member_status(a, idc) != WC_GOSSIP_STATUS_LEFT ||
                                     ring_hosts(a) != 2 || ring_hosts(b) != 2);
         t++)
        sleep_ms(50);
    assert_int_equal(member_status(a, idc), WC_GOSSIP_STATUS_LEFT);
    assert_int_equal(ring_hosts(a), 2);
    assert_int_equal(ring_hosts(b), 2);
    wc_buf_init(&rec);
    model_batch_one(&rec, 7, "p", "c1", "v1", 10);
    assert_int_equal(wc_cluster_write(c, 7, rec.data, rec.len, WC_CL_ONE, 2000, &res),
                     WC_UNAVAILABLE);
    assert_non_null(strstr(res.detail, "this node left its cluster"));
    assert_int_equal(wc_cluster_write(a, 7, rec.data, rec.len, WC_CL_ALL, 2000, &res), WC_OK);
    assert_int_equal(res.acked, 2);
    assert_int_equal(wc_cluster_decommission(c, &tr), WC_UNAVAILABLE);
    assert_true(file_has(dc, WC_CLUSTER_STATE_FILE, "decommissioned 1"));
    /* a restart keeps it out */
    wc_cluster_stop(c);
    assert_int_equal(start_local(dc, &aa, cport, mc, &c), WC_OK);
    assert_int_equal(wc_cluster_write(c, 7, rec.data, rec.len, WC_CL_ONE, 2000, &res),
                     WC_UNAVAILABLE);
    assert_non_null(strstr(res.detail, "this node left its cluster"));
    wc_cluster_stop(c);

    /* removenode refuses a live node, this node and an unknown host id */
    assert_int_equal(wc_cluster_removenode(a, idb, &tr), WC_INVALID_ARGUMENT);
    assert_non_null(strstr(wc_last_error(), "is up"));
    assert_int_equal(wc_cluster_removenode(a, ida, &tr), WC_INVALID_ARGUMENT);
    memset(unknown, 0x5a, sizeof(unknown));
    assert_int_equal(wc_cluster_removenode(a, unknown, &tr), WC_NOT_FOUND);
    /* b dies and is removed: a's ring holds a alone, b shows as left */
    wc_cluster_stop(b);
    for (t = 0; t < WAIT_MS / 50 && !member_down(a, idb); t++)
        sleep_ms(50);
    assert_true(member_down(a, idb));
    assert_int_equal(wc_cluster_removenode(a, idb, &tr), WC_OK);
    assert_int_equal(ring_hosts(a), 1);
    assert_int_equal(member_status(a, idb), WC_GOSSIP_STATUS_LEFT);
    assert_true(file_has(da, WC_CLUSTER_STATE_FILE, "removed "));
    assert_int_equal(wc_cluster_removenode(a, idb, &tr), WC_INVALID_ARGUMENT); /* done already */
    /* b comes back: it learns it was removed and refuses requests; a's ring stays a alone */
    assert_int_equal(start_local(db, &aa, bport, mb, &b), WC_OK);
    for (t = 0; t < WAIT_MS / 50; t++) {
        if (wc_cluster_write(b, 7, rec.data, rec.len, WC_CL_ONE, 2000, &res) == WC_UNAVAILABLE &&
            strstr(res.detail, "this node left its cluster") != NULL)
            break;
        sleep_ms(50);
    }
    assert_non_null(strstr(res.detail, "this node left its cluster"));
    assert_true(file_has(db, WC_CLUSTER_STATE_FILE, "decommissioned 1"));
    wc_cluster_stop(b);
    assert_int_equal(ring_hosts(a), 1);
    /* alone, a cannot leave */
    assert_int_equal(wc_cluster_decommission(a, &tr), WC_INVALID_ARGUMENT);

    wc_buf_free(&rec);
    wc_cluster_stop(a);
    model_store_free(ma);
    model_store_free(mb);
    model_store_free(mc);
    remove_dir(da);
    remove_dir(db);
    remove_dir(dc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decommission_and_removenode),
        cmocka_unit_test(test_members_codec),
        cmocka_unit_test(test_damaged_state_file),
        cmocka_unit_test(test_generation_grows),
        cmocka_unit_test(test_two_nodes_and_restart),
        cmocka_unit_test(test_wrong_secret_never_joins),
        cmocka_unit_test(test_coordinated_writes_and_hints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
