/*
 * simtest.h - what every simulator test shares: the seed (WC_SIM_SEED
 * overrides the test's own) and a check that prints "seed=<n>" before
 * failing, so any failing run can be replayed exactly with
 * WC_SIM_SEED=<n>.  Header-only (the helper objects of cluster/tests are
 * linked into the engine tests too, which have no simulator).
 */
#ifndef WC_SIMTEST_H
#define WC_SIMTEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The seed a test should use: WC_SIM_SEED when set, else dflt. */
static inline uint64_t simtest_seed(uint64_t dflt)
{
    const char *s = getenv("WC_SIM_SEED");

    return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : dflt;
}

/* Print the seed of the failing run (cmocka's fail_msg follows). */
static inline void simtest_print_seed(uint64_t seed)
{
    printf("seed=%" PRIu64 " (replay with WC_SIM_SEED=%" PRIu64 ")\n", seed, seed);
    fflush(stdout);
}

/* Like assert_true, printing the seed and a message first. */
#define SIM_CHECK(seed, cond, ...)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            simtest_print_seed(seed);                                                              \
            fail_msg(__VA_ARGS__);                                                                 \
        }                                                                                          \
    } while (0)

#endif /* WC_SIMTEST_H */
