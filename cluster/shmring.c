/*
 * shmring.c - request slots in shared memory with futex wake-ups (contract
 * in shmring.h).
 *
 * Region layout (all offsets from the start, 64-byte aligned):
 *   header            magic, sizes, epoch, node pid, doorbell, counters
 *   state[nslots]     one 32-bit word per slot: WC__S_* in the low byte,
 *                     WC__SLEEPER when its client sleeps on it
 *   meta[nslots]      owner pid, epoch at claim, length in the buffer
 *   pending[]         one bit per slot, set by each submit: a worker finds
 *                     the submitted slots among hundreds by a few 64-bit
 *                     loads instead of reading every state word
 *   buffers           nslots * slot_bytes
 *
 * Ordering: every access to a shared word is a sequentially consistent
 * atomic.  A worker counts itself in searching, reads the doorbell, scans
 * the pending bits; finding none it counts itself in sleepers, leaves
 * searching and sleeps only while the doorbell is unchanged.  A client
 * sets REQUEST, then its pending bit, bumps the doorbell, then wakes one
 * sleeper unless a worker is searching.  Either a searching worker's scan
 * sees the bit or its doorbell check before sleeping sees the bump, so no
 * request is left asleep; and the last searcher that takes a request
 * wakes a sleeper if more bits are pending, so requests submitted while it
 * searched do not wait for the one it serves.  A worker that answers
 * with wc_shmring_answer_next counts as searching before the answer is
 * visible, so the client's next request, often submitted before that
 * worker is back in its scan, wakes nobody.  Waking only when nobody
 * searches spares the wake-ups that found nothing.  A
 * worker that clears a pending bit takes the slot if it is still REQUEST
 * (a released slot leaves a stale bit: harmless).  The same holds for a
 * client and its slot word (the SLEEPER bit is set by compare-and-swap on
 * the word itself).
 *
 * Bound workers (wc_shmring_bind_worker): a worker bound to one CPU sleeps
 * on a doorbell of its own (bells[k].word) rather than the shared one,
 * after setting bells[k].asleep and before counting itself in sleepers;
 * its last check before sleeping is still the shared doorbell, which every
 * submit bumps, so the argument above is unchanged.  A submit that must
 * wake a sleeper picks a bound one that is asleep, by the CPU it runs on:
 * while the machine has a core free, one on another CPU (it serves the
 * request while the client spins); when every core is busy, the one on the
 * client's own CPU, so that the client's sleep hands its CPU to the worker
 * and the worker's answer hands it back, with no wake-up crossing CPUs (an
 * inter-processor interrupt each, expensive on a virtual machine).  With no
 * bound sleeper it wakes one on the shared doorbell.  When clients fsync
 * the commit log (batch mode) and nothing else runs, the request goes to
 * the client's own CPU as if every core were busy: the other CPUs sleep,
 * and waking one costs more than the hand-over.
 *
 * Local requests: when every core is busy, a worker searching after its
 * answer would otherwise take the other CPU's next request and answer it
 * across CPUs, leaving that CPU idle (38 % of the requests at two clients
 * of single-row inserts on two cores).  So the submit marks the request
 * local (meta.local, written before its pending bit) when a worker bound to
 * the client's CPU exists that serves no request (bells[k].serving) and no
 * worker spins for requests (h->spinning: it began while a core was free,
 * and takes the request at once, as with one client on two cores), and
 * wakes that CPU's sleeping worker whether or not another searches;
 * workers of other CPUs skip a local request without touching its bit.
 * The argument above holds for the workers of that CPU: one asleep is
 * woken through its bell, one awake sees the bit in its scan or the
 * doorbell move before it sleeps.  A worker that is serving finds the
 * request after its answer (it was not serving when the submit looked, so
 * it serves at most the one request it took meanwhile first).
 */
#include "shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

#define WC__MAGIC 0x57435352u /* "WCSR" */
#define WC__ALIGN(x) (((x) + 63u) & ~(size_t)63u)

enum {
    WC__S_FREE = 0,
    WC__S_CLAIMING = 1, /* a claim is writing the owner */
    WC__S_IDLE = 2,
    WC__S_REQUEST = 3,
    WC__S_SERVING = 4,
    WC__S_DONE = 5,
    WC__S_ABANDONED = 6,
};
#define WC__SLEEPER 0x100u
#define WC__STATE(w) ((w) & 0xffu)
#define WC__PROBE_US 50000 /* a waiting client checks the node process this often */
#define WC__SAMPLE_US 1000 /* the machine's runnable threads are sampled this often */
#define WC__BELLS 64       /* workers that can be bound, each with a doorbell of its own */

