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

/* Where the marks are kept, under the archive's folder
 * (handler.permanent_bounced_emails_path): a process may write there
 * whatever the store is. */
#define CRASH_GUARD_FOLDER ".in-hand"
/* Attempts at a message alone that never returned before it is set aside:
 * two, so that one kill -9 or out-of-memory kill that happens to land on an
 * attempt does not divert a sound message (test_crash_safety_under_sigkill
 * kills the consumer at random). A message that kills every process that
 * reads it does so every time. */
#define CRASH_GUARD_DEATHS_BEFORE_QUARANTINE 2
/* Marks of messages that never came back (purged from the queue, taken by
 * another machine, given up by Postfix) are swept once this old. */
#define CRASH_GUARD_MAX_AGE_S (7L * 24 * 3600)

/* Marks an attempt at the message raw under dir (created if missing), for
 * its envelope when one is given: a message delivered to several
 * recipients at once by as many processes (`stdin` from Postfix's pipe) is
 * as many attempts, each of its own. NULL: the bytes alone name it.
 * *unfinished: the earlier attempts at the same bytes (and envelope) that
 * never returned.
 * NULL when no mark could be written (the reason is logged); *unfinished is
 * then what could be read, and the caller goes on unguarded. */
crash_guard *crash_guard_begin(const char *dir, const char *raw, size_t len, const char *envelope,
                               int *unfinished);

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
