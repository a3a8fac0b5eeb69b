//! `server_host = "auto"` (issue 16) against the real executables: server_key answers the
//! broadcast query on a test-chosen UDP port (loopback broadcast 127.255.255.255 reaches its
//! socket bound to 0.0.0.0), the client takes the host from the answer's source address and the
//! ports from the answer, then runs the key step and logs in. A rogue responder (another task
//! answering with another key and another port) is ignored with a message when the folder pins
//! the teacher's key, and listed when nothing is pinned. A `server_host` set by hand sends no
//! datagram. A server_key in a network namespace made by the test (veth pair, removed at the
//! end; skipped without root) is found through that network's broadcast address.

mod realsys;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::client::chat_client::LoginError;
use common::client::discover::{Discovered, DiscoveryError};
use common::client::folder::ClientFolder;
use common::client::key_client::KeyStepError;
use common::client::texts::{Ctx, discovered_lines};
use common::config::{ClientConfig, Language};
use common::crypto::PrivateKey;
use common::protocol::consts::{DISCOVERY_QUERY_LEN, MAX_DISCOVERY_ANSWER_LEN};
use common::protocol::discovery::Query;
use realsys::{Setup, System, free_port, within};
use server_key::discovery::{Announce, respond};
use tokio::net::TcpListener;

/// A UDP port nobody uses now (bound and released).
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A system whose server_key answers discovery on its own UDP port, announcing the chat port.
fn system() -> (System, u16) {
    let udp = free_udp_port();
    let chat_port = free_port();
    let sys = System::start(Setup {
        chat_port,
        key_config: format!(
            "discovery_port = {udp}\nchat_port = {chat_port}\nserver_name = \"teacher-pc\"\n"
        ),
        ..Setup::default()
    });
    (sys, udp)
}

/// A client folder with `server_host = "auto"` and deliberately wrong TCP ports (the answer's
/// ports must be used), pinning the teacher's key when `pin`.
fn auto_folder(sys: &System, user: &str, udp: u16, pin: bool) -> ClientFolder {
    let dir = sys.dir.path().join("clients").join(format!("{user}-{pin}"));
    std::fs::create_dir_all(&dir).unwrap();
    if pin {
        std::fs::copy(
            sys.key_dir.join("server_public.pem"),
            dir.join("server_public.pem"),
        )
        .expect("pin the teacher's key");
    }
    ClientFolder::new(
        ClientConfig {
            server_host: "auto".into(),
            key_port: 1,
            chat_port: 2,
            discovery_port: udp,
            username: user.into(),
            ..Default::default()
        },
        dir,
        "client_test",
    )
}

/// A rogue: answers every query on `udp` with another key and a TCP port of its own, and
/// records whether anybody connected to that port.
struct Rogue {
    fingerprint: String,
    tcp: TcpListener,
    task: tokio::task::JoinHandle<()>,
}

