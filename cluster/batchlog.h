/*
 * batchlog.h - logged batches: a write that touches several partitions or
 * tables (a transaction's batch) lands on its replicas all or nothing,
 * even when its coordinator dies half-way (Cassandra's logged batch).
 *
 * Coordinator side (wc_batchlog_write): the whole batch is first stored
 * durably on the batchlog replicas: two other live nodes, of this node's
 * data centre when it has two, else of any data centre (fewer live nodes:
 * the one there is); a cluster of this node alone keeps the entry itself.
 * No live node to hold it while others exist: WC_UNAVAILABLE, nothing
 * written.  Once every chosen holder has acknowledged, the mutations go
 * through the coordinator (coordinator.h), one wc_coord_write per table, at
 * the statement's level; when all of them met the level the holders are
 * told to remove the entry (fire and forget).  A write that fails after the
 * batchlog write keeps the entry, so the replay completes it: its error
 * says the batch will still be applied.
 *
 * Holder side: entries live in the storage (durable: a file each, fsynced
 * before the acknowledgement, checksummed, under <data dir>/batchlog) and
 * in memory.  A replay timer looks at them every replay_interval_ms; an
 * entry held longer than replay_after_ms (counted from when it arrived, or
 * from the holder's start for entries found on disk) whose removal never
 * came is replayed: every table's mutations at level ALL through this
 * node's coordinator; when all of them succeed the entry is removed, else
 * it is tried again at the next tick (mutations carry their timestamps, so
 * writing them twice changes nothing: both holders may replay one batch,
 * each removes its own entry; counter deltas, which would count twice, are
 * refused in logged batches, and a held entry with one is dropped).
 * Either every mutation eventually
 * lands on its replicas or, when no holder ever stored the batch, none was
 * sent.
 *
 * Thread-safety: none; a batchlog lives on its node's loop (env.h), as its
 * coordinator, and every function and callback runs there.
 */
#ifndef WC_BATCHLOG_H
#define WC_BATCHLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batchlog_format.h"
#include "coordinator.h"
#include "env.h"
#include "fs.h"
#include "ring.h"
#include "status.h"

typedef struct wc_batchlog wc_batchlog;

/* Called for every entry found in the storage when the batchlog opens. */
typedef void (*wc_batchlog_load_cb)(void *arg, const uint8_t id[WC_BATCHLOG_ID_LEN],
                                    const uint8_t *batch, size_t len);

/* Where a holder keeps its entries across restarts. */
typedef struct wc_batchlog_storage {
    /* Store the entry durably (WC_OK only once it survives a crash). */
    wc_status (*put)(void *ctx, const uint8_t id[WC_BATCHLOG_ID_LEN], const uint8_t *batch,
                     size_t len);
    /* Forget the entry (best effort: an entry that comes back is replayed once more). */
    void (*remove)(void *ctx, const uint8_t id[WC_BATCHLOG_ID_LEN]);
    /* Call cb for every entry stored; damaged ones are reported through log and skipped. */
    wc_status (*load)(void *ctx, wc_batchlog_load_cb cb, void *arg);
    void *ctx;
} wc_batchlog_storage;

typedef struct wc_batchlog_options {
    wc_env *env;
    wc_coord *coord; /* mutations and replays go through it (not owned) */
    uint8_t self_id[WC_RING_HOST_ID_LEN];
    char self_dc[WC_REPL_DC_NAME_MAX];
    bool (*is_alive)(void *ctx, const wc_ring_member *host);
    void *ctx;
    wc_batchlog_storage storage;
    uint32_t replay_after_ms;    /* 0: WC_BATCHLOG_DEFAULT_REPLAY_AFTER_MS */
    uint32_t replay_interval_ms; /* 0: WC_BATCHLOG_DEFAULT_REPLAY_INTERVAL_MS */
} wc_batchlog_options;

#define WC_BATCHLOG_DEFAULT_REPLAY_AFTER_MS 4000u    /* twice the default write timeout */
#define WC_BATCHLOG_DEFAULT_REPLAY_INTERVAL_MS 1000u

typedef struct wc_batchlog_stats {
    uint64_t logged_writes;   /* coordinated logged batches */
    uint64_t stored, removed; /* entries stored / removed on this holder */
    uint64_t replays_started, replayed; /* replays tried / entries replayed completely */
    uint64_t held;            /* entries held now */
    uint64_t handed_off;      /* entries handed over to another holder (wc_batchlog_handoff) */
    uint64_t malformed;       /* messages dropped */
} wc_batchlog_stats;

/* API */

