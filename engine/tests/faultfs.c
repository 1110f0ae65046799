/*
 * faultfs.c - fault-injecting file system for tests (contract in faultfs.h).
 *
 * Every file path written through the faultfs gets a node holding an undo log:
 * before each pwrite, truncate or allocate, the bytes about to be replaced and
 * the file size are saved.  A successful sync drops the entries that existed
 * when it started; a crash replays the remaining entries backwards through the
 * base file system, which restores each file to its state at its last sync.
 *
 * In power-loss mode directory operations are logged too (ff_dop, oldest
 * first) until a sync_dir of their directory makes them durable.  Removed and
 * replaced files and directories are not removed but moved into the stash
 * directory (their node follows them there, so their unsynced contents are
 * still rolled back); a crash first rolls contents back, then undoes the
 * logged directory operations newest first and forgets every node.
 */
#include "faultfs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ff_undo {
    uint64_t seq;       /* order of the change in its node */
    uint64_t opno;      /* number of the operation that made the change */
    uint64_t off;       /* where data came from */
    uint64_t end;       /* end of the bytes a pwrite replaced; UINT64_MAX for size changes */
    uint64_t prev_size; /* file size before the change */
    uint8_t *data;      /* bytes replaced (may be NULL) */
    size_t len;
} ff_undo;

typedef enum ff_dkind { FF_D_CREATE, FF_D_RENAME, FF_D_UNLINK, FF_D_MKDIR, FF_D_RMDIR } ff_dkind;

/* A directory operation not yet made durable by a sync_dir (power-loss mode). */
typedef struct ff_dop {
    ff_dkind kind;
    char *path;  /* created, removed or renamed-to path */
    char *from;  /* rename source */
    char *stash; /* where the removed or replaced object waits, or NULL */
} ff_dop;

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
    /* a mapping (wc_faultfs_map_mode): the process's view and what the file holds of it */
    uint8_t *map, *clean;
    uint64_t maplen;    /* bytes of the mapping still inside the file (a truncate cuts it) */
    uint64_t maparea;   /* bytes mapped */
    uint64_t map_since; /* operation count when the view last matched the file */
    struct ff_file *next_mapped;
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
    ff_file *mapped; /* files with a mapping */
    /* power-loss mode */
    char *stash;
    bool no_real_sync;
    uint64_t stash_seq;
    ff_dop *dops;
    size_t ndops, capdops;
    /* operation numbering and the trigger */
    uint64_t opno;
    wc_faultfs_op t_op;
    char *t_part;
    uint64_t t_nth;
    wc_faultfs_action t_action;
    int t_errno;
    bool t_sticky, t_failing, t_fired;
    uint64_t keep_rng; /* wc_faultfs_crash_keeps; 0 = lose every unsynced change */
    char *stall_part;  /* wc_faultfs_stall_syncs */
    uint32_t stall_us;
    /* wc_faultfs_watch_syncs */
    char *watch_part;
    uint64_t watch_frontier; /* frozen at the last crash; 0 = compute now */
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
    ff_undo u = {n->next_seq, ff->opno, off, end, 0, NULL, 0};
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

/* ------------------------------------------------------------------ power loss */

typedef struct ff_names {
    char **v;
    size_t n, cap;
} ff_names;

static int ff_collect(void *arg, const char *name)
{
    ff_names *nm = arg;

    if (nm->n == nm->cap) {
        size_t cap = nm->cap ? nm->cap * 2 : 16;
        char **v = realloc(nm->v, cap * sizeof(*v));

        if (v == NULL)
            return 1;
        nm->v = v;
        nm->cap = cap;
    }
    if ((nm->v[nm->n] = strdup(name)) == NULL)
        return 1;
    nm->n++;
    return 0;
}

static void ff_names_free(ff_names *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm->v);
}

/* rm -rf through the base file system (best effort). */
static void ff_rmrf(wc_fs *base, const char *path)
{
    ff_names nm = {0};

    if (base->unlink(base, path) == WC_OK)
        return;
    if (base->list(base, path, ff_collect, &nm) == WC_OK) {
        for (size_t i = 0; i < nm.n; i++) {
            char sub[4200];

            snprintf(sub, sizeof(sub), "%s/%s", path, nm.v[i]);
            ff_rmrf(base, sub);
        }
    }
    ff_names_free(&nm);
    base->rmdir(base, path);
}

