//! The tools that build an sdist into a wheel: pip, setuptools, wheel, flit_core and
//! hatchling (with what hatchling imports), as pure-Python wheels pinned by SHA256, installed with [`crate::wheel::install`] into the
//! `build-tools` layer (build + cache, never launch: they are not in the image unless the
//! app's requirements.txt pins them itself).
//!
//! The table comes from PyPI's JSON API (`https://pypi.org/pypi/<name>/<version>/json`,
//! the `bdist_wheel` file's `url` and `digests.sha256`). Updating a tool means replacing its
//! entry with the newer release's; the layer is keyed by [`tools_digest`], so the change
//! rebuilds it and every package built from an sdist.

use std::path::{Path, PathBuf};

use kiln_sdk::Error;
use sha2::{Digest, Sha256};

use crate::requirements::normalize;

/// One pinned wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The project name (normalized, PEP 503).
    pub name: &'static str,
    /// The version.
    pub version: &'static str,
    /// The wheel's URL on PyPI's file host.
    pub url: &'static str,
    /// The wheel's SHA256.
    pub sha256: &'static str,
}

/// The build tools (Python >= 3.10 for pip, setuptools and hatchling: CPython 3.11 is fine).
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "pip",
        version: "26.3",
        url: "https://files.pythonhosted.org/packages/07/25/ee8c38ae72d66b844ce8eb9711ba905dba21ca1a8a0c960057c41cd23337/pip-26.3-py3-none-any.whl",
        sha256: "f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13",
    },
    Tool {
        name: "setuptools",
        version: "84.2.1",
        url: "https://files.pythonhosted.org/packages/ef/55/6dc6d6bb953bdfc52519a0059592c52b6e3b8ad51cf8256dffceb55b0610/setuptools-84.2.1-py3-none-any.whl",
        sha256: "ca140b45d5325a9478f880e351484f62fef15f336462e449ca0c03c873d589c2",
    },
    Tool {
        name: "wheel",
        version: "0.48.0",
        url: "https://files.pythonhosted.org/packages/2e/29/69cfbb602cd91690c55d38ba9fe53e6a7e76a6fa647bf38f19c138d25449/wheel-0.48.0-py3-none-any.whl",
        sha256: "3217dcc807155e45db462d7ef2431f5ddda0d7273b700d05a67b271ceb1287ab",
    },
    Tool {
        name: "flit-core",
        version: "4.2.0",
        url: "https://files.pythonhosted.org/packages/d9/f0/e546c28b937f094b354ca29b9060c5f1dd5043a332b2905049a51420b7a2/flit_core-4.2.0-py3-none-any.whl",
        sha256: "2bee22dc8ba89c2e35b4e1ad575e596aac945c85672dd8f3cad21b629036e044",
    },
    Tool {
        name: "hatchling",
        version: "1.33.0",
        url: "https://files.pythonhosted.org/packages/32/64/4afe5dd77b2939a93e8c9513f8082dbd049ecba9c1484a379a0f6ae29d6b/hatchling-1.33.0-py3-none-any.whl",
        sha256: "415290b84f464d2884303fca8974d38e7b85579069fab02a15db0828fbb1446d",
    },
    // hatchling's requirements (Requires-Dist of hatchling 1.33.0, for Python 3.11).
    Tool {
        name: "packaging",
        version: "26.4",
        url: "https://files.pythonhosted.org/packages/ba/7b/5504f91c9c2733f693d7759e50ede5d27119d4da7e5836c46d3b5ff81d56/packaging-26.4-py3-none-any.whl",
        sha256: "81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2",
    },
    Tool {
        name: "pathspec",
        version: "1.1.1",
        url: "https://files.pythonhosted.org/packages/f1/d9/7fb5aa316bc299258e68c73ba3bddbc499654a07f151cba08f6153988714/pathspec-1.1.1-py3-none-any.whl",
        sha256: "a00ce642f577bf7f473932318056212bc4f8bfdf53128c78bbd5af0b9b20b189",
    },
    Tool {
        name: "pluggy",
        version: "1.7.0",
        url: "https://files.pythonhosted.org/packages/40/9e/2b38731e0fc536806f16490e1a12d7f0dc2a1235aa8cc07bcc75416a7daa/pluggy-1.7.0-py3-none-any.whl",
        sha256: "7dd7b0d8832ba3cb632c306926ded123429211b83641b35dc5c41ad2d34f9bec",
    },
    Tool {
        name: "tomlkit",
        version: "0.15.2",
        url: "https://files.pythonhosted.org/packages/da/46/7d84138a60a8bd796825b2d38ebe92d0d16501ca57d501b7c5d677401bbc/tomlkit-0.15.2-py3-none-any.whl",
        sha256: "05562412163a3037b94497385fb7f9204c637bc605af7a48199e41cf2272f437",
    },
    Tool {
        name: "trove-classifiers",
        version: "2026.9.21.13",
        url: "https://files.pythonhosted.org/packages/30/81/0da8afb52a71d0a4f2bd3152357b1a441e393b286374802b9d3addab4ab5/trove_classifiers-2026.9.21.13-py3-none-any.whl",
        sha256: "8b1ff4f9c191b1040b71c37f1e445ab99732911e3cd91de52838453a854d7a17",
    },
];

