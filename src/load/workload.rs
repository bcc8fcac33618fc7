//! The requests of a load run: one generator per mix entry ([`Kind`]),
//! each building the request a terminal, card or acquirer would send, with
//! random cards and PINs, and checking the answer with the test keys'
//! clear values.
//!
//! Every request `i` of a run is built from its own random generator
//! seeded with `(seed, i)`, so a run with the same seed sends the same
//! requests whatever the scheduling.

use crate::algo::cipher::BlockCipher;
use crate::algo::{cvv, dukpt, emv, pinblock};
use crate::conformance::{KeySet, Role};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::*;
use crate::types::{
    CardExpiry, Iso9797Padding, KeyAlgorithm, KeyId, Ksn, Operation, Pan, Pin, PinBlockFormat, Psn,
    SecretBytes, Verification,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::fmt;
use std::str::FromStr;

macro_rules! kinds {
    ($($variant:ident => $name:literal, $op:ident, $doc:literal;)*) => {
        /// One entry of a load mix: what kind of request it sends.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Kind {
            $(#[doc = $doc] $variant,)*
        }

        impl Kind {
            /// Every kind.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The name in a mix (`translate`, `cvv`, …).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// The operation the requests run.
            pub fn operation(self) -> Operation {
                match self { $(Self::$variant => Operation::$op,)* }
            }
        }
    };
}

kinds! {
    Translate => "translate", TranslatePin,
        "Zone PIN translation: an ISO 9564 format 0 PIN block under `zpk` to format 0 under `zpk2` (payShield CC).";
    Dukpt => "dukpt", TranslatePin,
        "A PIN from a TDES DUKPT terminal (`bdk`, random device and counter), format 0, to format 0 under `zpk2` (payShield G0).";
    Cvv => "cvv", VerifyCardValidation,
        "CVV2 verification at checkout with `cvk` (payShield CY).";
    Arqc => "arqc", VerifyArqc,
        "EMV ARQC verification (Visa CVN 10, `imk-ac`, option A) with an ARPC method 1 (payShield KQ).";
    Mac => "mac", GenerateMac,
        "ISO 9797-1 MAC algorithm 3 (padding method 2) over a 32 to 512-byte message with `mac-m3` (payShield M6).";
}

impl Kind {
    /// The roles (test keys) this kind's requests use.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Self::Translate => &[Role::Zpk, Role::Zpk2],
            Self::Dukpt => &[Role::Bdk, Role::Zpk2],
            Self::Cvv => &[Role::Cvk],
            Self::Arqc => &[Role::ImkAc],
            Self::Mac => &[Role::MacRetail],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid(
                    "mix",
                    format!(
                        "unknown request kind (expected one of {})",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// A weighted mix of request kinds, e.g. `translate=50,cvv=30,arqc=20`:
/// each request is drawn at random with these weights (they need not add
/// up to 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    entries: Vec<(Kind, u32)>,
    total: u64,
}

impl Mix {
    /// A mix from `(kind, weight)` pairs. Errors (field `mix`): no entry, a
    /// kind given twice, or every weight zero.
    pub fn new(entries: impl IntoIterator<Item = (Kind, u32)>) -> Result<Self> {
        let entries: Vec<(Kind, u32)> = entries.into_iter().collect();
        for (i, (k, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(other, _)| other == k) {
                return Err(Error::invalid("mix", format!("{k} is given twice")));
            }
        }
        let total: u64 = entries.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return Err(Error::invalid(
                "mix",
                "expected at least one kind with a weight above zero",
            ));
        }
        let entries = entries.into_iter().filter(|(_, w)| *w > 0).collect();
        Ok(Self { entries, total })
    }

    /// The entries with a weight above zero, in the order given.
    pub fn entries(&self) -> &[(Kind, u32)] {
        &self.entries
    }

    /// The kind a uniform draw `r` in `0..total weight` picks.
    fn pick(&self, mut r: u64) -> Kind {
        for (k, w) in &self.entries {
            let w = u64::from(*w);
            if r < w {
                return *k;
            }
            r -= w;
        }
        // `r` is below the total: unreachable, but a kind is always there.
        self.entries.last().map_or(Kind::Translate, |(k, _)| *k)
    }
}

impl FromStr for Mix {
    type Err = Error;

    /// `KIND=WEIGHT[,KIND=WEIGHT…]`; a bare `KIND` has weight 1.
    fn from_str(s: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let (name, weight) = match item.split_once('=') {
                Some((n, w)) => {
                    let w = w.trim().parse::<u32>().map_err(|_| {
                        Error::invalid(
                            "mix",
                            format!("the weight of {} is not a whole number", n.trim()),
                        )
                    })?;
                    (n.trim(), w)
                }
                None => (item, 1),
            };
            entries.push((name.parse::<Kind>()?, weight));
        }
        Self::new(entries)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, w)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={w}")?;
        }
        Ok(())
    }
}

