//! The package set: the requested packages plus their `Pre-Depends`/`Depends` closure.
//!
//! Rules (simpler than apt's, enough for a run image that never runs dpkg):
//! - a requirement already met by a chosen package (by name or by its `Provides`) adds nothing;
//! - a requirement any of whose alternatives is excluded is dropped (see [`DEFAULT_EXCLUDES`]);
//! - otherwise the first alternative that is a real package is chosen, else the first provider
//!   (by name) of the first alternative that is a virtual package;
//! - version constraints are checked with dpkg's ordering ([`compare_versions`]) and an
//!   unmet one is a warning, not an error: the index holds one version per package anyway;
//! - a requirement nothing in the index meets is a warning; a requested package that does not
//!   exist is an error.
//!
//! The result is sorted by name, so the same index and request give the same set.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::packages::{Package, PackageIndex, Relation};

/// The packages left out of the closure unless requested by name. Distroless does the same:
/// no maintainer script runs in the image, so the packages that exist to run them (debconf,
/// perl-base, dpkg and their helpers) are not needed, and `openssl` is needed by
/// `ca-certificates` only for its postinst (kiln builds the CA bundle itself).
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "cdebconf",
    "debconf",
    "debconf-2.0",
    "debianutils",
    "dpkg",
    "init-system-helpers",
    "install-info",
    "openssl",
    "perl-base",
    "sensible-utils",
    "usr-is-merged",
    "usrmerge",
];

/// The chosen package set.
#[derive(Debug, Clone)]
pub struct Resolution<'a> {
    /// The packages to unpack, sorted by name.
    pub packages: Vec<&'a Package>,
    /// Excluded names that some package required, sorted.
    pub excluded: Vec<String>,
    /// Unmet version constraints and requirements nothing meets.
    pub warnings: Vec<String>,
}

/// Resolves `requested` and its dependency closure in `index`, leaving out `exclude`
/// (a requested name is never excluded). See the module docs for the rules.
pub fn resolve<'a>(index: &'a PackageIndex, requested: &[String], exclude: &BTreeSet<String>) -> Result<Resolution<'a>, String> {
    let exclude: BTreeSet<&str> = exclude.iter().map(String::as_str).filter(|e| !requested.iter().any(|r| r == e)).collect();
    let mut chosen: BTreeMap<&str, &Package> = BTreeMap::new();
    let mut provided: HashMap<String, &'a str> = HashMap::new();
    let mut excluded = BTreeSet::new();
    let mut warnings = Vec::new();
    let mut queue = VecDeque::new();

    fn choose<'a>(
        package: &'a Package,
        chosen: &mut BTreeMap<&'a str, &'a Package>,
        provided: &mut HashMap<String, &'a str>,
        queue: &mut VecDeque<&'a Package>,
    ) {
        if chosen.insert(package.name.as_str(), package).is_none() {
            for p in super::packages::parse_relations(&package.provides).into_iter().flatten() {
                provided.entry(p.name).or_insert(package.name.as_str());
            }
            queue.push_back(package);
        }
    }

    for name in requested {
        let package = index
            .get(name)
            .or_else(|| index.providers(name).first().and_then(|p| index.get(p)))
            .ok_or_else(|| format!("package {name} is not in the archive's index"))?;
        choose(package, &mut chosen, &mut provided, &mut queue);
    }

    while let Some(package) = queue.pop_front() {
        for group in package.dependencies() {
            let met = group.iter().find_map(|alt| {
                chosen.get(alt.name.as_str()).map(|p| (alt, *p)).or_else(|| {
                    let provider = provided_by(&provided, &chosen, &alt.name)?;
                    // A virtual package meets only unversioned requirements here.
                    Some((alt, provider)).filter(|_| alt.version.is_none())
                })
            });
            if let Some((alt, p)) = met {
                check_version(package, alt, p, &mut warnings);
                continue;
            }
            if let Some(alt) = group.iter().find(|alt| exclude.contains(alt.name.as_str())) {
                excluded.insert(alt.name.clone());
                continue;
            }
            let pick = group.iter().find_map(|alt| Some((alt, index.get(&alt.name)?))).or_else(|| {
                group.iter().find_map(|alt| {
                    let provider = index.providers(&alt.name).iter().find(|p| !exclude.contains(p.as_str()))?;
                    Some((alt, index.get(provider)?))
                })
            });
            match pick {
                Some((alt, p)) => {
                    if index.get(&alt.name).is_some() {
                        check_version(package, alt, p, &mut warnings);
                    }
                    choose(p, &mut chosen, &mut provided, &mut queue);
                }
                None => warnings.push(format!("{} requires {}, which nothing in the index provides", package.name, describe(&group))),
            }
        }
    }
    Ok(Resolution { packages: chosen.into_values().collect(), excluded: excluded.into_iter().collect(), warnings })
}

