/*
 * schema_sync.c - a node's copy of the cluster schema: the entries, their
 * merge, the version digest, cluster-wide table ids, PULL/PUSH propagation
 * and agreement waits (schema_sync.h; wire layout in schema_sync_format.h
 * and docs/protocol.md, "Schema messages").
 */
#include "schema_sync.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "schema_def.h"
#include "view.h"

#define BACKOFF_CAP_MS 30000
#define MAX_NAMED_LAGGARDS 16
#define REPL_TEXT_CAP 1024
#define ADDR_BUF (WC_ADDR_HOST_MAX + 8)

typedef struct peer {
    wc_addr addr;
    char announced[2 * WC_SCHEMA_VERSION_BYTES + 1]; /* "" when it announced none */
    uint32_t attempts;
    uint64_t next_pull_ms;
} peer;

typedef struct waiter {
    wc_schema_sync_wait_cb cb;
    void *arg;
    uint64_t deadline_ms;
    struct waiter *next;
} waiter;

struct wc_schema_sync {
    wc_env *env;
    wc_gossip *g;
    wc_schema_sync_options o;
    wc_schema_keyspace *ks; /* sorted by name; strings owned */
    size_t nks, capks;
    wc_schema_table *tabs; /* sorted by (keyspace, name); strings and definitions owned */
    size_t ntabs, captabs;
    uint8_t version[WC_SCHEMA_VERSION_BYTES];
    char version_hex[2 * WC_SCHEMA_VERSION_BYTES + 1];
    wc_schema_sync_listener listeners[WC_SCHEMA_SYNC_MAX_LISTENERS];
    size_t nlisteners;
    peer *peers;
    size_t npeers, cappeers;
    waiter *waiters;
    uint64_t timer;
    wc_env_log_limit log_limit; /* slog_limited */
    bool unknown_logged;
};

/* ---------------------------------------------------------------- logging */

#define slog(s, level, ...) wc_env_logf((s)->env, (level), __VA_ARGS__)

/* What a peer sent wrong: at most one line per 10 s (wc_env_log_limited). */
static void slog_limited(wc_schema_sync *s, const char *what, const wc_addr *from)
{
    char a[ADDR_BUF];

    wc_addr_format(from, a, sizeof(a));
    wc_env_log_limited(s->env, &s->log_limit, "schema: malformed message from %s dropped: %s", a,
                       what);
}

/* ---------------------------------------------------------------- canonical encoding */

static void put_ks(wc_buf *b, const wc_schema_keyspace *k)
{
    char text[REPL_TEXT_CAP];
    size_t tl = 0;

    if (wc_replication_format(&k->replication, text, sizeof(text), &tl) != WC_OK)
        tl = 0; /* cannot happen: every stored replication was validated */
    wc_buf_put_bytes(b, k->name, strlen(k->name));
    wc_buf_put_varint(b, (uint64_t)k->timestamp_us);
    wc_buf_put_u8(b, k->dropped ? WC_SCHEMA_ENTRY_DROPPED : 0);
    wc_buf_put_bytes(b, text, tl);
    wc_buf_put_bytes(b, k->owner_role, strlen(k->owner_role));
}

static void put_tab(wc_buf *b, const wc_schema_table *t)
{
    wc_buf_put_bytes(b, t->keyspace, strlen(t->keyspace));
    wc_buf_put_bytes(b, t->name, strlen(t->name));
    wc_buf_put_varint(b, (uint64_t)t->timestamp_us);
    wc_buf_put_u8(b, t->dropped ? WC_SCHEMA_ENTRY_DROPPED : 0);
    wc_buf_put_varint(b, t->id);
    wc_buf_put_bytes(b, t->definition, t->definition_len);
}

/* The entries of a store or a message: the shared body of PUSH and the file. */
static void put_entries(wc_buf *b, const wc_schema_keyspace *ks, size_t nks,
                        const wc_schema_table *tabs, size_t ntabs)
{
    wc_buf_put_varint(b, nks);
    for (size_t i = 0; i < nks; i++)
        put_ks(b, &ks[i]);
    wc_buf_put_varint(b, ntabs);
    for (size_t i = 0; i < ntabs; i++)
        put_tab(b, &tabs[i]);
}

static void put_ks_any(wc_buf *b, const void *e)
{
    put_ks(b, e);
}

static void put_tab_any(wc_buf *b, const void *e)
{
    put_tab(b, e);
}

/* Does candidate (stamped tc) beat current (tu): higher timestamp, then the larger encoding. */
static bool wins(int64_t tc, int64_t tu, void (*put)(wc_buf *, const void *), const void *cand,
                 const void *cur)
{
    wc_buf a, b;
    bool r;

    if (tc != tu)
        return tc > tu;
    wc_buf_init(&a);
    wc_buf_init(&b);
    put(&a, cand);
    put(&b, cur);
    r = wc_bytes_cmp(a.data, a.len, b.data, b.len) > 0;
    wc_buf_free(&a);
    wc_buf_free(&b);
    return r;
}

/* ---------------------------------------------------------------- the codec */

static bool name_ok(const uint8_t *p, size_t len)
{
    return len >= 1 && len <= WC_SCHEMA_MAX_NAME && memchr(p, 0, len) == NULL;
}

/* Copy p[0..len) as a NUL-terminated string at *sp (room checked by the caller's sizing). */
static char *take_string(char **sp, const uint8_t *p, size_t len)
{
    char *r = *sp;

    memcpy(r, p, len);
    r[len] = '\0';
    *sp += len + 1;
    return r;
}

/* The definition must be a schema of this keyspace, table and id. */
static wc_status check_definition(const wc_schema_table *t)
{
    wc_schema d;
    wc_status st;

    if (t->definition_len > WC_SCHEMA_MAX_DEFINITION)
        return wc_error(WC_CORRUPTION, "a table definition of %zu bytes", t->definition_len);
    wc_schema_init(&d);
    st = wc_schema_decode(t->definition, t->definition_len, &d);
    if (st == WC_OK && (d.keyspace == NULL || strcmp(d.keyspace, t->keyspace) != 0 ||
                        strcmp(d.table, t->name) != 0 || d.table_id != t->id))
        st = wc_error(WC_CORRUPTION, "the definition of %s.%s names another table or id",
                      t->keyspace, t->name);
    wc_schema_free(&d);
    return st;
}

#define BAD(what) wc_error(WC_CORRUPTION, "%s", what)

