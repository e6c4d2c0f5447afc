/*
 * fuzz_classify.c - libFuzzer target over the whole classifier: any bytes
 * must end in a report (and its JSON), never a crash, a hang or a leak.
 * Each input is also split as an mbox, the way `bouncedemails classify`
 * reads files.
 */
#include <stdint.h>
#include <stdlib.h>
#include "classify/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    classify_report *rep = classify_message(s, size);
    char *json = classify_report_json(rep, "fuzz", 0);
    if (json == NULL)
        abort(); /* every report must serialise */
    free(json);
    classify_report_free(rep);

    size_t pos = 0, len;
    const char *m;
    int n = 0;
    while (classify_mbox_next(s, size, &pos, &m, &len) && n++ < 4) {
        rep = classify_message(m, len);
        classify_report_free(rep);
    }
    return 0;
}
