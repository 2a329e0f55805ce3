//! The certificate files the HTTPS server reads: written atomically, watched for changes.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::CertsError;

fn io_error(path: &Path, source: std::io::Error) -> CertsError {
    CertsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `cert` and `key` to `cert_file` and `key_file` (creating the folder), each through
/// a temporary file and a rename so a reader never sees half a file; the key is readable by
/// the owner only. Returns whether anything changed (same contents: nothing is written).
pub fn write_pair(
    cert_file: &Path,
    key_file: &Path,
    cert: &str,
    key: &str,
) -> Result<bool, CertsError> {
    let same = |path: &Path, text: &str| std::fs::read(path).is_ok_and(|b| b == text.as_bytes());
    if same(cert_file, cert) && same(key_file, key) {
        return Ok(false);
    }
    // Key first: a reload between the two renames fails the key/cert match check and keeps
    // the old pair; the next reload (after both) takes the new one.
    write_atomic(key_file, key.as_bytes(), true)?;
    write_atomic(cert_file, cert.as_bytes(), false)?;
    Ok(true)
}

fn write_atomic(path: &Path, contents: &[u8], private: bool) -> Result<(), CertsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut tmp = PathBuf::from(path);
    tmp.set_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(|e| io_error(&tmp, e))?;
    file.write_all(contents).map_err(|e| io_error(&tmp, e))?;
    file.sync_all().map_err(|e| io_error(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// The contents of both files, to notice a change (by cert-manager, the kubelet swapping a
/// Secret volume, or a person). `None` while either is unreadable.
pub fn fingerprint(cert_file: &Path, key_file: &Path) -> Option<(Vec<u8>, Vec<u8>)> {
    Some((
        std::fs::read(cert_file).ok()?,
        std::fs::read(key_file).ok()?,
    ))
}

/// Watches mounted files (cert-manager): every `interval`, compares them with `seen` (their
/// [`fingerprint`] when they were loaded) and calls `on_change` when they differ. `what`
/// names the certificate in the logs.
pub fn watch(
    cert_file: PathBuf,
    key_file: PathBuf,
    mut seen: (Vec<u8>, Vec<u8>),
    interval: std::time::Duration,
    what: &'static str,
    on_change: impl Fn() + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if let Some(now) = fingerprint(&cert_file, &key_file)
                && now != seen
            {
                seen = now;
                tracing::info!(cert_file = %cert_file.display(), "the mounted {what} certificate changed");
                on_change();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_and_reports_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k) = (dir.path().join("a/tls.crt"), dir.path().join("a/tls.key"));
        assert!(write_pair(&c, &k, "cert", "key").expect("write"));
        assert!(!write_pair(&c, &k, "cert", "key").expect("same"));
        let before = fingerprint(&c, &k);
        assert!(write_pair(&c, &k, "cert2", "key").expect("changed"));
        assert_ne!(before, fingerprint(&c, &k));
        assert_eq!(std::fs::read_to_string(&c).expect("read"), "cert2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&k).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(fingerprint(&dir.path().join("missing"), &k).is_none());
    }
}
