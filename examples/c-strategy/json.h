/*
 * json.h: a small, self-contained JSON reader and writer for the c-first-fit example plugin
 * (C11 and libc only). Copy it into your own plugin if it is enough for you.
 *
 * Reading: `json_parse` builds a tree in an arena (`json_doc`) that one `json_doc_free` releases
 * whole, so a call owns all its memory and nothing is shared between threads. The parser is
 * strict RFC 8259: one value, no trailing commas, no comments, strings of valid UTF-8 (escapes
 * decoded, `\u0000` included: every string carries its length), numbers as doubles (out of
 * range is an error), at most JSON_MAX_DEPTH nested arrays and objects. Malformed input is an
 * error with a message naming the byte offset, never a crash.
 *
 * Writing: `json_buf` is a growable string; `jb_string` writes a JSON string literal with every
 * character that needs it escaped. An allocation failure is remembered and `jb_finish` then
 * returns NULL.
 */
#ifndef CFF_JSON_H
#define CFF_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 128

/* Not exported from the plugin: the daemon's process may hold other `json_parse`s, and an
 * exported one could be interposed by (or interpose) them. */
#if defined(__GNUC__) || defined(__clang__)
#define JSON_API __attribute__((visibility("hidden")))
#else
#define JSON_API
#endif

typedef enum {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    /* The member name when this value is inside an object (decoded, NUL-terminated). */
    const char *key;
    size_t key_len;
    /* The next element of the same array, or the next member of the same object. */
    const json_value *next;
    /* JSON_NUMBER */
    double number;
    /* JSON_STRING: decoded, NUL-terminated; may contain NUL bytes, so use `string_len`. */
    const char *string;
    size_t string_len;
    /* JSON_ARRAY / JSON_OBJECT: the first element or member (in document order) and how many. */
    const json_value *first;
    size_t count;
};

/* An arena of blocks; zero-initialise it (`json_doc doc = {0};`), free it with json_doc_free. */
typedef struct json_doc {
    struct json_block *blocks;
} json_doc;

/*
 * Parses the NUL-terminated `text` into `doc`. Returns the root value, or NULL with a one-line
 * message in `err` (at most `err_size` bytes, NUL-terminated) when `text` is not JSON.
 * Several texts may be parsed into the same doc.
 */
JSON_API const json_value *json_parse(json_doc *doc, const char *text, char *err, size_t err_size);

/* `size` bytes from the doc's arena, aligned for any type; NULL when out of memory. */
JSON_API void *json_doc_alloc(json_doc *doc, size_t size);

/* Frees everything parsed or allocated in `doc`; it can be used again afterwards. */
JSON_API void json_doc_free(json_doc *doc);

/* The member `key` of `object` (the first one if repeated); NULL when absent or not an object. */
JSON_API const json_value *json_get(const json_value *object, const char *key);

/* 1 when `value` is a string equal to the NUL-terminated `text`, else 0. */
JSON_API int json_is_string(const json_value *value, const char *text);

/* 1 when `a` (a decoded string of `a_len` bytes) equals `b` (`b_len` bytes), else 0. */
JSON_API int json_bytes_equal(const char *a, size_t a_len, const char *b, size_t b_len);

/* A growable output string. Zero-initialise it (`json_buf out = {0};`). */
typedef struct json_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} json_buf;

/* Appends `len` raw bytes. */
JSON_API void jb_bytes(json_buf *buf, const char *bytes, size_t len);
/* Appends a NUL-terminated string, raw. */
JSON_API void jb_text(json_buf *buf, const char *text);
/* Appends the `len` bytes of `text` escaped for the inside of a JSON string (no quotes). */
JSON_API void jb_escaped(json_buf *buf, const char *text, size_t len);
/* Appends `text` as a JSON string literal, quotes included. */
JSON_API void jb_string(json_buf *buf, const char *text, size_t len);
/* Appends an unsigned integer in decimal. */
JSON_API void jb_uint(json_buf *buf, unsigned long long value);
/* Appends a double as `%g` would (for messages). */
JSON_API void jb_double(json_buf *buf, double value);
/* The NUL-terminated text (malloc'd; the caller frees it), or NULL if an allocation failed.
 * The buffer is empty afterwards. */
JSON_API char *jb_finish(json_buf *buf);
/* Frees the text without returning it. */
JSON_API void jb_discard(json_buf *buf);
/* Empties the text, keeping its memory. */
JSON_API void jb_reset(json_buf *buf);

#endif /* CFF_JSON_H */
