//! `check-publication`: a document written by `publish`, in every format a unit publishes it (.docx, .html, .txt
//! and a PDF with a text layer, made here), read back and checked against the figures it was written from; the
//! same document with one figure changed; a document with naming and wording faults; the reference text; a scan.

use std::sync::Arc;

use juesuan::{
    api::convert,
    domain::{
        disclosure::Disclosure,
        submission::resolve,
        taxonomy::{Taxonomies, Taxonomy},
    },
    publication::{
        self, Block, Document,
        check::{Accepted, Aspect, CheckReport, Outcome, check},
        read::{Content, ReadDocument, ReadError, read},
    },
};

use crate::helpers::{fixture_path, taxonomy_dir};

fn taxonomies() -> Taxonomies {
    Taxonomies::load(&taxonomy_dir()).unwrap()
}

/// A unit of the workbook corpus: every table filled, as units file them.
fn corpus_unit(taxonomies: &Taxonomies) -> (Arc<Taxonomy>, Disclosure) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workbooks/21-with-cover.xlsx");
    let given = juesuan::workbook::read(taxonomies, &std::fs::read(path).unwrap()).unwrap();
    resolve(taxonomies, convert::disclosure_draft(given).unwrap()).unwrap()
}

/// Last year's figures: another unit's (the corrected reference), so that every change has a direction and a rate.
fn last_year(taxonomies: &Taxonomies) -> Disclosure {
    resolve(
        taxonomies,
        convert::disclosure_draft(crate::submissions::corrected_reference()).unwrap(),
    )
    .unwrap()
    .1
}

/// The document as a unit publishes it: with last year's figures for the changes, and each 【请填写：…】
/// written by a person.
fn finished_document(taxonomy: &Taxonomy, disclosure: &Disclosure, last: &Disclosure) -> Document {
    let mut document = publication::compose(taxonomy, disclosure, Some(last)).unwrap();
    for part in &mut document.parts {
        for block in &mut part.blocks {
            if let Block::Paragraph(text) = block {
                while let Some(start) = text.find("【请填写") {
                    let end = text[start..]
                        .find('】')
                        .map_or(text.len(), |e| start + e + '】'.len_utf8());
                    text.replace_range(start..end, "本单位按实际情况说明");
                }
            }
        }
    }
    document
}

/// The blocks read back as lines of text: paragraphs, and table rows with their cells `between`.
fn as_lines(read: &ReadDocument, between: &str) -> Vec<String> {
    read.blocks
        .iter()
        .flat_map(|b| match &b.content {
            Content::Paragraph(text) => vec![text.clone()],
            Content::Table(rows) => rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| if c.is_empty() { "-" } else { c.as_str() })
                        .collect::<Vec<_>>()
                        .join(between)
                })
                .collect(),
        })
        .collect()
}

/// A PDF whose text layer holds `lines`, 40 to a page: a Type0 font with Identity-H encoding and a ToUnicode map,
/// as word processors write Chinese text. The glyphs are not embedded; the text is what is read.
fn text_layer_pdf(lines: &[String]) -> Vec<u8> {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for chunk in (0..256u32).collect::<Vec<_>>().chunks(100) {
        cmap.push_str(&format!("{} beginbfrange\n", chunk.len()));
        for high in chunk {
            cmap.push_str(&format!("<{high:02X}00> <{high:02X}FF> <{high:02X}00>\n"));
        }
        cmap.push_str("endbfrange\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    let pages: Vec<&[String]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(40).collect()
    };
    // Objects: 1 catalog, 2 pages, 3 font, 4 CID font, 5 ToUnicode, 6 font descriptor, then (page, contents)
    // pairs.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", 7 + 2 * i))
        .collect();
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H \
          /DescendantFonts [4 0 R] /ToUnicode 5 0 R >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun \
          /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
          /FontDescriptor 6 0 R /DW 1000 /CIDToGIDMap /Identity >>"
            .to_vec(),
    );
    let stream = |body: &[u8]| {
        let mut out = format!("<< /Length {} >>\nstream\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendstream");
        out
    };
    objects.push(stream(cmap.as_bytes()));
    objects.push(
        b"<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -140 1000 860] \
          /ItalicAngle 0 /Ascent 860 /Descent -140 /CapHeight 700 /StemV 80 >>"
            .to_vec(),
    );
    for (i, page) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                8 + 2 * i
            )
            .into_bytes(),
        );
        let mut content = String::new();
        for (j, line) in page.iter().enumerate() {
            let hex: String = line
                .encode_utf16()
                .map(|unit| format!("{unit:04X}"))
                .collect();
            content.push_str(&format!(
                "BT /F1 9 Tf 1 0 0 1 30 {} Tm <{hex}> Tj ET\n",
                800 - 19 * j
            ));
        }
        objects.push(stream(content.as_bytes()));
    }
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn fails(report: &CheckReport) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| format!("{:?} {} {:?}", c.aspect, c.what, c.evidence))
        .collect()
}

