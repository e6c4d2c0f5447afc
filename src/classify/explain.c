/*
 * explain.c - a report told as an operator reads it (`classify --explain`):
 * for each recipient the detector that found it, the evidence (the SMTP
 * stage the failure answered, the codes, the wording matched) and the rule
 * that decided its reason and its verdict, with the rule's source. It reads
 * only what classify_message() recorded, so it says exactly why the daemon
 * acted as it did on the same message.
 */
#include <string.h>
#include "classify/classify_internal.h"

/* How reporting MTAs name the SMTP command a reply answered
 * (smtp-replies.md 4.19: Postfix, Exim, qmail, Sendmail). */
static const struct {
    const char *wording;
    const char *stage;
} explain_stages[] = {
    { "in reply to rcpt to", "RCPT TO" },
    { "after rcpt to", "RCPT TO" },
    { ">>> rcpt to", "RCPT TO" },
    { "does not like recipient", "RCPT TO" },
    { "in reply to mail from", "MAIL FROM" },
    { "after mail from", "MAIL FROM" },
    { ">>> mail from", "MAIL FROM" },
    { "sender was rejected", "MAIL FROM" },
    { "in reply to end of data", "end of DATA" },
    { "after end of data", "end of DATA" },
    { "in reply to data", "DATA" },
    { ">>> data", "DATA" },
    { "failed after i sent the message", "end of DATA" },
    { "in reply to helo", "HELO" },
    { "in reply to ehlo", "EHLO" },
    { "greeting failed", "greeting" },
    { "after initial connection", "greeting" },
};

static const char *
explain_stage(const char *diagnostic)
{
    for (size_t i = 0; i < G_N_ELEMENTS(explain_stages); i++)
        if (classify_find_ci(diagnostic, strlen(diagnostic), explain_stages[i].wording) != NULL)
            return explain_stages[i].stage;
    return "not named";
}

static void
explain_recipient(GString *out, const classify_report *report, const classify_recipient *r)
{
    const classify_evidence *ev = &r->evidence;

    g_string_append_printf(out, "  recipient %s%s\n", r->address,
                           r->valid ? "" : " (not a valid mailbox: recorded as invalid address, never suspended)");
    if (r->final != NULL)
        g_string_append_printf(out, "    failed at: %s (forwarded)\n", r->final);
    g_string_append_printf(out, "    detector: %s\n", report->format);
    g_string_append_printf(out, "    evidence: action %s, stage %s, status %s, reply %s\n", r->action,
                           explain_stage(r->diagnostic), r->status[0] ? r->status : "-",
                           r->reply_code[0] ? r->reply_code : "-");
    g_string_append_printf(out, "    diagnostic: %s\n", r->diagnostic[0] ? r->diagnostic : "(none)");
    g_string_append_printf(out, "    reason: %s, by %s", classify_reason_name(r->reason),
                           ev->rule != NULL ? ev->rule : "the report's kind");
    if (ev->matched != NULL)
        g_string_append_printf(out, ", matched \"%s\"", ev->matched);
    if (ev->source != NULL)
        g_string_append_printf(out, " [source: %s]", ev->source);
    g_string_append_printf(out, "\n    verdict: %s%s, because %s\n", classify_verdict_name(r->verdict),
                           r->hard ? " (hard)" : "",
                           ev->verdict_rule != NULL ? ev->verdict_rule : "of the report's kind");
}

char *
classify_explain(const classify_report *report, const char *source, int message_index)
{
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "%s#%d: kind %s, detector %s, %zu recipient(s)\n", source, message_index,
                           classify_kind_name(report->kind), report->format, report->n_recipients);
    for (size_t i = 0; i < report->n_recipients; i++)
        explain_recipient(out, report, &report->recipients[i]);
    return g_string_free(out, FALSE);
}
