//! Changing one's own password: the rule a new password must meet (the client checks it before
//! sending, the server again before storing) and a wrapper that keeps passwords out of logs.

use std::fmt;

use crate::protocol::consts::{MAX_PASSWORD_LEN, MIN_PASSWORD_CHARS};
use crate::protocol::reason::Reason;

/// A password in a request: `Debug` never shows it, so a request can be logged or traced.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The password itself, for sealing or checking.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Check a new password that `username` chose to replace `old`. The order of the checks is
/// the order a user fixes them in: length first.
///
/// # Errors
/// The [`Reason`] that names what is wrong (one of the `Password*` reasons).
pub fn check_new_password(username: &str, old: &str, new: &str) -> Result<(), Reason> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Reason::PasswordTooShort);
    }
    if new.len() > MAX_PASSWORD_LEN {
        return Err(Reason::PasswordTooLong);
    }
    if new.chars().any(char::is_control) {
        return Err(Reason::PasswordControlChar);
    }
    if new.eq_ignore_ascii_case(username) {
        return Err(Reason::PasswordIsUsername);
    }
    if new == old {
        return Err(Reason::PasswordUnchanged);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let ok = |n: &str| check_new_password("student01", "Ab3kq9Zx", n);
        assert_eq!(ok("hunter22"), Ok(()));
        assert_eq!(ok("八个汉字的密码啊"), Ok(()), "eight characters, 24 bytes");
        assert_eq!(ok("七个汉字的密码"), Err(Reason::PasswordTooShort));
        assert_eq!(ok("1234567"), Err(Reason::PasswordTooShort));
        assert_eq!(ok(&"x".repeat(129)), Err(Reason::PasswordTooLong));
        assert_eq!(ok("abc\tdefgh"), Err(Reason::PasswordControlChar));
        assert_eq!(ok("STUDENT01"), Err(Reason::PasswordIsUsername));
        assert_eq!(ok("Ab3kq9Zx"), Err(Reason::PasswordUnchanged));
    }

    #[test]
    fn secret_debug_hides_the_password() {
        let s = Secret::new("hunter22");
        assert!(!format!("{s:?}").contains("hunter22"));
        assert_eq!(s.expose(), "hunter22");
    }
}
