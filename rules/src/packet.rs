//! The dispute export packet's format and its verification, pure: what `manifest.json`
//! and `seal.json` hold, and the checks an offline verifier makes on a packet's listing
//! (every entry's path, size and SHA-256, read as a stream) and its small documents. The
//! packet builder writes this format; `peyman-verify` reads it with no network.
//!
//! A packet is sound when: every manifest entry is present with its size and SHA-256 and
//! nothing else is in it; `contract.json`'s terms hash to the terms hash it and the
//! manifest name, and its amendments (each sealed) chain from that hash to the head the
//! manifest names; each timeline in `timeline.json` chains to the head the manifest names;
//! the seal names the manifest's SHA-256 and the packet; and the seal's signature
//! verifies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::amendment::Amendment;
use crate::canonical;
use crate::offer::Terms;
use crate::timeline::{self, Event};

/// The format this module reads and writes.
pub const FORMAT: &str = "peyman-dispute-packet/1";
pub const MANIFEST: &str = "manifest.json";
pub const SEAL: &str = "seal.json";
/// The seal's signature: ECDSA P-256 over SHA-256 of `seal.json`'s bytes, DER-encoded.
pub const SIGNATURE: &str = "seal.sig";
pub const CONTRACT: &str = "contract.json";
pub const TIMELINE: &str = "timeline.json";
/// The signing key's public half (SPKI PEM), for reference: trust comes from the key
/// support obtains from the deployment, not from this copy.
pub const PUBLIC_KEY: &str = "public_key.pem";

/// The documents a verifier reads whole (all small); every other entry is only hashed.
pub const DOCUMENTS: [&str; 4] = [MANIFEST, SEAL, CONTRACT, TIMELINE];

/// One file of the packet as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes in the packet.
    pub sha256: String,
    /// What went wrong when it was gathered (`missing_from_storage`,
    /// `differs_from_recorded_hash`), so no file is ever silently left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// A party's file: its name as they gave it (the path holds a portable one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub packet_id: String,
    pub dispute_id: String,
    pub order_id: String,
    pub built_at: String,
    pub built_by: String,
    pub terms_hash: String,
    /// The hash of the last amendment in force (the head of the contract's chain), if any
    /// took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_in_force_hash: Option<String>,
    /// Each timeline's head hash: `offer`, `order`, `dispute`.
    pub heads: BTreeMap<String, String>,
    /// Every file but the manifest, the seal and its signature.
    pub files: Vec<Entry>,
}

/// What is signed: the packet, and the manifest by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub format: String,
    pub packet_id: String,
    pub dispute_id: String,
    /// Hex SHA-256 of `manifest.json`'s bytes.
    pub manifest_sha256: String,
}

/// `contract.json`: the terms exactly as accepted, their hash, and every amendment that
/// took effect, in order, each with its whole terms and its hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub terms: Terms,
    pub terms_hash: String,
    #[serde(default)]
    pub terms_hash_verified: bool,
    #[serde(default)]
    pub amendments: Vec<Amendment>,
}

impl Contract {
    /// Walks the amendments from the contract's hash: each numbered in turn, chained to
    /// the one before, and sealed over what it says. Returns the chain's head (the
    /// contract's own hash when none took effect).
    pub fn amendment_chain(&self) -> Result<&str, Break> {
        let mut head = self.terms_hash.as_str();
        for (i, amendment) in self.amendments.iter().enumerate() {
            let number = amendment.number;
            if usize::try_from(number).ok() != Some(i + 1) {
                return Err(Break::Amendment(number, format!("it is number {number} where {} is due", i + 1)));
            }
            if amendment.previous_hash != head {
                return Err(Break::Amendment(number, "it does not chain to the terms before it".into()));
            }
            if !amendment.verifies() {
                return Err(Break::Amendment(number, "its terms or its hash do not match what it says".into()));
            }
            head = &amendment.hash;
        }
        Ok(head)
    }
}

/// A packet as a verifier sees it: every entry's size and SHA-256, and the bytes of the
/// small documents it reads whole.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    pub entries: BTreeMap<String, (u64, String)>,
    pub documents: BTreeMap<String, Vec<u8>>,
}

/// The first thing that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("{0} is missing")]
    Missing(String),
    #[error("{0} cannot be read: {1}")]
    Unreadable(String, String),
    #[error("the packet is of format {0}, not {FORMAT}")]
    Format(String),
    #[error("the seal does not name this manifest (its SHA-256 differs)")]
    SealManifest,
    #[error("the seal names another packet or dispute than the manifest")]
    SealIdentity,
    #[error("the seal's signature does not verify")]
    Signature,
    #[error("{0} is in the packet but not in the manifest")]
    Unlisted(String),
    #[error("{0} is listed twice in the manifest")]
    Duplicate(String),
    #[error("{path} has {found} bytes, the manifest says {listed}")]
    Size { path: String, listed: u64, found: u64 },
    #[error("{0}'s SHA-256 differs from the manifest's")]
    Hash(String),
    #[error("the contract's terms do not hash to its terms hash")]
    Terms,
    #[error("the contract's terms hash differs from the manifest's")]
    TermsHash,
    #[error("amendment {0} breaks the contract's chain: {1}")]
    Amendment(u32, String),
    #[error("the contract's amendments end at another hash than the manifest names")]
    AmendmentHead,
    #[error("the {0} timeline is missing from timeline.json")]
    NoTimeline(String),
    #[error("the {0} timeline breaks: {1}")]
    Chain(String, String),
}

