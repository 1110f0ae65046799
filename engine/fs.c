/*
 * fs.c - POSIX implementation of the file-system layer, and helpers.
 */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "alloc.h"

typedef struct wc__posix_file {
    wc_file base;
    int fd;
    char *path;
} wc__posix_file;

static wc_status posix_open(wc_fs *fs, const char *path, int flags, wc_file **out)
{
    int oflags = (flags & WC_O_WRITE) ? O_RDWR : O_RDONLY;
    wc__posix_file *f;
    int fd;

    if (flags & WC_O_CREATE)
        oflags |= O_CREAT;
    if (flags & WC_O_TRUNC)
        oflags |= O_TRUNC;
    if (flags & WC_O_EXCL)
        oflags |= O_EXCL;
    fd = open(path, oflags | O_CLOEXEC, 0600);
    if (fd < 0)
        return wc_error_errno(errno, "could not open \"%s\"", path);
    f = wc_calloc(1, sizeof(*f));
    if (f)
        f->path = wc_strdup(path);
    if (f == NULL || f->path == NULL) {
        if (f)
            wc_free(f);
        close(fd);
        return wc_error(WC_NO_MEMORY, "out of memory opening \"%s\"", path);
    }
    f->base.fs = fs;
    f->fd = fd;
    *out = &f->base;
    return WC_OK;
}

static wc_status posix_pread(wc_file *file, void *buf, size_t n, uint64_t off, size_t *nread)
{
    wc__posix_file *f = (wc__posix_file *)file;
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return wc_error_errno(errno, "could not read \"%s\" at %llu", f->path,
                                  (unsigned long long)(off + done));
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *nread = done;
    return WC_OK;
}

static wc_status posix_pwrite(wc_file *file, const void *buf, size_t n, uint64_t off)
{
    wc__posix_file *f = (wc__posix_file *)file;
    size_t done = 0;

    while (done < n) {
        ssize_t r = pwrite(f->fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return wc_error_errno(errno, "could not write \"%s\" at %llu", f->path,
                                  (unsigned long long)(off + done));
        }
        done += (size_t)r;
    }
    return WC_OK;
}

static wc_status posix_sync(wc_file *file)
{
    wc__posix_file *f = (wc__posix_file *)file;

    if (fdatasync(f->fd) != 0)
        return wc_error_errno(errno, "could not fsync \"%s\"", f->path);
    return WC_OK;
}

static wc_status posix_size(wc_file *file, uint64_t *out)
{
    wc__posix_file *f = (wc__posix_file *)file;
    struct stat st;

    if (fstat(f->fd, &st) != 0)
        return wc_error_errno(errno, "could not stat \"%s\"", f->path);
    *out = (uint64_t)st.st_size;
    return WC_OK;
}

static wc_status posix_truncate(wc_file *file, uint64_t len)
{
    wc__posix_file *f = (wc__posix_file *)file;

    if (ftruncate(f->fd, (off_t)len) != 0)
        return wc_error_errno(errno, "could not truncate \"%s\"", f->path);
    return WC_OK;
}

static wc_status posix_allocate(wc_file *file, uint64_t len)
{
    wc__posix_file *f = (wc__posix_file *)file;
    int r = posix_fallocate(f->fd, 0, (off_t)len);

    if (r != 0 && r != EOPNOTSUPP && r != EINVAL)
        return wc_error_errno(r, "could not allocate %llu bytes for \"%s\"",
                              (unsigned long long)len, f->path);
    return WC_OK;
}

/*
 * File systems on which a store into a page of allocated (fallocate) blocks
 * needs no new block: ext2/3/4, XFS and tmpfs.  Elsewhere (btrfs, ZFS: copy
 * on write) the page fault can fail for lack of space, and a failed store
 * is a SIGBUS, so those files are written with pwrite.
 */
static bool posix_map_safe(int fd)
{
    struct statfs sfs;

    if (fstatfs(fd, &sfs) != 0)
        return false;
    switch ((unsigned long)sfs.f_type) {
    case 0xEF53UL:     /* ext2, ext3, ext4 */
    case 0x58465342UL: /* XFS */
    case 0x01021994UL: /* tmpfs */
        return true;
    default:
        return false;
    }
}

static wc_status posix_map(wc_file *file, uint64_t len, void **addr)
{
    wc__posix_file *f = (wc__posix_file *)file;
    struct stat st;
    void *m;

    if (len == 0 || fstat(f->fd, &st) != 0 || (uint64_t)st.st_size < len ||
        (uint64_t)st.st_blocks * 512 < len || !posix_map_safe(f->fd))
        return wc_error(WC_INVALID_ARGUMENT, "\"%s\" is not mapped: not %llu allocated bytes on "
                        "a file system that maps safely", f->path, (unsigned long long)len);
    m = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (m == MAP_FAILED)
        return wc_error_errno(errno, "could not map \"%s\"", f->path);
    *addr = m;
    return WC_OK;
}

static void posix_unmap(wc_file *file, void *addr, uint64_t len)
{
    (void)file;
    if (addr != NULL)
        munmap(addr, (size_t)len);
}

static wc_status posix_close(wc_file *file)
{
    wc__posix_file *f = (wc__posix_file *)file;
    wc_status st = WC_OK;

    if (close(f->fd) != 0)
        st = wc_error_errno(errno, "could not close \"%s\"", f->path);
    wc_free(f->path);
    wc_free(f);
    return st;
}

static wc_status posix_rename(wc_fs *fs, const char *from, const char *to)
{
    (void)fs;
    if (rename(from, to) != 0)
        return wc_error_errno(errno, "could not rename \"%s\" to \"%s\"", from, to);
    return WC_OK;
}

