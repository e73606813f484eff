// SPDX-License-Identifier: MIT
//! `xen-thin-dm`: serves one HVM guest's devices, deprivileged. See
//! `xen-thin-dm --help` and docs/device-model.md.

fn main() -> std::process::ExitCode {
    xen_thin_dm::app::main_with(|_| Vec::new())
}
