//! Classification code lists (政府收支分类科目): hierarchical codes whose level is given by their number of digits.

use std::collections::BTreeMap;

/// One code of a list.
#[derive(Debug, Clone)]
pub struct CodeEntry {
    pub name: String,
    /// 1 for 类, 2 for 款, 3 for 项.
    pub level: u8,
}

/// A code list of one fiscal year, e.g. the functional classification.
#[derive(Debug, Clone)]
pub struct CodeList {
    pub key: String,
    pub name: String,
    /// Number of digits of each level: [3, 5, 7] for the functional classification.
    pub level_digits: Vec<usize>,
    /// Changed only through `insert`, `remove` and `rename`, which keep `listed` in step.
    entries: BTreeMap<String, CodeEntry>,
    /// The codes as numbers ([`numeric_key`]), sorted: whether a code is listed, and so its level, is a binary
    /// search over integers. Every row a disclosure gives is looked up here when it is resolved, and again when
    /// the hierarchy rules ask its level; the search of the map by text was a tenth of checking a unit's tables.
    listed: Vec<u64>,
    /// Codes the year's change list removed, each with the code that replaced it when the list names one.
    removed: BTreeMap<String, Option<String>>,
}

/// A code of at most 17 digits as one number that tells codes of different lengths apart ("0701" from "701"):
/// its value shifted left by five bits, with its length in those bits.
fn numeric_key(code: &str) -> Option<u64> {
    if code.is_empty() || code.len() > 17 {
        return None;
    }
    let mut value: u64 = 0;
    for byte in code.bytes() {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
    }
    Some(value << 5 | code.len() as u64)
}

impl CodeList {
    /// An empty list; codes are added with [`CodeList::insert`].
    pub fn new(key: String, name: String, level_digits: Vec<usize>) -> CodeList {
        CodeList {
            key,
            name,
            level_digits,
            entries: BTreeMap::new(),
            listed: Vec::new(),
            removed: BTreeMap::new(),
        }
    }

    /// Records that the year's change list removed a code, and what replaced it.
    pub fn mark_removed(&mut self, code: &str, replacement: Option<&str>) {
        self.removed
            .insert(code.to_owned(), replacement.map(str::to_owned));
    }

    /// Whether the year's change list removed a code: `Some(replacement)` when it did (the replacement when the
    /// list names one).
    pub fn removal(&self, code: &str) -> Option<Option<&str>> {
        self.removed.get(code).map(Option::as_deref)
    }

    /// The codes the year's change list removed, with their replacements.
    pub fn removals(&self) -> &BTreeMap<String, Option<String>> {
        &self.removed
    }

    /// The level-1 prefix of a well-formed code (its 类).
    pub fn class_of<'c>(&self, code: &'c str) -> Option<&'c str> {
        self.level_of_shape(code)?;
        code.get(..*self.level_digits.first()?)
    }

    /// The codes in code order.
    pub fn entries(&self) -> &BTreeMap<String, CodeEntry> {
        &self.entries
    }

    /// Adds a code; `false` (and nothing changed) when it is already listed.
    pub fn insert(&mut self, code: &str, entry: CodeEntry) -> bool {
        if self.entries.contains_key(code) {
            return false;
        }
        if let Some(key) = numeric_key(code)
            && let Err(at) = self.listed.binary_search(&key)
        {
            self.listed.insert(at, key);
        }
        self.entries.insert(code.to_owned(), entry);
        true
    }

    /// Removes a code; `false` when it is not listed.
    pub fn remove(&mut self, code: &str) -> bool {
        if self.entries.remove(code).is_none() {
            return false;
        }
        if let Some(key) = numeric_key(code)
            && let Ok(at) = self.listed.binary_search(&key)
        {
            self.listed.remove(at);
        }
        true
    }

    /// Renames a listed code; `false` when it is not listed.
    pub fn rename(&mut self, code: &str, name: &str) -> bool {
        match self.entries.get_mut(code) {
            Some(entry) => {
                entry.name = name.to_owned();
                true
            }
            None => false,
        }
    }

    /// Whether the list has the code.
    pub fn contains(&self, code: &str) -> bool {
        match numeric_key(code) {
            Some(key) => self.listed.binary_search(&key).is_ok(),
            None => self.entries.contains_key(code),
        }
    }

    /// The level of a listed code; `None` when the list does not have it.
    pub fn level_of(&self, code: &str) -> Option<u8> {
        let level = self.level_of_shape(code)?;
        self.contains(code).then_some(level)
    }

    /// The level a code of this shape would have (by its number of digits), known or not.
    pub fn level_of_shape(&self, code: &str) -> Option<u8> {
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.level_digits
            .iter()
            .position(|&digits| digits == code.len())
            .map(|index| index as u8 + 1)
    }

    pub fn get(&self, code: &str) -> Option<&CodeEntry> {
        self.entries.get(code)
    }

    /// The parent of a code: its prefix one level up (`None` for a top-level code or an unknown shape).
    pub fn parent_of<'c>(&self, code: &'c str) -> Option<&'c str> {
        let level = self.level_of_shape(code)?;
        (level > 1).then(|| &code[..self.level_digits[level as usize - 2]])
    }

    /// The known direct children of a code, in code order.
    pub fn children<'a>(
        &'a self,
        code: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a CodeEntry)> + 'a {
        let child_digits = self
            .level_of_shape(code)
            .and_then(|level| self.level_digits.get(level as usize).copied());
        self.entries
            .range(code.to_owned()..)
            .take_while(move |(c, _)| c.starts_with(code))
            .filter(move |(c, _)| Some(c.len()) == child_digits)
            .map(|(c, e)| (c.as_str(), e))
    }
}

