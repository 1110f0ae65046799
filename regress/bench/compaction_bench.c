/*
 * compaction_bench.c - space and read amplification of widecol's background
 * compaction (STCS, LCS) after an overwrite-heavy workload, against RocksDB
 * (universal and leveled compaction) on the same workload, same run.
 * Part (b) of 'make bench-compaction' (regress/bench/compaction_bench.sh runs
 * it; regress/bench/README.md and docs/benchmarks.md describe it).
 *
 * Workload: P partitions ("dev-00000042") x R rows (8-byte clustering key),
 * every row written V times (versions), each version as a fresh random
 * permutation of all rows, value-size bytes per value (header naming the row
 * and its version, then letters that LZ4 compresses about 2:1), batches of
 * 100 rows.  Small memtables (--memtable-kb) force many flushes; background
 * compaction runs during the writes.  After the last version: flush, wait
 * until compaction has nothing left to do (widecol: wc_engine_compaction_wait;
 * RocksDB: compaction-pending = 0 and nothing running).
 *
 * Measured per engine/strategy:
 *   space amplification = bytes of the *.sst files in the engine's directory
 *       / live bytes, where live bytes = the *.sst bytes of a fresh directory
 *       of the same engine holding only the final version of every row, fully
 *       compacted (widecol: one SSTable after wc_engine_compact; RocksDB:
 *       rocksdb_compact_range over everything);
 *   read amplification = SSTables touched per single-row read of a random
 *       existing row (--reads of them, each checked against the final
 *       version): widecol from each page's stats.sstables_read and from
 *       wc_engine_compaction_stats' read histogram (SSTables not skipped by
 *       bounds or the bloom filter); RocksDB from the perf context's
 *       bloom_sst_hit_count per Get (SST files whose filter said "may
 *       contain": the files it reads; a Get stops at the first level that
 *       holds the key).
 *
 * Comparisons (RESULT lines; ratio = how many times better widecol is):
 *   stcs_space_amp  widecol STCS vs RocksDB universal compaction (its
 *                   size-tiered analogue), ratio = rocksdb / widecol
 *   lcs_space_amp   widecol LCS vs RocksDB leveled compaction, ratio = rocksdb / widecol
 *   lcs_read_amp    mean SSTables touched per read, widecol LCS vs RocksDB
 *                   leveled, ratio = rocksdb / widecol
 * and against the target for LCS (space amplification <= 1.2) in the text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "bench_common.h"
#include "engine.h"
#include "mutation.h"
#include "row.h"

#ifndef ROCKSDB_VERSION_STR
#define ROCKSDB_VERSION_STR "(version unknown)"
#endif

#define TABLE_ID 1
#define VALUE_COLUMN 1
#define RKEY_LEN (PK_LEN + 1 + CK_LEN)
#define BATCH 100
#define TARGET_SPACE_AMP 1.2
#define NBUCKETS WC_READ_HIST_BUCKETS

static struct {
    uint64_t partitions, rows_per_partition, versions, reads, seed;
    size_t value_size, memtable_bytes, block_bytes;
    double sstable_mb;
    uint32_t fanout;
    uint32_t wait_s;
    bool keep;
    char parent[PATH_MAX - 64];
    char root[PATH_MAX];
} cfg = {
    .partitions = 50000,
    .rows_per_partition = 20,
    .versions = 4,
    .reads = 20000,
    .seed = 42,
    .value_size = 100,
    .memtable_bytes = 1u << 20,
    .block_bytes = 4096,
    .sstable_mb = 2,
    .fanout = 10,
    .wait_s = 300,
    .parent = "/tmp",
};

static uint64_t nrows(void)
{
    return cfg.partitions * cfg.rows_per_partition;
}

/* ---------------------------------------------------------------- data */

