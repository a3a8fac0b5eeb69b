//! The chat window's logic, without a display: what each event shows, the online list and the
//! private-message target, input history, the unread counter, login failures, the phases.

use client_app::gui::logic::chat::{ChatState, Compose, Update, status_text};
use client_app::gui::logic::input_history::{InputHistory, recall_applies};
use client_app::gui::logic::inspector::{self, Hit, inspect, inspect_at};
use client_app::gui::logic::labels::{EN, ZH, chat_title, labels, title_with_unread};
use client_app::gui::logic::login::{
    LoginDialog, LoginFailure, key_step_failed_text, login_dialog, login_failure,
    session_end_dialog, validate_login,
};
use client_app::gui::logic::phase::Phase;
use client_app::gui::logic::render::{
    Entry, EntryKind, Tone, WireDir, one_line, render, style, wrap_text,
};
use common::client::chat_client::{CloseReason, LoginError};
use common::config::Language;
use common::protocol::Reason;
use common::protocol::chat::{
    ChatLine, ClientRequest, ErrorMsg, Notice, NoticeKind, OnlineUser, ServerEvent,
};
use common::protocol::history::{HistoryPage, HistorySource};

const NOW: u64 = 1_700_000_000_000;

fn user(username: &str, nickname: &str) -> OnlineUser {
    OnlineUser {
        username: username.into(),
        nickname: nickname.into(),
    }
}

/// A server event and its frame, as the network worker passes it on (`UiMsg::Event`).
type Event = (ServerEvent, String);

/// Feed a server event to the chat model, as the controller does.
fn feed(s: &mut ChatState, (event, wire): Event) -> Update {
    s.on_server_event(event, wire, NOW)
}

fn chat(from: &str, nick: &str, to: Option<&str>, text: &str) -> Event {
    (
        ServerEvent::Chat(ChatLine {
            msg_id: 1,
            time_ms: NOW,
            from_user: from.into(),
            from_nick: nick.into(),
            to: to.map(Into::into),
            text: text.into(),
        }),
        format!("1002|wire-of-{text}"),
    )
}

fn notice(kind: NoticeKind, user: &str, nick: &str) -> Event {
    (
        ServerEvent::Notice(Notice {
            kind,
            user: user.into(),
            nick: nick.into(),
            text: String::new(),
        }),
        "1004|notice".into(),
    )
}

fn user_list(users: &[OnlineUser]) -> Event {
    (ServerEvent::UserList(users.to_vec()), "1003|list".into())
}

/// wang_yuan (user1) logged in, with ding_zhen (user2) and cxk (user3) online.
fn state(lang: Language) -> ChatState {
    let mut s = ChatState::new(lang, "client_wy", "user1", "wang_yuan");
    s.on_logged_in("wang_yuan", "0123456789abcdef", false, NOW);
    feed(
        &mut s,
        user_list(&[
            user("user2", "ding_zhen"),
            user("user1", "wang_yuan"),
            user("user3", "cxk"),
        ]),
    );
    s
}

// ------------------------------------------------------------------------------------------ labels

#[test]
fn chinese_by_default_english_on_request() {
    assert_eq!(
        chat_title(Language::Zh, "wang_yuan"),
        "欢迎 wang_yuan 进入聊天室!"
    );
    assert_eq!(
        chat_title(Language::En, "wang_yuan"),
        "Welcome wang_yuan to the chat room!"
    );
    assert_eq!(labels(Language::Zh).login, "登录");
    assert_eq!(labels(Language::Zh).reset, "重置");
    assert_eq!(labels(Language::Zh).send, "发送");
    assert_eq!(labels(Language::Zh).everyone, "所有人");
    assert_eq!(labels(Language::En).everyone, "Everyone");
    assert_eq!(labels(Language::Zh).show_wire, "显示密文");
    assert_eq!(labels(Language::Zh).reconnect, "重新连接");
    assert_eq!(Language::default(), Language::Zh);
}

/// `(field, text)` of every label, read from the `Debug` form (so a new field is covered).
fn label_texts(labels: &impl std::fmt::Debug) -> Vec<(String, String)> {
    let debug = format!("{labels:#?}");
    debug
        .lines()
        .filter_map(|l| {
            let (field, text) = l.trim().split_once(": \"")?;
            Some((
                field.to_owned(),
                text.trim_end_matches(',').trim_end_matches('"').to_owned(),
            ))
        })
        .collect()
}

/// Chinese characters and full-width punctuation.
fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}')
}

