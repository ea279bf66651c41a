/*
 * pcibench - C baselines for the XenStore PCI database (schema v1).
 *
 * Usage:
 *   pcibench list
 *   pcibench list-pipelined
 *   pcibench assign-release --device DDDD-BB-SS-F [--rounds R]
 *
 * Database layout read here: /local/pci/devices/DDDD/BB/DDDD-BB-SS-F/LEAF,
 * one directory per PCI function; every child of a function directory is a
 * leaf (identity, topology, resources, state, domain, driver, stub, reset,
 * changed, and optionally name, override).
 *
 * Modes (each prints exactly one JSON line on stdout; the timed interval,
 * CLOCK_MONOTONIC, covers the XenStore work only, not connecting or output):
 *
 *   list            libxenstore (xs_open(0), honours XENSTORED_PATH).
 *                   xs_directory of /local/pci/devices and of every segment
 *                   dir outside any transaction; then per bus dir one
 *                   transaction: xs_directory of the bus, and per device
 *                   xs_directory of the device dir and xs_read of every
 *                   leaf; xs_transaction_end(h, t, false), the bus retried
 *                   whole on EAGAIN.
 *                   {"impl":"c-libxenstore","mode":"list","devices":N,
 *                    "nodes":M,"seconds":S}
 *
 *   list-pipelined  the raw wire protocol (xen/io/xs_wire.h) over the unix
 *                   socket $XENSTORED_PATH (default /var/run/xenstored/socket),
 *                   no transaction, level by level: XS_DIRECTORY of
 *                   /local/pci/devices, of all segment dirs, of all bus dirs,
 *                   of all device dirs, then XS_READ of every leaf.  Within a
 *                   level requests are pipelined with at most PIPE_WINDOW in
 *                   flight (sent in batches with one write each, replies read
 *                   in bulk and matched by req_id).
 *                   {"impl":"c-raw-pipelined","mode":"list","devices":N,
 *                    "nodes":M,"seconds":S}
 *
 *   assign-release  R times (default 1): assign then release device D with
 *                   libxenstore.  Each step is one transaction that does
 *                   xs_directory of D, xs_read of every leaf, checks state
 *                   (assign: "assignable", release: "assigned"; exit 1
 *                   otherwise), writes state, domain ("5" / "none"),
 *                   reset ("flr") and changed ("at=2026-11-25T20:00:00Z by=0
 *                   tool=pcibench op=assign|release"), and commits, retried
 *                   whole on EAGAIN.  The device is left assignable.
 *                   {"impl":"c-libxenstore","mode":"assign-release",
 *                    "rounds":R,"seconds":S,"pairs_per_s":R/S}
 *
 * --rounds and --device apply to assign-release only (usage error otherwise).
 *
 * "devices" counts function directories, "nodes" counts leaves read.
 *
 * Errors: one line on stderr naming the call, the path and strerror (or the
 * daemon's errno name for the raw protocol); exit 1.  Usage errors: exit 64.
 *
 * Testing aid: built with -DPCIBENCH_DUMP, both list modes also write
 * "PATH<TAB>VALUE" for every leaf to stderr (unordered; sort before diffing).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#define EX_USAGE 64
#define MAX_TXN_ATTEMPTS 1000
#define PIPE_WINDOW 256
#define DEVICES_ROOT "/local/pci/devices"
#define DEFAULT_SOCKET "/var/run/xenstored/socket"
#define PATH_BUF 4096

static const char *prog = "pcibench";

/* ------------------------------------------------------------ helpers */

/* One line on stderr, exit 64. */
static void usage(const char *msg)
{
    fprintf(stderr,
            "%s: %s%susage: %s list | list-pipelined | "
            "assign-release --device DDDD-BB-SS-F [--rounds R]\n",
            prog, msg ? msg : "", msg ? "; " : "", prog);
    exit(EX_USAGE);
}

/* "<prog>: <call> <path>: <what>", exit 1. */
__attribute__((noreturn))
static void die_msg(const char *call, const char *path, const char *what)
{
    fprintf(stderr, "%s: %s %s: %s\n", prog, call, path ? path : "", what);
    exit(1);
}

__attribute__((noreturn))
static void die_call(const char *call, const char *path, int err)
{
    die_msg(call, path, strerror(err));
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die_call("realloc", "", ENOMEM);
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die_call("clock_gettime", "CLOCK_MONOTONIC", errno);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* buf = a "/" b; dies if it does not fit. */
static void join(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size)
        die_msg("join", a, "path too long");
}

