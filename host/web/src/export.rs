//! Tables exported for spreadsheets: CSV as Russian Excel opens it (UTF-8 with BOM, `;`
//! separated, CRLF) and XLSX (Office Open XML, one sheet, strings and numbers): the five parts a
//! workbook needs, zipped by the SDK's archive writer.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One cell of an exported table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_string())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<Option<String>> for Cell {
    fn from(text: Option<String>) -> Cell {
        text.map(Cell::Text).unwrap_or(Cell::Empty)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Number(n as f64)
    }
}

impl From<f64> for Cell {
    fn from(n: f64) -> Cell {
        Cell::Number(n)
    }
}

/// A table to export: a header row and the rows under it.
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The export formats a page or API route offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

impl Table {
    /// The file as an HTTP download named `<file_stem>.<csv|xlsx>`.
    pub fn download(&self, format: Format, file_stem: &str) -> Response {
        let (kind, ext, bytes) = match format {
            Format::Csv => ("text/csv; charset=utf-8", "csv", self.csv().into_bytes()),
            Format::Xlsx => (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
                self.xlsx(),
            ),
        };
        let disposition = format!("attachment; filename=\"{file_stem}.{ext}\"");
        (
            [
                (header::CONTENT_TYPE, kind.to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response()
    }

    /// CSV for Excel in a Russian locale: BOM, `;`, quotes doubled, CRLF line ends.
    pub fn csv(&self) -> String {
        let mut out = String::from("\u{feff}");
        let field = |text: &str| {
            if text.contains([';', '"', '\n', '\r']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text.to_string()
            }
        };
        out.push_str(&self.header.iter().map(|h| field(h)).collect::<Vec<_>>().join(";"));
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::Text(t) => field(t),
                    Cell::Number(n) => number_text(*n).replace('.', ","),
                    Cell::Empty => String::new(),
                })
                .collect();
            out.push_str(&cells.join(";"));
            out.push_str("\r\n");
        }
        out
    }

    /// An XLSX workbook with one sheet (header row bold and frozen).
    pub fn xlsx(&self) -> Vec<u8> {
        let mut sheet = String::from(SHEET_START);
        let header: Vec<Cell> = self.header.iter().map(|h| Cell::Text(h.clone())).collect();
        for (r, row) in std::iter::once(&header).chain(self.rows.iter()).enumerate() {
            sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{}", column_name(c), r + 1);
                let style = if r == 0 { r#" s="1""# } else { "" };
                match cell {
                    Cell::Text(t) => sheet.push_str(&format!(
                        r#"<c r="{at}" t="inlineStr"{style}><is><t xml:space="preserve">{}</t></is></c>"#,
                        xml_text(t)
                    )),
                    Cell::Number(n) => sheet.push_str(&format!(r#"<c r="{at}"{style}><v>{}</v></c>"#, number_text(*n))),
                    Cell::Empty => {}
                }
            }
            sheet.push_str("</row>");
        }
        sheet.push_str(SHEET_END);
        let mut parts = workbook_parts(&self.title);
        parts.push(("xl/worksheets/sheet1.xml", sheet));
        let entries: Vec<(&str, &[u8])> = parts.iter().map(|(name, body)| (*name, body.as_bytes())).collect();
        ipra_plugin_sdk::archive::write_zip(&entries)
    }
}

/// The sheet's XML up to its first row (the header row frozen).
pub const SHEET_START: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>"#;
pub const SHEET_END: &str = "</sheetData></worksheet>";

/// Every part of a one-sheet workbook but the sheet itself.
pub fn workbook_parts(title: &str) -> Vec<(&'static str, String)> {
    let title: String = title
        .chars()
        .filter(|c| !matches!(c, '\\' | '/' | '?' | '*' | '[' | ']' | ':'))
        .take(31)
        .collect();
    let title = if title.is_empty() {
        "Лист1".to_string()
    } else {
        title
    };
    vec![
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#
                .into(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
                .into(),
        ),
        (
            "xl/workbook.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
                xml_text(&title)
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#
                .into(),
        ),
        (
            "xl/styles.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs></styleSheet>"#
                .into(),
        ),
    ]
}

pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A, B, …, Z, AA, AB, …
pub fn column_name(mut index: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

pub fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Characters XML 1.0 cannot carry are dropped rather than break the file.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            title: "Реестр".into(),
            header: vec!["ФИО".into(), "Мероприятий".into()],
            rows: vec![
                vec![Cell::from("Иванов; \"Иван\""), Cell::from(3i64)],
                vec![Cell::Empty, Cell::from(2.5)],
            ],
        }
    }

    #[test]
    fn csv_opens_in_russian_excel() {
        assert_eq!(
            table().csv(),
            "\u{feff}ФИО;Мероприятий\r\n\"Иванов; \"\"Иван\"\"\";3\r\n;2,5\r\n"
        );
    }

    #[test]
    fn xlsx_is_a_zip_whose_entries_check_out() {
        let bytes = table().xlsx();
        assert!(bytes.starts_with(b"PK\x03\x04"));
        // The SDK's own ZIP reader (with its CRC and size checks) reads every part back.
        let limits = ipra_plugin_sdk::archive::ArchiveLimits::default();
        let sheet = ipra_plugin_sdk::archive::extract(&bytes, &limits, |name| name == "xl/worksheets/sheet1.xml")
            .expect("a valid zip")
            .pop()
            .map(|entry| String::from_utf8(entry.bytes).unwrap())
            .expect("the sheet");
        assert!(sheet.contains("Иванов; &quot;Иван&quot;"));
        assert!(sheet.contains(r#"<c r="B2"><v>3</v></c>"#));
        assert!(sheet.contains(r#"<c r="B3"><v>2.5</v></c>"#));
    }

    #[test]
    fn column_names_go_past_z() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }
}
