/*
 * engine_bench.c - the widecol storage engine against RocksDB, same data,
 * same run.
 *
 * Workload: a time series.  P partitions (devices "dev-00000042") times R
 * rows per partition; a row is (device id, 8-byte big-endian timestamp with
 * all bits inverted so that the newest row sorts first, ~100-byte value).
 * widecol stores it as partition key + clustering key + one cell; RocksDB as
 * key = device id + ':' + inverted timestamp, value = the same bytes.
 *
 * Phases (each engine in its own forked child, so that peak RSS is measured
 * per engine and per phase group with wait4()):
 *   fillseq     rows in key order (partition by partition, time ascending)
 *               into a fresh directory
 *   fillrandom  the same rows in a random order into another fresh directory;
 *               then both flush their memtables and compact everything into
 *               one sorted run (widecol: a major compaction; RocksDB: a
 *               manual CompactRange over all keys that rewrites the bottom
 *               level too), so that the reads hit the same settled shape
 *   readrandom  point reads of random existing (partition, timestamp) pairs
 *   latest10    the 10 newest rows of random partitions
 *   readrandom_2t, latest10_2t
 *               the same reads from 2 threads sharing one open engine
 *               (each thread does half of the operations, with its own
 *               random sequence); ops/s over the wall time of both
 *   scan        every row, in storage order
 * The read phases reopen the randomly filled directory in a new child.
 * Every read is verified against the value the writer generated; a missing
 * or wrong row makes the run fail (exit status 1), so the benchmark cannot
 * measure an engine that returns nothing.
 *
 * Output: a table of ops/s, memory per engine, and at the end one line per
 * phase:  RESULT <phase> widecol=<ops/s> baseline=<ops/s> ratio=<w/b> unit=ops/s
 *
 * See regress/bench/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <execinfo.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* ---------------------------------------------------------------- config */

typedef struct bench_cfg {
    uint64_t rows;
    uint64_t partitions;
    uint64_t rows_per_partition;
    size_t value_size;
    uint64_t reads;        /* readrandom operations */
    uint64_t latest_reads; /* latest10 operations */
    size_t batch;          /* rows per write batch */
    size_t page_rows;      /* widecol scan page size */
    size_t block_size;
    size_t cache_bytes;
    size_t memtable_bytes;
    int bloom_bits;
    uint64_t seed;
    int rounds;
    bool keep;
    bool run_widecol, run_rocksdb;
    char parent_dir[PATH_MAX];
    char root[PATH_MAX]; /* mkdtemp result */
} bench_cfg;

#define TABLE_ID 1
#define VALUE_COLUMN 1
#define RKEY_LEN (PK_LEN + 1 + CK_LEN)
#define LATEST_N 10
#define MAX_ROUNDS 15
#define TS_BASE 1700000000000000ull /* microseconds, Nov 2023 */
#define TS_STEP 1000000ull          /* one row per second per device */

/* ---------------------------------------------------------------- data */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Partition number of a device id, or UINT64_MAX if it is not one. */
static uint64_t parse_pk(const uint8_t *pk, size_t len)
{
    uint64_t p = 0;

    if (len != PK_LEN || memcmp(pk, "dev-", 4) != 0)
        return UINT64_MAX;
    for (size_t i = 4; i < PK_LEN; i++) {
        if (pk[i] < '0' || pk[i] > '9')
            return UINT64_MAX;
        p = p * 10 + (uint64_t)(pk[i] - '0');
    }
    return p;
}

static uint64_t row_ts(uint64_t r)
{
    return TS_BASE + r * TS_STEP;
}

/* Clustering key: the timestamp with every bit inverted (DESC order). */
static void make_ck(uint8_t *out, uint64_t r)
{
    put_be64(out, ~row_ts(r));
}

/* Row number of a clustering key, or UINT64_MAX. */
static uint64_t parse_ck(const uint8_t *ck, size_t len)
{
    uint64_t ts;

    if (len != CK_LEN)
        return UINT64_MAX;
    ts = ~get_be64(ck);
    if (ts < TS_BASE || (ts - TS_BASE) % TS_STEP != 0)
        return UINT64_MAX;
    return (ts - TS_BASE) / TS_STEP;
}

static void make_rkey(uint8_t *out, uint64_t p, uint64_t r)
{
    make_pk((char *)out, p);
    out[PK_LEN] = ':';
    make_ck(out + PK_LEN + 1, r);
}

/*
 * Value of row (p, r): 12 header bytes (p as u64 LE, r as u32 LE), then
 * pseudo-random letters, whose second half repeats the first, so that LZ4
 * finds something to compress (about 2:1 on the tail, like db_bench's data).
 */
static void make_value(uint8_t *v, size_t n, uint64_t p, uint64_t r)
{
    uint8_t hdr[12];
    uint64_t s = (p << 32) ^ r ^ 0x5eedull;
    size_t i, body, half;

    for (i = 0; i < 8; i++)
        hdr[i] = (uint8_t)(p >> (8 * i));
    for (i = 0; i < 4; i++)
        hdr[8 + i] = (uint8_t)(r >> (8 * i));
    memcpy(v, hdr, n < 12 ? n : 12);
    if (n <= 12)
        return;
    body = n - 12;
    half = (body + 1) / 2;
    for (i = 0; i < half; i++) {
        if (i % 8 == 0)
            s = splitmix64(&s);
        v[12 + i] = (uint8_t)('a' + ((s >> (8 * (i % 8))) & 0xff) % 26);
    }
    for (; i < body; i++)
        v[12 + i] = v[12 + i - half];
}

/* Cheap check used by the scans: length and header match the key. */
static bool value_header_ok(const uint8_t *v, size_t len, size_t want_len, uint64_t p, uint64_t r)
{
    uint64_t vp = 0, vr = 0;

    if (len != want_len)
        return false;
    if (len < 12)
        return true;
    for (int i = 0; i < 8; i++)
        vp |= (uint64_t)v[i] << (8 * i);
    for (int i = 0; i < 4; i++)
        vr |= (uint64_t)v[8 + i] << (8 * i);
    return vp == p && vr == (r & 0xffffffffu);
}

static long proc_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* ---------------------------------------------------------------- engines */

/*
 * One engine under test.  Every operation returns 0 on success and -1 with a
 * message in err on an engine error; read operations report verification
 * failures (missing or wrong rows) through *bad, which the caller counts.
 */
typedef struct side side;
typedef struct side_ops {
    const char *name;
    int (*open)(side *s, const char *dir, bool fresh);
    /* write rows idx[0..n) (row index = p * R + r) as one batch */
    int (*write)(side *s, const uint32_t *idx, size_t n);
    /* flush memtables, wait for background work */
    int (*flush)(side *s);
    int (*get)(side *s, uint64_t p, uint64_t r, uint64_t *bad);
    int (*latest)(side *s, uint64_t p, uint64_t *bad);
    int (*scan)(side *s, uint64_t *rows, uint64_t *bad);
    void (*describe)(side *s, char *out, size_t outlen);
    void (*close)(side *s);
} side_ops;

