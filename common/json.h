/*
 * json.h - checking request bodies and reading typed fields out of them.
 *
 * cJSON parses; this module decides what Trackly accepts.  A body must be
 * well-formed UTF-8 (no overlong forms, no UTF-16 surrogates, nothing past
 * U+10FFFF), contain no NUL byte and no "\u0000" escape (C strings would
 * silently cut there), be a single JSON object, and have no duplicate keys
 * at the top level.  Field getters name the field in their error message so
 * the client learns what to fix: "field 'email' must be a string".
 *
 * Memory: json_parse_object returns a tree the caller frees with
 * cJSON_Delete; strings returned by the getters point into that tree.
 */
#ifndef TRACKLY_JSON_H
#define TRACKLY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <cJSON.h>

#include "utf8.h"    /* utf8_valid, utf8_chars: callers of json.h use them */

/* Deepest nesting accepted in a request body. */
#define JSON_MAX_DEPTH 32
/* Most memory the parsed tree of one body may take, when counted (see
 * json_memory_init); a body beyond it is refused with JSON_TOO_BIG. */
#define JSON_PARSE_MEMORY_MAX (1024 * 1024)
/* The message json_parse_object gives for such a body, for callers that
 * answer it with 413 rather than 400. */
#define JSON_TOO_BIG "request body has too many values"

/* What a refused body is told (the API answers 400 with these). */
#define JSON_MSG_EMPTY     "request body is empty"
#define JSON_MSG_NUL       "request body contains a NUL character"
#define JSON_MSG_UTF8      "request body is not valid UTF-8"
#define JSON_MSG_DEEP      "request body is nested too deeply"
#define JSON_MSG_SYNTAX    "request body is not valid JSON"
#define JSON_MSG_NOT_OBJ   "request body must be a JSON object"
#define JSON_MSG_DUPLICATE "request body has a duplicate field"

enum json_field {
  JSON_FIELD_INVALID = -1,   /* present with the wrong type or out of range */
  JSON_FIELD_ABSENT = 0,     /* missing, or JSON null */
  JSON_FIELD_OK = 1,
};

/* Routes cJSON's allocations through a counter, so json_parse_object can
 * cap the memory a body's tree takes (JSON_PARSE_MEMORY_MAX).  Call once,
 * before anything is allocated with cJSON, in a single-threaded process:
 * the counter is a plain global.  Without it, nothing is capped. */
void json_memory_init(void);

/* Bytes cJSON holds right now (0 unless json_memory_init was called). */
size_t json_memory_used(void);

/* Parses body[0..len) into a JSON object after the checks above.  Returns
 * the tree, or NULL with *why set to a short static message for the client
 * ("body is not valid UTF-8", "body must be a JSON object", ...); *why is
 * JSON_TOO_BIG (compare with strcmp) when the tree would not fit its cap. */
cJSON *json_parse_object(const char *body, size_t len, const char **why);

/* Typed getters.  Each returns JSON_FIELD_OK and sets *out, JSON_FIELD_ABSENT
 * (out untouched), or JSON_FIELD_INVALID with a message naming the field
 * written to err (always NUL-terminated, truncated to errcap). */
enum json_field json_get_string(const cJSON *obj, const char *name,
                                const char **out, size_t *len,
                                char *err, size_t errcap);
/* An integral JSON number in [min, max] (1e3 is 1000; 1.5 is invalid). */
enum json_field json_get_int(const cJSON *obj, const char *name,
                             int64_t min, int64_t max, int64_t *out,
                             char *err, size_t errcap);
enum json_field json_get_bool(const cJSON *obj, const char *name, bool *out,
                              char *err, size_t errcap);

#endif
