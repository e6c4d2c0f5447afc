/*
 * text.c - the small text scanners every detector shares (case-insensitive
 * search, DSN status codes, SMTP reply codes, mailboxes) and the recipient
 * list of a report. They work on byte ranges that need not be NUL-terminated
 * and never allocate except for the strings they return, because detectors
 * call them many times per message on the hot path.
 */
#include <stdint.h>
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

/* How classify_find_ci searches: the first window it looks in for the first
 * byte; the candidates it rejects, one every TEXT_DENSE_SPAN bytes or more
 * often, before it turns to folded chunks; the longest needle it folds,
 * and the first and largest chunk. */
#define TEXT_WINDOW_MIN 4096
#define TEXT_DENSE_MISSES 16
#define TEXT_DENSE_SPAN 8
#define TEXT_FOLD_MAX 256
#define TEXT_CHUNK_MIN 256
#define TEXT_CHUNK 4096

/* ASCII lower case, inlined: this runs over every byte of a folded chunk. */
static inline char
text_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

void
classify_lower_ascii(char *dst, const char *src, size_t n)
{
    size_t i = 0;

    /* Eight bytes at a time: a byte is upper case when its high bit is
     * clear and adding 0x3f carries into bit 7 (>= 'A') while adding 0x25
     * does not (<= 'Z'); 0x20 is then that bit shifted down by two. */
    for (; i + 8 <= n; i += 8) {
        uint64_t w, low7, upper;
        memcpy(&w, src + i, 8);
        low7 = w & UINT64_C(0x7f7f7f7f7f7f7f7f);
        upper = ((low7 + UINT64_C(0x3f3f3f3f3f3f3f3f)) ^ (low7 + UINT64_C(0x2525252525252525))) & ~w &
                UINT64_C(0x8080808080808080);
        w |= upper >> 2;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = text_lower(src[i]);
}

/* The rest of a search whose first byte is frequent in hay: hay lower-cased
 * chunk by chunk on the stack and searched with memmem, whose cost does not
 * grow with the number of candidates. Chunks grow from TEXT_CHUNK_MIN so
 * that a near match stays cheap, and overlap by n - 1 bytes so that none is
 * cut at a seam. */
static const char *
text_find_folded(const char *hay, size_t hay_len, const char *needle, size_t n)
{
    char low[TEXT_CHUNK], pat[TEXT_FOLD_MAX];
    size_t chunk = TEXT_CHUNK_MIN;

    for (size_t i = 0; i < n; i++)
        pat[i] = text_lower(needle[i]);
    for (size_t off = 0; off + n <= hay_len;) {
        size_t size = MIN(MIN(MAX(chunk, 2 * n), (size_t)TEXT_CHUNK), hay_len - off);
        classify_lower_ascii(low, hay + off, size);
        const char *hit = memmem(low, size, pat, n);
        if (hit != NULL)
            return hay + off + (size_t)(hit - low);
        off += size - n + 1;
        chunk = MIN(chunk * 2, (size_t)TEXT_CHUNK);
    }
    return NULL;
}

const char *
classify_find_ci(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return hay;
    if (hay == NULL || n > hay_len)
        return NULL;

    /* The byte looked for: an address's '@', which has one case and is
     * rare in text, else the first. */
    const char *at = memchr(needle, '@', n);
    size_t k = at != NULL ? (size_t)(at - needle) : 0;
    unsigned char lo = (unsigned char)g_ascii_tolower(needle[k]);
    unsigned char up = (unsigned char)g_ascii_toupper(needle[k]);
    char before = k > 0 ? text_lower(needle[k - 1]) : '\0';
    char after = k + 1 < n ? text_lower(needle[k + 1]) : '\0';
    const char *end = hay + hay_len - n + 1 + k; /* where that byte may stand + 1 */
    const char *p = hay + k, *run = p;          /* misses are counted from run */
    size_t window = TEXT_WINDOW_MIN, misses = 0;

    /* Either case of the byte is looked for with memchr (vectorised) in a
     * window that doubles while it holds neither and starts small again
     * after each candidate. Searching for a case that does not occur thus
     * costs about the distance to the candidate found, never the rest of
     * hay: callers that search again after each match (for every
     * occurrence of a word) stay linear in the text. Where candidates are
     * dense, the rest is searched in folded chunks. */
    while (p < end) {
        if (misses >= TEXT_DENSE_MISSES && (size_t)(p - run) < misses * TEXT_DENSE_SPAN &&
            n <= TEXT_FOLD_MAX)
            return text_find_folded(p - k, (size_t)(hay + hay_len - (p - k)), needle, n);
        size_t span = MIN(window, (size_t)(end - p));
        const char *a = memchr(p, lo, span);
        const char *b = lo == up ? NULL : memchr(p, up, a != NULL ? (size_t)(a - p) : span);
        const char *c = b != NULL ? b : a;

        if (c == NULL) {
            p += span;
            window *= 2;
            run = p;
            misses = 0;
            continue;
        }
        /* The byte before the '@' tells most addresses apart at once, the
         * byte after most words. */
        bool maybe = (k == 0 || text_lower(c[-1]) == before) && (k + 1 >= n || text_lower(c[1]) == after);
        if (maybe && g_ascii_strncasecmp(c - k, needle, n) == 0)
            return c - k;
        p = c + 1;
        window = TEXT_WINDOW_MIN;
        misses++;
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

char *
classify_address_copy(const char *s, size_t len)
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
            return classify_address_copy(s + a, b - a);
        p++;
    }
    return NULL;
}

/* Finds a recipient by address however many the report has. Built once a
 * report has TEXT_INDEX_MIN recipients: most name one, and fewer are
 * compared in order. A forwarded recipient is found by either of its
 * addresses, the one the platform mailed and the one that failed: a report
 * may name it by both (a DSN block and the text beside it). */
struct classify_report_index {
    GHashTable *by_address; /* address or final (owned by the recipient) -> position + 1 */
};

#define TEXT_INDEX_MIN 8

void
classify_report_index_free(classify_report *report)
{
    if (report->index == NULL)
        return;
    g_hash_table_destroy(report->index->by_address);
    g_free(report->index);
    report->index = NULL;
}

/* The first recipient to hold an address keeps it, as the scan in order
 * finds it. */
static void
text_index_insert(classify_report *report, char *address, size_t pos)
{
    if (!g_hash_table_contains(report->index->by_address, address))
        g_hash_table_insert(report->index->by_address, address, GSIZE_TO_POINTER(pos + 1));
}

static classify_recipient *
text_report_find(classify_report *report, const char *address)
{
    if (report->index == NULL && report->n_recipients >= TEXT_INDEX_MIN) {
        report->index = g_new0(struct classify_report_index, 1);
        report->index->by_address = g_hash_table_new(g_str_hash, g_str_equal);
        for (size_t i = 0; i < report->n_recipients; i++)
            text_index_insert(report, report->recipients[i].address, i);
        for (size_t i = 0; i < report->n_recipients; i++)
            if (report->recipients[i].final != NULL)
                text_index_insert(report, report->recipients[i].final, i);
    }
    if (report->index != NULL) {
        size_t pos = GPOINTER_TO_SIZE(g_hash_table_lookup(report->index->by_address, address));
        return pos > 0 ? &report->recipients[pos - 1] : NULL;
    }
    for (size_t i = 0; i < report->n_recipients; i++)
        if (strcmp(report->recipients[i].address, address) == 0)
            return &report->recipients[i];
    for (size_t i = 0; i < report->n_recipients; i++)
        if (report->recipients[i].final != NULL && strcmp(report->recipients[i].final, address) == 0)
            return &report->recipients[i];
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

    classify_recipient *r = text_report_find(report, norm);
    if (r != NULL || report->n_recipients >= CLASSIFY_MAX_RECIPIENTS) {
        g_free(norm);
        return r;
    }
    /* The array has room for 4, then doubles each time it is full. */
    size_t n = report->n_recipients;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0))
        report->recipients = g_renew(classify_recipient, report->recipients, n == 0 ? 4 : 2 * n);
    r = &report->recipients[report->n_recipients++];
    memset(r, 0, sizeof *r);
    r->address = norm;
    r->action = g_strdup("failed");
    r->diagnostic = g_strdup("");
    r->reason = CLASSIFY_REASON_UNDEFINED;
    if (report->index != NULL)
        text_index_insert(report, norm, report->n_recipients - 1);
    return r;
}