struct side {
    const side_ops *ops;
    const bench_cfg *cfg;
    char err[1024];
    uint8_t *value;  /* scratch: value being written */
    uint8_t *expect; /* scratch: expected value on reads */
    /* widecol */
    wc_engine *wc;
    wc_mutation *muts;
    wc_mutation **mutp;
    wc_read_stats rstats; /* summed over the point reads */
    uint64_t rstats_ops;
    /* RocksDB */
    rocksdb_t *db;
    rocksdb_options_t *ropts;
    rocksdb_block_based_table_options_t *topts;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *get_opts, *prefix_opts, *scan_opts;
    rocksdb_writebatch_t *wb;
};

static void row_of(const bench_cfg *c, uint64_t idx, uint64_t *p, uint64_t *r)
{
    *p = idx / c->rows_per_partition;
    *r = idx % c->rows_per_partition;
}

/* ------------------------------------------------ widecol */

static int wcs_fail(side *s, const char *what, wc_status st)
{
    snprintf(s->err, sizeof(s->err), "widecol %s: %s (%s)", what, wc_status_name(st),
             wc_last_error());
    return -1;
}

static int wcs_open(side *s, const char *dir, bool fresh)
{
    const bench_cfg *c = s->cfg;
    wc_engine_options o;
    wc_table_def d;
    wc_status st;

    wc_engine_options_default(&o);
    o.dir = dir;
    o.sync_mode = WC_SYNC_PERIODIC;
    o.memtable_bytes = c->memtable_bytes;
    o.block_bytes = c->block_size;
    o.cache_bytes = c->cache_bytes;
    o.bloom_bits = (uint32_t)c->bloom_bits;
    st = wc_engine_open(&o, &s->wc);
    if (st != WC_OK)
        return wcs_fail(s, "open", st);
    wc_table_def_default(&d);
    d.id = TABLE_ID;
    snprintf(d.name, sizeof(d.name), "bench.readings");
    if (fresh) {
        st = wc_engine_create_table(s->wc, &d);
        if (st != WC_OK)
            return wcs_fail(s, "create_table", st);
    } else {
        st = wc_engine_get_table(s->wc, TABLE_ID, &d);
        if (st != WC_OK)
            return wcs_fail(s, "get_table after reopen", st);
    }
    s->muts = calloc(c->batch, sizeof(*s->muts));
    s->mutp = calloc(c->batch, sizeof(*s->mutp));
    if (!s->muts || !s->mutp) {
        snprintf(s->err, sizeof(s->err), "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->batch; i++)
        s->mutp[i] = &s->muts[i];
    return 0;
}

static int wcs_write(side *s, const uint32_t *idx, size_t n)
{
    const bench_cfg *c = s->cfg;
    char pk[PK_LEN];
    uint8_t ck[CK_LEN];
    wc_status st;

    for (size_t i = 0; i < n; i++) {
        uint64_t p, r;
        wc_rowb *rb;
        wc_cell cell;
        int64_t ts;

        row_of(c, idx[i], &p, &r);
        ts = (int64_t)row_ts(r);
        make_pk(pk, p);
        make_ck(ck, r);
        make_value(s->value, c->value_size, p, r);
        wc_mutation_init(&s->muts[i], TABLE_ID, pk, PK_LEN);
        rb = wc_mutation_row_begin(&s->muts[i], false, ck, CK_LEN);
        wc_rowb_liveness(rb, ts, 0, 0);
        memset(&cell, 0, sizeof(cell));
        cell.column = VALUE_COLUMN;
        cell.ts = ts;
        cell.value = s->value;
        cell.len = c->value_size;
        wc_rowb_cell(rb, &cell);
        wc_mutation_row_end(&s->muts[i]);
    }
    st = wc_engine_apply(s->wc, s->mutp, n);
    for (size_t i = 0; i < n; i++)
        wc_mutation_free(&s->muts[i]);
    return st == WC_OK ? 0 : wcs_fail(s, "apply", st);
}

static int wcs_flush(side *s)
{
    wc_table_stats ts;
    wc_status st = wc_engine_flush(s->wc, 0, true);

    if (st != WC_OK)
        return wcs_fail(s, "flush", st);
    /* both engines compact everything into one sorted run before the reads
       (RocksDB: rks_flush) */
    st = wc_engine_compact(s->wc, TABLE_ID);
    if (st != WC_OK)
        return wcs_fail(s, "compact", st);
    st = wc_engine_table_stats(s->wc, TABLE_ID, &ts);
    if (st != WC_OK)
        return wcs_fail(s, "table_stats", st);
    if (ts.pending_flushes != 0 || ts.memtable_entries != 0) {
        snprintf(s->err, sizeof(s->err),
                 "widecol flush(wait=true) returned with %" PRIu64 " pending flushes and %" PRIu64
                 " memtable entries",
                 ts.pending_flushes, ts.memtable_entries);
        return -1;
    }
    return 0;
}

static void wcs_add_stats(side *s, const wc_read_stats *a)
{
    s->rstats.memtables_read += a->memtables_read;
    s->rstats.sstables_read += a->sstables_read;
    s->rstats.bloom_skips += a->bloom_skips;
    s->rstats.range_skips += a->range_skips;
    s->rstats.blocks_read += a->blocks_read;
    s->rstats.cache_hits += a->cache_hits;
    s->rstats_ops++;
}

/* Verify one result row against (p, r); true if it is the row we wrote. */
static bool wcs_row_ok(side *s, const wc_result_row *row, uint64_t p, uint64_t r)
{
    const bench_cfg *c = s->cfg;
    uint8_t ck[CK_LEN];

    make_ck(ck, r);
    if (row->is_static || row->ck_len != CK_LEN || memcmp(row->ck, ck, CK_LEN) != 0)
        return false;
    if (parse_pk(row->pk, row->pk_len) != p)
        return false;
    if (row->ncells != 1 || row->cells[0].column != VALUE_COLUMN ||
        row->cells[0].len != c->value_size)
        return false;
    make_value(s->expect, c->value_size, p, r);
    return memcmp(row->cells[0].value, s->expect, c->value_size) == 0;
}

static int wcs_get(side *s, uint64_t p, uint64_t r, uint64_t *bad)
{
    char pk[PK_LEN];
    uint8_t ck[CK_LEN];
    wc_read_request q;
    wc_page *pg = NULL;
    wc_status st;

    make_pk(pk, p);
    make_ck(ck, r);
    memset(&q, 0, sizeof(q));
    q.table_id = TABLE_ID;
    q.pk = (const uint8_t *)pk;
    q.pk_len = PK_LEN;
    q.start.key = ck;
    q.start.len = CK_LEN;
    q.start.inclusive = true;
    q.end = q.start;
    q.limit = 1;
    st = wc_engine_read(s->wc, &q, &pg);
    if (st != WC_OK)
        return wcs_fail(s, "read (point)", st);
    if (pg->nrows != 1 || !wcs_row_ok(s, &pg->rows[0], p, r))
        (*bad)++;
    wcs_add_stats(s, &pg->stats);
    wc_page_free(pg);
    return 0;
}

static int wcs_latest(side *s, uint64_t p, uint64_t *bad)
{
    const bench_cfg *c = s->cfg;
    uint64_t want = c->rows_per_partition < LATEST_N ? c->rows_per_partition : LATEST_N;
    char pk[PK_LEN];
    wc_read_request q;
    wc_page *pg = NULL;
    wc_status st;

    make_pk(pk, p);
    memset(&q, 0, sizeof(q));
    q.table_id = TABLE_ID;
    q.pk = (const uint8_t *)pk;
    q.pk_len = PK_LEN;
    q.start.unbounded = true;
    q.end.unbounded = true;
    q.limit = LATEST_N;
    st = wc_engine_read(s->wc, &q, &pg);
    if (st != WC_OK)
        return wcs_fail(s, "read (latest)", st);
    if (pg->nrows != want) {
        (*bad)++;
    } else {
        for (uint64_t k = 0; k < want; k++) {
            if (!wcs_row_ok(s, &pg->rows[k], p, c->rows_per_partition - 1 - k)) {
                (*bad)++;
                break;
            }
        }
    }
    wc_page_free(pg);
    return 0;
}

static int wcs_scan(side *s, uint64_t *rows, uint64_t *bad)
{
    const bench_cfg *c = s->cfg;
    wc_read_request q;
    wc_page *pg = NULL, *prev = NULL;
    wc_status st;
    uint64_t n = 0;

    memset(&q, 0, sizeof(q));
    q.table_id = TABLE_ID;
    q.start.unbounded = true;
    q.end.unbounded = true;
    q.page_rows = c->page_rows;
    for (;;) {
        st = wc_engine_read(s->wc, &q, &pg);
        if (prev)
            wc_page_free(prev);
        prev = NULL;
        if (st != WC_OK)
            return wcs_fail(s, "read (scan page)", st);
        for (size_t i = 0; i < pg->nrows; i++) {
            const wc_result_row *row = &pg->rows[i];
            uint64_t p = parse_pk(row->pk, row->pk_len);
            uint64_t r = row->ck ? parse_ck(row->ck, row->ck_len) : UINT64_MAX;
            if (p == UINT64_MAX || r == UINT64_MAX || row->ncells != 1 ||
                !value_header_ok(row->cells[0].value, row->cells[0].len, c->value_size, p, r))
                (*bad)++;
            n++;
        }
        if (!pg->more)
            break;
        if (pg->nrows == 0) {
            wc_page_free(pg);
            snprintf(s->err, sizeof(s->err),
                     "widecol scan: empty page with more=true after %" PRIu64 " rows", n);
            return -1;
        }
        q.paging_state = pg->paging_state;
        q.paging_state_len = pg->paging_state_len;
        prev = pg;
        pg = NULL;
    }
    wc_page_free(pg);
    *rows = n;
    return 0;
}

static void wcs_describe(side *s, char *out, size_t outlen)
{
    wc_table_stats ts;
    size_t off = 0;

    out[0] = '\0';
    if (wc_engine_table_stats(s->wc, TABLE_ID, &ts) == WC_OK)
        off += (size_t)snprintf(out + off, outlen - off,
                                "sstables=%" PRIu64 " sstable_bytes=%" PRIu64
                                " memtable_bytes=%" PRIu64,
                                ts.sstable_count, ts.sstable_bytes, ts.memtable_bytes);
    if (s->rstats_ops && off < outlen) {
        double n = (double)s->rstats_ops;
        snprintf(out + off, outlen - off,
                 "; per point read: sstables_read=%.2f bloom_skips=%.2f range_skips=%.2f "
                 "blocks_read=%.2f cache_hits=%.2f",
                 (double)s->rstats.sstables_read / n, (double)s->rstats.bloom_skips / n,
                 (double)s->rstats.range_skips / n, (double)s->rstats.blocks_read / n,
                 (double)s->rstats.cache_hits / n);
    }
}

static void wcs_close(side *s)
{
    if (s->wc)
        wc_engine_close(s->wc);
    s->wc = NULL;
    free(s->muts);
    free(s->mutp);
    s->muts = NULL;
    s->mutp = NULL;
}

static const side_ops widecol_ops = {
    .name = "widecol",
    .open = wcs_open,
    .write = wcs_write,
    .flush = wcs_flush,
    .get = wcs_get,
    .latest = wcs_latest,
    .scan = wcs_scan,
    .describe = wcs_describe,
    .close = wcs_close,
};

/* ------------------------------------------------ RocksDB */

static int rks_fail(side *s, const char *what, char *e)
{
    snprintf(s->err, sizeof(s->err), "rocksdb %s: %s", what, e ? e : "?");
    rocksdb_free(e);
    return -1;
}

static int rks_open(side *s, const char *dir, bool fresh)
{
    const bench_cfg *c = s->cfg;
    char *e = NULL;

    s->ropts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->ropts, fresh);
    rocksdb_options_set_write_buffer_size(s->ropts, c->memtable_bytes);
    rocksdb_options_set_compression(s->ropts, rocksdb_lz4_compression);
    /* devices are a fixed-length prefix: prefix bloom for latest10 seeks */
    rocksdb_options_set_prefix_extractor(s->ropts,
                                         rocksdb_slicetransform_create_fixed_prefix(PK_LEN + 1));
    s->topts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(s->topts, c->block_size);
    s->cache = rocksdb_cache_create_lru(c->cache_bytes);
    rocksdb_block_based_options_set_block_cache(s->topts, s->cache);
    rocksdb_block_based_options_set_filter_policy(s->topts,
                                                  rocksdb_filterpolicy_create_bloom(c->bloom_bits));
    rocksdb_block_based_options_set_whole_key_filtering(s->topts, 1);
    rocksdb_options_set_block_based_table_factory(s->ropts, s->topts);
    s->db = rocksdb_open(s->ropts, dir, &e);
    if (!s->db)
        return rks_fail(s, "open", e);
    s->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wopts, 0); /* WAL on, no fsync per write */
    s->get_opts = rocksdb_readoptions_create();
    s->prefix_opts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_prefix_same_as_start(s->prefix_opts, 1);
    s->scan_opts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(s->scan_opts, 1);
    s->wb = rocksdb_writebatch_create();
    return 0;
}

