//! Algorithm parameters that requests name: how the ICC master key is
//! derived, which ISO 9797-1 padding a MAC uses.

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
