/*
 * cluster.c - the cluster runtime of one node: the state file, the
 * transport, the gossiper, the local application states, the choice of
 * tokens, the ring snapshot and the membership that MEMBERS serves
 * (contract in cluster.h; value encodings in docs/protocol.md).
 *
 * Threads: the owner thread runs start and stop, and hands work to the
 * loop with wc__on_loop (post, then wait).  Everything that touches the
 * gossiper, the coordinator and hint delivery runs on the loop thread; node
 * workers hand their writes and reads to it the same way (wc__ask).  c->mu
 * guards the encoded membership, which node worker threads copy; the ring
 * slot has its own mutex; the hint settings are atomics.
 */
#include "cluster.h"
#include "view_pair.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "batchlog.h"
#include "paxos.h"
#include "fs.h"
#include "gossip.h"
#include "hint_delivery.h"
#include "hints.h"
#include "merkle.h"
#include "msg_types.h"
#include "protocol.h"
#include "repair.h"
#include "repair_format.h"
#include "replace_format.h"
#include "schema_runtime.h"
#include "stream.h"
#include "transfer.h"
#include "transport.h"

#define WC__STATE_MAGIC "widecol-cluster-state 1"
#define WC__STATE_MAX_BYTES (64u << 10)
#define WC__JOIN_CHECK_MS 200u
#define WC__ALLOCATION_RF 3u      /* as Cassandra's allocate_tokens_for_local_replication_factor */
#define WC__LOAD_MAX_DEPTH 8
#define WC__SHUTDOWN_LINGER_MS 200 /* lets the SHUTDOWN messages leave before the loop stops */
#define WC__HINTS_SYNC_MS 10000u   /* hints are fsynced this often (Cassandra's hints_flush_period) */
#define WC__BOOT_RETRY_MS 5000u     /* a bootstrap that could not stream everything tries again */
#define WC__BOOT_WAIT_LOG_MS 10000u /* the line of a node waiting for another's join */
#define WC__TRANSFER_TIMEOUT_MS (3600u * 1000u) /* one new owner's pull of a leaving node's ranges */
#define WC__HANDOFF_POLL_MS 500u    /* a leaving node looks at its hints and batchlog this often */
#define WC__HANDOFF_TIMEOUT_MS (600u * 1000u) /* ... and gives up handing them over after */
#define WC__MAX_REMOVED 64          /* host ids a node announces as removed (REMOVED) */
#define WC__REPLACE_ASKING 1        /* replace_address: asking the seeds, not gossiping */
#define WC__REPLACE_REFUSED 2       /* replace_address refused: out of the ring until a restart */
#define WC__REPLACE_ASK_MS 1000u    /* the seeds are asked again this often */
#define WC__LEFT_DETAIL                                                                            \
    "this node left its cluster (decommissioned or removed) and takes no requests; to use "       \
    "this instance again, stop it, empty its widecol data directory and start it again"

/* When a peer was last seen going down (the hint window). */
typedef struct wc__down {
    wc_addr addr;
    int64_t since_us; /* 0: up */
} wc__down;

struct wc_cluster {
    char *data_dir, *cluster_name, *dc, *rack, *sql_address, *release_version;
    char state_path[4096];
    wc_fs *fs; /* the node's files (wc_cluster_options) */
    wc_addr *seeds;
    size_t nseeds;
    uint32_t num_tokens;
    double phi;
    uint64_t interval_ms;
    uint32_t join_wait_ms, load_interval_ms;
    uint32_t stream_page_rows;
    wc_log_fn log;
    void *log_arg;

    wc_env *env;
    bool external_env;                /* env given (the simulator): no transport, no waiting */
    wc_gossip *gossip;                /* loop only */
    wc_engine *engine;                /* the node's, for the schema runtime; may be NULL */
    wc_schema_runtime *schema;        /* NULL without an engine */
    uint8_t host_id[WC_RING_HOST_ID_LEN];
    uint32_t generation;
    int64_t *tokens;                  /* sorted; NULL until chosen */
    uint32_t ntokens;
    uint64_t join_started_ms;
    bool bootstrapping;               /* tokens chosen, data not streamed yet ("bootstrap 1") */
    wc_stream *stream;                /* streaming (with coordination) */
    wc_transfer *transfer;            /* asking new owners to pull ranges (with coordination) */
    struct wc__topo *topo;            /* the decommission or removenode running here (loop) */
    uint64_t topo_timer;              /* its next step, while it waits (loop) */
    bool leaving;                     /* announced "leaving": decommissioning ("leaving 1"; loop) */
    atomic_bool left;                 /* decommissioned or removed: requests refused */
    uint8_t removing[WC_RING_HOST_ID_LEN]; /* the host a removenode here streams for */
    bool has_removing;
    uint8_t (*removed)[WC_RING_HOST_ID_LEN]; /* hosts removed by this node (state file, REMOVED) */
    uint32_t nremoved;
    /* replacing a dead node (replace_address; loop only) */
    bool replacing;                   /* taking replace_id's tokens over ("replacing <hex>") */
    uint8_t replace_id[WC_RING_HOST_ID_LEN];
    int replace_phase;                /* WC__REPLACE_ASKING or _REFUSED before gossiping; else 0 */
    wc_addr replace_addr;             /* the dead node's address, while asking */
    uint64_t replace_logged_ms;       /* the last "waiting for a seed" line */
    char replace_why[256];            /* the refusal: requests fail with it */
    uint32_t boot_sessions;           /* bootstrap pulls still running */
    uint32_t boot_ranges;
    bool boot_failed;
    wc_ring *boot_ring;               /* the ring the bootstrap's ranges were planned on */
    uint64_t boot_wait_logged_ms;
    uint8_t warned_type[32];          /* unknown message types logged once (bitmap) */

    wc_ring_slot slot;
    pthread_mutex_t mu;               /* guards members */
    wc_buf members;                   /* the MEMBERS body of the current view */

    /* coordination: set at start, loop only after */
    wc_cluster_local local;
    atomic_bool store_opened;         /* any thread reads it */
    wc_replica_store store;
    wc_coord *coord;
    wc_hints *hints;
    wc_hint_delivery *delivery;
    wc_batchlog *batchlog;            /* loop only; NULL without a coordinator */
    wc_batchlog_dir *batchlog_dir;
    atomic_uint batchlog_replay_ms;   /* replay_after of the batchlog (0: its default) */
    wc_paxos *paxos;                  /* lightweight transactions; loop only */
    wc_view_pair *views;              /* paired view updates; loop only */
    wc_paxos_file *paxos_file;
    wc_repair *repair;                /* Merkle-tree exchange (repair.h) */
    bool stopping;                    /* coordination messages and requests refused */
    bool ring_ready;                  /* the coordinator has the ring (wc__ring_ready) */
    wc__down *down;
    size_t ndown, down_cap;
    atomic_bool hints_enabled;
    atomic_uint_fast64_t hint_window_ms;
    /* topology changes: set on the loop (wc__note_topology), read by any thread */
    atomic_bool ring_changing;        /* a live node joins or leaves, or a removal runs */
    char changing_why[160];           /* which (under mu) */
    pthread_mutex_t stats_mu;         /* one wc_cluster_coord_stats or _streams at a time */
    wc_coord_stats *stats_out;
    wc_buf *streams_out;
};

/* ---------------------------------------------------------------- helpers */

static void wc__log(wc_cluster *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wc__log(wc_cluster *c, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (c->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->log(c->log_arg, level, line);
}

static void wc__transport_log(void *arg, wc_env_log_level level, const char *line)
{
    wc__log(arg, (int)level, "%s", line);
}

static char *wc__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = wc_malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static int wc__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- state file */

/* 32 hexadecimal digits into a host id; false if malformed. */
static bool wc__hex_id(const char *h, uint8_t out[WC_RING_HOST_ID_LEN])
{
    if (strlen(h) != 2 * WC_RING_HOST_ID_LEN)
        return false;
    for (int i = 0; i < WC_RING_HOST_ID_LEN; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

/* Remember that this node removed host id (the oldest forgotten past WC__MAX_REMOVED). */
static wc_status wc__removed_add(wc_cluster *c, const uint8_t id[WC_RING_HOST_ID_LEN])
{
    for (uint32_t i = 0; i < c->nremoved; i++)
        if (memcmp(c->removed[i], id, WC_RING_HOST_ID_LEN) == 0)
            return WC_OK;
    if (c->removed == NULL &&
        (c->removed = wc_calloc(WC__MAX_REMOVED, WC_RING_HOST_ID_LEN)) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory remembering a removed node");
    if (c->nremoved == WC__MAX_REMOVED) {
        memmove(c->removed[0], c->removed[1], (WC__MAX_REMOVED - 1) * WC_RING_HOST_ID_LEN);
        c->nremoved--;
    }
    memcpy(c->removed[c->nremoved++], id, WC_RING_HOST_ID_LEN);
    return WC_OK;
}

/*
 * Read the state file: host id, last generation, tokens.  *found is false
 * when there is none.  WC_CORRUPTION for a damaged file.
 */
static wc_status wc__state_read(wc_cluster *c, bool *found, uint32_t *generation)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char *text = NULL, *line, *save = NULL;
    bool have_id = false, have_gen = false, have_tokens = false, first = true;
    bool exists = false;
    wc_status st;
    wc_fs *fs = c->fs;

    *found = false;
    if ((st = fs->exists(fs, c->state_path, &exists)) != WC_OK)
        return st;
    if (!exists)
        return WC_OK;
    if ((st = wc_fs_read_all(fs, c->state_path, WC__STATE_MAX_BYTES, &data, &len)) != WC_OK)
        return st;
    text = wc_malloc(len + 1);
    if (text == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory reading %s", c->state_path);
        goto fail;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) {
            if (strcmp(line, WC__STATE_MAGIC) != 0)
                goto bad;
            first = false;
        } else if (strncmp(line, "host_id ", 8) == 0) {
            if (!wc__hex_id(line + 8, c->host_id))
                goto bad;
            have_id = true;
        } else if (strncmp(line, "generation ", 11) == 0) {
            char *end;
            unsigned long v = strtoul(line + 11, &end, 10);
            if (*end || v > UINT32_MAX)
                goto bad;
            *generation = (uint32_t)v;
            have_gen = true;
        } else if (strcmp(line, "bootstrap 1") == 0) {
            c->bootstrapping = true;
        } else if (strcmp(line, "decommissioned 1") == 0) {
            atomic_store(&c->left, true);
        } else if (strcmp(line, "leaving 1") == 0) {
            c->leaving = true;
        } else if (strncmp(line, "replacing ", 10) == 0) {
            if (!wc__hex_id(line + 10, c->replace_id))
                goto bad;
            c->replacing = true;
        } else if (strncmp(line, "removed ", 8) == 0) {
            uint8_t id[WC_RING_HOST_ID_LEN];
            if (!wc__hex_id(line + 8, id))
                goto bad;
            if ((st = wc__removed_add(c, id)) != WC_OK)
                goto fail;
        } else if (strncmp(line, "tokens ", 7) == 0) {
            char *p = line + 7, *end;
            unsigned long n = strtoul(p, &end, 10);
            if (end == p || n > WC_RING_MAX_TOKENS_PER_HOST)
                goto bad;
            if (n) {
                c->tokens = wc_malloc(n * sizeof(int64_t));
                if (c->tokens == NULL) {
                    st = wc_error(WC_NO_MEMORY, "out of memory reading %s", c->state_path);
                    goto fail;
                }
            }
            p = end;
            for (unsigned long i = 0; i < n; i++) {
                errno = 0;
                c->tokens[i] = strtoll(p, &end, 10);
                if (end == p || *p != ' ' || errno)
                    goto bad;
                p = end;
            }
            if (*p)
                goto bad;
            c->ntokens = (uint32_t)n;
            have_tokens = true;
        } else
            goto bad;
    }
    if (first || !have_id || !have_gen || !have_tokens)
        goto bad;
    if (c->ntokens)
        qsort(c->tokens, c->ntokens, sizeof(int64_t), wc__cmp_i64);
    *found = true;
    wc_free(text);
    wc_free(data);
    return WC_OK;
bad:
    st = wc_error(WC_CORRUPTION,
                  "the cluster state file \"%s\" is damaged; it holds the node's host id and "
                  "tokens: restore it from a backup",
                  c->state_path);
fail:
    wc_free(c->tokens);
    c->tokens = NULL;
    c->ntokens = 0;
    wc_free(text);
    wc_free(data);
    return st;
}

/* Write the state file (atomically, synced). */
static wc_status wc__state_write(wc_cluster *c)
{
    wc_buf b;
    char tmp[64];
    wc_status st;

    wc_buf_init(&b);
    wc_buf_append(&b, WC__STATE_MAGIC "\nhost_id ", strlen(WC__STATE_MAGIC "\nhost_id "));
    for (int i = 0; i < WC_RING_HOST_ID_LEN; i++) {
        snprintf(tmp, sizeof(tmp), "%02x", c->host_id[i]);
        wc_buf_append(&b, tmp, 2);
    }
    snprintf(tmp, sizeof(tmp), "\ngeneration %" PRIu32 "\ntokens %" PRIu32, c->generation,
             c->ntokens);
    wc_buf_append(&b, tmp, strlen(tmp));
    for (uint32_t i = 0; i < c->ntokens; i++) {
        snprintf(tmp, sizeof(tmp), " %" PRId64, c->tokens[i]);
        wc_buf_append(&b, tmp, strlen(tmp));
    }
    wc_buf_append(&b, "\n", 1);
    if (c->bootstrapping && c->ntokens)
        wc_buf_append(&b, "bootstrap 1\n", 12);
    if (c->replacing && c->bootstrapping && c->ntokens) {
        wc_buf_append(&b, "replacing ", 10);
        for (int i = 0; i < WC_RING_HOST_ID_LEN; i++) {
            snprintf(tmp, sizeof(tmp), "%02x", c->replace_id[i]);
            wc_buf_append(&b, tmp, 2);
        }
        wc_buf_append(&b, "\n", 1);
    }
    if (atomic_load(&c->left))
        wc_buf_append(&b, "decommissioned 1\n", 17);
    else if (c->leaving && c->ntokens)
        wc_buf_append(&b, "leaving 1\n", 10);
    for (uint32_t r = 0; r < c->nremoved; r++) {
        wc_buf_append(&b, "removed ", 8);
        for (int i = 0; i < WC_RING_HOST_ID_LEN; i++) {
            snprintf(tmp, sizeof(tmp), "%02x", c->removed[r][i]);
            wc_buf_append(&b, tmp, 2);
        }
        wc_buf_append(&b, "\n", 1);
    }
    if ((st = wc_buf_status(&b)) == WC_OK)
        st = wc_fs_write_atomic(c->fs, c->state_path, b.data, b.len);
    wc_buf_free(&b);
    return st;
}

/* ---------------------------------------------------------------- load */

/* Bytes of the regular files under dir (symbolic links not followed). */
static uint64_t wc__dir_bytes(const char *dir, int depth)
{
    DIR *d;
    struct dirent *de;
    uint64_t total = 0;
    char path[4096];
    struct stat sb;

    if (depth > WC__LOAD_MAX_DEPTH || (d = opendir(dir)) == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
            continue;
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISREG(sb.st_mode))
            total += (uint64_t)sb.st_size;
        else if (S_ISDIR(sb.st_mode))
            total += wc__dir_bytes(path, depth + 1);
    }
    closedir(d);
    return total;
}

static void wc__set_load(wc_cluster *c)
{
    uint8_t v[8];

    wc_enc_u64(v, wc__dir_bytes(c->data_dir, 0));
    if (wc_gossip_set_local(c->gossip, WC_GOSSIP_LOAD, v, sizeof(v)) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not announce the load: %s", wc_last_error());
}

/* ---------------------------------------------------------------- views */

/* The tokens of a TOKENS value (n x i64 little-endian); false if malformed. */
static bool wc__tokens_of(const uint8_t *v, size_t len, uint32_t *n)
{
    if (len == 0 || len % 8 || len / 8 > WC_RING_MAX_TOKENS_PER_HOST)
        return false;
    *n = (uint32_t)(len / 8);
    return true;
}

/* A text state of ep into out (cut to cap; "" when absent). */
static void wc__get_text(const wc_cluster *c, const wc_addr *ep, int key, char *out, size_t cap)
{
    const uint8_t *v;
    size_t len;

    out[0] = '\0';
    if (wc_gossip_get(c->gossip, ep, key, &v, &len) != WC_OK)
        return;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
    if (memchr(out, '\0', len))
        out[0] = '\0';
}

typedef struct wc__tok_ref {
    int64_t token;
    uint32_t member; /* index into the candidates, which are sorted by host id */
} wc__tok_ref;

static int wc__cmp_tok_ref(const void *a, const void *b)
{
    const wc__tok_ref *x = a, *y = b;

    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    return (x->member > y->member) - (x->member < y->member);
}

static int wc__cmp_member(const void *a, const void *b)
{
    return memcmp(((const wc_ring_member *)a)->host_id, ((const wc_ring_member *)b)->host_id,
                  WC_RING_HOST_ID_LEN);
}

/* Whether some known node announces host id among the hosts it removed (REMOVED). */
static bool wc__is_removed(wc_cluster *c, const uint8_t *id)
{
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip); i++) {
        const uint8_t *v;
        size_t len;

        if (wc_gossip_get(c->gossip, wc_gossip_endpoint(c->gossip, i), WC_GOSSIP_REMOVED, &v,
                          &len) != WC_OK)
            continue;
        for (size_t k = 0; k + WC_RING_HOST_ID_LEN <= len; k += WC_RING_HOST_ID_LEN)
            if (memcmp(v + k, id, WC_RING_HOST_ID_LEN) == 0)
                return true;
    }
    return false;
}

/*
 * Whether some known node with tokens, joining or normal, announces that it
 * replaces host id (REPLACING); *by_normal: one of them is normal (the
 * replacement is over).
 */
static bool wc__replaced_by(wc_cluster *c, const uint8_t *id, bool *by_normal)
{
    bool found = false;

    *by_normal = false;
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip); i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;
        wc_gossip_status s;

        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_REPLACING, &v, &len) != WC_OK ||
            len != WC_RING_HOST_ID_LEN || memcmp(v, id, len) != 0 ||
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) != WC_OK)
            continue;
        s = wc_gossip_status_of(v, len);
        if (s == WC_GOSSIP_STATUS_NORMAL || s == WC_GOSSIP_STATUS_LEAVING ||
            s == WC_GOSSIP_STATUS_SHUTDOWN)
            *by_normal = found = true;
        else if (s == WC_GOSSIP_STATUS_JOINING &&
                 wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) == WC_OK && len)
            found = true;
    }
    return found;
}

/*
 * Whether ring member m is up: the node gossiping at its address is up and
 * has its host id (a dead node replaced at its own address is down).
 */
static bool wc__member_alive(wc_cluster *c, const wc_ring_member *m)
{
    const uint8_t *id;
    size_t len;

    return wc_gossip_is_alive(c->gossip, &m->addr) &&
           wc_gossip_get(c->gossip, &m->addr, WC_GOSSIP_HOST_ID, &id, &len) == WC_OK &&
           len == WC_RING_HOST_ID_LEN && memcmp(id, m->host_id, len) == 0;
}

/*
 * When ep is joining to replace a dead host that mem[0..*m) lacks (and no
 * node removed): that host as mem[*m] (its tokens in own[*m]), with ep's
 * address, data centre, rack and tokens.  WC_NO_MEMORY.
 */