static bool ff_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool ff_in_dir(const char *path, const char *dir)
{
    char d[4200];

    wc_path_dirname(path, d, sizeof(d));
    return strcmp(d, dir) == 0;
}

/* REQUIRES: ff->mu held.  A fresh name in the stash (caller frees); NULL when out of memory. */
static char *ff_stash_name(wc_faultfs *ff)
{
    char buf[4200];

    snprintf(buf, sizeof(buf), "%s/s%llu", ff->stash, (unsigned long long)++ff->stash_seq);
    return strdup(buf);
}

/* REQUIRES: ff->mu held.  Log a directory operation; takes stash. */
static wc_status ff_dop_add(wc_faultfs *ff, ff_dkind kind, const char *path, const char *from,
                            char *stash)
{
    ff_dop d = {kind, strdup(path), from ? strdup(from) : NULL, stash};

    if (d.path == NULL || (from && d.from == NULL))
        goto oom;
    if (ff->ndops == ff->capdops) {
        size_t cap = ff->capdops ? ff->capdops * 2 : 32;
        ff_dop *v = realloc(ff->dops, cap * sizeof(*v));

        if (v == NULL)
            goto oom;
        ff->dops = v;
        ff->capdops = cap;
    }
    ff->dops[ff->ndops++] = d;
    return WC_OK;
oom:
    free(d.path);
    free(d.from);
    free(d.stash);
    return wc_error(WC_NO_MEMORY, "faultfs: out of memory logging a directory operation");
}

/* REQUIRES: ff->mu held.  Move an existing file or directory into the stash. */
static wc_status ff_stash_move(wc_faultfs *ff, const char *path, char **stash_out)
{
    char *stash = ff_stash_name(ff);
    ff_node *n = ff_find(ff, path);
    wc_status st;

    if (stash == NULL)
        return wc_error(WC_NO_MEMORY, "faultfs: out of memory stashing \"%s\"", path);
    st = ff->base->rename(ff->base, path, stash);
    if (st != WC_OK) {
        free(stash);
        return st;
    }
    if (n) {
        char *p = strdup(stash);

        if (p) {
            free(n->path);
            n->path = p;
        } else {
            n->linked = 0; /* cannot follow it: its contents are left as they are */
            ff_node_unref(ff, n);
        }
    }
    *stash_out = stash;
    return WC_OK;
}

/* REQUIRES: ff->mu held.  The removal logged in d is durable: drop what waits in the stash. */
static void ff_forget_stash(wc_faultfs *ff, const ff_dop *d)
{
    ff_node *next;

    if (d->stash == NULL)
        return;
    for (ff_node *n = ff->nodes; n; n = next) {
        next = n->next;
        if (n->linked && (strcmp(n->path, d->stash) == 0 || ff_under(n->path, d->stash))) {
            n->linked = 0;
            ff_node_unref(ff, n);
        }
    }
    ff_rmrf(ff->base, d->stash);
}

static void ff_dop_free(ff_dop *d)
{
    free(d->path);
    free(d->from);
    free(d->stash);
}

/* REQUIRES: ff->mu held.  Make logged operation i durable and drop it from the log. */
static void ff_dop_commit(wc_faultfs *ff, size_t i)
{
    ff_dop d = ff->dops[i];

    memmove(&ff->dops[i], &ff->dops[i + 1], (ff->ndops - i - 1) * sizeof(*ff->dops));
    ff->ndops--;
    ff_forget_stash(ff, &d);
    if (d.kind == FF_D_RMDIR) {
        /* what was pending inside the removed directory can no longer come back */
        for (size_t j = 0; j < i;) {
            if (ff_under(ff->dops[j].path, d.path)) {
                ff_dop_commit(ff, j);
                i--;
            } else {
                j++;
            }
        }
    }
    ff_dop_free(&d);
}

/* REQUIRES: ff->mu held.  A sync of dir makes the operations on its entries durable. */
static void ff_dops_sync_dir(wc_faultfs *ff, const char *dir)
{
    size_t i = 0;

    while (i < ff->ndops) {
        if (ff_in_dir(ff->dops[i].path, dir)) {
            ff_dop_commit(ff, i);
            i = 0; /* earlier entries may have gone with it */
        } else {
            i++;
        }
    }
}

