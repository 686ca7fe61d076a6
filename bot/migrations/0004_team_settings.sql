-- Per-server settings (only the values an admin changed; the rest come from the environment)
-- and the log of every change: who, what, when.
CREATE TABLE guild_settings (
    guild_id    INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    updated_by  INTEGER NOT NULL,
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, key)
);

CREATE TABLE settings_log (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    user_name   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    created_at  REAL    NOT NULL
);
CREATE INDEX settings_log_guild ON settings_log (guild_id, id);
CREATE INDEX settings_log_user ON settings_log (user_id);
CREATE INDEX documents_guild ON documents (guild_id, created_at);
