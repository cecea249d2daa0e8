//! Error text for messages: an error with its sources on one line.

/// `error` followed by each of its sources, `: `-separated, e.g. "error sending request:
/// connection refused". A source whose text the message already holds is left out (many
/// errors repeat their source in their own `Display`).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layer(text: &'static str, source: Option<Layer>) -> Layer {
        Layer { text, source: source.map(Box::new) }
    }

    #[test]
    fn sources_follow_on_one_line_without_repeats() {
        let error = layer("error sending request", Some(layer("connect failed", Some(layer("connection refused", None)))));
        assert_eq!(error_chain(&error), "error sending request: connect failed: connection refused");
        let repeating = layer("download failed: timed out", Some(layer("timed out", None)));
        assert_eq!(error_chain(&repeating), "download failed: timed out");
    }
}
