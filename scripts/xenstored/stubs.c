/*
 * LD_PRELOAD stand-ins that let Debian's cxenstored (xen-utils-4.17) run in
 * user space on a machine without a Xen hypervisor.  See README.md next to
 * this file for the rationale and the behaviour of each stand-in.
 *
 * The daemon is single threaded, so no locking is done here.
 *
 * Files used inside $XENSTORED_RUNDIR (the daemon's run directory):
 *   xsd_port        text: dom0's remote event-channel port (stands in for
 *                   /proc/xen/xsd_port).  Created with "1" if missing.
 *   xsd_kva         4096 zero bytes, mmap()ed MAP_SHARED by the daemon as
 *                   dom0's ring page (stands in for /proc/xen/xsd_kva).
 *   evtchn          FIFO; its read end is the event-channel fd the daemon
 *                   polls.  Nothing writes to it unless a test does, so the
 *                   daemon sleeps in poll().  Text commands, one per line,
 *                   let a test simulate hypervisor events (see README.md).
 *   ring-<domid>    the "grant mapped" xenstore ring page of an introduced
 *                   guest (4096 bytes, zeroed at introduction, removed at
 *                   release).  A test may mmap it to play the guest.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PAGE_SZ 4096
#define MAX_DOMS DOMID_FIRST_RESERVED /* 0x7ff0: valid guest domids */
#define MAX_PORTS 4096

#define XSD_PORT_PATH "/proc/xen/xsd_port"
#define XSD_KVA_PATH "/proc/xen/xsd_kva"

struct fake_dom {
	unsigned char exists, dying, shutdown, crashed;
	void *ring;
};

enum { PORT_FREE = 0, PORT_VIRQ, PORT_INTERDOMAIN };

struct fake_port {
	int kind;
	unsigned int domid;  /* PORT_INTERDOMAIN */
	unsigned int remote; /* remote port, or virq number */
};

static struct fake_dom doms[MAX_DOMS];
static struct fake_port ports[MAX_PORTS];
static int virq_port = -1;

/* Opaque handles: the daemon only passes them back to us. */
static int xc_dummy, xgt_dummy;
struct xenevtchn_handle_stub {
	int fd;     /* polled by the daemon */
	int wfd;    /* write end when a pipe fallback is used, else -1 */
	char line[512];
	size_t linelen;
};
static struct xenevtchn_handle_stub xce_stub = { -1, -1, "", 0 };

static int debug_enabled = -1;

static void logmsg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	fputs("xsstubs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	errno = saved;
}

static int debug(void)
{
	if (debug_enabled < 0) {
		const char *s = getenv("XSSTUB_DEBUG");
		debug_enabled = (s && *s && strcmp(s, "0") != 0);
	}
	return debug_enabled;
}

#define DBG(...) do { if (debug()) logmsg(__VA_ARGS__); } while (0)

static const char *rundir(void)
{
	const char *s = getenv("XENSTORED_RUNDIR");
	return (s && *s) ? s : NULL;
}

/* ------------------------------------------------------------------ */
/* open() redirection of /proc/xen/xsd_{port,kva}                      */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static open_fn real_open_fn(void)
{
	static open_fn fn;
	if (!fn)
		fn = (open_fn)dlsym(RTLD_NEXT, "open");
	return fn;
}

static int real_open(const char *path, int flags, mode_t mode)
{
	open_fn fn = real_open_fn();
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(path, flags, mode);
}

/* Make sure the stand-in files exist with sane default content. */
static void ensure_file(const char *path, const char *content, size_t len)
{
	int fd = real_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* exists already (or cannot be created: open fails later) */
	if (write(fd, content, len) != (ssize_t)len)
		logmsg("short write creating %s: %s", path, strerror(errno));
	close(fd);
}

/* Returns the path to really open: either the argument or buf. */
static const char *redirect(const char *path, char *buf, size_t bufsz)
{
	const char *dir;
	const char *leaf;

	if (!path)
		return path;
	if (strcmp(path, XSD_PORT_PATH) == 0)
		leaf = "xsd_port";
	else if (strcmp(path, XSD_KVA_PATH) == 0)
		leaf = "xsd_kva";
	else
		return path;

	dir = rundir();
	if (!dir) {
		logmsg("XENSTORED_RUNDIR unset, cannot redirect %s", path);
		return path;
	}
	if ((size_t)snprintf(buf, bufsz, "%s/%s", dir, leaf) >= bufsz)
		return path;

	if (leaf[4] == 'p') {
		ensure_file(buf, "1\n", 2);
	} else {
		static const char zero[PAGE_SZ];
		ensure_file(buf, zero, sizeof(zero));
	}
	DBG("redirect %s -> %s", path, buf);
	return buf;
}

