//! A small PDF writer for the printed forms: A4 pages of wrapped text in one embedded TrueType
//! font (DejaVu Sans, vendored under `host/assets/fonts/` with its licence), written as a Type0 /
//! CIDFontType2 font with Identity-H encoding and a ToUnicode map, so Cyrillic text shows the
//! same everywhere and can be searched and copied. The font file is embedded whole
//! (subset to the glyphs used, deflate-compressed).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;

const FONT_FILE: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const BOTTOM: f32 = 60.0;

/// What the writer needs of a TrueType font: character → glyph, glyph advances and metrics.
pub struct Font {
    units_per_em: f32,
    ascent: i16,
    descent: i16,
    bbox: [i16; 4],
    cmap: HashMap<char, u16>,
    advances: Vec<u16>,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn i16_at(data: &[u8], at: usize) -> Option<i16> {
    u16_at(data, at).map(|v| v as i16)
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl Font {
    /// Parses the tables the writer needs (`head`, `hhea`, `hmtx`, `cmap` format 4).
    pub fn parse(data: &[u8]) -> Option<Font> {
        let tables = u16_at(data, 4)? as usize;
        let mut dir = HashMap::new();
        for i in 0..tables {
            let at = 12 + 16 * i;
            let tag = data.get(at..at + 4)?;
            dir.insert(
                tag.to_vec(),
                (u32_at(data, at + 8)? as usize, u32_at(data, at + 12)? as usize),
            );
        }
        let table = |tag: &[u8]| dir.get(tag).and_then(|&(o, l)| data.get(o..o + l));
        let head = table(b"head")?;
        let hhea = table(b"hhea")?;
        let hmtx = table(b"hmtx")?;
        let cmap = table(b"cmap")?;
        let metrics = u16_at(hhea, 34)? as usize;
        let advances = (0..metrics).map(|i| u16_at(hmtx, 4 * i)).collect::<Option<Vec<_>>>()?;
        let mut font = Font {
            units_per_em: f32::from(u16_at(head, 18)?),
            ascent: i16_at(hhea, 4)?,
            descent: i16_at(hhea, 6)?,
            bbox: [
                i16_at(head, 36)?,
                i16_at(head, 38)?,
                i16_at(head, 40)?,
                i16_at(head, 42)?,
            ],
            cmap: HashMap::new(),
            advances,
        };
        // The Windows Unicode BMP subtable (platform 3, encoding 1), format 4.
        let count = u16_at(cmap, 2)? as usize;
        let sub = (0..count).find_map(|i| {
            let at = 4 + 8 * i;
            (u16_at(cmap, at)? == 3 && u16_at(cmap, at + 2)? == 1).then_some(u32_at(cmap, at + 4)? as usize)
        })?;
        let t = cmap.get(sub..)?;
        if u16_at(t, 0)? != 4 {
            return None;
        }
        let segs = u16_at(t, 6)? as usize / 2;
        let ends = 14;
        let starts = ends + 2 * segs + 2;
        let deltas = starts + 2 * segs;
        let ranges = deltas + 2 * segs;
        for s in 0..segs {
            let end = u16_at(t, ends + 2 * s)?;
            let start = u16_at(t, starts + 2 * s)?;
            let delta = u16_at(t, deltas + 2 * s)?;
            let range = u16_at(t, ranges + 2 * s)? as usize;
            if start == 0xFFFF {
                continue;
            }
            for code in start..=end {
                let glyph = if range == 0 {
                    code.wrapping_add(delta)
                } else {
                    let at = ranges + 2 * s + range + 2 * usize::from(code - start);
                    match u16_at(t, at)? {
                        0 => 0,
                        g => g.wrapping_add(delta),
                    }
                };
                if let Some(c) = char::from_u32(u32::from(code)) {
                    if glyph != 0 {
                        font.cmap.insert(c, glyph);
                    }
                }
            }
        }
        Some(font)
    }

    fn glyph(&self, c: char) -> u16 {
        let c = match c {
            '\t' | '\n' | '\r' => ' ',
            c => c,
        };
        self.cmap.get(&c).or_else(|| self.cmap.get(&'?')).copied().unwrap_or(0)
    }

    /// Advance of a glyph in 1/1000 of the font size (PDF glyph space).
    fn advance(&self, glyph: u16) -> f32 {
        let i = usize::from(glyph).min(self.advances.len().saturating_sub(1));
        f32::from(self.advances.get(i).copied().unwrap_or(0)) * 1000.0 / self.units_per_em
    }

    /// Width of a text at a size, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(self.glyph(c))).sum::<f32>() * size / 1000.0
    }
}

/// The vendored font, parsed once.
pub fn font() -> &'static Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| {
        Font::parse(FONT_FILE).expect("the vendored DejaVu Sans is a TrueType font with a Unicode cmap")
    })
}

