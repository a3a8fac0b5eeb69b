//! User-facing texts. Chinese by default, English with `language = "en"`.

use crate::config::Language;

/// Pick the text for `lang`.
pub fn t(lang: Language, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Language::Zh => zh,
        Language::En => en,
    }
}
