/*
 * hints.c - the durable store of hints: segment files per target host,
 * scanned at open, appended to by the coordinator, read and trimmed by
 * delivery.  Layout in hints_format.h; contract in hints.h.
 *
 * Implementation notes:
 *  - Segments found at open are sealed: appends after a restart always go
 *    to a new segment, so a damaged or cut tail is never written after.
 *  - Per segment the store keeps its valid end, its record count, the
 *    oldest creation time, the latest expiry, and the damaged ranges found
 *    (gaps: reading jumps from a gap's start to the next valid record).
 *  - A write or fsync error seals the active segment (cut back to its last
 *    good record where possible): the next append opens a new one.
 */
#include "hints.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hints_format.h"

#define HINTS_DEFAULT_SEGMENT (8ull << 20)
#define HINTS_DEFAULT_TOTAL (1ull << 30)
#define HINTS_DEFAULT_WINDOW_MS (3ull * 3600 * 1000)
#define HINTS_SCAN_MAX (256ull << 20) /* segment sizes open accepts at least */
#define HINTS_PATH_MAX 4096
#define HINTS_HEX_LEN (2 * WC_HOST_ID_LEN)

typedef struct hgap {
    uint64_t start;  /* first damaged byte */
    uint64_t resume; /* next valid record (or the segment's end) */
} hgap;

typedef struct hseg {
    uint64_t seq;
    uint64_t end;       /* valid end: new records go here */
    uint64_t records;   /* valid records */
    int64_t oldest_us;  /* smallest creation time (0: no record) */
    int64_t expires_us; /* latest creation + ttl */
    wc_file *file;      /* the active segment's handle, else NULL */
    bool sealed;        /* never appended to again */
    bool dirty;         /* appended since its last fsync */
    hgap *gaps;
    size_t ngaps;
} hseg;

typedef struct htarget {
    uint8_t id[WC_HOST_ID_LEN];
    hseg *segs; /* ascending seq */
    size_t nsegs, cap;
    wc_hint_pos delivered;       /* next hint to deliver */
    uint64_t delivered_records;  /* records of segs[0] before delivered */
    wc_hint_pos expired_mark;    /* expired hints before it were counted */
    wc_file *rfile;              /* read handle of segment rfile_seq */
    uint64_t rfile_seq;
} htarget;

struct wc_hints {
    wc_hints_options o;
    char *dir;
    wc_fs *fs;
    pthread_mutex_t mu;
    htarget **targets;
    size_t ntargets, cap;
    uint64_t next_seq;
    wc_hints_stats st; /* counters; sizes computed on demand */
    uint64_t total_bytes;
};