static wc_status wc__replaced_member(wc_cluster *c, const wc_addr *ep, wc_ring_member *mem,
                                     int64_t **own, size_t *m, size_t *total)
{
    const uint8_t *v, *id;
    size_t len, idlen;
    uint32_t nt;
    wc_ring_member *x = &mem[*m];

    if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) != WC_OK ||
        wc_gossip_status_of(v, len) != WC_GOSSIP_STATUS_JOINING ||
        wc_gossip_get(c->gossip, ep, WC_GOSSIP_REPLACING, &id, &idlen) != WC_OK ||
        idlen != WC_RING_HOST_ID_LEN || wc__is_removed(c, id) ||
        wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) != WC_OK ||
        !wc__tokens_of(v, len, &nt))
        return WC_OK;
    for (size_t i = 0; i < *m; i++)
        if (memcmp(mem[i].host_id, id, WC_RING_HOST_ID_LEN) == 0)
            return WC_OK;
    memset(x, 0, sizeof(*x));
    x->addr = *ep;
    memcpy(x->host_id, id, WC_RING_HOST_ID_LEN);
    wc__get_text(c, ep, WC_GOSSIP_DC, x->dc, sizeof(x->dc));
    wc__get_text(c, ep, WC_GOSSIP_RACK, x->rack, sizeof(x->rack));
    if (!x->dc[0] || !x->rack[0])
        return WC_OK;
    if ((own[*m] = wc_malloc(nt * sizeof(int64_t))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory building the ring");
    for (uint32_t t = 0; t < nt; t++)
        own[*m][t] = (int64_t)wc_dec_u64(v + 8 * t);
    x->tokens = own[*m];
    x->ntokens = nt;
    *total += nt;
    (*m)++;
    return WC_OK;
}

/*
 * The ring of the members known with tokens in state normal, leaving or
 * shutdown (NULL if none); with pending the ring after the changes under
 * way: joining members in, leaving ones out.  Members some node removed,
 * and exclude (NULL: none), are left out.  A dead member being replaced
 * stays in the ring until its replacement is normal (when it is known no
 * more, as after a replacement at its own address, it is rebuilt from the
 * replacement's announcement, at the replacement's address); the pending
 * ring holds the replacement in its place.  A token announced by two hosts
 * stays with the lower host id; a host id announced at two addresses
 * counts once.
 */
static wc_status wc__build_ring_of(wc_cluster *c, bool pending, const uint8_t *exclude,
                                   wc_ring **out)
{
    size_t n = wc_gossip_endpoint_count(c->gossip), m = 0, total = 0, kept = 0;
    wc_ring_member *mem = wc_calloc(n ? n : 1, sizeof(*mem));
    int64_t **own = wc_calloc(n ? n : 1, sizeof(*own));
    wc__tok_ref *refs = NULL;
    uint32_t *counts = NULL;
    wc_status st = WC_OK;

    *out = NULL;
    if (mem == NULL || own == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory building the ring");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v, *id;
        size_t len, idlen;
        uint32_t nt;
        wc_gossip_status s = WC_GOSSIP_STATUS_UNKNOWN;
        bool by_normal;

        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) == WC_OK)
            s = wc_gossip_status_of(v, len);
        if (s != WC_GOSSIP_STATUS_NORMAL && s != WC_GOSSIP_STATUS_SHUTDOWN &&
            !(pending ? s == WC_GOSSIP_STATUS_JOINING : s == WC_GOSSIP_STATUS_LEAVING))
            continue;
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_HOST_ID, &id, &idlen) != WC_OK ||
            idlen != WC_RING_HOST_ID_LEN ||
            (exclude && memcmp(id, exclude, WC_RING_HOST_ID_LEN) == 0) || wc__is_removed(c, id) ||
            (wc__replaced_by(c, id, &by_normal) && (pending || by_normal)) ||
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) != WC_OK ||
            !wc__tokens_of(v, len, &nt))
            continue;
        mem[m].addr = *ep;
        memcpy(mem[m].host_id, id, WC_RING_HOST_ID_LEN);
        wc__get_text(c, ep, WC_GOSSIP_DC, mem[m].dc, sizeof(mem[m].dc));
        wc__get_text(c, ep, WC_GOSSIP_RACK, mem[m].rack, sizeof(mem[m].rack));
        if (!mem[m].dc[0] || !mem[m].rack[0])
            continue;
        own[m] = wc_malloc(nt * sizeof(int64_t));
        if (own[m] == NULL) {
            st = wc_error(WC_NO_MEMORY, "out of memory building the ring");
            goto done;
        }
        for (uint32_t t = 0; t < nt; t++)
            own[m][t] = (int64_t)wc_dec_u64(v + 8 * t);
        mem[m].tokens = own[m];
        mem[m].ntokens = nt;
        total += nt;
        m++;
    }
    for (size_t i = 0; i < n && !pending; i++)
        if ((st = wc__replaced_member(c, wc_gossip_endpoint(c->gossip, i), mem, own, &m,
                                      &total)) != WC_OK)
            goto done;
    if (m == 0)
        goto done;
    /* sort members by host id (carrying their token arrays), then drop repeats */
    qsort(mem, m, sizeof(*mem), wc__cmp_member);
    refs = wc_malloc(total * sizeof(*refs));
    counts = wc_calloc(m, sizeof(*counts));
    if (refs == NULL || counts == NULL) {
        st = wc_error(WC_NO_MEMORY, "out of memory building the ring");
        goto done;
    }
    for (size_t i = 0, k = 0; i < m; i++) {
        bool dup_host = i > 0 && memcmp(mem[i].host_id, mem[i - 1].host_id, WC_RING_HOST_ID_LEN) == 0;
        for (uint32_t t = 0; t < mem[i].ntokens; t++, k++) {
            refs[k].token = mem[i].tokens[t];
            refs[k].member = dup_host ? UINT32_MAX : (uint32_t)i;
        }
    }
    qsort(refs, total, sizeof(*refs), wc__cmp_tok_ref);
    for (size_t k = 0; k < total; k++) {
        if (refs[k].member == UINT32_MAX)
            continue;
        if (k > 0 && refs[k - 1].token == refs[k].token) {
            char a[80];
            wc_addr_format(&mem[refs[k].member].addr, a, sizeof(a));
            wc__log(c, WC_LOG_WARNING,
                    "cluster: token %" PRId64 " of %s is already owned by another node; "
                    "the ring leaves it out (start nodes one at a time)",
                    refs[k].token, a);
            continue;
        }
        /* tokens of each member are rewritten in place, in token order */
        ((int64_t *)mem[refs[k].member].tokens)[counts[refs[k].member]++] = refs[k].token;
    }
    for (size_t i = 0; i < m; i++) {
        mem[i].ntokens = counts[i];
        if (counts[i])
            mem[kept++] = mem[i];
    }
    if (kept)
        st = wc_ring_build(mem, kept, out);
done:
    for (size_t i = 0; i < n && own; i++)
        wc_free(own[i]);
    wc_free(own);
    wc_free(mem);
    wc_free(refs);
    wc_free(counts);
    return st;
}

static wc_status wc__build_ring(wc_cluster *c, wc_ring **out)
{
    return wc__build_ring_of(c, false, NULL, out);
}

/* Re-encode the membership that MEMBERS serves. */
static void wc__publish_members(wc_cluster *c)
{
    size_t n = wc_gossip_endpoint_count(c->gossip);
    wc_member_info *m = wc_calloc(n ? n : 1, sizeof(*m));
    wc_buf b;

    if (m == NULL) {
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory listing the members");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;
        uint32_t nt;

        wc_addr_format(ep, m[i].address, sizeof(m[i].address));
        wc__get_text(c, ep, WC_GOSSIP_DC, m[i].dc, sizeof(m[i].dc));
        wc__get_text(c, ep, WC_GOSSIP_RACK, m[i].rack, sizeof(m[i].rack));
        wc__get_text(c, ep, WC_GOSSIP_SCHEMA, m[i].schema_version, sizeof(m[i].schema_version));
        wc__get_text(c, ep, WC_GOSSIP_SQL_ADDRESS, m[i].sql_address, sizeof(m[i].sql_address));
        wc__get_text(c, ep, WC_GOSSIP_RELEASE_VERSION, m[i].release_version,
                     sizeof(m[i].release_version));
        m[i].up = wc_gossip_is_alive(c->gossip, ep);
        m[i].local = wc_addr_equal(ep, &c->env->self);
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) == WC_OK)
            m[i].status = (uint8_t)wc_gossip_status_of(v, len);
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_LOAD, &v, &len) == WC_OK && len == 8) {
            m[i].load_bytes = wc_dec_u64(v);
            m[i].has_load = true;
        }
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_HOST_ID, &v, &len) == WC_OK &&
            len == WC_MEMBER_HOST_ID_LEN) {
            memcpy(m[i].host_id, v, len);
            m[i].has_host_id = true;
            if (wc__is_removed(c, m[i].host_id)) /* removenode: it left the ring */
                m[i].status = WC_GOSSIP_STATUS_LEFT;
        }
        /* tokens are encoded from the gossiper's bytes, which stay put during this call */
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) == WC_OK &&
            wc__tokens_of(v, len, &nt)) {
            int64_t *t = wc_malloc(nt * sizeof(int64_t));
            if (t) {
                for (uint32_t k = 0; k < nt; k++)
                    t[k] = (int64_t)wc_dec_u64(v + 8 * k);
                m[i].tokens = t;
                m[i].ntokens = nt;
            }
        }
    }
    wc_buf_init(&b);
    wc_proto_put_members(&b, true, m, n);
    if (wc_buf_status(&b) == WC_OK) {
        wc_buf old;
        pthread_mutex_lock(&c->mu);
        old = c->members;
        c->members = b;
        pthread_mutex_unlock(&c->mu);
        wc_buf_free(&old);
    } else {
        wc_buf_free(&b);
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory listing the members");
    }
    for (size_t i = 0; i < n; i++)
        wc_free((void *)m[i].tokens);
    wc_free(m);
}

static bool wc__heard_from_cluster(wc_cluster *c);
static bool wc__has_other_seed(wc_cluster *c);

/*
 * Whether the ring is complete enough to coordinate with: a node that has
 * other seeds waits until it heard from the cluster.  Before that its ring
 * holds itself alone, and the levels, capped by the nodes of the ring,
 * would be met by this node only (a restarted node would acknowledge a
 * QUORUM write that no other replica got).
 */
static bool wc__ring_ready(wc_cluster *c)
{
    if (!c->ring_ready)
        c->ring_ready = !wc__has_other_seed(c) || wc__heard_from_cluster(c);
    return c->ring_ready;
}

/*
 * Whether the ring is changing: a live node other than this one joins
 * with its tokens or leaves, or this node is not normal (into
 * c->ring_changing and c->changing_why).
 */
static void wc__note_topology(wc_cluster *c)
{
    char why[sizeof(c->changing_why)] = "";

    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip) && !why[0]; i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;
        wc_gossip_status s;
        bool self = wc_addr_equal(ep, &c->env->self);
        char a[80];

        if ((!self && !wc_gossip_is_alive(c->gossip, ep)) ||
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) != WC_OK)
            continue;
        s = wc_gossip_status_of(v, len);
        wc_addr_format(ep, a, sizeof(a));
        if (s == WC_GOSSIP_STATUS_JOINING &&
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) == WC_OK)
            snprintf(why, sizeof(why), "node %s is joining", a);
        else if (s == WC_GOSSIP_STATUS_LEAVING)
            snprintf(why, sizeof(why), "node %s is leaving", a);
    }
    if (!why[0] && c->has_removing)
        snprintf(why, sizeof(why), "a removenode runs on this node");
    pthread_mutex_lock(&c->mu);
    memcpy(c->changing_why, why, sizeof(why));
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->ring_changing, why[0] != '\0');
}

static bool wc__same_ring(const wc_ring *a, const wc_ring *b);

/*
 * Drop the hints kept for hosts that left the ring for good: removed by a
 * node (REMOVED), or replaced by a node that is normal (REPLACING).
 */
static void wc__drop_gone_hints(wc_cluster *c)
{
    for (size_t i = 0; c->hints && i < wc_gossip_endpoint_count(c->gossip); i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;
        bool by_normal;

        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_REMOVED, &v, &len) == WC_OK)
            for (size_t k = 0; k + WC_RING_HOST_ID_LEN <= len; k += WC_RING_HOST_ID_LEN)
                if (wc_hints_delete_target(c->hints, v + k) != WC_OK)
                    wc__log(c, WC_LOG_WARNING, "cluster: could not drop a removed node's hints: %s",
                            wc_last_error());
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_REPLACING, &v, &len) == WC_OK &&
            len == WC_RING_HOST_ID_LEN && wc__replaced_by(c, v, &by_normal) && by_normal &&
            wc_hints_delete_target(c->hints, v) != WC_OK)
            wc__log(c, WC_LOG_WARNING, "cluster: could not drop a replaced node's hints: %s",
                    wc_last_error());
    }
}

static void wc__refresh(wc_cluster *c, bool ring)
{
    if (!atomic_load(&c->left) && wc__is_removed(c, c->host_id)) {
        /* a node removed this one while it was down: it takes no part any more */
        atomic_store(&c->left, true);
        wc__log(c, WC_LOG_WARNING, "cluster: another node removed this node from the ring "
                                   "(removenode); %s",
                WC__LEFT_DETAIL);
        if (wc__state_write(c) != WC_OK)
            wc__log(c, WC_LOG_WARNING, "cluster: could not store the removal: %s",
                    wc_last_error());
        (void)wc_gossip_set_local(c->gossip, WC_GOSSIP_STATUS, "left", 4);
        ring = true;
    }
    wc__note_topology(c);
    if (ring) {
        wc_ring *r = NULL;
        if (wc__build_ring(c, &r) != WC_OK)
            wc__log(c, WC_LOG_WARNING, "cluster: could not rebuild the ring: %s", wc_last_error());
        else if (r) {
            wc_ring_slot_set(&c->slot, r);
            if (c->coord && wc__ring_ready(c))
                wc_coord_set_ring(c->coord, r);
            if (c->batchlog && wc__ring_ready(c))
                wc_batchlog_set_ring(c->batchlog, r);
            if (c->paxos && wc__ring_ready(c))
                wc_paxos_set_ring(c->paxos, r);
            wc_ring_unref(r);
        }
        if (c->coord) {
            wc_ring *p = NULL, *cur = wc_ring_slot_get(&c->slot);
            /* the ring after the changes under way: writes for pending ranges reach their new owners */
            if (cur &&
                wc__build_ring_of(c, true, c->has_removing ? c->removing : NULL, &p) == WC_OK &&
                p && !wc__same_ring(p, cur))
                wc_coord_set_pending_ring(c->coord, p);
            else
                wc_coord_set_pending_ring(c->coord, NULL);
            wc_ring_unref(p);
            wc_ring_unref(cur);
        }
        wc__drop_gone_hints(c);
    }
    wc__publish_members(c);
}

/* ---------------------------------------------------------------- hinted handoff */

/* Note when ep went down (since_us) or came up (0). */
static void wc__note_down(wc_cluster *c, const wc_addr *ep, int64_t since_us)
{
    for (size_t i = 0; i < c->ndown; i++)
        if (wc_addr_equal(&c->down[i].addr, ep)) {
            c->down[i].since_us = since_us;
            return;
        }
    if (since_us == 0)
        return;
    if (c->ndown == c->down_cap) {
        size_t cap = c->down_cap ? c->down_cap * 2 : 8;
        wc__down *v = wc_realloc(c->down, cap * sizeof(*v));
        if (v == NULL)
            return; /* unknown: the hint window is not checked for it */
        c->down = v;
        c->down_cap = cap;
    }
    c->down[c->ndown].addr = *ep;
    c->down[c->ndown].since_us = since_us;
    c->ndown++;
}

static int64_t wc__down_since(const wc_cluster *c, const wc_addr *ep)
{
    for (size_t i = 0; i < c->ndown; i++)
        if (wc_addr_equal(&c->down[i].addr, ep))
            return c->down[i].since_us;
    return 0;
}

/* The coordinator's store_hint: keep a replica's missed batch, unless hints are off or too late. */
static wc_status wc__store_hint(void *ctx, const wc_ring_member *host, uint32_t table_id,
                                const uint8_t *batch, size_t len)
{
    wc_cluster *c = ctx;
    int64_t now = wc_env_wall_us(c->env), since = wc__down_since(c, &host->addr);
    uint64_t window_ms = atomic_load(&c->hint_window_ms);
    uint32_t ttl = c->local.hint_ttl ? c->local.hint_ttl(c->local.ctx, table_id) : 0;
    uint8_t table[4];

    if (!atomic_load(&c->hints_enabled))
        return wc_error(WC_UNAVAILABLE, "hinted handoff is disabled");
    if (since != 0 && (uint64_t)(now - since) > window_ms * 1000)
        return wc_error(WC_UNAVAILABLE, "%s has been down longer than max_hint_window",
                        host->addr.host);
    if (ttl == 0)
        return wc_error(WC_UNAVAILABLE, "table %u keeps no hints (gc_grace_seconds 0)", table_id);
    wc_enc_u32(table, table_id);
    return wc_hints_append(c->hints, host->host_id, table, sizeof(table), batch, len, ttl, now, 0);
}

/* Hint delivery's apply: a hint a peer kept for this node goes through the local write path. */
static wc_status wc__apply_hint(void *arg, const wc_addr *from, const uint8_t *table,
                                size_t table_len, const uint8_t *batch, size_t batch_len,
                                int64_t created_us)
{
    wc_cluster *c = arg;

    (void)from;
    (void)table;
    (void)table_len;
    (void)created_us;
    return c->local.apply(c->local.ctx, batch, batch_len);
}

