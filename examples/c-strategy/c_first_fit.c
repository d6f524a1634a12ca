/*
 * c-first-fit: an smo placement strategy written in C against plugin-api/include/smo_plugin.h.
 *
 * Strategy `placement` (kind placement): the services of the graph in order, each on the first
 * cluster of the request whose available resources still hold its demand times
 * max(replicas, 1) and that its `allowed_clusters` (when not empty) names. What a service takes
 * is subtracted before the next one is placed. Parameters: `{}`, or `{"role": "edge"}`
 * ("cloud", "iot") to use only clusters of that role.
 *
 * Thread-safe: every call parses into and allocates from its own arena; nothing global is
 * written.
 */
#include "smo_plugin.h"

#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char METADATA[] =
    "{\"name\":\"c-first-fit\",\"version\":\"0.1.0\",\"strategies\":["
    "{\"name\":\"placement\",\"kind\":\"placement\","
    "\"description\":\"first cluster with room, services in order\"}]}";

/* The slack of a fit, as the Rust API's `Resources::fits`. */
#define EPSILON 1e-9

static char *copy_text(const char *text) {
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, text, len + 1);
    }
    return copy;
}

uint32_t smo_plugin_abi_version(void) {
    return SMO_C_ABI_VERSION;
}

char *smo_plugin_describe(void) {
    return copy_text(METADATA);
}

void smo_plugin_free(char *text) {
    free(text);
}

/* ---------------------------------------------------------------------------------------- */

/* Everything one call owns: the parsed JSON, its scratch memory and the message it builds. */
typedef struct call {
    json_doc doc;
    json_buf message;
} call;

/* Ends the call with `status` and the message built so far as `*out`. */
static int32_t finish(call *c, int32_t status, char **out) {
    *out = jb_finish(&c->message);
    json_doc_free(&c->doc);
    return status;
}

/* Where a member sits, for messages: `graph.services[2].demand`. */
static void path_index(json_buf *m, const char *prefix, size_t index) {
    jb_text(m, prefix);
    jb_text(m, "[");
    jb_uint(m, index);
    jb_text(m, "]");
}

/* The non-negative finite number `key` of `object`; 0 and a message when it is not one. */
static int read_amount(call *c, const json_value *object, const char *key, double *out) {
    const json_value *v = json_get(object, key);
    if (v == NULL || v->type != JSON_NUMBER || !(v->number >= 0)) {
        jb_text(&c->message, ".");
        jb_text(&c->message, key);
        jb_text(&c->message, v == NULL ? ": missing" : ": not a number >= 0");
        return 0;
    }
    *out = v->number;
    return 1;
}

/* The whole number `key` of `object` in 0..=4294967295 (a u32 on the Rust side). */
static int read_count(call *c, const json_value *object, const char *key, uint64_t *out) {
    const json_value *v = json_get(object, key);
    if (v == NULL || v->type != JSON_NUMBER || !(v->number >= 0) || v->number > 4294967295.0 ||
        v->number != (double)(uint64_t)v->number) {
        jb_text(&c->message, ".");
        jb_text(&c->message, key);
        jb_text(&c->message, v == NULL ? ": missing" : ": not a whole number in 0..=4294967295");
        return 0;
    }
    *out = (uint64_t)v->number;
    return 1;
}

typedef struct resources {
    double cpu;
    double memory_mib;
    uint64_t gpu;
} resources;

/* Reads `{"cpu": .., "memory_mib": .., "gpu": ..}`; the message is continued on failure. */
static int read_resources(call *c, const json_value *object, resources *out) {
    if (object == NULL || object->type != JSON_OBJECT) {
        jb_text(&c->message, object == NULL ? ": missing" : ": not an object");
        return 0;
    }
    return read_amount(c, object, "cpu", &out->cpu) &&
           read_amount(c, object, "memory_mib", &out->memory_mib) &&
           read_count(c, object, "gpu", &out->gpu);
}

typedef struct cluster_state {
    const json_value *name;
    const json_value *role; /* NULL when the request has none */
    resources available;    /* decreases as services are placed */
} cluster_state;