static int rks_write(side *s, const uint32_t *idx, size_t n)
{
    const bench_cfg *c = s->cfg;
    uint8_t key[RKEY_LEN];
    char *e = NULL;

    rocksdb_writebatch_clear(s->wb);
    for (size_t i = 0; i < n; i++) {
        uint64_t p, r;
        row_of(c, idx[i], &p, &r);
        make_rkey(key, p, r);
        make_value(s->value, c->value_size, p, r);
        rocksdb_writebatch_put(s->wb, (const char *)key, RKEY_LEN, (const char *)s->value,
                               c->value_size);
    }
    rocksdb_write(s->db, s->wopts, s->wb, &e);
    return e ? rks_fail(s, "write", e) : 0;
}

static uint64_t rks_prop(side *s, const char *name)
{
    char *v = rocksdb_property_value(s->db, name);
    uint64_t n = v ? strtoull(v, NULL, 10) : 0;
    rocksdb_free(v);
    return n;
}

static int rks_flush(side *s)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_compactoptions_t *co;
    char *e = NULL;

    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush(s->db, fo, &e);
    rocksdb_flushoptions_destroy(fo);
    if (e)
        return rks_fail(s, "flush", e);
    /* the same settling as widecol's major compaction: every key range compacted
       down to the bottom level, that level rewritten as well (kForce = 2) */
    co = rocksdb_compactoptions_create();
    if (!co) {
        snprintf(s->err, sizeof(s->err), "rocksdb: out of memory creating compact options");
        return -1;
    }
    rocksdb_compactoptions_set_bottommost_level_compaction(co, 2);
    rocksdb_compact_range_opt(s->db, co, NULL, 0, NULL, 0);
    rocksdb_compactoptions_destroy(co);
    /* and whatever the compaction scheduled in the background has finished */
    for (int i = 0; i < 6000; i++) {
        if (rks_prop(s, "rocksdb.compaction-pending") == 0 &&
            rks_prop(s, "rocksdb.num-running-compactions") == 0 &&
            rks_prop(s, "rocksdb.num-running-flushes") == 0)
            return 0;
        usleep(10000);
    }
    snprintf(s->err, sizeof(s->err), "rocksdb: compactions still running after 60 s");
    return -1;
}

