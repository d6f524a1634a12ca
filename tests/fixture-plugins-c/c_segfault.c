/*
 * Fixture c-segfault: a well-formed C ABI plugin whose strategy `placement` dereferences a NULL
 * pointer on every call (SIGSEGV). In-process that ends the host; tests use it to show what
 * contains it.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

static const char METADATA[] =
    "{\"name\":\"c-segfault\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"dereferences a NULL pointer\"}]}";

uint32_t smo_plugin_abi_version(void) {
    return SMO_C_ABI_VERSION;
}

char *smo_plugin_describe(void) {
    char *text = malloc(sizeof METADATA);
    if (text != NULL) {
        memcpy(text, METADATA, sizeof METADATA);
    }
    return text;
}

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    (void)kind;
    (void)strategy;
    (void)params;
    (void)request;
    /* Read through a volatile variable, the pointer is unknown to the compiler, which must
     * emit the store (no trap instruction instead of it, whatever the optimisation level). */
    volatile int *volatile nowhere = NULL;
    *nowhere = 42;
    *out = NULL;
    return SMO_INTERNAL;
}

void smo_plugin_free(char *text) {
    free(text);
}
