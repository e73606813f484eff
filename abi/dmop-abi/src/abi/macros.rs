// SPDX-License-Identifier: MIT
//! Macros that define an ABI item and its layout description in one place.
//!
//! Every struct, C enum and constant of the frozen ABI is declared through one
//! of these macros, so that the description the freeze machinery reads (the
//! `LAYOUT` of a struct, the `C_CONSTANTS` of an enum) is produced by the
//! compiler from the very definition it describes. Nothing here needs a crate
//! beyond `core`; the zerocopy derives are attached only when the crate is
//! built with its `zerocopy` feature (never in the kernel).

/// The C name recorded for a field: its own name, or the one given after `=`.
macro_rules! abi_field_c_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, implicit) => {
        stringify!($field)
    };
    ($field:ident, $c:literal) => {
        $c
    };
}

/// Whether a field exists in the C header (`= implicit` marks C's unnamed padding).
macro_rules! abi_field_in_c {
    () => {
        true
    };
    (implicit) => {
        false
    };
    ($c:literal) => {
        true
    };
}

/// Defines a `#[repr(C)]` ABI struct, its `LAYOUT` and its all-zero value.
///
/// Fields are written `pub name: Type`, optionally followed by `= "c_name"`
/// when the C name is not a Rust identifier, or by `= implicit` for padding
/// that the C compiler inserts without a name. An optional `bits { ... }`
/// block describes C bit fields held in a storage field and generates their
/// accessors.
macro_rules! abi_struct {
    // `uint64_aligned`: the struct has `uint64_aligned_t` members, which
    // Xen's tools builds align to 8 bytes even on 32-bit x86 (where plain
    // `uint64_t` is 4-aligned). The members already sit at multiples of 8,
    // so raising the struct's alignment there reproduces C exactly.
    (
        #[c(name = $cname:literal, header = $header:literal, uint64_aligned)]
        $($rest:tt)*
    ) => {
        abi_struct! {
            #[c(name = $cname, header = $header)]
            #[cfg_attr(target_arch = "x86", repr(align(8)))]
            $($rest)*
        }
    };
    (
        #[c(name = $cname:literal, header = $header:literal)]
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty $(= $cfield:tt)?
            ),* $(,)?
        }
        $(
            bits {
                $(
                    $(#[$bmeta:meta])*
                    $bcname:literal => $get:ident / $set:ident : $bty:ty = $storage:ident [ $lo:literal .. $hi:literal ]
                ),* $(,)?
            }
        )?
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[cfg_attr(
            feature = "zerocopy",
            derive(
                zerocopy::FromBytes,
                zerocopy::IntoBytes,
                zerocopy::KnownLayout,
                zerocopy::Immutable
            )
        )]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The layout the compiler gave this struct, with the C names of its fields.
            pub const LAYOUT: StructLayout = StructLayout {
                name: $cname,
                header: $header,
                size: core::mem::size_of::<$name>(),
                align: core::mem::align_of::<$name>(),
                fields: &[
                    $(
                        FieldLayout {
                            name: abi_field_c_name!($field $(, $cfield)?),
                            offset: core::mem::offset_of!($name, $field),
                            size: core::mem::size_of::<$ty>(),
                            in_c: abi_field_in_c!($($cfield)?),
                        },
                    )*
                ],
                bits: &[
                    $($(
                        BitLayout {
                            name: $bcname,
                            bit_offset: core::mem::offset_of!($name, $storage) * 8 + $lo,
                            width: $hi - $lo,
                        },
                    )*)?
                ],
            };

            /// The all-zero value: every id, flag and padding byte zero.
            pub const ZEROED: Self = Self {
                $( $field: <$ty as AbiZero>::ZERO, )*
            };

            $($(
                $(#[$bmeta])*
                #[inline]
                pub fn $get(&self) -> $bty {
                    bitfield_get(&self.$storage, $lo, $hi - $lo) as $bty
                }

                #[doc = concat!("Sets the `", $bcname, "` bit field; bits of `v` beyond its width are dropped.")]
                #[inline]
                pub fn $set(&mut self, v: $bty) {
                    bitfield_set(&mut self.$storage, $lo, $hi - $lo, v as u32)
                }
            )*)?
        }

        impl AbiZero for $name {
            const ZERO: Self = Self::ZEROED;
        }

        impl Default for $name {
            fn default() -> Self {
                Self::ZEROED
            }
        }

        const _: () = $name::LAYOUT.assert_well_formed();
    };
}

/// Defines an open C enum (or flag set) as a transparent newtype with its
/// named values, and records each value with its C macro name.
macro_rules! c_enum {
    (
        #[c(header = $header:literal)]
        $(#[$meta:meta])*
        pub struct $name:ident($repr:ty) {
            $(
                $(#[$vmeta:meta])*
                $vname:ident = $value:expr => $cname:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(
            feature = "zerocopy",
            derive(
                zerocopy::FromBytes,
                zerocopy::IntoBytes,
                zerocopy::KnownLayout,
                zerocopy::Immutable
            )
        )]
        pub struct $name(pub $repr);

        impl $name {
            $(
                $(#[$vmeta])*
                pub const $vname: Self = Self($value);
            )*

            /// Every named value with the C macro that defines it.
            pub const C_CONSTANTS: &'static [ConstDesc] = &[
                $( ConstDesc { name: $cname, header: $header, value: $value as u64 }, )*
            ];

            /// The Rust name of a named value, if this is one.
            pub const fn name(self) -> Option<&'static str> {
                $( if self.0 == $value { return Some(stringify!($vname)); } )*
                None
            }
        }

        impl AbiZero for $name {
            const ZERO: Self = Self(0);
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v.0
            }
        }
    };
}

/// Defines plain constants and records each with the C expression that
/// computes the same value, under one table name.
macro_rules! c_consts {
    (
        $table:ident in $header:literal {
            $(
                $(#[$meta:meta])*
                pub const $name:ident : $ty:ty = $value:expr => $cname:literal;
            )*
        }
    ) => {
        $(
            $(#[$meta])*
            pub const $name: $ty = $value;
        )*

        #[doc = concat!("The constants of `", $header, "` defined in this module, with their C expressions.")]
        pub const $table: &[ConstDesc] = &[
            $( ConstDesc { name: $cname, header: $header, value: $name as u64 }, )*
        ];
    };
}
