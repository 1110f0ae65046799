/*
 * directread_test.c - direct reads (directread.h) against a real engine
 * whose hooks publish into a shared region: a partition is read from the
 * files only once no memtable can hold it, and then exactly as the engine
 * reads it (a random model of writes, deletions, flushes and compactions
 * compares every direct answer with the engine's); a write, a staged
 * publish, a drop and a restart send reads back to the node, another
 * table's writes only while they are newer than the table's own; files a
 * compaction removed are closed; and under a writer that flushes and
 * compacts all the time, a direct read never misses a write acknowledged
 * before it began.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "directread.h"
#include "engine.h"
#include "testutil.h"

#define TABLE 7u

typedef struct fx {
    void *mem;
    size_t size;
    wc_directread *node, *cli;
    char *dir;
    wc_engine *e;
} fx;

static void fx_open_engine(fx *f)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = f->dir;
    o.compaction_threads = 0;
    o.publish_hook = wc_directread_publish;
    o.resident_hook = wc_directread_resident;
    o.direct_hook_arg = f->node;
    wc_directread_serve(f->node, NULL, false);
    o.memtable_serial_base = wc_directread_serial_base(f->node);
    assert_int_equal(wc_engine_open(&o, &f->e), WC_OK);
    wc_directread_serve(f->node, f->dir, true);
}

static void fx_close_engine(fx *f)
{
    wc_directread_serve(f->node, NULL, false);
    wc_engine_close(f->e);
    f->e = NULL;
}

static void create_table(wc_engine *e)
{
    wc_table_def def;

    memset(&def, 0, sizeof(def));
    def.id = TABLE;
    snprintf(def.name, sizeof(def.name), "ks.t");
    def.gc_grace_seconds = 0;
    assert_int_equal(wc_engine_create_table(e, &def), WC_OK);
}

static const char *fx_dir; /* the directory of the running test's engine */

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    f->size = wc_directread_size();
    f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f->mem == MAP_FAILED || wc_directread_format(f->mem, f->size) != WC_OK ||
        wc_directread_open(f->mem, f->size, &f->node) != WC_OK ||
        wc_directread_open(f->mem, f->size, &f->cli) != WC_OK)
        return -1;
    f->dir = wc_test_tmpdir("directread");
    fx_dir = f->dir;
    fx_open_engine(f);
    create_table(f->e);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    if (f->e)
        fx_close_engine(f);
    wc_directread_close(f->cli);
    wc_directread_close(f->node);
    munmap(f->mem, f->size);
    wc_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void request(wc_read_request *r, const char *pk)
{
    memset(r, 0, sizeof(*r));
    r->table_id = TABLE;
    r->pk = (const uint8_t *)pk;
    r->pk_len = strlen(pk);
    r->start.unbounded = r->end.unbounded = true;
    r->now_sec = 1000;
}

/* A direct read of partition pk: WC_OK (*out set) or WC_NOT_FOUND. */
static wc_status dread(fx *f, const char *pk, wc_page **out)
{
    wc_read_request r;

    request(&r, pk);
    return wc_directread_read(f->cli, &r, false, out);
}

/* A direct read of the row ck of partition pk (bounds naming it, row true). */
static wc_status dread_row(fx *f, const char *pk, uint64_t ck, wc_page **out)
{
    wc_read_request r;
    uint8_t ckb[8];

    request(&r, pk);
    wc_test_ck(ck, ckb);
    r.start.unbounded = r.end.unbounded = false;
    r.start.key = r.end.key = ckb;
    r.start.len = r.end.len = 8;
    r.start.inclusive = r.end.inclusive = true;
    return wc_directread_read(f->cli, &r, true, out);
}

/* Value of column 1 of the row ck in partition pk, read directly ("" absent, NULL not direct). */
static const char *dvalue(fx *f, const char *pk, uint64_t ck)
{
    static char buf[64];
    wc_page *p;

    if (dread(f, pk, &p) != WC_OK)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < p->nrows; i++) {
        const wc_cell *c = wc_test_cell(&p->rows[i], 1);

        if (wc_test_ck_value(p->rows[i].ck, p->rows[i].ck_len) == ck && c != NULL)
            snprintf(buf, sizeof(buf), "%.*s", (int)c->len, (const char *)c->value);
    }
    wc_page_free(p);
    return buf;
}