static void make_ck(uint8_t *out, uint64_t r)
{
    uint64_t v = 1700000000000000ull + r * 1000000ull;
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* header: p (u64 LE), r (u32 LE), version (u32 LE); then letters, 2nd half repeats the 1st */
static void make_value(uint8_t *v, size_t n, uint64_t p, uint64_t r, uint64_t ver)
{
    uint8_t hdr[16];
    uint64_t s = (p << 32) ^ (r << 8) ^ ver ^ 0x5eedull;
    size_t i, body, half;

    for (i = 0; i < 8; i++)
        hdr[i] = (uint8_t)(p >> (8 * i));
    for (i = 0; i < 4; i++) {
        hdr[8 + i] = (uint8_t)(r >> (8 * i));
        hdr[12 + i] = (uint8_t)(ver >> (8 * i));
    }
    memcpy(v, hdr, n < 16 ? n : 16);
    if (n <= 16)
        return;
    body = n - 16;
    half = (body + 1) / 2;
    for (i = 0; i < half; i++) {
        if (i % 8 == 0)
            s = splitmix64(&s);
        v[16 + i] = (uint8_t)('a' + ((s >> (8 * (i % 8))) & 0xff) % 26);
    }
    for (; i < body; i++)
        v[16 + i] = v[16 + i - half];
}

static void shuffle(uint32_t *a, uint64_t n, uint64_t *seed)
{
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = splitmix64(seed) % i;
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---------------------------------------------------------------- files */

static uint64_t sst_bytes_acc;
static uint64_t sst_files_acc;

static int sst_visit(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    size_t l = strlen(path);
    (void)f;
    if (flag == FTW_F && l > 4 && strcmp(path + l - 4, ".sst") == 0) {
        sst_bytes_acc += (uint64_t)st->st_size;
        sst_files_acc++;
    }
    return 0;
}

/* Bytes and count of *.sst files under dir. */
static uint64_t dir_sst_bytes(const char *dir, uint64_t *files)
{
    sst_bytes_acc = sst_files_acc = 0;
    nftw(dir, sst_visit, 16, FTW_PHYS);
    if (files)
        *files = sst_files_acc;
    return sst_bytes_acc;
}

static void die(const char *fmt, const char *a, const char *b)
{
    printf("FAILED: ");
    printf(fmt, a, b);
    printf("\n");
    fflush(stdout);
    if (!cfg.keep && cfg.root[0])
        rm_rf(cfg.root);
    exit(1);
}

/* ---------------------------------------------------------------- results */

typedef struct run_result {
    const char *name;
    uint64_t sst_bytes, sst_files, live_bytes, peak_bytes;
    double space_amp, peak_amp;
    double read_mean;      /* SSTables touched per read (exact, per read) */
    uint32_t read_p50, read_p99; /* bucket upper bounds */
    uint64_t hist[NBUCKETS];
    double write_s, settle_s;
    uint64_t bytes_written; /* flush + compaction output, where known */
    char shape[512];        /* levels / files */
} run_result;

static int bucket_of(uint64_t n)
{
    if (n <= 4)
        return (int)n;
    if (n <= 8)
        return 5;
    if (n <= 16)
        return 6;
    return 7;
}

static const char *bucket_label[NBUCKETS] = {"0", "1", "2", "3", "4", "5-8", "9-16", "17+"};

static uint32_t hist_pct(const uint64_t *h, double pct)
{
    static const uint32_t upper[NBUCKETS] = {0, 1, 2, 3, 4, 8, 16, 17};
    uint64_t total = 0, acc = 0;
    for (int i = 0; i < NBUCKETS; i++)
        total += h[i];
    for (int i = 0; i < NBUCKETS; i++) {
        acc += h[i];
        if (total && (double)acc >= pct * (double)total)
            return upper[i];
    }
    return 0;
}

static void print_hist(const char *who, const uint64_t *h)
{
    printf("    %s SSTables touched per read:", who);
    for (int i = 0; i < NBUCKETS; i++)
        if (h[i])
            printf(" [%s]=%" PRIu64, bucket_label[i], h[i]);
    printf("\n");
}

/* ---------------------------------------------------------------- widecol */

static void wc_check(wc_status st, const char *what)
{
    if (st != WC_OK)
        die("widecol %s: %s", what, wc_last_error());
}

static wc_engine *wc_open_dir(const char *dir, const char *compaction)
{
    wc_engine_options o;
    wc_table_def d;
    wc_engine *e = NULL;

    mkdir(dir, 0755);
    wc_engine_options_default(&o);
    o.dir = dir;
    o.sync_mode = WC_SYNC_PERIODIC;
    o.memtable_bytes = cfg.memtable_bytes;
    o.block_bytes = cfg.block_bytes;
    o.compaction_threads = 1;
    o.compaction_throughput_mb_per_sec = 0;
    wc_check(wc_engine_open(&o, &e), "open");
    wc_table_def_default(&d);
    d.id = TABLE_ID;
    snprintf(d.name, sizeof(d.name), "bench.overwrites");
    snprintf(d.compaction, sizeof(d.compaction), "%s", compaction);
    wc_check(wc_engine_create_table(e, &d), "create_table");
    return e;
}

static void wc_write_rows(wc_engine *e, const uint32_t *idx, size_t n, uint64_t ver, int64_t ts0)
{
    static wc_mutation muts[BATCH];
    static wc_mutation *mutp[BATCH];
    uint8_t value[4096];
    char pk[PK_LEN];
    uint8_t ck[CK_LEN];

    for (size_t i = 0; i < n; i++) {
        uint64_t p = idx[i] / cfg.rows_per_partition, r = idx[i] % cfg.rows_per_partition;
        int64_t ts = ts0 + (int64_t)i;
        wc_rowb *rb;
        wc_cell cell;

        make_pk(pk, p);
        make_ck(ck, r);
        make_value(value, cfg.value_size, p, r, ver);
        wc_mutation_init(&muts[i], TABLE_ID, pk, PK_LEN);
        rb = wc_mutation_row_begin(&muts[i], false, ck, CK_LEN);
        wc_rowb_liveness(rb, ts, 0, 0);
        memset(&cell, 0, sizeof(cell));
        cell.column = VALUE_COLUMN;
        cell.ts = ts;
        cell.value = value;
        cell.len = cfg.value_size;
        wc_rowb_cell(rb, &cell);
        wc_mutation_row_end(&muts[i]);
        mutp[i] = &muts[i];
    }
    wc_check(wc_engine_apply(e, mutp, n), "apply");
    for (size_t i = 0; i < n; i++)
        wc_mutation_free(&muts[i]);
}

/* final version of every row, in key order, one major compaction */
static uint64_t wc_live_bytes(const char *dir)
{
    wc_engine *e = wc_open_dir(dir, "");
    uint32_t idx[BATCH];
    uint64_t n = nrows(), files;
    int64_t ts = 1;

    for (uint64_t i = 0; i < n; i += BATCH) {
        size_t k = 0;
        for (; k < BATCH && i + k < n; k++)
            idx[k] = (uint32_t)(i + k);
        wc_write_rows(e, idx, k, cfg.versions - 1, ts);
        ts += BATCH;
    }
    wc_check(wc_engine_flush(e, 0, true), "flush");
    wc_check(wc_engine_compact(e, TABLE_ID), "compact");
    wc_engine_close(e);
    uint64_t b = dir_sst_bytes(dir, &files);
    printf("    widecol live reference: %" PRIu64 " rows, final version only, after a major compaction: "
           "%" PRIu64 " bytes in %" PRIu64 " SSTable(s)\n", n, b, files);
    return b;
}

static void wc_run(const char *label, const char *dir, const char *compaction, const uint32_t *perm_src,
                   uint64_t live, run_result *res)
{
    wc_engine *e = wc_open_dir(dir, compaction);
    uint64_t n = nrows(), seed = cfg.seed;
    uint32_t *perm = malloc(n * sizeof(uint32_t));
    int64_t ts = 1;
    double t0 = now_sec();
    wc_status st;
    wc_table_stats tst;
    wc_compaction_stats cs;

    memset(res, 0, sizeof(*res));
    res->name = label;
    res->live_bytes = live;
    printf("\n  widecol %s, compaction = %s\n", label, compaction);
    memcpy(perm, perm_src, n * sizeof(uint32_t));
    for (uint64_t v = 0; v < cfg.versions; v++) {
        shuffle(perm, n, &seed);
        for (uint64_t i = 0; i < n; i += BATCH) {
            size_t k = (size_t)(n - i < BATCH ? n - i : BATCH);
            wc_write_rows(e, perm + i, k, v, ts);
            ts += BATCH;
            if ((i / BATCH) % 100 == 0) {
                uint64_t b = dir_sst_bytes(dir, NULL);
                if (b > res->peak_bytes)
                    res->peak_bytes = b;
            }
        }
        wc_check(wc_engine_table_stats(e, TABLE_ID, &tst), "table_stats");
        printf("    version %" PRIu64 " written (%.1f s): %" PRIu64 " SSTables, %" PRIu64 " bytes\n", v + 1,
               now_sec() - t0, tst.sstable_count, tst.sstable_bytes);
    }
    wc_check(wc_engine_flush(e, 0, true), "flush");
    res->write_s = now_sec() - t0;
    t0 = now_sec();
    st = wc_engine_compaction_wait(e, TABLE_ID, cfg.wait_s * 1000);
    res->settle_s = now_sec() - t0;
    if (st == WC_TIMEOUT) {
        char msg[256];
        wc_check(wc_engine_compaction_stats(e, TABLE_ID, &cs), "compaction_stats");
        snprintf(msg, sizeof(msg), "%u s (running=%d pending=%" PRIu64 ")", cfg.wait_s, cs.running,
                 cs.pending);
        die("widecol %s: compaction_wait did not finish within %s", label, msg);
    }
    wc_check(st, "compaction_wait");
    res->sst_bytes = dir_sst_bytes(dir, &res->sst_files);
    if (res->sst_bytes > res->peak_bytes)
        res->peak_bytes = res->sst_bytes;
    wc_check(wc_engine_table_stats(e, TABLE_ID, &tst), "table_stats");
    wc_check(wc_engine_compaction_stats(e, TABLE_ID, &cs), "compaction_stats");
    res->bytes_written = cs.bytes_written;
    {
        int off = snprintf(res->shape, sizeof(res->shape), "%" PRIu64 " SSTables", tst.sstable_count);
        if (cs.strategy == WC_COMPACTION_LCS) {
            off += snprintf(res->shape + off, sizeof(res->shape) - (size_t)off, "; levels:");
            for (int l = 0; l < WC_LEVELS; l++)
                if (cs.level_sstables[l])
                    off += snprintf(res->shape + off, sizeof(res->shape) - (size_t)off,
                                    " L%d=%" PRIu64 " (%.1f MB)", l, cs.level_sstables[l],
                                    (double)cs.level_bytes[l] / 1e6);
        }
    }
    printf("    writes + final flush %.1f s; compaction_wait %.1f s; %" PRIu64 " compactions; "
           "compaction read %.1f MB, wrote %.1f MB\n",
           res->write_s, res->settle_s, cs.compactions_completed, (double)cs.bytes_read / 1e6,
           (double)cs.bytes_written / 1e6);
    printf("    after compaction: %s; table_stats sstable_bytes=%" PRIu64 ", *.sst files in the directory: "
           "%" PRIu64 " bytes in %" PRIu64 " files\n",
           res->shape, tst.sstable_bytes, res->sst_bytes, res->sst_files);
    if (tst.sstable_bytes != res->sst_bytes)
        printf("    NOTE: table_stats and the directory disagree (files not yet unlinked?)\n");

    /* reads: random existing rows, each checked against the final version */
    {
        uint64_t rseed = cfg.seed ^ 0xabcdef, total = 0, bad = 0;
        uint8_t want[4096];

        for (uint64_t i = 0; i < cfg.reads; i++) {
            uint64_t x = splitmix64(&rseed) % n;
            uint64_t p = x / cfg.rows_per_partition, r = x % cfg.rows_per_partition;
            char pk[PK_LEN];
            uint8_t ck[CK_LEN];
            wc_read_request rq;
            wc_page *pg = NULL;

            make_pk(pk, p);
            make_ck(ck, r);
            memset(&rq, 0, sizeof(rq));
            rq.table_id = TABLE_ID;
            rq.pk = (const uint8_t *)pk;
            rq.pk_len = PK_LEN;
            rq.start.key = ck;
            rq.start.len = CK_LEN;
            rq.start.inclusive = true;
            rq.end = rq.start;
            rq.limit = 1;
            wc_check(wc_engine_read(e, &rq, &pg), "read");
            make_value(want, cfg.value_size, p, r, cfg.versions - 1);
            if (pg->nrows != 1 || pg->rows[0].ncells != 1 || pg->rows[0].cells[0].len != cfg.value_size ||
                memcmp(pg->rows[0].cells[0].value, want, cfg.value_size) != 0)
                bad++;
            total += pg->stats.sstables_read;
            res->hist[bucket_of(pg->stats.sstables_read)]++;
            wc_page_free(pg);
        }
        if (bad) {
            char msg[64];
            snprintf(msg, sizeof(msg), "%" PRIu64, bad);
            die("widecol %s: %s reads did not return the final version of the row", label, msg);
        }
        res->read_mean = (double)total / (double)cfg.reads;
        res->read_p50 = hist_pct(res->hist, 0.5);
        res->read_p99 = hist_pct(res->hist, 0.99);
        wc_check(wc_engine_compaction_stats(e, TABLE_ID, &cs), "compaction_stats");
        printf("    %" PRIu64 " random single-row reads, all returned the final version; SSTables read per "
               "read (page stats): mean %.3f, p50 %u, p99 %u\n",
               cfg.reads, res->read_mean, res->read_p50, res->read_p99);
        print_hist("page stats:", res->hist);
        print_hist("wc_engine_compaction_stats read histogram:", cs.read_histogram);
        printf("    wc_engine_compaction_stats: read_p50 %u, read_p99 %u\n", cs.read_p50, cs.read_p99);
    }
    res->space_amp = (double)res->sst_bytes / (double)live;
    res->peak_amp = (double)res->peak_bytes / (double)live;
    printf("    space amplification %.3f (%" PRIu64 " / %" PRIu64 " live); peak during the run %.3f "
           "(sampled every 100 batches)\n",
           res->space_amp, res->sst_bytes, live, res->peak_amp);
    wc_engine_close(e);
    free(perm);
}

/* ---------------------------------------------------------------- RocksDB */

typedef struct rdb {
    rocksdb_t *db;
    rocksdb_options_t *o;
    rocksdb_block_based_table_options_t *t;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_writebatch_t *wb;
} rdb;

static void rk_check(char *err, const char *what)
{
    if (err) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", err);
        rocksdb_free(err);
        die("rocksdb %s: %s", what, buf);
    }
}

static uint64_t rk_prop(rdb *r, const char *name)
{
    char *v = rocksdb_property_value(r->db, name);
    uint64_t n = v ? strtoull(v, NULL, 10) : 0;
    rocksdb_free(v);
    return n;
}

static void rk_open(rdb *r, const char *dir, bool universal)
{
    char *err = NULL;

    memset(r, 0, sizeof(*r));
    r->o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(r->o, 1);
    rocksdb_options_set_write_buffer_size(r->o, cfg.memtable_bytes);
    rocksdb_options_set_compression(r->o, rocksdb_lz4_compression);
    rocksdb_options_set_target_file_size_base(r->o, (uint64_t)(cfg.sstable_mb * 1048576.0));
    rocksdb_options_set_max_bytes_for_level_base(r->o,
                                                 (uint64_t)(cfg.sstable_mb * 1048576.0) * cfg.fanout);
    rocksdb_options_set_max_bytes_for_level_multiplier(r->o, cfg.fanout);
    rocksdb_options_set_level0_file_num_compaction_trigger(r->o, 4);
    if (universal)
        rocksdb_options_set_compaction_style(r->o, rocksdb_universal_compaction);
    r->t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(r->t, cfg.block_bytes);
    rocksdb_block_based_options_set_filter_policy(r->t, rocksdb_filterpolicy_create_bloom_full(10));
    rocksdb_options_set_block_based_table_factory(r->o, r->t);
    r->db = rocksdb_open(r->o, dir, &err);
    rk_check(err, "open");
    r->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->wo, 0);
    r->ro = rocksdb_readoptions_create();
    r->wb = rocksdb_writebatch_create();
}

