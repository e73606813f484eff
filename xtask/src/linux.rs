// SPDX-License-Identifier: MIT
//! Linux 6.12 from Debian's linux-source-6.12: the source tree, its exported
//! uapi headers per architecture, and the dom0 kernel.

use std::path::PathBuf;

use crate::arch::Arch;
use crate::ctx::{Ctx, Key, Result};
use crate::deps;
use crate::sh::cmd;

/// The unpacked kernel source.
pub struct Source {
    /// The tree (never built in: every build uses `O=`).
    pub dir: PathBuf,
    /// Debian's package version.
    pub version: String,
}

/// Unpacks `/usr/src/linux-source-6.12.tar.xz` once per package version.
pub fn source(ctx: &Ctx) -> Result<Source> {
    let version = deps::version("linux-source-6.12")?;
    let dir = ctx.cache.join("linux").join(&version).join("src");
    let mut out = None;
    ctx.step("linux: unpack linux-source-6.12", || {
        let key = Key::new("linux-src").str(&version).finish();
        let built = ctx.cached(&dir, &key, |d| {
            cmd("tar")
                .args([
                    "xf",
                    "/usr/src/linux-source-6.12.tar.xz",
                    "--strip-components=1",
                    "-C",
                ])
                .arg(d)
                .run_logged(&ctx.log("linux-unpack.log"), "unpacking linux-source")
        })?;
        out = Some(Source {
            dir: dir.clone(),
            version: version.clone(),
        });
        Ok(if built {
            format!("unpacked {version}")
        } else {
            format!("cached {version}")
        })
    })?;
    Ok(out.expect("set by the step"))
}

/// Exports the uapi headers (`make headers`) for x86, arm64 and arm into
/// `<dir>/<ARCH>/include`, and returns `<dir>`.
pub fn uapi_headers(ctx: &Ctx, src: &Source) -> Result<PathBuf> {
    let dir = ctx.cache.join("linux").join(&src.version).join("uapi");
    ctx.step("linux: export uapi headers (x86, arm64, arm)", || {
        let key = Key::new("linux-uapi").str(&src.version).finish();
        let built = ctx.cached(&dir, &key, |d| {
            for arch in ["x86", "arm64", "arm"] {
                let obj = d.join(format!("build-{arch}"));
                cmd("make")
                    .arg("-C")
                    .arg(&src.dir)
                    .arg(format!("O={}", obj.display()))
                    .arg(format!("ARCH={arch}"))
                    .args(["-s", "headers"])
                    .run_logged(
                        &ctx.log("linux-uapi.log"),
                        &format!("make headers ARCH={arch}"),
                    )?;
                std::fs::create_dir_all(d.join(arch))?;
                std::fs::rename(obj.join("usr/include"), d.join(arch).join("include"))?;
                std::fs::remove_dir_all(&obj)?;
            }
            Ok(())
        })?;
        Ok(if built {
            "exported".into()
        } else {
            "cached".into()
        })
    })?;
    Ok(dir)
}

/// The built dom0 kernel.
pub struct Kernel {
    /// The key of the build (its inputs' hash).
    pub key: String,
    /// The image the bootloader takes: `arch/x86/boot/bzImage`,
    /// `arch/arm64/boot/Image`.
    pub image: PathBuf,
    /// The `O=` build tree, configured and built: modules build against it.
    pub build: PathBuf,
    /// `make` variables every kernel and module build uses (LLVM=1, the Rust toolchain).
    pub make_vars: Vec<String>,
}

/// The variables every build for `arch` needs: `ARCH=`, `LLVM=1` (clang
/// cross-compiles to any architecture with no cross toolchain), Debian's
/// rustc 1.96 and its library source (the rustup toolchains ship no
/// rust-src), and our bindgen-cli.
pub fn make_vars(ctx: &Ctx, arch: Arch) -> Result<Vec<String>> {
    let v = cmd("/usr/bin/rustc").arg("--version").read()?;
    let ver = v.split_whitespace().nth(1).unwrap_or_default().to_string();
    let lib = format!("/usr/src/rustc-{ver}/library");
    if !std::path::Path::new(&lib).join("core/src/lib.rs").exists() {
        crate::bail!("{lib} missing: rust-web-src must match rustc-web {ver}");
    }
    Ok(vec![
        format!("ARCH={}", arch.kernel_arch()),
        "LLVM=1".into(),
        "RUSTC=/usr/bin/rustc".into(),
        "HOSTRUSTC=/usr/bin/rustc".into(),
        "RUSTDOC=/usr/bin/rustdoc".into(),
        format!("BINDGEN={}", deps::bindgen(ctx).display()),
        format!("RUST_LIB_SRC={lib}"),
    ])
}

