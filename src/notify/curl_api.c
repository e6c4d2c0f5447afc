/*
 * curl_api.c - loads libcurl on first use (curl_api.h) and hands out its
 * functions.
 */
#include "notify/curl_api.h"

#include <pthread.h>

#include "dynlib.h"
#include "log.h"

static notify_curl_api notify_curl;
static const notify_curl_api *notify_curl_loaded;
static pthread_once_t notify_curl_once = PTHREAD_ONCE_INIT;

static void notify_curl_load(void)
{
#define NOTIFY_CURL_SYMBOL(name) "curl_" #name,
#define NOTIFY_CURL_SLOT(name) (void **)&notify_curl.name,
    static const char *const symbols[] = { NOTIFY_CURL_FUNCTIONS(NOTIFY_CURL_SYMBOL) };
    void **const slots[] = { NOTIFY_CURL_FUNCTIONS(NOTIFY_CURL_SLOT) };
#undef NOTIFY_CURL_SYMBOL
#undef NOTIFY_CURL_SLOT
    char err[512];
    /* The SONAME of the libcurl the program is built against (libcurl4). */
    if (dynlib_load("libcurl.so.4", symbols, slots, sizeof symbols / sizeof symbols[0], err, sizeof err) != 0) {
        log_error("notify: %s", err);
        return;
    }
    if (notify_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("notify: libcurl failed to initialise");
        return;
    }
    notify_curl_loaded = &notify_curl;
}

const notify_curl_api *notify_curl_api_get(void)
{
    pthread_once(&notify_curl_once, notify_curl_load);
    return notify_curl_loaded;
}
