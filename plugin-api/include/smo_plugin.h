/*
 * smo_plugin.h: the plain C ABI of smo strategy plugins, for authors in C, C++, Zig, Go (cgo)
 * or any language with a C FFI. Versioned with the smo-plugin-api crate; this is C ABI 1.
 *
 * A C plugin is a shared library (`.so`) that exports the four functions below. The daemon
 * recognises it by `smo_plugin_abi_version`, probes it in a child process like any plugin, and
 * then names, stages, guards, reloads and quarantines it exactly as a Rust plugin: a descriptor
 * names its strategies as `plugin/strategy`.
 *
 * Data crosses the boundary as NUL-terminated UTF-8 JSON: a request is the serde form of the
 * plugin API's `PlacementRequest`, `ScalingRequest` or `MigrationRequest`, a decision that of
 * `PlacementDecision`, `ScalingDecision` or `MigrationDecision`. Their JSON Schemas are in
 * `plugin-api/schemas/`. In a decision, top-level members may be left out (`reasons`,
 * `rejections`, `objective`, `extra`, ...): they take their empty value. Members the host does
 * not know are ignored; members a request gains in later versions may be ignored by the plugin.
 *
 * Ownership
 * - Every `const char *` the host passes is owned by the host and valid only until the call
 *   returns: copy what you keep.
 * - Every `char *` the plugin returns (from `smo_plugin_describe`, or through `out` of
 *   `smo_plugin_call`) is owned by the plugin until the host hands it back, exactly once, to
 *   `smo_plugin_free`. The host never calls `free()` on it, so allocate it as you like.
 *
 * Threads
 * - `smo_plugin_abi_version` and `smo_plugin_describe` are called once after loading, before
 *   any call.
 * - `smo_plugin_call` is called from several threads at once (up to the daemon's
 *   `[plugins] max_concurrent_calls` per plugin version): it must be thread-safe. Keep no state
 *   between calls unless you guard it; the same strategy may be called for different graphs.
 * - A call has a deadline (`[plugins] call_timeout_ms`, 10 s by default). A call past it is
 *   abandoned: its thread stays blocked in the plugin until the call returns, unless the plugin
 *   runs in a process of its own (`isolation = "process"`), which is then killed.
 * - `smo_plugin_free` is called on the thread of the call that returned the string, right
 *   after the host copied it.
 *
 * Lifetime
 * - The library is loaded once in a short-lived probe process (`smo plugin check`), then in
 *   the daemon; each process calls `smo_plugin_abi_version` and `smo_plugin_describe` once.
 * - It is never unloaded: its destructors run only when the process ends, if at all.
 *
 * Symbols
 * - Export the four functions and nothing else if you can: build with `-fvisibility=hidden`
 *   and mark them with SMO_PLUGIN_EXPORT, so your helpers never clash with another library's.
 *
 * Never `exit()`, `abort()` or write to stdout from a plugin; a crash in-process ends the daemon.
 */
#ifndef SMO_PLUGIN_H
#define SMO_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this C ABI; `smo_plugin_abi_version` returns it. */
#define SMO_C_ABI_VERSION 1u

/* Put on the definitions of the four functions (visible even with -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define SMO_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SMO_PLUGIN_EXPORT
#endif

/* What `smo_plugin_call` returns: the plugin API's error kinds (see `ErrorKind`). */
enum smo_status {
    /* `*out` is the decision (JSON). */
    SMO_OK = 0,
    /* The request was malformed or broke the strategy's assumptions; `*out` says why. */
    SMO_INVALID_INPUT = 1,
    /* No decision exists under the constraints (not enough capacity, ...); `*out` says why. */
    SMO_INFEASIBLE = 2,
    /* A solver or internal failure; `*out` says what. (3 is the Rust ABI's panic: never return
     * it; the host counts any status this header does not define as an internal failure.) */
    SMO_INTERNAL = 4,
    /* The strategy name or its parameters are unknown or invalid; `*out` says which. */
    SMO_BAD_PARAMETERS = 5,
    /* The strategy's own time limit ran out; `*out` says after how long. */
    SMO_TIME_LIMIT = 6
};

/* Returns SMO_C_ABI_VERSION, the version of this header the plugin was built with. */
SMO_PLUGIN_EXPORT uint32_t smo_plugin_abi_version(void);

/*
 * The plugin's metadata as a JSON object (freed with `smo_plugin_free`):
 *   {"name": "c-first-fit", "version": "0.1.0",
 *    "strategies": [{"name": "placement", "kind": "placement",
 *                    "description": "first cluster with room, services in order"}]}
 * `name` is the first half of `plugin/strategy`; it and each strategy's `name` use ASCII
 * letters, digits, `-`, `_` and `.`. `kind` is one of "placement", "scaling", "migration";
 * `description` may be left out; `version` is free text (semantic versioning is best: it is
 * shown with every decision). Return NULL if it cannot be built (the plugin is refused).
 */
SMO_PLUGIN_EXPORT char *smo_plugin_describe(void);

/*
 * Runs strategy `strategy` of kind `kind` ("placement", "scaling" or "migration") with its
 * parameters `params` (a JSON object, `{}` when none) on `request` (JSON, the request of that
 * kind). Returns a `smo_status` and sets `*out` to the decision (SMO_OK) or to a one-line
 * message saying what went wrong (any other status); `*out` may be left NULL on an error,
 * never on SMO_OK (the host counts that as an internal failure).
 */
SMO_PLUGIN_EXPORT int32_t smo_plugin_call(const char *kind, const char *strategy,
                                          const char *params, const char *request, char **out);

/* Frees a string this plugin returned. Called exactly once per returned non-NULL string. */
SMO_PLUGIN_EXPORT void smo_plugin_free(char *text);

#ifdef __cplusplus
}
#endif

#endif /* SMO_PLUGIN_H */
