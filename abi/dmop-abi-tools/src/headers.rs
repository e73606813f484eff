// SPDX-License-Identifier: MIT
//! Checks installed C headers against the frozen manifest, by compiling them.
//!
//! For the architecture asked for, a probe translation unit includes the
//! headers and lists every size, alignment, offset, constant, ioctl number
//! and DMOP number of the manifest as an element of one array; each C bit
//! field is set to all ones in an object of its own. The probe is compiled
//! (clang `--target=`, never run) and the values are read out of the object.
//! A probe line the compiler rejects is an item the headers lack. A DMOP
//! macro the manifest does not know is found with `clang -E -dM`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::manifest::{ops_using, Arch, ArchView, Finding, Manifest, Status};
use crate::objread;

/// Headers of Xen's public interface the probe includes (`--xen-include`).
pub const XEN_HEADERS: &[&str] = &[
    "xen/xen.h",
    "xen/event_channel.h",
    "xen/sched.h",
    "xen/memory.h",
    "xen/hvm/hvm_op.h",
    "xen/hvm/dm_op.h",
    "xen/hvm/ioreq.h",
    "xen/hvm/hvm_info_table.h",
    "xen/io/xs_wire.h",
];

/// Linux uapi headers the probe includes (`--kernel-include`).
pub const KERNEL_HEADERS: &[&str] = &["xen/privcmd.h", "xen/evtchn.h"];

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Directory holding `xen/hvm/dm_op.h` and the rest of Xen's public headers.
    pub xen_include: PathBuf,
    /// Directory holding Linux's exported `xen/privcmd.h` and `xen/evtchn.h`.
    pub kernel_include: Option<PathBuf>,
    /// Architecture to compile the headers for.
    pub arch: Arch,
    /// The C compiler (clang; `cc` works for the host only).
    pub cc: PathBuf,
}

