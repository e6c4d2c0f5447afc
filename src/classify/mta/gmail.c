/*
 * gmail.c - Gmail's own bounce (mailer-daemon@googlemail.com, "Delivery
 * Status Notification (Failure|Delay)") in its plain-text form: "Delivery
 * to the following recipient failed permanently:" or "... has been
 * delayed:", the address indented alone on its line, then "Technical details
 * of permanent failure:" and the remote server's answer, and the original
 * after "----- Original message -----"; or, in the current layout, a
 * sentence per recipient (see gmail_current).
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

/* Google's own explanations, which carry no reply code of their own
 * (smtp-replies.md 2.1, Sisimai Lhost/Gmail.pm). */
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

/* The current layout: "** Address not found **", "Your message wasn't
 * delivered to address because ...", "The response was:" and the remote
 * answer. */
static const mta_layout gmail_current = {
    .end = gmail_end,
    .prefix = (const char *const[]){ "Your message wasn't delivered to",
                                     "Your message has not been delivered to",
                                     "There was a problem delivering your message to",
                                     "There was a temporary problem delivering your message to",
                                     NULL },
    .delayed = (const char *const[]){ "There was a temporary problem delivering", "will retry for", NULL },
    .reasons = (const mta_reason_rule[]){
        { "because the address couldn't be found", CLASSIFY_REASON_USERUNKNOWN },
        { "Null MX", CLASSIFY_REASON_NOTACCEPT },
        /* A failed DNS lookup may be the resolver's, not the domain's. */
        { "had no relevant answers", CLASSIFY_REASON_NETWORKERROR },
        { "responded with code NXDOMAIN", CLASSIFY_REASON_NETWORKERROR },
        { NULL, 0 },
    },
    .command = MTA_COMMAND_RCPT,
    .flags = MTA_RCPT_PREFIXED,
};

/* Gmail's and Google Groups' notices come from these senders. */
static const char *const gmail_senders[] = { "mailer-daemon@googlemail.com", "mailer-daemon@google.com", NULL };

bool
classify_detect_gmail(const classify_msg *msg, classify_report *report)
{
    if (!mta_any(msg->from, gmail_senders))
        return false;
    return mta_parse(msg, report, &gmail_layout) > 0 || mta_parse(msg, report, &gmail_current) > 0;
}

/* Google Groups refusing a post: a localised letter ("the group you tried to
 * contact may not exist, or you may not have permission to post") whose
 * only machine-readable part is X-Failed-Recipients, the group's address.
 * It greets the sender by address, so the text is never searched for one. */
bool
classify_detect_googlegroups(const classify_msg *msg, classify_report *report)
{
    const char *failed = classify_msg_header(msg, "X-Failed-Recipients");
    mta_span sec;

    if (failed == NULL || !mta_any(msg->from, gmail_senders))
        return false;
    if (!mta_section(msg, NULL, gmail_end, &sec)) {
        sec.p = NULL;
        sec.len = 0;
    }
    char **list = g_strsplit_set(failed, ", \t\r\n", -1);
    for (size_t i = 0; list[i] != NULL; i++) {
        classify_recipient *r = mta_add(report, list[i], sec.p, sec.len, NULL);
        if (r != NULL && r->reason == CLASSIFY_REASON_UNDEFINED)
            r->reason = CLASSIFY_REASON_REJECTED;
    }
    g_strfreev(list);
    if (report->n_recipients == 0)
        return false;
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