static void dump_leaf(const char *path, const void *val, unsigned int len)
{
#ifdef PCIBENCH_DUMP
    fprintf(stderr, "%s\t%.*s\n", path, (int)len, (const char *)val);
#else
    (void)path;
    (void)val;
    (void)len;
#endif
}

static struct xs_handle *open_xs(void)
{
    struct xs_handle *h = xs_open(0);
    if (!h) {
        const char *sock = getenv("XENSTORED_PATH");
        die_call("xs_open", sock ? sock : "(default socket / xenbus device)",
                 errno ? errno : ECONNREFUSED);
    }
    return h;
}

/* ------------------------------------------------- list (libxenstore) */

/*
 * One transaction over one bus dir.  A failing call inside the transaction
 * may be a symptom of a concurrent change (then the commit reports EAGAIN),
 * so the transaction is ended first and only a genuine error is fatal.
 */
static void list_bus(struct xs_handle *h, const char *bus, long *ndev,
                     long *nnodes)
{
    char dpath[PATH_BUF], lpath[PATH_BUF];

    for (int attempt = 1;; attempt++) {
        long d = 0, n = 0;
        const char *fcall = NULL;
        const char *fpath = NULL;
        int ferr = 0;

        xs_transaction_t t = xs_transaction_start(h);
        if (t == XBT_NULL)
            die_call("xs_transaction_start", bus, errno);

        unsigned int ndevs = 0;
        char **devs = xs_directory(h, t, bus, &ndevs);
        if (!devs) {
            fcall = "xs_directory", fpath = bus, ferr = errno;
            ndevs = 0;
        }
        for (unsigned int i = 0; i < ndevs && !fcall; i++) {
            join(dpath, sizeof dpath, bus, devs[i]);
            unsigned int nleaf = 0;
            char **leaves = xs_directory(h, t, dpath, &nleaf);
            if (!leaves) {
                fcall = "xs_directory", fpath = dpath, ferr = errno;
                break;
            }
            d++;
            for (unsigned int j = 0; j < nleaf; j++) {
                join(lpath, sizeof lpath, dpath, leaves[j]);
                unsigned int len = 0;
                char *val = xs_read(h, t, lpath, &len);
                if (!val) {
                    fcall = "xs_read", fpath = lpath, ferr = errno;
                    break;
                }
                n++;
                dump_leaf(lpath, val, len);
                free(val);
            }
            free(leaves);
        }
        free(devs);

        if (xs_transaction_end(h, t, false)) {
            if (!fcall) {
                *ndev += d;
                *nnodes += n;
                return;
            }
            if (ferr != EAGAIN)
                die_call(fcall, fpath, ferr);
        } else {
            int e = errno;
            if (e != EAGAIN) {
                if (fcall)
                    die_call(fcall, fpath, ferr);
                die_call("xs_transaction_end", bus, e);
            }
        }
        if (attempt >= MAX_TXN_ATTEMPTS)
            die("xs_transaction_end %s: still EAGAIN after %d attempts", bus,
                attempt);
    }
}

static void mode_list(void)
{
    struct xs_handle *h = open_xs();
    long ndev = 0, nnodes = 0;
    char spath[PATH_BUF], bpath[PATH_BUF];

    double t0 = now_s();
    unsigned int nseg = 0;
    char **segs = xs_directory(h, XBT_NULL, DEVICES_ROOT, &nseg);
    if (!segs)
        die_call("xs_directory", DEVICES_ROOT, errno);
    for (unsigned int s = 0; s < nseg; s++) {
        join(spath, sizeof spath, DEVICES_ROOT, segs[s]);
        unsigned int nbus = 0;
        char **buses = xs_directory(h, XBT_NULL, spath, &nbus);
        if (!buses)
            die_call("xs_directory", spath, errno);
        for (unsigned int b = 0; b < nbus; b++) {
            join(bpath, sizeof bpath, spath, buses[b]);
            list_bus(h, bpath, &ndev, &nnodes);
        }
        free(buses);
    }
    free(segs);
    double secs = now_s() - t0;

    xs_close(h);
    printf("{\"impl\":\"c-libxenstore\",\"mode\":\"list\",\"devices\":%ld,"
           "\"nodes\":%ld,\"seconds\":%.6f}\n",
           ndev, nnodes, secs);
}

