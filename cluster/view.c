/*
 * view.c - materialized views kept on base writes (view.h).
 *
 * The recipe (the WC_VIEW_PROPERTY value) is words separated by spaces:
 *
 *   base=<table id>        the base table
 *   bpk=<codec>,...        the base's partition-key components, in order
 *   bck=<codec>,...        its clustering components (may be empty)
 *   pk=<source>,...        the view's partition-key components
 *   ck=<source>,...        its clustering components (may be empty)
 *   x=<cell>:<xcodec>      the view key cell, if the view has one
 *   where=<cond>,...       conditions on base rows (may be absent)
 *
 * codec: f<n> (n fixed bytes) or e (escaped, ended by 0x00 0x00), with a
 * d suffix for a DESC (complemented) base clustering column.  source: p<i>
 * or c<i> (the base's i-th partition or clustering component) or x (the
 * view key cell), with a d suffix for a DESC view clustering column.
 * xcodec (the cell's value image to its key encoding): b (boolean), i2,
 * i4, i8 (native integers of 2, 4, 8 bytes: also date, time, timestamps),
 * u (16 raw bytes), s (text, varchar, bytea).  cond: n<cell> (the cell is
 * live), v<cell>:<hex> (the cell's value is these bytes), p<i>:<hex> or
 * c<i>:<hex> (the key component is these bytes, as the base stores it).
 */
#include "view.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "alloc.h"
#include "keys.h"
#include "mutation.h"
#include "schema_def.h"

#define WC__VIEW_MAX_KEY 32 /* key components of a base or a view */
#define WC__VIEW_LOCKS 64

typedef struct wc__vcodec {
    uint32_t size; /* 0: escaped */
    bool desc;
} wc__vcodec;

typedef struct wc__vsrc {
    char kind; /* 'p', 'c', 'x' */
    uint32_t idx;
    bool desc; /* target order in the view */
} wc__vsrc;

typedef struct wc__vcond {
    char kind; /* 'n', 'v', 'p', 'c' */
    uint32_t id;
    uint8_t *val;
    size_t len;
} wc__vcond;

typedef struct wc__view {
    uint32_t id, base;
    uint32_t nbpk, nbck, npk, nck, nconds;
    wc__vcodec bpk[WC__VIEW_MAX_KEY], bck[WC__VIEW_MAX_KEY];
    wc__vsrc pk[WC__VIEW_MAX_KEY], ck[WC__VIEW_MAX_KEY];
    bool has_x;
    uint32_t x_cell;
    char x_codec; /* 'b', '2', '4', '8', 'u', 's' */
    wc__vcond *conds;
} wc__view;

struct wc_views {
    pthread_rwlock_t mu;
    wc__view *v;
    size_t n, cap;
    atomic_size_t count; /* n, read without the lock by the fast path */
    pthread_mutex_t locks[WC__VIEW_LOCKS];
    atomic_int_fast64_t last_us;
    atomic_uint_fast64_t log_seq; /* log ids (wc__log_id) */
};

/* A key split into components. */
typedef struct wc__parts {
    const uint8_t *p[WC__VIEW_MAX_KEY];
    size_t len[WC__VIEW_MAX_KEY];
} wc__parts;

/* ---------------------------------------------------------------- recipe */

static void wc__view_clear(wc__view *w)
{
    for (uint32_t i = 0; i < w->nconds; i++)
        wc_free(w->conds[i].val);
    wc_free(w->conds);
    w->conds = NULL;
    w->nconds = 0;
}

static bool wc__parse_u32(const char **pp, uint32_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;

    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p++ - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *pp = p;
    *out = (uint32_t)v;
    return true;
}

static int wc__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A list item ends at ',', ' ' or the end of the text. */
static bool wc__item_end(char c)
{
    return c == ',' || c == ' ' || c == '\0';
}

static bool wc__parse_codecs(const char **pp, wc__vcodec *out, uint32_t *n)
{
    const char *p = *pp;

    *n = 0;
    while (!wc__item_end(*p)) {
        wc__vcodec c = {0, false};
        if (*n == WC__VIEW_MAX_KEY)
            return false;
        if (*p == 'e')
            p++;
        else if (*p++ != 'f' || !wc__parse_u32(&p, &c.size) || c.size == 0 || c.size > 64)
            return false;
        if (*p == 'd') {
            c.desc = true;
            p++;
        }
        out[(*n)++] = c;
        if (*p == ',')
            p++;
        else if (!wc__item_end(*p))
            return false;
    }
    *pp = p;
    return true;
}

static bool wc__parse_sources(const char **pp, wc__vsrc *out, uint32_t *n)
{
    const char *p = *pp;

    *n = 0;
    while (!wc__item_end(*p)) {
        wc__vsrc s = {*p++, 0, false};
        if (*n == WC__VIEW_MAX_KEY)
            return false;
        if (s.kind != 'x' && ((s.kind != 'p' && s.kind != 'c') || !wc__parse_u32(&p, &s.idx)))
            return false;
        if (*p == 'd') {
            s.desc = true;
            p++;
        }
        out[(*n)++] = s;
        if (*p == ',')
            p++;
        else if (!wc__item_end(*p))
            return false;
    }
    *pp = p;
    return true;
}

static bool wc__parse_conds(const char **pp, wc__view *w)
{
    const char *p = *pp;

    while (!wc__item_end(*p)) {
        wc__vcond c = {*p++, 0, NULL, 0};
        wc__vcond *grown;
        if (!wc__parse_u32(&p, &c.id))
            return false;
        if (c.kind == 'v' || c.kind == 'p' || c.kind == 'c') {
            const char *h;
            if (*p++ != ':')
                return false;
            for (h = p; wc__hexval(*h) >= 0; h++)
                ;
            if ((h - p) % 2 != 0)
                return false;
            c.len = (size_t)(h - p) / 2;
            if ((c.val = wc_malloc(c.len ? c.len : 1)) == NULL)
                return false;
            for (size_t i = 0; i < c.len; i++, p += 2)
                c.val[i] = (uint8_t)(wc__hexval(p[0]) * 16 + wc__hexval(p[1]));
        } else if (c.kind != 'n') {
            return false;
        }
        grown = wc_realloc(w->conds, (w->nconds + 1) * sizeof(*grown));
        if (grown == NULL) {
            wc_free(c.val);
            return false;
        }
        w->conds = grown;
        w->conds[w->nconds++] = c;
        if (*p == ',')
            p++;
        else if (!wc__item_end(*p))
            return false;
    }
    *pp = p;
    return true;
}

