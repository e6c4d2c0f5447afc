/*
 * mta.c - the layout scanner shared by the mail-system detectors: cuts the
 * bounce's own part out of the text and reads its recipient blocks (see
 * mta.h for the layout it expects).
 */
#include <string.h>

#include "classify/mta/mta.h"

/* Lines after which the systems quote the returned message. A section never
 * reaches past them, so that no address of the original is taken. */
const char *const mta_end_common[] = {
    "------ This is a copy of the message",
    "--- Below this line is a copy of the message",
    "----- Original message -----",
    "--- Original message follows",
    "Original message follows",
    "----- Unsent message follows -----",
    "-----Original Message-----",
    "--- The header of the original message is following",
    "Included is a copy of the message header",
    "------- Returned Message --------",
    "---- START OF RETURNED MESSAGE ----",
    "----- The following is a copy of the original message",
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    NULL,
};

/* One recipient block while a section is read. */
typedef struct mta_block {
    char *address;
    const char *diag;
    size_t diag_len;
} mta_block;

bool
mta_any(const char *s, const char *const *list)
{
    if (s == NULL || list == NULL)
        return false;
    return mta_has_any(s, strlen(s), list);
}

/* Markers are looked for in chunks lower-cased on the stack, so that each
 * marker costs one memmem per chunk rather than a case-insensitive compare
 * at every occurrence of its first letter, nothing is allocated, and a
 * marker near the top (the common case) ends the search early. Consecutive
 * chunks overlap by the longest marker, so none is missed at a seam. Only
 * ASCII letters are folded; other bytes compare as they are. */
#define MTA_CHUNK 4096
#define MTA_MARKER_MAX 255

static const char *
mta_search(const char *s, size_t len, const char *const *list, bool earliest)
{
    char low[MTA_CHUNK], needle[MTA_MARKER_MAX];
    const size_t step = MTA_CHUNK - MTA_MARKER_MAX;

    if (s == NULL || list == NULL)
        return NULL;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < MTA_CHUNK ? len - off : MTA_CHUNK;
        const char *best = NULL;

        classify_lower_ascii(low, s + off, n);
        for (size_t k = 0; list[k] != NULL; k++) {
            size_t m = strlen(list[k]);
            if (m == 0 || m > MTA_MARKER_MAX || m > n)
                continue;
            classify_lower_ascii(needle, list[k], m);
            /* Only a match that starts before the best so far can win. */
            size_t limit = best != NULL ? (size_t)(best - low) + m - 1 : n;
            const char *hit = memmem(low, limit < n ? limit : n, needle, m);
            if (hit != NULL && !earliest)
                return s + off + (size_t)(hit - low);
            if (hit != NULL)
                best = hit;
        }
        /* A match past the overlap may have an earlier one cut by the seam:
         * the next chunk holds both whole. */
        if (best != NULL && ((size_t)(best - low) < step || off + n >= len))
            return s + off + (size_t)(best - low);
        if (off + n >= len)
            break;
    }
    return NULL;
}

const char *
mta_find_any(const char *s, size_t len, const char *const *list)
{
    return mta_search(s, len, list, true);
}

bool
mta_has_any(const char *s, size_t len, const char *const *list)
{
    return mta_search(s, len, list, false) != NULL;
}

static const char *
mta_line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl != NULL ? nl : end;
}

bool
mta_section(const classify_msg *msg, const char *const *begin, const char *const *end,
            mta_span *out)
{
    const char *text = msg->text, *stop;

    if (text == NULL || msg->text_len == 0)
        return false;
    stop = text + msg->text_len;
    if (begin != NULL) {
        const char *hit = mta_find_any(text, msg->text_len, begin);
        if (hit == NULL)
            return false;
        text = mta_line_end(hit, stop);
        if (text < stop)
            text++;
    }
    const char *cut = mta_find_any(text, (size_t)(stop - text), end != NULL ? end : mta_end_common);
    if (cut != NULL) {
        while (cut > text && cut[-1] != '\n')
            cut--;
        stop = cut;
    }
    out->p = text;
    out->len = (size_t)(stop - text);
    return true;
}

