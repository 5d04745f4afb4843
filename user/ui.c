/*
 * ui.c - the ncurses view: header, Flows, Processes and Containers tables, help, filter
 * prompt and keys.
 */
#include <langinfo.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* get_wch and friends: the Makefile's fallback flags (no pkg-config) do not ask for them. */
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <ncurses.h>

#include "dest.h"
#include "geoip.h"
#include "names.h"
#include "fmt.h"
#include "services.h"
#include "ui.h"

#define MIN_COLS 20
#define MIN_LINES 5
#define HDR_LINES 3		/* two header lines and the column titles */
#define NEW_NS 3000000000ULL	/* a flow counts as new for its first 3 s */
#define HSTEP 8			/* columns per h/l */
#define SNAP_MAX 16384		/* rows kept while paused: 4 MB of flows at most */
#define NEAR 64			/* where to look for the selected flow before a full scan */
#define CELL 112		/* widest cell: "v6=>[v6]:port" plus marker */
#define FKEY 0x200000		/* function keys, above every Unicode code point */
#define FLEX_CAP 39		/* an IPv6 address */
#define WHY_NS 10000000000ULL	/* how long the status line explains the mode at start */
#define CONT_COL_WIDTH 120	/* Flows tab: the CONTAINER column from this many columns on */
#define GEO_COL_WIDTH 110	/* ... and WHERE (GeoIP), when a database is open */

enum tab { TAB_FLOWS, TAB_PROCS, TAB_CONTS, TAB_DESTS, TAB_N };

enum fcol {
	F_MARK, F_PID, F_PROG, F_CONT, F_NETNS, F_PROTO, F_STATE, F_AGE, F_ADDR, F_PORT, F_GEO,
	F_BYTES, F_RATE, F_N
};
enum pcol { P_PID, P_PROG, P_FLOWS, P_SENT, P_RECV, P_TX, P_RX, P_N };
enum ccol { C_NAME, C_FLOWS, C_SENT, C_RECV, C_TX, C_RX, C_DEST, C_N };
enum dcol { D_KEY, D_NAME, D_FLOWS, D_SENT, D_RECV, D_TX, D_RX, D_TOP, D_N };

#define MAX_COLS F_N

enum cpair { CP_NEW = 1, CP_GONE, CP_WARN, CP_BAD };

struct col {
	const char *title;
	short min, pref;
	short grow;		/* order in which spare width is handed out, 0 = never */
	short prio;		/* lowest goes first when the screen is narrow */
	bool right;		/* numbers are right-aligned */
	bool flex;		/* takes whatever width is left */
	bool nosep;		/* no blank before a right-aligned neighbour */
	bool hide;		/* left out whatever the width (set before each layout) */
	bool mid;		/* long ASCII text loses its middle, not its end (names) */
	/* layout result */
	bool on;
	int x, w;
};

/* Text of one screen line of a table, formatted before layout so widths can be measured. */
struct line_cells {
	char c[MAX_COLS][CELL];
	char port_num[8];	/* shown instead of a service name that does not fit */
	attr_t attr;
	bool sel;
	bool src;		/* second (source) line of a flow */
};

static struct {
	bool active;		/* in curses mode */
	bool dirty;		/* view options changed: the model must rebuild rows */
	bool utf8;
	bool colors;
	enum tab tab;
	bool help;
	bool prompt;
	char pbuf[sizeof(((struct view_opts *)0)->filter)];
	size_t plen;
	bool active_only;
	bool numeric;		/* 'n': addresses, not names */
	int hoff;
	bool more;		/* the table goes on to the right of the screen */
	size_t cur[TAB_N], top[TAB_N];
	bool follow[TAB_N];	/* the user picked a row: keep the cursor on it */
	__u32 sel_id;
	__u32 sel_pid;
	char sel_cont[CONTAINER_LABEL_LEN];

	/* rows with a non-zero rate ('a'), rebuilt at each refresh */
	struct flow **act;
	size_t nact, act_cap;
	struct proc_agg **pact;
	size_t npact, pact_cap;
	struct cont_agg **cact;
	size_t ncact, cact_cap;
	__u64 built_at;		/* model.now_ns when the lists above were made */

	/* frozen copy while paused */
	bool paused, pause_req;
	bool latency;		/* L: the event loop's latency on the status line */
	/* Destinations tab: made from the shown flows when it is drawn */
	struct dest_table dests;
	enum dest_by dest_by;
	struct {		/* what ui.dests was made from: made again only when it changes */
		__u64 built_at;
		enum dest_by by;
		bool paused, active_only, valid;
	} dests_of;
	struct flow **drows;
	size_t drows_cap;
	struct flow *snap;
	size_t nsnap, snap_cap, snap_total;
	struct proc_agg *psnap;
	size_t npsnap, psnap_cap;
	struct cont_agg *csnap;
	size_t ncsnap, csnap_cap;
	__u64 snap_now;

	struct line_cells *lines;
	size_t lines_cap;
} ui;

#define COL(t, mn, pf, gr, pr, rt, fx, ns) \
	{ .title = t, .min = mn, .pref = pf, .grow = gr, .prio = pr, .right = rt, .flex = fx, \
	  .nosep = ns }

static struct col fcols[F_N] = {
	[F_MARK] = COL("", 1, 1, 0, 100, false, false, true),
	[F_PID] = COL("PID", 7, 7, 0, 1, true, false, false),
	[F_PROG] = COL("PROG", 7, 15, 2, 8, false, false, false),
	/* "docker:0123456789ab"; first to go, and only shown on wide screens anyway */
	[F_CONT] = COL("CONTAINER", 10, 19, 4, 0, false, false, false),
	/* --all-netns: which namespace's table the flow is in */
	[F_NETNS] = COL("NETNS", 10, 16, 2, 4, false, false, false),
	[F_PROTO] = COL("PROTO", 5, 5, 0, 6, false, false, false),
	[F_STATE] = COL("STATE", 7, 11, 1, 3, false, false, false),
	[F_AGE] = COL("AGE", 6, 6, 0, 2, true, false, false),
	[F_ADDR] = COL("ADDRESS", 15, 15, 0, 99, false, true, false),
	[F_PORT] = COL("PORT", 6, 8, 3, 7, false, false, false),
	/* the remote end's country and city (GeoIP); wide screens with a database only */
	[F_GEO] = COL("WHERE", 8, 20, 3, 1, false, false, false),
	[F_BYTES] = COL("BYTES", 9, 9, 0, 4, true, false, false),
	[F_RATE] = COL("RATE", 9, 9, 0, 5, true, false, false),
};

static struct col pcols[P_N] = {
	[P_PID] = COL("PID", 7, 7, 0, 6, true, false, false),
	[P_PROG] = COL("PROG", 8, 16, 0, 99, false, true, false),
	[P_FLOWS] = COL("FLOWS", 5, 6, 1, 9, true, false, false),
	[P_SENT] = COL("SENT", 7, 8, 2, 5, true, false, false),
	[P_RECV] = COL("RECV", 7, 8, 2, 4, true, false, false),
	[P_TX] = COL("TX RATE", 8, 10, 3, 8, true, false, false),
	[P_RX] = COL("RX RATE", 8, 10, 3, 7, true, false, false),
};

static struct col dcols[D_N] = {
	[D_KEY] = COL("WHERE", 10, 11, 0, 99, false, false, false),
	[D_NAME] = COL("NAME", 8, 28, 0, 50, false, true, false),
	[D_FLOWS] = COL("FLOWS", 5, 6, 1, 9, true, false, false),
	[D_SENT] = COL("SENT", 7, 8, 2, 5, true, false, false),
	[D_RECV] = COL("RECV", 7, 8, 2, 4, true, false, false),
	[D_TX] = COL("TX RATE", 8, 10, 3, 8, true, false, false),
	[D_RX] = COL("RX RATE", 8, 10, 3, 7, true, false, false),
	[D_TOP] = COL("TOP PROCESS", 11, 16, 4, 3, false, false, false),
};

static struct col ccols[C_N] = {
	[C_NAME] = COL("CONTAINER", 10, 19, 0, 99, false, true, false),
	[C_FLOWS] = COL("FLOWS", 5, 6, 1, 9, true, false, false),
	[C_SENT] = COL("SENT", 7, 8, 2, 5, true, false, false),
	[C_RECV] = COL("RECV", 7, 8, 2, 4, true, false, false),
	[C_TX] = COL("TX RATE", 8, 10, 3, 8, true, false, false),
	[C_RX] = COL("RX RATE", 8, 10, 3, 7, true, false, false),
	/* "255.255.255.255:65535"; an IPv6 one is cut at the screen's edge */
	[C_DEST] = COL("TOP DESTINATION", 15, 21, 4, 3, false, false, false),
};

/* ---- data access: live rows, rows with a rate, or the frozen copy ---- */

static size_t nflows(const struct app *a)
{
	if (ui.paused)
		return ui.nsnap;
	return ui.active_only ? ui.nact : a->model.nrows;
}

static const struct flow *flow_at(const struct app *a, size_t i)
{
	if (ui.paused)
		return &ui.snap[i];
	return ui.active_only ? ui.act[i] : a->model.rows[i];
}

static size_t nprocs(const struct app *a)
{
	if (ui.paused)
		return ui.npsnap;
	return ui.active_only ? ui.npact : a->model.nprocs;
}

static const struct proc_agg *proc_at(const struct app *a, size_t i)
{
	if (ui.paused)
		return &ui.psnap[i];
	return ui.active_only ? ui.pact[i] : &a->model.procs[i];
}

static size_t nconts(const struct app *a)
{
	if (ui.paused)
		return ui.ncsnap;
	return ui.active_only ? ui.ncact : a->model.nconts;
}

