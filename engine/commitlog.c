/*
 * commitlog.c - the segmented, checksummed commit log (contract in commitlog.h,
 * byte layout in commitlog_format.h).
 *
 * Structure:
 *  - One active segment receives appends.  Appends take cl->mu, write the
 *    record with one pwrite (two for records over WC_CL_COPY_MAX: payload
 *    first, then the header, so a crash between them leaves a zero length,
 *    i.e. a clean end) and advance write_pos.  Because every write happens in
 *    log order under the mutex, a crashed process leaves a prefix of the log
 *    plus at most one torn record.
 *  - Mapped segments (periodic mode): where the file system maps files
 *    safely (fs->map: a store into the segment's preallocated blocks can
 *    never fail), a new segment is mapped whole, shared, and an append
 *    copies the record into the mapping (payload, then header) instead of
 *    calling pwrite: the same page cache, so the same guarantees (a killed
 *    process loses nothing, an fsync of the file makes it durable), without
 *    a system call and the file's lock under cl->mu, which every writer of
 *    the engine waits for.  Not in batch mode: there every commit fsyncs,
 *    and an fsync write-protects the mapped pages it cleans, so the next
 *    append to the same page takes a page fault (and the kernel a TLB
 *    flush on every CPU the process runs on): one-client batch commits
 *    were 10-15 % slower mapped.  The mapping ends when the segment's last
 *    reference goes, before its file closes; a segment cut back by
 *    cl_recover_space is never written again.
 *  - A segment that would overflow is closed by "rolling": its file is fsynced
 *    inline (under the mutex), then a new segment is created, its header
 *    written and fsynced with the directory.  So everything before the active
 *    segment is durable, and synced_pos only ever needs the active file.
 *  - Periodic mode: one sync thread fsyncs the active segment every
 *    period_ms (sleeping while nothing is unsynced).
 *  - A waiter that needs a position durable (sync_to in batch mode,
 *    sync_all in either mode) fsyncs itself when no fsync is under way: it
 *    syncs everything written so far and wakes all waiters (group commit:
 *    every append that landed before the fsync started shares it); while
 *    one is under way it waits for its end, then looks again.  No hand-off
 *    to another thread: a lone writer's commit costs one fsync and no
 *    thread wake-ups (the sync thread's two wake-ups per commit cost as
 *    much CPU as the fsync itself).  An fsync runs without cl->mu, holding
 *    a reference on the segment, so appends continue meanwhile.  That means
 *    fs->sync and fs->pwrite may run at the same time on one wc_file; the
 *    POSIX and fault-injecting file systems allow it.
 *  - Running out of space (WC_NO_SPACE from a write or from creating a
 *    segment) is not fatal: the log refuses appends until a later append
 *    finds room again.  That append first cuts the active segment back to
 *    its last complete record (dropping a short write), fsyncs it and rolls
 *    to a new segment; when that succeeds, writes continue.
 *  - Any other write or fsync error poisons the log: the status and its
 *    detail are kept and every later append / sync_to returns them (after a
 *    failed fsync the page cache can no longer be trusted).
 *  - discard_before renames retired segments to CommitLog-<id>.free (a pool
 *    of WC_CL_POOL_MAX files) or deletes them.  A pool file is truncated to 0
 *    before reuse, so a reused file never holds stale records; the checksum
 *    seed (segment id) is a second line of defence.
 *
 * Replay (at open): segments in id order; in the last one a bad record with
 * no valid record after it is a torn tail (truncated, WARNING).  Every
 * segment header names the segment written before it with that segment's end
 * offset and record count, so an older segment that stops early (truncated,
 * a zeroed record header) or is missing is damage, not the end of the data.
 * Damage is WC_CORRUPTION naming the file, offset and the records lost, or,
 * with ignore_replay_errors, logged, skipped and counted in the stats.
 */
#include "commitlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "coding.h"
#include "commitlog_format.h"
#include "thread.h"

#define WC_CL_DEFAULT_PERIOD_MS 10u
#define WC_CL_DEFAULT_SEGMENT_SIZE ((size_t)32 << 20)
#define WC_CL_DEFAULT_MAX_RECORD ((size_t)64 << 20)
#define WC_CL_MIN_SEGMENT_SIZE 64u
#define WC_CL_POOL_MAX 2
#define WC_CL_COPY_MAX ((size_t)64 << 10) /* records up to this are written with one pwrite */
#define WC_CL_READ_WINDOW ((size_t)1 << 20)
#define WC_CL_SCAN_BUDGET ((uint64_t)64 << 20) /* payload bytes hashed looking past a bad record */
#define WC_CL_PATH_MAX 4096

typedef struct wc__clseg {
    uint64_t id;
    wc_file *file;
    uint64_t capacity; /* bytes reserved for the segment */
    uint64_t used;     /* end of the last record written */
    uint64_t records;  /* records written to it */
    int refs;          /* active pointer + in-flight fsyncs; guarded by cl->mu */
    uint8_t *map;      /* the file's capacity bytes mapped (fs->map), or NULL: pwrite */
} wc__clseg;

struct wc_commitlog {
    wc_fs *fs;
    char *dir;
    wc_sync_mode mode;
    uint32_t period_ms;
    uint64_t segment_size;
    uint64_t max_record_size;
    wc_log_fn log;
    void *log_arg;

    pthread_mutex_t mu;      /* guards everything below */
    pthread_cond_t work_cv;  /* sync thread sleeps here */
    bool idle;               /* periodic mode: the sync thread waits for a first write */
    bool syncing;            /* an fsync of the active segment is under way (mu dropped) */
    pthread_cond_t done_cv;  /* waiters for an fsync under way sleep here */
    int sync_initialised;    /* mu and conds exist */
    pthread_t thread;
    int thread_started;
    int stop;
    bool ignore_replay_errors;

    wc__clseg *active;
    uint64_t next_id;
    wc_clpos write_pos;  /* end of the last record appended */
    wc_clpos synced_pos; /* every record ending at or before it is durable */

    wc_status poison;
    char poison_msg[384];
    bool nospace;          /* out of space: the next append recovers first */
    char nospace_msg[384];

    uint64_t *live; /* ids of live segment files, ascending */
    size_t nlive, caplive;
    uint64_t pool[WC_CL_POOL_MAX]; /* old ids of CommitLog-<id>.free files */
    size_t npool;

    uint8_t *wbuf; /* WC_CL_COPY_MAX bytes, used under mu */
    wc_commitlog_stats stats;
};

/* Sequential reader over one segment with a growable window. */
typedef struct wc__clreader {
    wc_fs *fs;
    wc_file *f;
    const char *path;
    uint64_t size;
    uint8_t *buf;
    size_t cap;
    uint64_t boff;
    size_t blen;
} wc__clreader;

/* What the next segment's header says about the one before it. */
typedef struct wc__clchain {
    bool known;       /* false: no version 2 successor names this segment */
    uint64_t end;     /* offset just past the last record */
    uint64_t records; /* records in the segment */
} wc__clchain;

