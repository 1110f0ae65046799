/*
 * schema_runtime.c - the cluster schema of a running node: the store on
 * the loop, its file, the backends' requests and the engine thread that
 * makes the engine follow the schema (contract in schema_runtime.h).
 *
 * Threads: the store lives on the loop.  A node worker serving a request
 * posts a call to the loop and waits on the call's condition variable;
 * the call is reference-counted (the worker and the loop), so a worker
 * that gives up waiting leaves it to the loop to free.  rt->mu guards the
 * listing served to backends, the engine thread's queue (only the newest
 * listing matters) and the applied version.
 */
#include "schema_runtime.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "fs.h"
#include "protocol.h"
#include "schema_def.h"
#include "schema_sync.h"
#include "table_options.h"

#define WC__CALL_MARGIN_MS 10000 /* a call's loop part gets this long past its wait */

struct wc_schema_runtime {
    wc_env *env;
    wc_fs *fs;             /* the schema file's (not owned) */
    wc_schema_sync *store; /* loop only */
    wc_engine *engine;
    char path[4096];
    wc_log_fn log;
    void *log_arg;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    wc_buf listing;     /* full PUSH of the current store */
    uint8_t version[WC_SCHEMA_VERSION_BYTES];
    uint8_t *pending;   /* listing for the engine thread; NULL: nothing new */
    size_t pending_len;
    char applied[2 * WC_SCHEMA_VERSION_BYTES + 1];
    bool quit;
    bool thread_started;
    pthread_t thread;
    wc_schema_follow_fn follow; /* under mu: read by the engine thread */
    void *follow_arg;
};