/* Parse recipe text into *w (w->id set by the caller); false if malformed. */
static bool wc__parse_recipe(const char *text, wc__view *w)
{
    const char *p = text;
    bool have_base = false, have_bpk = false, have_pk = false;

    while (*p) {
        bool ok;
        if (*p == ' ') {
            p++;
            continue;
        }
        if (strncmp(p, "base=", 5) == 0) {
            p += 5;
            ok = have_base = wc__parse_u32(&p, &w->base);
        } else if (strncmp(p, "bpk=", 4) == 0) {
            p += 4;
            ok = have_bpk = wc__parse_codecs(&p, w->bpk, &w->nbpk);
        } else if (strncmp(p, "bck=", 4) == 0) {
            p += 4;
            ok = wc__parse_codecs(&p, w->bck, &w->nbck);
        } else if (strncmp(p, "pk=", 3) == 0) {
            p += 3;
            ok = have_pk = wc__parse_sources(&p, w->pk, &w->npk);
        } else if (strncmp(p, "ck=", 3) == 0) {
            p += 3;
            ok = wc__parse_sources(&p, w->ck, &w->nck);
        } else if (strncmp(p, "x=", 2) == 0) {
            p += 2;
            ok = wc__parse_u32(&p, &w->x_cell) && *p++ == ':';
            if (ok && (p[0] == 'b' || p[0] == 'u' || p[0] == 's')) {
                w->x_codec = *p++;
            } else if (ok && p[0] == 'i' && (p[1] == '2' || p[1] == '4' || p[1] == '8')) {
                w->x_codec = p[1];
                p += 2;
            } else {
                ok = false;
            }
            w->has_x = ok;
        } else if (strncmp(p, "where=", 6) == 0) {
            p += 6;
            ok = wc__parse_conds(&p, w);
        } else {
            ok = false;
        }
        if (!ok || (*p != ' ' && *p != '\0'))
            return false;
    }
    if (!have_base || !have_bpk || !have_pk || w->nbpk == 0 || w->npk == 0)
        return false;
    /* every source and key condition must name a component that exists */
    for (uint32_t i = 0; i < w->npk + w->nck; i++) {
        const wc__vsrc *s = i < w->npk ? &w->pk[i] : &w->ck[i - w->npk];
        if ((s->kind == 'p' && s->idx >= w->nbpk) || (s->kind == 'c' && s->idx >= w->nbck) ||
            (s->kind == 'x' && !w->has_x))
            return false;
    }
    for (uint32_t i = 0; i < w->nconds; i++)
        if ((w->conds[i].kind == 'p' && w->conds[i].id >= w->nbpk) ||
            (w->conds[i].kind == 'c' && w->conds[i].id >= w->nbck))
            return false;
    return true;
}

/* ---------------------------------------------------------------- registry */

wc_status wc_views_new(wc_views **out)
{
    wc_views *v = wc_calloc(1, sizeof(*v));

    *out = NULL;
    if (v == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory for materialized views");
    pthread_rwlock_init(&v->mu, NULL);
    for (int i = 0; i < WC__VIEW_LOCKS; i++)
        pthread_mutex_init(&v->locks[i], NULL);
    *out = v;
    return WC_OK;
}

void wc_views_free(wc_views *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n; i++)
        wc__view_clear(&v->v[i]);
    wc_free(v->v);
    pthread_rwlock_destroy(&v->mu);
    for (int i = 0; i < WC__VIEW_LOCKS; i++)
        pthread_mutex_destroy(&v->locks[i]);
    wc_free(v);
}

void wc_views_forget(wc_views *v, uint32_t table_id)
{
    pthread_rwlock_wrlock(&v->mu);
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].id == table_id) {
            wc__view_clear(&v->v[i]);
            v->v[i] = v->v[--v->n];
            break;
        }
    atomic_store(&v->count, v->n);
    pthread_rwlock_unlock(&v->mu);
}

wc_status wc_views_define(wc_views *v, const wc_table_def *def, bool *is_view)
{
    wc_schema s;
    const char *recipe = NULL;
    wc__view w;
    wc_status st = WC_OK;

    if (is_view)
        *is_view = false;
    if (def->schema_len == 0) {
        wc_views_forget(v, def->id);
        return WC_OK;
    }
    if ((st = wc_schema_decode(def->schema, def->schema_len, &s)) != WC_OK)
        goto done;
    for (size_t i = 0; i < s.nproperties; i++)
        if (strcmp(s.properties[i].name, WC_VIEW_PROPERTY) == 0)
            recipe = s.properties[i].value;
    if (recipe == NULL) {
        wc_views_forget(v, def->id);
        goto done;
    }
    memset(&w, 0, sizeof(w));
    w.id = def->id;
    if (!wc__parse_recipe(recipe, &w)) {
        wc__view_clear(&w);
        st = wc_error(WC_INVALID_ARGUMENT, "the materialized view recipe of table %u is malformed",
                      def->id);
        goto done;
    }
    pthread_rwlock_wrlock(&v->mu);
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].id == w.id) {
            wc__view_clear(&v->v[i]);
            v->v[i] = w;
            goto stored;
        }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        wc__view *grown = wc_realloc(v->v, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_rwlock_unlock(&v->mu);
            wc__view_clear(&w);
            st = wc_error(WC_NO_MEMORY, "out of memory registering a materialized view");
            goto done;
        }
        v->v = grown;
        v->cap = cap;
    }
    v->v[v->n++] = w;
stored:
    atomic_store(&v->count, v->n);
    pthread_rwlock_unlock(&v->mu);
    if (is_view)
        *is_view = true;
done:
    wc_schema_free(&s);
    return st;
}

wc_status wc_views_load(wc_views *v, wc_engine *e)
{
    uint32_t *ids = NULL;
    size_t n = 0;
    wc_status st = wc_engine_list_tables(e, &ids, &n);

    for (size_t i = 0; st == WC_OK && i < n; i++) {
        wc_table_def d;
        if (wc_engine_get_table(e, ids[i], &d) != WC_OK)
            continue;
        if (wc_views_define(v, &d, NULL) == WC_NO_MEMORY)
            st = WC_NO_MEMORY;
        wc_table_def_clear(&d);
    }
    wc_free(ids);
    wc_clear_error();
    return st;
}

bool wc_views_is_view(wc_views *v, uint32_t table_id)
{
    bool found = false;

    pthread_rwlock_rdlock(&v->mu);
    for (size_t i = 0; i < v->n && !found; i++)
        found = v->v[i].id == table_id;
    pthread_rwlock_unlock(&v->mu);
    return found;
}

static bool wc__is_base(const wc_views *v, uint32_t table_id)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].base == table_id)
            return true;
    return false;
}

/* ---------------------------------------------------------------- view keys */

