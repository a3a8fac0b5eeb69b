//! The network worker: one thread with a single-threaded tokio runtime that owns the connection
//! and the session key. It takes [`NetCmd`]s from the GUI thread and answers with [`UiMsg`]s
//! through the FLTK channel (whose `send` wakes the GUI), so the GUI thread never waits on the
//! network. One `select!` drives the session itself: a request goes from the command channel
//! straight into a sealed frame, and what arrives goes straight to the GUI.
//!
//! File transfers (issue 16) live here too, in the shared [`Transfers`]: file events go to it,
//! never to the GUI as frames, and the GUI gets its [`Update`](common::client::files::Update)s. A chunk goes out only when no
//! command waits and nothing has arrived (the last arm of a `biased` select), so a chat message
//! typed during a transfer waits for at most one chunk.

use std::sync::Arc;
use std::time::Duration;

use common::client::chat_client::{
    CloseReason, Incoming, LoginInfo, Session, SessionEvent, key_clock, load_session_key,
    login_with_key,
};
use common::client::files::Transfers;
use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepOptions, run_key_step_observed};
use common::client::key_events::KeyStepEvent;
use common::client::texts::{Ctx, reason_text};
use common::protocol::chat::{ClientRequest, ServerEvent};
use common::protocol::password::Secret;
use fltk::app;
use tokio::sync::mpsc;

use super::logic::login::{LoginFailure, login_failure};
use super::msg::{NetCmd, UiMsg};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long leaving waits for the logout to go out.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

/// Start the worker. Returns the command sender and a receiver that yields once it ended.
pub fn spawn(
    folder: ClientFolder,
    ui: app::Sender<UiMsg>,
) -> (mpsc::UnboundedSender<NetCmd>, std::sync::mpsc::Receiver<()>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("net".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(Net::new(folder, ui).run(cmd_rx)),
                Err(e) => ui.send(UiMsg::NetFailed(format!(
                    "cannot start the network runtime: {e}"
                ))),
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        ui.send(UiMsg::NetFailed(format!(
            "cannot start the network thread: {e}"
        )));
    }
    (cmd_tx, done_rx)
}

struct Net {
    folder: ClientFolder,
    ui: app::Sender<UiMsg>,
    session: Option<Session>,
    /// Password of the last successful login, for Reconnect.
    password: Option<String>,
    /// The new password of a change in flight: it replaces `password` once the server says OK.
    new_password: Option<String>,
    /// A login that said `CHANGE_PASSWORD`, with its key summary: the GUI gets `LoggedIn` only
    /// once the password is changed.
    first_login: Option<(LoginInfo, KeySummary)>,
    /// Every file transfer of the session (all fail when it ends).
    transfers: Transfers,
}

/// Run `work` unless the GUI cancels it (or quits) first: then `work` is dropped, which closes
/// its connection, and the command that stopped it is returned. Nothing else is sent while a
/// login or key step runs; anything else that comes is dropped.
async fn unless_cancelled(
    work: impl std::future::Future<Output = ()>,
    cmds: &mut mpsc::UnboundedReceiver<NetCmd>,
) -> Option<NetCmd> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            () = &mut work => return None,
            cmd = cmds.recv() => match cmd {
                None | Some(NetCmd::Quit) => return Some(NetCmd::Quit),
                Some(NetCmd::Cancel) => return Some(NetCmd::Cancel),
                Some(_) => {}
            },
        }
    }
}

/// What the chat window says about the session key at login.
#[derive(Debug, Clone)]
struct KeySummary {
    /// `key id (→ expiry in local time)`.
    info: String,
    /// This PC's clock against the key server's, when noticeably off.
    clock_warning: Option<String>,
}

