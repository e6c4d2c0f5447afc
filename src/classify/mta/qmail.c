/*
 * qmail.c - qmail-send's bounce ("Hi. This is the qmail-send program at
 * ...") and the many systems that copied its wording (vpopmail, Yahoo's old
 * servers, netqmail forks): "<address>:" on a line of its own, the error text
 * under it, and "--- Below this line is a copy of the message." before the
 * original. A message that only waited too long says "I'm not going to try
 * again; this message has been in the queue too long."
 */
#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const qmail_signature[] = {
    "This is the qmail-send program",
    "I'm afraid I wasn't able to deliver your message",
    "I tried to deliver a bounce message to this address",
    NULL,
};

static const char *const qmail_begin[] = {
    "to the following address",
    "I tried to deliver a bounce message to this address",
    NULL,
};

static const char *const qmail_end[] = {
    "--- Below this line is a copy of the message",
    "--- Below this line is the original bounce",
    "--- Enclosed are the original headers of the message",
    "Content-Type: message/rfc822",
    NULL,
};

/* qmail-remote's and qmail-send's own sentences. */
static const mta_reason_rule qmail_reasons[] = {
    { "Sorry, I couldn't find any host named", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Sorry, I couldn't find any host by that name", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Sorry, I couldn't find a mail exchanger or IP address", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Sorry, no mailbox here by that name", CLASSIFY_REASON_USERUNKNOWN },
    { "account is locked", CLASSIFY_REASON_SUSPEND },
    { "Unable to contact LDAP server", CLASSIFY_REASON_SYSTEMERROR },
    { "Sorry, I wasn't able to establish an SMTP connection", CLASSIFY_REASON_NETWORKERROR },
    { "but my name was rejected", CLASSIFY_REASON_BLOCKED },
    { "but sender was rejected", CLASSIFY_REASON_REJECTED },
    { "this message has been in the queue too long", CLASSIFY_REASON_EXPIRED },
    { NULL, 0 },
};

static const mta_layout qmail_layout = {
    .begin = qmail_begin,
    .end = qmail_end,
    .reasons = qmail_reasons,
    .flags = MTA_RCPT_BARE | MTA_RCPT_COLON,
};

bool
classify_detect_qmail(const classify_msg *msg, classify_report *report)
{
    if (msg->text == NULL ||
        mta_find_any(msg->text, msg->text_len < 1024 ? msg->text_len : 1024, qmail_signature) == NULL)
        return false;
    size_t n = mta_parse(msg, report, &qmail_layout);

    /* The expiry is said once, above the recipients, for all of them. */
    if (n > 0 && classify_find_ci(msg->text, msg->text_len < 1024 ? msg->text_len : 1024,
                                  "in the queue too long") != NULL)
        for (size_t i = 0; i < report->n_recipients; i++)
            if (report->recipients[i].reason == CLASSIFY_REASON_UNDEFINED)
                report->recipients[i].reason = CLASSIFY_REASON_EXPIRED;
    return n > 0;
}
