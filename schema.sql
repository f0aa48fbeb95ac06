-- Trackly database schema (DESIGN §2, §4).
--
-- Creates everything from nothing, and is harmless to run again on a
-- database it already set up: every statement is IF NOT EXISTS or
-- ON CONFLICT DO NOTHING.  Apply with
--     psql -v ON_ERROR_STOP=1 -f schema.sql "$DB_URL"
-- Both programs refuse to start unless schema_version holds the version
-- they were built for (TRACKLY_SCHEMA_VERSION in meson.build).
--
-- Upgrades: a database made by an earlier version gets what changed
-- through idempotent statements (ADD COLUMN IF NOT EXISTS, ...) in the
-- "Upgrades" part at the end, which then raises the version row, all in
-- this one transaction.  History:
--   1  the first schema
--   2  mail_outbox.claimed_by: which monitor ("name:pid") holds a claim, so
--      a restarted monitor takes back its own at once
--   3  users.verify_sent_at, verify_sends, verify_window_start: the throttle
--      of POST /user/verify/resend
--   4  verify_mail_log: verification mail per address, across accounts;
--      users_unverified_idx: finding unverified accounts by age; and (alert
--      mail) mute links: projects.mute_token (in clear) gives way to
--      mute_tokens (SHA-256 of per-mail tokens) and projects.mute_generation
--      (bumped on unmute); projects.flapping_since; mail_outbox.counted_at,
--      held_at, digest_id and the kinds 'digest' and 'flapping' (the
--      per-recipient cap of alert mail, docs/monitoring.md)
--   5  checks compact and partitioned by UTC day (no id, one index; old
--      days are dropped whole, docs/monitoring.md "Keeping the history");
--      check_days, daily totals kept two years (the hourly totals are now
--      kept 90 days); projects.hour_start and hour_*: the current hour's
--      totals, so check_hours is written once per project and hour.  The
--      upgrade copies the existing checks into the new table and rolls the
--      hourly totals up into days.
--   6  projects_lease_idx dropped and projects at fillfactor 80, so that
--      a claim (which sets only the lease columns) is a HOT update: the
--      row's new version goes on its own page and no index is touched.
--
-- Timestamps are timestamptz; the programs format them in UTC.

SET client_min_messages = warning;   -- no "already exists, skipping"
BEGIN;

-- Two concurrent applies (say, two hosts starting at once) take turns.
DO $$ BEGIN PERFORM pg_advisory_xact_lock(7286133259); END $$;

