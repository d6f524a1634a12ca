/*
 * Fixture c-wrong-abi: a complete C plugin that says it was built against C ABI 999. The host
 * must refuse it, naming 999 and the version it speaks, and never call it.
 */
#include "fixture.h"

FIXTURE_ABI_VERSION(999);
FIXTURE_DESCRIBE(
    FIXTURE_METADATA("c-wrong-abi", "built against a C ABI that does not exist"));
FIXTURE_FREE();

FIXTURE_CALL_ANSWERS(SMO_INTERNAL, "c-wrong-abi: a host must not call a plugin of C ABI 999");
