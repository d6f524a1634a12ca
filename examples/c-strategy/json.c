/*
 * json.c: the reader and writer json.h declares. C11 and libc only; no global state, so any
 * number of threads may parse and write at once.
 */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* The arena                                                                                */

struct json_block {
    struct json_block *next;
    size_t used;
    size_t cap;
    max_align_t data[];
};

#define BLOCK_BYTES ((size_t)16384)
#define ALIGNMENT (sizeof(max_align_t))

void *json_doc_alloc(json_doc *doc, size_t size) {
    if (size == 0) {
        size = 1;
    }
    if (size > SIZE_MAX - ALIGNMENT - sizeof(struct json_block)) {
        return NULL;
    }
    size_t rounded = (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    struct json_block *block = doc->blocks;
    if (block == NULL || block->cap - block->used < rounded) {
        size_t cap = rounded > BLOCK_BYTES ? rounded : BLOCK_BYTES;
        block = malloc(sizeof(struct json_block) + cap);
        if (block == NULL) {
            return NULL;
        }
        block->used = 0;
        block->cap = cap;
        if (doc->blocks != NULL && rounded > BLOCK_BYTES) {
            /* A big one-off allocation: keep filling the current block afterwards. */
            block->next = doc->blocks->next;
            doc->blocks->next = block;
        } else {
            block->next = doc->blocks;
            doc->blocks = block;
        }
    }
    void *result = (char *)block->data + block->used;
    block->used += rounded;
    return result;
}

void json_doc_free(json_doc *doc) {
    struct json_block *block = doc->blocks;
    while (block != NULL) {
        struct json_block *next = block->next;
        free(block);
        block = next;
    }
    doc->blocks = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* The parser                                                                               */

typedef struct parser {
    const char *start;
    const char *p;
    const char *end;
    json_doc *doc;
    int depth;
    char *err;
    size_t err_size;
    int failed;
} parser;

static void fail(parser *ps, const char *what) {
    if (ps->failed) {
        return;
    }
    ps->failed = 1;
    if (ps->err != NULL && ps->err_size > 0) {
        snprintf(ps->err, ps->err_size, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
    }
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

static json_value *new_value(parser *ps, json_type type) {
    json_value *v = json_doc_alloc(ps->doc, sizeof *v);
    if (v == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

static int hex4(const char *p, unsigned *out) {
    unsigned value = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            digit = (unsigned)(c - 'A' + 10);
        } else {
            return 0;
        }
        value = value * 16 + digit;
    }
    *out = value;
    return 1;
}

static size_t put_utf8(char *dst, unsigned cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The length of the valid UTF-8 sequence at `p` (at most `avail` bytes), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *p, size_t avail) {
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) {
            lo = 0xA0; /* no overlong forms */
        } else if (c == 0xED) {
            hi = 0x9F; /* no surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F; /* nothing above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (avail < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

/* Parses the string literal at ps->p (its opening quote); sets *out and *out_len. */
static int parse_string(parser *ps, const char **out, size_t *out_len) {
    ps->p++; /* the opening quote */
    const char *begin = ps->p;
    const char *scan = begin;
    while (scan < ps->end && *scan != '"') {
        if (*scan == '\\') {
            scan++;
            if (scan >= ps->end) {
                break;
            }
        }
        scan++;
    }
    if (scan >= ps->end) {
        ps->p = scan;
        fail(ps, "unterminated string");
        return 0;
    }
    /* Escapes only shrink: the raw length bounds the decoded one. */
    size_t raw_len = (size_t)(scan - begin);
    char *dst = json_doc_alloc(ps->doc, raw_len + 1);
    if (dst == NULL) {
        fail(ps, "out of memory");
        return 0;
    }
    size_t n = 0;
    while (ps->p < scan) {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            fail(ps, "control character in string");
            return 0;
        }
        if (c >= 0x80) {
            size_t len = utf8_sequence((const unsigned char *)ps->p, (size_t)(scan - ps->p));
            if (len == 0) {
                fail(ps, "invalid UTF-8 in string");
                return 0;
            }
            memcpy(dst + n, ps->p, len);
            n += len;
            ps->p += len;
            continue;
        }
        if (c != '\\') {
            dst[n++] = (char)c;
            ps->p++;
            continue;
        }
        /* An escape: the scan above made sure a character follows the backslash. */
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (scan - ps->p < 4 || !hex4(ps->p, &cp)) {
                fail(ps, "bad \\u escape");
                return 0;
            }
            ps->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, "lone low surrogate in \\u escape");
                return 0;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned low;
                if (scan - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    !hex4(ps->p + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
                    fail(ps, "lone high surrogate in \\u escape");
                    return 0;
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            n += put_utf8(dst + n, cp);
            break;
        }
        default:
            ps->p--;
            fail(ps, "bad escape in string");
            return 0;
        }
    }
    dst[n] = '\0';
    ps->p = scan + 1; /* the closing quote */
    *out = dst;
    *out_len = n;
    return 1;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Exact powers of ten up to 1e22 (all exactly representable as doubles). */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static json_value *parse_number(parser *ps) {
    const char *begin = ps->p;
    int negative = 0;
    if (*ps->p == '-') {
        negative = 1;
        ps->p++;
    }
    const char *int_begin = ps->p;
    if (ps->p < ps->end && *ps->p == '0') {
        ps->p++;
    } else if (ps->p < ps->end && *ps->p >= '1' && *ps->p <= '9') {
        while (ps->p < ps->end && is_digit(*ps->p)) {
            ps->p++;
        }
    } else {
        fail(ps, "bad number");
        return NULL;
    }
    const char *int_end = ps->p;
    const char *frac_begin = ps->p, *frac_end = ps->p;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        frac_begin = ps->p;
        if (ps->p >= ps->end || !is_digit(*ps->p)) {
            fail(ps, "bad number: digits must follow '.'");
            return NULL;
        }
        while (ps->p < ps->end && is_digit(*ps->p)) {
            ps->p++;
        }
        frac_end = ps->p;
    }
    long long exponent = 0; /* saturated: far beyond any double's range either way */
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        int exp_negative = 0;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) {
            exp_negative = *ps->p == '-';
            ps->p++;
        }
        if (ps->p >= ps->end || !is_digit(*ps->p)) {
            fail(ps, "bad number: digits must follow the exponent");
            return NULL;
        }
        while (ps->p < ps->end && is_digit(*ps->p)) {
            if (exponent < 1000000000LL) {
                exponent = exponent * 10 + (*ps->p - '0');
            }
            ps->p++;
        }
        if (exp_negative) {
            exponent = -exponent;
        }
    }
    size_t int_digits = (size_t)(int_end - int_begin);
    size_t frac_digits = (size_t)(frac_end - frac_begin);
    double value;

    /* Fast path (exact): at most 15 significant digits and a small power of ten. */
    uint64_t mantissa = 0;
    size_t significant = 0;
    int leading = 1;
    for (const char *d = int_begin; d < frac_end; d++) {
        if (d == int_end) {
            d = frac_begin;
            if (d >= frac_end) {
                break;
            }
        }
        if (leading && *d == '0') {
            continue;
        }
        leading = 0;
        significant++;
        if (significant <= 15) {
            mantissa = mantissa * 10 + (uint64_t)(*d - '0');
        }
    }
    long long exp10 = exponent - (long long)frac_digits;
    if (significant <= 15 && exp10 >= -22 && exp10 <= 22) {
        value = exp10 >= 0 ? (double)mantissa * POW10[exp10] : (double)mantissa / POW10[-exp10];
    } else {
        /* strtod on "DIGITSeEXP", without the '.', so that the C locale's decimal point does
         * not matter. */
        size_t cap = 1 + int_digits + frac_digits + 24;
        char *buf = json_doc_alloc(ps->doc, cap);
        if (buf == NULL) {
            fail(ps, "out of memory");
            return NULL;
        }
        size_t n = 0;
        if (negative) {
            buf[n++] = '-';
        }
        memcpy(buf + n, int_begin, int_digits);
        n += int_digits;
        memcpy(buf + n, frac_begin, frac_digits);
        n += frac_digits;
        snprintf(buf + n, cap - n, "e%lld", exp10);
        value = strtod(buf, NULL);
        negative = 0; /* the sign is in the text */
    }
    if (negative) {
        value = -value;
    }
    if (!isfinite(value)) {
        ps->p = begin;
        fail(ps, "number out of range");
        return NULL;
    }
    json_value *v = new_value(ps, JSON_NUMBER);
    if (v != NULL) {
        v->number = value;
    }
    return v;
}

static int literal(parser *ps, const char *word) {
    size_t len = strlen(word);
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0) {
        return 0;
    }
    ps->p += len;
    return 1;
}