static void put(fx *f, const char *pk, uint64_t ck, int64_t ts, const char *v)
{
    uint32_t col = 1;

    assert_int_equal(wc_test_put(f->e, TABLE, pk, ck, ts, 0, 1000, 1, &col, &v), WC_OK);
}

/* The two pages hold the same rows and cells. */
static void assert_same_page(const wc_page *a, const wc_page *b)
{
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->more, b->more);
    for (size_t i = 0; i < a->nrows; i++) {
        const wc_result_row *x = &a->rows[i], *y = &b->rows[i];

        assert_int_equal(x->ck_len, y->ck_len);
        assert_memory_equal(x->ck, y->ck, x->ck_len);
        assert_int_equal(x->live_ts, y->live_ts);
        assert_int_equal(x->ncells, y->ncells);
        for (uint32_t k = 0; k < x->ncells; k++) {
            assert_int_equal(x->cells[k].column, y->cells[k].column);
            assert_int_equal(x->cells[k].ts, y->cells[k].ts);
            assert_int_equal(x->cells[k].flags, y->cells[k].flags);
            assert_int_equal(x->cells[k].len, y->cells[k].len);
            if (x->cells[k].len)
                assert_memory_equal(x->cells[k].value, y->cells[k].value, x->cells[k].len);
        }
    }
}

/* ---------------------------------------------------------------- tests */

static void test_flush_makes_direct(void **state)
{
    fx *f = *state;
    wc_directread_stats st;
    char pk[16];

    for (int p = 0; p < 20; p++) {
        snprintf(pk, sizeof(pk), "p%d", p);
        put(f, pk, 1, 100, "one");
    }
    /* in the memtable: the node answers */
    assert_null(dvalue(f, "p1", 1));
    wc_directread_get_stats(f->cli, &st);
    assert_true(st.enabled);
    assert_int_equal(st.resident, 1);
    assert_int_equal(st.tables, 1);

    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "p1", 1), "one");
    assert_string_equal(dvalue(f, "p19", 1), "one");
    assert_string_equal(dvalue(f, "nothing", 1), ""); /* an empty partition, read directly */

    /* a new write to p1: p1 goes to the node again, p2 is still read directly */
    put(f, "p1", 1, 200, "two");
    assert_null(dvalue(f, "p1", 1));
    assert_string_equal(dvalue(f, "p2", 1), "one");
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "p1", 1), "two");

    /* a compaction replaces both files: still the newest value */
    assert_int_equal(wc_engine_compact(f->e, TABLE), WC_OK);
    assert_string_equal(dvalue(f, "p1", 1), "two");
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.resident, 2);
    assert_int_equal(st.other, 0);
    assert_int_equal(st.reads, 6);
}

/* Value of the row ck read by its key alone ("" absent, NULL not direct). */
static const char *rvalue(fx *f, const char *pk, uint64_t ck)
{
    static char buf[64];
    wc_page *p;

    if (dread_row(f, pk, ck, &p) != WC_OK)
        return NULL;
    buf[0] = '\0';
    if (p->nrows == 1 && wc_test_cell(&p->rows[0], 1) != NULL) {
        const wc_cell *c = wc_test_cell(&p->rows[0], 1);
        snprintf(buf, sizeof(buf), "%.*s", (int)c->len, (const char *)c->value);
    }
    assert_true(p->nrows <= 1);
    wc_page_free(p);
    return buf;
}

static void test_row_reads(void **state)
{
    fx *f = *state;
    wc_mutation m;
    wc_mutation *mp = &m;

    put(f, "p", 1, 100, "one");
    put(f, "p", 2, 100, "two");
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(rvalue(f, "p", 1), "one");

    /* a write to another row: that row and the partition go to the node, row 1 does not */
    put(f, "p", 2, 200, "two again");
    assert_string_equal(rvalue(f, "p", 1), "one");
    assert_null(rvalue(f, "p", 2));
    assert_null(dvalue(f, "p", 1));
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(rvalue(f, "p", 2), "two again");

    /* a partition deletion changes every row: row 1 goes to the node */
    wc_mutation_init(&m, TABLE, "p", 1);
    wc_mutation_delete_partition(&m, 150, 1000);
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
    assert_null(rvalue(f, "p", 1));
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(rvalue(f, "p", 1), "");           /* deleted at 150 > 100 */
    assert_string_equal(rvalue(f, "p", 2), "two again");  /* written at 200 */

    /* a static row is partition-level too */
    wc_mutation_init(&m, TABLE, "p", 1);
    {
        wc_rowb *rb = wc_mutation_row_begin(&m, true, NULL, 0);
        wc_cell c = {.column = 9, .ts = 300, .value = (const uint8_t *)"s", .len = 1};

        wc_rowb_cell(rb, &c);
        wc_mutation_row_end(&m);
    }
    assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
    wc_mutation_free(&m);
    assert_null(rvalue(f, "p", 2));
}

