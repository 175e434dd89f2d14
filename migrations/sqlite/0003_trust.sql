-- no-transaction
-- Trust: tokens, the review chain, locks, signing keys and the SM3 audit chain; idempotency keys scoped to a unit
-- and year; current and accepted versions per report type.
--
-- SQLite cannot drop a UNIQUE constraint, so `submissions` is rebuilt (SQLite's documented procedure): that needs
-- foreign keys off, which cannot be switched inside a transaction, hence "no-transaction" and the explicit
-- BEGIN/COMMIT below.
PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE submissions_new (
    id               INTEGER PRIMARY KEY,
    unit_code        TEXT    NOT NULL,
    fiscal_year      INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    -- Validation's verdict, then the review chain's: rejected_by_rules, pending_review, returned, accepted.
    state            TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    content_sm3      TEXT    NOT NULL,
    content          BLOB    NOT NULL,
    report_json      TEXT    NOT NULL,
    facts_json       TEXT    NOT NULL,
    submitted_at_ms  INTEGER NOT NULL,
    report_type      TEXT    NOT NULL DEFAULT 'single',
    -- The principal that submitted it (as the audit trail names it).
    submitted_by     TEXT    NOT NULL DEFAULT '',
    -- The SM2 signature verified at submission, when the unit signs.
    signature        BLOB,
    -- The reason of the last review decision that gave one (a return).
    review_reason    TEXT,
    UNIQUE (unit_code, fiscal_year, version),
    UNIQUE (unit_code, fiscal_year, idempotency_key)
);

INSERT INTO submissions_new (id, unit_code, fiscal_year, version, state, idempotency_key, content_sm3, content,
                             report_json, facts_json, submitted_at_ms, report_type)
SELECT id, unit_code, fiscal_year, version, state, idempotency_key, content_sm3, content, report_json, facts_json,
       submitted_at_ms, report_type
FROM submissions;

DROP TABLE submissions;
ALTER TABLE submissions_new RENAME TO submissions;
CREATE INDEX submissions_by_year ON submissions (fiscal_year, unit_code, version);

-- The current version of each report type of a unit's year: a pointer, so that versions never change. Before
-- this migration the pointer was shared by the report types; each type's latest version becomes its current one.
CREATE TABLE current_versions (
    unit_code   TEXT    NOT NULL,
    fiscal_year INTEGER NOT NULL,
    report_type TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, report_type),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);

INSERT INTO current_versions (unit_code, fiscal_year, report_type, version)
SELECT unit_code, fiscal_year, report_type, max(version) FROM submissions GROUP BY unit_code, fiscal_year, report_type;

DROP TABLE current_submissions;

-- The accepted version of each report type of a unit's year: what consolidation counts. Nothing was accepted
-- before the review chain existed.
CREATE TABLE accepted_versions (
    unit_code   TEXT    NOT NULL,
    fiscal_year INTEGER NOT NULL,
    report_type TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, report_type),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);

-- Locks (封账) on a node's subtree for a year.
CREATE TABLE locks (
    node_code       TEXT    NOT NULL,
    fiscal_year     INTEGER NOT NULL,
    locked_by_node  TEXT    NOT NULL,
    locked_by       TEXT    NOT NULL,
    locked_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (node_code, fiscal_year)
);

-- Bearer tokens: only the SM3 hash of the secret is kept.
CREATE TABLE tokens (
    id             TEXT    PRIMARY KEY,
    secret_sm3     BLOB    NOT NULL,
    -- 'unit' (unit_code, role), 'service' (service_name) or 'admin'.
    kind           TEXT    NOT NULL,
    unit_code      TEXT,
    role           TEXT,
    service_name   TEXT,
    label          TEXT    NOT NULL,
    issued_at_ms   INTEGER NOT NULL,
    issued_by      TEXT    NOT NULL,
    expires_at_ms  INTEGER,
    revoked_at_ms  INTEGER,
    revoked_by     TEXT
);

-- SM2 public keys units sign their submissions with.
CREATE TABLE signing_keys (
    unit_code  TEXT    PRIMARY KEY,
    public_key BLOB    NOT NULL,
    set_at_ms  INTEGER NOT NULL
);

-- The audit chain: hash = SM3(prev_hash || canonical bytes of the event); see docs/audit.md.
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    unit_code   TEXT,
    fiscal_year INTEGER,
    version     INTEGER,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);

CREATE INDEX audit_events_by_year ON audit_events (fiscal_year, seq);

COMMIT;

PRAGMA foreign_keys = ON;
