/*
 * stage.c - staged transactions (engine.h): chunks of writes logged and
 * put into memtables of the transaction's own while it runs, published to
 * their tables at once when it ends; and their replay after a crash.
 *
 * Why: a caller that sends a large statement in chunks keeps the engine
 * busy with chunk n (commit-log append, memtable inserts) while it
 * prepares chunk n + 1, and the end of the statement costs one small
 * marker record, yet readers see all of it or nothing.
 *
 * A transaction's writes of one table go into memtables of its own of
 * about memtable_bytes each (a new one starts when the last passes it, as
 * a table's active memtable is switched): a COPY of far more than that
 * otherwise fills one skiplist of its whole size, whose inserts and whose
 * flush walk deeper, colder nodes (docs/benchmarks.md).
 *
 * Publishing (wc_engine_publish, under write_mu and tables_mu): the marker
 * record is appended at position M (the replay applies the whole
 * transaction there); for each table written, the active memtable, if
 * used, becomes immutable holding the records before M; the transaction's
 * full memtables become immutable after it, in staging order (flushed
 * oldest first; reads reconcile by timestamp, whatever the order); and its
 * last memtable, if smaller than memtable_bytes, becomes the table's active
 * one (from the first chunk's position on), which later writes fill up
 * before it is flushed, as a plain COPY leaves its last memtable: a
 * statement into an idle table is not flushed on its own.  Each immutable
 * memtable of the transaction ends at M (a flush sets the table's flushed
 * position, up to which the replay skips records, to its memtable's end:
 * the transaction may be skipped only once all of it is flushed), but the
 * last one when none stays active: it ends at M + 1, where a new active
 * memtable starts.  Both happen under the table's
 * mu, where readers take their sources.  The log positions of the chunks
 * (before M) stay needed until all of it is flushed: the keep position
 * (engine_int.h) of its memtables, and the start of that active one, is the
 * transaction's first chunk, and an unpublished transaction is kept in
 * e->staged (staged_mu) so that wc__log_needed_locked sees it.
 *
 * Chunks are appended without write_mu (the commit log serializes its
 * appends): no table claims their positions, since replay applies them at
 * the marker only.  The memtables of a staged transaction are used by its
 * owner's thread alone until published.
 */
#include "engine_int.h"

#include <stdio.h>
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "coding.h"
#include "mutation.h"
#include "stage_format.h"
#include "thread.h"

/* The transaction's writes of one table: memtables of at most about
 * memtable_bytes each, oldest first; the last one takes the writes. */
typedef struct wc__stab {
    uint32_t table_id;
    wc_memtable **mems; /* entries become NULL as they are published */
    size_t nmems, capmems;
} wc__stab;

struct wc_staged {
    wc_clpos id;      /* log position of the first chunk (once logged) */
    wc_clpos keep;    /* the log is needed from here on (<= id) */
    bool logged;      /* the first chunk was appended */
    bool linked;      /* in e->staged */
    wc_status failed; /* first failure; WC_OK if none */
    char why[256];
    size_t bytes;     /* mutation bytes staged */
    size_t reserved;  /* of them, counted in e->staged_bytes (released once) */
    wc__stab *tabs;
    size_t ntabs, captabs;
    wc_buf rec;       /* the chunk record being appended */
    wc_buf key;       /* flat key scratch */
    struct wc_staged *prev, *next; /* e->staged, under staged_mu */
};

/* A transaction being replayed: its chunks' mutations in log order. */
typedef struct wc__rtxn {
    wc_clpos id;
    wc_buf body; /* the mutations, in the batch layout (bytes each) */
    uint64_t count;
} wc__rtxn;

struct wc__stage_replay {
    wc__rtxn *v;
    size_t n, cap;
};

/* ---------------------------------------------------------------- helpers */

