//! Environment markers (PEP 508) evaluated for the one environment kiln/python builds:
//! CPython 3.11 on Linux x86_64.
//!
//! Grammar: `expr := and ('or' and)*`, `and := atom ('and' atom)*`,
//! `atom := '(' expr ')' | value op value`, a value being a marker variable or a quoted
//! string, `op` one of `== != < <= > >= ~= === in not in`. Versions compare numerically
//! for `python_version`, `python_full_version` and `implementation_version`; everything
//! else compares as strings. `extra` is never set (extras are not installed by markers).

/// The value of a marker variable in kiln's Python environment.
fn variable(name: &str) -> Option<&'static str> {
    Some(match name {
        "python_version" => "3.11",
        "python_full_version" | "implementation_version" => crate::runtime::PYTHON_VERSION,
        "os_name" => "posix",
        "sys_platform" => "linux",
        "platform_system" => "Linux",
        "platform_machine" => "x86_64",
        "platform_python_implementation" => "CPython",
        "implementation_name" => "cpython",
        "platform_release" | "platform_version" | "extra" => "",
        _ => return None,
    })
}

const VERSION_VARIABLES: &[&str] = &["python_version", "python_full_version", "implementation_version"];

/// Whether `marker` holds; an error names what could not be parsed.
pub fn evaluate(marker: &str) -> Result<bool, String> {
    let tokens = tokenize(marker)?;
    let mut parser = Parser { tokens: &tokens, at: 0 };
    let value = parser.or()?;
    if parser.at != tokens.len() {
        return Err(format!("cannot parse the marker {marker:?}"));
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '"' | '\'' => {
                let end = chars[i + 1..].iter().position(|&q| q == c).ok_or_else(|| format!("unclosed quote in {text:?}"))?;
                tokens.push(Token::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '=' | '!' | '<' | '>' | '~' => {
                let start = i;
                while i < chars.len() && matches!(chars[i], '=' | '!' | '<' | '>' | '~') {
                    i += 1;
                }
                tokens.push(Token::Op(chars[start..i].iter().collect()));
            }
            _ if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(format!("unexpected {c:?} in the marker {text:?}")),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            value |= self.and()?;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.atom()?;
        while self.peek_word("and") {
            self.at += 1;
            value &= self.atom()?;
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<bool, String> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let value = self.or()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return Err("a marker's ( is not closed".into());
            }
            self.at += 1;
            return Ok(value);
        }
        let (left, left_is_version) = self.value()?;
        let op = match self.tokens.get(self.at) {
            Some(Token::Op(op)) => op.clone(),
            Some(Token::Word(w)) if w == "in" => "in".to_string(),
            Some(Token::Word(w)) if w == "not" && matches!(self.tokens.get(self.at + 1), Some(Token::Word(i)) if i == "in") => {
                self.at += 1;
                "not in".to_string()
            }
            other => return Err(format!("expected a comparison in a marker, found {other:?}")),
        };
        self.at += 1;
        let (right, right_is_version) = self.value()?;
        compare(&left, &op, &right, left_is_version || right_is_version)
    }

    /// A value and whether it is a version variable.
    fn value(&mut self) -> Result<(String, bool), String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Quoted(s)) => Ok((s, false)),
            Some(Token::Word(w)) => match variable(&w) {
                Some(v) => Ok((v.to_string(), VERSION_VARIABLES.contains(&w.as_str()))),
                None => Err(format!("unknown marker variable {w:?}")),
            },
            other => Err(format!("expected a marker variable or a quoted string, found {other:?}")),
        }
    }
}

fn compare(left: &str, op: &str, right: &str, versions: bool) -> Result<bool, String> {
    if op == "in" {
        return Ok(right.contains(left));
    }
    if op == "not in" {
        return Ok(!right.contains(left));
    }
    if !versions {
        return match op {
            "==" | "===" => Ok(left == right),
            "!=" => Ok(left != right),
            _ => Err(format!("{op} compares versions, not {left:?} and {right:?}")),
        };
    }
    if let Some(prefix) = right.strip_suffix(".*") {
        let matches = left == prefix || left.starts_with(&format!("{prefix}."));
        return match op {
            "==" => Ok(matches),
            "!=" => Ok(!matches),
            _ => Err(format!("{op} with a wildcard version")),
        };
    }
    let (l, r) = (numbers(left), numbers(right));
    let ordering = {
        let len = l.len().max(r.len());
        let pad = |v: &[u64]| (0..len).map(|i| v.get(i).copied().unwrap_or(0)).collect::<Vec<_>>();
        pad(&l).cmp(&pad(&r))
    };
    use std::cmp::Ordering::*;
    Ok(match op {
        "==" | "===" => ordering == Equal,
        "!=" => ordering != Equal,
        "<" => ordering == Less,
        "<=" => ordering != Greater,
        ">" => ordering == Greater,
        ">=" => ordering != Less,
        "~=" => {
            // Compatible release: >= right, and the same prefix but for the last part.
            let prefix = &r[..r.len().saturating_sub(1)];
            ordering != Less && l.len() >= prefix.len() && &l[..prefix.len()] == prefix
        }
        _ => return Err(format!("unknown marker operator {op}")),
    })
}

fn numbers(version: &str) -> Vec<u64> {
    version.split('.').map(|part| part.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::evaluate;

    #[test]
    fn markers_hold_for_cpython_311_on_linux() {
        for marker in [
            "python_version >= \"3.8\"",
            "python_version < '3.12'",
            "python_version == \"3.11\"",
            "python_full_version >= \"3.11.1\"",
            "sys_platform == \"linux\" and platform_machine == \"x86_64\"",
            "sys_platform == \"win32\" or (os_name == \"posix\" and implementation_name == \"cpython\")",
            "python_version ~= \"3.9\"",
            "python_version == \"3.*\"",
            "\"linux\" in sys_platform",
            "platform_system not in \"Windows Darwin\"",
        ] {
            assert_eq!(evaluate(marker), Ok(true), "{marker}");
        }
        for marker in [
            "python_version < \"3.10\"",
            "sys_platform == \"win32\"",
            "platform_system == \"Windows\" and python_version >= \"3\"",
            "python_version == \"3.10.*\"",
            "extra == \"dev\"",
            "python_version ~= \"3.12\"",
        ] {
            assert_eq!(evaluate(marker), Ok(false), "{marker}");
        }
    }

    #[test]
    fn bad_markers_are_errors() {
        assert!(evaluate("python_version >=").is_err());
        assert!(evaluate("nonsense == \"1\"").unwrap_err().contains("unknown marker variable"));
        assert!(evaluate("(sys_platform == \"linux\"").is_err());
        assert!(evaluate("sys_platform == \"linux").unwrap_err().contains("unclosed quote"));
    }
}