static wc_status posix_unlink(wc_fs *fs, const char *path)
{
    (void)fs;
    if (unlink(path) != 0)
        return wc_error_errno(errno, "could not remove \"%s\"", path);
    return WC_OK;
}

static wc_status posix_mkdir(wc_fs *fs, const char *path)
{
    (void)fs;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return wc_error_errno(errno, "could not create directory \"%s\"", path);
    return WC_OK;
}

static wc_status posix_rmdir(wc_fs *fs, const char *path)
{
    (void)fs;
    if (rmdir(path) != 0)
        return wc_error_errno(errno, "could not remove directory \"%s\"", path);
    return WC_OK;
}

static wc_status posix_sync_dir(wc_fs *fs, const char *path)
{
    int fd;

    (void)fs;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return wc_error_errno(errno, "could not open directory \"%s\"", path);
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return wc_error_errno(e, "could not fsync directory \"%s\"", path);
    }
    close(fd);
    return WC_OK;
}

static wc_status posix_list(wc_fs *fs, const char *dir, wc_fs_list_cb cb, void *arg)
{
    DIR *d;
    struct dirent *de;

    (void)fs;
    d = opendir(dir);
    if (d == NULL)
        return wc_error_errno(errno, "could not open directory \"%s\"", dir);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (cb(arg, de->d_name))
            break;
    }
    closedir(d);
    return WC_OK;
}

static wc_status posix_exists(wc_fs *fs, const char *path, bool *out)
{
    struct stat st;

    (void)fs;
    if (stat(path, &st) == 0) {
        *out = true;
        return WC_OK;
    }
    if (errno == ENOENT) {
        *out = false;
        return WC_OK;
    }
    return wc_error_errno(errno, "could not stat \"%s\"", path);
}

static wc_status posix_link(wc_fs *fs, const char *from, const char *to)
{
    (void)fs;
    if (link(from, to) != 0)
        return wc_error_errno(errno, "could not link \"%s\" to \"%s\"", from, to);
    return WC_OK;
}

static wc_fs wc__posix_fs = {
    .open = posix_open,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .sync = posix_sync,
    .size = posix_size,
    .truncate = posix_truncate,
    .allocate = posix_allocate,
    .close = posix_close,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
    .rmdir = posix_rmdir,
    .sync_dir = posix_sync_dir,
    .list = posix_list,
    .exists = posix_exists,
    .link = posix_link,
    .map = posix_map,
    .unmap = posix_unmap,
};

wc_fs *wc_fs_posix(void)
{
    return &wc__posix_fs;
}

int wc_fs_posix_fd(wc_file *f)
{
    return f != NULL && f->fs == &wc__posix_fs ? ((wc__posix_file *)f)->fd : -1;
}

void wc_path_dirname(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

wc_status wc_fs_read_all(wc_fs *fs, const char *path, size_t max_len, uint8_t **out, size_t *len)
{
    wc_file *f;
    uint64_t size;
    uint8_t *data = NULL;
    size_t got;
    wc_status st;

    st = fs->open(fs, path, WC_O_READ, &f);
    if (st != WC_OK)
        return st;
    st = fs->size(f, &size);
    if (st != WC_OK)
        goto fail;
    if (size > max_len) {
        st = wc_error(WC_CORRUPTION, "file \"%s\" has %llu bytes, more than the %zu allowed", path,
                      (unsigned long long)size, max_len);
        goto fail;
    }
    data = wc_malloc((size_t)size + 1);
    if (data == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory reading \"%s\"", path);
        goto fail;
    }
    st = fs->pread(f, data, (size_t)size, 0, &got);
    if (st != WC_OK)
        goto fail;
    if (got != size) {
        st = wc_error(WC_IO_ERROR, "short read of \"%s\"", path);
        goto fail;
    }
    fs->close(f);
    *out = data;
    *len = (size_t)size;
    return WC_OK;
fail:
    wc_free(data);
    fs->close(f);
    return st;
}

wc_status wc_fs_write_atomic(wc_fs *fs, const char *path, const void *data, size_t len)
{
    char tmp[4096], dir[4096];
    wc_file *f;
    wc_status st;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    st = fs->open(fs, tmp, WC_O_WRITE | WC_O_CREATE | WC_O_TRUNC, &f);
    if (st != WC_OK)
        return st;
    st = fs->pwrite(f, data, len, 0);
    if (st == WC_OK)
        st = fs->sync(f);
    if (st != WC_OK) {
        fs->close(f);
        fs->unlink(fs, tmp);
        return st;
    }
    st = fs->close(f);
    if (st == WC_OK)
        st = fs->rename(fs, tmp, path);
    if (st != WC_OK) {
        fs->unlink(fs, tmp);
        return st;
    }
    wc_path_dirname(path, dir, sizeof(dir));
    return fs->sync_dir(fs, dir);
}

/* Create one directory of a path; if it is new, sync its parent so the new entry survives a crash. */
static wc_status wc__mkdir_durable(wc_fs *fs, const char *path)
{
    char parent[4096];
    bool exists;
    wc_status st;

    st = fs->exists(fs, path, &exists);
    if (st != WC_OK || exists)
        return st;
    st = fs->mkdir(fs, path);
    if (st != WC_OK)
        return st;
    wc_path_dirname(path, parent, sizeof(parent));
    return fs->sync_dir(fs, parent);
}

wc_status wc_fs_mkdirs(wc_fs *fs, const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n >= sizeof(tmp))
        return wc_error(WC_INVALID_ARGUMENT, "path too long: \"%s\"", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (tmp[i] == '/') {
            tmp[i] = '\0';
            wc_status st = wc__mkdir_durable(fs, tmp);
            if (st != WC_OK)
                return st;
            tmp[i] = '/';
        }
    }
    return wc__mkdir_durable(fs, tmp);
}
