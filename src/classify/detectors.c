/*
 * detectors.c - the detector table: which formats the classifier knows and
 * the order it tries them in. The first detector that claims a message wins.
 *
 * Feedback reports and auto-replies go first because their headers say what
 * they are. Standard delivery status notifications come next. Then the
 * mail systems' own formats, and last the plain-prose fallback.
 */
#include "classify/detectors.h"

const classify_detector classify_detectors[] = {
    { "arf", classify_detect_arf },
    { "rfc3834", classify_detect_autoreply },
    { "rfc3464", classify_detect_rfc3464 },
};

const size_t classify_n_detectors = sizeof classify_detectors / sizeof classify_detectors[0];
