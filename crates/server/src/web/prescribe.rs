//! The prescriber's forms: enroll a patient, record what the program needs (contraception, pregnancy tests, labs,
//! the patient's survey answers), write a prescription and request its authorization. Each form is checked on the
//! server, field by field, before its command runs; the command itself goes through the same workflow as the API
//! and the command line, and a refusal comes back on the page with every reason and what fixes it. A form carries
//! an idempotency key made when it was rendered, so sending it twice records once.

use super::forms::{Check, Fields, Posted, options};
use super::html::{Viewer, day, e, hidden, page};
use super::{FormData, WebResult, admit, form_caller, form_key, html_response, only, signed_in};
use crate::api::ApiState;
use crate::api::identity::{Caller, random_id};
use crate::api::patients::file;
use crate::api::problem::ApiError;
use crate::api::program;
use crate::api::routes::Object;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use lenaguard_domain::assessment::Action;
use lenaguard_domain::dose::{DayWindow, DoseMg, Frequency, Schedule};
use lenaguard_domain::program::{
    NotReproductive, NotReproductiveReason, RiskCategory, TestResult, TestSetting,
};
use lenaguard_domain::regimen::RegimenId;
use lenaguard_domain::renal::Sex;
use lenaguard_domain::snapshot::Lab;
use lenaguard_domain::units::Analyte;
use lenaguard_storage::accounts::AccountRole;
use lenaguard_storage::command::{
    Answer, BodyMeasurement, Command, ContraceptionAttestation, Enrollment, PregnancyTestReport,
    PrescriptionOrder, Specimen, SurveySubmission,
};
use lenaguard_storage::records::AuthorizationStatus;
use lenaguard_storage::{Outcome, PatientFile, survey};
use std::fmt::Write;

const PRESCRIBER: &[AccountRole] = &[AccountRole::Prescriber];

/// The forms of the patient page, by the path segment they are sent to.
pub const RECORD_FORMS: [&str; 6] = [
    "contraception",
    "pregnancy-test",
    "lab",
    "measurement",
    "survey",
    "prescription",
];

fn form_head(action: &str, id: &str, csrf: &str, key: &str) -> String {
    format!(
        r#"<form method="post" action="{}" id="{}" novalidate>{}{}"#,
        e(action),
        e(id),
        hidden("csrf", csrf),
        hidden("key", key)
    )
}

/// The key a form is rendered with: the one it was sent with when it comes back, else a fresh one.
fn key_of(fields: &Fields<'_>) -> Result<String, super::WebError> {
    match fields.posted().and_then(|p| p.key.clone()) {
        Some(k) => Ok(k),
        None => form_key(),
    }
}

