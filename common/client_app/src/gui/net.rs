//! The network worker: one thread with a single-threaded tokio runtime that owns the connection
//! and the session key. It takes [`NetCmd`]s from the GUI thread and answers with [`UiMsg`]s
//! through the FLTK channel (whose `send` wakes the GUI), so the GUI thread never waits on the
//! network. One `select!` drives the session itself: a request goes from the command channel
//! straight into a sealed frame, and what arrives goes straight to the GUI.

use std::sync::Arc;
use std::time::Duration;

use common::client::chat_client::{
    CloseReason, Incoming, Session, SessionEvent, load_session_key, login_with_key,
};
use common::client::folder::ClientFolder;
use common::client::key_client::{KeyStepOptions, run_key_step};
use common::protocol::chat::ClientRequest;
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
            folder,
            ui,
            session: None,
            password: None,
        }
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<NetCmd>) {
        loop {
            let ping_due = self.session.as_ref().map(Session::ping_due);
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None | Some(NetCmd::Quit) => {
                        self.logout().await;
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                },
                incoming = recv(&mut self.session) => self.incoming(incoming),
                () = sleep_until(ping_due) => self.ping().await,
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
                        needs_key_step: false,
                    };
                    self.ui.send(UiMsg::LoginFailed(failure));
                }
            },
            NetCmd::Request(ClientRequest::Logout) => self.logout().await,
            NetCmd::Request(req) => self.request(req).await,
            NetCmd::RunKeyStep => {
                let res = run_key_step(&self.folder, KeyStepOptions::default()).await;
                self.ui.send(UiMsg::KeyStepDone(res.map_err(Arc::new)));
            }
            NetCmd::Quit => {}
        }
    }

    /// Seal and send a request; without a session, give it back to the GUI.
    async fn request(&mut self, request: ClientRequest) {
        let Some(session) = &mut self.session else {
            self.ui.send(UiMsg::NotConnected { request });
            return;
        };
        match session.send(request).await {
            Ok(ev) => self.ui.send(ui_msg(ev)),
            Err(reason) => self.end(reason),
        }
    }

    fn incoming(&mut self, incoming: Result<Incoming, CloseReason>) {
        match incoming {
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

    /// The session is over: drop the connection and tell the GUI why.
    fn end(&mut self, reason: CloseReason) {
        self.session = None;
        self.ui.send(UiMsg::Closed { reason });
    }

    async fn login(&mut self, password: String) {
        self.logout().await;
        let folder = &self.folder;
        let result = async {
            let file = load_session_key(folder)?;
            let key_info = format!(
                "{} (→ {})",
                file.key.key_id,
                crate::format::local_time(&file.key.expires_rfc3339())
            );
            let (sender, receiver, info) =
                login_with_key(folder, Arc::new(file.key), &password, LOGIN_TIMEOUT).await?;
            Ok((Session::new(sender, receiver), info, key_info))
        }
        .await;
        match result {
            Ok((session, info, key_info)) => {
                self.session = Some(session);
                self.password = Some(password);
                self.ui.send(UiMsg::LoggedIn {
                    username: info.username,
                    nickname: info.nickname,
                    key_info,
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
        if let Some(session) = self.session.take() {
            let reason = tokio::time::timeout(LOGOUT_WAIT, session.logout())
                .await
                .unwrap_or(CloseReason::LoggedOut);
            self.ui.send(UiMsg::Closed { reason });
        }
    }
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
