//! The printable patient handout (`/app/me/handout.pdf`, `/app/patients/{id}/handout.pdf`): the next 28 days of
//! the same treatment calendar the pages show, the next pregnancy test, the authorization and the program's rules
//! for the patient's risk category in plain words, with the rule pack entries they come from named at the end.
//!
//! The rules' numbers (weeks of contraception, test intervals, the supply limit) come from the rule pack, the
//! wording from the REMS section of the reference notes (label.md §6). The page is checked and written to the
//! access log exactly like the HTML pages.

use super::html::day;
use super::patient::plain;
use super::pdf::Doc;
use super::prescriber::{ahead, next_test, open_authorization};
use super::{WebResult, admit, seen, signed_in};
use crate::api::ApiState;
use crate::api::identity::Caller;
use crate::api::patients::file;
use crate::api::routes::Object;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use lenaguard_domain::RulePack;
use lenaguard_domain::calendar::{Calendar, EventKind};
use lenaguard_domain::program::RiskCategory;
use lenaguard_domain::provenance::Provenance;
use lenaguard_storage::PatientFile;
use lenaguard_storage::accounts::AccountRole;
use lenaguard_storage::records::AuthorizationStatus;

/// The patient's own handout.
const PATIENT: &[AccountRole] = &[AccountRole::Patient];
/// Those who may read a patient's page may print the patient's handout.
const READERS: &[AccountRole] = &[
    AccountRole::Prescriber,
    AccountRole::ProgramStaff,
    AccountRole::Auditor,
];

/// The days ahead the handout's calendar covers.
const DAYS: i64 = 28;

pub async fn mine(State(state): State<ApiState>, headers: HeaderMap) -> WebResult {
    let (caller, _) = signed_in(&state, &headers, "/app/me/handout.pdf").await?;
    let id = caller.subject().to_string();
    send(&state, &caller, PATIENT, "web.me.handout", &id).await
}

