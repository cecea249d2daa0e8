use super::*;
use crate::image::labels::{LayersMetadata, RunImageForRebase};
use crate::image::oci::{History, MEDIA_TYPE_OCI_LAYER_GZIP};

fn digest(n: u8) -> Digest {
    Digest::of_bytes(&[n])
}

fn image(diff_ids: &[u8], env: &[&str], labels: &[(&str, &str)]) -> Image {
    let mut config = ImageConfig::new_linux();
    config.rootfs.diff_ids = diff_ids.iter().map(|n| digest(*n)).collect();
    config.history = diff_ids.iter().map(|n| History { created_by: Some(format!("layer {n}")), ..History::default() }).collect();
    config.config.env = env.iter().map(|s| s.to_string()).collect();
    for (k, v) in labels {
        config.config.labels.insert(k.to_string(), v.to_string());
    }
    let layers = diff_ids.iter().map(|n| Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, digest(n + 100), 10)).collect();
    let manifest = Manifest::new(Descriptor::new(MEDIA_TYPE_OCI_CONFIG, digest(0), 1), layers);
    Image { manifest_descriptor: Descriptor::new(MEDIA_TYPE_OCI_CONFIG, digest(0), 1), manifest, config }
}

fn app_on(run_layers: &[u8], app_layers: &[u8], labels: &[(&str, &str)]) -> Image {
    let all: Vec<u8> = run_layers.iter().chain(app_layers).copied().collect();
    let metadata = LayersMetadata {
        run_image: RunImageForRebase {
            top_layer: digest(*run_layers.last().unwrap()).to_string(),
            reference: "old".into(),
            image: "run:1".into(),
            mirrors: Vec::new(),
        },
        ..LayersMetadata::default()
    };
    let label = metadata.to_label_value().unwrap();
    let mut all_labels = labels.to_vec();
    all_labels.push((LIFECYCLE_METADATA_LABEL, label.as_str()));
    image(&all, &["PATH=/cnb/process:/old/bin", "CNB_APP_DIR=/workspace", "LANG=old", "APP=1"], &all_labels)
}

#[test]
fn replaces_run_layers_and_keeps_app_layers() {
    let app = app_on(&[1, 2], &[10, 11, 12], &[("io.buildpacks.base.distro.name", "busybox"), ("io.buildpacks.base.maintainer", "old")]);
    let new_run = image(
        &[3],
        &["PATH=/new/bin", "LANG=new", "NEW=1"],
        &[("io.buildpacks.base.distro.name", "busybox"), ("io.buildpacks.base.id", "new")],
    );
    let rebaser = Rebaser {
        app_name: "app",
        app: &app,
        run_name: "run:2",
        new_run: &new_run,
        new_run_reference: "sha256:new".into(),
        new_run_image_name: None,
        force: false,
    };
    let out = rebaser.rebase().unwrap();
    assert_eq!((out.replaced_layers, out.app_layers), (2, 3));
    let want: Vec<Digest> = [3, 10, 11, 12].iter().map(|n| digest(*n)).collect();
    assert_eq!(out.config.rootfs.diff_ids, want);
    assert_eq!(out.manifest.layers[0], new_run.manifest.layers[0]);
    assert_eq!(&out.manifest.layers[1..], &app.manifest.layers[2..], "app layers untouched");
    assert_eq!(out.config.history.len(), 4);
    assert_eq!(out.config.history[1].created_by.as_deref(), Some("layer 10"));
    let env = &out.config.config;
    assert_eq!(env.env_var("PATH"), Some("/cnb/process:/new/bin"));
    assert_eq!(env.env_var("LANG"), Some("new"));
    assert_eq!(env.env_var("APP"), Some("1"));
    assert_eq!(env.env_var("NEW"), Some("1"));
    assert_eq!(env.env_var("CNB_APP_DIR"), Some("/workspace"));
    assert_eq!(out.config.label("io.buildpacks.base.maintainer"), None, "old base labels dropped");
    assert_eq!(out.config.label("io.buildpacks.base.id"), Some("new"));
    let md = LayersMetadata::from_label_value(out.config.label(LIFECYCLE_METADATA_LABEL).unwrap()).unwrap();
    assert_eq!(md.run_image.top_layer, digest(3).to_string());
    assert_eq!(md.run_image.reference, "sha256:new");
    assert_eq!(md.run_image.image, "run:1");
    assert_eq!(out.manifest.config.digest, Digest::of_bytes(&out.config_bytes));
    assert_eq!(out.config_bytes, out.config.to_json());
}

#[test]
fn refuses_incompatible_run_images_unless_forced() {
    let app = app_on(&[1], &[10], &[("io.buildpacks.base.distro.name", "debian"), ("io.buildpacks.base.distro.version", "12")]);
    let mut other_arch = image(&[3], &[], &[]);
    other_arch.config.architecture = "s390x-nope".into();
    let other_distro = image(&[3], &[], &[("io.buildpacks.base.distro.name", "ubuntu")]);
    for (run, needle) in [(&other_arch, "architecture"), (&other_distro, "distro.name")] {
        let mut rebaser = Rebaser {
            app_name: "app",
            app: &app,
            run_name: "new",
            new_run: run,
            new_run_reference: "r".into(),
            new_run_image_name: Some("new".into()),
            force: false,
        };
        let err = rebaser.rebase().unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("--force"), "{err}");
        rebaser.force = true;
        let out = rebaser.rebase().unwrap();
        let md = LayersMetadata::from_label_value(out.config.label(LIFECYCLE_METADATA_LABEL).unwrap()).unwrap();
        assert_eq!(md.run_image.image, "new");
    }
    let not_rebasable = app_on(&[1], &[10], &[(REBASABLE_LABEL, "false")]);
    let run = image(&[3], &[], &[]);
    let rebaser = Rebaser {
        app_name: "app",
        app: &not_rebasable,
        run_name: "r",
        new_run: &run,
        new_run_reference: String::new(),
        new_run_image_name: None,
        force: false,
    };
    assert!(matches!(rebaser.rebase(), Err(RebaseError::NotRebasable { .. })));
    let plain = image(&[1, 2], &[], &[]);
    let rebaser = Rebaser {
        app_name: "plain",
        app: &plain,
        run_name: "r",
        new_run: &run,
        new_run_reference: String::new(),
        new_run_image_name: None,
        force: true,
    };
    assert!(matches!(rebaser.rebase(), Err(RebaseError::NotABuildpacksImage { .. })));
}

#[test]
fn a_run_image_without_path_gets_the_same_path_as_export() {
    let app = app_on(&[1, 2], &[10], &[("io.buildpacks.base.distro.name", "busybox")]);
    let new_run = image(&[3], &["LANG=new"], &[("io.buildpacks.base.distro.name", "busybox")]);
    let rebaser = Rebaser {
        app_name: "app",
        app: &app,
        run_name: "run:2",
        new_run: &new_run,
        new_run_reference: "sha256:new".into(),
        new_run_image_name: None,
        force: false,
    };
    let out = rebaser.rebase().unwrap();
    let path = out.config.config.env_var("PATH").unwrap();
    assert_eq!(path, kiln_cnb::env::app_image_path(None));
    assert_eq!(path, format!("/cnb/process:{}", kiln_cnb::env::DEFAULT_PATH));
}
