//! A private temporary directory (mode 0700) holding one operation's files (mode 0600).
//! Documents and signatures pass to tools only as files here; the directory is removed when dropped.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::SigningError;

/// One signing or verification's scratch directory.
pub(crate) struct WorkDir {
    dir: tempfile::TempDir,
}

impl WorkDir {
    /// Creates the directory under the system temporary directory; `tempfile` makes it 0700.
    pub fn new() -> Result<Self, SigningError> {
        let dir = tempfile::Builder::new()
            .prefix("ipra-signing-")
            .tempdir()
            .map_err(|e| SigningError::io("создание временного каталога", e))?;
        Ok(WorkDir { dir })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory (nothing is created).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to a new file readable only by this user and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, SigningError> {
        let path = self.file(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&path)
            .map_err(|e| SigningError::io("создание временного файла", e))?;
        file.write_all(bytes)
            .map_err(|e| SigningError::io("запись временного файла", e))?;
        Ok(path)
    }

    /// Reads a file of the directory; a missing file is `None`.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SigningError> {
        match std::fs::read(self.file(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SigningError::io("чтение временного файла", e)),
        }
    }
}

/// Fails with [`SigningError::FileUnavailable`] unless `path` can be opened for reading.
pub(crate) fn require_readable(path: &Path, what: &'static str) -> Result<(), SigningError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| SigningError::FileUnavailable {
            path: path.to_path_buf(),
            what,
            reason: e.to_string(),
        })
}