static void ff_dop_undo(wc_faultfs *ff, const ff_dop *d)
{
    wc_fs *b = ff->base;

    switch (d->kind) {
    case FF_D_CREATE:
        b->unlink(b, d->path);
        break;
    case FF_D_MKDIR:
        ff_rmrf(b, d->path);
        break;
    case FF_D_UNLINK:
    case FF_D_RMDIR:
        b->rename(b, d->stash, d->path);
        break;
    case FF_D_RENAME:
        b->rename(b, d->path, d->from);
        if (d->stash)
            b->rename(b, d->stash, d->path);
        break;
    }
}

static uint64_t ff_keep_rnd(wc_faultfs *ff)
{
    ff->keep_rng ^= ff->keep_rng << 13;
    ff->keep_rng ^= ff->keep_rng >> 7;
    ff->keep_rng ^= ff->keep_rng << 17;
    return ff->keep_rng;
}

/* REQUIRES: ff->mu held.  Every write to a watched file numbered below the result is durable. */
static uint64_t ff_frontier(wc_faultfs *ff)
{
    uint64_t front = ff->opno + 1;

    if (ff->watch_part == NULL)
        return 0;
    for (ff_node *n = ff->nodes; n; n = n->next)
        if (n->linked && n->nundo && strstr(n->path, ff->watch_part) && n->undo[0].opno < front)
            front = n->undo[0].opno;
    for (ff_file *f = ff->mapped; f; f = f->next_mapped)
        if (f->node->linked && strstr(f->node->path, ff->watch_part) &&
            memcmp(f->map, f->clean, (size_t)f->maplen) != 0 && f->map_since < front)
            front = f->map_since;
    return front;
}

/* REQUIRES: ff->mu held.  The power goes out. */
static void ff_crash_locked(wc_faultfs *ff)
{
    ff_node *next;

    if (!ff->crashed) {
        ff->watch_frontier = ff_frontier(ff);
        /*
         * The code under test runs on after the power loss, but its stores
         * into a mapping, unlike its writes, do not fail: what it then
         * acknowledges (at this operation count, which stops here) was
         * never durable.
         */
        for (ff_file *f = ff->mapped; f; f = f->next_mapped)
            if (ff->watch_part && strstr(f->node->path, ff->watch_part) &&
                ff->watch_frontier > ff->opno)
                ff->watch_frontier = ff->opno;
    }
    ff->crashed = 1;
    ff->epoch++;
    ff->counts.crashes++;
    /* what was stored into mappings and not written back is gone, and nothing more will be */
    for (ff_file *f = ff->mapped; f; f = f->next_mapped)
        f->maplen = 0;
    for (ff_node *n = ff->nodes; n; n = n->next) {
        wc_file *f;

        if (n->nundo == 0)
            continue;
        if (n->linked && ff->base->open(ff->base, n->path, WC_O_WRITE, &f) == WC_OK) {
            size_t cut = ff->keep_rng ? (size_t)(ff_keep_rnd(ff) % (n->nundo + 1)) : 0;

            for (size_t i = n->nundo; i-- > cut;) {
                ff_undo *u = &n->undo[i];
                uint64_t k = 0, size;

                /* the oldest lost write may have reached the disk in part: keep its first k bytes */
                if (i == cut && ff->keep_rng && u->end != UINT64_MAX && u->end > u->off)
                    k = ff_keep_rnd(ff) % (u->end - u->off);
                if (u->len > k)
                    ff->base->pwrite(f, u->data + k, u->len - k, u->off + k);
                size = u->prev_size > u->off + k || k == 0 ? u->prev_size : u->off + k;
                ff->base->truncate(f, size);
            }
            ff->base->close(f);
        }
        ff_drop_undo(n, n->nundo);
    }
    if (ff->stash == NULL)
        return;
    for (size_t i = ff->ndops; i-- > 0;) {
        ff_dop_undo(ff, &ff->dops[i]);
        ff_dop_free(&ff->dops[i]);
    }
    ff->ndops = 0;
    /* paths may have moved back: start over with nothing tracked */
    for (ff_node *n = ff->nodes; n; n = next) {
        next = n->next;
        if (n->linked) {
            n->linked = 0;
            ff_node_unref(ff, n);
        }
    }
}

/* ------------------------------------------------------------------ triggers */

static const char *const ff_op_names[] = {
    "operation", "open", "read", "write", "sync", "stat", "truncate", "allocate",
    "rename", "unlink", "mkdir", "rmdir", "sync_dir", "list", "exists", "link",
};

