/*
 * directread.c - direct reads (directread.h): the region the node publishes
 * its tables' files and partition stripes in, and the client side that
 * reads those files itself.
 *
 * Layout: a header (64-byte aligned, its counters on lines of their own),
 * the 64-bit stripe words of the three families (partition, row,
 * partition-level), WC_DR_TABLES table slots.  A slot is
 * a seqlock (odd while the node rewrites it) over the table's id, its
 * published serials and its file list; a table lives in one of
 * WC__DR_PROBE slots after the hash of its id.  The node is the only
 * writer of slots (serialized by a mutex of its own) and of stripes (the
 * engine calls resident_hook under its write lock).
 */
#include "directread.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "alloc.h"
#include "fs.h"
#include "sstable.h"

#define WC__DR_MAGIC 0x3164726463770a01ULL
#define WC__DR_PROBE 8u
#define WC__DR_UNREADABLE UINT32_MAX
/* serials of one node start: a base is (starts << 40) */
#define WC__DR_SERIAL_SHIFT 40

typedef struct wc__dr_hdr {
    alignas(64) uint64_t magic;
    uint32_t ntables, max_files;
    uint32_t nstripes[3]; /* partition, row, partition-level */
    _Atomic uint64_t state;  /* (epoch << 1) | serving */
    _Atomic uint64_t starts; /* node starts so far (serial bases) */
    _Atomic uint64_t lists;  /* bumped whenever a table's file list changes */
    char dir[3072];          /* the engine's directory while serving */
    alignas(64) _Atomic uint64_t reads;
    alignas(64) _Atomic uint64_t resident;
    alignas(64) _Atomic uint64_t other;
} wc__dr_hdr;

typedef struct wc__dr_fileref {
    _Atomic uint64_t gen, file_id, bytes;
} wc__dr_fileref;

typedef struct wc__dr_slot {
    alignas(64) _Atomic uint64_t seq;
    _Atomic uint32_t table_id; /* 0: never used */
    _Atomic uint32_t nfiles;   /* WC__DR_UNREADABLE: not to be read directly */
    _Atomic uint64_t flushed_below, table_wide;
    wc__dr_fileref files[WC_DR_MAX_FILES];
} wc__dr_slot;

/* A file this client opened. */
typedef struct wc__dr_open {
    wc_sstable *t; /* NULL: unused entry */
    uint64_t epoch, file_id, gen, used, bytes;
    uint32_t table_id;
} wc__dr_open;

/*
 * The file system of a client's files: the real one, but every open asks
 * the client's descriptor hook first and every close tells it
 * (wc_directread_set_fd_hooks).
 */
typedef struct wc__dr_fs {
    wc_fs base;
    wc_fs *inner;
    bool (*acquire)(void *arg);
    void (*release)(void *arg);
    void *arg;
    bool refused; /* the last open failed because acquire said no */
} wc__dr_fs;

typedef struct wc__dr_file {
    wc_file base;
    wc_file *inner;
    const uint8_t *map; /* the whole file, read-only, or NULL: reads go to inner */
    size_t map_len;
} wc__dr_file;

struct wc_directread {
    wc__dr_hdr *h;
    _Atomic uint64_t *part_stripes, *row_stripes, *level_stripes;
    wc__dr_slot *slots;
    pthread_mutex_t mu; /* node side: slot writers */
    /* client side */
    wc__dr_fs fs;
    uint64_t epoch; /* of the files below and dir */
    char dir[sizeof(((wc__dr_hdr *)0)->dir)];
    uint64_t clock;
    uint64_t lists;      /* h->lists when this client last closed files no list names */
    uint64_t budget;     /* bytes of SSTables this client may keep open */
    uint64_t open_bytes; /* bytes of those open */
    bool given_up;       /* a mapping faulted in a read: no more direct reads (wc_directread_read) */
    wc__dr_open open[WC_DR_OPEN_FILES];
};

/* What a client copies out of a slot. */
typedef struct wc__dr_copy {
    uint32_t nfiles;
    uint64_t flushed_below, table_wide;
    uint64_t gen[WC_DR_MAX_FILES], file_id[WC_DR_MAX_FILES], bytes[WC_DR_MAX_FILES];
} wc__dr_copy;

static size_t wc__dr_stripes_off(void)
{
    return sizeof(wc__dr_hdr);
}

