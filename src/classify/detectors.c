/*
 * detectors.c - the detector table: which formats the classifier knows and
 * the order it tries them in. The first detector that claims a message wins.
 *
 * Feedback reports and auto-replies go first because their headers say what
 * they are. Standard delivery status notifications come next, ahead of every
 * mail system's own text: measured on the corpus, a system's delivery-status
 * part is as complete as its prose or more (status codes, original
 * recipients), and putting the text detectors first lowered recall and
 * reason agreement. Then the mail systems' own formats, those with the
 * narrowest signatures before those whose wording others copy, and last the
 * plain-prose fallback.
 */
#include "classify/detectors.h"

const classify_detector classify_detectors[] = {
    { "arf", classify_detect_arf },
    { "rfc3834", classify_detect_autoreply },
    { "rfc3464", classify_detect_rfc3464 },
    { "amazonses", classify_detect_amazonses },
    { "exim", classify_detect_exim },
    { "postfix", classify_detect_postfix },
    { "sendmail", classify_detect_sendmail },
    /* Yahoo! words qmail's notice its own way under qmail's subject. */
    { "yahoo", classify_detect_yahoo },
    { "qmail", classify_detect_qmail },
    { "gmail", classify_detect_gmail },
    { "googlegroups", classify_detect_googlegroups },
    { "aol", classify_detect_aol },
    { "dragonfly", classify_detect_dragonfly },
    { "opensmtpd", classify_detect_opensmtpd },
    { "x2", classify_detect_x2 },
    { "x1", classify_detect_x1 },
    { "activehunter", classify_detect_activehunter },
    { "zoho", classify_detect_zoho },
    { "mailfoundry", classify_detect_mailfoundry },
    { "imailserver", classify_detect_imailserver },
    { "exchange2003", classify_detect_exchange2003 },
    { "mfilter", classify_detect_mfilter },
    { "notes", classify_detect_notes },
    { "domino", classify_detect_domino },
    { "kddi", classify_detect_kddi },
    { "trendmicro", classify_detect_trendmicro },
    { "x6", classify_detect_x6 },
    { "ezweb", classify_detect_ezweb },
    { "biglobe", classify_detect_biglobe },
    { "amazonworkmail", classify_detect_amazonworkmail },
    { "office365", classify_detect_office365 },
    { "office365", classify_detect_office365_modern },
    { "x3", classify_detect_x3 },
    { "x7", classify_detect_x7 },
    { "verizon", classify_detect_verizon },
    { "facebook", classify_detect_facebook },
    { "mailmarshal", classify_detect_mailmarshal },
    { "apachejames", classify_detect_apachejames },
    { "fml", classify_detect_fml },
    /* Last: any failure notice that names an address in a sentence. */
    { "prose", classify_detect_prose },
    /* After every bounce format: a person's reply or spam (autoreply.c). */
    { "notbounce", classify_detect_notbounce },
};

const size_t classify_n_detectors = sizeof classify_detectors / sizeof classify_detectors[0];