/* The doorbell of a bound worker, one cache line. */
typedef struct wc__bell {
    _Atomic uint32_t word;   /* bumped to wake it; it sleeps on this word */
    _Atomic int32_t cpu;     /* the CPU it is bound to, -1: none */
    _Atomic uint32_t asleep; /* 1 from before it counts in sleepers until it wakes */
    _Atomic uint32_t serving; /* 1 from taking a request until answering it */
    uint32_t pad[12];
} wc__bell;

typedef struct wc__hdr {
    uint32_t magic;
    uint32_t nslots;
    uint32_t slot_bytes;
    uint32_t pad0;
    uint64_t total;
    _Atomic uint32_t epoch;    /* bumped by each serve_begin and serve_end */
    _Atomic int32_t node_pid;  /* 0: no node serves */
    _Atomic uint32_t doorbell; /* bumped by each submit; workers sleep on it */
    _Atomic uint32_t sleepers; /* workers asleep (or about to be) on the doorbell */
    _Atomic uint32_t searching; /* workers awake and looking for a request */
    _Atomic uint32_t spinning;  /* of those, the ones spinning for one (a core was free) */
    _Atomic uint32_t busy;     /* requests submitted and not yet read */
    _Atomic uint32_t runnable; /* threads runnable on the machine at the last sample */
    _Atomic int64_t sampled_us; /* when it was sampled (CLOCK_MONOTONIC) */
    _Atomic uint32_t nbound;    /* workers that called wc_shmring_bind_worker */
    wc__bell bells[WC__BELLS];
    /* commit-log syncs left to clients (wc_shmring_set_commitlog), positions packed by wc__pack */
    _Atomic uint64_t cl_appended; /* the latest record start a worker saw appended */
    _Atomic uint64_t cl_synced;   /* records of its segment starting before it are durable */
    char cl_dir[WC_SHMRING_DIR_MAX]; /* the commit log's directory; "" while not published */
    _Atomic uint64_t cl_counts[WC_CLSYNC_KINDS]; /* wc_shmring_clsync_count, since formatted */
} wc__hdr;

/* The bell of the calling worker thread once bound (-1: sleeps on the shared doorbell). */
static __thread int wc__my_bell = -1;
/* the CPU of this thread's bell, -1: not bound */
static __thread int wc__my_cpu = -1;
/* Is the calling client's last request for a worker bound to its own CPU (marked local, or woken)? */
static __thread bool wc__woke_local;

typedef struct wc__meta {
    _Atomic int32_t owner;  /* pid of the client that claimed the slot */
    _Atomic uint32_t epoch; /* the ring's epoch at the claim */
    _Atomic uint32_t len;   /* request or response bytes in the buffer */
    _Atomic int32_t cpu;    /* the CPU its client submitted the request on (-1: unknown) */
    _Atomic uint32_t local; /* 1: only the worker bound to cpu takes it (wc_shmring_submit) */
} wc__meta;

struct wc_shmring {
    wc__hdr *h;
    _Atomic uint32_t *state;
    wc__meta *meta;
    _Atomic uint64_t *pending;
    uint8_t *buf;
    uint32_t nslots, slot_bytes, nwords;
    uint32_t ncpus;
    int loadavg_fd; /* /proc/loadavg, opened at the first sample; -1: none */
    int assume_busy; /* wc_shmring_assume_busy: -1 sample, 0 a core free, 1 none, 2 idle */
};

/* ---------------------------------------------------------------- helpers */

static size_t wc__off_state(void)
{
    return WC__ALIGN(sizeof(wc__hdr));
}

static size_t wc__off_meta(uint32_t nslots)
{
    return wc__off_state() + WC__ALIGN((size_t)nslots * sizeof(uint32_t));
}

static size_t wc__off_pending(uint32_t nslots)
{
    return wc__off_meta(nslots) + WC__ALIGN((size_t)nslots * sizeof(wc__meta));
}

static uint32_t wc__words(uint32_t nslots)
{
    return (uint32_t)(((uint64_t)nslots + 63) / 64);
}

static size_t wc__off_buf(uint32_t nslots)
{
    return wc__off_pending(nslots) + WC__ALIGN((size_t)wc__words(nslots) * sizeof(uint64_t));
}

/* Sleep on *w while it holds val, at most ms milliseconds (process-shared futex). */
static void wc__futex_wait(_Atomic uint32_t *w, uint32_t val, int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    (void)syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void wc__futex_wake(_Atomic uint32_t *w, int n)
{
    (void)syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, n, NULL, NULL, 0);
}