impl Rogue {
    async fn start(udp: u16) -> Self {
        // Another key than any server_key makes: the test-only fixture.
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../common/tests/fixtures/test_rsa_other_private.pem"
        );
        let key = PrivateKey::load(std::path::Path::new(fixture)).expect("rogue key");
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fingerprint = key.public_key().fingerprint();
        let socket = common::net::bind_udp_shared(SocketAddr::from((Ipv4Addr::UNSPECIFIED, udp)))
            .expect("rogue binds the discovery port too");
        let announce = Announce {
            key_port: tcp.local_addr().unwrap().port(),
            chat_port: tcp.local_addr().unwrap().port(),
            fingerprint: fingerprint.clone(),
            name: "teacher-pc".into(),
        };
        let task = tokio::spawn(respond(socket, announce, std::future::pending::<()>()));
        Self {
            fingerprint,
            tcp,
            task,
        }
    }

    /// Nobody connected to the rogue's port.
    async fn untouched(&self) {
        let accepted = tokio::time::timeout(Duration::from_millis(100), self.tcp.accept()).await;
        assert!(accepted.is_err(), "a client connected to the rogue");
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_finds_the_servers_for_the_key_step_and_the_login() {
    let (sys, udp) = system();
    let folder = auto_folder(&sys, "user1", udp, true);
    let out = sys
        .try_key_step(&folder)
        .await
        .expect("key step through auto");
    let d = out.discovered.clone().expect("discovery ran");
    assert!(d.server.ip.is_loopback(), "{d:?}");
    assert_eq!(
        (d.server.key_port, d.server.chat_port),
        (sys.key_port, sys.chat_port)
    );
    assert_eq!(d.server.name, "teacher-pc");
    assert_eq!(d.server.fingerprint, out.server_fingerprint);
    assert!(d.wrong_key.is_empty());
    assert!(!out.pinned_now);

    let (_tx, _rx, info) = within(
        "login through auto",
        common::client::chat_client::login(&folder, realsys::PW, realsys::T),
    )
    .await
    .expect("login through auto");
    assert_eq!(info.chat_addr, format!("127.0.0.1:{}", sys.chat_port));
    assert_eq!(info.discovered.map(|d| d.server), Some(d.server));

    // Trust on first use works through auto too: the found key gets pinned.
    let first = auto_folder(&sys, "user2", udp, false);
    let out = sys
        .try_key_step(&first)
        .await
        .expect("first key step through auto");
    assert!(out.pinned_now);
    assert!(first.server_key_path().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_responder_with_another_key_is_ignored_with_a_message() {
    let (mut sys, udp) = system();
    let rogue = Rogue::start(udp).await;

    // Pinned: the teacher's server is used, the rogue is reported and never contacted.
    let folder = auto_folder(&sys, "user1", udp, true);
    let out = sys
        .try_key_step(&folder)
        .await
        .expect("key step beside a rogue");
    let d: Discovered = out.discovered.expect("discovery ran");
    assert_eq!(d.server.key_port, sys.key_port);
    assert_eq!(d.wrong_key.len(), 1, "{d:?}");
    assert_eq!(d.wrong_key[0].fingerprint, rogue.fingerprint);
    let lines = discovered_lines(&d, Ctx::terminal(Language::Zh, "client_wy"));
    assert!(
        lines[1].contains("局域网里有一个服务器自称是老师的服务器，但公钥不对，已忽略")
            && lines[1].contains(&rogue.fingerprint),
        "{lines:?}"
    );
    let en = discovered_lines(&d, Ctx::terminal(Language::En, "client_wy"));
    assert!(
        en[1].contains("claims to be the teacher's server"),
        "{en:?}"
    );
    within(
        "login beside a rogue",
        common::client::chat_client::login(&folder, realsys::PW, realsys::T),
    )
    .await
    .expect("login beside a rogue");
    rogue.untouched().await;

    // Nothing pinned: two different keys answered, so the client lists both and asks.
    let unpinned = auto_folder(&sys, "user2", udp, false);
    match sys.try_key_step(&unpinned).await {
        Err(KeyStepError::Discovery(DiscoveryError::Several { servers })) => {
            let mut fps: Vec<&str> = servers.iter().map(|s| s.fingerprint.as_str()).collect();
            fps.sort_unstable();
            let mut want = vec![rogue.fingerprint.as_str(), out.server_fingerprint.as_str()];
            want.sort_unstable();
            assert_eq!(fps, want);
        }
        other => panic!("expected the list of servers, got {other:?}"),
    }
    assert!(!unpinned.server_key_path().exists(), "nothing pinned");

    // Only the rogue answers: refused with the message, nothing contacted.
    sys.key_proc().kill();
    match sys.try_key_step(&folder).await {
        Err(e @ KeyStepError::Discovery(DiscoveryError::NoAnswer { .. })) => {
            let zh = e.localized(Ctx::terminal(Language::Zh, "client_wy"));
            assert!(zh.contains(&format!("UDP 端口 {udp}")), "{zh}");
            assert!(
                zh.contains("自称是老师的服务器，但公钥不对，已忽略"),
                "{zh}"
            );
            let en = e.localized(Ctx::gui(Language::En));
            assert!(
                en.contains(&format!("UDP port {udp}")) && en.contains("firewall"),
                "{en}"
            );
        }
        other => panic!("expected no usable answer, got {other:?}"),
    }
    match within(
        "login with only a rogue",
        common::client::chat_client::login(&folder, realsys::PW, realsys::T),
    )
    .await
    {
        Err(LoginError::Discovery(DiscoveryError::NoAnswer { wrong_key, .. })) => {
            assert_eq!(wrong_key.len(), 1);
        }
        other => panic!("expected no usable answer, got {:?}", other.map(|x| x.2)),
    }
    rogue.untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_set_host_sends_no_datagram() {
    let sys = System::start(Setup::default());
    let udp = free_udp_port();
    let listener = common::net::bind_udp_shared(SocketAddr::from((Ipv4Addr::UNSPECIFIED, udp)))
        .expect("listen on the discovery port");
    let mut folder = sys.folder("user1");
    folder.config.discovery_port = udp;
    sys.try_key_step(&folder).await.expect("key step by hand");
    within(
        "login by hand",
        common::client::chat_client::login(&folder, realsys::PW, realsys::T),
    )
    .await
    .expect("login by hand");
    let mut buf = [0u8; MAX_DISCOVERY_ANSWER_LEN];
    assert!(
        listener.try_recv_from(&mut buf).is_err(),
        "a hand-set server_host sent a discovery datagram"
    );

    // The listener does hear the query once server_host is "auto" (so the silence above means
    // something).
    folder.config.server_host = "auto".into();
    let ask = tokio::spawn(async move { sys.try_key_step(&folder).await.map(|_| ()) });
    let (n, _) = within("a discovery query", listener.recv_from(&mut buf))
        .await
        .unwrap();
    assert_eq!(n, DISCOVERY_QUERY_LEN);
    assert!(Query::parse(&buf[..n]).is_ok());
    ask.abort();
}

/// A network namespace with a veth pair to this one, removed (with its veth) on drop.
struct Netns {
    name: String,
    /// This side's address and the namespace's, on their own /24.
    host_ip: String,
    ns_ip: String,
    child: Option<std::process::Child>,
}

impl Netns {
    fn ip(args: &[&str]) -> bool {
        std::process::Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `None` when this machine cannot make one (not root, no `ip`): the test says it skipped.
    fn create() -> Option<Self> {
        let id = std::process::id() % 250 + 1;
        let name = format!("mcdisc{id}");
        let (host_if, ns_if) = (format!("mcdh{id}"), format!("mcdn{id}"));
        let (host_ip, ns_ip) = (format!("10.199.{id}.1"), format!("10.199.{id}.2"));
        // Leftovers of a run with the same id (namespaces are cleaned up asynchronously).
        let _ = Self::ip(&["netns", "del", &name]);
        let _ = Self::ip(&["link", "del", &host_if]);
        if !Self::ip(&["netns", "add", &name]) {
            return None;
        }
        let ns = Self {
            name: name.clone(),
            host_ip: host_ip.clone(),
            ns_ip: ns_ip.clone(),
            child: None,
        };
        let ok = Self::ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]) && Self::ip(&["link", "set", &ns_if, "netns", &name])
            && Self::ip(&[
                "addr",
                "add",
                &format!("{host_ip}/24"),
                "broadcast",
                "+",
                "dev",
                &host_if,
            ])
            && Self::ip(&["link", "set", &host_if, "up"])
            && Self::ip(&[
                "-n",
                &name,
                "addr",
                "add",
                &format!("{ns_ip}/24"),
                "broadcast",
                "+",
                "dev",
                &ns_if,
            ])
            && Self::ip(&["-n", &name, "link", "set", &ns_if, "up"])
            && Self::ip(&["-n", &name, "link", "set", "lo", "up"]);
        ok.then_some(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting the namespace deletes its veth end, and with it the pair.
        let _ = Self::ip(&["netns", "del", &self.name]);
    }
}

/// The teacher's PC in another network namespace, reached over a veth pair: the query leaves by
/// that network's broadcast address (not the default route's 255.255.255.255), and the key step
/// goes to the address the answer came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_finds_a_server_on_another_network_interface() {
    let Some(mut ns) = Netns::create() else {
        println!("SKIPPED: cannot create a network namespace (needs root and iproute2)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (kp, udp) = (free_port(), free_udp_port());
    let toml = dir.path().join("server_key.toml");
    std::fs::write(
        &toml,
        format!(
            "key_dir = {:?}\ndiscovery_port = {udp}\nchat_port = 8090\nserver_name = \"teacher-ns\"\n",
            dir.path().join("keys").display().to_string()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("server_key.log")).unwrap();
    ns.child = Some(
        std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(realsys::server_key_exe())
            .arg("--config")
            .arg(&toml)
            .arg("--listen")
            .arg(format!("0.0.0.0:{kp}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start server_key in the namespace"),
    );
    let target = format!("{}:{kp}", ns.ns_ip);
    realsys::eventually("server_key listens in the namespace", || {
        std::net::TcpStream::connect(&target).is_ok()
    })
    .await;

    let client_dir = dir.path().join("client");
    std::fs::create_dir_all(&client_dir).unwrap();
    let folder = ClientFolder::new(
        ClientConfig {
            server_host: "auto".into(),
            discovery_port: udp,
            username: "user1".into(),
            ..Default::default()
        },
        client_dir,
        "client_test",
    );
    let out = within(
        "key step across the veth",
        common::client::key_client::run_key_step(
            &folder,
            common::client::key_client::KeyStepOptions {
                timeout: realsys::T,
                ..Default::default()
            },
        ),
    )
    .await
    .unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir.path().join("server_key.log")).unwrap_or_default();
        panic!("key step through auto across the veth: {e}\nserver_key:\n{log}")
    });
    let d = out.discovered.expect("discovery ran");
    assert_eq!(
        d.server.ip.to_string(),
        ns.ns_ip,
        "host side {}",
        ns.host_ip
    );
    assert_eq!(
        (d.server.key_port, d.server.name.as_str()),
        (kp, "teacher-ns")
    );
    assert!(out.pinned_now, "first contact pins the key found");
}
