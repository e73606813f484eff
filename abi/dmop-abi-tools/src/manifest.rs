// SPDX-License-Identifier: MIT
//! The frozen manifest (`abi/frozen.toml`): what it holds, how it is read,
//! written, derived from the code and compared.
//!
//! The manifest holds, for each of Xen's four architectures, the layout of
//! every ABI struct, the value of every constant and the encoding of every
//! ioctl, plus the DMOP table with each op's status. The file stores the
//! x86_64 value of each item and, where another architecture differs, that
//! architecture's value beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde::Deserialize;

use dmop_abi::layout::Arches;
use dmop_abi::{dmop, registry};

/// The checked-in manifest, as `dmop-abi` ships it.
pub const FROZEN_TOML: &str = dmop_abi::FROZEN_TOML;

/// One of the four architectures the Xen device-model ABI is defined for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// 64-bit x86.
    X86_64,
    /// 32-bit x86 (i386).
    X86_32,
    /// 64-bit Arm.
    Arm64,
    /// 32-bit Arm (hard float).
    Arm32,
}

impl Arch {
    /// All four, x86_64 (the manifest's base) first.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::X86_32, Arch::Arm64, Arch::Arm32];

    /// Xen's name for it, as the manifest uses.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86_32 => "x86_32",
            Arch::Arm64 => "arm64",
            Arch::Arm32 => "arm32",
        }
    }

    /// Parses a manifest name, a Rust target triple or a clang triple.
    pub fn parse(s: &str) -> Option<Arch> {
        let first = s.split('-').next().unwrap_or(s);
        Some(match first {
            "x86_64" | "amd64" => Arch::X86_64,
            "x86_32" | "i386" | "i486" | "i586" | "i686" | "x86" => Arch::X86_32,
            "arm64" | "aarch64" => Arch::Arm64,
            "arm32" | "arm" | "armv7" | "armhf" | "armv7a" => Arch::Arm32,
            _ => return None,
        })
    }

    /// The Rust target that compiles the ABI source for it.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::X86_32 => "i686-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
            Arch::Arm32 => "armv7-unknown-linux-gnueabihf",
        }
    }

    /// The clang target that compiles the C headers for it.
    pub fn clang_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::X86_32 => "i386-linux-gnu",
            Arch::Arm64 => "aarch64-linux-gnu",
            Arch::Arm32 => "arm-linux-gnueabihf",
        }
    }

    /// Rust's `target_arch` for it.
    pub fn target_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86_32 => "x86",
            Arch::Arm64 => "aarch64",
            Arch::Arm32 => "arm",
        }
    }

    /// Linux's `ARCH=` for it.
    pub fn linux_arch(self) -> &'static str {
        match self {
            Arch::X86_64 | Arch::X86_32 => "x86",
            Arch::Arm64 => "arm64",
            Arch::Arm32 => "arm",
        }
    }

    /// The family a DMOP's `arch` list names.
    pub fn family(self) -> Arches {
        match self {
            Arch::X86_64 | Arch::X86_32 => Arches::X86,
            Arch::Arm64 | Arch::Arm32 => Arches::ARM,
        }
    }

    /// The architecture this program was compiled for.
    pub fn host() -> Arch {
        Arch::parse(std::env::consts::ARCH).expect("dmop-abi tooling runs on x86 or Arm")
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of a struct in a view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldView {
    /// C name.
    pub name: String,
    /// Byte offset.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Padding that C leaves unnamed (checked in Rust only).
    pub implicit: bool,
}

/// One bit field of a struct in a view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitView {
    /// C name.
    pub name: String,
    /// Offset of its lowest bit from the start of the struct.
    pub bit_offset: u64,
    /// Width in bits.
    pub width: u64,
}

/// A struct's layout on one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructView {
    /// C name.
    pub name: String,
    /// Defining header.
    pub header: String,
    /// `sizeof`.
    pub size: u64,
    /// `alignof`.
    pub align: u64,
    /// Fields in order.
    pub fields: Vec<FieldView>,
    /// Bit fields.
    pub bits: Vec<BitView>,
}

impl StructView {
    fn layout_eq(&self, other: &StructView) -> bool {
        self.size == other.size
            && self.align == other.align
            && self.fields == other.fields
            && self.bits == other.bits
    }
}

/// A constant on one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstView {
    /// C expression.
    pub name: String,
    /// Defining header.
    pub header: String,
    /// Value.
    pub value: u64,
}

/// An ioctl on one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlView {
    /// C macro name.
    pub name: String,
    /// Defining header.
    pub header: String,
    /// Direction bits.
    pub dir: u32,
    /// Type letter.
    pub ty: u8,
    /// Number.
    pub nr: u8,
    /// C argument type.
    pub arg: String,
    /// Argument size.
    pub size: u64,
    /// Encoded command.
    pub value: u64,
}

/// Every layout, constant and ioctl of the ABI on one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchView {
    /// The architecture.
    pub arch: Arch,
    /// Structs in registry order.
    pub structs: Vec<StructView>,
    /// Constants in registry order.
    pub constants: Vec<ConstView>,
    /// Ioctls in registry order.
    pub ioctls: Vec<IoctlView>,
}

impl ArchView {
    /// Puts the constants in their canonical order (by header, then name),
    /// the order the manifest file keeps them in.
    pub fn normalize(&mut self) {
        self.constants
            .sort_by(|a, b| (&a.header, &a.name).cmp(&(&b.header, &b.name)));
    }

    /// The struct with this C name.
    pub fn struct_view(&self, name: &str) -> Option<&StructView> {
        self.structs.iter().find(|s| s.name == name)
    }
    /// The constant with this C expression.
    pub fn constant(&self, name: &str) -> Option<&ConstView> {
        self.constants.iter().find(|c| c.name == name)
    }
    /// The ioctl with this C name.
    pub fn ioctl(&self, name: &str) -> Option<&IoctlView> {
        self.ioctls.iter().find(|c| c.name == name)
    }
}

