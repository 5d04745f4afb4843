/* main.c - start-up, privilege and namespace checks, the single event loop, clean exits. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <limits.h>
#include <locale.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "attr.h"
#include "attr_ebpf.h"
#include "caps.h"
#include "cgroup.h"
#include "container.h"
#include "ctname.h"
#include "geoip.h"
#include "asked.h"
#include "dnscap.h"
#include "names.h"
#include "rdns.h"
#include "netns.h"
#include "output.h"
#include "services.h"
#include "sysctl.h"
#include "ui.h"

#define EV_BUDGET 8192		/* event messages per loop turn */
#define DUMP_BUDGET 1024	/* dump entries per loop turn: ~2-3 ms, keys stay responsive */

static struct app app;
static struct termios saved_tty;
static bool tty_saved;
static volatile sig_atomic_t ui_active;

static void die_line(const char *fmt, const char *arg)
{
	fputs("flowtop: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

/* Crash path: only async-signal-safe calls. Put back sysctls and the terminal, then die. */
static void crash_handler(int sig)
{
	static const char reset[] = "\033[0m\033[?25h\033[?1049l\r\n";

	sysctl_restore();
	if (ui_active) {
		if (tty_saved)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
		if (write(STDOUT_FILENO, reset, sizeof(reset) - 1) < 0) {
			/* nothing more can be done here */
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * From the first moment: INT/TERM/HUP/WINCH wait, blocked, for the event
 * loop's signalfd; a SIGTERM during start-up (probing and loading BPF takes
 * a while) is then still an orderly exit that restores everything.
 */
static void loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGWINCH);
}

static void block_signals(void)
{
	sigset_t mask;

	loop_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
}

static void install_crash_handlers(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT, SIGTRAP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* A closed pipe in batch/JSON mode ends flowtop cleanly through write errors. */
	signal(SIGPIPE, SIG_IGN);
}

static __u32 netns_inode(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (__u32)st.st_ino : 0;
}

static int enter_netns(const char *arg, char *path, size_t plen)
{
	int fd;

	if (strchr(arg, '/'))
		snprintf(path, plen, "%s", arg);
	else
		snprintf(path, plen, "/run/netns/%s", arg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno == EINVAL ? ENOTSUP : errno;

		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/* Conntrack may be a module that nothing has loaded yet; ask for it quietly. */
static bool conntrack_present(void)
{
	pid_t pid;
	int st;

	if (access("/proc/sys/net/netfilter/nf_conntrack_max", F_OK) == 0)
		return true;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("modprobe", "modprobe", "-q", "nf_conntrack", "nf_conntrack_netlink",
		       (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	return access("/proc/sys/net/netfilter/nf_conntrack_max", F_OK) == 0;
}

static void conf_dirs(const char **dirs, char *local, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i = 0;

	/* Running from the build tree (build/flowtop): use the tree's conf/. */
	if (n > 0) {
		char *slash;

		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			slash = strrchr(exe, '/');
			if (slash && !strcmp(slash, "/build")) {
				*slash = 0;
				snprintf(local, len, "%s/conf", exe);
				if (access(local, R_OK) == 0)
					dirs[i++] = local;
			}
		}
	}
	if (!i)
		dirs[i++] = FLOWTOP_DATADIR;
	dirs[i++] = FLOWTOP_SYSCONFDIR;
	dirs[i] = NULL;
}

static void services_warn(const char *msg)
{
	if (app.opts.out == OUT_UI)
		snprintf(app.warning, sizeof(app.warning), "%s", msg);
	else
		fprintf(stderr, "flowtop: warning: %s\n", msg);
}

/*
 * GeoIP databases: --geoip-db paths first, then the locations in geoip.conf
 * (user's /etc/flowtop one, else the shipped one). Missing: say so once.
 */
static void open_geoip(struct app *a, const char **dirs)
{
	char conf[PATH_MAX] = "";
	int n;

	snprintf(conf, sizeof(conf), "%s/geoip.conf", FLOWTOP_SYSCONFDIR);
	if (access(conf, R_OK) != 0)
		snprintf(conf, sizeof(conf), "%s/geoip.conf", dirs[0]);
	n = geoip_open(a->opts.geoip_db, a->opts.n_geoip_db ? NULL : conf, services_warn);
	if (n <= 0) {
		const char *msg = "no GeoIP database found: locations are not shown (see flowtop -u)";

		/* Said once: on the status line, or in the JSON summary ("geoip":false);
		 * on stderr only when the user named databases that did not open. */
		if (!a->warning[0])
			snprintf(a->warning, sizeof(a->warning), "%s", msg);
		if (a->opts.out != OUT_UI && a->opts.n_geoip_db)
			fprintf(stderr, "flowtop: warning: %s\n", msg);
	}
}

static void on_ct(void *ctx, const struct ct_msg *m)
{
	struct watch *w = ctx;
	struct app *a = w->a;

	if (m->type != CT_MSG_DUMP)
		a->tracking = TRACKING_ACTIVE;
	model_apply_ns(&a->model, w->inode, w->first, m);
}

static void on_event(void *ctx, const char *type, const struct flow *f)
{
	struct app *a = ctx;

	unsigned int bit = !strcmp(type, "new") ? EVENT_NEW :
			   !strcmp(type, "update") ? EVENT_UPDATE : EVENT_DESTROY;

	if (a->opts.out != OUT_JSON_EVENTS || !(a->opts.event_types & bit) ||
	    !model_match(&a->model, f, &a->view))
		return;
	json_flow(stdout, a, type, f);
}

static int set_timer(int tfd, double seconds)
{
	struct itimerspec its;
	long long ns = (long long)(seconds * 1e9);

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ns / 1000000000LL;
	its.it_value.tv_nsec = ns % 1000000000LL;
	its.it_interval = its.it_value;
	return timerfd_settime(tfd, 0, &its, NULL);
}

static int epoll_add(int ep, int fd, __u32 tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* epoll tags: the kind in the low byte, the watch's slot above it */
enum { TAG_EVENTS = 1, TAG_DUMP, TAG_TIMER, TAG_SIGNAL, TAG_STDIN, TAG_ATTR, TAG_STOP, TAG_RDNS,
       TAG_DNSCAP, TAG_URGENT };
#define TAG_OF(kind, slot) ((__u32)(kind) | (__u32)(slot) << 8)

/*
 * Under a stream of events (thousands of new flows a second) a wake-up per
 * message costs a context switch each, and the machine's own connections pay
 * for them: measured, the connect/close loop ran at 72% of its rate without
 * flowtop when flowtop woke for every event, 84% with this pause. After a turn
 * that read events the loop lets the next ones gather for PACE_MS; keys,
 * signals and timers are in a set of their own that ends the pause at once.
 */
#define PACE_MS 2
#define EVS_MAX 16

/*
 * Ready fds of both sets: the outer one (streams, dumps and the inner set)
 * with timeout, then the inner one's (keys, signals, timers) without waiting.
 */
static int wait_ready(int ep, int epu, struct epoll_event *evs, int timeout)
{
	int n = epoll_wait(ep, evs, EVS_MAX / 2, timeout), m;

	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 != TAG_URGENT)
			continue;
		evs[i] = evs[--n];
		m = epoll_wait(epu, evs + n, EVS_MAX - n, 0);
		return m > 0 ? n + m : n;
	}
	return n;
}

/*
 * A full dump costs ~2-3 us per entry, mostly in the kernel: at 100k flows a
 * dump every second would take a fifth of a core. The view and the event
 * stream stretch the dump period with the table (new and closed flows still
 * come by events at once; counters and rates every period); --batch and
 * --json snapshots always dump: each snapshot must be fresh.
 */
#define DUMP_FLOWS_PER_S 30000

static __u64 dump_period_ns(const struct app *a)
{
	double secs = a->opts.interval;
	size_t n = ft_count(a->model.ft);

	if (a->opts.out == OUT_UI || a->opts.out == OUT_JSON_EVENTS) {
		double need = (double)n / DUMP_FLOWS_PER_S;

		if (need > secs)
			secs = need;
	}
	return (__u64)(secs * 1e9);
}

static bool dump_due(struct app *a)
{
	__u64 now = model_clock();

	/* a little early is on time: timer ticks jitter */
	if (now + 50000000ULL < a->last_dump_ns + dump_period_ns(a))
		return false;
	return true;
}

static bool round_running(const struct app *a)
{
	for (unsigned int i = 0; i < WATCH_MAX; i++)
		if (a->watch[i].used && a->watch[i].dumping)
			return true;
	return false;
}

/*
 * New flows come by NEW events or by the next dump. In the eBPF mode with a
 * dump every interval, the dump finds them in time: their records carry the
 * owners and wait for it (or for the flow's DESTROY). The NEW message the
 * kernel builds for every flow, and flowtop reads, is then pure cost on each
 * connection (measured: the connect/close loop's rate went from 84% to 90%
 * of its rate without flowtop). The conntrack mode needs the events
 * (sock_diag must find a flow's socket while it is open), the event stream
 * reports each one (unless --events leaves "new" out), and stretched dumps (a
 * big table) or more records than the store holds until the next dump take
 * them back.
 */
static bool new_events_wanted(const struct app *a)
{
	/* (a flow first seen by an UPDATE message is reported as new: updates need NEW too) */
	if (strcmp(a->mode, "ebpf") ||
	    (a->opts.out == OUT_JSON_EVENTS && (a->opts.event_types & (EVENT_NEW | EVENT_UPDATE))))
		return true;
	return !attr_ebpf_records_wait(a->dump_period_ns);
}

/* UPDATE messages (every state change of every flow) only for an event stream that prints them. */
static bool updates_wanted(const struct app *a)
{
	return a->opts.out == OUT_JSON_EVENTS && (a->opts.event_types & EVENT_UPDATE);
}

/*
 * A dump round: every watched namespace's table, one generation for all
 * (flows of a namespace are swept when its own dump ends). Only the
 * namespace flowtop runs in is fatal when it cannot be dumped.
 */
static int start_dump(struct app *a)
{
	int err = 0;
	bool want_new;

	if (round_running(a))
		return 0;
	a->last_dump_ns = model_clock();
	a->dump_period_ns = dump_period_ns(a);
	want_new = new_events_wanted(a);
	model_dump_begin(&a->model);
	for (unsigned int i = 0; i < WATCH_MAX; i++) {
		struct watch *w = &a->watch[i];
		int r;

		if (!w->used)
			continue;
		/* joined before the dump starts: a flow new in between is in one or the other */
		r = ct_events_new(w->ct, want_new);
		if (r < 0)
			snprintf(a->warning, sizeof(a->warning), "conntrack NEW events: %s",
				 strerror(-r));
		r = ct_dump_start(w->ct);
		if (r == 0)
			w->dumping = true;
		else if (i == 0)
			err = r;
		else
			snprintf(a->warning, sizeof(a->warning), "cannot dump netns %s: %s",
				 w->name, strerror(-r));
	}
	if (!round_running(a))
		a->model.dumping = false;
	return err;
}

/*
 * --all-netns holds three netlink sockets per namespace (events, dumps, statistics), up
 * to WATCH_MAX of them: more than the usual soft limit of 1024 descriptors allows with
 * the rest. Raise it towards the hard limit.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = 4096;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* how long the status line says the table was full, after it is not */
#define TABLE_WAS_FULL_NS (30ULL * 1000000000ULL)

/* In the current netns: its table's statistics (the socket stays bound to it). */
static void table_open(struct ct_table *t)
{
	memset(t, 0, sizeof(*t));
	t->st = ct_stat_open();
	if (t->st) {
		unsigned long long d, e;

		ct_stat_cpu(t->st, &d, &e);	/* the baseline of the drop counters */
	}
}

static void table_close(struct ct_table *t)
{
	ct_stat_close(t->st);
	memset(t, 0, sizeof(*t));
}

static bool at_limit(const struct ct_table *t)
{
	return t->max && t->count >= t->max;
}

/*
 * Read one table. The count alone misses most full tables: the kernel evicts
 * unassured entries to make room and its garbage collector takes the table
 * back under 95% of the limit soon after, so the kernel's counters since the
 * last read count too. Evictions happen only at the limit. Drops (other than
 * clashes) are nearly all new connections that found no room, but a protocol
 * tracker drops a few packets too: they count at or near the limit, or with
 * evictions in the same interval.
 */
static void table_read(struct app *a, struct ct_table *t)
{
	unsigned long long drop, early;

	t->count = t->max = 0;
	t->full = false;
	if (!t->st)
		return;
	/* the limit the kernel applies there (the namespace's own, where it has one) */
	ct_stat_size(t->st, &t->count, &t->max);
	t->full = at_limit(t);
	if (ct_stat_cpu(t->st, &drop, &early) == 0 &&
	    (early || (drop && t->max && t->count * 10 >= t->max * 9))) {
		a->ct_dropped += drop;
		a->ct_evicted += early;
		t->full = true;
	}
}

/* A full table drops every new connection: say so while it lasts, in any watched netns. */
static void check_table_full(struct app *a)
{
	static const char tag[] = "conntrack table full", was_tag[] = "conntrack table was last full";
	bool was = a->table_full;
	const struct watch *full = NULL;
	unsigned int nfull = 0;
	__u64 now = model_clock();

	for (unsigned int i = 0; i < WATCH_MAX; i++) {
		struct watch *w = &a->watch[i];

		if (!w->used)
			continue;
		table_read(a, &w->table);
		if (w->table.full && !nfull++)
			full = w;
	}
	a->ct_count = a->watch[0].table.count;
	a->ct_max = a->watch[0].table.max;
	a->table_full = full != NULL;
	if (full) {
		const struct ct_table *t = &full->table;
		char *where = a->table_full_where, lost[64] = "";

		where[0] = 0;
		if (nfull > 1)
			snprintf(where, sizeof(a->table_full_where), " in %s and %u more namespace%s",
				 full->name, nfull - 1, nfull > 2 ? "s" : "");
		else if (a->opts.all_netns || full != &a->watch[0])
			snprintf(where, sizeof(a->table_full_where), " in %s", full->name);
		a->table_full_seen = time(NULL);
		if (a->ct_dropped || a->ct_evicted)
			snprintf(lost, sizeof(lost), "; %llu packets dropped, %llu entries evicted",
				 a->ct_dropped, a->ct_evicted);
		if (!at_limit(t))	/* full by the counters only: not at the limit now */
			snprintf(a->warning, sizeof(a->warning),
				 "%s%s since the last refresh (%lu of %lu entries now%s)", tag, where,
				 t->count, t->max, lost);
		else
			snprintf(a->warning, sizeof(a->warning),
				 "%s%s (%lu of %lu entries%s): the kernel drops new connections", tag,
				 where, t->count, t->max, lost);
		if (!was && a->opts.out != OUT_UI)
			fprintf(stderr, "flowtop: warning: %s\n", a->warning);
	} else if (was && !strncmp(a->warning, tag, sizeof(tag) - 1)) {
		/* a full table may last less than one refresh: the line stays a while */
		struct tm tm;
		char hms[16] = "";

		if (localtime_r(&a->table_full_seen, &tm))
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		snprintf(a->warning, sizeof(a->warning),
			 "%s%s at %s (%llu packets dropped, %llu entries evicted in all)", was_tag,
			 a->table_full_where, hms, a->ct_dropped, a->ct_evicted);
		a->table_full_end_ns = now;
	} else if (!a->table_full && !strncmp(a->warning, was_tag, sizeof(was_tag) - 1) &&
		   now - a->table_full_end_ns >= TABLE_WAS_FULL_NS) {
		a->warning[0] = 0;
	}
}

/* ---- --all-netns: the namespaces of the machine, found again every NETNS_SCAN_S ---- */

#define NETNS_SCAN_S 2

/* A name a person recognises: /run/netns's, else the container of its first process. */
static void watch_name(const struct netns_info *ni, char *out, size_t len)
{
	char path[64], line[512], comm[32] = "";
	struct container_ident ci;
	bool have_ci = false;
	FILE *f;
	int pid;

	if (strncmp(ni->name, "pid ", 4)) {
		snprintf(out, len, "%s", ni->name);
		return;
	}
	pid = atoi(ni->name + 4);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			have_ci = container_parse(line + 3, &ci) == 0 &&
				  ci.kind != CT_KIND_USER && ci.kind != CT_KIND_SERVICE;
			break;
		}
	}
	if (f)
		fclose(f);
	if (have_ci) {
		const char *nm = container_name(&ci);
		char lbl[96];

		if (nm)
			snprintf(out, len, "%s:%s", container_kind_name(ci.kind), nm);
		else
			snprintf(out, len, "%s", container_label(lbl, sizeof(lbl), &ci));
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(out, len, "%s%s%s%s", ni->name, comm[0] ? " (" : "", comm, comm[0] ? ")" : "");
}

static void watch_label(struct app *a)
{
	snprintf(a->netns_label, sizeof(a->netns_label), "all (%u)", a->nwatch);
}

static int watch_add(struct app *a, int ep, const struct netns_info *ni)
{
	struct watch *w = NULL;
	struct sysctl_result sr;
	char err[256], warn[192] = "";
	int slot = -1;

	for (int i = 1; i < WATCH_MAX && !w; i++) {
		if (!a->watch[i].used) {
			w = &a->watch[i];
			slot = i;
		}
	}
	if (!w)
		return -ENOSPC;
	if (netns_enter(ni->path) < 0)
		return -ENOENT;		/* gone since the listing */
	memset(w, 0, sizeof(*w));
	w->a = a;
	w->inode = ni->inode;
	w->ct = ct_open(on_ct, w, a->opts.rcvbuf, updates_wanted(a), err, sizeof(err));
	w->sysctl_slot = -1;
	if (w->ct) {
		/* counters and timestamps there too; a failure leaves them off (shown as -) */
		sysctl_setup(ni->inode, ni->path, !a->opts.no_sysctl, &sr, warn, sizeof(warn));
		w->sysctl_slot = sr.slot;
		table_open(&w->table);
	}
	if (setns(a->self_ns_fd, CLONE_NEWNET) < 0) {
		/* never go on reading the wrong namespace */
		fprintf(stderr, "flowtop: cannot return to the first netns: %s\n", strerror(errno));
		abort();
	}
	if (!w->ct) {
		sysctl_release(w->sysctl_slot);
		return -EIO;
	}
	watch_name(ni, w->name, sizeof(w->name));
	w->used = true;
	w->first = true;
	w->seen = a->scan_gen;
	epoll_add(ep, ct_event_fd(w->ct), TAG_OF(TAG_EVENTS, slot));
	epoll_add(ep, ct_dump_fd(w->ct), TAG_OF(TAG_DUMP, slot));
	a->nwatch++;
	return 0;
}

static void watch_del(struct app *a, int ep, struct watch *w)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, ct_event_fd(w->ct), NULL);
	epoll_ctl(ep, EPOLL_CTL_DEL, ct_dump_fd(w->ct), NULL);
	ct_close(w->ct);
	sysctl_release(w->sysctl_slot);
	table_close(&w->table);
	model_netns_gone(&a->model, w->inode);
	memset(w, 0, sizeof(*w));
	a->nwatch--;
}

/*
 * New namespaces are watched from now on (what their first dump finds is
 * older than flowtop); those that are gone (no process, no /run/netns
 * name) are closed: holding their sockets would keep them alive.
 */
static void watch_scan(struct app *a, int ep)
{
	size_t n;
	const struct netns_info *list = netns_found(&n);

	a->scan_gen++;
	a->watch[0].seen = a->scan_gen;
	for (size_t i = 0; i < n; i++) {
		bool known = false;

		for (unsigned int j = 0; j < WATCH_MAX && !known; j++) {
			if (a->watch[j].used && a->watch[j].inode == list[i].inode) {
				a->watch[j].seen = a->scan_gen;
				known = true;
			}
		}
		if (!known && watch_add(a, ep, &list[i]) == -ENOSPC &&
		    !strstr(a->warning, "namespaces"))
			snprintf(a->warning, sizeof(a->warning),
				 "watching the first %d network namespaces only", WATCH_MAX);
	}
	for (unsigned int j = 1; j < WATCH_MAX; j++) {
		struct watch *w = &a->watch[j];

		/* a namespace in the middle of a dump goes at the next scan */
		if (w->used && w->seen != a->scan_gen && !w->dumping)
			watch_del(a, ep, w);
	}
	watch_label(a);
}

/* Output after a completed dump; returns true when flowtop should stop. */
static bool after_dump(struct app *a, unsigned long dumps)
{
	static unsigned long shown;

	switch (a->opts.out) {
	case OUT_BATCH:
		model_view_build(&a->model, &a->view);
		batch_snapshot(stdout, a, ++shown);
		fflush(stdout);
		return a->opts.iterations && (long)shown >= a->opts.iterations;
	case OUT_JSON_ONCE:
		/* The first dump has no rates yet: snapshots start with the second. */
		if (dumps < 2)
			return false;
		model_view_build(&a->model, &a->view);
		for (size_t i = 0; i < a->model.nrows; i++)
			if (!(a->model.rows[i]->flags & FLOW_F_GONE))
				json_flow(stdout, a, "flow", a->model.rows[i]);
		json_destinations(stdout, a, DEST_BY_COUNTRY);
		json_destinations(stdout, a, DEST_BY_ASN);
		json_summary(stdout, a);
		fflush(stdout);
		shown++;
		return a->opts.iterations && (long)shown >= a->opts.iterations;
	case OUT_JSON_EVENTS:
		fflush(stdout);
		return false;
	case OUT_UI:
	default:
		if (!strcmp(a->mode, "ebpf")) {
			struct attr_ebpf_stats st;

			attr_ebpf_stats(&st);
			a->attr_lost = st.lost;
		}
		model_view_build(&a->model, &a->view);
		ui_draw(a);
		return false;
	}
}

static int run_loop(struct app *a)
{
	int ep = -1, epu = -1, tfd = -1, sfd = -1, stopfd = -1, ret = 0;
	unsigned long dumps = 0;
	__u64 last_scan, t_wake;
	bool key, stream, pace = false, follow_netns;
	sigset_t mask;

	/* blocked since start-up (block_signals), so none was lost while we loaded */
	loop_signals(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	epu = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || ep < 0 || epu < 0 || tfd < 0 || set_timer(tfd, a->opts.interval) < 0 ||
	    epoll_add(ep, epu, TAG_URGENT) < 0) {
		die_line("cannot set up the event loop: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	epoll_add(ep, ct_event_fd(a->ct), TAG_OF(TAG_EVENTS, 0));
	epoll_add(ep, ct_dump_fd(a->ct), TAG_OF(TAG_DUMP, 0));
	epoll_add(epu, tfd, TAG_TIMER);
	epoll_add(epu, sfd, TAG_SIGNAL);
	if (a->opts.out == OUT_UI)
		epoll_add(epu, STDIN_FILENO, TAG_STDIN);
	if (a->model.attr && a->model.attr->fd && a->model.attr->fd(a->model.attr) >= 0)
		epoll_add(ep, a->model.attr->fd(a->model.attr), TAG_ATTR);
	if (rdns_fd() >= 0)
		epoll_add(ep, rdns_fd(), TAG_RDNS);
	if (dnscap_fd() >= 0)
		epoll_add(ep, dnscap_fd(), TAG_DNSCAP);
	if (a->opts.duration_ms > 0) {
		stopfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (stopfd >= 0) {
			struct itimerspec its = { 0 };

			its.it_value.tv_sec = a->opts.duration_ms / 1000;
			its.it_value.tv_nsec = (a->opts.duration_ms % 1000) * 1000000L;
			timerfd_settime(stopfd, 0, &its, NULL);
			epoll_add(epu, stopfd, TAG_STOP);
		}
	}
	/* one list of the machine's namespaces for --all-netns and the eBPF netns hook;
	 * the hook's set-up has just made one */
	follow_netns = a->opts.all_netns ||
		       (!strcmp(a->mode, "ebpf") &&
			attr_ebpf_probed()->rung[HOOK_NETNS] == RUNG_NETFILTER);
	if (a->opts.all_netns) {
		netns_refresh(NETNS_SCAN_S * 1000000000ULL);
		watch_scan(a, ep);
	}
	last_scan = model_clock();
	if (start_dump(a) < 0) {
		die_line("cannot dump the conntrack table: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	if (a->opts.out == OUT_UI) {
		model_view_build(&a->model, &a->view);
		ui_draw(a);
	}

	while (!a->quit) {
		struct epoll_event evs[EVS_MAX];
		int n;

		if (pace) {
			/* events gather; a key, signal or timer ends the pause */
			pace = false;
			n = epoll_wait(epu, evs, EVS_MAX, PACE_MS);
			if (n == 0)
				n = wait_ready(ep, epu, evs, 0);
		} else {
			n = wait_ready(ep, epu, evs, -1);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_line("event loop failed: %s", strerror(errno));
			ret = 1;
			break;
		}
		t_wake = model_clock();
		key = false;
		stream = false;
		for (int i = 0; i < n && !a->quit; i++) {
			unsigned int slot = evs[i].data.u32 >> 8;
			struct watch *w = &a->watch[slot < WATCH_MAX ? slot : 0];

			switch (evs[i].data.u32 & 0xff) {
			case TAG_EVENTS: {
				int r;

				if (!w->used)
					break;
				stream = true;
				/* answers first: a flow's name is the one asked before it began */
				dnscap_poll();
				r = ct_events_read(w->ct, EV_BUDGET);
				if (r < 0 && r != -EAGAIN)
					snprintf(a->warning, sizeof(a->warning),
						 "conntrack events: %s", strerror(-r));
				if (ct_events_overran(w->ct)) {
					/* Lost events: the only truth left is a fresh dump. */
					a->model.resyncs++;
					a->model.overruns++;
					if (round_running(a))
						a->resync_next = true;	/* this dump may predate the loss */
					else
						start_dump(a);
					a->model.resync_pending = true;
				}
				model_flush(&a->model);
				break;
			}
			case TAG_DUMP: {
				int r;
				bool last;

				if (!w->used || !w->dumping)
					break;
				/* records first: the flows this step finds have theirs waiting */
				if (a->model.attr && a->model.attr->on_readable)
					a->model.attr->on_readable(a->model.attr);
				r = ct_dump_step(w->ct, DUMP_BUDGET);
				if (r == 0)
					break;
				if (r < 0)
					snprintf(a->warning, sizeof(a->warning),
						 "conntrack dump failed: %s", strerror(-r));
				w->dumping = false;
				last = !round_running(a);
				model_dump_end_ns(&a->model, w->inode, last);
				w->first = false;
				if (!last)
					break;	/* the round ends with its last namespace */
				model_flush(&a->model);
				/* Expire here, right before the rows are rebuilt: the view never
				 * holds a flow that was removed. */
				model_expire(&a->model);
				check_table_full(a);
				dumps++;
				if (a->tracking != TRACKING_ABSENT)
					a->tracking = ft_count(a->model.ft) ? TRACKING_ACTIVE :
					   a->tracking == TRACKING_ACTIVE ? TRACKING_ACTIVE :
									  TRACKING_INACTIVE;
				if (a->resync_next) {
					a->resync_next = false;
					start_dump(a);
					a->model.resync_pending = true;
				}
				if (after_dump(a, dumps))
					a->quit = true;
				break;
			}
			case TAG_TIMER: {
				__u64 exp;

				if (read(tfd, &exp, sizeof(exp)) < 0) {
					/* spurious wake-up */
				}
				/* (a tick a little early is on time) */
				if (follow_netns && !round_running(a) &&
				    model_clock() + 50000000ULL - last_scan >=
					    NETNS_SCAN_S * 1000000000ULL) {
					netns_refresh(0);
					if (a->opts.all_netns)
						watch_scan(a, ep);
					last_scan = model_clock();
				}
				if (dump_due(a)) {
					start_dump(a);
				} else if (a->opts.out == OUT_UI) {
					/* between stretched dumps: ages, new and closed flows (events) */
					model_flush(&a->model);
					model_expire(&a->model);
					after_dump(a, dumps);
				}
				break;
			}
			case TAG_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGWINCH) {
						if (a->opts.out == OUT_UI) {
							ui_resize(a);
							ui_draw(a);
						}
					} else {
						a->quit = true;
					}
				}
				break;
			}
			case TAG_STDIN:
				key = true;
				ui_input(a);
				if (!a->quit && ui_view_dirty()) {
					model_view_build(&a->model, &a->view);
					ui_draw(a);
				} else if (!a->quit) {
					ui_draw(a);
				}
				break;
			case TAG_ATTR:
				stream = true;
				dnscap_poll();
				a->model.attr->on_readable(a->model.attr);
				break;
			case TAG_RDNS:
				rdns_process();
				break;
			case TAG_DNSCAP:
				stream = true;
				dnscap_poll();
				break;
			case TAG_STOP:
				a->quit = true;
				break;
			}
		}
		/* a key or event waits at most for the turn in progress: its length is the
		 * responsiveness (--json summary, the UI's L overlay) */
		{
			__u64 us = (model_clock() - t_wake) / 1000;

			lat_add(&a->loop_lat, us);
			if (key)
				lat_add(&a->key_lat, us);
		}
		/* a dump round goes on at full speed: its steps are budgeted already */
		pace = stream && !key && !round_running(a);
		if (ferror(stdout) && a->opts.out != OUT_UI) {
			/* stdout went away (closed pipe): nothing more to say to anyone */
			ret = 1;
			break;
		}
	}
out:
	if (stopfd >= 0)
		close(stopfd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	if (ep >= 0)
		close(ep);
	if (epu >= 0)
		close(epu);
	return ret;
}

static int probe_report(const struct app *a)
{
	struct attr_probe pr;
	int r = attr_ebpf_probe(&pr, a->opts.rung_limit);

	printf("flowtop %s attribution probe (kernel decides by loading real programs)\n",
	       FLOWTOP_VERSION);
	if (r < 0) {
		printf("ebpf: not usable: %s\n", pr.why);
		if (r != -EPERM && r != -ENOTSUP)
			attr_ebpf_probe_print(stdout, &pr);
		else if (pr.rung[HOOK_FLOW] == RUNG_NONE && pr.refused[HOOK_FLOW][RUNG_NETFILTER][0])
			attr_ebpf_probe_print(stdout, &pr);
		printf("mode: conntrack (attribution by sock_diag + /proc, attr=\"sockdiag\")\n");
		return 0;
	}
	printf("ebpf: per hook, the rung chosen and why each better rung was refused:\n");
	attr_ebpf_probe_print(stdout, &pr);
	printf("mode: ebpf (attr=\"ebpf\"; flows older than flowtop: sock_diag)\n");
	return 0;
}

/* --user NAME|UID: its uid and primary gid. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);
	char *end;

	if (!pw) {
		unsigned long u = strtoul(name, &end, 10);

		if (*end || end == name)
			return -ENOENT;
		pw = getpwuid((uid_t)u);
		*uid = (uid_t)u;
		*gid = pw ? pw->pw_gid : (gid_t)u;
		return 0;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/*
 * Set up is done (BPF attached, sockets open, sysctls set): keep only what
 * running needs. Conntrack dumps and events and putting sysctls back need
 * CAP_NET_ADMIN; naming the processes of other users' sockets and their
 * cgroups, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; reading the eBPF
 * counters, CAP_BPF; entering namespaces found later (the eBPF netns hook,
 * --all-netns), CAP_SYS_ADMIN with CAP_BPF and CAP_NET_ADMIN.
 */
static int restrict_privileges(struct app *a, uid_t uid, gid_t gid)
{
	uint64_t keep = CAP_BIT(CAP_NET_ADMIN) | CAP_BIT(CAP_SYS_PTRACE) |
			CAP_BIT(CAP_DAC_READ_SEARCH);
	bool ebpf = !strcmp(a->mode, "ebpf");
	char err[192];

	if (ebpf)
		keep |= CAP_BIT(CAP_BPF);
	if (a->opts.all_netns ||
	    (ebpf && attr_ebpf_probed()->rung[HOOK_NETNS] == RUNG_NETFILTER))
		keep |= CAP_BIT(CAP_SYS_ADMIN) | CAP_BIT(CAP_BPF);
	if (caps_restrict(keep, uid, gid, err, sizeof(err)) < 0) {
		if (a->opts.user) {
			die_line("--user: %s", err);
			return -1;
		}
		/* without CAP_SETPCAP (not root): run with what we were given */
	}
	return 0;
}

/* Pick the attribution backend: eBPF when allowed and possible, else sock_diag. */
static int choose_backend(struct app *a)
{
	char why[256] = "";
	struct attr_backend *b;

	if (a->opts.mode != RUN_CONNTRACK) {
		attr_ebpf_configure(a->opts.ring_bytes, a->opts.rung_limit);
		b = attr_ebpf_backend();
		if (b->init(b, &a->model, why, sizeof(why)) == 0) {
			const struct attr_probe *pr = attr_ebpf_probed();
			size_t o = 0;

			a->model.attr = b;
			a->mode = "ebpf";
			snprintf(a->attr_name, sizeof(a->attr_name), "ebpf");
			for (int h = 0; h < HOOK_MAX; h++)
				o += (size_t)snprintf(a->probes + o, sizeof(a->probes) - o, "%s%s:%s",
						      h ? " " : "", attr_hook_name(h),
						      attr_rung_name(pr->rung[h]));
			snprintf(a->mode_why, sizeof(a->mode_why), "%s", a->probes);
			return 0;
		}
		if (a->opts.mode == RUN_EBPF) {
			fprintf(stderr, "flowtop: --mode=ebpf: eBPF attribution is not possible here: %s\n",
				why);
			return -1;
		}
		snprintf(a->mode_why, sizeof(a->mode_why), "ebpf: %s", why);
	} else {
		snprintf(a->mode_why, sizeof(a->mode_why), "forced by --mode=conntrack");
	}
	a->mode = "conntrack";
	b = attr_sockdiag_backend();
	if (b && b->init(b, &a->model, why, sizeof(why)) == 0) {
		a->model.attr = b;
		snprintf(a->attr_name, sizeof(a->attr_name), "%s", b->name);
	} else {
		snprintf(a->warning, sizeof(a->warning), "no process attribution: %s", why);
		if (a->opts.out != OUT_UI)
			fprintf(stderr, "flowtop: warning: %s\n", a->warning);
	}
	return 0;
}

/*
 * Names: the ones applications ask for (a BPF program reads the DNS answers they get; with
 * the eBPF mode only: --mode=conntrack loads no BPF) and reverse DNS. -n: neither.
 */
static void setup_names(struct app *a)
{
	char why[192] = "", rc[PATH_MAX];
	struct rdns_conf conf = { 0 };

	a->names_why[0] = 0;
	if (a->opts.no_dns) {
		snprintf(a->names_why, sizeof(a->names_why), "off (-n)");
		return;
	}
	if (!strcmp(a->mode, "ebpf")) {
		if (dnscap_open(why, sizeof(why)) < 0)
			snprintf(a->names_why, sizeof(a->names_why), "DNS answers not seen: %s", why);
	} else {
		snprintf(a->names_why, sizeof(a->names_why), "DNS answers need the eBPF mode");
	}
	/* --netns NAME: resolve as "ip netns exec NAME" would, with its own resolv.conf */
	if (a->opts.netns && !strchr(a->opts.netns, '/')) {
		snprintf(rc, sizeof(rc), "/etc/netns/%s/resolv.conf", a->opts.netns);
		if (access(rc, R_OK) == 0)
			conf.resolv_conf = rc;
	}
	if (rdns_init(&conf, why, sizeof(why)) < 0) {
		snprintf(a->warning, sizeof(a->warning), "no reverse DNS: %s", why);
		if (a->opts.out != OUT_UI)
			fprintf(stderr, "flowtop: warning: %s\n", a->warning);
	}
	model_name_match = names_match;
}

int main(int argc, char **argv)
{
	char err[256] = "", nspath[PATH_MAX] = "", local_conf[PATH_MAX];
	uid_t run_uid = (uid_t)-1;
	gid_t run_gid = (gid_t)-1;
	const char *dirs[4];
	struct sysctl_result sr;
	int ret = 0, r;

	setlocale(LC_ALL, "");
	r = opts_parse(argc, argv, &app.opts, err, sizeof(err));
	if (r > 0)
		return 0;
	if (r < 0) {
		die_line("%s", err);
		return 2;
	}
	app.view.show = app.opts.show;
	app.view.sort = app.opts.sort;
	app.view.reverse = app.opts.reverse;
	snprintf(app.view.filter, sizeof(app.view.filter), "%s", app.opts.filter);
	snprintf(app.view.container, sizeof(app.view.container), "%s", app.opts.container);
	app.mode = "conntrack";

	if (!have_cap(CAP_NET_ADMIN)) {
		die_line("%s", "needs CAP_NET_ADMIN to read the conntrack table and change "
			       "nf_conntrack_acct (run it as root, e.g. with sudo)");
		return 1;
	}
	if (app.opts.out == OUT_UI && !app.opts.probe &&
	    (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		die_line("%s", "the interactive view needs a terminal; use --batch or --json "
			       "for output to a pipe or file");
		return 2;
	}
	if (app.opts.user && lookup_user(app.opts.user, &run_uid, &run_gid) < 0) {
		die_line("--user: no such user '%s'", app.opts.user);
		return 2;
	}
	install_crash_handlers();
	raise_fd_limit();
	block_signals();
	sysctl_recover();

	if (app.opts.netns) {
		r = enter_netns(app.opts.netns, nspath, sizeof(nspath));
		if (r < 0) {
			fprintf(stderr, "flowtop: cannot enter network namespace '%s' (%s): %s%s\n",
				app.opts.netns, nspath, strerror(-r),
				r == -EPERM ? " (entering a namespace needs CAP_SYS_ADMIN)" : "");
			return 1;
		}
		snprintf(app.netns_label, sizeof(app.netns_label), "%s", app.opts.netns);
	} else {
		snprintf(app.netns_label, sizeof(app.netns_label), "host");
	}
	app.self_ns_fd = -1;
	if (app.opts.all_netns) {
		app.self_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (app.self_ns_fd < 0) {
			die_line("--all-netns: cannot open this network namespace: %s",
				 strerror(errno));
			return 1;
		}
	}

	if (app.opts.probe)
		return probe_report(&app);

	if (!conntrack_present()) {
		app.tracking = TRACKING_ABSENT;
		snprintf(app.warning, sizeof(app.warning),
			 "this kernel has no connection tracking (nf_conntrack not available)");
		if (app.opts.out != OUT_UI)
			fprintf(stderr, "flowtop: warning: %s\n", app.warning);
	} else {
		r = sysctl_setup(netns_inode(), app.opts.netns ? nspath : "", !app.opts.no_sysctl,
				 &sr, app.warning, sizeof(app.warning));
		app.watch[0].sysctl_slot = sr.slot;
		app.acct_on = sr.acct_on;
		app.tstamp_on = sr.tstamp_on;
		if (r < 0 && app.opts.out != OUT_UI)
			fprintf(stderr, "flowtop: warning: %s\n", app.warning);
		atexit(sysctl_restore);
	}

	/* container runtimes' state files, under another root for tests */
	container_name_root(getenv("FLOWTOP_STATE_ROOT"));
	/* opened here, in the watched netns: the socket stays bound to it */
	table_open(&app.watch[0].table);
	conf_dirs(dirs, local_conf, sizeof(local_conf));
	services_load(dirs, services_warn);
	if (!app.opts.no_geoip)
		open_geoip(&app, dirs);

	if (model_init(&app.model, netns_inode()) < 0) {
		die_line("%s", "out of memory");
		ret = 1;
		goto out;
	}
	app.model.on_event = on_event;
	app.model.event_ctx = &app;
	app.model.many_netns = app.opts.all_netns;
	if (app.opts.out == OUT_JSON_EVENTS)
		app.model.linger_ns = 2000000000ULL;
	app.start_mono_ns = model_clock();

	if (choose_backend(&app) < 0) {
		ret = 1;
		goto out;
	}

	/* found (or mounted, see cgroup.c) now, while flowtop may still mount */
	cgroup_root();
	setup_names(&app);

	/* Only the event stream reports updates; the views refresh states by dumps. */
	app.watch[0].a = &app;
	app.watch[0].inode = netns_inode();
	app.watch[0].first = true;
	snprintf(app.watch[0].name, sizeof(app.watch[0].name), "%s", app.netns_label);
	app.ct = ct_open(on_ct, &app.watch[0], app.opts.rcvbuf, updates_wanted(&app), err,
			 sizeof(err));
	app.watch[0].ct = app.ct;
	app.watch[0].used = app.ct != NULL;
	app.nwatch = 1;
	if (!app.ct) {
		die_line("%s", err);
		ret = 1;
		goto out;
	}

	if (app.opts.out == OUT_UI) {
		if (tcgetattr(STDIN_FILENO, &saved_tty) == 0)
			tty_saved = true;
		if (ui_init(&app, err, sizeof(err)) < 0) {
			die_line("%s", err);
			ret = 1;
			goto out;
		}
		ui_active = 1;
	}
	if (restrict_privileges(&app, run_uid, run_gid) < 0) {
		ret = 1;
		goto out;
	}
	ret = run_loop(&app);
	if (app.opts.out == OUT_JSON_EVENTS) {
		model_flush(&app.model);
		json_summary(stdout, &app);
	}
out:
	if (ui_active) {
		ui_fini();
		ui_active = 0;
	}
	if (app.model.attr && app.model.attr->done)
		app.model.attr->done(app.model.attr);
	for (int i = 0; i < WATCH_MAX; i++)
		if (app.watch[i].used)
			ct_close(app.watch[i].ct);
	if (app.self_ns_fd >= 0)
		close(app.self_ns_fd);
	model_fini(&app.model);
	rdns_close();
	dnscap_close();
	asked_reset();
	services_free();
	geoip_close();
	cgroup_free();
	sysctl_restore();
	if (fflush(stdout) != 0 && ret == 0 && app.opts.out != OUT_UI)
		ret = 1;
	return ret;
}
