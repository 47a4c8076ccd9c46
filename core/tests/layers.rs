//! The layer order of `core/src` (written at the top of `core/src/lib.rs`): every
//! `crate::` and `super::` path in a module may name only modules of its own layer or
//! of the layers below it. The scan reads the source as text (comments and the
//! `#[cfg(test)] mod tests` at the end of a file left out: tests may drive a module from
//! above), resolves each path to the module it names, and fails naming file, line and
//! both layers.

use std::path::{Path, PathBuf};

/// Layers, bottom (0) to top; each module path prefix belongs to one. The longest
/// matching prefix wins; items at the crate root (`crate::Error`, `crate::VERSION`)
/// belong to the base.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &["", "error", "timecode", "layout", "layout_detect", "text"],
    ),
    ("sink", &["io::sink"]),
    ("io", &["io", "spot", "editorial"]),
    (
        "dsp",
        &[
            "stem", "mix", "loudness", "master", "qc", "resample", "dialogue",
        ],
    ),
    ("session", &["session", "timeline"]),
    ("backend", &["backend"]),
    ("report", &["render_report"]),
    ("engine", &["pipeline"]),
    (
        "jobs",
        &["demo", "feature", "conform", "reconform", "preview"],
    ),
];

/// Imports against the order that stay for now: (importing module, imported module,
/// why, and what removes it). Keep this empty where possible.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// The layer of a module path (`["qc", "report"]`), by its longest listed prefix.
fn layer_of(path: &[String]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (l, (_, mods)) in LAYERS.iter().enumerate() {
        for m in mods.iter() {
            let segs: Vec<&str> = if m.is_empty() {
                Vec::new()
            } else {
                m.split("::").collect()
            };
            let matches = segs.len() <= path.len() && segs.iter().zip(path).all(|(a, b)| a == b);
            if matches && best.is_none_or(|(len, _)| segs.len() > len) {
                best = Some((segs.len(), l));
            }
        }
    }
    best.map(|(_, l)| l)
}

/// Top-level module names (the first segment of a path that names a module).
fn modules() -> Vec<&'static str> {
    LAYERS
        .iter()
        .flat_map(|(_, m)| m.iter().copied())
        .filter(|m| !m.is_empty())
        .map(|m| m.split("::").next().unwrap())
        .collect()
}

/// The module path of a source file relative to `src/` (`qc/report.rs` -> `qc::report`,
/// `qc/mod.rs` -> `qc`, `lib.rs` -> root).
fn module_of(rel: &Path) -> Vec<String> {
    let mut segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
        segs.pop();
    }
    segs
}

/// One path found in a source: the line, and the module path it names (as far as the
/// path goes; `crate::Error` is `["Error"]`).
#[derive(Debug, PartialEq)]
struct Found {
    line: usize,
    path: Vec<String>,
}

/// The code of a file without comments and without a trailing `#[cfg(test)] mod`.
fn code_of(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines[i + 1..]
                .iter()
                .find(|n| !n.trim().is_empty())
                .is_some_and(|n| n.trim_start().starts_with("mod "))
        {
            break;
        }
        out.push(match l.find("//") {
            Some(k) => l[..k].to_string(),
            None => l.to_string(),
        });
    }
    out
}

fn ident_at(s: &[u8], mut k: usize) -> (String, usize) {
    let start = k;
    while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
        k += 1;
    }
    (String::from_utf8_lossy(&s[start..k]).into_owned(), k)
}

