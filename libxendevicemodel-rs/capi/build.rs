// SPDX-License-Identifier: MIT
//! Links the cdylib as `libxendevicemodel.so.1` with Xen's symbol versions,
//! against the same libraries Debian's links against.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    println!("cargo:rerun-if-changed=libxendevicemodel.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxendevicemodel.so.1");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libxendevicemodel.map");
    for lib in ["xentoollog", "xentoolcore", "xencall"] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
}
