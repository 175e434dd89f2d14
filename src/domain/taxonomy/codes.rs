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
        }
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
