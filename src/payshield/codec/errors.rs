//! payShield error codes by (command, code): what each means and which
//! [`ErrorKind`] the client reports it as.
//!
//! The same two characters mean different things on different commands
//! (`04` is "invalid key type code" on most key commands, "invalid output
//! format flag" on M0/M2, "invalid MAC algorithm" on M6/M8 and "invalid
//! mode" on KQ/KW), so the table is looked up by command first, then in the
//! general list.
//!
//! Sources (facts only; the texts below are this crate's wording):
//! - General list: the payShield 10K "Core Host Commands" error table as
//!   copied by ut-codec-payshield `errors/list.json` (L8 for `13`),
//!   PayShieldPressureTest `pressureTest.py` @3a85979b L746-834 and
//!   credulous67/Payshield_test `Payshield_test.py` @d2083040 L46-110
//!   ("derived from payShield 10K Core Host Commands v1, PUGD0537-004").
//! - Per command: ut-codec-payshield `messages.json` @4063d5b8 (M0/M2
//!   L437-459, M6/M8 L486-510, KQ L398-407, KW L417-424, G0 L307-311, A6
//!   `warnings`), and the manual excerpts for CA/CC/CI.
//! - **`13` is disputed:** the 10K table says "invalid LMK identifier";
//!   older manuals (RG7000 / 9000 era, CA/CC/JE tables) say "LMK error,
//!   report to supervisor"; ThalesSim (`ErrorCodes.vb` L107) uses it for a
//!   master key parity error. Reported as [`ErrorKind::Backend`] with all
//!   three readings in the message.

use crate::types::ErrorKind;

/// What a payShield error code means on one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meaning {
    /// How the client reports it.
    pub kind: ErrorKind,
    /// A short description (no request data in it).
    pub text: &'static str,
}

const fn m(kind: ErrorKind, text: &'static str) -> Meaning {
    Meaning { kind, text }
}

use ErrorKind::{Backend, InvalidInput, KeyUsage, Protocol, Unsupported};

