//! What kind of Java app the app dir holds, tried in this order:
//!
//! 1. executable jars (`*.jar` at the top of the app dir whose manifest names a `Main-Class`);
//! 2. an exploded jar (`META-INF/MANIFEST.MF` with a `Main-Class` at the top: what
//!    `pack build --path app.jar` hands a buildpack);
//! 3. a Maven (`pom.xml`) or Gradle (`build.gradle`, `build.gradle.kts`) project: detected
//!    so that the build can say these are not supported yet;
//! 4. Java sources: `src/main/java/**/*.java` (Maven's layout), else `src/**/*.java`.

use std::path::{Path, PathBuf};

use crate::manifest::Manifest;

/// Nesting depth searched for `.java` files below the source root.
const MAX_SOURCE_DEPTH: usize = 32;

/// A Java app kiln/java knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// Executable jars at the top of the app dir (file names, sorted); more than one is an
    /// error at build time.
    Jars(Vec<(String, Manifest)>),
    /// The app dir is an exploded jar.
    Exploded(Manifest),
    /// A build tool's project: `pom.xml`, `build.gradle` or `build.gradle.kts`.
    BuildTool(&'static str),
    /// Sources below `root` (relative to the app dir: `src/main/java` or `src`), with
    /// resources (`src/main/resources`) when the Maven layout has them.
    Sources {
        /// The source root.
        root: &'static str,
        /// The resources dir, if there is one.
        resources: Option<&'static str>,
    },
}

impl App {
    /// What `app` holds, or why it is not a Java app kiln/java builds.
    pub fn scan(app: &Path) -> Result<App, String> {
        let mut not_executable = Vec::new();
        let mut jars = Vec::new();
        for name in top_level_jars(app) {
            match Manifest::of_jar(&app.join(&name)) {
                Ok(Some(manifest)) if manifest.is_executable() => jars.push((name, manifest)),
                Ok(_) => not_executable.push(name),
                Err(e) => not_executable.push(format!("{name} ({e})")),
            }
        }
        if !jars.is_empty() {
            return Ok(App::Jars(jars));
        }
        if let Some(manifest) = Manifest::of_dir(app).filter(Manifest::is_executable) {
            return Ok(App::Exploded(manifest));
        }
        if let Some(file) = ["pom.xml", "build.gradle", "build.gradle.kts"].into_iter().find(|f| app.join(f).is_file()) {
            return Ok(App::BuildTool(file));
        }
        if has_java_file(&app.join("src/main/java"), 0) {
            let resources = app.join("src/main/resources").is_dir().then_some("src/main/resources");
            return Ok(App::Sources { root: "src/main/java", resources });
        }
        if has_java_file(&app.join("src"), 0) {
            return Ok(App::Sources { root: "src", resources: None });
        }
        let mut why = "no executable jar, META-INF/MANIFEST.MF with a Main-Class, pom.xml, build.gradle or src/**/*.java".to_string();
        if !not_executable.is_empty() {
            why.push_str(&format!("; jars without a Main-Class: {}", not_executable.join(", ")));
        }
        Err(why)
    }
}

/// The `*.jar` files at the top of `app`, sorted.
fn top_level_jars(app: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(app) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.ends_with(".jar"))
        .collect();
    names.sort();
    names
}

/// Whether a `.java` file is somewhere below `dir` (symlinks are not followed).
fn has_java_file(dir: &Path, depth: usize) -> bool {
    if depth > MAX_SOURCE_DEPTH {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(Result::ok).any(|entry| match entry.file_type() {
        Ok(t) if t.is_file() => entry.file_name().to_string_lossy().ends_with(".java"),
        Ok(t) if t.is_dir() => has_java_file(&entry.path(), depth + 1),
        _ => false,
    })
}

/// Every regular file below `dir` (relative paths, sorted), for hashing and compiling;
/// symlinks are not followed.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > MAX_SOURCE_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.filter_map(Result::ok) {
            match entry.file_type() {
                Ok(t) if t.is_file() => out.push(entry.path().strip_prefix(base).expect("below base").to_path_buf()),
                Ok(t) if t.is_dir() => walk(base, &entry.path(), depth + 1, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, 0, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempApp(PathBuf);

    impl TempApp {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("kiln-java-detect-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempApp(dir)
        }
        fn write(&self, path: &str, text: &str) {
            let file = self.0.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        fn jar(&self, name: &str, manifest: &str) {
            let mut writer = zip::ZipWriter::new(std::fs::File::create(self.0.join(name)).unwrap());
            writer.start_file(crate::manifest::MANIFEST_PATH, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut writer, manifest.as_bytes()).unwrap();
            writer.finish().unwrap();
        }
    }

    impl Drop for TempApp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_detect_order_is_jar_exploded_build_tool_sources() {
        let app = TempApp::new("order");
        app.write("src/main/java/hello/Main.java", "package hello; class Main {}");
        app.write("src/main/resources/app.properties", "a=b");
        assert_eq!(App::scan(&app.0), Ok(App::Sources { root: "src/main/java", resources: Some("src/main/resources") }));
        app.write("pom.xml", "<project/>");
        assert_eq!(App::scan(&app.0), Ok(App::BuildTool("pom.xml")));
        app.write("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: hello.Main\n");
        assert!(matches!(App::scan(&app.0), Ok(App::Exploded(m)) if m.main_class.as_deref() == Some("hello.Main")));
        app.jar("lib.jar", "Manifest-Version: 1.0\n");
        assert!(matches!(App::scan(&app.0), Ok(App::Exploded(_))), "a library jar is not the app");
        app.jar("app.jar", "Manifest-Version: 1.0\nMain-Class: hello.Main\n");
        match App::scan(&app.0) {
            Ok(App::Jars(jars)) => assert_eq!(jars.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["app.jar"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plain_src_tree_and_what_is_not_java() {
        let app = TempApp::new("plain");
        app.write("src/deep/er/Hello.java", "class Hello {}");
        assert_eq!(App::scan(&app.0), Ok(App::Sources { root: "src", resources: None }));
        assert_eq!(files_below(&app.0.join("src")), [PathBuf::from("deep/er/Hello.java")]);

        let empty = TempApp::new("empty");
        empty.write("src/readme.txt", "no java");
        empty.write("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n");
        empty.jar("lib.jar", "Manifest-Version: 1.0\n");
        let why = App::scan(&empty.0).unwrap_err();
        assert!(why.contains("no executable jar") && why.contains("jars without a Main-Class: lib.jar"), "{why}");
    }
}
