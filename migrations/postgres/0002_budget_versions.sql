-- Budget figures become versions, put by budget systems with an idempotency key; the latest counts. Figures kept
-- before this migration become version 1 of their unit and year.
CREATE TABLE budget_versions (
    unit_code       TEXT    NOT NULL,
    fiscal_year     BIGINT  NOT NULL,
    version         BIGINT  NOT NULL,
    idempotency_key TEXT    NOT NULL,
    figures_json    TEXT    NOT NULL,
    put_by          TEXT    NOT NULL,
    put_at_ms       BIGINT  NOT NULL,
    PRIMARY KEY (unit_code, fiscal_year, version),
    UNIQUE (unit_code, fiscal_year, idempotency_key)
);

INSERT INTO budget_versions (unit_code, fiscal_year, version, idempotency_key, figures_json, put_by, put_at_ms)
SELECT unit_code, fiscal_year, 1, 'before-versions', figures_json, 'system', updated_at_ms FROM budgets;

DROP TABLE budgets;
