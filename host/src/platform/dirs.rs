//! Where kiln keeps its state: `$KILN_HOME` if set, else the user's data and cache dirs.
//!
//! | what | with `KILN_HOME` | default |
//! |---|---|---|
//! | image store (an OCI layout) | `$KILN_HOME/store` | `~/.local/share/kiln/store` |
//! | compiled components, caches | `$KILN_HOME/cache` | `~/.cache/kiln` |
//! | temporary build dirs | `$KILN_HOME/work` | `~/.cache/kiln/work` |

use std::path::PathBuf;

/// kiln's directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The local image store.
    pub store: PathBuf,
    /// The cache root.
    pub cache: PathBuf,
    /// Temporary build dirs.
    pub work: PathBuf,
}

impl Dirs {
    /// Resolve from the environment.
    pub fn from_env() -> Dirs {
        if let Some(home) = std::env::var_os("KILN_HOME") {
            let home = PathBuf::from(home);
            return Dirs { store: home.join("store"), cache: home.join("cache"), work: home.join("work") };
        }
        let project = directories::ProjectDirs::from("", "", "kiln");
        let (data, cache) = match &project {
            Some(p) => (p.data_dir().to_path_buf(), p.cache_dir().to_path_buf()),
            None => (std::env::temp_dir().join("kiln"), std::env::temp_dir().join("kiln-cache")),
        };
        Dirs { store: data.join("store"), work: cache.join("work"), cache }
    }
}
