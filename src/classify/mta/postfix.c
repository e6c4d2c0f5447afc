/*
 * postfix.c - Postfix's bounce when it carries no delivery-status part (old
 * versions, or one rewritten by a relay): "This is the Postfix program at
 * host ..." or "This is the mail system at host ...", then one
 * "<address>: error text" block per recipient, continuation lines indented.
 * Postfix notes forwarding as "<address> (expanded from <alias>): ...".
 */
#include <string.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

/* Postfix signs its notice "The Postfix program" (or a distribution's
 * "The Postfix on SuSE Linux ... program", or a site's own name) or "The
 * mail system", after the template's request to delete one's own text. */
static const char *const postfix_begin[] = {
    /* The template's last sentence, whatever name a site signs with. */
    "delete your own text from the",
    "\tThe Postfix",
    "  The Postfix",
    "The mail system\n",
    "The Postfix program\n",
    NULL,
};

static const char *const postfix_end[] = {
    "Content-Description: Undelivered Message",
    "Content-Description: Delivery report",
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    "Reporting-MTA: dns;",
    NULL,
};

static const char *const postfix_signature[] = {
    "This is the Postfix",
    "This is the mail system at host",
    /* The template under a site's own name ("This is the Foomail program"). */
    "I'm sorry to have to inform you that the message returned",
    "I'm sorry to have to inform you that your message could not",
    NULL,
};

static const char *const postfix_delayed[] = {
    "Delayed Mail (still being retried)",
    "This is a warning only",
    NULL,
};

static const mta_layout postfix_layout = {
    .begin = postfix_begin,
    .end = postfix_end,
    .delayed = postfix_delayed,
    .flags = MTA_RCPT_COLON | MTA_RCPT_TEXT | MTA_RCPT_BARE | MTA_RCPT_COL0,
};

/* "--- Delivery report unavailable ---": Postfix lost the report, so the
 * returned message's recipients are the only ones it can have failed. */
static bool
postfix_unavailable(const classify_msg *msg, classify_report *report)
{
    if (classify_find_ci(msg->text, msg->text_len, "--- Delivery report unavailable ---") == NULL)
        return false;
    char *to = classify_msg_original_header(msg, "To");
    if (to == NULL)
        return false;
    char **list = g_strsplit(to, ",", -1);
    for (size_t i = 0; list[i] != NULL; i++)
        classify_report_add(report, list[i]);
    g_strfreev(list);
    g_free(to);
    if (report->n_recipients == 0)
        return false;
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}

bool
classify_detect_postfix(const classify_msg *msg, classify_report *report)
{
    mta_span sec;

    if (msg->text == NULL ||
        !mta_has_any(msg->text, msg->text_len < 2048 ? msg->text_len : 2048, postfix_signature))
        return false;
    /* Translated or rewritten notices may lack the signature line: then the
     * recipient lines, which alone start with '<' in the first column, are
     * read from the top. */
    if (!mta_section(msg, postfix_begin, postfix_end, &sec) &&
        !mta_section(msg, NULL, postfix_end, &sec))
        return false;
    if (mta_parse_span(report, sec, &postfix_layout) == 0)
        return postfix_unavailable(msg, report);
    mta_take_expanded(report);
    if (mta_any(msg->subject, postfix_delayed) || mta_has_any(sec.p, sec.len, postfix_delayed))
        for (size_t i = 0; i < report->n_recipients; i++)
            classify_recipient_set_string(&report->recipients[i].action, "delayed");
    return true;
}
