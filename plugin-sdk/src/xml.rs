//! Safe reading of incoming XML: decoding to text (UTF-8 with or without BOM, UTF-16 with BOM, windows-1251
//! from the XML declaration) and a small, fast pull reader that refuses DTDs and unknown entities.
//!
//! The reader is small on purpose (a tokenizer over already validated text: no second UTF-8 check per event,
//! no allocation per tag): parsers walk start and end tags with [`XmlReader::next_tag`], read a leaf's
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
//!     if start.local_name() == "b" {
//!         found = Some(reader.read_text().unwrap());
//!     }
//! }
//! assert_eq!(found.as_deref(), Some(" x & y "));
//!
//! let hostile = "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>";
//! let error = XmlReader::new(hostile).next_tag().unwrap_err();
//! assert_eq!(error.code(), "xml-dtd");
//! ```
//!
//! Small documents read by path rather than streamed go through [`tree`]; outgoing documents are written with
//! [`writer`].

pub mod tree;
pub mod writer;

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

/// Deeper nesting than any real exchange document (FRI extracts nest about a dozen levels): the
/// streaming reader refuses it, as the tree reader does.
pub const MAX_DEPTH: usize = 128;

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
/// // UTF-8 letters labelled windows-1251 are refused, not turned into mojibake.
/// let mislabelled = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Пример</a>";
/// assert_eq!(decode_document(mislabelled.as_bytes()).unwrap_err().code(), "xml-encoding");
/// ```
pub fn decode_document(bytes: &[u8]) -> Result<Cow<'_, str>, XmlError> {
    decode(bytes, utf8)
}

/// [`decode_document`] for an incoming document of the host's, whose `media_type` may say that the host has
/// already checked the bytes to be UTF-8 (see [`host_checked_utf8`]). Inside the sandbox that check is then
/// not repeated; everywhere else (native tests, benchmarks) the bytes are checked as always.
///
/// ```
/// use ipra_plugin_sdk::xml::decode_incoming;
/// assert_eq!(decode_incoming(b"<a>\xd0\xaf</a>", "application/xml; charset=utf-8").unwrap(), "<a>Я</a>");
/// assert_eq!(decode_incoming(b"<a>\xff</a>", "application/xml").unwrap_err().code(), "xml-encoding");
/// ```
pub fn decode_incoming<'a>(bytes: &'a [u8], media_type: &str) -> Result<Cow<'a, str>, XmlError> {
    if cfg!(target_arch = "wasm32") && host_checked_utf8(media_type) {
        decode(bytes, |bytes| {
            // SAFETY: the host passes `charset=utf-8` only for bytes it has checked to be UTF-8
            // (see `document.media-type` in the interface); a part of them is UTF-8 as well, as the
            // only part taken is after a whole BOM.
            Ok(Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) }))
        })
    } else {
        decode(bytes, utf8)
    }
}

/// Whether a media type carries the parameter `charset=utf-8` (any case, quoted or not), by which the host
/// says that it has checked the bytes of an incoming document to be UTF-8.
///
/// ```
/// use ipra_plugin_sdk::xml::host_checked_utf8;
/// assert!(host_checked_utf8("application/xml; charset=utf-8"));
/// assert!(host_checked_utf8("application/xml;Charset=\"UTF-8\""));
/// assert!(!host_checked_utf8("application/xml"));
/// assert!(!host_checked_utf8("application/xml; charset=windows-1251"));
/// ```
pub fn host_checked_utf8(media_type: &str) -> bool {
    media_type.split(';').skip(1).any(|parameter| {
        let Some((name, value)) = parameter.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("charset") && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

fn decode<'a>(
    bytes: &'a [u8],
    utf8: impl Fn(&'a [u8]) -> Result<Cow<'a, str>, XmlError>,
) -> Result<Cow<'a, str>, XmlError> {
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
                // Russian text in windows-1251 is practically never valid UTF-8 as well: bytes that
                // are UTF-8 with letters beyond ASCII were mislabelled, and read as windows-1251 they
                // would turn every name into mojibake.
                if !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
                    return Err(XmlError::Encoding(format!(
                        "в объявлении XML указана кодировка «{name}», но документ записан в UTF-8: кодировка указана неверно"
                    )));
                }
                decode_windows_1251(bytes).map(Cow::Owned)
            }
            _ => Err(XmlError::Encoding(format!(
                "кодировка «{name}» не поддерживается (допустимы UTF-8, UTF-16 с BOM и windows-1251)"
            ))),
        },
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>, XmlError> {
    if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    // Only the error path pays for std's validation, which says where the bad byte is.
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

/// A start tag or empty element: its qualified name and the raw text of its attributes (read them with
/// [`XmlReader::attribute`]).
///
/// ```
/// use ipra_plugin_sdk::xml::{Tag, XmlReader};
/// let mut reader = XmlReader::new(r#"<fri:Запись a="1"/>"#);
/// let Tag::Empty(element) = reader.next_tag().unwrap() else { panic!() };
/// assert_eq!((element.name(), element.local_name(), element.prefix()), ("fri:Запись", "Запись", Some("fri")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    name: &'a str,
    /// Where the local name starts in `name` (after the prefix's colon).
    local: usize,
    attributes: &'a str,
    offset: usize,
}

