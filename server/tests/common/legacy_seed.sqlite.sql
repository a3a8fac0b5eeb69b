-- The seed project's users table and plaintext rows (sql/legacy_seed_mysql.sql), in SQLite
-- syntax: what `server db upgrade` and a legacy login are tested against.
CREATE TABLE users (user_id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_name varchar(30) NOT NULL, user_password varchar(30) NOT NULL,
  user_nickname varchar(20) NOT NULL);
insert into users values(NULL,'user1','111111','wang_yuan');
insert into users values(NULL,'user2','111111','ding_zhen');
insert into users values(NULL,'user3','111111','cxk');
