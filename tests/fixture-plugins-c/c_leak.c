/*
 * Fixture c-leak: strategy `placement` answers a valid decision (the request's first service,
 * 1 replica, on its first cluster) and, on every call, allocates 1 MiB, writes all of it and
 * never frees it: the process grows by 1 MiB a call.
 *
 * It does not parse JSON: it finds both names in the request (fixture_first_service,
 * fixture_first_cluster) and copies them as they are written there, escapes included.
 */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#define LEAK_BYTES ((size_t)1 << 20)

FIXTURE_PLUGIN("c-leak", "first service on the first cluster; leaks 1 MiB a call");

/* The leaked block is handed to a function the compiler cannot see through (a volatile
 * pointer), so that no optimisation drops the allocation or the writes. Nothing global is
 * written. */
static void keep(void *block) {
    (void)block;
}
static void (*volatile keeper)(void *) = keep;

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    (void)kind;
    (void)strategy;
    (void)params;
    *out = NULL;

    void *block = malloc(LEAK_BYTES);
    if (block == NULL) {
        *out = fixture_copy("c-leak: out of memory");
        return SMO_INTERNAL;
    }
    memset(block, 0x5A, LEAK_BYTES); /* touched: resident, not only reserved */
    keeper(block);                   /* and never freed */

    struct fixture_text service, cluster;
    if (!fixture_first_service(request, &service) || !fixture_first_cluster(request, &cluster)) {
        *out = fixture_copy("c-leak: the request needs a service and a cluster");
        return SMO_INVALID_INPUT;
    }
    *out = fixture_one_assignment(service, cluster, "leaked 1 MiB");
    return *out != NULL ? SMO_OK : SMO_INTERNAL;
}