/// Why the check could not be made (the checker exits 2).
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckError {
    /// A directory or header is missing, or an argument is wrong.
    BadInput(String),
    /// The headers do not compile.
    Unparsable(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::BadInput(s) => f.write_str(s),
            CheckError::Unparsable(s) => write!(f, "headers do not compile: {s}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// The outcome of a check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Architecture checked.
    pub arch: String,
    /// ABI version of the manifest.
    pub abi_version: u32,
    /// Incompatibilities.
    pub findings: Vec<Finding>,
    /// Remarks that are not incompatibilities (ops the manifest does not know yet).
    pub notes: Vec<String>,
    /// Number of values compared.
    pub compared: usize,
    /// Header groups not checked (no `--kernel-include`).
    pub skipped: Vec<String>,
}

impl Report {
    /// Whether the headers match the manifest.
    pub fn compatible(&self) -> bool {
        self.findings.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Probe {
    Size(String),
    Align(String),
    Offset(String, String),
    FieldSize(String, String),
    Const(String),
    Ioctl(String),
    Dmop(String),
}

impl Probe {
    fn c_expr(&self) -> String {
        match self {
            Probe::Size(s) => format!("sizeof(struct {s})"),
            Probe::Align(s) => format!("_Alignof(struct {s})"),
            Probe::Offset(s, f) => format!("__builtin_offsetof(struct {s}, {f})"),
            Probe::FieldSize(s, f) => format!("sizeof(((struct {s} *)0)->{f})"),
            Probe::Const(e) | Probe::Ioctl(e) | Probe::Dmop(e) => e.clone(),
        }
    }
}

struct BitProbe {
    strukt: String,
    field: String,
    width: u64,
}

struct Unit {
    includes: Vec<String>,
    probes: Vec<Probe>,
    bits: Vec<BitProbe>,
    flags: Vec<String>,
}

/// What a compiled probe yielded: a value per probe (None when the headers
/// lack the item, with the compiler's reason) and bit images.
struct Values {
    values: Vec<Result<u64, String>>,
    bits: Vec<Result<(u64, u64), String>>,
}

fn is_kernel_header(h: &str) -> bool {
    KERNEL_HEADERS.contains(&h)
}

fn is_project_header(h: &str) -> bool {
    h == "dmop-abi"
}

/// Finds `clang` (or `$CC`).
pub fn default_cc() -> PathBuf {
    std::env::var_os("DMOP_ABI_CC").map_or_else(|| PathBuf::from("clang"), PathBuf::from)
}

/// Checks the headers of `opts` against `manifest`.
pub fn check(manifest: &Manifest, opts: &CheckOptions) -> Result<Report, CheckError> {
    let view = manifest.view(opts.arch);
    if !opts.xen_include.is_dir() {
        return Err(CheckError::BadInput(format!(
            "--xen-include {}: no such directory",
            opts.xen_include.display()
        )));
    }
    for h in XEN_HEADERS {
        if !opts.xen_include.join(h).is_file() {
            return Err(CheckError::BadInput(format!(
                "--xen-include {}: {h} not found (Xen's public headers: Debian's libxen-dev puts them in /usr/include)",
                opts.xen_include.display()
            )));
        }
    }
    if let Some(k) = &opts.kernel_include {
        if !k.is_dir() {
            return Err(CheckError::BadInput(format!(
                "--kernel-include {}: no such directory",
                k.display()
            )));
        }
        for h in KERNEL_HEADERS {
            if !k.join(h).is_file() {
                return Err(CheckError::BadInput(format!(
                    "--kernel-include {}: {h} not found (Linux's exported uapi headers, e.g. `make headers` output)",
                    k.display()
                )));
            }
        }
    }
    let resource = clang_resource_dir(&opts.cc)?;
    let tmp = tempfile::tempdir()
        .map_err(|e| CheckError::BadInput(format!("temporary directory: {e}")))?;
    // An include root with nothing but `xen`, so that no libc header is
    // picked up next to Xen's.
    let xen_root = tmp.path().join("xen-root");
    fs::create_dir_all(&xen_root).map_err(io_err)?;
    let xen_dir = opts
        .xen_include
        .join("xen")
        .canonicalize()
        .map_err(io_err)?;
    std::os::unix::fs::symlink(&xen_dir, xen_root.join("xen")).map_err(io_err)?;

    let mut report = Report {
        arch: opts.arch.to_string(),
        abi_version: manifest.abi_version,
        findings: Vec::new(),
        notes: Vec::new(),
        compared: 0,
        skipped: Vec::new(),
    };

    let base_flags = vec![
        format!("--target={}", opts.arch.clang_target()),
        "-ffreestanding".to_string(),
        "-nostdinc".to_string(),
        "-ferror-limit=0".to_string(),
        "-fno-color-diagnostics".to_string(),
        "-w".to_string(),
        "-D__XEN_TOOLS__".to_string(),
    ];

    // Xen's public headers.
    let mut xen_flags = base_flags.clone();
    xen_flags.push("-isystem".into());
    xen_flags.push(resource.join("include").display().to_string());
    xen_flags.push("-I".into());
    xen_flags.push(xen_root.display().to_string());
    let xen_macros = dump_macros(&opts.cc, tmp.path(), XEN_HEADERS, &xen_flags)?;
    let mut unit = build_unit(
        view,
        |h| !is_kernel_header(h) && !is_project_header(h),
        XEN_HEADERS,
        xen_flags,
    );
    let known_consts: Vec<&str> = view.constants.iter().map(|c| c.name.as_str()).collect();
    let extra_ops: Vec<String> = xen_macros
        .keys()
        .filter(|n| is_dmop_macro(n) && !known_consts.contains(&n.as_str()))
        .filter(|n| !manifest.dmops.iter().any(|d| &&d.c_macro() == n))
        .cloned()
        .collect();
    for d in manifest.dmops.iter().filter(|d| d.status == Status::Active) {
        unit.probes.push(Probe::Dmop(d.c_macro()));
    }
    for d in manifest
        .dmops
        .iter()
        .filter(|d| d.status == Status::Retired && xen_macros.contains_key(&d.c_macro()))
    {
        unit.probes.push(Probe::Dmop(d.c_macro()));
    }
    for e in &extra_ops {
        unit.probes.push(Probe::Dmop(e.clone()));
    }
    let values = compile_unit(&opts.cc, tmp.path(), "xen", &unit)?;
    compare(manifest, view, &unit, &values, &mut report);
    compare_dmops(manifest, &unit, &values, &extra_ops, &mut report);

    // Linux's uapi headers.
    match &opts.kernel_include {
        None => report
            .skipped
            .push("Linux uapi (xen/privcmd.h, xen/evtchn.h): no --kernel-include".into()),
        Some(k) => {
            let shim = tmp.path().join("shim");
            fs::create_dir_all(shim.join("xen/interface")).map_err(io_err)?;
            // Linux's uapi privcmd.h includes the kernel-internal
            // <xen/interface/xen.h>, its copy of Xen's public xen.h; the
            // exported header is not standalone (usr/include/Makefile lists
            // it under no-header-test). Point it at Xen's own.
            fs::write(shim.join("xen/interface/xen.h"), "#include <xen/xen.h>\n")
                .map_err(io_err)?;
            let mut flags = base_flags.clone();
            flags.push("-D__user=".into());
            for dir in [shim.clone(), resource.join("include"), k.clone()] {
                flags.push("-I".into());
                flags.push(dir.display().to_string());
            }
            // Debian keeps asm/ under the multiarch directory.
            if !k.join("asm").is_dir() {
                for m in multiarch_dirs(opts.arch) {
                    if k.join(m).join("asm").is_dir() {
                        flags.push("-I".into());
                        flags.push(k.join(m).display().to_string());
                        break;
                    }
                }
            }
            flags.push("-I".into());
            flags.push(xen_root.display().to_string());
            // The uapi headers use _IOC without including it: userspace
            // has it from <sys/ioctl.h>.
            let mut includes = vec!["linux/ioctl.h"];
            includes.extend_from_slice(KERNEL_HEADERS);
            // An ioctl of these headers that no freeze recorded is not
            // compared: say so, so that it is a decision, not an oversight.
            let macros = dump_macros(&opts.cc, tmp.path(), &includes, &flags)?;
            for name in macros
                .keys()
                .filter(|n| n.starts_with("IOCTL_PRIVCMD_") || n.starts_with("IOCTL_EVTCHN_"))
                .filter(|n| !view.ioctls.iter().any(|i| &i.name == *n))
            {
                report.notes.push(format!(
                    "{name}: in the uapi headers, not frozen (not compared)"
                ));
            }
            let unit = build_unit(view, is_kernel_header, &includes, flags);
            let values = compile_unit(&opts.cc, tmp.path(), "kernel", &unit)?;
            compare(manifest, view, &unit, &values, &mut report);
        }
    }
    Ok(report)
}

fn multiarch_dirs(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 | Arch::X86_32 => &["x86_64-linux-gnu", "i386-linux-gnu"],
        Arch::Arm64 => &["aarch64-linux-gnu"],
        Arch::Arm32 => &["arm-linux-gnueabihf"],
    }
}

fn io_err(e: std::io::Error) -> CheckError {
    CheckError::BadInput(e.to_string())
}

fn is_dmop_macro(name: &str) -> bool {
    name.strip_prefix("XEN_DMOP_").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_lowercase())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn clang_resource_dir(cc: &Path) -> Result<PathBuf, CheckError> {
    let out = Command::new(cc)
        .arg("-print-resource-dir")
        .output()
        .map_err(|e| {
            CheckError::BadInput(format!(
                "cannot run the C compiler {}: {e} (install clang)",
                cc.display()
            ))
        })?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || dir.is_empty() || !Path::new(&dir).join("include/stdint.h").exists()
    {
        return Err(CheckError::BadInput(format!(
            "{} has no resource directory with stdint.h: use clang (--cc)",
            cc.display()
        )));
    }
    Ok(PathBuf::from(dir))
}

fn build_unit(
    view: &ArchView,
    wanted: impl Fn(&str) -> bool,
    includes: &[&str],
    flags: Vec<String>,
) -> Unit {
    let mut probes = Vec::new();
    let mut bits = Vec::new();
    for s in view.structs.iter().filter(|s| wanted(&s.header)) {
        probes.push(Probe::Size(s.name.clone()));
        probes.push(Probe::Align(s.name.clone()));
        for f in s.fields.iter().filter(|f| !f.implicit) {
            probes.push(Probe::Offset(s.name.clone(), f.name.clone()));
            probes.push(Probe::FieldSize(s.name.clone(), f.name.clone()));
        }
        for b in &s.bits {
            bits.push(BitProbe {
                strukt: s.name.clone(),
                field: b.name.clone(),
                width: b.width,
            });
        }
    }
    for c in view.constants.iter().filter(|c| wanted(&c.header)) {
        probes.push(Probe::Const(c.name.clone()));
    }
    for i in view.ioctls.iter().filter(|i| wanted(&i.header)) {
        probes.push(Probe::Ioctl(i.name.clone()));
    }
    Unit {
        includes: includes.iter().map(|s| s.to_string()).collect(),
        probes,
        bits,
        flags,
    }
}

fn dump_macros(
    cc: &Path,
    dir: &Path,
    includes: &[&str],
    flags: &[String],
) -> Result<BTreeMap<String, String>, CheckError> {
    let src = dir.join("macros.c");
    let mut text = String::from("#include <stdint.h>\n");
    for h in includes {
        let _ = writeln!(text, "#include <{h}>");
    }
    fs::write(&src, text).map_err(io_err)?;
    let out = Command::new(cc)
        .args(flags)
        .args(["-E", "-dM"])
        .arg(&src)
        .output()
        .map_err(|e| CheckError::BadInput(e.to_string()))?;
    if !out.status.success() {
        return Err(CheckError::Unparsable(first_errors(
            &String::from_utf8_lossy(&out.stderr),
        )));
    }
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(rest) = line.strip_prefix("#define ") {
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            m.insert(name.to_string(), value.to_string());
        }
    }
    Ok(m)
}

fn first_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("error"))
        .take(5)
        .collect();
    if lines.is_empty() {
        stderr.lines().take(5).collect::<Vec<_>>().join("\n")
    } else {
        lines.join("\n")
    }
}

