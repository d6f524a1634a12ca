/*
 * Fixture c-wrong-abi: a complete C plugin that says it was built against C ABI 999. The host
 * must refuse it, naming 999 and the version it speaks, and never call it.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

static const char METADATA[] =
    "{\"name\":\"c-wrong-abi\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"built against a C ABI that does not exist\"}]}";

static char *copy_text(const char *text) {
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, text, len + 1);
    }
    return copy;
}

uint32_t smo_plugin_abi_version(void) {
    return 999;
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
    *out = copy_text("c-wrong-abi: a host must not call a plugin of C ABI 999");
    return SMO_INTERNAL;
}

void smo_plugin_free(char *text) {
    free(text);
}
