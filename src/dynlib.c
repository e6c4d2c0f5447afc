/*
 * dynlib.c - loads a system library's functions on demand (dynlib.h).
 */
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

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
