/*
 * hints_test.c - the hint store: order, delivered positions across restarts,
 * power loss (faultfs), torn and corrupt records, write errors, the window,
 * the size cap and expiry.
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
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "faultfs.h"
#include "hints.h"
#include "hints_format.h"
#include "testutil.h"

#define T0 1700000000000000ll /* wall clock of the tests, microseconds */
#define DAY_S (24u * 3600u)

typedef struct logcap {
    char text[8192];
    int warnings;
} logcap;

static void cap_log(void *arg, wc_env_log_level level, const char *msg)
{
    logcap *c = arg;

    if (level == WC_ENV_LOG_WARNING)
        c->warnings++;
    strncat(c->text, msg, sizeof(c->text) - strlen(c->text) - 2);
    strcat(c->text, "\n");
}

static void host(int n, uint8_t id[WC_HOST_ID_LEN])
{
    memset(id, n, WC_HOST_ID_LEN);
}

static wc_hints *open_store(const char *dir, wc_fs *fs, wc_hints_sync_mode mode, uint64_t seg,
                            logcap *cap)
{
    wc_hints_options o;
    wc_hints *h = NULL;

    wc_hints_options_default(&o);
    o.dir = dir;
    o.fs = fs;
    o.sync = mode;
    o.segment_bytes = seg;
    o.log = cap ? cap_log : NULL;
    o.log_arg = cap;
    assert_int_equal(wc_hints_open(&o, &h), WC_OK);
    return h;
}

static wc_status put(wc_hints *h, int target, int i)
{
    uint8_t id[WC_HOST_ID_LEN];
    char batch[64];

    host(target, id);
    snprintf(batch, sizeof(batch), "batch-%d-%06d", target, i);
    return wc_hints_append(h, id, "ks.t", 4, (const uint8_t *)batch, strlen(batch) + 1, DAY_S,
                           T0 + i, 0);
}

/* Read every live hint of target from its start; their numbers into got[]. */
static int read_all(wc_hints *h, int target, int *got, int max, wc_hint_pos *last)
{
    uint8_t id[WC_HOST_ID_LEN];
    wc_hint_pos pos;
    wc_buf b;
    wc_hint hint;
    int n = 0;

    host(target, id);
    wc_buf_init(&b);
    if (wc_hints_start(h, id, &pos) != WC_OK)
        return 0;
    while (wc_hints_read(h, id, pos, T0, &b, &hint) == WC_OK) {
        int t, i;

        assert_int_equal(hint.table_len, 4);
        assert_memory_equal(hint.table, "ks.t", 4);
        assert_int_equal(sscanf((const char *)hint.batch, "batch-%d-%d", &t, &i), 2);
        assert_int_equal(t, target);
        assert_int_equal(hint.created_us, T0 + i);
        if (n < max)
            got[n] = i;
        n++;
        pos = hint.next;
        if (last)
            *last = pos;
    }
    wc_buf_free(&b);
    return n;
}

