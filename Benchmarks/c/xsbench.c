/*
 * xsbench - baseline XenStore workload done directly with libxenstore.
 *
 * Usage: xsbench --devices N --nodes K --watch-rounds R --root /bench/c
 *
 * Connects with xs_open(0) (libxenstore honours XENSTORED_PATH for the
 * socket) and runs, in order, each phase timed with CLOCK_MONOTONIC:
 *
 *   1. populate: xs_rm(ROOT) (ENOENT ignored; not part of the timed
 *      interval), then for each device i in 0..N-1 one transaction writing
 *      ROOT/devices/D/n0 .. n{K-1} = "value-i-j", retried whole on EAGAIN.
 *      D = "%04x-%02x-%02x-%x" of (segment = i / 8192, bus = i / 32 % 256,
 *      slot = i % 32, function = 0).
 *   2. list: xs_directory(ROOT/devices), then xs_directory of every child and
 *      xs_read of every leaf (no transaction); verifies names and values.
 *   3. watch round trip: xs_watch(ROOT/rtt, "rtt"), consume the initial
 *      event, then R times: write ROOT/rtt/v and block in xs_read_watch until
 *      an event with token "rtt" arrives; then xs_unwatch.
 *   4. cleanup: xs_rm(ROOT) (not timed).
 *
 * Output: one JSON line on stdout. Errors: one line on stderr, exit 1.
 * Usage errors: exit 64.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#define EX_USAGE 64
#define MAX_TXN_ATTEMPTS 1000
#define WATCH_TOKEN "rtt"

static const char *prog = "xsbench";

static void usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "%s: %s\n", prog, msg);
    fprintf(stderr,
            "usage: %s --devices N --nodes K --watch-rounds R --root PATH\n",
            prog);
    exit(EX_USAGE);
}

/* Fail with "<call> <path>: <strerror(err)>" and exit 1. */
__attribute__((noreturn))
static void die_call(const char *call, const char *path, int err)
{
    fprintf(stderr, "%s: %s %s: %s\n", prog, call, path ? path : "",
            strerror(err));
    exit(1);
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

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_call("malloc", "", errno ? errno : ENOMEM);
    return p;
}

__attribute__((format(printf, 1, 2)))
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char probe[1];
    va_start(ap, fmt);
    int n = vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die_call("clock_gettime", "CLOCK_MONOTONIC", errno);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_count(const char *opt, const char *s, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > INT_MAX) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s: invalid value '%s' (need integer >= %ld)",
                 opt, s, min);
        usage(buf);
    }
    return v;
}

