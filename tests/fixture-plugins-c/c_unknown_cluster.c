/*
 * Fixture c-unknown-cluster: strategy `placement` answers SMO_OK with a well-formed decision
 * that puts the request's first service on cluster "no-such-cluster", which the request does
 * not have. The host must refuse the decision, not apply it.
 *
 * It does not parse JSON: it finds the first service's name by searching the request (the
 * host's compact serde form) for `"services":[{"name":"`, and copies the name as it is
 * written there, escapes included.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

static const char METADATA[] =
    "{\"name\":\"c-unknown-cluster\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"places the first service on a cluster that does not exist\"}]}";

static char *copy_text(const char *text) {
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, text, len + 1);
    }
    return copy;
}

/* The JSON string that follows `marker` in `text` (marker ends with its opening quote): sets
 * its start and length, escapes left as they are. 0 when there is none. */
static int string_after(const char *text, const char *marker, const char **start, size_t *len) {
    const char *p = text ? strstr(text, marker) : NULL;
    if (p == NULL) {
        return 0;
    }
    p += strlen(marker);
    const char *q = p;
    while (*q != '\0' && *q != '"') {
        if (*q == '\\' && q[1] != '\0') {
            q++;
        }
        q++;
    }
    if (*q != '"') {
        return 0;
    }
    *start = p;
    *len = (size_t)(q - p);
    return 1;
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
    const char *service;
    size_t len;
    if (!string_after(request, "\"services\":[{\"name\":\"", &service, &len)) {
        *out = copy_text("c-unknown-cluster: the request has no service");
        return SMO_INVALID_INPUT;
    }
    static const char HEAD[] = "{\"placement\":{\"assignments\":[{\"service\":\"";
    static const char TAIL[] = "\",\"cluster\":\"no-such-cluster\",\"replicas\":1}]},"
                               "\"reasons\":[\"the first service on a cluster that does not "
                               "exist\"]}";
    char *text = malloc(sizeof HEAD - 1 + len + sizeof TAIL);
    if (text == NULL) {
        *out = NULL;
        return SMO_INTERNAL;
    }
    memcpy(text, HEAD, sizeof HEAD - 1);
    memcpy(text + sizeof HEAD - 1, service, len);
    memcpy(text + sizeof HEAD - 1 + len, TAIL, sizeof TAIL);
    *out = text;
    return SMO_OK;
}

void smo_plugin_free(char *text) {
    free(text);
}
