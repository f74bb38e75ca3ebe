//! `lenaguard cds-stats` on a SQLite database holding issued cards and feedback: the text table and the JSON.

use lenaguard_storage::cds::{CdsStore, FeedbackOutcome, FeedbackRecord, IssuedCard};
use lenaguard_storage_sqlite::SqliteStore;
use std::process::Command;

fn card(uuid: &str, rules: &[&str]) -> IssuedCard {
    IssuedCard {
        uuid: uuid.into(),
        client: "https://ehr.example.org".into(),
        service: "lenalidomide-order-sign".into(),
        indicator: "warning".into(),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        // The suggestion the accepted reports name: feedback may accept only a card's own suggestions.
        suggestions: vec!["s-1".into()],
        issued_on: jiff::civil::date(2026, 11, 26),
    }
}

fn report(card: &str, outcome: FeedbackOutcome, reason: Option<&str>) -> FeedbackRecord {
    FeedbackRecord {
        client: "https://ehr.example.org".into(),
        service: "lenalidomide-order-sign".into(),
        card: card.into(),
        outcome,
        accepted_suggestions: match outcome {
            FeedbackOutcome::Accepted => vec!["s-1".into()],
            FeedbackOutcome::Overridden => Vec::new(),
        },
        override_reason: reason
            .map(|c| ("https://cds.example.org/override-reason".into(), c.into())),
        outcome_at_ms: 1_764_149_400_000,
    }
}

#[test]
fn cds_stats_prints_issued_accepted_overridden_and_reasons_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lenaguard.db");
    let url = format!("sqlite://{}", path.display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(&url).await.unwrap();
        store
            .record_cards(&[
                card("c1", &["renal.moderate"]),
                card("c2", &["renal.moderate", "vte.prophylaxis"]),
                card("c3", &["renal.moderate"]),
            ])
            .await
            .unwrap();
        let writes = store
            .record_feedback(&[
                report("c1", FeedbackOutcome::Overridden, Some("trial-protocol")),
                report("c2", FeedbackOutcome::Accepted, None),
            ])
            .await
            .unwrap();
        assert!(writes.iter().all(|w| !w.refused()), "{writes:?}");
        store.close().await;
    });
    let run = |format: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_lenaguard"))
            .args(["--format", format, "cds-stats", "--database-url", &url])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let text = run("text");
    let renal = text
        .lines()
        .find(|l| l.starts_with("renal.moderate"))
        .unwrap_or_else(|| panic!("{text}"));
    let cols: Vec<&str> = renal.split_whitespace().collect();
    assert_eq!(
        &cols[..6],
        ["renal.moderate", "3", "1", "1", "50%", "trial-protocol"],
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let rules = json["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["rule"], "renal.moderate");
    assert_eq!(rules[0]["issued"], 3);
    assert_eq!(rules[0]["override_rate"], 0.5);
    assert_eq!(
        rules[0]["top_override_reasons"][0]["code"],
        "trial-protocol"
    );
    assert_eq!(rules[1]["rule"], "vte.prophylaxis");
    assert_eq!(
        (
            rules[1]["accepted"].as_i64(),
            rules[1]["overridden"].as_i64()
        ),
        (Some(1), Some(0))
    );
}
