/*
 * Fixture c-bad-describe: a complete C plugin of the right ABI whose metadata is JSON but not
 * what the header says (`{"name": 42}`: a number for the name, no version, no strategies).
 * The host must refuse it, naming what is wrong.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

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
    return copy_text("{\"name\": 42}");
}

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    (void)kind;
    (void)strategy;
    (void)params;
    (void)request;
    *out = copy_text("c-bad-describe: a host must not call a plugin it could not describe");
    return SMO_INTERNAL;
}

void smo_plugin_free(char *text) {
    free(text);
}