/// The build backends the tools provide (`build-backend` of pyproject.toml).
pub const BACKENDS: &[&str] = &["setuptools.build_meta", "setuptools.build_meta:__legacy__", "flit_core.buildapi", "hatchling.build"];

/// The layer's name.
pub const LAYER: &str = "build-tools";

/// Whether `project` (any spelling) is one of the tools.
pub fn carries(project: &str) -> bool {
    let project = normalize(project);
    TOOLS.iter().any(|t| t.name == project)
}

/// `name version` of every tool, for messages: `pip 26.3, setuptools 84.2.1, ...`.
pub fn describe() -> String {
    TOOLS.iter().map(|t| format!("{} {}", t.name, t.version)).collect::<Vec<_>>().join(", ")
}

/// `sha256:<hex>` over every tool's name, version and digest: the layer's key, and part of
/// the `packages` layer's key (a wheel built by other tools is another wheel).
pub fn tools_digest() -> String {
    let mut hasher = Sha256::new();
    for tool in TOOLS {
        hasher.update(format!("{} {} {}\n", tool.name, tool.version, tool.sha256));
    }
    format!("sha256:{:x}", hasher.finalize())
}

/// The layer's `site-packages` (what goes on `PYTHONPATH` for a build step).
pub fn site_packages(layer_dir: &Path) -> PathBuf {
    layer_dir.join("site-packages")
}

/// Fetch every tool into `scratch` and install it into `layer_dir` (scripts with
/// `interpreter` as their `#!`). Returns the wheel file names installed.
pub fn install(layer_dir: &Path, scratch: &Path, interpreter: &str) -> Result<Vec<String>, Error> {
    let site_packages = site_packages(layer_dir);
    std::fs::create_dir_all(&site_packages)?;
    let mut installed = Vec::new();
    for tool in TOOLS {
        let file_name = tool.url.rsplit('/').next().unwrap_or_default().to_string();
        let file = scratch.join(&file_name);
        kiln_sdk::fetch(tool.url, &format!("sha256:{}", tool.sha256), &file)
            .map_err(|e| e.context(format!("kiln/python: downloading the build tool {} {}", tool.name, tool.version)))?;
        crate::wheel::install(&file, &file_name, &site_packages, &layer_dir.join("bin"), interpreter)?;
        std::fs::remove_file(&file)?;
        installed.push(file_name);
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wheel::WheelName;

    #[test]
    fn the_table_is_pure_python_wheels_on_the_file_host() {
        for tool in TOOLS {
            assert!(tool.url.starts_with("https://files.pythonhosted.org/packages/"), "{}", tool.url);
            let file = tool.url.rsplit('/').next().unwrap();
            let wheel = WheelName::parse(file).unwrap();
            assert_eq!(normalize(&wheel.name), tool.name, "{file}");
            assert_eq!(wheel.version, tool.version, "{file}");
            assert_eq!(wheel.incompatibility(), None, "{file}");
            assert_eq!(wheel.platform, ["any"], "{file} is not pure Python");
            assert_eq!(tool.sha256.len(), 64, "{}", tool.name);
            assert!(tool.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{}", tool.name);
        }
        for needed in ["pip", "setuptools", "wheel", "flit_core", "Flit-Core", "hatchling"] {
            assert!(carries(needed), "{needed}");
        }
        for missing in ["poetry-core", "maturin", "hatch-vcs", "setuptools-scm"] {
            assert!(!carries(missing), "{missing}");
        }
    }

    #[test]
    fn the_digest_changes_with_the_table() {
        let digest = tools_digest();
        assert!(digest.starts_with("sha256:") && digest.len() == 71);
        assert_eq!(digest, tools_digest());
        assert!(describe().starts_with("pip 26.3, setuptools 84.2.1, wheel 0.48.0"), "{}", describe());
    }
}
