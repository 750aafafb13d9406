-- The call store (docs/decisions.md, "Durable calls"). Portable SQL: the same file migrates
-- the embedded SQLite store and a shared PostgreSQL one (refinery runs it on both).

-- One row per call in progress, written after each event's reply (and before a dial), removed
-- when the call ends. `record` is the call's image as JSON (legs, bridges, timers as absolute
-- deadlines, dial progress, failure-policy status, a reply being carried out); the plugin's
-- state bytes have their own column.
CREATE TABLE calls (
    call_id    TEXT PRIMARY KEY,
    instance   TEXT NOT NULL,
    server     TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    version    TEXT NOT NULL,
    state      BYTEA NOT NULL,
    record     TEXT NOT NULL,
    written_ms BIGINT NOT NULL
);
CREATE INDEX calls_by_instance ON calls (instance, server);

-- Every plugin version a tenant loaded (by the component's sha256), so that a restarted
-- router can carry a call on with the version it held and roll back to a kept one.
CREATE TABLE versions (
    tenant     TEXT NOT NULL,
    hash       TEXT NOT NULL,
    label      TEXT,
    component  BYTEA NOT NULL,
    loaded_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant, hash)
);