static size_t wc__dr_slots_off(void)
{
    return wc__dr_stripes_off() +
           ((size_t)WC_DR_PART_STRIPES + WC_DR_ROW_STRIPES + WC_DR_LEVEL_STRIPES) *
               sizeof(uint64_t);
}

size_t wc_directread_size(void)
{
    return wc__dr_slots_off() + (size_t)WC_DR_TABLES * sizeof(wc__dr_slot);
}

wc_status wc_directread_format(void *mem, size_t size)
{
    wc__dr_hdr *h = mem;

    if (mem == NULL || ((uintptr_t)mem & 63) != 0 || size < wc_directread_size())
        return wc_error(WC_INVALID_ARGUMENT, "direct read region of %zu bytes, %zu needed", size,
                        wc_directread_size());
    memset(mem, 0, wc_directread_size());
    h->ntables = WC_DR_TABLES;
    h->nstripes[0] = WC_DR_PART_STRIPES;
    h->nstripes[1] = WC_DR_ROW_STRIPES;
    h->nstripes[2] = WC_DR_LEVEL_STRIPES;
    h->max_files = WC_DR_MAX_FILES;
    atomic_store(&h->state, 0);
    atomic_store(&h->starts, 0);
    atomic_store_explicit((_Atomic uint64_t *)&h->magic, WC__DR_MAGIC, memory_order_release);
    return WC_OK;
}

/* ---------------------------------------------------------------- the client's files */

static wc_file *wc__dr_inner(wc_file *f)
{
    return ((wc__dr_file *)f)->inner;
}

/*
 * A client reads its files through a mapping of each: an SSTable is
 * immutable, so a block is a copy from the page cache without a system
 * call (a pread was 6 % of a backend's time in a point read), and the
 * reader searches a file's index block in the mapping (wc_fs.view), so
 * that opening a file copies and parses nothing per block.  A mapped
 * file that shrinks after it was opened (only something outside widecol
 * truncates one) raises SIGBUS on the missing pages.  Every read of a
 * mapping runs under a guard that turns that into a miss instead of a
 * crash: a copy (pread) under one of its own, which fails that read, and
 * a whole direct read under another (wc_directread_read), which gives the
 * client up.  The handler is (re)installed when a file is mapped, if
 * another took its place meanwhile; a SIGBUS outside a guarded read gets
 * the action that was there before.  Mapping is done by the client's
 * thread only.
 */
static __thread sigjmp_buf *volatile wc__dr_guard; /* read by the handler */
static struct sigaction wc__dr_old_bus;

static void wc__dr_on_bus(int sig, siginfo_t *info, void *ctx)
{
    sigjmp_buf *g = wc__dr_guard;

    if (g != NULL) {
        wc__dr_guard = NULL;
        siglongjmp(*g, 1);
    }
    /* not ours: put the earlier action back; the faulting access repeats under it */
    (void)info;
    (void)ctx;
    sigaction(sig, &wc__dr_old_bus, NULL);
}

/* Whether SIGBUS is handled by wc__dr_on_bus (installed now if it was not). */
static bool wc__dr_install_bus(void)
{
    struct sigaction cur, sa;

    if (sigaction(SIGBUS, NULL, &cur) != 0)
        return false;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == wc__dr_on_bus)
        return true;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = wc__dr_on_bus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &wc__dr_old_bus) == 0;
}

/* Map f's whole file (size bytes) if it can; a file that cannot be mapped is read. */
static void wc__dr_map(wc__dr_file *f, uint64_t size)
{
    int fd = wc_fs_posix_fd(f->inner);
    void *m;

    if (size == 0 || size > SIZE_MAX || fd < 0 || !wc__dr_install_bus())
        return;
    m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return;
    f->map = m;
    f->map_len = (size_t)size;
}

static wc_status wc__dr_fs_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    wc__dr_fs *d = (wc__dr_fs *)fs;
    wc__dr_file *f;
    uint64_t size;
    wc_status st;

    *out = NULL;
    d->refused = false;
    if (d->acquire != NULL && !d->acquire(d->arg)) {
        d->refused = true;
        return wc_error(WC_OVERLOADED, "no file descriptor to spare for \"%s\"", path);
    }
    if ((f = wc_calloc(1, sizeof(*f))) == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory opening \"%s\"", path);
    } else if ((st = d->inner->open(d->inner, path, flags, &f->inner)) == WC_OK) {
        f->base.fs = fs;
        if (f->inner->fs->size(f->inner, &size) == WC_OK)
            wc__dr_map(f, size);
        *out = &f->base;
        return WC_OK;
    }
    wc_free(f);
    if (d->release != NULL)
        d->release(d->arg);
    return st;
}

