/*
 * testutil.c - shared helpers for the engine unit tests.
 */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/resource.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "keys.h"

char *wc_test_tmpdir(const char *tag)
{
    const char *base = getenv("WC_TEST_TMP");
    char buf[512];
    char *d;

    snprintf(buf, sizeof(buf), "%s/wc-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    d = mkdtemp(buf);
    return d ? strdup(d) : NULL;
}

static int wc__rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0)
        fprintf(stderr, "could not remove %s\n", path);
    return 0;
}

void wc_test_rmrf(const char *path)
{
    /* in-process: the sweep tests remove thousands of directories */
    nftw(path, wc__rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void wc_test_ck(uint64_t v, uint8_t out[8])
{
    wc_enc_u64be(out, v);
}

uint64_t wc_test_ck_value(const uint8_t *ck, size_t len)
{
    return len == 8 ? wc_dec_u64be(ck) : UINT64_MAX;
}

wc_status wc_test_put(wc_engine *e, uint32_t table, const char *pk, uint64_t ck, int64_t ts,
                      uint32_t ttl, uint32_t now, int ncols, const uint32_t *cols,
                      const char *const *vals)
{
    wc_mutation m;
    wc_mutation *mp = &m;
    wc_rowb *rb;
    uint8_t ckb[8];
    wc_status st;

    wc_test_ck(ck, ckb);
    wc_mutation_init(&m, table, pk, strlen(pk));
    rb = wc_mutation_row_begin(&m, false, ckb, 8);
    wc_rowb_liveness(rb, ts, ttl, ttl ? now + ttl : 0);
    for (int i = 0; i < ncols; i++) {
        wc_cell c = {.column = cols[i], .ts = ts};
        if (vals[i] == NULL) {
            c.flags = WC_CELLF_TOMBSTONE;
            c.ldt = now;
        } else {
            c.value = (const uint8_t *)vals[i];
            c.len = strlen(vals[i]);
            if (ttl) {
                c.flags = WC_CELLF_EXPIRING;
                c.ttl = ttl;
                c.ldt = now + ttl;
            }
        }
        wc_rowb_cell(rb, &c);
    }
    wc_mutation_row_end(&m);
    st = wc_engine_apply(e, &mp, 1);
    wc_mutation_free(&m);
    return st;
}

const wc_cell *wc_test_cell(const wc_result_row *r, uint32_t col)
{
    for (uint32_t i = 0; i < r->ncells; i++)
        if (r->cells[i].column == col)
            return &r->cells[i];
    return NULL;
}

wc_status wc_test_open(const char *dir, wc_sync_mode mode, size_t memtable_bytes, wc_engine **out)
{
    return wc_test_open_clock(dir, mode, memtable_bytes, NULL, NULL, out);
}

wc_status wc_test_open_clock(const char *dir, wc_sync_mode mode, size_t memtable_bytes,
                             int64_t (*clock)(void *), void *arg, wc_engine **out)
{
    wc_engine_options o;

    wc_engine_options_default(&o);
    o.dir = dir;
    o.sync_mode = mode;
    o.memtable_bytes = memtable_bytes;
    o.segment_bytes = 1u << 20;
    o.cache_bytes = 4u << 20;
    o.block_bytes = 1024;
    o.clock = clock;
    o.clock_arg = arg;
    o.compaction_threads = 0; /* deterministic SSTable counts; compaction tests opt in */
    return wc_engine_open(&o, out);
}

long wc_test_count_rows(wc_engine *e, uint32_t table, const char *pk, int64_t now, wc_status *st)
{
    wc_read_request q;
    wc_page *p = NULL;
    wc_status rs;
    long n;

    memset(&q, 0, sizeof(q));
    q.table_id = table;
    if (pk) {
        q.pk = (const uint8_t *)pk;
        q.pk_len = strlen(pk);
    }
    q.start.unbounded = q.end.unbounded = true;
    q.now_sec = now;
    q.page_rows = 1000000;
    rs = wc_engine_read(e, &q, &p);
    if (st)
        *st = rs;
    if (rs != WC_OK)
        return -1;
    n = (long)p->nrows;
    wc_page_free(p);
    return n;
}

int wc_test_threads_at_nice(int nice)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        int v;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        errno = 0;
        v = getpriority(PRIO_PROCESS, (id_t)atoi(de->d_name));
        if (errno == 0 && v == nice)
            n++;
    }
    closedir(d);
    return n;
}