fn passes(report: &CheckReport, aspect: Aspect) -> usize {
    report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Pass && c.aspect == aspect)
        .count()
}

#[test]
fn a_published_document_checks_clean_against_its_own_figures_in_every_format() {
    let taxonomies = taxonomies();
    let (taxonomy, disclosure) = corpus_unit(&taxonomies);
    let last = last_year(&taxonomies);
    let document = finished_document(&taxonomy, &disclosure, &last);
    let html = publication::html::write(&document).into_bytes();
    let docx = publication::docx::write(&document).unwrap();
    let from_html = read("公开.html", &html).unwrap();
    let txt = as_lines(&from_html, "\t").join("\n").into_bytes();
    let pdf = text_layer_pdf(&as_lines(&from_html, "   "));
    let accepted = || {
        Some(Accepted {
            disclosure: &disclosure,
            last_year: Some(&last),
        })
    };
    for (name, bytes) in [
        ("公开.html", html),
        ("公开.docx", docx),
        ("公开.txt", txt),
        ("公开.pdf", pdf),
    ] {
        let read = read(name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = check(&taxonomies, &read, accepted()).unwrap();
        assert_eq!(
            fails(&report),
            Vec::<String>::new(),
            "{name}: {:?}",
            report.unchecked
        );
        assert_eq!(report.unchecked, [], "{name}: everything was read");
        assert_eq!(report.unit_name.as_deref(), Some("某某县民政局"), "{name}");
        // Every section and subsection, the five parts, and the nine tables (two stated empty).
        assert_eq!(passes(&report, Aspect::Completeness), 22 + 9, "{name}");
        let against = report
            .checks
            .iter()
            .find(|c| c.aspect == Aspect::Accepted)
            .unwrap();
        assert!(
            against.what.contains("与已审核决算一致"),
            "{name}: {}",
            against.what
        );
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.aspect == Aspect::Narrative && c.outcome == Outcome::Pass),
            "{name}: the text agrees with the figures"
        );
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.aspect == Aspect::Wording && c.what.starts_with(|c: char| c != '0')),
            "{name}: comparison words were read ({:?})",
            report.checks.iter().find(|c| c.aspect == Aspect::Wording)
        );
    }
}

/// The document with `edit` applied to its HTML, read and checked against the unit's figures.
fn check_edited(edit: impl Fn(String) -> String) -> CheckReport {
    let taxonomies = taxonomies();
    let (taxonomy, disclosure) = corpus_unit(&taxonomies);
    let last = last_year(&taxonomies);
    let html = publication::html::write(&finished_document(&taxonomy, &disclosure, &last));
    let edited = edit(html.clone());
    assert_ne!(edited, html, "the edit changed the document");
    let read = read("公开.html", edited.as_bytes()).unwrap();
    check(
        &taxonomies,
        &read,
        Some(Accepted {
            disclosure: &disclosure,
            last_year: Some(&last),
        }),
    )
    .unwrap()
}

