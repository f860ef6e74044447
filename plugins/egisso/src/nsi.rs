//! EGISSO reference lists (NSI: local measures LMSZ, recipient categories, …) as an administrator exports them:
//! a small documented XML or a CSV table, read into one `ReferenceList`; bad rows become warnings.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, Document, ImportOutput, Normalized, PluginError, RecordOutcome, ReferenceEntry, ReferenceList,
};
use ipra_plugin_sdk::xml::tree::{self, Element};

fn warning(code: &str, record: String, field: Option<&str>, message: String) -> PluginError {
    PluginError {
        code: code.into(),
        message,
        record: Some(record),
        field: field.map(str::to_string),
    }
}

/// The list id and version a file name carries: `<list-id>[@<version>].<ext>`.
fn from_file_name(name: &str) -> (String, Option<String>) {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    match stem.split_once('@') {
        Some((id, version)) if !version.is_empty() => (id.to_string(), Some(version.to_string())),
        _ => (stem.to_string(), None),
    }
}

/// Keeps the first entry of each code; later ones are warnings.
struct Collector {
    entries: Vec<ReferenceEntry>,
    warnings: Vec<PluginError>,
    /// Codes taken so far: a repeated code is found at once, not by a pass over every entry
    /// (a list of a hundred thousand entries would take minutes).
    seen: std::collections::HashSet<String>,
}

impl Collector {
    fn add(
        &mut self,
        locator: String,
        code: Option<&str>,
        name: Option<&str>,
        parent: Option<&str>,
        extra: Vec<Attribute>,
    ) {
        let code = code.map(str::trim).filter(|c| !c.is_empty());
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let (Some(code), Some(name)) = (code, name) else {
            let field = if code.is_none() { "code" } else { "name" };
            self.warnings.push(warning(
                "missing-field",
                locator.clone(),
                Some(field),
                format!(
                    "{locator}: не указан {} — строка пропущена",
                    if code.is_none() {
                        "код"
                    } else {
                        "наименование"
                    }
                ),
            ));
            return;
        };
        if !self.seen.insert(code.to_string()) {
            self.warnings.push(warning(
                "duplicate-code",
                locator.clone(),
                Some("code"),
                format!("{locator}: код «{code}» уже встречался — строка пропущена"),
            ));
            return;
        }
        self.entries.push(ReferenceEntry {
            code: code.to_string(),
            name: name.to_string(),
            parent: parent.map(str::trim).filter(|p| !p.is_empty()).map(str::to_string),
            extra,
        });
    }
}

fn from_xml(root: &Element, document: &Document) -> Result<(ReferenceList, Vec<PluginError>), PluginError> {
    if let Some(namespace) = root.namespace.as_deref() {
        // The list format is the connector's own and has no namespace: a document in another
        // namespace is another format that happens to use the same name.
        return Err(PluginError {
            code: "unsupported-document".into(),
            message: format!(
                "Документ «{}»: справочник ЕГИССО (referenceList) не имеет пространства имён, а у документа — «{namespace}»",
                document.name
            ),
            record: Some(format!("Документ «{}»", document.name)),
            field: Some("xmlns".into()),
        });
    }
    if root.name != "referenceList" {
        return Err(PluginError {
            code: "unsupported-document".into(),
            message: format!(
                "Документ «{}»: ожидается справочник ЕГИССО с корневым элементом referenceList, а не {}",
                document.name, root.name
            ),
            record: Some(format!("Документ «{}»", document.name)),
            field: None,
        });
    }
    let (file_id, file_version) = from_file_name(&document.name);
    let mut collector = Collector {
        entries: Vec::new(),
        warnings: Vec::new(),
        seen: Default::default(),
    };
    for (i, entry) in root.children_named("entry").enumerate() {
        let extra = entry
            .attributes
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "code" | "name" | "parent"))
            .map(|(k, v)| Attribute {
                code: k.clone(),
                value: v.clone(),
            })
            .chain(entry.children_named("attribute").filter_map(|a| {
                Some(Attribute {
                    code: a.attr("code")?.to_string(),
                    value: a
                        .attr("value")
                        .map_or_else(|| a.text.trim().to_string(), str::to_string),
                })
            }))
            .collect();
        collector.add(
            format!("Элемент {}", i + 1),
            entry.attr("code"),
            entry.attr("name"),
            entry.attr("parent"),
            extra,
        );
    }
    let list = ReferenceList {
        list_id: root
            .attr("id")
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map_or(file_id, str::to_string),
        version: root
            .attr("version")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or(file_version),
        entries: collector.entries,
    };
    Ok((list, collector.warnings))
}

