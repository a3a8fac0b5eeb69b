//! Sealed chat frames (`common::protocol::sealed::Channel`) and the chat message encoders
//! (`common::protocol::chat`) carried through them.

use std::sync::Arc;

use common::crypto::{SessionKey, cbc, mac};
use common::error::{CryptoError, Error, ProtocolError};
use common::protocol::RawMessage;
use common::protocol::chat::{
    ChatLine, ClientRequest, ErrorMsg, Hello, LOGIN_PREFIX_FIELDS, Notice, NoticeKind, OnlineUser,
    ServerEvent, UserListMerger, check_text, login_request, parse_login_outer, user_list_events,
};
use common::protocol::consts::{MAX_FRAME_LEN, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, code};
use common::protocol::frame;
use common::protocol::message::b64;
use common::protocol::password::Secret;
use common::protocol::reason::Reason;
use common::protocol::sealed::SealedMessage;
use common::protocol::sealed::{Channel, sealed_len};

const NONCE_A: [u8; 16] = [0xA5; 16];
const NONCE_B: [u8; 16] = *b"another nonce 16";

fn key() -> Arc<SessionKey> {
    Arc::new(SessionKey::generate("user1", time::Duration::hours(1)))
}

fn pair(key: &Arc<SessionKey>) -> (Channel, Channel) {
    (
        Channel::client(key.clone(), &NONCE_A),
        Channel::server(key.clone(), &NONCE_A),
    )
}

fn parse(s: &str) -> RawMessage {
    RawMessage::parse_str(s).unwrap()
}

#[test]
fn client_to_server_and_back() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let f0 = c.seal(code::CHAT, &[], &[&b64("user2"), &b64("hello")]);
    let o = s.open(&parse(&f0), 0).unwrap();
    assert_eq!(o.seq, 0);
    assert_eq!(
        o.inner,
        RawMessage::new(code::CHAT, vec![b64("user2"), b64("hello")])
    );
    let f1 = c.seal(code::PING, &[], &[]);
    let o = s.open(&parse(&f1), 0).unwrap();
    assert_eq!((o.seq, o.inner.fields.len()), (1, 0));

    // The other direction has its own sequence numbers.
    let g0 = s.seal(
        code::CHAT_MESSAGE,
        &[],
        &["7", "1700000000000", &b64("user2")],
    );
    let o = c.open(&parse(&g0), 0).unwrap();
    assert_eq!(o.seq, 0);
    assert_eq!(o.inner.code, code::CHAT_MESSAGE);
    assert_eq!(o.inner.fields, ["7", "1700000000000", &b64("user2")]);
}

#[test]
fn wire_form_matches_the_documented_construction() {
    // Recompute the MAC and decrypt by hand, following the module documentation.
    let k = key();
    let (mut c, _) = pair(&k);
    let inner = format!("{}|{}", b64(""), b64("hi there"));
    let f = c.seal_text(code::CHAT, &[], &inner);
    let m = parse(&f);
    assert_eq!(m.fields.len(), 4);
    assert_eq!(m.fields[0], "0");
    let (covered, tag) = f.rsplit_once('|').unwrap();
    let input = format!("minichat-frame-v1|C|{}|{covered}", b64(NONCE_A));
    assert_eq!(b64(mac::hmac_sha256(&*k.mac_key, &[input.as_bytes()])), tag);
    let iv: [u8; 8] = m.array(1).unwrap();
    assert_eq!(
        cbc::decrypt(&k.des, &iv, &m.bytes(2).unwrap()).unwrap(),
        inner.as_bytes()
    );
    assert!(
        !f.contains("hi there") && !f.contains(&b64("hi there")),
        "the text is not in clear"
    );
}

#[test]
fn each_frame_gets_a_fresh_iv() {
    let k = key();
    let (mut c, _) = pair(&k);
    let a = parse(&c.seal(code::PING, &[], &[]));
    let b = parse(&c.seal(code::PING, &[], &[]));
    assert_ne!(a.fields[1], b.fields[1]);
    assert_ne!(a.fields[2], b.fields[2]);
}