static json_value *parse_value(parser *ps);

static json_value *parse_array(parser *ps) {
    json_value *array = new_value(ps, JSON_ARRAY);
    if (array == NULL) {
        return NULL;
    }
    ps->p++; /* '[' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return array;
    }
    json_value *last = NULL;
    for (;;) {
        json_value *item = parse_value(ps);
        if (item == NULL) {
            return NULL;
        }
        if (last == NULL) {
            array->first = item;
        } else {
            last->next = item;
        }
        last = item;
        array->count++;
        skip_ws(ps);
        if (ps->p >= ps->end) {
            fail(ps, "unterminated array");
            return NULL;
        }
        if (*ps->p == ']') {
            ps->p++;
            return array;
        }
        if (*ps->p != ',') {
            fail(ps, "expected ',' or ']'");
            return NULL;
        }
        ps->p++;
    }
}

static json_value *parse_object(parser *ps) {
    json_value *object = new_value(ps, JSON_OBJECT);
    if (object == NULL) {
        return NULL;
    }
    ps->p++; /* '{' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return object;
    }
    json_value *last = NULL;
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, "expected a member name");
            return NULL;
        }
        const char *key;
        size_t key_len;
        if (!parse_string(ps, &key, &key_len)) {
            return NULL;
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, "expected ':'");
            return NULL;
        }
        ps->p++;
        json_value *member = parse_value(ps);
        if (member == NULL) {
            return NULL;
        }
        member->key = key;
        member->key_len = key_len;
        if (last == NULL) {
            object->first = member;
        } else {
            last->next = member;
        }
        last = member;
        object->count++;
        skip_ws(ps);
        if (ps->p >= ps->end) {
            fail(ps, "unterminated object");
            return NULL;
        }
        if (*ps->p == '}') {
            ps->p++;
            return object;
        }
        if (*ps->p != ',') {
            fail(ps, "expected ',' or '}'");
            return NULL;
        }
        ps->p++;
    }
}

static json_value *parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
    case '[': {
        if (ps->depth >= JSON_MAX_DEPTH) {
            fail(ps, "nested too deeply");
            return NULL;
        }
        ps->depth++;
        json_value *v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    }
    case '"': {
        json_value *v = new_value(ps, JSON_STRING);
        if (v == NULL || !parse_string(ps, &v->string, &v->string_len)) {
            return NULL;
        }
        return v;
    }
    case 't':
        if (literal(ps, "true")) {
            return new_value(ps, JSON_TRUE);
        }
        break;
    case 'f':
        if (literal(ps, "false")) {
            return new_value(ps, JSON_FALSE);
        }
        break;
    case 'n':
        if (literal(ps, "null")) {
            return new_value(ps, JSON_NULL);
        }
        break;
    default:
        if (*ps->p == '-' || is_digit(*ps->p)) {
            return parse_number(ps);
        }
        break;
    }
    fail(ps, "unexpected character");
    return NULL;
}

const json_value *json_parse(json_doc *doc, const char *text, char *err, size_t err_size) {
    if (err != NULL && err_size > 0) {
        err[0] = '\0';
    }
    if (text == NULL) {
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "no text (NULL)");
        }
        return NULL;
    }
    parser ps = {
        .start = text,
        .p = text,
        .end = text + strlen(text),
        .doc = doc,
        .depth = 0,
        .err = err,
        .err_size = err_size,
        .failed = 0,
    };
    json_value *root = parse_value(&ps);
    if (root == NULL) {
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "trailing characters after the JSON value");
        return NULL;
    }
    return root;
}

const json_value *json_get(const json_value *object, const char *key) {
    if (object == NULL || object->type != JSON_OBJECT) {
        return NULL;
    }
    size_t len = strlen(key);
    for (const json_value *m = object->first; m != NULL; m = m->next) {
        if (json_bytes_equal(m->key, m->key_len, key, len)) {
            return m;
        }
    }
    return NULL;
}

int json_bytes_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int json_is_string(const json_value *value, const char *text) {
    return value != NULL && value->type == JSON_STRING &&
           json_bytes_equal(value->string, value->string_len, text, strlen(text));
}

/* ---------------------------------------------------------------------------------------- */
/* The writer                                                                               */

static int reserve(json_buf *buf, size_t more) {
    if (buf->failed) {
        return 0;
    }
    if (more > SIZE_MAX - buf->len - 1) {
        buf->failed = 1;
        return 0;
    }
    size_t need = buf->len + more + 1; /* room for the final NUL */
    if (need <= buf->cap) {
        return 1;
    }
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *data = realloc(buf->data, cap);
    if (data == NULL) {
        buf->failed = 1;
        return 0;
    }
    buf->data = data;
    buf->cap = cap;
    return 1;
}

void jb_bytes(json_buf *buf, const char *bytes, size_t len) {
    if (len == 0 || !reserve(buf, len)) {
        return;
    }
    memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void jb_text(json_buf *buf, const char *text) {
    jb_bytes(buf, text, strlen(text));
}

void jb_escaped(json_buf *buf, const char *text, size_t len) {
    static const char HEX[] = "0123456789abcdef";
    size_t run = 0; /* bytes copied as they are, written in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        const char *escape = NULL;
        char unicode[7];
        switch (c) {
        case '"': escape = "\\\""; break;
        case '\\': escape = "\\\\"; break;
        case '\b': escape = "\\b"; break;
        case '\f': escape = "\\f"; break;
        case '\n': escape = "\\n"; break;
        case '\r': escape = "\\r"; break;
        case '\t': escape = "\\t"; break;
        default:
            if (c < 0x20) {
                unicode[0] = '\\';
                unicode[1] = 'u';
                unicode[2] = '0';
                unicode[3] = '0';
                unicode[4] = HEX[c >> 4];
                unicode[5] = HEX[c & 0xF];
                unicode[6] = '\0';
                escape = unicode;
            }
            break;
        }
        if (escape == NULL) {
            run++;
            continue;
        }
        jb_bytes(buf, text + i - run, run);
        run = 0;
        jb_text(buf, escape);
    }
    jb_bytes(buf, text + len - run, run);
}

void jb_string(json_buf *buf, const char *text, size_t len) {
    jb_bytes(buf, "\"", 1);
    jb_escaped(buf, text, len);
    jb_bytes(buf, "\"", 1);
}

void jb_uint(json_buf *buf, unsigned long long value) {
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", value);
    if (n > 0) {
        jb_bytes(buf, digits, (size_t)n);
    }
}

void jb_double(json_buf *buf, double value) {
    char digits[40];
    int n = snprintf(digits, sizeof digits, "%g", value);
    if (n > 0 && (size_t)n < sizeof digits) {
        jb_bytes(buf, digits, (size_t)n);
    }
}

char *jb_finish(json_buf *buf) {
    if (buf->failed) {
        jb_discard(buf);
        return NULL;
    }
    if (!reserve(buf, 0)) {
        jb_discard(buf);
        return NULL;
    }
    buf->data[buf->len] = '\0';
    char *text = buf->data;
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return text;
}

void jb_discard(json_buf *buf) {
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->failed = 0;
}

void jb_reset(json_buf *buf) {
    buf->len = 0;
    if (buf->data != NULL) {
        buf->data[0] = '\0';
    }
}
