-- A rejected stake keeps at most 64 KiB of its raw bytes (a 10 MB stake must not become a 10 MB
-- row and a 10 MB dead-letter record); its full length and SHA-256 identify what was received.
ALTER TABLE rejected_stake
    ADD COLUMN raw_length bigint,
    ADD COLUMN raw_sha256 text;
COMMENT ON COLUMN rejected_stake.raw IS 'the first 64 KiB of the record value';
COMMENT ON COLUMN rejected_stake.raw_length IS 'length of the whole record value in bytes';
COMMENT ON COLUMN rejected_stake.raw_sha256 IS 'SHA-256 of the whole record value, hex';