/*
 * A batchlog on o->env (o is copied); loads the storage's entries (to be
 * replayed after replay_after_ms) and starts the replay timer.
 * WC_INVALID_ARGUMENT without env, coord, is_alive or storage ops;
 * WC_NO_MEMORY; the storage's load failure.  Caller destroys *out.
 */
wc_status wc_batchlog_create(const wc_batchlog_options *o, wc_batchlog **out);
/*
 * Cancel the logged writes still waiting for the batchlog (done runs with
 * WC_UNAVAILABLE), stop the timer, free everything (entries stay in the
 * storage).  REQUIRES: the coordinator was destroyed first (its pending
 * writes, whose callbacks point into the batchlog, have ended).
 */
void wc_batchlog_destroy(wc_batchlog *b);

/* Use ring r for the logged writes that start from now on (r may be NULL: unavailable). */
void wc_batchlog_set_ring(wc_batchlog *b, wc_ring *r);

/* Set how long an entry waits before it is replayed (0: the default). */
void wc_batchlog_set_replay_after(wc_batchlog *b, uint32_t ms);

/*
 * A message of types WC_MSG_BATCHLOG_FIRST..LAST from *from; false for
 * other types (not consumed).  Malformed messages are counted and dropped.
 */
bool wc_batchlog_on_message(wc_batchlog *b, const wc_addr *from, const uint8_t *msg, size_t len);

/*
 * Write batch[0..len) (a batch record of any tables and partitions;
 * copied) as a logged batch at level cl; done(arg, res) once.  Statuses:
 * WC_OK (every table's mutations met cl); WC_UNAVAILABLE (no live node to
 * hold the batchlog, or no ring: nothing written); WC_TIMEOUT (the
 * batchlog holders did not acknowledge in time: the batch may still be
 * replayed in full by a holder that stored it); after the batchlog write,
 * the first failure of a table's write (the entry stays: the replay applies
 * the whole batch); WC_INVALID_ARGUMENT for a malformed batch or one with
 * counter deltas (a replay would add them again; nothing written);
 * WC_NO_MEMORY.  REQUIRES: timeout_ms > 0.
 */
void wc_batchlog_write(wc_batchlog *b, const uint8_t *batch, size_t len, wc_consistency cl,
                       uint32_t timeout_ms, wc_coord_write_cb done, void *arg);

void wc_batchlog_get_stats(const wc_batchlog *b, wc_batchlog_stats *out);

/*
 * Hand the entries this node holds over to the node at via (a node that
 * leaves the ring does so before it goes): each is sent there as a
 * BATCHLOG_STORE, and forgotten here once via acknowledged it durable;
 * via replays it after replay_after_ms unless its removal reaches via
 * (a removal sent here is lost: via replays the batch once more, which
 * changes nothing).  From now on the replay timer hands entries over
 * instead of replaying them, also those that arrive later; an entry being
 * replayed goes once its replay failed.  An entry not acknowledged within
 * 5 s is sent again on the next call or tick.  Called with another via
 * (the previous one went down), the handoffs under way go there anew.
 * Returns the number of entries still held here.
 */
uint64_t wc_batchlog_handoff(wc_batchlog *b, const wc_addr *via);

/*
 * Whether batch[0..len) must be logged: it holds mutations of more than one
 * table or more than one partition.  A malformed batch: false (the write
 * path reports it).
 */
bool wc_batchlog_needed(const uint8_t *batch, size_t len);

/*
 * The durable storage of a holder: one file per entry under dir (created
 * if missing), written to a temporary name, fsynced, renamed, the
 * directory fsynced (batchlog_format.h).  log (may be NULL) reports
 * damaged files, which are renamed to <name>.damaged and skipped.
 * WC_IO_ERROR, WC_NO_MEMORY.  Free *out with wc_batchlog_dir_close.
 */
typedef struct wc_batchlog_dir wc_batchlog_dir;
wc_status wc_batchlog_dir_open(const char *dir, void (*log)(void *arg, const char *line),
                               void *log_arg, wc_batchlog_dir **out);
/* The same on the file system fs (NULL: wc_fs_posix(); tests pass a faultfs).  fs is not owned. */
wc_status wc_batchlog_dir_open_fs(wc_fs *fs, const char *dir,
                                  void (*log)(void *arg, const char *line), void *log_arg,
                                  wc_batchlog_dir **out);
void wc_batchlog_dir_close(wc_batchlog_dir *d);
wc_batchlog_storage wc_batchlog_dir_storage(wc_batchlog_dir *d);

#endif /* WC_BATCHLOG_H */
