//! Reading a `fri:ВыпискаФРИ` into borrowed, flat records: the header with the person's data, then one
//! [`RawDocument`] at a time, in both content models (`ВсеДокументы/Документ` and the older `ВсеФайлы/Файл`).
//!
//! Nothing here interprets a document: it only collects requisites and `(category, attribute code, value)`
//! triples, borrowing text from the input wherever no entity forces a copy. Elements are matched by local
//! name (the schema qualifies them with `fri:`, real files are lenient about undeclared ones such as `Регион`).

use ipra_plugin_sdk::xml::{self, Element, Tag, XmlError, XmlReader};
use std::borrow::Cow;
use std::ops::Range;

/// Namespace of the extract.
pub const FRI_NAMESPACE: &str = "http://fri.pfr.ru";

/// Text of an element; `None` when the element is absent, empty (`<x/>`, `xsi:nil`) or blank.
pub type Text<'a> = Option<Cow<'a, str>>;

/// The value of `text`, trimmed, when not blank.
pub fn value<'t>(text: &'t Text<'_>) -> Option<&'t str> {
    text.as_deref().map(xml::trim).filter(|v| !v.is_empty())
}

/// The extract's own data, read before any document.
#[derive(Debug, Default)]
pub struct Header<'a> {
    pub extract_id: Text<'a>,
    pub snils: Text<'a>,
    pub surname: Text<'a>,
    pub given_name: Text<'a>,
    pub patronymic: Text<'a>,
    pub birth_date: Text<'a>,
    pub gender: Text<'a>,
    pub registered: Text<'a>,
    pub region: Text<'a>,
    pub child: Text<'a>,
    pub disability_group: Text<'a>,
}

/// Which content model a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// `ВсеДокументы/Документ` (fri-extract-schema-v1.5, every real extract since 2021).
    Documents,
    /// `ВсеФайлы/Файл` (RequestExtract.xsd, 2018): typed record elements whose fields carry the attribute
    /// code in their `id` attribute.
    Files,
}

/// One `Запись` (or, in the older model, one element holding `РеквизитыЗаписи`).
#[derive(Debug)]
pub struct Record<'a> {
    /// Place among the document's records, from 1.
    pub position: usize,
    pub key: Text<'a>,
    pub category_code: Text<'a>,
    pub category_name: Text<'a>,
    pub attributes: Range<usize>,
}

/// One attribute of a record: code (look-alike letters normalised, see [`normalize_code`]) and value.
#[derive(Debug)]
pub struct Attribute<'a> {
    pub code: Cow<'a, str>,
    pub value: Text<'a>,
}

/// One `Документ`/`Файл` with its requisites and records.
#[derive(Debug)]
pub struct RawDocument<'a> {
    /// Place in the extract, from 1.
    pub position: usize,
    pub model: Model,
    pub id: Text<'a>,
    pub key: Text<'a>,
    pub parent: Text<'a>,
    pub source_code: Text<'a>,
    pub source_name: Text<'a>,
    pub number: Text<'a>,
    pub date: Text<'a>,
    pub valid_until: Text<'a>,
    pub version: Text<'a>,
    pub type_code: Text<'a>,
    pub type_name: Text<'a>,
    pub execution: Text<'a>,
    pub records: Vec<Record<'a>>,
    pub attributes: Vec<Attribute<'a>>,
}

