// routes.go: Go twins of the other routes Trackly's web client polls, for
// bench/api to measure trackly-api against (issue 14). Not part of the
// original service: written for this benchmark in the original's style
// (gorilla/mux handlers behind the same CORS and JWT middleware as
// GET /project, database/sql on pgx, encoding/json), so each route does the
// same work as trackly-api's -- the JWT, with -revocation the token_version
// lookup, then one read -- and answers the same fields (api/projects.c,
// api/history.c):
//
//	GET /project/status[?recent=N]      one line per project, [+ its last N checks]
//	GET /project/dashboard              the dashboard's summary and lists
//	GET /project/{id}/checks[?limit=&offset=]     a page of raw checks, X-Total-Count
//	GET /project/{id}/uptime            the 24h, 7d and 30d windows
//	GET /project/{id}/incidents[?limit=&offset=]  a page of incidents, X-Total-Count
//
// How the reads are written: one statement per request, as Trackly's, but
// with plain columns (no JSON built by PostgreSQL) and encoding/json
// writing the answer. Where Trackly's answer nests arrays, the same
// statement returns the children as rows, the parent read once in a
// MATERIALIZED CTE (so that its sub-selects run once per parent): ?recent=
// is a UNION ALL of the lines and each project's last N checks (LATERAL),
// told apart by a kind column, so each value comes once; the checks and
// incidents pages join the page to the project and its total (one row of
// NULLs when there are none); the dashboard is a UNION ALL of its summary
// row, the projects down and the latest incidents. So neither side makes
// more round trips than the other.
// Where Trackly formats a value in SQL (timestamps as RFC 3339 seconds in
// UTC, "UP"/"DOWN", last_updated's text), Go formats it here; rounded
// figures (uptime percentages, mean latencies) are rounded by PostgreSQL
// as in Trackly and scanned as numbers.
package main

import (
	"database/sql"
	"encoding/json"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
)

// Trackly's bounds (api/projects.c, api/history.c).
const (
	statusRecentMax   = 100
	checksLimitDef    = 100
	checksLimitMax    = 1000
	incidentsLimitDef = 20
	incidentsLimitMax = 100
	historyOffsetMax  = 100000
)

// STATUS_COLUMNS of api/projects.c, as plain columns.
const statusColumns = `p.id, p.name, p.link,
       CASE WHEN p.paused THEN 'PAUSED' ELSE p.status END AS status,
       p.last_status_code, p.last_latency_ms, p.last_checked_at,
       coalesce(p.last_checked_at, p.updated_at) AS last_updated,
       p.paused, p.alerts_muted, p.interval_seconds, p.last_error,
       coalesce(p.status_changed_at, p.created_at) AS status_since,
       (SELECT round(100.0 * sum(h.up) / nullif(sum(h.checks), 0), 2)
          FROM check_hours h WHERE h.project_id = p.id
           AND h.hour >= date_trunc('hour', now()) - interval '23 hours')
         AS uptime_24h`

const statusQuery = `SELECT ` + statusColumns + `
  FROM projects p WHERE p.user_id = $1 ORDER BY p.id`

// The lines (kind 0), each followed by its project's last $2 checks
// oldest first (kind 1, the line's columns NULL but its id): one statement
// whose rows carry each value once. "ago" is Trackly's seconds before
// last_checked (now() when none).
const statusRecentQuery = `WITH p AS MATERIALIZED (
  SELECT ` + statusColumns + ` FROM projects p WHERE p.user_id = $1)
SELECT 0 AS kind, p.id, p.name, p.link, p.status, p.last_status_code,
       p.last_latency_ms, p.last_checked_at, p.last_updated, p.paused,
       p.alerts_muted, p.interval_seconds, p.last_error, p.status_since,
       p.uptime_24h, NULL::timestamptz AS checked_at, NULL::bigint AS ago,
       NULL::boolean AS ok, NULL::integer AS status_code,
       NULL::integer AS latency_ms, NULL::text AS error
  FROM p
UNION ALL
SELECT 1, p.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, r.checked_at, r.ago, r.ok, r.status_code,
       r.latency_ms, r.error
  FROM p CROSS JOIN LATERAL (
    SELECT (extract(epoch FROM coalesce(p.last_checked_at, now()))
            - extract(epoch FROM c.checked_at))::bigint AS ago,
           c.checked_at, c.ok, c.status_code, c.latency_ms, c.error
      FROM checks c WHERE c.project_id = p.id
     ORDER BY c.checked_at DESC LIMIT $2::int) r
 ORDER BY 2, 1, 16`