static int64_t wc__now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void wc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* True while pid names a live process (one we may not signal counts as live). */
static bool wc__alive(int32_t pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

/*
 * Threads runnable on the whole machine (the kernel's count in
 * /proc/loadavg), sampled at most every WC__SAMPLE_US by whichever party
 * of the ring asks first; 0 when unknown.
 */
static uint32_t wc__runnable(wc_shmring *r)
{
    wc__hdr *h = r->h;
    int64_t now = wc__now_us(), at = atomic_load(&h->sampled_us);
    char buf[128];
    ssize_t n;
    const char *p;

    if (now - at < WC__SAMPLE_US || !atomic_compare_exchange_strong(&h->sampled_us, &at, now))
        return atomic_load(&h->runnable);
    if (r->loadavg_fd == -1)
        r->loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (r->loadavg_fd < 0) {
        r->loadavg_fd = -2; /* never try again */
        return 0;
    }
    /* "0.42 0.37 0.30 3/412 12345": the fourth field counts runnable threads */
    n = pread(r->loadavg_fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    p = buf;
    for (int field = 0; field < 3 && p != NULL; field++)
        if ((p = strchr(p, ' ')) != NULL)
            p++;
    atomic_store(&h->runnable, p != NULL ? (uint32_t)strtoul(p, NULL, 10) : 0);
    return atomic_load(&h->runnable);
}

/*
 * Spinning pays only while a core is free for it: never when the threads
 * runnable on the machine (sampled, the spinner included) outnumber the
 * cores, nor when that count is unknown.  A worker also never spins for
 * the next request on the CPU of the client it just answered: that client
 * needs the CPU to read the answer (wc__next).
 */
static bool wc__core_free(wc_shmring *r)
{
    uint32_t n;

    if (r->assume_busy >= 0)
        return r->assume_busy != 1;
    n = wc__runnable(r);
    return n > 0 && n <= r->ncpus;
}

/* Nothing runs on the machine but the caller (sampled, it included). */
static bool wc__machine_idle(wc_shmring *r)
{
    if (r->assume_busy >= 0)
        return r->assume_busy == 2;
    return wc__runnable(r) == 1;
}

static bool wc__may_spin(wc_shmring *r, int spin_us)
{
    return spin_us > 0 && wc__core_free(r);
}

void wc_shmring_assume_busy(wc_shmring *r, int busy)
{
    r->assume_busy = busy < 0 ? -1 : busy > 2 ? 1 : busy;
}

/* Bells in use: those of the workers bound so far. */
static uint32_t wc__nbells(const wc__hdr *h)
{
    uint32_t nb = atomic_load(&h->nbound);

    return nb > WC__BELLS ? WC__BELLS : nb;
}

/*
 * Wake one sleeping worker: a bound one whose CPU is cpu (local) or is not
 * (!local) if one sleeps, else any bound sleeper, else one on the shared
 * doorbell.  True when the one woken is bound to cpu.
 */
static bool wc__wake_one(wc_shmring *r, int cpu, bool local)
{
    wc__hdr *h = r->h;
    uint32_t nb = wc__nbells(h), pick = UINT32_MAX;

    for (uint32_t k = 0; k < nb; k++) {
        if (!atomic_load(&h->bells[k].asleep))
            continue;
        if ((atomic_load(&h->bells[k].cpu) == cpu) == local) {
            pick = k;
            break;
        }
        if (pick == UINT32_MAX)
            pick = k;
    }
    if (pick == UINT32_MAX) {
        wc__futex_wake(&h->doorbell, 1);
        return false;
    }
    atomic_fetch_add(&h->bells[pick].word, 1);
    wc__futex_wake(&h->bells[pick].word, 1);
    return atomic_load(&h->bells[pick].cpu) == cpu;
}

/* ---------------------------------------------------------------- region */

size_t wc_shmring_size(uint32_t nslots, uint32_t slot_bytes)
{
    size_t b = WC__ALIGN(slot_bytes);

    if (nslots == 0 || b == 0 || (SIZE_MAX - wc__off_buf(nslots)) / b < nslots)
        return 0;
    return wc__off_buf(nslots) + (size_t)nslots * b;
}

wc_status wc_shmring_format(void *mem, size_t size, uint32_t nslots, uint32_t slot_bytes)
{
    size_t need = wc_shmring_size(nslots, slot_bytes);
    wc__hdr *h = mem;

    if (slot_bytes < WC_SHMRING_MIN_SLOT_BYTES || need == 0 || need > size ||
        ((uintptr_t)mem & 63u) != 0)
        return wc_error(WC_INVALID_ARGUMENT,
                        "a ring of %u slots of %u bytes does not fit in %zu bytes", nslots,
                        slot_bytes, size);
    memset(mem, 0, wc__off_buf(nslots));
    h->nslots = nslots;
    h->slot_bytes = (uint32_t)WC__ALIGN(slot_bytes);
    h->total = need;
    atomic_store(&h->epoch, 1);
    atomic_store(&h->node_pid, 0);
    h->magic = WC__MAGIC;
    return WC_OK;
}

wc_status wc_shmring_open(void *mem, size_t size, wc_shmring **out)
{
    wc__hdr *h = mem;
    wc_shmring *r;
    long cpus;

    *out = NULL;
    if (mem == NULL || size < sizeof(*h) || h->magic != WC__MAGIC ||
        h->total != wc_shmring_size(h->nslots, h->slot_bytes) || h->total > size)
        return wc_error(WC_CORRUPTION, "the shared request ring is not formatted");
    r = wc_calloc(1, sizeof(*r));
    if (r == NULL)
        return wc_error(WC_NO_MEMORY, "out of memory opening the shared request ring");
    r->h = h;
    r->nslots = h->nslots;
    r->slot_bytes = h->slot_bytes;
    r->state = (_Atomic uint32_t *)((uint8_t *)mem + wc__off_state());
    r->meta = (wc__meta *)((uint8_t *)mem + wc__off_meta(r->nslots));
    r->pending = (_Atomic uint64_t *)((uint8_t *)mem + wc__off_pending(r->nslots));
    r->nwords = wc__words(r->nslots);
    r->buf = (uint8_t *)mem + wc__off_buf(r->nslots);
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    r->ncpus = cpus > 0 ? (uint32_t)cpus : 1;
    r->loadavg_fd = -1;
    r->assume_busy = -1;
    *out = r;
    return WC_OK;
}

void wc_shmring_close(wc_shmring *r)
{
    if (r != NULL && r->loadavg_fd >= 0)
        close(r->loadavg_fd);
    wc_free(r);
}

uint32_t wc_shmring_slots(const wc_shmring *r)
{
    return r->nslots;
}

uint32_t wc_shmring_slot_bytes(const wc_shmring *r)
{
    return r->slot_bytes;
}

uint8_t *wc_shmring_buffer(wc_shmring *r, uint32_t i)
{
    return r->buf + (size_t)i * r->slot_bytes;
}

uint32_t wc_shmring_busy(const wc_shmring *r)
{
    return atomic_load(&r->h->busy);
}

/* ---------------------------------------------------------------- node side */

void wc_shmring_serve_begin(wc_shmring *r)
{
    atomic_store(&r->h->node_pid, 0);
    atomic_fetch_add(&r->h->epoch, 1);
    for (uint32_t i = 0; i < r->nslots; i++) {
        atomic_store(&r->state[i], WC__S_FREE);
        atomic_store(&r->meta[i].owner, 0);
        atomic_store(&r->meta[i].local, 0);
    }
    for (uint32_t k = 0; k < r->nwords; k++)
        atomic_store(&r->pending[k], 0);
    atomic_store(&r->h->busy, 0);
    /* a node that died inside wc_shmring_next left its counts behind */
    atomic_store(&r->h->searching, 0);
    atomic_store(&r->h->spinning, 0);
    atomic_store(&r->h->sleepers, 0);
    atomic_store(&r->h->nbound, 0);
    for (uint32_t k = 0; k < WC__BELLS; k++) {
        atomic_store(&r->h->bells[k].asleep, 0);
        atomic_store(&r->h->bells[k].serving, 0);
        atomic_store(&r->h->bells[k].cpu, -1);
    }
    atomic_store(&r->h->node_pid, (int32_t)getpid());
}

/* ---------------------------------------------------------------- commit-log syncs by clients */

/* (segment, offset) as one word, or 0 when either half does not fit 32 bits */
static uint64_t wc__pack(wc_clpos p)
{
    if (p.segment == 0 || p.segment > UINT32_MAX || p.offset >= UINT32_MAX)
        return 0;
    return p.segment << 32 | p.offset;
}

static wc_clpos wc__unpack(uint64_t w)
{
    return (wc_clpos){w >> 32, w & UINT32_MAX};
}

static void wc__store_max(_Atomic uint64_t *word, uint64_t v)
{
    uint64_t cur = atomic_load(word);

    while (cur < v && !atomic_compare_exchange_weak(word, &cur, v))
        ;
}

wc_status wc_shmring_set_commitlog(wc_shmring *r, const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;

    if (n >= sizeof(r->h->cl_dir))
        return wc_error(WC_INVALID_ARGUMENT,
                        "commit log directory of %zu bytes is too long for the shared ring", n);
    atomic_store(&r->h->cl_appended, 0);
    atomic_store(&r->h->cl_synced, 0);
    memset(r->h->cl_dir, 0, sizeof(r->h->cl_dir));
    if (n)
        memcpy(r->h->cl_dir, dir, n);
    return WC_OK;
}

bool wc_shmring_note_appended(wc_shmring *r, wc_clpos pos)
{
    uint64_t w = wc__pack(pos);

    if (w == 0 || r->h->cl_dir[0] == '\0')
        return false;
    wc__store_max(&r->h->cl_appended, w);
    return true;
}

const char *wc_shmring_commitlog_dir(const wc_shmring *r)
{
    return r->h->cl_dir;
}

wc_clpos wc_shmring_appended(const wc_shmring *r)
{
    return wc__unpack(atomic_load(&r->h->cl_appended));
}

bool wc_shmring_durable(const wc_shmring *r, wc_clpos pos)
{
    wc_clpos a = wc_shmring_appended(r), s = wc__unpack(atomic_load(&r->h->cl_synced));

    /* a later segment was appended to: the log rolled past pos's, fsyncing it whole */
    if (a.segment > pos.segment || s.segment > pos.segment)
        return true;
    return s.segment == pos.segment && s.offset > pos.offset;
}

void wc_shmring_clsync_count(wc_shmring *r, wc_clsync_kind kind)
{
    if ((unsigned)kind < WC_CLSYNC_KINDS)
        atomic_fetch_add_explicit(&r->h->cl_counts[kind], 1, memory_order_relaxed);
}

uint64_t wc_shmring_clsync_counted(const wc_shmring *r, wc_clsync_kind kind)
{
    return (unsigned)kind < WC_CLSYNC_KINDS ? atomic_load(&r->h->cl_counts[kind]) : 0;
}

void wc_shmring_note_synced(wc_shmring *r, wc_clpos upto)
{
    uint64_t w = wc__pack(upto);

    if (w != 0)
        wc__store_max(&r->h->cl_synced, w);
}

void wc_shmring_serve_end(wc_shmring *r)
{
    atomic_store(&r->h->node_pid, 0);
    atomic_fetch_add(&r->h->epoch, 1);
    atomic_fetch_add(&r->h->doorbell, 1);
    wc__futex_wake(&r->h->doorbell, INT_MAX);
    for (uint32_t k = 0; k < WC__BELLS && k < atomic_load(&r->h->nbound); k++) {
        atomic_fetch_add(&r->h->bells[k].word, 1);
        wc__futex_wake(&r->h->bells[k].word, INT_MAX);
    }
    /* clients asleep on their slot look again (and find no node) */
    for (uint32_t i = 0; i < r->nslots; i++)
        if (atomic_load(&r->state[i]) & WC__SLEEPER)
            wc__futex_wake(&r->state[i], INT_MAX);
}

int wc_shmring_bind_worker(wc_shmring *r)
{
    uint32_t k = atomic_fetch_add(&r->h->nbound, 1);
    cpu_set_t allowed, one;
    int n, cpu = -1;

    if (k >= WC__BELLS || sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return -1;
    n = CPU_COUNT(&allowed);
    if (n < 2)
        return -1; /* one CPU: nothing to choose */
    /* the (k mod n)-th CPU the thread may run on */
    for (int c = 0, seen = 0; c < CPU_SETSIZE && cpu < 0; c++)
        if (CPU_ISSET(c, &allowed) && seen++ == (int)(k % (uint32_t)n))
            cpu = c;
    if (cpu < 0)
        return -1;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0)
        return -1;
    atomic_store(&r->h->bells[k].cpu, cpu);
    wc__my_bell = (int)k;
    wc__my_cpu = cpu;
    return cpu;
}

/*
 * REQUEST -> SERVING on slot i, keeping its SLEEPER bit (which its client
 * may set meanwhile: retried); false if the slot holds no request.
 */
static bool wc__take_request(wc_shmring *r, uint32_t i)
{
    uint32_t w = atomic_load(&r->state[i]);

    while (WC__STATE(w) == WC__S_REQUEST)
        if (atomic_compare_exchange_weak(&r->state[i], &w, WC__S_SERVING | (w & WC__SLEEPER)))
            return true;
    return false;
}

/*
 * One pass over the pending bits from slot *cursor on (wrapping round to
 * it, so that slots are served round-robin): take a REQUEST, or -1.
 */
static int wc__scan(wc_shmring *r, uint32_t *cursor, uint32_t *len)
{
    uint32_t from = *cursor % r->nslots, first = from / 64, shift = from % 64;

    for (uint32_t k = 0; k <= r->nwords; k++) {
        uint32_t wi = (first + k) % r->nwords;
        uint64_t bits = atomic_load(&r->pending[wi]);

        /* the first word from the cursor's bit on, its low bits last */
        if (k == 0)
            bits &= ~(uint64_t)0 << shift;
        else if (k == r->nwords)
            bits &= shift ? ~(~(uint64_t)0 << shift) : 0;
        while (bits != 0) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits), i = wi * 64 + b;
            uint64_t bit = (uint64_t)1 << b;

            bits &= ~bit;
            /* another CPU's worker serves it: leave the bit to that one */
            if (atomic_load(&r->meta[i].local) && atomic_load(&r->meta[i].cpu) != wc__my_cpu)
                continue;
            /* whoever clears the bit looks at the slot; the others skip it */
            if (!(atomic_fetch_and(&r->pending[wi], ~bit) & bit) || !wc__take_request(r, i))
                continue;
            *cursor = i + 1;
            *len = atomic_load(&r->meta[i].len);
            return (int)i;
        }
    }
    return -1;
}

