//! Exports written while they are read: a table of any length goes out as CSV or XLSX chunk by
//! chunk, so a register of a million rows streams with flat memory and its first bytes leave at
//! once. The XLSX workbook is a ZIP whose sheet is deflated as it is produced and described after
//! its data (a data descriptor), then the central directory closes it.
//!
//! A producer (a task paging through the register) sends rows to a bounded channel; the response
//! body reads it. When the client goes away the body is dropped, the channel closes and the
//! producer stops at its next chunk.

use super::export::{xml_text, Cell, Format};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use miniz_oxide::deflate::core::{compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush};

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const EOCD: u32 = 0x0605_4b50;

/// CRC-32 (IEEE), fed piece by piece.
struct Crc32(u32);

impl Crc32 {
    fn table() -> &'static [u32; 256] {
        static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let mut t = [0u32; 256];
            for (i, slot) in t.iter_mut().enumerate() {
                let mut c = i as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                }
                *slot = c;
            }
            t
        })
    }

    fn new() -> Crc32 {
        Crc32(0xFFFF_FFFF)
    }

    fn update(&mut self, bytes: &[u8]) {
        let t = Self::table();
        for b in bytes {
            self.0 = t[((self.0 ^ u32::from(*b)) & 0xFF) as usize] ^ (self.0 >> 8);
        }
    }

    fn value(&self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

/// One file of the workbook already written: what the central directory says of it.
struct Entry {
    name: String,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
    descriptor: bool,
}

/// Writes a table as CSV or XLSX while its rows come.
pub struct TableWriter {
    format: Format,
    row: usize,
    // XLSX: the ZIP so far.
    written: u64,
    entries: Vec<Entry>,
    deflater: Option<Box<CompressorOxide>>,
    crc: Crc32,
    raw: u64,
    compressed: u64,
}

fn csv_field(text: &str) -> String {
    if text.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl TableWriter {
    /// The writer and the file's first bytes (the CSV header; the workbook's fixed parts and the
    /// sheet's start).
    pub fn start(format: Format, title: &str, header: &[String]) -> (TableWriter, Vec<u8>) {
        let mut w = TableWriter {
            format,
            row: 0,
            written: 0,
            entries: Vec::new(),
            deflater: None,
            crc: Crc32::new(),
            raw: 0,
            compressed: 0,
        };
        let header_cells: Vec<Cell> = header.iter().map(|h| Cell::Text(h.clone())).collect();
        let bytes = match format {
            Format::Csv => {
                let mut out = String::from("\u{feff}");
                out.push_str(&header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(";"));
                out.push_str("\r\n");
                w.row = 1;
                out.into_bytes()
            }
            Format::Xlsx => {
                let mut out = Vec::new();
                for (name, body) in super::export::workbook_parts(title) {
                    w.stored_entry(&mut out, name, body.as_bytes());
                }
                w.begin_sheet(&mut out);
                let mut sheet = String::from(super::export::SHEET_START);
                w.sheet_rows(&mut sheet, std::slice::from_ref(&header_cells), true);
                w.deflate(&mut out, sheet.as_bytes(), TDEFLFlush::None);
                out
            }
        };
        (w, bytes)
    }

    /// The bytes of more rows.
    pub fn rows(&mut self, rows: &[Vec<Cell>]) -> Vec<u8> {
        match self.format {
            Format::Csv => {
                let mut out = String::new();
                for row in rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|c| match c {
                            Cell::Text(t) => csv_field(t),
                            Cell::Number(n) => super::export::number_text(*n).replace('.', ","),
                            Cell::Empty => String::new(),
                        })
                        .collect();
                    out.push_str(&cells.join(";"));
                    out.push_str("\r\n");
                }
                self.row += rows.len();
                out.into_bytes()
            }
            Format::Xlsx => {
                let mut sheet = String::new();
                self.sheet_rows(&mut sheet, rows, false);
                let mut out = Vec::new();
                self.deflate(&mut out, sheet.as_bytes(), TDEFLFlush::None);
                out
            }
        }
    }

    /// The file's last bytes.
    pub fn finish(mut self) -> Vec<u8> {
        match self.format {
            Format::Csv => Vec::new(),
            Format::Xlsx => {
                let mut out = Vec::new();
                self.deflate(&mut out, super::export::SHEET_END.as_bytes(), TDEFLFlush::Finish);
                // The sheet's sizes, after its data.
                for v in [DESCRIPTOR, self.crc.value(), self.compressed as u32, self.raw as u32] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                self.written += 16;
                if let Some(sheet) = self.entries.last_mut() {
                    sheet.crc = self.crc.value();
                    sheet.compressed = self.compressed as u32;
                    sheet.size = self.raw as u32;
                }
                let cd_offset = self.written as u32;
                let mut central = Vec::new();
                for e in &self.entries {
                    central.extend_from_slice(&CENTRAL.to_le_bytes());
                    central.extend_from_slice(&20u16.to_le_bytes());
                    Self::common(&mut central, e.descriptor, e.crc, e.compressed, e.size, &e.name);
                    central.extend_from_slice(&[0; 6]);
                    central.extend_from_slice(&0u32.to_le_bytes());
                    central.extend_from_slice(&e.offset.to_le_bytes());
                    central.extend_from_slice(e.name.as_bytes());
                }
                out.extend_from_slice(&central);
                out.extend_from_slice(&EOCD.to_le_bytes());
                out.extend_from_slice(&[0; 4]);
                let n = self.entries.len() as u16;
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&(central.len() as u32).to_le_bytes());
                out.extend_from_slice(&cd_offset.to_le_bytes());
                out.extend_from_slice(&0u16.to_le_bytes());
                out
            }
        }
    }

    /// The fields local and central headers share, from "version needed" to the extra length.
    fn common(out: &mut Vec<u8>, descriptor: bool, crc: u32, compressed: u32, size: u32, name: &str) {
        out.extend_from_slice(&20u16.to_le_bytes());
        let flags: u16 = (1 << 11) | if descriptor { 1 << 3 } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&compressed.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
    }

    fn stored_entry(&mut self, out: &mut Vec<u8>, name: &str, content: &[u8]) {
        let data = miniz_oxide::deflate::compress_to_vec(content, 6);
        let mut crc = Crc32::new();
        crc.update(content);
        let start = out.len();
        let offset = self.written as u32;
        out.extend_from_slice(&LOCAL.to_le_bytes());
        Self::common(out, false, crc.value(), data.len() as u32, content.len() as u32, name);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        self.written += (out.len() - start) as u64;
        self.entries.push(Entry {
            name: name.to_string(),
            crc: crc.value(),
            compressed: data.len() as u32,
            size: content.len() as u32,
            offset,
            descriptor: false,
        });
    }

    fn begin_sheet(&mut self, out: &mut Vec<u8>) {
        let name = "xl/worksheets/sheet1.xml";
        let start = out.len();
        let offset = self.written as u32;
        out.extend_from_slice(&LOCAL.to_le_bytes());
        Self::common(out, true, 0, 0, 0, name);
        out.extend_from_slice(name.as_bytes());
        self.written += (out.len() - start) as u64;
        self.entries.push(Entry {
            name: name.to_string(),
            crc: 0,
            compressed: 0,
            size: 0,
            offset,
            descriptor: true,
        });
        self.deflater = Some(Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
            6, -15, 0,
        ))));
    }

    fn deflate(&mut self, out: &mut Vec<u8>, input: &[u8], flush: TDEFLFlush) {
        self.crc.update(input);
        self.raw += input.len() as u64;
        let Some(d) = self.deflater.as_mut() else {
            return;
        };
        let before = out.len();
        let mut rest = input;
        loop {
            let (_, used) = compress_to_output(d, rest, flush, |chunk| {
                out.extend_from_slice(chunk);
                true
            });
            rest = &rest[used..];
            if rest.is_empty() {
                break;
            }
        }
        let produced = (out.len() - before) as u64;
        self.compressed += produced;
        self.written += produced;
    }

    fn sheet_rows(&mut self, sheet: &mut String, rows: &[Vec<Cell>], header: bool) {
        for row in rows {
            self.row += 1;
            let r = self.row;
            sheet.push_str(&format!(r#"<row r="{r}">"#));
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{r}", super::export::column_name(c));
                let style = if header { r#" s="1""# } else { "" };
                match cell {
                    Cell::Text(t) => sheet.push_str(&format!(
                        r#"<c r="{at}" t="inlineStr"{style}><is><t xml:space="preserve">{}</t></is></c>"#,
                        xml_text(t)
                    )),
                    Cell::Number(n) => sheet.push_str(&format!(
                        r#"<c r="{at}"{style}><v>{}</v></c>"#,
                        super::export::number_text(*n)
                    )),
                    Cell::Empty => {}
                }
            }
            sheet.push_str("</row>");
        }
    }
}

/// Where a producer sends its rows.
pub struct RowSink {
    writer: Option<TableWriter>,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    pub rows: usize,
}

impl RowSink {
    /// Sends rows; an error when the client has gone away (the producer should stop).
    pub async fn send(&mut self, rows: &[Vec<Cell>]) -> anyhow::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let bytes = w.rows(rows);
        self.rows += rows.len();
        self.tx
            .send(Ok(Bytes::from(bytes)))
            .await
            .map_err(|_| anyhow::anyhow!("получатель выгрузки отключился"))
    }
}

