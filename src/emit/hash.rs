//! The hash in per-service and per-endpoint names: the first characters of the RFC 4648 base32
//! text of a SHA-256 digest, as kube-proxy names its chains (`sha2` and `data-encoding`; the
//! tests below pin both to their standards' test vectors).

use sha2::{Digest, Sha256};

/// SHA-256 (FIPS 180-4) of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The first `n` characters of the base32 text (RFC 4648 alphabet, upper case, no padding) of
/// `bytes`; all of it when it is shorter.
pub fn base32_prefix(bytes: &[u8], n: usize) -> String {
    let mut text = data_encoding::BASE32_NOPAD.encode(bytes);
    text.truncate(n);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        data_encoding::HEXLOWER.encode(bytes)
    }

    #[test]
    fn sha256_test_vectors() {
        // FIPS 180-4 examples (one block, two blocks, the 896-bit message), the empty string,
        // and messages whose padding spills into a second block.
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq\
                  klmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                hex(&sha256(input)),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha256(&million_a)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        // Lengths around the block boundary must not collide or panic.
        let digests: std::collections::HashSet<_> =
            (54..=65).map(|n| sha256(&vec![b'x'; n])).collect();
        assert_eq!(digests.len(), 12);
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 §10 test vectors, without padding.
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (input, want) in cases {
            assert_eq!(base32_prefix(input, want.len()), *want);
            // Asking for more gives all of it, never padding.
            assert_eq!(base32_prefix(input, 100), *want);
        }
        assert_eq!(base32_prefix(b"foobar", 8), "MZXW6YTB");
        assert_eq!(base32_prefix(b"foobar", 0), "");
    }

    #[test]
    fn kube_proxy_chain_hashes() {
        // kube-proxy's own chain-name hashes (its iptables tests): chain names in rulesets
        // already applied depend on them.
        let cases = [
            ("ns1/svc1:p80tcp", "XPGD46QRK7WJZT7O"),
            ("ns1/svc1:p80tcp10.180.0.1:80", "SXIVWICOYRO3J4NJ"),
            ("ns1/svc1tcp", "AQI2S6QIMU7PVVRP"),
        ];
        for (text, want) in cases {
            assert_eq!(base32_prefix(&sha256(text.as_bytes()), 16), want, "{text}");
        }
    }
}
