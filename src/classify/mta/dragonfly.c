/*
 * dragonfly.c - the DragonFly Mail Agent (dma): "This is the DragonFly Mail
 * Agent ...", "There was an error delivering your mail to <address>.", the
 * remote answer, and "Message headers follow." before the original.
 */
#include <string.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

static const char *const dragonfly_end[] = {
    "Message headers follow.",
    "Original message follows.",
    NULL,
};

static const char *const dragonfly_lead[] = {
    "There was an error delivering your mail to",
    NULL,
};

/* The DragonFly Mail Agent's own error texts (dma's source). */
static const mta_reason_rule dragonfly_reasons[] = {
    { "can not connect to", CLASSIFY_REASON_NETWORKERROR },
    { "unable to resolve", CLASSIFY_REASON_HOSTUNKNOWN },
    { "no such domain", CLASSIFY_REASON_HOSTUNKNOWN },
    { "DNS lookup failure", CLASSIFY_REASON_HOSTUNKNOWN },
    { NULL, 0 },
};

static const mta_layout dragonfly_layout = { .reasons = dragonfly_reasons };

bool
classify_detect_dragonfly(const classify_msg *msg, classify_report *report)
{
    mta_span sec;

    if (msg->text == NULL || classify_find_ci(msg->text, msg->text_len < 512 ? msg->text_len : 512,
                                              "This is the DragonFly Mail Agent") == NULL)
        return false;
    if (!mta_section(msg, NULL, dragonfly_end, &sec))
        return false;
    const char *lead = mta_find_any(sec.p, sec.len, dragonfly_lead);
    if (lead == NULL)
        return false;
    const char *stop = sec.p + sec.len;
    const char *eol = memchr(lead, '\n', (size_t)(stop - lead));
    eol = eol != NULL ? eol : stop;
    char *addr = classify_find_address(lead, (size_t)(eol - lead));
    if (addr == NULL)
        return false;
    classify_recipient *r = mta_add(report, addr, eol, (size_t)(stop - eol), &dragonfly_layout);
    g_free(addr);
    if (r == NULL)
        return false;
    report->kind = CLASSIFY_KIND_BOUNCE;
    return true;
}
