/*
 * opensmtpd.c - OpenSMTPD's bounce ("This is the MAILER-DAEMON, please DO
 * NOT REPLY to this e-mail."): "the following list of recipients:" and one
 * "address: error" line each, then "Below is a copy of the original
 * message:". Its delay warnings say "Delivery of your message has been
 * delayed".
 */
#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const opensmtpd_begin[] = {
    "list of recipients:",
    NULL,
};

static const char *const opensmtpd_end[] = {
    "Below is a copy of the original message",
    "Content-Type: message/rfc822",
    NULL,
};

static const char *const opensmtpd_delayed[] = {
    "has been delayed",
    "is delayed for more than",
    "only a temporary failure report",
    NULL,
};

/* OpenSMTPD's own error texts (smtp-replies.md 3.7, Sisimai
 * Lhost/OpenSMTPD.pm). */
static const mta_reason_rule opensmtpd_reasons[] = {
    { "Envelope expired", CLASSIFY_REASON_EXPIRED },
    { "Invalid domain name", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Domain does not exist", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Destination seem to reject all mails", CLASSIFY_REASON_NOTACCEPT },
    { "Address family mismatch on destination MXs", CLASSIFY_REASON_NETWORKERROR },
    { "All routes to destination blocked", CLASSIFY_REASON_NETWORKERROR },
    { "bad DNS lookup error code", CLASSIFY_REASON_NETWORKERROR },
    { "Could not retrieve source address", CLASSIFY_REASON_NETWORKERROR },
    { "Loop detected", CLASSIFY_REASON_NETWORKERROR },
    { "Network error on destination MXs", CLASSIFY_REASON_NETWORKERROR },
    { "No MX found for domain", CLASSIFY_REASON_NETWORKERROR },
    { "No MX found for destination", CLASSIFY_REASON_NETWORKERROR },
    { "No valid route to remote MX", CLASSIFY_REASON_NETWORKERROR },
    { "No valid route to destination", CLASSIFY_REASON_NETWORKERROR },
    { "Temporary failure in MX lookup", CLASSIFY_REASON_NETWORKERROR },
    { "Could not retrieve credentials", CLASSIFY_REASON_SECURITYERROR },
    { NULL, 0 },
};

static const mta_layout opensmtpd_layout = {
    .begin = opensmtpd_begin,
    .end = opensmtpd_end,
    .delayed = opensmtpd_delayed,
    .reasons = opensmtpd_reasons,
    .flags = MTA_RCPT_COLON,
};

bool
classify_detect_opensmtpd(const classify_msg *msg, classify_report *report)
{
    if (msg->text == NULL || classify_find_ci(msg->text, msg->text_len < 512 ? msg->text_len : 512,
                                              "This is the MAILER-DAEMON, please DO NOT REPLY") == NULL)
        return false;
    return mta_parse(msg, report, &opensmtpd_layout) > 0;
}
