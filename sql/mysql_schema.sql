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
