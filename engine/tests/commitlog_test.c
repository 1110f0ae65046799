/*
 * commitlog_test.c - unit tests of the commit log (engine/commitlog.c).
 *
 * Round trips across segments and reopenings, discard and recycling, every
 * corruption path of replay (torn tails, bad checksums, garbage lengths,
 * mid-log damage, bad headers, stale records of a recycled file), I/O faults
 * through the fault-injecting file system (ENOSPC and recovery once space is
 * free, short writes, fsync
 * failure, simulated crashes in both sync modes), group commit, and
 * allocation failures during open.  Each test works in its own temporary
 * directory under $WC_TEST_TMP (or /tmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "commitlog.h"
#include "commitlog_format.h"
#include "faultfs.h"

/* ------------------------------------------------------------------ helpers */

typedef struct rec {
    wc_clpos pos;
    uint8_t *data;
    size_t len;
} rec;

typedef struct collector {
    rec *recs;
    size_t n, cap;
    int fail_at; /* return an error on this record (1-based), 0 = never */
} collector;

typedef struct logcap {
    int warnings;
    int errors;
    char last[1024];
} logcap;

static char tmpdir[4096];

static int setup(void **state)
{
    const char *base = getenv("WC_TEST_TMP");

    snprintf(tmpdir, sizeof(tmpdir), "%s/cltest-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[8192];

    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static void log_cb(void *arg, int level, const char *msg)
{
    logcap *lc = arg;

    if (level == WC_LOG_WARNING)
        lc->warnings++;
    if (level == WC_LOG_ERROR)
        lc->errors++;
    snprintf(lc->last, sizeof(lc->last), "%s", msg);
}

static wc_status collect_cb(void *arg, wc_clpos pos, const uint8_t *data, size_t len)
{
    collector *c = arg;

    if (c->fail_at && (int)c->n + 1 == c->fail_at)
        return wc_error(WC_INVALID_ARGUMENT, "callback refused record");
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->recs = realloc(c->recs, c->cap * sizeof(*c->recs));
        assert_non_null(c->recs);
    }
    c->recs[c->n].pos = pos;
    c->recs[c->n].data = malloc(len);
    assert_non_null(c->recs[c->n].data);
    memcpy(c->recs[c->n].data, data, len);
    c->recs[c->n].len = len;
    c->n++;
    return WC_OK;
}

static void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->recs[i].data);
    free(c->recs);
    memset(c, 0, sizeof(*c));
}

/* Record i: 8-byte sequence number then a pattern derived from it. */
static size_t make_rec(uint64_t i, uint8_t *buf, size_t len)
{
    if (len < 8)
        len = 8;
    wc_enc_u64(buf, i);
    for (size_t k = 8; k < len; k++)
        buf[k] = (uint8_t)(i * 131 + k * 7);
    return len;
}

static size_t rec_len(uint64_t i)
{
    return 8 + (size_t)((i * 37) % 200);
}

static int rec_ok(const uint8_t *data, size_t len, uint64_t *seq)
{
    uint8_t tmp[1 << 16];

    if (len < 8 || len > sizeof(tmp))
        return 0;
    *seq = wc_dec_u64(data);
    make_rec(*seq, tmp, len);
    return memcmp(tmp, data, len) == 0;
}

static wc_commitlog_options opts_for(wc_sync_mode mode, size_t segment_size, logcap *lc)
{
    wc_commitlog_options o = {0};

    o.dir = tmpdir;
    o.mode = mode;
    o.segment_size = segment_size;
    o.period_ms = 5;
    if (lc) {
        o.log = log_cb;
        o.log_arg = lc;
    }
    return o;
}

static void seg_path(uint64_t id, char *out, size_t n)
{
    snprintf(out, n, "%s/CommitLog-%llu.log", tmpdir, (unsigned long long)id);
}

static int count_suffix(const char *suffix)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;
    size_t sl = strlen(suffix);

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void patch_file(const char *path, uint64_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void read_file_at(const char *path, uint64_t off, void *bytes, size_t n)
{
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void truncate_file(const char *path, uint64_t len)
{
    assert_int_equal(truncate(path, (off_t)len), 0);
}

static uint64_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Append records first..first+n-1 (sizes from rec_len), positions into pos[]. */
static void append_n(wc_commitlog *cl, uint64_t first, size_t n, wc_clpos *pos)
{
    uint8_t buf[512];

    for (size_t i = 0; i < n; i++) {
        size_t len = make_rec(first + i, buf, rec_len(first + i));
        wc_clpos p;

        assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
        if (pos)
            pos[i] = p;
    }
}

/* Open, replay into c, return status (log left open in *out on success). */
static wc_status open_collect(const wc_commitlog_options *o, collector *c, wc_commitlog **out)
{
    return wc_commitlog_open(o, collect_cb, c, out);
}

/* Replayed records must be first..first+n-1 in order and intact. */
static void check_seq(const collector *c, uint64_t first, size_t n)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;

        assert_true(rec_ok(c->recs[i].data, c->recs[i].len, &seq));
        assert_int_equal(seq, first + i);
        assert_int_equal(c->recs[i].len, rec_len(seq));
        if (i)
            assert_true(wc_clpos_cmp(c->recs[i - 1].pos, c->recs[i].pos) < 0);
    }
}

/* Write n records in one session (batch mode), close; positions into pos. */
static void write_session(size_t segment_size, uint64_t first, size_t n, wc_clpos *pos)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, segment_size, NULL);
    wc_commitlog *cl;

    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    append_n(cl, first, n, pos);
    wc_commitlog_close(cl);
}

/* ------------------------------------------------------------------ round trips */

static void test_roundtrip_segments(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 1024, NULL);
    wc_clpos pos[250];
    wc_commitlog *cl;
    wc_commitlog_stats s;
    collector c = {0};
    uint64_t live0 = wc_alloc_live_count();

    assert_int_equal(wc_commitlog_open(&o, collect_cb, &c, &cl), WC_OK);
    assert_int_equal(c.n, 0);
    append_n(cl, 0, 200, pos);
    for (int i = 1; i < 200; i++)
        assert_true(wc_clpos_cmp(pos[i - 1], pos[i]) < 0);
    assert_true(pos[199].segment > pos[0].segment + 5); /* several segments */
    assert_true(wc_clpos_cmp(pos[199], wc_commitlog_current(cl)) < 0);
    assert_int_equal(wc_commitlog_sync_to(cl, pos[199]), WC_OK);
    wc_commitlog_get_stats(cl, &s);
    assert_int_equal(s.records, 200);
    assert_true(s.segments > 5);
    wc_commitlog_close(cl);

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(wc_clpos_cmp(c.recs[i].pos, pos[i]), 0);
    /* new appends land after everything replayed */
    append_n(cl, 200, 50, pos + 200);
    assert_true(wc_clpos_cmp(pos[199], pos[200]) < 0);
    wc_commitlog_get_stats(cl, &s);
    assert_int_equal(s.replayed, 200);
    assert_int_equal(s.truncated_tail_bytes, 0);
    wc_commitlog_close(cl);
    collector_free(&c);

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 250);
    wc_commitlog_close(cl);
    collector_free(&c);
    assert_int_equal(wc_alloc_live_count(), live0);
}

