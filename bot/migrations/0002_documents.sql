-- Team documents: one row per indexed file; chunks and vectors live in the index (DATA_DIR/index).
CREATE TABLE documents (
    id            TEXT    PRIMARY KEY,
    shard         TEXT    NOT NULL,
    scope         TEXT    NOT NULL CHECK (scope IN ('server', 'channel', 'user')),
    scope_key     TEXT    NOT NULL,
    guild_id      INTEGER,
    channel_id    INTEGER,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    pages         INTEGER,
    chunks        INTEGER NOT NULL DEFAULT 0,
    uploader_id   INTEGER NOT NULL,
    uploader_name TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('indexing', 'ready')),
    created_at    REAL    NOT NULL
);
CREATE INDEX documents_scope ON documents (scope_key, name);
CREATE INDEX documents_hash ON documents (scope_key, sha256);
CREATE INDEX documents_uploader ON documents (uploader_id);
