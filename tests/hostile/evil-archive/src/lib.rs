//! Hostile: writes hostile archives into its private /tmp and extracts each with
//! `kiln_sdk::archive` into its own launch layer, then reports.
//!
//! The platform env `HOSTILE_MARKER` is put into every name an attack tries to create
//! outside its layer, so the test can search the host and the image for it. Output, one
//! line per case and per skipped entry:
//! `CASE <case>: ok files=N bytes=N skipped=N` or `CASE <case>: error <message>`,
//! `SKIPPED <case> <entry>: <reason>`, and at the end `FOUND <path>` for every path the
//! guest can see whose name holds the marker.

mod make;

use std::path::{Path, PathBuf};

use kiln_sdk::archive::{self, ExtractOptions, Extracted};
use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};
use make::{Item, ZipEntry};

/// The cap the bomb cases run with.
const BOMB_CAP: u64 = 64 << 20;

struct EvilArchive;

impl Buildpack for EvilArchive {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let m = ctx.env("HOSTILE_MARKER").ok_or("set HOSTILE_MARKER")?.to_string();
        let scratch = Path::new("/tmp/evil-archive");
        std::fs::create_dir_all(scratch)?;
        let mut result = BuildResult::new();
        for case in cases(&m) {
            let layer = ctx.layer(case.name, LayerTypes::LAUNCH)?;
            let file = scratch.join(format!("{}.{}", case.name, case.kind.extension()));
            std::fs::write(&file, (case.bytes)())?;
            (case.before)(layer.path())?;
            let outcome = case.kind.extract(&file, layer.path(), &case.options);
            report(case.name, &outcome);
            (case.after)(layer.path())?;
            result = result.layer(layer);
        }
        for root in [ctx.layers_dir.clone(), ctx.app_dir.clone(), PathBuf::from("/tmp")] {
            for found in find_named(&root, &m) {
                kiln_sdk::log::info(&format!("FOUND {}", found.display()));
            }
        }
        Ok(result)
    }
}

kiln_sdk::export_buildpack!(EvilArchive);

/// Which extractor a case uses.
#[derive(Clone, Copy)]
enum Kind {
    Tar,
    TarGz,
    TarXz,
    Zip,
    Deb,
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Kind::Tar => "tar",
            Kind::TarGz => "tar.gz",
            Kind::TarXz => "tar.xz",
            Kind::Zip => "zip",
            Kind::Deb => "deb",
        }
    }

    fn extract(self, file: &Path, dest: &Path, options: &ExtractOptions) -> Result<Extracted, Error> {
        match self {
            Kind::Tar => archive::extract_tar(file, dest, options),
            Kind::TarGz => archive::extract_tar_gz(file, dest, options),
            Kind::TarXz => archive::extract_tar_xz(file, dest, options),
            Kind::Zip => archive::extract_zip(file, dest, options),
            Kind::Deb => archive::extract_deb(file, dest, options),
        }
    }
}

type Hook = Box<dyn Fn(&Path) -> Result<(), Error>>;

/// One archive, how to extract it, and what to do to its layer before and after.
struct Case {
    name: &'static str,
    kind: Kind,
    options: ExtractOptions,
    bytes: Box<dyn Fn() -> Vec<u8>>,
    before: Hook,
    after: Hook,
}

impl Case {
    fn new(name: &'static str, kind: Kind, bytes: impl Fn() -> Vec<u8> + 'static) -> Self {
        Case { name, kind, options: ExtractOptions::default(), bytes: Box::new(bytes), before: nothing(), after: nothing() }
    }

    fn options(mut self, options: ExtractOptions) -> Self {
        self.options = options;
        self
    }
}

fn nothing() -> Hook {
    Box::new(|_| Ok(()))
}

const TOOL: &[u8] = b"#!/bin/sh\necho tool\n";

