/*
 * gmail.c - Gmail's own bounce (mailer-daemon@googlemail.com, "Delivery
 * Status Notification (Failure|Delay)") in its plain-text form: "Delivery
 * to the following recipient failed permanently:" or "... has been
 * delayed:", the address indented alone on its line, then "Technical details
 * of permanent failure:" and the remote server's answer, and the original
 * after "----- Original message -----".
 */
#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const gmail_begin[] = {
    "Delivery to the following recipient",
    "Delivery to these recipients or groups",
    NULL,
};

static const char *const gmail_end[] = {
    "----- Original message -----",
    "----- Message header follows -----",
    "Content-Type: message/rfc822",
    NULL,
};

static const char *const gmail_delayed[] = {
    "has been delayed",
    "(Delay)",
    NULL,
};

/* Google's own explanations, which carry no reply code of their own. */
static const mta_reason_rule gmail_reasons[] = {
    { "DNS Error: Domain name not found", CLASSIFY_REASON_HOSTUNKNOWN },
    { "DNS Error: DNS server returned answer with no data", CLASSIFY_REASON_HOSTUNKNOWN },
    { "DNS Error: Could not contact DNS servers", CLASSIFY_REASON_EXPIRED },
    { "The recipient server did not accept our requests to connect", CLASSIFY_REASON_EXPIRED },
    { "has been delayed", CLASSIFY_REASON_EXPIRED },
    { NULL, 0 },
};

static const mta_layout gmail_layout = {
    .begin = gmail_begin,
    .end = gmail_end,
    .delayed = gmail_delayed,
    .reasons = gmail_reasons,
    .flags = MTA_RCPT_BARE,
};

bool
classify_detect_gmail(const classify_msg *msg, classify_report *report)
{
    if (!mta_any(msg->from, (const char *const[]){ "mailer-daemon@googlemail.com",
                                                   "mailer-daemon@google.com", NULL }))
        return false;
    return mta_parse(msg, report, &gmail_layout) > 0;
}
