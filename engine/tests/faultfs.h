/*
 * faultfs.h - a fault-injecting wc_fs for tests, layered over another wc_fs.
 *
 * A wc_faultfs forwards every operation to its base file system (normally
 * wc_fs_posix()) and can be told to:
 *  - fail the Nth pwrite from now (or that one and every later one) with
 *    WC_NO_SPACE (ENOSPC) or WC_IO_ERROR (EIO), optionally after writing part
 *    of the buffer (a short write);
 *  - fail the Nth fsync from now (or every one from then on) with WC_IO_ERROR,
 *    or make every fsync slow;
 *  - crash: wc_faultfs_crash() undoes, in every file written through it,
 *    everything not covered by a successful fsync of that file (appended
 *    bytes, overwrites, truncations, preallocation) and then makes every
 *    operation fail with WC_IO_ERROR until wc_faultfs_reset().
 *
 * Crash model: file contents are tracked per path (renames and unlinks are
 * followed); a successful sync makes every change that happened before the
 * sync started durable.  Files opened but never changed through the faultfs
 * are left alone.  Directory operations (file creation, hard link, rename,
 * unlink, mkdir, rmdir) are durable at once, unless wc_faultfs_power_loss_mode() was
 * called: then, as POSIX and ext4 promise, such an operation is durable only
 * once its directory was fsynced (sync_dir) after it; a crash undoes the
 * others, newest first (a removed file or directory comes back with its
 * durable content, a created one disappears, a rename is reversed).  A new
 * file whose own directory entry was never synced disappears even if its
 * contents were.
 *
 * Triggers (wc_faultfs_trigger) count operations of one kind, or of every
 * kind, optionally only on paths containing a string, and at the nth one
 * crash the machine (before or right after the operation) or fail the call
 * with WC_IO_ERROR (EIO) or WC_NO_SPACE (ENOSPC).  Every operation but close
 * is numbered (wc_faultfs_op_count) so that sweeps know how far to go;
 * with WC_FF_TRACE set in the environment each one is printed.
 *
 * Memory: the faultfs uses libc malloc, never wc_malloc, so allocation
 * failure injection (wc_alloc_fail_after) and wc_alloc_live_count only see
 * the code under test.  Keeping undo data costs memory proportional to the
 * bytes changed since the last sync.
 *
 * Thread-safety: every function and every file operation may be called from
 * any thread; an internal mutex serializes writes (fsyncs of the base file
 * system run outside it).
 */
#ifndef WC_FAULTFS_H
#define WC_FAULTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "status.h"

typedef struct wc_faultfs wc_faultfs;

/* Operation kinds for triggers. */
typedef enum wc_faultfs_op {
    WC_FF_ANY = 0,
    WC_FF_OPEN,
    WC_FF_READ,
    WC_FF_WRITE,
    WC_FF_SYNC,
    WC_FF_SIZE,
    WC_FF_TRUNCATE,
    WC_FF_ALLOCATE,
    WC_FF_RENAME,
    WC_FF_UNLINK,
    WC_FF_MKDIR,
    WC_FF_RMDIR,
    WC_FF_SYNC_DIR,
    WC_FF_LIST,
    WC_FF_EXISTS,
    WC_FF_LINK,
} wc_faultfs_op;

/* What a trigger does when it fires. */
typedef enum wc_faultfs_action {
    WC_FF_CRASH_BEFORE, /* power loss instead of the operation */
    WC_FF_CRASH_AFTER,  /* the operation completes, then power loss (it returns an error) */
    WC_FF_FAIL,         /* the operation does nothing and returns the trigger's status */
} wc_faultfs_action;

typedef struct wc_faultfs_counts {
    uint64_t writes;        /* pwrite calls (failed ones included) */
    uint64_t syncs;         /* sync calls (failed ones included) */
    uint64_t failed_writes; /* pwrites failed by injection */
    uint64_t failed_syncs;  /* syncs failed by injection */
    uint64_t crashes;       /* wc_faultfs_crash calls */
    uint64_t maps;          /* files mapped (wc_faultfs_map_mode) */
    uint64_t map_writebacks; /* runs of mapped stores written to their file */
} wc_faultfs_counts;

/* API */

/*
 * Create a faultfs over base (NULL: wc_fs_posix()).  Returns NULL when out of
 * memory.  Free with wc_faultfs_free.
 */
wc_faultfs *wc_faultfs_new(wc_fs *base);

/* REQUIRES: no file opened through it is still open.  NULL is a no-op. */
void wc_faultfs_free(wc_faultfs *ff);

/* The table to hand to engine code; valid until wc_faultfs_free. */
wc_fs *wc_faultfs_fs(wc_faultfs *ff);

/*
 * Arm a write fault: the nth pwrite from now (1 = the next one) fails with
 * st, which must be WC_NO_SPACE or WC_IO_ERROR (anything else is taken as
 * WC_IO_ERROR).  With sticky, that pwrite and every later one fail.  Before
 * failing, the first min(partial, length) bytes of the buffer are written
 * (partial = 0: nothing is written).  nth = 0 disarms.
 */
