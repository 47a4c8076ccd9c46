//! Text from outside (file metadata, spotting lists, manifests) made safe to
//! print on a terminal.

/// `s` with every control character removed or replaced, so that text taken
/// from a file cannot move the cursor, recolour, retitle or clear a terminal
/// (ECMA-48 escape and control sequences), nor reorder what follows it
/// (Unicode bidirectional overrides, Unicode TR #9). Line breaks and tabs
/// become `" / "` and a space, so that a field stays on its row; C0 and C1
/// controls, DEL, and the bidirectional embedding, override and isolate
/// characters (U+202A–U+202E, U+2066–U+2069) are dropped.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_break = false;
    for c in s.chars() {
        match c {
            '\n' | '\r' => pending_break = true,
            _ if is_unsafe(c) => {}
            _ => {
                if pending_break && !out.is_empty() {
                    out.push_str(" / ");
                }
                pending_break = false;
                out.push(if c == '\t' { ' ' } else { c });
            }
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_removed() {
        assert_eq!(printable("plain text"), "plain text");
        assert_eq!(printable("\u{1b}]0;pwned\u{7}title"), "]0;pwnedtitle");
        assert_eq!(printable("red \u{1b}[31mX\u{1b}[0m"), "red [31mX[0m");
        assert_eq!(printable("a\r\nb\nc"), "a / b / c");
        assert_eq!(printable("a\tb"), "a b");
        assert_eq!(printable("\u{9b}2J\u{7f}x"), "2Jx");
        assert_eq!(printable("abc\u{202e}fed"), "abcfed");
        assert_eq!(printable("Café déjà"), "Café déjà");
    }
}
