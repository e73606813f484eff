// SPDX-License-Identifier: MIT
//! Fuzz target: virtio-blk requests in guest RAM the input fills.
fn main() {
    afl::fuzz!(|data: &[u8]| xdm_fuzz::blk_requests(data));
}