pub async fn of_patient(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> WebResult {
    let here = format!("/app/patients/{id}/handout.pdf");
    let (caller, _) = signed_in(&state, &headers, &here).await?;
    send(&state, &caller, READERS, "web.patients.handout", &id).await
}

async fn send(
    state: &ApiState,
    caller: &Caller,
    roles: &[AccountRole],
    action: &str,
    id: &str,
) -> WebResult {
    let patient = admit(state, caller, roles, action, Object::Patient, id).await?;
    let f = file(state, id).await?;
    let today = state.today();
    let facts = Facts {
        today,
        next_test: next_test(state, &f, 60).await?,
        calendar: ahead(state, &f, DAYS)?,
    };
    let pdf = handout(&f, &state.pack, &facts);
    seen(state, caller, action, patient).await?;
    Ok(pdf_response(pdf))
}

/// A PDF answer: shown in the browser, never cached (it holds patient data).
fn pdf_response(pdf: Vec<u8>) -> Response {
    let mut res = (StatusCode::OK, pdf).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(r#"inline; filename="lenaguard-handout.pdf""#),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// What the handout says about the patient, worked out by the same functions as the pages.
#[derive(Debug)]
pub struct Facts {
    pub today: Date,
    pub next_test: Option<Date>,
    pub calendar: Calendar,
}

/// How often, as people say it: "every week", "every 4 weeks", "every 10 days".
fn every(days: u16) -> String {
    match days {
        1 => "every day".into(),
        7 => "every week".into(),
        d => format!("every {}", weeks(d)),
    }
}

/// A number of days as people say it: whole weeks in weeks.
fn weeks(days: u16) -> String {
    match days {
        7 => "1 week".into(),
        d if d % 7 == 0 => format!("{} weeks", d / 7),
        1 => "1 day".into(),
        d => format!("{d} days"),
    }
}

/// The program's rules for a risk category in plain words, each with the pack entry it rests on (`None`: the
/// reference notes only).
pub fn rules(pack: &RulePack, category: RiskCategory) -> Vec<(String, Option<Provenance>)> {
    let p = &pack.program;
    let mut out = Vec::new();
    if category.can_get_pregnant() {
        let (i, o) = (&p.initial_tests.value, &p.ongoing_tests.value);
        out.push((
            format!(
                "Pregnancy tests: two negative tests before your first prescription (the first {}-{} days before it, the second within {} hours before it).",
                i.first_days_before[0], i.first_days_before[1], i.second_within_hours
            ),
            Some(p.initial_tests.provenance.clone()),
        ));
        out.push((
            format!(
                "Then a test {} for the first {}, then {} if your periods are regular or {} if they are not. The tests go on during breaks in treatment.",
                every(o.weekly_every_days),
                weeks(o.weekly_for_days),
                every(o.regular_every_days),
                every(o.irregular_every_days)
            ),
            Some(p.ongoing_tests.provenance.clone()),
        ));
        let c = &p.contraception.value;
        out.push((
            format!(
                "Birth control: use {} methods at the same time, at least one of them highly effective{}, from {} before you start, during treatment and breaks in treatment, and for {} after you stop.",
                c.methods_required,
                if c.abstinence_accepted {
                    ", or do not have sex with a male at all"
                } else {
                    ""
                },
                weeks(c.before_days),
                weeks(c.after_days)
            ),
            Some(p.contraception.provenance.clone()),
        ));
        out.push((
            "If you miss a period or have unusual bleeding, stop taking lenalidomide and call your doctor: you need a pregnancy test.".into(),
            Some(p.missed_period.provenance.clone()),
        ));
        out.push((
            "If you become pregnant or think you may be, stop taking lenalidomide at once and call your doctor.".into(),
            Some(p.positive_test.provenance.clone()),
        ));
    }
    if matches!(category, RiskCategory::AdultMale | RiskCategory::MaleChild) {
        out.push((
            format!(
                "Use a latex or synthetic condom every time you have sexual contact with a female who is pregnant or can get pregnant, even if you have had a vasectomy: during treatment, during breaks and for {} after you stop.",
                weeks(p.male.value.condom_after_days)
            ),
            Some(p.male.provenance.clone()),
        ));
        out.push((
            format!(
                "Do not donate sperm during treatment, during breaks and for {} after you stop.",
                weeks(p.sperm_donation.value.after_days)
            ),
            Some(p.sperm_donation.provenance.clone()),
        ));
    }
    out.push((
        format!(
            "Do not donate blood during treatment and for {} after you stop.",
            weeks(p.blood_donation.value.after_days)
        ),
        Some(p.blood_donation.provenance.clone()),
    ));
    out.push(("Do not share your capsules with anyone.".into(), None));
    let supply = &p.prescription.value;
    out.push((
        format!(
            "Each prescription is for at most {} of capsules{}.",
            weeks(supply.max_supply_days),
            if supply.max_refills == 0 {
                ", with no refills"
            } else {
                ""
            }
        ),
        Some(p.prescription.provenance.clone()),
    ));
    if let Some(s) = p.surveys.iter().find(|s| s.value.category == category) {
        out.push((
            "Answer the program's survey when it is due: the pharmacy can give you capsules only after it.".into(),
            Some(s.provenance.clone()),
        ));
    }
    out
}

/// The calendar's days in plain words: one line per day.
pub fn days(cal: &Calendar, today: Date, supplied: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cal.events.len() {
        let d = cal.events[i].date;
        let mut items: Vec<String> = Vec::new();
        while i < cal.events.len() && cal.events[i].date == d {
            let ev = &cal.events[i];
            let text = match ev.kind {
                EventKind::Deadline => ev.title.clone(),
                kind => plain(kind, supplied).to_string(),
            };
            if !items.contains(&text) {
                items.push(text);
            }
            i += 1;
        }
        let label = if d == today {
            format!("Today, {}", day(d))
        } else {
            day(d)
        };
        out.push((label, items.join("; ")));
    }
    out
}

/// The authorization in plain words.
fn authorization(f: &PatientFile, today: Date) -> String {
    let used = f
        .authorizations
        .iter()
        .filter(|a| a.status == AuthorizationStatus::Used)
        .max_by_key(|a| a.issued_on);
    match (open_authorization(f), used) {
        (Some(a), _) if a.valid_through >= today => format!(
            "Your prescription is authorized ({}). The pharmacy can give you your capsules until {}.",
            a.number,
            day(a.valid_through)
        ),
        (Some(_), _) => "Your authorization has lapsed. Your doctor will ask for a new one.".into(),
        (None, Some(a)) => format!(
            "Your last supply was given against authorization {}. Your doctor asks for the next one.",
            a.number
        ),
        (None, None) => "Your prescription is not authorized yet.".into(),
    }
}

/// The handout as a PDF file.
pub fn handout(f: &PatientFile, pack: &RulePack, facts: &Facts) -> Vec<u8> {
    let today = facts.today;
    let generated = day(today);
    let mut doc = Doc::new(
        "Lenalidomide: my treatment",
        &format!(
            "Lenaguard handout for {}, generated {generated}",
            f.patient.id
        ),
    );
    doc.text("Lenalidomide: my treatment", 20.0, true, 0.0);
    doc.gap(4.0);
    doc.paragraph(&format!(
        "For {} ({}). Generated on {generated}.",
        f.patient.id,
        pack.regimen(f.patient.regimen).name
    ));

    doc.heading("My next pregnancy test");
    doc.paragraph(&match facts.next_test {
        Some(d) if d == today => "Your pregnancy test is today.".to_string(),
        Some(d) => format!("Your next pregnancy test is on {}.", day(d)),
        None if f.patient.category.can_get_pregnant() => {
            "No pregnancy test is planned in the next two months.".into()
        }
        None => "You do not need pregnancy tests.".into(),
    });

    doc.heading("My prescription");
    doc.paragraph(&authorization(f, today));

    doc.heading(&format!("My next {DAYS} days"));
    let supplied = !f.dispenses.is_empty();
    if !supplied {
        doc.paragraph(super::patient::NOT_STARTED);
    }
    let rows = days(&facts.calendar, today, supplied);
    if rows.is_empty() {
        doc.paragraph(&format!("Nothing is planned in the next {DAYS} days."));
    }
    for (label, what) in &rows {
        doc.row(label, what, 150.0);
    }

    doc.heading("The program's rules for me");
    let rules = rules(pack, f.patient.category);
    for (text, _) in &rules {
        doc.bullet(text);
    }
    doc.paragraph("Ask your doctor, nurse or pharmacist about anything here.");

    doc.heading("Sources");
    let mut cited: Vec<String> = Vec::new();
    for (_, source) in &rules {
        let line = match source {
            Some(p) => format!(
                "{}: {}, {} ({}){}",
                p.rule,
                p.document,
                p.section,
                p.version_date,
                if p.is_verified() {
                    ""
                } else {
                    "; not yet confirmed in the current text"
                }
            ),
            None => format!(
                "Not sharing capsules: {}, label.md §6 \"All patients\" (not a rule of the pack).",
                pack.sources
                    .get("NOTES")
                    .map_or("the label research notes", |d| d.document.as_str())
            ),
        };
        if !cited.contains(&line) {
            cited.push(line);
        }
    }
    cited.push(format!(
        "Rule pack {} version {}; label version: {}.",
        pack.meta.id, pack.meta.version, pack.meta.label_version
    ));
    for line in &cited {
        doc.text(line, 8.5, false, 0.0);
        doc.gap(2.0);
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_read_plainly() {
        assert_eq!(weeks(28), "4 weeks");
        assert_eq!(weeks(7), "1 week");
        assert_eq!(weeks(10), "10 days");
        assert_eq!(every(7), "every week");
        assert_eq!(every(14), "every 2 weeks");
    }

    #[test]
    fn every_category_gets_the_rules_for_all_patients_and_its_own() {
        let pack = RulePack::builtin().expect("pack");
        let frp = rules(&pack, RiskCategory::AdultFemaleCanGetPregnant);
        let male = rules(&pack, RiskCategory::AdultMale);
        let fnrp = rules(&pack, RiskCategory::AdultFemaleCannotGetPregnant);
        for r in [&frp, &male, &fnrp] {
            assert!(r.iter().any(|(t, _)| t.starts_with("Do not donate blood")));
            assert!(r.iter().any(|(t, _)| t.contains("share your capsules")));
        }
        assert!(frp.iter().any(|(t, _)| t.starts_with("Pregnancy tests")));
        assert!(frp.iter().any(|(t, _)| t.starts_with("Birth control")));
        assert!(!male.iter().any(|(t, _)| t.starts_with("Pregnancy tests")));
        assert!(male.iter().any(|(t, _)| t.contains("condom")));
        assert!(
            !fnrp
                .iter()
                .any(|(t, _)| t.contains("condom") || t.contains("Pregnancy"))
        );
        let blood = format!(
            "for {} after you stop",
            weeks(pack.program.blood_donation.value.after_days)
        );
        assert!(frp.iter().any(|(t, _)| t.contains(&blood)));
    }
}