static void test_record_sizes_and_arguments(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 256, NULL);
    wc_commitlog *cl;
    wc_clpos p1, p2, p3;
    uint8_t *big = malloc(200000);
    collector c = {0};

    o.max_record_size = 150000;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    for (size_t k = 0; k < 200000; k++)
        big[k] = (uint8_t)(k * 13);
    assert_int_equal(wc_commitlog_append(cl, big, 1000, &p1), WC_OK);   /* own segment */
    assert_int_equal(wc_commitlog_append(cl, big, 100000, &p2), WC_OK); /* two pwrites */
    assert_int_equal(wc_commitlog_append(cl, big, 10, &p3), WC_OK);
    assert_true(p1.segment < p2.segment && p2.segment < p3.segment);
    assert_int_equal(wc_commitlog_append(cl, big, 150001, &p3), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_commitlog_append(cl, big, 0, &p3), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_commitlog_append(cl, NULL, 5, &p3), WC_INVALID_ARGUMENT);
    /* sync_to a position not written yet must not hang */
    assert_int_equal(wc_commitlog_sync_to(cl, wc_commitlog_current(cl)), WC_OK);
    assert_int_equal(wc_commitlog_sync_to(cl, (wc_clpos){UINT64_MAX, 0}), WC_OK);
    wc_commitlog_close(cl);

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.recs[0].len, 1000);
    assert_int_equal(c.recs[1].len, 100000);
    assert_int_equal(c.recs[2].len, 10);
    assert_memory_equal(c.recs[1].data, big, 100000);
    wc_commitlog_close(cl);
    collector_free(&c);
    free(big);

    /* bad options */
    o.segment_size = 10;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_INVALID_ARGUMENT);
    o.segment_size = 1024;
    o.dir = NULL;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_INVALID_ARGUMENT);
}

static void test_replay_callback_error(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 4096, NULL);
    wc_commitlog *cl = (wc_commitlog *)&o;
    collector c = {0};

    write_session(4096, 0, 10, NULL);
    c.fail_at = 4;
    assert_int_equal(open_collect(&o, &c, &cl), WC_INVALID_ARGUMENT);
    assert_null(cl);
    assert_int_equal(c.n, 3);
    collector_free(&c);
}

static void test_creates_directory(void **state)
{
    char sub[4200];
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 4096, NULL);
    wc_commitlog *cl;

    snprintf(sub, sizeof(sub), "%s/a", tmpdir);
    o.dir = sub;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    append_n(cl, 0, 3, NULL);
    wc_commitlog_close(cl);
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    wc_commitlog_close(cl);
    /* clean the nested directory by hand */
    {
        DIR *d = opendir(sub);
        struct dirent *de;
        char p[8400];

        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", sub, de->d_name);
            unlink(p);
        }
        closedir(d);
        rmdir(sub);
    }
}

/* ------------------------------------------------------------------ discard, recycling */

static void test_discard_and_recycle(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 1024, NULL);
    wc_clpos pos[300];
    wc_commitlog *cl;
    wc_commitlog_stats s0, s1;
    collector c = {0};
    char p[4200];
    size_t k;

    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    append_n(cl, 0, 200, pos);
    wc_commitlog_get_stats(cl, &s0);
    /* discard everything before record 120 */
    assert_int_equal(wc_commitlog_discard_before(cl, pos[120]), WC_OK);
    wc_commitlog_get_stats(cl, &s1);
    assert_int_equal(s1.segments, s0.segments - (pos[120].segment - pos[0].segment));
    for (uint64_t id = pos[0].segment; id < pos[120].segment; id++) {
        seg_path(id, p, sizeof(p));
        assert_false(file_exists(p));
    }
    seg_path(pos[120].segment, p, sizeof(p));
    assert_true(file_exists(p));
    assert_int_equal(count_suffix(".free"), 2); /* pool of two, the rest deleted */
    /* discarding again, or before an old position, is a no-op */
    assert_int_equal(wc_commitlog_discard_before(cl, pos[120]), WC_OK);
    assert_int_equal(wc_commitlog_discard_before(cl, pos[0]), WC_OK);

    /* rolling reuses the pool files; their old records must never come back */
    append_n(cl, 200, 100, pos + 200);
    assert_int_equal(count_suffix(".free"), 0);
    wc_commitlog_close(cl);

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    /* the first replayed record is the first of segment pos[120].segment */
    for (k = 0; k < 300 && pos[k].segment < pos[120].segment; k++)
        ;
    check_seq(&c, k, 300 - k);
    assert_int_equal(c.recs[0].pos.segment, pos[120].segment);
    collector_free(&c);

    /* discard up to the current position: only the active segment remains */
    assert_int_equal(wc_commitlog_discard_before(cl, wc_commitlog_current(cl)), WC_OK);
    wc_commitlog_get_stats(cl, &s1);
    assert_int_equal(s1.segments, 1);
    /* a position beyond the log keeps the active segment */
    assert_int_equal(wc_commitlog_discard_before(cl, (wc_clpos){UINT64_MAX, 0}), WC_OK);
    wc_commitlog_get_stats(cl, &s1);
    assert_int_equal(s1.segments, 1);
    append_n(cl, 1000, 5, NULL);
    wc_commitlog_close(cl);

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 1000, 5);
    collector_free(&c);
    wc_commitlog_close(cl);
}

/*
 * A file holding valid records of segment A, renamed to a later id with a
 * correct header (what a careless recycler would produce), must replay none
 * of them: the record checksums are seeded with the segment id.
 */
static void test_recycled_stale_records(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[40];
    wc_commitlog *cl;
    collector c = {0};
    logcap lc = {0};
    uint8_t hdr[WC_CL_HEADER_SIZE];
    char from[4200], to[4200];
    uint64_t newid;

    write_session(1 << 20, 0, 40, pos); /* all in one segment */
    assert_int_equal(pos[0].segment, pos[39].segment);
    o = opts_for(WC_SYNC_BATCH, 1 << 20, &lc);
    /* reopen once so that there is a later (empty) segment */
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    newid = wc_commitlog_current(cl).segment + 1;
    wc_commitlog_close(cl);

    seg_path(pos[0].segment, from, sizeof(from));
    seg_path(newid, to, sizeof(to));
    assert_int_equal(rename(from, to), 0);
    wc__cl_encode_header(hdr, newid, 0, 0, 0);
    patch_file(to, 0, hdr, sizeof(hdr));

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(lc.warnings, 1); /* the stale records are a torn tail */
    assert_non_null(strstr(lc.last, "torn tail"));
    wc_commitlog_close(cl);
    assert_int_equal(file_size(to), WC_CL_HEADER_SIZE);
}