/* Split key into the components codecs describe; false if it does not split exactly. */
static bool wc__split(const wc__vcodec *codecs, uint32_t n, const uint8_t *key, size_t len,
                      wc__parts *out)
{
    size_t off = 0;

    for (uint32_t i = 0; i < n; i++) {
        size_t start = off;
        if (codecs[i].size) {
            if (len - off < codecs[i].size)
                return false;
            off += codecs[i].size;
        } else {
            uint8_t z = codecs[i].desc ? 0xFF : 0x00, esc = codecs[i].desc ? 0x00 : 0xFF;
            for (;;) {
                if (off >= len)
                    return false;
                if (key[off++] != z)
                    continue;
                if (off >= len)
                    return false;
                if (key[off] == z) {
                    off++;
                    break;
                }
                if (key[off++] != esc)
                    return false;
            }
        }
        out->p[i] = key + start;
        out->len[i] = off - start;
    }
    return off == len;
}

static const wc_cell *wc__find_cell(const wc_result_row *row, uint32_t column)
{
    for (uint32_t i = 0; i < row->ncells; i++)
        if (row->cells[i].column == column)
            return &row->cells[i];
    return NULL;
}

/* Append the ASC key encoding of the view key cell's value image; false if its size is wrong. */
static bool wc__x_key(char codec, const wc_cell *c, wc_buf *out)
{
    uint64_t u = 0;
    int bytes;

    switch (codec) {
    case 'b':
        if (c->len != 1)
            return false;
        wc_buf_put_u8(out, c->value[0]);
        return true;
    case 'u':
        if (c->len != 16)
            return false;
        wc_buf_append(out, c->value, 16);
        return true;
    case 's':
        for (size_t i = 0; i < c->len; i++) {
            wc_buf_put_u8(out, c->value[i]);
            if (c->value[i] == 0)
                wc_buf_put_u8(out, 0xFF);
        }
        wc_buf_put_u8(out, 0);
        wc_buf_put_u8(out, 0);
        return true;
    default:
        bytes = codec - '0';
        if (c->len != (size_t)bytes)
            return false;
        if (bytes == 2) {
            int16_t x;
            memcpy(&x, c->value, 2);
            u = (uint16_t)x ^ 0x8000u;
        } else if (bytes == 4) {
            int32_t x;
            memcpy(&x, c->value, 4);
            u = (uint32_t)x ^ 0x80000000u;
        } else {
            int64_t x;
            memcpy(&x, c->value, 8);
            u = (uint64_t)x ^ 0x8000000000000000ull;
        }
        for (int i = bytes - 1; i >= 0; i--)
            wc_buf_put_u8(out, (uint8_t)(u >> (8 * i)));
        return true;
    }
}

/* Append a component, complemented when its stored order differs from the wanted one. */
static void wc__put_part(wc_buf *out, const uint8_t *p, size_t len, bool complement)
{
    size_t start = out->len;

    wc_buf_append(out, p, len);
    if (complement && wc_buf_status(out) == WC_OK)
        for (size_t i = start; i < out->len; i++)
            out->data[i] = (uint8_t)~out->data[i];
}

static bool wc__cond_holds(const wc__vcond *c, const wc_result_row *row, const wc__parts *pk,
                           const wc__parts *ck)
{
    const wc_cell *cell;

    switch (c->kind) {
    case 'n':
        return wc__find_cell(row, c->id) != NULL;
    case 'v':
        cell = wc__find_cell(row, c->id);
        return cell && cell->len == c->len && memcmp(cell->value, c->val, c->len) == 0;
    case 'p':
        return pk->len[c->id] == c->len && memcmp(pk->p[c->id], c->val, c->len) == 0;
    default:
        return ck->len[c->id] == c->len && memcmp(ck->p[c->id], c->val, c->len) == 0;
    }
}

/*
 * The view key of a base row (NULL: no row) into vpk and vck (reset first).
 * *in_view is false when the row is absent, lacks the view key cell or
 * fails a condition.  WC_CORRUPTION when the base key does not split as
 * the recipe says or the view key cell has the wrong size.
 */
static wc_status wc__view_key(const wc__view *w, const wc_result_row *row, wc_buf *vpk,
                              wc_buf *vck, const wc_cell **x, bool *in_view)
{
    wc__parts pk, ck;

    *in_view = false;
    *x = NULL;
    wc_buf_reset(vpk);
    wc_buf_reset(vck);
    if (row == NULL)
        return WC_OK;
    if (!wc__split(w->bpk, w->nbpk, row->pk, row->pk_len, &pk) ||
        !wc__split(w->bck, w->nbck, row->ck, row->ck_len, &ck))
        return wc_error(WC_CORRUPTION, "a key of base table %u does not fit view %u", w->base,
                        w->id);
    if (w->has_x && (*x = wc__find_cell(row, w->x_cell)) == NULL)
        return WC_OK;
    for (uint32_t i = 0; i < w->nconds; i++)
        if (!wc__cond_holds(&w->conds[i], row, &pk, &ck))
            return WC_OK;
    for (uint32_t i = 0; i < w->npk + w->nck; i++) {
        const wc__vsrc *s = i < w->npk ? &w->pk[i] : &w->ck[i - w->npk];
        wc_buf *out = i < w->npk ? vpk : vck;
        if (s->kind == 'p') {
            wc__put_part(out, pk.p[s->idx], pk.len[s->idx], s->desc);
        } else if (s->kind == 'c') {
            wc__put_part(out, ck.p[s->idx], ck.len[s->idx], s->desc != w->bck[s->idx].desc);
        } else {
            size_t start = out->len;
            if (!wc__x_key(w->x_codec, *x, out))
                return wc_error(WC_CORRUPTION, "the view key cell of view %u has %zu bytes",
                                w->id, (*x)->len);
            if (s->desc && wc_buf_status(out) == WC_OK)
                for (size_t j = start; j < out->len; j++)
                    out->data[j] = (uint8_t)~out->data[j];
        }
    }
    if ((wc_buf_status(vpk) | wc_buf_status(vck)) != WC_OK)
        return wc_error(WC_NO_MEMORY, "out of memory building a view key");
    *in_view = true;
    return WC_OK;
}

/* ---------------------------------------------------------------- view writes */

