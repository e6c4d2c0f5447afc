/*
 * detectors.h - every detector function, for the table in detectors.c.
 */
#ifndef BOUNCEDEMAILS_DETECTORS_H
#define BOUNCEDEMAILS_DETECTORS_H

#include "classify/classify_internal.h"

bool classify_detect_arf(const classify_msg *msg, classify_report *report);
bool classify_detect_autoreply(const classify_msg *msg, classify_report *report);
bool classify_detect_rfc3464(const classify_msg *msg, classify_report *report);

#endif
