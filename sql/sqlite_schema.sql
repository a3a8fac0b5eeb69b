-- mini-chat users table for the embedded SQLite database (the default).
--
-- The server runs this file itself (compiled in) whenever it opens the database, so a fresh
-- machine needs no setup. Column names are the seed's MySQL ones; user_password holds a PBKDF2
-- hash string. Seed users are inserted by `server db init` / first open, hashed in code.

CREATE TABLE IF NOT EXISTS users (
  user_id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_name TEXT NOT NULL UNIQUE,
  user_password TEXT NOT NULL,
  user_nickname TEXT NOT NULL,
  -- 1: the user must choose a new password at the next login (set by `server user import`).
  -- Older files get this column from `server db upgrade`.
  must_change_password INTEGER NOT NULL DEFAULT 0
);

-- Every accepted chat message (issue 15). Routing fields in clear, for the indexes; the sender's
-- nickname and the text only in `body`, sealed (DES-CBC + HMAC-SHA-256, random IV) under the
-- storage key in the server's folder, which is never stored here. msg_id is the relay's id.
CREATE TABLE IF NOT EXISTS chat_history (
  msg_id INTEGER PRIMARY KEY,
  sent_ms INTEGER NOT NULL,
  from_user TEXT NOT NULL,
  -- NULL: to everyone.
  to_user TEXT,
  -- 0: a private message held for its offline recipient until their next login.
  delivered INTEGER NOT NULL DEFAULT 1,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_history_time ON chat_history (sent_ms);
CREATE INDEX IF NOT EXISTS chat_history_to ON chat_history (to_user, delivered, msg_id);
