//! The `lenaguard` command line. Each subcommand lives in its own module; this file parses arguments and maps
//! outcomes to the documented exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | answered |
//! | 1 | answered "no" (for example: not eligible to dispense) |
//! | 2 | bad input: the message names the field, the value and the accepted form |
//! | 3 | internal error |
#![forbid(unsafe_code)]

pub mod accounts;
pub mod assess;
pub mod calendar;
pub mod cds_stats;
pub mod check_dispense;
pub mod db;
pub mod dose;
pub mod fhir_input;
pub mod input;
pub mod output;
pub mod pk;
pub mod rules;
pub mod serve;
pub mod service;
pub mod workflow;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "lenaguard",
    version,
    about = "Lenalidomide dosing, safety and program rules, as code."
)]
pub struct Cli {
    /// Use the rule pack in this directory instead of the built-in one.
    #[arg(long, global = true, env = "LENAGUARD_PACK", value_name = "DIR")]
    pub pack: Option<PathBuf>,
    /// The date to assess on (YYYY-MM-DD); defaults to today's date on this machine.
    #[arg(long, global = true, value_name = "DATE")]
    pub today: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The label's starting dose for a regimen and kidney function.
    Dose(dose::DoseArgs),
    /// Assess a snapshot (JSON file, or - for standard input): today's action, dose and findings.
    Assess(assess::AssessArgs),
    /// Predicted exposure (population PK) of a dose at a kidney function, against 25 mg at normal function.
    Pk(pk::PkArgs),
    /// Inspect and validate rule packs.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Treatment calendar of a snapshot: dose and rest days, dexamethasone, labs, pregnancy tests, surveys.
    Calendar(calendar::CalendarArgs),
    /// REMS eligibility for the next prescription or dispense (exit 0 eligible, 1 not eligible, 2 bad input).
    CheckDispense(check_dispense::CheckDispenseArgs),
    /// Every step of the program workflow on the database: enroll, tests, surveys, prescribe, authorize,
    /// confirm, dispense, ... (exit 0 accepted, 1 refused).
    Program(workflow::ProgramArgs),
    /// Create or upgrade the database schema (also done on every start).
    Migrate(db::MigrateArgs),
    /// Seed a fresh database with a demo registry and patients.
    Demo(db::DemoArgs),
    /// Check the hash-chained audit trail.
    #[command(subcommand)]
    Audit(db::AuditCommand),
    /// Copy a SQLite database while it is in use (VACUUM INTO).
    Backup(db::BackupArgs),
    /// Replace a SQLite database with a backup, after verifying the backup's audit chain.
    Restore(db::RestoreArgs),
    /// What is due, overdue or about to lapse for every patient today, stored as tasks.
    Sweep(db::SweepArgs),
    /// Write a synthetic registry (realistic histories, some missed tests and lapsed windows).
    Synth(db::SynthArgs),
    /// The whole service: REST API with OpenAPI, web sessions and API tokens, FHIR R4 API, CDS Hooks.
    Serve(service::ServeArgs),
    /// Accounts and API tokens: the first admin, new accounts, tokens.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// The CDS Hooks 2.0 service for EHRs (order-select, order-sign, patient-view), JWT-authenticated.
    ServeCds(serve::ServeCdsArgs),
    /// Override statistics per rule from the feedback EHRs sent about CDS cards.
    CdsStats(cds_stats::CdsStatsArgs),
}

/// An outcome that maps to an exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input (exit 2).
    Input(String),
    /// Internal error (exit 3).
    Internal(String),
}

impl From<lenaguard_domain::InputError> for Failure {
    fn from(e: lenaguard_domain::InputError) -> Self {
        Failure::Input(e.to_string())
    }
}

impl From<lenaguard_domain::pack::PackError> for Failure {
    fn from(e: lenaguard_domain::pack::PackError) -> Self {
        Failure::Input(format!("rule pack refused: {e}"))
    }
}

/// What a command returns on success: 0, or 1 for an answered "no".
pub type Outcome = Result<u8, Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(msg)) => {
            eprintln!("internal error: {msg}");
            ExitCode::from(3)
        }
    }
}

pub fn run(cli: &Cli) -> Outcome {
    let ctx = input::Context::from_cli(cli)?;
    match &cli.command {
        Command::Dose(args) => dose::run(&ctx, args),
        Command::Assess(args) => assess::run(&ctx, args),
        Command::Rules(cmd) => rules::run(&ctx, cmd),
        Command::Pk(args) => pk::run(&ctx, args),
        Command::Calendar(args) => calendar::run(&ctx, args),
        Command::CheckDispense(args) => check_dispense::run(&ctx, args),
        Command::Program(args) => workflow::run(&ctx, args),
        Command::Migrate(args) => db::migrate(&ctx, args),
        Command::Demo(args) => db::demo(&ctx, args),
        Command::Audit(cmd) => db::audit(&ctx, cmd),
        Command::Backup(args) => db::backup(&ctx, args),
        Command::Restore(args) => db::restore(&ctx, args),
        Command::Sweep(args) => db::sweep(&ctx, args),
        Command::Synth(args) => db::synth(&ctx, args),
        Command::Serve(args) => service::run(&ctx, args, cli.today.is_some()),
        Command::Accounts(cmd) => accounts::run(&ctx, cmd),
        Command::ServeCds(args) => serve::run(&ctx, args, cli.today.is_some()),
        Command::CdsStats(args) => cds_stats::run(&ctx, args),
    }
}