/*
 * Row writes mark row stripes only: 60,000 rows of other partitions in the
 * memtable send few row reads of flushed rows to the node (2.4 % here; a
 * partition-level stripe that row writes share, as in one array for every
 * family, sends 8 %).
 */
static void test_row_writes_spare_row_reads(void **state)
{
    fx *f = *state;
    wc_directread_stats st;
    char pk[16];
    int direct = 0;

    for (int p = 0; p < 2000; p++) {
        snprintf(pk, sizeof(pk), "r%d", p);
        put(f, pk, 1, 100, "flushed");
    }
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    for (int p = 0; p < 60000; p++) {
        snprintf(pk, sizeof(pk), "w%d", p);
        put(f, pk, 1, 100, "resident");
    }
    for (int p = 0; p < 2000; p++) {
        const char *v;

        snprintf(pk, sizeof(pk), "r%d", p);
        if ((v = rvalue(f, pk, 1)) != NULL) {
            assert_string_equal(v, "flushed");
            direct++;
        }
    }
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.resident, 2000 - direct);
    assert_true(direct >= 1920);
    /* the written rows themselves all go to the node */
    assert_null(rvalue(f, "w7", 1));
}

/* Files of the process that are open (deleted ones only if deleted is true). */
static int open_sst_files(bool deleted);
/* Files of the process that are open but deleted. */
/* Mappings of SSTables in this process; the path of the last one in path (may be NULL). */
static int mapped_sst_files(char *path, size_t n)
{
    FILE *m = fopen("/proc/self/maps", "r");
    char line[4096];
    int count = 0;

    assert_non_null(m);
    while (fgets(line, sizeof(line), m) != NULL) {
        char *p = strchr(line, '/');

        if (p == NULL || strstr(p, ".sst") == NULL)
            continue;
        count++;
        if (path != NULL) {
            p[strcspn(p, " \n")] = '\0';
            snprintf(path, n, "%s", p);
        }
    }
    fclose(m);
    return count;
}

/*
 * A client reads its files through mappings, unmapped when it closes them;
 * a file truncated under its mapping (something outside widecol did it)
 * fails the read with an error instead of killing the process with SIGBUS,
 * and the client gives direct reads up: the fault may have come anywhere
 * in the engine's search of the file's index and blocks, so what that read
 * held stays as it was (its file stays mapped) and the node answers every
 * later read.
 */
static void test_mapped_reads(void **state)
{
    fx *f = *state;
    char v[2001], path[4096];
    uint64_t x = 1, other;
    wc_directread_stats st;
    wc_page *p = NULL;

    for (uint64_t ck = 0; ck < 200; ck++) {
        for (size_t i = 0; i < sizeof(v) - 1; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            v[i] = (char)('a' + (x >> 59) % 26); /* little to compress: many blocks */
        }
        v[sizeof(v) - 1] = '\0';
        put(f, "p", ck, 100, v);
    }
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_int_equal(mapped_sst_files(NULL, 0), 0);
    assert_int_equal(dread_row(f, "p", 3, &p), WC_OK);
    assert_int_equal(p->nrows, 1);
    wc_page_free(p);
    assert_int_equal(mapped_sst_files(path, sizeof(path)), 1);

    wc_directread_get_stats(f->cli, &st);
    assert_false(st.given_up);
    other = st.other;

    assert_int_equal(truncate(path, 4096), 0);
    p = NULL;
    assert_int_not_equal(dread_row(f, "p", 150, &p), WC_OK);
    assert_null(p);
    wc_directread_get_stats(f->cli, &st);
    assert_true(st.given_up);
    assert_int_equal(st.other, other + 1);
    /* a row read directly before: the node's now */
    assert_int_not_equal(dread_row(f, "p", 3, &p), WC_OK);
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.other, other + 2);

    wc_directread_close(f->cli);
    assert_int_equal(wc_directread_open(f->mem, f->size, &f->cli), WC_OK);
    /* a new client opens the damaged file through its guarded copy: a miss, not a give-up */
    assert_int_not_equal(dread_row(f, "p", 3, &p), WC_OK);
    wc_directread_get_stats(f->cli, &st);
    assert_false(st.given_up);
    fx_close_engine(f); /* the engine's own copy of the file is damaged too */
}

