/*
 * mime.h - the MIME pieces of a mail message: text made fit for a header
 * or a part, RFC 2047 encoded-words, header folding, a display name in an
 * address, and base64 body parts of a multipart message.
 *
 * Writers append to a struct dynbuf (common/dynbuf.h) created with a cap
 * of MESSAGE_MAX; its first failure sticks, so they return nothing and the
 * caller checks the buffer once at the end.  Functions returning char *
 * return a malloc'd string the caller frees, or NULL when out of memory.
 */
#ifndef TRACKLY_MIME_H
#define TRACKLY_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "dynbuf.h"

/* Cap on any buffer built for a message: the inputs are a few kilobytes
 * at most. */
#define MESSAGE_MAX (1024 * 1024)

/* Folding point for plain header values, and the hard limit of RFC 5322. */
#define HEADER_LINE_SOFT 78
#define HEADER_LINE_HARD 998

/* A copy of s fit to put anywhere in a message: C0 and C1 control
 * characters and DEL (CR and LF among them) are dropped, and bytes that
 * are not well-formed UTF-8 become U+FFFD. */
char *mime_clean_text(const char *s);

/* Encodes s as an RFC 2047 header value: unchanged when it is printable
 * ASCII (and has no "=?", which a reader would take for an encoded-word),
 * otherwise one or more "=?UTF-8?B?...?=" encoded-words of at most
 * 75 characters each (never splitting a UTF-8 sequence), separated by
 * CRLF SPACE.  s is cleaned with mime_clean_text first.  NULL for a NULL
 * s too. */
char *mime_encode_header(const char *s);

/* An address from configuration ("Trackly Überwachung <t@example.com>")
 * with a display name that is not plain ASCII encoded and the address
 * kept as it is. */
char *mime_encode_address(const char *from);

/* Appends "Name: value" CRLF, value folded before spaces so lines stay
 * within HEADER_LINE_SOFT where the text allows it.  A value already
 * folded (encoded-words) is written as it is. */
void mime_add_header(struct dynbuf *b, const char *name, const char *value);

/* Appends one part of a multipart message: the boundary line, its
 * Content-Type (type; charset=utf-8) and body[0..len) in base64 lines of
 * 76 characters. */
void mime_add_part(struct dynbuf *b, const char *boundary, const char *type,
                   const char *body, size_t len);

#endif
