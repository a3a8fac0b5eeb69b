//! A drag source for the GUI test: a small FLTK window that, when the mouse is pressed on it,
//! starts a real drag and drop of the files given as arguments, as `text/uri-list` (what file
//! managers send: one `file://` URI per line, percent-encoded, CRLF-terminated).
//!
//!     cargo run -p client_app --example drag_source -- FILE...
//!
//! FLTK's own `Fl::dnd()` speaks the XDND protocol with the window under the pointer, so the test
//! (scripts/gui-test.sh) only has to press, move and release the mouse with xdotool: the chat
//! window receives the same events as from a file manager. Prints `DRAG-SOURCE <xid>` to stdout
//! when the window is shown, and `DRAG-STARTED` / `DRAG-ENDED` around each drag.

use std::io::Write;
use std::path::Path;

use fltk::enums::{Color, Event};
use fltk::prelude::*;
use fltk::{app, frame::Frame, window::Window};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// What a URI path may not hold unescaped (RFC 3986's path characters stay as they are).
const NOT_IN_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `file://` URIs of `paths`, one per line as in `text/uri-list`.
fn uri_list(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| {
            let abs = std::path::absolute(Path::new(p)).expect("an absolute path");
            let text = abs.to_str().expect("a UTF-8 path");
            format!("file://{}\r\n", utf8_percent_encode(text, NOT_IN_PATH))
        })
        .collect()
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: drag_source FILE...");
        std::process::exit(2);
    }
    let list = uri_list(&paths);
    let app = app::App::default();
    let mut win = Window::new(0, 0, 240, 120, "drag source");
    let mut label = Frame::new(0, 0, 240, 120, "drag these files");
    label.set_color(Color::Yellow);
    win.end();
    win.show();
    win.handle(move |_, ev| match ev {
        Event::Push => {
            // The drag's data is the selection buffer (not the clipboard).
            app::copy2(&list);
            println!("DRAG-STARTED");
            let _ = std::io::stdout().flush();
            // Runs FLTK's drag loop until the button is released over a target.
            app::dnd();
            println!("DRAG-ENDED");
            let _ = std::io::stdout().flush();
            true
        }
        _ => false,
    });
    app::flush();
    println!("DRAG-SOURCE {}", win.raw_handle());
    let _ = std::io::stdout().flush();
    app.run().expect("the FLTK event loop");
}
