//! Test tiers: the network tier (tests that reach the Debian archive, the npm registry or
//! PyPI) runs only with `KILN_NETWORK_TESTS=1`, which `.ci/run` sets.

/// Whether the network tier is on; when it is off, says which test is skipped and how to
/// run it.
pub fn network_tests_enabled(what: &str) -> bool {
    if std::env::var("KILN_NETWORK_TESTS").is_ok_and(|v| v == "1") {
        return true;
    }
    // CI runs every tier: a CI run without the switch is a broken CI setup, not a skip.
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{what} needs KILN_NETWORK_TESTS=1 under CI=true (.ci/run sets it)");
    eprintln!("skipping {what}: set KILN_NETWORK_TESTS=1 to run the network tier (.ci/run does)");
    false
}