/*
 * Is any pending bit set (a request no worker has taken yet, or a stale
 * bit) for any worker to take?  Requests for one CPU's workers do not count:
 * their submit woke one of those if it slept.
 */
static bool wc__any_pending(const wc_shmring *r)
{
    for (uint32_t k = 0; k < r->nwords; k++) {
        uint64_t bits = atomic_load(&r->pending[k]);

        while (bits != 0) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits);

            if (!atomic_load(&r->meta[k * 64 + b].local))
                return true;
            bits &= bits - 1;
        }
    }
    return false;
}

/*
 * A searching worker took slot i: if it was the last one searching and
 * more requests wait, wake a sleeper for them (submits woke nobody while
 * this worker searched).
 */
static int wc__found(wc_shmring *r, int i)
{
    wc__hdr *h = r->h;

    if (wc__my_bell >= 0)
        atomic_store(&h->bells[wc__my_bell].serving, 1);

    if (atomic_fetch_sub(&h->searching, 1) == 1 && atomic_load(&h->sleepers) > 0 &&
        wc__any_pending(r))
        (void)wc__wake_one(r, -1, false);
    return i;
}

/*
 * wc_shmring_next; counted: the caller counted itself in searching already;
 * peer_cpu: the CPU of the client just answered (-1: none or unknown).
 */
