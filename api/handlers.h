/*
 * handlers.h - every route handler, grouped by the file that holds it.
 *
 * A handler answers through the reply_* functions of request.h and returns
 * the HTTP status it sent (or an error status for the router to send).
 */
#ifndef TRACKLY_HANDLERS_H
#define TRACKLY_HANDLERS_H

#include "request.h"

/* health.c */
int health_get(struct request *req);

/* users.c */
int users_register(struct request *req);
int users_login(struct request *req);
int users_logout(struct request *req);
int users_me(struct request *req);
int users_change_password(struct request *req);
int users_delete(struct request *req);
int users_verify(struct request *req);

#endif
