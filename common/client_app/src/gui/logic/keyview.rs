//! The key-step view (密钥分发过程): the exchange as it happens, one block per message with its
//! direction and code, each field labelled with its value as on the wire and a line saying what
//! it proves. Secrets (k, the DES and MAC keys, the decrypted material) are shown only with the
//! teaching switch. Built from [`KeyStepEvent`]s; the window only displays [`KeyLog::render`].

use common::client::key_client::KeyStepError;
use common::client::key_events::{KeyStepEvent, OpenedSecrets, PinCheck};
use common::client::texts::Ctx;
use common::config::Language;
use common::protocol::keydist::KeyEnvelope;

/// How a line looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLine {
    /// A message: direction, code, name.
    Heading,
    /// `label: value`.
    Field,
    /// What the field proves.
    Note,
    /// A secret's value (or its placeholder).
    Secret,
    /// A check that passed.
    Good,
    /// A refusal and what it means.
    Bad,
}

/// The events so far and, if it failed, why.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    events: Vec<KeyStepEvent>,
    failure: Option<(String, Option<String>)>,
}

fn b64(data: &[u8]) -> String {
    common::protocol::message::b64(data)
}

fn pick(lang: Language, zh: &str, en: &str) -> String {
    match lang {
        Language::Zh => zh.to_owned(),
        Language::En => en.to_owned(),
    }
}

impl KeyLog {
    pub fn push(&mut self, e: KeyStepEvent) {
        self.events.push(e);
    }

    /// The key step failed: the student's text, and what the refusal means when it is one of
    /// the attacks the view is there to show.
    pub fn fail(&mut self, e: &KeyStepError, lang: Language) {
        let text = e.localized(Ctx::gui(lang));
        self.failure = Some((text, meaning(e, lang)));
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.failure.is_none()
    }

    /// Every line, in order; secrets as placeholders unless `show_secrets`.
    pub fn render(&self, show_secrets: bool, lang: Language) -> Vec<(KeyLine, String)> {
        let mut out = Vec::new();
        for e in &self.events {
            event_lines(e, show_secrets, lang, &mut out);
        }
        if let Some((text, meaning)) = &self.failure {
            out.push((
                KeyLine::Bad,
                pick(lang, "✘ 密钥分发失败：", "✘ Key step failed: ") + text,
            ));
            if let Some(m) = meaning {
                out.push((KeyLine::Bad, m.clone()));
            }
        }
        out
    }
}

/// What a refusal means, for the refusals an attacker causes.
fn meaning(e: &KeyStepError, lang: Language) -> Option<String> {
    let (zh, en) = match e {
        KeyStepError::ServerKeyMismatch { .. } => (
            "含义：服务器出示的公钥和本文件夹固定的 server_public.pem 不同。可能有人在中间冒充服务器（中间人攻击）。客户端没有发出请求，什么都没有保存。",
            "Meaning: the server showed a different public key from the pinned server_public.pem. Someone may be impersonating the server (man in the middle). Nothing was sent or stored.",
        ),
        KeyStepError::BadSignature { .. } => (
            "含义：签名不对——信封或这次交换的记录在路上被改动了，或者不是这个服务器签的。客户端没有打开信封，什么都没有保存。",
            "Meaning: the signature does not match: the envelope or this exchange was changed on the way, or another key signed it. The envelope was not opened; nothing was stored.",
        ),
        KeyStepError::BadEnvelope => (
            "含义：签名正确，但这个文件夹的私钥打不开信封（k 或会话材料不对）。什么都没有保存。",
            "Meaning: the signature is valid but this folder's private key cannot open the envelope (k or the material is wrong). Nothing was stored.",
        ),
        KeyStepError::Unconfirmed => (
            "含义：没有收到用新密钥认证的“完成”（可能被拦截或伪造）。",
            "Meaning: no \"done\" authenticated with the new key arrived (dropped or forged).",
        ),
        _ => return None,
    };
    Some(pick(lang, zh, en))
}

struct Out<'a> {
    lines: &'a mut Vec<(KeyLine, String)>,
    lang: Language,
    show_secrets: bool,
}