static int wc__next(wc_shmring *r, uint32_t *cursor, int wait_ms, int spin_us, uint32_t *len,
                    bool counted, int peer_cpu)
{
    wc__hdr *h = r->h;
    uint32_t bell;
    int i;

    if (!counted)
        atomic_fetch_add(&h->searching, 1);
    if (atomic_load(&h->node_pid) == 0) {
        atomic_fetch_sub(&h->searching, 1);
        return -1;
    }
    bell = atomic_load(&h->doorbell);
    if ((i = wc__scan(r, cursor, len)) >= 0)
        return wc__found(r, i);
    /* on the CPU of the client just answered, spinning would keep it from reading the answer */
    if ((peer_cpu < 0 || peer_cpu != sched_getcpu()) && wc__may_spin(r, spin_us)) {
        int64_t until = wc__now_us() + spin_us;

        atomic_fetch_add(&h->spinning, 1);
        do {
            for (int k = 0; k < 64; k++)
                wc__cpu_relax();
            if (atomic_load(&h->doorbell) != bell) {
                bell = atomic_load(&h->doorbell);
                if ((i = wc__scan(r, cursor, len)) >= 0)
                    break;
            }
        } while (wc__now_us() < until && atomic_load(&h->node_pid) != 0);
        atomic_fetch_sub(&h->spinning, 1);
        if (i >= 0)
            return wc__found(r, i);
    }
    /* announced as a sleeper before it stops searching: a submit either sees one or the other */
    {
        /* a bound worker sleeps on its own bell, read before it shows itself asleep */
        wc__bell *b = wc__my_bell >= 0 ? &h->bells[wc__my_bell] : NULL;
        _Atomic uint32_t *word = b != NULL ? &b->word : &h->doorbell;
        uint32_t expect = b != NULL ? atomic_load(word) : bell;

        if (b != NULL)
            atomic_store(&b->asleep, 1);
        atomic_fetch_add(&h->sleepers, 1);
        atomic_fetch_sub(&h->searching, 1);
        if (atomic_load(&h->doorbell) == bell && atomic_load(&h->node_pid) != 0)
            wc__futex_wait(word, expect, wait_ms);
        if (b != NULL)
            atomic_store(&b->asleep, 0);
    }
    atomic_fetch_add(&h->searching, 1);
    atomic_fetch_sub(&h->sleepers, 1);
    if (atomic_load(&h->node_pid) != 0 && (i = wc__scan(r, cursor, len)) >= 0)
        return wc__found(r, i);
    atomic_fetch_sub(&h->searching, 1);
    return -1;
}