static void rk_close(rdb *r)
{
    rocksdb_close(r->db);
    rocksdb_writebatch_destroy(r->wb);
    rocksdb_writeoptions_destroy(r->wo);
    rocksdb_readoptions_destroy(r->ro);
    rocksdb_options_destroy(r->o);
    rocksdb_block_based_options_destroy(r->t);
}

static void rk_key(uint8_t *k, uint64_t p, uint64_t r)
{
    make_pk((char *)k, p);
    k[PK_LEN] = ':';
    make_ck(k + PK_LEN + 1, r);
}

static void rk_write_rows(rdb *r, const uint32_t *idx, size_t n, uint64_t ver)
{
    uint8_t key[RKEY_LEN], value[4096];
    char *err = NULL;

    rocksdb_writebatch_clear(r->wb);
    for (size_t i = 0; i < n; i++) {
        uint64_t p = idx[i] / cfg.rows_per_partition, rr = idx[i] % cfg.rows_per_partition;
        rk_key(key, p, rr);
        make_value(value, cfg.value_size, p, rr, ver);
        rocksdb_writebatch_put(r->wb, (const char *)key, RKEY_LEN, (const char *)value, cfg.value_size);
    }
    rocksdb_write(r->db, r->wo, r->wb, &err);
    rk_check(err, "write");
}

