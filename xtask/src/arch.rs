// SPDX-License-Identifier: MIT
//! The machine architectures the bed boots: x86_64 (the host's own) and
//! arm64 (cross-built, booted under `qemu-system-aarch64`).

use crate::ctx::Result;

/// An architecture of the bed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86_64: Xen's PV dom0 under `qemu-system-x86_64` (q35, emulated SVM).
    X86_64,
    /// arm64: an auto-translated dom0 under `qemu-system-aarch64` (`virt`,
    /// EL2, GICv3), booted from a device tree.
    Arm64,
}

impl Arch {
    /// Every architecture, the host's first.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];

    /// `x86_64`, `arm64`: what `--arch` takes and steps print.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Parses `--arch`'s argument.
    pub fn parse(s: &str) -> Result<Arch> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                crate::ctx::Error(format!(
                    "--arch {s}: unknown architecture (one of: {})",
                    Arch::ALL.map(|a| a.name()).join(", ")
                ))
            })
    }

    /// True for the machine's own architecture: nothing is cross-built.
    pub fn is_host(self) -> bool {
        self == Arch::X86_64
    }

    /// Debian's name (`amd64`, `arm64`): packages and `[arch=]`.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The multiarch tuple: library directories, cross tools' prefix.
    pub fn tuple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Arm64 => "aarch64-linux-gnu",
        }
    }

    /// Rust's target for dom0's programs.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The dynamic loader's file name.
    pub fn loader(self) -> &'static str {
        match self {
            Arch::X86_64 => "ld-linux-x86-64.so.2",
            Arch::Arm64 => "ld-linux-aarch64.so.1",
        }
    }

    /// The ELF interpreter path programs name, and the relative target
    /// that links it to the multiarch copy.
    pub fn loader_link(self) -> (String, String) {
        let (l, t) = (self.loader(), self.tuple());
        match self {
            Arch::X86_64 => (format!("/usr/lib64/{l}"), format!("../lib/{t}/{l}")),
            Arch::Arm64 => (format!("/usr/lib/{l}"), format!("{t}/{l}")),
        }
    }

    /// Linux's `ARCH=`.
    pub fn kernel_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86",
            Arch::Arm64 => "arm64",
        }
    }

    /// The kernel image `make` builds, relative to the build tree.
    pub fn kernel_image(self) -> &'static str {
        match self {
            Arch::X86_64 => "arch/x86/boot/bzImage",
            Arch::Arm64 => "arch/arm64/boot/Image",
        }
    }

    /// The QEMU system emulator and the Debian package that has it.
    pub fn qemu(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
            Arch::Arm64 => ("qemu-system-aarch64", "qemu-system-arm"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_the_names_it_prints_and_refuses_others() {
        for a in Arch::ALL {
            assert_eq!(Arch::parse(a.name()).unwrap(), a);
        }
        let e = Arch::parse("aarch64").unwrap_err().0;
        assert!(e.contains("x86_64, arm64"), "{e}");
    }
}
