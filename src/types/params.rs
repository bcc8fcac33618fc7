//! Algorithm parameters that requests name: how the ICC master key is
//! derived, which ISO 9797-1 padding a MAC uses, ARPC method-2 data.

use super::error::{Error, Result};

/// Which EMV Book 2 A1.4 method derives the ICC master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MkDerivation {
    /// Option A (A1.4.1): rightmost 16 digits of PAN || PSN.
    OptionA,
    /// Option B (A1.4.2): equal to option A for PANs of up to 16 digits; for
    /// longer PANs, `Y` is the decimalised SHA-1 of `PAN || PSN`.
    OptionB,
}

/// ISO/IEC 9797-1 padding method applied before a block-cipher MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Iso9797Padding {
    /// No padding: the data must already be a positive multiple of the block size.
    None,
    /// Method 1: append zero bytes up to the block boundary (nothing if already
    /// aligned); empty data becomes one zero block.
    Method1,
    /// Method 2: append `0x80`, then zero bytes up to the block boundary
    /// (always adds at least one byte).
    Method2,
    /// Method 3: prepend one block holding the data length in bits
    /// (big-endian), then pad the data as method 1 (empty data adds no block).
    Method3,
}

/// Proprietary authentication data for an ARPC by EMV method 2: 0 to 8
/// bytes (EMV 4.4 Book 2 8.2.2). Checked once, here: a request that holds
/// one is well formed. Not secret (`Debug` shows hex).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ProprietaryAuthData {
    bytes: [u8; 8],
    len: u8,
}

impl ProprietaryAuthData {
    /// Most bytes EMV method 2 carries.
    pub const MAX_LEN: usize = 8;

    /// Validates 0 to 8 bytes. Errors (`proprietary auth data`): longer.
    pub fn new(data: &[u8]) -> Result<Self> {
        if data.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                "proprietary auth data",
                format!("{} bytes; ARPC method 2 takes 0 to 8", data.len()),
            ));
        }
        let mut bytes = [0u8; 8];
        for (o, i) in bytes.iter_mut().zip(data) {
            *o = *i;
        }
        Ok(Self {
            bytes,
            len: data.len() as u8,
        })
    }

    /// The bytes (0 to 8).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for ProprietaryAuthData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProprietaryAuthData({})",
            hex::encode_upper(self.as_bytes())
        )
    }
}

impl TryFrom<&[u8]> for ProprietaryAuthData {
    type Error = Error;
    fn try_from(data: &[u8]) -> Result<Self> {
        Self::new(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proprietary_auth_data_is_0_to_8_bytes() {
        assert!(ProprietaryAuthData::new(&[]).unwrap().is_empty());
        assert_eq!(
            ProprietaryAuthData::new(&[1; 8]).unwrap().as_bytes(),
            &[1; 8]
        );
        let e = ProprietaryAuthData::new(&[1; 9]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("proprietary auth data"));
    }
}