/* Device directory name for device index i. */
static void device_name(char *buf, size_t len, long i)
{
    snprintf(buf, len, "%04lx-%02lx-%02lx-%x", i / 8192, i / 32 % 256, i % 32, 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile over a sorted array. */
static double percentile(const double *sorted, long n, double p)
{
    long rank = (long)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static void write_device(struct xs_handle *h, const char *devices, long i,
                         long nodes)
{
    char dname[64];
    device_name(dname, sizeof dname, i);

    for (int attempt = 1;; attempt++) {
        xs_transaction_t t = xs_transaction_start(h);
        if (t == XBT_NULL)
            die_call("xs_transaction_start", devices, errno);

        for (long j = 0; j < nodes; j++) {
            char path[512], value[64];
            snprintf(path, sizeof path, "%s/%s/n%ld", devices, dname, j);
            int vlen = snprintf(value, sizeof value, "value-%ld-%ld", i, j);
            if (!xs_write(h, t, path, value, (unsigned int)vlen)) {
                int err = errno;
                xs_transaction_end(h, t, true);
                die_call("xs_write", path, err);
            }
        }

        if (xs_transaction_end(h, t, false))
            return;
        if (errno != EAGAIN) {
            char where[512];
            snprintf(where, sizeof where, "%s/%s", devices, dname);
            die_call("xs_transaction_end", where, errno);
        }
        if (attempt >= MAX_TXN_ATTEMPTS)
            die("xs_transaction_end %s/%s: still EAGAIN after %d attempts",
                devices, dname, attempt);
    }
}

static void list_and_verify(struct xs_handle *h, const char *devices,
                            long ndev, long nodes)
{
    unsigned int ndir = 0;
    char **dir = xs_directory(h, XBT_NULL, devices, &ndir);
    if (!dir)
        die_call("xs_directory", devices, errno);
    if ((long)ndir != ndev)
        die("list: %s has %u children, expected %ld", devices, ndir, ndev);

    unsigned char *seen_dev = xmalloc((size_t)ndev);
    unsigned char *seen_leaf = xmalloc((size_t)nodes);
    memset(seen_dev, 0, (size_t)ndev);

    for (unsigned int d = 0; d < ndir; d++) {
        const char *child = dir[d];

        /* Map the name back to its device index and check it is canonical. */
        unsigned int seg, bus, slot, fn;
        char tail;
        if (sscanf(child, "%x-%x-%x-%x%c", &seg, &bus, &slot, &fn, &tail) != 4)
            die("list: unexpected device name %s/%s", devices, child);
        long i = (long)seg * 8192 + (long)bus * 32 + (long)slot;
        char expect[64];
        device_name(expect, sizeof expect, i);
        if (i >= ndev || strcmp(expect, child) != 0)
            die("list: unexpected device name %s/%s", devices, child);
        if (seen_dev[i])
            die("list: duplicate device %s/%s", devices, child);
        seen_dev[i] = 1;

        char *dpath = xasprintf("%s/%s", devices, child);
        unsigned int nleaf = 0;
        char **leaves = xs_directory(h, XBT_NULL, dpath, &nleaf);
        if (!leaves)
            die_call("xs_directory", dpath, errno);
        if ((long)nleaf != nodes)
            die("list: %s has %u children, expected %ld", dpath, nleaf, nodes);

        memset(seen_leaf, 0, (size_t)nodes);
        for (unsigned int l = 0; l < nleaf; l++) {
            const char *leaf = leaves[l];
            char *end;
            long j = -1;
            if (leaf[0] == 'n' && leaf[1] >= '0' && leaf[1] <= '9') {
                errno = 0;
                j = strtol(leaf + 1, &end, 10);
                if (errno || *end != '\0')
                    j = -1;
            }
            if (j < 0 || j >= nodes || seen_leaf[j])
                die("list: unexpected leaf %s/%s", dpath, leaf);
            seen_leaf[j] = 1;

            char lpath[512];
            snprintf(lpath, sizeof lpath, "%s/%s", dpath, leaf);
            unsigned int vlen = 0;
            char *val = xs_read(h, XBT_NULL, lpath, &vlen);
            if (!val)
                die_call("xs_read", lpath, errno);
            char want[64];
            int wlen = snprintf(want, sizeof want, "value-%ld-%ld", i, j);
            if (vlen != (unsigned int)wlen || memcmp(val, want, vlen) != 0)
                die("list: %s = '%.*s', expected '%s'", lpath, (int)vlen, val,
                    want);
            free(val);
        }
        free(leaves);
        free(dpath);
    }

    free(seen_leaf);
    free(seen_dev);
    free(dir);
}

/* Block until a watch event with our token arrives; others are ignored. */
static void await_token(struct xs_handle *h, const char *watched)
{
    for (;;) {
        unsigned int num = 0;
        char **ev = xs_read_watch(h, &num);
        if (!ev)
            die_call("xs_read_watch", watched, errno);
        bool ours = num > XS_WATCH_TOKEN &&
                    strcmp(ev[XS_WATCH_TOKEN], WATCH_TOKEN) == 0;
        free(ev);
        if (ours)
            return;
    }
}

int main(int argc, char **argv)
{
    long ndev = -1, nodes = -1, rounds = -1;
    const char *root_arg = NULL;

    if (argc > 0 && argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }

    for (int a = 1; a < argc; a++) {
        const char *opt = argv[a];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0)
            usage(NULL);
        if (a + 1 >= argc) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s: missing value or unknown option", opt);
            usage(buf);
        }
        const char *val = argv[++a];
        if (strcmp(opt, "--devices") == 0)
            ndev = parse_count(opt, val, 1);
        else if (strcmp(opt, "--nodes") == 0)
            nodes = parse_count(opt, val, 1);
        else if (strcmp(opt, "--watch-rounds") == 0)
            rounds = parse_count(opt, val, 1);
        else if (strcmp(opt, "--root") == 0)
            root_arg = val;
        else {
            char buf[256];
            snprintf(buf, sizeof buf, "unknown option '%s'", opt);
            usage(buf);
        }
    }
    if (ndev < 0 || nodes < 0 || rounds < 0 || !root_arg)
        usage("--devices, --nodes, --watch-rounds and --root are required");

    /* Normalise the root: absolute, no trailing slash, not "/" itself. */
    size_t rlen = strlen(root_arg);
    while (rlen > 1 && root_arg[rlen - 1] == '/')
        rlen--;
    if (root_arg[0] != '/' || rlen < 2)
        usage("--root must be an absolute path below / (e.g. /bench/c)");
    char *root = xmalloc(rlen + 1);
    memcpy(root, root_arg, rlen);
    root[rlen] = '\0';

    char *devices = xasprintf("%s/devices", root);
    char *rtt = xasprintf("%s/rtt", root);
    char *rtt_v = xasprintf("%s/rtt/v", root);

    struct xs_handle *h = xs_open(0);
    if (!h) {
        const char *sock = getenv("XENSTORED_PATH");
        die_call("xs_open", sock ? sock : "(default socket / xenbus device)",
                 errno ? errno : ECONNREFUSED);
    }

    /* 1. populate */
    if (!xs_rm(h, XBT_NULL, root) && errno != ENOENT)
        die_call("xs_rm", root, errno);

    double t0 = now_s();
    for (long i = 0; i < ndev; i++)
        write_device(h, devices, i, nodes);
    double populate_s = now_s() - t0;

    /* 2. list */
    t0 = now_s();
    list_and_verify(h, devices, ndev, nodes);
    double list_s = now_s() - t0;

    /* 3. watch round trip */
    double *lat = xmalloc((size_t)rounds * sizeof *lat);
    if (!xs_watch(h, rtt, WATCH_TOKEN))
        die_call("xs_watch", rtt, errno);
    await_token(h, rtt); /* initial event fired on registration */

    for (long r = 0; r < rounds; r++) {
        char val[32];
        int vlen = snprintf(val, sizeof val, "%ld", r);
        double s = now_s();
        if (!xs_write(h, XBT_NULL, rtt_v, val, (unsigned int)vlen))
            die_call("xs_write", rtt_v, errno);
        await_token(h, rtt);
        lat[r] = (now_s() - s) * 1e6;
    }
    if (!xs_unwatch(h, rtt, WATCH_TOKEN))
        die_call("xs_unwatch", rtt, errno);

    double sum = 0;
    for (long r = 0; r < rounds; r++)
        sum += lat[r];
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_double);
    double p50 = percentile(lat, rounds, 50.0);
    double p99 = percentile(lat, rounds, 99.0);
    double mean = sum / (double)rounds;

    /* 4. cleanup */
    if (!xs_rm(h, XBT_NULL, root))
        die_call("xs_rm", root, errno);
    xs_close(h);

    printf("{\"impl\":\"c-libxenstore\",\"devices\":%ld,\"nodes\":%ld,"
           "\"populate_s\":%.6f,\"populate_ops_per_s\":%.1f,"
           "\"list_s\":%.6f,\"watch_rounds\":%ld,"
           "\"watch_p50_us\":%.2f,\"watch_p99_us\":%.2f,"
           "\"watch_mean_us\":%.2f}\n",
           ndev, nodes, populate_s,
           populate_s > 0 ? (double)ndev / populate_s : 0.0,
           list_s, rounds, p50, p99, mean);
    if (fflush(stdout) != 0)
        die_call("fflush", "stdout", errno);

    free(lat);
    free(rtt_v);
    free(rtt);
    free(devices);
    free(root);
    return 0;
}
