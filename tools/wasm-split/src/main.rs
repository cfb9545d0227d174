//! `wasm-split INPUT.wasm OUT_DIR NAME` splits the browser bundle at its
//! `#[lazy_route]` split points, the way `cargo leptos build --split` does:
//!
//! - `OUT_DIR/NAME_split.wasm`: the main module, still to go through
//!   `wasm-bindgen --out-name NAME`, whose glue it imports as `./NAME.js`;
//! - one `.wasm` per split point (and per chunk shared between them), and the
//!   JS that loads them, `__wasm_split.______________________.js`;
//! - `__wasm_split_manifest.json`: which parts each split point needs.
//!   Leptos's `HydrationScripts` reads it from the site's pkg directory and
//!   preloads the parts of the page being served, so hydration does not wait
//!   for a second round trip.
//!
//! The input must be linked with `-Clink-args=--emit-relocs`: the splitter
//! follows relocations to find what each part uses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wasm_split_cli_support::{transform, Options};

/// The module path the split-off parts are loaded through. Leptos's
/// `HydrationScripts` asks for exactly this name when files are not hashed.
const LINK_NAME: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, name] = args.as_slice() else {
        eprintln!("usage: wasm-split INPUT.wasm OUT_DIR NAME");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(out_dir), name) {
        Ok(parts) => {
            println!("split {input} into the main module and {parts} lazy parts");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("wasm-split: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, out_dir: &Path, name: &str) -> Result<usize, String> {
    let wasm = std::fs::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let main_out: PathBuf = out_dir.join(format!("{name}_split.wasm"));
    let main_module = format!("./{name}.js");

    let mut options = Options::new(&wasm);
    options.output_dir = out_dir;
    options.main_out_path = &main_out;
    options.link_name = LINK_NAME;
    options.main_module = &main_module;
    options.target.web();
    let split = transform(options).map_err(|e| format!("{e:#}"))?;

    let manifest = serde_json::to_string(&split.prefetch_map).map_err(|e| e.to_string())?;
    let manifest_path = out_dir.join(MANIFEST);
    std::fs::write(&manifest_path, manifest)
        .map_err(|e| format!("cannot write {}: {e}", manifest_path.display()))?;
    Ok(split.split_modules.len())
}