fn today_s(state: &ApiState) -> String {
    state.today().to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Enrollment

fn enrollment_page(
    state: &ApiState,
    caller: &Caller,
    csrf: &str,
    posted: Option<&Posted>,
) -> WebResult {
    let f = Fields::new("enroll", posted);
    let key = key_of(&f)?;
    // The id is made with the form, so a form sent twice names the same patient (and the key answers the first).
    let patient = match posted.and_then(|p| p.values.get("patient")) {
        Some(p) => p.clone(),
        None => format!("pat-{}", random_id()?),
    };
    let categories = options(&RiskCategory::ALL, |c| c.to_string());
    let regimens: Vec<(String, String)> = state
        .pack
        .regimens
        .iter()
        .map(|r| (r.id.as_str().to_string(), r.name.clone()))
        .collect();
    let reasons = {
        let mut o = vec![(
            String::new(),
            "— (she can get pregnant, or male)".to_string(),
        )];
        o.extend(options(
            &[
                NotReproductiveReason::NaturalMenopause,
                NotReproductiveReason::Hysterectomy,
                NotReproductiveReason::BilateralOophorectomy,
            ],
            |r| match r {
                NotReproductiveReason::NaturalMenopause => {
                    "natural menopause (24 months or more)".into()
                }
                NotReproductiveReason::Hysterectomy => "hysterectomy".into(),
                NotReproductiveReason::BilateralOophorectomy => "bilateral oophorectomy".into(),
            },
        ));
        o
    };
    let mut body = f.refusal();
    let _ = write!(
        body,
        r#"<p>The signed Patient-Physician Agreement Form enrolls the patient in the program. Lenaguard id: <strong id="new-patient-id">{pid}</strong>.</p>
{head}{pid_field}
{identity}
{sex}
{birth}
{category}
{regimen}
{agreement}
{guardian}
<fieldset><legend>For a female who cannot get pregnant</legend>
{nrp}
{since}
</fieldset>
{start}
<p><button type="submit" id="enroll">Enroll</button></p></form>"#,
        pid = e(&patient),
        head = form_head("/app/patients/new", "enroll-form", csrf, &key),
        pid_field = hidden("patient", &patient),
        identity = f.input(
            "text",
            "identity",
            "Clinic and medical record number (unique in the registry, for example clinic-1:MRN-0042)",
            "",
            " required autocomplete=\"off\""
        ),
        sex = f.select(
            "sex",
            "Sex",
            &options(&[Sex::Female, Sex::Male], |s| match s {
                Sex::Female => "female".into(),
                Sex::Male => "male".into(),
            }),
            "female"
        ),
        birth = f.input("date", "birth_date", "Birth date", "", " required"),
        category = f.select("category", "Risk category", &categories, ""),
        regimen = f.select("regimen", "Regimen", &regimens, ""),
        agreement = f.input(
            "date",
            "agreement_signed_on",
            "Agreement signed on",
            &today_s(state),
            " required"
        ),
        guardian = f.input(
            "text",
            "guardian",
            "Parent or guardian who signed (for a child)",
            "",
            ""
        ),
        nrp = f.select("nrp_reason", "Why she cannot get pregnant", &reasons, ""),
        since = f.input(
            "date",
            "nrp_since",
            "Since (last menses or the date of surgery)",
            "",
            ""
        ),
        start = f.input("date", "planned_start", "Planned first dose", "", " required"),
    );
    let viewer = Viewer { caller, csrf };
    let status = Posted::status(posted);
    Ok(html_response(
        status,
        page("Enroll a patient", Some(&viewer), &body),
    ))
}

pub async fn new_patient(State(state): State<ApiState>, headers: HeaderMap) -> WebResult {
    let (caller, csrf) = signed_in(&state, &headers, "/app/patients/new").await?;
    only(&caller, PRESCRIBER)?;
    enrollment_page(&state, &caller, &csrf, None)
}

pub async fn enroll(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let data = FormData::parse(&body);
    let here = "/app/patients/new";
    let caller = form_caller(&state, &headers, &data, here, here).await?;
    only(&caller, PRESCRIBER)?;
    let csrf = data.get("csrf").unwrap_or("").to_string();
    let mut c = Check::new(&data);
    let patient = c.text("patient", "the patient's id");
    let identity = c.text("identity", "the clinic and medical record number");
    let sex: Option<Sex> = c.choice("sex", "female or male");
    let birth_date = c.date("birth_date");
    let category: Option<RiskCategory> = c.choice("category", "a risk category from the list");
    let regimen: Option<RegimenId> = c.choice("regimen", "a regimen from the list");
    let agreement = c.date("agreement_signed_on");
    let guardian = c.optional_text("guardian", "the guardian's name");
    // Required here although the command takes none: without it the engine cannot judge a patient not yet
    // started, and the patient's page would only say so.
    let planned_start = c.date("planned_start");
    let nrp = match data.get("nrp_reason").unwrap_or("") {
        "" => None,
        _ => {
            let reason: Option<NotReproductiveReason> = c.choice(
                "nrp_reason",
                "natural menopause, hysterectomy or bilateral oophorectomy",
            );
            let since = if data.get("nrp_since").unwrap_or("").trim().is_empty() {
                c.fail(
                    "nrp_since",
                    "Enter the date of the last menses or of the surgery (YYYY-MM-DD).",
                );
                None
            } else {
                c.date("nrp_since")
            };
            reason
                .zip(since)
                .map(|(reason, since)| NotReproductive { reason, since })
        }
    };
    let (
        Some(patient),
        Some(identity),
        Some(sex),
        Some(birth_date),
        Some(category),
        Some(regimen),
        Some(agreement),
        Some(planned_start),
    ) = (
        patient,
        identity,
        sex,
        birth_date,
        category,
        regimen,
        agreement,
        planned_start,
    )
    else {
        return enrollment_page(
            &state,
            &caller,
            &csrf,
            Some(&Posted::new("enroll", &data, c)),
        );
    };
    if !c.ok() {
        return enrollment_page(
            &state,
            &caller,
            &csrf,
            Some(&Posted::new("enroll", &data, c)),
        );
    }
    let command = Command::Enroll(Enrollment {
        patient: patient.clone(),
        identity,
        sex,
        birth_date,
        category,
        agreement_signed_on: agreement,
        guardian,
        prescriber: caller.subject().to_string(),
        regimen,
        not_of_reproductive_potential: nrp,
        planned_start: Some(planned_start),
    });
    let out = program::run(&state, &caller, data.get("key"), command).await?;
    match out.outcome {
        Outcome::Accepted { .. } => Ok(Redirect::to(&format!(
            "/app/patients/{}?done=enrolled",
            super::url_encode(&patient)
        ))
        .into_response()),
        Outcome::Refused { reasons } => {
            let mut posted = Posted::new("enroll", &data, c);
            posted.refused = reasons;
            enrollment_page(&state, &caller, &csrf, Some(&posted))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The patient page's forms

/// What a "done" notice on the patient page says.
pub fn done_notice(done: &str) -> Option<String> {
    let text = match done {
        "enrolled" => {
            "Enrolled. Record what the program needs next: every missing step is listed below."
                .to_string()
        }
        "contraception" => "The contraception attestation is recorded.".into(),
        "pregnancy-test" => "The pregnancy test is recorded.".into(),
        "lab" => "The lab result is recorded.".into(),
        "measurement" => "The weight is recorded.".into(),
        "survey" => "The survey answers are recorded.".into(),
        "prescription" => "The prescription is written. Request its authorization below.".into(),
        "authorized" => {
            "The authorization is obtained: the pharmacy can confirm and dispense against it."
                .into()
        }
        _ => return None,
    };
    Some(format!(
        r#"<p class="done" role="status" id="done">{}</p>"#,
        e(text)
    ))
}

/// The capsules a schedule takes in one cycle: one per dosing day.
fn dose_days(s: &Schedule) -> u16 {
    let days = s.days_on.last() - s.days_on.first() + 1;
    match s.frequency {
        Frequency::OnceDaily => days,
        Frequency::Every48Hours => days.div_ceil(2),
    }
}

/// The schedule a new prescription starts from: today's recommendation when it gives one, else the regimen's start.
/// `true` with it when the recommendation gave it.
fn proposed(state: &ApiState, f: &PatientFile, action: &Action) -> (Option<Schedule>, bool) {
    match action {
        Action::Start { schedule }
        | Action::Continue { schedule }
        | Action::Resume { schedule } => (Some(*schedule), true),
        _ => (
            state
                .pack
                .regimens
                .iter()
                .find(|r| r.id == f.patient.regimen)
                .map(|r| r.start),
            false,
        ),
    }
}

/// The pharmacies a prescription can be routed to: those with a pharmacist account here.
async fn pharmacies(state: &ApiState) -> Result<Vec<(String, String)>, ApiError> {
    let mut orgs: Vec<String> = state
        .store
        .accounts()
        .await?
        .into_iter()
        .filter(|a| a.role == AccountRole::Pharmacist && !a.disabled)
        .filter_map(|a| a.organisation)
        .collect();
    orgs.sort();
    orgs.dedup();
    Ok(orgs.into_iter().map(|o| (o.clone(), o)).collect())
}

/// The prescriptions with their authorization, and every form of the patient page.
pub async fn sections(
    state: &ApiState,
    f: &PatientFile,
    action: &Action,
    csrf: &str,
    posted: Option<&Posted>,
) -> Result<String, super::WebError> {
    let id = &f.patient.id;
    let base = format!("/app/patients/{}", super::url_encode(id));
    let today = today_s(state);
    let mut out = String::new();

    // Prescriptions and their authorization.
    out.push_str(r#"<h2 id="prescriptions">Prescriptions</h2>"#);
    let auth = Fields::new("authorize", posted);
    out.push_str(&auth.refusal());
    if f.prescriptions.is_empty() {
        out.push_str(r#"<p>No prescription yet.</p>"#);
    } else {
        out.push_str(r#"<table class="stack"><thead><tr><th>Prescription</th><th>Written</th><th>Schedule</th><th>Supply</th><th>Pharmacy</th><th>Authorization</th></tr></thead><tbody>"#);
        for rx in f.prescriptions.iter().rev() {
            let a = f
                .authorizations
                .iter()
                .filter(|a| a.prescription == rx.id)
                .max_by_key(|a| a.issued_on);
            let cell = match a {
                Some(a) if a.status == AuthorizationStatus::Used => {
                    format!("{} (dispensed)", e(&a.number))
                }
                Some(a) => format!(
                    r#"<strong class="authorization-number">{}</strong>, valid through {}"#,
                    e(&a.number),
                    e(day(a.valid_through))
                ),
                None => {
                    let key = match auth.posted() {
                        Some(p) if p.values.get("prescription") == Some(&rx.id) => p.key.clone(),
                        _ => None,
                    };
                    let key = match key {
                        Some(k) => k,
                        None => form_key()?,
                    };
                    format!(
                        r#"{head}{rx}<button type="submit" id="authorize-{rxid}">Request authorization</button></form>"#,
                        head = form_head(
                            &format!(
                                "/app/prescriptions/{}/authorization",
                                super::url_encode(&rx.id)
                            ),
                            &format!("authorize-form-{}", rx.id),
                            csrf,
                            &key
                        ),
                        rx = hidden("prescription", &rx.id),
                        rxid = e(&rx.id),
                    )
                }
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} capsules, {} days</td><td>{}</td><td>{cell}</td></tr>",
                e(&rx.id),
                e(day(rx.date)),
                e(rx.schedule),
                rx.quantity,
                rx.days_supply,
                e(rx.pharmacy.as_deref().unwrap_or("—")),
            );
        }
        out.push_str("</tbody></table>");
    }

    // A new prescription, proposed from today's recommendation.
    let rx = Fields::new("prescription", posted);
    let (p, recommended) = proposed(state, f, action);
    let origin = if recommended {
        "<p>Proposed from today's recommendation.</p>".to_string()
    } else if matches!(action, Action::Review { .. }) {
        r#"<p class="verdict no" id="prescription-unchecked">The label leaves today's dose to you (see Why above). The proposal is the regimen's starting schedule, not checked against this patient: choose the dose from the findings.</p>"#.to_string()
    } else {
        r#"<p class="verdict no" id="prescription-unchecked">Today's recommendation gives no dose (see Why above), so a prescription written now is refused: the program does not let a dose out that the engine cannot check or advises against. Record what the recommendation asks for (a creatinine, a weight, recovered counts); the schedule below is the regimen's start, shown for reference.</p>"#.to_string()
    };
    let rx_id = match rx.posted().and_then(|p| p.values.get("prescription")) {
        Some(v) => v.clone(),
        None => format!("rx-{}", random_id()?),
    };
    let doses: Vec<(String, String)> = DoseMg::strengths()
        .map(|d| (d.mg().to_string(), d.to_string()))
        .collect();
    let pharmacies = pharmacies(state).await?;
    let routed = f
        .prescriptions
        .last()
        .and_then(|p| p.pharmacy.clone())
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"<h3 id="prescription">Write a prescription</h3>{refused}{origin}<p>The program checks every REMS step and the supply limit when the prescription is written and when its authorization is requested. It refuses a prescription when the engine cannot check the dose or says to hold, defer or stop, and a first prescription above the starting dose the engine gives (or, after an interruption, above the dose to resume at). Later dose changes are checked by the EHR's order-sign card, not here.</p>
{head}{rxid}
{dose}{freq}
<fieldset><legend>Dosing days of the cycle</legend>{first}{last}</fieldset>
{cycle}{quantity}{supply}{pharmacy}
<p><button type="submit" id="write-prescription">Write the prescription</button></p></form>"#,
        refused = rx.refusal(),
        head = form_head(
            &format!("{base}/prescription"),
            "prescription-form",
            csrf,
            &key_of(&rx)?
        ),
        rxid = hidden("prescription", &rx_id),
        dose = rx.select(
            "dose_mg",
            "Dose",
            &doses,
            &p.map(|s| s.dose_mg.mg().to_string()).unwrap_or_default()
        ),
        freq = rx.select(
            "frequency",
            "How often",
            &options(&[Frequency::OnceDaily, Frequency::Every48Hours], |f| f
                .to_string()),
            "once_daily"
        ),
        first = rx.input(
            "number",
            "first_day",
            "From day",
            &p.map(|s| s.days_on.first().to_string()).unwrap_or_default(),
            r#" min="1" max="42" inputmode="numeric""#
        ),
        last = rx.input(
            "number",
            "last_day",
            "To day",
            &p.map(|s| s.days_on.last().to_string()).unwrap_or_default(),
            r#" min="1" max="42" inputmode="numeric""#
        ),
        cycle = rx.input(
            "number",
            "cycle_days",
            "Cycle length (days)",
            &p.map(|s| s.cycle_days.to_string()).unwrap_or_default(),
            r#" min="7" max="42" inputmode="numeric""#
        ),
        quantity = rx.input(
            "number",
            "quantity",
            "Capsules",
            &p.map(|s| dose_days(&s).to_string()).unwrap_or_default(),
            r#" min="1" max="1000" inputmode="numeric""#
        ),
        supply = rx.input(
            "number",
            "days_supply",
            "Days supply",
            &p.map(|s| s.cycle_days.to_string()).unwrap_or_default(),
            r#" min="1" max="366" inputmode="numeric""#
        ),
        pharmacy = rx.select("pharmacy", "Pharmacy", &pharmacies, &routed),
    );

    // Records the program needs.
    if f.patient.category.can_get_pregnant() {
        let c = Fields::new("contraception", posted);
        let methods = &state.pack.program.contraception_methods.value;
        let mut boxes = String::new();
        for (group, list) in [
            ("Highly effective", &methods.highly_effective),
            ("Additional", &methods.additional),
        ] {
            let _ = write!(boxes, "<fieldset><legend>{}</legend>", e(group));
            for m in list {
                boxes.push_str(&c.checkbox(&format!("method:{m}"), &m.replace('_', " ")));
            }
            boxes.push_str("</fieldset>");
        }
        let _ = write!(
            out,
            r#"<h3 id="contraception">Contraception</h3>{refused}{head}{start}{end}{boxes}{abst}
<p><button type="submit" id="record-contraception">Record the attestation</button></p></form>"#,
            refused = c.refusal(),
            head = form_head(
                &format!("{base}/contraception"),
                "contraception-form",
                csrf,
                &key_of(&c)?
            ),
            start = c.input(
                "date",
                "start",
                "Using these methods since",
                "",
                " required"
            ),
            end = c.input("date", "end", "Until (leave empty if ongoing)", "", ""),
            abst = c.checkbox(
                "abstinence",
                "Continuous abstinence from heterosexual intercourse"
            ),
        );
        let t = Fields::new("pregnancy-test", posted);
        let _ = write!(
            out,
            r#"<h3 id="pregnancy-test">Pregnancy test</h3>{refused}{head}{date}{specimen}{sens}{result}{setting}
<p><button type="submit" id="record-pregnancy-test">Record the test</button></p></form>"#,
            refused = t.refusal(),
            head = form_head(
                &format!("{base}/pregnancy-test"),
                "pregnancy-test-form",
                csrf,
                &key_of(&t)?
            ),
            date = t.input("date", "date", "Test date", &today, " required"),
            specimen = t.select(
                "specimen",
                "Specimen",
                &options(&[Specimen::Urine, Specimen::Serum], |s| match s {
                    Specimen::Urine => "urine".into(),
                    Specimen::Serum => "serum".into(),
                }),
                "urine"
            ),
            sens = t.input(
                "number",
                "sensitivity",
                "Sensitivity (mIU/mL)",
                "",
                r#" min="1" max="1000" step="any" inputmode="decimal" required"#
            ),
            result = t.select(
                "result",
                "Result",
                &options(&[TestResult::Negative, TestResult::Positive], |r| match r {
                    TestResult::Negative => "negative".into(),
                    TestResult::Positive => "positive".into(),
                }),
                "negative"
            ),
            setting = t.select(
                "setting",
                "Where",
                &options(&[TestSetting::Lab, TestSetting::Home], |s| match s {
                    TestSetting::Lab => "clinic or laboratory".into(),
                    TestSetting::Home => "home test".into(),
                }),
                "lab"
            ),
        );
    }
    let l = Fields::new("lab", posted);
    let analytes = options(
        &[
            Analyte::Anc,
            Analyte::Platelets,
            Analyte::Wbc,
            Analyte::Hemoglobin,
            Analyte::Creatinine,
            Analyte::Temperature,
        ],
        |a| a.label().to_string(),
    );
    let _ = write!(
        out,
        r#"<h3 id="lab">Lab result</h3>{refused}{head}{code}{value}{unit}{date}
<p><button type="submit" id="record-lab">Record the result</button></p></form>"#,
        refused = l.refusal(),
        head = form_head(&format!("{base}/lab"), "lab-form", csrf, &key_of(&l)?),
        code = l.select("code", "Test", &analytes, "anc"),
        value = l.input(
            "text",
            "value",
            "Value",
            "",
            r#" inputmode="decimal" required"#
        ),
        unit = l.input(
            "text",
            "unit",
            "Unit (for counts 10*9/L or /uL; creatinine mg/dL or umol/L)",
            "",
            " required"
        ),
        date = l.input("date", "date", "Date of the sample", &today, " required"),
    );
    let m = Fields::new("measurement", posted);
    let _ = write!(
        out,
        r#"<h3 id="measurement">Weight</h3>{refused}<p>Creatinine clearance (Cockcroft-Gault), and with it the starting dose, needs the body weight.</p>{head}{weight}{height}{date}
<p><button type="submit" id="record-measurement">Record the weight</button></p></form>"#,
        refused = m.refusal(),
        head = form_head(
            &format!("{base}/measurement"),
            "measurement-form",
            csrf,
            &key_of(&m)?
        ),
        weight = m.input(
            "text",
            "weight_kg",
            "Weight (kg)",
            "",
            r#" inputmode="decimal" required"#
        ),
        height = m.input(
            "text",
            "height_cm",
            "Height (cm, optional: for the ideal or adjusted body weight)",
            "",
            r#" inputmode="decimal""#
        ),
        date = m.input("date", "date", "Measured on", &today, " required"),
    );
    let s = Fields::new("survey", posted);
    let mut questions = String::new();
    for q in survey::questions(f.patient.category) {
        questions.push_str(&s.yes_no(q.id, q.text));
    }
    let _ = write!(
        out,
        r#"<h3 id="survey">The patient's survey</h3>{refused}<p>The patient's own answers, as they gave them.</p>{head}{questions}
<p><button type="submit" id="record-survey">Record the answers</button></p></form>"#,
        refused = s.refusal(),
        head = form_head(&format!("{base}/survey"), "survey-form", csrf, &key_of(&s)?),
    );
    Ok(out)
}

/// Where a missing step is fixed on the patient page, by its reason code.
pub fn fix_anchor(code: &str) -> Option<&'static str> {
    let anchor = if code.starts_with("pregnancy_test") {
        "pregnancy-test"
    } else if code.starts_with("contraception") {
        "contraception"
    } else if code.starts_with("survey") {
        "survey"
    } else if code.starts_with("prescription") {
        "prescription"
    } else if code.starts_with("authorization") {
        "prescriptions"
    } else if code.starts_with("lab") || code.starts_with("counts") {
        "lab"
    } else {
        return None;
    };
    Some(anchor)
}

/// The command a patient-page form makes, or the form sent back with its errors.
fn command_of(
    state: &ApiState,
    f: &PatientFile,
    what: &'static str,
    data: &FormData,
) -> Result<Command, Posted> {
    let id = f.patient.id.clone();
    let mut c = Check::new(data);
    let command = match what {
        "contraception" => {
            let start = c.date("start");
            let end = c.optional_date("end");
            let pack = &state.pack.program.contraception_methods.value;
            let methods: Vec<String> = pack
                .highly_effective
                .iter()
                .chain(&pack.additional)
                .filter(|m| c.ticked(&format!("method:{m}")))
                .cloned()
                .collect();
            let abstinence = c.ticked("abstinence");
            if methods.is_empty() && !abstinence {
                c.fail(
                    "start",
                    "Tick the methods she uses, or continuous abstinence.",
                );
            }
            start.map(|start| Command::AttestContraception {
                patient: id,
                attestation: ContraceptionAttestation {
                    start,
                    end,
                    methods,
                    abstinence,
                },
            })
        }
        "pregnancy-test" => {
            let date = c.date("date");
            let specimen: Option<Specimen> = c.choice("specimen", "urine or serum");
            let sensitivity = c.number::<f64>("sensitivity", 1.0, 1000.0, "1 to 1000 (mIU/mL)");
            let result: Option<TestResult> = c.choice("result", "negative or positive");
            let setting: Option<TestSetting> =
                c.choice("setting", "clinic or laboratory, or home test");
            match (date, specimen, sensitivity, result, setting) {
                (Some(date), Some(specimen), Some(s), Some(result), Some(setting)) => {
                    Some(Command::RecordPregnancyTest {
                        patient: id,
                        test: PregnancyTestReport {
                            date,
                            specimen,
                            sensitivity_miu_ml: s,
                            result,
                            setting,
                        },
                    })
                }
                _ => None,
            }
        }
        "lab" => {
            let code: Option<Analyte> = c.choice("code", Analyte::ACCEPTED);
            let value = c.number::<f64>("value", 0.0, 1_000_000.0, "0 to 1,000,000");
            let unit = c.text("unit", "the unit");
            let date = c.date("date");
            if let (Some(code), Some(value), Some(unit)) = (code, value, unit.as_deref())
                && let Err(err) = lenaguard_domain::units::Quantity::parse(code, value, unit)
            {
                let field = if err.to_string().contains("unit") {
                    "unit"
                } else {
                    "value"
                };
                c.fail(
                    field,
                    format!(
                        "{unit:?} is not accepted for {}: {}.",
                        code.label(),
                        code.accepted_units()
                    ),
                );
            }
            match (code, value, unit, date) {
                (Some(code), Some(value), Some(unit), Some(date)) => Some(Command::RecordLab {
                    patient: id,
                    lab: Lab {
                        code,
                        value,
                        unit,
                        date,
                        lln: None,
                        uln: None,
                    },
                }),
                _ => None,
            }
        }
        "measurement" => {
            // The plausible range is the pack's, judged by the workflow; here only a number is asked for.
            let weight = c.number::<f64>("weight_kg", 0.1, 1000.0, "0.1 to 1000 (kg)");
            let height = if data.get("height_cm").unwrap_or("").trim().is_empty() {
                None
            } else {
                c.number::<f64>("height_cm", 1.0, 1000.0, "1 to 1000 (cm)")
            };
            let date = c.date("date");
            match (weight, date) {
                (Some(weight_kg), Some(date)) => Some(Command::RecordMeasurement {
                    patient: id,
                    measurement: BodyMeasurement {
                        date,
                        weight_kg,
                        height_cm: height,
                    },
                }),
                _ => None,
            }
        }
        "survey" => {
            let mut answers = std::collections::BTreeMap::new();
            for q in survey::questions(f.patient.category) {
                if let Some(a) = c.yes_no(q.id) {
                    answers.insert(q.id.to_string(), a);
                }
            }
            Some(Command::SubmitSurvey {
                patient: id,
                survey: SurveySubmission {
                    date: state.today(),
                    questionnaire: survey::QUESTIONNAIRE.to_string(),
                    answers,
                },
            })
        }
        "prescription" => {
            let rx = c.text("prescription", "the prescription id");
            let dose = data
                .get("dose_mg")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .and_then(|mg| DoseMg::parse(mg).ok());
            if dose.is_none() {
                c.fail("dose_mg", format!("Choose a dose: {}.", DoseMg::ACCEPTED));
            }
            let frequency: Option<Frequency> =
                c.choice("frequency", "once daily or every 48 hours");
            let first = c.number::<u16>("first_day", 1, 42, "1 to 42");
            let last = c.number::<u16>("last_day", 1, 42, "1 to 42");
            let cycle = c.number::<u16>("cycle_days", 7, 42, "7 to 42");
            let quantity = c.number::<u32>("quantity", 1, 1000, "1 to 1000");
            let supply = c.number::<u16>("days_supply", 1, 366, "1 to 366");
            let pharmacy = c.text("pharmacy", "the pharmacy");
            let days_on = match (first, last) {
                (Some(a), Some(b)) => match DayWindow::new(a, b) {
                    Ok(w) => Some(w),
                    Err(_) => {
                        c.fail("last_day", format!("Day {b} is before day {a}: the last dosing day comes after the first."));
                        None
                    }
                },
                _ => None,
            };
            if let (Some(w), Some(cyc)) = (days_on, cycle)
                && w.last() > cyc
            {
                c.fail(
                    "last_day",
                    format!("Day {} is after the end of a {cyc}-day cycle.", w.last()),
                );
            }
            match (
                rx, dose, frequency, days_on, cycle, quantity, supply, pharmacy,
            ) {
                (
                    Some(rx),
                    Some(dose_mg),
                    Some(frequency),
                    Some(days_on),
                    Some(cycle_days),
                    Some(q),
                    Some(s),
                    Some(ph),
                ) => Some(Command::WritePrescription(PrescriptionOrder {
                    prescription: rx,
                    patient: id,
                    date: state.today(),
                    schedule: Schedule {
                        dose_mg,
                        frequency,
                        after_dialysis: false,
                        days_on,
                        cycle_days,
                    },
                    quantity: q,
                    days_supply: s,
                    refills: 0,
                    telephone: false,
                    pharmacy: Some(ph),
                })),
                _ => None,
            }
        }
        _ => None,
    };
    match command {
        Some(cmd) if c.ok() => Ok(cmd),
        _ => {
            if c.ok() {
                c.fail("form", "The form is incomplete.");
            }
            Err(Posted::new(what, data, c))
        }
    }
}

/// A form of the patient page sent: checked, run, and the page again with the result.
pub async fn record(
    State(state): State<ApiState>,
    Path((id, what)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let Some(what) = RECORD_FORMS.iter().copied().find(|w| *w == what) else {
        return Err(ApiError::NotFound {
            what: "form",
            id: what,
        }
        .into());
    };
    let data = FormData::parse(&body);
    let here = format!("/app/patients/{}", super::url_encode(&id));
    let caller = form_caller(&state, &headers, &data, &here, &format!("{here}/{what}")).await?;
    let action = format!("web.patients.{}", what.replace('-', "_"));
    admit(&state, &caller, PRESCRIBER, &action, Object::Patient, &id).await?;
    let csrf = data.get("csrf").unwrap_or("").to_string();
    let f = file(&state, &id).await?;
    let command = match command_of(&state, &f, what, &data) {
        Ok(cmd) => cmd,
        Err(posted) => {
            return super::prescriber::render(&state, &caller, &csrf, &id, None, Some(&posted))
                .await;
        }
    };
    let out = program::run(&state, &caller, data.get("key"), command).await?;
    match out.outcome {
        Outcome::Accepted { .. } => {
            Ok(Redirect::to(&format!("{here}?done={what}#{what}")).into_response())
        }
        Outcome::Refused { reasons } => {
            let mut posted = Posted::new(what, &data, Check::new(&data));
            posted.refused = reasons;
            super::prescriber::render(&state, &caller, &csrf, &id, None, Some(&posted)).await
        }
    }
}

/// The authorization request of a written prescription.
pub async fn authorize(
    State(state): State<ApiState>,
    Path(rx): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> WebResult {
    let data = FormData::parse(&body);
    let rel = state
        .store
        .prescription_relations(&rx)
        .await
        .map_err(ApiError::from)?;
    let back = rel
        .as_ref()
        .map(|r| format!("/app/patients/{}", super::url_encode(&r.patient)))
        .unwrap_or_else(|| "/app/patients".to_string());
    let caller = form_caller(
        &state,
        &headers,
        &data,
        &back,
        &format!(
            "/app/prescriptions/{}/authorization",
            super::url_encode(&rx)
        ),
    )
    .await?;
    let patient = admit(
        &state,
        &caller,
        PRESCRIBER,
        "web.prescriptions.authorize",
        Object::Prescription,
        &rx,
    )
    .await?
    .unwrap_or_default();
    let csrf = data.get("csrf").unwrap_or("").to_string();
    let out = program::run(
        &state,
        &caller,
        data.get("key"),
        Command::RequestAuthorization {
            prescription: rx.clone(),
        },
    )
    .await?;
    match out.outcome {
        Outcome::Accepted {
            answer: Answer::Authorization { number, .. },
        } => Ok(Redirect::to(&format!(
            "/app/patients/{}?done=authorized#authorization-{}",
            super::url_encode(&patient),
            super::url_encode(&number)
        ))
        .into_response()),
        Outcome::Accepted { .. } => Ok(Redirect::to(&back).into_response()),
        Outcome::Refused { reasons } => {
            let mut posted = Posted::new("authorize", &data, Check::new(&data));
            posted.refused = reasons;
            super::prescriber::render(&state, &caller, &csrf, &patient, None, Some(&posted)).await
        }
    }
}