/* Appended hints come back in order per target; delivery trims whole segments. */
static void test_order_and_delivery(void **state)
{
    char *dir = wc_test_tmpdir("hints");
    wc_hints *h = open_store(dir, NULL, WC_HINTS_SYNC_PERIODIC, 200, NULL);
    int got[100];
    uint8_t id[WC_HOST_ID_LEN];
    wc_hint_pos pos, start;
    wc_buf b;
    wc_hint hint;
    wc_hints_target_stats ts;
    wc_hints_stats s;

    (void)state;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(put(h, 1, i), WC_OK);
        assert_int_equal(put(h, 2, 100 + i), WC_OK);
    }
    assert_int_equal(read_all(h, 1, got, 100, NULL), 30);
    for (int i = 0; i < 30; i++)
        assert_int_equal(got[i], i);
    assert_int_equal(read_all(h, 2, got, 100, NULL), 30);
    host(1, id);
    wc_hints_target_stats_get(h, id, &ts);
    assert_int_equal(ts.hints, 30);
    assert_int_equal(ts.segments, 10); /* three 43-byte hints fit in 200 bytes */
    assert_int_equal(ts.oldest_us, T0);

    /* deliver the first 13 of target 1: four whole segments and one hint */
    wc_buf_init(&b);
    assert_int_equal(wc_hints_start(h, id, &pos), WC_OK);
    for (int i = 0; i < 13; i++) {
        assert_int_equal(wc_hints_read(h, id, pos, T0, &b, &hint), WC_OK);
        pos = hint.next;
    }
    assert_int_equal(wc_hints_mark_delivered(h, id, pos), WC_OK);
    wc_hints_target_stats_get(h, id, &ts);
    assert_int_equal(ts.hints, 17);
    assert_int_equal(ts.segments, 6);
    assert_int_equal(wc_hints_start(h, id, &pos), WC_OK);
    wc_hints_close(h);

    /* the position survives a restart: reading resumes at hint 13 */
    h = open_store(dir, NULL, WC_HINTS_SYNC_PERIODIC, 200, NULL);
    assert_int_equal(wc_hints_start(h, id, &start), WC_OK);
    assert_int_equal(wc_hint_pos_cmp(start, pos), 0);
    assert_int_equal(read_all(h, 1, got, 100, &pos), 17);
    assert_int_equal(got[0], 13);
    wc_hints_target_stats_get(h, id, &ts);
    assert_int_equal(ts.hints, 17);
    /* all delivered: the target and its files are gone */
    assert_int_equal(wc_hints_mark_delivered(h, id, pos), WC_OK);
    wc_hints_target_stats_get(h, id, &ts);
    assert_int_equal(ts.hints, 0);
    assert_int_equal(wc_hints_start(h, id, &start), WC_NOT_FOUND);
    /* a host removed from the cluster: all its hints go */
    host(2, id);
    assert_int_equal(wc_hints_delete_target(h, id), WC_OK);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.targets, 0);
    assert_int_equal(s.total_bytes, 0);
    wc_hints_close(h);
    h = open_store(dir, NULL, WC_HINTS_SYNC_PERIODIC, 200, NULL);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.targets, 0);
    assert_int_equal(s.hints, 0);
    wc_hints_close(h);
    wc_buf_free(&b);
    wc_test_rmrf(dir);
    free(dir);
}

/*
 * Power loss at every operation of a run of appends (sync each) and
 * deliveries: every hint acknowledged survives, none is served twice in a
 * different order, and a delivered position once made durable holds.
 */
static void test_power_loss_sweep(void **state)
{
    (void)state;
    for (uint64_t k = 1;; k++) {
        char *root = wc_test_tmpdir("hints-pl");
        char dir[4096], stash[4096];
        wc_faultfs *ff = wc_faultfs_new(NULL);
        wc_hints *h;
        int acked = 0, got[200], n;
        bool fired;
        uint8_t id[WC_HOST_ID_LEN];
        wc_hint_pos pos;
        int delivered_upto = 0; /* hints [0, delivered_upto) may have been marked delivered */
        bool mark_durable = false;

        snprintf(dir, sizeof(dir), "%s/hints", root);
        snprintf(stash, sizeof(stash), "%s/stash", root);
        assert_int_equal(mkdir(stash, 0700), 0);
        wc_faultfs_power_loss_mode(ff, stash, true);
        wc_faultfs_crash_keeps(ff, k);
        h = open_store(dir, wc_faultfs_fs(ff), WC_HINTS_SYNC_EACH, 160, NULL);
        host(7, id);
        wc_faultfs_trigger(ff, WC_FF_ANY, NULL, k, k % 2 ? WC_FF_CRASH_BEFORE : WC_FF_CRASH_AFTER,
                           WC_OK, false);
        for (int i = 0; i < 20 && !wc_faultfs_triggered(ff); i++) {
            if (put(h, 7, i) == WC_OK && !wc_faultfs_triggered(ff))
                acked = i + 1;
            if (i == 9 && !wc_faultfs_triggered(ff)) {
                wc_buf b;
                wc_hint hint;

                int j = 0;

                wc_buf_init(&b);
                assert_int_equal(wc_hints_start(h, id, &pos), WC_OK);
                for (; j < 5 && wc_hints_read(h, id, pos, T0, &b, &hint) == WC_OK; j++)
                    pos = hint.next;
                wc_buf_free(&b);
                if (j < 5) {
                    assert_true(wc_faultfs_triggered(ff)); /* a read failed at the crash */
                    break;
                }
                delivered_upto = 5; /* mid-segment; durable, or maybe if the crash comes during the mark */
                if (wc_hints_mark_delivered(h, id, pos) == WC_OK && !wc_faultfs_triggered(ff))
                    mark_durable = true;
            }
        }
        fired = wc_faultfs_triggered(ff);
        wc_faultfs_crash(ff);
        wc_hints_close(h);
        wc_faultfs_reset(ff);
        wc_faultfs_free(ff);

        h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 160, NULL);
        n = read_all(h, 7, got, 200, NULL);
        /* everything acknowledged and not delivered is there, in order */
        if (n < acked - delivered_upto)
            fail_msg("crash at op %llu: %d hints read, %d acknowledged, %d delivered",
                     (unsigned long long)k, n, acked, delivered_upto);
        assert_true(n >= acked - delivered_upto);
        for (int j = 1; j < n && j < 200; j++)
            assert_true(got[j] == got[j - 1] + 1);
        if (n > 0) {
            assert_true(got[0] <= delivered_upto);
            assert_true(got[0] + n >= acked);
            if (mark_durable)
                assert_int_equal(got[0], delivered_upto);
        }
        /* the store goes on after the crash */
        assert_int_equal(put(h, 7, 500), WC_OK);
        wc_hints_close(h);
        wc_test_rmrf(root);
        free(root);
        if (!fired) {
            assert_true(k > 80); /* the sweep went through appends, rolls and the mark */
            break;
        }
    }
}

