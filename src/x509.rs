//! Just enough X.509 to take the public key out of a certificate, as the AWS
//! Payment Cryptography APIs exchange them: base64 of a PEM certificate.
//! Pure functions over bytes; malformed input is an error, never a panic.

use crate::error::{Error, Result};
use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One DER TLV split off a buffer: (tag, whole TLV, content, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Splits one DER TLV off `buf`.
pub(crate) fn tlv(buf: &[u8]) -> Result<Tlv<'_>> {
    let bad = || Error::invalid("certificate", "malformed DER");
    let (&tag, after_tag) = buf.split_first().ok_or_else(bad)?;
    let (&first, mut after_len) = after_tag.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(bad());
        }
        let (len_bytes, rest) = (
            after_len.get(..n).ok_or_else(bad)?,
            after_len.get(n..).ok_or_else(bad)?,
        );
        after_len = rest;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let content = after_len.get(..len).ok_or_else(bad)?;
    let rest = after_len.get(len..).ok_or_else(bad)?;
    let header_len = buf.len() - after_len.len();
    let whole = buf.get(..header_len + len).ok_or_else(bad)?;
    Ok((tag, whole, content, rest))
}

/// The DER `SubjectPublicKeyInfo` of a DER certificate.
pub(crate) fn spki_of_der(cert: &[u8]) -> Result<Vec<u8>> {
    let bad = |what: &str| Error::invalid("certificate", what.to_owned());
    let (tag, _, cert_body, _) = tlv(cert)?;
    if tag != 0x30 {
        return Err(bad("not a certificate"));
    }
    let (tag, _, mut tbs, _) = tlv(cert_body)?;
    if tag != 0x30 {
        return Err(bad("no tbsCertificate"));
    }
    // [0] version (optional), serial, signature, issuer, validity, subject, spki
    let mut index = 0;
    loop {
        let (tag, whole, _, rest) = tlv(tbs)?;
        if index == 0 && tag == 0xA0 {
            tbs = rest;
            continue;
        }
        if index == 5 {
            if tag != 0x30 {
                return Err(bad("no subjectPublicKeyInfo"));
            }
            return Ok(whole.to_vec());
        }
        index += 1;
        tbs = rest;
    }
}

/// DER bytes of the first certificate in PEM text.
pub(crate) fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| Error::invalid("certificate", "no PEM certificate"))?;
    let body = pem.get(start + begin.len()..).unwrap_or("");
    let stop = body
        .find(end)
        .ok_or_else(|| Error::invalid("certificate", "unterminated PEM certificate"))?;
    let b64: String = body
        .get(..stop)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(b64)
        .map_err(|_| Error::invalid("certificate", "PEM body is not base64"))
}

/// The DER certificate in an API certificate field: base64 of PEM (what the
/// service sends), or PEM text.
pub(crate) fn api_certificate_der(field: &str) -> Result<Vec<u8>> {
    if field.contains("-----BEGIN") {
        return pem_to_der(field);
    }
    let pem = B64
        .decode(field.trim())
        .map_err(|_| Error::invalid("certificate", "not base64"))?;
    let pem = String::from_utf8(pem).map_err(|_| Error::invalid("certificate", "not PEM text"))?;
    pem_to_der(&pem)
}