/// Every single-character change of `frame`: each position replaced by a character of the same
/// kind, by a bit-flipped one, and by the delimiter.
fn mutations(frame: &str) -> Vec<String> {
    let chars: Vec<char> = frame.chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        let c = chars[i];
        let same_kind = if c.is_ascii_digit() {
            if c == '0' { '1' } else { '0' }
        } else if c.is_ascii_alphabetic() {
            if c == 'A' { 'B' } else { 'A' }
        } else {
            'A'
        };
        for r in [same_kind, char::from(c as u8 ^ 1), '|'] {
            if r != c {
                let mut m = chars.clone();
                m[i] = r;
                out.push(m.into_iter().collect());
            }
        }
    }
    out
}

fn assert_every_mutation_fails(k: &Arc<SessionKey>, frame: &str, prefix_len: usize) {
    // The untouched frame opens.
    Channel::server(k.clone(), &NONCE_A)
        .open(&parse(frame), prefix_len)
        .unwrap();
    let (mut bad_mac, mut bad_syntax) = (0, 0);
    for m in mutations(frame) {
        let Ok(msg) = RawMessage::parse_str(&m) else {
            bad_syntax += 1;
            continue;
        };
        match Channel::server(k.clone(), &NONCE_A).open(&msg, prefix_len) {
            Ok(o) => panic!("altered frame {m:?} opened: {o:?}"),
            Err(Error::Crypto(CryptoError::BadMac)) => bad_mac += 1,
            Err(Error::Protocol(_)) => bad_syntax += 1,
            Err(e) => panic!("altered frame {m:?}: unexpected error {e:?}"),
        }
    }
    assert!(
        bad_mac > 3 * frame.len() / 2,
        "most changes reach the MAC check ({bad_mac} did)"
    );
    assert!(bad_syntax > 0);
}

#[test]
fn any_changed_character_is_detected() {
    let k = key();
    let (mut c, _) = pair(&k);
    let f = c.seal(
        code::CHAT,
        &[],
        &[&b64(""), &b64("a message long enough for two blocks")],
    );
    assert_every_mutation_fails(&k, &f, 0);
}

#[test]
fn any_changed_character_of_a_login_is_detected() {
    // The clear username and key id are covered by the MAC too.
    let k = key();
    let (mut c, _) = pair(&k);
    let f = login_request(c.sealer(), "user1", &k.key_id, "111111");
    assert_eq!(LOGIN_PREFIX_FIELDS, 2);
    assert_every_mutation_fails(&k, &f, LOGIN_PREFIX_FIELDS);
}

#[test]
fn login_round_trip() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let f = login_request(c.sealer(), "user1", &k.key_id, "pass|word 密码");
    assert!(
        !f.contains("pass") && !f.contains(&b64("pass|word 密码")),
        "password only inside the ciphertext"
    );
    let m = parse(&f);
    assert_eq!(
        parse_login_outer(&m).unwrap(),
        ("user1".to_owned(), k.key_id.clone())
    );
    let o = s.open(&m, LOGIN_PREFIX_FIELDS).unwrap();
    assert_eq!(o.inner.code, code::LOGIN);
    assert_eq!(o.inner.text(0).unwrap(), "pass|word 密码");
}

#[test]
fn login_outer_checks_username_and_key_id() {
    let k = key();
    let (mut c, _) = pair(&k);
    let long = "x".repeat(31);
    for (user, key_id) in [
        ("", k.key_id.as_str()),
        (long.as_str(), k.key_id.as_str()),
        ("user1", "0123456789ABCDEF"),
        ("user1", "0123"),
    ] {
        let f = login_request(c.sealer(), user, key_id, "pw");
        assert!(
            matches!(
                parse_login_outer(&parse(&f)),
                Err(ProtocolError::BadField { .. })
            ),
            "{user:?} {key_id:?}"
        );
    }
    let f = c.seal(code::CHAT, &[], &[]);
    assert!(parse_login_outer(&parse(&f)).is_err(), "not a login");
}

#[test]
fn replay_is_refused() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let f = parse(&c.seal(code::PING, &[], &[]));
    s.open(&f, 0).unwrap();
    match s.open(&f, 0) {
        Err(Error::Crypto(CryptoError::Replay { got: 0, last: 0 })) => {}
        other => panic!("replay accepted or wrong error: {other:?}"),
    }
}