/* ------------------------------------------------------------------ corruption */

static void test_tail_bad_checksum(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 4096, NULL);
    wc_clpos pos[20];
    wc_commitlog *cl;
    wc_commitlog_stats s;
    collector c = {0};
    logcap lc = {0};
    char p[4200];
    uint8_t b;

    write_session(4096, 0, 20, pos);
    assert_int_equal(pos[0].segment, pos[19].segment);
    seg_path(pos[19].segment, p, sizeof(p));
    read_file_at(p, pos[19].offset + 12, &b, 1);
    b ^= 0x40;
    patch_file(p, pos[19].offset + 12, &b, 1);

    o.log = log_cb;
    o.log_arg = &lc;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 19);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.last, "checksum"));
    assert_non_null(strstr(lc.last, p));
    wc_commitlog_get_stats(cl, &s);
    assert_int_equal(s.truncated_tail_bytes, 4096 - pos[19].offset);
    assert_int_equal(file_size(p), pos[19].offset);
    append_n(cl, 100, 2, NULL);
    wc_commitlog_close(cl);
    collector_free(&c);

    /* the truncated segment is now an ordinary older segment */
    lc.warnings = 0;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 21);
    assert_int_equal(lc.warnings, 0);
    wc_commitlog_close(cl);
    collector_free(&c);
}

static void test_tail_truncated_record(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[20];
    wc_commitlog *cl;
    collector c = {0};
    logcap lc = {0};
    char p[4200];

    write_session(4096, 0, 20, pos);
    o = opts_for(WC_SYNC_BATCH, 4096, &lc);
    seg_path(pos[19].segment, p, sizeof(p));
    /* the file ends in the middle of the last record's payload */
    truncate_file(p, pos[19].offset + 8 + 3);
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 19);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.last, "past the end"));
    wc_commitlog_close(cl);
    collector_free(&c);

    /*
     * The segment is no longer the last one (open started a new one), so the
     * same damage now is corruption, not a torn tail.
     */
    lc.warnings = 0;
    truncate_file(p, pos[18].offset + 5);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "incomplete record header"));
    assert_int_equal(lc.warnings, 0);
    collector_free(&c);
}

static void test_tail_incomplete_header_last(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[20];
    wc_commitlog *cl;
    collector c = {0};
    logcap lc = {0};
    char p[4200];

    write_session(4096, 0, 20, pos);
    o = opts_for(WC_SYNC_BATCH, 4096, &lc);
    seg_path(pos[19].segment, p, sizeof(p));
    truncate_file(p, pos[19].offset + 5);
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 19);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.last, "incomplete record header"));
    wc_commitlog_close(cl);
    collector_free(&c);
}

/* Counting allocator: the largest single request. */
static size_t max_alloc;
static void *count_malloc(size_t n, void *arg)
{
    if (n > max_alloc)
        max_alloc = n;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *arg)
{
    if (n > max_alloc)
        max_alloc = n;
    return realloc(p, n);
}
static void count_free(void *p, void *arg)
{
    free(p);
}

static void test_garbage_length(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[20];
    wc_commitlog *cl;
    collector c = {0};
    logcap lc = {0};
    char p[4200];
    uint8_t len[4];
    wc_allocator a = {count_malloc, count_realloc, count_free, NULL};

    write_session(4096, 0, 20, pos);
    o = opts_for(WC_SYNC_BATCH, 4096, &lc);
    seg_path(pos[19].segment, p, sizeof(p));
    wc_enc_u32(len, 0xFFFFFFF0u);
    patch_file(p, pos[19].offset, len, 4);

    wc_set_allocator(&a);
    max_alloc = 0;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    wc_commitlog_close(cl);
    wc_set_allocator(NULL);
    assert_true(max_alloc <= (2u << 20)); /* never sized by the length field */
    check_seq(&c, 0, 19);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.last, "exceeds the limit"));
    collector_free(&c);

    /* a huge length in the middle of a non-last segment: corruption, no huge allocation */
    write_session(4096, 100, 5, NULL);
    wc_enc_u32(len, 0x7FFFFFFFu);
    patch_file(p, pos[3].offset, len, 4);
    wc_set_allocator(&a);
    max_alloc = 0;
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    wc_set_allocator(NULL);
    assert_true(max_alloc <= (2u << 20));
    assert_non_null(strstr(wc_last_error(), p));
    collector_free(&c);
}

static void test_mid_corruption_followed_by_valid(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[20];
    wc_commitlog *cl = NULL;
    collector c = {0};
    logcap lc = {0};
    char p[4200], off[64];
    uint8_t b, len[4];

    write_session(4096, 0, 20, pos);
    o = opts_for(WC_SYNC_BATCH, 4096, &lc);
    seg_path(pos[5].segment, p, sizeof(p));
    read_file_at(p, pos[5].offset + 9, &b, 1);
    b ^= 1;
    patch_file(p, pos[5].offset + 9, &b, 1);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_null(cl);
    assert_non_null(strstr(wc_last_error(), p));
    snprintf(off, sizeof(off), "offset %llu", (unsigned long long)pos[5].offset);
    assert_non_null(strstr(wc_last_error(), off));
    assert_non_null(strstr(wc_last_error(), "followed by a valid record"));
    assert_int_equal(lc.warnings, 0);
    /* nothing was truncated */
    assert_true(file_size(p) > pos[19].offset);
    collector_free(&c);

    /* repair it, then damage a length field instead: found by the byte scan */
    b ^= 1;
    patch_file(p, pos[5].offset + 9, &b, 1);
    wc_enc_u32(len, 3);
    patch_file(p, pos[5].offset, len, 4);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "followed by a valid record"));
    collector_free(&c);
    wc_enc_u32(len, 0);
    patch_file(p, pos[5].offset, len, 4);
    /* a zero length followed by valid records is damage, not the end of the log */
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "zero record header"));
    assert_non_null(strstr(wc_last_error(), off));
    collector_free(&c);
    /* ignoring replay errors: everything but the damaged record comes back */
    o.ignore_replay_errors = true;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 19);
    assert_true(lc.warnings >= 1);
    wc_commitlog_close(cl);
    collector_free(&c);
}

