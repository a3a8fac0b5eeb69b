//! `FrameReader` over an in-memory duplex stream fed with arbitrary bytes in arbitrary chunks:
//! never panics, and yields exactly the frames (and the error) that the pure decoder predicts.
//! The first byte picks the chunk sizes and the pipe capacity.
#![no_main]

use common::connection::FrameReader;
use common::error::{Error, ProtocolError};
use common::protocol::frame;
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncWriteExt;

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
}

/// The pure model: frames in order, then `None` for a clean end or the error.
fn model(mut buf: &[u8]) -> (Vec<Vec<u8>>, Option<ProtocolError>) {
    let mut out = Vec::new();
    loop {
        match frame::decode(buf) {
            Ok(Some((s, e))) => {
                out.push(buf[s..e].to_vec());
                buf = &buf[e..];
            }
            Ok(None) if buf.is_empty() => return (out, None),
            Ok(None) => return (out, Some(ProtocolError::Truncated)),
            Err(e) => return (out, Some(e)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(shape % 32) + 1;
    let capacity = usize::from(shape / 32) * 64 + 1;

    let (got, err) = RT.with(|rt| {
        rt.block_on(async {
            let (mut w, r) = tokio::io::duplex(capacity);
            let writer = async move {
                for c in stream.chunks(chunk) {
                    if w.write_all(c).await.is_err() {
                        break; // the reader gave up (bad frame): fine
                    }
                }
            };
            let reader = async move {
                let mut fr = FrameReader::new(r);
                let mut out = Vec::new();
                loop {
                    match fr.read_frame().await {
                        Ok(Some(p)) => out.push(p),
                        Ok(None) => return (out, None),
                        Err(e) => return (out, Some(e)),
                    }
                }
            };
            let ((), res) = tokio::join!(writer, reader);
            res
        })
    });

    let (want, want_err) = model(stream);
    assert_eq!(got, want);
    match (err, want_err) {
        (None, None) => {}
        (Some(Error::Protocol(e)), Some(w)) => assert_eq!(e, w),
        (e, w) => panic!("reader ended with {e:?}, model with {w:?}"),
    }
});
