//! The `CODE|field|...` text messages (`common::protocol::message`).

use common::error::ProtocolError;
use common::protocol::consts::Code;
use common::protocol::consts::code;
use common::protocol::message::{RawMessage, b64};

fn bad_field(r: Result<impl std::fmt::Debug, ProtocolError>) -> bool {
    matches!(r, Err(ProtocolError::BadField { .. }))
}

#[test]
fn parse_and_to_text_round_trip() {
    let m = RawMessage::parse(b"0002|YQ==|aGk=").unwrap();
    assert_eq!(m.code, "0002");
    assert_eq!(m.fields, ["YQ==", "aGk="]);
    assert_eq!(m.to_text(), "0002|YQ==|aGk=");
    assert_eq!(
        m,
        RawMessage::new(code::CHAT, vec!["YQ==".into(), "aGk=".into()])
    );

    let bare = RawMessage::parse_str("0003").unwrap();
    assert!(bare.fields.is_empty());
    assert_eq!(bare.to_text(), "0003");
    // A trailing delimiter is one empty field, and survives the round trip.
    let empty = RawMessage::parse_str("0003|").unwrap();
    assert_eq!(empty.fields, [""]);
    assert_eq!(empty.to_text(), "0003|");
}

/// The codes of PROTOCOL.md §1.2 (the contract), read from the document itself rather than from
/// the list the parser checks.
fn documented_codes() -> Vec<String> {
    let doc = include_str!("../../PROTOCOL.md");
    let table = &doc[doc
        .find("### 1.2 Every code")
        .expect("PROTOCOL.md has §1.2")..];
    let table = &table[..table.find("\n---").expect("§1.2 ends")];
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.get(..4).map(str::to_owned))
        .collect()
}

#[test]
fn every_documented_code_parses_and_no_other() {
    let documented = documented_codes();
    assert_eq!(documented.len(), 34, "{documented:?}");
    // The Code enum (from which the parser's list is made) is the documented list, in order,
    // and each code reads back as itself.
    let enumerated: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(enumerated, documented);
    assert!(
        Code::ALL
            .iter()
            .all(|&c| Code::from_wire(c.as_str()) == Some(c))
    );
    for c in &documented {
        let m = RawMessage::parse_str(&format!("{c}|x"))
            .unwrap_or_else(|e| panic!("documented code {c} refused: {e}"));
        assert_eq!(m.code, *c);
    }
    // Every other four-digit code is refused as unknown, so the parser accepts exactly the
    // contract: a code added to the parser but not to PROTOCOL.md fails here too.
    for n in 0..10_000 {
        let c = format!("{n:04}");
        if !documented.contains(&c) {
            assert_eq!(
                RawMessage::parse_str(&format!("{c}|x")),
                Err(ProtocolError::UnknownCode(c.clone())),
                "undocumented code {c} accepted"
            );
        }
    }
}

#[test]
fn non_utf8_is_refused() {
    assert_eq!(
        RawMessage::parse(&[0xff, 0xfe]),
        Err(ProtocolError::NotUtf8)
    );
    assert_eq!(
        RawMessage::parse(b"0002|\xc3\x28"),
        Err(ProtocolError::NotUtf8)
    );
}

#[test]
fn unknown_codes_are_refused() {
    assert_eq!(
        RawMessage::parse_str("9999|x"),
        Err(ProtocolError::UnknownCode("9999".into()))
    );
    assert_eq!(
        RawMessage::parse_str(""),
        Err(ProtocolError::UnknownCode(String::new()))
    );
    assert_eq!(
        RawMessage::parse_str("0002 |x"),
        Err(ProtocolError::UnknownCode("0002 ".into()))
    );
    assert_eq!(
        RawMessage::parse_str("1"),
        Err(ProtocolError::UnknownCode("1".into()))
    );
    // The error shows at most 16 characters of whatever the peer sent.
    match RawMessage::parse_str(&"A".repeat(1000)) {
        Err(ProtocolError::UnknownCode(shown)) => assert_eq!(shown.len(), 16),
        other => panic!("{other:?}"),
    }
}