// project_dashboard of api/projects.c: kind 0 is the summary (its counts in
// n1..n5), 1 the projects down now, 2 the latest incidents.
const dashboardQuery = `WITH s AS (
  SELECT count(*) AS total,
         coalesce((SELECT name FROM projects WHERE user_id = $1
                    ORDER BY created_at DESC, id DESC LIMIT 1), '') AS latest,
         greatest(max(updated_at), max(last_checked_at)) AS last_updated,
         count(*) FILTER (WHERE NOT paused AND status = 'UP') AS up,
         count(*) FILTER (WHERE NOT paused AND status = 'DOWN') AS down,
         count(*) FILTER (WHERE NOT paused AND status = 'PENDING') AS pending,
         count(*) FILTER (WHERE paused) AS paused,
         max(last_checked_at) AS last_checked
    FROM projects WHERE user_id = $1)
SELECT 0 AS kind, 0::bigint AS ord, NULL::bigint AS id,
       NULL::bigint AS project_id, s.latest AS name, NULL::text AS link,
       s.last_checked AS t1, s.last_updated AS t2, NULL::text AS reason,
       s.total AS n1, s.up AS n2, s.down AS n3, s.pending AS n4,
       s.paused AS n5
  FROM s
UNION ALL
SELECT 1, row_number() OVER (ORDER BY d.since, d.id), d.id, NULL, d.name,
       d.link, d.since, NULL, d.last_error, NULL, NULL, NULL, NULL, NULL
  FROM (SELECT p.id, p.name, p.link, p.last_error,
               coalesce(i.started_at, p.failing_since, p.status_changed_at)
                 AS since
          FROM projects p LEFT JOIN incidents i
            ON i.project_id = p.id AND i.resolved_at IS NULL
         WHERE p.user_id = $1 AND p.status = 'DOWN' AND NOT p.paused
         ORDER BY since, p.id LIMIT 100) d
UNION ALL
SELECT 2, row_number() OVER (ORDER BY r.started_at DESC, r.id DESC), r.id,
       r.project_id, r.name, NULL, r.started_at, r.resolved_at, r.reason,
       floor(extract(epoch FROM coalesce(r.resolved_at, now())
                                - r.started_at))::bigint,
       NULL, NULL, NULL, NULL
  FROM (SELECT i.id, i.project_id, p.name, i.started_at, i.resolved_at,
               i.reason
          FROM incidents i JOIN projects p ON p.id = i.project_id
         WHERE p.user_id = $1
         ORDER BY i.started_at DESC, i.id DESC LIMIT 10) r
 ORDER BY kind, ord`

// history_checks: (total, page); no row when the project is not the
// caller's, one row of NULLs after the total when it has no checks there.
const checksQuery = `WITH p AS MATERIALIZED (
  SELECT p.id, (SELECT count(*) FROM checks c WHERE c.project_id = p.id) AS total
    FROM projects p WHERE p.id = $1 AND p.user_id = $2)
SELECT p.total, c.id, c.scheduled_at, c.checked_at, c.ok, c.status_code,
       c.latency_ms, c.error
  FROM p LEFT JOIN LATERAL (
    SELECT * FROM checks c WHERE c.project_id = p.id
     ORDER BY c.checked_at DESC, c.id DESC LIMIT $3::int OFFSET $4::int) c ON true
 ORDER BY c.checked_at DESC, c.id DESC`

// history_uptime: one row per window, hours ascending.
const uptimeQuery = `SELECT p.id, w.hours, coalesce(s.checks, 0), coalesce(s.up, 0),
       CASE WHEN s.checks > 0 THEN round(100.0 * s.up / s.checks, 3) END,
       CASE WHEN s.checks > 0 THEN round(s.latency::numeric / s.checks, 1) END
  FROM projects p
 CROSS JOIN (VALUES (24), (168), (720)) AS w(hours)
 CROSS JOIN LATERAL (
    SELECT sum(h.checks) AS checks, sum(h.up) AS up,
           sum(h.latency_sum) AS latency
      FROM check_hours h
     WHERE h.project_id = p.id
       AND h.hour >= date_trunc('hour', now()) - (w.hours - 1) * interval '1 hour') s
 WHERE p.id = $1 AND p.user_id = $2
 ORDER BY w.hours`