/*
 * REQUIRES: ff->mu held.  Number an operation on path and apply the trigger.
 * Returns non-WC_OK when the operation must not run; sets *after when the
 * machine must crash once it ran (ff_leave).
 */
static wc_status ff_enter(wc_faultfs *ff, wc_faultfs_op op, const char *path, bool *after)
{
    const char *name = ff_op_names[op];

    *after = false;
    if (ff->crashed)
        return ff_crashed_error(name);
    ff->opno++;
    if (getenv("WC_FF_TRACE"))
        printf("ff %llu %s %s\n", (unsigned long long)ff->opno, name, path ? path : "");
    if (ff->t_op != WC_FF_ANY && ff->t_op != op)
        return WC_OK;
    if (ff->t_part && (path == NULL || strstr(path, ff->t_part) == NULL))
        return WC_OK;
    if (!ff->t_failing) {
        if (ff->t_nth == 0 || --ff->t_nth > 0)
            return WC_OK;
        ff->t_fired = true;
        if (ff->t_action == WC_FF_CRASH_BEFORE) {
            ff_crash_locked(ff);
            return ff_crashed_error(name);
        }
        if (ff->t_action == WC_FF_CRASH_AFTER) {
            *after = true;
            return WC_OK;
        }
        ff->t_failing = ff->t_sticky;
    }
    return wc_error_errno(ff->t_errno, "faultfs: injected failure of %s on \"%s\"", name,
                          path ? path : "");
}

/* REQUIRES: ff->mu held.  Result of an operation that ran; crash first if ff_enter said so. */
static wc_status ff_leave(wc_faultfs *ff, bool after, wc_faultfs_op op, wc_status st)
{
    if (!after)
        return st;
    ff_crash_locked(ff);
    return ff_crashed_error(ff_op_names[op]);
}

/* ff_enter for operations that run without the mutex. */
static wc_status ff_enter_unlocked(wc_faultfs *ff, wc_faultfs_op op, const char *path, bool *after)
{
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, op, path, after);
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_leave_unlocked(wc_faultfs *ff, bool after, wc_faultfs_op op, wc_status st)
{
    if (!after)
        return st;
    pthread_mutex_lock(&ff->mu);
    st = ff_leave(ff, after, op, st);
    pthread_mutex_unlock(&ff->mu);
    return st;
}

/* ------------------------------------------------------------------ file ops */

static wc_status ff_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    wc_faultfs *ff = ff_of(fs);
    ff_file *f = NULL;
    ff_node *n;
    bool after, existed = true;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_OPEN, path, &after);
    if (st != WC_OK)
        goto out;
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        st = wc_error(WC_NO_MEMORY, "faultfs: out of memory opening \"%s\"", path);
        goto out;
    }
    if (ff->stash && (flags & WC_O_CREATE)) {
        st = ff->base->exists(ff->base, path, &existed);
        if (st != WC_OK)
            goto out;
    }
    st = ff->base->open(ff->base, path, flags & ~WC_O_TRUNC, &f->inner);
    if (st != WC_OK)
        goto out;
    if (!existed) {
        st = ff_dop_add(ff, FF_D_CREATE, path, NULL, NULL);
        if (st != WC_OK) {
            ff->base->unlink(ff->base, path);
            goto out;
        }
    }
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
    if (after) {
        /* power loss right after the open: the caller never gets the file */
        ff_crash_locked(ff);
        st = ff_crashed_error("open");
        ff_node_unref(ff, n);
        goto out;
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

/*
 * REQUIRES: ff->mu held.  Write what the process stored into f's mapping
 * since the last write-back to the file, as the kernel writes dirty mapped
 * pages (before a sync, a truncate, a read, at unmap).  Each run of changed
 * bytes is saved for undo like a pwrite, numbered as of the last write-back:
 * a store made after it may be that old, so no write acknowledged since then
 * counts as durable before the next successful sync.
 */
static wc_status ff_writeback(wc_faultfs *ff, ff_file *f)
{
    uint64_t i = 0;
    wc_status st = WC_OK;

    if (f->map == NULL || ff->crashed)
        return WC_OK;
    while (i < f->maplen && st == WC_OK) {
        uint64_t end, gap;

        if (f->map[i] == f->clean[i]) {
            i++;
            continue;
        }
        /* a run of changes, bridging gaps of fewer than 64 unchanged bytes */
        for (end = i + 1, gap = 0; end < f->maplen && gap < 64; end++)
            gap = f->map[end] == f->clean[end] ? gap + 1 : 0;
        end -= gap;
        memcpy(f->clean + i, f->map + i, (size_t)(end - i));
        st = ff_save(ff, f, i, end);
        if (st == WC_OK) {
            f->node->undo[f->node->nundo - 1].opno = f->map_since;
            st = ff->base->pwrite(f->inner, f->clean + i, (size_t)(end - i), i);
            ff->counts.map_writebacks++;
        }
        i = end;
    }
    f->map_since = ff->opno;
    return st;
}

static wc_status ff_pread(wc_file *file, void *buf, size_t n, uint64_t off, size_t *nread)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    bool after;
    wc_status st;

    st = ff_enter_unlocked(ff, WC_FF_READ, f->node->path, &after);
    if (st != WC_OK)
        return st;
    if (f->map != NULL) {
        /* the read sees what was stored into the mapping */
        pthread_mutex_lock(&ff->mu);
        st = ff_writeback(ff, f);
        pthread_mutex_unlock(&ff->mu);
        if (st != WC_OK)
            return st;
    }
    st = ff->base->pread(f->inner, buf, n, off, nread);
    return ff_leave_unlocked(ff, after, WC_FF_READ, st);
}