#[test]
fn reordering_is_refused_and_a_gap_is_a_lost_frame() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let f0 = parse(&c.seal(code::PING, &[], &[]));
    let f1 = parse(&c.seal(code::PING, &[], &[]));
    let f2 = parse(&c.seal(code::PING, &[], &[]));
    let f3 = parse(&c.seal(code::PING, &[], &[]));
    // The first frame of a direction may carry any number (the login is written 0, PROTOCOL.md
    // §6.4); from then on each must be exactly one more.
    assert_eq!(s.open(&f1, 0).unwrap().seq, 1);
    assert!(matches!(
        s.open(&f0, 0),
        Err(Error::Crypto(CryptoError::Replay { got: 0, last: 1 }))
    ));
    // f2 was deleted on the way: f3 is authentic, but a frame is missing before it.
    assert!(matches!(
        s.open(&f3, 0),
        Err(Error::Crypto(CryptoError::FrameLost {
            got: 3,
            expected: 2
        }))
    ));
    // The lost frame was not recorded as received: the late f2 still opens, then f3.
    assert_eq!(s.open(&f2, 0).unwrap().seq, 2);
    assert_eq!(s.open(&f3, 0).unwrap().seq, 3);
}

/// A frame altered on the way fails its MAC and does not count as received, so deleting a frame
/// by damaging it is noticed at the next authentic frame, like deleting it outright.
#[test]
fn an_altered_frame_is_not_counted_so_the_next_one_reports_it_lost() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let f0 = c.seal(code::PING, &[], &[]);
    let f1 = c.seal(code::PING, &[], &[]);
    let f2 = c.seal(code::PING, &[], &[]);
    assert_eq!(s.open(&parse(&f0), 0).unwrap().seq, 0);
    let altered = f1.replacen("0005|1|", "0005|7|", 1);
    assert!(matches!(
        s.open(&parse(&altered), 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
    assert!(matches!(
        s.open(&parse(&f2), 0),
        Err(Error::Crypto(CryptoError::FrameLost {
            got: 2,
            expected: 1
        }))
    ));
}

/// After `u64::MAX` (a first frame may carry any number) nothing can follow, and nothing panics.
#[test]
fn nothing_follows_the_largest_sequence_number() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let f = c.seal(code::PING, &[], &[]);
    let max = f.replacen("0005|0|", &format!("0005|{}|", u64::MAX), 1);
    let max = resign_client(&k, &max);
    assert_eq!(s.open(&parse(&max), 0).unwrap().seq, u64::MAX);
    let next = c.seal(code::PING, &[], &[]);
    assert!(matches!(
        s.open(&parse(&next), 0),
        Err(Error::Crypto(CryptoError::Replay {
            got: 1,
            last: u64::MAX
        }))
    ));
}

/// `text` with its tag replaced by the correct client-to-server tag on `NONCE_A`.
fn resign_client(k: &SessionKey, text: &str) -> String {
    let (covered, _) = text.rsplit_once('|').unwrap();
    let tag = common::protocol::sealed::frame_tag(
        k,
        common::protocol::consts::label::CLIENT_TO_SERVER,
        &b64(NONCE_A),
        covered,
    );
    format!("{covered}|{}", b64(tag))
}

#[test]
fn a_rejected_frame_does_not_disturb_the_channel() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let good = c.seal(code::PING, &[], &[]);
    let forged = good.replacen("|0|", "|5|", 1);
    assert!(matches!(
        s.open(&parse(&forged), 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
    assert_eq!(
        s.open(&parse(&good), 0).unwrap().seq,
        0,
        "a forged higher sequence number was not recorded"
    );
}

#[test]
fn frames_are_bound_to_the_connection_nonce() {
    let k = key();
    let (mut c, _) = pair(&k);
    let f = parse(&c.seal(code::PING, &[], &[]));
    let mut other_conn = Channel::server(k.clone(), &NONCE_B);
    assert!(matches!(
        other_conn.open(&f, 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
}

#[test]
fn frames_are_bound_to_their_direction() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let from_client = parse(&c.seal(code::PING, &[], &[]));
    // Another client channel (or the sender itself, if the frame is reflected) refuses it.
    let mut other_client = Channel::client(k.clone(), &NONCE_A);
    assert!(matches!(
        other_client.open(&from_client, 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
    assert!(matches!(
        c.open(&from_client, 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
    let from_server = parse(&s.seal(code::PONG, &[], &[]));
    assert!(matches!(
        Channel::server(k.clone(), &NONCE_A).open(&from_server, 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
    assert!(c.open(&from_server, 0).is_ok());
}

#[test]
fn frames_are_bound_to_the_session_key() {
    let (k1, k2) = (key(), key());
    let (mut c, _) = pair(&k1);
    let f = parse(&c.seal(code::PING, &[], &[]));
    let mut s2 = Channel::server(k2, &NONCE_A);
    assert!(matches!(
        s2.open(&f, 0),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
}

#[test]
fn wrong_prefix_length_is_a_field_count_error() {
    let k = key();
    let (mut c, _) = pair(&k);
    let f = parse(&login_request(c.sealer(), "user1", &k.key_id, "pw"));
    let mut s = Channel::server(k.clone(), &NONCE_A);
    assert!(matches!(
        s.open(&f, 0),
        Err(Error::Protocol(ProtocolError::FieldCount { .. }))
    ));
    assert!(matches!(
        s.open(&f, 3),
        Err(Error::Protocol(ProtocolError::FieldCount { .. }))
    ));
}

const TRICKY: &str = "你好，世界 🎉🔐 | not a field\nsecond line\r\n\0NUL\0 end|";

fn c2s(c: &mut Channel, s: &mut Channel, req: &ClientRequest) -> ClientRequest {
    let f = c.seal_text(req.code(), &[], req.inner_text());
    assert!(frame::encode(f.as_bytes()).is_ok());
    let o = s.open(&parse(&f), 0).unwrap();
    assert_eq!(o.inner.code, req.code());
    ClientRequest::from_inner(&o.inner).unwrap()
}

#[test]
fn client_requests_round_trip_through_the_seal() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    for req in [
        ClientRequest::Chat {
            to: None,
            text: TRICKY.into(),
        },
        ClientRequest::Chat {
            to: Some("user2".into()),
            text: "private".into(),
        },
        ClientRequest::Chat {
            to: Some("用户|2".into()),
            text: "\0".into(),
        },
        ClientRequest::ListUsers,
        ClientRequest::Logout,
        ClientRequest::Ping,
        ClientRequest::ChangePassword {
            old: Secret::new("111111"),
            new: Secret::new("新密码 | pass 🐱"),
        },
        ClientRequest::ChangePassword {
            old: Secret::new(""),
            new: Secret::new(""),
        },
    ] {
        assert_eq!(c2s(&mut c, &mut s, &req), req);
    }
}

#[test]
fn server_events_round_trip_through_the_seal() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let events = [
        ServerEvent::LoginOk {
            username: "user1".into(),
            nickname: "小明 | 🐱".into(),
            must_change_password: false,
        },
        ServerEvent::LoginOk {
            username: "s01".into(),
            nickname: "学生".into(),
            must_change_password: true,
        },
        ServerEvent::PasswordResult(Ok(())),
        ServerEvent::PasswordResult(Err(Reason::WrongPassword)),
        ServerEvent::PasswordResult(Err(Reason::PasswordTooShort)),
        ServerEvent::Chat(ChatLine {
            msg_id: 1,
            time_ms: 1_700_000_000_123,
            from_user: "user2".into(),
            from_nick: "李四".into(),
            to: None,
            text: TRICKY.into(),
        }),
        ServerEvent::Chat(ChatLine {
            msg_id: u64::MAX,
            time_ms: 0,
            from_user: "user2".into(),
            from_nick: String::new(),
            to: Some("user1".into()),
            text: "\0\0".into(),
        }),
        ServerEvent::UserList(vec![]),
        ServerEvent::UserList(vec![
            OnlineUser {
                username: "user1".into(),
                nickname: "张三".into(),
            },
            OnlineUser {
                username: "user2".into(),
                nickname: String::new(),
            },
        ]),
        ServerEvent::UserListPart(vec![OnlineUser {
            username: "user3".into(),
            nickname: "cxk".into(),
        }]),
        ServerEvent::Notice(Notice {
            kind: NoticeKind::Join,
            user: "u".into(),
            nick: "n".into(),
            text: "joined".into(),
        }),
        ServerEvent::Notice(Notice {
            kind: NoticeKind::Leave,
            user: "u".into(),
            nick: "n".into(),
            text: String::new(),
        }),
        ServerEvent::Notice(Notice {
            kind: NoticeKind::Info,
            user: String::new(),
            nick: String::new(),
            text: TRICKY.into(),
        }),
        ServerEvent::Notice(Notice {
            kind: NoticeKind::Warn,
            user: String::new(),
            nick: String::new(),
            text: "!".into(),
        }),
        ServerEvent::Pong,
    ];
    for (i, ev) in events.iter().enumerate() {
        let f = s.seal_text(ev.code(), &[], ev.inner_text());
        let o = c.open(&parse(&f), 0).unwrap();
        assert_eq!(o.seq, i as u64);
        assert_eq!(ServerEvent::from_inner(&o.inner).unwrap(), *ev);
    }
}

#[test]
fn decoders_refuse_the_wrong_family_and_shape() {
    let wrong = RawMessage::new(code::PONG, vec![]);
    assert!(matches!(
        ClientRequest::from_inner(&wrong),
        Err(ProtocolError::Unexpected { .. })
    ));
    let wrong = RawMessage::new(code::PING, vec![]);
    assert!(matches!(
        ServerEvent::from_inner(&wrong),
        Err(ProtocolError::Unexpected { .. })
    ));
    for fields in [
        vec![],
        vec!["END".into(), b64("a")],
        vec![b64("a"), b64("b")],
    ] {
        let odd = RawMessage::new(code::USER_LIST, fields);
        assert!(matches!(
            ServerEvent::from_inner(&odd),
            Err(ProtocolError::FieldCount { .. })
        ));
    }
    let no_flag = RawMessage::new(code::USER_LIST, vec!["ALL".into(), b64("a"), b64("b")]);
    assert!(matches!(
        ServerEvent::from_inner(&no_flag),
        Err(ProtocolError::BadField { index: 0, .. })
    ));
    let bad_kind = RawMessage::new(
        code::NOTICE,
        vec!["PARTY".into(), b64(""), b64(""), b64("")],
    );
    assert!(matches!(
        ServerEvent::from_inner(&bad_kind),
        Err(ProtocolError::BadField { .. })
    ));
    let not_ok = RawMessage::new(code::LOGIN_RESULT, vec!["NO".into(), b64("u"), b64("n")]);
    assert!(matches!(
        ServerEvent::from_inner(&not_ok),
        Err(ProtocolError::BadField { .. })
    ));
    let ping_with_field = RawMessage::new(code::PING, vec!["x".into()]);
    assert!(matches!(
        ClientRequest::from_inner(&ping_with_field),
        Err(ProtocolError::FieldCount { .. })
    ));
}

#[test]
fn the_longest_message_fits_in_a_frame() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let text = "汉".repeat(MAX_MESSAGE_BYTES / 3) + "ab";
    assert_eq!(text.len(), MAX_MESSAGE_BYTES);
    assert_eq!(check_text(&text), Ok(()));
    assert!(check_text(&(text.clone() + "x")).is_err());
    assert!(check_text("").is_err());
    let req = ClientRequest::Chat {
        to: Some("user2".into()),
        text,
    };
    let f = c.seal_text(req.code(), &[], req.inner_text());
    assert!(
        f.len() < MAX_FRAME_LEN / 2,
        "sealed frame of {} bytes",
        f.len()
    );
    assert_eq!(
        ClientRequest::from_inner(&s.open(&parse(&f), 0).unwrap().inner).unwrap(),
        req
    );
}

#[test]
fn plain_hello_and_error_round_trip() {
    let h = Hello {
        version: PROTOCOL_VERSION,
        nonce: NONCE_B,
    };
    assert_eq!(Hello::from_message(&parse(&h.to_text())).unwrap(), h);
    let future = Hello {
        version: PROTOCOL_VERSION + 1,
        nonce: NONCE_B,
    };
    assert_eq!(
        Hello::from_message(&parse(&future.to_text())),
        Err(ProtocolError::Version(PROTOCOL_VERSION + 1))
    );
    assert!(
        Hello::from_message(&parse(&format!("1000|1|{}", b64([0u8; 15])))).is_err(),
        "short nonce"
    );
    let e = ErrorMsg::new(common::protocol::Reason::BadLogin, "wrong | password\n错误");
    assert_eq!(ErrorMsg::from_message(&parse(&e.to_text())).unwrap(), e);
}

/// A list too long for one frame is split into parts that each seal within `MAX_FRAME_LEN`,
/// with consecutive sequence numbers, and the merger gives back the whole list, in order.
#[test]
fn long_user_lists_split_within_the_frame_limit_and_merge_back() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    for n in [0usize, 1, 300, 420, 2000] {
        let users: Vec<OnlineUser> = (0..n)
            .map(|i| OnlineUser {
                username: format!("student_{i:04}_{}", "x".repeat(17)),
                nickname: "长".repeat(30),
            })
            .collect();
        let events = user_list_events(users.clone());
        assert!(
            matches!(events.last(), Some(ServerEvent::UserList(_))),
            "a list ends with END"
        );
        let mut merger = UserListMerger::default();
        let mut merged = None;
        for (i, ev) in events.iter().enumerate() {
            let f = s.seal_checked(ev.code(), &[], ev.inner_text()).unwrap();
            assert!(
                f.len() <= MAX_FRAME_LEN,
                "part {i} of {n} users is {} bytes",
                f.len()
            );
            let o = c.open(&parse(&f), 0).unwrap();
            let got = merger
                .push(ServerEvent::from_inner(&o.inner).unwrap())
                .unwrap();
            assert_eq!(got.is_some(), i + 1 == events.len());
            merged = got;
        }
        assert_eq!(merged, Some(ServerEvent::UserList(users)), "{n} users");
        if n >= 420 {
            assert!(events.len() > 1, "{n} long names need more than one frame");
        }
    }
}

/// A frame too large to send is refused before sealing and uses no sequence number.
#[test]
fn seal_checked_refuses_oversize_without_using_a_sequence_number() {
    let k = key();
    let (mut c, mut s) = pair(&k);
    let huge = "x".repeat(MAX_FRAME_LEN);
    assert!(matches!(
        s.seal_checked(code::CHAT_MESSAGE, &[], &huge),
        Err(ProtocolError::TooLarge(n)) if n > MAX_FRAME_LEN
    ));
    let f = s.seal_checked(code::PONG, &[], "").unwrap();
    assert_eq!(c.open(&parse(&f), 0).unwrap().seq, 0);
    // The bound is exact: the largest inner that fits seals to at most MAX_FRAME_LEN.
    let mut n = MAX_FRAME_LEN;
    while sealed_len(code::CHAT_MESSAGE, 0, n) > MAX_FRAME_LEN {
        n -= 1;
    }
    let f = s
        .seal_checked(code::CHAT_MESSAGE, &[], "y".repeat(n))
        .unwrap();
    assert!(f.len() <= MAX_FRAME_LEN);
    assert!(
        s.seal_checked(code::CHAT_MESSAGE, &[], "y".repeat(n + 8))
            .is_err()
    );
}

/// A file chunk's plaintext is `id|offset|` and raw bytes: any byte, `|` and non-UTF-8 included,
/// crosses a channel unchanged, one plaintext byte per data byte (no base64 inside the seal).
#[test]
fn a_file_chunk_carries_raw_bytes() {
    use common::protocol::files::{FileEvent, FileRequest};
    let k = key();
    let (mut c, mut s) = pair(&k);
    let data: Vec<u8> = (0..=255u8).chain(*b"||\xff").collect();
    let req = ClientRequest::File(FileRequest::Chunk {
        id: 3,
        offset: 65536,
        data: data.clone(),
    });
    assert_eq!(req.inner_plain().len(), "3|65536|".len() + data.len());
    let f = c.seal_msg(&req).unwrap();
    let o = s.open(&parse(&f), 0).unwrap();
    assert_eq!(
        (o.inner.fields.as_slice(), o.inner.data.as_slice()),
        (&["3".to_owned(), "65536".to_owned()][..], &data[..])
    );
    assert_eq!(ClientRequest::from_inner(&o.inner).unwrap(), req);
    let ev = ServerEvent::File(FileEvent::Data {
        id: 3,
        offset: 0,
        data: data.clone(),
    });
    let f = s.seal_msg(&ev).unwrap();
    assert_eq!(c.open_msg::<ServerEvent>(&parse(&f)).unwrap(), ev);
    // A chunk whose plaintext lacks the `|` ending its fields is malformed, and so is the same
    // plaintext under a text code (not UTF-8): both refused, neither counted.
    let f = c.seal_text(code::FILE_CHUNK, &[], b"3|65536");
    assert!(matches!(
        s.open(&parse(&f), 0),
        Err(Error::Protocol(ProtocolError::FieldCount { .. }))
    ));
    let (mut c, mut s) = pair(&k);
    let f = c.seal_text(code::CHAT, &[], req.inner_plain());
    assert!(matches!(
        s.open(&parse(&f), 0),
        Err(Error::Protocol(ProtocolError::NotUtf8))
    ));
}

/// `Opener::check` verifies and records a chunk's frame at once and leaves the decryption for
/// later: the frame after it opens before the chunk is decrypted, and a forged chunk is refused
/// by `check` without counting.
#[test]
fn a_checked_chunk_counts_before_it_is_decrypted() {
    use common::protocol::files::FileEvent;
    let k = key();
    let (c, mut s) = pair(&k);
    let chunk = ServerEvent::File(FileEvent::Data {
        id: 1,
        offset: 0,
        data: vec![7; 100],
    });
    let f0 = s.seal_msg(&chunk).unwrap();
    let f1 = s.seal_msg(&ServerEvent::Pong).unwrap();
    let (_, mut opener) = c.split();
    let checked = opener.check(&parse(&f0)).unwrap();
    assert_eq!(
        opener.open_msg::<ServerEvent>(&parse(&f1)).unwrap(),
        ServerEvent::Pong
    );
    assert_eq!(checked.open::<ServerEvent>().unwrap(), chunk);
    // Checked twice: the second time it is a replay.
    assert!(matches!(
        opener.check(&parse(&f0)),
        Err(Error::Crypto(CryptoError::Replay { .. }))
    ));
    // A flipped ciphertext bit fails the MAC in `check`, and nothing is recorded.
    let f2 = s.seal_msg(&chunk).unwrap();
    let mut m = parse(&f2);
    let mut ct = m.bytes(2).unwrap();
    ct[0] ^= 1;
    m.fields[2] = b64(&ct);
    assert!(matches!(
        opener.check(&m),
        Err(Error::Crypto(CryptoError::BadMac))
    ));
    assert!(opener.check(&parse(&f2)).is_ok());
}

/// A chunk encrypted ahead (on another thread, in the server) takes its sequence number only
/// when it is sealed: a chat line sealed meanwhile goes first, and the receiver opens both in
/// the order they were sealed. A plaintext too large for a frame is refused before encrypting.
#[test]
fn an_encrypted_chunk_is_numbered_when_it_is_sealed() {
    use common::protocol::files::FileEvent;
    let k = key();
    let (mut c, s) = pair(&k);
    let (mut sealer, _) = s.split();
    let chunk = ServerEvent::File(FileEvent::Data {
        id: 1,
        offset: 0,
        data: vec![b'|'; 1000],
    });
    let encrypted = sealer
        .encryptor()
        .encrypt(chunk.code(), chunk.inner_plain())
        .unwrap();
    let f0 = sealer.seal_msg(&ServerEvent::Pong).unwrap();
    let f1 = sealer.seal_encrypted(&encrypted);
    let (o0, o1) = (
        c.open(&parse(&f0), 0).unwrap(),
        c.open(&parse(&f1), 0).unwrap(),
    );
    assert_eq!((o0.seq, o1.seq), (0, 1));
    assert_eq!(ServerEvent::from_inner(&o1.inner).unwrap(), chunk);
    // Sealing the same encryption again is a new frame with the next number (never done by the
    // server, which seals each once), not a replay of the first.
    assert_eq!(
        c.open(&parse(&sealer.seal_encrypted(&encrypted)), 0)
            .unwrap()
            .seq,
        2
    );
    assert!(matches!(
        sealer
            .encryptor()
            .encrypt(code::FILE_DATA, vec![0; MAX_FRAME_LEN]),
        Err(ProtocolError::TooLarge(_))
    ));
    assert_eq!(
        c.open(&parse(&sealer.seal_msg(&ServerEvent::Pong).unwrap()), 0)
            .unwrap()
            .seq,
        3
    );
}