/* A timestamp above every earlier one this set gave (microseconds). */
static int64_t wc__view_ts(wc_views *v)
{
    struct timespec t;
    int64_t now, ts, last = atomic_load(&v->last_us);

    clock_gettime(CLOCK_REALTIME, &t);
    now = (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
    do {
        ts = now > last ? now : last + 1;
    } while (!atomic_compare_exchange_weak(&v->last_us, &last, ts));
    return ts;
}

static wc_status wc__view_delete(wc_batch_builder *b, const wc__view *w, const wc_buf *vpk,
                                 const wc_buf *vck, int64_t ts, uint32_t now)
{
    wc_mutation *m = wc_batch_builder_begin(b, w->id, vpk->data, vpk->len);

    wc_rowb_deletion(wc_mutation_row_begin(m, false, vck->data, vck->len), ts, now);
    wc_mutation_row_end(m);
    return wc_batch_builder_end(b);
}

/*
 * The view row of a base row: a deletion just below ts clears what the
 * view row held before, then the row's cells at ts.  With a view key cell
 * the row lives as long as that cell (every cell expires with it at the
 * latest); without one it has the base row's liveness.
 */
static wc_status wc__view_put(wc_batch_builder *b, const wc__view *w, const wc_buf *vpk,
                              const wc_buf *vck, const wc_result_row *row, const wc_cell *x,
                              int64_t ts, uint32_t now)
{
    wc_mutation *m = wc_batch_builder_begin(b, w->id, vpk->data, vpk->len);
    wc_rowb *rb = wc_mutation_row_begin(m, false, vck->data, vck->len);
    bool x_expires = x && (x->flags & WC_CELLF_EXPIRING);

    wc_rowb_deletion(rb, ts - 1, now);
    if (x)
        wc_rowb_liveness(rb, ts, x_expires ? x->ttl : 0, x_expires ? x->ldt : 0);
    else if (row->live_ts != WC_NO_TIMESTAMP && (row->live_ttl == 0 || now < row->live_ldt))
        wc_rowb_liveness(rb, ts, row->live_ttl, row->live_ldt);
    for (uint32_t i = 0; i < row->ncells; i++) {
        wc_cell c = row->cells[i];
        if (x && c.column == x->column)
            continue;
        if (c.flags & (WC_CELLF_COUNTER | WC_CELLF_COUNTER_DELTA | WC_CELLF_COLLECTION))
            continue; /* never in a view: the extension refuses such bases */
        c.ts = ts;
        if (x_expires && (!(c.flags & WC_CELLF_EXPIRING) || c.ldt > x->ldt)) {
            c.flags |= WC_CELLF_EXPIRING;
            c.ttl = x->ttl;
            c.ldt = x->ldt;
        }
        wc_rowb_cell(rb, &c);
    }
    wc_mutation_row_end(m);
    return wc_batch_builder_end(b);
}

/* The row at ck of a base partition (whole partition when ck_len is 0), with an overlay. */
static wc_status wc__read_row(wc_engine *e, uint32_t table, const uint8_t *pk, size_t pk_len,
                              const uint8_t *ck, size_t ck_len, const uint8_t *overlay,
                              size_t overlay_len, wc_page **out)
{
    wc_read_request req;

    memset(&req, 0, sizeof(req));
    req.table_id = table;
    req.pk = pk;
    req.pk_len = pk_len;
    if (ck_len) {
        req.start = (wc_bound){ck, ck_len, true, false};
        req.end = (wc_bound){ck, ck_len, true, false};
    } else {
        req.start.unbounded = req.end.unbounded = true;
    }
    req.limit = 1;
    if (overlay)
        return wc_engine_read_overlay(e, &req, overlay, overlay_len, false, out);
    return wc_engine_read(e, &req, out);
}

/* Scratch of one maintenance run. */
typedef struct wc__vrun {
    wc_buf opk, ock, npk, nck;
    wc_batch_builder ob; /* the overlay of one row */
} wc__vrun;

/*
 * The view mutations of one base row (old: as stored, NULL if none; new:
 * after the write, NULL if none) for every view of table (or only one), into b.
 */
static wc_status wc__row_changes(wc_views *v, wc__vrun *r, uint32_t table,
                                 const wc_result_row *old, const wc_result_row *new,
                                 const wc__view *only, wc_batch_builder *b, int64_t ts,
                                 uint32_t now)
{
    wc_status st = WC_OK;

    for (size_t i = 0; st == WC_OK && i < v->n; i++) {
        const wc__view *w = &v->v[i];
        const wc_cell *ox, *nx;
        bool oin, nin;
        if (w->base != table || (only && w != only))
            continue;
        if ((st = wc__view_key(w, old, &r->opk, &r->ock, &ox, &oin)) != WC_OK ||
            (st = wc__view_key(w, new, &r->npk, &r->nck, &nx, &nin)) != WC_OK)
            break;
        if (oin && (!nin || wc_bytes_cmp(r->opk.data, r->opk.len, r->npk.data, r->npk.len) ||
                    wc_bytes_cmp(r->ock.data, r->ock.len, r->nck.data, r->nck.len)))
            st = wc__view_delete(b, w, &r->opk, &r->ock, ts, now);
        if (st == WC_OK && nin)
            st = wc__view_put(b, w, &r->npk, &r->nck, new, nx, ts, now);
    }
    return st;
}

/* A base partition the batch writes, with its mutations. */
typedef struct wc__vpart {
    uint32_t table;
    const uint8_t *pk;
    size_t pk_len;
    uint32_t lock;
    uint64_t hash;           /* of table and pk (wc__part_of) */
    bool whole;              /* a partition or range deletion: every stored row may change */
    size_t nent;             /* its header and row entries, in batch order */
    wc_mutation_entry *ent;  /* (pointing into the batch) */
} wc__vpart;

static int wc__cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static uint32_t wc__lock_of(uint32_t table, const uint8_t *pk, size_t pk_len)
{
    return (uint32_t)(XXH3_64bits_withSeed(pk, pk_len, table) % WC__VIEW_LOCKS);
}

/* Lock the distinct locks of idx[0..n) in ascending order (sorts idx); returns how many. */
static size_t wc__lock_all(wc_views *v, uint32_t *idx, size_t n)
{
    size_t k = 0;

    qsort(idx, n, sizeof(*idx), wc__cmp_u32);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || idx[k - 1] != idx[i])
            idx[k++] = idx[i];
    for (size_t i = 0; i < k; i++)
        pthread_mutex_lock(&v->locks[idx[i]]);
    return k;
}

static void wc__unlock_all(wc_views *v, const uint32_t *idx, size_t k)
{
    while (k > 0)
        pthread_mutex_unlock(&v->locks[idx[--k]]);
}

/*
 * The overlay that gives the row at ck after the batch: the partition's
 * header entries (deletions) and its entries of that row, as one mutation.
 */
static wc_status wc__overlay_for(wc__vrun *r, const wc__vpart *p, const uint8_t *ck,
                                 size_t ck_len, const uint8_t **rec, size_t *len)
{
    wc_mutation *m;
    wc_status st;

    wc_batch_builder_reset(&r->ob);
    m = wc_batch_builder_begin(&r->ob, p->table, p->pk, p->pk_len);
    for (size_t i = 0; i < p->nent; i++) {
        const wc_mutation_entry *en = &p->ent[i];
        if (en->kind == WC_KIND_HEADER ||
            wc_bytes_cmp(en->ck, en->ck_len, ck, ck_len) == 0)
            wc_mutation_add(m, en->kind, en->ck, en->ck_len, en->blob, en->blob_len);
    }
    if ((st = wc_batch_builder_end(&r->ob)) != WC_OK)
        return st;
    return wc_batch_builder_finish(&r->ob, rec, len);
}