static bool
mta_local_char(unsigned char c)
{
    if (c >= 0x80 || g_ascii_isalnum(c))
        return true;
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static bool
mta_domain_char(unsigned char c)
{
    return c >= 0x80 || g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
           c == '[' || c == ']' || c == ':';
}

static size_t
mta_skip_blank(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i;
}

char *
mta_strip_route(char *addr)
{
    static const char *const routes[] = { "smtp=", "smtp:", NULL };

    for (size_t i = 0; addr != NULL && routes[i] != NULL; i++) {
        if (g_str_has_prefix(addr, routes[i])) {
            memmove(addr, addr + strlen(routes[i]), strlen(addr) - strlen(routes[i]) + 1);
            break;
        }
    }
    return addr;
}

char *
mta_rcpt_line(const char *line, size_t len, const mta_layout *layout, size_t *rest)
{
    size_t i = mta_skip_blank(line, len, 0);

    if ((layout->flags & MTA_RCPT_COL0) && i > 0)
        return NULL;

    bool prefixed = false;
    for (size_t k = 0; layout->prefix != NULL && layout->prefix[k] != NULL; k++) {
        size_t n = strlen(layout->prefix[k]);
        if (n <= len - i && g_ascii_strncasecmp(line + i, layout->prefix[k], n) == 0) {
            i = mta_skip_blank(line, len, i + n);
            prefixed = true;
            break;
        }
    }
    if (layout->flags & MTA_RCPT_PREFIXED) {
        if (!prefixed)
            return NULL;
        *rest = 0;
        return mta_strip_route(classify_find_address(line + i, len - i));
    }
    if ((layout->flags & MTA_RCPT_CODE) && len - i > 4 && g_ascii_isdigit(line[i]) &&
        g_ascii_isdigit(line[i + 1]) && g_ascii_isdigit(line[i + 2]) && line[i + 3] == ' ')
        i = mta_skip_blank(line, len, i + 4);
    while (i < len && (line[i] == '<' || line[i] == '"' || line[i] == '\''))
        i++;

    size_t a = i;
    while (i < len && mta_local_char((unsigned char)line[i]))
        i++;
    if (i == a || i >= len || line[i] != '@' || line[a] == '.')
        return NULL;
    size_t at = i++;
    bool dot = false;
    while (i < len && mta_domain_char((unsigned char)line[i])) {
        dot = dot || line[i] == '.' || line[i] == '[';
        i++;
    }
    while (i > at + 1 && (line[i - 1] == '.' || line[i - 1] == ':'))
        i--;
    if (i == at + 1 || !dot)
        return NULL;
    size_t b = i;

    while (i < len && (line[i] == '>' || line[i] == '"' || line[i] == '\''))
        i++;
    size_t after = mta_skip_blank(line, len, i);

    bool bracketed = false;

    /* "phrase <mailbox>": what stood first was a display name that looks
     * like an address; the mailbox is the one in angle brackets. */
    if (after < len && line[after] == '<') {
        const char *close = memchr(line + after, '>', len - after);
        const char *at = close != NULL ? memchr(line + after, '@', (size_t)(close - line - after)) : NULL;
        if (at != NULL) {
            a = after + 1;
            if (close - line - (long)a > 7 && g_ascii_strncasecmp(line + a, "mailto:", 7) == 0)
                a += 7;
            b = (size_t)(close - line);
            i = b + 1;
            after = mta_skip_blank(line, len, i);
            bracketed = true;
        }
    }
    unsigned flags = layout->flags;
    bool ok;

    if (after >= len) {
        ok = (flags & MTA_RCPT_BARE) || (bracketed && (flags & MTA_RCPT_TEXT));
    } else if (line[after] == ':') {
        after = mta_skip_blank(line, len, after + 1);
        ok = (flags & MTA_RCPT_COLON) || ((flags & MTA_RCPT_BARE) && after >= len);
    } else if (len - after >= 3 && memcmp(line + after, "...", 3) == 0) {
        after += 3;
        ok = flags & MTA_RCPT_DOTS;
    } else {
        ok = (flags & MTA_RCPT_TEXT) && (after > i || line[after] == ',' || line[after] == '<');
    }
    if (!ok)
        return NULL;
    *rest = after;
    return g_strndup(line + a, b - a);
}

static void
mta_set_codes(classify_recipient *r, const char *diag, size_t len)
{
    char status[16], reply[4];

    if (r->status[0] == '\0' && classify_find_status(diag, len, status))
        g_strlcpy(r->status, status, sizeof r->status);
    if (r->reply_code[0] == '\0' && classify_find_reply_code(diag, len, reply))
        g_strlcpy(r->reply_code, reply, sizeof r->reply_code);
}

/* Wording by which the systems say which SMTP command the failure answered. */
static const struct {
    const char *text;
    mta_command command;
} mta_commands[] = {
    { "RCPT TO", MTA_COMMAND_RCPT },
    { "does not like recipient", MTA_COMMAND_RCPT },
    { "RCPT command", MTA_COMMAND_RCPT },
    { "(RCPT)", MTA_COMMAND_RCPT },
    { "[RCPT_TO]", MTA_COMMAND_RCPT },
    { "SMTP:RCPT", MTA_COMMAND_RCPT },
    { "end of data", MTA_COMMAND_DATA },
    { "DATA command", MTA_COMMAND_DATA },
    { ">>> DATA", MTA_COMMAND_DATA },
    { "(DATA)", MTA_COMMAND_DATA },
    { "failed after I sent the message", MTA_COMMAND_DATA },
    { "our final DATA", MTA_COMMAND_DATA },
    { "-------SMTP command\nDATA", MTA_COMMAND_DATA },
    { "MAIL FROM", MTA_COMMAND_MAIL },
    { "sender was rejected", MTA_COMMAND_MAIL },
    { "after EHLO", MTA_COMMAND_EHLO },
    { "after HELO", MTA_COMMAND_EHLO },
    { "my name was rejected", MTA_COMMAND_EHLO },
    { "initial connection", MTA_COMMAND_CONN },
    { "greeting failed", MTA_COMMAND_CONN },
};

mta_command
mta_find_command(const char *text, size_t len)
{
    const char *best = NULL;
    mta_command found = MTA_COMMAND_NONE;

    for (size_t i = 0; i < G_N_ELEMENTS(mta_commands); i++) {
        const char *hit = classify_find_ci(text, len, mta_commands[i].text);
        if (hit != NULL && (best == NULL || hit < best)) {
            best = hit;
            found = mta_commands[i].command;
        }
    }
    return found;
}

/* The SMTP command the failure answered says whose address was refused.
 * An unknown-user or unknown-domain answer to MAIL FROM is about our sender,
 * so the mail was rejected, not the recipient. At any other stage an unknown
 * user is the recipient (smtp-replies.md 4.19, 4.26). */
static void
mta_refine_by_command(classify_recipient *r, const char *diag, size_t len, mta_command fallback)
{
    if (r->reason != CLASSIFY_REASON_UNDEFINED)
        return;
    classify_reason guess = classify_reason_guess(r->status, r->reply_code, r->diagnostic);
    if (guess != CLASSIFY_REASON_USERUNKNOWN && guess != CLASSIFY_REASON_HOSTUNKNOWN)
        return;
    mta_command command = mta_find_command(diag, len);
    if (command == MTA_COMMAND_NONE)
        command = fallback;
    /* After DATA the receiver had already taken the recipient's domain: a
     * domain it says does not exist is another one, the sender's or one in
     * the content (Exim's "after end of data", smtp-replies.md 4.19). */
    if (command == MTA_COMMAND_MAIL || (command == MTA_COMMAND_DATA && guess == CLASSIFY_REASON_HOSTUNKNOWN))
        r->reason = CLASSIFY_REASON_REJECTED;
}

classify_recipient *
mta_add(classify_report *report, const char *address, const char *diag, size_t diag_len,
        const mta_layout *layout)
{
    if (report->n_recipients >= MTA_MAX_RECIPIENTS)
        return NULL;
    classify_recipient *r = classify_report_add(report, address);

    if (r == NULL)
        return NULL;
    if (diag != NULL && diag_len > 0 && r->diagnostic[0] == '\0')
        classify_recipient_set_diagnostic(r, diag, diag_len);
    mta_set_codes(r, r->diagnostic, strlen(r->diagnostic));
    for (size_t i = 0; layout != NULL && layout->reasons != NULL && layout->reasons[i].text != NULL; i++) {
        if (r->reason == CLASSIFY_REASON_UNDEFINED &&
            classify_find_ci(r->diagnostic, strlen(r->diagnostic), layout->reasons[i].text) != NULL)
            r->reason = layout->reasons[i].reason;
    }
    if (diag != NULL)
        mta_refine_by_command(r, diag, diag_len, layout != NULL ? (mta_command)layout->command
                                                                : MTA_COMMAND_NONE);
    return r;
}

static bool
mta_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isspace(p[i]))
            return false;
    return true;
}