static const struct cont_agg *cont_at(const struct app *a, size_t i)
{
	if (ui.paused)
		return &ui.csnap[i];
	return ui.active_only ? ui.cact[i] : &a->model.conts[i];
}

static size_t tab_count(const struct app *a, enum tab t)
{
	return t == TAB_FLOWS ? nflows(a) : t == TAB_PROCS ? nprocs(a) :
	       t == TAB_CONTS ? nconts(a) : ui.dests.n;
}

static bool flow_active(const struct flow *f)
{
	return (f->flags & FLOW_F_RATE) && (f->rate_orig > 0 || f->rate_reply > 0);
}

static bool grow_array(void **p, size_t *cap, size_t need, size_t size)
{
	void *n;
	size_t c;

	if (need <= *cap)
		return true;
	c = need + need / 4 + 64;
	n = realloc(*p, c * size);
	if (!n)
		return false;
	*p = n;
	*cap = c;
	return true;
}

/* The 'a' filter lives here, not in the model: one pass per refresh, none per key. */
static void build_active(struct app *a)
{
	struct model *m = &a->model;

	ui.nact = 0;
	ui.npact = 0;
	ui.ncact = 0;
	if (!ui.active_only)
		return;
	if (!grow_array((void **)&ui.act, &ui.act_cap, m->nrows, sizeof(*ui.act)) ||
	    !grow_array((void **)&ui.pact, &ui.pact_cap, m->nprocs, sizeof(*ui.pact)) ||
	    !grow_array((void **)&ui.cact, &ui.cact_cap, m->nconts, sizeof(*ui.cact))) {
		ui.active_only = false;
		snprintf(a->warning, sizeof(a->warning), "out of memory: showing all flows");
		return;
	}
	for (size_t i = 0; i < m->nrows; i++)
		if (flow_active(m->rows[i]))
			ui.act[ui.nact++] = m->rows[i];
	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].rate_orig > 0 || m->procs[i].rate_reply > 0)
			ui.pact[ui.npact++] = &m->procs[i];
	for (size_t i = 0; i < m->nconts; i++)
		if (m->conts[i].rate_orig > 0 || m->conts[i].rate_reply > 0)
			ui.cact[ui.ncact++] = &m->conts[i];
}

/* Window of at most SNAP_MAX rows around the cursor; returns its first index. */
static size_t snap_window(size_t n, size_t cur)
{
	size_t base = cur > SNAP_MAX / 2 ? cur - SNAP_MAX / 2 : 0;

	if (n > SNAP_MAX && base > n - SNAP_MAX)
		base = n - SNAP_MAX;
	return n > SNAP_MAX ? base : 0;
}

static void shift_cursor(enum tab t, size_t base, size_t n)
{
	ui.cur[t] = ui.cur[t] >= base ? ui.cur[t] - base : 0;
	ui.top[t] = ui.top[t] >= base ? ui.top[t] - base : 0;
	if (n && ui.cur[t] >= n)
		ui.cur[t] = n - 1;
}

/*
 * Pausing copies what is on display: the flow table keeps changing under the
 * model's rows, and flows may be removed while the user reads.
 */
static void take_snapshot(struct app *a)
{
	size_t n, base, cnt;

	ui.pause_req = false;
	ui.paused = false;	/* read the live lists below */

	n = nflows(a);
	base = snap_window(n, ui.cur[TAB_FLOWS]);
	cnt = n - base > SNAP_MAX ? SNAP_MAX : n - base;
	if (!grow_array((void **)&ui.snap, &ui.snap_cap, cnt, sizeof(*ui.snap)))
		goto nomem;
	for (size_t i = 0; i < cnt; i++)
		ui.snap[i] = *flow_at(a, base + i);
	ui.nsnap = cnt;
	ui.snap_total = n;
	shift_cursor(TAB_FLOWS, base, cnt);

	n = nprocs(a);
	base = snap_window(n, ui.cur[TAB_PROCS]);
	cnt = n - base > SNAP_MAX ? SNAP_MAX : n - base;
	if (!grow_array((void **)&ui.psnap, &ui.psnap_cap, cnt, sizeof(*ui.psnap)))
		goto nomem;
	for (size_t i = 0; i < cnt; i++)
		ui.psnap[i] = *proc_at(a, base + i);
	ui.npsnap = cnt;
	shift_cursor(TAB_PROCS, base, cnt);

	n = nconts(a);
	base = snap_window(n, ui.cur[TAB_CONTS]);
	cnt = n - base > SNAP_MAX ? SNAP_MAX : n - base;
	if (!grow_array((void **)&ui.csnap, &ui.csnap_cap, cnt, sizeof(*ui.csnap)))
		goto nomem;
	for (size_t i = 0; i < cnt; i++)
		ui.csnap[i] = *cont_at(a, base + i);
	ui.ncsnap = cnt;
	shift_cursor(TAB_CONTS, base, cnt);

	ui.snap_now = a->model.now_ns;
	ui.paused = true;
	return;
nomem:
	snprintf(a->warning, sizeof(a->warning), "out of memory: cannot pause");
}

/* Keep the cursor on the flow (by conntrack id), process (by pid) or container it was on. */
static void follow_selection(struct app *a)
{
	size_t n = nflows(a), cur = ui.cur[TAB_FLOWS], found = (size_t)-1;

	if (n && ui.follow[TAB_FLOWS]) {
		for (size_t d = 0; d < NEAR && found == (size_t)-1; d++) {
			if (cur + d < n && flow_at(a, cur + d)->id == ui.sel_id)
				found = cur + d;
			else if (d <= cur && cur - d < n && flow_at(a, cur - d)->id == ui.sel_id)
				found = cur - d;
		}
		for (size_t i = 0; i < n && found == (size_t)-1; i++)
			if (flow_at(a, i)->id == ui.sel_id)
				found = i;
		if (found != (size_t)-1)
			ui.cur[TAB_FLOWS] = found;
	}
	if (ui.cur[TAB_FLOWS] >= n)
		ui.cur[TAB_FLOWS] = n ? n - 1 : 0;
	if (n)
		ui.sel_id = flow_at(a, ui.cur[TAB_FLOWS])->id;

	n = nprocs(a);
	cur = ui.cur[TAB_PROCS];
	found = (size_t)-1;
	if (n && ui.follow[TAB_PROCS]) {
		if (cur < n && proc_at(a, cur)->pid == ui.sel_pid)
			found = cur;
		for (size_t i = 0; i < n && found == (size_t)-1; i++)
			if (proc_at(a, i)->pid == ui.sel_pid)
				found = i;
		if (found != (size_t)-1)
			ui.cur[TAB_PROCS] = found;
	}
	if (ui.cur[TAB_PROCS] >= n)
		ui.cur[TAB_PROCS] = n ? n - 1 : 0;
	if (n)
		ui.sel_pid = proc_at(a, ui.cur[TAB_PROCS])->pid;

	n = nconts(a);
	cur = ui.cur[TAB_CONTS];
	found = (size_t)-1;
	if (n && ui.follow[TAB_CONTS]) {
		if (cur < n && !strcmp(cont_at(a, cur)->label, ui.sel_cont))
			found = cur;
		for (size_t i = 0; i < n && found == (size_t)-1; i++)
			if (!strcmp(cont_at(a, i)->label, ui.sel_cont))
				found = i;
		if (found != (size_t)-1)
			ui.cur[TAB_CONTS] = found;
	}
	if (ui.cur[TAB_CONTS] >= n)
		ui.cur[TAB_CONTS] = n ? n - 1 : 0;
	if (n)
		memcpy(ui.sel_cont, cont_at(a, ui.cur[TAB_CONTS])->label, sizeof(ui.sel_cont));
}

/* ---- text output: UTF-8 aware, clipped to the screen ---- */

/* Decode one character of s (n bytes left). Returns its length, sets its width. */
static size_t char_at(const char *s, size_t n, int *w)
{
	mbstate_t st;
	wchar_t wc;
	size_t k;

	if ((unsigned char)*s < 0x80) {
		*w = 1;
		return 1;
	}
	memset(&st, 0, sizeof(st));
	k = mbrtowc(&wc, s, n, &st);
	if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
		*w = -1;	/* not printable here: shown as '?' */
		return 1;
	}
	*w = wcwidth(wc);
	return k;
}

static int text_width(const char *s)
{
	size_t n = strlen(s);
	int w = 0, cw;

	while (n) {
		size_t k = char_at(s, n, &cw);

		w += cw < 0 ? 1 : cw;
		s += k;
		n -= k;
	}
	return w;
}

/* Print s at screen column x of line y, dropping what falls outside [0, COLS). */
static void put_clip(int y, int x, const char *s, attr_t attr)
{
	int cols = getmaxx(stdscr);
	size_t n = strlen(s);

	attrset(attr);
	while (n && x < cols) {
		int cw;
		size_t k = char_at(s, n, &cw);

		if (cw < 0) {
			if (x >= 0)
				mvaddch(y, x, '?');
			x++;
		} else {
			if (x >= 0 && x + cw <= cols && cw > 0)
				mvaddnstr(y, x, s, (int)k);
			x += cw;
		}
		s += k;
		n -= k;
	}
	attrset(A_NORMAL);
}