/// What changed between two lists of one kind: codes added, removed (with what replaced them, where the newer
/// list's changes say so) and renamed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListDiff {
    pub added: Vec<(String, String)>,
    pub removed: Vec<(String, String, Option<String>)>,
    /// (code, old name, new name).
    pub renamed: Vec<(String, String, String)>,
}

impl ListDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.renamed.is_empty()
    }

    /// The differences as a change list (`+`, `-`, `~` lines, as a later year's `codes/*-changes.tsv`), parents
    /// before children on adds and children before parents on removals, so that it applies in order.
    pub fn as_changes(&self) -> String {
        let mut out = String::new();
        let mut removed = self.removed.clone();
        removed.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        for (code, _, replacement) in &removed {
            match replacement {
                Some(r) => out.push_str(&format!("-\t{code}\t{r}\n")),
                None => out.push_str(&format!("-\t{code}\n")),
            }
        }
        let mut added = self.added.clone();
        added.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(&b.0)));
        for (code, name) in &added {
            out.push_str(&format!("+\t{code}\t{name}\n"));
        }
        for (code, _, name) in &self.renamed {
            out.push_str(&format!("~\t{code}\t{name}\n"));
        }
        out
    }
}

/// The differences from `old` to `new` (by code; names compared as printed).
pub fn diff(old: &CodeList, new: &CodeList) -> ListDiff {
    let mut out = ListDiff::default();
    for (code, entry) in new.entries() {
        match old.get(code) {
            None => out.added.push((code.clone(), entry.name.clone())),
            Some(before) if before.name != entry.name => {
                out.renamed
                    .push((code.clone(), before.name.clone(), entry.name.clone()))
            }
            Some(_) => {}
        }
    }
    for (code, entry) in old.entries() {
        if !new.contains(code) {
            let replacement = new.removal(code).flatten().map(str::to_owned);
            out.removed
                .push((code.clone(), entry.name.clone(), replacement));
        }
    }
    out
}

