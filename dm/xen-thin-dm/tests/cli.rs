// SPDX-License-Identifier: MIT
//! The binary's command-line contract: mistakes are one line on stderr and
//! exit status 2; `--help` and `--version` succeed.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_xen-thin-dm"))
        .args(args)
        .env_remove("XEN_DOMAIN_ID")
        .output()
        .expect("runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_bad_argument_is_one_line_and_status_2() {
    for args in [
        &["--bogus"][..],
        &["-d"],
        &["-d", "abc"],
        &[],
        &["-d", "3", "--uid", "0"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: nothing on stdout, got {out:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err:?}");
        assert!(err.starts_with("xen-thin-dm: "), "{err}");
    }
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--no-depriv") && out.contains("-xen-domid"),
        "{out}"
    );
    let (code, out, _) = run(&["--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, concat!("xen-thin-dm ", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn without_xen_it_fails_before_serving_with_one_error_line() {
    // No privcmd node on a machine without Xen: a clear error, status 1.
    if std::path::Path::new("/dev/xen/privcmd").exists() {
        return; // on a Xen host this would attach for real
    }
    let (code, out, err) = run(&["-d", "7", "--privcmd", "/nonexistent/privcmd"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("serving"), "{out}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("/nonexistent/privcmd") && errors[0].contains("ENOENT"),
        "{err}"
    );
}
