//! Every protocol constant in one place: codes, limits, ports and labels.
//!
//! The four seed codes (`0001`, `0002`, `1001`, `1002`) and the `|` delimiter come from the
//! original design; the other codes extend it. PROTOCOL.md lists every one.

/// Version of the wire protocol, sent in both servers' hello messages; a client refuses a server
/// that speaks another version.
pub const PROTOCOL_VERSION: u32 = 1;

/// The seed's field delimiter.
pub const DELIMITER: char = '|';

/// Largest frame payload accepted (64 KiB). Checked before any allocation, so a peer that
/// claims 4 GiB costs us nothing; large enough for the biggest chat message after base64 and CBC.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Length of the frame length prefix (u32, big-endian).
pub const FRAME_HEADER_LEN: usize = 4;

/// Largest chat message text in bytes of UTF-8 (8 KiB): a long paragraph of Chinese text fits,
/// and the sealed frame stays far below [`MAX_FRAME_LEN`].
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// Longest username accepted anywhere (matches the seed's `varchar(30)`).
pub const MAX_USERNAME_LEN: usize = 30;

/// Longest password accepted at login; bounds the PBKDF2 input.
pub const MAX_PASSWORD_LEN: usize = 128;

/// Fewest characters (not bytes: a Chinese password counts its characters) in a password a user
/// chooses for themselves.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The primitives' sizes (DES key, IV, MAC key, MAC tag, key id, smallest RSA key, password
/// hash cost and salt) belong to `crypto`; the protocol uses them as they are.
pub use crate::crypto::{
    DES_KEY_LEN, IV_LEN, KEY_ID_LEN, MAC_KEY_LEN, MAC_LEN, MIN_RSA_BITS, PASSWORD_SALT_LEN,
    PBKDF2_ITERATIONS,
};

/// Random nonce length for both handshakes (128 bits: never repeats in practice).
pub const NONCE_LEN: usize = 16;

/// Default chat server port (the seed's `SERVER_PORT`).
pub const DEFAULT_CHAT_PORT: u16 = 8090;

/// Default key-distribution server port.
pub const DEFAULT_KEY_PORT: u16 = 8091;

/// Default UDP port on which server_key answers discovery queries (`server_host = "auto"`).
pub const DEFAULT_DISCOVERY_PORT: u16 = 8092;

/// The `server_host` value that means "find the teacher's servers on the local network".
pub const AUTO_HOST: &str = "auto";

/// Every discovery query datagram is exactly this long (the text, then zero bytes). An answer
/// is never longer ([`MAX_DISCOVERY_ANSWER_LEN`]), so a forged source address cannot make
/// server_key send more bytes to a victim than the forger sent itself.
pub const DISCOVERY_QUERY_LEN: usize = 256;

/// Longest discovery answer datagram.
pub const MAX_DISCOVERY_ANSWER_LEN: usize = DISCOVERY_QUERY_LEN;

/// Longest server name in a discovery answer, in bytes of UTF-8.
pub const MAX_SERVER_NAME_LEN: usize = 64;

/// How long a client collects discovery answers after each query (milliseconds).
pub const DISCOVERY_WAIT_MS: u64 = 1200;

/// Queries a client sends before it gives up (a lost datagram on a busy Wi-Fi is retried).
pub const DISCOVERY_ATTEMPTS: u32 = 3;

/// Discovery answers one source address gets per second from server_key (more are dropped
/// silently; a class of 50 asks a few times each).
pub const DISCOVERY_ANSWERS_PER_SECOND: u32 = 20;

/// Default RSA modulus size for new key pairs.
pub const DEFAULT_RSA_BITS: usize = 2048;

/// Largest server key: server_key's `rsa_bits` and the key a client accepts in the hello (a
/// larger key would make key creation at start and every signature check take minutes).
pub const MAX_SERVER_RSA_BITS: usize = 16384;

/// Smallest client key server_key accepts (the default size).
pub const MIN_CLIENT_RSA_BITS: usize = 2048;

/// Largest client key server_key accepts: a 16384-bit key would let one client stall the server.
pub const MAX_CLIENT_RSA_BITS: usize = 4096;