/// A key a generator uses: its name and clear value (test keys).
#[derive(Clone)]
struct Key {
    id: KeyId,
    clear: SecretBytes,
}

/// What the answer to one request must be, checked with the test keys.
pub(crate) enum Expect {
    /// A PIN block under the TDES key `key` carrying `pin` for `pan`.
    Pin {
        key: SecretBytes,
        pan: String,
        pin: Pin,
    },
    /// A verification that verifies (and, for ARQC, this ARPC).
    Verified(Option<[u8; 8]>),
    /// This MAC.
    Mac([u8; 8]),
}

impl Expect {
    /// True when `response` is the right answer.
    pub(crate) fn holds(&self, response: &Response) -> bool {
        match (self, response) {
            (Self::Pin { key, pan, pin }, Response::TranslatePin(r)) => {
                BlockCipher::tdes(key.expose()).is_ok_and(|cipher| {
                    pinblock::decrypt_pin_block(
                        &cipher,
                        r.format,
                        r.pin_block.as_bytes(),
                        Some(pan),
                    )
                    .is_ok_and(|p| p == *pin)
                })
            }
            (Self::Verified(None), Response::VerifyCardValidation(r)) => {
                r.verification == Verification::Verified
            }
            (Self::Verified(arpc), Response::VerifyArqc(r)) => {
                r.verification == Verification::Verified
                    && match arpc {
                        Some(a) => r.arpc.as_deref() == Some(a.as_slice()),
                        None => true,
                    }
            }
            (Self::Mac(m), Response::GenerateMac(r)) => r.mac == m.as_slice(),
            _ => false,
        }
    }
}

/// The request generators of a run: the mix and the keys it needs.
pub(crate) struct Workload {
    mix: Mix,
    seed: u64,
    keys: std::collections::BTreeMap<Role, Key>,
}

impl Workload {
    /// Takes from `keys` every role the mix needs, with its clear value.
    /// Errors (field `keys`) name the first role that is missing or whose
    /// clear value is unknown.
    pub(crate) fn new(mix: &Mix, keys: &KeySet, seed: u64) -> Result<Self> {
        let mut out = std::collections::BTreeMap::new();
        for (kind, _) in mix.entries() {
            for role in kind.roles() {
                let Some(k) = keys.get(*role) else {
                    return Err(Error::invalid(
                        "keys",
                        format!("{kind} needs the `{role}` key: {}", keys.why_missing(*role)),
                    ));
                };
                let clear = k.clear.clone().ok_or_else(|| {
                    Error::invalid(
                        "keys",
                        format!(
                            "{kind} needs the clear value of the `{role}` test key \
                             to build its requests (a load run uses test keys)"
                        ),
                    )
                })?;
                if clear.len() != role.attributes().algorithm.key_len() {
                    return Err(Error::invalid(
                        "keys",
                        format!("the clear value of `{role}` has the wrong length"),
                    ));
                }
                out.insert(
                    *role,
                    Key {
                        id: k.id.clone(),
                        clear,
                    },
                );
            }
        }
        Ok(Self {
            mix: mix.clone(),
            seed,
            keys: out,
        })
    }

    fn key(&self, role: Role) -> Result<&Key> {
        self.keys
            .get(&role)
            .ok_or_else(|| Error::invalid("keys", format!("no `{role}` key")))
    }

    /// Request `i` of the run: its kind, the request and the expected answer.
    pub(crate) fn request(&self, i: u64) -> Result<(Kind, Request, Expect)> {
        // A splitmix-style mix of the seed and the index: neighbouring
        // requests get unrelated generators.
        let mut z = self
            .seed
            .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut rng = StdRng::seed_from_u64(z ^ (z >> 31));
        let kind = self.mix.pick(rng.random_range(0..self.mix.total));
        let (req, expect) = match kind {
            Kind::Translate => self.translate(&mut rng)?,
            Kind::Dukpt => self.dukpt(&mut rng)?,
            Kind::Cvv => self.cvv(&mut rng)?,
            Kind::Arqc => self.arqc(&mut rng)?,
            Kind::Mac => self.mac(&mut rng)?,
        };
        Ok((kind, req, expect))
    }

