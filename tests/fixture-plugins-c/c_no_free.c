/*
 * Fixture c-no-free: exports smo_plugin_abi_version, smo_plugin_describe and smo_plugin_call
 * but not smo_plugin_free, so the host could never give back what it returns: an incomplete
 * plugin, to be refused when loaded.
 */
#include "fixture.h"

FIXTURE_ABI_VERSION(SMO_C_ABI_VERSION);
FIXTURE_DESCRIBE(FIXTURE_METADATA("c-no-free", "lacks smo_plugin_free"));
FIXTURE_CALL_ANSWERS(SMO_INTERNAL, NULL);

/* No smo_plugin_free: no FIXTURE_FREE, hence no FIXTURE_PLUGIN. */