static void test_corruption_in_non_last_segment(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[100];
    wc_commitlog *cl = NULL;
    collector c = {0};
    char p[4200];
    uint8_t b;
    uint64_t last = 0;

    write_session(1024, 0, 100, pos);
    o = opts_for(WC_SYNC_BATCH, 1024, NULL);
    for (int i = 0; i < 100; i++)
        if (pos[i].segment == pos[0].segment)
            last = (uint64_t)i;
    seg_path(pos[0].segment, p, sizeof(p));
    /* damage the last record of the first segment */
    read_file_at(p, pos[last].offset + 8, &b, 1);
    b ^= 0x80;
    patch_file(p, pos[last].offset + 8, &b, 1);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_null(cl);
    assert_non_null(strstr(wc_last_error(), p));
    assert_non_null(strstr(wc_last_error(), "is damaged at offset"));
    assert_non_null(strstr(wc_last_error(), "1 of the segment's"));
    assert_int_equal(c.n, last);
    collector_free(&c);
    b ^= 0x80;
    patch_file(p, pos[last].offset + 8, &b, 1);

    /* a non-last segment cut in the middle of a record */
    truncate_file(p, pos[last].offset + 10);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "past the end"));
    collector_free(&c);
}

/* The records replayed into c, by sequence number, into seen[0..n). */
static void mark_seen(const collector *c, bool *seen, size_t n)
{
    memset(seen, 0, n * sizeof(*seen));
    for (size_t i = 0; i < c->n; i++) {
        uint64_t seq;

        assert_true(rec_ok(c->recs[i].data, c->recs[i].len, &seq));
        assert_true(seq < n);
        seen[seq] = true;
    }
}

/* Index of the last record of the segment holding pos[0]. */
static int last_of_first_segment(const wc_clpos *pos, int n)
{
    int last = 0;

    for (int i = 0; i < n; i++)
        if (pos[i].segment == pos[0].segment)
            last = i;
    return last;
}

/*
 * Open again with ignore_replay_errors: it must succeed with n records
 * replayed (seen[] marks which) and `skipped` records counted as lost.
 */
static void open_ignoring(wc_commitlog_options o, collector *c, size_t n, uint64_t skipped,
                          bool *seen)
{
    wc_commitlog *cl = NULL;
    wc_commitlog_stats s;

    collector_free(c);
    o.ignore_replay_errors = true;
    assert_int_equal(open_collect(&o, c, &cl), WC_OK);
    assert_int_equal(c->n, n);
    mark_seen(c, seen, 100);
    wc_commitlog_get_stats(cl, &s);
    assert_int_equal(s.replay_damaged_segments, 1);
    assert_int_equal(s.replay_skipped_records, skipped);
    wc_commitlog_close(cl);
    collector_free(c);
}

static void test_older_segment_truncated_at_boundary(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[100];
    wc_commitlog *cl = NULL;
    collector c = {0};
    logcap lc = {0};
    char p[4200], off[64];
    bool seen[100];
    int last;

    write_session(1024, 0, 100, pos);
    o = opts_for(WC_SYNC_BATCH, 1024, &lc);
    last = last_of_first_segment(pos, 100);
    assert_true(last > 2);
    seg_path(pos[0].segment, p, sizeof(p));
    /* cut the first segment exactly before its last two records */
    truncate_file(p, pos[last - 1].offset);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_null(cl);
    assert_non_null(strstr(wc_last_error(), p));
    snprintf(off, sizeof(off), "offset %llu", (unsigned long long)pos[last - 1].offset);
    assert_non_null(strstr(wc_last_error(), off));
    assert_non_null(strstr(wc_last_error(), "2 of the segment's"));
    assert_non_null(strstr(wc_last_error(), "truncated"));
    collector_free(&c);

    /* with the setting, the rest is replayed and the loss is logged and counted */
    lc.warnings = 0;
    open_ignoring(o, &c, 98, 2, seen);
    assert_false(seen[last - 1]);
    assert_false(seen[last]);
    assert_true(seen[last + 1]);
    assert_true(lc.warnings >= 1);
    assert_non_null(strstr(lc.last, "2 were skipped"));
}

static void test_older_segment_zeroed_record_header(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[100];
    wc_commitlog *cl = NULL;
    collector c = {0};
    logcap lc = {0};
    char p[4200], off[64];
    uint8_t zero[WC_CL_RECORD_HEADER_SIZE] = {0};
    bool seen[100];
    int last;

    write_session(1024, 0, 100, pos);
    o = opts_for(WC_SYNC_BATCH, 1024, &lc);
    last = last_of_first_segment(pos, 100);
    seg_path(pos[0].segment, p, sizeof(p));
    patch_file(p, pos[1].offset, zero, sizeof(zero));
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), p));
    snprintf(off, sizeof(off), "offset %llu", (unsigned long long)pos[1].offset);
    assert_non_null(strstr(wc_last_error(), off));
    collector_free(&c);

    open_ignoring(o, &c, 99, 1, seen);
    assert_false(seen[1]);
    assert_true(seen[2] && seen[last]);
}

static void test_missing_segment(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[100];
    wc_commitlog *cl = NULL;
    collector c = {0};
    logcap lc = {0};
    char p[4200], id[64];
    bool seen[100];
    int first_of_second, n_second = 0;

    write_session(1024, 0, 100, pos);
    o = opts_for(WC_SYNC_BATCH, 1024, &lc);
    first_of_second = last_of_first_segment(pos, 100) + 1;
    for (int i = 0; i < 100; i++)
        if (pos[i].segment == pos[first_of_second].segment)
            n_second++;
    assert_true(pos[99].segment > pos[first_of_second].segment);
    seg_path(pos[first_of_second].segment, p, sizeof(p));
    assert_int_equal(unlink(p), 0);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    snprintf(id, sizeof(id), "segment %llu is missing",
             (unsigned long long)pos[first_of_second].segment);
    assert_non_null(strstr(wc_last_error(), id));
    collector_free(&c);

    open_ignoring(o, &c, 100 - (size_t)n_second, (uint64_t)n_second, seen);
    assert_false(seen[first_of_second]);
}

/* The newest segment cut at a record boundary cannot be told from a clean end. */
static void test_newest_segment_cut_is_not_an_error(void **state)
{
    wc_commitlog_options o;
    wc_clpos pos[100];
    wc_commitlog *cl = NULL;
    collector c = {0};
    char p[4200];

    write_session(1024, 0, 100, pos);
    o = opts_for(WC_SYNC_BATCH, 1024, NULL);
    seg_path(pos[99].segment, p, sizeof(p));
    truncate_file(p, pos[99].offset);
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 99);
    wc_commitlog_close(cl);
    collector_free(&c);
    /* the next open checks the old newest segment against the end it was given */
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 99);
    wc_commitlog_close(cl);
    collector_free(&c);
}