/// Whether a DMOP number names a live op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The op exists and its layout is frozen.
    Active,
    /// The number no longer names an op and is never given out again.
    Retired,
}

/// One DMOP number and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmopEntry {
    /// The number.
    pub number: u32,
    /// Op name (the C macro without `XEN_DMOP_`).
    pub name: String,
    /// Active or retired.
    pub status: Status,
    /// `["x86"]`, `["arm"]` or both.
    pub arch: Vec<String>,
    /// C name of its payload struct.
    pub payload: String,
    /// For a retired op, the ABI version that retired it.
    pub retired_in: Option<u32>,
    /// For a retired op, the number of its replacement, if any.
    pub replaced_by: Option<u32>,
}

impl DmopEntry {
    /// The C macro of the op.
    pub fn c_macro(&self) -> String {
        format!("XEN_DMOP_{}", self.name)
    }
}

/// The whole frozen ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Version: goes up by one with every change to the frozen set.
    pub abi_version: u32,
    /// Every DMOP number ever assigned, active and retired, in number order.
    pub dmops: Vec<DmopEntry>,
    /// The layouts of each architecture.
    pub views: BTreeMap<Arch, ArchView>,
}

/// An error reading a manifest.
#[derive(Debug)]
pub struct ManifestError(pub String);

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frozen manifest: {}", self.0)
    }
}

impl std::error::Error for ManifestError {}

fn arches_names(a: Arches) -> Vec<String> {
    let mut v = Vec::new();
    if a.contains(Arches::X86) {
        v.push("x86".to_string());
    }
    if a.contains(Arches::ARM) {
        v.push("arm".to_string());
    }
    v
}

/// The DMOP table the code defines: active ops and retired numbers.
pub fn code_dmops() -> Vec<DmopEntry> {
    let mut v: Vec<DmopEntry> = dmop::DMOPS
        .iter()
        .map(|d| DmopEntry {
            number: d.code.0,
            name: d.name.to_string(),
            status: Status::Active,
            arch: arches_names(d.arch),
            payload: d.payload.name.to_string(),
            retired_in: None,
            replaced_by: None,
        })
        .collect();
    for r in dmop::RETIRED_DMOPS {
        v.push(DmopEntry {
            number: r.code.0,
            name: r.name.to_string(),
            status: Status::Retired,
            arch: Vec::new(),
            payload: String::new(),
            retired_in: Some(r.retired_in),
            replaced_by: r.replaced_by.map(|c| c.0),
        });
    }
    v.sort_by_key(|d| d.number);
    v
}

/// Builds the view of `arch` from the registry's structure and the numbers
/// of [`registry::flatten`] as compiled for that architecture.
pub fn view_from_flat(arch: Arch, flat: &[u64]) -> Result<ArchView, ManifestError> {
    if flat.len() != registry::FLAT_LEN {
        return Err(ManifestError(format!(
            "{} values from the {} object, the registry has {}: the object was built from other sources",
            flat.len(),
            arch,
            registry::FLAT_LEN
        )));
    }
    let mut it = flat.iter().copied();
    let mut next = || it.next().expect("length checked");
    let mut structs = Vec::new();
    for s in registry::STRUCTS {
        let size = next();
        let align = next();
        let fields = s
            .fields
            .iter()
            .map(|f| FieldView {
                name: f.name.to_string(),
                offset: next(),
                size: next(),
                implicit: !f.in_c,
            })
            .collect();
        let bits = s
            .bits
            .iter()
            .map(|b| BitView {
                name: b.name.to_string(),
                bit_offset: next(),
                width: next(),
            })
            .collect();
        structs.push(StructView {
            name: s.name.to_string(),
            header: s.header.to_string(),
            size,
            align,
            fields,
            bits,
        });
    }
    let mut constants = Vec::new();
    for t in registry::CONSTANT_TABLES {
        for c in *t {
            constants.push(ConstView {
                name: c.name.to_string(),
                header: c.header.to_string(),
                value: next(),
            });
        }
    }
    let mut ioctls = Vec::new();
    for t in registry::IOCTL_TABLES {
        for i in *t {
            let size = next();
            let value = next();
            ioctls.push(IoctlView {
                name: i.name.to_string(),
                header: i.header.to_string(),
                dir: i.dir,
                ty: i.ty,
                nr: i.nr,
                arg: i.arg.to_string(),
                size,
                value,
            });
        }
    }
    // The DMOP numbers are the same on every target; they are part of the
    // flat image so that a cross-compiled object proves it.
    for d in dmop::DMOPS {
        let n = next();
        if n != u64::from(d.code.0) {
            return Err(ManifestError(format!(
                "DMOP {} has number {} on {}",
                d.name, n, arch
            )));
        }
    }
    let mut view = ArchView {
        arch,
        structs,
        constants,
        ioctls,
    };
    view.normalize();
    Ok(view)
}

/// The view of the architecture this crate was compiled for, straight from
/// the registry.
pub fn host_view() -> ArchView {
    view_from_flat(Arch::host(), &registry::flatten()).expect("the host's own registry")
}