/* ---------------------------------------- list-pipelined (raw protocol) */

/* A growable list of NUL-terminated paths stored back to back. */
struct paths {
    char *buf;
    size_t len, cap;
    size_t *off;
    size_t n, ncap;
};

static void paths_add(struct paths *p, const char *a, size_t alen,
                      const char *b, size_t blen)
{
    size_t need = alen + (b ? 1 + blen : 0) + 1;
    if (need > PATH_BUF)
        die_msg("join", a, "path too long");
    if (p->len + need > p->cap) {
        size_t cap = p->cap ? p->cap : 65536;
        while (p->len + need > cap)
            cap *= 2;
        p->buf = xrealloc(p->buf, cap);
        p->cap = cap;
    }
    if (p->n == p->ncap) {
        p->ncap = p->ncap ? p->ncap * 2 : 1024;
        p->off = xrealloc(p->off, p->ncap * sizeof *p->off);
    }
    p->off[p->n++] = p->len;
    char *q = p->buf + p->len;
    memcpy(q, a, alen);
    q += alen;
    if (b) {
        *q++ = '/';
        memcpy(q, b, blen);
        q += blen;
    }
    *q = '\0';
    p->len += need;
}

static inline const char *paths_get(const struct paths *p, size_t i)
{
    return p->buf + p->off[i];
}

/* Length of path i without its NUL. */
static inline size_t paths_strlen(const struct paths *p, size_t i)
{
    size_t end = i + 1 < p->n ? p->off[i + 1] : p->len;
    return end - p->off[i] - 1;
}

static void paths_clear(struct paths *p)
{
    p->len = 0;
    p->n = 0;
}

static void paths_free(struct paths *p)
{
    free(p->buf);
    free(p->off);
    memset(p, 0, sizeof *p);
}

struct raw {
    int fd;
    const char *sock;
    uint32_t next_req_id;
    unsigned char *rbuf; /* received, not yet consumed: rbuf[rpos..rlen) */
    size_t rpos, rlen, rcap;
    unsigned char *wbuf;
    size_t wcap;
    unsigned char *seen; /* per request of the current level: reply seen */
    size_t seen_cap;
};

static void raw_connect(struct raw *c)
{
    const char *sock = getenv("XENSTORED_PATH");
    if (!sock || !*sock)
        sock = DEFAULT_SOCKET;
    c->sock = sock;

    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof addr.sun_path)
        die_msg("connect", sock, "socket path too long");
    memcpy(addr.sun_path, sock, strlen(sock) + 1);

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die_call("socket", sock, errno);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        die_call("connect", sock, errno);

    c->rcap = (size_t)PIPE_WINDOW * (sizeof(struct xsd_sockmsg) +
                                     XENSTORE_PAYLOAD_MAX);
    c->rbuf = xrealloc(NULL, c->rcap);
    c->rpos = c->rlen = 0;
    c->wcap = 65536;
    c->wbuf = xrealloc(NULL, c->wcap);
    c->next_req_id = 1;
    c->seen = NULL;
    c->seen_cap = 0;
}

static void raw_close(struct raw *c)
{
    close(c->fd);
    free(c->rbuf);
    free(c->wbuf);
    free(c->seen);
}

static void write_all(struct raw *c, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die_call("write", c->sock, errno);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Read more bytes into rbuf (blocking), compacting it first. */
static void fill(struct raw *c)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    for (;;) {
        ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (r > 0) {
            c->rlen += (size_t)r;
            return;
        }
        if (r == 0)
            die_msg("read", c->sock, "connection closed by xenstored");
        if (errno != EINTR)
            die_call("read", c->sock, errno);
    }
}

static const char *type_name(uint32_t type)
{
    return type == XS_DIRECTORY ? "XS_DIRECTORY"
           : type == XS_READ    ? "XS_READ"
                                : "XS_?";
}

typedef void (*reply_fn)(void *ctx, const struct paths *req, size_t i,
                         const char *payload, uint32_t len);

/*
 * Send request `type` for every path in `req` (no transaction) with at most
 * PIPE_WINDOW requests outstanding, and hand each reply to `fn`.  Requests
 * are batched into one write; replies are read in bulk and matched by
 * req_id, so their order does not matter.
 */
