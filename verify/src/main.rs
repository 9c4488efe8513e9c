//! `peyman-verify PACKET.zip [--public-key FILE]`: checks a dispute export packet offline
//! and prints what it checked. The signer's key comes from outside the packet: the file
//! given, or else the one `PEYMAN_VERIFY_PUBLIC_KEY` names (the verifier's configuration),
//! since a key the packet carries proves only that whoever made the packet signed it.
//! Exits 0 when everything verifies under that key; 1 naming the first break; 2 on a
//! usage error; 3 when no key was given: the contents are intact under the packet's own
//! key, and the signer is not verified.

use std::process::ExitCode;

use peyman_verify::{KeySource, check, public_key, read};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (packet, key_file) = match args.as_slice() {
        [packet] => (packet, None),
        [packet, flag, key] if flag == "--public-key" => (packet, Some(key)),
        _ => {
            eprintln!("usage: peyman-verify PACKET.zip [--public-key FILE]");
            return ExitCode::from(2);
        }
    };
    let configured = std::env::var("PEYMAN_VERIFY_PUBLIC_KEY").ok().filter(|path| !path.is_empty());
    let key_file = key_file.or(configured.as_ref());
    let key = match key_file.map(std::fs::read).transpose() {
        Ok(bytes) => match bytes.as_deref().map(public_key).transpose() {
            Ok(key) => key,
            Err(e) => {
                eprintln!("the public key cannot be read: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("the public key cannot be read: {e}");
            return ExitCode::from(2);
        }
    };
    let file = match std::fs::File::open(packet) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("{packet}: {e}");
            return ExitCode::from(2);
        }
    };
    match read(std::io::BufReader::new(file)).and_then(|listing| check(&listing, key.as_ref())) {
        Ok((report, source)) => {
            println!("packet {} of dispute {}", report.packet_id, report.dispute_id);
            println!("ok  {} files present with the size and SHA-256 the manifest lists, nothing else", report.files);
            for (path, problem) in &report.files_with_problems {
                println!("    note: {path}: {problem} (recorded when the packet was built)");
            }
            println!("ok  the contract's terms hash to {}", report.terms_hash);
            if report.amendments > 0 {
                println!(
                    "ok  its {} amendment(s) chain from it, each sealed, to {}",
                    report.amendments, report.terms_in_force_hash
                );
            }
            for (name, events, head) in &report.timelines {
                println!("ok  the {name} timeline: {events} events chain to {head}");
            }
            match source {
                KeySource::Given => {
                    println!("ok  the seal's signature verifies under the given public key");
                    ExitCode::SUCCESS
                }
                KeySource::Packet => {
                    println!("ok  the seal's signature verifies under the packet's own key");
                    println!(
                        "UNVERIFIED SIGNER: contents intact, signer not verified (give the deployment's key with \
                         --public-key or PEYMAN_VERIFY_PUBLIC_KEY to prove who sealed it)"
                    );
                    ExitCode::from(3)
                }
            }
        }
        Err(broken) => {
            println!("BROKEN: {broken}");
            ExitCode::from(1)
        }
    }
}
