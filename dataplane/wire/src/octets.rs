//! Fixed-width integers at fixed offsets.
//!
//! A wire view indexes its buffer with a constant field range that its one
//! length check has already covered; these functions turn that sub-slice
//! into an integer and back, so that every accessor reads as one line.
//! The sub-slice always has exactly the integer's width (the ranges are
//! constants, and the unit tests read and write every field), so the
//! copies below cannot fail.

/// The sub-slice as an array of its own width.
#[inline(always)]
fn array<const N: usize>(octets: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(octets);
    a
}

#[inline(always)]
pub(crate) fn u16_be(octets: &[u8]) -> u16 {
    u16::from_be_bytes(array(octets))
}

#[inline(always)]
pub(crate) fn u32_be(octets: &[u8]) -> u32 {
    u32::from_be_bytes(array(octets))
}

#[inline(always)]
pub(crate) fn u64_be(octets: &[u8]) -> u64 {
    u64::from_be_bytes(array(octets))
}

#[inline(always)]
pub(crate) fn put_u16_be(octets: &mut [u8], value: u16) {
    octets.copy_from_slice(&value.to_be_bytes());
}

#[inline(always)]
pub(crate) fn put_u32_be(octets: &mut [u8], value: u32) {
    octets.copy_from_slice(&value.to_be_bytes());
}

#[inline(always)]
pub(crate) fn put_u64_be(octets: &mut [u8], value: u64) {
    octets.copy_from_slice(&value.to_be_bytes());
}

/// Octets as lower-case hex for the one-line pretty prints; long strings
/// (certificates, signatures) are cut after 8 octets with their length.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const SHOWN: usize = 8;
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for octet in self.0.iter().take(SHOWN) {
            write!(f, "{octet:02x}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "…({} octets)", self.0.len())?;
        }
        Ok(())
    }
}