impl<'a> Element<'a> {
    /// The qualified name as written (`fri:Документ`).
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let Tag::Empty(e) = XmlReader::new("<p:x/>").next_tag().unwrap() else { panic!() };
    /// assert_eq!(e.name(), "p:x");
    /// ```
    #[inline]
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name without its prefix (`Документ`).
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let Tag::Empty(e) = XmlReader::new("<x/>").next_tag().unwrap() else { panic!() };
    /// assert_eq!(e.local_name(), "x");
    /// ```
    #[inline]
    pub fn local_name(&self) -> &'a str {
        &self.name[self.local..]
    }

    /// The prefix, when the name has one.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let Tag::Empty(e) = XmlReader::new("<x/>").next_tag().unwrap() else { panic!() };
    /// assert_eq!(e.prefix(), None);
    /// ```
    pub fn prefix(&self) -> Option<&'a str> {
        self.name.split_once(':').map(|(prefix, _)| prefix)
    }

    /// Byte offset of the tag's `<` in the source.
    ///
    /// ```
    /// # use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let mut reader = XmlReader::new("<a> <b/></a>");
    /// reader.next_tag().unwrap();
    /// let Tag::Empty(b) = reader.next_tag().unwrap() else { panic!() };
    /// assert_eq!(b.offset(), 4);
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag<'a> {
    /// A start tag `<x …>`.
    Open(Element<'a>),
    /// An empty element `<x …/>`: no [`Tag::Close`] follows.
    Empty(Element<'a>),
    /// An end tag (its name was checked against the start tag).
    Close,
    /// The end of a complete document.
    Eof,
}

enum Event<'a> {
    Open(Element<'a>),
    Empty(Element<'a>),
    Close,
    /// Character data, its offset, and whether it holds a `&` (a reference to resolve or check).
    Text(&'a str, usize, bool),
    CData(&'a str),
    Eof,
}

/// `text` without leading and trailing white space, exactly as [`str::trim`] gives it, but without
/// decoding a character when the first and last bytes show there is nothing to trim (the usual case
/// for the values of a document, and a call per value in WebAssembly otherwise).
///
/// ```
/// use ipra_plugin_sdk::xml::trim;
/// for text in ["", " ", "  Иванов ", "Иванов", "пр-т Мира\u{a0}", "\u{3000}x", "шрифт", "ПЕТР", "a\u{2029}"] {
///     assert_eq!(trim(text), text.trim());
/// }
/// ```
#[inline]
pub fn trim(text: &str) -> &str {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return text;
    };
    // A white-space character starts with one of these bytes (ASCII, U+0085/U+00A0, U+1680,
    // U+2000–U+205F, U+3000) …
    let may_start = matches!(first, 0x09..=0x0D | 0x20 | 0xC2 | 0xE1 | 0xE2 | 0xE3);
    // … and ends with ASCII white space or a continuation byte that follows one of these.
    let may_end = matches!(last, 0x09..=0x0D | 0x20)
        || (last >= 0x80 && bytes.len() >= 2 && matches!(bytes[bytes.len() - 2], 0xC2 | 0x9A | 0x80 | 0x81));
    if may_start || may_end {
        text.trim()
    } else {
        text
    }
}

const fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// What a byte is to an element name: [`NAME_GOES_ON`], [`NAME_ENDS`] (white space, `/`, `>`) or
/// [`NAME_INVALID`]. One table load per byte: a `matches!` on the byte compiles to a jump table in
/// WebAssembly, an indirect jump per byte of every tag name.
const NAME_BYTES: [u8; 256] = {
    let mut table = [NAME_GOES_ON; 256];
    let mut i = 0;
    while i < 256 {
        let byte = i as u8;
        if is_space(byte) || byte == b'/' || byte == b'>' {
            table[i] = NAME_ENDS;
        } else if matches!(byte, b'<' | b'&' | b'"' | b'\'' | b'=') {
            table[i] = NAME_INVALID;
        }
        i += 1;
    }
    table
};
const NAME_GOES_ON: u8 = 0;
const NAME_ENDS: u8 = 1;
const NAME_INVALID: u8 = 2;

/// Pull reader over a decoded document: a tokenizer for the XML that exchanges use (elements, attributes,
/// text, CDATA, comments, processing instructions), checking well-formedness as it goes (end names match,
/// one root, no text outside it, a document cut short is reported with the element left open) and
/// refusing DTDs and unknown entities. Text is never trimmed.
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
    source: &'a str,
    position: usize,
    open: Vec<&'a str>,
    root_done: bool,
    /// Element names met before, by their first eight bytes: documents repeat a few dozen names
    /// thousands of times, and recognising a known one takes a few word compares instead of a
    /// check of every byte.
    /// Each with where its local name starts.
    names: [(&'a str, usize); NAME_CACHE],
}

/// Slots of [`XmlReader::names`] (a power of two).
const NAME_CACHE: usize = 32;

/// The slot of a name in [`XmlReader::names`] by its first eight bytes.
#[inline(always)]
fn name_slot(first: u64) -> usize {
    (first.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as usize % NAME_CACHE
}

impl<'a> XmlReader<'a> {
    /// A reader over `source` (see [`decode_document`] to get it from bytes).
    ///
    /// ```
    /// let reader = ipra_plugin_sdk::xml::XmlReader::new("<a/>");
    /// assert_eq!(reader.depth(), 0);
    /// ```
    pub fn new(source: &'a str) -> Self {
        XmlReader {
            source,
            position: 0,
            open: Vec::with_capacity(16),
            root_done: false,
            names: [("", 0); NAME_CACHE],
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

    /// Byte offset in the source after the last tag read.
    ///
    /// ```
    /// let mut reader = ipra_plugin_sdk::xml::XmlReader::new("<a/>");
    /// reader.next_tag().unwrap();
    /// assert_eq!(reader.position(), 4);
    /// ```
    pub fn position(&self) -> usize {
        self.position
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
        let line = memchr::memchr_iter(b'\n', before.as_bytes()).count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }

    /// A malformed-document error at `offset` with a Russian `detail`.
    ///
    /// ```
    /// let reader = ipra_plugin_sdk::xml::XmlReader::new("<a/>");
    /// assert_eq!(reader.malformed(0, "корневой элемент не тот").code(), "xml-malformed");
    /// ```
    #[cold]
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
    /// assert!(matches!(reader.next_tag().unwrap(), Tag::Open(s) if s.local_name() == "a"));
    /// assert_eq!(reader.next_tag().unwrap(), Tag::Close);
    /// ```
    pub fn next_tag(&mut self) -> Result<Tag<'a>, XmlError> {
        loop {
            match self.event::<false>()? {
                Event::Open(element) => return Ok(Tag::Open(element)),
                Event::Empty(element) => return Ok(Tag::Empty(element)),
                Event::Close => return Ok(Tag::Close),
                Event::Eof => return self.eof(),
                Event::Text(..) | Event::CData(_) => {}
            }
        }
    }

    /// The text of the element just opened by [`Tag::Open`], exactly as written: character data and CDATA,
    /// entity and character references resolved, line ends normalised as XML 1.0 requires, nothing trimmed.
    /// Borrowed from the source unless a reference or a carriage return forces a copy. Child elements are
    /// passed over. Consumes the end tag.
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::XmlReader;
    /// let mut reader = XmlReader::new("<a>  ООО &quot;Ромашка&quot; &#x41;<![CDATA[<b>]]>  </a>");
    /// reader.next_tag().unwrap();
    /// assert_eq!(reader.read_text().unwrap(), "  ООО \"Ромашка\" A<b>  ");
    /// assert_eq!(reader.depth(), 0);
    /// ```
    pub fn read_text(&mut self) -> Result<Cow<'a, str>, XmlError> {
        // Nearly every element read for its text is `<name>text</name>`: text with no markup,
        // reference or carriage return, then the element's own end tag. That is read in one go.
        let start = self.position;
        let bytes = self.source.as_bytes();
        if let Some(n) = memchr::memchr2(b'<', b'&', &bytes[start..]) {
            let end = start + n;
            if bytes[end] == b'<' && !has_cr(&bytes[start..end]) && self.close_own(end) {
                return Ok(Cow::Borrowed(&self.source[start..end]));
            }
        }
        self.read_text_slow()
    }

    /// [`Self::read_text`] for any other content: references, CDATA, comments, child elements.
    #[inline(never)]
    fn read_text_slow(&mut self) -> Result<Cow<'a, str>, XmlError> {
        let depth = self.open.len();
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        loop {
            match self.event::<true>()? {
                Event::Text(raw, offset, _) if self.open.len() == depth => self.append_text(&mut text, raw, offset)?,
                Event::Text(raw, offset, true) => self.check_references(raw, offset)?,
                Event::Text(_, _, false) => {}
                Event::CData(raw) if self.open.len() == depth => append_cdata(&mut text, raw),
                Event::CData(_) | Event::Open(_) | Event::Empty(_) => {}
                Event::Close if self.open.len() < depth => return Ok(text),
                Event::Close => {}
                Event::Eof => {
                    self.eof()?;
                    return Ok(text);
                }
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
    /// assert!(matches!(reader.next_tag().unwrap(), Tag::Empty(d) if d.local_name() == "d"));
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

    /// The value of attribute `name` (qualified name as written) of an element, normalised as XML 1.0
    /// requires (references resolved, literal tabs and line ends turned into spaces); an unknown entity in it
    /// is an error.
    ///
    /// ```
    /// use ipra_plugin_sdk::xml::{Tag, XmlReader};
    /// let mut reader = XmlReader::new(r#"<a id="Number" name='Номер &amp; дата'/>"#);
    /// let Tag::Empty(element) = reader.next_tag().unwrap() else { panic!() };
    /// assert_eq!(reader.attribute(&element, "id").unwrap().as_deref(), Some("Number"));
    /// assert_eq!(reader.attribute(&element, "name").unwrap().as_deref(), Some("Номер & дата"));
    /// assert_eq!(reader.attribute(&element, "x").unwrap(), None);
    /// ```
    pub fn attribute(&self, element: &Element<'a>, name: &str) -> Result<Option<Cow<'a, str>>, XmlError> {
        let raw = element.attributes;
        let bytes = raw.as_bytes();
        // Offset of the attribute text in the source, for error positions.
        let base = element.offset + 1 + element.name.len();
        let mut i = 0;
        loop {
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if i >= bytes.len() {
                return Ok(None);
            }
            let key_start = i;
            while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'=' {
                i += 1;
            }
            let key = &raw[key_start..i];
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                return Err(self.malformed(base + i, format!("у атрибута «{key}» нет значения")));
            }
            i += 1;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            let quote = match bytes.get(i) {
                Some(&q @ (b'"' | b'\'')) => q,
                _ => return Err(self.malformed(base + i, format!("значение атрибута «{key}» не в кавычках"))),
            };
            let value_start = i + 1;
            let value_end = memchr::memchr(quote, &bytes[value_start..])
                .map(|n| value_start + n)
                .ok_or_else(|| self.malformed(base + i, format!("не закрыты кавычки атрибута «{key}»")))?;
            i = value_end + 1;
            if key != name {
                continue;
            }
            let value = &raw[value_start..value_end];
            if !value.bytes().any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r')) {
                return Ok(Some(Cow::Borrowed(value)));
            }
            let spaced: String = value
                .chars()
                .map(|c| if matches!(c, '\t' | '\n' | '\r') { ' ' } else { c })
                .collect();
            let mut text = Cow::Owned(String::new());
            self.append_references(&mut text, &spaced, base + value_start)?;
            return Ok(Some(text));
        }
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
    pub fn own_namespace(&self, element: &Element<'a>) -> Result<Option<Cow<'a, str>>, XmlError> {
        match element.prefix() {
            Some(prefix) => self.attribute(element, &format!("xmlns:{prefix}")),
            None => self.attribute(element, "xmlns"),
        }
    }

    #[cold]
    fn truncated(&self, inside: &str) -> XmlError {
        let detail = match self.open.last() {
            Some(name) => format!("документ оборван{inside}, не закрыт элемент <{name}>"),
            None => format!("документ оборван{inside}"),
        };
        self.malformed(self.source.len(), detail)
    }

    fn eof(&self) -> Result<Tag<'a>, XmlError> {
        if self.open.is_empty() {
            Ok(Tag::Eof)
        } else {
            Err(self.truncated(""))
        }
    }

    /// Text before or after the root may only be white space.
    #[inline(never)]
    fn outside_root(&self, text: &str, start: usize) -> Result<(), XmlError> {
        if text.bytes().all(is_space) {
            Ok(())
        } else {
            Err(self.malformed(start, "текст вне корневого элемента"))
        }
    }

    /// Where the markup after a text with a reference starts (or the end of the document).
    #[cold]
    fn markup_from(&self, from: usize) -> usize {
        let bytes = self.source.as_bytes();
        memchr::memchr(b'<', &bytes[from..]).map_or(bytes.len(), |n| from + n)
    }

    /// Reads `</name>` at `start` when it closes the element open, written without white space
    /// before `>` (nearly every end tag): the name is compared word by word, since `==` on names
    /// calls memcmp, a byte loop in WebAssembly. Anything else is left to the general path.
    #[inline(always)]
    fn close_own(&mut self, start: usize) -> bool {
        let bytes = self.source.as_bytes();
        let Some(&open) = self.open.last() else {
            return false;
        };
        let after = start + 2 + open.len();
        if bytes.get(start + 1) != Some(&b'/')
            || bytes.get(after) != Some(&b'>')
            || !same_bytes(&bytes[start + 2..after], open.as_bytes())
        {
            return false;
        }
        self.open.pop();
        self.position = after + 1;
        if self.open.is_empty() {
            self.root_done = true;
        }
        true
    }

    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        memchr::memmem::find(self.source.as_bytes().get(from..)?, needle).map(|n| from + n)
    }

    /// The next piece of the document. Text is returned as [`Event::Text`] when `TEXT` is set;
    /// otherwise it is checked (references, nothing but white space outside the root) and passed
    /// over in the same step as the markup after it: one round per tag instead of two, which in
    /// WebAssembly is also one interruption check less.
    #[inline(always)]
    fn event<const TEXT: bool>(&mut self) -> Result<Event<'a>, XmlError> {
        let bytes = self.source.as_bytes();
        loop {
            let mut start = self.position;
            let Some(&first) = bytes.get(start) else {
                return Ok(Event::Eof);
            };
            if first != b'<' {
                // Up to the next markup, noting on the way whether a reference is to be checked (one
                // pass over the text instead of two).
                let (end, references) = match memchr::memchr2(b'<', b'&', &bytes[start..]) {
                    Some(n) if bytes[start + n] == b'<' => (start + n, false),
                    Some(n) => (self.markup_from(start + n + 1), true),
                    None => (bytes.len(), false),
                };
                self.position = end;
                let text = &self.source[start..end];
                if self.open.is_empty() {
                    self.outside_root(text, start)?;
                }
                if TEXT {
                    return Ok(Event::Text(text, start, references));
                }
                if references {
                    self.check_references(text, start)?;
                }
                if end == bytes.len() {
                    return Ok(Event::Eof);
                }
                start = end;
            }
            match bytes.get(start + 1) {
                Some(b'/') if self.close_own(start) => return Ok(Event::Close),
                Some(b'/') => {
                    self.close_other(start)?;
                    return Ok(Event::Close);
                }
                Some(b'?' | b'!') => {
                    if let Some(cdata) = self.declaration(start)? {
                        return Ok(cdata);
                    }
                }
                Some(_) => return self.start_tag(start),
                None => return Err(self.truncated(" внутри разметки")),
            }
        }
    }

    /// An end tag that [`Self::close_own`] did not take: white space before `>`, a name that does
    /// not match, or nothing open. Out of line, like every rare path of the tokenizer: the fewer
    /// values the hot loop keeps, the fewer registers WebAssembly code spills.
    #[inline(never)]
    fn close_other(&mut self, start: usize) -> Result<(), XmlError> {
        let bytes = self.source.as_bytes();
        let end = memchr::memchr(b'>', &bytes[start..])
            .map(|n| start + n)
            .ok_or_else(|| self.truncated(" внутри разметки"))?;
        let name = self.source[start + 2..end].trim_end_matches([' ', '\t', '\n', '\r']);
        match self.open.pop() {
            Some(open) if open == name => {}
            Some(open) => {
                return Err(self.malformed(
                    start,
                    format!("закрывающий тег </{name}> не соответствует открытому элементу <{open}>"),
                ))
            }
            None => return Err(self.malformed(start, format!("закрывающий тег </{name}> без открывающего"))),
        }
        self.position = end + 1;
        if self.open.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    /// `<?…?>` and `<!…>` at `start`: a processing instruction or a comment is passed over (`None`),
    /// a CDATA section is returned, a DTD or anything else is an error.
    #[inline(never)]
    fn declaration(&mut self, start: usize) -> Result<Option<Event<'a>>, XmlError> {
        let bytes = self.source.as_bytes();
        if bytes[start + 1] == b'?' {
            let end = self
                .find(start + 2, b"?>")
                .ok_or_else(|| self.truncated(" внутри инструкции обработки"))?;
            self.position = end + 2;
            return Ok(None);
        }
        let rest = &bytes[start + 2..];
        if rest.starts_with(b"--") {
            let end = self
                .find(start + 4, b"-->")
                .ok_or_else(|| self.truncated(" внутри комментария"))?;
            self.position = end + 3;
            Ok(None)
        } else if rest.starts_with(b"[CDATA[") {
            if self.open.is_empty() {
                return Err(self.malformed(start, "секция CDATA вне корневого элемента"));
            }
            let content = start + 9;
            let end = self
                .find(content, b"]]>")
                .ok_or_else(|| self.truncated(" внутри секции CDATA"))?;
            self.position = end + 3;
            Ok(Some(Event::CData(&self.source[content..end])))
        } else if rest.starts_with(b"DOCTYPE") {
            let (line, column) = self.line_column(start);
            Err(XmlError::Dtd { line, column })
        } else {
            Err(self.malformed(start, "недопустимая разметка «<!»"))
        }
    }

    #[inline(always)]
    fn start_tag(&mut self, start: usize) -> Result<Event<'a>, XmlError> {
        let bytes = self.source.as_bytes();
        let name_start = start + 1;
        let rest = &bytes[name_start..];
        let slot = (rest.len() >= 8).then(|| name_slot(word(rest, 0)));
        // A name met before, followed by a byte that ends a name, is that name: the cache holds only
        // checked names.
        let known = slot.map(|slot| self.names[slot]).filter(|(known, _)| {
            let n = known.len();
            n >= 8
                && rest.len() > n
                && same_bytes(&rest[..n], known.as_bytes())
                && NAME_BYTES[usize::from(rest[n])] == NAME_ENDS
        });
        let (name, local) = match known {
            Some(known) => known,
            None => self.new_name(start, slot)?,
        };
        let name_end = name_start + name.len();
        // The closing `>`, not counting any inside quoted attribute values; most often right after the name.
        let end = if bytes[name_end] == b'>' {
            name_end
        } else {
            self.tag_end(name_end, name)?
        };
        if self.root_done {
            return Err(self.second_root(start, name));
        }
        let empty = end > name_end && bytes[end - 1] == b'/';
        let element = Element {
            name,
            local,
            attributes: &self.source[name_end..if empty { end - 1 } else { end }],
            offset: start,
        };
        self.position = end + 1;
        if empty {
            if self.open.is_empty() {
                self.root_done = true;
            }
            Ok(Event::Empty(element))
        } else {
            if self.open.len() >= MAX_DEPTH {
                return Err(self.malformed(
                    start,
                    format!("вложенность элементов глубже {MAX_DEPTH}: так глубоко не вложен ни один документ обмена"),
                ));
            }
            self.open.push(name);
            Ok(Event::Open(element))
        }
    }

    /// The name of the start tag at `start` when the cache did not know it: checked byte by byte,
    /// then cached in `slot` (when it has one and is long enough). With where its local name starts.
    #[inline(never)]
    fn new_name(&mut self, start: usize, slot: Option<usize>) -> Result<(&'a str, usize), XmlError> {
        // The name runs up to white space, `/` or `>`; a byte not allowed in it, or no end at all, is
        // an error (reported for the whole name, as far as its end).
        let name_start = start + 1;
        let rest = &self.source.as_bytes()[name_start..];
        let mut n = 0;
        while n < rest.len() && NAME_BYTES[usize::from(rest[n])] == NAME_GOES_ON {
            n += 1;
        }
        if n == 0 || n == rest.len() || NAME_BYTES[usize::from(rest[n])] == NAME_INVALID {
            return Err(self.bad_name(start));
        }
        let name = &self.source[name_start..name_start + n];
        let local = memchr::memchr(b':', name.as_bytes()).map_or(0, |colon| colon + 1);
        if let (Some(slot), true) = (slot, n >= 8) {
            self.names[slot] = (name, local);
        }
        Ok((name, local))
    }

    /// The `>` that ends the start tag `name` whose attributes begin at `from`, passing over any
    /// inside quoted attribute values.
    #[inline(never)]
    fn tag_end(&self, from: usize, name: &str) -> Result<usize, XmlError> {
        let bytes = self.source.as_bytes();
        let mut at = from;
        loop {
            let Some(found) = memchr::memchr3(b'>', b'"', b'\'', &bytes[at..]).map(|n| at + n) else {
                return Err(self.truncated_in_tag(name));
            };
            match bytes[found] {
                b'>' => return Ok(found),
                quote => {
                    let Some(close) = memchr::memchr(quote, &bytes[found + 1..]) else {
                        return Err(self.truncated_in_tag(name));
                    };
                    at = found + 1 + close + 1;
                }
            }
        }
    }

    /// The error for a start tag at `start` whose name has a byte not allowed in it or no end.
    #[cold]
    fn bad_name(&self, start: usize) -> XmlError {
        let name_start = start + 1;
        let rest = &self.source.as_bytes()[name_start..];
        match rest.iter().position(|&b| NAME_BYTES[usize::from(b)] == NAME_ENDS) {
            Some(n) => {
                let name = &self.source[name_start..name_start + n];
                self.malformed(start, format!("недопустимое имя элемента «{name}»"))
            }
            None => self.truncated(" внутри тега"),
        }
    }

    #[cold]
    fn truncated_in_tag(&self, name: &str) -> XmlError {
        self.truncated(&format!(" внутри тега <{name}>"))
    }

    #[cold]
    fn second_root(&self, start: usize, name: &str) -> XmlError {
        self.malformed(start, format!("второй корневой элемент <{name}>"))
    }

    fn reference(&self, name: &str, offset: usize) -> Result<char, XmlError> {
        let resolved = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(decimal) = name.strip_prefix('#') {
                    decimal.parse::<u32>().ok()
                } else {
                    None
                };
                // Characters XML 1.0 allows (no NUL, no C0 controls but tab and line ends, no U+FFFE/U+FFFF).
                code.filter(|&c| c >= 0x20 || matches!(c, 0x9 | 0xA | 0xD))
                    .filter(|&c| c != 0xFFFE && c != 0xFFFF)
                    .and_then(char::from_u32)
            }
        };
        resolved.ok_or_else(|| {
            let (line, column) = self.line_column(offset);
            XmlError::Entity {
                name: name.to_string(),
                line,
                column,
            }
        })
    }

    /// Appends `raw` with references resolved (no line-end handling).
    fn append_references(&self, text: &mut Cow<'a, str>, raw: &str, offset: usize) -> Result<(), XmlError> {
        let bytes = raw.as_bytes();
        let out = text.to_mut();
        let mut i = 0;
        while let Some(n) = memchr::memchr(b'&', &bytes[i..]) {
            let at = i + n;
            out.push_str(&raw[i..at]);
            let semicolon = memchr::memchr(b';', &bytes[at + 1..])
                .filter(|&n| n > 0 && n <= 32)
                .ok_or_else(|| self.malformed(offset + at, "символ «&» без ссылки на сущность (должно быть &amp;)"))?;
            out.push(self.reference(&raw[at + 1..at + 1 + semicolon], offset + at)?);
            i = at + 1 + semicolon + 1;
        }
        out.push_str(&raw[i..]);
        Ok(())
    }

    fn check_references(&self, raw: &str, offset: usize) -> Result<(), XmlError> {
        if memchr::memchr(b'&', raw.as_bytes()).is_some() {
            self.append_references(&mut Cow::Owned(String::new()), raw, offset)?;
        }
        Ok(())
    }

    fn append_text(&self, text: &mut Cow<'a, str>, raw: &'a str, offset: usize) -> Result<(), XmlError> {
        let bytes = raw.as_bytes();
        if memchr::memchr2(b'&', b'\r', bytes).is_none() {
            append(text, Cow::Borrowed(raw));
            return Ok(());
        }
        let normalized = normalize_line_ends(raw);
        self.append_references(text, &normalized, offset)
    }
}

/// Eight bytes of `s` from `at` as one word: one load (eight byte loads, each bounds-checked, were a
/// call of their own in WebAssembly).
#[inline(always)]
fn word(s: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Four bytes of `s` from `at` as one word.
#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&s[at..at + 4]);
    u32::from_le_bytes(bytes)
}

/// Whether `bytes` holds a carriage return. Up to 16 bytes (most values) a word at a time and
/// without a loop, longer ones with memchr.
#[inline(always)]
fn has_cr(bytes: &[u8]) -> bool {
    // A byte of `x` is zero exactly when this sets its top bit (no false positives for "any").
    let zero_in = |x: u64| x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0;
    let cr_in = |w: u64| zero_in(w ^ 0x0d0d_0d0d_0d0d_0d0d);
    let n = bytes.len();
    match n {
        0 => false,
        1..=3 => bytes[0] == b'\r' || bytes[n / 2] == b'\r' || bytes[n - 1] == b'\r',
        4..=7 => {
            cr_in(u64::from(word4(bytes, 0)) | 0xffff_ffff_0000_0000)
                || cr_in(u64::from(word4(bytes, n - 4)) | 0xffff_ffff_0000_0000)
        }
        8..=16 => cr_in(word(bytes, 0)) || cr_in(word(bytes, n - 8)),
        _ => memchr::memchr(b'\r', bytes).is_some(),
    }
}

/// Whether two byte strings are equal, compared a word at a time. Up to 32 bytes (nearly every
/// element name) without a loop: each loop round costs an interruption check in WebAssembly.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two words that may overlap cover the whole string when it is no more than twice their size.
    if n < 4 {
        return (n < 1 || a[0] == b[0]) && (n < 2 || a[1] == b[1]) && (n < 3 || a[2] == b[2]);
    }
    if n < 8 {
        return word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4);
    }
    if n <= 16 {
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    if n <= 32 {
        return word(a, 0) == word(b, 0)
            && word(a, 8) == word(b, 8)
            && word(a, n - 16) == word(b, n - 16)
            && word(a, n - 8) == word(b, n - 8);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last word, overlapping the one before when `n` is not a multiple of eight.
    word(a, n - 8) == word(b, n - 8)
}

/// `\r\n` and a lone `\r` become `\n` (XML 1.0, 2.11).
fn normalize_line_ends(raw: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
}

fn append_cdata<'a>(text: &mut Cow<'a, str>, raw: &'a str) {
    append(text, normalize_line_ends(raw));
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
    fn well_formedness_is_checked_by_the_tokenizer() {
        assert_eq!(read_all("<a/><b/>").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("x<a/>").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a/>x").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a><!-- c -->").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a><![CDATA[x").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a t=\"1>2\">x</a >").unwrap(), 2);
        assert_eq!(read_all("<a>&#1;</a>").unwrap_err().code(), "xml-entity");
        assert_eq!(read_all("<a>&#xD800;</a>").unwrap_err().code(), "xml-entity");
        assert_eq!(read_all("<a>&;</a>").unwrap_err().code(), "xml-malformed");
        let mut reader = XmlReader::new("<a t=\"1>2\" u='\tx&#10;'><!-- c --><?pi x?>t<b>ignored</b>u</a>");
        let Tag::Open(a) = reader.next_tag().unwrap() else {
            panic!()
        };
        assert_eq!(reader.attribute(&a, "t").unwrap().as_deref(), Some("1>2"));
        assert_eq!(reader.attribute(&a, "u").unwrap().as_deref(), Some(" x\n"));
        assert_eq!(reader.read_text().unwrap(), "tu");
        assert_eq!(reader.next_tag().unwrap(), Tag::Eof);
        let error = XmlReader::new("<a b/>").next_tag().map(|t| match t {
            Tag::Empty(e) => XmlReader::new("<a b/>").attribute(&e, "c").map(|_| ()),
            _ => Ok(()),
        });
        assert_eq!(error.unwrap().unwrap_err().code(), "xml-malformed");
    }

    #[test]
    fn trim_is_str_trim() {
        // Every white-space character, letters whose last byte is also one of a white-space
        // character's, and plain letters; at either end, alone and in pairs.
        let mut chars: Vec<char> = (0..=0x3000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        chars.extend("рстуфхцчшщъПяЁёaZ0-\u{0100}\u{1681}\u{2010}\u{3001}\u{feff}€".chars());
        for &a in &chars {
            for &b in &chars {
                for text in [
                    format!("{a}"),
                    format!("{a}{b}"),
                    format!("{a}x{b}"),
                    format!("{a}Иван{b}"),
                ] {
                    assert_eq!(trim(&text), text.trim(), "{:?}", text);
                }
            }
        }
    }

    #[test]
    fn names_met_before_are_read_as_the_first_time() {
        // Names sharing their first eight bytes with a known one, longer, shorter, or followed by a
        // byte no name may hold, are still read byte by byte.
        let names = |text: &str| -> Result<Vec<String>, XmlError> {
            let mut reader = XmlReader::new(text);
            let mut names = Vec::new();
            loop {
                match reader.next_tag()? {
                    Tag::Open(e) | Tag::Empty(e) => names.push(e.name().to_string()),
                    Tag::Close => {}
                    Tag::Eof => return Ok(names),
                }
            }
        };
        let text = "<fri:Наименование><fri:Наименование/><fri:НаименованиеПолное a='1'/>\
                    <fri:Наименование\n/><fri:Наим/><fri:Наименование></fri:Наименование></fri:Наименование>";
        assert_eq!(
            names(text).unwrap(),
            [
                "fri:Наименование",
                "fri:Наименование",
                "fri:НаименованиеПолное",
                "fri:Наименование",
                "fri:Наим",
                "fri:Наименование"
            ]
        );
        // Three names in one slot: each is still itself, whichever one the cache holds.
        let text = "<fri:ТипДанных><fri:ТипДокумента/><fri:ТипДанных/><fri:ТипФайла/><fri:ТипДокумента/>\
                    <fri:ТипДанных/></fri:ТипДанных>";
        assert_eq!(
            names(text).unwrap(),
            [
                "fri:ТипДанных",
                "fri:ТипДокумента",
                "fri:ТипДанных",
                "fri:ТипФайла",
                "fri:ТипДокумента",
                "fri:ТипДанных"
            ]
        );
        let broken = "<fri:Наименование><fri:Наименование=x/></fri:Наименование>";
        assert_eq!(names(broken).unwrap_err().code(), "xml-malformed");
        let cut = "<fri:Наименование><fri:Наименование";
        assert_eq!(names(cut).unwrap_err().code(), "xml-malformed");
    }

    #[test]
    fn has_cr_finds_a_carriage_return_anywhere() {
        for n in 0..40 {
            let plain = vec![b'a'; n];
            assert!(!has_cr(&plain), "{n}");
            for at in 0..n {
                let mut text = plain.clone();
                text[at] = b'\r';
                assert!(has_cr(&text), "{n} {at}");
                // Bytes one off a carriage return are not one.
                text[at] = 0x0c;
                assert!(!has_cr(&text), "{n} {at}");
                text[at] = 0x8d;
                assert!(!has_cr(&text), "{n} {at}");
            }
        }
    }

    #[test]
    fn same_bytes_compares_every_byte() {
        let text = b"fri:\xd0\x97\xd0\xb0\xd0\xbf\xd0\xb8\xd1\x81\xd1\x8c-0123456789";
        for len in 0..text.len() {
            assert!(same_bytes(&text[..len], &text[..len]));
            for at in 0..len {
                let mut other = text[..len].to_vec();
                other[at] ^= 1;
                assert!(!same_bytes(&text[..len], &other), "len {len}, byte {at}");
            }
        }
        assert!(!same_bytes(b"ab", b"abc"));
        assert_eq!(read_all("<a><bb></bb ><c></c></a>").unwrap(), 6);
        assert_eq!(read_all("<a><b></bc></a>").unwrap_err().code(), "xml-malformed");
        assert_eq!(read_all("<a><bc></b></a>").unwrap_err().code(), "xml-malformed");
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
