/*
 * classify.c - the classifier's entry point: prepares the message once
 * (mime.c), lets the detectors of the table try it in order until one claims
 * it, then finishes every recipient the same way whichever detector found
 * it (reason, hard flag, default verdict) and names the platform address and
 * the original sender. The only shared state is GMime's one-time
 * initialisation, so any number of threads may classify at once.
 */
#include <iconv.h>
#include <string.h>
#include "classify/classify_internal.h"

static const char *const classify_kind_names[] = {
    [CLASSIFY_KIND_UNKNOWN] = "unknown",
    [CLASSIFY_KIND_BOUNCE] = "bounce",
    [CLASSIFY_KIND_FEEDBACK] = "feedback",
    [CLASSIFY_KIND_AUTOREPLY] = "autoreply",
    [CLASSIFY_KIND_DELIVERED] = "delivered",
    [CLASSIFY_KIND_NOTBOUNCE] = "notbounce",
};

static const char *const classify_verdict_names[] = {
    [CLASSIFY_VERDICT_IGNORE] = "ignore",
    [CLASSIFY_VERDICT_TEMPORARY] = "temporary",
    [CLASSIFY_VERDICT_PERMANENT] = "permanent",
    [CLASSIFY_VERDICT_COMPLAINT] = "complaint",
};

/* DSN actions that report success: the recipient did not fail. */
static const char *const classify_success_actions[] = { "delivered", "relayed", "expanded" };

const char *
classify_kind_name(classify_kind kind)
{
    if ((unsigned)kind < G_N_ELEMENTS(classify_kind_names))
        return classify_kind_names[kind];
    return "unknown";
}

const char *
classify_verdict_name(classify_verdict verdict)
{
    if ((unsigned)verdict < G_N_ELEMENTS(classify_verdict_names))
        return classify_verdict_names[verdict];
    return "ignore";
}

bool
classify_verdict_from_name(const char *name, classify_verdict *out)
{
    for (size_t i = 0; name != NULL && i < G_N_ELEMENTS(classify_verdict_names); i++) {
        if (g_ascii_strcasecmp(name, classify_verdict_names[i]) == 0) {
            *out = (classify_verdict)i;
            return true;
        }
    }
    return false;
}

/* Charsets that bounces use most. glibc loads a converter module when the
 * first descriptor for a charset opens and unloads it when the last one
 * closes, so opening and closing one per message part cost more than the
 * parsing. One descriptor each, opened once and never closed, keeps the
 * modules loaded; they are never used for converting, so sharing them
 * between threads is safe. Written once under g_once, then only kept.
 * Pinned from a process's second message on: a `stdin` run classifies one
 * message, and loading fifteen modules (and the libraries they need) for it
 * cost more than the converters it uses, which glibc loads on demand. */
static const char *const classify_pinned_charsets[] = {
    "ISO-8859-1", "WINDOWS-1252", "ISO-8859-15", "ISO-8859-2", "ISO-2022-JP", "SHIFT_JIS", "EUC-JP",
    "EUC-KR", "GB2312", "GBK", "BIG5", "KOI8-R", "WINDOWS-1251", "UTF-7", "UTF-16",
};

static iconv_t classify_pinned[G_N_ELEMENTS(classify_pinned_charsets)];

/* GMime drops, without freeing, the entry that g_mime_init() made for a
 * type when the type is registered again: 16 bytes per type, once. The
 * leak checker ignores what init allocates. */
#if defined(__SANITIZE_ADDRESS__)
#define CLASSIFY_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLASSIFY_LSAN 1
#endif
#endif
#ifdef CLASSIFY_LSAN
#include <sanitizer/lsan_interface.h>
#define classify_lsan_disable() __lsan_disable()
#define classify_lsan_enable() __lsan_enable()
#else
#define classify_lsan_disable() ((void)0)
#define classify_lsan_enable() ((void)0)
#endif

/* Enclosed messages whose body no detector reads: GMime would parse each
 * into a whole message object tree, which costs as much as the bounce. */
static const char *const classify_leaf_message_types[] = { "rfc822", "global", "news" };

static gpointer
classify_init_gmime(gpointer unused)
{
    (void)unused;
    classify_lsan_disable();
    g_mime_init();
    /* Registered as plain parts, the parser keeps their bytes unparsed and
     * mime.c reads the header block from them. Process-wide: nothing else
     * in bouncedemails parses messages with GMime. */
    for (size_t i = 0; i < G_N_ELEMENTS(classify_leaf_message_types); i++)
        g_mime_object_register_type("message", classify_leaf_message_types[i], GMIME_TYPE_PART);
    classify_lsan_enable();
    return NULL;
}

static gpointer
classify_pin_charsets(gpointer unused)
{
    (void)unused;
    for (size_t i = 0; i < G_N_ELEMENTS(classify_pinned_charsets); i++)
        classify_pinned[i] = iconv_open("UTF-8", classify_pinned_charsets[i]);
    return NULL;
}

static void
classify_recipient_clear(classify_recipient *r)
{
    g_free(r->address);
    g_free(r->final);
    g_free(r->original);
    g_free(r->action);
    g_free(r->diagnostic);
    g_free(r->remote_mta);
    g_free(r->feedback_type);
}