#[test]
fn field_count_and_code_checks() {
    let m = RawMessage::parse_str("0002|a").unwrap();
    assert_eq!(m.expect_fields(1), Ok(()));
    assert_eq!(
        m.expect_fields(2),
        Err(ProtocolError::FieldCount {
            code: "0002".into(),
            expected: "2".into(),
            got: 1
        })
    );
    assert!(matches!(
        m.expect_fields(0),
        Err(ProtocolError::FieldCount { got: 1, .. })
    ));
    assert_eq!(m.expect_code(code::CHAT), Ok(()));
    assert_eq!(
        m.expect_code(code::LOGIN),
        Err(ProtocolError::Unexpected {
            got: "0002".into(),
            expected: "0001".into()
        })
    );
}

#[test]
fn delimiters_and_newlines_inside_text_fields_survive() {
    let text = "a|b\nc";
    let wire = format!("0002|{}|{}", b64(text), b64("第二|字段\r\n"));
    assert!(!b64(text).contains('|') && !b64(text).contains('\n'));
    let m = RawMessage::parse_str(&wire).unwrap();
    assert_eq!(m.fields.len(), 2);
    assert_eq!(m.text(0).unwrap(), text);
    assert_eq!(m.text(1).unwrap(), "第二|字段\r\n");
    assert_eq!(m.to_text(), wire);
}

#[test]
fn base64_fields() {
    let m = RawMessage::parse_str("0002|!!!|AAECAw==|AAEC|/w==||YQ").unwrap();
    assert!(bad_field(m.bytes(0)), "not base64");
    assert_eq!(m.bytes(1).unwrap(), [0, 1, 2, 3]);
    assert_eq!(m.array::<4>(1).unwrap(), [0, 1, 2, 3]);
    assert!(bad_field(m.array::<8>(1)), "wrong length");
    assert!(bad_field(m.array::<2>(1)), "wrong length");
    assert!(bad_field(m.text(3)), "0xff is not UTF-8");
    assert_eq!(
        m.bytes(4).unwrap(),
        Vec::<u8>::new(),
        "empty field is empty bytes"
    );
    assert!(bad_field(m.bytes(5)), "missing padding is refused");
    assert!(bad_field(m.bytes(6)), "missing field");
    match m.bytes(0) {
        Err(ProtocolError::BadField { code, index, .. }) => {
            assert_eq!((code.as_str(), index), ("0002", 0))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn numbers_are_plain_decimal() {
    let m = RawMessage::parse_str("0002|0|42|18446744073709551615|007").unwrap();
    assert_eq!(m.number(0), Ok(0));
    assert_eq!(m.number(1), Ok(42));
    assert_eq!(m.number(2), Ok(u64::MAX));
    assert_eq!(m.number(3), Ok(7));
    for bad in [
        "-1",
        "1e3",
        "",
        "+1",
        " 1",
        "1 ",
        "0x10",
        "１",
        "18446744073709551616",
        "000000000000000000001",
    ] {
        let m = RawMessage::new("0002", vec![bad.to_owned()]);
        assert!(bad_field(m.number(0)), "{bad:?} must be refused");
    }
    assert!(
        bad_field(RawMessage::new("0002", vec![]).number(0)),
        "missing"
    );
}

#[test]
fn hex_ids_are_lowercase_and_exact_length() {
    let m = RawMessage::new(
        "1102",
        vec![
            "0123456789abcdef".into(),
            "0123456789ABCDEF".into(),
            "0123456789abcde".into(),
            "0123456789abcdef0".into(),
            "0123456789abcdeg".into(),
            String::new(),
        ],
    );
    assert_eq!(m.hex_id(0, 8).unwrap(), "0123456789abcdef");
    for i in 1..=6 {
        assert!(bad_field(m.hex_id(i, 8)), "field {i}");
    }
}

#[test]
fn b64_is_standard_with_padding() {
    assert_eq!(b64(""), "");
    assert_eq!(b64("a"), "YQ==");
    assert_eq!(b64([0xfb, 0xff]), "+/8=");
}