fn render(
    unit: &Unit,
    failed: &BTreeMap<usize, String>,
    failed_bits: &BTreeMap<usize, String>,
) -> (
    String,
    BTreeMap<usize, usize>,
    BTreeMap<usize, usize>,
    usize,
) {
    let mut text = String::from("/* dmop-abi-check probe: compiled, never run. */\n#include <stddef.h>\n#include <stdint.h>\n");
    for h in &unit.includes {
        let _ = writeln!(text, "#include <{h}>");
    }
    text.push_str("const unsigned long long dmop_probe_values[] = {\n");
    let mut line_of = BTreeMap::new();
    let mut line = text.lines().count() + 1;
    for (i, p) in unit.probes.iter().enumerate() {
        if failed.contains_key(&i) {
            text.push_str("    0,\n");
        } else {
            let _ = writeln!(text, "    (unsigned long long)({}),", p.c_expr());
            line_of.insert(line, i);
        }
        line += 1;
    }
    text.push_str("    0\n};\n");
    let first_bit_line = line + 2;
    let mut bit_line_of = BTreeMap::new();
    for (line, (i, b)) in (first_bit_line..).zip(unit.bits.iter().enumerate()) {
        if failed_bits.contains_key(&i) {
            text.push('\n');
        } else {
            let _ = writeln!(
                text,
                "const union {{ struct {s} s; unsigned char b[sizeof(struct {s})]; }} dmop_probe_bit_{i} = {{ .s = {{ .{f} = {max:#x}ull }} }};",
                s = b.strukt,
                f = b.field,
                max = if b.width >= 64 { u64::MAX } else { (1u64 << b.width) - 1 }
            );
            bit_line_of.insert(line, i);
        }
    }
    (text, line_of, bit_line_of, first_bit_line)
}

