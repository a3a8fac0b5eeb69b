//! mini-chat key distribution server.