    fn translate(&self, rng: &mut StdRng) -> Result<(Request, Expect)> {
        let (zpk, zpk2) = (self.key(Role::Zpk)?, self.key(Role::Zpk2)?);
        let pan = random_pan(rng);
        let pin = random_pin(rng)?;
        let block = pinblock::encrypt_pin_block(
            &BlockCipher::tdes(zpk.clear.expose())?,
            PinBlockFormat::Iso0,
            &pin,
            Some(&pan),
            rng,
        )?;
        let req = TranslatePinRequest {
            incoming_key: PinKey::Key(zpk.id.clone()),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: zpk2.id.clone(),
            outgoing_format: PinBlockFormat::Iso0,
            pan: Pan::new(&pan)?,
            pin_block: block,
        };
        let key = zpk2.clear.clone();
        Ok((req.into(), Expect::Pin { key, pan, pin }))
    }

    fn dukpt(&self, rng: &mut StdRng) -> Result<(Request, Expect)> {
        let (bdk, zpk2) = (self.key(Role::Bdk)?, self.key(Role::Zpk2)?);
        let pan = random_pan(rng);
        let pin = random_pin(rng)?;
        // KSN: key set ID FFFF98765 (BDK ID), a random 19-bit device ID,
        // and a counter of at most 10 one-bits (X9.24-1 A.1).
        let mut ksn = [0xFF, 0xFF, 0x98, 0x76, 0x54, 0, 0, 0, 0, 0];
        let device: u32 = rng.random_range(0..1 << 19);
        ksn[5] = (device >> 11) as u8;
        ksn[6] = (device >> 3) as u8;
        ksn[7] = ((device & 0x7) << 5) as u8;
        let counter: u32 = rng.random_range(1..1024);
        let ksn = Ksn::initial_from_bytes(&ksn)?.with_counter(counter)?;
        let key = dukpt::tdes_working_key(bdk.clear.expose(), &ksn, dukpt::TdesDukptUsage::Pin)?;
        let block = pinblock::encrypt_pin_block(
            &BlockCipher::tdes(key.as_slice())?,
            PinBlockFormat::Iso0,
            &pin,
            Some(&pan),
            rng,
        )?;
        let req = TranslatePinRequest {
            incoming_key: PinKey::Dukpt(Dukpt {
                bdk: bdk.id.clone(),
                ksn,
                key_type: KeyAlgorithm::Tdes2,
            }),
            incoming_format: PinBlockFormat::Iso0,
            outgoing_key: zpk2.id.clone(),
            outgoing_format: PinBlockFormat::Iso0,
            pan: Pan::new(&pan)?,
            pin_block: block,
        };
        let key = zpk2.clear.clone();
        Ok((req.into(), Expect::Pin { key, pan, pin }))
    }

    fn cvv(&self, rng: &mut StdRng) -> Result<(Request, Expect)> {
        let cvk = self.key(Role::Cvk)?;
        let pan = random_pan(rng);
        let expiry = format!(
            "{:02}{:02}",
            rng.random_range(26..36u32),
            rng.random_range(1..13u32)
        );
        // CVV2: service code 000.
        let value = cvv::generate_cvv(cvk.clear.expose(), &pan, &expiry, "000")?;
        let value = std::str::from_utf8(value.as_slice())
            .map_err(|_| Error::new(ErrorKind::Backend, "CVV digits"))?
            .parse()?;
        let req = VerifyCardValidationRequest {
            key: cvk.id.clone(),
            pan: Pan::new(&pan)?,
            expiry: CardExpiry::new(&expiry)?,
            kind: CardValidationKind::Cvv2,
            value,
        };
        Ok((req.into(), Expect::Verified(None)))
    }

