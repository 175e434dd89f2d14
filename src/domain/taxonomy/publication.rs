//! The structure of a year's public document (部门决算公开), as data (`publication.toml`): its parts in order,
//! each holding sections (each the drafted text of a narrative section, or subsections), the 名词解释, or the
//! tables; and what an empty table says instead of its rows.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Taxonomy, TaxonomyError, load::Sources};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// The document's title; `{unit}` and `{year}` are the unit's name and the fiscal year.
    pub title: String,
    pub parts: Vec<Part>,
    /// By table code, and `default` for the others.
    #[serde(default)]
    pub empty_statements: BTreeMap<String, String>,
    #[serde(default)]
    pub glossary: Vec<Term>,
    /// The 决算情况说明's sentence templates by narrative section, one paragraph each (see the file's comment).
    #[serde(default)]
    pub prose: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub title: String,
    #[serde(default)]
    pub sections: Vec<Section>,
    /// The part is the 名词解释.
    #[serde(default)]
    pub glossary: bool,
    /// The part is the tables.
    #[serde(default)]
    pub tables: bool,
    /// The part is the performance self-evaluations, as attachments.
    #[serde(default)]
    pub evaluations: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub title: String,
    /// The narrative section whose text this section holds.
    #[serde(default)]
    pub narrative: Option<String>,
    /// The table this section explains: when it is empty, the section says the table's empty statement.
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub subsections: Vec<Section>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    pub term: String,
    pub text: String,
}

impl Publication {
    /// What an empty table says: its own statement, else the default one.
    pub fn empty_statement(&self, table: &str) -> &str {
        self.empty_statements
            .get(table)
            .or_else(|| self.empty_statements.get("default"))
            .map_or("本表无数据。", String::as_str)
    }

    /// Every section and subsection, depth first.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.parts
            .iter()
            .flat_map(|p| &p.sections)
            .flat_map(|s| std::iter::once(s).chain(&s.subsections))
    }
}

/// The year's `publication.toml` (or that of the year it extends); `None` when there is none. Every narrative key
/// it names must be one of the year's sections, and every table of its statements one of the year's tables.
pub(super) fn load(
    taxonomy: &Taxonomy,
    sources: &Sources<'_>,
) -> Result<Option<Publication>, TaxonomyError> {
    let Some(path) = sources.find("publication.toml") else {
        return Ok(None);
    };
    let file = sources.read(&path)?;
    let publication: Publication = file.parse_toml()?;
    let error = |message: String| TaxonomyError {
        file: path.clone(),
        position: None,
        message,
    };
    for section in publication.sections() {
        if let Some(key) = &section.narrative
            && taxonomy.narrative_section(key).is_none()
        {
            return Err(error(format!(
                "section \"{}\" names narrative \"{key}\", which taxonomy.toml does not define",
                section.title
            )));
        }
    }
    for section in publication.sections() {
        if let Some(table) = &section.table
            && taxonomy.table(table).is_none()
        {
            return Err(error(format!(
                "section \"{}\" names table \"{table}\", which tables.toml does not define",
                section.title
            )));
        }
    }
    for key in publication.prose.keys() {
        if taxonomy.narrative_section(key).is_none() {
            return Err(error(format!(
                "prose names narrative \"{key}\", which taxonomy.toml does not define"
            )));
        }
    }
    for table in publication.empty_statements.keys() {
        if table != "default" && taxonomy.table(table).is_none() {
            return Err(error(format!(
                "empty_statements names table \"{table}\", which tables.toml does not define"
            )));
        }
    }
    Ok(Some(publication))
}

#[cfg(test)]
mod tests {
    use crate::domain::taxonomy::test_support;

    #[test]
    fn every_year_has_the_documents_four_parts_and_2025_inherits_them() {
        for year in [2024, 2025] {
            let taxonomy = test_support::year(year);
            let publication = taxonomy.publication.as_ref().expect("publication.toml");
            let titles: Vec<&str> = publication.parts.iter().map(|p| p.title.as_str()).collect();
            assert_eq!(
                titles,
                [
                    "第一部分 部门概况",
                    "第二部分 部门决算情况说明",
                    "第三部分 专业名词解释",
                    "第四部分 部门决算报表",
                    "附件 绩效自评表"
                ]
            );
            assert!(publication.empty_statement("T07").contains("政府性基金"));
            assert!(
                publication.empty_statement("T05").contains("空表"),
                "the default statement"
            );
            assert!(publication.glossary.len() >= 10);
        }
    }
}
