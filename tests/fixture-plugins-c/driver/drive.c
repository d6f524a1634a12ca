/*
 * drive: loads a C ABI smo plugin with dlopen and calls it as the header says a host does, to
 * check a plugin without the daemon (tests/tests/c_plugins_build.rs runs it).
 *
 *   drive LIB describe
 *       prints `abi N`, then the metadata JSON on one line
 *   drive LIB call KIND STRATEGY PARAMS REQUEST_FILE [THREADS]
 *       runs the call THREADS times at once (default 1); every answer must be the same (exit 3
 *       otherwise); prints `status N`, then `*out` on one line (`(null)` when NULL)
 *   drive LIB prefixes KIND STRATEGY PARAMS REQUEST_FILE
 *       calls with every proper prefix of the request (trailing whitespace aside, none of
 *       which is JSON): each must answer SMO_INVALID_INPUT with a message (exit 4 otherwise);
 *       prints `prefixes N`
 *   drive LIB mutate KIND STRATEGY PARAMS REQUEST_FILE COUNT
 *       calls with COUNT corrupted copies of the request (bytes replaced, deleted or
 *       repeated; a fixed seed): each must answer OK with a JSON decision or INVALID_INPUT /
 *       INFEASIBLE with a one-line message (exit 5 otherwise); prints `mutate ok=A invalid=B
 *       infeasible=C`
 *
 * Built with examples/c-strategy/json.c, which it uses to check that decisions are JSON.
 */
#define _POSIX_C_SOURCE 200809L

#include "smo_plugin.h"

#include "../../../examples/c-strategy/json.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t (*abi_fn)(void);
typedef char *(*describe_fn)(void);
typedef int32_t (*call_fn)(const char *, const char *, const char *, const char *, char **);
typedef void (*free_fn)(char *);

static abi_fn plugin_abi;
static describe_fn plugin_describe;
static call_fn plugin_call;
static free_fn plugin_free;

static void *symbol(void *lib, const char *name) {
    void *sym = dlsym(lib, name);
    if (sym == NULL) {
        fprintf(stderr, "drive: %s: missing\n", name);
        exit(2);
    }
    return sym;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    size_t cap = 4096, len = 0;
    char *data = malloc(cap);
    for (;;) {
        if (data == NULL) {
            fprintf(stderr, "drive: out of memory\n");
            exit(2);
        }
        len += fread(data + len, 1, cap - len - 1, f);
        if (len < cap - 1) {
            break;
        }
        cap *= 2;
        data = realloc(data, cap);
    }
    fclose(f);
    data[len] = '\0';
    return data;
}

typedef struct job {
    const char *kind, *strategy, *params, *request;
    int32_t status;
    char *out;
} job;

static void *run(void *arg) {
    job *j = arg;
    j->out = NULL;
    j->status = plugin_call(j->kind, j->strategy, j->params, j->request, &j->out);
    return NULL;
}

static int one_line(const char *text) {
    return text != NULL && text[0] != '\0' && strchr(text, '\n') == NULL;
}

static int is_json_object(const char *text) {
    json_doc doc = {0};
    char err[128];
    const json_value *root = json_parse(&doc, text, err, sizeof err);
    int ok = root != NULL && root->type == JSON_OBJECT;
    json_doc_free(&doc);
    return ok;
}

static int call_mode(job base, int threads) {
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "drive: THREADS must be in 1..=256\n");
        return 2;
    }
    job jobs[256];
    pthread_t ids[256];
    for (int i = 0; i < threads; i++) {
        jobs[i] = base;
        if (pthread_create(&ids[i], NULL, run, &jobs[i]) != 0) {
            fprintf(stderr, "drive: pthread_create failed\n");
            return 2;
        }
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
    }
    int same = 1;
    for (int i = 1; i < threads; i++) {
        int equal = jobs[i].status == jobs[0].status &&
                    ((jobs[i].out == NULL && jobs[0].out == NULL) ||
                     (jobs[i].out != NULL && jobs[0].out != NULL &&
                      strcmp(jobs[i].out, jobs[0].out) == 0));
        if (!equal) {
            fprintf(stderr, "drive: call %d answered differently from call 0\n", i);
            same = 0;
        }
    }
    printf("status %d\n%s\n", (int)jobs[0].status, jobs[0].out ? jobs[0].out : "(null)");
    for (int i = 0; i < threads; i++) {
        if (jobs[i].out != NULL) {
            plugin_free(jobs[i].out);
        }
    }
    return same ? 0 : 3;
}