/// The session's next message, or never when there is no session.
async fn recv(session: &mut Option<Session>) -> Result<Incoming, CloseReason> {
    match session {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleep until `due`, or forever without a session.
async fn sleep_until(due: Option<tokio::time::Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Net {
    fn new(folder: ClientFolder, ui: app::Sender<UiMsg>) -> Self {
        Self {
            ui,
            session: None,
            password: None,
            new_password: None,
            first_login: None,
            transfers: files_of(&folder),
            folder,
        }
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<NetCmd>) {
        loop {
            let ping_due = self.session.as_ref().map(Session::ping_due);
            let chunk_ready = self.session.is_some() && self.transfers.has_chunk();
            tokio::select! {
                // Commands first, then what arrives, then pings; file chunks last.
                biased;
                cmd = cmds.recv() => match cmd {
                    None | Some(NetCmd::Quit) => {
                        self.logout().await;
                        return;
                    }
                    Some(cmd @ (NetCmd::Login { .. } | NetCmd::RunKeyStep)) => {
                        // A login or key step can wait up to its timeout for a server that
                        // does not answer: the user can cancel it.
                        if let Some(NetCmd::Quit) =
                            unless_cancelled(self.command(cmd), &mut cmds).await
                        {
                            self.logout().await;
                            return;
                        }
                    }
                    Some(cmd) => self.command(cmd).await,
                },
                incoming = recv(&mut self.session) => self.incoming(incoming).await,
                () = sleep_until(ping_due) => self.ping().await,
                () = std::future::ready(()), if chunk_ready => self.next_chunk().await,
            }
        }
    }

    async fn command(&mut self, cmd: NetCmd) {
        match cmd {
            NetCmd::Login { username, password } => {
                self.folder.config.username = username;
                self.login(password).await;
            }
            NetCmd::Reconnect => match self.password.clone() {
                Some(pw) => self.login(pw).await,
                None => {
                    let failure = LoginFailure {
                        message: common::client::texts::t(
                            self.folder.config.language,
                            "没有可以重复的登录，请重新输入密码登录。",
                            "There is no earlier login to repeat; log in with your password again.",
                        )
                        .into(),
                        key_step_for: None,
                        retry_later: false,
                    };
                    self.ui.send(UiMsg::LoginFailed(failure));
                }
            },
            NetCmd::FirstPassword { new } => {
                let old = Secret::new(self.password.clone().unwrap_or_default());
                let new = Secret::new(new);
                self.request(ClientRequest::ChangePassword { old, new })
                    .await;
            }
            NetCmd::Request(ClientRequest::Logout) => self.logout().await,
            NetCmd::Request(req) => self.request(req).await,
            NetCmd::RunKeyStep => {
                let ui = self.ui;
                let mut to_view = move |e: &KeyStepEvent| ui.send(UiMsg::KeyStep(e.clone()));
                let res =
                    run_key_step_observed(&self.folder, KeyStepOptions::default(), &mut to_view)
                        .await;
                self.ui.send(UiMsg::KeyStepDone(res.map_err(Arc::new)));
            }
            NetCmd::SendFile { path, to } => self.send_file(&path, to).await,
            NetCmd::FileAnswer { id, accept } => {
                let answer = if accept {
                    self.transfers.accept(id)
                } else {
                    self.transfers.decline(id)
                };
                match answer {
                    Ok(req) => self.send_file_request(req).await,
                    Err(e) => self.file_notice(&e),
                }
            }
            NetCmd::CancelFile(id) => match self.transfers.cancel(id) {
                Ok((req, update)) => {
                    self.ui.send(UiMsg::File(update));
                    self.send_file_request(req).await;
                }
                Err(e) => self.file_notice(&e),
            },
            NetCmd::Quit | NetCmd::Cancel => {}
        }
    }

    /// Offer a file (`/send PATH [USER]`, the send-file button, or a drop).
    async fn send_file(&mut self, path: &str, to: Option<String>) {
        if self.session.is_none() {
            let lang = self.folder.config.language;
            let text = super::logic::labels::labels(lang).not_connected;
            self.ui.send(UiMsg::FileNotice(text.to_owned()));
            return;
        }
        let (path, to) = crate::format::send_args(path, to);
        match self.transfers.offer(std::path::Path::new(&path), to) {
            Ok((req, update)) => {
                self.ui.send(UiMsg::File(update));
                self.send_file_request(req).await;
            }
            Err(e) => self.file_notice(&e),
        }
    }

    fn file_notice(&self, e: &common::client::files::FileError) {
        let text = e.localized(self.folder.config.language);
        self.ui.send(UiMsg::FileNotice(text));
    }

    /// Send a file request: its frame is not shown (a chunk's would flood the message list).
    async fn send_file_request(&mut self, request: ClientRequest) {
        let Some(session) = &mut self.session else {
            return;
        };
        if let Err(reason) = session.send(request).await {
            self.end(reason);
        }
    }

    /// The lowest-priority arm: the next chunk (or end) of an outgoing transfer.
    async fn next_chunk(&mut self) {
        if let Some((req, update)) = self.transfers.next_chunk() {
            if let Some(u) = update {
                self.ui.send(UiMsg::File(u));
            }
            self.send_file_request(req).await;
        }
    }

    /// A file event: the transfers take it; what they answer goes out, what to show goes to
    /// the GUI.
    async fn file_event(&mut self, ev: common::protocol::files::FileEvent) {
        let handled = self.transfers.on_event(ev);
        for u in handled.updates {
            self.ui.send(UiMsg::File(u));
        }
        for req in handled.requests {
            self.send_file_request(req).await;
        }
    }

    /// The session is gone: every transfer fails (partial files are removed), and the GUI is
    /// told.
    fn transfers_end(&mut self) {
        for u in self.transfers.disconnected() {
            self.ui.send(UiMsg::File(u));
        }
    }

    /// Seal and send a request; without a session, give it back to the GUI.
    async fn request(&mut self, request: ClientRequest) {
        let Some(session) = &mut self.session else {
            self.ui.send(UiMsg::NotConnected { request });
            return;
        };
        if let ClientRequest::ChangePassword { new, .. } = &request {
            self.new_password = Some(new.expose().to_owned());
        }
        match session.send(request).await {
            Ok(ev) => self.ui.send(ui_msg(ev)),
            Err(reason) => self.end(reason),
        }
    }

    async fn incoming(&mut self, incoming: Result<Incoming, CloseReason>) {
        match incoming {
            Ok(Incoming::Event {
                event: ServerEvent::File(ev),
                ..
            }) => self.file_event(ev).await,
            Ok(Incoming::Event {
                event: ServerEvent::PasswordResult(result),
                wire,
            }) => self.password_result(result, wire),
            Ok(inc) => {
                let fatal = inc.close_reason();
                self.ui.send(ui_msg(SessionEvent::Incoming(inc)));
                if let Some(reason) = fatal {
                    self.end(reason);
                }
            }
            Err(reason) => self.end(reason),
        }
    }

    async fn ping(&mut self) {
        if let Some(session) = &mut self.session
            && let Err(reason) = session.ping().await
        {
            self.end(reason);
        }
    }

    /// The server answered a password change. At a first login, success completes the login
    /// (and is then shown in the new chat window, so the student knows the new password counts)
    /// and a refusal asks again; in a session, the answer is shown like any event.
    fn password_result(&mut self, result: Result<(), common::protocol::Reason>, wire: String) {
        let new = self.new_password.take();
        match (&result, self.first_login.take()) {
            (Ok(()), first) => {
                self.password = new.or_else(|| self.password.take());
                if let Some((info, key)) = first {
                    self.ui.send(UiMsg::LoggedIn {
                        username: info.username,
                        nickname: info.nickname,
                        key_info: key.info,
                        clock_warning: key.clock_warning,
                    });
                }
            }
            (Err(reason), Some(first)) => {
                let text = reason_text(reason, "", Ctx::gui(self.folder.config.language));
                self.first_login = Some(first);
                self.ui.send(UiMsg::MustChangePassword {
                    refused: Some(text),
                });
                return;
            }
            (Err(_), None) => {}
        }
        let event = ServerEvent::PasswordResult(result);
        self.ui.send(UiMsg::Event { event, wire });
    }

    /// The session is over: drop the connection and tell the GUI why (a login still waiting for
    /// its password change failed).
    fn end(&mut self, reason: CloseReason) {
        self.session = None;
        self.transfers_end();
        self.new_password = None;
        if self.first_login.take().is_some() {
            let lang = self.folder.config.language;
            let message = reason.localized(Ctx::gui(lang)).unwrap_or_default();
            self.ui.send(UiMsg::LoginFailed(LoginFailure {
                message,
                key_step_for: None,
                retry_later: false,
            }));
            return;
        }
        self.ui.send(UiMsg::Closed { reason });
    }

    async fn login(&mut self, password: String) {
        self.logout().await;
        let folder = &self.folder;
        let result = async {
            let file = load_session_key(folder)?;
            let key_info = KeySummary {
                info: format!(
                    "{} (→ {})",
                    file.key.key_id,
                    crate::format::local_time(&file.key.expires_rfc3339())
                ),
                clock_warning: key_clock(&file).warning(folder.config.language),
            };
            let (sender, receiver, info) =
                login_with_key(folder, Arc::new(file.key), &password, LOGIN_TIMEOUT).await?;
            Ok((Session::new(sender, receiver), info, key_info))
        }
        .await;
        match result {
            Ok((session, info, key_info)) if info.must_change_password => {
                self.session = Some(session);
                self.password = Some(password);
                self.first_login = Some((info, key_info));
                self.ui.send(UiMsg::MustChangePassword { refused: None });
            }
            Ok((session, info, key_info)) => {
                self.session = Some(session);
                self.password = Some(password);
                self.ui.send(UiMsg::LoggedIn {
                    username: info.username,
                    nickname: info.nickname,
                    key_info: key_info.info,
                    clock_warning: key_info.clock_warning,
                });
            }
            Err(e) => {
                let failure = login_failure(&e, folder.config.language);
                self.ui.send(UiMsg::LoginFailed(failure));
            }
        }
    }

    /// Log out, waiting at most [`LOGOUT_WAIT`] for the logout to go out.
    async fn logout(&mut self) {
        self.first_login = None;
        self.new_password = None;
        if let Some(session) = self.session.take() {
            self.transfers_end();
            let reason = tokio::time::timeout(LOGOUT_WAIT, session.logout())
                .await
                .unwrap_or(CloseReason::LoggedOut);
            self.ui.send(UiMsg::Closed { reason });
        }
    }
}

/// The worker's transfers: received files go to the folder's downloads directory; offers are
/// accepted at once only with `CHAT_ACCEPT_FILES=1` (as in the terminal mode).
fn files_of(folder: &ClientFolder) -> Transfers {
    let auto_accept = std::env::var("CHAT_ACCEPT_FILES").is_ok_and(|v| v == "1");
    Transfers::new(folder.downloads_dir(), auto_accept)
}

/// A session event as the GUI thread gets it.
fn ui_msg(ev: SessionEvent) -> UiMsg {
    match ev {
        SessionEvent::Incoming(Incoming::Event { event, wire }) => UiMsg::Event { event, wire },
        SessionEvent::Incoming(Incoming::ServerError(e)) => UiMsg::ServerError(e),
        SessionEvent::Incoming(Incoming::Rejected { why, wire }) => UiMsg::Rejected { why, wire },
        SessionEvent::Sent { request, wire } => UiMsg::Sent { request, wire },
        SessionEvent::NotSent { why, .. } => UiMsg::Unsendable(why),
        SessionEvent::Closed { reason } => UiMsg::Closed { reason },
    }
}
