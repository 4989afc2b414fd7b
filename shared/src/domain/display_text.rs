//! One rule for text that a person will read but somebody else chose: a user agent, anything a
//! sign-in client puts in Cognito's `clientMetadata`, a configured product name.
//!
//! Such text may only show what it says. Characters that change how the text around them is
//! laid out (bidi overrides and isolates), that break it into lines a reader takes for ours
//! (line and paragraph separators, any control), or that are invisible (zero-width and other
//! format characters, default-ignorable fillers, private-use and unassigned code points) are
//! dropped from what a client sends (`clean`), and refused in what the service is configured
//! with (`check`).

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a text may not be shown as it is.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DisplayTextError {
    #[error(
        "must not contain control, format, bidi, zero-width or line-separator characters \
         (found U+{0:04X})"
    )]
    Hidden(u32),
}

/// True for a character that is not shown as itself: see the module's rule.
pub fn is_hidden(c: char) -> bool {
    use GeneralCategory as G;
    match c.general_category() {
        G::Control
        | G::Format
        | G::LineSeparator
        | G::ParagraphSeparator
        | G::PrivateUse
        | G::Surrogate
        | G::Unassigned => true,
        _ => is_default_ignorable_filler(c),
    }
}

/// Default-ignorable code points outside `Cf`: they render as nothing in most fonts, so they
/// can hide a difference between two strings that look the same.
fn is_default_ignorable_filler(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'                    // combining grapheme joiner
            | '\u{115F}'..='\u{1160}' // Hangul fillers
            | '\u{17B4}'..='\u{17B5}' // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}' // Mongolian variation selectors
            | '\u{3164}'              // Hangul filler
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FFA0}'              // halfwidth Hangul filler
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// Refuses `text` if it holds a hidden character.
pub fn check(text: &str) -> Result<(), DisplayTextError> {
    match text.chars().find(|&c| is_hidden(c)) {
        Some(c) => Err(DisplayTextError::Hidden(u32::from(c))),
        None => Ok(()),
    }
}

/// `text` without its hidden characters, every other kind of space as a plain one, runs of
/// spaces as one, and trimmed: what is left shows exactly what it says.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|&c| !is_hidden(c)) {
        let c = if c.general_category() == GeneralCategory::SpaceSeparator {
            ' '
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIDDEN: [char; 16] = [
        '\u{0}',
        '\n',
        '\r',
        '\u{85}',
        '\u{202E}',
        '\u{2066}',
        '\u{2069}',
        '\u{200E}',
        '\u{2028}',
        '\u{2029}',
        '\u{200B}',
        '\u{200D}',
        '\u{FEFF}',
        '\u{AD}',
        '\u{E000}',
        '\u{E0041}',
    ];

    #[test]
    fn layout_changing_and_invisible_characters_are_refused_and_dropped() {
        for c in HIDDEN {
            let text = format!("Firefox{c}/140.0");
            assert_eq!(
                check(&text),
                Err(DisplayTextError::Hidden(u32::from(c))),
                "{c:?}"
            );
            assert_eq!(clean(&text), "Firefox/140.0", "{c:?}");
        }
    }

    #[test]
    fn what_people_write_is_kept() {
        for text in [
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Zoë's Phone",
            "東京のパソコン",
            "مرحبا",
            "café 🎉",
        ] {
            assert_eq!(check(text), Ok(()), "{text}");
            assert_eq!(clean(text), text);
        }
    }

    #[test]
    fn a_fake_extra_line_becomes_one_line() {
        let forged = "Firefox\u{2028}IP address: 198.51.100.1\u{2029}Device: your usual laptop";
        assert_eq!(
            clean(forged),
            "FirefoxIP address: 198.51.100.1Device: your usual laptop"
        );
        assert_eq!(clean("  a \u{3000}\u{A0} b  "), "a b");
    }

    proptest::proptest! {
        /// Whatever arrives, what is kept is accepted by the rule, and cleaning it again
        /// changes nothing.
        #[test]
        fn cleaned_text_passes_the_rule_and_stays_put(raw in proptest::prelude::any::<String>()) {
            let cleaned = clean(&raw);
            proptest::prop_assert_eq!(check(&cleaned), Ok(()));
            proptest::prop_assert_eq!(clean(&cleaned), cleaned.clone());
            proptest::prop_assert!(!cleaned.starts_with(' ') && !cleaned.ends_with(' '));
        }

        /// Text the rule accepts keeps every character it had, whatever is mixed into it.
        #[test]
        fn shown_characters_survive_cleaning(
            shown in "[a-zA-Z0-9/.;()_-]{1,40}",
            hidden in proptest::sample::select(vec!['\u{202E}', '\u{2028}', '\u{200B}', '\u{FEFF}', '\n']),
            at in 0usize..40,
        ) {
            let mut mixed = shown.clone();
            mixed.insert(at.min(shown.len()), hidden);
            proptest::prop_assert!(check(&mixed).is_err());
            proptest::prop_assert_eq!(clean(&mixed), shown);
        }
    }
}