// history_incidents: (total, page), newest first.
const incidentsQuery = `WITH p AS MATERIALIZED (
  SELECT p.id, (SELECT count(*) FROM incidents i WHERE i.project_id = p.id) AS total
    FROM projects p WHERE p.id = $1 AND p.user_id = $2)
SELECT p.total, i.id, i.started_at, i.resolved_at,
       floor(extract(epoch FROM coalesce(i.resolved_at, now())
                                - i.started_at))::bigint,
       i.reason
  FROM p LEFT JOIN LATERAL (
    SELECT * FROM incidents WHERE project_id = p.id
     ORDER BY started_at DESC, id DESC LIMIT $3::int OFFSET $4::int) i ON true
 ORDER BY i.started_at DESC, i.id DESC`

// stamp: a time as Trackly writes it (DB_RFC3339: seconds, UTC, "Z").
type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"'), nil
}

type statusLine struct {
	ID              int64    `json:"id"`
	Name            string   `json:"name"`
	Link            string   `json:"link"`
	Status          string   `json:"status"`
	Code            *int64   `json:"code"`
	LatencyMs       *int64   `json:"latency_ms"`
	LastChecked     *stamp   `json:"last_checked"`
	LastUpdated     stamp    `json:"last_updated"`
	Paused          bool     `json:"paused"`
	AlertsMuted     bool     `json:"alerts_muted"`
	IntervalSeconds int64    `json:"interval_seconds"`
	LastError       *string  `json:"last_error"`
	StatusSince     stamp    `json:"status_since"`
	Uptime24h       *float64 `json:"uptime_24h"`
}

// recentCheck: Trackly's compact [ago, ok, code, latency(, error)].
type recentCheck struct {
	ago       int64
	ok        bool
	code, lat sql.NullInt64
	err       sql.NullString
}

func (c recentCheck) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	b = strconv.AppendInt(b, c.ago, 10)
	if c.ok {
		b = append(b, ",1"...)
	} else {
		b = append(b, ",0"...)
	}
	b = appendNullInt(b, c.code)
	b = appendNullInt(b, c.lat)
	if c.err.Valid {
		e, err := json.Marshal(c.err.String)
		if err != nil {
			return nil, err
		}
		b = append(append(b, ','), e...)
	}
	return append(b, ']'), nil
}

func appendNullInt(b []byte, n sql.NullInt64) []byte {
	if !n.Valid {
		return append(b, ",null"...)
	}
	return strconv.AppendInt(append(b, ','), n.Int64, 10)
}

type statusRecentLine struct {
	statusLine
	Recent []recentCheck `json:"recent"`
}

type downProject struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Link   string  `json:"link"`
	Since  *stamp  `json:"since"`
	Reason *string `json:"reason"`
}

type dashIncident struct {
	ID              int64  `json:"id"`
	ProjectID       int64  `json:"project_id"`
	ProjectName     string `json:"project_name"`
	StartedAt       stamp  `json:"started_at"`
	ResolvedAt      *stamp `json:"resolved_at"`
	DurationSeconds int64  `json:"duration_seconds"`
	Cause           string `json:"cause"`
}

type dashboard struct {
	TotalProjects   int64          `json:"total_projects"`
	LatestProjects  string         `json:"latest_projects"`
	LastUpdated     string         `json:"last_updated"`
	Up              int64          `json:"up"`
	Down            int64          `json:"down"`
	Pending         int64          `json:"pending"`
	Paused          int64          `json:"paused"`
	LastCheckedAt   *stamp         `json:"last_checked_at"`
	DownProjects    []downProject  `json:"down_projects"`
	RecentIncidents []dashIncident `json:"recent_incidents"`
}

