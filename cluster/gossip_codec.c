/*
 * gossip_codec.c - encoding and bounded decoding of the gossip messages
 * (gossip_format.h, docs/protocol.md "Gossip messages").  Pure functions:
 * thread-safe.
 */
#include <string.h>

#include "alloc.h"
#include "gossip.h"

/* Smallest encodings, to bound counts by the bytes left before allocating. */
#define MIN_ADDR 3 /* host length, one host byte, port */
#define MIN_DIGEST (MIN_ADDR + 2)
#define MIN_STATE (MIN_ADDR + 3)
#define MIN_VALUE 3 /* key, version, value length */

/* ---------------------------------------------------------------- encoding */

static void put_addr(wc_buf *b, const wc_addr *a)
{
    wc_buf_put_bytes(b, a->host, strlen(a->host));
    wc_buf_put_varint(b, a->port);
}

void wc__gossip_put_digest(wc_buf *b, const wc_addr *a, uint32_t generation, uint64_t version)
{
    put_addr(b, a);
    wc_buf_put_varint(b, generation);
    wc_buf_put_varint(b, version);
}

void wc__gossip_put_state_head(wc_buf *b, const wc_addr *a, uint32_t generation, uint64_t heartbeat,
                               size_t nvalues)
{
    put_addr(b, a);
    wc_buf_put_varint(b, generation);
    wc_buf_put_varint(b, heartbeat);
    wc_buf_put_varint(b, nvalues);
}

void wc__gossip_put_value(wc_buf *b, int key, uint64_t version, const uint8_t *value, size_t len)
{
    wc_buf_put_u8(b, (uint8_t)key);
    wc_buf_put_varint(b, version);
    wc_buf_put_bytes(b, value, len);
}

static void put_digests(wc_buf *b, const wc_gossip_digest *d, size_t n)
{
    wc_buf_put_varint(b, n);
    for (size_t i = 0; i < n; i++)
        wc__gossip_put_digest(b, &d[i].addr, d[i].generation, d[i].version);
}

static void put_states(wc_buf *b, const wc_gossip_msg *m)
{
    wc_buf_put_varint(b, m->nstates);
    for (size_t i = 0; i < m->nstates; i++) {
        const wc_gossip_state_ref *s = &m->states[i];
        wc__gossip_put_state_head(b, &s->addr, s->generation, s->heartbeat, s->nvalues);
        for (size_t j = s->first_value; j < s->first_value + s->nvalues; j++)
            wc__gossip_put_value(b, m->values[j].key, m->values[j].version, m->values[j].value,
                                 m->values[j].len);
    }
}

wc_status wc_gossip_encode(const wc_gossip_msg *m, wc_buf *out)
{
    wc_buf_put_u8(out, m->type);
    switch (m->type) {
    case WC_GOSSIP_MSG_SYN:
        wc_buf_put_bytes(out, m->cluster_name, m->cluster_name_len);
        put_digests(out, m->digests, m->ndigests);
        break;
    case WC_GOSSIP_MSG_ACK:
        put_digests(out, m->digests, m->ndigests);
        put_states(out, m);
        break;
    case WC_GOSSIP_MSG_ACK2:
        put_states(out, m);
        break;
    case WC_GOSSIP_MSG_SHUTDOWN:
        wc_buf_put_varint(out, m->generation);
        wc_buf_put_varint(out, m->heartbeat);
        break;
    }
    return wc_buf_status(out);
}

/* ---------------------------------------------------------------- decoding */

typedef struct cursor {
    const uint8_t *p, *end;
} cursor;

static size_t left(const cursor *c)
{
    return (size_t)(c->end - c->p);
}