impl Out<'_> {
    fn line(&mut self, kind: KeyLine, zh: &str, en: &str) {
        self.lines.push((kind, pick(self.lang, zh, en)));
    }
    fn field(&mut self, zh: &str, en: &str, value: &str) {
        let label = pick(self.lang, zh, en);
        self.lines
            .push((KeyLine::Field, format!("    {label}: {value}")));
    }
    fn note(&mut self, zh: &str, en: &str) {
        let text = pick(self.lang, zh, en);
        self.lines.push((KeyLine::Note, format!("        {text}")));
    }
    fn secret(&mut self, zh: &str, en: &str, value: &str) {
        let label = pick(self.lang, zh, en);
        let value = if self.show_secrets {
            value.to_owned()
        } else {
            pick(
                self.lang,
                "••••（勾选“显示密钥（仅用于教学）”查看）",
                "•••• (tick \"Show keys (teaching only)\" to see it)",
            )
        };
        self.lines
            .push((KeyLine::Secret, format!("    {label}: {value}")));
    }
}

fn event_lines(
    e: &KeyStepEvent,
    show_secrets: bool,
    lang: Language,
    lines: &mut Vec<(KeyLine, String)>,
) {
    let mut o = Out {
        lines,
        lang,
        show_secrets,
    };
    match e {
        KeyStepEvent::ClientKeyCreated { path, fingerprint } => {
            o.line(
                KeyLine::Heading,
                "· 生成客户端密钥对（第一次运行）",
                "· Client key pair created (first run)",
            );
            o.field("私钥文件", "private key file", &path.display().to_string());
            o.field("公钥指纹", "public key fingerprint", fingerprint);
            o.note(
                "RSA-2048 密钥对；私钥只留在这个文件夹里。",
                "RSA-2048; the private key never leaves this folder.",
            );
        }
        KeyStepEvent::Hello {
            addr,
            server_fingerprint,
            server_nonce,
            pin,
        } => hello_lines(&mut o, addr, server_fingerprint, server_nonce, pin),
        KeyStepEvent::Request {
            username,
            client_fingerprint,
            client_nonce,
            signature,
        } => request_lines(
            &mut o,
            username,
            client_fingerprint,
            client_nonce,
            signature,
        ),
        KeyStepEvent::Envelope(env) => envelope_lines(&mut o, env),
        KeyStepEvent::SignatureValid { server_fingerprint } => {
            let text = pick(
                lang,
                "    ✔ 签名验证通过：服务器（指纹 {fp}）对用户名、双方公钥、两个随机数、密钥编号、有效期和整个信封签了名，路上没有被改动。",
                "    ✔ Signature valid: the server ({fp}) signed the username, both keys, both nonces, key id, expiry and the whole envelope; nothing was changed on the way.",
            )
            .replace("{fp}", server_fingerprint);
            o.lines.push((KeyLine::Good, text));
        }
        KeyStepEvent::Opened(s) => opened_lines(&mut o, s),
        KeyStepEvent::Clock(offset) => {
            if let Some(w) = offset.warning(lang) {
                o.lines.push((KeyLine::Bad, format!("    {w}")));
            }
        }
        KeyStepEvent::Confirmed { mac } => {
            o.line(
                KeyLine::Heading,
                "→ 0102 确认（客户端 → 服务器）",
                "→ 0102 confirmation (client → server)",
            );
            o.field(
                "confirm_mac = HMAC-SHA256(mk, 交换记录摘要)",
                "confirm_mac = HMAC-SHA256(mk, transcript digest)",
                &b64(mac),
            );
            o.note(
                "证明客户端真的打开了这个信封；服务器验证后才保存新密钥。",
                "Proves the client opened this very envelope; the server stores the key only after checking it.",
            );
        }
        KeyStepEvent::Done {
            key_path,
            pinned_now,
        } => done_lines(&mut o, key_path, pinned_now.as_deref()),
    }
}

fn request_lines(o: &mut Out<'_>, username: &str, client_fp: &str, nonce: &[u8], signature: &[u8]) {
    o.line(
        KeyLine::Heading,
        "→ 0101 密钥请求（客户端 → 服务器）",
        "→ 0101 key request (client → server)",
    );
    o.field("用户名", "username", username);
    o.field("客户端公钥指纹", "client key fingerprint", client_fp);
    o.field("客户端随机数 client_nonce", "client_nonce", &b64(nonce));
    o.field(
        "签名 sig_C（RSA-SHA256）",
        "signature sig_C (RSA-SHA256)",
        &b64(signature),
    );
    o.note(
            "用客户端私钥对用户名、双方公钥指纹和两个随机数签名：证明请求来自这个文件夹的密钥，且不是旧请求的重放。",
            "Signed with the client's private key over the username, both fingerprints and both nonces: the request comes from this folder's key and is not a replay.",
        );
}