static int deleted_open_files(void);

static void test_budget(void **state)
{
    fx *f = *state;
    wc_directread_stats st;
    int engine_files;

    for (int round = 0; round < 3; round++) {
        put(f, "p", (uint64_t)round, 100 + round, "v");
        assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    }
    engine_files = open_sst_files(false); /* the engine's own, in this process too */
    /* three files of a few hundred bytes each: 100 bytes cannot hold them */
    wc_directread_set_budget(f->cli, 100);
    assert_null(dvalue(f, "p", 0));
    assert_int_equal(open_sst_files(false), engine_files);
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.other, 1);
    wc_directread_set_budget(f->cli, 1 << 20);
    assert_string_equal(dvalue(f, "p", 2), "v");
    assert_int_equal(open_sst_files(false), engine_files + 3);
}

/* Table TABLE + 1 with partition "o" in one file, and partition "p" of TABLE in rounds files. */
static void other_table_and_files(fx *f, int rounds)
{
    wc_table_def def;
    uint32_t col = 1;
    const char *v = "x";

    memset(&def, 0, sizeof(def));
    def.id = TABLE + 1;
    snprintf(def.name, sizeof(def.name), "ks.other");
    assert_int_equal(wc_engine_create_table(f->e, &def), WC_OK);
    assert_int_equal(wc_test_put(f->e, TABLE + 1, "o", 1, 100, 0, 1000, 1, &col, &v), WC_OK);
    assert_int_equal(wc_engine_flush(f->e, TABLE + 1, true), WC_OK);
    for (int round = 0; round < rounds; round++) {
        put(f, "p", (uint64_t)round, 100 + round, "v");
        assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    }
}

/* Descriptor hooks (wc_directread_set_fd_hooks) that grant up to limit descriptors. */
typedef struct fdcount {
    int limit, held, max_held, acquired, released, refused;
} fdcount;

static bool fd_acquire(void *arg)
{
    fdcount *c = arg;

    if (c->held >= c->limit) {
        c->refused++;
        return false;
    }
    c->held++;
    c->acquired++;
    if (c->held > c->max_held)
        c->max_held = c->held;
    return true;
}

static void fd_release(void *arg)
{
    fdcount *c = arg;

    assert_true(c->held > 0);
    c->held--;
    c->released++;
}

/*
 * Every file a client opens takes a descriptor from its hook and gives it
 * back when closed; when the hook refuses, files the read in progress does
 * not hold are closed to make room, and a read that cannot get all the
 * descriptors it needs goes to the node.
 */
static void test_fd_hooks(void **state)
{
    fx *f = *state;
    fdcount fc = {.limit = 2};
    wc_directread_stats st;
    wc_read_request r;
    wc_page *p;
    int engine_files;

    other_table_and_files(f, 3);
    engine_files = open_sst_files(false);
    wc_directread_set_fd_hooks(f->cli, fd_acquire, fd_release, &fc);

    /* three files, two descriptors: the node answers, two files stay open */
    assert_null(dvalue(f, "p", 0));
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.other, 1);
    assert_int_equal(fc.refused, 1);
    assert_int_equal(fc.held, 2);
    assert_int_equal(open_sst_files(false), engine_files + fc.held);

    /* three descriptors: read directly */
    fc.limit = 3;
    assert_string_equal(dvalue(f, "p", 2), "v");
    assert_int_equal(fc.held, 3);
    assert_int_equal(open_sst_files(false), engine_files + fc.held);

    /* the other table's file takes the place of the least recently used one */
    request(&r, "o");
    r.table_id = TABLE + 1;
    assert_int_equal(wc_directread_read(f->cli, &r, false, &p), WC_OK);
    assert_int_equal(p->nrows, 1);
    wc_page_free(p);
    assert_int_equal(fc.refused, 2);
    assert_int_equal(fc.held, 3);
    assert_int_equal(open_sst_files(false), engine_files + fc.held);
    /* and back: the two files still open are spared, the other table's goes */
    assert_string_equal(dvalue(f, "p", 1), "v");
    assert_int_equal(fc.refused, 3);
    assert_int_equal(open_sst_files(false), engine_files + fc.held);
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.other, 1);
    assert_int_equal(st.reads, 3);
    assert_true(fc.max_held <= 3);

    /* no descriptor at all: every read goes to the node, nothing stays open */
    wc_directread_close(f->cli);
    assert_int_equal(fc.held, 0);
    assert_int_equal(fc.released, fc.acquired);
    assert_int_equal(open_sst_files(false), engine_files);
    assert_int_equal(wc_directread_open(f->mem, f->size, &f->cli), WC_OK);
    fc.limit = 0;
    wc_directread_set_fd_hooks(f->cli, fd_acquire, fd_release, &fc);
    assert_null(dvalue(f, "p", 2));
    assert_int_equal(fc.held, 0);
    assert_int_equal(open_sst_files(false), engine_files);
}

