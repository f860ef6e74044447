//! Safe reading of incoming XML: decoding to text (UTF-8 with or without BOM, UTF-16 with BOM, windows-1251
//! from the XML declaration) and a pull reader over `quick-xml` that refuses DTDs and unknown entities.
//!
//! The reader is small on purpose: parsers walk start and end tags with [`XmlReader::next_tag`], read a leaf's
//! text exactly as written with [`XmlReader::read_text`] (entities resolved, nothing trimmed, borrowed from the
//! input when no entity or carriage return forces a copy) and skip what they do not need with
//! [`XmlReader::skip`]. Any `<!DOCTYPE …>` is an error, so no entity can be declared, let alone expanded
//! ("billion laughs", external entities); a reference to anything but the five predefined entities and
//! character references is an error as well.
//!
//! ```
//! use ipra_plugin_sdk::xml::{decode_document, Tag, XmlReader};
//! let text = decode_document(b"<a><b> x &amp; y </b></a>").unwrap();
//! let mut reader = XmlReader::new(&text);
//! let mut found = None;
//! while let Tag::Open(start) | Tag::Empty(start) = reader.next_tag().unwrap() {
//!     if start.local_name().as_ref() == "b" {
//!         found = Some(reader.read_text().unwrap());
//!     }
//! }
//! assert_eq!(found.as_deref(), Some(" x & y "));
//!
//! let hostile = "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>";
//! let error = XmlReader::new(hostile).next_tag().unwrap_err();
//! assert_eq!(error.code(), "xml-dtd");
//! ```

use quick_xml::events::{BytesRef, BytesStart, Event};
use std::borrow::Cow;
use thiserror::Error;

/// A problem that makes a whole document unreadable. `Display` is the Russian message with the position;
/// [`code`](XmlError::code) the stable machine code.
///
/// ```
/// use ipra_plugin_sdk::xml::{Tag, XmlReader};
/// let mut reader = XmlReader::new("<a>\n<b></a>");
/// let error = loop {
///     match reader.next_tag() {
///         Ok(Tag::Eof) => panic!("not well-formed"),
///         Ok(_) => {}
///         Err(e) => break e,
///     }
/// };
/// assert_eq!(error.code(), "xml-malformed");
/// assert!(error.to_string().contains("строка 2"), "{error}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    /// The bytes are not in a supported encoding, or not valid in the encoding they claim.
    #[error("{0}")]
    Encoding(String),
    /// A document type declaration: refused, whatever it declares.
    #[error("документ содержит объявление DOCTYPE (строка {line}, столбец {column}): DTD и объявления сущностей не допускаются")]
    Dtd {
        /// Line of the declaration, from 1.
        line: usize,
        /// Column (in characters), from 1.
        column: usize,
    },
    /// A reference to an entity that is neither predefined nor a character reference.
    #[error("ссылка на неизвестную сущность «&{name};» (строка {line}, столбец {column})")]
    Entity {
        /// The entity name as written.
        name: String,
        /// Line, from 1.
        line: usize,
        /// Column (in characters), from 1.
        column: usize,
    },
    /// Not well-formed XML, including a document cut short.
    #[error("документ не является корректным XML: {detail} (строка {line}, столбец {column})")]
    Malformed {
        /// What is wrong, in Russian, naming the element when known.
        detail: String,
        /// Line, from 1.
        line: usize,
        /// Column (in characters), from 1.
        column: usize,
    },
}

impl XmlError {
    /// Stable machine code: `xml-encoding`, `xml-dtd`, `xml-entity` or `xml-malformed`.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::xml::decode_document(&[0xff, 0xff]).unwrap_err().code(), "xml-encoding");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            XmlError::Encoding(_) => "xml-encoding",
            XmlError::Dtd { .. } => "xml-dtd",
            XmlError::Entity { .. } => "xml-entity",
            XmlError::Malformed { .. } => "xml-malformed",
        }
    }
}

