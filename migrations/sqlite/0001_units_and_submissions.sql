-- Units as registered, one record per span of fiscal years. A lookup for year Y takes the record with the latest
-- valid_from <= Y, provided its valid_to (if any) is >= Y.
CREATE TABLE units (
    code             TEXT    NOT NULL,
    valid_from       INTEGER NOT NULL,
    valid_to         INTEGER,
    name             TEXT    NOT NULL,
    budget_level     TEXT    NOT NULL,
    unit_type        TEXT,
    parent_code      TEXT,
    supervising_code TEXT,
    region_code      TEXT    NOT NULL,
    is_department    INTEGER NOT NULL,
    is_region        INTEGER NOT NULL,
    registered_at_ms INTEGER NOT NULL,
    PRIMARY KEY (code, valid_from)
);

CREATE INDEX units_by_parent ON units (parent_code);

-- Every submitted version, immutable: the disclosure's bytes exactly as received, their SM3 digest, the
-- validation report made at submission, and the figures keyed by codes (for year-over-year checks and
-- consolidation, which then need not decode wire messages).
CREATE TABLE submissions (
    id               INTEGER PRIMARY KEY,
    unit_code        TEXT    NOT NULL,
    fiscal_year      INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    content_sm3      TEXT    NOT NULL,
    content          BLOB    NOT NULL,
    report_json      TEXT    NOT NULL,
    facts_json       TEXT    NOT NULL,
    submitted_at_ms  INTEGER NOT NULL,
    UNIQUE (unit_code, fiscal_year, version)
);

-- The current version of each unit's disclosure for a year: a pointer, so that versions never change.
CREATE TABLE current_submissions (
    unit_code   TEXT    NOT NULL,
    fiscal_year INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);

-- Budget figures (年初预算数) a budget system gave for a unit and year, keyed by the taxonomy's codes.
CREATE TABLE budgets (
    unit_code     TEXT    NOT NULL,
    fiscal_year   INTEGER NOT NULL,
    figures_json  TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year)
);

-- Written explanations of a version's WARNING findings, by finding key. The version itself stays as submitted.
CREATE TABLE explanations (
    unit_code       TEXT    NOT NULL,
    fiscal_year     INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    finding_key     TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    explained_at_ms INTEGER NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, version, finding_key),
    FOREIGN KEY (unit_code, fiscal_year, version) REFERENCES submissions (unit_code, fiscal_year, version)
);