/// The 1101 block.
fn envelope_lines(o: &mut Out<'_>, env: &KeyEnvelope) {
    let KeyEnvelope {
        key_id,
        expires_at,
        issued_at,
        envelope,
        signature,
        ..
    } = env;
    let iv = &envelope.iv;
    o.line(
        KeyLine::Heading,
        "← 1101 数字信封（服务器 → 客户端）",
        "← 1101 digital envelope (server → client)",
    );
    o.field("密钥编号 key_id", "key_id", key_id);
    let until = common::client::clock::local_time(expires_at);
    o.field(
        "有效期至 expires_at",
        "expires_at",
        &format!("{expires_at}（{until}）"),
    );
    o.field(
        "服务器时间 issued_at",
        "issued_at (server clock)",
        issued_at,
    );
    o.field(
        "IV",
        "IV",
        &format!("{} (hex {})", b64(iv), hex::encode(iv)),
    );
    o.field(
        "sealed = DES-CBC(k, IV, 会话材料)",
        "sealed = DES-CBC(k, IV, material)",
        &b64(&envelope.sealed),
    );
    o.note(
            "会话材料（用户名、密钥编号、有效期、DES 会话密钥、MAC 密钥）用一次性 DES 密钥 k 加密。",
            "The session material (username, key id, expiry, DES session key, MAC key) encrypted with a one-time DES key k.",
        );
    o.field(
        "wrapped = RSA-OAEP(客户端公钥, k)",
        "wrapped = RSA-OAEP(client public key, k)",
        &b64(&envelope.wrapped_key),
    );
    o.note(
        "k 用客户端的 RSA 公钥加密：只有这个文件夹的私钥能解开。",
        "k encrypted with the client's RSA public key: only this folder's private key opens it.",
    );
    o.field(
        "服务器签名 sig_S（RSA-SHA256）",
        "server signature sig_S (RSA-SHA256)",
        &b64(signature),
    );
}

fn done_lines(o: &mut Out<'_>, key_path: &std::path::Path, pinned_now: Option<&std::path::Path>) {
    o.line(
        KeyLine::Heading,
        "← 1102 完成（服务器 → 客户端）",
        "← 1102 done (server → client)",
    );
    let saved = pick(
        o.lang,
        "    ✔ 服务器已保存新密钥（“完成”用新的 MAC 密钥认证过）；已保存 ",
        "    ✔ The server stored the new key (its \"done\" is authenticated with the new MAC key); saved ",
    ) + &key_path.display().to_string();
    o.lines.push((KeyLine::Good, saved));
    if let Some(pin) = pinned_now {
        let text = pick(
            o.lang,
            "    ✔ 已固定服务器公钥（首次信任）：",
            "    ✔ Server key pinned (trust on first use): ",
        ) + &pin.display().to_string();
        o.lines.push((KeyLine::Good, text));
    }
}

fn hello_lines(o: &mut Out<'_>, addr: &str, fp: &str, nonce: &[u8], pin: &PinCheck) {
    o.line(
        KeyLine::Heading,
        "← 1100 服务器问候（服务器 → 客户端）",
        "← 1100 server hello (server → client)",
    );
    o.field("服务器", "server", addr);
    o.field("服务器公钥指纹", "server key fingerprint", fp);
    match pin {
        PinCheck::Matches { path } => {
            let text = pick(
                o.lang,
                "    ✔ 与本文件夹固定的服务器公钥一致：",
                "    ✔ Matches the pinned server key: ",
            ) + &path.display().to_string();
            o.lines.push((KeyLine::Good, text));
        }
        PinCheck::Differs { path, pinned } => {
            let text = pick(
                o.lang,
                "    ✘ 与本文件夹固定的服务器公钥不同！固定的是 ",
                "    ✘ NOT the pinned server key! Pinned: ",
            ) + &format!("{pinned} ({})", path.display());
            o.lines.push((KeyLine::Bad, text));
        }
        PinCheck::FirstUse => o.note(
            "本文件夹还没有 server_public.pem：这是第一次连接，成功后会固定这个公钥（首次信任）。",
            "This folder has no server_public.pem yet: first contact; the key is pinned if the step succeeds (trust on first use).",
        ),
    }
    o.field("服务器随机数 server_nonce", "server_nonce", &b64(nonce));
    o.note(
        "服务器的随机数会进入客户端的签名：录下来的旧请求不能重放。",
        "The server's nonce goes into the client's signature: a recorded request cannot be replayed.",
    );
}

