/*
 * faultfs.c - fault-injecting file system for tests (contract in faultfs.h).
 *
 * Every file path written through the faultfs gets a node holding an undo log:
 * before each pwrite, truncate or allocate, the bytes about to be replaced and
 * the file size are saved.  A successful sync drops the entries that existed
 * when it started; a crash replays the remaining entries backwards through the
 * base file system, which restores each file to its state at its last sync.
 */
#include "faultfs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ff_undo {
    uint64_t seq;       /* order of the change in its node */
    uint64_t off;       /* where data came from */
    uint64_t prev_size; /* file size before the change */
    uint8_t *data;      /* bytes replaced (may be NULL) */
    size_t len;
} ff_undo;

typedef struct ff_node {
    char *path;
    int refs;   /* open files + 1 while linked */
    int linked; /* still reachable under path */
    uint64_t synced_len;
    uint64_t next_seq;
    ff_undo *undo;
    size_t nundo, capundo;
    struct ff_node *next;
} ff_node;

typedef struct ff_file {
    wc_file base; /* must be first */
    wc_file *inner;
    ff_node *node;
} ff_file;

struct wc_faultfs {
    wc_fs fs; /* must be first: the table handed out */
    wc_fs *base;
    pthread_mutex_t mu;
    ff_node *nodes;
    int crashed;
    uint64_t epoch; /* bumped by every crash */
    /* write fault */
    uint64_t w_nth;
    bool w_sticky, w_failing;
    int w_errno;
    size_t w_partial;
    /* sync fault */
    uint64_t s_nth;
    bool s_sticky, s_failing;
    uint32_t s_delay_us;
    wc_faultfs_counts counts;
};

static wc_faultfs *ff_of(wc_fs *fs)
{
    return (wc_faultfs *)fs;
}

static wc_status ff_crashed_error(const char *what)
{
    return wc_error(WC_IO_ERROR, "faultfs: %s after a simulated crash", what);
}

static bool ff_trip(uint64_t *nth, bool sticky, bool *failing)
{
    if (*failing)
        return true;
    if (*nth == 0)
        return false;
    if (--*nth == 0) {
        if (sticky)
            *failing = true;
        return true;
    }
    return false;
}

/* Drop the entries older than seq (they are durable). */
static void ff_drop_undo_before(ff_node *n, uint64_t seq)
{
    size_t count = 0;

    while (count < n->nundo && n->undo[count].seq < seq)
        count++;
    for (size_t i = 0; i < count; i++)
        free(n->undo[i].data);
    memmove(n->undo, n->undo + count, (n->nundo - count) * sizeof(*n->undo));
    n->nundo -= count;
}

static void ff_drop_undo(ff_node *n, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(n->undo[i].data);
    memmove(n->undo, n->undo + count, (n->nundo - count) * sizeof(*n->undo));
    n->nundo -= count;
}