static void pipeline(struct raw *c, uint32_t type, const struct paths *req,
                     reply_fn fn, void *ctx)
{
    size_t n = req->n, sent = 0, done = 0;
    uint32_t base = c->next_req_id;
    if (n > UINT32_MAX - base)
        die("too many requests");
    c->next_req_id += (uint32_t)n;

    if (n > c->seen_cap) {
        c->seen = xrealloc(c->seen, n);
        c->seen_cap = n;
    }
    memset(c->seen, 0, n);

    while (done < n) {
        /* Top up the window with one write. */
        size_t wlen = 0;
        while (sent < n && sent - done < PIPE_WINDOW) {
            size_t plen = paths_strlen(req, sent) + 1;
            size_t need = sizeof(struct xsd_sockmsg) + plen;
            if (wlen + need > c->wcap) {
                if (wlen > 0)
                    break; /* flush what we have first */
                c->wcap = need;
                c->wbuf = xrealloc(c->wbuf, c->wcap);
            }
            struct xsd_sockmsg hdr = {
                .type = type,
                .req_id = base + (uint32_t)sent,
                .tx_id = 0,
                .len = (uint32_t)plen,
            };
            memcpy(c->wbuf + wlen, &hdr, sizeof hdr);
            memcpy(c->wbuf + wlen + sizeof hdr, paths_get(req, sent), plen);
            wlen += need;
            sent++;
        }
        if (wlen > 0)
            write_all(c, c->wbuf, wlen);

        /* Wait for at least one complete reply, then consume all complete
         * replies already received. */
        bool progressed = false;
        while (!progressed) {
            for (;;) {
                size_t avail = c->rlen - c->rpos;
                struct xsd_sockmsg hdr;
                if (avail < sizeof hdr)
                    break;
                memcpy(&hdr, c->rbuf + c->rpos, sizeof hdr);
                if (hdr.len > XENSTORE_PAYLOAD_MAX)
                    die("%s %s: reply of %u bytes exceeds %d", type_name(type),
                        c->sock, hdr.len, XENSTORE_PAYLOAD_MAX);
                if (avail < sizeof hdr + hdr.len)
                    break;
                const char *payload =
                    (const char *)c->rbuf + c->rpos + sizeof hdr;
                c->rpos += sizeof hdr + hdr.len;

                if (hdr.type == XS_WATCH_EVENT)
                    continue; /* not ours: we set no watches */
                uint32_t idx = hdr.req_id - base;
                if (hdr.req_id < base || idx >= sent || c->seen[idx])
                    die("%s %s: unexpected reply (type %u, req_id %u)",
                        type_name(type), c->sock, hdr.type, hdr.req_id);
                c->seen[idx] = 1;
                const char *path = paths_get(req, idx);
                if (hdr.type == XS_ERROR) {
                    char ename[64];
                    size_t el = strnlen(payload, hdr.len);
                    if (el >= sizeof ename)
                        el = sizeof ename - 1;
                    memcpy(ename, payload, el);
                    ename[el] = '\0';
                    die_msg(type_name(type), path, ename);
                }
                if (hdr.type != type)
                    die("%s %s: reply has type %u", type_name(type), path,
                        hdr.type);
                fn(ctx, req, idx, payload, hdr.len);
                done++;
                progressed = true;
            }
            if (!progressed)
                fill(c);
        }
    }
}

/* XS_DIRECTORY reply: append "<dir>/<child>" for each child to `next`. */
static void on_directory(void *ctx, const struct paths *req, size_t i,
                         const char *payload, uint32_t len)
{
    struct paths *next = ctx;
    const char *dir = paths_get(req, i);
    size_t dlen = paths_strlen(req, i);
    if (len > 0 && payload[len - 1] != '\0')
        die_msg("XS_DIRECTORY", dir, "malformed reply (not NUL-terminated)");
    const char *p = payload, *end = payload + len;
    while (p < end) {
        size_t l = strlen(p);
        if (l == 0)
            die_msg("XS_DIRECTORY", dir, "malformed reply (empty name)");
        paths_add(next, dir, dlen, p, l);
        p += l + 1;
    }
}

static void on_read(void *ctx, const struct paths *req, size_t i,
                    const char *payload, uint32_t len)
{
    (void)ctx;
    dump_leaf(paths_get(req, i), payload, len);
}

