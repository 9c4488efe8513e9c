//! A sound packet verifies; 1,000 random mutations of it never do. The packet is built
//! here in the format the packet rules define (`peyman_rules::packet`) and sealed with a
//! P-256 key, as the export builder seals with KMS.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use peyman_rules::lifecycle::Actor;
use peyman_rules::packet::{self, Break, Contract, Entry, Manifest, Seal};
use peyman_rules::timeline::{Draft, Event, GENESIS};
use peyman_verify::{check, read};
use serde_json::{Value, json};

type Files = Vec<(String, Vec<u8>)>;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("a valid scalar")
}

fn chain(subject: &str, names: &[&str]) -> Vec<Event> {
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let mut prev = GENESIS.to_owned();
    let mut events = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let draft = Draft {
            subject,
            at: at + chrono::Duration::minutes(i as i64),
            actor: Actor::Buyer,
            actor_id: Some("buyer"),
            event: name,
            from_state: None,
            to_state: "x".into(),
            data: json!({ "note": format!("رویداد {i}") }),
        };
        let event = Event::chain(draft, i as u64 + 1, &prev);
        prev = event.hash.clone();
        events.push(event);
    }
    events
}

fn terms() -> peyman_rules::offer::Terms {
    serde_json::from_value(json!({
        "gig_id": "01GIG", "title": "لوگوی فروشگاه 🎨", "description": "سه طرح\u{200c}ها",
        "price": { "amount": 12_000_000, "currency": "IRR" }, "delivery_days": 7,
        "stages": [], "revisions_included": 2, "expires_at": "2027-01-01T00:00:00Z",
        "special_conditions": ["پس از انقضا پذیرفته نمی‌شود"]
    }))
    .unwrap()
}

/// The packet's content (everything but the manifest, the seal and its signature).
fn content(signer: &SigningKey) -> Files {
    let terms = terms();
    let contract = Contract { terms_hash: terms.hash(), terms, terms_hash_verified: true, amendments: Vec::new() };
    let timeline = json!({
        "offer": chain("offer/01O", &["offer_sent", "offer_accepted"]),
        "order": chain("order/01R", &["order_placed", "order_paid", "order_delivered", "dispute_opened"]),
        "dispute": chain("dispute/01D", &["dispute_opened", "statement_added"]),
    });
    let public = VerifyingKey::from(signer).to_public_key_pem(LineEnding::LF).unwrap();
    vec![
        (packet::CONTRACT.into(), serde_json::to_vec_pretty(&contract).unwrap()),
        (packet::TIMELINE.into(), serde_json::to_vec_pretty(&timeline).unwrap()),
        ("messages.json".into(), "[{\"text\": \"سلام\"}]".as_bytes().to_vec()),
        ("files/01VOICE-پیام.ogg".into(), b"OggS\0\x02voice".to_vec()),
        ("deliveries/01DEL/01FILE-طرح.png".into(), b"\x89PNG\r\n\x1a\nimage".to_vec()),
        ("payments.json".into(), b"[]".to_vec()),
        ("index.html".into(), "<html dir=\"rtl\">پرونده</html>".as_bytes().to_vec()),
        (packet::PUBLIC_KEY.into(), public.into_bytes()),
    ]
}

