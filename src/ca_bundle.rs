//! Start-up: one CA bundle file for both HTTP stacks.
//!
//! The AWS SDK's and Slack's HTTP clients each load the system's root certificates
//! (`rustls-native-certs`). Unless told otherwise, that is the distribution's bundle
//! file *and* every file of its certificates directory, each parsed on its own: on a
//! Debian-like host about 150 more files, which made up half of a cold start here
//! (18.7 ms → 8.3 ms init, `bench/`). The bundle holds the same roots. So, when the
//! deployment sets neither `SSL_CERT_FILE` nor `SSL_CERT_DIR`, the first bundle of
//! the known places that exists is named in `SSL_CERT_FILE` and read alone.

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
}
