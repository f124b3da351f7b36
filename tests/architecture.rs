//! The shape of the code: the file-import graph of src/ has no cycle (issue 15). The graph is
//! built by scripts/import-cycles.py (every `use crate::…`, `use super::…`, inline path and a
//! parent's use of its child modules is an edge), which prints the cycles it finds.

use std::path::Path;
use std::process::Command;

fn import_cycles(src: &Path) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/import-cycles.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--check")
        .arg("--src")
        .arg(src)
        .output()
        .expect("python3 runs scripts/import-cycles.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn no_file_of_src_imports_itself_around_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (ok, text) = import_cycles(&src);
    assert!(
        ok,
        "import cycles in src/ (break them by moving what both sides need into a leaf file):\n{text}"
    );
    assert!(text.contains(" 0 cycle group(s)"), "{text}");
}

/// The check finds a cycle when there is one: two files that import each other, and a parent
/// whose child imports it back.
#[test]
fn the_check_fails_on_a_cycle() {
    let dir = std::env::temp_dir().join(format!("wsload-cycles-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::x::Y;\npub struct X;\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "pub mod x;\n").unwrap();
    std::fs::write(src.join("b/x.rs"), "use crate::a::X;\npub struct Y;\n").unwrap();
    let (ok, text) = import_cycles(&src);
    assert!(!ok, "a.rs <-> b/x.rs not found:\n{text}");
    assert!(text.contains("src/a.rs") && text.contains("x.rs"), "{text}");
    std::fs::write(src.join("b/x.rs"), "pub struct Y;\n").unwrap();
    let (ok, text) = import_cycles(&src);
    assert!(ok, "no cycle left, yet the check failed:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