/* helpers */
static void hlog(wc_hints *h, wc_env_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hex_id(const uint8_t id[WC_HOST_ID_LEN], char out[HINTS_HEX_LEN + 1]);
static bool parse_hex_id(const char *s, uint8_t id[WC_HOST_ID_LEN]);
static void seg_path(const wc_hints *h, const uint8_t *id, uint64_t seq, char *out);
static void pos_path(const wc_hints *h, const uint8_t *id, char *out);
static htarget *target_find(wc_hints *h, const uint8_t *id);
static htarget *target_get(wc_hints *h, const uint8_t *id);
static void target_drop(wc_hints *h, htarget *t);
static hseg *seg_add(htarget *t, uint64_t seq);
static void seg_close_files(wc_hints *h, htarget *t, hseg *s);
static wc_status seg_delete(wc_hints *h, htarget *t, size_t i);
static bool payload_ok(const uint8_t *p, uint32_t len, int64_t *created, uint32_t *ttl);
static bool record_ok(uint64_t seq, const uint8_t *p, uint64_t avail);
static wc_status seg_scan(wc_hints *h, htarget *t, hseg *s, bool last);
static wc_status seg_file(wc_hints *h, htarget *t, hseg *s, wc_file **out);
static wc_status seg_walk(wc_hints *h, htarget *t, hseg *s, uint64_t from, uint64_t to,
                          uint64_t *records);
static wc_status pos_write(wc_hints *h, htarget *t);
static void pos_load(wc_hints *h, htarget *t);
static wc_status seg_create(wc_hints *h, htarget *t, hseg **out);
static void seg_seal(wc_hints *h, htarget *t, hseg *s);

static void hlog(wc_hints *h, wc_env_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (h->o.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    h->o.log(h->o.log_arg, level, msg);
}

static void hex_id(const uint8_t id[WC_HOST_ID_LEN], char out[HINTS_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < WC_HOST_ID_LEN; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[HINTS_HEX_LEN] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool parse_hex_id(const char *s, uint8_t id[WC_HOST_ID_LEN])
{
    for (int i = 0; i < WC_HOST_ID_LEN; i++) {
        int hi = hex_val(s[2 * i]), lo = hi < 0 ? -1 : hex_val(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void seg_path(const wc_hints *h, const uint8_t *id, uint64_t seq, char *out)
{
    char hex[HINTS_HEX_LEN + 1];

    hex_id(id, hex);
    snprintf(out, HINTS_PATH_MAX, "%s/%s-%" PRIu64 "%s", h->dir, hex, seq, WC_HINTS_SUFFIX);
}

static void pos_path(const wc_hints *h, const uint8_t *id, char *out)
{
    char hex[HINTS_HEX_LEN + 1];

    hex_id(id, hex);
    snprintf(out, HINTS_PATH_MAX, "%s/%s%s", h->dir, hex, WC_HINTS_POS_SUFFIX);
}

static htarget *target_find(wc_hints *h, const uint8_t *id)
{
    for (size_t i = 0; i < h->ntargets; i++)
        if (memcmp(h->targets[i]->id, id, WC_HOST_ID_LEN) == 0)
            return h->targets[i];
    return NULL;
}

/* Find or add target id; NULL when out of memory. */
static htarget *target_get(wc_hints *h, const uint8_t *id)
{
    htarget *t = target_find(h, id);

    if (t != NULL)
        return t;
    if (h->ntargets == h->cap) {
        size_t ncap = h->cap ? 2 * h->cap : 8;
        htarget **n = wc_realloc(h->targets, ncap * sizeof(*n));

        if (n == NULL)
            return NULL;
        h->targets = n;
        h->cap = ncap;
    }
    t = wc_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    memcpy(t->id, id, WC_HOST_ID_LEN);
    h->targets[h->ntargets++] = t;
    return t;
}

/* Forget target t (its files are the caller's business). */
static void target_drop(wc_hints *h, htarget *t)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        seg_close_files(h, t, &t->segs[i]);
        wc_free(t->segs[i].gaps);
    }
    if (t->rfile != NULL)
        t->rfile->fs->close(t->rfile);
    wc_free(t->segs);
    for (size_t i = 0; i < h->ntargets; i++) {
        if (h->targets[i] == t) {
            h->targets[i] = h->targets[--h->ntargets];
            break;
        }
    }
    wc_free(t);
}

/* Insert segment seq in order; NULL when out of memory. */
static hseg *seg_add(htarget *t, uint64_t seq)
{
    size_t i;

    if (t->nsegs == t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 4;
        hseg *n = wc_realloc(t->segs, ncap * sizeof(*n));

        if (n == NULL)
            return NULL;
        t->segs = n;
        t->cap = ncap;
    }
    for (i = t->nsegs; i > 0 && t->segs[i - 1].seq > seq; i--)
        t->segs[i] = t->segs[i - 1];
    memset(&t->segs[i], 0, sizeof(t->segs[i]));
    t->segs[i].seq = seq;
    t->segs[i].end = WC_HINTS_HEADER_SIZE;
    t->nsegs++;
    return &t->segs[i];
}

static void seg_close_files(wc_hints *h, htarget *t, hseg *s)
{
    if (s->file != NULL) {
        s->file->fs->close(s->file);
        s->file = NULL;
    }
    if (t->rfile != NULL && t->rfile_seq == s->seq) {
        t->rfile->fs->close(t->rfile);
        t->rfile = NULL;
    }
}

/* Remove segment i of t and its file. */
static wc_status seg_delete(wc_hints *h, htarget *t, size_t i)
{
    char path[HINTS_PATH_MAX];
    hseg *s = &t->segs[i];
    wc_status st;

    seg_close_files(h, t, s);
    seg_path(h, t->id, s->seq, path);
    st = h->fs->unlink(h->fs, path);
    if (st != WC_OK && st != WC_NOT_FOUND)
        return st;
    h->total_bytes -= s->end;
    wc_free(s->gaps);
    if (i == 0)
        t->delivered_records = 0;
    memmove(&t->segs[i], &t->segs[i + 1], (t->nsegs - i - 1) * sizeof(*s));
    t->nsegs--;
    return WC_OK;
}

/* Is p[0..len) a well-formed hint payload? */
static bool payload_ok(const uint8_t *p, uint32_t len, int64_t *created, uint32_t *ttl)
{
    uint32_t tl;

    if (len < WC_HINTS_PAYLOAD_FIXED)
        return false;
    tl = wc_dec_u32(p + 12);
    if (tl > WC_HINTS_MAX_TABLE || tl >= len - WC_HINTS_PAYLOAD_FIXED)
        return false; /* the batch may not be empty */
    if (created != NULL)
        *created = (int64_t)wc_dec_u64(p);
    if (ttl != NULL)
        *ttl = wc_dec_u32(p + 8);
    return true;
}

/* A valid record of segment seq starts at p (avail bytes readable)? */
static bool record_ok(uint64_t seq, const uint8_t *p, uint64_t avail)
{
    uint32_t len;

    if (avail < WC_HINTS_RECORD_HEADER_SIZE)
        return false;
    len = wc_dec_u32(p);
    if (len < WC_HINTS_PAYLOAD_FIXED || len > WC_HINTS_MAX_PAYLOAD ||
        len > avail - WC_HINTS_RECORD_HEADER_SIZE)
        return false;
    if (wc__cl_record_checksum(seq, p + WC_HINTS_RECORD_HEADER_SIZE, len) != wc_dec_u32(p + 4))
        return false;
    return payload_ok(p + WC_HINTS_RECORD_HEADER_SIZE, len, NULL, NULL);
}

/*
 * Read segment s (found at open) and validate it: header, then every
 * record; fills end, records, times and gaps, cuts a torn tail.  A file with
 * a bad header is reported and WC_CORRUPTION returned (the caller forgets
 * the segment, the file stays).  last: the newest segment of its target.
 */
static wc_status seg_scan(wc_hints *h, htarget *t, hseg *s, bool last)
{
    char path[HINTS_PATH_MAX];
    uint8_t *p = NULL;
    size_t len = 0;
    uint64_t off;
    wc_status st;
    const char *why = NULL;

    seg_path(h, t->id, s->seq, path);
    /* a segment holds at most segment_bytes plus one hint (bounded whatever the option was) */
    st = wc_fs_read_all(h->fs, path,
                        (h->o.segment_bytes > HINTS_SCAN_MAX ? h->o.segment_bytes : HINTS_SCAN_MAX) +
                            WC_ENV_MAX_MESSAGE + WC_HINTS_HEADER_SIZE,
                        &p, &len);
    if (st == WC_CORRUPTION)
        why = "larger than any segment";
    else if (st != WC_OK)
        return st;
    if (why == NULL && len < WC_HINTS_HEADER_SIZE) {
        /* a crash while the segment was created: its header never got durable */
        wc_free(p);
        hlog(h, WC_ENV_LOG_INFO, "hints: removing incomplete segment %s (%zu bytes)", path, len);
        st = h->fs->unlink(h->fs, path);
        return st == WC_OK ? WC_NOT_FOUND : st;
    }
    if (why == NULL) {
        if (wc_dec_u32(p) != WC_HINTS_MAGIC)
            why = "bad magic";
        else if (wc_dec_u32(p + 4) != WC_HINTS_VERSION)
            why = "unknown version";
        else if (wc_dec_u32(p + WC_HINTS_HEADER_CHECKSUM_OFF) !=
                 wc__hints_checksum32(p, WC_HINTS_HEADER_CHECKSUM_OFF))
            why = "header checksum mismatch";
        else if (memcmp(p + 8, t->id, WC_HOST_ID_LEN) != 0 || wc_dec_u64(p + 24) != s->seq)
            why = "header names another host or segment";
    }
    if (why != NULL) {
        wc_free(p);
        h->st.damaged_files++;
        hlog(h, WC_ENV_LOG_WARNING,
             "hints: damaged segment file %s (%s): its hints are not delivered; move it away "
             "and run repair for that host",
             path, why);
        return WC_CORRUPTION;
    }
    off = WC_HINTS_HEADER_SIZE;
    while (off < len) {
        uint64_t next;

        if (record_ok(s->seq, p + off, len - off)) {
            uint32_t rl = wc_dec_u32(p + off);
            int64_t created;
            uint32_t ttl;

            payload_ok(p + off + WC_HINTS_RECORD_HEADER_SIZE, rl, &created, &ttl);
            if (s->records == 0 || created < s->oldest_us)
                s->oldest_us = created;
            if (created + (int64_t)ttl * 1000000 > s->expires_us)
                s->expires_us = created + (int64_t)ttl * 1000000;
            if (s->seq == t->delivered.seq && off < t->delivered.offset)
                t->delivered_records++;
            s->records++;
            off += WC_HINTS_RECORD_HEADER_SIZE + rl;
            continue;
        }
        for (next = off + 1; next + WC_HINTS_RECORD_HEADER_SIZE <= len; next++)
            if (record_ok(s->seq, p + next, len - next))
                break;
        if (next + WC_HINTS_RECORD_HEADER_SIZE <= len) {
            hgap *g = wc_realloc(s->gaps, (s->ngaps + 1) * sizeof(*g));

            if (g == NULL) {
                wc_free(p);
                return WC_NO_MEMORY;
            }
            s->gaps = g;
            s->gaps[s->ngaps++] = (hgap){off, next};
            h->st.lost++;
            hlog(h, WC_ENV_LOG_WARNING,
                 "hints: %s: damaged record at offset %" PRIu64 " (%" PRIu64
                 " bytes up to the next valid record) is not delivered: at least one hint lost",
                 path, off, next - off);
            off = next;
            continue;
        }
        /* nothing valid follows: an incomplete last write, or damage at the end */
        if (last) {
            h->st.torn_tails++;
            hlog(h, WC_ENV_LOG_INFO,
                 "hints: %s: incomplete last record at offset %" PRIu64 " cut off (%zu bytes)",
                 path, off, (size_t)(len - off));
        } else {
            h->st.lost++;
            hlog(h, WC_ENV_LOG_WARNING,
                 "hints: %s: damaged records from offset %" PRIu64
                 " to the end (%zu bytes) are not delivered: at least one hint lost",
                 path, off, (size_t)(len - off));
        }
        break;
    }
    wc_free(p);
    if (off < len) {
        wc_file *f;

        /* cut the tail so the file size is the valid end (best effort) */
        if (h->fs->open(h->fs, path, WC_O_WRITE, &f) == WC_OK) {
            if (f->fs->truncate(f, off) == WC_OK)
                f->fs->sync(f);
            f->fs->close(f);
        }
    }
    s->end = off;
    s->sealed = true;
    return WC_OK;
}

/* A handle to read segment s of t (the active handle, or the cached read one). */
static wc_status seg_file(wc_hints *h, htarget *t, hseg *s, wc_file **out)
{
    char path[HINTS_PATH_MAX];
    wc_status st;

    if (s->file != NULL) {
        *out = s->file;
        return WC_OK;
    }
    if (t->rfile != NULL && t->rfile_seq == s->seq) {
        *out = t->rfile;
        return WC_OK;
    }
    if (t->rfile != NULL) {
        t->rfile->fs->close(t->rfile);
        t->rfile = NULL;
    }
    seg_path(h, t->id, s->seq, path);
    st = h->fs->open(h->fs, path, WC_O_READ, &t->rfile);
    if (st != WC_OK)
        return st;
    t->rfile_seq = s->seq;
    *out = t->rfile;
    return WC_OK;
}

/* Count the records of s in [from, to) by their headers (gaps jumped). */
static wc_status seg_walk(wc_hints *h, htarget *t, hseg *s, uint64_t from, uint64_t to,
                          uint64_t *records)
{
    wc_file *f;
    uint64_t off = from < WC_HINTS_HEADER_SIZE ? WC_HINTS_HEADER_SIZE : from;
    wc_status st = seg_file(h, t, s, &f);

    *records = 0;
    if (st != WC_OK)
        return st;
    while (off < to && off < s->end) {
        uint8_t hdr[WC_HINTS_RECORD_HEADER_SIZE];
        size_t n;
        bool jumped = false;

        for (size_t g = 0; g < s->ngaps; g++) {
            if (s->gaps[g].start == off) {
                off = s->gaps[g].resume;
                jumped = true;
            }
        }
        if (jumped)
            continue;
        st = f->fs->pread(f, hdr, sizeof(hdr), off, &n);
        if (st != WC_OK)
            return st;
        if (n < sizeof(hdr))
            break;
        off += WC_HINTS_RECORD_HEADER_SIZE + wc_dec_u32(hdr);
        (*records)++;
    }
    return WC_OK;
}

static wc_status pos_write(wc_hints *h, htarget *t)
{
    char path[HINTS_PATH_MAX];
    uint8_t b[WC_HINTS_POS_SIZE];

    wc_enc_u32(b, WC_HINTS_POS_MAGIC);
    wc_enc_u32(b + 4, WC_HINTS_VERSION);
    memcpy(b + 8, t->id, WC_HOST_ID_LEN);
    wc_enc_u64(b + 24, t->delivered.seq);
    wc_enc_u64(b + 32, t->delivered.offset);
    wc_enc_u32(b + WC_HINTS_POS_CHECKSUM_OFF, wc__hints_checksum32(b, WC_HINTS_POS_CHECKSUM_OFF));
    wc_enc_u32(b + 44, 0);
    pos_path(h, t->id, path);
    return wc_fs_write_atomic(h->fs, path, b, sizeof(b));
}

/* Read t's delivered position if its file exists and is sound. */
static void pos_load(wc_hints *h, htarget *t)
{
    char path[HINTS_PATH_MAX];
    uint8_t *b = NULL;
    size_t len = 0;
    wc_status st;

    pos_path(h, t->id, path);
    st = wc_fs_read_all(h->fs, path, 4096, &b, &len);
    if (st == WC_NOT_FOUND)
        return;
    if (st == WC_OK && len == WC_HINTS_POS_SIZE && wc_dec_u32(b) == WC_HINTS_POS_MAGIC &&
        wc_dec_u32(b + 4) == WC_HINTS_VERSION && memcmp(b + 8, t->id, WC_HOST_ID_LEN) == 0 &&
        wc_dec_u32(b + WC_HINTS_POS_CHECKSUM_OFF) ==
            wc__hints_checksum32(b, WC_HINTS_POS_CHECKSUM_OFF)) {
        t->delivered.seq = wc_dec_u64(b + 24);
        t->delivered.offset = wc_dec_u64(b + 32);
    } else {
        h->st.damaged_files++;
        hlog(h, WC_ENV_LOG_WARNING,
             "hints: damaged delivered-position file %s (%s): delivery to that host starts "
             "again from its oldest hint",
             path, st == WC_OK ? "bad content" : wc_status_name(st));
    }
    wc_free(b);
}

/* Start a new active segment for t: header written and fsynced, entry durable. */
static wc_status seg_create(wc_hints *h, htarget *t, hseg **out)
{
    char path[HINTS_PATH_MAX];
    uint8_t hdr[WC_HINTS_HEADER_SIZE];
    wc_file *f = NULL;
    uint64_t seq = h->next_seq;
    hseg *s;
    wc_status st;

    seg_path(h, t->id, seq, path);
    st = h->fs->open(h->fs, path, WC_O_WRITE | WC_O_CREATE | WC_O_EXCL, &f);
    if (st != WC_OK)
        return st;
    h->next_seq++;
    wc_enc_u32(hdr, WC_HINTS_MAGIC);
    wc_enc_u32(hdr + 4, WC_HINTS_VERSION);
    memcpy(hdr + 8, t->id, WC_HOST_ID_LEN);
    wc_enc_u64(hdr + 24, seq);
    wc_enc_u32(hdr + WC_HINTS_HEADER_CHECKSUM_OFF,
               wc__hints_checksum32(hdr, WC_HINTS_HEADER_CHECKSUM_OFF));
    wc_enc_u32(hdr + 36, 0);
    st = f->fs->pwrite(f, hdr, sizeof(hdr), 0);
    if (st == WC_OK)
        st = f->fs->sync(f);
    if (st == WC_OK)
        st = h->fs->sync_dir(h->fs, h->dir);
    if (st != WC_OK)
        goto fail;
    s = seg_add(t, seq);
    if (s == NULL) {
        st = WC_NO_MEMORY;
        goto fail;
    }
    s->file = f;
    h->total_bytes += s->end;
    *out = s;
    return WC_OK;

fail:
    f->fs->close(f);
    h->fs->unlink(h->fs, path);
    return st;
}

/* No more appends to s: sync what it holds, close its handle. */
static void seg_seal(wc_hints *h, htarget *t, hseg *s)
{
    if (s->file != NULL && s->dirty && s->file->fs->sync(s->file) != WC_OK)
        hlog(h, WC_ENV_LOG_WARNING,
             "hints: fsync of segment %" PRIu64 " failed: %s; its latest hints may be lost at "
             "a power loss",
             s->seq, wc_last_error());
    s->dirty = false;
    if (s->file != NULL) {
        s->file->fs->close(s->file);
        s->file = NULL;
    }
    s->sealed = true;
}

static int seq_cmp(const void *a, const void *b)
{
    const hseg *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct open_scan {
    wc_hints *h;
    wc_status st;
} open_scan;

/* One directory entry at open: note segments, remove stale temporary files. */
static int open_list_cb(void *arg, const char *name)
{
    open_scan *os = arg;
    wc_hints *h = os->h;
    size_t n = strlen(name), sl = strlen(WC_HINTS_SUFFIX);
    uint8_t id[WC_HOST_ID_LEN];
    char path[HINTS_PATH_MAX];
    htarget *t;

    if (n <= HINTS_HEX_LEN || !parse_hex_id(name, id))
        return 0;
    if (strcmp(name + HINTS_HEX_LEN, WC_HINTS_POS_SUFFIX ".tmp") == 0) {
        snprintf(path, sizeof(path), "%s/%s", h->dir, name);
        h->fs->unlink(h->fs, path);
        return 0;
    }
    if (strcmp(name + HINTS_HEX_LEN, WC_HINTS_POS_SUFFIX) == 0) {
        if (target_get(h, id) == NULL)
            goto oom;
        return 0;
    }
    if (name[HINTS_HEX_LEN] == '-' && n > HINTS_HEX_LEN + 1 + sl &&
        strcmp(name + n - sl, WC_HINTS_SUFFIX) == 0) {
        char *endp;
        unsigned long long seq = strtoull(name + HINTS_HEX_LEN + 1, &endp, 10);

        if (endp != name + n - sl || seq == 0)
            return 0;
        t = target_get(h, id);
        if (t == NULL || seg_add(t, seq) == NULL)
            goto oom;
        if (seq >= h->next_seq)
            h->next_seq = seq + 1;
    }
    return 0;

oom:
    os->st = WC_NO_MEMORY;
    return 1;
}

/* Load positions, drop delivered leftovers, scan every segment of t. */
static wc_status open_target(wc_hints *h, htarget *t)
{
    char path[HINTS_PATH_MAX];
    wc_status st;

    qsort(t->segs, t->nsegs, sizeof(*t->segs), seq_cmp);
    pos_load(h, t);
    /* segments before the delivered one were delivered: their unlink was lost */
    while (t->nsegs > 0 && t->segs[0].seq < t->delivered.seq) {
        h->total_bytes += t->segs[0].end; /* not scanned: seg_delete subtracts it */
        st = seg_delete(h, t, 0);
        if (st != WC_OK)
            return st;
    }
    for (size_t i = 0; i < t->nsegs;) {
        st = seg_scan(h, t, &t->segs[i], i + 1 == t->nsegs);
        if (st == WC_CORRUPTION || st == WC_NOT_FOUND) {
            memmove(&t->segs[i], &t->segs[i + 1], (t->nsegs - i - 1) * sizeof(hseg));
            t->nsegs--;
            continue;
        }
        if (st != WC_OK)
            return st;
        h->total_bytes += t->segs[i].end;
        i++;
    }
    if (t->nsegs == 0 || t->segs[0].seq != t->delivered.seq) {
        t->delivered_records = 0;
        t->delivered = (wc_hint_pos){t->nsegs ? t->segs[0].seq : 0, WC_HINTS_HEADER_SIZE};
    }
    if (t->nsegs == 0) {
        pos_path(h, t->id, path);
        h->fs->unlink(h->fs, path);
        target_drop(h, t);
    }
    return WC_OK;
}

void wc_hints_options_default(wc_hints_options *o)
{
    memset(o, 0, sizeof(*o));
    o->sync = WC_HINTS_SYNC_PERIODIC;
    o->segment_bytes = HINTS_DEFAULT_SEGMENT;
    o->max_total_bytes = HINTS_DEFAULT_TOTAL;
    o->max_hint_window_ms = HINTS_DEFAULT_WINDOW_MS;
}

wc_status wc_hints_open(const wc_hints_options *o, wc_hints **out)
{
    wc_hints *h;
    open_scan os;
    wc_status st;

    *out = NULL;
    if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
        return wc_error(WC_INVALID_ARGUMENT, "hints: no directory given");
    if (strlen(o->dir) > HINTS_PATH_MAX - 128)
        return wc_error(WC_INVALID_ARGUMENT, "hints: directory path too long");
    h = wc_calloc(1, sizeof(*h));
    if (h == NULL)
        return WC_NO_MEMORY;
    h->o = *o;
    h->fs = o->fs ? o->fs : wc_fs_posix();
    if (h->o.segment_bytes == 0)
        h->o.segment_bytes = HINTS_DEFAULT_SEGMENT;
    if (h->o.max_total_bytes == 0)
        h->o.max_total_bytes = HINTS_DEFAULT_TOTAL;
    if (h->o.max_hint_window_ms == 0)
        h->o.max_hint_window_ms = HINTS_DEFAULT_WINDOW_MS;
    h->next_seq = 1;
    pthread_mutex_init(&h->mu, NULL);
    h->dir = wc_strdup(o->dir);
    if (h->dir == NULL) {
        st = WC_NO_MEMORY;
        goto fail;
    }
    h->o.dir = h->dir;
    st = wc_fs_mkdirs(h->fs, h->dir);
    if (st != WC_OK)
        goto fail;
    os = (open_scan){h, WC_OK};
    st = h->fs->list(h->fs, h->dir, open_list_cb, &os);
    if (st == WC_OK)
        st = os.st;
    if (st != WC_OK)
        goto fail;
    for (size_t i = h->ntargets; i > 0; i--) {
        st = open_target(h, h->targets[i - 1]);
        if (st != WC_OK)
            goto fail;
    }
    *out = h;
    return WC_OK;

fail:
    wc_hints_close(h);
    return st;
}

void wc_hints_close(wc_hints *h)
{
    if (h == NULL)
        return;
    wc_hints_sync(h);
    while (h->ntargets > 0)
        target_drop(h, h->targets[h->ntargets - 1]);
    wc_free(h->targets);
    pthread_mutex_destroy(&h->mu);
    wc_free(h->dir);
    wc_free(h);
}

wc_status wc_hints_append(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN], const void *table,
                          size_t table_len, const uint8_t *batch, size_t batch_len,
                          uint32_t ttl_s, int64_t now_us, int64_t down_since_us)
{
    uint64_t plen = WC_HINTS_PAYLOAD_FIXED + (uint64_t)table_len + batch_len;
    uint64_t rlen = WC_HINTS_RECORD_HEADER_SIZE + plen;
    wc_buf rec;
    htarget *t;
    hseg *s = NULL;
    uint64_t need;
    wc_status st;
    char hex[HINTS_HEX_LEN + 1];

    if (batch_len == 0 || ttl_s == 0)
        return wc_error(WC_INVALID_ARGUMENT, "hints: %s", batch_len == 0 ? "empty batch" : "ttl 0");
    if (table_len > WC_HINTS_MAX_TABLE || plen > WC_HINTS_MAX_PAYLOAD)
        return wc_error(WC_INVALID_ARGUMENT, "hints: hint of %" PRIu64 " bytes over the limit",
                        plen);
    hex_id(target, hex);
    pthread_mutex_lock(&h->mu);
    if (down_since_us != 0 && now_us - down_since_us > (int64_t)h->o.max_hint_window_ms * 1000) {
        h->st.refused_window++;
        pthread_mutex_unlock(&h->mu);
        return wc_error(WC_UNAVAILABLE,
                        "host %s has been down longer than max_hint_window (%" PRIu64
                        " ms): no hint stored; run repair once it is back",
                        hex, h->o.max_hint_window_ms);
    }
    t = target_get(h, target);
    if (t == NULL) {
        st = WC_NO_MEMORY;
        goto out;
    }
    if (t->nsegs > 0 && !t->segs[t->nsegs - 1].sealed)
        s = &t->segs[t->nsegs - 1];
    need = rlen + (s == NULL || (s->end + rlen > h->o.segment_bytes && s->records > 0)
                       ? WC_HINTS_HEADER_SIZE
                       : 0);
    if (h->total_bytes + need > h->o.max_total_bytes) {
        h->st.refused_full++;
        st = wc_error(WC_OVERLOADED,
                      "hints store full (%" PRIu64 " of max %" PRIu64
                      " bytes): no hint stored for host %s",
                      h->total_bytes, h->o.max_total_bytes, hex);
        goto out;
    }
    if (s != NULL && s->end + rlen > h->o.segment_bytes && s->records > 0) {
        seg_seal(h, t, s);
        s = NULL;
    }
    if (s == NULL) {
        st = seg_create(h, t, &s);
        if (st != WC_OK)
            goto out;
    }
    wc_buf_init(&rec);
    wc_buf_reserve(&rec, rlen);
    wc_buf_put_u32(&rec, (uint32_t)plen);
    wc_buf_put_u32(&rec, 0);
    wc_buf_put_u64(&rec, (uint64_t)now_us);
    wc_buf_put_u32(&rec, ttl_s);
    wc_buf_put_u32(&rec, (uint32_t)table_len);
    wc_buf_append(&rec, table, table_len);
    wc_buf_append(&rec, batch, batch_len);
    st = wc_buf_status(&rec);
    if (st != WC_OK) {
        wc_buf_free(&rec);
        goto out;
    }
    wc_enc_u32(rec.data + 4, wc__cl_record_checksum(s->seq, rec.data + WC_HINTS_RECORD_HEADER_SIZE,
                                                     (uint32_t)plen));
    st = s->file->fs->pwrite(s->file, rec.data, rlen, s->end);
    if (st == WC_OK && h->o.sync == WC_HINTS_SYNC_EACH)
        st = s->file->fs->sync(s->file);
    wc_buf_free(&rec);
    if (st != WC_OK) {
        /* cut what may have been written, then leave this segment behind */
        char msg[512];

        snprintf(msg, sizeof(msg), "%s", wc_last_error());
        if (s->file->fs->truncate(s->file, s->end) == WC_OK)
            s->file->fs->sync(s->file);
        s->dirty = false;
        seg_seal(h, t, s);
        st = wc_error(st, "hints: appending a hint for host %s failed: %s", hex, msg);
        goto out;
    }
    if (s->records == 0 || now_us < s->oldest_us)
        s->oldest_us = now_us;
    if (now_us + (int64_t)ttl_s * 1000000 > s->expires_us)
        s->expires_us = now_us + (int64_t)ttl_s * 1000000;
    s->records++;
    s->end += rlen;
    s->dirty = h->o.sync != WC_HINTS_SYNC_EACH;
    h->total_bytes += rlen;
    h->st.appended++;
    if (t->delivered.seq == 0)
        t->delivered = (wc_hint_pos){t->segs[0].seq, WC_HINTS_HEADER_SIZE};

out:
    if (t != NULL && t->nsegs == 0)
        target_drop(h, t);
    pthread_mutex_unlock(&h->mu);
    return st;
}

wc_status wc_hints_sync(wc_hints *h)
{
    wc_status st = WC_OK;

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->ntargets; i++) {
        htarget *t = h->targets[i];

        for (size_t j = 0; j < t->nsegs; j++) {
            hseg *s = &t->segs[j];

            if (s->file != NULL && s->dirty) {
                wc_status s2 = s->file->fs->sync(s->file);

                if (s2 != WC_OK) {
                    /* the page cache can no longer be trusted: start a new segment */
                    seg_seal(h, t, s);
                    st = s2;
                }
                s->dirty = false;
            }
        }
    }
    pthread_mutex_unlock(&h->mu);
    return st;
}

wc_status wc_hints_start(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN], wc_hint_pos *out)
{
    htarget *t;
    wc_status st = WC_OK;

    pthread_mutex_lock(&h->mu);
    t = target_find(h, target);
    if (t == NULL)
        st = WC_NOT_FOUND;
    else
        *out = t->delivered;
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* Log and count a record that fails validation while reading; skip its segment's rest. */
static void read_damaged(wc_hints *h, htarget *t, hseg *s, uint64_t off)
{
    char path[HINTS_PATH_MAX];
    hgap *g = wc_realloc(s->gaps, (s->ngaps + 1) * sizeof(*g));

    seg_path(h, t->id, s->seq, path);
    h->st.lost++;
    hlog(h, WC_ENV_LOG_WARNING,
         "hints: %s: record at offset %" PRIu64
         " fails its checksum: the rest of the segment (%" PRIu64 " bytes) is not delivered",
         path, off, s->end - off);
    if (g != NULL) {
        s->gaps = g;
        s->gaps[s->ngaps++] = (hgap){off, s->end};
    }
}

wc_status wc_hints_read(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN], wc_hint_pos from,
                        int64_t now_us, wc_buf *scratch, wc_hint *out)
{
    htarget *t;
    wc_status st = WC_NOT_FOUND;
    size_t i;
    uint64_t off;

    pthread_mutex_lock(&h->mu);
    t = target_find(h, target);
    if (t == NULL)
        goto out;
    for (i = 0; i < t->nsegs && t->segs[i].seq < from.seq; i++)
        ;
    off = i < t->nsegs && t->segs[i].seq == from.seq ? from.offset : 0;
    for (; i < t->nsegs; i++, off = 0) {
        hseg *s = &t->segs[i];
        wc_file *f;

        if (off < WC_HINTS_HEADER_SIZE)
            off = WC_HINTS_HEADER_SIZE;
        while (off < s->end) {
            bool jumped = false;
            size_t n;
            uint32_t len;
            int64_t created;
            uint32_t ttl, tl;
            wc_hint_pos at = {s->seq, off}, next;

            for (size_t g = 0; g < s->ngaps; g++) {
                if (s->gaps[g].start == off) {
                    off = s->gaps[g].resume;
                    jumped = true;
                }
            }
            if (jumped)
                continue;
            st = seg_file(h, t, s, &f);
            if (st != WC_OK)
                goto out;
            wc_buf_reset(scratch);
            if (!wc_buf_reserve(scratch, WC_HINTS_RECORD_HEADER_SIZE)) {
                st = WC_NO_MEMORY;
                goto out;
            }
            st = f->fs->pread(f, scratch->data, WC_HINTS_RECORD_HEADER_SIZE, off, &n);
            if (st != WC_OK)
                goto out;
            len = wc_dec_u32(scratch->data);
            if (n < WC_HINTS_RECORD_HEADER_SIZE || s->end - off < WC_HINTS_RECORD_HEADER_SIZE ||
                len < WC_HINTS_PAYLOAD_FIXED ||
                len > s->end - off - WC_HINTS_RECORD_HEADER_SIZE) {
                read_damaged(h, t, s, off);
                break;
            }
            if (!wc_buf_reserve(scratch, WC_HINTS_RECORD_HEADER_SIZE + (size_t)len)) {
                st = WC_NO_MEMORY;
                goto out;
            }
            st = f->fs->pread(f, scratch->data, WC_HINTS_RECORD_HEADER_SIZE + (size_t)len, off,
                              &n);
            if (st != WC_OK)
                goto out;
            if (n < WC_HINTS_RECORD_HEADER_SIZE + (size_t)len ||
                !record_ok(s->seq, scratch->data, n)) {
                read_damaged(h, t, s, off);
                break;
            }
            next = (wc_hint_pos){s->seq, off + WC_HINTS_RECORD_HEADER_SIZE + len};
            off = next.offset;
            payload_ok(scratch->data + WC_HINTS_RECORD_HEADER_SIZE, len, &created, &ttl);
            if (created + (int64_t)ttl * 1000000 <= now_us) {
                if (wc_hint_pos_cmp(at, t->expired_mark) >= 0) {
                    h->st.expired++;
                    t->expired_mark = next;
                }
                continue;
            }
            tl = wc_dec_u32(scratch->data + WC_HINTS_RECORD_HEADER_SIZE + 12);
            out->created_us = created;
            out->ttl_s = ttl;
            out->table = scratch->data + WC_HINTS_RECORD_HEADER_SIZE + WC_HINTS_PAYLOAD_FIXED;
            out->table_len = tl;
            out->batch = out->table + tl;
            out->batch_len = len - WC_HINTS_PAYLOAD_FIXED - tl;
            out->pos = at;
            out->next = next;
            st = WC_OK;
            goto out;
        }
    }
    st = WC_NOT_FOUND;

out:
    pthread_mutex_unlock(&h->mu);
    return st;
}

wc_status wc_hints_mark_delivered(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN],
                                  wc_hint_pos upto)
{
    htarget *t;
    wc_status st = WC_OK;
    char path[HINTS_PATH_MAX];
    bool removed = false;
    wc_hint_pos old;

    pthread_mutex_lock(&h->mu);
    t = target_find(h, target);
    if (t == NULL || wc_hint_pos_cmp(upto, t->delivered) <= 0)
        goto out;
    /* the position first: a lost unlink after it only leaves a file open removes */
    old = t->delivered;
    t->delivered = upto;
    st = pos_write(h, t);
    if (st != WC_OK) {
        t->delivered = old;
        goto out;
    }
    while (t->nsegs > 0 &&
           (t->segs[0].seq < upto.seq ||
            (t->segs[0].seq == upto.seq && upto.offset >= t->segs[0].end))) {
        st = seg_delete(h, t, 0);
        if (st != WC_OK)
            goto out;
        removed = true;
    }
    if (t->nsegs > 0 && t->segs[0].seq == upto.seq) {
        uint64_t n = 0;

        st = seg_walk(h, t, &t->segs[0], old.seq == upto.seq ? old.offset : 0, upto.offset, &n);
        if (st != WC_OK)
            goto out;
        t->delivered_records += n;
    } else if (t->nsegs > 0) {
        t->delivered = (wc_hint_pos){t->segs[0].seq, WC_HINTS_HEADER_SIZE};
        t->delivered_records = 0;
    }
    if (removed)
        h->fs->sync_dir(h->fs, h->dir);
    if (t->nsegs == 0) {
        pos_path(h, t->id, path);
        st = h->fs->unlink(h->fs, path);
        if (st == WC_NOT_FOUND)
            st = WC_OK;
        target_drop(h, t);
    }

out:
    pthread_mutex_unlock(&h->mu);
    return st;
}

wc_status wc_hints_delete_target(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN])
{
    htarget *t;
    wc_status st = WC_OK;
    char path[HINTS_PATH_MAX];

    pthread_mutex_lock(&h->mu);
    t = target_find(h, target);
    if (t == NULL)
        goto out;
    while (t->nsegs > 0) {
        st = seg_delete(h, t, t->nsegs - 1);
        if (st != WC_OK)
            goto out;
    }
    pos_path(h, t->id, path);
    st = h->fs->unlink(h->fs, path);
    if (st == WC_NOT_FOUND)
        st = WC_OK;
    target_drop(h, t);
    if (st == WC_OK)
        st = h->fs->sync_dir(h->fs, h->dir);

out:
    pthread_mutex_unlock(&h->mu);
    return st;
}

wc_status wc_hints_expire(wc_hints *h, int64_t now_us)
{
    wc_status st = WC_OK;
    bool removed = false;

    pthread_mutex_lock(&h->mu);
    for (size_t i = h->ntargets; i > 0; i--) {
        htarget *t = h->targets[i - 1];

        for (size_t j = t->nsegs; j > 0; j--) {
            hseg *s = &t->segs[j - 1];

            if (s->records == 0 || s->expires_us > now_us)
                continue;
            if (s->seq > t->expired_mark.seq)
                h->st.expired += s->records - (j == 1 ? t->delivered_records : 0);
            seg_seal(h, t, s);
            st = seg_delete(h, t, j - 1);
            if (st != WC_OK)
                goto out;
            removed = true;
        }
        if (t->nsegs > 0 && wc_hint_pos_cmp(t->delivered, (wc_hint_pos){t->segs[0].seq, 0}) < 0)
            t->delivered = (wc_hint_pos){t->segs[0].seq, WC_HINTS_HEADER_SIZE};
        if (t->nsegs == 0) {
            char path[HINTS_PATH_MAX];

            pos_path(h, t->id, path);
            h->fs->unlink(h->fs, path);
            target_drop(h, t);
        }
    }
    if (removed)
        h->fs->sync_dir(h->fs, h->dir);

out:
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* REQUIRES: h->mu held. */
static void target_stats(const htarget *t, wc_hints_target_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t j = 0; j < t->nsegs; j++) {
        const hseg *s = &t->segs[j];

        out->hints += s->records;
        out->bytes += s->end - WC_HINTS_HEADER_SIZE;
        if (s->records > 0 && (out->oldest_us == 0 || s->oldest_us < out->oldest_us))
            out->oldest_us = s->oldest_us;
    }
    if (t->nsegs > 0 && t->delivered.seq == t->segs[0].seq) {
        out->hints -= t->delivered_records;
        out->bytes -= t->delivered.offset - WC_HINTS_HEADER_SIZE;
    }
    out->segments = (uint32_t)t->nsegs;
}

void wc_hints_get_stats(wc_hints *h, wc_hints_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    out->targets = h->ntargets;
    out->total_bytes = h->total_bytes;
    out->hints = 0;
    out->oldest_us = 0;
    for (size_t i = 0; i < h->ntargets; i++) {
        wc_hints_target_stats ts;

        target_stats(h->targets[i], &ts);
        out->hints += ts.hints;
        if (ts.oldest_us != 0 && (out->oldest_us == 0 || ts.oldest_us < out->oldest_us))
            out->oldest_us = ts.oldest_us;
    }
    pthread_mutex_unlock(&h->mu);
}

void wc_hints_target_stats_get(wc_hints *h, const uint8_t target[WC_HOST_ID_LEN],
                               wc_hints_target_stats *out)
{
    htarget *t;

    pthread_mutex_lock(&h->mu);
    t = target_find(h, target);
    if (t != NULL)
        target_stats(t, out);
    else
        memset(out, 0, sizeof(*out));
    pthread_mutex_unlock(&h->mu);
}

void wc_hints_foreach_target(wc_hints *h,
                             int (*cb)(void *arg, const uint8_t target[WC_HOST_ID_LEN]),
                             void *arg)
{
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->ntargets; i++)
        if (cb(arg, h->targets[i]->id))
            break;
    pthread_mutex_unlock(&h->mu);
}