type checkRow struct {
	ID          int64   `json:"id"`
	ScheduledAt stamp   `json:"scheduled_at"`
	CheckedAt   stamp   `json:"checked_at"`
	OK          bool    `json:"ok"`
	Status      string  `json:"status"`
	StatusCode  *int64  `json:"status_code"`
	LatencyMs   *int64  `json:"latency_ms"`
	Error       *string `json:"error"`
}

type uptimeWindow struct {
	Checks        int64    `json:"checks"`
	Up            int64    `json:"up"`
	UptimePercent *float64 `json:"uptime_percent"`
	AvgLatencyMs  *float64 `json:"avg_latency_ms"`
}

type uptime struct {
	ProjectID int64 `json:"project_id"`
	Windows   struct {
		H24 uptimeWindow `json:"24h"`
		D7  uptimeWindow `json:"7d"`
		D30 uptimeWindow `json:"30d"`
	} `json:"windows"`
}

type incidentRow struct {
	ID              int64  `json:"id"`
	StartedAt       stamp  `json:"started_at"`
	ResolvedAt      *stamp `json:"resolved_at"`
	DurationSeconds int64  `json:"duration_seconds"`
	Cause           string `json:"cause"`
}

// routes: the twins, on the /project subrouter (JWT middleware included).
func (s *server) routes(pr *mux.Router) {
	pr.HandleFunc("/status", s.getStatus).Methods("GET")
	pr.HandleFunc("/dashboard", s.getDashboard).Methods("GET")
	pr.HandleFunc("/{id}/checks", s.getChecks).Methods("GET")
	pr.HandleFunc("/{id}/uptime", s.getUptime).Methods("GET")
	pr.HandleFunc("/{id}/incidents", s.getIncidents).Methods("GET")
}

// queryInt: the query parameter name as an integer in [min, max]: its
// value and whether it was given, or bad when it is not such a number.
func queryInt(r *http.Request, name string, min, max int64) (v int64, ok, bad bool) {
	q := r.URL.Query()
	if _, given := q[name]; !given {
		return 0, false, false
	}
	v, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil || v < min || v > max {
		return 0, false, true
	}
	return v, true, false
}

func badRequest(w http.ResponseWriter, name string) {
	http.Error(w, "bad query parameter "+name, http.StatusBadRequest)
}

func dbFailed(w http.ResponseWriter, what string, err error) {
	log.Printf("%s: %v", what, err)
	http.Error(w, "database error", http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("encode: %v", err)
	}
}

// userOf: the caller's id, which the JWT middleware checked.
func userOf(r *http.Request) int64 {
	sub, _ := r.Context().Value(ctxKey{}).(string)
	id, _ := canonicalID(sub)
	return id
}

// pageArgs: the project id of the path and ?limit=, ?offset= as Trackly's
// page_or_reply takes them; ok false once answered.
func pageArgs(w http.ResponseWriter, r *http.Request, def, max int64) (pid, limit, offset int64, ok bool) {
	pid, ok = canonicalID(mux.Vars(r)["id"])
	if !ok {
		http.NotFound(w, r)
		return 0, 0, 0, false
	}
	limit = def
	if v, given, bad := queryInt(r, "limit", 1, max); bad {
		badRequest(w, "limit")
		return 0, 0, 0, false
	} else if given {
		limit = v
	}
	offset, _, bad := queryInt(r, "offset", 0, historyOffsetMax)
	if bad {
		badRequest(w, "offset")
		return 0, 0, 0, false
	}
	return pid, limit, offset, true
}