static void wc__hints_sync_tick(void *arg)
{
    wc_cluster *c = arg;

    if (c->stopping)
        return;
    if (wc_hints_sync(c->hints) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not sync the hints: %s", wc_last_error());
    (void)c->env->ops->timer_start(c->env, WC__HINTS_SYNC_MS, wc__hints_sync_tick, c);
}

/* Start sending ep its hints (it is up). */
static void wc__deliver_to(wc_cluster *c, const wc_addr *ep)
{
    const uint8_t *id;
    size_t len;

    wc__note_down(c, ep, 0);
    if (c->delivery == NULL || wc_addr_equal(ep, &c->env->self) ||
        wc_gossip_get(c->gossip, ep, WC_GOSSIP_HOST_ID, &id, &len) != WC_OK ||
        len != WC_HOST_ID_LEN)
        return;
    if (wc_hint_delivery_peer_alive(c->delivery, ep, id) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not start hint delivery: %s", wc_last_error());
}

/* ---------------------------------------------------------------- gossip listener */

static void wc__on_join(void *ctx, const wc_addr *ep) { wc__refresh(ctx, true); }

static void wc__on_change(void *ctx, const wc_addr *ep, int key, const uint8_t *v, size_t len)
{
    wc__refresh(ctx, key == WC_GOSSIP_TOKENS || key == WC_GOSSIP_STATUS || key == WC_GOSSIP_DC ||
                         key == WC_GOSSIP_RACK || key == WC_GOSSIP_HOST_ID ||
                         key == WC_GOSSIP_REMOVED);
}

static void wc__on_alive(void *ctx, const wc_addr *ep)
{
    wc_cluster *c = ctx;
    char a[80];

    wc_addr_format(ep, a, sizeof(a));
    wc__log(c, WC_LOG_INFO, "cluster: node %s is up", a);
    wc__refresh(c, false);
    wc__deliver_to(c, ep);
}

static void wc__on_dead(void *ctx, const wc_addr *ep)
{
    wc_cluster *c = ctx;
    char a[80];

    wc_addr_format(ep, a, sizeof(a));
    wc__log(c, WC_LOG_INFO, "cluster: node %s is down", a);
    wc__refresh(c, false);
    wc__note_down(c, ep, wc_env_wall_us(c->env));
    if (c->delivery)
        wc_hint_delivery_peer_down(c->delivery, ep);
}

static void wc__on_remove(void *ctx, const wc_addr *ep) { wc__refresh(ctx, true); }

/* ---------------------------------------------------------------- messages */

static void wc__replace_on_message(wc_cluster *c, const wc_addr *from, const uint8_t *msg,
                                   size_t len);

static void wc__on_message(void *ctx, const wc_addr *from, const uint8_t *msg, size_t len)
{
    wc_cluster *c = ctx;
    uint8_t type;

    if (len == 0)
        return;
    type = msg[0];
    if (type >= WC_MSG_REPLACE_FIRST && type <= WC_MSG_REPLACE_LAST) {
        if (!c->stopping)
            wc__replace_on_message(c, from, msg, len);
        return;
    }
    if (c->replace_phase != 0) /* not gossiping yet (or refused): out of the cluster */
        return;
    if (type >= WC_MSG_RANGE_GOSSIP && type < WC_MSG_RANGE_COORDINATOR) {
        if (c->gossip)
            wc_gossip_on_message(c->gossip, from, msg, len);
        return;
    }
    if (type >= WC_MSG_TRANSFER_FIRST && type <= WC_MSG_TRANSFER_LAST && c->transfer) {
        if (!c->stopping)
            (void)wc_transfer_on_message(c->transfer, from, msg, len);
        return;
    }
    if (type == WC_MSG_HINT_HANDOFF && c->delivery) { /* a leaving node's hints */
        if (!c->stopping)
            (void)wc_hint_delivery_on_message(c->delivery, from, msg, len);
        return;
    }
    if (type >= WC_MSG_STREAM_REQ && type <= WC_MSG_STREAM_LAST && c->stream) {
        if (!c->stopping)
            (void)wc_stream_on_message(c->stream, from, msg, len);
        return;
    }
    if (type >= WC_MSG_RANGE_SCHEMA && type < WC_MSG_RANGE_STREAM && c->schema) {
        wc_schema_runtime_on_message(c->schema, from, msg, len);
        return;
    }
    if (type >= WC_MSG_RANGE_COORDINATOR && type < WC_MSG_RANGE_SCHEMA && c->coord) {
        if (c->stopping)
            return;
        if (type >= WC_MSG_BATCHLOG_FIRST && type <= WC_MSG_BATCHLOG_LAST)
            (void)wc_batchlog_on_message(c->batchlog, from, msg, len);
        else if (type >= WC_MSG_VIEW_FIRST && type <= WC_MSG_VIEW_LAST) {
            if (c->views)
                (void)wc_view_pair_on_message(c->views, from, msg, len);
        }
        else if (type < WC_MSG_RANGE_HINTS)
            (void)wc_coord_on_message(c->coord, from, msg, len);
        else
            (void)wc_hint_delivery_on_message(c->delivery, from, msg, len);
        return;
    }
    if (type >= WC_MSG_PAXOS_FIRST && type <= WC_MSG_PAXOS_LAST && c->paxos) {
        if (!c->stopping)
            (void)wc_paxos_on_message(c->paxos, from, msg, len);
        return;
    }
    if (type >= WC_REPAIR_MSG_FIRST && type <= WC_REPAIR_MSG_LAST && c->repair) {
        if (!c->stopping)
            (void)wc_repair_on_message(c->repair, from, msg, len);
        return;
    }
    if (!(c->warned_type[type / 8] & (1u << (type % 8)))) {
        char a[80];
        c->warned_type[type / 8] |= (uint8_t)(1u << (type % 8));
        wc_addr_format(from, a, sizeof(a));
        wc__log(c, WC_LOG_WARNING,
                "cluster: dropped a message of unknown type %u from %s (logged once per type)",
                type, a);
    }
}

/* ---------------------------------------------------------------- tokens */

static uint64_t wc__random(void *arg) { return wc_env_random(arg); }

/* Choose, store and announce this node's tokens. */
static wc_status wc__choose_tokens(wc_cluster *c)
{
    wc_ring *r = NULL;
    int64_t *t = wc_malloc(c->num_tokens * sizeof(int64_t));
    uint32_t nhosts;
    wc_status st;

    if (t == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory choosing tokens");
    /* joining nodes included: a joining node seen down still holds its tokens */
    if ((st = wc__build_ring_of(c, true, NULL, &r)) != WC_OK)
        goto fail;
    st = wc_ring_allocate_tokens(r, c->dc, c->num_tokens, WC__ALLOCATION_RF, wc__random, c->env, t);
    nhosts = r ? wc_ring_host_count(r) : 0;
    wc_ring_unref(r);
    if (st != WC_OK)
        goto fail;
    c->tokens = t;
    c->ntokens = c->num_tokens;
    if ((st = wc__state_write(c)) != WC_OK) {
        c->tokens = NULL;
        c->ntokens = 0;
        goto fail;
    }
    wc__log(c, WC_LOG_INFO, "cluster: chose %u tokens against a ring of %u nodes", c->ntokens,
            nhosts);
    return WC_OK;
fail:
    wc_free(t);
    return st;
}

/* Announce the tokens with STATUS status ("normal", or "joining" while bootstrapping). */
static void wc__announce(wc_cluster *c, const char *status)
{
    uint8_t *v = wc_malloc((size_t)c->ntokens * 8);

    if (v == NULL) {
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory announcing the tokens");
        return;
    }
    for (uint32_t i = 0; i < c->ntokens; i++)
        wc_enc_u64(v + 8 * i, (uint64_t)c->tokens[i]);
    if (wc_gossip_set_local(c->gossip, WC_GOSSIP_TOKENS, v, (size_t)c->ntokens * 8) != WC_OK ||
        wc_gossip_set_local(c->gossip, WC_GOSSIP_STATUS, status, strlen(status)) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not announce the tokens: %s", wc_last_error());
    wc_free(v);
    wc__refresh(c, true);
}

/* Whether a node other than this one is known in state normal (the cluster answered). */
static bool wc__heard_from_cluster(wc_cluster *c)
{
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip); i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;
        if (wc_addr_equal(ep, &c->env->self))
            continue;
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) == WC_OK &&
            wc_gossip_status_of(v, len) == WC_GOSSIP_STATUS_NORMAL)
            return true;
    }
    return false;
}

static bool wc__has_other_seed(wc_cluster *c)
{
    for (size_t i = 0; i < c->nseeds; i++)
        if (!wc_addr_equal(&c->seeds[i], &c->env->self))
            return true;
    return false;
}

/* ---------------------------------------------------------------- bootstrap */

static bool wc__self_is_seed(wc_cluster *c)
{
    for (size_t i = 0; i < c->nseeds; i++)
        if (wc_addr_equal(&c->seeds[i], &c->env->self))
            return true;
    return false;
}

/*
 * Whether a new node streams its data before it turns normal: it
 * coordinates, is not a seed (as Cassandra, seeds do not bootstrap) and
 * heard from a cluster in state normal.
 */
static bool wc__must_bootstrap(wc_cluster *c)
{
    return c->coord && (c->engine || c->local.list_tables) && c->stream &&
           !wc__self_is_seed(c) && wc__heard_from_cluster(c);
}

/*
 * A live node other than this one that joins before it, or NULL: one
 * joining with its tokens announced (streaming), or one still waiting to
 * choose with a lower host id (the waiting nodes go in host id order, so
 * that they do not all choose at once when a join ends).
 */
static const wc_addr *wc__other_joining(wc_cluster *c)
{
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip); i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;
        uint32_t nt;

        if (wc_addr_equal(ep, &c->env->self) || !wc_gossip_is_alive(c->gossip, ep))
            continue;
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) != WC_OK ||
            wc_gossip_status_of(v, len) != WC_GOSSIP_STATUS_JOINING)
            continue;
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) == WC_OK &&
            wc__tokens_of(v, len, &nt))
            return ep;
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_HOST_ID, &v, &len) == WC_OK &&
            len == WC_RING_HOST_ID_LEN && memcmp(v, c->host_id, len) < 0)
            return ep;
    }
    return NULL;
}

/* Whether every live normal node announces this node's schema version. */
static bool wc__schema_agrees(wc_cluster *c)
{
    char mine[64], theirs[64];

    wc__get_text(c, &c->env->self, WC_GOSSIP_SCHEMA, mine, sizeof(mine));
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip); i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v;
        size_t len;

        if (wc_addr_equal(ep, &c->env->self) || !wc_gossip_is_alive(c->gossip, ep) ||
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) != WC_OK ||
            wc_gossip_status_of(v, len) != WC_GOSSIP_STATUS_NORMAL)
            continue;
        wc__get_text(c, ep, WC_GOSSIP_SCHEMA, theirs, sizeof(theirs));
        if (strcmp(mine, theirs) != 0)
            return false;
    }
    return true;
}

/*
 * Whether a node other than this one announces one of this node's tokens
 * and keeps it: in state normal, leaving or shutdown, or joining with a
 * lower host id (the ring's rule).  Its address into who, the token into
 * *token.
 */
static bool wc__token_taken(wc_cluster *c, char *who, size_t cap, int64_t *token)
{
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip); i++) {
        const wc_addr *ep = wc_gossip_endpoint(c->gossip, i);
        const uint8_t *v, *id;
        size_t len, idlen;
        uint32_t nt;
        wc_gossip_status s;

        if (wc_addr_equal(ep, &c->env->self) ||
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_STATUS, &v, &len) != WC_OK)
            continue;
        s = wc_gossip_status_of(v, len);
        if (c->replacing && /* the dead node this one replaces keeps them until the end */
            wc_gossip_get(c->gossip, ep, WC_GOSSIP_HOST_ID, &id, &idlen) == WC_OK &&
            idlen == WC_RING_HOST_ID_LEN && memcmp(id, c->replace_id, idlen) == 0)
            continue;
        if (s == WC_GOSSIP_STATUS_JOINING) {
            if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_HOST_ID, &id, &idlen) != WC_OK ||
                idlen != WC_RING_HOST_ID_LEN || memcmp(id, c->host_id, idlen) >= 0)
                continue;
        } else if (s != WC_GOSSIP_STATUS_NORMAL && s != WC_GOSSIP_STATUS_LEAVING &&
                   s != WC_GOSSIP_STATUS_SHUTDOWN)
            continue;
        if (wc_gossip_get(c->gossip, ep, WC_GOSSIP_TOKENS, &v, &len) != WC_OK ||
            !wc__tokens_of(v, len, &nt))
            continue;
        for (uint32_t t = 0; t < nt; t++) {
            int64_t tok = (int64_t)wc_dec_u64(v + 8 * t);
            if (bsearch(&tok, c->tokens, c->ntokens, sizeof(int64_t), wc__cmp_i64)) {
                wc_addr_format(ep, who, cap);
                *token = tok;
                return true;
            }
        }
    }
    return false;
}

static void wc__join_check(void *arg);

/*
 * Before streaming and before turning normal: when another node keeps one
 * of this node's tokens (both chose tokens in the same gossip round), this
 * node gives its tokens up, announces none, and goes back to waiting for
 * its turn to choose.  True if it did.
 */
static bool wc__give_up_taken_tokens(wc_cluster *c)
{
    char who[80];
    int64_t token;

    if (!wc__token_taken(c, who, sizeof(who), &token))
        return false;
    wc__log(c, WC_LOG_WARNING,
            "cluster: token %" PRId64 " of this node is also announced by %s; this node gives its "
            "tokens up and chooses new ones after that node's join",
            token, who);
    wc_free(c->tokens);
    c->tokens = NULL;
    c->ntokens = 0;
    c->bootstrapping = false;
    if (c->replacing) { /* another node replaces the same dead node: this one joins as a new one */
        c->replacing = false;
        (void)wc_gossip_set_local(c->gossip, WC_GOSSIP_REPLACING, "", 0);
    }
    if (wc__state_write(c) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not store the tokens given up: %s",
                wc_last_error());
    if (wc_gossip_set_local(c->gossip, WC_GOSSIP_TOKENS, "", 0) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not withdraw the tokens: %s", wc_last_error());
    wc__refresh(c, true);
    c->join_started_ms = wc_env_now_ms(c->env);
    if (c->env->ops->timer_start(c->env, WC__JOIN_CHECK_MS, wc__join_check, c) == 0)
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory for the join timer");
    return true;
}

static void wc__boot_start(void *arg);

static void wc__boot_later(wc_cluster *c, uint64_t ms)
{
    if (c->env->ops->timer_start(c->env, ms, wc__boot_start, c) == 0)
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory for the bootstrap timer");
}

/* Whether rings a and b have the same tokens with the same owners. */
static bool wc__same_ring(const wc_ring *a, const wc_ring *b)
{
    size_t n = wc_ring_token_count(a);

    if (n != wc_ring_token_count(b))
        return false;
    for (size_t i = 0; i < n; i++)
        if (wc_ring_token_at(a, i) != wc_ring_token_at(b, i) ||
            memcmp(wc_ring_host(a, wc_ring_owner_at(a, i))->host_id,
                   wc_ring_host(b, wc_ring_owner_at(b, i))->host_id, WC_RING_HOST_ID_LEN) != 0)
            return false;
    return true;
}

static void wc__announce_removed(wc_cluster *c);

/* Every range is streamed: the node turns normal (a replacement: the dead node leaves the ring). */
static void wc__boot_finish(wc_cluster *c)
{
    wc_ring *now = NULL;
    bool moved;

    if (wc__give_up_taken_tokens(c))
        return;
    /*
     * Another node joined (or left) while this one streamed: the replicas
     * that give ranges up to it are not those it streamed from, so it
     * plans and streams again on the new ring before it turns normal.
     */
    moved = c->boot_ring && wc__build_ring(c, &now) == WC_OK && now &&
            !wc__same_ring(now, c->boot_ring);
    wc_ring_unref(now);
    if (moved) {
        wc__log(c, WC_LOG_INFO,
                "cluster: the ring changed while this node streamed; it streams its ranges "
                "again from the new ring");
        wc__boot_later(c, 0);
        return;
    }
    c->bootstrapping = false;
    if ((c->replacing && wc__removed_add(c, c->replace_id) != WC_OK) ||
        wc__state_write(c) != WC_OK) {
        wc__log(c, WC_LOG_WARNING, "cluster: could not store the end of the bootstrap: %s",
                wc_last_error());
        c->bootstrapping = true;
        wc__boot_later(c, WC__BOOT_RETRY_MS);
        return;
    }
    if (c->replacing) {
        /* REMOVED with REPLACING still announced: every node drops the dead one as this turns normal */
        c->replacing = false;
        wc__announce_removed(c);
        wc__log(c, WC_LOG_INFO,
                "cluster: bootstrap finished (%u ranges streamed); this node replaced the dead "
                "node %02x%02x%02x%02x... and is normal",
                c->boot_ranges, c->replace_id[0], c->replace_id[1], c->replace_id[2],
                c->replace_id[3]);
    } else
        wc__log(c, WC_LOG_INFO,
                "cluster: bootstrap finished (%u ranges streamed); this node is normal",
                c->boot_ranges);
    wc__announce(c, "normal");
}

static void wc__boot_pulled(void *arg, wc_status st, const char *detail)
{
    wc_cluster *c = arg;

    (void)detail;
    if (st != WC_OK)
        c->boot_failed = true;
    if (--c->boot_sessions > 0 || c->stopping)
        return;
    if (c->boot_failed) {
        wc__log(c, WC_LOG_WARNING,
                "cluster: the bootstrap could not stream every range; it tries again in %u s "
                "(what was streamed is kept)",
                WC__BOOT_RETRY_MS / 1000);
        wc__boot_later(c, WC__BOOT_RETRY_MS);
        return;
    }
    wc__boot_finish(c);
}

/* A stream session name "<what>-<host>-<port>" of [A-Za-z0-9_.-] (stream.h). */
static void wc__session_name(char out[WC_STREAM_NAME_MAX], const char *what, const wc_addr *a)
{
    char full[160];
    size_t n;

    snprintf(full, sizeof(full), "%s-%s-%u", what, a->host, a->port);
    n = strnlen(full, WC_STREAM_NAME_MAX - 1); /* cut to the longest name streaming takes */
    memcpy(out, full, n);
    out[n] = '\0';
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-'))
            *p = '_';
}

/* The ranges to pull from one source. */
typedef struct wc__boot_source {
    wc_addr addr;
    wc_stream_range *r;
    size_t n, cap;
} wc__boot_source;

static bool wc__boot_add(wc__boot_source *src, uint32_t table_id, int64_t start, int64_t end)
{
    if (src->n == src->cap) {
        size_t cap = src->cap ? src->cap * 2 : 32;
        wc_stream_range *v = wc_realloc(src->r, cap * sizeof(*v));
        if (v == NULL)
            return false;
        src->r = v;
        src->cap = cap;
    }
    src->r[src->n++] = (wc_stream_range){table_id, start, end, start, false};
    return true;
}

/* The tables streaming moves: the local side's list, else the engine's (none without either). */
static wc_status wc__list_tables(wc_cluster *c, uint32_t **ids, size_t *n)
{
    wc_status st;
    size_t k = 0;

    *ids = NULL;
    *n = 0;
    if (c->local.list_tables)
        return c->local.list_tables(c->local.ctx, ids, n);
    if (c->engine == NULL || (st = wc_engine_list_tables(c->engine, ids, n)) != WC_OK)
        return c->engine ? st : WC_OK;
    /* the view update log is this node's own: never streamed */
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] != WC_VIEW_LOG_TABLE)
            (*ids)[k++] = (*ids)[i];
    *n = k;
    return WC_OK;
}

/*
 * The ranges this node owns in ring np (the ring with it) for table_id,
 * each from a live replica of the current ring r, into srcs[0..r's hosts).
 */
static wc_status wc__boot_plan_table(wc_cluster *c, wc_ring *r, wc_ring *np, uint32_t table_id,
                                     wc__boot_source *srcs, uint32_t *nranges)
{
    wc_replication repl;
    wc_placement *po = NULL, *pn = NULL;
    int32_t me = wc_ring_find_host(np, c->host_id);
    size_t nt = wc_ring_token_count(np);
    wc_status st;

    if (c->local.replication(c->local.ctx, table_id, &repl) != WC_OK)
        return WC_OK; /* not a table of the cluster */
    if ((st = wc_placement_build(r, &repl, &po)) != WC_OK ||
        (st = wc_placement_build(np, &repl, &pn)) != WC_OK)
        goto done;
    for (size_t i = 0; i < nt; i++) {
        int64_t end = wc_ring_token_at(np, i), start = wc_ring_token_at(np, i ? i - 1 : nt - 1);
        const uint32_t *hosts, *future;
        size_t nf = wc_placement_replicas(pn, end, &future), nh, k, any;
        bool mine = false, ok = true;

        for (k = 0; k < nf; k++)
            mine = mine || future[k] == (uint32_t)me;
        if (!mine)
            continue;
        /*
         * The source: the live replica that gives the range up to this
         * node (Cassandra's consistent range movement), else any live one.
         * A write acknowledged by a quorum that includes the replica giving
         * up the range then still has a quorum among the range's new
         * replicas: what that replica holds comes here.
         */
        nh = wc_placement_replicas(po, end, &hosts);
        for (k = 0, any = nh; k < nh; k++) {
            const wc_ring_member *m = wc_ring_host(r, hosts[k]);
            bool stays = false;

            if (!wc__member_alive(c, m))
                continue;
            for (size_t j = 0; j < nf && !stays; j++)
                stays = memcmp(wc_ring_host(np, future[j])->host_id, m->host_id,
                               WC_RING_HOST_ID_LEN) == 0;
            if (!stays)
                break;
            if (any == nh)
                any = k;
        }
        if (k == nh)
            k = any;
        if (c->replacing) /* some live replica but the dead node */
            for (k = 0; k < nh; k++)
                if (wc__member_alive(c, wc_ring_host(r, hosts[k])) &&
                    memcmp(wc_ring_host(r, hosts[k])->host_id, c->replace_id,
                           WC_RING_HOST_ID_LEN) != 0)
                    break;
        if (k == nh) {
            st = wc_error(WC_UNAVAILABLE, "no live replica holds the range (%" PRId64 ", %" PRId64
                                          "] of table %u",
                          start, end, table_id);
            goto done;
        }
        /*
         * A replacement pulls the range from every live replica: the dead
         * node's copies are gone, and a write acknowledged by it and one
         * other replica is then back on two.
         */
        for (size_t j = c->replacing ? 0 : k; ok && j < (c->replacing ? nh : k + 1); j++) {
            const wc_ring_member *m = wc_ring_host(r, hosts[j]);
            wc__boot_source *src = &srcs[hosts[j]];

            /* not the dead node, which a node that just met it may still take for up */
            if (c->replacing &&
                (!wc__member_alive(c, m) ||
                 memcmp(m->host_id, c->replace_id, WC_RING_HOST_ID_LEN) == 0))
                continue;
            src->addr = m->addr;
            if (start < end)
                ok = wc__boot_add(src, table_id, start, end);
            else /* the range that wraps: two */
                ok = (start == INT64_MAX || wc__boot_add(src, table_id, start, INT64_MAX)) &&
                     wc__boot_add(src, table_id, INT64_MIN, end);
        }
        if (!ok) {
            st = wc_error(WC_NO_MEMORY, "out of memory planning the bootstrap");
            goto done;
        }
        (*nranges)++;
    }
    st = WC_OK;
done:
    wc_placement_unref(po);
    wc_placement_unref(pn);
    return st;
}