/// Configures (tinyconfig + `tests/dom0/kernel.config` +
/// `tests/dom0/kernel-<arch>.config`) and builds the dom0 kernel for
/// `arch`, cached by the source version, the fragments and the toolchain.
pub fn kernel(ctx: &Ctx, src: &Source, arch: Arch) -> Result<Kernel> {
    let fragments = [
        ctx.root.join("tests/dom0/kernel.config"),
        ctx.root
            .join(format!("tests/dom0/kernel-{}.config", arch.name())),
    ];
    let vars = make_vars(ctx, arch)?;
    let rustc = cmd("/usr/bin/rustc").arg("-vV").read()?;
    let key = Key::new("kernel")
        .str(&src.version)
        .file(&fragments[0])?
        .file(&fragments[1])?
        .str(&rustc)
        .str(deps::BINDGEN_VERSION)
        .str(&vars.join(" "))
        .finish();
    // Each architecture's builds apart: one never evicts the other's.
    let dir = if arch.is_host() {
        ctx.cache.join("kernel").join(&key)
    } else {
        ctx.cache.join(format!("kernel-{}", arch.name())).join(&key)
    };
    let build = dir.join("build");
    let log = ctx.log(&if arch.is_host() {
        "kernel.log".to_string()
    } else {
        format!("kernel-{}.log", arch.name())
    });
    let image = arch.kernel_image().rsplit('/').next().unwrap_or_default();
    ctx.step(
        &format!(
            "kernel: Linux 6.12 dom0 with Rust for {} (tinyconfig + fragments)",
            arch.name()
        ),
        || {
            let built = ctx.cached(&dir, &key, |_| {
                let _ = std::fs::remove_file(&log);
                let make = |targets: &[&str]| make_in(src, &build, &vars, targets);
                configure(src, &build, &fragments, &vars, &log)?;
                make(&["rustavailable"]).run_logged(&log, "make rustavailable")?;
                make(&["-j", &jobs(), image, "modules"]).run_logged(&log, "building the kernel")?;
                Ok(())
            })?;
            Ok(if built {
                format!("built ({key})")
            } else {
                format!("cached ({key})")
            })
        },
    )?;
    Ok(Kernel {
        key: key.clone(),
        image: build.join(arch.kernel_image()),
        build,
        make_vars: vars,
    })
}

/// `make -C SRC O=BUILD VARS TARGETS`.
pub fn make_in(
    src: &Source,
    build: &std::path::Path,
    vars: &[String],
    targets: &[&str],
) -> crate::sh::Cmd {
    cmd("make")
        .arg("-C")
        .arg(&src.dir)
        .arg(format!("O={}", build.display()))
        .args(vars)
        .args(targets)
}

/// Configures a kernel build in `build`: `make tinyconfig`, the fragments
/// merged on top in order, `olddefconfig`, and a check that every option
/// the fragments set survived.
pub fn configure(
    src: &Source,
    build: &std::path::Path,
    fragments: &[PathBuf],
    vars: &[String],
    log: &std::path::Path,
) -> Result<()> {
    make_in(src, build, vars, &["tinyconfig"]).run_logged(log, "make tinyconfig")?;
    cmd(src.dir.join("scripts/kconfig/merge_config.sh"))
        .args(["-m", "-O"])
        .arg(build)
        .arg(build.join(".config"))
        .args(fragments)
        .dir(&src.dir)
        .run_logged(log, "merging the config fragments")?;
    make_in(src, build, vars, &["olddefconfig"]).run_logged(log, "make olddefconfig")?;
    for f in fragments {
        check_config(&build.join(".config"), f)?;
    }
    Ok(())
}

/// Parallel jobs for builds: the number of CPUs.
pub fn jobs() -> String {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .to_string()
}

/// Fails unless every option the fragment sets survived `olddefconfig`
/// (a missing dependency drops an option silently otherwise).
fn check_config(config: &std::path::Path, fragment: &std::path::Path) -> Result<()> {
    let have = std::fs::read_to_string(config)?;
    let want = std::fs::read_to_string(fragment)?;
    let mut lost = Vec::new();
    for line in want.lines().map(str::trim) {
        let ok = if line.starts_with("CONFIG_") {
            have.lines().any(|l| l.trim() == line)
        } else if let Some(rest) = line.strip_prefix("# CONFIG_") {
            let name = rest.split_whitespace().next().unwrap_or("");
            !have
                .lines()
                .any(|l| l.starts_with(&format!("CONFIG_{name}=")))
        } else {
            true
        };
        if !ok {
            lost.push(line.to_string());
        }
    }
    if !lost.is_empty() {
        crate::bail!(
            "kernel options of {} lost by olddefconfig (a dependency is missing): {}",
            fragment.display(),
            lost.join(", ")
        );
    }
    Ok(())
}
