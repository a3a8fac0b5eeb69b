//! The DES block cipher (FIPS 46-3), table-driven, for the `cbc` crate.
//!
//! Why not RustCrypto's `des` crate for the data path: the chat server seals every message once
//! per recipient, and `perf` showed `des`'s round function at 63 % of the server's CPU time
//! (docs/BENCHMARKS.md). That crate computes IP, FP, E and P with masked shifts, delta swaps and
//! multiplications (no tables), then looks up the eight S-boxes one 6-bit group at a time and
//! permutes their 32-bit output with P in every round. This implementation does what OpenSSL,
//! Go's `crypto/des` and most DES code since the 1980s do: the S-boxes and P are merged into eight
//! 64-entry tables of 32-bit words ("SP-boxes"), so a round is eight lookups and XORs; E is read
//! straight off a rotated copy of the right half; IP and FP are 16 nibble lookups each. And
//! [`DesKey`] caches the expanded key schedule, which the old path rebuilt for every message. The
//! SP tables and the cached schedule are the real difference: about 2.5x faster on this machine,
//! the same speed class as OpenSSL's DES-CBC.
//!
//! Decryption goes four blocks at a time ([`DEC_LANES`]): in CBC mode each plaintext block is
//! D(Cᵢ) xor Cᵢ₋₁, so the blocks of a message are independent and their rounds interleave, which
//! keeps the CPU busy while one block's table lookups wait. Measured with `cargo bench -p common
//! --bench crypto -- des_cbc`: 16 KiB decrypt 89 → 209 MiB/s, encryption unchanged at 80 MiB/s
//! (CBC encryption is one chain: every block needs the previous ciphertext). A relayed file
//! chunk is decrypted twice (server, recipient) and encrypted twice, so this is what brought a
//! file transfer above 0.4x one core's DES-CBC + HMAC rate (docs/BENCHMARKS.md).
//!
//! Correctness is not taken on trust: the unit tests (`des_cipher/oracle.rs`) compare every output
//! with the `des` crate for thousands of keys and blocks from a seeded generator, the full NIST
//! SP 800-17 known-answer tables (`des_cipher/sp800_17.rs`) and the FIPS 81 example run through
//! this code, and `common/tests/des_cipher.rs` compares the whole CBC layer with
//! `cbc::Encryptor<des::Des>`. The `des` crate stays a dependency for its weak-key test and as
//! that oracle. The module is crate-private: nothing outside uses DES but through [`DesKey`]
//! and `crypto::cbc`.
//!
//! [`DesKey`]: crate::crypto::DesKey
//!
//! Side channels: this code reads more secret-indexed memory than the `des` crate. There the
//! only data-dependent lookups are the eight 64-byte S-boxes (index: key ^ data). Here they are
//! the eight SP tables, 256 bytes each (four cache lines; 2 KiB together), indexed by key ^ data
//! in every round, and the IP and FP tables, 2 KiB each, indexed by nibbles of the block itself
//! (the plaintext entering encryption, the plaintext leaving decryption). A process sharing the
//! CPU cache could in principle learn key bits and plaintext nibbles from cache timing; docs/
//! SECURITY.md §3.7 says why that is accepted (such a process can usually read the server's
//! memory or key folder anyway; remote timing is not practical), and DES has a far bigger
//! problem, its 56-bit key.
//!
//! Bit numbering follows FIPS 46-3: bit 1 is the most significant bit of the first byte, and a
//! block is handled as a big-endian `u64`.

use std::fmt;

use cbc::cipher::{
    AlgorithmName, Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt,
    BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, Key,
    KeyInit, KeySizeUser, ParBlocks, ParBlocksSizeUser,
    consts::{U1, U4, U8},
};
use zeroize::Zeroize;

// ---- FIPS 46-3 tables (1-based bit numbers, most significant bit first) ----

const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, //
    62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8, //
    57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, //
    61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];

const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, //
    38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29, //
    36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, //
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];

/// The expansion E. Not used at run time (see [`expand_group`]); a unit test checks that the
/// rotation trick computes exactly this table.
#[cfg(test)]
const E: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, //
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];