static void rk_flush_settle(rdb *r)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    char *err = NULL;

    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush(r->db, fo, &err);
    rocksdb_flushoptions_destroy(fo);
    rk_check(err, "flush");
    /* settled: nothing pending and nothing running; or nothing running for 3 s in a row
       (universal compaction can keep compaction-pending = 1 without scheduling anything) */
    uint32_t idle = 0;
    for (uint32_t i = 0; i < cfg.wait_s * 100; i++) {
        bool running = rk_prop(r, "rocksdb.num-running-compactions") != 0 ||
                       rk_prop(r, "rocksdb.num-running-flushes") != 0;
        if (!running && rk_prop(r, "rocksdb.compaction-pending") == 0)
            return;
        idle = running ? 0 : idle + 1;
        if (idle >= 300) {
            printf("    (RocksDB: compaction-pending = %" PRIu64 " but no compaction ran for 3 s: settled)\n",
                   rk_prop(r, "rocksdb.compaction-pending"));
            return;
        }
        usleep(10000);
    }
    die("rocksdb: %s%s", "compactions still running after the wait limit", "");
}

static void rk_shape(rdb *r, char *out, size_t len)
{
    int off = snprintf(out, len, "levels:");
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof(name), "rocksdb.num-files-at-level%d", l);
        uint64_t f = rk_prop(r, name);
        if (f)
            off += snprintf(out + off, len - (size_t)off, " L%d=%" PRIu64, l, f);
    }
}