/// PEM text of a DER certificate (64-character lines).
pub(crate) fn der_to_pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Every certificate in an API certificate field (base64 of PEM, or PEM
/// text), in order.
pub(crate) fn api_certificates_der(field: &str) -> Result<Vec<Vec<u8>>> {
    let pem = if field.contains("-----BEGIN") {
        field.to_owned()
    } else {
        let bytes = B64
            .decode(field.trim())
            .map_err(|_| Error::invalid("certificate", "not base64"))?;
        String::from_utf8(bytes).map_err(|_| Error::invalid("certificate", "not PEM text"))?
    };
    let end = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem.as_str();
    while let Some(stop) = rest.find(end) {
        let (one, after) = rest.split_at(stop + end.len());
        out.push(pem_to_der(one)?);
        rest = after;
    }
    if out.is_empty() {
        return Err(Error::invalid("certificate", "no PEM certificate"));
    }
    Ok(out)
}

/// Encodes PEM text as the API sends certificates (base64 of the PEM).
#[cfg(feature = "server")]
pub(crate) fn api_certificate_field(pem: &str) -> String {
    B64.encode(pem.as_bytes())
}

/// The parts of a certificate a signature check needs, as DER.
#[derive(Debug, Clone)]
pub(crate) struct CertParts {
    /// The whole `tbsCertificate` TLV (what the signature covers).
    pub(crate) tbs: Vec<u8>,
    /// Content of the signature algorithm's OID.
    pub(crate) signature_oid: Vec<u8>,
    /// The signature (the BIT STRING's bytes after its unused-bits octet).
    pub(crate) signature: Vec<u8>,
    /// The `SubjectPublicKeyInfo` TLV.
    pub(crate) spki: Vec<u8>,
    /// The `serialNumber` INTEGER TLV.
    pub(crate) serial: Vec<u8>,
    /// The issuer `Name` TLV.
    pub(crate) issuer: Vec<u8>,
    /// The subject `Name` TLV.
    pub(crate) subject: Vec<u8>,
}

/// The content of a BIT STRING with no unused bits.
fn bit_string(content: &[u8]) -> Result<&[u8]> {
    match content.split_first() {
        Some((0, rest)) => Ok(rest),
        _ => Err(Error::invalid("certificate", "malformed BIT STRING")),
    }
}

/// Splits a DER certificate into [`CertParts`].
pub(crate) fn parse_certificate(cert: &[u8]) -> Result<CertParts> {
    let bad = |what: &str| Error::invalid("certificate", what.to_owned());
    let (tag, _, body, trailing) = tlv(cert)?;
    if tag != 0x30 || !trailing.is_empty() {
        return Err(bad("not a certificate"));
    }
    let (tag, tbs, tbs_body, rest) = tlv(body)?;
    if tag != 0x30 {
        return Err(bad("no tbsCertificate"));
    }
    let (tag, _, alg, rest) = tlv(rest)?;
    if tag != 0x30 {
        return Err(bad("no signatureAlgorithm"));
    }
    let (tag, _, oid, _) = tlv(alg)?;
    if tag != 0x06 {
        return Err(bad("no signature algorithm OID"));
    }
    let (tag, _, sig, _) = tlv(rest)?;
    if tag != 0x03 {
        return Err(bad("no signatureValue"));
    }
    // tbsCertificate: [0] version (optional), serial, signature, issuer,
    // validity, subject, subjectPublicKeyInfo, then optional fields.
    let mut fields = Vec::with_capacity(6);
    let mut tbs_rest = tbs_body;
    while fields.len() < 6 {
        let (tag, whole, _, rest) = tlv(tbs_rest)?;
        if !(fields.is_empty() && tag == 0xA0) {
            fields.push((tag, whole));
        }
        tbs_rest = rest;
    }
    let field = |i: usize| {
        fields
            .get(i)
            .map(|(_, w)| w.to_vec())
            .ok_or_else(|| bad("short tbsCertificate"))
    };
    if fields.get(5).map(|(t, _)| *t) != Some(0x30) {
        return Err(bad("no subjectPublicKeyInfo"));
    }
    Ok(CertParts {
        tbs: tbs.to_vec(),
        signature_oid: oid.to_vec(),
        signature: bit_string(sig)?.to_vec(),
        spki: field(5)?,
        serial: field(0)?,
        issuer: field(2)?,
        subject: field(4)?,
    })
}

/// The public key algorithms the AWS API names (`RSA_2048`, …, `ECC_NIST_P521`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicKeyAlgorithm {
    /// RSA with a modulus of this many bits.
    Rsa(usize),
    /// ECDSA/ECDH on NIST P-256.
    P256,
    /// NIST P-384.
    P384,
    /// NIST P-521.
    P521,
}

impl PublicKeyAlgorithm {
    /// The AWS `KeyAlgorithm` value, when it has one.
    pub(crate) fn aws_name(self) -> Option<&'static str> {
        Some(match self {
            Self::Rsa(2048) => "RSA_2048",
            Self::Rsa(3072) => "RSA_3072",
            Self::Rsa(4096) => "RSA_4096",
            Self::Rsa(_) => return None,
            Self::P256 => "ECC_NIST_P256",
            Self::P384 => "ECC_NIST_P384",
            Self::P521 => "ECC_NIST_P521",
        })
    }
}

const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];

