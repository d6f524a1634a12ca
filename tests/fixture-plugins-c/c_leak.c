/*
 * Fixture c-leak: strategy `placement` answers a valid decision (the request's first service,
 * 1 replica, on its first cluster) and, on every call, allocates 1 MiB, writes all of it and
 * never frees it: the process grows by 1 MiB a call.
 *
 * It does not parse JSON: it finds both names by searching the request (the host's compact
 * serde form) for `"services":[{"name":"` and `"clusters":[{"name":"`, and copies them as they
 * are written there, escapes included.
 */
#include "smo_plugin.h"

#include <stdlib.h>
#include <string.h>

#define LEAK_BYTES ((size_t)1 << 20)

static const char METADATA[] =
    "{\"name\":\"c-leak\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"first service on the first cluster; leaks 1 MiB a call\"}]}";

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

/* The leaked block is handed to a function the compiler cannot see through (a volatile
 * pointer), so that no optimisation drops the allocation or the writes. Nothing global is
 * written. */
static void keep(void *block) {
    (void)block;
}
static void (*volatile keeper)(void *) = keep;

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
    *out = NULL;

    void *block = malloc(LEAK_BYTES);
    if (block == NULL) {
        *out = copy_text("c-leak: out of memory");
        return SMO_INTERNAL;
    }
    memset(block, 0x5A, LEAK_BYTES); /* touched: resident, not only reserved */
    keeper(block);                   /* and never freed */

    const char *service, *cluster;
    size_t service_len, cluster_len;
    if (!string_after(request, "\"services\":[{\"name\":\"", &service, &service_len) ||
        !string_after(request, "\"clusters\":[{\"name\":\"", &cluster, &cluster_len)) {
        *out = copy_text("c-leak: the request needs a service and a cluster");
        return SMO_INVALID_INPUT;
    }
    static const char A[] = "{\"placement\":{\"assignments\":[{\"service\":\"";
    static const char B[] = "\",\"cluster\":\"";
    static const char C[] = "\",\"replicas\":1}]},\"reasons\":[\"leaked 1 MiB\"]}";
    size_t size = sizeof A - 1 + service_len + sizeof B - 1 + cluster_len + sizeof C;
    char *text = malloc(size);
    if (text == NULL) {
        return SMO_INTERNAL;
    }
    char *p = text;
    memcpy(p, A, sizeof A - 1);
    p += sizeof A - 1;
    memcpy(p, service, service_len);
    p += service_len;
    memcpy(p, B, sizeof B - 1);
    p += sizeof B - 1;
    memcpy(p, cluster, cluster_len);
    p += cluster_len;
    memcpy(p, C, sizeof C);
    *out = text;
    return SMO_OK;
}

void smo_plugin_free(char *text) {
    free(text);
}
