//! What an app looks like when no buildpack group took it: the ecosystem its files name
//! (a `Gemfile` is Ruby, a `*.csproj` is .NET, ...), so that detection's failure can say
//! "this is a Ruby app and no bundled buildpack builds Ruby yet; bring one" instead of only
//! "no buildpack group passed".
//!
//! Only the app's top-level entries are looked at (names, never contents), in the order of
//! [`MARKERS`]; the first match wins. The answer is a hint for the error message and
//! changes nothing else (the exit code stays detection's).

use std::path::Path;

/// An ecosystem recognized from a file of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognized {
    /// The ecosystem, as users call it (`Ruby`, `.NET`).
    pub ecosystem: &'static str,
    /// The app's file that says so (`Gemfile`, `api.csproj`).
    pub file: String,
}

/// How a file names an ecosystem: by its exact name or by its extension.
enum Marker {
    Name(&'static str),
    Extension(&'static str),
}

/// The files that name an ecosystem kiln has no bundled buildpack for, in the order they
/// are checked. Java comes last: a Kotlin or Scala build is also a `build.gradle`/`pom.xml`.
const MARKERS: &[(&str, Marker)] = &[
    ("Ruby", Marker::Name("Gemfile")),
    ("Ruby", Marker::Name("config.ru")),
    (".NET", Marker::Extension("sln")),
    (".NET", Marker::Extension("csproj")),
    (".NET", Marker::Extension("fsproj")),
    (".NET", Marker::Extension("vbproj")),
    ("PHP", Marker::Name("composer.json")),
    ("Rust", Marker::Name("Cargo.toml")),
    ("Elixir", Marker::Name("mix.exs")),
    ("Erlang", Marker::Name("rebar.config")),
    ("Scala (sbt)", Marker::Name("build.sbt")),
    ("Clojure", Marker::Name("project.clj")),
    ("Clojure", Marker::Name("deps.edn")),
    ("Haskell", Marker::Name("stack.yaml")),
    ("Haskell", Marker::Extension("cabal")),
    ("Swift", Marker::Name("Package.swift")),
    ("Dart", Marker::Name("pubspec.yaml")),
    ("Deno", Marker::Name("deno.json")),
    ("Deno", Marker::Name("deno.jsonc")),
    ("Java (Maven)", Marker::Name("pom.xml")),
    ("Java (Gradle)", Marker::Name("build.gradle")),
    ("Java (Gradle)", Marker::Name("build.gradle.kts")),
];

/// The first ecosystem the top-level entries of `app` name, if any.
pub fn recognize(app: &Path) -> Option<Recognized> {
    let Ok(entries) = std::fs::read_dir(app) else { return None };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    recognize_names(&names)
}

/// [`recognize`] over a list of file names.
pub fn recognize_names(names: &[String]) -> Option<Recognized> {
    MARKERS.iter().find_map(|(ecosystem, marker)| {
        let file = names.iter().find(|name| match marker {
            Marker::Name(wanted) => name.as_str() == *wanted,
            Marker::Extension(ext) => name.rsplit_once('.').is_some_and(|(stem, e)| !stem.is_empty() && e == *ext),
        })?;
        Some(Recognized { ecosystem, file: file.clone() })
    })
}

impl Recognized {
    /// The lines the detection error adds: what was recognized and how to build it anyway.
    pub fn advice(&self) -> String {
        format!(
            "this looks like a {} app ({} is in the app directory), and no bundled kiln buildpack builds {} yet.\n\
             Bring a buildpack that does: `kiln build IMAGE --path DIR --buildpack ./that-buildpack.wasm` (a kiln buildpack \
             component; see the README's \"How it works\"), or a builder.toml whose order has a group with it \
             (`kiln build IMAGE --path DIR --builder builder.toml`).",
            self.ecosystem,
            crate::sandbox::text::guest_text(&self.file, 256),
            self.ecosystem
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_ecosystem_is_named_with_its_file() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["Gemfile", "Gemfile.lock", "app.rb"], "Ruby", "Gemfile"),
            (&["Program.cs", "web.csproj"], ".NET", "web.csproj"),
            (&["app.sln", "src"], ".NET", "app.sln"),
            (&["lib.fsproj"], ".NET", "lib.fsproj"),
            (&["composer.json", "index.php"], "PHP", "composer.json"),
            (&["Cargo.toml", "src"], "Rust", "Cargo.toml"),
            (&["mix.exs"], "Elixir", "mix.exs"),
            (&["pom.xml", "src"], "Java (Maven)", "pom.xml"),
            (&["build.gradle.kts", "settings.gradle.kts"], "Java (Gradle)", "build.gradle.kts"),
        ];
        for (files, ecosystem, file) in cases {
            let found = recognize_names(&names(files)).unwrap_or_else(|| panic!("{files:?} not recognized"));
            assert_eq!((found.ecosystem, found.file.as_str()), (*ecosystem, *file), "{files:?}");
        }
    }

    #[test]
    fn an_app_with_no_known_file_is_not_recognized() {
        assert_eq!(recognize_names(&names(&["index.html", "README.md", ".csproj", "notes.txt"])), None);
        assert_eq!(recognize(Path::new("/nonexistent/kiln/app")), None);
    }

    #[test]
    fn the_advice_names_the_ecosystem_the_file_and_both_ways_to_bring_a_buildpack() {
        let advice = Recognized { ecosystem: "Ruby", file: "Gemfile".into() }.advice();
        assert!(advice.contains("a Ruby app (Gemfile is in the app directory)"), "{advice}");
        assert!(advice.contains("no bundled kiln buildpack builds Ruby yet"), "{advice}");
        assert!(advice.contains("--buildpack") && advice.contains("builder.toml"), "{advice}");
    }
}