fn compile_unit(cc: &Path, dir: &Path, name: &str, unit: &Unit) -> Result<Values, CheckError> {
    let src = dir.join(format!("probe-{name}.c"));
    let obj = dir.join(format!("probe-{name}.o"));
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    let mut failed_bits: BTreeMap<usize, String> = BTreeMap::new();
    for _round in 0..8 {
        let (text, line_of, bit_line_of, _) = render(unit, &failed, &failed_bits);
        fs::write(&src, &text).map_err(io_err)?;
        let out = Command::new(cc)
            .args(&unit.flags)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .map_err(|e| CheckError::BadInput(format!("cannot run {}: {e}", cc.display())))?;
        if out.status.success() {
            let bytes =
                objread::symbol_bytes(&obj, "dmop_probe_values").map_err(CheckError::Unparsable)?;
            let raw = objread::le_u64s(&bytes);
            let values = (0..unit.probes.len())
                .map(|i| match failed.get(&i) {
                    Some(why) => Err(why.clone()),
                    None => Ok(raw[i]),
                })
                .collect();
            let mut bits = Vec::new();
            for (i, _) in unit.bits.iter().enumerate() {
                if let Some(why) = failed_bits.get(&i) {
                    bits.push(Err(why.clone()));
                    continue;
                }
                let b = objread::symbol_bytes(&obj, &format!("dmop_probe_bit_{i}"))
                    .map_err(CheckError::Unparsable)?;
                bits.push(Ok(bit_range(&b)));
            }
            return Ok(Values { values, bits });
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let src_name = src.display().to_string();
        let mut progress = false;
        let mut foreign = Vec::new();
        for l in stderr.lines().filter(|l| l.contains(": error: ")) {
            let Some((loc, msg)) = l.split_once(": error: ") else {
                continue;
            };
            let mut parts = loc.rsplitn(3, ':');
            let (_col, ln, file) = (parts.next(), parts.next(), parts.next());
            let line: usize = ln.and_then(|s| s.parse().ok()).unwrap_or(0);
            if file == Some(src_name.as_str()) {
                if let Some(&i) = line_of.get(&line) {
                    failed.entry(i).or_insert_with(|| msg.to_string());
                    progress = true;
                    continue;
                }
                if let Some(&i) = bit_line_of.get(&line) {
                    failed_bits.entry(i).or_insert_with(|| msg.to_string());
                    progress = true;
                    continue;
                }
            }
            foreign.push(l.to_string());
        }
        if !foreign.is_empty() || !progress {
            let detail = if foreign.is_empty() {
                first_errors(&stderr)
            } else {
                foreign.into_iter().take(5).collect::<Vec<_>>().join("\n")
            };
            return Err(CheckError::Unparsable(detail));
        }
    }
    Err(CheckError::Unparsable("the probe did not converge".into()))
}

/// Lowest set bit and number of set bits of a bit image.
fn bit_range(bytes: &[u8]) -> (u64, u64) {
    let mut first = None;
    let mut count = 0;
    for (i, b) in bytes.iter().enumerate() {
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                first.get_or_insert((i * 8 + bit) as u64);
                count += 1;
            }
        }
    }
    (first.unwrap_or(0), count)
}

