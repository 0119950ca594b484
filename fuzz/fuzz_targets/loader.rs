//! The loader never panics, and every span it reports lies inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcc::source::yaml::{parse, Limits};
use svcc::source::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits {
        max_alias_nodes: 10_000,
        max_depth: 64,
        max_documents: 10_000,
    };
    let parsed = parse(FileId(0), text, &limits);
    for d in &parsed.diagnostics {
        assert!(d.span.start <= d.span.end && d.span.end as usize <= text.len(), "{d:?}");
        assert!(text.is_char_boundary(d.span.start as usize), "{d:?}");
    }
    fn walk(n: &svcc::source::tree::Node, len: usize) {
        assert!(n.span.start <= n.span.end && n.span.end as usize <= len);
        for c in n.as_seq() {
            walk(c, len);
        }
        for e in n.as_map() {
            assert!(e.key_span.end as usize <= len);
            walk(&e.value, len);
        }
    }
    for doc in &parsed.documents {
        walk(&doc.root, text.len());
    }
});
