/*
 * clsync_test.c - a client's fsync of the node's commit log (clsync.h), under
 * a simulated power loss (faultfs): records a client fsynced, or that
 * another client's fsync or a roll covered, survive; a record nobody
 * fsynced does not, so a client that skipped its fsync would lose an
 * acknowledged write and these tests would see it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "clsync.h"
#include "engine.h"
#include "faultfs.h"
#include "mutation.h"
#include "shmring.h"
#include "testutil.h"

#define TABLE 5
#define NOW 1700000000

typedef struct fx {
    char *root;
    char dir[600];
    wc_faultfs *ff;
    wc_fs *fs;
    wc_engine *e;
    void *mem;
    size_t size;
    wc_shmring *r;
    uint32_t slot; /* the client's */
    wc_clsync_file file;
} fx;

static void open_engine(fx *f, size_t segment_bytes)
{
    wc_engine_options o;
    wc_table_def def;

    wc_engine_options_default(&o);
    o.dir = f->dir;
    o.fs = f->fs;
    o.sync_mode = WC_SYNC_BATCH;
    o.compaction_threads = 0;
    if (segment_bytes)
        o.segment_bytes = segment_bytes;
    assert_int_equal(wc_engine_open(&o, &f->e), WC_OK);
    if (wc_engine_get_table(f->e, TABLE, &def) != WC_OK) {
        wc_table_def_default(&def);
        def.id = TABLE;
        snprintf(def.name, sizeof(def.name), "ks.t%d", TABLE);
        assert_int_equal(wc_engine_create_table(f->e, &def), WC_OK);
    }
}

/* A node starts serving the ring with the engine's commit log. */
static void node_starts(fx *f)
{
    char cldir[WC_SHMRING_DIR_MAX];

    assert_int_equal(wc_engine_batch_commitlog_dir(f->e, cldir, sizeof(cldir)), WC_OK);
    assert_true(cldir[0] != '\0');
    assert_int_equal(wc_shmring_set_commitlog(f->r, cldir), WC_OK);
    wc_shmring_serve_begin(f->r);
}

/* A node starts, and the client claims a slot. */
static void publish(fx *f)
{
    node_starts(f);
    assert_int_equal(wc_shmring_claim(f->r, &f->slot), WC_OK);
}

static void setup_fx(fx *f, size_t segment_bytes)
{
    memset(f, 0, sizeof(*f));
    f->root = wc_test_tmpdir("clsync");
    assert_non_null(f->root);
    snprintf(f->dir, sizeof(f->dir), "%s/data", f->root);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    f->ff = wc_faultfs_new_power_loss(f->root);
    assert_non_null(f->ff);
    f->fs = wc_faultfs_fs(f->ff);
    f->size = wc_shmring_size(4, 4096);
    f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(f->mem != MAP_FAILED);
    assert_int_equal(wc_shmring_format(f->mem, f->size, 4, 4096), WC_OK);
    assert_int_equal(wc_shmring_open(f->mem, f->size, &f->r), WC_OK);
    open_engine(f, segment_bytes);
    publish(f);
}

static void teardown_fx(fx *f)
{
    wc_clsync_close(&f->file);
    if (f->e)
        wc_engine_close(f->e);
    wc_shmring_close(f->r);
    munmap(f->mem, f->size);
    wc_faultfs_free(f->ff);
    wc_test_rmrf(f->root);
    free(f->root);
}

/* The power goes: whatever no fsync covered is gone; then the node starts again. */
static void power_loss_and_reopen(fx *f)
{
    wc_clsync_close(&f->file);
    wc_faultfs_crash(f->ff);
    wc_engine_close(f->e); /* every write fails now: nothing more reaches the disk */
    wc_faultfs_reset(f->ff);
    open_engine(f, 0);
    publish(f);
}