const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, //
    2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];

const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, //
    10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36, //
    63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, //
    14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];

const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, //
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// S-boxes in the standard layout: row (0..4) chosen by the outer bits, column by the middle four.
#[rustfmt::skip]
const S: [[[u8; 16]; 4]; 8] = [
    [[14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7],
     [0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8],
     [4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0],
     [15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13]],
    [[15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10],
     [3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5],
     [0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15],
     [13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9]],
    [[10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8],
     [13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1],
     [13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7],
     [1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12]],
    [[7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15],
     [13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9],
     [10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4],
     [3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14]],
    [[2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9],
     [14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6],
     [4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14],
     [11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3]],
    [[12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11],
     [10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8],
     [9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6],
     [4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13]],
    [[4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1],
     [13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6],
     [1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2],
     [6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12]],
    [[13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7],
     [1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2],
     [7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8],
     [2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11]],
];

// ---- tables derived from the above at compile time ----

/// Apply a FIPS permutation table: output bit `j` (1-based, MSB first, `table.len()` bits wide)
/// is input bit `table[j]` (1-based, MSB first, `in_bits` wide).
const fn permute(input: u64, in_bits: u32, table: &[u8]) -> u64 {
    let mut out = 0u64;
    let mut j = 0;
    while j < table.len() {
        let bit = (input >> (in_bits - table[j] as u32)) & 1;
        out = (out << 1) | bit;
        j += 1;
    }
    out
}

/// A 64-bit permutation as 16 nibble tables: `t[p][v]` is the permutation of nibble value `v`
/// at nibble position `p` (0 = most significant); the permutation of a block is the OR over its
/// 16 nibbles. 16 lookups in 2 KiB instead of 64 bit moves.
const fn nibble_tables(table: &[u8; 64]) -> [[u64; 16]; 16] {
    let mut t = [[0u64; 16]; 16];
    let mut p = 0;
    while p < 16 {
        let mut v = 0;
        while v < 16 {
            t[p][v] = permute((v as u64) << (60 - 4 * p), 64, table);
            v += 1;
        }
        p += 1;
    }
    t
}

