/*
 * bench_common.h - what the engine benchmarks (engine_bench.c,
 * compaction_bench.c) share: the generator, the IoT device key, the clock
 * and directory removal.  Header-only; each benchmark is one program.
 *
 * Copyright (c) 2026, widecol developers
 */
#ifndef WIDECOL_BENCH_COMMON_H
#define WIDECOL_BENCH_COMMON_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PK_LEN 12 /* "dev-" + 8 digits */
#define CK_LEN 8

/* splitmix64: a fast, well-mixed 64-bit generator; *s is the state. */
static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The partition key of device p: "dev-" and 8 digits (PK_LEN bytes, no NUL). */
static inline void make_pk(char *out, uint64_t p)
{
    memcpy(out, "dev-", 4);
    for (int i = PK_LEN - 1; i >= 4; i--) {
        out[i] = (char)('0' + p % 10);
        p /= 10;
    }
}

static inline double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_rm_visit(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st, (void)type, (void)f;
    return remove(path);
}

/* Remove dir and everything below it. */
static inline void rm_rf(const char *dir)
{
    nftw(dir, bench_rm_visit, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