/// Default lifetime of a distributed session key; bounds what a DES key search could reveal.
pub const DEFAULT_SESSION_TTL_HOURS: u64 = 24;

/// Shortest accepted `session_ttl` (seconds): one minute, so a lesson can watch a key expire and
/// its session end (the chat server checks every `revocation_check`, 2 s), while a key still
/// outlives the key step and the login that follows it.
pub const MIN_SESSION_TTL_SECS: u64 = 60;

/// Longest accepted `session_ttl` (seconds): 366 days. A DES key should not live longer, and
/// larger values would overflow expiry arithmetic.
pub const MAX_SESSION_TTL_SECS: u64 = 366 * 24 * 3600;

/// Default maximum number of simultaneous chat connections (the load target is 1,000).
pub const MAX_CLIENTS: usize = 2000;

/// Default maximum number of simultaneous key-distribution connections.
pub const MAX_KEY_CLIENTS: usize = 256;

/// Key exchanges one source address may start per minute at server_key (a whole class behind
/// one address still gets through in a minute; one attacker gets 2 signatures a second).
pub const KEY_REQUESTS_PER_MINUTE_PER_ADDRESS: u32 = 120;

/// Key exchanges one username may complete per minute (a student runs the key step once a day;
/// a teacher demonstrating it, or the attack suite's bystander, a few dozen times).
pub const KEY_REQUESTS_PER_MINUTE_PER_USER: u32 = 30;

/// Key exchanges from one source address running at once at server_key.
pub const MAX_KEY_EXCHANGES_PER_ADDRESS: usize = 8;

/// Outgoing queue per chat client. A client this far behind is disconnected ("too slow")
/// rather than delaying everyone else or being silently skipped.
pub const CLIENT_QUEUE_LEN: usize = 4096;

/// Servers wait at most this many seconds for each client handshake message (key request, key
/// confirmation, login).
pub const HANDSHAKE_TIMEOUT_SECS: u64 = 10;

/// Clients send a ping this often when otherwise idle.
pub const HEARTBEAT_SECS: u64 = 30;

/// A logged-in connection that sends nothing for this long is closed (three missed heartbeats).
pub const IDLE_TIMEOUT_SECS: u64 = 3 * HEARTBEAT_SECS;

/// A connection whose frames fail this many checks is closed.
pub const MAX_BAD_FRAMES: u32 = 5;

/// Public messages a client receives at login by default (`history_on_join`).
pub const DEFAULT_HISTORY_ON_JOIN: usize = 100;

/// Days the chat server keeps stored messages by default (`history_days`; 0 = for ever).
pub const DEFAULT_HISTORY_DAYS: u32 = 30;

/// Most messages one `0007` history request may ask for; a larger count is answered with this
/// many. A page of the GUI's scroll-back is far smaller; the bound keeps one request's database
/// work and answer (a few frames) small.
pub const MAX_HISTORY_COUNT: u32 = 200;

/// Most private messages held for an offline user that one login delivers; the rest come at the
/// next login (bounds the login's work after a very long absence).
pub const MAX_OFFLINE_DELIVERY: usize = 1000;

/// Messages a client folder keeps with `keep_history = true` (`client::kept`): when it holds
/// more, or more than [`MAX_KEPT_BYTES`], the oldest go until three quarters remain (so the file
/// is rewritten once per a few hundred messages, not at every one).
pub const MAX_KEPT_MESSAGES: usize = 1000;

/// Bytes of sealed records a client folder keeps at most (`keep_history`): 1000 messages of the
/// longest kind (8192 bytes, base64-encoded inside the seal) would be 11 MB; this keeps the file
/// a few MB whatever the messages are.
pub const MAX_KEPT_BYTES: usize = 4 << 20;

/// Accepted messages the chat server may hold in memory while they wait to be written to the
/// database (a database outage): about 10 MB of 1 KB messages. When full, new messages are
/// refused with a notice instead of growing without bound.
pub const HISTORY_QUEUE_LEN: usize = 10_000;

/// Raw bytes of file data in one `0010`/`1014` frame (32 KiB): after base64, DES-CBC and base64
/// again a chunk frame is about 58 KB, inside [`MAX_FRAME_LEN`] with room for the other fields.
pub const FILE_CHUNK_LEN: usize = 32 * 1024;

