//! Where photo files live: behind [`ObjectStore`], so an S3-compatible
//! store can replace the local directory without touching callers. Keys
//! are relative paths made by Larder (`photos/<org>/<photo>/thumb.jpg`),
//! never from user input.

use std::path::{Path, PathBuf};

use crate::events::bus::BoxFuture;

pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `bytes` under `key`, replacing what was there; a reader never
    /// sees half a file. Owned, so a store that sends them on need not copy
    /// a whole photo again.
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>>;
    /// Removes `key`; a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>>;
    /// Whether the store can be used now (for readiness); a local
    /// directory always can.
    fn ready(&self) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The store the settings name: the S3 bucket when there is one, else
/// `objects/` in the data directory.
pub fn open(
    s3: Option<&crate::photos::s3::S3Settings>,
    data_dir: &Path,
) -> Result<std::sync::Arc<dyn ObjectStore>, String> {
    Ok(match s3 {
        Some(s3) => std::sync::Arc::new(crate::photos::s3::S3::new(s3)?),
        None => std::sync::Arc::new(LocalDir::new(data_dir.join("objects"))),
    })
}

/// Files in a directory on this machine (the default).
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        let relative = Path::new(key);
        let safe = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a storage key: {key:?}"),
            ));
        }
        Ok(self.root.join(relative))
    }
}

impl ObjectStore for LocalDir {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let dir = path.parent().expect("a key has a file name");
            tokio::fs::create_dir_all(dir).await?;
            let partial = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4()));
            let written = async {
                tokio::fs::write(&partial, &bytes).await?;
                tokio::fs::File::open(&partial).await?.sync_all().await?;
                tokio::fs::rename(&partial, &path).await
            }
            .await;
            if written.is_err() {
                let _ = tokio::fs::remove_file(&partial).await;
            }
            written
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<Vec<u8>>> {
        Box::pin(async move { tokio::fs::read(self.path(key)?).await })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_delete_and_no_escape() {
        let dir = std::env::temp_dir().join(format!("larder-store-{}", uuid::Uuid::new_v4()));
        let store = LocalDir::new(&dir);
        store.put("photos/a/b.jpg", b"one".to_vec()).await.unwrap();
        store.put("photos/a/b.jpg", b"two".to_vec()).await.unwrap();
        assert_eq!(store.get("photos/a/b.jpg").await.unwrap(), b"two");
        store.delete("photos/a/b.jpg").await.unwrap();
        store.delete("photos/a/b.jpg").await.unwrap();
        assert!(store.get("photos/a/b.jpg").await.is_err());
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(store.put(bad, b"x".to_vec()).await.is_err(), "{bad}");
        }
        // Nothing but the directory the first put made is left.
        let left: Vec<_> = std::fs::read_dir(dir.join("photos/a")).unwrap().collect();
        assert!(left.is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
