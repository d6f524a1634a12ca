/*
 * Fixture c-no-free: exports smo_plugin_abi_version, smo_plugin_describe and smo_plugin_call
 * but not smo_plugin_free, so the host could never give back what it returns: an incomplete
 * plugin, to be refused when loaded.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

static const char METADATA[] =
    "{\"name\":\"c-no-free\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"lacks smo_plugin_free\"}]}";

static char *copy_text(const char *text) {
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, text, len + 1);
    }
    return copy;
}

uint32_t smo_plugin_abi_version(void) {
    return SMO_C_ABI_VERSION;
}

char *smo_plugin_describe(void) {
    return copy_text(METADATA);
}

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    (void)kind;
    (void)strategy;
    (void)params;
    (void)request;
    *out = NULL;
    return SMO_INTERNAL;
}

/* No smo_plugin_free. */
