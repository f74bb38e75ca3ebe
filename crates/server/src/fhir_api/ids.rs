//! FHIR ids of stored records. Program ids allow `_` and `:` (storage `shape::id`), FHIR ids do not
//! ([A-Za-z0-9-.]{1,64}, https://hl7.org/fhir/R4/datatypes.html#id), so ids are escaped: `.` as `..`, `_` as
//! `.u`, `:` as `.c`. A record that belongs to a patient carries the patient in its id (`pt-1.-lab-3f2a...`, `.-`
//! separating the two), so a read finds it from the patient's file without a lookup table; the record part is
//! compared, never decoded, so it may be a hash when the record id does not fit.

use aws_lc_rs::digest::{SHA256, digest};

const MAX: usize = 64;

fn fhir_valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The FHIR id of a program id (patient, user), or `None` when it cannot be written in 64 characters.
pub(crate) fn escape(id: &str) -> Option<String> {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            '.' => out.push_str(".."),
            '_' => out.push_str(".u"),
            ':' => out.push_str(".c"),
            c if c.is_ascii_alphanumeric() || c == '-' => out.push(c),
            _ => return None,
        }
    }
    fhir_valid(&out).then_some(out)
}

/// Split a FHIR id into the program id it escapes and, after `.-`, the record part. `None` if it is not an id
/// this server writes.
pub(crate) fn unescape(fhir_id: &str) -> Option<(String, Option<&str>)> {
    if !fhir_valid(fhir_id) {
        return None;
    }
    let mut out = String::new();
    let mut chars = fhir_id.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '.' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '.')) => out.push('.'),
            Some((_, 'u')) => out.push('_'),
            Some((_, 'c')) => out.push(':'),
            Some((_, '-')) => {
                let rest = &fhir_id[i + 2..];
                return (!out.is_empty() && !rest.is_empty()).then_some((out, Some(rest)));
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some((out, None))
}

/// The FHIR id of a record of a patient: the escaped patient, `.-`, and the record id when it is already a valid
/// FHIR id and fits, else `h` and 16 hex digits of its SHA-256.
pub(crate) fn scoped(patient: &str, record: &str) -> Option<String> {
    let p = escape(patient)?;
    let plain = format!("{p}.-{record}");
    if fhir_valid(&plain) {
        return Some(plain);
    }
    let hashed = format!("{p}.-h{}", &sha256_hex(record.as_bytes())[..16]);
    fhir_valid(&hashed).then_some(hashed)
}

/// SHA-256 in lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_ids_round_trip_through_fhir_ids() {
        for id in ["pt-1", "syn-0000001", "a.b", "clinic_1:pt.7", "x..y"] {
            let f = escape(id).unwrap();
            assert!(fhir_valid(&f), "{f}");
            assert_eq!(unescape(&f), Some((id.to_string(), None)), "{id}");
        }
    }

    #[test]
    fn a_record_id_carries_its_patient() {
        let f = scoped("pt_1", "lab-0123456789ab").unwrap();
        assert_eq!(f, "pt.u1.-lab-0123456789ab");
        assert_eq!(
            unescape(&f),
            Some(("pt_1".to_string(), Some("lab-0123456789ab")))
        );
        // Not a valid FHIR id as it is: hashed, still found under its patient.
        let h = scoped("pt-1", "pregnancy_test-0123456789ab").unwrap();
        assert!(
            h.starts_with("pt-1.-h") && h.len() == "pt-1.-h".len() + 16,
            "{h}"
        );
    }

    #[test]
    fn ids_this_server_does_not_write_are_refused() {
        for bad in ["", ".x", "a.", "a b", "a.-", ".-b", &"a".repeat(65)] {
            assert_eq!(unescape(bad), None, "{bad:?}");
        }
        assert_eq!(escape(&"_".repeat(40)), None);
    }
}
