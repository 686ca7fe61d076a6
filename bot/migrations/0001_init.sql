-- Conversations, per-channel state, usage and key/value metadata.
CREATE TABLE turns (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL,
    guild_id    INTEGER,
    author_id   INTEGER NOT NULL,
    author_name TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    content     TEXT    NOT NULL,
    tokens      INTEGER NOT NULL,
    message_id  INTEGER,
    created_at  REAL    NOT NULL
);
CREATE INDEX turns_channel ON turns (channel_id, id);
CREATE INDEX turns_author ON turns (author_id);

CREATE TABLE channels (
    channel_id      INTEGER PRIMARY KEY,
    guild_id        INTEGER,
    persona         TEXT,
    persona_set_by  INTEGER,
    summary         TEXT    NOT NULL DEFAULT '',
    summary_upto    INTEGER NOT NULL DEFAULT 0,
    trim_noticed    INTEGER NOT NULL DEFAULT 0,
    docs_in_chat    INTEGER
);

CREATE TABLE usage (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER,
    user_id     INTEGER,
    feature     TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    tokens_in   INTEGER NOT NULL DEFAULT 0,
    tokens_out  INTEGER NOT NULL DEFAULT 0,
    images      INTEGER NOT NULL DEFAULT 0,
    created_at  REAL    NOT NULL
);
CREATE INDEX usage_user ON usage (user_id, created_at);
CREATE INDEX usage_guild ON usage (guild_id, created_at);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
