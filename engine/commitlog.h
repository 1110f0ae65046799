/*
 * commitlog.h - the append-only, checksummed, segmented commit log.
 *
 * The commit log owns the segment files CommitLog-<id>.log in its directory
 * (byte layout in commitlog_format.h and docs/file-formats.md).  Records are
 * opaque byte strings (the engine writes encoded mutation batches).
 *
 * Durability modes:
 *  - WC_SYNC_PERIODIC: wc_commitlog_sync_to returns at once; a background
 *    thread fsyncs every period_ms, so at most period_ms of acknowledged
 *    writes (plus the duration of one fsync and the write in progress) can
 *    be lost in a crash.
 *  - WC_SYNC_BATCH: wc_commitlog_sync_to returns only once the record is
 *    fsynced; concurrent waiters share one fsync (group commit), which the
 *    calling thread does itself when none is under way (no sync thread).
 *
 * Open replays every existing segment in order: a torn or corrupt tail of the
 * last segment (an incomplete or checksum-failing record after which no valid
 * record follows) is truncated and reported through the log callback.  Each
 * segment header records where the segment before it ends and how many
 * records it holds, so damage to an older segment (a bad record, a file
 * truncated at a record boundary, a zeroed record header, a missing segment)
 * or a bad record followed by valid ones is WC_CORRUPTION naming the file,
 * offset and the records lost, and open fails.  With ignore_replay_errors the
 * readable records are replayed, the damage is logged as warnings and counted
 * in the stats (replay_skipped_*), and open succeeds.  Segments whose records all lie before a position handed to
 * wc_commitlog_discard_before are recycled (renamed for reuse) or deleted.
 *
 * Thread-safety: every function may be called from any thread; appends are
 * serialized by an internal mutex and get increasing positions.
 */
#ifndef WC_COMMITLOG_H
#define WC_COMMITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "status.h"

typedef struct wc_commitlog wc_commitlog;

typedef enum wc_sync_mode {
    WC_SYNC_PERIODIC = 0,
    WC_SYNC_BATCH = 1,
} wc_sync_mode;

/* A position in the log: records compare by (segment, offset). */
typedef struct wc_clpos {
    uint64_t segment;
    uint64_t offset;
} wc_clpos;

static inline int wc_clpos_cmp(wc_clpos a, wc_clpos b)
{
    if (a.segment != b.segment)
        return a.segment < b.segment ? -1 : 1;
    if (a.offset != b.offset)
        return a.offset < b.offset ? -1 : 1;
    return 0;
}

#define WC_LOG_DEBUG 0
#define WC_LOG_INFO 1
#define WC_LOG_WARNING 2
#define WC_LOG_ERROR 3
typedef void (*wc_log_fn)(void *arg, int level, const char *msg);

typedef struct wc_commitlog_options {
    wc_fs *fs;               /* NULL: wc_fs_posix() */
    const char *dir;         /* created if missing */
    wc_sync_mode mode;
    uint32_t period_ms;      /* periodic mode; default 10 */
    size_t segment_size;     /* bytes; default 32 MiB; a larger record gets its own segment */
    size_t max_record_size;  /* default 64 MiB; larger appends are WC_INVALID_ARGUMENT */
    wc_log_fn log;           /* may be NULL */
    void *log_arg;
    bool ignore_replay_errors; /* replay past damaged segments, logging what is skipped */
    /* the first new segment's id is at least this (the engine passes one past the newest
     * segment a manifest names as flushed, so an emptied log never reuses an older id) */
    uint64_t min_next_id;
} wc_commitlog_options;

/* Called for each replayed record in log order; return non-WC_OK to abort open. */
typedef wc_status (*wc_replay_fn)(void *arg, wc_clpos pos, const uint8_t *rec, size_t len);

/* API */

/*
 * Open the log in opts->dir, replay existing segments through replay (may be
 * NULL), then start a new segment for appends.  On failure nothing is left
 * open.  Returns WC_CORRUPTION for mid-log corruption, WC_IO_ERROR, ...
 */
wc_status wc_commitlog_open(const wc_commitlog_options *opts, wc_replay_fn replay, void *arg,
                            wc_commitlog **out);

/* Stop the sync thread (periodic mode), fsync, close files, free. */
void wc_commitlog_close(wc_commitlog *cl);

/*
 * Append one record; *pos receives its position.  Does not wait for fsync:
 * call wc_commitlog_sync_to(pos) before acknowledging the write.
 * WC_NO_SPACE when the disk is full; the log is not poisoned by it: a later
 * append drops any partial record, rolls to a new segment and succeeds once
 * there is room again.  After any other write or fsync error (WC_IO_ERROR)
 * the log refuses every further append until it is reopened.
 */
wc_status wc_commitlog_append(wc_commitlog *cl, const uint8_t *rec, size_t len, wc_clpos *pos);

/* Wait until pos is durable as the mode promises (see above). */
wc_status wc_commitlog_sync_to(wc_commitlog *cl, wc_clpos pos);

/*
 * Wait until every record appended so far is durable, in either mode
 * (periodic: the caller fsyncs at once, or waits for an fsync under way,
 * instead of waiting for the end of the period).  The status of a
 * poisoned log.
 */
wc_status wc_commitlog_sync_all(wc_commitlog *cl);

/* The mode and the directory the log was opened with. */
wc_sync_mode wc_commitlog_mode(const wc_commitlog *cl);
const char *wc_commitlog_dir(const wc_commitlog *cl);

/*
 * The path of segment id's file in the log directory dir, into out (n
 * bytes); WC_INVALID_ARGUMENT if it does not fit.  A segment that is no
 * longer the active one was fsynced whole when the log rolled past it,
 * and one whose file is gone was rolled and then retired, so another
 * process that fsyncs the file of a record's segment (or finds it gone)
 * makes that record durable.
 */
wc_status wc_commitlog_segment_path(const char *dir, uint64_t id, char *out, size_t n);

/* Position the next append will get (for memtable switch boundaries). */
wc_clpos wc_commitlog_current(wc_commitlog *cl);

/* Every record before pos is no longer needed (flushed to SSTables). */
wc_status wc_commitlog_discard_before(wc_commitlog *cl, wc_clpos pos);

/* Counters for stats views. */
typedef struct wc_commitlog_stats {
    uint64_t segments;      /* live segment files */
    uint64_t bytes;         /* bytes appended since open */
    uint64_t syncs;         /* fsyncs done */
    uint64_t records;       /* records appended since open */
    uint64_t replayed;      /* records replayed at open */
    uint64_t truncated_tail_bytes; /* torn tail dropped at open */
    uint64_t replay_damaged_segments; /* damaged segments replayed past (ignore_replay_errors) */
    uint64_t replay_skipped_records;  /* records known lost in them */
    uint64_t replay_skipped_bytes;    /* damaged bytes skipped in them */
    uint64_t mapped_segments;         /* segments since open written through a mapping */
} wc_commitlog_stats;
void wc_commitlog_get_stats(wc_commitlog *cl, wc_commitlog_stats *out);

#endif /* WC_COMMITLOG_H */