static wc_status ff_pwrite(wc_file *file, const void *buf, size_t n, uint64_t off)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    bool after = false;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("write");
        goto out;
    }
    ff->counts.writes++;
    st = ff_enter(ff, WC_FF_WRITE, f->node->path, &after);
    if (st != WC_OK)
        goto out;
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
    st = ff_leave(ff, after, WC_FF_WRITE, st);
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
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        pthread_mutex_unlock(&ff->mu);
        return ff_crashed_error("sync");
    }
    ff->counts.syncs++;
    st = ff_enter(ff, WC_FF_SYNC, f->node->path, &after);
    if (st != WC_OK) {
        ff->counts.failed_syncs += !ff->crashed;
        pthread_mutex_unlock(&ff->mu);
        return st;
    }
    /* the kernel writes a mapping's dirty pages first, even for a sync that then fails */
    st = ff_writeback(ff, f);
    if (st != WC_OK) {
        pthread_mutex_unlock(&ff->mu);
        return st;
    }
    if (ff_trip(&ff->s_nth, ff->s_sticky, &ff->s_failing)) {
        ff->counts.failed_syncs++;
        pthread_mutex_unlock(&ff->mu);
        return wc_error_errno(EIO, "faultfs: injected failure syncing \"%s\"", f->node->path);
    }
    covered = f->node->next_seq;
    epoch = ff->epoch;
    delay = ff->s_delay_us;
    if (ff->stall_part && strstr(f->node->path, ff->stall_part))
        delay = ff->stall_us;
    st = ff->base->size(f->inner, &size);
    if (st == WC_OK && ff->no_real_sync && delay == 0) {
        /* only the model: the sync is instantaneous */
        ff_drop_undo_before(f->node, covered);
        f->node->synced_len = size;
        st = ff_leave(ff, after, WC_FF_SYNC, st);
        pthread_mutex_unlock(&ff->mu);
        return st;
    }
    pthread_mutex_unlock(&ff->mu);
    if (st != WC_OK)
        return st;
    if (delay)
        usleep(delay);

    if (!ff->no_real_sync)
        st = ff->base->sync(f->inner);

    pthread_mutex_lock(&ff->mu);
    if (st == WC_OK && ff->epoch != epoch) {
        /* the machine "crashed" while this fsync ran: it never returned */
        st = ff_crashed_error("sync");
    } else if (st == WC_OK) {
        ff_drop_undo_before(f->node, covered);
        f->node->synced_len = size;
        st = ff_leave(ff, after, WC_FF_SYNC, st);
    }
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_size(wc_file *file, uint64_t *out)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    bool after;
    wc_status st;

    st = ff_enter_unlocked(ff, WC_FF_SIZE, f->node->path, &after);
    if (st != WC_OK)
        return st;
    st = ff->base->size(f->inner, out);
    return ff_leave_unlocked(ff, after, WC_FF_SIZE, st);
}

