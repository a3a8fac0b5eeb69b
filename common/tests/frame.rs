//! Length-prefixed frames (`common::protocol::frame`).

use common::error::ProtocolError;
use common::protocol::consts::{FRAME_HEADER_LEN, MAX_FRAME_LEN};
use common::protocol::frame::{decode, decode_with_limit, encode, encode_into};

fn payload_of(buf: &[u8]) -> Option<&[u8]> {
    decode(buf).unwrap().map(|(s, e)| &buf[s..e])
}

#[test]
fn header_is_u32_big_endian() {
    assert_eq!(encode(b"abc").unwrap(), [0, 0, 0, 3, b'a', b'b', b'c']);
    let f = encode(&vec![0x55; 0x0102]).unwrap();
    assert_eq!(&f[..4], &[0, 0, 1, 2]);
}

#[test]
fn round_trip_various_sizes() {
    for len in [1usize, 2, 255, 256, 4096, 65_535, MAX_FRAME_LEN] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let f = encode(&payload).unwrap();
        assert_eq!(f.len(), FRAME_HEADER_LEN + len);
        assert_eq!(
            decode(&f).unwrap(),
            Some((FRAME_HEADER_LEN, FRAME_HEADER_LEN + len))
        );
        assert_eq!(payload_of(&f).unwrap(), payload.as_slice());
    }
}

#[test]
fn incomplete_input_asks_for_more() {
    let f = encode(b"hello world").unwrap();
    for cut in 0..f.len() {
        assert_eq!(
            decode(&f[..cut]).unwrap(),
            None,
            "{cut} of {} bytes",
            f.len()
        );
    }
    assert!(decode(&f).unwrap().is_some());
}

#[test]
fn oversize_header_fails_immediately() {
    // Only the 4 header bytes are present: the error comes before any body arrives.
    assert_eq!(
        decode(&[0xFF; 4]),
        Err(ProtocolError::TooLarge(0xFFFF_FFFF))
    );
    let over = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
    assert_eq!(
        decode(&over),
        Err(ProtocolError::TooLarge(MAX_FRAME_LEN + 1))
    );
    let gib = (1u32 << 30).to_be_bytes();
    assert_eq!(decode(&gib), Err(ProtocolError::TooLarge(1 << 30)));
    // Exactly the limit is fine (and needs more bytes).
    assert_eq!(decode(&(MAX_FRAME_LEN as u32).to_be_bytes()), Ok(None));
}

#[test]
fn custom_limit() {
    let f = encode(b"12345").unwrap();
    assert_eq!(decode_with_limit(&f, 5).unwrap(), Some((4, 9)));
    assert_eq!(decode_with_limit(&f, 4), Err(ProtocolError::TooLarge(5)));
}

#[test]
fn zero_length_is_an_error() {
    assert_eq!(decode(&[0, 0, 0, 0]), Err(ProtocolError::Empty));
    assert_eq!(decode(&[0, 0, 0, 0, 1, 2, 3]), Err(ProtocolError::Empty));
}

#[test]
fn back_to_back_frames_decode_one_at_a_time() {
    let mut buf = encode(b"first").unwrap();
    encode_into("第二".as_bytes(), &mut buf).unwrap();
    encode_into(b"3", &mut buf).unwrap();
    let mut rest = &buf[..];
    let mut got = Vec::new();
    while let Some((s, e)) = decode(rest).unwrap() {
        got.push(rest[s..e].to_vec());
        rest = &rest[e..];
    }
    assert!(rest.is_empty());
    assert_eq!(
        got,
        [b"first".to_vec(), "第二".as_bytes().to_vec(), b"3".to_vec()]
    );
    // A second frame that is still partial does not disturb the first.
    let mut buf = encode(b"one").unwrap();
    buf.extend_from_slice(&encode(b"two").unwrap()[..5]);
    assert_eq!(decode(&buf).unwrap(), Some((4, 7)));
    assert_eq!(decode(&buf[7..]).unwrap(), None);
}

#[test]
fn encode_refuses_what_decode_would_refuse() {
    assert_eq!(
        encode(&vec![0; MAX_FRAME_LEN + 1]),
        Err(ProtocolError::TooLarge(MAX_FRAME_LEN + 1))
    );
    assert_eq!(encode(&[]), Err(ProtocolError::Empty));
    let mut out = b"keep".to_vec();
    assert!(encode_into(&vec![0; MAX_FRAME_LEN + 1], &mut out).is_err());
    assert!(encode_into(&[], &mut out).is_err());
    assert_eq!(out, b"keep", "a refused frame appends nothing");
}