/* The node's side of one write: apply without the fsync, publish the position. */
static wc_clpos write_row(fx *f, const char *pk)
{
    const uint32_t cols[1] = {1};
    wc_mutation m;
    wc_rowb *rb;
    wc_cell c = {.column = cols[0], .ts = 1, .value = (const uint8_t *)"v", .len = 1};
    uint8_t ck[8];
    const uint8_t *p;
    size_t len;
    wc_buf rec;
    wc_clpos need;

    wc_test_ck(1, ck);
    wc_mutation_init(&m, TABLE, pk, strlen(pk));
    rb = wc_mutation_row_begin(&m, false, ck, 8);
    wc_rowb_liveness(rb, 1, 0, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(&m);
    wc_buf_init(&rec);
    wc_batch_begin(&rec, 1);
    assert_int_equal(wc_mutation_encode(&m, &p, &len), WC_OK);
    wc_batch_add(&rec, p, len);
    assert_int_equal(wc_engine_apply_batch_unsynced(f->e, rec.data, rec.len, &need), WC_OK);
    wc_buf_free(&rec);
    wc_mutation_free(&m);
    assert_true(need.segment != 0);
    assert_true(wc_shmring_note_appended(f->r, need));
    return need;
}

static long rows_of(fx *f, const char *pk)
{
    return wc_test_count_rows(f->e, TABLE, pk, NOW, NULL);
}

/* Fsyncs by the client: its own record, the ones before it, and a record it covered for another. */
static void test_client_fsync_survives_power_loss(void **state)
{
    fx f;
    wc_clpos a, b, c, d;
    bool fsynced;

    (void)state;
    setup_fx(&f, 0);
    a = write_row(&f, "a");
    assert_false(wc_clsync_durable(f.r, f.slot, a));
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, a, &fsynced), WC_OK);
    assert_true(fsynced);
    assert_true(wc_clsync_durable(f.r, f.slot, a));

    /* b and c appended before b's fsync: c's client finds its record covered */
    b = write_row(&f, "b");
    c = write_row(&f, "c");
    assert_false(wc_clsync_durable(f.r, f.slot, c));
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, b, &fsynced), WC_OK);
    assert_true(fsynced);
    assert_true(wc_clsync_durable(f.r, f.slot, c));
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, c, &fsynced), WC_OK);
    assert_false(fsynced);

    /* d: applied (readers see it) but never fsynced, so never acknowledged */
    d = write_row(&f, "d");
    assert_false(wc_clsync_durable(f.r, f.slot, d));
    assert_int_equal(rows_of(&f, "d"), 1);

    power_loss_and_reopen(&f);
    assert_int_equal(rows_of(&f, "a"), 1);
    assert_int_equal(rows_of(&f, "b"), 1);
    assert_int_equal(rows_of(&f, "c"), 1);
    /* the power loss is real for what no fsync covered: skipping the fsync loses writes */
    assert_int_equal(rows_of(&f, "d"), 0);
    /* the positions of the node before are forgotten */
    assert_false(wc_clsync_durable(f.r, f.slot, d));
    teardown_fx(&f);
}

/* A record in a segment the log rolled past is durable without the client's fsync. */
static void test_rolled_segment_is_durable(void **state)
{
    fx f;
    wc_clpos first, last;
    char pk[32];
    bool fsynced;
    int i;

    (void)state;
    setup_fx(&f, 4096);
    first = write_row(&f, "r0");
    last = first;
    for (i = 1; i < 200 && last.segment == first.segment; i++) {
        snprintf(pk, sizeof(pk), "r%d", i);
        last = write_row(&f, pk);
    }
    assert_true(last.segment > first.segment);
    assert_true(wc_clsync_durable(f.r, f.slot, first));
    assert_false(wc_clsync_durable(f.r, f.slot, last));
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, first, &fsynced), WC_OK);
    assert_false(fsynced);
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, last, &fsynced), WC_OK);
    assert_true(fsynced);

    power_loss_and_reopen(&f);
    for (int k = 0; k < i; k++) {
        snprintf(pk, sizeof(pk), "r%d", k);
        assert_int_equal(rows_of(&f, pk), 1);
    }
    teardown_fx(&f);
}

