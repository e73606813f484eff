// SPDX-License-Identifier: MIT
//! `dmop-abi-xen-guard`: writing the header, and `--check` of a header a
//! Xen tree carries.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmop-abi-xen-guard"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_header_it_writes_checks_clean_and_an_edited_one_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("dmop-frozen.h");
    let o = run(&["--out", h.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["--check", h.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let good = std::fs::read_to_string(&h).unwrap();
    std::fs::write(&h, good.replacen("    case 20: /* nr_vcpus */\n", "", 1)).unwrap();
    let o = run(&["--check", h.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("STALE at line") && text(&o).contains("case 20: /* nr_vcpus */"),
        "{}",
        text(&o)
    );

    // A truncated copy: stale at its end.
    std::fs::write(&h, &good[..good.len() / 2]).unwrap();
    assert_eq!(
        run(&["--check", h.to_str().unwrap()]).status.code(),
        Some(1)
    );
    // The repo's patch carries the manifest's header (what `cargo xtask test` also holds).
    let patch = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../xen-patches"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("0001-")
        })
        .unwrap();
    let patch = std::fs::read_to_string(patch).unwrap();
    let added: String = patch
        .split("+++ b/xen/include/xen/dmop-frozen.h\n")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1) // the hunk header
        .take_while(|l| l.starts_with('+'))
        .map(|l| format!("{}\n", &l[1..]))
        .collect();
    std::fs::write(&h, added).unwrap();
    let o = run(&["--check", h.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "xen-patches' header is stale: {}",
        text(&o)
    );
}

#[test]
fn a_missing_file_and_bad_arguments_are_errors() {
    let o = run(&["--check", "/nonexistent/dmop-frozen.h"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("/nonexistent/dmop-frozen.h"),
        "{}",
        text(&o)
    );
    assert_eq!(
        run(&["--check", "x", "--out", "y"]).status.code(),
        Some(2),
        "--check and --out conflict"
    );
    assert_eq!(
        run(&["--test-retire", "0"]).status.code(),
        Some(2),
        "0 is not an active op"
    );
}