/*
 * Periodic mode: what wc_hints_sync covered survives a power loss.  With
 * small segments the hints roll over several of them, and a segment left
 * behind (sealed) is no longer one wc_hints_sync reaches: sealing it must
 * have synced it.
 */
static void power_loss_periodic(uint64_t seg)
{
    char *root = wc_test_tmpdir("hints-plp");
    char dir[4096];
    wc_faultfs *ff = wc_faultfs_new_power_loss(root);
    wc_hints *h;
    int got[100], n;

    assert_non_null(ff);
    snprintf(dir, sizeof(dir), "%s/hints", root);
    h = open_store(dir, wc_faultfs_fs(ff), WC_HINTS_SYNC_PERIODIC, seg, NULL);
    for (int i = 0; i < 10; i++)
        assert_int_equal(put(h, 3, i), WC_OK);
    assert_int_equal(wc_hints_sync(h), WC_OK);
    for (int i = 10; i < 15; i++)
        assert_int_equal(put(h, 3, i), WC_OK);
    wc_faultfs_crash(ff);
    wc_hints_close(h);
    wc_faultfs_reset(ff);
    wc_faultfs_free(ff);
    h = open_store(dir, NULL, WC_HINTS_SYNC_PERIODIC, seg, NULL);
    n = read_all(h, 3, got, 100, NULL);
    if (seg >= 1 << 20)
        assert_int_equal(n, 10); /* one segment: exactly what the sync covered */
    assert_true(n >= 10);        /* sealed segments were synced when sealed */
    for (int i = 0; i < n; i++)
        assert_int_equal(got[i], i);
    wc_hints_close(h);
    wc_test_rmrf(root);
    free(root);
}

static void test_power_loss_periodic(void **state)
{
    (void)state;
    power_loss_periodic(1 << 20);
}

static void test_power_loss_periodic_rolls(void **state)
{
    (void)state;
    power_loss_periodic(160);
}

static char *only_segment(const char *dir, int target, int nth)
{
    char hex[33], path[4096];
    uint8_t id[WC_HOST_ID_LEN];

    host(target, id);
    for (int i = 0; i < WC_HOST_ID_LEN; i++)
        sprintf(hex + 2 * i, "%02x", id[i]);
    snprintf(path, sizeof(path), "%s/%s-%d.hints", dir, hex, nth);
    return strdup(path);
}