static wc_status wc__dr_fs_close(wc_file *f)
{
    wc__dr_fs *d = (wc__dr_fs *)f->fs;
    wc__dr_file *df = (wc__dr_file *)f;
    wc_file *inner = wc__dr_inner(f);
    wc_status st = inner->fs->close(inner);

    if (df->map != NULL)
        munmap((void *)df->map, df->map_len);
    wc_free(f);
    if (d->release != NULL)
        d->release(d->arg);
    return st;
}

/* The mapping of f's bytes [off, off + n), or NULL: read them (wc_fs.view). */
static const uint8_t *wc__dr_fs_view(wc_file *f, uint64_t off, size_t n)
{
    wc__dr_file *df = (wc__dr_file *)f;

    if (df->map == NULL || off > df->map_len || n > df->map_len - off)
        return NULL;
    return df->map + off;
}

static wc_status wc__dr_fs_pread(wc_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
    const uint8_t *v = wc__dr_fs_view(f, off, n);
    wc_file *inner = wc__dr_inner(f);
    sigjmp_buf jb, *volatile outer = wc__dr_guard;

    /* past the mapping (a file that grew, or a short read at its end): the real read */
    if (v == NULL)
        return inner->fs->pread(inner, buf, n, off, nread);
    if (sigsetjmp(jb, 0) != 0) {
        wc__dr_guard = outer;
        *nread = 0;
        return wc_error(WC_IO_ERROR,
                        "reading %zu bytes at offset %llu of an SSTable failed: the file is "
                        "shorter than when it was opened",
                        n, (unsigned long long)off);
    }
    wc__dr_guard = &jb;
    memcpy(buf, v, n);
    wc__dr_guard = outer;
    *nread = n;
    return WC_OK;
}

static wc_status wc__dr_fs_size(wc_file *f, uint64_t *out)
{
    wc_file *inner = wc__dr_inner(f);

    return inner->fs->size(inner, out);
}

/*
 * The real file system's directory operations (they ignore their fs), and
 * file operations of its own: a client only opens, reads, sizes and closes
 * its files, which it opens read-only, so writing ones stay unset.
 */
static void wc__dr_fs_init(wc__dr_fs *d)
{
    memset(d, 0, sizeof(*d));
    d->inner = wc_fs_posix();
    d->base = *d->inner;
    d->base.open = wc__dr_fs_open;
    d->base.close = wc__dr_fs_close;
    d->base.pread = wc__dr_fs_pread;
    d->base.size = wc__dr_fs_size;
    d->base.pwrite = NULL;
    d->base.sync = NULL;
    d->base.truncate = NULL;
    d->base.allocate = NULL;
    d->base.map = NULL;
    d->base.unmap = NULL;
    d->base.view = wc__dr_fs_view;
}

void wc_directread_set_fd_hooks(wc_directread *dr, bool (*acquire)(void *arg),
                                void (*release)(void *arg), void *arg)
{
    dr->fs.acquire = acquire;
    dr->fs.release = release;
    dr->fs.arg = arg;
}