/// Decodes the bytes of an XML document to text. UTF-8 (with or without BOM) is borrowed, validated only;
/// UTF-16 with a BOM and windows-1251 (named in the XML declaration as `windows-1251`, `cp1251` and the like)
/// are converted. Any other declared encoding is an error, as are bytes invalid in their encoding.
///
/// ```
/// use ipra_plugin_sdk::xml::decode_document;
/// use std::borrow::Cow;
/// assert!(matches!(decode_document(b"\xEF\xBB\xBF<a/>").unwrap(), Cow::Borrowed("<a/>")));
/// let cp1251 = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>\xcf\xf0\xe8\xec\xe5\xf0</a>";
/// assert!(decode_document(cp1251).unwrap().ends_with("<a>Пример</a>"));
/// let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("<a>Я</a>".encode_utf16().flat_map(u16::to_le_bytes)).collect();
/// assert_eq!(decode_document(&utf16).unwrap(), "<a>Я</a>");
/// assert_eq!(decode_document(b"<?xml version='1.0' encoding='KOI8-R'?><a/>").unwrap_err().code(), "xml-encoding");
/// ```
pub fn decode_document(bytes: &[u8]) -> Result<Cow<'_, str>, XmlError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes).map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes).map(Cow::Owned);
    }
    if bytes.starts_with(&[0, b'<']) || bytes.starts_with(&[b'<', 0]) {
        return Err(XmlError::Encoding(
            "документ в кодировке UTF-16 без метки порядка байтов (BOM) не поддерживается".to_string(),
        ));
    }
    match declared_encoding(bytes) {
        None => utf8(bytes),
        Some(name) => match name.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" | "us-ascii" | "ascii" => utf8(bytes),
            "windows-1251" | "cp1251" | "cp-1251" | "x-cp1251" | "win-1251" | "windows1251" | "1251" => {
                decode_windows_1251(bytes).map(Cow::Owned)
            }
            _ => Err(XmlError::Encoding(format!(
                "кодировка «{name}» не поддерживается (допустимы UTF-8, UTF-16 с BOM и windows-1251)"
            ))),
        },
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>, XmlError> {
    std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
        XmlError::Encoding(format!(
            "документ не в кодировке UTF-8: недопустимая последовательность байтов (смещение {})",
            e.valid_up_to()
        ))
    })
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, XmlError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(XmlError::Encoding(
            "документ UTF-16 оборван: нечётное число байтов".to_string(),
        ));
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| XmlError::Encoding("документ UTF-16 содержит непарный суррогат".to_string()))
}

/// The `encoding` pseudo-attribute of an XML declaration at the very start of `bytes`, if any.
///
/// ```
/// use ipra_plugin_sdk::xml::declared_encoding;
/// assert_eq!(declared_encoding(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><a/>"), Some("windows-1251"));
/// assert_eq!(declared_encoding(b"<?xml version=\"1.0\"?><a/>"), None);
/// ```
pub fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let end = bytes.windows(2).take(512).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&bytes[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// Unicode of the bytes 0x80..=0xFF of windows-1251; 0x98 is unassigned (`'\0'` marks it).
const WINDOWS_1251_HIGH: [char; 128] = [
    'Ђ', 'Ѓ', '‚', 'ѓ', '„', '…', '†', '‡', '€', '‰', 'Љ', '‹', 'Њ', 'Ќ', 'Ћ', 'Џ', //
    'ђ', '‘', '’', '“', '”', '•', '–', '—', '\0', '™', 'љ', '›', 'њ', 'ќ', 'ћ', 'џ', //
    '\u{a0}', 'Ў', 'ў', 'Ј', '¤', 'Ґ', '¦', '§', 'Ё', '©', 'Є', '«', '¬', '\u{ad}', '®', 'Ї', //
    '°', '±', 'І', 'і', 'ґ', 'µ', '¶', '·', 'ё', '№', 'є', '»', 'ј', 'Ѕ', 'ѕ', 'ї', //
    'А', 'Б', 'В', 'Г', 'Д', 'Е', 'Ж', 'З', 'И', 'Й', 'К', 'Л', 'М', 'Н', 'О', 'П', //
    'Р', 'С', 'Т', 'У', 'Ф', 'Х', 'Ц', 'Ч', 'Ш', 'Щ', 'Ъ', 'Ы', 'Ь', 'Э', 'Ю', 'Я', //
    'а', 'б', 'в', 'г', 'д', 'е', 'ж', 'з', 'и', 'й', 'к', 'л', 'м', 'н', 'о', 'п', //
    'р', 'с', 'т', 'у', 'ф', 'х', 'ц', 'ч', 'ш', 'щ', 'ъ', 'ы', 'ь', 'э', 'ю', 'я', //
];

/// Decodes windows-1251 bytes (the whole document, declaration included) to text.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::xml::decode_windows_1251(b"\xb9 5").unwrap(), "№ 5");
/// assert_eq!(ipra_plugin_sdk::xml::decode_windows_1251(b"\x98").unwrap_err().code(), "xml-encoding");
/// ```
pub fn decode_windows_1251(bytes: &[u8]) -> Result<String, XmlError> {
    let mut text = String::with_capacity(bytes.len() * 2);
    for (offset, &byte) in bytes.iter().enumerate() {
        if byte < 0x80 {
            text.push(char::from(byte));
        } else {
            match WINDOWS_1251_HIGH[usize::from(byte - 0x80)] {
                '\0' => {
                    return Err(XmlError::Encoding(format!(
                        "байт 0x{byte:02X} (смещение {offset}) не определён в кодировке windows-1251"
                    )))
                }
                c => text.push(c),
            }
        }
    }
    Ok(text)
}

/// Encodes text to windows-1251, or `None` when a character has no code there (for writers and tests).
///
/// ```
/// let bytes = ipra_plugin_sdk::xml::encode_windows_1251("Ёж №1").unwrap();
/// assert_eq!(bytes, b"\xa8\xe6 \xb91");
/// assert!(ipra_plugin_sdk::xml::encode_windows_1251("日本").is_none());
/// ```
pub fn encode_windows_1251(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| {
            if (c as u32) < 0x80 {
                Some(c as u8)
            } else {
                let index = WINDOWS_1251_HIGH.iter().position(|&h| h == c && h != '\0')?;
                Some(0x80 + index as u8)
            }
        })
        .collect()
}

