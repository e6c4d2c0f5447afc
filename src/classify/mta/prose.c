/*
 * prose.c - the last resort for bounces that no known layout fits: a message
 * that presents itself as a delivery failure (its sender is a mailer daemon
 * or postmaster, its subject or its opening sentences say so, or it is a
 * multipart/report) and names the failed address in a sentence of its own
 * text ("<a@b>: Recipient address rejected", "Delivery to a@b failed", or
 * the address alone under a line that ends in a colon or says the failure).
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

/* Opening sentences that make a message a failure notice whatever its
 * sender and subject. */
static const char *const prose_opening[] = {
    "could not be delivered", "couldn't be delivered", "undeliverable", "delivery has failed",
    "delivery failed", "was not delivered", "unable to deliver", "permanent error",
    "returned mail", "delivery failure", "non-delivery", NULL,
};

/* Wording that says, near the line that names an address, that it failed. */
static const char *const prose_failure[] = {
    "address rejected", "user unknown", "unknown user", "no such user", "does not exist",
    "doesn't exist", "not found", "could not be delivered", "couldn't be delivered",
    "cannot be delivered", "can't be delivered", "was not delivered", "undeliverable",
    "delivery failed", "failed", "failure", "rejected", "invalid", "unknown", "mailbox", "quota",
    "unavailable", "refused", "not accepted", "disabled", "suspended", "is full",
    "no longer", "unable to deliver", "permanent", "not reachable", "did not reach",
    "could not reach", "not deliverable", "delivery has failed", "not known", "error",
    "intended recipient", "addressed to", "postponed", "delivery problem", "not been delivered",
    "delayed",
    /* Directory look-ups that found no such person. */
    "not match", "not exactly match", "no match",
    "无法发送", "无法送达", "送信できません", "配信できません", "届きません", "zugestellt",
    "non remis", "n'a pas pu", "no pudo ser entregado", "non è stato", "550", "551", "552",
    "553", "554", NULL,
};

/* Wording whose reason the generic table cannot tell: a site's directory
 * look-up that found no such person. The CSO/ph name server's own answer is
 * in Sisimai Reason/UserUnknown.pm; the two sentences before it are the
 * generic wording of such a look-up (RFC 3463 X.1.1 meaning, other words). */
static const mta_layout prose_layout = {
    .reasons = (const mta_reason_rule[]){
        { "did not match any address", CLASSIFY_REASON_USERUNKNOWN },
        { "did not exactly match", CLASSIFY_REASON_USERUNKNOWN },
        { "No matches to nameserver query", CLASSIFY_REASON_USERUNKNOWN },
        { NULL, 0 },
    },
};

/* Wording of a warning that delivery is only delayed and still tried: its
 * recipients have not failed yet. */
static const char *const prose_delayed[] = {
    "not yet been delivered", "this is just a warning", "this is a warning",
    "delivery warning", "delivery delayed", "delivery has been delayed",
    "will continue to attempt", "will continue to try", "attempts will continue",
    "will be retried", "still trying to deliver", "still being retried", "not been delivered yet",
    NULL,
};

/* Quoted header fields, whose addresses belong to the original message. */
static const char *const prose_header_lines[] = {
    "From:", "To:", "Cc:", "Bcc:", "Reply-To:", "Return-Path:", "Sender:", "Received:",
    "Message-ID:", "In-Reply-To:", "References:", "Delivered-To:", "X-", "for <",
    "Envelope-From", "envelope-from", "List-", "Errors-To:", NULL,
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

/* Length of the paragraph that starts at p: up to the first blank line, and
 * never more than PROSE_PARAGRAPH_MAX bytes so that a text without blank
 * lines costs linear time. */
#define PROSE_PARAGRAPH_MAX 512

static size_t
prose_paragraph(const char *p, const char *end)
{
    const char *q = p;

    if (end - p > PROSE_PARAGRAPH_MAX)
        end = p + PROSE_PARAGRAPH_MAX;
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

/* The nearest non-blank line before p (back) or after the line at p, or
 * NULL; *len gets its length. */
static const char *
prose_neighbour(const char *start, const char *end, const char *p, bool back, size_t *len)
{
    const char *q = p;

    for (;;) {
        if (back) {
            if (q <= start)
                return NULL;
            const char *e = q - 1; /* the newline ending the previous line */
            const char *b = e;
            while (b > start && b[-1] != '\n')
                b--;
            q = b;
            *len = (size_t)(e - b);
        } else {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            if (nl == NULL)
                return NULL;
            q = nl + 1;
            const char *e = memchr(q, '\n', (size_t)(end - q));
            *len = (size_t)((e != NULL ? e : end) - q);
        }
        for (size_t i = 0; i < *len; i++)
            if (!g_ascii_isspace(q[i]))
                return q;
    }
}

/* A line that holds one address and little else ("  user@example.org",
 * "-- <user@example.org>", "\"User\" <user@example.org>"). */
static bool
prose_address_only(const char *line, size_t len)
{
    size_t other = 0, ats = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '@') {
            /* Skip the whole mailbox around it. */
            ats++;
            size_t a = i, b = i + 1;
            while (a > 0 && !g_ascii_isspace(line[a - 1]) && strchr("<\"':", line[a - 1]) == NULL)
                a--;
            while (b < len && !g_ascii_isspace(line[b]) && strchr(">\"';,", line[b]) == NULL)
                b++;
            other -= other >= i - a ? i - a : other;
            i = b - 1;
            continue;
        }
        if (!g_ascii_isspace(c) && strchr("<>\"'-*:;,.()[]", c) == NULL)
            other++;
    }
    /* Room for a display name, not for a sentence in any script. */
    return ats >= 1 && ats <= 2 && other <= 20;
}

