/*
 * clsync.h - a client's fsync of the node's commit log (batch mode).
 *
 * In batch mode a write is acknowledged only once its commit-log record is
 * fsynced.  When the node does that fsync itself, a write costs its client
 * two thread wake-ups more than the fsync alone (the ring worker waits for
 * the disk, then wakes the client).  So a node that serves a shared-memory
 * ring publishes its commit log's directory there
 * (wc_shmring_set_commitlog) and answers a client that asked for it
 * (wc_client_apply_unsynced) as soon as the record is appended and applied,
 * with the record's position; the client then makes the record durable
 * itself with wc_clsync_to, as a PostgreSQL backend flushes the WAL of its
 * own commit.
 *
 * Why an fsync from another process is enough: the node appends records
 * in log order under one mutex, and publishes each record's position
 * (wc_shmring_note_appended) only after its write returned.  So an fsync
 * of the segment's file that starts after the client read the latest
 * published position P covers every record of that segment starting at or
 * before P: the file's pages hold them already.  The client then notes
 * (wc_shmring_note_synced) that they are durable, and a client whose
 * record is covered skips its own fsync (group commit).  A segment the log
 * rolled past was fsynced whole by the roll, and a segment whose file is
 * gone was rolled and retired, so both count as durable.
 *
 * The positions are those of the node serving the ring.  A node that
 * restarts between its answer and the client's fsync leaves positions of
 * the next node there, which say nothing of the record (a later segment of
 * the new node is no roll of the record's), so a client whose ring slot
 * belongs to an earlier node fsyncs the record's segment file itself and
 * trusts nothing else (wc_clsync_durable, wc_shmring_slot_current).
 *
 * Group commit needs the callers of one ring to take turns: hold one lock
 * shared by all the ring's clients around wc_clsync_to (a PostgreSQL
 * backend uses an LWLock with LWLockAcquireOrWait, and looks at
 * wc_clsync_durable again after waiting for another client's turn).
 *
 * Errors: any failure (the file cannot be opened, the fsync fails) is
 * returned and the caller falls back to wc_client_sync, so the node does
 * the fsync.  After a failed fsync the node's own fsync of the file fails
 * too (the kernel reports a write-back error to every file open on it at
 * the time), which makes the node refuse further writes, as when its own
 * fsync fails.
 *
 * Thread-safety: a wc_clsync_file belongs to one thread.
 */
#ifndef WC_CLSYNC_H
#define WC_CLSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "commitlog.h"
#include "fs.h"
#include "shmring.h"
#include "status.h"

/* The segment file a client keeps open between fsyncs. */
typedef struct wc_clsync_file {
    wc_file *file; /* NULL: none open */
    uint64_t id;   /* its segment */
} wc_clsync_file;

/*
 * Make the record at pos (answered by wc_client_apply_unsynced, whose ring
 * slot is slot) durable: at once if it is known durable, else by an fsync
 * of its segment's file
 * (opened through fs, normally wc_fs_posix(), and kept open in *f).
 * *fsynced tells whether this call fsynced.  WC_OK: durable (counted in
 * the ring as WC_CLSYNC_FSYNC or WC_CLSYNC_COVERED).  Any other status:
 * not known durable; call wc_client_sync (and count WC_CLSYNC_NODE).
 */
wc_status wc_clsync_to(wc_shmring *r, uint32_t slot, wc_fs *fs, wc_clsync_file *f, wc_clpos pos,
                       bool *fsynced);

/*
 * Is the record at pos known durable?  Only positions published by the node
 * that answered through slot (the client's ring slot) count: after a
 * restart the shared positions are the new node's, and wc_clsync_to then
 * fsyncs the record's segment file whatever the ring says.
 */
bool wc_clsync_durable(wc_shmring *r, uint32_t slot, wc_clpos pos);

/* Close the file kept open, if any. */
void wc_clsync_close(wc_clsync_file *f);

#endif /* WC_CLSYNC_H */
