//! What is wrong with a workbook, each problem once, with where it is (`公开05!D12`, a sheet, or the workbook).

/// One thing wrong with a workbook: where (`公开05!D12`, or the file) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// Most problems listed: a workbook that wrong is wrong throughout.
pub(super) const MAX_PROBLEMS: usize = 200;

/// The problems found so far, at most [`MAX_PROBLEMS`], each (place, reason) once.
#[derive(Default)]
pub(super) struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, at: impl Into<String>, reason: impl Into<String>) {
        let problem = Problem {
            at: at.into(),
            reason: reason.into(),
        };
        if self.0.len() < MAX_PROBLEMS && !self.0.contains(&problem) {
            self.0.push(problem);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