static int needs_mode(int flags)
{
	return (flags & O_CREAT) || ((flags & O_TMPFILE) == O_TMPFILE);
}

int open(const char *path, int flags, ...)
{
	char buf[PATH_MAX];
	mode_t mode = 0;

	if (needs_mode(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return real_open(redirect(path, buf, sizeof(buf)), flags, mode);
}

int open64(const char *path, int flags, ...)
{
	char buf[PATH_MAX];
	mode_t mode = 0;
	static open_fn fn;

	if (needs_mode(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (!fn)
		fn = (open_fn)dlsym(RTLD_NEXT, "open64");
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(redirect(path, buf, sizeof(buf)), flags, mode);
}

static int openat_common(const char *sym, int dirfd, const char *path,
			 int flags, mode_t mode)
{
	char buf[PATH_MAX];
	openat_fn fn = (openat_fn)dlsym(RTLD_NEXT, sym);

	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(dirfd, redirect(path, buf, sizeof(buf)), flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (needs_mode(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return openat_common("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (needs_mode(flags)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return openat_common("openat64", dirfd, path, flags, mode);
}

/* ------------------------------------------------------------------ */
/* libxenctrl                                                          */

__attribute__((constructor)) static void stubs_init(void)
{
	sigset_t none;

	doms[0].exists = 1; /* dom0 always exists */

	/*
	 * A daemon started from a test runner inherits that thread's signal
	 * mask (dispatch and Swift's executors block SIGTERM), and SIG_IGN
	 * dispositions survive exec too: then `stop` would need SIGKILL.
	 * Give xenstored the clean slate an init system would.
	 */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	(void)logger; (void)dombuild_logger; (void)open_flags;
	DBG("xc_interface_open");
	return (xc_interface *)&xc_dummy;
}

int xc_interface_close(xc_interface *xch)
{
	(void)xch;
	return 0;
}

/*
 * Real semantics: fill info for up to max_doms existing domains with
 * domid >= first_domid, in domid order; return the number filled.
 */
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
		      unsigned int max_doms, xc_dominfo_t *info)
{
	unsigned int n = 0;
	uint32_t d;

	(void)xch;
	if (!info) {
		errno = EINVAL;
		return -1;
	}
	for (d = first_domid; d < MAX_DOMS && n < max_doms; d++) {
		if (!doms[d].exists)
			continue;
		memset(&info[n], 0, sizeof(info[n]));
		info[n].domid = d;
		info[n].dying = doms[d].dying;
		info[n].crashed = doms[d].crashed;
		info[n].shutdown = doms[d].shutdown || doms[d].crashed;
		info[n].running = !(doms[d].dying || doms[d].shutdown ||
				    doms[d].crashed);
		info[n].nr_online_vcpus = 1;
		info[n].max_vcpu_id = 0;
		info[n].nr_pages = 256;
		info[n].max_memkb = 1024;
		n++;
	}
	DBG("xc_domain_getinfo(%u, %u) -> %u (first %u)", first_domid,
	    max_doms, n, n ? info[0].domid : 0);
	return (int)n;
}

/* ------------------------------------------------------------------ */
/* libxengnttab                                                        */

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
				 unsigned int open_flags)
{
	(void)logger; (void)open_flags;
	return (xengnttab_handle *)&xgt_dummy;
}

int xengnttab_close(xengnttab_handle *xgt)
{
	(void)xgt;
	return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	(void)xgt; (void)nr_grants;
	return 0;
}

static int ring_path(char *buf, size_t sz, unsigned int domid)
{
	const char *dir = rundir();

	if (!dir)
		return -1;
	if ((size_t)snprintf(buf, sz, "%s/ring-%u", dir, domid) >= sz)
		return -1;
	return 0;
}

/* The guest's xenstore ring: a fresh zeroed page (file-backed if possible). */
void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
			      uint32_t ref, int prot)
{
	char path[PATH_MAX];
	void *p = MAP_FAILED;
	int fd;

	(void)xgt; (void)ref;
	if (domid >= MAX_DOMS) {
		errno = EINVAL;
		return NULL;
	}
	if (ring_path(path, sizeof(path), domid) == 0) {
		unlink(path);
		fd = real_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (ftruncate(fd, PAGE_SZ) == 0)
				p = mmap(NULL, PAGE_SZ, prot, MAP_SHARED, fd, 0);
			close(fd);
		}
		if (p == MAP_FAILED)
			logmsg("cannot map ring file %s (%s), using anonymous memory",
			       path, strerror(errno));
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, PAGE_SZ, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;

	if (doms[domid].ring && doms[domid].ring != p)
		DBG("dom%u ring mapped twice", domid);
	doms[domid].ring = p;
	doms[domid].exists = 1;
	doms[domid].dying = doms[domid].shutdown = doms[domid].crashed = 0;
	logmsg("dom%u: ring page mapped at %p (domain now exists)", domid, p);
	return p;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	char path[PATH_MAX];
	unsigned int d;

	(void)xgt;
	if (!start_address) {
		errno = EINVAL;
		return -1;
	}
	for (d = 0; d < MAX_DOMS; d++) {
		if (doms[d].ring != start_address)
			continue;
		doms[d].ring = NULL;
		if (d != 0)
			doms[d].exists = 0;
		doms[d].dying = doms[d].shutdown = doms[d].crashed = 0;
		if (ring_path(path, sizeof(path), d) == 0)
			unlink(path);
		logmsg("dom%u: ring page unmapped (domain gone)", d);
		break;
	}
	return munmap(start_address, (size_t)count * PAGE_SZ);
}

/* ------------------------------------------------------------------ */
/* libxenevtchn                                                        */

static int alloc_port(int kind, unsigned int domid, unsigned int remote)
{
	int p;

	for (p = 1; p < MAX_PORTS; p++) {
		if (ports[p].kind == PORT_FREE) {
			ports[p].kind = kind;
			ports[p].domid = domid;
			ports[p].remote = remote;
			return p;
		}
	}
	errno = ENOSPC;
	return -1;
}

static int open_event_fd(int cloexec)
{
	char path[PATH_MAX];
	const char *dir = rundir();
	int fds[2];
	int fd;

	xce_stub.wfd = -1;
	if (dir && (size_t)snprintf(path, sizeof(path), "%s/evtchn", dir)
			< sizeof(path)) {
		if (mkfifo(path, 0600) != 0 && errno != EEXIST)
			logmsg("mkfifo %s: %s", path, strerror(errno));
		/* O_RDWR: we are our own writer, so poll() never sees POLLHUP. */
		fd = real_open(path, O_RDWR | O_NONBLOCK | (cloexec ? O_CLOEXEC : 0), 0);
		if (fd >= 0)
			return fd;
		logmsg("cannot open FIFO %s (%s), using a private pipe", path,
		       strerror(errno));
	}
	if (pipe2(fds, O_NONBLOCK | (cloexec ? O_CLOEXEC : 0)) != 0)
		return -1;
	xce_stub.wfd = fds[1];
	return fds[0];
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int open_flags)
{
	(void)logger;
	if (xce_stub.fd < 0) {
		xce_stub.fd = open_event_fd(!(open_flags & XENEVTCHN_NO_CLOEXEC));
		if (xce_stub.fd < 0)
			return NULL;
	}
	DBG("xenevtchn_open -> fd %d", xce_stub.fd);
	return (xenevtchn_handle *)&xce_stub;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
				   int fd, unsigned open_flags)
{
	(void)logger; (void)open_flags;
	/* Only used by live update, which re-execs with an inherited fd. */
	xce_stub.fd = fd;
	xce_stub.wfd = -1;
	return (xenevtchn_handle *)&xce_stub;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	(void)xce;
	if (xce_stub.fd >= 0)
		close(xce_stub.fd);
	if (xce_stub.wfd >= 0)
		close(xce_stub.wfd);
	xce_stub.fd = xce_stub.wfd = -1;
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	(void)xce;
	return xce_stub.fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	DBG("notify port %u", port);
	return 0;
}

xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
			   evtchn_port_t remote_port)
{
	int p;

	(void)xce;
	p = alloc_port(PORT_INTERDOMAIN, domid, remote_port);
	if (p >= 0)
		logmsg("dom%u: remote port %u bound to local port %d", domid,
		       remote_port, p);
	return p;
}

xenevtchn_port_or_error_t
xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
	int p;

	(void)xce;
	p = alloc_port(PORT_VIRQ, DOMID_SELF, virq);
	if (p >= 0 && virq == VIRQ_DOM_EXC)
		virq_port = p;
	DBG("bind_virq(%u) -> %d", virq, p);
	return p;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	if (port == 0 || port >= MAX_PORTS || ports[port].kind == PORT_FREE) {
		errno = EINVAL;
		return -1;
	}
	DBG("unbind port %u (dom%u)", port, ports[port].domid);
	if ((int)port == virq_port)
		virq_port = -1;
	ports[port].kind = PORT_FREE;
	return 0;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce; (void)port;
	return 0;
}

static int port_of_domain(unsigned int domid)
{
	int p;

	for (p = 1; p < MAX_PORTS; p++)
		if (ports[p].kind == PORT_INTERDOMAIN && ports[p].domid == domid)
			return p;
	return -1;
}

/*
 * One command line from the FIFO.  Returns the port it "fires":
 *   notify <domid>    the guest kicked its event channel (process its ring)
 *   create <domid>    domain exists (e.g. before XS_INTRODUCE)
 *   destroy <domid>   domain no longer exists      -> VIRQ_DOM_EXC
 *   dying <domid>     domain is dying             -> VIRQ_DOM_EXC
 *   shutdown <domid>  domain shut down            -> VIRQ_DOM_EXC
 *   crash <domid>     domain crashed              -> VIRQ_DOM_EXC
 *   running <domid>   clear dying/shutdown/crashed
 *   virq              just fire VIRQ_DOM_EXC
 */
static int handle_command(char *line)
{
	char cmd[32];
	unsigned int domid = 0;
	int n = sscanf(line, "%31s %u", cmd, &domid);
	int p;

	if (n < 1)
		return -1;
	if (strcmp(cmd, "virq") == 0)
		return virq_port;
	if (n < 2 || domid >= MAX_DOMS) {
		logmsg("bad evtchn command \"%s\"", line);
		return -1;
	}
	logmsg("evtchn command: %s %u", cmd, domid);
	if (strcmp(cmd, "notify") == 0) {
		p = port_of_domain(domid);
		return p >= 0 ? p : virq_port;
	} else if (strcmp(cmd, "create") == 0) {
		doms[domid].exists = 1;
		doms[domid].dying = doms[domid].shutdown = doms[domid].crashed = 0;
		return virq_port;
	} else if (strcmp(cmd, "destroy") == 0) {
		if (domid != 0)
			doms[domid].exists = 0;
	} else if (strcmp(cmd, "dying") == 0) {
		doms[domid].dying = 1;
	} else if (strcmp(cmd, "shutdown") == 0) {
		doms[domid].shutdown = 1;
	} else if (strcmp(cmd, "crash") == 0) {
		doms[domid].crashed = 1;
	} else if (strcmp(cmd, "running") == 0) {
		doms[domid].dying = doms[domid].shutdown = doms[domid].crashed = 0;
	} else {
		logmsg("unknown evtchn command \"%s\"", cmd);
		return -1;
	}
	return virq_port;
}

/*
 * Called by the daemon when our fd polls readable.  Drain it, apply every
 * complete command and report one port.  Never fails: returning -1 would
 * make the daemon exit ("Failed to read from event fd").
 */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	char buf[512];
	ssize_t n;
	int result = -1, virq_hit = 0, p;
	size_t i;

	(void)xce;
	while ((n = read(xce_stub.fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			char c = buf[i];
			if (c == '\n' || c == '\0' || c == ';') {
				xce_stub.line[xce_stub.linelen] = '\0';
				p = handle_command(xce_stub.line);
				xce_stub.linelen = 0;
				if (p >= 0) {
					if (p == virq_port)
						virq_hit = 1;
					else
						result = p;
				}
			} else if (xce_stub.linelen + 1 < sizeof(xce_stub.line)) {
				xce_stub.line[xce_stub.linelen++] = c;
			}
		}
	}
	if (virq_hit || result < 0)
		result = virq_port >= 0 ? virq_port : 1;
	return result;
}
