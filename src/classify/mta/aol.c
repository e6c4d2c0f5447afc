/*
 * aol.c - AOL's own refusal notice ("Mail Delivery Problem" from
 * MAILER-DAEMON@aol.com): "Your mail to the following recipients could not
 * be delivered because they are not accepting mail from <sender>:" and,
 * indented under it, the recipients by screen name alone. A screen name is
 * a mailbox of the notice's own domain, so the recipient is that name at the
 * domain of the notice's From address; a line that holds a whole address is
 * taken as it stands.
 */
#include <string.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const aol_from[] = { "@aol.com", NULL };

static const char *const aol_begin[] = {
    "following recipients could not be delivered",
    NULL,
};

/* The sentence, every recipient's error text, names the sender as
 * refused, not the recipients (Sisimai Lhost/Aol.pm). */
static const mta_reason_rule aol_reasons[] = {
    { "not accepting mail from", CLASSIFY_REASON_REJECTED },
    { NULL, 0 },
};

static const mta_layout aol_layout = {
    .begin = aol_begin,
    .reasons = aol_reasons,
    .flags = MTA_RCPT_BARE,
};

/* The domain of the notice's own From address, or NULL. Newly allocated. */
static char *
aol_domain(const classify_msg *msg)
{
    char *from = classify_find_address(msg->from, strlen(msg->from));
    char *domain = from != NULL ? g_strdup(strchr(from, '@') + 1) : NULL;

    g_free(from);
    return domain;
}

/* A screen name: one token of letters, digits, dots, dashes and
 * underscores, alone on its line (AOL names are 3 to 32 characters). */
static bool
aol_screen_name(const char *p, size_t n, size_t *a, size_t *b)
{
    size_t i = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    *a = i;
    while (i < n && (g_ascii_isalnum(p[i]) || p[i] == '.' || p[i] == '-' || p[i] == '_'))
        i++;
    *b = i;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    return i == n && *a > 0 && *b - *a >= 3 && *b - *a <= 32;
}

bool
classify_detect_aol(const classify_msg *msg, classify_report *report)
{
    mta_span sec;

    if (!mta_any(msg->from, aol_from) || !mta_section(msg, aol_begin, NULL, &sec))
        return false;
    char *domain = aol_domain(msg);
    if (domain == NULL)
        return false;

    /* The sentence above the first recipient is every recipient's error. */
    const char *diag_end = NULL;
    const char *p = sec.p, *end = sec.p + sec.len;

    while (p < end && report->n_recipients < MTA_MAX_RECIPIENTS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        eol = eol != NULL ? eol : end;
        size_t n = (size_t)(eol - p), a, b, rest;
        char *addr = mta_rcpt_line(p, n, &aol_layout, &rest);

        if (addr == NULL && aol_screen_name(p, n, &a, &b))
            addr = g_strdup_printf("%.*s@%s", (int)(b - a), p + a, domain);
        /* The list ends at the first other line under it. */
        if (addr == NULL && diag_end != NULL && n > 0 && !g_ascii_isspace(*p))
            break;
        if (addr != NULL && diag_end == NULL)
            diag_end = p;
        if (addr != NULL)
            mta_add(report, addr, msg->text, (size_t)(diag_end - msg->text), &aol_layout);
        g_free(addr);
        p = eol < end ? eol + 1 : end;
    }
    g_free(domain);
    if (report->n_recipients == 0)
        return false;
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