/// Codes whose meaning depends on the command.
fn per_command(cmd: &[u8; 2], code: &[u8; 2]) -> Option<Meaning> {
    Some(match (cmd, code) {
        // Data encryption / decryption / translation (M0, M2, M4).
        (b"M0" | b"M2" | b"M4", b"02") => m(InvalidInput, "invalid mode flag"),
        (b"M0" | b"M2" | b"M4", b"03") => m(InvalidInput, "invalid input format flag"),
        (b"M0" | b"M2" | b"M4", b"04") => m(InvalidInput, "invalid output format flag"),
        (b"M0" | b"M2" | b"M4", b"05") => m(KeyUsage, "invalid key type for this command"),
        (b"M0" | b"M2", b"06") => m(InvalidInput, "invalid message length"),
        (b"M4", b"06") => m(InvalidInput, "message shorter than its length field"),
        (b"M4", b"07") => m(InvalidInput, "invalid destination mode flag"),
        (b"M4", b"08") => m(KeyUsage, "invalid destination key type"),
        (b"M4", b"15") => m(InvalidInput, "message longer than its length field"),
        (b"M0" | b"M2" | b"M4", b"35") => m(InvalidInput, "illegal message format"),
        // MAC generation / verification (M6, M8).
        (b"M6" | b"M8", b"02") => m(InvalidInput, "invalid mode flag"),
        (b"M6" | b"M8", b"03") => m(InvalidInput, "invalid input format flag"),
        (b"M6" | b"M8", b"04") => m(Unsupported, "MAC algorithm not recognised by this HSM"),
        (b"M6" | b"M8", b"05") => m(KeyUsage, "invalid key type for a MAC"),
        (b"M6" | b"M8", b"06") => m(InvalidInput, "invalid message length"),
        (b"M6" | b"M8", b"09") => m(Unsupported, "padding method not recognised by this HSM"),
        (b"M6" | b"M8", b"10") => m(KeyUsage, "MAC key parity error: wrong key type or LMK"),
        // ARQC / ARPC (KQ, KW).
        (b"KQ", b"03") => m(InvalidInput, "mode 3 or 4 needs scheme 0"),
        (b"KQ" | b"KW", b"04") => m(Unsupported, "mode flag not recognised by this HSM"),
        (b"KQ" | b"KW", b"05") => m(Unsupported, "scheme ID not recognised by this HSM"),
        (b"KQ", b"06") => m(Backend, "discretionary data MAC verification failure"),
        (b"KW", b"06") => m(InvalidInput, "invalid YHHHHCC value"),
        (b"KQ" | b"KW", b"10") => m(KeyUsage, "MK-AC parity error: wrong key type or LMK"),
        (b"KQ", b"11") => m(KeyUsage, "MK-SMI parity error"),
        (b"KQ", b"80") => m(InvalidInput, "transaction data length error"),
        (b"KQ", b"81") => m(InvalidInput, "zero-length transaction data"),
        (b"KQ", b"82") => m(InvalidInput, "invalid discretionary MAC data length"),
        (b"KW", b"52") => m(InvalidInput, "invalid branch/height"),
        // Key management.
        (b"A0" | b"A8", b"10") => m(KeyUsage, "ZMK or TMK parity error"),
        (b"A6", b"10") => m(KeyUsage, "ZMK parity error"),
        // Key-block LMK: the block under the ZMK (TR-31 or Thales) that
        // fails its MAC is bad input, like a TR-31 block with a wrong MAC
        // on the other backends.
        (b"A6", b"A4") => m(
            InvalidInput,
            "key block authentication failure (wrong ZMK or altered block)",
        ),
        (b"A8", b"11") => m(KeyUsage, "key parity error: wrong key type or LMK"),
        (b"A6", b"01") => m(
            InvalidInput,
            "imported key does not have odd parity (warning)",
        ),
        (b"BU", b"04") => m(KeyUsage, "invalid key type code"),
        (b"BU", b"05") => m(InvalidInput, "invalid key length flag"),
        (b"BU", b"10") => m(KeyUsage, "key parity error: wrong key type or LMK"),
        // PIN translation.
        (b"CA", b"10") => m(KeyUsage, "source TPK parity error"),
        (b"CC", b"10") => m(KeyUsage, "source ZPK parity error"),
        (b"CA" | b"CC" | b"G0" | b"CI", b"11") => m(KeyUsage, "destination ZPK parity error"),
        (b"G0" | b"CI", b"10") => m(KeyUsage, "BDK parity error"),
        (b"G0" | b"CI", b"27") => m(KeyUsage, "BDK is not double or triple length"),
        // Issuer PIN data (ut-codec-payshield `messages.json` L150-392
        // `customResponseError` and `warnings`; the manual's DC, GO, GQ
        // tables).
        (b"DA" | b"EA" | b"GO" | b"DE" | b"EE", b"02") => m(
            Backend,
            "warning: double or triple length PVK, processed with TDES (the answer follows)",
        ),
        (b"DA" | b"EA" | b"DC" | b"EC" | b"GO" | b"GQ", b"01") => {
            m(Backend, "PIN verification failure")
        }
        (b"DA" | b"DC" | b"JC", b"10") => m(KeyUsage, "TPK parity error: wrong key type or LMK"),
        (b"EA" | b"EC" | b"JE", b"10") => m(KeyUsage, "ZPK parity error: wrong key type or LMK"),
        (b"DA" | b"EA" | b"DC" | b"EC" | b"GO" | b"GQ", b"11") => {
            m(KeyUsage, "PVK parity error: wrong key type or LMK")
        }
        (b"DE" | b"EE" | b"DG", b"10") => m(KeyUsage, "PVK parity error: wrong key type or LMK"),
        (b"GO" | b"GQ", b"10") => m(KeyUsage, "BDK parity error"),
        (b"GO", b"27") => m(KeyUsage, "BDK is not double or triple length"),
        (b"GQ", b"27") => m(
            KeyUsage,
            "BDK is not double or triple length, or the PVK not double length",
        ),
        (b"DC" | b"EC" | b"DG", b"27") => {
            m(Unsupported, "PVK is not double length (Visa PVV commands)")
        }
        (b"JG", b"11") => m(KeyUsage, "ZPK parity error: wrong key type or LMK"),
        (b"DE" | b"EE" | b"DG" | b"JA", b"81") => m(InvalidInput, "PIN length mismatch"),
        (b"DE" | b"EE" | b"DG", b"86") => m(
            InvalidInput,
            "PIN in the global or local excluded PIN table",
        ),
        // CVV.
        (b"CW" | b"CY", b"10") => m(KeyUsage, "CVK parity error"),
        (b"CW" | b"CY", b"27") => m(KeyUsage, "CVK is not double length"),
        // PM: the manual excerpt stops before its error codes; these follow
        // the CY / KQ meanings of 10 and 27.
        (b"PM", b"10") => m(KeyUsage, "MK-DCVV parity error: wrong key type or LMK"),
        (b"PM", b"27") => m(KeyUsage, "MK-DCVV is not double length"),
        _ => return None,
    })
}