static uint64_t rk_live_bytes(const char *dir)
{
    rdb r;
    uint32_t idx[BATCH];
    uint64_t n = nrows(), files;

    rk_open(&r, dir, false);
    for (uint64_t i = 0; i < n; i += BATCH) {
        size_t k = 0;
        for (; k < BATCH && i + k < n; k++)
            idx[k] = (uint32_t)(i + k);
        rk_write_rows(&r, idx, k, cfg.versions - 1);
    }
    rk_flush_settle(&r);
    rocksdb_compact_range(r.db, NULL, 0, NULL, 0);
    rk_flush_settle(&r);
    rk_close(&r);
    uint64_t b = dir_sst_bytes(dir, &files);
    printf("    RocksDB live reference: final version only, after rocksdb_compact_range over all keys: "
           "%" PRIu64 " bytes in %" PRIu64 " SST file(s)\n", b, files);
    return b;
}

static void rk_run(const char *label, const char *dir, bool universal, const uint32_t *perm_src,
                   uint64_t live, run_result *res)
{
    rdb r;
    uint64_t n = nrows(), seed = cfg.seed;
    uint32_t *perm = malloc(n * sizeof(uint32_t));
    double t0 = now_sec();
    rocksdb_perfcontext_t *pc;

    memset(res, 0, sizeof(*res));
    res->name = label;
    res->live_bytes = live;
    printf("\n  RocksDB %s\n", label);
    rk_open(&r, dir, universal);
    memcpy(perm, perm_src, n * sizeof(uint32_t));
    for (uint64_t v = 0; v < cfg.versions; v++) {
        shuffle(perm, n, &seed);
        for (uint64_t i = 0; i < n; i += BATCH) {
            size_t k = (size_t)(n - i < BATCH ? n - i : BATCH);
            rk_write_rows(&r, perm + i, k, v);
            if ((i / BATCH) % 100 == 0) {
                uint64_t b = dir_sst_bytes(dir, NULL);
                if (b > res->peak_bytes)
                    res->peak_bytes = b;
            }
        }
        printf("    version %" PRIu64 " written (%.1f s): %" PRIu64 " live SST bytes\n", v + 1, now_sec() - t0,
               rk_prop(&r, "rocksdb.live-sst-files-size"));
    }
    {
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        char *err = NULL;
        rocksdb_flushoptions_set_wait(fo, 1);
        rocksdb_flush(r.db, fo, &err);
        rocksdb_flushoptions_destroy(fo);
        rk_check(err, "flush");
    }
    res->write_s = now_sec() - t0;
    t0 = now_sec();
    rk_flush_settle(&r);
    res->settle_s = now_sec() - t0;
    res->sst_bytes = dir_sst_bytes(dir, &res->sst_files);
    if (res->sst_bytes > res->peak_bytes)
        res->peak_bytes = res->sst_bytes;
    rk_shape(&r, res->shape, sizeof(res->shape));
    printf("    writes + final flush %.1f s; settle (compactions) %.1f s\n", res->write_s, res->settle_s);
    printf("    after compaction: %s; live-sst-files-size=%" PRIu64 ", *.sst files in the directory: "
           "%" PRIu64 " bytes in %" PRIu64 " files\n",
           res->shape, rk_prop(&r, "rocksdb.live-sst-files-size"), res->sst_bytes, res->sst_files);

    rocksdb_set_perf_level(2); /* kEnableCount */
    pc = rocksdb_perfcontext_create();
    {
        uint64_t rseed = cfg.seed ^ 0xabcdef, total = 0, bad = 0;
        uint8_t want[4096], key[RKEY_LEN];

        for (uint64_t i = 0; i < cfg.reads; i++) {
            uint64_t x = splitmix64(&rseed) % n;
            uint64_t p = x / cfg.rows_per_partition, rr = x % cfg.rows_per_partition;
            size_t vlen = 0;
            char *err = NULL, *v;
            uint64_t hits;

            rk_key(key, p, rr);
            rocksdb_perfcontext_reset(pc);
            v = rocksdb_get(r.db, r.ro, (const char *)key, RKEY_LEN, &vlen, &err);
            rk_check(err, "get");
            hits = rocksdb_perfcontext_metric(pc, rocksdb_bloom_sst_hit_count);
            make_value(want, cfg.value_size, p, rr, cfg.versions - 1);
            if (!v || vlen != cfg.value_size || memcmp(v, want, vlen) != 0)
                bad++;
            rocksdb_free(v);
            total += hits;
            res->hist[bucket_of(hits)]++;
        }
        if (bad) {
            char msg[64];
            snprintf(msg, sizeof(msg), "%" PRIu64, bad);
            die("rocksdb %s: %s reads did not return the final version", label, msg);
        }
        res->read_mean = (double)total / (double)cfg.reads;
        res->read_p50 = hist_pct(res->hist, 0.5);
        res->read_p99 = hist_pct(res->hist, 0.99);
        printf("    %" PRIu64 " random Gets, all returned the final version; SST files touched per Get "
               "(perf context bloom_sst_hit_count): mean %.3f, p50 %u, p99 %u\n",
               cfg.reads, res->read_mean, res->read_p50, res->read_p99);
        print_hist("RocksDB", res->hist);
    }
    rocksdb_perfcontext_destroy(pc);
    rocksdb_set_perf_level(1);
    res->space_amp = (double)res->sst_bytes / (double)live;
    res->peak_amp = (double)res->peak_bytes / (double)live;
    printf("    space amplification %.3f (%" PRIu64 " / %" PRIu64 " live); peak during the run %.3f\n",
           res->space_amp, res->sst_bytes, live, res->peak_amp);
    rk_close(&r);
    free(perm);
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    printf("compaction_bench [--partitions=N] [--rows=R per partition] [--versions=V] [--value-size=B]\n"
           "                 [--memtable-kb=K] [--sstable-mb=M] [--fanout=F] [--block-size=B] [--reads=N]\n"
           "                 [--seed=S] [--wait-s=S] [--dir=PARENT] [--keep]\n"
           "defaults: 50000 x 20 rows, 4 versions, 100-byte values, 1024 KiB memtables, LCS\n"
           "sstable_size_in_mb 2 and fanout 10, 4 KiB blocks, 20000 reads, /tmp\n");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"partitions", 1, 0, 'p'}, {"rows", 1, 0, 'r'},      {"versions", 1, 0, 'v'},
        {"value-size", 1, 0, 'b'}, {"memtable-kb", 1, 0, 'm'}, {"sstable-mb", 1, 0, 's'},
        {"fanout", 1, 0, 'f'},     {"block-size", 1, 0, 'k'}, {"reads", 1, 0, 'n'},
        {"seed", 1, 0, 'S'},       {"wait-s", 1, 0, 'w'},     {"dir", 1, 0, 'd'},
        {"keep", 0, 0, 'K'},       {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
    int c;
    char dir[PATH_MAX + 64], lcs_map[256];
    run_result w_stcs, w_lcs, r_univ, r_lvl;
    uint64_t w_live, r_live, n;
    uint32_t *perm;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'p': cfg.partitions = strtoull(optarg, NULL, 10); break;
        case 'r': cfg.rows_per_partition = strtoull(optarg, NULL, 10); break;
        case 'v': cfg.versions = strtoull(optarg, NULL, 10); break;
        case 'b': cfg.value_size = strtoull(optarg, NULL, 10); break;
        case 'm': cfg.memtable_bytes = strtoull(optarg, NULL, 10) * 1024; break;
        case 's': cfg.sstable_mb = strtod(optarg, NULL); break;
        case 'f': cfg.fanout = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'k': cfg.block_bytes = strtoull(optarg, NULL, 10); break;
        case 'n': cfg.reads = strtoull(optarg, NULL, 10); break;
        case 'S': cfg.seed = strtoull(optarg, NULL, 10); break;
        case 'w': cfg.wait_s = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'd': snprintf(cfg.parent, sizeof(cfg.parent), "%s", optarg); break;
        case 'K': cfg.keep = true; break;
        default: usage(); return c == 'h' ? 0 : 2;
        }
    }
    if (cfg.value_size < 16 || cfg.value_size > 4096 || cfg.versions < 1 || nrows() == 0 ||
        nrows() > UINT32_MAX) {
        usage();
        return 2;
    }
    snprintf(cfg.root, sizeof(cfg.root), "%s/widecol-bench-compaction.XXXXXX", cfg.parent);
    if (!mkdtemp(cfg.root)) {
        perror("mkdtemp");
        return 1;
    }
    n = nrows();
    printf("== (b) space and read amplification after overwrites (engine level, RocksDB %s)\n",
           ROCKSDB_VERSION_STR);
    printf("  workload: %" PRIu64 " partitions x %" PRIu64 " rows = %" PRIu64 " rows, each written %" PRIu64
           " times (random order per version), %zu-byte values, %d rows per batch;\n"
           "  memtable / write buffer %zu KiB; %zu-byte blocks; LZ4; 10 bloom bits;\n"
           "  widecol: 1 compaction thread, unthrottled; RocksDB: defaults (2 background jobs);\n"
           "  LCS / leveled: sstable_size_in_mb = target_file_size_base = %.1f MiB, fanout = level multiplier = %u,\n"
           "  L1 target = max_bytes_for_level_base = %.1f MiB, L0 trigger 4; data in %s\n",
           cfg.partitions, cfg.rows_per_partition, n, cfg.versions, cfg.value_size, BATCH,
           cfg.memtable_bytes / 1024, cfg.block_bytes, cfg.sstable_mb, cfg.fanout,
           cfg.sstable_mb * cfg.fanout, cfg.root);

    perm = malloc(n * sizeof(uint32_t));
    for (uint64_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;

    printf("\n  live references\n");
    snprintf(dir, sizeof(dir), "%s/wc_live", cfg.root);
    w_live = wc_live_bytes(dir);
    rm_rf(dir);
    snprintf(dir, sizeof(dir), "%s/rk_live", cfg.root);
    r_live = rk_live_bytes(dir);
    rm_rf(dir);

    snprintf(dir, sizeof(dir), "%s/wc_stcs", cfg.root);
    wc_run("STCS", dir, "{'class': 'SizeTieredCompactionStrategy'}", perm, w_live, &w_stcs);
    if (!cfg.keep)
        rm_rf(dir);
    snprintf(dir, sizeof(dir), "%s/rk_universal", cfg.root);
    rk_run("universal compaction (defaults)", dir, true, perm, r_live, &r_univ);
    if (!cfg.keep)
        rm_rf(dir);
    snprintf(lcs_map, sizeof(lcs_map),
             "{'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': %g, 'fanout_size': %u}",
             cfg.sstable_mb, cfg.fanout);
    snprintf(dir, sizeof(dir), "%s/wc_lcs", cfg.root);
    wc_run("LCS", dir, lcs_map, perm, w_live, &w_lcs);
    if (!cfg.keep)
        rm_rf(dir);
    snprintf(dir, sizeof(dir), "%s/rk_leveled", cfg.root);
    rk_run("leveled compaction", dir, false, perm, r_live, &r_lvl);
    if (!cfg.keep)
        rm_rf(dir);

    printf("\n  summary (space amplification = *.sst bytes / live bytes of the same engine; read "
           "amplification = SSTables touched per single-row read)\n");
    printf("    %-28s %10s %10s %10s %9s %9s  %s\n", "", "space amp", "peak amp", "read mean", "read p50",
           "read p99", "shape");
    run_result *all[4] = {&w_stcs, &r_univ, &w_lcs, &r_lvl};
    const char *names[4] = {"widecol STCS", "RocksDB universal", "widecol LCS", "RocksDB leveled"};
    for (int i = 0; i < 4; i++)
        printf("    %-28s %10.3f %10.3f %10.3f %9u %9u  %s\n", names[i], all[i]->space_amp, all[i]->peak_amp,
               all[i]->read_mean, all[i]->read_p50, all[i]->read_p99, all[i]->shape);
    printf("    target: LCS space amplification <= %.1f: widecol LCS %.3f -> %s "
           "(target/measured = %.3f); STCS against the same %.1f, informative: %.3f (%.3f)\n",
           TARGET_SPACE_AMP, w_lcs.space_amp, w_lcs.space_amp <= TARGET_SPACE_AMP ? "met" : "NOT met",
           TARGET_SPACE_AMP / w_lcs.space_amp, TARGET_SPACE_AMP, w_stcs.space_amp,
           TARGET_SPACE_AMP / w_stcs.space_amp);
    printf("    STCS read amplification (informative): widecol mean %.3f, RocksDB universal mean %.3f\n",
           w_stcs.read_mean, r_univ.read_mean);
    printf("    baselines: stcs_space_amp = RocksDB universal compaction; lcs_space_amp and lcs_read_amp = "
           "RocksDB leveled compaction; same workload, same run\n");
    printf("\nRESULT stcs_space_amp widecol=%.3f baseline=%.3f ratio=%.3f unit=x\n", w_stcs.space_amp,
           r_univ.space_amp, r_univ.space_amp / w_stcs.space_amp);
    printf("RESULT lcs_space_amp widecol=%.3f baseline=%.3f ratio=%.3f unit=x\n", w_lcs.space_amp,
           r_lvl.space_amp, r_lvl.space_amp / w_lcs.space_amp);
    printf("RESULT lcs_read_amp widecol=%.3f baseline=%.3f ratio=%.3f unit=sstables/read\n", w_lcs.read_mean,
           r_lvl.read_mean, r_lvl.read_mean / w_lcs.read_mean);
    free(perm);
    if (!cfg.keep)
        rm_rf(cfg.root);
    else
        printf("kept %s\n", cfg.root);
    return 0;
}