/// The algorithm of a `SubjectPublicKeyInfo` and its key (the BIT STRING's
/// bytes: an `RSAPublicKey` or an uncompressed EC point).
pub(crate) fn spki_key(spki: &[u8]) -> Result<(PublicKeyAlgorithm, Vec<u8>)> {
    let bad = |what: &str| Error::invalid("public key", what.to_owned());
    let (tag, _, body, _) = tlv(spki)?;
    if tag != 0x30 {
        return Err(bad("not a SubjectPublicKeyInfo"));
    }
    let (tag, _, alg, rest) = tlv(body)?;
    if tag != 0x30 {
        return Err(bad("no algorithm"));
    }
    let (tag, _, key, _) = tlv(rest)?;
    if tag != 0x03 {
        return Err(bad("no subjectPublicKey"));
    }
    let key = bit_string(key)?.to_vec();
    let (_, _, oid, params) = tlv(alg)?;
    let algorithm = if oid == OID_RSA {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let (_, _, rsa, _) = tlv(&key)?;
        let (tag, _, n, _) = tlv(rsa)?;
        if tag != 0x02 {
            return Err(bad("malformed RSA public key"));
        }
        let n = match n.split_first() {
            Some((0, rest)) => rest,
            _ => n,
        };
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        PublicKeyAlgorithm::Rsa(bits)
    } else if oid == OID_EC {
        let (_, _, curve, _) = tlv(params)?;
        match curve {
            c if c == OID_P256 => PublicKeyAlgorithm::P256,
            c if c == OID_P384 => PublicKeyAlgorithm::P384,
            c if c == OID_P521 => PublicKeyAlgorithm::P521,
            _ => return Err(bad("EC curve other than P-256, P-384 or P-521")),
        }
    } else {
        return Err(bad("neither an RSA nor an EC public key"));
    };
    Ok((algorithm, key))
}

/// Whether `cert`'s signature verifies under the public key in
/// `issuer_spki` (RSA PKCS #1 v1.5 with SHA-256/384/512, ECDSA with
/// SHA-256/384/512). `Ok(false)` for a wrong signature; an error for an
/// algorithm not modelled.
pub(crate) fn verify_signed_by(cert: &CertParts, issuer_spki: &[u8]) -> Result<bool> {
    use aws_lc_rs::signature as sig;
    const RSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
    const RSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
    const RSA_SHA512: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
    const EC_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    const EC_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
    const EC_SHA512: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04];
    let (alg, key) = spki_key(issuer_spki)?;
    use PublicKeyAlgorithm as P;
    let verifier: &'static dyn sig::VerificationAlgorithm = match (cert.signature_oid.as_slice(), alg) {
        (RSA_SHA256, P::Rsa(_)) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (RSA_SHA384, P::Rsa(_)) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (RSA_SHA512, P::Rsa(_)) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (EC_SHA256, P::P256) => &sig::ECDSA_P256_SHA256_ASN1,
        (EC_SHA384, P::P256) => &sig::ECDSA_P256_SHA384_ASN1,
        (EC_SHA256, P::P384) => &sig::ECDSA_P384_SHA256_ASN1,
        (EC_SHA384, P::P384) => &sig::ECDSA_P384_SHA384_ASN1,
        (EC_SHA512, P::P384) => &sig::ECDSA_P384_SHA512_ASN1,
        (EC_SHA512, P::P521) => &sig::ECDSA_P521_SHA512_ASN1,
        _ => {
            return Err(Error::unsupported(
                "this certificate signature algorithm (RSA PKCS #1 v1.5 or ECDSA with SHA-256/384/512 are)",
            ))
        }
    };
    Ok(sig::UnparsedPublicKey::new(verifier, &key)
        .verify(&cert.tbs, &cert.signature)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_never_panics() {
        for input in [
            &b""[..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x02, 0x30],
        ] {
            assert!(spki_of_der(input).is_err());
        }
        assert!(api_certificate_der("!!!").is_err());
        assert!(pem_to_der("-----BEGIN CERTIFICATE-----\n@@\n-----END CERTIFICATE-----").is_err());
    }

    #[cfg(feature = "server")]
    #[test]
    fn parses_and_verifies_a_self_signed_certificate_and_never_panics() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "x509 unit");
        let cert = p.self_signed(&key).unwrap();
        let der = cert.der().to_vec();
        let parts = parse_certificate(&der).unwrap();
        assert_eq!(parts.spki, key.public_key_der());
        assert_eq!(parts.issuer, parts.subject);
        assert_eq!(spki_key(&parts.spki).unwrap().0, PublicKeyAlgorithm::P256);
        assert!(verify_signed_by(&parts, &parts.spki).unwrap());
        let mut tampered = parts.clone();
        if let Some(b) = tampered.tbs.last_mut() {
            *b ^= 1;
        }
        assert!(!verify_signed_by(&tampered, &parts.spki).unwrap());
        for n in 0..der.len() {
            assert!(parse_certificate(&der[..n]).is_err(), "prefix {n}");
        }
        for i in 0..der.len() {
            let mut d = der.clone();
            d[i] ^= 0xFF;
            if let Ok(p) = parse_certificate(&d) {
                let _ = verify_signed_by(&p, &p.spki);
            }
        }
    }
}