/// `SP[i][x]`: S-box `i+1` applied to the 6-bit input `x` (bits b1..b6, b1 most significant),
/// its 4-bit output placed at bits `4i+1..4i+4` of a 32-bit word, then P applied.
const fn sp_tables() -> [[u32; 64]; 8] {
    let mut t = [[0u32; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut x = 0;
        while x < 64 {
            let row = ((x >> 4) & 2) | (x & 1);
            let col = (x >> 1) & 0xf;
            let s = S[i][row][col] as u64;
            t[i][x] = permute(s << (28 - 4 * i), 32, &P) as u32;
            x += 1;
        }
        i += 1;
    }
    t
}

static IP_T: [[u64; 16]; 16] = nibble_tables(&IP);
static FP_T: [[u64; 16]; 16] = nibble_tables(&FP);
static SP: [[u32; 64]; 8] = sp_tables();

#[inline(always)]
fn permute64(t: &[[u64; 16]; 16], x: u64) -> u64 {
    let mut out = 0;
    for (p, row) in t.iter().enumerate() {
        out |= row[((x >> (60 - 4 * p)) & 0xf) as usize];
    }
    out
}

/// Bits `4i..4i+5` of the right half (1-based, bit 0 meaning bit 32 and bit 33 meaning bit 1):
/// the `i`-th 6-bit group of E(R). Rotating R left by `4i - 1` brings bit `4i` to the top.
/// (Reference form, used by the tests; [`feistel`] gets four groups out of each rotation.)
#[cfg(test)]
fn expand_group(r: u32, i: u32) -> u32 {
    r.rotate_left((4 * i + 31) % 32) >> 26
}

/// The round function f(R, K) = P(S(E(R) xor K)). The even groups of E(R) start 8 bits apart
/// (at bits 0, 8, 16, 24), and so do the odd ones (4, 12, 20, 28): one rotation of R lines up
/// four groups at bit offsets 26, 18, 10 and 2, where the round key's groups were put by
/// [`pack_round_key`], so one XOR applies four key groups.
#[inline(always)]
fn feistel(r: u32, k: [u32; 2]) -> u32 {
    let even = r.rotate_left(31) ^ k[0];
    let odd = r.rotate_left(3) ^ k[1];
    let at = |t: u32, shift: u32| ((t >> shift) & 0x3f) as usize;
    SP[0][at(even, 26)]
        ^ SP[2][at(even, 18)]
        ^ SP[4][at(even, 10)]
        ^ SP[6][at(even, 2)]
        ^ SP[1][at(odd, 26)]
        ^ SP[3][at(odd, 18)]
        ^ SP[5][at(odd, 10)]
        ^ SP[7][at(odd, 2)]
}

/// Place the eight 6-bit groups of a 48-bit round key where [`feistel`] expects them.
fn pack_round_key(k48: u64) -> [u32; 2] {
    let group = |i: u64| ((k48 >> (42 - 6 * i)) & 0x3f) as u32;
    [
        (group(0) << 26) | (group(2) << 18) | (group(4) << 10) | (group(6) << 2),
        (group(1) << 26) | (group(3) << 18) | (group(5) << 10) | (group(7) << 2),
    ]
}

/// DES with its key schedule expanded once (16 round keys, see [`pack_round_key`]). The schedule
/// is wiped when dropped.
#[derive(Clone)]
pub struct Des {
    round_keys: [[u32; 2]; 16],
}

impl Des {
    /// Expand an 8-byte key (parity bits are ignored, as FIPS 46-3 says).
    pub fn new_from_bytes(key: &[u8; 8]) -> Self {
        let cd = permute(u64::from_be_bytes(*key), 64, &PC1);
        let mask = (1u64 << 28) - 1;
        let (mut c, mut d) = ((cd >> 28) & mask, cd & mask);
        let mut round_keys = [[0u32; 2]; 16];
        for (round, shift) in SHIFTS.iter().enumerate() {
            c = ((c << shift) | (c >> (28 - shift))) & mask;
            d = ((d << shift) | (d >> (28 - shift))) & mask;
            round_keys[round] = pack_round_key(permute((c << 28) | d, 56, &PC2));
        }
        Self { round_keys }
    }

    /// Encrypt one block (big-endian u64).
    #[inline]
    pub fn encrypt_u64(&self, block: u64) -> u64 {
        crypt([block], self.round_keys.iter())[0]
    }

    /// Decrypt one block (big-endian u64): the same rounds with the round keys reversed.
    #[inline]
    pub fn decrypt_u64(&self, block: u64) -> u64 {
        crypt([block], self.round_keys.iter().rev())[0]
    }
}

/// IP, 16 Feistel rounds with `round_keys` in the order given, the final swap and FP, of `N`
/// blocks side by side (each round goes over all of them, so their lookups overlap; see
/// [`DEC_LANES`]).
#[inline(always)]
fn crypt<'a, const N: usize>(
    blocks: [u64; N],
    round_keys: impl Iterator<Item = &'a [u32; 2]>,
) -> [u64; N] {
    let mut l = [0u32; N];
    let mut r = [0u32; N];
    for i in 0..N {
        let x = permute64(&IP_T, blocks[i]);
        (l[i], r[i]) = ((x >> 32) as u32, x as u32);
    }
    for k in round_keys {
        for i in 0..N {
            (l[i], r[i]) = (r[i], l[i] ^ feistel(r[i], *k));
        }
    }
    std::array::from_fn(|i| permute64(&FP_T, (u64::from(r[i]) << 32) | u64::from(l[i])))
}

impl Drop for Des {
    fn drop(&mut self) {
        self.round_keys.zeroize();
    }
}

impl fmt::Debug for Des {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Des(..)")
    }
}

impl KeySizeUser for Des {
    type KeySize = U8;
}

impl KeyInit for Des {
    fn new(key: &Key<Self>) -> Self {
        Self::new_from_bytes(&key.0)
    }
}

impl BlockSizeUser for Des {
    type BlockSize = U8;
}

