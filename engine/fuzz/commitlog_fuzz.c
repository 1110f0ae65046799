/*
 * commitlog_fuzz.c - libFuzzer target for commit log replay.
 *
 * The input becomes one to four segment files in a private directory (one
 * per process, emptied before every run), then wc_commitlog_open replays
 * them.  Input layout:
 *   byte 0: flags
 *     bit 0: prepend a valid segment header to each file
 *     bit 1: walk the records of each file and fix their checksums, so the
 *            fuzzer reaches the paths behind a valid record
 *     bit 2: split the rest on the 4-byte delimiter "SEG!" into up to four
 *            segment files (ids 1..4); otherwise one file, id 1
 *   rest:  file contents
 * Whatever the bytes, open must return a status without crashing, leaking or
 * reading out of bounds.  When it succeeds, the repaired log must reopen
 * cleanly and replay the same records plus one appended after the first
 * open (a torn tail is truncated once, never reported as corruption later).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "commitlog.h"
#include "commitlog_format.h"

static char dir[256];

static void clean_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
}

static void remove_dir(void)
{
    clean_dir();
    rmdir(dir);
}

typedef struct count {
    uint64_t n;
    uint64_t sum;
} count;

static wc_status replay_cb(void *arg, wc_clpos pos, const uint8_t *rec, size_t len)
{
    count *c = arg;

    c->n++;
    for (size_t i = 0; i < len; i++) /* touch every byte: ASan checks the bounds */
        c->sum += rec[i];
    return WC_OK;
}

static void fix_checksums(uint8_t *body, size_t len, uint64_t id)
{
    size_t off = 0;

    while (len - off >= WC_CL_RECORD_HEADER_SIZE) {
        uint32_t l = wc_dec_u32(body + off);

        if (l == 0 || l > len - off - WC_CL_RECORD_HEADER_SIZE)
            break;
        wc_enc_u32(body + off + 4,
                   wc__cl_record_checksum(id, body + off + WC_CL_RECORD_HEADER_SIZE, l));
        off += WC_CL_RECORD_HEADER_SIZE + l;
    }
}

static void write_segment(uint64_t id, const uint8_t *data, size_t len, int flags)
{
    char p[512];
    uint8_t *buf = malloc(len + WC_CL_HEADER_SIZE + 1);
    size_t n = 0;
    int fd;

    if (buf == NULL)
        abort();
    if (flags & 1) {
        wc__cl_encode_header(buf, id, 0, 0, 0);
        n = WC_CL_HEADER_SIZE;
    }
    if (len)
        memcpy(buf + n, data, len);
    if ((flags & 3) == 3)
        fix_checksums(buf + n, len, id);
    n += len;
    snprintf(p, sizeof(p), "%s/" WC_CL_FILE_PREFIX "%llu" WC_CL_FILE_SUFFIX, dir,
             (unsigned long long)id);
    fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0 || (n && write(fd, buf, n) != (ssize_t)n))
        abort();
    close(fd);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wc_commitlog_options o = {0};
    wc_commitlog *cl;
    count c1 = {0}, c2 = {0};
    uint64_t live0 = wc_alloc_live_count();
    int flags;

    if (dir[0] == '\0') {
        const char *base = getenv("WC_TEST_TMP");

        snprintf(dir, sizeof(dir), "%s/clfuzz-XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(dir) == NULL)
            abort();
        atexit(remove_dir);
    }
    clean_dir();
    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;

    if (flags & 4) {
        uint64_t id = 1;
        size_t start = 0;

        for (size_t i = 0; i + 4 <= size && id < 4; i++) {
            if (memcmp(data + i, "SEG!", 4) == 0) {
                write_segment(id++, data + start, i - start, flags);
                start = i + 4;
                i += 3;
            }
        }
        write_segment(id, data + start, size - start, flags);
    } else {
        write_segment(1, data, size, flags);
    }

    o.dir = dir;
    o.mode = WC_SYNC_BATCH;
    o.segment_size = 4096;
    o.max_record_size = 1 << 20;
    if (wc_commitlog_open(&o, replay_cb, &c1, &cl) == WC_OK) {
        wc_clpos pos;
        uint8_t rec[3] = {1, 2, 3};

        if (wc_commitlog_append(cl, rec, sizeof(rec), &pos) != WC_OK ||
            wc_commitlog_sync_to(cl, pos) != WC_OK)
            abort();
        wc_commitlog_close(cl);
        /* the log repaired by the first open must reopen cleanly */
        if (wc_commitlog_open(&o, replay_cb, &c2, &cl) != WC_OK) {
            fprintf(stderr, "reopen failed: %s\n", wc_last_error());
            abort();
        }
        if (c2.n != c1.n + 1 || c2.sum != c1.sum + 6)
            abort();
        wc_commitlog_close(cl);
    }
    if (wc_alloc_live_count() != live0)
        abort(); /* leaked engine memory */
    return 0;
}