/// Lists `content` in a manifest and seals it with `signer`. The heads are the sound
/// timelines' (the builder takes them from the stored entities, not from the file).
fn seal(content: &Files, signer: &SigningKey) -> Files {
    let sound = self::content(signer);
    let contract: Contract = serde_json::from_slice(&find(content, packet::CONTRACT).unwrap_or_default())
        .unwrap_or_else(|_| Contract {
            terms: terms(),
            terms_hash: String::new(),
            terms_hash_verified: false,
            amendments: Vec::new(),
        });
    let heads = |name: &str| {
        let timeline: BTreeMap<String, Vec<Event>> =
            serde_json::from_slice(&find(&sound, packet::TIMELINE).unwrap_or_default()).unwrap_or_default();
        timeline.get(name).and_then(|events| events.last()).map_or(GENESIS.to_owned(), |e| e.hash.clone())
    };
    let manifest = Manifest {
        format: packet::FORMAT.into(),
        packet_id: "01PACKET".into(),
        dispute_id: "01D".into(),
        order_id: "01R".into(),
        built_at: "2026-11-29T12:00:00Z".into(),
        built_by: "agent".into(),
        terms_hash: contract.terms_hash,
        terms_in_force_hash: None,
        heads: ["offer", "order", "dispute"].iter().map(|n| (n.to_string(), heads(n))).collect(),
        files: content
            .iter()
            .map(|(path, bytes)| Entry {
                path: path.clone(),
                size: bytes.len() as u64,
                sha256: packet::sha256_hex(bytes),
                problem: None,
                file_name: None,
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    let seal = Seal {
        format: packet::FORMAT.into(),
        packet_id: manifest.packet_id.clone(),
        dispute_id: manifest.dispute_id.clone(),
        manifest_sha256: packet::sha256_hex(&manifest_bytes),
    };
    let seal_bytes = packet::seal_bytes(&seal);
    let signature: Signature = signer.sign(&seal_bytes);
    let mut files = content.clone();
    files.push((packet::MANIFEST.into(), manifest_bytes));
    files.push((packet::SEAL.into(), seal_bytes));
    files.push((packet::SIGNATURE.into(), signature.to_der().as_bytes().to_vec()));
    files
}

fn find(files: &Files, path: &str) -> Option<Vec<u8>> {
    files.iter().find(|(p, _)| p == path).map(|(_, b)| b.clone())
}

fn zipped(files: &Files) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in files {
        zip.start_file(path.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn verify(files: &Files, trusted: &VerifyingKey) -> Result<packet::Report, Break> {
    check(&read(Cursor::new(zipped(files)))?, Some(trusted)).map(|(report, _)| report)
}

fn edit_timeline(
    files: &mut Files,
    edit: impl FnOnce(&mut Vec<Value>, &mut fastrand::Rng),
    rng: &mut fastrand::Rng,
) -> bool {
    let Some(i) = files.iter().position(|(p, _)| p == packet::TIMELINE) else { return false };
    let mut timelines: BTreeMap<String, Vec<Value>> = serde_json::from_slice(&files[i].1).unwrap();
    let names: Vec<String> = timelines.keys().cloned().collect();
    let name = &names[rng.usize(..names.len())];
    edit(timelines.get_mut(name).unwrap(), rng);
    files[i].1 = serde_json::to_vec_pretty(&timelines).unwrap();
    true
}

#[test]
fn a_sound_packet_verifies_and_names_what_it_checked() {
    let signer = key(7);
    let trusted = VerifyingKey::from(&signer);
    let report = verify(&seal(&content(&signer), &signer), &trusted).expect("sound");
    assert_eq!((report.packet_id.as_str(), report.files), ("01PACKET", 8));
    let timelines: Vec<(&str, usize)> = report.timelines.iter().map(|(n, e, _)| (n.as_str(), *e)).collect();
    assert_eq!(timelines, [("dispute", 2), ("offer", 2), ("order", 4)]);
    // Without a key, the packet's own copy is used, and said so.
    let listing = read(Cursor::new(zipped(&seal(&content(&signer), &signer)))).unwrap();
    assert_eq!(check(&listing, None).unwrap().1, peyman_verify::KeySource::Packet);
    // Sealed by another key, it does not verify under the trusted one.
    let forger = key(9);
    assert_eq!(verify(&seal(&content(&forger), &forger), &trusted).unwrap_err(), Break::Signature);
}

#[test]
fn a_thousand_random_mutations_are_all_rejected() {
    let (signer, forger) = (key(7), key(9));
    let trusted = VerifyingKey::from(&signer);
    let sound_content = content(&signer);
    let sound = seal(&sound_content, &signer);
    // Seeded: every run makes the same thousand mutations.
    let mut rng = fastrand::Rng::with_seed(0x9E37_79B9_7F4A_7C15);
    let mut kinds = BTreeMap::<&str, usize>::new();
    for round in 0..1_000 {
        let kind = rng.usize(..11);
        let mut files = sound.clone();
        let name = match kind {
            0 => {
                let i = rng.usize(..files.len());
                let bytes = &mut files[i].1;
                let at = rng.usize(..bytes.len());
                bytes[at] ^= 1 << rng.usize(..8);
                "a flipped bit in any file"
            }
            1 => {
                files.remove(rng.usize(..files.len()));
                "a file removed"
            }
            2 => {
                files.insert(rng.usize(..files.len() + 1), ("files/extra.bin".into(), vec![rng.usize(..256) as u8]));
                "a file added"
            }
            3 => {
                let i = rng.usize(..files.len());
                files[i].0 = format!("renamed/{}", files[i].0);
                "a file renamed"
            }
            4..=7 => {
                // A change to what the packet says, then the manifest edited to match it
                // and sealed again: by nobody (the old seal), by a forger, or even by the
                // true key (which the chains and the terms hash still catch).
                let mut changed = sound_content.clone();
                let what = match kind {
                    4 => {
                        edit_timeline(
                            &mut changed,
                            |events, rng| {
                                events.remove(rng.usize(..events.len()));
                            },
                            &mut rng,
                        );
                        "an event removed"
                    }
                    5 => {
                        edit_timeline(
                            &mut changed,
                            |events, rng| {
                                let i = rng.usize(..events.len() - 1);
                                events.swap(i, i + 1);
                            },
                            &mut rng,
                        );
                        "events reordered"
                    }
                    6 => {
                        edit_timeline(
                            &mut changed,
                            |events, rng| {
                                let i = rng.usize(..events.len());
                                events[i]["data"]["note"] = json!("ویرایش شده");
                            },
                            &mut rng,
                        );
                        "an event edited"
                    }
                    _ => {
                        let i = changed.iter().position(|(p, _)| p == packet::CONTRACT).unwrap();
                        let mut contract: Value = serde_json::from_slice(&changed[i].1).unwrap();
                        contract["terms"]["revisions_included"] = json!(5);
                        changed[i].1 = serde_json::to_vec_pretty(&contract).unwrap();
                        "the terms edited"
                    }
                };
                files = match rng.usize(..3) {
                    0 => {
                        // The manifest matches the edit; the old seal and signature stay.
                        let mut resealed = seal(&changed, &signer);
                        for own in [packet::SEAL, packet::SIGNATURE] {
                            let old = find(&sound, own).unwrap();
                            resealed.iter_mut().find(|(p, _)| p == own).unwrap().1 = old;
                        }
                        resealed
                    }
                    1 => seal(&changed, &forger),
                    _ => seal(&changed, &signer),
                };
                what
            }
            8 => {
                let i = files.iter().position(|(p, _)| p == packet::SIGNATURE).unwrap();
                files[i].1 = (0..70).map(|_| rng.usize(..256) as u8).collect();
                "the signature replaced by noise"
            }
            9 => {
                let i = files.iter().position(|(p, _)| p == packet::SIGNATURE).unwrap();
                let seal_bytes = find(&files, packet::SEAL).unwrap();
                let forged: Signature = forger.sign(&seal_bytes);
                files[i].1 = forged.to_der().as_bytes().to_vec();
                "the signature replaced by another key's"
            }
            _ => {
                // The seal rewritten to name an edited manifest.
                let i = files.iter().position(|(p, _)| p == packet::MANIFEST).unwrap();
                let mut manifest: Manifest = serde_json::from_slice(&files[i].1).unwrap();
                let k = rng.usize(..manifest.files.len());
                manifest.files[k].size += 1;
                files[i].1 = serde_json::to_vec_pretty(&manifest).unwrap();
                let j = files.iter().position(|(p, _)| p == packet::SEAL).unwrap();
                let mut seal: Seal = serde_json::from_slice(&files[j].1).unwrap();
                seal.manifest_sha256 = packet::sha256_hex(&files[i].1);
                files[j].1 = packet::seal_bytes(&seal);
                "the manifest and the seal edited together"
            }
        };
        *kinds.entry(name).or_default() += 1;
        assert!(verify(&files, &trusted).is_err(), "round {round}: {name} was accepted");
    }
    assert_eq!(kinds.len(), 11, "every kind of mutation was tried: {kinds:?}");
}

#[test]
fn the_binary_prints_what_it_checked_and_names_the_first_break() {
    let signer = key(7);
    let dir = std::env::temp_dir().join(format!("peyman-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (good, bad, key_file) = (dir.join("good.zip"), dir.join("bad.zip"), dir.join("key.pem"));
    let sound = seal(&content(&signer), &signer);
    std::fs::write(&good, zipped(&sound)).unwrap();
    let mut broken = sound.clone();
    broken.retain(|(path, _)| path != "payments.json");
    std::fs::write(&bad, zipped(&broken)).unwrap();
    std::fs::write(&key_file, find(&sound, packet::PUBLIC_KEY).unwrap()).unwrap();
    let run = |packet: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_peyman-verify"))
            .arg(packet)
            .arg("--public-key")
            .arg(&key_file)
            .output()
            .unwrap()
    };
    let ok = run(&good);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("8 files present") && out.contains("the order timeline: 4 events"), "{out}");
    assert!(out.contains("verifies under the given public key"), "{out}");
    let failed = run(&bad);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&failed.stdout).trim(), "BROKEN: payments.json is missing");
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_peyman-verify")).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A packet re-keyed by someone else: its seal re-signed with a new key, and that key put
/// in the packet in place of the deployment's. It is whole under its own key, so only a
/// key from outside the packet tells it apart.
#[test]
fn a_rekeyed_packet_is_refused_under_the_deployments_key_and_unverified_without_one() {
    let (deployment, forger) = (key(7), key(99));
    // The same contents, the forger's key in place of the deployment's, the manifest
    // listing it and the seal re-signed: whole, under its own key.
    let rekeyed = seal(&content(&forger), &forger);
    let (_, source) = check(&read(Cursor::new(zipped(&rekeyed))).unwrap(), None).expect("whole under its own key");
    assert_eq!(source, peyman_verify::KeySource::Packet);
    let trusted = *deployment.verifying_key();
    assert!(verify(&rekeyed, &trusted).is_err(), "the deployment's key refuses the forger's seal");

    let dir = std::env::temp_dir().join(format!("peyman-verify-rekeyed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (packet_file, key_file) = (dir.join("rekeyed.zip"), dir.join("deployment.pem"));
    std::fs::write(&packet_file, zipped(&rekeyed)).unwrap();
    std::fs::write(&key_file, trusted.to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
    let run = |key: Option<(&str, &std::path::Path)>, configured: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_peyman-verify"));
        command.arg(&packet_file).env_remove("PEYMAN_VERIFY_PUBLIC_KEY");
        if let Some((flag, path)) = key {
            command.arg(flag).arg(path);
        }
        if let Some(path) = configured {
            command.env("PEYMAN_VERIFY_PUBLIC_KEY", path);
        }
        let out = command.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = run(Some(("--public-key", &key_file)), None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("BROKEN"), "{out}");
    let (code, out) = run(None, Some(&key_file));
    assert_eq!(code, Some(1), "the configured key is the deployment's too: {out}");
    let (code, out) = run(None, None);
    assert_eq!(code, Some(3), "no key from outside: never a plain success: {out}");
    assert!(out.contains("contents intact, signer not verified"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
