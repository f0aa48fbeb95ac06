/*
 * handlers.h - every route handler, grouped by the file that holds it.
 *
 * A handler answers through the reply_* functions of request.h and returns
 * the HTTP status it sent (or an error status for the router to send).
 */
#ifndef TRACKLY_HANDLERS_H
#define TRACKLY_HANDLERS_H

#include "request.h"

/* health.c: the read-only state of this API, for operators */
int health_get(struct request *req);
int metrics_get(struct request *req);

/* users.c */
int users_register(struct request *req);
int users_login(struct request *req);
int users_logout(struct request *req);
int users_signout(struct request *req);
int users_me(struct request *req);
int users_change_password(struct request *req);
int users_delete(struct request *req);

/* verify.c */
int verify_confirm(struct request *req);
int verify_redirect(struct request *req);
int verify_resend(struct request *req);

/* projects.c */
int projects_create(struct request *req);
int projects_list(struct request *req);
int projects_get(struct request *req);
int projects_update(struct request *req);
int projects_delete(struct request *req);
int projects_check_now(struct request *req);
int projects_dashboard(struct request *req);
int projects_status(struct request *req);

/* mute.c */
int mute_link(struct request *req);

/* history.c */
int history_checks(struct request *req);
int history_uptime(struct request *req);
int history_incidents(struct request *req);
int history_series(struct request *req);

#endif