CREATE TABLE IF NOT EXISTS schema_version (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version     integer NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO schema_version (version) VALUES (6) ON CONFLICT DO NOTHING;

-- Accounts.  Email is kept as typed (trimmed) and unique regardless of case.
-- token_version is copied into every token as "ver"; bumping it (logout,
-- password change) revokes all tokens issued before.
CREATE TABLE IF NOT EXISTS users (
    id                 bigserial PRIMARY KEY,
    email              text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash      text NOT NULL,
    email_verified     boolean NOT NULL DEFAULT false,
    token_version      integer NOT NULL DEFAULT 0,
    -- SHA-256 of the token in the verification link; NULL once used.
    verify_token_hash  bytea,
    verify_expires_at  timestamptz,
    -- The resend throttle (POST /user/verify/resend): the last verification
    -- mail queued, and how many were queued in the 24 hours from
    -- verify_window_start.  Registration is the first.
    verify_sent_at       timestamptz,
    verify_sends         integer NOT NULL DEFAULT 0,
    verify_window_start  timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (lower(email));
CREATE UNIQUE INDEX IF NOT EXISTS users_verify_token_key
    ON users (verify_token_hash) WHERE verify_token_hash IS NOT NULL;
-- Unverified accounts by age: the monitor deletes those older than
-- UNVERIFIED_ACCOUNT_DAYS.
CREATE INDEX IF NOT EXISTS users_unverified_idx
    ON users (created_at) WHERE NOT email_verified;

-- The sites people watch, with their monitoring settings and the monitor's
-- view of them.  next_check_at is the slot on the project's fixed grid; the
-- lease columns let several monitors share the work (FOR UPDATE SKIP LOCKED
-- picks, the lease keeps a claimed project from being claimed twice while
-- its probe runs).
CREATE TABLE IF NOT EXISTS projects (
    id                     bigserial PRIMARY KEY,
    user_id                bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                   text NOT NULL,
    description            text NOT NULL DEFAULT '',
    link                   text NOT NULL,
    interval_seconds       integer NOT NULL DEFAULT 300
                           CHECK (interval_seconds BETWEEN 1 AND 86400),
    timeout_ms             integer NOT NULL DEFAULT 10000
                           CHECK (timeout_ms BETWEEN 1 AND 86400000),
    CONSTRAINT projects_timeout_below_interval
        CHECK (timeout_ms < interval_seconds * 1000),
    expected_status        text NOT NULL DEFAULT '200-399',
    keyword                text,
    failure_threshold      smallint NOT NULL DEFAULT 2
                           CHECK (failure_threshold BETWEEN 1 AND 10),
    recovery_threshold     smallint NOT NULL DEFAULT 1
                           CHECK (recovery_threshold BETWEEN 1 AND 10),
    paused                 boolean NOT NULL DEFAULT false,
    alerts_muted           boolean NOT NULL DEFAULT false,
    -- Mute links carry this generation (mute_tokens); unmuting bumps it, so
    -- every link mailed before stops working.
    mute_generation        integer NOT NULL DEFAULT 0,
    -- Set while the project flaps (ALERT_FLAP_TRANSITIONS incidents opened
    -- within an hour): its down/recovered mail is held back until it has
    -- been stable for ALERT_FLAP_QUIET_MINUTES (docs/monitoring.md).
    flapping_since         timestamptz,
    status                 text NOT NULL DEFAULT 'PENDING'
                           CHECK (status IN ('PENDING', 'UP', 'DOWN')),
    consecutive_failures   integer NOT NULL DEFAULT 0,
    consecutive_successes  integer NOT NULL DEFAULT 0,
    last_status_code       integer,
    last_latency_ms        integer,
    last_checked_at        timestamptz,
    last_error             text,
    -- Time of the first failure of the current run of failures: when a
    -- DOWN incident says the site went down.
    failing_since          timestamptz,
    status_changed_at      timestamptz,
    last_alert_at          timestamptz,
    -- The totals of the current hour (hour_start), kept here by the
    -- monitor's UPDATE of each check instead of in check_hours, which gets
    -- the hour's one row once the project's first check of a later hour
    -- is written: so check_hours is written once per project and hour, not
    -- updated with every check.  Readers of the hours add this one.
    hour_start             timestamptz,
    hour_checks            integer NOT NULL DEFAULT 0,
    hour_up                integer NOT NULL DEFAULT 0,
    hour_latency_sum       bigint NOT NULL DEFAULT 0,
    hour_latency_max       integer NOT NULL DEFAULT 0,
    next_check_at          timestamptz NOT NULL DEFAULT now(),
    lease_owner            text,
    lease_expires_at       timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
-- 4 -> 5, here rather than with the other upgrades at the end so that the
-- functions below may name them: the projects' current hour (check_hours
-- keeps what version 4 wrote of it, and the hour's flush adds to that row).
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hour_start timestamptz;
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hour_checks integer NOT NULL
    DEFAULT 0;
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hour_up integer NOT NULL
    DEFAULT 0;
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hour_latency_sum bigint
    NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hour_latency_max integer
    NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS projects_user_idx ON projects (user_id, id);
CREATE INDEX IF NOT EXISTS projects_due_idx ON projects (next_check_at)
    WHERE NOT paused;
-- Every check updates its project twice: the claim sets the lease, the
-- result clears it and moves next_check_at.  Nothing indexes the lease
-- columns and a fifth of each page is kept free, so the claim is a HOT
-- update (no index entry, the old version pruned with the page); the
-- result's cannot be, as next_check_at is indexed (docs/decisions.md).
ALTER TABLE projects SET (fillfactor = 80);
DROP INDEX IF EXISTS projects_lease_idx;

-- Version 4's checks table (a bigserial key, three indexes) is set aside
-- before the new one is made; the upgrade at the end copies it over.
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname = 'checks'
               AND c.relkind = 'r')
  THEN
    ALTER TABLE checks RENAME TO checks_v4;
    ALTER INDEX checks_project_time_idx RENAME TO checks_v4_project_time_idx;
    ALTER INDEX checks_time_idx RENAME TO checks_v4_time_idx;
    ALTER INDEX checks_pkey RENAME TO checks_v4_pkey;
  END IF;
END $$;

-- Every check, kept CHECK_RETENTION_DAYS (default 7), in one partition per
-- UTC day named checks_YYYYMMDD: retention drops a whole day's partition
-- instead of deleting rows.  The columns are ordered for alignment (60 bytes
-- a row, and 38 in the index as the monitor writes it: bench/storage); a
-- check is known by its project and time, so there is no key of its own.
-- There is no default partition: with one, PostgreSQL could not read a
-- project's latest checks a day at a time, newest first (an ordered Append
-- that stops at the LIMIT); so a day must have its partition before a
-- check of it is written.  The monitor makes them RETENTION_DAYS_AHEAD
-- days ahead (monitor/retention.h), and whoever writes older days (an
-- import, the tests) calls checks_add_day first.
CREATE TABLE IF NOT EXISTS checks (
    project_id    bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    checked_at    timestamptz NOT NULL,
    scheduled_at  timestamptz NOT NULL,
    latency_ms    integer,
    status_code   smallint,
    ok            boolean NOT NULL,
    error         text
) PARTITION BY RANGE (checked_at);
-- Ascending, read backwards for "latest first": a project's new entry then
-- goes after its last one, where a B-tree split can leave the left page
-- full, since nothing is inserted before a project's last entry again
-- (fillfactor 100 for those splits).  On 1,440,000 entries written a
-- minute at a time for 1,000 projects: 38 bytes an entry, against 45 at
-- the default fillfactor of 90 and 52 for a DESC index, which puts each
-- new entry before the project's others.
CREATE INDEX IF NOT EXISTS checks_project_time_idx
    ON checks (project_id, checked_at) WITH (fillfactor = 100);

-- Makes the partition of UTC day d unless it exists.  Returns whether it
-- made one.
CREATE OR REPLACE FUNCTION checks_add_day(d date) RETURNS boolean
LANGUAGE plpgsql AS $f$
DECLARE
  part text := 'checks_' || to_char(d, 'YYYYMMDD');
BEGIN
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN false;
  END IF;
  -- Two monitors making the same day take turns (the second finds it).
  PERFORM set_config('lock_timeout', '2s', true);
  PERFORM pg_advisory_xact_lock(7286133260);
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF checks'
                 ' FOR VALUES FROM (%L) TO (%L)', part,
                 d::timestamp AT TIME ZONE 'UTC',
                 (d + 1)::timestamp AT TIME ZONE 'UTC');
  RETURN true;
