//! The key-step view's widgets (密钥分发过程): a styled text display, the teaching switch for
//! secrets and a close button. What it shows comes from [`KeyLog::render`].

use fltk::app::Sender;
use fltk::button::{Button, CheckButton};
use fltk::enums::{Color, Font};
use fltk::prelude::*;
use fltk::text::{StyleTableEntry, TextBuffer, TextDisplay, WrapMode};
use fltk::window::Window;

use common::config::Language;

use super::logic::keyview::{KeyLine, KeyLog};
use super::msg::UiMsg;

const SIZE: i32 = 13;

pub struct KeyStepView {
    pub win: Window,
    disp: TextDisplay,
    buf: TextBuffer,
    styles: TextBuffer,
    pub secrets: CheckButton,
}

fn style(kind: KeyLine) -> char {
    match kind {
        KeyLine::Heading => 'A',
        KeyLine::Field => 'B',
        KeyLine::Note => 'C',
        KeyLine::Secret => 'D',
        KeyLine::Good => 'E',
        KeyLine::Bad => 'F',
    }
}

fn style_table() -> Vec<StyleTableEntry> {
    let entry = |r, g, b, font| StyleTableEntry {
        color: Color::from_rgb(r, g, b),
        font,
        size: SIZE,
    };
    vec![
        entry(0, 70, 170, Font::HelveticaBold), // A heading
        entry(20, 20, 20, Font::Courier),       // B field
        entry(110, 110, 110, Font::Helvetica),  // C note
        entry(120, 40, 150, Font::Courier),     // D secret
        entry(0, 120, 0, Font::Helvetica),      // E good
        entry(200, 0, 0, Font::HelveticaBold),  // F bad
    ]
}

/// Build the window (hidden).
pub fn keystep_view(lang: Language, tx: Sender<UiMsg>) -> KeyStepView {
    let (w, h) = (860, 620);
    let mut win = Window::new(0, 0, w, h, None).center_screen();
    win.set_label(match lang {
        Language::Zh => "密钥分发过程（数字信封）",
        Language::En => "Key distribution (digital envelope)",
    });
    let mut disp = TextDisplay::new(8, 8, w - 16, h - 56, None);
    let buf = TextBuffer::default();
    let styles = TextBuffer::default();
    disp.set_buffer(buf.clone());
    disp.set_highlight_data(styles.clone(), style_table());
    disp.wrap_mode(WrapMode::AtBounds, 0);
    let mut secrets = CheckButton::new(12, h - 40, 360, 28, None);
    secrets.set_label(match lang {
        Language::Zh => "显示密钥（仅用于教学）",
        Language::En => "Show keys (teaching only)",
    });
    let mut close = Button::new(w - 120, h - 42, 108, 32, None);
    close.set_label(match lang {
        Language::Zh => "关闭",
        Language::En => "Close",
    });
    win.end();
    win.resizable(&disp);
    secrets.set_callback(move |b| tx.send(UiMsg::KeySecretsToggled(b.is_checked())));
    let mut w2 = win.clone();
    close.set_callback(move |_| w2.hide());
    KeyStepView {
        win,
        disp,
        buf,
        styles,
        secrets,
    }
}

impl KeyStepView {
    /// Show `log`; returns the lines shown (for the GUI test's log).
    pub fn show_log(&mut self, log: &KeyLog, lang: Language) -> Vec<String> {
        let lines = log.render(self.secrets.is_checked(), lang);
        let mut text = String::new();
        let mut styles = String::new();
        for (kind, line) in &lines {
            text.push_str(line);
            text.push('\n');
            // One style byte per byte of text.
            styles.extend(std::iter::repeat_n(style(*kind), line.len() + 1));
        }
        self.buf.set_text(&text);
        self.styles.set_text(&styles);
        // As it happens: the newest lines in view.
        let rows = self.disp.count_lines(0, self.buf.length(), true);
        self.disp.scroll(rows, 0);
        if !self.win.shown() {
            self.win.show();
        }
        self.win.redraw();
        lines.into_iter().map(|(_, l)| l).collect()
    }
}