/* What makes the client leave the fsync to the node, and what the ring refuses to publish. */
static void test_fallbacks(void **state)
{
    fx f;
    wc_clpos a;
    bool fsynced;

    (void)state;
    setup_fx(&f, 0);
    a = write_row(&f, "a");

    /* a failed fsync: not durable, the file is closed, the node must sync */
    wc_faultfs_trigger(f.ff, WC_FF_SYNC, "CommitLog-", 1, WC_FF_FAIL, WC_IO_ERROR, false);
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, a, &fsynced), WC_IO_ERROR);
    assert_false(fsynced);
    assert_null(f.file.file);
    assert_false(wc_clsync_durable(f.r, f.slot, a));
    wc_faultfs_trigger(f.ff, WC_FF_ANY, NULL, 0, WC_FF_FAIL, WC_OK, false);

    /* a position past what the node published */
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, (wc_clpos){a.segment, a.offset + 1000},
                                  &fsynced),
                     WC_INVALID_ARGUMENT);

    /* the node fsyncs itself: SYNC's engine call, then the client finds the record durable */
    assert_int_equal(wc_engine_sync_to(f.e, a), WC_OK);

    /* positions that do not fit a word are never published */
    assert_false(wc_shmring_note_appended(f.r, (wc_clpos){(uint64_t)1 << 33, 0}));
    assert_false(wc_shmring_note_appended(f.r, (wc_clpos){0, 10}));

    /* no commit log published (periodic mode): nothing for the client to fsync */
    assert_int_equal(wc_shmring_set_commitlog(f.r, NULL), WC_OK);
    assert_false(wc_shmring_note_appended(f.r, a));
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, a, &fsynced), WC_UNAVAILABLE);

    power_loss_and_reopen(&f);
    assert_int_equal(rows_of(&f, "a"), 1);
    teardown_fx(&f);
}

/*
 * The node restarts between its answer and the client's fsync: the new
 * node's positions say nothing of the record (here: it appended to a later
 * segment, which for its own records means a roll), so the client fsyncs
 * the record's segment itself.  Trusting the ring would lose the record.
 */
static void test_node_restart_before_the_fsync(void **state)
{
    fx f;
    wc_clpos a;
    uint32_t old_slot;
    bool fsynced;

    (void)state;
    setup_fx(&f, 0);
    a = write_row(&f, "a");
    old_slot = f.slot;
    assert_true(wc_shmring_slot_current(f.r, old_slot));
    /* the next node publishes its log and serves; it appends to a later segment */
    node_starts(&f);
    assert_true(wc_shmring_note_appended(f.r, (wc_clpos){a.segment + 1, 64}));
    assert_false(wc_shmring_slot_current(f.r, old_slot));
    assert_true(wc_shmring_durable(f.r, a)); /* what the new node's positions would say */
    assert_false(wc_clsync_durable(f.r, old_slot, a));
    assert_int_equal(wc_clsync_to(f.r, old_slot, f.fs, &f.file, a, &fsynced), WC_OK);
    assert_true(fsynced);
    power_loss_and_reopen(&f);
    assert_int_equal(rows_of(&f, "a"), 1);
    teardown_fx(&f);
}

/* A segment retired after its roll: the client finds no file and counts the record durable. */
static void test_retired_segment(void **state)
{
    fx f;
    wc_clpos a;
    bool fsynced;

    (void)state;
    setup_fx(&f, 0);
    a = write_row(&f, "a");
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, a, &fsynced), WC_OK);
    assert_true(fsynced);
    wc_clsync_close(&f.file);
    /* a published position of a segment whose file is gone (rolled, then retired) */
    assert_true(wc_shmring_note_appended(f.r, (wc_clpos){a.segment + 1000, 0}));
    assert_true(wc_clsync_durable(f.r, f.slot, (wc_clpos){a.segment + 999, 5}));
    assert_false(wc_clsync_durable(f.r, f.slot, (wc_clpos){a.segment + 1000, 0}));
    assert_int_equal(wc_clsync_to(f.r, f.slot, f.fs, &f.file, (wc_clpos){a.segment + 1000, 0}, &fsynced),
                     WC_OK);
    assert_false(fsynced);
    assert_null(f.file.file);
    teardown_fx(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_fsync_survives_power_loss),
        cmocka_unit_test(test_rolled_segment_is_durable),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_retired_segment),
        cmocka_unit_test(test_node_restart_before_the_fsync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