static void test_bad_segment_header(void **state)
{
    uint64_t next;
    wc_commitlog_options o;
    wc_clpos pos[100];
    wc_commitlog *cl = NULL;
    collector c = {0};
    logcap lc = {0};
    char p[4200], last[4200];
    uint8_t hdr[WC_CL_HEADER_SIZE], save[WC_CL_HEADER_SIZE];

    write_session(1024, 0, 100, pos);
    o = opts_for(WC_SYNC_BATCH, 1024, &lc);
    seg_path(pos[0].segment, p, sizeof(p));
    read_file_at(p, 0, save, sizeof(save));

    /* magic */
    memcpy(hdr, save, sizeof(hdr));
    hdr[0] ^= 1;
    patch_file(p, 0, hdr, sizeof(hdr));
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "magic"));
    assert_non_null(strstr(wc_last_error(), p));
    /* version (with a matching header checksum) */
    memcpy(hdr, save, sizeof(hdr));
    wc_enc_u32(hdr + 4, 99);
    wc_enc_u32(hdr + WC_CL_HEADER_CHECKSUM_OFF, wc__cl_header_checksum(hdr));
    patch_file(p, 0, hdr, sizeof(hdr));
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "version"));
    /* header checksum */
    memcpy(hdr, save, sizeof(hdr));
    hdr[12] ^= 1;
    patch_file(p, 0, hdr, sizeof(hdr));
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "checksum"));
    /* id that does not match the file name */
    wc__cl_encode_header(hdr, pos[0].segment + 1000, 0, 0, 0);
    patch_file(p, 0, hdr, sizeof(hdr));
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_non_null(strstr(wc_last_error(), "names segment"));
    /* a non-last segment shorter than its header */
    truncate_file(p, 10);
    assert_int_equal(open_collect(&o, &c, &cl), WC_CORRUPTION);
    assert_int_equal(c.n, 0);
    unlink(p);

    /* the last segment with a torn header (crash while creating it): removed */
    seg_path(pos[99].segment + 1, last, sizeof(last));
    {
        int fd = open(last, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, save, 7), 7);
        close(fd);
    }
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(lc.warnings, 1);
    assert_false(file_exists(last));
    /* new segment ids never go back */
    assert_true(wc_commitlog_current(cl).segment > pos[99].segment + 1);
    next = wc_commitlog_current(cl).segment + 1;
    wc_commitlog_close(cl);
    collector_free(&c);

    /* a torn header past the first 24 bytes (the rest of a version 2 header missing) */
    seg_path(next, last, sizeof(last));
    {
        uint8_t hdr2[WC_CL_HEADER_SIZE];
        uint64_t id = next;
        int fd = open(last, O_CREAT | O_WRONLY | O_TRUNC, 0600);

        wc__cl_encode_header(hdr2, id, 0, 0, 0);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, hdr2, 30), 30);
        close(fd);
    }
    lc.warnings = 0;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(lc.warnings, 1);
    assert_false(file_exists(last));
    wc_commitlog_close(cl);
    collector_free(&c);
}

/* ------------------------------------------------------------------ fault injection */

static void test_enospc_recovers(void **state)
{
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 4096, NULL);
    wc_commitlog *cl;
    collector c = {0};
    logcap lc = {0};
    uint8_t buf[512];
    wc_clpos p;
    size_t len;
    uint64_t next = 0;

    assert_non_null(ff);
    o.fs = wc_faultfs_fs(ff);
    o.log = log_cb;
    o.log_arg = &lc;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    for (; next < 20; next++) {
        len = make_rec(next, buf, rec_len(next));
        assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
        assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK);
    }
    /* the next write is short (11 bytes) and then fails with ENOSPC, once */
    wc_faultfs_fail_write(ff, 1, false, WC_NO_SPACE, 11);
    len = make_rec(next, buf, rec_len(next));
    assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_NO_SPACE);
    assert_int_equal(lc.errors, 1);
    /* space is back: the very next append succeeds, without a restart */
    assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
    assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK);
    next++;

    /* the disk stays full for a while: every append fails, none poisons the log */
    wc_faultfs_fail_write(ff, 1, true, WC_NO_SPACE, 5);
    for (int i = 0; i < 3; i++) {
        len = make_rec(next, buf, rec_len(next));
        assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_NO_SPACE);
        assert_non_null(strstr(wc_last_error(), "space"));
    }
    wc_faultfs_reset(ff);
    for (int i = 0; i < 30; i++, next++) {
        len = make_rec(next, buf, rec_len(next));
        assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
        assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK);
    }
    wc_commitlog_close(cl);

    /* every acknowledged record is there, in order; the short writes left no damage */
    lc.warnings = 0;
    lc.errors = 0;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, next);
    assert_int_equal(lc.warnings, 0);
    assert_int_equal(lc.errors, 0);
    wc_commitlog_close(cl);
    collector_free(&c);
    wc_faultfs_free(ff);
}

static void test_write_error_then_crash(void **state)
{
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 1024, NULL);
    wc_commitlog *cl;
    collector c = {0};
    uint8_t buf[512];
    wc_clpos p;
    size_t len, acked = 0;

    o.fs = wc_faultfs_fs(ff);
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    /* EIO on the 40th write from now: somewhere after a few segment rolls */
    wc_faultfs_fail_write(ff, 40, true, WC_IO_ERROR, 0);
    for (uint64_t i = 0; i < 100; i++) {
        len = make_rec(i, buf, rec_len(i));
        if (wc_commitlog_append(cl, buf, len, &p) != WC_OK)
            break;
        if (i % 3 == 2) {
            if (wc_commitlog_sync_to(cl, p) != WC_OK)
                break;
            acked = i + 1;
        }
    }
    assert_true(acked > 0);
    assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_IO_ERROR);
    wc_faultfs_crash(ff);
    wc_commitlog_close(cl);
    wc_faultfs_reset(ff);

    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_true(c.n >= acked);
    check_seq(&c, 0, c.n);
    wc_commitlog_close(cl);
    collector_free(&c);
    wc_faultfs_free(ff);
}

static void test_fsync_failure_batch(void **state)
{
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 4096, NULL);
    wc_commitlog *cl;
    uint8_t buf[64];
    wc_clpos p;
    size_t len = make_rec(1, buf, 30);

    o.fs = wc_faultfs_fs(ff);
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
    assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK);
    wc_faultfs_fail_sync(ff, 1, false);
    assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
    assert_int_equal(wc_commitlog_sync_to(cl, p), WC_IO_ERROR);
    assert_non_null(strstr(wc_last_error(), "sync"));
    /* later writes refuse, even though the fault was one-shot */
    assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_IO_ERROR);
    assert_int_equal(wc_commitlog_sync_to(cl, p), WC_IO_ERROR);
    wc_commitlog_close(cl);
    wc_faultfs_free(ff);
}

