/*
 * clsync.c - a client's fsync of the node's commit log (contract and why it
 * is enough in clsync.h).
 */
#include "clsync.h"

#include <stddef.h>

void wc_clsync_close(wc_clsync_file *f)
{
    if (f->file != NULL)
        (void)f->file->fs->close(f->file);
    f->file = NULL;
    f->id = 0;
}

/* Open segment id's file in dir into *f; *gone when the file no longer exists. */
static wc_status wc__open_segment(wc_fs *fs, const char *dir, uint64_t id, wc_clsync_file *f,
                                  bool *gone)
{
    char path[WC_SHMRING_DIR_MAX + 64];
    wc_status st;

    *gone = false;
    if (f->file != NULL && f->id == id)
        return WC_OK;
    wc_clsync_close(f);
    if ((st = wc_commitlog_segment_path(dir, id, path, sizeof(path))) != WC_OK)
        return st;
    st = fs->open(fs, path, WC_O_READ, &f->file);
    if (st == WC_NOT_FOUND) {
        wc_clear_error();
        f->file = NULL;
        *gone = true;
        return WC_OK;
    }
    if (st != WC_OK) {
        f->file = NULL;
        return st;
    }
    f->id = id;
    return WC_OK;
}

bool wc_clsync_durable(wc_shmring *r, uint32_t slot, wc_clpos pos)
{
    /* a node that starts resets the positions, then moves the epoch, then publishes */
    return wc_shmring_slot_current(r, slot) && wc_shmring_durable(r, pos) &&
           wc_shmring_slot_current(r, slot);
}

/*
 * Fsync the file of segment id in dir (kept open in *f) and count how the
 * record became durable: WC_CLSYNC_FSYNC, or WC_CLSYNC_COVERED when the
 * file is gone (the log rolled past the segment, then retired it).
 */
static wc_status wc__fsync_segment(wc_shmring *r, wc_fs *fs, const char *dir, uint64_t id,
                                   wc_clsync_file *f, bool *fsynced)
{
    bool gone;
    wc_status st;

    if (dir[0] == '\0')
        return wc_error(WC_UNAVAILABLE, "the node publishes no commit log to fsync");
    if ((st = wc__open_segment(fs, dir, id, f, &gone)) != WC_OK)
        return st;
    if (gone) {
        wc_shmring_clsync_count(r, WC_CLSYNC_COVERED);
        return WC_OK;
    }
    if ((st = f->file->fs->sync(f->file)) != WC_OK) {
        wc_clsync_close(f);
        return st;
    }
    *fsynced = true;
    wc_shmring_clsync_count(r, WC_CLSYNC_FSYNC);
    return WC_OK;
}

wc_status wc_clsync_to(wc_shmring *r, uint32_t slot, wc_fs *fs, wc_clsync_file *f, wc_clpos pos,
                       bool *fsynced)
{
    const char *dir = wc_shmring_commitlog_dir(r);
    wc_clpos appended;
    bool known;
    wc_status st;

    *fsynced = false;
    /* the node that answered is gone: its positions are not in the ring any more */
    if (!wc_shmring_slot_current(r, slot))
        return wc__fsync_segment(r, fs, dir, pos.segment, f, fsynced);
    known = wc_shmring_durable(r, pos);
    /* what an fsync now covers: every record of the segment up to the latest one appended */
    appended = wc_shmring_appended(r);
    if (!wc_shmring_slot_current(r, slot))
        return wc__fsync_segment(r, fs, dir, pos.segment, f, fsynced);
    if (known) {
        wc_shmring_clsync_count(r, WC_CLSYNC_COVERED);
        return WC_OK;
    }
    if (dir[0] == '\0')
        return wc_error(WC_UNAVAILABLE, "the node publishes no commit log to fsync");
    if (wc_clpos_cmp(appended, pos) < 0)
        return wc_error(WC_INVALID_ARGUMENT,
                        "commit-log position %llu:%llu was never published as appended",
                        (unsigned long long)pos.segment, (unsigned long long)pos.offset);
    /* (a later segment appended meanwhile: the fsync covers this one's records only) */
    if ((st = wc__fsync_segment(r, fs, dir, pos.segment, f, fsynced)) == WC_OK && *fsynced &&
        appended.segment == pos.segment)
        wc_shmring_note_synced(r, (wc_clpos){appended.segment, appended.offset + 1});
    return st;
}