#[test]
fn one_changed_table_figure_fails_naming_that_figure_with_both_values() {
    let taxonomies = taxonomies();
    let (taxonomy, disclosure) = corpus_unit(&taxonomies);
    let last = last_year(&taxonomies);
    let document = finished_document(&taxonomy, &disclosure, &last);
    // The first figure of 公开02's 合计 row, as printed.
    let printed = document
        .parts
        .iter()
        .flat_map(|p| &p.blocks)
        .find_map(|b| match b {
            Block::Table(t) if t.code == "T02" => t.rows.first().cloned(),
            _ => None,
        })
        .unwrap();
    let value = printed.cells.iter().flatten().next().copied().unwrap();
    let shown = publication::figure(value);
    let changed = publication::figure(value + rust_decimal::Decimal::ONE);
    let report = check_edited(|html| {
        // The figure in 公开02's table, not where the text or another table states it.
        let table = html.find("公开02").unwrap();
        let at = table + html[table..].find(&format!(">{shown}<")).unwrap();
        format!(
            "{}>{changed}<{}",
            &html[..at],
            &html[at + shown.len() + 2..]
        )
    });
    let against: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.aspect == Aspect::Accepted && c.outcome == Outcome::Fail)
        .map(|c| c.what.as_str())
        .collect();
    assert_eq!(against.len(), 1, "{against:?}");
    assert!(against[0].contains("公开02"), "{}", against[0]);
    assert!(
        against[0].contains(&changed) && against[0].contains(&shown),
        "both values: {}",
        against[0]
    );
    // The printed table no longer adds up either.
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.aspect == Aspect::Tables && c.outcome == Outcome::Fail),
        "{:?}",
        fails(&report)
    );
}

#[test]
fn one_changed_narrative_figure_fails_naming_that_figure() {
    let taxonomies = taxonomies();
    let (taxonomy, disclosure) = corpus_unit(&taxonomies);
    let last = last_year(&taxonomies);
    let document = finished_document(&taxonomy, &disclosure, &last);
    let sentence = document
        .parts
        .iter()
        .flat_map(|p| &p.blocks)
        .find_map(|b| match b {
            Block::Paragraph(t) if t.starts_with("本年收入") => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    let figure: String = sentence["本年收入".len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .collect();
    let report =
        check_edited(|html| html.replacen(&format!("本年收入{figure}万元"), "本年收入1.00万元", 1));
    let narrative: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.aspect == Aspect::Narrative && c.outcome == Outcome::Fail)
        .map(|c| format!("{} {:?} {:?}", c.what, c.evidence, c.at))
        .collect();
    assert!(
        narrative
            .iter()
            .any(|f| f.contains("NAR-AMOUNT") && f.contains("本年收入") && f.contains("1.00")),
        "{narrative:#?}"
    );
    assert!(
        narrative
            .iter()
            .any(|f| f.contains("第") && f.contains("段")),
        "the paragraph is named: {narrative:#?}"
    );
}

#[test]
fn naming_and_wording_faults_are_each_a_fail_with_the_sentence() {
    let report = check_edited(|html| {
        html.replacen(
            "</body>",
            "<p>截至2023年12月31日，本单位共有车辆2辆。</p></body>",
            1,
        )
        .replacen("编制单位：某某县民政局", "编制单位：某某县财政局", 1)
        .replacen(
            "本单位按实际情况说明",
            "本年增加（减少）的原因：【请填写：原因】",
            1,
        )
    });
    let all = fails(&report);
    for expected in [
        "截至2023年12月31日",
        "某某县财政局",
        "增加（减少）",
        "占位符",
    ] {
        assert!(
            all.iter().any(|f| f.contains(expected)),
            "{expected}: {all:#?}"
        );
    }
}

#[test]
fn the_reference_text_is_read_section_by_section_and_its_attached_tables_are_listed_unchecked() {
    let taxonomies = taxonomies();
    let bytes = std::fs::read(fixture_path().with_file_name("reference-2024.txt")).unwrap();
    let read = read("reference.txt", &bytes).unwrap();
    let report = check(&taxonomies, &read, None).unwrap();
    assert_eq!(report.unit_name.as_deref(), Some("昌吉州融媒体中心"));
    assert_eq!(report.fiscal_year, 2024);
    // All 21 sections and parts are found, whatever their numbering (its first part is 单位概况).
    let missing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.aspect == Aspect::Completeness && c.outcome == Outcome::Fail)
        .map(|c| c.what.as_str())
        .collect();
    assert_eq!(missing, Vec::<&str>::new());
    // Its tables are attached separately: not read, so not passed.
    assert!(
        report
            .unchecked
            .iter()
            .any(|u| u.what.contains("公开01") && u.why.contains("附表"))
    );
    // Its 政府性基金 and 国有资本经营 tables are stated empty in their sections.
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.what.contains("公开07") && c.outcome == Outcome::Pass)
    );
    // Its changes agree with their rates (16 comparisons read).
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.aspect == Aspect::Wording && c.what.starts_with("16处"))
    );
    // Its self-evaluations (attached to the text) give every inconsistency the validator finds in the figures of
    // the reference disclosure, but those that compare them with the tables the text does not carry.
    let draft = convert::disclosure_draft(crate::helpers::reference()).unwrap();
    let (_, _, validated) =
        juesuan::domain::submission::validate_offline(&taxonomies, draft).unwrap();
    let mut expected = 0;
    for finding in &validated.findings {
        let needs_tables = finding.cells.iter().any(|c| c.table.starts_with('T'));
        let said = report
            .checks
            .iter()
            .find(|c| c.what == format!("{}：{}", finding.rule_id, finding.message));
        if needs_tables {
            assert!(said.is_none(), "{}", finding.message);
            continue;
        }
        expected += 1;
        let said = said.unwrap_or_else(|| panic!("not found in the text: {}", finding.message));
        assert_eq!(
            said.outcome,
            if finding.severity == juesuan::domain::validation::Severity::Error {
                Outcome::Fail
            } else {
                Outcome::Uncertain
            }
        );
    }
    assert!(expected >= 40, "{expected} of {}", validated.findings.len());
    // Nothing else fails.
    assert_eq!(fails(&report).len(), 3, "{:#?}", fails(&report));
}