static void test_fsync_failure_at_roll(void **state)
{
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_commitlog_options o = opts_for(WC_SYNC_PERIODIC, 256, NULL);
    wc_commitlog *cl;
    uint8_t buf[100];
    wc_clpos p;
    size_t len = make_rec(1, buf, 100);
    wc_status st = WC_OK;

    o.fs = wc_faultfs_fs(ff);
    o.period_ms = 100000; /* only rolls sync */
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    wc_faultfs_fail_sync(ff, 1, true);
    for (int i = 0; i < 10 && st == WC_OK; i++)
        st = wc_commitlog_append(cl, buf, len, &p);
    assert_int_equal(st, WC_IO_ERROR);
    assert_int_equal(wc_commitlog_sync_to(cl, p), WC_IO_ERROR);
    wc_commitlog_close(cl);
    wc_faultfs_free(ff);
}

/* ------------------------------------------------------------------ concurrency */

typedef struct writer_arg {
    wc_commitlog *cl;
    uint64_t first;
    size_t n;
    size_t acked; /* records acknowledged (prefix of this writer's sequence) */
    int failed;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *w = p;
    uint8_t buf[512];

    for (size_t i = 0; i < w->n; i++) {
        uint64_t seq = w->first + i;
        size_t len = make_rec(seq, buf, rec_len(seq));
        wc_clpos pos;

        if (wc_commitlog_append(w->cl, buf, len, &pos) != WC_OK ||
            wc_commitlog_sync_to(w->cl, pos) != WC_OK) {
            w->failed = 1;
            return NULL;
        }
        w->acked = i + 1;
    }
    return NULL;
}

/* The real file system, its sync counting the syncs run off the thread that opened the log. */
static wc_fs syncer_fs;
static pthread_t syncer_owner;
static atomic_int syncs_on_owner, syncs_elsewhere;

static wc_status syncer_sync(wc_file *f)
{
    atomic_fetch_add(pthread_equal(pthread_self(), syncer_owner) ? &syncs_on_owner
                                                                 : &syncs_elsewhere,
                     1);
    return wc_fs_posix()->sync(f);
}

/*
 * A waiter that needs its record durable fsyncs on its own thread, with no
 * hand-off to a sync thread (two thread wake-ups per commit): sync_to in
 * batch mode, sync_all in periodic mode (whose own period never ends here).
 */
static void test_sync_on_waiting_thread(void **state)
{
    wc_sync_mode modes[] = {WC_SYNC_BATCH, WC_SYNC_PERIODIC};
    uint8_t buf[256];

    syncer_fs = *wc_fs_posix();
    syncer_fs.sync = syncer_sync;
    syncer_owner = pthread_self();
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        wc_commitlog_options o = opts_for(modes[m], 1 << 20, NULL);
        wc_commitlog *cl;
        wc_commitlog_stats s0, s1;
        wc_clpos p;
        size_t len;

        o.fs = &syncer_fs;
        o.period_ms = 600000;
        assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
        wc_commitlog_get_stats(cl, &s0);
        atomic_store(&syncs_on_owner, 0);
        atomic_store(&syncs_elsewhere, 0);
        for (uint64_t i = 0; i < 20; i++) {
            len = make_rec(m * 100 + i, buf, rec_len(i));
            assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
            if (modes[m] == WC_SYNC_BATCH)
                assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK);
            else
                assert_int_equal(wc_commitlog_sync_all(cl), WC_OK);
        }
        wc_commitlog_get_stats(cl, &s1);
        assert_int_equal(s1.syncs - s0.syncs, 20);
        assert_int_equal(atomic_load(&syncs_on_owner), 20);
        assert_int_equal(atomic_load(&syncs_elsewhere), 0);
        wc_commitlog_close(cl);
    }
}

static void test_group_commit(void **state)
{
    enum { THREADS = 8, PER = 150 };
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 16384, NULL);
    wc_commitlog *cl;
    pthread_t th[THREADS];
    writer_arg w[THREADS];
    wc_commitlog_stats s;
    wc_faultfs_counts fc;
    collector c = {0};
    uint8_t *seen;

    o.fs = wc_faultfs_fs(ff);
    wc_faultfs_sync_delay(ff, 500); /* a disk where fsync takes 0.5 ms */
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    for (int t = 0; t < THREADS; t++) {
        w[t] = (writer_arg){cl, (uint64_t)t * 100000, PER, 0, 0};
        assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_false(w[t].failed);
    }
    wc_commitlog_get_stats(cl, &s);
    wc_faultfs_get_counts(ff, &fc);
    print_message("group commit: %d appends, %llu log fsyncs, %llu fs syncs\n", THREADS * PER,
                  (unsigned long long)s.syncs, (unsigned long long)fc.syncs);
    assert_int_equal(s.records, THREADS * PER);
    assert_true(s.syncs < (uint64_t)THREADS * PER / 2);
    assert_true(fc.syncs < (uint64_t)THREADS * PER / 2);
    wc_commitlog_close(cl);
    wc_faultfs_free(ff);
    o.fs = NULL;

    /* every record is there exactly once */
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, THREADS * PER);
    seen = calloc(THREADS * PER, 1);
    for (size_t i = 0; i < c.n; i++) {
        uint64_t seq;

        assert_true(rec_ok(c.recs[i].data, c.recs[i].len, &seq));
        assert_true(seq % 100000 < PER);
        assert_false(seen[seq / 100000 * PER + seq % 100000]);
        seen[seq / 100000 * PER + seq % 100000] = 1;
    }
    free(seen);
    wc_commitlog_close(cl);
    collector_free(&c);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_periodic_mode(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_PERIODIC, 4096, NULL);
    wc_commitlog *cl;
    wc_commitlog_stats s;
    collector c = {0};
    uint8_t buf[64];
    wc_clpos p;
    size_t len;
    double t0;

    o.period_ms = 5;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    wc_commitlog_get_stats(cl, &s);
    uint64_t syncs0 = s.syncs;
    for (uint64_t i = 0; i < 10; i++) {
        len = make_rec(i, buf, rec_len(i) % 64 + 8);
        assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
        t0 = now_ms();
        assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK); /* returns at once */
        assert_true(now_ms() - t0 < 50); /* no fsync wait (generous for loaded machines) */
    }
    /* the background thread syncs within a few periods */
    for (int k = 0; k < 200; k++) {
        wc_commitlog_get_stats(cl, &s);
        if (s.syncs > syncs0)
            break;
        usleep(1000);
    }
    assert_true(s.syncs > syncs0);
    wc_commitlog_close(cl);

    /* a long period: close stops the thread at once */
    o.period_ms = 60000;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 10);
    append_n(cl, 10, 3, NULL);
    t0 = now_ms();
    wc_commitlog_close(cl);
    assert_true(now_ms() - t0 < 1000);
    collector_free(&c);
    /* close's final fsync made them durable */
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 13);
    wc_commitlog_close(cl);
    collector_free(&c);
}

