-- Which kind of report a version is (单户表 'single', 汇总表 'consolidated', 调整表 'adjustment'): a department's own
-- figures and the consolidation it reports are both versions of its disclosure, and are told apart by this.
ALTER TABLE submissions ADD COLUMN report_type TEXT NOT NULL DEFAULT 'single';

CREATE INDEX submissions_by_year ON submissions (fiscal_year, unit_code, version);