// scanStatus: the status columns of the current row, then extra.
func scanStatus(rows *sql.Rows, l *statusLine, extra ...interface{}) error {
	var lastChecked *time.Time
	var lastUpdated, since time.Time
	dest := append([]interface{}{&l.ID, &l.Name, &l.Link, &l.Status, &l.Code,
		&l.LatencyMs, &lastChecked, &lastUpdated, &l.Paused, &l.AlertsMuted,
		&l.IntervalSeconds, &l.LastError, &since, &l.Uptime24h}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	l.LastChecked = (*stamp)(lastChecked)
	l.LastUpdated = stamp(lastUpdated)
	l.StatusSince = stamp(since)
	return nil
}

// GET /project/status[?recent=N].
func (s *server) getStatus(w http.ResponseWriter, r *http.Request) {
	recent, withRecent, bad := queryInt(r, "recent", 1, statusRecentMax)
	if bad {
		badRequest(w, "recent")
		return
	}
	if !withRecent {
		rows, err := s.db.QueryContext(r.Context(), statusQuery, userOf(r))
		if err != nil {
			dbFailed(w, "status", err)
			return
		}
		defer rows.Close()
		lines := []statusLine{}
		for rows.Next() {
			var l statusLine
			if err := scanStatus(rows, &l); err != nil {
				dbFailed(w, "status scan", err)
				return
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			dbFailed(w, "status rows", err)
			return
		}
		writeJSON(w, lines)
		return
	}

	rows, err := s.db.QueryContext(r.Context(), statusRecentQuery, userOf(r), recent)
	if err != nil {
		dbFailed(w, "status recent", err)
		return
	}
	defer rows.Close()
	lines := []statusRecentLine{}
	for rows.Next() {
		var kind, id int64
		var name, link, status sql.NullString
		var code, lat, interval, ago sql.NullInt64
		var lastChecked, lastUpdated, since, checked *time.Time
		var paused, muted, ok sql.NullBool
		var lastError *string
		var uptime *float64
		var c recentCheck
		if err := rows.Scan(&kind, &id, &name, &link, &status, &code, &lat,
			&lastChecked, &lastUpdated, &paused, &muted, &interval, &lastError,
			&since, &uptime, &checked, &ago, &ok, &c.code, &c.lat,
			&c.err); err != nil {
			dbFailed(w, "status recent scan", err)
			return
		}
		if kind == 0 {
			l := statusRecentLine{statusLine: statusLine{ID: id,
				Name: name.String, Link: link.String, Status: status.String,
				LastChecked: (*stamp)(lastChecked), Paused: paused.Bool,
				AlertsMuted: muted.Bool, IntervalSeconds: interval.Int64,
				LastError: lastError, Uptime24h: uptime},
				Recent: []recentCheck{}}
			if code.Valid {
				l.Code = &code.Int64
			}
			if lat.Valid {
				l.LatencyMs = &lat.Int64
			}
			if lastUpdated != nil {
				l.LastUpdated = stamp(*lastUpdated)
			}
			if since != nil {
				l.StatusSince = stamp(*since)
			}
			lines = append(lines, l)
			continue
		}
		if n := len(lines); n > 0 && lines[n-1].ID == id {
			c.ago, c.ok = ago.Int64, ok.Bool
			lines[n-1].Recent = append(lines[n-1].Recent, c)
		}
	}
	if err := rows.Err(); err != nil {
		dbFailed(w, "status recent rows", err)
		return
	}
	writeJSON(w, lines)
}

// GET /project/dashboard.
func (s *server) getDashboard(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), dashboardQuery, userOf(r))
	if err != nil {
		dbFailed(w, "dashboard", err)
		return
	}
	defer rows.Close()
	d := dashboard{DownProjects: []downProject{}, RecentIncidents: []dashIncident{}}
	for rows.Next() {
		var kind, ord int64
		var id, pid, n1, n2, n3, n4, n5 sql.NullInt64
		var name, link, reason sql.NullString
		var t1, t2 *time.Time
		if err := rows.Scan(&kind, &ord, &id, &pid, &name, &link, &t1, &t2,
			&reason, &n1, &n2, &n3, &n4, &n5); err != nil {
			dbFailed(w, "dashboard scan", err)
			return
		}
		switch kind {
		case 0:
			d.TotalProjects, d.LatestProjects = n1.Int64, name.String
			if t2 != nil {
				d.LastUpdated = t2.UTC().Format("2006-01-02 15:04:05")
			}
			d.Up, d.Down, d.Pending, d.Paused = n2.Int64, n3.Int64, n4.Int64, n5.Int64
			d.LastCheckedAt = (*stamp)(t1)
		case 1:
			p := downProject{ID: id.Int64, Name: name.String, Link: link.String,
				Since: (*stamp)(t1)}
			if reason.Valid {
				p.Reason = &reason.String
			}
			d.DownProjects = append(d.DownProjects, p)
		case 2:
			i := dashIncident{ID: id.Int64, ProjectID: pid.Int64,
				ProjectName: name.String, ResolvedAt: (*stamp)(t2),
				DurationSeconds: n1.Int64, Cause: reason.String}
			if t1 != nil {
				i.StartedAt = stamp(*t1)
			}
			d.RecentIncidents = append(d.RecentIncidents, i)
		}
	}
	if err := rows.Err(); err != nil {
		dbFailed(w, "dashboard rows", err)
		return
	}
	writeJSON(w, d)
}

