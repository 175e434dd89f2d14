-- A version's report and figures JSON are kept deflated when that makes them smaller: json_encoding says how
-- ('identity': report_json and facts_json hold the text; 'deflate': they hold the deflated bytes of the text). Rows
-- written before stay as they are.
ALTER TABLE submissions ADD COLUMN json_encoding TEXT NOT NULL DEFAULT 'identity';