static void mode_list_pipelined(void)
{
    struct raw c;
    raw_connect(&c);

    struct paths a = {0}, b = {0};
    struct paths *cur = &a, *next = &b, *tmp;

    double t0 = now_s();
    paths_add(cur, DEVICES_ROOT, strlen(DEVICES_ROOT), NULL, 0);
    /* devices -> segments -> buses -> device dirs -> leaves */
    for (int level = 0; level < 4; level++) {
        paths_clear(next);
        pipeline(&c, XS_DIRECTORY, cur, on_directory, next);
        tmp = cur, cur = next, next = tmp;
    }
    /* Now cur holds the leaves and next the device dirs (the requests of
     * the last XS_DIRECTORY level). */
    long ndev = (long)next->n;
    long nnodes = (long)cur->n;
    pipeline(&c, XS_READ, cur, on_read, NULL);
    double secs = now_s() - t0;

    paths_free(&a);
    paths_free(&b);
    raw_close(&c);
    printf("{\"impl\":\"c-raw-pipelined\",\"mode\":\"list\",\"devices\":%ld,"
           "\"nodes\":%ld,\"seconds\":%.6f}\n",
           ndev, nnodes, secs);
}

/* ------------------------------------------------------ assign-release */

struct step {
    const char *op;     /* "assign" / "release" */
    const char *expect; /* required current state */
    const char *state, *domain, *reset, *changed;
};

static const struct step ASSIGN = {
    "assign", "assignable", "assigned", "5", "flr",
    "at=2026-11-25T20:00:00Z by=0 tool=pcibench op=assign",
};
static const struct step RELEASE = {
    "release", "assigned", "assignable", "none", "flr",
    "at=2026-11-25T20:00:00Z by=0 tool=pcibench op=release",
};

static void do_step(struct xs_handle *h, const char *dev, const char *dpath,
                    const struct step *st)
{
    char lpath[PATH_BUF];
    const char *leaf_names[4] = {"state", "domain", "reset", "changed"};
    const char *leaf_vals[4] = {st->state, st->domain, st->reset, st->changed};

    for (int attempt = 1;; attempt++) {
        const char *fcall = NULL;
        int ferr = 0;
        bool have_state = false, state_ok = false;
        char cur_state[64] = "";

        xs_transaction_t t = xs_transaction_start(h);
        if (t == XBT_NULL)
            die_call("xs_transaction_start", dpath, errno);

        /* Read phase. */
        unsigned int nleaf = 0;
        char **leaves = xs_directory(h, t, dpath, &nleaf);
        if (!leaves) {
            fcall = "xs_directory", ferr = errno;
            snprintf(lpath, sizeof lpath, "%s", dpath);
            nleaf = 0;
        }
        for (unsigned int j = 0; j < nleaf; j++) {
            join(lpath, sizeof lpath, dpath, leaves[j]);
            unsigned int len = 0;
            char *val = xs_read(h, t, lpath, &len);
            if (!val) {
                fcall = "xs_read", ferr = errno;
                break;
            }
            if (strcmp(leaves[j], "state") == 0) {
                have_state = true;
                state_ok = len == strlen(st->expect) &&
                           memcmp(val, st->expect, len) == 0;
                snprintf(cur_state, sizeof cur_state, "%.*s", (int)len, val);
            }
            free(val);
        }
        free(leaves);

        if (fcall || !state_ok) {
            /* Nothing written yet: end the (read-only) transaction; EAGAIN
             * means we saw a concurrent change, so look again. */
            if (!xs_transaction_end(h, t, false)) {
                int e = errno;
                if (e != EAGAIN) {
                    if (fcall)
                        die_call(fcall, lpath, ferr);
                    die_call("xs_transaction_end", dpath, e);
                }
            } else if (fcall && ferr != EAGAIN) {
                die_call(fcall, lpath, ferr);
            } else if (!fcall) {
                if (!have_state)
                    die("%s %s: %s/state does not exist", st->op, dev, dpath);
                die("%s %s: state is '%s', expected '%s'", st->op, dev,
                    cur_state, st->expect);
            }
        } else {
            /* Write phase. */
            for (int k = 0; k < 4; k++) {
                join(lpath, sizeof lpath, dpath, leaf_names[k]);
                if (!xs_write(h, t, lpath, leaf_vals[k],
                              (unsigned int)strlen(leaf_vals[k]))) {
                    fcall = "xs_write", ferr = errno;
                    break;
                }
            }
            if (fcall) {
                xs_transaction_end(h, t, true);
                if (ferr != EAGAIN)
                    die_call(fcall, lpath, ferr);
            } else if (xs_transaction_end(h, t, false)) {
                return;
            } else if (errno != EAGAIN) {
                die_call("xs_transaction_end", dpath, errno);
            }
        }
        if (attempt >= MAX_TXN_ATTEMPTS)
            die("%s %s: still EAGAIN after %d attempts", st->op, dev, attempt);
    }
}

