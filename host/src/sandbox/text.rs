//! Text a guest produced, made safe to show: control characters escaped (so a buildpack
//! cannot rewrite the user's terminal) and length bounded (so it cannot flood it).

/// Escape control characters (tab kept) and cut to at most `max` bytes of the input.
pub fn guest_text(text: &str, max: usize) -> String {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 32);
    for c in text[..cut].chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cut < text.len() {
        out.push_str(&format!(" [cut: {} more bytes]", text.len() - cut));
    }
    out
}

/// Longest guest error message shown.
pub const MAX_ERROR: usize = 4 * 1024;
/// Longest single log line shown.
pub const MAX_LINE: usize = 8 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_bounds_length() {
        assert_eq!(guest_text("a\u{1b}[2Jb\u{7}\tc", 100), "a\\u{1b}[2Jb\\u{7}\tc");
        assert_eq!(guest_text("héllo", 2), "h [cut: 5 more bytes]");
        assert_eq!(guest_text(&"x".repeat(10), 4), "xxxx [cut: 6 more bytes]");
    }
}
