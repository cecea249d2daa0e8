//! Layer reuse: a layer is kept as it is when kiln restored it and its metadata from the
//! previous build equals what this build would write.

use kiln_sdk::BuildContext;

/// Whether the previous build's layer `name` can be kept: its contents were restored and
/// its metadata parses to exactly `wanted`.
pub fn reusable(ctx: &BuildContext, name: &str, wanted: &toml::Table) -> bool {
    let Some(previous) = ctx.previous_layer(name) else { return false };
    if !previous.contents_restored || !ctx.layers_dir.join(name).is_dir() {
        return false;
    }
    previous.metadata.parse::<toml::Table>().is_ok_and(|old| &old == wanted)
}

/// A metadata table as the TOML text a layer carries.
pub fn to_text(table: &toml::Table) -> String {
    toml::to_string(table).expect("a TOML table serializes")
}
