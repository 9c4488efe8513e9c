//! The export packet as a ZIP written front to back into any async writer (the builder's
//! is a pipe into an S3 multipart upload): every entry stored as it streams in, with a
//! data descriptor after it, so neither an entry nor the archive is ever held whole. Each
//! entry's size and SHA-256 are taken on the way through, for the manifest.

use async_zip::base::write::{EntryStreamWriter, ZipFileWriter};
use async_zip::{Compression, ZipEntryBuilder};
use futures_lite::io::AsyncWriteExt;
use sha2::{Digest, Sha256};
use tokio_util::compat::Compat;

use peyman_rules::error::ApiError;

fn zip_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("zip: {e}"))
}

/// What one entry turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

pub struct PacketZip<W: tokio::io::AsyncWrite + Unpin> {
    zip: ZipFileWriter<Compat<W>>,
}

impl<W: tokio::io::AsyncWrite + Unpin> PacketZip<W> {
    pub fn new(out: W) -> Self {
        PacketZip { zip: ZipFileWriter::with_tokio(out) }
    }

    /// A small entry from memory (the JSON documents, the page, the seal).
    pub async fn bytes(&mut self, path: &str, bytes: &[u8]) -> Result<Written, ApiError> {
        let entry = ZipEntryBuilder::new(path.to_owned().into(), Compression::Stored);
        self.zip.write_entry_whole(entry, bytes).await.map_err(zip_error)?;
        Ok(Written { size: bytes.len() as u64, sha256: hex::encode(Sha256::digest(bytes)) })
    }

    /// An entry written a piece at a time ([`Entry::write`], then [`Entry::close`]).
    pub async fn entry(&mut self, path: &str) -> Result<Entry<'_, W>, ApiError> {
        let entry = ZipEntryBuilder::new(path.to_owned().into(), Compression::Stored);
        let writer = self.zip.write_entry_stream(entry).await.map_err(zip_error)?;
        Ok(Entry { writer, hash: Sha256::new(), size: 0 })
    }

    /// An entry from a stream of chunks (an S3 object's body), written chunk by chunk.
    pub async fn stream(
        &mut self,
        path: &str,
        mut chunks: crate::adapters::s3::ObjectBody,
    ) -> Result<Written, ApiError> {
        let mut entry = self.entry(path).await?;
        while let Some(chunk) = chunks.try_next().await? {
            entry.write(&chunk).await?;
        }
        entry.close().await
    }

    /// Writes the central directory and closes the writer, so the reader sees the end.
    pub async fn finish(self) -> Result<(), ApiError> {
        let mut out = self.zip.close().await.map_err(zip_error)?;
        out.close().await.map_err(zip_error)?;
        Ok(())
    }
}

/// An entry being written: its bytes go straight into the archive, and its size and
/// SHA-256 are taken on the way through.
pub struct Entry<'a, W: tokio::io::AsyncWrite + Unpin> {
    writer: EntryStreamWriter<'a, Compat<W>>,
    hash: Sha256,
    size: u64,
}

impl<W: tokio::io::AsyncWrite + Unpin> Entry<'_, W> {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.hash.update(bytes);
        self.size += bytes.len() as u64;
        self.writer.write_all(bytes).await.map_err(zip_error)
    }

    /// Ends the entry (its data descriptor) and says what was written.
    pub async fn close(self) -> Result<Written, ApiError> {
        self.writer.close().await.map_err(zip_error)?;
        Ok(Written { size: self.size, sha256: hex::encode(self.hash.finalize()) })
    }
}
