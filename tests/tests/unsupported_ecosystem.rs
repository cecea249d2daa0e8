//! Apps of an ecosystem no bundled buildpack builds (Ruby, .NET, ...) get an answer that
//! names the ecosystem and the file that gave it away, and says how to bring a buildpack,
//! with detection's exit code (20). No network: the default builder runs on a busybox run
//! image and every bundled buildpack's detect fails.

use kiln_tests::KilnHome;

/// Build `files` with the default builder; the run's stderr, asserting exit code 20.
fn build_fails(home: &KilnHome, files: &[(&str, &str)], needles: &[&str]) -> String {
    let app = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = app.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let run = home.run(&["build", "app", "--path", app.path().to_str().unwrap(), "--run-image", "run-base"]).failure(20, needles);
    run.stderr
}

#[test]
fn a_ruby_or_dotnet_app_is_named_with_its_file_and_how_to_bring_a_buildpack() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");

    let stderr = build_fails(
        &home,
        &[("Gemfile", "source \"https://rubygems.org\"\ngem \"sinatra\"\n"), ("app.rb", "require \"sinatra\"\n")],
        &[
            "no buildpack group passed detection",
            "this looks like a Ruby app (Gemfile is in the app directory)",
            "no bundled kiln buildpack builds Ruby yet",
            "--buildpack ./that-buildpack.wasm",
            "--builder builder.toml",
        ],
    );
    assert!(stderr.contains("required buildpack kiln/go did not pass"), "every group was tried, kiln/go's too:\n{stderr}");

    build_fails(
        &home,
        &[("web.csproj", "<Project Sdk=\"Microsoft.NET.Sdk.Web\"></Project>\n"), ("Program.cs", "var app = WebApplication.Create();\n")],
        &["this looks like a .NET app (web.csproj is in the app directory)", "no bundled kiln buildpack builds .NET yet"],
    );

    // Nothing recognizable: the plain message, without a guess.
    let stderr = build_fails(&home, &[("notes.txt", "hello\n")], &["no buildpack group passed detection"]);
    assert!(!stderr.contains("this looks like"), "no ecosystem is guessed for a plain directory:\n{stderr}");
}