/// The font cut down to the glyphs a document uses (and the components of composite glyphs):
/// the other glyph outlines are emptied and the tables a PDF reader does not need are dropped,
/// so a one-page report carries tens of kilobytes of font instead of the whole file. Glyph ids
/// stay the same, so the content streams, widths and ToUnicode map need no renumbering. None
/// when the font's tables are not as expected (then the whole font is embedded).
pub fn subset(data: &[u8], used: &std::collections::BTreeSet<u16>) -> Option<Vec<u8>> {
    let count = u16_at(data, 4)? as usize;
    let mut tables: BTreeMap<[u8; 4], &[u8]> = BTreeMap::new();
    for i in 0..count {
        let at = 12 + 16 * i;
        let tag: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        let (offset, length) = (u32_at(data, at + 8)? as usize, u32_at(data, at + 12)? as usize);
        tables.insert(tag, data.get(offset..offset + length)?);
    }
    let head = *tables.get(b"head")?;
    let long_loca = i16_at(head, 50)? == 1;
    let glyphs = u16_at(tables.get(b"maxp")?, 4)? as usize;
    let loca = *tables.get(b"loca")?;
    let glyf = *tables.get(b"glyf")?;
    let range = |g: usize| -> Option<(usize, usize)> {
        if long_loca {
            Some((u32_at(loca, 4 * g)? as usize, u32_at(loca, 4 * g + 4)? as usize))
        } else {
            Some((2 * u16_at(loca, 2 * g)? as usize, 2 * u16_at(loca, 2 * g + 2)? as usize))
        }
    };
    // The glyphs kept: .notdef, the used ones and, transitively, their components.
    let mut keep: std::collections::BTreeSet<u16> = used.clone();
    keep.insert(0);
    let mut todo: Vec<u16> = keep.iter().copied().collect();
    while let Some(g) = todo.pop() {
        let (start, end) = range(usize::from(g))?;
        let outline = glyf.get(start..end)?;
        if outline.len() < 10 || i16_at(outline, 0)? >= 0 {
            continue;
        }
        let mut at = 10;
        loop {
            let flags = u16_at(outline, at)?;
            let component = u16_at(outline, at + 2)?;
            if keep.insert(component) {
                todo.push(component);
            }
            at += 4 + if flags & 0x0001 != 0 { 4 } else { 2 };
            at += if flags & 0x0008 != 0 {
                2
            } else if flags & 0x0040 != 0 {
                4
            } else if flags & 0x0080 != 0 {
                8
            } else {
                0
            };
            if flags & 0x0020 == 0 {
                break;
            }
        }
    }
    let mut new_glyf = Vec::new();
    let mut new_loca = Vec::with_capacity(4 * (glyphs + 1));
    for g in 0..glyphs {
        new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
        if keep.contains(&(g as u16)) {
            let (start, end) = range(g)?;
            new_glyf.extend_from_slice(glyf.get(start..end)?);
            while new_glyf.len() % 4 != 0 {
                new_glyf.push(0);
            }
        }
    }
    new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
    let mut new_head = head.to_vec();
    new_head.get_mut(8..12)?.copy_from_slice(&[0; 4]);
    new_head.get_mut(50..52)?.copy_from_slice(&1i16.to_be_bytes());
    let mut out_tables: Vec<([u8; 4], Vec<u8>)> = Vec::new();
    for (tag, body) in &tables {
        let body = match tag {
            b"glyf" => new_glyf.clone(),
            b"loca" => new_loca.clone(),
            b"head" => new_head.clone(),
            b"cmap" | b"hhea" | b"hmtx" | b"maxp" | b"name" | b"post" | b"cvt " | b"fpgm" | b"prep" | b"OS/2" => {
                body.to_vec()
            }
            _ => continue,
        };
        out_tables.push((*tag, body));
    }
    let n = out_tables.len() as u16;
    let power = 1u16 << (15 - n.leading_zeros() as u16);
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&(power * 16).to_be_bytes());
    out.extend_from_slice(&(power.trailing_zeros() as u16).to_be_bytes());
    out.extend_from_slice(&(n * 16 - power * 16).to_be_bytes());
    let checksum = |bytes: &[u8]| -> u32 {
        bytes.chunks(4).fold(0u32, |sum, c| {
            let mut word = [0u8; 4];
            word[..c.len()].copy_from_slice(c);
            sum.wrapping_add(u32::from_be_bytes(word))
        })
    };
    let mut offset = 12 + 16 * out_tables.len();
    for (tag, body) in &out_tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(body).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        offset += body.len().div_ceil(4) * 4;
    }
    let mut head_at = 0;
    for (tag, body) in &out_tables {
        if tag == b"head" {
            head_at = out.len();
        }
        out.extend_from_slice(body);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
    out.get_mut(head_at + 8..head_at + 12)?
        .copy_from_slice(&adjustment.to_be_bytes());
    Some(out)
}

