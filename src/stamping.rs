//! Per-buyer PDF stamping (SPEC §12): a footer on every page saying whose
//! copy it is, and the same in the document information.
//!
//! The copy is an **incremental update** of the original: the original bytes
//! stay untouched at the start of the file, and the update appends a font,
//! one small content stream per page, new versions of the page dictionaries
//! (their `/Contents` wrapped as `q … Q` + footer) and a new document
//! information dictionary. The original page content is never parsed or
//! rewritten, so nothing the stamp does can alter it, and a 300-page PDF
//! costs a few kilobytes of new objects rather than a rewrite.
//!
//! The footer is drawn in the standard Helvetica font with WinAnsi encoding
//! (every viewer has it; nothing is embedded). Characters it cannot show
//! degrade visibly: accented Latin letters are kept (Ørsted, Zoë), others
//! are written as their code points (`王芳` → `U+738B U+82B3`), controls,
//! newlines and bidirectional marks become spaces or vanish. The exact name
//! is in the document information as a UTF-16 text string. All text is
//! written as hexadecimal strings: no customer input ever reaches the PDF
//! syntax unescaped.

use lopdf::{
    Dictionary, Document, IncrementalDocument, Object, ObjectId, StringFormat, dictionary,
};

/// What a stamp says.
#[derive(Clone, Debug)]
pub struct Licence<'a> {
    pub customer: &'a str,
    pub vendor: &'a str,
    pub order_id: i64,
    pub order_line_id: i64,
    /// `YYYY-MM-DD`.
    pub date: &'a str,
}

