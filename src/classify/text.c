/*
 * text.c - the small text scanners every detector shares (case-insensitive
 * search, DSN status codes, SMTP reply codes, mailboxes) and the recipient
 * list of a report. They work on byte ranges that need not be NUL-terminated
 * and never allocate except for the strings they return, because detectors
 * call them many times per message on the hot path.
 */
#include <string.h>
#include <stdlib.h>
#include "classify/classify_internal.h"

/* Bytes that may stand in the local part of a mailbox (RFC 5322 atext and
 * the dot), and in a domain. Non-ASCII bytes count as both so that
 * internationalised addresses (RFC 6531) survive. */
static bool
text_is_local_char(unsigned char c)
{
    if (c >= 0x80 || g_ascii_isalnum(c))
        return true;
    return strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL && c != '\0';
}

static bool
text_is_domain_char(unsigned char c)
{
    return c >= 0x80 || g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
}

const char *
classify_find_ci(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return hay;
    if (hay == NULL || n > hay_len)
        return NULL;

    unsigned char lo = (unsigned char)g_ascii_tolower(needle[0]);
    unsigned char up = (unsigned char)g_ascii_toupper(needle[0]);
    const char *end = hay + hay_len - n + 1; /* last possible start + 1 */
    const char *p = hay;

    while (p < end) {
        /* memchr is vectorised: look for either case of the first byte. */
        const char *a = memchr(p, lo, (size_t)(end - p));
        const char *b = lo == up ? NULL : memchr(p, up, (size_t)((a ? a : end) - p));
        const char *c = b != NULL ? b : a;

        if (c == NULL)
            return NULL;
        if (g_ascii_strncasecmp(c + 1, needle + 1, n - 1) == 0)
            return c;
        p = c + 1;
    }
    return NULL;
}

/* True when s[i] starts a token: at the start or after a byte that cannot
 * continue a number ("10.5.1.1" or "x550" must not match). */
static bool
text_token_start(const char *s, size_t i)
{
    if (i == 0)
        return true;
    unsigned char c = (unsigned char)s[i - 1];
    return !g_ascii_isalnum(c) && c != '.' && c != '_';
}

/* True when the token ends at s[i]: end of text, or a byte that is neither a
 * digit nor a dot followed by a digit. */
static bool
text_token_end(const char *s, size_t len, size_t i)
{
    if (i >= len)
        return true;
    unsigned char c = (unsigned char)s[i];
    if (g_ascii_isalnum(c) || c == '_')
        return false;
    if (c == '.' && i + 1 < len && g_ascii_isdigit(s[i + 1]))
        return false;
    return true;
}

/* Length of a run of 1..max digits at s[i], or 0. */
static size_t
text_digits(const char *s, size_t len, size_t i, size_t max)
{
    size_t n = 0;

    while (i + n < len && n <= max && g_ascii_isdigit(s[i + n]))
        n++;
    return n >= 1 && n <= max ? n : 0;
}

bool
classify_find_status(const char *s, size_t len, char out[16])
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i + 5 <= len; i++) {
        char c = s[i];
        if ((c != '2' && c != '4' && c != '5') || s[i + 1] != '.' || !text_token_start(s, i))
            continue;
        size_t j = i + 2;
        size_t a = text_digits(s, len, j, 3);
        if (a == 0 || j + a >= len || s[j + a] != '.')
            continue;
        size_t k = j + a + 1;
        size_t b = text_digits(s, len, k, 3);
        if (b == 0 || !text_token_end(s, len, k + b))
            continue;
        size_t n = k + b - i;
        memcpy(out, s + i, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

bool
classify_find_reply_code(const char *s, size_t len, char out[4])
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i + 3 <= len; i++) {
        char c = s[i];
        if ((c != '2' && c != '4' && c != '5') || !text_token_start(s, i))
            continue;
        if (s[i + 1] < '0' || s[i + 1] > '5' || !g_ascii_isdigit(s[i + 2]))
            continue;
        if (!text_token_end(s, len, i + 3))
            continue;
        memcpy(out, s + i, 3);
        out[3] = '\0';
        return true;
    }
    return false;
}

/* Expands the mailbox around the '@' at s[at]; returns its bounds. */
static bool
text_mailbox_at(const char *s, size_t len, size_t at, size_t *start, size_t *end)
{
    size_t a = at, b = at + 1;

    while (a > 0 && text_is_local_char((unsigned char)s[a - 1]))
        a--;
    while (b < len && text_is_domain_char((unsigned char)s[b]))
        b++;
    while (b > at + 1 && (s[b - 1] == '.' || s[b - 1] == '-'))
        b--;
    if (a == at || b == at + 1)
        return false;
    /* A domain needs at least one letter or digit. */
    bool alnum = false;
    for (size_t i = at + 1; i < b && !alnum; i++)
        alnum = g_ascii_isalnum(s[i]);
    if (!alnum)
        return false;
    *start = a;
    *end = b;
    return true;
}

static char *
text_normalise_copy(const char *s, size_t len)
{
    char *lower = g_ascii_strdown(s, (gssize)len);
    if (!g_utf8_validate(lower, -1, NULL)) {
        char *valid = g_utf8_make_valid(lower, -1);
        g_free(lower);
        lower = valid;
    }
    return lower;
}

char *
classify_find_address(const char *s, size_t len)
{
    const char *p = s, *end = s + len;

    if (s == NULL)
        return NULL;
    while (p < end && (p = memchr(p, '@', (size_t)(end - p))) != NULL) {
        size_t a, b;
        if (text_mailbox_at(s, len, (size_t)(p - s), &a, &b))
            return text_normalise_copy(s + a, b - a);
        p++;
    }
    return NULL;
}

classify_recipient *
classify_report_add(classify_report *report, const char *address)
{
    if (address == NULL)
        return NULL;
    char *norm = classify_address_take(address);
    if (norm == NULL)
        return NULL;

    for (size_t i = 0; i < report->n_recipients; i++) {
        if (strcmp(report->recipients[i].address, norm) == 0) {
            g_free(norm);
            return &report->recipients[i];
        }
    }

    report->recipients = g_renew(classify_recipient, report->recipients, report->n_recipients + 1);
    classify_recipient *r = &report->recipients[report->n_recipients++];
    memset(r, 0, sizeof *r);
    r->address = norm;
    r->action = g_strdup("failed");
    r->diagnostic = g_strdup("");
    r->reason = CLASSIFY_REASON_UNDEFINED;
    return r;
}

void
classify_recipient_set_diagnostic(classify_recipient *rcpt, const char *text, size_t len)
{
    GString *out = g_string_sized_new(len + 1);
    bool space = false;

    for (size_t i = 0; text != NULL && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (g_ascii_isspace(c) || c == '\0') {
            space = out->len > 0;
            continue;
        }
        if (space)
            g_string_append_c(out, ' ');
        space = false;
        g_string_append_c(out, (char)c);
    }
    g_free(rcpt->diagnostic);
    if (g_utf8_validate(out->str, (gssize)out->len, NULL)) {
        rcpt->diagnostic = g_string_free(out, FALSE);
    } else {
        rcpt->diagnostic = g_utf8_make_valid(out->str, (gssize)out->len);
        g_string_free(out, TRUE);
    }
}

void
classify_recipient_set_string(char **field, const char *value)
{
    char *copy = value != NULL ? g_strdup(value) : NULL;

    g_free(*field);
    *field = copy;
}
