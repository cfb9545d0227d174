//! `larder copy-data --from <old DATABASE_URL> [--photos-from <dir>]`: moves
//! a Larder (typically the single SQLite instance) onto the configuration
//! in the environment: every row into `DATABASE_URL` (PostgreSQL, empty),
//! every photo file into the configured store (the S3 bucket).
//!
//! Run it with the old server stopped; the new replicas start afterwards.
//! The rows go in one transaction: a failed copy leaves the target empty
//! and can simply be run again. Photo files are put under the same keys;
//! putting one twice is harmless.

use std::path::{Path, PathBuf};

use app::db::Db;

use crate::config::{redact_url, Config};

/// What the command line asked for.
#[derive(Debug, PartialEq)]
pub struct CopyArgs {
    pub from: String,
    /// Where the old instance kept its photo files (`<data dir>/objects`).
    pub photos_from: Option<PathBuf>,
}

const USAGE: &str =
    "usage: larder copy-data --from <old DATABASE_URL> [--photos-from <old data dir>/objects]\n\
    The target is the configuration in the environment (DATABASE_URL, LARDER_S3_BUCKET, …).";

impl CopyArgs {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut from = None;
        let mut photos_from = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let mut value = |name: &str| {
                rest.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--from" => from = Some(value("--from")?),
                "--photos-from" => photos_from = Some(PathBuf::from(value("--photos-from")?)),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let from = from.ok_or_else(|| format!("--from is required\n{USAGE}"))?;
        if app::db::Backend::from_url(&from).is_none() {
            return Err(format!(
                "--from: expected a sqlite:// or postgres:// URL, got {}",
                redact_url(&from)
            ));
        }
        // An SQLite instance keeps its photos beside its database file.
        let photos_from = photos_from.or_else(|| {
            let path = from.strip_prefix("sqlite://")?;
            let path = Path::new(path.split('?').next()?);
            Some(path.parent()?.join("objects"))
        });
        Ok(Self { from, photos_from })
    }
}

/// Runs the copy, telling `say` what it does.
pub async fn run(
    config: &Config,
    args: &CopyArgs,
    mut say: impl FnMut(String),
) -> Result<(), String> {
    if args.from == config.database_url {
        return Err("--from names the same database as DATABASE_URL".into());
    }
    let from = Db::connect(&args.from)
        .await
        .map_err(|e| format!("could not open {}: {e}", redact_url(&args.from)))?;
    let to = Db::connect(&config.database_url)
        .await
        .map_err(|e| format!("could not open {}: {e}", redact_url(&config.database_url)))?;
    say(format!(
        "copying {} into {}",
        redact_url(&args.from),
        redact_url(&config.database_url)
    ));
    let copied = app::db::copy::copy_all(&from, &to, |table, n| {
        say(format!("  {table}: {n} rows"));
    })
    .await
    .map_err(|e| e.to_string())?;
    let rows: i64 = copied.iter().map(|(_, n)| n).sum();
    say(format!("{rows} rows in {} tables copied", copied.len()));

    let Some(dir) = &args.photos_from else {
        return Ok(());
    };
    if !dir.is_dir() {
        say(format!(
            "no photo files at {} (none to copy)",
            dir.display()
        ));
        return Ok(());
    }
    let store = app::photos::store::open(config.photo_s3.as_ref(), &config.data_dir)?;
    if config.photo_s3.is_none() && same_dir(dir, &config.data_dir.join("objects")) {
        say("photo files are already where the new configuration keeps them".into());
        return Ok(());
    }
    let mut files = 0usize;
    let mut bytes = 0usize;
    for (key, path) in walk(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        bytes += body.len();
        store
            .put(&key, body)
            .await
            .map_err(|e| format!("storing {key}: {e}"))?;
        files += 1;
    }
    say(format!("{files} photo files ({} KB) copied", bytes / 1024));
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Every file under `root`, with its key (its path below `root`, `/`
/// separated); leftovers of interrupted writes (`*.partial-…`) skipped.
fn walk(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
                continue;
            }
            let partial = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.starts_with("partial-"));
            if partial {
                continue;
            }
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((key, path));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<CopyArgs, String> {
        CopyArgs::parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_photos_of_an_sqlite_instance_are_found_beside_its_file() {
        let a = args(&["--from", "sqlite:///srv/larder/larder.db?mode=rwc"]).unwrap();
        assert_eq!(a.photos_from, Some(PathBuf::from("/srv/larder/objects")));
        let a = args(&["--from", "postgres://u@h/db", "--photos-from", "/x"]).unwrap();
        assert_eq!(a.photos_from, Some(PathBuf::from("/x")));
        assert_eq!(
            args(&["--from", "postgres://u@h/db"]).unwrap().photos_from,
            None
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert!(args(&[]).unwrap_err().starts_with("--from is required"));
        assert!(args(&["--from"])
            .unwrap_err()
            .starts_with("--from needs a value"));
        assert!(args(&["--to", "x"])
            .unwrap_err()
            .starts_with("unknown argument"));
        let e = args(&["--from", "mysql://u:secret@h/db"]).unwrap_err();
        assert!(e.contains("u:***@h/db") && !e.contains("secret"), "{e}");
    }
}