/* Copy at most w columns of s into dst; a cut string ends in a marker so it is not misread. */
static int fit_text(char *dst, size_t len, const char *s, int w)
{
	const char *mark = ui.utf8 ? "\xe2\x80\xa6" : "~";
	size_t n = strlen(s), o = 0;
	int used = 0, cw;

	if (w <= 0 || !len) {
		if (len)
			dst[0] = '\0';
		return 0;
	}
	if (text_width(s) <= w) {
		snprintf(dst, len, "%s", s);
		return text_width(dst);
	}
	while (n) {
		size_t k = char_at(s, n, &cw);

		if (cw < 0)
			cw = 1;
		if (used + cw > w - 1 || o + k + 4 >= len)
			break;
		memcpy(dst + o, s, k);
		o += k;
		used += cw;
		s += k;
		n -= k;
	}
	snprintf(dst + o, len - o, "%s", mark);
	return used + 1;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Draw one cell: clip to the column, align, shift by the horizontal scroll. */
static void put_cell(int y, const struct col *c, const char *s, attr_t attr)
{
	char buf[CELL + 8];
	int tw;
	size_t n = strlen(s);

	if (c->mid && c->w >= 9 && n > (size_t)c->w && n < sizeof(buf) && is_ascii(s)) {
		/* the end of a host name says most (its domain): keep both ends */
		int tail = c->w / 2, head = c->w - 1 - tail;

		snprintf(buf, sizeof(buf), "%.*s%s%s", head, s, ui.utf8 ? "\xe2\x80\xa6" : "~",
			 s + n - (size_t)tail);
		tw = c->w;
	} else {
		tw = fit_text(buf, sizeof(buf), s, c->w);
	}
	int x = c->x - ui.hoff;

	if (c->right && tw < c->w)
		x += c->w - tw;
	put_clip(y, x, buf, attr);
}

/* A header segment: print and advance, two blanks apart. */
static void seg(int y, int *x, const char *s, attr_t attr)
{
	put_clip(y, *x, s, attr);
	*x += text_width(s) + 2;
}

static attr_t cp(enum cpair p)
{
	return ui.colors ? COLOR_PAIR(p) : 0;
}

/* ---- layout ---- */

static bool sep_after(const struct col *c, int n, int i)
{
	int j;

	for (j = i + 1; j < n && !c[j].on; j++)
		;
	if (j >= n)
		return false;
	return !(c[i].nosep && c[j].right);
}

static int total_width(const struct col *c, int n)
{
	int t = 0;

	for (int i = 0; i < n; i++)
		if (c[i].on)
			t += c[i].w + (sep_after(c, n, i) ? 1 : 0);
	return t;
}

static void place(struct col *c, int n)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!c[i].on)
			continue;
		c[i].x = x;
		x += c[i].w + (sep_after(c, n, i) ? 1 : 0);
	}
}

/* All columns at their preferred widths, flex column as wide as its content. */
static int layout_full(struct col *c, int n, int need)
{
	for (int i = 0; i < n; i++) {
		c[i].on = !c[i].hide;
		c[i].w = c[i].pref;
		if (c[i].flex && need > c[i].w)
			c[i].w = need;
	}
	place(c, n);
	return total_width(c, n);
}

/*
 * Fit the screen: minimum widths, then drop the least useful columns until
 * the rest fits; spare width goes to columns in their grow order, the rest
 * to the flex column.
 */
static void layout_fit(struct col *c, int n, int width, int need, int sort_col)
{
	int total, spare, flex = -1;
	short maxgrow = 0;

	for (int i = 0; i < n; i++) {
		c[i].on = !c[i].hide;
		c[i].w = c[i].min;
		if (c[i].flex)
			flex = i;
		if (c[i].grow > maxgrow)
			maxgrow = c[i].grow;
	}
	while ((total = total_width(c, n)) > width) {
		int drop = -1;

		for (int i = 0; i < n; i++) {
			int p = c[i].prio + (i == sort_col ? 50 : 0);

			if (c[i].on && !c[i].flex &&
			    (drop < 0 || p < c[drop].prio + (drop == sort_col ? 50 : 0)))
				drop = i;
		}
		if (drop < 0)
			break;
		c[drop].on = false;
	}
	if (total > width) {
		if (flex >= 0)
			c[flex].w = width > 1 ? width : 1;
	} else {
		spare = width - total;
		for (short g = 1; g <= maxgrow && spare > 0; g++) {
			for (int i = 0; i < n && spare > 0; i++) {
				int add;

				if (!c[i].on || c[i].grow != g || c[i].w >= c[i].pref)
					continue;
				add = c[i].pref - c[i].w;
				if (add > spare)
					add = spare;
				c[i].w += add;
				spare -= add;
			}
		}
		/*
		 * Not wider than its content (or a full IPv6 address, so the columns
		 * do not jump about as rows change): a sea of blanks between an
		 * address and its port is harder to read than a ragged right edge.
		 */
		if (flex >= 0) {
			int cap = need > c[flex].pref ? need : c[flex].pref;

			if (cap < FLEX_CAP)
				cap = FLEX_CAP;
			c[flex].w += spare;
			if (c[flex].w > cap && c[flex].w > c[flex].min)
				c[flex].w = cap > c[flex].min ? cap : c[flex].min;
		}
	}
	place(c, n);
}

/*
 * The table is laid out to fit unless the user scrolled sideways: then every
 * column is shown at full width and the screen is a window onto it.
 * Returns true when columns are hidden to the right.
 */
static bool layout(struct col *c, int n, int width, int need, int sort_col)
{
	int full = layout_full(c, n, need);

	if (full <= width || ui.hoff == 0) {
		ui.hoff = 0;
		layout_fit(c, n, width, need, sort_col);
		/* narrower than the full table: something is cut or hidden */
		return full > width;
	}
	if (ui.hoff > full - width)
		ui.hoff = full - width;
	return ui.hoff < full - width;
}

static void draw_titles(int y, const struct col *c, int n, int sort_col)
{
	int cols = getmaxx(stdscr);

	attrset(A_REVERSE);
	mvhline(y, 0, ' ' | A_REVERSE, cols);
	for (int i = 0; i < n; i++)
		if (c[i].on)
			put_cell(y, &c[i], c[i].title, A_REVERSE | (i == sort_col ? A_BOLD : 0));
}

/* ---- flow cells ---- */