static void ff_node_unref(wc_faultfs *ff, ff_node *n)
{
    if (--n->refs > 0)
        return;
    for (ff_node **pp = &ff->nodes; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    ff_drop_undo(n, n->nundo);
    free(n->undo);
    free(n->path);
    free(n);
}

static ff_node *ff_find(wc_faultfs *ff, const char *path)
{
    for (ff_node *n = ff->nodes; n; n = n->next)
        if (n->linked && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static void ff_unlink_node(wc_faultfs *ff, const char *path)
{
    ff_node *n = ff_find(ff, path);

    if (n) {
        n->linked = 0;
        ff_node_unref(ff, n);
    }
}

/* REQUIRES: ff->mu held.  Save [off, end) of the current content and the size. */
static wc_status ff_save(wc_faultfs *ff, ff_file *f, uint64_t off, uint64_t end)
{
    ff_node *n = f->node;
    ff_undo u = {n->next_seq, off, 0, NULL, 0};
    wc_status st;

    st = ff->base->size(f->inner, &u.prev_size);
    if (st != WC_OK)
        return st;
    if (end > u.prev_size)
        end = u.prev_size;
    if (off < end) {
        size_t got;

        u.len = (size_t)(end - off);
        u.data = malloc(u.len);
        if (u.data == NULL)
            return wc_error(WC_NO_MEMORY, "faultfs: out of memory saving undo data");
        st = ff->base->pread(f->inner, u.data, u.len, off, &got);
        if (st != WC_OK) {
            free(u.data);
            return st;
        }
        u.len = got;
    }
    if (n->nundo == n->capundo) {
        size_t ncap = n->capundo ? n->capundo * 2 : 16;
        ff_undo *nu = realloc(n->undo, ncap * sizeof(*nu));

        if (nu == NULL) {
            free(u.data);
            return wc_error(WC_NO_MEMORY, "faultfs: out of memory saving undo data");
        }
        n->undo = nu;
        n->capundo = ncap;
    }
    n->undo[n->nundo++] = u;
    n->next_seq++;
    return WC_OK;
}

/* ------------------------------------------------------------------ file ops */

static wc_status ff_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    wc_faultfs *ff = ff_of(fs);
    ff_file *f = NULL;
    ff_node *n;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("open");
        goto out;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        st = wc_error(WC_NO_MEMORY, "faultfs: out of memory opening \"%s\"", path);
        goto out;
    }
    st = ff->base->open(ff->base, path, flags & ~WC_O_TRUNC, &f->inner);
    if (st != WC_OK)
        goto out;
    n = ff_find(ff, path);
    if (n == NULL) {
        n = calloc(1, sizeof(*n));
        if (n == NULL || (n->path = strdup(path)) == NULL) {
            free(n);
            st = wc_error(WC_NO_MEMORY, "faultfs: out of memory opening \"%s\"", path);
            goto out;
        }
        st = ff->base->size(f->inner, &n->synced_len);
        if (st != WC_OK) {
            free(n->path);
            free(n);
            goto out;
        }
        n->refs = 1;
        n->linked = 1;
        n->next = ff->nodes;
        ff->nodes = n;
    }
    n->refs++;
    f->node = n;
    f->base.fs = fs;
    if (flags & WC_O_TRUNC) {
        st = ff_save(ff, f, 0, UINT64_MAX);
        if (st == WC_OK)
            st = ff->base->truncate(f->inner, 0);
        if (st != WC_OK) {
            ff_node_unref(ff, n);
            goto out;
        }
    }
    *out = &f->base;
    f = NULL;
out:
    if (f) {
        if (f->inner)
            ff->base->close(f->inner);
        free(f);
    }
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_pread(wc_file *file, void *buf, size_t n, uint64_t off, size_t *nread)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    int crashed;

    pthread_mutex_lock(&ff->mu);
    crashed = ff->crashed;
    pthread_mutex_unlock(&ff->mu);
    if (crashed)
        return ff_crashed_error("read");
    return ff->base->pread(f->inner, buf, n, off, nread);
}

static wc_status ff_pwrite(wc_file *file, const void *buf, size_t n, uint64_t off)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("write");
        goto out;
    }
    ff->counts.writes++;
    st = ff_save(ff, f, off, off + n);
    if (st != WC_OK)
        goto out;
    if (ff_trip(&ff->w_nth, ff->w_sticky, &ff->w_failing)) {
        size_t part = ff->w_partial < n ? ff->w_partial : n;

        ff->counts.failed_writes++;
        if (part)
            ff->base->pwrite(f->inner, buf, part, off);
        st = wc_error_errno(ff->w_errno, "faultfs: injected failure writing \"%s\" at %llu",
                            f->node->path, (unsigned long long)(off + part));
        goto out;
    }
    st = ff->base->pwrite(f->inner, buf, n, off);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_sync(wc_file *file)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    uint64_t epoch, size = 0;
    uint32_t delay;
    uint64_t covered;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        pthread_mutex_unlock(&ff->mu);
        return ff_crashed_error("sync");
    }
    ff->counts.syncs++;
    if (ff_trip(&ff->s_nth, ff->s_sticky, &ff->s_failing)) {
        ff->counts.failed_syncs++;
        pthread_mutex_unlock(&ff->mu);
        return wc_error_errno(EIO, "faultfs: injected failure syncing \"%s\"", f->node->path);
    }
    covered = f->node->next_seq;
    epoch = ff->epoch;
    delay = ff->s_delay_us;
    st = ff->base->size(f->inner, &size);
    pthread_mutex_unlock(&ff->mu);
    if (st != WC_OK)
        return st;
    if (delay)
        usleep(delay);

    st = ff->base->sync(f->inner);

    pthread_mutex_lock(&ff->mu);
    if (st == WC_OK && ff->epoch != epoch) {
        /* the machine "crashed" while this fsync ran: it never returned */
        st = ff_crashed_error("sync");
    } else if (st == WC_OK) {
        ff_drop_undo_before(f->node, covered);
        f->node->synced_len = size;
    }
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_size(wc_file *file, uint64_t *out)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    int crashed;

    pthread_mutex_lock(&ff->mu);
    crashed = ff->crashed;
    pthread_mutex_unlock(&ff->mu);
    if (crashed)
        return ff_crashed_error("stat");
    return ff->base->size(f->inner, out);
}

