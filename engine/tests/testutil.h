/*
 * testutil.h - helpers shared by the engine unit tests: temporary
 * directories and compact ways to build mutations and read results.
 */
#ifndef WC_TESTUTIL_H
#define WC_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

/* mkdtemp under $WC_TEST_TMP or /tmp; returns a static-lifetime copy (caller frees). */
char *wc_test_tmpdir(const char *tag);
/* rm -rf path (best effort). */
void wc_test_rmrf(const char *path);

/* Clustering key of an integer: 8 bytes big-endian (memcmp order = numeric order). */
void wc_test_ck(uint64_t v, uint8_t out[8]);
uint64_t wc_test_ck_value(const uint8_t *ck, size_t len);

/* Write one row (liveness at ts) with cells col=value strings; ttl 0 = none. */
wc_status wc_test_put(wc_engine *e, uint32_t table, const char *pk, uint64_t ck, int64_t ts,
                      uint32_t ttl, uint32_t now, int ncols, const uint32_t *cols,
                      const char *const *vals);
/* Find a cell's value in a result row (NULL if absent). */
const wc_cell *wc_test_cell(const wc_result_row *r, uint32_t col);

/* Rows read from a table (pk non-NULL: from that partition) with the TTL
 * clock at now, in one page; -1 when the read fails (its status in *st if
 * st is non-NULL). */
long wc_test_count_rows(wc_engine *e, uint32_t table, const char *pk, int64_t now, wc_status *st);

/* Open an engine in dir with small defaults for tests. */
wc_status wc_test_open(const char *dir, wc_sync_mode mode, size_t memtable_bytes, wc_engine **out);
/* Same with a clock (seconds) for TTL and compaction decisions.  Both open the
 * engine without background compaction threads (compaction_threads 0). */
wc_status wc_test_open_clock(const char *dir, wc_sync_mode mode, size_t memtable_bytes,
                             int64_t (*clock)(void *), void *arg, wc_engine **out);

/* Threads of this process whose nice value is nice (getpriority of each /proc/self/task). */
int wc_test_threads_at_nice(int nice);

#endif
