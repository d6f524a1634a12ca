/*
 * fixture.h: what the C fixture plugins of this directory share, so that each fixture's file
 * holds only how it misbehaves. Header-only (static inline functions and macros, C11): each
 * fixture is still built alone from its one .c file (tests/src/c_plugins.rs), which includes
 * this header by its relative name.
 *
 * The exported functions come one macro each, so that a fixture lacking one (c_no_free) or
 * answering differently (c_wrong_abi, c_bad_describe) leaves that macro out or gives it other
 * arguments. Each macro stands where a declaration would, followed by `;`:
 *
 *   FIXTURE_PLUGIN(name, description);       the usual three: FIXTURE_ABI_VERSION of this
 *                                            header, FIXTURE_DESCRIBE of
 *                                            FIXTURE_METADATA(name, description), FIXTURE_FREE
 *   FIXTURE_ABI_VERSION(version);            smo_plugin_abi_version, returning `version`
 *   FIXTURE_DESCRIBE(json);                  smo_plugin_describe, returning a copy of `json`
 *   FIXTURE_FREE();                          smo_plugin_free, with free()
 *   FIXTURE_CALL_ANSWERS(status, message);   smo_plugin_call, ignoring what it is given and
 *                                            always answering `status` with a copy of
 *                                            `message` (NULL: `*out` left NULL)
 */
#ifndef SMO_TEST_FIXTURE_H
#define SMO_TEST_FIXTURE_H

#include "smo_plugin.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The metadata of a fixture with the one strategy `placement` of kind placement, version
 * 0.1.0 (both arguments string literals, written into the JSON as they are). */
#define FIXTURE_METADATA(name, description)                                                    \
    "{\"name\":\"" name "\",\"version\":\"0.1.0\",\"strategies\":["                            \
    "{\"name\":\"placement\",\"kind\":\"placement\","                                          \
    "\"description\":\"" description "\"}]}"

/* A malloc'd copy of `text` (to be freed by smo_plugin_free); NULL when out of memory. */
static inline char *fixture_copy(const char *text) {
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, text, len + 1);
    }
    return copy;
}

/* Answers `status` with a copy of `message` in `*out` (NULL when `message` is NULL). SMO_OK
 * whose copy could not be made becomes SMO_INTERNAL: `*out` is never NULL on SMO_OK. */
static inline int32_t fixture_answer(int32_t status, const char *message, char **out) {
    *out = message != NULL ? fixture_copy(message) : NULL;
    if (status == SMO_OK && *out == NULL) {
        return SMO_INTERNAL;
    }
    return status;
}

/* Each macro below ends by declaring again the function it defined, so that its use takes a
 * `;` like any declaration. */

#define FIXTURE_ABI_VERSION(version)                                                           \
    uint32_t smo_plugin_abi_version(void) {                                                    \
        return (version);                                                                      \
    }                                                                                          \
    uint32_t smo_plugin_abi_version(void)

#define FIXTURE_DESCRIBE(json)                                                                 \
    char *smo_plugin_describe(void) {                                                          \
        return fixture_copy(json);                                                             \
    }                                                                                          \
    char *smo_plugin_describe(void)

#define FIXTURE_FREE()                                                                         \
    void smo_plugin_free(char *text) {                                                         \
        free(text);                                                                            \
    }                                                                                          \
    void smo_plugin_free(char *text)

#define FIXTURE_PLUGIN(name, description)                                                      \
    FIXTURE_ABI_VERSION(SMO_C_ABI_VERSION);                                                    \
    FIXTURE_DESCRIBE(FIXTURE_METADATA(name, description));                                     \
    FIXTURE_FREE()

#define FIXTURE_CALL_ANSWERS(status, message)                                                  \
    int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,        \
                            const char *request, char **out) {                                 \
        (void)kind;                                                                            \
        (void)strategy;                                                                        \
        (void)params;                                                                          \
        (void)request;                                                                         \
        return fixture_answer((status), (message), out);                                       \
    }                                                                                          \
    int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,        \
                            const char *request, char **out)

/* A piece of JSON text: where it starts and how long it is (not NUL-terminated). */
struct fixture_text {
    const char *start;
    size_t len;
};

/* A string literal as a fixture_text. */
#define FIXTURE_TEXT(literal) ((struct fixture_text){(literal), sizeof(literal) - 1})

/* The JSON string that follows `marker` in `text` (`marker` ends with its opening quote), as
 * it is written there, escapes included: sets `*found` and returns 1; 0 when there is none. */
static inline int fixture_string_after(const char *text, const char *marker,
                                       struct fixture_text *found) {
    const char *p = text != NULL ? strstr(text, marker) : NULL;
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
    found->start = p;
    found->len = (size_t)(q - p);
    return 1;
}

/* The fixtures do not parse JSON: they find the first service's or cluster's name by searching
 * the request (the host's compact serde form) for `"services":[{"name":"` or
 * `"clusters":[{"name":"`. 1 and `*name` set when found, else 0. */
static inline int fixture_first_service(const char *request, struct fixture_text *name) {
    return fixture_string_after(request, "\"services\":[{\"name\":\"", name);
}

static inline int fixture_first_cluster(const char *request, struct fixture_text *name) {
    return fixture_string_after(request, "\"clusters\":[{\"name\":\"", name);
}

/* The decision placing 1 replica of `service` on `cluster` (both as the request writes them)
 * with the one reason `reason` (a string literal's JSON content), malloc'd; NULL when out of
 * memory. */
static inline char *fixture_one_assignment(struct fixture_text service,
                                           struct fixture_text cluster, const char *reason) {
    const struct fixture_text parts[] = {
        FIXTURE_TEXT("{\"placement\":{\"assignments\":[{\"service\":\""),
        service,
        FIXTURE_TEXT("\",\"cluster\":\""),
        cluster,
        FIXTURE_TEXT("\",\"replicas\":1}]},\"reasons\":[\""),
        {reason, strlen(reason)},
        FIXTURE_TEXT("\"]}"),
    };
    size_t size = 1;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size += parts[i].len;
    }
    char *text = malloc(size);
    if (text == NULL) {
        return NULL;
    }
    char *p = text;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        memcpy(p, parts[i].start, parts[i].len);
        p += parts[i].len;
    }
    *p = '\0';
    return text;
}

#endif /* SMO_TEST_FIXTURE_H */
