//! Name-based UUIDs (RFC 4122 version 5: SHA-1, the URL namespace): plugins have no clock and no randomness, so
//! identifiers of outgoing documents are derived from their inputs and the same input always gives the same identifier.
//!
//! ```
//! use ipra_plugin_sdk::uuid;
//! // Python: uuid.uuid5(uuid.NAMESPACE_URL, "http://python.org/")
//! assert_eq!(uuid::v5("http://python.org/"), "4c565f0d-3f5a-5890-b41b-20cf47701c5e");
//! assert_eq!(uuid::v5("urn:ipra:x"), uuid::v5("urn:ipra:x"));
//! ```

/// The RFC 4122 URL namespace (`6ba7b811-9dad-11d1-80b4-00c04fd430c8`); our names are URNs.
const NAMESPACE_URL: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// UUID v5 of `name` in the URL namespace, lower-case hex with dashes.
///
/// ```
/// assert_eq!(
///     ipra_plugin_sdk::uuid::v5("urn:ipra:fri:report:R-1"),
///     "41ae340f-a658-5eca-9665-75a5cbdba864"
/// );
/// ```
pub fn v5(name: &str) -> String {
    hyphenated(&v5_bytes(name))
}

/// The 16 bytes of the UUID v5 of `name` in the URL namespace, for formats that write a UUID otherwise.
///
/// ```
/// let bytes = ipra_plugin_sdk::uuid::v5_bytes("http://python.org/");
/// assert_eq!(bytes[..4], [0x4c, 0x56, 0x5f, 0x0d]);
/// assert_eq!(bytes[6] >> 4, 5, "version 5");
/// ```
pub fn v5_bytes(name: &str) -> [u8; 16] {
    let mut input = NAMESPACE_URL.to_vec();
    input.extend_from_slice(name.as_bytes());
    let hash = sha1(&input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

/// The canonical text of a UUID: lower-case hex in groups of 8, 4, 4, 4 and 12 digits joined by dashes.
///
/// ```
/// let uuid = ipra_plugin_sdk::uuid::v5_bytes("urn:ipra:fri:package:R-1");
/// assert_eq!(ipra_plugin_sdk::uuid::hyphenated(&uuid), "04dc40d5-21dc-54b3-b899-40138233ff53");
/// ```
pub fn hyphenated(uuid: &[u8; 16]) -> String {
    let hex: String = uuid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_reference_value() {
        // Python: uuid.uuid5(uuid.NAMESPACE_URL, "http://python.org/")
        assert_eq!(v5("http://python.org/"), "4c565f0d-3f5a-5890-b41b-20cf47701c5e");
    }

    #[test]
    fn sha1_matches_the_fips_test_vectors() {
        let hex = |d: [u8; 20]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(sha1(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(hex(sha1(&[b'a'; 1000])), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
    }
}
