//! The one file-name sanitiser: which characters may appear in the name a
//! buyer's browser saves a file under. The stored name keeps Unicode letters
//! and digits; the ASCII fallback of `Content-Disposition` (RFC 6266
//! `filename=`, beside the exact UTF-8 `filename*`) keeps the ASCII ones.

/// Letters, digits and a few harmless punctuation marks; never a path
/// separator, a quote or a control character.
fn is_safe(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '(' | ')')
}

/// A download name from an asset title plus the source file's extension.
pub fn from_title(title: &str, extension: Option<&str>) -> String {
    let stem: String = title
        .chars()
        .map(|c| if is_safe(c) { c } else { '_' })
        .collect::<String>()
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .chars()
        .take(100)
        .collect();
    let stem = if stem.is_empty() {
        "asset".to_owned()
    } else {
        stem
    };
    match extension {
        Some(ext)
            if !ext.is_empty()
                && ext.len() <= 8
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
                // A title may already end in the extension ("score.pdf").
                && !stem.to_ascii_lowercase().ends_with(&format!(".{}", ext.to_ascii_lowercase())) =>
        {
            format!("{stem}.{}", ext.to_ascii_lowercase())
        }
        _ => stem,
    }
}

/// The same name with every character that is not safe *and* ASCII replaced by `_`.
pub fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| if is_safe(c) && c.is_ascii() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names_never_carry_paths_or_quotes() {
        assert_eq!(
            from_title("../../etc/passwd", Some("PDF")),
            "_.._etc_passwd.pdf"
        );
        assert_eq!(
            from_title("Bach: \"Suite\" No. 1", Some("mp3")),
            "Bach_ _Suite_ No. 1.mp3"
        );
        assert_eq!(from_title("Åsa's Sång", None), "Åsa_s Sång");
        assert_eq!(from_title("...", Some("pdf")), "asset.pdf");
        assert_eq!(from_title("score.PDF", Some("pdf")), "score.PDF");
    }

    proptest! {
        #[test]
        fn the_ascii_fallback_is_safe_ascii_of_the_same_length(s in "\\PC{0,40}") {
            let fallback = ascii_fallback(&s);
            prop_assert_eq!(fallback.chars().count(), s.chars().count());
            prop_assert!(fallback.chars().all(|c| c.is_ascii() && is_safe(c)));
        }

        #[test]
        fn a_stored_name_is_made_of_safe_characters(s in "\\PC{0,120}") {
            prop_assert!(from_title(&s, Some("pdf")).chars().all(is_safe));
        }
    }
}
