/*
 * prose.c - the last resort for bounces that no known layout fits: a message
 * that presents itself as a delivery failure (its sender is a mailer daemon
 * or postmaster, or its subject says so) and names the failed address in a
 * sentence of its own text ("<a@b>: Recipient address rejected", "Delivery
 * to a@b failed", or the address alone under a line ending in a colon).
 *
 * Only the bounce's own text before the quoted original is read, lines that
 * look like quoted header fields are skipped, and neither the bounce's own
 * sender and recipient nor a postmaster address are taken, so that the
 * platform address and the original's addresses never come out as failed.
 */
#include <string.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const prose_from[] = {
    "mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "mail delivery",
    "mail administrator", "mail system", "nobody@", "mdaemon", NULL,
};

static const char *const prose_subject[] = {
    "undeliver", "undelivered", "delivery fail", "delivery status", "returned mail",
    "failure notice", "could not be delivered", "delivery problem", "non-delivery",
    "nondeliver", "not delivered", "mail failure", "delivery error", "error sending",
    "bounce", "rejected", "delivery notification", "mail delivery", "message not delivered",
    NULL,
};

/* Wording that says, on the line that names an address, that it failed. */
static const char *const prose_failure[] = {
    "address rejected", "user unknown", "unknown user", "no such user", "does not exist",
    "doesn't exist", "not found", "could not be delivered", "couldn't be delivered",
    "cannot be delivered", "can't be delivered", "was not delivered", "undeliverable",
    "delivery failed", "failed", "rejected", "invalid", "unknown", "mailbox", "quota",
    "unavailable", "refused", "not accepted", "disabled", "suspended", "is full",
    "no longer", "unable to deliver", "permanent", "not reachable", "did not reach",
    "could not reach", "not deliverable", "delivery has failed", "550", "551", "552",
    "553", "554", NULL,
};

/* Quoted header fields, whose addresses belong to the original message. */
static const char *const prose_header_lines[] = {
    "From:", "To:", "Cc:", "Bcc:", "Reply-To:", "Return-Path:", "Sender:", "Received:",
    "Message-ID:", "In-Reply-To:", "References:", "Delivered-To:", "X-", "for <",
    "Envelope-From", "envelope-from", NULL,
};

/* Addresses the text names that are never the failed recipient. */
static bool
prose_excluded(const char *addr, const classify_msg *msg)
{
    static const char *const own[] = { "From", "To", "Reply-To", "Sender", "Return-Path" };

    if (g_ascii_strncasecmp(addr, "postmaster@", 11) == 0 ||
        g_ascii_strncasecmp(addr, "mailer-daemon@", 14) == 0)
        return true;
    for (size_t i = 0; i < G_N_ELEMENTS(own); i++) {
        const char *h = classify_msg_header(msg, own[i]);
        if (h != NULL && classify_find_ci(h, strlen(h), addr) != NULL)
            return true;
    }
    return false;
}

static bool
prose_starts_with_any(const char *line, size_t len, const char *const *list)
{
    while (len > 0 && (*line == ' ' || *line == '\t' || *line == '>')) {
        line++;
        len--;
    }
    for (size_t i = 0; list[i] != NULL; i++) {
        size_t n = strlen(list[i]);
        if (n <= len && g_ascii_strncasecmp(line, list[i], n) == 0)
            return true;
    }
    return false;
}

/* Length of the paragraph that starts at p: up to the first blank line. */
static size_t
prose_paragraph(const char *p, const char *end)
{
    const char *q = p;

    while (q < end) {
        const char *eol = memchr(q, '\n', (size_t)(end - q));
        eol = eol != NULL ? eol : end;
        bool blank = true;
        for (const char *c = q; c < eol && blank; c++)
            blank = g_ascii_isspace(*c);
        if (blank && q > p)
            break;
        q = eol < end ? eol + 1 : end;
    }
    return (size_t)(q - p);
}

/* True when the last non-blank line before p ends with a colon. */
static bool
prose_after_colon(const char *start, const char *p)
{
    const char *q = p;

    while (q > start && g_ascii_isspace(q[-1]))
        q--;
    return q > start && q[-1] == ':';
}

bool
classify_detect_prose(const classify_msg *msg, classify_report *report)
{
    static const mta_layout bare = { .flags = MTA_RCPT_BARE };
    mta_span sec;

    if (!mta_any(msg->from, prose_from) && !mta_any(msg->subject, prose_subject))
        return false;
    if (!mta_section(msg, NULL, NULL, &sec))
        return false;

    const char *p = sec.p, *end = sec.p + sec.len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        eol = eol != NULL ? eol : end;
        size_t n = (size_t)(eol - p), rest;
        const char *at = memchr(p, '@', n);

        if (at != NULL && !prose_starts_with_any(p, n, prose_header_lines)) {
            char *addr = mta_rcpt_line(p, n, &bare, &rest);
            bool listed = addr != NULL && prose_after_colon(sec.p, p);
            if (!listed) {
                g_free(addr);
                addr = classify_find_address(p, n);
            }
            size_t para = prose_paragraph(p, end);
            if (addr != NULL && !prose_excluded(addr, msg) &&
                (listed || mta_find_any(p, para, prose_failure) != NULL))
                mta_add(report, addr, p, para, NULL);
            g_free(addr);
        }
        p = eol < end ? eol + 1 : end;
    }
    if (report->n_recipients == 0)
        return false;
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
