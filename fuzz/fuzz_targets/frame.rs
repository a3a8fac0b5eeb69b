//! `protocol::frame`: decoding arbitrary bytes never panics, repeated decoding consumes a buffer
//! frame by frame exactly as the encoder laid it out, and encode/decode round-trip.
#![no_main]

use common::error::ProtocolError;
use common::protocol::consts::{FRAME_HEADER_LEN, MAX_FRAME_LEN};
use common::protocol::frame;
use libfuzzer_sys::fuzz_target;

/// Take frames off the front of `buf` until it needs more bytes or fails; every frame found
/// must re-encode to exactly the bytes it came from.
fn drain(mut buf: &[u8], max: usize) {
    loop {
        match frame::decode_with_limit(buf, max) {
            Ok(Some((start, end))) => {
                assert_eq!(start, FRAME_HEADER_LEN);
                assert!(
                    start < end && end <= buf.len(),
                    "range {start}..{end} of {}",
                    buf.len()
                );
                assert!(end - start <= max);
                if max <= MAX_FRAME_LEN {
                    assert_eq!(frame::encode(&buf[start..end]).unwrap(), &buf[..end]);
                }
                buf = &buf[end..];
            }
            Ok(None) => {
                // More bytes needed: either no full header, or a header promising more than is here.
                if let Some(h) = buf.get(..FRAME_HEADER_LEN) {
                    let len = u32::from_be_bytes(h.try_into().unwrap()) as usize;
                    assert!(len > 0 && len <= max && FRAME_HEADER_LEN + len > buf.len());
                }
                return;
            }
            Err(ProtocolError::TooLarge(n)) => {
                assert!(n > max);
                return;
            }
            Err(ProtocolError::Empty) => return,
            Err(e) => panic!("unexpected decode error {e:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    drain(data, MAX_FRAME_LEN);
    // A small limit taken from the input exercises the TooLarge path on short inputs.
    if let Some(&b) = data.first() {
        drain(&data[1..], usize::from(b));
    }

    // Round trip: any non-empty payload up to the limit encodes, and the encoding decodes back
    // to it, and no strict prefix of the encoding decodes to a frame.
    if !data.is_empty() && data.len() <= MAX_FRAME_LEN {
        let enc = frame::encode(data).unwrap();
        assert_eq!(frame::decode(&enc), Ok(Some((FRAME_HEADER_LEN, enc.len()))));
        assert_eq!(&enc[FRAME_HEADER_LEN..], data);
        assert_eq!(frame::decode(&enc[..enc.len() - 1]), Ok(None));
        // Two frames back to back are taken one at a time.
        let mut two = enc.clone();
        frame::encode_into(&data[..data.len() / 2 + 1], &mut two).unwrap();
        drain(&two, MAX_FRAME_LEN);
    } else if data.is_empty() {
        assert_eq!(frame::encode(data), Err(ProtocolError::Empty));
    }
});
