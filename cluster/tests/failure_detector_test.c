/*
 * failure_detector_test.c - phi accrual on synthetic arrival sequences:
 * steady, jittery, a stop (when conviction comes), a change of rate that the
 * bounded window follows, a long pause that is not learnt as normal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "failure_detector.h"

/* First time after `from` (in steps of 10 ms) at which the detector convicts. */
static uint64_t conviction_time(const wc_fd *fd, uint64_t from)
{
    uint64_t t = from;

    while (!wc_fd_convict(fd, t) && t < from + 3600 * 1000)
        t += 10;
    return t;
}

static void test_options(void **state)
{
    wc_fd fd;
    wc_fd_options o;

    (void)state;
    wc_fd_options_default(&o);
    o.window = 0;
    assert_int_equal(wc_fd_init(&fd, &o), WC_INVALID_ARGUMENT);
    wc_fd_options_default(&o);
    o.phi_convict_threshold = 0;
    assert_int_equal(wc_fd_init(&fd, &o), WC_INVALID_ARGUMENT);
    wc_fd_options_default(&o);
    o.initial_interval_ms = 0;
    assert_int_equal(wc_fd_init(&fd, &o), WC_INVALID_ARGUMENT);
    assert_int_equal(wc_fd_init(&fd, NULL), WC_OK);
    /* never heard: no suspicion at all */
    assert_true(wc_fd_phi(&fd, 1000000) == 0.0);
    assert_false(wc_fd_convict(&fd, 1000000));
    wc_fd_free(&fd);
}

static void test_steady(void **state)
{
    wc_fd fd;
    uint64_t t = 5000, conv;

    (void)state;
    assert_int_equal(wc_fd_init(&fd, NULL), WC_OK);
    for (int i = 0; i < 300; i++, t += 1000) {
        assert_false(wc_fd_convict(&fd, t));
        assert_int_equal(wc_fd_heartbeat(&fd, t), WC_OK);
    }
    t -= 1000;
    /* mean ~1 s (the initial 2 s sample is one of 301) */
    assert_true(fabs(wc_fd_mean(&fd) - 1000.0) < 5.0);
    /* one interval of silence: phi = 1 / ln 10 */
    assert_true(fabs(wc_fd_phi(&fd, t + 1000) - 1.0 / M_LN10) < 0.01);
    /* phi grows linearly with the silence */
    assert_true(fabs(wc_fd_phi(&fd, t + 10000) - 10 * wc_fd_phi(&fd, t + 1000)) < 1e-9);
    /* convicted after 8 * ln 10 = 18.4 intervals of silence */
    conv = conviction_time(&fd, t) - t;
    print_message("steady 1 s heartbeats: convicted %.2f s after the last\n", conv / 1000.0);
    assert_true(conv >= 18300 && conv <= 18600);
    wc_fd_free(&fd);
}

static void test_jitter(void **state)
{
    wc_fd fd;
    uint64_t t = 0, rng = 12345, conv;

    (void)state;
    assert_int_equal(wc_fd_init(&fd, NULL), WC_OK);
    for (int i = 0; i < 2000; i++) {
        uint64_t gap;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        /* 200 .. 2800 ms, mean 1.5 s: heavy jitter never convicts */
        gap = 200 + (rng >> 33) % 2601;
        assert_false(wc_fd_convict(&fd, t + gap - 1));
        t += gap;
        wc_fd_heartbeat(&fd, t);
    }
    assert_true(fabs(wc_fd_mean(&fd) - 1500.0) < 100.0);
    conv = conviction_time(&fd, t) - t;
    print_message("jittery heartbeats (mean %.0f ms): convicted %.2f s after the last\n",
                  wc_fd_mean(&fd), conv / 1000.0);
    assert_true(conv >= 8 * M_LN10 * 1400 && conv <= 8 * M_LN10 * 1600);
    wc_fd_free(&fd);
}

/* The window keeps only the last `window` intervals: a faster peer is soon judged by its new rate.
 */
static void test_window_follows_rate(void **state)
{
    wc_fd fd;
    wc_fd_options o;
    uint64_t t = 0, conv;

    (void)state;
    wc_fd_options_default(&o);
    o.window = 100;
    assert_int_equal(wc_fd_init(&fd, &o), WC_OK);
    for (int i = 0; i < 500; i++, t += 2000)
        wc_fd_heartbeat(&fd, t);
    t -= 2000;
    assert_true(fabs(wc_fd_mean(&fd) - 2000.0) < 1e-9);
    for (int i = 0; i < 100; i++) {
        t += 100;
        wc_fd_heartbeat(&fd, t);
    }
    assert_true(fabs(wc_fd_mean(&fd) - 100.0) < 1e-9);
    conv = conviction_time(&fd, t) - t;
    assert_true(conv >= 1830 && conv <= 1850);
    /* reset: a restarted peer starts over from the initial interval */
    wc_fd_reset(&fd);
    assert_true(wc_fd_phi(&fd, t + 100000) == 0.0);
    wc_fd_heartbeat(&fd, t);
    assert_true(fabs(wc_fd_mean(&fd) - 2000.0) < 1e-9);
    wc_fd_free(&fd);
}

/* A long pause (a partition that healed) is not learnt as a normal interval. */
static void test_pause_not_learnt(void **state)
{
    wc_fd fd;
    uint64_t t = 0;
    double mean;

    (void)state;
    assert_int_equal(wc_fd_init(&fd, NULL), WC_OK);
    for (int i = 0; i < 50; i++, t += 1000)
        wc_fd_heartbeat(&fd, t);
    mean = wc_fd_mean(&fd);
    assert_true(wc_fd_convict(&fd, t + 60000));
    t += 60000;
    wc_fd_heartbeat(&fd, t);
    assert_true(fabs(wc_fd_mean(&fd) - mean) < 1e-9);
    assert_false(wc_fd_convict(&fd, t + 1000));
    /* a clock going back is not an arrival */
    wc_fd_heartbeat(&fd, t - 5000);
    assert_true(wc_fd_phi(&fd, t) == 0.0);
    wc_fd_free(&fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),          cmocka_unit_test(test_steady),
        cmocka_unit_test(test_jitter),           cmocka_unit_test(test_window_follows_rate),
        cmocka_unit_test(test_pause_not_learnt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