static int rks_get(side *s, uint64_t p, uint64_t r, uint64_t *bad)
{
    const bench_cfg *c = s->cfg;
    uint8_t key[RKEY_LEN];
    size_t vlen = 0;
    char *e = NULL, *v;

    make_rkey(key, p, r);
    v = rocksdb_get(s->db, s->get_opts, (const char *)key, RKEY_LEN, &vlen, &e);
    if (e) {
        rocksdb_free(v);
        return rks_fail(s, "get", e);
    }
    make_value(s->expect, c->value_size, p, r);
    if (!v || vlen != c->value_size || memcmp(v, s->expect, vlen) != 0)
        (*bad)++;
    rocksdb_free(v);
    return 0;
}

static int rks_latest(side *s, uint64_t p, uint64_t *bad)
{
    const bench_cfg *c = s->cfg;
    uint64_t want = c->rows_per_partition < LATEST_N ? c->rows_per_partition : LATEST_N;
    uint8_t prefix[PK_LEN + 1], key[RKEY_LEN];
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->prefix_opts);
    uint64_t k = 0;
    bool wrong = false;
    char *e = NULL;

    make_pk((char *)prefix, p);
    prefix[PK_LEN] = ':';
    rocksdb_iter_seek(it, (const char *)prefix, sizeof(prefix));
    for (; k < LATEST_N && rocksdb_iter_valid(it); k++, rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *kp = rocksdb_iter_key(it, &kl);
        const char *vp = rocksdb_iter_value(it, &vl);
        uint64_t r = c->rows_per_partition - 1 - k;
        if (kl < sizeof(prefix) || memcmp(kp, prefix, sizeof(prefix)) != 0)
            break; /* left the partition */
        make_rkey(key, p, r);
        make_value(s->expect, c->value_size, p, r);
        if (kl != RKEY_LEN || memcmp(kp, key, RKEY_LEN) != 0 || vl != c->value_size ||
            memcmp(vp, s->expect, vl) != 0)
            wrong = true;
    }
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    if (e)
        return rks_fail(s, "iterator (latest)", e);
    if (wrong || k != want)
        (*bad)++;
    return 0;
}

static int rks_scan(side *s, uint64_t *rows, uint64_t *bad)
{
    const bench_cfg *c = s->cfg;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->scan_opts);
    uint64_t n = 0;
    char *e = NULL;

    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *kp = (const uint8_t *)rocksdb_iter_key(it, &kl);
        const uint8_t *vp = (const uint8_t *)rocksdb_iter_value(it, &vl);
        uint64_t p = kl == RKEY_LEN ? parse_pk(kp, PK_LEN) : UINT64_MAX;
        uint64_t r = kl == RKEY_LEN ? parse_ck(kp + PK_LEN + 1, CK_LEN) : UINT64_MAX;
        if (p == UINT64_MAX || r == UINT64_MAX || !value_header_ok(vp, vl, c->value_size, p, r))
            (*bad)++;
        n++;
    }
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    if (e)
        return rks_fail(s, "iterator (scan)", e);
    *rows = n;
    return 0;
}

static void rks_describe(side *s, char *out, size_t outlen)
{
    size_t off = 0;
    char name[64];

    off += (size_t)snprintf(out, outlen, "sst_bytes=%" PRIu64 " files/level=",
                            rks_prop(s, "rocksdb.total-sst-files-size"));
    for (int l = 0; l < 7 && off < outlen; l++) {
        snprintf(name, sizeof(name), "rocksdb.num-files-at-level%d", l);
        off += (size_t)snprintf(out + off, outlen - off, "%s%" PRIu64, l ? "," : "",
                                rks_prop(s, name));
    }
    if (off < outlen)
        snprintf(out + off, outlen - off, " block_cache_usage=%zu",
                 rocksdb_cache_get_usage(s->cache));
}

static void rks_close(side *s)
{
    if (s->db)
        rocksdb_close(s->db);
    s->db = NULL;
    if (s->wb)
        rocksdb_writebatch_destroy(s->wb);
    if (s->wopts)
        rocksdb_writeoptions_destroy(s->wopts);
    if (s->get_opts)
        rocksdb_readoptions_destroy(s->get_opts);
    if (s->prefix_opts)
        rocksdb_readoptions_destroy(s->prefix_opts);
    if (s->scan_opts)
        rocksdb_readoptions_destroy(s->scan_opts);
    if (s->ropts)
        rocksdb_options_destroy(s->ropts);
    if (s->topts)
        rocksdb_block_based_options_destroy(s->topts);
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    s->wb = NULL;
    s->wopts = NULL;
    s->get_opts = s->prefix_opts = s->scan_opts = NULL;
    s->ropts = NULL;
    s->topts = NULL;
    s->cache = NULL;
}

static const side_ops rocksdb_ops = {
    .name = "rocksdb",
    .open = rks_open,
    .write = rks_write,
    .flush = rks_flush,
    .get = rks_get,
    .latest = rks_latest,
    .scan = rks_scan,
    .describe = rks_describe,
    .close = rks_close,
};

/* ---------------------------------------------------------------- phases */