END $f$;

-- Drops the day partitions that end at or before cutoff.  Returns how
-- many it dropped.
CREATE OR REPLACE FUNCTION checks_drop_days(cutoff timestamptz)
RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE
  part text;
  n integer := 0;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'checks'::regclass
      AND c.relname ~ '^checks_[0-9]{8}$'
      AND (to_date(substr(c.relname, 8), 'YYYYMMDD') + 1)::timestamp
          AT TIME ZONE 'UTC' <= cutoff
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    n := n + 1;
  END LOOP;
  RETURN n;
END $f$;

-- Today's partition and the next two days' (the monitor keeps making them).
DO $$ BEGIN
  PERFORM checks_add_day((now() AT TIME ZONE 'UTC')::date + i)
    FROM generate_series(0, 2) AS i;
END $$;

-- Per-hour totals of the checks, kept 90 days: 30 days of uptime is at
-- most 720 rows.  A project's current hour is in its projects row
-- (hour_start and the rest) until the hour is over.
CREATE TABLE IF NOT EXISTS check_hours (
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hour         timestamptz NOT NULL,
    checks       integer NOT NULL DEFAULT 0,
    up           integer NOT NULL DEFAULT 0,
    latency_sum  bigint NOT NULL DEFAULT 0,
    latency_max  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, hour) WITH (fillfactor = 100)
);
-- (A project's hours only ever go after its last one: as for the checks'
-- index above.  Version 4 made the key at the default.)
ALTER INDEX check_hours_pkey SET (fillfactor = 100);

-- Per-day totals (UTC days), rolled up from the hourly ones by the monitor
-- every hour (today's and yesterday's), kept two years: what a 90-day bar
-- chart reads.  Columns ordered for alignment.  Neither table of totals
-- has an index on its time: the monitor finds the expired rows project by
-- project through the primary key (monitor/retention.c).
CREATE TABLE IF NOT EXISTS check_days (
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    latency_sum  bigint NOT NULL,
    day          date NOT NULL,
    checks       integer NOT NULL,
    up           integer NOT NULL,
    latency_max  integer NOT NULL,
    PRIMARY KEY (project_id, day) WITH (fillfactor = 100)
);

