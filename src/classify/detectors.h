/*
 * detectors.h - every detector function, for the table in detectors.c.
 * Each returns true when it recognises the message's format and has filled
 * the report (kind, recipients); false leaves the report untouched.
 */
#ifndef BOUNCEDEMAILS_DETECTORS_H
#define BOUNCEDEMAILS_DETECTORS_H

#include "classify/classify_internal.h"

/* Standard formats (arf.c, autoreply.c, rfc3464.c). */
bool classify_detect_arf(const classify_msg *msg, classify_report *report);
bool classify_detect_autoreply(const classify_msg *msg, classify_report *report);
bool classify_detect_notbounce(const classify_msg *msg, classify_report *report);
bool classify_detect_rfc3464(const classify_msg *msg, classify_report *report);

/* The mail systems' own formats (mta/). */
bool classify_detect_amazonses(const classify_msg *msg, classify_report *report);
bool classify_detect_exim(const classify_msg *msg, classify_report *report);
bool classify_detect_postfix(const classify_msg *msg, classify_report *report);
bool classify_detect_sendmail(const classify_msg *msg, classify_report *report);
bool classify_detect_qmail(const classify_msg *msg, classify_report *report);
bool classify_detect_gmail(const classify_msg *msg, classify_report *report);
bool classify_detect_googlegroups(const classify_msg *msg, classify_report *report);
bool classify_detect_aol(const classify_msg *msg, classify_report *report);
bool classify_detect_dragonfly(const classify_msg *msg, classify_report *report);
bool classify_detect_opensmtpd(const classify_msg *msg, classify_report *report);

/* Systems described as data (mta/systems.c). */
bool classify_detect_yahoo(const classify_msg *msg, classify_report *report);
bool classify_detect_x2(const classify_msg *msg, classify_report *report);
bool classify_detect_x1(const classify_msg *msg, classify_report *report);
bool classify_detect_activehunter(const classify_msg *msg, classify_report *report);
bool classify_detect_zoho(const classify_msg *msg, classify_report *report);
bool classify_detect_mailfoundry(const classify_msg *msg, classify_report *report);
bool classify_detect_imailserver(const classify_msg *msg, classify_report *report);
bool classify_detect_exchange2003(const classify_msg *msg, classify_report *report);
bool classify_detect_mfilter(const classify_msg *msg, classify_report *report);
bool classify_detect_notes(const classify_msg *msg, classify_report *report);
bool classify_detect_domino(const classify_msg *msg, classify_report *report);
bool classify_detect_kddi(const classify_msg *msg, classify_report *report);
bool classify_detect_trendmicro(const classify_msg *msg, classify_report *report);
bool classify_detect_x6(const classify_msg *msg, classify_report *report);
bool classify_detect_ezweb(const classify_msg *msg, classify_report *report);
bool classify_detect_biglobe(const classify_msg *msg, classify_report *report);
bool classify_detect_amazonworkmail(const classify_msg *msg, classify_report *report);
bool classify_detect_office365(const classify_msg *msg, classify_report *report);
bool classify_detect_x3(const classify_msg *msg, classify_report *report);
bool classify_detect_x7(const classify_msg *msg, classify_report *report);

bool classify_detect_verizon(const classify_msg *msg, classify_report *report);
bool classify_detect_facebook(const classify_msg *msg, classify_report *report);
bool classify_detect_mailmarshal(const classify_msg *msg, classify_report *report);
bool classify_detect_apachejames(const classify_msg *msg, classify_report *report);
bool classify_detect_fml(const classify_msg *msg, classify_report *report);
bool classify_detect_office365_modern(const classify_msg *msg, classify_report *report);
bool classify_detect_prose(const classify_msg *msg, classify_report *report);

#endif
