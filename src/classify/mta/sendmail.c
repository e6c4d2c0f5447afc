/*
 * sendmail.c - Sendmail's bounce when no delivery-status part carries it
 * (V5-era sendmail, sendmail without DSN support, and the many systems that
 * imitate its layout): "----- The following addresses had permanent fatal
 * errors -----" with one "<address>" per line and its "(reason: ...)", and
 * "----- Transcript of session follows -----" whose "554 <address>... text"
 * lines name each failed address with its error.
 */
#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const sendmail_signature[] = {
    "----- Transcript of session follows -----",
    "following addresses had permanent fatal errors",
    "following addresses had transient non-fatal errors",
    "following addresses had delivery problems",
    NULL,
};

static const char *const sendmail_begin[] = {
    "following addresses had permanent fatal errors",
    "following addresses had transient non-fatal errors",
    "----- Transcript of session follows -----",
    NULL,
};

static const char *const sendmail_end[] = {
    "----- Unsent message follows -----",
    "----- Original message follows -----",
    "----- Message header follows -----",
    "----- Returned message follows -----",
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    "Reporting-MTA:",
    NULL,
};

static const char *const sendmail_delayed[] = {
    "transient non-fatal errors",
    "Warning: could not send message",
    NULL,
};

/* Sendmail's own texts (smtp-replies.md 3.3, Sisimai Lhost/Sendmail.pm). */
static const mta_reason_rule sendmail_reasons[] = {
    { "Host unknown", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Cannot send message for", CLASSIFY_REASON_EXPIRED },
    { "User unknown", CLASSIFY_REASON_USERUNKNOWN },
    { NULL, 0 },
};

static const mta_layout sendmail_layout = {
    .begin = sendmail_begin,
    .end = sendmail_end,
    .delayed = sendmail_delayed,
    .reasons = sendmail_reasons,
    .flags = MTA_RCPT_BARE | MTA_RCPT_DOTS | MTA_RCPT_CODE | MTA_DIAG_TRANSCRIPT,
};

bool
classify_detect_sendmail(const classify_msg *msg, classify_report *report)
{
    if (!g_str_has_prefix(msg->subject, "Returned mail") &&
        !mta_any(msg->from, (const char *const[]){ "Mail Delivery Subsystem", NULL }))
        return false;
    if (msg->text == NULL || !mta_has_any(msg->text, msg->text_len, sendmail_signature))
        return false;
    if (mta_parse(msg, report, &sendmail_layout) == 0)
        return false;
    mta_take_expanded(report);
    return true;
}
