//! Procfile parsing: `type: command` lines, `#` comments and blank lines ignored.

use kiln_sdk::Error;

/// One process line.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// The process type (letters, digits, `.`, `_`, `-`).
    pub process_type: String,
    /// The shell command line.
    pub command: String,
}

/// Parse a Procfile; an error names the line and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<Entry>, Error> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, command)) = line.split_once(':') else {
            return Err(Error::new(format!("Procfile line {line_no}: expected `type: command`, found {line:?}")));
        };
        let name = name.trim();
        let command = command.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            return Err(Error::new(format!(
                "Procfile line {line_no}: process type {name:?} may only contain letters, digits, '.', '_' and '-'"
            )));
        }
        if command.is_empty() {
            return Err(Error::new(format!("Procfile line {line_no}: process type {name:?} has no command")));
        }
        if entries.iter().any(|e| e.process_type == name) {
            return Err(Error::new(format!("Procfile line {line_no}: process type {name:?} is defined twice")));
        }
        entries.push(Entry { process_type: name.to_string(), command: command.to_string() });
    }
    if entries.is_empty() {
        return Err(Error::new("Procfile declares no processes"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_processes_and_skips_comments() {
        let parsed = parse("# app\nweb: httpd -p $PORT\n\nworker:  run --fast \n").unwrap();
        assert_eq!(
            parsed,
            vec![
                Entry { process_type: "web".into(), command: "httpd -p $PORT".into() },
                Entry { process_type: "worker".into(), command: "run --fast".into() },
            ]
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(parse("web httpd").unwrap_err().to_string().contains("line 1"));
        assert!(parse("w b: x").unwrap_err().to_string().contains("may only contain"));
        assert!(parse("web:").unwrap_err().to_string().contains("no command"));
        assert!(parse("web: a\nweb: b").unwrap_err().to_string().contains("twice"));
        assert!(parse("# nothing\n").unwrap_err().to_string().contains("no processes"));
    }
}
