/*
 * engine_int.h - internals shared by engine.c (tables, writes, flushes,
 * recovery) and read.c (the read path).  Not part of the public API.
 *
 * Locking: e->write_mu serializes commit-log appends with memtable puts and
 * memtable switches; e->tables_mu (rwlock) protects the table array and
 * catalog; each table's mu protects its source lists (active memtable,
 * immutable memtables, SSTables), held only long enough to take references.
 * Lock order: write_mu, then tables_mu, then a table's mu.  The flush thread
 * waits on flush_cv under flush_mu.
 */
#ifndef WC_ENGINE_INT_H
#define WC_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "commitlog.h"
#include "engine.h"
#include "memtable.h"
#include "sstable.h"

typedef struct wc__imm {
    wc_memtable *mem;
    wc_clpos start; /* first log position it may hold */
    wc_clpos end;   /* every record before end is in it or older tables */
} wc__imm;

typedef struct wc__sst {
    wc_sstable *t;
    uint64_t gen;
} wc__sst;

typedef struct wc__table {
    wc_table_def def;
    char dir[4096];
    pthread_mutex_t mu;
    wc_memtable *active;
    wc_clpos active_start; /* log position the active memtable starts at */
    bool active_used;      /* active memtable received data */
    wc__imm *imm;          /* oldest first */
    size_t nimm, capimm;
    wc__sst *ssts;         /* oldest first */
    size_t nssts, capssts;
    wc_clpos flushed;      /* log records before this are in SSTables */
    uint64_t next_gen;
    pthread_mutex_t manifest_mu; /* serializes manifest writes and compactions */
    bool dropped;
} wc__table;

struct wc_engine {
    wc_engine_options opts;
    char dir[4096];
    wc_fs *fs;
    wc_commitlog *log;
    wc_block_cache *cache;
    _Atomic uint64_t next_file_id;

    pthread_rwlock_t tables_mu;
    wc__table **tables;
    size_t ntables, captables;

    pthread_mutex_t write_mu;
    wc_buf rec; /* batch record scratch, under write_mu */
    wc_buf key; /* flat key scratch, under write_mu */

    pthread_mutex_t flush_mu;
    pthread_cond_t flush_cv;  /* work available / shutdown */
    pthread_cond_t flush_done_cv;
    pthread_t flush_thread;
    bool flush_started;
    bool stopping;
    uint64_t flushes_done;
    wc_status bg_status; /* first background failure */
};

/* in engine.c */
wc__table *wc__engine_find_table(wc_engine *e, uint32_t id); /* REQUIRES: tables_mu held */
/* Persist t's SSTable list and flushed position. REQUIRES: t->manifest_mu held. */
wc_status wc__manifest_write(wc_engine *e, wc__table *t);
/* The engine's clock in seconds (opts.clock or time()). */
int64_t wc__engine_now(wc_engine *e);
void wc__engine_log(wc_engine *e, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sources of a table at one moment, referenced (released by wc__sources_release). */
typedef struct wc__sources {
    wc_memtable **mems;
    size_t nmems;
    wc_sstable **ssts;
    size_t nssts;
    uint32_t gc_grace;
} wc__sources;
wc_status wc__sources_acquire(wc_engine *e, uint32_t table_id, wc__sources *s);
void wc__sources_release(wc__sources *s);

#endif /* WC_ENGINE_INT_H */