/* A parsed segment header. */
typedef struct wc__clhdr {
    uint32_t version;
    uint32_t size; /* where records start */
    uint64_t prev_id, prev_end, prev_records;
} wc__clhdr;

/* helpers */
static void cl_log(wc_commitlog *cl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static wc_status cl_path(const wc_commitlog *cl, uint64_t id, const char *suffix, char *out);
static int cl_pos_reached(wc_clpos synced, wc_clpos pos, wc_clpos wp0);
static wc_status cl_poison(wc_commitlog *cl, wc_status st);
static wc_status cl_poisoned_error(const wc_commitlog *cl);
static wc_status cl_fail(wc_commitlog *cl, wc_status st);
static wc_status cl_recover_space(wc_commitlog *cl);
static void cl_seg_unref(wc_commitlog *cl, wc__clseg *seg);
static wc_status cl_live_add(wc_commitlog *cl, uint64_t id);
static wc_status cl_create_segment(wc_commitlog *cl, uint64_t id, uint64_t capacity,
                                   uint64_t prev_id, const wc__clchain *prev, wc__clseg **out);
static void cl_map_segment(wc_commitlog *cl, wc__clseg *seg);
static wc_status cl_roll(wc_commitlog *cl, uint64_t need);
static void cl_sync_locked(wc_commitlog *cl);
static void *cl_sync_main(void *arg);
/* replay */
static wc_status rd_get(wc__clreader *r, uint64_t off, size_t n, const uint8_t **out);
static wc_status cl_valid_at(wc__clreader *r, uint64_t id, uint64_t cand, uint64_t limit,
                             uint64_t *budget, int *over, int *ok);
static wc_status cl_scan_for_valid(wc_commitlog *cl, wc__clreader *r, uint64_t id,
                                   uint64_t bad_off, uint64_t bad_len, uint64_t *found,
                                   int *complete);
static wc_status cl_replay_segment(wc_commitlog *cl, uint64_t id, int last,
                                   const wc__clchain *expect, wc_replay_fn fn, void *arg,
                                   wc__clchain *got, int *remove);

/* ------------------------------------------------------------------ helpers */

static void cl_log(wc_commitlog *cl, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (cl->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cl->log(cl->log_arg, level, msg);
}

static wc_status cl_path_in(const char *dir, uint64_t id, const char *suffix, char *out,
                            size_t cap)
{
    int n = snprintf(out, cap, "%s/" WC_CL_FILE_PREFIX "%llu%s", dir, (unsigned long long)id,
                     suffix);

    if (n < 0 || (size_t)n >= cap)
        return wc_error(WC_INVALID_ARGUMENT, "commit log path too long in \"%s\"", dir);
    return WC_OK;
}

static wc_status cl_path(const wc_commitlog *cl, uint64_t id, const char *suffix, char *out)
{
    return cl_path_in(cl->dir, id, suffix, out, WC_CL_PATH_MAX);
}

static wc_clpos cl_pos_max(wc_clpos a, wc_clpos b)
{
    return wc_clpos_cmp(a, b) >= 0 ? a : b;
}

/*
 * A sync_to(pos) issued when the log ended at wp0 is satisfied once synced
 * passes the start of the record at pos, or covers all of wp0 (pos may name a
 * position not written yet, e.g. wc_commitlog_current()).
 */
static int cl_pos_reached(wc_clpos synced, wc_clpos pos, wc_clpos wp0)
{
    return wc_clpos_cmp(synced, pos) > 0 || wc_clpos_cmp(synced, wp0) >= 0;
}

/* REQUIRES: cl->mu held (or no other thread).  Keeps the first failure. */
static wc_status cl_poison(wc_commitlog *cl, wc_status st)
{
    if (cl->poison == WC_OK) {
        cl->poison = st;
        snprintf(cl->poison_msg, sizeof(cl->poison_msg), "%s", wc_last_error());
        cl_log(cl, WC_LOG_ERROR, "commit log failed, refusing further writes: %s",
               cl->poison_msg);
        if (cl->sync_initialised) {
            pthread_cond_broadcast(&cl->done_cv);
            pthread_cond_broadcast(&cl->work_cv);
        }
    }
    return st;
}

static wc_status cl_poisoned_error(const wc_commitlog *cl)
{
    return wc_error(cl->poison, "commit log is unusable after an earlier failure: %s",
                    cl->poison_msg);
}

/*
 * REQUIRES: cl->mu held.  A write failed with st: out of space is remembered
 * for recovery by the next append, anything else poisons the log.
 */
static wc_status cl_fail(wc_commitlog *cl, wc_status st)
{
    if (st != WC_NO_SPACE)
        return cl_poison(cl, st);
    if (!cl->nospace) {
        cl->nospace = true;
        snprintf(cl->nospace_msg, sizeof(cl->nospace_msg), "%s", wc_last_error());
        cl_log(cl, WC_LOG_ERROR,
               "commit log is out of disk space, refusing writes until space is freed: %s",
               cl->nospace_msg);
    }
    return st;
}

/*
 * REQUIRES: cl->mu held, cl->nospace set, not poisoned.  Cut the active
 * segment back to its last complete record (a short write may have left part
 * of a record behind), make that durable and roll to a new segment.  WC_OK
 * clears nospace; WC_NO_SPACE while the disk is still full; other errors poison.
 */
static wc_status cl_recover_space(wc_commitlog *cl)
{
    wc__clseg *seg = cl->active;
    wc_status st;

    st = cl->fs->truncate(seg->file, seg->used);
    if (st == WC_OK)
        st = cl_roll(cl, 0);
    else
        st = cl_fail(cl, st);
    if (st != WC_OK) {
        if (st == WC_NO_SPACE)
            return wc_error(WC_NO_SPACE, "commit log is still out of disk space: %s",
                            wc_last_error());
        return st;
    }
    cl->nospace = false;
    cl_log(cl, WC_LOG_INFO, "commit log has disk space again; writes resume in segment %llu",
           (unsigned long long)cl->active->id);
    return WC_OK;
}

/* REQUIRES: cl->mu held (or no other thread). */
static void cl_seg_unref(wc_commitlog *cl, wc__clseg *seg)
{
    if (seg == NULL || --seg->refs > 0)
        return;
    if (seg->map)
        cl->fs->unmap(seg->file, seg->map, seg->capacity);
    if (seg->file)
        cl->fs->close(seg->file);
    wc_free(seg);
}

static wc_status cl_live_add(wc_commitlog *cl, uint64_t id)
{
    if (cl->nlive == cl->caplive) {
        size_t ncap = cl->caplive ? cl->caplive * 2 : 16;
        uint64_t *n = wc_realloc(cl->live, ncap * sizeof(*n));

        if (n == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory tracking commit log segments");
        cl->live = n;
        cl->caplive = ncap;
    }
    cl->live[cl->nlive++] = id;
    return WC_OK;
}

/*
 * Create segment id with room for capacity bytes: take a pool file if one is
 * there (truncated to 0 first), else a new file; write and fsync the header
 * (naming segment prev_id, 0 = none, and its extent prev), preallocate, fsync
 * the directory.  On success the segment is live and *out holds one reference.
 */
static wc_status cl_create_segment(wc_commitlog *cl, uint64_t id, uint64_t capacity,
                                   uint64_t prev_id, const wc__clchain *prev, wc__clseg **out)
{
    char path[WC_CL_PATH_MAX], from[WC_CL_PATH_MAX];
    uint8_t hdr[WC_CL_HEADER_SIZE];
    wc_file *f = NULL;
    wc__clseg *seg = NULL;
    int from_pool = 0;
    wc_status st;

    st = cl_path(cl, id, WC_CL_FILE_SUFFIX, path);
    if (st != WC_OK)
        return st;
    /* reserve the bookkeeping first so that no failure comes after the file exists */
    seg = wc_calloc(1, sizeof(*seg));
    if (seg == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating commit log segment");
    st = cl_live_add(cl, id);
    if (st != WC_OK)
        goto fail_nofile;
    cl->nlive--; /* slot reserved; committed at the end */

    if (cl->npool > 0) {
        uint64_t old = cl->pool[--cl->npool];

        st = cl_path(cl, old, WC_CL_FREE_SUFFIX, from);
        if (st == WC_OK)
            st = cl->fs->open(cl->fs, from, WC_O_WRITE, &f);
        if (st == WC_OK) {
            from_pool = 1;
            st = cl->fs->truncate(f, 0);
            if (st != WC_OK)
                goto fail;
        } else {
            /* an unusable pool file is not fatal: forget it, make a new file */
            f = NULL;
            cl->fs->unlink(cl->fs, from);
        }
    }
    if (f == NULL) {
        st = cl->fs->open(cl->fs, path, WC_O_WRITE | WC_O_CREATE | WC_O_TRUNC, &f);
        if (st != WC_OK)
            goto fail_nofile;
    }
    wc__cl_encode_header(hdr, id, prev_id, prev_id ? prev->end : 0, prev_id ? prev->records : 0);
    st = cl->fs->pwrite(f, hdr, sizeof(hdr), 0);
    if (st != WC_OK)
        goto fail;
    st = cl->fs->allocate(f, capacity);
    if (st != WC_OK)
        goto fail;
    st = cl->fs->sync(f);
    if (st != WC_OK)
        goto fail;
    cl->stats.syncs++;
    if (from_pool) {
        st = cl->fs->rename(cl->fs, from, path);
        if (st != WC_OK)
            goto fail;
        from_pool = 0; /* the file is at path now */
    }
    st = cl->fs->sync_dir(cl->fs, cl->dir);
    if (st != WC_OK)
        goto fail;

    seg->id = id;
    seg->file = f;
    seg->capacity = capacity;
    seg->used = WC_CL_HEADER_SIZE;
    seg->refs = 1;
    cl_map_segment(cl, seg);
    cl->live[cl->nlive++] = id;
    cl->stats.segments++;
    *out = seg;
    return WC_OK;

fail:
    /* best effort: a leftover file is handled by the next open (torn last segment) */
    cl->fs->close(f);
    cl->fs->unlink(cl->fs, from_pool ? from : path);
fail_nofile:
    wc_free(seg);
    return st;
}

/*
 * Map a new segment in periodic mode where the file system can (see the
 * header comment): an append is then a copy into the page cache, with no
 * system call.  Where it cannot, appends use pwrite; nothing else differs.
 */
static void cl_map_segment(wc_commitlog *cl, wc__clseg *seg)
{
    void *addr = NULL;

    if (cl->mode != WC_SYNC_PERIODIC || cl->fs->map == NULL || cl->fs->unmap == NULL)
        return;
    if (cl->fs->map(seg->file, seg->capacity, &addr) == WC_OK) {
        seg->map = addr;
        cl->stats.mapped_segments++;
    } else
        wc_clear_error();
}

/* REQUIRES: cl->mu held, not poisoned.  Finish the active segment, start the next. */
static wc_status cl_roll(wc_commitlog *cl, uint64_t need)
{
    wc__clseg *old = cl->active, *seg = NULL;
    uint64_t capacity = cl->segment_size;
    wc__clchain prev = {true, old->used, old->records};
    wc_status st;

    st = cl->fs->sync(old->file);
    if (st != WC_OK)
        return cl_poison(cl, st);
    cl->stats.syncs++;
    if (WC_CL_HEADER_SIZE + need > capacity)
        capacity = WC_CL_HEADER_SIZE + need;
    st = cl_create_segment(cl, cl->next_id, capacity, old->id, &prev, &seg);
    if (st != WC_OK)
        return cl_fail(cl, st); /* the old segment stays active and intact */
    cl->next_id++;
    cl->active = seg;
    cl->write_pos = (wc_clpos){seg->id, seg->used};
    /* the old segment and the new header are durable */
    cl->synced_pos = cl_pos_max(cl->synced_pos, cl->write_pos);
    pthread_cond_broadcast(&cl->done_cv);
    cl_seg_unref(cl, old);
    return WC_OK;
}

/*
 * REQUIRES: cl->mu held, no fsync under way (!cl->syncing).  Fsync what was
 * written so far; drops mu meanwhile.
 */
static void cl_sync_locked(wc_commitlog *cl)
{
    wc__clseg *seg = cl->active;
    wc_clpos target = cl->write_pos;
    wc_status st;

    if (wc_clpos_cmp(cl->synced_pos, target) >= 0)
        return;
    seg->refs++;
    cl->syncing = true;
    pthread_mutex_unlock(&cl->mu);
    st = cl->fs->sync(seg->file);
    pthread_mutex_lock(&cl->mu);
    cl->syncing = false;
    cl_seg_unref(cl, seg);
    if (st != WC_OK) {
        cl_poison(cl, st);
    } else {
        cl->stats.syncs++;
        cl->synced_pos = cl_pos_max(cl->synced_pos, target);
    }
    pthread_cond_broadcast(&cl->done_cv);
}

static void *cl_sync_main(void *arg)
{
    wc_commitlog *cl = arg;

    pthread_mutex_lock(&cl->mu);
    while (!cl->stop && cl->poison == WC_OK) {
        struct timespec deadline;

        /* nothing unsynced: sleep until a write arrives instead of every period */
        while (!cl->stop && cl->poison == WC_OK &&
               wc_clpos_cmp(cl->synced_pos, cl->write_pos) >= 0) {
            cl->idle = true;
            pthread_cond_wait(&cl->work_cv, &cl->mu);
            cl->idle = false;
        }
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += cl->period_ms / 1000;
        deadline.tv_nsec += (long)(cl->period_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        /* until the period ends (only close signals work_cv meanwhile) */
        while (!cl->stop && cl->poison == WC_OK &&
               pthread_cond_timedwait(&cl->work_cv, &cl->mu, &deadline) != ETIMEDOUT) {
        }
        if (cl->stop || cl->poison != WC_OK)
            break;
        /* a waiter's fsync under way covers this period's writes, or the next period will */
        if (!cl->syncing)
            cl_sync_locked(cl);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

/* ------------------------------------------------------------------ replay */

/* Make [off, off+n) readable at *out.  REQUIRES: off + n <= r->size. */
static wc_status rd_get(wc__clreader *r, uint64_t off, size_t n, const uint8_t **out)
{
    size_t want, got;
    wc_status st;

    if (off >= r->boff && off + n <= r->boff + r->blen) {
        *out = r->buf + (off - r->boff);
        return WC_OK;
    }
    want = n > WC_CL_READ_WINDOW ? n : WC_CL_READ_WINDOW;
    if (want > r->size - off)
        want = (size_t)(r->size - off);
    if (want > r->cap) {
        uint8_t *nb = wc_malloc(want);

        if (nb == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory reading \"%s\"", r->path);
        wc_free(r->buf);
        r->buf = nb;
        r->cap = want;
    }
    r->blen = 0;
    st = r->fs->pread(r->f, r->buf, want, off, &got);
    if (st != WC_OK)
        return st;
    if (got < n)
        return wc_error(WC_IO_ERROR, "short read of \"%s\" at %llu (file shrank?)", r->path,
                        (unsigned long long)off);
    r->boff = off;
    r->blen = got;
    *out = r->buf + (off - r->boff);
    return WC_OK;
}

/*
 * Is there a valid record of segment id at cand?  Lengths are bounded by the
 * file and by limit before anything is read; *budget counts hashed bytes and
 * *over is set (answer "no") when a candidate would exceed it.
 */
static wc_status cl_valid_at(wc__clreader *r, uint64_t id, uint64_t cand, uint64_t limit,
                             uint64_t *budget, int *over, int *ok)
{
    const uint8_t *p;
    uint32_t len;
    wc_status st;

    *ok = 0;
    if (cand + WC_CL_RECORD_HEADER_SIZE > r->size)
        return WC_OK;
    st = rd_get(r, cand, WC_CL_RECORD_HEADER_SIZE, &p);
    if (st != WC_OK)
        return st;
    len = wc_dec_u32(p);
    if (len == 0 || len > limit || len > r->size - cand - WC_CL_RECORD_HEADER_SIZE)
        return WC_OK;
    if (len > *budget) {
        *over = 1;
        return WC_OK;
    }
    *budget -= len;
    st = rd_get(r, cand, WC_CL_RECORD_HEADER_SIZE + (size_t)len, &p);
    if (st != WC_OK)
        return st;
    *ok = wc__cl_record_checksum(id, p + WC_CL_RECORD_HEADER_SIZE, len) == wc_dec_u32(p + 4);
    return WC_OK;
}

/*
 * Is there a valid record of segment id after the bad record at bad_off?
 * First the position its length field points to (bad_len, 0 if unusable),
 * then every byte offset, hashing at most WC_CL_SCAN_BUDGET payload bytes.
 * *found is the offset of the first valid record or 0; *complete is 0 if the
 * budget ran out before the end of the file.
 */
static wc_status cl_scan_for_valid(wc_commitlog *cl, wc__clreader *r, uint64_t id,
                                   uint64_t bad_off, uint64_t bad_len, uint64_t *found,
                                   int *complete)
{
    uint64_t limit = cl->max_record_size > cl->segment_size ? cl->max_record_size
                                                            : cl->segment_size;
    uint64_t budget = WC_CL_SCAN_BUDGET;
    int over = 0, ok;
    const uint8_t *p;
    wc_status st;

    *found = 0;
    *complete = 1;
    if (bad_len) {
        st = cl_valid_at(r, id, bad_off + WC_CL_RECORD_HEADER_SIZE + bad_len, limit, &budget,
                         &over, &ok);
        if (st != WC_OK)
            return st;
        if (ok) {
            *found = bad_off + WC_CL_RECORD_HEADER_SIZE + bad_len;
            return WC_OK;
        }
    }
    for (uint64_t c = bad_off + 1; c + WC_CL_RECORD_HEADER_SIZE <= r->size; c++) {
        st = rd_get(r, c, WC_CL_RECORD_HEADER_SIZE, &p);
        if (st != WC_OK)
            return st;
        if (wc_dec_u32(p) == 0) {
            /*
             * Skip a run of zero bytes: a candidate whose length field lies
             * wholly inside the run has length 0.  z is the first non-zero
             * byte from p[4]; the next useful candidate starts at z - 3.
             */
            size_t avail = (size_t)(r->boff + r->blen - c);
            size_t z = 4;

            while (z < avail && p[z] == 0)
                z++;
            c += z - 4; /* the loop adds one more */
            continue;
        }
        st = cl_valid_at(r, id, c, limit, &budget, &over, &ok);
        if (st != WC_OK)
            return st;
        if (ok) {
            *found = c;
            return WC_OK;
        }
        if (over) {
            *complete = 0;
            return WC_OK;
        }
    }
    return WC_OK;
}

static int cl_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/*
 * Check the header bytes p[0..avail) of segment id.  Returns NULL and fills
 * *h when valid, else a reason (static or in why[128]).
 */
static const char *cl_parse_header(const uint8_t *p, uint64_t avail, uint64_t id, wc__clhdr *h,
                                   char *why)
{
    memset(h, 0, sizeof(*h));
    if (avail < WC_CL_V1_HEADER_SIZE || cl_all_zero(p, WC_CL_V1_HEADER_SIZE))
        return "no complete header";
    if (wc_dec_u32(p) != WC_CL_MAGIC) {
        snprintf(why, 128, "bad magic 0x%08x at offset 0", wc_dec_u32(p));
        return why;
    }
    h->version = wc_dec_u32(p + 4);
    if (h->version == 1) {
        if (wc_dec_u32(p + WC_CL_V1_HEADER_CHECKSUM_OFF) != wc__cl_v1_header_checksum(p))
            return "header checksum mismatch";
        h->size = WC_CL_V1_HEADER_SIZE;
    } else if (h->version == WC_CL_VERSION) {
        if (avail < WC_CL_HEADER_SIZE)
            return "no complete header";
        if (wc_dec_u32(p + WC_CL_HEADER_CHECKSUM_OFF) != wc__cl_header_checksum(p))
            return "header checksum mismatch";
        h->size = WC_CL_HEADER_SIZE;
        h->prev_id = wc_dec_u64(p + 16);
        h->prev_end = wc_dec_u64(p + 24);
        h->prev_records = wc_dec_u64(p + 32);
    } else {
        snprintf(why, 128, "unsupported version %u", h->version);
        return why;
    }
    if (wc_dec_u64(p + 8) != id) {
        snprintf(why, 128, "header names segment %llu", (unsigned long long)wc_dec_u64(p + 8));
        return why;
    }
    return NULL;
}

/* Read and check the header of segment id.  *valid = 0 if it cannot be used. */
static void cl_peek_header(wc_commitlog *cl, uint64_t id, wc__clhdr *h, int *valid)
{
    char path[WC_CL_PATH_MAX], why[128];
    uint8_t buf[WC_CL_HEADER_SIZE];
    wc_file *f = NULL;
    size_t got = 0;

    *valid = 0;
    if (cl_path(cl, id, WC_CL_FILE_SUFFIX, path) != WC_OK ||
        cl->fs->open(cl->fs, path, WC_O_READ, &f) != WC_OK)
        return;
    if (cl->fs->pread(f, buf, sizeof(buf), 0, &got) == WC_OK)
        *valid = cl_parse_header(buf, got, id, h, why) == NULL;
    cl->fs->close(f);
}

/* "N records (B bytes)" that the chain says lie at or after off, into out[256]. */
static void cl_describe_loss(const wc__clchain *expect, uint64_t off, uint64_t replayed,
                             char *out)
{
    if (expect->known && expect->end >= off)
        snprintf(out, 256,
                 "%llu of the segment's %llu records (%llu bytes up to its end at offset %llu) "
                 "cannot be replayed",
                 (unsigned long long)(expect->records > replayed ? expect->records - replayed
                                                                 : 0),
                 (unsigned long long)expect->records, (unsigned long long)(expect->end - off),
                 (unsigned long long)expect->end);
    else
        snprintf(out, 256, "the records after it cannot be replayed (how many is unknown)");
}

/*
 * Replay one segment.  expect is what the next segment's header says about
 * this one (unknown for the last segment).  Damage is WC_CORRUPTION naming
 * the file, offset and what is lost, unless cl->ignore_replay_errors: then it
 * is logged, skipped (replay resumes at the next valid record) and counted.
 * In the last segment a torn tail (bad bytes with no valid record after them)
 * is truncated with a warning, and a file too short for its header is marked
 * for removal via *remove.  *got receives the segment's replayed extent.
 */
static wc_status cl_replay_segment(wc_commitlog *cl, uint64_t id, int last,
                                   const wc__clchain *expect, wc_replay_fn fn, void *arg,
                                   wc__clchain *got, int *remove)
{
    char path[WC_CL_PATH_MAX], loss[256];
    wc__clreader r = {0};
    wc__clhdr h;
    const uint8_t *p = NULL;
    uint64_t limit = cl->max_record_size > cl->segment_size ? cl->max_record_size
                                                            : cl->segment_size;
    uint64_t off = WC_CL_HEADER_SIZE, bad_len = 0, found, nrec = 0;
    const char *reason = NULL;
    char why[128];
    int complete, damaged = 0;
    wc_status st;

    *remove = 0;
    memset(got, 0, sizeof(*got));
    st = cl_path(cl, id, WC_CL_FILE_SUFFIX, path);
    if (st != WC_OK)
        return st;
    r.fs = cl->fs;
    r.path = path;
    st = cl->fs->open(cl->fs, path, last ? WC_O_WRITE : WC_O_READ, &r.f);
    if (st != WC_OK)
        return st;
    st = cl->fs->size(r.f, &r.size);
    if (st != WC_OK)
        goto fail;

    /* header */
    if (r.size > 0) {
        st = rd_get(&r, 0, (size_t)(r.size < WC_CL_HEADER_SIZE ? r.size : WC_CL_HEADER_SIZE), &p);
        if (st != WC_OK)
            goto fail;
    }
    reason = cl_parse_header(p, r.size, id, &h, why);
    if (reason != NULL) {
        if (last && (r.size < WC_CL_HEADER_SIZE || cl_all_zero(p, WC_CL_V1_HEADER_SIZE))) {
            /* crash while the segment was being created: it never held a record */
            cl_log(cl, WC_LOG_WARNING,
                   "commit log segment \"%s\" has no complete header (%llu bytes); removing it",
                   path, (unsigned long long)r.size);
            cl->stats.truncated_tail_bytes += r.size;
            *remove = 1;
            goto done;
        }
        cl_describe_loss(expect, 0, 0, loss);
        if (!cl->ignore_replay_errors) {
            st = wc_error(WC_CORRUPTION, "commit log segment \"%s\": %s (%llu bytes); %s", path,
                          reason, (unsigned long long)r.size, loss);
            goto fail;
        }
        cl_log(cl, WC_LOG_WARNING,
               "commit log segment \"%s\": %s (%llu bytes); skipping the whole segment: %s",
               path, reason, (unsigned long long)r.size, loss);
        cl->stats.replay_skipped_bytes += r.size;
        damaged = 1;
        goto done;
    }
    off = h.size;

    /* records */
    for (;;) {
        uint32_t len;

        if (off == r.size)
            break;
        if (r.size - off < WC_CL_RECORD_HEADER_SIZE) {
            st = rd_get(&r, off, (size_t)(r.size - off), &p);
            if (st != WC_OK)
                goto fail;
            if (cl_all_zero(p, (size_t)(r.size - off)))
                break;
            reason = "incomplete record header";
            bad_len = 0;
            goto bad;
        }
        st = rd_get(&r, off, WC_CL_RECORD_HEADER_SIZE, &p);
        if (st != WC_OK)
            goto fail;
        len = wc_dec_u32(p);
        if (len == 0) {
            /* end of segment (zero fill or end marker), unless valid records follow */
            if (!last && expect->known && off >= expect->end)
                break; /* exactly where the next segment says it ends */
            st = cl_scan_for_valid(cl, &r, id, off, 0, &found, &complete);
            if (st != WC_OK)
                goto fail;
            if (!found)
                break;
            reason = "zero record header";
            bad_len = 0;
            goto damage;
        }
        bad_len = len;
        if (len > limit) {
            snprintf(why, sizeof(why), "length %u exceeds the limit %llu", len,
                     (unsigned long long)limit);
            reason = why;
            bad_len = 0;
            goto bad;
        }
        if (len > r.size - off - WC_CL_RECORD_HEADER_SIZE) {
            snprintf(why, sizeof(why), "length %u runs past the end of the file", len);
            reason = why;
            goto bad;
        }
        st = rd_get(&r, off, WC_CL_RECORD_HEADER_SIZE + (size_t)len, &p);
        if (st != WC_OK)
            goto fail;
        if (wc__cl_record_checksum(id, p + WC_CL_RECORD_HEADER_SIZE, len) != wc_dec_u32(p + 4)) {
            reason = "checksum mismatch";
            goto bad;
        }
        if (fn) {
            st = fn(arg, (wc_clpos){id, off}, p + WC_CL_RECORD_HEADER_SIZE, len);
            if (st != WC_OK)
                goto fail;
        }
        cl->stats.replayed++;
        nrec++;
        off += WC_CL_RECORD_HEADER_SIZE + len;
        continue;

    bad:
        st = cl_scan_for_valid(cl, &r, id, off, bad_len, &found, &complete);
        if (st != WC_OK)
            goto fail;
        if (!last || found)
            goto damage;
        /* a torn tail of the newest segment: what a crash leaves behind */
        st = cl->fs->truncate(r.f, off);
        if (st == WC_OK)
            st = cl->fs->sync(r.f);
        if (st != WC_OK)
            goto fail;
        cl_log(cl, WC_LOG_WARNING,
               "commit log segment \"%s\": dropped a torn tail of %llu bytes at offset %llu (%s)%s",
               path, (unsigned long long)(r.size - off), (unsigned long long)off, reason,
               complete ? "" : "; the rest of the segment was not fully searched for valid records");
        cl->stats.truncated_tail_bytes += r.size - off;
        r.size = off;
        break;

    damage:
        /* bad bytes at off in an older segment, or followed by valid records */
        cl_describe_loss(expect, off, nrec, loss);
        if (!cl->ignore_replay_errors) {
            if (found)
                st = wc_error(WC_CORRUPTION,
                              "commit log segment \"%s\" is damaged at offset %llu (%s) "
                              "followed by a valid record at offset %llu; %s",
                              path, (unsigned long long)off, reason, (unsigned long long)found,
                              loss);
            else
                st = wc_error(WC_CORRUPTION,
                              "commit log segment \"%s\" is damaged at offset %llu (%s); %s", path,
                              (unsigned long long)off, reason, loss);
            goto fail;
        }
        damaged = 1;
        if (found && (!expect->known || found < expect->end)) {
            cl_log(cl, WC_LOG_WARNING,
                   "commit log segment \"%s\": skipping %llu damaged bytes at offset %llu (%s); "
                   "replay resumes at offset %llu",
                   path, (unsigned long long)(found - off), (unsigned long long)off, reason,
                   (unsigned long long)found);
            cl->stats.replay_skipped_bytes += found - off;
            off = found;
            continue;
        }
        {
            uint64_t segend = expect->known && expect->end > off ? expect->end : r.size;

            cl_log(cl, WC_LOG_WARNING,
                   "commit log segment \"%s\": skipping the rest of the segment from offset %llu "
                   "(%llu bytes, %s)",
                   path, (unsigned long long)off, (unsigned long long)(segend - off), reason);
            cl->stats.replay_skipped_bytes += segend - off;
        }
        break;
    }
    if (!last && expect->known && off < expect->end && !damaged) {
        /* the data stops before the end the next segment recorded */
        reason = "the segment ends early: truncated, or a record header was zeroed";
        found = 0;
        bad_len = 0;
        cl_describe_loss(expect, off, nrec, loss);
        if (!cl->ignore_replay_errors) {
            st = wc_error(WC_CORRUPTION, "commit log segment \"%s\" is damaged at offset %llu (%s); %s",
                          path, (unsigned long long)off, reason, loss);
            goto fail;
        }
        cl_log(cl, WC_LOG_WARNING,
               "commit log segment \"%s\": skipping the rest of the segment from offset %llu "
               "(%llu bytes, %s)",
               path, (unsigned long long)off, (unsigned long long)(expect->end - off), reason);
        cl->stats.replay_skipped_bytes += expect->end - off;
        damaged = 1;
    }
done:
    if (damaged) {
        uint64_t lost = expect->known && expect->records > nrec ? expect->records - nrec : 0;

        cl->stats.replay_damaged_segments++;
        cl->stats.replay_skipped_records += lost;
        if (expect->known)
            cl_log(cl, WC_LOG_WARNING,
                   "commit log segment \"%s\": replayed %llu of its %llu records; %llu were "
                   "skipped because replay errors are ignored",
                   path, (unsigned long long)nrec, (unsigned long long)expect->records,
                   (unsigned long long)lost);
        else
            cl_log(cl, WC_LOG_WARNING,
                   "commit log segment \"%s\": replayed %llu records; an unknown number was "
                   "skipped because replay errors are ignored",
                   path, (unsigned long long)nrec);
    }
    got->known = true;
    got->end = off;
    got->records = nrec;
    cl->fs->close(r.f);
    wc_free(r.buf);
    return WC_OK;

fail:
    cl->fs->close(r.f);
    wc_free(r.buf);
    return st;
}

/* ------------------------------------------------------------------ open */

typedef struct wc__cllist {
    uint64_t *ids;
    size_t n, cap;
    uint64_t *free_ids;
    size_t nfree, capfree;
    int oom;
} wc__cllist;

static int cl_parse_name(const char *name, const char *suffix, uint64_t *id)
{
    size_t plen = strlen(WC_CL_FILE_PREFIX);
    const char *p = name + plen;
    uint64_t v = 0;
    int digits = 0;

    if (strncmp(name, WC_CL_FILE_PREFIX, plen) != 0)
        return 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || strcmp(p, suffix) != 0)
        return 0;
    *id = v;
    return 1;
}

static int cl_push(uint64_t **arr, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        uint64_t *a = wc_realloc(*arr, ncap * sizeof(**arr));

        if (a == NULL)
            return 0;
        *arr = a;
        *cap = ncap;
    }
    (*arr)[(*n)++] = v;
    return 1;
}

static int cl_list_cb(void *arg, const char *name)
{
    wc__cllist *l = arg;
    uint64_t id;

    if (cl_parse_name(name, WC_CL_FILE_SUFFIX, &id)) {
        if (!cl_push(&l->ids, &l->n, &l->cap, id)) {
            l->oom = 1;
            return 1;
        }
    } else if (cl_parse_name(name, WC_CL_FREE_SUFFIX, &id)) {
        if (!cl_push(&l->free_ids, &l->nfree, &l->capfree, id)) {
            l->oom = 1;
            return 1;
        }
    }
    return 0;
}

static int cl_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

wc_status wc_commitlog_open(const wc_commitlog_options *opts, wc_replay_fn replay, void *arg,
                            wc_commitlog **out)
{
    wc_commitlog *cl = NULL;
    wc__cllist l = {0};
    pthread_condattr_t ca;
    uint64_t max_id = 0, prev_id = 0;
    wc__clchain prev = {0};
    wc_status st;

    if (out == NULL || opts == NULL || opts->dir == NULL || opts->dir[0] == '\0')
        return wc_error(WC_INVALID_ARGUMENT, "commit log needs a directory");
    *out = NULL;
    if (strlen(opts->dir) > WC_CL_PATH_MAX - 64)
        return wc_error(WC_INVALID_ARGUMENT, "commit log directory name too long");
    if (opts->mode != WC_SYNC_PERIODIC && opts->mode != WC_SYNC_BATCH)
        return wc_error(WC_INVALID_ARGUMENT, "unknown commit log sync mode %d", (int)opts->mode);
    if (opts->segment_size && opts->segment_size < WC_CL_MIN_SEGMENT_SIZE)
        return wc_error(WC_INVALID_ARGUMENT, "commit log segment size %zu is below %u",
                        opts->segment_size, WC_CL_MIN_SEGMENT_SIZE);
    if (opts->max_record_size > (size_t)UINT32_MAX - 2 * WC_CL_HEADER_SIZE)
        return wc_error(WC_INVALID_ARGUMENT, "commit log max record size %zu is too large",
                        opts->max_record_size);

    cl = wc_calloc(1, sizeof(*cl));
    if (cl == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening the commit log");
    cl->fs = opts->fs ? opts->fs : wc_fs_posix();
    cl->mode = opts->mode;
    cl->period_ms = opts->period_ms ? opts->period_ms : WC_CL_DEFAULT_PERIOD_MS;
    cl->segment_size = opts->segment_size ? opts->segment_size : WC_CL_DEFAULT_SEGMENT_SIZE;
    cl->max_record_size = opts->max_record_size ? opts->max_record_size : WC_CL_DEFAULT_MAX_RECORD;
    cl->log = opts->log;
    cl->log_arg = opts->log_arg;
    cl->ignore_replay_errors = opts->ignore_replay_errors;
    cl->dir = wc_strdup(opts->dir);
    cl->wbuf = wc_malloc(WC_CL_COPY_MAX);
    if (cl->dir == NULL || cl->wbuf == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory opening the commit log");
        goto fail;
    }
    if (pthread_mutex_init(&cl->mu, NULL) != 0) {
        st = wc_error(WC_NO_MEMORY, "could not create the commit log mutex");
        goto fail;
    }
    if (pthread_condattr_init(&ca) != 0) {
        pthread_mutex_destroy(&cl->mu);
        st = wc_error(WC_NO_MEMORY, "could not create the commit log conditions");
        goto fail;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&cl->work_cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&cl->mu);
        st = wc_error(WC_NO_MEMORY, "could not create the commit log conditions");
        goto fail;
    }
    if (pthread_cond_init(&cl->done_cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_cond_destroy(&cl->work_cv);
        pthread_mutex_destroy(&cl->mu);
        st = wc_error(WC_NO_MEMORY, "could not create the commit log conditions");
        goto fail;
    }
    pthread_condattr_destroy(&ca);
    cl->sync_initialised = 1;

    st = wc_fs_mkdirs(cl->fs, cl->dir);
    if (st != WC_OK)
        goto fail;
    st = cl->fs->list(cl->fs, cl->dir, cl_list_cb, &l);
    if (st != WC_OK)
        goto fail;
    if (l.oom) {
        st = wc_error(WC_NO_MEMORY, "out of memory listing the commit log directory");
        goto fail;
    }
    if (l.n)
        qsort(l.ids, l.n, sizeof(*l.ids), cl_cmp_u64);
    for (size_t i = 0; i < l.nfree; i++)
        if (l.free_ids[i] > max_id)
            max_id = l.free_ids[i];
    if (l.n && l.ids[l.n - 1] > max_id)
        max_id = l.ids[l.n - 1];
    if (max_id == UINT64_MAX) {
        st = wc_error(WC_CORRUPTION, "commit log segment ids exhausted in \"%s\"", cl->dir);
        goto fail;
    }
    cl->next_id = max_id + 1;
    if (opts->min_next_id > cl->next_id)
        cl->next_id = opts->min_next_id;

    /* replay in id order, each segment checked against what its successor recorded */
    for (size_t i = 0; i < l.n; i++) {
        wc__clchain expect = {0}, got;
        int remove;

        if (i + 1 < l.n) {
            wc__clhdr h;
            int valid;

            cl_peek_header(cl, l.ids[i + 1], &h, &valid);
            if (valid && h.prev_id == l.ids[i]) {
                expect = (wc__clchain){true, h.prev_end, h.prev_records};
            } else if (valid && h.prev_id > l.ids[i]) {
                char path[WC_CL_PATH_MAX];

                cl_path(cl, l.ids[i + 1], WC_CL_FILE_SUFFIX, path);
                if (!cl->ignore_replay_errors) {
                    st = wc_error(WC_CORRUPTION,
                                  "commit log segment %llu is missing: \"%s\" was written after "
                                  "it, which held %llu records",
                                  (unsigned long long)h.prev_id, path,
                                  (unsigned long long)h.prev_records);
                    goto fail;
                }
                cl_log(cl, WC_LOG_WARNING,
                       "commit log segment %llu is missing (\"%s\" was written after it); its %llu "
                       "records are skipped because replay errors are ignored",
                       (unsigned long long)h.prev_id, path, (unsigned long long)h.prev_records);
                cl->stats.replay_damaged_segments++;
                cl->stats.replay_skipped_records += h.prev_records;
            }
        }
        st = cl_replay_segment(cl, l.ids[i], i + 1 == l.n, &expect, replay, arg, &got, &remove);
        if (st != WC_OK)
            goto fail;
        if (remove) {
            char path[WC_CL_PATH_MAX];

            st = cl_path(cl, l.ids[i], WC_CL_FILE_SUFFIX, path);
            if (st == WC_OK)
                st = cl->fs->unlink(cl->fs, path);
            if (st != WC_OK)
                goto fail;
            continue;
        }
        st = cl_live_add(cl, l.ids[i]);
        if (st != WC_OK)
            goto fail;
        cl->stats.segments++;
        prev_id = l.ids[i];
        prev = got;
    }

    /* adopt pool files, delete the surplus */
    for (size_t i = 0; i < l.nfree; i++) {
        if (cl->npool < WC_CL_POOL_MAX) {
            cl->pool[cl->npool++] = l.free_ids[i];
        } else {
            char path[WC_CL_PATH_MAX];

            if (cl_path(cl, l.free_ids[i], WC_CL_FREE_SUFFIX, path) == WC_OK)
                cl->fs->unlink(cl->fs, path);
        }
    }

    st = cl_create_segment(cl, cl->next_id, cl->segment_size, prev_id, &prev, &cl->active);
    if (st != WC_OK)
        goto fail;
    cl->next_id++;
    cl->write_pos = (wc_clpos){cl->active->id, cl->active->used};
    cl->synced_pos = cl->write_pos;

    if (cl->mode == WC_SYNC_PERIODIC) {
        st = wc__thread_start(&cl->thread, cl_sync_main, cl, "commit log sync");
        if (st != WC_OK)
            goto fail;
        cl->thread_started = 1;
    }
    wc_free(l.ids);
    wc_free(l.free_ids);
    *out = cl;
    return WC_OK;

fail:
    wc_free(l.ids);
    wc_free(l.free_ids);
    wc_commitlog_close(cl);
    return st;
}

/* ------------------------------------------------------------------ API */

void wc_commitlog_close(wc_commitlog *cl)
{
    wc_status st;

    if (cl == NULL)
        return;
    if (cl->thread_started) {
        pthread_mutex_lock(&cl->mu);
        cl->stop = 1;
        pthread_cond_broadcast(&cl->work_cv);
        pthread_mutex_unlock(&cl->mu);
        pthread_join(cl->thread, NULL);
    }
    if (cl->active) {
        if (cl->poison == WC_OK && wc_clpos_cmp(cl->synced_pos, cl->write_pos) < 0) {
            st = cl->fs->sync(cl->active->file);
            if (st == WC_OK)
                cl->stats.syncs++;
            else
                cl_log(cl, WC_LOG_WARNING, "commit log: final fsync failed: %s",
                       wc_last_error());
        }
        cl_seg_unref(cl, cl->active);
        cl->active = NULL;
    }
    if (cl->sync_initialised) {
        pthread_cond_destroy(&cl->done_cv);
        pthread_cond_destroy(&cl->work_cv);
        pthread_mutex_destroy(&cl->mu);
    }
    wc_free(cl->live);
    wc_free(cl->wbuf);
    wc_free(cl->dir);
    wc_free(cl);
}

wc_status wc_commitlog_append(wc_commitlog *cl, const uint8_t *rec, size_t len, wc_clpos *pos)
{
    uint8_t hdr[WC_CL_RECORD_HEADER_SIZE];
    uint64_t need, off;
    wc__clseg *seg;
    wc_status st = WC_OK;

    if (cl == NULL || pos == NULL || (rec == NULL && len))
        return wc_error(WC_INVALID_ARGUMENT, "commit log append: missing argument");
    if (len == 0)
        return wc_error(WC_INVALID_ARGUMENT, "commit log append: empty record");
    if (len > cl->max_record_size)
        return wc_error(WC_INVALID_ARGUMENT,
                        "commit log append: record of %zu bytes exceeds the limit %llu", len,
                        (unsigned long long)cl->max_record_size);
    need = WC_CL_RECORD_HEADER_SIZE + (uint64_t)len;

    pthread_mutex_lock(&cl->mu);
    if (cl->poison != WC_OK) {
        st = cl_poisoned_error(cl);
        goto out;
    }
    if (cl->nospace) {
        st = cl_recover_space(cl);
        if (st != WC_OK)
            goto out;
    }
    if (cl->active->used + need > cl->active->capacity) {
        st = cl_roll(cl, need);
        if (st != WC_OK)
            goto out;
    }
    seg = cl->active;
    off = seg->used;
    wc__cl_encode_record_header(hdr, seg->id, rec, (uint32_t)len);
    if (seg->map != NULL) {
        /* the payload first, as with two pwrites: a crash in between leaves a zero length */
        memcpy(seg->map + off + sizeof(hdr), rec, len);
        memcpy(seg->map + off, hdr, sizeof(hdr));
    } else if (need <= WC_CL_COPY_MAX) {
        memcpy(cl->wbuf, hdr, sizeof(hdr));
        memcpy(cl->wbuf + sizeof(hdr), rec, len);
        st = cl->fs->pwrite(seg->file, cl->wbuf, (size_t)need, off);
    } else {
        st = cl->fs->pwrite(seg->file, rec, len, off + sizeof(hdr));
        if (st == WC_OK)
            st = cl->fs->pwrite(seg->file, hdr, sizeof(hdr), off);
    }
    if (st != WC_OK) {
        cl_fail(cl, st);
        goto out;
    }
    seg->used += need;
    seg->records++;
    cl->write_pos = (wc_clpos){seg->id, seg->used};
    cl->stats.bytes += need;
    cl->stats.records++;
    *pos = (wc_clpos){seg->id, off};
    if (cl->idle)
        pthread_cond_signal(&cl->work_cv); /* the periodic window starts now */
out:
    pthread_mutex_unlock(&cl->mu);
    return st;
}

/* Wait until pos (NULL: all written) is durable; in periodic mode only with any_mode. */
static wc_status cl_wait_synced(wc_commitlog *cl, const wc_clpos *want, bool any_mode)
{
    wc_clpos wp0, pos;
    wc_status st = WC_OK;

    if (cl == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "commit log sync: no log");
    pthread_mutex_lock(&cl->mu);
    pos = want ? *want : cl->write_pos;
    if (cl->poison != WC_OK) {
        st = cl_poisoned_error(cl);
        goto out;
    }
    if (cl->mode == WC_SYNC_PERIODIC && !any_mode)
        goto out;
    wp0 = cl->write_pos;
    /* group commit: wait for the fsync under way, or do the next one */
    while (cl->poison == WC_OK && !cl_pos_reached(cl->synced_pos, pos, wp0)) {
        if (cl->syncing)
            pthread_cond_wait(&cl->done_cv, &cl->mu);
        else
            cl_sync_locked(cl);
    }
    if (cl->poison != WC_OK)
        st = cl_poisoned_error(cl);
out:
    pthread_mutex_unlock(&cl->mu);
    return st;
}

wc_status wc_commitlog_sync_to(wc_commitlog *cl, wc_clpos pos)
{
    return cl_wait_synced(cl, &pos, false);
}

wc_status wc_commitlog_sync_all(wc_commitlog *cl)
{
    return cl_wait_synced(cl, NULL, true);
}

wc_sync_mode wc_commitlog_mode(const wc_commitlog *cl)
{
    return cl->mode;
}

const char *wc_commitlog_dir(const wc_commitlog *cl)
{
    return cl->dir;
}

wc_status wc_commitlog_segment_path(const char *dir, uint64_t id, char *out, size_t n)
{
    return cl_path_in(dir, id, WC_CL_FILE_SUFFIX, out, n);
}

wc_clpos wc_commitlog_current(wc_commitlog *cl)
{
    wc_clpos p = {0, 0};

    if (cl == NULL)
        return p;
    pthread_mutex_lock(&cl->mu);
    p = cl->write_pos;
    pthread_mutex_unlock(&cl->mu);
    return p;
}

wc_status wc_commitlog_discard_before(wc_commitlog *cl, wc_clpos pos)
{
    char path[WC_CL_PATH_MAX], to[WC_CL_PATH_MAX];
    uint64_t limit;
    size_t done = 0;
    wc_status st = WC_OK;

    if (cl == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "commit log discard: no log");
    pthread_mutex_lock(&cl->mu);
    limit = pos.segment < cl->active->id ? pos.segment : cl->active->id;
    while (done < cl->nlive && cl->live[done] < limit) {
        uint64_t id = cl->live[done];

        st = cl_path(cl, id, WC_CL_FILE_SUFFIX, path);
        if (st != WC_OK)
            break;
        if (cl->npool < WC_CL_POOL_MAX) {
            st = cl_path(cl, id, WC_CL_FREE_SUFFIX, to);
            if (st == WC_OK)
                st = cl->fs->rename(cl->fs, path, to);
            if (st != WC_OK)
                break;
            cl->pool[cl->npool++] = id;
        } else {
            st = cl->fs->unlink(cl->fs, path);
            if (st != WC_OK && st != WC_NOT_FOUND)
                break;
            st = WC_OK;
        }
        done++;
    }
    if (done) {
        memmove(cl->live, cl->live + done, (cl->nlive - done) * sizeof(*cl->live));
        cl->nlive -= done;
        cl->stats.segments -= done;
        if (st == WC_OK)
            st = cl->fs->sync_dir(cl->fs, cl->dir);
    }
    pthread_mutex_unlock(&cl->mu);
    return st;
}

void wc_commitlog_get_stats(wc_commitlog *cl, wc_commitlog_stats *out)
{
    if (cl == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    pthread_mutex_lock(&cl->mu);
    *out = cl->stats;
    pthread_mutex_unlock(&cl->mu);
}
