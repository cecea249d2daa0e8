//! `META-INF/MANIFEST.MF`: the main section's `Main-Class`, Spring Boot's `Start-Class` and
//! `Class-Path`, read from a jar file or an exploded jar.
//!
//! The format (JAR File Specification): `Name: value` lines; a line starting with one space
//! continues the previous value; a blank line ends the main section; CRLF, LF or CR line ends.

use std::io::Read;
use std::path::Path;

/// Where the manifest is in a jar.
pub const MANIFEST_PATH: &str = "META-INF/MANIFEST.MF";

/// The largest manifest read (a real one is a few KiB; Spring Boot's index lines included).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What kiln/java uses of a manifest's main section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `Main-Class`: what `java -jar` runs.
    pub main_class: Option<String>,
    /// `Start-Class`: the application class of a Spring Boot jar (its `Main-Class` is
    /// Spring Boot's launcher).
    pub start_class: Option<String>,
    /// `Class-Path`: jars the main class needs, relative to the jar's directory.
    pub class_path: Vec<String>,
}

impl Manifest {
    /// Parse manifest text; unknown attributes and later (per-entry) sections are ignored.
    pub fn parse(text: &str) -> Manifest {
        let mut manifest = Manifest::default();
        for (name, value) in main_attributes(text) {
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "main-class" if !value.is_empty() => manifest.main_class = Some(value),
                "start-class" if !value.is_empty() => manifest.start_class = Some(value),
                "class-path" => manifest.class_path = value.split_whitespace().map(str::to_string).collect(),
                _ => {}
            }
        }
        manifest
    }

    /// Whether `java -jar` can run it.
    pub fn is_executable(&self) -> bool {
        self.main_class.is_some()
    }

    /// Whether it is a Spring Boot jar.
    pub fn is_spring_boot(&self) -> bool {
        self.start_class.is_some()
    }

    /// The manifest of the jar file `jar`: `Ok(None)` when it has none, `Err` when the file
    /// is not a readable zip archive.
    pub fn of_jar(jar: &Path) -> Result<Option<Manifest>, String> {
        let file = std::fs::File::open(jar).map_err(|e| format!("cannot open {}: {e}", jar.display()))?;
        let mut archive =
            zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| format!("{} is not a readable jar: {e}", jar.display()))?;
        let mut entry = match archive.by_name(MANIFEST_PATH) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(format!("{}: cannot read {MANIFEST_PATH}: {e}", jar.display())),
        };
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: cannot read {MANIFEST_PATH}: {e}", jar.display()))?;
        Ok(Some(Manifest::parse(&String::from_utf8_lossy(&bytes))))
    }

    /// The manifest of an exploded jar at `dir`, if it has one.
    pub fn of_dir(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read(dir.join(MANIFEST_PATH)).ok()?;
        Some(Manifest::parse(&String::from_utf8_lossy(&text)))
    }
}

/// The `(name, value)` pairs of the main section, continuation lines joined.
fn main_attributes(text: &str) -> Vec<(String, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut attributes: Vec<(String, String)> = Vec::new();
    for line in normalized.split('\n') {
        if line.is_empty() {
            if attributes.is_empty() {
                continue;
            }
            break;
        }
        if let Some(rest) = line.strip_prefix(' ') {
            if let Some((_, value)) = attributes.last_mut() {
                value.push_str(rest);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            attributes.push((name.trim().to_string(), value.strip_prefix(' ').unwrap_or(value).to_string()));
        }
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_class_and_class_path_with_continuation_lines_and_crlf() {
        let text = "Manifest-Version: 1.0\r\nCreated-By: 17.0.15 (Debian)\r\nMain-Class: com.example.very.long.packag\r\n e.Main\r\nClass-Path: lib/a.jar\r\n  lib/b.jar\r\n\r\nName: com/example/\r\nMain-Class: not.This\r\n";
        let manifest = Manifest::parse(text);
        assert_eq!(manifest.main_class.as_deref(), Some("com.example.very.long.package.Main"));
        assert_eq!(manifest.class_path, ["lib/a.jar", "lib/b.jar"]);
        assert!(manifest.is_executable() && !manifest.is_spring_boot());
    }

    #[test]
    fn a_spring_boot_manifest_has_a_start_class() {
        let text = "Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\nStart-Class: com.example.DemoApplication\nSpring-Boot-Classes: BOOT-INF/classes/\n";
        let manifest = Manifest::parse(text);
        assert_eq!(manifest.main_class.as_deref(), Some("org.springframework.boot.loader.launch.JarLauncher"));
        assert_eq!(manifest.start_class.as_deref(), Some("com.example.DemoApplication"));
        assert!(manifest.is_spring_boot());
    }

    #[test]
    fn a_library_manifest_is_not_executable() {
        assert!(!Manifest::parse("Manifest-Version: 1.0\nCreated-By: Maven\n").is_executable());
        assert!(!Manifest::parse("Main-Class:   \n").is_executable());
        assert!(!Manifest::parse("").is_executable());
        // Only the main section counts.
        assert!(!Manifest::parse("Manifest-Version: 1.0\n\nName: x\nMain-Class: a.B\n").is_executable());
    }

    #[test]
    fn of_jar_reads_a_real_zip_and_refuses_a_broken_one() {
        let dir = std::env::temp_dir().join(format!("kiln-java-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jar = dir.join("app.jar");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&jar).unwrap());
        writer.start_file(MANIFEST_PATH, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut writer, b"Manifest-Version: 1.0\r\nMain-Class: hello.Main\r\n\r\n").unwrap();
        writer.finish().unwrap();
        assert_eq!(Manifest::of_jar(&jar).unwrap().unwrap().main_class.as_deref(), Some("hello.Main"));

        let empty = dir.join("empty.jar");
        zip::ZipWriter::new(std::fs::File::create(&empty).unwrap()).finish().unwrap();
        assert_eq!(Manifest::of_jar(&empty).unwrap(), None);

        let broken = dir.join("broken.jar");
        std::fs::write(&broken, "not a zip").unwrap();
        assert!(Manifest::of_jar(&broken).unwrap_err().contains("is not a readable jar"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
