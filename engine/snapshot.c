/*
 * snapshot.c - snapshots of the engine directory: hard links to the
 * catalog and to every table's manifest and live SSTables under
 * <dir>/snapshots/<tag>/ (contract in engine.h; layout in
 * docs/file-formats.md).
 *
 * A snapshot costs no copy: SSTables are immutable and the catalog and
 * manifests are replaced by rename, never rewritten in place, so a hard
 * link keeps the version it was taken of while the live file moves on.
 * Locks: ddl_mu for the whole snapshot (no table appears or goes), then per
 * table its manifest_mu (no flush, compaction or scrub swaps its SSTable
 * list or rewrites its manifest) and briefly its mu to read the list.
 * Links and directories are made through the engine's fs and every
 * directory of the snapshot is fsynced before it returns (each table's,
 * the snapshot's, snapshots/ and, when snapshots/ is new, the engine
 * directory), so a snapshot that was reported taken survives a power loss
 * whole.  Removing and measuring snapshots walk them with POSIX calls
 * directly (snapshots are a POSIX-only feature).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "engine_int.h"

static bool wc__tag_ok(const char *tag)
{
    size_t n = tag ? strlen(tag) : 0;

    if (n == 0 || n >= WC_SNAPSHOT_TAG_MAX || tag[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = tag[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

static wc_status wc__bad_tag(const char *tag)
{
    return wc_error(WC_INVALID_ARGUMENT,
                    "snapshot tag \"%s\" is not valid: use 1 to %d letters, digits, '_', '-' or "
                    "'.', not starting with '.'",
                    tag ? tag : "", WC_SNAPSHOT_TAG_MAX - 1);
}

/* Remove dir and everything under it (two levels: a snapshot's layout). */
static wc_status wc__remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4400];
    struct stat sb;
    wc_status st = WC_OK;

    if (d == NULL)
        return errno == ENOENT ? WC_OK
                               : wc_error(WC_IO_ERROR, "cannot open \"%s\": %s", dir,
                                          strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if ((st = wc__remove_tree(p)) != WC_OK)
                break;
        } else if (unlink(p) != 0 && errno != ENOENT) {
            st = wc_error(WC_IO_ERROR, "cannot remove \"%s\": %s", p, strerror(errno));
            break;
        }
    }
    closedir(d);
    if (st == WC_OK && rmdir(dir) != 0 && errno != ENOENT)
        st = wc_error(WC_IO_ERROR, "cannot remove \"%s\": %s", dir, strerror(errno));
    return st;
}

/* Hard-link from into to and count it in info. */
static wc_status wc__link(wc_engine *e, const char *from, const char *to, wc_snapshot_info *info)
{
    struct stat sb;
    wc_status st;

    if (e->fs->link == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "snapshots need a file system with hard links");
    if ((st = e->fs->link(e->fs, from, to)) != WC_OK)
        return wc_error(st == WC_NO_SPACE ? WC_NO_SPACE : WC_IO_ERROR,
                        "cannot link \"%s\" into the snapshot: %s", from, wc_last_error());
    if (stat(to, &sb) == 0)
        info->bytes += (uint64_t)sb.st_size;
    info->files++;
    return WC_OK;
}

/* Link table t's manifest and live SSTables into sdir/t<id>.  REQUIRES: ddl_mu. */
static wc_status wc__snapshot_table(wc_engine *e, wc__table *t, const char *sdir,
                                    wc_snapshot_info *info)
{
    char tdir[4400], from[4600], to[4600];
    uint64_t *gens = NULL;
    size_t n = 0;
    bool exists = false;
    wc_status st = WC_OK;

    snprintf(tdir, sizeof(tdir), "%s/t%u", sdir, t->def.id);
    if ((st = e->fs->mkdir(e->fs, tdir)) != WC_OK)
        return st;
    info->tables++;
    pthread_mutex_lock(&t->manifest_mu);
    pthread_mutex_lock(&t->mu);
    gens = wc_malloc((t->nssts + t->ndamaged + 1) * sizeof(*gens));
    if (gens != NULL) {
        for (size_t i = 0; i < t->nssts; i++)
            gens[n++] = t->ssts[i].gen;
        for (size_t i = 0; i < t->ndamaged; i++)
            gens[n++] = t->damaged[i].gen;
    }
    pthread_mutex_unlock(&t->mu);
    if (gens == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory taking a snapshot");
        goto done;
    }
    snprintf(from, sizeof(from), "%s/manifest", t->dir);
    if ((st = e->fs->exists(e->fs, from, &exists)) != WC_OK)
        goto done;
    if (exists) {
        snprintf(to, sizeof(to), "%s/manifest", tdir);
        if ((st = wc__link(e, from, to, info)) != WC_OK)
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        wc__sst_path(t, gens[i], from, sizeof(from));
        snprintf(to, sizeof(to), "%s/%llu.sst", tdir, (unsigned long long)gens[i]);
        if ((st = wc__link(e, from, to, info)) != WC_OK)
            goto done;
    }
    st = e->fs->sync_dir(e->fs, tdir); /* the links */
done:
    pthread_mutex_unlock(&t->manifest_mu);
    wc_free(gens);
    return st;
}