/* A line of a session transcript that belongs to the recipient line below
 * it: the host talked to, a command sent, a reply received, or a host's
 * summary starting with a reply code. */
static bool
mta_transcript_line(const char *p, size_t n)
{
    size_t i = mta_skip_blank(p, n, 0);

    p += i;
    n -= i;
    if (n >= 3 && (memcmp(p, ">>>", 3) == 0 || memcmp(p, "<<<", 3) == 0))
        return true;
    if (n >= 16 && g_ascii_strncasecmp(p, "While talking to", 16) == 0)
        return true;
    return n >= 4 && g_ascii_isdigit(p[0]) && g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2]) &&
           p[3] == ' ';
}

size_t
mta_parse_span(classify_report *report, mta_span sec, const mta_layout *layout)
{
    GArray *blocks = g_array_new(FALSE, TRUE, sizeof(mta_block));
    const char *p = sec.p, *end = sec.p + sec.len;
    const char *pre = NULL, *pre_end = NULL;
    const char *pending = NULL, *pending_end = NULL; /* transcript lines above the
                                                         next recipient line */
    mta_block *cur = NULL;
    size_t before = report->n_recipients;

    while (p < end) {
        const char *eol = mta_line_end(p, end);
        size_t n = (size_t)(eol - p), rest;
        char *addr = mta_rcpt_line(p, n, layout, &rest);

        if (addr != NULL && cur != NULL && g_ascii_strcasecmp(addr, cur->address) == 0) {
            /* The address repeated inside its own error text ("after RCPT
             * TO:\n<address>:") continues the block. */
            g_free(addr);
            cur->diag_len = (size_t)(eol - cur->diag);
        } else if (addr != NULL && blocks->len >= MTA_MAX_RECIPIENTS) {
            g_free(addr);
            break;
        } else if (addr != NULL) {
            mta_block b = { addr, p + rest, n - rest };
            if (pending != NULL) {
                b.diag = pending;
                b.diag_len = (size_t)(eol - pending);
                pending = NULL;
            }
            g_array_append_val(blocks, b);
            cur = &g_array_index(blocks, mta_block, blocks->len - 1);
        } else if ((layout->flags & MTA_DIAG_TRANSCRIPT) && mta_transcript_line(p, n)) {
            /* Talking to another host starts another recipient's text. */
            if (pending == NULL || g_ascii_strncasecmp(p + mta_skip_blank(p, n, 0), "While", 5) == 0)
                pending = p;
            pending_end = eol;
            cur = NULL;
        } else if (pending != NULL) {
            /* Part of the transcript above the next recipient line. */
            if (!mta_blank(p, n))
                pending_end = eol;
        } else if (cur != NULL) {
            cur->diag_len = (size_t)(eol - cur->diag);
        } else if (cur == NULL && !mta_blank(p, n)) {
            if (pre == NULL)
                pre = p;
            pre_end = eol;
        }
        p = eol < end ? eol + 1 : end;
    }

    /* A transcript that no recipient line ends ("554 Too many hops") is
     * the last recipient's. */
    if (pending != NULL && blocks->len > 0) {
        mta_block *last = &g_array_index(blocks, mta_block, blocks->len - 1);
        if (last->diag < pending)
            last->diag_len = (size_t)(pending_end - last->diag);
    }

    /* Recipients listed one under another share the error text of the
     * block that follows them; with MTA_DIAG_BEFORE the text above them. */
    for (guint i = blocks->len; i-- > 0;) {
        mta_block *b = &g_array_index(blocks, mta_block, i);
        if (!mta_blank(b->diag, b->diag_len))
            continue;
        if (i + 1 < blocks->len) {
            mta_block *next = &g_array_index(blocks, mta_block, i + 1);
            b->diag = next->diag;
            b->diag_len = next->diag_len;
        }
        if (mta_blank(b->diag, b->diag_len) && (layout->flags & MTA_DIAG_BEFORE) && pre != NULL) {
            b->diag = pre;
            b->diag_len = (size_t)(pre_end - pre);
        }
    }

    bool delayed = layout->delayed != NULL && mta_has_any(sec.p, sec.len, layout->delayed);
    for (guint i = 0; i < blocks->len; i++) {
        mta_block *b = &g_array_index(blocks, mta_block, i);
        classify_recipient *r = mta_add(report, b->address, b->diag, b->diag_len, layout);
        if (r != NULL && delayed)
            classify_recipient_set_string(&r->action, "delayed");
        g_free(b->address);
    }
    g_array_free(blocks, TRUE);
    if (report->n_recipients > before)
        report->kind = CLASSIFY_KIND_BOUNCE;
    return report->n_recipients - before;
}

