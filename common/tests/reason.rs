//! `Reason`: the one enum for `1009`/`1109` reasons. Wire tokens round-trip in their family,
//! `KEY_MISMATCH` decodes by family, unknown tokens survive, and the enum's families list
//! exactly the reasons PROTOCOL.md documents (§5.8 for the key server, §6.7 for the chat server).

use std::collections::BTreeSet;

use common::protocol::RawMessage;
use common::protocol::chat::ErrorMsg;
use common::protocol::keydist::KeyError;
use common::protocol::reason::{Family, Reason};

const PROTOCOL: &str = include_str!("../../PROTOCOL.md");

/// The backticked first column of the table under the heading that starts with `heading`.
fn documented(heading: &str) -> BTreeSet<String> {
    let start = PROTOCOL.find(heading).expect("section present");
    let section = &PROTOCOL[start + heading.len()..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l[..l.find('`').expect("closing backtick")].to_owned())
        .collect()
}

fn family(f: Family) -> BTreeSet<String> {
    Reason::ALL
        .iter()
        .filter(|r| r.in_family(f))
        .map(|r| r.as_str().to_owned())
        .collect()
}

#[test]
fn families_are_exactly_the_documented_reasons() {
    assert_eq!(family(Family::Key), documented("### 5.8 "));
    assert_eq!(family(Family::Chat), documented("### 6.7 "));
}

#[test]
fn every_reason_round_trips_through_its_message() {
    for r in Reason::ALL {
        let families: Vec<Family> = [Family::Chat, Family::Key]
            .into_iter()
            .filter(|f| r.in_family(*f))
            .collect();
        assert!(!families.is_empty(), "{r:?} belongs to no family");
        for f in families {
            assert_eq!(&Reason::from_wire(f, r.as_str()), r, "{r:?} in {f:?}");
            let text = match f {
                Family::Chat => ErrorMsg::new(r.clone(), "m").to_text(),
                Family::Key => KeyError::new(r.clone(), "m").to_text(),
            };
            assert_eq!(text.split('|').nth(1), Some(r.as_str()), "{text}");
            let m = RawMessage::parse_str(&text).unwrap();
            let back = match f {
                Family::Chat => ErrorMsg::from_message(&m).unwrap().reason,
                Family::Key => KeyError::from_message(&m).unwrap().reason,
            };
            assert_eq!(&back, r, "{text}");
        }
    }
}

#[test]
fn key_mismatch_means_different_things_at_the_two_servers() {
    let chat = ErrorMsg::from_message(&RawMessage::parse_str("1009|KEY_MISMATCH|eA==").unwrap());
    let key = KeyError::from_message(&RawMessage::parse_str("1109|KEY_MISMATCH|eA==").unwrap());
    assert_eq!(chat.unwrap().reason, Reason::KeyMismatch);
    assert_eq!(key.unwrap().reason, Reason::ClientKeyMismatch);
    assert_eq!(Reason::ClientKeyMismatch.to_string(), "KEY_MISMATCH");
    // BUSY likewise: the chat server's (too many logins being checked) and the key server's.
    let chat = ErrorMsg::from_message(&RawMessage::parse_str("1009|BUSY|eA==").unwrap());
    let key = KeyError::from_message(&RawMessage::parse_str("1109|BUSY|eA==").unwrap());
    assert_eq!(chat.unwrap().reason, Reason::ServerBusy);
    assert_eq!(key.unwrap().reason, Reason::Busy);
}

#[test]
fn unknown_and_other_family_tokens_are_kept_as_sent() {
    // A newer server's reason, and a key-server reason inside a chat error.
    for (text, token) in [
        ("1009|NEW_THING|eA==", "NEW_THING"),
        ("1009|NOT_A_USER|eA==", "NOT_A_USER"),
    ] {
        let e = ErrorMsg::from_message(&RawMessage::parse_str(text).unwrap()).unwrap();
        assert_eq!(e.reason, Reason::Unknown(token.into()));
        assert_eq!(e.to_text(), text);
    }
}