wc_status wc_engine_snapshot(wc_engine *e, const char *tag, wc_snapshot_info *out)
{
    char root[4200], sdir[4300], from[4300], to[4400];
    wc_snapshot_info info;
    bool exists = false, made = false;
    wc_status st;

    memset(&info, 0, sizeof(info));
    if (!wc__tag_ok(tag))
        return wc__bad_tag(tag);
    snprintf(info.tag, sizeof(info.tag), "%s", tag);
    snprintf(root, sizeof(root), "%s/%s", e->dir, WC_SNAPSHOT_DIR);
    snprintf(sdir, sizeof(sdir), "%s/%s", root, tag);
    /* what was written before the snapshot is in SSTables, not only in the commit log */
    if ((st = wc_engine_flush(e, 0, true)) != WC_OK)
        return st;
    pthread_mutex_lock(&e->ddl_mu);
    if ((st = wc_fs_mkdirs(e->fs, root)) != WC_OK) /* a new snapshots/ is synced into e->dir */
        goto fail;
    if ((st = e->fs->exists(e->fs, sdir, &exists)) != WC_OK)
        goto fail;
    if (exists) {
        st = wc_error(WC_EXISTS, "snapshot \"%s\" already exists", tag);
        goto fail;
    }
    if ((st = e->fs->mkdir(e->fs, sdir)) != WC_OK)
        goto fail;
    made = true;
    snprintf(from, sizeof(from), "%s/catalog", e->dir);
    if ((st = e->fs->exists(e->fs, from, &exists)) != WC_OK)
        goto fail;
    snprintf(to, sizeof(to), "%s/catalog", sdir);
    if (exists && (st = wc__link(e, from, to, &info)) != WC_OK)
        goto fail;
    for (size_t i = 0; i < e->ntables; i++)
        if ((st = wc__snapshot_table(e, e->tables[i], sdir, &info)) != WC_OK)
            goto fail;
    /* the catalog link and the table directories, then the snapshot's own entry */
    if ((st = e->fs->sync_dir(e->fs, sdir)) != WC_OK ||
        (st = e->fs->sync_dir(e->fs, root)) != WC_OK)
        goto fail;
    pthread_mutex_unlock(&e->ddl_mu);
    if (out)
        *out = info;
    return WC_OK;
fail:
    if (made) {
        char keep[512];
        snprintf(keep, sizeof(keep), "%s", wc_last_error());
        (void)wc__remove_tree(sdir);
        (void)wc_error(st, "%s", keep);
    }
    pthread_mutex_unlock(&e->ddl_mu);
    return st;
}

/* Count the files of snapshot dir into info (two levels). */
static void wc__snapshot_measure(const char *dir, wc_snapshot_info *info, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4400];
    struct stat sb;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (lstat(p, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth == 0) {
                info->tables++;
                wc__snapshot_measure(p, info, depth + 1);
            }
        } else {
            info->files++;
            info->bytes += (uint64_t)sb.st_size;
        }
    }
    closedir(d);
}

static int wc__cmp_info(const void *a, const void *b)
{
    return strcmp(((const wc_snapshot_info *)a)->tag, ((const wc_snapshot_info *)b)->tag);
}

wc_status wc_engine_list_snapshots(wc_engine *e, wc_snapshot_info **out, size_t *n)
{
    char root[4200], p[4600];
    wc_snapshot_info *v = NULL;
    size_t cnt = 0, cap = 0;
    DIR *d;
    struct dirent *de;
    wc_status st = WC_OK;

    *out = NULL;
    *n = 0;
    snprintf(root, sizeof(root), "%s/%s", e->dir, WC_SNAPSHOT_DIR);
    if ((d = opendir(root)) == NULL)
        return errno == ENOENT ? WC_OK
                               : wc_error(WC_IO_ERROR, "cannot open \"%s\": %s", root,
                                          strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (!wc__tag_ok(de->d_name))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            wc_snapshot_info *nv = wc_realloc(v, nc * sizeof(*nv));
            if (nv == NULL) {
                st = wc_error(WC_NO_MEMORY, "out of memory listing snapshots");
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        memset(&v[cnt], 0, sizeof(v[cnt]));
        snprintf(v[cnt].tag, sizeof(v[cnt].tag), "%.63s", de->d_name);
        snprintf(p, sizeof(p), "%s/%s", root, de->d_name);
        wc__snapshot_measure(p, &v[cnt], 0);
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), wc__cmp_info);
    *out = v;
    *n = cnt;
    return WC_OK;
fail:
    closedir(d);
    wc_free(v);
    return st;
}

wc_status wc_engine_clear_snapshot(wc_engine *e, const char *tag, uint32_t *removed)
{
    char p[4300];
    wc_snapshot_info *v = NULL;
    size_t n = 0;
    uint32_t cnt = 0;
    wc_status st = WC_OK;

    if (removed)
        *removed = 0;
    if (tag != NULL && tag[0] != '\0') {
        struct stat sb;
        if (!wc__tag_ok(tag))
            return wc__bad_tag(tag);
        snprintf(p, sizeof(p), "%s/%s/%s", e->dir, WC_SNAPSHOT_DIR, tag);
        if (stat(p, &sb) != 0)
            return WC_OK;
        if ((st = wc__remove_tree(p)) == WC_OK && removed)
            *removed = 1;
        return st;
    }
    if ((st = wc_engine_list_snapshots(e, &v, &n)) != WC_OK)
        return st;
    for (size_t i = 0; i < n && st == WC_OK; i++) {
        snprintf(p, sizeof(p), "%s/%s/%s", e->dir, WC_SNAPSHOT_DIR, v[i].tag);
        if ((st = wc__remove_tree(p)) == WC_OK)
            cnt++;
    }
    wc_free(v);
    if (removed)
        *removed = cnt;
    return st;
}