int wc_shmring_next(wc_shmring *r, uint32_t *cursor, int wait_ms, int spin_us, uint32_t *len)
{
    return wc__next(r, cursor, wait_ms, spin_us, len, false, -1);
}

void wc_shmring_answer(wc_shmring *r, uint32_t i, size_t len)
{
    _Atomic uint32_t *s = &r->state[i];
    uint32_t w = atomic_load(s), to;

    if (wc__my_bell >= 0)
        atomic_store(&r->h->bells[wc__my_bell].serving, 0);

    atomic_store(&r->meta[i].len, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
    do
        to = WC__STATE(w) == WC__S_ABANDONED ? WC__S_FREE : WC__S_DONE;
    while (!atomic_compare_exchange_weak(s, &w, to));
    if (to == WC__S_FREE)
        atomic_fetch_sub(&r->h->busy, 1);
    if (w & WC__SLEEPER)
        wc__futex_wake(s, INT_MAX);
}

int wc_shmring_answer_next(wc_shmring *r, uint32_t i, size_t rlen, uint32_t *cursor, int wait_ms,
                           int spin_us, uint32_t *len)
{
    int peer_cpu = atomic_load(&r->meta[i].cpu);

    /* searching before the client can submit again: its next submit wakes nobody */
    atomic_fetch_add(&r->h->searching, 1);
    wc_shmring_answer(r, i, rlen);
    return wc__next(r, cursor, wait_ms, spin_us, len, true, peer_cpu);
}

/* ---------------------------------------------------------------- client side */

/* Take slot i for the calling process; its state must be `from`. */
static bool wc__take(wc_shmring *r, uint32_t i, uint32_t from)
{
    uint32_t w = from;

    if (!atomic_compare_exchange_strong(&r->state[i], &w, WC__S_CLAIMING))
        return false;
    atomic_store(&r->meta[i].owner, (int32_t)getpid());
    atomic_store(&r->meta[i].epoch, atomic_load(&r->h->epoch));
    atomic_store(&r->state[i], WC__S_IDLE);
    return true;
}

wc_status wc_shmring_claim(wc_shmring *r, uint32_t *slot)
{
    if (!wc__alive(atomic_load(&r->h->node_pid)))
        return wc_error(WC_UNAVAILABLE, "no widecol node serves the shared request ring");
    for (uint32_t i = 0; i < r->nslots; i++)
        if (atomic_load(&r->state[i]) == WC__S_FREE && wc__take(r, i, WC__S_FREE)) {
            *slot = i;
            return WC_OK;
        }
    /* every slot taken: one whose owner died is ours once its request (if any) is answered */
    for (uint32_t i = 0; i < r->nslots; i++) {
        uint32_t w = atomic_load(&r->state[i]);
        int32_t pid = atomic_load(&r->meta[i].owner);

        if ((w == WC__S_IDLE || w == WC__S_DONE) && !wc__alive(pid) &&
            atomic_compare_exchange_strong(&r->meta[i].owner, &pid, (int32_t)getpid())) {
            if (w == WC__S_DONE)
                atomic_fetch_sub(&r->h->busy, 1);
            atomic_store(&r->meta[i].epoch, atomic_load(&r->h->epoch));
            atomic_store(&r->state[i], WC__S_IDLE);
            *slot = i;
            return WC_OK;
        }
    }
    return wc_error(WC_OVERLOADED, "every slot of the shared request ring (%u) is taken",
                    r->nslots);
}

/*
 * Is the node that served the ring when slot was claimed still there?  The
 * process itself is only asked for (a system call) when probe is set.
 */
static bool wc__node_ok(wc_shmring *r, uint32_t slot, bool probe)
{
    int32_t pid = atomic_load(&r->h->node_pid);

    return atomic_load(&r->h->epoch) == atomic_load(&r->meta[slot].epoch) && pid != 0 &&
           (!probe || wc__alive(pid));
}

bool wc_shmring_slot_current(wc_shmring *r, uint32_t slot)
{
    return slot < r->nslots && wc__node_ok(r, slot, false);
}

/* The first bell of a worker bound to cpu that serves no request now, or -1. */
static int wc__local_bell(wc_shmring *r, int cpu)
{
    uint32_t nb = wc__nbells(r->h);

    for (uint32_t k = 0; k < nb && cpu >= 0; k++)
        if (atomic_load(&r->h->bells[k].cpu) == cpu && !atomic_load(&r->h->bells[k].serving))
            return (int)k;
    return -1;
}

/* Wake a sleeping worker bound to cpu, if one sleeps (first bell k). */
static void wc__wake_local(wc_shmring *r, int cpu, int k)
{
    uint32_t nb = wc__nbells(r->h);

    for (; (uint32_t)k < nb; k++) {
        wc__bell *b = &r->h->bells[k];

        if (atomic_load(&b->cpu) == cpu && atomic_load(&b->asleep)) {
            atomic_fetch_add(&b->word, 1);
            wc__futex_wake(&b->word, 1);
            return;
        }
    }
}

wc_status wc_shmring_submit(wc_shmring *r, uint32_t slot, size_t len)
{
    wc__hdr *h = r->h;
    int cpu = sched_getcpu(), bell = -1;
    bool core_free = wc__core_free(r);

    if (atomic_load(&h->epoch) != atomic_load(&r->meta[slot].epoch) ||
        atomic_load(&h->node_pid) == 0)
        return wc_error(WC_UNAVAILABLE, "the widecol node stopped or restarted");
    /*
     * Every core busy: the request is for the workers bound to this CPU
     * alone, if one of them is free for it, so that no worker of another
     * CPU takes it while it searches and answers across CPUs (an interrupt
     * each way, this CPU idle meanwhile and the other's work delayed).  Not
     * while a worker spins for requests: it had a core free when it began
     * (one client and its worker on two cores), and takes this one at once.
     * Likewise when clients fsync the commit log (batch mode) and nothing
     * else runs: no worker spins between a client's requests there (the
     * fsync comes between them), so the one to wake sleeps, and on an idle
     * CPU, whose wake-up is the slowest there is (an interrupt, on a
     * virtual machine an exit of the host's), 20-30 % of a one-client
     * commit on the test machine; the client's own CPU hands over at once.
     */
    if (atomic_load(&h->spinning) == 0 &&
        (!core_free || (h->cl_dir[0] != '\0' && wc__machine_idle(r))))
        bell = wc__local_bell(r, cpu);
    atomic_store(&r->meta[slot].len, (uint32_t)len);
    atomic_store(&r->meta[slot].cpu, (int32_t)cpu);
    atomic_store(&r->meta[slot].local, bell >= 0 ? 1u : 0u);
    atomic_fetch_add(&h->busy, 1);
    atomic_store(&r->state[slot], WC__S_REQUEST);
    atomic_fetch_or(&r->pending[slot / 64], (uint64_t)1 << (slot % 64));
    atomic_fetch_add(&h->doorbell, 1);
    /* a request for this CPU's worker: it runs only once the client sleeps, so no spin */
    wc__woke_local = bell >= 0;
    if (bell >= 0) {
        /* an awake worker of this CPU sees the doorbell move before it sleeps */
        wc__wake_local(r, cpu, bell);
        return WC_OK;
    }
    /* a worker that is searching finds it (or sees the doorbell move): wake none */
    if (atomic_load(&h->searching) == 0 && atomic_load(&h->sleepers) > 0) {
        /* a core free: a worker elsewhere, while we spin; none: hand ours over */
        wc__woke_local = wc__wake_one(r, cpu, !core_free);
    }
    return WC_OK;
}

/* The answer is there: read its length and make the slot IDLE. */
static wc_status wc__collect(wc_shmring *r, uint32_t slot, size_t *len)
{
    *len = atomic_load(&r->meta[slot].len);
    atomic_store(&r->state[slot], WC__S_IDLE);
    atomic_fetch_sub(&r->h->busy, 1);
    return WC_OK;
}

wc_status wc_shmring_wait(wc_shmring *r, uint32_t slot, int wait_ms, int spin_us, size_t *len)
{
    _Atomic uint32_t *s = &r->state[slot];
    int64_t start = wc__now_us(), end = start + (int64_t)wait_ms * 1000, probe_at;
    uint32_t w;

    if (WC__STATE(atomic_load(s)) == WC__S_DONE)
        return wc__collect(r, slot, len);
    /* a worker woken on this CPU runs only once we sleep */
    if (!wc__woke_local && wc__may_spin(r, spin_us)) {
        int64_t until = start + spin_us;
        do {
            for (int k = 0; k < 32; k++)
                wc__cpu_relax();
            if (WC__STATE(atomic_load(s)) == WC__S_DONE)
                return wc__collect(r, slot, len);
        } while (wc__now_us() < until);
    }
    /* a node that died without withdrawing is noticed by probing its process now and then */
    probe_at = start + WC__PROBE_US;
    for (;;) {
        int64_t now = wc__now_us(), left = end - now;

        w = atomic_load(s);
        if (WC__STATE(w) == WC__S_DONE)
            return wc__collect(r, slot, len);
        if (!wc__node_ok(r, slot, now >= probe_at || left <= 0))
            return wc_error(WC_UNAVAILABLE, "the widecol node stopped or restarted");
        if (now >= probe_at)
            probe_at = now + WC__PROBE_US;
        if (left <= 0)
            return WC_TIMEOUT;
        /* announce the sleep on the word itself, then sleep while it stays so */
        if (!(w & WC__SLEEPER) && !atomic_compare_exchange_strong(s, &w, w | WC__SLEEPER))
            continue;
        wc__futex_wait(s, w | WC__SLEEPER, left > 50000 ? 50 : (int)(left / 1000 + 1));
        w = atomic_load(s);
        if (WC__STATE(w) == WC__S_DONE)
            return wc__collect(r, slot, len);
    }
}

void wc_shmring_release(wc_shmring *r, uint32_t slot)
{
    _Atomic uint32_t *s = &r->state[slot];
    uint32_t w;

    if (atomic_load(&r->h->epoch) != atomic_load(&r->meta[slot].epoch))
        return; /* a node restart freed it already */
    w = atomic_load(s);
    for (;;) {
        uint32_t st = WC__STATE(w), to;

        if (st == WC__S_SERVING)
            to = WC__S_ABANDONED; /* the worker frees it */
        else if (st == WC__S_IDLE || st == WC__S_DONE || st == WC__S_REQUEST)
            to = WC__S_FREE;
        else
            return;
        if (atomic_compare_exchange_weak(s, &w, to)) {
            if (st == WC__S_DONE || st == WC__S_REQUEST)
                atomic_fetch_sub(&r->h->busy, 1);
            return;
        }
    }
}
