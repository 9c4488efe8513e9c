//! The packet's seal is signed by an asymmetric KMS key (moto serves KMS locally), and
//! the signature verifies offline under the key's public half, as `peyman-verify` checks
//! it, with no AWS.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Verifier;
use peyman::adapters::kms::Sealer;
use peyman_rules::packet::{self, Seal};

#[tokio::test]
async fn a_seal_signed_by_kms_verifies_offline_and_nothing_else_does() {
    let sdk = peyman::adapters::sdk::config().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("peyman export seals (test)")
        .send()
        .await
        .expect("moto creates the key");
    let key_id = key.key_metadata().map(|m| m.key_id().to_owned()).expect("a key id");
    let sealer = Sealer::connect(&sdk, &key_id);

    let seal = Seal {
        format: packet::FORMAT.into(),
        packet_id: ulid::Ulid::new().to_string(),
        dispute_id: ulid::Ulid::new().to_string(),
        manifest_sha256: packet::sha256_hex(b"{\"files\": []}"),
    };
    let message = packet::seal_bytes(&seal);
    let der = sealer.sign(&message).await.expect("signed");
    // The public half as KMS hands it out (DER SubjectPublicKeyInfo), read as the
    // verifier reads `--public-key`.
    let public = peyman_verify::public_key(&sealer.public_key().await.expect("public key")).expect("a P-256 key");
    let signature = Signature::from_der(&der).expect("a DER ECDSA signature");
    assert!(public.verify(&message, &signature).is_ok(), "the seal verifies offline");
    // Any other seal does not.
    let mut other = seal.clone();
    other.manifest_sha256 = packet::sha256_hex(b"{\"files\": [1]}");
    assert!(public.verify(&packet::seal_bytes(&other), &signature).is_err());
}
