//! A plain source tree compiled into an executable jar: the main class found in the sources
//! (or `BP_JAVA_MAIN_CLASS`), `javac` then `jar` of the `jdk` layer, both run in kiln's jail
//! (absolute paths, an explicit env, no network), the jar written into the `jar` layer.

use std::path::{Path, PathBuf};

use kiln_sdk::Error;
use kiln_sdk::exec::Command;

use crate::detect::files_below;

/// The jar's entry timestamp (`jar --date`), so the same sources give the same jar.
const JAR_DATE: &str = "1980-01-01T00:00:02Z";

/// JVM options for the build tools: a bounded heap (the jail's memory limit is the
/// buildpack's) and a quick start.
const TOOL_JVM_OPTIONS: &[&str] = &["-J-Xmx512m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-Xshare:auto"];

/// The class that has a `main` method in one source file: `package` + file stem, when the
/// file declares `static void main(`.
pub fn main_class_of(file: &Path, text: &str) -> Option<String> {
    let compact: String = strip_comments(text).split_whitespace().collect::<Vec<_>>().join(" ");
    if !declares_static_main(&compact) {
        return None;
    }
    let stem = file.file_stem()?.to_str()?;
    let package = compact
        .split(';')
        .map(str::trim)
        .find_map(|statement| statement.strip_prefix("package ").map(|p| p.replace(' ', "")))
        .filter(|p| !p.is_empty());
    Some(match package {
        Some(package) => format!("{package}.{stem}"),
        None => stem.to_string(),
    })
}

/// Whether a `void main(` in `compact` (whitespace collapsed) is declared `static`, with
/// its modifiers in any order (`public static`, `static public`, `static final`).
fn declares_static_main(compact: &str) -> bool {
    let compact = compact.replace("main (", "main(");
    compact.match_indices("void main(").any(|(at, _)| {
        let before = &compact[..at];
        let start = before.rfind([';', '{', '}']).map_or(0, |i| i + 1);
        before[start..].split_whitespace().any(|word| word == "static")
    })
}

/// `text` without `//` and `/* */` comments (string literals are not parsed: good enough to
/// find a `package` statement and a `main` declaration).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        match (rest.find("//"), rest.find("/*")) {
            (Some(line), block) if block.is_none_or(|b| line < b) => {
                out.push_str(&rest[..line]);
                rest = rest[line..].find('\n').map_or("", |end| &rest[line + end..]);
            }
            (_, Some(block)) => {
                out.push_str(&rest[..block]);
                out.push(' ');
                rest = rest[block + 2..].find("*/").map_or("", |end| &rest[block + 2 + end + 2..]);
            }
            _ => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    out
}

/// The main class to run: `configured` (`BP_JAVA_MAIN_CLASS`), else the only class with a
/// `main`, else the one of those named `Main`, `App` or `Application`.
pub fn choose_main_class(candidates: &[String], configured: Option<&str>, root: &str) -> Result<String, Error> {
    if let Some(class) = configured.map(str::trim).filter(|c| !c.is_empty()) {
        return Ok(class.to_string());
    }
    match candidates {
        [] => Err(Error::new(format!(
            "kiln/java: no class under {root}/ declares `public static void main(String[] args)`; add one, or set BP_JAVA_MAIN_CLASS"
        ))),
        [only] => Ok(only.clone()),
        several => {
            let preferred: Vec<&String> =
                several.iter().filter(|c| matches!(c.rsplit('.').next(), Some("Main" | "App" | "Application"))).collect();
            match preferred.as_slice() {
                [one] => Ok((*one).clone()),
                _ => Err(Error::new(format!(
                    "kiln/java: several classes under {root}/ have a main method ({}); set BP_JAVA_MAIN_CLASS to the one to run",
                    several.join(", ")
                ))),
            }
        }
    }
}

/// The `.java` files below `root` (relative to it, sorted) and the main class candidates.
pub fn scan_sources(root: &Path) -> Result<(Vec<PathBuf>, Vec<String>), Error> {
    let sources: Vec<PathBuf> = files_below(root).into_iter().filter(|f| f.extension().is_some_and(|e| e == "java")).collect();
    let mut mains = Vec::new();
    for file in &sources {
        let text = std::fs::read_to_string(root.join(file))
            .map_err(|e| Error::from(e).context(format!("kiln/java: reading {}", root.join(file).display())))?;
        mains.extend(main_class_of(file, &text));
    }
    Ok((sources, mains))
}

/// A path for a javac `@argfile`: quoted, with `\` and `"` escaped.
pub fn argfile_line(path: &Path) -> String {
    format!("\"{}\"", path.display().to_string().replace('\\', "\\\\").replace('"', "\\\""))
}

