//! NCI CTCAE v5.0 grading of the lab terms the label's tables speak of (label.md §10).
//!
//! Upper bounds are exclusive and lower bounds inclusive: "<1000-500" means at least 500 and below 1000.
//! Grade 1 needs the lab's limits (LLN or ULN); without them the grade is reported as a range, never guessed.

use crate::pack::RulePack;
use crate::provenance::Provenance;
use crate::units::{Analyte, Quantity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A CTCAE grade with how sure the lab value alone can be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CtcaeGrade {
    /// CTCAE term, e.g. "Platelet count decreased".
    pub term: String,
    /// The lowest grade the value supports.
    pub grade: u8,
    /// The highest grade the value is compatible with (equal to `grade` when the value decides it).
    pub grade_up_to: u8,
    /// Why the grade is a range, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub source: Provenance,
}

impl CtcaeGrade {
    pub fn is_exact(&self) -> bool {
        self.grade == self.grade_up_to
    }
}

/// Grade a low-count term (neutrophils, platelets, WBC). `per_ul` in cells per microlitre; `lln` likewise.
pub fn grade_count(
    pack: &RulePack,
    analyte: Analyte,
    per_ul: f64,
    lln_per_ul: Option<f64>,
) -> Option<CtcaeGrade> {
    let g = pack.ctcae.counts.iter().find(|c| c.analyte == analyte)?;
    let exact = |grade: u8| (grade, grade, None);
    let (grade, up_to, note) = if per_ul < g.grade_4_below {
        exact(4)
    } else if per_ul < g.grade_3_below {
        exact(3)
    } else if per_ul < g.grade_2_below {
        exact(2)
    } else {
        match lln_per_ul {
            Some(lln) if per_ul < lln => exact(1),
            Some(_) => exact(0),
            None => (
                0,
                1,
                Some("grade 0 or 1: the lab's lower limit of normal was not given".to_string()),
            ),
        }
    };
    Some(CtcaeGrade {
        term: g.term.clone(),
        grade,
        grade_up_to: up_to,
        note,
        source: g.provenance.clone(),
    })
}

/// Grade anemia from hemoglobin, in the unit the lab used. The value alone decides grades 0-3; grades 4 and 5
/// need clinical qualifiers, so grade 3 is reported as "3 or higher".
pub fn grade_hemoglobin(pack: &RulePack, q: Quantity, lln: Option<f64>) -> Option<CtcaeGrade> {
    let Quantity::Hemoglobin(v, unit) = q else {
        return None;
    };
    let g = pack.ctcae.hemoglobin.iter().find(|h| h.unit == unit)?;
    let (grade, up_to, note) = if v < g.grade_3_below {
        (
            3,
            5,
            Some("grade 3 or higher: grades 4 and 5 need clinical judgement".to_string()),
        )
    } else if v < g.grade_2_below {
        (2, 2, None)
    } else {
        match lln {
            Some(l) if v < l => (1, 1, None),
            Some(_) => (0, 0, None),
            None => (
                0,
                1,
                Some("grade 0 or 1: the lab's lower limit of normal was not given".to_string()),
            ),
        }
    };
    Some(CtcaeGrade {
        term: "Anemia".into(),
        grade,
        grade_up_to: up_to,
        note,
        source: g.provenance.clone(),
    })
}

/// Grade "Creatinine increased" from multiples of the ULN and of the patient's baseline (both in mg/dL).
/// Without a ULN or a baseline the grade cannot be given.
pub fn grade_creatinine(
    pack: &RulePack,
    mg_dl: f64,
    uln: Option<f64>,
    baseline: Option<f64>,
) -> Option<CtcaeGrade> {
    let g = &pack.ctcae.creatinine;
    if uln.is_none() && baseline.is_none() {
        return None;
    }
    let by_uln = uln.filter(|u| *u > 0.0).map(|u| {
        let r = mg_dl / u;
        if r > g.grade_4_above_uln {
            4
        } else if r > g.grade_3_above_uln {
            3
        } else if r > g.grade_2_above_uln {
            2
        } else if r > g.grade_1_above_uln {
            1
        } else {
            0
        }
    });
    let by_baseline = baseline.filter(|b| *b > 0.0).map(|b| {
        let r = mg_dl / b;
        if r > g.grade_3_above_baseline {
            3
        } else if r > g.grade_2_above_baseline {
            2
        } else {
            0
        }
    });
    let grade = by_uln.unwrap_or(0).max(by_baseline.unwrap_or(0));
    // Without the ULN, a value that is not above 1.5 x baseline may still be grade 1.
    let (up_to, note) = if by_uln.is_none() && grade < 2 {
        (
            1,
            Some("grade 0 or 1: the lab's upper limit of normal was not given".to_string()),
        )
    } else if by_uln.is_none() && grade == 3 {
        (
            4,
            Some("grade 3 or 4: the lab's upper limit of normal was not given".to_string()),
        )
    } else {
        (grade, None)
    };
    Some(CtcaeGrade {
        term: "Creatinine increased".into(),
        grade,
        grade_up_to: up_to.max(grade),
        note,
        source: g.provenance.clone(),
    })
}
