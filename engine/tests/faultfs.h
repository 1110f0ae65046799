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
 * sync started durable.  Directory operations (create, rename, unlink) are
 * durable at once.  Files opened but never changed through the faultfs are
 * left alone.
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

typedef struct wc_faultfs_counts {
    uint64_t writes;        /* pwrite calls (failed ones included) */
    uint64_t syncs;         /* sync calls (failed ones included) */
    uint64_t failed_writes; /* pwrites failed by injection */
    uint64_t failed_syncs;  /* syncs failed by injection */
    uint64_t crashes;       /* wc_faultfs_crash calls */
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

/*
 * Simulate a machine crash: drop every change not covered by a successful
 * sync (see the crash model above), then fail every later operation with
 * WC_IO_ERROR (close still frees its file) until wc_faultfs_reset.
 */
void wc_faultfs_crash(wc_faultfs *ff);

/* Leave the crashed state, disarm every fault and the sync delay.  Counters are kept. */
void wc_faultfs_reset(wc_faultfs *ff);

/* Copy the counters. */
void wc_faultfs_get_counts(wc_faultfs *ff, wc_faultfs_counts *out);

/*
 * Length path had at its last successful sync (or when the faultfs first saw
 * it).  Returns false if the faultfs does not track path.
 */
bool wc_faultfs_synced_length(wc_faultfs *ff, const char *path, uint64_t *out);

#endif /* WC_FAULTFS_H */
