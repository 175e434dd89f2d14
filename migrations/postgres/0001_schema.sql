-- The PostgreSQL store's schema: the same tables and meanings as the SQLite store's (migrations/sqlite), as they
-- stand after its migrations, in PostgreSQL's types. Integers are BIGINT so that both stores read them as i64.

-- Units as registered, one record per span of fiscal years. A lookup for year Y takes the record with the latest
-- valid_from <= Y, provided its valid_to (if any) is >= Y.
CREATE TABLE units (
    code             TEXT    NOT NULL,
    valid_from       BIGINT  NOT NULL,
    valid_to         BIGINT,
    name             TEXT    NOT NULL,
    budget_level     TEXT    NOT NULL,
    unit_type        TEXT,
    parent_code      TEXT,
    supervising_code TEXT,
    region_code      TEXT    NOT NULL,
    is_department    BOOLEAN NOT NULL,
    is_region        BOOLEAN NOT NULL,
    registered_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (code, valid_from)
);

CREATE INDEX units_by_parent ON units (parent_code);

-- Every submitted version, immutable but for its review state: the bytes as received (deflated when smaller,
-- content_encoding says how; content_sm3 is the digest of the bytes as received), the validation report made at
-- submission and the figures keyed by codes.
CREATE TABLE submissions (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_code        TEXT    NOT NULL,
    fiscal_year      BIGINT  NOT NULL,
    version          BIGINT  NOT NULL,
    -- Validation's verdict, then the review chain's: rejected_by_rules, pending_review, returned, accepted.
    state            TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    content_sm3      TEXT    NOT NULL,
    content          BYTEA   NOT NULL,
    content_encoding TEXT    NOT NULL DEFAULT 'identity',
    content_len      BIGINT,
    report_json      TEXT    NOT NULL,
    facts_json       TEXT    NOT NULL,
    submitted_at_ms  BIGINT  NOT NULL,
    -- 单户表 'single', 汇总表 'consolidated', 调整表 'adjustment'.
    report_type      TEXT    NOT NULL DEFAULT 'single',
    -- The principal that submitted it (as the audit trail names it).
    submitted_by     TEXT    NOT NULL DEFAULT '',
    -- The SM2 signature verified at submission, when the unit signs.
    signature        BYTEA,
    -- The reason of the last review decision that gave one (a return).
    review_reason    TEXT,
    UNIQUE (unit_code, fiscal_year, version),
    UNIQUE (unit_code, fiscal_year, idempotency_key)
);

CREATE INDEX submissions_by_year ON submissions (fiscal_year, unit_code, version);

-- The current version of each report type of a unit's year: a pointer, so that versions never change.
CREATE TABLE current_versions (
    unit_code   TEXT    NOT NULL,
    fiscal_year BIGINT  NOT NULL,
    report_type TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, report_type),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);

-- The accepted version of each report type of a unit's year: what consolidation counts.
CREATE TABLE accepted_versions (
    unit_code   TEXT    NOT NULL,
    fiscal_year BIGINT  NOT NULL,
    report_type TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, report_type),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);

-- Budget figures (年初预算数) a budget system gave for a unit and year, keyed by the taxonomy's codes.
CREATE TABLE budgets (
    unit_code     TEXT    NOT NULL,
    fiscal_year   BIGINT  NOT NULL,
    figures_json  TEXT    NOT NULL,
    updated_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year)
);

-- Written explanations of a version's WARNING findings, by finding key.
CREATE TABLE explanations (
    unit_code       TEXT    NOT NULL,
    fiscal_year     BIGINT  NOT NULL,
    version         BIGINT  NOT NULL,
    finding_key     TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    explained_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, version, finding_key),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);

-- Locks (封账) on a node's subtree for a year.
CREATE TABLE locks (
    node_code       TEXT    NOT NULL,
    fiscal_year     BIGINT  NOT NULL,
    locked_by_node  TEXT    NOT NULL,
    locked_by       TEXT    NOT NULL,
    locked_at_ms    BIGINT  NOT NULL,
    PRIMARY KEY (node_code, fiscal_year)
);

-- Bearer tokens: only the SM3 hash of the secret is kept.
CREATE TABLE tokens (
    id             TEXT    PRIMARY KEY,
    secret_sm3     BYTEA   NOT NULL,
    -- 'unit' (unit_code, role), 'service' (service_name) or 'admin'.
    kind           TEXT    NOT NULL,
    unit_code      TEXT,
    role           TEXT,
    service_name   TEXT,
    label          TEXT    NOT NULL,
    issued_at_ms   BIGINT  NOT NULL,
    issued_by      TEXT    NOT NULL,
    expires_at_ms  BIGINT,
    revoked_at_ms  BIGINT,
    revoked_by     TEXT
);

-- SM2 public keys units sign their submissions with.
CREATE TABLE signing_keys (
    unit_code  TEXT    PRIMARY KEY,
    public_key BYTEA   NOT NULL,
    set_at_ms  BIGINT  NOT NULL
);

-- The audit chain: hash = SM3(prev_hash || canonical bytes of the event); see docs/audit.md.
CREATE TABLE audit_events (
    seq         BIGINT  PRIMARY KEY,
    at_ms       BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    unit_code   TEXT,
    fiscal_year BIGINT,
    version     BIGINT,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    prev_hash   BYTEA   NOT NULL,
    hash        BYTEA   NOT NULL
);

CREATE INDEX audit_events_by_year ON audit_events (fiscal_year, seq);

-- Consolidation snapshots, shared by the replicas (the SQLite store keeps them as files beside its database).
CREATE TABLE snapshots (
    name          TEXT    PRIMARY KEY,
    bytes         BYTEA   NOT NULL,
    written_at_ms BIGINT  NOT NULL
);