/*
 * Batch mode under a simulated machine crash: writers acknowledge only after
 * sync_to; after the crash every acknowledged record must be replayed.
 */
static void test_batch_crash_keeps_acked(void **state)
{
    enum { THREADS = 4, PER = 100000 };

    for (int round = 0; round < 5; round++) {
        wc_faultfs *ff = wc_faultfs_new(NULL);
        wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 2048, NULL);
        wc_commitlog *cl;
        pthread_t th[THREADS];
        writer_arg w[THREADS];
        collector c = {0};
        size_t *have;

        o.fs = wc_faultfs_fs(ff);
        assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
        for (int t = 0; t < THREADS; t++) {
            w[t] = (writer_arg){cl, (uint64_t)(round * THREADS + t) * 1000000, PER, 0, 0};
            assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
        }
        usleep(3000 + 4000 * (useconds_t)round);
        wc_faultfs_crash(ff);
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            assert_true(w[t].failed);
        }
        wc_commitlog_close(cl);
        wc_faultfs_reset(ff);

        assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
        have = calloc(THREADS, sizeof(*have));
        for (size_t i = 0; i < c.n; i++) {
            uint64_t seq;

            assert_true(rec_ok(c.recs[i].data, c.recs[i].len, &seq));
            int t = (int)(seq / 1000000 - (uint64_t)round * THREADS);
            assert_true(t >= 0 && t < THREADS);
            /* per writer, records appear in order and without gaps */
            assert_int_equal(seq % 1000000, have[t]);
            have[t]++;
        }
        for (int t = 0; t < THREADS; t++)
            assert_true(have[t] >= w[t].acked);
        free(have);
        wc_commitlog_close(cl);
        collector_free(&c);
        wc_faultfs_free(ff);
        teardown(state);
        setup(state);
    }
}

/*
 * Periodic mode under a simulated crash: acknowledged records may be lost,
 * but only those acknowledged within the documented window before the crash
 * (period_ms plus the write in flight; we allow 2 * period + 50 ms).
 */
static void test_periodic_crash_window(void **state)
{
    const uint32_t period = 20;

    for (int round = 0; round < 3; round++) {
        wc_faultfs *ff = wc_faultfs_new(NULL);
        wc_commitlog_options o = opts_for(WC_SYNC_PERIODIC, 1 << 16, NULL);
        wc_commitlog *cl;
        collector c = {0};
        double *acked_at = calloc(100000, sizeof(double));
        uint8_t buf[512];
        size_t n = 0, lost = 0;
        double t_end, t_crash;
        uint64_t seq;

        o.fs = wc_faultfs_fs(ff);
        o.period_ms = period;
        assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
        t_end = now_ms() + 30 + 17 * round;
        while (now_ms() < t_end && n < 100000) {
            size_t len = make_rec(n, buf, rec_len(n));
            wc_clpos p;

            assert_int_equal(wc_commitlog_append(cl, buf, len, &p), WC_OK);
            assert_int_equal(wc_commitlog_sync_to(cl, p), WC_OK);
            acked_at[n++] = now_ms();
            if (n % 64 == 0)
                usleep(200);
        }
        t_crash = now_ms();
        wc_faultfs_crash(ff);
        wc_commitlog_close(cl);
        wc_faultfs_reset(ff);

        assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
        check_seq(&c, 0, c.n); /* a prefix, intact */
        for (size_t i = c.n; i < n; i++) {
            assert_true(acked_at[i] >= t_crash - (2.0 * period + 50.0));
            lost++;
        }
        print_message("periodic crash round %d: %zu acked, %zu lost\n", round, n, lost);
        (void)seq;
        wc_commitlog_close(cl);
        collector_free(&c);
        free(acked_at);
        wc_faultfs_free(ff);
        teardown(state);
        setup(state);
    }
}

/*
 * Mapped segments, process death: a child appends in periodic mode with a
 * period no test waits for (no fsync runs), checks that its segment is
 * mapped, and kills itself without closing the log.  Every record is there
 * when the parent replays: stores into a shared mapping are in the page
 * cache the moment they are made, as pwrite's bytes are.  A private
 * mapping, or appends kept in memory until a later write, lose them.
 */
static void test_mapped_appends_survive_kill(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_PERIODIC, 1 << 20, NULL);
    wc_commitlog *cl;
    collector c = {0};
    int status;
    pid_t pid;

    (void)state;
    o.period_ms = 600000;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        wc_commitlog_stats s;
        uint8_t buf[512];

        if (wc_commitlog_open(&o, NULL, NULL, &cl) != WC_OK)
            _exit(2);
        for (uint64_t i = 0; i < 3000; i++) {
            wc_clpos p;

            /* about 300 KiB: several pages of the 1 MiB segment, no roll */
            if (wc_commitlog_append(cl, buf, make_rec(i, buf, rec_len(i)), &p) != WC_OK)
                _exit(3);
        }
        wc_commitlog_get_stats(cl, &s);
        if (s.mapped_segments != 1 || s.syncs != 1) /* the new segment's own fsync */
            _exit(4);
        raise(SIGKILL);
        _exit(5);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 3000);
    wc_commitlog_close(cl);
    collector_free(&c);
}

/*
 * Mapped segments, power loss (faultfs in map mode): appends are stores into
 * the mapping, not pwrites; what no fsync covered is gone after the crash,
 * what sync_all covered is all there, across a segment roll (the old
 * segment's mapping ends; the roll's fsync covers its stores).
 */