/// The general (payShield 10K) meaning of a code.
fn general(code: &[u8; 2]) -> Meaning {
    match code {
        b"01" => m(Backend, "verification failure (or a key parity warning)"),
        b"04" => m(KeyUsage, "invalid key type code"),
        b"05" => m(InvalidInput, "invalid key length flag"),
        b"10" => m(KeyUsage, "source key parity error: wrong key type or LMK"),
        b"11" => m(KeyUsage, "destination key parity error (or key all zeros)"),
        b"12" => m(Backend, "no keys loaded in user storage"),
        b"13" => m(
            Backend,
            "disputed code: invalid LMK identifier (payShield 10K table); LMK error, \
             report to supervisor (older manuals); master key parity (one simulator)",
        ),
        b"14" => m(InvalidInput, "PIN under LMK pair 02-03 is invalid"),
        b"15" => m(
            InvalidInput,
            "invalid input data (format, characters, or not enough)",
        ),
        b"17" => m(Backend, "HSM not in the authorised state"),
        b"20" => m(InvalidInput, "PIN block does not contain valid values"),
        b"21" => m(InvalidInput, "invalid index value"),
        b"22" => m(InvalidInput, "invalid account number"),
        b"23" => m(InvalidInput, "invalid or forbidden PIN block format code"),
        b"24" => m(InvalidInput, "PIN length out of range (4 to 12)"),
        b"25" => m(InvalidInput, "decimalisation table error"),
        b"26" => m(InvalidInput, "invalid key scheme"),
        b"27" => m(InvalidInput, "incompatible key length"),
        b"28" => m(KeyUsage, "invalid key type"),
        b"29" => m(KeyUsage, "key function not permitted"),
        b"41" => m(Backend, "internal hardware or software error"),
        b"42" => m(Backend, "DES failure"),
        b"47" => m(Unsupported, "algorithm not licensed"),
        b"51" => m(Protocol, "invalid message header"),
        b"67" => m(Unsupported, "command not licensed"),
        b"68" => m(Unsupported, "command not available on this HSM (disabled)"),
        b"69" => m(Unsupported, "PIN block format disabled"),
        b"75" => m(KeyUsage, "single-length key masquerading as a longer key"),
        b"80" => m(InvalidInput, "data length error"),
        b"83" => m(InvalidInput, "key block format error"),
        b"84" => m(KeyUsage, "key block check value error"),
        b"A1" | b"A2" | b"A3" => m(InvalidInput, "incompatible LMK scheme or identifier"),
        b"A4" => m(KeyUsage, "key block authentication failure"),
        b"A5" => m(InvalidInput, "incompatible key length"),
        b"A6" => m(KeyUsage, "invalid key usage"),
        b"A7" => m(KeyUsage, "invalid algorithm"),
        b"A8" => m(KeyUsage, "invalid mode of use"),
        b"A9" => m(InvalidInput, "invalid key version number"),
        b"AA" => m(KeyUsage, "invalid export field"),
        b"AB" | b"B3" => m(InvalidInput, "invalid number of optional blocks"),
        b"AC" | b"B4" => m(InvalidInput, "optional block error"),
        _ => m(Backend, "command failed"),
    }
}

/// The meaning of error `code` in the answer to command `cmd`.
pub fn meaning(cmd: [u8; 2], code: [u8; 2]) -> Meaning {
    per_command(&cmd, &code).unwrap_or_else(|| general(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_code_means_different_things() {
        assert_eq!(meaning(*b"BU", *b"04").kind, KeyUsage);
        assert_eq!(meaning(*b"M0", *b"04").text, "invalid output format flag");
        assert_eq!(meaning(*b"M6", *b"04").kind, Unsupported);
        assert_eq!(meaning(*b"M6", *b"05").kind, KeyUsage);
        assert_eq!(meaning(*b"BU", *b"05").kind, InvalidInput);
        assert_eq!(meaning(*b"KW", *b"05").kind, Unsupported);
        assert!(meaning(*b"CA", *b"13").text.contains("disputed"));
        assert_eq!(meaning(*b"XX", *b"ZZ").kind, Backend);
        assert!(meaning(*b"DA", *b"02").text.contains("warning"));
        assert_eq!(meaning(*b"DA", *b"10").kind, KeyUsage);
        assert!(meaning(*b"EA", *b"10").text.contains("ZPK"));
        assert_eq!(meaning(*b"DG", *b"27").kind, Unsupported);
        assert_eq!(meaning(*b"GQ", *b"27").kind, KeyUsage, "the BDK's length");
        assert_eq!(meaning(*b"DE", *b"25").kind, InvalidInput);
    }
}
