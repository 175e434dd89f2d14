-- The bytes a submission was received as are kept compressed when that makes them smaller: content_encoding says
-- how ('identity' or 'deflate'), content_len is their length as received, and content_sm3 stays the digest of the
-- bytes as received, so a read gives back exactly what was sent.
ALTER TABLE submissions ADD COLUMN content_encoding TEXT NOT NULL DEFAULT 'identity';
ALTER TABLE submissions ADD COLUMN content_len INTEGER;
UPDATE submissions SET content_len = length(content);
