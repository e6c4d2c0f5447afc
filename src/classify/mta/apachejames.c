/*
 * apachejames.c - Apache James' bounce (also sent by Verizon's vtext.com
 * gateway): "Error: ..." and "Error message below:" with the remote answer,
 * then "Message details:" whose "RCPT TO: address" lines name the failed
 * recipients. These bounces often declare a multipart whose boundary
 * parameter is lost, so the raw message is read when no text part was found.
 */
#include <string.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

/* James' own text for an unknown local user (Sisimai Lhost/ApacheJames.pm). */
static const mta_layout apachejames_layout = {
    .prefix = (const char *const[]){ "RCPT TO:", NULL },
    .reasons = (const mta_reason_rule[]){
        { "Requested action not taken: no such user here", CLASSIFY_REASON_USERUNKNOWN },
        { NULL, 0 },
    },
    .flags = MTA_RCPT_PREFIXED,
};

bool
classify_detect_apachejames(const classify_msg *msg, classify_report *report)
{
    const char *text = msg->text_len > 0 ? msg->text : msg->raw;
    size_t len = msg->text_len > 0 ? msg->text_len : msg->raw_len;

    if (text == NULL)
        return false;
    const char *error = classify_find_ci(text, len, "Error message below:");
    if (error == NULL)
        return false;
    size_t rest = len - (size_t)(error - text);
    const char *details = classify_find_ci(error, rest, "Message details:");
    if (details == NULL)
        return false;

    /* The recipients, up to the end of the details block. */
    const char *end = text + len;
    const char *stop = strstr(details, "\n\n");
    mta_span sec = { details, (size_t)((stop != NULL && stop < end ? stop : end) - details) };
    mta_span diag = { error, (size_t)(details - error) };
    const char *p = sec.p, *last = sec.p + sec.len;

    while (p < last) {
        const char *eol = memchr(p, '\n', (size_t)(last - p));
        eol = eol != NULL ? eol : last;
        size_t off;
        char *addr = mta_rcpt_line(p, (size_t)(eol - p), &apachejames_layout, &off);
        if (addr != NULL)
            mta_add(report, addr, diag.p, diag.len, &apachejames_layout);
        g_free(addr);
        p = eol < last ? eol + 1 : last;
    }
    if (report->n_recipients == 0)
        return false;
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
