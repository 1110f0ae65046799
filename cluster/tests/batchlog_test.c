/*
 * batchlog_test.c - logged batches (batchlog.h): the entry file format and
 * its damage paths, entries across a power loss, which batches are logged,
 * holder choice, and in the simulator coordinators that crash after the batchlog write and before,
 * between or after the mutations, with and without message loss: in the
 * end every batch is on its replicas in full or nowhere; both holders
 * replaying one batch; counter deltas refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "batchlog.h"
#include "coordsim.h"
#include "counter.h"
#include "faultfs.h"
#include "mutation.h"

#define PARTS 4           /* partitions per batch */
#define TIMEOUT_MS 200
#define REPLAY_AFTER_MS 400

/* ---------------------------------------------------------------- helpers */

/* A batch of the rows (pk_i, "c") = value, i < nparts, at ts. */
static void multi_batch(wc_buf *out, const char *const *pks, size_t nparts, const char *value,
                        int64_t ts)
{
    wc_buf one;

    wc_buf_init(&one);
    wc_buf_reset(out);
    wc_batch_begin(out, (uint32_t)nparts);
    for (size_t i = 0; i < nparts; i++) {
        wc_batch_view v;
        const uint8_t *mut;
        size_t ml;

        model_batch_one(&one, CS_TABLE, pks[i], "c", value, ts);
        assert_int_equal(wc_batch_parse(one.data, one.len, &v), WC_OK);
        assert_int_equal(wc_batch_next(&v, &mut, &ml), 1);
        wc_batch_add(out, mut, ml);
    }
    wc_buf_free(&one);
    assert_int_equal(wc_buf_status(out), WC_OK);
}

/* ---------------------------------------------------------------- in-memory storage */

typedef struct mem_entry {
    uint8_t id[WC_BATCHLOG_ID_LEN];
    wc_buf batch;
    bool live;
} mem_entry;

typedef struct mem_storage {
    mem_entry e[256];
    size_t n;
} mem_storage;

static wc_status mem_put(void *ctx, const uint8_t *id, const uint8_t *batch, size_t len)
{
    mem_storage *s = ctx;

    if (s->n == 256)
        return wc_error(WC_IO_ERROR, "test storage full");
    memcpy(s->e[s->n].id, id, WC_BATCHLOG_ID_LEN);
    wc_buf_init(&s->e[s->n].batch);
    wc_buf_append(&s->e[s->n].batch, batch, len);
    s->e[s->n++].live = true;
    return WC_OK;
}

static void mem_remove(void *ctx, const uint8_t *id)
{
    mem_storage *s = ctx;

    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].live && memcmp(s->e[i].id, id, WC_BATCHLOG_ID_LEN) == 0)
            s->e[i].live = false;
}

static wc_status mem_load(void *ctx, wc_batchlog_load_cb cb, void *arg)
{
    mem_storage *s = ctx;

    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].live)
            cb(arg, s->e[i].id, s->e[i].batch.data, s->e[i].batch.len);
    return WC_OK;
}

static size_t mem_live(const mem_storage *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += s->e[i].live;
    return n;
}

static void mem_free(mem_storage *s)
{
    for (size_t i = 0; i < s->n; i++)
        wc_buf_free(&s->e[i].batch);
}

/* ---------------------------------------------------------------- simulated cluster */

typedef struct blsim {
    csim *cs;
    wc_batchlog *bl[CS_MAX_NODES];
    mem_storage store[CS_MAX_NODES]; /* survives crashes, as a disk */
} blsim;

static void bl_start(blsim *s, cnode *n)
{
    wc_batchlog_options o;

    memset(&o, 0, sizeof(o));
    o.env = n->env;
    o.coord = n->coord;
    o.self_id[0] = (uint8_t)n->idx;
    o.self_id[1] = (uint8_t)(n->idx >> 8);
    o.self_id[2] = 0xcc;
    snprintf(o.self_dc, sizeof(o.self_dc), "%s", n->dc);
    o.is_alive = cs_is_alive;
    o.ctx = n;
    o.storage = (wc_batchlog_storage){mem_put, mem_remove, mem_load, &s->store[n->idx]};
    o.replay_after_ms = REPLAY_AFTER_MS;
    o.replay_interval_ms = 50;
    assert_int_equal(wc_batchlog_create(&o, &s->bl[n->idx]), WC_OK);
    wc_batchlog_set_ring(s->bl[n->idx], n->cs->ring);
}

static void bl_node_hook(cnode *n, bool up)
{
    blsim *s = n->cs->hook_ctx;

    if (up) {
        bl_start(s, n);
    } else {
        /* the coordinator goes right after; its writes point into the batchlog */
        wc_coord_destroy(n->coord);
        n->coord = NULL;
        wc_batchlog_destroy(s->bl[n->idx]);
        s->bl[n->idx] = NULL;
    }
}