static wc_status ff_truncate(wc_file *file, uint64_t len)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("truncate");
        goto out;
    }
    st = ff_save(ff, f, len, UINT64_MAX);
    if (st == WC_OK)
        st = ff->base->truncate(f->inner, len);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_allocate(wc_file *file, uint64_t len)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("allocate");
        goto out;
    }
    st = ff_save(ff, f, 0, 0);
    if (st == WC_OK)
        st = ff->base->allocate(f->inner, len);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_close(wc_file *file)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    wc_status st;
    int crashed;

    pthread_mutex_lock(&ff->mu);
    crashed = ff->crashed;
    ff_node_unref(ff, f->node);
    pthread_mutex_unlock(&ff->mu);
    st = ff->base->close(f->inner);
    free(f);
    if (crashed)
        return ff_crashed_error("close");
    return st;
}

/* ------------------------------------------------------------------ fs ops */

static wc_status ff_rename(wc_fs *fs, const char *from, const char *to)
{
    wc_faultfs *ff = ff_of(fs);
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("rename");
        goto out;
    }
    st = ff->base->rename(ff->base, from, to);
    if (st == WC_OK) {
        ff_node *n = ff_find(ff, from);
        char *p = strdup(to);

        if (p == NULL) {
            st = wc_error(WC_NO_MEMORY, "faultfs: out of memory renaming");
            goto out;
        }
        ff_unlink_node(ff, to);
        if (n) {
            free(n->path);
            n->path = p;
        } else {
            free(p);
        }
    }
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_unlink(wc_fs *fs, const char *path)
{
    wc_faultfs *ff = ff_of(fs);
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("unlink");
        goto out;
    }
    st = ff->base->unlink(ff->base, path);
    if (st == WC_OK)
        ff_unlink_node(ff, path);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

#define FF_FORWARD(name, call)                                                                     \
    do {                                                                                           \
        wc_faultfs *ff = ff_of(fs);                                                                \
        int crashed;                                                                               \
        pthread_mutex_lock(&ff->mu);                                                               \
        crashed = ff->crashed;                                                                     \
        pthread_mutex_unlock(&ff->mu);                                                             \
        if (crashed)                                                                               \
            return ff_crashed_error(name);                                                         \
        return call;                                                                               \
    } while (0)

static wc_status ff_mkdir(wc_fs *fs, const char *path)
{
    FF_FORWARD("mkdir", ff->base->mkdir(ff->base, path));
}

static wc_status ff_rmdir(wc_fs *fs, const char *path)
{
    FF_FORWARD("rmdir", ff->base->rmdir(ff->base, path));
}

static wc_status ff_sync_dir(wc_fs *fs, const char *path)
{
    FF_FORWARD("sync_dir", ff->base->sync_dir(ff->base, path));
}

static wc_status ff_list(wc_fs *fs, const char *dir, wc_fs_list_cb cb, void *arg)
{
    FF_FORWARD("list", ff->base->list(ff->base, dir, cb, arg));
}

static wc_status ff_exists(wc_fs *fs, const char *path, bool *out)
{
    FF_FORWARD("exists", ff->base->exists(ff->base, path, out));
}