static int deleted_open_files(void)
{
    return open_sst_files(true);
}

static int open_sst_files(bool deleted)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[300], target[4096];
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        /* this test's files: a client that gave up keeps an earlier test's open */
        if (strncmp(target, fx_dir, strlen(fx_dir)) == 0 &&
            strstr(target, deleted ? ".sst (deleted)" : ".sst") != NULL)
            n++;
    }
    closedir(d);
    return n;
}

static void test_compacted_files_closed(void **state)
{
    fx *f = *state;

    for (int round = 0; round < 3; round++) {
        put(f, "p", (uint64_t)round, 100 + round, "v");
        assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
        assert_non_null(dvalue(f, "p", 0)); /* opens the file of this round */
    }
    assert_int_equal(deleted_open_files(), 0);
    assert_int_equal(wc_engine_compact(f->e, TABLE), WC_OK);
    /* the engine let go of the inputs; the client still holds them until it reads again */
    assert_true(deleted_open_files() > 0);
    assert_string_equal(dvalue(f, "p", 2), "v");
    assert_int_equal(deleted_open_files(), 0);
}

/* A read of another table closes the files a compaction removed from the first. */
static void test_sweep_other_table(void **state)
{
    fx *f = *state;
    wc_read_request r;
    wc_page *p;

    other_table_and_files(f, 2);
    assert_string_equal(dvalue(f, "p", 1), "v");
    assert_int_equal(wc_engine_compact(f->e, TABLE), WC_OK);
    assert_true(deleted_open_files() > 0);
    request(&r, "o");
    r.table_id = TABLE + 1;
    assert_int_equal(wc_directread_read(f->cli, &r, false, &p), WC_OK);
    assert_int_equal(p->nrows, 1);
    wc_page_free(p);
    assert_int_equal(deleted_open_files(), 0);
}

/*
 * A partition of another table whose partition stripe is the same as pk's
 * (directread.c hashes the key with the table id as the seed into
 * WC_DR_PART_STRIPES stripes); written into buf.
 */
static const char *colliding_pk(const char *pk, uint32_t other, char *buf, size_t size)
{
    uint64_t want = XXH3_64bits_withSeed(pk, strlen(pk), TABLE) & (WC_DR_PART_STRIPES - 1);

    for (unsigned i = 0;; i++) {
        snprintf(buf, size, "o%u", i);
        if ((XXH3_64bits_withSeed(buf, strlen(buf), other) & (WC_DR_PART_STRIPES - 1)) == want)
            return buf;
    }
}

/*
 * Stripes are shared by tables, but another table's writes send a table's
 * reads to the node only if they went into a memtable started after the
 * table's own oldest one: never while the table's memtables are all
 * flushed, and not for the other table's memtable that was already filling
 * when this table's started.
 */
