/*
 * autoreply.c - RFC 3834 auto-replies and out-of-office mail: kind
 * autoreply, no failed recipient. The headers say it (Auto-Submitted:
 * auto-replied, X-Autoreply, X-Autorespond, Precedence: auto_reply) or the
 * subject does ("Out of office", "Automatic reply", ...). Many bounces carry
 * Auto-Submitted: auto-replied too, so anything that looks like a bounce
 * (a delivery-status part, a mailer-daemon sender, failure wording, a DSN
 * status code) is left to the bounce detectors.
 */
#include <string.h>
#include "classify/detectors.h"

/* Headers whose presence marks an auto-reply, and the value that must be
 * there (NULL: any value). */
static const struct {
    const char *header;
    const char *value;
} autoreply_headers[] = {
    { "Auto-Submitted", "auto-replied" },
    { "X-Autoreply", NULL },
    { "X-Autorespond", NULL },
    { "X-Autoresponder", NULL },
    { "Precedence", "auto_reply" },
    { "X-Precedence", "auto_reply" },
};

/* Subjects of out-of-office replies, matched case-insensitively anywhere. */
static const char *const autoreply_subjects[] = {
    "out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
    "auto-reply", "auto:", "away from", "away until", "on vacation", "vacation reply",
    "abwesenheit", "automatische antwort", "réponse automatique", "respuesta automática",
    "risposta automatica", "automatisch antwoord", "fuera de la oficina", "absence",
};

/* Wording of bounces that an auto-reply does not use. */
static const char *const autoreply_bounce_words[] = {
    "undeliverable", "undelivered", "not be delivered", "delivery failed", "delivery failure",
    "delivery status", "failure notice", "returned mail", "mail delivery", "delivery has failed",
    "permanent error", "permanent fatal", "user unknown", "no such user", "mailbox unavailable",
    "rejected", "could not deliver", "couldn't be delivered", "unable to deliver", "not delivered",
    "transcript of session", "message could not", "delivery notification", "non remis",
    "nicht zustellbar", "unzustellbar",
};

/* Senders that only ever send bounces. */
static const char *const autoreply_bounce_senders[] = { "mailer-daemon", "postmaster", "mail delivery" };

static bool
autoreply_any(const char *s, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++)
        if (classify_find_ci(s, len, list[i]) != NULL)
            return true;
    return false;
}

static bool
autoreply_marked(const classify_msg *msg)
{
    for (size_t i = 0; i < G_N_ELEMENTS(autoreply_headers); i++) {
        const char *v = classify_msg_header(msg, autoreply_headers[i].header);
        if (v == NULL)
            continue;
        if (autoreply_headers[i].value == NULL ||
            classify_find_ci(v, strlen(v), autoreply_headers[i].value) != NULL)
            return true;
    }
    return autoreply_any(msg->subject, strlen(msg->subject), autoreply_subjects,
                         G_N_ELEMENTS(autoreply_subjects));
}

static bool
autoreply_looks_like_bounce(const classify_msg *msg)
{
    char code[16];

    if (msg->delivery_status != NULL || msg->feedback_report != NULL)
        return true;
    if (autoreply_any(msg->from, strlen(msg->from), autoreply_bounce_senders,
                      G_N_ELEMENTS(autoreply_bounce_senders)))
        return true;
    if (autoreply_any(msg->subject, strlen(msg->subject), autoreply_bounce_words,
                      G_N_ELEMENTS(autoreply_bounce_words)))
        return true;
    if (autoreply_any(msg->text, msg->text_len, autoreply_bounce_words, G_N_ELEMENTS(autoreply_bounce_words)))
        return true;
    return classify_find_status(msg->text, msg->text_len, code);
}

bool
classify_detect_autoreply(const classify_msg *msg, classify_report *report)
{
    if (!autoreply_marked(msg) || autoreply_looks_like_bounce(msg))
        return false;
    report->kind = CLASSIFY_KIND_AUTOREPLY;
    return true;
}
