//! Start-up: one CA bundle file for both HTTP stacks.
//!
//! The AWS SDK's and Slack's HTTP clients each load the system's root certificates
//! (`rustls-native-certs`). Unless told otherwise, that is the distribution's bundle
//! file *and* every file of its certificates directory, each parsed on its own: on a
//! Debian-like host about 150 more files, which made up half of a cold start here
//! (18.7 ms → 8.3 ms init, `bench/`). The bundle holds the same roots. So, when the
//! deployment sets neither `SSL_CERT_FILE` nor `SSL_CERT_DIR`, the first bundle of
//! the known places that exists is named in `SSL_CERT_FILE` and read alone.
//!
//! Both stacks then still parsed that bundle, each with the constant-time base64
//! decoder of `rustls-pki-types` (made for private keys; root certificates are
//! public): two thirds of a cold start's instructions. The SDK's stack keeps its own
//! loading (it takes no parsed roots), but Slack's client is given the roots read
//! here, once, with an ordinary base64 decoder ([`bundle_roots`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use memchr::memmem;

/// Where distributions keep the one-file bundle: Amazon Linux 2023 (the Lambda
/// `provided.al2023` runtime) and Fedora, Debian and Ubuntu, Alpine and others.
const BUNDLES: [&str; 3] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/cert.pem",
];

/// Names the system's CA bundle in `SSL_CERT_FILE` when nothing is configured.
/// Returns the file chosen, if any.
///
/// Call it first thing in `main`, before any thread starts (it sets a variable of
/// the process environment).
pub fn prefer_one_bundle() -> Option<&'static str> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("SSL_CERT_FILE") || set("SSL_CERT_DIR") {
        return None;
    }
    let bundle = choose(|path| std::path::Path::new(path).is_file())?;
    // SAFETY: called at the start of `main`, while the process has one thread.
    unsafe { std::env::set_var("SSL_CERT_FILE", bundle) };
    Some(bundle)
}

/// The root certificates (DER) of the bundle `SSL_CERT_FILE` names, when it names
/// one and `SSL_CERT_DIR` adds no directory. `None` when there is none to read or it
/// holds no certificate: the HTTP client then loads the system's roots itself.
pub fn bundle_roots() -> Option<Vec<Vec<u8>>> {
    if std::env::var_os("SSL_CERT_DIR").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let path = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty())?;
    let pem = std::fs::read(&path)
        .inspect_err(|e| tracing::warn!(error = %e, "SSL_CERT_FILE cannot be read"))
        .ok()?;
    let roots = pem_certificates(&pem);
    (!roots.is_empty()).then_some(roots)
}

/// The `CERTIFICATE` blocks of a PEM file, decoded. Other blocks (`TRUSTED
/// CERTIFICATE`, keys, CRLs), text around them and blocks that are not valid base64
/// are skipped, as `rustls-native-certs` skips them.
pub fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let (begin, end) = (memmem::Finder::new(BEGIN), memmem::Finder::new(END));
    let mut certificates = vec![];
    let mut rest = pem;
    while let Some(at) = begin.find(rest) {
        rest = &rest[at + BEGIN.len()..];
        let Some(stop) = end.find(rest) else {
            break;
        };
        let body = &rest[..stop];
        // Another boundary inside: this block never ended; look again from there.
        if let Some(boundary) = memmem::find(body, b"-----") {
            rest = &rest[boundary..];
            continue;
        }
        rest = &rest[stop + END.len()..];
        if let Some(der) = base64_lines(body) {
            certificates.push(der);
        }
    }
    certificates
}

/// Base64 spread over lines (and maybe other whitespace), decoded.
fn base64_lines(body: &[u8]) -> Option<Vec<u8>> {
    let mut b64 = Vec::with_capacity(body.len());
    let mut line_start = 0;
    for line_end in memchr::memchr_iter(b'\n', body).chain([body.len()]) {
        b64.extend_from_slice(body[line_start..line_end].trim_ascii());
        line_start = line_end + 1;
    }
    STANDARD.decode(&b64).ok().or_else(|| {
        // Whitespace inside a line, rarely: decoded again without it.
        b64.retain(|b| !b.is_ascii_whitespace());
        STANDARD.decode(&b64).ok()
    })
}

fn choose(exists: impl Fn(&str) -> bool) -> Option<&'static str> {
    BUNDLES.into_iter().find(|path| exists(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bundle_that_exists_is_chosen() {
        assert_eq!(
            choose(|p| p.ends_with("ca-certificates.crt") || p.ends_with("cert.pem")),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(choose(|p| p.contains("pki")), Some(BUNDLES[0]));
        assert_eq!(choose(|_| false), None);
    }

    /// The reference: how `rustls-native-certs` reads a bundle.
    fn reference(pem: &[u8]) -> Vec<Vec<u8>> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(pem)
            .filter_map(Result::ok)
            .map(|c| c.to_vec())
            .collect()
    }

    #[test]
    fn a_system_bundle_reads_as_rustls_reads_it() {
        let Some(path) = choose(|p| std::path::Path::new(p).is_file()) else {
            eprintln!("no system CA bundle on this machine; nothing to compare");
            return;
        };
        let pem = std::fs::read(path).unwrap();
        let ours = pem_certificates(&pem);
        assert!(ours.len() > 10, "{path}: {} certificates", ours.len());
        assert_eq!(ours, reference(&pem));
        // The same bundle with Windows line ends.
        let crlf = String::from_utf8(pem).unwrap().replace('\n', "\r\n");
        assert_eq!(pem_certificates(crlf.as_bytes()), ours);
    }

    #[test]
    fn only_whole_valid_certificate_blocks_count() {
        let block = |label: &str, body: &str| {
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
        };
        let pem = [
            "Subject: a comment line\n".to_owned(),
            block("CERTIFICATE", "AQID\nBAU="),
            block("TRUSTED CERTIFICATE", "BgcI"),
            block("CERTIFICATE", "not base64!"),
            "-----BEGIN CERTIFICATE-----\nCQo=\n".to_owned(), // never ended
            block("CERTIFICATE", "CwwN"),
        ]
        .concat();
        assert_eq!(
            pem_certificates(pem.as_bytes()),
            vec![vec![1, 2, 3, 4, 5], vec![11, 12, 13]]
        );
        assert_eq!(
            reference(pem.as_bytes()).first(),
            Some(&vec![1, 2, 3, 4, 5])
        );
        assert!(pem_certificates(b"").is_empty());
        // Whitespace inside a line is not base64, and not part of the certificate.
        assert_eq!(
            pem_certificates(block("CERTIFICATE", "AQ ID\r\n\tBAU=").as_bytes()),
            vec![vec![1, 2, 3, 4, 5]]
        );
    }
}
