//! The network thread: owns a tokio runtime, the connection and the session key. It takes
//! [`NetCmd`]s from the GUI thread and answers with [`UiMsg`]s through the FLTK channel (whose
//! `send` wakes the GUI), so the GUI thread never waits on the network.

use std::sync::Arc;
use std::time::Duration;

use common::client::chat_client::{
    CloseReason, Incoming, SessionEvent, load_session_key, login_with_key, spawn_session,
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

/// Start the thread. Returns the command sender and a receiver that yields once the thread ended.
pub fn spawn(
    folder: ClientFolder,
    ui: app::Sender<UiMsg>,
) -> (mpsc::UnboundedSender<NetCmd>, std::sync::mpsc::Receiver<()>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("net".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
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
    session: Option<mpsc::Sender<ClientRequest>>,
    events: Option<mpsc::Receiver<SessionEvent>>,
    /// Password of the last successful login, for Reconnect.
    password: Option<String>,
}

async fn next_event(events: &mut Option<mpsc::Receiver<SessionEvent>>) -> Option<SessionEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Net {
    fn new(folder: ClientFolder, ui: app::Sender<UiMsg>) -> Self {
        Self {
            folder,
            ui,
            session: None,
            events: None,
            password: None,
        }
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<NetCmd>) {
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None | Some(NetCmd::Quit) => {
                        self.close_session().await;
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                },
                ev = next_event(&mut self.events) => self.forward(ev),
            }
        }
    }

    /// Pass a session event to the GUI; forget the session when it ended.
    fn forward(&mut self, ev: Option<SessionEvent>) {
        let ev = ev.unwrap_or(SessionEvent::Closed {
            reason: CloseReason::Gone,
        });
        if matches!(ev, SessionEvent::Closed { .. }) {
            self.session = None;
            self.events = None;
        }
        self.ui.send(ui_msg(ev));
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
                        message: "there is no earlier login to repeat".into(),
                        needs_key_step: false,
                    };
                    self.ui.send(UiMsg::LoginFailed(failure));
                }
            },
            NetCmd::Request(req) => self.request(req).await,
            NetCmd::RunKeyStep => {
                let res = run_key_step(&self.folder, KeyStepOptions::default()).await;
                self.ui.send(UiMsg::KeyStepDone(res.map_err(Arc::new)));
            }
            NetCmd::Quit => {}
        }
    }

    async fn request(&mut self, req: ClientRequest) {
        let failed = match &self.session {
            Some(tx) => tx.send(req).await.err().map(|e| e.0),
            None => Some(req),
        };
        if let Some(ClientRequest::Chat { text, .. }) = failed {
            self.ui.send(UiMsg::NotSent { text });
        }
    }

    async fn login(&mut self, password: String) {
        self.close_session().await;
        let folder = &self.folder;
        let result = async {
            let file = load_session_key(folder)?;
            let key_info = format!("{} (→ {})", file.key.key_id, file.key.expires_rfc3339());
            let (sender, receiver, info) =
                login_with_key(folder, Arc::new(file.key), &password, LOGIN_TIMEOUT).await?;
            Ok((sender, receiver, info, key_info))
        }
        .await;
        match result {
            Ok((sender, receiver, info, key_info)) => {
                let (tx, rx) = mpsc::channel(256);
                self.events = Some(spawn_session(sender, receiver, rx, 4096));
                self.session = Some(tx);
                self.password = Some(password);
                self.ui.send(UiMsg::LoggedIn {
                    username: info.username,
                    nickname: info.nickname,
                    key_info,
                });
            }
            Err(e) => self.ui.send(UiMsg::LoginFailed(login_failure(&e))),
        }
    }

    /// Log out (dropping the request sender makes the session send a logout) and pass on what
    /// the session still reports, waiting at most [`LOGOUT_WAIT`].
    async fn close_session(&mut self) {
        if self.session.take().is_none() {
            return;
        }
        let deadline = tokio::time::Instant::now() + LOGOUT_WAIT;
        while self.events.is_some() {
            match tokio::time::timeout_at(deadline, next_event(&mut self.events)).await {
                Ok(ev) => self.forward(ev),
                Err(_) => {
                    self.events = None;
                    self.ui.send(UiMsg::Closed {
                        reason: CloseReason::LoggedOut,
                    });
                }
            }
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
