/*
 * curl_api.c - loads libcurl on first use (see curl_api.h for why) and
 * hands out its functions.
 */
#include "notify/curl_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include "log.h"

/* The SONAME of the libcurl the program is built against (libcurl4). */
#define NOTIFY_CURL_LIBRARY "libcurl.so.4"

static notify_curl_api notify_curl;
static const notify_curl_api *notify_curl_loaded;
static pthread_once_t notify_curl_once = PTHREAD_ONCE_INIT;

/* The dlsym(3) idiom for a function: its address survives void *. */
static bool notify_curl_symbol(void *lib, const char *symbol, void **slot)
{
    *slot = dlsym(lib, symbol);
    if (*slot == NULL)
        log_error("notify: %s has no %s: %s", NOTIFY_CURL_LIBRARY, symbol, dlerror());
    return *slot != NULL;
}

static void notify_curl_load(void)
{
    /* Stays loaded: curl_global_cleanup is never safe while threads run. */
    void *lib = dlopen(NOTIFY_CURL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        log_error("notify: cannot load libcurl: %s", dlerror());
        return;
    }
    bool found = true;
#define NOTIFY_CURL_LOOKUP(name) found = found && notify_curl_symbol(lib, "curl_" #name, (void **)&notify_curl.name);
    NOTIFY_CURL_FUNCTIONS(NOTIFY_CURL_LOOKUP)
#undef NOTIFY_CURL_LOOKUP
    if (!found)
        return;
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