/// Splits a text into lines no wider than `width` at `size` (words longer than a line are cut).
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let font = font();
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if font.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the line is cut where it no longer fits.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if font.width(&piece, size) > width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        lines.push(line);
    }
    lines
}

/// A document being laid out top to bottom; pages break by themselves.
pub struct Document {
    pages: Vec<String>,
    current: String,
    y: f32,
    used: BTreeMap<u16, char>,
    title: String,
}

impl Document {
    pub fn new(title: &str) -> Document {
        Document {
            pages: Vec::new(),
            current: String::new(),
            y: PAGE_HEIGHT - MARGIN,
            used: BTreeMap::new(),
            title: title.to_string(),
        }
    }

    /// Width available for text at an indent.
    pub fn text_width(indent: f32) -> f32 {
        PAGE_WIDTH - 2.0 * MARGIN - indent
    }

    fn break_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.current));
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Makes room for `height` points on this page, or starts the next one.
    pub fn keep(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.break_page();
        }
    }

    fn show(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let font = font();
        let mut hex = String::with_capacity(text.len() * 4);
        for c in text.chars() {
            let g = font.glyph(c);
            self.used.entry(g).or_insert(c);
            let _ = write!(hex, "{g:04X}");
        }
        let _ = writeln!(self.current, "BT /F1 {size:.1} Tf {x:.2} {y:.2} Td <{hex}> Tj ET");
    }

    /// A wrapped paragraph at an indent; `after` is the space below it.
    pub fn text(&mut self, text: &str, size: f32, indent: f32, after: f32) {
        let leading = size * 1.3;
        for line in wrap(text, size, Document::text_width(indent)) {
            self.keep(leading);
            self.y -= leading;
            let y = self.y + size * 0.25;
            self.show(MARGIN + indent, y, size, &line);
        }
        self.y -= after;
    }

    /// A label and its value side by side; both wrap within their columns.
    pub fn field(&mut self, label: &str, value: &str, size: f32) {
        let column = 170.0;
        let leading = size * 1.3;
        let labels = wrap(label, size, column - 10.0);
        let values = wrap(value, size, Document::text_width(column));
        for i in 0..labels.len().max(values.len()) {
            self.keep(leading);
            self.y -= leading;
            let y = self.y + size * 0.25;
            if let Some(line) = labels.get(i) {
                self.show(MARGIN, y, size, line);
            }
            if let Some(line) = values.get(i) {
                self.show(MARGIN + column, y, size, line);
            }
        }
    }

    /// A thin horizontal rule across the text width.
    pub fn rule(&mut self, after: f32) {
        self.keep(6.0);
        self.y -= 4.0;
        let _ = writeln!(
            self.current,
            "0.5 w {:.2} {:.2} m {:.2} {:.2} l S",
            MARGIN,
            self.y,
            PAGE_WIDTH - MARGIN,
            self.y
        );
        self.y -= after;
    }

    /// Vertical space.
    pub fn space(&mut self, points: f32) {
        self.y -= points;
    }

    /// The finished file: pages numbered «Страница N из M».
    pub fn finish(mut self) -> Vec<u8> {
        if !self.current.is_empty() || self.pages.is_empty() {
            self.pages.push(std::mem::take(&mut self.current));
        }
        let total = self.pages.len();
        let mut pages = std::mem::take(&mut self.pages);
        for (i, page) in pages.iter_mut().enumerate() {
            std::mem::swap(&mut self.current, page);
            let footer = format!("Страница {} из {total}", i + 1);
            let x = PAGE_WIDTH - MARGIN - font().width(&footer, 8.0);
            self.show(x, 30.0, 8.0, &footer);
            std::mem::swap(&mut self.current, page);
        }
        write_file(&pages, &self.used, &self.title)
    }
}

