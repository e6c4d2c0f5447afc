/*
 * crash_guard.h - remembers, across the death of the process, which message
 * it was handling, so that a message that kills it (a crash in the
 * classifier, an abort in a library) is set aside at its next delivery
 * instead of killing every process that takes it, for ever.
 *
 * An attempt leaves a mark in a folder of its own (one file a message,
 * named by the SHA-256 of its bytes) before the message is read, and takes
 * it away when the attempt returns, whatever its outcome. A mark still
 * there at the next delivery is an attempt that never returned. Marks are
 * written without fsync: they must survive the process, not the machine.
 */
#ifndef BOUNCEDEMAILS_CRASH_GUARD_H
#define BOUNCEDEMAILS_CRASH_GUARD_H

#include <stddef.h>

typedef struct crash_guard crash_guard;

/* Marks an attempt at the message raw under dir (created if missing).
 * *unfinished: the earlier attempts at the same bytes that never returned.
 * NULL when no mark could be written (the reason is logged); *unfinished is
 * then what could be read, and the caller goes on unguarded. */
crash_guard *crash_guard_begin(const char *dir, const char *raw, size_t len, int *unfinished);

/* The attempt returned and its outcome is settled: its mark goes. NULL is
 * ignored. */
void crash_guard_end(crash_guard *g);

/* Lets go of g and leaves its mark, which counts the attempt as one that
 * never returned: for an outcome that could not be settled (the message
 * comes back, and must find the count as it was). NULL is ignored. */
void crash_guard_keep(crash_guard *g);

/* Removes the marks under dir older than max_age_s seconds: those of
 * messages that never came back (purged from the queue, or taken by
 * another machine's consumer). */
void crash_guard_sweep(const char *dir, long max_age_s);

#endif
