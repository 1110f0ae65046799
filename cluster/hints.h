/*
 * hints.h - the durable, bounded store of hints (hinted handoff).
 *
 * When a replica is down, the coordinator keeps the write it missed as a
 * hint: the mutation batch for that one replica, the table's identity (opaque
 * bytes the caller chooses) and the hint's creation time and lifetime.  When
 * the replica comes back, hint delivery (hint_delivery.h) reads its hints in
 * order and marks them delivered.  The store owns one directory (the node
 * gives $datadir/hints); per target host id, hints are appended to segment
 * files of checksummed records (hints_format.h, docs/file-formats.md
 * "Hints").  A whole segment is deleted once every hint in it was delivered
 * or has expired; the delivered position is kept in a small file replaced
 * atomically, so a restart redelivers at most what was acknowledged after
 * the last mark (redelivery is harmless: writes resolve last-write-wins).
 *
 * Durability: with WC_HINTS_SYNC_EACH, wc_hints_append fsyncs the hint
 * before it returns (what consistency ANY needs: the hint is the write).
 * With WC_HINTS_SYNC_PERIODIC appends only write; the owner calls
 * wc_hints_sync from a timer every hints_flush_period (Cassandra's
 * hints_flush_period, 10 s by default) and on shutdown, so a power loss
 * loses at most the hints of that period.
 *
 * Damage: open validates every segment header and every record checksum.
 * A file with a bad header is reported by name, counted and never read.  An
 * incomplete record at the end of a segment (a torn write at a crash) is cut
 * off.  A record that fails its checksum with valid records after it is
 * never served: it is logged (file and offset) and counted as lost, and
 * reading resumes at the next valid record.
 *
 * Bounds: a hint is refused (WC_UNAVAILABLE) for a target that has been down
 * longer than max_hint_window_ms (Cassandra's max_hint_window: repair, not
 * hints, restores such a replica) and (WC_OVERLOADED) when the store's files
 * would grow past max_total_bytes; the coordinator then counts the write as
 * not hinted, or fails it if it needed the hint.
 *
 * Thread-safety: every function may be called from any thread; one mutex
 * serializes them (the coordinator appends and delivery reads from the
 * node's loop, so it is rarely contended).
 */
#ifndef WC_HINTS_H
#define WC_HINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "env.h"
#include "fs.h"
#include "status.h"

#define WC_HOST_ID_LEN 16

typedef struct wc_hints wc_hints;

typedef enum wc_hints_sync_mode {
    WC_HINTS_SYNC_PERIODIC = 0, /* the owner calls wc_hints_sync */
    WC_HINTS_SYNC_EACH = 1,     /* every append is fsynced before it returns */
} wc_hints_sync_mode;

typedef struct wc_hints_options {
    const char *dir;             /* required; created if missing */
    wc_fs *fs;                   /* NULL: wc_fs_posix() */
    wc_hints_sync_mode sync;
    uint64_t segment_bytes;      /* roll to a new segment past this; 0: 8 MiB */
    uint64_t max_total_bytes;    /* all targets' files; 0: 1 GiB */
    uint64_t max_hint_window_ms; /* 0: 3 hours (Cassandra's default) */
    /* One log line (file damage, lost records); NULL: none. */
    void (*log)(void *arg, wc_env_log_level level, const char *msg);
    void *log_arg;
} wc_hints_options;

/* A place in one target's hints: segment seq and offset of a record. */
typedef struct wc_hint_pos {
    uint64_t seq;
    uint64_t offset;
} wc_hint_pos;

static inline int wc_hint_pos_cmp(wc_hint_pos a, wc_hint_pos b)
{
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    if (a.offset != b.offset)
        return a.offset < b.offset ? -1 : 1;
    return 0;
}

/* One hint as read; the pointers are into the caller's scratch buffer. */
typedef struct wc_hint {
    int64_t created_us;
    uint32_t ttl_s;
    const uint8_t *table;
    size_t table_len;
    const uint8_t *batch;
    size_t batch_len;
    wc_hint_pos pos;  /* where the hint starts */
    wc_hint_pos next; /* just past it: the position to mark delivered */
} wc_hint;

typedef struct wc_hints_target_stats {
    uint64_t hints;         /* stored and not yet delivered */
    uint64_t bytes;         /* file bytes of those hints (record framing included) */
    int64_t oldest_us;      /* creation time of the oldest stored hint; 0: none */
    uint32_t segments;
} wc_hints_target_stats;