enum {
    PH_FILLSEQ,
    PH_FILLRANDOM,
    PH_READRANDOM,
    PH_LATEST10,
    PH_READRANDOM_2T,
    PH_LATEST10_2T,
    PH_SCAN,
    PH_COUNT
};
static const char *const phase_names[PH_COUNT] = {"fillseq",       "fillrandom",  "readrandom",
                                                  "latest10",      "readrandom_2t", "latest10_2t",
                                                  "scan"};

/* Reader threads of the *_2t phases. */
#define READ_THREADS 2

enum { GROUP_FILLSEQ, GROUP_FILLRANDOM, GROUP_READS, GROUP_COUNT };
static const char *const group_names[GROUP_COUNT] = {"fillseq", "fillrandom+flush",
                                                     "reads (1, 2 threads)+scan"};

typedef struct phase_result {
    bool done;
    double secs;
    uint64_t ops;
    uint64_t bad; /* verification failures */
} phase_result;

/* Written by a child into shared memory, read by the parent after wait4(). */
typedef struct child_result {
    bool finished; /* the child reached its end (even if a phase failed) */
    bool failed;
    char err[1024];
    long rss_base_kib; /* VmRSS before the engine was opened */
    long hwm_kib;      /* VmHWM at the end, as seen by the child */
    double flush_secs;
    char info[1024];
    phase_result ph[PH_COUNT];
} child_result;

static void dir_for(const bench_cfg *c, const side_ops *ops, const char *what, char *out,
                    size_t len)
{
    /* main() bounds the root's length, so this cannot truncate */
    if (snprintf(out, len, "%s/%s-%s", c->root, ops->name, what) >= (int)len)
        out[0] = '\0';
}

/* Fill rows in the order given (NULL: sequential), batch by batch. */
static int run_fill(side *s, const uint32_t *order, phase_result *pr)
{
    const bench_cfg *c = s->cfg;
    uint32_t *idx = malloc(c->batch * sizeof(*idx));
    double t0;

    if (!idx) {
        snprintf(s->err, sizeof(s->err), "out of memory");
        return -1;
    }
    t0 = now_sec();
    for (uint64_t i = 0; i < c->rows; i += c->batch) {
        size_t n = (size_t)(c->rows - i < c->batch ? c->rows - i : c->batch);
        for (size_t j = 0; j < n; j++)
            idx[j] = order ? order[i + j] : (uint32_t)(i + j);
        if (s->ops->write(s, idx, n) != 0) {
            free(idx);
            return -1;
        }
    }
    pr->secs = now_sec() - t0;
    pr->ops = c->rows;
    pr->done = true;
    free(idx);
    return 0;
}

/* One reader thread of a *_2t phase: its own copy of the side (shared
   engine handle, own scratch buffer, own error), its own random sequence. */
typedef struct reader_arg {
    side s;
    int phase; /* PH_READRANDOM_2T or PH_LATEST10_2T */
    uint64_t ops, rng, bad;
    int rc;
} reader_arg;

static void *reader_main(void *arg)
{
    reader_arg *a = arg;
    const bench_cfg *c = a->s.cfg;

    for (uint64_t i = 0; i < a->ops && a->rc == 0; i++) {
        if (a->phase == PH_READRANDOM_2T) {
            uint64_t p, r;
            row_of(c, splitmix64(&a->rng) % c->rows, &p, &r);
            a->rc = a->s.ops->get(&a->s, p, r, &a->bad);
        } else {
            a->rc = a->s.ops->latest(&a->s, splitmix64(&a->rng) % c->partitions, &a->bad);
        }
    }
    return NULL;
}

