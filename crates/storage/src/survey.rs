//! The patient survey: which questions each risk category answers, and which answers the program rules
//! forbid. Every question names the rule pack entry that fixes its required answer, so a refusal can say
//! which rule an answer breaks. The wording is ours, not the program's questionnaire; the rules are the pack's.

use crate::command::Reason;
use lenaguard_domain::pack::RulePack;
use lenaguard_domain::program::RiskCategory;
use std::collections::BTreeMap;

/// The questionnaire version this build understands.
pub const QUESTIONNAIRE: &str = "lenaguard-survey-1";

#[derive(Debug, Clone, Copy)]
pub struct Question {
    pub id: &'static str,
    pub text: &'static str,
    /// The answer the program requires.
    pub required: bool,
    /// The pack rule that requires it.
    pub rule: &'static str,
}

const NOT_PREGNANT: Question = Question {
    id: "pregnant_or_possibly_pregnant",
    text: "Are you pregnant, or could you be pregnant?",
    required: false,
    rule: "program.pregnancy.positive",
};
const CONTRACEPTION: Question = Question {
    id: "using_required_contraception",
    text: "Are you using two methods of contraception at the same time (or continuous abstinence), as agreed?",
    required: true,
    rule: "program.contraception",
};
const CONDOM: Question = Question {
    id: "using_condom_with_partner_who_can_get_pregnant",
    text: "Do you use a condom for every sexual contact with a female who is or can get pregnant?",
    required: true,
    rule: "program.male.condom",
};
const SPERM: Question = Question {
    id: "donating_sperm",
    text: "Are you donating sperm?",
    required: false,
    rule: "program.male.sperm_donation",
};
const BLOOD: Question = Question {
    id: "donating_blood",
    text: "Are you donating blood?",
    required: false,
    rule: "program.blood_donation",
};

/// The questions for a category.
pub fn questions(category: RiskCategory) -> Vec<Question> {
    if category.can_get_pregnant() {
        vec![NOT_PREGNANT, CONTRACEPTION, BLOOD]
    } else if category.is_male() {
        vec![CONDOM, SPERM, BLOOD]
    } else {
        vec![BLOOD]
    }
}

/// Every reason the answers block, or none. Unknown or missing questions block too: the survey must be whole.
pub fn judge(
    questionnaire: &str,
    category: RiskCategory,
    answers: &BTreeMap<String, bool>,
    pack: &RulePack,
) -> Vec<Reason> {
    let mut out = Vec::new();
    if questionnaire != QUESTIONNAIRE {
        out.push(Reason::new(
            "survey.questionnaire",
            format!("questionnaire {questionnaire:?} is not known"),
            format!("answer the questionnaire {QUESTIONNAIRE}"),
        ));
        return out;
    }
    let qs = questions(category);
    for q in &qs {
        match answers.get(q.id) {
            None => out.push(Reason::new(
                "survey.unanswered",
                format!("question {} is not answered ({})", q.id, q.text),
                "answer every question of the survey",
            )),
            Some(a) if *a != q.required => {
                let mut r = Reason::new(
                    "survey.answer",
                    format!(
                        "the answer {a} to {} ({}) breaks the program rule {}",
                        q.id, q.text, q.rule
                    ),
                    "the prescriber counsels the patient; the survey is taken again once the answer is resolved",
                );
                r.rules.push(q.rule.to_string());
                out.push(r);
            }
            Some(_) => {}
        }
    }
    for k in answers.keys() {
        if !qs.iter().any(|q| q.id == k) {
            out.push(Reason::new(
                "survey.unknown_question",
                format!(
                    "{k:?} is not a question for the category {}",
                    category.as_str()
                ),
                format!(
                    "answer only: {}",
                    qs.iter().map(|q| q.id).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    // The rules named above must exist in the pack in use, or the survey cannot be judged.
    let known = [
        &pack.program.positive_test.provenance.rule,
        &pack.program.contraception.provenance.rule,
        &pack.program.male.provenance.rule,
        &pack.program.sperm_donation.provenance.rule,
        &pack.program.blood_donation.provenance.rule,
    ];
    for q in &qs {
        if !known.iter().any(|r| r.as_str() == q.rule) {
            out.push(Reason::new(
                "survey.rule_missing",
                format!("the rule pack has no rule {}", q.rule),
                "use a rule pack that defines it",
            ));
        }
    }
    out
}