impl<'a> RawDocument<'a> {
    fn new(position: usize, model: Model) -> Self {
        RawDocument {
            position,
            model,
            id: None,
            key: None,
            parent: None,
            source_code: None,
            source_name: None,
            number: None,
            date: None,
            valid_until: None,
            version: None,
            type_code: None,
            type_name: None,
            execution: None,
            records: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// The attributes of `record`.
    pub fn attributes_of(&self, record: &Record<'a>) -> &[Attribute<'a>] {
        self.attributes.get(record.attributes.clone()).unwrap_or(&[])
    }

    /// The first non-blank value of attribute `code` in `record`.
    pub fn attribute(&self, record: &Record<'a>, code: &str) -> Option<&str> {
        self.attributes_of(record)
            .iter()
            .filter(|a| a.code == code)
            .find_map(|a| value(&a.value))
    }

    /// The first non-blank value among `codes` (in that order of preference) in `record`.
    pub fn first_of(&self, record: &Record<'a>, codes: &[&str]) -> Option<&str> {
        codes.iter().find_map(|code| self.attribute(record, code))
    }

    /// Records of category `code`, in document order.
    pub fn records_of<'s>(&'s self, code: &'s str) -> impl Iterator<Item = &'s Record<'a>> + 's {
        self.records
            .iter()
            .filter(move |r| value(&r.category_code) == Some(code))
    }

    /// The first non-blank value of attribute `code` in any record of category `category`.
    pub fn category_attribute(&self, category: &str, code: &str) -> Option<&str> {
        self.records_of(category).find_map(|r| self.attribute(r, code))
    }
}

/// Latin letters that Cyrillic ones are mistaken for in attribute codes.
const LOOK_ALIKES: [(char, char); 18] = [
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('Х', 'X'),
    ('а', 'a'),
    ('е', 'e'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('у', 'y'),
    ('х', 'x'),
];

/// Attribute codes are Latin identifiers. A code that mixes Latin letters with Cyrillic letters that look
/// the same (the IPRA_20221024 sample writes `ОrganizationName` with a Cyrillic `О`) is a typing slip of the
/// publisher: such letters are replaced by their Latin twins. Any other code, Cyrillic ones included, is kept
/// exactly as published.
pub fn normalize_code(code: Cow<'_, str>) -> Cow<'_, str> {
    if code.is_ascii() {
        return code;
    }
    let latin = |c: char| LOOK_ALIKES.iter().find(|(cyrillic, _)| *cyrillic == c).map(|(_, l)| *l);
    let mixes =
        code.chars().any(|c| c.is_ascii_alphabetic()) && code.chars().all(|c| c.is_ascii() || latin(c).is_some());
    if !mixes {
        return code;
    }
    Cow::Owned(code.chars().map(|c| latin(c).unwrap_or(c)).collect())
}

fn local_name<'a>(element: &Element<'a>) -> &'a str {
    element.local_name()
}

/// The streaming reader of one extract.
pub struct ExtractReader<'a> {
    xml: XmlReader<'a>,
    in_list: bool,
    done: bool,
    documents: usize,
}

/// What the root turned out to be when it is not an FRI extract.
#[derive(Debug)]
pub struct WrongRoot {
    pub name: String,
    pub namespace: Option<String>,
}

/// Errors before or while reading.
#[derive(Debug)]
pub enum ReadError {
    Xml(XmlError),
    WrongRoot(WrongRoot),
    Empty,
}

impl From<XmlError> for ReadError {
    fn from(e: XmlError) -> Self {
        ReadError::Xml(e)
    }
}

impl<'a> ExtractReader<'a> {
    /// Opens the extract: checks the root and reads everything up to the first document.
    pub fn open(text: &'a str) -> Result<(Self, Header<'a>), ReadError> {
        let mut xml = XmlReader::new(text);
        let root = match xml.next_tag()? {
            Tag::Open(root) | Tag::Empty(root) => root,
            Tag::Close | Tag::Eof => return Err(ReadError::Empty),
        };
        let empty_root = xml.depth() == 0;
        let namespace = xml.own_namespace(&root)?;
        if local_name(&root) != "ВыпискаФРИ" || namespace.as_deref() != Some(FRI_NAMESPACE) {
            return Err(ReadError::WrongRoot(WrongRoot {
                name: root.name().to_string(),
                namespace: namespace.map(Cow::into_owned),
            }));
        }
        let mut reader = ExtractReader {
            xml,
            in_list: false,
            done: empty_root,
            documents: 0,
        };
        let mut header = Header::default();
        if !empty_root {
            reader.read_header(&mut header)?;
        }
        Ok((reader, header))
    }

    fn text(&mut self, tag: &Tag<'a>) -> Result<Text<'a>, XmlError> {
        match tag {
            Tag::Open(_) => {
                let text = self.xml.read_text()?;
                Ok(Some(text).filter(|t| !xml::trim(t).is_empty()))
            }
            _ => Ok(None),
        }
    }

    fn skip(&mut self, tag: &Tag<'a>) -> Result<(), XmlError> {
        if matches!(tag, Tag::Open(_)) {
            self.xml.skip()?;
        }
        Ok(())
    }

    /// Reads the root's children up to the list of documents (`ВсеДокументы`/`ВсеФайлы`).
    fn read_header(&mut self, header: &mut Header<'a>) -> Result<(), XmlError> {
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close | Tag::Eof => {
                    self.done = true;
                    return Ok(());
                }
            };
            match name {
                "Идентификатор" => header.extract_id = self.text(&tag)?,
                "ПерсональныеДанные" if matches!(tag, Tag::Open(_)) => self.read_person(header)?,
                "ВсеДокументы" | "ВсеФайлы" => {
                    self.in_list = matches!(tag, Tag::Open(_));
                    return Ok(());
                }
                _ => self.skip(&tag)?,
            }
        }
    }

