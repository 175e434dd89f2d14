-- How report_json and facts_json are kept, as in the SQLite schema. PostgreSQL compresses large text values itself
-- (TOAST), so this store always writes 'identity'; the column lets the two stores read rows the same way.
ALTER TABLE submissions ADD COLUMN json_encoding TEXT NOT NULL DEFAULT 'identity';
