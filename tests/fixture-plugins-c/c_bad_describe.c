/*
 * Fixture c-bad-describe: a complete C plugin of the right ABI whose metadata is JSON but not
 * what the header says (`{"name": 42}`: a number for the name, no version, no strategies).
 * The host must refuse it, naming what is wrong.
 */
#include "fixture.h"

FIXTURE_ABI_VERSION(SMO_C_ABI_VERSION);
FIXTURE_DESCRIBE("{\"name\": 42}");
FIXTURE_FREE();

FIXTURE_CALL_ANSWERS(SMO_INTERNAL,
                     "c-bad-describe: a host must not call a plugin it could not describe");
