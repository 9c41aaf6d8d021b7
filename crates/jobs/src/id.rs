//! Job ids: 26-character, time-sortable (ULID layout: 48-bit millisecond time, 80 random bits,
//! Crockford base32). Generated server-side only; anything else is refused before it is used as
//! a key.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl TryFrom<String> for JobId {
    type Error = JobIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0:?} is not a job id (26 characters of 0-9 and A-Z without I, L, O, U)")]
pub struct JobIdError(pub String);

impl JobId {
    /// Builds an id from a millisecond timestamp and 80 bits of randomness (the low 80 bits of
    /// `random`). Later times sort after earlier ones.
    pub fn new(unix_millis: u64, random: u128) -> JobId {
        let value: u128 = (u128::from(unix_millis & 0xFFFF_FFFF_FFFF) << 80)
            | (random & ((1u128 << 80) - 1));
        let mut out = [0u8; 26];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *slot = ALPHABET[((value >> shift) & 31) as usize];
        }
        JobId(out.iter().map(|&b| char::from(b)).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for JobId {
    type Err = JobIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == 26
            && s.bytes().all(|b| ALPHABET.contains(&b))
            // The first character carries only 3 bits of the timestamp.
            && s.as_bytes()[0] <= b'7';
        if ok {
            Ok(JobId(s.to_string()))
        } else {
            Err(JobIdError(s.chars().take(40).collect()))
        }
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let a = JobId::new(1_700_000_000_000, u128::MAX);
        let b = JobId::new(1_700_000_000_001, 0);
        assert_eq!(a.as_str().len(), 26);
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(a.as_str().parse::<JobId>(), Ok(a.clone()));
    }

    #[test]
    fn foreign_strings_are_not_ids() {
        for bad in ["", "../../etc/passwd", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01arz3ndektsv4rrffq69g5fav",
                    "01ARZ3NDEKTSV4RRFFQ69G5FAI", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAV/x"] {
            assert!(bad.parse::<JobId>().is_err(), "{bad:?} accepted");
        }
        assert!("01ARZ3NDEKTSV4RRFFQ69G5FAV".parse::<JobId>().is_ok());
    }
}