-- Rolls the hourly totals of UTC days [first, last] (the projects' current
-- hours included) up into check_days, for the projects whose ids are in
-- (after, upto] (all of them by default).  Returns the rows written.
CREATE OR REPLACE FUNCTION check_days_roll_up(first date, last date,
    after bigint DEFAULT 0, upto bigint DEFAULT 9223372036854775807)
RETURNS bigint LANGUAGE sql AS $f$
  WITH w AS (
    INSERT INTO check_days AS d (project_id, day, checks, up, latency_sum,
                                 latency_max)
    SELECT project_id, (hour AT TIME ZONE 'UTC')::date, sum(checks),
           sum(up), sum(latency_sum), max(latency_max)
    FROM (SELECT project_id, hour, checks, up, latency_sum, latency_max
          FROM check_hours
          WHERE project_id > after AND project_id <= upto
          UNION ALL
          SELECT id, hour_start, hour_checks, hour_up, hour_latency_sum,
                 hour_latency_max
          FROM projects
          WHERE hour_start IS NOT NULL AND id > after AND id <= upto) h
    WHERE hour >= first::timestamp AT TIME ZONE 'UTC'
      AND hour < (last + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, 2
    ON CONFLICT (project_id, day) DO UPDATE SET
      checks = excluded.checks, up = excluded.up,
      latency_sum = excluded.latency_sum, latency_max = excluded.latency_max
    RETURNING 1)
  SELECT count(*) FROM w
$f$;

-- A stretch of downtime; at most one open per project.
CREATE TABLE IF NOT EXISTS incidents (
    id           bigserial PRIMARY KEY,
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    started_at   timestamptz NOT NULL,
    resolved_at  timestamptz,
    reason       text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS incidents_project_idx
    ON incidents (project_id, started_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_key
    ON incidents (project_id) WHERE resolved_at IS NULL;

-- Mail waiting to be sent, written in the same transaction as whatever
-- caused it.  The mailer renders the message from kind and payload, claims
-- rows with FOR UPDATE SKIP LOCKED and a lease, and sets sent_at once.
CREATE TABLE IF NOT EXISTS mail_outbox (
    id               bigserial PRIMARY KEY,
    user_id          bigint REFERENCES users (id) ON DELETE CASCADE,
    project_id       bigint REFERENCES projects (id) ON DELETE CASCADE,
    kind             text NOT NULL
                     CONSTRAINT mail_outbox_kind_check
                     CHECK (kind IN ('verify', 'down', 'recovered', 'reminder',
                                     'test', 'digest', 'flapping')),
    recipient        text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    claimed_until    timestamptz,
    claimed_by       text,            -- the claiming monitor, "name:pid"
    sent_at          timestamptz,
    -- The per-recipient cap of alert mail (ALERT_MAIL_PER_HOUR): when an
    -- alert (or digest) took one of its recipient's places in the hour;
    -- when an alert was held back instead, and the digest row that carries
    -- it (a digest's sent_at is its held alerts' too).
    counted_at       timestamptz,
    held_at          timestamptz,
    digest_id        bigint
);
CREATE INDEX IF NOT EXISTS mail_outbox_pending_idx
    ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS mail_outbox_unsent_recipient_idx
    ON mail_outbox (lower(recipient)) WHERE sent_at IS NULL;
-- (Two more, on the columns of version 4, are made after its upgrade
-- below, so that an older table has the columns first.)

-- The mute links of alert mail: only the SHA-256 of each link's token (a
-- fresh 256-bit token per mail, made by the mailer as it sends), the
-- project, and the project's mute_generation at the time.  A link works
-- while its generation is the project's and for 30 days.
CREATE TABLE IF NOT EXISTS mute_tokens (
    token_hash   bytea PRIMARY KEY,
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    generation   integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mute_tokens_project_idx
    ON mute_tokens (project_id);
CREATE INDEX IF NOT EXISTS mute_tokens_created_idx
    ON mute_tokens (created_at);

-- Failed logins per account (lower-cased email, so unknown addresses are
-- throttled exactly like real ones).  A row older than the window counts
-- as zero and is reset by the next failure.
CREATE TABLE IF NOT EXISTS login_throttle (
    email         text PRIMARY KEY,
    failures      integer NOT NULL,
    window_start  timestamptz NOT NULL
);

-- Verification mail queued per address (lower-cased), whichever account
-- asked: registration and POST /user/verify/resend count here, and the row
-- outlives the account, so deleting an account and registering the
-- address again does not start a new count.  A row older than the 24-hour
-- window counts as zero and is reset by the next mail.
CREATE TABLE IF NOT EXISTS verify_mail_log (
    email         text PRIMARY KEY,
    sends         integer NOT NULL,
    window_start  timestamptz NOT NULL
);

-- Upgrades from earlier versions (see the top of this file).
-- 1 -> 2:
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS claimed_by text;
-- 2 -> 3 (accounts made before it may ask for a resend at once):
ALTER TABLE users ADD COLUMN IF NOT EXISTS verify_sent_at timestamptz;
ALTER TABLE users ADD COLUMN IF NOT EXISTS verify_sends integer NOT NULL
    DEFAULT 0;
ALTER TABLE users ADD COLUMN IF NOT EXISTS verify_window_start timestamptz;
-- 3 -> 4 (verify_mail_log and users_unverified_idx are created above; the
-- mail accounts sent in the last 24 hours count for their addresses):
INSERT INTO verify_mail_log (email, sends, window_start)
    SELECT lower(email), verify_sends, verify_window_start FROM users
    WHERE verify_sends > 0
      AND verify_window_start > now() - interval '24 hours'
    ON CONFLICT DO NOTHING;

-- 3 -> 4 (alert mail, issue 12; the new tables are made above):
ALTER TABLE projects ADD COLUMN IF NOT EXISTS mute_generation integer
    NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN IF NOT EXISTS flapping_since timestamptz;
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS counted_at timestamptz;
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS held_at timestamptz;
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS digest_id bigint;
CREATE INDEX IF NOT EXISTS mail_outbox_counted_idx
    ON mail_outbox (lower(recipient), counted_at)
    WHERE counted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS mail_outbox_digest_idx
    ON mail_outbox (digest_id) WHERE digest_id IS NOT NULL;
ALTER TABLE mail_outbox DROP CONSTRAINT IF EXISTS mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('verify', 'down', 'recovered', 'reminder', 'test',
                    'digest', 'flapping'));
-- The clear mute tokens: their digests keep the links in mail already
-- delivered working until the project is next unmuted (or for 30 days);
-- the column and the clear copies in the outbox's payloads go (the mailer
-- now makes a token per mail as it sends).
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_schema = current_schema()
               AND table_name = 'projects' AND column_name = 'mute_token')
  THEN
    EXECUTE 'INSERT INTO mute_tokens (token_hash, project_id, generation)'
            ' SELECT sha256(convert_to(mute_token, ''UTF8'')), id,'
            '        mute_generation FROM projects'
            ' ON CONFLICT DO NOTHING';
    ALTER TABLE projects DROP COLUMN mute_token;
  END IF;