/*
 * Ring r with self in place of the host gone (the dead node a replacement
 * takes over).  WC_UNAVAILABLE when r does not hold it (yet), the errors
 * of wc_ring_build.
 */
static wc_status wc__ring_replacing(const wc_ring *r, const uint8_t *gone,
                                    const wc_ring_member *self, wc_ring **out)
{
    uint32_t n = wc_ring_host_count(r), k = 0;
    wc_ring_member *m;
    wc_status st;

    if (wc_ring_find_host(r, gone) < 0)
        return wc_error(WC_UNAVAILABLE, "the ring does not hold the node this node replaces");
    if ((m = wc_calloc(n, sizeof(*m))) == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory planning the replacement");
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(wc_ring_host(r, i)->host_id, gone, WC_RING_HOST_ID_LEN) != 0)
            m[k++] = *wc_ring_host(r, i);
    m[k++] = *self;
    st = wc_ring_build(m, k, out);
    wc_free(m);
    return st;
}

/*
 * Stream every range this node will own from a live replica of the
 * current ring, one pull session per source (named after it, so that a
 * restart resumes it), once the cluster schema agrees.
 */
static void wc__boot_start(void *arg)
{
    wc_cluster *c = arg;
    wc_ring *r = NULL, *np = NULL;
    wc_ring_member self;
    uint32_t *ids = NULL, nhosts = 0;
    size_t nids = 0;
    wc__boot_source *srcs = NULL;
    wc_status st = WC_OK;

    if (c->stopping || !c->bootstrapping || c->boot_sessions)
        return;
    if (!wc__heard_from_cluster(c) || !wc__schema_agrees(c)) {
        wc__boot_later(c, 1000);
        return;
    }
    if (wc__give_up_taken_tokens(c))
        return;
    c->boot_failed = false;
    c->boot_ranges = 0;
    /*
     * The ranges are those of the current ring plus this node alone: a
     * node that joins at the same time may still give its tokens up, and
     * a node that joins only ever takes ranges away from the others.
     */
    memset(&self, 0, sizeof(self));
    memcpy(self.host_id, c->host_id, WC_RING_HOST_ID_LEN);
    self.addr = c->env->self;
    snprintf(self.dc, sizeof(self.dc), "%s", c->dc);
    snprintf(self.rack, sizeof(self.rack), "%s", c->rack);
    self.tokens = c->tokens;
    self.ntokens = c->ntokens;
    if ((st = wc__build_ring(c, &r)) != WC_OK ||
        (r && (st = c->replacing ? wc__ring_replacing(r, c->replace_id, &self, &np)
                                 : wc_ring_with_member(r, &self, &np)) != WC_OK))
        goto fail;
    if (r == NULL || np == NULL || wc_ring_find_host(np, c->host_id) < 0) {
        st = wc_error(WC_UNAVAILABLE, "the ring with this node's tokens is not known yet");
        goto fail;
    }
    nhosts = wc_ring_host_count(r);
    srcs = wc_calloc(nhosts, sizeof(*srcs));
    if (srcs == NULL ||
        (st = wc__list_tables(c, &ids, &nids)) != WC_OK) {
        st = srcs ? st : wc_error(WC_NO_MEMORY, "out of memory planning the bootstrap");
        goto fail;
    }
    for (size_t t = 0; t < nids; t++)
        if ((st = wc__boot_plan_table(c, r, np, ids[t], srcs, &c->boot_ranges)) != WC_OK)
            goto fail;
    wc__log(c, WC_LOG_INFO, "cluster: bootstrap streams %u ranges of %zu tables", c->boot_ranges,
            nids);
    wc_ring_unref(c->boot_ring);
    c->boot_ring = r;
    wc_ring_ref(r);
    for (uint32_t h = 0; h < nhosts; h++) {
        char name[WC_STREAM_NAME_MAX];
        if (srcs[h].n == 0)
            continue;
        wc__session_name(name, "bootstrap", &srcs[h].addr);
        if ((st = wc_stream_pull(c->stream, name, &srcs[h].addr, srcs[h].r, srcs[h].n,
                                 wc__boot_pulled, c)) != WC_OK) {
            c->boot_failed = true;
            break;
        }
        c->boot_sessions++;
    }
    if (c->boot_sessions == 0 && !c->boot_failed)
        wc__boot_finish(c);
    else if (c->boot_sessions == 0)
        goto fail;
    goto done;
fail:
    wc__log(c, WC_LOG_WARNING, "cluster: bootstrap waits (retrying in %u s): %s",
            WC__BOOT_RETRY_MS / 1000, st != WC_OK ? wc_last_error() : "a stream did not start");
    wc__boot_later(c, WC__BOOT_RETRY_MS);
done:
    for (uint32_t h = 0; srcs && h < nhosts; h++)
        wc_free(srcs[h].r);
    wc_free(srcs);
    wc_free(ids);
    wc_ring_unref(r);
    wc_ring_unref(np);
}

static void wc__join_check(void *arg)
{
    wc_cluster *c = arg;
    uint64_t waited = wc_env_now_ms(c->env) - c->join_started_ms;

    if (wc__has_other_seed(c) && !wc__heard_from_cluster(c) && waited < c->join_wait_ms)
        goto again;
    if (wc__must_bootstrap(c)) {
        const wc_addr *other = wc__other_joining(c);
        if (other != NULL) {
            uint64_t now = wc_env_now_ms(c->env);
            if (c->boot_wait_logged_ms == 0 || now - c->boot_wait_logged_ms >= WC__BOOT_WAIT_LOG_MS) {
                char a[80];
                wc_addr_format(other, a, sizeof(a));
                wc__log(c, WC_LOG_INFO,
                        "cluster: node %s is joining; this node waits for it before choosing "
                        "its tokens (nodes join one at a time)",
                        a);
                c->boot_wait_logged_ms = now;
            }
            goto again;
        }
        c->bootstrapping = true;
    }
    if (wc__choose_tokens(c) != WC_OK) {
        c->bootstrapping = false;
        wc__log(c, WC_LOG_WARNING, "cluster: could not choose tokens (retrying): %s",
                wc_last_error());
        goto again;
    }
    if (c->bootstrapping) {
        wc__announce(c, "joining");
        wc__boot_later(c, c->interval_ms ? 3 * c->interval_ms : 3000);
        return;
    }
    wc__announce(c, "normal");
    return;
again:
    if (c->env->ops->timer_start(c->env, WC__JOIN_CHECK_MS, wc__join_check, c) == 0)
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory for the join timer");
}

static void wc__load_tick(void *arg)
{
    wc_cluster *c = arg;

    wc__set_load(c);
    (void)c->env->ops->timer_start(c->env, c->load_interval_ms, wc__load_tick, c);
}

/* ---------------------------------------------------------------- replacing a dead node */

