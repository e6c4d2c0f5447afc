/*
 * handoff.h - lets a `stdin` run leave the notifications it queued to the
 * daemon running beside it, instead of loading libcurl to POST them itself:
 * libcurl and its two dozen libraries cost a run more CPU than handling the
 * bounce does.
 *
 * The daemon's notifier listens on a Unix datagram socket in the archive
 * folder, named for what decides where and how a notification goes: the
 * store, every platform's settings and notify.tls_ca_file (handoff_path). A run reads the config afresh,
 * so a run whose config differs from the one the daemon started with (a
 * domain added, another store) finds no socket of that name and POSTs for
 * itself. A run that queued notifications sends the socket one byte: the
 * send is both the check that a notifier is there and its wake-up, since it
 * succeeds only while a process holds the socket and has room for the
 * byte. The notifications are in the outbox before anything is sent, so a
 * wake-up that meets a daemon as it stops delays them until the next
 * daemon starts; it never loses them.
 */
#ifndef BOUNCEDEMAILS_HANDOFF_H
#define BOUNCEDEMAILS_HANDOFF_H

#include <stdbool.h>

#include "config.h"

typedef struct handoff handoff;

/* The socket's path for cfg: <archive>/.notifier-<16 hex digits>.sock,
 * the digits from a SHA-256 of the store, the domains' settings and
 * notify.tls_ca_file, paths made absolute. NULL
 * when it would not fit a socket address. Free with g_free(). */
char *handoff_path(const config *cfg);

/* Listens on handoff_path(cfg), holding a lock beside it for as long, so
 * that of two daemons with the same config one listens, and a socket file
 * left by a killed one is replaced. NULL, with the reason logged (only at
 * debug level when quiet, for a retry), when another daemon holds the lock
 * or the socket cannot be made: runs then wake that daemon, or notify for
 * themselves. */
handoff *handoff_listen(const config *cfg, bool quiet);

/* The descriptor to poll for input. */
int handoff_fd(const handoff *h);

/* Reads the wake-ups waiting (a bounded number a call); true when there
 * was one. */
bool handoff_drain(handoff *h);

/* Removes the socket's name, so that runs from now on notify for
 * themselves (or wake another daemon of the config, which may now take the
 * lock), and drops what was sent before; true when wake-ups were waiting
 * unread. The descriptor stays valid until handoff_close(). */
bool handoff_stop_taking(handoff *h);

/* Stops listening (removing the name if handoff_stop_taking() did not) and
 * lets go of the lock. NULL is ignored. */
void handoff_close(handoff *h);

/* Wakes the daemon listening for cfg; true when one took the wake-up,
 * false when none listens, it cannot be reached, or its queue is full (a
 * socket that refuses the run's permission is logged as a warning). */
bool handoff_send(const config *cfg);

#endif