/* total operations of one phase from READ_THREADS threads on the open engine. */
static int run_threaded_reads(side *s, int phase, uint64_t total, uint64_t seed, phase_result *pr)
{
    reader_arg a[READ_THREADS];
    pthread_t th[READ_THREADS];
    int ready = 0, started = 0, rc = 0;
    double t0;

    for (; ready < READ_THREADS; ready++) {
        reader_arg *r = &a[ready];
        r->s = *s;
        r->s.err[0] = '\0';
        r->s.expect = malloc(s->cfg->value_size + 1);
        r->phase = phase;
        r->ops = total / READ_THREADS + ((uint64_t)ready < total % READ_THREADS);
        r->rng = seed ^ ((uint64_t)(ready + 1) * 0x9e3779b97f4a7c15ull);
        r->bad = 0;
        r->rc = 0;
        if (!r->s.expect) {
            snprintf(s->err, sizeof(s->err), "out of memory for a reader thread");
            rc = -1;
            goto done;
        }
    }
    t0 = now_sec();
    for (; started < READ_THREADS; started++) {
        if (pthread_create(&th[started], NULL, reader_main, &a[started]) != 0) {
            snprintf(s->err, sizeof(s->err), "could not start a reader thread");
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pr->secs = now_sec() - t0;
    for (int i = 0; i < started; i++) {
        pr->bad += a[i].bad;
        if (a[i].rc != 0 && rc == 0) {
            snprintf(s->err, sizeof(s->err), "%s", a[i].s.err);
            rc = -1;
        }
    }
    pr->ops = total;
    pr->done = rc == 0;
done:
    for (int i = 0; i < ready; i++)
        free(a[i].s.expect);
    return rc;
}

static int run_reads(side *s, child_result *res)
{
    const bench_cfg *c = s->cfg;
    phase_result *pr;
    uint64_t rng;
    double t0;

    /* same seed on both sides: both read the same rows in the same order */
    pr = &res->ph[PH_READRANDOM];
    rng = c->seed ^ 0x7265616472616e64ull;
    t0 = now_sec();
    for (uint64_t i = 0; i < c->reads; i++) {
        uint64_t p, r;
        row_of(c, splitmix64(&rng) % c->rows, &p, &r);
        if (s->ops->get(s, p, r, &pr->bad) != 0)
            return -1;
    }
    pr->secs = now_sec() - t0;
    pr->ops = c->reads;
    pr->done = true;

    pr = &res->ph[PH_LATEST10];
    rng = c->seed ^ 0x6c61746573743130ull;
    t0 = now_sec();
    for (uint64_t i = 0; i < c->latest_reads; i++) {
        if (s->ops->latest(s, splitmix64(&rng) % c->partitions, &pr->bad) != 0)
            return -1;
    }
    pr->secs = now_sec() - t0;
    pr->ops = c->latest_reads;
    pr->done = true;

    if (run_threaded_reads(s, PH_READRANDOM_2T, c->reads, c->seed ^ 0x7265616432746872ull,
                           &res->ph[PH_READRANDOM_2T]) != 0 ||
        run_threaded_reads(s, PH_LATEST10_2T, c->latest_reads, c->seed ^ 0x6c61743274687264ull,
                           &res->ph[PH_LATEST10_2T]) != 0)
        return -1;

    pr = &res->ph[PH_SCAN];
    t0 = now_sec();
    if (s->ops->scan(s, &pr->ops, &pr->bad) != 0)
        return -1;
    pr->secs = now_sec() - t0;
    if (pr->ops != c->rows) {
        /* a short scan would look fast: count every missing row as a failure */
        pr->bad += pr->ops > c->rows ? pr->ops - c->rows : c->rows - pr->ops;
    }
    pr->done = true;
    return 0;
}

/* Fisher-Yates permutation of the row indexes (same seed for both sides). */
static uint32_t *random_order(const bench_cfg *c)
{
    uint32_t *o = malloc(c->rows * sizeof(*o));
    uint64_t rng = c->seed ^ 0x66696c6c72616e64ull;

    if (!o)
        return NULL;
    for (uint64_t i = 0; i < c->rows; i++)
        o[i] = (uint32_t)i;
    for (uint64_t i = c->rows - 1; i > 0; i--) {
        uint64_t j = splitmix64(&rng) % (i + 1);
        uint32_t t = o[i];
        o[i] = o[j];
        o[j] = t;
    }
    return o;
}

static void crash_handler(int sig)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    static const char msg[] = "\n*** engine_bench child crashed; backtrace:\n";

    (void)!write(2, msg, sizeof(msg) - 1);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Body of a child: one engine, one group of phases. */
static void child_main(const bench_cfg *c, const side_ops *ops, int group, child_result *res)
{
    side s;
    char dir[PATH_MAX];
    uint32_t *order = NULL;
    int rc = -1;

    signal(SIGSEGV, crash_handler);
    signal(SIGBUS, crash_handler);
    signal(SIGABRT, crash_handler);
    signal(SIGFPE, crash_handler);
    memset(&s, 0, sizeof(s));
    s.ops = ops;
    s.cfg = c;
    s.value = malloc(c->value_size + 1);
    s.expect = malloc(c->value_size + 1);
    if (group == GROUP_FILLRANDOM)
        order = random_order(c);
    if (!s.value || !s.expect || (group == GROUP_FILLRANDOM && !order)) {
        snprintf(res->err, sizeof(res->err), "out of memory preparing the workload");
        goto done;
    }
    dir_for(c, ops, group == GROUP_FILLSEQ ? "seq" : "random", dir, sizeof(dir));
    res->rss_base_kib = proc_status_kib("VmRSS");
    if (ops->open(&s, dir, group != GROUP_READS) != 0)
        goto done;
    switch (group) {
    case GROUP_FILLSEQ:
        rc = run_fill(&s, NULL, &res->ph[PH_FILLSEQ]);
        break;
    case GROUP_FILLRANDOM: {
        double t0;
        rc = run_fill(&s, order, &res->ph[PH_FILLRANDOM]);
        if (rc == 0) {
            t0 = now_sec();
            rc = ops->flush(&s);
            res->flush_secs = now_sec() - t0;
        }
        break;
    }
    case GROUP_READS:
        rc = run_reads(&s, res);
        break;
    }
    ops->describe(&s, res->info, sizeof(res->info));
done:
    if (rc != 0) {
        res->failed = true;
        if (!res->err[0])
            snprintf(res->err, sizeof(res->err), "%s", s.err[0] ? s.err : "unknown failure");
    }
    ops->close(&s);
    free(order);
    free(s.value);
    free(s.expect);
    res->hwm_kib = proc_status_kib("VmHWM");
    res->finished = true;
}

typedef struct group_outcome {
    bool ran;
    bool ok;
    char why[1200];
    long maxrss_kib; /* ru_maxrss of the child (wait4) */
    child_result res;
} group_outcome;

static void run_group(const bench_cfg *c, const side_ops *ops, int group, group_outcome *out)
{
    child_result *shared;
    struct rusage ru;
    int status = 0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    out->ran = true;
    shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        snprintf(out->why, sizeof(out->why), "mmap: %s", strerror(errno));
        return;
    }
    memset(shared, 0, sizeof(*shared));
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        snprintf(out->why, sizeof(out->why), "fork: %s", strerror(errno));
        munmap(shared, sizeof(*shared));
        return;
    }
    if (pid == 0) {
        child_main(c, ops, group, shared);
        fflush(stdout);
        fflush(stderr);
        _exit(shared->failed ? 1 : 0);
    }
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            snprintf(out->why, sizeof(out->why), "wait4: %s", strerror(errno));
            munmap(shared, sizeof(*shared));
            return;
        }
    }
    out->maxrss_kib = ru.ru_maxrss;
    out->res = *shared;
    munmap(shared, sizeof(*shared));
    if (WIFSIGNALED(status)) {
        snprintf(out->why, sizeof(out->why), "child killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), out->res.finished ? " after finishing" : "");
        return;
    }
    if (!out->res.finished) {
        snprintf(out->why, sizeof(out->why), "child exited with status %d before finishing",
                 WEXITSTATUS(status));
        return;
    }
    if (out->res.failed) {
        snprintf(out->why, sizeof(out->why), "%s", out->res.err);
        return;
    }
    for (int p = 0; p < PH_COUNT; p++) {
        const phase_result *pr = &out->res.ph[p];
        if (pr->done && pr->bad) {
            snprintf(out->why, sizeof(out->why),
                     "%s: %" PRIu64 " of %" PRIu64 " operations returned a missing or wrong row",
                     phase_names[p], pr->bad, pr->ops);
            return;
        }
    }
    out->ok = true;
}

/* ---------------------------------------------------------------- main */

static uint64_t dir_bytes_total;
static int dir_bytes_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)path;
    (void)f;
    if (type == FTW_F)
        dir_bytes_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

static uint64_t dir_bytes(const char *dir)
{
    dir_bytes_total = 0;
    if (nftw(dir, dir_bytes_cb, 16, FTW_PHYS) != 0)
        return 0;
    return dir_bytes_total;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: engine_bench [options]\n"
               "  --rows=N          rows in total (default 1000000)\n"
               "  --partitions=N    partitions (devices); rows must be a multiple (default 10000)\n"
               "  --value-size=N    value bytes per row (default 100)\n"
               "  --reads=N         readrandom operations (default 200000)\n"
               "  --latest-reads=N  latest10 operations (default: --reads / 2)\n"
               "  --batch=N         rows per write batch (default 100)\n"
               "  --page-rows=N     widecol scan page size (default 1000)\n"
               "  --block-size=N    SSTable block size, both engines (default 4096)\n"
               "  --cache-mb=N      block cache, both engines (default 64)\n"
               "  --memtable-mb=N   memtable / write buffer, both engines (default 64)\n"
               "  --bloom-bits=N    bloom bits per key, both engines (default 10)\n"
               "  --seed=N          workload seed (default 42)\n"
               "  --rounds=N        repeat everything N times, report the median (default 3)\n"
               "  --dir=PATH        parent of the temporary data directory (default /tmp)\n"
               "  --keep            keep the data directory\n"
               "  --only=ENGINE     run only widecol or rocksdb (no result lines)\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static double median(const double *v, int n)
{
    double t[MAX_ROUNDS];

    if (n <= 0)
        return 0.0;
    memcpy(t, v, (size_t)n * sizeof(*t));
    for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2.0;
}

static const char *loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");

    snprintf(buf, len, "n/a");
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
    return buf;
}

