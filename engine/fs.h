/*
 * fs.h - the file-system layer every engine file access goes through.
 *
 * wc_fs is a table of operations; wc_fs_posix() is the real one, and tests
 * swap in a fault-injecting one (engine/tests/faultfs.h) that produces short
 * writes, fsync failures, ENOSPC and simulated crashes (loss of unsynced data).
 * A wc_file is used by one thread at a time, except that pread may be called
 * concurrently on a file nobody writes.  The wc_fs object itself is
 * thread-safe.  All functions return a wc_status and set wc_last_error().
 */
#ifndef WC_FS_H
#define WC_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct wc_fs wc_fs;
typedef struct wc_file wc_file;

/* open flags */
#define WC_O_READ 0x01   /* read only */
#define WC_O_WRITE 0x02  /* read and write */
#define WC_O_CREATE 0x04 /* create if missing */
#define WC_O_TRUNC 0x08  /* truncate to 0 */
#define WC_O_EXCL 0x10   /* fail with WC_EXISTS if present */

struct wc_file {
    wc_fs *fs; /* owning file system */
};

/* Called once per directory entry name (not "." or ".."). Return non-zero to stop. */
typedef int (*wc_fs_list_cb)(void *arg, const char *name);

struct wc_fs {
    wc_status (*open)(wc_fs *fs, const char *path, int flags, wc_file **out);
    /* Reads up to n bytes at off; *nread < n only at end of file. */
    wc_status (*pread)(wc_file *f, void *buf, size_t n, uint64_t off, size_t *nread);
    /* Writes all n bytes at off or fails (short writes are retried inside). */
    wc_status (*pwrite)(wc_file *f, const void *buf, size_t n, uint64_t off);
    wc_status (*sync)(wc_file *f); /* fdatasync */
    wc_status (*size)(wc_file *f, uint64_t *out);
    wc_status (*truncate)(wc_file *f, uint64_t len);
    /* Reserve space so later writes below len do not hit ENOSPC (may be a no-op). */
    wc_status (*allocate)(wc_file *f, uint64_t len);
    wc_status (*close)(wc_file *f); /* always frees f */
    wc_status (*rename)(wc_fs *fs, const char *from, const char *to);
    wc_status (*unlink)(wc_fs *fs, const char *path);
    wc_status (*mkdir)(wc_fs *fs, const char *path); /* WC_OK if it exists */
    wc_status (*rmdir)(wc_fs *fs, const char *path);
    wc_status (*sync_dir)(wc_fs *fs, const char *path);
    wc_status (*list)(wc_fs *fs, const char *dir, wc_fs_list_cb cb, void *arg);
    wc_status (*exists)(wc_fs *fs, const char *path, bool *out);
    /* Hard link: to names the file from names (WC_EXISTS if to exists); like a created
     * file, the new name survives a crash once its directory was fsynced (sync_dir). */
    wc_status (*link)(wc_fs *fs, const char *from, const char *to);
    /*
     * Optional (NULL: this file system does not map files).  Map the first
     * len bytes of f, which must be that long already and have its blocks
     * allocated (allocate), shared and writable: a store to *addr changes
     * the file as a pwrite does (it survives the process, not a power loss),
     * and a later sync of f makes it durable.  WC_INVALID_ARGUMENT when the
     * file is shorter or its file system is not one where a store into
     * allocated blocks can never fail (a copy-on-write one can run out of
     * space in the middle of it); the caller then writes with pwrite.
     * unmap ends the mapping; every mapping of f ends before close.
     */
    wc_status (*map)(wc_file *f, uint64_t len, void **addr);
    void (*unmap)(wc_file *f, void *addr, uint64_t len);
    /*
     * Optional (NULL: no views).  The n bytes at off of f, a file opened
     * for reading that nobody writes, in place, valid until f is closed;
     * NULL when this file system has no view of them (the caller reads
     * them with pread).  Reading a view of a file that something outside
     * the engine shrank faults (SIGBUS): a file system with views guards
     * the code that reads them (cluster/directread.c).
     */
    const uint8_t *(*view)(wc_file *f, uint64_t off, size_t n);
};

/* API */

/* The real file system (a process-wide singleton; never freed). */
wc_fs *wc_fs_posix(void);

/* The descriptor of f, a file opened by wc_fs_posix(); -1 for a file of another wc_fs. */
int wc_fs_posix_fd(wc_file *f);

/*
 * Helpers built on the table.
 * wc_fs_read_all: read a whole file (caller frees *out with wc_free).  Files
 *   larger than max_len are WC_CORRUPTION.
 * wc_fs_write_atomic: write data to path.tmp, fsync, rename over path, fsync
 *   the directory: after a crash either the old or the new content is there.
 * wc_fs_mkdirs: mkdir -p; the parent of every directory it creates is
 *   fsynced, so the new directories survive a crash.
 */
wc_status wc_fs_read_all(wc_fs *fs, const char *path, size_t max_len, uint8_t **out, size_t *len);
wc_status wc_fs_write_atomic(wc_fs *fs, const char *path, const void *data, size_t len);
wc_status wc_fs_mkdirs(wc_fs *fs, const char *path);
/* Directory part of path into out (size n). */
void wc_path_dirname(const char *path, char *out, size_t n);

#endif /* WC_FS_H */
