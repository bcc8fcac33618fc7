//! The crate's module graph, checked from the sources: `types` is the
//! bottom layer (it uses no other module of the crate), `algo` uses only
//! `types`, and no two source files import each other, directly or through
//! others (no cycle). A new `use` that breaks a rule fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `src/lib.rs` is the root.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut m: Module = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
        m.pop();
    }
    m
}

/// The code of a file without comments, string contents and its unit tests.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Paths such as `crate::a::b`, `super::super::c`, `self::d` in `code`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_word = i == 0 || !ident(b[i - 1]);
        let start = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| at_word && b[i..].starts_with(p.as_bytes()));
        if start.is_none() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (ident(b[j]) || (b[j] == b':' && b.get(j + 1) == Some(&b':'))) {
            j += if b[j] == b':' { 2 } else { 1 };
        }
        out.push(
            code[i..j]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
        i = j.max(i + 1);
    }
    out
}

struct Graph {
    modules: BTreeSet<Module>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&src, f)).collect();
    let resolve = |path: &[String]| -> Option<Module> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| modules.contains(m))
    };
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        if m.first().map(String::as_str) == Some("bin") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for p in paths(&code(&text)) {
            let mut base = m.clone();
            let mut rest = p.as_slice();
            match rest.first().map(String::as_str) {
                Some("crate") => {
                    base.clear();
                    rest = &rest[1..];
                }
                Some("self") => rest = &rest[1..],
                _ => {
                    while rest.first().map(String::as_str) == Some("super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                }
            }
            base.extend(rest.iter().cloned());
            if let Some(t) = resolve(&base) {
                // A module naming its own ancestor or descendant is one unit.
                if !t.is_empty() && t != m && !t.starts_with(&m) && !m.starts_with(&t) {
                    edges.entry(m.clone()).or_default().insert(t);
                }
            }
        }
    }
    Graph { modules, edges }
}

fn top(m: &Module) -> &str {
    m.first().map(String::as_str).unwrap_or("")
}

#[test]
fn types_is_the_bottom_and_algo_uses_only_types() {
    let g = graph();
    let mut bad = Vec::new();
    for (from, tos) in &g.edges {
        for to in tos {
            let allowed = match top(from) {
                "types" => top(to) == "types",
                "algo" => matches!(top(to), "types" | "algo"),
                "error" => top(to) == "types",
                _ => true,
            };
            if !allowed {
                bad.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn no_import_cycles_between_modules() {
    let g = graph();
    // Tarjan's strongly connected components.
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        next: usize,
        cycles: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        if let Some(ws) = s.g.edges.get(v) {
            for w in ws {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.cycles.push(comp);
            }
        }
    }
    let mut s = State {
        g: &g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        cycles: Vec::new(),
    };
    for m in &g.modules {
        if !s.index.contains_key(m) {
            visit(&mut s, m);
        }
    }
    assert!(s.cycles.is_empty(), "import cycles: {:?}", s.cycles);
    // The check sees the crate: it found the modules and their imports.
    assert!(g.modules.len() > 40 && g.edges.len() > 30);
}

#[test]
fn paths_are_read_from_code_not_comments() {
    let text = "use crate::a::X;\nfn f() { super::b::g(); } // crate::c::ignored\n";
    let p = paths(&code(text));
    assert_eq!(p, vec![vec!["crate", "a", "X"], vec!["super", "b", "g"]]);
}