wc_status wc_directread_open(void *mem, size_t size, wc_directread **out)
{
    wc__dr_hdr *h = mem;
    wc_directread *dr;

    *out = NULL;
    if (mem == NULL || size < wc_directread_size() || h->magic != WC__DR_MAGIC ||
        h->ntables != WC_DR_TABLES || h->nstripes[0] != WC_DR_PART_STRIPES ||
        h->nstripes[1] != WC_DR_ROW_STRIPES || h->nstripes[2] != WC_DR_LEVEL_STRIPES ||
        h->max_files != WC_DR_MAX_FILES)
        return wc_error(WC_CORRUPTION, "not a direct read region of this build");
    if ((dr = wc_calloc(1, sizeof(*dr))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening the direct read region");
    dr->h = h;
    dr->part_stripes = (_Atomic uint64_t *)((char *)mem + wc__dr_stripes_off());
    dr->row_stripes = dr->part_stripes + WC_DR_PART_STRIPES;
    dr->level_stripes = dr->row_stripes + WC_DR_ROW_STRIPES;
    dr->slots = (wc__dr_slot *)((char *)mem + wc__dr_slots_off());
    wc__dr_fs_init(&dr->fs);
    dr->budget = WC_DR_DEFAULT_BUDGET;
    pthread_mutex_init(&dr->mu, NULL);
    *out = dr;
    return WC_OK;
}

static void wc__dr_close(wc_directread *dr, wc__dr_open *o)
{
    wc_sstable_unref(o->t);
    o->t = NULL;
    dr->open_bytes -= o->bytes;
}

static void wc__dr_close_files(wc_directread *dr)
{
    for (size_t i = 0; i < WC_DR_OPEN_FILES; i++)
        if (dr->open[i].t != NULL)
            wc__dr_close(dr, &dr->open[i]);
}

void wc_directread_set_budget(wc_directread *dr, uint64_t bytes)
{
    dr->budget = bytes;
    /* files beyond it are closed as they are replaced */
}

void wc_directread_close(wc_directread *dr)
{
    if (dr == NULL)
        return;
    wc__dr_close_files(dr);
    pthread_mutex_destroy(&dr->mu);
    wc_free(dr);
}

/* ---------------------------------------------------------------- hashing */

static uint32_t wc__dr_home(uint32_t table_id)
{
    return (uint32_t)(XXH3_64bits(&table_id, sizeof(table_id)) % WC_DR_TABLES);
}

/* The stripe of any write to partition pk. */
static _Atomic uint64_t *wc__dr_stripe(wc_directread *dr, uint32_t table_id, const uint8_t *pk,
                                       size_t pk_len)
{
    return &dr->part_stripes[XXH3_64bits_withSeed(pk, pk_len, table_id) &
                             (WC_DR_PART_STRIPES - 1)];
}

/* The stripe of partition-level writes to pk (deletion, range tombstones, static row). */
static _Atomic uint64_t *wc__dr_part_stripe(wc_directread *dr, uint32_t table_id,
                                            const uint8_t *pk, size_t pk_len)
{
    uint64_t seed = (uint64_t)table_id ^ 0x9e3779b97f4a7c15ULL;

    return &dr->level_stripes[XXH3_64bits_withSeed(pk, pk_len, seed) &
                              (WC_DR_LEVEL_STRIPES - 1)];
}

/*
 * The two stripes of writes to the row ck of partition pk (two pieces of
 * one hash).  A write raises both; a read counts the lower one: a write to
 * the row raised both, so another row's write that shares one of them
 * sends the read to the node only if a write shares the other as well
 * (n rows written into s stripes: about (2n/s)^2 of the reads instead of
 * n/s with one stripe per row, fewer while n < s/4).
 */
static void wc__dr_row_stripes(wc_directread *dr, uint32_t table_id, const uint8_t *pk,
                               size_t pk_len, const uint8_t *ck, size_t ck_len,
                               _Atomic uint64_t **a, _Atomic uint64_t **b)
{
    uint64_t h = XXH3_64bits_withSeed(ck, ck_len, XXH3_64bits_withSeed(pk, pk_len, table_id));

    *a = &dr->row_stripes[h & (WC_DR_ROW_STRIPES - 1)];
    *b = &dr->row_stripes[(h >> 32) & (WC_DR_ROW_STRIPES - 1)];
}

/* Raise *w to serial (the engine's writers are serialized: a plain maximum). */
static void wc__dr_raise(_Atomic uint64_t *w, uint64_t serial)
{
    if (atomic_load_explicit(w, memory_order_relaxed) < serial)
        atomic_store_explicit(w, serial, memory_order_release);
}

/* ---------------------------------------------------------------- node side */

static void wc__dr_slot_begin(wc__dr_slot *s)
{
    atomic_store_explicit(&s->seq, atomic_load_explicit(&s->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void wc__dr_slot_end(wc__dr_slot *s)
{
    atomic_store_explicit(&s->seq, atomic_load_explicit(&s->seq, memory_order_relaxed) + 1,
                          memory_order_release);
}

void wc_directread_serve(wc_directread *dr, const char *dir, bool enable)
{
    wc__dr_hdr *h = dr->h;
    uint64_t epoch = atomic_load(&h->state) >> 1;

    pthread_mutex_lock(&dr->mu);
    if (!enable) {
        /* clients stop first, then every table is forgotten */
        atomic_store(&h->state, (epoch + 1) << 1);
        for (uint32_t i = 0; i < WC_DR_TABLES; i++) {
            wc__dr_slot *s = &dr->slots[i];

            if (atomic_load_explicit(&s->table_id, memory_order_relaxed) == 0)
                continue;
            wc__dr_slot_begin(s);
            atomic_store_explicit(&s->nfiles, WC__DR_UNREADABLE, memory_order_relaxed);
            atomic_store_explicit(&s->table_id, 0, memory_order_relaxed);
            wc__dr_slot_end(s);
        }
    } else {
        /* the directory is written while no client reads it (not serving) */
        snprintf(h->dir, sizeof(h->dir), "%s", dir ? dir : "");
        atomic_store(&h->state, ((epoch + 1) << 1) | 1);
    }
    pthread_mutex_unlock(&dr->mu);
}

uint64_t wc_directread_serial_base(wc_directread *dr)
{
    return (atomic_fetch_add(&dr->h->starts, 1) + 1) << WC__DR_SERIAL_SHIFT;
}

void wc_directread_publish(void *arg, const wc_engine_table_files *f)
{
    wc_directread *dr = arg;
    wc__dr_slot *s = NULL;
    uint32_t home = wc__dr_home(f->table_id);
    bool readable = f->readable && f->nfiles <= WC_DR_MAX_FILES;

    pthread_mutex_lock(&dr->mu);
    /* the table's own slot, else a slot never used or one of an unreadable table */
    for (uint32_t k = 0; k < WC__DR_PROBE && s == NULL; k++) {
        wc__dr_slot *c = &dr->slots[(home + k) % WC_DR_TABLES];
        if (atomic_load_explicit(&c->table_id, memory_order_relaxed) == f->table_id)
            s = c;
    }
    for (uint32_t k = 0; k < WC__DR_PROBE && s == NULL && readable; k++) {
        wc__dr_slot *c = &dr->slots[(home + k) % WC_DR_TABLES];
        if (atomic_load_explicit(&c->table_id, memory_order_relaxed) == 0 ||
            atomic_load_explicit(&c->nfiles, memory_order_relaxed) == WC__DR_UNREADABLE)
            s = c;
    }
    if (s != NULL) {
        wc__dr_slot_begin(s);
        atomic_store_explicit(&s->table_id, f->table_id, memory_order_relaxed);
        atomic_store_explicit(&s->flushed_below, f->flushed_below, memory_order_relaxed);
        atomic_store_explicit(&s->table_wide, f->table_wide, memory_order_relaxed);
        for (size_t i = 0; readable && i < f->nfiles; i++) {
            atomic_store_explicit(&s->files[i].gen, f->files[i].gen, memory_order_relaxed);
            atomic_store_explicit(&s->files[i].file_id, f->files[i].file_id,
                                  memory_order_relaxed);
            atomic_store_explicit(&s->files[i].bytes, f->files[i].bytes, memory_order_relaxed);
        }
        atomic_store_explicit(&s->nfiles, readable ? (uint32_t)f->nfiles : WC__DR_UNREADABLE,
                              memory_order_relaxed);
        wc__dr_slot_end(s);
    }
    atomic_fetch_add_explicit(&dr->h->lists, 1, memory_order_release);
    /* no slot: the table is not published, and its reads go to the node */
    pthread_mutex_unlock(&dr->mu);
}

void wc_directread_resident(void *arg, uint32_t table_id, const uint8_t *pk, size_t pk_len,
                            bool row, const uint8_t *ck, size_t ck_len, uint64_t serial)
{
    wc_directread *dr = arg;

    wc__dr_raise(wc__dr_stripe(dr, table_id, pk, pk_len), serial);
    if (row) {
        _Atomic uint64_t *a, *b;

        wc__dr_row_stripes(dr, table_id, pk, pk_len, ck, ck_len, &a, &b);
        wc__dr_raise(a, serial);
        wc__dr_raise(b, serial);
    } else
        wc__dr_raise(wc__dr_part_stripe(dr, table_id, pk, pk_len), serial);
}

/* req reads exactly the row whose whole clustering key both its bounds name. */
static bool wc__dr_row_read(const wc_read_request *req)
{
    const wc_bound *s = &req->start, *e = &req->end;

    return req->paging_state == NULL && !req->reverse && !req->include_static && !s->unbounded &&
           !e->unbounded && s->inclusive && e->inclusive && s->len > 0 && s->len == e->len &&
           memcmp(s->key, e->key, s->len) == 0;
}

/* ---------------------------------------------------------------- client side */

/* Copy table_id's slot: false if it is not published, not readable, or kept changing. */
static bool wc__dr_copy_slot(wc_directread *dr, uint32_t table_id, wc__dr_copy *c)
{
    uint32_t home = wc__dr_home(table_id);

    c->nfiles = 0;
    c->flushed_below = c->table_wide = 0;
    for (uint32_t k = 0; k < WC__DR_PROBE; k++) {
        wc__dr_slot *s = &dr->slots[(home + k) % WC_DR_TABLES];

        for (int tries = 0; tries < 4; tries++) {
            uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire), s2;
            uint32_t id, n;

            if (s1 & 1)
                continue;
            id = atomic_load_explicit(&s->table_id, memory_order_relaxed);
            n = atomic_load_explicit(&s->nfiles, memory_order_relaxed);
            if (id == table_id && n != WC__DR_UNREADABLE && n <= WC_DR_MAX_FILES) {
                c->nfiles = n;
                c->flushed_below = atomic_load_explicit(&s->flushed_below, memory_order_relaxed);
                c->table_wide = atomic_load_explicit(&s->table_wide, memory_order_relaxed);
                for (uint32_t i = 0; i < n; i++) {
                    c->gen[i] = atomic_load_explicit(&s->files[i].gen, memory_order_relaxed);
                    c->file_id[i] =
                        atomic_load_explicit(&s->files[i].file_id, memory_order_relaxed);
                    c->bytes[i] = atomic_load_explicit(&s->files[i].bytes, memory_order_relaxed);
                }
            }
            atomic_thread_fence(memory_order_acquire);
            s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
            if (s1 != s2)
                continue; /* torn: again */
            if (id != table_id)
                break;    /* another table's slot: the next one */
            return n != WC__DR_UNREADABLE && n <= WC_DR_MAX_FILES;
        }
    }
    return false;
}

/* The open file used least recently (NULL: none), or with unused true an unused entry. */
static wc__dr_open *wc__dr_entry(wc_directread *dr, bool unused)
{
    wc__dr_open *lru = NULL;

    for (size_t i = 0; i < WC_DR_OPEN_FILES; i++) {
        wc__dr_open *o = &dr->open[i];

        if (o->t == NULL) {
            if (unused)
                return o;
        } else if (lru == NULL || o->used < lru->used) {
            lru = o;
        }
    }
    return unused ? NULL : lru;
}

/* The file gen/file_id of table_id if this client has it open, with a reference; else NULL. */
static wc_sstable *wc__dr_cached(wc_directread *dr, uint32_t table_id, uint64_t gen,
                                 uint64_t file_id)
{
    for (size_t i = 0; i < WC_DR_OPEN_FILES; i++) {
        wc__dr_open *o = &dr->open[i];

        if (o->t != NULL && o->file_id == file_id && o->gen == gen && o->table_id == table_id &&
            o->epoch == dr->epoch) {
            o->used = ++dr->clock;
            wc_sstable_ref(o->t);
            return o->t;
        }
    }
    return NULL;
}

/*
 * Open the file gen/file_id (bytes long) of table_id, which this client
 * does not have open (wc__dr_cached), with a reference for the caller;
 * NULL if it cannot be opened.  Files used least recently are closed to
 * keep the open ones within the budget (the caller's references keep those
 * it still reads), and, while the descriptor hook refuses, those not used
 * since clock value since (the read in progress holds the rest).
 */
static wc_sstable *wc__dr_open_file(wc_directread *dr, uint32_t table_id, uint64_t gen,
                                    uint64_t file_id, uint64_t bytes, uint64_t since)
{
    wc__dr_open *victim;
    char path[sizeof(dr->dir) + 64];
    wc_sstable *t;

    snprintf(path, sizeof(path), "%s/t%u/%llu.sst", dr->dir, table_id, (unsigned long long)gen);
    /* the node opened the file with every check (it publishes only files it has open) */
    while (wc_sstable_open_flags(&dr->fs.base, path, NULL, file_id, WC_SST_OPEN_CHECKED_INDEX,
                                 &t) != WC_OK) {
        /* gone (compacted away) or damaged: the node answers */
        if (!dr->fs.refused || (victim = wc__dr_entry(dr, false)) == NULL || victim->used > since)
            return NULL;
        wc__dr_close(dr, victim); /* frees its descriptor: nobody else holds it */
        wc_clear_error();
    }
    while (dr->open_bytes + bytes > dr->budget && (victim = wc__dr_entry(dr, false)) != NULL)
        wc__dr_close(dr, victim);
    if ((victim = wc__dr_entry(dr, true)) == NULL) {
        victim = wc__dr_entry(dr, false); /* every entry in use: the least recent goes */
        wc__dr_close(dr, victim);
    }
    *victim = (wc__dr_open){t, dr->epoch, file_id, gen, ++dr->clock, bytes, table_id};
    dr->open_bytes += bytes;
    wc_sstable_ref(t);
    return t;
}

/* Close table_id's files that c no longer lists (compacted away: their space is freed). */
static void wc__dr_forget_old(wc_directread *dr, uint32_t table_id, const wc__dr_copy *c)
{
    for (size_t i = 0; i < WC_DR_OPEN_FILES; i++) {
        wc__dr_open *o = &dr->open[i];
        bool listed = false;

        if (o->t == NULL || o->table_id != table_id)
            continue;
        for (uint32_t k = 0; k < c->nfiles && !listed; k++)
            listed = c->file_id[k] == o->file_id && c->gen[k] == o->gen;
        if (!listed)
            wc__dr_close(dr, o);
    }
}

/*
 * Close the files of every table whose list changed since the last sweep
 * and no longer names them (compacted away, dropped): a client that stops
 * reading a table does not keep its old files, and their disk space, for
 * long.  Cheap when nothing changed (one load).
 */
static void wc__dr_sweep(wc_directread *dr)
{
    uint64_t lists = atomic_load_explicit(&dr->h->lists, memory_order_acquire);

    if (lists == dr->lists)
        return;
    dr->lists = lists;
    for (size_t i = 0; i < WC_DR_OPEN_FILES; i++) {
        wc__dr_open *o = &dr->open[i];
        wc__dr_copy c;

        if (o->t == NULL)
            continue;
        if (!wc__dr_copy_slot(dr, o->table_id, &c))
            c.nfiles = 0; /* not published (dropped, unreadable): none of its files */
        wc__dr_forget_old(dr, o->table_id, &c);
    }
}

static wc_status wc__dr_miss(wc_directread *dr, _Atomic uint64_t *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    wc_clear_error();
    return WC_NOT_FOUND;
}

/* "table <id>", the name in the engine's messages, without printf's cost on every read. */
static void wc__dr_table_name(char out[32], uint32_t id)
{
    char digits[10];
    int n = 0;

    do {
        digits[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id != 0);
    memcpy(out, "table ", 6);
    for (int i = 0; i < n; i++)
        out[6 + i] = digits[n - 1 - i];
    out[6 + n] = '\0';
}

/*
 * Open c's files of req's table (those not open already) and read them:
 * WC_NOT_FOUND if one cannot be opened (the node answers).
 */
static wc_status wc__dr_read_files(wc_directread *dr, const wc_read_request *req,
                                   const wc__dr_copy *c, wc_page **out)
{
    wc_sstable *files[WC_DR_MAX_FILES];
    uint64_t since;
    char name[32];
    wc_status st;

    wc__dr_forget_old(dr, req->table_id, c);
    /* the files open already first, so that making room for the others spares them */
    since = dr->clock;
    for (uint32_t i = 0; i < c->nfiles; i++)
        files[i] = wc__dr_cached(dr, req->table_id, c->gen[i], c->file_id[i]);
    for (uint32_t i = 0; i < c->nfiles; i++)
        if (files[i] == NULL && (files[i] = wc__dr_open_file(dr, req->table_id, c->gen[i],
                                                             c->file_id[i], c->bytes[i], since)) ==
                                    NULL) {
            for (uint32_t k = 0; k < c->nfiles; k++)
                wc_sstable_unref(files[k]); /* NULL for those not reached */
            return WC_NOT_FOUND;
        }
    wc__dr_table_name(name, req->table_id);
    st = wc_engine_read_files(files, c->nfiles, name, req, out);
    for (uint32_t i = 0; i < c->nfiles; i++)
        wc_sstable_unref(files[i]);
    return st;
}

wc_status wc_directread_read(wc_directread *dr, const wc_read_request *req, bool row,
                             wc_page **out)
{
    wc__dr_hdr *h = dr->h;
    wc__dr_copy c;
    uint64_t state, stripe;
    sigjmp_buf jb;
    wc_status st;

    *out = NULL;
    if (dr->given_up)
        return wc__dr_miss(dr, &h->other);
    state = atomic_load_explicit(&h->state, memory_order_acquire);
    if (dr->epoch == state >> 1)
        wc__dr_sweep(dr);
    if (req->pk == NULL || (state & 1) == 0)
        return wc__dr_miss(dr, &h->other);
    if (row && wc__dr_row_read(req)) {
        /* one row: writes to other rows of the partition do not change it */
        _Atomic uint64_t *a, *b;
        uint64_t r, rb, p;

        wc__dr_row_stripes(dr, req->table_id, req->pk, req->pk_len, req->start.key,
                           req->start.len, &a, &b);
        r = atomic_load_explicit(a, memory_order_acquire);
        rb = atomic_load_explicit(b, memory_order_acquire);
        if (rb < r)
            r = rb;
        p = atomic_load_explicit(
            wc__dr_part_stripe(dr, req->table_id, req->pk, req->pk_len), memory_order_acquire);

        stripe = r > p ? r : p;
    } else {
        stripe = atomic_load_explicit(wc__dr_stripe(dr, req->table_id, req->pk, req->pk_len),
                                      memory_order_acquire);
    }
    if (!wc__dr_copy_slot(dr, req->table_id, &c))
        return wc__dr_miss(dr, &h->other);
    if (stripe >= c.flushed_below || c.table_wide >= c.flushed_below)
        return wc__dr_miss(dr, &h->resident);
    if (dr->epoch != state >> 1) {
        /* another node start: its files and directory, none of the last one's */
        wc__dr_close_files(dr);
        snprintf(dr->dir, sizeof(dr->dir), "%s", h->dir);
        dr->epoch = state >> 1;
    }
    {
        uint64_t total = 0;

        for (uint32_t i = 0; i < c.nfiles; i++)
            total += c.bytes[i];
        if (total > dr->budget)
            return wc__dr_miss(dr, &h->other); /* the table's files are more than we keep open */
    }
    /*
     * A mapping that faults (its file shrank) anywhere in the files' opening
     * or the read, outside a copy's own guard: the read and its files are
     * left exactly as they were, and this client reads through the node
     * from now on.  Rather a few leaked blocks than a crashed backend.
     */
    if (sigsetjmp(jb, 0) != 0) {
        wc__dr_guard = NULL;
        dr->given_up = true;
        *out = NULL;
        return wc__dr_miss(dr, &h->other);
    }
    wc__dr_guard = &jb;
    st = wc__dr_read_files(dr, req, &c, out);
    wc__dr_guard = NULL;
    /* the node stopped meanwhile: its directory may be another's by now */
    if (st == WC_OK && atomic_load_explicit(&h->state, memory_order_acquire) != state) {
        wc_page_free(*out);
        *out = NULL;
        st = WC_NOT_FOUND;
    }
    if (st != WC_OK)
        return wc__dr_miss(dr, &h->other);
    atomic_fetch_add_explicit(&h->reads, 1, memory_order_relaxed);
    return WC_OK;
}

void wc_directread_get_stats(wc_directread *dr, wc_directread_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->enabled = (atomic_load(&dr->h->state) & 1) != 0;
    out->reads = atomic_load_explicit(&dr->h->reads, memory_order_relaxed);
    out->resident = atomic_load_explicit(&dr->h->resident, memory_order_relaxed);
    out->other = atomic_load_explicit(&dr->h->other, memory_order_relaxed);
    out->given_up = dr->given_up;
    for (uint32_t i = 0; i < WC_DR_TABLES; i++) {
        uint32_t n = atomic_load_explicit(&dr->slots[i].nfiles, memory_order_relaxed);

        if (atomic_load_explicit(&dr->slots[i].table_id, memory_order_relaxed) != 0 &&
            n != WC__DR_UNREADABLE)
            out->tables++;
    }
}