typedef struct wc__call {
    wc_schema_runtime *rt;
    wc_proto_schema_change req; /* byte fields point into copy */
    uint8_t *copy;
    uint64_t started_ms;
    wc_status st;
    char err[512];
    wc_proto_schema_result res;
    int refs;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wc__call;

/* ---------------------------------------------------------------- helpers */

static void wc__log(wc_schema_runtime *rt, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wc__log(wc_schema_runtime *rt, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (rt->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    rt->log(rt->log_arg, level, line);
}

/* A NUL-terminated copy of p[0..len) (NULL when out of memory or p holds a NUL). */
static char *wc__cstr(const uint8_t *p, size_t len)
{
    char *s;

    if (len && memchr(p, 0, len))
        return NULL;
    if ((s = wc_malloc(len + 1)) == NULL)
        return NULL;
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static void wc__hex(const uint8_t *v, char out[2 * WC_SCHEMA_VERSION_BYTES + 1])
{
    for (int i = 0; i < WC_SCHEMA_VERSION_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", v[i]);
}

/* ---------------------------------------------------------------- the engine thread */

/* The engine definition of a stored table: id, "keyspace.table", options of its schema. */
static wc_status wc__engine_def(const wc_schema_table *t, const wc_schema *s, wc_table_def *def)
{
    size_t off = 0;

    wc_table_def_default(def);
    def->id = t->id;
    if ((size_t)snprintf(def->name, sizeof(def->name), "%s.%s", t->keyspace, t->name) >=
        sizeof(def->name))
        return wc_error(WC_INVALID_ARGUMENT, "table name \"%s.%s\" is too long", t->keyspace,
                        t->name);
    def->gc_grace_seconds = s->gc_grace_seconds;
    def->default_ttl = s->default_ttl;
    def->schema = (uint8_t *)t->definition;
    def->schema_len = t->definition_len;
    for (size_t i = 0; i < s->ncompaction && off < sizeof(def->compaction); i++)
        off += (size_t)snprintf(def->compaction + off, sizeof(def->compaction) - off, "%s'%s': %s",
                                i ? ", " : "{", s->compaction[i].name, s->compaction[i].value);
    if (s->ncompaction && off < sizeof(def->compaction))
        off += (size_t)snprintf(def->compaction + off, sizeof(def->compaction) - off, "}");
    if (off >= sizeof(def->compaction))
        return wc_error(WC_INVALID_ARGUMENT, "the compaction map of \"%s\" is too long", def->name);
    return WC_OK;
}

static bool wc__same_replication(const wc_replication *a, const wc_replication *b)
{
    if (a->cls != b->cls)
        return false;
    if (a->cls == WC_REPL_SIMPLE)
        return a->replication_factor == b->replication_factor;
    if (a->ndcs != b->ndcs)
        return false;
    for (uint32_t i = 0; i < a->ndcs; i++)
        if (strcmp(a->dcs[i].name, b->dcs[i].name) != 0 || a->dcs[i].factor != b->dcs[i].factor)
            return false;
    return true;
}

/*
 * A table entry keeps the replication its keyspace had when the table was
 * created or last altered: an ALTER of the keyspace changes no table entry.
 * Re-encode s with the keyspace's replication kr into buf when they differ
 * (*changed), so the engine table (whose replication the coordinator uses)
 * follows the keyspace.
 */
static wc_status wc__keyspace_replication(wc_schema *s, const wc_replication *kr, wc_buf *buf,
                                          bool *changed)
{
    wc_schema_replica reps[WC_REPL_MAX_DCS];
    wc_replication have;

    *changed = false;
    if (wc_schema_replication(s, &have) == WC_OK && wc__same_replication(&have, kr))
        return WC_OK;
    wc_clear_error();
    if (kr->cls == WC_REPL_SIMPLE) {
        s->replication_class = "SimpleStrategy";
        reps[0].dc = NULL;
        reps[0].factor = kr->replication_factor;
        s->nreplicas = 1;
    } else {
        s->replication_class = "NetworkTopologyStrategy";
        for (uint32_t i = 0; i < kr->ndcs; i++) {
            reps[i].dc = kr->dcs[i].name;
            reps[i].factor = kr->dcs[i].factor;
        }
        s->nreplicas = kr->ndcs;
    }
    s->replicas = reps;
    *changed = true;
    return wc_schema_encode(s, buf); /* reps are used only here */
}

/* Tell the follow hook (if any) that the engine followed table_id. */
static void wc__followed(wc_schema_runtime *rt, uint32_t table_id, bool dropped)
{
    wc_schema_follow_fn fn;
    void *arg;

    pthread_mutex_lock(&rt->mu);
    fn = rt->follow;
    arg = rt->follow_arg;
    pthread_mutex_unlock(&rt->mu);
    if (fn)
        fn(arg, table_id, dropped);
}

/* Make the engine hold table t as stored: create it, or alter it when its definition differs. */
static void wc__follow_table(wc_schema_runtime *rt, const wc_schema_table *t,
                             const wc_replication *ks_repl)
{
    wc_schema s;
    wc_table_def def, have;
    wc_buf enc;
    bool changed = false;
    wc_status st;

    memset(&s, 0, sizeof(s));
    wc_buf_init(&enc);
    if ((st = wc_schema_decode(t->definition, t->definition_len, &s)) != WC_OK ||
        (st = wc__engine_def(t, &s, &def)) != WC_OK ||
        (st = wc__keyspace_replication(&s, ks_repl, &enc, &changed)) != WC_OK)
        goto fail;
    if (changed) {
        def.schema = enc.data;
        def.schema_len = enc.len;
    }
    st = wc_engine_get_table(rt->engine, t->id, &have);
    if (st == WC_NOT_FOUND) {
        wc_clear_error();
        if ((st = wc_engine_create_table(rt->engine, &def)) == WC_OK)
            wc__log(rt, WC_LOG_INFO, "schema: created engine table %s (id %u)", def.name, t->id);
    } else if (st == WC_OK) {
        bool same = have.schema_len == def.schema_len &&
                    (def.schema_len == 0 || memcmp(have.schema, def.schema, def.schema_len) == 0);
        if (strcmp(have.name, def.name) != 0) {
            wc__log(rt, WC_LOG_WARNING,
                    "schema: engine table id %u is \"%s\" here, not \"%s\" as in the cluster "
                    "schema: left alone",
                    t->id, have.name, def.name);
            same = true;
        }
        wc_table_def_clear(&have);
        if (!same)
            st = wc_engine_alter_table(rt->engine, &def);
    }
    if (st == WC_OK)
        wc__followed(rt, t->id, false);
fail:
    if (st != WC_OK)
        wc__log(rt, WC_LOG_WARNING, "schema: engine table %s.%s (id %u) could not follow the "
                                    "cluster schema: %s",
                t->keyspace, t->name, t->id, wc_last_error());
    wc_schema_free(&s);
    wc_buf_free(&enc);
}

/*
 * A dropped table: its engine data goes too when its relation was a table
 * of an access method (CREATE TABLE ... USING widecol); a foreign table's
 * data stays, as on a single node.  Only the engine table of the same id
 * and name, whose own record says so, is dropped.
 */
static void wc__follow_drop(wc_schema_runtime *rt, const wc_schema_table *t)
{
    wc_table_def have;
    wc_schema s;
    char name[sizeof(have.name)];
    bool drop;
    wc_status st;

    if (wc_engine_get_table(rt->engine, t->id, &have) != WC_OK) {
        wc_clear_error();
        return;
    }
    memset(&s, 0, sizeof(s));
    snprintf(name, sizeof(name), "%s.%s", t->keyspace, t->name);
    drop = strcmp(have.name, name) == 0 && have.schema_len > 0 &&
           wc_schema_decode(have.schema, have.schema_len, &s) == WC_OK && s.owner.present &&
           s.owner.access_method != NULL && s.owner.access_method[0] != '\0';
    wc_schema_free(&s);
    wc_table_def_clear(&have);
    wc_clear_error();
    wc__followed(rt, t->id, true);
    if (!drop)
        return;
    if ((st = wc_engine_drop_table(rt->engine, t->id)) == WC_OK)
        wc__log(rt, WC_LOG_INFO, "schema: dropped engine table %s (id %u) with its table", name,
                t->id);
    else if (st != WC_NOT_FOUND)
        wc__log(rt, WC_LOG_WARNING, "schema: engine table %s (id %u) could not be dropped: %s",
                name, t->id, wc_last_error());
}

/* Make the engine follow a listing; returns its version as applied. */
static void wc__follow(wc_schema_runtime *rt, const uint8_t *push, size_t len,
                       char applied[2 * WC_SCHEMA_VERSION_BYTES + 1])
{
    wc_schema_msg m;

    if (wc_schema_msg_decode(push, len, &m) != WC_OK) {
        wc__log(rt, WC_LOG_WARNING, "schema: could not read the listing: %s", wc_last_error());
        wc_schema_msg_free(&m);
        return;
    }
    for (size_t i = 0; i < m.ntables; i++) {
        const wc_schema_table *t = &m.tables[i];
        const wc_replication *ks_repl = NULL;
        if (t->dropped) {
            wc__follow_drop(rt, t);
            continue;
        }
        for (size_t k = 0; k < m.nkeyspaces; k++)
            if (strcmp(m.keyspaces[k].name, t->keyspace) == 0 && !m.keyspaces[k].dropped)
                ks_repl = &m.keyspaces[k].replication;
        if (ks_repl)
            wc__follow_table(rt, t, ks_repl);
    }
    wc__hex(m.version, applied);
    wc_schema_msg_free(&m);
}

static void *wc__engine_main(void *arg)
{
    wc_schema_runtime *rt = arg;
    uint8_t *work;
    size_t len;
    char applied[2 * WC_SCHEMA_VERSION_BYTES + 1];

    pthread_mutex_lock(&rt->mu);
    for (;;) {
        while (!rt->quit && rt->pending == NULL)
            pthread_cond_wait(&rt->cv, &rt->mu);
        if (rt->quit)
            break;
        work = rt->pending;
        len = rt->pending_len;
        rt->pending = NULL;
        pthread_mutex_unlock(&rt->mu);
        applied[0] = '\0';
        wc__follow(rt, work, len, applied);
        wc_free(work);
        pthread_mutex_lock(&rt->mu);
        if (applied[0])
            memcpy(rt->applied, applied, sizeof(applied));
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* ---------------------------------------------------------------- persistence (loop) */

/* Refresh the listing and hand it to the engine thread. */
static wc_status hand_listing(wc_schema_runtime *rt, wc_schema_sync *s)
{
    wc_buf push;
    uint8_t *copy;
    wc_status st;

    wc_buf_init(&push);
    if ((st = wc_schema_sync_encode_push(s, &push)) != WC_OK ||
        (copy = wc_malloc(push.len)) == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory listing the schema");
        wc_env_logf(rt->env, WC_ENV_LOG_WARNING, "schema: %s", wc_last_error());
        goto done;
    }
    memcpy(copy, push.data, push.len);
    pthread_mutex_lock(&rt->mu);
    wc_buf_reset(&rt->listing);
    wc_buf_append(&rt->listing, push.data, push.len);
    wc_schema_sync_version(s, rt->version);
    wc_free(rt->pending);
    rt->pending = copy;
    rt->pending_len = push.len;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
done:
    wc_buf_free(&push);
    return st;
}

/*
 * on_persist: write the file, then hand the listing to the engine thread.
 * A failed write is returned: the store undoes the change, so nothing is
 * acknowledged that a restart would forget.
 */
static wc_status wc__persist(void *ctx, wc_schema_sync *s)
{
    wc_schema_runtime *rt = ctx;
    wc_buf file;
    wc_status st;

    wc_buf_init(&file);
    if ((st = wc_schema_sync_encode(s, &file)) != WC_OK ||
        (st = wc_fs_write_atomic(rt->fs, rt->path, file.data, file.len)) != WC_OK) {
        st = wc_error(st, "could not write \"%s\": %s", rt->path, wc_last_error());
        wc_env_logf(rt->env, WC_ENV_LOG_WARNING, "schema: %s", wc_last_error());
    }
    wc_buf_free(&file);
    return st != WC_OK ? st : hand_listing(rt, s);
}

static void wc__id_clash(void *ctx, const char *keyspace, const char *table, uint32_t old_id,
                         uint32_t new_id)
{
    wc_schema_runtime *rt = ctx;

    wc_env_logf(rt->env, WC_ENV_LOG_WARNING,
                "schema: table %s.%s had the id %u of another table and now has id %u", keyspace,
                table, old_id, new_id);
}

/* ---------------------------------------------------------------- API */

wc_status wc_schema_runtime_create(wc_env *env, wc_gossip *g, const char *data_dir, wc_engine *e,
                                   wc_log_fn log, void *log_arg, wc_schema_runtime **out)
{
    return wc_schema_runtime_create_fs(NULL, env, g, data_dir, e, log, log_arg, out);
}

wc_status wc_schema_runtime_create_fs(wc_fs *fs, wc_env *env, wc_gossip *g, const char *data_dir,
                                      wc_engine *e, wc_log_fn log, void *log_arg,
                                      wc_schema_runtime **out)
{
    wc_schema_runtime *rt;
    wc_schema_sync_options so;
    wc_schema_sync_listener l;
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    bool exists = false;
    wc_status st;

    *out = NULL;
    if (fs == NULL)
        fs = wc_fs_posix();
    if ((rt = wc_calloc(1, sizeof(*rt))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting the cluster schema");
    rt->fs = fs;
    rt->env = env;
    rt->engine = e;
    rt->log = log;
    rt->log_arg = log_arg;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    wc_buf_init(&rt->listing);
    if ((size_t)snprintf(rt->path, sizeof(rt->path), "%s/%s", data_dir, WC_SCHEMA_RUNTIME_FILE) >=
        sizeof(rt->path)) {
        st = wc_error(WC_INVALID_ARGUMENT, "cluster schema: the data directory path is too long");
        goto fail;
    }
    if ((st = fs->exists(fs, rt->path, &exists)) != WC_OK ||
        (exists && (st = wc_fs_read_all(fs, rt->path, WC_SCHEMA_RUNTIME_MAX_FILE, &saved,
                                        &saved_len)) != WC_OK))
        goto fail;
    wc_schema_sync_options_default(&so);
    if ((st = wc_schema_sync_create(env, g, &so, saved, saved_len, &rt->store)) != WC_OK) {
        if (st == WC_CORRUPTION)
            st = wc_error(st, "the cluster schema file \"%s\" is damaged (%s): move it away and "
                              "the node fetches the schema from its peers",
                          rt->path, wc_last_error());
        goto fail;
    }
    memset(&l, 0, sizeof(l));
    l.on_persist = wc__persist;
    l.on_id_clash = wc__id_clash;
    l.ctx = rt;
    if ((st = wc_schema_sync_add_listener(rt->store, &l)) != WC_OK)
        goto fail;
    if (pthread_create(&rt->thread, NULL, wc__engine_main, rt) != 0) {
        st = wc_error(WC_NO_MEMORY, "cluster schema: could not start the engine thread");
        goto fail;
    }
    rt->thread_started = true;
    (void)hand_listing(rt, rt->store); /* the engine follows what was saved */
    wc_free(saved);
    *out = rt;
    return WC_OK;
fail:
    wc_free(saved);
    wc_schema_runtime_destroy(rt);
    return st;
}

void wc_schema_runtime_destroy(wc_schema_runtime *rt)
{
    if (rt == NULL)
        return;
    if (rt->store)
        wc_schema_sync_destroy(rt->store);
    if (rt->thread_started) {
        pthread_mutex_lock(&rt->mu);
        rt->quit = true;
        pthread_cond_signal(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->thread, NULL);
    }
    wc_free(rt->pending);
    wc_buf_free(&rt->listing);
    pthread_mutex_destroy(&rt->mu);
    pthread_cond_destroy(&rt->cv);
    wc_free(rt);
}

void wc_schema_runtime_on_message(void *rt, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc_schema_sync_on_message(((wc_schema_runtime *)rt)->store, from, msg, len);
}

void wc_schema_runtime_applied_version(wc_schema_runtime *rt, char out[33])
{
    out[0] = '\0';
    if (rt == NULL)
        return;
    pthread_mutex_lock(&rt->mu);
    memcpy(out, rt->applied, sizeof(rt->applied));
    pthread_mutex_unlock(&rt->mu);
}

wc_status wc_schema_runtime_listing(wc_schema_runtime *rt, wc_buf *out)
{
    pthread_mutex_lock(&rt->mu);
    wc_buf_append(out, rt->listing.data, rt->listing.len);
    pthread_mutex_unlock(&rt->mu);
    return wc_buf_status(out);
}

/* ---------------------------------------------------------------- requests */

static void wc__call_release(wc__call *k)
{
    bool last;

    pthread_mutex_lock(&k->mu);
    last = --k->refs == 0;
    pthread_mutex_unlock(&k->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    wc_free(k->copy);
    wc_free(k);
}

/* The loop's part is over: hand the result to the worker. */
static void wc__call_finish(wc__call *k, wc_status st)
{
    pthread_mutex_lock(&k->mu);
    k->st = st;
    if (st != WC_OK)
        snprintf(k->err, sizeof(k->err), "%s", wc_last_error());
    k->res.waited_ms = (uint32_t)(wc_env_now_ms(k->rt->env) - k->started_ms);
    k->done = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    wc__call_release(k);
}

static void wc__wait_done(void *arg, wc_status st, const wc_addr *disagreeing, size_t n)
{
    wc__call *k = arg;

    k->res.agreed = st == WC_OK;
    k->res.nlaggards = (uint32_t)n;
    for (size_t i = 0; i < n && i < WC_SCHEMA_MAX_LAGGARDS; i++)
        wc_addr_format(&disagreeing[i], k->res.laggards[i], sizeof(k->res.laggards[i]));
    wc__call_finish(k, WC_OK);
}

/* Apply one change to the store (on the loop). */
static wc_status wc__apply(wc__call *k)
{
    wc_schema_sync *s = k->rt->store;
    const wc_proto_schema_change *c = &k->req;
    bool is_def = c->kind == WC_SCHEMA_CHANGE_CREATE_TABLE || c->kind == WC_SCHEMA_CHANGE_ALTER_TABLE;
    char *a = is_def ? wc__cstr(NULL, 0) : wc__cstr(c->a, c->alen);
    char *b = wc__cstr(c->b, c->blen), *o = wc__cstr(c->c, c->clen);
    wc_replication r;
    wc_status st = WC_OK;

    if (!a || !b || !o) {
        st = wc_error(WC_INVALID_ARGUMENT, "a schema change holds a NUL byte or memory ran out");
        goto done;
    }
    switch (c->kind) {
    case WC_SCHEMA_CHANGE_CREATE_KEYSPACE:
    case WC_SCHEMA_CHANGE_ALTER_KEYSPACE:
        if ((st = wc_replication_parse(b, &r)) != WC_OK)
            break;
        st = c->kind == WC_SCHEMA_CHANGE_CREATE_KEYSPACE
                 ? wc_schema_sync_create_keyspace(s, a, &r, o)
                 : wc_schema_sync_alter_keyspace(s, a, &r);
        break;
    case WC_SCHEMA_CHANGE_DROP_KEYSPACE:
        st = wc_schema_sync_drop_keyspace(s, a);
        break;
    case WC_SCHEMA_CHANGE_CREATE_TABLE:
        st = wc_schema_sync_create_table(s, c->a, c->alen, &k->res.table_id);
        break;
    case WC_SCHEMA_CHANGE_ALTER_TABLE:
        st = wc_schema_sync_alter_table(s, c->a, c->alen);
        break;
    case WC_SCHEMA_CHANGE_DROP_TABLE:
        st = wc_schema_sync_drop_table(s, a, b);
        break;
    default: /* WC_SCHEMA_CHANGE_WAIT */
        break;
    }
done:
    wc_free(a);
    wc_free(b);
    wc_free(o);
    return st;
}

static void wc__call_on_loop(void *arg)
{
    wc__call *k = arg;
    wc_status st;

    k->started_ms = wc_env_now_ms(k->rt->env);
    st = wc__apply(k);

    if (st == WC_OK && k->req.wait_ms > 0 &&
        (st = wc_schema_sync_wait_agreement(k->rt->store, k->req.wait_ms, wc__wait_done, k)) ==
            WC_OK)
        return; /* wc__wait_done finishes */
    if (st == WC_OK) {
        k->res.nlaggards = (uint32_t)wc_schema_sync_disagreeing(k->rt->store, NULL, 0);
        k->res.agreed = k->res.nlaggards == 0;
    }
    wc__call_finish(k, st);
}

/* Post a change to the loop and wait for its answer (bounded). */
static wc_status wc__change(wc_schema_runtime *rt, const wc_proto_schema_change *c,
                            wc_proto_schema_result *res)
{
    wc__call *k = wc_calloc(1, sizeof(*k));
    size_t total = c->alen + c->blen + c->clen;
    struct timespec deadline;
    uint32_t wait = c->wait_ms < WC_SCHEMA_RUNTIME_MAX_WAIT_MS ? c->wait_ms
                                                                : WC_SCHEMA_RUNTIME_MAX_WAIT_MS;
    wc_status st;

    if (k == NULL || (k->copy = wc_malloc(total ? total : 1)) == NULL) {
        wc_free(k);
        return wc_error(WC_NO_MEMORY, "out of memory serving a schema change");
    }
    k->rt = rt;
    k->req = *c;
    k->req.wait_ms = wait;
    memcpy(k->copy, c->a, c->alen);
    memcpy(k->copy + c->alen, c->b, c->blen);
    memcpy(k->copy + c->alen + c->blen, c->c, c->clen);
    k->req.a = k->copy;
    k->req.b = k->copy + c->alen;
    k->req.c = k->copy + c->alen + c->blen;
    k->refs = 2;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (wait + WC__CALL_MARGIN_MS) / 1000;
    if ((st = rt->env->ops->post(rt->env, wc__call_on_loop, k)) != WC_OK) {
        k->refs = 1;
        wc__call_release(k);
        return wc_error(st, "the cluster runtime has stopped");
    }
    pthread_mutex_lock(&k->mu);
    while (!k->done)
        if (pthread_cond_timedwait(&k->cv, &k->mu, &deadline) != 0 && !k->done)
            break;
    if (k->done) {
        st = k->st;
        *res = k->res;
        if (st != WC_OK)
            st = wc_error(st, "%s", k->err);
    } else
        st = wc_error(WC_TIMEOUT, "the cluster runtime did not apply the schema change in time");
    pthread_mutex_unlock(&k->mu);
    wc__call_release(k);
    return st;
}

wc_status wc_schema_runtime_serve(wc_schema_runtime *rt, uint8_t op, const uint8_t *body,
                                  size_t len, wc_buf *out)
{
    wc_status st;

    if (op == WC_OP_SCHEMA_CHANGE) {
        wc_proto_schema_change c;
        wc_proto_schema_result res;
        if ((st = wc_proto_get_schema_change(body, len, &c)) != WC_OK)
            return st;
        if (rt == NULL)
            return wc_error(WC_UNAVAILABLE, "this node runs no cluster (widecol.listen_address "
                                            "is not set)");
        memset(&res, 0, sizeof(res));
        if ((st = wc__change(rt, &c, &res)) == WC_OK)
            wc_proto_put_schema_result(out, &res);
        return st;
    } else {
        const uint8_t *known;
        size_t known_len;
        if ((st = wc_proto_get_schema_list(body, len, &known, &known_len)) != WC_OK)
            return st;
        if (rt == NULL) {
            wc_proto_put_schema_listing(out, 0, NULL, 0);
            return WC_OK;
        }
        pthread_mutex_lock(&rt->mu);
        if (known_len == WC_SCHEMA_VERSION_BYTES && memcmp(known, rt->version, known_len) == 0)
            wc_proto_put_schema_listing(out, WC_SCHEMA_LISTF_CLUSTER | WC_SCHEMA_LISTF_UNCHANGED,
                                        NULL, 0);
        else
            wc_proto_put_schema_listing(out, WC_SCHEMA_LISTF_CLUSTER, rt->listing.data,
                                        rt->listing.len);
        pthread_mutex_unlock(&rt->mu);
        return wc_buf_status(out);
    }
}

void wc_schema_runtime_set_follow(wc_schema_runtime *rt, wc_schema_follow_fn fn, void *arg)
{
    pthread_mutex_lock(&rt->mu);
    rt->follow = fn;
    rt->follow_arg = arg;
    pthread_mutex_unlock(&rt->mu);
}