// GET /project/{id}/checks.
func (s *server) getChecks(w http.ResponseWriter, r *http.Request) {
	pid, limit, offset, ok := pageArgs(w, r, checksLimitDef, checksLimitMax)
	if !ok {
		return
	}
	rows, err := s.db.QueryContext(r.Context(), checksQuery, pid, userOf(r), limit, offset)
	if err != nil {
		dbFailed(w, "checks", err)
		return
	}
	defer rows.Close()
	total := int64(-1)
	page := []checkRow{}
	for rows.Next() {
		var id sql.NullInt64
		var sched, checked *time.Time
		var okv sql.NullBool
		var c checkRow
		if err := rows.Scan(&total, &id, &sched, &checked, &okv, &c.StatusCode,
			&c.LatencyMs, &c.Error); err != nil {
			dbFailed(w, "checks scan", err)
			return
		}
		if !id.Valid { // no checks on this page
			continue
		}
		c.ID, c.OK = id.Int64, okv.Bool
		c.ScheduledAt, c.CheckedAt = stamp(*sched), stamp(*checked)
		c.Status = "DOWN"
		if c.OK {
			c.Status = "UP"
		}
		page = append(page, c)
	}
	if err := rows.Err(); err != nil {
		dbFailed(w, "checks rows", err)
		return
	}
	if total < 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Total-Count", strconv.FormatInt(total, 10))
	writeJSON(w, page)
}

// GET /project/{id}/uptime.
func (s *server) getUptime(w http.ResponseWriter, r *http.Request) {
	pid, ok := canonicalID(mux.Vars(r)["id"])
	if !ok {
		http.NotFound(w, r)
		return
	}
	rows, err := s.db.QueryContext(r.Context(), uptimeQuery, pid, userOf(r))
	if err != nil {
		dbFailed(w, "uptime", err)
		return
	}
	defer rows.Close()
	var u uptime
	n := 0
	for rows.Next() {
		var hours int64
		var win uptimeWindow
		if err := rows.Scan(&u.ProjectID, &hours, &win.Checks, &win.Up,
			&win.UptimePercent, &win.AvgLatencyMs); err != nil {
			dbFailed(w, "uptime scan", err)
			return
		}
		switch hours {
		case 24:
			u.Windows.H24 = win
		case 168:
			u.Windows.D7 = win
		default:
			u.Windows.D30 = win
		}
		n++
	}
	if err := rows.Err(); err != nil {
		dbFailed(w, "uptime rows", err)
		return
	}
	if n == 0 {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, u)
}

// GET /project/{id}/incidents.
func (s *server) getIncidents(w http.ResponseWriter, r *http.Request) {
	pid, limit, offset, ok := pageArgs(w, r, incidentsLimitDef, incidentsLimitMax)
	if !ok {
		return
	}
	rows, err := s.db.QueryContext(r.Context(), incidentsQuery, pid, userOf(r), limit, offset)
	if err != nil {
		dbFailed(w, "incidents", err)
		return
	}
	defer rows.Close()
	total := int64(-1)
	page := []incidentRow{}
	for rows.Next() {
		var id, dur sql.NullInt64
		var started, resolved *time.Time
		var cause sql.NullString
		if err := rows.Scan(&total, &id, &started, &resolved, &dur, &cause); err != nil {
			dbFailed(w, "incidents scan", err)
			return
		}
		if !id.Valid { // no incidents on this page
			continue
		}
		page = append(page, incidentRow{ID: id.Int64, StartedAt: stamp(*started),
			ResolvedAt: (*stamp)(resolved), DurationSeconds: dur.Int64,
			Cause: cause.String})
	}
	if err := rows.Err(); err != nil {
		dbFailed(w, "incidents rows", err)
		return
	}
	if total < 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Total-Count", strconv.FormatInt(total, 10))
	writeJSON(w, page)
}