static void wc__staged_link(wc_engine *e, wc_staged *s)
{
    pthread_mutex_lock(&e->staged_mu);
    /* registered before the first append: keep is <= that chunk's position */
    s->keep = wc_commitlog_current(e->log);
    s->prev = NULL;
    s->next = e->staged;
    if (e->staged)
        e->staged->prev = s;
    e->staged = s;
    s->linked = true;
    pthread_mutex_unlock(&e->staged_mu);
}

static void wc__staged_unlink(wc_engine *e, wc_staged *s)
{
    if (s->reserved > 0) {
        atomic_fetch_sub(&e->staged_bytes, s->reserved);
        s->reserved = 0;
    }
    if (!s->linked)
        return;
    pthread_mutex_lock(&e->staged_mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        e->staged = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->linked = false;
    pthread_mutex_unlock(&e->staged_mu);
}

wc_clpos wc__staged_needed(wc_engine *e, wc_clpos max)
{
    wc_clpos min = max;

    pthread_mutex_lock(&e->staged_mu);
    for (wc_staged *s = e->staged; s != NULL; s = s->next)
        if (wc_clpos_cmp(s->keep, min) < 0)
            min = s->keep;
    pthread_mutex_unlock(&e->staged_mu);
    return min;
}

/* Release the transaction's memtables (not yet published ones). */
static void wc__staged_drop_tabs(wc_staged *s)
{
    for (size_t i = 0; i < s->ntabs; i++) {
        for (size_t j = 0; j < s->tabs[i].nmems; j++)
            if (s->tabs[i].mems[j])
                wc_memtable_unref(s->tabs[i].mems[j]);
        wc_free(s->tabs[i].mems);
    }
    s->ntabs = 0;
}

static void wc__staged_free(wc_engine *e, wc_staged *s)
{
    wc__staged_unlink(e, s);
    wc__staged_drop_tabs(s);
    wc_free(s->tabs);
    wc_buf_free(&s->rec);
    wc_buf_free(&s->key);
    wc_free(s);
}

/* Record the first failure (st, with the current error) and let the memory go. */
static wc_status wc__staged_fail(wc_engine *e, wc_staged *s, wc_status st)
{
    s->failed = st;
    snprintf(s->why, sizeof(s->why), "%s", wc_last_error());
    wc__staged_unlink(e, s);
    wc__staged_drop_tabs(s);
    return st;
}

/* Start a new memtable for tab's writes.  WC_NO_MEMORY. */
static wc_status wc__stab_grow(wc__stab *tab)
{
    wc_status st;

    if (tab->nmems == tab->capmems) {
        size_t cap = tab->capmems ? tab->capmems * 2 : 2;
        wc_memtable **p = wc_realloc(tab->mems, cap * sizeof(*p));

        if (p == NULL)
            return wc_error(WC_NO_MEMORY, "out of memory staging writes");
        tab->mems = p;
        tab->capmems = cap;
    }
    if ((st = wc_memtable_new(&tab->mems[tab->nmems])) != WC_OK)
        return st;
    tab->nmems++;
    return WC_OK;
}

/*
 * The transaction's memtable of table_id that takes the next write (*out),
 * created on first use; once it holds limit bytes, a new one, as a table's
 * active memtable is switched at memtable_bytes: inserts and the flush
 * then walk skiplists of that size, not one of the whole statement.
 */
static wc_status wc__staged_table(wc_staged *s, uint32_t table_id, size_t limit,
                                  wc_memtable **out)
{
    wc__stab *tab = NULL;
    wc_status st;

    for (size_t i = s->ntabs; i-- > 0;)
        if (s->tabs[i].table_id == table_id) {
            tab = &s->tabs[i];
            break;
        }
    if (tab == NULL) {
        if (s->ntabs == s->captabs) {
            size_t cap = s->captabs ? s->captabs * 2 : 4;
            wc__stab *p = wc_realloc(s->tabs, cap * sizeof(*p));

            if (p == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory staging writes");
            s->tabs = p;
            s->captabs = cap;
        }
        tab = &s->tabs[s->ntabs];
        memset(tab, 0, sizeof(*tab));
        tab->table_id = table_id;
        if ((st = wc__stab_grow(tab)) != WC_OK) {
            wc_free(tab->mems);
            return st;
        }
        s->ntabs++;
    } else if (wc_memtable_memory(tab->mems[tab->nmems - 1]) >= limit &&
               (st = wc__stab_grow(tab)) != WC_OK) {
        return st;
    }
    *out = tab->mems[tab->nmems - 1];
    return WC_OK;
}

/* Put a validated batch into the transaction's memtables. */
static wc_status wc__staged_put(wc_engine *e, wc_staged *s, const uint8_t *rec, size_t len)
{
    wc_batch_view bv;
    const uint8_t *mut;
    size_t ml;
    wc_status st;

    if ((st = wc_batch_parse(rec, len, &bv)) != WC_OK)
        return st;
    while (wc_batch_next(&bv, &mut, &ml) == 1) {
        wc_memtable *m = NULL;

        wc__yield_point(); /* no lock held: a bulk worker gives way to readers */
        /* validated: ml >= 4 */
        if ((st = wc__staged_table(s, wc_dec_u32(mut), e->opts.memtable_bytes, &m)) != WC_OK ||
            (st = wc__put_mutation(m, &s->key, mut, ml, 0)) != WC_OK)
            return st;
    }
    return WC_OK;
}

/* A publish or abort marker of s into out[WC_STAGE_HEADER_SIZE]. */
static void wc__staged_marker(const wc_staged *s, uint32_t magic, uint8_t *out)
{
    wc_enc_u32(out, magic);
    wc_enc_u64(out + 4, s->id.segment);
    wc_enc_u64(out + 12, s->id.offset);
}

/* ---------------------------------------------------------------- API */

wc_status wc_engine_stage_begin(wc_engine *e, wc_staged **out)
{
    wc_staged *s = wc_calloc(1, sizeof(*s));

    (void)e;
    *out = NULL;
    if (s == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting a staged transaction");
    wc_buf_init(&s->rec);
    wc_buf_init(&s->key);
    *out = s;
    return WC_OK;
}

wc_status wc_engine_stage(wc_engine *e, wc_staged *s, const uint8_t *rec, size_t len)
{
    wc_batch_view bv;
    size_t body;
    wc_clpos pos;
    bool deltas = false;
    wc_status st;

    if (s->failed != WC_OK)
        return wc_error(WC_INVALID_ARGUMENT,
                        "an earlier chunk of this staged transaction failed: %s", s->why);
    pthread_rwlock_rdlock(&e->tables_mu);
    st = wc__validate_batch(e, rec, len, &deltas);
    pthread_rwlock_unlock(&e->tables_mu);
    if (st != WC_OK)
        return wc__staged_fail(e, s, st);
    /* the transaction cannot publish deltas it did not resolve */
    if (deltas)
        return wc__staged_fail(e, s,
                               wc_error(WC_INVALID_ARGUMENT,
                                        "counter updates cannot be staged: apply them as one "
                                        "batch"));
    /* the mutations' bytes count (not the chunks' batch headers) */
    if (wc_batch_parse(rec, len, &bv) != WC_OK)
        return wc__staged_fail(e, s, WC_INVALID_ARGUMENT);
    body = (size_t)(bv.end - bv.p);
    if (body > WC_STAGE_MAX_BYTES - s->bytes)
        return wc__staged_fail(e, s,
                               wc_error(WC_INVALID_ARGUMENT,
                                        "a staged transaction holds at most %zu MiB of writes",
                                        WC_STAGE_MAX_BYTES >> 20));
    if ((st = wc__admit_write(e)) != WC_OK)
        return wc__staged_fail(e, s, st);
    /* every connection's staged writes together: at most as much as the memtables */
    if (atomic_fetch_add(&e->staged_bytes, body) + body > e->opts.memtable_total_bytes) {
        uint64_t held = atomic_fetch_sub(&e->staged_bytes, body) - body;

        return wc__staged_fail(e, s,
                               wc_error(WC_OVERLOADED,
                                        "the node holds %" PRIu64 " MiB of staged writes not yet "
                                        "published, as much as its memtables may (%zu MiB)",
                                        held >> 20, e->opts.memtable_total_bytes >> 20));
    }
    s->reserved += body;
    wc_buf_reset(&s->rec);
    wc_buf_put_u32(&s->rec, WC_STAGE_CHUNK_MAGIC);
    wc_buf_put_u64(&s->rec, s->logged ? s->id.segment : 0);
    wc_buf_put_u64(&s->rec, s->logged ? s->id.offset : 0);
    wc_buf_append(&s->rec, rec, len);
    if ((st = wc_buf_status(&s->rec)) != WC_OK)
        return wc__staged_fail(e, s, st);
    if (!s->logged)
        wc__staged_link(e, s);
    if ((st = wc_commitlog_append(e->log, s->rec.data, s->rec.len, &pos)) != WC_OK)
        return wc__staged_fail(e, s, st);
    if (!s->logged) {
        s->id = pos;
        s->logged = true;
    }
    s->bytes += body;
    if ((st = wc__staged_put(e, s, rec, len)) != WC_OK)
        return wc__staged_fail(e, s, st);
    return WC_OK;
}

wc_status wc_engine_publish(wc_engine *e, wc_staged *s)
{
    uint8_t marker[WC_STAGE_HEADER_SIZE];
    wc_memtable **fresh = NULL;
    wc__table **ts = NULL;
    wc_clpos pos = {0, 0};
    wc_status st = WC_OK;

    if (s->failed != WC_OK) {
        st = wc_error(WC_INVALID_ARGUMENT,
                      "cannot publish: a chunk of this staged transaction failed: %s", s->why);
        goto done;
    }
    if (!s->logged || s->ntabs == 0)
        goto done; /* nothing staged */
    fresh = wc_calloc(s->ntabs, sizeof(*fresh));
    ts = wc_calloc(s->ntabs, sizeof(*ts));
    if (fresh == NULL || ts == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory publishing a staged transaction");
        goto done;
    }
    /* everything that can fail comes before the marker */
    for (size_t i = 0; i < s->ntabs && st == WC_OK; i++)
        st = wc_memtable_new(&fresh[i]);
    if (st != WC_OK)
        goto done;
    wc__staged_marker(s, WC_STAGE_PUBLISH_MAGIC, marker);
    pthread_mutex_lock(&e->write_mu);
    pthread_rwlock_rdlock(&e->tables_mu);
    for (size_t i = 0; i < s->ntabs && st == WC_OK; i++) {
        ts[i] = wc__engine_find_table(e, s->tabs[i].table_id); /* NULL: dropped meanwhile */
        if (ts[i] != NULL) {
            pthread_mutex_lock(&ts[i]->mu);
            st = wc__imm_reserve(ts[i], 1 + s->tabs[i].nmems);
            pthread_mutex_unlock(&ts[i]->mu);
        }
    }
    for (size_t i = 0; i < s->ntabs; i++)
        wc__notify_change(e, NULL, 0, s->tabs[i].table_id, false);
    if (st == WC_OK)
        st = wc_commitlog_append(e->log, marker, sizeof(marker), &pos);
    for (size_t i = 0; i < s->ntabs && st == WC_OK; i++) {
        wc__table *t = ts[i];
        wc__stab *tab = &s->tabs[i];
        wc_clpos end = {pos.segment, pos.offset + 1};
        wc_memtable *tail = tab->mems[tab->nmems - 1], *unused = NULL;
        size_t tail_bytes = wc_memtable_memory(tail), moved = 0, added = 0;
        /* the last one, not full, is the table's active memtable from now on */
        bool tail_active = tail_bytes < e->opts.memtable_bytes;
        size_t nimm = tab->nmems - (tail_active ? 1 : 0);

        if (t == NULL)
            continue;
        pthread_mutex_lock(&t->mu);
        if (t->active_used) {
            moved = wc__imm_push_active(t, fresh[i], pos, 0); /* serial below */
            fresh[i] = NULL;
        }
        /*
         * The full ones, in staging order after the records before M (flushed
         * oldest first).  Only the last of the transaction to be flushed may
         * end at M + 1: a flush sets the table's flushed position to its end,
         * and the replay skips the transaction (applied at M) once that
         * position is past M, though some of its memtables were not flushed.
         */
        for (size_t j = 0; j < nimm; j++) {
            wc__imm *imm = &t->imm[t->nimm++];

            imm->mem = tab->mems[j]; /* the list takes our reference */
            imm->start = pos;
            imm->end = !tail_active && j == nimm - 1 ? end : pos;
            imm->keep = s->keep;
            imm->bytes = wc_memtable_memory(tab->mems[j]);
            imm->serial = wc__next_serial(e);
            t->table_wide = imm->serial; /* any partition of the table may be in it */
            added += imm->bytes;
            tab->mems[j] = NULL;
        }
        if (tail_active) {
            /* later writes fill it up before it is flushed (a statement into an idle
             * table is not flushed on its own); the log from the first chunk on */
            unused = t->active;
            t->active = tail;
            t->active_start = s->keep;
            t->active_used = true;
            t->active_acct = tail_bytes;
            tab->mems[tab->nmems - 1] = NULL;
        } else {
            t->active_start = end;
        }
        /* the active memtable stays the newest: its serial after the staged ones */
        t->active_serial = wc__next_serial(e);
        if (tail_active)
            t->table_wide = t->active_serial;
        wc__publish_table(e, t);
        pthread_mutex_unlock(&t->mu);
        if (tail_active) {
            atomic_fetch_add(&e->mem_active, tail_bytes);
            wc_memtable_unref(unused);
        }
        if (moved + added > 0)
            wc__imm_accounted(e, moved, added);
    }
    /* the immutable memtables keep the chunks' log from here on */
    wc__staged_unlink(e, s);
    pthread_rwlock_unlock(&e->tables_mu);
    pthread_mutex_unlock(&e->write_mu);
    for (size_t i = 0; i < s->ntabs; i++)
        wc__notify_change(e, NULL, 0, s->tabs[i].table_id, true);
    if (st == WC_OK)
        st = wc_commitlog_sync_to(e->log, pos);
done:
    if (fresh != NULL)
        for (size_t i = 0; i < s->ntabs; i++)
            if (fresh[i] != NULL)
                wc_memtable_unref(fresh[i]);
    wc_free(fresh);
    wc_free(ts);
    wc__staged_free(e, s);
    return st;
}

void wc_engine_stage_abort(wc_engine *e, wc_staged *s)
{
    uint8_t marker[WC_STAGE_HEADER_SIZE];
    wc_clpos pos;

    if (s == NULL)
        return;
    if (s->logged) {
        /* lets replay forget the chunks at once; without it they are dropped at the end */
        wc__staged_marker(s, WC_STAGE_ABORT_MAGIC, marker);
        if (wc_commitlog_append(e->log, marker, sizeof(marker), &pos) != WC_OK)
            wc_clear_error();
    }
    wc__staged_free(e, s);
}

/* ---------------------------------------------------------------- replay */

/* The replayed transaction named id, or NULL. */
static wc__rtxn *wc__rtxn_find(wc__stage_replay *r, wc_clpos id)
{
    for (size_t i = 0; r != NULL && i < r->n; i++)
        if (wc_clpos_cmp(r->v[i].id, id) == 0)
            return &r->v[i];
    return NULL;
}

static void wc__rtxn_remove(wc__stage_replay *r, wc__rtxn *x)
{
    wc_buf_free(&x->body);
    *x = r->v[--r->n];
}

wc_status wc__stage_replay_record(wc_engine *e, wc__stage_replay **state, wc_clpos pos,
                                  const uint8_t *rec, size_t len, bool *handled)
{
    wc__stage_replay *r = *state;
    uint32_t magic;
    wc_clpos id;
    wc__rtxn *x;
    wc_status st;

    *handled = false;
    if (len < 4)
        return WC_OK;
    magic = wc_dec_u32(rec);
    if (magic != WC_STAGE_CHUNK_MAGIC && magic != WC_STAGE_PUBLISH_MAGIC &&
        magic != WC_STAGE_ABORT_MAGIC)
        return WC_OK; /* a plain batch */
    *handled = true;
    if (len < WC_STAGE_HEADER_SIZE ||
        (magic != WC_STAGE_CHUNK_MAGIC && len != WC_STAGE_HEADER_SIZE))
        goto corrupt;
    id.segment = wc_dec_u64(rec + 4);
    id.offset = wc_dec_u64(rec + 12);
    if (magic == WC_STAGE_CHUNK_MAGIC) {
        const uint8_t *batch = rec + WC_STAGE_HEADER_SIZE;
        size_t blen = len - WC_STAGE_HEADER_SIZE;
        wc_batch_view bv;

        if (wc__replay_check(batch, blen) != WC_OK ||
            wc_batch_parse(batch, blen, &bv) != WC_OK)
            goto corrupt;
        if (id.segment != 0 || id.offset != 0) {
            /* a later chunk: without the first one (flushed and retired) it is not replayed */
            if ((x = wc__rtxn_find(r, id)) == NULL)
                return WC_OK;
        } else {
            id = pos; /* the first chunk names the transaction */
            if (r == NULL && (r = *state = wc_calloc(1, sizeof(*r))) == NULL)
                return wc_error(WC_NO_MEMORY, "out of memory replaying staged writes");
            if (r->n == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 4;
                wc__rtxn *p = wc_realloc(r->v, cap * sizeof(*p));

                if (p == NULL)
                    return wc_error(WC_NO_MEMORY, "out of memory replaying staged writes");
                r->v = p;
                r->cap = cap;
            }
            x = &r->v[r->n++];
            x->id = id;
            x->count = 0;
            wc_buf_init(&x->body);
        }
        wc_buf_append(&x->body, bv.p, (size_t)(bv.end - bv.p));
        x->count += bv.count;
        return wc_buf_status(&x->body);
    }
    if ((x = wc__rtxn_find(r, id)) == NULL)
        return WC_OK; /* its chunks were flushed and retired (publish), or never came back */
    if (magic == WC_STAGE_PUBLISH_MAGIC) {
        wc_buf whole;

        wc_buf_init(&whole);
        if (x->count > UINT32_MAX) {
            wc_buf_free(&whole);
            goto corrupt;
        }
        wc_batch_begin(&whole, (uint32_t)x->count);
        wc_buf_append(&whole, x->body.data, x->body.len);
        st = wc_buf_status(&whole);
        if (st == WC_OK)
            st = wc__apply_batch_mem(e, whole.data, whole.len, pos, true);
        wc_buf_free(&whole);
        wc__rtxn_remove(r, x);
        return st;
    }
    wc__rtxn_remove(r, x); /* aborted */
    return WC_OK;
corrupt:
    return wc_error(WC_CORRUPTION,
                    "commit-log record at segment %llu offset %llu passes its checksum but is "
                    "not a valid staged-transaction record",
                    (unsigned long long)pos.segment, (unsigned long long)pos.offset);
}

void wc__stage_replay_end(wc__stage_replay **state, uint64_t *dropped)
{
    wc__stage_replay *r = *state;

    *dropped = 0;
    if (r == NULL)
        return;
    *dropped = r->n;
    while (r->n > 0)
        wc__rtxn_remove(r, &r->v[r->n - 1]);
    wc_free(r->v);
    wc_free(r);
    *state = NULL;
}