/// A download written while `produce` pages through its source: `<file_stem>.<csv|xlsx>`.
pub fn download<F, Fut>(format: Format, title: &str, header: Vec<String>, file_stem: &str, produce: F) -> Response
where
    F: FnOnce(RowSink) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (RowSink, anyhow::Result<()>)> + Send + 'static,
{
    let (writer, first) = TableWriter::start(format, title, &header);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let sink = RowSink {
        writer: Some(writer),
        tx: tx.clone(),
        rows: 0,
    };
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        let (mut sink, result) = produce(sink).await;
        match result {
            Ok(()) => {
                if let Some(w) = sink.writer.take() {
                    let _ = tx.send(Ok(Bytes::from(w.finish()))).await;
                }
            }
            Err(e) => {
                // The file cannot be completed: the client sees a broken download, not a short
                // file that looks whole.
                tracing::warn!("export stopped: {e:#}");
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let (kind, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_stem}.{ext}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Vec<Cell>> {
        (0..n)
            .map(|i| vec![Cell::from(format!("Строка {i}; \"кавычки\"")), Cell::from(i as i64)])
            .collect()
    }

    fn written(format: Format, chunks: usize) -> Vec<u8> {
        let header = vec!["Текст".to_string(), "Число".to_string()];
        let (mut w, mut out) = TableWriter::start(format, "Проба", &header);
        for _ in 0..chunks {
            out.extend(w.rows(&rows(100)));
        }
        out.extend(w.finish());
        out
    }

    #[test]
    fn crc_matches_the_whole_buffer_one() {
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.value(), 0xCBF4_3926);
        assert_eq!(c.value(), ipra_plugin_sdk::archive::crc32(b"123456789"));
    }

    #[test]
    fn a_streamed_csv_equals_the_whole_table() {
        let table = super::super::export::Table {
            title: "Проба".into(),
            header: vec!["Текст".into(), "Число".into()],
            rows: (0..3).flat_map(|_| rows(100)).collect(),
        };
        assert_eq!(written(Format::Csv, 3), table.csv().into_bytes());
    }

    #[test]
    fn a_streamed_workbook_reads_back_with_every_row() {
        let zip = written(Format::Xlsx, 50);
        let entries =
            ipra_plugin_sdk::archive::extract(&zip, &ipra_plugin_sdk::archive::ArchiveLimits::default(), |_| true)
                .expect("a valid ZIP");
        let sheet = entries
            .iter()
            .find(|e| e.name == "xl/worksheets/sheet1.xml")
            .expect("the sheet");
        let text = String::from_utf8(sheet.bytes.clone()).unwrap();
        assert!(text.contains(r#"<row r="5001">"#), "header + 5000 rows");
        assert!(text.ends_with("</sheetData></worksheet>"));
        assert!(entries.iter().any(|e| e.name == "xl/workbook.xml"));
    }
}
