/*
 * report_json.c - the report as the JSON object that `bouncedemails classify
 * --json` prints, one per message, with exactly the keys the classifier
 * issue names (jansson).
 */
#include <glib.h>
#include <jansson.h>
#include "classify/classify.h"

/* The report's strings are valid UTF-8 already; a source path need not be,
 * and jansson refuses what is not. */
static json_t *
report_json_str(const char *s)
{
    if (g_utf8_validate(s, -1, NULL))
        return json_string(s);
    char *valid = g_utf8_make_valid(s, -1);
    json_t *j = json_string(valid);
    g_free(valid);
    return j;
}

static json_t *
report_json_string_or_null(const char *s)
{
    return s != NULL ? report_json_str(s) : json_null();
}

static json_t *
report_json_recipient(const classify_recipient *r)
{
    json_t *o = json_object();

    json_object_set_new(o, "address", report_json_str(r->address));
    json_object_set_new(o, "final", report_json_string_or_null(r->final));
    json_object_set_new(o, "original", report_json_string_or_null(r->original));
    /* the other form of the same recipient, whichever it is (the corpus
     * labels' "alias") */
    json_object_set_new(o, "alias", report_json_string_or_null(r->final != NULL ? r->final : r->original));
    json_object_set_new(o, "valid", json_boolean(r->valid));
    json_object_set_new(o, "action", report_json_str(r->action != NULL ? r->action : "failed"));
    json_object_set_new(o, "status", report_json_str(r->status));
    json_object_set_new(o, "reply_code", report_json_str(r->reply_code));
    json_object_set_new(o, "reason", report_json_str(classify_reason_name(r->reason)));
    json_object_set_new(o, "hard", json_boolean(r->hard));
    json_object_set_new(o, "verdict", report_json_str(classify_verdict_name(r->verdict)));
    json_object_set_new(o, "diagnostic", report_json_str(r->diagnostic != NULL ? r->diagnostic : ""));
    json_object_set_new(o, "remote_mta", report_json_string_or_null(r->remote_mta));
    json_object_set_new(o, "feedback_type", report_json_string_or_null(r->feedback_type));
    return o;
}

char *
classify_report_json(const classify_report *report, const char *source, int message_index)
{
    json_t *o = json_object();
    json_t *rcpts = json_array();

    json_object_set_new(o, "source", report_json_str(source != NULL ? source : "-"));
    json_object_set_new(o, "message", json_integer(message_index));
    json_object_set_new(o, "kind", report_json_str(classify_kind_name(report->kind)));
    json_object_set_new(o, "format", report_json_str(report->format != NULL ? report->format : "none"));
    json_object_set_new(o, "platform_address", report_json_string_or_null(report->platform_address));
    for (size_t i = 0; i < report->n_recipients; i++)
        json_array_append_new(rcpts, report_json_recipient(&report->recipients[i]));
    json_object_set_new(o, "recipients", rcpts);

    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}