/// What [`XmlReader::next_tag`] returns: markup that matters to a parser. Text between elements,
/// comments, processing instructions and the XML declaration are passed over.
///
/// ```
/// use ipra_plugin_sdk::xml::{Tag, XmlReader};
/// let mut reader = XmlReader::new("<a><b/></a>");
/// assert!(matches!(reader.next_tag().unwrap(), Tag::Open(_)));
/// assert!(matches!(reader.next_tag().unwrap(), Tag::Empty(_)));
/// assert_eq!(reader.next_tag().unwrap(), Tag::Close);
/// assert_eq!(reader.next_tag().unwrap(), Tag::Eof);
/// ```
#[derive(Debug, PartialEq)]
pub enum Tag<'a> {
    /// A start tag `<x …>`.
    Open(BytesStart<'a>),
    /// An empty element `<x …/>`: no [`Tag::Close`] follows.
    Empty(BytesStart<'a>),
    /// An end tag (its name was checked against the start tag).
    Close,
    /// The end of a complete document.
    Eof,
}

/// Pull reader over a decoded document. Configured for exact text (no trimming), checked end names and
/// no DTD; tracks the open elements so that a document cut short is reported with the element left open.
///
/// ```
/// use ipra_plugin_sdk::xml::{Tag, XmlReader};
/// let mut reader = XmlReader::new("<a><b>");
/// let error = loop {
///     match reader.next_tag() {
///         Ok(Tag::Eof) => panic!("a truncated document is an error"),
///         Ok(_) => {}
///         Err(e) => break e,
///     }
/// };
/// assert_eq!(error.to_string(), "документ не является корректным XML: документ оборван, не закрыт элемент <b> (строка 1, столбец 7)");
/// ```
pub struct XmlReader<'a> {
    inner: quick_xml::Reader<&'a [u8]>,
    source: &'a str,
    open: Vec<&'a str>,
}

impl<'a> XmlReader<'a> {
    /// A reader over `source` (see [`decode_document`] to get it from bytes).
    ///
    /// ```
    /// let mut reader = ipra_plugin_sdk::xml::XmlReader::new("<a/>");
    /// assert_eq!(reader.depth(), 0);
    /// ```
    pub fn new(source: &'a str) -> Self {
        let mut inner = quick_xml::Reader::from_str(source);
        let config = inner.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        XmlReader {
            inner,
            source,
            open: Vec::with_capacity(16),
        }
    }