static void test_other_tables_writes(void **state)
{
    fx *f = *state;
    wc_table_def def;
    wc_directread_stats st;
    uint32_t col = 1;
    const char *v = "x";
    char opk[32];

    memset(&def, 0, sizeof(def));
    def.id = TABLE + 1;
    snprintf(def.name, sizeof(def.name), "ks.other");
    assert_int_equal(wc_engine_create_table(f->e, &def), WC_OK);
    colliding_pk("p1", TABLE + 1, opk, sizeof(opk));
    put(f, "p1", 1, 100, "one");
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);

    /* the other table writes into p1's stripe: p1 is all in files, read directly */
    assert_int_equal(wc_test_put(f->e, TABLE + 1, opk, 1, 100, 0, 1000, 1, &col, &v), WC_OK);
    assert_string_equal(dvalue(f, "p1", 1), "one");

    /* this table writes elsewhere: its memtable is newer than the other's, p1 still direct */
    put(f, "p2", 1, 100, "two");
    assert_int_equal(wc_test_put(f->e, TABLE + 1, opk, 2, 101, 0, 1000, 1, &col, &v), WC_OK);
    assert_string_equal(dvalue(f, "p1", 1), "one");
    assert_null(dvalue(f, "p2", 1)); /* its own write: the node */
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.resident, 1);

    /* a newer memtable of the other table raised the stripe: p1 goes to the node */
    assert_int_equal(wc_engine_flush(f->e, TABLE + 1, true), WC_OK);
    assert_int_equal(wc_test_put(f->e, TABLE + 1, opk, 3, 102, 0, 1000, 1, &col, &v), WC_OK);
    assert_null(dvalue(f, "p1", 1));

    /* until this table's memtables are flushed */
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "p1", 1), "one");
    assert_string_equal(dvalue(f, "p2", 1), "two");
    wc_directread_get_stats(f->cli, &st);
    assert_int_equal(st.resident, 2);
    assert_int_equal(st.other, 0);
}

static void test_staged_publish(void **state)
{
    fx *f = *state;
    wc_staged *x;
    wc_batch_builder b;
    const uint8_t *rec;
    size_t len;
    uint8_t ckb[8];
    wc_mutation *m;
    wc_rowb *rb;
    wc_cell c = {.column = 1, .ts = 500, .value = (const uint8_t *)"staged", .len = 6};

    put(f, "a", 1, 100, "flushed");
    put(f, "b", 1, 100, "flushed");
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "a", 1), "flushed");

    /* a staged write to "b": every partition of the table goes to the node until it is flushed */
    wc_batch_builder_init(&b);
    m = wc_batch_builder_begin(&b, TABLE, "b", 1);
    assert_non_null(m);
    wc_test_ck(1, ckb);
    rb = wc_mutation_row_begin(m, false, ckb, 8);
    wc_rowb_liveness(rb, 500, 0, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    assert_int_equal(wc_batch_builder_end(&b), WC_OK);
    assert_int_equal(wc_batch_builder_finish(&b, &rec, &len), WC_OK);
    assert_int_equal(wc_engine_stage_begin(f->e, &x), WC_OK);
    assert_int_equal(wc_engine_stage(f->e, x, rec, len), WC_OK);
    wc_batch_builder_free(&b);
    assert_string_equal(dvalue(f, "b", 1), "flushed"); /* not published yet */
    assert_int_equal(wc_engine_publish(f->e, x), WC_OK);
    assert_null(dvalue(f, "b", 1));
    assert_null(dvalue(f, "a", 1));
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "b", 1), "staged");
    assert_string_equal(dvalue(f, "a", 1), "flushed");
}

static void test_drop_recreate_restart(void **state)
{
    fx *f = *state;
    wc_directread_stats st;

    put(f, "p", 1, 100, "old");
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "p", 1), "old");
    assert_int_equal(wc_engine_drop_table(f->e, TABLE), WC_OK);
    assert_null(dvalue(f, "p", 1));
    /* the same id again: its first file may have the same generation, never the old data */
    create_table(f->e);
    assert_string_equal(dvalue(f, "p", 1), "");
    put(f, "p", 1, 50, "new");
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "p", 1), "new");

    /* a write left in the commit log, then a restart: nothing direct while down, the
     * replayed partition goes to the node, the flushed one is read directly */
    put(f, "q", 1, 100, "unflushed");
    fx_close_engine(f);
    assert_null(dvalue(f, "p", 1));
    wc_directread_get_stats(f->cli, &st);
    assert_false(st.enabled);
    fx_open_engine(f);
    assert_string_equal(dvalue(f, "p", 1), "new");
    assert_null(dvalue(f, "q", 1));
    assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
    assert_string_equal(dvalue(f, "q", 1), "unflushed");
}