impl Licence<'_> {
    /// `template` with `{customer}`, `{vendor}`, `{order_id}`,
    /// `{order_line_id}` and `{date}` filled in (in one pass: a customer
    /// named `{vendor}` stays `{vendor}`).
    pub fn footer(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + self.customer.len());
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            let Some(end) = after.find('}') else {
                out.push_str(after);
                rest = "";
                break;
            };
            let value = match &after[1..end] {
                "customer" => Some(self.customer.to_owned()),
                "vendor" => Some(self.vendor.to_owned()),
                "order_id" => Some(self.order_id.to_string()),
                "order_line_id" => Some(self.order_line_id.to_string()),
                "date" => Some(self.date.to_owned()),
                _ => None,
            };
            match value {
                Some(v) => {
                    out.push_str(&v);
                    rest = &after[end + 1..];
                }
                None => {
                    out.push('{');
                    rest = &after[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StampError {
    #[error("the file is not a PDF")]
    NotPdf,
    #[error("the PDF is encrypted; stamping needs an unencrypted file")]
    Encrypted,
    #[error("the PDF is damaged: {0}")]
    Damaged(String),
}

/// The resource name of the footer's font on every page.
const FONT: &[u8] = b"AGStamp";
/// Footer font size in points (smaller if the text would not fit).
const SIZE: f32 = 8.0;
const MIN_SIZE: f32 = 4.0;
/// Distance of the footer from the page's left and bottom edges, in points.
const MARGIN: f32 = 18.0;
/// Helvetica's widest common glyphs are about 0.56 em: a safe estimate.
const EM_PER_CHAR: f32 = 0.56;

/// A stamped copy of `original`: the footer on every page, the licence in
/// the document information.
pub fn stamp(original: &[u8], footer: &str, licence: &Licence<'_>) -> Result<Vec<u8>, StampError> {
    if !original.starts_with(b"%PDF-")
        && !original[..original.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")
    {
        return Err(StampError::NotPdf);
    }
    let doc = Document::load_mem(original).map_err(|e| {
        if matches!(e, lopdf::Error::Decryption(_)) {
            StampError::Encrypted
        } else {
            StampError::Damaged(short(&e.to_string()))
        }
    })?;
    if doc.was_encrypted() || doc.is_encrypted() {
        return Err(StampError::Encrypted);
    }
    // A file whose cross-reference table had to be rebuilt cannot take an
    // incremental update (there is no table to chain to).
    if doc.xref_start == 0 {
        return Err(StampError::Damaged(
            "its cross-reference table is broken".into(),
        ));
    }
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    if pages.is_empty() {
        return Err(StampError::Damaged("it has no pages".into()));
    }
    let boxes: Vec<[f32; 4]> = pages.iter().map(|p| media_box(&doc, *p)).collect();
    let info = info_of(&doc);
    let mut inc = IncrementalDocument::create_from(original.to_vec(), doc);
    let new = &mut inc.new_document;
    let font = new.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let save = new.add_object(lopdf::Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let text = win_ansi(footer);
    for (page, [x0, y0, x1, _]) in pages.into_iter().zip(boxes) {
        let (size, shown) = fit(&text, x1 - x0 - 2.0 * MARGIN);
        let mut content = Vec::with_capacity(shown.len() * 2 + 96);
        content.extend_from_slice(
            format!(
                "\nQ\nq 0.35 g BT /{} {size:.2} Tf {:.2} {:.2} Td <",
                String::from_utf8_lossy(FONT),
                x0 + MARGIN,
                y0 + MARGIN / 2.0,
            )
            .as_bytes(),
        );
        for b in &shown {
            content.extend_from_slice(format!("{b:02X}").as_bytes());
        }
        content.extend_from_slice(b"> Tj ET Q\n");
        let footer_id = inc
            .new_document
            .add_object(lopdf::Stream::new(Dictionary::new(), content));
        inc.opt_clone_object_to_new_document(page)
            .map_err(|e| StampError::Damaged(short(&e.to_string())))?;
        add_font(&mut inc, page, font)?;
        let dict = inc
            .new_document
            .get_object_mut(page)
            .and_then(Object::as_dict_mut)
            .map_err(|e| StampError::Damaged(short(&e.to_string())))?;
        let mut contents = vec![Object::Reference(save)];
        match dict.get(b"Contents") {
            Ok(Object::Array(parts)) => contents.extend(parts.iter().cloned()),
            Ok(other @ Object::Reference(_)) => contents.push(other.clone()),
            _ => {}
        }
        contents.push(Object::Reference(footer_id));
        dict.set("Contents", Object::Array(contents));
    }
    let mut info = info;
    info.set("AssetgateLicensee", text_string(licence.customer));
    info.set("AssetgateVendor", text_string(licence.vendor));
    info.set("AssetgateOrder", Object::Integer(licence.order_id));
    info.set("AssetgateOrderLine", Object::Integer(licence.order_line_id));
    info.set("Subject", text_string(footer));
    let info_id = inc.new_document.add_object(info);
    inc.new_document
        .trailer
        .set("Info", Object::Reference(info_id));
    let mut out = Vec::with_capacity(original.len() + 4096);
    inc.save_to(&mut out)
        .map_err(|e| StampError::Damaged(short(&e.to_string())))?;
    Ok(out)
}

/// The original document information, if any (entries kept in the copy).
fn info_of(doc: &Document) -> Dictionary {
    match doc.trailer.get(b"Info") {
        Ok(Object::Reference(id)) => doc.get_dictionary(*id).cloned().unwrap_or_default(),
        Ok(Object::Dictionary(d)) => d.clone(),
        _ => Dictionary::new(),
    }
}

/// Adds the footer font to the page's resources (its own, or a copy of the
/// inherited ones), whether `/Font` is inline or a reference.
fn add_font(
    inc: &mut IncrementalDocument,
    page: ObjectId,
    font: ObjectId,
) -> Result<(), StampError> {
    let damaged = |e: lopdf::Error| StampError::Damaged(short(&e.to_string()));
    let resources = inc
        .get_or_create_resources(page)
        .and_then(Object::as_dict_mut)
        .map_err(damaged)?;
    if !resources.has(b"Font") {
        resources.set("Font", Dictionary::new());
    }
    let fonts_ref = match resources.get(b"Font").map_err(damaged)? {
        Object::Reference(id) => Some(*id),
        _ => None,
    };
    let fonts = match fonts_ref {
        Some(id) => {
            inc.opt_clone_object_to_new_document(id).map_err(damaged)?;
            inc.new_document.get_object_mut(id).map_err(damaged)?
        }
        None => inc
            .get_or_create_resources(page)
            .and_then(Object::as_dict_mut)
            .and_then(|r| r.get_mut(b"Font"))
            .map_err(damaged)?,
    };
    fonts
        .as_dict_mut()
        .map_err(damaged)?
        .set(FONT, Object::Reference(font));
    Ok(())
}

/// The page's `/MediaBox`, inherited through the page tree if need be
/// (US Letter if none is found).
fn media_box(doc: &Document, page: ObjectId) -> [f32; 4] {
    let mut at = Some(page);
    for _ in 0..32 {
        let Some(id) = at else { break };
        let Ok(dict) = doc.get_dictionary(id) else {
            break;
        };
        if let Ok(found) = dict.get(b"MediaBox") {
            let found = match found {
                Object::Reference(r) => doc.get_object(*r).ok(),
                other => Some(other),
            };
            if let Some(Object::Array(v)) = found
                && v.len() == 4
            {
                let n: Vec<f32> = v.iter().filter_map(|o| o.as_float().ok()).collect();
                if let [a, b, c, d] = n[..] {
                    return [a.min(c), b.min(d), a.max(c), b.max(d)];
                }
            }
        }
        at = dict.get(b"Parent").and_then(Object::as_reference).ok();
    }
    [0.0, 0.0, 612.0, 792.0]
}

/// The font size and the bytes that fit in `width` points: smaller type
/// first, then the end cut with an ellipsis.
fn fit(text: &[u8], width: f32) -> (f32, Vec<u8>) {
    let per_char = |size: f32| size * EM_PER_CHAR;
    #[allow(clippy::cast_precision_loss)]
    let needed = text.len() as f32 * per_char(SIZE);
    if needed <= width {
        return (SIZE, text.to_vec());
    }
    #[allow(clippy::cast_precision_loss)]
    let size = (width / (text.len() as f32 * EM_PER_CHAR)).max(MIN_SIZE);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let fits = ((width / per_char(size)).floor().max(1.0)) as usize;
    if fits >= text.len() {
        (size, text.to_vec())
    } else {
        // The last visible character becomes "…" (WinAnsi 0x85).
        let mut cut = text[..fits].to_vec();
        if let Some(last) = cut.last_mut() {
            *last = 0x85;
        }
        (size, cut)
    }
}

/// A PDF text string: UTF-16BE with its byte-order mark, as hex.
fn text_string(s: &str) -> Object {
    let mut bytes = vec![0xFE, 0xFF];
    for unit in s.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

/// `s` in WinAnsi (Helvetica's standard encoding): Latin-1 letters as
/// themselves, typographic marks mapped, controls as spaces, invisible
/// direction marks dropped, anything else as `U+XXXX` — visible, never empty.
pub fn win_ansi(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut last_was_code = false;
    for c in s.chars() {
        let byte = match c {
            '\u{20}'..='\u{7E}' => Some(c as u8),
            '\u{A0}'..='\u{FF}' => u8::try_from(u32::from(c)).ok(),
            c if c.is_control() => Some(b' '),
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}' => {
                continue;
            }
            '€' => Some(0x80),
            '‚' => Some(0x82),
            '„' => Some(0x84),
            '…' => Some(0x85),
            '‘' => Some(0x91),
            '’' => Some(0x92),
            '“' => Some(0x93),
            '”' => Some(0x94),
            '•' => Some(0x95),
            '–' => Some(0x96),
            '—' => Some(0x97),
            'Œ' => Some(0x8C),
            'œ' => Some(0x9C),
            'Š' => Some(0x8A),
            'š' => Some(0x9A),
            'Ž' => Some(0x8E),
            'ž' => Some(0x9E),
            'Ÿ' => Some(0x9F),
            _ => None,
        };
        match byte {
            Some(b) => {
                out.push(b);
                last_was_code = false;
            }
            None => {
                if last_was_code {
                    out.push(b' ');
                }
                out.extend_from_slice(format!("U+{:04X}", u32::from(c)).as_bytes());
                last_was_code = true;
            }
        }
    }
    out
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence(customer: &str) -> Licence<'_> {
        Licence {
            customer,
            vendor: "Nordic Scores",
            order_id: 1001,
            order_line_id: 2,
            date: "2026-12-06",
        }
    }

    #[test]
    fn the_template_is_filled_once_and_unknown_fields_stay() {
        let l = licence("{vendor} Ann");
        assert_eq!(
            l.footer("Licensed to {customer} · order {order_id}/{order_line_id} · {date} · {vendor} {x} {"),
            "Licensed to {vendor} Ann · order 1001/2 · 2026-12-06 · Nordic Scores {x} {"
        );
    }

    #[test]
    fn names_degrade_visibly_and_never_to_nothing() {
        assert_eq!(win_ansi("Zoë Ørsted"), b"Zo\xEB \xD8rsted");
        assert_eq!(win_ansi("王芳"), b"U+738B U+82B3");
        assert_eq!(win_ansi("a\nb\u{200F})\\"), b"a b)\\");
    }

    #[test]
    fn not_a_pdf_is_refused() {
        assert_eq!(
            stamp(b"hello", "x", &licence("Ann")),
            Err(StampError::NotPdf)
        );
        assert!(matches!(
            stamp(b"%PDF-1.4\ngarbage", "x", &licence("Ann")),
            Err(StampError::Damaged(_))
        ));
    }

    #[test]
    fn long_footers_shrink_then_cut() {
        let text = vec![b'a'; 10_000];
        let (size, shown) = fit(&text, 500.0);
        assert!((size - MIN_SIZE).abs() < f32::EPSILON);
        assert!(shown.len() < 300 && !shown.is_empty());
        let (size, shown) = fit(b"short", 500.0);
        assert!((size - SIZE).abs() < f32::EPSILON);
        assert_eq!(shown, b"short");
        let (_, cut) = fit(&text, 500.0);
        assert_eq!(cut.last(), Some(&0x85), "an ellipsis says it was cut");
    }
}