static void wc__replace_refuse(wc_cluster *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Refuse the replacement: the node stays out of the ring, its requests fail with why. */
static void wc__replace_refuse(wc_cluster *c, const char *fmt, ...)
{
    char why[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    c->replace_phase = WC__REPLACE_REFUSED;
    snprintf(c->replace_why, sizeof(c->replace_why), "replace_address refused: %.220s", why);
    wc__log(c, WC_LOG_WARNING,
            "cluster: replace_address refused: %s; this node stays out of the ring until it is "
            "restarted with a correct setting",
            why);
}

/* Ask every seed but this node about the dead node (every WC__REPLACE_ASK_MS until one answers). */
static void wc__replace_ask(void *arg)
{
    wc_cluster *c = arg;
    uint64_t now = wc_env_now_ms(c->env);
    size_t asked = 0;
    char a[80];
    wc_buf b;

    if (c->stopping || c->replace_phase != WC__REPLACE_ASKING)
        return;
    wc_addr_format(&c->replace_addr, a, sizeof(a));
    wc_buf_init(&b);
    wc_buf_put_u8(&b, WC_MSG_REPLACE_ASK);
    wc_buf_put_bytes(&b, c->replace_addr.host, strlen(c->replace_addr.host));
    wc_buf_put_varint(&b, c->replace_addr.port);
    for (size_t i = 0; i < c->nseeds && wc_buf_status(&b) == WC_OK; i++)
        if (!wc_addr_equal(&c->seeds[i], &c->env->self)) {
            (void)c->env->ops->send(c->env, &c->seeds[i], b.data, b.len);
            asked++;
        }
    wc_buf_free(&b);
    if (asked == 0) {
        wc__replace_refuse(c, "the seeds name no node but this one, and a replacement learns the "
                              "tokens of %s from a seed (list a live node in the seeds)",
                           a);
        return;
    }
    if (c->replace_logged_ms == 0 || now - c->replace_logged_ms >= WC__BOOT_WAIT_LOG_MS) {
        wc__log(c, WC_LOG_INFO, "cluster: replacing the dead node %s: asking %zu seeds for its "
                                "tokens",
                a, asked);
        c->replace_logged_ms = now;
    }
    if (c->env->ops->timer_start(c->env, WC__REPLACE_ASK_MS, wc__replace_ask, c) == 0)
        wc__log(c, WC_LOG_WARNING, "cluster: out of memory for the replace timer");
}

/* A seed's side: what this node knows of the node at the asked address (REPLACE_INFO). */
static void wc__replace_answer(wc_cluster *c, const wc_addr *from, const wc_addr *who)
{
    const uint8_t *v, *id = NULL;
    size_t len, idlen = 0;
    uint32_t nt = 0;
    uint8_t status = WC_GOSSIP_STATUS_UNKNOWN;
    bool known, by_normal;
    char dc[WC_REPL_DC_NAME_MAX] = "", rack[WC_RING_RACK_NAME_MAX] = "";
    wc_buf b;

    known = c->gossip && wc_gossip_is_known(c->gossip, who) &&
            wc_gossip_get(c->gossip, who, WC_GOSSIP_HOST_ID, &id, &idlen) == WC_OK &&
            idlen == WC_RING_HOST_ID_LEN;
    wc_buf_init(&b);
    wc_buf_put_u8(&b, WC_MSG_REPLACE_INFO);
    wc_buf_put_bytes(&b, who->host, strlen(who->host));
    wc_buf_put_varint(&b, who->port);
    wc_buf_put_u8(&b, known);
    if (known) {
        if (wc_gossip_get(c->gossip, who, WC_GOSSIP_STATUS, &v, &len) == WC_OK)
            status = (uint8_t)wc_gossip_status_of(v, len);
        if (wc__is_removed(c, id) || (wc__replaced_by(c, id, &by_normal) && by_normal))
            status = WC_GOSSIP_STATUS_LEFT;
        wc__get_text(c, who, WC_GOSSIP_DC, dc, sizeof(dc));
        wc__get_text(c, who, WC_GOSSIP_RACK, rack, sizeof(rack));
        wc_buf_put_u8(&b, wc_gossip_is_alive(c->gossip, who));
        wc_buf_put_u8(&b, status);
        wc_buf_append(&b, id, WC_RING_HOST_ID_LEN);
        wc_buf_put_bytes(&b, dc, strlen(dc));
        wc_buf_put_bytes(&b, rack, strlen(rack));
        if (wc_gossip_get(c->gossip, who, WC_GOSSIP_TOKENS, &v, &len) != WC_OK ||
            !wc__tokens_of(v, len, &nt))
            nt = 0;
        wc_buf_put_u32(&b, nt);
        if (nt)
            wc_buf_append(&b, v, (size_t)nt * 8);
    }
    if (wc_buf_status(&b) == WC_OK)
        (void)c->env->ops->send(c->env, from, b.data, b.len);
    wc_buf_free(&b);
}

/* Take the dead node's tokens over and start gossiping as its replacement (joining). */
static void wc__replace_begin(wc_cluster *c, const uint8_t *id, const uint8_t *tokens, uint32_t nt)
{
    char a[80];

    wc_addr_format(&c->replace_addr, a, sizeof(a));
    if ((c->tokens = wc_malloc((size_t)nt * sizeof(int64_t))) == NULL) {
        wc__replace_refuse(c, "out of memory taking the tokens of %s", a);
        return;
    }
    for (uint32_t t = 0; t < nt; t++)
        c->tokens[t] = (int64_t)wc_dec_u64(tokens + 8 * t);
    qsort(c->tokens, nt, sizeof(int64_t), wc__cmp_i64);
    c->ntokens = nt;
    c->bootstrapping = c->replacing = true;
    memcpy(c->replace_id, id, WC_RING_HOST_ID_LEN);
    if (wc__state_write(c) != WC_OK) {
        wc__replace_refuse(c, "could not store the tokens of %s: %s", a, wc_last_error());
        wc_free(c->tokens);
        c->tokens = NULL;
        c->ntokens = 0;
        c->bootstrapping = c->replacing = false;
        return;
    }
    c->replace_phase = 0;
    wc__log(c, WC_LOG_INFO,
            "cluster: replacing the dead node %s (host id %02x%02x%02x%02x...): this node takes "
            "its %u tokens and streams its data from the surviving replicas",
            a, id[0], id[1], id[2], id[3], nt);
    if (wc_gossip_set_local(c->gossip, WC_GOSSIP_REPLACING, id, WC_RING_HOST_ID_LEN) != WC_OK ||
        wc_gossip_set_local(c->gossip, WC_GOSSIP_STATUS, "joining", 7) != WC_OK ||
        wc_gossip_start(c->gossip) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not start gossiping: %s", wc_last_error());
    wc__announce(c, "joining");
    wc__boot_later(c, c->interval_ms ? 3 * c->interval_ms : 3000);
}

/* The replacing node's side: a seed's view of the dead node decides (REPLACE_INFO). */
static void wc__replace_info(wc_cluster *c, const wc_addr *from, const uint8_t *p,
                             const uint8_t *end)
{
    const uint8_t *host, *id = NULL, *dc = NULL, *rack = NULL, *tokens = NULL;
    size_t hlen, dclen = 0, racklen = 0;
    uint64_t port;
    uint8_t known, alive = 0, status = 0;
    uint32_t nt = 0;
    char a[80], seed[80];
    static const char *names[] = {"unknown", "joining", "normal", "leaving", "left", "shut down"};

    if (!wc_get_bytes(&p, end, &host, &hlen) || !wc_get_varint(&p, end, &port) ||
        !wc_get_u8(&p, end, &known))
        return;
    if (known) {
        if (!wc_get_u8(&p, end, &alive) || !wc_get_u8(&p, end, &status) ||
            end - p < WC_RING_HOST_ID_LEN)
            return;
        id = p;
        p += WC_RING_HOST_ID_LEN;
        if (!wc_get_bytes(&p, end, &dc, &dclen) || !wc_get_bytes(&p, end, &rack, &racklen) ||
            !wc_get_u32(&p, end, &nt) || nt > WC_RING_MAX_TOKENS_PER_HOST ||
            (size_t)(end - p) != (size_t)nt * 8)
            return;
        tokens = p;
    }
    if (c->replace_phase != WC__REPLACE_ASKING || hlen != strlen(c->replace_addr.host) ||
        memcmp(host, c->replace_addr.host, hlen) != 0 || port != c->replace_addr.port)
        return;
    wc_addr_format(&c->replace_addr, a, sizeof(a));
    wc_addr_format(from, seed, sizeof(seed));
    if (!known)
        wc__replace_refuse(c, "no node of the cluster is known at %s (as %s sees it); "
                              "replace_address names the internode address of a dead node",
                           a, seed);
    else if (alive)
        wc__replace_refuse(c, "node %s is up (as %s sees it); only a dead node is replaced: stop "
                              "it, wait until the cluster shows it down, then restart this node",
                           a, seed);
    else if (status != WC_GOSSIP_STATUS_NORMAL && status != WC_GOSSIP_STATUS_SHUTDOWN)
        wc__replace_refuse(c, "node %s is %s (as %s sees it), not a normal node that died%s", a,
                           status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown",
                           seed,
                           status == WC_GOSSIP_STATUS_LEFT
                               ? " (it left the ring: start this node without replace_address "
                                 "to add it as a new node)"
                               : "");
    else if (nt == 0)
        wc__replace_refuse(c, "node %s announces no tokens (as %s sees it)", a, seed);
    else if (dclen != strlen(c->dc) || memcmp(dc, c->dc, dclen) != 0 ||
             racklen != strlen(c->rack) || memcmp(rack, c->rack, racklen) != 0)
        wc__replace_refuse(c, "node %s is in data centre \"%.*s\", rack \"%.*s\", and this node "
                              "in \"%s\", \"%s\": a replacement takes the dead node's place, "
                              "give it the same data centre and rack",
                           a, (int)dclen, (const char *)dc, (int)racklen, (const char *)rack,
                           c->dc, c->rack);
    else
        wc__replace_begin(c, id, tokens, nt);
}

static void wc__replace_on_message(wc_cluster *c, const wc_addr *from, const uint8_t *msg,
                                   size_t len)
{
    const uint8_t *p = msg + 1, *end = msg + len, *host;
    size_t hlen;
    uint64_t port;
    wc_addr who;

    if (msg[0] == WC_MSG_REPLACE_INFO) {
        wc__replace_info(c, from, p, end);
        return;
    }
    if (msg[0] != WC_MSG_REPLACE_ASK || c->replace_phase != 0 || c->gossip == NULL ||
        !wc_get_bytes(&p, end, &host, &hlen) || !wc_get_varint(&p, end, &port) || p != end ||
        hlen == 0 || hlen >= sizeof(who.host) || port == 0 || port > 65535)
        return;
    memset(&who, 0, sizeof(who));
    memcpy(who.host, host, hlen);
    who.port = (uint16_t)port;
    wc__replace_answer(c, from, &who);
}

/* ---------------------------------------------------------------- on the loop */

typedef struct wc__call {
    wc_cluster *c;
    wc_status (*fn)(wc_cluster *c);
    wc_status st;
    char err[512];
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wc__call;

static void wc__call_tramp(void *arg)
{
    wc__call *k = arg;
    wc_status st = k->fn(k->c);

    pthread_mutex_lock(&k->mu);
    k->st = st;
    if (st != WC_OK)
        snprintf(k->err, sizeof(k->err), "%s", wc_last_error());
    k->done = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

/* Run fn on the loop and wait for it (the owner thread). */
static wc_status wc__on_loop(wc_cluster *c, wc_status (*fn)(wc_cluster *c))
{
    wc__call k;
    wc_status st;

    if (c->external_env) /* the caller is on the loop */
        return fn(c);
    memset(&k, 0, sizeof(k));
    k.c = c;
    k.fn = fn;
    pthread_mutex_init(&k.mu, NULL);
    pthread_cond_init(&k.cv, NULL);
    if ((st = c->env->ops->post(c->env, wc__call_tramp, &k)) == WC_OK) {
        pthread_mutex_lock(&k.mu);
        while (!k.done)
            pthread_cond_wait(&k.cv, &k.mu);
        pthread_mutex_unlock(&k.mu);
        st = k.st;
        if (st != WC_OK)
            st = wc_error(st, "%s", k.err);
    }
    pthread_mutex_destroy(&k.mu);
    pthread_cond_destroy(&k.cv);
    return st;
}

static bool wc__is_alive(void *ctx, const wc_ring_member *host)
{
    return wc__member_alive(ctx, host);
}

static wc_status wc__replication(void *ctx, uint32_t table_id, wc_replication *out)
{
    wc_cluster *c = ctx;

    return c->local.replication(c->local.ctx, table_id, out);
}

/* Streaming over the local store, its progress files in "<data_dir>/streams". */
static wc_status wc__create_stream(wc_cluster *c)
{
    wc_stream_options so;
    char dir[4200];
    wc_status st;

    snprintf(dir, sizeof(dir), "%s/%s", c->data_dir, WC_CLUSTER_STREAMS_DIR);
    if ((st = wc_fs_mkdirs(c->fs, dir)) != WC_OK)
        return st;
    memset(&so, 0, sizeof(so));
    so.fs = c->fs;
    so.env = c->env;
    so.store = c->store;
    so.codec = c->local.stream_codec.last_token ? c->local.stream_codec : wc_stream_engine_codec();
    so.progress_dir = dir;
    so.page_rows = c->stream_page_rows;
    return wc_stream_create(&so, &c->stream);
}

static void wc__batchlog_dir_log(void *arg, const char *line)
{
    wc__log(arg, WC_LOG_WARNING, "%s", line);
}

/* The batchlog beside the coordinator, its entries under <data dir>/batchlog (on the loop). */
static wc_status wc__setup_batchlog(wc_cluster *c)
{
    wc_batchlog_options bo;
    char dir[4200];
    wc_status st;

    snprintf(dir, sizeof(dir), "%s/%s", c->data_dir, WC_CLUSTER_BATCHLOG_DIR);
    if ((st = wc_batchlog_dir_open_fs(c->fs, dir, wc__batchlog_dir_log, c, &c->batchlog_dir)) !=
        WC_OK)
        return st;
    memset(&bo, 0, sizeof(bo));
    bo.env = c->env;
    bo.coord = c->coord;
    memcpy(bo.self_id, c->host_id, WC_RING_HOST_ID_LEN);
    snprintf(bo.self_dc, sizeof(bo.self_dc), "%s", c->dc);
    bo.is_alive = wc__is_alive;
    bo.ctx = c;
    bo.storage = wc_batchlog_dir_storage(c->batchlog_dir);
    bo.replay_after_ms = atomic_load(&c->batchlog_replay_ms);
    return wc_batchlog_create(&bo, &c->batchlog);
}

/* Lightweight transactions beside the coordinator, their state under <data dir>/paxos. */
static wc_status wc__setup_paxos(wc_cluster *c)
{
    wc_paxos_options po;
    char dir[4200];
    wc_status st;

    snprintf(dir, sizeof(dir), "%s/%s", c->data_dir, WC_CLUSTER_PAXOS_DIR);
    if ((st = wc_paxos_file_open(dir, wc__batchlog_dir_log, c, &c->paxos_file)) != WC_OK)
        return st;
    memset(&po, 0, sizeof(po));
    po.env = c->env;
    po.coord = c->coord;
    po.store = c->store;
    memcpy(po.self_id, c->host_id, WC_RING_HOST_ID_LEN);
    snprintf(po.self_dc, sizeof(po.self_dc), "%s", c->dc);
    po.is_alive = wc__is_alive;
    po.replication = wc__replication;
    po.ctx = c;
    po.storage = wc_paxos_file_storage(c->paxos_file);
    return wc_paxos_create(&po, &c->paxos);
}

/* The sink of the node's view update records (on the loop). */
static void wc__view_sink(void *arg, const uint8_t *upd, size_t len)
{
    wc_cluster *c = arg;

    if (c->views && !c->stopping)
        wc_view_pair_submit(c->views, upd, len);
}

typedef struct wc__view_post {
    wc_cluster *c;
    size_t len;
    uint8_t upd[];
} wc__view_post;

static void wc__view_posted(void *arg)
{
    wc__view_post *vp = arg;

    wc__view_sink(vp->c, vp->upd, vp->len);
    wc_free(vp);
}

void wc_cluster_view_updates(wc_cluster *c, const uint8_t *upd, size_t len)
{
    wc__view_post *vp;

    if (c == NULL || (vp = wc_malloc(sizeof(*vp) + len)) == NULL)
        return;
    vp->c = c;
    vp->len = len;
    memcpy(vp->upd, upd, len);
    if (c->env->ops->post(c->env, wc__view_posted, vp) != WC_OK) {
        wc_clear_error();
        wc_free(vp);
    }
}

/* Paired view updates, when the node keeps views (on the loop, after the coordinator). */
static wc_status wc__setup_views(wc_cluster *c)
{
    wc_view_pair_options vo;
    wc_status st;

    if (c->local.views_attach == NULL)
        return WC_OK;
    memset(&vo, 0, sizeof(vo));
    vo.env = c->env;
    vo.coord = c->coord;
    vo.store = c->store;
    vo.engine = c->engine;
    if ((st = wc_view_pair_create(&vo, &c->views)) != WC_OK)
        return st;
    c->local.views_attach(c->local.ctx, wc__view_sink, c);
    return WC_OK;
}

/* The coordinator and hint delivery over the local store (on the loop, before gossip starts). */
static wc_status wc__setup_coordination(wc_cluster *c)
{
    wc_coord_options co;
    wc_hint_delivery_options ho;
    wc_status st;

    if ((st = c->local.store_open(c->local.ctx, c->env, &c->store)) != WC_OK)
        return st;
    atomic_store(&c->store_opened, true);
    memset(&co, 0, sizeof(co));
    co.env = c->env;
    memcpy(co.self_id, c->host_id, WC_RING_HOST_ID_LEN);
    snprintf(co.self_dc, sizeof(co.self_dc), "%s", c->dc);
    co.store = c->store;
    co.is_alive = wc__is_alive;
    co.replication = wc__replication;
    co.store_hint = wc__store_hint;
    co.ctx = c;
    if ((st = wc_coord_create(&co, &c->coord)) != WC_OK)
        return st;
    if ((st = wc__setup_views(c)) != WC_OK)
        return st;
    if ((st = wc__create_stream(c)) != WC_OK)
        return st;
    if ((st = wc_transfer_create(c->env, c->stream, 0, &c->transfer)) != WC_OK)
        return st;
    if ((st = wc__setup_batchlog(c)) != WC_OK)
        return st;
    if ((st = wc__setup_paxos(c)) != WC_OK)
        return st;
    wc_hint_delivery_options_default(&ho);
    memcpy(ho.self_host_id, c->host_id, WC_HOST_ID_LEN);
    ho.apply = wc__apply_hint;
    ho.apply_arg = c;
    if ((st = wc_hint_delivery_new(c->env, c->hints, &ho, &c->delivery)) != WC_OK)
        return st;
    if ((st = wc_repair_create(c->env, c->store, &c->repair)) != WC_OK)
        return st;
    if (c->env->ops->timer_start(c->env, WC__HINTS_SYNC_MS, wc__hints_sync_tick, c) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory for the hints timer");
    return WC_OK;
}

static wc_status wc__decom_resume(wc_cluster *c);

/* Create the gossiper, set the local states and start gossiping (on the loop). */
static wc_status wc__setup(wc_cluster *c)
{
    wc_gossip_options go;
    wc_gossip_listener l = {wc__on_join, wc__on_change, wc__on_alive, wc__on_dead, wc__on_remove,
                            c};
    wc_status st;

    wc_gossip_options_default(&go);
    go.cluster_name = c->cluster_name;
    go.seeds = c->seeds;
    go.nseeds = c->nseeds;
    go.generation = c->generation;
    if (c->interval_ms)
        go.interval_ms = c->interval_ms;
    if (c->phi > 0)
        go.phi_convict_threshold = c->phi;
    if ((st = wc_gossip_create(c->env, &go, &c->gossip)) != WC_OK)
        return st;
    if (c->local.store_open && (st = wc__setup_coordination(c)) != WC_OK)
        return st;
    if ((st = wc_gossip_add_listener(c->gossip, &l)) != WC_OK ||
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_HOST_ID, c->host_id,
                                  WC_RING_HOST_ID_LEN)) != WC_OK ||
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_DC, c->dc, strlen(c->dc))) != WC_OK ||
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_RACK, c->rack, strlen(c->rack))) != WC_OK)
        return st;
    /* the schema store announces SCHEMA (its version) */
    if (c->engine && (st = wc_schema_runtime_create_fs(c->fs, c->env, c->gossip, c->data_dir,
                                                        c->engine, c->log, c->log_arg,
                                                        &c->schema)) != WC_OK)
        return st;
    if (c->schema && c->local.table_followed)
        wc_schema_runtime_set_follow(c->schema, c->local.table_followed, c->local.ctx);
    if (c->sql_address &&
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_SQL_ADDRESS, c->sql_address,
                                  strlen(c->sql_address))) != WC_OK)
        return st;
    if (c->release_version &&
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_RELEASE_VERSION, c->release_version,
                                  strlen(c->release_version))) != WC_OK)
        return st;
    wc__set_load(c);
    if (atomic_load(&c->left)) { /* decommissioned or removed: no part in the cluster any more */
        wc__log(c, WC_LOG_WARNING, "cluster: %s", WC__LEFT_DETAIL);
        if ((st = wc_gossip_set_local(c->gossip, WC_GOSSIP_STATUS, "left", 4)) != WC_OK)
            return st;
        wc__refresh(c, false);
        return WC_OK;
    }
    if (c->replace_phase == WC__REPLACE_ASKING) { /* gossips once the dead node's tokens are known */
        if (c->stream == NULL || (c->engine == NULL && c->local.list_tables == NULL))
            wc__replace_refuse(c, "this node does not coordinate, so it cannot take a node's data");
        else
            wc__replace_ask(c);
        if (c->env->ops->timer_start(c->env, c->load_interval_ms, wc__load_tick, c) == 0)
            return wc_error(WC_NO_MEMORY, "out of memory for the load timer");
        wc__refresh(c, false);
        return WC_OK;
    }
    if (c->replacing && c->bootstrapping &&
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_REPLACING, c->replace_id,
                                  WC_RING_HOST_ID_LEN)) != WC_OK)
        return st;
    if ((c->ntokens == 0 || c->bootstrapping) &&
        (st = wc_gossip_set_local(c->gossip, WC_GOSSIP_STATUS, "joining", 7)) != WC_OK)
        return st;
    if ((st = wc_gossip_start(c->gossip)) != WC_OK)
        return st;
    if (c->ntokens && c->bootstrapping) {
        wc__log(c, WC_LOG_INFO, "cluster: this node had not finished its bootstrap: it streams "
                                "the rest");
        wc__announce(c, "joining");
        wc__boot_later(c, c->interval_ms ? 3 * c->interval_ms : 3000);
    } else if (c->ntokens && c->leaving && c->coord && c->transfer) {
        wc__log(c, WC_LOG_INFO, "cluster: this node was leaving when it stopped: its "
                                "decommission resumes");
        wc__announce(c, "leaving");
        if ((st = wc__decom_resume(c)) != WC_OK)
            return st;
    } else if (c->ntokens)
        wc__announce(c, c->leaving ? "leaving" : "normal");
    else {
        c->join_started_ms = wc_env_now_ms(c->env);
        wc__join_check(c);
    }
    if (c->env->ops->timer_start(c->env, c->load_interval_ms, wc__load_tick, c) == 0)
        return wc_error(WC_NO_MEMORY, "out of memory for the load timer");
    wc__refresh(c, false);
    return WC_OK;
}

static wc_status wc__announce_shutdown(wc_cluster *c)
{
    c->stopping = true;
    if (c->gossip)
        wc_gossip_shutdown(c->gossip);
    return WC_OK;
}

/* The schema store uses the loop's timers: it goes before the loop stops. */
static wc_status wc__drop_schema(wc_cluster *c)
{
    wc_schema_runtime_destroy(c->schema);
    c->schema = NULL;
    return WC_OK;
}


static void wc__topo_abandon(wc_cluster *c);

/*
 * Drain the store (its pending completions run now), cancel what the
 * coordinator still waits for and stop hint delivery (on the loop).
 */
static wc_status wc__teardown_coordination(wc_cluster *c)
{
    c->stopping = true;
    /* first: its requests end, the commits the store still applies complete into nothing */
    wc_paxos_destroy(c->paxos);
    c->paxos = NULL;
    wc_paxos_file_close(c->paxos_file);
    c->paxos_file = NULL;
    if (atomic_load(&c->store_opened)) {
        c->local.store_close(c->local.ctx);
        atomic_store(&c->store_opened, false);
    }
    /* after the store: its drained completions end view sends */
    wc_view_pair_destroy(c->views);
    c->views = NULL;
    wc__topo_abandon(c);
    wc_transfer_destroy(c->transfer); /* before the stream: it cancels its pulls */
    c->transfer = NULL;
    wc_stream_destroy(c->stream);
    c->stream = NULL;
    if (c->coord)
        wc_coord_destroy(c->coord);
    c->coord = NULL;
    /* after the coordinator: its writes ended, some of them into the batchlog */
    wc_batchlog_destroy(c->batchlog);
    c->batchlog = NULL;
    wc_batchlog_dir_close(c->batchlog_dir);
    c->batchlog_dir = NULL;
    wc_hint_delivery_free(c->delivery);
    c->delivery = NULL;
    wc_repair_destroy(c->repair); /* after the store drained: no tree job pending */
    c->repair = NULL;
    return WC_OK;
}

/* Stop coordinating (on the loop, or here once the loop is gone). */
static void wc__stop_coordination(wc_cluster *c)
{
    if (c->env == NULL || wc__on_loop(c, wc__teardown_coordination) != WC_OK)
        (void)wc__teardown_coordination(c);
}

/* Open the hint store under the data directory. */
static wc_status wc__open_hints(wc_cluster *c)
{
    wc_hints_options ho;
    char dir[4200];

    snprintf(dir, sizeof(dir), "%s/%s", c->data_dir, WC_CLUSTER_HINTS_DIR);
    wc_hints_options_default(&ho);
    ho.dir = dir;
    ho.fs = c->fs;
    ho.sync = WC_HINTS_SYNC_PERIODIC;
    ho.max_hint_window_ms = UINT64_MAX / 2000; /* the window is checked by wc__store_hint */
    ho.log = wc__transport_log;
    ho.log_arg = c;
    return wc_hints_open(&ho, &c->hints);
}

/* ---------------------------------------------------------------- requests of node workers */

