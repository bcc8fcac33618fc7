//! Just enough X.509 to take the public key out of a certificate, as the AWS
//! Payment Cryptography APIs exchange them: base64 of a PEM certificate.
//! Pure functions over bytes; malformed input is an error, never a panic.

use crate::error::{Error, Result};
use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One DER TLV split off a buffer: (tag, whole TLV, content, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Splits one DER TLV off `buf`.
fn tlv(buf: &[u8]) -> Result<Tlv<'_>> {
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

/// Encodes PEM text as the API sends certificates (base64 of the PEM).
#[cfg(feature = "server")]
pub(crate) fn api_certificate_field(pem: &str) -> String {
    B64.encode(pem.as_bytes())
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
}
