//! Photo files in an S3-compatible object store (Amazon S3, MinIO, or
//! moto's server in the tests), through the `object_store` crate: the same
//! [`ObjectStore`] as the local directory, chosen by configuration, so
//! several Larder replicas share one set of files.

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore as _, ObjectStoreExt as _, PutPayload, RetryConfig};

use super::store::ObjectStore;
use crate::events::bus::BoxFuture;

/// Where the bucket is and how to reach it (`LARDER_S3_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// The address of an S3-compatible service other than AWS (MinIO,
    /// moto); AWS's own for the region otherwise.
    pub endpoint: Option<String>,
    pub region: String,
    /// Keys go under this prefix (`larder/`), so a bucket can be shared.
    pub prefix: String,
    /// Credentials; without them the standard AWS variables, profile or
    /// instance role are used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Without the secret: settings end up in logs.
impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

pub struct S3 {
    store: AmazonS3,
    prefix: String,
}

impl S3 {
    pub fn new(settings: &S3Settings) -> Result<Self, String> {
        // A store that is down fails a request within half a minute rather
        // than the crate's three (an upload waits on it).
        let retry = RetryConfig {
            max_retries: 4,
            retry_timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_retry(retry)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(30)),
            );
        if let Some(endpoint) = &settings.endpoint {
            // Path-style addresses: other services rarely serve one host
            // name per bucket.
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| format!("the S3 store cannot be used: {e}"))?;
        Ok(Self {
            store,
            prefix: settings.prefix.clone(),
        })
    }

    fn path(&self, key: &str) -> std::io::Result<Path> {
        let safe = !key.is_empty()
            && key
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !safe {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a storage key: {key:?}"),
            ));
        }
        Path::parse(format!("{}{key}", self.prefix))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))
    }
}

fn io(e: object_store::Error) -> std::io::Error {
    match e {
        object_store::Error::NotFound { .. } => {
            std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string())
        }
        other => std::io::Error::other(other.to_string()),
    }
}

impl ObjectStore for S3 {
    /// One PUT: S3 makes an object visible whole or not at all.
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(io)
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let object = self.store.get(&path).await.map_err(io)?;
            Ok(object.bytes().await.map_err(io)?.to_vec())
        })
    }

    /// The bucket answers a listing of Larder's prefix (one level).
    fn ready(&self) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(async move {
            let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
            self.store
                .list_with_delimiter(prefix.as_ref())
                .await
                .map(|_| ())
                .map_err(io)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(io(e)),
            }
        })
    }
}
