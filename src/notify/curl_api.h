/*
 * curl_api.h - libcurl, loaded when the notifier first needs it rather than
 * when the program starts (internal to the notifier; dynlib.h says why).
 * A process that notifies nobody, such as a `stdin` run for a soft bounce,
 * never loads it; the daemon loads it at start-up (notify_start), where a
 * missing libcurl is a start-up error.
 */
#ifndef BOUNCEDEMAILS_NOTIFY_CURL_API_H
#define BOUNCEDEMAILS_NOTIFY_CURL_API_H

#include <curl/curl.h>

/* The libcurl functions the notifier calls, with libcurl's own types.
 * (Short names: curl.h defines curl_easy_setopt and others as macros.) */
#define NOTIFY_CURL_FUNCTIONS(X) \
    X(global_init) X(easy_init) X(easy_cleanup) X(easy_setopt) X(easy_getinfo) X(easy_strerror) \
    X(multi_init) X(multi_cleanup) X(multi_setopt) X(multi_add_handle) X(multi_remove_handle) \
    X(multi_perform) X(multi_poll) X(multi_wakeup) X(multi_info_read) X(slist_append) X(slist_free_all)

typedef struct notify_curl_api {
#define NOTIFY_CURL_FIELD(name) __typeof__(curl_##name) *name;
    NOTIFY_CURL_FUNCTIONS(NOTIFY_CURL_FIELD)
#undef NOTIFY_CURL_FIELD
} notify_curl_api;

/* libcurl's functions, loaded and initialised (curl_global_init) on the
 * first call, by whichever thread makes it; NULL when libcurl cannot be
 * loaded or initialised, which is logged once. */
const notify_curl_api *notify_curl_api_get(void);

#endif