impl ParBlocksSizeUser for Des {
    type ParBlocksSize = U1;
}

impl AlgorithmName for Des {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Des")
    }
}

impl BlockCipherEncrypt for Des {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = Self::BlockSize>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for Des {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let x = self.encrypt_u64(u64::from_be_bytes(block.clone_in().0));
        block.get_out().copy_from_slice(&x.to_be_bytes());
    }
}

impl BlockCipherDecrypt for Des {
    #[inline]
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = Self::BlockSize>) {
        f.call(&DecBlocks(self))
    }
}

impl BlockCipherDecBackend for Des {
    #[inline]
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let x = self.decrypt_u64(u64::from_be_bytes(block.clone_in().0));
        block.get_out().copy_from_slice(&x.to_be_bytes());
    }
}

/// Blocks [`DecBlocks`] decrypts at once. CBC decryption needs no block's output to start the
/// next (each plaintext is D(Cᵢ) xor Cᵢ₋₁), so four blocks go through the rounds side by side:
/// a round's eight table lookups depend on the previous round of the same block only, and the
/// CPU overlaps four such chains where one leaves it waiting on memory. Encryption in CBC mode
/// is a single chain and stays one block at a time.
const DEC_LANES: usize = 4;

/// The decryption backend handed to the `cbc` crate: [`Des`] with [`DEC_LANES`] blocks at once.
struct DecBlocks<'a>(&'a Des);

impl BlockSizeUser for DecBlocks<'_> {
    type BlockSize = U8;
}

impl ParBlocksSizeUser for DecBlocks<'_> {
    type ParBlocksSize = U4;
}

impl BlockCipherDecBackend for DecBlocks<'_> {
    #[inline]
    fn decrypt_block(&self, block: InOut<'_, '_, Block<Self>>) {
        BlockCipherDecBackend::decrypt_block(self.0, block);
    }

    #[inline]
    fn decrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let input = blocks.clone_in();
        let mut x = [0u64; DEC_LANES];
        for (x, b) in x.iter_mut().zip(input.iter()) {
            *x = u64::from_be_bytes(b.0);
        }
        let out = crypt(x, self.0.round_keys.iter().rev());
        for (o, x) in blocks.get_out().iter_mut().zip(out) {
            o.copy_from_slice(&x.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_trick_is_the_expansion_e() {
        for r in [
            0u32,
            1,
            0x8000_0000,
            0xdead_beef,
            0x0123_4567,
            u32::MAX,
            0x8000_0001,
        ] {
            let e = permute(u64::from(r), 32, &E);
            for i in 0..8u32 {
                assert_eq!(
                    u64::from(expand_group(r, i)),
                    (e >> (42 - 6 * i)) & 0x3f,
                    "r={r:#x} group {i}"
                );
            }
        }
    }

    #[test]
    fn fp_inverts_ip() {
        for x in [
            0u64,
            1,
            u64::MAX,
            0x0123_4567_89ab_cdef,
            0x8000_0000_0000_0001,
        ] {
            assert_eq!(permute64(&FP_T, permute64(&IP_T, x)), x);
            assert_eq!(permute64(&IP_T, x), permute(x, 64, &IP));
        }
    }

    #[test]
    fn published_single_blocks() {
        // (key, plaintext, ciphertext): FIPS 81 appendix B ("Now is t" under 0123456789abcdef)
        // and the worked example of the DES walkthrough everyone learns from (133457799bbcdff1).
        for (key, pt, ct) in [
            (
                0x0123_4567_89ab_cdef_u64,
                u64::from_be_bytes(*b"Now is t"),
                0x3fa4_0e8a_984d_4815,
            ),
            (
                0x1334_5779_9bbc_dff1,
                0x0123_4567_89ab_cdef,
                0x85e8_1354_0f0a_b405,
            ),
        ] {
            let des = Des::new_from_bytes(&key.to_be_bytes());
            assert_eq!(des.encrypt_u64(pt), ct, "encrypt, key {key:016x}");
            assert_eq!(des.decrypt_u64(ct), pt, "decrypt, key {key:016x}");
        }
    }
}

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod sp800_17;
