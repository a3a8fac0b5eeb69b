//! Where the client is, as one value: which window is up, whether a login or the key step is
//! running, whether the session is up, whether the program is ending. The controller holds one
//! [`Phase`] instead of a set of flags; each transition is a method here, so the rules (no second
//! login while one runs, Reconnect only when offline, what the key step leads to) are tested
//! without a display.

/// The client's phase. Transitions that do not apply return `None` (the click is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The login window, waiting for the user.
    Login,
    /// The login window while a login runs.
    LoggingIn,
    /// The login window while the key step runs; the login is tried again after it.
    LoginKeyStep,
    /// The chat window, logged in.
    Online,
    /// The chat window after the session ended: Reconnect is offered.
    Offline,
    /// The chat window while a reconnect runs.
    Reconnecting,
    /// The chat window while the key step runs; the reconnect is tried again after it.
    ChatKeyStep,
    /// The windows are closed: the loop ends and the network worker logs out. Session events
    /// that still arrive (the close we asked for) are not shown.
    Done,
    /// The network worker could not start: the program exits with failure.
    Failed,
}

impl Phase {
    /// The login window is the one shown.
    pub fn in_login(self) -> bool {
        matches!(self, Self::Login | Self::LoggingIn | Self::LoginKeyStep)
    }

    /// The chat window is the one shown; session events are shown in it.
    pub fn in_chat(self) -> bool {
        matches!(
            self,
            Self::Online | Self::Offline | Self::Reconnecting | Self::ChatKeyStep
        )
    }

    /// Logged in: messages can be sent.
    pub fn online(self) -> bool {
        self == Self::Online
    }

    /// A login, reconnect or key step is running (the login button is off).
    pub fn busy(self) -> bool {
        matches!(
            self,
            Self::LoggingIn | Self::LoginKeyStep | Self::Reconnecting | Self::ChatKeyStep
        )
    }

    /// The program is ending.
    pub fn ended(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }

    /// The login form was submitted: only from the idle login window.
    pub fn submit_login(self) -> Option<Self> {
        (self == Self::Login).then_some(Self::LoggingIn)
    }

    /// Reconnect was asked for: only when offline and nothing else runs.
    pub fn reconnect(self) -> Option<Self> {
        (self == Self::Offline).then_some(Self::Reconnecting)
    }

    /// The user accepted the key step after a failed login or reconnect.
    pub fn start_key_step(self) -> Option<Self> {
        match self {
            Self::Login => Some(Self::LoginKeyStep),
            Self::Offline => Some(Self::ChatKeyStep),
            _ => None,
        }
    }

    /// The key step ended (either way): back to where the login or reconnect is tried again.
    pub fn key_step_done(self) -> Self {
        match self {
            Self::LoginKeyStep => Self::Login,
            Self::ChatKeyStep => Self::Offline,
            other => other,
        }
    }

    /// A login or reconnect succeeded.
    pub fn logged_in(self) -> Self {
        if self.ended() { self } else { Self::Online }
    }

    /// A login or reconnect failed.
    pub fn login_failed(self) -> Self {
        match self {
            Self::LoggingIn => Self::Login,
            Self::Reconnecting => Self::Offline,
            other => other,
        }
    }

    /// Cancel was clicked in the login window while a login or key step ran: back to the idle
    /// login window (the network worker drops that connection).
    pub fn cancel(self) -> Option<Self> {
        matches!(self, Self::LoggingIn | Self::LoginKeyStep).then_some(Self::Login)
    }

    /// A login result is awaited; one that arrives otherwise belongs to a cancelled attempt.
    pub fn awaits_login(self) -> bool {
        matches!(self, Self::LoggingIn | Self::Reconnecting)
    }

    /// A key step's result is awaited.
    pub fn awaits_key_step(self) -> bool {
        matches!(self, Self::LoginKeyStep | Self::ChatKeyStep)
    }

    /// The session ended.
    pub fn closed(self) -> Self {
        if self == Self::Online {
            Self::Offline
        } else {
            self
        }
    }
}
