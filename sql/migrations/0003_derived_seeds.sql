-- Derived seeds (docs/fairness.md, "Derived seeds"): a lottery's server seed is no longer stored.
-- The writer derives it as HMAC-SHA256(seed key, "lottery-seed/v1" || lottery id) and stores only
-- the id of the key, so nobody who reads this table or the WAL learns a seed before its award.
-- Lotteries created earlier keep their stored seed and are drawn with it.
ALTER TABLE lottery
    ALTER COLUMN server_seed DROP NOT NULL,
    ADD COLUMN seed_key_id text CHECK (seed_key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    -- Exactly one source of the seed: the stored seed (older rows) or a key id (new rows).
    ADD CONSTRAINT lottery_one_seed_source CHECK ((server_seed IS NULL) <> (seed_key_id IS NULL));
COMMENT ON COLUMN lottery.server_seed IS
    'only lotteries created before migration 0003: the seed itself; NULL when seed_key_id is set';
COMMENT ON COLUMN lottery.seed_key_id IS
    'id of the writer seed key the seed is derived from (HMAC-SHA256(key, "lottery-seed/v1" || id))';
