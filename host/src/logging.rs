//! The log on standard error: readable text for a person at a terminal, or one JSON object per line
//! for a log collector (`log.format = "json"` in ipra.toml, `IPRA_LOG_FORMAT=json`).
//!
//! A JSON line holds `timestamp` (RFC 3339, UTC), `level`, `target`, `message`, `fields` (the
//! event's other fields, when it has any) and `span` (the span it happened in, with its fields:
//! `request` with the method and route template of an HTTP request). Personal data is never put
//! in a log line by the server's own code: requests are logged by their route template, never by
//! the address as asked or its query string.

use std::fmt;
use std::io::IsTerminal;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The filter when the configured one does not parse.
const FALLBACK_LEVEL: &str = "warn,ipra=info";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Lines for a person (colours at a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Format {
    /// The format named by the setting (`text` or `json`); none set: text. The error names the
    /// setting, in Russian.
    pub fn parse(value: Option<&str>) -> Result<Format, String> {
        match value.map(str::trim) {
            None | Some("") | Some("text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(format!(
                "неизвестный формат журнала «{other}» (настройка format в разделе [log] файла ipra.toml, \
                 переменная окружения IPRA_LOG_FORMAT): ожидается text или json"
            )),
        }
    }
}

/// Installs the log for the whole process: `level` is a `tracing` filter (`warn,ipra=info`,
/// `debug`, `warn,ipra::http=debug` for a line per HTTP request); one that does not parse is
/// replaced by `warn,ipra=info`, with a warning in the log itself.
pub fn init(level: &str, format: Format) {
    let (filter, refused) = match EnvFilter::try_new(level) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new(FALLBACK_LEVEL), Some(e)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Another subscriber installed first (a test harness) keeps its place.
    let _ = match format {
        Format::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        Format::Json => builder.fmt_fields(JsonFields::new()).event_format(JsonLines).try_init(),
    };
    if format == Format::Json {
        // A panic is a log line like any other, not lines of plain text among the objects.
        std::panic::set_hook(Box::new(|info| {
            let backtrace = std::backtrace::Backtrace::capture();
            match backtrace.status() {
                std::backtrace::BacktraceStatus::Captured => {
                    tracing::error!(target: "panic", backtrace = %backtrace, "{info}")
                }
                _ => tracing::error!(target: "panic", "{info}"),
            }
        }));
    }
    if let Some(e) = refused {
        tracing::warn!(
            "уровень журнала «{level}» (настройка level в разделе [log], IPRA_LOG) не разобран: {e}; действует {FALLBACK_LEVEL}"
        );
    }
}

/// Writes an event as one JSON object on a line.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = String::new();
        JsonFields::new().format_fields(Writer::new(&mut fields), event)?;
        let mut fields = match serde_json::from_str::<serde_json::Value>(&fields) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let message = fields.remove("message").unwrap_or_else(|| "".into());
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut line = serde_json::Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        line.insert("message".into(), message);
        if !fields.is_empty() {
            line.insert("fields".into(), fields.into());
        }
        if let Some(span) = ctx.event_scope().and_then(|mut scope| scope.next()) {
            let mut object = serde_json::Map::new();
            object.insert("name".into(), span.name().into());
            // The span's fields, as `JsonFields` (this subscriber's field format) wrote them.
            if let Some(recorded) = span.extensions().get::<FormattedFields<N>>() {
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(recorded.as_str()) {
                    object.extend(map);
                }
            }
            line.insert("span".into(), object.into());
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_format_and_names_the_setting_when_it_cannot() {
        assert_eq!(Format::parse(None), Ok(Format::Text));
        assert_eq!(Format::parse(Some("text")), Ok(Format::Text));
        assert_eq!(Format::parse(Some(" json ")), Ok(Format::Json));
        let e = Format::parse(Some("xml")).unwrap_err();
        assert!(
            e.contains("«xml»") && e.contains("IPRA_LOG_FORMAT") && e.contains("[log]"),
            "{e}"
        );
    }

    /// An event inside a span, written as JSON: one line, its message, fields and span.
    #[test]
    fn writes_one_object_per_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", method = "GET", route = "/api/v1/ipras/{id}");
            let _entered = span.enter();
            tracing::warn!(status = 503, "ответ \"с кавычками\"\nи переводом строки");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "ответ \"с кавычками\"\nи переводом строки");
        assert_eq!(line["fields"]["status"], 503);
        assert_eq!(line["span"]["name"], "request");
        assert_eq!(line["span"]["route"], "/api/v1/ipras/{id}");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(line["target"].as_str().unwrap().contains("logging"), "{line}");
    }
}
