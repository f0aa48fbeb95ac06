/*
 * document.h - what a mail says before it is written out, shared by the
 * kinds that fill it (kinds.c) and the writers that write it once as plain
 * text and once as HTML (message.c), so the two parts cannot drift apart.
 * Private to the mail writer: not included outside monitor/message.c and
 * monitor/kinds.c.
 *
 * Memory: facts_gather fills strings that facts_free frees; a doc's
 * strings point into its facts, into static text, or into its own
 * buffers, which doc_free frees.
 */
#ifndef TRACKLY_DOCUMENT_H
#define TRACKLY_DOCUMENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "dynbuf.h"
#include "message.h"

/* Everything the wording needs, cleaned; only mute_link, unsubscribe_url
 * and project_url may be NULL (not in the row). */
struct facts {
  char *name;
  char *link;
  char *reason;
  char *since;
  char *until;
  char *mute_link;
  char *unsubscribe_url;
  char *project_url;
  char *public_url;
  char *status;           /* flapping: the state now */
  char duration[64];
  const cJSON *payload;   /* for what only one kind reads (digest) */
};

struct row {
  const char *label;    /* NULL: the value stands alone */
  const char *value;
  bool link;            /* an http(s) URL becomes a link in the HTML part */
};

/* Rows of a message; a digest lists at most DIGEST_ITEMS_MAX alerts. */
#define ROWS_MAX 64
#define DIGEST_ITEMS_MAX 50

/* What a message says, before it is written as text or HTML. */
struct doc {
  struct dynbuf headline;  /* may include the project name */
  const char *subject;     /* instead of the kind's, when set */
  const char *intro;       /* a paragraph after the headline, or NULL */
  struct row rows[ROWS_MAX];
  size_t nrows;
  const char *note;        /* a closing paragraph, or NULL */
  struct dynbuf text;      /* storage for what the rows and note point to */
  char subject_text[96];
};

struct kind {
  const char *name;
  const char *subject;  /* the subject, or for alerts its prefix */
  bool alert;           /* about a project: named in the subject, mutable */
  void (*compose)(struct doc *d, const struct facts *f);
};

/* The kind called name, or NULL. */
const struct kind *kind_find(const char *name);

/* Reads the row into f (zeroed by the caller).  0, or -1 when out of
 * memory; facts_free frees f either way. */
int facts_gather(struct facts *f, const struct message_input *in);
void facts_free(struct facts *f);

void doc_init(struct doc *d);
void doc_free(struct doc *d);

#endif
