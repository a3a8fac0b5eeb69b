-- mini-chat users table for MySQL / MariaDB.
--
-- The server runs the CREATE TABLE statement below itself (it reads this file at compile time)
-- the first time it connects, after creating the database named in its URL if missing; running
-- this file by hand is only needed when the server's account may not create databases/tables.
-- Column names are the seed's; user_password holds a PBKDF2 hash string (about 90 characters).
-- Seed users are NOT inserted here: their hashes are salted, so `server db init` inserts them.

CREATE DATABASE IF NOT EXISTS mini_chat CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE mini_chat;

CREATE TABLE IF NOT EXISTS users (
  user_id int(11) NOT NULL AUTO_INCREMENT,
  user_name varchar(30) NOT NULL,
  user_password varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  user_nickname varchar(20) NOT NULL,
  must_change_password tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id),
  UNIQUE KEY uniq_user_name (user_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every accepted chat message (issue 15). Routing fields in clear, for the indexes (by time for
-- retention, by recipient for held private messages), the sender's nickname and the text only
-- in `body`, sealed (DES-CBC + HMAC-SHA-256, random IV) under the storage key in the server's
-- folder, which is never stored here. msg_id is the relay's id. Names compare byte for byte.
CREATE TABLE IF NOT EXISTS chat_history (
  msg_id bigint unsigned NOT NULL,
  sent_ms bigint unsigned NOT NULL,
  from_user varchar(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  to_user varchar(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  delivered tinyint(1) NOT NULL DEFAULT 1,
  body mediumblob NOT NULL,
  PRIMARY KEY (msg_id),
  KEY idx_history_time (sent_ms),
  KEY idx_history_to (to_user, delivered, msg_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
