//! `peyman-verify`'s checks: a packet is read entry by entry from its ZIP (each hashed as a
//! stream, only the small documents kept), then judged by the packet rules
//! (`peyman_rules::packet::verify`) with the seal's signature checked under an ECDSA
//! P-256 public key. No network, no AWS.

use std::collections::BTreeSet;
use std::io::{Read, Seek};

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use peyman_rules::packet::{self, Break, Listing, Report};
use sha2::{Digest, Sha256};

/// The most a document read whole may hold; anything larger is not one of ours.
const DOCUMENT_MAX: u64 = 256 * 1024 * 1024;

/// Reads a packet's entries: each one's size and SHA-256, streamed, and the bytes of the
/// documents the checks read whole. A name twice in the archive is a break.
pub fn read(archive: impl Read + Seek) -> Result<Listing, Break> {
    let unreadable = |e: &dyn std::fmt::Display| Break::Unreadable("the packet".into(), e.to_string());
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| unreadable(&e))?;
    let mut listing = Listing::default();
    let mut seen = BTreeSet::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(|e| unreadable(&e))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_owned();
        if !seen.insert(name.clone()) {
            return Err(Break::Duplicate(name));
        }
        let keep = packet::DOCUMENTS.contains(&name.as_str())
            || [packet::SIGNATURE, packet::PUBLIC_KEY].contains(&name.as_str());
        let (mut hash, mut size, mut kept) = (Sha256::new(), 0u64, Vec::new());
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buffer).map_err(|e| Break::Unreadable(name.clone(), e.to_string()))?;
            if n == 0 {
                break;
            }
            hash.update(&buffer[..n]);
            size += n as u64;
            if keep {
                if size > DOCUMENT_MAX {
                    return Err(Break::Unreadable(name, "too large for a packet document".into()));
                }
                kept.extend_from_slice(&buffer[..n]);
            }
        }
        listing.entries.insert(name.clone(), (size, hex::encode(hash.finalize())));
        if keep {
            listing.documents.insert(name, kept);
        }
    }
    Ok(listing)
}

/// A public key from PEM (`-----BEGIN PUBLIC KEY-----`) or DER (SubjectPublicKeyInfo, as
/// KMS `GetPublicKey` returns it).
pub fn public_key(bytes: &[u8]) -> Result<VerifyingKey, String> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("BEGIN PUBLIC KEY") => {
            VerifyingKey::from_public_key_pem(text).map_err(|e| e.to_string())
        }
        _ => VerifyingKey::from_public_key_der(bytes).map_err(|e| e.to_string()),
    }
}

/// Which key the signature was checked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The key the caller gave: the deployment's, obtained apart from the packet.
    Given,
    /// The packet's own copy: proves the packet is whole, not who sealed it.
    Packet,
}

/// Checks a read packet under `key`, or, without one, under the packet's own copy.
pub fn check(listing: &Listing, key: Option<&VerifyingKey>) -> Result<(Report, KeySource), Break> {
    let (key, source) = match key {
        Some(key) => (*key, KeySource::Given),
        None => {
            let pem =
                listing.documents.get(packet::PUBLIC_KEY).ok_or_else(|| Break::Missing(packet::PUBLIC_KEY.into()))?;
            (public_key(pem).map_err(|e| Break::Unreadable(packet::PUBLIC_KEY.into(), e))?, KeySource::Packet)
        }
    };
    let verifies = |message: &[u8], der: &[u8]| {
        Signature::from_der(der).is_ok_and(|signature| key.verify(message, &signature).is_ok())
    };
    packet::verify(listing, verifies).map(|report| (report, source))
}