/* Drops whatever a detector added before it declined the message. */
static void
classify_report_reset(classify_report *report)
{
    for (size_t i = 0; i < report->n_recipients; i++)
        classify_recipient_clear(&report->recipients[i]);
    classify_report_index_free(report);
    g_free(report->recipients);
    report->recipients = NULL;
    report->n_recipients = 0;
    report->kind = CLASSIFY_KIND_UNKNOWN;
}

void
classify_report_free(classify_report *report)
{
    if (report == NULL)
        return;
    classify_report_reset(report);
    g_free(report->platform_address);
    g_free(report->original_sender);
    g_free(report->original_return_path);
    g_free(report->original_to);
    g_free(report->from);
    g_free(report->to);
    g_free(report->subject);
    g_free(report->message_id);
    g_free(report->x_original_to);
    g_free(report->delivered_to);
    g_free(report);
}

static bool
classify_is_success_action(const char *action)
{
    for (size_t i = 0; action != NULL && i < G_N_ELEMENTS(classify_success_actions); i++)
        if (g_ascii_strcasecmp(action, classify_success_actions[i]) == 0)
            return true;
    return false;
}

/* Reason, hard flag and verdict, the same for every detector. */
static void
classify_finish_recipient(classify_recipient *r)
{
    if (r->action == NULL)
        r->action = g_strdup("failed");
    if (r->diagnostic == NULL)
        r->diagnostic = g_strdup("");
    r->valid = classify_address_is_valid(r->address);
    size_t dlen = strlen(r->diagnostic);
    if (r->status[0] == '\0')
        classify_find_status(r->diagnostic, dlen, r->status);
    if (r->reply_code[0] == '\0')
        classify_find_reply_code(r->diagnostic, dlen, r->reply_code);

    if (classify_is_success_action(r->action)) {
        r->reason = CLASSIFY_REASON_DELIVERED;
        r->hard = false;
        r->verdict = CLASSIFY_VERDICT_IGNORE;
        return;
    }
    classify_decide(r);
    /* A delay is a warning: if delivery finally fails, that failure comes
     * as its own report. */
    if (g_ascii_strcasecmp(r->action, "delayed") == 0) {
        r->verdict = CLASSIFY_VERDICT_IGNORE;
        r->evidence.verdict_rule = "a delay warning: a final failure would come as its own report";
    }
}

/* A bounce whose every recipient was delivered is a delivery report. */
static void
classify_finish_kind(classify_report *report)
{
    if (report->kind != CLASSIFY_KIND_BOUNCE || report->n_recipients == 0)
        return;
    for (size_t i = 0; i < report->n_recipients; i++)
        if (!classify_is_success_action(report->recipients[i].action))
            return;
    report->kind = CLASSIFY_KIND_DELIVERED;
}

/* The address of the one mailbox a To: names, or NULL when it names none
 * or several (a list, a group, a decoded display name is passed over as
 * route.c does). */
static char *
classify_single_mailbox(const char *value)
{
    InternetAddressList *list = value != NULL ? internet_address_list_parse(NULL, value) : NULL;
    if (list == NULL)
        return NULL;
    const char *only = NULL;
    int found = 0;
    for (int i = 0; i < internet_address_list_length(list) && found < 2; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        InternetAddressList *members = INTERNET_ADDRESS_IS_GROUP(ia)
                                           ? internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia))
                                           : NULL;
        int n = members != NULL ? internet_address_list_length(members) : 1;
        for (int j = 0; j < n && found < 2; j++) {
            InternetAddress *m = members != NULL ? internet_address_list_get_address(members, j) : ia;
            const char *addr = INTERNET_ADDRESS_IS_MAILBOX(m)
                                   ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(m))
                                   : NULL;
            if (addr != NULL && strchr(addr, '@') != NULL) {
                only = addr;
                found++;
            }
        }
    }
    char *out = found == 1 ? classify_address_take(only) : NULL;
    g_object_unref(list);
    return out;
}

static void
classify_fill_original(const classify_msg *msg, classify_report *report)
{
    char *sender = classify_msg_original_header(msg, "From");
    if (sender != NULL) {
        report->original_sender = classify_find_address(sender, strlen(sender));
        g_free(sender);
    }
    char *path = classify_msg_original_header(msg, "Return-Path");
    if (path != NULL) {
        report->original_return_path = classify_find_address(path, strlen(path));
        g_free(path);
    }
    char *to = classify_msg_original_header(msg, "To");
    report->original_to = classify_single_mailbox(to);
    g_free(to);
}

static void
classify_fill_headers(const classify_msg *msg, classify_report *report)
{
    report->from = classify_msg_header_dup(msg, "From");
    report->to = classify_msg_header_dup(msg, "To");
    report->subject = classify_msg_header_dup(msg, "Subject");
    report->message_id = classify_msg_header_dup(msg, "Message-ID");
    report->x_original_to = classify_msg_header_dup(msg, "X-Original-To");
    report->delivered_to = classify_msg_header_dup(msg, "Delivered-To");

    /* The headers that name the no-reply address the bounce came back to,
     * most precise first, as decoded above. */
    const char *const platform_headers[] = { report->x_original_to, report->delivered_to, report->to };
    for (size_t i = 0; i < G_N_ELEMENTS(platform_headers) && !report->platform_address; i++) {
        const char *v = platform_headers[i];
        if (v != NULL)
            report->platform_address = classify_find_address(v, strlen(v));
    }
    classify_fill_original(msg, report);
}

