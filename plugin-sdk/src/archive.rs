//! ZIP archives as exchanges deliver them (an extract zipped as an attachment): detection and extraction
//! of entries under hard limits, so that a zip bomb fails with a clear error instead of exhausting memory.
//!
//! Entries are found through the central directory (sizes there are reliable also when the local headers
//! defer them to a data descriptor); stored and deflated entries are supported, each checked against its
//! CRC-32. Limits: number of entries, total uncompressed size, and the compression ratio of each entry.
//! Inflation never produces more than the entry's declared size, so a lying header fails too.
//!
//! ```
//! use ipra_plugin_sdk::archive::{extract_xml, is_zip, write_zip, ArchiveLimits};
//! let zip = write_zip(&[("extract.xml", b"<a/>".as_slice()), ("extract.sig", b"sig".as_slice())]);
//! assert!(is_zip(&zip));
//! let entries = extract_xml(&zip, &ArchiveLimits::default()).unwrap();
//! assert_eq!((entries.len(), entries[0].name.as_str(), entries[0].bytes.as_slice()), (1, "extract.xml", b"<a/>".as_slice()));
//! ```

use thiserror::Error;

/// Hard limits of one extraction.
///
/// ```
/// let limits = ipra_plugin_sdk::archive::ArchiveLimits { max_entries: 10, ..Default::default() };
/// assert_eq!(limits.max_total_size, 64 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Most entries the central directory may list (directories and skipped entries count too).
    pub max_entries: usize,
    /// Most bytes all extracted entries may hold together once uncompressed.
    pub max_total_size: u64,
    /// Most uncompressed bytes per compressed byte of one entry (checked for entries above
    /// [`ratio_floor`](Self::ratio_floor) only: tiny entries compress extremely well and are harmless).
    pub max_ratio: u64,
    /// Entries with fewer uncompressed bytes than this are not held to [`max_ratio`](Self::max_ratio).
    pub ratio_floor: u64,
}

impl Default for ArchiveLimits {
    /// 1000 entries, 64 MiB in total (the size a plugin may hold), ratio 200 above 1 MiB. Real FRI
    /// extracts compress 10–30 times; a bomb of zeros about 1000 times.
    fn default() -> Self {
        ArchiveLimits {
            max_entries: 1000,
            max_total_size: 64 * 1024 * 1024,
            max_ratio: 200,
            ratio_floor: 1024 * 1024,
        }
    }
}

/// Why an archive cannot be extracted; `Display` is the Russian message.
///
/// ```
/// use ipra_plugin_sdk::archive::{extract_xml, ArchiveLimits};
/// let error = extract_xml(b"PK\x03\x04 truncated", &ArchiveLimits::default()).unwrap_err();
/// assert_eq!(error.code(), "archive-malformed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArchiveError {
    /// Not a readable ZIP archive (truncated, inconsistent, wrong CRC).
    #[error("ZIP-архив повреждён: {0}")]
    Malformed(String),
    /// A ZIP feature this reader does not implement (encryption, ZIP64, compression methods other than
    /// deflate, multi-part archives).
    #[error("ZIP-архив не поддерживается: {0}")]
    Unsupported(String),
    /// A limit of [`ArchiveLimits`] would be exceeded: the archive is refused as a possible zip bomb.
    #[error("ZIP-архив отклонён: {0}")]
    Limit(String),
}

impl ArchiveError {
    /// Stable machine code: `archive-malformed`, `archive-unsupported` or `archive-limit`.
    ///
    /// ```
    /// let error = ipra_plugin_sdk::archive::ArchiveError::Limit("слишком много файлов".into());
    /// assert_eq!(error.code(), "archive-limit");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::Malformed(_) => "archive-malformed",
            ArchiveError::Unsupported(_) => "archive-unsupported",
            ArchiveError::Limit(_) => "archive-limit",
        }
    }
}

/// One extracted file.
///
/// ```
/// let entry = ipra_plugin_sdk::archive::Entry { name: "a.xml".into(), bytes: vec![] };
/// assert!(entry.bytes.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive, as stored (`/` separated).
    pub name: String,
    /// Uncompressed content.
    pub bytes: Vec<u8>,
}