/* ------------------------------------------------------------------ API */

wc_faultfs *wc_faultfs_new(wc_fs *base)
{
    wc_faultfs *ff = calloc(1, sizeof(*ff));

    if (ff == NULL)
        return NULL;
    if (pthread_mutex_init(&ff->mu, NULL) != 0) {
        free(ff);
        return NULL;
    }
    ff->base = base ? base : wc_fs_posix();
    ff->fs = (wc_fs){
        .open = ff_open,
        .pread = ff_pread,
        .pwrite = ff_pwrite,
        .sync = ff_sync,
        .size = ff_size,
        .truncate = ff_truncate,
        .allocate = ff_allocate,
        .close = ff_close,
        .rename = ff_rename,
        .unlink = ff_unlink,
        .mkdir = ff_mkdir,
        .rmdir = ff_rmdir,
        .sync_dir = ff_sync_dir,
        .list = ff_list,
        .exists = ff_exists,
    };
    ff->w_errno = EIO;
    return ff;
}

void wc_faultfs_free(wc_faultfs *ff)
{
    if (ff == NULL)
        return;
    while (ff->nodes) {
        ff_node *n = ff->nodes;

        ff->nodes = n->next;
        ff_drop_undo(n, n->nundo);
        free(n->undo);
        free(n->path);
        free(n);
    }
    pthread_mutex_destroy(&ff->mu);
    free(ff);
}

wc_fs *wc_faultfs_fs(wc_faultfs *ff)
{
    return &ff->fs;
}

void wc_faultfs_fail_write(wc_faultfs *ff, uint64_t nth, bool sticky, wc_status st,
                           size_t partial)
{
    pthread_mutex_lock(&ff->mu);
    ff->w_nth = nth;
    ff->w_sticky = sticky;
    ff->w_failing = false;
    ff->w_errno = st == WC_NO_SPACE ? ENOSPC : EIO;
    ff->w_partial = partial;
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_fail_sync(wc_faultfs *ff, uint64_t nth, bool sticky)
{
    pthread_mutex_lock(&ff->mu);
    ff->s_nth = nth;
    ff->s_sticky = sticky;
    ff->s_failing = false;
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_sync_delay(wc_faultfs *ff, uint32_t usec)
{
    pthread_mutex_lock(&ff->mu);
    ff->s_delay_us = usec;
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_crash(wc_faultfs *ff)
{
    pthread_mutex_lock(&ff->mu);
    ff->crashed = 1;
    ff->epoch++;
    ff->counts.crashes++;
    for (ff_node *n = ff->nodes; n; n = n->next) {
        wc_file *f;

        if (n->nundo == 0)
            continue;
        if (n->linked && ff->base->open(ff->base, n->path, WC_O_WRITE, &f) == WC_OK) {
            for (size_t i = n->nundo; i-- > 0;) {
                ff_undo *u = &n->undo[i];

                if (u->len)
                    ff->base->pwrite(f, u->data, u->len, u->off);
                ff->base->truncate(f, u->prev_size);
            }
            ff->base->close(f);
        }
        ff_drop_undo(n, n->nundo);
    }
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_reset(wc_faultfs *ff)
{
    pthread_mutex_lock(&ff->mu);
    ff->crashed = 0;
    ff->w_nth = 0;
    ff->w_sticky = ff->w_failing = false;
    ff->w_partial = 0;
    ff->s_nth = 0;
    ff->s_sticky = ff->s_failing = false;
    ff->s_delay_us = 0;
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_get_counts(wc_faultfs *ff, wc_faultfs_counts *out)
{
    pthread_mutex_lock(&ff->mu);
    *out = ff->counts;
    pthread_mutex_unlock(&ff->mu);
}

bool wc_faultfs_synced_length(wc_faultfs *ff, const char *path, uint64_t *out)
{
    ff_node *n;

    pthread_mutex_lock(&ff->mu);
    n = ff_find(ff, path);
    if (n)
        *out = n->synced_len;
    pthread_mutex_unlock(&ff->mu);
    return n != NULL;
}
