/*
 * dynlib.c - loads a system library's functions on demand (dynlib.h).
 */
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"

int dynlib_load(const char *soname, const char *const symbols[], void **const slots[], size_t n, char *err,
                size_t err_len)
{
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(err, err_len, "cannot load %s: %s", soname, dlerror());
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        *slots[i] = dlsym(lib, symbols[i]);
        if (*slots[i] == NULL) {
            snprintf(err, err_len, "%s has no %s: %s", soname, symbols[i], dlerror());
            /* No slot keeps an address into the library let go. */
            for (size_t k = 0; k < i; k++)
                *slots[k] = NULL;
            dlclose(lib);
            return -1;
        }
    }
    return 0;
}

void *dynlib_module(const char *file, const char *entry, char *err, size_t err_len)
{
    const char *dir = getenv("BOUNCEDEMAILS_MODULE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : BOUNCEDEMAILS_MODULE_DIR, file);
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (module == NULL) {
        snprintf(err, err_len, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    const char *abi = dlsym(module, DYNLIB_MODULE_ABI_SYMBOL);
    if (abi == NULL || strcmp(abi, BOUNCEDEMAILS_MODULE_ABI) != 0) {
        snprintf(err, err_len, "%s belongs to another build (%s, this program %s): install the two together",
                 path, abi ? abi : "none named", BOUNCEDEMAILS_MODULE_ABI);
        dlclose(module);
        return NULL;
    }
    void *address = dlsym(module, entry);
    if (address == NULL)
        snprintf(err, err_len, "%s has no %s", path, entry);
    return address;
}
