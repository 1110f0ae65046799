/*
 * paxos_file_test.c - the Paxos state file (wc_paxos_file, paxos.h) under
 * power loss (faultfs): every record whose append was acknowledged, and
 * every rewrite that returned, survives a crash at any operation; a record
 * appended lazily survives once a later append was acknowledged; what comes
 * back is a prefix of what was written, in order, and the file takes
 * appends again after the crash.  The simulated loss drops what no fsync
 * covered, so a missing fsync fails these tests where a SIGKILL would not.
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

#include "coding.h"
#include "faultfs.h"
#include "paxos.h"
#include "testutil.h"

#define NREC 24

/* Record i: "rec-<i>" padded to a length that varies with i. */
static size_t record(int i, uint8_t *out)
{
    size_t len = 8 + (size_t)(i * 37 % 200);

    memset(out, 'a' + i % 26, len);
    snprintf((char *)out, len, "rec-%d", i);
    return len;
}

/* The records of a load, as record numbers; -1 for one that is no record of ours. */
static int load_ids(wc_paxos_storage *s, int *ids, int max)
{
    wc_buf b;
    const uint8_t *q, *end;
    int n = 0;

    wc_buf_init(&b);
    assert_int_equal(s->load(s->ctx, &b), WC_OK);
    q = b.data;
    end = b.data + b.len;
    while (q < end && n < max) {
        uint32_t len;
        int id = -1;
        uint8_t want[256];

        assert_true(wc_get_u32(&q, end, &len));
        assert_true(len <= (size_t)(end - q));
        if (sscanf((const char *)q, "rec-%d", &id) != 1 || id < 0 || id >= NREC ||
            record(id, want) != len || memcmp(want, q, len) != 0)
            id = -1;
        ids[n++] = id;
        q += len;
    }
    wc_buf_free(&b);
    return n;
}

/* recs (u32 length + payload each) of records from..to-1. */
static void encode(wc_buf *b, int from, int to)
{
    for (int i = from; i < to; i++) {
        uint8_t r[256];
        size_t len = record(i, r);

        wc_buf_put_u32(b, (uint32_t)len);
        wc_buf_append(b, r, len);
    }
}

/*
 * Crash at the k-th file operation (before it, or after it for odd k), with
 * the kernel keeping a random part of what was not synced (seed; 0: none).  The
 * sequence: appends 0..9, record 10 lazily, appends 11..14, a rewrite to
 * records 5..14, appends 15..NREC-1 (the last one lazily).
 */