static wc_status ff_truncate(wc_file *file, uint64_t len)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_TRUNCATE, f->node->path, &after);
    if (st != WC_OK)
        goto out;
    /* dirty mapped pages reach the file first; the mapping past the new end is gone */
    st = ff_writeback(ff, f);
    if (st != WC_OK)
        goto out;
    if (f->map != NULL && f->maplen > len)
        f->maplen = len;
    st = ff_save(ff, f, len, UINT64_MAX);
    if (st == WC_OK)
        st = ff->base->truncate(f->inner, len);
    st = ff_leave(ff, after, WC_FF_TRUNCATE, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_allocate(wc_file *file, uint64_t len)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_ALLOCATE, f->node->path, &after);
    if (st != WC_OK)
        goto out;
    st = ff_save(ff, f, 0, 0);
    if (st == WC_OK)
        st = ff->base->allocate(f->inner, len);
    st = ff_leave(ff, after, WC_FF_ALLOCATE, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

/* REQUIRES: ff->mu held.  End f's mapping, if any: what it holds goes to the file (unless crashed). */
static void ff_unmap_locked(wc_faultfs *ff, ff_file *f)
{
    if (f->map == NULL)
        return;
    ff_writeback(ff, f);
    for (ff_file **p = &ff->mapped; *p; p = &(*p)->next_mapped)
        if (*p == f) {
            *p = f->next_mapped;
            break;
        }
    free(f->map);
    free(f->clean);
    f->map = f->clean = NULL;
    f->maplen = f->maparea = 0;
}

static wc_status ff_map(wc_file *file, uint64_t len, void **addr)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    uint64_t size = 0;
    size_t got = 0;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    if (ff->crashed) {
        st = ff_crashed_error("map");
        goto out;
    }
    st = ff->base->size(f->inner, &size);
    if (st != WC_OK)
        goto out;
    if (f->map != NULL || len == 0 || size < len) {
        st = wc_error(WC_INVALID_ARGUMENT, "faultfs: cannot map %llu bytes of \"%s\" (%llu bytes%s)",
                      (unsigned long long)len, f->node->path, (unsigned long long)size,
                      f->map ? ", mapped already" : "");
        goto out;
    }
    f->map = malloc((size_t)len);
    f->clean = malloc((size_t)len);
    if (f->map == NULL || f->clean == NULL)
        st = wc_error(WC_NO_MEMORY, "faultfs: out of memory mapping \"%s\"", f->node->path);
    else
        st = ff->base->pread(f->inner, f->clean, (size_t)len, 0, &got);
    if (st != WC_OK) {
        free(f->map);
        free(f->clean);
        f->map = f->clean = NULL;
        goto out;
    }
    memset(f->clean + got, 0, (size_t)(len - got));
    memcpy(f->map, f->clean, (size_t)len);
    f->maplen = f->maparea = len;
    f->map_since = ff->opno;
    f->next_mapped = ff->mapped;
    ff->mapped = f;
    ff->counts.maps++;
    *addr = f->map;
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static void ff_unmap(wc_file *file, void *addr, uint64_t len)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);

    pthread_mutex_lock(&ff->mu);
    if (addr == f->map && len == f->maparea)
        ff_unmap_locked(ff, f);
    pthread_mutex_unlock(&ff->mu);
}

static wc_status ff_close(wc_file *file)
{
    ff_file *f = (ff_file *)file;
    wc_faultfs *ff = ff_of(file->fs);
    wc_status st;
    int crashed;

    pthread_mutex_lock(&ff->mu);
    crashed = ff->crashed;
    ff_unmap_locked(ff, f);
    ff_node_unref(ff, f->node);
    pthread_mutex_unlock(&ff->mu);
    st = ff->base->close(f->inner);
    free(f);
    if (crashed)
        return ff_crashed_error("close");
    return st;
}

/* ------------------------------------------------------------------ fs ops */

/* REQUIRES: ff->mu held, power-loss mode.  A rename that can be undone. */
static wc_status ff_rename_logged(wc_faultfs *ff, const char *from, const char *to)
{
    char *stash = NULL;
    bool exists;
    wc_status st;

    st = ff->base->exists(ff->base, from, &exists);
    if (st == WC_OK && !exists)
        st = wc_error_errno(ENOENT, "could not rename \"%s\" to \"%s\"", from, to);
    if (st == WC_OK)
        st = ff->base->exists(ff->base, to, &exists);
    if (st == WC_OK && exists)
        st = ff_stash_move(ff, to, &stash);
    if (st != WC_OK)
        return st;
    st = ff->base->rename(ff->base, from, to);
    if (st == WC_OK)
        st = ff_dop_add(ff, FF_D_RENAME, to, from, stash);
    else if (stash) {
        ff->base->rename(ff->base, stash, to);
        free(stash);
    }
    return st;
}

