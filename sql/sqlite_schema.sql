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