void wc_faultfs_fail_write(wc_faultfs *ff, uint64_t nth, bool sticky, wc_status st,
                           size_t partial);

/*
 * Arm a sync fault: the nth sync from now fails with WC_IO_ERROR (and every
 * later one with sticky).  A failed sync makes nothing durable.  nth = 0
 * disarms.
 */
void wc_faultfs_fail_sync(wc_faultfs *ff, uint64_t nth, bool sticky);

/* Make every later sync sleep usec microseconds first (a slow disk); 0 = off. */
void wc_faultfs_sync_delay(wc_faultfs *ff, uint32_t usec);

/* Make every later sync of a file whose path contains path_part sleep usec
 * microseconds first (NULL or 0: off); a crash meanwhile makes it fail. */
void wc_faultfs_stall_syncs(wc_faultfs *ff, const char *path_part, uint32_t usec);

/*
 * Simulate a machine crash: drop every change not covered by a successful
 * sync (see the crash model above), then fail every later operation with
 * WC_IO_ERROR (close still frees its file) until wc_faultfs_reset.
 */
void wc_faultfs_crash(wc_faultfs *ff);

/*
 * Make later crashes less kind (seed 0: off): in each file a random number
 * of the oldest unsynced changes survives, and of the first one lost a
 * random prefix of its bytes reached the disk (a torn write), as when the
 * kernel wrote some dirty pages back before the power went.
 */
void wc_faultfs_crash_keeps(wc_faultfs *ff, uint64_t seed);

/* Leave the crashed state, disarm every fault, the sync delay and stall.  Counters are kept. */
void wc_faultfs_reset(wc_faultfs *ff);

/*
 * Model lost directory operations too (see the crash model above).  stash is
 * an existing, empty directory on the same file system, outside every
 * directory the code under test lists: removed and replaced files wait there
 * until their removal is durable (NULL: directory operations stay durable at
 * once).  With no_real_sync, sync and sync_dir only update the model and
 * never reach the disk (fast; the model alone decides what survives).  Call
 * before any file is opened.
 */
void wc_faultfs_power_loss_mode(wc_faultfs *ff, const char *stash, bool no_real_sync);

/*
 * The usual power-loss setup: a faultfs over wc_fs_posix() in power-loss
 * mode with no_real_sync, its stash the new directory <root>/stash (root
 * must exist; keep the files under test outside the stash).  NULL when
 * out of memory or the stash cannot be made.
 */
wc_faultfs *wc_faultfs_new_power_loss(const char *root);

/*
 * Arm the trigger (one at a time; a new call replaces it): the nth operation
 * from now of kind op (WC_FF_ANY: of every kind) whose path contains
 * path_part (NULL: any path) fires action.  For WC_FF_FAIL, st is
 * WC_NO_SPACE or WC_IO_ERROR and with sticky every later matching operation
 * fails too.  nth = 0 disarms.
 */
void wc_faultfs_trigger(wc_faultfs *ff, wc_faultfs_op op, const char *path_part, uint64_t nth,
                        wc_faultfs_action action, wc_status st, bool sticky);

/* Has the trigger fired since it was armed? */
bool wc_faultfs_triggered(wc_faultfs *ff);

/*
 * Map files (off by default: fs->map is NULL, so code under test writes
 * with pwrite and write faults apply).  With on, fs->map hands out a
 * private copy of the file's first bytes, the process's view of a shared
 * mapping: stores into it reach the file only when written back, as the
 * kernel writes dirty pages, which the faultfs does before a sync of that
 * file (so the sync makes them durable), a truncate, a read and at unmap or
 * close; a crash loses what was not written back.  Write-backs are saved
 * for undo like pwrites, numbered as of the previous write-back, and
 * wc_faultfs_durable_frontier counts a mapping holding unwritten stores as
 * not durable since then.  Mapping is not a numbered operation; write
 * faults do not apply to write-backs.
 */
void wc_faultfs_map_mode(wc_faultfs *ff, bool on);

/* Operations numbered so far (every call but close, also failed ones). */
uint64_t wc_faultfs_op_count(wc_faultfs *ff);

/*
 * Watch the files whose path contains path_part (NULL: stop).
 * wc_faultfs_durable_frontier then returns an operation number F such that
 * every write to a watched file numbered below F (wc_faultfs_op_count) is
 * durable: now, or, while crashed, at the moment of the crash.  0 when
 * nothing is watched.
 */
void wc_faultfs_watch_syncs(wc_faultfs *ff, const char *path_part);
uint64_t wc_faultfs_durable_frontier(wc_faultfs *ff);

/* Copy the counters. */
void wc_faultfs_get_counts(wc_faultfs *ff, wc_faultfs_counts *out);

/*
 * Length path had at its last successful sync (or when the faultfs first saw
 * it).  Returns false if the faultfs does not track path.
 */
bool wc_faultfs_synced_length(wc_faultfs *ff, const char *path, uint64_t *out);

#endif /* WC_FAULTFS_H */