fn absent(why: &str) -> String {
    format!("absent ({why})")
}

fn compare(manifest: &Manifest, view: &ArchView, unit: &Unit, v: &Values, report: &mut Report) {
    let arch = view.arch;
    let get = |p: &Probe| {
        unit.probes
            .iter()
            .position(|x| x == p)
            .map(|i| &v.values[i])
    };
    let mk = |ops: Vec<String>,
              item: String,
              field: Option<String>,
              what: &str,
              e: String,
              f: String| Finding {
        arch: arch.to_string(),
        ops,
        item,
        field,
        what: what.to_string(),
        expected: e,
        found: f,
    };
    let structs: Vec<&crate::manifest::StructView> = view
        .structs
        .iter()
        .filter(|s| unit.probes.contains(&Probe::Size(s.name.clone())))
        .collect();
    for s in structs {
        let ops = ops_using(manifest, &s.name);
        let item = format!("struct {}", s.name);
        match get(&Probe::Size(s.name.clone())) {
            Some(Err(why)) => {
                report.findings.push(mk(
                    ops,
                    item,
                    None,
                    "missing",
                    format!("size {}", s.size),
                    absent(why),
                ));
                continue;
            }
            Some(Ok(size)) => {
                report.compared += 1;
                if *size != s.size {
                    report.findings.push(mk(
                        ops.clone(),
                        item.clone(),
                        None,
                        "size",
                        s.size.to_string(),
                        size.to_string(),
                    ));
                }
            }
            None => continue,
        }
        if let Some(Ok(a)) = get(&Probe::Align(s.name.clone())) {
            report.compared += 1;
            if *a != s.align {
                report.findings.push(mk(
                    ops.clone(),
                    item.clone(),
                    None,
                    "alignment",
                    s.align.to_string(),
                    a.to_string(),
                ));
            }
        }
        for f in s.fields.iter().filter(|f| !f.implicit) {
            match get(&Probe::Offset(s.name.clone(), f.name.clone())) {
                Some(Err(why)) => {
                    report.findings.push(mk(
                        ops.clone(),
                        item.clone(),
                        Some(f.name.clone()),
                        "missing",
                        format!("offset {} size {}", f.offset, f.size),
                        absent(why),
                    ));
                    continue;
                }
                Some(Ok(off)) => {
                    report.compared += 1;
                    if *off != f.offset {
                        report.findings.push(mk(
                            ops.clone(),
                            item.clone(),
                            Some(f.name.clone()),
                            "offset",
                            f.offset.to_string(),
                            off.to_string(),
                        ));
                    }
                }
                None => {}
            }
            if let Some(Ok(sz)) = get(&Probe::FieldSize(s.name.clone(), f.name.clone())) {
                report.compared += 1;
                if *sz != f.size {
                    report.findings.push(mk(
                        ops.clone(),
                        item.clone(),
                        Some(f.name.clone()),
                        "size",
                        f.size.to_string(),
                        sz.to_string(),
                    ));
                }
            }
        }
        for b in &s.bits {
            let Some(i) = unit
                .bits
                .iter()
                .position(|x| x.strukt == s.name && x.field == b.name)
            else {
                continue;
            };
            match &v.bits[i] {
                Err(why) => report.findings.push(mk(
                    ops.clone(),
                    item.clone(),
                    Some(b.name.clone()),
                    "missing bit field",
                    format!("bit {} width {}", b.bit_offset, b.width),
                    absent(why),
                )),
                Ok((off, width)) => {
                    report.compared += 1;
                    if (*off, *width) != (b.bit_offset, b.width) {
                        report.findings.push(mk(
                            ops.clone(),
                            item.clone(),
                            Some(b.name.clone()),
                            "bits",
                            format!("bit {} width {}", b.bit_offset, b.width),
                            format!("bit {off} width {width}"),
                        ));
                    }
                }
            }
        }
    }
    for c in &view.constants {
        match get(&Probe::Const(c.name.clone())) {
            Some(Err(why)) => report.findings.push(mk(
                vec![],
                format!("constant {}", c.name),
                None,
                "missing",
                format!("{:#x}", c.value),
                absent(why),
            )),
            Some(Ok(x)) => {
                report.compared += 1;
                if *x != c.value {
                    report.findings.push(mk(
                        vec![],
                        format!("constant {}", c.name),
                        None,
                        "value",
                        format!("{:#x}", c.value),
                        format!("{x:#x}"),
                    ));
                }
            }
            None => {}
        }
    }
    for i in &view.ioctls {
        match get(&Probe::Ioctl(i.name.clone())) {
            Some(Err(why)) => report.findings.push(mk(
                vec![],
                format!("ioctl {}", i.name),
                None,
                "missing",
                format!("{:#010x}", i.value),
                absent(why),
            )),
            Some(Ok(x)) => {
                report.compared += 1;
                if *x != i.value {
                    report.findings.push(mk(
                        vec![],
                        format!("ioctl {}", i.name),
                        None,
                        "number",
                        format!("{:#010x}", i.value),
                        format!("{x:#010x}"),
                    ));
                }
            }
            None => {}
        }
    }
}