fn provided_by<'a>(provided: &HashMap<String, &str>, chosen: &BTreeMap<&str, &'a Package>, name: &str) -> Option<&'a Package> {
    chosen.get(provided.get(name)?).copied()
}

fn describe(group: &[Relation]) -> String {
    group
        .iter()
        .map(|r| match &r.version {
            Some((op, v)) => format!("{} ({op} {v})", r.name),
            None => r.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn check_version(by: &Package, relation: &Relation, chosen: &Package, warnings: &mut Vec<String>) {
    let Some((op, wanted)) = &relation.version else {
        return;
    };
    if chosen.name != relation.name {
        return;
    }
    let ord = compare_versions(&chosen.version, wanted);
    let ok = match op.as_str() {
        ">=" => ord != Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">>" | ">" => ord == Ordering::Greater,
        "<<" | "<" => ord == Ordering::Less,
        "=" => ord == Ordering::Equal,
        _ => true,
    };
    if !ok {
        warnings
            .push(format!("{} requires {} ({op} {wanted}) but the index has {}; using it anyway", by.name, relation.name, chosen.version));
    }
}

/// Compares two Debian versions (`[epoch:]upstream[-revision]`) as dpkg does: epochs
/// numerically, then upstream and revision with `~` sorting before everything (even the
/// end), letters before other characters, and digit runs compared as numbers.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, rest)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((upstream, revision)) => (epoch, upstream, revision),
            None => (epoch, rest, ""),
        }
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb).then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes())).then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

fn order(c: Option<&u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(c) => i32::from(*c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i)), order(b.get(j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::super::packages::tests::PACKAGES;
    use super::*;

    fn defaults() -> BTreeSet<String> {
        DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect()
    }

    fn names(r: &Resolution<'_>) -> Vec<String> {
        r.packages.iter().map(|p| p.name.clone()).collect()
    }

    #[test]
    fn closure_without_excluded_packages() {
        let index = PackageIndex::parse(PACKAGES).unwrap();
        let req: Vec<String> = ["libc6", "tzdata", "ca-certificates"].map(String::from).into();
        let r = resolve(&index, &req, &defaults()).unwrap();
        assert_eq!(names(&r), ["ca-certificates", "gcc-12-base", "libc6", "libgcc-s1", "tzdata"]);
        assert_eq!(r.excluded, ["debconf", "openssl"]);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn requested_names_are_never_excluded_and_virtuals_resolve() {
        let index = PackageIndex::parse(PACKAGES).unwrap();
        let req: Vec<String> = ["tzdata", "debconf"].map(String::from).into();
        let r = resolve(&index, &req, &defaults()).unwrap();
        // debconf is requested, so it meets tzdata's `debconf | debconf-2.0`; its own
        // Pre-Depends perl-base stays excluded.
        assert_eq!(names(&r), ["debconf", "tzdata"]);
        assert_eq!(r.excluded, ["perl-base"]);

        // `gawk | awk`: gawk is not in the index, awk is virtual, provided by mawk.
        let req = vec!["needs-awk".to_owned()];
        let r = resolve(&index, &req, &defaults()).unwrap();
        assert_eq!(names(&r), ["gcc-12-base", "libc6", "libgcc-s1", "mawk", "needs-awk"]);
        // libc6 (>= 9.0) is not met by 2.36: a warning, not an error.
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("libc6 (>= 9.0)"), "{:?}", r.warnings);

        // A requested virtual package picks its provider.
        let r = resolve(&index, &["awk".to_owned()], &defaults()).unwrap();
        assert_eq!(names(&r)[3], "mawk");

        let err = resolve(&index, &["nope".to_owned()], &defaults()).unwrap_err();
        assert!(err.contains("nope"));
    }

    #[test]
    fn without_exclusions_the_full_closure_is_taken() {
        let index = PackageIndex::parse(PACKAGES).unwrap();
        let r = resolve(&index, &["tzdata".to_owned()], &BTreeSet::new()).unwrap();
        assert_eq!(names(&r), ["debconf", "tzdata"]);
        assert_eq!(r.warnings.len(), 1, "perl-base is missing from the index: {:?}", r.warnings);
    }

    #[test]
    fn dpkg_version_order() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+deb12u1", Less),
            ("2.36-9+deb12u10", "2.36-9+deb12u9", Greater),
            ("1:1.0", "2.0", Greater),
            ("1.0-1", "1.0-1~bpo1", Greater),
            ("1.0a", "1.0+", Less),
            ("12.2.0-14+deb12u1", "12.2.0-14", Greater),
            ("1.001", "1.1", Equal),
            ("2025b-0+deb12u1", "2025a-0+deb12u1", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