static bool bl_msg_hook(cnode *n, const wc_addr *from, const uint8_t *msg, size_t len)
{
    blsim *s = n->cs->hook_ctx;

    return s->bl[n->idx] != NULL && wc_batchlog_on_message(s->bl[n->idx], from, msg, len);
}

static blsim *bl_new(uint64_t seed, uint32_t nodes, uint32_t rf, double loss)
{
    blsim *s = calloc(1, sizeof(*s));
    wc_replication r;
    wc_sim_options so;

    if (loss == 0.0) {
        s->cs = cs_small(seed, nodes, rf); /* prints the seed */
    } else {
        printf("seed=%" PRIu64 "\n", seed);
        cs_simple(&r, rf);
        wc_sim_options_default(&so);
        so.loss = loss;
        s->cs = cs_new(seed, nodes, NULL, &r, &so);
    }
    s->cs->hook_ctx = s;
    s->cs->node_hook = bl_node_hook;
    s->cs->msg_hook = bl_msg_hook;
    for (uint32_t i = 0; i < nodes; i++)
        bl_start(s, &s->cs->nodes[i]);
    return s;
}

static void bl_free(blsim *s)
{
    for (uint32_t i = 0; i < s->cs->n; i++) {
        wc_coord_destroy(s->cs->nodes[i].coord);
        s->cs->nodes[i].coord = NULL;
        wc_batchlog_destroy(s->bl[i]);
        mem_free(&s->store[i]);
    }
    cs_free(s->cs);
    free(s);
}

/* Replicas of pks[0..n) that hold value, and the replica count in *total. */
static uint32_t bl_copies(blsim *s, const char *const *pks, size_t n, const char *value,
                          uint32_t *total, uint32_t *min_per_pk)
{
    uint32_t held = 0;

    *total = 0;
    *min_per_pk = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t reps[8], here = 0;
        size_t nr = cs_replicas(s->cs, pks[i], reps, 8);

        for (size_t k = 0; k < nr; k++)
            here += cs_holds(s->cs, reps[k], pks[i], "c", value);
        held += here;
        *total += (uint32_t)nr;
        if (here < *min_per_pk)
            *min_per_pk = here;
    }
    return held;
}

/* ---------------------------------------------------------------- unit tests */

static void test_which_batches_are_logged(void **state)
{
    const char *two[] = {"a", "b"};
    const char *same[] = {"a", "a"};
    wc_buf b;

    (void)state;
    wc_buf_init(&b);
    multi_batch(&b, two, 2, "v", 1);
    assert_true(wc_batchlog_needed(b.data, b.len));
    multi_batch(&b, same, 2, "v", 1);
    assert_false(wc_batchlog_needed(b.data, b.len));
    multi_batch(&b, two, 1, "v", 1);
    assert_false(wc_batchlog_needed(b.data, b.len));
    assert_false(wc_batchlog_needed((const uint8_t *)"xx", 2));
    wc_buf_free(&b);
}

typedef struct loaded {
    int n;
    uint8_t id[4][WC_BATCHLOG_ID_LEN];
    size_t len[4];
} loaded;

static void on_loaded(void *arg, const uint8_t *id, const uint8_t *batch, size_t len)
{
    loaded *l = arg;

    (void)batch;
    if (l->n < 4) {
        memcpy(l->id[l->n], id, WC_BATCHLOG_ID_LEN);
        l->len[l->n] = len;
    }
    l->n++;
}

static int damaged_lines;
static void count_log(void *arg, const char *line)
{
    (void)arg;
    if (strstr(line, "damaged"))
        damaged_lines++;
}