static wc_status get_addr(cursor *c, wc_addr *a, const char *what)
{
    const uint8_t *host;
    size_t hlen;
    uint64_t port;

    if (!wc_get_bytes(&c->p, c->end, &host, &hlen) || !wc_get_varint(&c->p, c->end, &port))
        return wc_error(WC_CORRUPTION, "gossip: %s address is cut short", what);
    if (hlen == 0 || hlen >= WC_ADDR_HOST_MAX)
        return wc_error(WC_CORRUPTION, "gossip: %s host of %zu bytes (1 to %d)", what, hlen,
                        WC_ADDR_HOST_MAX - 1);
    for (size_t i = 0; i < hlen; i++)
        if (host[i] <= ' ' || host[i] >= 0x7f)
            return wc_error(WC_CORRUPTION, "gossip: %s host has byte 0x%02x", what, host[i]);
    if (port == 0 || port > 65535)
        return wc_error(WC_CORRUPTION, "gossip: %s port %llu", what, (unsigned long long)port);
    memset(a, 0, sizeof(*a));
    memcpy(a->host, host, hlen);
    a->port = (uint16_t)port;
    return WC_OK;
}

static wc_status get_gen_version(cursor *c, uint32_t *gen, uint64_t *version, const char *what)
{
    uint64_t g;

    if (!wc_get_varint(&c->p, c->end, &g) || !wc_get_varint(&c->p, c->end, version))
        return wc_error(WC_CORRUPTION, "gossip: %s is cut short", what);
    if (g == 0 || g > WC_GOSSIP_MAX_GENERATION)
        return wc_error(WC_CORRUPTION, "gossip: %s generation %llu (1 to %u)", what,
                        (unsigned long long)g, WC_GOSSIP_MAX_GENERATION);
    if (*version > WC_GOSSIP_MAX_VERSION)
        return wc_error(WC_CORRUPTION, "gossip: %s version past 2^63", what);
    *gen = (uint32_t)g;
    return WC_OK;
}

/* A count of items of at least min_size bytes each, at most max. */
static wc_status get_count(cursor *c, size_t min_size, size_t max, size_t *n, const char *what)
{
    uint64_t v;

    if (!wc_get_varint(&c->p, c->end, &v))
        return wc_error(WC_CORRUPTION, "gossip: count of %s is cut short", what);
    if (v > max || v > left(c) / min_size)
        return wc_error(WC_CORRUPTION, "gossip: %llu %s in %zu bytes (at most %zu)",
                        (unsigned long long)v, what, left(c), max);
    *n = (size_t)v;
    return WC_OK;
}

static wc_status get_digests(cursor *c, wc_gossip_msg *m)
{
    wc_status st;

    if ((st = get_count(c, MIN_DIGEST, WC_GOSSIP_MAX_ENDPOINTS, &m->ndigests, "digests")) != WC_OK)
        return st;
    if (m->ndigests == 0)
        return WC_OK;
    m->digests = wc_calloc(m->ndigests, sizeof(*m->digests));
    if (m->digests == NULL)
        return wc_error(WC_NO_MEMORY, "gossip: out of memory decoding digests");
    for (size_t i = 0; i < m->ndigests; i++) {
        wc_gossip_digest *d = &m->digests[i];
        if ((st = get_addr(c, &d->addr, "digest")) != WC_OK ||
            (st = get_gen_version(c, &d->generation, &d->version, "digest")) != WC_OK)
            return st;
    }
    return WC_OK;
}

static wc_status push_value(wc_gossip_msg *m, size_t *cap, const wc_gossip_value_ref *v)
{
    if (m->nvalues == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        wc_gossip_value_ref *nv = wc_realloc(m->values, nc * sizeof(*nv));
        if (nv == NULL)
            return wc_error(WC_NO_MEMORY, "gossip: out of memory decoding values");
        m->values = nv;
        *cap = nc;
    }
    m->values[m->nvalues++] = *v;
    return WC_OK;
}