/* The reason the notice above the recipients gives for all of them. */
static classify_reason
mta_notice_reason(const classify_msg *msg, mta_span sec, const mta_layout *layout)
{
    size_t len = (size_t)(sec.p + sec.len - msg->text);

    for (size_t k = 0; layout->notice != NULL && layout->notice[k].text != NULL; k++)
        if (classify_find_ci(msg->text, len, layout->notice[k].text) != NULL)
            return layout->notice[k].reason;
    return CLASSIFY_REASON_UNDEFINED;
}

size_t
mta_parse(const classify_msg *msg, classify_report *report, const mta_layout *layout)
{
    mta_span sec;

    if (!mta_section(msg, layout->begin, layout->end, &sec))
        return 0;
    size_t n = mta_parse_span(report, sec, layout);
    classify_reason notice = mta_notice_reason(msg, sec, layout);

    /* It yields to what the recipient's own error text says. */
    for (size_t i = report->n_recipients - n; notice != CLASSIFY_REASON_UNDEFINED && i < report->n_recipients; i++) {
        classify_recipient *r = &report->recipients[i];
        if (r->reason != CLASSIFY_REASON_UNDEFINED)
            continue;
        classify_reason own = classify_reason_guess(r->status, r->reply_code, r->diagnostic);
        if (own == CLASSIFY_REASON_UNDEFINED || own == CLASSIFY_REASON_ONHOLD)
            r->reason = notice;
    }
    if (n > 0 && layout->delayed != NULL && mta_any(msg->subject, layout->delayed)) {
        for (size_t i = report->n_recipients - n; i < report->n_recipients; i++)
            classify_recipient_set_string(&report->recipients[i].action, "delayed");
    }
    return n;
}

