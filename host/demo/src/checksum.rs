//! Check digits of Russian identifiers: SNILS, OGRN and INN of an organisation.
//! Official algorithms; the generator only ever emits numbers that pass them.

/// SNILS control number of the first nine digits (the official algorithm, valid above 001-001-998).
pub fn snils_control(nine: &[u8; 9]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * (9 - i as u32))
        .sum();
    let control = if sum < 100 {
        sum
    } else if sum <= 101 {
        0
    } else {
        let rest = sum % 101;
        if rest == 100 {
            0
        } else {
            rest
        }
    };
    control as u8
}

/// Whether an 11-digit SNILS (digits only) carries a valid control number.
pub fn snils_is_valid(snils: &str) -> bool {
    let bytes = snils.as_bytes();
    if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut nine = [0u8; 9];
    for (slot, b) in nine.iter_mut().zip(bytes) {
        *slot = b - b'0';
    }
    let control = u32::from(bytes[9] - b'0') * 10 + u32::from(bytes[10] - b'0');
    let number: u32 = bytes[..9].iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
    number > 1_001_998 && u32::from(snils_control(&nine)) == control
}

/// Check digit of a 13-digit OGRN from its first twelve digits.
pub fn ogrn_check_digit(first12: u64) -> u8 {
    ((first12 % 11) % 10) as u8
}

/// Whether a 13-digit OGRN is valid.
pub fn ogrn_is_valid(ogrn: &str) -> bool {
    if ogrn.len() != 13 || !ogrn.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(first12) = ogrn[..12].parse::<u64>() else {
        return false;
    };
    u64::from(ogrn_check_digit(first12)) == u64::from(ogrn.as_bytes()[12] - b'0')
}

/// Check digit of a 10-digit INN of an organisation from its first nine digits.
pub fn inn10_check_digit(nine: &[u8; 9]) -> u8 {
    const WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    let sum: u32 = nine.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d) * w).sum();
    ((sum % 11) % 10) as u8
}

/// Whether a 10-digit INN of an organisation is valid.
pub fn inn10_is_valid(inn: &str) -> bool {
    let bytes = inn.as_bytes();
    if bytes.len() != 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut nine = [0u8; 9];
    for (slot, b) in nine.iter_mut().zip(bytes) {
        *slot = b - b'0';
    }
    inn10_check_digit(&nine) == bytes[9] - b'0'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_identifiers_validate() {
        // SNILS from the public FRI samples (test stands) and the classic textbook example.
        assert!(snils_is_valid("11223344595"));
        assert!(snils_is_valid("12033421587"));
        assert!(!snils_is_valid("12033421588"));
        assert!(!snils_is_valid("00100199800"));
        // OGRN of the Social Fund (public register data) and of a sample's medical organisation.
        assert!(ogrn_is_valid("1065321026792"));
        assert!(!ogrn_is_valid("1065321026793"));
        assert!(inn10_is_valid("7707083893"));
        assert!(!inn10_is_valid("7707083894"));
    }
}