/* Random writes, deletions, flushes and compactions; every direct answer is the engine's. */
static void test_model(void **state)
{
    fx *f = *state;
    unsigned seed = 12345;
    uint64_t direct = 0;
    int64_t ts = 1;

    for (int op = 0; op < 600; op++) {
        unsigned r = (unsigned)rand_r(&seed) % 100;
        char pk[8], val[16];
        uint32_t col = 1;
        const char *v = val;

        snprintf(pk, sizeof(pk), "k%u", (unsigned)rand_r(&seed) % 12);
        if (r < 5) {
            wc_mutation m;
            wc_mutation *mp = &m;

            /* a partition deletion now and then */
            wc_mutation_init(&m, TABLE, pk, strlen(pk));
            wc_mutation_delete_partition(&m, ts++, 1000);
            assert_int_equal(wc_engine_apply(f->e, &mp, 1), WC_OK);
            wc_mutation_free(&m);
        } else if (r < 70) {
            snprintf(val, sizeof(val), "v%d", op);
            v = r < 60 ? val : NULL; /* a cell tombstone now and then */
            assert_int_equal(wc_test_put(f->e, TABLE, pk, (uint64_t)(rand_r(&seed) % 5), ts++, 0,
                                         1000, 1, &col, &v),
                             WC_OK);
        } else if (r < 90) {
            assert_int_equal(wc_engine_flush(f->e, TABLE, true), WC_OK);
        } else {
            assert_int_equal(wc_engine_compact(f->e, TABLE), WC_OK);
        }
        for (unsigned k = 0; k < 12; k++) {
            wc_read_request rq;
            wc_page *d, *e;

            uint8_t ckb[8];
            bool row = k % 2 == 1;

            snprintf(pk, sizeof(pk), "k%u", k);
            request(&rq, pk);
            if (row) {
                /* a row by its key, checked against the row's and the partition's stripes */
                wc_test_ck((uint64_t)(op + k) % 5, ckb);
                rq.start.unbounded = rq.end.unbounded = false;
                rq.start.key = rq.end.key = ckb;
                rq.start.len = rq.end.len = 8;
                rq.start.inclusive = rq.end.inclusive = true;
            }
            if (wc_directread_read(f->cli, &rq, row, &d) != WC_OK)
                continue;
            assert_int_equal(wc_engine_read(f->e, &rq, &e), WC_OK);
            assert_same_page(d, e);
            wc_page_free(d);
            wc_page_free(e);
            direct++;
        }
    }
    assert_true(direct > 1000);
}

/* ---------------------------------------------------------------- concurrency */

typedef struct race {
    fx *f;
    atomic_uint_fast64_t acked; /* the highest value acknowledged */
    atomic_bool stop;
    atomic_uint_fast64_t direct, stale;
} race;

/* Write increasing values to one row, flushing after each write and compacting every 4. */
static void *race_writer(void *arg)
{
    race *r = arg;
    uint32_t col = 1;

    for (uint64_t n = 1; !atomic_load(&r->stop); n++) {
        char val[24];
        const char *v = val;

        snprintf(val, sizeof(val), "%020llu", (unsigned long long)n);
        if (wc_test_put(r->f->e, TABLE, "hot", 1, (int64_t)n, 0, 1000, 1, &col, &v) != WC_OK)
            break;
        atomic_store(&r->acked, n);
        if (wc_engine_flush(r->f->e, TABLE, true) != WC_OK)
            break;
        if (n % 4 == 0 && wc_engine_compact(r->f->e, TABLE) != WC_OK)
            break;
    }
    return NULL;
}

static void test_race(void **state)
{
    fx *f = *state;
    race r = {.f = f};
    pthread_t w;

    assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
    for (int i = 0; i < 200000 && atomic_load(&r.direct) < 2000; i++) {
        uint64_t before = atomic_load(&r.acked);
        const char *v = dvalue(f, "hot", 1);

        if (v == NULL)
            continue;
        atomic_fetch_add(&r.direct, 1);
        if (strtoull(v[0] ? v : "0", NULL, 10) < before)
            atomic_fetch_add(&r.stale, 1);
    }
    atomic_store(&r.stop, true);
    pthread_join(w, NULL);
    assert_true(atomic_load(&r.direct) > 100);
    assert_int_equal(atomic_load(&r.stale), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flush_makes_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_writes_spare_row_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compacted_files_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_hooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapped_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_other_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_tables_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_recreate_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