/* The view changes of one stored (or not, before NULL) base row at ck. */
static wc_status wc__ck_changes(wc_views *v, wc_engine *e, wc__vrun *r, const wc__vpart *p,
                                const wc_result_row *before, const uint8_t *ck, size_t ck_len,
                                wc_batch_builder *b, int64_t ts, uint32_t now)
{
    const uint8_t *rec;
    size_t rec_len;
    wc_page *after = NULL;
    wc_status st;

    if ((st = wc__overlay_for(r, p, ck, ck_len, &rec, &rec_len)) == WC_OK &&
        (st = wc__read_row(e, p->table, p->pk, p->pk_len, ck, ck_len, rec, rec_len, &after)) ==
            WC_OK)
        st = wc__row_changes(v, r, p->table, before, after->nrows ? after->rows : NULL, NULL, b,
                             ts, now);
    wc_page_free(after);
    return st;
}

/* The view changes of one base partition: each row the batch may change, before and after. */
static wc_status wc__part_changes(wc_views *v, wc_engine *e, wc__vrun *r, wc__vpart *p,
                                  wc_batch_builder *b, int64_t ts, uint32_t now)
{
    wc_page *all = NULL;
    wc_status st = WC_OK;

    if (p->whole) {
        /* every stored row of the partition, read page by page */
        wc_read_request req;
        memset(&req, 0, sizeof(req));
        req.table_id = p->table;
        req.pk = p->pk;
        req.pk_len = p->pk_len;
        req.start.unbounded = req.end.unbounded = true;
        for (;;) {
            wc_page *pg = NULL;
            if ((st = wc_engine_read(e, &req, &pg)) != WC_OK)
                break;
            for (size_t i = 0; st == WC_OK && i < pg->nrows; i++)
                if (!pg->rows[i].is_static)
                    st = wc__ck_changes(v, e, r, p, &pg->rows[i], pg->rows[i].ck,
                                        pg->rows[i].ck_len, b, ts, now);
            wc_page_free(all); /* its paging state served this read */
            all = pg;
            if (st != WC_OK || !pg->more)
                break;
            req.paging_state = pg->paging_state;
            req.paging_state_len = pg->paging_state_len;
        }
        wc_page_free(all);
        if (st != WC_OK)
            return st;
    }
    for (size_t i = 0; st == WC_OK && i < p->nent; i++) {
        const wc_mutation_entry *en = &p->ent[i];
        wc_page *before = NULL;
        if (en->kind != WC_KIND_ROW)
            continue;
        st = wc__read_row(e, p->table, p->pk, p->pk_len, en->ck, en->ck_len, NULL, 0, &before);
        /* with a deletion, the stored rows were all done above */
        if (st == WC_OK && !(p->whole && before->nrows > 0))
            st = wc__ck_changes(v, e, r, p, before->nrows ? before->rows : NULL, en->ck,
                                en->ck_len, b, ts, now);
        wc_page_free(before);
    }
    return st;
}

/* The parts of a batch, found by a hash of table and partition key. */
typedef struct wc__vparts {
    wc__vpart *v;
    size_t n, cap;
    size_t *slot; /* open addressing: index + 1, 0 = empty */
    size_t nslot; /* a power of two, at least twice n */
} wc__vparts;

static void wc__slot_put(wc__vparts *ps, size_t idx)
{
    size_t i = (size_t)ps->v[idx].hash & (ps->nslot - 1);

    while (ps->slot[i])
        i = (i + 1) & (ps->nslot - 1);
    ps->slot[i] = idx + 1;
}

