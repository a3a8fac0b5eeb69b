//! The login window's decisions: the form is checked before anything is sent, and a failed login
//! or key step becomes a dialog (offering the key step when that would fix it).

use common::client::chat_client::{CloseReason, LoginError, fixed_by_key_step};
use common::client::texts::{Ctx, key_step_did_not_help, reason_text};
use common::config::Language;
use common::protocol::consts::MAX_PASSWORD_LEN;
use common::protocol::password::check_new_password;
use common::protocol::reason::Reason;

use super::labels::labels;
use super::render::wrap_text;

/// A failed login as the GUI thread gets it from the network thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    /// The localized text of the `LoginError`: what happened and what to do next.
    pub message: String,
    /// Running the key step would fix it (missing, expired or mismatched session key): the
    /// problem, as the server names it.
    pub key_step_for: Option<Reason>,
    /// Trying again later may work by itself (the server is down, restarting or busy).
    pub retry_later: bool,
}

/// Summarise a [`LoginError`] for the GUI thread, in `lang` (the client's own text table).
pub fn login_failure(e: &LoginError, lang: Language) -> LoginFailure {
    LoginFailure {
        message: e.localized(Ctx::gui(lang)),
        key_step_for: e.key_step_for(),
        retry_later: super::reconnect::login_worth_retrying(e),
    }
}

/// What to show for a failed login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDialog {
    /// An alert with this text.
    Alert(String),
    /// Ask whether to run the key step and retry; `choice` buttons are `cancel` and `run`.
    OfferKeyStep {
        text: String,
        cancel: &'static str,
        run: &'static str,
    },
}

/// The dialog for a failed login. `key_step_ran_for` is the problem the key step was last run
/// for without a successful login since: the key step is never offered twice in a row for the
/// same problem (a PC whose new key is refused again would loop forever); the alert then says
/// what the teacher should check.
pub fn login_dialog(
    f: &LoginFailure,
    key_step_ran_for: Option<&Reason>,
    lang: Language,
) -> LoginDialog {
    let l = labels(lang);
    let reason = wrap_text(&f.message, 72);
    match &f.key_step_for {
        Some(problem) if key_step_ran_for == Some(problem) => {
            let why = wrap_text(&key_step_did_not_help(problem, lang), 72);
            LoginDialog::Alert(format!("{}:\n{reason}\n\n{why}", l.login_failed))
        }
        Some(_) => LoginDialog::OfferKeyStep {
            text: format!("{}:\n{reason}\n\n{}", l.login_failed, l.offer_key_step),
            cancel: l.cancel,
            run: l.get_key_and_login,
        },
        None => LoginDialog::Alert(format!("{}:\n{reason}", l.login_failed)),
    }
}

/// The dialog after the session ended for `reason`, if it needs one: when the server withdrew
/// the session key or let it expire (`KEY_EXPIRED`, `KEY_MISMATCH`, `NO_SESSION_KEY`), the key
/// step is offered at once, so the student does not have to click Reconnect to be told so.
/// Other ends are said in the message list only (and may reconnect by themselves).
pub fn session_end_dialog(reason: &CloseReason, lang: Language) -> Option<LoginDialog> {
    let CloseReason::ServerError(e) = reason else {
        return None;
    };
    if !fixed_by_key_step(&e.reason) {
        return None;
    }
    let l = labels(lang);
    let why = wrap_text(&reason_text(&e.reason, &e.message, Ctx::gui(lang)), 72);
    Some(LoginDialog::OfferKeyStep {
        text: format!("{}:\n{why}\n\n{}", l.session_ended, l.offer_new_key),
        cancel: l.cancel,
        run: l.get_key_and_login,
    })
}

/// The alert for a failed key step.
pub fn key_step_failed_text(message: &str, lang: Language) -> String {
    format!(
        "{}:\n{}",
        labels(lang).key_step_failed,
        wrap_text(message, 72)
    )
}

/// Check the login form before sending anything.
///
/// # Errors
/// A sentence for the user.
pub fn validate_login(username: &str, password: &str, lang: Language) -> Result<(), String> {
    let l = labels(lang);
    if let Err(why) = common::protocol::check_username(username.trim()) {
        return Err(format!("{}: {why}", l.bad_username));
    }
    if password.is_empty() {
        return Err(l.empty_password.to_owned());
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "{} (> {MAX_PASSWORD_LEN} bytes)",
            l.password_too_long
        ));
    }
    Ok(())
}

/// Check the change-password form (current, new, new again) before anything is sent: the two
/// new ones must match and meet the server's rule.
///
/// # Errors
/// The text to show, in `lang`.
pub fn check_password_form(
    username: &str,
    old: &str,
    new: &str,
    again: &str,
    lang: Language,
) -> Result<(), String> {
    if new != again {
        return Err(labels(lang).passwords_differ.to_owned());
    }
    check_new_password(username, old, new).map_err(|r| reason_text(&r, "", Ctx::gui(lang)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_form() {
        let zh = Language::Zh;
        assert_eq!(
            check_password_form("s01", "111111", "hunter22", "hunter22", zh),
            Ok(())
        );
        let differ = check_password_form("s01", "111111", "hunter22", "hunter23", zh).unwrap_err();
        assert_eq!(differ, labels(zh).passwords_differ);
        let short = check_password_form("s01", "111111", "abc", "abc", zh).unwrap_err();
        assert!(short.contains("至少"), "{short}");
        let same = check_password_form("s01", "hunter22", "hunter22", "hunter22", Language::En);
        assert!(same.unwrap_err().contains("same as the current"));
    }
}
