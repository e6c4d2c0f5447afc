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
    "unable to deliver your message to the following addresses",
    "Su mensaje no pudo ser entregado",
    "This is the machine generated message from mail service",
    "This is the mail delivery agent at",
    "Unfortunately, your mail was not delivered to the following address",
    "Your mail message to the following address",
    "Your message to the following addresses",
    NULL,
};

/* The sentence that introduces the "<address>:" blocks, in qmail and in the
 * qmail-based services that reworded it. */
static const char *const qmail_begin[] = {
    "to the following address",
    "I tried to deliver a bounce message to this address",
    "Su mensaje no pudo ser entregado",
    "This is the machine generated message from mail service",
    "This is the mail delivery agent at",
    NULL,
};

static const char *const qmail_end[] = {
    "--- Below this line is a copy of the message",
    "---Below this line is a copy of the message",
    "--- Original message follows",
    "--- Below this line is the original bounce",
    "--- Enclosed are the original headers of the message",
    "Content-Type: message/rfc822",
    NULL,
};

/* qmail-remote's and qmail-send's own sentences, and those of the
 * qmail-ldap and vpopmail patches (smtp-replies.md 3.4, Sisimai
 * Lhost/qmail.pm). */
static const mta_reason_rule qmail_reasons[] = {
    { "Sorry, I couldn't find any host named", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Sorry, I couldn't find any host by that name", CLASSIFY_REASON_HOSTUNKNOWN },
    { "Sorry, I couldn't find a mail exchanger or IP address", CLASSIFY_REASON_NOTACCEPT },
    { "Although I'm listed as a best-preference MX or A for that host", CLASSIFY_REASON_NETWORKERROR },
    { "Mailaddress is administratively disabled", CLASSIFY_REASON_SUSPEND },
    { "Mailaddress is administrativley disabled", CLASSIFY_REASON_SUSPEND },
    { "The message exeeded the maximum size the user accepts", CLASSIFY_REASON_EXCEEDLIMIT },
    { "Message size exceeds fixed maximum message size", CLASSIFY_REASON_MESGTOOBIG },
    { "Requested action not taken: mailbox unavailable (not enough free space)", CLASSIFY_REASON_SYSTEMFULL },
    { "disk quota exceeded", CLASSIFY_REASON_MAILBOXFULL },
    { "Automatic homedir creator crashed", CLASSIFY_REASON_SYSTEMERROR },
    { "Illegal value in LDAP attribute", CLASSIFY_REASON_SYSTEMERROR },
    { "LDAP attribute is not given but mandatory", CLASSIFY_REASON_SYSTEMERROR },
    { "Timeout while performing search on LDAP server", CLASSIFY_REASON_SYSTEMERROR },
    { "Too many results returned but needs to be unique", CLASSIFY_REASON_SYSTEMERROR },
    { "error while executing qmail-forward", CLASSIFY_REASON_SYSTEMERROR },
    { "error in automatic homedir creation", CLASSIFY_REASON_SYSTEMERROR },
    { "Temporary failure in LDAP lookup", CLASSIFY_REASON_SYSTEMERROR },
    { "Unable to login into LDAP server", CLASSIFY_REASON_SYSTEMERROR },
    { "bad interpreter: No such file or directory", CLASSIFY_REASON_SYSTEMERROR },
    { "Sorry, no mailbox here by that name", CLASSIFY_REASON_USERUNKNOWN },
    { "account is locked", CLASSIFY_REASON_SUSPEND },
    { "Unable to contact LDAP server", CLASSIFY_REASON_SYSTEMERROR },
    { "Sorry, I wasn't able to establish an SMTP connection", CLASSIFY_REASON_NETWORKERROR },
    { "but my name was rejected", CLASSIFY_REASON_BLOCKED },
    { NULL, 0 },
};

/* The expiry is said once, above the recipients, for all of them. */
static const mta_reason_rule qmail_notice[] = {
    { "this message has been in the queue too long", CLASSIFY_REASON_EXPIRED },
    { NULL, 0 },
};

static const mta_layout qmail_layout = {
    .begin = qmail_begin,
    .end = qmail_end,
    .reasons = qmail_reasons,
    .notice = qmail_notice,
    .command = MTA_COMMAND_RCPT,
    .flags = MTA_RCPT_BARE | MTA_RCPT_COLON,
};

/* qmail's own subject: a reworded notice under it is still read from the
 * top for its "<address>:" blocks. */
static const mta_layout qmail_top = {
    .end = qmail_end,
    .reasons = qmail_reasons,
    .notice = qmail_notice,
    .command = MTA_COMMAND_RCPT,
    .flags = MTA_RCPT_BARE | MTA_RCPT_COLON | MTA_RCPT_COL0,
};

bool
classify_detect_qmail(const classify_msg *msg, classify_report *report)
{
    if (msg->text == NULL)
        return false;
    if (mta_has_any(msg->text, msg->text_len < 1024 ? msg->text_len : 1024, qmail_signature) &&
        mta_parse(msg, report, &qmail_layout) > 0)
        return true;
    if (g_ascii_strcasecmp(msg->subject, "failure notice") != 0 &&
        !g_str_has_prefix(msg->subject, "Permanent Delivery Failure"))
        return false;
    return mta_parse(msg, report, &qmail_top) > 0;
}