static void poke(const char *path, off_t off, uint8_t xor_mask)
{
    int fd = open(path, O_RDWR);
    uint8_t c;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= xor_mask;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* A torn last record is cut off; the hints before it are served. */
static void test_torn_tail(void **state)
{
    char *dir = wc_test_tmpdir("hints-torn");
    wc_hints *h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, NULL);
    char *seg = only_segment(dir, 4, 1);
    logcap cap = {0};
    wc_hints_stats s;
    int got[10];
    off_t size;

    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(put(h, 4, i), WC_OK);
    wc_hints_close(h);
    size = file_size(seg);
    assert_int_equal(truncate(seg, size - 5), 0);
    h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, &cap);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.torn_tails, 1);
    assert_int_equal(s.lost, 0);
    assert_non_null(strstr(cap.text, "incomplete last record"));
    assert_int_equal(read_all(h, 4, got, 10, NULL), 2);
    assert_int_equal(got[1], 1);
    /* appends go on in a new segment and are read after the old ones */
    assert_int_equal(put(h, 4, 3), WC_OK);
    assert_int_equal(read_all(h, 4, got, 10, NULL), 3);
    assert_int_equal(got[2], 3);
    wc_hints_close(h);
    assert_true(file_size(seg) < size - 5);
    free(seg);
    wc_test_rmrf(dir);
    free(dir);
}

/*
 * A record damaged in the middle of a segment is not served, counted and
 * logged with the file name; the records after it are served.  Damage found
 * only while reading (after open) is treated the same way.
 */
static void test_corrupt_middle(void **state)
{
    char *dir = wc_test_tmpdir("hints-bad");
    wc_hints *h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, NULL);
    char *seg = only_segment(dir, 5, 1);
    logcap cap = {0};
    wc_hints_stats s;
    int got[10], n;
    off_t rec;

    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(put(h, 5, i), WC_OK);
    wc_hints_close(h);
    rec = (file_size(seg) - WC_HINTS_HEADER_SIZE) / 5; /* records have one size */
    poke(seg, WC_HINTS_HEADER_SIZE + rec + WC_HINTS_RECORD_HEADER_SIZE + 20, 0x40); /* hint 1 */
    poke(seg, WC_HINTS_HEADER_SIZE + 3 * rec + 1, 0x01); /* hint 3's length field */
    h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, &cap);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.lost, 2);
    assert_int_equal(cap.warnings, 2);
    assert_non_null(strstr(cap.text, seg));
    assert_non_null(strstr(cap.text, "damaged record"));
    n = read_all(h, 5, got, 10, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 4);

    /* damage that appears after open: reading reports it, never serves it */
    poke(seg, WC_HINTS_HEADER_SIZE + 2 * rec + WC_HINTS_RECORD_HEADER_SIZE + 20, 0x40);
    n = read_all(h, 5, got, 10, NULL);
    assert_int_equal(n, 1);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.lost, 3);
    assert_non_null(strstr(cap.text, "fails its checksum"));
    wc_hints_close(h);
    free(seg);
    wc_test_rmrf(dir);
    free(dir);
}

/* A segment with a bad header is reported by name and never read. */
static void test_damaged_header(void **state)
{
    char *dir = wc_test_tmpdir("hints-hdr");
    wc_hints *h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, NULL);
    char *seg = only_segment(dir, 6, 1);
    logcap cap = {0};
    wc_hints_stats s;
    int got[10];

    (void)state;
    assert_int_equal(put(h, 6, 0), WC_OK);
    assert_int_equal(put(h, 8, 1), WC_OK);
    wc_hints_close(h);
    poke(seg, 10, 0xff); /* inside the host id: the header checksum fails */
    h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, &cap);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.damaged_files, 1);
    assert_non_null(strstr(cap.text, seg));
    assert_non_null(strstr(cap.text, "header checksum mismatch"));
    assert_int_equal(read_all(h, 6, got, 10, NULL), 0);
    assert_int_equal(read_all(h, 8, got, 10, NULL), 1);
    wc_hints_close(h);
    free(seg);
    wc_test_rmrf(dir);
    free(dir);
}

