/*
 * arf.c - complaint reports: RFC 5965 feedback reports (message/feedback-
 * report, Feedback-Type, Original-Rcpt-To, Removal-Recipient) and the
 * complaint notices of providers that do not send ARF: Microsoft's JMRP
 * (the complained-about message enclosed with X-HmXmrOriginalRecipient) and
 * Apple Mail's unsubscribe requests (X-Apple-Unsubscribe). Kind feedback,
 * one recipient per complained-about address. A report whose fields arrive
 * unwrapped, in the message's own text (a provider's plain format, or a
 * feedback loop forwarded by a person or a ticket system), is read the same
 * when it has Feedback-Type and one of RFC 5965's other required fields.
 *
 * The recipient is what the report names: Original-Rcpt-To, else the
 * Removal-Recipient of an opt-out report (the address to remove), else the
 * enclosed message's recipient. A report that names none stays a feedback
 * report without a recipient; no placeholder address is made up (Sisimai's
 * labels use one, "undisclosed-recipient-in-headers@...", even where a
 * Removal-Recipient is given).
 */
#include <string.h>
#include "classify/detectors.h"

/* Fields of the feedback report naming the complained-about recipients. */
static const char *const arf_recipient_fields[] = { "Original-Rcpt-To", "Removal-Recipient" };

/* Headers of the enclosed message that name its recipient, best first. */
static const char *const arf_original_recipient_headers[] = { "X-HmXmrOriginalRecipient", "To" };

/* The value of every line of s that starts with "name:", in order. */
static GPtrArray *
arf_field_values(const char *s, const char *name)
{
    GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
    size_t n = strlen(name), len = strlen(s);
    const char *end = s + len;

    for (const char *line = s; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > n && line[n] == ':' && g_ascii_strncasecmp(line, name, n) == 0) {
            char *v = g_strndup(line + n + 1, (size_t)(eol - line - n - 1));
            g_ptr_array_add(values, g_strstrip(v));
        }
        line = eol < end ? eol + 1 : end;
    }
    return values;
}

static void
arf_add(classify_report *report, const char *address, const char *type)
{
    classify_recipient *r = classify_report_add(report, address);
    if (r == NULL)
        return;
    r->reason = CLASSIFY_REASON_FEEDBACK;
    classify_recipient_set_string(&r->action, "failed");
    if (r->feedback_type == NULL)
        r->feedback_type = g_ascii_strdown(type, -1);
}

/* The complained-about recipient from the enclosed original's headers. */
static void
arf_add_from_original(const classify_msg *msg, classify_report *report, const char *type)
{
    for (size_t i = 0; i < G_N_ELEMENTS(arf_original_recipient_headers) && report->n_recipients == 0; i++) {
        char *v = classify_msg_original_header(msg, arf_original_recipient_headers[i]);
        if (v != NULL)
            arf_add(report, v, type);
        g_free(v);
    }
}

static bool
arf_detect_report(const classify_msg *msg, classify_report *report, const char *fields)
{
    GPtrArray *types = arf_field_values(fields, "Feedback-Type");
    const char *type = types->len > 0 ? g_ptr_array_index(types, 0) : "abuse";

    for (size_t i = 0; i < G_N_ELEMENTS(arf_recipient_fields) && report->n_recipients == 0; i++) {
        GPtrArray *rcpts = arf_field_values(fields, arf_recipient_fields[i]);
        for (guint j = 0; j < rcpts->len; j++)
            arf_add(report, g_ptr_array_index(rcpts, j), type);
        g_ptr_array_free(rcpts, TRUE);
    }
    arf_add_from_original(msg, report, type);
    g_ptr_array_free(types, TRUE);
    report->kind = CLASSIFY_KIND_FEEDBACK;
    return true;
}

/* RFC 5965 3.1: Feedback-Type, User-Agent and Version are required; the
 * recipient fields name whom the complaint is about. */
static const char *const arf_unwrapped_fields[] = { "User-Agent", "Version", "Original-Rcpt-To",
                                                    "Removal-Recipient" };

static bool
arf_has_field(const char *text, const char *name)
{
    GPtrArray *values = arf_field_values(text, name);
    bool found = values->len > 0;
    g_ptr_array_free(values, TRUE);
    return found;
}

static bool
arf_is_unwrapped(const char *text)
{
    if (!arf_has_field(text, "Feedback-Type"))
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(arf_unwrapped_fields); i++)
        if (arf_has_field(text, arf_unwrapped_fields[i]))
            return true;
    return false;
}

bool
classify_detect_arf(const classify_msg *msg, classify_report *report)
{
    if (msg->feedback_report != NULL)
        return arf_detect_report(msg, report, msg->feedback_report);
    if (msg->text != NULL && arf_is_unwrapped(msg->text))
        return arf_detect_report(msg, report, msg->text);

    /* Microsoft JMRP: the complained-about message, marked, with no report. */
    char *jmrp = classify_msg_original_header(msg, "X-HmXmrOriginalRecipient");
    if (jmrp != NULL) {
        arf_add(report, jmrp, "abuse");
        g_free(jmrp);
        report->kind = CLASSIFY_KIND_FEEDBACK;
        return report->n_recipients > 0;
    }

    /* Apple Mail's unsubscribe: the recipient itself asks to be removed. */
    const char *apple = classify_msg_header(msg, "X-Apple-Unsubscribe");
    if (apple != NULL && g_ascii_strcasecmp(apple, "true") == 0) {
        arf_add(report, msg->from, "opt-out");
        report->kind = CLASSIFY_KIND_FEEDBACK;
        return report->n_recipients > 0;
    }
    return false;
}