#[test]
fn a_pdf_without_text_cannot_be_checked_and_is_never_passed() {
    // A page with nothing in its text layer, as a scan's image page is to a text reader.
    let mut pdf = text_layer_pdf(&[]);
    assert!(matches!(read("scan.pdf", &pdf), Err(ReadError::NoText)));
    pdf.truncate(40);
    assert!(matches!(
        read("scan.pdf", &pdf),
        Err(ReadError::Unreadable(..))
    ));
}

#[tokio::test]
async fn the_service_publishes_the_accepted_version_and_checks_a_document_against_it() {
    use juesuan::pb;

    use crate::helpers::{DEPARTMENT, TestApp, UNIT, submit_request};

    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let submitted = app
        .submitter(UNIT)
        .await
        .submit(submit_request(
            "published",
            crate::submissions::corrected_reference(),
        ))
        .await
        .unwrap()
        .into_inner();
    let warnings_on_evaluations = submitted
        .submission
        .as_ref()
        .unwrap()
        .report
        .as_ref()
        .unwrap()
        .findings
        .iter()
        // Every warning of the corrected reference is about its self-evaluations.
        .filter(|f| f.severity == pb::Severity::Warning as i32)
        .count();
    let submission = submitted.submission.unwrap();
    let version = submission.version;
    crate::review::explain_all(&app, &submission).await;
    let reviewer = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    let mut as_reviewer =
        pb::publications_client::PublicationsClient::new(app.as_token(&reviewer).await);
    // Not accepted yet: nothing to publish.
    let refused = as_reviewer
        .publish_disclosure(pb::PublishDisclosureRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            format: pb::DocumentFormat::Html as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("no accepted version"));
    app.accept(DEPARTMENT, UNIT, version).await;

    let published = as_reviewer
        .publish_disclosure(pb::PublishDisclosureRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            format: pb::DocumentFormat::Docx as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.accepted_version, version);
    assert!(!published.with_last_year);
    assert!(published.file_name.ends_with(".docx"));
    assert!(published.placeholders > 0, "reasons are left to a person");
    let read_back = read(&published.file_name, &published.document).unwrap();
    assert!(read_back.blocks.iter().any(
        |b| matches!(&b.content, Content::Paragraph(p) if p == "昌吉州融媒体中心2024年度部门决算")
    ));

    // The console offers the same document on the unit's page.
    let (cookie, _) = crate::web_client::sign_in(&app.web, &reviewer).await;
    let cookie = cookie.unwrap();
    let page =
        crate::web_client::request(&app.web, "GET", &format!("/units/{UNIT}/2024"), &cookie, "")
            .await;
    assert!(
        page.body.contains("/publication.docx"),
        "the unit's page links the document"
    );
    let html = crate::web_client::request(
        &app.web,
        "GET",
        &format!("/units/{UNIT}/2024/publication.html"),
        &cookie,
        "",
    )
    .await;
    assert_eq!(html.status, 200);
    assert!(html.body.contains("昌吉州融媒体中心2024年度部门决算"));
    assert!(html.body.contains("编制单位：昌吉州融媒体中心"));

    // The unit checks the document against its accepted figures.
    let own = app.token(UNIT, pb::Role::Submitter).await;
    let checked = pb::publications_client::PublicationsClient::new(app.as_token(&own).await)
        .check_publication(pb::CheckPublicationRequest {
            document: published.document.clone(),
            file_name: published.file_name.clone(),
            unit_code: UNIT.into(),
            fiscal_year: 2024,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.accepted_version, version);
    assert_eq!(checked.unit_name, "昌吉州融媒体中心");
    let outcome = |aspect: &str, outcome: pb::CheckOutcome| {
        checked
            .checks
            .iter()
            .filter(|c| c.aspect == aspect && c.outcome == outcome as i32)
            .count()
    };
    assert_eq!(
        outcome("accepted", pb::CheckOutcome::Pass),
        1,
        "{:#?}",
        checked.checks
    );
    assert_eq!(outcome("accepted", pb::CheckOutcome::Fail), 0);
    assert_eq!(outcome("narrative", pb::CheckOutcome::Fail), 0);
    assert_eq!(outcome("completeness", pb::CheckOutcome::Fail), 0);
    // The self-evaluations attached to the document read back to the very warnings the submission had.
    assert!(warnings_on_evaluations > 0);
    assert_eq!(
        outcome("evaluations", pb::CheckOutcome::Uncertain),
        warnings_on_evaluations
    );
    // What it still FAILs: the 【请填写】 a person has not written yet, and (the reference's tables give some
    // columns only) identities over the columns printed blank.
    for fail in checked
        .checks
        .iter()
        .filter(|c| c.outcome == pb::CheckOutcome::Fail as i32)
    {
        assert!(
            fail.what.contains("占位符") || fail.aspect == "tables",
            "{fail:?}"
        );
    }

    // The command line does the same through the service.
    let dir = tempfile::TempDir::new().unwrap();
    let written = dir.path().join("公开.html");
    let cli = |args: Vec<String>| {
        let admin = app.admin_token.clone();
        let server = app.address.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
                .args(args)
                .args(["--server", &server])
                .env("JUESUAN_TOKEN", admin)
                .output()
                .await
                .unwrap()
        }
    };
    let published_by_cli = cli(vec![
        "publish".into(),
        "--unit".into(),
        UNIT.into(),
        "--year".into(),
        "2024".into(),
        "-o".into(),
        written.display().to_string(),
    ])
    .await;
    assert!(
        published_by_cli.status.success(),
        "{}",
        String::from_utf8_lossy(&published_by_cli.stderr)
    );
    assert!(
        String::from_utf8_lossy(&published_by_cli.stdout)
            .contains(&format!("accepted version {version}"))
    );
    let checked_by_cli = cli(vec![
        "check-publication".into(),
        written.display().to_string(),
        "--unit".into(),
        UNIT.into(),
        "--year".into(),
        "2024".into(),
    ])
    .await;
    let said = String::from_utf8_lossy(&checked_by_cli.stdout);
    // The placeholders a person has not written yet FAIL.
    assert_eq!(checked_by_cli.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("对照已审核第{version}版")), "{said}");
    assert!(said.contains("与已审核决算一致"), "{said}");

    // A document over the bound is refused by name before it is read.
    let too_large = pb::publications_client::PublicationsClient::new(app.as_token(&own).await)
        .max_encoding_message_size(32 << 20)
        .check_publication(pb::CheckPublicationRequest {
            document: vec![b' '; juesuan::publication::read::MAX_DOCUMENT_BYTES + 1],
            file_name: "big.txt".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_large.code(), tonic::Code::InvalidArgument);
    assert_eq!(crate::helpers::violated_fields(&too_large), ["document"]);
    // A document that names no year, on its own: refused by name.
    let no_year = pb::publications_client::PublicationsClient::new(app.as_token(&own).await)
        .check_publication(pb::CheckPublicationRequest {
            document: "<p>部门决算</p>".into(),
            file_name: "x.html".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_year.code(), tonic::Code::InvalidArgument);
    assert!(
        no_year.message().contains("no year"),
        "{}",
        no_year.message()
    );
}

#[test]
fn a_directory_of_documents_gives_one_summary_and_the_exit_status_says_the_worst() {
    let taxonomies = taxonomies();
    let (taxonomy, disclosure) = corpus_unit(&taxonomies);
    let last = last_year(&taxonomies);
    let html = publication::html::write(&finished_document(&taxonomy, &disclosure, &last));
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("a-clean.html"), &html).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
            .arg("check-publication")
            .args(args)
            .output()
            .unwrap()
    };
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let clean = run(&[&path("a-clean.html")]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    std::fs::write(
        dir.path().join("b-placeholder.html"),
        html.replacen("本单位按实际情况说明", "【请填写：主要职能】", 1),
    )
    .unwrap();
    let failing = run(&[&path("b-placeholder.html")]);
    assert_eq!(failing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failing.stdout).contains("FAIL"));
    std::fs::write(dir.path().join("c-scan.pdf"), b"%PDF-1.4 not really").unwrap();
    let whole = run(&[dir.path().to_str().unwrap()]);
    assert_eq!(whole.status.code(), Some(2), "a document cannot be read");
    let said = String::from_utf8_lossy(&whole.stdout);
    let summary: Vec<&str> = said
        .lines()
        .skip_while(|l| !l.starts_with("FILE"))
        .collect();
    assert_eq!(summary.len(), 4, "{said}");
    assert!(summary[1].starts_with("a-clean.html") && summary[1].contains("某某县民政局"));
    assert!(summary[3].starts_with("c-scan.pdf") && summary[3].contains("cannot be checked"));
    let json = run(&[dir.path().to_str().unwrap(), "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let items = parsed.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["report"]["unit_name"], "某某县民政局");
    assert!(items[2]["unreadable"].as_str().unwrap().contains("PDF"));
}

#[test]
fn tables_are_found_by_title_and_headers_whatever_their_order_numbering_and_figure_format() {
    let taxonomies = taxonomies();
    let (taxonomy, disclosure) = corpus_unit(&taxonomies);
    let last = last_year(&taxonomies);
    let mut document = finished_document(&taxonomy, &disclosure, &last);
    // Another province's order: the tables last to first, numbered by their new place.
    let tables = document
        .parts
        .iter_mut()
        .find(|p| p.title.contains("报表"))
        .unwrap();
    let mut pairs: Vec<Vec<Block>> = tables.blocks.chunks(2).map(<[Block]>::to_vec).collect();
    pairs.reverse();
    for (i, pair) in pairs.iter_mut().enumerate() {
        if let Block::Heading { text, .. } = &mut pair[0] {
            let name = text.split_once('、').unwrap().1.to_owned();
            *text = format!("表{}：{name}", i + 1);
        }
    }
    tables.blocks = pairs.concat();
    // Figures without thousands separators.
    let html = publication::html::write(&document);
    let chars: Vec<char> = html.chars().collect();
    let plain: String = chars
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !(**c == ','
                && *i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        })
        .map(|(_, c)| c)
        .collect();
    assert_ne!(plain, html);
    let read = read("公开.html", plain.as_bytes()).unwrap();
    let report = check(
        &taxonomies,
        &read,
        Some(Accepted {
            disclosure: &disclosure,
            last_year: Some(&last),
        }),
    )
    .unwrap();
    assert_eq!(
        fails(&report),
        Vec::<String>::new(),
        "{:?}",
        report.unchecked
    );
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.aspect == Aspect::Accepted && c.what.contains("一致"))
    );
}