static void test_mapped_appends_power_loss(void **state)
{
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_commitlog_options o = opts_for(WC_SYNC_PERIODIC, 16 << 10, NULL);
    wc_faultfs_counts k0, k1;
    wc_commitlog_stats s;
    wc_commitlog *cl;
    collector c = {0};

    (void)state;
    assert_non_null(ff);
    wc_faultfs_map_mode(ff, true);
    o.fs = wc_faultfs_fs(ff);
    o.period_ms = 600000;
    assert_int_equal(wc_commitlog_open(&o, NULL, NULL, &cl), WC_OK);
    wc_faultfs_get_counts(ff, &k0);
    append_n(cl, 0, 40, NULL); /* about 4 KiB: no roll */
    wc_faultfs_get_counts(ff, &k1);
    assert_int_equal(k1.writes, k0.writes); /* no pwrite: stores into the mapping */
    assert_int_equal(k1.maps, 1);
    wc_faultfs_crash(ff);
    wc_commitlog_close(cl);
    wc_faultfs_reset(ff);
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    assert_int_equal(c.n, 0); /* never synced: lost */
    collector_free(&c);

    /* 400 records (about 40 KiB) roll through three segments; sync_all, then the power goes */
    append_n(cl, 1000, 400, NULL);
    wc_commitlog_get_stats(cl, &s);
    assert_true(s.mapped_segments >= 3);
    assert_int_equal(wc_commitlog_sync_all(cl), WC_OK);
    append_n(cl, 2000, 5, NULL); /* unsynced again */
    wc_faultfs_crash(ff);
    wc_commitlog_close(cl);
    wc_faultfs_reset(ff);
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 1000, 400);
    wc_commitlog_close(cl);
    collector_free(&c);

    /* batch mode writes with pwrite (its fsync per commit would fault every page again) */
    o.mode = WC_SYNC_BATCH;
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 1000, 400);
    wc_faultfs_get_counts(ff, &k0);
    append_n(cl, 3000, 10, NULL);
    wc_faultfs_get_counts(ff, &k1);
    assert_int_equal(k1.writes, k0.writes + 10);
    wc_commitlog_get_stats(cl, &s);
    assert_int_equal(s.mapped_segments, 0);
    wc_commitlog_close(cl);
    collector_free(&c);
    wc_faultfs_free(ff);
}

/* Open must fail cleanly (no leak, nothing left open) when any allocation fails. */
static void test_open_alloc_failures(void **state)
{
    wc_commitlog_options o = opts_for(WC_SYNC_BATCH, 1024, NULL);
    wc_commitlog *cl;
    collector c = {0};
    uint64_t live0;
    int ok = 0;

    write_session(1024, 0, 60, NULL);
    live0 = wc_alloc_live_count();
    for (uint64_t n = 1; n < 200 && !ok; n++) {
        wc_status st;

        wc_alloc_fail_after(n, 1);
        st = open_collect(&o, &c, &cl);
        wc_alloc_fail_after(0, 0);
        if (st == WC_OK) {
            ok = 1;
            check_seq(&c, 0, 60);
            wc_commitlog_close(cl);
        } else {
            assert_int_equal(st, WC_NO_MEMORY);
        }
        collector_free(&c);
        assert_int_equal(wc_alloc_live_count(), live0);
    }
    assert_true(ok);
    /* and the log still opens normally afterwards */
    assert_int_equal(open_collect(&o, &c, &cl), WC_OK);
    check_seq(&c, 0, 60);
    wc_commitlog_close(cl);
    collector_free(&c);
}

/* ------------------------------------------------------------------ faultfs itself */

static void test_faultfs_crash_model(void **state)
{
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_fs *fs = wc_faultfs_fs(ff);
    char p[4200], q[4200];
    wc_file *f;
    uint8_t buf[16];
    size_t got;
    uint64_t len;

    snprintf(p, sizeof(p), "%s/x", tmpdir);
    snprintf(q, sizeof(q), "%s/y", tmpdir);
    assert_int_equal(fs->open(fs, p, WC_O_WRITE | WC_O_CREATE, &f), WC_OK);
    assert_int_equal(fs->pwrite(f, "hello", 5, 0), WC_OK);
    assert_int_equal(fs->sync(f), WC_OK);
    assert_true(wc_faultfs_synced_length(ff, p, &len));
    assert_int_equal(len, 5);
    assert_int_equal(fs->pwrite(f, "HE", 2, 0), WC_OK);      /* overwrite, unsynced */
    assert_int_equal(fs->pwrite(f, " world", 6, 5), WC_OK);  /* append, unsynced */
    assert_int_equal(fs->allocate(f, 64), WC_OK);
    assert_int_equal(fs->close(f), WC_OK);
    assert_int_equal(fs->rename(fs, p, q), WC_OK); /* tracking follows the rename */
    wc_faultfs_crash(ff);
    assert_int_equal(fs->open(fs, q, WC_O_READ, &f), WC_IO_ERROR);
    wc_faultfs_reset(ff);
    assert_int_equal(fs->open(fs, q, WC_O_READ, &f), WC_OK);
    assert_int_equal(fs->pread(f, buf, sizeof(buf), 0, &got), WC_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(fs->close(f), WC_OK);

    /* write faults: nth, short, sticky; sync faults */
    assert_int_equal(fs->open(fs, q, WC_O_WRITE, &f), WC_OK);
    wc_faultfs_fail_write(ff, 2, false, WC_NO_SPACE, 3);
    assert_int_equal(fs->pwrite(f, "abcdef", 6, 0), WC_OK);
    assert_int_equal(fs->pwrite(f, "ABCDEF", 6, 0), WC_NO_SPACE);
    assert_int_equal(fs->pwrite(f, "ghijkl", 6, 6), WC_OK);
    assert_int_equal(fs->pread(f, buf, 12, 0, &got), WC_OK);
    assert_memory_equal(buf, "ABCdefghijkl", 12);
    wc_faultfs_fail_write(ff, 1, true, WC_IO_ERROR, 0);
    assert_int_equal(fs->pwrite(f, "x", 1, 0), WC_IO_ERROR);
    assert_int_equal(fs->pwrite(f, "x", 1, 0), WC_IO_ERROR);
    wc_faultfs_fail_write(ff, 0, false, WC_OK, 0);
    assert_int_equal(fs->pwrite(f, "x", 1, 0), WC_OK);
    wc_faultfs_fail_sync(ff, 1, false);
    assert_int_equal(fs->sync(f), WC_IO_ERROR);
    assert_int_equal(fs->sync(f), WC_OK);
    assert_int_equal(fs->truncate(f, 2), WC_OK);
    wc_faultfs_crash(ff); /* undoes the unsynced truncate */
    assert_int_equal(fs->close(f), WC_IO_ERROR);
    wc_faultfs_reset(ff);
    assert_int_equal(fs->open(fs, q, WC_O_READ, &f), WC_OK);
    assert_int_equal(fs->pread(f, buf, sizeof(buf), 0, &got), WC_OK);
    assert_int_equal(got, 12);
    assert_memory_equal(buf, "xBCdefghijkl", 12);
    assert_int_equal(fs->close(f), WC_OK);
    assert_int_equal(fs->unlink(fs, q), WC_OK);
    assert_false(wc_faultfs_synced_length(ff, q, &len));
    wc_faultfs_free(ff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_sizes_and_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_callback_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creates_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_and_recycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycled_stale_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_bad_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_truncated_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_incomplete_header_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mid_corruption_followed_by_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_in_non_last_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_segment_truncated_at_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_segment_zeroed_record_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newest_segment_cut_is_not_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_segment_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_then_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failure_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failure_at_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_on_waiting_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_crash_keeps_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_crash_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapped_appends_survive_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mapped_appends_power_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faultfs_crash_model, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