typedef struct wc_hints_stats {
    uint64_t targets;
    uint64_t hints;
    uint64_t total_bytes;     /* every segment file, what max_total_bytes bounds */
    int64_t oldest_us;
    uint64_t appended;        /* since open */
    uint64_t refused_window;  /* target down longer than max_hint_window */
    uint64_t refused_full;    /* max_total_bytes reached */
    uint64_t expired;         /* hints dropped unsent because their ttl passed */
    uint64_t lost;            /* records that failed their checksum */
    uint64_t torn_tails;      /* incomplete last records cut off at open */
    uint64_t damaged_files;   /* segment or position files with a bad header */
} wc_hints_stats;

/* API */

/* Fill o with the defaults (dir left NULL). */
void wc_hints_options_default(wc_hints_options *o);

/*
 * Open (creating the directory if needed) and scan every file in it.
 * Damaged files and records are logged and counted (see the top).
 * WC_INVALID_ARGUMENT (no dir), WC_IO_ERROR, WC_NO_MEMORY.  Caller closes.
 */
wc_status wc_hints_open(const wc_hints_options *o, wc_hints **out);

/* Sync what was appended, close files, free.  NULL is a no-op. */
void wc_hints_close(wc_hints *h);

/*
 * Append a hint for target: table[0..table_len) the table's identity, batch
 * the mutation batch for that replica, ttl_s its lifetime (the table's
 * gc_grace_seconds; 0: not stored, WC_INVALID_ARGUMENT), now_us the
 * creation time, down_since_us when the target was last seen going down
 * (0: unknown, no window check).  With SYNC_EACH it is durable on return.
 * WC_UNAVAILABLE: down longer than max_hint_window; WC_OVERLOADED: store
 * full; WC_INVALID_ARGUMENT: empty batch, table over WC_HINTS_MAX_TABLE or
 * hint over WC_HINTS_MAX_PAYLOAD; WC_IO_ERROR / WC_NO_SPACE from the file
 * system (the hint is not stored; the store stays usable: the damaged
 * segment is closed and the next append starts a new one); WC_NO_MEMORY.
 */
wc_status wc_hints_append(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN], const void *table,
                          size_t table_len, const uint8_t *batch, size_t batch_len,
                          uint32_t ttl_s, int64_t now_us, int64_t down_since_us);

/* Fsync every segment appended to since the last sync.  WC_IO_ERROR. */
wc_status wc_hints_sync(wc_hints *h);

/*
 * The delivered position of target: where reading starts after a restart.
 * WC_NOT_FOUND if the store holds no hint for target.
 */
wc_status wc_hints_start(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN], wc_hint_pos *out);

/*
 * Read the first hint of target at or after from that is alive at now_us
 * (created_us + ttl_s in the future) into *out; its bytes go into scratch
 * (the caller's buffer, reset here).  Expired hints on the way are skipped
 * and counted (once each); damaged records are skipped, logged and counted.
 * WC_NOT_FOUND when there is none; WC_IO_ERROR; WC_NO_MEMORY.
 */
wc_status wc_hints_read(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN], wc_hint_pos from,
                        int64_t now_us, wc_buf *scratch, wc_hint *out);

/*
 * Every hint of target before upto was delivered (upto: a wc_hint.next).
 * Deletes segments wholly before it and makes the position durable.
 * A position behind the current one is ignored.  WC_IO_ERROR.
 */
wc_status wc_hints_mark_delivered(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN],
                                  wc_hint_pos upto);

/* Delete every hint of target (the host left the cluster).  WC_IO_ERROR. */
wc_status wc_hints_delete_target(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN]);

/*
 * Delete the segments (of every target) whose hints have all expired at
 * now_us; they count as expired.  Call from a timer.  WC_IO_ERROR.
 */
wc_status wc_hints_expire(wc_hints *h, int64_t now_us);

/* Store-wide counters; and one target's (all zero if it has no hints). */
void wc_hints_get_stats(wc_hints *h, wc_hints_stats *out);
void wc_hints_target_stats_get(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN],
                               wc_hints_target_stats *out);

/*
 * Call cb for each target with hints (under the store's lock: cb must not
 * call the store).  Stops when cb returns non-zero.
 */
void wc_hints_foreach_target(wc_hints *h,
                             int (*cb)(void *arg, const uint8_t target[WC_HOST_ID_LEN]),
                             void *arg);

#endif /* WC_HINTS_H */