#[test]
fn every_label_is_translated() {
    let (zh, en) = (label_texts(&ZH), label_texts(&EN));
    assert!(zh.len() > 40, "{zh:?}");
    assert_eq!(
        zh.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        en.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    for ((field, zh), (_, en)) in zh.iter().zip(&en) {
        assert!(
            zh.chars().any(is_chinese),
            "Chinese label {field} has no Chinese: {zh:?}"
        );
        assert!(
            en.chars().any(|c| c.is_ascii_alphabetic()) && !en.chars().any(is_chinese),
            "English label {field} is not English: {en:?}"
        );
    }
}

#[test]
fn unread_count_goes_in_front_of_the_title() {
    assert_eq!(
        title_with_unread("欢迎 a 进入聊天室!", 0),
        "欢迎 a 进入聊天室!"
    );
    assert_eq!(
        title_with_unread("欢迎 a 进入聊天室!", 3),
        "(3) 欢迎 a 进入聊天室!"
    );
}

#[test]
fn nicknames_with_control_characters_stay_on_one_line() {
    assert_eq!(one_line("a\nb\tc\u{0}d"), "a b c\\u{0}d");
    assert_eq!(
        chat_title(Language::En, "x\u{1b}[31m"),
        "Welcome x\\u{1b}[31m to the chat room!"
    );
}

#[test]
fn long_dialog_lines_are_wrapped_at_spaces() {
    let text = "cannot reach the chat server at 127.0.0.1:8090: Connection refused. Is `server` running there, and is TCP port 8090 open?";
    let wrapped = wrap_text(text, 40);
    assert!(
        wrapped.lines().all(|l| l.chars().count() <= 40),
        "{wrapped}"
    );
    assert_eq!(wrapped.replace('\n', " "), text);
    // CJK counts double; a long word is never split.
    assert_eq!(wrap_text("一二三 四五六", 8), "一二三\n四五六");
    assert_eq!(wrap_text("aaaaaaaaaaaa b", 4), "aaaaaaaaaaaa\nb");
    assert_eq!(wrap_text("a\nb", 10), "a\nb");
    // Chinese without spaces still wraps.
    assert_eq!(wrap_text("一二三四五六", 8), "一二三四\n五六");
}

// ------------------------------------------------------------------------------------------ login

#[test]
fn login_form_is_checked_before_anything_is_sent() {
    assert!(validate_login("user1", "111111", Language::Zh).is_ok());
    assert_eq!(
        validate_login("user1", "", Language::Zh).unwrap_err(),
        "请输入密码"
    );
    assert_eq!(
        validate_login("user1", "", Language::En).unwrap_err(),
        "Please enter the password"
    );
    assert!(validate_login("", "x", Language::En).is_err());
    assert!(validate_login("a|b", "x", Language::En).is_err());
    assert!(validate_login("user1", &"x".repeat(1000), Language::En).is_err());
}

#[test]
fn missing_or_expired_key_offers_the_key_step() {
    let e = LoginError::NoSessionKey {
        user: "user1".into(),
        path: "/x/session_key.txt".into(),
        program: "client_wy".into(),
    };
    let f = login_failure(&e, Language::Zh);
    assert_eq!(f.key_step_for, Some(Reason::NoSessionKey));
    assert!(f.message.contains("获取密钥并登录"), "{}", f.message);
    match login_dialog(&f, None, Language::Zh) {
        LoginDialog::OfferKeyStep { text, cancel, run } => {
            assert!(text.starts_with("登录失败"), "{text}");
            assert!(text.contains("session_key.txt"), "{text}");
            assert!(text.contains("密钥分发"), "{text}");
            assert_eq!((cancel, run), ("取消", "获取密钥并登录"));
        }
        other => panic!("expected the key step offer, got {other:?}"),
    }
    let e = LoginError::KeyExpired {
        user: "user1".into(),
        expires_at: "2020-01-01T00:00:00Z".into(),
        program: "client_wy".into(),
    };
    assert!(matches!(
        login_dialog(&login_failure(&e, Language::En), None, Language::En),
        LoginDialog::OfferKeyStep { .. }
    ));
    let e = LoginError::Refused {
        reason: Reason::KeyMismatch,
        message: "stale key".into(),
        hint: String::new(),
    };
    assert!(matches!(
        login_dialog(&login_failure(&e, Language::En), None, Language::En),
        LoginDialog::OfferKeyStep { .. }
    ));
}

/// The key step is not offered twice in a row for the same problem: a new key that the chat
/// server refuses again for the same reason would loop forever (a clock or a configuration
/// problem on the servers' side); the alert says what to tell the teacher instead.
#[test]
fn the_key_step_is_not_offered_again_for_the_same_problem() {
    let expired = LoginError::Refused {
        reason: Reason::KeyExpired,
        message: "expired".into(),
        hint: String::new(),
    };
    let f = login_failure(&expired, Language::Zh);
    assert_eq!(f.key_step_for, Some(Reason::KeyExpired));
    // First time: offered.
    assert!(matches!(
        login_dialog(&f, None, Language::Zh),
        LoginDialog::OfferKeyStep { .. }
    ));
    // Just ran for another problem: offered.
    assert!(matches!(
        login_dialog(&f, Some(&Reason::NoSessionKey), Language::Zh),
        LoginDialog::OfferKeyStep { .. }
    ));
    // Just ran for this very problem: an alert naming the clocks, no offer.
    match login_dialog(&f, Some(&Reason::KeyExpired), Language::Zh) {
        LoginDialog::Alert(text) => {
            assert!(text.contains("时钟") && text.contains("老师"), "{text}");
        }
        other => panic!("expected an alert, got {other:?}"),
    }
    let mismatch = LoginError::Refused {
        reason: Reason::KeyMismatch,
        message: String::new(),
        hint: String::new(),
    };
    match login_dialog(
        &login_failure(&mismatch, Language::En),
        Some(&Reason::KeyMismatch),
        Language::En,
    ) {
        LoginDialog::Alert(text) => assert!(text.contains("session_key_dir"), "{text}"),
        other => panic!("expected an alert, got {other:?}"),
    }
}

#[test]
fn other_login_failures_explain_what_to_do() {
    let e = LoginError::Refused {
        reason: Reason::BadLogin,
        message: "wrong username or password".into(),
        hint: " - check the username and password".into(),
    };
    match login_dialog(&login_failure(&e, Language::En), None, Language::En) {
        LoginDialog::Alert(text) => {
            assert!(text.starts_with("Login failed:\n"), "{text}");
            assert!(text.contains("Wrong username or password"), "{text}");
            // The server's words are not shown for a known reason.
            assert!(!text.contains("wrong username or password"), "{text}");
        }
        other => panic!("expected an alert, got {other:?}"),
    }
    let e = LoginError::Unreachable {
        addr: "127.0.0.1:8090".into(),
        port: 8090,
        source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
    };
    let LoginDialog::Alert(text) =
        login_dialog(&login_failure(&e, Language::Zh), None, Language::Zh)
    else {
        panic!("alert expected")
    };
    assert!(text.contains("防火墙") && text.contains("8090"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    let f = LoginFailure {
        message: "x".into(),
        key_step_for: None,
        retry_later: false,
    };
    assert_eq!(
        login_dialog(&f, None, Language::En),
        LoginDialog::Alert("Login failed:\nx".into())
    );
    assert!(key_step_failed_text("server down", Language::Zh).starts_with("密钥分发失败"));
}

// ------------------------------------------------------------------------------------------ rendering

/// Red is for errors: joins and leaves are grey; one's own messages (blue) and private ones
/// (purple, either way) stand out from the others' (green).
#[test]
fn own_and_private_messages_and_joins_have_their_own_colours() {
    let mut s = state(Language::Zh);
    let header_style = |up: &Update| {
        let e = &up.new_entries[0];
        let r = render(e, false, Language::Zh);
        (e.kind, r.style.chars().next().unwrap())
    };
    let own = feed(&mut s, chat("user1", "wang_yuan", None, "mine"));
    assert_eq!(
        header_style(&own),
        (EntryKind::Chat(Tone::Own), style::OWN_HEADER)
    );
    let private_in = feed(&mut s, chat("user2", "ding_zhen", Some("user1"), "psst"));
    assert_eq!(
        header_style(&private_in),
        (EntryKind::Chat(Tone::Private), style::PRIVATE_HEADER)
    );
    let private_out = feed(&mut s, chat("user1", "wang_yuan", Some("user2"), "re"));
    assert_eq!(header_style(&private_out).1, style::PRIVATE_HEADER);
    let others = feed(&mut s, chat("user2", "ding_zhen", None, "all"));
    assert_eq!(header_style(&others).1, style::HEADER);
    for kind in [NoticeKind::Join, NoticeKind::Leave] {
        let up = feed(&mut s, notice(kind, "user3", "cxk"));
        let r = render(&up.new_entries[0], false, Language::Zh);
        assert!(r.style.chars().all(|c| c == style::NOTICE), "{kind:?}");
    }
}

#[test]
fn chat_lines_render_a_green_header_and_the_text_beneath() {
    let mut s = state(Language::Zh);
    let up = feed(&mut s, chat("user2", "ding_zhen", None, "你好，数字信封 ✉"));
    assert_eq!(up.new_entries.len(), 1);
    assert_eq!(up.incoming_chat, 1);
    let e = &up.new_entries[0];
    assert_eq!(e.kind, EntryKind::Chat(Tone::Others));
    assert!(e.header.starts_with("ding_zhen  "), "{}", e.header);
    let r = render(e, false, Language::Zh);
    let (header, body) = r.text.split_once('\n').unwrap();
    assert_eq!(body, "你好，数字信封 ✉\n");
    // One style letter per byte: green for the header line, text style for the body.
    assert_eq!(r.style.len(), r.text.len());
    assert!(r.style[..=header.len()].chars().all(|c| c == style::HEADER));
    assert!(
        r.style[header.len() + 1..]
            .chars()
            .all(|c| c == style::TEXT)
    );
}

#[test]
fn system_messages_are_red_and_local_information_blue() {
    let mut s = state(Language::Zh);
    let up = feed(&mut s, notice(NoticeKind::Join, "user4", "李雷"));
    let r = render(&up.new_entries[0], false, Language::Zh);
    assert!(r.text.ends_with("李雷 进入了聊天室\n"), "{}", r.text);
    // A join is not an error: grey, not red.
    assert!(r.style.chars().all(|c| c == style::NOTICE));
    let up = feed(&mut s, notice(NoticeKind::Warn, "", ""));
    let r = render(&up.new_entries[0], false, Language::Zh);
    assert!(r.style.chars().all(|c| c == style::SYSTEM));
    let r = render(&Entry::info("hello", NOW), false, Language::Zh);
    assert!(r.style.chars().all(|c| c == style::INFO));
    let up = s.on_rejected("bad MAC", "1002|x".into(), NOW);
    assert_eq!(up.new_entries[0].kind, EntryKind::System);
    // The local sentence, not the check's English detail.
    assert!(up.new_entries[0].body.contains("丢弃"));
    assert!(!up.new_entries[0].body.contains("bad MAC"));
}

#[test]
fn control_characters_neither_truncate_nor_corrupt_a_message() {
    let mut s = state(Language::En);
    let up = feed(
        &mut s,
        chat("user2", "ding_zhen", None, "before\u{0}after\u{1b}[2J\r!"),
    );
    let r = render(&up.new_entries[0], false, Language::En);
    assert!(
        r.text.contains("before\\u{0}after\\u{1b}[2J\\u{d}!"),
        "{}",
        r.text
    );
    assert!(!r.text.contains('\0'));
    assert_eq!(r.style.len(), r.text.len());
    // What is sent is the text as typed.
    assert_eq!(
        s.compose("a\u{0}b", Phase::Online, NOW),
        Compose::Send(ClientRequest::Chat {
            to: None,
            text: "a\u{0}b".into()
        })
    );
}

#[test]
fn multi_line_messages_keep_their_lines() {
    let mut s = state(Language::En);
    let up = feed(&mut s, chat("user2", "ding_zhen", None, "line 1\nline 2"));
    let r = render(&up.new_entries[0], false, Language::En);
    assert!(r.text.ends_with("\nline 1\nline 2\n"), "{}", r.text);
}

// ------------------------------------------------------------------------------------------ ciphertext view

#[test]
fn ciphertext_view_shows_the_frames_that_crossed_the_wire() {
    let mut s = state(Language::Zh);
    // Our own message: the sealed request goes out, the server's copy comes back.
    s.on_sent(
        ClientRequest::Chat {
            to: None,
            text: "hi".into(),
        },
        "0002|1|iv|ct|mac".into(),
    );
    let up = feed(&mut s, chat("user1", "wang_yuan", None, "hi"));
    assert_eq!(up.incoming_chat, 0, "our own echo is not unread");
    let e = &up.new_entries[0];
    assert_eq!(
        e.wires,
        vec![
            (WireDir::Sent, "0002|1|iv|ct|mac".into()),
            (WireDir::Received, "1002|wire-of-hi".into())
        ]
    );
    let hidden = render(e, false, Language::Zh);
    assert!(!hidden.text.contains("0002|"));
    let shown = render(e, true, Language::Zh);
    assert!(
        shown.text.contains("↑ 发出的密文帧: 0002|1|iv|ct|mac\n"),
        "{}",
        shown.text
    );
    assert!(
        shown.text.contains("↓ 收到的密文帧: 1002|wire-of-hi\n"),
        "{}",
        shown.text
    );
    assert_eq!(shown.style.len(), shown.text.len());
    assert!(shown.style.ends_with(&style::WIRE.to_string()));
    // Toggling renders everything again with or without the frames.
    assert!(s.render_all(true).text.contains("0002|1|iv|ct|mac"));
    assert!(!s.render_all(false).text.contains("0002|1|iv|ct|mac"));
}

#[test]
fn sent_frames_are_matched_to_their_echo_by_content() {
    let mut s = state(Language::En);
    for (to, text, wire) in [(None, "a", "0002|A"), (Some("user2"), "b", "0002|B")] {
        s.on_sent(
            ClientRequest::Chat {
                to: to.map(Into::into),
                text: text.into(),
            },
            wire.into(),
        );
    }
    let up = feed(&mut s, chat("user1", "wang_yuan", Some("user2"), "b"));
    assert_eq!(up.new_entries[0].wires[0], (WireDir::Sent, "0002|B".into()));
    let up = feed(&mut s, chat("user1", "wang_yuan", None, "a"));
    assert_eq!(up.new_entries[0].wires[0], (WireDir::Sent, "0002|A".into()));
}

// ------------------------------------------------------------------------------------------ users and target

#[test]
fn online_list_starts_with_everyone_then_me() {
    let s = state(Language::Zh);
    assert_eq!(
        s.user_rows(),
        vec![
            "所有人",
            "wang_yuan (user1)（我）",
            "ding_zhen (user2)",
            "cxk (user3)"
        ]
    );
    assert_eq!(s.selected_row(), 1);
    assert_eq!(s.target_label(), "发送给: 所有人");
    let s = state(Language::En);
    assert_eq!(s.user_rows()[0], "Everyone");
    assert_eq!(s.user_rows()[1], "wang_yuan (user1) (me)");
}

#[test]
fn selecting_a_user_makes_the_next_message_private() {
    let mut s = state(Language::Zh);
    assert!(s.select_row(3));
    assert_eq!(s.target(), Some("user2"));
    assert_eq!(s.selected_row(), 3);
    assert_eq!(s.target_label(), "私聊给: ding_zhen (user2)");
    assert_eq!(
        s.compose("悄悄话", Phase::Online, NOW),
        Compose::Send(ClientRequest::Chat {
            to: Some("user2".into()),
            text: "悄悄话".into()
        })
    );
    // `/w` overrides the selection; Everyone and myself mean everyone.
    assert_eq!(
        s.compose("/w user3 hi", Phase::Online, NOW),
        Compose::Send(ClientRequest::Chat {
            to: Some("user3".into()),
            text: "hi".into()
        })
    );
    assert!(s.select_row(1));
    assert_eq!(s.target(), None);
    s.select_row(2);
    assert_eq!(s.target(), None, "selecting yourself sends to everyone");
    assert_eq!(s.selected_row(), 1);
    assert!(!s.select_row(0));
    assert!(!s.select_row(99));
}

#[test]
fn private_messages_are_marked() {
    let mut s = state(Language::Zh);
    let up = feed(&mut s, chat("user2", "ding_zhen", Some("user1"), "x"));
    assert!(
        up.new_entries[0]
            .header
            .starts_with("ding_zhen → wang_yuan  [私聊]  "),
        "{}",
        up.new_entries[0].header
    );
    let up = feed(&mut s, chat("user1", "wang_yuan", Some("user3"), "y"));
    assert!(
        up.new_entries[0]
            .header
            .starts_with("wang_yuan → cxk  [私聊]"),
        "{}",
        up.new_entries[0].header
    );
}

#[test]
fn joins_and_leaves_update_the_list_and_reset_a_departed_target() {
    let mut s = state(Language::En);
    let up = feed(&mut s, notice(NoticeKind::Join, "user4", "li_lei"));
    assert!(up.users_changed);
    assert!(s.users().iter().any(|u| u.username == "user4"));
    // A second join of the same user does not duplicate it.
    feed(&mut s, notice(NoticeKind::Join, "user4", "li_lei"));
    assert_eq!(
        s.users().iter().filter(|u| u.username == "user4").count(),
        1
    );

    s.select_row(3); // ding_zhen
    assert_eq!(s.target(), Some("user2"));
    let up = feed(&mut s, notice(NoticeKind::Leave, "user2", "ding_zhen"));
    assert!(up.users_changed && up.target_changed);
    assert_eq!(s.target(), None);
    assert!(!s.users().iter().any(|u| u.username == "user2"));
    assert!(
        up.new_entries
            .iter()
            .any(|e| e.body.contains("ding_zhen left") && e.kind == EntryKind::Notice)
    );
    assert!(
        up.new_entries
            .iter()
            .any(|e| e.body.contains("now go to everyone"))
    );
}

// ------------------------------------------------------------------------------------------ input

#[test]
fn compose_handles_commands_empty_input_and_limits() {
    let mut s = state(Language::En);
    assert_eq!(s.compose("", Phase::Online, NOW), Compose::Nothing);
    assert_eq!(s.compose("  \n", Phase::Online, NOW), Compose::Nothing);
    assert_eq!(
        s.compose("hello\n", Phase::Online, NOW),
        Compose::Send(ClientRequest::Chat {
            to: None,
            text: "hello".into()
        })
    );
    assert_eq!(
        s.compose("/who", Phase::Online, NOW),
        Compose::Send(ClientRequest::ListUsers)
    );
    assert_eq!(s.compose("/quit", Phase::Online, NOW), Compose::Quit);
    assert!(matches!(
        s.compose("/nope", Phase::Online, NOW),
        Compose::Local(_)
    ));
    let Compose::Local(e) = s.compose(&"x".repeat(9000), Phase::Online, NOW) else {
        panic!("too long must not be sent")
    };
    assert!(e.body.contains("limit"), "{}", e.body);
}

#[test]
fn nothing_is_sent_while_disconnected_and_the_text_is_kept() {
    let mut s = state(Language::Zh);
    let up = s.on_closed(
        &CloseReason::ConnectionLost {
            sending: false,
            error: "reset".into(),
        },
        NOW,
    );
    let phase = Phase::Online.closed();
    assert_eq!(phase, Phase::Offline);
    let r = render(&up.new_entries[0], false, Language::Zh);
    assert!(
        r.text
            .contains("连接已断开: 和服务器的网络连接断开了。请检查网络，请点击“重新连接”"),
        "{}",
        r.text
    );
    assert!(up.users_changed, "the online list is stale");
    assert_eq!(s.user_rows(), vec!["所有人"]);
    assert!(r.style.chars().all(|c| c == style::SYSTEM));
    assert_eq!(status_text(&s, phase), "已断开连接");
    assert_eq!(status_text(&s, phase.reconnect().unwrap()), "正在重新连接…");
    let Compose::Local(e) = s.compose("still here", phase, NOW) else {
        panic!("must not send")
    };
    assert!(e.body.contains("重新连接"));
    // Reconnected.
    let up = s.on_logged_in("wang_yuan", "k2", true, NOW);
    let phase = phase.reconnect().unwrap().logged_in();
    assert!(phase.online());
    assert!(up.new_entries[0].body.contains("已重新连接"));
    assert_eq!(status_text(&s, phase), "已连接 · 发送给: 所有人");
}

/// A frame from the server that never arrived ends the session with the client's own text
/// (issue 14, item 4), in the chat window, once, and the window goes offline.
#[test]
fn a_lost_frame_from_the_server_is_shown_and_ends_the_session() {
    for (lang, want) in [
        (
            Language::Zh,
            "有消息在网络上丢失了（可能被人删除），连接已断开。请重新连接。",
        ),
        (
            Language::En,
            "A message was lost on the network (someone may have deleted it), so the connection was closed. Please reconnect.",
        ),
    ] {
        let mut s = state(lang);
        let up = s.on_closed(
            &CloseReason::FrameLost {
                got: 7,
                expected: 6,
            },
            NOW,
        );
        assert_eq!(up.new_entries.len(), 1);
        let r = render(&up.new_entries[0], false, lang);
        assert_eq!(up.new_entries[0].body, want, "{lang:?}");
        assert!(r.text.contains(want), "{}", r.text);
        assert!(r.style.chars().all(|c| c == style::SYSTEM));
        assert_eq!(Phase::Online.closed(), Phase::Offline);
    }
}

#[test]
fn server_errors_say_why_and_what_to_do() {
    let mut s = state(Language::En);
    let up = s.on_server_error(
        ErrorMsg::new(Reason::LoggedInElsewhere, "user1 logged in again"),
        NOW,
    );
    let body = &up.new_entries[0].body;
    // The client's own text for the reason; the server's words are not shown.
    assert!(!body.contains("user1 logged in again"), "{body}");
    assert!(body.contains("another window"), "{body}");
    assert!(body.contains("Reconnect"), "{body}");
    // The close that follows does not repeat the message.
    let up = s.on_closed(
        &CloseReason::ServerError(ErrorMsg::new(
            Reason::LoggedInElsewhere,
            "user1 logged in again",
        )),
        NOW,
    );
    assert_eq!(up.new_entries.len(), 1);
    assert!(
        !up.new_entries[0].body.contains("user1 logged in again"),
        "{}",
        up.new_entries[0].body
    );
}

/// A session the server ended because its key expired (or was withdrawn) offers the key step
/// at once, in the student's language; other ends ask nothing.
#[test]
fn an_expired_key_ends_the_session_with_the_key_step_offered() {
    let expired = CloseReason::ServerError(ErrorMsg::new(
        Reason::KeyExpired,
        "the session key for user1 expired at 2026-12-01T07:00:00Z",
    ));
    match session_end_dialog(&expired, Language::Zh) {
        Some(LoginDialog::OfferKeyStep { text, cancel, run }) => {
            assert!(text.starts_with("会话已结束"), "{text}");
            assert!(text.contains("你的会话密钥已过期"), "{text}");
            assert!(text.contains("重新连接吗"), "{text}");
            assert_eq!((cancel, run), ("取消", "获取密钥并登录"));
        }
        other => panic!("expected the key step offer, got {other:?}"),
    }
    match session_end_dialog(&expired, Language::En) {
        Some(LoginDialog::OfferKeyStep { text, run, .. }) => {
            assert!(text.contains("Your session key has expired"), "{text}");
            assert_eq!(run, "Get key and log in");
        }
        other => panic!("expected the key step offer, got {other:?}"),
    }
    let revoked = CloseReason::ServerError(ErrorMsg::new(Reason::NoSessionKey, "revoked"));
    assert!(session_end_dialog(&revoked, Language::En).is_some());
    for other in [
        CloseReason::ServerError(ErrorMsg::new(Reason::Shutdown, "bye")),
        CloseReason::ServerError(ErrorMsg::new(Reason::Revoked, "password reset")),
        CloseReason::ServerClosed,
        CloseReason::LoggedOut,
    ] {
        assert_eq!(session_end_dialog(&other, Language::Zh), None, "{other:?}");
    }
    // The key step it leads to starts from the offline chat window and reconnects after.
    assert_eq!(
        Phase::Online.closed().start_key_step(),
        Some(Phase::ChatKeyStep)
    );
    assert_eq!(Phase::ChatKeyStep.key_step_done(), Phase::Offline);
}

#[test]
fn logging_out_on_purpose_is_not_an_error() {
    // The session's own report of a logout shows nothing ...
    let mut s = state(Language::En);
    let up = s.on_closed(&CloseReason::LoggedOut, NOW);
    assert!(up.new_entries.is_empty());
    // ... while any other end says what happened.
    let up = s.on_closed(&CloseReason::ServerClosed, NOW);
    assert_eq!(up.new_entries.len(), 1);
    // Once the window is closed (or `/quit`), what the session still reports is not shown.
    assert!(Phase::Online.in_chat() && Phase::Offline.in_chat());
    assert!(!Phase::Done.in_chat() && Phase::Done.ended());
}

#[test]
fn history_recalls_sent_lines_like_a_shell() {
    let mut h = InputHistory::default();
    assert_eq!(h.up("draft"), None);
    for t in ["one", "two", "two", "three"] {
        h.push(t);
    }
    assert_eq!(h.len(), 3, "repeats are stored once");
    assert_eq!(h.up("draft").as_deref(), Some("three"));
    assert_eq!(h.up("three").as_deref(), Some("two"));
    assert_eq!(h.up("two").as_deref(), Some("one"));
    assert_eq!(h.up("one"), None, "stays at the oldest");
    assert_eq!(h.down().as_deref(), Some("two"));
    assert_eq!(h.down().as_deref(), Some("three"));
    assert_eq!(h.down().as_deref(), Some("draft"), "back to what was typed");
    assert_eq!(h.down(), None);
    for i in 0..500 {
        h.push(&format!("m{i}"));
    }
    assert_eq!(h.len(), InputHistory::CAP);
}

#[test]
fn sent_messages_enter_the_history() {
    let mut s = state(Language::En);
    s.compose("first\n", Phase::Online, NOW);
    s.compose("second", Phase::Online, NOW);
    assert_eq!(s.history.up("").as_deref(), Some("second"));
    assert_eq!(s.history.up("").as_deref(), Some("first"));
}

#[test]
fn up_and_down_recall_only_on_the_first_and_last_line() {
    assert!(recall_applies("", 0, true));
    assert!(recall_applies("", 0, false));
    assert!(recall_applies("abc", 2, true));
    assert!(recall_applies("abc", 2, false));
    let two = "first\nsecond";
    assert!(recall_applies(two, 3, true));
    assert!(!recall_applies(two, 3, false));
    assert!(!recall_applies(two, 8, true));
    assert!(recall_applies(two, 8, false));
    assert!(
        recall_applies(two, 999, false),
        "positions past the end are clamped"
    );
}

// ------------------------------------------------------------------------------------------ unread, bursts

#[test]
fn unread_messages_count_only_while_unfocused() {
    let mut s = state(Language::Zh);
    let base = s.title();
    assert_eq!(base, "欢迎 wang_yuan 进入聊天室!");
    assert!(!s.note_incoming(1, true));
    assert!(!s.note_incoming(0, false));
    assert!(s.note_incoming(2, false));
    assert!(s.note_incoming(1, false));
    assert_eq!(s.unread(), 3);
    assert_eq!(s.title(), format!("(3) {base}"));
    assert!(s.focus_seen());
    assert_eq!(s.title(), base);
    assert!(!s.focus_seen());
}

#[test]
fn a_burst_of_a_thousand_messages_shows_every_one() {
    let mut s = state(Language::En);
    let mut shown = String::new();
    let mut incoming = 0;
    for i in 0..1000 {
        let up = feed(
            &mut s,
            chat("user2", "ding_zhen", None, &format!("burst {i:04}")),
        );
        incoming += up.incoming_chat;
        assert!(!up.rerender);
        for e in &up.new_entries {
            shown.push_str(&render(e, false, Language::En).text);
        }
    }
    assert_eq!(incoming, 1000);
    for i in 0..1000 {
        assert!(
            shown.contains(&format!("\nburst {i:04}\n")),
            "message {i} missing"
        );
    }
    assert_eq!(
        s.entries()
            .filter(|e| matches!(e.kind, EntryKind::Chat(_)))
            .count(),
        1000
    );
}

#[test]
fn old_entries_are_dropped_in_chunks_and_the_list_rendered_again() {
    let mut s =
        ChatState::new(Language::En, "client_wy", "user1", "wang_yuan").with_max_entries(10);
    let mut rerenders = 0;
    for i in 0..25 {
        let up = feed(&mut s, chat("user2", "ding_zhen", None, &format!("m{i}")));
        rerenders += usize::from(up.rerender);
    }
    assert!(rerenders > 0);
    assert!(s.entries().count() <= 10);
    let all = s.render_all(false).text;
    assert!(all.contains("\nm24\n"), "the newest is kept");
    assert!(!all.contains("\nm0\n"), "the oldest is dropped");
}

// ------------------------------------------------------------------------------------------ phases

#[test]
fn one_login_at_a_time_and_the_key_step_leads_back_to_it() {
    let p = Phase::Login;
    assert!(p.in_login() && !p.busy());
    let p = p.submit_login().expect("the idle login window submits");
    assert_eq!(p, Phase::LoggingIn);
    assert!(p.busy(), "the login button is off while a login runs");
    assert_eq!(p.submit_login(), None, "no second login while one runs");
    assert_eq!(p.start_key_step(), None);
    // Failed, key step accepted: busy again, then back to the login window to try again.
    let p = p.login_failed();
    assert_eq!(p, Phase::Login);
    let p = p
        .start_key_step()
        .expect("the key step runs from the login window");
    assert_eq!(p, Phase::LoginKeyStep);
    assert!(p.busy() && p.in_login());
    assert_eq!(p.submit_login(), None);
    let p = p.key_step_done();
    assert_eq!(p, Phase::Login);
    let p = p.submit_login().unwrap().logged_in();
    assert_eq!(p, Phase::Online);
    assert!(p.in_chat() && p.online() && !p.busy() && !p.in_login());
}

/// "正在登录…" can be cancelled (a server that accepts and never answers would otherwise hold
/// the window for the whole timeout); the late answer of a cancelled attempt is not shown.
#[test]
fn a_running_login_or_key_step_can_be_cancelled_and_its_late_answer_is_ignored() {
    assert_eq!(
        Phase::Login.cancel(),
        None,
        "nothing runs: the button resets"
    );
    let p = Phase::Login.submit_login().unwrap();
    assert!(p.awaits_login());
    let p = p.cancel().expect("a running login is cancelled");
    assert_eq!(p, Phase::Login);
    assert!(!p.awaits_login(), "a late LoggedIn/LoginFailed is ignored");
    assert!(p.submit_login().is_some(), "and the next login can start");
    let p = Phase::Login.start_key_step().unwrap();
    assert!(p.awaits_key_step());
    let p = p.cancel().expect("a running key step is cancelled");
    assert_eq!(p, Phase::Login);
    assert!(!p.awaits_key_step(), "a late KeyStepDone is ignored");
    // In the chat window the session's own controls apply.
    for p in [
        Phase::Online,
        Phase::Offline,
        Phase::Reconnecting,
        Phase::ChatKeyStep,
    ] {
        assert_eq!(p.cancel(), None, "{p:?}");
    }
    assert!(Phase::Reconnecting.awaits_login() && Phase::ChatKeyStep.awaits_key_step());
}

#[test]
fn reconnect_is_offered_only_while_offline() {
    let p = Phase::Online;
    assert_eq!(p.reconnect(), None, "connected: nothing to reconnect");
    let p = p.closed();
    assert_eq!(p, Phase::Offline);
    assert!(p.in_chat() && !p.online() && !p.busy());
    let p = p.reconnect().expect("offline: Reconnect works");
    assert_eq!(p, Phase::Reconnecting);
    assert!(p.busy() && !p.online());
    assert_eq!(p.reconnect(), None, "one reconnect at a time");
    // It failed and asked for the key step: while that runs, Reconnect does nothing.
    let p = p.login_failed();
    assert_eq!(p, Phase::Offline);
    let p = p.start_key_step().unwrap();
    assert_eq!(p, Phase::ChatKeyStep);
    assert!(p.in_chat() && p.busy());
    assert_eq!(p.reconnect(), None);
    let p = p.key_step_done();
    assert_eq!(p.reconnect(), Some(Phase::Reconnecting));
    assert_eq!(Phase::Reconnecting.logged_in(), Phase::Online);
    // Leaving and failing end the loop and stay ended.
    for end in [Phase::Done, Phase::Failed] {
        assert!(end.ended() && !end.in_chat() && !end.in_login());
        assert_eq!(end.logged_in(), end);
        assert_eq!(end.closed(), end);
    }
}

// ------------------------------------------------------------------------------------------ frame inspector

/// A chat event sealed for real, as the server sends it to user1 (seq `seq` of the channel).
fn sealed_chat(
    from: &str,
    nick: &str,
    to: Option<&str>,
    text: &str,
    key: &std::sync::Arc<common::crypto::SessionKey>,
) -> Event {
    let event = ServerEvent::Chat(ChatLine {
        msg_id: 42,
        time_ms: NOW,
        from_user: from.into(),
        from_nick: nick.into(),
        to: to.map(Into::into),
        text: text.into(),
    });
    let mut ch = common::protocol::sealed::Channel::server(key.clone(), &[7; 16]);
    let wire = ch.seal_msg(&event).unwrap();
    (event, wire)
}

fn session_key() -> std::sync::Arc<common::crypto::SessionKey> {
    std::sync::Arc::new(common::crypto::SessionKey::generate(
        "user1",
        time::Duration::hours(1),
    ))
}

/// The byte where entry `i` starts in the message list.
fn start_of(s: &ChatState, i: usize, show_wire: bool, lang: Language) -> usize {
    s.entries()
        .take(i)
        .map(|e| render(e, show_wire, lang).text.len())
        .sum()
}

/// A click on a received message shows its frame field by field, the client's two checks in
/// their order and the plaintext fields, in Chinese.
#[test]
fn a_received_message_is_inspected_field_by_field() {
    let lang = Language::Zh;
    let mut s = state(lang);
    let key = session_key();
    let (event, wire) = sealed_chat("user2", "ding_zhen", None, "你好\u{1b}[2J", &key);
    feed(&mut s, (event, wire.clone()));
    let n = s.entries().count();
    let at = start_of(&s, n - 1, false, lang);
    assert_eq!(
        inspector::hit(s.entries(), false, lang, at + 3),
        Some(Hit {
            entry: n - 1,
            wire: None
        })
    );
    let view = inspect_at(s.entries(), false, lang, at + 3).expect("a frame to inspect");
    let t = &view.text;
    assert!(
        view.title.starts_with("帧检查器 - ding_zhen"),
        "{}",
        view.title
    );
    let fields: Vec<&str> = wire.split('|').collect();
    let iv = base64_hex(fields[2]);
    for want in [
        "↓ 收到的密文帧（服务器 → 我）",
        "代码",
        "1002 (聊天消息)",
        "序号",
        "初始向量 IV",
        &format!("{iv} (8 字节)"),
        "个 DES 分组",
        "32 字节, HMAC-SHA-256",
        "1. 用会话的 MAC 密钥计算 HMAC-SHA-256",
        "2. 用会话密钥（DES）和这个 IV 做 DES-CBC 解密",
        "3. 明文",
        "消息编号",
        "(空 = 所有人)",
        "→ \"ding_zhen\"",
        // The text as received, its ESC escaped.
        "→ \"你好\\u{1b}[2J\"",
    ] {
        assert!(t.contains(want), "{want:?} missing from:\n{t}");
    }
    let mac = t.find("1. 用会话的 MAC").unwrap();
    let des = t.find("2. 用会话密钥").unwrap();
    let plain = t.find("3. 明文").unwrap();
    assert!(mac < des && des < plain, "{t}");
    assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
    // A local line never crossed the wire: nothing to inspect; nor past the end.
    assert_eq!(inspect_at(s.entries(), false, lang, 0), None);
    let end = start_of(&s, n, false, lang);
    assert_eq!(inspect_at(s.entries(), false, lang, end), None);
}

fn base64_hex(b64: &str) -> String {
    common::trace::hex_blocks(&common::protocol::sealed::FrameFields::bytes(b64).unwrap())
}

/// One's own message shows the frame that went out (plaintext, DES-CBC with a fresh IV, MAC)
/// before the one the server sent back; a click on one frame line shows that frame only.
#[test]
fn ones_own_message_shows_what_was_sent_and_what_came_back() {
    let lang = Language::En;
    let mut s = state(lang);
    let key = session_key();
    let request = ClientRequest::Chat {
        to: Some("user2".into()),
        text: "psst".into(),
    };
    let mut ch = common::protocol::sealed::Channel::client(key.clone(), &[7; 16]);
    let sent = ch.seal_msg(&request).unwrap();
    s.on_sent(request, sent.clone());
    feed(
        &mut s,
        sealed_chat("user1", "wang_yuan", Some("user2"), "psst", &key),
    );
    let n = s.entries().count();
    let e = s.entries().last().unwrap().clone();
    let view = inspect(&e, None, lang).unwrap();
    let t = &view.text;
    let out = t.find("↑ Frame I sent (me → server)").expect(t);
    let back = t.find("↓ Frame received (server → me)").expect(t);
    assert!(out < back, "{t}");
    for want in [
        "0002 (chat request)",
        "What the client did before sending:",
        "1. Plaintext (fields separated by |, text in base64):",
        "to",
        "→ \"user2\"",
        "→ \"psst\"",
        "2. DES-CBC encrypted with the session key and a fresh random IV",
        "3. MAC computed with the session's MAC key",
        "1002 (chat message)",
        "1. MAC checked with the session's MAC key",
        "2. DES-CBC decrypted with the session key and this IV",
    ] {
        assert!(t.contains(want), "{want:?} missing from:\n{t}");
    }
    assert!(
        t.contains(&base64_hex(sent.split('|').nth(2).unwrap())),
        "{t}"
    );
    // With "show ciphertext", the second frame line picks the received frame only.
    let at = start_of(&s, n - 1, true, lang);
    let rendered = render(&e, true, lang).text;
    let second_line = rendered.find("↓ frame received").expect(&rendered);
    let hit = inspector::hit(s.entries(), true, lang, at + second_line + 2).unwrap();
    assert_eq!(hit.wire, Some(1));
    let only = inspect_at(s.entries(), true, lang, at + second_line + 2).unwrap();
    assert!(!only.text.contains("Frame I sent"), "{}", only.text);
    assert!(only.text.contains("Frame received"), "{}", only.text);
}

/// A dropped frame is shown with its fields and the note that it was never decrypted.
#[test]
fn a_dropped_frame_is_shown_as_not_decrypted() {
    let mut s = state(Language::Zh);
    let key = session_key();
    let (_, wire) = sealed_chat("user2", "ding_zhen", None, "x", &key);
    s.on_rejected("bad MAC", wire, NOW);
    let e = s.entries().last().unwrap();
    let t = inspect(e, None, Language::Zh).unwrap().text;
    assert!(t.contains("✗ 被丢弃的帧"), "{t}");
    assert!(t.contains("没有解密"), "{t}");
    assert!(!t.contains("明文"), "{t}");
}

#[test]
fn every_inspector_text_is_translated() {
    let (zh, en) = (label_texts(&inspector::ZH), label_texts(&inspector::EN));
    assert!(zh.len() > 30, "{zh:?}");
    for ((field, zh), (_, en)) in zh.iter().zip(&en) {
        assert!(zh.chars().any(is_chinese), "{field}: {zh:?}");
        assert!(!en.chars().any(is_chinese), "{field}: {en:?}");
    }
}

// ---- stored messages (issue 15)

fn stored_line(id: u64, time_ms: u64, text: &str) -> ChatLine {
    ChatLine {
        msg_id: id,
        time_ms,
        from_user: "user2".into(),
        from_nick: "ding_zhen".into(),
        to: None,
        text: text.into(),
    }
}

fn page(source: HistorySource, more: bool, lines: Vec<ChatLine>) -> Event {
    (
        ServerEvent::History(HistoryPage {
            source,
            more,
            lines,
        }),
        "1007|page".into(),
    )
}

fn bodies(s: &ChatState) -> Vec<(EntryKind, String)> {
    s.entries().map(|e| (e.kind, e.body.clone())).collect()
}

#[test]
fn login_history_is_greyed_dated_and_closed_by_a_line() {
    let mut s = state(Language::Zh);
    let yesterday = NOW - 86_400_000;
    feed(
        &mut s,
        page(
            HistorySource::Login,
            true,
            vec![stored_line(10, yesterday, "昨天的消息")],
        ),
    );
    let up = feed(
        &mut s,
        page(
            HistorySource::Login,
            false,
            vec![stored_line(11, NOW, "今天的消息")],
        ),
    );
    assert_eq!(up.new_entries.len(), 2, "the message and the closing line");
    let entries: Vec<&Entry> = s
        .entries()
        .filter(|e| e.kind == EntryKind::History)
        .collect();
    assert_eq!(entries.len(), 2);
    // A date when not today, the time alone when today.
    assert!(entries[0].header.contains('-'), "{}", entries[0].header);
    assert!(!entries[1].header.contains('-'), "{}", entries[1].header);
    let last = s.entries().last().unwrap();
    assert_eq!(last.kind, EntryKind::HistoryEnd);
    assert_eq!(last.body, "—— 以上为历史消息 ——");
    // Greyed: its own styles, never the live colours.
    let r = render(entries[0], false, Language::Zh);
    assert!(
        r.style
            .chars()
            .all(|c| c == style::HISTORY_HEADER || c == style::HISTORY_TEXT)
    );
    assert!(r.style.contains(style::HISTORY_TEXT));
    // A live message after it looks live.
    feed(&mut s, chat("user2", "ding_zhen", None, "live"));
    assert_eq!(
        s.entries().last().unwrap().kind,
        EntryKind::Chat(Tone::Others)
    );
}

#[test]
fn a_reconnect_does_not_show_a_message_twice() {
    let mut s = state(Language::En);
    let lines = vec![stored_line(10, NOW, "one"), stored_line(11, NOW, "two")];
    feed(&mut s, page(HistorySource::Login, false, lines.clone()));
    let before = bodies(&s);
    // The same history again after a reconnect: nothing new, no second closing line.
    let up = feed(&mut s, page(HistorySource::Login, false, lines));
    assert!(up.new_entries.is_empty());
    assert_eq!(bodies(&s), before);
    // An empty login history adds no line either.
    let up = feed(&mut s, page(HistorySource::Login, false, Vec::new()));
    assert!(up.new_entries.is_empty());
}

#[test]
fn scrolling_back_puts_older_messages_first_until_there_are_none() {
    let mut s = state(Language::Zh);
    feed(
        &mut s,
        page(
            HistorySource::Login,
            false,
            vec![stored_line(50, NOW, "50")],
        ),
    );
    let req = s.older_request(2).expect("a request");
    assert_eq!(
        req,
        ClientRequest::History {
            before_id: 50,
            count: 2
        }
    );
    assert!(s.older_request(2).is_none(), "one request at a time");
    assert!(!s.wants_older());
    let up = feed(
        &mut s,
        page(
            HistorySource::Older,
            false,
            vec![stored_line(48, NOW, "48"), stored_line(49, NOW, "49")],
        ),
    );
    assert!(up.rerender && up.prepended == 2);
    let texts: Vec<String> = s
        .entries()
        .filter(|e| e.kind == EntryKind::History)
        .map(|e| e.body.clone())
        .collect();
    assert_eq!(texts, ["48", "49", "50"]);
    assert_eq!(s.oldest_id(), Some(48));
    // Fewer than asked: the beginning, said once at the top; no more requests.
    let req = s.older_request(2).unwrap();
    assert_eq!(
        req,
        ClientRequest::History {
            before_id: 48,
            count: 2
        }
    );
    feed(
        &mut s,
        page(
            HistorySource::Older,
            false,
            vec![stored_line(47, NOW, "47")],
        ),
    );
    let first = s.entries().next().unwrap();
    assert_eq!(
        (first.kind, first.body.as_str()),
        (EntryKind::HistoryEnd, "—— 没有更早的消息了 ——")
    );
    assert!(!s.wants_older());
}

#[test]
fn held_private_message_notice_is_in_the_interface_language() {
    let mut s = state(Language::Zh);
    feed(&mut s, notice(NoticeKind::Held, "user3", ""));
    let e = s.entries().last().unwrap();
    assert_eq!(e.kind, EntryKind::Info);
    assert!(e.body.contains("对方不在线，上线后会收到"), "{}", e.body);
    let mut s = state(Language::En);
    feed(&mut s, notice(NoticeKind::Held, "user3", ""));
    assert!(s.entries().last().unwrap().body.contains("offline"));
}

#[test]
fn history_command_asks_for_older_messages() {
    let mut s = state(Language::En);
    let c = s.compose("/history 30", Phase::Online, NOW);
    assert_eq!(
        c,
        Compose::Send(ClientRequest::History {
            before_id: 0,
            count: 30
        })
    );
}

#[test]
fn scroll_back_into_a_full_list_keeps_the_newest_of_the_older_ones() {
    let mut s = ChatState::new(Language::En, "client_wy", "user1", "wang_yuan").with_max_entries(4);
    feed(
        &mut s,
        page(
            HistorySource::Login,
            false,
            vec![stored_line(50, NOW, "50")],
        ),
    );
    // Two entries now (the message and the closing line): room for two more.
    s.older_request(3).unwrap();
    let older = (47..50)
        .map(|i| stored_line(i, NOW, &i.to_string()))
        .collect();
    let up = feed(&mut s, page(HistorySource::Older, false, older));
    assert_eq!(up.prepended, 2);
    let texts: Vec<String> = s.entries().map(|e| e.body.clone()).collect();
    assert_eq!(texts[..3], ["48", "49", "50"]);
}

/// Public messages `ids` from user2, as stored lines.
fn stored_lines(ids: impl IntoIterator<Item = u64>) -> Vec<ChatLine> {
    ids.into_iter()
        .map(|i| stored_line(i, NOW, &i.to_string()))
        .collect()
}

fn history_texts(s: &ChatState) -> Vec<u64> {
    s.entries()
        .filter(|e| matches!(e.kind, EntryKind::History | EntryKind::Chat(_)))
        .map(|e| e.body.parse().unwrap())
        .collect()
}

/// Feed an `OLDER` answer of `lines` in pages of 3.
fn older_answer(s: &mut ChatState, lines: Vec<ChatLine>) -> Update {
    let chunks: Vec<Vec<ChatLine>> = lines.chunks(3).map(<[ChatLine]>::to_vec).collect();
    if chunks.is_empty() {
        return feed(s, page(HistorySource::Older, false, Vec::new()));
    }
    let n = chunks.len();
    let mut last = Update::default();
    for (i, c) in chunks.into_iter().enumerate() {
        last = feed(s, page(HistorySource::Older, i + 1 < n, c));
    }
    last
}

#[test]
fn a_reconnect_after_many_messages_fills_the_gap_before_the_login_history() {
    use common::protocol::consts::MAX_HISTORY_COUNT;
    let mut s = state(Language::En);
    // Seen before the connection was lost: 1..=10 (live).
    for l in stored_lines(1..=10) {
        let (mut ev, wire) = chat("user2", "ding_zhen", None, "x");
        if let ServerEvent::Chat(line) = &mut ev {
            *line = l;
        }
        feed(&mut s, (ev, wire));
    }
    s.on_closed(
        &CloseReason::ConnectionLost {
            sending: false,
            error: "reset".into(),
        },
        NOW,
    );
    s.on_logged_in("wang_yuan", "k", true, NOW);
    // 11..=500 were sent meanwhile; the login brings the last 100.
    let up = feed(
        &mut s,
        page(HistorySource::Login, false, stored_lines(401..=500)),
    );
    assert_eq!(
        up.request,
        Some(ClientRequest::History {
            before_id: 401,
            count: MAX_HISTORY_COUNT
        }),
        "the gap is asked for at once"
    );
    assert!(!s.wants_older(), "scroll-back waits for the gap");
    let up = older_answer(&mut s, stored_lines(201..=400));
    assert_eq!(
        up.request,
        Some(ClientRequest::History {
            before_id: 201,
            count: MAX_HISTORY_COUNT
        })
    );
    // The last page reaches what was seen before (1..=10): the gap is closed.
    let up = older_answer(&mut s, stored_lines(1..=200));
    assert_eq!(up.request, None);
    assert!(up.rerender);
    assert!(!s.filling_gap());
    assert_eq!(history_texts(&s), (1..=500).collect::<Vec<u64>>());
    // Scroll-back goes on before the oldest shown.
    assert_eq!(
        s.older_request(50),
        Some(ClientRequest::History {
            before_id: 1,
            count: 50
        })
    );
}

#[test]
fn no_gap_is_asked_for_when_the_login_history_reaches_what_was_shown() {
    let mut s = state(Language::En);
    feed(
        &mut s,
        page(HistorySource::Login, false, stored_lines(1..=10)),
    );
    s.on_closed(
        &CloseReason::ConnectionLost {
            sending: false,
            error: "reset".into(),
        },
        NOW,
    );
    let up = feed(
        &mut s,
        page(HistorySource::Login, false, stored_lines(5..=20)),
    );
    assert_eq!(up.request, None);
    assert_eq!(history_texts(&s), (1..=20).collect::<Vec<u64>>());
    // A first login (nothing shown before) asks for nothing either.
    let mut s = state(Language::En);
    let up = feed(
        &mut s,
        page(HistorySource::Login, false, stored_lines(50..=60)),
    );
    assert_eq!(up.request, None);
}

#[test]
fn kept_messages_come_first_and_the_login_history_merges_without_duplicates() {
    let mut s = state(Language::Zh);
    s.show_kept(&stored_lines(1..=5), NOW);
    let last = s.entries().last().unwrap();
    assert_eq!(
        (last.kind, last.body.as_str()),
        (EntryKind::HistoryEnd, "—— 以上为本机保存的消息 ——")
    );
    assert!(
        s.entries()
            .filter(|e| e.body.parse::<u64>().is_ok())
            .all(|e| e.kind == EntryKind::History),
        "kept messages are greyed like the server's history"
    );
    let up = feed(
        &mut s,
        page(HistorySource::Login, false, stored_lines(4..=8)),
    );
    assert_eq!(up.request, None, "the login history reaches the kept ones");
    assert_eq!(history_texts(&s), (1..=8).collect::<Vec<u64>>());
    // Kept messages older than the login's last 100: the gap between is fetched.
    let mut s = state(Language::Zh);
    s.show_kept(&stored_lines(1..=5), NOW);
    let up = feed(
        &mut s,
        page(HistorySource::Login, false, stored_lines(9..=10)),
    );
    assert!(up.request.is_some());
    // Fewer than asked: the server has no more, the gap is closed.
    let up = older_answer(&mut s, stored_lines(6..=8));
    assert_eq!(up.request, None);
    assert_eq!(history_texts(&s), (1..=10).collect::<Vec<u64>>());
}

// ------------------------------------------------------------------------------------ file transfer

mod files {
    use super::*;
    use client_app::gui::logic::files::{
        DropStep, DropTarget, RowState, TransferPanel, chooser_title, dropped_paths,
    };
    use common::client::files::{Direction, Failure, Update};
    use common::protocol::files::FileState;
    use std::path::PathBuf;
    use std::time::Duration;

    fn offered(id: u64, auto: bool) -> Update {
        Update::Offered {
            id,
            from_user: "user1".into(),
            from_nick: "wang_yuan".into(),
            name: "报告 v2.pdf".into(),
            size: 2_500_000,
            auto,
        }
    }

    fn progress(id: u64, direction: Direction, done: u64) -> Update {
        Update::Progress {
            id,
            direction,
            name: "报告 v2.pdf".into(),
            done,
            total: 2_500_000,
            speed: 1_000_000.0,
            eta: Some(Duration::from_secs(2)),
        }
    }

    /// An offer to us: the message list names the sender, the quoted (sanitised) name, the size
    /// and the buttons; the panel's line waits for an answer, and accept/decline act on it.
    #[test]
    fn an_offer_is_shown_with_sender_name_size_and_buttons() {
        for lang in [Language::Zh, Language::En] {
            let mut p = TransferPanel::new(lang);
            let line = p.on_update(&offered(7, false)).expect("a line");
            assert!(line.contains("wang_yuan (user1)"), "{line}");
            assert!(line.contains("\"报告 v2.pdf\""), "{line}");
            assert!(line.contains("2.5 MB"), "{line}");
            let accept = labels(lang).accept_file;
            assert!(line.contains(accept), "{line}");
            assert_eq!(p.answer_target(), Some(7));
            assert_eq!(p.cancel_target(), Some(7));
            let panel = &p.lines()[0];
            assert!(panel.starts_with("↓ #7"), "{panel}");
            assert!(panel.contains(labels(lang).file_offered), "{panel}");
        }
    }

    /// A received file is complete only once `Saved` came: all bytes in is "checking".
    #[test]
    fn a_received_file_is_complete_only_when_saved() {
        let mut p = TransferPanel::new(Language::En);
        p.on_update(&offered(7, true));
        assert_eq!(p.answer_target(), None, "accepted automatically");
        assert_eq!(
            p.on_update(&progress(7, Direction::Receive, 1_000_000)),
            None
        );
        let line = &p.lines()[0];
        assert!(line.contains("40%"), "{line}");
        assert!(line.contains("1.0 MB/s"), "{line}");
        assert!(line.contains("left 2 s"), "{line}");
        assert!(line.contains("running"), "{line}");
        p.on_update(&progress(7, Direction::Receive, 2_500_000));
        let line = &p.lines()[0];
        assert!(line.contains("checking"), "{line}");
        assert!(!line.contains("saved"), "{line}");
        let path = PathBuf::from("downloads/报告 v2.pdf");
        let text = p.on_update(&Update::Saved {
            id: 7,
            path: path.clone(),
            from: "user1".into(),
        });
        assert!(text.unwrap().contains("SHA-256"));
        assert_eq!(p.rows()[0].state, RowState::Saved(path));
        assert!(p.lines()[0].contains("saved as downloads/报告 v2.pdf"));
        assert_eq!(p.bar_row().unwrap().fraction(), 1.0);
        assert_eq!(p.cancel_target(), None, "nothing left to cancel");
    }

    /// A receive that fails says why and that the partial file is gone; a late progress
    /// update does not bring it back to life.
    #[test]
    fn a_failed_receive_says_why_and_stays_failed() {
        let mut p = TransferPanel::new(Language::Zh);
        p.on_update(&offered(3, true));
        p.on_update(&progress(3, Direction::Receive, 500_000));
        let text = p.on_update(&Update::Failed {
            id: 3,
            direction: Direction::Receive,
            name: "报告 v2.pdf".into(),
            failure: Failure::Remote(Reason::SenderCancelled),
        });
        assert!(text.unwrap().contains("未完成的文件已删除"));
        let line = &p.lines()[0];
        assert!(
            line.contains("失败") && line.contains("未完成的文件已删除"),
            "{line}"
        );
        p.on_update(&progress(3, Direction::Receive, 600_000));
        assert!(matches!(p.rows()[0].state, RowState::Failed(_)));
        assert_eq!(p.bar_row().unwrap().bar_label(Language::Zh), "失败 · 20%");
    }

    /// Cancelling here is not a failure: the line and the progress bar say 已取消 (and, for a
    /// receive, that the partial file is gone), and the bar keeps where it stopped.
    #[test]
    fn a_transfer_cancelled_here_says_cancelled_not_failed() {
        let mut p = TransferPanel::new(Language::Zh);
        p.on_update(&offered(3, true));
        p.on_update(&progress(3, Direction::Receive, 1_000_000));
        assert_eq!(p.bar_row().unwrap().bar_label(Language::Zh), "40%");
        p.on_update(&Update::Failed {
            id: 3,
            direction: Direction::Receive,
            name: "报告 v2.pdf".into(),
            failure: Failure::Cancelled,
        });
        assert_eq!(p.rows()[0].state, RowState::Cancelled);
        let line = &p.lines()[0];
        assert!(line.contains("已取消; 未完成的文件已删除"), "{line}");
        assert!(!line.contains("失败"), "{line}");
        assert_eq!(p.bar_row().unwrap().bar_label(Language::Zh), "已取消 · 40%");
        assert_eq!(
            p.bar_row().unwrap().bar_label(Language::En),
            "cancelled · 40%"
        );
        assert_eq!(p.cancel_target(), None, "nothing left to cancel");
    }

    /// Our offer: no id until the server accepts it (matched by its reference), then waiting,
    /// running once someone accepts, delivered to whom at the end.
    #[test]
    fn a_sent_file_goes_from_offer_to_delivered() {
        let mut p = TransferPanel::new(Language::En);
        let sent = |reference| Update::OfferSent {
            reference,
            name: "a.bin".into(),
            to: Some("user3".into()),
            size: 2_500_000,
        };
        p.on_update(&sent(1));
        p.on_update(&sent(2));
        assert!(
            p.lines()[0].starts_with("↑ #? waiting for the server · \"a.bin\""),
            "{:?}",
            p.lines()
        );
        assert_eq!(p.cancel_target(), None, "no id yet");
        // Two offers of the same name: each answer finds its own by the reference it carries.
        p.on_update(&Update::OfferRefused {
            reference: 2,
            name: "a.bin".into(),
            reason: Reason::FileTooLarge,
        });
        assert!(matches!(p.rows()[1].state, RowState::Failed(_)));
        assert_eq!(p.rows()[0].state, RowState::Offering);
        p.on_update(&Update::OfferAccepted {
            reference: 1,
            id: 11,
            name: "a.bin".into(),
        });
        assert_eq!(p.rows()[0].id, Some(11));
        assert_eq!(p.rows()[1].id, None);
        assert!(p.lines()[0].starts_with("↑ #11 waiting for an answer · \"a.bin\""));
        assert!(p.lines()[0].ends_with("→ user3"));
        p.on_update(&Update::Recipient {
            id: 11,
            user: "user3".into(),
            state: FileState::Accepted,
            reason: None,
        });
        assert_eq!(p.rows()[0].state, RowState::Running);
        p.on_update(&progress(11, Direction::Send, 1_250_000));
        assert!(p.lines()[0].contains("sending"), "{}", p.lines()[0]);
        assert!(p.lines()[0].contains("50%"), "{}", p.lines()[0]);
        assert_eq!(p.cancel_target(), Some(11));
        let done = p.on_update(&Update::Finished {
            id: 11,
            name: "a.bin".into(),
            delivered: vec!["user3".into()],
            reason: None,
        });
        assert!(done.unwrap().contains("received by user3"));
        assert!(
            p.lines()[0].starts_with("↑ #11 delivered to user3 · "),
            "{}",
            p.lines()[0]
        );
        let nobody = Update::Finished {
            id: 11,
            name: "a.bin".into(),
            delivered: vec![],
            reason: Some(Reason::Declined),
        };
        p.on_update(&nobody);
        assert!(p.lines()[0].contains("failed"), "{}", p.lines()[0]);
    }

    /// The buttons act on the selected line when it fits, else on the newest that does; the
    /// progress bar follows the selection, else the newest.
    #[test]
    fn buttons_and_bar_follow_the_selection() {
        let mut p = TransferPanel::new(Language::En);
        p.on_update(&offered(1, false));
        p.on_update(&offered(2, false));
        assert_eq!(p.answer_target(), Some(2));
        p.select(1);
        assert_eq!(p.answer_target(), Some(1));
        assert_eq!(p.bar_row().unwrap().id, Some(1));
        p.select(9);
        assert_eq!(p.selected_line(), 0);
        assert_eq!(p.bar_row().unwrap().id, Some(2));
    }

    /// The chooser's title says whom the file goes to: the selected user, else everyone.
    #[test]
    fn the_send_button_targets_the_selected_user_or_everyone() {
        let mut s = state(Language::Zh);
        assert_eq!(s.target(), None);
        let title = chooser_title(Language::Zh, s.target());
        assert_eq!(title, "选择要发送的文件（发给 所有人）");
        let row = s
            .user_rows()
            .iter()
            .position(|r| r.contains("cxk"))
            .unwrap();
        s.select_row(i32::try_from(row).unwrap() + 1);
        assert_eq!(s.target(), Some("user3"));
        let title = chooser_title(Language::En, s.target());
        assert_eq!(title, "Choose a file to send (to user3)");
    }

    /// `/send`, `/accept`, `/decline`, `/cancel` typed into the box (online only).
    #[test]
    fn typed_file_commands() {
        use client_app::format::FileAction;
        let mut s = state(Language::En);
        assert_eq!(
            s.compose("/send \"my file.txt\" user3", Phase::Online, NOW),
            Compose::SendFile {
                path: "my file.txt".into(),
                to: Some("user3".into())
            }
        );
        assert_eq!(
            s.compose("/decline 4", Phase::Online, NOW),
            Compose::FileAction {
                action: FileAction::Decline,
                id: 4
            }
        );
        assert!(matches!(
            s.compose("/send a.txt", Phase::Offline, NOW),
            Compose::Local(_)
        ));
    }

    #[test]
    fn dropped_uri_lists_and_paths() {
        let x11 = "file:///home/wang/My%20Files/a%20b.txt\r\n\
                   file:///home/wang/%E6%8A%A5%E5%91%8A.pdf\r\n\
                   # a comment\r\n\
                   file://localhost/tmp/x.bin\r\n\
                   https://example.com/page\r\n\
                   file://otherhost/share/y.bin\r\n\r\n";
        assert_eq!(
            dropped_paths(x11),
            vec![
                PathBuf::from("/home/wang/My Files/a b.txt"),
                PathBuf::from("/home/wang/报告.pdf"),
                PathBuf::from("/tmp/x.bin"),
            ]
        );
        // A raw Chinese name (some file managers do not escape) and Windows forms.
        assert_eq!(
            dropped_paths("file:///tmp/报告 1.pdf\nC:\\Users\\王\\a.txt\nfile:///C:/x%25y.txt"),
            vec![
                PathBuf::from("/tmp/报告 1.pdf"),
                PathBuf::from("C:\\Users\\王\\a.txt"),
                PathBuf::from("C:/x%y.txt"),
            ]
        );
        // A broken escape or bytes that are not UTF-8: that line is skipped.
        assert_eq!(
            dropped_paths("file:///tmp/a%2\nfile:///tmp/%FF"),
            Vec::<PathBuf>::new()
        );
        assert_eq!(dropped_paths(""), Vec::<PathBuf>::new());
    }

    /// The drag is taken (so the drop is allowed); only a paste that follows a release is a
    /// drop; a paste on its own (Ctrl+V) is not.
    #[test]
    fn the_drop_handler_takes_drags_and_only_a_released_paste() {
        use fltk::enums::Event;
        let mut t = DropTarget::default();
        let text = || "file:///tmp/a.txt\n".to_owned();
        assert_eq!(t.step(Event::Paste, text), DropStep::Pass);
        assert_eq!(t.step(Event::DndEnter, text), DropStep::Take);
        assert_eq!(t.step(Event::DndDrag, text), DropStep::Take);
        assert_eq!(t.step(Event::Push, text), DropStep::Pass);
        assert_eq!(t.step(Event::DndRelease, text), DropStep::Take);
        assert_eq!(
            t.step(Event::Paste, text),
            DropStep::Dropped(vec![PathBuf::from("/tmp/a.txt")])
        );
        assert_eq!(t.step(Event::Paste, text), DropStep::Pass, "once");
        t.step(Event::DndRelease, text);
        t.step(Event::DndLeave, text);
        assert_eq!(t.step(Event::Paste, text), DropStep::Pass, "left before");
    }
}

/// An answered offer leaves "waiting for you" at once (no update comes for one's own answer).
#[test]
fn an_answered_offer_changes_its_line() {
    use client_app::gui::logic::files::{RowState, TransferPanel};
    use common::client::files::Update;
    let mut p = TransferPanel::new(Language::En);
    for id in [1, 2] {
        p.on_update(&Update::Offered {
            id,
            from_user: "user1".into(),
            from_nick: "wang_yuan".into(),
            name: "a.bin".into(),
            size: 10,
            auto: false,
        });
    }
    p.answered(1, false);
    p.answered(2, true);
    assert_eq!(p.rows()[0].state, RowState::Declined);
    assert!(
        p.lines()[0].starts_with("↓ #1 declined · "),
        "{}",
        p.lines()[0]
    );
    assert_eq!(p.rows()[1].state, RowState::Running);
    assert_eq!(p.answer_target(), None);
    assert_eq!(p.cancel_target(), Some(2));
}