/// Whether the bytes start like a ZIP archive (a local file header, `PK\x03\x04`).
///
/// ```
/// assert!(ipra_plugin_sdk::archive::is_zip(b"PK\x03\x04rest"));
/// assert!(!ipra_plugin_sdk::archive::is_zip(b"<?xml"));
/// ```
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The entries whose name ends with `.xml` (any case), in archive order.
///
/// ```
/// use ipra_plugin_sdk::archive::{extract_xml, write_zip, ArchiveLimits};
/// let zip = write_zip(&[("dir/", b"".as_slice()), ("dir/A.XML", b"<a/>".as_slice())]);
/// assert_eq!(extract_xml(&zip, &ArchiveLimits::default()).unwrap()[0].name, "dir/A.XML");
/// ```
pub fn extract_xml(bytes: &[u8], limits: &ArchiveLimits) -> Result<Vec<Entry>, ArchiveError> {
    extract(bytes, limits, |name| name.to_ascii_lowercase().ends_with(".xml"))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

const EOCD: u32 = 0x0605_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

/// The entries whose name `wanted` accepts (directories are never extracted), in archive order.
///
/// ```
/// use ipra_plugin_sdk::archive::{extract, write_zip, ArchiveLimits};
/// let zip = write_zip(&[("a.txt", b"text".as_slice())]);
/// assert_eq!(extract(&zip, &ArchiveLimits::default(), |_| true).unwrap()[0].bytes, b"text");
/// ```
pub fn extract(
    bytes: &[u8],
    limits: &ArchiveLimits,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<Entry>, ArchiveError> {
    let malformed = |what: &str| ArchiveError::Malformed(what.to_string());
    // The end-of-central-directory record: 22 bytes plus a comment of at most 65535 bytes.
    let search_from = bytes.len().saturating_sub(22 + 65_535);
    let eocd = (search_from..bytes.len().saturating_sub(21))
        .rev()
        .find(|&at| u32_at(bytes, at) == Some(EOCD))
        .ok_or_else(|| malformed("не найден конец центрального каталога (архив оборван?)"))?;
    let field = |offset: usize| u16_at(bytes, eocd + offset).ok_or_else(|| malformed("оборван конец каталога"));
    let (disk, cd_disk) = (field(4)?, field(6)?);
    if disk != 0 || cd_disk != 0 {
        return Err(ArchiveError::Unsupported("многотомный архив".to_string()));
    }
    let count = usize::from(field(10)?);
    let cd_offset = u32_at(bytes, eocd + 16).ok_or_else(|| malformed("оборван конец каталога"))?;
    if count == 0xFFFF || cd_offset == 0xFFFF_FFFF {
        return Err(ArchiveError::Unsupported("формат ZIP64".to_string()));
    }
    if count > limits.max_entries {
        return Err(ArchiveError::Limit(format!(
            "в архиве {count} файлов, допускается не более {}",
            limits.max_entries
        )));
    }
    let mut at = cd_offset as usize;
    let mut total: u64 = 0;
    let mut entries = Vec::new();
    for _ in 0..count {
        if u32_at(bytes, at) != Some(CENTRAL) {
            return Err(malformed("запись центрального каталога не найдена"));
        }
        let header = |offset: usize| u16_at(bytes, at + offset).ok_or_else(|| malformed("оборвана запись каталога"));
        let word = |offset: usize| u32_at(bytes, at + offset).ok_or_else(|| malformed("оборвана запись каталога"));
        let (flags, method) = (header(8)?, header(10)?);
        let (crc, compressed, size) = (word(16)?, u64::from(word(20)?), u64::from(word(24)?));
        let (name_len, extra_len, comment_len) = (
            usize::from(header(28)?),
            usize::from(header(30)?),
            usize::from(header(32)?),
        );
        let local = word(42)? as usize;
        let name_bytes = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| malformed("оборвано имя файла в каталоге"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        at += 46 + name_len + extra_len + comment_len;

        if name.ends_with('/') || !wanted(&name) {
            continue;
        }
        if flags & 1 != 0 {
            return Err(ArchiveError::Unsupported(format!("файл «{name}» зашифрован")));
        }
        if compressed == 0xFFFF_FFFF || size == 0xFFFF_FFFF {
            return Err(ArchiveError::Unsupported("формат ZIP64".to_string()));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_size {
            return Err(ArchiveError::Limit(format!(
                "распакованный размер превышает {} МиБ (файл «{name}»)",
                limits.max_total_size / (1024 * 1024)
            )));
        }
        if size >= limits.ratio_floor && size > compressed.saturating_mul(limits.max_ratio) {
            return Err(ArchiveError::Limit(format!(
                "файл «{name}» сжат в {} раз, допускается не более {} (похоже на zip-бомбу)",
                size / compressed.max(1),
                limits.max_ratio
            )));
        }
        if u32_at(bytes, local) != Some(LOCAL) {
            return Err(malformed(&format!("не найден заголовок файла «{name}»")));
        }
        let local_name = usize::from(u16_at(bytes, local + 26).unwrap_or(0));
        let local_extra = usize::from(u16_at(bytes, local + 28).unwrap_or(0));
        let start = local + 30 + local_name + local_extra;
        let data = start
            .checked_add(compressed as usize)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| malformed(&format!("данные файла «{name}» оборваны")))?;
        let content = match method {
            0 if compressed == size => data.to_vec(),
            0 => return Err(malformed(&format!("размеры файла «{name}» не совпадают"))),
            8 => {
                miniz_oxide::inflate::decompress_to_vec_with_limit(data, size as usize).map_err(|e| match e.status {
                    miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ArchiveError::Limit(format!(
                        "файл «{name}» распаковывается в больший объём, чем указано в каталоге"
                    )),
                    _ => malformed(&format!("данные файла «{name}» не распаковываются")),
                })?
            }
            other => {
                return Err(ArchiveError::Unsupported(format!(
                    "метод сжатия {other} файла «{name}» (поддерживаются только store и deflate)"
                )))
            }
        };
        if content.len() as u64 != size {
            return Err(malformed(&format!("размер файла «{name}» не совпадает с каталогом")));
        }
        if crc32(&content) != crc {
            return Err(malformed(&format!("контрольная сумма файла «{name}» не совпадает")));
        }
        entries.push(Entry { name, bytes: content });
    }
    Ok(entries)
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 (ISO-HDLC, as ZIP uses it).
///
/// ```
/// assert_eq!(ipra_plugin_sdk::archive::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Writes a ZIP archive of deflated entries (UTF-8 names; names ending in `/` are stored as directories).
/// For outgoing packages and for tests.
///
/// ```
/// use ipra_plugin_sdk::archive::{extract, write_zip, ArchiveLimits};
/// let zip = write_zip(&[("отчёт.xml", "<a>тест</a>".as_bytes())]);
/// let entries = extract(&zip, &ArchiveLimits::default(), |_| true).unwrap();
/// assert_eq!(entries[0].name, "отчёт.xml");
/// ```
pub fn write_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, content) in entries {
        let directory = name.ends_with('/');
        let (method, data) = if directory {
            (0u16, Vec::new())
        } else {
            (8u16, miniz_oxide::deflate::compress_to_vec(content, 6))
        };
        let crc = if directory { 0 } else { crc32(content) };
        let offset = out.len() as u32;
        let header = |out: &mut Vec<u8>, signature: u32| {
            out.extend_from_slice(&signature.to_le_bytes());
            if signature == CENTRAL {
                out.extend_from_slice(&20u16.to_le_bytes()); // version made by
            }
            out.extend_from_slice(&20u16.to_le_bytes()); // version needed
            out.extend_from_slice(&(1u16 << 11).to_le_bytes()); // UTF-8 names
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0x21, 0]); // 1980-01-01 00:00
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(content.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        header(&mut out, LOCAL);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        header(&mut central, CENTRAL);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&(if directory { 0x10u32 } else { 0 }).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&EOCD.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_bomb_is_refused_before_inflating() {
        let zeros = vec![0u8; 50 * 1024 * 1024];
        let bomb = write_zip(&[("bomb.xml", zeros.as_slice())]);
        assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
        let error = extract_xml(&bomb, &ArchiveLimits::default()).unwrap_err();
        assert_eq!(error.code(), "archive-limit", "{error}");
        // Many entries that each look harmless still hit the total.
        let chunk = vec![b'a'; 900 * 1024];
        let many: Vec<(String, &[u8])> = (0..80).map(|i| (format!("{i}.xml"), chunk.as_slice())).collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        let error = extract_xml(&write_zip(&refs), &ArchiveLimits::default()).unwrap_err();
        assert_eq!(error.code(), "archive-limit", "{error}");
    }

    #[test]
    fn a_lying_header_is_caught() {
        let mut zip = write_zip(&[("a.xml", b"<a>0123456789</a>".as_slice())]);
        // Shrink the declared uncompressed size in the central directory.
        let cd = zip.len() - 22 - (46 + "a.xml".len());
        zip[cd + 24] = 4;
        assert_eq!(
            extract_xml(&zip, &ArchiveLimits::default()).unwrap_err().code(),
            "archive-limit"
        );
        let mut zip = write_zip(&[("a.xml", b"<a>0123456789</a>".as_slice())]);
        let cd = zip.len() - 22 - (46 + "a.xml".len());
        zip[cd + 16] ^= 1;
        assert_eq!(
            extract_xml(&zip, &ArchiveLimits::default()).unwrap_err().code(),
            "archive-malformed"
        );
    }

    #[test]
    fn entry_count_limit() {
        let names: Vec<String> = (0..5).map(|i| format!("{i}.xml")).collect();
        let refs: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), b"<a/>".as_slice())).collect();
        let limits = ArchiveLimits {
            max_entries: 4,
            ..Default::default()
        };
        assert_eq!(
            extract_xml(&write_zip(&refs), &limits).unwrap_err().code(),
            "archive-limit"
        );
        assert_eq!(
            extract_xml(&write_zip(&refs), &ArchiveLimits::default()).unwrap().len(),
            5
        );
    }
}