    fn arqc(&self, rng: &mut StdRng) -> Result<(Request, Expect)> {
        let imk = self.key(Role::ImkAc)?;
        let pan = random_pan(rng);
        let psn = format!("{:02}", rng.random_range(0..3u32));
        // CDOL1 data as a Visa CVN 10 card MACs it: amount authorised (n12),
        // amount other, terminal country, TVR, currency, date, type,
        // unpredictable number, AIP, ATC, CVR.
        let mut data = Vec::with_capacity(37);
        let amount: u64 = rng.random_range(100..50_000_000);
        data.extend_from_slice(&bcd6(amount));
        data.extend_from_slice(&[0; 6]);
        data.extend_from_slice(&[0x08, 0x40]);
        data.extend_from_slice(&[0x00, 0x00, 0x00, 0x80, 0x00]);
        data.extend_from_slice(&[0x08, 0x40]);
        let day = rng.random_range(1..29u8);
        data.extend_from_slice(&[0x26, 0x03, (day / 10) << 4 | (day % 10)]);
        data.push(0x00);
        let mut un = [0u8; 4];
        rng.fill_bytes(&mut un);
        data.extend_from_slice(&un);
        data.extend_from_slice(&[0x3C, 0x00]);
        let atc: u16 = rng.random_range(1..u16::MAX);
        data.extend_from_slice(&atc.to_be_bytes());
        data.extend_from_slice(&[0x03, 0xA0, 0x00, 0x00]);
        let mk = emv::derive_icc_mk(
            imk.clear.expose(),
            &pan,
            Some(&psn),
            emv::MkDerivation::OptionA,
        )?;
        let sk = emv::derive_session_key(mk.as_slice(), emv::SessionKeyDerivation::None)?;
        let arqc = emv::generate_ac(sk.as_slice(), &data, Iso9797Padding::Method1)?;
        let arpc = emv::generate_arpc_method1(mk.as_slice(), &arqc, b"00")?;
        let req = VerifyArqcRequest {
            key: imk.id.clone(),
            mk_derivation: emv::MkDerivation::OptionA,
            session: SessionKeyDerivation::Visa,
            pan: Pan::new(&pan)?,
            psn: Psn::new(&psn)?,
            transaction_data: data,
            padding: Iso9797Padding::Method1,
            arqc,
            arpc: Some(ArpcMethod::Method1 { arc: *b"00" }),
        };
        Ok((req.into(), Expect::Verified(Some(arpc))))
    }

    fn mac(&self, rng: &mut StdRng) -> Result<(Request, Expect)> {
        let key = self.key(Role::MacRetail)?;
        let len = rng.random_range(32..=512usize);
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        let mac = crate::algo::mac::retail_mac(key.clear.expose(), &data, Iso9797Padding::Method2)?;
        let req = GenerateMacRequest {
            key: key.id.clone(),
            algorithm: MacAlgorithm::Iso9797Alg3(Iso9797Padding::Method2),
            data,
            mac_length: None,
        };
        Ok((req.into(), Expect::Mac(mac)))
    }
}

/// A random 16-digit Visa-range PAN with a valid Luhn check digit.
fn random_pan(rng: &mut StdRng) -> String {
    let mut digits = [0u8; 16];
    digits[0] = 4;
    for d in &mut digits[1..15] {
        *d = rng.random_range(0..10);
    }
    // Luhn: double every second digit from the right, check digit excluded.
    let sum: u32 = digits[..15]
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let x = 2 * d;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    digits[15] = ((10 - sum % 10) % 10) as u8;
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// A random PIN: four digits mostly, sometimes five or six.
fn random_pin(rng: &mut StdRng) -> Result<Pin> {
    let len = match rng.random_range(0..10u8) {
        0 => 6,
        1 => 5,
        _ => 4,
    };
    let s: String = (0..len)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    Ok(Pin::new(&s)?)
}

/// `n` (below 10^12) as 6 bytes of packed BCD.
fn bcd6(mut n: u64) -> [u8; 6] {
    let mut out = [0u8; 6];
    for b in out.iter_mut().rev() {
        let lo = (n % 10) as u8;
        n /= 10;
        let hi = (n % 10) as u8;
        n /= 10;
        *b = hi << 4 | lo;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_name_what_is_wrong() {
        let m: Mix = "translate=50,cvv=30,arqc=20".parse().unwrap();
        assert_eq!(m.to_string(), "translate=50,cvv=30,arqc=20");
        assert_eq!(m.total, 100);
        let m: Mix = "mac, dukpt=3".parse().unwrap();
        assert_eq!(m.entries(), &[(Kind::Mac, 1), (Kind::Dukpt, 3)]);
        for bad in ["", "cvv=0", "pin=3", "cvv=x", "cvv=1,cvv=2", "cvv=-1"] {
            let e = bad.parse::<Mix>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("mix"), "{bad}: {e}");
        }
        // Draws follow the weights exactly over the whole range.
        let m: Mix = "translate=2,cvv=1".parse().unwrap();
        let picks: Vec<Kind> = (0..3).map(|r| m.pick(r)).collect();
        assert_eq!(picks, [Kind::Translate, Kind::Translate, Kind::Cvv]);
    }

    #[test]
    fn pans_pass_luhn_and_bcd_packs() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let pan = random_pan(&mut rng);
            assert_eq!(pan.len(), 16);
            let sum: u32 = pan
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, b)| {
                    let d = u32::from(b - b'0');
                    if i % 2 == 1 {
                        (2 * d) / 10 + (2 * d) % 10
                    } else {
                        d
                    }
                })
                .sum();
            assert_eq!(sum % 10, 0, "{pan}");
        }
        assert_eq!(bcd6(1_234_567), [0x00, 0x00, 0x01, 0x23, 0x45, 0x67]);
    }
}