fn opened_lines(o: &mut Out<'_>, s: &OpenedSecrets) {
    o.line(
        KeyLine::Heading,
        "· 打开信封（在客户端，签名验证之后）",
        "· Opening the envelope (on the client, after the signature check)",
    );
    o.secret(
        "一次性密钥 k（用客户端私钥 RSA-OAEP 解密 wrapped 得到）",
        "one-time key k (wrapped, RSA-OAEP-decrypted with the client's private key)",
        &s.one_time_key,
    );
    o.secret(
        "会话材料（用 k 和 IV 对 sealed 做 DES-CBC 解密得到）",
        "session material (sealed, DES-CBC-decrypted with k and the IV)",
        &s.material,
    );
    o.field("密钥编号", "key id", &s.key_id);
    o.field(
        "有效期至",
        "valid until",
        &common::client::clock::local_time(&s.expires_at),
    );
    o.secret("DES 会话密钥 wk", "DES session key wk", &s.des_key);
    o.secret(
        "MAC 密钥 mk（HMAC-SHA256）",
        "MAC key mk (HMAC-SHA256)",
        &s.mac_key,
    );
    o.note(
        "材料里的用户名、密钥编号和有效期与信封外面的一致：信封是给这个用户的这一次分发。",
        "The username, key id and expiry inside match the ones outside: this envelope is for this user and this distribution.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn opened() -> KeyStepEvent {
        KeyStepEvent::Opened(OpenedSecrets {
            one_time_key: Zeroizing::new("0123456789abcdef".into()),
            material: Zeroizing::new("dXNlcjE=|0f1e|2026|1334|0001".into()),
            des_key: Zeroizing::new("133457799bbcdff1".into()),
            mac_key: Zeroizing::new("00".repeat(32)),
            key_id: "0f1e2d3c4b5a6978".into(),
            expires_at: "2026-11-28T04:00:00Z".into(),
        })
    }

    #[test]
    fn secrets_only_with_the_teaching_switch() {
        let mut log = KeyLog::default();
        log.push(opened());
        let hidden: String = log
            .render(false, Language::Zh)
            .into_iter()
            .map(|(_, t)| t + "\n")
            .collect();
        assert!(!hidden.contains("0123456789abcdef"), "{hidden}");
        assert!(!hidden.contains("133457799bbcdff1"), "{hidden}");
        assert!(hidden.contains("显示密钥（仅用于教学）"), "{hidden}");
        let shown: String = log
            .render(true, Language::Zh)
            .into_iter()
            .map(|(_, t)| t + "\n")
            .collect();
        assert!(shown.contains("一次性密钥 k"), "{shown}");
        assert!(shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("133457799bbcdff1"), "{shown}");
        assert!(shown.contains(&"00".repeat(32)), "{shown}");
    }

    #[test]
    fn every_message_has_a_heading_with_direction_and_code() {
        let mut log = KeyLog::default();
        log.push(KeyStepEvent::Hello {
            addr: "127.0.0.1:8091".into(),
            server_fingerprint: "SHA256:abc".into(),
            server_nonce: [1; 16],
            pin: PinCheck::FirstUse,
        });
        log.push(KeyStepEvent::Confirmed { mac: [2; 32] });
        let lines = log.render(false, Language::En);
        let headings: Vec<_> = lines
            .iter()
            .filter(|(k, _)| *k == KeyLine::Heading)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(
            headings,
            [
                "← 1100 server hello (server → client)",
                "→ 0102 confirmation (client → server)"
            ]
        );
        assert!(lines.iter().any(|(_, t)| t.contains("trust on first use")));
    }

    #[test]
    fn an_attack_is_shown_in_red_with_its_meaning() {
        let mut log = KeyLog::default();
        log.fail(
            &KeyStepError::BadSignature {
                server: "SHA256:x".into(),
            },
            Language::Zh,
        );
        let lines = log.render(false, Language::Zh);
        assert!(lines.iter().all(|(k, _)| *k == KeyLine::Bad), "{lines:?}");
        assert!(lines[0].1.starts_with("✘ 密钥分发失败"), "{lines:?}");
        assert!(lines[1].1.contains("路上被改动"), "{lines:?}");
    }
}
