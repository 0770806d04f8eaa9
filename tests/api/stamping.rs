//! Per-buyer PDF stamping (SPEC §12), checked with real tools: `pdftotext`
//! reads the footer on every page, `qpdf --check` the structure.

use assetgate::stamping::{Licence, StampError, stamp};

use crate::pdf::{encrypted, info_entry, make_pdf, page_texts, qpdf_check};

const TEMPLATE: &str = "Licensed to {customer} · order {order_id} · {date}";

fn licence(customer: &str) -> Licence<'_> {
    Licence {
        customer,
        vendor: "Nordic Scores",
        order_id: 1001,
        order_line_id: 2,
        date: "2026-12-06",
    }
}

fn stamped(original: &[u8], customer: &str) -> Vec<u8> {
    let l = licence(customer);
    stamp(original, &l.footer(TEMPLATE), &l).expect("stamps")
}

#[test]
fn every_page_carries_the_footer_and_keeps_its_own_text() {
    let original = make_pdf(12, "Suite");
    assert_eq!(qpdf_check(&original), Ok(()), "the fixture itself is sound");
    let copy = stamped(&original, "Ann Buyer");
    assert!(
        copy.starts_with(&original),
        "an incremental update: the original bytes are untouched"
    );
    assert_eq!(qpdf_check(&copy), Ok(()));
    let pages = page_texts(&copy);
    assert_eq!(pages.len(), 12);
    for (n, text) in (1..).zip(&pages) {
        assert!(
            text.contains(&format!("Suite original page {n}")),
            "page {n}: {text}"
        );
        assert!(
            text.contains("Licensed to Ann Buyer · order 1001 · 2026-12-06"),
            "page {n}: {text}"
        );
    }
    assert_eq!(
        info_entry(&copy, "AssetgateLicensee").as_deref(),
        Some("Ann Buyer")
    );
    assert_eq!(
        info_entry(&copy, "AssetgateVendor").as_deref(),
        Some("Nordic Scores")
    );
    assert_eq!(info_entry(&copy, "AssetgateOrder").as_deref(), Some("1001"));
    assert_eq!(
        info_entry(&copy, "AssetgateOrderLine").as_deref(),
        Some("2")
    );
    assert_eq!(
        info_entry(&copy, "Title").as_deref(),
        Some("Suite No. 1"),
        "the original information is kept"
    );
}

#[test]
fn two_buyers_get_different_copies_each_with_their_own_name() {
    let original = make_pdf(3, "Etude");
    let ann = stamped(&original, "Ann Buyer");
    let bob = stamped(&original, "Bob Other");
    assert_ne!(ann, bob);
    assert!(
        page_texts(&ann)
            .iter()
            .all(|p| p.contains("Ann Buyer") && !p.contains("Bob"))
    );
    assert!(
        page_texts(&bob)
            .iter()
            .all(|p| p.contains("Bob Other") && !p.contains("Ann"))
    );
}

#[test]
fn hostile_and_foreign_names_cannot_break_the_pdf_or_vanish() {
    let original = make_pdf(2, "Etude");
    let long = "x".repeat(10_000);
    let cases: [(&str, &str); 7] = [
        ("Ann) Tj ET BT (pwned", "Ann) Tj ET BT (pwned"),
        ("back\\slash \\) (", "back\\slash \\) ("),
        ("two\nlines\r\there", "two lines"),
        ("\u{202E}Ørsted\u{200F}", "Ørsted"),
        ("Zoë", "Zoë"),
        ("王芳", "U+738B U+82B3"),
        (&long, "xxxxxxxxxx"),
    ];
    for (name, shown) in cases {
        let copy = stamped(&original, name);
        assert_eq!(qpdf_check(&copy), Ok(()), "{name:.40}");
        let pages = page_texts(&copy);
        assert_eq!(pages.len(), 2, "{name:.40}");
        for text in &pages {
            assert!(text.contains("Etude original page"), "{name:.40}: {text}");
            assert!(
                text.contains(&format!("Licensed to {shown}")),
                "{name:.40}: {text:.400}"
            );
        }
        assert_eq!(
            info_entry(&copy, "AssetgateLicensee").as_deref(),
            Some(name),
            "the exact name is in the document information"
        );
    }
}

#[test]
fn encrypted_damaged_and_non_pdf_files_are_refused() {
    let original = make_pdf(2, "Etude");
    let l = licence("Ann");
    assert_eq!(
        stamp(&encrypted(&original), "x", &l),
        Err(StampError::Encrypted)
    );
    assert_eq!(stamp(b"PK\x03\x04 a zip", "x", &l), Err(StampError::NotPdf));
    let mut cut = original.clone();
    cut.truncate(original.len() / 3);
    assert!(
        matches!(stamp(&cut, "x", &l), Err(StampError::Damaged(_))),
        "a truncated PDF"
    );
}

/// A stamped page as a person sees it (`pdftoppm`), kept with the console's
/// screenshots to look at.
#[test]
fn a_stamped_page_renders() {
    let copy = stamped(&make_pdf(2, "Suite"), "Zoë Ørsted (王芳)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("stamped.pdf");
    std::fs::write(&input, &copy).unwrap();
    let status = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&input)
        .arg(dir.join("40-stamped-page"))
        .status()
        .expect("pdftoppm (poppler-utils) runs");
    assert!(status.success());
    let png = std::fs::read(dir.join("40-stamped-page.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a picture came out");
}