fn cases(m: &str) -> Vec<Case> {
    let m = m.to_string();
    let mut cases = Vec::new();

    let n = m.clone();
    cases.push(Case::new("tar-slip", Kind::Tar, move || {
        make::tar(&[
            Item::Dir("ok/"),
            Item::File("ok/hello.txt", 0o644, b"hello from the archive\n"),
            Item::File("ok/bin/tool", 0o755, TOOL),
            Item::File(&format!("../../{n}-slip"), 0o644, b"escaped"),
            Item::File(&format!("../../../../../../../../tmp/{n}-tmp"), 0o644, b"escaped"),
            Item::File(&format!("/abs/{n}-abs"), 0o644, b"escaped"),
            Item::File(&format!("ok/../../{n}-climb"), 0o644, b"escaped"),
            Item::Char(&format!("ok/{n}-dev")),
            Item::Fifo(&format!("ok/{n}-fifo")),
        ])
    }));

    let n = m.clone();
    cases.push(Case::new("tar-links", Kind::TarGz, move || {
        make::gzip(&make::tar(&[
            Item::File("ok/target.txt", 0o644, b"target\n"),
            Item::Symlink("ok/inside", "target.txt"),
            Item::Symlink("ok/up-inside", "../ok/target.txt"),
            Item::HardLink("ok/hard", "ok/target.txt"),
            Item::Symlink("root", "/"),
            Item::File(&format!("root/etc/{n}-evil"), 0o644, b"contained"),
            Item::Symlink("up", "../../.."),
            Item::File(&format!("up/{n}-evil"), 0o644, b"contained"),
            Item::Symlink("dot", "."),
            Item::File(&format!("dot/{n}-via-dot"), 0o644, b"through a link"),
            Item::Symlink("twostep", "dot/../.."),
            Item::Symlink("via-dot", "dot/ok/target.txt"),
            Item::HardLink("hard-passwd", "/etc/passwd"),
            Item::HardLink("hard-up", "../../../../etc/passwd"),
            Item::HardLink("hard-link", "ok/inside"),
        ]))
    }));

    let n = m.clone();
    let mut prelinked = Case::new("tar-prelinked", Kind::Tar, move || {
        make::tar(&[
            Item::Symlink("via-pre", "pre/etc"),
            Item::File(&format!("pre/{n}-through"), 0o644, b"through a link"),
            Item::File("pre-file", 0o644, b"replaced\n"),
        ])
    });
    // Links the buildpack itself left in the destination before extracting.
    prelinked.before = Box::new(|layer| {
        hostile_common::symlink("../../../..", &layer.join("pre"))?;
        hostile_common::symlink("../../../../etc/passwd", &layer.join("pre-file"))?;
        Ok(())
    });
    // Its own link must not reach the image (the exporter keeps symlinks verbatim).
    prelinked.after = Box::new(|layer| Ok(std::fs::remove_file(layer.join("pre"))?));
    cases.push(prelinked);

    cases.push(
        Case::new("tar-many", Kind::Tar, || {
            let names: Vec<String> = (0..50).map(|i| format!("many/{i:02}.txt")).collect();
            make::tar(&names.iter().map(|name| Item::File(name, 0o644, b"x")).collect::<Vec<_>>())
        })
        .options(ExtractOptions { max_entries: 10, ..ExtractOptions::default() }),
    );

    cases.push(
        Case::new("gz-bomb", Kind::TarGz, || make::tar_gz_bomb(&[Item::File("ok/small.txt", 0o644, b"small\n")], "bomb.bin", 1))
            .options(ExtractOptions { max_bytes: BOMB_CAP, ..ExtractOptions::default() }),
    );

    let n = m.clone();
    cases.push(Case::new("zip-slip", Kind::Zip, move || {
        make::zip(&[
            ZipEntry::stored("ok/", 0o040755, b""),
            ZipEntry::stored("ok/hello.txt", 0o100644, b"hello from the zip\n"),
            ZipEntry::stored("ok/run.sh", 0o100755, TOOL),
            ZipEntry::stored("ok/link", 0o120777, b"hello.txt"),
            ZipEntry::stored(&format!("../../{n}-zip-slip"), 0o100644, b"escaped"),
            ZipEntry::stored(&format!("/abs/{n}-zip-abs"), 0o100644, b"escaped"),
            ZipEntry::stored("evil-link", 0o120777, b"../../../../etc"),
            ZipEntry::stored(&format!("evil-link/{n}-zip-evil"), 0o100644, b"contained"),
        ])
    }));

    // 256 MiB of zeros in ~256 KiB, the size declared honestly (the CRC is never reached).
    cases.push(
        Case::new("zip-bomb", Kind::Zip, || {
            make::zip(&[
                ZipEntry::stored("ok/readme.txt", 0o100644, b"readme\n"),
                ZipEntry {
                    name: "bomb.bin".into(),
                    mode: 0o100644,
                    method: 8,
                    crc: 0,
                    data: make::deflate_zeros(256),
                    claimed_size: 256 << 20,
                },
            ])
        })
        .options(ExtractOptions { max_bytes: BOMB_CAP, ..ExtractOptions::default() }),
    );

    // The same bomb declaring 100 bytes: an extractor trusting sizes would be fooled.
    cases.push(Case::new("zip-liar", Kind::Zip, || {
        make::zip(&[
            ZipEntry::stored("ok/readme.txt", 0o100644, b"readme\n"),
            ZipEntry { name: "liar.bin".into(), mode: 0o100644, method: 8, crc: 0, data: make::deflate_zeros(256), claimed_size: 100 },
        ])
    }));

    cases.push(
        Case::new("xz-ok", Kind::TarXz, || {
            make::xz(&make::tar(&[
                Item::Dir("node-v0-linux-x64/"),
                Item::File("node-v0-linux-x64/bin/node", 0o755, b"#!/bin/sh\necho node\n"),
                Item::File("node-v0-linux-x64/lib/node_modules/npm/bin/npm-cli.js", 0o644, b"console.log('npm')\n"),
                Item::Symlink("node-v0-linux-x64/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
            ]))
        })
        .options(ExtractOptions::strip(1)),
    );

    cases.push(Case::new("deb-ok", Kind::Deb, || {
        make::deb(
            &[
                Item::File("./control", 0o644, b"Package: hello\nVersion: 1.0\nArchitecture: amd64\n"),
                Item::File("./postinst", 0o755, b"#!/bin/sh\ntouch /etc/owned\n"),
            ],
            &[
                Item::Dir("./"),
                Item::Dir("./usr/"),
                Item::Dir("./usr/bin/"),
                Item::File("./usr/bin/hello", 0o755, b"#!/bin/sh\necho hello\n"),
                Item::File("./usr/share/doc/hello/copyright", 0o644, b"public domain\n"),
                Item::Symlink("./usr/bin/hi", "hello"),
            ],
        )
    }));
    cases
}

fn report(case: &str, outcome: &Result<Extracted, Error>) {
    match outcome {
        Ok(done) => {
            kiln_sdk::log::info(&format!("CASE {case}: ok files={} bytes={} skipped={}", done.files, done.bytes, done.skipped.len()));
            for skipped in &done.skipped {
                kiln_sdk::log::info(&format!("SKIPPED {case} {skipped}"));
            }
        }
        Err(e) => kiln_sdk::log::info(&format!("CASE {case}: error {e}")),
    }
}

/// Every path under `root` whose file name holds `needle`; symlinks are listed, not entered.
fn find_named(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            if entry.file_name().to_string_lossy().contains(needle) {
                found.push(path);
            }
        }
    }
    found
}
