//! The export packet's seal is signed by an asymmetric KMS key (ECC_NIST_P256,
//! ECDSA_SHA_256): the private half never leaves KMS, and the public half is what support
//! staff give `peyman-verify`.

use std::sync::{Arc, OnceLock};

use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};

use crate::adapters::meter::{RequestMeter, Service};
use peyman_rules::error::ApiError;

fn kms_error(err: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::internal(format!("kms: {}", DisplayErrorContext(err)))
}

/// Signs seals with one key.
#[derive(Clone, Debug)]
pub struct Sealer {
    kms: Client,
    key_id: String,
    /// The key's public half, asked of KMS once per process: a key's public half never
    /// changes, and each request is billed.
    public_key: Arc<OnceLock<Vec<u8>>>,
}

impl Sealer {
    pub fn connect(sdk: &aws_types::SdkConfig, key_id: &str) -> Self {
        let metered = aws_sdk_kms::config::Builder::from(sdk).interceptor(RequestMeter::new(Service::Kms));
        Sealer { kms: Client::from_conf(metered.build()), key_id: key_id.to_owned(), public_key: Arc::default() }
    }

    /// The DER-encoded ECDSA signature over SHA-256 of `message`. The message itself is
    /// sent (`RAW`, at most 4 KB: a seal is a few hundred bytes): KMS hashes it. A
    /// digest sent as `DIGEST` would be hashed again by moto, so its signatures would not
    /// verify elsewhere.
    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ApiError> {
        let out = self
            .kms
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(kms_error)?;
        out.signature.map(Blob::into_inner).ok_or_else(|| ApiError::internal("kms returned no signature"))
    }

    /// Asks for the public half in INIT, so that no export pays for it; bounded, and a
    /// failure is only logged (the first export asks again).
    pub async fn warm_up(&self) {
        match tokio::time::timeout(std::time::Duration::from_secs(2), self.public_key()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the seal key's public half could not be read; the first export asks")
            }
            Err(_) => tracing::warn!("the seal key's public half took too long; the first export asks"),
        }
    }

    /// The key's public half, DER-encoded SubjectPublicKeyInfo. (Two first calls at once
    /// may both ask; either answer is the same.)
    pub async fn public_key(&self) -> Result<Vec<u8>, ApiError> {
        if let Some(known) = self.public_key.get() {
            return Ok(known.clone());
        }
        let out = self.kms.get_public_key().key_id(&self.key_id).send().await.map_err(kms_error)?;
        let key =
            out.public_key.map(Blob::into_inner).ok_or_else(|| ApiError::internal("kms returned no public key"))?;
        Ok(self.public_key.get_or_init(|| key).clone())
    }
}
