//! The FLTK chat client: a login window, then the chat window.
//!
//! # Layout
//! - [`logic`]: every decision, without widgets (tested by `tests/gui_logic.rs`): labels,
//!   rendering, the login form, the chat model, input recall, the [`Phase`](logic::phase::Phase).
//! - [`msg`]: [`UiMsg`] (into the GUI thread) and [`NetCmd`] (into the network worker).
//! - `view`: widget construction; callbacks only send a [`UiMsg`].
//! - `app`: the controller with the one `match` over [`UiMsg`].
//! - `net`: the network worker (its own thread with a tokio runtime; owns the connection and
//!   the session key).
//! - `x11`: the urgency hint and whether the window has the focus (Xlib; FLTK has no API).
//!
//! With `MINICHAT_GUI_TEST=1` the program prints `GUI-WINDOW <login|chat> <xid>` to stderr when
//! a window appears and, if `MINICHAT_GUI_LOG` names a file, appends every line it displays
//! there (`scripts/gui-test.sh` uses both).

mod app;
mod keystep_view;
pub mod logic;
pub mod msg;
mod net;
mod view;
mod x11;

use std::process::ExitCode;
use std::time::Duration;

use common::client::folder::ClientFolder;
use fltk::app as fl;

pub use msg::{NetCmd, UiMsg};

/// How often the GUI checks whether the chat window has the focus (unread count, urgency).
const TICK_SECS: f64 = 0.5;

/// True when there is a display to open (X11 or Wayland); otherwise FLTK would abort.
fn have_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// With Pango (Linux), a line that mixes Latin text with CJK glyphs from a fallback font sits
/// lower than its neighbours and loses its descenders (`wang_yuan` shows as `wang yuan`). A
/// primary font that has both avoids the fallback. Pango takes the first installed family of
/// each list (`fonts-noto-cjk`, installed by scripts/bootstrap.sh), else the usual default.
fn prefer_cjk_fonts() {
    if cfg!(all(unix, not(target_os = "macos"))) {
        use fltk::enums::Font;
        Font::set_font(Font::Helvetica, "Noto Sans CJK SC,WenQuanYi Micro Hei,Sans");
        Font::set_font(
            Font::HelveticaBold,
            "Noto Sans CJK SC,WenQuanYi Micro Hei,Sans Bold",
        );
        Font::set_font(Font::Courier, "Noto Sans Mono CJK SC,Monospace");
    }
}

/// Show a `client.toml` error in a dialog as well (a student who double-clicked the program sees
/// no terminal); nothing happens without a display. `text` comes from the client's own table.
pub fn config_error_dialog(program: &str, text: &str, lang: common::config::Language) {
    if !have_display() {
        return;
    }
    let _app = fl::App::default().with_scheme(fl::Scheme::Gtk);
    prefer_cjk_fonts();
    fl::set_font_size(14);
    view::set_dialog_labels(lang);
    fltk::dialog::message_title_default(program);
    fltk::dialog::alert_default(&logic::render::wrap_text(text, 72));
}

/// `client_xx key --gui`: run the key step with the key-step view (密钥分发过程) showing each
/// message as it happens; the result is also printed; returns when the window is closed.
pub fn key_step_window(
    folder: &ClientFolder,
    opts: common::client::key_client::KeyStepOptions,
) -> ExitCode {
    use common::client::key_events::KeyStepEvent;
    let program = folder.program.clone();
    if !have_display() {
        eprintln!("{program}: no display (DISPLAY is not set); run `{program} key` without --gui");
        return ExitCode::FAILURE;
    }
    let lang = folder.config.language;
    let fltk_app = fl::App::default().with_scheme(fl::Scheme::Gtk);
    prefer_cjk_fonts();
    fl::set_font_size(14);
    view::set_dialog_labels(lang);
    let (tx, rx) = fl::channel::<UiMsg>();
    let mut window = keystep_view::keystep_view(lang, tx);
    let mut log = logic::keyview::KeyLog::default();
    window.show_log(&log, lang);
    let mut test = app::TestHooks::from_env();
    if test.is_some() {
        use fltk::prelude::WindowExt as _;
        eprintln!("GUI-WINDOW keyview {}", window.win.raw_handle());
    }
    let f = folder.clone();
    std::thread::spawn(move || {
        let result = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => {
                let mut to_view = move |e: &KeyStepEvent| tx.send(UiMsg::KeyStep(e.clone()));
                rt.block_on(common::client::key_client::run_key_step_observed(
                    &f,
                    opts,
                    &mut to_view,
                ))
            }
            Err(e) => Err(common::Error::Io(e).into()),
        };
        tx.send(UiMsg::KeyStepDone(result.map_err(std::sync::Arc::new)));
    });
    let mut code = ExitCode::FAILURE;
    while fltk_app.wait() && fltk::prelude::WindowExt::shown(&window.win) {
        while let Some(msg) = rx.recv() {
            match msg {
                UiMsg::KeyStep(e) => log.push(e),
                UiMsg::KeyStepDone(result) => {
                    if let Err(e) = &result {
                        log.fail(e, lang);
                    }
                    let lines = window.show_log(&log, lang);
                    if let Some(f) = test.as_mut().and_then(|t| t.log.as_mut()) {
                        use std::io::Write as _;
                        for line in lines {
                            let _ = writeln!(f, "# keyview: {line}");
                        }
                    }
                    code = crate::keystep::report(folder, result.as_ref().map_err(|e| &**e));
                    continue;
                }
                _ => {}
            }
            window.show_log(&log, lang);
        }
    }
    code
}

/// Open the login window, then the chat window; returns when the user closes them.
pub fn run(folder: ClientFolder) -> ExitCode {
    let program = folder.program.clone();
    if !have_display() {
        eprintln!(
            "{program}: no display (DISPLAY is not set); use `{program} cli` for the terminal mode"
        );
        return ExitCode::FAILURE;
    }
    let fltk_app = fl::App::default().with_scheme(fl::Scheme::Gtk);
    prefer_cjk_fonts();
    fl::set_font_size(14);
    let (tx, rx) = fl::channel::<UiMsg>();
    let (net, net_done) = net::spawn(folder.clone(), tx);
    let mut ctl = app::Controller::new(&folder, tx, net.clone());
    ctl.start();
    fl::add_timeout3(TICK_SECS, move |h| {
        tx.send(UiMsg::Tick);
        fl::repeat_timeout3(TICK_SECS, h);
    });
    while !ctl.phase().ended() && fltk_app.wait() {
        // Wake-ups coalesce: handle everything queued, then draw once.
        while let Some(msg) = rx.recv() {
            ctl.handle(msg);
        }
        ctl.flush();
    }
    // Log out and give the network thread a moment to send the logout.
    let _ = net.send(NetCmd::Quit);
    let _ = net_done.recv_timeout(Duration::from_secs(3));
    if ctl.phase() == logic::phase::Phase::Failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