/// Bytes a file's sender may be ahead of its slowest recipient's acknowledgement (1 MiB, 32
/// chunks): enough to keep a LAN busy while acknowledgements travel (100 MB/s x 1 ms is 100 KB);
/// the server holds at most this much per transfer and recipient.
pub const FILE_WINDOW: u64 = 1024 * 1024;

/// A recipient acknowledges every this many bytes (every full chunk) and at the end.
pub const FILE_ACK_EVERY: u64 = FILE_CHUNK_LEN as u64;

/// File bytes the server lets into one recipient's TCP stream beyond what it acknowledged: three
/// chunks. What is in the stream is ahead of any chat message and cannot be overtaken, so this,
/// not the window, bounds how long a chat line waits behind a file (three chunks' processing at
/// the recipient); the rest of the window waits in the server's file queue, behind chat. Measured
/// on 2 cores (docs/BENCHMARKS.md): two chunks left the pipeline idle between acknowledgements
/// (0.36x of the floor), four added a chunk of chat delay for little more throughput.
pub const FILE_IN_STREAM: u64 = 3 * FILE_CHUNK_LEN as u64;

/// Longest offered file name in bytes of UTF-8, before the recipient's sanitiser shortens it.
pub const MAX_FILE_NAME_BYTES: usize = 1024;

/// Largest file the chat server relays by default (`max_file_mb`).
pub const DEFAULT_MAX_FILE_MB: u64 = 100;

/// Transfers one user may have running at once by default, as sender (`max_transfers_per_user`).
pub const DEFAULT_MAX_TRANSFERS_PER_USER: usize = 3;

/// A recipient that has not moved for this long while the sender waits on it, or that is this
/// long behind the fastest recipient, is dropped from the transfer (not from the chat).
pub const FILE_STALL_SECS: u64 = 10;

/// How long a transfer waits for every recipient to accept or decline before it starts with
/// those who accepted (a classroom where some are away must not hold the file for ever).
pub const FILE_OFFER_TIMEOUT_SECS: u64 = 60;

/// File frames waiting for one connection (all its incoming transfers): flow control keeps each
/// transfer within [`FILE_WINDOW`], so a full queue means a broken flow and drops the transfer.
pub const FILE_QUEUE_LEN: usize = 512;