static bool is_icmp(__u8 proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

static bool addr_eq(__u8 family, const __u8 *x, const __u8 *y)
{
	return !memcmp(x, y, family == AF_INET6 ? 16 : 4);
}

/* 4 characters at most ("999", "9.9K", "999K"), so a pair fits in 9 columns. */
static void compact(char *dst, size_t len, double v)
{
	static const char pfx[] = "KMGTPE";
	int i = -1;

	if (v < 999.5) {
		snprintf(dst, len, "%.0f", v);
		return;
	}
	while (v >= 999.5 && i < 5) {
		v /= 1000.0;
		i++;
	}
	if (v < 9.95)
		snprintf(dst, len, "%.1f%c", v, pfx[i]);
	else
		snprintf(dst, len, "%.0f%c", v, pfx[i]);
}

static void pair(char *dst, size_t len, double x, double y)
{
	char a[16], b[16];

	compact(a, sizeof(a), x);
	compact(b, sizeof(b), y);
	snprintf(dst, len, "%s/%s", a, b);
}

/* "a=>b" when NAT changed the address (or port) on this side of the flow. */
static void addr_text(char *dst, size_t len, const struct flow *f, bool src)
{
	const struct flow_tuple *o = &f->orig, *r = &f->reply;
	const __u8 *before = src ? o->src : o->dst, *after = src ? r->dst : r->src;
	__u16 pb = src ? o->sport : o->dport, pa = src ? r->dport : r->sport;
	char x[FMT_ADDR_LEN + 256], y[FMT_ADDR_LEN];
	/* the model copies orig into reply until a reply tuple arrives */
	bool known = !flow_tuple_equal(o, r);
	bool addr_nat = known && !addr_eq(o->family, before, after);
	bool port_nat = known && proto_has_ports(o->proto) && pb != pa;

	fmt_addr(x, sizeof(x), o->family, before);
	if (!ui.numeric) {
		/* the name asked for as it is; a PTR name marked: the address's own claim */
		enum name_from from;
		const char *n = names_of(f, before, &from);

		if (n)
			snprintf(x, sizeof(x), "%s%s", from == NAME_PTR ? "~" : "", n);
	}
	if (!addr_nat && !port_nat) {
		/* One line per flow: still say that the hidden source side was translated. */
		bool snat = !src && known && (!addr_eq(o->family, o->src, r->dst) ||
					      (proto_has_ports(o->proto) && o->sport != r->dport));

		snprintf(dst, len, "%s%s", x, snat ? "*" : "");
		return;
	}
	fmt_addr(y, sizeof(y), r->family, after);
	if (!port_nat)
		snprintf(dst, len, "%s=>%s", x, y);
	else if (!addr_nat)
		snprintf(dst, len, "%s=>:%u", x, pa);
	else if (o->family == AF_INET6)
		snprintf(dst, len, "%s=>[%s]:%u", x, y, pa);
	else
		snprintf(dst, len, "%s=>%s:%u", x, y, pa);
}

static void proto_text(char *dst, size_t len, const struct flow *f)
{
	const char *name = proto_name(f->orig.proto);
	char num[8];
	char fam = f->orig.family == AF_INET6 ? '6' : '4';

	switch (f->orig.proto) {
	case IPPROTO_ICMP:
		snprintf(dst, len, "icmp");
		return;
	case IPPROTO_ICMPV6:
		snprintf(dst, len, "icmp6");
		return;
	case IPPROTO_UDPLITE:
		name = "udpl";
		break;
	}
	if (!name) {
		snprintf(num, sizeof(num), "%u", f->orig.proto);
		name = num;
	}
	snprintf(dst, len, "%s%c", name, fam);
}

static void port_text(char *dst, size_t len, char *num, size_t nlen, const struct flow *f)
{
	const char *svc;
	__u16 port = 0;

	num[0] = '\0';
	if (is_icmp(f->orig.proto)) {
		snprintf(dst, len, "%u/%u", f->orig.dport >> 8, f->orig.dport & 0xff);
		return;
	}
	if (!proto_has_ports(f->orig.proto)) {
		snprintf(dst, len, "-");
		return;
	}
	svc = flow_service(f, &port);
	snprintf(num, nlen, "%u", port ? port : f->orig.dport);
	if (svc)
		fmt_sanitize(dst, len, svc, strlen(svc));
	else
		snprintf(dst, len, "%s", num);
}

static void flow_cells(const struct app *a, const struct model *m, const struct flow *f,
		       struct line_cells *l, bool src)
{
	char (*c)[CELL] = l->c;
	const char *st;
	bool exact = false;
	double age;

	for (int i = 0; i < F_N; i++)
		c[i][0] = '\0';
	l->port_num[0] = '\0';
	if (src) {
		addr_text(c[F_ADDR], CELL, f, true);
		if (proto_has_ports(f->orig.proto))
			snprintf(c[F_PORT], CELL, "%u", f->orig.sport);
		else if (is_icmp(f->orig.proto))
			snprintf(c[F_PORT], CELL, "id %u", f->orig.sport);
		return;
	}
	if (f->flags & FLOW_F_GONE)
		snprintf(c[F_MARK], CELL, "x");
	else if (!(f->flags & FLOW_F_PREEXIST) && f->seen_ns + NEW_NS > m->now_ns)
		snprintf(c[F_MARK], CELL, "+");
	if (f->owner.pid)
		snprintf(c[F_PID], CELL, "%u", f->owner.pid);
	else
		snprintf(c[F_PID], CELL, "-");
	if (f->owner.comm[0])
		fmt_sanitize(c[F_PROG], CELL, f->owner.comm, FLOW_COMM_LEN);
	else
		snprintf(c[F_PROG], CELL, "-");
	if (!fcols[F_CONT].hide) {
		const char *cl = model_container(m, f->owner.cgroup_id);

		/* labels come from directory names: anyone may make one */
		if (cl[0])
			fmt_sanitize(c[F_CONT], CELL, cl, CONTAINER_LABEL_LEN);
		else
			snprintf(c[F_CONT], CELL, "-");
	}
	if (!fcols[F_NETNS].hide) {
		const char *nn = app_netns_name(a, f->netns);

		if (nn)
			fmt_sanitize(c[F_NETNS], CELL, nn, 48);
		else
			snprintf(c[F_NETNS], CELL, "%u", f->netns);
	}
	if (!fcols[F_GEO].hide) {
		struct geo_info g;
		__u8 fam;
		const __u8 *ra = flow_remote(f, &fam);

		if (geoip_lookup(fam, ra, &g) < 0 && g.scope == GEO_PUBLIC)
			snprintf(c[F_GEO], CELL, "-");
		else if (g.scope != GEO_PUBLIC)
			snprintf(c[F_GEO], CELL, "%s", geo_scope_name(g.scope));
		else	/* the strings are sanitized by geoip.c */
			snprintf(c[F_GEO], CELL, "%s%s%s", g.country[0] ? g.country : "-",
				 g.city[0] ? " " : "", g.city);
	}
	proto_text(c[F_PROTO], CELL, f);
	st = state_name(f->orig.proto, f->state);
	snprintf(c[F_STATE], CELL, "%s", st ? st : "-");
	age = flow_age(m, f, &exact);
	if (ui.paused && exact) {
		/* conntrack's start time is wall clock: stop it at the moment of the pause */
		double drift = (double)(model_clock() - ui.snap_now) / 1e9;

		age = age > drift ? age - drift : 0;
	}
	c[F_AGE][0] = exact ? '\0' : '~';
	fmt_duration(c[F_AGE] + !exact, CELL - 1, age);
	addr_text(c[F_ADDR], CELL, f, false);
	if (a->opts.show_src) {
		/* the source line says it all; the marker is for one-line mode */
		size_t k = strlen(c[F_ADDR]);

		if (k && c[F_ADDR][k - 1] == '*')
			c[F_ADDR][k - 1] = '\0';
	}
	port_text(c[F_PORT], CELL, l->port_num, sizeof(l->port_num), f);
	if (f->flags & FLOW_F_ACCT)
		pair(c[F_BYTES], CELL, (double)f->orig_bytes, (double)f->reply_bytes);
	else
		snprintf(c[F_BYTES], CELL, "-");
	if (f->flags & FLOW_F_RATE) {
		double k = a->opts.bits ? 8.0 : 1.0;

		pair(c[F_RATE], CELL, f->rate_orig * k, f->rate_reply * k);
	} else {
		snprintf(c[F_RATE], CELL, "-");
	}
	l->attr = A_NORMAL;
	if (f->flags & FLOW_F_GONE)
		l->attr = A_DIM | cp(CP_GONE);
	else if (c[F_MARK][0] == '+')
		l->attr = A_BOLD | cp(CP_NEW);
}

/* conntrack's state names are long; keep them recognisable in a narrow column. */
static const char *short_state(const char *s, int w, char *buf, size_t len)
{
	static const char *const abbr[][2] = {
		{ "ESTABLISHED", "ESTAB" }, { "TIME_WAIT", "TIMEWT" }, { "CLOSE_WAIT", "CLOSEWT" },
		{ "SYN_SENT2", "SYNSNT2" }, { "COOKIE_WAIT", "COOKIEWT" },
		{ "COOKIE_ECHOED", "COOKIEEC" }, { "SHUTDOWN_SENT", "SHUTSENT" },
		{ "SHUTDOWN_RECD", "SHUTRECD" }, { "SHUTDOWN_ACK_SENT", "SHUTACK" },
		{ "HEARTBEAT_SENT", "HBSENT" }, { "HEARTBEAT_ACKED", "HBACKED" },
	};
	size_t o = 0;

	if ((int)strlen(s) <= w)
		return s;
	for (size_t i = 0; i < sizeof(abbr) / sizeof(abbr[0]); i++)
		if (!strcmp(s, abbr[i][0]) && (int)strlen(abbr[i][1]) <= w)
			return abbr[i][1];
	for (; *s && o + 1 < len; s++)
		if (*s != '_')
			buf[o++] = *s;
	buf[o] = '\0';
	return buf;
}

/* ---- screens ---- */

static void center(int y, int width, const char *s, attr_t attr)
{
	int w = text_width(s);

	put_clip(y, w < width ? (width - w) / 2 : 0, s, attr);
}

static void draw_empty(struct app *a, int y0, int h, int width)
{
	const char *msg[6] = { 0 };
	char buf[256], cmd[256], lbl[sizeof(a->netns_label)];
	size_t total = a->model.ft ? ft_count(a->model.ft) : 0;
	/* what the model's view holds before the UI's own 'a' filter */
	size_t built = ui.tab == TAB_FLOWS || ui.tab == TAB_DESTS ? a->model.nrows :
		       ui.tab == TAB_PROCS ? a->model.nprocs : a->model.nconts;
	int n = 0;

	if (!a->model.first_dump_done && !total) {
		msg[n++] = ui.utf8 ? "reading conntrack table\xe2\x80\xa6" :
				     "reading conntrack table...";
	} else if (a->tracking == TRACKING_ABSENT && !total) {
		msg[n++] = "This kernel has no connection tracking (nf_conntrack).";
		msg[n++] = "If it is a module, load it: modprobe nf_conntrack";
	} else if (a->tracking == TRACKING_INACTIVE && !total) {
		msg[n++] = "conntrack is not tracking connections in this network namespace.";
		msg[n++] = "It starts once a firewall rule uses it, for example:";
		/* the rule has to go into the namespace flowtop watches */
		fmt_sanitize(lbl, sizeof(lbl), a->netns_label, sizeof(a->netns_label));
		snprintf(cmd, sizeof(cmd),
			 "%s%s%siptables -I OUTPUT -m conntrack --ctstate NEW -j ACCEPT",
			 !lbl[0] || !strcmp(lbl, "host") ? "" :
			 lbl[0] == '/' ? "nsenter --net=" : "ip netns exec ",
			 !strcmp(lbl, "host") ? "" : lbl,
			 !lbl[0] || !strcmp(lbl, "host") ? "" : " ");
		msg[n++] = cmd;
		msg[n++] = "or an nft rule with 'ct state' (the module: modprobe nf_conntrack).";
	} else if (!total) {
		msg[n++] = "No flows tracked yet.";
	} else if (ui.active_only && built) {
		msg[n++] = ui.tab == TAB_FLOWS || ui.tab == TAB_DESTS ?
				   "No flow has a non-zero rate now." :
			   ui.tab == TAB_PROCS ? "No process has a non-zero rate now." :
						 "No container has a non-zero rate now.";
		msg[n++] = "Press a to show them all.";
	} else if (a->view.filter[0]) {
		char flt[sizeof(a->view.filter)];

		fmt_sanitize(flt, sizeof(flt), a->view.filter, sizeof(a->view.filter));
		snprintf(buf, sizeof(buf), "The filter \"%s\" matches nothing.", flt);
		msg[n++] = buf;
		msg[n++] = "Press / and Enter on an empty line (or Esc) to clear it.";
	} else if (a->view.container[0]) {
		char ctr[sizeof(a->view.container)];

		fmt_sanitize(ctr, sizeof(ctr), a->view.container, sizeof(a->view.container));
		snprintf(buf, sizeof(buf), "No flow of a container matching \"%s\".", ctr);
		msg[n++] = buf;
		msg[n++] = "Press Esc to clear the filters.";
	} else if ((a->view.show & SHOW_FAMILIES) != SHOW_FAMILIES ||
		   (a->view.show & SHOW_PROTOS) != SHOW_PROTOS) {
		msg[n++] = "The protocol toggles hide every flow.";
		msg[n++] = "T U D I S and 4 6 turn protocols and families back on.";
	} else if (a->view.hide_gone) {
		msg[n++] = "Only closed flows are left; x shows them.";
	} else {
		msg[n++] = "No flow matches the current view.";
	}
	for (int i = 0; i < n && i < h; i++)
		center(y0 + (h > n ? (h - n) / 2 : 0) + i, width, msg[i], i ? A_NORMAL : A_BOLD);
}

static void fix_top(enum tab t, size_t n, size_t page)
{
	size_t *cur = &ui.cur[t], *top = &ui.top[t];

	if (*cur >= n)
		*cur = n ? n - 1 : 0;
	if (*cur < *top)
		*top = *cur;
	if (*cur >= *top + page)
		*top = *cur - page + 1;
	/* no blank space at the bottom when the list shrank */
	if (*top + page > n)
		*top = n > page ? n - page : 0;
}

static bool lines_room(size_t n)
{
	return grow_array((void **)&ui.lines, &ui.lines_cap, n, sizeof(*ui.lines));
}

static int sort_col_flows(enum sort_key k)
{
	switch (k) {
	case SORT_RATE: return F_RATE;
	case SORT_BYTES: return F_BYTES;
	case SORT_AGE: return F_AGE;
	case SORT_PROCESS: return F_PROG;
	case SORT_DEST: return F_ADDR;
	case SORT_PROTO: return F_PROTO;
	default: return -1;
	}
}

static int sort_col_procs(enum sort_key k)
{
	switch (k) {
	case SORT_RATE: return P_TX;
	case SORT_BYTES: return P_SENT;
	case SORT_PROCESS: return P_PROG;
	default: return P_FLOWS;	/* the model sorts processes by flow count then */
	}
}

static int sort_col_conts(enum sort_key k)
{
	switch (k) {
	case SORT_RATE: return C_TX;
	case SORT_BYTES: return C_SENT;
	case SORT_PROCESS: return C_NAME;
	default: return C_FLOWS;	/* by flow count, as for processes */
	}
}

static void draw_flows(struct app *a, int y0, int h, int width)
{
	struct model mm;
	const struct model *m = &a->model;
	size_t n = nflows(a), per = a->opts.show_src ? 2 : 1, page, vis, nl = 0;
	int need = 0, scol = sort_col_flows(a->view.sort), label = -1;

	if (ui.paused) {
		/* ages and "new" marks as they were when the display froze */
		mm = a->model;
		mm.now_ns = ui.snap_now;
		m = &mm;
	}
	/* an 80- or 100-column screen has no room to spare for it */
	fcols[F_CONT].hide = width < CONT_COL_WIDTH;
	fcols[F_ADDR].mid = true;	/* names: keep the domain in sight */
	fcols[F_NETNS].hide = !a->opts.all_netns;
	fcols[F_GEO].hide = width < GEO_COL_WIDTH || !geoip_available();
	page = (size_t)h / per;
	if (!page)
		page = 1;
	fix_top(TAB_FLOWS, n, page);
	vis = n - ui.top[TAB_FLOWS] < page ? n - ui.top[TAB_FLOWS] : page;
	if (!lines_room(vis * per))
		return;
	for (size_t i = 0; i < vis; i++) {
		size_t idx = ui.top[TAB_FLOWS] + i;
		const struct flow *f = flow_at(a, idx);
		struct line_cells *l = &ui.lines[nl++];

		flow_cells(a, m, f, l, false);
		l->sel = idx == ui.cur[TAB_FLOWS];
		l->src = false;
		if (text_width(l->c[F_ADDR]) > need)
			need = text_width(l->c[F_ADDR]);
		if (per == 2 && (int)nl < h) {
			struct line_cells *s = &ui.lines[nl++];

			flow_cells(a, m, f, s, true);
			s->attr = l->attr;
			s->sel = l->sel;
			s->src = true;
			if (text_width(s->c[F_ADDR]) > need)
				need = text_width(s->c[F_ADDR]);
		}
	}
	fcols[F_RATE].title = a->opts.bits ? "RATE b/s" : "RATE B/s";
	ui.more = layout(fcols, F_N, width, need, scol);
	draw_titles(y0 - 1, fcols, F_N, scol);
	for (int i = F_ADDR - 1; i > F_MARK; i--) {
		if (fcols[i].on) {
			label = i;
			break;
		}
	}
	for (size_t i = 0; i < nl && (int)i < h; i++) {
		struct line_cells *l = &ui.lines[i];
		int y = y0 + (int)i;
		attr_t at = l->attr | (l->sel ? A_REVERSE : 0);

		if (l->sel) {
			attrset(A_REVERSE);
			mvhline(y, 0, ' ' | A_REVERSE, width);
			attrset(A_NORMAL);
		}
		if (l->src && label >= 0)
			put_cell(y, &fcols[label], "from", at);
		for (int c = 0; c < F_N; c++) {
			char sbuf[32];
			const char *txt = l->c[c];

			if (!fcols[c].on || !txt[0])
				continue;
			if (c == F_STATE)
				txt = short_state(txt, fcols[c].w, sbuf, sizeof(sbuf));
			else if (c == F_PORT && l->port_num[0] && text_width(txt) > fcols[c].w)
				txt = l->port_num;
			put_cell(y, &fcols[c], txt, at);
		}
	}
	if (!n)
		draw_empty(a, y0, h, width);
}

static void proc_cells(const struct app *a, const struct proc_agg *p, struct line_cells *l)
{
	char (*c)[CELL] = l->c;

	if (p->pid)
		snprintf(c[P_PID], CELL, "%u", p->pid);
	else
		snprintf(c[P_PID], CELL, "-");
	if (!p->pid)
		snprintf(c[P_PROG], CELL, "unattributed / forwarded");
	else if (p->comm[0])
		fmt_sanitize(c[P_PROG], CELL, p->comm, FLOW_COMM_LEN);
	else
		snprintf(c[P_PROG], CELL, "?");
	snprintf(c[P_FLOWS], CELL, "%u", p->flows);
	fmt_bytes(c[P_SENT], CELL, p->orig_bytes);
	fmt_bytes(c[P_RECV], CELL, p->reply_bytes);
	fmt_rate(c[P_TX], CELL, p->rate_orig, a->opts.bits);
	fmt_rate(c[P_RX], CELL, p->rate_reply, a->opts.bits);
	l->attr = p->pid ? A_NORMAL : A_DIM;
}

/* The cells of row idx of an aggregate tab. */
typedef void (*row_cells_fn)(const struct app *a, size_t idx, struct line_cells *l);

/*
 * An aggregate tab (Processes, Containers): n rows, columns cols[ncols] of
 * which name_col is sized to its widest visible cell.
 */
static void draw_agg(struct app *a, enum tab t, size_t n, row_cells_fn cells, struct col *cols,
		     int ncols, int name_col, int scol, int y0, int h, int width)
{
	size_t page = h > 0 ? (size_t)h : 1, vis;
	int need = 0;

	fix_top(t, n, page);
	vis = n - ui.top[t] < page ? n - ui.top[t] : page;
	if (!lines_room(vis))
		return;
	for (size_t i = 0; i < vis; i++) {
		size_t idx = ui.top[t] + i;
		struct line_cells *l = &ui.lines[i];

		cells(a, idx, l);
		l->sel = idx == ui.cur[t];
		if (text_width(l->c[name_col]) > need)
			need = text_width(l->c[name_col]);
	}
	ui.more = layout(cols, ncols, width, need, scol);
	draw_titles(y0 - 1, cols, ncols, scol);
	for (size_t i = 0; i < vis; i++) {
		struct line_cells *l = &ui.lines[i];
		int y = y0 + (int)i;
		attr_t at = l->attr | (l->sel ? A_REVERSE : 0);

		if (l->sel) {
			attrset(A_REVERSE);
			mvhline(y, 0, ' ' | A_REVERSE, width);
			attrset(A_NORMAL);
		}
		for (int c = 0; c < ncols; c++)
			if (cols[c].on)
				put_cell(y, &cols[c], l->c[c], at);
	}
	if (!n)
		draw_empty(a, y0, h, width);
}

static void proc_row(const struct app *a, size_t idx, struct line_cells *l)
{
	proc_cells(a, proc_at(a, idx), l);
}

static void draw_procs(struct app *a, int y0, int h, int width)
{
	draw_agg(a, TAB_PROCS, nprocs(a), proc_row, pcols, P_N, P_PROG,
		 sort_col_procs(a->view.sort), y0, h, width);
}

/* "192.0.2.1:443", "[2001:db8::1]:443", or the address alone for protocols without ports. */
static void dest_text(char *dst, size_t len, const struct cont_agg *c)
{
	char x[FMT_ADDR_LEN];

	if (!c->top_family) {
		snprintf(dst, len, "-");
		return;
	}
	fmt_addr(x, sizeof(x), c->top_family, c->top_dst);
	if (!proto_has_ports(c->top_proto))
		snprintf(dst, len, "%s", x);
	else if (c->top_family == AF_INET6)
		snprintf(dst, len, "[%s]:%u", x, c->top_dport);
	else
		snprintf(dst, len, "%s:%u", x, c->top_dport);
}

static void cont_cells(const struct app *a, const struct cont_agg *ca, struct line_cells *l)
{
	char (*c)[CELL] = l->c;

	/* "-": the host's own flows, forwarded ones, and cgroups that are no container */
	if (ca->label[0])
		fmt_sanitize(c[C_NAME], CELL, ca->label, sizeof(ca->label));
	else
		snprintf(c[C_NAME], CELL, "-");
	snprintf(c[C_FLOWS], CELL, "%u", ca->flows);
	fmt_bytes(c[C_SENT], CELL, ca->orig_bytes);
	fmt_bytes(c[C_RECV], CELL, ca->reply_bytes);
	fmt_rate(c[C_TX], CELL, ca->rate_orig, a->opts.bits);
	fmt_rate(c[C_RX], CELL, ca->rate_reply, a->opts.bits);
	dest_text(c[C_DEST], CELL, ca);
	l->attr = ca->label[0] ? A_NORMAL : A_DIM;
}

static void cont_row(const struct app *a, size_t idx, struct line_cells *l)
{
	cont_cells(a, cont_at(a, idx), l);
}

static void draw_conts(struct app *a, int y0, int h, int width)
{
	draw_agg(a, TAB_CONTS, nconts(a), cont_row, ccols, C_N, C_NAME,
		 sort_col_conts(a->view.sort), y0, h, width);
}

static void dest_cells(const struct app *a, const struct dest_agg *d, struct line_cells *l)
{
	char (*c)[CELL] = l->c;

	fmt_sanitize(c[D_KEY], CELL, d->key, sizeof(d->key));
	if (d->name[0])
		fmt_sanitize(c[D_NAME], CELL, d->name, sizeof(d->name));
	else
		snprintf(c[D_NAME], CELL, "-");
	snprintf(c[D_FLOWS], CELL, "%u", d->flows);
	fmt_bytes(c[D_SENT], CELL, d->sent);
	fmt_bytes(c[D_RECV], CELL, d->recv);
	fmt_rate(c[D_TX], CELL, d->rate_tx, a->opts.bits);
	fmt_rate(c[D_RX], CELL, d->rate_rx, a->opts.bits);
	if (d->top[0].pid)
		fmt_sanitize(c[D_TOP], CELL, d->top[0].comm, sizeof(d->top[0].comm));
	else
		snprintf(c[D_TOP], CELL, "-");
	/* no country known: dim, like the host row of the Containers tab */
	l->attr = strcmp(d->key, "unknown") ? A_NORMAL : A_DIM;
}

static void dest_row(const struct app *a, size_t idx, struct line_cells *l)
{
	dest_cells(a, &ui.dests.d[idx], l);
}

/*
 * Destinations: the shown flows (filters, 'a', pause apply) grouped by the remote end's
 * country or AS (g switches), most bytes first. Made here, only while the tab is shown:
 * GeoIP lookups cost a little per flow.
 */
static void draw_dests(struct app *a, int y0, int h, int width)
{
	size_t n = nflows(a);

	/* once per new view, not per key: a key that only moves the cursor looks up nothing */
	if (!ui.dests_of.valid || ui.dests_of.built_at != ui.built_at ||
	    ui.dests_of.by != ui.dest_by || ui.dests_of.paused != ui.paused ||
	    ui.dests_of.active_only != ui.active_only) {
		ui.dests.n = 0;
		if (grow_array((void **)&ui.drows, &ui.drows_cap, n + 1, sizeof(*ui.drows))) {
			for (size_t i = 0; i < n; i++)
				ui.drows[i] = (struct flow *)flow_at(a, i);
			if (dest_build(&ui.dests, ui.drows, n, ui.dest_by) < 0)
				ui.dests.n = 0;
		}
		ui.dests_of.built_at = ui.built_at;
		ui.dests_of.by = ui.dest_by;
		ui.dests_of.paused = ui.paused;
		ui.dests_of.active_only = ui.active_only;
		ui.dests_of.valid = true;
	}
	dcols[D_KEY].title = ui.dest_by == DEST_BY_ASN ? "AS" : "COUNTRY";
	if (ui.cur[TAB_DESTS] >= ui.dests.n)
		ui.cur[TAB_DESTS] = ui.dests.n ? ui.dests.n - 1 : 0;
	draw_agg(a, TAB_DESTS, ui.dests.n, dest_row, dcols, D_N, D_NAME, -1, y0, h, width);
}

static const char *sort_label(const struct app *a)
{
	static const char *const names[SORT_MAX] = {
		[SORT_RATE] = "rate", [SORT_BYTES] = "bytes", [SORT_AGE] = "age",
		[SORT_PROCESS] = "process", [SORT_DEST] = "dest", [SORT_PROTO] = "proto",
	};
	enum sort_key k = a->view.sort;

	if (ui.tab == TAB_DESTS)
		return "bytes";
	if (ui.tab != TAB_FLOWS && (k == SORT_AGE || k == SORT_DEST || k == SORT_PROTO))
		return "flows";
	if (ui.tab == TAB_CONTS && k == SORT_PROCESS)
		return "name";
	return k < SORT_MAX ? names[k] : "?";
}

/* Numbers sort largest first, names a to z; r turns either around. */
static bool sort_desc(const struct app *a)
{
	enum sort_key k = a->view.sort;
	bool numeric = k == SORT_RATE || k == SORT_BYTES || k == SORT_AGE ||
		       (ui.tab != TAB_FLOWS && k != SORT_PROCESS);

	if (ui.tab == TAB_DESTS)
		return true;	/* always by bytes, most first */
	return numeric != a->view.reverse;
}

static void draw_header(struct app *a)
{
	static const struct {
		unsigned int bit;
		const char *on, *off;
	} toggles[] = {
		{ SHOW_TCP, "TCP", "tcp" }, { SHOW_UDP, "UDP", "udp" },
		{ SHOW_DCCP, "DCCP", "dccp" }, { SHOW_ICMP, "ICMP", "icmp" },
		{ SHOW_SCTP, "SCTP", "sctp" }, { SHOW_IPV4, "IPv4", "ipv4" },
		{ SHOW_IPV6, "IPv6", "ipv6" },
	};
	const struct model *m = &a->model;
	char buf[256], r1[24], r2[24];
	size_t total = m->ft ? ft_count(m->ft) : 0;
	int x = 0;

	snprintf(buf, sizeof(buf), "flowtop %s", FLOWTOP_VERSION);
	seg(0, &x, buf, A_BOLD);
	snprintf(buf, sizeof(buf), "netns %s", a->netns_label[0] ? a->netns_label : "?");
	seg(0, &x, buf, A_NORMAL);
	/* what an 80-column screen must show comes first; counters go to the status line */
	if (a->attr_name[0] && (!a->mode || strcmp(a->mode, a->attr_name)))
		snprintf(buf, sizeof(buf), "%s/%s", a->mode ? a->mode : "?", a->attr_name);
	else
		snprintf(buf, sizeof(buf), "%s", a->mode ? a->mode : "?");
	seg(0, &x, buf, A_BOLD);
	snprintf(buf, sizeof(buf), "flows %zu/%zu", ui.paused ? ui.snap_total : nflows(a), total);
	seg(0, &x, buf, A_NORMAL);
	snprintf(buf, sizeof(buf), "lost %llu resync %llu", m->events_lost, m->resyncs);
	seg(0, &x, buf, m->events_lost ? A_BOLD | cp(CP_BAD) : A_NORMAL);
	if (a->mode && !strcmp(a->mode, "ebpf")) {
		/* ring buffer full in the kernel: those flows went unattributed */
		snprintf(buf, sizeof(buf), "attribution lost %llu", a->attr_lost);
		seg(0, &x, buf, a->attr_lost ? A_BOLD | cp(CP_BAD) : A_NORMAL);
	}
	fmt_rate(r1, sizeof(r1), m->total_rate_orig, a->opts.bits);
	fmt_rate(r2, sizeof(r2), m->total_rate_reply, a->opts.bits);
	snprintf(buf, sizeof(buf), "orig %s reply %s", r1, r2);
	seg(0, &x, buf, A_NORMAL);
	if (a->mode_why[0]) {
		snprintf(buf, sizeof(buf), "(%s)", a->mode_why);
		seg(0, &x, buf, A_DIM);
	}

	x = 0;
	put_clip(1, x, ui.tab == TAB_FLOWS ? "[Flows]" : " Flows ",
		 ui.tab == TAB_FLOWS ? A_REVERSE | A_BOLD : A_NORMAL);
	x += 8;
	put_clip(1, x, ui.tab == TAB_PROCS ? "[Processes]" : " Processes ",
		 ui.tab == TAB_PROCS ? A_REVERSE | A_BOLD : A_NORMAL);
	x += 13;
	put_clip(1, x, ui.tab == TAB_CONTS ? "[Containers]" : " Containers ",
		 ui.tab == TAB_CONTS ? A_REVERSE | A_BOLD : A_NORMAL);
	x += 14;
	put_clip(1, x, ui.tab == TAB_DESTS ? "[Destinations]" : " Destinations ",
		 ui.tab == TAB_DESTS ? A_REVERSE | A_BOLD : A_NORMAL);
	x += 16;
	if (ui.paused)
		seg(1, &x, "PAUSED", A_REVERSE | A_BOLD | cp(CP_WARN));
	snprintf(buf, sizeof(buf), "sort %s %s", sort_label(a), sort_desc(a) ? "desc" : "asc");
	seg(1, &x, buf, A_NORMAL);
	if (a->view.filter[0]) {
		char flt[sizeof(a->view.filter)];

		fmt_sanitize(flt, sizeof(flt), a->view.filter, sizeof(a->view.filter));
		snprintf(buf, sizeof(buf), "filter \"%s\"", flt);
		seg(1, &x, buf, A_BOLD);
	}
	if (a->view.container[0]) {
		char ctr[sizeof(a->view.container)];

		fmt_sanitize(ctr, sizeof(ctr), a->view.container, sizeof(a->view.container));
		snprintf(buf, sizeof(buf), "container \"%s\"", ctr);
		seg(1, &x, buf, A_BOLD);
	}
	for (size_t i = 0; i < sizeof(toggles) / sizeof(toggles[0]); i++) {
		bool on = a->view.show & toggles[i].bit;

		put_clip(1, x, on ? toggles[i].on : toggles[i].off, on ? A_NORMAL : A_DIM);
		x += (int)strlen(toggles[i].on) + 1;
	}
	x++;
	seg(1, &x, a->opts.bits ? "bit/s" : "B/s", A_NORMAL);
	if (ui.active_only)
		seg(1, &x, "active only", A_BOLD);
	if (a->view.hide_gone)
		seg(1, &x, "closed hidden", A_NORMAL);
}

static void draw_status(struct app *a, int y, int width)
{
	char buf[128], pos[48];
	size_t n = tab_count(a, ui.tab);
	int x, used;

	if (ui.prompt) {
		char txt[sizeof(ui.pbuf) + 16];

		snprintf(txt, sizeof(txt), "filter: %s", ui.pbuf);
		x = text_width(txt);
		/* keep the end of long input in sight */
		put_clip(y, x >= width ? width - 1 - x : 0, txt, A_BOLD);
		put_clip(y, x >= width ? width - 1 : x, " ", A_REVERSE);
		return;
	}
	if (ui.latency) {
		/* L: how long the event loop's turns take (a key waits for at most one) */
		char lat[160];

		snprintf(lat, sizeof(lat),
			 "loop p50 %lluus p99 %lluus max %lluus (%llu)  keys p99 %lluus max %lluus",
			 (unsigned long long)lat_pct(&a->loop_lat, 0.5),
			 (unsigned long long)lat_pct(&a->loop_lat, 0.99),
			 (unsigned long long)a->loop_lat.max, (unsigned long long)a->loop_lat.n,
			 (unsigned long long)lat_pct(&a->key_lat, 0.99),
			 (unsigned long long)a->key_lat.max);
		used = fit_text(buf, sizeof(buf), lat, width);
		put_clip(y, 0, buf, A_BOLD);
	} else if (a->warning[0]) {
		char w[sizeof(a->warning)];

		fmt_sanitize(w, sizeof(w), a->warning, sizeof(a->warning));
		put_clip(y, 0, w, A_BOLD | cp(CP_WARN));
		used = text_width(w);
	} else if (a->mode_why[0] && a->model.now_ns < a->start_mono_ns + WHY_NS) {
		/* the header has no room for it on a small screen: say it once, at start */
		char why[sizeof(a->mode_why) + 32];

		snprintf(why, sizeof(why), "%s: %s", a->mode ? a->mode : "mode", a->mode_why);
		used = fit_text(buf, sizeof(buf), why, width);
		put_clip(y, 0, buf, A_BOLD);
	} else {
		put_clip(y, 0, "?:help q:quit Tab:view /:filter o:sort", A_NORMAL);
		used = 38;
	}
	snprintf(pos, sizeof(pos), "%s%s %zu/%zu", ui.hoff > 0 ? "<" : "", ui.more && n ? ">" : "",
		 n ? ui.cur[ui.tab] + 1 : 0, n);
	if (a->dump_period_ns > (__u64)(a->opts.interval * 1e9) + 100000000ULL)
		/* a big table: counters are read less often than the screen is drawn */
		snprintf(buf, sizeof(buf), "acct %s  tstamp %s  %gs, counters %.0fs  %s",
			 a->acct_on ? "on" : "off", a->tstamp_on ? "on" : "off", a->opts.interval,
			 (double)a->dump_period_ns / 1e9, pos);
	else
		snprintf(buf, sizeof(buf), "acct %s  tstamp %s  %gs  %s", a->acct_on ? "on" : "off",
			 a->tstamp_on ? "on" : "off", a->opts.interval, pos);
	x = width - text_width(buf);
	if (x < used + 2) {
		snprintf(buf, sizeof(buf), "%s", pos);
		x = width - text_width(buf);
	}
	if (x >= used + 2)
		put_clip(y, x, buf, A_NORMAL);
}

static const char *const help_lines[][2] = {
	{ "", "Keys" },
	{ "Tab S-Tab", "tabs: Flows, Processes, Containers, Destinations" },
	{ "c", "Destinations: by country / by AS" },
	{ "Up Down k j u d", "move the cursor" },
	{ "PgUp PgDn", "page up / down" },
	{ "Home End g G", "first / last row" },
	{ "Left Right h l", "scroll sideways" },
	{ "Enter", "Processes, Containers: its flows" },
	{ "/", "filter (text or pid:N)" },
	{ "Esc", "clear the filters" },
	{ "o > <", "next / previous sort" },
	{ "r", "reverse the sort" },
	{ "a", "only flows with traffic" },
	{ "x", "hide closed flows" },
	{ "s", "source rows on / off" },
	{ "b", "rates in bits / bytes" },
	{ "n", "names / addresses" },
	{ "T U D I S", "TCP UDP DCCP ICMP SCTP" },
	{ "4 6", "IPv4 / IPv6 on / off" },
	{ "Space", "pause / resume display" },
	{ "Ctrl-L", "redraw the screen" },
	{ "L", "event loop latency on / off" },
	{ "q", "quit" },
	{ "", "" },
	{ "", "Rows" },
	{ "+ bold", "new in the last 3 s" },
	{ "x dim", "closed, leaving soon" },
	{ "a=>b", "NAT: a became b" },
	{ "addr*", "source NATed (see s)" },
	{ "name", "the name the program asked for" },
	{ "~name", "reverse DNS name (PTR)" },
	{ "from", "source row (s)" },
	{ "~12s", "age without timestamps" },
	{ "-", "no counters (acct off)" },
	{ "x/y", "original / reply side" },
	{ "K M G", "x1000, x1e6, x1e9" },
	{ "- container", "host: no container" },
};

static void draw_help(struct app *a, int width, int height)
{
	const size_t n = sizeof(help_lines) / sizeof(help_lines[0]);
	int avail = height - 3, ncol, colw, kw = 16;
	char buf[256];

	put_clip(0, 0, "flowtop help: any key closes", A_BOLD);
	if (avail < 1)
		return;
	ncol = (int)((n + (size_t)avail - 1) / (size_t)avail);
	colw = width / ncol;
	if (colw < 20) {
		ncol = 1;
		colw = width;
	}
	if (kw > colw / 2)
		kw = colw / 2;	/* narrow screens: room for some of the description */
	for (size_t i = 0; i < n; i++) {
		int c = (int)(i / (size_t)avail), y = 2 + (int)(i % (size_t)avail);
		int x = c * colw;

		if (c >= ncol)
			break;
		if (!help_lines[i][0][0]) {
			put_clip(y, x, help_lines[i][1], A_BOLD | A_UNDERLINE);
			continue;
		}
		snprintf(buf, sizeof(buf), "%-*s", kw, help_lines[i][0]);
		if (x + kw < width)
			put_clip(y, x, buf, A_BOLD);
		fit_text(buf, sizeof(buf), help_lines[i][1], colw - kw - 1);
		put_clip(y, x + kw, buf, A_NORMAL);
	}
	if (a->mode_why[0] && height > avail + 2) {
		/* and where names come from (see NAMES in the manual) */
		snprintf(buf, sizeof(buf), "mode %s: %s  names: %s%s%s%s", a->mode ? a->mode : "?",
			 a->mode_why,
			 names_asked_on() && names_ptr_on() ? "asked, ptr" :
			 names_asked_on() ? "asked" : names_ptr_on() ? "ptr" : "none",
			 a->names_why[0] ? " (" : "", a->names_why, a->names_why[0] ? ")" : "");
		put_clip(height - 1, 0, buf, A_DIM);
	}
}

static void draw(struct app *a)
{
	int h, w;

	getmaxyx(stdscr, h, w);
	erase();
	if (w < MIN_COLS || h < MIN_LINES) {
		put_clip(0, 0, "terminal too small", A_BOLD);
		if (h > 1)
			put_clip(1, 0, "q quits", A_NORMAL);
		refresh();
		return;
	}
	if (ui.help) {
		draw_help(a, w, h);
		refresh();
		return;
	}
	draw_header(a);
	if (ui.tab == TAB_FLOWS)
		draw_flows(a, HDR_LINES, h - HDR_LINES - 1, w);
	else if (ui.tab == TAB_PROCS)
		draw_procs(a, HDR_LINES, h - HDR_LINES - 1, w);
	else if (ui.tab == TAB_CONTS)
		draw_conts(a, HDR_LINES, h - HDR_LINES - 1, w);
	else
		draw_dests(a, HDR_LINES, h - HDR_LINES - 1, w);
	draw_status(a, h - 1, w);
	refresh();
}

/* ---- keys ---- */

static size_t page_rows(const struct app *a)
{
	int h = getmaxy(stdscr) - HDR_LINES - 1;
	size_t per = ui.tab == TAB_FLOWS && a->opts.show_src ? 2 : 1;

	return h > (int)per ? (size_t)h / per : 1;
}

static void move_to(struct app *a, long long pos)
{
	size_t n = tab_count(a, ui.tab);

	if (!n)
		return;
	if (pos < 0)
		pos = 0;
	if ((unsigned long long)pos >= n)
		pos = (long long)n - 1;
	ui.cur[ui.tab] = (size_t)pos;
	/* at the very top the cursor stays at the top, like top(1); elsewhere it keeps its row */
	ui.follow[ui.tab] = pos > 0;
	if (ui.tab == TAB_FLOWS)
		ui.sel_id = flow_at(a, (size_t)pos)->id;
	else if (ui.tab == TAB_PROCS)
		ui.sel_pid = proc_at(a, (size_t)pos)->pid;
	else if (ui.tab == TAB_CONTS)
		memcpy(ui.sel_cont, cont_at(a, (size_t)pos)->label, sizeof(ui.sel_cont));
}

static void move_by(struct app *a, long long d)
{
	move_to(a, (long long)ui.cur[ui.tab] + d);
}

/* The rows are about to change under a new view: start again at the top. */
static void view_changed(bool to_top)
{
	ui.dirty = true;
	if (ui.paused)
		ui.pause_req = true;	/* freeze the new view once it is built */
	if (to_top) {
		for (int t = 0; t < TAB_N; t++) {
			ui.cur[t] = 0;
			ui.top[t] = 0;
			ui.follow[t] = false;
		}
	}
}

static void set_filter(struct app *a, const char *s)
{
	snprintf(a->view.filter, sizeof(a->view.filter), "%s", s);
	view_changed(true);
}

static void prompt_key(struct app *a, int k)
{
	switch (k) {
	case 27:
		ui.prompt = false;
		break;
	case '\r':
	case '\n':
	case FKEY + KEY_ENTER:
		ui.prompt = false;
		set_filter(a, ui.pbuf);
		break;
	case 127:
	case 8:
	case FKEY + KEY_BACKSPACE:
		/* drop one UTF-8 character */
		while (ui.plen && ((unsigned char)ui.pbuf[--ui.plen] & 0xc0) == 0x80)
			;
		ui.pbuf[ui.plen] = '\0';
		break;
	case 21:	/* Ctrl-U */
		ui.plen = 0;
		ui.pbuf[0] = '\0';
		break;
	default:
		if (k >= 0x20 && k != 0x7f && k < FKEY) {
			char mb[MB_LEN_MAX];
			mbstate_t st;
			size_t len;

			memset(&st, 0, sizeof(st));
			len = wcrtomb(mb, (wchar_t)k, &st);
			if (len != (size_t)-1 && ui.plen + len < sizeof(ui.pbuf)) {
				memcpy(ui.pbuf + ui.plen, mb, len);
				ui.plen += len;
				ui.pbuf[ui.plen] = '\0';
			}
		}
		break;
	}
}

static void toggle_show(struct app *a, unsigned int bit)
{
	a->view.show ^= bit;
	view_changed(false);
}

/* Returns false when nothing on screen changed. */
static bool handle_key(struct app *a, int k)
{
	if (k == FKEY + KEY_RESIZE)
		return true;
	if (ui.help) {
		ui.help = false;
		return true;
	}
	if (ui.prompt) {
		prompt_key(a, k);
		return true;
	}
	switch (k) {
	case 'q':
	case 'Q':
		a->quit = true;
		return false;
	case '\t':
		ui.tab = (ui.tab + 1) % TAB_N;
		ui.hoff = 0;
		break;
	case FKEY + KEY_BTAB:
		ui.tab = (ui.tab + TAB_N - 1) % TAB_N;
		ui.hoff = 0;
		break;
	case FKEY + KEY_UP:
	case 'k':
	case 'u':
		move_by(a, -1);
		break;
	case FKEY + KEY_DOWN:
	case 'j':
	case 'd':
		move_by(a, 1);
		break;
	case FKEY + KEY_PPAGE:
		move_by(a, -(long long)page_rows(a));
		break;
	case FKEY + KEY_NPAGE:
		move_by(a, (long long)page_rows(a));
		break;
	case FKEY + KEY_HOME:
	case 'g':
		move_to(a, 0);
		break;
	case FKEY + KEY_END:
	case 'G':
		move_to(a, (long long)tab_count(a, ui.tab) - 1);
		break;
	case FKEY + KEY_LEFT:
	case 'h':
		ui.hoff = ui.hoff > HSTEP ? ui.hoff - HSTEP : 0;
		break;
	case FKEY + KEY_RIGHT:
	case 'l':
		ui.hoff += HSTEP;	/* clamped by the layout */
		break;
	case '?':
		ui.help = true;
		break;
	case 'L':
		ui.latency = !ui.latency;
		break;
	case 'c':
		if (ui.tab == TAB_DESTS) {
			ui.dest_by = ui.dest_by == DEST_BY_ASN ? DEST_BY_COUNTRY : DEST_BY_ASN;
			ui.cur[TAB_DESTS] = 0;
		}
		break;
	case 'b':
		a->opts.bits = !a->opts.bits;
		break;
	case 'n':
		ui.numeric = !ui.numeric;
		break;
	case 's':
		a->opts.show_src = !a->opts.show_src;
		break;
	case 'a':
		ui.active_only = !ui.active_only;
		view_changed(false);
		break;
	case 'x':
		a->view.hide_gone = !a->view.hide_gone;
		view_changed(false);
		break;
	case 'T':
		toggle_show(a, SHOW_TCP);
		break;
	case 'U':
		toggle_show(a, SHOW_UDP);
		break;
	case 'D':
		toggle_show(a, SHOW_DCCP);
		break;
	case 'I':
		toggle_show(a, SHOW_ICMP);
		break;
	case 'S':
		toggle_show(a, SHOW_SCTP);
		break;
	case '4':
		toggle_show(a, SHOW_IPV4);
		break;
	case '6':
		toggle_show(a, SHOW_IPV6);
		break;
	case 'o':
	case '>':
		a->view.sort = (a->view.sort + 1) % SORT_MAX;
		view_changed(false);
		break;
	case '<':
		a->view.sort = (a->view.sort + SORT_MAX - 1) % SORT_MAX;
		view_changed(false);
		break;
	case 'r':
		a->view.reverse = !a->view.reverse;
		view_changed(false);
		break;
	case '/':
		ui.prompt = true;
		ui.plen = 0;
		ui.pbuf[0] = '\0';
		break;
	case 27:
		if (!a->view.filter[0] && !a->view.container[0])
			return false;
		a->view.container[0] = '\0';
		set_filter(a, "");
		break;
	case '\r':
	case '\n':
	case FKEY + KEY_ENTER:
		if (ui.tab == TAB_PROCS && nprocs(a)) {
			char f[32];

			snprintf(f, sizeof(f), "pid:%u", proc_at(a, ui.cur[TAB_PROCS])->pid);
			ui.tab = TAB_FLOWS;
			ui.hoff = 0;
			set_filter(a, f);
			break;
		}
		if (ui.tab == TAB_CONTS && nconts(a)) {
			const char *l = cont_at(a, ui.cur[TAB_CONTS])->label;

			/* "-" stands for the flows of no container */
			snprintf(a->view.container, sizeof(a->view.container), "%s",
				 l[0] ? l : "-");
			ui.tab = TAB_FLOWS;
			ui.hoff = 0;
			view_changed(true);
			break;
		}
		return false;
	case ' ':
		if (ui.paused || ui.pause_req) {
			ui.paused = false;
			ui.pause_req = false;
			ui.dirty = true;	/* the live rows may be older than the last tick */
		} else {
			ui.pause_req = true;
			ui.dirty = true;
		}
		break;
	case 12:	/* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default:
		return false;
	}
	return true;
}

/* ---- interface ---- */

int ui_init(struct app *a, char *err, size_t len)
{
	const char *cs;

	if (ui.active)
		return 0;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		snprintf(err, len, "the interactive view needs a terminal (try --batch or --json)");
		return -1;
	}
	/* newterm, unlike initscr, returns instead of exiting on a bad TERM */
	if (!newterm(NULL, stdout, stdin)) {
		snprintf(err, len, "cannot start curses on terminal type '%s'",
			 getenv("TERM") ? getenv("TERM") : "(unset)");
		return -1;
	}
	ui.active = true;
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	cs = nl_langinfo(CODESET);
	ui.utf8 = cs && !strcmp(cs, "UTF-8");
	if (has_colors() && start_color() == OK) {
		short bg = use_default_colors() == OK ? -1 : COLOR_BLACK;

		ui.colors = true;
		init_pair(CP_NEW, COLOR_GREEN, bg);
		init_pair(CP_GONE, COLOR_RED, bg);
		init_pair(CP_WARN, COLOR_YELLOW, bg);
		init_pair(CP_BAD, COLOR_RED, bg);
	}
	ui.tab = TAB_FLOWS;
	ui.dirty = true;
	/* main copies --filter into the view; --container is taken here */
	if (!a->view.container[0])
		snprintf(a->view.container, sizeof(a->view.container), "%s", a->opts.container);
	draw(a);
	return 0;
}

void ui_fini(void)
{
	if (ui.active) {
		curs_set(1);
		endwin();
		ui.active = false;
	}
	free(ui.act);
	free(ui.pact);
	free(ui.cact);
	free(ui.snap);
	free(ui.psnap);
	free(ui.csnap);
	free(ui.lines);
	ui.act = NULL;
	ui.pact = NULL;
	ui.cact = NULL;
	ui.snap = NULL;
	ui.psnap = NULL;
	ui.csnap = NULL;
	ui.lines = NULL;
	ui.act_cap = ui.pact_cap = ui.cact_cap = ui.snap_cap = ui.psnap_cap = ui.csnap_cap = 0;
	ui.lines_cap = 0;
	ui.nact = ui.npact = ui.ncact = ui.nsnap = ui.npsnap = ui.ncsnap = 0;
	ui.paused = false;
}

void ui_input(struct app *a)
{
	bool redraw = false;
	wint_t ch;
	int rc;

	if (!ui.active)
		return;
	/* drain: keys read into curses' buffer would not wake the event loop again */
	while ((rc = get_wch(&ch)) != ERR) {
		int k = rc == KEY_CODE_YES ? FKEY + (int)ch : (int)ch;

		if (handle_key(a, k))
			redraw = true;
		if (a->quit)
			return;
	}
	/* a view change is drawn by ui_draw once the rows are rebuilt */
	if (redraw && !ui.dirty)
		draw(a);
}

void ui_resize(struct app *a)
{
	struct winsize ws;

	if (!ui.active)
		return;
	/* the loop reads SIGWINCH from a signalfd, so curses never saw it: tell it */
	if (!ioctl(fileno(stdout), TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
	draw(a);
}

void ui_draw(struct app *a)
{
	ui.dirty = false;
	if (!ui.active)
		return;
	/*
	 * The loop may call this after a key press without a rebuild; the O(N)
	 * passes only run when the model moved (every rebuild stamps now_ns).
	 */
	if (ui.pause_req || (!ui.paused && a->model.now_ns != ui.built_at)) {
		ui.paused = false;
		ui.built_at = a->model.now_ns;
		build_active(a);
		follow_selection(a);
		if (ui.pause_req)
			take_snapshot(a);
	}
	draw(a);
}

bool ui_view_dirty(void)
{
	return ui.dirty;
}
