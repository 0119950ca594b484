//! The whole pipeline: check never panics; when it finds no error, lowering and every target
//! succeed, and what they write carries no byte that could change the meaning of a ruleset or a
//! zone (only printable ASCII, and no `;`/`#` outside svcc's own comment lines in nft).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcc::pipeline::{compile_text, Settings};
use svcc::plan::LowerOptions;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut settings = Settings::default();
    settings.limits.max_alias_nodes = 10_000;
    settings.limits.max_depth = 64;
    let Ok(compiled) = compile_text("fuzz.yaml", text, &settings, &LowerOptions { node: Some("n1".into()), ..Default::default() }) else {
        return;
    };
    let Some(plan) = compiled.plan else { return };
    let mut nft = Vec::new();
    svcc::emit::nft::write(&plan, &svcc::emit::nft::Options::default(), &mut nft).expect("a checked plan always renders");
    let nft = String::from_utf8(nft).expect("UTF-8");
    for line in nft.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line}");
        assert!(!line.contains(';') || line.contains(" { type ") || line.contains("comment \""), "{line}");
    }
    if let Ok(zones) = svcc::emit::dns::zones(&plan, &svcc::emit::dns::Options::default()) {
        for z in zones {
            for line in z.text.lines() {
                assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line}");
                assert!(!line.contains(';') && !line.contains('('), "{line}");
            }
        }
    }
});
