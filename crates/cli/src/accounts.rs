//! `lenaguard accounts`: the first admin, accounts and API tokens from the command line (the same checks as the
//! REST API's admin routes). Passwords come from a file or an environment variable, never from a flag, so that
//! they stay out of shell history and process listings.

use crate::input::Context;
use crate::{Failure, Format, Outcome};
use clap::{Args, Subcommand};
use lenaguard_server::api::{admin, identity, session};
use lenaguard_storage::accounts::AccountRole;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create the first admin account; refused once any admin exists.
    Bootstrap {
        #[arg(long, default_value = "admin")]
        login: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        db: crate::db::DbArgs,
    },
    /// Create an account acting as a registered user (prescriber, pharmacist, program_staff), a patient, or
    /// neither (auditor, admin).
    Add {
        #[arg(long)]
        login: String,
        /// prescriber, pharmacist, patient, program_staff, auditor or admin.
        #[arg(long)]
        role: String,
        /// The registered user id or the patient id.
        #[arg(long)]
        subject: Option<String>,
        /// Without a password the account can only use API tokens.
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        db: crate::db::DbArgs,
    },
    /// Issue an API token acting as an account; prints the token once.
    Token {
        #[arg(long)]
        login: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// read, write, or read,write.
        #[arg(long, default_value = "read")]
        scopes: String,
        /// Days until it expires (1 to 365).
        #[arg(long, default_value_t = 90)]
        days: u32,
        #[command(flatten)]
        db: crate::db::DbArgs,
    },
    /// Every account.
    List {
        #[command(flatten)]
        db: crate::db::DbArgs,
    },
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from this file (its first line).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", default_value = "LENAGUARD_PASSWORD")]
    pub password_env: String,
}

impl PasswordArgs {
    fn read(&self, required: bool) -> Result<Option<String>, Failure> {
        let pw = match &self.password_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| Failure::Input(format!("--password-file: {}: {e}", p.display())))?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            ),
            None => std::env::var(&self.password_env).ok(),
        };
        match pw {
            Some(p) => {
                session::check_password("password", &p).map_err(api_failure)?;
                Ok(Some(p))
            }
            None if required => Err(Failure::Input(format!(
                "password: missing; expected --password-file FILE or the environment variable {}",
                self.password_env
            ))),
            None => Ok(None),
        }
    }
}

fn api_failure(e: lenaguard_server::api::problem::ApiError) -> Failure {
    match e {
        lenaguard_server::api::problem::ApiError::Field {
            field,
            value,
            expected,
        } => Failure::Input(format!(
            "{field}: {value:?} is not accepted; expected {expected}"
        )),
        lenaguard_server::api::problem::ApiError::Internal(why) => Failure::Internal(why),
        other => Failure::Input(format!("{other:?}")),
    }
}

fn role(s: &str) -> Result<AccountRole, Failure> {
    AccountRole::parse(s).ok_or_else(|| {
        Failure::Input(format!(
            "--role: {s:?} is not accepted; expected prescriber, pharmacist, patient, program_staff, auditor or admin"
        ))
    })
}

pub fn run(ctx: &Context, cmd: &AccountsCommand) -> Outcome {
    crate::db::block_on(async {
        match cmd {
            AccountsCommand::Bootstrap {
                login,
                password,
                db,
            } => {
                let wf = lenaguard_storage::Workflow::new(
                    crate::db::open(db).await?,
                    Arc::new(ctx.pack.clone()),
                );
                let pw = password.read(true)?.unwrap_or_default();
                let hash = identity::hash_password(pw).await.map_err(api_failure)?;
                let account =
                    admin::checked_account(&wf, login, AccountRole::Admin, None, Some(hash))
                        .await
                        .map_err(api_failure)?;
                if !wf.store().create_first_admin(&account).await? {
                    return Err(Failure::Input(
                        "bootstrap: an admin account exists already; add accounts through it"
                            .into(),
                    ));
                }
                println!("Admin account {login:?} created.");
                Ok(0)
            }
            AccountsCommand::Add {
                login,
                role: r,
                subject,
                password,
                db,
            } => {
                let wf = lenaguard_storage::Workflow::new(
                    crate::db::open(db).await?,
                    Arc::new(ctx.pack.clone()),
                );
                let hash = match password.read(false)? {
                    Some(p) => Some(identity::hash_password(p).await.map_err(api_failure)?),
                    None => None,
                };
                let account = admin::checked_account(&wf, login, role(r)?, subject.clone(), hash)
                    .await
                    .map_err(api_failure)?;
                if !wf.store().create_account(&account).await? {
                    return Err(Failure::Input(format!("--login: {login:?} is taken")));
                }
                println!("Account {login:?} ({r}) created.");
                Ok(0)
            }
            AccountsCommand::Token {
                login,
                name,
                scopes,
                days,
                db,
            } => {
                let store = crate::db::open(db).await?;
                if store.account(login).await?.is_none() {
                    return Err(Failure::Input(format!(
                        "--login: {login:?} is not an account"
                    )));
                }
                let mut list: Vec<String> =
                    scopes.split(',').map(|s| s.trim().to_string()).collect();
                list.sort();
                list.dedup();
                if list.is_empty() || list.iter().any(|s| !identity::SCOPES.contains(&s.as_str())) {
                    return Err(Failure::Input(format!(
                        "--scopes: {scopes:?} is not accepted; expected read, write or read,write"
                    )));
                }
                if !(1..=365).contains(days) {
                    return Err(Failure::Input(format!(
                        "--days: {days} is not accepted; expected 1 to 365"
                    )));
                }
                let expires = identity::now_ms() + i64::from(*days) * 86_400_000;
                let (text, token) =
                    identity::new_token(login, name, list, expires).map_err(api_failure)?;
                if !store.create_api_token(&token).await? {
                    return Err(Failure::Internal(
                        "a random token id repeated; try again".into(),
                    ));
                }
                println!("{text}");
                Ok(0)
            }
            AccountsCommand::List { db } => {
                let store = crate::db::open(db).await?;
                let accounts = store.accounts().await?;
                match ctx.format {
                    Format::Json => {
                        let infos: Vec<admin::AccountInfo> =
                            accounts.into_iter().map(Into::into).collect();
                        crate::input::print_json(&infos)?;
                    }
                    Format::Text => {
                        for a in accounts {
                            println!(
                                "{}\t{}\t{}{}",
                                a.login,
                                a.role.as_str(),
                                a.subject.unwrap_or_else(|| "-".into()),
                                if a.disabled { "\tdisabled" } else { "" }
                            );
                        }
                    }
                }
                Ok(0)
            }
        }
    })?
}
