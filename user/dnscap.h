/* dnscap.h - the BPF program that copies DNS answers to user space, and its ring buffer. */
#ifndef FLOWTOP_DNSCAP_H
#define FLOWTOP_DNSCAP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Load and attach the program (cgroup_skb ingress at the cgroup v2 root: every local socket
 * of every namespace). 0, or -errno with why set. Answers go to asked_feed()/asked_tcp().
 */
int dnscap_open(char *why, size_t whylen);
bool dnscap_on(void);

/* The ring buffer's epoll fd, -1 when off. */
int dnscap_fd(void);

/* Read what the ring holds (never blocks). */
void dnscap_poll(void);

/* Packets read, packets the kernel could not queue (ring full), packets from port 53 to
 * sockets that never sent to port 53 (not answers: ignored). */
void dnscap_stats(unsigned long long *answers, unsigned long long *lost,
		  unsigned long long *ignored);

void dnscap_close(void);

#endif