fn pdf_text_string(text: &str) -> String {
    // UTF-16BE with a byte-order mark, as a hex string: any language, no escaping.
    let mut out = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(out, "{unit:04X}");
    }
    out.push('>');
    out
}

fn to_unicode(used: &BTreeMap<u16, char>) -> String {
    let mut map = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(&u16, &char)> = used.iter().collect();
    for chunk in entries.chunks(100) {
        let _ = writeln!(map, "{} beginbfchar", chunk.len());
        for (glyph, c) in chunk {
            let mut utf16 = String::new();
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                let _ = write!(utf16, "{unit:04X}");
            }
            let _ = writeln!(map, "<{glyph:04X}> <{utf16}>");
        }
        map.push_str("endbfchar\n");
    }
    map.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    map
}

/// Writes the objects: catalog, page tree, pages with their content, the font (Type0 →
/// CIDFontType2 → descriptor → FontFile2), ToUnicode map, document information; then the
/// cross-reference table.
fn write_file(pages: &[String], used: &BTreeMap<u16, char>, title: &str) -> Vec<u8> {
    let font = font();
    let scale = 1000.0 / font.units_per_em;
    // Object numbers: 1 catalog, 2 pages, 3 Type0, 4 CIDFont, 5 descriptor, 6 font file,
    // 7 ToUnicode, 8 info, then page and content pairs.
    let page_obj = |i: usize| 9 + 2 * i;
    let glyphs: std::collections::BTreeSet<u16> = used.keys().copied().collect();
    // A subset font is named with a six-letter tag derived from its glyphs (PDF 32000-1, 9.6.4).
    let (font_file, name) = match subset(FONT_FILE, &glyphs) {
        Some(cut) => {
            let mut hash = glyphs.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, g| {
                (h ^ u64::from(*g)).wrapping_mul(0x100_0000_01b3)
            });
            let tag: String = (0..6)
                .map(|_| {
                    let letter = (b'A' + (hash % 26) as u8) as char;
                    hash /= 26;
                    letter
                })
                .collect();
            (cut, format!("{tag}+DejaVuSans"))
        }
        None => (FONT_FILE.to_vec(), "DejaVuSans".to_string()),
    };
    let mut objects: Vec<Vec<u8>> = Vec::new();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..pages.len()).map(|i| format!("{} 0 R", page_obj(i))).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()).into_bytes());
    objects.push(
        format!("<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H /DescendantFonts [4 0 R] /ToUnicode 7 0 R >>")
            .into_bytes(),
    );
    let mut widths = String::new();
    for glyph in used.keys() {
        let _ = write!(widths, "{glyph} [{:.0}] ", font.advance(*glyph));
    }
    objects.push(
        format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor 5 0 R /DW 600 /W [{widths}] /CIDToGIDMap /Identity >>"
        )
        .into_bytes(),
    );
    let [x0, y0, x1, y1] = font.bbox.map(|v| (f32::from(v) * scale).round() as i32);
    objects.push(
        format!(
            "<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{x0} {y0} {x1} {y1}] /ItalicAngle 0 \
             /Ascent {:.0} /Descent {:.0} /CapHeight 729 /StemV 80 /FontFile2 6 0 R >>",
            f32::from(font.ascent) * scale,
            f32::from(font.descent) * scale
        )
        .into_bytes(),
    );
    let data = miniz_oxide::deflate::compress_to_vec_zlib(&font_file, 6);
    let mut file = format!(
        "<< /Length {} /Length1 {} /Filter /FlateDecode >>\nstream\n",
        data.len(),
        font_file.len()
    )
    .into_bytes();
    file.extend_from_slice(&data);
    file.extend_from_slice(b"\nendstream");
    objects.push(file);
    let cmap = to_unicode(used);
    objects.push(format!("<< /Length {} >>\nstream\n{cmap}endstream", cmap.len()).into_bytes());
    objects.push(
        format!(
            "<< /Title {} /Producer (ipra) /Creator (ipra) >>",
            pdf_text_string(title)
        )
        .into_bytes(),
    );
    for (i, content) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                page_obj(i) + 1
            )
            .into_bytes(),
        );
        objects.push(format!("<< /Length {} >>\nstream\n{content}endstream", content.len()).into_bytes());
    }
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R /Info 8 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
}