/// What a sound packet was checked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub packet_id: String,
    pub dispute_id: String,
    pub files: usize,
    pub files_with_problems: Vec<(String, String)>,
    pub terms_hash: String,
    /// The amendments in force and the hash their chain ends at.
    pub amendments: usize,
    pub terms_in_force_hash: String,
    pub timelines: Vec<(String, usize, String)>,
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// The bytes of a seal as they are written and signed.
pub fn seal_bytes(seal: &Seal) -> Vec<u8> {
    canonical::to_string(seal).into_bytes()
}

/// Where a file sits in the packet: `{folder}/{upload_id}-{name}`, its name kept as the
/// party gave it (Persian, ZWNJ and all) but for what some file system refuses in a name,
/// so the ZIP extracts on Windows, macOS and Linux alike: separators, control characters
/// and `< > : " | ? *` become `_`, leading and trailing dots and spaces go, and a name
/// longer than 100 characters keeps its first 100 and its extension. The name as given
/// stays in the manifest's entry and on the page.
pub fn file_path(folder: &str, upload_id: &str, file_name: &str) -> String {
    const REFUSED: &[char] = &['/', '\\', ':', '<', '>', '"', '|', '?', '*'];
    let name: String =
        file_name.chars().map(|c| if REFUSED.contains(&c) || c.is_control() { '_' } else { c }).collect();
    let mut name = name.trim_matches(|c: char| c == '.' || c.is_whitespace()).to_owned();
    if name.chars().count() > 100 {
        let ext = name.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 8).map(|e| format!(".{e}"));
        name = name.chars().take(100).collect::<String>() + ext.as_deref().unwrap_or("");
    }
    if name.is_empty() { format!("{folder}/{upload_id}") } else { format!("{folder}/{upload_id}-{name}") }
}

/// A public key (DER SubjectPublicKeyInfo, as KMS hands it out) as PEM.
pub fn public_key_pem(der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in text.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

fn document<'a>(listing: &'a Listing, path: &str) -> Result<&'a [u8], Break> {
    listing.documents.get(path).map(Vec::as_slice).ok_or_else(|| Break::Missing(path.to_owned()))
}

fn parse<T: serde::de::DeserializeOwned>(listing: &Listing, path: &str) -> Result<T, Break> {
    serde_json::from_slice(document(listing, path)?).map_err(|e| Break::Unreadable(path.to_owned(), e.to_string()))
}