static bool crash_at(uint64_t k, uint64_t seed)
{
    char *root = wc_test_tmpdir("paxos-pl");
    char dir[4096];
    wc_faultfs *ff = wc_faultfs_new_power_loss(root);
    wc_paxos_file *f;
    wc_paxos_storage s;
    int first = 0;      /* the oldest record a load must return (after a rewrite: 5) */
    int acked = 0;      /* records first..acked-1 must all be there */
    bool rewriting = false; /* the rewrite was called (it may have reached the disk) */
    bool fired;
    int ids[64], n;

    assert_non_null(ff);
    snprintf(dir, sizeof(dir), "%s/paxos", root);
    wc_faultfs_crash_keeps(ff, seed);
    assert_int_equal(wc_paxos_file_open_fs(wc_faultfs_fs(ff), dir, NULL, NULL, &f), WC_OK);
    s = wc_paxos_file_storage(f);
    wc_faultfs_trigger(ff, WC_FF_ANY, NULL, k, k % 2 ? WC_FF_CRASH_AFTER : WC_FF_CRASH_BEFORE,
                       WC_OK, false);
    for (int i = 0; i < NREC && !wc_faultfs_triggered(ff); i++) {
        uint8_t r[256];
        size_t len = record(i, r);
        bool lazy = i == 10 || i == NREC - 1;
        wc_status st = lazy ? s.append_lazy(s.ctx, r, len) : s.append(s.ctx, r, len);

        if (st != WC_OK || wc_faultfs_triggered(ff))
            break;
        if (!lazy)
            acked = i + 1; /* a lazy record is covered by the next acknowledged append */
        if (i == 14) {
            wc_buf b;

            rewriting = true;
            wc_buf_init(&b);
            encode(&b, 5, 15);
            assert_int_equal(wc_buf_status(&b), WC_OK);
            st = s.rewrite(s.ctx, b.data, b.len);
            wc_buf_free(&b);
            if (st != WC_OK || wc_faultfs_triggered(ff))
                break;
            first = 5;
        }
    }
    fired = wc_faultfs_triggered(ff);
    wc_faultfs_crash(ff);
    wc_paxos_file_close(f);
    wc_faultfs_reset(ff);

    /* after the power loss: a prefix of the writes, in order, holding every acknowledged record */
    assert_int_equal(wc_paxos_file_open_fs(wc_faultfs_fs(ff), dir, NULL, NULL, &f), WC_OK);
    s = wc_paxos_file_storage(f);
    n = load_ids(&s, ids, 64);
    for (int j = 0; j < n; j++) {
        if (ids[j] < 0)
            fail_msg("crash at op %llu: record %d of the load is not one we wrote",
                     (unsigned long long)k, j);
        if (j > 0 && ids[j] != ids[j - 1] + 1)
            fail_msg("crash at op %llu: record %d follows %d", (unsigned long long)k, ids[j],
                     ids[j - 1]);
    }
    /* the load starts at record 0, or at 5 once the rewrite began (at 5 once it returned) */
    if (n > 0 && ids[0] != first && !(rewriting && ids[0] == 5))
        fail_msg("crash at op %llu: the load starts at record %d", (unsigned long long)k, ids[0]);
    if (acked > 0 && (n == 0 || ids[n - 1] < acked - 1))
        fail_msg("crash at op %llu: records up to %d acknowledged, %d..%d loaded",
                 (unsigned long long)k, acked - 1, n ? ids[0] : -1, n ? ids[n - 1] : -1);

    /* the file goes on: an append after the crash comes back after what survived */
    {
        uint8_t r[256];
        size_t len = record(NREC - 2, r);
        int again[64], m;

        assert_int_equal(s.append(s.ctx, r, len), WC_OK);
        wc_paxos_file_close(f);
        assert_int_equal(wc_paxos_file_open_fs(wc_faultfs_fs(ff), dir, NULL, NULL, &f), WC_OK);
        s = wc_paxos_file_storage(f);
        m = load_ids(&s, again, 64);
        assert_int_equal(m, n + 1);
        assert_int_equal(again[n], NREC - 2);
    }
    wc_paxos_file_close(f);
    wc_faultfs_free(ff);
    wc_test_rmrf(root);
    free(root);
    return fired;
}

static void test_power_loss_sweep(void **state)
{
    (void)state;
    for (uint64_t k = 1;; k++) {
        bool fired = false;

        /* nothing unsynced kept, and three random parts of it */
        for (uint64_t seed = 0; seed < 4; seed++)
            fired = crash_at(k, seed ? k * 7919 + seed : 0);
        if (!fired) {
            assert_true(k > 40); /* the sweep went through the appends and the rewrite */
            break;
        }
    }
}

/* Without a crash the file keeps every record across a reopen, lazy ones included. */
static void test_reopen(void **state)
{
    char *root = wc_test_tmpdir("paxos-file");
    char dir[4096];
    wc_paxos_file *f;
    wc_paxos_storage s;
    int ids[64], n;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/paxos", root);
    assert_int_equal(wc_paxos_file_open_fs(NULL, dir, NULL, NULL, &f), WC_OK);
    s = wc_paxos_file_storage(f);
    for (int i = 0; i < 6; i++) {
        uint8_t r[256];
        size_t len = record(i, r);

        assert_int_equal(i % 2 ? s.append_lazy(s.ctx, r, len) : s.append(s.ctx, r, len), WC_OK);
    }
    wc_paxos_file_close(f);
    assert_int_equal(wc_paxos_file_open(dir, NULL, NULL, &f), WC_OK);
    s = wc_paxos_file_storage(f);
    n = load_ids(&s, ids, 64);
    assert_int_equal(n, 6);
    for (int j = 0; j < n; j++)
        assert_int_equal(ids[j], j);
    wc_paxos_file_close(f);
    wc_test_rmrf(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_power_loss_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