/* Flip one byte at off of file path. */
static void flip(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    uint8_t c;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_entry_files_survive_and_damage_is_caught(void **state)
{
    const char *pks[] = {"a", "b", "c"};
    const char *tmp = getenv("WC_TEST_TMP");
    char dir[512], path[700];
    uint8_t id1[WC_BATCHLOG_ID_LEN], id2[WC_BATCHLOG_ID_LEN], id3[WC_BATCHLOG_ID_LEN];
    wc_batchlog_dir *d;
    wc_batchlog_storage st;
    loaded l;
    wc_buf b;
    FILE *f;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/batchlog_test_XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    memset(id1, 0x11, sizeof(id1));
    memset(id2, 0xab, sizeof(id2));
    memset(id3, 0x3c, sizeof(id3));
    wc_buf_init(&b);
    multi_batch(&b, pks, 3, "value", 5);

    assert_int_equal(wc_batchlog_dir_open(dir, count_log, NULL, &d), WC_OK);
    st = wc_batchlog_dir_storage(d);
    assert_int_equal(st.put(st.ctx, id1, b.data, b.len), WC_OK);
    assert_int_equal(st.put(st.ctx, id2, b.data, b.len), WC_OK);
    assert_int_equal(st.put(st.ctx, id3, b.data, b.len), WC_OK);
    st.remove(st.ctx, id3);
    wc_batchlog_dir_close(d);

    /* a reopened holder finds what it stored and not what it removed */
    assert_int_equal(wc_batchlog_dir_open(dir, count_log, NULL, &d), WC_OK);
    st = wc_batchlog_dir_storage(d);
    memset(&l, 0, sizeof(l));
    assert_int_equal(st.load(st.ctx, on_loaded, &l), WC_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.len[0], b.len);
    assert_int_equal(l.len[1], b.len);

    /* a flipped byte in the batch: caught by the checksum, moved aside */
    snprintf(path, sizeof(path), "%s/abababababababababababababababab.batch", dir);
    flip(path, 20);
    /* a truncated file */
    snprintf(path, sizeof(path), "%s/11111111111111111111111111111111.batch", dir);
    assert_int_equal(truncate(path, 10), 0);
    /* a put that never finished, and a foreign file */
    snprintf(path, sizeof(path), "%s/22222222222222222222222222222222.batch.tmp", dir);
    f = fopen(path, "w");
    fputs("half", f);
    fclose(f);
    damaged_lines = 0;
    memset(&l, 0, sizeof(l));
    assert_int_equal(st.load(st.ctx, on_loaded, &l), WC_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(damaged_lines, 2);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/abababababababababababababababab.batch.damaged", dir);
    assert_int_equal(access(path, F_OK), 0);
    /* moved aside: not reported again */
    damaged_lines = 0;
    memset(&l, 0, sizeof(l));
    assert_int_equal(st.load(st.ctx, on_loaded, &l), WC_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(damaged_lines, 0);
    wc_batchlog_dir_close(d);
    wc_buf_free(&b);
    {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

/*
 * The power goes out right after the holder acknowledged two entries (the
 * first one also created the directory): both come back whole at the next
 * load, so the batches they hold are replayed.  faultfs drops every file
 * content and directory entry that was not fsynced.
 */
static void test_entry_files_survive_power_loss(void **state)
{
    const char *pks[] = {"a", "b"};
    const char *tmp = getenv("WC_TEST_TMP");
    char root[512], dir[600], cmd[700];
    uint8_t id1[WC_BATCHLOG_ID_LEN], id2[WC_BATCHLOG_ID_LEN];
    wc_faultfs *ff;
    wc_batchlog_dir *d;
    wc_batchlog_storage st;
    loaded l;
    wc_buf b;
    int k;

    (void)state;
    snprintf(root, sizeof(root), "%s/batchlog_pl_XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(root));
    assert_non_null(ff = wc_faultfs_new_power_loss(root));
    snprintf(dir, sizeof(dir), "%s/data/batchlog", root);
    memset(id1, 0x21, sizeof(id1));
    memset(id2, 0x9c, sizeof(id2));
    wc_buf_init(&b);
    multi_batch(&b, pks, 2, "value", 5);

    assert_int_equal(wc_batchlog_dir_open_fs(wc_faultfs_fs(ff), dir, count_log, NULL, &d), WC_OK);
    st = wc_batchlog_dir_storage(d);
    assert_int_equal(st.put(st.ctx, id1, b.data, b.len), WC_OK);
    assert_int_equal(st.put(st.ctx, id2, b.data, b.len), WC_OK);
    wc_faultfs_crash(ff); /* both were acknowledged */
    wc_batchlog_dir_close(d);
    wc_faultfs_reset(ff);

    damaged_lines = 0;
    assert_int_equal(wc_batchlog_dir_open_fs(wc_faultfs_fs(ff), dir, count_log, NULL, &d), WC_OK);
    st = wc_batchlog_dir_storage(d);
    memset(&l, 0, sizeof(l));
    assert_int_equal(st.load(st.ctx, on_loaded, &l), WC_OK);
    assert_int_equal(damaged_lines, 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.len[0], b.len);
    assert_int_equal(l.len[1], b.len);
    k = memcmp(l.id[0], id1, sizeof(id1)) == 0 ? 0 : 1; /* in the directory's order */
    assert_memory_equal(l.id[k], id1, sizeof(id1));
    assert_memory_equal(l.id[1 - k], id2, sizeof(id2));
    wc_batchlog_dir_close(d);
    wc_buf_free(&b);
    wc_faultfs_free(ff);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------------- simulator */

static void bl_done(void *arg, const wc_coord_result *res)
{
    cs_wait *w = arg;

    w->res = *res;
    w->done = true;
}

/* A logged write without failures: on every replica, the entries removed everywhere. */
static void test_logged_write_lands_and_is_removed(void **state)
{
    const char *pks[PARTS] = {"p0", "p1", "p2", "p3"};
    blsim *s = bl_new(simtest_seed(71), 5, 3, 0.0);
    uint32_t total, minp, held;
    cs_wait w;
    wc_buf b;
    size_t stored = 0;

    (void)state;
    wc_buf_init(&b);
    multi_batch(&b, pks, PARTS, "v1", 100);
    memset(&w, 0, sizeof(w));
    wc_batchlog_write(s->bl[0], b.data, b.len, WC_CL_QUORUM, TIMEOUT_MS, bl_done, &w);
    cs_wait_for(s->cs, &w, 2000);
    SIM_CHECK(s->cs->seed, w.done && w.res.status == WC_OK, "logged write: %s", w.res.detail);
    for (uint32_t i = 0; i < 5; i++)
        stored += s->store[i].n;
    SIM_CHECK(s->cs->seed, stored == 2, "the batchlog went to %zu holders, not 2", stored);
    wc_sim_run_for(s->cs->sim, 100);
    held = bl_copies(s, pks, PARTS, "v1", &total, &minp);
    SIM_CHECK(s->cs->seed, held == total, "%u of %u replicas hold the batch", held, total);
    for (int i = 0; i < PARTS; i++) {
        char got[16];
        wc_coord_result rr = cs_read(s->cs, 3, pks[i], "c", WC_CL_ALL, got, sizeof(got));
        SIM_CHECK(s->cs->seed, rr.status == WC_OK && strcmp(got, "v1") == 0, "read of %s: %s",
                  pks[i], got);
    }
    for (uint32_t i = 0; i < 5; i++)
        SIM_CHECK(s->cs->seed, mem_live(&s->store[i]) == 0, "node %u still holds an entry", i);
    /* and nothing is replayed later */
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    for (uint32_t i = 0; i < 5; i++) {
        wc_batchlog_stats st;
        wc_batchlog_get_stats(s->bl[i], &st);
        SIM_CHECK(s->cs->seed, st.replays_started == 0, "node %u replayed", i);
    }
    wc_buf_free(&b);
    bl_free(s);
}

/*
 * A replica down during the write: the write meets QUORUM, but the entry
 * stays until the replica is back, when the replay gives it the batch.
 */
static void test_entry_stays_until_every_replica_has_the_batch(void **state)
{
    const char *pks[PARTS] = {"p0", "p1", "p2", "p3"};
    blsim *s = bl_new(simtest_seed(73), 5, 3, 0.0);
    uint32_t reps[8], total, minp, coord, down;
    size_t live = 0;
    cs_wait w;
    wc_buf b;

    (void)state;
    cs_replicas(s->cs, "p0", reps, 8);
    down = reps[0];
    coord = (down + 1) % 5;
    s->cs->fd_down[down] = true;
    wc_buf_init(&b);
    multi_batch(&b, pks, PARTS, "v1", 100);
    memset(&w, 0, sizeof(w));
    wc_batchlog_write(s->bl[coord], b.data, b.len, WC_CL_QUORUM, TIMEOUT_MS, bl_done, &w);
    cs_wait_for(s->cs, &w, 2000);
    SIM_CHECK(s->cs->seed, w.done && w.res.status == WC_OK, "logged write: %s", w.res.detail);
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    SIM_CHECK(s->cs->seed, !cs_holds(s->cs, down, "p0", "c", "v1"), "a down replica got the batch");
    for (uint32_t i = 0; i < 5; i++)
        live += mem_live(&s->store[i]);
    SIM_CHECK(s->cs->seed, live == 2, "%zu entries held while a replica lacks the batch", live);
    s->cs->fd_down[down] = false;
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    SIM_CHECK(s->cs->seed, bl_copies(s, pks, PARTS, "v1", &total, &minp) == total,
              "the replay did not complete the batch on the replica that was down");
    for (uint32_t i = 0; i < 5; i++)
        SIM_CHECK(s->cs->seed, mem_live(&s->store[i]) == 0, "node %u still holds an entry", i);
    wc_buf_free(&b);
    bl_free(s);
}

/*
 * What a holder must not keep: a STORE whose batch is malformed is refused;
 * an entry of a table the coordinator does not know (dropped) is dropped
 * at its replay instead of being tried forever.
 */
static void test_bad_entries_are_refused_or_dropped(void **state)
{
    const char *pks[2] = {"p0", "p1"};
    blsim *s = bl_new(simtest_seed(74), 3, 3, 0.0);
    uint8_t id[WC_BATCHLOG_ID_LEN];
    wc_batchlog_stats st;
    wc_buf b, msg;

    (void)state;
    memset(id, 0x42, sizeof(id));
    wc_buf_init(&msg);
    wc_buf_put_u8(&msg, WC_MSG_BATCHLOG_STORE);
    wc_buf_put_u64(&msg, 1);
    wc_buf_append(&msg, id, sizeof(id));
    wc_buf_put_u32(&msg, 7);
    wc_buf_append(&msg, "garbage", 7);
    assert_int_equal(s->cs->nodes[0].env->ops->send(s->cs->nodes[0].env, &s->cs->nodes[1].env->self,
                                                    msg.data, msg.len),
                     WC_OK);
    wc_sim_run_for(s->cs->sim, 50);
    wc_batchlog_get_stats(s->bl[1], &st);
    SIM_CHECK(s->cs->seed, st.malformed == 1 && st.stored == 0 && s->store[1].n == 0,
              "a malformed batch was stored");

    /* an entry of table 999 (unknown) found at a restart */
    wc_sim_crash(s->cs->sim, s->cs->nodes[1].env);
    wc_buf_init(&b);
    multi_batch(&b, pks, 2, "v", 1);
    {
        wc_batch_view v;
        const uint8_t *mut;
        size_t ml;

        assert_int_equal(wc_batch_parse(b.data, b.len, &v), WC_OK);
        while (wc_batch_next(&v, &mut, &ml) == 1)
            wc_enc_u32((uint8_t *)mut, 999);
    }
    assert_int_equal(mem_put(&s->store[1], id, b.data, b.len), WC_OK);
    wc_sim_restart(s->cs->sim, s->cs->nodes[1].env);
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    SIM_CHECK(s->cs->seed, mem_live(&s->store[1]) == 0,
              "an entry of an unknown table is still held after its replay");
    wc_buf_free(&b);
    wc_buf_free(&msg);
    bl_free(s);
}

/*
 * Too few live replicas for one partition of the batch: unavailable before
 * anything is written, the batchlog included (nothing to replay later).
 */
static void test_unavailable_partition_writes_no_batchlog(void **state)
{
    const char *pks[PARTS] = {"p0", "p1", "p2", "p3"};
    blsim *s = bl_new(simtest_seed(75), 5, 3, 0.0);
    uint32_t reps[8], total, minp, coord = 0;
    cs_wait w;
    wc_buf b;

    (void)state;
    cs_replicas(s->cs, "p0", reps, 8);
    for (uint32_t k = 0, downed = 0; k < 3 && downed < 2; k++)
        if (reps[k] != coord) {
            s->cs->fd_down[reps[k]] = true;
            downed++;
        }
    wc_buf_init(&b);
    multi_batch(&b, pks, PARTS, "v1", 100);
    memset(&w, 0, sizeof(w));
    wc_batchlog_write(s->bl[coord], b.data, b.len, WC_CL_QUORUM, TIMEOUT_MS, bl_done, &w);
    cs_wait_for(s->cs, &w, 2000);
    SIM_CHECK(s->cs->seed, w.done && w.res.status == WC_UNAVAILABLE, "status %d: %s",
              (int)w.res.status, w.res.detail);
    print_message("unavailable: %s\n", w.res.detail);
    for (uint32_t i = 0; i < 5; i++)
        SIM_CHECK(s->cs->seed, s->store[i].n == 0, "node %u stored a batchlog entry", i);
    memset(s->cs->fd_down, 0, sizeof(s->cs->fd_down));
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    SIM_CHECK(s->cs->seed, bl_copies(s, pks, PARTS, "v1", &total, &minp) == 0,
              "an unavailable logged batch was applied later");
    wc_buf_free(&b);
    bl_free(s);
}

/* Too few live nodes for the batchlog: unavailable, nothing written anywhere. */
static void test_no_live_holder_is_unavailable(void **state)
{
    const char *pks[PARTS] = {"p0", "p1", "p2", "p3"};
    blsim *s = bl_new(simtest_seed(72), 3, 3, 0.0);
    uint32_t total, minp;
    cs_wait w;
    wc_buf b;

    (void)state;
    s->cs->fd_down[1] = s->cs->fd_down[2] = true;
    wc_buf_init(&b);
    multi_batch(&b, pks, PARTS, "v1", 100);
    memset(&w, 0, sizeof(w));
    wc_batchlog_write(s->bl[0], b.data, b.len, WC_CL_ONE, TIMEOUT_MS, bl_done, &w);
    cs_wait_for(s->cs, &w, 2000);
    SIM_CHECK(s->cs->seed, w.done && w.res.status == WC_UNAVAILABLE, "status %d: %s",
              (int)w.res.status, w.res.detail);
    for (uint32_t i = 0; i < 3; i++)
        SIM_CHECK(s->cs->seed, s->store[i].n == 0, "node %u stored a batchlog entry", i);
    /* a write of one partition is not logged: it needs no batchlog replica */
    SIM_CHECK(s->cs->seed, cs_write(s->cs, 0, "single", "c", "v", 100, WC_CL_ONE).status == WC_OK,
              "an unlogged write at ONE failed");
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    SIM_CHECK(s->cs->seed, bl_copies(s, pks, PARTS, "v1", &total, &minp) == 0,
              "an unavailable logged batch wrote something");
    wc_buf_free(&b);
    bl_free(s);
}

/* A BATCHLOG_STORE of batch b under id, from node 0 to node to. */
static void send_store(blsim *s, uint32_t to, const uint8_t *id, const wc_buf *b)
{
    wc_buf msg;

    wc_buf_init(&msg);
    wc_buf_put_u8(&msg, WC_MSG_BATCHLOG_STORE);
    wc_buf_put_u64(&msg, 1);
    wc_buf_append(&msg, id, WC_BATCHLOG_ID_LEN);
    wc_buf_put_u32(&msg, (uint32_t)b->len);
    wc_buf_append(&msg, b->data, b->len);
    assert_int_equal(wc_buf_status(&msg), WC_OK);
    assert_int_equal(s->cs->nodes[0].env->ops->send(s->cs->nodes[0].env, &s->cs->nodes[to].env->self,
                                                    msg.data, msg.len),
                     WC_OK);
    wc_buf_free(&msg);
}

/*
 * Both holders replay one batch: its coordinator (node 0, which sends the
 * two STOREs by hand and never the mutations nor the REMOVEs) is gone
 * after the batchlog phase.  Holder 1 replays first; then a newer write
 * changes one of the batch's rows; then holder 2 replays the same batch.
 * The mutations carry the batch's timestamp, so the second replay changes
 * nothing: every replica holds the batch, the newer row where it was
 * overwritten, and neither holder keeps the entry.
 */
static void test_both_holders_replay_one_batch(void **state)
{
    const char *pks[PARTS] = {"p0", "p1", "p2", "p3"};
    blsim *s = bl_new(simtest_seed(76), 5, 3, 0.0);
    uint8_t id[WC_BATCHLOG_ID_LEN];
    wc_batchlog_stats st1, st2;
    uint32_t total, minp, reps[8];
    size_t nr;
    wc_coord_result w;
    char got[16];
    wc_buf b;

    (void)state;
    memset(id, 0x5a, sizeof(id));
    wc_buf_init(&b);
    multi_batch(&b, pks, PARTS, "v1", 100);
    /* holder 2 waits longer: its replay comes after holder 1's and the newer write */
    wc_batchlog_set_replay_after(s->bl[2], 4 * REPLAY_AFTER_MS);
    send_store(s, 1, id, &b);
    send_store(s, 2, id, &b);
    wc_sim_run_for(s->cs->sim, 50);
    SIM_CHECK(s->cs->seed, mem_live(&s->store[1]) == 1 && mem_live(&s->store[2]) == 1,
              "the holders did not store the entry");
    SIM_CHECK(s->cs->seed, bl_copies(s, pks, PARTS, "v1", &total, &minp) == 0,
              "the batch landed before any replay");

    wc_sim_run_for(s->cs->sim, 2 * REPLAY_AFTER_MS);
    wc_batchlog_get_stats(s->bl[1], &st1);
    wc_batchlog_get_stats(s->bl[2], &st2);
    SIM_CHECK(s->cs->seed, st1.replayed == 1 && st2.replays_started == 0,
              "holder 1 replayed %" PRIu64 " time(s), holder 2 started %" PRIu64, st1.replayed,
              st2.replays_started);
    SIM_CHECK(s->cs->seed, bl_copies(s, pks, PARTS, "v1", &total, &minp) == total,
              "the first replay did not complete the batch");
    SIM_CHECK(s->cs->seed, mem_live(&s->store[1]) == 0 && mem_live(&s->store[2]) == 1,
              "after the first replay: holder 1 keeps %zu, holder 2 %zu entries",
              mem_live(&s->store[1]), mem_live(&s->store[2]));

    w = cs_write(s->cs, 3, "p0", "c", "v2", 200, WC_CL_ALL);
    SIM_CHECK(s->cs->seed, w.status == WC_OK, "newer write: %s", w.detail);
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    wc_batchlog_get_stats(s->bl[2], &st2);
    SIM_CHECK(s->cs->seed, st2.replayed == 1, "holder 2 replayed %" PRIu64 " time(s)",
              st2.replayed);
    SIM_CHECK(s->cs->seed, mem_live(&s->store[1]) == 0 && mem_live(&s->store[2]) == 0,
              "after both replays: holder 1 keeps %zu, holder 2 %zu entries",
              mem_live(&s->store[1]), mem_live(&s->store[2]));
    nr = cs_replicas(s->cs, "p0", reps, 8);
    for (size_t k = 0; k < nr; k++)
        SIM_CHECK(s->cs->seed, cs_holds(s->cs, reps[k], "p0", "c", "v2"),
                  "the second replay undid the newer write on replica %u", reps[k]);
    SIM_CHECK(s->cs->seed, bl_copies(s, pks + 1, PARTS - 1, "v1", &total, &minp) == total,
              "a row of the batch is missing after the second replay");
    w = cs_read(s->cs, 4, "p0", "c", WC_CL_ALL, got, sizeof(got));
    SIM_CHECK(s->cs->seed, w.status == WC_OK && strcmp(got, "v2") == 0, "read of p0: %s", got);
    wc_buf_free(&b);
    bl_free(s);
}

/*
 * Counter deltas never travel in a logged batch (each holder's replay
 * would add them again): the write is refused before anything is stored,
 * a STORE carrying one is refused, and an entry with one found at a
 * restart is dropped without a replay.
 */
static void test_counter_deltas_are_refused(void **state)
{
    blsim *s = bl_new(simtest_seed(77), 3, 3, 0.0);
    const char *pks[2] = {"p0", "p1"};
    uint8_t id[WC_BATCHLOG_ID_LEN], delta[WC_COUNTER_DELTA_LEN];
    wc_batch_builder bb;
    wc_batchlog_stats st;
    const uint8_t *rec;
    size_t len;
    cs_wait w;
    wc_buf b;

    (void)state;
    wc_counter_delta_encode(delta, 5);
    wc_batch_builder_init(&bb);
    for (int i = 0; i < 2; i++) {
        wc_cell c = {.column = 1, .flags = WC_CELLF_COUNTER_DELTA, .ts = 100, .value = delta,
                     .len = sizeof(delta)};
        wc_mutation *mu = wc_batch_builder_begin(&bb, CS_TABLE, pks[i], strlen(pks[i]));
        wc_rowb_cell(wc_mutation_row_begin(mu, false, "c", 1), &c);
        wc_mutation_row_end(mu);
        assert_int_equal(wc_batch_builder_end(&bb), WC_OK);
    }
    assert_int_equal(wc_batch_builder_finish(&bb, &rec, &len), WC_OK);
    wc_buf_init(&b);
    wc_buf_append(&b, rec, len);
    wc_batch_builder_free(&bb);
    assert_true(wc_counter_batch_has_delta(b.data, b.len));

    memset(&w, 0, sizeof(w));
    wc_batchlog_write(s->bl[0], b.data, b.len, WC_CL_QUORUM, TIMEOUT_MS, bl_done, &w);
    cs_wait_for(s->cs, &w, 2000);
    SIM_CHECK(s->cs->seed, w.done && w.res.status == WC_INVALID_ARGUMENT, "status %d: %s",
              (int)w.res.status, w.res.detail);
    print_message("refused: %s\n", w.res.detail);
    memset(id, 0x17, sizeof(id));
    send_store(s, 1, id, &b);
    wc_sim_run_for(s->cs->sim, 50);
    for (uint32_t i = 0; i < 3; i++)
        SIM_CHECK(s->cs->seed, s->store[i].n == 0, "node %u stored a batch of counter deltas", i);

    /* an entry with deltas found at a restart */
    wc_sim_crash(s->cs->sim, s->cs->nodes[2].env);
    assert_int_equal(mem_put(&s->store[2], id, b.data, b.len), WC_OK);
    wc_sim_restart(s->cs->sim, s->cs->nodes[2].env);
    wc_sim_run_for(s->cs->sim, 3 * REPLAY_AFTER_MS);
    wc_batchlog_get_stats(s->bl[2], &st);
    SIM_CHECK(s->cs->seed, mem_live(&s->store[2]) == 0 && st.replays_started == 0,
              "an entry of counter deltas was replayed (%" PRIu64 ") or kept (%zu)",
              st.replays_started, mem_live(&s->store[2]));
    wc_buf_free(&b);
    bl_free(s);
}

/*
 * Rounds of logged writes whose coordinator crashes at a random moment
 * (before, during or after the batchlog write and the mutations); the
 * coordinator restarts later.  After the replay time every batch is on
 * every one of its replicas (with message loss too: an entry is removed
 * only once every replica acknowledged) or, if no holder stored it,
 * nowhere.
 */
static void crash_rounds(uint64_t seed, double loss, int rounds)
{
    const uint32_t nodes = 5;
    blsim *s = bl_new(seed, nodes, 3, loss);
    uint64_t rs = seed ^ 0x5bd1e995u;
    int all = 0, none = 0, replayed_rounds = 0;
    wc_buf b;

    wc_buf_init(&b);
    for (int r = 0; r < rounds; r++) {
        char pkbuf[PARTS][16], value[32];
        const char *pks[PARTS];
        uint32_t coord = (uint32_t)(cs_mix(&rs) % nodes), total, minp, held;
        /* ms after the start (delays are 1..10 ms); every third round after the write settled */
        uint64_t crash_at = r % 3 == 2 ? TIMEOUT_MS + 100 : cs_mix(&rs) % 40;
        uint64_t replays_before = 0, replays_after = 0;
        cs_wait w;

        for (int i = 0; i < PARTS; i++) {
            snprintf(pkbuf[i], sizeof(pkbuf[i]), "r%d-p%d", r, i);
            pks[i] = pkbuf[i];
        }
        snprintf(value, sizeof(value), "round-%d", r);
        for (uint32_t i = 0; i < nodes; i++) {
            wc_batchlog_stats st;
            wc_batchlog_get_stats(s->bl[i], &st);
            replays_before += st.replayed;
        }
        multi_batch(&b, pks, PARTS, value, 1000 + r);
        memset(&w, 0, sizeof(w));
        wc_batchlog_write(s->bl[coord], b.data, b.len, WC_CL_QUORUM, TIMEOUT_MS, bl_done, &w);
        wc_sim_run_for(s->cs->sim, crash_at);
        wc_sim_crash(s->cs->sim, s->cs->nodes[coord].env);
        /* the holders replay; the coordinator comes back later */
        wc_sim_run_for(s->cs->sim, REPLAY_AFTER_MS + 300);
        wc_sim_restart(s->cs->sim, s->cs->nodes[coord].env);
        wc_sim_run_for(s->cs->sim, 2 * REPLAY_AFTER_MS + 600);

        held = bl_copies(s, pks, PARTS, value, &total, &minp);
        for (uint32_t i = 0; i < nodes; i++) {
            wc_batchlog_stats st;
            wc_batchlog_get_stats(s->bl[i], &st);
            replays_after += st.replayed;
        }
        replayed_rounds += replays_after > replays_before;
        if (held == 0) {
            none++;
        } else {
            all++;
            /* an entry stays until every replica acknowledged: lost messages too */
            SIM_CHECK(s->cs->seed, held == total,
                      "round %d (coordinator %u crashed at %" PRIu64
                      " ms): %u of %u replicas hold the batch (a partition on %u only)",
                      r, coord, crash_at, held, total, minp);
        }
    }
    /* every entry is gone once its batch landed */
    for (uint32_t i = 0; i < nodes; i++)
        SIM_CHECK(s->cs->seed, mem_live(&s->store[i]) == 0, "node %u still holds %zu entries", i,
                  mem_live(&s->store[i]));
    printf("loss %.2f: %d rounds, %d batches complete (%d of them by a replay), %d never written\n",
           loss, rounds, all, replayed_rounds, none);
    SIM_CHECK(s->cs->seed, replayed_rounds > 0, "no round needed a replay: the test tests nothing");
    wc_buf_free(&b);
    bl_free(s);
}

static void test_coordinator_crashes(void **state)
{
    (void)state;
    crash_rounds(simtest_seed(1201), 0.0, 40);
}

static void test_coordinator_crashes_with_loss(void **state)
{
    (void)state;
    crash_rounds(simtest_seed(1202), 0.05, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_batches_are_logged),
        cmocka_unit_test(test_entry_files_survive_and_damage_is_caught),
        cmocka_unit_test(test_logged_write_lands_and_is_removed),
        cmocka_unit_test(test_entry_stays_until_every_replica_has_the_batch),
        cmocka_unit_test(test_bad_entries_are_refused_or_dropped),
        cmocka_unit_test(test_unavailable_partition_writes_no_batchlog),
        cmocka_unit_test(test_no_live_holder_is_unavailable),
        cmocka_unit_test(test_both_holders_replay_one_batch),
        cmocka_unit_test(test_counter_deltas_are_refused),
        cmocka_unit_test(test_coordinator_crashes),
        cmocka_unit_test(test_coordinator_crashes_with_loss),
        cmocka_unit_test(test_entry_files_survive_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
