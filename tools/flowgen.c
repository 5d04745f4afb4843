/* flowgen.c - traffic maker for benchmarks: connect/close loops, UDP sends, paced new flows. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * flowgen tcp-connect ADDR PORT SECONDS     connect+close to a listener, as fast as it goes
 * flowgen udp-send ADDR PORT SECONDS        sendto one destination (one flow), as fast as it goes
 * flowgen udp-flows ADDR RATE SECONDS       one new flow per datagram (new destination port),
 *                                           paced at RATE flows/s
 * flowgen tcp-listen ADDR PORT SECONDS      accept and close, for tcp-connect
 * flowgen tcp-churn ADDR PORT SECONDS       connect, accept and close in one thread, with its
 *                                           own listener: no wake-up of another task per
 *                                           connection, so the rate is the kernel's work
 * flowgen ct-events destroy|all 0 SECONDS  a conntrack event listener that only reads, every
 *                                           2 ms (what the kernel's event messages cost alone)
 * flowgen spin PERCENT 0 SECONDS            keep one CPU busy PERCENT of the time, no syscalls
 * Prints "ops N seconds S rate R" on stdout. Every loop ends after SECONDS.
 */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	return -1;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((unsigned short)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((unsigned short)port);
}

/* A TCP listener on ss (SO_REUSEADDR), or -1 with the reason on stderr. */
static int listener(int fam, int flags, const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1, l = socket(fam, SOCK_STREAM | flags, 0);

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (const struct sockaddr *)ss, len) < 0 || listen(l, 4096) < 0) {
		perror("flowgen: listen");
		return -1;
	}
	return l;
}

/* Read conntrack events (DESTROY, or NEW and DESTROY) and drop them, every 2 ms. */
static int ct_events(int all, double secs)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_NETFILTER);
	int sz = 16 << 20;
	unsigned long long msgs = 0, lost = 0;
	static char buf[1 << 16];
	double t0 = now_s(), end = t0 + secs;

	sa.nl_groups = NF_NETLINK_CONNTRACK_DESTROY | (all ? NF_NETLINK_CONNTRACK_NEW : 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("flowgen: conntrack events");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	while (now_s() < end) {
		struct timespec pause = { 0, 2000000 };
		ssize_t n;

		nanosleep(&pause, NULL);
		while ((n = recv(s, buf, sizeof(buf), 0)) != 0) {
			if (n < 0) {
				if (errno != ENOBUFS)
					break;
				lost++;
				continue;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
			     h = NLMSG_NEXT(h, n))
				msgs++;
		}
	}
	secs = now_s() - t0;
	printf("ops %llu seconds %.3f rate %.0f overruns %llu\n", msgs, secs, msgs / secs, lost);
	return 0;
}

/* Busy PERCENT of every 10 ms, asleep the rest. */
static int spin(double percent, double secs)
{
	double t0 = now_s(), end = t0 + secs;
	unsigned long long ops = 0;

	if (percent <= 0 || percent > 100) {
		fprintf(stderr, "flowgen: bad percentage\n");
		return 2;
	}
	while (now_s() < end) {
		double t = now_s();
		struct timespec rest = { 0, (long)(10e6 * (1 - percent / 100)) };

		while (now_s() - t < 0.01 * percent / 100)
			ops++;
		if (rest.tv_nsec)
			nanosleep(&rest, NULL);
	}
	secs = now_s() - t0;
	printf("ops %llu seconds %.3f rate %.0f\n", ops, secs, ops / secs);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	double secs, t0, end;
	unsigned long long ops = 0;
	int fam;

	if (argc != 5) {
		fprintf(stderr, "usage: flowgen tcp-connect|tcp-churn|udp-send|udp-flows|tcp-listen ADDR "
				"PORT|RATE SECONDS\n       flowgen ct-events destroy|all 0 SECONDS\n"
				"       flowgen spin PERCENT 0 SECONDS\n");
		return 2;
	}
	secs = atof(argv[4]);
	if (secs <= 0 || secs > 600) {
		fprintf(stderr, "flowgen: bad duration\n");
		return 2;
	}
	if (!strcmp(argv[1], "ct-events"))
		return ct_events(!strcmp(argv[2], "all"), secs);
	if (!strcmp(argv[1], "spin"))
		return spin(atof(argv[2]), secs);
	fam = parse_addr(argv[2], atoi(argv[3]), &ss, &len);
	if (fam < 0) {
		fprintf(stderr, "flowgen: bad address\n");
		return 2;
	}
	t0 = now_s();
	end = t0 + secs;
	if (!strcmp(argv[1], "tcp-listen")) {
		int l = listener(fam, 0, &ss, len);
		struct timeval tv = { 0, 200000 };

		if (l < 0)
			return 1;
		setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (now_s() < end) {
			int c = accept(l, NULL, NULL);

			if (c >= 0) {
				close(c);
				ops++;
			}
		}
	} else if (!strcmp(argv[1], "tcp-connect")) {
		struct linger lg = { 1, 0 };

		while (now_s() < end) {
			for (int i = 0; i < 64; i++) {
				int s = socket(fam, SOCK_STREAM, 0);

				/* RST on close: no TIME_WAIT, so ports do not run out */
				setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				if (connect(s, (struct sockaddr *)&ss, len) == 0)
					ops++;
				close(s);
			}
		}
	} else if (!strcmp(argv[1], "tcp-churn")) {
		struct linger lg = { 1, 0 };
		int l = listener(fam, SOCK_NONBLOCK, &ss, len);

		if (l < 0)
			return 1;
		while (now_s() < end) {
			for (int i = 0; i < 64; i++) {
				int s = socket(fam, SOCK_STREAM, 0), c;

				setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				/* on loopback the handshake completes inside connect() */
				if (connect(s, (struct sockaddr *)&ss, len) == 0)
					ops++;
				c = accept(l, NULL, NULL);
				close(s);
				if (c >= 0)
					close(c);
			}
		}
	} else if (!strcmp(argv[1], "udp-send")) {
		int s = socket(fam, SOCK_DGRAM, 0);
		char buf[64] = { 0 };

		while (now_s() < end)
			for (int i = 0; i < 256; i++)
				if (sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&ss, len) > 0)
					ops++;
	} else if (!strcmp(argv[1], "udp-flows")) {
		double rate = atof(argv[3]);
		int s = socket(fam, SOCK_DGRAM, 0);
		char buf[8] = { 0 };
		unsigned int port = 0;

		if (rate <= 0) {
			fprintf(stderr, "flowgen: bad rate\n");
			return 2;
		}
		while (now_s() < end) {
			/* pace: never ahead of RATE flows/s since the start */
			double due = (double)ops / rate;

			if (now_s() - t0 < due)
				continue;
			for (int i = 0; i < 16; i++) {
				set_port(&ss, 1024 + (int)(port++ % 64000));
				if (sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&ss, len) > 0)
					ops++;
				/* a new source port every 64000 flows keeps tuples unique */
				if (port % 64000 == 0) {
					close(s);
					s = socket(fam, SOCK_DGRAM, 0);
				}
			}
		}
	} else {
		fprintf(stderr, "flowgen: unknown mode %s\n", argv[1]);
		return 2;
	}
	secs = now_s() - t0;
	printf("ops %llu seconds %.3f rate %.0f\n", ops, secs, (double)ops / secs);
	return 0;
}
