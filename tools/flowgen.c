/* flowgen.c - traffic maker for benchmarks: connect/close loops, UDP sends, paced new flows. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * flowgen tcp-connect ADDR PORT SECONDS     connect+close to a listener, as fast as it goes
 * flowgen udp-send ADDR PORT SECONDS        sendto one destination (one flow), as fast as it goes
 * flowgen udp-flows ADDR RATE SECONDS       one new flow per datagram (new destination port),
 *                                           paced at RATE flows/s
 * flowgen tcp-listen ADDR PORT SECONDS      accept and close, for tcp-connect
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

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	double secs, t0, end;
	unsigned long long ops = 0;
	int fam;

	if (argc != 5) {
		fprintf(stderr, "usage: flowgen tcp-connect|udp-send|udp-flows|tcp-listen ADDR "
				"PORT|RATE SECONDS\n");
		return 2;
	}
	secs = atof(argv[4]);
	fam = parse_addr(argv[2], atoi(argv[3]), &ss, &len);
	if (fam < 0 || secs <= 0 || secs > 600) {
		fprintf(stderr, "flowgen: bad address or duration\n");
		return 2;
	}
	t0 = now_s();
	end = t0 + secs;
	if (!strcmp(argv[1], "tcp-listen")) {
		int one = 1, l = socket(fam, SOCK_STREAM, 0);
		struct timeval tv = { 0, 200000 };

		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 4096) < 0) {
			perror("flowgen: listen");
			return 1;
		}
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