// ---------------------------------------------------------------------------
// Reading

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    abi_version: u32,
    #[serde(default)]
    dmop: Vec<RawDmop>,
    #[serde(default, rename = "struct")]
    structs: Vec<RawStruct>,
    #[serde(default)]
    constants: BTreeMap<String, BTreeMap<String, RawConst>>,
    #[serde(default)]
    ioctl: Vec<RawIoctl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDmop {
    number: u32,
    name: String,
    status: String,
    #[serde(default)]
    arch: Vec<String>,
    #[serde(default, rename = "struct")]
    payload: String,
    retired_in: Option<u32>,
    replaced_by: Option<u32>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    offset: u64,
    size: u64,
    #[serde(default)]
    implicit: bool,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawBit {
    name: String,
    bit_offset: u64,
    width: u64,
}

/// An architecture's override of a struct: only what differs from x86_64.
#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RawStructArch {
    size: Option<u64>,
    align: Option<u64>,
    fields: Option<Vec<RawField>>,
    bits: Option<Vec<RawBit>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStruct {
    name: String,
    header: String,
    size: u64,
    align: u64,
    fields: Vec<RawField>,
    #[serde(default)]
    bits: Vec<RawBit>,
    x86_32: Option<RawStructArch>,
    arm64: Option<RawStructArch>,
    arm32: Option<RawStructArch>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawConst {
    Plain(u64),
    PerArch {
        default: u64,
        x86_32: Option<u64>,
        arm64: Option<u64>,
        arm32: Option<u64>,
    },
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RawIoctlArch {
    size: u64,
    value: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIoctl {
    name: String,
    header: String,
    dir: String,
    #[serde(rename = "type")]
    ty: String,
    nr: u8,
    arg: String,
    size: u64,
    value: u64,
    x86_32: Option<RawIoctlArch>,
    arm64: Option<RawIoctlArch>,
    arm32: Option<RawIoctlArch>,
}

fn dir_name(dir: u32) -> &'static str {
    match dir {
        0 => "none",
        1 => "write",
        2 => "read",
        _ => "read-write",
    }
}

fn parse_dir(s: &str) -> Result<u32, ManifestError> {
    Ok(match s {
        "none" => 0,
        "write" => 1,
        "read" => 2,
        "read-write" => 3,
        _ => return Err(ManifestError(format!("unknown ioctl direction {s:?}"))),
    })
}

impl Manifest {
    /// The manifest compiled into this crate.
    pub fn frozen() -> Manifest {
        Manifest::parse(FROZEN_TOML).expect("abi/frozen.toml parses (tested)")
    }

    /// Reads a manifest.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError(e.to_string()))?;
        let mut dmops = Vec::new();
        for d in raw.dmop {
            let status = match d.status.as_str() {
                "active" => Status::Active,
                "retired" => Status::Retired,
                s => {
                    return Err(ManifestError(format!(
                        "dmop {}: unknown status {s:?}",
                        d.number
                    )))
                }
            };
            dmops.push(DmopEntry {
                number: d.number,
                name: d.name,
                status,
                arch: d.arch,
                payload: d.payload,
                retired_in: d.retired_in,
                replaced_by: d.replaced_by,
            });
        }
        let mut views: BTreeMap<Arch, ArchView> = Arch::ALL
            .iter()
            .map(|&a| {
                (
                    a,
                    ArchView {
                        arch: a,
                        structs: Vec::new(),
                        constants: Vec::new(),
                        ioctls: Vec::new(),
                    },
                )
            })
            .collect();
        let conv_fields = |fs: &[RawField]| -> Vec<FieldView> {
            fs.iter()
                .map(|f| FieldView {
                    name: f.name.clone(),
                    offset: f.offset,
                    size: f.size,
                    implicit: f.implicit,
                })
                .collect()
        };
        let conv_bits = |bs: &[RawBit]| -> Vec<BitView> {
            bs.iter()
                .map(|b| BitView {
                    name: b.name.clone(),
                    bit_offset: b.bit_offset,
                    width: b.width,
                })
                .collect()
        };
        for s in raw.structs {
            let none = RawStructArch::default();
            for arch in Arch::ALL {
                let o = match arch {
                    Arch::X86_64 => &none,
                    Arch::X86_32 => s.x86_32.as_ref().unwrap_or(&none),
                    Arch::Arm64 => s.arm64.as_ref().unwrap_or(&none),
                    Arch::Arm32 => s.arm32.as_ref().unwrap_or(&none),
                };
                views
                    .get_mut(&arch)
                    .expect("all arches")
                    .structs
                    .push(StructView {
                        name: s.name.clone(),
                        header: s.header.clone(),
                        size: o.size.unwrap_or(s.size),
                        align: o.align.unwrap_or(s.align),
                        fields: conv_fields(o.fields.as_deref().unwrap_or(&s.fields)),
                        bits: conv_bits(o.bits.as_deref().unwrap_or(&s.bits)),
                    });
            }
        }
        for (header, group) in raw.constants {
            for (name, v) in group {
                for arch in Arch::ALL {
                    let value = match &v {
                        RawConst::Plain(x) => *x,
                        RawConst::PerArch {
                            default,
                            x86_32,
                            arm64,
                            arm32,
                        } => match arch {
                            Arch::X86_64 => *default,
                            Arch::X86_32 => x86_32.unwrap_or(*default),
                            Arch::Arm64 => arm64.unwrap_or(*default),
                            Arch::Arm32 => arm32.unwrap_or(*default),
                        },
                    };
                    views
                        .get_mut(&arch)
                        .expect("all arches")
                        .constants
                        .push(ConstView {
                            name: name.clone(),
                            header: header.clone(),
                            value,
                        });
                }
            }
        }
        for i in raw.ioctl {
            let dir = parse_dir(&i.dir)?;
            let ty = match i.ty.as_bytes() {
                [c] => *c,
                _ => {
                    return Err(ManifestError(format!(
                        "ioctl {}: type must be one character",
                        i.name
                    )))
                }
            };
            for arch in Arch::ALL {
                let o = match arch {
                    Arch::X86_64 => None,
                    Arch::X86_32 => i.x86_32,
                    Arch::Arm64 => i.arm64,
                    Arch::Arm32 => i.arm32,
                };
                let (size, value) = o.map_or((i.size, i.value), |o| (o.size, o.value));
                views
                    .get_mut(&arch)
                    .expect("all arches")
                    .ioctls
                    .push(IoctlView {
                        name: i.name.clone(),
                        header: i.header.clone(),
                        dir,
                        ty,
                        nr: i.nr,
                        arg: i.arg.clone(),
                        size,
                        value,
                    });
            }
        }
        for v in views.values_mut() {
            v.normalize();
        }
        Ok(Manifest {
            abi_version: raw.abi_version,
            dmops,
            views,
        })
    }

    /// The view of one architecture.
    pub fn view(&self, arch: Arch) -> &ArchView {
        &self.views[&arch]
    }

    /// The DMOP entry with this number.
    pub fn dmop(&self, number: u32) -> Option<&DmopEntry> {
        self.dmops.iter().find(|d| d.number == number)
    }

    /// The highest DMOP number ever assigned.
    pub fn max_dmop_number(&self) -> u32 {
        self.dmops.iter().map(|d| d.number).max().unwrap_or(0)
    }

    /// Writes the manifest in its canonical, reviewable form.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        o.push_str(
            "# The frozen Xen device-model ABI of dmop-abi.\n\
             #\n\
             # Written by `cargo xtask abi-freeze` from the code, which refuses any change\n\
             # that is not an addition or a retirement; read by the tests, by\n\
             # dmop-abi-check and by the xen-patches freeze guard. Policy: docs/abi-policy.md.\n\
             # Layouts are those of x86_64; `x86_32`, `arm64` and `arm32` entries give\n\
             # the values of architectures that differ.\n\n",
        );
        let _ = writeln!(o, "abi_version = {}\n", self.abi_version);
        for d in &self.dmops {
            o.push_str("[[dmop]]\n");
            let _ = writeln!(o, "number = {}", d.number);
            let _ = writeln!(o, "name = {:?}", d.name);
            let _ = writeln!(
                o,
                "status = \"{}\"",
                match d.status {
                    Status::Active => "active",
                    Status::Retired => "retired",
                }
            );
            if !d.arch.is_empty() {
                let _ = writeln!(
                    o,
                    "arch = [{}]",
                    d.arch
                        .iter()
                        .map(|a| format!("{a:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if !d.payload.is_empty() {
                let _ = writeln!(o, "struct = {:?}", d.payload);
            }
            if let Some(v) = d.retired_in {
                let _ = writeln!(o, "retired_in = {v}");
            }
            if let Some(v) = d.replaced_by {
                let _ = writeln!(o, "replaced_by = {v}");
            }
            o.push('\n');
        }
        let base = self.view(Arch::X86_64);
        for (idx, s) in base.structs.iter().enumerate() {
            o.push_str("[[struct]]\n");
            let _ = writeln!(o, "name = {:?}", s.name);
            let _ = writeln!(o, "header = {:?}", s.header);
            write_struct_layout(&mut o, s);
            for arch in &Arch::ALL[1..] {
                let other = &self.view(*arch).structs[idx];
                if !other.layout_eq(s) {
                    let _ = writeln!(o, "\n[struct.{arch}]");
                    if other.size != s.size {
                        let _ = writeln!(o, "size = {}", other.size);
                    }
                    if other.align != s.align {
                        let _ = writeln!(o, "align = {}", other.align);
                    }
                    if other.fields != s.fields {
                        write_fields(&mut o, &other.fields);
                    }
                    if other.bits != s.bits {
                        write_bits(&mut o, &other.bits);
                    }
                }
            }
            o.push('\n');
        }
        let mut headers: Vec<&str> = Vec::new();
        for c in &base.constants {
            if !headers.contains(&c.header.as_str()) {
                headers.push(&c.header);
            }
        }
        for h in headers {
            let _ = writeln!(o, "[constants.{h:?}]");
            for (idx, c) in base
                .constants
                .iter()
                .enumerate()
                .filter(|(_, c)| c.header == h)
            {
                let others: Vec<(Arch, u64)> = Arch::ALL[1..]
                    .iter()
                    .map(|a| (*a, self.view(*a).constants[idx].value))
                    .filter(|(_, v)| *v != c.value)
                    .collect();
                let key = toml_key(&c.name);
                if others.is_empty() {
                    let _ = writeln!(o, "{key} = {}", num(c.value));
                } else {
                    let mut parts = vec![format!("default = {}", num(c.value))];
                    parts.extend(others.iter().map(|(a, v)| format!("{a} = {}", num(*v))));
                    let _ = writeln!(o, "{key} = {{ {} }}", parts.join(", "));
                }
            }
            o.push('\n');
        }
        for (idx, i) in base.ioctls.iter().enumerate() {
            o.push_str("[[ioctl]]\n");
            let _ = writeln!(o, "name = {:?}", i.name);
            let _ = writeln!(o, "header = {:?}", i.header);
            let _ = writeln!(o, "dir = {:?}", dir_name(i.dir));
            let _ = writeln!(o, "type = {:?}", (i.ty as char).to_string());
            let _ = writeln!(o, "nr = {:#04x}", i.nr);
            let _ = writeln!(o, "arg = {:?}", i.arg);
            let _ = writeln!(o, "size = {}", i.size);
            let _ = writeln!(o, "value = {:#010x}", i.value);
            for arch in &Arch::ALL[1..] {
                let other = &self.view(*arch).ioctls[idx];
                if other.size != i.size || other.value != i.value {
                    let _ = writeln!(
                        o,
                        "{arch} = {{ size = {}, value = {:#010x} }}",
                        other.size, other.value
                    );
                }
            }
            o.push('\n');
        }
        while o.ends_with("\n\n") {
            o.pop();
        }
        o
    }
}

fn num(v: u64) -> String {
    if v >= 0x100 {
        format!("{v:#x}")
    } else {
        v.to_string()
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

fn write_struct_layout(o: &mut String, s: &StructView) {
    let _ = writeln!(o, "size = {}", s.size);
    let _ = writeln!(o, "align = {}", s.align);
    write_fields(o, &s.fields);
    if !s.bits.is_empty() {
        write_bits(o, &s.bits);
    }
}

fn write_fields(o: &mut String, fields: &[FieldView]) {
    o.push_str("fields = [\n");
    for f in fields {
        let imp = if f.implicit { ", implicit = true" } else { "" };
        let _ = writeln!(
            o,
            "    {{ name = {:?}, offset = {}, size = {}{imp} }},",
            f.name, f.offset, f.size
        );
    }
    o.push_str("]\n");
}

fn write_bits(o: &mut String, bits: &[BitView]) {
    o.push_str("bits = [\n");
    for b in bits {
        let _ = writeln!(
            o,
            "    {{ name = {:?}, bit_offset = {}, width = {} }},",
            b.name, b.bit_offset, b.width
        );
    }
    o.push_str("]\n");
}

// ---------------------------------------------------------------------------
// Comparing

/// One difference between the frozen manifest and something checked
/// against it (the code, or a set of C headers).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Architecture the difference was seen on.
    pub arch: String,
    /// The DMOP(s) concerned, as `"2 get_ioreq_server_info"`.
    pub ops: Vec<String>,
    /// The item: `struct xen_dm_op_get_ioreq_server_info`, `constant X`, `ioctl Y`, `dmop 3`.
    pub item: String,
    /// The field or bit field, if the difference is in one.
    pub field: Option<String>,
    /// What differs: `size`, `offset`, `value`, `number`, `missing`, ...
    pub what: String,
    /// What the manifest says.
    pub expected: String,
    /// What was found.
    pub found: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.arch)?;
        if !self.ops.is_empty() {
            write!(f, "dmop {}: ", self.ops.join(", dmop "))?;
        }
        write!(f, "{}", self.item)?;
        if let Some(field) = &self.field {
            write!(f, " field {field}")?;
        }
        write!(
            f,
            ": {}: expected {}, found {}",
            self.what, self.expected, self.found
        )
    }
}

/// The active ops whose payload is this struct, as `"N name"`.
pub fn ops_using(manifest: &Manifest, struct_name: &str) -> Vec<String> {
    manifest
        .dmops
        .iter()
        .filter(|d| d.status == Status::Active && d.payload == struct_name)
        .map(|d| format!("{} {}", d.number, d.name))
        .collect()
}

fn finding(
    arch: Arch,
    ops: Vec<String>,
    item: String,
    field: Option<String>,
    what: &str,
    e: impl ToString,
    f: impl ToString,
) -> Finding {
    Finding {
        arch: arch.to_string(),
        ops,
        item,
        field,
        what: what.to_string(),
        expected: e.to_string(),
        found: f.to_string(),
    }
}

/// Structs referenced only by retired ops: the code may drop them.
fn retired_only_structs(m: &Manifest) -> BTreeSet<String> {
    let active: BTreeSet<&str> = m
        .dmops
        .iter()
        .filter(|d| d.status == Status::Active)
        .map(|d| d.payload.as_str())
        .collect();
    m.dmops
        .iter()
        .filter(|d| {
            d.status == Status::Retired
                && !d.payload.is_empty()
                && !active.contains(d.payload.as_str())
        })
        .map(|d| d.payload.clone())
        .collect()
}

/// Compares the code's view of one architecture with the manifest's, item
/// by item and field by field. Anything in the code that the manifest does
/// not have is reported as not frozen.
pub fn diff_code_view(manifest: &Manifest, code: &ArchView) -> Vec<Finding> {
    let arch = code.arch;
    let frozen = manifest.view(arch);
    let droppable = retired_only_structs(manifest);
    let mut out = Vec::new();
    for s in &frozen.structs {
        let ops = ops_using(manifest, &s.name);
        let item = format!("struct {}", s.name);
        let Some(c) = code.struct_view(&s.name) else {
            if !droppable.contains(&s.name) {
                out.push(finding(
                    arch,
                    ops,
                    item,
                    None,
                    "missing",
                    "a frozen struct",
                    "none in the code",
                ));
            }
            continue;
        };
        if c.size != s.size {
            out.push(finding(
                arch,
                ops.clone(),
                item.clone(),
                None,
                "size",
                s.size,
                c.size,
            ));
        }
        if c.align != s.align {
            out.push(finding(
                arch,
                ops.clone(),
                item.clone(),
                None,
                "alignment",
                s.align,
                c.align,
            ));
        }
        for f in &s.fields {
            match c.fields.iter().find(|x| x.name == f.name) {
                None => out.push(finding(
                    arch,
                    ops.clone(),
                    item.clone(),
                    Some(f.name.clone()),
                    "missing",
                    "a frozen field",
                    "none",
                )),
                Some(x) => {
                    if x.offset != f.offset {
                        out.push(finding(
                            arch,
                            ops.clone(),
                            item.clone(),
                            Some(f.name.clone()),
                            "offset",
                            f.offset,
                            x.offset,
                        ));
                    }
                    if x.size != f.size {
                        out.push(finding(
                            arch,
                            ops.clone(),
                            item.clone(),
                            Some(f.name.clone()),
                            "size",
                            f.size,
                            x.size,
                        ));
                    }
                    if x.implicit != f.implicit {
                        out.push(finding(
                            arch,
                            ops.clone(),
                            item.clone(),
                            Some(f.name.clone()),
                            "implicit",
                            f.implicit,
                            x.implicit,
                        ));
                    }
                }
            }
        }
        for x in c
            .fields
            .iter()
            .filter(|x| !s.fields.iter().any(|f| f.name == x.name))
        {
            out.push(finding(
                arch,
                ops.clone(),
                item.clone(),
                Some(x.name.clone()),
                "not frozen",
                "no such field",
                format!("offset {} size {}", x.offset, x.size),
            ));
        }
        for b in &s.bits {
            match c.bits.iter().find(|x| x.name == b.name) {
                None => out.push(finding(
                    arch,
                    ops.clone(),
                    item.clone(),
                    Some(b.name.clone()),
                    "missing bit field",
                    "a frozen bit field",
                    "none",
                )),
                Some(x) if x != b => out.push(finding(
                    arch,
                    ops.clone(),
                    item.clone(),
                    Some(b.name.clone()),
                    "bits",
                    format!("bit {} width {}", b.bit_offset, b.width),
                    format!("bit {} width {}", x.bit_offset, x.width),
                )),
                Some(_) => {}
            }
        }
        for x in c
            .bits
            .iter()
            .filter(|x| !s.bits.iter().any(|b| b.name == x.name))
        {
            out.push(finding(
                arch,
                ops.clone(),
                item.clone(),
                Some(x.name.clone()),
                "not frozen",
                "no such bit field",
                format!("bit {} width {}", x.bit_offset, x.width),
            ));
        }
    }
    for c in code
        .structs
        .iter()
        .filter(|c| frozen.struct_view(&c.name).is_none())
    {
        out.push(finding(
            arch,
            Vec::new(),
            format!("struct {}", c.name),
            None,
            "not frozen",
            "absent from the manifest",
            format!("size {}", c.size),
        ));
    }
    for k in &frozen.constants {
        match code.constant(&k.name) {
            None => out.push(finding(
                arch,
                Vec::new(),
                format!("constant {}", k.name),
                None,
                "missing",
                num(k.value),
                "none in the code",
            )),
            Some(c) if c.value != k.value => out.push(finding(
                arch,
                Vec::new(),
                format!("constant {}", k.name),
                None,
                "value",
                num(k.value),
                num(c.value),
            )),
            Some(_) => {}
        }
    }
    for c in code
        .constants
        .iter()
        .filter(|c| frozen.constant(&c.name).is_none())
    {
        out.push(finding(
            arch,
            Vec::new(),
            format!("constant {}", c.name),
            None,
            "not frozen",
            "absent from the manifest",
            num(c.value),
        ));
    }
    for k in &frozen.ioctls {
        match code.ioctl(&k.name) {
            None => out.push(finding(
                arch,
                Vec::new(),
                format!("ioctl {}", k.name),
                None,
                "missing",
                format!("{:#x}", k.value),
                "none in the code",
            )),
            Some(c) => {
                if (c.dir, c.ty, c.nr, c.size, c.value) != (k.dir, k.ty, k.nr, k.size, k.value) {
                    out.push(finding(
                        arch,
                        Vec::new(),
                        format!("ioctl {}", k.name),
                        None,
                        "encoding",
                        format!("{:#010x}", k.value),
                        format!("{:#010x}", c.value),
                    ));
                }
            }
        }
    }
    for c in code
        .ioctls
        .iter()
        .filter(|c| frozen.ioctl(&c.name).is_none())
    {
        out.push(finding(
            arch,
            Vec::new(),
            format!("ioctl {}", c.name),
            None,
            "not frozen",
            "absent from the manifest",
            format!("{:#010x}", c.value),
        ));
    }
    out
}

/// Compares the code's DMOP table with the manifest's: every frozen number
/// keeps its op or stays retired, and an op the manifest lacks must take a
/// number never used before.
pub fn diff_code_dmops(manifest: &Manifest, code: &[DmopEntry]) -> Vec<Finding> {
    let mut out = Vec::new();
    let all = "all".to_string();
    for m in &manifest.dmops {
        let item = format!("dmop {}", m.number);
        let c = code.iter().find(|c| c.number == m.number);
        match (m.status, c) {
            (_, None) => out.push(finding_all(
                &all,
                &item,
                "missing",
                format!("{} ({:?})", m.name, m.status),
                "no such number in the code",
            )),
            (Status::Active, Some(c)) if c.status == Status::Retired => out.push(finding_all(
                &all,
                &item,
                "status",
                "active",
                "retired: run the freeze to record the retirement",
            )),
            (Status::Retired, Some(c)) if c.status == Status::Active => out.push(finding_all(
                &all,
                &item,
                "reuse of a retired number",
                format!("retired (was {})", m.name),
                format!("active op {}", c.name),
            )),
            (_, Some(c)) => {
                if c.name != m.name {
                    out.push(finding_all(&all, &item, "name", &m.name, &c.name));
                }
                if m.status == Status::Active {
                    if c.payload != m.payload {
                        out.push(finding_all(
                            &all,
                            &item,
                            "payload struct",
                            &m.payload,
                            &c.payload,
                        ));
                    }
                    if c.arch != m.arch {
                        out.push(finding_all(
                            &all,
                            &item,
                            "architectures",
                            m.arch.join(","),
                            c.arch.join(","),
                        ));
                    }
                }
            }
        }
    }
    let max = manifest.max_dmop_number();
    for c in code.iter().filter(|c| manifest.dmop(c.number).is_none()) {
        out.push(finding_all(
            &all,
            &format!("dmop {}", c.number),
            "not frozen",
            format!("a number above {max} (freeze it with `cargo xtask abi-freeze`)"),
            &c.name,
        ));
    }
    for c in code.iter() {
        if let Some(m) = manifest
            .dmops
            .iter()
            .find(|m| m.name == c.name && m.number != c.number && m.status == Status::Active)
        {
            out.push(finding_all(
                &all,
                &format!("dmop {}", c.name),
                "renumbered",
                m.number,
                c.number,
            ));
        }
    }
    out
}

fn finding_all(arch: &str, item: &str, what: &str, e: impl ToString, f: impl ToString) -> Finding {
    Finding {
        arch: arch.to_string(),
        ops: Vec::new(),
        item: item.to_string(),
        field: None,
        what: what.to_string(),
        expected: e.to_string(),
        found: f.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Freezing

/// Builds the manifest the code describes, from the code's DMOP table and
/// its view on each of the four architectures.
pub fn manifest_from_code(
    abi_version: u32,
    dmops: Vec<DmopEntry>,
    views: BTreeMap<Arch, ArchView>,
) -> Manifest {
    Manifest {
        abi_version,
        dmops,
        views,
    }
}

/// Checks that `next` only evolves `prev` the ways the policy allows: new
/// DMOPs with numbers above every number used, active ops retired (their
/// entries and layouts kept), new structs, constants and ioctls; and nothing
/// frozen changed. Returns every violation.
pub fn check_evolution(prev: &Manifest, next: &Manifest) -> Vec<String> {
    let mut errs = Vec::new();
    let prev_max = prev.max_dmop_number();
    for p in &prev.dmops {
        match next.dmop(p.number) {
            None => errs.push(format!(
                "dmop {} ({}) disappeared: numbers are never removed, only retired",
                p.number, p.name
            )),
            Some(n) => {
                if n.name != p.name {
                    errs.push(format!(
                        "dmop {} was {} and is now {}: a number never changes meaning",
                        p.number, p.name, n.name
                    ));
                }
                match (p.status, n.status) {
                    (Status::Retired, Status::Active) => errs.push(format!(
                        "dmop {} ({}) is retired and can never be active again",
                        p.number, p.name
                    )),
                    (Status::Active, Status::Active) | (Status::Active, Status::Retired) => {
                        if n.status == Status::Retired && n.retired_in != Some(next.abi_version) {
                            errs.push(format!(
                                "dmop {} is retired in this change: retired_in must be {}",
                                p.number, next.abi_version
                            ));
                        }
                    }
                    (Status::Retired, Status::Retired) => {
                        if n.retired_in != p.retired_in || n.replaced_by != p.replaced_by {
                            errs.push(format!(
                                "dmop {}: the record of its retirement changed",
                                p.number
                            ));
                        }
                    }
                }
            }
        }
    }
    for n in next.dmops.iter().filter(|n| prev.dmop(n.number).is_none()) {
        if n.number <= prev_max {
            errs.push(format!(
                "new dmop {} ({}) takes number {} but numbers up to {} were already given out; take {}",
                n.name,
                n.number,
                n.number,
                prev_max,
                prev_max + 1
            ));
        }
        if n.status != Status::Active {
            errs.push(format!(
                "new dmop {} is retired before it was ever frozen",
                n.number
            ));
        }
    }
    for arch in Arch::ALL {
        let (pv, nv) = (prev.view(arch), next.view(arch));
        for s in &pv.structs {
            match nv.struct_view(&s.name) {
                None => errs.push(format!(
                    "{arch}: struct {} disappeared from the manifest",
                    s.name
                )),
                Some(n) if !n.layout_eq(s) || n.header != s.header => {
                    let ops = ops_using(prev, &s.name);
                    let fields: Vec<String> = s
                        .fields
                        .iter()
                        .filter(|f| !n.fields.contains(f))
                        .map(|f| f.name.clone())
                        .collect();
                    errs.push(format!(
                        "{arch}: frozen struct {}{} changed (size {} -> {}; fields {}): retire the op and give the new layout a new number",
                        s.name,
                        if ops.is_empty() { String::new() } else { format!(" (dmop {})", ops.join(", ")) },
                        s.size,
                        n.size,
                        if fields.is_empty() { "reordered or bits".to_string() } else { fields.join(", ") }
                    ));
                }
                Some(_) => {}
            }
        }
        for c in &pv.constants {
            match nv.constant(&c.name) {
                None => errs.push(format!("{arch}: constant {} disappeared", c.name)),
                Some(n) if n.value != c.value => errs.push(format!(
                    "{arch}: constant {} changed {:#x} -> {:#x}",
                    c.name, c.value, n.value
                )),
                Some(_) => {}
            }
        }
        for i in &pv.ioctls {
            match nv.ioctl(&i.name) {
                None => errs.push(format!("{arch}: ioctl {} disappeared", i.name)),
                Some(n) if n != i => errs.push(format!(
                    "{arch}: ioctl {} changed {:#x} -> {:#x}",
                    i.name, i.value, n.value
                )),
                Some(_) => {}
            }
        }
    }
    let changed = prev.dmops != next.dmops || prev.views != next.views;
    if changed && next.abi_version != prev.abi_version + 1 {
        errs.push(format!(
            "the frozen set changed: abi_version must go from {} to {}",
            prev.abi_version,
            prev.abi_version + 1
        ));
    }
    if !changed && next.abi_version != prev.abi_version {
        errs.push("nothing changed: abi_version must stay".to_string());
    }
    errs
}

/// Merges the manifest the code describes into the previous one: retired
/// ops keep their frozen payload layout even when the code no longer has
/// the struct.
pub fn carry_retired_layouts(prev: &Manifest, next: &mut Manifest) {
    for arch in Arch::ALL {
        let pv = prev.view(arch).clone();
        let nv = next.views.get_mut(&arch).expect("all arches");
        for s in pv.structs {
            if nv.struct_view(&s.name).is_none() {
                nv.structs.push(s);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The compile-time checks

/// Generates `src/abi/frozen.rs`: `const` assertions of every frozen size,
/// offset, bit field, constant, ioctl and DMOP number, each under the
/// `cfg(target_arch)` it holds for, so that any build of the ABI source (the
/// kernel module's included) fails when it drifts from the manifest.
pub fn frozen_rs(m: &Manifest) -> String {
    let mut o = String::new();
    o.push_str(
        "// SPDX-License-Identifier: MIT\n\
         // @generated by `cargo xtask abi-freeze` from abi/dmop-abi/abi/frozen.toml.\n\
         // Do not edit: change the ABI through the freeze (docs/abi-policy.md).\n\
         //! Compile-time checks of the frozen manifest, on every target.\n\
         //!\n\
         //! Each assertion names the item and the value it was frozen with; a\n\
         //! build that changes a frozen layout stops here. The freeze tool alone\n\
         //! builds with `--cfg dmop_abi_unfrozen`, to read the code as it is.\n\n",
    );
    let _ = writeln!(
        o,
        "/// ABI version of the frozen manifest these checks come from."
    );
    let _ = writeln!(
        o,
        "pub(crate) const ABI_VERSION: u32 = {};\n",
        m.abi_version
    );
    o.push_str("#[cfg(not(dmop_abi_unfrozen))]\n#[rustfmt::skip]\n#[allow(unused_imports)]\nmod checks {\n");
    o.push_str("    use super::super::registry::{constant, ioctl, struct_layout};\n");
    o.push_str("    use super::super::dmop::{dmop, is_retired, DmopCode};\n");
    o.push_str("    use super::super::layout::str_eq;\n\n");
    // Items identical on all four targets need no cfg; the others get one
    // block per architecture.
    let base = m.view(Arch::X86_64);
    let cfg = |a: Arch| format!("#[cfg(target_arch = \"{}\")]", a.target_arch());
    for (idx, s) in base.structs.iter().enumerate() {
        let same = Arch::ALL
            .iter()
            .all(|a| m.view(*a).structs[idx].layout_eq(s));
        if same {
            write_struct_check(&mut o, None, s);
        } else {
            for a in Arch::ALL {
                write_struct_check(&mut o, Some(cfg(a)), &m.view(a).structs[idx]);
            }
        }
    }
    o.push('\n');
    for (idx, c) in base.constants.iter().enumerate() {
        let same = Arch::ALL
            .iter()
            .all(|a| m.view(*a).constants[idx].value == c.value);
        let arches: Vec<Arch> = if same {
            vec![Arch::X86_64]
        } else {
            Arch::ALL.to_vec()
        };
        for a in arches {
            let v = m.view(a).constants[idx].value;
            let attr = if same {
                String::new()
            } else {
                format!("{} ", cfg(a))
            };
            let _ = writeln!(
                o,
                "    {attr}const _: () = match constant({name:?}) {{ Some(c) => assert!(c.value == {v:#x}, {msg:?}), None => panic!({gone:?}) }};",
                name = c.name,
                msg = format!("frozen ABI: constant {} changed; frozen at {v:#x}", c.name),
                gone = format!("frozen ABI: constant {} is gone", c.name),
            );
        }
    }
    o.push('\n');
    for (idx, i) in base.ioctls.iter().enumerate() {
        let same = Arch::ALL.iter().all(|a| m.view(*a).ioctls[idx] == *i);
        let arches: Vec<Arch> = if same {
            vec![Arch::X86_64]
        } else {
            Arch::ALL.to_vec()
        };
        for a in arches {
            let v = &m.view(a).ioctls[idx];
            let attr = if same {
                String::new()
            } else {
                format!("{} ", cfg(a))
            };
            let _ = writeln!(
                o,
                "    {attr}const _: () = match ioctl({name:?}) {{ Some(c) => assert!(c.value == {v:#010x} && c.size == {s}, {msg:?}), None => panic!({gone:?}) }};",
                name = i.name,
                v = v.value,
                s = v.size,
                msg = format!("frozen ABI: ioctl {} changed; frozen at {:#010x}", i.name, v.value),
                gone = format!("frozen ABI: ioctl {} is gone", i.name),
            );
        }
    }
    o.push('\n');
    for d in &m.dmops {
        match d.status {
            Status::Active => {
                let _ = writeln!(
                    o,
                    "    const _: () = match dmop(DmopCode({n})) {{ Some(d) => assert!(str_eq(d.name, {name:?}) && str_eq(d.payload.name, {p:?}), {msg:?}), None => panic!({gone:?}) }};",
                    n = d.number,
                    name = d.name,
                    p = d.payload,
                    msg = format!("frozen ABI: DMOP {} must stay {} with struct {}", d.number, d.name, d.payload),
                    gone = format!("frozen ABI: DMOP {} ({}) is gone; retire it instead", d.number, d.name),
                );
            }
            Status::Retired => {
                let _ = writeln!(
                    o,
                    "    const _: () = assert!(dmop(DmopCode({n})).is_none() && is_retired(DmopCode({n})), {msg:?});",
                    n = d.number,
                    msg = format!("frozen ABI: DMOP number {} ({}) is retired and must never be reused", d.number, d.name),
                );
            }
        }
    }
    o.push_str("}\n");
    o
}

fn write_struct_check(o: &mut String, cfg: Option<String>, s: &StructView) {
    let attr = cfg.map(|c| format!("{c}\n    ")).unwrap_or_default();
    let _ = writeln!(o, "    {attr}const _: () = {{");
    let _ = writeln!(
        o,
        "        let s = match struct_layout({n:?}) {{ Some(s) => s, None => panic!({gone:?}) }};",
        n = s.name,
        gone = format!("frozen ABI: struct {} is gone", s.name)
    );
    let _ = writeln!(
        o,
        "        assert!(s.size == {} && s.align == {}, {:?});",
        s.size,
        s.align,
        format!(
            "frozen ABI: sizeof/alignof(struct {}) changed; frozen at {}/{}",
            s.name, s.size, s.align
        )
    );
    let _ = writeln!(
        o,
        "        assert!(s.fields.len() == {}, {:?});",
        s.fields.len(),
        format!("frozen ABI: struct {} gained or lost fields", s.name)
    );
    for f in &s.fields {
        let _ = writeln!(
            o,
            "        match s.field({n:?}) {{ Some(f) => assert!(f.offset == {off} && f.size == {sz}, {msg:?}), None => panic!({gone:?}) }}",
            n = f.name,
            off = f.offset,
            sz = f.size,
            msg = format!("frozen ABI: {}.{} moved or resized; frozen at offset {} size {}", s.name, f.name, f.offset, f.size),
            gone = format!("frozen ABI: field {}.{} is gone", s.name, f.name),
        );
    }
    for b in &s.bits {
        let _ = writeln!(
            o,
            "        match s.bit({n:?}) {{ Some(b) => assert!(b.bit_offset == {off} && b.width == {w}, {msg:?}), None => panic!({gone:?}) }}",
            n = b.name,
            off = b.bit_offset,
            w = b.width,
            msg = format!("frozen ABI: bit field {}.{} moved; frozen at bit {} width {}", s.name, b.name, b.bit_offset, b.width),
            gone = format!("frozen ABI: bit field {}.{} is gone", s.name, b.name),
        );
    }
    let _ = writeln!(o, "    }};");
}
