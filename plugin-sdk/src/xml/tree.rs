//! A small tree of a whole XML document — elements with local names, namespaces, attributes and text — for
//! connectors whose documents are small (registry answers, reference lists) and read by path, not streamed.
//!
//! It is as strict as [`XmlReader`](super::XmlReader) about hostile input: any DOCTYPE is refused, no entity
//! beyond the five predefined ones and character references is accepted, and nesting is bounded. Errors are
//! [`PluginError`]s with codes `xml-encoding`, `xml-doctype`, `xml-entity` and `xml-malformed` and a Russian
//! message naming the line and column.
//!
//! ```
//! use ipra_plugin_sdk::xml::tree;
//! let root = tree::parse("<a xmlns='urn:x'><b k='1'> x &amp; y </b></a>".as_bytes()).unwrap();
//! assert_eq!(root.namespace.as_deref(), Some("urn:x"));
//! assert_eq!(root.child("b").and_then(|b| b.attr("k")), Some("1"));
//! assert_eq!(root.child_text("b"), Some("x & y"));
//! assert_eq!(tree::parse(b"<!DOCTYPE a><a/>").unwrap_err().code, "xml-doctype");
//! ```

use crate::bindings::ipra::plugin::types::PluginError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceResolver, ResolveResult};
use quick_xml::{Reader, XmlVersion};

// The nesting bound of both readers; in the tree it also keeps recursion in callers and in `Drop` safe.
use super::MAX_DEPTH;

/// One element: namespace URI, local name, attributes by local name (namespace declarations dropped), children
/// and the concatenated text directly inside it.
///
/// ```
/// use ipra_plugin_sdk::xml::tree::{parse, Element};
/// let root = parse(b"<p:a xmlns:p='urn:p' p:k='v'>t<b/>u</p:a>").unwrap();
/// assert_eq!(
///     root,
///     Element {
///         namespace: Some("urn:p".to_string()),
///         name: "a".to_string(),
///         attributes: vec![("k".to_string(), "v".to_string())],
///         children: vec![Element { name: "b".to_string(), ..Element::default() }],
///         text: "tu".to_string(),
///     }
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// The namespace URI the element's prefix (or the default namespace) is bound to, `None` when unbound.
    pub namespace: Option<String>,
    /// The local name, without prefix.
    pub name: String,
    /// Attributes as (local name, value) in document order, values normalised as XML 1.0 says.
    pub attributes: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The text directly inside the element (not its children's), entities resolved, untrimmed.
    pub text: String,
}

impl Element {
    /// The value of an attribute by local name.
    ///
    /// ```
    /// let root = ipra_plugin_sdk::xml::tree::parse(b"<a k='1'/>").unwrap();
    /// assert_eq!((root.attr("k"), root.attr("x")), (Some("1"), None));
    /// ```
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first child element with this local name.
    ///
    /// ```
    /// let root = ipra_plugin_sdk::xml::tree::parse(b"<a><b>1</b><b>2</b></a>").unwrap();
    /// assert_eq!(root.child("b").map(|b| b.text.as_str()), Some("1"));
    /// assert!(root.child("c").is_none());
    /// ```
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child element with this local name.
    ///
    /// ```
    /// let root = ipra_plugin_sdk::xml::tree::parse(b"<a><b>1</b><c/><b>2</b></a>").unwrap();
    /// let texts: Vec<_> = root.children_named("b").map(|b| b.text.as_str()).collect();
    /// assert_eq!(texts, ["1", "2"]);
    /// ```
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of a child element, `None` when absent or blank.
    ///
    /// ```
    /// let root = ipra_plugin_sdk::xml::tree::parse(b"<a><b> x </b><c> </c></a>").unwrap();
    /// assert_eq!((root.child_text("b"), root.child_text("c"), root.child_text("d")), (Some("x"), None, None));
    /// ```
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim()).filter(|t| !t.is_empty())
    }
}

fn error(code: &str, message: String) -> PluginError {
    PluginError {
        code: code.into(),
        message,
        record: None,
        field: None,
    }
}

/// `строка L, позиция C` of a byte offset, for messages a person can act on.
fn position(text: &str, offset: u64) -> String {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
    let mut cut = offset;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &text[..cut];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("строка {line}, позиция {column}")
}

fn malformed(text: &str, offset: u64, detail: impl std::fmt::Display) -> PluginError {
    error(
        "xml-malformed",
        format!(
            "Документ не является корректным XML ({}): {detail}",
            position(text, offset)
        ),
    )
}

fn start_element(
    text: &str,
    offset: u64,
    resolver: &NamespaceResolver,
    start: &BytesStart,
) -> Result<Element, PluginError> {
    let (namespace, local) = resolver.resolve_element(start.name());
    let namespace = match namespace {
        ResolveResult::Bound(ns) => Some(ns.into_inner().to_string()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => {
            return Err(malformed(text, offset, format!("неизвестный префикс «{prefix}»")));
        }
    };
    let mut element = Element {
        namespace,
        name: local.into_inner().to_string(),
        ..Element::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| malformed(text, offset, e))?;
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| malformed(text, offset, e))?;
        element
            .attributes
            .push((attribute.key.local_name().into_inner().to_string(), value.into_owned()));
    }
    Ok(element)
}