static int32_t invalid(call *c, char **out) {
    return finish(c, SMO_INVALID_INPUT, out);
}

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    if (out == NULL) {
        return SMO_INTERNAL;
    }
    *out = NULL;
    call c = {{0}, {0}};
    json_buf *m = &c.message;

    /* The strategy and its kind. */
    if (strategy == NULL || strcmp(strategy, "placement") != 0) {
        jb_text(m, "unknown strategy ");
        jb_string(m, strategy ? strategy : "", strategy ? strlen(strategy) : 0);
        jb_text(m, ": c-first-fit has one, placement");
        return finish(&c, SMO_BAD_PARAMETERS, out);
    }
    if (kind == NULL || strcmp(kind, "placement") != 0) {
        jb_text(m, "strategy placement is of kind placement, not ");
        jb_string(m, kind ? kind : "", kind ? strlen(kind) : 0);
        return finish(&c, SMO_BAD_PARAMETERS, out);
    }

    /* The parameters: {} or {"role": "edge" | "cloud" | "iot"}. */
    char err[160];
    const json_value *options = json_parse(&c.doc, params ? params : "{}", err, sizeof err);
    if (options == NULL) {
        jb_text(m, "parameters are not JSON: ");
        jb_text(m, err);
        return finish(&c, SMO_BAD_PARAMETERS, out);
    }
    if (options->type != JSON_OBJECT) {
        jb_text(m, "parameters: expected a JSON object");
        return finish(&c, SMO_BAD_PARAMETERS, out);
    }
    const json_value *role = NULL;
    for (const json_value *p = options->first; p != NULL; p = p->next) {
        if (json_bytes_equal(p->key, p->key_len, "role", 4)) {
            if (!json_is_string(p, "edge") && !json_is_string(p, "cloud") &&
                !json_is_string(p, "iot")) {
                jb_text(m, "parameter role: expected \"edge\", \"cloud\" or \"iot\"");
                return finish(&c, SMO_BAD_PARAMETERS, out);
            }
            role = p;
        } else {
            jb_text(m, "unknown parameter ");
            jb_string(m, p->key, p->key_len);
            jb_text(m, " (c-first-fit/placement takes role)");
            return finish(&c, SMO_BAD_PARAMETERS, out);
        }
    }

    /* The request. */
    const json_value *root = json_parse(&c.doc, request, err, sizeof err);
    if (root == NULL) {
        jb_text(m, "request is not JSON: ");
        jb_text(m, err);
        return invalid(&c, out);
    }
    const json_value *graph = json_get(root, "graph");
    const json_value *services = json_get(graph, "services");
    const json_value *clusters = json_get(root, "clusters");
    if (root->type != JSON_OBJECT || services == NULL || services->type != JSON_ARRAY ||
        clusters == NULL || clusters->type != JSON_ARRAY) {
        jb_text(m, "request: expected an object with graph.services and clusters (arrays)");
        return invalid(&c, out);
    }

    /* The clusters, with what is left of them. */
    if (clusters->count > SIZE_MAX / sizeof(cluster_state)) {
        jb_text(m, "request: too many clusters");
        return invalid(&c, out);
    }
    cluster_state *state = json_doc_alloc(&c.doc, clusters->count * sizeof(cluster_state));
    if (state == NULL) {
        jb_text(m, "out of memory");
        return finish(&c, SMO_INTERNAL, out);
    }
    size_t n_clusters = 0;
    for (const json_value *k = clusters->first; k != NULL; k = k->next, n_clusters++) {
        cluster_state *s = &state[n_clusters];
        s->name = json_get(k, "name");
        s->role = json_get(k, "role");
        if (s->name == NULL || s->name->type != JSON_STRING) {
            path_index(m, "request: clusters", n_clusters);
            jb_text(m, ".name: missing or not a string");
            return invalid(&c, out);
        }
        if (role != NULL && (s->role == NULL || s->role->type != JSON_STRING)) {
            path_index(m, "request: clusters", n_clusters);
            jb_text(m, ".role: missing or not a string (the parameter role needs it)");
            return invalid(&c, out);
        }
        path_index(m, "request: clusters", n_clusters);
        jb_text(m, ".available");
        if (!read_resources(&c, json_get(k, "available"), &s->available)) {
            return invalid(&c, out);
        }
        jb_reset(m); /* the path was only needed for an error */
    }

    /* Each service in order, on the first cluster with room. */
    json_buf decision = {0};
    json_buf reasons = {0};
    jb_text(&decision, "{\"placement\":{\"assignments\":[");
    jb_text(&reasons, "\"reasons\":[");
    size_t index = 0;
    for (const json_value *svc = services->first; svc != NULL; svc = svc->next, index++) {
        const json_value *name = json_get(svc, "name");
        const json_value *allowed = json_get(svc, "allowed_clusters");
        resources demand;
        uint64_t replicas;
        path_index(m, "request: graph.services", index);
        int ok = name != NULL && name->type == JSON_STRING;
        if (!ok) {
            jb_text(m, ".name: missing or not a string");
        } else {
            jb_text(m, ".demand");
            ok = read_resources(&c, json_get(svc, "demand"), &demand);
        }
        if (ok) {
            jb_reset(m);
            path_index(m, "request: graph.services", index);
            ok = read_count(&c, svc, "replicas", &replicas);
        }
        if (ok && allowed != NULL && allowed->type != JSON_NULL) {
            ok = allowed->type == JSON_ARRAY;
            for (const json_value *a = ok ? allowed->first : NULL; a != NULL; a = a->next) {
                ok = ok && a->type == JSON_STRING;
            }
            if (!ok) {
                jb_text(m, ".allowed_clusters: not an array of strings");
            }
        }
        if (!ok) {
            jb_discard(&decision);
            jb_discard(&reasons);
            return invalid(&c, out);
        }
        jb_reset(m);

        uint64_t n = replicas > 0 ? replicas : 1;
        resources need = {demand.cpu * (double)n, demand.memory_mib * (double)n,
                          demand.gpu * n}; /* < 2^64: both factors are < 2^32 */
        cluster_state *chosen = NULL;
        for (size_t i = 0; i < n_clusters && chosen == NULL; i++) {
            cluster_state *s = &state[i];
            if (role != NULL &&
                !json_bytes_equal(s->role->string, s->role->string_len, role->string,
                                  role->string_len)) {
                continue;
            }
            if (allowed != NULL && allowed->type == JSON_ARRAY && allowed->count > 0) {
                int listed = 0;
                for (const json_value *a = allowed->first; a != NULL && !listed; a = a->next) {
                    listed = json_bytes_equal(a->string, a->string_len, s->name->string,
                                              s->name->string_len);
                }
                if (!listed) {
                    continue;
                }
            }
            if (need.cpu <= s->available.cpu + EPSILON &&
                need.memory_mib <= s->available.memory_mib + EPSILON &&
                need.gpu <= s->available.gpu) {
                chosen = s;
            }
        }
        if (chosen == NULL) {
            jb_discard(&decision);
            jb_discard(&reasons);
            jb_text(m, "service ");
            jb_string(m, name->string, name->string_len);
            jb_text(m, " fits on no ");
            if (role != NULL) {
                jb_bytes(m, role->string, role->string_len);
                jb_text(m, " ");
            }
            jb_text(m, "cluster");
            if (allowed != NULL && allowed->type == JSON_ARRAY && allowed->count > 0) {
                jb_text(m, " it is allowed on");
            }
            jb_text(m, " (");
            jb_uint(m, n);
            jb_text(m, n == 1 ? " replica of cpu " : " replicas of cpu ");
            jb_double(m, demand.cpu);
            jb_text(m, ", memory_mib ");
            jb_double(m, demand.memory_mib);
            jb_text(m, ", gpu ");
            jb_uint(m, demand.gpu);
            jb_text(m, ")");
            return finish(&c, SMO_INFEASIBLE, out);
        }
        chosen->available.cpu -= need.cpu;
        chosen->available.memory_mib -= need.memory_mib;
        chosen->available.gpu -= need.gpu;

        if (index > 0) {
            jb_text(&decision, ",");
            jb_text(&reasons, ",");
        }
        jb_text(&decision, "{\"service\":");
        jb_string(&decision, name->string, name->string_len);
        jb_text(&decision, ",\"cluster\":");
        jb_string(&decision, chosen->name->string, chosen->name->string_len);
        jb_text(&decision, ",\"replicas\":");
        jb_uint(&decision, n);
        jb_text(&decision, "}");

        jb_text(&reasons, "\"");
        jb_escaped(&reasons, name->string, name->string_len);
        jb_text(&reasons, " -> ");
        jb_escaped(&reasons, chosen->name->string, chosen->name->string_len);
        jb_text(&reasons, ": first with room\"");
    }
    jb_text(&decision, "]},");
    jb_bytes(&decision, reasons.data ? reasons.data : "", reasons.len);
    jb_text(&decision, "]}");
    int failed = reasons.failed;
    jb_discard(&reasons);
    jb_discard(m);
    json_doc_free(&c.doc);
    if (failed) {
        jb_discard(&decision);
        return SMO_INTERNAL; /* out of memory: no message can be built either */
    }
    *out = jb_finish(&decision);
    return *out != NULL ? SMO_OK : SMO_INTERNAL;
}
