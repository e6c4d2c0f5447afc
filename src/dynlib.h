/*
 * dynlib.h - a system library's functions, loaded with dlopen(3) by the
 * command that needs them instead of by the dynamic loader at every start.
 *
 * Every shared library the program is linked against, and each of its own,
 * is mapped and has its symbols bound (Debian builds them BIND_NOW) before
 * main(), whatever the command: libcurl's two dozen cost a process about
 * 4.5 ms of CPU, libsystemd's about 0.4 ms, where a `stdin` run that
 * notifies nobody takes some 6 ms in all. The notifier (libcurl) and the
 * daemon under systemd (libsystemd) load theirs through this; the program
 * keeps only their headers, and a package must depend on the libraries
 * by name.
 */
#ifndef BOUNCEDEMAILS_DYNLIB_H
#define BOUNCEDEMAILS_DYNLIB_H

#include <stddef.h>

/* Loads the library soname (e.g. "libcurl.so.4") and stores the address of
 * the function symbols[i] in *slots[i], for the n of them; a slot is a
 * function pointer seen as void * (the dlsym(3) idiom). The library stays
 * loaded. Returns 0, or -1 with err saying what is missing and every slot
 * NULL. */
int dynlib_load(const char *soname, const char *const symbols[], void **const slots[], size_t n, char *err,
                size_t err_len);

/* The address of entry in the program's module file (e.g.
 * "bouncedemails-daemon.so"), looked for in BOUNCEDEMAILS_MODULE_DIR, else
 * where the build installs it. A module names the build it belongs to
 * (DYNLIB_MODULE_ABI_SYMBOL, which DYNLIB_MODULE_ABI defines); one of
 * another build is refused. NULL, with err saying why (the path included),
 * when it cannot be had. The module stays loaded. */
void *dynlib_module(const char *file, const char *entry, char *err, size_t err_len);

/* In each module: the build it belongs to. */
#define DYNLIB_MODULE_ABI_SYMBOL "bouncedemails_module_abi"
#define DYNLIB_MODULE_ABI \
    __attribute__((visibility("default"))) const char bouncedemails_module_abi[] = BOUNCEDEMAILS_MODULE_ABI

#endif