static const char *fmt_kib(long kib, char *buf, size_t len)
{
    if (kib < 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f MiB", (double)kib / 1024.0);
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rows", required_argument, NULL, 'r'},
        {"partitions", required_argument, NULL, 'p'},
        {"value-size", required_argument, NULL, 'v'},
        {"reads", required_argument, NULL, 'R'},
        {"latest-reads", required_argument, NULL, 'L'},
        {"batch", required_argument, NULL, 'b'},
        {"page-rows", required_argument, NULL, 'g'},
        {"block-size", required_argument, NULL, 'B'},
        {"cache-mb", required_argument, NULL, 'c'},
        {"memtable-mb", required_argument, NULL, 'm'},
        {"bloom-bits", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 's'},
        {"rounds", required_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"keep", no_argument, NULL, 'k'},
        {"only", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bench_cfg cfg;
    const side_ops *sides[2] = {&widecol_ops, &rocksdb_ops};
    static group_outcome out;
    static double ops_s[2][PH_COUNT][MAX_ROUNDS];
    double med[2][PH_COUNT];
    long maxrss[2][GROUP_COUNT], base_rss[2][GROUP_COUNT];
    int rounds_done = 0;
    char lbuf[128];
    bool latest_set = false, all_ok = true;
    uint64_t v, disk[2] = {0, 0};
    int opt;
    char b1[32], b2[32], b3[32];

    memset(&cfg, 0, sizeof(cfg));
    cfg.rows = 1000000;
    cfg.partitions = 10000;
    cfg.value_size = 100;
    cfg.reads = 200000;
    cfg.batch = 100;
    cfg.page_rows = 1000;
    cfg.block_size = 4096;
    cfg.cache_bytes = 64u << 20;
    cfg.memtable_bytes = 64u << 20;
    cfg.bloom_bits = 10;
    cfg.seed = 42;
    cfg.rounds = 3;
    cfg.run_widecol = cfg.run_rocksdb = true;
    snprintf(cfg.parent_dir, sizeof(cfg.parent_dir), "/tmp");

    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (opt == 'k') {
            cfg.keep = true;
            continue;
        }
        if (opt == 'd') {
            snprintf(cfg.parent_dir, sizeof(cfg.parent_dir), "%s", optarg);
            continue;
        }
        if (opt == 'o') {
            cfg.run_widecol = strcmp(optarg, "widecol") == 0;
            cfg.run_rocksdb = strcmp(optarg, "rocksdb") == 0;
            if (!cfg.run_widecol && !cfg.run_rocksdb) {
                fprintf(stderr, "engine_bench: --only takes widecol or rocksdb\n");
                return 2;
            }
            continue;
        }
        if (opt == '?' || !parse_u64(optarg, &v)) {
            if (opt != '?')
                fprintf(stderr, "engine_bench: bad number '%s'\n", optarg);
            usage(stderr);
            return 2;
        }
        switch (opt) {
        case 'r':
            cfg.rows = v;
            break;
        case 'p':
            cfg.partitions = v;
            break;
        case 'v':
            cfg.value_size = (size_t)v;
            break;
        case 'R':
            cfg.reads = v;
            break;
        case 'L':
            cfg.latest_reads = v;
            latest_set = true;
            break;
        case 'b':
            cfg.batch = (size_t)v;
            break;
        case 'g':
            cfg.page_rows = (size_t)v;
            break;
        case 'B':
            cfg.block_size = (size_t)v;
            break;
        case 'c':
            cfg.cache_bytes = (size_t)v << 20;
            break;
        case 'm':
            cfg.memtable_bytes = (size_t)v << 20;
            break;
        case 'f':
            cfg.bloom_bits = (int)v;
            break;
        case 's':
            cfg.seed = v;
            break;
        case 'n':
            cfg.rounds = (int)(v > MAX_ROUNDS ? MAX_ROUNDS + 1 : v);
            break;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!latest_set)
        cfg.latest_reads = cfg.reads / 2;
    if (cfg.rows == 0 || cfg.partitions == 0 || cfg.rows % cfg.partitions != 0 ||
        cfg.rows > UINT32_MAX || cfg.partitions > 99999999 || cfg.batch == 0 ||
        cfg.value_size == 0 || cfg.block_size == 0 || cfg.memtable_bytes == 0 || cfg.rounds < 1 ||
        cfg.rounds > MAX_ROUNDS) {
        fprintf(stderr, "engine_bench: need rows > 0, a multiple of partitions, rows < 2^32, "
                        "partitions <= 99999999, batch/value-size/block-size/memtable > 0, "
                        "1 <= rounds <= 15\n");
        return 2;
    }
    cfg.rows_per_partition = cfg.rows / cfg.partitions;
    if (cfg.rows_per_partition > UINT32_MAX) {
        fprintf(stderr, "engine_bench: too many rows per partition\n");
        return 2;
    }

    if (strlen(cfg.parent_dir) > PATH_MAX - 256 ||
        snprintf(cfg.root, sizeof(cfg.root), "%s/widecol-bench-XXXXXX", cfg.parent_dir) >=
            (int)sizeof(cfg.root)) {
        fprintf(stderr, "engine_bench: --dir path too long\n");
        return 2;
    }
    if (!mkdtemp(cfg.root)) {
        fprintf(stderr, "engine_bench: mkdtemp %s: %s\n", cfg.root, strerror(errno));
        return 1;
    }

    printf("widecol engine benchmark: widecol engine vs RocksDB %s (C API), one process run\n",
           ROCKSDB_VERSION_STR);
    printf("workload: %" PRIu64 " rows = %" PRIu64 " partitions x %" PRIu64
           " rows; value %zu B; key = device id (%d B) + inverted timestamp (%d B, newest "
           "first)\n",
           cfg.rows, cfg.partitions, cfg.rows_per_partition, cfg.value_size, PK_LEN, CK_LEN);
    printf("writes: %zu rows per batch (widecol wc_engine_apply of %zu mutations; RocksDB "
           "WriteBatch of %zu puts), one thread\n",
           cfg.batch, cfg.batch, cfg.batch);
    printf("reads: readrandom %" PRIu64 " point reads, latest10 %" PRIu64
           " partitions x 10 newest rows, scan of all rows (widecol pages of %zu); one thread; "
           "readrandom_2t and latest10_2t: the same numbers of reads from %d threads\n",
           cfg.reads, cfg.latest_reads, cfg.page_rows, READ_THREADS);
    printf("durability: commit log / WAL on for both, no fsync per write "
           "(widecol WC_SYNC_PERIODIC, background fsync every 10 ms; RocksDB sync=false)\n");
    printf("settings (both): memtable %zu MiB, block cache %zu MiB LRU, bloom %d bits/key, "
           "block %zu B, LZ4\n",
           cfg.memtable_bytes >> 20, cfg.cache_bytes >> 20, cfg.bloom_bits, cfg.block_size);
    printf("  widecol: bloom over partition keys; a major compaction (wc_engine_compact) after "
           "the final flush; RocksDB: a manual CompactRange of all keys (bottommost level "
           "forced) after its final flush; both end fully compacted\n");
    printf("  RocksDB: defaults otherwise (leveled compaction, 2 background jobs), bloom on whole "
           "keys + fixed %d-byte prefix (device id + ':'), prefix_same_as_start for latest10, "
           "total_order_seek for scan\n",
           PK_LEN + 1);
    printf("reads run after the random fill, in a new process, after both flushed and "
           "compacted\n");
    printf("data directory: %s%s\n", cfg.root, cfg.keep ? " (kept)" : " (removed at the end)");
    printf("each engine runs in forked children (one per phase group); memory = peak RSS of "
           "the child (wait4 ru_maxrss)\n\n");

    printf("rounds: %d (every phase runs once per round on both engines, alternating; the "
           "summary and result lines use the median round)\n",
           cfg.rounds);
    printf("load average at start: %s\n\n", loadavg(lbuf, sizeof(lbuf)));

    memset(ops_s, 0, sizeof(ops_s));
    memset(maxrss, 0, sizeof(maxrss));
    memset(base_rss, 0, sizeof(base_rss));
    for (int round = 0; round < cfg.rounds; round++) {
        if (cfg.rounds > 1)
            printf("---- round %d of %d\n", round + 1, cfg.rounds);
        for (int g = 0; g < GROUP_COUNT; g++) {
            for (int si = 0; si < 2; si++) {
                const side_ops *ops = sides[si];
                group_outcome *o = &out;
                char d[PATH_MAX];
                if ((si == 0 && !cfg.run_widecol) || (si == 1 && !cfg.run_rocksdb))
                    continue;
                if (g != GROUP_READS) {
                    /* every fill starts from an empty directory */
                    dir_for(&cfg, ops, g == GROUP_FILLSEQ ? "seq" : "random", d, sizeof(d));
                    rm_rf(d);
                }
                printf("== %-8s %s ...\n", ops->name, group_names[g]);
                fflush(stdout);
                run_group(&cfg, ops, g, o);
                for (int p = 0; p < PH_COUNT; p++) {
                    const phase_result *pr = &o->res.ph[p];
                    if (!pr->done)
                        continue;
                    ops_s[si][p][round] = pr->secs > 0 ? (double)pr->ops / pr->secs : 0.0;
                    printf("   %-13s %12.0f ops/s  (%" PRIu64 " ops in %.3f s, %" PRIu64 " bad)\n",
                           phase_names[p], ops_s[si][p][round], pr->ops, pr->secs, pr->bad);
                }
                if (g == GROUP_FILLRANDOM && o->res.finished)
                    printf("   flush+settle %.3f s\n", o->res.flush_secs);
                if (o->res.info[0])
                    printf("   state: %s\n", o->res.info);
                printf("   peak RSS %s (before open %s)\n", fmt_kib(o->maxrss_kib, b1, sizeof(b1)),
                       fmt_kib(o->res.rss_base_kib, b2, sizeof(b2)));
                if (o->maxrss_kib > maxrss[si][g])
                    maxrss[si][g] = o->maxrss_kib;
                base_rss[si][g] = o->res.rss_base_kib;
                if (g == GROUP_FILLRANDOM) {
                    dir_for(&cfg, ops, "random", d, sizeof(d));
                    disk[si] = dir_bytes(d);
                    printf("   on disk after flush: %.1f MiB\n", (double)disk[si] / 1048576.0);
                }
                if (!o->ok) {
                    all_ok = false;
                    printf("   FAILED: %s\n", o->why);
                }
                if (g == GROUP_FILLSEQ && !cfg.keep) {
                    dir_for(&cfg, ops, "seq", d, sizeof(d));
                    rm_rf(d);
                }
            }
        }
        if (!all_ok)
            break; /* a failure is reported, not averaged away */
        rounds_done++;
    }

    /* summary: median round per phase and engine */
    printf("\nload average at end: %s\n", loadavg(lbuf, sizeof(lbuf)));
    printf("\n%-13s %14s %14s %8s   (median of %d round%s; per round w/r)\n", "phase",
           "widecol ops/s", "rocksdb ops/s", "ratio", rounds_done, rounds_done == 1 ? "" : "s");
    for (int p = 0; p < PH_COUNT; p++) {
        med[0][p] = median(ops_s[0][p], rounds_done);
        med[1][p] = median(ops_s[1][p], rounds_done);
        printf("%-13s %14.0f %14.0f %8.2f  ", phase_names[p], med[0][p], med[1][p],
               med[1][p] > 0 ? med[0][p] / med[1][p] : 0.0);
        for (int r = 0; r < rounds_done; r++)
            printf(" %.2f", ops_s[1][p][r] > 0 ? ops_s[0][p][r] / ops_s[1][p][r] : 0.0);
        printf("\n");
    }
    printf("\n%-26s %16s %16s\n", "peak RSS (max over rounds)", "widecol", "rocksdb");
    for (int g = 0; g < GROUP_COUNT; g++)
        printf("%-26s %16s %16s\n", group_names[g], fmt_kib(maxrss[0][g], b1, sizeof(b1)),
               fmt_kib(maxrss[1][g], b2, sizeof(b2)));
    printf("%-26s %16s %16s\n", "  of which before open",
           fmt_kib(base_rss[0][GROUP_READS], b1, sizeof(b1)),
           fmt_kib(base_rss[1][GROUP_READS], b3, sizeof(b3)));
    printf("%-26s %12.1f MiB %12.1f MiB\n", "on disk after random fill", disk[0] / 1048576.0,
           disk[1] / 1048576.0);
    printf("MEMORY widecol_fillseq_kib=%ld rocksdb_fillseq_kib=%ld widecol_fillrandom_kib=%ld "
           "rocksdb_fillrandom_kib=%ld widecol_reads_kib=%ld rocksdb_reads_kib=%ld\n",
           maxrss[0][GROUP_FILLSEQ], maxrss[1][GROUP_FILLSEQ], maxrss[0][GROUP_FILLRANDOM],
           maxrss[1][GROUP_FILLRANDOM], maxrss[0][GROUP_READS], maxrss[1][GROUP_READS]);

    if (!cfg.keep)
        rm_rf(cfg.root);

    printf("\n");
    if (!all_ok)
        printf("BENCHMARK FAILED (see FAILED lines above); no result lines\n");
    else if (cfg.run_widecol && cfg.run_rocksdb) {
        for (int p = 0; p < PH_COUNT; p++)
            printf("RESULT %s widecol=%.0f baseline=%.0f ratio=%.3f unit=ops/s\n", phase_names[p],
                   med[0][p], med[1][p], med[1][p] > 0 ? med[0][p] / med[1][p] : 0.0);
    } else {
        printf("(--only: no result lines)\n");
    }
    return all_ok ? 0 : 1;
}