/* The entries at *pp..end into m (strings into m->strings__). */
static wc_status get_entries(const uint8_t **pp, const uint8_t *end, wc_schema_msg *m, char **sp)
{
    uint64_t n, ts, id;
    const uint8_t *p1, *p2;
    size_t l1, l2;
    uint8_t flags;
    wc_status st;

    /* keyspaces: each entry takes at least 5 bytes */
    if (!wc_get_varint(pp, end, &n) || n > WC_SCHEMA_MAX_ENTRIES || n > (uint64_t)(end - *pp) / 5)
        return BAD("bad keyspace count");
    m->keyspaces = wc_calloc(n ? n : 1, sizeof(*m->keyspaces));
    if (m->keyspaces == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding a schema message");
    for (size_t i = 0; i < n; i++) {
        wc_schema_keyspace *k = &m->keyspaces[i];
        char *text;

        if (!wc_get_bytes(pp, end, &p1, &l1) || !name_ok(p1, l1))
            return BAD("bad keyspace name");
        k->name = take_string(sp, p1, l1);
        if (!wc_get_varint(pp, end, &ts) || ts > INT64_MAX || !wc_get_u8(pp, end, &flags) ||
            (flags & ~WC_SCHEMA_ENTRY_DROPPED) != 0)
            return BAD("bad keyspace timestamp or flags");
        k->timestamp_us = (int64_t)ts;
        k->dropped = (flags & WC_SCHEMA_ENTRY_DROPPED) != 0;
        if (!wc_get_bytes(pp, end, &p1, &l1) || l1 == 0 || l1 > WC_SCHEMA_MAX_REPLICATION ||
            memchr(p1, 0, l1) != NULL)
            return BAD("bad replication");
        text = take_string(sp, p1, l1);
        if (wc_replication_parse(text, &k->replication) != WC_OK)
            return BAD("replication does not parse");
        if (!wc_get_bytes(pp, end, &p2, &l2) || l2 > WC_SCHEMA_MAX_NAME ||
            memchr(p2, 0, l2) != NULL)
            return BAD("bad owner role");
        k->owner_role = take_string(sp, p2, l2);
        m->nkeyspaces++;
    }
    /* tables: each entry takes at least 6 bytes */
    if (!wc_get_varint(pp, end, &n) || n > WC_SCHEMA_MAX_ENTRIES || n > (uint64_t)(end - *pp) / 6)
        return BAD("bad table count");
    m->tables = wc_calloc(n ? n : 1, sizeof(*m->tables));
    if (m->tables == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory decoding a schema message");
    for (size_t i = 0; i < n; i++) {
        wc_schema_table *t = &m->tables[i];

        if (!wc_get_bytes(pp, end, &p1, &l1) || !name_ok(p1, l1) ||
            !wc_get_bytes(pp, end, &p2, &l2) || !name_ok(p2, l2))
            return BAD("bad table name");
        t->keyspace = take_string(sp, p1, l1);
        t->name = take_string(sp, p2, l2);
        if (!wc_get_varint(pp, end, &ts) || ts > INT64_MAX || !wc_get_u8(pp, end, &flags) ||
            (flags & ~WC_SCHEMA_ENTRY_DROPPED) != 0 || !wc_get_varint(pp, end, &id) || id == 0 ||
            id > UINT32_MAX)
            return BAD("bad table timestamp, flags or id");
        t->timestamp_us = (int64_t)ts;
        t->dropped = (flags & WC_SCHEMA_ENTRY_DROPPED) != 0;
        t->id = (uint32_t)id;
        if (!wc_get_bytes(pp, end, &t->definition, &t->definition_len) ||
            (t->dropped != (t->definition_len == 0)))
            return BAD("bad table definition length");
        if (!t->dropped && (st = check_definition(t)) != WC_OK)
            return st;
        m->ntables++;
    }
    return WC_OK;
}

/* Room for every string of a body of len bytes: each is at most its bytes plus a NUL. */
static wc_status alloc_strings(wc_schema_msg *m, size_t len)
{
    m->strings__ = wc_malloc(2 * len + 1);
    return m->strings__ != NULL ? WC_OK
                                : wc_error(WC_NO_MEMORY, "out of memory decoding a schema message");
}

wc_status wc_schema_msg_decode(const uint8_t *msg, size_t len, wc_schema_msg *out)
{
    const uint8_t *p = msg, *end = msg + len, *v;
    size_t vl;
    char *sp;
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (len == 0 || (msg[0] != WC_SCHEMA_MSG_PULL && msg[0] != WC_SCHEMA_MSG_PUSH))
        return wc_error(WC_INVALID_ARGUMENT, "not a schema message type");
    out->type = *p++;
    if (out->type == WC_SCHEMA_MSG_PUSH && !wc_get_u8(&p, end, &out->flags))
        return wc_error(WC_CORRUPTION, "short schema message");
    if ((out->flags & ~WC_SCHEMA_PUSH_FULL) != 0)
        return wc_error(WC_CORRUPTION, "unknown schema push flags 0x%x", out->flags);
    if (!wc_get_bytes(&p, end, &v, &vl) || vl != WC_SCHEMA_VERSION_BYTES)
        return wc_error(WC_CORRUPTION, "bad schema version");
    memcpy(out->version, v, vl);
    if (out->type == WC_SCHEMA_MSG_PUSH) {
        if ((st = alloc_strings(out, len)) != WC_OK)
            return st;
        sp = out->strings__;
        if ((st = get_entries(&p, end, out, &sp)) != WC_OK)
            return st;
    }
    if (p != end)
        return wc_error(WC_CORRUPTION, "%zu trailing bytes after a schema message",
                        (size_t)(end - p));
    return WC_OK;
}

void wc_schema_msg_free(wc_schema_msg *m)
{
    wc_free(m->keyspaces);
    wc_free(m->tables);
    wc_free(m->strings__);
    memset(m, 0, sizeof(*m));
}

wc_status wc_schema_sync_encode_push(const wc_schema_sync *s, wc_buf *out)
{
    wc_buf_put_u8(out, WC_SCHEMA_MSG_PUSH);
    wc_buf_put_u8(out, WC_SCHEMA_PUSH_FULL);
    wc_buf_put_bytes(out, s->version, WC_SCHEMA_VERSION_BYTES);
    put_entries(out, s->ks, s->nks, s->tabs, s->ntabs);
    return wc_buf_status(out);
}

wc_status wc_schema_msg_encode(const wc_schema_msg *m, wc_buf *out)
{
    wc_buf_put_u8(out, m->type);
    if (m->type == WC_SCHEMA_MSG_PUSH)
        wc_buf_put_u8(out, m->flags);
    wc_buf_put_bytes(out, m->version, WC_SCHEMA_VERSION_BYTES);
    if (m->type == WC_SCHEMA_MSG_PUSH)
        put_entries(out, m->keyspaces, m->nkeyspaces, m->tables, m->ntables);
    return wc_buf_status(out);
}

/* ---------------------------------------------------------------- entries */

static size_t ks_search(const wc_schema_sync *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->nks;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->ks[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int tab_cmp(const wc_schema_table *t, const char *ks, const char *name)
{
    int c = strcmp(t->keyspace, ks);

    return c != 0 ? c : strcmp(t->name, name);
}

static size_t tab_search(const wc_schema_sync *s, const char *ks, const char *name, bool *found)
{
    size_t lo = 0, hi = s->ntabs;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = tab_cmp(&s->tabs[mid], ks, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void ks_free_strings(wc_schema_keyspace *k)
{
    wc_free((char *)k->name);
    wc_free((char *)k->owner_role);
}

static void tab_free_strings(wc_schema_table *t)
{
    wc_free((char *)t->keyspace);
    wc_free((char *)t->name);
    wc_free((uint8_t *)t->definition);
}

static wc_status ks_copy(wc_schema_keyspace *dst, const wc_schema_keyspace *src)
{
    *dst = *src;
    dst->name = wc_strdup(src->name);
    dst->owner_role = wc_strdup(src->owner_role != NULL ? src->owner_role : "");
    if (dst->name == NULL || dst->owner_role == NULL) {
        ks_free_strings(dst);
        return wc_error(WC_NO_MEMORY, "out of memory copying a keyspace entry");
    }
    return WC_OK;
}

static wc_status tab_copy(wc_schema_table *dst, const wc_schema_table *src)
{
    uint8_t *d = NULL;

    *dst = *src;
    if (src->definition_len > 0 && (d = wc_malloc(src->definition_len)) != NULL)
        memcpy(d, src->definition, src->definition_len);
    dst->definition = d;
    dst->keyspace = wc_strdup(src->keyspace);
    dst->name = wc_strdup(src->name);
    if (dst->keyspace == NULL || dst->name == NULL || (src->definition_len > 0 && d == NULL)) {
        tab_free_strings(dst);
        return wc_error(WC_NO_MEMORY, "out of memory copying a table entry");
    }
    return WC_OK;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *n;

    if (need <= *cap)
        return true;
    ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    n = wc_realloc(*arr, ncap * elem);
    if (n == NULL)
        return false;
    *arr = n;
    *cap = ncap;
    return true;
}

/* Insert elem (size bytes) at index i of the array *arr of *n elements. */
static bool vec_insert(void **arr, size_t *n, size_t *cap, size_t i, const void *elem, size_t size)
{
    uint8_t *a;

    if (!grow(arr, cap, *n + 1, size))
        return false;
    a = *arr;
    memmove(a + (i + 1) * size, a + i * size, (*n - i) * size);
    memcpy(a + i * size, elem, size);
    (*n)++;
    return true;
}

static void notify_ks(wc_schema_sync *s, const wc_schema_keyspace *old, const wc_schema_keyspace *n)
{
    for (size_t i = 0; i < s->nlisteners; i++)
        if (s->listeners[i].on_keyspace_change != NULL)
            s->listeners[i].on_keyspace_change(s->listeners[i].ctx, old, n);
}

static void notify_tab(wc_schema_sync *s, const wc_schema_table *old, const wc_schema_table *n)
{
    for (size_t i = 0; i < s->nlisteners; i++)
        if (s->listeners[i].on_table_change != NULL)
            s->listeners[i].on_table_change(s->listeners[i].ctx, old, n);
}

/* A tombstone past its grace period: purged, and not taken from peers. */
static bool expired(const wc_schema_sync *s, bool dropped, int64_t ts)
{
    return dropped && ts + (int64_t)s->o.grace_ms * 1000 < wc_env_wall_us(s->env);
}

/*
 * Merge one keyspace entry: *changed set when it won.  notify false while
 * loading the saved store.  WC_NO_MEMORY.
 */
static wc_status apply_ks(wc_schema_sync *s, const wc_schema_keyspace *in, bool notify,
                          bool *changed)
{
    bool found;
    size_t i = ks_search(s, in->name, &found);
    wc_schema_keyspace nk, old;
    wc_status st;

    if (found ? !wins(in->timestamp_us, s->ks[i].timestamp_us, put_ks_any, in, &s->ks[i])
              : expired(s, in->dropped, in->timestamp_us))
        return WC_OK;
    if ((st = ks_copy(&nk, in)) != WC_OK)
        return st;
    if (found) {
        old = s->ks[i];
        s->ks[i] = nk;
        if (notify)
            notify_ks(s, &old, &s->ks[i]);
        ks_free_strings(&old);
    } else {
        if (!vec_insert((void **)&s->ks, &s->nks, &s->capks, i, &nk, sizeof(nk))) {
            ks_free_strings(&nk);
            return wc_error(WC_NO_MEMORY, "out of memory adding a keyspace");
        }
        if (notify)
            notify_ks(s, NULL, &s->ks[i]);
    }
    *changed = true;
    return WC_OK;
}

static wc_status apply_tab(wc_schema_sync *s, const wc_schema_table *in, bool notify, bool *changed)
{
    bool found;
    size_t i = tab_search(s, in->keyspace, in->name, &found);
    wc_schema_table nt, old;
    wc_status st;

    if (found ? !wins(in->timestamp_us, s->tabs[i].timestamp_us, put_tab_any, in, &s->tabs[i])
              : expired(s, in->dropped, in->timestamp_us))
        return WC_OK;
    if ((st = tab_copy(&nt, in)) != WC_OK)
        return st;
    if (found) {
        old = s->tabs[i];
        s->tabs[i] = nt;
        if (notify)
            notify_tab(s, &old, &s->tabs[i]);
        tab_free_strings(&old);
    } else {
        if (!vec_insert((void **)&s->tabs, &s->ntabs, &s->captabs, i, &nt, sizeof(nt))) {
            tab_free_strings(&nt);
            return wc_error(WC_NO_MEMORY, "out of memory adding a table");
        }
        if (notify)
            notify_tab(s, NULL, &s->tabs[i]);
    }
    *changed = true;
    return WC_OK;
}

static bool id_known(const wc_schema_sync *s, uint32_t id)
{
    for (size_t i = 0; i < s->ntabs; i++)
        if (s->tabs[i].id == id)
            return true;
    return false;
}

/* t's definition with table_id set to id, into out.  WC_CORRUPTION, WC_NO_MEMORY. */
static wc_status reencode_with_id(const uint8_t *def, size_t len, uint32_t id, wc_buf *out)
{
    wc_schema d;
    wc_status st;

    wc_schema_init(&d);
    st = wc_schema_decode(def, len, &d);
    if (st == WC_OK) {
        d.table_id = id;
        st = wc_schema_encode(&d, out);
    }
    wc_schema_free(&d);
    return st;
}

/* Which of two same-id tables keeps the id: created first, then by name. */
static bool keeps_id(const wc_schema_table *a, const wc_schema_table *b)
{
    if (a->timestamp_us != b->timestamp_us)
        return a->timestamp_us < b->timestamp_us;
    return tab_cmp(a, b->keyspace, b->name) < 0;
}

/*
 * The deterministic replacement id of t: a hash of its name and the
 * attempt, not known, and one a client may use (1 ... WC_USER_TABLE_ID_MAX,
 * which a PostgreSQL table_id option also takes).
 */
static uint32_t reid(const wc_schema_sync *s, const wc_schema_table *t)
{
    for (uint32_t attempt = 0;; attempt++) {
        wc_buf b;
        uint32_t id;

        wc_buf_init(&b);
        wc_buf_put_bytes(&b, t->keyspace, strlen(t->keyspace));
        wc_buf_put_bytes(&b, t->name, strlen(t->name));
        wc_buf_put_u32(&b, attempt);
        id = (uint32_t)(XXH3_64bits(b.data, b.len) % WC_USER_TABLE_ID_MAX) + 1;
        wc_buf_free(&b);
        if (!id_known(s, id))
            return id;
    }
}

/* Give t (in the store) a new id, telling the listeners.  WC_CORRUPTION, WC_NO_MEMORY. */
static wc_status reid_table(wc_schema_sync *s, wc_schema_table *t)
{
    wc_schema_table old, nt = *t;
    wc_buf def;
    wc_status st;

    nt.id = reid(s, t);
    wc_buf_init(&def);
    if (!t->dropped &&
        (st = reencode_with_id(t->definition, t->definition_len, nt.id, &def)) != WC_OK) {
        wc_buf_free(&def);
        return st;
    }
    nt.definition = def.data;
    nt.definition_len = def.len;
    old = *t;
    *t = nt; /* takes def's memory; the names stay */
    for (size_t l = 0; l < s->nlisteners; l++)
        if (s->listeners[l].on_id_clash != NULL)
            s->listeners[l].on_id_clash(s->listeners[l].ctx, t->keyspace, t->name, old.id, t->id);
    slog(s, WC_ENV_LOG_WARNING, "schema: table %s.%s drew id %u that an older table has: now %u",
         t->keyspace, t->name, old.id, t->id);
    notify_tab(s, &old, t);
    wc_free((uint8_t *)old.definition);
    return WC_OK;
}

/* qsort order: by id, then the table that keeps a shared id first. */
static int by_id_then_age(const void *a, const void *b)
{
    const wc_schema_table *x = *(wc_schema_table *const *)a, *y = *(wc_schema_table *const *)b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return keeps_id(x, y) ? -1 : keeps_id(y, x) ? 1 : 0;
}

/*
 * Give every table that shares its id with an older one a new id (new ids
 * are unknown, so one pass over the tables sorted by id does).  *changed
 * when any did.  WC_NO_MEMORY, WC_CORRUPTION.
 */
static wc_status resolve_clashes(wc_schema_sync *s, bool *changed)
{
    wc_schema_table **by;
    wc_status st = WC_OK;
    uint32_t run;

    if (s->ntabs < 2)
        return WC_OK;
    if ((by = wc_malloc(s->ntabs * sizeof(*by))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory checking table ids");
    for (size_t i = 0; i < s->ntabs; i++)
        by[i] = &s->tabs[i];
    qsort(by, s->ntabs, sizeof(*by), by_id_then_age);
    run = by[0]->id;
    for (size_t i = 1; i < s->ntabs && st == WC_OK; i++) {
        if (by[i]->id != run) {
            run = by[i]->id;
            continue;
        }
        st = reid_table(s, by[i]);
        *changed = true;
    }
    wc_free(by);
    return st;
}

/* Whether a tombstone is past its grace period. */
static bool purge_due(const wc_schema_sync *s)
{
    for (size_t i = 0; i < s->ntabs; i++)
        if (expired(s, s->tabs[i].dropped, s->tabs[i].timestamp_us))
            return true;
    for (size_t i = 0; i < s->nks; i++)
        if (expired(s, s->ks[i].dropped, s->ks[i].timestamp_us))
            return true;
    return false;
}

/* Remove tombstones past their grace period.  *changed when any went. */
static void purge(wc_schema_sync *s, bool *changed)
{
    for (size_t i = 0; i < s->ntabs;) {
        if (expired(s, s->tabs[i].dropped, s->tabs[i].timestamp_us)) {
            wc_schema_table old = s->tabs[i];
            memmove(&s->tabs[i], &s->tabs[i + 1], (s->ntabs - i - 1) * sizeof(*s->tabs));
            s->ntabs--;
            notify_tab(s, &old, NULL);
            tab_free_strings(&old);
            *changed = true;
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < s->nks;) {
        if (expired(s, s->ks[i].dropped, s->ks[i].timestamp_us)) {
            wc_schema_keyspace old = s->ks[i];
            memmove(&s->ks[i], &s->ks[i + 1], (s->nks - i - 1) * sizeof(*s->ks));
            s->nks--;
            notify_ks(s, &old, NULL);
            ks_free_strings(&old);
            *changed = true;
        } else {
            i++;
        }
    }
}

/* ---------------------------------------------------------------- version and announcements */

static const char HEX[] = "0123456789abcdef";

static void recompute_version(wc_schema_sync *s)
{
    wc_buf b;
    XXH128_hash_t h;
    XXH128_canonical_t c;

    wc_buf_init(&b);
    put_entries(&b, s->ks, s->nks, s->tabs, s->ntabs);
    h = XXH3_128bits(b.data, b.len);
    wc_buf_free(&b);
    XXH128_canonicalFromHash(&c, h);
    memcpy(s->version, c.digest, WC_SCHEMA_VERSION_BYTES);
    for (int i = 0; i < WC_SCHEMA_VERSION_BYTES; i++) {
        s->version_hex[2 * i] = HEX[s->version[i] >> 4];
        s->version_hex[2 * i + 1] = HEX[s->version[i] & 15];
    }
    s->version_hex[2 * WC_SCHEMA_VERSION_BYTES] = '\0';
}

static void check_waiters(wc_schema_sync *s);

/*
 * What the store holds, to undo a change whose persisting failed
 * (restore_state); on failure b is already freed.
 */
static wc_status save_state(const wc_schema_sync *s, wc_buf *b)
{
    wc_status st;

    wc_buf_init(b);
    if ((st = wc_schema_sync_encode(s, b)) != WC_OK)
        wc_buf_free(b);
    return st;
}

static wc_status load(wc_schema_sync *s, const uint8_t *p, size_t len);

/* Put back what save_state saved in b, and free b. */
static void restore_state(wc_schema_sync *s, wc_buf *b)
{
    for (size_t i = 0; i < s->nks; i++)
        ks_free_strings(&s->ks[i]);
    for (size_t i = 0; i < s->ntabs; i++)
        tab_free_strings(&s->tabs[i]);
    s->nks = 0;
    s->ntabs = 0;
    if (load(s, b->data, b->len) != WC_OK)
        slog(s, WC_ENV_LOG_WARNING, "schema: could not restore the store: %s", wc_last_error());
    recompute_version(s);
    wc_buf_free(b);
}

/*
 * After any change: re-id clashes, new version, persist, announce, retry
 * pulls.  before is the store as it was before the change (save_state; it
 * is freed here): when persisting fails the store goes back to it and the
 * persisting error is returned, nothing announced.
 */
static wc_status after_change(wc_schema_sync *s, wc_buf *before)
{
    bool again = false;
    wc_status st = WC_OK;

    if (resolve_clashes(s, &again) != WC_OK)
        slog(s, WC_ENV_LOG_WARNING, "schema: could not re-id a table: %s", wc_last_error());
    recompute_version(s);
    for (size_t i = 0; i < s->nlisteners && st == WC_OK; i++)
        if (s->listeners[i].on_persist != NULL)
            st = s->listeners[i].on_persist(s->listeners[i].ctx, s);
    if (st != WC_OK) {
        char err[256];

        snprintf(err, sizeof(err), "%s", wc_last_error());
        restore_state(s, before);
        slog(s, WC_ENV_LOG_WARNING, "schema: a change was undone, it could not be saved: %s", err);
        return wc_error(st, "the cluster schema change could not be saved: %s", err);
    }
    wc_buf_free(before);
    if (s->g != NULL)
        wc_gossip_set_local(s->g, WC_GOSSIP_SCHEMA, s->version_hex, 2 * WC_SCHEMA_VERSION_BYTES);
    for (size_t i = 0; i < s->npeers; i++)
        s->peers[i].attempts = 0;
    check_waiters(s);
    return WC_OK;
}

/* Send a PUSH of these entries to peer (NULL: every live peer in gossip). */
static void push(wc_schema_sync *s, const wc_addr *to, uint8_t flags, const wc_schema_keyspace *k,
                 size_t nk, const wc_schema_table *t, size_t nt)
{
    wc_buf b;

    wc_buf_init(&b);
    wc_buf_put_u8(&b, WC_SCHEMA_MSG_PUSH);
    wc_buf_put_u8(&b, flags);
    wc_buf_put_bytes(&b, s->version, WC_SCHEMA_VERSION_BYTES);
    put_entries(&b, k, nk, t, nt);
    if (wc_buf_status(&b) != WC_OK || b.len > WC_ENV_MAX_MESSAGE) {
        slog(s, WC_ENV_LOG_WARNING, "schema: a push of %zu bytes could not be built", b.len);
    } else if (to != NULL) {
        s->env->ops->send(s->env, to, b.data, b.len);
    } else if (s->g != NULL) {
        for (size_t i = 0; i < wc_gossip_endpoint_count(s->g); i++) {
            const wc_addr *ep = wc_gossip_endpoint(s->g, i);
            if (!wc_addr_equal(ep, &s->env->self) && wc_gossip_is_alive(s->g, ep))
                s->env->ops->send(s->env, ep, b.data, b.len);
        }
    }
    wc_buf_free(&b);
}

/* ---------------------------------------------------------------- peers and agreement */

static peer *peer_get(wc_schema_sync *s, const wc_addr *a)
{
    for (size_t i = 0; i < s->npeers; i++)
        if (wc_addr_equal(&s->peers[i].addr, a))
            return &s->peers[i];
    if (!grow((void **)&s->peers, &s->cappeers, s->npeers + 1, sizeof(*s->peers)))
        return NULL;
    memset(&s->peers[s->npeers], 0, sizeof(*s->peers));
    s->peers[s->npeers].addr = *a;
    return &s->peers[s->npeers++];
}

/* What ep announces as its version ("" when nothing usable). */
static void announced(const wc_schema_sync *s, const wc_addr *ep, char out[33])
{
    const uint8_t *v;
    size_t len;

    out[0] = '\0';
    if (s->g != NULL && wc_gossip_get(s->g, ep, WC_GOSSIP_SCHEMA, &v, &len) == WC_OK &&
        len == 2 * WC_SCHEMA_VERSION_BYTES) {
        memcpy(out, v, len);
        out[len] = '\0';
    }
}

/* A gossip event about ep: a new announced version (or a return) restarts its pulls. */
static void note_peer(wc_schema_sync *s, const wc_addr *ep, bool force)
{
    char v[33];
    peer *p;

    if (wc_addr_equal(ep, &s->env->self))
        return;
    announced(s, ep, v);
    if ((p = peer_get(s, ep)) == NULL)
        return;
    if (force || strcmp(p->announced, v) != 0) {
        memcpy(p->announced, v, sizeof(v));
        p->attempts = 0;
        p->next_pull_ms = wc_env_now_ms(s->env) + s->o.pull_delay_ms;
    }
    check_waiters(s);
}

size_t wc_schema_sync_disagreeing(const wc_schema_sync *s, wc_addr *out, size_t cap)
{
    size_t n = 0;
    char v[33];

    if (s->g == NULL)
        return 0;
    for (size_t i = 0; i < wc_gossip_endpoint_count(s->g); i++) {
        const wc_addr *ep = wc_gossip_endpoint(s->g, i);
        if (wc_addr_equal(ep, &s->env->self) || !wc_gossip_is_alive(s->g, ep))
            continue;
        announced(s, ep, v);
        if (strcmp(v, s->version_hex) != 0) {
            if (n < cap)
                out[n] = *ep;
            n++;
        }
    }
    return n;
}

static void check_waiters(wc_schema_sync *s)
{
    wc_addr lag[MAX_NAMED_LAGGARDS];
    size_t nlag;
    uint64_t now = wc_env_now_ms(s->env);
    waiter *w, **pw, *done = NULL;

    if (s->waiters == NULL)
        return;
    nlag = wc_schema_sync_disagreeing(s, lag, MAX_NAMED_LAGGARDS);
    /* detach the finished ones first: a callback may start another wait */
    for (pw = &s->waiters; (w = *pw) != NULL;) {
        if (nlag == 0 || now >= w->deadline_ms) {
            *pw = w->next;
            w->next = done;
            done = w;
        } else {
            pw = &w->next;
        }
    }
    while ((w = done) != NULL) {
        done = w->next;
        if (nlag == 0)
            w->cb(w->arg, WC_OK, NULL, 0);
        else
            w->cb(w->arg, WC_TIMEOUT, lag, nlag < MAX_NAMED_LAGGARDS ? nlag : MAX_NAMED_LAGGARDS);
        wc_free(w);
    }
}

wc_status wc_schema_sync_wait_agreement(wc_schema_sync *s, uint64_t timeout_ms,
                                        wc_schema_sync_wait_cb cb, void *arg)
{
    waiter *w = wc_calloc(1, sizeof(*w));

    if (w == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory waiting for schema agreement");
    w->cb = cb;
    w->arg = arg;
    w->deadline_ms = wc_env_now_ms(s->env) + timeout_ms;
    w->next = s->waiters;
    s->waiters = w;
    check_waiters(s);
    return WC_OK;
}

/* ---------------------------------------------------------------- the tick */

static void tick(void *arg)
{
    wc_schema_sync *s = arg;
    uint64_t now = wc_env_now_ms(s->env);
    bool changed = false;

    s->timer = s->env->ops->timer_start(s->env, s->o.check_interval_ms, tick, s);
    if (purge_due(s)) {
        wc_buf before;

        if (save_state(s, &before) == WC_OK) { /* else tried again at the next tick */
            purge(s, &changed);
            if (changed)
                (void)after_change(s, &before);
            else
                wc_buf_free(&before);
        }
    }
    /* every live endpoint of gossip, also one known before this store was created */
    for (size_t i = 0; s->g != NULL && i < wc_gossip_endpoint_count(s->g); i++) {
        const wc_addr *ep = wc_gossip_endpoint(s->g, i);
        uint8_t msg[2 + WC_SCHEMA_VERSION_BYTES];
        uint64_t backoff;
        peer *p;

        if (wc_addr_equal(ep, &s->env->self) || !wc_gossip_is_alive(s->g, ep) ||
            (p = peer_get(s, ep)) == NULL)
            continue;
        announced(s, &p->addr, p->announced);
        if (p->announced[0] == '\0' || strcmp(p->announced, s->version_hex) == 0 ||
            p->attempts >= s->o.max_pull_attempts || now < p->next_pull_ms)
            continue;
        msg[0] = WC_SCHEMA_MSG_PULL;
        msg[1] = WC_SCHEMA_VERSION_BYTES;
        memcpy(msg + 2, s->version, WC_SCHEMA_VERSION_BYTES);
        s->env->ops->send(s->env, &p->addr, msg, sizeof(msg));
        p->attempts++;
        backoff = p->attempts >= 16 ? BACKOFF_CAP_MS : s->o.pull_delay_ms << p->attempts;
        p->next_pull_ms = now + (backoff < BACKOFF_CAP_MS ? backoff : BACKOFF_CAP_MS);
    }
    check_waiters(s);
}

/* ---------------------------------------------------------------- messages */

/* Merge the entries of m; WC_NO_MEMORY (what merged before stays). */
static wc_status merge(wc_schema_sync *s, const wc_schema_msg *m, bool *changed)
{
    wc_status st = WC_OK;

    for (size_t i = 0; i < m->nkeyspaces && st == WC_OK; i++)
        st = apply_ks(s, &m->keyspaces[i], true, changed);
    for (size_t i = 0; i < m->ntables && st == WC_OK; i++)
        st = apply_tab(s, &m->tables[i], true, changed);
    return st;
}

void wc_schema_sync_on_message(void *arg, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc_schema_sync *s = arg;
    wc_schema_msg m;
    wc_status st = wc_schema_msg_decode(msg, len, &m);
    bool changed = false;
    wc_buf before;

    if (st == WC_INVALID_ARGUMENT) {
        if (!s->unknown_logged)
            slog(s, WC_ENV_LOG_WARNING, "schema: message type %u unknown to this node: dropped",
                 len > 0 ? msg[0] : 0);
        s->unknown_logged = true;
    } else if (st != WC_OK) {
        slog_limited(s, wc_last_error(), from);
    } else if (m.type == WC_SCHEMA_MSG_PULL) {
        push(s, from, WC_SCHEMA_PUSH_FULL, s->ks, s->nks, s->tabs, s->ntabs);
    } else if ((st = save_state(s, &before)) != WC_OK) {
        slog(s, WC_ENV_LOG_WARNING, "schema: a push was not merged: %s", wc_last_error());
    } else {
        if (merge(s, &m, &changed) != WC_OK)
            slog(s, WC_ENV_LOG_WARNING, "schema: merge stopped: %s", wc_last_error());
        if (changed)
            (void)after_change(s, &before);
        else
            wc_buf_free(&before);
        /* an answer to our PULL from a peer that lacks some of ours: give it everything once */
        if ((m.flags & WC_SCHEMA_PUSH_FULL) &&
            memcmp(m.version, s->version, WC_SCHEMA_VERSION_BYTES) != 0)
            push(s, from, 0, s->ks, s->nks, s->tabs, s->ntabs);
    }
    wc_schema_msg_free(&m);
}

/* ---------------------------------------------------------------- gossip listener */

static void g_join(void *ctx, const wc_addr *ep)
{
    note_peer(ctx, ep, true);
}

static void g_change(void *ctx, const wc_addr *ep, int key, const uint8_t *v, size_t len)
{
    (void)v;
    (void)len;
    if (key == WC_GOSSIP_SCHEMA)
        note_peer(ctx, ep, false);
}

static void g_alive(void *ctx, const wc_addr *ep)
{
    note_peer(ctx, ep, true);
}

static void g_dead(void *ctx, const wc_addr *ep)
{
    (void)ep;
    check_waiters(ctx); /* a dead laggard no longer holds agreement up */
}

static void g_remove(void *ctx, const wc_addr *ep)
{
    wc_schema_sync *s = ctx;

    for (size_t i = 0; i < s->npeers; i++)
        if (wc_addr_equal(&s->peers[i].addr, ep)) {
            s->peers[i] = s->peers[--s->npeers];
            break;
        }
}

/* ---------------------------------------------------------------- lifecycle and persistence */

void wc_schema_sync_options_default(wc_schema_sync_options *o)
{
    o->pull_delay_ms = 500;
    o->check_interval_ms = 250;
    o->max_pull_attempts = 10;
    o->grace_ms = 10ull * 24 * 3600 * 1000;
}

wc_status wc_schema_sync_encode(const wc_schema_sync *s, wc_buf *out)
{
    size_t start = out->len;

    wc_buf_put_u32(out, WC_SCHEMA_FILE_MAGIC);
    wc_buf_put_u32(out, WC_SCHEMA_FILE_FORMAT);
    wc_buf_put_bytes(out, s->version, WC_SCHEMA_VERSION_BYTES);
    put_entries(out, s->ks, s->nks, s->tabs, s->ntabs);
    if (!out->failed)
        wc_buf_put_u64(out, XXH3_64bits(out->data + start, out->len - start));
    return wc_buf_status(out);
}

/* Load a schema file into the empty store s. */
static wc_status load(wc_schema_sync *s, const uint8_t *p, size_t len)
{
    const uint8_t *end, *v;
    size_t vl;
    wc_schema_msg m;
    char *sp;
    wc_status st;
    bool changed = false;

    memset(&m, 0, sizeof(m));
    if (len < 16 || wc_dec_u32(p) != WC_SCHEMA_FILE_MAGIC ||
        wc_dec_u32(p + 4) != WC_SCHEMA_FILE_FORMAT)
        return wc_error(WC_CORRUPTION, "not a schema file (magic or format)");
    if (wc_dec_u64(p + len - 8) != XXH3_64bits(p, len - 8))
        return wc_error(WC_CORRUPTION, "schema file checksum mismatch");
    end = p + len - 8;
    p += 8;
    if (!wc_get_bytes(&p, end, &v, &vl) || vl != WC_SCHEMA_VERSION_BYTES) {
        st = wc_error(WC_CORRUPTION, "schema file: bad version");
        goto fail;
    }
    if ((st = alloc_strings(&m, len)) != WC_OK)
        goto fail;
    sp = m.strings__;
    if ((st = get_entries(&p, end, &m, &sp)) != WC_OK)
        goto fail;
    if (p != end) {
        st = wc_error(WC_CORRUPTION, "schema file: trailing bytes");
        goto fail;
    }
    for (size_t i = 0; i < m.nkeyspaces && st == WC_OK; i++)
        st = apply_ks(s, &m.keyspaces[i], false, &changed);
    for (size_t i = 0; i < m.ntables && st == WC_OK; i++)
        st = apply_tab(s, &m.tables[i], false, &changed);
fail:
    wc_schema_msg_free(&m);
    return st;
}

wc_status wc_schema_sync_create(wc_env *env, wc_gossip *g, const wc_schema_sync_options *o,
                                const uint8_t *saved, size_t saved_len, wc_schema_sync **out)
{
    wc_schema_sync *s;
    wc_status st;
    wc_gossip_listener gl = {g_join, g_change, g_alive, g_dead, g_remove, NULL};

    *out = NULL;
    if (o != NULL && (o->pull_delay_ms == 0 || o->check_interval_ms == 0))
        return wc_error(WC_INVALID_ARGUMENT, "schema: zero pull delay or check interval");
    if ((s = wc_calloc(1, sizeof(*s))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory creating the schema store");
    s->env = env;
    s->g = g;
    if (o != NULL)
        s->o = *o;
    else
        wc_schema_sync_options_default(&s->o);
    if (saved != NULL && saved_len > 0 && (st = load(s, saved, saved_len)) != WC_OK)
        goto fail;
    recompute_version(s);
    if (g != NULL) {
        gl.ctx = s;
        if ((st = wc_gossip_add_listener(g, &gl)) != WC_OK)
            goto fail;
        wc_gossip_set_local(g, WC_GOSSIP_SCHEMA, s->version_hex, 2 * WC_SCHEMA_VERSION_BYTES);
    }
    s->timer = env->ops->timer_start(env, s->o.check_interval_ms, tick, s);
    if (s->timer == 0) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting the schema timer");
        goto fail;
    }
    *out = s;
    return WC_OK;
fail:
    s->g = NULL; /* a listener added to g cannot be taken back: g is destroyed with us */
    wc_schema_sync_destroy(s);
    return st;
}

void wc_schema_sync_destroy(wc_schema_sync *s)
{
    waiter *w;

    if (s == NULL)
        return;
    if (s->timer != 0)
        s->env->ops->timer_cancel(s->env, s->timer);
    while ((w = s->waiters) != NULL) {
        s->waiters = w->next;
        w->cb(w->arg, WC_UNAVAILABLE, NULL, 0);
        wc_free(w);
    }
    for (size_t i = 0; i < s->nks; i++)
        ks_free_strings(&s->ks[i]);
    for (size_t i = 0; i < s->ntabs; i++)
        tab_free_strings(&s->tabs[i]);
    wc_free(s->ks);
    wc_free(s->tabs);
    wc_free(s->peers);
    wc_free(s);
}

wc_status wc_schema_sync_add_listener(wc_schema_sync *s, const wc_schema_sync_listener *l)
{
    if (s->nlisteners == WC_SCHEMA_SYNC_MAX_LISTENERS)
        return wc_error(WC_INVALID_ARGUMENT, "schema: all %d listener slots are taken",
                        WC_SCHEMA_SYNC_MAX_LISTENERS);
    s->listeners[s->nlisteners++] = *l;
    return WC_OK;
}

/* ---------------------------------------------------------------- local DDL */

static bool name_valid(const char *n)
{
    return n != NULL && n[0] != '\0' && strlen(n) <= WC_SCHEMA_MAX_NAME;
}

/* The timestamp of a DDL replacing an entry stamped prev (0: none). */
static int64_t ddl_ts(wc_schema_sync *s, int64_t prev)
{
    int64_t now = wc_env_wall_us(s->env);

    return now > prev ? now : prev + 1;
}

static const wc_schema_keyspace *live_ks(const wc_schema_sync *s, const char *name)
{
    bool found;
    size_t i = ks_search(s, name, &found);

    return found && !s->ks[i].dropped ? &s->ks[i] : NULL;
}

static wc_status ks_ddl(wc_schema_sync *s, const char *name, const wc_replication *r,
                        const char *owner, bool dropped)
{
    bool found, changed = false;
    size_t i = ks_search(s, name, &found);
    wc_schema_keyspace k;
    wc_status st;
    wc_buf before;

    k.name = name;
    k.replication = r != NULL ? *r : s->ks[i].replication;
    k.owner_role = owner != NULL ? owner : s->ks[i].owner_role;
    k.timestamp_us = ddl_ts(s, found ? s->ks[i].timestamp_us : 0);
    k.dropped = dropped;
    if ((st = save_state(s, &before)) != WC_OK)
        return st;
    if ((st = apply_ks(s, &k, true, &changed)) != WC_OK) {
        wc_buf_free(&before);
        return st;
    }
    return after_change(s, &before);
}

wc_status wc_schema_sync_create_keyspace(wc_schema_sync *s, const char *name,
                                         const wc_replication *r, const char *owner_role)
{
    wc_status st;

    if (!name_valid(name) || (owner_role != NULL && strlen(owner_role) > WC_SCHEMA_MAX_NAME))
        return wc_error(WC_INVALID_ARGUMENT,
                        "keyspace name or owner role of 0 or more than %d bytes",
                        WC_SCHEMA_MAX_NAME);
    if ((st = wc_replication_validate(r)) != WC_OK)
        return st;
    if (live_ks(s, name) != NULL)
        return wc_error(WC_EXISTS, "keyspace \"%s\" already exists", name);
    if ((st = ks_ddl(s, name, r, owner_role != NULL ? owner_role : "", false)) != WC_OK)
        return st;
    push(s, NULL, 0, live_ks(s, name), 1, NULL, 0);
    return WC_OK;
}

wc_status wc_schema_sync_alter_keyspace(wc_schema_sync *s, const char *name,
                                        const wc_replication *r)
{
    wc_status st;

    if ((st = wc_replication_validate(r)) != WC_OK)
        return st;
    if (!name_valid(name) || live_ks(s, name) == NULL)
        return wc_error(WC_NOT_FOUND, "keyspace \"%s\" does not exist", name ? name : "");
    if ((st = ks_ddl(s, name, r, NULL, false)) != WC_OK)
        return st;
    push(s, NULL, 0, live_ks(s, name), 1, NULL, 0);
    return WC_OK;
}

/* The range [*lo, *hi) of the tables of keyspace ks. */
static void ks_tables(const wc_schema_sync *s, const char *ks, size_t *lo, size_t *hi)
{
    bool found;

    *lo = tab_search(s, ks, "", &found);
    for (*hi = *lo; *hi < s->ntabs && strcmp(s->tabs[*hi].keyspace, ks) == 0; (*hi)++)
        ;
}

/* Make t (in the store) a tombstone, stamped at least ts. */
static wc_status tombstone(wc_schema_sync *s, const wc_schema_table *t, int64_t ts)
{
    wc_schema_table d = *t;
    bool changed = false;

    d.dropped = true;
    d.definition = NULL;
    d.definition_len = 0;
    d.timestamp_us = ts > t->timestamp_us ? ts : t->timestamp_us + 1;
    return apply_tab(s, &d, true, &changed);
}

wc_status wc_schema_sync_drop_keyspace(wc_schema_sync *s, const char *name)
{
    size_t lo, hi;
    wc_status st = WC_OK;
    bool found;
    size_t i;
    wc_buf before;

    if (!name_valid(name) || live_ks(s, name) == NULL)
        return wc_error(WC_NOT_FOUND, "keyspace \"%s\" does not exist", name ? name : "");
    i = ks_search(s, name, &found);
    if ((st = save_state(s, &before)) != WC_OK)
        return st;
    {
        wc_schema_keyspace k = s->ks[i];
        bool changed = false;
        k.dropped = true;
        k.timestamp_us = ddl_ts(s, k.timestamp_us);
        if ((st = apply_ks(s, &k, true, &changed)) != WC_OK) {
            wc_buf_free(&before);
            return st;
        }
    }
    ks_tables(s, name, &lo, &hi);
    for (size_t j = lo; j < hi && st == WC_OK; j++)
        if (!s->tabs[j].dropped)
            st = tombstone(s, &s->tabs[j], s->ks[i].timestamp_us);
    {
        wc_status pst = after_change(s, &before);

        if (pst != WC_OK)
            return pst;
    }
    i = ks_search(s, name, &found);
    ks_tables(s, name, &lo, &hi);
    push(s, NULL, 0, &s->ks[ks_search(s, name, &found)], 1, s->tabs + lo, hi - lo);
    return st;
}

/* Decode def and check its names; the caller frees *d. */
static wc_status def_names(const uint8_t *def, size_t len, wc_schema *d)
{
    wc_status st;

    wc_schema_init(d);
    if (len > WC_SCHEMA_MAX_DEFINITION)
        return wc_error(WC_INVALID_ARGUMENT, "a table definition of %zu bytes (at most %u)", len,
                        WC_SCHEMA_MAX_DEFINITION);
    if ((st = wc_schema_decode(def, len, d)) != WC_OK)
        return st;
    if (!name_valid(d->keyspace) || !name_valid(d->table))
        return wc_error(WC_INVALID_ARGUMENT, "a table definition without keyspace or table name");
    return WC_OK;
}

/* Bytes of every definition, to bound the whole schema. */
static size_t total_bytes(const wc_schema_sync *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->ntabs; i++)
        n += s->tabs[i].definition_len + 2 * WC_SCHEMA_MAX_NAME;
    return n;
}

/* Store def as the live table, with id, replacing what is there. */
static wc_status table_ddl(wc_schema_sync *s, wc_schema *d, uint32_t id, int64_t prev_ts)
{
    wc_buf enc, before;
    wc_schema_table t;
    wc_status st;
    bool changed = false, found;
    size_t i;

    wc_buf_init(&enc);
    d->table_id = id;
    if ((st = wc_schema_encode(d, &enc)) != WC_OK)
        goto fail;
    if (total_bytes(s) + enc.len > WC_SCHEMA_MAX_TOTAL) {
        st = wc_error(WC_INVALID_ARGUMENT, "the cluster schema would pass %u bytes",
                      WC_SCHEMA_MAX_TOTAL);
        goto fail;
    }
    t.keyspace = d->keyspace;
    t.name = d->table;
    t.id = id;
    t.definition = enc.data;
    t.definition_len = enc.len;
    t.timestamp_us = ddl_ts(s, prev_ts);
    t.dropped = false;
    if ((st = save_state(s, &before)) != WC_OK)
        goto fail;
    if ((st = apply_tab(s, &t, true, &changed)) != WC_OK) {
        wc_buf_free(&before);
        goto fail;
    }
    if ((st = after_change(s, &before)) != WC_OK)
        goto fail;
    i = tab_search(s, d->keyspace, d->table, &found);
    push(s, NULL, 0, NULL, 0, &s->tabs[i], 1);
fail:
    wc_buf_free(&enc);
    return st;
}

wc_status wc_schema_sync_create_table(wc_schema_sync *s, const uint8_t *def, size_t len,
                                      uint32_t *id_out)
{
    wc_schema d;
    wc_status st;
    bool found;
    size_t i;
    uint32_t id = 0;
    bool proposed;

    if ((st = def_names(def, len, &d)) != WC_OK)
        goto fail;
    if (live_ks(s, d.keyspace) == NULL) {
        st = wc_error(WC_NOT_FOUND, "keyspace \"%s\" does not exist", d.keyspace);
        goto fail;
    }
    i = tab_search(s, d.keyspace, d.table, &found);
    if (found && !s->tabs[i].dropped) {
        st = wc_error(WC_EXISTS, "table \"%s.%s\" already exists", d.keyspace, d.table);
        goto fail;
    }
    /* the id the creator proposes, when free or held by this table's own tombstone */
    proposed = d.table_id != 0 && d.table_id <= WC_USER_TABLE_ID_MAX &&
               (!id_known(s, d.table_id) || (found && s->tabs[i].id == d.table_id));
    if (proposed)
        id = d.table_id;
    for (int tries = 0; !proposed && (id == 0 || id_known(s, id)); tries++) {
        if (tries == 1000) {
            st = wc_error(WC_OVERLOADED, "no free table id found");
            goto fail;
        }
        id = (uint32_t)(wc_env_random(s->env) % WC_USER_TABLE_ID_MAX) + 1;
    }
    if ((st = table_ddl(s, &d, id, found ? s->tabs[i].timestamp_us : 0)) == WC_OK && id_out != NULL)
        *id_out = id;
fail:
    wc_schema_free(&d);
    return st;
}

wc_status wc_schema_sync_alter_table(wc_schema_sync *s, const uint8_t *def, size_t len)
{
    wc_schema d;
    const wc_schema_table *t;
    wc_status st;

    if ((st = def_names(def, len, &d)) != WC_OK)
        goto fail;
    if ((t = wc_schema_sync_find_table(s, d.keyspace, d.table)) == NULL) {
        st = wc_error(WC_NOT_FOUND, "table \"%s.%s\" does not exist", d.keyspace, d.table);
        goto fail;
    }
    st = table_ddl(s, &d, t->id, t->timestamp_us);
fail:
    wc_schema_free(&d);
    return st;
}

wc_status wc_schema_sync_drop_table(wc_schema_sync *s, const char *keyspace, const char *table)
{
    const wc_schema_table *t;
    wc_status st;
    wc_buf before;
    bool found;
    size_t i;

    if (!name_valid(keyspace) || !name_valid(table) ||
        (t = wc_schema_sync_find_table(s, keyspace, table)) == NULL)
        return wc_error(WC_NOT_FOUND, "table \"%s.%s\" does not exist", keyspace ? keyspace : "",
                        table ? table : "");
    if ((st = save_state(s, &before)) != WC_OK)
        return st;
    if ((st = tombstone(s, t, wc_env_wall_us(s->env))) != WC_OK) {
        wc_buf_free(&before);
        return st;
    }
    if ((st = after_change(s, &before)) != WC_OK)
        return st;
    i = tab_search(s, keyspace, table, &found);
    push(s, NULL, 0, NULL, 0, &s->tabs[i], 1);
    return WC_OK;
}

/* ---------------------------------------------------------------- queries */

void wc_schema_sync_version(const wc_schema_sync *s, uint8_t out[WC_SCHEMA_VERSION_BYTES])
{
    memcpy(out, s->version, WC_SCHEMA_VERSION_BYTES);
}

void wc_schema_sync_version_hex(const wc_schema_sync *s, char out[2 * WC_SCHEMA_VERSION_BYTES + 1])
{
    memcpy(out, s->version_hex, sizeof(s->version_hex));
}

size_t wc_schema_sync_keyspace_count(const wc_schema_sync *s)
{
    return s->nks;
}

const wc_schema_keyspace *wc_schema_sync_keyspace(const wc_schema_sync *s, size_t i)
{
    return i < s->nks ? &s->ks[i] : NULL;
}

size_t wc_schema_sync_table_count(const wc_schema_sync *s)
{
    return s->ntabs;
}

const wc_schema_table *wc_schema_sync_table(const wc_schema_sync *s, size_t i)
{
    return i < s->ntabs ? &s->tabs[i] : NULL;
}

const wc_schema_table *wc_schema_sync_find_table(const wc_schema_sync *s, const char *keyspace,
                                                 const char *table)
{
    bool found;
    size_t i = tab_search(s, keyspace, table, &found);

    return found && !s->tabs[i].dropped && live_ks(s, keyspace) != NULL ? &s->tabs[i] : NULL;
}