/* One write or read handed to the loop; the asking thread waits on cv. */
typedef struct wc__ask {
    wc_cluster *c;
    bool is_read, scan, logged;
    uint32_t table_id;
    const uint8_t *batch;
    size_t len;
    const wc_store_read *read;
    const wc_coord_index_query *index; /* an index read */
    wc_consistency cl;
    uint32_t timeout_ms;
    wc_coord_result *res;
    wc_buf *answer;
    wc_buf *resume; /* an index read: where its next page starts */
    bool *more;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wc__ask;

static void wc__ask_end(wc__ask *k, const wc_coord_result *res, const uint8_t *data, size_t len)
{
    pthread_mutex_lock(&k->mu);
    *k->res = *res;
    if (res->status == WC_OK && k->answer && len)
        wc_buf_append(k->answer, data, len);
    k->done = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void wc__ask_write_done(void *arg, const wc_coord_result *res)
{
    wc__ask_end(arg, res, NULL, 0);
}

static void wc__ask_read_done(void *arg, const wc_coord_result *res, const uint8_t *data,
                              size_t len)
{
    wc__ask_end(arg, res, data, len);
}

static void wc__ask_index_done(void *arg, const wc_coord_result *res, const uint8_t *data,
                               size_t len, const uint8_t *resume, size_t resume_len, bool more)
{
    wc__ask *k = arg;

    /* the waiting thread reads these only after wc__ask_end */
    if (res->status == WC_OK) {
        wc_buf_append(k->resume, resume, resume_len);
        *k->more = more;
    }
    wc__ask_end(k, res, data, len);
}

/* A lightweight transaction handed to the loop (wc_cluster_cas). */
typedef struct wc__cas_ask {
    wc_cluster *c;
    const wc_store_read *read;
    wc_consistency cl;
    uint32_t timeout_ms;
    wc_paxos_decide_fn decide;
    void *decide_arg;
    wc_paxos_result *res;
    wc_buf *current;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wc__cas_ask;

static void wc__cas_done(void *arg, const wc_paxos_result *res, const uint8_t *cur, size_t len)
{
    wc__cas_ask *k = arg;

    pthread_mutex_lock(&k->mu);
    *k->res = *res;
    if (k->current && cur && len)
        wc_buf_append(k->current, cur, len);
    k->done = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void wc__cas_tramp(void *arg)
{
    wc__cas_ask *k = arg;
    wc_cluster *c = k->c;

    if (c->paxos == NULL || c->stopping) {
        wc_paxos_result r;
        memset(&r, 0, sizeof(r));
        r.status = WC_UNAVAILABLE;
        snprintf(r.detail, sizeof(r.detail), "coordinator stopped");
        wc__cas_done(k, &r, NULL, 0);
        return;
    }
    wc_paxos_cas(c->paxos, k->read, k->cl, k->timeout_ms, k->decide, k->decide_arg, wc__cas_done,
                 k);
}

wc_status wc_cluster_cas(wc_cluster *c, const wc_store_read *r, wc_consistency serial_cl,
                         uint32_t timeout_ms, wc_paxos_decide_fn decide, void *decide_arg,
                         wc_paxos_result *res, wc_buf *current)
{
    wc__cas_ask k;
    wc_status st = WC_UNAVAILABLE;

    memset(&k, 0, sizeof(k));
    memset(res, 0, sizeof(*res));
    k.c = c;
    k.read = r;
    k.cl = serial_cl;
    k.timeout_ms = timeout_ms ? timeout_ms : 1;
    k.decide = decide;
    k.decide_arg = decide_arg;
    k.res = res;
    k.current = current;
    pthread_mutex_init(&k.mu, NULL);
    pthread_cond_init(&k.cv, NULL);
    if (!wc_cluster_coordinates(c))
        snprintf(res->detail, sizeof(res->detail), "this node does not coordinate");
    else if ((st = c->env->ops->post(c->env, wc__cas_tramp, &k)) != WC_OK)
        snprintf(res->detail, sizeof(res->detail), "the cluster runtime stopped");
    else {
        pthread_mutex_lock(&k.mu);
        while (!k.done)
            pthread_cond_wait(&k.cv, &k.mu);
        pthread_mutex_unlock(&k.mu);
        st = res->status;
    }
    if (st != WC_OK && res->status == WC_OK)
        res->status = st;
    pthread_mutex_destroy(&k.mu);
    pthread_cond_destroy(&k.cv);
    if (res->status != WC_OK)
        return wc_error(res->status, "%s", res->detail);
    return WC_OK;
}

static wc_status wc__apply_batchlog_replay(wc_cluster *c)
{
    if (c->batchlog)
        wc_batchlog_set_replay_after(c->batchlog, atomic_load(&c->batchlog_replay_ms));
    return WC_OK;
}

static void wc__ask_tramp(void *arg)
{
    wc__ask *k = arg;
    wc_cluster *c = k->c;

    if (c->coord == NULL || c->stopping) {
        wc_coord_result r = {.status = WC_UNAVAILABLE, .cl = k->cl, .detail = "coordinator stopped"};
        wc__ask_end(k, &r, NULL, 0);
    } else if (atomic_load(&c->left)) {
        wc_coord_result r = {.status = WC_UNAVAILABLE, .cl = k->cl};
        snprintf(r.detail, sizeof(r.detail), "%s", WC__LEFT_DETAIL);
        wc__ask_end(k, &r, NULL, 0);
    } else if (c->replace_phase != 0) {
        wc_coord_result r = {.status = WC_UNAVAILABLE, .cl = k->cl};
        snprintf(r.detail, sizeof(r.detail), "%s",
                 c->replace_phase == WC__REPLACE_REFUSED
                     ? c->replace_why
                     : "this node asks its seeds about the dead node it replaces; no replica was "
                       "asked");
        wc__ask_end(k, &r, NULL, 0);
    } else if (k->logged)
        wc_batchlog_write(c->batchlog, k->batch, k->len, k->cl, k->timeout_ms, wc__ask_write_done,
                          k);
    else if (!k->is_read)
        wc_coord_write(c->coord, k->table_id, k->batch, k->len, k->cl, k->timeout_ms,
                       wc__ask_write_done, k);
    else if (k->index)
        wc_coord_index_read(c->coord, k->index, k->cl, k->timeout_ms, wc__ask_index_done, k);
    else if (k->scan)
        wc_coord_scan(c->coord, k->read, k->cl, k->timeout_ms, wc__ask_read_done, k);
    else
        wc_coord_read(c->coord, k->read, k->cl, k->timeout_ms, wc__ask_read_done, k);
}

/* Post k to the loop and wait for its end. */
static wc_status wc__ask_run(wc__ask *k)
{
    wc_status st = WC_UNAVAILABLE;

    memset(k->res, 0, sizeof(*k->res));
    k->res->cl = k->cl;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (!wc_cluster_coordinates(k->c))
        snprintf(k->res->detail, sizeof(k->res->detail), "this node does not coordinate");
    else if ((st = k->c->env->ops->post(k->c->env, wc__ask_tramp, k)) != WC_OK)
        snprintf(k->res->detail, sizeof(k->res->detail), "the cluster runtime stopped");
    else {
        pthread_mutex_lock(&k->mu);
        while (!k->done)
            pthread_cond_wait(&k->cv, &k->mu);
        pthread_mutex_unlock(&k->mu);
        st = k->res->status;
    }
    if (st != WC_OK && k->res->status == WC_OK)
        k->res->status = st;
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    if (k->res->status != WC_OK)
        return wc_error(k->res->status, "%s", k->res->detail);
    return WC_OK;
}

static void wc__ask_init(wc__ask *k, wc_cluster *c, wc_consistency cl, uint32_t timeout_ms,
                         wc_coord_result *res)
{
    memset(k, 0, sizeof(*k));
    k->c = c;
    k->cl = cl;
    k->timeout_ms = timeout_ms;
    k->res = res;
}

wc_status wc_cluster_write(wc_cluster *c, uint32_t table_id, const uint8_t *batch, size_t len,
                           wc_consistency cl, uint32_t timeout_ms, wc_coord_result *res)
{
    wc__ask k;

    wc__ask_init(&k, c, cl, timeout_ms, res);
    k.table_id = table_id;
    k.batch = batch;
    k.len = len;
    return wc__ask_run(&k);
}

wc_status wc_cluster_write_logged(wc_cluster *c, const uint8_t *batch, size_t len,
                                  wc_consistency cl, uint32_t timeout_ms, wc_coord_result *res)
{
    wc__ask k;

    wc__ask_init(&k, c, cl, timeout_ms, res);
    k.logged = true;
    k.batch = batch;
    k.len = len;
    return wc__ask_run(&k);
}

void wc_cluster_set_batchlog_replay(wc_cluster *c, uint32_t replay_after_ms)
{
    atomic_store(&c->batchlog_replay_ms, replay_after_ms);
    if (wc_cluster_coordinates(c)) /* else the batchlog, once created, takes it */
        (void)wc__on_loop(c, wc__apply_batchlog_replay);
}

wc_status wc_cluster_read(wc_cluster *c, const wc_store_read *r, bool scan, wc_consistency cl,
                          uint32_t timeout_ms, wc_coord_result *res, wc_buf *answer)
{
    wc__ask k;

    wc__ask_init(&k, c, cl, timeout_ms, res);
    k.is_read = true;
    k.scan = scan;
    k.read = r;
    k.answer = answer;
    return wc__ask_run(&k);
}

wc_status wc_cluster_index_read(wc_cluster *c, const wc_coord_index_query *q, wc_consistency cl,
                                uint32_t timeout_ms, wc_coord_result *res, wc_buf *answer,
                                wc_buf *resume, bool *more)
{
    wc__ask k;

    *more = false;
    wc__ask_init(&k, c, cl, timeout_ms, res);
    k.is_read = true;
    k.index = q;
    k.answer = answer;
    k.resume = resume;
    k.more = more;
    return wc__ask_run(&k);
}

/* ---------------------------------------------------------------- repair */

/* One range's Merkle trees, asked on the loop; the repairing thread waits on cv. */
typedef struct wc__tree_wait {
    wc_cluster *c;
    uint32_t table_id;
    int64_t start, end, now_sec; /* now_sec: set on the loop */
    const wc_addr *peers;
    const bool *local;
    size_t n;
    uint32_t timeout_ms;
    wc_merkle *trees; /* n of them, filled on success */
    wc_status st;
    char detail[256];
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wc__tree_wait;

static void wc__trees_done(void *arg, wc_status st, const wc_merkle *const *trees, size_t n,
                           const char *detail)
{
    wc__tree_wait *k = arg;

    pthread_mutex_lock(&k->mu);
    k->st = st;
    snprintf(k->detail, sizeof(k->detail), "%s", detail ? detail : "");
    for (size_t i = 0; st == WC_OK && i < n; i++)
        k->trees[i] = *trees[i];
    k->done = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void wc__trees_tramp(void *arg)
{
    wc__tree_wait *k = arg;
    wc_cluster *c = k->c;

    if (c->repair == NULL || c->stopping) {
        wc__trees_done(k, WC_UNAVAILABLE, NULL, 0, "the node stopped coordinating");
        return;
    }
    k->now_sec = wc_env_wall_us(c->env) / 1000000;
    wc_repair_trees(c->repair, k->table_id, k->start, k->end, k->now_sec, k->peers, k->local,
                    k->n, k->timeout_ms, wc__trees_done, k);
}

/* Post k to the loop and wait for the trees. */
static wc_status wc__trees_run(wc__tree_wait *k)
{
    wc_status st;

    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if ((st = k->c->env->ops->post(k->c->env, wc__trees_tramp, k)) != WC_OK)
        st = wc_error(WC_UNAVAILABLE, "the cluster runtime stopped");
    else {
        pthread_mutex_lock(&k->mu);
        while (!k->done)
            pthread_cond_wait(&k->cv, &k->mu);
        pthread_mutex_unlock(&k->mu);
        st = k->st == WC_OK ? WC_OK : wc_error(k->st, "%s", k->detail);
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    return st;
}

/* Repair leaf sub-range (lo, hi] (no wrap) with a read at ALL; totals into out. */
static wc_status wc__repair_span(wc_cluster *c, uint32_t table_id, int64_t lo, int64_t hi,
                                 bool incl_min, int64_t now_sec, uint32_t timeout_ms, wc_buf *ans,
                                 wc_repair_result *out)
{
    wc_store_read r;
    wc_coord_result res;
    wc_status st;

    memset(&r, 0, sizeof(r));
    r.table_id = table_id;
    r.token_range = true;
    r.token_start = incl_min ? INT64_MIN : lo;
    r.token_end = hi;
    r.start.unbounded = r.end.unbounded = true;
    r.include_static = true;
    r.now_sec = now_sec;
    wc_buf_reset(ans);
    st = wc_cluster_read(c, &r, true, WC_CL_ALL, timeout_ms, &res, ans);
    out->repairs_sent += res.repairs;
    out->rows_streamed += res.repair_rows;
    out->bytes_streamed += res.repair_bytes;
    return st;
}

/* Repair the leaves marked in differs of the range (start, end]. */
static wc_status wc__repair_leaves(wc_cluster *c, uint32_t table_id, const wc_merkle *tree,
                                   const bool *differs, int64_t now_sec, uint32_t timeout_ms,
                                   wc_repair_result *out)
{
    wc_buf ans;
    wc_status st = WC_OK;

    wc_buf_init(&ans);
    for (uint32_t i = 0; i < WC_MERKLE_LEAVES && st == WC_OK; i++) {
        int64_t lo, hi;
        if (!differs[i] || !wc_merkle_leaf_range(tree, i, &lo, &hi))
            continue;
        out->leaves_mismatched++;
        if (lo < hi)
            st = wc__repair_span(c, table_id, lo, hi, false, now_sec, timeout_ms, &ans, out);
        else { /* wraps: (lo, max], then [min, hi] */
            st = wc__repair_span(c, table_id, lo, INT64_MAX, false, now_sec, timeout_ms, &ans, out);
            if (st == WC_OK && hi != INT64_MIN)
                st = wc__repair_span(c, table_id, INT64_MIN, hi, true, now_sec, timeout_ms, &ans,
                                     out);
        }
    }
    wc_buf_free(&ans);
    return st;
}

wc_status wc_cluster_repair(wc_cluster *c, uint32_t table_id, bool primary_only,
                            uint32_t timeout_ms, wc_repair_progress_fn progress, void *arg,
                            wc_repair_result *out)
{
    wc_ring *ring = NULL;
    wc_placement *pl = NULL;
    wc_replication repl;
    wc_addr *peers = NULL;
    bool *local = NULL, *differs = NULL;
    wc__tree_wait k;
    size_t ntok;
    int32_t self;
    wc_status st;

    memset(out, 0, sizeof(*out));
    memset(&k, 0, sizeof(k));
    if (!wc_cluster_coordinates(c))
        return wc_error(WC_UNAVAILABLE, "this node does not coordinate for a cluster");
    if ((ring = wc_cluster_ring(c)) == NULL)
        return wc_error(WC_UNAVAILABLE, "this node has no ring yet (its tokens are not chosen)");
    if ((st = c->local.replication(c->local.ctx, table_id, &repl)) != WC_OK)
        goto fail;
    if ((st = wc_placement_build(ring, &repl, &pl)) != WC_OK)
        goto fail;
    if ((self = wc_ring_find_host(ring, c->host_id)) < 0) {
        st = wc_error(WC_UNAVAILABLE, "this node is not in the ring");
        goto fail;
    }
    ntok = wc_ring_token_count(ring);
    peers = wc_calloc(wc_ring_host_count(ring), sizeof(*peers));
    local = wc_calloc(wc_ring_host_count(ring), sizeof(*local));
    differs = wc_calloc(WC_MERKLE_LEAVES, sizeof(*differs));
    k.trees = wc_calloc(wc_ring_host_count(ring), sizeof(*k.trees));
    if (!peers || !local || !differs || !k.trees) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting a repair");
        goto fail;
    }
    /* two passes: count the ranges, then repair them */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ntok; i++) {
            int64_t end = wc_ring_token_at(ring, i);
            int64_t start = wc_ring_token_at(ring, i == 0 ? ntok - 1 : i - 1);
            const uint32_t *hosts;
            size_t n = wc_placement_replicas(pl, end, &hosts), mine = n;
            for (size_t j = 0; j < n; j++)
                if (hosts[j] == (uint32_t)self)
                    mine = j;
            if (mine == n || (primary_only && mine != 0))
                continue;
            if (pass == 0) {
                out->ranges_total++;
                continue;
            }
            if (n > 1) {
                uint32_t diff = 0;
                for (size_t j = 0; j < n; j++) {
                    peers[j] = wc_ring_host(ring, hosts[j])->addr;
                    local[j] = hosts[j] == (uint32_t)self;
                }
                k.c = c;
                k.table_id = table_id;
                k.start = start;
                k.end = end;
                k.peers = peers;
                k.local = local;
                k.n = n;
                k.timeout_ms = timeout_ms;
                k.done = false;
                if ((st = wc__trees_run(&k)) != WC_OK)
                    goto fail;
                out->partitions += k.trees[mine].partitions;
                memset(differs, 0, WC_MERKLE_LEAVES * sizeof(*differs));
                for (size_t j = 0; j < n; j++)
                    if (j != mine)
                        diff += wc_merkle_diff(&k.trees[mine], &k.trees[j], differs);
                if (diff > 0) {
                    out->ranges_mismatched++;
                    if ((st = wc__repair_leaves(c, table_id, &k.trees[mine], differs, k.now_sec,
                                                timeout_ms, out)) != WC_OK)
                        goto fail;
                }
            }
            out->ranges_done++;
            if (progress)
                progress(arg, out);
        }
    }
    st = WC_OK;
fail:
    wc_free(peers);
    wc_free(local);
    wc_free(differs);
    wc_free(k.trees);
    if (pl)
        wc_placement_unref(pl);
    wc_ring_unref(ring);
    return st;
}

/* ---------------------------------------------------------------- decommission and removenode */

static wc_status wc__refuse_if_changing(wc_cluster *c, const char *what);

/* One decommission or removenode: it runs on the loop and ends by calling done. */
typedef struct wc__topo {
    wc_cluster *c;
    bool remove;                          /* removenode of host_id; else decommission */
    uint8_t host_id[WC_RING_HOST_ID_LEN]; /* the host that leaves the ring */
    wc_topology_result res;
    uint32_t pending;                     /* transfer asks not ended */
    wc_status st;                         /* the first failure */
    char detail[512];
    wc_topology_done_fn done;             /* NULL: nobody waits (resumed after a restart) */
    void *arg;
    uint64_t heard_ms;                    /* resumed: when the cluster was first heard from */
    uint64_t handoff_ms;                  /* when the handoff of hints and batchlog began */
    bool has_via;                         /* the node they go to */
    wc_addr via;
    uint8_t via_id[WC_RING_HOST_ID_LEN];
} wc__topo;

static void wc__topo_fail(wc__topo *k, wc_status st, const char *detail)
{
    if (k->st != WC_OK)
        return;
    k->st = st;
    snprintf(k->detail, sizeof(k->detail), "%s", detail);
}

/* Report the end to whoever waits and free k (on the loop). */
static void wc__topo_end(wc__topo *k)
{
    wc_cluster *c = k->c;

    if (c->topo == k)
        c->topo = NULL;
    if (k->remove && c->has_removing) {
        c->has_removing = false;
        wc__refresh(c, true);
    }
    if (k->done)
        k->done(k->arg, k->st, &k->res, k->st == WC_OK ? "" : k->detail);
    wc_free(k);
}

/* End k with st and the detail of the last error (on the loop). */
static void wc__topo_refuse(wc__topo *k, wc_status st)
{
    wc__topo_fail(k, st, wc_last_error());
    wc__topo_end(k);
}

/* The coordination stops: a running change ends as failed (its asks are dropped). */
static void wc__topo_abandon(wc_cluster *c)
{
    if (c->topo == NULL)
        return;
    if (c->topo_timer && c->env) /* its callback would find the change gone */
        c->env->ops->timer_cancel(c->env, c->topo_timer);
    c->topo_timer = 0;
    wc__topo_fail(c->topo, WC_UNAVAILABLE, "the node stopped coordinating");
    wc__topo_end(c->topo);
}

/* Whether ring r, without the leaving node, still holds enough nodes for every table. */
static wc_status wc__rf_fits(wc_cluster *c, const wc_ring *np)
{
    uint32_t *ids = NULL, nh = np ? wc_ring_host_count(np) : 0;
    size_t nids = 0;
    wc_replication repl;
    wc_status st;

    if ((st = wc__list_tables(c, &ids, &nids)) != WC_OK)
        return st;
    for (size_t t = 0; t < nids && st == WC_OK; t++) {
        if (c->local.replication(c->local.ctx, ids[t], &repl) != WC_OK)
            continue;
        if (repl.cls == WC_REPL_SIMPLE && repl.replication_factor > nh)
            st = wc_error(WC_INVALID_ARGUMENT,
                          "table %u has replication factor %u, and only %u nodes would remain",
                          ids[t], repl.replication_factor, nh);
        for (uint32_t d = 0; repl.cls == WC_REPL_NETWORK_TOPOLOGY && d < repl.ndcs && st == WC_OK;
             d++) {
            uint32_t in_dc = 0;
            for (uint32_t h = 0; h < nh; h++)
                in_dc += strcmp(wc_ring_host(np, h)->dc, repl.dcs[d].name) == 0;
            if (repl.dcs[d].factor > in_dc)
                st = wc_error(WC_INVALID_ARGUMENT,
                              "table %u has replication factor %u in data centre %s, and only %u "
                              "nodes of it would remain",
                              ids[t], repl.dcs[d].factor, repl.dcs[d].name, in_dc);
        }
    }
    wc_free(ids);
    return st;
}

/*
 * What every topology change checks first: none runs (here or, as gossip
 * says, elsewhere), every node of the ring that stays, np, is up, and np
 * holds enough nodes for every table's replication.
 */
static wc_status wc__topo_check(wc_cluster *c, const wc_ring *np)
{
    wc_status st;

    if (c->topo != NULL || c->leaving)
        return wc_error(WC_UNAVAILABLE, "the ring is changing (a decommission or removenode runs "
                                        "on this node): one change at a time");
    if ((st = wc__refuse_if_changing(c, "a topology change")) != WC_OK)
        return st;
    for (uint32_t h = 0; np && h < wc_ring_host_count(np); h++) {
        const wc_ring_member *m = wc_ring_host(np, h);
        char a[80];
        if (wc_addr_equal(&m->addr, &c->env->self) || wc__member_alive(c, m))
            continue;
        wc_addr_format(&m->addr, a, sizeof(a));
        return wc_error(WC_UNAVAILABLE,
                        "node %s is down: the nodes that stay must be up to take the ranges over "
                        "(bring it back, or remove it first with widecol.removenode)",
                        a);
    }
    return wc__rf_fits(c, np);
}

static void wc__topo_pulled(void *arg, wc_status st, uint64_t rows, uint64_t bytes,
                            const char *detail);
static void wc__topo_finish(wc__topo *k);
static void wc__topo_handoff(void *arg);
static void wc__decom_left(wc__topo *k);

/*
 * For table_id, the ranges of ring r whose replicas in np (r without the
 * leaving host) include a host that is not one in r: that host pulls the
 * range, from this node when it holds it, else from a live replica in r
 * other than the leaving host; into srcs[target * nr + source].
 */
static wc_status wc__topo_plan_table(wc__topo *k, wc_ring *r, wc_ring *np, uint32_t table_id,
                                     wc__boot_source *srcs, bool *targets)
{
    wc_cluster *c = k->c;
    wc_replication repl;
    wc_placement *po = NULL, *pn = NULL;
    size_t nt = wc_ring_token_count(r);
    uint32_t nr = wc_ring_host_count(r);
    int32_t self = wc_ring_find_host(r, c->host_id), gone = wc_ring_find_host(r, k->host_id);
    wc_status st;

    if (c->local.replication(c->local.ctx, table_id, &repl) != WC_OK)
        return WC_OK; /* not a table of the cluster */
    if ((st = wc_placement_build(r, &repl, &po)) != WC_OK ||
        (st = wc_placement_build(np, &repl, &pn)) != WC_OK)
        goto done;
    for (size_t i = 0; i < nt; i++) {
        int64_t end = wc_ring_token_at(r, i), start = wc_ring_token_at(r, i ? i - 1 : nt - 1);
        const uint32_t *oh, *nh;
        size_t no = wc_placement_replicas(po, end, &oh), nn = wc_placement_replicas(pn, end, &nh);

        for (size_t j = 0; j < nn; j++) {
            int32_t was = wc_ring_find_host(r, wc_ring_host(np, nh[j])->host_id), src = -1;
            bool held = false, ok;
            wc__boot_source *s;

            for (size_t o = 0; o < no && !held; o++)
                held = (int32_t)oh[o] == was;
            if (held)
                continue; /* a replica already */
            for (size_t o = 0; o < no; o++) {
                if ((int32_t)oh[o] == gone && !(gone == self && !k->remove))
                    continue;
                if ((int32_t)oh[o] == self) {
                    src = self;
                    break;
                }
                if (src < 0 && wc__member_alive(c, wc_ring_host(r, oh[o])))
                    src = (int32_t)oh[o];
            }
            if (src < 0) {
                st = wc_error(WC_UNAVAILABLE,
                              "no live replica holds the range (%" PRId64 ", %" PRId64
                              "] of table %u",
                              start, end, table_id);
                goto done;
            }
            s = &srcs[(size_t)nh[j] * nr + (uint32_t)src];
            s->addr = wc_ring_host(r, (uint32_t)src)->addr;
            if (nt == 1)
                ok = wc__boot_add(s, table_id, INT64_MIN, INT64_MAX);
            else if (start < end)
                ok = wc__boot_add(s, table_id, start, end);
            else
                ok = (start == INT64_MAX || wc__boot_add(s, table_id, start, INT64_MAX)) &&
                     wc__boot_add(s, table_id, INT64_MIN, end);
            if (!ok) {
                st = wc_error(WC_NO_MEMORY, "out of memory planning a topology change");
                goto done;
            }
            targets[nh[j]] = true;
            k->res.ranges++;
        }
    }
    st = WC_OK;
done:
    wc_placement_unref(po);
    wc_placement_unref(pn);
    return st;
}

/* Plan the transfers and ask every new owner to pull (on the loop). */
static void wc__topo_stream(void *arg)
{
    wc__topo *k = arg;
    wc_cluster *c = k->c;
    wc_ring *r = NULL, *np = NULL;
    uint32_t *ids = NULL, nr = 0, nn = 0;
    size_t nids = 0;
    wc__boot_source *srcs = NULL;
    bool *targets = NULL;
    wc_status st;

    c->topo_timer = 0;
    if ((st = wc__build_ring(c, &r)) != WC_OK ||
        (st = wc__build_ring_of(c, false, k->host_id, &np)) != WC_OK)
        goto fail;
    if (r == NULL || np == NULL || wc_ring_find_host(r, k->host_id) < 0) {
        st = wc_error(WC_UNAVAILABLE, "the ring changed under the topology change");
        goto fail;
    }
    nr = wc_ring_host_count(r);
    nn = wc_ring_host_count(np);
    srcs = wc_calloc((size_t)nn * nr, sizeof(*srcs));
    targets = wc_calloc(nn, sizeof(*targets));
    if (srcs == NULL || targets == NULL ||
        (st = wc__list_tables(c, &ids, &nids)) != WC_OK) {
        st = srcs && targets ? st : wc_error(WC_NO_MEMORY, "out of memory planning a topology change");
        goto fail;
    }
    for (size_t t = 0; t < nids; t++)
        if ((st = wc__topo_plan_table(k, r, np, ids[t], srcs, targets)) != WC_OK)
            goto fail;
    for (uint32_t h = 0; h < nn; h++)
        k->res.targets += targets[h];
    wc__log(c, WC_LOG_INFO, "cluster: %s: %u ranges of %zu tables go to %u nodes",
            k->remove ? "removenode" : "decommission", k->res.ranges, nids, k->res.targets);
    for (size_t x = 0; x < (size_t)nn * nr; x++) {
        char name[WC_STREAM_NAME_MAX], what[40];
        if (srcs[x].n == 0)
            continue;
        if (k->remove)
            snprintf(what, sizeof(what), "remove-%02x%02x%02x%02x", k->host_id[0], k->host_id[1],
                     k->host_id[2], k->host_id[3]);
        else
            snprintf(what, sizeof(what), "leave");
        wc__session_name(name, what, &srcs[x].addr);
        if ((st = wc_transfer_ask(c->transfer, &wc_ring_host(np, (uint32_t)(x / nr))->addr, name,
                                  &srcs[x].addr, srcs[x].r, srcs[x].n, WC__TRANSFER_TIMEOUT_MS,
                                  wc__topo_pulled, k)) != WC_OK) {
            wc__topo_fail(k, st, wc_last_error());
            break;
        }
        k->pending++;
    }
    if (k->pending == 0)
        wc__topo_finish(k);
    goto done;
fail:
    wc__topo_fail(k, st, wc_last_error());
    wc__topo_finish(k);
done:
    for (size_t x = 0; srcs && x < (size_t)nn * nr; x++)
        wc_free(srcs[x].r);
    wc_free(srcs);
    wc_free(targets);
    wc_free(ids);
    wc_ring_unref(r);
    wc_ring_unref(np);
}

static void wc__topo_pulled(void *arg, wc_status st, uint64_t rows, uint64_t bytes,
                            const char *detail)
{
    wc__topo *k = arg;

    k->res.rows += rows;
    k->res.bytes += bytes;
    if (st != WC_OK) {
        char d[512];
        snprintf(d, sizeof(d), "a new owner could not pull its ranges: %s", detail);
        wc__topo_fail(k, st, d);
    }
    if (--k->pending == 0)
        wc__topo_finish(k);
}

/* Announce the hosts this node removed (REMOVED). */
static void wc__announce_removed(wc_cluster *c)
{
    if (wc_gossip_set_local(c->gossip, WC_GOSSIP_REMOVED, c->removed,
                            (size_t)c->nremoved * WC_RING_HOST_ID_LEN) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not announce the removed nodes: %s",
                wc_last_error());
}

/* Every transfer ended: the host leaves the ring, or (a failure) nothing changes. */
static void wc__topo_finish(wc__topo *k)
{
    wc_cluster *c = k->c;

    if (k->st != WC_OK) {
        wc__log(c, WC_LOG_WARNING, "cluster: %s failed (the ring is as before): %s",
                k->remove ? "removenode" : "decommission", k->detail);
        if (!k->remove && c->leaving) {
            c->leaving = false;
            if (wc__state_write(c) != WC_OK)
                wc__log(c, WC_LOG_WARNING, "cluster: could not store the end of leaving: %s",
                        wc_last_error());
            wc__announce(c, "normal");
        }
        wc__topo_end(k);
        return;
    }
    if (k->remove) {
        if (wc__removed_add(c, k->host_id) != WC_OK) {
            wc__topo_fail(k, WC_NO_MEMORY, wc_last_error());
            wc__topo_end(k);
            return;
        }
        if (wc__state_write(c) != WC_OK)
            wc__log(c, WC_LOG_WARNING, "cluster: could not store the removed node: %s",
                    wc_last_error());
        wc__announce_removed(c);
        wc__log(c, WC_LOG_INFO, "cluster: removenode finished: the node left the ring");
        wc__topo_end(k); /* refreshes the ring without it */
        return;
    }
    wc__topo_handoff(k);
}

/*
 * The live node of the ring without this one that a leaving node hands
 * its hints and batchlog entries to: the one chosen before while it is up,
 * else one of this data centre, else any (into k->via).  False if none.
 */
static bool wc__handoff_target(wc__topo *k)
{
    wc_cluster *c = k->c;
    wc_ring *np = NULL;
    const wc_ring_member *pick = NULL;

    if (k->has_via && wc_gossip_is_alive(c->gossip, &k->via))
        return true;
    if (wc__build_ring_of(c, false, c->host_id, &np) != WC_OK || np == NULL) {
        wc_clear_error();
        return false;
    }
    for (uint32_t h = 0; h < wc_ring_host_count(np); h++) {
        const wc_ring_member *m = wc_ring_host(np, h);
        if (!wc_gossip_is_alive(c->gossip, &m->addr))
            continue;
        if (pick == NULL || (strcmp(m->dc, c->dc) == 0 && strcmp(pick->dc, c->dc) != 0))
            pick = m;
    }
    if (pick) {
        k->has_via = true;
        k->via = pick->addr;
        memcpy(k->via_id, pick->host_id, WC_RING_HOST_ID_LEN);
    }
    wc_ring_unref(np);
    return pick != NULL;
}

/*
 * The ranges are streamed: before it leaves, the node hands what only it
 * holds for others to a node that stays (as Cassandra streams its hints
 * at decommission): its batchlog entries, and its hints for hosts that are
 * down (those for live hosts are delivered to them).  Polled until none is
 * left, then the node leaves; a handoff that cannot finish in
 * WC__HANDOFF_TIMEOUT_MS fails the decommission.
 */
static void wc__topo_handoff(void *arg)
{
    wc__topo *k = arg;
    wc_cluster *c = k->c;
    uint64_t now = wc_env_now_ms(c->env), held = 0;
    wc_hints_stats hs;
    char a[80], d[300];

    c->topo_timer = 0;
    if (k->handoff_ms == 0) {
        k->handoff_ms = now ? now : 1;
        wc__log(c, WC_LOG_INFO, "cluster: decommission: %u ranges streamed; handing hints and "
                                "batchlog entries over",
                k->res.ranges);
    }
    if (wc__handoff_target(k)) {
        if (c->batchlog)
            held = wc_batchlog_handoff(c->batchlog, &k->via);
        if (c->delivery && wc_hint_delivery_handoff(c->delivery, &k->via, k->via_id) != WC_OK)
            wc__log(c, WC_LOG_WARNING, "cluster: out of memory handing hints over");
    } else if (c->batchlog) { /* nobody to take them yet: fine if there is nothing */
        wc_batchlog_stats bs;
        wc_batchlog_get_stats(c->batchlog, &bs);
        held = bs.held;
    }
    memset(&hs, 0, sizeof(hs));
    if (c->hints) {
        (void)wc_hints_expire(c->hints, wc_env_wall_us(c->env));
        wc_hints_get_stats(c->hints, &hs);
    }
    if (held == 0 && hs.hints == 0) {
        wc__decom_left(k);
        return;
    }
    if (now - k->handoff_ms >= WC__HANDOFF_TIMEOUT_MS) {
        wc_addr_format(&k->via, a, sizeof(a));
        snprintf(d, sizeof(d),
                 "%" PRIu64 " batchlog entries and %" PRIu64 " hints could not be handed over to "
                 "%s in %u s; run widecol.decommission() again",
                 held, hs.hints, k->has_via ? a : "a live node", WC__HANDOFF_TIMEOUT_MS / 1000);
        wc__topo_fail(k, WC_TIMEOUT, d);
        wc__topo_finish(k);
        return;
    }
    c->topo_timer = c->env->ops->timer_start(c->env, WC__HANDOFF_POLL_MS, wc__topo_handoff, k);
    if (c->topo_timer == 0) {
        wc__topo_fail(k, WC_NO_MEMORY, "out of memory for the handoff timer");
        wc__topo_finish(k);
    }
}

/* Everything is handed over: this node leaves the ring for good. */
static void wc__decom_left(wc__topo *k)
{
    wc_cluster *c = k->c;

    atomic_store(&c->left, true);
    c->leaving = false;
    if (wc__state_write(c) != WC_OK)
        wc__log(c, WC_LOG_WARNING, "cluster: could not store the end of the decommission: %s",
                wc_last_error());
    wc__announce(c, "left");
    wc__log(c, WC_LOG_INFO, "cluster: decommission finished: this node left the ring (%u ranges "
                            "handed over); %s",
            k->res.ranges, WC__LEFT_DETAIL);
    wc__topo_end(k);
}

/* Start a decommission of this node (on the loop). */
static void wc__decom_start(void *arg)
{
    wc__topo *k = arg;
    wc_cluster *c = k->c;
    wc_ring *r = NULL, *np = NULL;
    wc_status st;

    memcpy(k->host_id, c->host_id, WC_RING_HOST_ID_LEN);
    if (c->coord == NULL || c->transfer == NULL || c->stopping) {
        wc_error(WC_UNAVAILABLE, "this node does not coordinate for a cluster");
        wc__topo_refuse(k, WC_UNAVAILABLE);
        return;
    }
    if (c->topo && !c->topo->remove && c->topo->done == NULL) {
        /* the decommission resumed after a restart: this caller waits for its end */
        wc__log(c, WC_LOG_INFO, "cluster: decommission asked again: it waits for the one that "
                                "resumed after the restart");
        c->topo->done = k->done;
        c->topo->arg = k->arg;
        wc_free(k);
        return;
    }
    if (atomic_load(&c->left) || c->bootstrapping || c->ntokens == 0) {
        st = wc_error(WC_UNAVAILABLE, "the ring is changing (this node is not normal: it %s)",
                      atomic_load(&c->left) ? "left already" : "has not finished joining");
        wc__topo_refuse(k, st);
        return;
    }
    if ((st = wc__build_ring(c, &r)) != WC_OK ||
        (st = wc__build_ring_of(c, false, c->host_id, &np)) != WC_OK)
        goto fail;
    if (r == NULL || wc_ring_find_host(r, c->host_id) < 0) {
        st = wc_error(WC_UNAVAILABLE, "this node is not in the ring");
        goto fail;
    }
    if (np == NULL) {
        st = wc_error(WC_INVALID_ARGUMENT, "this node is the only node of its ring: no node "
                                           "would take its data");
        goto fail;
    }
    if ((st = wc__topo_check(c, np)) != WC_OK)
        goto fail;
    c->leaving = true;
    if ((st = wc__state_write(c)) != WC_OK) { /* a restart resumes it */
        c->leaving = false;
        goto fail;
    }
    c->topo = k;
    wc__announce(c, "leaving");
    wc__log(c, WC_LOG_INFO, "cluster: decommissioning: this node is leaving; its ranges stream to "
                            "their new owners once every node has heard");
    /* let "leaving" spread first, so that writes reach the new owners while they pull */
    c->topo_timer = c->env->ops->timer_start(
        c->env, 3 * (c->interval_ms ? c->interval_ms : 1000) + 500, wc__topo_stream, k);
    if (c->topo_timer == 0) {
        st = wc_error(WC_NO_MEMORY, "out of memory for the decommission timer");
        wc__topo_fail(k, st, wc_last_error());
        wc__topo_finish(k);
    }
    goto done;
fail:
    wc__topo_refuse(k, st);
done:
    wc_ring_unref(r);
    wc_ring_unref(np);
}

/* Start the removal of the dead host k->host_id (on the loop). */
static void wc__remove_start(void *arg)
{
    wc__topo *k = arg;
    wc_cluster *c = k->c;
    wc_ring *r = NULL, *np = NULL;
    const wc_addr *ep = NULL;
    char a[80] = "", idtext[40];
    wc_status st;

    for (int i = 0; i < 4; i++)
        snprintf(idtext + 2 * i, sizeof(idtext) - 2 * i, "%02x", k->host_id[i]);
    if (c->coord == NULL || c->transfer == NULL || c->stopping || atomic_load(&c->left)) {
        wc_error(WC_UNAVAILABLE, "this node does not coordinate for a cluster");
        wc__topo_refuse(k, WC_UNAVAILABLE);
        return;
    }
    if (memcmp(k->host_id, c->host_id, WC_RING_HOST_ID_LEN) == 0) {
        st = wc_error(WC_INVALID_ARGUMENT, "that is this node: a live node leaves with "
                                           "widecol.decommission()");
        wc__topo_refuse(k, st);
        return;
    }
    for (size_t i = 0; i < wc_gossip_endpoint_count(c->gossip) && ep == NULL; i++) {
        const uint8_t *v;
        size_t len;
        if (wc_gossip_get(c->gossip, wc_gossip_endpoint(c->gossip, i), WC_GOSSIP_HOST_ID, &v,
                          &len) == WC_OK &&
            len == WC_RING_HOST_ID_LEN && memcmp(v, k->host_id, len) == 0)
            ep = wc_gossip_endpoint(c->gossip, i);
    }
    if (ep == NULL) {
        st = wc_error(WC_NOT_FOUND, "no node with host id %s... is known", idtext);
        wc__topo_refuse(k, st);
        return;
    }
    wc_addr_format(ep, a, sizeof(a));
    if (wc_gossip_is_alive(c->gossip, ep)) {
        st = wc_error(WC_INVALID_ARGUMENT,
                      "node %s is up: removenode is for dead nodes (stop it first, or run "
                      "widecol.decommission() on it)",
                      a);
        wc__topo_refuse(k, st);
        return;
    }
    if ((st = wc__build_ring(c, &r)) != WC_OK ||
        (st = wc__build_ring_of(c, false, k->host_id, &np)) != WC_OK)
        goto fail;
    if (r == NULL || wc_ring_find_host(r, k->host_id) < 0) {
        st = wc_error(WC_INVALID_ARGUMENT, "node %s owns no range of the ring (it left or was "
                                           "removed already)",
                      a);
        goto fail;
    }
    if ((st = wc__topo_check(c, np)) != WC_OK)
        goto fail;
    c->topo = k;
    memcpy(c->removing, k->host_id, WC_RING_HOST_ID_LEN);
    c->has_removing = true;
    wc__refresh(c, true); /* this node's writes reach the new owners meanwhile */
    wc__log(c, WC_LOG_INFO, "cluster: removing dead node %s: its ranges stream from the "
                            "surviving replicas",
            a);
    wc__topo_stream(k);
    goto done;
fail:
    wc__topo_refuse(k, st);
done:
    wc_ring_unref(r);
    wc_ring_unref(np);
}

/* What an asking thread waits on (wc__topo_run). */
typedef struct wc__topo_wait {
    wc_status st;
    wc_topology_result res;
    char detail[512];
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} wc__topo_wait;

static void wc__topo_woken(void *arg, wc_status st, const wc_topology_result *res,
                           const char *detail)
{
    wc__topo_wait *w = arg;

    pthread_mutex_lock(&w->mu);
    w->st = st;
    w->res = *res;
    snprintf(w->detail, sizeof(w->detail), "%s", detail);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* A change for start, ending in done(arg) (NULL when out of memory). */
static wc__topo *wc__topo_new(wc_cluster *c, bool remove, const uint8_t *host_id,
                              wc_topology_done_fn done, void *arg)
{
    wc__topo *k = wc_calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->c = c;
    k->remove = remove;
    if (host_id)
        memcpy(k->host_id, host_id, WC_RING_HOST_ID_LEN);
    k->done = done;
    k->arg = arg;
    return k;
}

/* Post start with a new change to the loop and wait for its end. */
static wc_status wc__topo_run(wc_cluster *c, bool remove, const uint8_t *host_id,
                              wc_env_cb start, wc_topology_result *out)
{
    wc__topo_wait w;
    wc__topo *k;
    wc_status st;

    memset(out, 0, sizeof(*out));
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    if (!wc_cluster_coordinates(c))
        st = wc_error(WC_UNAVAILABLE, "this node does not coordinate for a cluster");
    else if ((k = wc__topo_new(c, remove, host_id, wc__topo_woken, &w)) == NULL)
        st = wc_error(WC_NO_MEMORY, "out of memory starting a topology change");
    else if ((st = c->env->ops->post(c->env, start, k)) != WC_OK) {
        wc_free(k);
        st = wc_error(WC_UNAVAILABLE, "the cluster runtime stopped");
    } else {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        *out = w.res;
        st = w.st == WC_OK ? WC_OK : wc_error(w.st, "%s", w.detail);
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return st;
}

wc_status wc_cluster_decommission(wc_cluster *c, wc_topology_result *out)
{
    return wc__topo_run(c, false, NULL, wc__decom_start, out);
}

wc_status wc_cluster_removenode(wc_cluster *c, const uint8_t host_id[WC_RING_HOST_ID_LEN],
                                wc_topology_result *out)
{
    return wc__topo_run(c, true, host_id, wc__remove_start, out);
}

/* Start k now (on the loop), or end it at once when out of memory or not coordinating. */
static void wc__topo_start_here(wc_cluster *c, bool remove, const uint8_t *host_id,
                                wc_env_cb start, wc_topology_done_fn done, void *arg)
{
    wc__topo *k = wc__topo_new(c, remove, host_id, done, arg);
    wc_topology_result none;

    if (k != NULL) {
        start(k);
        return;
    }
    memset(&none, 0, sizeof(none));
    done(arg, WC_NO_MEMORY, &none, "out of memory starting a topology change");
}

void wc_cluster_decommission_start(wc_cluster *c, wc_topology_done_fn done, void *arg)
{
    wc__topo_start_here(c, false, NULL, wc__decom_start, done, arg);
}

void wc_cluster_removenode_start(wc_cluster *c, const uint8_t host_id[WC_RING_HOST_ID_LEN],
                                 wc_topology_done_fn done, void *arg)
{
    wc__topo_start_here(c, true, host_id, wc__remove_start, done, arg);
}

/* A resumed decommission streams once the node heard from its cluster for three gossip rounds. */
static void wc__decom_resume_check(void *arg)
{
    wc__topo *k = arg;
    wc_cluster *c = k->c;
    uint64_t now = wc_env_now_ms(c->env), round = c->interval_ms ? c->interval_ms : 1000;

    c->topo_timer = 0;
    if (k->heard_ms == 0 && wc__heard_from_cluster(c) && wc__ring_ready(c))
        k->heard_ms = now ? now : 1;
    if (k->heard_ms != 0 && now - k->heard_ms >= 3 * round) {
        wc__topo_stream(k);
        return;
    }
    c->topo_timer = c->env->ops->timer_start(c->env, 200, wc__decom_resume_check, k);
    if (c->topo_timer == 0) {
        wc__topo_fail(k, WC_NO_MEMORY, "out of memory for the decommission timer");
        wc__topo_finish(k);
    }
}

/*
 * At start, a node that was leaving when it stopped ("leaving 1") resumes
 * its decommission (on the loop, after it announced "leaving"): the same
 * transfers are asked again, and each new owner resumes its pull from its
 * progress file; nobody waits for it (a later wc_cluster_decommission
 * does).
 */
static wc_status wc__decom_resume(wc_cluster *c)
{
    wc__topo *k = wc__topo_new(c, false, c->host_id, NULL, NULL);

    if (k == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory resuming the decommission");
    c->topo = k;
    c->topo_timer = c->env->ops->timer_start(c->env, 200, wc__decom_resume_check, k);
    if (c->topo_timer == 0) {
        c->topo = NULL;
        wc_free(k);
        return wc_error(WC_NO_MEMORY, "out of memory for the decommission timer");
    }
    return WC_OK;
}

/* ---------------------------------------------------------------- cleanup */

/* Append (start, end] to *v (growing it); false when out of memory. */
static bool wc__range_push(wc_token_range **v, size_t *n, size_t *cap, int64_t start, int64_t end)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        wc_token_range *p = wc_realloc(*v, nc * sizeof(*p));
        if (p == NULL)
            return false;
        *v = p;
        *cap = nc;
    }
    (*v)[(*n)++] = (wc_token_range){start, end};
    return true;
}

/*
 * The token ranges host replicates in placement pl of ring r, a range that
 * wraps given as two, into *out (caller frees).  WC_NO_MEMORY.
 */
static wc_status wc__host_ranges(const wc_ring *r, const wc_placement *pl, uint32_t host,
                                 wc_token_range **out, size_t *nout)
{
    size_t nt = wc_ring_token_count(r), n = 0, cap = 0;
    wc_token_range *v = NULL;
    bool ok = true;

    for (size_t i = 0; i < nt && ok; i++) {
        int64_t end = wc_ring_token_at(r, i), start = wc_ring_token_at(r, i ? i - 1 : nt - 1);
        const uint32_t *hosts;
        size_t nh = wc_placement_replicas(pl, end, &hosts), k;

        for (k = 0; k < nh && hosts[k] != host; k++)
            ;
        if (k == nh)
            continue;
        if (nt == 1) /* one token: the whole ring */
            ok = wc__range_push(&v, &n, &cap, INT64_MIN, INT64_MAX);
        else if (start < end)
            ok = wc__range_push(&v, &n, &cap, start, end);
        else
            ok = (start == INT64_MAX || wc__range_push(&v, &n, &cap, start, INT64_MAX)) &&
                 wc__range_push(&v, &n, &cap, INT64_MIN, end);
    }
    if (!ok) {
        wc_free(v);
        return wc_error(WC_NO_MEMORY, "out of memory listing a node's ranges");
    }
    *out = v;
    *nout = n;
    return WC_OK;
}

/* Refuse with WC_UNAVAILABLE while the ring changes (what: the operation refused). */
static wc_status wc__refuse_if_changing(wc_cluster *c, const char *what)
{
    char why[sizeof(c->changing_why)];

    if (!atomic_load(&c->ring_changing))
        return WC_OK;
    pthread_mutex_lock(&c->mu);
    memcpy(why, c->changing_why, sizeof(why));
    pthread_mutex_unlock(&c->mu);
    return wc_error(WC_UNAVAILABLE, "the ring is changing (%s): %s waits until every node is normal",
                    why, what);
}

/* Cleanup of one table (cleanup.c) against ring r; totals added to out. */
static wc_status wc__cleanup_table(wc_cluster *c, wc_ring *r, uint32_t table_id,
                                   wc_cleanup_result *out)
{
    wc_replication repl;
    wc_placement *pl = NULL;
    wc_token_range *keep = NULL;
    wc_cleanup_result one;
    size_t nkeep = 0;
    int32_t self = wc_ring_find_host(r, c->host_id);
    wc_status st;

    if (self < 0)
        return wc_error(WC_UNAVAILABLE, "this node owns no range of the ring (it has not "
                                        "joined, or it left)");
    if ((st = c->local.replication(c->local.ctx, table_id, &repl)) != WC_OK)
        return st;
    if ((st = wc_placement_build(r, &repl, &pl)) != WC_OK)
        return st;
    if ((st = wc__host_ranges(r, pl, (uint32_t)self, &keep, &nkeep)) == WC_OK) {
        st = wc_engine_cleanup(c->engine, table_id, keep, nkeep, &one);
        out->sstables_checked += one.sstables_checked;
        out->sstables_rewritten += one.sstables_rewritten;
        out->partitions_dropped += one.partitions_dropped;
        out->rows_dropped += one.rows_dropped;
        out->bytes_before += one.bytes_before;
        out->bytes_after += one.bytes_after;
    }
    wc_free(keep);
    wc_placement_unref(pl);
    return st;
}

wc_status wc_cluster_cleanup(wc_cluster *c, uint32_t table_id, wc_cleanup_result *out)
{
    wc_ring *r = NULL;
    uint32_t *ids = NULL;
    size_t nids = 0;
    wc_replication repl;
    wc_status st;

    memset(out, 0, sizeof(*out));
    if (!wc_cluster_coordinates(c) || c->engine == NULL)
        return wc_error(WC_UNAVAILABLE, "this node does not coordinate for a cluster");
    if ((st = wc__refuse_if_changing(c, "cleanup")) != WC_OK)
        return st;
    if ((r = wc_cluster_ring(c)) == NULL)
        return wc_error(WC_UNAVAILABLE, "this node has no ring yet (its tokens are not chosen)");
    if (table_id != 0)
        st = wc__cleanup_table(c, r, table_id, out);
    else if ((st = wc_engine_list_tables(c->engine, &ids, &nids)) == WC_OK)
        for (size_t i = 0; i < nids && st == WC_OK; i++)
            if (c->local.replication(c->local.ctx, ids[i], &repl) == WC_OK)
                st = wc__cleanup_table(c, r, ids[i], out);
    wc_free(ids);
    wc_ring_unref(r);
    return st;
}

bool wc_cluster_coordinates(const wc_cluster *c)
{
    return c != NULL && atomic_load(&c->store_opened);
}

void wc_cluster_stop_coordinating(wc_cluster *c)
{
    if (c != NULL)
        wc__stop_coordination(c);
}

void wc_cluster_set_hints(wc_cluster *c, bool enabled, uint64_t max_hint_window_ms)
{
    atomic_store(&c->hints_enabled, enabled);
    atomic_store(&c->hint_window_ms, max_hint_window_ms);
}

static wc_status wc__get_coord_stats(wc_cluster *c)
{
    /* the caller's buffer travels in c->stats_out */
    if (c->coord)
        wc_coord_get_stats(c->coord, c->stats_out);
    return WC_OK;
}

void wc_cluster_coord_stats(wc_cluster *c, wc_coord_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!wc_cluster_coordinates(c))
        return;
    pthread_mutex_lock(&c->stats_mu);
    c->stats_out = out;
    (void)wc__on_loop(c, wc__get_coord_stats);
    c->stats_out = NULL;
    pthread_mutex_unlock(&c->stats_mu);
}

#define WC__STREAMS_MAX 64

static wc_status wc__get_streams(wc_cluster *c)
{
    wc_stream_info info[WC__STREAMS_MAX];
    wc_proto_stream ps[WC__STREAMS_MAX];
    size_t n = c->stream ? wc_stream_list(c->stream, info, WC__STREAMS_MAX) : 0;

    if (n > WC__STREAMS_MAX)
        n = WC__STREAMS_MAX;
    memset(ps, 0, n * sizeof(ps[0]));
    for (size_t i = 0; i < n; i++) {
        memcpy(ps[i].name, info[i].name, sizeof(ps[i].name));
        ps[i].name[sizeof(ps[i].name) - 1] = '\0';
        wc_addr_format(&info[i].peer, ps[i].peer, sizeof(ps[i].peer));
        ps[i].incoming = info[i].incoming;
        ps[i].table_id = info[i].table_id;
        ps[i].ranges_done = info[i].ranges_done;
        ps[i].ranges_total = info[i].ranges_total;
        ps[i].bytes = info[i].bytes;
        ps[i].rows = info[i].rows;
        snprintf(ps[i].state, sizeof(ps[i].state), "%s", info[i].state);
    }
    wc_proto_put_streams(c->streams_out, ps, n);
    return WC_OK;
}

void wc_cluster_streams(wc_cluster *c, wc_buf *out)
{
    if (!wc_cluster_coordinates(c)) {
        wc_proto_put_streams(out, NULL, 0);
        return;
    }
    pthread_mutex_lock(&c->stats_mu);
    c->streams_out = out;
    if (wc__on_loop(c, wc__get_streams) != WC_OK)
        wc_proto_put_streams(out, NULL, 0);
    c->streams_out = NULL;
    pthread_mutex_unlock(&c->stats_mu);
}

/* ---------------------------------------------------------------- API */

static void wc__free(wc_cluster *c)
{
    wc_free(c->data_dir);
    wc_free(c->cluster_name);
    wc_free(c->dc);
    wc_free(c->rack);
    wc_free(c->sql_address);
    wc_free(c->release_version);
    wc_free(c->seeds);
    wc_free(c->tokens);
    wc_ring_unref(c->boot_ring);
    wc_free(c->removed);
    wc_buf_free(&c->members);
    wc_hints_close(c->hints);
    wc_free(c->down);
    wc_ring_slot_destroy(&c->slot);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->stats_mu);
    wc_free(c);
}

wc_status wc_cluster_start(const wc_cluster_options *o, wc_cluster **out)
{
    wc_cluster *c;
    wc_transport_options to;
    wc_env_handlers h;
    uint32_t stored_gen = 0;
    bool found;
    uint32_t now_s = o->env ? (uint32_t)(wc_env_wall_us(o->env) / 1000000) : (uint32_t)time(NULL);
    wc_status st;

    *out = NULL;
    if (o->data_dir == NULL || o->cluster_name == NULL || o->dc == NULL || o->rack == NULL)
        return wc_error(WC_INVALID_ARGUMENT, "cluster: data directory, cluster name, data "
                                             "centre and rack are required");
    if (!o->dc[0] || strlen(o->dc) >= WC_REPL_DC_NAME_MAX || !o->rack[0] ||
        strlen(o->rack) >= WC_RING_RACK_NAME_MAX)
        return wc_error(WC_INVALID_ARGUMENT,
                        "the data centre and rack names must have 1 to 47 characters");
    if (o->num_tokens < 1 || o->num_tokens > WC_RING_MAX_TOKENS_PER_HOST)
        return wc_error(WC_INVALID_ARGUMENT, "num_tokens must be between 1 and %u",
                        WC_RING_MAX_TOKENS_PER_HOST);
    c = wc_calloc(1, sizeof(*c));
    if (c == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory starting the cluster");
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->stats_mu, NULL);
    wc_ring_slot_init(&c->slot);
    wc_buf_init(&c->members);
    c->fs = o->fs ? o->fs : wc_fs_posix();
    c->data_dir = wc__strdup(o->data_dir);
    c->cluster_name = wc__strdup(o->cluster_name);
    c->dc = wc__strdup(o->dc);
    c->rack = wc__strdup(o->rack);
    c->sql_address = o->sql_address ? wc__strdup(o->sql_address) : NULL;
    c->release_version = o->release_version ? wc__strdup(o->release_version) : NULL;
    c->seeds = wc_malloc((o->nseeds ? o->nseeds : 1) * sizeof(wc_addr));
    if (!c->data_dir || !c->cluster_name || !c->dc || !c->rack || !c->seeds ||
        (o->sql_address && !c->sql_address) || (o->release_version && !c->release_version)) {
        st = wc_error(WC_NO_MEMORY, "out of memory starting the cluster");
        goto fail;
    }
    if (o->nseeds)
        memcpy(c->seeds, o->seeds, o->nseeds * sizeof(wc_addr));
    c->nseeds = o->nseeds;
    c->num_tokens = o->num_tokens;
    c->phi = o->phi_convict_threshold;
    c->interval_ms = o->gossip_interval_ms;
    c->join_wait_ms = o->join_wait_ms ? o->join_wait_ms : WC_CLUSTER_DEFAULT_JOIN_WAIT_MS;
    c->load_interval_ms =
        o->load_interval_ms ? o->load_interval_ms : WC_CLUSTER_DEFAULT_LOAD_INTERVAL_MS;
    c->log = o->log;
    c->log_arg = o->log_arg;
    c->engine = o->engine;
    c->stream_page_rows = o->stream_page_rows;
    c->local = o->local;
    atomic_init(&c->hints_enabled, o->hinted_handoff);
    atomic_init(&c->hint_window_ms, o->max_hint_window_ms ? o->max_hint_window_ms
                                                          : 3ull * 3600 * 1000);
    if (c->local.store_open &&
        (!c->local.store_close || !c->local.replication || !c->local.apply)) {
        st = wc_error(WC_INVALID_ARGUMENT, "cluster: an incomplete local side");
        goto fail;
    }
    if ((size_t)snprintf(c->state_path, sizeof(c->state_path), "%s/%s", o->data_dir,
                         WC_CLUSTER_STATE_FILE) >= sizeof(c->state_path)) {
        st = wc_error(WC_INVALID_ARGUMENT, "cluster: the data directory path is too long");
        goto fail;
    }

    /* identity: the stored one, or a new host id; a generation above the last */
    if ((st = wc__state_read(c, &found, &stored_gen)) != WC_OK)
        goto fail;
    if (!found && o->env) {
        for (size_t i = 0; i < sizeof(c->host_id); i += 8) {
            uint64_t r = wc_env_random(o->env);
            memcpy(c->host_id + i, &r, 8);
        }
    } else if (!found &&
               getrandom(c->host_id, sizeof(c->host_id), 0) != (ssize_t)sizeof(c->host_id)) {
        st = wc_error_errno(errno, "cluster: could not make a host id");
        goto fail;
    }
    if (found && c->ntokens && c->ntokens != c->num_tokens)
        wc__log(c, WC_LOG_WARNING,
                "cluster: this node keeps its %u stored tokens; num_tokens (%u) applies to new "
                "nodes only",
                c->ntokens, c->num_tokens);
    if (o->replace_address) {
        char a[80];

        wc_addr_format(o->replace_address, a, sizeof(a));
        if (c->replacing)
            wc__log(c, WC_LOG_INFO, "cluster: this node goes on replacing a dead node");
        else if (c->ntokens || atomic_load(&c->left))
            wc__log(c, WC_LOG_INFO,
                    "cluster: replace_address %s ignored: this node already has its ring state "
                    "(tokens in \"%s\"); it is honoured on a first start only",
                    a, c->state_path);
        else {
            c->replace_phase = WC__REPLACE_ASKING;
            c->replace_addr = *o->replace_address;
        }
    }
    c->generation = stored_gen >= now_s ? stored_gen + 1 : now_s;
    if ((st = wc__state_write(c)) != WC_OK)
        goto fail;
    if (c->local.store_open && (st = wc__open_hints(c)) != WC_OK)
        goto fail;

    memset(&to, 0, sizeof(to));
    to.listen = o->listen;
    to.cluster_name = o->cluster_name;
    to.secret = o->secret;
    to.secret_len = o->secret_len;
    to.allow_no_secret = o->secret == NULL || o->secret_len == 0;
    memcpy(to.host_id, c->host_id, sizeof(to.host_id));
    to.log = wc__transport_log;
    to.log_arg = c;
    h.on_message = wc__on_message;
    h.on_peer_down = NULL;
    h.ctx = c;
    if (o->env) {
        c->env = o->env;
        c->external_env = true;
        c->env->handlers = h;
    } else if ((st = wc_transport_start(&to, &h, &c->env)) != WC_OK)
        goto fail;
    if ((st = wc__on_loop(c, wc__setup)) != WC_OK) {
        char err[512];
        snprintf(err, sizeof(err), "%s", wc_last_error());
        wc__stop_coordination(c);
        (void)wc__on_loop(c, wc__drop_schema);
        if (c->external_env)
            memset(&c->env->handlers, 0, sizeof(c->env->handlers));
        else
            wc_transport_stop(c->env);
        c->env = NULL;
        if (c->gossip)
            wc_gossip_destroy(c->gossip);
        c->gossip = NULL;
        st = wc_error(st, "%s", err);
        goto fail;
    }
    *out = c;
    return WC_OK;
fail:
    wc__free(c);
    return st;
}

void wc_cluster_stop(wc_cluster *c)
{
    struct timespec linger = {0, WC__SHUTDOWN_LINGER_MS * 1000000L};

    if (c == NULL)
        return;
    if (wc__on_loop(c, wc__announce_shutdown) == WC_OK && !c->external_env)
        nanosleep(&linger, NULL);
    wc__stop_coordination(c);
    (void)wc__on_loop(c, wc__drop_schema);
    if (c->external_env)
        memset(&c->env->handlers, 0, sizeof(c->env->handlers));
    else
        wc_transport_stop(c->env);
    if (c->gossip)
        wc_gossip_destroy(c->gossip);
    wc__free(c);
}

wc_ring *wc_cluster_ring(wc_cluster *c) { return wc_ring_slot_get(&c->slot); }

void wc_cluster_members(wc_cluster *c, wc_buf *out)
{
    if (c == NULL) {
        wc_proto_put_members(out, false, NULL, 0);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->members.len)
        wc_buf_append(out, c->members.data, c->members.len);
    else
        wc_proto_put_members(out, true, NULL, 0);
    pthread_mutex_unlock(&c->mu);
}

wc_addr wc_cluster_self(const wc_cluster *c) { return c->env->self; }

void wc_cluster_host_id(const wc_cluster *c, uint8_t out[WC_RING_HOST_ID_LEN])
{
    memcpy(out, c->host_id, WC_RING_HOST_ID_LEN);
}

wc_schema_runtime *wc_cluster_schema(wc_cluster *c) { return c ? c->schema : NULL; }

wc_coord *wc_cluster_coordinator(wc_cluster *c) { return c->stopping ? NULL : c->coord; }
