/*
 * Fixture c-unknown-cluster: strategy `placement` answers SMO_OK with a well-formed decision
 * that puts the request's first service on cluster "no-such-cluster", which the request does
 * not have. The host must refuse the decision, not apply it.
 *
 * It does not parse JSON: it finds the first service's name in the request
 * (fixture_first_service) and copies the name as it is written there, escapes included.
 */
#include "fixture.h"

FIXTURE_PLUGIN("c-unknown-cluster", "places the first service on a cluster that does not exist");

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    (void)kind;
    (void)strategy;
    (void)params;
    struct fixture_text service;
    if (!fixture_first_service(request, &service)) {
        *out = fixture_copy("c-unknown-cluster: the request has no service");
        return SMO_INVALID_INPUT;
    }
    *out = fixture_one_assignment(service, FIXTURE_TEXT("no-such-cluster"),
                                  "the first service on a cluster that does not exist");
    return *out != NULL ? SMO_OK : SMO_INTERNAL;
}
