//! What the app has that kiln/python looks at: `requirements.txt`, `pyproject.toml`, a
//! `Procfile`, an entry script.

use std::path::Path;

use kiln_sdk::Error;

/// The files kiln/python cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFiles {
    /// `requirements.txt` exists.
    pub requirements: bool,
    /// `pyproject.toml` exists.
    pub pyproject: bool,
    /// `Procfile` exists (the procfile buildpack declares the processes then).
    pub procfile: bool,
    /// `app.py` or `main.py`, the first that exists.
    pub entry_script: Option<&'static str>,
    /// A WSGI module for waitress: `app` (a package `app/`) or `wsgi` (`wsgi.py`).
    pub wsgi_module: Option<&'static str>,
}

impl AppFiles {
    /// Look at `app`.
    pub fn scan(app: &Path) -> Self {
        AppFiles {
            requirements: app.join("requirements.txt").is_file(),
            pyproject: app.join("pyproject.toml").is_file(),
            procfile: app.join("Procfile").is_file(),
            entry_script: ["app.py", "main.py"].into_iter().find(|f| app.join(f).is_file()),
            wsgi_module: if app.join("app/__init__.py").is_file() {
                Some("app")
            } else if app.join("wsgi.py").is_file() {
                Some("wsgi")
            } else {
                None
            },
        }
    }

    /// Whether this is a Python app kiln/python builds.
    pub fn is_python(&self) -> bool {
        self.requirements || self.pyproject
    }
}

/// The dependencies a `pyproject.toml` declares (`[project] dependencies`, and Poetry's
/// `[tool.poetry.dependencies]` other than `python`), by name.
pub fn pyproject_dependencies(text: &str) -> Result<Vec<String>, Error> {
    let doc: toml::Table = text.parse().map_err(|e| Error::new(format!("kiln/python: pyproject.toml is not valid TOML: {e}")))?;
    let mut names = Vec::new();
    if let Some(deps) = doc.get("project").and_then(|p| p.get("dependencies")).and_then(|d| d.as_array()) {
        names.extend(deps.iter().filter_map(|d| d.as_str()).map(str::to_string));
    }
    let poetry = doc.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("dependencies")).and_then(|d| d.as_table());
    if let Some(deps) = poetry {
        names.extend(deps.keys().filter(|k| k.as_str() != "python").cloned());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyproject_dependencies_from_pep_621_and_poetry() {
        let pep621 = "[project]\nname = \"x\"\ndependencies = [\"flask>=3\", \"waitress\"]\n";
        assert_eq!(pyproject_dependencies(pep621).unwrap(), ["flask>=3", "waitress"]);
        let poetry = "[tool.poetry.dependencies]\npython = \"^3.11\"\nrequests = \"^2\"\n";
        assert_eq!(pyproject_dependencies(poetry).unwrap(), ["requests"]);
        assert!(pyproject_dependencies("[project]\nname = \"x\"\n").unwrap().is_empty());
        assert!(pyproject_dependencies("[project").unwrap_err().to_string().contains("pyproject.toml is not valid TOML"));
    }

    #[test]
    fn scan_finds_the_entry_script_and_wsgi_module() {
        let app = std::env::temp_dir().join(format!("kiln-python-scan-{}", std::process::id()));
        std::fs::create_dir_all(app.join("app")).unwrap();
        std::fs::write(app.join("pyproject.toml"), "").unwrap();
        std::fs::write(app.join("app/__init__.py"), "").unwrap();
        std::fs::write(app.join("main.py"), "").unwrap();
        let files = AppFiles::scan(&app);
        assert!(files.is_python() && files.pyproject && !files.requirements && !files.procfile);
        assert_eq!(files.entry_script, Some("main.py"));
        assert_eq!(files.wsgi_module, Some("app"));
        std::fs::remove_dir_all(&app).unwrap();
        assert!(!AppFiles::scan(&app).is_python());
    }
}
