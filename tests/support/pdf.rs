//! Real PDFs for the stamping tests, made with lopdf, and the real tools
//! that read them back (poppler's `pdftotext`, `qpdf`).

use std::path::Path;
use std::process::Command;

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A PDF of `pages` pages, page N saying "`tag` original page N" in
/// Helvetica, with its page size inherited from the page tree (as many
/// generators do) and a compressed cross-reference layout left to lopdf.
pub fn make_pdf(pages: usize, tag: &str) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Courier",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids: Vec<Object> = Vec::with_capacity(pages);
    for n in 1..=pages {
        let content = Content {
            operations: vec![
                // Left unbalanced on purpose: a stamp must not inherit it.
                Operation::new("q", vec![]),
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 14.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(format!("{tag} original page {n}"))],
                ),
                Operation::new("ET", vec![]),
                Operation::new(
                    "cm",
                    vec![3.into(), 0.into(), 0.into(), 3.into(), 0.into(), 0.into()],
                ),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => i64::try_from(pages).unwrap(),
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    let info_id = doc.add_object(dictionary! {
        "Title" => Object::string_literal("Suite No. 1"),
    });
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// The text of each page, as `pdftotext` extracts it (UTF-8).
pub fn page_texts(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs; scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    // pdftotext ends the last page with a form feed too.
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// `qpdf --check`: the structure is sound (exit 0, no warnings).
pub fn qpdf_check(pdf: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(&path)
        .output()
        .expect("qpdf runs; scripts/test.sh installs it");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && !said.to_lowercase().contains("warning") {
        Ok(())
    } else {
        Err(said)
    }
}

/// The document information entry `key`, as `qpdf --show-object=trailer`
/// and `--json` reveal it (decoded text).
pub fn info_entry(pdf: &[u8], key: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("qpdf")
        .args(["--json", "--json-key=qpdf"])
        .arg(&path)
        .output()
        .expect("qpdf runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let objects = json.get("qpdf")?.get(1)?;
    let trailer = objects.get("trailer")?.get("value")?;
    let info_ref = trailer.get("/Info")?.as_str()?;
    let key_of = |r: &str| format!("obj:{r}");
    let info = objects.get(key_of(info_ref))?.get("value")?;
    let v = info.get(format!("/{key}"))?;
    match v {
        serde_json::Value::String(s) => Some(s.strip_prefix("u:").unwrap_or(s).to_owned()),
        other => Some(other.to_string()),
    }
}

/// `original` encrypted by `qpdf --encrypt` (AES-256, a user password).
pub fn encrypted(original: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.pdf"), dir.path().join("out.pdf"));
    std::fs::write(&input, original).unwrap();
    let status = Command::new("qpdf")
        .args(["--encrypt", "buyer", "owner", "256", "--"])
        .arg(&input)
        .arg(&output)
        .status()
        .expect("qpdf runs");
    assert!(status.success());
    std::fs::read(Path::new(&output)).unwrap()
}
