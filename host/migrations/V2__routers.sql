-- Scale-out (docs/decisions.md, "Scale-out"): each router sharing a PostgreSQL store says
-- which ARI apps it holds on which server, so that the router that takes its calls over when
-- it dies knows which apps to take (connecting with an app's name takes it over in Asterisk).
-- `apps` is JSON: [["server", "app"], …]. The embedded store has the table too and leaves it
-- empty.
CREATE TABLE routers (
    instance   TEXT PRIMARY KEY,
    apps       TEXT NOT NULL,
    written_ms BIGINT NOT NULL
);
