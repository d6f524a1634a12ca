/*
 * Fixture c-segfault: a well-formed C ABI plugin whose strategy `placement` dereferences a NULL
 * pointer on every call (SIGSEGV). In-process that ends the host; tests use it to show what
 * contains it.
 */
#include "fixture.h"

FIXTURE_PLUGIN("c-segfault", "dereferences a NULL pointer");

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
