// SPDX-License-Identifier: MIT
//! The drop-in `libxendevicemodel.so.1`: cargo builds the crate's static
//! library, the crate's own `link-so` links it with Xen's symbol versions
//! (the same step on every target, and outside this workspace), and the
//! result is checked against the version map before anything uses it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::bail;
use crate::ctx::{Ctx, Result};
use crate::sh::cmd;

/// The crate's directory, its link step and its version map.
const CRATE_DIR: &str = "lib/xendevicemodel-c";

/// The library's file name (and soname).
pub const SONAME: &str = "libxendevicemodel.so.1";

/// Links `rel/libxendevicemodel_c.a` (a cargo release or debug directory)
/// into `rel/xendevicemodel-c/libxendevicemodel.so.1` with `cc` and
/// `ldflags`, and checks what it exports. Returns the library's path. (A
/// directory of its own: cargo puts `rel` on the dynamic loader's path of
/// what it runs, where the drop-in would shadow Xen's library.)
pub fn link(ctx: &Ctx, rel: &Path, cc: &str, ldflags: &str) -> Result<PathBuf> {
    let dir = rel.join("xendevicemodel-c");
    std::fs::create_dir_all(&dir)?;
    let so = dir.join(SONAME);
    cmd(ctx.root.join(CRATE_DIR).join("link-so"))
        .arg(rel.join("libxendevicemodel_c.a"))
        .arg(&so)
        .env("CC", cc)
        .env("LDFLAGS", ldflags)
        .run_logged(
            &ctx.log("link-so.log"),
            &format!("linking {}", so.display()),
        )?;
    check(ctx, &so)?;
    Ok(so)
}

/// The library exports exactly the map's functions, each with its node
/// (`name@@VERS_1.n`), and defines nothing else but the nodes themselves.
fn check(ctx: &Ctx, so: &Path) -> Result<()> {
    let map = std::fs::read_to_string(ctx.root.join(CRATE_DIR).join("libxendevicemodel.map"))?;
    let want = map_exports(&map);
    if want.len() < 26 {
        bail!(
            "libxendevicemodel.map names {} functions, not 26",
            want.len()
        );
    }
    let nodes: BTreeSet<String> = want
        .iter()
        .filter_map(|s| s.split_once("@@").map(|(_, v)| v.to_string()))
        .collect();
    let dynsym = cmd("readelf").args(["--dyn-syms", "-W"]).arg(so).read()?;
    let mut got = BTreeSet::new();
    for l in dynsym.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Num: Value Size Type Bind Vis Ndx Name
        if f.len() < 8 || f[6] == "UND" || (f[4] != "GLOBAL" && f[4] != "WEAK") {
            continue;
        }
        if f[6] == "ABS" && nodes.contains(f[7]) {
            continue;
        }
        got.insert(f[7].to_string());
    }
    if got != want {
        let extra: Vec<_> = got.difference(&want).collect();
        let missing: Vec<_> = want.difference(&got).collect();
        bail!(
            "{} does not export what libxendevicemodel.map says: missing {missing:?}, extra {extra:?}",
            so.display()
        );
    }
    Ok(())
}

/// `name@@VERS_1.n` for every global of every node in a version map.
fn map_exports(map: &str) -> BTreeSet<String> {
    let mut node = None;
    let mut out = BTreeSet::new();
    for line in map.lines().map(str::trim) {
        if let Some(n) = line.strip_suffix('{').map(str::trim) {
            node = Some(n.to_string());
        } else if line.starts_with('}') {
            node = None;
        } else if let (Some(n), Some(sym)) = (&node, line.strip_suffix(';')) {
            if !sym.contains(':') && !sym.contains('*') && !sym.is_empty() {
                out.insert(format!("{sym}@@{n}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::map_exports;

    #[test]
    fn reads_nodes_and_globals_but_not_local() {
        let m = "/* c */\nVERS_1.0 {\n\tglobal:\n\t\ta;\n\t\tb;\n\tlocal: *;\n};\nVERS_1.1 {\n\tglobal:\n\t\tc;\n} VERS_1.0;\n";
        let got: Vec<_> = map_exports(m).into_iter().collect();
        assert_eq!(got, ["a@@VERS_1.0", "b@@VERS_1.0", "c@@VERS_1.1"]);
    }
}
