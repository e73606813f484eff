// SPDX-License-Identifier: MIT
//! Fuzz target: register sequences on the virtio-mmio transport.
fn main() {
    afl::fuzz!(|data: &[u8]| xdm_fuzz::mmio_transport(data));
}
