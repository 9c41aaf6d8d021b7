//! `GET /local/…`: the page that runs the imaging component in the browser (no upload), and
//! what it loads: the jco transpilation of `build/imaging.wasm` and the WASI browser shim,
//! embedded at build time (`build.rs`).

use crate::routes::Reply;

include!(concat!(env!("OUT_DIR"), "/local_assets.rs"));

/// The asset at `path` (relative to `/local/`; empty: the page).
pub fn asset(path: &str) -> Reply {
    let name = if path.is_empty() { "index.html" } else { path };
    match ASSETS.binary_search_by(|(n, _, _)| (*n).cmp(name)) {
        Ok(i) => {
            let (_, content_type, body) = ASSETS[i];
            Reply { status: 200, content_type, headers: vec![("cache-control".into(), "no-cache".into())], body: body.to_vec() }
        }
        Err(_) if name == "imaging.js" || name == "imaging.core.wasm" => Reply::error(
            404,
            "not_built",
            "this api component was built without the browser build of the imaging component (scripts/build transpiles build/imaging.wasm with jco into build/local/ before building the api)",
        ),
        Err(_) => Reply::error(404, "not_found", format!("no /local/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_script_are_embedded() {
        let page = asset("");
        assert_eq!((page.status, page.content_type), (200, "text/html; charset=utf-8"));
        assert!(String::from_utf8_lossy(&page.body).contains("/local/local.js"));
        let script = asset("local.js");
        assert_eq!((script.status, script.content_type), (200, "text/javascript; charset=utf-8"));
        assert!(ASSETS.windows(2).all(|w| w[0].0 < w[1].0), "sorted for the binary search");
    }

    #[test]
    fn unknown_and_escaping_paths_are_404_json() {
        for path in ["nope.js", "../Cargo.toml", "shim/../../secret", "imaging.d.ts"] {
            let reply = asset(path);
            assert_eq!((reply.status, reply.content_type), (404, "application/json"), "{path}");
        }
    }
}