classify_report *
classify_message(const char *data, size_t len)
{
    static GOnce gmime_once = G_ONCE_INIT;
    static GOnce pin_once = G_ONCE_INIT;
    static gint messages;
    g_once(&gmime_once, classify_init_gmime, NULL);
    if (g_atomic_int_get(&messages) > 0 || g_atomic_int_add(&messages, 1) > 0)
        g_once(&pin_once, classify_pin_charsets, NULL);

    classify_report *report = g_new0(classify_report, 1);
    report->format = "none";

    classify_msg msg;
    classify_msg_init(&msg, data != NULL ? data : "", data != NULL ? len : 0);
    classify_fill_headers(&msg, report);

    for (size_t i = 0; i < classify_n_detectors; i++) {
        if (classify_detectors[i].detect(&msg, report)) {
            report->format = classify_detectors[i].name;
            break;
        }
        classify_report_reset(report);
    }
    for (size_t i = 0; i < report->n_recipients; i++)
        classify_finish_recipient(&report->recipients[i]);
    classify_finish_kind(report);

    classify_msg_clear(&msg);
    return report;
}

/* True when the line at p (up to eol) is an mbox separator: "From ", a
 * sender, and a date with a hh:mm time. A body line that merely starts with
 * "From " has no such time. */
static bool
classify_is_mbox_from(const char *p, const char *eol)
{
    if (eol - p < 10 || eol - p > 256 || memcmp(p, "From ", 5) != 0)
        return false;
    for (const char *q = p + 6; q + 5 <= eol; q++)
        if (q[2] == ':' && g_ascii_isdigit(q[0]) && g_ascii_isdigit(q[1]) &&
            g_ascii_isdigit(q[3]) && g_ascii_isdigit(q[4]))
            return true;
    return false;
}

/* Line ends may be LF, CRLF or bare CR: the mbox is split before the
 * classifier normalises them. */
static const char *
classify_line_end(const char *p, const char *end)
{
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    return p;
}

static const char *
classify_next_line(const char *eol, const char *end)
{
    if (eol >= end)
        return end;
    if (*eol == '\r' && eol + 1 < end && eol[1] == '\n')
        return eol + 2;
    return eol + 1;
}

static bool
classify_is_blank(const char *p, const char *end)
{
    for (; p < end; p++)
        if (!g_ascii_isspace(*p))
            return false;
    return true;
}

/* True when the line at p (up to eol) is a header field: a name of
 * printable characters but the colon, then a colon (RFC 5322 2.2). */
static bool
classify_is_field_line(const char *p, const char *eol)
{
    const char *c = p;
    while (c < eol && *c > ' ' && *c < 127 && *c != ':')
        c++;
    return c > p && c < eol && *c == ':';
}

/* True when the input is an mbox: its first line that is not blank is a
 * "From " separator. */
static bool
classify_starts_as_mbox(const char *p, const char *end)
{
    while (p < end) {
        const char *eol = classify_line_end(p, end);
        if (!classify_is_blank(p, eol))
            return classify_is_mbox_from(p, eol);
        p = classify_next_line(eol, end);
    }
    return false;
}

/* Whether the "From " line at p starts another message. In an mbox every
 * one does (a body's own are escaped as ">From "). In a plain message only
 * one followed by a header block does (two messages written one after the
 * other); a line of the body that happens to start with "From " and a time
 * does not split the message. */
static bool
classify_is_separator(bool mbox, const char *p, const char *eol, const char *end)
{
    if (!classify_is_mbox_from(p, eol))
        return false;
    if (mbox)
        return true;
    const char *next = classify_next_line(eol, end);
    return classify_is_field_line(next, classify_line_end(next, end));
}

bool
classify_mbox_next(const char *data, size_t len, size_t *pos, const char **msg, size_t *msg_len)
{
    const char *end = data + len;
    bool mbox = classify_starts_as_mbox(data, end);

    while (*pos < len) {
        const char *start = data + *pos;
        const char *eol = classify_line_end(start, end);
        if (classify_is_mbox_from(start, eol))
            start = classify_next_line(eol, end);

        /* The message runs to the next separator line. */
        const char *stop = start;
        while (stop < end) {
            const char *e = classify_line_end(stop, end);
            if (stop != start && classify_is_separator(mbox, stop, e, end))
                break;
            stop = classify_next_line(e, end);
        }
        bool first = *pos == 0;
        *pos = (size_t)(stop - data);
        /* Blank lead-in before the first separator is not a message. */
        if (first && start == data && classify_is_blank(start, stop) && stop < end)
            continue;
        *msg = start;
        *msg_len = (size_t)(stop - start);
        return true;
    }
    return false;
}