/// Checks a packet. `signature_verifies(message, signature)` says whether the signature
/// over the seal's bytes is good under the key the caller trusts.
pub fn verify(listing: &Listing, signature_verifies: impl Fn(&[u8], &[u8]) -> bool) -> Result<Report, Break> {
    let manifest_bytes = document(listing, MANIFEST)?;
    let manifest: Manifest = parse(listing, MANIFEST)?;
    if manifest.format != FORMAT {
        return Err(Break::Format(manifest.format));
    }
    let seal: Seal = parse(listing, SEAL)?;
    if seal.manifest_sha256 != sha256_hex(manifest_bytes) {
        return Err(Break::SealManifest);
    }
    if seal.packet_id != manifest.packet_id || seal.dispute_id != manifest.dispute_id || seal.format != FORMAT {
        return Err(Break::SealIdentity);
    }
    let signature = document(listing, SIGNATURE)?;
    if !signature_verifies(document(listing, SEAL)?, signature) {
        return Err(Break::Signature);
    }

    // Every listed file is there as listed, and nothing else is.
    let mut listed = BTreeMap::new();
    for entry in &manifest.files {
        if listed.insert(entry.path.as_str(), entry).is_some() {
            return Err(Break::Duplicate(entry.path.clone()));
        }
    }
    for path in listing.entries.keys() {
        let own = [MANIFEST, SEAL, SIGNATURE].contains(&path.as_str());
        if !own && !listed.contains_key(path.as_str()) {
            return Err(Break::Unlisted(path.clone()));
        }
    }
    for entry in &manifest.files {
        let (size, sha256) = listing.entries.get(&entry.path).ok_or_else(|| Break::Missing(entry.path.clone()))?;
        if *size != entry.size {
            return Err(Break::Size { path: entry.path.clone(), listed: entry.size, found: *size });
        }
        if *sha256 != entry.sha256 {
            return Err(Break::Hash(entry.path.clone()));
        }
    }

    // The contract, the decisive document.
    let contract: Contract = parse(listing, CONTRACT)?;
    if contract.terms.hash() != contract.terms_hash {
        return Err(Break::Terms);
    }
    if contract.terms_hash != manifest.terms_hash {
        return Err(Break::TermsHash);
    }
    let head = contract.amendment_chain()?;
    if head != manifest.terms_in_force_hash.as_deref().unwrap_or(&manifest.terms_hash) {
        return Err(Break::AmendmentHead);
    }
    let terms_in_force_hash = head.to_owned();

    // Each timeline chains to the head the manifest names.
    let timelines: BTreeMap<String, Vec<Value>> = parse(listing, TIMELINE)?;
    let mut checked = Vec::new();
    for (name, head) in &manifest.heads {
        let raw = timelines.get(name).ok_or_else(|| Break::NoTimeline(name.clone()))?;
        let events: Vec<Event> = raw
            .iter()
            .map(|e| serde_json::from_value(e.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| Break::Unreadable(format!("{TIMELINE} ({name})"), e.to_string()))?;
        timeline::verify(&events, head).map_err(|b| Break::Chain(name.clone(), b.to_string()))?;
        checked.push((name.clone(), events.len(), head.clone()));
    }
    Ok(Report {
        packet_id: manifest.packet_id,
        dispute_id: manifest.dispute_id,
        files: manifest.files.len(),
        files_with_problems: manifest
            .files
            .iter()
            .filter_map(|e| e.problem.clone().map(|p| (e.path.clone(), p)))
            .collect(),
        terms_hash: manifest.terms_hash,
        amendments: contract.amendments.len(),
        terms_in_force_hash,
        timelines: checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_keep_the_name_but_nothing_a_file_system_refuses() {
        assert_eq!(file_path("files", "01A", "طرح\u{200c}ها نهایی.png"), "files/01A-طرح\u{200c}ها نهایی.png");
        assert_eq!(file_path("files", "01A", "../../etc/passwd"), "files/01A-_.._etc_passwd");
        assert_eq!(file_path("deliveries/1-01D", "01A", "a\\b:c\u{7}.pdf"), "deliveries/1-01D/01A-a_b_c_.pdf");
        assert_eq!(file_path("files", "01A", ""), "files/01A");
        // What Windows refuses to extract: kept out of the entry's name.
        assert_eq!(
            file_path("files", "01A", "طرح\"><img src=x onerror=alert(3)>.png"),
            "files/01A-طرح___img src=x onerror=alert(3)_.png"
        );
        assert_eq!(file_path("files", "01A", "a<b>c:d\"e|f?g*h.pdf"), "files/01A-a_b_c_d_e_f_g_h.pdf");
        let long = format!("{}.pdf", "ن".repeat(300));
        assert_eq!(file_path("files", "01A", &long), format!("files/01A-{}.pdf", "ن".repeat(100)));
    }

    #[test]
    fn the_contract_s_amendments_chain_from_its_hash_each_sealed_and_in_turn() {
        use crate::amendment::{ExtraDays, NewAmendment};
        use crate::lifecycle::{Actor, OrderState};
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = crate::order::example(now);
        order.start_work(now);
        order.state = OrderState::InProgress;
        let mut amendments = Vec::new();
        for (i, days) in [2, 3].into_iter().enumerate() {
            let new = NewAmendment {
                extra_days: Some(ExtraDays { days, stage: None }),
                extra_revisions: None,
                lower_price: None,
                add_stage: None,
                note: None,
            };
            let current = amendments.last().map_or(order.terms.clone(), |a: &Amendment| a.terms.clone());
            let mut a = new.into_amendment(&order, &current, (Actor::Seller, "s"), format!("01A{i}"), now).unwrap();
            a.applied_to(&mut order, now);
            amendments.push(a);
        }
        let contract = |amendments: Vec<Amendment>| Contract {
            terms: order.terms.clone(),
            terms_hash: order.terms_hash.clone(),
            terms_hash_verified: true,
            amendments,
        };
        assert_eq!(contract(vec![]).amendment_chain(), Ok(order.terms_hash.as_str()), "none: the contract's own hash");
        let sound = contract(amendments.clone());
        assert_eq!(sound.amendment_chain(), Ok(amendments[1].hash.as_str()));
        assert_eq!(amendments[1].terms.delivery_days, 12, "each built on the one before");
        let broken =
            |amendments: Vec<Amendment>| contract(amendments).amendment_chain().map(drop).map_err(|b| b.to_string());
        assert!(broken(vec![amendments[1].clone()]).unwrap_err().contains("number 2 where 1 is due"));
        let (mut forged, mut unchained) = (amendments.clone(), amendments.clone());
        forged[0].terms.delivery_days = 30;
        assert!(broken(forged).unwrap_err().contains("amendment 1"));
        unchained[1].previous_hash = order.terms_hash.clone();
        assert!(broken(unchained).unwrap_err().contains("does not chain"));
    }

    #[test]
    fn a_public_key_is_written_as_pem_lines_of_64() {
        let pem = public_key_pem(&[7u8; 91]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN PUBLIC KEY-----"));
        assert_eq!(lines.last(), Some(&"-----END PUBLIC KEY-----"));
        assert!(lines[1..lines.len() - 1].iter().all(|l| l.len() <= 64) && lines[1].len() == 64);
    }
}
