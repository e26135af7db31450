-- Zyeuté application schema. Portable SQL: the same file runs on
-- PostgreSQL and SQLite. Times are Unix milliseconds (BIGINT), days are
-- 'YYYY-MM-DD' text (sorts as dates).

-- +goose Up
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    username    TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL,
    deleted_ms  BIGINT
);

CREATE TABLE videos (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL DEFAULT '',
    title       TEXT NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL,
    renditions  TEXT NOT NULL DEFAULT '[]',
    updated_ms  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX videos_user ON videos (user_id, created_ms);

-- One row per engagement event ever applied: event_id is the idempotency
-- key (a batch applied twice inserts nothing the second time).
CREATE TABLE engagement_events (
    event_id    TEXT PRIMARY KEY,
    video_id    TEXT NOT NULL,
    user_id     TEXT,
    type        TEXT NOT NULL,
    watch_ms    BIGINT NOT NULL DEFAULT 0,
    day         TEXT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX engagement_events_user ON engagement_events (user_id);

-- Per-video, per-day rollups, updated in the same transaction as the
-- events they count.
CREATE TABLE engagement_daily (
    video_id    TEXT NOT NULL,
    day         TEXT NOT NULL,
    views       BIGINT NOT NULL DEFAULT 0,
    likes       BIGINT NOT NULL DEFAULT 0,
    shares      BIGINT NOT NULL DEFAULT 0,
    comments    BIGINT NOT NULL DEFAULT 0,
    watch_ms    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (video_id, day)
);

-- Distinct viewers per video and day (exact unique-viewer counts).
CREATE TABLE engagement_viewers (
    video_id    TEXT NOT NULL,
    day         TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (video_id, day, user_id)
);
CREATE INDEX engagement_viewers_user ON engagement_viewers (user_id);

-- Memories computed for a user on a day; recomputing the same day
-- replaces the set.
CREATE TABLE memories (
    user_id          TEXT NOT NULL,
    day              TEXT NOT NULL,
    video_id         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    years_ago        INTEGER NOT NULL DEFAULT 0,
    score            DOUBLE PRECISION NOT NULL DEFAULT 0,
    rank             INTEGER NOT NULL,
    video_created_ms BIGINT NOT NULL,
    computed_ms      BIGINT NOT NULL,
    PRIMARY KEY (user_id, day, video_id)
);

-- Loi 25 requests. user_id is cleared once a deletion is carried out.
CREATE TABLE privacy_requests (
    request_id     TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    received_ms    BIGINT NOT NULL,
    respond_by_ms  BIGINT NOT NULL,
    status         TEXT NOT NULL,
    completed_ms   BIGINT,
    export_path    TEXT NOT NULL DEFAULT '',
    export_sha256  TEXT NOT NULL DEFAULT ''
);

-- What was done, never the personal data itself. id makes each entry
-- idempotent (e.g. '<request_id>:export').
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}'
);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE privacy_requests;
DROP TABLE memories;
DROP TABLE engagement_viewers;
DROP TABLE engagement_daily;
DROP TABLE engagement_events;
DROP TABLE videos;
DROP TABLE users;
