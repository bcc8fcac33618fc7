//! Published known answers the suite checks, each with its source. (The
//! same values are in `tests/vectors/vectors.json` with fuller citations.)

pub(crate) const SRC_JPOS_PIN: &str =
    "jPOS JCESecurityModuleTest testTranslatePINImpl (ISO format 0 under the test ZPK)";
/// ZPK 1334…, PIN 1234, account 1234567890123, ISO 0.
pub(crate) const JPOS_PAN: &str = "1234567890123";
pub(crate) const JPOS_PIN_BLOCK: &str = "3C0CA40863092C3A";

pub(crate) const SRC_X924_1: &str = "ANSI X9.24-1:2009 A.4 DUKPT test data (via openemv/dukpt)";
/// (KSN, encrypted ISO 0 PIN block of PIN 1234 / PAN 4012345678909).
pub(crate) const TDES_DUKPT_PIN: &[(&str, &str)] = &[
    ("FFFF9876543210E00001", "1B9C1845EB993A7A"),
    ("FFFF9876543210E00003", "18DC07B94797B466"),
    ("FFFF9876543210E00005", "5BC0AF22AD87B327"),
];
pub(crate) const TDES_DUKPT_PAN: &str = "4012345678909";
pub(crate) const TDES_DUKPT_CLEAR_ISO0: &str = "041274EDCBA9876F";
/// (KSN, TDES-CBC IV 0 ciphertext under the request data key).
pub(crate) const TDES_DUKPT_DATA: &[(&str, &str)] = &[
    (
        "FFFF9876543210E00001",
        "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F",
    ),
    (
        "FFFF9876543210E00003",
        "BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7",
    ),
];
pub(crate) const TDES_DUKPT_DATA_PLAIN: &str = "343031323334353637383930394439383700000000000000";

pub(crate) const SRC_X924_3: &str =
    "ANSI X9.24-3:2017 supplement, AES-128 BDK test vectors (via openemv/dukpt)";
/// (KSN, ISO 4 PIN block of PIN 1234 / PAN 4111111111111111).
pub(crate) const AES_DUKPT_PIN: &[(&str, &str)] = &[
    (
        "123456789012345600000001",
        "A912150391AB65A67E52883D81CE2D15",
    ),
    (
        "123456789012345600000003",
        "A5A27E82B43A9A866A93D7ABE89CEF93",
    ),
];
pub(crate) const AES_DUKPT_PAN: &str = "4111111111111111";

pub(crate) const SRC_CVV: &str =
    "Visa CVV published test data (CVK 0123456789ABCDEF/FEDCBA9876543210)";
/// (PAN, expiry, service code, CVV).
pub(crate) const CVV: &[(&str, &str, &str, &str)] = &[
    ("4123456789012", "8701", "101", "370"),
    ("4666655554444", "9206", "120", "821"),
    ("4123456789012345", "8701", "101", "561"),
    ("4666655554444111", "9206", "120", "664"),
    ("4123456789012345", "8701", "111", "856"),
];

pub(crate) const SRC_JPOS_ARQC: &str =
    "jPOS JCESecurityModuleTest testVerifyARQCImpl_{VSDC,MCHIP,CSKD}_P00 / testGenerateARPCImpl_VSDC_M1";
pub(crate) const ARQC_PAN: &str = "1234567890123456";
pub(crate) const ARQC_ATC: [u8; 2] = [0x34, 0x56];
pub(crate) const ARQC_UN: [u8; 4] = [0x11, 0x11, 0x11, 0x11];
pub(crate) const ARQC_DATA: &str =
    "000000010000000000001000084000000010800840980704001111111158003456A08003242000";
pub(crate) const ARQC_VISA: &str = "26C8A1042D1CAF3E";
pub(crate) const ARQC_MASTERCARD: &str = "9FFD1D52AE0EC0F3";
pub(crate) const ARQC_EMV_COMMON: &str = "36DBEE15F36B1E7F";
pub(crate) const ARPC_VISA_ARC: [u8; 2] = [0x30, 0x30];
pub(crate) const ARPC_VISA: &str = "98DE7C7B3D80A831";

pub(crate) const SRC_RETAIL_MAC: &str =
    "ISO 9797-1:2011 Annex B.4, MAC algorithm 3, padding method 1 (via openemv/crypto)";
pub(crate) const RETAIL_MAC_DATA: &[u8] = b"Now is the time for all ";
pub(crate) const RETAIL_MAC: &str = "A1C72E74";

pub(crate) const SRC_CMAC_TDES: &str = "NIST SP 800-38B Appendix D, TDES (2-key) examples";
/// (message, CMAC).
pub(crate) const CMAC_TDES: &[(&str, &str)] = &[
    ("", "79CE52A7F786A960"),
    (
        "6BC1BEE22E409F96E93D7E117393172AAE2D8A57",
        "C06D377ECD101969",
    ),
];

pub(crate) const SRC_CMAC_AES: &str = "NIST SP 800-38B Appendix D / RFC 4493, AES-128 examples";
pub(crate) const CMAC_AES: &[(&str, &str)] = &[
    ("", "BB1D6929E95937287FA37D129B756746"),
    (
        "6BC1BEE22E409F96E93D7E117393172AAE2D8A57",
        "7D85449EA6EA19C823A7BF78837DFADE",
    ),
    (
        "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E5130C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710",
        "51F0BEBF7E3B9D92FC49741779363CFE",
    ),
];

pub(crate) const SRC_KCV: &str =
    "KCVs: 08D7B4 (pyemv / thalessimulatorlibrary), 6FB1C8 (jPOS test ZPK), X9.24-3 / NIST keys by CMAC";
