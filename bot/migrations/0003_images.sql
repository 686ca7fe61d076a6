-- Image generations: who asked, where, for what, with which model; the bytes live only in Discord.
CREATE TABLE image_generations (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER,
    channel_id  INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('generate', 'edit', 'vary')),
    prompt      TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    size        TEXT    NOT NULL,
    quality     TEXT,
    count       INTEGER NOT NULL,
    created_at  REAL    NOT NULL
);
CREATE INDEX image_generations_user ON image_generations (user_id, created_at);
CREATE INDEX image_generations_guild ON image_generations (guild_id, created_at);
