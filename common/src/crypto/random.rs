//! Randomness straight from the operating system CSPRNG (getrandom), never a user-space PRNG.

use crate::error::CryptoError;

/// Fill `buf` from the OS CSPRNG.
///
/// # Errors
/// [`CryptoError::Rng`] if the operating system refuses, which on Linux means the kernel's
/// entropy source is unavailable; nothing secure can be done then.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Rng)
}

/// `N` random bytes from the OS CSPRNG.
///
/// # Panics
/// If the OS random source fails (see [`fill`]): continuing without randomness is worse.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill(&mut b).expect("operating system random number generator failed");
    b
}
