//! Stamping throughput: pages per second and MiB per second for a 10-page
//! and a 300-page PDF, on one core (the library call fulfilment makes).
//!
//! `cargo run --release --example stamp_bench` (bench/stamp.sh runs it;
//! `--write PATH PAGES` writes one such PDF instead);
//! prints a Markdown table. Each PDF page carries about 4 KiB of text
//! content, so the files are 40 KiB and 1.2 MiB — shaped like scores and
//! reports, not like scanned books (whose size is images the stamp never
//! reads: their cost is the copy of their bytes, shown by the MiB/s column).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a tool: a failed step should stop it loudly

use std::time::Instant;

use assetgate::stamping::{Licence, stamp};
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

fn make_pdf(pages: usize, filler_kib: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids: Vec<Object> = Vec::with_capacity(pages);
    for n in 1..=pages {
        let mut operations = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 9.into()]),
            Operation::new("Td", vec![40.into(), 800.into()]),
        ];
        for line in 0..(filler_kib * 1024 / 80) {
            operations.push(Operation::new("Td", vec![0.into(), (-10).into()]));
            operations.push(Operation::new(
                "Tj",
                vec![Object::string_literal(format!(
                    "page {n} line {line}: the quick brown fox jumps over the lazy dog"
                ))],
            ));
        }
        operations.push(Operation::new("ET", vec![]));
        let content = Content { operations };
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            content.encode().expect("content"),
        ));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => i64::try_from(pages).expect("pages"),
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

fn main() {
    // `stamp_bench --write PATH PAGES`: just write a test PDF (bench/stamp.py).
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, path, pages] = args.as_slice()
        && flag == "--write"
    {
        let pages = pages.parse().expect("PAGES is a number");
        std::fs::write(path, make_pdf(pages, 4)).expect("writes the PDF");
        return;
    }
    let licence = Licence {
        customer: "Ann Buyer",
        vendor: "Nordic Scores",
        order_id: 1001,
        order_line_id: 1,
        date: "2026-12-06",
    };
    let footer = licence.footer("Licensed to {customer} · order {order_id} · {date}");
    println!("| PDF | size | copies | per copy (median) | pages/s | MiB/s | copy grows by |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (pages, copies) in [(10_usize, 200_usize), (300, 20)] {
        let original = make_pdf(pages, 4);
        let mut times = Vec::with_capacity(copies);
        let mut grown = 0;
        for _ in 0..copies {
            let start = Instant::now();
            let copy = stamp(&original, &footer, &licence).expect("stamps");
            times.push(start.elapsed().as_secs_f64());
            grown = copy.len() - original.len();
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        #[allow(clippy::cast_precision_loss)]
        let (mib, pages_f) = (original.len() as f64 / 1_048_576.0, pages as f64);
        println!(
            "| {pages} pages | {:.2} MiB | {copies} | {:.1} ms | {:.0} | {:.1} | {:.1} KiB |",
            mib,
            median * 1000.0,
            pages_f / median,
            mib / median,
            grown as f64 / 1024.0
        );
    }
}