void
classify_report_forwarded(classify_report *report, classify_recipient *rcpt, const char *mailed)
{
    /* The first forward a report names for a recipient is the one kept: both
     * of its addresses are keys of the index, which must not lose them. */
    if (rcpt->final != NULL)
        return;
    char *taken = classify_address_take(mailed);
    if (taken == NULL || strcmp(taken, rcpt->address) == 0) {
        g_free(taken);
        return;
    }
    /* The failed address stays in the index (as final now, which the
     * recipient keeps until the report is freed); the mailed one joins it. */
    rcpt->final = rcpt->address;
    rcpt->address = taken;
    if (report->index != NULL)
        text_index_insert(report, taken, (size_t)(rcpt - report->recipients));
}

/* A diagnostic is kept up to this many bytes: an SMTP reply line has at
 * most 512 (RFC 5321), and the longest multi-line replies a few KiB. */
#define TEXT_DIAGNOSTIC_MAX 8192

void
classify_recipient_set_diagnostic(classify_recipient *rcpt, const char *text, size_t len)
{
    /* The last byte may follow a space at the limit: two past it. */
    char *out = g_malloc(MIN(len, TEXT_DIAGNOSTIC_MAX) + 2);
    size_t n = 0;
    bool space = false;

    for (size_t i = 0; text != NULL && i < len && n < TEXT_DIAGNOSTIC_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        if (g_ascii_isspace(c) || c == '\0') {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    g_free(rcpt->diagnostic);
    if (g_utf8_validate(out, (gssize)n, NULL)) {
        rcpt->diagnostic = out;
    } else {
        rcpt->diagnostic = g_utf8_make_valid(out, (gssize)n);
        g_free(out);
    }
}

void
classify_recipient_set_string(char **field, const char *value)
{
    char *copy = value != NULL ? g_strdup(value) : NULL;

    g_free(*field);
    *field = copy;
}