/// Parses a UTF-8 document (a BOM is tolerated) into its root element.
///
/// ```
/// use ipra_plugin_sdk::xml::tree::parse;
/// assert_eq!(parse(b"\xEF\xBB\xBF<a/>").unwrap().name, "a");
/// assert_eq!(parse(b"<a>&e;</a>").unwrap_err().code, "xml-entity");
/// assert_eq!(parse("<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Я</a>".as_bytes()).unwrap_err().code, "xml-encoding");
/// let broken = parse(b"<a>\n  <b></c>\n</a>").unwrap_err();
/// assert_eq!(broken.code, "xml-malformed");
/// assert!(broken.message.contains("строка 2"), "{}", broken.message);
/// ```
pub fn parse(bytes: &[u8]) -> Result<Element, PluginError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The tree is read from UTF-8 only: a declaration naming another encoding contradicts the
    // bytes or asks for a decoding this reader does not do — either way the text is not trusted.
    if let Some(name) = super::declared_encoding(bytes) {
        if !matches!(
            name.to_ascii_lowercase().as_str(),
            "utf-8" | "utf8" | "us-ascii" | "ascii"
        ) {
            return Err(error(
                "xml-encoding",
                format!("в объявлении XML указана кодировка «{name}»: документ должен быть в UTF-8 и объявлен так"),
            ));
        }
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        error(
            "xml-encoding",
            format!("Документ не в кодировке UTF-8 (байт {})", e.valid_up_to() + 1),
        )
    })?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut resolver = NamespaceResolver::default();
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let offset = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| malformed(text, reader.error_position(), e))?;
        match event {
            Event::DocType(_) => {
                return Err(error(
                    "xml-doctype",
                    format!(
                        "Документ содержит объявление DOCTYPE ({}): такие документы не принимаются",
                        position(text, offset)
                    ),
                ));
            }
            Event::Start(start) => {
                if root.is_some() {
                    return Err(malformed(text, offset, "второй корневой элемент"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed(text, offset, "слишком глубокая вложенность элементов"));
                }
                resolver.push(&start).map_err(|e| malformed(text, offset, e))?;
                let element = start_element(text, offset, &resolver, &start)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(malformed(text, offset, "второй корневой элемент"));
                }
                resolver.push(&start).map_err(|e| malformed(text, offset, e))?;
                let element = start_element(text, offset, &resolver, &start);
                resolver.pop();
                let element = element?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                resolver.pop();
                let Some(element) = stack.pop() else {
                    return Err(malformed(text, offset, "лишний закрывающий тег"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => match stack.last_mut() {
                Some(current) => current.text.push_str(&t.xml10_content()),
                None if t.xml10_content().trim().is_empty() => {}
                None => return Err(malformed(text, offset, "текст вне корневого элемента")),
            },
            Event::CData(c) => {
                let Some(current) = stack.last_mut() else {
                    return Err(malformed(text, offset, "CDATA вне корневого элемента"));
                };
                current.text.push_str(&c.xml10_content());
            }
            Event::GeneralRef(r) => {
                let Some(current) = stack.last_mut() else {
                    return Err(malformed(text, offset, "ссылка на сущность вне корневого элемента"));
                };
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => current.text.push(c),
                        _ => return Err(malformed(text, offset, "недопустимая ссылка на символ")),
                    }
                } else {
                    let name = r.xml10_content();
                    let Some(value) = quick_xml::escape::resolve_xml_entity(&name) else {
                        return Err(error(
                            "xml-entity",
                            format!(
                                "Документ ссылается на неизвестную сущность «&{name};» ({}): сущности не принимаются",
                                position(text, offset)
                            ),
                        ));
                    };
                    current.text.push_str(value);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed(
            text,
            text.len() as u64,
            "документ оборван: не закрыт элемент",
        ));
    }
    root.ok_or_else(|| malformed(text, 0, "нет корневого элемента"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_names_namespaces_attributes_and_text() {
        let root =
            parse("<a xmlns='urn:x' xmlns:t='urn:t' k='1 &amp; 2'><t:b>x &lt; y&#1046;</t:b><c/></a>".as_bytes())
                .unwrap();
        assert_eq!(root.namespace.as_deref(), Some("urn:x"));
        assert_eq!(root.attr("k"), Some("1 & 2"));
        let b = root.child("b").unwrap();
        assert_eq!((b.namespace.as_deref(), b.text.as_str()), (Some("urn:t"), "x < yЖ"));
        assert!(root.child("c").is_some());
    }

    #[test]
    fn refuses_doctype_entities_and_broken_documents() {
        let doctype = parse(b"<?xml version='1.0'?>\n<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>").unwrap_err();
        assert_eq!(doctype.code, "xml-doctype");
        assert!(doctype.message.contains("строка 2"), "{}", doctype.message);
        assert_eq!(parse(b"<a>&e;</a>").unwrap_err().code, "xml-entity");
        let broken = parse(b"<a>\n  <b></c>\n</a>").unwrap_err();
        assert_eq!(broken.code, "xml-malformed");
        assert!(broken.message.contains("строка 2"), "{}", broken.message);
        assert_eq!(parse(b"<a><b>").unwrap_err().code, "xml-malformed");
        assert_eq!(parse(b"").unwrap_err().code, "xml-malformed");
        assert_eq!(parse(b"\xff\xfe").unwrap_err().code, "xml-encoding");
    }
}
