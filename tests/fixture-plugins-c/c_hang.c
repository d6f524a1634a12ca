/*
 * Fixture c-hang: strategy `placement` never returns. With the parameters
 * `{"started": "/some/path"}` it first creates that file (so a test knows the call was entered
 * without sleeping), then blocks forever in pause(). With `{}` it only blocks.
 */
#define _POSIX_C_SOURCE 200809L

#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

FIXTURE_PLUGIN("c-hang", "creates the file `started` names, then never returns");

/* The string value of `"started"` in `params` (\" \\ \/ decoded; a test path needs no more),
 * malloc'd; NULL when there is none. */
static char *started_path(const char *params) {
    const char *p = params ? strstr(params, "\"started\"") : NULL;
    if (p == NULL) {
        return NULL;
    }
    p += strlen("\"started\"");
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') {
        p++;
    }
    if (*p != '"') {
        return NULL;
    }
    p++;
    char *path = malloc(strlen(p) + 1);
    if (path == NULL) {
        return NULL;
    }
    size_t n = 0;
    while (*p != '\0' && *p != '"') {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        }
        path[n++] = *p++;
    }
    path[n] = '\0';
    return path;
}

int32_t smo_plugin_call(const char *kind, const char *strategy, const char *params,
                        const char *request, char **out) {
    (void)kind;
    (void)strategy;
    (void)request;
    *out = NULL;
    char *path = started_path(params);
    if (path != NULL) {
        FILE *f = fopen(path, "w");
        free(path);
        if (f == NULL) {
            *out = fixture_copy("c-hang: cannot create the file `started` names");
            return SMO_INTERNAL;
        }
        fputs("entered\n", f);
        fclose(f);
    }
    for (;;) {
        pause(); /* returns only when a signal was handled: wait again */
    }
}