/// What [`build_jar`] needs.
pub struct JarBuild<'a> {
    /// `JAVA_HOME` of the `jdk` layer.
    pub java_home: &'a Path,
    /// The app dir (the tools' working dir).
    pub app_dir: &'a Path,
    /// The source root and its `.java` files (relative to it).
    pub root: &'a Path,
    /// The `.java` files.
    pub sources: &'a [PathBuf],
    /// A resources dir to add to the jar.
    pub resources: Option<&'a Path>,
    /// The class `java -jar` runs.
    pub main_class: &'a str,
    /// The jar to write.
    pub jar: &'a Path,
    /// An empty scratch dir inside a granted dir (classes and the argfile go there).
    pub scratch: &'a Path,
}

impl JarBuild<'_> {
    fn tool(&self, name: &str) -> Command {
        let bin = self.java_home.join("bin");
        let mut command = Command::new(bin.join(name));
        command
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("JAVA_HOME", self.java_home.display().to_string())
            .env("LANG", "C.UTF-8")
            .env("HOME", "/tmp")
            .current_dir(self.app_dir);
        command
    }

    /// Run `javac` and `jar`; the scratch dir is removed afterwards.
    pub fn run(&self) -> Result<(), Error> {
        let classes = self.scratch.join("classes");
        std::fs::create_dir_all(&classes)?;
        let argfile = self.scratch.join("sources.txt");
        let lines: Vec<String> = self.sources.iter().map(|f| argfile_line(&self.root.join(f))).collect();
        std::fs::write(&argfile, lines.join("\n") + "\n")?;
        kiln_sdk::log::info(&format!("compiling {} source files with javac", self.sources.len()));
        self.tool("javac")
            .args(TOOL_JVM_OPTIONS)
            .args(["-encoding", "UTF-8", "-d"])
            .arg(classes.display().to_string())
            .arg(format!("@{}", argfile.display()))
            .run()
            .map_err(|e| {
                e.context(format!("kiln/java: javac failed on the sources under {} (its errors are above)", self.root.display()))
            })?;
        let mut jar = self.tool("jar");
        jar.args(TOOL_JVM_OPTIONS)
            .args(["--create", "--file"])
            .arg(self.jar.display().to_string())
            .arg(format!("--main-class={}", self.main_class))
            .arg(format!("--date={JAR_DATE}"))
            .arg("-C")
            .arg(classes.display().to_string())
            .arg(".");
        if let Some(resources) = self.resources {
            jar.arg("-C").arg(resources.display().to_string()).arg(".");
        }
        jar.run().map_err(|e| e.context("kiln/java: packing the classes with jar"))?;
        std::fs::remove_dir_all(self.scratch)?;
        if !self.jar.is_file() {
            return Err(Error::new(format!("kiln/java: jar exited 0 but {} is missing", self.jar.display())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_classes_come_from_package_and_file_name() {
        let text = "// x\n/* a\n package not.this; */ package  com.example.web ;\n\nimport java.io.*;\npublic class Server {\n  public static void main(String[] args) {}\n}\n";
        assert_eq!(main_class_of(Path::new("com/example/web/Server.java"), text).as_deref(), Some("com.example.web.Server"));
        let default_package = "public class Hello { public static   void\n main (String... a) {} }";
        assert_eq!(main_class_of(Path::new("Hello.java"), default_package).as_deref(), Some("Hello"));
        assert_eq!(main_class_of(Path::new("B.java"), "class B { static public void main(String[] a) {} }").as_deref(), Some("B"));
        assert_eq!(main_class_of(Path::new("C.java"), "class C { public void main(String[] a) {} }"), None);
        assert_eq!(main_class_of(Path::new("Tool.java"), "class Tool { // static void main(String[] a)\n }"), None);
        assert_eq!(main_class_of(Path::new("Util.java"), "package a; class Util { static int twice(int x) { return 2 * x; } }"), None);
    }

    #[test]
    fn the_main_class_is_the_only_one_a_conventional_name_or_configured() {
        let one = vec!["a.Server".to_string()];
        assert_eq!(choose_main_class(&one, None, "src").unwrap(), "a.Server");
        let two = vec!["a.Main".to_string(), "a.Tool".to_string()];
        assert_eq!(choose_main_class(&two, None, "src").unwrap(), "a.Main");
        assert_eq!(choose_main_class(&two, Some("a.Tool"), "src").unwrap(), "a.Tool");
        let ambiguous = vec!["a.One".to_string(), "a.Two".to_string()];
        let err = choose_main_class(&ambiguous, None, "src").unwrap_err().to_string();
        assert!(
            err.contains("several classes under src/ have a main method (a.One, a.Two)") && err.contains("BP_JAVA_MAIN_CLASS"),
            "{err}"
        );
        assert!(choose_main_class(&[], None, "src/main/java").unwrap_err().to_string().contains("no class under src/main/java/"));
    }

    #[test]
    fn argfile_lines_are_quoted() {
        assert_eq!(argfile_line(Path::new("/workspace/src/My App/A.java")), "\"/workspace/src/My App/A.java\"");
        assert_eq!(argfile_line(Path::new("/w/a\"b.java")), "\"/w/a\\\"b.java\"");
    }
}