static wc_status get_values(cursor *c, wc_gossip_msg *m, size_t *cap, wc_gossip_state_ref *s)
{
    wc_status st;
    int prev = -1;

    if ((st = get_count(c, MIN_VALUE, WC_GOSSIP_MAX_KEYS, &s->nvalues, "values")) != WC_OK)
        return st;
    s->first_value = m->nvalues;
    for (size_t j = 0; j < s->nvalues; j++) {
        wc_gossip_value_ref v;
        if (!wc_get_u8(&c->p, c->end, &v.key) || !wc_get_varint(&c->p, c->end, &v.version) ||
            !wc_get_bytes(&c->p, c->end, &v.value, &v.len))
            return wc_error(WC_CORRUPTION, "gossip: value is cut short");
        if (v.key >= WC_GOSSIP_MAX_KEYS || (int)v.key <= prev)
            return wc_error(WC_CORRUPTION,
                            "gossip: key %u after %d (keys are below %d, increasing)", v.key, prev,
                            WC_GOSSIP_MAX_KEYS);
        if (v.version > WC_GOSSIP_MAX_VERSION)
            return wc_error(WC_CORRUPTION, "gossip: value version past 2^63");
        if (v.len > WC_GOSSIP_MAX_VALUE)
            return wc_error(WC_CORRUPTION, "gossip: value of %zu bytes (at most %d)", v.len,
                            WC_GOSSIP_MAX_VALUE);
        prev = v.key;
        if ((st = push_value(m, cap, &v)) != WC_OK)
            return st;
    }
    return WC_OK;
}

static wc_status get_states(cursor *c, wc_gossip_msg *m)
{
    wc_status st;
    size_t cap = 0;

    if ((st = get_count(c, MIN_STATE, WC_GOSSIP_MAX_ENDPOINTS, &m->nstates, "states")) != WC_OK)
        return st;
    if (m->nstates == 0)
        return WC_OK;
    m->states = wc_calloc(m->nstates, sizeof(*m->states));
    if (m->states == NULL)
        return wc_error(WC_NO_MEMORY, "gossip: out of memory decoding states");
    for (size_t i = 0; i < m->nstates; i++) {
        wc_gossip_state_ref *s = &m->states[i];
        if ((st = get_addr(c, &s->addr, "state")) != WC_OK ||
            (st = get_gen_version(c, &s->generation, &s->heartbeat, "state")) != WC_OK ||
            (st = get_values(c, m, &cap, s)) != WC_OK)
            return st;
    }
    return WC_OK;
}

wc_status wc_gossip_decode(const uint8_t *msg, size_t len, wc_gossip_msg *out)
{
    cursor c = {msg + 1, msg + len};
    wc_status st = WC_OK;

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return wc_error(WC_CORRUPTION, "gossip: empty message");
    out->type = msg[0];
    switch (out->type) {
    case WC_GOSSIP_MSG_SYN:
        if (!wc_get_bytes(&c.p, c.end, &out->cluster_name, &out->cluster_name_len))
            return wc_error(WC_CORRUPTION, "gossip: SYN cluster name is cut short");
        if (out->cluster_name_len == 0 || out->cluster_name_len > WC_GOSSIP_MAX_CLUSTER_NAME)
            return wc_error(WC_CORRUPTION, "gossip: cluster name of %zu bytes (1 to %d)",
                            out->cluster_name_len, WC_GOSSIP_MAX_CLUSTER_NAME);
        st = get_digests(&c, out);
        break;
    case WC_GOSSIP_MSG_ACK:
        if ((st = get_digests(&c, out)) == WC_OK)
            st = get_states(&c, out);
        break;
    case WC_GOSSIP_MSG_ACK2:
        st = get_states(&c, out);
        break;
    case WC_GOSSIP_MSG_SHUTDOWN:
        st = get_gen_version(&c, &out->generation, &out->heartbeat, "SHUTDOWN");
        break;
    default:
        return wc_error(WC_INVALID_ARGUMENT, "gossip: unknown message type %u", out->type);
    }
    if (st == WC_OK && c.p != c.end)
        st = wc_error(WC_CORRUPTION, "gossip: %zu trailing bytes", left(&c));
    return st;
}

void wc_gossip_msg_free(wc_gossip_msg *m)
{
    wc_free(m->digests);
    wc_free(m->states);
    wc_free(m->values);
    m->digests = NULL;
    m->states = NULL;
    m->values = NULL;
    m->ndigests = m->nstates = m->nvalues = 0;
}