/// A list built from (where, code, name) lines as a file gives them, checked: each code of a level's digits,
/// given once, under a parent given before or after it. Every problem is named by where it is.
pub fn build_list(
    key: &str,
    name: &str,
    level_digits: &[usize],
    lines: &[(String, String, String)],
) -> Result<CodeList, Vec<String>> {
    let mut problems = Vec::new();
    let mut list = CodeList::new(key.to_owned(), name.to_owned(), level_digits.to_vec());
    let mut first_at: BTreeMap<&str, &str> = BTreeMap::new();
    let mut ordered: Vec<&(String, String, String)> = lines.iter().collect();
    // Parents first, whatever order the file has them in.
    ordered.sort_by_key(|(_, code, _)| code.len());
    for (at, code, name) in ordered {
        let Some(level) = list.level_of_shape(code) else {
            problems.push(format!(
                "{at}: \"{code}\" is not a code of {level_digits:?} digits"
            ));
            continue;
        };
        if name.trim().is_empty() {
            problems.push(format!("{at}: code {code} has no name"));
            continue;
        }
        if let Some(first) = first_at.insert(code, at) {
            problems.push(format!(
                "{at}: code {code} is given twice (first at {first})"
            ));
            continue;
        }
        if let Some(parent) = list.parent_of(code)
            && !list.contains(parent)
        {
            problems.push(format!(
                "{at}: code {code} has no parent {parent} in the list"
            ));
            continue;
        }
        list.insert(
            code,
            CodeEntry {
                name: name.trim().to_owned(),
                level,
            },
        );
    }
    if list.entries().is_empty() && problems.is_empty() {
        problems.push("no code was found".to_owned());
    }
    if problems.is_empty() {
        Ok(list)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn functional() -> CodeList {
        let mut list = CodeList::new(
            "functional".into(),
            "支出功能分类科目".into(),
            vec![3, 5, 7],
        );
        for (code, level) in [
            ("207", 1),
            ("20706", 2),
            ("2070605", 3),
            ("2070699", 3),
            ("20708", 2),
            ("2070808", 3),
        ] {
            let entry = CodeEntry {
                name: code.to_owned(),
                level,
            };
            assert!(list.insert(code, entry));
        }
        list
    }

    #[test]
    fn membership_and_levels_follow_inserts_removals_and_renames() {
        let mut list = functional();
        assert_eq!(list.level_of("2070605"), Some(3));
        assert_eq!(list.level_of("20706"), Some(2));
        // Same digits, another length; unknown codes; not digits.
        assert_eq!(list.level_of("0207"), None);
        assert_eq!(list.level_of("2070606"), None);
        assert_eq!(list.level_of("20a"), None);
        assert!(!list.insert(
            "207",
            CodeEntry {
                name: "again".into(),
                level: 1
            }
        ));
        assert_eq!(list.get("207").unwrap().name, "207");
        assert!(list.remove("2070699"));
        assert!(!list.contains("2070699"));
        assert!(!list.remove("2070699"));
        assert!(list.rename("20708", "新名"));
        assert_eq!(list.get("20708").unwrap().name, "新名");
        assert!(!list.rename("20709", "无"));
        assert_eq!(list.entries().len(), 5);
    }

    #[test]
    fn numeric_keys_tell_lengths_apart_and_refuse_what_they_cannot_hold() {
        assert_ne!(numeric_key("701"), numeric_key("0701"));
        assert_ne!(numeric_key("0"), numeric_key("00"));
        assert_eq!(numeric_key(""), None);
        assert_eq!(
            numeric_key("12345678901234567"),
            Some(12_345_678_901_234_567 << 5 | 17)
        );
        assert_eq!(numeric_key("123456789012345678"), None);
        // A code too long for a key is still found, by its text.
        let mut list = CodeList::new("long".into(), "long".into(), vec![18]);
        assert!(list.insert(
            "123456789012345678",
            CodeEntry {
                name: "x".into(),
                level: 1
            }
        ));
        assert_eq!(list.level_of("123456789012345678"), Some(1));
        assert_eq!(list.level_of("123456789012345679"), None);
    }

    #[test]
    fn lists_are_built_checked_and_compared() {
        let line =
            |at: &str, code: &str, name: &str| (at.to_owned(), code.to_owned(), name.to_owned());
        let built = build_list(
            "functional",
            "支出功能分类科目",
            &[3, 5, 7],
            &[
                line("A2", "2070605", "出版发行"),
                line("A1", "207", "文化旅游体育与传媒支出"),
                line("A3", "20706", "新闻出版电影"),
            ],
        )
        .unwrap();
        assert_eq!(built.entries().len(), 3);
        let problems = build_list(
            "functional",
            "x",
            &[3, 5, 7],
            &[
                line("A1", "207", "a"),
                line("A2", "207", "b"),
                line("A3", "2070605", "c"),
                line("A4", "2070", "d"),
            ],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("A2") && p.contains("twice"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("A3") && p.contains("parent 20706"))
        );
        let mut old = functional();
        old.rename("2070605", "出版发行");
        let changes = diff(&old, &built);
        assert_eq!(
            changes
                .removed
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>(),
            ["2070699", "20708", "2070808"]
        );
        assert!(changes.added.is_empty());
        assert_eq!(
            changes.renamed.len(),
            2,
            "207 and 20706 are named otherwise"
        );
        let text = changes.as_changes();
        assert!(
            text.find("-\t2070808").unwrap() < text.find("-\t20708\n").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn levels_come_from_the_number_of_digits() {
        let list = functional();
        assert_eq!(list.level_of_shape("207"), Some(1));
        assert_eq!(list.level_of_shape("2070605"), Some(3));
        assert_eq!(list.level_of_shape("2070"), None);
        assert_eq!(list.level_of_shape("20a06"), None);
    }

    #[test]
    fn parents_and_children_follow_prefixes() {
        let list = functional();
        assert_eq!(list.parent_of("2070605"), Some("20706"));
        assert_eq!(list.parent_of("20706"), Some("207"));
        assert_eq!(list.parent_of("207"), None);
        let children: Vec<_> = list.children("207").map(|(c, _)| c).collect();
        assert_eq!(children, ["20706", "20708"]);
        let children: Vec<_> = list.children("20706").map(|(c, _)| c).collect();
        assert_eq!(children, ["2070605", "2070699"]);
    }
}