static bool
prose_ends_with_colon(const char *line, size_t len)
{
    while (len > 0 && g_ascii_isspace(line[len - 1]))
        len--;
    return len > 0 && line[len - 1] == ':';
}

/* True when the address that starts at a in line is introduced as a sender
 * ("not accepting mail from a@b") or a helpdesk ("please contact a@b"),
 * which is never the failed recipient. */
static bool
prose_named_as_sender(const char *line, const char *a)
{
    const char *q = a;

    while (q > line && (q[-1] == ' ' || q[-1] == '<' || q[-1] == '"' || q[-1] == ':'))
        q--;
    return (q - line >= 4 && g_ascii_strncasecmp(q - 4, "from", 4) == 0) ||
           (q - line >= 7 && g_ascii_strncasecmp(q - 7, "contact", 7) == 0);
}

/* The address in a line, without a routing prefix such as Exchange's
 * "SMTP=" or "smtp:". */
static char *
prose_address(const char *line, size_t len, const char **where)
{
    char *addr = mta_strip_route(classify_find_address(line, len));

    if (addr == NULL)
        return NULL;
    const char *at = strchr(addr, '@');
    const char *hit = at != NULL ? classify_find_ci(line, len, addr) : NULL;
    *where = hit != NULL ? hit : line;
    return addr;
}

/* True when the address at where opens its line ("a@b: error",
 * "<a@b> error"): the lines under it are its error text. */
static bool
prose_address_leads(const char *line, const char *where)
{
    while (line < where && strchr(" \t<\"'-*>", *line) != NULL)
        line++;
    return line >= where;
}

/* A sentence ends at '.', '!' or '?' before white space, or at a blank line. */
static bool
prose_sentence_end(const char *q, const char *end)
{
    if (q + 1 < end && (*q == '.' || *q == '!' || *q == '?') && g_ascii_isspace(q[1]))
        return true;
    return q + 1 < end && q[0] == '\n' && q[1] == '\n';
}

/* The sentence around the address at where, within PROSE_PARAGRAPH_MAX
 * bytes each way: an address named in the middle of prose failed only when
 * its own sentence says so, not when a neighbouring one does ("The usual
 * form of address here is x@y. Your address z@w did not match."). */
static mta_span
prose_sentence(mta_span sec, const char *where)
{
    const char *start = sec.p, *end = sec.p + sec.len;
    const char *a = where, *b = where;

    while (a > start && where - a < PROSE_PARAGRAPH_MAX && !prose_sentence_end(a - 1, end))
        a--;
    while (b < end && b - where < PROSE_PARAGRAPH_MAX && !prose_sentence_end(b, end))
        b++;
    return (mta_span){ a, (size_t)(b - a) + (b < end ? 1 : 0) };
}

/* True when the sentence right after s, in the same paragraph, says a
 * failure and names no address of its own ("Could not deliver to a@b. The
 * mailbox is full."). Only the next one: the sentences before an address
 * are the notice's opening, and help text that names addresses follows
 * them. */