/// Every `crate::` and `super::` path of `code` (lines of a file in module `me`),
/// resolved to the module path it names. A group `crate::{a::b, c}` gives one path per
/// item.
fn scan(code: &[String], me: &[String]) -> Vec<Found> {
    // Join the lines so that groups may span them; remember where each line starts.
    let text = code.join("\n");
    let s = text.as_bytes();
    let line_of = |at: usize| s[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let mut found = Vec::new();
    let mut k = 0;
    while k < s.len() {
        let boundary = k == 0 || !(s[k - 1].is_ascii_alphanumeric() || s[k - 1] == b'_');
        let rest = &s[k..];
        let (mut base, skip) = if boundary && rest.starts_with(b"crate::") {
            (Vec::new(), "crate::".len())
        } else if boundary && rest.starts_with(b"super::") {
            // `super` of `a::b` (file a/b.rs) is `a`; of `a` (file a/mod.rs) the root.
            let mut p = me.to_vec();
            let mut j = 0;
            while s[k + j..].starts_with(b"super::") {
                p.pop();
                j += "super::".len();
            }
            (p, j)
        } else {
            k += 1;
            continue;
        };
        let at = k;
        k += skip;
        // Path segments up to a `{`, or the end of the path.
        loop {
            let (id, end) = ident_at(s, k);
            if id.is_empty() {
                break;
            }
            base.push(id);
            k = end;
            if s[k..].starts_with(b"::") {
                k += 2;
            } else {
                break;
            }
        }
        if s.get(k) == Some(&b'{') {
            // A group: the first segments of its top-level items.
            let mut depth = 0;
            let mut item_start = true;
            while k < s.len() {
                match s[k] {
                    b'{' => {
                        depth += 1;
                        k += 1;
                    }
                    b'}' => {
                        depth -= 1;
                        k += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        item_start = true;
                        k += 1;
                    }
                    c if depth == 1 && item_start && (c.is_ascii_alphabetic() || c == b'_') => {
                        let (id, end) = ident_at(s, k);
                        let mut p = base.clone();
                        if id != "self" {
                            p.push(id);
                        }
                        found.push(Found {
                            line: line_of(k),
                            path: p,
                        });
                        item_start = false;
                        k = end;
                    }
                    _ => k += 1,
                }
            }
        } else {
            found.push(Found {
                line: line_of(at),
                path: base,
            });
        }
    }
    found
}

/// The module a found path names: its longest prefix that is a module (a path into
/// the root's items, `crate::Error`, names the root).
fn target_module(path: &[String]) -> Vec<String> {
    let mods = modules();
    match path.first() {
        Some(m) if mods.contains(&m.as_str()) => path.to_vec(),
        _ => Vec::new(),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every import against the order: `file:line: what`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).unwrap();
        let me = module_of(rel);
        let Some(my_layer) = layer_of(&me) else {
            bad.push(format!(
                "core/src/{}: module {} is in no layer: add it to LAYERS here and to the \
                 order in core/src/lib.rs",
                rel.display(),
                me.join("::")
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for found in scan(&code_of(&text), &me) {
            let target = target_module(&found.path);
            let Some(l) = layer_of(&target) else { continue };
            if l <= my_layer {
                continue;
            }
            let (mine, theirs) = (me.join("::"), target.join("::"));
            let under = |path: &str, m: &str| path == m || path.starts_with(&format!("{m}::"));
            if ALLOWED
                .iter()
                .any(|(a, b, _)| under(&mine, a) && under(&theirs, b))
            {
                continue;
            }
            bad.push(format!(
                "core/src/{}:{}: {} ({}) imports {} ({}), a layer above it",
                rel.display(),
                found.line,
                if mine.is_empty() { "crate" } else { &mine },
                LAYERS[my_layer].0,
                theirs,
                LAYERS[l].0
            ));
        }
    }
    bad
}

#[test]
fn core_imports_follow_the_layer_order() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(
        bad.is_empty(),
        "imports against the layer order (see core/src/lib.rs):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_order_in_lib_rs_names_the_same_layers() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for (name, mods) in LAYERS {
        for m in mods.iter().filter(|m| !m.is_empty()) {
            assert!(
                lib.contains(&format!("`{m}`")),
                "core/src/lib.rs: the layer order does not name `{m}` (layer {name})"
            );
        }
    }
    for (a, b, why) in ALLOWED {
        assert!(
            !why.is_empty(),
            "allowed back-edge {a} -> {b} needs a reason"
        );
    }
}

#[test]
fn the_scan_finds_paths_in_groups_over_lines_and_through_super() {
    let code = code_of(
        "use crate::{Error,\n    pipeline::Mixer, io::{WavReader, WavWriter}};\n\
         use super::report::Check;\n\
         let x = crate::backend::cpu::CpuBackend::new(); // crate::demo in a comment\n\
         fn f() -> crate::Result<()> { Ok(()) }\n",
    );
    let me = vec!["qc".to_string(), "sync".to_string()];
    let got: Vec<(usize, Vec<String>)> = scan(&code, &me)
        .into_iter()
        .map(|f| (f.line, target_module(&f.path)))
        .collect();
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            (1, v(&[])),
            (2, v(&["pipeline"])),
            (2, v(&["io"])),
            (3, v(&["qc", "report", "Check"])),
            (4, v(&["backend", "cpu", "CpuBackend", "new"])),
            (5, v(&[])),
        ]
    );
    let code = code_of(
        "use crate::pipeline::X; // crate::demo\n#[cfg(test)]\nmod tests {\n use crate::demo;\n}\n",
    );
    assert_eq!(code, vec!["use crate::pipeline::X; ".to_string()]);
}

#[test]
fn an_import_up_the_order_is_reported_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("dubstage-layers-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("loudness")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod loudness;\n").unwrap();
    std::fs::write(
        dir.join("loudness/mod.rs"),
        "//! doc naming crate::pipeline\nuse crate::layout::Channel;\nuse crate::{\n    Error,\n    backend::Hop,\n};\n",
    )
    .unwrap();
    let bad = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        bad,
        vec![
            "core/src/loudness/mod.rs:5: loudness (dsp) imports backend (backend), a layer above it"
                .to_string()
        ]
    );
}
