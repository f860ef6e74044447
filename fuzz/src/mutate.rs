//! A small deterministic mutator for documents: byte-level changes and the structural ones that
//! hostile XML is made of (a DTD and entities, deep nesting, duplicated elements, swapped versions
//! and namespaces, wrong encodings, impossible dates, truncation).

/// xorshift64*: reproducible from the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Pieces that hostile documents are made of.
const TOKENS: &[&[u8]] = &[
    b"<!DOCTYPE a [<!ENTITY e \"eeeeeeeeee\"><!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;\">]>",
    b"<!DOCTYPE a SYSTEM \"file:///etc/passwd\">",
    b"&f;",
    b"&#0;",
    b"&#x110000;",
    b"<![CDATA[",
    b"]]>",
    b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
    b"<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3\x28",
    b"\xD0",
    b" xmlns=\"urn:foreign\"",
    b" xmlns:fri=\"http://example.com/other\"",
    b"9.9.9",
    b"0000-00-00",
    b"2031-02-30",
    b"1800-01-01",
    b"9999-12-31T99:99:99",
    b"000-000-000 00",
    b"123-456-789 00",
    b"<a>",
    b"</a>",
    b"/>",
    b"\"",
    b"'",
    b"<",
    b">",
    b"&",
    b"=",
    b"-1",
    b"99999999999999999999999",
];

/// Versions and namespaces swapped for one another.
const SWAPS: &[(&[u8], &[u8])] = &[
    (b"4.0.6", b"9.9.9"),
    (b"4.0.4", b"4.0.5"),
    (b"4.0.1", b""),
    (b"IPRA_20221024", b"IPRA_20991231"),
    (b"http://fri.pfr.ru", b"http://fri.pfr.ru.example"),
    (b"true", b"maybe"),
    (b"false", b""),
    (b"-", b"--"),
];

/// One to four mutations of `input`, with `other` (another seed) for splices.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(12) {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    if !data.is_empty() {
                        let i = rng.below(data.len());
                        data[i] ^= 1 << rng.below(8);
                    }
                }
            }
            1 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(i..i, bytes);
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                data.drain(a..b);
            }
            3 if len > 0 => {
                // An element (or any stretch) repeated, sometimes many times.
                let a = rng.below(len);
                let b = (a + 1 + rng.below(2048)).min(len);
                let piece = data[a..b].to_vec();
                let times = if rng.below(8) == 0 { 100 + rng.below(2000) } else { 1 };
                let at = rng.below(len + 1);
                for _ in 0..times {
                    data.splice(at..at, piece.iter().copied());
                    if data.len() > max_len {
                        break;
                    }
                }
            }
            4 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                data.splice(i..i, token.iter().copied());
            }
            5 => {
                // Deep nesting where an element begins.
                let depth = 100 + rng.below(20_000);
                let i = data.iter().position(|&c| c == b'>').map(|p| p + 1).unwrap_or(0);
                let mut deep = b"<a>".repeat(depth);
                deep.extend(b"</a>".repeat(if rng.below(2) == 0 { depth } else { depth / 2 }));
                data.splice(i..i, deep);
            }
            6 => {
                let (from, to) = SWAPS[rng.below(SWAPS.len())];
                if let Some(at) = find(&data, from) {
                    data.splice(at..at + from.len(), to.iter().copied());
                }
            }
            7 if len > 1 => data.truncate(rng.below(len)),
            8 if !other.is_empty() => {
                // A splice with another document.
                let a = rng.below(len + 1);
                let b = rng.below(other.len());
                let c = (b + 1 + rng.below(4096)).min(other.len());
                data.splice(a..a, other[b..c].iter().copied());
            }
            9 => {
                // A date made impossible.
                if let Some(at) = find_date(&data, rng.below(64)) {
                    let bad: &[u8] =
                        [b"2031-01-01" as &[u8], b"1900-02-30", b"0001-01-01", b"2021-13-45"][rng.below(4)];
                    data.splice(at..at + 10, bad.iter().copied());
                }
            }
            10 => {
                // Text of an element replaced by a long run.
                if let Some(at) = data.iter().position(|&c| c == b'>') {
                    let run = vec![b"x\xD0\x96<&"[rng.below(5)]; 1 + rng.below(100_000)];
                    data.splice(at + 1..at + 1, run);
                }
            }
            _ => {
                if len > 0 {
                    let i = rng.below(len);
                    data[i] = [0u8, b'<', b'>', b'&', b'"', 0xFF][rng.below(6)];
                }
            }
        }
        data.truncate(max_len);
    }
    data
}

fn find(data: &[u8], what: &[u8]) -> Option<usize> {
    if what.is_empty() || what.len() > data.len() {
        return None;
    }
    data.windows(what.len()).position(|w| w == what)
}

/// The `n`-th (wrapping) `YYYY-MM-DD` in `data`.
fn find_date(data: &[u8], n: usize) -> Option<usize> {
    let is_date = |w: &[u8]| {
        w.len() == 10 && w[4] == b'-' && w[7] == b'-' && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| w[i].is_ascii_digit())
    };
    let all: Vec<usize> = data
        .windows(10)
        .enumerate()
        .filter(|(_, w)| is_date(w))
        .map(|(i, _)| i)
        .collect();
    (!all.is_empty()).then(|| all[n % all.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        let input = b"<a><b>2021-01-01</b></a>";
        let one: Vec<Vec<u8>> = (0..50)
            .scan(Rng::new(7), |rng, _| Some(mutate(rng, input, input, 1 << 20)))
            .collect();
        let two: Vec<Vec<u8>> = (0..50)
            .scan(Rng::new(7), |rng, _| Some(mutate(rng, input, input, 1 << 20)))
            .collect();
        assert_eq!(one, two);
        assert!(one.iter().all(|m| m.len() <= 1 << 20));
        assert!(one.iter().any(|m| m.as_slice() != input));
    }
}