/* ENOSPC and EIO on append return the status; the store stays usable. */
static void test_write_errors(void **state)
{
    char *dir = wc_test_tmpdir("hints-eio");
    wc_faultfs *ff = wc_faultfs_new(NULL);
    wc_hints *h = open_store(dir, wc_faultfs_fs(ff), WC_HINTS_SYNC_EACH, 1 << 20, NULL);
    int got[20];
    wc_hints_stats s;

    (void)state;
    assert_int_equal(put(h, 9, 0), WC_OK);
    wc_faultfs_fail_write(ff, 1, false, WC_NO_SPACE, 7); /* short write, then ENOSPC */
    assert_int_equal(put(h, 9, 1), WC_NO_SPACE);
    assert_int_equal(put(h, 9, 2), WC_OK);
    wc_faultfs_fail_sync(ff, 1, false);
    assert_int_equal(put(h, 9, 3), WC_IO_ERROR);
    assert_int_equal(put(h, 9, 4), WC_OK);
    wc_faultfs_fail_write(ff, 1, true, WC_IO_ERROR, 0);
    assert_int_equal(put(h, 9, 5), WC_IO_ERROR);
    assert_int_equal(put(h, 9, 6), WC_IO_ERROR);
    wc_faultfs_reset(ff);
    assert_int_equal(put(h, 9, 7), WC_OK);
    assert_int_equal(read_all(h, 9, got, 20, NULL), 4);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.appended, 4);
    wc_hints_close(h);
    wc_faultfs_free(ff);

    h = open_store(dir, NULL, WC_HINTS_SYNC_EACH, 1 << 20, NULL);
    assert_int_equal(read_all(h, 9, got, 20, NULL), 4);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 4);
    assert_int_equal(got[3], 7);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.lost + s.torn_tails + s.damaged_files, 0);
    wc_hints_close(h);
    wc_test_rmrf(dir);
    free(dir);
}

/* max_hint_window and the total size cap refuse hints with a reason. */
static void test_bounds(void **state)
{
    char *dir = wc_test_tmpdir("hints-cap");
    wc_hints_options o;
    wc_hints *h;
    uint8_t id[WC_HOST_ID_LEN];
    uint8_t batch[1000];
    wc_hints_stats s;
    wc_hint_pos pos;
    wc_buf b;
    wc_hint hint;
    int stored = 0;

    (void)state;
    wc_hints_options_default(&o);
    o.dir = dir;
    o.max_total_bytes = 10000;
    o.segment_bytes = 3000;
    o.max_hint_window_ms = 60000;
    assert_int_equal(wc_hints_open(&o, &h), WC_OK);
    host(1, id);
    memset(batch, 'x', sizeof(batch));
    /* down for 61 s with a 60 s window: not hinted */
    assert_int_equal(wc_hints_append(h, id, "t", 1, batch, 10, 100, T0, T0 - 61000000),
                     WC_UNAVAILABLE);
    assert_non_null(strstr(wc_last_error(), "max_hint_window"));
    assert_int_equal(wc_hints_append(h, id, "t", 1, batch, 10, 100, T0, T0 - 59000000), WC_OK);
    stored++;
    for (;;) {
        wc_status st = wc_hints_append(h, id, "t", 1, batch, sizeof(batch), 100, T0, 0);

        if (st != WC_OK) {
            assert_int_equal(st, WC_OVERLOADED);
            assert_non_null(strstr(wc_last_error(), "hints store full"));
            break;
        }
        stored++;
    }
    wc_hints_get_stats(h, &s);
    assert_true(s.total_bytes <= 10000);
    assert_true(s.total_bytes > 10000 - 2 * (sizeof(batch) + 64));
    assert_int_equal(s.refused_window, 1);
    assert_int_equal(s.refused_full, 1);
    assert_int_equal(s.hints, (uint64_t)stored);
    /* delivering frees room */
    wc_buf_init(&b);
    assert_int_equal(wc_hints_start(h, id, &pos), WC_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(wc_hints_read(h, id, pos, T0, &b, &hint), WC_OK);
        pos = hint.next;
    }
    assert_int_equal(wc_hints_mark_delivered(h, id, pos), WC_OK);
    assert_int_equal(wc_hints_append(h, id, "t", 1, batch, sizeof(batch), 100, T0, 0), WC_OK);
    wc_buf_free(&b);
    wc_hints_close(h);
    wc_test_rmrf(dir);
    free(dir);
}