    /// How many elements are open.
    ///
    /// ```
    /// let mut reader = ipra_plugin_sdk::xml::XmlReader::new("<a><b/></a>");
    /// reader.next_tag().unwrap();
    /// assert_eq!(reader.depth(), 1);
    /// ```
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    /// Byte offset in the source after the last event.
    ///
    /// ```
    /// let mut reader = ipra_plugin_sdk::xml::XmlReader::new("<a/>");
    /// reader.next_tag().unwrap();
    /// assert_eq!(reader.position(), 4);
    /// ```
    pub fn position(&self) -> usize {
        usize::try_from(self.inner.buffer_position()).unwrap_or(usize::MAX)
    }

    /// Line and column (both from 1, the column in characters) of a byte offset in the source.
    ///
    /// ```
    /// let reader = ipra_plugin_sdk::xml::XmlReader::new("<a>\n  <б/>");
    /// assert_eq!(reader.line_column(6), (2, 3));
    /// assert_eq!(reader.line_column(9), (2, 5)); // after the two-byte «б»
    /// ```
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.source.len());
        while !self.source.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.source[..end];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }

    /// A malformed-document error at `offset` with a Russian `detail`.
    ///
    /// ```
    /// let reader = ipra_plugin_sdk::xml::XmlReader::new("<a/>");
    /// assert_eq!(reader.malformed(0, "корневой элемент не тот").code(), "xml-malformed");
    /// ```
    pub fn malformed(&self, offset: usize, detail: impl Into<String>) -> XmlError {
        let (line, column) = self.line_column(offset);
        XmlError::Malformed {
            detail: detail.into(),
            line,
            column,
        }
    }

    /// The next start, empty or end tag, or the end of the document.
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let mut reader = XmlReader::new("<?xml version=\"1.0\"?><!-- c --><a>text</a>");
    /// assert!(matches!(reader.next_tag().unwrap(), Tag::Open(s) if s.local_name().as_ref() == "a"));
    /// assert_eq!(reader.next_tag().unwrap(), Tag::Close);
    /// ```
    pub fn next_tag(&mut self) -> Result<Tag<'a>, XmlError> {
        loop {
            match self.event()? {
                Event::Start(start) => {
                    let name = self.reborrow(start.name().into_inner());
                    self.open.push(name);
                    return Ok(Tag::Open(start));
                }
                Event::Empty(start) => return Ok(Tag::Empty(start)),
                Event::End(_) => {
                    self.open.pop();
                    return Ok(Tag::Close);
                }
                Event::Eof => return self.eof(),
                Event::GeneralRef(reference) => {
                    self.resolve(&reference)?;
                }
                Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(self.dtd()),
            }
        }
    }

    /// The text of the element just opened by [`Tag::Open`], exactly as written: character data and CDATA,
    /// entity and character references resolved, line ends normalised as XML 1.0 requires, nothing trimmed.
    /// Child elements are passed over. Consumes the end tag.
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::XmlReader;
    /// let mut reader = XmlReader::new("<a>  ООО &quot;Ромашка&quot; &#x41;<![CDATA[<b>]]>  </a>");
    /// reader.next_tag().unwrap();
    /// assert_eq!(reader.read_text().unwrap(), "  ООО \"Ромашка\" A<b>  ");
    /// assert_eq!(reader.depth(), 0);
    /// ```
    pub fn read_text(&mut self) -> Result<Cow<'a, str>, XmlError> {
        let depth = self.open.len();
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        loop {
            match self.event()? {
                Event::Text(t) => append(&mut text, t.xml10_content()),
                Event::CData(c) => append(&mut text, c.xml10_content()),
                Event::GeneralRef(reference) => {
                    let resolved = self.resolve(&reference)?;
                    text.to_mut().push(resolved);
                }
                Event::Start(start) => {
                    let name = self.reborrow(start.name().into_inner());
                    self.open.push(name);
                }
                Event::End(_) => {
                    self.open.pop();
                    if self.open.len() < depth {
                        return Ok(text);
                    }
                }
                Event::Eof => {
                    self.eof()?;
                    return Ok(text);
                }
                Event::DocType(_) => return Err(self.dtd()),
                Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }

    /// Passes over the rest of the element just opened by [`Tag::Open`], its end tag included.
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let mut reader = XmlReader::new("<a><b><c/>x</b><d/></a>");
    /// reader.next_tag().unwrap();
    /// reader.next_tag().unwrap();
    /// reader.skip().unwrap();
    /// assert!(matches!(reader.next_tag().unwrap(), Tag::Empty(d) if d.local_name().as_ref() == "d"));
    /// ```
    pub fn skip(&mut self) -> Result<(), XmlError> {
        let depth = self.open.len();
        while self.open.len() >= depth {
            if self.next_tag()? == Tag::Eof {
                break;
            }
        }
        Ok(())
    }

    /// The value of attribute `name` (qualified name as written) of a start tag, normalised as XML 1.0
    /// requires; an unknown entity in it is an error.
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let mut reader = XmlReader::new(r#"<a id="Number" name="Номер &amp; дата"/>"#);
    /// let Tag::Empty(start) = reader.next_tag().unwrap() else { panic!() };
    /// assert_eq!(reader.attribute(&start, "id").unwrap().as_deref(), Some("Number"));
    /// assert_eq!(reader.attribute(&start, "name").unwrap().as_deref(), Some("Номер & дата"));
    /// assert_eq!(reader.attribute(&start, "x").unwrap(), None);
    /// ```
    pub fn attribute(&self, start: &BytesStart<'_>, name: &str) -> Result<Option<Cow<'a, str>>, XmlError> {
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|e| self.malformed(self.position(), format!("ошибка в атрибуте: {e}")))?;
            if attribute.key.into_inner() != name {
                continue;
            }
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| self.malformed(self.position(), format!("ошибка в значении атрибута «{name}»: {e}")))?;
            return Ok(Some(match value {
                Cow::Borrowed(s) => Cow::Borrowed(self.reborrow(s)),
                Cow::Owned(s) => Cow::Owned(s),
            }));
        }
        Ok(None)
    }

    /// The namespace URI that the element's own prefix is bound to by an `xmlns`/`xmlns:prefix` attribute
    /// of that same element (how FRI and SMEV root elements declare it).
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let mut reader = XmlReader::new(r#"<fri:В xmlns:fri="http://fri.pfr.ru"/>"#);
    /// let Tag::Empty(root) = reader.next_tag().unwrap() else { panic!() };
    /// assert_eq!(reader.own_namespace(&root).unwrap().as_deref(), Some("http://fri.pfr.ru"));
    /// ```
    pub fn own_namespace(&self, start: &BytesStart<'_>) -> Result<Option<Cow<'a, str>>, XmlError> {
        let declaration = match start.name().prefix() {
            Some(prefix) => format!("xmlns:{}", prefix.into_inner()),
            None => "xmlns".to_string(),
        };
        self.attribute(start, &declaration)
    }

    fn event(&mut self) -> Result<Event<'a>, XmlError> {
        self.inner.read_event().map_err(|e| self.convert(e))
    }

    fn eof(&self) -> Result<Tag<'a>, XmlError> {
        match self.open.last() {
            None => Ok(Tag::Eof),
            Some(name) => Err(self.malformed(
                self.source.len(),
                format!("документ оборван, не закрыт элемент <{name}>"),
            )),
        }
    }

    fn dtd(&self) -> XmlError {
        let (line, column) = self.line_column(self.position());
        XmlError::Dtd { line, column }
    }

    fn resolve(&self, reference: &BytesRef<'_>) -> Result<char, XmlError> {
        let name: &str = reference;
        let predefined = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => None,
        };
        if let Some(c) = predefined {
            return Ok(c);
        }
        match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            Ok(None) | Err(_) => {
                let (line, column) = self.line_column(self.position());
                Err(XmlError::Entity {
                    name: name.to_string(),
                    line,
                    column,
                })
            }
        }
    }

    /// The same text as a slice of the source when it is one (events borrow from it), else empty: lets names
    /// outlive their event without a copy.
    fn reborrow(&self, text: &str) -> &'a str {
        let start = self.source.as_ptr() as usize;
        let at = text.as_ptr() as usize;
        if at >= start && at + text.len() <= start + self.source.len() {
            let offset = at - start;
            self.source.get(offset..offset + text.len()).unwrap_or("")
        } else {
            ""
        }
    }

    fn convert(&self, error: quick_xml::Error) -> XmlError {
        use quick_xml::errors::{IllFormedError, SyntaxError};
        let offset = usize::try_from(self.inner.error_position()).unwrap_or(usize::MAX);
        let detail = match &error {
            quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
                format!("закрывающий тег </{found}> не соответствует открытому элементу <{expected}>")
            }
            quick_xml::Error::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
                format!("закрывающий тег </{name}> без открывающего")
            }
            quick_xml::Error::IllFormed(IllFormedError::MissingEndTag(name)) => {
                format!("не закрыт элемент <{name}>")
            }
            quick_xml::Error::Syntax(
                SyntaxError::UnclosedTag
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue
                | SyntaxError::UnclosedDoctype,
            ) => match self.open.last() {
                Some(name) => format!("документ оборван внутри разметки, не закрыт элемент <{name}>"),
                None => "документ оборван внутри разметки".to_string(),
            },
            quick_xml::Error::IllFormed(IllFormedError::UnclosedReference) => {
                "символ «&» без ссылки на сущность (должно быть &amp;amp;)".to_string()
            }
            other => format!("ошибка разбора ({other})"),
        };
        let detail = match (self.open.last(), &error) {
            (Some(name), quick_xml::Error::IllFormed(IllFormedError::UnclosedReference)) => {
                format!("{detail} в элементе <{name}>")
            }
            _ => detail,
        };
        self.malformed(offset, detail)
    }
}

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Result<usize, XmlError> {
        let mut reader = XmlReader::new(text);
        let mut tags = 0;
        while reader.next_tag()? != Tag::Eof {
            tags += 1;
        }
        Ok(tags)
    }

    #[test]
    fn windows_1251_table_round_trips() {
        let all: Vec<u8> = (0u8..=255).filter(|&b| b != 0x98).collect();
        let text = decode_windows_1251(&all).unwrap();
        assert_eq!(text.chars().count(), 255);
        assert_eq!(encode_windows_1251(&text).unwrap(), all);
        assert_eq!(
            text.chars().skip(191).collect::<String>(),
            "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюя"
        );
    }

    #[test]
    fn hostile_markup_is_refused() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
        assert_eq!(read_all(laughs).unwrap_err().code(), "xml-dtd");
        let external = "<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>";
        assert_eq!(read_all(external).unwrap_err().code(), "xml-dtd");
        let unknown = "<a>&nbsp;</a>";
        let error = read_all(unknown).unwrap_err();
        assert_eq!(error.code(), "xml-entity");
        let mut reader = XmlReader::new(unknown);
        reader.next_tag().unwrap();
        assert_eq!(reader.read_text().unwrap_err().code(), "xml-entity");
        assert_eq!(read_all("<a>x & y</a>").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a><b></a>").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a></a></b>").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a><b>tex").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a><b").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a>&#0;</a>").unwrap_err().code(), "xml-entity");
    }

    #[test]
    fn text_is_exact() {
        let mut reader = XmlReader::new("<a>\r\n x \t</a>");
        reader.next_tag().unwrap();
        assert_eq!(reader.read_text().unwrap(), "\n x \t");
        let mut reader = XmlReader::new("<a></a>");
        reader.next_tag().unwrap();
        assert_eq!(reader.read_text().unwrap(), "");
    }

    #[test]
    fn encodings() {
        assert_eq!(decode_document(b"<a/>").unwrap(), "<a/>");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("<a>Ж😀</a>".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_document(&be).unwrap(), "<a>Ж😀</a>");
        assert_eq!(decode_document(&[0xFF, 0xFE, 0x3C]).unwrap_err().code(), "xml-encoding");
        assert_eq!(
            decode_document(&[0xFF, 0xFE, 0x00, 0xD8]).unwrap_err().code(),
            "xml-encoding"
        );
        assert_eq!(decode_document(b"<a>\xff</a>").unwrap_err().code(), "xml-encoding");
        assert_eq!(decode_document(b"<\0a\0").unwrap_err().code(), "xml-encoding");
        let cp = b"<?xml version='1.0' encoding = 'CP1251' ?><a>\xc0</a>";
        assert_eq!(
            decode_document(cp).unwrap(),
            "<?xml version='1.0' encoding = 'CP1251' ?><a>А</a>"
        );
    }
}