    fn read_person(&mut self, header: &mut Header<'a>) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => continue,
                Tag::Eof => return Ok(()),
            };
            let slot = match name {
                "СНИЛС" => &mut header.snils,
                "Фамилия" => &mut header.surname,
                "Имя" => &mut header.given_name,
                "Отчество" => &mut header.patronymic,
                "ДатаРождения" => &mut header.birth_date,
                "Пол" => &mut header.gender,
                "ДатаРегистрации" => &mut header.registered,
                "Регион" => &mut header.region,
                "Ребенок" => &mut header.child,
                "ГруппаИнвалидности" => &mut header.disability_group,
                // Descend into АктуальныеСведенияОбИнвалидности: its leaves are read above.
                "АктуальныеСведенияОбИнвалидности" => continue,
                _ => {
                    self.skip(&tag)?;
                    continue;
                }
            };
            *slot = self.text(&tag)?;
        }
    }

    /// The next document, or `None` after the last one. Elements after the list are checked for
    /// well-formedness up to the end of the document.
    pub fn next_document(&mut self) -> Result<Option<RawDocument<'a>>, XmlError> {
        while self.in_list {
            let tag = self.xml.next_tag()?;
            match &tag {
                Tag::Open(s) if matches!(local_name(s), "Документ" | "Файл") => {
                    let model = if local_name(s) == "Документ" {
                        Model::Documents
                    } else {
                        Model::Files
                    };
                    self.documents += 1;
                    let mut document = RawDocument::new(self.documents, model);
                    self.read_document(&mut document)?;
                    return Ok(Some(document));
                }
                Tag::Close => self.in_list = false,
                Tag::Eof => return Ok(None),
                other => self.skip(other)?,
            }
        }
        if !self.done {
            // The rest of the root: nothing of interest, but a truncated or malformed tail is still an error.
            while self.xml.next_tag()? != Tag::Eof {}
            self.done = true;
        }
        Ok(None)
    }

    fn read_document(&mut self, document: &mut RawDocument<'a>) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) => local_name(s),
                Tag::Empty(_) => continue,
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => continue,
                Tag::Eof => return Ok(()),
            };
            match name {
                "РеквизитыДокумента" | "РеквизитыФайла" => {
                    self.read_requisites(document)?
                }
                "ВсеСведения" => match document.model {
                    Model::Documents => self.read_records(document)?,
                    Model::Files => self.read_typed_records(document, None)?,
                },
                _ => self.xml.skip()?,
            }
        }
    }

    fn read_requisites(&mut self, document: &mut RawDocument<'a>) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                // Closing Источник or ТипДокумента, whose children were read as leaves.
                Tag::Close => continue,
                Tag::Eof => return Ok(()),
            };
            let slot = match name {
                "ID" => &mut document.id,
                "Ключ" => &mut document.key,
                "РодительскийДокумент" | "РодительскийФайл" => &mut document.parent,
                "Номер" => &mut document.number,
                "Дата" => &mut document.date,
                "СрокДействия" => &mut document.valid_until,
                "КодВерсия" => &mut document.version,
                "ДокументИсполнение" => &mut document.execution,
                "Источник" | "ТипДокумента" | "ТипФайла" => {
                    if matches!(tag, Tag::Open(_)) {
                        let is_type = name != "Источник";
                        self.read_pair(document, is_type)?;
                    }
                    continue;
                }
                _ => {
                    self.skip(&tag)?;
                    continue;
                }
            };
            *slot = self.text(&tag)?;
        }
    }

    /// `Код` and `Наименование` of `Источник` (`is_type` false) or `ТипДокумента`/`ТипФайла`.
    fn read_pair(&mut self, document: &mut RawDocument<'a>, is_type: bool) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => continue,
                Tag::Eof => return Ok(()),
            };
            let slot = match (name, is_type) {
                ("Код", false) => &mut document.source_code,
                ("Наименование", false) => &mut document.source_name,
                ("Код", true) => &mut document.type_code,
                ("Наименование", true) => &mut document.type_name,
                ("КодВерсия", true) => &mut document.version,
                _ => {
                    self.skip(&tag)?;
                    continue;
                }
            };
            *slot = self.text(&tag)?;
        }
    }

    fn read_records(&mut self, document: &mut RawDocument<'a>) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            match self.xml.next_tag()? {
                Tag::Open(s) if local_name(&s) == "Запись" => self.read_record(document)?,
                Tag::Open(_) => self.xml.skip()?,
                Tag::Empty(_) => {}
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => {}
                Tag::Eof => return Ok(()),
            }
        }
    }

    fn new_record(document: &mut RawDocument<'a>) -> usize {
        let start = document.attributes.len();
        document.records.push(Record {
            position: document.records.len() + 1,
            key: None,
            category_code: None,
            category_name: None,
            attributes: start..start,
        });
        document.records.len() - 1
    }

    fn read_record(&mut self, document: &mut RawDocument<'a>) -> Result<(), XmlError> {
        let index = Self::new_record(document);
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close if self.xml.depth() < depth => break,
                Tag::Close => continue,
                Tag::Eof => break,
            };
            match name {
                "Ключ" => document.records[index].key = self.text(&tag)?,
                "Категория" if matches!(tag, Tag::Open(_)) => self.read_category(document, index)?,
                "ВсеАтрибуты" if matches!(tag, Tag::Open(_)) => self.read_attributes(document)?,
                _ => self.skip(&tag)?,
            }
        }
        let end = document.attributes.len();
        document.records[index].attributes.end = end;
        Ok(())
    }

    fn read_category(&mut self, document: &mut RawDocument<'a>, index: usize) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => continue,
                Tag::Eof => return Ok(()),
            };
            match name {
                "Код" => document.records[index].category_code = self.text(&tag)?,
                "Наименование" => document.records[index].category_name = self.text(&tag)?,
                _ => self.skip(&tag)?,
            }
        }
    }

    fn read_attributes(&mut self, document: &mut RawDocument<'a>) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            match self.xml.next_tag()? {
                Tag::Open(s) if local_name(&s) == "Атрибут" => {
                    let (mut code, mut value) = (None, None);
                    let attribute_depth = self.xml.depth();
                    loop {
                        let tag = self.xml.next_tag()?;
                        let name = match &tag {
                            Tag::Open(s) | Tag::Empty(s) => local_name(s),
                            Tag::Close if self.xml.depth() < attribute_depth => break,
                            Tag::Close => continue,
                            Tag::Eof => break,
                        };
                        match name {
                            "Код" => code = self.text(&tag)?,
                            "Значение" => value = self.text(&tag)?,
                            _ => self.skip(&tag)?,
                        }
                    }
                    if let Some(code) = code {
                        document.attributes.push(Attribute {
                            code: normalize_code(trim_cow(code)),
                            value,
                        });
                    }
                }
                Tag::Open(_) => self.xml.skip()?,
                Tag::Empty(_) => {}
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => {}
                Tag::Eof => return Ok(()),
            }
        }
    }

    /// The older model: any element holding `РеквизитыЗаписи` is a record; its children with an `id`
    /// attribute are the record's attributes (code = `id`); other children are groups to descend into.
    fn read_typed_records(&mut self, document: &mut RawDocument<'a>, record: Option<usize>) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        let mut current = record;
        loop {
            let tag = self.xml.next_tag()?;
            let start = match &tag {
                Tag::Open(s) | Tag::Empty(s) => s,
                Tag::Close if self.xml.depth() < depth => break,
                Tag::Close => continue,
                Tag::Eof => break,
            };
            if local_name(start) == "РеквизитыЗаписи" {
                let index = Self::new_record(document);
                current = Some(index);
                if matches!(tag, Tag::Open(_)) {
                    self.read_record_requisites(document, index)?;
                }
                continue;
            }
            if let Some(code) = self.xml.attribute(start, "id")? {
                let value = self.text(&tag)?;
                if let Some(index) = current {
                    // Attributes of one record are contiguous: a record's fields follow its requisites.
                    if document.records[index].attributes.end == document.attributes.len() {
                        document.attributes.push(Attribute {
                            code: normalize_code(trim_cow(code)),
                            value,
                        });
                        document.records[index].attributes.end = document.attributes.len();
                    }
                }
                continue;
            }
            if matches!(tag, Tag::Open(_)) {
                self.read_typed_records(document, None)?;
            }
        }
        Ok(())
    }

    fn read_record_requisites(&mut self, document: &mut RawDocument<'a>, index: usize) -> Result<(), XmlError> {
        let depth = self.xml.depth();
        loop {
            let tag = self.xml.next_tag()?;
            let name = match &tag {
                Tag::Open(s) | Tag::Empty(s) => local_name(s),
                Tag::Close if self.xml.depth() < depth => return Ok(()),
                Tag::Close => continue,
                Tag::Eof => return Ok(()),
            };
            match name {
                "Ключ" => document.records[index].key = self.text(&tag)?,
                "Категория" if matches!(tag, Tag::Open(_)) => self.read_category(document, index)?,
                _ => self.skip(&tag)?,
            }
        }
    }
}

fn trim_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(xml::trim(s)),
        Cow::Owned(s) if xml::trim(&s).len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(xml::trim(&s).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_letters_in_codes() {
        assert_eq!(normalize_code(Cow::Borrowed("ОrganizationName")), "OrganizationName");
        assert_eq!(normalize_code(Cow::Borrowed("ОrganizationOGRN")), "OrganizationOGRN");
        assert!(matches!(
            normalize_code(Cow::Borrowed("Number")),
            Cow::Borrowed("Number")
        ));
        // Genuinely Cyrillic codes and mixes with letters that have no Latin twin stay as published.
        assert_eq!(normalize_code(Cow::Borrowed("Регион")), "Регион");
        assert_eq!(normalize_code(Cow::Borrowed("ЖrganizationName")), "ЖrganizationName");
        assert_eq!(normalize_code(Cow::Borrowed("СОЕ")), "СОЕ");
    }
}
