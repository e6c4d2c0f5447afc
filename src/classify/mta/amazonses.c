/*
 * amazonses.c - Amazon SES notifications delivered by mail through SNS: the
 * body is the JSON notification ("notificationType" or, for event
 * publishing, "eventType": Bounce, Complaint or Delivery) with its
 * recipients, their DSN action, status and diagnostic, or the complaint's
 * feedback type. SNS breaks long lines of the body with "!" and a folded
 * continuation, which is undone before the JSON is read; an SNS envelope
 * ({"Type":"Notification","Message":"..."}) is unwrapped.
 */
#include <string.h>
#include <jansson.h>

#include "classify/detectors.h"
#include "classify/mta/mta.h"

/* bounceSubType values that name the failure more precisely than the
 * diagnostic code does (Amazon SES notification contents; Sisimai
 * Lhost/AmazonSES.pm). */
static const struct {
    const char *subtype;
    classify_reason reason;
} amazonses_subtypes[] = {
    { "NoEmail", CLASSIFY_REASON_USERUNKNOWN },
    { "MailboxFull", CLASSIFY_REASON_MAILBOXFULL },
    { "MessageTooLarge", CLASSIFY_REASON_MESGTOOBIG },
    { "ContentRejected", CLASSIFY_REASON_CONTENTERROR },
    { "AttachmentRejected", CLASSIFY_REASON_CONTENTERROR },
};

/* The JSON object in the text, with SNS's line folds removed. */
static json_t *
amazonses_load(const classify_msg *msg)
{
    const char *open = memchr(msg->text, '{', msg->text_len);
    const char *close = NULL;

    if (open == NULL)
        return NULL;
    for (const char *p = msg->text + msg->text_len; p > open && close == NULL; p--)
        if (p[-1] == '}')
            close = p;
    if (close == NULL)
        return NULL;

    GString *s = g_string_sized_new((gsize)(close - open));
    for (const char *p = open; p < close; p++) {
        if (*p == '!' && p + 2 < close && p[1] == '\n' && p[2] == ' ') {
            p += 2;
            continue;
        }
        if (*p == '\n') {
            if (p + 1 < close && p[1] == ' ')
                p++;
            continue;
        }
        g_string_append_c(s, *p);
    }
    json_t *root = json_loadb(s->str, s->len, 0, NULL);
    g_string_free(s, TRUE);

    json_t *inner = json_is_object(root) ? json_object_get(root, "Message") : NULL;
    if (json_is_string(inner)) {
        json_t *unwrapped = json_loads(json_string_value(inner), 0, NULL);
        json_decref(root);
        root = unwrapped;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static const char *
amazonses_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
amazonses_bounce(json_t *bounce, classify_report *report)
{
    const char *type = amazonses_str(bounce, "bounceType");
    const char *subtype = amazonses_str(bounce, "bounceSubType");
    json_t *list = json_object_get(bounce, "bouncedRecipients");
    size_t i;
    json_t *e;

    json_array_foreach(list, i, e) {
        const char *diag = amazonses_str(e, "diagnosticCode");
        const char *status = amazonses_str(e, "status");
        classify_recipient *r = mta_add(report, amazonses_str(e, "emailAddress"), diag,
                                        diag != NULL ? strlen(diag) : 0, NULL);
        if (r == NULL)
            continue;
        if (status != NULL && strlen(status) < sizeof r->status)
            g_strlcpy(r->status, status, sizeof r->status);
        const char *action = amazonses_str(e, "action");
        if (action != NULL)
            classify_recipient_set_string(&r->action, action);
        else if (type != NULL && strcmp(type, "Transient") == 0)
            classify_recipient_set_string(&r->action, "delayed");
        for (size_t k = 0; subtype != NULL && k < G_N_ELEMENTS(amazonses_subtypes); k++)
            if (strcmp(subtype, amazonses_subtypes[k].subtype) == 0)
                r->reason = amazonses_subtypes[k].reason;
    }
    report->kind = CLASSIFY_KIND_BOUNCE;
}

static void
amazonses_complaint(json_t *complaint, classify_report *report)
{
    const char *type = amazonses_str(complaint, "complaintFeedbackType");
    json_t *list = json_object_get(complaint, "complainedRecipients");
    size_t i;
    json_t *e;

    json_array_foreach(list, i, e) {
        classify_recipient *r = classify_report_add(report, amazonses_str(e, "emailAddress"));
        if (r == NULL)
            continue;
        r->reason = CLASSIFY_REASON_FEEDBACK;
        if (r->feedback_type == NULL)
            r->feedback_type = g_ascii_strdown(type != NULL ? type : "abuse", -1);
    }
    report->kind = CLASSIFY_KIND_FEEDBACK;
}

static void
amazonses_delivery(json_t *delivery, classify_report *report)
{
    const char *diag = amazonses_str(delivery, "smtpResponse");
    json_t *list = json_object_get(delivery, "recipients");
    size_t i;
    json_t *e;

    json_array_foreach(list, i, e) {
        if (!json_is_string(e))
            continue;
        classify_recipient *r = mta_add(report, json_string_value(e), diag,
                                        diag != NULL ? strlen(diag) : 0, NULL);
        if (r != NULL)
            classify_recipient_set_string(&r->action, "delivered");
    }
    report->kind = CLASSIFY_KIND_BOUNCE;
}

bool
classify_detect_amazonses(const classify_msg *msg, classify_report *report)
{
    if (msg->text == NULL || classify_find_ci(msg->text, msg->text_len < 256 ? msg->text_len : 256,
                                              "Type\"") == NULL)
        return false;
    json_t *root = amazonses_load(msg);
    if (root == NULL)
        return false;

    const char *type = amazonses_str(root, "notificationType");
    if (type == NULL)
        type = amazonses_str(root, "eventType");
    if (type == NULL)
        type = "";
    if (strcmp(type, "Bounce") == 0)
        amazonses_bounce(json_object_get(root, "bounce"), report);
    else if (strcmp(type, "Complaint") == 0)
        amazonses_complaint(json_object_get(root, "complaint"), report);
    else if (strcmp(type, "Delivery") == 0)
        amazonses_delivery(json_object_get(root, "delivery"), report);
    json_decref(root);
    return report->n_recipients > 0;
}