END $$;
UPDATE mail_outbox SET payload = payload - 'mute_link' - 'unsubscribe_url'
    WHERE payload ? 'mute_link' OR payload ? 'unsubscribe_url';

UPDATE schema_version SET version = 4, applied_at = now() WHERE version < 4;

-- 4 -> 5 (the new checks table is made above, and version 4's renamed
-- checks_v4): a partition for every day the old checks cover, the rows
-- copied over, the hourly totals rolled up into days.  A large table takes
-- a while: docs/operations.md, "Upgrade with schema changes".
DO $$
DECLARE
  first date;
  last date;
BEGIN
  IF to_regclass('checks_v4') IS NOT NULL THEN
    SELECT (min(checked_at) AT TIME ZONE 'UTC')::date,
           (max(checked_at) AT TIME ZONE 'UTC')::date
      INTO first, last FROM checks_v4;
    IF first IS NOT NULL THEN
      PERFORM checks_add_day(d::date)
        FROM generate_series(first, last, interval '1 day') AS d;
    END IF;
    INSERT INTO checks (project_id, checked_at, scheduled_at, latency_ms,
                        status_code, ok, error)
      SELECT project_id, checked_at, scheduled_at, latency_ms,
             status_code::smallint, ok, error
      FROM checks_v4;
    DROP TABLE checks_v4;
    PERFORM check_days_roll_up(
      coalesce((SELECT (min(hour) AT TIME ZONE 'UTC')::date
                FROM check_hours), current_date),
      (now() AT TIME ZONE 'UTC')::date);
  END IF;
END $$;

UPDATE schema_version SET version = 5, applied_at = now() WHERE version < 5;

-- 5 -> 6: nothing to copy (projects' fillfactor and the dropped index are
-- above; rows already on a full page get room as they move).
UPDATE schema_version SET version = 6, applied_at = now() WHERE version < 6;

COMMIT;
