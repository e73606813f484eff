// SPDX-License-Identifier: MIT
//! Layout descriptions the compiler fills in for every ABI item.
//!
//! These are plain `const` data: the freeze machinery compares them with the
//! frozen manifest, the cross-architecture check reads them out of objects
//! built for other targets, and the header checker compares the manifest
//! with C headers. None of them is ever typed by hand.

/// One field of an ABI struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    /// Field name as in the C header (or the name of padding C leaves unnamed).
    pub name: &'static str,
    /// Byte offset from the start of the struct.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// False for padding that C inserts implicitly and that Rust names.
    pub in_c: bool,
}

/// One C bit field, placed by its absolute bit offset in the struct.
///
/// Bit `n` is bit `n % 8` (least significant first) of byte `n / 8`: the
/// allocation every little-endian target of Xen uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitLayout {
    /// Bit-field name as in the C header.
    pub name: &'static str,
    /// Offset of its lowest bit from the start of the struct, in bits.
    pub bit_offset: usize,
    /// Width in bits.
    pub width: usize,
}

/// The layout of one ABI struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructLayout {
    /// Struct name as in the C header (`struct` tag, without `struct`).
    pub name: &'static str,
    /// Header that defines it, relative to an include directory.
    pub header: &'static str,
    /// `sizeof`.
    pub size: usize,
    /// `alignof`.
    pub align: usize,
    /// Every field, in declaration order, padding included.
    pub fields: &'static [FieldLayout],
    /// C bit fields, held in storage fields listed in `fields`.
    pub bits: &'static [BitLayout],
}

impl StructLayout {
    /// Fails compilation unless the fields tile the struct exactly: each
    /// field starts where the previous one ended and the last one ends at
    /// `size`. This is what "every padding byte is a named field" means, and
    /// it holds on every target the source is compiled for.
    pub const fn assert_well_formed(&self) {
        let mut end = 0;
        let mut i = 0;
        while i < self.fields.len() {
            let f = &self.fields[i];
            assert!(
                f.offset == end,
                "dmop-abi: implicit padding before a field of an ABI struct"
            );
            end = f.offset + f.size;
            i += 1;
        }
        assert!(
            end == self.size,
            "dmop-abi: implicit tail padding in an ABI struct"
        );
        let mut b = 0;
        while b < self.bits.len() {
            let bit = &self.bits[b];
            assert!(
                bit.width > 0 && bit.width <= 32,
                "dmop-abi: bad bit-field width"
            );
            assert!(
                bit.bit_offset + bit.width <= self.size * 8,
                "dmop-abi: bit field outside its struct"
            );
            b += 1;
        }
    }

    /// The field with this C name.
    pub const fn field(&self, name: &str) -> Option<&'static FieldLayout> {
        let mut i = 0;
        while i < self.fields.len() {
            if str_eq(self.fields[i].name, name) {
                return Some(&self.fields[i]);
            }
            i += 1;
        }
        None
    }

    /// The bit field with this C name.
    pub const fn bit(&self, name: &str) -> Option<&'static BitLayout> {
        let mut i = 0;
        while i < self.bits.len() {
            if str_eq(self.bits[i].name, name) {
                return Some(&self.bits[i]);
            }
            i += 1;
        }
        None
    }
}

/// A named constant with the C expression that yields the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConstDesc {
    /// A C constant expression: a macro name, `sizeof(type)` or a macro call.
    pub name: &'static str,
    /// Header that defines it.
    pub header: &'static str,
    /// Its value, widened to 64 bits.
    pub value: u64,
}

/// `str` equality usable in `const` contexts.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Types with an all-zero value, usable in `const` contexts.
///
/// Implemented for the integers, arrays of them and every ABI type, so that
/// each ABI struct has a `ZEROED` constant without `unsafe`.
pub trait AbiZero: Copy {
    /// The all-zero value.
    const ZERO: Self;
}

macro_rules! abi_zero_int {
    ($($t:ty),*) => { $( impl AbiZero for $t { const ZERO: Self = 0; } )* };
}
abi_zero_int!(u8, u16, u32, u64, i32, i64, usize);

impl<T: AbiZero, const N: usize> AbiZero for [T; N] {
    const ZERO: Self = [T::ZERO; N];
}

/// Storage that holds C bit fields: one byte, or up to four bytes read as a
/// little-endian word.
pub trait BitStorage {
    /// The storage as a little-endian word.
    fn load(&self) -> u32;
    /// Replaces the storage with the low bytes of `v`.
    fn store(&mut self, v: u32);
}

impl BitStorage for u8 {
    #[inline]
    fn load(&self) -> u32 {
        u32::from(*self)
    }
    #[inline]
    fn store(&mut self, v: u32) {
        *self = v as u8;
    }
}

impl<const N: usize> BitStorage for [u8; N] {
    #[inline]
    fn load(&self) -> u32 {
        let mut w = [0u8; 4];
        w[..N].copy_from_slice(self);
        u32::from_le_bytes(w)
    }
    #[inline]
    fn store(&mut self, v: u32) {
        self.copy_from_slice(&v.to_le_bytes()[..N]);
    }
}

const fn mask(width: usize) -> u32 {
    if width >= 32 {
        u32::MAX
    } else {
        (1u32 << width) - 1
    }
}

/// Reads `width` bits at `shift` of a bit-field storage.
#[inline]
pub fn bitfield_get<S: BitStorage>(storage: &S, shift: usize, width: usize) -> u32 {
    (storage.load() >> shift) & mask(width)
}

/// Writes the low `width` bits of `v` at `shift` of a bit-field storage.
#[inline]
pub fn bitfield_set<S: BitStorage>(storage: &mut S, shift: usize, width: usize, v: u32) {
    let m = mask(width) << shift;
    storage.store((storage.load() & !m) | ((v << shift) & m));
}

/// The architectures a DMOP is handled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arches(pub u8);

impl Arches {
    /// x86 (32- and 64-bit): `xen/arch/x86/hvm/dm.c`.
    pub const X86: Self = Self(1);
    /// Arm (32- and 64-bit): `xen/arch/arm/dm.c`.
    pub const ARM: Self = Self(2);
    /// Every architecture (the ioreq-server ops of `xen/common/ioreq.c`).
    pub const ALL: Self = Self(3);

    /// Whether `other` is included.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}
