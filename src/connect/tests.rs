//! The URL parser: good URLs, their canonical form, and bad URLs as typed
//! errors naming the part at fault.

use super::parse::{percent_decode, percent_encode};
use super::*;
use crate::ErrorKind;

fn parse(url: &str) -> Result<BackendUrl> {
    url.parse()
}

/// `url` fails with `kind`, and the message names `part`.
fn refused(url: &str, kind: ErrorKind, part: &str) -> Error {
    let e = parse(url).expect_err(url);
    assert_eq!(e.kind(), kind, "{url}: {e}");
    assert!(e.to_string().contains(part), "{url}: {e} (wanted {part})");
    e
}

#[test]
fn software() {
    for url in [
        "software",
        "software://",
        "SOFTWARE://",
        "software:///",
        "software?",
    ] {
        assert_eq!(parse(url).unwrap(), BackendUrl::Software, "{url}");
    }
    assert_eq!(BackendUrl::Software.to_string(), "software://");
    assert_eq!(BackendUrl::Software.scheme(), "software");
    refused("software://host", ErrorKind::InvalidInput, "host");
    refused("software?x=1", ErrorKind::InvalidInput, "option x");
}

#[test]
fn bad_urls_are_typed_errors_naming_the_part() {
    for (url, part) in [
        ("", "scheme"),
        ("http://x", "scheme http"),
        ("ftp", "scheme ftp"),
        ("://x", "scheme"),
        ("user:pass@x", "scheme"),
        ("software://x#frag", "fragment"),
        ("pay shield://x:1", "backend URL"),
        ("software\n", "backend URL"),
    ] {
        refused(url, ErrorKind::InvalidInput, part);
    }
    // No secret is echoed: the value of a bad scheme is not repeated.
    let e = refused("user:s3cret@x", ErrorKind::InvalidInput, "scheme");
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn payshields_needs_its_feature() {
    let e = refused("payshields://h:1500?ca=x", ErrorKind::Unsupported, "`tls`");
    assert!(e.to_string().contains("payshields://"), "{e}");
}

#[test]
fn percent_coding() {
    assert_eq!(percent_decode("p", "a%3Ab%2f").unwrap(), "a:b/");
    for bad in ["%", "%4", "%zz", "%FF"] {
        let e = percent_decode("p", bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
    }
    let s = "http://h/a?b=1&c=2#d %é";
    assert_eq!(percent_decode("p", &percent_encode(s)).unwrap(), s);
    assert!(!percent_encode(s).contains(['&', '#', ' ']));
}

#[cfg(not(feature = "payshield"))]
#[test]
fn payshield_needs_its_feature() {
    refused("payshield://h:1500", ErrorKind::Unsupported, "`payshield`");
}

#[cfg(not(feature = "aws"))]
#[test]
fn aws_needs_its_feature() {
    refused("aws://eu-west-1", ErrorKind::Unsupported, "`aws`");
}

#[cfg(feature = "payshield")]
mod payshield {
    use super::*;
    use std::time::Duration;

    fn ps(url: &str) -> PayShieldUrl {
        match parse(url).unwrap_or_else(|e| panic!("{url}: {e}")) {
            BackendUrl::PayShield(p) => p,
            other => panic!("{url}: {other}"),
        }
    }

    #[test]
    fn hosts_ports_and_defaults() {
        let p = ps("payshield://10.0.0.1:1500");
        assert_eq!((p.host(), p.port()), ("10.0.0.1", 1500));
        assert_eq!(p.addr(), "10.0.0.1:1500");
        assert_eq!(p.header_len(), None);
        let c = p.config();
        let d = crate::payshield::PayShieldConfig::new("x");
        assert_eq!(c.addr, "10.0.0.1:1500");
        assert_eq!(
            (c.header_len, c.connections, c.request_timeout),
            (d.header_len, d.connections, d.request_timeout)
        );
        let p = ps("payshield://[::1]:1500/");
        assert_eq!((p.host(), p.addr().as_str()), ("::1", "[::1]:1500"));
        assert_eq!(p.to_string(), "payshield://[::1]:1500");
        let p = ps("PayShield://HSM-1.Example.com:65535");
        assert_eq!(p.host(), "hsm-1.example.com");
        assert_eq!(p.to_string(), "payshield://hsm-1.example.com:65535");
        assert_eq!(parse("payshield://h:1").unwrap().scheme(), "payshield");
    }

    #[test]
    fn options_map_to_the_config_and_print_canonically() {
        let p = ps(
            "payshield://h:1500?timeout_ms=800&header_len=2&connections=4\
             &max_in_flight=9&connect_timeout_ms=300&backoff_min_ms=5&backoff_max_ms=50",
        );
        let c = p.config();
        assert_eq!(c.header_len, 2);
        assert_eq!(c.connections, 4);
        assert_eq!(c.max_in_flight, 9);
        assert_eq!(c.request_timeout, Duration::from_millis(800));
        assert_eq!(c.connect_timeout, Duration::from_millis(300));
        assert_eq!(c.backoff_min, Duration::from_millis(5));
        assert_eq!(c.backoff_max, Duration::from_millis(50));
        let s = p.to_string();
        assert_eq!(
            s,
            "payshield://h:1500?header_len=2&connections=4&max_in_flight=9&timeout_ms=800\
             &connect_timeout_ms=300&backoff_min_ms=5&backoff_max_ms=50"
        );
        assert_eq!(ps(&s), p, "Display parses back to the same URL");
        assert_eq!(ps("payshield://h:1?header_len=%36").header_len(), Some(6));
        assert_eq!(ps("payshield://h:1?&header_len=6&").header_len(), Some(6));
        assert_eq!(format!("{p:?}"), format!("PayShieldUrl({s})"));
    }

    #[test]
    fn lmk_option_sets_the_lmk_kind() {
        use crate::payshield::LmkKind;
        let p = ps("payshield://h:1?lmk=keyblock&header_len=2");
        assert_eq!(p.config().lmk, LmkKind::KeyBlock);
        assert_eq!(p.to_string(), "payshield://h:1?header_len=2&lmk=keyblock");
        assert_eq!(ps(&p.to_string()), p);
        assert_eq!(
            ps("payshield://h:1?lmk=variant").config().lmk,
            LmkKind::Variant
        );
        assert_eq!(ps("payshield://h:1").config().lmk, LmkKind::Variant);
        refused(
            "payshield://h:1?lmk=aes",
            ErrorKind::InvalidInput,
            "option lmk",
        );
    }

    #[test]
    fn with_header_len_checks_the_range() {
        let p = ps("payshield://h:1").with_header_len(6).unwrap();
        assert_eq!(p.header_len(), Some(6));
        assert_eq!(p.to_string(), "payshield://h:1?header_len=6");
        for n in [0, 256, usize::MAX] {
            let e = ps("payshield://h:1").with_header_len(n).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().contains("1 to 255"), "{e}");
        }
    }

    #[test]
    fn bad_payshield_urls() {
        use ErrorKind::InvalidInput as I;
        for (url, part) in [
            ("payshield", "host"),
            ("payshield://", "host"),
            ("payshield://host", "port"),
            ("payshield://:1500", "host"),
            ("payshield://h:0", "port"),
            ("payshield://h:99999", "port"),
            ("payshield://h:15x0", "port"),
            ("payshield://h:", "port"),
            ("payshield://::1:1500", "IPv6 address goes in brackets"),
            ("payshield://[::1]", "port"),
            ("payshield://[::1:1500", "host"),
            ("payshield://[nope]:1500", "host"),
            ("payshield://h_$:1500", "host"),
            ("payshield://h:1500/path", "path"),
            ("payshield://user:pw@h:1500", "user info"),
            ("payshield://h:1?colour=red", "option colour"),
            ("payshield://h:1?header_len", "option header_len"),
            ("payshield://h:1?header_len=0", "option header_len"),
            ("payshield://h:1?header_len=256", "option header_len"),
            ("payshield://h:1?header_len=-1", "option header_len"),
            ("payshield://h:1?connections=0", "option connections"),
            (
                "payshield://h:1?timeout_ms=99999999999",
                "option timeout_ms",
            ),
            ("payshield://h:1?header_len=2&header_len=2", "given twice"),
            ("payshield://h:1?=4", "without a name"),
            ("payshield://h:1?header_len=%4", "option header_len"),
            ("payshield://h:1?backoff_max_ms=10", "backoff_min_ms"),
        ] {
            refused(url, I, part);
        }
        // The unknown option is named with the known ones; its value is not repeated.
        let e = refused("payshield://h:1?tls_key=SECRET", I, "option tls_key");
        assert!(e.to_string().contains("header_len"), "{e}");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        let e = refused("payshield://h:1?a%20b=SECRET", I, "option");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        let e = refused("payshield://admin:hunter2@h:1", I, "user info");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn clusters() {
        let u = ps("payshield://HSM-A:1500,[::1]:1501,10.0.0.7:1502?connections=4&health_check=3s");
        assert_eq!(u.addr(), "hsm-a:1500");
        assert_eq!(u.addrs(), ["hsm-a:1500", "[::1]:1501", "10.0.0.7:1502"]);
        let c = u.config();
        assert_eq!(c.addr, "hsm-a:1500");
        assert_eq!(c.other_hosts, ["[::1]:1501", "10.0.0.7:1502"]);
        assert_eq!(c.connections, 4);
        assert_eq!(c.health_check_interval, std::time::Duration::from_secs(3));
        assert_eq!(
            u.to_string(),
            "payshield://hsm-a:1500,[::1]:1501,10.0.0.7:1502?connections=4&health_check=3s"
        );
        let u = ps("payshield://a:1,b:2?health_check=250ms");
        assert_eq!(
            u.config().health_check_interval,
            std::time::Duration::from_millis(250)
        );
        assert_eq!(u.to_string(), "payshield://a:1,b:2?health_check=250ms");
        // One host: the default interval, no other hosts.
        let c = ps("payshield://a:1").config();
        assert!(c.other_hosts.is_empty());
        assert_eq!(c.health_check_interval, std::time::Duration::from_secs(5));
        const I: ErrorKind = ErrorKind::InvalidInput;
        for (url, part) in [
            ("payshield://a:1,a:1", "listed twice"),
            ("payshield://a:1,", "host"),
            ("payshield://,a:1", "host"),
            ("payshield://a:1,b", "port"),
            ("payshield://a:1,b:0", "port"),
            ("payshield://a:1,b:2?health_check=5", "option health_check"),
            ("payshield://a:1,b:2?health_check=0s", "option health_check"),
            ("payshield://a:1,b:2?health_check=5m", "option health_check"),
            (
                "payshield://a:1,b:2?health_check=3601s",
                "option health_check",
            ),
            ("payshield://a:1?health_check=5s", "several hosts"),
            ("payshield://a:1?ca=/etc/ca.pem", "payshields://"),
        ] {
            refused(url, I, part);
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_urls() {
        let url = "payshields://hsm-a:1500,hsm-b:1500?ca=/etc/hsm/ca.pem&cert=/etc/hsm/c%26t.pem&key=/k.pem&server_name=hsm.example";
        let u = ps(url);
        assert!(u.is_tls());
        let t = u.config().tls.expect("TLS configured");
        assert_eq!(t.ca_file, std::path::Path::new("/etc/hsm/ca.pem"));
        assert_eq!(
            t.client_cert_file.as_deref(),
            Some(std::path::Path::new("/etc/hsm/c&t.pem"))
        );
        assert_eq!(
            t.client_key_file.as_deref(),
            Some(std::path::Path::new("/k.pem"))
        );
        assert_eq!(t.server_name.as_deref(), Some("hsm.example"));
        assert_eq!(u.to_string(), url);
        assert_eq!(parse(&u.to_string()).unwrap(), BackendUrl::PayShield(u));
        let u = ps("PAYSHIELDS://h:1?ca=ca.pem");
        assert_eq!(u.to_string(), "payshields://h:1?ca=ca.pem");
        assert!(ps("payshield://h:1").config().tls.is_none());
        const I: ErrorKind = ErrorKind::InvalidInput;
        for (url, part) in [
            ("payshields://h:1", "option ca"),
            ("payshields://h:1?ca=", "option ca"),
            ("payshields://h:1?ca=a&cert=c", "option key"),
            ("payshields://h:1?ca=a&key=k", "option cert"),
            ("payshields://h:1?ca=a&ca=b", "given twice"),
            ("payshields://h:1?ca=a&tls=1", "option tls"),
        ] {
            refused(url, I, part);
        }
        let e = refused("payshields://h:1?ca=a&colour=1", I, "option colour");
        assert!(e.to_string().contains("server_name"), "{e}");
    }

    #[tokio::test]
    async fn connect_refused_is_transient() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = connect(&format!("payshield://{closed}?connect_timeout_ms=50"))
            .await
            .err()
            .expect("nothing listens");
        assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    }
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use crate::connect::aws::is_local_endpoint;

    fn aws(url: &str) -> AwsUrl {
        match parse(url).unwrap_or_else(|e| panic!("{url}: {e}")) {
            BackendUrl::Aws(a) => a,
            other => panic!("{url}: {other}"),
        }
    }

    #[test]
    fn local_endpoints() {
        for u in [
            "http://127.0.0.1:4566",
            "http://127.0.0.2:1/",
            "https://localhost",
            "http://LOCALHOST:80/x",
            "http://[::1]:4566",
            "http://user@127.0.0.1:9",
        ] {
            assert!(is_local_endpoint(u), "{u}");
        }
        for u in [
            "https://dataplane.payment-cryptography.eu-west-1.amazonaws.com",
            "http://10.0.0.1:4566",
            "http://[2001:db8::1]:4566",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert!(!is_local_endpoint(u), "{u}");
        }
    }

    #[test]
    fn regions_and_endpoints() {
        for url in ["aws", "aws://", "aws:///", "AWS://"] {
            let a = aws(url);
            assert_eq!((a.region(), a.endpoint()), (None, None), "{url}");
            assert_eq!(a.to_string(), "aws://");
        }
        let a = aws("aws://eu-west-1");
        assert_eq!(a.region(), Some("eu-west-1"));
        assert!(!a.endpoint_is_local());
        let a = aws("aws://eu-west-1?endpoint=http://127.0.0.1:4566");
        assert_eq!(a.endpoint(), Some("http://127.0.0.1:4566"));
        assert!(a.endpoint_is_local());
        assert_eq!(
            a.to_string(),
            "aws://eu-west-1?endpoint=http://127.0.0.1:4566"
        );
        assert_eq!(aws(&a.to_string()), a);
        let a = aws("aws?endpoint=https%3A%2F%2Fvpce.example.com%2Fx%3Fa%3D1%26b%3D2");
        assert_eq!(a.endpoint(), Some("https://vpce.example.com/x?a=1&b=2"));
        assert!(!a.endpoint_is_local());
        assert_eq!(parse("aws").unwrap().scheme(), "aws");
    }

    #[test]
    fn display_and_debug_hide_endpoint_secrets() {
        let a = aws(
            "aws://?endpoint=https://admin:hunter2@h.example.com/p%3FX-Amz-Security-Token%3Dtok",
        );
        assert_eq!(
            a.endpoint(),
            Some("https://admin:hunter2@h.example.com/p?X-Amz-Security-Token=tok")
        );
        for s in [
            a.to_string(),
            format!("{a:?}"),
            BackendUrl::Aws(a.clone()).to_string(),
        ] {
            assert!(!s.contains("hunter2") && !s.contains("admin"), "{s}");
            assert!(!s.contains("Security-Token"), "{s}");
            assert!(s.contains("***@h.example.com/p"), "{s}");
        }
    }

    #[test]
    fn bad_aws_urls() {
        use ErrorKind::InvalidInput as I;
        for (url, part) in [
            ("aws://EU WEST", "backend URL"),
            ("aws://EU-WEST-1", "region"),
            ("aws://eu_west_1", "region"),
            ("aws://eu-west-1:443", "region"),
            ("aws://eu-west-1/x", "path"),
            ("aws://key:secret@eu-west-1", "user info"),
            ("aws://eu-west-1?region=x", "option region"),
            ("aws?endpoint=ftp://x", "endpoint"),
            ("aws?endpoint=127.0.0.1:4566", "endpoint"),
            ("aws?endpoint=http://", "endpoint"),
            ("aws?endpoint=http://:80", "endpoint"),
            ("aws?endpoint=http://a&endpoint=http://b", "given twice"),
        ] {
            refused(url, I, part);
        }
        let e = refused("aws://key:s3cret@eu-west-1", I, "user info");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = aws("aws").with_endpoint("x").unwrap_err();
        assert!(e.to_string().contains("http:// or https://"), "{e}");
    }

    #[test]
    fn local_endpoint_builder_does_not_panic() {
        // Region and credentials for the emulator come from the URL or the
        // defaults; building the builder touches no network.
        let _ = aws("aws?endpoint=http://localhost:4566").builder();
        let _ = aws("aws://us-west-2").builder();
    }
}
