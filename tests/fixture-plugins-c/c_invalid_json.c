/*
 * Fixture c-invalid-json: strategy `placement` answers SMO_OK with a decision that is not JSON
 * (`{"placement": [`). The host must refuse it as an error of the plugin.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

static const char METADATA[] =
    "{\"name\":\"c-invalid-json\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"answers OK with text that is not JSON\"}]}";

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
    *out = copy_text("{\"placement\": [");
    return *out != NULL ? SMO_OK : SMO_INTERNAL;
}

void smo_plugin_free(char *text) {
    free(text);
}
