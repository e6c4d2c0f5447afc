/*
 * exim.c - Exim's own bounce ("Mail delivery failed: returning message to
 * sender"): each failed address indented by two blanks under "The following
 * address(es) failed:", its error text indented below it, and the copy of
 * the message after "------ This is a copy of the message". Exim also lists
 * the failed addresses in X-Failed-Recipients, which covers the blocks whose
 * first line is a pipe or file ("save to ...") rather than an address.
 * GMX, 1&1, mail.ru and MXLogic send Exim's text, at times reworded.
 */
#include <string.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const exim_subjects[] = {
    "Mail delivery failed",
    "Warning: message",
    "Mail failure",
    "Message frozen",
    "error(s) in forwarding or filtering",
    NULL,
};

static const char *const exim_begin[] = {
    "address(es) failed:",
    "following address failed",
    "\nfailed:",
    "following addresses failed",
    "not yet been delivered",
    "recipient addresses that were",
    "router encountered the following error",
    NULL,
};

static const char *const exim_end[] = {
    "------ This is a copy of",
    "------ The body of the message is",
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    NULL,
};

static const char *const exim_delayed[] = {
    "not yet been delivered",
    "Warning: message",
    NULL,
};

/* Exim's own messages (deliver.c, routers, transports; smtp-replies.md
 * 3.2, Sisimai Lhost/Exim.pm). */
static const mta_reason_rule exim_reasons[] = {
    { "all host address lookups failed permanently", CLASSIFY_REASON_HOSTUNKNOWN },
    { "all relevant MX records point to non-existent hosts", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Unrouteable address", CLASSIFY_REASON_HOSTUNKNOWN },
    { "an MX or SRV record indicated no SMTP service", CLASSIFY_REASON_NOTACCEPT },
    { "no host found for existing SMTP connection", CLASSIFY_REASON_NOTACCEPT },
    { "mailbox is full", CLASSIFY_REASON_MAILBOXFULL },
    { "error: quota exceed", CLASSIFY_REASON_MAILBOXFULL },
    { "malformed address:", CLASSIFY_REASON_SYNTAXERROR },
    { "angle-brackets nested too deep", CLASSIFY_REASON_SYNTAXERROR },
    { "domain missing in source-routed address", CLASSIFY_REASON_SYNTAXERROR },
    { "Too many \"Received\" headers", CLASSIFY_REASON_CONTENTERROR },
    { "retry timeout exceeded", CLASSIFY_REASON_EXPIRED },
    { "all hosts have been failing for a long time", CLASSIFY_REASON_EXPIRED },
    { "retry time not reached for any host after a long failure", CLASSIFY_REASON_EXPIRED },
    { NULL, 0 },
};

static const mta_layout exim_layout = {
    .begin = exim_begin,
    .end = exim_end,
    .delayed = exim_delayed,
    .reasons = exim_reasons,
    .flags = MTA_RCPT_BARE | MTA_RCPT_COLON,
};

/* Adds the X-Failed-Recipients addresses that no block named, with the whole
 * section as their error text: Exim writes a pipe, a file or a bare local
 * part as the block's first line when a router generated the delivery. */
static void
exim_failed_recipients(const classify_msg *msg, classify_report *report)
{
    const char *hdr = classify_msg_header(msg, "X-Failed-Recipients");
    mta_span sec;

    if (hdr == NULL || !mta_section(msg, exim_begin, exim_end, &sec))
        return;
    char **list = g_strsplit_set(hdr, ", \t\r\n", -1);
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strchr(list[i], '@') == NULL)
            continue;
        size_t before = report->n_recipients;
        classify_recipient *r = classify_report_add(report, list[i]);
        if (r != NULL && report->n_recipients > before)
            mta_add(report, list[i], sec.p, sec.len, &exim_layout);
    }
    g_strfreev(list);
    if (report->n_recipients > 0)
        report->kind = CLASSIFY_KIND_BOUNCE;
}

/* "an undisclosed address\n  (generated from user@example.org)": the
 * address a router rewrote into something that cannot be shown. */
static const mta_layout exim_generated = {
    .begin = exim_begin,
    .end = exim_end,
    .reasons = exim_reasons,
    .prefix = (const char *const[]){ "(generated from", "(ultimately generated from", NULL },
    .flags = MTA_RCPT_PREFIXED,
};

bool
classify_detect_exim(const classify_msg *msg, classify_report *report)
{
    bool daemon = g_str_has_prefix(msg->from, "Mail Delivery System") ||
                  classify_msg_header(msg, "X-Failed-Recipients") != NULL;
    bool text = msg->text != NULL &&
                classify_find_ci(msg->text, msg->text_len < 1024 ? msg->text_len : 1024,
                                 "This message was created automatically by mail delivery software") != NULL;

    if (!text && !(daemon && mta_any(msg->subject, exim_subjects)))
        return false;
    if (mta_parse(msg, report, &exim_layout) == 0)
        mta_parse(msg, report, &exim_generated);
    exim_failed_recipients(msg, report);
    return report->n_recipients > 0;
}
