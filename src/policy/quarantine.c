/*
 * quarantine.c - what of a message the quarantine keeps. A message up to
 * retention.quarantine_max_bytes is kept whole, for replay. A bigger one is
 * junk far more often than a bounce (40 junk mails of 6 MiB grew the
 * database by 253 MiB), so only its header block is kept (itself cut at the
 * cap), under a first line that gives the message's size and SHA-256, so
 * that it can still be found and matched; the log says so.
 */
#include "policy/policy_internal.h"

#include <glib.h>
#include <string.h>

#include "log.h"

#define QUARANTINE_NOTE "X-Bouncedemails-Quarantine: truncated"

char *policy_quarantine_note(uint64_t size, const char *sha256)
{
    return g_strdup_printf(QUARANTINE_NOTE "; %" G_GUINT64_FORMAT " bytes, sha256=%s; only the header is kept\r\n",
                           (guint64)size, sha256);
}

/* Length of the header block, the blank line that ends it excluded (the
 * whole message when it has no body). */
static size_t quarantine_header_len(const char *raw, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (raw[i] != '\n') continue;
        if (raw[i + 1] == '\n') return i + 1;
        if (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n') return i + 1;
    }
    return len;
}

int policy_quarantine_add(store *st, const config *cfg, const char *raw, size_t len,
                          const char *envelope_recipient, const char *ingress, const char *reason,
                          time_t when)
{
    size_t max = cfg->retention.quarantine_max_bytes;
    if (max == 0 || len <= max)
        return store_quarantine_add(st, raw, len, envelope_recipient, ingress, reason, when);

    char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)raw, len);
    GString *kept = g_string_sized_new(max + 128);
    char *note = policy_quarantine_note(len, sum);
    g_string_append(kept, note);
    g_free(note);
    size_t header = quarantine_header_len(raw, len);
    g_string_append_len(kept, raw, (gssize)MIN(header, max));
    g_string_append(kept, "\r\n");
    log_warn("Quarantine: a message of %zu bytes is over retention.quarantine_max_bytes (%zu): only its"
             " header (%zu bytes) and its SHA-256 %s are kept", len, max, MIN(header, max), sum);
    int rc = store_quarantine_add(st, kept->str, kept->len, envelope_recipient, ingress, reason, when);
    g_string_free(kept, TRUE);
    g_free(sum);
    return rc;
}