static wc_status ff_rename(wc_fs *fs, const char *from, const char *to)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_RENAME, to, &after);
    if (st != WC_OK)
        goto out;
    if (ff->stash)
        st = ff_rename_logged(ff, from, to);
    else
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
    st = ff_leave(ff, after, WC_FF_RENAME, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_unlink(wc_fs *fs, const char *path)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_UNLINK, path, &after);
    if (st != WC_OK)
        goto out;
    if (ff->stash) {
        char *stash = NULL;
        bool exists;

        st = ff->base->exists(ff->base, path, &exists);
        if (st == WC_OK && !exists)
            st = wc_error_errno(ENOENT, "could not remove \"%s\"", path);
        if (st == WC_OK)
            st = ff_stash_move(ff, path, &stash);
        if (st == WC_OK)
            st = ff_dop_add(ff, FF_D_UNLINK, path, NULL, stash);
    } else {
        st = ff->base->unlink(ff->base, path);
        if (st == WC_OK)
            ff_unlink_node(ff, path);
    }
    st = ff_leave(ff, after, WC_FF_UNLINK, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_mkdir(wc_fs *fs, const char *path)
{
    wc_faultfs *ff = ff_of(fs);
    bool after, exists = true;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_MKDIR, path, &after);
    if (st != WC_OK)
        goto out;
    if (ff->stash)
        st = ff->base->exists(ff->base, path, &exists);
    if (st == WC_OK)
        st = ff->base->mkdir(ff->base, path);
    if (st == WC_OK && !exists)
        st = ff_dop_add(ff, FF_D_MKDIR, path, NULL, NULL);
    st = ff_leave(ff, after, WC_FF_MKDIR, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_rmdir(wc_fs *fs, const char *path)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_RMDIR, path, &after);
    if (st != WC_OK)
        goto out;
    if (ff->stash) {
        ff_names nm = {0};
        char *stash = NULL;

        st = ff->base->list(ff->base, path, ff_collect, &nm);
        if (st == WC_OK && nm.n)
            st = wc_error_errno(ENOTEMPTY, "could not remove directory \"%s\"", path);
        ff_names_free(&nm);
        if (st == WC_OK)
            st = ff_stash_move(ff, path, &stash);
        if (st == WC_OK)
            st = ff_dop_add(ff, FF_D_RMDIR, path, NULL, stash);
    } else {
        st = ff->base->rmdir(ff->base, path);
    }
    st = ff_leave(ff, after, WC_FF_RMDIR, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_sync_dir(wc_fs *fs, const char *path)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_SYNC_DIR, path, &after);
    if (st == WC_OK && !ff->no_real_sync)
        st = ff->base->sync_dir(ff->base, path);
    if (st == WC_OK && ff->stash)
        ff_dops_sync_dir(ff, path);
    if (st == WC_OK || after)
        st = ff_leave(ff, after, WC_FF_SYNC_DIR, st);
    pthread_mutex_unlock(&ff->mu);
    return st;
}

/* A new name for an existing file: logged as a creation (a crash before its sync_dir undoes it). */
static wc_status ff_link(wc_fs *fs, const char *from, const char *to)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    pthread_mutex_lock(&ff->mu);
    st = ff_enter(ff, WC_FF_LINK, to, &after);
    if (st != WC_OK)
        goto out;
    if (ff->base->link == NULL)
        st = wc_error(WC_INVALID_ARGUMENT, "faultfs: the base file system has no hard links");
    else
        st = ff->base->link(ff->base, from, to);
    if (st == WC_OK && ff->stash) {
        st = ff_dop_add(ff, FF_D_CREATE, to, NULL, NULL);
        if (st != WC_OK)
            ff->base->unlink(ff->base, to);
    }
    st = ff_leave(ff, after, WC_FF_LINK, st);
out:
    pthread_mutex_unlock(&ff->mu);
    return st;
}

static wc_status ff_list(wc_fs *fs, const char *dir, wc_fs_list_cb cb, void *arg)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    st = ff_enter_unlocked(ff, WC_FF_LIST, dir, &after);
    if (st != WC_OK)
        return st;
    st = ff->base->list(ff->base, dir, cb, arg);
    return ff_leave_unlocked(ff, after, WC_FF_LIST, st);
}