/// The text of a PDF this module wrote, read back through its ToUnicode map: one line per shown
/// string. For checking a printed form without a PDF reader (the unit tests).
#[cfg(test)]
pub fn extract_text(pdf: &[u8]) -> Option<String> {
    let source = String::from_utf8_lossy(pdf);
    let cmap_start = source.find("beginbfchar")?;
    let cmap_end = source[cmap_start..].rfind("endcmap")? + cmap_start;
    let mut map = HashMap::new();
    for line in source[cmap_start..cmap_end].lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [glyph, text] = parts.as_slice() {
            let glyph = u16::from_str_radix(glyph.trim_matches(['<', '>']), 16).ok()?;
            let units: Vec<u16> = text
                .trim_matches(['<', '>'])
                .as_bytes()
                .chunks(4)
                .filter_map(|c| u16::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
                .collect();
            map.insert(glyph, String::from_utf16(&units).ok()?);
        }
    }
    let mut text = String::new();
    for line in source
        .lines()
        .filter(|l| l.starts_with("BT /F1") && l.ends_with("Tj ET"))
    {
        let hex = line.split('<').nth(1)?.split('>').next()?;
        for chunk in hex.as_bytes().chunks(4) {
            let glyph = u16::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
            text.push_str(map.get(&glyph).map(String::as_str).unwrap_or("\u{FFFD}"));
        }
        text.push('\n');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_maps_cyrillic_and_latin() {
        let f = font();
        for c in "АБВЁЖЯабвёжя№ABCxyz0123".chars() {
            assert_ne!(f.glyph(c), 0, "{c}");
        }
        assert!(f.width("Ш", 10.0) > f.width("i", 10.0));
    }

    #[test]
    fn a_subset_keeps_the_used_glyphs_and_their_components() {
        let f = font();
        let used: std::collections::BTreeSet<u16> = "Отчёт ИПРА".chars().map(|c| f.glyph(c)).collect();
        let cut = subset(FONT_FILE, &used).unwrap();
        assert!(cut.len() < FONT_FILE.len() / 4, "{} bytes", cut.len());
        let parsed = Font::parse(&cut).unwrap();
        assert_eq!(parsed.glyph('ё'), f.glyph('ё'), "glyph ids are kept");
        assert_eq!(parsed.width("Отчёт", 10.0), f.width("Отчёт", 10.0));
        // The whole file sums to the magic number of the TrueType specification.
        let sum = cut.chunks(4).fold(0u32, |s, c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            s.wrapping_add(u32::from_be_bytes(w))
        });
        assert_eq!(sum, 0xB1B0_AFBA);
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let text = "Проведение реабилитационных мероприятий по восстановительной терапии в условиях стационара";
        let lines = wrap(text, 10.0, 150.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| font().width(l, 10.0) <= 150.0));
        assert_eq!(lines.join(" "), text);
        let long = "Ж".repeat(200);
        assert!(wrap(&long, 10.0, 100.0).len() > 5);
    }

    #[test]
    fn a_document_is_a_pdf_with_extractable_cyrillic_text_and_page_breaks() {
        let mut doc = Document::new("Отчёт об исполнении ИПРА");
        doc.text("Отчёт об исполнении ИПРА", 16.0, 0.0, 8.0);
        doc.field("СНИЛС", "123-456-789 01", 10.0);
        for i in 0..120 {
            doc.text(&format!("Мероприятие № {i}: выполнено, ёлка"), 10.0, 12.0, 2.0);
        }
        let pdf = doc.finish();
        assert!(pdf.starts_with(b"%PDF-1.7"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let source = String::from_utf8_lossy(&pdf);
        assert!(source.contains("/FontFile2 6 0 R") && source.contains("/ToUnicode 7 0 R"));
        assert!(source.matches("/Type /Page ").count() >= 2, "long text breaks pages");
        let text = extract_text(&pdf).unwrap();
        assert!(text.contains("Отчёт об исполнении ИПРА"), "{text}");
        assert!(text.contains("Мероприятие № 119: выполнено, ёлка"));
        assert!(text.contains("Страница 1 из"));
        assert!(pdf.len() < 100_000, "the font is subset: {} bytes", pdf.len());
        // The cross-reference table points at the objects (byte offsets).
        let tail = String::from_utf8_lossy(&pdf[pdf.len() - 40..]).into_owned();
        let at: usize = tail
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[at..].starts_with(b"xref"));
        let table = String::from_utf8_lossy(&pdf[at..]).into_owned();
        let first: usize = table.lines().nth(3).unwrap()[..10].parse().unwrap();
        assert!(pdf[first..].starts_with(b"1 0 obj"));
        let seventh: usize = table.lines().nth(9).unwrap()[..10].parse().unwrap();
        assert!(pdf[seventh..].starts_with(b"7 0 obj"));
    }
}