fn compare_dmops(
    manifest: &Manifest,
    unit: &Unit,
    v: &Values,
    extra: &[String],
    report: &mut Report,
) {
    let arch = report.arch.clone();
    let get = |m: &str| {
        unit.probes
            .iter()
            .position(|x| *x == Probe::Dmop(m.to_string()))
            .map(|i| &v.values[i])
    };
    let mk = |op: String, what: &str, e: String, f: String| Finding {
        arch: arch.clone(),
        ops: vec![op],
        item: "op number".to_string(),
        field: None,
        what: what.to_string(),
        expected: e,
        found: f,
    };
    for d in &manifest.dmops {
        let label = format!("{} {}", d.number, d.name);
        match (d.status, get(&d.c_macro())) {
            (Status::Active, Some(Err(why))) => report.findings.push(mk(
                label,
                "missing",
                format!("{} = {}", d.c_macro(), d.number),
                absent(why),
            )),
            (Status::Active, Some(Ok(n))) => {
                report.compared += 1;
                if *n != u64::from(d.number) {
                    report.findings.push(mk(
                        label,
                        "renumbered",
                        d.number.to_string(),
                        n.to_string(),
                    ));
                }
            }
            (Status::Retired, Some(Ok(n))) if *n != u64::from(d.number) => {
                report.findings.push(mk(
                    label,
                    "retired op renumbered",
                    d.number.to_string(),
                    n.to_string(),
                ))
            }
            _ => {}
        }
    }
    for e in extra {
        let Some(Ok(n)) = get(e) else { continue };
        let name = e.trim_start_matches("XEN_DMOP_");
        match manifest.dmop(*n as u32) {
            Some(d) if d.status == Status::Retired => report.findings.push(mk(
                format!("{n} {}", d.name),
                "retired number reused",
                format!("number {n} retired (was {})", d.name),
                format!("{e} = {n}"),
            )),
            Some(d) => report.findings.push(mk(
                format!("{n} {}", d.name),
                "number given to another op",
                format!("number {n} is {}", d.c_macro()),
                format!("{e} = {n}"),
            )),
            None => report.notes.push(format!(
                "{e} = {n}: an op the frozen manifest (ABI version {}) does not know; not an incompatibility, but dmop-abi cannot issue it ({name})",
                manifest.abi_version
            )),
        }
    }
}