static wc_status ff_exists(wc_fs *fs, const char *path, bool *out)
{
    wc_faultfs *ff = ff_of(fs);
    bool after;
    wc_status st;

    st = ff_enter_unlocked(ff, WC_FF_EXISTS, path, &after);
    if (st != WC_OK)
        return st;
    st = ff->base->exists(ff->base, path, out);
    return ff_leave_unlocked(ff, after, WC_FF_EXISTS, st);
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
        .link = ff_link,
    };
    ff->w_errno = EIO;
    return ff;
}

wc_faultfs *wc_faultfs_new_power_loss(const char *root)
{
    char stash[4200];
    wc_faultfs *ff;

    snprintf(stash, sizeof(stash), "%s/stash", root);
    if (mkdir(stash, 0700) != 0 || (ff = wc_faultfs_new(NULL)) == NULL)
        return NULL;
    wc_faultfs_power_loss_mode(ff, stash, true);
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
    for (size_t i = 0; i < ff->ndops; i++)
        ff_dop_free(&ff->dops[i]);
    free(ff->dops);
    free(ff->stash);
    free(ff->t_part);
    free(ff->watch_part);
    free(ff->stall_part);
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
    ff_crash_locked(ff);
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
    free(ff->stall_part);
    ff->stall_part = NULL;
    ff->t_nth = 0;
    ff->t_failing = false;
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

void wc_faultfs_power_loss_mode(wc_faultfs *ff, const char *stash, bool no_real_sync)
{
    pthread_mutex_lock(&ff->mu);
    free(ff->stash);
    ff->stash = stash ? strdup(stash) : NULL;
    ff->no_real_sync = no_real_sync;
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_trigger(wc_faultfs *ff, wc_faultfs_op op, const char *path_part, uint64_t nth,
                        wc_faultfs_action action, wc_status st, bool sticky)
{
    pthread_mutex_lock(&ff->mu);
    free(ff->t_part);
    ff->t_part = path_part ? strdup(path_part) : NULL;
    ff->t_op = op;
    ff->t_nth = nth;
    ff->t_action = action;
    ff->t_errno = st == WC_NO_SPACE ? ENOSPC : EIO;
    ff->t_sticky = sticky;
    ff->t_failing = ff->t_fired = false;
    pthread_mutex_unlock(&ff->mu);
}

bool wc_faultfs_triggered(wc_faultfs *ff)
{
    bool fired;

    pthread_mutex_lock(&ff->mu);
    fired = ff->t_fired;
    pthread_mutex_unlock(&ff->mu);
    return fired;
}

void wc_faultfs_map_mode(wc_faultfs *ff, bool on)
{
    pthread_mutex_lock(&ff->mu);
    ff->fs.map = on ? ff_map : NULL;
    ff->fs.unmap = on ? ff_unmap : NULL;
    pthread_mutex_unlock(&ff->mu);
}

uint64_t wc_faultfs_op_count(wc_faultfs *ff)
{
    uint64_t n;

    pthread_mutex_lock(&ff->mu);
    n = ff->opno;
    pthread_mutex_unlock(&ff->mu);
    return n;
}

void wc_faultfs_watch_syncs(wc_faultfs *ff, const char *path_part)
{
    pthread_mutex_lock(&ff->mu);
    free(ff->watch_part);
    ff->watch_part = path_part ? strdup(path_part) : NULL;
    ff->watch_frontier = 0;
    pthread_mutex_unlock(&ff->mu);
}

uint64_t wc_faultfs_durable_frontier(wc_faultfs *ff)
{
    uint64_t front;

    pthread_mutex_lock(&ff->mu);
    front = ff->crashed ? ff->watch_frontier : ff_frontier(ff);
    pthread_mutex_unlock(&ff->mu);
    return front;
}

void wc_faultfs_crash_keeps(wc_faultfs *ff, uint64_t seed)
{
    pthread_mutex_lock(&ff->mu);
    ff->keep_rng = seed;
    pthread_mutex_unlock(&ff->mu);
}

void wc_faultfs_stall_syncs(wc_faultfs *ff, const char *path_part, uint32_t usec)
{
    pthread_mutex_lock(&ff->mu);
    free(ff->stall_part);
    ff->stall_part = path_part && usec ? strdup(path_part) : NULL;
    ff->stall_us = usec;
    pthread_mutex_unlock(&ff->mu);
}
