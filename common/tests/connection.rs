//! Buffered, cancel-safe frame I/O (`common::connection`) over in-memory pipes.

use std::time::Duration;

use common::connection::{FrameReader, FrameWriter};
use common::error::{Error, ProtocolError};
use common::protocol::consts::MAX_FRAME_LEN;
use common::protocol::frame;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn frames_round_trip() {
    let (a, b) = tokio::io::duplex(1024);
    let mut w = FrameWriter::new(a);
    let mut r = FrameReader::new(b);
    let big: Vec<u8> = (0..MAX_FRAME_LEN).map(|i| (i % 251) as u8).collect();
    let payloads = vec![
        b"0005|0|x|y|z".to_vec(),
        "中文 | 🐱".as_bytes().to_vec(),
        big,
        vec![0],
    ];
    let expected = payloads.clone();
    let writer = tokio::spawn(async move {
        for p in &payloads {
            w.write_frame(p).await.unwrap();
        }
        // Several frames queued and sent in one write.
        w.queue(b"q1").unwrap();
        w.queue(b"q2").unwrap();
        w.flush().await.unwrap();
        w.shutdown().await;
    });
    for p in expected {
        assert_eq!(r.read_frame().await.unwrap().unwrap(), p);
    }
    assert_eq!(r.read_frame().await.unwrap().unwrap(), b"q1");
    assert_eq!(r.read_frame().await.unwrap().unwrap(), b"q2");
    assert!(
        r.read_frame().await.unwrap().is_none(),
        "clean end of stream"
    );
    writer.await.unwrap();
}

#[tokio::test]
async fn eof_between_frames_is_none() {
    let (a, b) = tokio::io::duplex(1024);
    let mut r = FrameReader::new(b);
    {
        let mut w = FrameWriter::new(a);
        w.write_frame(b"only").await.unwrap();
    } // dropped: end of stream
    assert_eq!(r.read_frame().await.unwrap().unwrap(), b"only");
    assert!(r.read_frame().await.unwrap().is_none());
    // An empty stream is a clean end too.
    let (a, b) = tokio::io::duplex(16);
    drop(a);
    assert!(FrameReader::new(b).read_frame().await.unwrap().is_none());
}

#[tokio::test]
async fn eof_inside_a_frame_is_truncated() {
    for partial in [
        &[0u8, 0][..],
        &[0, 0, 0, 10],
        &[0, 0, 0, 10, b'a', b'b', b'c'],
    ] {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(partial).await.unwrap();
        drop(a);
        let got = FrameReader::new(b).read_frame().await;
        assert!(
            matches!(got, Err(Error::Protocol(ProtocolError::Truncated))),
            "{partial:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn huge_header_fails_without_waiting_for_the_body() {
    let (mut a, b) = tokio::io::duplex(64);
    a.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
    // `a` stays open: a reader that waited for 1 GiB would hang here.
    let got = tokio::time::timeout(Duration::from_secs(5), FrameReader::new(b).read_frame())
        .await
        .expect("read_frame must fail at once, not wait for the body");
    assert!(
        matches!(got, Err(Error::Protocol(ProtocolError::TooLarge(n))) if n == 1 << 30),
        "{got:?}"
    );
    drop(a);
}

#[tokio::test]
async fn zero_length_frame_is_an_error() {
    let (mut a, b) = tokio::io::duplex(64);
    a.write_all(&[0, 0, 0, 0, 1]).await.unwrap();
    let got = FrameReader::new(b).read_frame().await;
    assert!(
        matches!(got, Err(Error::Protocol(ProtocolError::Empty))),
        "{got:?}"
    );
}

#[tokio::test]
async fn writer_refuses_frames_the_reader_would_refuse() {
    let (a, _b) = tokio::io::duplex(64);
    let mut w = FrameWriter::new(a);
    assert_eq!(
        w.queue(&vec![0; MAX_FRAME_LEN + 1]),
        Err(ProtocolError::TooLarge(MAX_FRAME_LEN + 1))
    );
    assert!(matches!(
        w.write_frame(&[]).await,
        Err(Error::Protocol(ProtocolError::Empty))
    ));
}

#[tokio::test(start_paused = true)]
async fn read_frame_is_cancel_safe() {
    let (mut a, b) = tokio::io::duplex(64);
    let payloads: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("1002|{i}|{}", "x".repeat(i * 7)).into_bytes())
        .collect();
    let mut wire = Vec::new();
    for p in &payloads {
        frame::encode_into(p, &mut wire).unwrap();
    }
    // The bytes trickle in 3 at a time, 5 ms apart ...
    let writer = tokio::spawn(async move {
        for chunk in wire.chunks(3) {
            a.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // ... while the reader is interrupted by a 2 ms timer over and over, dropping the
    // in-progress read_frame future each time.
    let mut r = FrameReader::new(b);
    let (mut got, mut cancelled) = (Vec::new(), 0u32);
    loop {
        tokio::select! {
            res = r.read_frame() => match res.unwrap() {
                Some(p) => got.push(p),
                None => break,
            },
            () = tokio::time::sleep(Duration::from_millis(2)) => cancelled += 1,
        }
    }
    writer.await.unwrap();
    assert_eq!(
        got, payloads,
        "no byte was lost or duplicated across cancellations"
    );
    assert!(
        cancelled as usize > payloads.len(),
        "the read was really cancelled mid-frame ({cancelled} times)"
    );
}