/* Validate DDDD-BB-SS-F (hex; slot <= 1f, function <= 7), lower-cased. */
static bool parse_device(const char *in, char out[13])
{
    if (strlen(in) != 12 || in[4] != '-' || in[7] != '-' || in[10] != '-')
        return false;
    for (int i = 0; i < 12; i++) {
        char ch = in[i];
        if (i == 4 || i == 7 || i == 10) {
            out[i] = ch;
            continue;
        }
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
        out[i] = ch;
    }
    out[12] = '\0';
    if (out[8] > '1' || out[11] > '7')
        return false;
    return true;
}

static void mode_assign_release(const char *dev, long rounds)
{
    char dpath[PATH_BUF];
    snprintf(dpath, sizeof dpath, "%s/%.4s/%.2s/%s", DEVICES_ROOT, dev,
             dev + 5, dev);

    struct xs_handle *h = open_xs();
    double t0 = now_s();
    for (long r = 0; r < rounds; r++) {
        do_step(h, dev, dpath, &ASSIGN);
        do_step(h, dev, dpath, &RELEASE);
    }
    double secs = now_s() - t0;
    xs_close(h);

    printf("{\"impl\":\"c-libxenstore\",\"mode\":\"assign-release\","
           "\"rounds\":%ld,\"seconds\":%.6f,\"pairs_per_s\":%.1f}\n",
           rounds, secs, secs > 0 ? (double)rounds / secs : 0.0);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    const char *mode = NULL, *device_arg = NULL;
    long rounds = -1;

    if (argc > 0 && argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }

    char buf[256];
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            usage(NULL);
        if (strcmp(arg, "--rounds") == 0 || strcmp(arg, "--device") == 0) {
            if (a + 1 >= argc) {
                snprintf(buf, sizeof buf, "%s: missing value", arg);
                usage(buf);
            }
            const char *val = argv[++a];
            if (arg[2] == 'r') {
                char *end;
                errno = 0;
                long v = strtol(val, &end, 10);
                if (errno || end == val || *end != '\0' || v < 1 ||
                    v > INT_MAX) {
                    snprintf(buf, sizeof buf,
                             "--rounds: invalid value '%.64s' (need integer >= 1)",
                             val);
                    usage(buf);
                }
                rounds = v;
            } else {
                device_arg = val;
            }
        } else if (arg[0] == '-') {
            snprintf(buf, sizeof buf, "unknown option '%.64s'", arg);
            usage(buf);
        } else if (!mode) {
            mode = arg;
        } else {
            snprintf(buf, sizeof buf, "unexpected argument '%.64s'", arg);
            usage(buf);
        }
    }
    if (!mode)
        usage("missing MODE");

    if (strcmp(mode, "list") == 0 || strcmp(mode, "list-pipelined") == 0) {
        if (rounds >= 0 || device_arg)
            usage("--rounds and --device apply to assign-release only");
        if (mode[4] == '\0')
            mode_list();
        else
            mode_list_pipelined();
    } else if (strcmp(mode, "assign-release") == 0) {
        char dev[13];
        if (!device_arg)
            usage("assign-release needs --device DDDD-BB-SS-F");
        if (!parse_device(device_arg, dev)) {
            snprintf(buf, sizeof buf,
                     "--device: invalid value '%.64s' (need DDDD-BB-SS-F, "
                     "e.g. 0000-03-00-0)",
                     device_arg);
            usage(buf);
        }
        mode_assign_release(dev, rounds < 0 ? 1 : rounds);
    } else {
        snprintf(buf, sizeof buf, "unknown MODE '%.64s'", mode);
        usage(buf);
    }

    if (fflush(stdout) != 0 || ferror(stdout))
        die_call("fflush", "stdout", errno ? errno : EIO);
    return 0;
}