static bool
prose_next_sentence_says(mta_span sec, mta_span s)
{
    const char *end = sec.p + sec.len, *q = s.p + s.len;
    int newlines = 0;

    while (q < end && g_ascii_isspace(*q)) {
        newlines += *q == '\n';
        q++;
    }
    if (q >= end || newlines > 1)
        return false;
    mta_span next = prose_sentence(sec, q);
    return memchr(next.p, '@', next.len) == NULL && mta_has_any(next.p, next.len, prose_failure);
}

/* Takes the address of one line when the wording around it says it failed:
 * its paragraph when the address opens the line, else its own sentence or
 * the next; or
 * for an address standing alone the line above (ending in a colon, or
 * saying the failure) or below. */
static void
prose_line(const classify_msg *msg, classify_report *report, mta_span sec, const char *p, size_t n)
{
    const char *end = sec.p + sec.len, *where;
    char *addr = prose_address(p, n, &where);

    if (addr == NULL)
        return;
    size_t para = prose_paragraph(p, end);
    bool failed;

    if (prose_address_leads(p, where)) {
        failed = mta_has_any(p, para, prose_failure);
    } else {
        mta_span s = prose_sentence(sec, where);
        failed = mta_has_any(s.p, s.len, prose_failure) || prose_next_sentence_says(sec, s);
    }

    if (!failed && prose_address_only(p, n)) {
        size_t len;
        const char *prev = prose_neighbour(sec.p, end, p, true, &len);
        /* A list of addresses shares the sentence above it; a list longer
         * than any bounce's is not one. */
        for (int k = 0; prev != NULL && prose_address_only(prev, len) && k < 64; k++)
            prev = prose_neighbour(sec.p, end, prev, true, &len);
        failed = prev != NULL && (prose_ends_with_colon(prev, len) ||
                                  mta_has_any(prev, len, prose_failure));
        const char *next = prose_neighbour(sec.p, end, p, false, &len);
        failed = failed || (next != NULL && mta_has_any(next, len, prose_failure));
        /* The address alone: its error text is the paragraph under it
         * ("Reason: 550 5.1.1 ..."), unless that names addresses itself. */
        size_t under = next != NULL ? prose_paragraph(next, end) : 0;
        if (failed && para <= n + 1 && under > 0 && memchr(next, '@', under) == NULL)
            para = (size_t)(next + under - p);
    }
    if (failed && !prose_excluded(addr, msg) && !prose_named_as_sender(p, where))
        mta_add(report, addr, p, para, &prose_layout);
    g_free(addr);
}

/* The signature delimiter ("-- " alone on its line): what follows is the
 * sender's signature, whose helpdesk addresses never failed. */
static bool
prose_signature_line(const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r'))
        n--;
    return n == 2 && p[0] == '-' && p[1] == '-';
}

bool
classify_detect_prose(const classify_msg *msg, classify_report *report)
{
    mta_span sec;

    if (!mta_any(msg->from, prose_from) && !mta_any(msg->subject, prose_subject) &&
        g_strcmp0(msg->content_type, "multipart/report") != 0 &&
        (msg->text == NULL ||
         !mta_has_any(msg->text, msg->text_len < 1024 ? msg->text_len : 1024, prose_opening)))
        return false;
    if (!mta_section(msg, NULL, NULL, &sec))
        return false;

    const char *p = sec.p, *end = sec.p + sec.len;
    size_t header = 0; /* 1 + the indent of the quoted header field above, or 0 */
    int fields = 0;    /* header fields in a row in the first column */
    while (p < end && report->n_recipients < MTA_MAX_RECIPIENTS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        eol = eol != NULL ? eol : end;
        size_t n = (size_t)(eol - p), indent = 0;

        while (indent < n && (p[indent] == ' ' || p[indent] == '\t'))
            indent++;
        /* A line folded deeper than a quoted header field continues it. */
        if (header == 0 || indent < header || indent == n) {
            header = prose_starts_with_any(p, n, prose_header_lines) ? indent + 1 : 0;
            fields = header == 1 ? fields + 1 : 0;
        }
        /* Header fields one under another open a quoted message whose
         * addresses are never the failed ones, whatever marker (or none)
         * introduced it. */
        if (fields >= 2 || prose_signature_line(p, n))
            break;
        if (!header && memchr(p, '@', n) != NULL)
            prose_line(msg, report, sec, p, n);
        p = eol < end ? eol + 1 : end;
    }
    if (report->n_recipients == 0)
        return false;
    if (mta_any(msg->subject, prose_delayed) || mta_has_any(sec.p, sec.len, prose_delayed))
        for (size_t i = 0; i < report->n_recipients; i++)
            classify_recipient_set_string(&report->recipients[i].action, "delayed");
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