/// Splits one CSV line: fields may be quoted, `""` inside quotes is a quote.
fn csv_fields(line: &str, delimiter: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Header names accepted for the three fixed columns, English or as EGISSO screens say them.
fn column(header: &str) -> Option<&'static str> {
    match header.trim().to_lowercase().as_str() {
        "code" | "id" | "uuid" | "код" | "идентификатор" => Some("code"),
        "name" | "title" | "наименование" | "название" => Some("name"),
        "parent" | "parentcode" | "parent_code" | "родитель" | "код родителя" => Some("parent"),
        _ => None,
    }
}

fn from_csv(text: &str, document: &Document) -> Result<(ReferenceList, Vec<PluginError>), PluginError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(PluginError {
            code: "empty-document".into(),
            message: format!("Файл «{}» пуст", document.name),
            record: Some(format!("Документ «{}»", document.name)),
            field: None,
        });
    };
    let delimiter = if header.matches(';').count() >= header.matches(',').count() {
        ';'
    } else {
        ','
    };
    let headers = csv_fields(header, delimiter);
    let roles: Vec<Option<&str>> = headers.iter().map(|h| column(h)).collect();
    for required in ["code", "name"] {
        if !roles.contains(&Some(required)) {
            return Err(PluginError {
                code: "missing-field".into(),
                message: format!(
                    "Файл «{}»: в первой строке нет столбца «{required}» (ожидаются code;name;parent)",
                    document.name
                ),
                record: Some("Строка 1".into()),
                field: Some(required.into()),
            });
        }
    }
    let mut collector = Collector {
        entries: Vec::new(),
        warnings: Vec::new(),
        seen: Default::default(),
    };
    for (index, line) in lines {
        let fields = csv_fields(line, delimiter);
        let role = |wanted: &str| {
            roles
                .iter()
                .position(|r| *r == Some(wanted))
                .and_then(|i| fields.get(i))
                .map(String::as_str)
        };
        let extra = headers
            .iter()
            .zip(&roles)
            .zip(&fields)
            .filter(|((h, r), v)| r.is_none() && !h.trim().is_empty() && !v.trim().is_empty())
            .map(|((h, _), v)| Attribute {
                code: h.trim().to_string(),
                value: v.trim().to_string(),
            })
            .collect();
        collector.add(
            format!("Строка {}", index + 1),
            role("code"),
            role("name"),
            role("parent"),
            extra,
        );
    }
    let (list_id, version) = from_file_name(&document.name);
    Ok((
        ReferenceList {
            list_id,
            version,
            entries: collector.entries,
        },
        collector.warnings,
    ))
}

fn is_csv(document: &Document) -> bool {
    document.media_type.starts_with("text/csv") || document.name.to_lowercase().ends_with(".csv")
}

/// `import(document)`: one record, the whole reference list.
pub fn import_reference(document: &Document) -> Result<ImportOutput, PluginError> {
    let (list, warnings) = if is_csv(document) {
        let bytes = document.bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&document.bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| PluginError {
            code: "csv-encoding".into(),
            message: format!(
                "Файл «{}» не в кодировке UTF-8 (байт {})",
                document.name,
                e.valid_up_to() + 1
            ),
            record: Some(format!("Документ «{}»", document.name)),
            field: None,
        })?;
        from_csv(text, document)?
    } else {
        let root = tree::parse(&document.bytes).map_err(|mut e| {
            e.record = Some(format!("Документ «{}»", document.name));
            e
        })?;
        from_xml(&root, document)?
    };
    if list.list_id.trim().is_empty() {
        return Err(PluginError {
            code: "missing-field".into(),
            message: format!("Документ «{}»: не указан идентификатор справочника", document.name),
            record: Some(format!("Документ «{}»", document.name)),
            field: Some("id".into()),
        });
    }
    Ok(ImportOutput {
        records: vec![RecordOutcome {
            locator: format!("Справочник {}", list.list_id),
            outcome: Ok(Normalized::Reference(list)),
        }],
        claims: Vec::new(),
        follow_ups: Vec::new(),
        warnings,
    })
}