bool
mta_detect_system(const mta_system *sys, const classify_msg *msg, classify_report *report)
{
    if (sys->from != NULL && !mta_any(msg->from, sys->from))
        return false;
    if (sys->subject != NULL && !mta_any(msg->subject, sys->subject))
        return false;
    if (sys->text != NULL && (msg->text == NULL ||
        !mta_has_any(msg->text, msg->text_len < 2048 ? msg->text_len : 2048, sys->text)))
        return false;
    return mta_parse(msg, report, &sys->layout) > 0;
}

void
mta_take_expanded(classify_report *report)
{
    for (size_t i = 0; i < report->n_recipients; i++) {
        classify_recipient *r = &report->recipients[i];
        const char *d = r->diagnostic;
        const char *x = g_str_has_prefix(d, "(expanded from") ? d + 14 : NULL;
        if (x == NULL || r->original != NULL)
            continue;
        const char *close = strchr(x, ')');
        char *alias = classify_find_address(x, close != NULL ? (size_t)(close - x) : strlen(x));
        if (alias == NULL)
            continue;
        /* Postfix's alias or forward: the expanded-from address is the one
         * the platform mailed. */
        classify_report_forwarded(report, r, alias);
        g_free(alias);
        if (close != NULL) {
            const char *rest = close + 1;
            while (*rest == ':' || *rest == ' ')
                rest++;
            char *copy = g_strdup(rest);
            classify_recipient_set_diagnostic(r, copy, strlen(copy));
            g_free(copy);
        }
    }
}
