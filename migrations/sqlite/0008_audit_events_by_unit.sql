-- Reading a version back checks its bytes against the digest its submission event recorded in the audit chain:
-- that event is found by unit, year and version.
CREATE INDEX audit_events_by_unit ON audit_events (unit_code, fiscal_year, version);
