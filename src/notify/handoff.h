/*
 * handoff.h - lets a `stdin` run leave the notifications it queued to the
 * daemon running beside it, instead of loading libcurl to POST them itself:
 * libcurl and its two dozen libraries cost a run more CPU than handling the
 * bounce does.
 *
 * The daemon's notifier listens on a Unix datagram socket in the archive
 * folder (HANDOFF_SOCKET). A run that queued notifications sends it one
 * byte: the send is both the check that a notifier is there and its
 * wake-up, since it succeeds only while a process holds the socket and has
 * room for the byte. The notifications are in the outbox before anything
 * is sent, so a wake-up lost to a notifier that stops at that moment delays
 * them until a notifier looks again; it never loses them.
 */
#ifndef BOUNCEDEMAILS_HANDOFF_H
#define BOUNCEDEMAILS_HANDOFF_H

#include <stdbool.h>

#define HANDOFF_SOCKET ".notifier.sock"

typedef struct handoff handoff;

/* Listens on dir/HANDOFF_SOCKET, replacing a socket file that nobody holds
 * (left by a process that was killed). NULL, with the reason logged, when
 * another process listens there or the socket cannot be made: runs then
 * notify for themselves, or wake the other process. */
handoff *handoff_listen(const char *dir);

/* The descriptor to poll for input. */
int handoff_fd(const handoff *h);

/* Reads every wake-up waiting; true when there was one. */
bool handoff_drain(handoff *h);

/* Stops listening, and removes the socket file unless another process has
 * put its own in its place. NULL is ignored. */
void handoff_close(handoff *h);

/* Wakes the notifier listening under dir; true when one took the wake-up,
 * false when none listens, it cannot be reached, or its queue is full. */
bool handoff_send(const char *dir);

#endif
