/*
 * Fixture c-invalid-json: strategy `placement` answers SMO_OK with a decision that is not JSON
 * (`{"placement": [`). The host must refuse it as an error of the plugin.
 */
#include "fixture.h"

FIXTURE_PLUGIN("c-invalid-json", "answers OK with text that is not JSON");

/* SMO_INTERNAL instead when the copy cannot be made (fixture_answer). */
FIXTURE_CALL_ANSWERS(SMO_OK, "{\"placement\": [");
