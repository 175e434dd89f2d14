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
    pub entries: BTreeMap<String, CodeEntry>,
}

impl CodeList {
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
        let mut entries = BTreeMap::new();
        for (code, level) in [
            ("207", 1),
            ("20706", 2),
            ("2070605", 3),
            ("2070699", 3),
            ("20708", 2),
            ("2070808", 3),
        ] {
            entries.insert(
                code.to_owned(),
                CodeEntry {
                    name: code.to_owned(),
                    level,
                },
            );
        }
        CodeList {
            key: "functional".into(),
            name: "支出功能分类科目".into(),
            level_digits: vec![3, 5, 7],
            entries,
        }
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
