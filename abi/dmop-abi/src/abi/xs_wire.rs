// SPDX-License-Identifier: MIT
//! The xenstore wire protocol (`xen/io/xs_wire.h`): a 16-byte header and a
//! payload of NUL-separated strings, over xenstored's socket or a ring.
//!
//! Message type 20 was `XS_RESTRICT` and has been removed: the number stays
//! retired, as DMOP numbers do (`docs/abi-policy.md`).

use super::layout::{AbiZero, ConstDesc, FieldLayout, StructLayout};

c_enum! {
    #[c(header = "xen/io/xs_wire.h")]
    /// A message type (`enum xsd_sockmsg_type`).
    pub struct XsMsgType(u32) {
        /// Debugging and control commands (also `XS_DEBUG`).
        CONTROL = 0 => "XS_CONTROL",
        /// Lists a node's children.
        DIRECTORY = 1 => "XS_DIRECTORY",
        /// Reads a node.
        READ = 2 => "XS_READ",
        /// Reads a node's permissions.
        GET_PERMS = 3 => "XS_GET_PERMS",
        /// Sets a watch.
        WATCH = 4 => "XS_WATCH",
        /// Removes a watch.
        UNWATCH = 5 => "XS_UNWATCH",
        /// Starts a transaction.
        TRANSACTION_START = 6 => "XS_TRANSACTION_START",
        /// Ends a transaction.
        TRANSACTION_END = 7 => "XS_TRANSACTION_END",
        /// Introduces a domain (toolstack).
        INTRODUCE = 8 => "XS_INTRODUCE",
        /// Releases a domain (toolstack).
        RELEASE = 9 => "XS_RELEASE",
        /// A domain's home path.
        GET_DOMAIN_PATH = 10 => "XS_GET_DOMAIN_PATH",
        /// Writes a node.
        WRITE = 11 => "XS_WRITE",
        /// Creates a node.
        MKDIR = 12 => "XS_MKDIR",
        /// Removes a node.
        RM = 13 => "XS_RM",
        /// Sets a node's permissions.
        SET_PERMS = 14 => "XS_SET_PERMS",
        /// A watch fired (from xenstored).
        WATCH_EVENT = 15 => "XS_WATCH_EVENT",
        /// An error answer: the payload is the errno's name.
        ERROR = 16 => "XS_ERROR",
        /// Whether a domain is introduced.
        IS_DOMAIN_INTRODUCED = 17 => "XS_IS_DOMAIN_INTRODUCED",
        /// Resumes a domain.
        RESUME = 18 => "XS_RESUME",
        /// Sets a domain's target (stub domains).
        SET_TARGET = 19 => "XS_SET_TARGET",
        /// Removes all of a connection's watches.
        RESET_WATCHES = 21 => "XS_RESET_WATCHES",
        /// Lists a node's children, one part at a time.
        DIRECTORY_PART = 22 => "XS_DIRECTORY_PART",
        /// Guaranteed never to be a valid type.
        INVALID = 0xffff => "XS_INVALID",
    }
}

c_consts! {
    XS_WIRE_CONSTANTS in "xen/io/xs_wire.h" {
        /// Number of message types upstream defines (one past the highest).
        pub const XS_TYPE_COUNT: u32 = 23 => "XS_TYPE_COUNT";
        /// Largest payload of one message.
        pub const XENSTORE_PAYLOAD_MAX: usize = 4096 => "XENSTORE_PAYLOAD_MAX";
        /// Longest absolute path.
        pub const XENSTORE_ABS_PATH_MAX: usize = 3072 => "XENSTORE_ABS_PATH_MAX";
        /// Longest relative path.
        pub const XENSTORE_REL_PATH_MAX: usize = 2048 => "XENSTORE_REL_PATH_MAX";
    }
}

/// The removed `XS_RESTRICT`: its number must never be given out again.
pub const XS_RESTRICT_RETIRED: u32 = 20;

c_consts! {
    XS_PROJECT_CONSTANTS in "dmop-abi" {
        /// `XS_ONE_TIME_RESTRICT`, the message type `xen-patches/` adds to
        /// xenstored (not upstream's): a privileged connection sends one
        /// request with a domain's permissions. Payload:
        /// `<domid>\0<type>\0<payload of the real request>`, both numbers
        /// decimal; the header's transaction and request ids are the real
        /// request's. A new number: 20, the removed `XS_RESTRICT`, stays
        /// unused. The patched `xs_wire.h` has it as the last type, so its
        /// `XS_TYPE_COUNT` is one more than upstream's.
        pub const XS_ONE_TIME_RESTRICT: u32 = 23 => "XS_ONE_TIME_RESTRICT";
    }
}

impl XsMsgType {
    /// [`XS_ONE_TIME_RESTRICT`] as a message type.
    pub const ONE_TIME_RESTRICT: XsMsgType = XsMsgType(XS_ONE_TIME_RESTRICT);
}

const _: () = assert!(
    XS_ONE_TIME_RESTRICT == XS_TYPE_COUNT,
    "one-time-restrict takes the next upstream number"
);
const _: () = assert!(XS_ONE_TIME_RESTRICT != XS_RESTRICT_RETIRED);

abi_struct! {
    #[c(name = "xsd_sockmsg", header = "xen/io/xs_wire.h")]
    /// `struct xsd_sockmsg`: the header of every message.
    pub struct XsdSockmsg {
        /// [`XsMsgType`].
        pub r#type: XsMsgType = "type",
        /// Request id, echoed in the answer.
        pub req_id: u32,
        /// Transaction id (0: none).
        pub tx_id: u32,
        /// Length of the payload that follows.
        pub len: u32,
    }
}

const _: () = assert!(XsMsgType::SET_TARGET.0 + 1 == XS_RESTRICT_RETIRED);