/* Hints past their ttl are skipped and counted once; expired segments go. */
static void test_expiry(void **state)
{
    char *dir = wc_test_tmpdir("hints-ttl");
    wc_hints *h = open_store(dir, NULL, WC_HINTS_SYNC_PERIODIC, 200, NULL);
    uint8_t id[WC_HOST_ID_LEN];
    wc_hint_pos pos;
    wc_buf b;
    wc_hint hint;
    wc_hints_stats s;

    (void)state;
    host(2, id);
    for (int i = 0; i < 10; i++) /* hints 0..4 live 10 s, 5..9 a day */
        assert_int_equal(wc_hints_append(h, id, "t", 1, (const uint8_t *)"batchbatch", 10,
                                         i < 5 ? 10 : DAY_S, T0 + i, 0),
                         WC_OK);
    wc_buf_init(&b);
    assert_int_equal(wc_hints_start(h, id, &pos), WC_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(wc_hints_read(h, id, pos, T0 + 11000000, &b, &hint), WC_OK);
        assert_int_equal(hint.created_us, T0 + 5);
    }
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.expired, 5);
    assert_int_equal(wc_hints_expire(h, T0 + 11000000), WC_OK);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.expired, 5);
    assert_int_equal(s.hints, 6); /* hints 0..3 filled the first segment */
    assert_int_equal(wc_hints_expire(h, T0 + 2ll * DAY_S * 1000000), WC_OK);
    wc_hints_get_stats(h, &s);
    assert_int_equal(s.hints, 0);
    assert_int_equal(s.targets, 0);
    assert_int_equal(s.total_bytes, 0);
    wc_buf_free(&b);
    wc_hints_close(h);
    wc_test_rmrf(dir);
    free(dir);
}

/* Out of memory at every allocation: a status, never a crash, nothing leaked. */
static void test_out_of_memory(void **state)
{
    char *dir = wc_test_tmpdir("hints-oom");
    char *seg = only_segment(dir, 1, 1);
    wc_hints *h = open_store(dir, NULL, WC_HINTS_SYNC_PERIODIC, 300, NULL);
    uint64_t base;

    (void)state;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(put(h, 1, i), WC_OK);
        assert_int_equal(put(h, 2, i), WC_OK);
    }
    wc_hints_close(h);
    poke(seg, WC_HINTS_HEADER_SIZE + 60, 0x10); /* a damaged record: a gap at open */
    base = wc_alloc_live_count();
    for (uint64_t n = 1; n < 400; n++) {
        wc_hints_options o;
        wc_status st;
        int got[64];

        wc_hints_options_default(&o);
        o.dir = dir;
        o.segment_bytes = 300;
        h = NULL;
        wc_alloc_fail_after(n, false);
        st = wc_hints_open(&o, &h);
        if (st == WC_OK) {
            uint8_t id[WC_HOST_ID_LEN];
            wc_hint_pos pos;

            st = put(h, 3, 1);
            assert_true(st == WC_OK || st == WC_NO_MEMORY);
            read_all(h, 1, got, 64, NULL);
            pos = (wc_hint_pos){0, 0};
            read_all(h, 3, got, 64, &pos); /* target 3 only: the others stay for later rounds */
            host(3, id);
            st = wc_hints_mark_delivered(h, id, pos);
            assert_true(st == WC_OK || st == WC_NO_MEMORY);
            wc_hints_close(h);
        } else {
            assert_int_equal(st, WC_NO_MEMORY);
        }
        wc_alloc_fail_after(0, false);
        assert_int_equal(wc_alloc_live_count(), base);
    }
    free(seg);
    wc_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_delivery), cmocka_unit_test(test_power_loss_sweep),
        cmocka_unit_test(test_power_loss_periodic),
        cmocka_unit_test(test_power_loss_periodic_rolls), cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corrupt_middle),     cmocka_unit_test(test_damaged_header),
        cmocka_unit_test(test_write_errors),       cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_expiry),             cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests_name("hints", tests, NULL, NULL);
}