/* The part of (table, pk), added if new; NULL when out of memory. */
static wc__vpart *wc__part_of(wc__vparts *ps, uint32_t table, const uint8_t *pk, size_t pk_len)
{
    uint64_t h = XXH3_64bits_withSeed(pk, pk_len, table);
    wc__vpart *p;

    for (size_t i = ps->nslot ? (size_t)h & (ps->nslot - 1) : 0; ps->nslot && ps->slot[i];
         i = (i + 1) & (ps->nslot - 1)) {
        p = &ps->v[ps->slot[i] - 1];
        if (p->hash == h && p->table == table && wc_bytes_cmp(p->pk, p->pk_len, pk, pk_len) == 0)
            return p;
    }
    if (ps->n == ps->cap) {
        size_t c = ps->cap ? ps->cap * 2 : 4;
        wc__vpart *grown = wc_realloc(ps->v, c * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        ps->v = grown;
        ps->cap = c;
    }
    if ((ps->n + 1) * 2 > ps->nslot) {
        size_t ns = ps->nslot ? ps->nslot * 2 : 16;
        size_t *slot = wc_calloc(ns, sizeof(*slot));
        if (slot == NULL)
            return NULL;
        wc_free(ps->slot);
        ps->slot = slot;
        ps->nslot = ns;
        for (size_t i = 0; i < ps->n; i++)
            wc__slot_put(ps, i);
    }
    p = &ps->v[ps->n];
    memset(p, 0, sizeof(*p));
    p->table = table;
    p->pk = pk;
    p->pk_len = pk_len;
    p->hash = h;
    p->lock = (uint32_t)(h % WC__VIEW_LOCKS);
    wc__slot_put(ps, ps->n++);
    return p;
}

static void wc__parts_free(wc__vparts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        wc_free(ps->v[i].ent);
    wc_free(ps->v);
    wc_free(ps->slot);
}

static bool wc__part_add(wc__vpart *p, const wc_mutation_entry *en)
{
    wc_mutation_entry *grown;

    if ((p->nent & (p->nent - 1)) == 0) { /* 0, 1, 2, 4, ...: grow to the next power of two */
        grown = wc_realloc(p->ent, (p->nent ? p->nent * 2 : 1) * sizeof(*grown));
        if (grown == NULL)
            return false;
        p->ent = grown;
    }
    p->ent[p->nent++] = *en;
    return true;
}

static void wc__run_free(wc__vrun *r)
{
    wc_buf_free(&r->opk);
    wc_buf_free(&r->ock);
    wc_buf_free(&r->npk);
    wc_buf_free(&r->nck);
    wc_batch_builder_free(&r->ob);
}

/* A log id above every earlier one of this set: its timestamp and a sequence number. */
static void wc__log_id(wc_views *v, uint8_t id[WC_VIEW_LOG_ID_LEN])
{
    uint64_t ts = (uint64_t)wc__view_ts(v), seq = atomic_fetch_add(&v->log_seq, 1);

    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(ts >> (56 - 8 * i));
        id[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
    }
}

/* Append one base partition's view mutations (vb, when it has any) to the update record. */
static wc_status wc__upd_add(wc_buf *upd, const wc__vpart *p, wc_batch_builder *vb)
{
    const uint8_t *rec;
    size_t rec_len;
    wc_status st;

    if (wc_batch_builder_count(vb) == 0)
        return WC_OK;
    if ((st = wc_batch_builder_finish(vb, &rec, &rec_len)) != WC_OK)
        return st;
    wc_buf_put_u32(upd, p->table);
    wc_buf_put_u32(upd, (uint32_t)p->pk_len);
    wc_buf_append(upd, p->pk, p->pk_len);
    wc_buf_put_u32(upd, (uint32_t)rec_len);
    wc_buf_append(upd, rec, rec_len);
    return wc_buf_status(upd) == WC_OK ? WC_OK
                                       : wc_error(WC_NO_MEMORY, "out of memory for view updates");
}

/* Add the log entry of update record upd (id first) to batch b. */
static wc_status wc__log_put(wc_batch_builder *b, const wc_buf *upd, int64_t ts)
{
    wc_mutation *m = wc_batch_builder_begin(b, WC_VIEW_LOG_TABLE, upd->data, WC_VIEW_LOG_ID_LEN);
    wc_rowb *rb = wc_mutation_row_begin(m, false, NULL, 0);
    wc_cell c;

    memset(&c, 0, sizeof(c));
    c.column = 1;
    c.ts = ts;
    c.value = upd->data + WC_VIEW_LOG_ID_LEN;
    c.len = upd->len - WC_VIEW_LOG_ID_LEN;
    wc_rowb_liveness(rb, ts, 0, 0);
    wc_rowb_cell(rb, &c);
    wc_mutation_row_end(m);
    return wc_batch_builder_end(b);
}

/* wc_engine_apply_batch, or its unsynced form when need is not NULL */
static wc_status wc__engine_apply(wc_engine *e, const uint8_t *rec, size_t len, wc_clpos *need)
{
    return need ? wc_engine_apply_batch_unsynced(e, rec, len, need)
                : wc_engine_apply_batch(e, rec, len);
}

/*
 * wc_views_apply and wc_views_apply_paired: with upd NULL the view
 * mutations join the batch; else they go to *upd (one entry per base
 * partition) and the batch gets the log entry of *upd instead.
 */
static wc_status wc__apply(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len,
                           wc_buf *upd, wc_clpos *need)
{
    wc_batch_view bv;
    const uint8_t *mut, *rec;
    size_t mlen, rec_len, nlocks = 0;
    wc__vparts ps = {0};
    uint32_t *locks = NULL;
    wc_batch_builder out, vb;
    wc__vrun run;
    wc_status st = WC_OK;
    int more;

    if (atomic_load(&v->count) == 0)
        return wc__engine_apply(e, batch, len, need);
    if (wc_batch_parse(batch, len, &bv) != WC_OK) {
        wc_clear_error();
        return wc__engine_apply(e, batch, len, need); /* the engine says what is wrong */
    }
    memset(&run, 0, sizeof(run));
    wc_batch_builder_init(&run.ob);
    wc_batch_builder_init(&out);
    wc_batch_builder_init(&vb);
    pthread_rwlock_rdlock(&v->mu);
    while ((more = wc_batch_next(&bv, &mut, &mlen)) == 1) {
        wc_mutation_view mv;
        wc_mutation_entry en;
        wc__vpart *p;
        if ((st = wc_batch_builder_add_encoded(&out, mut, mlen)) != WC_OK)
            goto done;
        if (mlen < 4 || !wc__is_base(v, wc_dec_u32(mut)))
            continue;
        if (wc_mutation_parse(mut, mlen, &mv) != WC_OK) {
            more = -1;
            break;
        }
        if ((p = wc__part_of(&ps, mv.table_id, mv.pk, mv.pk_len)) == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory keeping materialized views");
            goto done;
        }
        while ((more = wc_mutation_next(&mv, &en)) == 1) {
            if (en.kind == WC_KIND_HEADER)
                p->whole = true;
            if (en.kind != WC_KIND_STATIC && !wc__part_add(p, &en)) {
                st = wc_error(WC_NO_MEMORY, "out of memory keeping materialized views");
                goto done;
            }
        }
        if (more < 0)
            break;
    }
    if (more < 0 || ps.n == 0) {
        /* a malformed batch (the engine refuses it and says why) or no base table in it */
        wc_clear_error();
        st = wc__engine_apply(e, batch, len, need);
        goto done;
    }
    if ((locks = wc_malloc(ps.n * sizeof(*locks))) == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory keeping materialized views");
        goto done;
    }
    for (size_t i = 0; i < ps.n; i++)
        locks[i] = ps.v[i].lock;
    nlocks = wc__lock_all(v, locks, ps.n);
    {
        int64_t ts = wc__view_ts(v);
        uint32_t now = (uint32_t)time(NULL);
        if (upd) {
            uint8_t id[WC_VIEW_LOG_ID_LEN];
            wc__log_id(v, id);
            wc_buf_reset(upd);
            wc_buf_append(upd, id, sizeof(id));
        }
        for (size_t i = 0; st == WC_OK && i < ps.n; i++) {
            if (upd == NULL) {
                st = wc__part_changes(v, e, &run, &ps.v[i], &out, ts, now);
                continue;
            }
            wc_batch_builder_reset(&vb);
            if ((st = wc__part_changes(v, e, &run, &ps.v[i], &vb, ts, now)) == WC_OK)
                st = wc__upd_add(upd, &ps.v[i], &vb);
        }
        if (st == WC_OK && upd && upd->len > WC_VIEW_LOG_ID_LEN)
            st = wc__log_put(&out, upd, ts);
        else if (upd)
            wc_buf_reset(upd); /* nothing for the views: no log entry */
    }
    if (st == WC_OK && (st = wc_batch_builder_finish(&out, &rec, &rec_len)) == WC_OK)
        st = wc__engine_apply(e, rec, rec_len, need);
    wc__unlock_all(v, locks, nlocks);
done:
    pthread_rwlock_unlock(&v->mu);
    if (st != WC_OK && upd)
        wc_buf_reset(upd);
    wc_free(locks);
    wc__parts_free(&ps);
    wc_batch_builder_free(&out);
    wc_batch_builder_free(&vb);
    wc__run_free(&run);
    return st;
}

wc_status wc_views_apply(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len)
{
    return wc__apply(v, e, batch, len, NULL, NULL);
}

wc_status wc_views_apply_unsynced(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len,
                                  wc_clpos *need)
{
    *need = (wc_clpos){0, 0};
    return wc__apply(v, e, batch, len, NULL, need);
}

wc_status wc_views_apply_paired(wc_views *v, wc_engine *e, const uint8_t *batch, size_t len,
                                wc_buf *updates)
{
    wc_buf_reset(updates);
    if (atomic_load(&v->count) == 0)
        return wc_engine_apply_batch(e, batch, len);
    return wc__apply(v, e, batch, len, updates, NULL);
}

/* One page of a whole-table read, handed to a wc__scan_pages caller. */
typedef wc_status (*wc__page_fn)(void *ctx, const wc_page *pg);

/* Read every row of table `table_id` in pages of `page_rows` and hand each page to `fn`, which
 * may keep no pointer into it; stops at the first failure of the read or of `fn` and returns it. */
static wc_status wc__scan_pages(wc_engine *e, uint32_t table_id, size_t page_rows, wc__page_fn fn,
                                void *ctx)
{
    wc_read_request req;
    wc_page *prev = NULL;
    wc_status st = WC_OK;

    memset(&req, 0, sizeof(req));
    req.table_id = table_id;
    req.start.unbounded = req.end.unbounded = true;
    req.page_rows = page_rows;
    for (;;) {
        wc_page *pg = NULL;
        if ((st = wc_engine_read(e, &req, &pg)) != WC_OK)
            break;
        st = fn(ctx, pg);
        wc_page_free(prev); /* its paging state served this read */
        prev = pg;
        if (st != WC_OK || !pg->more)
            break;
        req.paging_state = pg->paging_state;
        req.paging_state_len = pg->paging_state_len;
    }
    wc_page_free(prev);
    return st;
}

/* Write the view rows of one page of base rows, each read again under its partition's lock. */
static wc_status wc__build_page(wc_views *v, wc_engine *e, const wc__view *w, const wc_page *pg,
                                wc__vrun *run, wc_batch_builder *b)
{
    uint32_t *locks = wc_malloc((pg->nrows ? pg->nrows : 1) * sizeof(*locks));
    size_t n = 0, k;
    int64_t ts;
    uint32_t now = (uint32_t)time(NULL);
    const uint8_t *rec;
    size_t rec_len;
    wc_status st = WC_OK;

    if (locks == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory building a materialized view");
    for (size_t i = 0; i < pg->nrows; i++)
        locks[n++] = wc__lock_of(w->base, pg->rows[i].pk, pg->rows[i].pk_len);
    k = wc__lock_all(v, locks, n);
    ts = wc__view_ts(v);
    wc_batch_builder_reset(b);
    for (size_t i = 0; st == WC_OK && i < pg->nrows; i++) {
        const wc_result_row *o = &pg->rows[i];
        wc_page *now_row = NULL;
        if (o->is_static)
            continue;
        if ((st = wc__read_row(e, w->base, o->pk, o->pk_len, o->ck, o->ck_len, NULL, 0,
                               &now_row)) == WC_OK &&
            now_row->nrows > 0)
            st = wc__row_changes(v, run, w->base, NULL, now_row->rows, w, b, ts, now);
        wc_page_free(now_row);
    }
    if (st == WC_OK && wc_batch_builder_count(b) > 0 &&
        (st = wc_batch_builder_finish(b, &rec, &rec_len)) == WC_OK)
        st = wc_engine_apply_batch(e, rec, rec_len);
    wc__unlock_all(v, locks, k);
    wc_free(locks);
    return st;
}

/* What building a view needs between its pages: the view, the shared state, the buffers. */
typedef struct wc__vbuild {
    wc_views *v;
    wc_engine *e;
    const wc__view *w;
    wc__vrun run;
    wc_batch_builder b, vb;
    wc_buf upd;
    wc_views_sink sink; /* NULL: the view rows are applied here */
    void *arg;
} wc__vbuild;

static wc_status wc__build_local_page(void *ctx, const wc_page *pg)
{
    wc__vbuild *c = ctx;
    return wc__build_page(c->v, c->e, c->w, pg, &c->run, &c->b);
}

/* One page of base rows made into logged view updates for the paired view replicas. */
static wc_status wc__build_paired_page(void *ctx, const wc_page *pg)
{
    wc__vbuild *c = ctx;
    wc_views *v = c->v;
    wc_engine *e = c->e;
    const wc__view *w = c->w;
    uint32_t *locks;
    size_t k;
    int64_t ts;
    uint32_t now = (uint32_t)time(NULL);
    uint8_t id[WC_VIEW_LOG_ID_LEN];
    wc_status st = WC_OK;

    if ((locks = wc_malloc((pg->nrows ? pg->nrows : 1) * sizeof(*locks))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory building a materialized view");
    for (size_t i = 0; i < pg->nrows; i++)
        locks[i] = wc__lock_of(w->base, pg->rows[i].pk, pg->rows[i].pk_len);
    k = wc__lock_all(v, locks, pg->nrows);
    ts = wc__view_ts(v);
    wc__log_id(v, id);
    wc_buf_reset(&c->upd);
    wc_buf_append(&c->upd, id, sizeof(id));
    /* each row read again under its lock, its view row for its paired view replica */
    for (size_t i = 0; st == WC_OK && i < pg->nrows; i++) {
        const wc_result_row *o = &pg->rows[i];
        wc__vpart part;
        wc_page *now_row = NULL;
        if (o->is_static)
            continue;
        memset(&part, 0, sizeof(part));
        part.table = w->base;
        part.pk = o->pk;
        part.pk_len = o->pk_len;
        wc_batch_builder_reset(&c->vb);
        if ((st = wc__read_row(e, w->base, o->pk, o->pk_len, o->ck, o->ck_len, NULL, 0,
                               &now_row)) == WC_OK &&
            now_row->nrows > 0 &&
            (st = wc__row_changes(v, &c->run, w->base, NULL, now_row->rows, w, &c->vb, ts, now)) ==
                WC_OK)
            st = wc__upd_add(&c->upd, &part, &c->vb);
        wc_page_free(now_row);
    }
    if (st == WC_OK && c->upd.len > WC_VIEW_LOG_ID_LEN) {
        const uint8_t *rec;
        size_t rec_len;
        wc_batch_builder_reset(&c->b);
        if ((st = wc__log_put(&c->b, &c->upd, ts)) == WC_OK &&
            (st = wc_batch_builder_finish(&c->b, &rec, &rec_len)) == WC_OK)
            st = wc_engine_apply_batch(e, rec, rec_len);
    }
    wc__unlock_all(v, locks, k);
    wc_free(locks);
    if (st == WC_OK && c->upd.len > WC_VIEW_LOG_ID_LEN)
        c->sink(c->arg, c->upd.data, c->upd.len);
    return st;
}

/* Build view `view_id` from every base row of this node: applied here, or (with a sink) logged
 * and handed to the sink for the paired view replicas. */
static wc_status wc__build(wc_views *v, wc_engine *e, uint32_t view_id, wc_views_sink sink,
                           void *arg)
{
    wc__vbuild c;
    wc_status st;

    memset(&c, 0, sizeof(c));
    c.v = v;
    c.e = e;
    c.sink = sink;
    c.arg = arg;
    wc_batch_builder_init(&c.run.ob);
    wc_batch_builder_init(&c.b);
    wc_batch_builder_init(&c.vb);
    wc_buf_init(&c.upd);
    pthread_rwlock_rdlock(&v->mu);
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].id == view_id)
            c.w = &v->v[i];
    if (c.w == NULL)
        st = wc_error(WC_NOT_FOUND, "table %u is not a materialized view", view_id);
    else
        st = wc__scan_pages(e, c.w->base, 256, sink ? wc__build_paired_page : wc__build_local_page,
                            &c);
    pthread_rwlock_unlock(&v->mu);
    wc_batch_builder_free(&c.b);
    wc_batch_builder_free(&c.vb);
    wc_buf_free(&c.upd);
    wc__run_free(&c.run);
    return st;
}

wc_status wc_views_build(wc_views *v, wc_engine *e, uint32_t view_id)
{
    return wc__build(v, e, view_id, NULL, NULL);
}

wc_status wc_views_build_paired(wc_views *v, wc_engine *e, uint32_t view_id, wc_views_sink sink,
                                void *arg)
{
    return wc__build(v, e, view_id, sink, arg);
}

/* ---------------------------------------------------------------- the view update log */

wc_status wc_views_log_open(wc_engine *e)
{
    wc_table_def d;
    wc_status st = wc_engine_get_table(e, WC_VIEW_LOG_TABLE, &d);

    if (st == WC_OK) {
        wc_table_def_clear(&d);
        return WC_OK;
    }
    if (st != WC_NOT_FOUND)
        return st;
    wc_clear_error();
    wc_table_def_default(&d);
    d.id = WC_VIEW_LOG_TABLE;
    snprintf(d.name, sizeof(d.name), "%s", WC_VIEW_LOG_NAME);
    d.gc_grace_seconds = 0; /* removed entries need no tombstone once compacted */
    return wc_engine_create_table(e, &d);
}

/* What replaying the view update log carries between its pages. */
typedef struct wc__logscan {
    wc_views_sink sink;
    void *arg;
    wc_buf upd;
} wc__logscan;

static wc_status wc__log_scan_page(void *ctx, const wc_page *pg)
{
    wc__logscan *c = ctx;

    for (size_t i = 0; i < pg->nrows; i++) {
        const wc_cell *cell = wc__find_cell(&pg->rows[i], 1);
        if (cell == NULL || pg->rows[i].pk_len != WC_VIEW_LOG_ID_LEN)
            continue;
        wc_buf_reset(&c->upd);
        wc_buf_append(&c->upd, pg->rows[i].pk, WC_VIEW_LOG_ID_LEN);
        wc_buf_append(&c->upd, cell->value, cell->len);
        if (wc_buf_status(&c->upd) != WC_OK)
            return wc_error(WC_NO_MEMORY, "out of memory replaying view updates");
        c->sink(c->arg, c->upd.data, c->upd.len);
    }
    return WC_OK;
}

wc_status wc_views_log_scan(wc_engine *e, wc_views_sink sink, void *arg)
{
    wc__logscan c;
    wc_status st;

    c.sink = sink;
    c.arg = arg;
    wc_buf_init(&c.upd);
    st = wc__scan_pages(e, WC_VIEW_LOG_TABLE, 64, wc__log_scan_page, &c);
    wc_buf_free(&c.upd);
    return st;
}

wc_status wc_views_log_removal(const uint8_t *id, wc_buf *out)
{
    wc_batch_builder b;
    wc_mutation *m;
    const uint8_t *rec;
    size_t rec_len;
    int64_t ts = 0;
    wc_status st;

    for (int i = 0; i < 8; i++)
        ts = (int64_t)(((uint64_t)ts << 8) | id[i]);
    wc_batch_builder_init(&b);
    m = wc_batch_builder_begin(&b, WC_VIEW_LOG_TABLE, id, WC_VIEW_LOG_ID_LEN);
    wc_mutation_delete_partition(m, ts + 1, (uint32_t)time(NULL));
    if ((st = wc_batch_builder_end(&b)) == WC_OK &&
        (st = wc_batch_builder_finish(&b, &rec, &rec_len)) == WC_OK) {
        wc_buf_reset(out);
        wc_buf_append(out, rec, rec_len);
        if (wc_buf_status(out) != WC_OK)
            st = wc_error(WC_NO_MEMORY, "out of memory removing a view update");
    }
    wc_batch_builder_free(&b);
    return st;
}

int wc_views_update_next(const uint8_t **p, const uint8_t *end, wc_views_update *u)
{
    const uint8_t *q = *p;
    uint32_t n;

    if (q == end)
        return 0;
    if (end - q < 8)
        return -1;
    u->base = wc_dec_u32(q);
    n = wc_dec_u32(q + 4);
    q += 8;
    if ((size_t)(end - q) < (size_t)n + 4)
        return -1;
    u->pk = q;
    u->pk_len = n;
    q += n;
    n = wc_dec_u32(q);
    q += 4;
    if ((size_t)(end - q) < n)
        return -1;
    u->batch = q;
    u->batch_len = n;
    *p = q + n;
    return 1;
}

wc_status wc_views_empty_of(wc_views *v, wc_engine *e, uint32_t base_id)
{
    uint32_t *ids;
    size_t n = 0;
    wc_status st = WC_OK;

    pthread_rwlock_rdlock(&v->mu);
    ids = wc_malloc((v->n ? v->n : 1) * sizeof(*ids));
    for (size_t i = 0; ids && i < v->n; i++)
        if (v->v[i].base == base_id)
            ids[n++] = v->v[i].id;
    pthread_rwlock_unlock(&v->mu);
    if (ids == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory emptying materialized views");
    for (size_t i = 0; st == WC_OK && i < n; i++) {
        wc_table_def d;
        if (wc_engine_get_table(e, ids[i], &d) != WC_OK) {
            wc_clear_error();
            continue;
        }
        if ((st = wc_engine_drop_table(e, ids[i])) == WC_OK)
            st = wc_engine_create_table(e, &d);
        wc_table_def_clear(&d);
    }
    wc_free(ids);
    return st;
}