/// Declares every message code once: the `code::NAME` string constants the codecs use, and the
/// [`Code`] enum with all of them, so the list of known codes cannot drift from the constants.
macro_rules! codes {
    ($( $(#[doc = $doc:expr])* $name:ident = $wire:literal, $variant:ident; )*) => {
        /// Seed codes and their extensions. Requests from a client start with 0, answers with 1;
        /// key distribution (port 8091) uses 01xx/11xx.
        pub mod code {
            $( $(#[doc = $doc])* pub const $name: &str = $wire; )*
        }

        /// Every message code of the protocol, as one enum (PROTOCOL.md §1.2 lists them all).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// All codes, in PROTOCOL.md's order.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The four digits on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $wire,)*
                }
            }

            /// The code for four digits, `None` for one this protocol does not know.
            pub fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $($wire => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// Login request (seed).
    LOGIN = "0001", Login;
    /// Chat request (seed).
    CHAT = "0002", Chat;
    /// Ask for the online user list.
    LIST_USERS = "0003", ListUsers;
    /// Log out and close.
    LOGOUT = "0004", Logout;
    /// Heartbeat.
    PING = "0005", Ping;
    /// Change the own password (old and new password inside the seal).
    CHANGE_PASSWORD = "0006", ChangePassword;
    /// Ask for older messages: `before_id|count` inside the seal.
    HISTORY = "0007", History;
    /// Offer a file to one user or to everyone: `ref|to|name|size` inside the seal.
    FILE_OFFER = "0008", FileOffer;
    /// Answer or end a transfer: `id|ACCEPT`, `DECLINE`, `CANCEL`, `DONE` or `BAD_HASH`.
    FILE_CONTROL = "0009", FileControl;
    /// A piece of an offered file, from its sender: `id|offset|data`.
    FILE_CHUNK = "0010", FileChunk;
    /// A recipient has written the first `received` bytes of a file: `id|received`.
    FILE_ACK = "0011", FileAck;
    /// The sender has sent every byte: `id|sha256` of the whole file.
    FILE_END = "0012", FileEnd;
    /// Server hello with the connection nonce.
    HELLO = "1000", Hello;
    /// Login result (seed).
    LOGIN_RESULT = "1001", LoginResult;
    /// Chat message (seed).
    CHAT_MESSAGE = "1002", ChatMessage;
    /// Online user list.
    USER_LIST = "1003", UserList;
    /// Notice: join, leave, information, warning.
    NOTICE = "1004", Notice;
    /// Heartbeat answer.
    PONG = "1005", Pong;
    /// Answer to a password change: `OK` or a reason token.
    PASSWORD_RESULT = "1006", PasswordResult;
    /// Stored messages: at login (`LOGIN`) and in answer to `0007` (`OLDER`), in pages.
    HISTORY_PAGE = "1007", HistoryPage;
    /// Every message this user sent with an id up to the one given is stored in the database.
    STORED = "1008", Stored;
    /// Unauthenticated error (no key to seal it with, or the connection is about to close).
    ERROR = "1009", Error;
    /// A file offered to this user: `id|from|nick|name|size`.
    FILE_OFFERED = "1010", FileOffered;
    /// What happened to a transfer: `id|STATE|user|reason`.
    FILE_STATUS = "1011", FileStatus;
    /// The answer to a `0008`: `ref|id|OK` or `ref|0|REASON`.
    FILE_OFFER_RESULT = "1012", FileOfferResult;
    /// The sender may send the bytes before `upto`: `id|upto`.
    FILE_CREDIT = "1013", FileCredit;
    /// A piece of a file, relayed to a recipient: `id|offset|data`.
    FILE_DATA = "1014", FileData;
    /// Every byte was relayed: `id|sha256` as the sender gave it.
    FILE_DONE = "1015", FileDone;
    /// Key request: username, client public key, client nonce, client signature.
    KEY_REQUEST = "0101", KeyRequest;
    /// Key confirmation: proof that the client opened the envelope.
    KEY_CONFIRM = "0102", KeyConfirm;
    /// Key server hello: server public key and server nonce.
    KEY_HELLO = "1100", KeyHello;
    /// The signed digital envelope.
    KEY_ENVELOPE = "1101", KeyEnvelope;
    /// Key distribution finished (HMAC under the new key): both sides store the key.
    KEY_DONE = "1102", KeyDone;
    /// Key distribution refused, with a reason.
    KEY_ERROR = "1109", KeyError;
}

/// The first field of discovery datagrams (UDP, [`DEFAULT_DISCOVERY_PORT`]); not frames.
pub mod discovery {
    /// Query: "where are the mini-chat servers?".
    pub const QUERY: &str = "MINICHAT-DISCOVER";
    /// Answer from server_key.
    pub const ANSWER: &str = "MINICHAT-HERE";
    /// Version of the discovery datagrams.
    pub const VERSION: u32 = 1;
}

/// Domain-separation labels: each signature or MAC says what it is for, so one can never be
/// replayed as another.
pub mod label {
    /// Client signature over the key request.
    pub const KEY_REQUEST: &str = "minichat-keyreq-v1";
    /// Server signature over the whole key-distribution transcript.
    pub const KEY_ENVELOPE: &str = "minichat-keyenv-v1";
    /// Client's key confirmation MAC.
    pub const KEY_CONFIRM: &str = "minichat-keyconfirm-v1";
    /// Server's key-done MAC: proof that the server (holder of the new key) stored it.
    pub const KEY_DONE: &str = "minichat-keydone-v1";
    /// Chat frame MAC.
    pub const FRAME_MAC: &str = "minichat-frame-v1";
    /// MAC of one stored message under the server's storage key.
    pub const HISTORY_ROW: &str = "minichat-history-v1";
    /// MAC of one message kept in a client folder under its folder key (`keep_history`).
    pub const KEPT_RECORD: &str = "minichat-kept-v1";
    /// Direction tag for frames sent by a client.
    pub const CLIENT_TO_SERVER: &str = "C";
    /// Direction tag for frames sent by the server.
    pub const SERVER_TO_CLIENT: &str = "S";
}
