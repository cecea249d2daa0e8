//! The JRE's trust store, `lib/security/cacerts`: Debian makes it in ca-certificates-java's
//! postinst, which never runs here, so kiln/java makes it from the build rootfs's CA bundle
//! (`/etc/ssl/certs/ca-certificates.crt`, which `kiln base build` writes into the run
//! image). The JRE's own `java` runs [`HELPER`] (a single-file source program, `java
//! CaCerts.java`) in kiln's jail; the store is PKCS12 without encryption or MAC, so the same
//! bundle gives the same bytes, with the JDK's usual password `changeit`.
//!
//! Without a jail (`--deny-exec`, no user namespaces) or without a bundle the JRE still
//! works, but outgoing TLS from the app fails: a warning says so.

use std::path::Path;

use kiln_sdk::Error;
use kiln_sdk::exec::Command;

/// The helper's source.
pub const HELPER: &str = include_str!("java/CaCerts.java");

/// Where the bundle is in the build rootfs.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The helper's exit code when there is no bundle.
const NO_BUNDLE: i32 = 3;

/// Write `<java_home>/lib/security/cacerts`; `scratch` is an empty dir inside a granted dir.
/// Returns whether the store was written (a warning was logged when not).
pub fn write(java_home: &Path, scratch: &Path) -> Result<bool, Error> {
    std::fs::create_dir_all(scratch)?;
    let source = scratch.join("CaCerts.java");
    std::fs::write(&source, HELPER)?;
    let store = java_home.join("lib/security/cacerts");
    let bin = java_home.join("bin");
    let status = Command::new(bin.join("java"))
        .args([
            "-Dkeystore.pkcs12.certProtectionAlgorithm=NONE",
            "-Dkeystore.pkcs12.macAlgorithm=NONE",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
        ])
        .arg(source.display().to_string())
        .arg(CA_BUNDLE)
        .arg(store.display().to_string())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("JAVA_HOME", java_home.display().to_string())
        .env("LANG", "C.UTF-8")
        .current_dir(scratch)
        .status();
    std::fs::remove_dir_all(scratch)?;
    let why = match status {
        Ok(status) if status.success() && store.is_file() => return Ok(true),
        Ok(status) if status.code() == Some(NO_BUNDLE) => format!("the build rootfs has no {CA_BUNDLE}"),
        Ok(status) => format!("the trust store helper ended with {status}"),
        Err(e) => format!("native steps are not available ({e})"),
    };
    kiln_sdk::log::warn(&format!(
        "kiln/java: no trust store (lib/security/cacerts): {why}; the app's outgoing TLS connections will fail \
         unless it brings its own (-Djavax.net.ssl.trustStore)"
    ));
    Ok(false)
}
