-- The versions of a unit's report type in a given state (the versions ever accepted, which every submission and
-- review reads), answered from the index alone. Without it SQLite read each of the unit's rows, and report_type
-- comes after the version's content and JSON in the row: reading it walked the row's overflow pages, so every
-- submission cost more than the one before for the same unit.
CREATE INDEX submissions_by_type_and_state ON submissions (unit_code, fiscal_year, report_type, state, version);
