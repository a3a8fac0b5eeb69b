//! File transfer through the real client program's terminal mode (issue 16) against real
//! servers: `/send PATH USER` on one side, the offer line and `/accept ID` on the other; the
//! sender's input ends right after `/send`, and it still waits for the transfer before it exits;
//! the file arrives bit for bit in the recipient's `downloads/`.

mod realsys;

use std::time::Duration;

use realsys::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_and_accepted_in_the_terminal_arrives_whole() {
    let sys = System::start(Setup::default());
    sys.key_steps(&["user1", "user2"]).await;
    let mut receiver = Cli::start(&sys, "user2", sys.chat_port, "en");
    receiver.line_with("logged in as").await;
    let mut sender = Cli::start(&sys, "user1", sys.chat_port, "en");
    sender.line_with("logged in as").await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let src = sys.folder("user1").dir.join("report 2026.bin");
    std::fs::write(&src, &data).unwrap();
    sender.type_line(&format!("/send {} user2", src.display()));
    let offer = receiver.line_with("/accept ").await;
    assert!(offer.contains("\"report 2026.bin\""), "{offer}");
    let id = offer
        .split("/accept ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("an id")
        .to_owned();
    // The sender's input ends now: it must still finish the transfer before exiting.
    drop(sender.child_stdin());
    receiver.type_line(&format!("/accept {id}"));
    let saved = receiver.line_with("saved as").await;
    let (status, lines) = sender.exited_within(Duration::from_secs(60)).await;
    assert!(status.success(), "{}", lines.join("\n"));
    assert!(
        lines.iter().any(|l| l.contains("received by user2")),
        "{}",
        lines.join("\n")
    );
    let got = sys
        .folder("user2")
        .dir
        .join("downloads")
        .join("report 2026.bin");
    assert!(saved.contains("report 2026.bin"), "{saved}");
    assert_eq!(std::fs::read(&got).unwrap(), data);
    let (status, _) = receiver.quit().await;
    assert!(status.success());
}
