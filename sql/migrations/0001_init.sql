-- Schema of the Lottery Service. Table, column and status names are a contract shared with
-- the original service and with consumers of the outbox (Debezium-compatible column names).
-- Money is always integer minor units (cents); no floating point anywhere.

-- Per-game rules. The row with the nil UUID is the default for games without their own row.
CREATE TABLE game_rule (
    game_id        uuid PRIMARY KEY,
    players_needed integer NOT NULL CHECK (players_needed >= 2),
    draw_mode      text    NOT NULL CHECK (draw_mode IN ('uniform', 'stake_weighted')),
    prize_policy   text    NOT NULL CHECK (prize_policy IN ('winner_stake', 'pot')),
    prize_bps      integer NOT NULL CHECK (prize_bps BETWEEN 0 AND 10000),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO game_rule (game_id, players_needed, draw_mode, prize_policy, prize_bps)
VALUES ('00000000-0000-0000-0000-000000000000', 10, 'uniform', 'winner_stake', 3300);

-- One row per draw: a pool of one game.
CREATE TABLE lottery (
    id             uuid PRIMARY KEY,
    game_id        uuid    NOT NULL,
    status         text    NOT NULL CHECK (status IN ('in_waiting', 'started', 'finished')),
    players_needed integer NOT NULL CHECK (players_needed >= 2),
    player_count   integer NOT NULL DEFAULT 0 CHECK (player_count >= 0),
    entry_count    integer NOT NULL DEFAULT 0 CHECK (entry_count >= 0),
    draw_mode      text    NOT NULL CHECK (draw_mode IN ('uniform', 'stake_weighted')),
    prize_policy   text    NOT NULL CHECK (prize_policy IN ('winner_stake', 'pot')),
    prize_bps      integer NOT NULL CHECK (prize_bps BETWEEN 0 AND 10000),
    server_seed    bytea   NOT NULL CHECK (length(server_seed) = 32),
    commitment     bytea   NOT NULL CHECK (length(commitment) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    CHECK (player_count <= players_needed)
);
-- At most one open lottery per game, enforced by the database for concurrent writers.
CREATE UNIQUE INDEX lottery_one_open_per_game ON lottery (game_id) WHERE status = 'in_waiting';
-- Started lotteries awaiting their draw (found again after a crash).
CREATE INDEX lottery_started ON lottery (started_at) WHERE status = 'started';

-- One row per accepted stake. id is the stake event id (Kafka header `uuid`), so a
-- redelivered event cannot become a second entry.
CREATE TABLE lottery_entry (
    id               uuid PRIMARY KEY,
    lottery_id       uuid    NOT NULL REFERENCES lottery (id),
    player_id        uuid    NOT NULL,
    game_id          uuid    NOT NULL,
    stake            bigint  NOT NULL CHECK (stake > 0),  -- minor units
    status           text    NOT NULL CHECK (status IN ('in_waiting', 'started', 'finished', 'winner')),
    entry_no         integer NOT NULL,  -- position in the lottery; canonical order = first entry_no per player
    source_topic     text    NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint  NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lottery_id, entry_no)
);
CREATE INDEX lottery_entry_by_player ON lottery_entry (lottery_id, player_id);

CREATE TABLE lottery_award (
    id         uuid PRIMARY KEY,
    lottery_id uuid   NOT NULL UNIQUE REFERENCES lottery (id),
    player_id  uuid   NOT NULL,
    win_sum    bigint NOT NULL CHECK (win_sum >= 0),  -- minor units
    status     text   NOT NULL DEFAULT 'played_out' CHECK (status IN ('played_out')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox, Debezium-compatible (id, aggregatetype, aggregateid, type, payload),
-- plus an incremental key and a timestamp for Kafka Connect's JDBC source (seq, created_at),
-- the destination topic, extra headers, and the inserting transaction id (recovery).
CREATE TABLE outbox (
    seq           bigserial PRIMARY KEY,
    id            uuid  NOT NULL UNIQUE,
    aggregatetype text  NOT NULL,
    aggregateid   text  NOT NULL,
    type          text  NOT NULL,
    topic         text  NOT NULL,
    content_type  text  NOT NULL,
    payload       bytea NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- extra Kafka headers, string values
    txid          xid8  NOT NULL DEFAULT pg_current_xact_id(),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_created_at ON outbox (created_at);

-- Kafka offsets consumed by the writer, advanced in the transaction that applies them.
-- PostgreSQL, not Kafka's group coordinator, is the source of truth.
CREATE TABLE consumer_offset (
    consumer_group text    NOT NULL,
    topic          text    NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint  NOT NULL CHECK (next_offset >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Stakes that could not be accepted, with the raw bytes and the reason. Nothing is lost.
CREATE TABLE rejected_stake (
    id               bigserial PRIMARY KEY,
    event_id         text,
    raw              bytea   NOT NULL,
    reason           text    NOT NULL,
    source_topic     text    NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint  NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_topic, source_partition, source_offset)
);

-- The relay streams outbox inserts through this publication (pgoutput).
CREATE PUBLICATION lottery_outbox FOR TABLE outbox WITH (publish = 'insert');
