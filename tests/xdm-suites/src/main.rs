// SPDX-License-Identifier: MIT
//! `xdm-suite`: the test suites that run inside the test bed's dom0 (the
//! `xdm_suites` library).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(xdm_suites::run(&args));
}
