//! Swapped `key_port` / `chat_port` against the real servers (issue 12): the first message each
//! server sends unasked tells them apart, so the student reads which port points at which server
//! and the fix, with the file and the line, instead of "unexpected message 1000 (expected 1100)".

mod realsys;

use common::client::chat_client::LoginError;
use common::client::folder::{ClientFolder, PortKey};
use common::client::key_client::KeyStepError;
use common::client::texts::Ctx;
use common::config::Language;
use realsys::{Setup, System};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_ports_name_the_port_the_server_and_the_fix() {
    let sys = System::start(Setup::default());
    let dir = sys.dir.path().join("clients").join("swapped");
    // A working folder first (its session key lets the login reach the hello).
    let good = sys.folder_in("user1", dir.clone());
    sys.try_key_step(&good).await.expect("key step");
    let toml = dir.join("client.toml");
    std::fs::write(
        &toml,
        format!(
            "server_host = \"127.0.0.1\"\nusername = \"user1\"\nchat_port = {}\nkey_port = {}\n",
            sys.key_port, sys.chat_port
        ),
    )
    .unwrap();
    let folder = ClientFolder::find(Some(&toml), None, "client_wy").expect("load client.toml");
    let (kp, cp) = (sys.key_port, sys.chat_port);

    let err = sys
        .try_key_step(&folder)
        .await
        .expect_err("key step on the chat port");
    match &err {
        KeyStepError::WrongServer(w) => {
            assert_eq!(
                (w.key, w.port, w.should_be, w.line),
                (PortKey::KeyPort, cp, kp, Some(4))
            );
        }
        other => panic!("{other:?}"),
    }
    let path = toml.display();
    assert_eq!(
        err.localized(Ctx::terminal(Language::Zh, "client_wy")),
        format!(
            "{path} 第 4 行：key_port 指向了聊天服务器（{cp}），应为 {kp}。key_port 和 chat_port 写反了，请改成 key_port = {kp}、chat_port = {cp}。"
        )
    );
    assert_eq!(
        err.localized(Ctx::gui(Language::En)),
        format!(
            "{path}, line 4: key_port points at the chat server ({cp}); it should be {kp}. key_port and chat_port are swapped: write key_port = {kp} and chat_port = {cp}."
        )
    );

    match sys.try_login(&folder).await {
        Err(err @ LoginError::WrongServer(_)) => {
            let LoginError::WrongServer(w) = &err else {
                unreachable!()
            };
            assert_eq!(
                (w.key, w.port, w.should_be, w.line),
                (PortKey::ChatPort, kp, cp, Some(3))
            );
            assert!(!err.needs_key_step(), "a new key would not help");
            assert_eq!(
                err.localized(Ctx::terminal(Language::Zh, "client_wy")),
                format!(
                    "{path} 第 3 行：chat_port 指向了密钥服务器（{kp}），应为 {cp}。key_port 和 chat_port 写反了，请改成 chat_port = {cp}、key_port = {kp}。"
                )
            );
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("logged in through the key server's port"),
    }
}
