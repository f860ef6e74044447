//! Writing outgoing XML: a small indenting writer whose escaping keeps every text exactly as given and whose
//! output always parses, shared by department documents and connector packages.

/// A small indenting XML writer with correct escaping, for the documents plugins render: department report
/// sections and follow-ups, connector packages and requests.
///
/// Text and attribute values are escaped; characters XML 1.0 forbids (control characters other than tab, line
/// feed and carriage return) are replaced with U+FFFD so the document always parses.
///
/// ```
/// use ipra_plugin_sdk::xml::writer::XmlWriter;
/// let mut xml = XmlWriter::new();
/// xml.open("Request", &[("xmlns", "urn:example")]);
/// xml.leaf("Reason", "Вид <ТСР> & параметры");
/// xml.leaf_opt("Comment", None);
/// xml.close("Request");
/// let text = xml.finish();
/// assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Request xmlns=\"urn:example\">"));
/// assert!(text.contains("<Reason>Вид &lt;ТСР&gt; &amp; параметры</Reason>"));
/// assert!(!text.contains("Comment"));
/// ```
#[derive(Debug, Clone)]
pub struct XmlWriter {
    out: String,
    depth: usize,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document with its XML declaration (UTF-8).
    ///
    /// ```
    /// assert!(ipra_plugin_sdk::xml::writer::XmlWriter::new().finish().starts_with("<?xml"));
    /// ```
    pub fn new() -> Self {
        XmlWriter {
            out: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_string(),
            depth: 0,
        }
    }

    fn start(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value, true);
            self.out.push('"');
        }
    }

    /// Opens an element; close it with [`XmlWriter::close`].
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.open("A", &[("b", "\"x\"")]);
    /// xml.close("A");
    /// assert!(xml.finish().contains("<A b=\"&quot;x&quot;\">\n</A>"));
    /// ```
    pub fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start(name, attributes);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// Closes the element opened last.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.open("A", &[]);
    /// xml.close("A");
    /// assert!(xml.finish().ends_with("</A>\n"));
    /// ```
    pub fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// An empty element.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.empty("A", &[("code", "1")]);
    /// assert!(xml.finish().contains("<A code=\"1\"/>"));
    /// ```
    pub fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start(name, attributes);
        self.out.push_str("/>\n");
    }

    /// An element with text content (kept exactly, escaped).
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.leaf("A", " a\u{1}b\r ");
    /// assert!(xml.finish().contains("<A> a\u{FFFD}b&#13; </A>"));
    /// ```
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    /// An element with attributes and text content.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.leaf_with("Reason", &[("code", "refused")], "Отказ");
    /// assert!(xml.finish().contains("<Reason code=\"refused\">Отказ</Reason>"));
    /// ```
    pub fn leaf_with(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.start(name, attributes);
        self.out.push('>');
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// An element with text content when the text is present and not blank; nothing otherwise.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.leaf_opt("A", Some("  "));
    /// xml.leaf_opt("B", Some("b"));
    /// let text = xml.finish();
    /// assert!(!text.contains("<A>") && text.contains("<B>b</B>"));
    /// ```
    pub fn leaf_opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            self.leaf(name, text);
        }
    }

    /// The document's text.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::writer::XmlWriter;
    /// let mut xml = XmlWriter::new();
    /// xml.empty("A", &[]);
    /// assert_eq!(xml.finish(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<A/>\n");
    /// ```
    pub fn finish(self) -> String {
        self.out
    }
}

/// Element text escaped for XML 1.0, for documents written by hand rather than with [`XmlWriter`]:
/// markup characters become references, a CR stays a CR (as a reference), characters XML cannot
/// carry become U+FFFD.
///
/// ```
/// use ipra_plugin_sdk::xml::writer::escape_text;
/// assert_eq!(escape_text("a < b & \"c\"\r"), "a &lt; b &amp; \"c\"&#13;");
/// assert_eq!(escape_text("\u{1}"), "\u{FFFD}");
/// ```
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, false);
    out
}

fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            // Attribute-value normalisation would turn these into spaces; a reference keeps them.
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            // A literal CR is normalised away by every parser; a reference keeps it.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}