static int prefixes_mode(job base) {
    size_t len = strlen(base.request);
    while (len > 0 && strchr(" \t\r\n", base.request[len - 1]) != NULL) {
        len--; /* a prefix that only lacks trailing whitespace is the whole JSON text */
    }
    char *prefix = malloc(len + 1);
    if (prefix == NULL) {
        return 2;
    }
    int failures = 0;
    for (size_t n = 0; n < len; n++) {
        memcpy(prefix, base.request, n);
        prefix[n] = '\0';
        job j = base;
        j.request = prefix;
        run(&j);
        if (j.status != SMO_INVALID_INPUT || !one_line(j.out)) {
            fprintf(stderr, "drive: prefix of %zu bytes: status %d, %s\n", n, (int)j.status,
                    j.out ? j.out : "(null)");
            failures++;
        }
        if (j.out != NULL) {
            plugin_free(j.out);
        }
    }
    free(prefix);
    printf("prefixes %zu\n", len);
    return failures == 0 ? 0 : 4;
}

static int mutate_mode(job base, long count) {
    static const char INTERESTING[] = "\"\\{}[],:0-e.+ n1\x80\xff\xc3\t";
    size_t len = strlen(base.request);
    char *copy = malloc(2 * len + 2);
    if (copy == NULL || len == 0) {
        free(copy);
        return 2;
    }
    unsigned long long seed = 0x2545F4914F6CDD1DULL;
    long ok = 0, invalid = 0, infeasible = 0, failures = 0;
    for (long i = 0; i < count; i++) {
        memcpy(copy, base.request, len + 1);
        size_t n = len;
        int edits = 1 + (int)(i % 3);
        for (int e = 0; e < edits && n > 0; e++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(seed >> 33) % n;
            switch ((seed >> 13) % 3) {
            case 0: /* replace */
                copy[at] = INTERESTING[(seed >> 7) % (sizeof INTERESTING - 1)];
                break;
            case 1: /* delete */
                memmove(copy + at, copy + at + 1, n - at);
                n--;
                break;
            default: /* repeat a byte */
                if (n < 2 * len) {
                    memmove(copy + at + 1, copy + at, n - at + 1);
                    n++;
                }
                break;
            }
        }
        job j = base;
        j.request = copy;
        run(&j);
        int good;
        if (j.status == SMO_OK) {
            good = j.out != NULL && is_json_object(j.out);
            ok++;
        } else if (j.status == SMO_INVALID_INPUT || j.status == SMO_INFEASIBLE) {
            good = one_line(j.out);
            if (j.status == SMO_INVALID_INPUT) {
                invalid++;
            } else {
                infeasible++;
            }
        } else {
            good = 0;
        }
        if (!good) {
            fprintf(stderr, "drive: mutation %ld: status %d, %s\n", i, (int)j.status,
                    j.out ? j.out : "(null)");
            failures++;
        }
        if (j.out != NULL) {
            plugin_free(j.out);
        }
    }
    free(copy);
    printf("mutate ok=%ld invalid=%ld infeasible=%ld\n", ok, invalid, infeasible);
    return failures == 0 ? 0 : 5;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: drive LIB describe | call|prefixes|mutate KIND STRATEGY PARAMS "
                        "REQUEST_FILE [THREADS|COUNT]\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "drive: %s\n", dlerror());
        return 2;
    }
    /* The POSIX way to turn a dlsym result into a function pointer. */
    *(void **)(&plugin_abi) = symbol(lib, "smo_plugin_abi_version");
    *(void **)(&plugin_describe) = symbol(lib, "smo_plugin_describe");
    *(void **)(&plugin_call) = symbol(lib, "smo_plugin_call");
    *(void **)(&plugin_free) = symbol(lib, "smo_plugin_free");

    /* As a host: the version and the metadata first, once. */
    uint32_t abi = plugin_abi();
    char *metadata = plugin_describe();
    if (strcmp(argv[2], "describe") == 0) {
        printf("abi %u\n%s\n", (unsigned)abi, metadata ? metadata : "(null)");
        if (metadata != NULL) {
            plugin_free(metadata);
        }
        return 0;
    }
    if (metadata != NULL) {
        plugin_free(metadata);
    }
    if (argc < 7) {
        fprintf(stderr, "drive: %s needs KIND STRATEGY PARAMS REQUEST_FILE\n", argv[2]);
        return 2;
    }
    char *request = read_file(argv[6]);
    job base = {argv[3], argv[4], argv[5], request, 0, NULL};
    int rc;
    if (strcmp(argv[2], "call") == 0) {
        rc = call_mode(base, argc > 7 ? atoi(argv[7]) : 1);
    } else if (strcmp(argv[2], "prefixes") == 0) {
        rc = prefixes_mode(base);
    } else if (strcmp(argv[2], "mutate") == 0) {
        rc = mutate_mode(base, argc > 7 ? atol(argv[7]) : 1000);
    } else {
        fprintf(stderr, "drive: unknown mode %s\n", argv[2]);
        rc = 2;
    }
    free(request);
    return rc;
}
